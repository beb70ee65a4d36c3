/* commitlock.c -- a managed file's commit lock (shared.h), and the repair its next
 * holder makes when a process died holding it.
 *
 * The lock is a robust process-shared mutex, held by whichever process commits or
 * changes the file's size.  When its holder dies, the next locker gets EOWNERDEAD.
 * The dead one may have been anywhere: between the working copy's truncation and
 * the size recorded beside it, writing its journal, changing the data file after
 * the journal was durable, or moving written pages from page tables into the
 * bitmaps.  Before anything else the next holder repairs (repair_after_death):
 *   1. if it was collecting (sh->harvesting), every page becomes suspect: written
 *      pages it took from page tables (re-protecting them) may not be in the
 *      bitmaps;
 *   2. a size change truncates the working copy first: the recorded size follows;
 *   3. recovery runs on the journal (complete a finished commit, roll back an
 *      interrupted one, discard a torn one, replay a redo log); the data file's
 *      size is a commit's (recover.c), the working copy's the others' own.  A
 *      rolled back, torn or replayed journal is retired, and so is any redo log
 *      the counters name;
 *   4. only then is the mutex marked consistent for good (needs_repair cleared):
 *      until a repair succeeds, every holder tries it again and fails its call.
 * The dead committer's dirty bits were not cleared (commit.c clears them only
 * after the data flush), so its pages are committed again by the next commit. */
#include "commitlock.h"
#include "log.h"
#include "pagebits.h"
#include "recover.h"
#include "sys.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* A process died holding f's commit lock, which we now hold: bring the shared
 * state and the files back to a state a commit may start from. */
static int repair_after_death(struct fams_file *f)
{
	struct fams_shared *sh = f->sh;
	struct stat wc, data;
	if (fams_test_break == FAMS_BREAK_NO_REPAIR)
		return 0;
	/* Written pages it had taken from page tables may not have reached the bitmaps:
	 * compare everything (first: nothing below can undo it). */
	if (sh->harvesting) {
		bits_mark_bytes(f->suspect, 0, sh->size);
		sh->harvesting = false;
	}
	/* A size change truncates the working copy, then records the size: finish it. */
	if (fams_raw_fstat(f->memfd, &wc) < 0)
		return -1;
	if ((uint64_t)wc.st_size != sh->size) {
		uint64_t from = pages_for((uint64_t)wc.st_size);
		if ((uint64_t)wc.st_size < sh->size && from < FAMS_MAX_FILE_PAGES) {
			bits_set(f->dirty, from, pages_for(sh->size), false);
			bits_set(f->suspect, from, pages_for(sh->size), false);
			for (int i = 0; i < FAMS_MAX_MEMBERS; i++)
				if (sh->members[i].protected_end > (uint64_t)wc.st_size)
					sh->members[i].protected_end = (uint64_t)wc.st_size;
		}
		if ((uint64_t)wc.st_size > sh->size)
			sh->growths++; /* a growth like any other (dirty.c: its holes are open) */
		sh->size = (uint64_t)wc.st_size;
	}
	/* The journal may hold its interrupted commit: apply recovery's rules now.  A
	 * finished commit's journal stays live, as after any commit; one rolled back
	 * or torn is retired. */
	if (f->j.fd >= 0) {
		int outcome;
		if (fams_recover_locked(f->j.fd, f->data_fd, &f->id, f->path, 0, &outcome) < 0)
			return -1;
		/* A redo log the counters name but recovery found none of: the dead one
		 * was killed retiring it (zeros written, maybe not flushed) or starting
		 * it (its header not written yet); either way the data file holds the
		 * log's commits, and the log must be retired before anyone appends. */
		if ((outcome == FAMS_REC_ROLLED_BACK || outcome == FAMS_REC_TORN || outcome == FAMS_REC_REPLAYED ||
		     f->j.st->redo_epoch) &&
		    fams_journal_retire(&f->j) < 0)
			return -1;
	}
	if (fams_raw_fstat(f->data_fd, &data) < 0)
		return -1;
	sh->data_size = (uint64_t)data.st_size;
	return 0;
}

int fams_commit_lock(struct fams_file *f)
{
	int r = shared_lock(f->sh);
	if (r < 0) {
		fams_error("%s: its commit lock cannot be taken (%s)", f->path, strerror(errno));
		return -1;
	}
	if (r == EOWNERDEAD) {
		fams_warn("%s: a process died holding its commit lock; repairing", f->path);
		f->sh->needs_repair = true;
		shared_consistent(f->sh);
	}
	/* Until a repair succeeds, every holder tries it again and fails its call:
	 * nothing may be committed over a half-applied commit. */
	if (f->sh->needs_repair) {
		if (repair_after_death(f) < 0) {
			int saved = errno;
			fams_error("%s: repairing after a dead process failed (%s); nothing is committed until it "
				   "succeeds", f->path, strerror(saved));
			shared_unlock(f->sh);
			errno = saved;
			return -1;
		}
		f->sh->needs_repair = false;
	}
	return 0;
}

void fams_commit_unlock(struct fams_file *f) { shared_unlock(f->sh); }

