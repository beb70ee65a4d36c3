/* wpsync.c -- the synchronous write-protect tracker's fault-serving thread and its
 * record of the pages it opened to writing.
 *
 * Every tracked page of a working copy is write-protected (userfaultfd, shmem
 * support since Linux 5.19) until a store faults on it.  The thread below reads the
 * fault, sets the page's bit in the record and un-protects the page (which wakes the
 * storing thread); a harvest takes the bits of a range and protects those pages
 * again.  The record is indexed by address (wprecord.h), so the thread needs no
 * lock of the engine's (a storing thread may hold any lock of the program's or the
 * registry's while it waits for us).
 *
 * Rules (no write is lost):
 *  1. A page is opened only after its bit is set: the storing thread resumes when
 *     the page opens, and its next msync must find the bit.  (Opening first lets
 *     a store and the msync after it run before the bit is set.)
 *  2. Setting a bit and opening its page happen together, under the record lock;
 *     so do taking a range's bits and protecting its pages again.  So a writable
 *     page always has its bit set, or belongs to a harvest that took the bit and
 *     protected the page before its commit copies it.  (Without the lock, a harvest
 *     between the thread's two steps takes the bit and protects nothing, the page
 *     then opens, and stores to it are never recorded again.)
 * The lock is held with signals blocked: a signal handler that stores into a
 * tracked page while its thread holds the lock would wait on itself.
 * tests/t_trackers.c runs an engine with each rule broken and catches it.
 *
 * The thread keeps a descriptor table of its own holding only the userfaultfd: the
 * program's dup2, close or close_range cannot take it away (a fault nobody serves
 * would hang the program), and the thread holds none of the program's files. */
#include "wpsync.h"
#include "log.h"
#include "wprecord.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#define MAX_FILLS 64   /* threads at once in a read the kernel fills (wpsync_fill_*) */
#define MAX_WATCHED 256 /* flags raised when a page opens (wpsync_watch) */

static int served_fd = -1; /* the thread's own copy of the userfaultfd */
static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
/* Set when a fault found no chunk or the thread could not read its descriptor:
 * every later harvest fails, so its range is compared rather than trusted. */
static bool broken;
/* Ranges the kernel is filling for a thread (wpsync_fill_*), under the record lock:
 * a harvest leaves them open, or the kernel's write would fail with EFAULT. */
static struct fill {
	uintptr_t s, e;
} fills[MAX_FILLS];
static __thread int my_fill = -1;
/* Flags raised whenever a page opens, under the record lock (so unwatching one
 * waits for a thread that may be raising it). */
static uint8_t *watched[MAX_WATCHED];
/* Whether this tracker is the process's (wpsync_pause), under the record lock.  A
 * fault read before the process moved to the asynchronous tracker is not served
 * then: its thread is only woken, to fault again under the new tracker.  Opening
 * the page would act on a page the other userfaultfd now protects -- the kernel
 * checks that an area is registered, not with which -- and could leave it open
 * between two of its scans. */
static bool serving = true;

/* Raise every watched flag (before the page opens: rule 1 for the others). */
static void raise_watched(void)
{
	for (int i = 0; i < MAX_WATCHED; i++)
		if (watched[i])
			__atomic_store_n(watched[i], 1, __ATOMIC_RELEASE);
}

/* Record [addr, addr + len) as opened; a page with no bitmap breaks the record. */
static void set_bits(uintptr_t addr, size_t len)
{
	raise_watched();
	if (!wprecord_set(addr, len))
		__atomic_store_n(&broken, true, __ATOMIC_RELEASE);
}

/* One UFFDIO_WRITEPROTECT of [addr, addr + len), again while the mappings change
 * under it (EAGAIN).  0, or -1 with errno (ENOENT: not all of it in one tracked
 * area, before Linux 6.5). */
static int protect_once(int fd, uintptr_t addr, size_t len, bool wp)
{
	struct uffdio_writeprotect arg = { .range = { addr, len }, .mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };
	int r;
	while ((r = fams_raw_ioctl(fd, UFFDIO_WRITEPROTECT, &arg)) < 0 && errno == EAGAIN)
		;
	return r;
}

