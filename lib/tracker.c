/* tracker.c -- which tracker this process uses (probed at start-up), and the
 * userfaultfd write-protect both fast trackers are built on: asynchronous with
 * PAGEMAP_SCAN where the kernel has them, else synchronous (wpsync.c). */
#include "tracker.h"
#include "log.h"
#include "sys.h"
#include "wprecord.h"
#include "wpsync.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Kernel ABI newer than Debian 12's headers (see shared KERNEL.md). */
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
struct fams_page_region {
	__u64 start, end, categories;
};
struct fams_pm_scan_arg {
	__u64 size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
		category_mask, category_anyof_mask, return_mask;
};
#define FAMS_PAGEMAP_SCAN _IOWR('f', 16, struct fams_pm_scan_arg)

int fams_tracker_kind = FAMS_TRACKER_COMPARE;
uint64_t fams_tracker_pages_covered;
static int uffd = -1;
static int pagemap_fd_own = -1;
/* The other userfaultfd tracker's descriptor, once this process has moved between
 * uffd and uffd-sync (fams_tracker_switch): kept with no range registered, so that
 * moving back needs no new one (and uffd-sync's thread keeps serving it). */
static int uffd_spare = -1;
static bool spare_user_mode_only;
/* uffd-sync's thread was started in this process (on uffd or uffd_spare). */
static bool sync_started;
/* The userfaultfd serves only faults in user mode (vm.unprivileged_userfaultfd=0
 * and no CAP_SYS_PTRACE): with the synchronous tracker the kernel's own writes into
 * a protected page then fail with EFAULT instead of waiting for the thread. */
static bool user_mode_only;
/* The process whose address space uffd and pagemap_fd_own describe.  A child created
 * without the fork handlers (a raw clone) must not act on its parent's page
 * tables: there every call fails, so a scan falls back to comparing and a new
 * mapping is refused, never silently untracked. */
static pid_t owner;

static const char *const kind_names[] = {
	[FAMS_TRACKER_AUTO] = "auto", [FAMS_TRACKER_UFFD] = "uffd", [FAMS_TRACKER_UFFD_SYNC] = "uffd-sync", [FAMS_TRACKER_COMPARE] = "compare"
};

bool fams_tracker_owned(void) { return fams_tracker_kind == FAMS_TRACKER_COMPARE || fams_raw_getpid() == owner; }

static int owned(void)
{
	if (fams_raw_getpid() == owner)
		return 1;
	errno = ESRCH;
	return 0;
}

/* A userfaultfd with the features `need`, or -1 with errno (EINVAL: this kernel
 * lacks one of them).  Served in user mode only where that is all we may have. */
