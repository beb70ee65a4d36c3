#!/bin/bash
# bookkeeping.sh [BUILD_DIR] [REPS] -- what size changes of a mapped file cost, natively
# and under famsrun in one run (bench/bookkeeping.c: an appending write(), an
# ftruncate to the same size, an ftruncate one page up; and a new file created,
# sized, mapped, stored to and unmapped, and its flushes), with the ratio and the
# issue's target beside each.  Writes bench/results/bookkeeping.csv.  Not a test.
set -eu
build=$(realpath "${1:-build}")
reps=${2:-9}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bench_scratch bk
native=$("$build/bench/bookkeeping" "$dir" "$reps")
fams=$("$build/scripts/famsrun" -- "$build/bench/bookkeeping" "$dir" "$reps")
echo "measure,native_us,fams_us,target_us" >"$out/bookkeeping.csv"
echo "a file mapped 64 MiB, 1 MiB of it written; median of $reps rounds of 200 calls"
printf '%-14s %10s %10s %8s %10s\n' measure native_us fams_us ratio target_us
paste <(echo "$native") <(echo "$fams") | while read -r name n _ f; do
	case $name in append_us) target=2 ;; same_size_us) target=10 ;; new_file_us) target=1000 ;; *) target=- ;; esac
	printf '%-14s %10s %10s %8s %10s\n' "$name" "$n" "$f" "$(awk -v a="$f" -v b="$n" 'BEGIN { printf "%.1fx", a / b }')" "$target"
	echo "$name,$n,$f,$target" >>"$out/bookkeeping.csv"
done
# Flushes per new file: fsync and fdatasync calls (strace), over 5 new files.
if command -v strace >/dev/null; then
	count() { strace -f -qq -e trace=fsync,fdatasync -o "$dir/strace" "$@" >/dev/null && { grep -c 'sync(' "$dir/strace" || true; }; }
	n=$(count "$build/bench/bookkeeping" "$dir" 5 new)
	f=$(count "$build/scripts/famsrun" -- "$build/bench/bookkeeping" "$dir" 5 new)
	printf '%-14s %10s %10s %8s %10s\n' new_file_flushes "$((n / 5))" "$(awk -v f="$f" 'BEGIN { printf "%.1f", f / 5 }')" - 2
	echo "new_file_flushes,$((n / 5)),$(awk -v f="$f" 'BEGIN { printf "%.1f", f / 5 }'),2" >>"$out/bookkeeping.csv"
fi
