/* elsewhere.c -- files other processes use under fams that this one could not join.
 *
 * A process under fams that opens or maps a file others use shares their working
 * copy (member.h).  When it may not (the others belong to another user or cannot
 * be inspected: EACCES; 64 processes share it already: EUSERS; they cannot be
 * reached: EBUSY), it must not read or write that file either: the file holds
 * only committed bytes while their stores live in the working copy, and a program
 * falling back to pread/pwrite under its own locks (tdb does) would work on a
 * different image.  Its descriptors of the file are marked; read, write,
 * ftruncate, fallocate and mmap through them fail with that errno (errors
 * programs report rather than retry) for as long as the others use the file. */
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
#include <string.h>

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

void elsewhere_mark_slot(struct fd_slot *s, int err)
{
	s->elsewhere = err ? err : EBUSY;
	__atomic_store_n(&fams_any_elsewhere, true, __ATOMIC_RELEASE);
	__atomic_store_n(&fams_live, 1, __ATOMIC_RELEASE);
}

static void mark_descriptor(struct fd_slot *s, void *err)
{
	if (!s->file)
		elsewhere_mark_slot(s, *(int *)err);
}

void elsewhere_mark(const struct stat *st, int err) { fd_each_of(st->st_dev, st->st_ino, mark_descriptor, &err); }

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
		s->elsewhere = 0;
		return false;
	}
	if (!told_before(&st))
		fams_error("%s: %s refused (%s), and every later read, write or mapping of it while the "
			   "processes using it under fams do: this process could not share it with them, and "
			   "would see or change a different image of it", path, what, strerror(s->elsewhere));
	errno = s->elsewhere;
	return true;
}
