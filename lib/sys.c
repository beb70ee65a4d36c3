/* sys.c -- raw system calls and the injectable table of durable I/O. */
#include "sys.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}
static int sys_close(int fd) { return (int)syscall(SYS_close, fd); }
static ssize_t sys_pread(int fd, void *buf, size_t n, off_t off)
{
	return syscall(SYS_pread64, fd, buf, n, off);
}
static ssize_t sys_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return syscall(SYS_pwrite64, fd, buf, n, off);
}
static int sys_fdatasync(int fd) { return (int)syscall(SYS_fdatasync, fd); }
static int sys_fsync(int fd) { return (int)syscall(SYS_fsync, fd); }
static int sys_ftruncate(int fd, off_t len) { return (int)syscall(SYS_ftruncate, fd, len); }
static int sys_fallocate(int fd, int mode, off_t off, off_t len)
{
	return (int)syscall(SYS_fallocate, fd, mode, off, len);
}
static int sys_unlinkat(int dirfd, const char *path, int flags)
{
	return (int)syscall(SYS_unlinkat, dirfd, path, flags);
}

/* The kernel's own calls: what fams_sys holds until a test swaps an entry.  A static
 * initializer, not a constructor: another library's constructor may reach the engine
 * before any of ours has run. */
#define SYS_DEFAULT_TABLE                                                                      \
	{                                                                                      \
		.os_openat = sys_openat, .os_close = sys_close, .os_pread = sys_pread,         \
		.os_pwrite = sys_pwrite, .os_fdatasync = sys_fdatasync, .os_fsync = sys_fsync, \
		.os_ftruncate = sys_ftruncate, .os_fallocate = sys_fallocate,                  \
		.os_unlinkat = sys_unlinkat,                                                   \
	}
const struct fams_sys fams_sys_default = SYS_DEFAULT_TABLE;
struct fams_sys fams_sys = SYS_DEFAULT_TABLE;
struct fams_io_stats fams_stats;
long fams_page_size = 4096;
enum fams_break fams_test_break = FAMS_BREAK_NONE;

void fams_sys_reset(void) { fams_sys = fams_sys_default; }

int fams_raw_close_range(unsigned first, unsigned last, int flags)
{
	return (int)syscall(SYS_close_range, first, last, flags);
}
ssize_t fams_raw_preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return syscall(SYS_preadv, fd, iov, cnt, (long)off, 0L);
}
ssize_t fams_raw_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return syscall(SYS_pwritev, fd, iov, cnt, (long)off, 0L);
}
long fams_raw_getdents64(int fd, void *buf, size_t n) { return syscall(SYS_getdents64, fd, buf, n); }
int fams_raw_unshare(int flags) { return (int)syscall(SYS_unshare, flags); }
int fams_raw_memfd_create(const char *name, unsigned flags) { return (int)syscall(SYS_memfd_create, name, flags); }
int fams_raw_msync(void *addr, size_t len, int flags) { return (int)syscall(SYS_msync, addr, len, flags); }
pid_t fams_raw_getpid(void) { return (pid_t)syscall(SYS_getpid); }
int fams_raw_userfaultfd(int flags) { return (int)syscall(SYS_userfaultfd, flags); }
int fams_raw_fstat(int fd, struct stat *st) { return (int)syscall(SYS_fstat, fd, st); }
int fams_raw_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return (int)syscall(SYS_newfstatat, dirfd, path, st, flags);
}
int fams_raw_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx)
{
	return (int)syscall(SYS_statx, dirfd, path, flags, mask, stx);
}
int fams_raw_fstatfs(int fd, struct statfs *sf) { return (int)syscall(SYS_fstatfs, fd, sf); }
/* statx answered ENOSYS or EPERM once (before Linux 4.11, a seccomp filter): fstat
 * from then on, without trying again at every call. */
static bool g_no_statx;

/* statx of fd itself asking for mask, which must come back: 0, 1 where statx is
 * missing or refused (the caller falls back to fstat), or -1 with errno. */
