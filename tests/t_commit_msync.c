/* Writes through a managed mapping reach the file only at msync, and then all of them. */
#include "check.h"

int main(void)
{
	const char *path = test_path("commit_msync");
	int fd = make_file(path, 16 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 'X';
	p[5 * PG + 17] = 'Y';
	p[15 * PG + PG - 1] = 'Z';
	CHECK(file_byte_is(path, 0, 'a'));         /* not committed yet */
	CHECK(file_byte_is(path, 5 * PG + 17, 'a'));
	CHECK(msync(p, 16 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 0, 'X'));
	CHECK(file_byte_is(path, 5 * PG + 17, 'Y'));
	CHECK(file_byte_is(path, 16 * PG - 1, 'Z'));
	/* A ranged msync commits only its range (unaligned length is fine). */
	p[PG] = '1';
	p[10 * PG] = '2';
	CHECK(msync(p + PG, 100, MS_SYNC) == 0);
	CHECK(file_byte_is(path, PG, '1'));
	CHECK(file_byte_is(path, 10 * PG, 'a'));
	/* MS_ASYNC is a commit point too: the state at the call reaches the file by
	 * itself soon after, and a store after the call is not part of it (it waits
	 * for the next commit point); MS_INVALIDATE keeps uncommitted bytes. */
	CHECK(msync(p, 16 * PG, MS_ASYNC) == 0);
	p[10 * PG + 1] = 'L';
	for (int i = 0; i < 400 && !file_byte_is(path, 10 * PG, '2'); i++)
		usleep(5000);
	CHECK(file_byte_is(path, 10 * PG, '2') && file_byte_is(path, 10 * PG + 1, 'a'));
	CHECK(msync(p, 16 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 10 * PG + 1, 'L'));
	p[3 * PG] = 'I';
	CHECK(msync(p, 16 * PG, MS_INVALIDATE) == 0);
	CHECK(p[3 * PG] == 'I');
	/* munmap commits what it drops. */
	CHECK(munmap(p, 16 * PG) == 0);
	CHECK(file_byte_is(path, 3 * PG, 'I'));
	/* The file stays managed while the program has a descriptor of it: write()
	 * through it still goes through a commit.  The last close retires it. */
	CHECK(journal_exists_for(path));
	CHECK(pwrite(fd, "W", 1, 4 * PG) == 1);
	CHECK(file_byte_is(path, 4 * PG, 'a'));
	CHECK(close(fd) == 0);
	CHECK(file_byte_is(path, 4 * PG, 'W'));
	CHECK(!journal_exists_for(path)); /* no journal outlives the last mapping and descriptor */
	unlink(path);
	return 0;
}
