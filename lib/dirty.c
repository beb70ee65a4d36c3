/* dirty.c -- which pages of managed files were written, by this process or by any
 * other process sharing the file: gathered from the page tables of each (the
 * tracker scans them), and kept tracked across resizes and remappings.  Under the
 * registry lock and the file's commit lock -- or, for an MS_ASYNC snapshot taken
 * beside this process's commit thread's commit, the lock that thread holds and the
 * file's bits_lock (asynccommit.c).
 *
 * A member's mappings are write-protected up to its protected_end (shared.h).
 * Past it, inside the file, lie pages another process's growth brought in: the
 * kernel reports such a page as written whether it was or is a hole never
 * protected, so those reports make pages suspect (compared), not dirty; the scan
 * protects them as it reports them, and once a member's pages up to the size have
 * been scanned so, its protected_end moves up. */
#include "dirty.h"
#include "log.h"
#include "mapscan.h"
#include "member.h"
#include "sys.h"
#include "tracker.h"
#include "trackswitch.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

/* A mapping scanned whole need not be scanned again while this process takes no
 * page fault: after the scan every page of it the working copy holds is
 * write-protected, and a hole has no page, so the first store to any of its pages
 * faults -- in the thread that stores, counted in the process's fault count (a
 * store by the kernel for it, read(2) into the mapping, faults the same way).
 * Stores made into this process's memory from outside it, which fault in another
 * process's count (a debugger, process_vm_writev, a vfork child), are taken by the
 * next scan: a commit that may skip one is a quick one (msync, fsync, MS_ASYNC);
 * munmap, exit, exec, a last close and a size change always scan.  Set by
 * dirty_harvest_file for the harvest it runs (under the registry lock). */
static struct {
	bool quick;      /* this harvest may skip quiet mappings */
	bool known;      /* the fault count could be read */
	uint64_t faults; /* the process's page faults before this harvest's first scan */
	bool leave_open; /* its scans protect nothing (dirty_collect_leaving_open) */
	bool uncounted;  /* not a commit's harvest: the tracker's window does not count it */
} g_harvest;

/* The page faults this process's threads have taken (minor and major). */
static bool process_faults(uint64_t *n)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return false;
	*n = (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
	return true;
}

/* Where the file ends in m's address range (m->start when the file ends before
 * it, m->end when after): a page past it cannot be touched (SIGBUS). */
static uintptr_t inside_end(const struct fams_map *m)
{
	uint64_t file_end = fams_page_round(m->f->sh->size);
	if (file_end <= m->off)
		return m->start;
	return file_end - m->off < m->end - m->start ? m->start + (uintptr_t)(file_end - m->off) : m->end;
}

/* The protected_end of this process's mappings of f. */
static uint64_t own_protected_end(const struct fams_file *f)
{
	return f->me >= 0 ? f->sh->members[f->me].protected_end : f->sh->size;
}

/* Track writes to [s, e) of m: register all of it, write-protect the pages inside
 * the file (the asynchronous tracker: those the working copy holds, see
 * holes_untracked).  Protecting an unpopulated page leaves a marker in the page
 * table, and every truncate of the working copy walks the markers from the new end
 * to the end of each mapping: a 64 MiB mapping of a 6 MiB file (Kyoto Cabinet's
 * default) made each shrink cost ~0.5 ms.  Pages past the end cannot be touched
 * (SIGBUS); a resize that brings them inside protects them (protect_grown), where
 * holes are protected. */
int dirty_track(struct fams_map *m, uintptr_t s, uintptr_t e)
{
	m->quiet = false;
	if (fams_track_range((void *)s, e - s) < 0)
		return -1;
	uintptr_t inside = inside_end(m);
	if (e > inside)
		e = inside;
	if (s >= e)
		return 0;
	if (mapscan_holes_untracked()) {
		int saved = errno;
		if (mapscan_protect(m, m->off + (s - m->start), m->off + (e - m->start)) < 0)
			return -1;
		m->holes_open = true; /* (when none was left, the first full scan says so) */
		errno = saved;
		return 0;
	}
	return fams_protect_range((void *)s, e - s);
}

static void protect(struct fams_map *m, uintptr_t s, uintptr_t e)
{
	if (!m->f->cut_off)
		fams_protect_range((void *)s, e - s);
}

