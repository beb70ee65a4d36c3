/* probe.h -- what the cross-process probes share: timing and medians, errors,
 * descriptors passed over a Unix socket, and the userfaultfd/PAGEMAP_SCAN ABI newer
 * than Debian 12's headers (as lib/tracker.c carries it; see shared KERNEL.md). */
#ifndef FAMS_PROBE_H
#define FAMS_PROBE_H

#include <errno.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#define UFFD_USER_MODE_ONLY 1
#define PAGE_IS_WRITTEN (1 << 1)
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
struct page_region {
	__u64 start, end, categories;
};
struct pm_scan_arg {
	__u64 size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
		category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)

/* Microseconds on the monotonic clock. */
static inline double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static inline int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorts v). */
static inline double median(double *v, int n)
{
	qsort(v, n, sizeof *v, cmpd);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(1);
}

static inline void xwrite(int fd, const void *b, size_t n)
{
	if (write(fd, b, n) != (ssize_t)n)
		die("write");
}

static inline void xread(int fd, void *b, size_t n)
{
	if (read(fd, b, n) != (ssize_t)n)
		die("read");
}

/* Send descriptor fd over Unix socket s with len bytes of buf (SCM_RIGHTS). */
static inline void send_fd(int s, int fd, const void *buf, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	if (sendmsg(s, &m, 0) != (ssize_t)len)
		die("sendmsg");
}

/* Receive a descriptor (and len bytes into buf) sent by send_fd; -1 if none came. */
static inline int recv_fd(int s, void *buf, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	if (recvmsg(s, &m, MSG_CMSG_CLOEXEC | MSG_WAITALL) != (ssize_t)len)
		die("recvmsg");
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

/* The PAGEMAP_SCAN argument that reports (and re-protects) the pages written in
 * [start, end), into vec[0..n). */
static inline struct pm_scan_arg written_pages_arg(unsigned long start, unsigned long end,
						   struct page_region *vec, size_t n)
{
	struct pm_scan_arg arg = {
		.size = sizeof arg,
		.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
		.start = start,
		.end = end,
		.vec = (unsigned long)vec,
		.vec_len = n,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};
	return arg;
}

/* Wait until *want is set by another process (it is about to block), then until
 * that process is asleep in the kernel (state S in its /proc/PID/stat, open as
 * statfd), and clear *want. */
static inline void wait_until_asleep(volatile int *want, int statfd)
{
	while (!*want)
		__builtin_ia32_pause();
	char buf[512];
	for (;;) {
		ssize_t n = pread(statfd, buf, sizeof buf - 1, 0);
		buf[n > 0 ? n : 0] = 0;
		char *q = strrchr(buf, ')');
		if (q && q[2] == 'S')
			break;
	}
	*want = 0;
}

#endif
