#!/bin/bash
# old_kernel.sh BUILD_DIR [KERNELS] -- the behaviour tests and a commit benchmark
# inside the power-cut machine (machine.sh, init), no cut: on each kernel asked,
# stable (Debian 12's cloud kernel, 6.1) and backports (bookworm-backports' newest,
# 6.12 or later), default both.  Each kernel's machine boots twice on a fresh ext4
# image: workload suite runs every behaviour test with the trackers auto, uffd-sync,
# uffd and compare (a tracker the kernel refuses: fams warns and compares), workload
# bench runs commit_latency (8 random pages of a 64 MiB file a commit) with
# uffd-sync, uffd and compare.
#
# Prints per kernel: its version, the tracker fams chooses there, one line per test
# and tracker, "suite KERNEL: P passed, F failed, S skipped (N s)", the benchmark's
# lines with what fams said of each tracker, and "ratio compare/TRACKER = X" (compare's
# median commit latency over the tracker's, in the same machine).  The consoles are
# kept in BUILD_DIR/powercut/old_kernel.  Exits 0 when no test failed, 1 when one did
# or a machine did not finish, 77 with one line when no machine can be had.
set -u
build=$(realpath "$1")
shift
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || kernels=(stable backports)
here=$(cd "$(dirname "$0")" && pwd)
work=${POWERCUT_DIR:-$build/powercut}
for tool in qemu-system-x86_64 mkfs.ext4; do
	command -v $tool >/dev/null || { echo "skip: $tool is not installed (scripts/deps.sh installs it)"; exit 77; }
done
mkdir -p "$work/old_kernel"
tmp=$(mktemp -d "$work/old_kernel/run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
accel=tcg
[ -w /dev/kvm ] && grep -qE 'vmx|svm' /proc/cpuinfo && accel=kvm
# -cpu max,-cx16: under TCG (qemu 7.2) 6.12 double-faults at random, in SLUB's
# cmpxchg16b in kmem_cache_alloc, with the default CPU and with max; without CX16
# the kernel emulates that instruction.

# Boot KERNEL INITRD WORKLOAD LOG SECONDS on a fresh disk until the workload ends;
# fails when it does not within SECONDS.
boot() {
	local img=$tmp/disk.img
	rm -f "$img"
	truncate -s 1G "$img" && mkfs.ext4 -q -F "$img" || return 1
	timeout "$5" qemu-system-x86_64 -accel $accel -cpu max,-cx16 -m 1024 -smp 1 -display none -no-reboot -serial file:"$4" \
		-kernel "$1" -initrd "$2" -append "console=ttyS0 quiet panic=-1 fams.workload=$3 fams.mode=fams fams.timeout=600" \
		-drive file="$img",format=raw,if=virtio,cache=writeback >/dev/null 2>&1
	rm -f "$img"
	grep -aq '^powercut: workload ended' "$4"
}
# Why the machine in LOG did not finish: its kernel's first complaint, or its last line.
why() { { grep -a -m1 -E 'Oops|Kernel panic|BUG:' "$1" || tail -1 "$1"; } | tr -d '\r'; }

failed=0 ran=0 skipped=()
for k in "${kernels[@]}"; do
	machine=$(POWERCUT_KERNEL=$k "$here/machine.sh" "$build" "$work/kernel" "$tmp/$k")
	rc=$?
	if [ $rc -eq 77 ]; then
		skipped+=("suite $k: skipped, ${machine#skip: }")
		continue
	elif [ $rc -ne 0 ]; then
		echo "suite $k: not run, machine.sh failed: $machine"
		failed=1
		continue
	fi
	read -r _ kernel _ initrd <<<"$machine"
	ran=1
	log=$work/old_kernel/$k.suite.serial.log
	start=$SECONDS
	boot "$kernel" "$initrd" suite "$log" 2400 || { failed=1; echo "$k suite: the machine did not finish: $(why "$log")"; }
	secs=$((SECONDS - start))
	echo "kernel $k: $(grep -a '^powercut: start' "$log" | awk '{print $5}') ($accel)"
	grep -a '^suite: chosen' "$log" | tr -d '\r'
	grep -a '^suite: tracker ' "$log" | tr -d '\r'
	grep -aE '^suite: [^ ]+ [^ ]+ (pass|fail|skip)|^suite\| ' "$log" | tr -d '\r'
	p=$(grep -acE '^suite: [^ ]+ [^ ]+ pass' "$log") f=$(grep -acE '^suite: [^ ]+ [^ ]+ fail' "$log")
	s=$(grep -acE '^suite: [^ ]+ [^ ]+ skip' "$log")
	[ "$f" -eq 0 ] || failed=1
	echo "suite $k: $p passed, $f failed, $s skipped ($secs s)"

	log=$work/old_kernel/$k.bench.serial.log
	start=$SECONDS
	boot "$kernel" "$initrd" bench "$log" 1200 || { failed=1; echo "$k bench: the machine did not finish: $(why "$log")"; }
	grep -a '^bench: ' "$log" | tr -d '\r'
	grep -aq '^bench: [^ ]* fail' "$log" && failed=1
	median() { grep -a "^bench: $1 k=" "$log" | grep -o 'median_us=[0-9.]*' | cut -d= -f2; }
	c=$(median compare)
	for t in uffd-sync uffd; do
		m=$(median $t)
		[ -n "$c" ] && [ -n "$m" ] || continue
		note=
		grep -aq "^bench: $t chosen .*tracker: compare" "$log" && note=" ($t fell back to compare)"
		awk -v c="$c" -v m="$m" -v t=$t -v n="$note" 'BEGIN { printf "ratio compare/%s = %.2f%s\n", t, (m > 0 ? c / m : 0), n }'
	done
	echo "bench $k: $((SECONDS - start)) s"
done
[ $ran = 1 ] || [ $failed = 1 ] || [ ${#skipped[@]} = 0 ] || { echo "skip: ${skipped[0]#suite * skipped, }"; exit 77; }
[ ${#skipped[@]} = 0 ] || printf '%s\n' "${skipped[@]}"
[ $failed = 0 ]
