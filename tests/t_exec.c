/* exec is a commit point: what a program wrote to a mapping before exec reaches
 * the file, as it does without fams (the page cache keeps it) -- stores with no
 * msync, and an MS_ASYNC snapshot still queued.  An exec that fails leaves the
 * program under fams. */
#include "check.h"
#include <sys/wait.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--replaced") == 0)
		return 0; /* the new image */
	const char *path = test_path("exec");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0 && close(fd) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		fd = open(path, O_RDWR);
		char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (fd < 0 || p == MAP_FAILED)
			_exit(2);
		/* A failed exec: still under fams afterwards. */
		p[3 * PG] = 'F';
		execl("/nonexistent/program", "program", (char *)NULL);
		p[3 * PG] = 'G';
		if (msync(p, 4 * PG, MS_SYNC) != 0)
			_exit(3);
		/* Then one that replaces the program. */
		p[0] = 'S';
		if (msync(p, 4 * PG, MS_ASYNC) != 0)
			_exit(4);
		p[PG] = 'T';
		p[2 * PG] = 'U';
		execl("/proc/self/exe", argv[0], "--replaced", (char *)NULL);
		_exit(5);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(file_byte_is(path, 3 * PG, 'G'));
	CHECK(file_byte_is(path, 0, 'S') && file_byte_is(path, PG, 'T') && file_byte_is(path, 2 * PG, 'U'));

	/* A forked child that execs while its parent still uses the file commits
	 * nothing: the parent's unsynced store stays the parent's. */
	fd = open(path, O_RDWR);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(fd >= 0 && p != MAP_FAILED);
	p[0] = 'A';
	CHECK(msync(p, PG, MS_SYNC) == 0);
	p[0] = 'B';
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "--replaced", (char *)NULL);
		_exit(5);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(file_byte_is(path, 0, 'A'));
	CHECK(munmap(p, 4 * PG) == 0 && close(fd) == 0);
	CHECK(file_byte_is(path, 0, 'B'));
	unlink(path);
	puts("ok");
	return 0;
}
