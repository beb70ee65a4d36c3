#!/bin/bash
# msync_async.sh [BUILD_DIR] [MIB] [REPS] -- msync(MS_ASYNC) and msync(MS_SYNC)
# latency after k random pages were written, natively and under famsrun, with the
# time to copy k pages beside them.  Target (issue 15): fams's MS_ASYNC <= 20 us +
# copying the dirty pages.  Writes bench/results/msync_async.csv.  Not a test.
set -eu
build=$(realpath "${1:-build}")
mib=${2:-64}
reps=${3:-31}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bench_scratch ma
native=$("$build/bench/msync_async" "$dir" "$mib" "$reps")
fams=$("$build/scripts/famsrun" -- "$build/bench/msync_async" "$dir" "$mib" "$reps")
csv=$out/msync_async.csv
echo "pages,native_async_us,native_sync_us,fams_async_us,fams_sync_us,copy_us,fams_async_target_us" >"$csv"
printf '%6s %14s %14s %14s %14s %10s %12s\n' pages native_async native_sync fams_async fams_sync copy_us target_us
paste -d' ' <(echo "$native") <(echo "$fams") | while read -r k na ns _ _ fa fs copy; do
	target=$(awk -v c="$copy" 'BEGIN { printf "%.1f", 20 + c }')
	printf '%6s %14s %14s %14s %14s %10s %12s\n' "$k" "$na" "$ns" "$fa" "$fs" "$copy" "<= $target"
	echo "$k,$na,$ns,$fa,$fs,$copy,$target" >>"$csv"
done
echo "microseconds, medians of $reps; raw numbers: $csv"
