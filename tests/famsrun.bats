#!/usr/bin/env bats
# famsrun: usage, options, LD_PRELOAD handling, loud failure without the library,
# exit status, and offline recovery.

setup() {
	BUILD=${FAMS_BUILD:?set FAMS_BUILD to the build directory}
	FAMSRUN="$BUILD/scripts/famsrun"
	DIR="${FAMS_TEST_DIR:-$BUILD/testdata}/bats.$$.$BATS_TEST_NUMBER"
	mkdir -p "$DIR"
}

teardown() { rm -rf "$DIR"; }

@test "no command: usage on stderr, exit 2" {
	run "$FAMSRUN"
	[ "$status" -eq 2 ]
	[[ "$output" == *"usage: famsrun"* ]]
}

@test "--help and --version exit 0" {
	run "$FAMSRUN" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--journal-size"* ]]
	run "$FAMSRUN" --version
	[ "$status" -eq 0 ]
	[[ "$output" == "famsrun (fams) "* ]]
}

@test "unknown option and bad size: exit 2 with a message" {
	run "$FAMSRUN" --bogus true
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown option"* ]]
	run "$FAMSRUN" --journal-size lots true
	[ "$status" -eq 2 ]
	[[ "$output" == *"--journal-size"* ]]
}

@test "exits with the command's status; -- ends the options" {
	run "$FAMSRUN" -- sh -c 'exit 7'
	[ "$status" -eq 7 ]
	run "$FAMSRUN" sh -c 'exit 0'
	[ "$status" -eq 0 ]
}

@test "puts the library first in LD_PRELOAD, keeping what was there" {
	run env LD_PRELOAD=/nonexistent/other.so "$FAMSRUN" sh -c 'echo "$LD_PRELOAD"' 2>/dev/null
	[[ "${lines[-1]}" == *"libfams_preload.so /nonexistent/other.so" ]]
}

@test "refuses to run the command when the library is missing" {
	run env FAMS_LIBRARY=/nonexistent/libfams_preload.so "$FAMSRUN" touch "$DIR/ran"
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot find libfams_preload.so"* ]]
	[ ! -e "$DIR/ran" ]
}

@test "options become FAMS_* settings" {
	run "$FAMSRUN" --journal-size 1M --journal-max 8M --journal-dir "$DIR" --tracker compare -v \
		sh -c 'echo "$FAMS_JOURNAL_SIZE $FAMS_JOURNAL_MAX $FAMS_JOURNAL_DIR $FAMS_TRACKER $FAMS_LOG"'
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "1M 8M $(cd "$DIR" && pwd) compare info" ]
}

@test "a bad FAMS_ value gets a warning naming the variable and the default" {
	run env FAMS_JOURNAL_SIZE=huge "$FAMSRUN" "$BUILD/tests/torture_writer" "$DIR/f" 4 1
	[ "$status" -eq 0 ]
	[[ "$output" == *"fams: FAMS_JOURNAL_SIZE=\"huge\" is not a size"*"using 65536"* ]]
}

@test "journals go to --journal-dir and none is left after a clean exit" {
	mkdir -p "$DIR/j"
	run "$FAMSRUN" --journal-dir "$DIR/j" "$BUILD/tests/torture_writer" "$DIR/f" 8 5
	[ "$status" -eq 0 ]
	[ -z "$(ls -A "$DIR/j")" ]
	[ -z "$(ls -A "$DIR" | grep fams-journal)" ]
}

# A kill after commit 3 of torture_writer leaves its journal; a page changed behind
# fams's back makes the file hold neither round 2 nor round 3 -- as a kill half-way
# through the commit's data writes leaves it.  --recover must say $1 and leave round
# $2; a second run finds nothing.  $3: the --status state before (optional).
recover_after_kill() {
	run "$FAMSRUN" "$BUILD/tests/torture_writer" "$DIR/f" 256 3 die
	[ "$status" -eq 137 ]
	j=$("$FAMSRUN" --journal-of "$DIR/f")
	[ -e "$j" ]
	if [ -n "${3:-}" ]; then
		run "$FAMSRUN" --status "$DIR"
		[[ "$output" == *"$DIR/f "*"$3"* ]]
	fi
	printf 'torn' | dd of="$DIR/f" bs=1 seek=$((5 * 4096 + 100)) conv=notrunc status=none
	run "$FAMSRUN" --recover "$DIR/f"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$DIR/f: "*"$1"* ]]
	[ ! -e "$j" ]
	run "$BUILD/tests/torture_check" "$DIR/f" 256
	[ "$status" -eq 0 ]
	[ "$output" = "$2" ]
	run "$FAMSRUN" --recover "$DIR/f"
	[[ "$output" == *"nothing to recover"* ]]
}

@test "--recover applies again the redo log a kill left; a second run finds nothing" {
	recover_after_kill "applied again" 3 "redo log (its commits would be applied again)"
}

@test "--recover rolls back a commit a kill interrupted; a second run finds nothing" {
	FAMS_COMMIT_LOG=undo recover_after_kill "rolled back" 2
}

