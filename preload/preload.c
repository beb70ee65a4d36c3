/* preload.c -- libfams_preload.so: the interposed calls, and nothing else.
 *
 * Every wrapper passes a call straight to the next definition (libc, or another
 * preloaded library) unless the engine says it concerns a managed file.  Real
 * functions are resolved once, in a constructor, under pthread_once; until they
 * are (dlsym may allocate, and an allocator may call mmap while starting), and
 * while the engine itself is running on this thread, calls go to the kernel
 * through syscall(2).  errno is the engine's or the real call's, never ours. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fams.h"
#include "log.h"
#include "report.h"
#include "stream.h"

#define EXPORT __attribute__((visibility("default")))

#include "wrapped.h"

#undef fread_unlocked /* a macro of glibc's when optimizing; we define the function */

/* The stat functions of C libraries before glibc 2.33, which binaries built against
 * them still call (their headers made stat() a call of __xstat): the first argument
 * is the version of struct stat's layout, which on x86_64 is the kernel's either way.
 * Headers no longer declare them. */
int __xstat(int ver, const char *path, struct stat *st);
int __fxstat(int ver, int fd, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);

/* liburing's calls that register fixed buffers (no liburing.h: the ring is opaque
 * here, and liburing need not be installed to build or run fams). */
int io_uring_register_buffers(void *ring, const struct iovec *iovecs, unsigned nr);
int io_uring_register_buffers_tags(void *ring, const struct iovec *iovecs, const unsigned long long *tags, unsigned nr);
int io_uring_register_buffers_update_tag(void *ring, unsigned off, const struct iovec *iovecs,
					 const unsigned long long *tags, unsigned nr);
int io_uring_register(unsigned fd, unsigned opcode, const void *arg, unsigned nr_args);

#define NOTHING(...)
#define DECLARE_REAL(name, ret, params, need) static ret(*real_##name) params;
FAMS_EXPORTS(DECLARE_REAL, NOTHING, NOTHING)

enum { UNINIT, INITIALISING, READY };
static int init_state = UNINIT;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* Set while this thread is inside the engine or resolving symbols: calls made
 * from there go to the kernel, never back into the engine. */
static __thread int in_fams __attribute__((tls_model("initial-exec")));

/* Add name to the list of missing functions (no allocation: dlsym may be running). */
static void note_missing(char *list, size_t cap, const char *name)
{
	size_t n = strlen(list);
	snprintf(list + n, cap - n, "%s%s", n ? ", " : "", name);
}

static void resolve(void)
{
	__atomic_store_n(&init_state, INITIALISING, __ATOMIC_RELEASE);
	in_fams++;
	char missing[512] = "";
	/* The next definition of each; never our own (a loop), and say which required
	 * ones are not there (their wrappers fail with ENOSYS). */
#define RESOLVE(name, ret, params, need)                                                      \
	real_##name = (ret(*) params)dlsym(RTLD_NEXT, #name);                                 \
	if ((void *)real_##name == (void *)name)                                              \
		real_##name = NULL;                                                           \
	if (!real_##name && need)                                                             \
		note_missing(missing, sizeof missing, #name);
	FAMS_EXPORTS(RESOLVE, NOTHING, NOTHING)
	fams_init();
	if (missing[0])
		fams_error("the C library has no usable %s; calls to it fail with ENOSYS", missing);
	pthread_atfork(fams_atfork_prepare, fams_atfork_parent, fams_atfork_child);
	stream_init();
	pthread_atfork(stream_prefork, stream_postfork_parent, stream_postfork_child); /* runs first */
	in_fams--;
	__atomic_store_n(&init_state, READY, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void fams_preload_init(void) { pthread_once(&init_once, resolve); }

__attribute__((destructor)) static void fams_preload_fini(void)
{
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != READY)
		return;
	if (!in_fams)
		stream_flush_all(); /* the C library would flush them after this commit */
	in_fams++;
	fams_shutdown();
	in_fams--;
}

/* _exit and _Exit end the process normally without running destructors (fio's
 * job processes end this way): what was written to a mapping survives them
 * without fams, so they are commit points like exit. */
static __attribute__((noreturn)) void exit_now(void (*real)(int), int status)
{
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == READY && !in_fams) {
		in_fams++;
		fams_on_exit_now();
		in_fams--;
	}
	if (real)
		real(status);
	for (;;)
		syscall(SYS_exit_group, status);
}
EXPORT void _exit(int status) { exit_now(real__exit, status); }
EXPORT void _Exit(int status) { exit_now(real__Exit, status); }

/* exec replaces the program, and with it the working copies: what it wrote to a
 * mapping survives exec without fams, so exec is a commit point.  (Should the exec
 * fail, the program goes on, still under fams.) */
static void before_exec(void)
{
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == READY && !in_fams) {
		int saved = errno;
		in_fams++;
		fams_before_exec();
		in_fams--;
		errno = saved;
	}
}
EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	before_exec();
	return real_execve ? real_execve(path, argv, envp) : (int)syscall(SYS_execve, path, argv, envp);
}
EXPORT int execv(const char *path, char *const argv[])
{
	before_exec();
	return real_execv ? real_execv(path, argv) : (int)syscall(SYS_execve, path, argv, environ);
}
EXPORT int execvp(const char *file, char *const argv[])
{
	before_exec();
	if (real_execvp)
		return real_execvp(file, argv);
	errno = ENOSYS;
	return -1;
}
EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	before_exec();
	if (real_execvpe)
		return real_execvpe(file, argv, envp);
	errno = ENOSYS;
	return -1;
}
EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	before_exec();
	return real_fexecve ? real_fexecve(fd, argv, envp)
			    : (int)syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
}
EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	before_exec();
	return real_execveat ? real_execveat(dirfd, path, argv, envp, flags)
			     : (int)syscall(SYS_execveat, dirfd, path, argv, envp, flags);
}

