#!/bin/bash
# fuzz.sh [BUILD_DIR] [SECONDS] -- fuzz journal parsing and recovery with libFuzzer
# (clang, with AddressSanitizer and UndefinedBehaviorSanitizer), starting from
# real journals.  The default suite runs it for 60 s; run it longer for a
# campaign.  Prints the executions; exits non-zero if recovery ever misbehaved
# (the crashing input is left in BUILD_DIR/fuzz/).
set -eu
build=$(realpath "${1:-build}")
seconds=${2:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
out=$build/fuzz
mkdir -p "$out/corpus" "$out/seeds"
command -v clang >/dev/null || { echo "fuzz.sh: clang is not installed (scripts/deps.sh installs it)" >&2; exit 1; }

# The engine's journal code, compiled again with the fuzzer's instrumentation.
clang -g -O1 -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$src/lib" "$src/tests/fuzz/fuzz_recover.c" \
	"$src/lib/recover.c" "$src/lib/jformat.c" "$src/lib/redolog.c" "$src/lib/journal.c" "$src/lib/sys.c" "$src/lib/log.c" "$src/lib/config.c" \
	-lxxhash -o "$out/fuzz_recover"

"$build/tests/make_seeds" "$out/seeds" >/dev/null
log=$out/fuzz.log
set +e
(cd "$out" && ./fuzz_recover -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 corpus seeds) >"$log" 2>&1
rc=$?
set -e
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
if [ $rc -ne 0 ]; then
	tail -40 "$log" >&2
	echo "fuzz: recovery misbehaved after $execs executions; input saved in $out" >&2
	exit 1
fi
echo "fuzz: $execs executions in ${seconds}s, corpus $(ls "$out/corpus" | wc -l) inputs, 0 crashes, 0 violations"
