#!/bin/bash
# share_sqlite.sh BUILD [native|fams|both] -- one SQLite database in WAL mode with
# mmap_size set (its -shm index, and the database, mapped by every process) used by
# several sqlite3 shells at once.  writers: 4 shells each commit 200 rows, one small
# transaction at a time, into one table; then PRAGMA integrity_check must say ok,
# every row of every shell must be there, once, and the rows of different shells
# must alternate somewhere (they did run at once).  reader: one shell commits 400 rows
# while another repeatedly counts them: every count must succeed and none may be
# smaller than the one before; it must see the table grow while the writer runs, and
# end with all 400.  Every shell must exit 0 with nothing on stderr.  Run natively
# and under famsrun, where every shell runs under fams and all share one working copy
# of each file.
set -u
build=$1 which=${2:-both}
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 is not installed"; exit 77; }
dir=${FAMS_TEST_DIR:-$build/testdata}/share_sqlite.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
famsrun="$build/scripts/famsrun"
nwriters=4 rows=200 reader_rows=400
setup="PRAGMA busy_timeout=10000; PRAGMA mmap_size=67108864;"
pass=0 fail=0

# sql HOW ARGS...: the sqlite3 shell, under famsrun when HOW is fams.
sql() {
	local how=$1
	shift
	if [ "$how" = fams ]; then
		"$famsrun" sqlite3 -bail "$@"
	else
		sqlite3 -bail "$@"
	fi
}

# create HOW DB: a new database in WAL mode with table t.
create() {
	sql "$1" "$2" "$setup PRAGMA journal_mode=WAL;
		CREATE TABLE t(p INTEGER, i INTEGER, v BLOB, UNIQUE(p, i));" >/dev/null
}

# inserts P N: the script of shell P, fed as it runs: N rows, each in a transaction
# of its own, a pause after each (without it, the shell holding the write lock takes
# it again at once and the shells run one after the other).
inserts() {
	echo "$setup"
	for ((i = 1; i <= $2; i++)); do
		echo "BEGIN IMMEDIATE; INSERT INTO t VALUES($1, $i, randomblob(200)); COMMIT;"
		sleep 0.001
	done
}

# verdict NAME OK DETAIL ERRFILES...: count and report one scenario.
verdict() {
	local name=$1 ok=$2 detail=$3
	shift 3
	echo "$name: $detail"
	if [ "$ok" = 1 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		for f in "$@"; do [ -s "$f" ] && head -5 "$f"; done
	fi
}

# writers HOW: 4 shells inserting at once.
writers() {
	local how=$1 db=$dir/writers.$1.db ok=1 p rc pids=()
	create "$how" "$db" 2>"$dir/err.setup" || ok=0
	for ((p = 1; p <= nwriters; p++)); do
		inserts $p $rows | sql "$how" "$db" >/dev/null 2>"$dir/err.$p" &
		pids+=($!)
	done
	local codes=""
	for p in "${pids[@]}"; do
		wait "$p"
		rc=$?
		codes+=" $rc"
		[ $rc -eq 0 ] || ok=0
	done
	for ((p = 1; p <= nwriters; p++)); do [ -s "$dir/err.$p" ] && ok=0; done
	local res check counts count distinct per switches
	res=$(sql "$how" "$db" "PRAGMA integrity_check; SELECT count(*), count(DISTINCT p * 100000 + i) FROM t;
		SELECT group_concat(n) FROM (SELECT count(*) AS n FROM t GROUP BY p ORDER BY p);
		SELECT count(*) FROM t a JOIN t b ON b.rowid = a.rowid + 1 WHERE a.p != b.p;" 2>&1 | tr '\n' ' ')
	read -r check counts per switches _ <<<"$res"
	IFS='|' read -r count distinct <<<"${counts:-}"
	[ "$check" = ok ] || ok=0
	local total=$((nwriters * rows)) want_per
	want_per=$(printf "$rows,%.0s" $(seq $nwriters))
	[ "${count:-}" = $total ] && [ "${distinct:-}" = $total ] && [ "${per:-}" = "${want_per%,}" ] || ok=0
	[[ "${switches:-}" =~ ^[0-9]+$ ]] && [ "$switches" -gt 0 ] || ok=0 # they did run at once
	verdict "$how writers" $ok "$nwriters shells x $rows rows: exits$codes; check ${check:-?}, rows ${count:-?}\
 (distinct ${distinct:-?}, per shell ${per:-?}), ${switches:-?} switches between shells" \
		"$dir/err.setup" "$dir"/err.[0-9]*
	rm -f "$db" "$db-wal" "$db-shm" "$dir"/err.*
}

# reader HOW: one shell inserts while another counts.
reader() {
	local how=$1 db=$dir/reader.$1.db ok=1 done=$dir/writer.done
	rm -f "$done"
	create "$how" "$db" 2>"$dir/err.setup" || ok=0
	# The reader: a count every 5 ms until the writer is done, then a last one.
	{
		echo "$setup"
		while [ ! -e "$done" ]; do
			echo "SELECT 'n', count(*) FROM t;"
			sleep 0.005
		done
		echo "SELECT 'n', count(*) FROM t;"
	} | sql "$how" "$db" >"$dir/out.r" 2>"$dir/err.r" &
	local rpid=$!
	sleep 0.2 # the reader has the database open before the writer starts
	inserts 1 $reader_rows | sql "$how" "$db" >/dev/null 2>"$dir/err.w"
	local wrc=${PIPESTATUS[1]}
	touch "$done"
	wait $rpid
	local rrc=$?
	[ "$wrc" -eq 0 ] && [ "$rrc" -eq 0 ] && [ ! -s "$dir/err.w" ] && [ ! -s "$dir/err.r" ] || ok=0
	# Two lines echo the PRAGMAs, then one "n|COUNT" line per count.
	local n=0 prev=-1 last=-1 between=0 down=0 junk=0 line c
	while read -r line; do
		n=$((n + 1))
		[ $n -le 2 ] && continue
		if ! [[ "$line" =~ ^n\|([0-9]+)$ ]]; then junk=$((junk + 1)); continue; fi
		c=${BASH_REMATCH[1]}
		[ "$c" -lt "$prev" ] && down=$((down + 1))
		[ "$c" -gt 0 ] && [ "$c" -lt $reader_rows ] && between=$((between + 1))
		prev=$c last=$c
	done <"$dir/out.r"
	[ $down -eq 0 ] && [ $junk -eq 0 ] && [ $between -gt 0 ] && [ "$last" = $reader_rows ] || ok=0
	local check
	check=$(sql "$how" "$db" "PRAGMA integrity_check;" 2>&1 | tr '\n' ' ')
	[ "$check" = "ok " ] || ok=0
	verdict "$how reader" $ok "writer exit $wrc, reader exit $rrc: $((n - 2 - junk)) counts, $between while growing, $down going back, $junk not a count, last $last of $reader_rows; check ${check% }" \
		"$dir/err.setup" "$dir/err.w" "$dir/err.r"
	rm -f "$db" "$db-wal" "$db-shm" "$dir"/err.* "$dir/out.r" "$done"
}

for how in native fams; do
	[ "$which" = both ] || [ "$which" = $how ] || continue
	writers $how
	reader $how
done
echo "share_sqlite: $pass passed, $fail failed"
[ $fail -eq 0 ]
