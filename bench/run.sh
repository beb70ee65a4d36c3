#!/bin/bash
# run.sh [BUILD_DIR] [FILE_MIB] [REPS] -- commit cost against dirty pages, plain
# MAP_SHARED + msync(MS_SYNC) (not failure-atomic: the floor) and fams, in one run
# on the same file system.  Prints a table of medians, p99 and ratios; writes
# bench/results/commit.csv and, with gnuplot, bench/results/commit.png.
# Flushes per commit come from a separate strace pass (tracing slows the timed run).
# Not a test: times are only ever compared within one run.
set -eu
build=$(realpath "${1:-build}")
mib=${2:-256}
reps=${3:-40}
ks="1 8 64 512 4096"
here=$(cd "$(dirname "$0")" && pwd)
out=$here/results
mkdir -p "$out"
data="$build/bench-data.$$"
famsrun="$build/scripts/famsrun"
prog="$build/bench/commit_latency"

declare -A med p99 bytes flushes
for sys in plain fams; do
	pre=()
	[ $sys = fams ] && pre=("$famsrun" --)
	while read -r k m p b; do
		med[$sys,${k#k=}]=${m#median_us=}
		p99[$sys,${k#k=}]=${p#p99_us=}
		bytes[$sys,${k#k=}]=${b#bytes_per_commit=}
	done < <("${pre[@]}" "$prog" "$data" "$mib" "$reps" $ks)
	# Flushes: fsync/fdatasync of files, plus msync(MS_SYNC) of a file mapping
	# natively (under fams msync reaches the kernel only on the working copy,
	# which is memory, and is not a flush).
	if command -v strace >/dev/null; then
		# Runs of 5 and of 10 commits: the difference is 5 commits' flushes, free of
		# set-up (the first commit of the whole file, journal creation and removal).
		count_flushes() {
			local trace="$build/bench-strace.$$" n
			strace -f -qq -e trace=fsync,fdatasync,msync -o "$trace" "${pre[@]}" "$prog" "$data" 16 "$2" "$1" >/dev/null
			n=$(grep -cE 'fsync\(|fdatasync\(' "$trace" || true)
			[ $sys = plain ] && n=$((n + $(grep -c 'MS_SYNC' "$trace" || true)))
			rm -f "$trace"
			echo "$n"
		}
		for k in $ks; do
			a=$(count_flushes "$k" 5)
			b=$(count_flushes "$k" 10)
			flushes[$sys,$k]=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) / 5 }')
		done
	fi
done
rm -f "$data"

csv=$out/commit.csv
echo "system,dirty_pages,median_us,p99_us,storage_bytes_per_commit,flushes_per_commit" >"$csv"
printf '%-6s %12s %12s %12s %12s %7s %14s %14s %9s %9s\n' k plain_med plain_p99 fams_med fams_p99 ratio \
	plain_bytes fams_bytes plain_fl fams_fl
for k in $ks; do
	for sys in plain fams; do
		echo "$sys,$k,${med[$sys,$k]},${p99[$sys,$k]},${bytes[$sys,$k]},${flushes[$sys,$k]:-}" >>"$csv"
	done
	printf '%-6s %12s %12s %12s %12s %7.2f %14s %14s %9s %9s\n' "$k" "${med[plain,$k]}" "${p99[plain,$k]}" \
		"${med[fams,$k]}" "${p99[fams,$k]}" "$(echo "${med[fams,$k]} / ${med[plain,$k]}" | bc -l)" \
		"${bytes[plain,$k]}" "${bytes[fams,$k]}" "${flushes[plain,$k]:-?}" "${flushes[fams,$k]:-?}"
done
echo "raw numbers: $csv"
if command -v gnuplot >/dev/null; then
	gnuplot <<-PLOT
		set terminal pngcairo size 900,600
		set output "$out/commit.png"
		set datafile separator ","
		set logscale xy
		set xlabel "dirty pages per commit"
		set ylabel "commit latency, median (us)"
		set title "msync commit latency, ${mib} MiB file"
		set key left top
		plot "< grep '^plain' $csv" using 2:3 with linespoints title "plain msync (not atomic)", \
		     "< grep '^fams' $csv" using 2:3 with linespoints title "fams"
	PLOT
	echo "plot: $out/commit.png"
else
	echo "gnuplot not installed (apt-get install gnuplot-nox): no plot"
fi
