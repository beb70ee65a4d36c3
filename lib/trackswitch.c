/* trackswitch.c -- which of the two userfaultfd trackers suits this process's
 * commits, and moving it from one to the other while the program runs.
 *
 * The asynchronous tracker (uffd) costs a scan of every page table entry of a
 * mapping per commit, whatever was written: 16,384 entries for a 64 MiB mapping,
 * 30 to 90 us depending on whether they are in the cache.  The synchronous one
 * (uffd-sync) costs one round trip to its thread per page first written after a
 * commit, about 17 us, and nothing for the pages not written.  A program that
 * writes a handful of pages of a large mapping between commits (fio's random
 * writes, an LMDB transaction) is cheaper under uffd-sync; one that writes many is
 * cheaper under uffd.  With FAMS_TRACKER=auto, a process that began under uffd
 * moves to uffd-sync when, over a window of commits, its scans found fewer than
 * one written page in SYNC_BELOW visited, and back when under uffd-sync its commits
 * wrote more than one page in ASYNC_ABOVE of what they cover.  Only a file of at
 * most MOVE_MAX_BYTES moves.
 *
 * A move (under the registry lock and the committing file's commit lock):
 *   1. every mapping is unregistered from the current tracker (its protection
 *      goes with it: stores from here on fault nowhere);
 *   2. the tracker switches; every mapping is registered with the new one and
 *      protected, and its whole range is marked suspect (dirty_rearm).
 * Rule: no store is lost in between.  A store made after the harvest -- before
 * step 1, between the steps, or before its page is protected again in step 2 --
 * is in a page the commit under way compares with the data file (the suspect
 * marks of step 2, made after the protection: a store after it faults and is
 * recorded by the new tracker).  The move happens between the commit's harvest
 * and its plan (or an MS_ASYNC snapshot's harvest and its copy, which compares
 * suspect pages first), and only for a commit of the whole file.
 * tests/t_trackers.c stores from threads throughout moves (FAMS_TRACKER_MOVES=
 * always) and checks every store reaches the file; an engine whose moves mark
 * nothing loses stores there.
 *
 * Only a process that is the only member of the one file it maps moves: another
 * process sharing the file scans this one's page tables while its member slot says
 * `tracked`, and would find them registered elsewhere mid-move.  Its slot is
 * updated in the same critical section (the file's commit lock keeps joiners
 * out). */
#include "trackswitch.h"
#include "dirty.h"
#include "fdtable.h"
#include "log.h"
#include "maptable.h"
#include "member.h"
#include "pagebits.h"
#include "shared.h"
#include "sys.h"
#include "tracker.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* Pages covered per written page beyond which uffd-sync is cheaper: about 17 us a
 * fault against 2 to 6 ns an entry scanned, so 3,000 to 8,500.  Moving needs 2x
 * past either end of that (1 in 8,192 to go, 1 in 2,048 to come back: for a 64
 * MiB mapping, fewer than 2 pages a commit, more than 8), so that a process near
 * the line does not move back and forth. */
#define SYNC_BELOW 8192
#define ASYNC_ABOVE 2048
/* A window before a move is considered: a million page-table entries' worth of
 * commits, and at least WINDOW_COMMITS commits' worth of the file.  A move costs a
 * comparison of the whole file once, about 2 us a page against 2 to 6 ns a page
 * for a scan: only a phase some 500 commits long pays it back, so a process must
 * have kept its ways for half that before it moves (fio's 64 MiB: 256 commits). */
#define WINDOW_PAGES (1u << 20)
#define WINDOW_COMMITS 256
/* The largest file that moves: a move compares all of it once (140 ms for 256 MiB
 * here), and uffd-sync write-protects every page of it, holes too (page tables for
 * all of it: 512 KiB for 256 MiB).  A sparse file mapped large stays under uffd,
 * whose scans cost what the working copy holds. */
#define MOVE_MAX_BYTES (256ull << 20)

static struct {
	uint64_t covered; /* pages the harvests' scans (or takes) went over */
	uint64_t written; /* pages they found written */
	bool refused;     /* a move failed or cannot be made here: stay */
} g_window;

void trackswitch_note(uint64_t covered, uint64_t written)
{
	g_window.covered += covered;
	g_window.written += written;
}

