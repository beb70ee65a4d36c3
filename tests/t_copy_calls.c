/* copy_file_range, sendfile and splice with a managed file at one end go through
 * its working copy, as writes and reads would: what they copy in is seen by the
 * mappings at once and reaches the file only at the next commit (the kernel would
 * have written the data file around the working copy, outside any commit); what
 * they copy out is what the program sees, stores not yet committed included. */
#include "check.h"
#include <sys/sendfile.h>
#include <fcntl.h>

int main(void)
{
	const char *path = test_path("copy_calls");
	char src[4200], dst[4200];
	snprintf(src, sizeof src, "%s.src", path);
	snprintf(dst, sizeof dst, "%s.dst", path);
	int fd = make_file(path, 4 * PG, 'a');
	int in = make_file(src, 64, 'h');
	int out = open(dst, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && in >= 0 && out >= 0);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 'M'; /* a store not committed yet */

	/* copy_file_range into the managed file, at given offsets. */
	off_t oi = 0, oo = PG;
	CHECK(copy_file_range(in, &oi, fd, &oo, 10, 0) == 10 && oi == 10 && oo == PG + 10);
	CHECK(p[PG] == 'h' && p[PG + 9] == 'h' && p[PG + 10] == 'a');
	CHECK(file_byte_is(path, PG, 'a')); /* not before the commit */

	/* ... and at the file positions, which move. */
	CHECK(lseek(fd, 3 * PG, SEEK_SET) == 3 * PG && lseek(in, 0, SEEK_SET) == 0);
	CHECK(copy_file_range(in, NULL, fd, NULL, 5, 0) == 5);
	CHECK(lseek(fd, 0, SEEK_CUR) == 3 * PG + 5 && lseek(in, 0, SEEK_CUR) == 5);
	CHECK(p[3 * PG + 4] == 'h' && p[3 * PG + 5] == 'a');

	/* splice from a pipe into it. */
	int pp[2];
	CHECK(pipe(pp) == 0 && write(pp[1], "piped", 5) == 5);
	off_t o2 = 2 * PG;
	CHECK(splice(pp[0], NULL, fd, &o2, 5, 0) == 5 && o2 == 2 * PG + 5);
	CHECK(memcmp(p + 2 * PG, "piped", 5) == 0);
	CHECK(file_byte_is(path, 2 * PG, 'a'));

	/* sendfile out of it: the working copy's bytes, the uncommitted store too. */
	off_t from = 0;
	CHECK(sendfile(out, fd, &from, 2) == 2 && from == 2);
	char got[2];
	CHECK(pread(out, got, 2, 0) == 2 && got[0] == 'M' && got[1] == 'a');
	/* splice out of it into a pipe. */
	off_t o3 = PG;
	CHECK(splice(fd, &o3, pp[1], NULL, 3, 0) == 3);
	char piped[3];
	CHECK(read(pp[0], piped, 3) == 3 && memcmp(piped, "hhh", 3) == 0);

	/* As the kernel's calls: a splice from a pipe returns what the pipe held (it
	 * does not wait for len); into a pipe, what the pipe has room for; with
	 * SPLICE_F_NONBLOCK and an empty pipe, EAGAIN. */
	CHECK(write(pp[1], "xy", 2) == 2);
	off_t o4 = 3 * PG + 100;
	CHECK(splice(pp[0], NULL, fd, &o4, 4096, 0) == 2 && p[3 * PG + 101] == 'y');
	CHECK(splice(pp[0], NULL, fd, &o4, 10, SPLICE_F_NONBLOCK) == -1 && errno == EAGAIN);
	int room = fcntl(pp[1], F_GETPIPE_SZ);
	off_t o5 = 0;
	ssize_t moved = splice(fd, &o5, pp[1], NULL, 4 * PG + (size_t)room, 0);
	CHECK(moved > 0 && moved <= room);
	char drain[4096];
	for (ssize_t left = moved; left > 0;)
		left -= read(pp[0], drain, sizeof drain);
	/* ... and the kernel's errors. */
	int app = open(path, O_WRONLY | O_APPEND), ro = open(path, O_RDONLY);
	CHECK(app >= 0 && ro >= 0);
	off_t z = 0;
	CHECK(copy_file_range(in, &z, app, NULL, 4, 0) == -1 && errno == EBADF);
	CHECK(copy_file_range(in, &z, ro, NULL, 4, 0) == -1 && errno == EBADF);
	off_t a = 0, b = 100;
	CHECK(copy_file_range(fd, &a, fd, &b, 200, 0) == -1 && errno == EINVAL);
	CHECK(splice(in, &z, fd, &b, 4, 0) == -1 && errno == EINVAL); /* no pipe */
	CHECK(copy_file_range(pp[0], NULL, fd, &b, 4, 0) == -1 && errno == EINVAL);
	CHECK(close(app) == 0 && close(ro) == 0);

	/* The commit takes all of it. */
	CHECK(msync(p, 4 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 0, 'M') && file_byte_is(path, PG, 'h') && file_byte_is(path, 2 * PG, 'p') &&
	      file_byte_is(path, 3 * PG, 'h'));

	CHECK(munmap(p, 4 * PG) == 0 && close(fd) == 0 && close(in) == 0 && close(out) == 0);
	unlink(path);
	unlink(src);
	unlink(dst);
	puts("ok");
	return 0;
}
