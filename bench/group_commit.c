/* group_commit DIR SECONDS THREADS own|same -- commits per second of THREADS
 * threads, each storing to one page and committing it (msync MS_SYNC) in a loop:
 * each into a file of its own (own), or each into its own pages of one file
 * (same).  Prints commits per second.  Run natively and under famsrun by
 * group_commit.sh, which compares each with one thread. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define PAGES 16

static atomic_int stop;
static atomic_long commits;
static char *maps[64];
static int same;

/* One thread: store a counter into its next page, commit that page. */
static void *worker(void *arg)
{
	long id = (long)arg;
	char *base = same ? maps[0] + (size_t)id * PAGES * PG : maps[id];
	uint64_t n = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		char *page = base + (n % PAGES) * PG;
		n++;
		memcpy(page, &n, sizeof n);
		if (msync(page, PG, MS_SYNC) != 0) {
			perror("msync");
			exit(1);
		}
		atomic_fetch_add_explicit(&commits, 1, memory_order_relaxed);
	}
	return NULL;
}

/* A file of `pages` zero pages at DIR/name, mapped shared. */
static char *map_file(const char *dir, const char *name, size_t pages)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)(pages * PG)) != 0)
		return perror(path), exit(1), NULL;
	char *p = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return perror("mmap"), exit(1), NULL;
	memset(p, 1, pages * PG);
	if (msync(p, pages * PG, MS_SYNC) != 0)
		return perror("msync"), exit(1), NULL;
	close(fd);
	return p;
}

int main(int argc, char **argv)
{
	if (argc != 5)
		return fprintf(stderr, "usage: group_commit DIR SECONDS THREADS own|same\n"), 2;
	const char *dir = argv[1];
	double seconds = atof(argv[2]);
	long threads = atol(argv[3]);
	same = strcmp(argv[4], "same") == 0;
	if (threads < 1 || threads > 64)
		return 2;
	if (same) {
		maps[0] = map_file(dir, "gc-same", (size_t)threads * PAGES);
	} else {
		for (long t = 0; t < threads; t++) {
			char name[32];
			snprintf(name, sizeof name, "gc-own-%ld", t);
			maps[t] = map_file(dir, name, PAGES);
		}
	}
	pthread_t tid[64];
	for (long t = 0; t < threads; t++)
		pthread_create(&tid[t], NULL, worker, (void *)t);
	struct timespec ts = { (time_t)seconds, (long)((seconds - (long)seconds) * 1e9) };
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	for (long t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	printf("%.1f\n", (double)atomic_load(&commits) / seconds);
	return 0;
}
