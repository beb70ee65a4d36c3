/* flush_probe -- commits that strace can count: between write(-1, "BEGIN k") and
 * write(-1, "END") it dirties k pages (k = 0 commits nothing) and calls msync.  The
 * first commit of the file's journal also makes the journal's name durable
 * ("BEGIN first", a file just made and sized); a second file mapped writable and
 * never changed, from open to close, flushes nothing ("BEGIN untouched"); a third,
 * written with write() before it is mapped, has a first commit of its own ("BEGIN
 * firstdata": its data file is flushed first). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096
int main(int argc, char **argv)
{
	int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
	if (fd < 0 || ftruncate(fd, 1024 * PG) < 0)
		return 1;
	char *p = mmap(NULL, 1024 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 1;
	static const int ks[] = { -1, 1, 0, 8, 1000, 1 };
	for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
		char tag[32];
		int n = ks[i] < 0 ? snprintf(tag, sizeof tag, "BEGIN first") : snprintf(tag, sizeof tag, "BEGIN %d", ks[i]);
		if (write(-1, tag, (size_t)n) != -1)
			return 1;
		for (int j = 0; j < (ks[i] < 0 ? 1 : ks[i]); j++)
			p[(size_t)j * PG] ^= 1;
		if (msync(p, 1024 * PG, MS_SYNC) < 0)
			return 1;
		if (write(-1, "END", 3) != -1)
			return 1;
	}
	char other[4200];
	snprintf(other, sizeof other, "%s.untouched", argv[1]);
	if (write(-1, "BEGIN untouched", 15) != -1)
		return 1;
	int ufd = open(other, O_RDWR | O_CREAT, 0644);
	if (ufd < 0 || ftruncate(ufd, 16 * PG) < 0)
		return 1;
	char *q = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, ufd, 0);
	if (q == MAP_FAILED || q[0] != 0 || munmap(q, 16 * PG) < 0 || close(ufd) < 0)
		return 1;
	if (write(-1, "END", 3) != -1)
		return 1;
	unlink(other);
	snprintf(other, sizeof other, "%s.data", argv[1]);
	int dfd = open(other, O_RDWR | O_CREAT | O_TRUNC, 0644);
	static char page[PG];
	memset(page, 'x', sizeof page);
	for (int j = 0; j < 16; j++)
		if (dfd < 0 || write(dfd, page, sizeof page) != (ssize_t)sizeof page)
			return 1;
	q = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
	if (q == MAP_FAILED || write(-1, "BEGIN firstdata", 15) != -1)
		return 1;
	q[3 * PG] ^= 1;
	if (msync(q, 16 * PG, MS_SYNC) < 0 || write(-1, "END", 3) != -1)
		return 1;
	munmap(q, 16 * PG);
	close(dfd);
	unlink(other);
	return 0;
}
