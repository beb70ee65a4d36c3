/* commit.c -- the commit protocol of a managed file, and its size changes: the one
 * home of what must be durable before what.
 *
 * A program's size changes (ftruncate, a write past the end, fallocate) change the
 * working copy only; the data file takes the size at the next commit, with the
 * pages, in one atomic step: from its size now (O) to the working copy's (N).
 *
 *   1. Collect the dirty pages of the range and copy their new contents out of the
 *      working copy into one private buffer: other threads may keep writing, so
 *      the bytes hashed, journaled and written are all taken from this copy.  Keep
 *      the ranges that differ from the data file (commitplan.c): only those are
 *      journaled and written.
 *   2. Write the journal: body (extent table + the data file's current bytes for
 *      each range below O, and for what a shrink cuts off) and header (identity,
 *      O and N, hashes, new_hash per range).
 *   3. FLUSH THE JOURNAL, and at its first commit sync its directory.  Rule: no
 *      byte or size of the data file changes until the journal holding its old
 *      contents is durable, name and all.  A crash before this completes leaves a
 *      journal that fails validation (or none), and an untouched data file.
 *   4. Set the size N and write the new bytes into the data file.  Rule: the data
 *      file has the size O or N, nothing between, until the commit ends -- recovery
 *      tells a finished commit by its size (recover.c) -- so a growth is made in
 *      one step before the first byte (a write past the end would grow the file a
 *      piece at a time), a shrink in one step after the last.
 *   5. FLUSH THE DATA FILE.  Only now is the commit reported successful.
 *
 * A small commit takes the redo log instead (redolog.h; FAMS_COMMIT_LOG=undo turns
 * it off): one flush, of the journal, and the data file flushed once for many
 * commits (commit_redo):
 *
 *   R0. A log begins only from a data file the disk holds as the page cache does
 *       (flushed: data_durable), or from one holding no data at all (every byte a
 *       hole or never written: a file just made and sized, with ftruncate or
 *       fallocate, or truncated), whose log says so and whose replay cuts the
 *       file to nothing before its first record.  Rule: what the disk may hold
 *       of the file's unflushed past never shows through a replay of a record
 *       that checks (with none, nothing is replayed and the file is as the
 *       kernel left it: its state before the commit in flight).
 *       So a new file's first commit needs no flush of the data file.  The cut
 *       also takes what a process not under fams wrote to the file during that
 *       first log, if a crash comes before its checkpoint (README: not shared).
 *   R1. Append a record of the commit -- its new size and the new bytes of every
 *       changed range -- to the journal's log (the first record of an epoch goes
 *       with the epoch's header), and FLUSH THE JOURNAL (its name too, as 3).
 *       Rule: no byte or size of the data file changes until its record is
 *       durable: recovery applies the log's records that check and nothing else.
 *   R2. Apply the record to the data file, as step 4, unflushed: the commit has
 *       succeeded.  Replaying the log's records in order after a crash rewrites
 *       whatever part of them the disk lost.
 *   R3. CHECKPOINT (checkpoint()) before a record could be overwritten
 *       -- the log is full, an undo commit is next, the journal goes away: flush
 *       the data file, then retire the journal (a header of zeros, flushed).
 *       Rules: the records may stop being replayed only once the data file holds
 *       their bytes durably; and they may be overwritten only once the header
 *       durably names no epoch -- a new record written over an old epoch still
 *       named could leave its first records checking and a later one torn, and
 *       replaying that prefix would put older bytes back.
 * Every change of the data file made while a log is live goes through it (a size
 * change alone is a record of no ranges: only_size_changes), so the log replayed
 * in order over any mix of its commits' bytes ends at the last one.
 *
 * Undo: two flushes per commit (three at a journal's first: its directory), none when
 * nothing changed, one when only the size did (only_size_changes).  The journal
 * is not invalidated after step 5: recovery sees the size N and every extent
 * hashing to new_hash, and leaves the data alone.  The
 * journal on disk therefore stays live until the next commit overwrites it, which
 * is why a size change alone may skip the journal only for a size that is neither
 * of the live journal's two (recovery reads any other size as made after it).
 *
 * Across processes (docs/sharing.md): the commit lock (commitlock.h) is held for
 * the whole commit and for every size change, by whichever process commits.  The
 * pages committed are every member's: collecting them (dirty_collect) happens
 * under the lock (held by this process's commit thread for an MS_ASYNC snapshot
 * taken beside its commit, asynccommit.c), with sh->harvesting set while written pages are moved from page
 * tables into the bitmaps.  Dirty bits are cleared only after step 5, so a
 * committer killed at any step leaves them set, and the next holder of the lock
 * repairs first (commitlock.c).
 */
