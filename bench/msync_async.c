/* msync_async DIR MIB REPS [WARM K] -- latency of msync(MS_ASYNC) and msync(MS_SYNC)
 * after k random pages were written (k = 1, 8, 64, 512) in a MIB-MiB mapping, and
 * the time to copy k pages just written (what a snapshot must do at least).  Each MS_ASYNC is
 * followed, untimed, by an fsync that waits for its commit.  Prints one line per k:
 * "k async_us sync_us copy_us" (medians of REPS).  With WARM and K: k = K alone,
 * after WARM untimed commits of K pages -- a program that has run a while, which
 * fams may have moved to another tracker (FAMS_TRACKER_MOVES).  With "back" and K:
 * REPS rounds of k = K pages written and MS_ASYNC, back to back with nothing
 * between (LMDB with MDB_MAPASYNC): "K mean_us", the mean time a round's MS_ASYNC
 * took.  Run natively and under famsrun by msync_async.sh. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 6)
		return fprintf(stderr, "usage: msync_async DIR MIB REPS [WARM K | back K]\n"), 2;
	size_t pages = (size_t)atol(argv[2]) * 256;
	bool back = argc == 6 && strcmp(argv[4], "back") == 0;
	int reps = atoi(argv[3]), warm = argc == 6 && !back ? atoi(argv[4]) : 0, only = argc == 6 ? atoi(argv[5]) : 0;
	char path[4096];
	snprintf(path, sizeof path, "%s/msync-async", argv[1]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)(pages * PG)) != 0)
		return perror(path), 1;
	char *p = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return perror("mmap"), 1;
	memset(p, 1, pages * PG);
	fsync(fd);
	if (back) {
		uint64_t y = 88172645463325252ull;
		double spent = 0;
		for (int r = 0; r < reps; r++) {
			for (int i = 0; i < only; i++) {
				y ^= y << 13, y ^= y >> 7, y ^= y << 17;
				p[(y % pages) * PG + (size_t)r % PG] = (char)y;
			}
			double t0 = now_us();
			msync(p, pages * PG, MS_ASYNC);
			spent += now_us() - t0;
		}
		fsync(fd); /* untimed: the last snapshot's commit ends */
		printf("%d %.1f\n", only, spent / reps);
		munmap(p, pages * PG);
		close(fd);
		unlink(path);
		return 0;
	}
	static char scratch[512 * PG];
	static size_t picked[512];
	char *plain = malloc(pages * PG);
	if (!plain)
		return perror("malloc"), 1;
	memset(plain, 1, pages * PG);
	double *a = malloc((size_t)reps * sizeof *a), *s = malloc((size_t)reps * sizeof *s),
	       *c = malloc((size_t)reps * sizeof *c);
	uint64_t x = 88172645463325252ull;
	static const int ks[] = { 1, 8, 64, 512 };
	for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
		int k = ks[ki];
		if (only && k != only)
			continue;
		for (int w = 0; w < warm; w++) {
			for (int i = 0; i < k; i++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				p[(x % pages) * PG + (size_t)w % PG] = (char)x;
			}
			msync(p, pages * PG, MS_SYNC);
		}
		for (int r = 0; r < reps; r++) {
			for (int mode = 0; mode < 2; mode++) {
				for (int i = 0; i < k; i++) {
					x ^= x << 13, x ^= x >> 7, x ^= x << 17;
					p[(x % pages) * PG + (size_t)r % PG] = (char)x;
				}
				double t0 = now_us();
				msync(p, pages * PG, mode ? MS_SYNC : MS_ASYNC);
				double t1 = now_us();
				(mode ? s : a)[r] = t1 - t0;
				if (!mode)
					fsync(fd); /* untimed: the snapshot's commit ends */
			}
			/* The copy a snapshot must make: k pages just written at one
			 * byte each, at random in as much memory as the mapping (anonymous:
			 * nothing fams tracks), so all but a line of each comes from memory. */
			for (int i = 0; i < k; i++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				picked[i] = (size_t)(x % pages);
				plain[picked[i] * PG + (size_t)r % PG] = (char)x;
			}
			double t0 = now_us();
			for (int i = 0; i < k; i++)
				memcpy(scratch + (size_t)i * PG, plain + picked[i] * PG, PG);
			c[r] = now_us() - t0;
		}
		printf("%d %.1f %.1f %.1f\n", k, median(a, reps), median(s, reps), median(c, reps));
	}
	free(plain);
	munmap(p, pages * PG);
	close(fd);
	unlink(path);
	return 0;
}
