/* recover.c -- bring a data file back to its last committed state.
 *
 * Order of recovery (each step is idempotent, so a crash anywhere in it is repaired
 * by running it again):
 *   1. check the journal (fams_jread: header hash, bounds, body hash); a journal that
 *      fails was torn by a crash while being written: the data file was not touched
 *      under it (the commit writes no data byte before the journal is durable), so
 *      discard it;
 *   2. refuse a journal that names another file (identity = filesystem id + inode +
 *      birth time);
 *   3. decide from the data file's size Z whether the commit finished: during a
 *      commit the data file has only the sizes old_size and new_size (commit.c sets
 *      new_size in one step, before its first data byte in a growth and after its
 *      last in a shrink), and a size change made while the journal stays live is
 *      never to either of them (commit.c: only_size_changes).  So
 *        Z == new_size, every written extent hashes to its new_hash: finished;
 *        Z == new_size otherwise, or Z == old_size != new_size: interrupted;
 *        any other Z: finished, and the size changed since -- leave it;
 *      a finished commit: flush the data file (the crash may have come before the
 *      commit's own flush) and stop;
 *   4. an interrupted one: give the file old_size again, put back the old bytes
 *      (of written and cut extents), then flush;
 *   5. only after 3 or 4 is durable may the caller invalidate or remove the journal.
 * A redo log (redolog.h) instead holds commits that each became durable there
 * before any byte of theirs reached the data file: after steps 1 and 2, apply its
 * records that check, in order, and flush (the data file may hold any mix of
 * their bytes and older ones: writing each record whole again leaves the last). */
#include "recover.h"
#include "config.h"
#include "log.h"
#include "redolog.h"
#include "sys.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack: hashing never allocates */
#include <xxhash.h>

const char *fams_recovery_name(int outcome)
{
	switch (outcome) {
	case FAMS_REC_NONE: return "nothing to recover";
	case FAMS_REC_COMPLETE: return "last commit had completed; journal retired";
	case FAMS_REC_ROLLED_BACK: return "interrupted commit rolled back";
	case FAMS_REC_TORN: return "discarded a journal torn by a crash while it was written (data file untouched)";
	case FAMS_REC_BUSY: return "managed by a live process; left alone";
	case FAMS_REC_FOREIGN: return "journal belongs to another file; not applied";
	case FAMS_REC_REPLAYED: return "committed changes in the redo log applied again; journal retired";
	case FAMS_REC_REUSED: return "the journal of a deleted file whose inode number this file reuses: not applied";
	}
	return "?";
}

/* Whether the commit of h finished, for a data file of `size` bytes now (rule 3
 * above): 1, 0, or -1 with errno when a read failed. */
static int commit_finished(int data_fd, const struct fams_jheader *h, const struct fams_jextent *ext,
			   uint64_t size, char *buf)
{
	/* Format 2 changed sizes outside its commits: its bytes alone tell. */
	if (h->version != 2 && size != h->new_size)
		return size != h->old_size;
	XXH3_state_t state, *st = &state;
	XXH3_INITSTATE(st);
	int finished = 1;
	for (uint64_t i = 0; i < h->nextents && finished; i++) {
		if (ext[i].flags & FAMS_JEXT_CUT)
			continue;
		XXH3_64bits_reset(st);
		int64_t got = fams_read_chunks(data_fd, ext[i].off, ext[i].len, buf, fams_hash_piece, st);
		if (got < 0) {
			finished = -1;
			break;
		}
		finished = (uint64_t)got == ext[i].len && XXH3_64bits_digest(st) == ext[i].new_hash;
	}
	return finished;
}

/* Put the undo image of every extent back into the data file. */
static int write_undo_image(int jfd, int data_fd, const struct fams_jheader *h,
			    const struct fams_jextent *ext, char *buf)
{
	uint64_t jpos = fams_jundo_offset(h);
	for (uint64_t i = 0; i < h->nextents; i++) {
		uint64_t len = fams_jundo_len(&ext[i], h->old_size);
		struct fams_copy_to t = { data_fd, ext[i].off - jpos };
		int64_t got = len ? fams_read_chunks(jfd, jpos, len, buf, fams_copy_piece, &t) : 0;
		if (got < 0)
			return -1;
		if ((uint64_t)got != len) {
			errno = EIO; /* the journal checked: it cannot end early */
			return -1;
		}
		jpos += len;
	}
	return 0;
}

