#!/bin/bash
# kc.sh [BUILD_DIR] [RECORDS] [REPS] -- Kyoto Cabinet with its own crash consistency
# (auto-transactions: a write-ahead log, synced: -oat -oas) against Kyoto Cabinet
# with no transactions under famsrun, syncing at the same points (-oas: every
# record), in one run on the same file system: fams with its default log (a redo
# log for commits that fit the journal) and with undo journals only
# (FAMS_COMMIT_LOG=undo, row fams_undo).  Plain -oas without fams (not
# crash-consistent) is the floor.  Prints records/s -- each record is one durable
# transaction in all three -- and fams's commits/s (an msync and an fsync per
# record: two commits, of which the second only changes the size), medians of
# REPS runs, what the disk did per record (device writes, flushes, KiB, read off
# the block device's counters: every process's I/O to the device counts), and
# writes bench/results/kc.csv.  Not a test.
set -eu
build=$(realpath "${1:-build}")
records=${2:-2000}
reps=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
command -v kchashtest >/dev/null || { echo "kc: kyotocabinet-utils not installed; skipped"; exit 0; }
. "$here/lib.sh"
bench_scratch kc

# run SYSTEM TOOL EXT: prints "records_per_s commits_per_s writes/rec flushes/rec
# KiB/rec" of one run.
run() {
	local sys=$1 tool=$2 ext=$3 db="$dir/db.$3" pre=() opts=(-oas) stats="$dir/stats"
	rm -f "$db" "$db".* "$dir"/.db.*
	case $sys in
	kc_wal) opts=(-oat -oas) ;;
	fams) pre=("$build/scripts/famsrun" --) ;;
	fams_undo) pre=(env FAMS_COMMIT_LOG=undo "$build/scripts/famsrun" --) ;;
	esac
	local t0 t1 before after
	before=$(disk_stat "$dir")
	t0=$(date +%s%N)
	FAMS_STATS=1 "${pre[@]}" "$tool" order -set "${opts[@]}" "$db" "$records" >/dev/null 2>"$stats"
	t1=$(date +%s%N)
	after=$(disk_stat "$dir")
	local secs commits
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1e9 }')
	# Under fams the commits are counted by fams; natively every record is one
	# synchronisation (KC's autosync), and with -oat one transaction.
	commits=$(sed -n 's/.*stats: commits=\([0-9]*\).*/\1/p' "$stats" | awk '{ s += $1 } END { print s + 0 }')
	[[ $sys = fams* ]] || commits=$records
	awk -v n="$records" -v c="$commits" -v s="$secs" -v d="$(disk_per_op "$before" "$after" "$records")" \
		'BEGIN { printf "%.1f %.1f %s\n", n / s, c / s, d }'
}

csv=$out/kc.csv
echo "database,system,records,records_per_s,commits_per_s,disk_writes_per_record,disk_flushes_per_record,disk_kib_per_record" >"$csv"
printf '%-6s %-9s %14s %14s   %s\n' db system records_per_s commits_per_s "disk per record: writes flushes KiB"
for db in hash:kchashtest:kch tree:kctreetest:kct; do
	IFS=: read -r name tool ext <<<"$db"
	command -v "$tool" >/dev/null || continue
	declare -A rps=() cps=() disk=()
	for sys in plain kc_wal fams fams_undo; do
		results=()
		for _ in $(seq "$reps"); do results+=("$(run "$sys" "$tool" "$ext")"); done
		rps[$sys]=$(printf '%s\n' "${results[@]}" | cut -d' ' -f1 | median)
		cps[$sys]=$(printf '%s\n' "${results[@]}" | cut -d' ' -f2 | median)
		disk[$sys]=$(for k in 3 4 5; do printf '%s\n' "${results[@]}" | cut -d' ' -f$k | median; done | paste -sd' ')
		echo "$name,$sys,$records,${rps[$sys]},${cps[$sys]},${disk[$sys]// /,}" >>"$csv"
		printf '%-6s %-9s %14s %14s   %s\n' "$name" "$sys" "${rps[$sys]}" "${cps[$sys]}" "${disk[$sys]}"
	done
	awk -v f="${rps[fams]}" -v w="${rps[kc_wal]}" -v n="$name" \
		'BEGIN { printf "%-6s fams/kc_wal durable records per second: %.2fx (target >= 1.5x)\n", n, f / w }'
	awk -v f="${rps[fams_undo]}" -v w="${rps[kc_wal]}" -v n="$name" \
		'BEGIN { printf "%-6s fams_undo/kc_wal: %.2fx\n", n, f / w }'
	# Plain: the same syncs with no crash protocol at all.  Where it is not much
	# faster than KC's WAL (a disk whose flushes cost little), neither is fams.
	awk -v p="${rps[plain]}" -v w="${rps[kc_wal]}" -v f="${rps[fams]}" -v n="$name" \
		'BEGIN { printf "%-6s plain/kc_wal (the same syncs, no crash consistency): %.2fx; fams/plain: %.2fx\n", n, p / w, f / p }'
done
echo "raw numbers: $csv"
