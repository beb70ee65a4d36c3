#!/bin/bash
# run.sh -- commit latency of plain msync and of fams on the same file system, in
# one run, with the ratio.  Not a test: times are only compared within a run.
#   bench/run.sh [BUILD_DIR] [FILE_MIB] [REPS]
set -u
build=${1:-build}
mib=${2:-64}
reps=${3:-50}
ks="1 8 64 512 1000 4096"
f="$build/bench-data.$$"
native=$("$build/bench/commit_latency" "$f" "$mib" "$reps" $ks)
fams=$("$build/scripts/famsrun" "$build/bench/commit_latency" "$f" "$mib" "$reps" $ks)
printf '%-6s %14s %14s %14s %14s %8s\n' k native_med_us native_p99_us fams_med_us fams_p99_us ratio
paste <(echo "$native") <(echo "$fams") | while read -r a b c d e f; do
	k=${a#k=}
	nm=${b#median_us=}; np=${c#p99_us=}; fm=${e#median_us=}; fp=${f#p99_us=}
	printf '%-6s %14s %14s %14s %14s %8.2f\n' "$k" "$nm" "$np" "$fm" "$fp" "$(echo "$fm / $nm" | bc -l)"
done