int fams_journal_examine(int jfd, int data_fd, const struct fams_identity *id, int *status)
{
	struct fams_jheader h;
	struct fams_jextent *ext = NULL;
	struct stat dst;
	char *buf = malloc(FAMS_IO_CHUNK);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	int state = fams_jread(jfd, &h, &ext, buf), r = 0, names;
	if (state < 0) {
		r = -1;
	} else if (state == FAMS_J_EMPTY) {
		*status = FAMS_JS_EMPTY;
	} else if (state == FAMS_J_OTHER_VERSION) {
		*status = FAMS_JS_OTHER_VERSION;
	} else if (state != FAMS_J_VALID && state != FAMS_J_REDO) {
		*status = FAMS_JS_TORN;
	} else if (data_fd < 0) {
		*status = FAMS_JS_ORPHAN;
	} else if ((names = fams_jheader_names(&h, id)) != FAMS_JID_SAME) {
		/* REUSED: its file was deleted, its inode number is id's now. */
		*status = names == FAMS_JID_REUSED ? FAMS_JS_ORPHAN : FAMS_JS_FOREIGN;
	} else if (state == FAMS_J_REDO) {
		*status = FAMS_JS_REDO;
	} else if (fams_raw_fstat(data_fd, &dst) < 0) {
		r = -1;
	} else {
		int done = commit_finished(data_fd, &h, ext, (uint64_t)dst.st_size, buf);
		if (done < 0)
			r = -1;
		else
			*status = done ? FAMS_JS_COMPLETE : FAMS_JS_INTERRUPTED;
	}
	int saved = errno;
	free(ext);
	free(buf);
	errno = saved;
	return r;
}

