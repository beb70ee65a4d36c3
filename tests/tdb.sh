#!/bin/bash
# tdb.sh BUILD -- Samba's tdb from 4 forked processes (tests/programs/tdb_counter.c),
# each updating one counter 300 times under tdb_chainlock, and again in transactions.
# Natively all four succeed.  Under famsrun (until processes can share a working
# copy) one process manages the file and every other one must fail cleanly, with a
# fams: line, at its first access: the counter is exactly 300 per process that
# succeeded, tdb_check passes in the driver and `tdbtool DB check` passes after.
# Before fams refused them, the others read and wrote the file behind the first
# one's working copy: lost updates in every run, a corrupt database in some.
set -u
build=$1
drv=$build/tests/tdb_counter
[ -x "$drv" ] || { echo "skip: tdb_counter not built (libtdb-dev missing)"; exit 77; }
command -v tdbtool >/dev/null || { echo "skip: tdbtool (tdb-tools) missing"; exit 77; }
dir=${FAMS_TEST_DIR:-$build/testdata}/tdb.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
famsrun="$build/scripts/famsrun"
pass=0 fail=0
run() { # how mode round
	local db=$dir/db.$1.$2.$3 out=$dir/out err=$dir/err
	if [ "$1" = fams ]; then
		"$famsrun" "$drv" "$db" 4 300 "$2" >"$out" 2>"$err"
	else
		"$drv" "$db" 4 300 "$2" >"$out" 2>"$err"
	fi
	local rc=$? ok=1
	[ $rc -eq 0 ] || ok=0
	tdbtool "$db" check | grep -q "integrity is OK" || ok=0
	read -r _ _ good _ failed _ counter _ <"$out"
	if [ "$1" = native ] && [ "${good:-0}" != 4 ]; then ok=0; fi
	if [ "${failed:-0}" -gt 0 ] && ! grep -q "^fams: .*refused (EBUSY)" "$err"; then
		echo "a process failed without a fams: line saying why"; ok=0
	fi
	echo "$1 $2 #$3: $(cat "$out") (exit $rc)"
	if [ $ok = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); cat "$err"; fi
}
for mode in chainlock transaction; do
	run native "$mode" 1
	for round in 1 2 3; do run fams "$mode" "$round"; done
done
echo "tdb: $pass passed, $fail failed"
[ $fail -eq 0 ]