void dirty_protect_grown(struct fams_file *f, uint64_t old_size, uint64_t new_size)
{
	if (mapscan_holes_untracked())
		return; /* a growth brings in holes, left unprotected (dirty_harvest_file) */
	/* Called before the working copy grows: none of these pages can be written yet
	 * (a store past the end faults with SIGBUS), so none is written unprotected;
	 * the kernel keeps the marks past the end until the pages exist.  The page
	 * holding the old end was inside the file and is protected already. */
	map_each_of_file(f, fams_page_round(old_size), fams_page_round(new_size), protect);
}

/* m's tracking could not be re-armed: its pages may be written unrecorded, so this
 * process compares them at every commit, and so do the others (it no longer
 * reports when it has opened pages). */
static void untrack(struct fams_map *m)
{
	m->untracked = true;
	m->quiet = false;
	if (m->f->me >= 0)
		m->f->sh->members[m->f->me].reports_open = 0;
}

/* Move the kernel's record of written pages in [s, e) of m into the file's bitmap.
 * If the kernel cannot say, the pages become suspect: compared at commit. */
void dirty_harvest(struct fams_map *m, uintptr_t s, uintptr_t e)
{
	if (s < m->start)
		s = m->start;
	if (e > m->end)
		e = m->end;
	if (s >= e || m->f->cut_off)
		return;
	uint64_t lo = m->off + (s - m->start), hi = m->off + (e - m->start);
	/* Nothing of it written since its last scan, by this process. */
	bool still_quiet = m->quiet && g_harvest.known && m->quiet_faults == g_harvest.faults;
	if (g_harvest.quick && still_quiet)
		return;
	/* Whole: every page of it inside the file (one past the end cannot be written;
	 * a growth makes it not quiet, open_holes). */
	bool whole = s == m->start && e >= inside_end(m);
	m->quiet = false;
	if (m->untracked) {
		/* Any of its pages may be open with nothing recorded: compare all of them
		 * until tracking can be re-armed. */
		bits_mark_bytes(m->f->suspect, m->off, m->end - m->start);
		m->untracked = dirty_track(m, m->start, m->end) < 0;
		return;
	}
	uint64_t found = mapscan_pages_found, covered = fams_tracker_pages_covered;
	if (mapscan_part(m->f, -1, m->start, m->end, m->off, own_protected_end(m->f), lo, hi, g_harvest.leave_open,
			 &m->holes_open) < 0) {
		fams_debug("dirty scan failed (%s); comparing instead", strerror(errno));
		if (dirty_track(m, s, e) < 0)
			untrack(m);
		return;
	}
	/* Rule: a mapping with pages left open is not quiet -- a store to such a page
	 * faults nowhere, so only a scan finds it -- until a harvest protects them. */
	bool left_open = g_harvest.leave_open && mapscan_pages_found != found;
	if (left_open)
		m->f->left_open = true;
	m->quiet = (whole || still_quiet) && g_harvest.known &&
		   (!left_open || fams_test_break == FAMS_BREAK_LEFT_OPEN_QUIET);
	m->quiet_faults = g_harvest.faults;
	if (!g_harvest.uncounted)
		trackswitch_note(fams_tracker_pages_covered - covered, mapscan_pages_found - found);
}

bool dirty_any_recorded(struct fams_file *f)
{
	for (struct fams_map *m = fams_maps; m; m = m->next)
		if (m->f == f && fams_tracker_recorded(m->start, m->end - m->start))
			return true;
	return false;
}

void dirty_open_for_kernel(uintptr_t s, uintptr_t e)
{
	uintptr_t mask = (uintptr_t)fams_page_size - 1;
	s &= ~mask;
	e = (e + mask) & ~mask;
	for (struct fams_map *m = fams_maps; m; m = m->next)
		if (map_overlaps(m, s, e) && !m->f->cut_off) {
			uintptr_t a = m->start > s ? m->start : s, b = m->end < e ? m->end : e;
			fams_open_for_kernel((void *)a, b - a);
		}
}

/* Re-arm tracking of [s, e) of m after an operation that may have lost it.  Writes
 * that land between the harvest before the operation and this call are caught by
 * comparing the range at the next commit. */
void dirty_rearm(struct fams_map *m, uintptr_t s, uintptr_t e)
{
	if (m->f->cut_off || s >= e)
		return;
	if (dirty_track(m, s, e) < 0)
		untrack(m);
	bits_mark_bytes(m->f->suspect, m->off + (s - m->start), e - s);
}

