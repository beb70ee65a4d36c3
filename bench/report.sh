#!/bin/bash
# report.sh [BUILD_DIR] [ROUNDS] -- what the commit-site report (FAMS_REPORT) costs:
# commit latency of 1 and 64 dirty pages of a 64 MiB file under famsrun, with and
# without the report, alternating in the same run; writes bench/results/report.csv.
set -eu
build=$(realpath "${1:-build}")
rounds=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bench_scratch report
declare -A med
for r in $(seq "$rounds"); do
	for mode in off on; do
		opt=()
		[ $mode = on ] && opt=(--report "$dir/report.txt")
		while read -r k m _; do
			echo "$mode ${k#k=} ${m#median_us=}" >>"$dir/all"
		done < <("$build/scripts/famsrun" "${opt[@]}" -- "$build/bench/commit_latency" "$dir/data" 64 101 1 64)
	done
done
echo "mode,k,median_us" >"$out/report.csv"
printf '%-6s %6s %12s\n' report k median_us
for k in 1 64; do
	for mode in off on; do
		med[$mode,$k]=$(awk -v m=$mode -v k=$k '$1 == m && $2 == k { print $3 }' "$dir/all" | median)
		echo "$mode,$k,${med[$mode,$k]}" >>"$out/report.csv"
		printf '%-6s %6s %12s\n' "$mode" "$k" "${med[$mode,$k]}"
	done
	awk -v a="${med[on,$k]}" -v b="${med[off,$k]}" -v k=$k 'BEGIN { printf "  k=%s: with the report %.2fx without\n", k, a / b }'
done
echo "(medians of $rounds runs each, alternating; the report off costs one load and branch per msync, fsync or munmap)"