#include "commit.h"
#include "commitlock.h"
#include "commitplan.h"
#include "config.h"
#include "dirty.h"
#include "log.h"
#include "member.h"
#include "pagebits.h"
#include "recover.h"
#include "redolog.h"
#include "trackswitch.h"
#include "report.h"
#include "sys.h"
#include "tracker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Undo a commit whose data writes began: restore the old bytes from our journal. */
static int rollback_in_place(struct fams_file *f)
{
	int outcome;
	if (fams_recover_locked(f->j.fd, f->data_fd, &f->id, f->path, FAMS_REC_FORCE_ROLLBACK, &outcome) < 0)
		return -1;
	f->sh->needs_rollback = false;
	return 0;
}

/* The buffers of a commit stay for the next one (commitplan.c), but not a huge
 * one's, nor a failed one's (the program may never retry it). */
static void trim_plan_buffer(struct fams_file *f, bool failed)
{
	if (failed || f->plan_cap > (64u << 20)) {
		free(f->plan_buf);
		f->plan_buf = NULL;
		f->plan_cap = 0;
	}
	if (failed) {
		free(f->jchunk);
		f->jchunk = NULL;
	}
}

/* Whether the data file may take `size` with no journal (one flush): a size change
 * alone is atomic in the file system, and recovery reads a size other than the
 * live journal's two as one made after its commit (recover.c, rule 3) -- so never
 * one of those two, and never while what the journal holds is unknown. */
static bool only_size_changes(const struct fams_file *f, uint64_t size)
{
	const struct fams_jcounters *c = f->j.st;
	if (fams_test_break == FAMS_BREAK_SIZE_ALONE_ANY)
		return true;
	/* A live redo log is replayed over the data file after a crash, and would put
	 * its last record's size back over one made without it. */
	return f->j.fd < 0 || c->live == FAMS_JLIVE_NONE ||
	       (c->live == FAMS_JLIVE_SIZES && size != c->live_old && size != c->live_new);
}

static int write_new_bytes(struct fams_file *f, const struct commit_plan *pl)
{
	for (size_t i = 0; i < pl->written; i++)
		if (fams_pwrite_full(f->data_fd, pl->newb[i], (size_t)pl->ext[i].len, (off_t)pl->ext[i].off) < 0)
			return -1;
	return 0;
}

/* Step 4: the size and the new bytes, in the order that keeps the data file at
 * old_size or new_size throughout (rule 4 above). */
static int apply(struct fams_file *f, const struct commit_plan *pl, struct fams_jsizes sz)
{
	bool grow_first = sz.new_size > sz.old_size && fams_test_break != FAMS_BREAK_GROW_LATE;
	if (grow_first && fams_truncate(f->data_fd, (off_t)sz.new_size) < 0)
		return -1;
	if (write_new_bytes(f, pl) < 0)
		return -1;
	if (!grow_first && sz.new_size != sz.old_size && fams_truncate(f->data_fd, (off_t)sz.new_size) < 0)
		return -1;
	return 0;
}

/* Write and flush the journal of the plan (steps 2 and 3).  What the journal on
 * disk holds is unknown from the first byte written until the flush returns. */
static int write_journal(struct fams_file *f, const struct commit_plan *pl, struct fams_jsizes sz)
{
	struct fams_jcounters *c = f->j.st;
	c->live = FAMS_JLIVE_UNKNOWN;
	c->disk &= ~FAMS_JDISK_HOLDS_NOTHING; /* its removal must be durable from now on */
	int64_t jbytes = fams_jwrite(f->j.fd, f->j.direct_fd, f->data_fd, ++c->seq, &f->id, sz, pl->ext, pl->undo, pl->n,
				     f->jchunk, &f->j.direct_ok);
	if (jbytes < 0)
		return -1;
	__atomic_add_fetch(&fams_stats.journal_bytes, (uint64_t)jbytes, __ATOMIC_RELAXED);
	if (fams_test_break != FAMS_BREAK_NO_JOURNAL_FLUSH && fams_flush(f->j.fd) < 0)
		return -1;
	/* Rule (step 3): the journal's name is durable too before any data byte
	 * changes -- a journal whose directory entry a power cut loses undoes
	 * nothing.  Once per journal file: made without a directory sync, it costs
	 * a file mapped and never changed no flush at all. */
	if (fams_test_break != FAMS_BREAK_NAME_UNSYNCED && fams_journal_sync_name(&f->j) < 0)
		return -1;
	c->live = FAMS_JLIVE_SIZES;
	c->live_old = sz.old_size;
	c->live_new = sz.new_size;
	return 0;
}

