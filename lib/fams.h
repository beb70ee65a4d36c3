/* fams.h -- the engine's interface to the interposition layer.
 *
 * Each fams_on_* call decides whether a call concerns a managed file.  If it does
 * not, it sets *handled = 0 and the caller passes the call to libc untouched;
 * otherwise it does the whole job, sets *handled = 1 and returns the result with
 * errno set as the call would. */
#ifndef FAMS_H
#define FAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/uio.h>

/* A flag or list head read without any lock, on a call's fast path: a stale value
 * only sends the call to the locked path (where it is read again), or lets through
 * a call that raced with the state being created, as it would race natively.  The
 * flags are stored atomically; list heads and fams_down are stored under the
 * registry lock as aligned words, which are never seen torn on the platforms fams
 * runs on. */
#define fams_hint(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* Nonzero once any file is managed or any internal descriptor exists: the fast
 * pass-through test for descriptor calls. */
extern int fams_live;
/* Nonzero once a read-only shared file mapping is followed (a shadow): with
 * fams_live, the pass-through test for munmap, mremap and mprotect.  Descriptor
 * calls do not look at it: shadows never make read/write take the engine's path. */
extern int fams_shadows_live;

int fams_init(void);
void fams_shutdown(void);
/* _exit()/_Exit(): a normal exit that skips destructors; as fams_shutdown, but
 * only in the process itself, never in a vfork child sharing its memory. */
void fams_on_exit_now(void);
/* Before exec (any of its forms): commit every managed file, as at exit, after
 * the MS_ASYNC snapshots queued; the process keeps its files should exec fail.
 * Keeps errno. */
void fams_before_exec(void);

void *fams_on_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, int *handled);
int fams_on_munmap(void *addr, size_t len, int *handled);
void *fams_on_mremap(void *old, size_t oldlen, size_t newlen, int flags, void *new_addr, int *handled);
int fams_on_msync(void *addr, size_t len, int flags, int *handled);
int fams_on_madvise(void *addr, size_t len, int advice, int *handled);
int fams_on_mprotect(void *addr, size_t len, int prot, int *handled);
/* io_uring buffers about to be registered (pinned for good) over the n iovecs at v:
 * -EFAULT with *handled set when one overlaps a managed mapping (pincalls.c); else
 * *handled is 0 and the call is the program's.  liburing's convention: -errno. */
struct iovec;
int fams_on_pin_buffers(const struct iovec *v, unsigned n, int *handled);

/* Around open(): recovery runs before the program can read the file.  Most opens
 * are checked afterwards, from the new descriptor; O_TRUNC opens before the call.
 * fams_before_open returns 0, FAMS_OPEN_ELSEWHERE when a live process manages the
 * file (pass it on to fams_after_open), or -1 with errno when the file must not be
 * opened (its journal could not be applied). */
#define FAMS_OPEN_ELSEWHERE 1
int fams_before_open(int dirfd, const char *path, int flags);
/* After open() of path (relative to dirfd) returned fd, with before what
 * fams_before_open said: recover the file if need be (-1 with errno: it could not
 * be, and the caller must close fd and fail the open), treat fd as the file's if
 * the file is managed (and apply O_TRUNC, which the kernel already did to the data
 * file, to the working copy); if other processes use it under fams, join them
 * (fd then reads and writes their working copy), or, if this process may not,
 * refuse reads, writes and mappings through fd while they do. */
int fams_after_open(int dirfd, const char *path, int fd, int flags, int before);
void fams_after_dup(int oldfd, int newfd);
/* Before dup2/dup3 replaces newfd. */
void fams_before_replace(int newfd);
/* close(): 1 = an internal descriptor, pretend success; 0 = pass on. */
int fams_on_close(int fd);
/* close_range() (and closefrom): closes the range itself, around fams's own
 * descriptors (*handled = 1), or leaves the call alone (CLOSE_RANGE_CLOEXEC). */
int fams_on_close_range(unsigned first, unsigned last, int flags, int *handled);

