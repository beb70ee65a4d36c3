#!/bin/bash
# run.sh BUILD_DIR CUTS [WORKLOADS] [MODES] -- cut the power of a virtual machine
# CUTS times while a workload commits, and check the disk after each cut.
#
# WORKLOADS: comma-separated, of torture (torture_writer: 64 pages stamped with the
# round, 2 ms apart, one msync per round), slow (the same, 20 ms apart: rounds of
# over a second, which the kernel writes back half-way, so that without fams a cut
# finds torn rounds often), fresh (the same writer run again and again, each run
# truncating the file with O_TRUNC and committing one round: a new file's first
# commit, each time), kc (Kyoto Cabinet `kchashtest order -set -oas`,
# checked by `kchashmgr check` and its record count), gdbm (tests/programs/
# gdbm_counter.c: GNU dbm through its shared mapping, a sync every 20 records,
# walked whole after the cut), share (four share_torture
# processes sharing one file), cache (no commits: shows once that the disk's cache
# is volatile, a flushed write surviving a cut and an unflushed one lost); default
# torture,slow,fresh,kc,gdbm,share.  MODES: fams (default), native
# (the control: must find torn files), broken (fams with one ordering rule broken:
# must be caught).  Cuts are spread over the workloads in turn, two machines at a
# time.
#
# Each cut: a fresh ext4 image behind nbdkit's cache filter (writes the guest has
# not flushed live only in nbdkit's memory), qemu boots the machine
# (tests/powercut/machine.sh), the workload starts; at a random moment after its
# first commit qemu and nbdkit are killed together -- the power and the disk's
# cache are gone.  The image is then mounted on the host (ext4 replays its own
# journal), the workload's checker opens the file under fams (recovery runs first),
# and the result is compared with the last commit the guest reported before the
# cut; `e2fsck -fn` checks the file system.
#
# Prints one line per cut and, last, "cuts N torn T lost L fsck_errors E"; exits 0
# when fams lost and tore nothing (native: when it tore something; broken: when
# something was caught), 77 with one line when the machine cannot be had.
set -u
build=$(realpath "$1")
cuts=$2
IFS=, read -r -a workloads <<<"${3:-torture,slow,fresh,kc,gdbm,share}"
IFS=, read -r -a modes <<<"${4:-fams}"
here=$(cd "$(dirname "$0")" && pwd)
work=${POWERCUT_DIR:-$build/powercut}
parallel=${POWERCUT_PARALLEL:-2}
for tool in qemu-system-x86_64 nbdkit mkfs.ext4 e2fsck; do
	command -v $tool >/dev/null || { echo "skip: $tool is not installed (scripts/deps.sh installs it)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "skip: checking a cut needs a loop mount (root)"; exit 77; }
mkdir -p "$work/cuts"
tmp=$(mktemp -d "$work/cuts/run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
machine=$("$here/machine.sh" "$build" "$work/kernel" "$tmp")
rc=$?
[ $rc -eq 0 ] || { echo "$machine"; exit $rc; }
read -r _ kernel _ initrd <<<"$machine"
template=$tmp/template.img
truncate -s 160M "$template" && mkfs.ext4 -q -F "$template"
pre=$build/preload/libfams_preload.so
accel=tcg
[ -w /dev/kvm ] && grep -qE 'vmx|svm' /proc/cpuinfo && accel=kvm

# Wait up to $3 seconds for file $1 to hold a line matching $2.
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -aq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Check the image of one cut; prints "ok|torn|lost|noop DETAIL".
check() { # workload mode img log mnt
	local workload=$1 mode=$2 img=$3 log=$4 mnt=$5
	mount -o loop "$img" "$mnt" 2>/dev/null || { echo "torn the file system does not mount"; return; }
	local verdict
	case $workload in
	torture | slow)
		local last got
		last=$(grep -ao '^committed [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
		if [ ! -e "$mnt/f" ]; then
			verdict="ok no file yet"
		elif ! got=$(LD_PRELOAD=$pre FAMS_LOG=error "$build/tests/torture_check" "$mnt/f" 64); then
			verdict="torn $got"
		elif [ "$got" -lt "${last:-0}" ]; then
			verdict="lost round $got on disk, $last reported committed"
		else
			verdict="ok round $got (last reported $last)"
		fi
		;;
	fresh)
		# Each run says "start N", then truncates the file (the kernel's O_TRUNC, not
		# a commit): zeros or nothing are a state only a run after the last one
		# reported committed can have made; otherwise a whole round, at least the
		# last one reported.
		local last got started
		last=$(grep -ao '^committed [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
		started=$(grep -ao '^start [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
		if [ ! -e "$mnt/f" ]; then
			verdict="ok no file yet"
		elif ! got=$(LD_PRELOAD=$pre FAMS_LOG=error "$build/tests/torture_check" "$mnt/f" 64 fresh); then
			verdict="torn $got"
		elif [ "$got" = 0 ] && [ "${started:-0}" -gt "${last:-0}" ]; then
			verdict="ok truncated by run $started, after round ${last:-0}"
		elif [ "$got" = 0 ]; then
			verdict="lost round ${last:-0}: the file is empty, and no run after it had started"
		elif [ "$got" -lt "${last:-0}" ]; then
			verdict="lost round $got on disk, $last reported committed"
		else
			verdict="ok round $got (last reported $last)"
		fi
		;;
	kc)
		local dots count
		dots=$(sed -n '/setting records:/,$p' "$log" | tail -n +2 | tr -cd '.' | wc -c)
		if [ ! -e "$mnt/db.kch" ]; then
			verdict="ok no file yet"
		elif ! LD_PRELOAD=$pre FAMS_LOG=error kchashmgr check "$mnt/db.kch" >"$mnt.check" 2>&1; then
			verdict="torn kchashmgr check: $(tail -1 "$mnt.check")"
		else
			count=$(kchashmgr inform "$mnt/db.kch" | awk '/^count:/ {print $2}')
			if [ "${count:-0}" -lt $((dots * 8)) ]; then
				verdict="lost $count records, $((dots * 8)) synced"
			else
				verdict="ok $count records ($((dots * 8)) synced)"
			fi
		fi
		;;
	gdbm)
		local last got
		last=$(grep -ao '^synced [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
		if [ ! -e "$mnt/db.gdbm" ]; then
			verdict="ok no file yet"
		elif ! got=$(LD_PRELOAD=$pre FAMS_LOG=error "$build/tests/gdbm_counter" check "$mnt/db.gdbm"); then
			verdict="torn $got"
		elif [ "${got#records }" -lt "${last:-0}" ]; then
			verdict="lost $got on disk, ${last} reported synced"
		else
			verdict="ok $got (${last:-0} reported synced)"
		fi
		;;
	cache)
		local f u
		f=$(head -c 1 "$mnt/flushed" 2>&1) u=$(head -c 1 "$mnt/unflushed" 2>&1)
		if [ "$f" = n ] && [ "$u" = o ]; then
			verdict="ok the flushed write survived the cut, the unflushed one was lost"
		else
			verdict="torn the disk's cache is not volatile (flushed file: '$f', unflushed: '$u'; want n and o)"
		fi
		;;
	share)
		local got rounds id last
		if [ ! -e "$mnt/s" ]; then
			verdict="ok no file yet"
		elif ! got=$(LD_PRELOAD=$pre FAMS_LOG=error "$build/tests/share_torture" check "$mnt/s" 4 24); then
			verdict="torn $got"
		else
			read -r -a rounds <<<"$got"
			verdict="ok rounds $got"
			for id in 0 1 2 3; do
				last=$(grep -ao "^committed $id [0-9]*" "$log" | tail -1 | cut -d' ' -f3)
				if [ "${rounds[$id]:-0}" -lt "${last:-0}" ]; then
					verdict="lost process $id's pages hold round ${rounds[$id]}, $last reported committed"
				fi
			done
		fi
		;;
	esac
	umount "$mnt"
	echo "$verdict"
}

