/* commit.c -- the commit protocol of a managed file, and the ordering rules of its
 * size changes: the one home of what must be durable before what.
 *
 *   1. Collect the dirty pages of the range and copy their new contents out of the
 *      working copy into one private buffer: other threads may keep writing, so
 *      the bytes hashed, journaled and written are all taken from this copy.
 *   2. Write the journal: body (extent table + the data file's current bytes for
 *      each extent) and header (identity, size, hashes, new_hash per extent).
 *   3. FLUSH THE JOURNAL.  Rule: no byte of the data file changes until the journal
 *      holding its old contents is durable.  A crash before this flush completes
 *      leaves a journal that fails validation, and an untouched data file.
 *   4. Write the new bytes into the data file.
 *   5. FLUSH THE DATA FILE.  Only now is the commit reported successful.
 *
 * Two flushes per commit, none when nothing is dirty.  The journal is not
 * invalidated after step 5: recovery sees that every extent hashes to new_hash and
 * leaves the data alone.  The journal on disk therefore stays live until the next
 * commit overwrites it, which makes one more rule necessary: the data file must not
 * shrink below a range the live journal names, or recovery would mistake the
 * truncated commit for an interrupted one; fams_file_resize invalidates the journal
 * durably first in that case (a shrink that cuts committed data, not the commit
 * path), and a size change made durable after a commit retires it too
 * (fams_file_flush_if_needed), since recovery gives a finished commit the size its
 * journal recorded.
 *
 * Across processes (docs/sharing.md): the commit lock (commitlock.h) is held for
 * the whole commit and for every size change, by whichever process commits.  The
 * pages committed are every member's: collecting them (dirty_collect) happens
 * under the lock, with sh->harvesting set while written pages are moved from page
 * tables into the bitmaps.  Dirty bits are cleared only after step 5, so a
 * committer killed at any step leaves them set, and the next holder of the lock
 * repairs first (commitlock.c).
 */
#include "commit.h"
#include "commitlock.h"
#include "config.h"
#include "dirty.h"
#include "log.h"
#include "member.h"
#include "pagebits.h"
#include "recover.h"
#include "sys.h"
#include "tracker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct extent {
	uint64_t off, len;
};

/* Compare suspect pages (all pages, with the compare tracker) of [first, last)
 * with the data file; the ones that differ become dirty. */
static int compare_pages(struct fams_file *f, uint64_t first, uint64_t last, bool all)
{
	const size_t pg = (size_t)fams_page_size, per = FAMS_IO_CHUNK / pg;
	char *a = NULL, *b = NULL;
	int ret = -1;
	uint64_t p = first;
	while (p < last) {
		if (!all) {
			p = bits_next(f->suspect, p, last);
			if (p >= last)
				break;
		}
		uint64_t n = last - p < per ? last - p : per;
		if (!all) { /* stop the batch at the first non-suspect page */
			uint64_t q = p;
			while (q < p + n && bit_test(f->suspect, q))
				q++;
			n = q - p;
		}
		if (!a && (!(a = malloc(FAMS_IO_CHUNK)) || !(b = malloc(FAMS_IO_CHUNK))))
			goto out;
		uint64_t off = p * pg, len = n * pg;
		if (off + len > f->sh->size)
			len = f->sh->size - off;
		ssize_t ra = fams_raw_pread(f->memfd, a, (size_t)len, (off_t)off);
		ssize_t rb = fams_pread_full(f->data_fd, b, (size_t)len, (off_t)off);
		if (ra < 0 || rb < 0)
			goto out;
		for (uint64_t i = 0; i < n; i++) {
			uint64_t o = i * pg, l = o + pg > len ? len - o : pg;
			bool differs = (uint64_t)rb < o + l || memcmp(a + o, b + o, (size_t)l) != 0;
			if (differs)
				f->dirty[(p + i) / 64] |= 1ull << ((p + i) % 64);
			f->suspect[(p + i) / 64] &= ~(1ull << ((p + i) % 64));
		}
		p += n;
	}
	ret = 0;
out:
	free(a);
	free(b);
	return ret;
}