static int statx_of(int fd, unsigned mask, struct statx *stx)
{
	if (__atomic_load_n(&g_no_statx, __ATOMIC_RELAXED))
		return 1;
	if (fams_raw_statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, mask, stx) == 0)
		return (stx->stx_mask & mask) == mask ? 0 : 1;
	if (errno != ENOSYS && errno != EPERM)
		return -1;
	__atomic_store_n(&g_no_statx, true, __ATOMIC_RELAXED);
	return 1;
}

int fams_file_untimed(int fd, struct fams_untimed *u)
{
	struct statx stx;
	struct stat st;
	int r = statx_of(fd, STATX_INO | STATX_SIZE, &stx);
	if (r == 0)
		*u = (struct fams_untimed){ makedev(stx.stx_dev_major, stx.stx_dev_minor), (ino_t)stx.stx_ino,
					    stx.stx_size };
	else if (r > 0 && (r = fams_raw_fstat(fd, &st)) == 0)
		*u = (struct fams_untimed){ st.st_dev, st.st_ino, (uint64_t)st.st_size };
	return r < 0 ? -1 : 0;
}
int fams_raw_faccessat(int dirfd, const char *path, int mode)
{
	return (int)syscall(SYS_faccessat, dirfd, path, mode);
}
int fams_raw_faccess_effective(const char *path, int mode)
{
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
	int r = (int)syscall(SYS_faccessat2, AT_FDCWD, path, mode, AT_EACCESS);
	if (r < 0 && errno == ENOSYS) { /* before Linux 5.8: the real ids, unless they are the effective */
		if (getuid() != geteuid() || getgid() != getegid()) {
			errno = EACCES;
			return -1;
		}
		r = fams_raw_faccessat(AT_FDCWD, path, mode);
	}
	return r;
}
int fams_raw_fcntl(int fd, int cmd, long arg) { return (int)syscall(SYS_fcntl, fd, cmd, arg); }
int fams_raw_close(int fd) { return (int)syscall(SYS_close, fd); }
ssize_t fams_raw_readlink(const char *path, char *buf, size_t n)
{
	return syscall(SYS_readlink, path, buf, n);
}
void *fams_raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}
int fams_raw_munmap(void *addr, size_t len) { return (int)syscall(SYS_munmap, addr, len); }
void *fams_raw_mremap(void *old, size_t oldlen, size_t newlen, int flags, void *new_addr)
{
	return (void *)syscall(SYS_mremap, old, oldlen, newlen, flags, new_addr);
}
ssize_t fams_raw_read(int fd, void *buf, size_t n) { return syscall(SYS_read, fd, buf, n); }
int fams_raw_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	struct timespec now = { 0, 0 };
	return (int)syscall(SYS_ppoll, &p, 1, &now, NULL, 0);
}

int fams_raw_mprotect(void *addr, size_t len, int prot)
{
	return (int)syscall(SYS_mprotect, addr, len, prot);
}

int fams_raw_madvise(void *addr, size_t len, int advice)
{
	return (int)syscall(SYS_madvise, addr, len, advice);
}
int fams_raw_ioctl(int fd, unsigned long req, void *arg)
{
	return (int)syscall(SYS_ioctl, fd, req, arg);
}
ssize_t fams_raw_write(int fd, const void *buf, size_t n) { return syscall(SYS_write, fd, buf, n); }
off_t fams_raw_lseek(int fd, off_t off, int whence) { return syscall(SYS_lseek, fd, off, whence); }
ssize_t fams_raw_pread(int fd, void *buf, size_t n, off_t off) { return sys_pread(fd, buf, n, off); }
ssize_t fams_raw_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return sys_pwrite(fd, buf, n, off);
}
int fams_raw_ftruncate(int fd, off_t len) { return sys_ftruncate(fd, len); }
int fams_raw_fallocate(int fd, int mode, off_t off, off_t len)
{
	return sys_fallocate(fd, mode, off, len);
}