uint64_t fams_redo_room = 1u << 20;

/* Whether the data file holds no byte in the page cache (every byte a hole or
 * never written: made and sized, or truncated, and not written since), so that a
 * log may begin from it as from an empty file (R0). */
static bool holds_no_data(const struct fams_file *f)
{
	if (fams_test_break == FAMS_BREAK_EMPTY_OVER_DATA)
		return true;
	/* SEEK_DATA reports bytes still only in the page cache as data on the local
	 * file systems (ext4, xfs, btrfs, tmpfs; not FUSE with its writeback cache,
	 * whose working copy fill_working_copy trusts it for too); where it is not
	 * supported, or data_fd is not ours to seek, the answer is no. */
	int saved = errno;
	bool none = fams_file_seek_data(f, 0, SEEK_DATA) < 0 && errno == ENXIO;
	errno = saved;
	return none;
}

/* R0: whether a log may go on or begin from the data file as it is -- a log holds
 * only what differs from the data file as the page cache has it, and replayed over
 * a disk that lacks other changes (writes made before the file was managed, the
 * kernel's O_TRUNC) it would leave a mix.  So a log goes on from a live one, or
 * begins from a data file known durable -- after a checkpoint or an undo commit
 * (whose data flush makes it so) -- or from one that holds no data (its replay
 * cuts the file to nothing first: redolog.h).  Asked before the commit reads the
 * data file: reading pages over extents allocated and never written (a file sized
 * with fallocate, as gold sizes its output) brings them into the page cache, where
 * SEEK_DATA then finds data.  False with FAMS_COMMIT_LOG=undo (no log at all). */
static bool log_base_known(const struct fams_file *f)
{
	const struct fams_jcounters *c = f->j.st;
	return f->j.fd >= 0 && fams_cfg.commit_log == FAMS_COMMIT_REDO &&
	       (c->live == FAMS_JLIVE_REDO || c->redo_epoch || f->sh->data_durable ||
		fams_test_break == FAMS_BREAK_DATA_UNDURABLE || holds_no_data(f));
}

/* Whether the commit of pl goes to the redo log: where a log may go on or begin
 * (base_known: log_base_known, asked before the commit read the data file; never
 * with FAMS_COMMIT_LOG=undo), when the journal may grow to hold its record in an
 * empty log (one that may not is an undo commit, which holds only the old bytes
 * below the old size). */
static bool redo_fits(const struct commit_plan *pl, bool base_known)
{
	return base_known && FAMS_JOURNAL_BODY_OFFSET + fams_jrecord_span(pl->written, pl->new_bytes) <= fams_cfg.journal_max;
}

/* Make the commits in f's redo log durable in the data file, then retire the
 * journal (R3); nothing when no log is live.  0, or -1 with errno. */
static int checkpoint(struct fams_file *f)
{
	struct fams_jcounters *c = f->j.st;
	if (f->j.fd < 0 || c->redo_epoch == 0)
		return 0;
	/* Rule R3: the data file holds the log's commits durably before the log may
	 * stop naming them ... */
	if (!f->unlinked && fams_test_break != FAMS_BREAK_REDO_UNFLUSHED && fams_flush(f->data_fd) < 0)
		return -1;
	f->sh->data_durable = true;
	/* ... and the header names no epoch, durably, before a record is overwritten. */
	if (fams_test_break == FAMS_BREAK_REDO_UNRETIRED) {
		c->live = FAMS_JLIVE_NONE;
		c->redo_epoch = c->redo_tail = c->redo_index = 0;
		return 0;
	}
	return fams_journal_retire(&f->j);
}

/* R3 before a commit writes the journal, saying so when it fails: nothing of the
 * commit was written yet. */
static int checkpoint_before_writing(struct fams_file *f)
{
	if (checkpoint(f) == 0)
		return 0;
	int saved = errno;
	fams_error("%s: making the journal's commits durable failed: %s; nothing was written, the "
		   "changes stay in memory", f->path, strerror(saved));
	errno = saved;
	return -1;
}

