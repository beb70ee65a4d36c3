/* fdcalls.c -- what each interposed descriptor call does to a managed file's bytes
 * and descriptors: dup, close, read, write, fsync (open is opencall.c's, the size
 * calls sizecalls.c's).  Every call on a managed descriptor holds the registry lock
 * (fdframe_enter, registry_leave). */
#include "fams.h"
#include "dirty.h"
#include "commit.h"
#include "fdframe.h"
#include "fdtable.h"
#include "process.h"
#include "registry.h"
#include "sys.h"
#include "tracker.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdbool.h>
#include <unistd.h>

void fams_after_dup(int oldfd, int newfd)
{
	if (!fams_hint(fams_live) || newfd < 0 || !fams_same_process())
		return;
	int saved = errno;
	fams_lock();
	struct fams_file *f = fdframe_file(oldfd);
	struct fd_slot *old = fd_slot(oldfd, false);
	int elsewhere = old ? old->elsewhere : 0;
	struct fd_slot *s = fd_slot(newfd, f != NULL || elsewhere);
	if (s && !s->internal) {
		/* newfd may have named another managed file until now (dup2). */
		fd_point(s, f);
		s->elsewhere = elsewhere;
		registry_retire_unused();
	}
	fams_unlock();
	errno = saved;
}

void fams_before_replace(int newfd)
{
	if (!fams_hint(fams_live) || !fams_same_process())
		return;
	int saved = errno;
	fams_lock();
	struct fd_slot *s = fd_slot(newfd, false);
	if (s && s->internal) {
		/* dup2 onto one of our descriptors would close it: move ours away first.
		 * A program descriptor's slot changes only if the dup2 succeeds. */
		int *where = s->internal;
		registry_quiesce(); /* a commit in flight may be using it */
		int moved = fams_raw_fcntl(newfd, F_DUPFD_CLOEXEC, 0);
		if (moved >= 0) {
			*where = moved;
			s->internal = NULL;
			fd_internal_add(where);
		}
		registry_resume();
		if (moved >= 0)
			registry_fds_moved();
	}
	fams_unlock();
	errno = saved;
}

int fams_on_close(int fd)
{
	if (!fams_hint(fams_live) || !fams_same_process())
		return 0;
	int internal = 0, saved = errno;
	fams_lock();
	struct fd_slot *s = fd_slot(fd, false);
	if (s) {
		internal = s->internal != NULL;
		if (!internal && s->file) {
			/* The last descriptor of an unmapped file: commit, stop managing it. */
			fd_point(s, NULL);
			registry_retire_unused();
		}
		s->elsewhere = 0;
	}
	fams_unlock();
	errno = saved; /* a commit at the last close must not leave its errno behind */
	return internal;
}

int fams_on_close_range(unsigned first, unsigned last, int flags, int *handled)
{
	*handled = 0;
	if (!fams_hint(fams_live) || !fams_same_process() || (flags & CLOSE_RANGE_CLOEXEC))
		return 0;
	*handled = 1;
	int saved = errno, ret = 0;
	fams_lock();
	/* Forget the program's descriptors in the range, and close the range around
	 * ours: they are the engine's, the program's close_range must not take them. */
	unsigned from = first;
	for (unsigned fd = first; fd <= last; fd++) {
		struct fd_slot *s = fd_slot((int)fd, false);
		if (!s)
			break; /* past the table: none of ours beyond */
		if (s->internal) {
			if (fd > from && fams_raw_close_range(from, fd - 1, flags) < 0 && !ret) {
				ret = -1;
				saved = errno;
			}
			from = fd + 1;
			continue;
		}
		fd_point(s, NULL);
	}
	if (from <= last && from >= first && fams_raw_close_range(from, last, flags) < 0 && !ret) {
		ret = -1;
		saved = errno;
	}
	registry_retire_unused();
	fams_unlock();
	errno = saved;
	return ret;
}

static size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t n = 0;
	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* read/pread/readv/preadv on f's descriptor fd (pos < 0: at the file position). */
static ssize_t read_file(struct fams_file *f, int fd, const struct iovec *iov, int iovcnt, off_t pos)
{
	if (fdframe_flags_except(fd, O_WRONLY) < 0)
		return -1;
	bool use_pos = pos < 0;
	if (use_pos && (pos = fams_raw_lseek(fd, 0, SEEK_CUR)) < 0)
		return -1;
	ssize_t n = fams_raw_preadv(f->memfd, iov, iovcnt, pos);
	if (n >= 0 && use_pos)
		fams_raw_lseek(fd, pos + n, SEEK_SET);
	return n;
}

