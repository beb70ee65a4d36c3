/* elsewhere.c -- files another process manages.
 *
 * Until processes share a working copy, a process that is refused a mapping of a
 * file (another process manages it) must not read or write that file either: the
 * file holds only committed bytes while the other process's stores live in its
 * working copy, and a program falling back to pread/pwrite under its own locks
 * (tdb does) would work on a different image.  Its descriptors of the file are
 * marked; read, write, ftruncate, fallocate and mmap through them fail with EBUSY
 * (an error programs report rather than retry, as for the refused mmap) for as
 * long as the other process manages the file.  Marks are made when open() finds
 * the file's journal held, and when managing the file is refused. */
#include "elsewhere.h"
#include "fams.h"
#include "fdtable.h"
#include "journal.h"
#include "log.h"
#include "registry.h"
#include "sys.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>

bool fams_any_elsewhere;

/* Whether fd's file (st) is managed by another live process (its journal is held);
 * the file's path is left in path. */
static bool held_elsewhere(int fd, const struct stat *st, char *path, size_t cap)
{
	struct fams_identity id;
	if (registry_find(st->st_dev, st->st_ino) || st->st_nlink == 0)
		return false; /* ours, or unlinked: an unlinked file has no journal */
	return fams_fd_path(fd, path, cap) > 0 && fams_identity_at(fd, "", &id) == 0 &&
	       fams_journal_held(path, &id);
}

void elsewhere_mark_slot(struct fd_slot *s)
{
	s->elsewhere = true;
	__atomic_store_n(&fams_any_elsewhere, true, __ATOMIC_RELEASE);
	__atomic_store_n(&fams_live, 1, __ATOMIC_RELEASE);
}

static void mark_descriptor(struct fd_slot *s, void *unused)
{
	if (!s->file)
		elsewhere_mark_slot(s);
}

/* Mark every descriptor of the file st describes as one of a file managed elsewhere. */
void elsewhere_mark(const struct stat *st) { fd_each_of(st->st_dev, st->st_ino, mark_descriptor, NULL); }

/* Whether the refusal for file st was reported already (once per file; the last
 * few files are remembered, the log's own cap bounds the rest). */
static bool told_before(const struct stat *st)
{
	static struct fams_file_key told[16];
	static unsigned next;
	struct fams_file_key k = { .dev = st->st_dev, .ino = st->st_ino };
	for (unsigned i = 0; i < sizeof told / sizeof told[0]; i++)
		if (told[i].dev == k.dev && told[i].ino == k.ino)
			return true;
	told[next++ % (sizeof told / sizeof told[0])] = k;
	return false;
}

/* If fd is marked and its file is still managed elsewhere, refuse `what` with EBUSY
 * (reported once per file); if the other process is gone, clear the mark. */
bool elsewhere_refused(int fd, const char *what)
{
	struct fd_slot *s = fd_slot(fd, false);
	struct stat st;
	if (!s || !s->elsewhere)
		return false;
	char path[PATH_MAX];
	if (fams_raw_fstat(fd, &st) < 0 || !held_elsewhere(fd, &st, path, sizeof path)) {
		s->elsewhere = false;
		return false;
	}
	if (!told_before(&st))
		fams_error("%s: %s refused (EBUSY), and every later read, write or mapping of it while another "
			   "process manages it: sharing a file between processes is not supported, and this "
			   "process would see or change a different image of it", path, what);
	errno = EBUSY;
	return true;
}
