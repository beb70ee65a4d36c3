#!/bin/bash
# torture.sh -- SIGKILL an unmodified program at random moments; check the file.
#
#   torture.sh BUILD_DIR ROUNDS [fams|native] [async]
#
# async: the program ends three rounds in four with msync(MS_ASYNC) (no promise of
# durability) and reports only the MS_SYNC ones (torture_writer.c).
# With fams, every round must find the file untorn and holding at least the last
# round the program reported committed (0 torn, 0 lost).  Natively the same test
# must find torn states: proof that it can fail.  Prints "N passed, N failed".
set -u
build=$1
rounds=$2
mode=${3:-fams}
how=${4:-}
dir=${FAMS_TEST_DIR:-$build/testdata}
file="$dir/torture.$$"
npages=64
writer="$build/tests/torture_writer"
check="$build/tests/torture_check"
famsrun="$build/scripts/famsrun"
torn=0 lost=0 ok=0
[ -e "$file" ] && rm -f "$("$famsrun" --journal-of "$file")"; rm -f "$file"
# Natively a kill tears the file only when it lands mid-round: try up to 8x as
# many kills, stopping at the first torn state.
max=$rounds
[ "$mode" = fams ] || max=$((rounds * 8))
for ((i = 1; i <= max; i++)); do
	out=$(mktemp)
	if [ "$mode" = fams ]; then
		"$famsrun" "$writer" "$file" $npages 1000000 $how >"$out" 2>&1 &
	else
		"$writer" "$file" $npages >"$out" 2>&1 &
	fi
	pid=$!
	# a random moment: 5 to 120 ms in
	sleep "0.0$((RANDOM % 12 + 1))$((RANDOM % 10))"
	kill -KILL $pid 2>/dev/null
	wait $pid 2>/dev/null
	last=$(grep -o 'committed [0-9]*' "$out" | tail -1 | cut -d' ' -f2)
	last=${last:-0}
	if [ "$last" = 0 ] && [ "$(stat -c %s "$file" 2>/dev/null || echo 0)" -lt $((npages * 4096)) ]; then
		# Killed before its first commit and before the file had its size (under
		# load the kill can come that early): nothing was promised, nothing to check.
		ok=$((ok + 1))
		rm -f "$out"
		continue
	fi
	if [ "$mode" = fams ]; then
		got=$("$famsrun" "$check" "$file" $npages)
	else
		got=$("$check" "$file" $npages)
	fi
	if [ $? -ne 0 ]; then
		torn=$((torn + 1))
		echo "round $i: $got"
	elif [ "$got" -lt "$last" ]; then
		lost=$((lost + 1))
		echo "round $i: file holds round $got but round $last was committed"
	else
		ok=$((ok + 1))
	fi
	rm -f "$out"
	if [ "$mode" != fams ] && [ $torn -gt 0 ]; then break; fi
done
rounds=$((i > max ? max : i))
[ -e "$file" ] && rm -f "$("$famsrun" --journal-of "$file")"; rm -f "$file"
echo "$mode: $rounds kills: $torn torn, $lost lost commits"
if [ "$mode" = fams ]; then
	echo "$ok passed, $((torn + lost)) failed"
	[ $((torn + lost)) -eq 0 ]
else
	# natively, the test must detect damage
	if [ $torn -gt 0 ]; then echo "1 passed, 0 failed"; exit 0; fi
	echo "native run found no torn state in $rounds kills: the test could not fail"
	echo "0 passed, 1 failed"
	exit 1
fi