/* Bring [s, e) of m, pages another process's growth brought inside, under
 * protection.  The asynchronous tracker reports a page never protected as written,
 * so a harvest both finds and protects them; the synchronous one knows only the
 * faults it served, so they are protected and compared once (dirty_rearm). */
static void catch_up(struct fams_map *m, uintptr_t s, uintptr_t e)
{
	if (fams_tracker_kind == FAMS_TRACKER_UFFD_SYNC)
		dirty_rearm(m, s, e);
	else
		dirty_harvest(m, s, e);
}

/* Every mapping of f may show holes left unprotected (mapscan.h). */
static void open_holes(struct fams_map *m, uintptr_t s, uintptr_t e)
{
	m->holes_open = true;
	m->quiet = false;
}

void dirty_harvest_file(struct fams_file *f, uint64_t lo, uint64_t hi)
{
	dirty_harvest_file_as(f, lo, hi, false);
}

void dirty_harvest_file_as(struct fams_file *f, uint64_t lo, uint64_t hi, bool quick)
{
	/* Read before any scan: a store during one faults after it, and the next
	 * harvest scans again.  Only the asynchronous tracker's scans are skipped (the
	 * synchronous one's record is already what was written; compare has none). */
	g_harvest.quick = quick;
	g_harvest.known = fams_tracker_kind == FAMS_TRACKER_UFFD && process_faults(&g_harvest.faults);
	if (mapscan_holes_untracked() && f->growths_seen != f->sh->growths) {
		/* A growth, ours or another process's, brought in holes: unprotected in
		 * our mappings (another's growth may also have been scanned in them
		 * already, below or by the other process's commit). */
		map_each_of_file(f, 0, UINT64_MAX, open_holes);
		f->growths_seen = f->sh->growths;
	}
	struct fams_member *me = f->me >= 0 ? &f->sh->members[f->me] : NULL;
	if (me && me->protected_end < f->sh->size) {
		/* Bring this process's protection up to the size another process grew
		 * the file to (see the top of this file). */
		map_each_of_file(f, me->protected_end, f->sh->size, catch_up);
		me->protected_end = f->sh->size;
	}
	map_each_of_file(f, lo, hi, dirty_harvest);
	g_harvest.quick = false;
}

/* Scan member i's mappings of f over [lo, hi) (the whole of [protected_end, size)
 * first, if its protection lags), through its pagemap.  0, or -1 with errno ESRCH
 * when it turned out to be gone. */
static int scan_member(struct fams_file *f, int i, int pagemap, uint64_t lo, uint64_t hi)
{
	struct fams_member *m = &f->sh->members[i];
	uint64_t size = f->sh->size;
	for (int pass = m->protected_end < size ? 0 : 1; pass < 2; pass++) {
		uint64_t a = pass == 0 ? m->protected_end : lo, b = pass == 0 ? size : hi;
		for (uint32_t k = 0; k < m->nmaps; k++) {
			const struct fams_member_map *r = &m->maps[k];
			bool holes_open = true; /* its mappings: we cannot know */
			if (mapscan_part(f, pagemap, r->start, r->end, r->off, m->protected_end, a, b, false, &holes_open) < 0 &&
			    errno == ESRCH)
				return -1;
		}
		if (pass == 0)
			m->protected_end = size;
	}
	return 0;
}

/* Collect what member i (another process) wrote in [lo, hi) of f. */
static void collect_member(struct fams_file *f, int i, uint64_t lo, uint64_t hi)
{
	const struct fams_member *m = &f->sh->members[i];
	if (!m->overflow && m->reports_open && !__atomic_load_n(&m->open, __ATOMIC_ACQUIRE) &&
	    m->protected_end >= f->sh->size) {
		/* Its thread opened no page since it harvested all of the file: nothing it
		 * wrote is uncollected (pages past its protected_end, which another
		 * process's growth brought in, it may write without a fault: compared). */
		if (!member_alive(f, i))
			member_gone(f, i);
		return;
	}
	if (m->overflow || !m->tracked) {
		/* Its writes cannot be scanned: compare what it maps. */
		if (member_alive(f, i))
			member_suspect(f, i, lo, hi);
		else
			member_gone(f, i);
		return;
	}
	if (m->nmaps == 0) {
		/* It only reads and writes through descriptors, marking as it goes: nothing
		 * to scan, but a dead one's slot must be freed. */
		if (!member_alive(f, i))
			member_gone(f, i);
		return;
	}
	int pagemap = member_pagemap(f, i);
	if (pagemap < 0) {
		if (errno == ESRCH || !member_alive(f, i))
			member_gone(f, i);
		else
			member_suspect(f, i, lo, hi); /* alive, not scannable by us (EACCES) */
		return;
	}
	if (scan_member(f, i, pagemap, lo, hi) < 0)
		member_gone(f, i);
}