/* The list forms: gather the arguments (and, for execle, the environment after
 * the terminating NULL), as the C library does, and go through the vector forms. */
#define EXEC_LIST_ARGS(first, argv, envp_out)                                                 \
	va_list ap;                                                                           \
	size_t n = 1;                                                                         \
	va_start(ap, first);                                                                  \
	while (va_arg(ap, const char *))                                                      \
		n++;                                                                          \
	va_end(ap);                                                                           \
	char *argv[n + 1];                                                                    \
	argv[0] = (char *)(first);                                                            \
	va_start(ap, first);                                                                  \
	for (size_t i = 1; i <= n; i++)                                                       \
		argv[i] = va_arg(ap, char *);                                                 \
	envp_out;                                                                             \
	va_end(ap)
EXPORT int execl(const char *path, const char *arg, ...)
{
	EXEC_LIST_ARGS(arg, argv, (void)0);
	return execv(path, argv);
}
EXPORT int execlp(const char *file, const char *arg, ...)
{
	EXEC_LIST_ARGS(arg, argv, (void)0);
	return execvp(file, argv);
}
EXPORT int execle(const char *path, const char *arg, ...)
{
	char *const *envp;
	EXEC_LIST_ARGS(arg, argv, envp = va_arg(ap, char *const *));
	return execve(path, argv, envp);
}

/* True when the engine may see this call; false: go straight through. */
static inline int engine_ok(void)
{
	int s = __atomic_load_n(&init_state, __ATOMIC_ACQUIRE);
	if (__builtin_expect(s == READY, 1))
		return !in_fams;
	if (s == INITIALISING || in_fams)
		return 0;
	pthread_once(&init_once, resolve);
	return !in_fams;
}

/* Call the real function if resolved, else the kernel. */
#define REAL_OR(name, fallback) (real_##name ? real_##name : (fallback))

#define ENGINE(expr)                                                                          \
	({                                                                                    \
		in_fams++;                                                                    \
		__typeof__(expr) r_ = (expr);                                                 \
		in_fams--;                                                                    \
		r_;                                                                           \
	})

/* ---- kernel fallbacks, used before symbols are resolved ---------------------- */

static void *sys_mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
	return (void *)syscall(SYS_mmap, a, l, p, f, fd, o);
}
static int sys_open(const char *path, int flags, mode_t mode)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

static inline mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

/* The frame of every wrapper the engine may take: when `live` (a fast test read
 * without a lock), the engine decides, by its fams_on_* call setting `handled`;
 * otherwise, or when it leaves the call alone, `fallback` (the next definition, or
 * the kernel) runs.  The engine call names &handled, which this frame declares. */
#define ROUTE(live, engine_call, fallback)                                                    \
	do {                                                                                  \
		if ((live) && engine_ok()) {                                                  \
			int handled;                                                          \
			__typeof__(fallback) routed_ = ENGINE(engine_call);                        \
			if (handled)                                                          \
				return routed_;                                               \
		}                                                                             \
		return fallback;                                                              \
	} while (0)

/* A call that may commit, in an exported wrapper: with FAMS_REPORT, its commits are
 * counted at the place in the program that made it (the wrapper's return address). */
#define REPORTED(type, call)                                                                  \
	({                                                                                    \
		type reported_r_;                                                             \
		if (fams_hint(fams_report_on) && engine_ok()) {                               \
			in_fams++; /* libunwind's own calls go straight to the kernel */         \
			report_note_site(__builtin_return_address(0));                        \
			in_fams--;                                                            \
			reported_r_ = (call);                                                 \
			report_end_site();                                                    \
		} else {                                                                      \
			reported_r_ = (call);                                                 \
		}                                                                             \
		reported_r_;                                                                  \
	})

/* ---- memory ------------------------------------------------------------------- */

static void *do_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (((flags & MAP_ANONYMOUS) && !(flags & MAP_FIXED)) || !engine_ok())
		return REAL_OR(mmap, sys_mmap)(addr, len, prot, flags, fd, off);
	int handled;
	void *r = ENGINE(fams_on_mmap(addr, len, prot, flags, fd, off, &handled));
	return handled ? r : REAL_OR(mmap, sys_mmap)(addr, len, prot, flags, fd, off);
}
EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(addr, len, prot, flags, fd, off);
}
static int do_munmap(void *addr, size_t len)
{
	ROUTE(fams_hint(fams_live) | fams_hint(fams_shadows_live), fams_on_munmap(addr, len, &handled),
	      real_munmap ? real_munmap(addr, len) : (int)syscall(SYS_munmap, addr, len));
}
EXPORT int munmap(void *addr, size_t len) { return REPORTED(int, do_munmap(addr, len)); }

EXPORT void *mremap(void *old, size_t oldlen, size_t newlen, int flags, ...)
{
	void *new_addr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	ROUTE(fams_hint(fams_live) | fams_hint(fams_shadows_live),
	      fams_on_mremap(old, oldlen, newlen, flags, new_addr, &handled),
	      real_mremap ? real_mremap(old, oldlen, newlen, flags, new_addr)
			  : (void *)syscall(SYS_mremap, old, oldlen, newlen, flags, new_addr));
}

static int do_msync(void *addr, size_t len, int flags)
{
	ROUTE(fams_hint(fams_live), fams_on_msync(addr, len, flags, &handled),
	      real_msync ? real_msync(addr, len, flags) : (int)syscall(SYS_msync, addr, len, flags));
}
EXPORT int msync(void *addr, size_t len, int flags) { return REPORTED(int, do_msync(addr, len, flags)); }