# One cut, in slot $1; appends "workload mode verdict... fsck=N seconds=S" to results.
one_cut() { # slot workload mode n
	local slot=$1 workload=$2 mode=$3 n=$4
	local d=$tmp/slot$slot start=$SECONDS
	mkdir -p "$d/mnt"
	local img=$d/disk.img sock=$d/nbd.sock log=$d/serial.log
	rm -f "$sock" "$log"
	cp --sparse=always "$template" "$img"
	nbdkit -f -U "$sock" --filter=cache file file="$img" cache=${POWERCUT_CACHE:-writeback} cache-min-block-size=4096 \
		>/dev/null 2>&1 &
	local nbd=$!
	for ((i = 0; i < 50; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
	qemu-system-x86_64 -accel $accel -m 512 -smp 1 -display none -no-reboot -serial file:"$log" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1 fams.workload=$workload fams.mode=$mode" \
		-drive file=nbd:unix:"$sock",format=raw,if=virtio,cache=writeback >/dev/null 2>&1 &
	local qemu=$!
	local first='^committed'
	[ $workload = kc ] && first='setting records'
	[ $workload = gdbm ] && first='^synced'
	[ $workload = cache ] && first='powercut: written'
	if ! wait_for "$log" "$first" 90; then
		kill -9 $qemu $nbd 2>/dev/null
		wait $qemu $nbd 2>/dev/null
		echo "$workload $mode noboot $(grep -a powercut "$log" | tail -1) fsck=0 seconds=$((SECONDS - start))" >>"$tmp/results"
		return
	fi
	# A random moment in the commit traffic: 0.2 to 4 s after the first commit.
	[ $workload = cache ] || sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + (r % 380) / 100 }')"
	kill -9 $qemu $nbd 2>/dev/null # the power, and the disk's volatile cache with it
	wait $qemu $nbd 2>/dev/null
	local verdict fsck=0
	verdict=$(check "$workload" "$mode" "$img" "$log" "$d/mnt")
	e2fsck -fn "$img" >"$d/fsck.log" 2>&1 || fsck=1
	echo "$workload $mode $verdict fsck=$fsck seconds=$((SECONDS - start))" >>"$tmp/results"
	if [ $fsck = 1 ] || [[ $verdict != ok* ]]; then cp "$log" "$work/cuts/$workload.$mode.cut$n.serial.log"; fi
}

: >"$tmp/results"
echo "machine: $(basename "$kernel") ($accel), disk: ext4 behind nbdkit cache=writeback"
# Cuts in batches of $parallel machines, each in a slot of its own.
for ((c = 0; c < cuts; c += parallel)); do
	before=$(wc -l <"$tmp/results")
	for ((s = 0; s < parallel && c + s < cuts; s++)); do
		k=$((c + s))
		workload=${workloads[$((k % ${#workloads[@]}))]}
		mode=${modes[$(((k / ${#workloads[@]}) % ${#modes[@]}))]}
		one_cut $s "$workload" "$mode" $k &
	done
	wait
	tail -n +$((before + 1)) "$tmp/results"
done
cp "$tmp/results" "$work/cuts/results.last"

total=$(wc -l <"$tmp/results")
torn=$(grep -c '^[a-z]* [a-z]* torn' "$tmp/results")
lost=$(grep -c '^[a-z]* [a-z]* lost' "$tmp/results")
noboot=$(grep -c '^[a-z]* [a-z]* noboot' "$tmp/results")
fsck=$(grep -c 'fsck=1' "$tmp/results")
secs=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^seconds=/) { split($i, a, "="); s += a[2] } } END { if (NR) printf "%.1f", s / NR }' "$tmp/results")
for w in "${workloads[@]}"; do
	for m in "${modes[@]}"; do
		k=$(grep -c "^$w $m " "$tmp/results")
		[ "$k" -gt 0 ] || continue
		echo "$w $m: $k cuts, $(grep -c "^$w $m torn" "$tmp/results") torn," \
			"$(grep -c "^$w $m lost" "$tmp/results") lost, $(grep "^$w $m " "$tmp/results" | grep -c 'fsck=1') fsck errors"
	done
done
echo "seconds per cut (each machine): $secs; machines that did not reach the workload: $noboot"
echo "cuts $total torn $torn lost $lost fsck_errors $fsck"
case ${modes[*]} in
fams) [ $((torn + lost + fsck + noboot)) -eq 0 ] ;;
native) [ $torn -gt 0 ] ;;
broken) [ $((torn + lost)) -gt 0 ] ;;
*) true ;;
esac
