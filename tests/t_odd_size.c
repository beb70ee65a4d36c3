/* A file whose size is not a multiple of the page size: its last page is partly
 * inside it.  A read-only mapping made before the file is managed, a writable one,
 * mprotect of the first to writing, and a forked child's mapping all track that
 * page: stores into it, from the parent and the child, reach the file at their
 * commits, and the child is not cut off from the file. */
#include "check.h"
#include <sys/wait.h>

#define SIZE 10000 /* two pages and 1,808 bytes */

int main(void)
{
	const char *path = test_path("odd_size");
	int fd = make_file(path, SIZE, 'a');
	CHECK(fd >= 0);
	/* Read-only first: fams takes it over when the file becomes managed. */
	char *ro = mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(ro != MAP_FAILED);
	char *p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 'P';
	p[SIZE - 1] = 'Q';
	CHECK(msync(p, 3 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 0, 'P') && file_byte_is(path, SIZE - 1, 'Q'));

	CHECK(mprotect(ro, 3 * PG, PROT_READ | PROT_WRITE) == 0);
	ro[SIZE - 2] = 'R';
	CHECK(msync(ro, 3 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, SIZE - 2, 'R'));

	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		p[SIZE - 3] = 'C';
		_exit(msync(p, 3 * PG, MS_SYNC) == 0 ? 0 : 1);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(file_byte_is(path, SIZE - 3, 'C'));
	CHECK(raw_size(path) == SIZE);

	CHECK(munmap(p, 3 * PG) == 0 && munmap(ro, 3 * PG) == 0 && close(fd) == 0);
	unlink(path);
	puts("ok");
	return 0;
}