/* ---- io_uring's fixed buffers, registered through liburing ------------------- */

/* liburing's next definition: resolved at start-up, or at the first call when the
 * program loaded liburing after it (dlopen).  liburing's calls return -errno. */
#define URING_NEXT(name)                                                                      \
	(real_##name ? real_##name                                                            \
		     : (real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name)))

/* -EFAULT with *refused when io_uring would pin one of the buffers over a managed
 * mapping (fams_on_pin_buffers); else the call is the program's. */
static int pin_refused(const struct iovec *v, unsigned n, int *refused)
{
	*refused = 0;
	return fams_hint(fams_live) && engine_ok() ? ENGINE(fams_on_pin_buffers(v, n, refused)) : 0;
}

EXPORT int io_uring_register_buffers(void *ring, const struct iovec *iovecs, unsigned nr)
{
	int refused, r = pin_refused(iovecs, nr, &refused);
	if (refused)
		return r;
	return URING_NEXT(io_uring_register_buffers) ? real_io_uring_register_buffers(ring, iovecs, nr) : -ENOSYS;
}

EXPORT int io_uring_register_buffers_tags(void *ring, const struct iovec *iovecs, const unsigned long long *tags,
					  unsigned nr)
{
	int refused, r = pin_refused(iovecs, nr, &refused);
	if (refused)
		return r;
	return URING_NEXT(io_uring_register_buffers_tags) ? real_io_uring_register_buffers_tags(ring, iovecs, tags, nr)
							  : -ENOSYS;
}

EXPORT int io_uring_register_buffers_update_tag(void *ring, unsigned off, const struct iovec *iovecs,
						const unsigned long long *tags, unsigned nr)
{
	int refused, r = pin_refused(iovecs, nr, &refused);
	if (refused)
		return r;
	return URING_NEXT(io_uring_register_buffers_update_tag)
		       ? real_io_uring_register_buffers_update_tag(ring, off, iovecs, tags, nr)
		       : -ENOSYS;
}

/* The kernel's register operations that pin buffers, and where their iovecs are
 * (include/uapi/linux/io_uring.h: IORING_REGISTER_BUFFERS, _BUFFERS2 with struct
 * io_uring_rsrc_register, _BUFFERS_UPDATE with struct io_uring_rsrc_update2). */
EXPORT int io_uring_register(unsigned fd, unsigned opcode, const void *arg, unsigned nr_args)
{
	const struct iovec *v = NULL;
	unsigned n = 0;
	if (opcode == 0) { /* IORING_REGISTER_BUFFERS */
		v = arg;
		n = nr_args;
	} else if (opcode == 15 && arg) { /* IORING_REGISTER_BUFFERS2 */
		const struct { uint32_t nr, flags; uint64_t resv2, data, tags; } *r = arg;
		v = (const struct iovec *)(uintptr_t)r->data;
		n = r->nr;
	} else if (opcode == 16 && arg) { /* IORING_REGISTER_BUFFERS_UPDATE */
		const struct { uint32_t offset, resv; uint64_t data, tags; uint32_t nr, resv2; } *u = arg;
		v = (const struct iovec *)(uintptr_t)u->data;
		n = u->nr;
	}
	int refused, r = v ? pin_refused(v, n, &refused) : (refused = 0);
	if (refused)
		return r;
	return URING_NEXT(io_uring_register) ? real_io_uring_register(fd, opcode, arg, nr_args) : -ENOSYS;
}

EXPORT int madvise(void *addr, size_t len, int advice)
{
	ROUTE(fams_hint(fams_live) | fams_hint(fams_shadows_live), fams_on_madvise(addr, len, advice, &handled),
	      real_madvise ? real_madvise(addr, len, advice) : (int)syscall(SYS_madvise, addr, len, advice));
}

EXPORT int mprotect(void *addr, size_t len, int prot)
{
	ROUTE(fams_hint(fams_live) | fams_hint(fams_shadows_live), fams_on_mprotect(addr, len, prot, &handled),
	      real_mprotect ? real_mprotect(addr, len, prot) : (int)syscall(SYS_mprotect, addr, len, prot));
}

/* ---- opening: recovery runs before the program can read ------------------------- */

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	if (!engine_ok())
		return real_openat ? real_openat(dirfd, path, flags, mode)
				   : (int)syscall(SYS_openat, dirfd, path, flags, mode);
	int before = ENGINE(fams_before_open(dirfd, path, flags));
	if (before < 0)
		return -1;
	int fd = real_openat ? real_openat(dirfd, path, flags, mode) : (int)syscall(SYS_openat, dirfd, path, flags, mode);
	if (fd >= 0 && ENGINE(fams_after_open(dirfd, path, fd, flags, before)) < 0) {
		int saved = errno; /* its journal could not be applied: the program must not read it */
		real_close ? real_close(fd) : (int)syscall(SYS_close, fd);
		errno = saved;
		return -1;
	}
	if (fd >= 0 && fams_hint(fams_live) && ENGINE(fams_stream_may_land(fd, fd)) < 0) {
		int saved = errno; /* it landed where stdout or stderr writes */
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static int do_open(const char *path, int flags, mode_t mode)
{
	if (!engine_ok())
		return REAL_OR(open, (int (*)(const char *, int, ...))sys_open)(path, flags, mode);
	return do_openat(AT_FDCWD, path, flags, mode);
}

EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(path, flags, mode);
}
EXPORT int __open_2(const char *path, int flags) { return do_open(path, flags, 0); }
EXPORT int __open64_2(const char *path, int flags) { return do_open(path, flags, 0); }
EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return do_openat(dirfd, path, flags, mode);
}
EXPORT int __openat_2(int dirfd, const char *path, int flags) { return do_openat(dirfd, path, flags, 0); }
EXPORT int __openat64_2(int dirfd, const char *path, int flags) { return do_openat(dirfd, path, flags, 0); }
EXPORT int creat(const char *path, mode_t mode) { return do_open(path, O_CREAT | O_WRONLY | O_TRUNC, mode); }

