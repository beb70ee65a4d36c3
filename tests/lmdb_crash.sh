#!/bin/bash
# lmdb_crash.sh BUILD [ROUNDS] [fams|native] [async] -- SIGKILL LMDB (MDB_WRITEMAP,
# so its B-tree is written through a writable shared mapping and msync'ed at each
# commit; tests/programs/lmdb_counter.c) at random moments, then open the
# environment and walk every record: no gap, no damage, and no transaction lost
# that the killed process had seen committed.  With async, MDB_MAPASYNC: each
# commit is an msync(MS_ASYNC), which promises no durability, so the last
# transactions may be lost (how many is reported), never the database's
# consistency.  Natively LMDB survives a kill too (the page cache outlives the
# process), so there this only reports.
set -u
build=$1 rounds=${2:-12} mode=${3:-fams} sync=${4:-}
drv=$build/tests/lmdb_counter
[ -x "$drv" ] || { echo "skip: lmdb_counter not built (liblmdb-dev missing)"; exit 77; }
dir=${FAMS_TEST_DIR:-$build/testdata}/lmdb.$$
famsrun="$build/scripts/famsrun"
pre=()
[ "$mode" = fams ] && pre=("$famsrun")
trap 'rm -rf "$dir"' EXIT
ok=0 damaged=0 lost=0 most_behind=0
for ((i = 1; i <= rounds; i++)); do
	rm -rf "$dir" && mkdir -p "$dir"
	FAMS_LOG=error "${pre[@]}" "$drv" "$dir" run $sync >"$dir.out" 2>"$dir.err" &
	pid=$!
	sleep "0.$((RANDOM % 40 + 5))"
	kill -KILL $pid
	wait $pid 2>/dev/null
	seen=$(tail -1 "$dir.out" 2>/dev/null)
	if out=$(FAMS_LOG=error "${pre[@]}" "$drv" "$dir" check "${seen:-0}" $sync 2>&1); then
		ok=$((ok + 1))
		behind=$(awk '{ d = $6 - $4; print (d > 0 ? d : 0) }' <<<"$out")
		[ "$behind" -gt "$most_behind" ] && most_behind=$behind
	elif [[ "$out" == records* ]]; then
		lost=$((lost + 1)); echo "round $i: lost: $out"
	else
		damaged=$((damaged + 1)); echo "round $i: damaged: $out"
	fi
	rm -f "$dir.out" "$dir.err"
done
if [ "$sync" = async ]; then
	echo "$mode: $rounds kills of LMDB (MDB_WRITEMAP|MDB_MAPASYNC): $damaged damaged, $ok intact;" \
		"at most $most_behind transactions behind the last one printed"
else
	echo "$mode: $rounds kills of LMDB (MDB_WRITEMAP): $damaged damaged, $lost lost, $ok intact"
fi
[ "$mode" = native ] && exit 0
[ $damaged = 0 ] && [ $lost = 0 ]
