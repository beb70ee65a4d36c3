#!/bin/bash
# tdb.sh BUILD -- Samba's tdb from 4 forked processes (tests/programs/tdb_counter.c),
# each updating one counter 300 times under tdb_chainlock, and again in transactions.
# Natively and under famsrun alike, all four must succeed, the counter must be
# exactly 4 x 300 (no update lost), tdb_check must pass in the driver and `tdbtool
# DB check` after.  Under fams that takes one working copy shared by the four
# processes, their commits atomic across all of them; processes that each kept a
# working copy of their own would read and write the file behind each other's
# backs: lost updates in every run, a corrupt database in some.
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
	[ "${good:-0}" = 4 ] && [ "${failed:-1}" = 0 ] && [ "${counter:-0}" = 1200 ] || ok=0
	echo "$1 $2 #$3: $(cat "$out") (exit $rc)"
	if [ $ok = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); cat "$err"; fi
}
for mode in chainlock transaction; do
	run native "$mode" 1
	for round in 1 2 3; do run fams "$mode" "$round"; done
done
echo "tdb: $pass passed, $fail failed"
[ $fail -eq 0 ]
