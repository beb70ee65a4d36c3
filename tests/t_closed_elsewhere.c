/* Descriptors of a managed file closed by calls other than close() -- fclose,
 * close_range, closefrom -- are forgotten: a file or pipe that reuses the number
 * is read and written as itself, never as the managed file's working copy.  And
 * close_range over every descriptor leaves fams's own alone: commits still work. */
#include "check.h"
#include <linux/close_range.h>

static char managed[4096], other[4096];

/* fd (just opened on `other`) writes to `other`, not to the managed file. */
static void writes_land_in_other(int fd, const char *what)
{
	CHECK(write(fd, "OTHER", 5) == 5);
	char b[5] = { 0 };
	if (raw_pread_path(other, b, 5, 0) != 5 || memcmp(b, "OTHER", 5) != 0) {
		fprintf(stderr, "%s: a write through a reused descriptor number did not reach its file\n", what);
		exit(1);
	}
	CHECK(close(fd) == 0);
	CHECK(unlink(other) == 0);
}

int main(void)
{
	snprintf(managed, sizeof managed, "%s", test_path("closed_managed"));
	snprintf(other, sizeof other, "%s", test_path("closed_other"));
	int fd = make_file(managed, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	memset(p, 'M', PG);
	CHECK(msync(p, PG, MS_SYNC) == 0);

	/* fclose: glibc closes the descriptor inside libc. */
	FILE *fp = fopen(managed, "r");
	CHECK(fp != NULL);
	int n = fileno(fp);
	CHECK(fclose(fp) == 0);
	int o = open(other, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(o == n);
	writes_land_in_other(o, "fclose");

	/* close_range over one descriptor, and closefrom. */
	n = open(managed, O_RDWR);
	CHECK(n >= 0 && close_range((unsigned)n, (unsigned)n, 0) == 0);
	o = open(other, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(o == n);
	writes_land_in_other(o, "close_range");
	n = open(managed, O_RDWR);
	CHECK(n >= 0);
	closefrom(n);
	int pipes[2];
	CHECK(pipe(pipes) == 0 && pipes[0] == n); /* a pipe on the number */
	CHECK(write(pipes[1], "pipe", 4) == 4);
	char b[4];
	CHECK(read(pipes[0], b, 4) == 4 && memcmp(b, "pipe", 4) == 0);
	CHECK(close(pipes[0]) == 0 && close(pipes[1]) == 0);

	/* close_range from 3 up, as daemons do: the program's own descriptor of the
	 * file goes, fams's journal and working copy stay, and commits go on. */
	CHECK(close_range(3, ~0u, 0) == 0);
	memset(p + PG, 'N', PG);
	CHECK(msync(p, 4 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(managed, PG, 'N') && file_byte_is(managed, 0, 'M'));
	CHECK(munmap(p, 4 * PG) == 0);
	CHECK(!journal_exists_for(managed)); /* last mapping and descriptor gone: retired */
	unlink(managed);
	return 0;
}
