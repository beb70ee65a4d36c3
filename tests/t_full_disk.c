/* t_full_disk DATA FILLER: a commit on a full file system fails with ENOSPC and a
 * "fams:" message, the file keeps its last committed bytes, the program's bytes stay
 * in memory, and the same msync succeeds once space is freed.  Run by full_disk.sh
 * on a small file system of its own. */
#include "check.h"

enum { PAGES = 256 };

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	const char *path = argv[1], *filler = argv[2];
	int fd = make_file(path, PAGES * PG, 'a');
	CHECK(fd >= 0 && fsync(fd) == 0);
	char *p = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 'z';
	CHECK(msync(p, PG, MS_SYNC) == 0); /* a small commit fits in the preallocated journal */

	/* Fill the file system. */
	int ff = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(ff >= 0);
	static char block[1 << 16];
	while (write(ff, block, sizeof block) > 0)
		;
	while (write(ff, block, 512) > 0)
		;
	fsync(ff);
	close(ff);

	/* A commit of every page needs a larger journal than there is room for. */
	memset(p, 'b', PAGES * PG);
	errno = 0;
	CHECK(msync(p, PAGES * PG, MS_SYNC) == -1 && errno == ENOSPC);
	CHECK(file_byte_is(path, 0, 'z') && file_byte_is(path, PG, 'a') && file_byte_is(path, PAGES * PG - 1, 'a'));
	CHECK(raw_size(path) == PAGES * PG);
	for (int i = 0; i < PAGES * PG; i += PG)
		CHECK(p[i] == 'b');

	CHECK(unlink(filler) == 0);
	CHECK(msync(p, PAGES * PG, MS_SYNC) == 0);
	for (int i = 0; i < PAGES; i++)
		CHECK(file_byte_is(path, (off_t)i * PG, 'b'));
	CHECK(munmap(p, PAGES * PG) == 0 && close(fd) == 0);
	puts("ok");
	return 0;
}
