#!/bin/bash
# demo.sh -- the main job: an unmodified program under famsrun, killed mid-commit,
# and its file afterwards.  torture_writer keeps one round number in all 256 pages
# of a file and msyncs after every round; a file whose pages disagree is torn.
set -u
cd "$(dirname "$0")/.."
b=${FAMS_BUILD:-build} # the build directory (the test suite names its own)
dir=$(mktemp -d -p "$b" demo.XXXX)
f="$dir/data"
echo "== without fams: kill the writer until a kill leaves a torn file (at most 200 kills)"
tore="no kill of 200 tore it (the window is narrow; run again)"
for i in $(seq 1 200); do
	"$b/tests/torture_writer" "$f" 256 >/dev/null & pid=$!
	sleep 0.0$((RANDOM % 9 + 1)); kill -KILL $pid; wait $pid 2>/dev/null
	if ! msg=$("$b/tests/torture_check" "$f" 256); then
		echo "   kill $i: $msg"
		tore="kill $i tore it"
		break
	fi
done
rm -f "$f"
echo "== with fams: the same, under famsrun"
torn=0 lost=0
for i in $(seq 1 20); do
	"$b/scripts/famsrun" "$b/tests/torture_writer" "$f" 256 >"$dir/out" & pid=$!
	sleep 0.0$((RANDOM % 9 + 1)); kill -KILL $pid; wait $pid 2>/dev/null
	last=$(grep -o '[0-9]*$' "$dir/out" | tail -1)
	got=$("$b/scripts/famsrun" "$b/tests/torture_check" "$f" 256 2>/dev/null) || { torn=$((torn + 1)); continue; }
	[ "$got" -ge "${last:-0}" ] || lost=$((lost + 1))
done
echo "   torn files after 20 kills: $torn, commits lost: $lost (last check: round $got)"
echo "== Kyoto Cabinet under famsrun: 2000 records, each synced (kchashtest order -set -oas)"
kc=bad
if "$b/scripts/famsrun" kchashtest order -set -oas "$dir/kc.kch" 2000 >/dev/null &&
	kchashmgr check "$dir/kc.kch" >/dev/null 2>&1; then
	n=$(kchashmgr inform "$dir/kc.kch" | awk '/^count:/ { print $2 }')
	echo "   kchashmgr check: the database is sound and holds $n of the 2000 records"
	[ "$n" = 2000 ] && kc=ok
else
	echo "   kchashmgr check FAILED"
fi
rm -rf "$dir"
echo "== shown: without fams $tore; under famsrun 20 kills left $torn torn files and lost" \
	"$lost commits; Kyoto Cabinet's database: $kc"
[ $torn -eq 0 ] && [ $lost -eq 0 ] && [ $kc = ok ]
