/* A commit that needs more journal than FAMS_JOURNAL_MAX fails with ENOSPC, the
 * file keeps its last committed state, and the bytes stay for a smaller commit.
 * Run with FAMS_JOURNAL_SIZE=16K FAMS_JOURNAL_MAX=64K. */
#include "check.h"

int main(void)
{
	const char *path = test_path("journal_limit");
	int fd = make_file(path, 64 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 64 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	for (int i = 0; i < 64; i++)
		memset(p + i * PG, 'n', PG); /* whole pages: the journal holds what changed */
	errno = 0;
	CHECK(msync(p, 64 * PG, MS_SYNC) == -1 && errno == ENOSPC);
	for (int i = 0; i < 64; i++)
		CHECK(file_byte_is(path, (off_t)i * PG, 'a') && p[i * PG] == 'n');
	/* in pieces that fit, it commits */
	for (int i = 0; i < 64; i += 8)
		CHECK(msync(p + i * PG, 8 * PG, MS_SYNC) == 0);
	for (int i = 0; i < 64; i++)
		CHECK(file_byte_is(path, (off_t)i * PG, 'n'));
	munmap(p, 64 * PG);
	close(fd);
	unlink(path);
	return 0;
}