void dirty_collect(struct fams_file *f, uint64_t lo, uint64_t hi, bool quick)
{
	if (f->cut_off)
		return;
	/* Rule: while written pages are between a page table and the bitmaps, a
	 * committer that dies must leave a sign: the next one compares everything
	 * (commitlock.c, repair_after_death). */
	f->sh->harvesting = true;
	/* Rule (uffd-sync, for the others): our `open` flag is lowered before our whole
	 * record of the file is taken, never after -- a page opened in between raises
	 * it again; lowered after, a page opened just before would hide from them.  A
	 * harvest that leaves the pages open takes nothing, and lowers nothing. */
	struct fams_member *me = f->me >= 0 ? &f->sh->members[f->me] : NULL;
	if (me && me->reports_open && lo == 0 && hi >= f->sh->size && !g_harvest.leave_open)
		__atomic_store_n(&me->open, 0, __ATOMIC_SEQ_CST);
	dirty_harvest_file_as(f, lo, hi, quick);
	if (!g_harvest.leave_open && lo == 0 && hi >= f->sh->size)
		f->left_open = false; /* every mapping not quiet was scanned and protected */
	for (int i = 0; i < FAMS_MAX_MEMBERS; i++) {
		if (i != f->me && f->sh->members[i].gen)
			collect_member(f, i, lo, hi);
		else if (i != f->me)
			member_forget_pagemap(f, i); /* a slot another process freed */
	}
	f->sh->harvesting = false;
}

/* An MS_ASYNC snapshot's harvest leaves the pages it finds written as they are in
 * the page tables instead of protecting them again: protecting a page must flush
 * it from the TLB of every CPU this address space last ran on, and one such CPU,
 * idle by then, took 20-35 us to answer, most of the call (bench/README.md,
 * section 5).  The commit thread protects them again, off the program's path
 * (dirty_close_left_open).  Rule: no store to a page left open is lost -- every
 * later scan of its mapping finds the page written until it is protected (the
 * mapping is not quiet meanwhile, see dirty_harvest; under uffd-sync its bit stays
 * set), and the harvest that protects it marks it dirty; the snapshot's commit
 * then keeps dirty each page that no longer holds the snapshot's bytes
 * (clear_snapshot_pages).  Only this process's own scans (the userfaultfd
 * trackers), with no other process in the file and this process's protection up
 * to the size; and only when no page is open still: each snapshot takes the pages
 * left open before it again, so a program making MS_ASYNC after MS_ASYNC while the
 * commit thread cannot protect them (the registry lock is never free long) would
 * copy ever more of them (8 pages a call: 13 ms a call after 1,000 calls). */
void dirty_collect_leaving_open(struct fams_file *f, uint64_t lo, uint64_t hi)
{
	const struct fams_member *me = f->me >= 0 ? &f->sh->members[f->me] : NULL;
	bool leave = (fams_tracker_kind == FAMS_TRACKER_UFFD || fams_tracker_kind == FAMS_TRACKER_UFFD_SYNC) &&
		     !f->cut_off && !member_others(f) && (!me || me->protected_end >= f->sh->size) &&
		     !f->left_open;
	g_harvest.leave_open = leave;
	dirty_collect(f, lo, hi, true);
	g_harvest.leave_open = false;
}

/* Protect [s, e) of m without taking its written pages (the broken variant a test
 * must catch: a store made before it is lost). */
static void protect_unmarked(struct fams_map *m, uintptr_t s, uintptr_t e)
{
	fams_protect_range((void *)s, e - s);
}

void dirty_close_left_open(struct fams_file *f)
{
	if (!f->left_open || f->cut_off)
		return;
	f->left_open = false;
	if (fams_test_break == FAMS_BREAK_REPROTECT_UNMARKED) {
		map_each_of_file(f, 0, UINT64_MAX, protect_unmarked);
		return;
	}
	/* A quick harvest: the mappings left open are not quiet; the others need
	 * nothing. */
	g_harvest.uncounted = true;
	dirty_collect(f, 0, UINT64_MAX, true);
	g_harvest.uncounted = false;
}
