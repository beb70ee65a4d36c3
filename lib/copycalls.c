/* copycalls.c -- what the interposed copy calls do when a managed file is one of
 * their ends: copy_file_range, sendfile, splice.  The kernel would copy to or from
 * the data file itself -- around the working copy, outside any commit (a torn file
 * after a crash, a reader seeing only committed bytes) -- so the copy is made with
 * reads and writes that go through fams (fams_on_read, fams_on_write), a chunk at a
 * time, as a program falling back from these calls would make it.  The kernel's
 * checks of the arguments come first, with its errnos; a pipe or socket end is read
 * once and a pipe written no more than it holds, so a call returns when the
 * kernel's would rather than wait for more. */
#include "fams.h"
#include "elsewhere.h"
#include "fdframe.h"
#include "fdtable.h"
#include "process.h"
#include "registry.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_CHUNK (64u << 10)

/* Whether in or out names a managed file, or one this process is refused. */
static bool concerns_us(int in, int out)
{
	fams_lock();
	bool ours = fdframe_file(in) || fdframe_file(out);
	if (!ours && fams_hint(fams_any_elsewhere)) {
		struct fd_slot *a = fd_slot(in, false), *b = fd_slot(out, false);
		ours = (a && a->elsewhere) || (b && b->elsewhere);
	}
	fams_unlock();
	return ours;
}

/* Read up to n bytes of fd at pos (-1: at its file position), through fams if the
 * file is managed. */
static ssize_t read_end(int fd, void *buf, size_t n, off_t pos)
{
	struct iovec v = { buf, n };
	int handled;
	ssize_t r = fams_on_read(fd, &v, 1, pos, &handled);
	if (handled)
		return r;
	return pos < 0 ? fams_raw_read(fd, buf, n) : fams_raw_pread(fd, buf, n, pos);
}

/* Write n bytes to fd at pos (-1: at its file position), through fams if the file
 * is managed; the count written, short when an error (a signal, a full socket)
 * stopped it. */
static ssize_t write_end(int fd, const char *buf, size_t n, off_t pos)
{
	size_t done = 0;
	while (done < n) {
		struct iovec v = { (void *)(buf + done), n - done };
		int handled;
		off_t at = pos < 0 ? -1 : pos + (off_t)done;
		ssize_t w = fams_on_write(fd, &v, 1, at, &handled);
		if (!handled)
			w = at < 0 ? fams_raw_write(fd, buf + done, n - done) : fams_raw_pwrite(fd, buf + done, n - done, at);
		if (w <= 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)w;
	}
	return (ssize_t)done;
}

/* The kernel's checks of a copy's ends, with its errnos; 0 when they pass. */
static int check_ends(enum fams_copy kind, int in, const off_t *off_in, int out, const off_t *off_out, size_t len,
		      const struct stat *si, const struct stat *so)
{
	int fi = fams_raw_fcntl(in, F_GETFL, 0), fo = fams_raw_fcntl(out, F_GETFL, 0);
	if (fi < 0 || fo < 0 || (fi & O_ACCMODE) == O_WRONLY || (fo & O_ACCMODE) == O_RDONLY)
		return EBADF;
	if ((off_in && *off_in < 0) || (off_out && *off_out < 0))
		return EINVAL;
	switch (kind) {
	case FAMS_COPY_RANGE:
		if (!S_ISREG(si->st_mode) || !S_ISREG(so->st_mode))
			return EINVAL;
		if (fo & O_APPEND)
			return EBADF;
		if (si->st_dev == so->st_dev && si->st_ino == so->st_ino) {
			off_t a = off_in ? *off_in : fams_raw_lseek(in, 0, SEEK_CUR);
			off_t b = off_out ? *off_out : fams_raw_lseek(out, 0, SEEK_CUR);
			if (a < 0 || b < 0 || (a < b + (off_t)len && b < a + (off_t)len))
				return EINVAL; /* overlapping ranges of one file */
		}
		return 0;
	case FAMS_SENDFILE:
		return (fo & O_APPEND) ? EINVAL : 0;
	case FAMS_SPLICE:
		if (!S_ISFIFO(si->st_mode) && !S_ISFIFO(so->st_mode))
			return EINVAL;
		if ((S_ISFIFO(si->st_mode) && off_in) || (S_ISFIFO(so->st_mode) && off_out))
			return ESPIPE;
		return 0;
	}
	return EINVAL;
}

/* How much of len one call may move: into a pipe, no more than it has room for
 * (a full pipe: one chunk, to wait for room as the kernel would, or EAGAIN with
 * nonblock).  0 with errno when it must not wait. */
static size_t room_for(int out, const struct stat *so, size_t len, bool nonblock)
{
	if (!S_ISFIFO(so->st_mode))
		return len;
	int size = fams_raw_fcntl(out, F_GETPIPE_SZ, 0), queued = 0;
	if (size > 0 && fams_raw_ioctl(out, FIONREAD, &queued) == 0 && queued < size)
		return len < (size_t)(size - queued) ? len : (size_t)(size - queued);
	if (nonblock) {
		errno = EAGAIN;
		return 0;
	}
	return len < 4096 ? len : 4096;
}

ssize_t fams_on_copy(enum fams_copy kind, int in, off_t *off_in, int out, off_t *off_out, size_t len, bool nonblock,
		     int *handled)
{
	*handled = 0;
	if (!fams_hint(fams_live) || !concerns_us(in, out) || !fams_same_process())
		return 0;
	*handled = 1;
	struct stat si, so;
	if (fams_raw_fstat(in, &si) < 0 || fams_raw_fstat(out, &so) < 0) {
		errno = EBADF;
		return -1;
	}
	int err = check_ends(kind, in, off_in, out, off_out, len, &si, &so);
	if (err) {
		errno = err;
		return -1;
	}
	int saved = errno;
	if (len == 0)
		return 0;
	size_t cap = room_for(out, &so, len, nonblock);
	if (cap == 0)
		return -1;
	/* An empty pipe or socket: the kernel would wait, or not with nonblock. */
	if (!S_ISREG(si.st_mode) && nonblock && fams_raw_readable(in) == 0) {
		errno = EAGAIN;
		return -1;
	}
	char *buf = malloc(cap < COPY_CHUNK ? cap : COPY_CHUNK);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	size_t done = 0;
	ssize_t r = 0, w = 0;
	while (done < cap) {
		size_t want = cap - done < COPY_CHUNK ? cap - done : COPY_CHUNK;
		r = read_end(in, buf, want, off_in ? *off_in : -1);
		if (r <= 0)
			break;
		w = write_end(out, buf, (size_t)r, off_out ? *off_out : -1);
		if (w > 0) {
			if (off_in)
				*off_in += w;
			if (off_out)
				*off_out += w;
			done += (size_t)w;
		}
		if (w < r) {
			/* Bytes read and not written go back to the input's position (a file's;
			 * a pipe's or a socket's are gone, as after a failed write of them). */
			int e = errno;
			if (!off_in && S_ISREG(si.st_mode))
				fams_raw_lseek(in, -(off_t)(r - (w > 0 ? w : 0)), SEEK_CUR);
			errno = e;
			break;
		}
		if (!S_ISREG(si.st_mode))
			break; /* a pipe or socket is read once: what was there */
	}
	free(buf);
	if (done > 0 || (r >= 0 && w >= 0)) {
		errno = saved;
		return (ssize_t)done;
	}
	return -1;
}
