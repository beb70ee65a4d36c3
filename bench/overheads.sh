#!/bin/bash
# overheads.sh [BUILD_DIR] [MIB [GIB...]] -- first-write cost, dirty-scan cost and
# memory of a 1%-touched sparse file mapping of MIB, and mmap, clean msync, munmap
# and page tables of sparse mappings of each GIB (default 64 and 1024) with 1,000
# pages touched, natively and under famsrun, in one run; writes
# bench/results/overheads.csv.
set -eu
build=$(realpath "${1:-build}")
mib=${2:-1024}
gibs=("${@:3}")
[ ${#gibs[@]} -gt 0 ] || gibs=(64 1024)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bench_scratch ovh
native=$("$build/bench/overheads" "$dir" "$mib" "${gibs[@]}")
fams=$("$build/scripts/famsrun" -- "$build/bench/overheads" "$dir" "$mib" "${gibs[@]}")
echo "measure,native,fams" >"$out/overheads.csv"
echo "sparse file of $mib MiB, 1% of its pages touched"
printf '%-18s %12s %12s\n' measure native fams
paste <(echo "$native") <(echo "$fams") | while read -r name n _ f; do
	printf '%-18s %12s %12s\n' "$name" "$n" "$f"
	echo "$name,$n,$f" >>"$out/overheads.csv"
done
echo "raw numbers: $out/overheads.csv"