void fams_before_fill(const struct iovec *iov, int iovcnt)
{
	if (!fams_hint(fams_live))
		return;
	int i = 0;
	while (i < iovcnt && !fams_tracker_opens_for_kernel(iov[i].iov_base, iov[i].iov_len))
		i++;
	if (i == iovcnt)
		return;
	int saved = errno;
	fams_lock();
	for (; i < iovcnt; i++)
		dirty_open_for_kernel((uintptr_t)iov[i].iov_base, (uintptr_t)iov[i].iov_base + iov[i].iov_len);
	fams_unlock();
	errno = saved;
}

void fams_after_fill(void)
{
	if (fams_hint(fams_live)) {
		int saved = errno;
		fams_kernel_filled();
		errno = saved;
	}
}

ssize_t fams_on_read(int fd, const struct iovec *iov, int iovcnt, off_t pos, int *handled)
{
	*handled = 0;
	if (!fams_hint(fams_live))
		return 0;
	int saved = errno;
	struct fams_file *f = fdframe_enter(fd, "read", false, handled);
	return registry_leave(f ? read_file(f, fd, iov, iovcnt, pos) : FDFRAME_NOT_DONE(*handled), saved);
}

/* write/pwrite/writev/pwritev on f's descriptor fd (pos < 0: at the file position,
 * or at the end with O_APPEND).  Under the commit lock: the size is shared. */
static ssize_t write_locked(struct fams_file *f, int fd, const struct iovec *iov, int iovcnt, off_t pos, int fl)
{
	bool use_pos = pos < 0;
	if (use_pos)
		pos = (fl & O_APPEND) ? (off_t)f->sh->size : fams_raw_lseek(fd, 0, SEEK_CUR);
	if (pos < 0)
		return -1;
	size_t total = iov_total(iov, iovcnt);
	/* A write past the end grows the file now, as it would without fams; the bytes
	 * reach it at the next commit.  (No scan first: the new pages are protected by
	 * the growth itself, fams_file_resize.) */
	if ((uint64_t)pos + total > f->sh->size && fams_file_resize(f, (uint64_t)pos + total) < 0)
		return -1;
	/* Marked before written: a process killed in between leaves the pages to the
	 * next commit, whichever process makes it. */
	bits_mark_bytes(f->dirty, (uint64_t)pos, (uint64_t)total);
	ssize_t n = fams_raw_pwritev(f->memfd, iov, iovcnt, pos);
	if (n < 0)
		return -1;
	if (use_pos)
		fams_raw_lseek(fd, pos + n, SEEK_SET);
	return n;
}

static ssize_t write_file(struct fams_file *f, int fd, const struct iovec *iov, int iovcnt, off_t pos)
{
	int fl = fdframe_flags_except(fd, O_RDONLY);
	if (fl < 0 || fams_commit_lock(f) < 0)
		return -1;
	ssize_t n = write_locked(f, fd, iov, iovcnt, pos, fl);
	int saved = errno;
	fams_commit_unlock(f);
	errno = saved;
	return n;
}

ssize_t fams_on_write(int fd, const struct iovec *iov, int iovcnt, off_t pos, int *handled)
{
	*handled = 0;
	if (!fams_hint(fams_live))
		return 0;
	int saved = errno;
	struct fams_file *f = fdframe_enter(fd, "write", true, handled);
	return registry_leave(f ? write_file(f, fd, iov, iovcnt, pos) : FDFRAME_NOT_DONE(*handled), saved);
}

int fams_on_fsync(int fd, int datasync, int *handled)
{
	*handled = 0;
	if (!fams_hint(fams_live))
		return 0;
	int saved = errno;
	struct fams_file *f = fdframe_enter(fd, NULL, false, handled);
	/* All dirty pages of the file in one atomic commit; if none, the data file
	 * still owes a flush for a size change nobody flushed yet. */
	int r = f && (registry_commit(f, 0, UINT64_MAX, datasync ? "fdatasync" : "fsync") < 0 ||
		      fams_file_flush_if_needed(f) < 0) ? -1 : 0;
	return (int)registry_leave(r, saved);
}
