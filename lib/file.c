/* file.c -- one managed data file: its working copy and its size, its page bitmaps,
 * and taking its journal when it becomes managed.  How its changes reach the data file is
 * commit.c's. */
#include "file.h"
#include "pagebits.h"
#include "config.h"
#include "dirty.h"
#include "log.h"
#include "member.h"
#include "recover.h"
#include "sys.h"
#include "tracker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- bitmaps ---------------------------------------------------------------- */

int fams_file_fits(const struct fams_file *f, uint64_t size)
{
	if (pages_for(size) <= FAMS_MAX_FILE_PAGES)
		return 0;
	fams_error("%s: fams manages files of at most %llu pages; the size %llu is refused (EFBIG)", f->path,
		   (unsigned long long)FAMS_MAX_FILE_PAGES, (unsigned long long)size);
	errno = EFBIG;
	return -1;
}

int fams_file_data_writable(const struct fams_file *f)
{
	if (!f->data_fd_shared || !(fams_raw_fcntl(f->data_fd, F_GETFL, 0) & O_APPEND))
		return 0;
	fams_error("%s: the program set O_APPEND on the descriptor fams writes this file through "
		   "(it could not open the file again): a commit would write at the end of the file; "
		   "nothing was written, the changes stay in memory (EIO)", f->path);
	errno = EIO;
	return -1;
}

off_t fams_file_seek_data(const struct fams_file *f, off_t pos, int whence)
{
	if (f->data_fd_shared) {
		errno = EINVAL;
		return -1;
	}
	return fams_raw_lseek(f->data_fd, pos, whence);
}

/* ---- opening: journal first, then the working copy ------------------------------ */

/* Copy the data file's contents into the working copy, skipping holes so a sparse
 * file costs memory only for the data it holds. */
static int fill_working_copy(struct fams_file *f, uint64_t size)
{
	off_t pos = 0, end = (off_t)size;
	char *buf = NULL;
	while (pos < end) {
		off_t data = fams_file_seek_data(f, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break;
			data = pos; /* SEEK_DATA unsupported (or not ours to use): copy everything */
		}
		if (data >= end)
			break;
		off_t hole = fams_file_seek_data(f, data, SEEK_HOLE);
		if (hole < 0 || hole > end)
			hole = end;
		while (data < hole) {
			size_t n = (size_t)(hole - data > FAMS_IO_CHUNK ? FAMS_IO_CHUNK : hole - data);
			off_t in = data;
			ssize_t r = -1;
			if (!buf && fams_raw_lseek(f->memfd, data, SEEK_SET) == data)
				r = sendfile(f->memfd, f->data_fd, &in, n);
			if (r <= 0) {
				if (!buf && !(buf = malloc(FAMS_IO_CHUNK)))
					return -1;
				r = fams_pread_full(f->data_fd, buf, n, data);
				if (r < 0)
					goto fail;
				if (r == 0)
					break;
				ssize_t w = fams_raw_pwrite(f->memfd, buf, (size_t)r, data);
				if (w != r)
					goto fail;
			}
			data += r;
		}
		pos = hole;
	}
	free(buf);
	return 0;
fail:
	free(buf);
	return -1;
}

/* Alone with f's journal (its write lock held): recover whatever commit it holds,
 * so the data file is in its last committed state before the working copy is
 * filled from it, retire it, and make it ready for commits. */
static int recover_alone(struct fams_file *f, bool created)
{
	if (!created && f->j.own.capacity > 0) {
		int outcome;
		/* What we read of a journal found here must be what the disk holds: a
		 * process killed inside a retirement leaves a header of zeros in the page
		 * cache over a finished commit on disk, which we would trust (a size
		 * change alone to that commit's old size, journal-less, would then be
		 * rolled back by it after a power cut). */
		if (fams_flush(f->j.fd) < 0 ||
		    fams_recover_locked(f->j.fd, f->data_fd, &f->id, f->path, 0, &outcome) < 0)
			return -1;
		if (outcome != FAMS_REC_NONE) {
			fams_info("%s: %s", f->path, fams_recovery_name(outcome));
			/* Nothing in the journal may be applied again once we start committing. */
			if (fams_journal_retire(&f->j) < 0)
				return -1;
		}
	}
	return fams_journal_ready(&f->j, created);
}

