/* bookkeeping -- what size changes cost on a mapped file, run the same way natively
 * and under famsrun (bench/bookkeeping.sh runs both and prints the ratios):
 *   append_us     write() of a 64-byte record at the end of a file mapped 64 MiB
 *                 (O_APPEND: each grows the file; a log next to a mapped index)
 *   same_size_us  ftruncate() to the size the file already has
 *   grow_page_us  ftruncate() one page larger
 *   new_file_us   a new file created, sized, mapped, stored to once, unmapped, closed
 * Each the median of REPS rounds of 200 calls (the new file: one a round).  With
 * "new", only the new files (bench/bookkeeping.sh counts their flushes).
 *   bookkeeping DIR [REPS [new]] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MAPPED (64u << 20)
#define CALLS 200

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* A new file created, sized, mapped, stored to once, unmapped and closed: its
 * microseconds (then removed, untimed), or -1. */
static double new_file_us(const char *dir, int r)
{
	char np[4200];
	snprintf(np, sizeof np, "%s/new.%d", dir, r);
	double e = now_us();
	int nfd = open(np, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (nfd < 0 || ftruncate(nfd, 16 * PG) < 0)
		return perror(np), -1;
	char *q = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, nfd, 0);
	if (q == MAP_FAILED)
		return perror("mmap"), -1;
	q[0] = 1;
	munmap(q, 16 * PG);
	close(nfd);
	double took = now_us() - e;
	unlink(np);
	return took;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bookkeeping DIR [REPS [new]]\n");
		return 2;
	}
	int reps = argc > 2 ? atoi(argv[2]) : 9;
	if (argc > 3 && strcmp(argv[3], "new") == 0) {
		for (int r = 0; r < reps; r++)
			if (new_file_us(argv[1], r) < 0)
				return 1;
		return 0;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/bookkeeping.dat", argv[1]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		return perror("open"), 1;
	char *p = mmap(NULL, MAPPED, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return perror("mmap"), 1;
	memset(p, 1, 1 << 20); /* an index the program keeps in the mapping */
	msync(p, 1 << 20, MS_SYNC);
	const char *names[] = { "append_us", "same_size_us", "grow_page_us", "new_file_us" };
	double *t[4];
	for (int k = 0; k < 4; k++)
		t[k] = malloc(sizeof(double) * (size_t)reps);
	char rec[64];
	memset(rec, 'r', sizeof rec);
	for (int r = 0; r < reps; r++) {
		double a = now_us();
		for (int i = 0; i < CALLS; i++)
			if (write(fd, rec, sizeof rec) != (ssize_t)sizeof rec)
				return perror("write"), 1;
		double b = now_us();
		off_t size = lseek(fd, 0, SEEK_END);
		for (int i = 0; i < CALLS; i++)
			if (ftruncate(fd, size) < 0)
				return perror("ftruncate"), 1;
		double c = now_us();
		for (int i = 0; i < CALLS; i++)
			if (ftruncate(fd, size + (off_t)(i + 1) * PG) < 0)
				return perror("ftruncate"), 1;
		double d = now_us();
		if (ftruncate(fd, size) < 0 || msync(p, MAPPED, MS_SYNC) < 0)
			return perror("msync"), 1;
		t[0][r] = (b - a) / CALLS, t[1][r] = (c - b) / CALLS, t[2][r] = (d - c) / CALLS;
		if ((t[3][r] = new_file_us(argv[1], r)) < 0)
			return 1;
	}
	for (int k = 0; k < 4; k++) {
		qsort(t[k], (size_t)reps, sizeof(double), cmp);
		printf("%s %.2f\n", names[k], t[k][reps / 2]);
	}
	munmap(p, MAPPED);
	close(fd);
	unlink(path);
	return 0;
}
