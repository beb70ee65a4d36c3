/* madvise that discards pages never loses uncommitted bytes of a managed mapping. */
#include "check.h"

int main(void)
{
	const char *path = test_path("madvise");
	int fd = make_file(path, 8 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[PG] = 'D';
	CHECK(madvise(p, 8 * PG, MADV_DONTNEED) == 0);
	CHECK(p[PG] == 'D');
	p[2 * PG] = 'E'; /* writes after the advice are still tracked */
	CHECK(madvise(p, 8 * PG, MADV_COLD) == 0 || errno == EINVAL);
	CHECK(madvise(p, 8 * PG, MADV_PAGEOUT) == 0 || errno == EINVAL);
	CHECK(p[PG] == 'D' && p[2 * PG] == 'E');
	CHECK(madvise(p, 8 * PG, MADV_WILLNEED) == 0);
	CHECK(msync(p, 8 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, PG, 'D') && file_byte_is(path, 2 * PG, 'E'));
	/* MADV_REMOVE frees the range, as it frees a file's blocks: zeros, at commit */
	CHECK(madvise(p + 4 * PG, PG, MADV_REMOVE) == 0);
	CHECK(p[4 * PG] == 0);
	CHECK(file_byte_is(path, 4 * PG, 'a'));
	CHECK(msync(p, 8 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 4 * PG, 0));
	munmap(p, 8 * PG);
	close(fd);
	unlink(path);
	return 0;
}
