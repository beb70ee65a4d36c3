/* torture_writer -- an ordinary program with an invariant spread over many pages.
 *
 * Round r writes the value r into every one of NPAGES pages (page order shuffled
 * each round), then msyncs and prints "committed r".  A file whose pages do not all
 * hold the same round is torn.  Knows nothing of fams.  A fourth argument "die"
 * makes it kill itself after the last commit, leaving that commit's journal as a
 * crash would (tests that need one wait for nothing and race with no timer);
 * "pace=US" makes it sleep US microseconds after each page it stamps, so that a
 * round spans the kernel's writeback (tests/powercut: without fams, a power cut
 * then finds half-written rounds); "async" makes three rounds in four end with
 * msync(MS_ASYNC), which promises no durability, and only the fourth with MS_SYNC
 * and "committed r" (a kill then finds some round at least that one, untorn). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: torture_writer FILE NPAGES [ROUNDS [die|pace=US|async]]\n");
		return 2;
	}
	int npages = atoi(argv[2]);
	long rounds = argc > 3 ? atol(argv[3]) : 1000000;
	int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)npages * PG) < 0)
		return perror("open"), 1;
	char *p = mmap(NULL, (size_t)npages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return perror("mmap"), 1;
	uint64_t start;
	memcpy(&start, p, sizeof start);
	int *order = malloc(sizeof(int) * (size_t)npages);
	for (int i = 0; i < npages; i++)
		order[i] = i;
	long pace = argc > 4 && strncmp(argv[4], "pace=", 5) == 0 ? atol(argv[4] + 5) : 0;
	int async = argc > 4 && strcmp(argv[4], "async") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	srand((unsigned)getpid());
	for (uint64_t r = start + 1; r <= start + (uint64_t)rounds; r++) {
		for (int i = npages - 1; i > 0; i--) {
			int j = rand() % (i + 1), t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (int i = 0; i < npages; i++) {
			char *pg = p + (size_t)order[i] * PG;
			memcpy(pg, &r, sizeof r);
			memset(pg + 8, (int)(r & 0xff), 64); /* more bytes per page */
			if (pace)
				usleep((useconds_t)pace);
		}
		int sync = !async || r % 4 == 0;
		if (msync(p, (size_t)npages * PG, sync ? MS_SYNC : MS_ASYNC) < 0)
			return perror("msync"), 1;
		if (sync)
			printf("committed %llu\n", (unsigned long long)r);
	}
	if (argc > 4 && strcmp(argv[4], "die") == 0)
		raise(SIGKILL);
	return 0;
}