/* The tracker the window asks for, or the current one. */
static int wanted(void)
{
	uint64_t c = g_window.covered, w = g_window.written;
	if (fams_tracker_kind == FAMS_TRACKER_UFFD && w * SYNC_BELOW < c)
		return FAMS_TRACKER_UFFD_SYNC;
	if (fams_tracker_kind == FAMS_TRACKER_UFFD_SYNC && w * ASYNC_ABOVE > c)
		return FAMS_TRACKER_UFFD;
	return fams_tracker_kind;
}

/* Whether this process may move while committing [lo, hi) of f: FAMS_TRACKER=auto,
 * f the only file it maps, no other process in f, and the commit covering all of
 * it (it compares the whole file's suspect pages: one left for a later MS_ASYNC
 * snapshot would be missing from it, which takes dirty pages only). */
static bool may_move(const struct fams_file *f, uint64_t lo, uint64_t hi)
{
	if (g_window.refused || fams_cfg.tracker != FAMS_TRACKER_AUTO || f->cut_off || f->me < 0 ||
	    lo != 0 || hi < f->sh->size || f->sh->size > MOVE_MAX_BYTES || !fams_tracker_owned() ||
	    member_others(f))
		return false;
	for (const struct fams_map *m = fams_maps; m; m = m->next)
		if (m->f != f || m->end - m->start > MOVE_MAX_BYTES)
			return false;
	return true;
}

/* Update this process's member slot of f for the tracker in force (member.c's
 * take_slot sets it the same way for a process joining). */
static void update_slot(struct fams_file *f)
{
	struct fams_member *me = &f->sh->members[f->me];
	if (fams_tracker_kind == FAMS_TRACKER_UFFD_SYNC) {
		me->tracked = 0;
		if (fams_tracker_watch(&me->open) == 0) {
			/* Raised: until the next harvest, the others compare what it maps. */
			__atomic_store_n(&me->open, 1, __ATOMIC_SEQ_CST);
			me->reports_open = 1;
		}
	} else {
		me->reports_open = 0;
		fams_tracker_unwatch(&me->open);
		me->tracked = 1;
	}
}

/* Move this process to tracker `to` (see the top of this file).  0, or -1 with
 * errno when the new tracker could not be made ready (nothing changed then). */
static int move(struct fams_file *f, int to)
{
	if (fams_tracker_prepare_switch(to) < 0)
		return -1;
	/* The others must not scan us from here on (there are none: may_move). */
	f->sh->members[f->me].tracked = 0;
	for (struct fams_map *m = fams_maps; m; m = m->next)
		if (!m->untracked)
			fams_untrack_range((void *)m->start, m->end - m->start);
	fams_tracker_switch(to);
	fd_tracker_internals(true); /* the two userfaultfds swapped places */
	/* Registered, protected, then marked suspect: see the rule at the top. */
	for (struct fams_map *m = fams_maps; m; m = m->next) {
		m->untracked = false;
		m->holes_open = false;
		if (fams_test_break == FAMS_BREAK_MOVE_UNMARKED)
			m->untracked = dirty_track(m, m->start, m->end) < 0;
		else
			dirty_rearm(m, m->start, m->end);
	}
	f->sh->members[f->me].protected_end = f->sh->size;
	update_slot(f);
	return 0;
}

void trackswitch_consider(struct fams_file *f, uint64_t lo, uint64_t hi)
{
	if (fams_cfg.tracker_moves == FAMS_MOVES_NEVER || !fams_tracker_may_move())
		return;
	bool always = fams_cfg.tracker_moves == FAMS_MOVES_ALWAYS;
	uint64_t c = g_window.covered, w = g_window.written;
	if (!always && (c < WINDOW_PAGES || c < WINDOW_COMMITS * pages_for(f->sh->size)))
		return;
	int to = always ? (fams_tracker_kind == FAMS_TRACKER_UFFD ? FAMS_TRACKER_UFFD_SYNC : FAMS_TRACKER_UFFD) : wanted();
	g_window.covered = g_window.written = 0;
	if (to == fams_tracker_kind || !may_move(f, lo, hi))
		return;
	const char *name = to == FAMS_TRACKER_UFFD_SYNC ? "uffd-sync" : "uffd";
	if (move(f, to) < 0) {
		int saved = errno;
		g_window.refused = true;
		fams_info("tracker: staying on the one in force (%s unavailable: %s)", name, strerror(saved));
		return;
	}
	if (always)
		fams_debug("tracker: %s (FAMS_TRACKER_MOVES=always)", name);
	else
		fams_info("tracker: %s from now on (commits wrote %llu of %llu pages they covered)", name,
			  (unsigned long long)w, (unsigned long long)c);
}
