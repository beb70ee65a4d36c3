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
 * and "committed r" (a kill then finds some round at least that one, untorn);
 * "fresh=N" opens the file with O_TRUNC, as a program that makes its file anew each
 * run, and numbers its rounds from N (a file just truncated and sized is where a
 * commit may begin a log from an empty file: lib/commit.c, R0).  Options combine. */
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
		fprintf(stderr, "usage: torture_writer FILE NPAGES [ROUNDS [die|pace=US|async|fresh=N]...]\n");
		return 2;
	}
	int npages = atoi(argv[2]);
	long rounds = argc > 3 ? atol(argv[3]) : 1000000;
	long pace = 0, fresh = 0;
	int async = 0, die = 0;
	for (int a = 4; a < argc; a++) {
		if (strncmp(argv[a], "pace=", 5) == 0)
			pace = atol(argv[a] + 5);
		else if (strncmp(argv[a], "fresh=", 6) == 0)
			fresh = atol(argv[a] + 6);
		else
			async |= strcmp(argv[a], "async") == 0, die |= strcmp(argv[a], "die") == 0;
	}
	int fd = open(argv[1], O_RDWR | O_CREAT | (fresh ? O_TRUNC : 0), 0644);
	if (fd < 0 || ftruncate(fd, (off_t)npages * PG) < 0)
		return perror("open"), 1;
	char *p = mmap(NULL, (size_t)npages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return perror("mmap"), 1;
	uint64_t start = fresh ? (uint64_t)fresh - 1 : 0;
	if (!fresh)
		memcpy(&start, p, sizeof start);
	int *order = malloc(sizeof(int) * (size_t)npages);
	for (int i = 0; i < npages; i++)
		order[i] = i;
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
	if (die)
		raise(SIGKILL);
	return 0;
}
