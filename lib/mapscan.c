/* mapscan.c -- one mapping's written pages: scanning a part of it (this process's
 * or another's, through its pagemap) into the file's bitmaps, and protecting it,
 * where the asynchronous tracker leaves the working copy's holes open. */
#include "mapscan.h"
#include "pagebits.h"
#include "sys.h"
#include "tracker.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* One mapping being scanned: where it starts in the address space and the file,
 * the owner's protected_end, and whether the scan protects what it finds. */
struct scan {
	struct fams_file *f;
	uint64_t start, off, protected_end;
	bool leave_open;
};

uint64_t mapscan_pages_found;

/* The file range [lo, hi) was written: dirty where the owner's protection
 * reached, suspect beyond (to be compared). */
static int mark_written(void *ctx, uint64_t lo, uint64_t hi)
{
	const struct scan *c = ctx;
	uint64_t pe = c->protected_end;
	mapscan_pages_found += pages_for(hi) - page_of(lo);
	if (lo < pe)
		bits_mark_bytes(c->f->dirty, lo, (hi < pe ? hi : pe) - lo);
	if (hi > pe)
		bits_mark_bytes(c->f->suspect, lo > pe ? lo : pe, hi - (lo > pe ? lo : pe));
	return 0;
}

static void on_written(void *ctx, uintptr_t s, uintptr_t e)
{
	const struct scan *c = ctx;
	mark_written(ctx, c->off + (s - c->start), c->off + (e - c->start));
}

/* Call fn(ctx, a, b) for each run [a, b) of whole pages of [lo, hi) (page aligned)
 * that the working copy holds; *holes is set if it has a hole there.  0, or -1 with
 * errno (fn's, or the seek's). */
static int each_allocated(const struct fams_file *f, uint64_t lo, uint64_t hi,
			  int (*fn)(void *ctx, uint64_t a, uint64_t b), void *ctx, bool *holes)
{
	int saved = errno;
	while (lo < hi) {
		off_t a = fams_raw_lseek(f->memfd, (off_t)lo, SEEK_DATA);
		if (a < 0 && errno == ENXIO) {
			*holes = true; /* no page from lo on */
			break;
		}
		if (a < 0)
			return -1;
		if ((uint64_t)a >= hi) {
			*holes = true;
			break;
		}
		if ((uint64_t)a > lo)
			*holes = true;
		off_t b = fams_raw_lseek(f->memfd, a, SEEK_HOLE);
		if (b < 0)
			return -1;
		/* In whole pages: the last hole begins at the size, which need not be
		 * page aligned, and the kernel protects only whole pages. */
		uint64_t s = (uint64_t)a & ~(uint64_t)(fams_page_size - 1), e = fams_page_round((uint64_t)b);
		if (e > hi)
			e = hi;
		if (fn(ctx, s, e) < 0)
			return -1;
		lo = e;
	}
	errno = saved;
	return 0;
}

/* The asynchronous tracker protects only where the working copy holds pages: a
 * hole of it was never written (a store allocates its page; fams's own changes
 * that leave a hole -- a punched hole, a shrink -- mark their pages dirty), so the
 * page tables and the cost of a mapping follow the pages the file holds and the
 * program touches, not the size mapped.  The kernel reads every page without a
 * marker as written: the pages written since the last scan, and the holes never
 * protected.  A harvest therefore scans -- reads and protects again -- only where
 * the working copy holds pages: in a sparse file it finds them with SEEK_DATA and
 * SEEK_HOLE; else it first asks which runs read as written (protecting nothing),
 * then scans the short ones, and of the long ones what the working copy holds
 * (on_candidate).  A page written and then unmapped by reclaim (its pte none, no
 * marker) still belongs to the working copy: it is scanned, and read as written.
 * The synchronous tracker learns of a store only by its fault: it protects
 * everything. */
bool mapscan_holes_untracked(void) { return fams_tracker_kind == FAMS_TRACKER_UFFD; }

