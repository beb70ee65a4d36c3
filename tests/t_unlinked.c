/* close right after mmap, and a file unlinked while mapped: commits still work and
 * no journal is left behind. */
#include "check.h"

int main(void)
{
	const char *path = test_path("closed");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	CHECK(close(fd) == 0);
	p[0] = 'c';
	CHECK(msync(p, 4 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 0, 'c'));

	const char *gone = test_path("unlinked");
	int fd2 = make_file(gone, 4 * PG, 'u');
	char *q = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	CHECK(q != MAP_FAILED);
	CHECK(unlink(gone) == 0);
	q[PG] = 'U';
	CHECK(msync(q, 4 * PG, MS_SYNC) == 0);
	char b = 0;
	CHECK(syscall(SYS_pread64, fd2, &b, 1, PG) == 1 && b == 'U');
	CHECK(munmap(q, 4 * PG) == 0);
	CHECK(!journal_exists_for(gone));
	close(fd2);

	/* mapped after unlink: no journal is ever made for a file nobody can reopen */
	const char *gone2 = test_path("unlinked2");
	int fd3 = make_file(gone2, 2 * PG, 'v');
	CHECK(unlink(gone2) == 0);
	char *r = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd3, 0);
	CHECK(r != MAP_FAILED);
	r[0] = 'V';
	CHECK(msync(r, 2 * PG, MS_SYNC) == 0);
	CHECK(syscall(SYS_pread64, fd3, &b, 1, 0) == 1 && b == 'V');
	CHECK(!journal_exists_for(gone2));
	munmap(r, 2 * PG);
	close(fd3);

	CHECK(munmap(p, 4 * PG) == 0);
	CHECK(!journal_exists_for(path));
	unlink(path);
	return 0;
}