/* ---- stdio streams (stream.c, lib/streams.c) -------------------------------------- */

/* The open(2) flags fopen uses for mode: glibc reads the letter, then up to six
 * flag characters before any ",ccs=". */
static int fopen_flags(const char *mode)
{
	int rw = 0, extra = 0;
	for (int i = 1; i < 7 && mode[i] && mode[i] != ','; i++) {
		if (mode[i] == '+')
			rw = O_RDWR;
		else if (mode[i] == 'x')
			extra |= O_EXCL;
		else if (mode[i] == 'e')
			extra |= O_CLOEXEC;
	}
	switch (mode[0]) {
	case 'w': return (rw ? rw : O_WRONLY) | O_CREAT | O_TRUNC | extra;
	case 'a': return (rw ? rw : O_WRONLY) | O_CREAT | O_APPEND | extra;
	default: return (rw ? rw : O_RDONLY) | extra;
	}
}
static bool mode_writes(const char *mode) { return (fopen_flags(mode) & O_ACCMODE) != O_RDONLY; }
static bool mode_reads(const char *mode) { return (fopen_flags(mode) & O_ACCMODE) != O_WRONLY; }
/* A mode fopen accepts (glibc's letters). */
static bool mode_valid(const char *mode) { return mode && mode[0] && strchr("rwa", mode[0]); }
/* A mode that converts characters (",ccs="): a wide stream, which fopencookie
 * cannot make; the C library makes it, as freopen's. */
static bool mode_converts(const char *mode) { return strstr(mode, ",ccs=") != NULL; }
/* "a" without "+" starts at the end (the C library's fopen seeks there). */
static bool mode_starts_at_end(const char *mode) { return mode[0] == 'a' && !mode_reads(mode); }

/* fopen and fdopen's stream on fd: one whose calls fams sees where it must, else
 * the C library's own.  "a" starts at the end, as the C library's does. */
static FILE *stream_on(int fd, const char *mode, bool seek_end)
{
	FILE *fp = ENGINE(fams_stream_through(fd, mode_writes(mode))) ? stream_through_fams(fd, mode)
								      : real_fdopen(fd, mode);
	if (fp && seek_end && mode_starts_at_end(mode))
		lseek(fd, 0, SEEK_END);
	return fp;
}

/* A stream the C library makes and writes through calls of its own (freopen's, a
 * converting fopen's): never on a file used under fams, and remembered, so that
 * none it writes becomes managed. */
static FILE *plain_stream_opened(FILE *fp, const char *path, const char *mode)
{
	if (fp && mode_writes(mode) && ENGINE(fams_plain_stream_opened(path, fp, fileno(fp))) < 0) {
		int saved = errno;
		fclose(fp);
		errno = saved;
		return NULL;
	}
	return fp;
}

/* The C library is about to open path as a stream itself: the first half of
 * open-time recovery (as open()), after the refusal of a managed file as a stream
 * it would write (plain).  fams_before_open's answer, or -1 with errno. */
static int library_opening(const char *path, const char *mode, bool plain)
{
	if (plain && mode_writes(mode) && ENGINE(fams_plain_stream_may_open(path)) < 0)
		return -1;
	return ENGINE(fams_before_open(AT_FDCWD, path, fopen_flags(mode)));
}

/* ... and has opened it as fp (NULL: it failed): the second half, and for a
 * stream it writes (plain), plain_stream_opened. */
static FILE *library_opened(FILE *fp, const char *path, const char *mode, int before, bool plain)
{
	if (fp && ENGINE(fams_after_open(AT_FDCWD, path, fileno(fp), fopen_flags(mode), before)) < 0) {
		int saved = errno; /* its journal could not be applied: the program must not read it */
		fclose(fp);
		errno = saved;
		return NULL;
	}
	return plain ? plain_stream_opened(fp, path, mode) : fp;
}

/* The C library's fopen, with recovery before it opens, as open(). */
static FILE *plain_fopen(const char *path, const char *mode)
{
	int before = library_opening(path, mode, mode_converts(mode));
	if (before < 0)
		return NULL;
	return library_opened(real_fopen(path, mode), path, mode, before, mode_converts(mode));
}

static FILE *do_fopen(const char *path, const char *mode)
{
	if (!real_fopen || !real_fdopen) {
		errno = ENOSYS;
		return NULL;
	}
	if (!engine_ok() || !path || !mode_valid(mode))
		return real_fopen(path, mode);
	if (mode_converts(mode) || (!mode_writes(mode) && !fams_hint(fams_live)))
		return plain_fopen(path, mode); /* reads a file no process of ours manages, or converts */
	int fd = do_open(path, fopen_flags(mode), 0666);
	if (fd < 0)
		return NULL;
	FILE *fp = stream_on(fd, mode, true);
	if (!fp) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return fp;
}
EXPORT FILE *fopen(const char *path, const char *mode) { return do_fopen(path, mode); }

EXPORT FILE *fdopen(int fd, const char *mode)
{
	if (!real_fdopen) {
		errno = ENOSYS;
		return NULL;
	}
	if (!engine_ok() || !mode_valid(mode) || mode_converts(mode))
		return real_fdopen(fd, mode);
	/* As fdopen: the mode must fit the descriptor's access mode; "a" sets O_APPEND
	 * (and only then moves to the end). */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return NULL;
	if ((mode_reads(mode) && (fl & O_ACCMODE) == O_WRONLY) || (mode_writes(mode) && (fl & O_ACCMODE) == O_RDONLY)) {
		errno = EINVAL;
		return NULL;
	}
	bool set_append = mode[0] == 'a' && !(fl & O_APPEND);
	if (set_append && fcntl(fd, F_SETFL, fl | O_APPEND) < 0)
		return NULL;
	return stream_on(fd, mode, set_append);
}