static int uffd_open(__u64 need, int flags)
{
	int fd = fams_raw_userfaultfd(O_CLOEXEC | flags);
	user_mode_only = false;
	if (fd < 0 && (errno == EPERM || errno == EACCES)) {
		fd = fams_raw_userfaultfd(O_CLOEXEC | flags | UFFD_USER_MODE_ONLY);
		user_mode_only = fd >= 0;
	}
	if (fd < 0)
		return -1;
	struct uffdio_api api = { .api = UFFD_API, .features = need };
	if (fams_raw_ioctl(fd, UFFDIO_API, &api) < 0 || (api.features & need) != need) {
		int saved = errno ? errno : EOPNOTSUPP;
		fams_raw_close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* The asynchronous tracker (Linux >= 6.7): the kernel records written pages itself. */
static int start_async(void)
{
	int fd = uffd_open(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
			   O_NONBLOCK);
	if (fd < 0)
		return -1;
	int pm = fams_sys.os_openat(AT_FDCWD, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
	if (pm < 0) {
		int saved = errno;
		fams_raw_close(fd);
		errno = saved;
		return -1;
	}
	uffd = fd;
	pagemap_fd_own = pm;
	return 0;
}

/* The synchronous tracker (Linux >= 5.19: write-protect on shmem): a thread of
 * ours serves each first store to a page (wpsync.c).  Its descriptor goes to *slot,
 * and whether it serves user-mode faults only to *slot_user_only; with
 * refuse_user_only (a move, trackswitch.c) such a one is refused, EPERM: the kernel's
 * writes into a protected page (read(2) into a mapping) would then fail with EFAULT. */
static int start_sync(int *slot, bool *slot_user_only, bool refuse_user_only)
{
	bool was = user_mode_only;
	int fd = uffd_open(UFFD_FEATURE_WP_HUGETLBFS_SHMEM, 0);
	bool user_only = user_mode_only;
	user_mode_only = was;
	if (fd < 0)
		return -1;
	if (user_only && refuse_user_only) {
		fams_raw_close(fd);
		errno = EPERM;
		return -1;
	}
	if (wpsync_start(fd) < 0) {
		int saved = errno;
		fams_raw_close(fd);
		errno = saved;
		return -1;
	}
	sync_started = true;
	*slot = fd;
	*slot_user_only = user_only;
	return 0;
}

/* Whether the kernel's writes into a protected page fail rather than wait for our
 * thread: the synchronous tracker on a userfaultfd that serves user mode only. */
static bool kernel_writes_fail(void) { return fams_tracker_kind == FAMS_TRACKER_UFFD_SYNC && user_mode_only; }

void fams_tracker_init(void)
{
	int want = fams_cfg.tracker, kind = FAMS_TRACKER_COMPARE, err = 0;
	if ((want == FAMS_TRACKER_AUTO || want == FAMS_TRACKER_UFFD) && start_async() == 0)
		kind = FAMS_TRACKER_UFFD;
	else if (want != FAMS_TRACKER_COMPARE)
		err = errno;
	if (kind == FAMS_TRACKER_COMPARE && (want == FAMS_TRACKER_AUTO || want == FAMS_TRACKER_UFFD_SYNC)) {
		if (start_sync(&uffd, &user_mode_only, false) == 0)
			kind = FAMS_TRACKER_UFFD_SYNC;
		else
			err = errno;
	}
	fams_tracker_kind = kind;
	owner = fams_raw_getpid();
	if (want != FAMS_TRACKER_AUTO && want != kind)
		fams_warn("FAMS_TRACKER=%s is unavailable on this kernel (%s); using the compare tracker",
			  kind_names[want], strerror(err));
	fams_info("tracker: %s%s", kind_names[kind],
		  kernel_writes_fail() ? " (user-mode faults only)" : "");
}

bool fams_tracker_opens_for_kernel(const void *addr, size_t len)
{
	return kernel_writes_fail() && wprecord_may_cover((uintptr_t)addr, len);
}

void fams_open_for_kernel(void *addr, size_t len)
{
	if (kernel_writes_fail() && owned())
		wpsync_fill(uffd, (uintptr_t)addr, len);
}

bool fams_tracker_recorded(uintptr_t addr, size_t len)
{
	return fams_tracker_kind == FAMS_TRACKER_UFFD_SYNC && wprecord_any(addr, len);
}

int fams_tracker_watch(uint8_t *flag)
{
	return fams_tracker_kind == FAMS_TRACKER_UFFD_SYNC && owned() ? wpsync_watch(flag) : -1;
}

void fams_tracker_unwatch(uint8_t *flag)
{
	/* Also after a move to uffd: the thread would raise the flag in a later
	 * uffd-sync period, in memory perhaps unmapped by then. */
	if (sync_started)
		wpsync_unwatch(flag);
}

void fams_kernel_filled(void)
{
	if (kernel_writes_fail())
		wpsync_fill_done();
}

/* 0 when there is nothing for the uffd tracker to do on len bytes; -1 (ESRCH) when
 * this process does not own the tracker; 1 when it should go ahead. */
static int uffd_applies(size_t len)
{
	if (fams_tracker_kind == FAMS_TRACKER_COMPARE || len == 0)
		return 0;
	return owned() ? 1 : -1;
}

int fams_protect_range(void *addr, size_t len)
{
	int go = uffd_applies(len);
	return go <= 0 ? go : wpsync_protect(uffd, (uintptr_t)addr, len, true);
}

int fams_track_range(void *addr, size_t len)
{
	int go = uffd_applies(len);
	struct uffdio_register reg = { .range = { (uintptr_t)addr, len }, .mode = UFFDIO_REGISTER_MODE_WP };
	if (go > 0 && fams_tracker_kind == FAMS_TRACKER_UFFD_SYNC && wprecord_prepare((uintptr_t)addr, len) < 0)
		return -1; /* a fault there would find nowhere to record itself */
	return go <= 0 ? go : fams_raw_ioctl(uffd, UFFDIO_REGISTER, &reg);
}

/* What a scan asks the kernel: the pages of which categories (all of `all`, one of
 * `any`), and which categories split the runs it returns. */
struct query {
	__u64 all, any, returned;
};
/* Pages written since their last scan (or never protected); the categories
 * asked only for these lets the kernel take its fast path (a test of one bit per
 * page table entry): about 2.6 times faster here. */
static const struct query written_pages = { PAGE_IS_WRITTEN, 0, PAGE_IS_WRITTEN };
/* Pages that exist: a page table entry, or a swap entry. */
static const struct query mapped_pages = { 0, PAGE_IS_PRESENT | PAGE_IS_SWAPPED, PAGE_IS_PRESENT | PAGE_IS_SWAPPED };

/* PAGEMAP_SCAN of [addr, addr + len) through pagemap_fd (-1: this process's), each
 * run of the pages q asks for reported through fn; with WP_MATCHING (flags),
 * write-protected again as they are read. */
static int scan(int pagemap_fd, uintptr_t addr, size_t len, __u64 flags, const struct query *q, fams_written_fn fn,
		void *ctx)
{
	int fd = pagemap_fd;
	if (fd < 0) {
		int go = uffd_applies(len);
		if (go <= 0)
			return go;
		fd = pagemap_fd_own;
		fams_tracker_pages_covered += len / (uint64_t)fams_page_size;
	}
	struct fams_page_region vec[256];
	uintptr_t start = addr, end = start + len;
	while (start < end) {
		struct fams_pm_scan_arg arg = {
			.size = sizeof arg,
			.flags = flags | PM_SCAN_CHECK_WPASYNC,
			.start = start,
			.end = end,
			.vec = (uintptr_t)vec,
			.vec_len = sizeof vec / sizeof vec[0],
			.category_mask = q->all,
			.category_anyof_mask = q->any,
			.return_mask = q->returned,
		};
		long n = fams_raw_ioctl(fd, FAMS_PAGEMAP_SCAN, &arg);
		if (n < 0)
			return -1;
		for (long i = 0; i < n; i++)
			fn(ctx, vec[i].start, vec[i].end);
		/* One call returns at most vec_len regions: continue from where it stopped. */
		if (arg.walk_end <= start)
			break;
		start = arg.walk_end;
	}
	return 0;
}

int fams_scan_written(int pagemap_fd, uintptr_t addr, size_t len, bool protect, fams_written_fn fn, void *ctx)
{
	/* uffd-sync takes (or peeks at) its record; uffd scans. */
	if (pagemap_fd < 0 && fams_tracker_kind == FAMS_TRACKER_UFFD_SYNC) {
		int go = uffd_applies(len);
		if (go <= 0)
			return go;
		fams_tracker_pages_covered += len / (uint64_t)fams_page_size;
		return protect ? wpsync_take(uffd, addr, len, fn, ctx) : wpsync_peek(addr, len, fn, ctx);
	}
	return scan(pagemap_fd, addr, len, protect ? PM_SCAN_WP_MATCHING : 0, &written_pages, fn, ctx);
}

int fams_scan_mapped(int pagemap_fd, uintptr_t addr, size_t len, fams_written_fn fn, void *ctx)
{
	if (pagemap_fd < 0 && fams_tracker_kind == FAMS_TRACKER_UFFD_SYNC) {
		fn(ctx, addr, addr + len); /* it protects every page: all count as mapped */
		return 0;
	}
	return scan(pagemap_fd, addr, len, 0, &mapped_pages, fn, ctx);
}

int fams_scan_candidates(int pagemap_fd, uintptr_t addr, size_t len, fams_written_fn fn, void *ctx)
{
	return scan(pagemap_fd, addr, len, 0, &written_pages, fn, ctx);
}

bool fams_tracker_may_move(void)
{
	/* The asynchronous tracker's pagemap is opened only where it was started. */
	return pagemap_fd_own >= 0 &&
	       (fams_tracker_kind == FAMS_TRACKER_UFFD || fams_tracker_kind == FAMS_TRACKER_UFFD_SYNC);
}

int fams_tracker_prepare_switch(int to)
{
	bool both_uffd = (fams_tracker_kind == FAMS_TRACKER_UFFD && to == FAMS_TRACKER_UFFD_SYNC) ||
			 (fams_tracker_kind == FAMS_TRACKER_UFFD_SYNC && to == FAMS_TRACKER_UFFD);
	if (!both_uffd || !owned()) {
		errno = EINVAL;
		return -1;
	}
	if (uffd_spare >= 0)
		return 0;
	if (to != FAMS_TRACKER_UFFD_SYNC) {
		errno = EINVAL; /* only a process that began asynchronous has the other one */
		return -1;
	}
	return start_sync(&uffd_spare, &spare_user_mode_only, true);
}

int fams_untrack_range(void *addr, size_t len)
{
	int go = uffd_applies(len);
	struct uffdio_range r = { (uintptr_t)addr, len };
	return go <= 0 ? go : fams_raw_ioctl(uffd, UFFDIO_UNREGISTER, &r);
}

void fams_tracker_switch(int to)
{
	wpsync_pause(to != FAMS_TRACKER_UFFD_SYNC);
	int fd = uffd;
	bool user_only = user_mode_only;
	uffd = uffd_spare;
	user_mode_only = spare_user_mode_only;
	uffd_spare = fd;
	spare_user_mode_only = user_only;
	fams_tracker_kind = to;
}

void fams_tracker_forget(void)
{
	if (sync_started)
		wpsync_forget();
	sync_started = false;
	int *fds[] = { &uffd, &uffd_spare, &pagemap_fd_own };
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
		if (*fds[i] >= 0)
			fams_raw_close(*fds[i]);
		*fds[i] = -1;
	}
}

void fams_tracker_fd_slots(int **uffd_slot, int **pagemap_slot, int **spare_slot)
{
	*uffd_slot = &uffd;
	*pagemap_slot = &pagemap_fd_own;
	*spare_slot = &uffd_spare;
}