/* A run read as written this short is taken whole (written pages, or a few holes
 * beside them: each costs one marker and, never protected, one page compared
 * once); a longer one is mostly holes never protected -- the rest of a page table
 * a store into a new 2 MiB brought in reads as written -- of which only what the
 * working copy holds is taken for written.  (Taking runs of up to a page table's
 * 512 pages whole planned 113,755 pages for 1,000 touched in a 1 GiB mapping.) */
#define SHORT_RUN ((uint64_t)fams_page_size * 16)

/* What one page table reaches (2 MiB of 4 KiB pages). */
#define TABLE_REACH ((uint64_t)fams_page_size * 512)

#define FEW_SHORT 16 /* short runs scanned one by one; more: their stretch in one call */

/* One range of a mapping to scan through pagemap. */
struct scan_range {
	struct scan *c;
	int pagemap;
	uint64_t done;  /* file offset up to which candidates were dealt with */
	uint64_t short_runs[FEW_SHORT][2]; /* short runs read as written since done */
	int nshort;     /* how many; FEW_SHORT + 1: too many to keep */
	int longs;      /* long runs read as written with holes in them: unprotected */
	int err;        /* the first failure of a scan made from on_candidate */
};

static int scan_run(void *ctx, uint64_t a, uint64_t b)
{
	const struct scan_range *r = ctx;
	const struct scan *c = r->c;
	return a < b ? fams_scan_written(r->pagemap, (uintptr_t)(c->start + (a - c->off)), b - a, !c->leave_open,
					 on_written, r->c)
		     : 0;
}

/* The mapped runs of a range, found before it is scanned (scan_held). */
struct mapped_runs {
	uintptr_t (*v)[2];
	size_t n, cap, next; /* next: the first run a written run may still meet */
	bool lost;           /* out of memory: take every written run whole */
};

static void on_mapped(void *ctx, uintptr_t s, uintptr_t e)
{
	struct mapped_runs *m = ctx;
	if (m->lost)
		return;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		void *v = realloc(m->v, cap * sizeof *m->v);
		if (!v) {
			m->lost = true;
			return;
		}
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n][0] = s;
	m->v[m->n][1] = e;
	m->n++;
}

/* A scan of a range whose holes may read as written: its scan and mapped runs. */
struct held_scan {
	const struct scan *c;
	struct mapped_runs mapped;
};

/* What the working copy holds of the unmapped run [s, e) is taken for written: it
 * is holes never protected -- a hole cannot have been written: a store allocates
 * its page; it read as written for want of a marker, which the scan has just
 * installed -- or pages written and then unmapped (reclaim, MADV_DONTNEED), which
 * the working copy holds: SEEK_DATA tells them apart.  Where it cannot, all of it. */
static void unmapped_written(const struct scan *c, uintptr_t s, uintptr_t e)
{
	bool holes;
	if (s < e && each_allocated(c->f, c->off + (s - c->start), c->off + (e - c->start), mark_written, (void *)c,
				    &holes) < 0)
		on_written((void *)c, s, e);
}

/* A run [s, e) read as written: its mapped parts are taken whole, SEEK_DATA decides
 * for the rest (unmapped_written).  Runs come in address order, as the mapped
 * runs were found. */
static void on_written_held(void *ctx, uintptr_t s, uintptr_t e)
{
	struct held_scan *h = ctx;
	struct mapped_runs *m = &h->mapped;
	if (m->lost) {
		on_written((void *)h->c, s, e);
		return;
	}
	while (m->next < m->n && m->v[m->next][1] <= s)
		m->next++;
	uintptr_t at = s;
	for (size_t k = m->next; k < m->n && m->v[k][0] < e && at < e; k++) {
		uintptr_t ms = m->v[k][0] > at ? m->v[k][0] : at, me = m->v[k][1] < e ? m->v[k][1] : e;
		if (ms >= me)
			continue;
		unmapped_written(h->c, at, ms);
		on_written((void *)h->c, ms, me);
		at = me;
	}
	unmapped_written(h->c, at, e);
}