/* The C library makes tmpfile's stream itself: fams makes it instead, on the file
 * the C library would make (an unnamed file in /tmp, O_TMPFILE), so that it is
 * one fams sees (the file can be mapped and managed like any other).  Where /tmp
 * cannot make one, the C library's file under a new number. */
EXPORT FILE *tmpfile(void)
{
	if (!real_tmpfile) {
		errno = ENOSYS;
		return NULL;
	}
	if (!engine_ok())
		return real_tmpfile();
	int saved = errno;
	const int flags = O_RDWR | O_TMPFILE | O_EXCL;
	int fd = real_openat ? real_openat(AT_FDCWD, "/tmp", flags, S_IRUSR | S_IWUSR)
			     : (int)syscall(SYS_openat, AT_FDCWD, "/tmp", flags, S_IRUSR | S_IWUSR);
	FILE *t = NULL;
	if (fd < 0) {
		errno = saved;
		if (!(t = real_tmpfile()))
			return NULL;
		fd = fcntl(fileno(t), F_DUPFD, 0);
	}
	FILE *fp = fd >= 0 ? stream_through_fams(fd, "w+") : NULL;
	if (!fp) {
		saved = errno;
		if (fd >= 0)
			close(fd);
		errno = saved;
		return t; /* out of memory or descriptors: the C library's own, as without fams */
	}
	if (t)
		real_fclose(t);
	return fp;
}

/* A stream is about to close its descriptor inside the C library, where no wrapper
 * sees it: what it holds is flushed first (through fams, for a stream of fams's),
 * then the descriptor is forgotten, as close() would.  -1 with errno when that
 * flush failed (the close must then fail too: the C library has nothing left to
 * flush, and would not say). */
static int stream_closing(FILE *fp)
{
	if (fams_hint(fams_plain_streams))
		ENGINE((fams_plain_stream_closed(fp), 0));
	if (!fams_hint(fams_live))
		return 0;
	int r = __fwritable(fp) && __fpending(fp) ? fflush(fp) : 0;
	int saved = errno;
	int fd = fileno(fp); /* -1 for a stream with no descriptor */
	if (fd >= 0)
		ENGINE(fams_on_close(fd));
	errno = saved;
	return r == EOF ? -1 : 0;
}

/* freopen of a stream fams made: the new file under the same stream.  Its read
 * and write sides, and whether it appends, were fixed when it was made: another
 * mix is refused.  As the C library's freopen, a failure closes the stream. */
static FILE *reopen_ours(const char *path, const char *mode, FILE *fp)
{
	int err = 0, fd = -1;
	bool append = mode[0] == 'a';
	if (mode_reads(mode) != (__freadable(fp) != 0) || mode_writes(mode) != (__fwritable(fp) != 0) ||
	    append != stream_made_append(fp)) {
		fams_error("freopen with mode \"%s\" of a stream opened %s%s: refused (EINVAL); fams made "
			   "the stream, and its reading, writing and appending stay as they were made", mode,
			   __freadable(fp) && __fwritable(fp) ? "for reading and writing"
			   : __fwritable(fp)		      ? "for writing"
							      : "for reading",
			   stream_made_append(fp) ? ", appending" : "");
		err = EINVAL;
	}
	char self[64];
	if (!path) { /* the same file, in the new mode */
		snprintf(self, sizeof self, "/proc/self/fd/%d", fileno(fp));
		path = self;
	}
	if (!err && __fwritable(fp) && __fpending(fp) && fflush(fp) == EOF) /* input is just dropped */
		err = errno;
	if (!err && (fd = do_open(path, fopen_flags(mode), 0666)) < 0)
		err = errno;
	if (!err && stream_reopen(fp, fd) < 0) {
		err = errno;
		close(fd);
	}
	if (err) {
		stream_detach(fp);
		errno = err;
		return NULL;
	}
	if (mode_starts_at_end(mode))
		lseek(fileno(fp), 0, SEEK_END);
	return fp;
}

/* freopen keeps the C library's stream (stdout, often): recovery runs before it
 * opens, as for fopen, and a file it would write is never a managed one. */
static FILE *do_freopen(const char *path, const char *mode, FILE *fp)
{
	if (!real_freopen) {
		errno = ENOSYS;
		return NULL;
	}
	if (!engine_ok() || !mode_valid(mode) || !fp)
		return real_freopen(path, mode, fp);
	if (stream_is_ours(fp))
		return reopen_ours(path, mode, fp); /* the C library's would take it apart */
	if (!path)
		return plain_stream_opened(real_freopen(path, mode, fp), "(the same file)", mode);
	int before = library_opening(path, mode, true);
	if (before < 0)
		return NULL;
	stream_closing(fp); /* its error, if any, is lost with it, as in the C library's freopen */
	return library_opened(real_freopen(path, mode, fp), path, mode, before, true);
}
EXPORT FILE *freopen(const char *path, const char *mode, FILE *fp) { return do_freopen(path, mode, fp); }

EXPORT int fclose(FILE *fp)
{
	int flushed = fp && engine_ok() ? stream_closing(fp) : 0;
	int saved = errno;
	if (!real_fclose) {
		errno = ENOSYS;
		return EOF;
	}
	int r = real_fclose(fp);
	if (flushed < 0) {
		errno = saved;
		return EOF;
	}
	return r;
}

