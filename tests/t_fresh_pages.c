/* A large sparse mapping: stores into pages never touched before -- some after a
 * read brought the page in, some into pages next to written ones, some whose page
 * the kernel then unmapped behind fams's back (as reclaim does: MADV_PAGEOUT and
 * MADV_DONTNEED made as raw system calls, which no wrapper sees) -- all reach the
 * file at the next commit, round after round.  Prints what the page tables cost:
 * the asynchronous tracker protects only pages the working copy holds, so they
 * follow the pages touched, not the size mapped; and so does a commit's memory. */
#include "check.h"
#include <stdint.h>
#include <sys/resource.h>

#define GIB (1ull << 30)
#define MAPPED (1 * GIB)
#define TOUCHED 1000

int main(void)
{
	const char *path = test_path("fresh_pages");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)MAPPED) == 0);
	long pte_before = status_kib("VmPTE");
	char *p = mmap(NULL, MAPPED, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	/* A commit's memory follows the pages touched: 512 MiB more address space than
	 * now is plenty (taking whole page tables of holes for written once planned
	 * 590 MiB of pages, twice over, and ran out of memory on a 1 GiB machine). */
	struct rlimit as = { (rlim_t)status_kib("VmSize") * 1024 + (512u << 20), RLIM_INFINITY };
	CHECK(setrlimit(RLIMIT_AS, &as) == 0);
	const uint64_t pages = MAPPED / PG;
	uint64_t x = 0x9e3779b97f4a7c15ull, at[TOUCHED];
	for (int round = 1; round <= 3; round++) {
		for (int i = 0; i < TOUCHED; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			at[i] = x % pages;
			char *pg = p + at[i] * PG;
			if (i % 3 == 0)
				CHECK(pg[100] == 0 || round > 1); /* a read brings the page in first */
			uint64_t v = (uint64_t)round << 32 | (uint64_t)i;
			memcpy(pg + 8, &v, sizeof v);
			if (i % 5 == 0 && at[i] + 1 < pages)
				pg[PG + 1] = 'n'; /* and its neighbour, fresh too */
			/* Unmapped again, its pte none and unmarked, before any commit saw it. */
			if (i % 7 == 0)
				syscall(SYS_madvise, pg, PG, MADV_PAGEOUT);
			else if (i % 11 == 0)
				syscall(SYS_madvise, pg, PG, MADV_DONTNEED);
		}
		CHECK(msync(p, MAPPED, MS_SYNC) == 0);
		for (int i = 0; i < TOUCHED; i++) {
			uint64_t v = 0, want = (uint64_t)round << 32 | (uint64_t)i;
			CHECK(raw_pread_path(path, &v, sizeof v, (off_t)(at[i] * PG + 8)) == (ssize_t)sizeof v);
			if (v != want) { /* a later store of this round may share the page */
				int later = 0;
				for (int j = i + 1; j < TOUCHED; j++)
					later |= at[j] == at[i];
				CHECK(later);
			}
		}
	}
	printf("VmPTE grew by %ld KiB for %d pages touched a round of %llu GiB mapped\n",
	       status_kib("VmPTE") - pte_before, TOUCHED, (unsigned long long)(MAPPED / GIB));
	CHECK(munmap(p, MAPPED) == 0 && close(fd) == 0);
	unlink(path);
	puts("ok");
	return 0;
}
