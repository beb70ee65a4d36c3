/* file.c -- one managed data file: its working copy, its page bitmaps, and taking
 * its journal when it becomes managed.  How its changes reach the data file is
 * commit.c's. */
#include "file.h"
#include "pagebits.h"
#include "config.h"
#include "log.h"
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
#include <unistd.h>

/* ---- bitmaps ---------------------------------------------------------------- */

int fams_file_bitmaps_fit(struct fams_file *f, uint64_t size)
{
	uint64_t need = pages_for(size);
	if (need <= f->bitmap_pages)
		return 0;
	uint64_t cap = f->bitmap_pages ? f->bitmap_pages : 64;
	while (cap < need)
		cap *= 2;
	size_t old_words = (size_t)(f->bitmap_pages / 64), words = (size_t)(cap / 64);
	uint64_t *d = realloc(f->dirty, words * 8);
	if (!d)
		return -1;
	f->dirty = d;
	uint64_t *s = realloc(f->suspect, words * 8);
	if (!s)
		return -1;
	f->suspect = s;
	memset(d + old_words, 0, (words - old_words) * 8);
	memset(s + old_words, 0, (words - old_words) * 8);
	f->bitmap_pages = cap;
	return 0;
}

void fams_file_mark(struct fams_file *f, uint64_t *bits, uint64_t off, uint64_t len)
{
	if (len == 0)
		return;
	pthread_mutex_lock(&f->lock);
	uint64_t first = page_of(off), last = pages_for(off + len);
	if (last > f->bitmap_pages)
		last = f->bitmap_pages;
	if (first < last)
		bits_set(bits, first, last, true);
	pthread_mutex_unlock(&f->lock);
}

/* ---- opening: journal first, then the working copy ------------------------------ */

/* Copy the data file's contents into the working copy, skipping holes so a sparse
 * file costs memory only for the data it holds. */
static int fill_working_copy(struct fams_file *f)
{
	off_t pos = 0, end = (off_t)f->size;
	char *buf = NULL;
	while (pos < end) {
		off_t data = fams_raw_lseek(f->data_fd, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break;
			data = pos; /* SEEK_DATA unsupported: copy everything */
		}
		if (data >= end)
			break;
		off_t hole = fams_raw_lseek(f->data_fd, data, SEEK_HOLE);
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

/* Open and lock f's journal, recover whatever commit it holds (so the data file is
 * in its last committed state before the working copy is filled from it), retire
 * it, and make it ready for commits. */
static int take_journal(struct fams_file *f, const char *path, const struct stat *st)
{
	bool created;
	if (fams_journal_open_locked(&f->j, path, st, &f->id, &created) < 0)
		return -1;
	if (!created && f->j.capacity > 0) {
		int outcome;
		if (fams_recover_locked(f->j.fd, f->data_fd, &f->id, path, 0, &outcome) < 0)
			goto fail;
		if (outcome != FAMS_REC_NONE) {
			fams_info("%s: %s", path, fams_recovery_name(outcome));
			/* Nothing in the journal may be applied again once we start committing. */
			if (fams_journal_retire(&f->j) < 0)
				goto fail;
		}
	}
	if (fams_journal_ready(&f->j, created) < 0)
		goto fail;
	return 0;
fail:
	fams_journal_abandon(&f->j, created);
	return -1;
}

struct fams_file *fams_file_open(int fd, const struct stat *st, const char *path)
{
	struct fams_file *f = calloc(1, sizeof *f);
	int saved;
	if (!f)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	f->data_fd = f->memfd = f->j.fd = f->j.dirfd = -1;
	f->key.dev = st->st_dev;
	f->key.ino = st->st_ino;
	snprintf(f->path, sizeof f->path, "%s", path);

	/* Our own open file description: the program's may carry O_APPEND (pwrite would
	 * append) or O_DIRECT, and may be closed at any time. */
	f->data_fd = fams_reopen(fd, O_RDWR | O_CLOEXEC);
	if (f->data_fd < 0)
		f->data_fd = fams_raw_fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (f->data_fd < 0 || fams_identity_of(f->data_fd, &f->id) < 0)
		goto fail;

	f->unlinked = st->st_nlink == 0;
	if (!f->unlinked && take_journal(f, path, st) < 0)
		goto fail;

	struct stat now;
	if (fams_raw_fstat(f->data_fd, &now) < 0)
		goto fail;
	f->size = (uint64_t)now.st_size;
	f->memfd = fams_raw_memfd_create("fams-working-copy", MFD_CLOEXEC);
	if (f->memfd < 0 || fams_raw_ftruncate(f->memfd, (off_t)f->size) < 0 || fams_file_bitmaps_fit(f, f->size) < 0 ||
	    fill_working_copy(f) < 0) {
		saved = errno;
		fams_error("%s: cannot build its working copy: %s", path, strerror(saved));
		errno = saved;
		goto fail;
	}
	fams_debug("managing %s (%llu bytes, journal %s)", path, (unsigned long long)f->size,
		   f->unlinked ? "none: file is unlinked" : f->j.name);
	return f;
fail:
	saved = errno;
	fams_file_close(f, 0);
	errno = saved;
	return NULL;
}

void fams_file_close(struct fams_file *f, int remove_journal)
{
	if (!f)
		return;
	fams_journal_release(&f->j, remove_journal);
	if (f->memfd >= 0)
		fams_raw_close(f->memfd);
	if (f->data_fd >= 0)
		fams_raw_close(f->data_fd);
	free(f->dirty);
	free(f->suspect);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