int wpsync_protect(int fd, uintptr_t addr, size_t len, bool wp)
{
	int r = protect_once(fd, addr, len, wp);
	if (r == 0 || errno != ENOENT || len <= (size_t)fams_page_size)
		return r;
	/* Before Linux 6.5 one call covers one VMA only, and mprotect may have split
	 * the mapping: halve the range until each part lies in one. */
	size_t half = (len / 2) & ~((size_t)fams_page_size - 1);
	if (half == 0)
		half = (size_t)fams_page_size;
	int a = wpsync_protect(fd, addr, half, wp), b = wpsync_protect(fd, addr + half, len - half, wp);
	return a < 0 ? a : b;
}

/* Take the record lock with every signal blocked (rule 2); *old receives the mask. */
static void lock_record(sigset_t *old)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, old);
	if (fams_test_break != FAMS_BREAK_WP_UNLOCKED)
		pthread_mutex_lock(&record_lock);
}

static void unlock_record(const sigset_t *old)
{
	if (fams_test_break != FAMS_BREAK_WP_UNLOCKED)
		pthread_mutex_unlock(&record_lock);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Record [addr, addr + len), then open it through fd (rule 1).  The record lock
 * is held (rule 2).  A run of pages opened ahead of a fault (len > one page) is
 * opened in one call, which this kernel refuses when the run leaves the faulting
 * page's area (windows_allowed): then the faulting page alone is opened, the
 * others stay protected (their bits set for nothing: a comparison at the next
 * commit). */
static void record_and_open_locked(int fd, uintptr_t addr, size_t len)
{
	set_bits(addr, len);
	if (len > (size_t)fams_page_size) {
		if (protect_once(fd, addr, len, false) == 0)
			return;
		len = (size_t)fams_page_size;
	}
	if (wpsync_protect(fd, addr, len, false) < 0) {
		/* Unmapped or unregistered meanwhile: wake whoever waits, to fault anew or
		 * find no tracked page there. */
		struct uffdio_range r = { addr, len };
		fams_raw_ioctl(fd, UFFDIO_WAKE, &r);
	}
}

/* Stores that run on through pages, page after page (filling a new region,
 * appending records), fault once per page; each fault is a round trip through
 * this thread (tens of microseconds on a virtual machine's two CPUs).  A fault
 * on the page right after the pages the last one opened opens the pages after
 * it too, twice as many each time up to WINDOW_MAX (readahead's rule, for
 * writes), never past the page table's 2 MiB nor the faulting page's area
 * (windows_allowed); any other fault opens its page alone.  The pages opened
 * ahead are recorded first like the faulting one (rule 1): recorded and not
 * written, they cost a comparison at the next commit. */
#define WINDOW_MAX 32
static uintptr_t window_end; /* the page after the last run of pages opened */
static size_t window_pages = 1; /* that run's length */

/* Whether pages may be opened ahead of a fault: only where the kernel refuses to
 * change the protection of a range that spans two registered areas (before Linux
 * 6.5; refuses_spanning).  From 6.5 a run opened ahead could reach past the end of
 * fams's mapping into an area a userfaultfd of the program's protects -- the
 * kernel checks that an area is registered, not by whom -- and the program would
 * miss those stores; there each fault opens its page alone. */
static bool windows_allowed;

/* The run of pages a fault at addr opens, [addr, addr + return value). */
static size_t pages_to_open(uintptr_t addr)
{
	size_t pg = (size_t)fams_page_size, n = 1;
	if (!windows_allowed)
		return 1;
	if (addr == window_end)
		n = window_pages * 2 > WINDOW_MAX ? WINDOW_MAX : window_pages * 2;
	uintptr_t table_end = (addr | (((uintptr_t)512 * pg) - 1)) + 1;
	if (addr + n * pg > table_end)
		n = (table_end - addr) / pg;
	window_pages = n;
	window_end = addr + n * pg;
	return n;
}

/* One write fault on the page at addr, served by the thread. */
static void serve_fault(uintptr_t addr)
{
	sigset_t old;
	size_t pg = (size_t)fams_page_size;
	/* The broken variants widen the window each rule closes to a millisecond, as
	 * a preempted thread would. */
	struct timespec window = { 0, 1000000 };
	if (fams_test_break == FAMS_BREAK_WP_OPEN_FIRST) {
		wpsync_protect(served_fd, addr, pg, false);
		nanosleep(&window, NULL); /* the storer runs on, and may commit */
		lock_record(&old);
		set_bits(addr, pg);
		unlock_record(&old);
		return;
	}
	lock_record(&old);
	if (!serving) {
		struct uffdio_range r = { addr, pg };
		fams_raw_ioctl(served_fd, UFFDIO_WAKE, &r);
		unlock_record(&old);
		return;
	}
	if (fams_test_break == FAMS_BREAK_WP_UNLOCKED) {
		set_bits(addr, pg);
		nanosleep(&window, NULL); /* a harvest may take the bit meanwhile */
		wpsync_protect(served_fd, addr, pg, false);
	} else {
		record_and_open_locked(served_fd, addr, pages_to_open(addr) * pg);
	}
	unlock_record(&old);
}

static void *serve(void *arg)
{
	(void)arg;
	int fd = served_fd;
	/* A descriptor table of our own, holding the userfaultfd only (see the top). */
	if (fams_raw_unshare(CLONE_FILES) == 0) {
		if (fd > 0)
			fams_raw_close_range(0, (unsigned)fd - 1, 0);
		fams_raw_close_range((unsigned)fd + 1, ~0U, 0);
	}
	struct uffd_msg msg[16];
	for (;;) {
		ssize_t n = fams_raw_read(fd, msg, sizeof msg);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			/* Never stop serving: a store waiting on us would wait for ever.  What
			 * was recorded can no longer be trusted. */
			__atomic_store_n(&broken, true, __ATOMIC_RELEASE);
			struct timespec ms = { 0, 1000000 };
			nanosleep(&ms, NULL);
			continue;
		}
		for (size_t i = 0; i < (size_t)n / sizeof msg[0]; i++)
			if (msg[i].event == UFFD_EVENT_PAGEFAULT)
				serve_fault((uintptr_t)msg[i].arg.pagefault.address & ~(uintptr_t)(fams_page_size - 1));
	}
	return NULL;
}

