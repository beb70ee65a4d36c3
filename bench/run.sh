#!/bin/bash
# run.sh [BUILD_DIR] [--quick] -- every comparison of fams with what users would
# pick instead, in one run on the same machine and file system:
#   commit.sh       commit latency vs dirty pages: plain msync, fams, PMDK, reflink
#   kc.sh           Kyoto Cabinet's own WAL vs Kyoto Cabinet under famsrun
#   fio.sh          fio mmap randwrite --fsync=N, native vs famsrun
#   overheads.sh    first write, dirty scan of a clean mapping, memory
#   passthrough.sh  ns per call fams does not manage
#   share.sh        a commit by one of 4 processes sharing a file vs one alone
#   trackers.sh     a commit under each dirty-page tracker this kernel offers
#   bookkeeping.sh  appending write(), same-size and growing ftruncate of a mapped file
#   group_commit.sh commits/s of 1, 2, 4 threads, own files and one file
#   msync_async.sh  msync(MS_ASYNC) and MS_SYNC latency against dirty pages
#   report.sh       commit latency with and without the commit-site report
# Prints each table; writes bench/results/*.csv, results.json (all of them),
# summary.txt (this output) and commit.png.  --quick: smaller files, fewer
# repetitions (minutes rather than a quarter of an hour), for trying it out.
# Never part of the test suite: a time is only ever compared with a baseline
# measured in the same run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=build
quick=0
for a in "$@"; do
	case $a in
	--quick) quick=1 ;;
	*) build=$a ;;
	esac
done
build=$(realpath "$build")
[ -x "$build/bench/commit_latency" ] || { echo "run.sh: build first (scripts/build.sh)" >&2; exit 2; }
out=$here/results
mkdir -p "$out"
rm -f "$out"/*.csv "$out"/results.json "$out"/commit.png

if [ $quick = 1 ]; then
	commit_args=(64 10) kc_args=(500 1) fio_args=(32 1) ovh_args=(256) share_args=(2 11) trackers_args=(64 20 1)
	group_args=(1 1) async_args=(16 7) report_rounds=1
else
	commit_args=(256 40) kc_args=(2000 3) fio_args=(64 3) ovh_args=(1024) share_args=(5 31) trackers_args=(64 60 3)
	group_args=(2 3) async_args=(64 31) report_rounds=3
fi

{
	echo "fams benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) cpus, $(findmnt -no FSTYPE -T "$build") under $build"
	echo
	echo "== commit latency against dirty pages =="
	bash "$here/commit.sh" "$build" "${commit_args[@]}"
	echo
	echo "== Kyoto Cabinet: its own WAL vs fams =="
	bash "$here/kc.sh" "$build" "${kc_args[@]}"
	echo
	echo "== fio, mmap engine, random writes =="
	bash "$here/fio.sh" "$build" "${fio_args[@]}"
	echo
	echo "== overheads =="
	bash "$here/overheads.sh" "$build" "${ovh_args[@]}"
	echo
	echo "== pass-through =="
	bash "$here/passthrough.sh" "$build"
	echo
	echo "== sharing a file between processes =="
	bash "$here/share.sh" "$build" "${share_args[@]}"
	echo
	echo "== dirty-page trackers =="
	bash "$here/trackers.sh" "$build" "${trackers_args[@]}"
	echo
	echo "== size changes of a mapped file =="
	bash "$here/bookkeeping.sh" "$build"
	echo
	echo "== commits of several threads at once =="
	bash "$here/group_commit.sh" "$build" "${group_args[@]}"
	echo
	echo "== msync(MS_ASYNC) =="
	bash "$here/msync_async.sh" "$build" "${async_args[@]}"
	echo
	echo "== the commit-site report (FAMS_REPORT) =="
	bash "$here/report.sh" "$build" "$report_rounds"
} 2>&1 | tee "$out/summary.txt"

python3 - "$out" <<'PY'
import csv, json, os, sys
out = sys.argv[1]
doc = {}
for name in sorted(os.listdir(out)):
    if name.endswith(".csv"):
        with open(os.path.join(out, name)) as f:
            doc[name[:-4]] = list(csv.DictReader(f))
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump(doc, f, indent=1)
PY
echo "all raw numbers: $out/results.json; this output: $out/summary.txt"