/* Scan [a, b) (file offsets) whole -- every page protected, holes given markers,
 * so that they read as not written from now on -- taking for written what is
 * mapped of the runs read as written, and what the working copy holds of the
 * rest.  Which pages are mapped is asked first, protecting nothing: once
 * protected, a hole's marker would read as mapped.  (Asked in the same call as the
 * written pages, the kernel leaves its fast path, and Linux 6.12 reports no page
 * without an entry: a page written and then unmapped by reclaim was lost.)  A page
 * that changes between the two calls is taken whole, or found by SEEK_DATA. */
static int scan_held(const struct scan_range *r, uint64_t a, uint64_t b)
{
	const struct scan *c = r->c;
	if (a >= b)
		return 0;
	uintptr_t s = (uintptr_t)(c->start + (a - c->off));
	struct held_scan h = { .c = c };
	int rc = fams_scan_mapped(r->pagemap, s, b - a, on_mapped, &h.mapped);
	if (rc == 0)
		rc = fams_scan_written(r->pagemap, s, b - a, !c->leave_open, on_written_held, &h);
	free(h.mapped.v);
	return rc;
}

/* Scan the short runs read as written in [r->done, to): one by one when they are
 * few, else the stretch in one call, taking for written only what the working
 * copy holds of it (what else it holds is protected, or holes that read as
 * written for want of a marker: a stretch of those taken whole planned 151,015
 * pages for 1,000 touched in a 1 GiB mapping, a commit that ran out of memory). */
static int scan_short_runs(struct scan_range *r, uint64_t to)
{
	int rc = 0;
	if (r->nshort > FEW_SHORT) {
		rc = scan_held(r, r->done, to);
	} else {
		for (int i = 0; i < r->nshort && rc == 0; i++)
			rc = scan_run(r, r->short_runs[i][0], r->short_runs[i][1]);
	}
	r->nshort = 0;
	r->done = to;
	return rc;
}

/* A run that reads as written.  A short one (SHORT_RUN) is kept to be scanned with
 * the others before the next longer one.  One inside a page table is scanned whole
 * (its holes protected from now on), taking only what the working copy holds for
 * written; a longer one (whole page tables never protected) is scanned only where
 * the working copy holds pages, found with SEEK_DATA/SEEK_HOLE. */
static void on_candidate(void *ctx, uintptr_t s, uintptr_t e)
{
	struct scan_range *r = ctx;
	const struct scan *c = r->c;
	uint64_t a = c->off + (s - c->start), b = c->off + (e - c->start);
	if (r->err)
		return;
	if (b - a <= SHORT_RUN) {
		if (r->nshort < FEW_SHORT) {
			r->short_runs[r->nshort][0] = a;
			r->short_runs[r->nshort][1] = b;
		}
		if (r->nshort <= FEW_SHORT)
			r->nshort++;
		return;
	}
	if (scan_short_runs(r, a) < 0) {
		r->err = errno ? errno : EIO;
		return;
	}
	if (b - a < TABLE_REACH) {
		/* Inside a page table that exists: its holes get markers, no table more. */
		if (scan_held(r, a, b) < 0)
			r->err = errno ? errno : EIO;
		r->done = b;
		return;
	}
	bool holes = false;
	if (each_allocated(c->f, a, b, scan_run, r, &holes) < 0)
		r->err = errno ? errno : EIO;
	r->longs += holes; /* a long run the program wrote whole leaves no hole open */
	r->done = b;
}

/* Scan the part of a mapping (start, off: where it begins) that shows the file
 * range [lo, hi), clipped to the file, with pagemap (-1: this process).  With
 * *holes_open (the asynchronous tracker, or another process's mapping), it may
 * show unprotected holes: candidates first (on_candidate), and *holes_open is
 * cleared when the whole mapping was scanned and showed none (the short ones were
 * protected with their stretch); else it is scanned in one call.  A range the scan
 * could not read becomes suspect.  0, or -1 with the scan's errno. */
