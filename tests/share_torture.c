/* share_torture -- several ordinary processes sharing one mapped file, for SIGKILL
 * torture of the whole group (tests/share_torture.sh).  Knows nothing of fams.
 *
 *   share_torture write FILE ID NPROCS PAGES
 *     Process ID owns PAGES pages of FILE (NPROCS * PAGES pages in all).  Round r
 *     takes an flock on FILE.lock, writes r into every page it owns (in a shuffled
 *     order, some pages through pwrite rather than a store), msyncs the whole file
 *     and prints "committed ID r".  So every commit, by any process, happens
 *     between two rounds of every other process: the file's committed states hold
 *     one round per process in all of its pages.
 *   share_torture check FILE NPROCS PAGES
 *     Prints each process's round, or "torn" and exit 1 when some process's pages
 *     hold different rounds. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096

/* Write round r into page p: the number, then a fill that depends on it. */
static void stamp(char *page, uint64_t r)
{
	memcpy(page, &r, sizeof r);
	memset(page + 8, (int)(r & 0xff), 120);
}

static int writer(const char *path, int id, int nprocs, int pages)
{
	char lockpath[4096];
	snprintf(lockpath, sizeof lockpath, "%s.lock", path);
	int lk = open(lockpath, O_RDWR | O_CREAT, 0644);
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	size_t len = (size_t)nprocs * (size_t)pages * PG;
	if (lk < 0 || fd < 0 || flock(lk, LOCK_EX) < 0)
		return perror("open"), 1;
	off_t size = lseek(fd, 0, SEEK_END);
	if (size < (off_t)len && ftruncate(fd, (off_t)len) < 0)
		return perror("ftruncate"), 1;
	flock(lk, LOCK_UN);
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return perror("mmap"), 1;
	char *mine = p + (size_t)id * (size_t)pages * PG;
	int *order = malloc(sizeof(int) * (size_t)pages);
	for (int i = 0; i < pages; i++)
		order[i] = i;
	srand((unsigned)getpid());
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		if (flock(lk, LOCK_EX) < 0)
			return perror("flock"), 1;
		uint64_t r;
		memcpy(&r, mine, sizeof r);
		r++;
		for (int i = pages - 1; i > 0; i--) {
			int j = rand() % (i + 1), t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (int i = 0; i < pages; i++) {
			char *pg = mine + (size_t)order[i] * PG;
			if (i % 5 == 4) { /* through the descriptor */
				char buf[128];
				stamp(buf, r);
				if (pwrite(fd, buf, sizeof buf, pg - p) != (ssize_t)sizeof buf)
					return perror("pwrite"), 1;
			} else {
				stamp(pg, r);
			}
		}
		if (msync(p, len, MS_SYNC) < 0)
			return perror("msync"), 1;
		printf("committed %d %llu\n", id, (unsigned long long)r);
		flock(lk, LOCK_UN);
	}
}

static int check(const char *path, int nprocs, int pages)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return perror("open"), 1;
	int torn = 0;
	for (int id = 0; id < nprocs; id++) {
		uint64_t first = 0;
		for (int i = 0; i < pages; i++) {
			char page[128], want[128];
			off_t off = ((off_t)id * pages + i) * PG;
			if (pread(fd, page, sizeof page, off) != (ssize_t)sizeof page)
				memset(page, 0, sizeof page); /* short file: round 0 */
			uint64_t r;
			memcpy(&r, page, sizeof r);
			if (i == 0)
				first = r;
			stamp(want, r);
			if (r != first || (r && memcmp(page, want, sizeof page) != 0)) {
				printf("torn: process %d page %d holds round %llu, its page 0 round %llu\n", id, i,
				       (unsigned long long)r, (unsigned long long)first);
				torn = 1;
				break;
			}
		}
		printf("%s%llu", id ? " " : "", (unsigned long long)first);
	}
	printf("\n");
	return torn;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "write") == 0)
		return writer(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (argc == 5 && strcmp(argv[1], "check") == 0)
		return check(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: share_torture write FILE ID NPROCS PAGES | check FILE NPROCS PAGES\n");
	return 2;
}