/* The first process of f: build the working copy from the data file and the
 * shared state, and become its first member. */
static int build_alone(struct fams_file *f)
{
	struct stat now;
	if (fams_raw_fstat(f->data_fd, &now) < 0)
		return -1;
	uint64_t size = (uint64_t)now.st_size;
	if (fams_file_fits(f, size) < 0)
		return -1;
	f->memfd = fams_raw_memfd_create("fams-working-copy", MFD_CLOEXEC);
	if (f->memfd < 0 || fams_raw_ftruncate(f->memfd, (off_t)size) < 0 || fill_working_copy(f, size) < 0 ||
	    !(f->sh = shared_create(&f->state_fd, &f->id, size))) {
		int saved = errno;
		fams_error("%s: cannot build its working copy: %s", f->path, strerror(saved));
		errno = saved;
		return -1;
	}
	f->dirty = shared_dirty(f->sh);
	f->suspect = shared_suspect(f->sh);
	f->sh->jcounters = f->j.own;
	f->j.st = &f->sh->jcounters;
	return member_found(f);
}

/* Take f's journal and either set the file up alone or join the processes that
 * use it.  Processes leaving as we come make a join fail with EAGAIN: start over
 * (the last one out removes the journal; then we are alone). */
static int take_or_join(struct fams_file *f, const struct stat *st)
{
	for (int attempt = 0;; attempt++) {
		bool created, alone;
		if (fams_journal_open_member(&f->j, f->path, st, &f->id, &created, &alone) < 0)
			return -1;
		if (alone) {
			if (recover_alone(f, created) < 0 || build_alone(f) < 0 || fams_journal_share(&f->j) < 0) {
				fams_journal_abandon(&f->j, created);
				return -1;
			}
			return 0;
		}
		if (member_join(f) == 0)
			return 0;
		fams_journal_abandon(&f->j, false);
		if (errno != EAGAIN || attempt >= 500) {
			if (errno == EAGAIN)
				fams_error("%s: the processes using it cannot be reached and do not go away; refused "
					   "(EBUSY)", f->path);
			errno = errno == EAGAIN ? EBUSY : errno;
			return -1;
		}
		struct timespec pause = { 0, 2000000 };
		nanosleep(&pause, NULL);
	}
}

struct fams_file *fams_file_open(int fd, const struct stat *st, const char *path)
{
	struct fams_file *f = calloc(1, sizeof *f);
	int saved;
	if (!f)
		return NULL;
	f->data_fd = f->memfd = f->state_fd = f->j.fd = f->j.dirfd = f->j.direct_fd = f->fork_journal_fd = -1;
	f->me = -1;
	cq_init(&f->queue);
	pthread_mutex_init(&f->bits_lock, NULL);
	for (int i = 0; i < FAMS_MAX_MEMBERS; i++)
		f->peer_pagemap[i] = -1;
	f->j.st = &f->j.own;
	f->key.dev = st->st_dev;
	f->key.ino = st->st_ino;
	snprintf(f->path, sizeof f->path, "%s", path);

	/* Our own open file description: the program's may carry O_APPEND (pwrite would
	 * append) or O_DIRECT, may be read-only, and may be closed at any time.  Only a
	 * process that may write the file manages it, or shares it with others. */
	f->data_fd = fams_reopen(fd, O_RDWR | O_CLOEXEC);
	int fl = f->data_fd < 0 ? fams_raw_fcntl(fd, F_GETFL, 0) : 0;
	if (f->data_fd < 0 && fl >= 0 && (fl & O_ACCMODE) == O_RDWR) {
		if (fl & O_APPEND) {
			/* The program's description would make every write of a commit
			 * land at the end of the file. */
			fams_error("%s: fams cannot open it again for writing, and the program's own "
				   "descriptor of it appends (O_APPEND): its commits could not be written; "
				   "not managed (EACCES)", path);
			errno = EACCES;
			goto fail;
		}
		f->data_fd = fams_raw_fcntl(fd, F_DUPFD_CLOEXEC, 0);
		f->data_fd_shared = true;
	}
	if (f->data_fd < 0 || fams_identity_of(f->data_fd, &f->id) < 0)
		goto fail;

