#!/bin/bash
# group_commit.sh [BUILD_DIR] [SECONDS] [REPS] -- commits per second of 1, 2 and 4
# threads each committing one page in a loop, into files of their own (own) or
# into one file (same), natively (plain msync) and under famsrun; each row's
# ratio is against one thread of the same system, measured in the same run
# (median of REPS).  Target (issue 15): 4 threads, own files, >= 2.5x one thread
# under fams.  Writes bench/results/group_commit.csv.  Not a test.
set -eu
build=$(realpath "${1:-build}")
seconds=${2:-2}
reps=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bench_scratch gc

# rate SYSTEM THREADS MODE: median commits/s of REPS runs.
rate() {
	local pre=() r=()
	[ "$1" = fams ] && pre=("$build/scripts/famsrun" --)
	for _ in $(seq "$reps"); do
		r+=("$("${pre[@]}" "$build/bench/group_commit" "$dir" "$seconds" "$2" "$3")")
		rm -f "$dir"/gc-* "$dir"/.gc-*
	done
	printf '%s\n' "${r[@]}" | median
}

csv=$out/group_commit.csv
echo "system,mode,threads,commits_per_s,vs_one_thread" >"$csv"
printf '%-7s %-5s %8s %14s %14s\n' system mode threads commits_per_s vs_1_thread
for sys in native fams; do
	for mode in own same; do
		one=
		for t in 1 2 4; do
			c=$(rate "$sys" "$t" "$mode")
			[ -n "$one" ] || one=$c
			ratio=$(awk -v a="$c" -v b="$one" 'BEGIN { printf "%.2f", a / b }')
			printf '%-7s %-5s %8s %14s %13sx\n' "$sys" "$mode" "$t" "$c" "$ratio"
			echo "$sys,$mode,$t,$c,$ratio" >>"$csv"
		done
	done
done
echo "target: fams, own files, 4 threads >= 2.5x one thread; raw numbers: $csv"