/* ---- descriptors ------------------------------------------------------------------ */

EXPORT int close(int fd)
{
	if (fams_hint(fams_live) && engine_ok() && ENGINE(fams_on_close(fd)))
		return 0; /* one of ours: the program must not close it under us */
	return real_close ? real_close(fd) : (int)syscall(SYS_close, fd);
}

static int do_close_range(unsigned first, unsigned last, int flags)
{
	ROUTE(fams_hint(fams_live), fams_on_close_range(first, last, flags, &handled),
	      (int)syscall(SYS_close_range, first, last, flags));
}
EXPORT int close_range(unsigned first, unsigned last, int flags) { return do_close_range(first, last, flags); }
EXPORT void closefrom(int lowfd)
{
	if (lowfd >= 0)
		do_close_range((unsigned)lowfd, ~0u, 0);
}

/* A new descriptor r of fd's file landed where stdout or stderr writes: undone
 * (-1, EBUSY) if that file is used under fams (fams_stream_may_land). */
static int landed(int fd, int r)
{
	if (r < 0 || ENGINE(fams_stream_may_land(fd, r)) == 0)
		return r;
	int saved = errno;
	real_close ? real_close(r) : (int)syscall(SYS_close, r);
	errno = saved;
	return -1;
}

EXPORT int dup(int fd)
{
	int r = real_dup ? real_dup(fd) : (int)syscall(SYS_dup, fd);
	if (r >= 0 && fams_hint(fams_live) && engine_ok() && (r = landed(fd, r)) >= 0)
		ENGINE((fams_after_dup(fd, r), 0));
	return r;
}

EXPORT int dup2(int fd, int fd2)
{
	if (fd != fd2 && fams_hint(fams_live) && engine_ok()) {
		if (ENGINE(fams_stream_may_land(fd, fd2)) < 0)
			return -1;
		ENGINE((fams_before_replace(fd2), 0));
	}
	int r = real_dup2 ? real_dup2(fd, fd2) : (int)syscall(SYS_dup2, fd, fd2);
	if (r >= 0 && fd != fd2 && fams_hint(fams_live) && engine_ok())
		ENGINE((fams_after_dup(fd, r), 0));
	return r;
}

EXPORT int dup3(int fd, int fd2, int flags)
{
	if (fd != fd2 && fams_hint(fams_live) && engine_ok()) {
		if (ENGINE(fams_stream_may_land(fd, fd2)) < 0)
			return -1;
		ENGINE((fams_before_replace(fd2), 0));
	}
	int r = real_dup3 ? real_dup3(fd, fd2, flags) : (int)syscall(SYS_dup3, fd, fd2, flags);
	if (r >= 0 && fams_hint(fams_live) && engine_ok())
		ENGINE((fams_after_dup(fd, r), 0));
	return r;
}

static int do_fcntl(int fd, int cmd, unsigned long arg)
{
	int r = real_fcntl ? real_fcntl(fd, cmd, arg) : (int)syscall(SYS_fcntl, fd, cmd, arg);
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && fams_hint(fams_live) && engine_ok() &&
	    (r = landed(fd, r)) >= 0) {
		int saved = errno;
		ENGINE((fams_after_dup(fd, r), 0));
		errno = saved;
	}
	return r;
}
EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	return do_fcntl(fd, cmd, arg);
}
static int do_sync(int fd, int datasync)
{
	ROUTE(fams_hint(fams_live), fams_on_fsync(fd, datasync, &handled),
	      datasync ? (real_fdatasync ? real_fdatasync(fd) : (int)syscall(SYS_fdatasync, fd))
		       : (real_fsync ? real_fsync(fd) : (int)syscall(SYS_fsync, fd)));
}
EXPORT int fsync(int fd) { return REPORTED(int, do_sync(fd, 0)); }
EXPORT int fdatasync(int fd) { return REPORTED(int, do_sync(fd, 1)); }

static int do_ftruncate(int fd, off_t len)
{
	ROUTE(fams_hint(fams_live), fams_on_ftruncate(fd, len, &handled),
	      real_ftruncate ? real_ftruncate(fd, len) : (int)syscall(SYS_ftruncate, fd, len));
}
EXPORT int ftruncate(int fd, off_t len) { return do_ftruncate(fd, len); }

static int do_truncate(const char *path, off_t len)
{
	ROUTE(fams_hint(fams_live), fams_on_truncate(path, len, &handled),
	      real_truncate ? real_truncate(path, len) : (int)syscall(SYS_truncate, path, len));
}
EXPORT int truncate(const char *path, off_t len) { return do_truncate(path, len); }

static int do_fallocate(int fd, int mode, off_t off, off_t len)
{
	ROUTE(fams_hint(fams_live), fams_on_fallocate(fd, mode, off, len, &handled),
	      real_fallocate ? real_fallocate(fd, mode, off, len) : (int)syscall(SYS_fallocate, fd, mode, off, len));
}
EXPORT int fallocate(int fd, int mode, off_t off, off_t len) { return do_fallocate(fd, mode, off, len); }

/* posix_fallocate returns an error number and leaves errno alone. */
static int do_posix_fallocate(int fd, off_t off, off_t len)
{
	if (fams_hint(fams_live) && engine_ok()) {
		int handled, saved = errno;
		int r = ENGINE(fams_on_fallocate(fd, 0, off, len, &handled));
		if (handled) {
			int err = r < 0 ? errno : 0;
			errno = saved;
			return err;
		}
	}
	return real_posix_fallocate ? real_posix_fallocate(fd, off, len) : ENOSYS;
}
EXPORT int posix_fallocate(int fd, off_t off, off_t len) { return do_posix_fallocate(fd, off, len); }

/* ---- sizes: what the program sees of a managed file is its working copy's -------- */

