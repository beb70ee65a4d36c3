/* sys.h -- every system call the engine makes, routed so tests can fail or stop them.
 *
 * The engine lives inside a library that interposes open/pwrite/fsync/...; calling those
 * names from here would re-enter the wrappers.  So the engine calls the kernel through
 * raw syscall(2) wrappers, and the durable I/O among them (writes, flushes, truncates,
 * creation, unlink, directory sync) goes through the table fams_sys: a test can swap an
 * entry to inject EIO/ENOSPC or to stop the world after the k-th operation.  Its
 * members are spelled os_* so that no reader (or tool) takes fams_sys.os_pwrite for a
 * call of the interposed pwrite. */
#ifndef FAMS_SYS_H
#define FAMS_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/statfs.h>
#include <sys/uio.h>

struct fams_sys {
	int (*os_openat)(int dirfd, const char *path, int flags, mode_t mode);
	int (*os_close)(int fd);
	ssize_t (*os_pread)(int fd, void *buf, size_t n, off_t off);
	ssize_t (*os_pwrite)(int fd, const void *buf, size_t n, off_t off);
	int (*os_fdatasync)(int fd);
	int (*os_fsync)(int fd);
	int (*os_ftruncate)(int fd, off_t len);
	int (*os_fallocate)(int fd, int mode, off_t off, off_t len);
	int (*os_unlinkat)(int dirfd, const char *path, int flags);
};

/* The table in force; tests replace entries, call the kernel's own through
 * fams_sys_default, and put everything back with fams_sys_reset. */
extern struct fams_sys fams_sys;
extern const struct fams_sys fams_sys_default;
void fams_sys_reset(void);

/* Test-only: deliberately break one ordering rule of the commit, so the crash and
 * power-loss explorers can show that they catch it.  Only code that links the
 * engine can set it (it is never read from the environment); 0 in production. */
enum fams_break {
	FAMS_BREAK_NONE,
	FAMS_BREAK_DATA_FIRST,       /* data written before the journal */
	FAMS_BREAK_NO_JOURNAL_FLUSH, /* data written before the journal is durable */
	FAMS_BREAK_NO_DATA_FLUSH,    /* commit succeeds before its data is durable */
	FAMS_BREAK_NO_REPAIR,        /* a dead committer's lock is taken over without repair */
	FAMS_BREAK_CLEAR_EARLY,      /* dirty bits cleared before the commit is durable */
	FAMS_BREAK_GROW_LATE,        /* a growth made by the data writes, after them */
	FAMS_BREAK_SIZE_ALONE_ANY,   /* a size change alone skips the journal even to its sizes */
	FAMS_BREAK_REGROW_STALE,     /* a range shrunk and regrown before a commit is not rewritten */
	FAMS_BREAK_JOIN_LATE,        /* a thread's commit joins the batch already collecting */
	FAMS_BREAK_SNAPSHOT_OVERTAKES, /* a snapshot's commit may land after a newer commit */
	FAMS_BREAK_WP_OPEN_FIRST,    /* uffd-sync: a faulting page opened before it is recorded */
	FAMS_BREAK_WP_UNLOCKED,      /* uffd-sync: recording and opening not under the record lock */
	FAMS_BREAK_NAME_UNSYNCED,    /* data written before the journal's directory entry is durable */
	FAMS_BREAK_REDO_UNFLUSHED,   /* a redo log's records overwritten before the data file is flushed */
	FAMS_BREAK_REDO_UNRETIRED,   /* a redo log's records overwritten while its header still names them */
	FAMS_BREAK_REDO_DROPPED,     /* the last process removes a redo log before flushing the data file */
	FAMS_BREAK_REDO_EPOCH_REUSED, /* every redo log of a journal has the same epoch */
	FAMS_BREAK_DATA_UNDURABLE,   /* a commit begins from a data file not known durable */
	FAMS_BREAK_EMPTY_UNCUT,      /* replay of a log from an empty file keeps what the disk held */
	FAMS_BREAK_EMPTY_OVER_DATA,  /* a log from an empty file begins over a file holding data */
	FAMS_BREAK_EMPTY_CUT_ALWAYS, /* replay of a log from an empty file cuts even with no record */
	FAMS_BREAK_EXEC_UNSETTLED,   /* exec leaves a file's journal holding its commits */
	FAMS_BREAK_MOVE_UNMARKED,    /* a tracker move leaves the pages stored during it unmarked */
	FAMS_BREAK_IDENTITY_NO_GEN,  /* a journal's header is matched without its generation */
	FAMS_BREAK_LEFT_OPEN_QUIET,  /* a mapping with pages an MS_ASYNC harvest left open counts as quiet */
	FAMS_BREAK_REPROTECT_UNMARKED, /* pages left open are protected again without being marked */
	FAMS_BREAK_PEEK_TAKES,       /* uffd-sync: pages left open lose their bits */
	FAMS_BREAK_JOIN_KEEPS_QUIET, /* two mapping records joined keep the first one's quiet */
};
extern enum fams_break fams_test_break;

/* Flush and write counters, for logs, tests and benchmarks. */
struct fams_io_stats {
	uint64_t flushes;
	uint64_t bytes_written;   /* every byte fams wrote: journals and data files */
	uint64_t commits;
	uint64_t journal_bytes;   /* of bytes_written, to journals */
	uint64_t committed_bytes; /* dirty bytes the commits carried (their new bytes) */
};
extern struct fams_io_stats fams_stats;

