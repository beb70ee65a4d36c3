#!/bin/bash
# share_lmdb.sh BUILD [native|fams|both] -- LMDB (MDB_WRITEMAP) written by 4 processes
# at once (tests/programs/lmdb_share.c): each opens the environment itself and
# commits 200 transactions of one key each, interleaved under LMDB's writer lock,
# every one also adding 1 to a shared counter.  Natively and under famsrun alike,
# all four must succeed, every key must read back with its value, the counter must
# equal the number of keys (no update lost), the writers must have interleaved, and
# `mdb_stat` must find as many entries.  Under fams that takes one working copy shared by all four
# processes, their commits atomic across all of them.
set -u
build=$1 which=${2:-both}
drv=$build/tests/lmdb_share
[ -x "$drv" ] || { echo "skip: lmdb_share not built (liblmdb-dev missing)"; exit 77; }
dir=${FAMS_TEST_DIR:-$build/testdata}/share_lmdb.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
famsrun="$build/scripts/famsrun"
nprocs=4 keys=200
pass=0 fail=0
run() { # how round
	local env=$dir/env.$1.$2 out=$dir/out err=$dir/err
	if [ "$1" = fams ]; then
		"$famsrun" "$drv" "$env" $nprocs $keys >"$out" 2>"$err"
	else
		"$drv" "$env" $nprocs $keys >"$out" 2>"$err"
	fi
	local rc=$? ok=1 why="" good failed verified counter inter entries=-
	read -r _ _ good _ failed _ verified _ counter _ inter _ <"$out"
	[ $rc -eq 0 ] || ok=0
	[ "${good:-0}" = $nprocs ] && [ "${failed:-1}" = 0 ] || ok=0
	[ "${verified:-0}" = $((nprocs * keys)) ] && [ "${counter:-0}" = $((nprocs * keys)) ] || ok=0
	if ! [[ "${inter:-0}" =~ ^[0-9]+$ ]] || [ "${inter:-0}" -eq 0 ]; then
		ok=0 why+=" the writers never interleaved;"
	fi
	# LMDB's own tool, in a process of its own: the keys plus the counter.
	if command -v mdb_stat >/dev/null; then
		entries=$(mdb_stat "$env" 2>&1 | sed -n 's/^ *Entries: *//p')
		[ "$entries" = $((nprocs * keys + 1)) ] || ok=0 why+=" mdb_stat counts ${entries:-no} entries;"
	fi
	echo "$1 #$2: $(cat "$out") (exit $rc)${why:+ --${why%;}}"
	if [ $ok = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); head -20 "$err"; fi
	rm -rf "$env"
}
[ "$which" = fams ] || run native 1
if [ "$which" != native ]; then
	for round in 1 2 3; do run fams "$round"; done
fi
echo "share_lmdb: $pass passed, $fail failed"
[ $fail -eq 0 ]
