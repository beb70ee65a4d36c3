/* commit_latency -- cost of msync(MS_SYNC) commits of k random dirty pages of a
 * mapped file: median and p99 latency, and bytes sent to storage per commit (from
 * /proc/self/io, which counts the process's own writes whether msync's writeback
 * or fams's journal and data writes).  Run it natively and under famsrun on the
 * same file system: bench/run.sh does both and prints the ratios.
 *   commit_latency [--whole-pages] [--sequential] FILE FILE_MIB REPS K...
 * Each commit changes one byte of each of its k pages, or with --whole-pages every
 * byte of them (a journal of k pages of old bytes, k pages written); the pages are
 * k random ones, or with --sequential k consecutive ones from a random page (stores
 * running on page after page, as when a region is filled or records appended).  Prints one line per k: k=K median_us=M p99_us=P bytes_per_commit=B cycle_us=C
 * where C is the median of the stores and the commit together: natively a store
 * to a page that writeback cleaned takes a write fault through the file system
 * (with large folios, tens of µs), which the commit latency alone leaves out. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"


int main(int argc, char **argv)
{
	int whole = argc > 1 && strcmp(argv[1], "--whole-pages") == 0;
	argc -= whole;
	argv += whole;
	int sequential = argc > 1 && strcmp(argv[1], "--sequential") == 0;
	argc -= sequential;
	argv += sequential;
	if (argc < 5) {
		fprintf(stderr, "usage: commit_latency [--whole-pages] [--sequential] FILE FILE_MIB REPS K...\n");
		return 2;
	}
	size_t pages = (size_t)atol(argv[2]) * 256;
	int reps = atoi(argv[3]);
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)(pages * PG)) < 0)
		return perror("open"), 1;
	char *p = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return perror("mmap"), 1;
	memset(p, 1, pages * PG);
	msync(p, pages * PG, MS_SYNC);
	double *t = malloc(sizeof(double) * (size_t)reps), *b = malloc(sizeof(double) * (size_t)reps);
	double *c = malloc(sizeof(double) * (size_t)reps);
	srand(1);
	for (int a = 4; a < argc; a++) {
		int k = atoi(argv[a]);
		for (int r = 0; r < reps; r++) {
			unsigned long long w0 = write_bytes();
			struct page_walk w = random_walk(pages);
			struct timespec ts, t0, t1;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			for (int i = 0; i < k; i++) {
				size_t at = sequential ? (page_at(&w, 0) + (size_t)i) % pages : page_at(&w, (size_t)i);
				char *page = p + at * PG;
				if (whole)
					memset(page, (char)(page[0] + 1), PG);
				else
					page[0] += 1;
			}
			clock_gettime(CLOCK_MONOTONIC, &t0);
			if (msync(p, pages * PG, MS_SYNC) < 0)
				return perror("msync"), 1;
			clock_gettime(CLOCK_MONOTONIC, &t1);
			t[r] = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
			c[r] = (double)(t1.tv_sec - ts.tv_sec) * 1e6 + (double)(t1.tv_nsec - ts.tv_nsec) / 1e3;
			b[r] = (double)(write_bytes() - w0);
		}
		qsort(c, (size_t)reps, sizeof *c, cmp_double);
		qsort(t, (size_t)reps, sizeof *t, cmp_double);
		qsort(b, (size_t)reps, sizeof *b, cmp_double);
		printf("k=%d median_us=%.1f p99_us=%.1f bytes_per_commit=%.0f cycle_us=%.1f\n", k, t[reps / 2],
		       t[(reps * 99) / 100], b[reps / 2], c[reps / 2]);
		fflush(stdout);
	}
	munmap(p, pages * PG);
	close(fd);
	unlink(argv[1]);
	return 0;
}
