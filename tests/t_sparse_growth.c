/* A sparse mapping stays cheap through what changes its records or its file: the
 * file grown by another process sharing it, mprotect splitting the mapping,
 * mremap shrinking it in place.  After each, stores reach the file at the next
 * commit, and the page tables grow with the pages touched, not with the 64 GiB
 * mapped (a commit that scanned the holes as written would mark them: 128 MiB of
 * page tables, and every page compared).  The asynchronous tracker only
 * (FAMS_TRACKER=uffd): the others protect every page of the file. */
#include "check.h"
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#define GIB (1ull << 30)
#define MAPPED (64 * GIB)

/* Whether this kernel has PAGEMAP_SCAN (Linux 6.7), which the asynchronous tracker
 * needs: without it FAMS_TRACKER=uffd falls back to comparing. */
static int has_pagemap_scan(void)
{
	struct {
		uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, inverted, mask, anyof, ret;
	} arg = { .size = sizeof arg };
	int fd = open("/proc/self/pagemap", O_RDONLY);
	int r = fd >= 0 ? ioctl(fd, _IOWR('f', 16, arg), &arg) : -1;
	if (fd >= 0)
		close(fd);
	return r >= 0;
}

/* Store c at off, commit, and check the file has it. */
static void store_commit(const char *path, char *p, size_t len, uint64_t off, char c)
{
	p[off] = c;
	CHECK(msync(p, len, MS_SYNC) == 0);
	CHECK(file_byte_is(path, (off_t)off, c));
}

int main(void)
{
	const char *path = test_path("sparse_growth");
	const char *tracker = getenv("FAMS_TRACKER");
	if (!tracker || strcmp(tracker, "uffd") != 0 || !has_pagemap_scan())
		SKIP("only the asynchronous tracker (Linux >= 6.7: PAGEMAP_SCAN) leaves holes "
		     "unprotected; the others protect every page (minutes for 64 GiB)");
	int fd = make_file(path, 1 << 20, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, MAPPED, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	CHECK(p != MAP_FAILED);
	store_commit(path, p, MAPPED, 0, 'P');
	long pte0 = status_kib("VmPTE");

	/* Another process grows the file to the whole mapping, and commits. */
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (ftruncate(fd, (off_t)MAPPED) != 0)
			_exit(1);
		p[32 * GIB] = 'C';
		_exit(msync(p, MAPPED, MS_SYNC) == 0 ? 0 : 1);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(file_byte_is(path, (off_t)(32 * GIB), 'C'));
	store_commit(path, p, MAPPED, 40 * GIB, 'Q');
	long grown = status_kib("VmPTE") - pte0;

	/* mremap shrinks it in place. */
	char *q = mremap(p, MAPPED, MAPPED - 16 * GIB, 0);
	CHECK(q == p);
	size_t len = MAPPED - 16 * GIB;
	store_commit(path, p, len, 44 * GIB, 'R');
	long shrunk = status_kib("VmPTE") - pte0;

	/* mprotect splits the mapping's record in three. */
	CHECK(mprotect(p + 8 * GIB, GIB, PROT_READ) == 0);
	CHECK(mprotect(p + 8 * GIB, GIB, PROT_READ | PROT_WRITE) == 0);
	store_commit(path, p, len, 20 * GIB, 'S');
	store_commit(path, p, len, 8 * GIB + 4096, 'T');
	long split = status_kib("VmPTE") - pte0;

	printf("VmPTE grew by %ld KiB after another process's growth, %ld after mremap, %ld after a split\n",
	       grown, shrunk, split);
	CHECK(grown < 8192 && shrunk < 8192 && split < 8192);
	CHECK(munmap(p, len) == 0 && close(fd) == 0);
	unlink(path);
	puts("ok");
	return 0;
}
