#!/bin/bash
# user_mode_only.sh T_TRACKERS PRELOAD TEST_DIR -- t_trackers under the uffd-sync
# tracker where userfaultfd serves user-mode faults only, as for an unprivileged
# process on a kernel with vm.unprivileged_userfaultfd=0: run as root without
# CAP_SYS_PTRACE.  Checks that fams says it is in that mode (else the test proves
# nothing) and that no store is lost.  Exit 77 when the mode cannot be had.
set -u
prog=$1 preload=$2 dir=$3
[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null || { echo "skip: needs root and setpriv"; exit 77; }
[ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" = 0 ] ||
	{ echo "skip: vm.unprivileged_userfaultfd is not 0: every process may take kernel faults"; exit 77; }
err=$(mktemp)
trap 'rm -f "$err"' EXIT
setpriv --bounding-set=-sys_ptrace --inh-caps=-sys_ptrace \
	env LD_PRELOAD="$preload" FAMS_TRACKER=uffd-sync FAMS_LOG=info FAMS_TEST_DIR="$dir" "$prog" 2>"$err"
rc=$?
grep -v '^fams: ' "$err" >&2
grep -q 'tracker: uffd-sync (user-mode faults only)' "$err" ||
	{ echo "fams did not run in user-mode-only mode:"; grep 'tracker' "$err"; exit 1; }
exit $rc
