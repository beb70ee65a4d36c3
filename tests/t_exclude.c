/* A file outside FAMS_INCLUDE or inside FAMS_EXCLUDE is not managed: its mapping
 * writes straight to the file, as without fams, and no journal is made.  Run with
 * FAMS_EXCLUDE=<test dir>/ or FAMS_INCLUDE=/nowhere/. */
#include "check.h"

int main(void)
{
	const char *path = test_path("exclude");
	int fd = make_file(path, 2 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 'x';
	CHECK(file_byte_is(path, 0, 'x')); /* the page cache: no working copy in between */
	CHECK(!journal_exists_for(path));
	munmap(p, 2 * PG);
	close(fd);
	unlink(path);
	return 0;
}