/* A redo commit whose data writes failed (R2): put the old bytes and size back from
 * the plan, then checkpoint, so the log no longer names it.  Failing that, the log
 * stays, and recovery -- before the next commit, or at the next open -- applies it:
 * the file then takes the commit whole. */
static int undo_redo_apply(struct fams_file *f, const struct commit_plan *pl, struct fams_jsizes sz)
{
	for (size_t i = 0; i < pl->written; i++) {
		uint64_t len = fams_jundo_len(&pl->ext[i], sz.old_size);
		if (len && fams_pwrite_full(f->data_fd, pl->undo[i], (size_t)len, (off_t)pl->ext[i].off) < 0)
			return -1;
	}
	struct stat st;
	if (fams_raw_fstat(f->data_fd, &st) < 0 ||
	    ((uint64_t)st.st_size != sz.old_size && fams_truncate(f->data_fd, (off_t)sz.old_size) < 0))
		return -1;
	return checkpoint(f);
}

/* Steps R1 and R2 of the commit of pl (see the top of this file).  -1 with errno,
 * the message given. */
static int commit_redo(struct fams_file *f, const struct commit_plan *pl, struct fams_jsizes sz)
{
	struct fams_jcounters *c = f->j.st;
	uint64_t span = fams_jrecord_span(pl->written, pl->new_bytes);
	/* The journal grows to the log's room before the log rolls over, so that a
	 * checkpoint's two flushes are shared by many commits; a record larger than
	 * the room may grow it up to FAMS_JOURNAL_MAX. */
	uint64_t room = fams_redo_room < fams_cfg.journal_max ? fams_redo_room : fams_cfg.journal_max;
	if (room < c->capacity)
		room = c->capacity;
	uint64_t limit = FAMS_JOURNAL_BODY_OFFSET + span <= room ? room : fams_cfg.journal_max;
	/* A log that is full, or whose last append failed (a record may be there or
	 * not): R3 before the next record. */
	bool roll = c->redo_epoch && (c->live != FAMS_JLIVE_REDO || c->redo_tail + span > limit);
	if (roll && checkpoint_before_writing(f) < 0)
		return -1;
	bool fresh = c->live != FAMS_JLIVE_REDO;
	/* R0: a new epoch over a data file not known durable is one from an empty
	 * file (log_base_known found it holds no data). */
	bool from_empty = fresh && !f->sh->data_durable && fams_test_break != FAMS_BREAK_DATA_UNDURABLE;
	uint64_t epoch = !fresh ? c->redo_epoch : fams_test_break == FAMS_BREAK_REDO_EPOCH_REUSED ? 1 : fams_redo_new_epoch();
	uint64_t at = fresh ? FAMS_JOURNAL_BODY_OFFSET : c->redo_tail;
	uint64_t index = fresh ? 1 : c->redo_index + 1;
	if (fams_journal_reserve(&f->j, at + span) < 0) {
		int saved = errno;
		fams_error("%s: cannot grow the journal to %llu bytes: %s; nothing was written", f->path,
			   (unsigned long long)(at + span), strerror(saved));
		errno = saved;
		return -1;
	}
	if (fams_test_break == FAMS_BREAK_DATA_FIRST && apply(f, pl, sz) < 0)
		goto data_failed;
	/* From the first byte written until the flush returns, what the journal holds
	 * is unknown: a failure leaves live UNKNOWN, and the next commit checkpoints. */
	c->live = FAMS_JLIVE_UNKNOWN;
	c->redo_epoch = epoch;
	c->disk &= ~FAMS_JDISK_HOLDS_NOTHING;
	/* Direct only over blocks written before (written_end). */
	int dfd = at + span <= c->written_end ? f->j.direct_fd : -1;
	int64_t jbytes = fams_redo_append(f->j.fd, dfd, at, epoch, index, sz, pl->ext, pl->newb, pl->written,
					  f->jchunk, &f->j.direct_ok);
	if (at + span > c->written_end)
		c->written_end = at + span;
	if (jbytes < 0 || (fresh && fams_redo_start(f->j.fd, epoch, &f->id, sz.old_size, from_empty) < 0) ||
	    (fams_test_break != FAMS_BREAK_NO_JOURNAL_FLUSH && fams_flush(f->j.fd) < 0) ||
	    (fams_test_break != FAMS_BREAK_NAME_UNSYNCED && fams_journal_sync_name(&f->j) < 0)) {
		int saved = errno;
		/* The record may check in the page cache all the same (its flush
		 * failed): a process crash now would have recovery apply a commit the
		 * program was told failed.  Spoil it; the next commit checkpoints. */
		static const char spoil[sizeof(struct fams_jrecord)];
		fams_pwrite_full(f->j.fd, spoil, sizeof spoil, (off_t)at);
		fams_error("%s: writing the journal failed: %s; nothing was written to the file, "
			   "the changes stay in memory", f->path, strerror(saved));
		errno = saved;
		return -1;
	}
	__atomic_add_fetch(&fams_stats.journal_bytes, (uint64_t)jbytes, __ATOMIC_RELAXED);
	c->live = FAMS_JLIVE_REDO;
	c->redo_tail = at + span;
	c->redo_index = index;
	/* R2: the commit is durable; the data file follows, unflushed. */
	if (fams_test_break != FAMS_BREAK_DATA_FIRST && apply(f, pl, sz) < 0)
		goto data_failed;
	return 0;

data_failed:;
	int saved = errno;
	if (undo_redo_apply(f, pl, sz) == 0) {
		fams_error("%s: writing the file failed: %s; rolled back to the last commit, "
			   "the changes stay in memory", f->path, strerror(saved));
	} else {
		f->sh->needs_rollback = true;
		fams_error("%s: writing the file failed: %s, and so did putting it back; the commit is "
			   "in the journal, and recovery applies it before the next commit or open",
			   f->path, strerror(saved));
	}
	errno = saved;
	return -1;
}

