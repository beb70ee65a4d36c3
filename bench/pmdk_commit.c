/* pmdk_commit -- the PMDK (libpmemobj) counterpart of commit_latency: cost of a
 * transaction that changes one byte on each of k random pages of a pool, as a
 * PMDK programmer would write it: TX_BEGIN, then for each page
 * pmemobj_tx_add_range_direct(&byte, 1) (undo-log exactly the byte it modifies)
 * and the store, then TX_END.  Median and p99 latency, and bytes sent to storage
 * per transaction (from /proc/self/io, as in commit_latency).
 *   pmdk_commit POOLFILE FILE_MIB REPS K...
 * Prints one line per k: k=K median_us=M p99_us=P bytes_per_commit=B
 * Differences from commit_latency, by necessity: there the stores come before
 * the timed msync; in a PMDK transaction snapshot, store and commit cannot be
 * separated, so the whole transaction is timed.  The pages are the same ones
 * (same srand(1) sequence), counted from the start of the root object, which is
 * not page-aligned in the file but still puts each byte on its own file page.
 * Nothing forces pmem (no PMEM_IS_PMEM_FORCE): on an ordinary file system PMDK
 * makes every persist an msync, which is the comparison we want; stderr says
 * once whether libpmem thinks the mapping is pmem. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEFAULT */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <libpmemobj.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define LAYOUT "fams-bench"

/* libpmem is loaded as libpmemobj's dependency; looking pmem_is_pmem up at run
 * time spares the build an explicit -lpmem (pkg-config libpmemobj omits it). */
static void report_pmem(const void *p, size_t len)
{
	int (*is_pmem)(const void *, size_t);
	*(void **)&is_pmem = dlsym(RTLD_DEFAULT, "pmem_is_pmem");
	if (is_pmem)
		fprintf(stderr, "pmdk_commit: pmem_is_pmem=%d\n", is_pmem(p, len));
	else
		fprintf(stderr, "pmdk_commit: pmem_is_pmem unavailable\n");
}

/* One transaction over k pages; returns 0, or -1 if it aborted.  A function of
 * its own so that nothing in main is live across TX_BEGIN's setjmp. */
static int tx(PMEMobjpool *pop, unsigned char *p, const struct page_walk *w, int k)
{
	volatile int aborted = 0;
	TX_BEGIN(pop) {
		for (int i = 0; i < k; i++) {
			unsigned char *c = p + page_at(w, (size_t)i) * PG;
			pmemobj_tx_add_range_direct(c, 1);
			*c += 1;
		}
	} TX_ONABORT {
		aborted = 1;
	} TX_END
	return aborted ? -1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: pmdk_commit POOLFILE FILE_MIB REPS K...\n");
		return 2;
	}
	size_t pages = (size_t)atol(argv[2]) * 256, len = pages * PG;
	int reps = atoi(argv[3]);
	/* Headroom for the pool header, heap metadata and undo-log extensions:
	 * 25% or 64 MiB, whichever is more (4 MiB is too little for k=4096). */
	size_t extra = len / 4 > ((size_t)64 << 20) ? len / 4 : (size_t)64 << 20;
	if (unlink(argv[1]) < 0 && errno != ENOENT)
		return perror("unlink"), 1;
	PMEMobjpool *pop = pmemobj_create(argv[1], LAYOUT, len + extra, 0644);
	if (!pop)
		return fprintf(stderr, "pmemobj_create: %s\n", pmemobj_errormsg()), 1;
	PMEMoid root = pmemobj_root(pop, len);
	if (OID_IS_NULL(root))
		return fprintf(stderr, "pmemobj_root: %s\n", pmemobj_errormsg()), 1;
	unsigned char *p = pmemobj_direct(root);
	report_pmem(p, len);
	pmemobj_memset_persist(pop, p, 1, len);
	double *t = malloc(sizeof(double) * (size_t)reps), *b = malloc(sizeof(double) * (size_t)reps);
	srand(1);
	for (int a = 4; a < argc; a++) {
		int k = atoi(argv[a]);
		for (int r = 0; r < reps; r++) {
			unsigned long long w0 = write_bytes();
			struct page_walk w = random_walk(pages);
			struct timespec t0, t1;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			int rc = tx(pop, p, &w, k);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (rc < 0)
				return fprintf(stderr, "transaction k=%d aborted: %s\n", k,
					       pmemobj_errormsg()), 1;
			t[r] = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
			b[r] = (double)(write_bytes() - w0);
		}
		qsort(t, (size_t)reps, sizeof *t, cmp_double);
		qsort(b, (size_t)reps, sizeof *b, cmp_double);
		printf("k=%d median_us=%.1f p99_us=%.1f bytes_per_commit=%.0f\n", k, t[reps / 2],
		       t[(reps * 99) / 100], b[reps / 2]);
		fflush(stdout);
	}
	pmemobj_close(pop);
	unlink(argv[1]);
	return 0;
}
