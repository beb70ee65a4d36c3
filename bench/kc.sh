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
# REPS runs, and writes bench/results/kc.csv.  Not a test.
set -eu
build=$(realpath "${1:-build}")
records=${2:-2000}
reps=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
command -v kchashtest >/dev/null || { echo "kc: kyotocabinet-utils not installed; skipped"; exit 0; }
. "$here/lib.sh"
bench_scratch kc

# run SYSTEM TOOL EXT: prints "records_per_s commits_per_s" of one run.
run() {
	local sys=$1 tool=$2 ext=$3 db="$dir/db.$3" pre=() opts=(-oas) stats="$dir/stats"
	rm -f "$db" "$db".* "$dir"/.db.*
	case $sys in
	kc_wal) opts=(-oat -oas) ;;
	fams) pre=("$build/scripts/famsrun" --) ;;
	fams_undo) pre=(env FAMS_COMMIT_LOG=undo "$build/scripts/famsrun" --) ;;
	esac
	local t0 t1
	t0=$(date +%s%N)
	FAMS_STATS=1 "${pre[@]}" "$tool" order -set "${opts[@]}" "$db" "$records" >/dev/null 2>"$stats"
	t1=$(date +%s%N)
	local secs commits
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1e9 }')
	# Under fams the commits are counted by fams; natively every record is one
	# synchronisation (KC's autosync), and with -oat one transaction.
	commits=$(sed -n 's/.*stats: commits=\([0-9]*\).*/\1/p' "$stats" | awk '{ s += $1 } END { print s + 0 }')
	[[ $sys = fams* ]] || commits=$records
	awk -v n="$records" -v c="$commits" -v s="$secs" 'BEGIN { printf "%.1f %.1f\n", n / s, c / s }'
}

csv=$out/kc.csv
echo "database,system,records,records_per_s,commits_per_s" >"$csv"
printf '%-6s %-9s %14s %14s\n' db system records_per_s commits_per_s
for db in hash:kchashtest:kch tree:kctreetest:kct; do
	IFS=: read -r name tool ext <<<"$db"
	command -v "$tool" >/dev/null || continue
	declare -A rps=() cps=()
	for sys in plain kc_wal fams fams_undo; do
		results=()
		for _ in $(seq "$reps"); do results+=("$(run "$sys" "$tool" "$ext")"); done
		rps[$sys]=$(printf '%s\n' "${results[@]}" | cut -d' ' -f1 | median)
		cps[$sys]=$(printf '%s\n' "${results[@]}" | cut -d' ' -f2 | median)
		echo "$name,$sys,$records,${rps[$sys]},${cps[$sys]}" >>"$csv"
		printf '%-6s %-9s %14s %14s\n' "$name" "$sys" "${rps[$sys]}" "${cps[$sys]}"
	done
	awk -v f="${rps[fams]}" -v w="${rps[kc_wal]}" -v n="$name" \
		'BEGIN { printf "%-6s fams/kc_wal durable records per second: %.2fx (target >= 1.5x)\n", n, f / w }'
	awk -v f="${rps[fams_undo]}" -v w="${rps[kc_wal]}" -v n="$name" \
		'BEGIN { printf "%-6s fams_undo/kc_wal: %.2fx\n", n, f / w }'
done
echo "raw numbers: $csv"
