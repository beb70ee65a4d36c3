#!/bin/bash
# flushes.sh -- strace evidence: a commit with dirty pages issues exactly one flush
# with the redo log (its record), two with undo journals only (FAMS_COMMIT_LOG=undo:
# journal, then data file).  A journal's first commit, of a file just made and
# sized, two with the redo log (the record and the journal's directory entry: a log
# may begin from a file holding no data) and four with undo journals (the data
# file first, which may hold size changes the kernel made outside any commit, then
# the journal, its directory entry and the data file); the first commit of a file
# written before it was mapped four under either (a log begins only from a data
# file known durable or holding no data).  A commit with nothing dirty issues
# none, and neither does a file mapped writable and never changed, from its open
# to its close.  Also with eatmydata (which turns the program's own fsync,
# fdatasync and msync into no-ops) in the same LD_PRELOAD, in both orders: fams's
# flushes are system calls of its own, so they still reach the kernel.
set -u
build=$1
dir=${FAMS_TEST_DIR:-$build/testdata}
command -v strace >/dev/null || { echo "strace not installed"; exit 77; }
famsrun=$build/scripts/famsrun probe=$build/tests/flush_probe
ways=("famsrun" "eatmydata famsrun" "famsrun eatmydata")
command -v eatmydata >/dev/null || { echo "eatmydata not installed (scripts/deps.sh installs it)"; exit 1; }
pass=0 fail=0
what() { # the probe's label, said
	case $1 in
	first) echo "the journal's first commit, a file just made (1 dirty page)" ;;
	firstdata) echo "the first commit of a file written before it was mapped (1 dirty page)" ;;
	untouched) echo "a file mapped writable, never changed, closed" ;;
	*) echo "commit of $1 dirty pages" ;;
	esac
}
for kind in redo undo; do
export FAMS_COMMIT_LOG=$kind
for way in "${ways[@]}"; do
	case $way in
	famsrun) cmd=("$famsrun" "$probe") ;;
	"eatmydata famsrun") cmd=(eatmydata "$famsrun" "$probe") ;;
	"famsrun eatmydata") cmd=("$famsrun" eatmydata "$probe") ;;
	esac
	file="$dir/flushes.$$"
	log=$(mktemp)
	strace -f -qq -e trace=write,fsync,fdatasync,sync_file_range,syncfs -o "$log" "${cmd[@]}" "$file"
	rc=$?
	rm -f "$file"
	if [ $rc -ne 0 ]; then
		echo "$way: flush_probe failed ($rc)"
		fail=$((fail + 1))
		rm -f "$log"
		continue
	fi
	# Count flushes between each BEGIN k and END.
	while read -r k flushes; do
		want=2
		[ $kind = redo ] && want=1
		[ "$k" = 0 ] && want=0
		[ "$k" = first ] && want=4 # undo: the data file (not known durable), the journal, its directory, the data file
		[ "$k" = first ] && [ $kind = redo ] && want=2 # the record and the journal's directory: a log from an empty file
		[ "$k" = firstdata ] && want=4 # the data file holds data not known durable: as undo's first
		[ "$k" = untouched ] && want=0
		if [ "$flushes" = "$want" ]; then
			echo "$kind, $way: $(what "$k"): $flushes flushes"
			pass=$((pass + 1))
		else
			echo "$kind, $way: $(what "$k"): $flushes flushes, expected $want"
			fail=$((fail + 1))
		fi
	done < <(awk '/write\(-1, "BEGIN/ { match($0, /BEGIN [0-9a-z]+/); k = substr($0, RSTART + 6, RLENGTH - 6); n = 0; on = 1; next }
		on && /(fsync|fdatasync|sync_file_range|syncfs)\(/ { n++ }
		on && /write\(-1, "END"/ { print k, n; on = 0 }' "$log")
	rm -f "$log"
done
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -eq $((2 * 8 * ${#ways[@]})) ]
