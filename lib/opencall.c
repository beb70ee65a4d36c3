/* opencall.c -- what open (and fopen) does: recovery runs before the program can
 * read the file, and the new descriptor joins the file's records (a managed file's,
 * joining the processes that use it if need be, or the refusal's when this process
 * may not join them). */
#include "fams.h"
#include "asynccommit.h"
#include "commit.h"
#include "dirty.h"
#include "elsewhere.h"
#include "fdtable.h"
#include "log.h"
#include "process.h"
#include "recover.h"
#include "registry.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>

/* Recovery before the program can read: report what it did; FAMS_OPEN_ELSEWHERE
 * when a live process holds the journal.  r and outcome from fams_recover_*. */
static int recovered(const char *path, int r, int outcome)
{
	if (r < 0)
		return -1; /* errno from recovery; the message is printed */
	if (outcome != FAMS_REC_NONE && outcome != FAMS_REC_BUSY)
		fams_info("%s: %s", path, fams_recovery_name(outcome));
	return outcome == FAMS_REC_BUSY ? FAMS_OPEN_ELSEWHERE : 0;
}

/* Whether open() with these flags is checked for a pending journal before the call
 * (O_TRUNC: the kernel truncates before fams sees the descriptor, and a rollback
 * after that would undo the truncation; not with O_PATH, which ignores it) rather than after it, from the descriptor
 * (no second walk of the path).  O_CREAT|O_EXCL makes a file no journal can name. */
static bool check_before(int flags) { return (flags & O_TRUNC) && !(flags & O_PATH); }
static bool check_after(int flags)
{
	return !(flags & (O_TRUNC | O_PATH)) && (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL);
}

int fams_before_open(int dirfd, const char *path, int flags)
{
	if (fams_hint(fams_down) || !path || !check_before(flags))
		return 0;
	int saved = errno;
	bool ours = false; /* this process manages the file (its journal lock is ours) */
	if (fams_hint(fams_live)) {
		/* Truncating a managed file through open(): its snapshots committed and its
		 * live journal retired first (the kernel truncates before we see the fd,
		 * outside any commit). */
		fams_lock();
		struct fams_file *f = registry_find_path(dirfd, path);
		if (f && !f->cut_off)
			async_drain(f);
		int r = f && !f->cut_off ? fams_file_before_truncate(f) : 0;
		fams_unlock();
		if (r < 0)
			return -1;
		ours = f != NULL;
		errno = saved;
	}
	int outcome = FAMS_REC_NONE;
	int r = fams_recover_path(dirfd, path, &outcome);
	r = recovered(path, r, outcome);
	if (r == FAMS_OPEN_ELSEWHERE && !ours) {
		/* The kernel would truncate the file under the other process's working
		 * copy: its later commits give the file its size back but write only the
		 * pages written since, so every other byte would be lost in silence. */
		fams_error("%s: open with O_TRUNC refused (EBUSY): other processes use this file under "
			   "fams, and the kernel would truncate it under them (ftruncate after open works)", path);
		errno = EBUSY;
		return -1;
	}
	if (r >= 0)
		errno = saved;
	return r;
}

/* What an open costs the program when no file is managed: one statx of the new
 * descriptor (the file's identity, which names its journal) and one faccessat of the
 * journal's name (a walk of the path's directory) -- about 600 ns here, against an
 * open+close of about 1.1 us.  There is no cheaper correct check: a journal left by
 * any process that crashed, at any time, must be found before the program reads,
 * and nothing short of looking in the directory says whether one is there (a cache
 * of "no journal here" goes stale the moment another process crashes; a cached
 * directory descriptor is not the directory a path names after a rename).  The
 * identity check of a vfork child (getpid) waits until the process's own records
 * are touched: recovery works on files only. */
int fams_after_open(int dirfd, const char *path, int fd, int flags, int before)
{
	if (fams_hint(fams_down) || fd < 0 || !path)
		return 0;
	int saved = errno;
	bool elsewhere = before == FAMS_OPEN_ELSEWHERE;
	if (check_after(flags)) {
		int outcome = FAMS_REC_NONE;
		int r = fams_recover_opened(dirfd, path, fd, &outcome);
		r = recovered(path, r, outcome);
		if (r < 0)
			return -1;
		elsewhere = r == FAMS_OPEN_ELSEWHERE;
	}
	if ((!fams_hint(fams_live) && !elsewhere) || !fams_same_process()) {
		errno = saved;
		return 0;
	}
	struct stat st;
	fams_lock();
	struct fd_slot *stale = fd_slot(fd, false);
	if (stale && !stale->internal && (stale->file || stale->elsewhere)) {
		/* The number was closed without close() (fclose, close_range): a new file now. */
		fd_point(stale, NULL);
		registry_retire_unused();
	}
	if ((registry_any() || elsewhere) && !(flags & O_PATH) && fams_raw_fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		struct fams_file *f = registry_find(st.st_dev, st.st_ino);
		/* Other processes use the file under fams: share it with them, so this
		 * descriptor reads and writes the bytes they see. */
		int refused = 0;
		if (!f && elsewhere && !(f = registry_manage(fd, &st)))
			refused = errno; /* 0: FAMS_INCLUDE/EXCLUDE leave it alone */
		struct fd_slot *s = f || refused ? fd_slot(fd, true) : NULL;
		if (s && f)
			fd_point(s, f);
		else if (s)
			elsewhere_mark_slot(s, refused);
		/* Linux truncates on O_TRUNC whatever the access mode (O_RDONLY too). */
		if (f && (flags & O_TRUNC) && !f->cut_off && f->sh->size &&
		    fams_commit_lock(f) == 0) {
			dirty_harvest_file(f, 0, UINT64_MAX);
			f->sh->data_size = 0; /* the kernel truncated it */
			fams_file_resize(f, 0);
			fams_commit_unlock(f);
		}
	}
	fams_unlock();
	errno = saved;
	return 0;
}

