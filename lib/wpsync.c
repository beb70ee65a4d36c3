/* wpsync.c -- the synchronous write-protect tracker's fault-serving thread and its
 * record of the pages it opened to writing.
 *
 * Every tracked page of a working copy is write-protected (userfaultfd, shmem
 * support since Linux 5.19) until a store faults on it.  The thread below reads the
 * fault, un-protects the page (which wakes the storing thread) and sets the page's
 * bit in the record; a harvest takes the bits of a range and protects those pages
 * again.  The record is indexed by address: a two-level table of bitmaps, one per
 * GiB of address space that ever held a tracked mapping, never freed while the
 * thread may use it, so the thread needs no lock (a storing thread may hold any
 * lock of the program's or the registry's while it waits for us).
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
 * tests/t_trackers.c runs an engine with each rule broken and catches it. */
#include "wpsync.h"
#include "log.h"
#include "sys.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <sys/mman.h>

#define CHUNK_SHIFT 30 /* a bitmap per GiB of address space */
#define ADDR_BITS 48   /* user addresses below 2^48 (4-level page tables) */
#define NCHUNKS ((size_t)1 << (ADDR_BITS - CHUNK_SHIFT))

static int uffd = -1;
static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned page_shift;
static size_t chunk_words; /* 64-bit words of one chunk's bitmap */
/* chunks[addr >> CHUNK_SHIFT]: written under the registry lock (prepare), read by
 * the thread with acquire loads. */
static uint64_t **chunks;
static size_t lowest = NCHUNKS, highest; /* the chunks allocated: [lowest, highest] */
/* Set when the thread stopped or a fault found no chunk: every later harvest fails,
 * so its range is compared rather than trusted. */
static bool broken;

/* The word holding page addr's bit, and the bit; NULL when no chunk covers it. */
static uint64_t *bit_word(uintptr_t addr, uint64_t *bit)
{
	size_t c = addr >> CHUNK_SHIFT;
	if (c >= NCHUNKS)
		return NULL;
	uint64_t *chunk = __atomic_load_n(&chunks[c], __ATOMIC_ACQUIRE);
	if (!chunk)
		return NULL;
	size_t page = (addr & (((uintptr_t)1 << CHUNK_SHIFT) - 1)) >> page_shift;
	*bit = (uint64_t)1 << (page % 64);
	return &chunk[page / 64];
}

static void set_bits(uintptr_t addr, size_t len)
{
	for (uintptr_t a = addr; a < addr + len; a += (uintptr_t)1 << page_shift) {
		uint64_t bit, *w = bit_word(a, &bit);
		if (w)
			__atomic_fetch_or(w, bit, __ATOMIC_RELEASE);
		else
			__atomic_store_n(&broken, true, __ATOMIC_RELEASE);
	}
}