/* A stat-family call returned r into st: a managed file's size is its working
 * copy's (fams_on_stat, which keeps errno).  Nothing else in st changes. */
static inline int stat_sized(int r, struct stat *st)
{
	if (r == 0 && fams_hint(fams_live) && engine_ok())
		ENGINE((fams_on_stat(st->st_dev, st->st_ino, &st->st_size), 0));
	return r;
}

/* The same for statx, whose fields count only when stx_mask says they were filled. */
static inline int statx_sized(int r, struct statx *stx)
{
	const unsigned need = STATX_SIZE | STATX_INO;
	if (r == 0 && fams_hint(fams_live) && (stx->stx_mask & need) == need && engine_ok()) {
		off_t size = (off_t)stx->stx_size;
		ENGINE((fams_on_stat(makedev(stx->stx_dev_major, stx->stx_dev_minor), stx->stx_ino, &size), 0));
		stx->stx_size = (__u64)size;
	}
	return r;
}

/* The kernel's fstatat: the fallback of every stat spelling before symbols resolve
 * (x86_64's struct stat is the kernel's). */
static int sys_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return (int)syscall(SYS_newfstatat, dirfd, path, st, flags);
}

EXPORT int stat(const char *path, struct stat *st)
{
	return stat_sized(real_stat ? real_stat(path, st) : sys_fstatat(AT_FDCWD, path, st, 0), st);
}
EXPORT int fstat(int fd, struct stat *st)
{
	return stat_sized(real_fstat ? real_fstat(fd, st) : (int)syscall(SYS_fstat, fd, st), st);
}
EXPORT int lstat(const char *path, struct stat *st)
{
	return stat_sized(real_lstat ? real_lstat(path, st) : sys_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW),
			  st);
}
EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return stat_sized(real_fstatat ? real_fstatat(dirfd, path, st, flags) : sys_fstatat(dirfd, path, st, flags),
			  st);
}
EXPORT int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx)
{
	return statx_sized(real_statx ? real_statx(dirfd, path, flags, mask, stx)
				      : (int)syscall(SYS_statx, dirfd, path, flags, mask, stx),
			   stx);
}
/* The old spellings: the C library checks ver; the kernel fallback has one layout. */
EXPORT int __xstat(int ver, const char *path, struct stat *st)
{
	return stat_sized(real___xstat ? real___xstat(ver, path, st) : sys_fstatat(AT_FDCWD, path, st, 0), st);
}
EXPORT int __fxstat(int ver, int fd, struct stat *st)
{
	return stat_sized(real___fxstat ? real___fxstat(ver, fd, st) : (int)syscall(SYS_fstat, fd, st), st);
}
EXPORT int __lxstat(int ver, const char *path, struct stat *st)
{
	return stat_sized(real___lxstat ? real___lxstat(ver, path, st)
					: sys_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW),
			  st);
}
EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
	return stat_sized(real___fxstatat ? real___fxstatat(ver, dirfd, path, st, flags)
					  : sys_fstatat(dirfd, path, st, flags),
			  st);
}

EXPORT off_t lseek(int fd, off_t off, int whence)
{
	ROUTE(fams_hint(fams_live), fams_on_lseek(fd, off, whence, &handled),
	      real_lseek ? real_lseek(fd, off, whence) : (off_t)syscall(SYS_lseek, fd, off, whence));
}

/* ---- reads and writes: a managed file's descriptors use its working copy ---------- */

/* Let the engine open managed pages in these buffers before the kernel fills them,
 * and close them again after (where the tracker needs it: fams_before_fill). */
static inline void fill_begin(const struct iovec *iov, int cnt)
{
	if (fams_hint(fams_live) && engine_ok()) {
		in_fams++;
		fams_before_fill(iov, cnt);
		in_fams--;
	}
}
static inline void fill_end(void)
{
	if (fams_hint(fams_live) && engine_ok()) {
		in_fams++;
		fams_after_fill();
		in_fams--;
	}
}

/* Positioned I/O at a negative offset is EINVAL, as the kernel says, before anything. */
static inline int bad_offset(off_t off)
{
	if (off >= 0)
		return 0;
	errno = EINVAL;
	return 1;
}

#define IO_WRAPPER(call, iov, cnt, pos, fallback) \
	ROUTE(fams_hint(fams_live), call(fd, iov, cnt, pos, &handled), (ssize_t)(fallback))

/* A read: the kernel fills the buffers, which the engine may have to open first
 * (fill_begin, fill_end); then IO_WRAPPER's routing. */
