# loopfs.sh -- sourced by tests that need a small file system of their own:
#   loopfs_mount NAME SIZE MKFS [MKFS_ARGS...]
# makes an image of SIZE under $FAMS_TEST_DIR (or $build/testdata), formats it with
# MKFS, loop-mounts it on $mnt (removed again at exit), or exits 77 saying why
# (no mkfs, or no loop mounts: needs root).
loopfs_mount() {
	local name=$1 size=$2 mkfs=$3
	shift 3
	local base=${FAMS_TEST_DIR:-$build/testdata}/$name.$$
	img=$base.img mnt=$base.mnt
	mkdir -p "$mnt"
	trap 'umount "$mnt" 2>/dev/null; rm -rf "$img" "$mnt"' EXIT
	truncate -s "$size" "$img" && "$mkfs" -q -F "$@" "$img" >/dev/null 2>&1 ||
		{ echo "skip: cannot make a $mkfs image"; exit 77; }
	mount -o loop "$img" "$mnt" 2>/dev/null || { echo "skip: cannot loop-mount (needs root)"; exit 77; }
}
