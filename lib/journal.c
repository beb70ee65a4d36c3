/* journal.c -- journal location, creation, locking, growth and invalidation. */
#include "journal.h"
#include "config.h"
#include "log.h"
#include "sys.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

/* Where the file system keeps no birth time: the inode's generation number, which
 * changes when an inode number is given to a new file (ext4, XFS, Btrfs), or 0
 * where there is none either.  ioctl needs a real descriptor: fd itself, or, for
 * a path, one opened for the moment (the only case where fams opens and closes a
 * descriptor of a file around the program's: on such file systems only, and only
 * for O_TRUNC opens and `famsrun --recover`). */
static int generation_of(int dirfd, const char *path, uint64_t *birth)
{
	int fd = dirfd, own = path[0] != '\0';
	if (own) {
		fd = fams_sys.os_openat(dirfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
		if (fd < 0 && errno == EACCES)
			fd = fams_sys.os_openat(dirfd, path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
		if (fd < 0)
			return -1;
	}
	int gen = 0;
	int r = fams_raw_ioctl(fd, FS_IOC_GETVERSION, &gen);
	int saved = errno;
	if (own)
		fams_raw_close(fd);
	if (r < 0 && saved != ENOTTY && saved != EOPNOTSUPP && saved != EINVAL) {
		errno = saved;
		return -1;
	}
	*birth = r < 0 ? 0 : (uint64_t)(uint32_t)gen;
	return 0;
}

/* Inode and birth of path (relative to dirfd; "" with AT_EMPTY_PATH: dirfd itself). */
static int inode_and_birth(int dirfd, const char *path, int flags, struct fams_identity *id)
{
	struct statx stx;
	if (fams_raw_statx(dirfd, path, flags | AT_STATX_SYNC_AS_STAT, STATX_TYPE | STATX_INO | STATX_BTIME,
			   &stx) < 0)
		return -1;
	if (!S_ISREG(stx.stx_mode)) {
		errno = EINVAL;
		return -1;
	}
	id->ino = stx.stx_ino;
	if (stx.stx_mask & STATX_BTIME) {
		id->birth = (uint64_t)stx.stx_btime.tv_sec * 1000000000u + stx.stx_btime.tv_nsec;
		return 0;
	}
	return generation_of(dirfd, path, &id->birth);
}

static int fsid_of(int fd, uint64_t *fsid)
{
	struct statfs sf;
	if (fams_raw_fstatfs(fd, &sf) < 0)
		return -1;
	memcpy(fsid, &sf.f_fsid, sizeof *fsid);
	return 0;
}

int fams_identity_of(int fd, struct fams_identity *id)
{
	if (inode_and_birth(fd, "", AT_EMPTY_PATH, id) < 0 || fsid_of(fd, &id->fsid) < 0)
		return -1;
	/* For the journal's header: where no generation can be had, 0 (as an older
	 * header records). */
	int gen = 0;
	id->gen = fams_raw_ioctl(fd, FS_IOC_GETVERSION, &gen) == 0 ? (uint64_t)(uint32_t)gen : 0;
	return 0;
}

int fams_identity_at(int dirfd, const char *path, struct fams_identity *id)
{
	id->fsid = 0;
	id->gen = 0; /* a name needs none */
	if (!path[0]) /* dirfd is the file itself */
		return inode_and_birth(dirfd, "", AT_EMPTY_PATH, id) < 0 ||
				       (fams_cfg.journal_dir[0] && fsid_of(dirfd, &id->fsid) < 0)
			       ? -1 : 0;
	if (inode_and_birth(dirfd, path, 0, id) < 0)
		return -1;
	if (!fams_cfg.journal_dir[0])
		return 0;
	/* statfs by path has no *at form: an O_PATH descriptor serves. */
	int fd = fams_sys.os_openat(dirfd, path, O_PATH | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int r = fsid_of(fd, &id->fsid);
	fams_raw_close(fd);
	return r;
}

/* A string being built in [*at, end): each put appends, or fails when it would
 * not fit with its terminating zero.  (Not snprintf: open() names a journal at every
 * call, and the formatter cost a third of what fams adds to it.) */
struct text {
	char *at, *end;
};

static bool put(struct text *t, const char *s, size_t n)
{
	if ((size_t)(t->end - t->at) <= n)
		return false;
	memcpy(t->at, s, n);
	t->at += n;
	*t->at = '\0';
	return true;
}

static bool put_decimal(struct text *t, uint64_t v)
{
	char buf[20];
	size_t i = sizeof buf;
	do
		buf[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return put(t, buf + i, sizeof buf - i);
}

static bool put_hex16(struct text *t, uint64_t v)
{
	char buf[16];
	for (int i = 15; i >= 0; i--, v >>= 4)
		buf[i] = "0123456789abcdef"[v & 15];
	return put(t, buf, sizeof buf);
}

/* The journal's directory (into t), as fams_journal_locate names it. */
static bool put_dir(struct text *t, const char *data_path)
{
	if (fams_cfg.journal_dir[0])
		return put(t, fams_cfg.journal_dir, strlen(fams_cfg.journal_dir));
	const char *slash = strrchr(data_path, '/');
	if (!slash)
		return put(t, ".", 1);
	return slash == data_path ? put(t, "/", 1) : put(t, data_path, (size_t)(slash - data_path));
}

/* The journal's name (into t), as fams_journal_locate names it: in a directory of
 * journals, the file system's id first; beside the file, hidden. */
static bool put_name(struct text *t, const struct fams_identity *id)
{
	bool first = fams_cfg.journal_dir[0] ? put_hex16(t, id->fsid) && put(t, "-", 1) : put(t, ".", 1);
	return first && put_decimal(t, id->ino) && put(t, "-", 1) && put_hex16(t, id->birth) &&
	       put(t, FAMS_JOURNAL_SUFFIX, strlen(FAMS_JOURNAL_SUFFIX));
}

int fams_journal_locate(const char *data_path, const struct fams_identity *id, char *dir,
			size_t dir_cap, char *name, size_t name_cap)
{
	struct text d = { dir, dir + dir_cap }, n = { name, name + name_cap };
	if (put_dir(&d, data_path) && put_name(&n, id))
		return 0;
	errno = ENAMETOOLONG;
	return -1;
}

int fams_journal_path(const char *data_path, const struct fams_identity *id, char *out, size_t cap)
{
	struct text t = { out, out + cap };
	if (put_dir(&t, data_path) && put(&t, "/", 1) && put_name(&t, id))
		return 0;
	errno = ENAMETOOLONG;
	return -1;
}

int fams_journal_names(int dirfd, const char *name, int fd, struct stat *st)
{
	struct stat b;
	return fams_raw_fstat(fd, st) == 0 && fams_raw_fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	       st->st_ino == b.st_ino && st->st_dev == b.st_dev;
}

/* Set an OFD lock of type on all of fd (cmd F_OFD_SETLK or, to wait, F_OFD_SETLKW). */
static int ofd_lock(int fd, int cmd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	int r;
	while ((r = fams_raw_fcntl(fd, cmd, (long)&fl)) < 0 && errno == EINTR)
		;
	return r;
}

int fams_journal_lock(int fd)
{
	if (ofd_lock(fd, F_OFD_SETLK, F_WRLCK) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		errno = EBUSY;
	return -1;
}

int fams_journal_share(struct fams_journal *j) { return ofd_lock(j->fd, F_OFD_SETLK, F_RDLCK); }

bool fams_journal_last(struct fams_journal *j)
{
	if (j->fd < 0)
		return false;
	if (ofd_lock(j->fd, F_OFD_SETLK, F_WRLCK) == 0)
		return true;
	/* Members leaving at the same moment would each fail while the others still
	 * hold their read locks, and all leave the journal behind: drop ours, then try
	 * again.  Each tries after dropping its own, so the last of them to try finds
	 * the others gone. */
	return ofd_lock(j->fd, F_OFD_SETLK, F_UNLCK) == 0 && ofd_lock(j->fd, F_OFD_SETLK, F_WRLCK) == 0;
}

int fams_journal_lock_for_child(const struct fams_journal *j)
{
	int fd = fams_reopen(j->fd, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* We hold a read lock: no write lock can be held, so this cannot wait. */
	if (ofd_lock(fd, F_OFD_SETLK, F_RDLCK) < 0) {
		int saved = errno;
		fams_raw_close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void fams_journal_adopt(struct fams_journal *j, int fd)
{
	fams_raw_close(j->fd); /* the parent's description: closing our copy keeps its lock */
	j->fd = fd;
}

int fams_journal_get_rendezvous(const struct fams_journal *j, struct fams_rendezvous *r)
{
	size_t n = FAMS_RENDEZVOUS_SLOTS * sizeof *r;
	ssize_t got = fams_raw_pread(j->fd, r, n, FAMS_RENDEZVOUS_OFFSET);
	if (got < 0)
		return -1;
	memset((char *)r + got, 0, n - (size_t)got);
	return 0;
}

int fams_journal_put_rendezvous(const struct fams_journal *j, int i, const struct fams_rendezvous *r)
{
	/* Not durable, and not through fams_sys: it is no part of a commit's state. */
	off_t at = FAMS_RENDEZVOUS_OFFSET + (off_t)i * (off_t)sizeof *r;
	return fams_raw_pwrite(j->fd, r, sizeof *r, at) == (ssize_t)sizeof *r ? 0 : -1;
}

int fams_journal_held(const char *data_path, const struct fams_identity *id)
{
	char full[PATH_MAX + NAME_MAX + 2];
	if (fams_journal_path(data_path, id, full, sizeof full) < 0)
		return 0;
	int fd = fams_sys.os_openat(AT_FDCWD, full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int held = fams_journal_in_use(fd);
	fams_raw_close(fd);
	return held;
}

bool fams_journal_in_use(int fd)
{
	/* F_OFD_GETLK asks whether our write lock could be placed; it needs no write
	 * access, so a reader can ask too. */
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	return fams_raw_fcntl(fd, F_OFD_GETLK, (long)&fl) == 0 && fl.l_type != F_UNLCK;
}

int fams_journal_reserve(struct fams_journal *j, uint64_t bytes)
{
	if (bytes <= j->st->capacity)
		return 0;
	if (bytes > fams_cfg.journal_max) {
		errno = ENOSPC;
		return -1;
	}
	/* Grow geometrically so a run of growing commits does not reallocate each time. */
	uint64_t want = j->st->capacity ? j->st->capacity : fams_cfg.journal_size;
	while (want < bytes)
		want *= 2;
	if (want > fams_cfg.journal_max)
		want = fams_cfg.journal_max;
	/* The new size becomes durable with the journal flush of the commit that needs it. */
	if (fams_allocate(j->fd, 0, 0, (off_t)want) < 0) {
		if (errno != EOPNOTSUPP && errno != ENOSYS)
			return -1;
		if (fams_truncate(j->fd, (off_t)want) < 0)
			return -1;
	}
	j->st->capacity = want;
	return 0;
}

int fams_journal_retire(struct fams_journal *j)
{
	static const struct fams_jheader zero;
	j->st->disk &= ~FAMS_JDISK_HOLDS_NOTHING; /* until the zeros are durable */
	if (fams_pwrite_full(j->fd, &zero, sizeof zero, 0) < 0 || fams_flush(j->fd) < 0) {
		/* The zeros may be in the page cache, or on disk, or not: a redo log's
		 * next record must not go on under them (commit.c checkpoints first). */
		j->st->live = FAMS_JLIVE_UNKNOWN;
		return -1;
	}
	j->st->live = FAMS_JLIVE_NONE;
	j->st->disk |= FAMS_JDISK_HOLDS_NOTHING;
	j->st->redo_epoch = j->st->redo_tail = j->st->redo_index = 0;
	return 0;
}

int fams_journal_invalidate(struct fams_journal *j)
{
	return j->fd < 0 || j->st->live == FAMS_JLIVE_NONE ? 0 : fams_journal_retire(j);
}

int fams_journal_open_member(struct fams_journal *j, const char *data_path, const struct stat *data_st,
			     const struct fams_identity *id, bool *created, bool *alone)
{
	char *dir = j->dir;
	int saved;
	*created = *alone = false;
	j->fd = j->dirfd = j->direct_fd = -1;
	j->own = (struct fams_jcounters){ 0 };
	j->st = &j->own;
	if (fams_journal_locate(data_path, id, j->dir, sizeof j->dir, j->name, sizeof j->name) < 0)
		return -1;
	j->dirfd = fams_sys.os_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (j->dirfd < 0) {
		fams_error("cannot open journal directory %s: %s", dir, strerror(errno));
		return -1;
	}
	for (int attempt = 0;; attempt++) {
		int fd = fams_sys.os_openat(j->dirfd, j->name, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
		if (fd < 0 && errno == ENOENT) {
			/* No wider than the data file: the journal holds its old bytes. */
			fd = fams_sys.os_openat(j->dirfd, j->name,
						O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
						data_st->st_mode & 0666);
			*created = fd >= 0;
			if (fd < 0 && errno == EEXIST && attempt < 8)
				continue;
		}
		if (fd < 0) {
			saved = errno;
			fams_error("cannot create or open journal %s/%s: %s; the file is not mapped writable "
				   "without one (FAMS_JOURNAL_DIR can place journals elsewhere)",
				   dir, j->name, strerror(saved));
			goto fail;
		}
		j->fd = fd;
		/* Alone, or else wait for a read lock: a write lock is held only while one
		 * process sets the file up, recovers it or removes its journal, briefly. */
		*alone = fams_journal_lock(fd) == 0;
		if (!*alone && (errno != EBUSY || ofd_lock(fd, F_OFD_SETLKW, F_RDLCK) < 0)) {
			saved = errno;
			fams_error("cannot lock journal %s/%s: %s", dir, j->name, strerror(saved));
			goto fail;
		}
		/* The name may have been unlinked and recreated (by a recovering process, or
		 * the last one leaving) between our open and our lock: hold the lock on the
		 * file the name names. */
		struct stat a;
		if (fams_journal_names(j->dirfd, j->name, fd, &a)) {
			if (!S_ISREG(a.st_mode)) {
				saved = EUCLEAN;
				fams_error("journal %s/%s is not a regular file", dir, j->name);
				goto fail;
			}
			j->own.capacity = (uint64_t)a.st_size;
			j->direct_fd = fams_reopen(fd, O_RDWR | O_DIRECT | O_CLOEXEC);
			j->direct_ok = j->direct_fd >= 0;
			return 0;
		}
		fams_raw_close(fd);
		j->fd = -1;
		*created = *alone = false;
		if (attempt >= 8) {
			saved = EBUSY;
			fams_error("journal %s/%s keeps changing under us", dir, j->name);
			goto fail;
		}
	}
fail:
	fams_journal_abandon(j, *created);
	errno = saved;
	return -1;
}

int fams_journal_ready(struct fams_journal *j, bool created)
{
	if (j->st->capacity < fams_cfg.journal_size && fams_journal_reserve(j, fams_cfg.journal_size) < 0) {
		/* Preallocation is an optimisation; growth at commit time reports for real. */
		fams_debug("cannot preallocate journal %s: %s", j->name, strerror(errno));
	}
	/* A new file reads as zeros after any crash: it holds nothing.  One found
	 * here (left by a crash, recovered and retired) is known empty only if the
	 * retirement's flush said so; its name's durability is not known either. */
	if (created)
		j->st->disk |= FAMS_JDISK_HOLDS_NOTHING;
	return 0;
}

int fams_journal_sync_name(struct fams_journal *j)
{
	if (j->st->disk & FAMS_JDISK_NAME_SYNCED)
		return 0;
	if (fams_fsync_dir_of(j->dirfd) < 0) {
		int saved = errno;
		fams_error("cannot sync journal directory %s: %s", j->dir, strerror(saved));
		errno = saved;
		return -1;
	}
	j->st->disk |= FAMS_JDISK_NAME_SYNCED;
	return 0;
}

/* Close the journal's descriptors that are open: itself, its O_DIRECT one, its
 * directory. */
static void close_descriptors(struct fams_journal *j)
{
	int *fds[] = { &j->fd, &j->direct_fd, &j->dirfd };
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
		if (*fds[i] >= 0)
			fams_raw_close(*fds[i]);
		*fds[i] = -1;
	}
}

void fams_journal_abandon(struct fams_journal *j, bool created)
{
	int saved = errno;
	if (j->fd >= 0 && created)
		fams_sys.os_unlinkat(j->dirfd, j->name, 0);
	close_descriptors(j);
	errno = saved;
}

void fams_journal_release(struct fams_journal *j, int remove)
{
	if (j->fd < 0) {
		close_descriptors(j);
		return;
	}
	if (remove) {
		/* Remove only the journal we hold, not a file someone put under its name. */
		struct stat a;
		if (fams_journal_names(j->dirfd, j->name, j->fd, &a)) {
			/* A stale journal that reappeared after a power cut could later undo
			 * another program's writes: make the removal durable -- unless it
			 * holds nothing on disk (it would be ignored). */
			bool removed = fams_sys.os_unlinkat(j->dirfd, j->name, 0) == 0;
			/* A removal that fails, or may not be durable, leaves a journal
			 * that could be applied again later, over changes made to the
			 * file after us: then make it hold nothing. */
			if (!(j->st->disk & FAMS_JDISK_HOLDS_NOTHING) && (!removed || fams_fsync_dir_of(j->dirfd) < 0))
				fams_journal_retire(j);
		}
	}
	close_descriptors(j);
}
