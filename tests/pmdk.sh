#!/bin/bash
# pmdk.sh BUILD -- PMDK's libpmemobj under famsrun (tests/programs/pmdk_counter.c):
# a process creates a pool, commits N transactions and is SIGKILLed; the pool must
# open and hold all N.  PMDK asks for MAP_SYNC to learn whether the file is on
# persistent memory; when fams accepted it where the kernel refuses it, PMDK never
# called msync: the pool held the state after 1 transaction of 60, and a pool
# created in a killed process could not be opened.  Also run natively.
set -u
build=$1
drv=$build/tests/pmdk_counter
[ -x "$drv" ] || { echo "skip: pmdk_counter not built (libpmemobj-dev missing)"; exit 77; }
dir=${FAMS_TEST_DIR:-$build/testdata}/pmdk.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
famsrun="$build/scripts/famsrun"
pass=0 fail=0
for n in 1 60 200; do
	for how in native fams; do
		pool=$dir/pool.$how.$n
		pre=()
		[ "$how" = fams ] && pre=("$famsrun")
		{ "${pre[@]}" "$drv" "$pool" "$n" >"$dir/out" 2>&1; } 2>/dev/null # killed on purpose
		got=$("${pre[@]}" "$drv" "$pool" 2>&1)
		echo "$how: $(head -1 "$dir/out"), then killed; reopened: $got"
		if [ "$got" = "counter $n" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
	done
done
echo "pmdk: $pass passed, $fail failed"
[ $fail -eq 0 ]