#define READ_WRAPPER(iov, cnt, pos, fallback)                                                 \
	do {                                                                                  \
		fill_begin(iov, cnt);                                                         \
		int handled = 0;                                                              \
		ssize_t read_r_ = 0;                                                          \
		if (fams_hint(fams_live) && engine_ok())                                      \
			read_r_ = ENGINE(fams_on_read(fd, iov, cnt, pos, &handled));          \
		if (!handled)                                                                 \
			read_r_ = (ssize_t)(fallback);                                        \
		fill_end();                                                                   \
		return read_r_;                                                               \
	} while (0)

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct iovec v = { buf, n };
	READ_WRAPPER(&v, 1, -1,
		   real_read ? real_read(fd, buf, n) : syscall(SYS_read, fd, buf, n));
}
EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct iovec v = { (void *)buf, n };
	IO_WRAPPER(fams_on_write, &v, 1, -1,
		   real_write ? real_write(fd, buf, n) : syscall(SYS_write, fd, buf, n));
}
static ssize_t do_pread(int fd, void *buf, size_t n, off_t off)
{
	if (bad_offset(off))
		return -1;
	struct iovec v = { buf, n };
	READ_WRAPPER(&v, 1, off,
		   real_pread ? real_pread(fd, buf, n, off) : syscall(SYS_pread64, fd, buf, n, off));
}
static ssize_t do_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (bad_offset(off))
		return -1;
	struct iovec v = { (void *)buf, n };
	IO_WRAPPER(fams_on_write, &v, 1, off,
		   real_pwrite ? real_pwrite(fd, buf, n, off) : syscall(SYS_pwrite64, fd, buf, n, off));
}
EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off) { return do_pread(fd, buf, n, off); }
EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) { return do_pwrite(fd, buf, n, off); }

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	READ_WRAPPER(iov, cnt, -1,
		   real_readv ? real_readv(fd, iov, cnt) : syscall(SYS_readv, fd, iov, cnt));
}
EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	IO_WRAPPER(fams_on_write, iov, cnt, -1,
		   real_writev ? real_writev(fd, iov, cnt) : syscall(SYS_writev, fd, iov, cnt));
}
static ssize_t do_preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	if (bad_offset(off))
		return -1;
	READ_WRAPPER(iov, cnt, off,
		   real_preadv ? real_preadv(fd, iov, cnt, off) : syscall(SYS_preadv, fd, iov, cnt, off, 0));
}
static ssize_t do_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	if (bad_offset(off))
		return -1;
	IO_WRAPPER(fams_on_write, iov, cnt, off,
		   real_pwritev ? real_pwritev(fd, iov, cnt, off) : syscall(SYS_pwritev, fd, iov, cnt, off, 0));
}
EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off) { return do_preadv(fd, iov, cnt, off); }
EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) { return do_pwritev(fd, iov, cnt, off); }
/* preadv2/pwritev2: offset -1 means the file position; flags (RWF_*) have no
 * meaning for the working copy. */
EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	READ_WRAPPER(iov, cnt, off < 0 ? -1 : off,
		   real_preadv2 ? real_preadv2(fd, iov, cnt, off, flags) : syscall(SYS_preadv2, fd, iov, cnt, off, 0, flags));
}
EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	IO_WRAPPER(fams_on_write, iov, cnt, off < 0 ? -1 : off,
		   real_pwritev2 ? real_pwritev2(fd, iov, cnt, off, flags) : syscall(SYS_pwritev2, fd, iov, cnt, off, 0, flags));
}

/* ---- copies between descriptors: through fams when a managed file is an end ------ */

EXPORT ssize_t copy_file_range(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned flags)
{
	ROUTE(fams_hint(fams_live) && flags == 0, fams_on_copy(FAMS_COPY_RANGE, in, off_in, out, off_out, len, false, &handled),
	      real_copy_file_range ? real_copy_file_range(in, off_in, out, off_out, len, flags)
				   : syscall(SYS_copy_file_range, in, off_in, out, off_out, len, flags));
}
EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t len)
{
	ROUTE(fams_hint(fams_live), fams_on_copy(FAMS_SENDFILE, in, off, out, NULL, len, false, &handled),
	      real_sendfile ? real_sendfile(out, in, off, len) : syscall(SYS_sendfile, out, in, off, len));
}
EXPORT ssize_t splice(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned flags)
{
	ROUTE(fams_hint(fams_live),
	      fams_on_copy(FAMS_SPLICE, in, off_in, out, off_out, len, flags & SPLICE_F_NONBLOCK, &handled),
	      real_splice ? real_splice(in, off_in, out, off_out, len, flags)
			  : syscall(SYS_splice, in, off_in, out, off_out, len, flags));
}

/* ---- buffers the kernel fills: recv and fread into a managed mapping ------------- */

/* fill_begin for one buffer. */
static inline void fill_begin_one(void *buf, size_t n)
{
	struct iovec v = { buf, n };
	if (n)
		fill_begin(&v, 1);
}

/* Run `call` with [buf, buf + n) open to the kernel's writes (fill_begin). */
#define FILLING(buf, n, call)                                                                 \
	({                                                                                    \
		fill_begin_one(buf, n);                                                       \
		__typeof__(call) filled_r_ = (call);                                          \
		fill_end();                                                                   \
		filled_r_;                                                                    \
	})

EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	return FILLING(buf, n, real_recv ? real_recv(fd, buf, n, flags) : syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL));
}
EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from, socklen_t *fromlen)
{
	return FILLING(buf, n, real_recvfrom ? real_recvfrom(fd, buf, n, flags, from, fromlen)
					     : syscall(SYS_recvfrom, fd, buf, n, flags, from, fromlen));
}
EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (msg)
		fill_begin(msg->msg_iov, (int)msg->msg_iovlen);
	ssize_t r = real_recvmsg ? real_recvmsg(fd, msg, flags) : syscall(SYS_recvmsg, fd, msg, flags);
	fill_end();
	return r;
}
/* stdio reads into the caller's buffer through the C library's internal read. */
EXPORT size_t fread(void *buf, size_t size, size_t n, FILE *fp)
{
	size_t bytes = 0;
	__builtin_mul_overflow(size, n, &bytes);
	return FILLING(buf, bytes, real_fread(buf, size, n, fp));
}
EXPORT size_t fread_unlocked(void *buf, size_t size, size_t n, FILE *fp)
{
	size_t bytes = 0;
	__builtin_mul_overflow(size, n, &bytes);
	return FILLING(buf, bytes, (real_fread_unlocked ? real_fread_unlocked : real_fread)(buf, size, n, fp));
}

/* The large-file spellings: the same functions under their second names. */
#define DEFINE_ALIAS(other, name, ret, params) EXPORT ret other params __attribute__((alias(#name)));
FAMS_EXPORTS(NOTHING, DEFINE_ALIAS, NOTHING)