static int commit_locked(struct fams_file *f, uint64_t lo, uint64_t hi, const struct fams_snapshot *snap);

int fams_commit_begin(struct fams_file *f, uint64_t lo, uint64_t hi, bool quick)
{
	if (fams_commit_lock(f) < 0)
		return -1;
	dirty_collect(f, lo, hi, quick);
	trackswitch_consider(f, lo, hi); /* its suspect marks are compared by this commit */
	return 0;
}

int fams_commit_finish(struct fams_file *f, uint64_t lo, uint64_t hi)
{
	int r = commit_locked(f, lo, hi, NULL);
	int saved = errno;
	fams_commit_unlock(f);
	errno = saved;
	return r;
}

int fams_file_commit(struct fams_file *f, uint64_t lo, uint64_t hi)
{
	return fams_commit_begin(f, lo, hi, false) < 0 ? -1 : fams_commit_finish(f, lo, hi);
}

/* A commit that changes the size alone, to one only_size_changes allows. */
static int commit_size(struct fams_file *f, uint64_t size)
{
	/* Unflushed until the flush below returns: a failure or a kill in between
	 * leaves on disk a size other than the page cache's, from which no commit may
	 * begin as if durable. */
	f->sh->data_durable = false;
	/* A journal the last process removed without its directory sync reaching the
	 * disk could come back after a power cut and be applied over this size: its
	 * removal is made durable (once per journal) before the size changes. */
	if ((f->j.fd >= 0 && fams_journal_sync_name(&f->j) < 0) || fams_truncate(f->data_fd, (off_t)size) < 0 ||
	    (!f->unlinked && fams_flush(f->data_fd) < 0)) {
		int saved = errno;
		fams_error("%s: changing its size to %llu failed: %s; the file keeps its last committed state "
			   "(or the new size: nothing else changed)", f->path, (unsigned long long)size,
			   strerror(saved));
		errno = saved;
		return -1;
	}
	f->sh->data_size = size;
	f->sh->data_durable = !f->unlinked;
	f->sh->commits++;
	__atomic_add_fetch(&fams_stats.commits, 1, __ATOMIC_RELAXED);
	return 0;
}

/* After a snapshot's commit: the pages still as the snapshot had them are clean,
 * and one changed since is dirty -- whatever its bit said: a change recorded only
 * in the bitmap (write(), a hole punched, a regrown range) and since undone or
 * redone may have had its bit cleared by an earlier snapshot's commit. */
static void clear_snapshot_pages(struct fams_file *f, const struct fams_snapshot *s)
{
	const uint64_t pg = (uint64_t)fams_page_size;
	char *now = malloc(pg);
	uint64_t pos = 0;
	for (size_t i = 0; i < s->nruns; i++)
		for (uint64_t p = s->runs[i].first; p < s->runs[i].last && p * pg < s->size; p++) {
			uint64_t len = (p + 1) * pg > s->size ? s->size - p * pg : pg;
			if (p * pg < f->sh->size) {
				bool same = now && f->sh->size == s->size &&
					    fams_raw_pread(f->memfd, now, (size_t)len, (off_t)(p * pg)) == (ssize_t)len &&
					    memcmp(now, s->bytes + pos, (size_t)len) == 0;
				bits_set(f->dirty, p, p + 1, !same);
			}
			pos += len;
		}
	free(now);
}

