#!/bin/bash
# kyotocabinet.sh -- Kyoto Cabinet's own tests under famsrun and natively, verified
# with KC's own checker.
set -u
build=$1
dir=${FAMS_TEST_DIR:-$build/testdata}/kc.$$
mkdir -p "$dir"
command -v kchashtest >/dev/null || { echo "kyotocabinet-utils not installed"; exit 77; }
famsrun="$build/scripts/famsrun"
pass=0 fail=0
run() { # name, command...
	local name=$1
	shift
	if "$@" >"$dir/kc.out" 2>&1; then
		pass=$((pass + 1))
		echo "ok: $name"
	else
		fail=$((fail + 1))
		echo "FAILED: $name"
		tail -5 "$dir/kc.out"
	fi
}
for how in fams native; do
	pre=()
	[ $how = fams ] && pre=("$famsrun")
	f="$dir/kc.$how.$$.kch"
	rm -f "$f"
	run "$how kchashtest order -oas" "${pre[@]}" kchashtest order -oas "$f" 2000
	run "$how kchashmgr check" "${pre[@]}" kchashmgr check "$f"
	rm -f "$f"
	# records that stay: set only, then check and count
	for i in $(seq 1 200); do printf 'k%d\tv%d\n' "$i" "$i"; done >"$dir/records.tsv"
	run "$how kchashmgr create" "${pre[@]}" kchashmgr create "$f"
	run "$how kchashmgr import" "${pre[@]}" kchashmgr import "$f" "$dir/records.tsv"
	run "$how kchashmgr check (200 records)" "${pre[@]}" kchashmgr check "$f"
	count=$("${pre[@]}" kchashmgr inform "$f" | awk '/^count:/ {print $2}')
	if [ "$count" = 200 ]; then pass=$((pass + 1)); echo "ok: $how record count 200"; else fail=$((fail + 1)); echo "FAILED: $how record count '$count'"; fi
	rm -f "$f"
	t="$dir/kc.$how.$$.kct"
	run "$how kctreetest order -oas" "${pre[@]}" kctreetest order -oas "$t" 2000
	run "$how kctreemgr check" "${pre[@]}" kctreemgr check "$t"
	rm -f "$t"
	# The modes of both databases that exercise fams differently: no sync at all
	# (data reaches the file at munmap/exit), pwrite beyond a 64 KiB mapped window of
	# the same file, hard transactions, and threads writing while others sync.
	for kind in hash tree; do
		db="$dir/kc.$how.$$.$kind"
		for mode in "order|2000" "order -set|2000" "order -msiz 65536 -oas|2000" "tran -hard|500" \
			"wicked -th 4|1000"; do
			opts=${mode%|*} n=${mode#*|}
			rm -f "$db"
			# shellcheck disable=SC2086 # the options are words
			run "$how kc${kind}test $opts $db $n" "${pre[@]}" "kc${kind}test" $opts "$db" "$n"
			run "$how kc${kind}mgr check after $opts" "${pre[@]}" "kc${kind}mgr" check "$db"
			if [ "$opts" = "order -set" ]; then
				count=$("kc${kind}mgr" inform "$db" | awk '/^count:/ {print $2}')
				if [ "$count" = "$n" ]; then pass=$((pass + 1)); echo "ok: $how $kind count $n"
				else fail=$((fail + 1)); echo "FAILED: $how $kind count '$count', expected $n"; fi
			fi
		done
		rm -f "$db"
	done
done
# The commit-site report names KC's C++ functions as people read them.
rm -f "$dir/k.kch"
"$famsrun" --report "$dir/report.txt" kchashtest order -oas "$dir/k.kch" 200 >/dev/null 2>&1
if grep -q 'kyotocabinet::File::synchronize(bool)+0x' "$dir/report.txt"; then pass=$((pass + 1)); echo "ok: report names kyotocabinet::File::synchronize(bool)"
else fail=$((fail + 1)); echo "FAILED: report does not name the C++ function"; cat "$dir/report.txt"; fi
rm -f "$dir/k.kch"
ls -a "$dir" | grep -q "fams-journal" && { echo "FAILED: a journal was left behind"; fail=$((fail + 1)); }
rm -rf "$dir"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
