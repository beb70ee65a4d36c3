# lib.sh -- sourced by the bench scripts.

# median: the median of the numbers on standard input, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# bench_scratch NAME: out= the results directory (made), dir= a scratch directory
# under $build (on the file system measured), removed at exit.  Needs build and here.
bench_scratch() {
	out=$here/results
	mkdir -p "$out"
	dir=$(mktemp -d "$build/$1.XXXXXX")
	trap 'rm -rf "$dir"' EXIT
}

# disk_stat DIR: "writes sectors flushes" completed so far by the block device
# holding DIR (its /sys/dev/block/MAJ:MIN/stat; every process's I/O to the device
# counts); nothing where DIR is on no block device (tmpfs, btrfs's anonymous ones)
# or the kernel counts no flushes (before 5.5).
disk_stat() {
	local dev
	dev=$(findmnt -no MAJ:MIN -T "$1" 2>/dev/null | head -1 | tr -d ' ')
	[ -n "$dev" ] && [ -r "/sys/dev/block/$dev/stat" ] || return 0
	awk 'NF >= 17 { print $5, $7, $16 }' "/sys/dev/block/$dev/stat"
}

# disk_per_op BEFORE AFTER OPS: "writes/op flushes/op KiB/op" between two
# disk_stat readings, or "- - -" where either is empty.
disk_per_op() {
	if [ -z "$1" ] || [ -z "$2" ]; then
		echo "- - -"
		return
	fi
	awk -v b="$1" -v a="$2" -v n="$3" 'BEGIN {
		split(b, x, " "); split(a, y, " ")
		printf "%.2f %.2f %.1f\n", (y[1] - x[1]) / n, (y[3] - x[3]) / n, (y[2] - x[2]) / 2 / n }'
}