int fams_commit_snapshot(struct fams_file *f, uint64_t lo, uint64_t hi, struct fams_snapshot *s)
{
	if (fams_commit_lock(f) < 0)
		return -1;
	dirty_collect_leaving_open(f, lo, hi);
	trackswitch_consider(f, lo, hi);
	uint64_t size = f->sh->size;
	if (hi > size)
		hi = size;
	/* A snapshot takes dirty pages only: suspect ones (stored while a tracker move
	 * or a re-arm after mremap or madvise ran) are compared first, or it could hold
	 * a thread's later store without its earlier one.  Comparing against a data
	 * file behind the queued snapshots only finds more pages dirty. */
	int r = lo < hi ? plan_compare_suspects(f, page_of(lo), pages_for(hi), false) : 0;
	if (r == 0)
		r = snapshot_take(s, f, page_of(lo), lo < hi ? pages_for(hi) : page_of(lo));
	s->base_others = f->sh->commits - f->snapshot_commits;
	int saved = errno;
	fams_commit_unlock(f);
	errno = saved;
	return r;
}

/* Whether a page of [lo, hi) is suspect (to be compared with the data file). */
static bool suspects_in(const struct fams_file *f, uint64_t lo, uint64_t hi)
{
	return lo < hi && bits_next(f->suspect, page_of(lo), pages_for(hi)) < pages_for(hi);
}

int fams_commit_snapshot_beside(struct fams_file *f, uint64_t lo, uint64_t hi, uint64_t others,
				struct fams_snapshot *s)
{
	/* No tracker move (it would compare the whole file against the data file the
	 * commit in flight writes); suspect pages are compared with that file too: left
	 * to a snapshot that waits for the commit (EAGAIN), before the harvest and
	 * after it (which may find more). */
	uint64_t size = f->sh->size, end = hi < size ? hi : size;
	bool suspects = suspects_in(f, lo, end);
	if (!suspects) {
		dirty_collect_leaving_open(f, lo, hi);
		suspects = suspects_in(f, lo, end);
	}
	if (suspects) {
		errno = EAGAIN;
		return -1;
	}
	hi = end;
	int r = snapshot_take(s, f, page_of(lo), lo < hi ? pages_for(hi) : page_of(lo));
	s->base_others = others;
	return r;
}

int fams_commit_apply(struct fams_file *f, const struct fams_snapshot *s)
{
	int r = 0;
	/* A commit since the snapshot other than the snapshots' before it (another
	 * process's) took newer bytes of its pages (their bits were still set):
	 * writing the snapshot now would put older ones back. */
	uint64_t before = f->sh->commits;
	if (before - f->snapshot_commits == s->base_others || fams_test_break == FAMS_BREAK_SNAPSHOT_OVERTAKES) {
		r = commit_locked(f, 0, UINT64_MAX, s);
		f->snapshot_commits += f->sh->commits - before;
	}
	return r;
}

/* The commit, with the commit lock held and the written pages collected; of the
 * snapshot snap instead of the working copy when it is not NULL. */
