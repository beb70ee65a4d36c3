#!/bin/bash
# full_disk.sh BUILD: run t_full_disk under fams on a small ext4 file system of its
# own (loop-mounted), so ENOSPC comes from a real device.  Needs root and loop
# devices; skips (77) where it cannot mount.
set -u
build=$1
. "$(dirname "$0")/loopfs.sh"
loopfs_mount full-disk 8M mkfs.ext4 -b 4096 -O ^has_journal
base=${mnt%.mnt}
err=$base.err
FAMS_JOURNAL_SIZE=64K LD_PRELOAD=$build/preload/libfams_preload.so \
	"$build/tests/t_full_disk" "$mnt/data" "$mnt/filler" 2>"$err"
rc=$?
cat "$err" >&2
if [ $rc -ne 0 ]; then echo "FAIL: t_full_disk exited $rc"; exit 1; fi
if ! grep -q "^fams: .*No space left on device" "$err"; then
	echo "FAIL: no 'fams:' message naming ENOSPC"; exit 1
fi
if ls -A "$mnt" | grep -q "fams-journal"; then echo "FAIL: journal left behind after a clean exit"; exit 1; fi
rm -f "$err"
echo "full disk: ENOSPC reported, file kept its last commit, retry after freeing space committed"