/* The kernel (or the C library's own read, for fread) is about to fill these
 * buffers for the program (the read and recv families, fread): where the tracker
 * cannot serve such writes into a protected page, open the managed pages there
 * first, and keep them open until fams_after_fill.  Both keep errno. */
void fams_before_fill(const struct iovec *iov, int iovcnt);
void fams_after_fill(void);
/* pos < 0: use and advance the descriptor's file position. */
ssize_t fams_on_read(int fd, const struct iovec *iov, int iovcnt, off_t pos, int *handled);
ssize_t fams_on_write(int fd, const struct iovec *iov, int iovcnt, off_t pos, int *handled);
/* copy_file_range (flags 0), sendfile (off_out NULL) and splice between in and out
 * when either is a managed file: made with reads and writes through fams, never by
 * the kernel around the working copy.  Offsets as those calls take them (NULL
 * moves the descriptor's file position); nonblock: splice's SPLICE_F_NONBLOCK. */
enum fams_copy { FAMS_COPY_RANGE, FAMS_SENDFILE, FAMS_SPLICE };
ssize_t fams_on_copy(enum fams_copy kind, int in, off_t *off_in, int out, off_t *off_out, size_t len, bool nonblock,
		     int *handled);
int fams_on_fsync(int fd, int datasync, int *handled);
int fams_on_ftruncate(int fd, off_t len, int *handled);
/* truncate(path): a managed file's working copy takes the size, as for ftruncate. */
int fams_on_truncate(const char *path, off_t len, int *handled);
int fams_on_fallocate(int fd, int mode, off_t off, off_t len, int *handled);

/* After a successful stat-family call that named the file (dev, ino): when it is
 * managed, the size the program sees, *size, becomes its working copy's (the data
 * file's may be the committed one until the next commit point).  Keeps errno. */
void fams_on_stat(dev_t dev, ino_t ino, off_t *size);
/* lseek: SEEK_END, SEEK_DATA and SEEK_HOLE on a managed descriptor answer from the
 * working copy; SEEK_SET, SEEK_CUR and other descriptors are left alone. */
off_t fams_on_lseek(int fd, off_t off, int whence, int *handled);

/* stdio (streams.c).  Whether a stream fopen or fdopen makes on fd must read and
 * write through the wrappers (the preload layer then builds it): when it writes a
 * regular file, which may be managed while it is open, or reads a managed one. */
bool fams_stream_through(int fd, bool writes);
/* A stream the C library makes and writes itself (freopen keeps its stream; a
 * converting fopen's ",ccs=" is a wide stream, which fams cannot make), opened for
 * writing: before the call, -1 with EBUSY (and a fams: line) when this process
 * manages path; after it, the same when the new descriptor fd names a file used
 * under fams, else fp is remembered, and no file it writes is managed until
 * fams_plain_stream_closed(fp). */
int fams_plain_stream_may_open(const char *path);
int fams_plain_stream_opened(const char *path, FILE *fp, int fd);
void fams_plain_stream_closed(FILE *fp);
/* A descriptor of from's file about to take, or just given, the number `at` that
 * stdout or stderr writes (dup2, dup3; dup, fcntl F_DUPFD and open landing there):
 * -1 with EBUSY (and a fams: line) when the file is used under fams, as for those
 * streams -- the caller then undoes or refuses it. */
int fams_stream_may_land(int from, int at);
/* How many streams are remembered (read without the lock: fclose's pass-through test). */
extern int fams_plain_streams;
/* The streams the preload layer makes carry a mark in their FILE, in bytes the C
 * library leaves unused (_unused2): its record there (NULL: none), found with no
 * lock and no search.  Only streams the C library gives no wide side are looked
 * at (_wide_data is -1: fopencookie's, fmemopen's, popen's); in those the mark is
 * eight bytes no other stream holds there by more than chance (2^-64).  The mark
 * is cleared before the stream is freed. */
void fams_stream_mark(FILE *fp, void *record);
void *fams_stream_record(FILE *fp);

void fams_atfork_prepare(void);
void fams_atfork_parent(void);
void fams_atfork_child(void);

#endif
