#!/bin/bash
# passthrough.sh [BUILD_DIR] -- what fams costs calls it does not manage: ns per call
# natively, under famsrun with nothing managed, and with one file managed (best of
# 5 rounds each, measured in one run); writes bench/results/passthrough.csv.
set -u
build=${1:-build}
dir=$(mktemp -d "${build}/pt.XXXXXX")
trap 'rm -rf "$dir"' EXIT
native=$("$build/bench/passthrough" "$dir")
idle=$("$build/scripts/famsrun" "$build/bench/passthrough" "$dir")
live=$("$build/scripts/famsrun" "$build/bench/passthrough" "$dir" live)
out=$(cd "$(dirname "$0")" && pwd)/results
mkdir -p "$out"
echo "call,native_ns,fams_idle_ns,fams_live_ns" >"$out/passthrough.csv"
printf '%-28s %10s %10s %10s %12s %12s\n' call native_ns fams_ns live_ns fams_extra live_extra
paste <(echo "$native") <(echo "$idle") <(echo "$live") | while read -r name n _ f _ l; do
	printf '%-28s %10s %10s %10s %+12d %+12d\n' "$name" "$n" "$f" "$l" $((f - n)) $((l - n))
	echo "$name,$n,$f,$l" >>"$out/passthrough.csv"
done
echo "target: fams_extra <= 20 ns per call; raw numbers: $out/passthrough.csv"
