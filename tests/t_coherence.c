/* Two mappings of one file and read/write on its descriptors see the same bytes. */
#include "check.h"

int main(void)
{
	const char *path = test_path("coherence");
	int fd = make_file(path, 8 * PG, 'a');
	CHECK(fd >= 0);
	int fd2 = open(path, O_RDWR); /* opened before the file is managed */
	CHECK(fd2 >= 0);
	char *p = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *q = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 2 * PG); /* overlapping */
	char *r = mmap(NULL, 8 * PG, PROT_READ, MAP_SHARED, fd2, 0);                 /* read-only */
	CHECK(p != MAP_FAILED && q != MAP_FAILED && r != MAP_FAILED);
	p[2 * PG + 5] = 'P';
	CHECK(q[5] == 'P' && r[2 * PG + 5] == 'P');
	q[PG] = 'Q';
	CHECK(p[3 * PG] == 'Q');
	char b = 0;
	CHECK(pread(fd2, &b, 1, 3 * PG) == 1 && b == 'Q'); /* another descriptor sees it */
	CHECK(pwrite(fd2, "W", 1, 6 * PG) == 1);
	CHECK(p[6 * PG] == 'W' && r[6 * PG] == 'W');
	/* read()/write() at the file position */
	CHECK(lseek(fd2, 7 * PG, SEEK_SET) == 7 * PG);
	CHECK(write(fd2, "xyz", 3) == 3);
	CHECK(lseek(fd2, 0, SEEK_CUR) == 7 * PG + 3);
	CHECK(memcmp(p + 7 * PG, "xyz", 3) == 0);
	CHECK(file_byte_is(path, 6 * PG, 'a'));
	/* A descriptor opened after the file is managed, and a dup of it. */
	int fd3 = open(path, O_RDONLY);
	int fd4 = dup(fd3);
	CHECK(fd3 >= 0 && fd4 >= 0);
	char buf[3];
	CHECK(pread(fd4, buf, 3, 7 * PG) == 3 && memcmp(buf, "xyz", 3) == 0);
	/* msync through q commits the bytes written through p in its range */
	CHECK(msync(q, 4 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 2 * PG + 5, 'P') && file_byte_is(path, 3 * PG, 'Q'));
	CHECK(file_byte_is(path, 6 * PG, 'a')); /* outside q: not committed */
	CHECK(fsync(fd2) == 0);                 /* fsync commits all of the file */
	CHECK(file_byte_is(path, 6 * PG, 'W') && file_byte_is(path, 7 * PG + 2, 'z'));
	munmap(p, 8 * PG);
	munmap(q, 4 * PG);
	munmap(r, 8 * PG);
	close(fd);
	close(fd2);
	close(fd3);
	close(fd4);
	unlink(path);
	return 0;
}
