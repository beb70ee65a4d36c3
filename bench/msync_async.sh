#!/bin/bash
# msync_async.sh [BUILD_DIR] [MIB] [REPS] -- msync(MS_ASYNC) and msync(MS_SYNC)
# latency after k random pages were written, natively and under famsrun, with the
# time to copy k pages beside them; then MS_ASYNC back to back, as LMDB with
# MDB_MAPASYNC commits.  Target (issue 15): fams's MS_ASYNC <= 20 us + copying the
# dirty pages.  Writes bench/results/msync_async.csv and msync_async_back.csv.  Not
# a test.
set -eu
build=$(realpath "${1:-build}")
mib=${2:-64}
reps=${3:-31}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bench_scratch ma
native=$("$build/bench/msync_async" "$dir" "$mib" "$reps")
fams=$("$build/scripts/famsrun" -- "$build/bench/msync_async" "$dir" "$mib" "$reps")
# The same after 600 commits of k pages, each k in a process of its own: where
# commits write a tiny part of what the tracker covers, fams has moved the process
# to uffd-sync by then (it weighs windows of 256 commits of a 64 MiB file, the
# first of which holds the program's filling of the whole file).
warm=$(for k in 1 8 64 512; do "$build/scripts/famsrun" -- "$build/bench/msync_async" "$dir" "$mib" "$reps" 600 $k; done)
csv=$out/msync_async.csv
echo "pages,native_async_us,native_sync_us,fams_async_us,fams_sync_us,fams_warm_async_us,fams_warm_sync_us,copy_us,fams_async_target_us" >"$csv"
printf '%6s %14s %14s %14s %14s %16s %15s %10s %12s\n' pages native_async native_sync fams_async fams_sync \
	fams_warm_async fams_warm_sync copy_us target_us
paste -d' ' <(echo "$native") <(echo "$fams") <(echo "$warm") | while read -r k na ns _ _ fa fs _ _ wa ws copy; do
	target=$(awk -v c="$copy" 'BEGIN { printf "%.1f", 20 + c }')
	printf '%6s %14s %14s %14s %14s %16s %15s %10s %12s\n' "$k" "$na" "$ns" "$fa" "$fs" "$wa" "$ws" "$copy" "<= $target"
	echo "$k,$na,$ns,$fa,$fs,$wa,$ws,$copy,$target" >>"$csv"
done
echo "microseconds, medians of $reps (warm: after 600 commits of that size, in a process of its own); raw numbers: $csv"
# MS_ASYNC after MS_ASYNC with nothing between (LMDB with MDB_MAPASYNC commits so):
# the mean time a call takes over 2,000 rounds, each k pages written first.
bcsv=$out/msync_async_back.csv
echo "pages,native_us,fams_us" >"$bcsv"
printf '\nback to back, mean of 2,000 calls\n%6s %10s %10s\n' pages native fams
for k in 1 8 64; do
	n=$("$build/bench/msync_async" "$dir" "$mib" 2000 back $k | awk '{ print $2 }')
	f=$("$build/scripts/famsrun" -- "$build/bench/msync_async" "$dir" "$mib" 2000 back $k | awk '{ print $2 }')
	printf '%6s %10s %10s\n' "$k" "$n" "$f"
	echo "$k,$n,$f" >>"$bcsv"
done
