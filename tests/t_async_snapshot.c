/* The snapshot msync(MS_ASYNC) takes holds each dirty page as the working copy
 * does, however the program's mappings show it: a run one mapping shows, a run
 * two mappings share, a page mapped only PROT_NONE, a page changed by pwrite, and
 * a mapping an mprotect made PROT_NONE while failing (ENOMEM past its end: the
 * kernel changed the area, fams's record did not follow).  The snapshot never
 * reads the program's mappings, whose records cannot be trusted that far. */
#include "check.h"
#include <stdbool.h>

#define PAGES 8

int main(void)
{
	const char *path = test_path("async_snapshot");
	int fd = make_file(path, PAGES * PG, '.');
	CHECK(fd >= 0);
	char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *b = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4 * PG);
	CHECK(a != MAP_FAILED && b != MAP_FAILED);
	for (int round = 0; round < 20; round++) {
		char c = (char)('A' + round);
		a[1 * PG + round] = c;                       /* a run one mapping shows */
		a[3 * PG + round] = c;                       /* a run across both mappings: */
		b[0 * PG + round] = c;                       /* pages 3 and 4 */
		b[2 * PG + round] = c;                       /* page 6, about to be PROT_NONE */
		CHECK(mprotect(b + 2 * PG, 2 * PG, PROT_NONE) == 0);
		CHECK(pwrite(fd, &c, 1, 7 * PG + round) == 1); /* page 7: no mapping reads it */
		CHECK(msync(a, 4 * PG, MS_ASYNC) == 0 && msync(b, 4 * PG, MS_ASYNC) == 0);
		CHECK(fsync(fd) == 0); /* waits for the queued snapshot */
		for (int pg = 0; pg < PAGES; pg++) {
			bool written = pg == 1 || pg == 3 || pg == 4 || pg == 6 || pg == 7;
			CHECK(file_byte_is(path, pg * PG + round, written ? c : '.'));
		}
		CHECK(mprotect(b + 2 * PG, 2 * PG, PROT_READ | PROT_WRITE) == 0);
	}
	CHECK(munmap(a, 4 * PG) == 0 && munmap(b, 4 * PG) == 0);
	/* An mprotect that fails part-way. */
	char *c = mmap(NULL, 5 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(c != MAP_FAILED && munmap(c + 4 * PG, PG) == 0);
	c[0] = 'X';
	CHECK(mprotect(c, 5 * PG, PROT_NONE) == -1 && errno == ENOMEM);
	CHECK(msync(c, 4 * PG, MS_ASYNC) == 0 && fsync(fd) == 0 && file_byte_is(path, 0, 'X'));
	CHECK(munmap(c, 4 * PG) == 0 && close(fd) == 0);
	unlink(path);
	return 0;
}
