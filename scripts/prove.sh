#!/bin/bash
# prove.sh [BUILD_DIR] [FUZZ_SECONDS] -- the long versions of the journal proofs,
# with totals: crash points, power-loss states, faults injected, SIGKILL rounds,
# fuzz executions, violations (must be 0).  The default suite runs short versions.
set -u
build=$(realpath "${1:-build}")
fuzz_seconds=${2:-900}
src=$(cd "$(dirname "$0")/.." && pwd)
export FAMS_TEST_DIR=${FAMS_TEST_DIR:-$build/testdata} FAMS_LOG=error
mkdir -p "$FAMS_TEST_DIR"
violations=0
run() { # name, command...: print its last line, count a failure as a violation
	local name=$1
	shift
	out=$("$@" 2>&1) # kept for the caller
	local rc=$?
	echo "$out" | sed "s/^/  [$name] /" | tail -12
	[ $rc -eq 0 ] || violations=$((violations + 1))
	last=$(echo "$out" | tail -1)
}
start=$(date +%s)
run crash "$build/tests/t_crash_points"
crash_states=$(echo "$last" | grep -o '^[0-9]*')
run power "$build/tests/t_power_loss" --samples=5000 --seed=$((start))
power_states=$(echo "$last" | grep -o '^[0-9]*')
run faults "$build/tests/t_faults"
faults=$(echo "$last" | grep -o '^[0-9]*')
run torture "$src/tests/torture.sh" "$build" 200 fams
# ... with MS_ASYNC commits in flight when the kill comes.
run torture_async "$src/tests/torture.sh" "$build" 200 fams async
# The same under the tracker older kernels get (Linux 5.19-6.6: uffd-sync).
FAMS_TRACKER=uffd-sync run torture_sync "$src/tests/torture.sh" "$build" 200 fams
run share_crash "$build/tests/t_share_crash"
share_states=$(echo "$last" | grep -o '^[0-9]*')
run share_torture "$src/tests/share_torture.sh" "$build" 200 fams
share_line=$(echo "$out" | grep '^fams:' | tail -1)
FAMS_TRACKER=uffd-sync run share_sync "$src/tests/share_torture.sh" "$build" 100 fams
share_sync_line=$(echo "$out" | grep '^fams:' | tail -1)
run kc "$src/tests/kc_crash.sh" "$build" 100 fams
kc_line=$(echo "$out" | grep '^fams:' | tail -1)
run lmdb "$src/tests/lmdb_crash.sh" "$build" 100 fams
lmdb_line=$(echo "$last")
run lmdb_async "$src/tests/lmdb_crash.sh" "$build" 100 fams async
lmdb_async_line=$(echo "$last")
run sqlite "$src/tests/sqlite_crash.sh" "$build" 100 fams
sqlite_line=$(echo "$last")
run linker "$src/tests/linker_kill.sh" "$build" 200
linker_lines=$(echo "$out" | grep '^ok\|^FAILED' | paste -sd';' -)
run gdbm "$src/tests/gdbm_crash.sh" "$build" 200
gdbm_lines=$(echo "$out" | grep '^ok\|^FAILED' | paste -sd';' -)
run fuzz "$src/scripts/fuzz.sh" "$build" "$fuzz_seconds"
execs=$(echo "$last" | grep -o 'fuzz: [0-9]*' | grep -o '[0-9]*')
# The behaviour tests inside a machine on Debian 12's kernel and on bookworm-backports'
# (tests/powercut/old_kernel.sh): a failure is a violation; no machine, a skip.
old_out=$("$src/tests/powercut/old_kernel.sh" "$build" stable backports 2>&1)
rc=$?
echo "$old_out" | grep -E '^(kernel|suite [a-z]+:|ratio|skip)|fail|did not finish' | sed "s/^/  [old_kernel] /" | tail -12
old_lines=$(echo "$old_out" | grep -E '^suite [a-z]+:')
case $rc in
0) ;;
77) old_lines="skipped: $(echo "$old_out" | tail -1 | sed 's/^skip: //')" ;;
*) violations=$((violations + 1)) ;;
esac
echo
echo "crash states (process kill at every step): ${crash_states:-?}"
echo "power-loss states:                         ${power_states:-?}"
echo "faults injected:                           ${faults:-?}"
echo "SIGKILL rounds (torture_writer):           200, and 200 under uffd-sync"
echo "crash states across processes:             ${share_states:-?}"
echo "SIGKILL rounds (groups of 4 sharing):      ${share_line:-?}; under uffd-sync: ${share_sync_line:-?}"
echo "SIGKILL rounds (Kyoto Cabinet):            ${kc_line:-?}"
echo "SIGKILL rounds (LMDB, MDB_WRITEMAP):       ${lmdb_line:-?}"
echo "SIGKILL rounds (LMDB, MDB_MAPASYNC):       ${lmdb_async_line:-?}"
echo "SIGKILL rounds (sqlite3, WAL + mmap):      ${sqlite_line:-?}"
echo "SIGKILL rounds (linkers, output in place): ${linker_lines:-?}"
echo "SIGKILL rounds (gdbm):                     ${gdbm_lines:-?}"
echo "fuzz executions:                           ${execs:-?} (${fuzz_seconds}s)"
echo "${old_lines:-?}" | sed '1s/^/behaviour tests on older kernels:          /; 2,$s/^/                                           /'
echo "violations:                                $violations"
echo "time: $(($(date +%s) - start))s"
[ $violations -eq 0 ]
