#!/bin/bash
# trackers.sh [BUILD_DIR] [FILE_MIB] [REPS] [RUNS] -- what each dirty-page tracker
# costs a commit: bench/commit_latency under famsrun with FAMS_TRACKER=uffd,
# uffd-sync and compare, k in {1, 8, 64} random dirty pages of a FILE_MIB file
# (default 64), and 64 consecutive ones (k "64seq": stores running on page after
# page, which the synchronous tracker opens ahead of), RUNS runs alternating the
# trackers.  Prints, per tracker and k, the
# median commit latency and the median of the stores and the commit together
# (cycle: a tracker's cost per first store lands there), and the ratios compare / T
# and T / uffd, each from the same run.  A tracker this kernel lacks is reported as
# such (fams falls back to compare, with a warning), not timed.  Writes
# bench/results/trackers.csv.  Not a test: times are only ever compared within one run.
set -eu
build=$(realpath "${1:-build}")
mib=${2:-64}
reps=${3:-60}
runs=${4:-3}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
out=$here/results
mkdir -p "$out"
work=$(mktemp -d "$build/trackers.XXXXXX")
trap 'rm -rf "$work"' EXIT
csv=$out/trackers.csv
echo "run,tracker,k,median_us,cycle_us" >"$csv"
trackers=()
for t in uffd uffd-sync compare; do
	said=$(FAMS_TRACKER=$t FAMS_LOG=info "$build/scripts/famsrun" "$build/bench/commit_latency" "$work/probe" 1 1 1 2>&1 >/dev/null |
		grep -o 'tracker: [a-z-]*' | head -1)
	if [ "$said" = "tracker: $t" ]; then
		trackers+=("$t")
	else
		echo "$t: not on this kernel ($(uname -r)); fams said \"${said:-nothing}\""
	fi
done
for ((r = 1; r <= runs; r++)); do
	for t in "${trackers[@]}"; do
		n=$reps
		[ "$t" = compare ] && n=$(((reps + 3) / 4)) # tens of ms each
		FAMS_TRACKER=$t "$build/scripts/famsrun" "$build/bench/commit_latency" "$work/file" "$mib" "$n" 1 8 64 |
			sed -n 's/^k=\([0-9]*\) median_us=\([0-9.]*\) .* cycle_us=\([0-9.]*\)$/\1 \2 \3/p' |
			while read -r k m c; do echo "$r,$t,$k,$m,$c"; done >>"$csv"
		FAMS_TRACKER=$t "$build/scripts/famsrun" "$build/bench/commit_latency" --sequential "$work/file" "$mib" "$n" 64 |
			sed -n 's/^k=\([0-9]*\) median_us=\([0-9.]*\) .* cycle_us=\([0-9.]*\)$/\1 \2 \3/p' |
			while read -r k m c; do echo "$r,$t,${k}seq,$m,$c"; done >>"$csv"
	done
done
echo "$mib MiB file, $runs runs of $reps commits ($(((reps + 3) / 4)) for compare) per tracker and k, $(uname -r)"
printf "%-10s %4s %12s %12s %14s %12s\n" tracker k median_us cycle_us compare/this this/uffd
for t in "${trackers[@]}"; do
	for k in 1 8 64 64seq; do
		m=$(awk -F, -v t="$t" -v k="$k" '$2 == t && $3 == k { print $4 }' "$csv" | median)
		c=$(awk -F, -v t="$t" -v k="$k" '$2 == t && $3 == k { print $5 }' "$csv" | median)
		cm=$(awk -F, -v k="$k" '$2 == "compare" && $3 == k { print $4 }' "$csv" | median)
		um=$(awk -F, -v k="$k" '$2 == "uffd" && $3 == k { print $4 }' "$csv" | median)
		printf "%-10s %4s %12s %12s %14s %12s\n" "$t" "$k" "$m" "$c" \
			"$([ -n "$cm" ] && awk -v a="$cm" -v b="$m" 'BEGIN { printf "%.1fx", a / b }' || echo -)" \
			"$([ -n "$um" ] && awk -v a="$m" -v b="$um" 'BEGIN { printf "%.2fx", a / b }' || echo -)"
	done
done
