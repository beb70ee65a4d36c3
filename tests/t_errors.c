/* Errors keep their POSIX errno, pass-through calls keep errno, unmanaged
 * mappings pass through untouched. */
#include "check.h"

int main(void)
{
	const char *path = test_path("errors");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 'x';
	errno = 0;
	CHECK(msync(p + 1, PG, MS_SYNC) == -1 && errno == EINVAL);      /* unaligned */
	CHECK(msync(p, PG, MS_SYNC | MS_ASYNC) == -1 && errno == EINVAL); /* bad flags */
	CHECK(file_byte_is(path, 0, 'a'));
	char *gap = mmap(NULL, 8 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(munmap(gap + 4 * PG, 4 * PG) == 0);
	CHECK(msync(gap + 4 * PG, PG, MS_SYNC) == -1 && errno == ENOMEM); /* unmapped */
	CHECK(munmap(p + 1, PG) == -1 && errno == EINVAL);
	/* bad descriptors still give EBADF */
	CHECK(write(-1, "x", 1) == -1 && errno == EBADF);
	CHECK(fsync(12345) == -1 && errno == EBADF);
	CHECK(close(12345) == -1 && errno == EBADF);
	/* errno survives successful pass-through calls */
	errno = 4242;
	int devnull = open("/dev/null", O_WRONLY);
	CHECK(devnull >= 0 && errno == 4242);
	CHECK(write(devnull, "x", 1) == 1 && errno == 4242);
	close(devnull);
	/* a read-only descriptor cannot write, as without fams */
	int ro = open(path, O_RDONLY);
	CHECK(write(ro, "x", 1) == -1 && errno == EBADF);
	CHECK(ftruncate(ro, 0) == -1 && (errno == EINVAL || errno == EBADF));
	close(ro);
	/* private and read-only mappings of an unmanaged file pass through */
	const char *other = test_path("errors_other");
	int fo = make_file(other, 2 * PG, 'o');
	char *priv = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fo, 0);
	CHECK(priv != MAP_FAILED);
	priv[0] = 'P';
	CHECK(msync(priv, 2 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(other, 0, 'o'));
	CHECK(!journal_exists_for(other));
	munmap(priv, 2 * PG);
	close(fo);
	unlink(other);
	CHECK(msync(p, 4 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 0, 'x'));
	munmap(p, 4 * PG);
	close(fd);
	unlink(path);
	return 0;
}