	f->unlinked = st->st_nlink == 0;
	if (f->unlinked ? build_alone(f) < 0 : take_or_join(f, st) < 0)
		goto fail;
	fams_debug("managing %s (%llu bytes, journal %s, member %d)", path, (unsigned long long)f->sh->size,
		   f->unlinked ? "none: file is unlinked" : f->j.name, f->me);
	return f;
fail:
	saved = errno;
	fams_file_close(f, 0);
	errno = saved;
	return NULL;
}

/* The last process leaves f and will remove its journal: a live redo log's commits
 * become durable in the data file first -- commit.c's rule R3 where the journal goes
 * away: its removal, made durable by the directory sync that follows it
 * (fams_journal_release), retires the log, and may only once the data file holds
 * its commits.  Were the removal lost to a power cut, replaying the log over that
 * data changes nothing.  0, or -1 with errno: then the journal must be kept. */
static int flush_before_removal(struct fams_file *f)
{
	if (f->j.fd < 0 || f->j.st->redo_epoch == 0 || f->unlinked || fams_test_break == FAMS_BREAK_REDO_DROPPED)
		return 0;
	return fams_flush(f->data_fd);
}

void fams_file_leave(struct fams_file *f, int remove_journal)
{
	if (f->sh)
		member_leave(f);
	/* The journal stays while recovery must still undo a failed commit, or while a
	 * repair after a dead committer has yet to read it -- decided after member_leave,
	 * whose commit lock may be the one that finds the death, and whose repair may
	 * fail. */
	bool keep = f->sh && (f->sh->needs_rollback || f->sh->needs_repair);
	/* The last one out removes the journal: no stale journal outlives the last commit.
	 * A redo log's commits are made durable in the data file first: where that
	 * fails, the log stays for recovery to apply. */
	bool last = f->j.fd >= 0 && remove_journal && !keep && fams_journal_last(&f->j);
	if (last && flush_before_removal(f) < 0) {
		fams_error("%s: making its last commits durable failed: %s; the journal is kept, and "
			   "recovery applies them at the next open", f->path, strerror(errno));
		last = false;
	}
	fams_journal_release(&f->j, last);
}

void fams_file_close(struct fams_file *f, int remove_journal)
{
	if (!f)
		return;
	fams_file_leave(f, remove_journal);
	shared_unmap(f->sh);
	if (f->state_fd >= 0)
		fams_raw_close(f->state_fd);
	if (f->memfd >= 0)
		fams_raw_close(f->memfd);
	if (f->data_fd >= 0)
		fams_raw_close(f->data_fd);
	free(f->plan_buf);
	free(f->jchunk);
	free(f);
}

int fams_file_resize(struct fams_file *f, uint64_t new_size)
{
	struct fams_shared *sh = f->sh;
	if (fams_file_fits(f, new_size) < 0)
		return -1;
	/* Rule: pages a growth brings inside are write-protected before they exist; a
	 * page protected after the working copy grew could be written in between and
	 * never be recorded (lost at every later commit). */
	if (new_size > sh->size) {
		dirty_protect_grown(f, sh->size, new_size);
		sh->growths++;
	}
	if (new_size > sh->size && sh->size < sh->data_size && fams_test_break != FAMS_BREAK_REGROW_STALE) {
		/* Regrown after a shrink no commit has taken yet: the data file still holds
		 * the old bytes there, the working copy zeros.  They are changes to commit. */
		uint64_t end = new_size < sh->data_size ? new_size : sh->data_size;
		bits_mark_bytes(f->dirty, sh->size, end - sh->size);
	}
	if (fams_raw_ftruncate(f->memfd, (off_t)new_size) < 0)
		return -1;
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
	return 0;
}