/* Undo a commit whose data writes began: restore the old bytes from our journal. */
static int rollback_in_place(struct fams_file *f)
{
	int outcome;
	if (fams_recover_locked(f->j.fd, f->data_fd, &f->id, f->path, FAMS_REC_FORCE_ROLLBACK, &outcome) < 0)
		return -1;
	f->sh->needs_rollback = false;
	return 0;
}

static int write_new_bytes(struct fams_file *f, const struct extent *ext, size_t n, const char *newbuf)
{
	uint64_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		if (fams_pwrite_full(f->data_fd, newbuf + pos, (size_t)ext[i].len, (off_t)ext[i].off) < 0)
			return -1;
		pos += ext[i].len;
	}
	return 0;
}

static int commit_locked(struct fams_file *f, uint64_t lo, uint64_t hi);

int fams_file_commit(struct fams_file *f, uint64_t lo, uint64_t hi)
{
	if (fams_commit_lock(f) < 0)
		return -1;
	dirty_collect(f, lo, hi);
	int r = commit_locked(f, lo, hi);
	fams_commit_unlock(f);
	return r;
}

/* The commit, with the commit lock held and the written pages collected. */
static int commit_locked(struct fams_file *f, uint64_t lo, uint64_t hi)
{
	const uint64_t pg = (uint64_t)fams_page_size;
	struct extent *ext = NULL;
	struct fams_jextent *jext = NULL;
	char *newbuf = NULL, *chunk = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	int saved = 0;

	if (f->sh->needs_rollback && rollback_in_place(f) < 0)
		return -1;

	/* Never write past the data file's current end, never regrow it. */
	struct stat st;
	if (fams_raw_fstat(f->data_fd, &st) < 0)
		return -1;
	uint64_t size = f->sh->size < (uint64_t)st.st_size ? f->sh->size : (uint64_t)st.st_size;
	if (hi > size)
		hi = size;
	if (lo >= hi)
		return 0;
	uint64_t first = page_of(lo), last = pages_for(hi);

	if (compare_pages(f, first, last, fams_tracker_kind == FAMS_TRACKER_COMPARE) < 0)
		return -1;

	for (uint64_t p = bits_next(f->dirty, first, last); p < last;) {
		uint64_t q = p;
		while (q < last && bit_test(f->dirty, q))
			q++;
		uint64_t off = p * pg, end = q * pg > size ? size : q * pg;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			struct extent *e = realloc(ext, cap * sizeof *e);
			if (!e)
				goto nomem;
			ext = e;
		}
		ext[n++] = (struct extent){ off, end - off };
		total += end - off;
		p = bits_next(f->dirty, q, last);
	}
	if (n == 0)
		return 0;
	if (fams_test_break == FAMS_BREAK_CLEAR_EARLY)
		for (size_t i = 0; i < n; i++)
			bits_set(f->dirty, page_of(ext[i].off), pages_for(ext[i].off + ext[i].len), false);

	size_t table = n * sizeof *jext;
	uint64_t journal_bytes = FAMS_JOURNAL_BODY_OFFSET + table + total;
	if (f->j.fd >= 0 && fams_journal_reserve(&f->j, journal_bytes) < 0) {
		saved = errno;
		if (saved == ENOSPC && journal_bytes > fams_cfg.journal_max)
			fams_error("%s: commit of %llu bytes needs a %llu-byte journal, over FAMS_JOURNAL_MAX=%llu; "
				   "nothing was written, the changes stay in memory",
				   f->path, (unsigned long long)total, (unsigned long long)journal_bytes,
				   (unsigned long long)fams_cfg.journal_max);
		else
			fams_error("%s: cannot grow the journal to %llu bytes: %s; nothing was written",
				   f->path, (unsigned long long)journal_bytes, strerror(saved));
		goto fail;
	}

	/* Step 1: one stable copy of the new bytes. */
	jext = calloc(n, sizeof *jext);
	newbuf = malloc(total);
	chunk = malloc(FAMS_IO_CHUNK);
	if (!jext || !newbuf || !chunk)
		goto nomem;
	uint64_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		ssize_t r = fams_raw_pread(f->memfd, newbuf + pos, (size_t)ext[i].len, (off_t)ext[i].off);
		if (r < 0)
			goto fail_errno;
		if ((uint64_t)r < ext[i].len) /* working copy shrank under us: zeros */
			memset(newbuf + pos + r, 0, (size_t)(ext[i].len - (uint64_t)r));
		jext[i] = (struct fams_jextent){ ext[i].off, ext[i].len, fams_jextent_hash(newbuf + pos, ext[i].len), 0 };
		pos += ext[i].len;
	}

	if (fams_test_break == FAMS_BREAK_DATA_FIRST && write_new_bytes(f, ext, n, newbuf) < 0)
		goto data_failed;
	if (f->j.fd >= 0) {
		/* Step 2: journal body, then header; all before the one journal flush. */
		int64_t jbytes = fams_jwrite(f->j.fd, f->data_fd, ++f->j.st->seq, &f->id, size, jext, n, chunk);
		int werr = jbytes < 0 ? -1 : 0;
		/* The journal on disk may now name these ranges, whatever happens next. */
		uint64_t ext_end = ext[n - 1].off + ext[n - 1].len;
		if (ext_end > f->j.st->live_end)
			f->j.st->live_end = ext_end;
		if (werr == 0)
			__atomic_add_fetch(&fams_stats.journal_bytes, (uint64_t)jbytes, __ATOMIC_RELAXED);
		/* Step 3: the journal is durable before any data byte changes. */
		if (werr < 0 || (fams_test_break != FAMS_BREAK_NO_JOURNAL_FLUSH && fams_flush(f->j.fd) < 0)) {
			saved = errno;
			fams_error("%s: writing the journal failed: %s; nothing was written to the file, "
				   "the changes stay in memory", f->path, strerror(saved));
			goto fail;
		}
	}

	/* Step 4: the new bytes, from the stable copy. */
	if (fams_test_break != FAMS_BREAK_DATA_FIRST && write_new_bytes(f, ext, n, newbuf) < 0)
		goto data_failed;
	/* Step 5: durable; only now does the commit succeed.  An unlinked file cannot
	 * be seen after a crash, so it needs neither journal nor flush.  The next
	 * commit overwrites this journal: it may do so only once these bytes are
	 * durable, which this flush guarantees before we return. */
	if (!f->unlinked && fams_test_break != FAMS_BREAK_NO_DATA_FLUSH && fams_flush(f->data_fd) < 0)
		goto data_failed;

	for (size_t i = 0; i < n; i++)
		bits_set(f->dirty, page_of(ext[i].off), pages_for(ext[i].off + ext[i].len), false);
	f->sh->needs_flush = false;
	__atomic_add_fetch(&fams_stats.commits, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&fams_stats.committed_bytes, total, __ATOMIC_RELAXED);
	fams_debug("commit %s: %zu extents, %llu bytes", f->path, n, (unsigned long long)total);
	free(ext);
	free(jext);
	free(newbuf);
	free(chunk);
	return 0;