int fams_recover_locked(int jfd, int data_fd, const struct fams_identity *id,
			const char *data_name, int flags, int *outcome)
{
	struct fams_jheader h;
	struct fams_jextent *ext = NULL;
	struct stat dst;
	char *buf = malloc(FAMS_IO_CHUNK);
	int saved = 0;

	*outcome = FAMS_REC_NONE;
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	if (fams_raw_fstat(data_fd, &dst) < 0)
		goto fail_errno;
	int state = fams_jread(jfd, &h, &ext, buf);
	if (state < 0)
		goto fail_errno;
	if (state == FAMS_J_EMPTY) {
		free(buf);
		return 0;
	}
	if (state == FAMS_J_OTHER_VERSION) {
		/* Discarding it could leave a half-applied commit in place; applying it
		 * could misread it.  Keep it and say so. */
		*outcome = FAMS_REC_FOREIGN;
		fams_error("%s: its journal was written by another version of fams (format %u, this one reads "
			   "2 to %u); not applied and kept: recover the file with that version first",
			   data_name, h.version, FAMS_JOURNAL_REDO_EMPTY_VERSION);
		free(buf);
		errno = EUCLEAN;
		return -1;
	}
	if (state == FAMS_J_TORN_HEADER || state == FAMS_J_TORN) {
		*outcome = FAMS_REC_TORN;
		fams_warn("%s: journal %s does not validate: %s", data_name,
			  state == FAMS_J_TORN_HEADER ? "header" : "body", fams_recovery_name(FAMS_REC_TORN));
		free(buf);
		return 0;
	}
	const int names = fams_jheader_names(&h, id);
	if (names == FAMS_JID_REUSED) {
		/* Written for a file since deleted, whose inode number and birth (one tick
		 * of the kernel's coarse clock) this one has: never applied; the caller
		 * removes or retires it as a journal recovered. */
		*outcome = FAMS_REC_REUSED;
		free(ext);
		free(buf);
		return 0;
	}
	if (names != FAMS_JID_SAME) {
		*outcome = FAMS_REC_FOREIGN;
		fams_error("%s: its journal names another file (fsid %016llx inode %llu born %llu, this file "
			   "is fsid %016llx inode %llu born %llu); not applied. Move the journal away if the "
			   "file was replaced on purpose",
			   data_name, (unsigned long long)h.fsid, (unsigned long long)h.ino,
			   (unsigned long long)h.birth, (unsigned long long)id->fsid,
			   (unsigned long long)id->ino, (unsigned long long)id->birth);
		free(ext);
		free(buf);
		errno = EUCLEAN;
		return -1;
	}

	if (state == FAMS_J_REDO) {
		struct fams_redo_end end;
		if (fams_redo_replay(jfd, data_fd, &h, buf, &end) < 0 || fams_flush(data_fd) < 0)
			goto fail_errno;
		*outcome = FAMS_REC_REPLAYED;
		fams_debug("%s: %llu commits (%llu bytes) applied again from its redo log", data_name,
			   (unsigned long long)end.records, (unsigned long long)end.bytes);
		free(buf);
		return 0;
	}

	int complete = 0;
	if (!(flags & FAMS_REC_FORCE_ROLLBACK) &&
	    (complete = commit_finished(data_fd, &h, ext, (uint64_t)dst.st_size, buf)) < 0)
		goto fail_errno;
	if (complete && h.version == 2 && (uint64_t)dst.st_size > h.old_size &&
	    fams_truncate(data_fd, (off_t)h.old_size) < 0)
		goto fail_errno; /* format 2: a shrink made before its commit was lost with the power */
	if (!complete) {
		/* The old size first: a shrink's cut ranges need the room, a growth's
		 * bytes go with it.  Re-run after a crash, this finds old_size and
		 * rolls back again. */
		if ((uint64_t)dst.st_size != h.old_size && fams_truncate(data_fd, (off_t)h.old_size) < 0)
			goto fail_errno;
		if (write_undo_image(jfd, data_fd, &h, ext, buf) < 0)
			goto fail_errno;
	}
	/* Complete or rolled back, the data file's state must be durable before the
	 * journal that could reproduce it goes away. */
	if (fams_flush(data_fd) < 0)
		goto fail_errno;
	*outcome = complete ? FAMS_REC_COMPLETE : FAMS_REC_ROLLED_BACK;
	if (!complete)
		fams_warn("%s: %s (%llu extents, %llu bytes restored)", data_name,
			  fams_recovery_name(FAMS_REC_ROLLED_BACK), (unsigned long long)h.nextents,
			  (unsigned long long)(h.body_len - h.nextents * sizeof *ext));
	free(ext);
	free(buf);
	return 0;

fail_errno:
	saved = errno;
	fams_error("%s: recovery failed: %s; the journal is kept and recovery will run again",
		   data_name, strerror(saved));
	free(ext);
	free(buf);
	errno = saved;
	return -1;
}

static int journal_present_for(int dirfd, const char *path, const struct fams_identity *id)
{
	char full[PATH_MAX + NAME_MAX + 2];
	return fams_journal_path(path, id, full, sizeof full) == 0 && fams_raw_faccessat(dirfd, full, F_OK) == 0;
}

int fams_journal_present(int dirfd, const char *path)
{
	struct fams_identity id;
	int saved = errno;
	int present = fams_identity_at(dirfd, path, &id) == 0 && journal_present_for(dirfd, path, &id);
	errno = saved;
	return present;
}

/* How recover_pending reaches the data file once recovery must really run. */
struct data_source {
	int dirfd;      /* the path as given, relative to dirfd ... */
	const char *path;
	int program_fd; /* ... or the program's own descriptor of it (-1: none) */
};

/* A read-write descriptor of the data file; *owned says whether the caller must
 * close it.  The program's own descriptor is used when it is read-write and not
 * O_APPEND: closing any descriptor of a file releases every POSIX record lock the
 * process holds on it, so a second one is opened only when it cannot be helped. */
