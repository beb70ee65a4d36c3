#!/bin/bash
# sqlite_crash.sh BUILD [ROUNDS] [fams|native] -- SIGKILL the sqlite3 shell at random
# moments while it commits one row per statement in WAL mode with mmap_size set
# (its -shm index is a writable shared mapping that fams manages; the database is
# mapped read-only), then check the database: PRAGMA integrity_check, and no row
# lost that the killed process had reported committed.
set -u
build=$1 rounds=${2:-10} mode=${3:-fams}
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 is not installed"; exit 77; }
dir=${FAMS_TEST_DIR:-$build/testdata}/sqlite.$$
famsrun="$build/scripts/famsrun"
pre=()
[ "$mode" = fams ] && pre=("$famsrun")
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
ok=0 damaged=0 lost=0 early=0
for ((r = 1; r <= rounds; r++)); do
	db=$dir/db.$r
	{
		echo "PRAGMA journal_mode=WAL; PRAGMA mmap_size=67108864;"
		echo "CREATE TABLE IF NOT EXISTS t(i INTEGER PRIMARY KEY, v BLOB);"
		for ((i = 1; i <= 20000; i++)); do echo "INSERT INTO t VALUES($i, randomblob(300)); SELECT $i;"; done
	} >"$dir/sql"
	FAMS_LOG=error "${pre[@]}" sqlite3 "$db" <"$dir/sql" >"$dir/out" 2>"$dir/err" &
	pid=$!
	sleep "0.$((RANDOM % 50 + 10))"
	kill -KILL $pid
	wait $pid 2>/dev/null
	seen=$(grep -E '^[0-9]+$' "$dir/out" | tail -1)
	res=$(FAMS_LOG=error "${pre[@]}" sqlite3 "$db" "PRAGMA integrity_check; SELECT count(*) FROM t;" 2>&1 | tr '\n' ' ')
	read -r check count _ <<<"$res"
	if [ -z "$seen" ] && [[ $res == *"no such table: t"* ]] && [[ $res == *" ok "* || $res == "ok "* ]]; then
		# Killed before its CREATE TABLE committed (a start-up slowed by load can
		# take longer than the shortest sleep): natively the same.
		early=$((early + 1))
		ok=$((ok + 1))
	elif [ "$check" != ok ]; then
		damaged=$((damaged + 1)); echo "round $r: damaged: $res (last row reported committed: ${seen:-none})"
	elif [ "${count:-0}" -lt "${seen:-0}" ]; then
		lost=$((lost + 1)); echo "round $r: lost: $count rows, $seen reported committed"
	else
		ok=$((ok + 1))
	fi
done
echo "$mode: $rounds kills of sqlite3 (WAL, mmap): $damaged damaged, $lost lost, $ok intact ($early before the table was created)"
[ $damaged = 0 ] && [ $lost = 0 ]
