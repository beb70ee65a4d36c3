#!/bin/bash
# xfs_loop.sh -- a throwaway reflink-capable XFS on a loop device, for setting
# reflink_commit (famus_snap-style snapshots) beside plain msync and fams.
#   xfs_loop.sh mount IMG MNT SIZE_MIB   sparse IMG, mkfs.xfs -m reflink=1, mounted at MNT
#   xfs_loop.sh umount IMG MNT           unmount MNT, remove IMG (and MNT if empty)
# When it cannot (not root, no mkfs.xfs, mkfs or mount fails) it says why on one
# line and exits 77, so callers skip the reflink comparison.
set -eu

usage() {
	echo "usage: xfs_loop.sh mount IMG MNT SIZE_MIB | umount IMG MNT" >&2
	exit 2
}

skip() {
	echo "xfs_loop.sh: skipping reflink comparison: $*" >&2
	exit 77
}

[ $# -ge 1 ] || usage
case $1 in
mount)
	[ $# -eq 4 ] || usage
	img=$2 mnt=$3 mib=$4
	[ "$(id -u)" -eq 0 ] || skip "needs root for a loop mount"
	command -v mkfs.xfs >/dev/null 2>&1 || skip "mkfs.xfs not found (install xfsprogs)"
	rm -f "$img"
	truncate -s "${mib}M" "$img"
	if ! err=$(mkfs.xfs -q -m reflink=1 "$img" 2>&1); then
		rm -f "$img"
		skip "mkfs.xfs -m reflink=1 failed on $img: ${err%%$'\n'*}"
	fi
	mkdir -p "$mnt"
	if ! err=$(mount -o loop "$img" "$mnt" 2>&1); then
		rmdir "$mnt" 2>/dev/null || true
		rm -f "$img"
		skip "loop mount of $img on $mnt failed: ${err%%$'\n'*}"
	fi
	;;
umount)
	[ $# -eq 3 ] || usage
	img=$2 mnt=$3
	if mountpoint -q "$mnt" 2>/dev/null; then
		umount "$mnt"
	fi
	rmdir "$mnt" 2>/dev/null || true
	rm -f "$img"
	;;
*)
	usage
	;;
esac
