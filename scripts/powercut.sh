#!/bin/bash
# powercut.sh [N] [BUILD_DIR] -- from a fresh clone: install what is needed, build,
# build the machine, then N whole-machine power cuts under fams (default 1000),
# spread over the workloads torture, slow, fresh, kc, gdbm and share; then the controls: 20 cuts
# of the slow torture writer without fams (must find torn files) and 10 with a
# deliberately broken engine (must be caught).  Needs root, qemu-system-x86, nbdkit
# and busybox-static (scripts/deps.sh installs them).  Prints the per-workload
# breakdown and, last, "cuts N torn T lost L fsck_errors E" for the fams run.
set -u
n=${1:-1000}
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${2:-}" ]; then # the default build: make sure it is there and current
	"$here/scripts/deps.sh" && "$here/scripts/build.sh" >/dev/null || exit 1
fi
build=$(realpath "${2:-$here/build}")
run=$here/tests/powercut/run.sh
start=$(date +%s)
echo "== control: the slow torture writer without fams (must tear) =="
"$run" "$build" 20 slow native | tail -3
control=${PIPESTATUS[0]}
echo "== control: fams with commits acknowledged before their data is durable (must be caught) =="
"$run" "$build" 10 torture,share broken | tail -3
broken=${PIPESTATUS[0]}
echo "== fams, $n cuts =="
"$run" "$build" "$n" torture,slow,fresh,kc,gdbm,share fams >"$build/powercut/fams.log"
rc=$?
grep -v '^[a-z]* fams ok' "$build/powercut/fams.log"
echo "time: $(($(date +%s) - start)) s; controls: native $([ $control = 0 ] && echo tore || echo 'DID NOT TEAR'), broken $([ $broken = 0 ] && echo caught || echo 'NOT CAUGHT')"
tail -1 "$build/powercut/fams.log"
[ $rc = 0 ] && [ $control = 0 ] && [ $broken = 0 ]
