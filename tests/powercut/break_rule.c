/* break_rule.c -- the deliberately broken engine: linked into a second copy of the
 * preload library (libfams_preload_broken.so, never installed), it breaks one
 * ordering rule from start-up, for a harness to catch.  FAMS_TEST_BREAK names it:
 *   no-journal-flush (default; the power-cut harness): a commit writes the data
 *                  file, and reports success, before its journal is durable
 *                  (torn files under undo journals, lost commits under the redo
 *                  log);
 *   wp-open-first, wp-unlocked (tests/t_trackers.c): the uffd-sync tracker's two
 *                  rules (lib/wpsync.c), each broken (lost stores);
 *   group-join-late (tests/t_concurrent_commits.c): a thread's commit joins the
 *                  batch already collecting (lib/groupcommit.c) (lost commits);
 *   snapshot-overtakes (tests/t_msync_async.c): an MS_ASYNC snapshot's commit
 *                  lands after a newer commit (lib/asynccommit.h) (lost commits);
 *   move-unmarked (tests/t_trackers.c under FAMS_TRACKER_MOVES=always): a move
 *                  between trackers marks nothing suspect (lib/trackswitch.c)
 *                  (lost stores);
 *   left-open-quiet, reprotect-unmarked, peek-takes (tests/t_async_reprotect.c):
 *                  an MS_ASYNC harvest's pages left open count as quiet, or are
 *                  protected again without being taken (lib/dirty.c), or lose
 *                  their bits under uffd-sync (lib/wpsync.c); join-keeps-quiet:
 *                  two mapping records joined keep the first one's quiet
 *                  (lib/maptable.c) (lost stores). */
#include "sys.h"

#include <stdlib.h>
#include <string.h>

/* The rules a harness names, and the switch each sets. */
static const struct {
	const char *name;
	enum fams_break rule;
} rules[] = {
	{ "wp-open-first", FAMS_BREAK_WP_OPEN_FIRST },
	{ "wp-unlocked", FAMS_BREAK_WP_UNLOCKED },
	{ "group-join-late", FAMS_BREAK_JOIN_LATE },
	{ "snapshot-overtakes", FAMS_BREAK_SNAPSHOT_OVERTAKES },
	{ "move-unmarked", FAMS_BREAK_MOVE_UNMARKED },
	{ "left-open-quiet", FAMS_BREAK_LEFT_OPEN_QUIET },
	{ "reprotect-unmarked", FAMS_BREAK_REPROTECT_UNMARKED },
	{ "peek-takes", FAMS_BREAK_PEEK_TAKES },
	{ "join-keeps-quiet", FAMS_BREAK_JOIN_KEEPS_QUIET },
};

__attribute__((constructor)) static void break_one_rule(void)
{
	const char *name = getenv("FAMS_TEST_BREAK");
	fams_test_break = FAMS_BREAK_NO_JOURNAL_FLUSH;
	for (size_t i = 0; name && i < sizeof rules / sizeof rules[0]; i++)
		if (strcmp(name, rules[i].name) == 0)
			fams_test_break = rules[i].rule;
}