/* Whether this kernel keeps a write-protected shmem page protected across
 * mprotect(PROT_READ) and back: Linux 5.19 to 6.1.7 made it writable with no fault
 * (fixed by "mm/uffd: enable writenotify while userfaultfd-wp is enabled", 6.2 and
 * 6.1.8), and then stores would be lost.  A store into such a page must reach the
 * thread.  0, or -1 with errno ENOTSUP where it does not. */
static int keeps_protection(int fd)
{
	size_t pg = (size_t)fams_page_size;
	int m = fams_raw_memfd_create("fams-probe", MFD_CLOEXEC);
	if (m < 0)
		return -1;
	char *p = fams_raw_ftruncate(m, (off_t)pg) == 0
			  ? fams_raw_mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0)
			  : MAP_FAILED;
	fams_raw_close(m);
	if (p == MAP_FAILED)
		return -1;
	uintptr_t a = (uintptr_t)p;
	struct uffdio_register reg = { .range = { a, pg }, .mode = UFFDIO_REGISTER_MODE_WP };
	int ok = -1;
	p[0] = 1; /* populated, as a written page is */
	if (wprecord_prepare(a, pg) == 0 && fams_raw_ioctl(fd, UFFDIO_REGISTER, &reg) == 0 &&
	    wpsync_protect(fd, a, pg, true) == 0 && fams_raw_mprotect(p, pg, PROT_READ) == 0 &&
	    fams_raw_mprotect(p, pg, PROT_READ | PROT_WRITE) == 0) {
		*(volatile char *)p = 2; /* faults to the thread, which records it */
		uint64_t bit, *w = wprecord_word(a, &bit);
		/* Recorded before the store went on (rule 1); a broken engine of the
		 * tests' may take a moment. */
		for (int i = 0; w && i < 100 && !(__atomic_load_n(w, __ATOMIC_ACQUIRE) & bit); i++) {
			struct timespec us100 = { 0, 100000 };
			nanosleep(&us100, NULL);
		}
		ok = w && (__atomic_fetch_and(w, ~bit, __ATOMIC_ACQ_REL) & bit) ? 0 : -1;
		if (ok < 0)
			errno = ENOTSUP;
	}
	int saved = errno;
	fams_raw_munmap(p, pg);
	errno = saved;
	return ok;
}

/* Whether this kernel refuses UFFDIO_WRITEPROTECT over a range spanning two
 * registered areas (windows_allowed): two pages of a memfd, one made read-only so
 * that they are two areas, registered, and opened in one call. */
