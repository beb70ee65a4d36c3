#!/bin/bash
# commit.sh [BUILD_DIR] [FILE_MIB] [REPS] -- commit cost against dirty pages, k in
# {1, 8, 64, 512, 4096} random pages of a FILE_MIB file, for every system in one run:
#   plain    MAP_SHARED + msync(MS_SYNC), no fams: not failure-atomic, the floor
#   fams     the same binary under famsrun
#   pmdk     libpmemobj transactions on the same pages of a pool file (msync-based:
#            not pmem), when bench/pmdk_commit was built (libpmemobj-dev)
#   *_xfs    plain, fams and a famus_snap-style reflink snapshot per commit on a
#            loop-mounted XFS with reflink (root and loop devices needed; skipped
#            with the reason otherwise), plus the reflink commit's 1st and 500th
#            commit on a fresh file, as its extents pile up
# Prints medians, p99, ratios to plain on the same file system, storage bytes per
# commit (/proc/self/io, folio-granular), fams's logical bytes per commit (what it
# asked the kernel to write: FAMS_STATS), flushes per commit (strace) and, for
# plain and fams, the stores and the commit together (cycle_us: natively a store
# to a page writeback cleaned is a file-system write fault, outside the commit).  Writes
# bench/results/commit.csv and, with gnuplot, bench/results/commit.png.
# Not a test: times are only ever compared within one run.
set -eu
build=$(realpath "${1:-build}")
mib=${2:-256}
reps=${3:-40}
ks="1 8 64 512 4096"
here=$(cd "$(dirname "$0")" && pwd)
out=$here/results
mkdir -p "$out"
work=$(mktemp -d "$build/commit.XXXXXX")
mnt=$work/xfs
img=$work/xfs.img
cleanup() {
	[ -d "$mnt" ] && "$here/xfs_loop.sh" umount "$img" "$mnt" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
famsrun="$build/scripts/famsrun"

declare -A med p99 bytes flushes logical cycle
systems=()

# strace pass: runs of 5 and of 10 commits of k pages; the difference is five
# commits' worth, free of set-up (the first commit of the whole file, journal
# creation and removal).  Counts fsync/fdatasync, and msync(MS_SYNC) except under
# fams (there msync reaches the kernel only on the working copy, which is memory).
# Under fams it also reads FAMS_STATS: bytes fams wrote per commit.
count_pass() { # SYS K N -> "flushes bytes_written"
	local sys=$1 k=$2 n=$3 trace="$work/strace" stats="$work/stats" f
	strace -f -qq -e trace=fsync,fdatasync,msync -o "$trace" env FAMS_STATS=1 "${cmd[@]}" 16 "$n" "$k" \
		>/dev/null 2>"$stats" || true
	f=$(grep -cE 'fsync\(|fdatasync\(' "$trace" || true)
	case $sys in fams*) ;; *) f=$((f + $(grep -c 'MS_SYNC' "$trace" || true))) ;; esac
	echo "$f $(sed -n 's/.*bytes_written=\([0-9]*\).*/\1/p' "$stats" | head -1)"
}