@test "--recover refuses a journal that belongs to another file" {
	"$FAMSRUN" "$BUILD/tests/torture_writer" "$DIR/a" 8 3 >/dev/null
	"$BUILD/tests/torture_writer" "$DIR/b" 8 3 >/dev/null
	# make a journal of a, left as a crash leaves it, and put it next to b
	run "$FAMSRUN" "$BUILD/tests/torture_writer" "$DIR/a" 8 3 die
	[ "$status" -eq 137 ]
	[ -e "$("$FAMSRUN" --journal-of "$DIR/a")" ]
	cp "$("$FAMSRUN" --journal-of "$DIR/a")" "$("$FAMSRUN" --journal-of "$DIR/b")"
	before=$(md5sum < "$DIR/b")
	run "$FAMSRUN" --recover "$DIR/b"
	[ "$status" -ne 0 ]
	[[ "$output" == *"names another file"* ]]
	[ "$(md5sum < "$DIR/b")" = "$before" ]
	# and a program opening b under fams gets a clear error, not a mixed file
	run "$FAMSRUN" "$BUILD/tests/torture_check" "$DIR/b" 8
	[ "$status" -ne 0 ]
	[[ "$output" == *"fams:"*"names another file"* ]]
}

@test "a static program is refused with 126 and a reason; --allow-unprotected runs it, saying so" {
	run "$FAMSRUN" "$BUILD/tests/static_prog"
	[ "$status" -eq 126 ]
	[[ "$output" == *"cannot be protected: it, or the interpreter its #! line names, is statically linked"* ]]
	[[ "$output" != *"static_prog ran"* ]]
	run "$FAMSRUN" --allow-unprotected "$BUILD/tests/static_prog"
	[ "$status" -eq 0 ]
	[[ "$output" == *"runs WITHOUT fams"* ]]
	[[ "$output" == *"static_prog ran"* ]]
	# A script whose interpreter is that static program: refused too.
	printf '#!%s\n' "$BUILD/tests/static_prog" >"$DIR/via_static"
	chmod +x "$DIR/via_static"
	run "$FAMSRUN" "$DIR/via_static"
	[ "$status" -eq 126 ]
}

@test "a set-user-ID program of another user is refused; a script and a PATH name run" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to make a set-user-ID copy owned by nobody"
	cp "$(type -P true)" "$DIR/suid_true"
	chown nobody "$DIR/suid_true"
	chmod u+s "$DIR/suid_true"
	run "$FAMSRUN" "$DIR/suid_true"
	[ "$status" -eq 126 ]
	[[ "$output" == *"secure mode"* ]]
	run "$FAMSRUN" --allow-unprotected "$DIR/suid_true"
	[ "$status" -eq 0 ]
	printf '#!/bin/sh\necho script ran\n' >"$DIR/script"
	chmod +x "$DIR/script"
	run "$FAMSRUN" "$DIR/script"
	[ "$status" -eq 0 ]
	[[ "$output" == "script ran" ]]
	run "$FAMSRUN" true
	[ "$status" -eq 0 ]
}


@test "--status lists each journal: in use, complete, interrupted, orphan; --json too" {
	export FAMS_COMMIT_LOG=undo # the states of undo journals
	# complete: a kill after commit 3 leaves its journal, the file as committed.
	run "$FAMSRUN" "$BUILD/tests/torture_writer" "$DIR/done" 64 3 die
	[ "$status" -eq 137 ]
	# interrupted: the same, then a page changed as a kill during the data writes would.
	run "$FAMSRUN" "$BUILD/tests/torture_writer" "$DIR/cut" 64 3 die
	printf 'torn' | dd of="$DIR/cut" bs=1 seek=$((5 * 4096 + 100)) conv=notrunc status=none
	# orphan: a journal whose file was deleted.
	run "$FAMSRUN" "$BUILD/tests/torture_writer" "$DIR/gone" 64 3 die
	rm "$DIR/gone"
	# in use: a writer that is still running.
	"$FAMSRUN" "$BUILD/tests/torture_writer" "$DIR/live" 64 >/dev/null &
	pid=$!
	for _ in $(seq 50); do [ -s "$DIR/live" ] && break; sleep 0.1; done
	sleep 0.3 # its first commit made: its journal exists and is locked
	run "$FAMSRUN" --status "$DIR"
	kill -9 $pid
	wait $pid 2>/dev/null || true
	[ "$status" -eq 0 ]
	[[ "$output" == *"$DIR/done "*"complete"* ]]
	[[ "$output" == *"$DIR/cut "*"interrupted (would roll back)"* ]]
	[[ "$output" == *"orphan (its file is gone)"* ]]
	[[ "$output" == *"$DIR/live "*"in use by a live process"* ]]
	run "$FAMSRUN" --status --json "$DIR/cut"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"file": "'"$DIR"'/cut", "state": "interrupted (would roll back)"'* ]]
	python3 -c 'import json, sys; assert len(json.loads(sys.argv[1])) == 1' "$output"
}