int mapscan_part(struct fams_file *f, int pagemap, uint64_t start, uint64_t end, uint64_t off,
		     uint64_t protected_end, uint64_t lo, uint64_t hi, bool leave_open, bool *holes_open)
{
	uint64_t file_end = fams_page_round(f->sh->size), mhi = off + (end - start);
	if (hi > file_end)
		hi = file_end;
	if (lo < off)
		lo = off;
	if (hi > mhi)
		hi = mhi;
	if (lo >= hi)
		return 0;
	struct scan c = { f, start, off, protected_end, leave_open };
	struct scan_range r = { .c = &c, .pagemap = pagemap, .done = lo };
	int rc;
	struct stat wc;
	if (*holes_open && fams_raw_fstat(f->memfd, &wc) == 0 && (uint64_t)wc.st_blocks * 512 * 512 < hi - lo) {
		/* Sparse: the working copy holds under 1/512 of the range.  Finding its
		 * runs (~1.4 us each here) then costs less than the candidates scan's walk
		 * of the page tables (~3 ns a page in each 2 MiB touched, ~25 ns for each
		 * 2 MiB never touched in each GiB touched at all). */
		bool holes;
		rc = each_allocated(f, lo, hi, scan_run, &r, &holes);
	} else if (*holes_open) {
		rc = fams_scan_candidates(pagemap, (uintptr_t)(start + (lo - off)), hi - lo, on_candidate, &r);
		if (rc == 0 && !r.err && scan_short_runs(&r, hi) < 0)
			r.err = errno ? errno : EIO;
		if (rc == 0 && r.err) {
			errno = r.err;
			rc = -1;
		}
		if (rc == 0 && r.longs == 0 && !leave_open && lo == off && (hi == mhi || hi == file_end))
			*holes_open = false;
	} else {
		rc = scan_run(&r, lo, hi);
	}
	if (rc == 0)
		return 0;
	int saved = errno;
	bits_mark_bytes(f->suspect, lo, hi - lo);
	errno = saved;
	return -1;
}

/* Protect the file range [lo, hi) (page aligned) of m where the working copy holds
 * pages, a page table's reach at a time: holes inside a reach that holds a page
 * are protected with it, holes beyond are left alone (mapscan_holes_untracked). */
int mapscan_protect(struct fams_map *m, uint64_t lo, uint64_t hi)
{
	uint64_t pos = lo, run_s = 0, run_e = 0;
	while (pos < hi) {
		off_t d = fams_raw_lseek(m->f->memfd, (off_t)pos, SEEK_DATA);
		if (d < 0 && errno == ENXIO)
			break; /* no page from pos on */
		if (d < 0)
			return -1;
		if ((uint64_t)d >= hi)
			break;
		/* The reach around d, in the address space (where page tables are). */
		uintptr_t at = m->start + (uintptr_t)((uint64_t)d - m->off);
		uintptr_t table = at & ~(uintptr_t)(TABLE_REACH - 1);
		uint64_t s = table > m->start ? m->off + (table - m->start) : m->off;
		uint64_t e = s + TABLE_REACH - (table > m->start ? 0 : m->start - table);
		if (s < lo)
			s = lo;
		if (e > hi)
			e = hi;
		if (s != run_e) {
			if (run_e > run_s && fams_protect_range((void *)(m->start + (uintptr_t)(run_s - m->off)), run_e - run_s) < 0)
				return -1;
			run_s = s;
		}
		run_e = e;
		pos = e;
	}
	if (run_e > run_s && fams_protect_range((void *)(m->start + (uintptr_t)(run_s - m->off)), run_e - run_s) < 0)
		return -1;
	return 0;
}
