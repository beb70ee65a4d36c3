#!/bin/bash
# linker_kill.sh BUILD [ROUNDS] -- a linker SIGKILLed at random moments, under
# famsrun and natively.  gold writes its output in place (open with O_TRUNC,
# fallocate to the final size, map, store, unmap), so natively a kill can leave a
# half-written binary.  Under famsrun the output, read back through fams (which
# recovers it first), is always a state the linker chose: nothing yet (empty, or
# zeros of the final size: the file as it was when the linker mapped it) or the
# complete binary, byte for byte the reference link's -- never a mix.  lld writes
# a temporary file and renames it over the output: complete or absent both ways,
# and fams must not change that.  Each round kills the linker's process group
# after a random delay within twice a link's duration (natively or under fams).
# With 20 rounds or more, gold must have torn natively at least once (about a
# third of the rounds here), or the harness has shown nothing.  A kill rarely
# lands inside the commit itself (2 ms of a 100 ms link): what this shows is that
# fams protects a real program's output; the ordering rules are the explorers'
# to prove (t_power_loss, t_crash_points: "a new file" shapes).
set -u
build=$(realpath "$1")
rounds=${2:-15}
famsrun=$build/scripts/famsrun
dir=${FAMS_TEST_DIR:-$build/testdata}/linker_kill.$$
command -v gcc >/dev/null || { echo "skip: gcc is not installed"; exit 77; }
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1

# An object whose link writes about 24 MiB: many functions, a large table.
{
	for i in $(seq 0 1999); do echo "int f$i(int x) { return x * $i + $((i % 13)); }"; done
	echo "static const unsigned char table[24 << 20] = { 1, 2, 3 };"
	echo "int main(int c, char **v) { (void)v; return (table[c] + f7(c)) & 1; }"
} >big.c
gcc -O0 -c big.c -o big.o || { echo "cannot compile the test object"; exit 1; }

# alive_in_group PGID: whether a process of that group is still running (zombies
# left for the system to reap do not count: they hold no file).
alive_in_group() {
	local p
	for p in $(pgrep -g "$1"); do
		case $(ps -o stat= -p "$p" 2>/dev/null) in Z* | "") ;; *) return 0 ;; esac
	done
	return 1
}

# classify FILE REF: what a reader finds at FILE: absent, empty, zeros, complete or torn.
classify() {
	[ -e "$1" ] || { echo absent; return; }
	local size
	size=$(stat -c %s "$1")
	if [ "$size" = 0 ]; then
		echo empty
	elif cmp -s "$1" "$2"; then
		echo complete
	elif cmp -s "$1" <(head -c "$size" /dev/zero); then
		echo zeros
	else
		echo torn
	fi
}

pass=0 fail=0
for linker in gold lld; do
	if ! gcc -fuse-ld=$linker -Wl,--build-id=none big.o -o ref.$linker 2>/dev/null; then
		echo "skip: gcc cannot link with $linker"
		continue
	fi
	for how in fams native; do
		pre=()
		[ $how = fams ] && pre=("$famsrun" --)
		# The kill comes within twice this way's link time, in microseconds.
		start=$(date +%s%N)
		"${pre[@]}" gcc -fuse-ld=$linker -Wl,--build-id=none big.o -o timing
		window=$((($(date +%s%N) - start) / 500))
		rm -f timing
		declare -A seen=()
		for r in $(seq "$rounds"); do
			# Job control makes the link its own process group, led by $!.
			set -m
			"${pre[@]}" gcc -fuse-ld=$linker -Wl,--build-id=none big.o -o out 2>/dev/null &
			pid=$!
			set +m
			sleep "$(awk -v w="$window" -v s="$RANDOM$r" 'BEGIN { srand(s); printf "%.6f", rand() * w / 1e6 }')"
			kill -KILL -- -"$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			# Until the whole group is gone (a dying linker still holds the file).
			for _ in $(seq 500); do alive_in_group "$pid" || break; sleep 0.01; done
			# Read it back as the next program would: under fams, through fams.
			rm -f seen.copy
			if [ -e out ]; then
				"${pre[@]}" cat out >seen.copy 2>/dev/null || echo "$how: reading the output failed"
			fi
			state=$(classify seen.copy ref.$linker)
			[ -e out ] || state=absent
			seen[$state]=$((${seen[$state]:-0} + 1))
			rm -f out.tmp*
		done
		summary=$(for k in "${!seen[@]}"; do echo "$k ${seen[$k]}"; done | sort | paste -sd, -)
		if [ $how = fams ] && [ -n "${seen[torn]:-}" ]; then
			echo "FAILED: $linker under fams, $rounds kills: $summary"
			fail=$((fail + 1))
		elif [ $how = native ] && [ $linker = gold ] && [ "$rounds" -ge 20 ] && [ -z "${seen[torn]:-}" ]; then
			echo "FAILED: gold natively, $rounds kills, never torn ($summary): the kills show nothing"
			fail=$((fail + 1))
		else
			echo "ok: $linker $how, $rounds kills: $summary"
			pass=$((pass + 1))
		fi
		if [ $how = fams ]; then
			# Whatever the kills left, the next open under fams recovers it and
			# the last process out removes the journal.  (lld's temporary files,
			# removed above by a plain rm, leave theirs as orphans: documented.)
			"$famsrun" -- cat out >/dev/null 2>&1
			if [ -e "$("$famsrun" --journal-of out 2>/dev/null)" ]; then
				echo "FAILED: $linker: the output's journal is left after recovery"
				fail=$((fail + 1))
			fi
		fi
		rm -f out
		unset seen
	done
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
