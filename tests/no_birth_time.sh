#!/bin/bash
# no_birth_time.sh BUILD: on an ext4 whose inodes are too small to record a birth
# time (mkfs -I 128; statx then has no STATX_BTIME), journals are named after the
# inode's generation number instead.  There a deleted file's inode number is given
# straight to the next new file, so a crash's journal of the old file would match
# the new one by inode alone and be applied to it.  Runs the journal-naming and
# fork tests on such a file system, plus the case made on purpose: crash, delete,
# create a file that reuses the inode, open it -- it must stay as written.  Needs
# root and loop devices; skips (77) where it cannot mount.
set -u
build=$1
. "$(dirname "$0")/loopfs.sh"
loopfs_mount no-birth 64M mkfs.ext4 -I 128
if [ "$(stat -c %W "$mnt" 2>/dev/null)" != 0 ] && [ "$(stat -c %W "$mnt" 2>/dev/null)" != "-" ]; then
	echo "skip: this ext4 records birth times after all"; exit 77
fi
pre=$build/preload/libfams_preload.so
export FAMS_JOURNAL_SIZE=256K # journals are preallocated: keep them small here
fail=0
for t in t_journal_names t_fork_new_file t_commit_msync; do
	if FAMS_TEST_DIR=$mnt LD_PRELOAD=$pre "$build/tests/$t"; then echo "$t: ok"; else echo "$t: FAILED"; fail=1; fi
done

# Crash with a pending journal, delete the file, make a new one on the same inode.
a=$mnt/a.dat b=$mnt/b.dat
"$build/scripts/famsrun" "$build/tests/torture_writer" "$a" 8 3 die >/dev/null 2>&1
ino=$(stat -c %i "$a")
ls -A "$mnt" | grep -q fams-journal || { echo "no journal left by the kill"; fail=1; }
rm -f "$a"
head -c 32768 /dev/zero | tr '\0' 'n' >"$b"
if [ "$(stat -c %i "$b")" != "$ino" ]; then
	echo "note: the new file did not reuse inode $ino (the case is weaker)"
fi
LD_PRELOAD=$pre cat "$b" >/dev/null
if [ "$(tr -d 'n' <"$b" | wc -c)" != 0 ]; then
	echo "FAILED: a journal of the deleted file was applied to the new one"; fail=1
else
	echo "crash, delete, new file on the same inode: untouched"
fi
[ $fail = 0 ] && echo "no birth time: all passed"
exit $fail