/* Raw calls that are not durable I/O: never interposed, never injected. */
int fams_raw_close_range(unsigned first, unsigned last, int flags);
int fams_raw_unshare(int flags);
ssize_t fams_raw_preadv(int fd, const struct iovec *iov, int cnt, off_t off);
ssize_t fams_raw_pwritev(int fd, const struct iovec *iov, int cnt, off_t off);
long fams_raw_getdents64(int fd, void *buf, size_t n);
int fams_raw_memfd_create(const char *name, unsigned flags);
int fams_raw_msync(void *addr, size_t len, int flags);
pid_t fams_raw_getpid(void);
int fams_raw_userfaultfd(int flags);
int fams_raw_fstat(int fd, struct stat *st);
int fams_raw_fstatat(int dirfd, const char *path, struct stat *st, int flags);
int fams_raw_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx);
int fams_raw_fstatfs(int fd, struct statfs *sf);
/* The identity and size of the file open as fd, asked without its times: a stat
 * that asks for them makes the kernel (multigrain timestamps, Linux 6.13) give the
 * next write a fine-grained one, and so dirty the inode, which a commit's fdatasync
 * then writes -- a device write per commit.  For what runs at every commit or
 * call.  0, or -1 with errno. */
struct fams_untimed {
	dev_t dev;
	ino_t ino;
	uint64_t size;
};
int fams_file_untimed(int fd, struct fams_untimed *u);
int fams_raw_faccessat(int dirfd, const char *path, int mode);
/* access(path, mode) as the effective ids see it (faccessat2 AT_EACCESS), as open
 * and truncate judge. */
int fams_raw_faccess_effective(const char *path, int mode);
int fams_raw_fcntl(int fd, int cmd, long arg);
int fams_raw_close(int fd);
ssize_t fams_raw_readlink(const char *path, char *buf, size_t n);
void *fams_raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int fams_raw_munmap(void *addr, size_t len);
void *fams_raw_mremap(void *old, size_t oldlen, size_t newlen, int flags, void *new_addr);
int fams_raw_madvise(void *addr, size_t len, int advice);
int fams_raw_mprotect(void *addr, size_t len, int prot);
int fams_raw_ioctl(int fd, unsigned long req, void *arg);
ssize_t fams_raw_write(int fd, const void *buf, size_t n);
ssize_t fams_raw_read(int fd, void *buf, size_t n);
/* Whether fd has something to read now (poll with no wait): 1, 0, or -1 with errno. */
int fams_raw_readable(int fd);
off_t fams_raw_lseek(int fd, off_t off, int whence);
ssize_t fams_raw_pread(int fd, void *buf, size_t n, off_t off);
ssize_t fams_raw_pwrite(int fd, const void *buf, size_t n, off_t off);
int fams_raw_ftruncate(int fd, off_t len);
int fams_raw_fallocate(int fd, int mode, off_t off, off_t len);

/* The page size, read at start-up (fams_init). */
extern long fams_page_size;

/* n rounded up to whole pages. */
static inline uint64_t fams_page_round(uint64_t n)
{
	return (n + (uint64_t)fams_page_size - 1) & ~((uint64_t)fams_page_size - 1);
}

/* Bytes the engine's chunked loops move per call (their buffers hold this much). */
#define FAMS_IO_CHUNK (1u << 20)

/* Read [off, off+len) of fd through fams_sys a chunk at a time into buf (FAMS_IO_CHUNK
 * bytes), calling fn on each piece with its offset in fd; stops early at end of file.
 * Returns the bytes read, or -1 with errno (from a read, or from fn). */
typedef int (*fams_chunk_fn)(void *ctx, const char *bytes, size_t n, uint64_t off);
int64_t fams_read_chunks(int fd, uint64_t off, uint64_t len, char *buf, fams_chunk_fn fn, void *ctx);
/* A fams_chunk_fn (ctx: struct fams_copy_to) that writes each piece to fd at its
 * offset plus delta: a journal's bytes into the data file (recovery). */
struct fams_copy_to {
	int fd;
	uint64_t delta; /* destination offset minus source offset, for the range at hand */
};
int fams_copy_piece(void *ctx, const char *bytes, size_t n, uint64_t off);

/* Call fn on each line of /proc/self/maps in address order: the area [lo, hi), its
 * protection (PROT_*) and its name ("" for none) -- until fn returns true (then
 * true), or the end (false). */
bool fams_maps_each(bool (*fn)(uintptr_t lo, uintptr_t hi, int prot, const char *name, void *ctx), void *ctx);

/* The path the program's descriptor fd names (readlink of /proc/self/fd/fd, with
 * " (deleted)" as the kernel adds it): its length, or -1. */
ssize_t fams_fd_path(int fd, char *path, size_t cap);
/* Open /proc/PID/what (what: "pagemap", "stat", "fd/3", ...), close-on-exec. */
int fams_proc_open(pid_t pid, const char *what, int flags);
/* A new open file description of the file fd names, through fams_sys (so tests can
 * fail it): our own, whatever flags the program's description carries. */
int fams_reopen(int fd, int flags);

/* Whole-buffer I/O through fams_sys: EINTR and short transfers are retried, so a
 * caller sees either the full count or -1 with errno.  A read past end of file
 * returns the short count. */
ssize_t fams_pread_full(int fd, void *buf, size_t n, off_t off);
int fams_pwrite_full(int fd, const void *buf, size_t n, off_t off);
int fams_flush(int fd);     /* fdatasync through the table, counted */
int fams_truncate(int fd, off_t len);                       /* ftruncate, EINTR retried */
int fams_allocate(int fd, int mode, off_t off, off_t len);  /* fallocate, EINTR retried */
int fams_fsync_dir_of(int dirfd);

#endif
