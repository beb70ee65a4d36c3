#!/bin/bash
# flushes.sh -- strace evidence: a commit with dirty pages issues exactly two flushes
# (journal, then data file); a commit with nothing dirty issues none.
set -u
build=$1
dir=${FAMS_TEST_DIR:-$build/testdata}
command -v strace >/dev/null || { echo "strace not installed"; exit 77; }
file="$dir/flushes.$$"
log=$(mktemp)
strace -f -qq -e trace=write,fsync,fdatasync,sync_file_range,syncfs -o "$log" \
	"$build/scripts/famsrun" "$build/tests/flush_probe" "$file"
rc=$?
rm -f "$file"
[ $rc -eq 0 ] || { echo "flush_probe failed ($rc)"; exit 1; }
pass=0 fail=0
# Count flushes between each BEGIN k and END.
while read -r k flushes; do
	want=2
	[ "$k" = 0 ] && want=0
	if [ "$flushes" = "$want" ]; then
		echo "commit of $k dirty pages: $flushes flushes"
		pass=$((pass + 1))
	else
		echo "commit of $k dirty pages: $flushes flushes, expected $want"
		fail=$((fail + 1))
	fi
done < <(awk '/write\(-1, "BEGIN/ { match($0, /BEGIN [0-9]+/); k = substr($0, RSTART + 6, RLENGTH - 6); n = 0; on = 1; next }
	on && /(fsync|fdatasync|sync_file_range|syncfs)\(/ { n++ }
	on && /write\(-1, "END"/ { print k, n; on = 0 }' "$log")
rm -f "$log"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -eq 5 ]
