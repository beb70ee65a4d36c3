#!/bin/bash
# full_disk.sh BUILD: run t_full_disk under fams on a small ext4 file system of its
# own (loop-mounted), so ENOSPC comes from a real device.  Needs root and loop
# devices; skips (77) where it cannot mount.
set -u
build=$1
base=${FAMS_TEST_DIR:-$build/testdata}/full-disk.$$
img=$base.img mnt=$base.mnt
mkdir -p "$mnt"
cleanup() { umount "$mnt" 2>/dev/null; rm -rf "$img" "$mnt"; }
trap cleanup EXIT
truncate -s 8M "$img" && mkfs.ext4 -q -F -b 4096 -O ^has_journal "$img" 2>/dev/null ||
	{ echo "skip: cannot make an ext4 image"; exit 77; }
mount -o loop "$img" "$mnt" 2>/dev/null || { echo "skip: cannot loop-mount (needs root)"; exit 77; }
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
