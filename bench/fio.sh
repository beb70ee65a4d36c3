#!/bin/bash
# fio.sh [BUILD_DIR] [FILE_MIB] [REPS] -- fio's mmap engine, random 4 KiB writes with
# a sync every N writes (--fsync=N: msync of the mapping), natively (not
# failure-atomic) and under famsrun -- its default log (a redo log for commits
# that fit the journal) and undo journals only (FAMS_COMMIT_LOG=undo) -- in one
# run on the same file system.  Prints write IOPS (median of REPS runs) and the
# ratios, and what the disk did per write (device writes, flushes and KiB per
# 4 KiB write, read off the block device's counters: every process's I/O to
# the device counts); writes bench/results/fio.csv.
# Not a test.
set -eu
build=$(realpath "${1:-build}")
mib=${2:-64}
reps=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
command -v fio >/dev/null || { echo "fio: not installed; skipped"; exit 0; }
. "$here/lib.sh"
bench_scratch fio

# run SYSTEM N: "iops writes/op flushes/op KiB/op" of one run.
run() {
	local pre=() before after
	[ "$1" = fams ] && pre=("$build/scripts/famsrun" --)
	[ "$1" = fams_undo ] && pre=(env FAMS_COMMIT_LOG=undo "$build/scripts/famsrun" --)
	rm -f "$dir/f"
	before=$(disk_stat "$dir")
	iops=$("${pre[@]}" fio --name=mmap --ioengine=mmap --rw=randwrite --bs=4k --size="${mib}M" \
		--io_size=$((mib / 4))M --fsync="$2" --filename="$dir/f" --output-format=json 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["jobs"][0]["write"]["iops"])')
	after=$(disk_stat "$dir")
	echo "$iops $(disk_per_op "$before" "$after" $((mib * 256 / 4)))"
}

csv=$out/fio.csv
echo "fsync_every,native_iops,fams_iops,ratio,fams_undo_iops,undo_ratio,native_disk_per_write,fams_disk_per_write,undo_disk_per_write" >"$csv"
printf '%-12s %12s %12s %8s %12s %8s   %s\n' fsync_every native_iops fams_iops fams/native undo_iops undo/native \
	"disk per write (writes flushes KiB): native | fams | undo"
for n in 1 8 32 256; do
	declare -A r=() d=()
	for sys in native fams fams_undo; do
		runs=$(for _ in $(seq "$reps"); do run "$sys" "$n"; done)
		r[$sys]=$(cut -d' ' -f1 <<<"$runs" | median)
		d[$sys]=$(for k in 2 3 4; do cut -d' ' -f$k <<<"$runs" | median; done | paste -sd' ')
	done
	ratio=$(awk -v f="${r[fams]}" -v n="${r[native]}" 'BEGIN { printf "%.2f", f / n }')
	undo=$(awk -v f="${r[fams_undo]}" -v n="${r[native]}" 'BEGIN { printf "%.2f", f / n }')
	echo "$n,${r[native]},${r[fams]},$ratio,${r[fams_undo]},$undo,${d[native]},${d[fams]},${d[fams_undo]}" >>"$csv"
	printf '%-12s %12.0f %12.0f %8s %12.0f %8s   %s | %s | %s\n' "$n" "${r[native]}" "${r[fams]}" "$ratio" "${r[fams_undo]}" "$undo" \
		"${d[native]}" "${d[fams]}" "${d[fams_undo]}"
done
echo "(${mib} MiB file, $((mib / 4)) MiB of 4 KiB random writes per run; target fams/native >= 0.8 at --fsync=1)"
echo "raw numbers: $csv"
