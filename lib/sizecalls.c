/* sizecalls.c -- what the interposed size calls do to a managed file: ftruncate,
 * truncate(path), fallocate.  The working copy takes a size change at once, the
 * data file at the next commit (commit.c); every call holds the registry lock
 * (fdframe_enter, registry_leave) and the file's commit lock (the size is shared). */
#include "fams.h"
#include "commit.h"
#include "dirty.h"
#include "fdframe.h"
#include "log.h"
#include "pagebits.h"
#include "process.h"
#include "registry.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <unistd.h>

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
	struct fams_file *f = fdframe_enter(fd, "ftruncate", true, handled);
	return (int)registry_leave(f ? truncate_file(f, fd, len) : FDFRAME_NOT_DONE(*handled), saved);
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
	struct fams_file *f = fdframe_enter(fd, "fallocate", true, handled);
	return (int)registry_leave(f ? allocate_file(f, fd, mode, off, len) : FDFRAME_NOT_DONE(*handled), saved);
}