ssize_t fams_pread_full(int fd, void *buf, size_t n, off_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = fams_sys.os_pread(fd, (char *)buf + done, n - done, off + (off_t)done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int fams_pwrite_full(int fd, const void *buf, size_t n, off_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = fams_sys.os_pwrite(fd, (const char *)buf + done, n - done, off + (off_t)done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		done += (size_t)r;
	}
	__atomic_add_fetch(&fams_stats.bytes_written, n, __ATOMIC_RELAXED);
	return 0;
}

ssize_t fams_fd_path(int fd, char *path, size_t cap)
{
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	ssize_t n = fams_raw_readlink(proc, path, cap - 1);
	if (n <= 0)
		return -1;
	path[n] = '\0';
	return n;
}

int fams_proc_open(pid_t pid, const char *what, int flags)
{
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/%d/%s", (int)pid, what);
	return fams_sys.os_openat(AT_FDCWD, proc, flags | O_CLOEXEC, 0);
}

int fams_reopen(int fd, int flags)
{
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	return fams_sys.os_openat(AT_FDCWD, proc, flags, 0);
}

int fams_copy_piece(void *ctx, const char *bytes, size_t n, uint64_t off)
{
	const struct fams_copy_to *t = ctx;
	return fams_pwrite_full(t->fd, bytes, n, (off_t)(off + t->delta));
}

int64_t fams_read_chunks(int fd, uint64_t off, uint64_t len, char *buf, fams_chunk_fn fn, void *ctx)
{
	uint64_t done = 0;
	while (done < len) {
		size_t n = len - done > FAMS_IO_CHUNK ? FAMS_IO_CHUNK : (size_t)(len - done);
		ssize_t r = fams_pread_full(fd, buf, n, (off_t)(off + done));
		if (r < 0 || (r > 0 && fn(ctx, buf, (size_t)r, off + done) < 0))
			return -1;
		done += (uint64_t)r;
		if ((size_t)r < n)
			break;
	}
	return (int64_t)done;
}

/* Repeat a call the kernel interrupted: these are never meant to be cut short. */
#define RETRY_EINTR(call)                                                                     \
	({                                                                                    \
		int r_;                                                                       \
		do                                                                            \
			r_ = (call);                                                          \
		while (r_ < 0 && errno == EINTR);                                             \
		r_;                                                                           \
	})

int fams_truncate(int fd, off_t len) { return RETRY_EINTR(fams_sys.os_ftruncate(fd, len)); }

int fams_allocate(int fd, int mode, off_t off, off_t len)
{
	return RETRY_EINTR(fams_sys.os_fallocate(fd, mode, off, len));
}

static int counted_flush(int r)
{
	if (r == 0)
		__atomic_add_fetch(&fams_stats.flushes, 1, __ATOMIC_RELAXED);
	return r;
}

int fams_flush(int fd) { return counted_flush(RETRY_EINTR(fams_sys.os_fdatasync(fd))); }

int fams_fsync_dir_of(int dirfd) { return counted_flush(RETRY_EINTR(fams_sys.os_fsync(dirfd))); }

bool fams_maps_each(bool (*fn)(uintptr_t lo, uintptr_t hi, int prot, const char *name, void *ctx), void *ctx)
{
	int fd = fams_sys.os_openat(AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return false;
	static char buf[1 << 16]; /* under the registry lock */
	size_t have = 0;
	bool stopped = false;
	for (;;) {
		ssize_t n = fams_raw_read(fd, buf + have, sizeof buf - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		char *line = buf, *nl;
		while ((nl = strchr(line, '\n'))) {
			*nl = '\0';
			unsigned long lo, hi;
			char perms[8] = "";
			int name_at = 0;
			if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &name_at) == 3 &&
			    fn(lo, hi, (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
					       (perms[2] == 'x' ? PROT_EXEC : 0),
			       name_at > 0 ? line + name_at : "", ctx)) {
				stopped = true;
				goto done;
			}
			line = nl + 1;
		}
		have = (size_t)(buf + have - line);
		memmove(buf, line, have);
		if (have == sizeof buf - 1)
			break; /* a line longer than the buffer: give up */
	}
done:
	fams_raw_close(fd);
	return stopped;
}
