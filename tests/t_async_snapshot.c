/* The snapshot msync(MS_ASYNC) takes holds each dirty page as the working copy
 * does, however the program's mappings show it: a run one mapping shows, a run
 * two mappings share, a page mapped only PROT_NONE, a page changed by pwrite, and
 * a mapping an mprotect made PROT_NONE while failing (ENOMEM past its end: the
 * kernel changed the area, fams's record did not follow).  The snapshot never
 * reads the program's mappings, whose records cannot be trusted that far.
 * Dirty pages that are holes of the working copy (punched) are snapshot as zeros
 * without being allocated (a copy read through a mapping of the working copy
 * would allocate each: a variant that did is caught here). */
#include "check.h"
#include <linux/falloc.h>
#include <stdbool.h>

#define PAGES 8
#define HOLE_PAGES 128

/* Punched pages, dirty and holes of the working copy: MS_ASYNC's snapshot takes
 * them as zeros and leaves them holes (a read through a mapping would allocate
 * each: the process's shared memory would grow by them). */
static void punched_pages_stay_holes(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, (HOLE_PAGES + 32) * PG) == 0);
	char *m = mmap(NULL, (HOLE_PAGES + 32) * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	memset(m, 'w', (HOLE_PAGES + 32) * PG);
	CHECK(msync(m, (HOLE_PAGES + 32) * PG, MS_SYNC) == 0);
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 16 * PG, HOLE_PAGES * PG) == 0);
	long before = status_kib("RssShmem");
	CHECK(msync(m, (HOLE_PAGES + 32) * PG, MS_ASYNC) == 0);
	long grew = status_kib("RssShmem") - before;
	CHECK(grew < HOLE_PAGES / 2 * PG / 1024);
	CHECK(fsync(fd) == 0);
	CHECK(file_byte_is(path, 15 * PG, 'w') && file_byte_is(path, 16 * PG, 0) &&
	      file_byte_is(path, (16 + HOLE_PAGES) * PG - 1, 0) && file_byte_is(path, (16 + HOLE_PAGES) * PG, 'w'));
	CHECK(munmap(m, (HOLE_PAGES + 32) * PG) == 0 && close(fd) == 0);
	unlink(path);
}

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
	punched_pages_stay_holes(path);
	return 0;
}
