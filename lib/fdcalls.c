/* fdcalls.c -- what each interposed descriptor call does to a managed file (open is
 * opencall.c's): dup, close, read, write, fsync, ftruncate, fallocate.  Every call
 * on a managed descriptor holds the registry lock (enter, registry_leave). */
#include "fams.h"
#include "dirty.h"
#include "commit.h"
#include "elsewhere.h"
#include "fdtable.h"
#include "log.h"
#include "process.h"
#include "recover.h"
#include "registry.h"
#include "sys.h"
#include "tracker.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct fams_file *managed_file(int fd);

void fams_after_dup(int oldfd, int newfd)
{
	if (!fams_hint(fams_live) || newfd < 0 || !fams_same_process())
		return;
	int saved = errno;
	fams_lock();
	struct fams_file *f = managed_file(oldfd);
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

/* The managed file fd names, trusting its slot only while fd still names that file. */
static struct fams_file *managed_file(int fd)
{
	bool dropped;
	struct fams_file *f = fd_file(fd, &dropped);
	if (dropped) /* its descriptor was closed behind our back: the file may be unused */
		registry_retire_unused();
	return f;
}

/* The frame of every call on a descriptor: enter() takes the registry lock and
 * returns the managed file fd names; NULL when the call is not fams's (*handled
 * = 0: it goes to the kernel) or is refused (*handled = 1, errno set: the file is
 * used by processes this one may not share it with, or, for calls that change it
 * (`changes`), this is a forked child cut off from it).  fsync is never refused (what =
 * NULL).  The call then ends with registry_leave(). */
static struct fams_file *enter(int fd, const char *what, bool changes, int *handled)
{
	*handled = 0;
	fams_lock();
	struct fams_file *f = managed_file(fd);
	if (!f) {
		*handled = what && elsewhere_refused(fd, what);
		return NULL;
	}
	*handled = 1;
	if (changes && f->cut_off) {
		registry_refuse_cut_off(f, what);
		return NULL;
	}
	return f;
}

/* The result of a call enter() did not give a file: pass through, or refused. */
#define NOT_DONE(handled) ((handled) ? -1 : 0)

/* fd's open flags, or -1 with EBADF when it was opened only for `refused`
 * (O_WRONLY: it cannot read; O_RDONLY: it cannot write), as the kernel says. */
static int open_flags_except(int fd, int refused)
{
	int fl = fams_raw_fcntl(fd, F_GETFL, 0);
	if (fl < 0 || (fl & O_ACCMODE) == refused) {
		errno = EBADF;
		return -1;
	}
	return fl;
}

/* read/pread/readv/preadv on f's descriptor fd (pos < 0: at the file position). */
static ssize_t read_file(struct fams_file *f, int fd, const struct iovec *iov, int iovcnt, off_t pos)
{
	if (open_flags_except(fd, O_WRONLY) < 0)
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
	struct fams_file *f = enter(fd, "read", false, handled);
	return registry_leave(f ? read_file(f, fd, iov, iovcnt, pos) : NOT_DONE(*handled), saved);
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
	int fl = open_flags_except(fd, O_RDONLY);
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
	struct fams_file *f = enter(fd, "write", true, handled);
	return registry_leave(f ? write_file(f, fd, iov, iovcnt, pos) : NOT_DONE(*handled), saved);
}

int fams_on_fsync(int fd, int datasync, int *handled)
{
	*handled = 0;
	if (!fams_hint(fams_live))
		return 0;
	int saved = errno;
	struct fams_file *f = enter(fd, NULL, false, handled);
	/* All dirty pages of the file in one atomic commit; if none, the data file
	 * still owes a flush for a size change nobody flushed yet. */
	int r = f && (registry_commit(f, 0, UINT64_MAX, datasync ? "fdatasync" : "fsync") < 0 ||
		      fams_file_flush_if_needed(f) < 0) ? -1 : 0;
	return (int)registry_leave(r, saved);
}

/* Give f the size len (ftruncate, truncate), the permission checked. */
static int truncate_to(struct fams_file *f, off_t len)
{
	if (fams_commit_lock(f) < 0)
		return -1;
	/* The records of written pages a shrink cuts off go with them: collect those
	 * first (a regrown page must not be taken for written).  A growth or the same
	 * size needs no scan: dirty_protect_grown protects the new pages. */
	if ((uint64_t)len < f->sh->size)
		dirty_harvest_file(f, (uint64_t)len & ~(uint64_t)(fams_page_size - 1), f->sh->size);
	int r = fams_file_resize(f, (uint64_t)len);
	int saved = errno;
	fams_commit_unlock(f);
	errno = saved;
	return r;
}

/* ftruncate on f's descriptor fd. */
static int truncate_file(struct fams_file *f, int fd, off_t len)
{
	int fl = fams_raw_fcntl(fd, F_GETFL, 0);
	if (len < 0 || fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
		errno = fl < 0 ? EBADF : EINVAL; /* the kernel's EINVAL for a read-only descriptor */
		return -1;
	}
	return truncate_to(f, len);
}

int fams_on_truncate(const char *path, off_t len, int *handled)
{
	*handled = 0;
	if (!fams_hint(fams_live) || !path || !fams_same_process())
		return 0;
	int saved = errno;
	fams_lock();
	struct fams_file *f = registry_find_path(AT_FDCWD, path); /* none: the kernel's, errors too */
	int r = 0;
	if (f) {
		*handled = 1;
		/* The kernel would change the data file under the working copy, outside
		 * any commit: the working copy takes the size, the file at the next
		 * commit, as for ftruncate.  The kernel's own checks first. */
		int attr = 0;
		if (f->cut_off)
			r = registry_refuse_cut_off(f, "truncate");
		else if (len < 0 && (errno = EINVAL))
			r = -1;
		else if (fams_raw_faccess_effective(path, W_OK) < 0)
			r = -1; /* fams's own descriptor may write: the program's ids decide */
		else if (fams_raw_ioctl(f->data_fd, FS_IOC_GETFLAGS, &attr) == 0 && (attr & FS_APPEND_FL) &&
			 (errno = EPERM))
			r = -1; /* an append-only file, as the kernel would say */
		else
			r = truncate_to(f, len);
	}
	return (int)registry_leave(r, saved);
}

int fams_on_ftruncate(int fd, off_t len, int *handled)
{
	*handled = 0;
	if (!fams_hint(fams_live))
		return 0;
	int saved = errno;
	struct fams_file *f = enter(fd, "ftruncate", true, handled);
	return (int)registry_leave(f ? truncate_file(f, fd, len) : NOT_DONE(*handled), saved);
}

/* fallocate on f's descriptor fd, under the commit lock. */
static int allocate_locked(struct fams_file *f, int fd, int mode, off_t off, off_t len)
{
	uint64_t end = (uint64_t)off + (uint64_t)len;
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		/* Content changes belong to the working copy and reach the file at commit. */
		dirty_harvest_file(f, 0, UINT64_MAX);
		if (!(mode & FALLOC_FL_KEEP_SIZE) && end > f->sh->size && fams_file_resize(f, end) < 0)
			return -1;
		uint64_t zend = end < f->sh->size ? end : f->sh->size;
		if ((uint64_t)off < zend) {
			bits_mark_bytes(f->dirty, (uint64_t)off, zend - (uint64_t)off);
			if (fams_raw_fallocate(f->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
					       (off_t)(zend - (uint64_t)off)) < 0)
				return -1;
		}
		return 0;
	}
	/* Allocation changes no byte: the data file takes it directly, but not its size,
	 * which changes at the next commit like any other (commit.c). */
	if (fams_raw_fallocate(fd, mode | FALLOC_FL_KEEP_SIZE, off, len) < 0)
		return -1;
	f->sh->needs_flush = true;
	return !(mode & FALLOC_FL_KEEP_SIZE) && end > f->sh->size ? fams_file_resize(f, end) : 0;
}

static int allocate_file(struct fams_file *f, int fd, int mode, off_t off, off_t len)
{
	if (off < 0 || len <= 0) {
		errno = EINVAL;
		return -1;
	}
	if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) {
		fams_error("%s: fallocate collapse/insert range on a mapped file cannot be made atomic; refused",
			   f->path);
		errno = EOPNOTSUPP;
		return -1;
	}
	if (fams_commit_lock(f) < 0)
		return -1;
	int r = allocate_locked(f, fd, mode, off, len);
	int saved = errno;
	fams_commit_unlock(f);
	errno = saved;
	return r;
}

int fams_on_fallocate(int fd, int mode, off_t off, off_t len, int *handled)
{
	*handled = 0;
	if (!fams_hint(fams_live))
		return 0;
	int saved = errno;
	struct fams_file *f = enter(fd, "fallocate", true, handled);
	return (int)registry_leave(f ? allocate_file(f, fd, mode, off, len) : NOT_DONE(*handled), saved);
}
