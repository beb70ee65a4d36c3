#!/bin/bash
# programs.sh BUILD -- real programs nobody here wrote, each under famsrun and
# natively, each passing its own verification: Python's mmap module, fio's mmap
# engine with crc32c verification (in-process and in a separate --verify_only
# run), stress-ng's msync and mmap stressors with --verify.  Under fams, each
# must also have had its file managed (FAMS_LOG=debug says "managing") and leave
# no journal behind.
set -u
build=$1
src=$(cd "$(dirname "$0")/.." && pwd)
dir=${FAMS_TEST_DIR:-$build/testdata}/programs.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
famsrun="$build/scripts/famsrun"
pass=0 fail=0 skipped=0
have() { command -v "$1" >/dev/null || { echo "skip: $1 is not installed"; skipped=$((skipped + 1)); return 1; }; }
# check NAME HOW COMMAND...: run, require exit 0; under fams also require the
# file to have been managed (unless readonly=1: a reader maps read-only).
readonly=0
check() {
	local name=$1 how=$2
	shift 2
	local log=$dir/out.log
	if [ "$how" = fams ]; then
		FAMS_LOG=debug "$famsrun" -- "$@" >"$log" 2>&1
	else
		"$@" >"$log" 2>&1
	fi
	local rc=$?
	if [ $rc -ne 0 ]; then
		fail=$((fail + 1)); echo "FAILED ($how, exit $rc): $name"; grep -v "^fams: commit" "$log" | tail -8
	elif [ "$how" = fams ] && [ $readonly = 0 ] && ! grep -q "^fams: managing" "$log"; then
		fail=$((fail + 1)); echo "FAILED ($how): $name: fams never managed its file"
	else
		pass=$((pass + 1)); echo "ok ($how): $name"
	fi
}

for how in fams native; do
	if have python3; then
		check "python3 mmap: flush, ranged flush, resize grow/shrink, read/write coherence" $how \
			python3 "$src/tests/programs/py_mmap.py" "$dir/py.$how"
	fi
	if have fio; then
		f=$dir/fio.$how
		common=(--name=fams --filename="$f" --size=16M --ioengine=mmap --rw=randwrite --bs=4k
			--verify=crc32c --verify_state_save=0 --fsync=32 --randseed=1234 --output-format=terse)
		check "fio mmap randwrite, crc32c verified in the same run" $how fio "${common[@]}" --do_verify=1
		# A separate process verifies what the first one left in the file.
		readonly=1
		check "fio --verify_only of that file" $how fio "${common[@]}" --verify_only
		readonly=0
		rm -f "$f"
	fi
	if have stress-ng; then
		sn=(--temp-path "$dir" --verify --timeout 60)
		check "stress-ng --msync (random msync, read-back, MS_INVALIDATE, errno cases)" $how \
			stress-ng --msync 1 --msync-ops 3000 --msync-bytes 16m "${sn[@]}"
		check "stress-ng --mmap --mmap-file (unlinked file, MAP_FIXED, MAP_POPULATE, madvise)" $how \
			stress-ng --mmap 1 --mmap-file --mmap-bytes 4m --mmap-ops 20 "${sn[@]}"
		check "stress-ng --mmap --mmap-file --mmap-async" $how \
			stress-ng --mmap 1 --mmap-file --mmap-async --mmap-bytes 4m --mmap-ops 20 "${sn[@]}"
	fi
done
if find "$dir" -name "*.fams-journal" | grep -q .; then
	fail=$((fail + 1)); echo "FAILED: a journal was left behind"; find "$dir" -name "*.fams-journal"
fi
echo "$pass passed, $fail failed, $skipped skipped"
[ $fail -eq 0 ] && [ $skipped -eq 0 ]