static int data_fd_for(const struct data_source *src, bool *owned)
{
	*owned = true;
	if (src->program_fd >= 0) {
		int fl = fams_raw_fcntl(src->program_fd, F_GETFL, 0);
		if (fl >= 0 && (fl & O_ACCMODE) == O_RDWR && !(fl & O_APPEND)) {
			*owned = false;
			return src->program_fd;
		}
		return fams_reopen(src->program_fd, O_RDWR | O_CLOEXEC);
	}
	return fams_sys.os_openat(src->dirfd, src->path, O_RDWR | O_CLOEXEC, 0);
}

/* Recover the file with identity id, known by path (relative to dirfd), from its
 * journal.  The journal is opened and locked first: a journal held by a live
 * process means nothing to recover (BUSY), and then the data file is not opened
 * at all. */
static int recover_pending(const struct data_source *src, const struct fams_identity *id, int *outcome)
{
	char dir[PATH_MAX], name[NAME_MAX + 1];
	int jdir = -1, jfd = -1, data_fd = -1, saved = 0, ret = -1;
	bool owned = false;
	struct stat a;
	struct fams_identity now;
	const char *path = src->path;

	if (fams_journal_locate(path, id, dir, sizeof dir, name, sizeof name) < 0) {
		saved = errno;
		goto out;
	}
	jdir = fams_sys.os_openat(src->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (jdir >= 0)
		jfd = fams_sys.os_openat(jdir, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
	if (jfd < 0) {
		saved = errno;
		if (saved == ENOENT)
			ret = 0;
		else
			fams_error("%s has a journal pending but it cannot be opened: %s", path, strerror(saved));
		goto out;
	}
	if (fams_journal_lock(jfd) < 0) {
		if (errno == EBUSY) {
			*outcome = FAMS_REC_BUSY;
			ret = 0;
		} else {
			saved = errno;
		}
		goto out;
	}
	/* Another recoverer may have removed this journal between our open and lock. */
	if (!fams_journal_names(jdir, name, jfd, &a)) {
		ret = 0;
		goto out;
	}
	data_fd = data_fd_for(src, &owned);
	if (data_fd < 0) {
		saved = errno;
		if (saved == ENOENT) {
			ret = 0; /* gone since the journal was found: its journal names no file here */
			goto out;
		}
		fams_error("%s has a journal pending but cannot be opened for recovery: %s", path,
			   strerror(saved));
		goto out;
	}
	/* The path may name another file by now: recover only the one the journal names. */
	if (fams_identity_of(data_fd, &now) < 0 || now.ino != id->ino || now.birth != id->birth) {
		ret = 0;
		goto out;
	}
	if (fams_recover_locked(jfd, data_fd, &now, path, 0, outcome) < 0) {
		saved = errno;
		goto out;
	}
	/* The data file is durable in its committed state (fams_recover_locked flushed
	 * it), so the journal may go; the directory sync keeps it from coming back. */
	if (fams_sys.os_unlinkat(jdir, name, 0) < 0 || fams_fsync_dir_of(jdir) < 0)
		fams_warn("%s: could not remove its journal %s: %s", path, name, strerror(errno));
	ret = 0;
out:
	if (jfd >= 0)
		fams_raw_close(jfd);
	if (jdir >= 0)
		fams_raw_close(jdir);
	if (data_fd >= 0 && owned)
		fams_raw_close(data_fd);
	if (ret < 0)
		errno = saved;
	return ret;
}

int fams_recover_path(int dirfd, const char *path, int *outcome)
{
	struct fams_identity id;
	*outcome = FAMS_REC_NONE;
	int saved = errno;
	int present = fams_identity_at(dirfd, path, &id) == 0 && journal_present_for(dirfd, path, &id);
	errno = saved;
	if (!present)
		return 0;
	const struct data_source src = { dirfd, path, -1 };
	return recover_pending(&src, &id, outcome);
}

int fams_recover_opened(int dirfd, const char *path, int fd, int *outcome)
{
	struct fams_identity id;
	*outcome = FAMS_REC_NONE;
	int saved = errno;
	int present = fams_identity_at(fd, "", &id) == 0 && journal_present_for(dirfd, path, &id);
	errno = saved;
	if (!present)
		return 0;
	const struct data_source src = { dirfd, path, fd };
	return recover_pending(&src, &id, outcome);
}