static bool refuses_spanning(int fd)
{
	size_t pg = (size_t)fams_page_size;
	int m = fams_raw_memfd_create("fams-probe", MFD_CLOEXEC);
	if (m < 0)
		return false;
	char *p = fams_raw_ftruncate(m, (off_t)(2 * pg)) == 0
			  ? fams_raw_mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0)
			  : MAP_FAILED;
	fams_raw_close(m);
	if (p == MAP_FAILED)
		return false;
	uintptr_t a = (uintptr_t)p;
	struct uffdio_register reg = { .range = { a, 2 * pg }, .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect both = { .range = { a, 2 * pg }, .mode = 0 };
	bool refuses = fams_raw_mprotect(p + pg, pg, PROT_READ) == 0 &&
		       fams_raw_ioctl(fd, UFFDIO_REGISTER, &reg) == 0 &&
		       fams_raw_ioctl(fd, UFFDIO_WRITEPROTECT, &both) < 0 && errno == ENOENT;
	int saved = errno;
	fams_raw_munmap(p, 2 * pg);
	errno = saved;
	return refuses;
}

int wpsync_start(int fd)
{
	if (wprecord_init() < 0)
		return -1;
	served_fd = fd;
	broken = false;
	/* The thread takes no signal meant for the program, and a small stack. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t t;
	int err = pthread_create(&t, &attr, serve, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		served_fd = -1;
		errno = err;
		return -1;
	}
	pthread_setname_np(t, "fams-wp");
	windows_allowed = refuses_spanning(fd);
	if (keeps_protection(fd) < 0) {
		/* The thread stays, blocked in its read: nothing it serves is registered. */
		int saved = errno;
		fams_info("userfaultfd write-protect does not survive mprotect on this kernel (before 6.1.8)");
		errno = saved;
		return -1;
	}
	return 0;
}

/* Whether the page at a lies in a range being filled for some thread. */
static bool being_filled(uintptr_t a)
{
	for (int i = 0; i < MAX_FILLS; i++)
		if (a >= fills[i].s && a < fills[i].e)
			return true;
	return false;
}

/* A run of taken pages [s, e): protect it again, then report it.  A page the
 * kernel is filling for a thread stays open, its bit set again for the next
 * harvest.  -1 with errno if some page could not be protected (it stays
 * writable: the caller compares the range). */
static int give_back(int fd, uintptr_t s, uintptr_t e, void (*fn)(void *, uintptr_t, uintptr_t), void *ctx)
{
	size_t pg = (size_t)fams_page_size;
	int r = 0, saved = 0;
	for (uintptr_t a = s; a < e;) {
		bool open = being_filled(a);
		uintptr_t b = a + pg;
		while (b < e && being_filled(b) == open)
			b += pg;
		if (open)
			set_bits(a, b - a);
		else if (wpsync_protect(fd, a, b - a, true) < 0 && !saved)
			saved = errno, r = -1;
		a = b;
	}
	fn(ctx, s, e);
	errno = saved;
	return r;
}

int wpsync_take(int fd, uintptr_t addr, size_t len, void (*fn)(void *ctx, uintptr_t s, uintptr_t e), void *ctx)
{
	size_t pg = (size_t)fams_page_size;
	uintptr_t end = addr + len, run_s = 0, run_e = 0;
	int ret = 0, saved = 0;
	sigset_t old;
	lock_record(&old);
	for (uintptr_t a = addr & ~(uintptr_t)(pg - 1); a < end;) {
		uint64_t bit, *w = wprecord_word(a, &bit);
		/* The pages of this word inside the range. */
		uintptr_t word_end = (a | ((pg << 6) - 1)) + 1;
		if (word_end > end)
			word_end = end;
		if (!w) {
			a = word_end;
			continue;
		}
		/* The word's bits from a's up to word_end's, one per page. */
		size_t n = (word_end - a + pg - 1) / pg;
		uint64_t mask = n >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1) * bit;
		/* Bits are set only under the record lock (rule 2): one seen clear stays so. */
		uint64_t got = __atomic_load_n(w, __ATOMIC_ACQUIRE) & mask;
		if (got)
			got = __atomic_fetch_and(w, ~mask, __ATOMIC_ACQ_REL) & mask;
		for (; got; got &= got - 1) {
			uintptr_t p = (a & ~(uintptr_t)((pg << 6) - 1)) + (uintptr_t)__builtin_ctzll(got) * pg;
			if (p == run_e) {
				run_e = p + pg;
				continue;
			}
			if (run_e > run_s && give_back(fd, run_s, run_e, fn, ctx) < 0 && !saved)
				saved = errno, ret = -1;
			run_s = p, run_e = p + pg;
		}
		a = word_end;
	}
	if (run_e > run_s && give_back(fd, run_s, run_e, fn, ctx) < 0 && !saved)
		saved = errno, ret = -1;
	unlock_record(&old);
	if (__atomic_load_n(&broken, __ATOMIC_ACQUIRE) && !ret)
		saved = EIO, ret = -1;
	if (ret)
		errno = saved;
	return ret;
}