static int commit_locked(struct fams_file *f, uint64_t lo, uint64_t hi, const struct fams_snapshot *snap)
{
	const struct report_mark mark = fams_report_on ? report_mark() : (struct report_mark){ 0 };
	struct commit_plan pl = { 0 };
	int saved = 0;

	if (fams_file_data_writable(f) < 0 || (f->sh->needs_rollback && rollback_in_place(f) < 0))
		return -1;

	struct fams_untimed data;
	if (fams_file_untimed(f->data_fd, &data) < 0)
		return -1;
	const bool base_known = log_base_known(f); /* before the plan reads the data file */
	const struct fams_jsizes sz = { data.size, snap ? snap->size : f->sh->size };
	f->sh->data_size = sz.old_size;
	if (hi > sz.new_size)
		hi = sz.new_size;
	if (snap) {
		if (plan_pages(&pl, f, 0, 0, sz, snap) < 0)
			goto fail_plan;
	} else if (lo < hi) {
		uint64_t first = page_of(lo), last = pages_for(hi);
		if (plan_compare_suspects(f, first, last, fams_tracker_kind == FAMS_TRACKER_COMPARE) < 0)
			return -1;
		/* Step 1: one stable copy of the dirty pages, and what changed in them. */
		if (plan_pages(&pl, f, first, last, sz, NULL) < 0)
			goto fail_plan;
	}
	if (pl.n == 0 && sz.new_size == sz.old_size) {
		/* Pages written with the bytes they had: nothing to make durable.  It
		 * still takes their bits, so it counts: an older snapshot must not land
		 * after it (fams_commit_apply). */
		if (pl.nruns)
			f->sh->commits++;
		goto done;
	}
	if (pl.n == 0 && only_size_changes(f, sz.new_size)) {
		if (commit_size(f, sz.new_size) < 0)
			goto fail_errno;
		goto done;
	}
	if (fams_test_break == FAMS_BREAK_CLEAR_EARLY)
		for (size_t i = 0; i < pl.nruns; i++)
			bits_set(f->dirty, pl.runs[i].first, pl.runs[i].last, false);
	/* Kept between commits too: a fresh megabyte costs a fault per page it fills. */
	if (f->j.fd >= 0 && !f->jchunk && !(f->jchunk = aligned_alloc(FAMS_JOURNAL_ALIGN, FAMS_IO_CHUNK))) {
		errno = ENOMEM;
		goto fail_plan;
	}
	if (redo_fits(&pl, base_known)) {
		if (commit_redo(f, &pl, sz) < 0)
			goto fail_errno;
		goto committed;
	}
	/* An undo journal is written over the log from its body up: R3 first. */
	if (f->j.fd >= 0 && f->j.st->redo_epoch && checkpoint_before_writing(f) < 0)
		goto fail_errno;
	/* The journal describes the data file as the page cache holds it (its size, the
	 * bytes beside the ranges it writes), so the disk must hold that too: a size
	 * the kernel set outside any commit and not yet flushed (O_TRUNC, a program's
	 * ftruncate or write before the file was managed) would be read by recovery
	 * as one made after this commit, which it would then leave half applied. */
	if (f->j.fd >= 0 && !f->unlinked && !f->sh->data_durable && fams_test_break != FAMS_BREAK_DATA_UNDURABLE) {
		if (fams_flush(f->data_fd) < 0) {
			saved = errno;
			fams_error("%s: flushing it before its first commit failed: %s; nothing was written, the "
				   "changes stay in memory", f->path, strerror(saved));
			goto fail;
		}
		f->sh->data_durable = true;
	}
	if (sz.new_size < sz.old_size && f->j.fd >= 0 && plan_cut(&pl, f, sz) < 0)
		goto fail_plan;

	uint64_t undo = 0;
	for (size_t i = 0; i < pl.n; i++)
		undo += fams_jundo_len(&pl.ext[i], sz.old_size);
	uint64_t journal_bytes = fams_jspan(pl.n * sizeof *pl.ext + undo);
	if (f->j.fd >= 0 && fams_journal_reserve(&f->j, journal_bytes) < 0) {
		saved = errno;
		if (saved == ENOSPC && journal_bytes > fams_cfg.journal_max)
			fams_error("%s: commit of %llu bytes needs a %llu-byte journal, over FAMS_JOURNAL_MAX=%llu; "
				   "nothing was written, the changes stay in memory",
				   f->path, (unsigned long long)pl.new_bytes, (unsigned long long)journal_bytes,
				   (unsigned long long)fams_cfg.journal_max);
		else
			fams_error("%s: cannot grow the journal to %llu bytes: %s; nothing was written",
				   f->path, (unsigned long long)journal_bytes, strerror(saved));
		goto fail;
	}
	for (size_t i = 0; i < pl.written; i++)
		pl.ext[i].new_hash = fams_jextent_hash(pl.newb[i], pl.ext[i].len);

	if (fams_test_break == FAMS_BREAK_DATA_FIRST && apply(f, &pl, sz) < 0)
		goto data_failed;
	/* Steps 2 and 3: the journal is durable before any data byte or size changes. */
	if (f->j.fd >= 0 && write_journal(f, &pl, sz) < 0) {
		saved = errno;
		fams_error("%s: writing the journal failed: %s; nothing was written to the file, "
			   "the changes stay in memory", f->path, strerror(saved));
		goto fail;
	}
	if (f->j.fd >= 0 && journal_bytes > f->j.st->written_end)
		f->j.st->written_end = journal_bytes;

	/* Step 4: the size and the new bytes, from the stable copy. */
	if (fams_test_break != FAMS_BREAK_DATA_FIRST && apply(f, &pl, sz) < 0)
		goto data_failed;
	/* Step 5: durable; only now does the commit succeed.  An unlinked file cannot
	 * be seen after a crash, so it needs neither journal nor flush.  The next
	 * commit overwrites this journal: it may do so only once these bytes are
	 * durable, which this flush guarantees before we return. */
	if (!f->unlinked && fams_test_break != FAMS_BREAK_NO_DATA_FLUSH && fams_flush(f->data_fd) < 0)
		goto data_failed;
	f->sh->needs_flush = false;
	f->sh->data_durable = !f->unlinked;
committed:
	f->sh->data_size = sz.new_size;
	f->sh->commits++;
	__atomic_add_fetch(&fams_stats.commits, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&fams_stats.committed_bytes, pl.new_bytes, __ATOMIC_RELAXED);
	fams_debug("commit %s: %zu ranges, %llu bytes, size %llu -> %llu", f->path, pl.written,
		   (unsigned long long)pl.new_bytes, (unsigned long long)sz.old_size,
		   (unsigned long long)sz.new_size);
done:
	if (fams_report_on)
		report_commit(&mark, plan_page_count(&pl), pl.new_bytes);
	trim_plan_buffer(f, false);
	if (snap) {
		/* A snapshot may be taken beside this commit (asynccommit.c). */
		pthread_mutex_lock(&f->bits_lock);
		clear_snapshot_pages(f, snap);
		pthread_mutex_unlock(&f->bits_lock);
	} else
		for (size_t i = 0; i < pl.nruns; i++)
			bits_set(f->dirty, pl.runs[i].first, pl.runs[i].last, false);
	plan_free(&pl);
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
fail_plan:
	saved = errno;
	fams_error("%s: a commit could not find what changed: %s; nothing was written", f->path,
		   strerror(saved));
	goto fail;
fail_errno:
	saved = errno;
fail:
	plan_free(&pl);
	trim_plan_buffer(f, true);
	errno = saved;
	return -1;
}

