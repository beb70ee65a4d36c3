#!/bin/bash
# share.sh [BUILD_DIR] [RUNS] [REPS] -- what sharing a file costs a commit: k dirty
# pages committed by a process alone (single), with 3 idle processes sharing the
# file (idle3), and dirtied a share each by 4 processes sharing it (shared4), all
# under famsrun (bench/share_commit.c).  RUNS whole runs, each alternating the
# set-ups; prints every run's ratios shared4 / single and their median per k.
# Writes bench/results/share.csv.  Not a test: times are only ever compared within
# one run.
set -eu
build=$(realpath "${1:-build}")
runs=${2:-5}
reps=${3:-31}
here=$(cd "$(dirname "$0")" && pwd)
out=$here/results
mkdir -p "$out"
work=$(mktemp -d "$build/share.XXXXXX")
trap 'rm -rf "$work"' EXIT
csv=$out/share.csv
echo "run,k,single_us,idle3_us,shared4_us,ratio" >"$csv"
for ((r = 1; r <= runs; r++)); do
	"$build/scripts/famsrun" "$build/bench/share_commit" "$work/file" 4096 "$reps" |
		awk -v r="$r" 'NR > 1 { printf "%d,%s,%s,%s,%s,%s\n", r, $1, $2, $3, $4, $5 }' >>"$csv"
done
echo "file of 4096 pages (16 MiB) mapped by every process; $runs runs of $reps commits per set-up and k"
printf "%6s %10s %10s %10s %8s   %s\n" k single_us idle3_us shared4_us ratio "ratio of each run"
for k in 1 8 64 512; do
	awk -F, -v k="$k" '
		$2 == k { s[n + 0] = $3; i[n + 0] = $4; h[n + 0] = $5; q[n + 0] = $6; n++ }
		function med(a, n,   t, j, m, x) { for (j = 0; j < n; j++) t[j] = a[j]
			for (j = 1; j < n; j++) { x = t[j]; for (m = j - 1; m >= 0 && t[m] > x; m--) t[m + 1] = t[m]; t[m + 1] = x }
			return t[int(n / 2)] }
		END { all = ""; for (j = 0; j < n; j++) all = all " " q[j]
			printf "%6d %10.1f %10.1f %10.1f %8.2f  %s\n", k, med(s, n), med(i, n), med(h, n), med(q, n), all }' "$csv"
done
