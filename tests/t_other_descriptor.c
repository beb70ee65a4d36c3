/* t_other_descriptor: size and content changes made through another descriptor of
 * a mapped file -- opened separately, not dup'ed -- reach the mapping at once and
 * the file at the next commit, exactly as through the mapping's own descriptor. */
#include "check.h"
#include <linux/falloc.h>

int main(void)
{
	const char *p = test_path("other-fd");
	int fd = make_file(p, 8 * PG, 'a');
	CHECK(fd >= 0);
	char *m = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	CHECK(close(fd) == 0); /* the mapping outlives its descriptor */
	int other = open(p, O_RDWR);
	CHECK(other >= 0);

	/* Grow through the other descriptor: the mapping can use the new pages. */
	CHECK(ftruncate(other, 12 * PG) == 0);
	CHECK(raw_size(p) == 8 * PG); /* the file takes the size with the commit */
	m[11 * PG] = 'g';
	CHECK(m[10 * PG] == 0);
	CHECK(msync(m, 12 * PG, MS_SYNC) == 0);
	CHECK(raw_size(p) == 12 * PG);
	CHECK(file_byte_is(p, 11 * PG, 'g'));

	/* Punch a hole through it: the mapping reads zeros at once, the file at commit. */
	CHECK(fallocate(other, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * PG, PG) == 0);
	CHECK(m[2 * PG] == 0 && m[2 * PG + 100] == 0);
	CHECK(file_byte_is(p, 2 * PG, 'a'));
	CHECK(fsync(other) == 0);
	CHECK(file_byte_is(p, 2 * PG, 0));

	/* Extend with fallocate, then write past the old end through pwrite. */
	CHECK(fallocate(other, 0, 0, 14 * PG) == 0);
	CHECK(raw_size(p) == 12 * PG);
	CHECK(pwrite(other, "w", 1, 13 * PG) == 1);
	CHECK(m[13 * PG] == 'w');
	CHECK(fdatasync(other) == 0);
	CHECK(raw_size(p) == 14 * PG);
	CHECK(file_byte_is(p, 13 * PG, 'w'));

	/* Shrink through it, below bytes the mapping wrote and committed. */
	m[5 * PG] = 's';
	CHECK(ftruncate(other, 6 * PG) == 0);
	CHECK(raw_size(p) == 14 * PG);
	CHECK(msync(m, 6 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(p, 5 * PG, 's') && raw_size(p) == 6 * PG);
	CHECK(munmap(m, 16 * PG) == 0 && close(other) == 0);
	CHECK(!journal_exists_for(p));
	unlink(p);
	puts("ok");
	return 0;
}