int wpsync_protect(int fd, uintptr_t addr, size_t len, bool wp)
{
	struct uffdio_writeprotect arg = { .range = { addr, len }, .mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };
	int r;
	while ((r = fams_raw_ioctl(fd, UFFDIO_WRITEPROTECT, &arg)) < 0 && errno == EAGAIN)
		;
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

static int set_protection(uintptr_t addr, size_t len, bool wp) { return wpsync_protect(uffd, addr, len, wp); }

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

/* Record [addr, addr + len), then open it (rule 1), under the record lock (rule 2). */
static void record_and_open(uintptr_t addr, size_t len)
{
	sigset_t old;
	lock_record(&old);
	if (fams_test_break == FAMS_BREAK_WP_OPEN_FIRST) {
		set_protection(addr, len, false);
		unlock_record(&old);
		sched_yield(); /* the storer runs on, as it may */
		lock_record(&old);
		set_bits(addr, len);
		unlock_record(&old);
		return;
	}
	set_bits(addr, len);
	if (fams_test_break == FAMS_BREAK_WP_UNLOCKED)
		sched_yield(); /* a harvest may run between the two steps */
	if (set_protection(addr, len, false) < 0) {
		/* Unmapped or unregistered meanwhile: wake whoever waits, to fault anew or
		 * find no tracked page there. */
		struct uffdio_range r = { addr, len };
		fams_raw_ioctl(uffd, UFFDIO_WAKE, &r);
	}
	unlock_record(&old);
}

static void *serve(void *arg)
{
	(void)arg;
	struct uffd_msg msg[16];
	for (;;) {
		ssize_t n = fams_raw_read(uffd, msg, sizeof msg);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		for (size_t i = 0; i < (size_t)n / sizeof msg[0]; i++)
			if (msg[i].event == UFFD_EVENT_PAGEFAULT)
				record_and_open((uintptr_t)msg[i].arg.pagefault.address &
						~(uintptr_t)(fams_page_size - 1), (size_t)fams_page_size);
	}
	/* The descriptor is gone: nothing serves faults any more (the kernel drops the
	 * registrations with the last reference), so nothing recorded can be trusted. */
	__atomic_store_n(&broken, true, __ATOMIC_RELEASE);
	return NULL;
}

int wpsync_start(int fd)
{
	page_shift = (unsigned)__builtin_ctzl((unsigned long)fams_page_size);
	chunk_words = ((size_t)1 << (CHUNK_SHIFT - page_shift)) / 64;
	if (!chunks) {
		void *t = fams_raw_mmap(NULL, NCHUNKS * sizeof *chunks, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (t == MAP_FAILED)
			return -1;
		chunks = t;
	}
	uffd = fd;
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
		uffd = -1;
		errno = err;
		return -1;
	}
	pthread_setname_np(t, "fams-wp");
	return 0;
}

int wpsync_prepare(uintptr_t addr, size_t len)
{
	size_t first = addr >> CHUNK_SHIFT, last = (addr + len - 1) >> CHUNK_SHIFT;
	if (len == 0)
		return 0;
	if (last >= NCHUNKS) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t c = first; c <= last; c++) {
		if (chunks[c])
			continue;
		void *b = fams_raw_mmap(NULL, chunk_words * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
					-1, 0);
		if (b == MAP_FAILED)
			return -1;
		__atomic_store_n(&chunks[c], (uint64_t *)b, __ATOMIC_RELEASE);
		if (c < lowest)
			lowest = c;
		if (c > highest)
			highest = c;
	}
	return 0;
}

/* A run of taken pages [s, e): protect it again, then report it.  -1 if it could
 * not be protected (its pages stay writable: the caller compares the range). */
static int give_back(uintptr_t s, uintptr_t e, void (*fn)(void *, uintptr_t, uintptr_t), void *ctx)
{
	int r = set_protection(s, e - s, true);
	fn(ctx, s, e);
	return r;
}

int wpsync_take(uintptr_t addr, size_t len, void (*fn)(void *ctx, uintptr_t s, uintptr_t e), void *ctx)
{
	size_t pg = (size_t)1 << page_shift;
	uintptr_t end = addr + len, run_s = 0, run_e = 0;
	int ret = 0, saved = 0;
	sigset_t old;
	lock_record(&old);
	for (uintptr_t a = addr; a < end;) {
		uint64_t bit, *w = bit_word(a, &bit);
		/* The pages of this word inside the range. */
		uintptr_t word_end = (a | ((pg << 6) - 1)) + 1;
		if (word_end > end)
			word_end = end;
		if (!w) {
			a = word_end;
			continue;
		}
		uint64_t mask = 0;
		for (uintptr_t b = a; b < word_end; b += pg)
			mask |= (uint64_t)1 << ((b >> page_shift) % 64);
		uint64_t got = __atomic_fetch_and(w, ~mask, __ATOMIC_ACQ_REL) & mask;
		for (; got; got &= got - 1) {
			uintptr_t p = (a & ~(uintptr_t)((pg << 6) - 1)) + ((uintptr_t)__builtin_ctzll(got) << page_shift);
			if (p == run_e) {
				run_e = p + pg;
				continue;
			}
			if (run_e > run_s && give_back(run_s, run_e, fn, ctx) < 0 && !saved)
				saved = errno, ret = -1;
			run_s = p, run_e = p + pg;
		}
		a = word_end;
	}
	if (run_e > run_s && give_back(run_s, run_e, fn, ctx) < 0 && !saved)
		saved = errno, ret = -1;
	unlock_record(&old);
	if (__atomic_load_n(&broken, __ATOMIC_ACQUIRE) && !ret)
		saved = EIO, ret = -1;
	if (ret)
		errno = saved;
	return ret;
}

void wpsync_open(uintptr_t addr, size_t len)
{
	if (len)
		record_and_open(addr, len);
}

void wpsync_forget(void)
{
	pthread_mutex_init(&record_lock, NULL); /* the parent's thread may have held it */
	uffd = -1;
	broken = false;
	for (size_t c = lowest; chunks && c <= highest && c < NCHUNKS; c++)
		if (chunks[c])
			memset(chunks[c], 0, chunk_words * 8);
}