data_failed:
	saved = errno;
	if (f->j.fd >= 0) {
		/* The data file may be half written: put the old bytes back now, or leave
		 * the (durable) journal for the next commit or open to roll back. */
		f->sh->needs_rollback = true;
		if (rollback_in_place(f) == 0)
			fams_error("%s: writing the file failed: %s; rolled back to the last commit, "
				   "the changes stay in memory", f->path, strerror(saved));
		else
			fams_error("%s: writing the file failed: %s, and so did the rollback; the journal "
				   "is kept and recovery will run before the next commit or open",
				   f->path, strerror(saved));
	} else {
		fams_error("%s: writing the file failed: %s", f->path, strerror(saved));
	}
	goto fail;
nomem:
	saved = ENOMEM;
	fams_error("%s: out of memory for a commit", f->path);
	goto fail;
fail_errno:
	saved = errno;
fail:
	free(ext);
	free(jext);
	free(newbuf);
	free(chunk);
	errno = saved;
	return -1;
}

int fams_file_resize(struct fams_file *f, uint64_t new_size)
{
	struct fams_shared *sh = f->sh;
	/* A shrink below a range the live journal names would make a finished commit
	 * look interrupted after a crash: retire the journal durably first. */
	if (new_size < f->j.st->live_end && fams_journal_invalidate(&f->j) < 0) {
		fams_error("%s: cannot retire the journal before truncating: %s", f->path, strerror(errno));
		return -1;
	}
	if (fams_file_fits(f, new_size) < 0)
		return -1;
	/* Rule: pages a growth brings inside are write-protected before they exist; a
	 * page protected after the working copy grew could be written in between and
	 * never be recorded (lost at every later commit). */
	if (new_size > sh->size)
		dirty_protect_grown(f, sh->size, new_size);
	/* The data file first, then the working copy: a repair (commitlock.c) finishes
	 * a change its maker died in by making the working copy follow the data file. */
	if (fams_truncate(f->data_fd, (off_t)new_size) < 0)
		return -1;
	if (fams_raw_ftruncate(f->memfd, (off_t)new_size) < 0) {
		int saved = errno;
		fams_truncate(f->data_fd, (off_t)sh->size);
		errno = saved;
		return -1;
	}
	if (new_size < sh->size) {
		/* Pages past the end are gone, as they are from a shrunk file; a partial last
		 * page keeps its state.  No member's protection reaches past the end now
		 * (truncation drops it): pages a later growth brings back are compared
		 * until each member protects them (dirty.c). */
		uint64_t from = pages_for(new_size), to = pages_for(sh->size);
		bits_set(f->dirty, from, to, false);
		bits_set(f->suspect, from, to, false);
		for (int i = 0; i < FAMS_MAX_MEMBERS; i++)
			if (sh->members[i].protected_end > new_size)
				sh->members[i].protected_end = new_size;
	}
	/* This process's mappings are protected up to the new size (above). */
	if (f->me >= 0 && sh->members[f->me].protected_end == sh->size && new_size > sh->size)
		sh->members[f->me].protected_end = new_size;
	sh->size = new_size;
	sh->needs_flush = true;
	return 0;
}

int fams_file_flush_if_needed(struct fams_file *f)
{
	if (fams_commit_lock(f) < 0)
		return -1;
	int r = 0;
	if (f->sh->needs_flush && !f->unlinked) {
		/* Recovery gives a completed commit the size its journal recorded; a size
		 * made durable since must not be undone by it, so retire the journal first. */
		r = fams_journal_invalidate(&f->j) < 0 || fams_flush(f->data_fd) < 0 ? -1 : 0;
		if (r == 0)
			f->sh->needs_flush = false;
	}
	fams_commit_unlock(f);
	return r;
}

int fams_file_before_truncate(struct fams_file *f)
{
	if (fams_commit_lock(f) < 0)
		return -1;
	/* The kernel truncates the data file outside the commit lock: with other
	 * processes using the file, one could commit in between (and a power cut then
	 * undo what it acknowledged), or the size could part from theirs for good. */
	if (member_others(f)) {
		fams_commit_unlock(f);
		fams_error("%s: open with O_TRUNC refused (EBUSY): other processes share this file, and the "
			   "kernel would truncate it under them (ftruncate after open works)", f->path);
		errno = EBUSY;
		return -1;
	}
	int r = fams_journal_invalidate(&f->j);
	fams_commit_unlock(f);
	return r;
}
