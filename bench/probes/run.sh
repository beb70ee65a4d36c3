#!/bin/bash
# run.sh [RUNS] -- build the probes (one small program per kernel mechanism fams
# relies on: sharing a file between processes, docs/sharing.md; the trackers of old
# kernels; the TLB shootdown a harvest pays, bench/README.md section 5) and
# run each RUNS times (default 7), printing the median of every RESULT line.
# Needs root for the other-user cases; never part of the test suite.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
runs=${1:-7}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
for src in "$here"/*.c; do
	name=$(basename "$src" .c)
	cc -O2 -D_GNU_SOURCE -o "$bin/$name" "$src" -lpthread
	for ((i = 0; i < runs; i++)); do timeout 120 "$bin/$name" || echo "RESULT FAILED_exit_$? 1 run"; done >"$bin/$name.out"
	echo "== $name"
	awk '$1 == "RESULT" { print $2, $3, $4 }' "$bin/$name.out" | sort -k1,1 -k2,2g |
		awk '{ v[$1] = v[$1] " " $2; u[$1] = $3 }
		     END { for (k in v) { n = split(v[k], a, " "); printf "  %-58s %s %s (n=%d)\n", k, a[int((n + 1) / 2)], u[k], n } }' |
		sort
done
