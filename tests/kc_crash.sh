#!/bin/bash
# kc_crash.sh BUILD ROUNDS [fams|native] -- SIGKILL Kyoto Cabinet's own test program,
# `kchashtest order -oas` (every record set is followed by a sync), at random
# moments.  After each kill (and, under fams, recovery) `kchashmgr check` must
# pass and the record count must be at least the count at the last completed
# sync: kchashtest prints a dot after every rnum/250-th record, each one synced
# before the dot, so count >= dots * rnum/250.
# Natively the page cache survives a kill, and KC's own open-time repair copes;
# this mode reports what it finds rather than failing.
set -u
build=$1
rounds=$2
mode=${3:-fams}
command -v kchashtest >/dev/null || { echo "kyotocabinet-utils not installed"; exit 77; }
dir=${FAMS_TEST_DIR:-$build/testdata}/kc-crash.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
famsrun="$build/scripts/famsrun"
db=$dir/crash.kch
rnum=200000 step=$((200000 / 250))
ok=0 damaged=0 lost=0 total_records=0
for ((i = 1; i <= rounds; i++)); do
	[ -e "$db" ] && rm -f "$("$famsrun" --journal-of "$db")"; rm -f "$db"
	out=$dir/progress
	if [ "$mode" = fams ]; then
		FAMS_LOG=error "$famsrun" kchashtest order -oas "$db" $rnum >"$out" 2>&1 &
	else
		kchashtest order -oas "$db" $rnum >"$out" 2>&1 &
	fi
	pid=$!
	# 50 ms to 1.5 s: from the database's creation to well into the records.
	sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.05 + (r % 1450) / 1000 }')"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	dots=$(sed -n '/setting records:/,$p' "$out" | tail -n +2 | tr -cd '.' | wc -c)
	if [ "$mode" = fams ] && ! "$famsrun" --recover "$db" >"$dir/recover.log" 2>&1; then
		damaged=$((damaged + 1)); echo "round $i: recovery failed"; cat "$dir/recover.log"; continue
	fi
	[ -e "$db" ] || { ok=$((ok + 1)); continue; } # killed before it created the file
	if [ "$mode" = fams ] && cmp -s -n "$(stat -c %s "$db")" "$db" /dev/zero; then
		# Killed after creating and sizing the file but before its first commit:
		# the size change reached the file at once, the header never was committed
		# (a committed state always has it).  Nothing was promised.
		ok=$((ok + 1))
		continue
	fi
	if ! kchashmgr check "$db" >"$dir/check.log" 2>&1; then
		damaged=$((damaged + 1)); echo "round $i: kchashmgr check failed"; tail -3 "$dir/check.log"; continue
	fi
	count=$(kchashmgr inform "$db" | awk '/^count:/ {print $2}')
	if [ "${count:-0}" -lt $((dots * step)) ]; then
		lost=$((lost + 1)); echo "round $i: $count records, but $((dots * step)) had been synced"; continue
	fi
	total_records=$((total_records + count))
	ok=$((ok + 1))
done
echo "$mode: $rounds kills of kchashtest order -oas: $damaged damaged, $lost lost synced records," \
	"$ok intact ($total_records records in all)"
if [ "$mode" = fams ]; then
	echo "$ok passed, $((damaged + lost)) failed"
	[ $((damaged + lost)) -eq 0 ]
else
	echo "native: reported only"
fi
