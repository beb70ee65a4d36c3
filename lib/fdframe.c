/* fdframe.c -- the frame of every interposed call on a descriptor (fdframe.h). */
#include "fdframe.h"
#include "elsewhere.h"
#include "fdtable.h"
#include "registry.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>

struct fams_file *fdframe_file(int fd)
{
	bool dropped;
	struct fams_file *f = fd_file(fd, &dropped);
	if (dropped) /* its descriptor was closed behind our back: the file may be unused */
		registry_retire_unused();
	return f;
}

struct fams_file *fdframe_enter(int fd, const char *what, bool changes, int *handled)
{
	*handled = 0;
	fams_lock();
	struct fams_file *f = fdframe_file(fd);
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

int fdframe_flags_except(int fd, int refused)
{
	int fl = fams_raw_fcntl(fd, F_GETFL, 0);
	if (fl < 0 || (fl & O_ACCMODE) == refused) {
		errno = EBADF;
		return -1;
	}
	return fl;
}
