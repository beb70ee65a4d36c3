/* peer_pagemap_scan.c -- PAGEMAP_SCAN (WP_MATCHING|CHECK_WPASYNC) of a peer's page tables through its passed /proc/self/pagemap fd: correctness and cost vs self-scan, 1 and 4 peers. */
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
#define REPS 300
#define NPEERS 4



/* The tracker.c loop: returns pages found (or -errno); fills out[] with page addresses if given. */
static long scan(int pm, uintptr_t start, uintptr_t end, uintptr_t *out, long cap)
{
	struct page_region vec[256];
	long pages = 0;
	while (start < end) {
		struct pm_scan_arg arg = written_pages_arg(start, end, vec, 256);
		long n = ioctl(pm, PAGEMAP_SCAN, &arg);
		if (n < 0)
			return -errno;
		for (long i = 0; i < n; i++)
			for (uintptr_t a = vec[i].start; a < vec[i].end; a += PAGE) {
				if (out && pages < cap)
					out[pages] = a;
				pages++;
			}
		if (arg.walk_end <= start)
			break;
		start = arg.walk_end;
	}
	return pages;
}

/* k pages spread over the mapping, page index order. */
static size_t page_index(int k, int i) { return (size_t)i * (NPAGES / k) + (NPAGES / k) / 2; }

enum { OP_DIRTY = 1, OP_SELFSCAN, OP_EXIT };
struct cmd {
	int op, k, reps;
};
struct reply {
	double us;
	int ok, pad;
};
struct hello {
	uint64_t base;
	int pid, pad;
};

/* A peer: maps the working copy, tracks it with its own async-WP userfaultfd, hands its pagemap fd out. */
static int peer(int ctl)
{
	struct hello h;
	int mfd = recv_fd(ctl, &h, sizeof h);
	char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	for (size_t i = 0; i < NPAGES; i++) /* populated, as a working copy filled from its file is */
		p[i * PAGE] = 1;
	const __u64 need = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	struct uffdio_api api = { .api = UFFD_API, .features = need };
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) || (api.features & need) != need)
		die("uffd");
	struct uffdio_register reg = { .range = { (uintptr_t)p, SIZE }, .mode = UFFDIO_REGISTER_MODE_WP };
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		die("UFFDIO_REGISTER");
	struct uffdio_writeprotect wp = { .range = { (uintptr_t)p, SIZE }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
		die("UFFDIO_WRITEPROTECT");
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		die("pagemap");
	h.base = (uintptr_t)p;
	h.pid = getpid();
	send_fd(ctl, pm, &h, sizeof h);
	unsigned char gen = 2;
	for (;;) {
		struct cmd c;
		xread(ctl, &c, sizeof c);
		struct reply r = { 0, 1, 0 };
		if (c.op == OP_EXIT)
			return 0;
		if (c.op == OP_DIRTY) {
			for (int i = 0; i < c.k; i++)
				p[page_index(c.k, i) * PAGE] = gen;
			gen++;
		} else if (c.op == OP_SELFSCAN) {
			static double t[REPS];
			for (int j = 0; j < c.reps; j++) {
				for (int i = 0; i < c.k; i++)
					p[page_index(c.k, i) * PAGE] = gen;
				gen++;
				double t0 = now_us();
				long n = scan(pm, (uintptr_t)p, (uintptr_t)p + SIZE, NULL, 0);
				t[j] = now_us() - t0;
				if (n != c.k)
					r.ok = 0;
			}
			r.us = median(t, c.reps);
		}
		xwrite(ctl, &r, sizeof r);
	}
}

struct peerh {
	pid_t pid;
	int ctl, pm;
	uintptr_t base;
};

