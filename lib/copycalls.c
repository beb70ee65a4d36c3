/* copycalls.c -- what the interposed copy calls do when a managed file is one of
 * their ends: copy_file_range, sendfile, splice.  The kernel would copy to or from
 * the data file itself -- around the working copy, outside any commit (a torn file
 * after a crash, a reader seeing only committed bytes) -- so the copy is made with
 * reads and writes that go through fams (fams_on_read, fams_on_write), a chunk at a
 * time, as a program falling back from these calls would make it. */
#include "fams.h"
#include "elsewhere.h"
#include "fdframe.h"
#include "fdtable.h"
#include "process.h"
#include "registry.h"
#include "sys.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define COPY_CHUNK (64u << 10)

/* Whether fd names a managed file, or one this process is refused (its calls fail). */
static bool concerns_us(int fd)
{
	fams_lock();
	bool ours = fdframe_file(fd) != NULL;
	if (!ours && fams_hint(fams_any_elsewhere)) {
		struct fd_slot *s = fd_slot(fd, false);
		ours = s && s->elsewhere;
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

/* Write all n bytes to fd at pos (-1: at its file position), through fams if the
 * file is managed; the count written, short only after an error. */
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
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)w;
	}
	return (ssize_t)done;
}

ssize_t fams_on_copy(int in, off_t *off_in, int out, off_t *off_out, size_t len, int *handled)
{
	*handled = 0;
	if (!fams_hint(fams_live) || !fams_same_process() || (!concerns_us(in) && !concerns_us(out)))
		return 0;
	*handled = 1;
	if ((off_in && *off_in < 0) || (off_out && *off_out < 0)) {
		errno = EINVAL;
		return -1;
	}
	char *buf = malloc(len < COPY_CHUNK ? (len ? len : 1) : COPY_CHUNK);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	int saved = errno;
	size_t done = 0;
	ssize_t ret = 0;
	while (done < len) {
		size_t want = len - done < COPY_CHUNK ? len - done : COPY_CHUNK;
		ssize_t r = read_end(in, buf, want, off_in ? *off_in : -1);
		if (r <= 0) {
			ret = r;
			break;
		}
		ssize_t w = write_end(out, buf, (size_t)r, off_out ? *off_out : -1);
		if (w > 0) {
			if (off_in)
				*off_in += w;
			if (off_out)
				*off_out += w;
			done += (size_t)w;
		}
		if (w < r) {
			/* The bytes read but not written are not copied: give them back to
			 * the input's file position where it has one (not a pipe's). */
			if (!off_in)
				fams_raw_lseek(in, -(off_t)(r - (w > 0 ? w : 0)), SEEK_CUR);
			ret = -1;
			break;
		}
	}
	free(buf);
	if (done > 0 || ret == 0) {
		errno = saved;
		return (ssize_t)done;
	}
	return -1;
}
