/* fdtable.c -- what fams knows of each descriptor number of this process. */
#include "fdtable.h"
#include "sys.h"
#include "tracker.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct fd_slot *g_fds; /* indexed by descriptor number */
static int g_fds_cap;

struct fd_slot *fd_slot(int fd, bool create)
{
	if (fd < 0)
		return NULL;
	if (fd >= g_fds_cap) {
		if (!create)
			return NULL;
		int cap = g_fds_cap ? g_fds_cap : 256;
		while (cap <= fd)
			cap *= 2;
		struct fd_slot *s = realloc(g_fds, (size_t)cap * sizeof *s);
		if (!s)
			return NULL;
		memset(s + g_fds_cap, 0, (size_t)(cap - g_fds_cap) * sizeof *s);
		g_fds = s;
		g_fds_cap = cap;
	}
	return &g_fds[fd];
}

/* Point a program descriptor's slot at managed file f (NULL: at none), keeping
 * f->nfds: a file stays managed while the program has a mapping or a descriptor
 * of it (retire_unused). */
void fd_point(struct fd_slot *s, struct fams_file *f)
{
	if (s->file)
		s->file->nfds--;
	s->file = f;
	if (f)
		f->nfds++;
	s->elsewhere = 0;
}

void fd_internal_add(int *where)
{
	struct fd_slot *s = *where >= 0 ? fd_slot(*where, true) : NULL;
	if (s) {
		fd_point(s, NULL);
		s->internal = where;
	}
}

void fd_internal_drop(int fd)
{
	struct fd_slot *s = fd_slot(fd, false);
	if (s)
		s->internal = NULL;
}

/* Mark the descriptors at fds[0..n) ours (add), or forget them. */
static void internals(int *const *fds, size_t n, bool add)
{
	for (size_t i = 0; i < n; i++) {
		if (*fds[i] < 0)
			continue;
		if (add)
			fd_internal_add(fds[i]);
		else
			fd_internal_drop(*fds[i]);
	}
}

void fd_file_internals(struct fams_file *f, bool add)
{
	int *fds[] = { &f->data_fd, &f->memfd, &f->state_fd, &f->j.fd, &f->j.dirfd, &f->j.direct_fd };
	internals(fds, sizeof fds / sizeof fds[0], add);
}

void fd_tracker_internals(bool add)
{
	int *fds[3];
	fams_tracker_fd_slots(&fds[0], &fds[1], &fds[2]);
	internals(fds, 3, add);
}

struct fams_file *fd_file(int fd, bool *dropped)
{
	struct fd_slot *s = fd_slot(fd, false);
	*dropped = false;
	if (!s || !s->file)
		return NULL;
	/* Asked at every call on a managed descriptor (fsync among them): no times. */
	struct fams_untimed now;
	if (fams_file_untimed(fd, &now) == 0 && now.dev == s->file->key.dev && now.ino == s->file->key.ino)
		return s->file;
	fd_point(s, NULL);
	*dropped = true;
	return NULL;
}

void fd_each_of(dev_t dev, ino_t ino, void (*fn)(struct fd_slot *s, void *ctx), void *ctx)
{
	char buf[4096];
	int dir = fams_sys.os_openat(AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dir < 0)
		return;
	for (;;) {
		long n = fams_raw_getdents64(dir, buf, sizeof buf);
		if (n <= 0)
			break;
		for (long pos = 0; pos < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + pos);
			pos += d->d_reclen;
			char *end;
			long fd = strtol(d->d_name, &end, 10);
			if (*end || end == d->d_name || fd == dir)
				continue;
			struct fd_slot *s = fd_slot((int)fd, true);
			struct stat st;
			if (!s || s->internal || fams_raw_fstat((int)fd, &st) < 0)
				continue;
			if (S_ISREG(st.st_mode) && st.st_dev == dev && st.st_ino == ino)
				fn(s, ctx);
		}
	}
	fams_raw_close(dir);
}

static void adopt_descriptor(struct fd_slot *s, void *f) { fd_point(s, f); }

void fd_adopt_all(struct fams_file *f)
{
	fd_each_of(f->key.dev, f->key.ino, adopt_descriptor, f);
}

void fd_forget_file(struct fams_file *f)
{
	for (int fd = 0; fd < g_fds_cap; fd++)
		if (g_fds[fd].file == f)
			fd_point(&g_fds[fd], NULL);
}

void fd_forget_all(void)
{
	for (int fd = 0; fd < g_fds_cap; fd++)
		fd_point(&g_fds[fd], NULL);
}
