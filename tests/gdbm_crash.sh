#!/bin/bash
# gdbm_crash.sh BUILD [ROUNDS] -- GNU dbm SIGKILLed at random moments, under famsrun
# and natively (tests/programs/gdbm_counter.c).  gdbm updates its file through a
# shared mapping of all of it, grows the file with write() and maps it again
# (munmap, a commit point under fams, falls inside its stores), and syncs with
# msync.  Each round resumes the database the last one left, stores records for
# a random 20 to 400 ms with a sync every 20, and is killed; the database is then
# walked (under fams, through fams: recovery runs first).  Under fams it must open,
# hold records 0 .. N-1 with their values and nothing else, and N must be at least
# the last count the writer reported synced; after the rounds, the journal must be
# gone.  Natively a kill keeps every store in the page cache, so the same holds
# unless the kill lands inside one of gdbm's updates: those rounds are counted and
# the database is made anew.  A kill rarely lands inside a commit; the ordering
# rules are the explorers' to prove (t_power_loss, t_crash_points), and power cuts
# the powercut harness's (workload gdbm).
set -u
build=$(realpath "$1")
rounds=${2:-20}
drv=$build/tests/gdbm_counter
[ -x "$drv" ] || { echo "skip: gdbm_counter not built (libgdbm-dev missing)"; exit 77; }
famsrun=$build/scripts/famsrun
dir=${FAMS_TEST_DIR:-$build/testdata}/gdbm_crash.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT

pass=0 fail=0
for how in fams native; do
	pre=()
	[ $how = fams ] && pre=("$famsrun" --)
	db=$dir/db.$how
	declare -A seen=()
	for r in $(seq "$rounds"); do
		"${pre[@]}" "$drv" write "$db" 20 >"$dir/out" 2>"$dir/err" &
		pid=$!
		sleep "$(awk -v s="$RANDOM$r" 'BEGIN { srand(s); printf "%.3f", 0.02 + rand() * 0.38 }')"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		last=$(grep -o '^synced [0-9]*' "$dir/out" | tail -1 | cut -d' ' -f2)
		got=$("${pre[@]}" "$drv" check "$db" 2>&1)
		if [ $? -ne 0 ]; then
			state=torn
			echo "$how round $r: $got (last synced ${last:-none})"
			rm -f "$db"
		elif [ "${got#records }" -lt "${last:-0}" ]; then
			state=lost
			echo "$how round $r: $got, but ${last} were synced"
		else
			state=intact
		fi
		seen[$state]=$((${seen[$state]:-0} + 1))
	done
	records=$("${pre[@]}" "$drv" check "$db" 2>/dev/null)
	summary=$(for k in "${!seen[@]}"; do echo "$k ${seen[$k]}"; done | sort | paste -sd, -)
	if [ $how = fams ] && { [ -n "${seen[torn]:-}" ] || [ -n "${seen[lost]:-}" ]; }; then
		echo "FAILED: gdbm under fams, $rounds kills: $summary"
		fail=$((fail + 1))
	elif [ $how = fams ] && [ -e "$("$famsrun" --journal-of "$db" 2>/dev/null)" ]; then
		echo "FAILED: gdbm under fams: the database's journal is left after recovery"
		fail=$((fail + 1))
	else
		echo "ok: gdbm $how, $rounds kills: $summary (${records:-no database})"
		pass=$((pass + 1))
	fi
	unset seen
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
