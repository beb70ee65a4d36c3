/* peer_pagemap_death.c -- PAGEMAP_SCAN on a peer's passed pagemap fd after the peer is SIGKILLed (before/as zombie/after reaping) or execs. */
#include <errno.h>
#include "probe.h"
#include <fcntl.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SIZE (64UL << 20)
#define PAGE 4096UL
#define NPAGES (SIZE / PAGE)



/* One PAGEMAP_SCAN call over the range: pages written, or -errno. */
static long scan1(int pm, uintptr_t start, uintptr_t end)
{
	struct page_region vec[256];
	struct pm_scan_arg arg = written_pages_arg(start, end, vec, 256);
	long n = ioctl(pm, PAGEMAP_SCAN, &arg);
	if (n < 0)
		return -errno;
	long pages = 0;
	for (long i = 0; i < n; i++)
		pages += (vec[i].end - vec[i].start) / PAGE;
	return pages;
}

struct hello {
	uint64_t base;
};

/* Child A: map a memfd, track it, write 8 pages, hand over its pagemap fd, then wait (or exec). */
static void child(int ctl, int do_exec)
{
	int mfd = memfd_create("fams-wc", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, SIZE))
		die("memfd");
	char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	for (size_t i = 0; i < NPAGES; i++)
		p[i * PAGE] = 1;
	const __u64 need = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	struct uffdio_api api = { .api = UFFD_API, .features = need };
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) || (api.features & need) != need)
		die("uffd");
	struct uffdio_register reg = { .range = { (uintptr_t)p, SIZE }, .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .range = { (uintptr_t)p, SIZE }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) || ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
		die("register/protect");
	for (int i = 0; i < 8; i++)
		p[i * 1000 * PAGE] = 2;
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	struct hello h = { (uintptr_t)p };
	send_fd(ctl, pm, &h, sizeof h);
	char c;
	if (read(ctl, &c, 1) != 1)
		_exit(1);
	if (do_exec) {
		execl("/bin/sleep", "sleep", "100", (char *)NULL);
		die("exec");
	}
	for (;;)
		pause();
}

static const char *en(long r) { return r >= 0 ? "ok" : strerrorname_np(-r); }

static void variant(int do_exec)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid_t a = fork();
	if (a == 0) {
		close(sv[0]);
		child(sv[1], do_exec);
	}
	close(sv[1]);
	struct hello h;
	int pm = recv_fd(sv[0], &h, sizeof h);
	uintptr_t s = h.base, e = h.base + SIZE;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)a);
	long r = scan1(pm, s, e);
	printf("RESULT %s_alive_scan %ld pages\n", do_exec ? "exec" : "kill", r);
	if (do_exec) {
		write(sv[0], "x", 1);
		usleep(100000); /* let the exec happen */
		r = scan1(pm, s, e);
		printf("RESULT after_exec_scan_errno %ld errno  # %s\n", r < 0 ? -r : 0, en(r));
		int fd = open(path, O_RDONLY);
		r = fd < 0 ? -errno : scan1(fd, s, e);
		printf("RESULT after_exec_fresh_open_scan %ld  # %s (new image has no mapping there)\n", r, en(r));
		kill(a, SIGKILL);
		waitpid(a, NULL, 0);
		return;
	}
	/* Right after kill(): the victim may not have torn down its mm yet. */
	kill(a, SIGKILL);
	r = scan1(pm, s, e);
	printf("RESULT kill_immediate_scan %ld result  # %s\n", r, en(r));
	siginfo_t si;
	waitid(P_PID, a, &si, WEXITED | WNOWAIT); /* zombie, not reaped */
	r = scan1(pm, s, e);
	printf("RESULT kill_zombie_scan_errno %ld errno  # %s\n", r < 0 ? -r : 0, en(r));
	int fd = open(path, O_RDONLY);
	printf("RESULT kill_zombie_open_pagemap_errno %d errno  # %s\n", fd < 0 ? errno : 0,
	       fd < 0 ? strerrorname_np(errno) : "opened");
	if (fd >= 0) {
		r = scan1(fd, s, e);
		printf("RESULT kill_zombie_fresh_fd_scan_errno %ld errno  # %s\n", r < 0 ? -r : 0, en(r));
		close(fd);
	}
	waitpid(a, NULL, 0); /* reaped */
	r = scan1(pm, s, e);
	printf("RESULT kill_reaped_scan_errno %ld errno  # %s\n", r < 0 ? -r : 0, en(r));
	fd = open(path, O_RDONLY);
	printf("RESULT kill_reaped_open_pagemap_errno %d errno  # %s\n", fd < 0 ? errno : 0,
	       fd < 0 ? strerrorname_np(errno) : "opened");
	close(pm);
	close(sv[0]);
}

/* The dying window: kill A (8 pages written and never scanned), then scan after a 0-60 us spin.
 * Counts how often the scan still answers, with how many pages, and how often ESRCH. */
static void race(int trials)
{
	int full = 0, esrch = 0, other = 0, partial = 0;
	for (int t = 0; t < trials; t++) {
		int sv[2];
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		pid_t a = fork();
		if (a == 0) {
			close(sv[0]);
			child(sv[1], 0);
		}
		close(sv[1]);
		struct hello h;
		int pm = recv_fd(sv[0], &h, sizeof h);
		struct timespec t0, t1;
		kill(a, SIGKILL);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		long spin = (t * 7) % 61 * 1000L;
		do
			clock_gettime(CLOCK_MONOTONIC, &t1);
		while ((t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec - t0.tv_nsec < spin);
		long r = scan1(pm, h.base, h.base + SIZE);
		if (r == 8)
			full++;
		else if (r == -ESRCH)
			esrch++;
		else if (r >= 0)
			partial++, fprintf(stderr, "trial %d spin %ld us: %ld pages\n", t, spin / 1000, r);
		else
			other++, fprintf(stderr, "trial %d: %s\n", t, en(r));
		waitpid(a, NULL, 0);
		close(pm);
		close(sv[0]);
	}
	printf("RESULT dying_window_scan_all8 %d trials\n", full);
	printf("RESULT dying_window_scan_ESRCH %d trials\n", esrch);
	printf("RESULT dying_window_scan_fewer_pages %d trials\n", partial);
	printf("RESULT dying_window_scan_other_error %d trials\n", other);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	variant(0);
	variant(1);
	race(300);
	return 0;
}