# measure SYS CMD...: CMD takes "FILE_MIB REPS K..." and prints commit_latency's lines.
measure() {
	local sys=$1
	shift
	cmd=("$@")
	local k m p b c
	while read -r k m p b c; do
		med[$sys,${k#k=}]=${m#median_us=}
		p99[$sys,${k#k=}]=${p#p99_us=}
		bytes[$sys,${k#k=}]=${b#bytes_per_commit=}
		[ -n "$c" ] && cycle[$sys,${k#k=}]=${c#cycle_us=}
	done < <("${cmd[@]}" "$mib" "$reps" $ks)
	systems+=("$sys")
	command -v strace >/dev/null || return 0
	for k in $ks; do
		read -r fa ba < <(count_pass "$sys" "$k" 5)
		read -r fb bb < <(count_pass "$sys" "$k" 10)
		flushes[$sys,$k]=$(awk -v a="$fa" -v b="$fb" 'BEGIN { printf "%.1f", (b - a) / 5 }')
		[ -n "$ba" ] && [ -n "$bb" ] && logical[$sys,$k]=$(awk -v a="$ba" -v b="$bb" 'BEGIN { printf "%.0f", (b - a) / 5 }')
	done
	return 0
}

measure plain "$build/bench/commit_latency" "$work/data"
measure fams "$famsrun" -- "$build/bench/commit_latency" "$work/data"
if [ -x "$build/bench/pmdk_commit" ]; then
	measure pmdk "$build/bench/pmdk_commit" "$work/pool"
else
	echo "pmdk: bench/pmdk_commit not built (apt-get install libpmemobj-dev, then rebuild); skipped"
fi
aging=""
if "$here/xfs_loop.sh" mount "$img" "$mnt" $((mib * 3 + 512)); then
	measure plain_xfs "$build/bench/commit_latency" "$mnt/data"
	measure fams_xfs "$famsrun" -- "$build/bench/commit_latency" "$mnt/data"
	measure reflink_xfs "$build/bench/reflink_commit" "$mnt"
	aging=$("$build/bench/reflink_commit" --aging 500 8 "$mnt" "$mib" || true)
else
	mnt=""
fi

csv=$out/commit.csv
echo "system,dirty_pages,median_us,p99_us,ratio_to_plain,storage_bytes_per_commit,logical_bytes_per_commit,flushes_per_commit,stores_and_commit_us" >"$csv"
printf '%-12s %6s %11s %11s %7s %13s %13s %8s %11s\n' system k median_us p99_us ratio storage_B logical_B flushes cycle_us
for sys in "${systems[@]}"; do
	base=plain
	case $sys in *_xfs) base=plain_xfs ;; esac
	for k in $ks; do
		ratio=$(awk -v a="${med[$sys,$k]}" -v b="${med[$base,$k]}" 'BEGIN { printf "%.2f", a / b }')
		echo "$sys,$k,${med[$sys,$k]},${p99[$sys,$k]},$ratio,${bytes[$sys,$k]},${logical[$sys,$k]:-},${flushes[$sys,$k]:-},${cycle[$sys,$k]:-}" >>"$csv"
		printf '%-12s %6s %11s %11s %7s %13s %13s %8s %11s\n' "$sys" "$k" "${med[$sys,$k]}" "${p99[$sys,$k]}" \
			"$ratio" "${bytes[$sys,$k]}" "${logical[$sys,$k]:--}" "${flushes[$sys,$k]:--}" "${cycle[$sys,$k]:--}"
	done
done
if [ -n "$aging" ]; then
	echo "reflink_xfs aging (8 pages per commit, fresh ${mib} MiB file filled page by page):"
	echo "$aging" | sed 's/^/  /'
	echo "$aging" | sed 's/commit=\([0-9]*\) us=\([0-9.]*\) extents=\([0-9]*\)/reflink_aging,\1,\2,,,,,extents=\3/' >>"$csv"
fi

echo "targets (ratios are fams median / plain median, same file system):"
for k in $ks; do
	t=2.0
	[ "$k" = 4096 ] && t=1.3
	[ "$k" -gt 8 ] && [ "$k" != 4096 ] && continue
	awk -v a="${med[fams,$k]}" -v b="${med[plain,$k]}" -v k="$k" -v t="$t" \
		'BEGIN { printf "  k=%-5s fams/plain %.2fx (target <= %sx)\n", k, a / b, t }'
done
for k in $ks; do
	[ -n "${logical[fams,$k]:-}" ] && awk -v l="${logical[fams,$k]}" -v k="$k" \
		'BEGIN { printf "  k=%-5s fams bytes written / dirty bytes %.2fx (target <= 2.1x)\n", k, l / (k * 4096) }'
done
if [ -n "${med[pmdk,1]:-}" ]; then
	for k in $ks; do
		awk -v a="${med[pmdk,$k]}" -v b="${med[fams,$k]}" -v k="$k" \
			'BEGIN { printf "  k=%-5s pmdk/fams %.1fx (target >= 10x)\n", k, a / b }'
	done
fi
echo "raw numbers: $csv"
if command -v gnuplot >/dev/null; then
	plots=""
	for sys in "${systems[@]}"; do
		plots="$plots${plots:+, }\"< grep '^$sys,' $csv\" using 2:3 with linespoints title \"$sys\""
	done
	gnuplot <<-PLOT
		set terminal pngcairo size 900,600 noenhanced
		set output "$out/commit.png"
		set datafile separator ","
		set logscale xy
		set xlabel "dirty pages per commit"
		set ylabel "commit latency, median (us)"
		set title "commit latency against dirty pages, ${mib} MiB file (plain: not failure-atomic)"
		set key left top
		plot $plots
	PLOT
	echo "plot: $out/commit.png"
else
	echo "gnuplot not installed (apt-get install gnuplot-nox): no plot"
fi