int wpsync_peek(uintptr_t addr, size_t len, void (*fn)(void *ctx, uintptr_t s, uintptr_t e), void *ctx)
{
	size_t pg = (size_t)fams_page_size;
	uintptr_t end = addr + len, run_s = 0, run_e = 0;
	/* No lock: a bit is cleared only by a take, under the harvest's locks, which
	 * the caller holds; one set after it is read belongs to a later store. */
	for (uintptr_t a = addr & ~(uintptr_t)(pg - 1); a < end;) {
		uint64_t bit, *w = wprecord_word(a, &bit);
		uintptr_t word_end = (a | ((pg << 6) - 1)) + 1;
		if (word_end > end)
			word_end = end;
		size_t n = (word_end - a + pg - 1) / pg;
		uint64_t mask = n >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1) * bit;
		uint64_t got = w ? __atomic_load_n(w, __ATOMIC_ACQUIRE) & mask : 0;
		if (got && fams_test_break == FAMS_BREAK_PEEK_TAKES)
			__atomic_fetch_and(w, ~got, __ATOMIC_ACQ_REL);
		for (; got; got &= got - 1) {
			uintptr_t p = (a & ~(uintptr_t)((pg << 6) - 1)) + (uintptr_t)__builtin_ctzll(got) * pg;
			if (p != run_e) {
				if (run_e > run_s)
					fn(ctx, run_s, run_e);
				run_s = p;
			}
			run_e = p + pg;
		}
		a = word_end;
	}
	if (run_e > run_s)
		fn(ctx, run_s, run_e);
	if (__atomic_load_n(&broken, __ATOMIC_ACQUIRE)) {
		errno = EIO;
		return -1;
	}
	return 0;
}

void wpsync_fill(int fd, uintptr_t addr, size_t len)
{
	if (len == 0)
		return;
	sigset_t old;
	lock_record(&old);
	if (my_fill < 0)
		for (int i = 0; i < MAX_FILLS && my_fill < 0; i++)
			if (fills[i].e == 0)
				my_fill = i;
	if (my_fill >= 0) {
		struct fill *f = &fills[my_fill];
		f->s = f->e && f->s < addr ? f->s : addr;
		f->e = f->e > addr + len ? f->e : addr + len;
	}
	record_and_open_locked(fd, addr, len);
	unlock_record(&old);
}

void wpsync_fill_done(void)
{
	if (my_fill < 0)
		return;
	sigset_t old;
	lock_record(&old);
	fills[my_fill].s = fills[my_fill].e = 0;
	my_fill = -1;
	unlock_record(&old);
}

int wpsync_watch(uint8_t *flag)
{
	sigset_t old;
	int r = -1;
	lock_record(&old);
	for (int i = 0; i < MAX_WATCHED && r < 0; i++)
		if (!watched[i])
			watched[i] = flag, r = 0;
	unlock_record(&old);
	if (r < 0)
		errno = ENOSPC;
	return r;
}

void wpsync_unwatch(uint8_t *flag)
{
	sigset_t old;
	lock_record(&old);
	for (int i = 0; i < MAX_WATCHED; i++)
		if (watched[i] == flag)
			watched[i] = NULL;
	unlock_record(&old);
}

void wpsync_pause(bool pause)
{
	sigset_t old;
	lock_record(&old);
	serving = !pause;
	unlock_record(&old);
}

void wpsync_forget(void)
{
	pthread_mutex_init(&record_lock, NULL); /* the parent's thread may have held it */
	served_fd = -1;
	broken = false;
	serving = true;
	memset(fills, 0, sizeof fills);
	memset(watched, 0, sizeof watched); /* the parent's slots: the child joins with its own */
	my_fill = -1;
	wprecord_clear();
}