int fams_file_flush_if_needed(struct fams_file *f)
{
	if (fams_commit_lock(f) < 0)
		return -1;
	int r = 0;
	if (f->sh->needs_flush && !f->unlinked) {
		/* An allocation (fallocate) made since the last commit: durable as fsync
		 * promises.  It changes no byte and no size: no journal. */
		r = fams_flush(f->data_fd);
		if (r == 0)
			f->sh->needs_flush = false, f->sh->data_durable = true;
	}
	fams_commit_unlock(f);
	return r;
}

/* The journal holds nothing, and the data file every commit, durably: a
 * half-applied commit is put right first, or the checkpoint would make it durable
 * (R3 before the log stops naming its records).  The commit lock is held. */
static int settle_locked(struct fams_file *f)
{
	return (f->sh->needs_rollback && rollback_in_place(f) < 0) || checkpoint(f) < 0
		       ? -1 : fams_journal_invalidate(&f->j);
}

int fams_file_settle(struct fams_file *f)
{
	if (f->j.fd < 0 || fams_test_break == FAMS_BREAK_EXEC_UNSETTLED)
		return 0;
	if (fams_commit_lock(f) < 0)
		return -1;
	int r = member_others(f) ? 0 : settle_locked(f);
	int saved = errno;
	fams_commit_unlock(f);
	errno = saved;
	return r;
}

int fams_file_before_truncate(struct fams_file *f)
{
	if (fams_commit_lock(f) < 0)
		return -1;
	/* The kernel truncates the data file outside the commit lock: with other
	 * processes using the file, one could commit in between (and a power cut then
	 * undo what it acknowledged), or the size could part from theirs for good.
	 * Members dead or exec'd do not count. */
	member_sweep(f);
	if (member_others(f)) {
		fams_commit_unlock(f);
		fams_error("%s: open with O_TRUNC refused (EBUSY): other processes share this file, and the "
			   "kernel would truncate it under them (ftruncate after open works)", f->path);
		errno = EBUSY;
		return -1;
	}
	/* The kernel's truncation to 0 is a size change outside any commit: the live
	 * journal must not be there to read it as an interrupted commit (0 may be one
	 * of its sizes).  The kernel's truncation that follows is not flushed: a log
	 * may begin from it only as one from an empty file (R0, log_base_known). */
	int r = settle_locked(f);
	f->sh->data_durable = false;
	fams_commit_unlock(f);
	return r;
}
