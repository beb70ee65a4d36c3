/* statcalls.c -- the size the program sees of a managed file, through the stat
 * family and lseek: its working copy's.  Size changes by the program (ftruncate,
 * fallocate, writes past the end) are the working copy's at once; the data file
 * may take them only at the next commit point, so the kernel's answer about the
 * data file can be the committed size, which the program never set. */
#include "fams.h"
#include "fdframe.h"
#include "process.h"
#include "registry.h"
#include "sys.h"

#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

/* f's working-copy size.  It changes under the commit lock, which a reader that
 * only reports it need not take: it is one aligned word, never seen torn, and a
 * size read while another thread resizes races as the kernel's stat would. */
static off_t working_size(const struct fams_file *f)
{
	return (off_t)__atomic_load_n(&f->sh->size, __ATOMIC_RELAXED);
}

/* Whether f's size is the working copy's to report: not in a forked child cut off
 * from it, whose mappings are private snapshots and whose changes are refused (it
 * sees the data file's, as without fams). */
static bool reports_size(const struct fams_file *f) { return f && !f->cut_off; }

void fams_on_stat(dev_t dev, ino_t ino, off_t *size)
{
	if (!fams_hint(fams_live) || !registry_any())
		return;
	int saved = errno;
	fams_lock();
	struct fams_file *f = registry_find(dev, ino);
	if (reports_size(f))
		*size = working_size(f);
	fams_unlock();
	errno = saved;
}

/* SEEK_END from the working copy's end.  The kernel then checks the position and
 * sets it (SEEK_SET): a negative one or one past the file system's largest file is
 * EINVAL, as its own SEEK_END says; an end that overflows off_t wraps negative in
 * the kernel, so EINVAL here too (never EOVERFLOW on a 64-bit off_t). */
static off_t seek_end(struct fams_file *f, int fd, off_t off)
{
	off_t pos;
	if (__builtin_add_overflow(working_size(f), off, &pos)) {
		errno = EINVAL;
		return -1;
	}
	return fams_raw_lseek(fd, pos, SEEK_SET);
}

/* SEEK_DATA/SEEK_HOLE: asked of the working copy (written bytes reach the data
 * file at commit, so its holes may be stale), which gives ENXIO at or past its
 * end; the program's descriptor then moves there.  This moves the working copy's
 * own file position too, which only fill_working_copy uses, before anyone can
 * reach the file. */
static off_t seek_data_hole(struct fams_file *f, int fd, off_t off, int whence)
{
	off_t pos = fams_raw_lseek(f->memfd, off, whence);
	return pos < 0 ? -1 : fams_raw_lseek(fd, pos, SEEK_SET);
}

off_t fams_on_lseek(int fd, off_t off, int whence, int *handled)
{
	*handled = 0;
	/* SEEK_SET and SEEK_CUR do not depend on the size: the kernel's own. */
	if (!fams_hint(fams_live) || (whence != SEEK_END && whence != SEEK_DATA && whence != SEEK_HOLE))
		return 0;
	if (!fams_same_process()) /* a vfork child: the parent's records are not ours to change */
		return 0;
	int saved = errno;
	fams_lock();
	struct fams_file *f = fdframe_file(fd);
	off_t r = 0;
	if (reports_size(f)) {
		*handled = 1;
		r = whence == SEEK_END ? seek_end(f, fd, off) : seek_data_hole(f, fd, off, whence);
	}
	return (off_t)registry_leave(r, saved);
}