static struct peerh spawn(const char *argv0, int mfd)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	pid_t c = fork();
	if (c == 0) {
		close(sv[0]);
		char s[16];
		snprintf(s, sizeof s, "%d", sv[1]);
		execl("/proc/self/exe", argv0, "peer", s, (char *)NULL);
		die("exec");
	}
	close(sv[1]);
	struct peerh ph = { c, sv[0], -1, 0 };
	struct hello h = { 0 };
	send_fd(ph.ctl, mfd, &h, sizeof h);
	ph.pm = recv_fd(ph.ctl, &h, sizeof h);
	ph.base = h.base;
	return ph;
}
static struct reply rpc(struct peerh *ph, int op, int k, int reps)
{
	struct cmd c = { op, k, reps };
	struct reply r;
	xwrite(ph->ctl, &c, sizeof c);
	if (op != OP_EXIT)
		xread(ph->ctl, &r, sizeof r);
	return r;
}
static long scan_peer(struct peerh *ph, uintptr_t *out, long cap)
{
	return scan(ph->pm, ph->base, ph->base + SIZE, out, cap);
}
/* Exactly the k pages the peer wrote, nothing else. */
static int exact(struct peerh *ph, int k, uintptr_t *got, long n)
{
	if (n != k)
		return 0;
	for (int i = 0; i < k; i++)
		if (got[i] != ph->base + page_index(k, i) * PAGE)
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "peer"))
		return peer(atoi(argv[2]));
	int mfd = memfd_create("fams-wc", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, SIZE))
		die("memfd");
	struct peerh peers[NPEERS];
	peers[0] = spawn(argv[0], mfd);
	struct peerh *a = &peers[0];
	static uintptr_t got[NPAGES];
	static double t[REPS];
	int ks[] = { 1, 8, 64, 512 };

	long n0 = scan_peer(a, got, NPAGES);
	printf("RESULT fresh_protected_scan_pages %ld pages\n", n0);
	for (unsigned ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
		int k = ks[ki];
		rpc(a, OP_DIRTY, k, 0);
		long n1 = scan_peer(a, got, NPAGES);
		int ok1 = exact(a, k, got, n1);
		long n2 = scan_peer(a, NULL, 0); /* re-protected: nothing left */
		rpc(a, OP_DIRTY, k, 0);          /* A's next store is seen again */
		long n3 = scan_peer(a, got, NPAGES);
		int ok3 = exact(a, k, got, n3);
		printf("RESULT peer_scan_k%d_exact_then0_thenseen %d bool  # first=%ld second=%ld again=%ld\n", k,
		       ok1 && n2 == 0 && ok3, n1, n2, n3);
		int bad = 0;
		for (int j = 0; j < REPS; j++) {
			rpc(a, OP_DIRTY, k, 0);
			double t0 = now_us();
			long n = scan_peer(a, NULL, 0);
			t[j] = now_us() - t0;
			bad += n != k;
		}
		printf("RESULT peer_scan_k%d_us %.2f us  # wrong counts %d/%d\n", k, median(t, REPS), bad, REPS);
		struct reply r = rpc(a, OP_SELFSCAN, k, REPS);
		printf("RESULT self_scan_k%d_us %.2f us  # ok=%d\n", k, r.us, r.ok);
	}
	for (int j = 0; j < REPS; j++) {
		double t0 = now_us();
		scan_peer(a, NULL, 0);
		t[j] = now_us() - t0;
	}
	printf("RESULT peer_scan_clean_us %.2f us\n", median(t, REPS));
	struct reply r = rpc(a, OP_SELFSCAN, 0, REPS);
	printf("RESULT self_scan_clean_us %.2f us\n", r.us);

	/* The scanner's own stores through its own mapping are not in A's scan. */
	char *mine = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	for (int i = 0; i < 8; i++)
		mine[(100 + i * 1000) * PAGE] = 9;
	printf("RESULT scanner_own_stores_in_peer_scan %ld pages\n", scan_peer(a, NULL, 0));

	/* Works while A is stopped. */
	rpc(a, OP_DIRTY, 8, 0);
	kill(a->pid, SIGSTOP);
	int st;
	waitpid(a->pid, &st, WUNTRACED);
	long ns = scan_peer(a, got, NPAGES);
	printf("RESULT peer_scan_while_sigstopped_exact %d bool  # stopped=%d pages=%ld\n", exact(a, 8, got, ns),
	       WIFSTOPPED(st), ns);
	kill(a->pid, SIGCONT);

	/* Opening /proc/<A>/pagemap directly (same uid). */
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)a->pid);
	for (int j = 0; j < REPS; j++) {
		double t0 = now_us();
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		t[j] = now_us() - t0;
		if (fd < 0)
			die("open /proc/A/pagemap");
		close(fd);
	}
	printf("RESULT open_proc_pid_pagemap_us %.2f us\n", median(t, REPS));
	int dfd = open(path, O_RDONLY | O_CLOEXEC);
	rpc(a, OP_DIRTY, 64, 0);
	long nd = scan(dfd, a->base, a->base + SIZE, got, NPAGES);
	printf("RESULT direct_pagemap_scan_exact %d bool  # pages=%ld\n", exact(a, 64, got, nd), nd);
	close(dfd);

	/* Four peers, each with the 64 MiB working copy mapped and tracked; a few pages dirty in each. */
	for (int i = 1; i < NPEERS; i++)
		peers[i] = spawn(argv[0], mfd);
	for (int dirty = 0; dirty <= 4; dirty += 4) {
		int bad = 0;
		for (int j = 0; j < REPS; j++) {
			if (dirty)
				for (int i = 0; i < NPEERS; i++)
					rpc(&peers[i], OP_DIRTY, dirty, 0);
			double t0 = now_us();
			long total = 0;
			for (int i = 0; i < NPEERS; i++)
				total += scan_peer(&peers[i], NULL, 0);
			t[j] = now_us() - t0;
			bad += total != NPEERS * dirty;
		}
		printf("RESULT scan_%d_peers_%d_dirty_each_us %.2f us  # wrong totals %d/%d\n", NPEERS, dirty,
		       median(t, REPS), bad, REPS);
	}
	for (int i = 0; i < NPEERS; i++) {
		rpc(&peers[i], OP_EXIT, 0, 0);
		waitpid(peers[i].pid, &st, 0);
	}
	return 0;
}
