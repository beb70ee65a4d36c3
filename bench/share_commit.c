/* share_commit FILE PAGES REPS -- what sharing a file costs a commit: k dirty pages
 * committed by one process alone, against the same k pages dirtied by 4 processes
 * sharing the file (k/4 each, one page by another process when k = 1) and
 * committed by one of them, for k in {1, 8, 64, 512}.  Run it under famsrun: the
 * children are forked after the file is mapped, so they share it.  Prints, per k,
 * the median commit (msync MS_SYNC) time of: one process with no other (single),
 * the same with 3 idle processes sharing the file (idle3), and 4 processes each
 * dirtying a share (shared4); and shared4 / single.  A baseline
 * measured in the same run: never an absolute claim. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define NPROC 4

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* Dirty pages [i, k) of walk w that process `who` owns (every NPROC-th page). */
static void dirty_share(char *p, const struct page_walk *w, size_t k, int who, int nproc, uint64_t stamp)
{
	for (size_t i = 0; i < k; i++)
		if ((int)(i % (size_t)nproc) == who || (k == 1 && who == 1 % nproc))
			memcpy(p + page_at(w, i) * PG + 64, &stamp, sizeof stamp);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

static const size_t ks[] = { 1, 8, 64, 512 };
#define NK 4
#define ALTERNATIONS 3

/* A job for the helpers: which pages (walk, k) and what to write; k = 0: exit. */
struct job {
	struct page_walk w;
	size_t k;
	uint64_t stamp;
};

struct helpers {
	int cmd[NPROC][2], ack[NPROC][2];
	pid_t pid[NPROC];
};

/* Fork the 3 helpers: told a job through a pipe, each dirties its share and
 * answers.  Forked after the file is mapped: under fams they share it. */
static int start_helpers(struct helpers *h, char *p)
{
	for (int c = 1; c < NPROC; c++) {
		if (pipe(h->cmd[c]) < 0 || pipe(h->ack[c]) < 0 || (h->pid[c] = fork()) < 0)
			return -1;
		if (h->pid[c] == 0) {
			struct job job;
			while (read(h->cmd[c][0], &job, sizeof job) == (ssize_t)sizeof job && job.k) {
				dirty_share(p, &job.w, job.k, c, NPROC, job.stamp);
				char a = 'd';
				if (write(h->ack[c][1], &a, 1) != 1)
					_exit(1);
			}
			_exit(0);
		}
	}
	return 0;
}

static void stop_helpers(struct helpers *h)
{
	struct job stop = { { 0, 0, 0 }, 0, 0 };
	for (int c = 1; c < NPROC; c++) {
		if (write(h->cmd[c][1], &stop, sizeof stop) != (ssize_t)sizeof stop)
			perror("write");
		waitpid(h->pid[c], NULL, 0);
		close(h->cmd[c][0]);
		close(h->cmd[c][1]);
		close(h->ack[c][0]);
		close(h->ack[c][1]);
	}
}

/* k random pages dirtied by the four processes (a share each), committed by this
 * one: the commit's time. */
static double commit_shared(struct helpers *h, char *p, size_t pages, size_t k, uint64_t stamp)
{
	struct job job = { random_walk(pages), k, stamp };
	for (int c = 1; c < NPROC; c++)
		if (write(h->cmd[c][1], &job, sizeof job) != (ssize_t)sizeof job)
			perror("write");
	dirty_share(p, &job.w, k, 0, NPROC, stamp);
	for (int c = 1; c < NPROC; c++) {
		char a;
		if (read(h->ack[c][0], &a, 1) != 1)
			perror("read");
	}
	double t0 = now_us();
	msync(p, pages * PG, MS_SYNC);
	return now_us() - t0;
}

/* This process dirties k random pages and commits them: the commit's time. */
static double commit_alone(char *p, size_t pages, size_t k, uint64_t stamp)
{
	struct page_walk w = random_walk(pages);
	for (size_t i = 0; i < k; i++)
		memcpy(p + page_at(&w, i) * PG + 64, &stamp, sizeof stamp);
	double t0 = now_us();
	msync(p, pages * PG, MS_SYNC);
	return now_us() - t0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: share_commit FILE PAGES REPS\n");
		return 2;
	}
	size_t pages = (size_t)atol(argv[2]);
	int reps = atoi(argv[3]);
	int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)(pages * PG)) < 0)
		return perror("open"), 1;
	char *p = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return perror("mmap"), 1;
	memset(p, 'x', pages * PG);
	msync(p, pages * PG, MS_SYNC);

	/* Alternate the two set-ups, ALTERNATIONS times, so that drift in the
	 * machine's speed falls on both alike; medians over all samples. */
	double *single[NK], *idle[NK], *shared[NK];
	for (int ki = 0; ki < NK; ki++) {
		single[ki] = malloc(sizeof(double) * (size_t)reps * ALTERNATIONS);
		idle[ki] = malloc(sizeof(double) * (size_t)reps * ALTERNATIONS);
		shared[ki] = malloc(sizeof(double) * (size_t)reps * ALTERNATIONS);
	}
	uint64_t stamp = 1;
	srand(1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int alt = 0; alt < ALTERNATIONS; alt++) {
		for (int ki = 0; ki < NK; ki++)
			for (int r = 0; r < reps; r++)
				single[ki][alt * reps + r] = commit_alone(p, pages, ks[ki], stamp++);
		struct helpers h;
		if (start_helpers(&h, p) < 0)
			return perror("fork"), 1;
		for (int ki = 0; ki < NK; ki++) {
			for (int r = 0; r < reps; r++) {
				idle[ki][alt * reps + r] = commit_alone(p, pages, ks[ki], stamp++);
				shared[ki][alt * reps + r] = commit_shared(&h, p, pages, ks[ki], stamp++);
			}
		}
		stop_helpers(&h);
	}
	printf("%6s %10s %10s %10s %8s\n", "k", "single_us", "idle3_us", "shared4_us", "ratio");
	for (int ki = 0; ki < NK; ki++) {
		int n = reps * ALTERNATIONS;
		double a = median(single[ki], n), i = median(idle[ki], n), s = median(shared[ki], n);
		printf("%6zu %10.1f %10.1f %10.1f %8.2f\n", ks[ki], a, i, s, s / a);
	}
	munmap(p, pages * PG);
	close(fd);
	unlink(argv[1]);
	return 0;
}
