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
