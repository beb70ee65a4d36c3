/* exec is a commit point: what a program wrote to a mapping before exec reaches
 * the file, as it does without fams (the page cache keeps it) -- stores with no
 * msync, and an MS_ASYNC snapshot still queued.  An exec that fails leaves the
 * program under fams.  The journal of a file no other process uses holds nothing
 * after exec: the next program may not run under fams, and what it writes must not
 * be undone, or written over again, by a later open's recovery. */
#include "check.h"
#include <sys/wait.h>

/* In a forked child: path's 4 pages mapped shared (exit status 2 when they cannot be). */
static char *child_map(const char *path)
{
	int fd = open(path, O_RDWR);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd < 0 || p == MAP_FAILED)
		_exit(2);
	return p;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--replaced") == 0)
		return 0; /* the new image */
	if (argc > 2 && strcmp(argv[1], "--overwrite") == 0) {
		/* The new image, not under fams (no LD_PRELOAD): it changes the file. */
		int fd = open(argv[2], O_WRONLY);
		return fd >= 0 && pwrite(fd, "N", 1, 0) == 1 && close(fd) == 0 ? 0 : 6;
	}
	const char *path = test_path("exec");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0 && close(fd) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char *p = child_map(path);
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

	/* Commits, then an exec of a program fams does not run, which writes the
	 * file; a later open under fams must find nothing to recover. */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char *q = child_map(path);
		q[0] = 'C';
		q[PG] = 'D';
		if (msync(q, 4 * PG, MS_SYNC) != 0)
			_exit(3);
		q[0] = 'E';
		if (msync(q, 4 * PG, MS_SYNC) != 0)
			_exit(4);
		char *bare[] = { NULL };
		execle("/proc/self/exe", argv[0], "--overwrite", path, (char *)NULL, bare);
		_exit(5);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(file_byte_is(path, 0, 'N'));
	fd = open(path, O_RDONLY); /* under fams: open-time recovery */
	char b[2] = { 0 };
	CHECK(fd >= 0 && pread(fd, b, 1, 0) == 1 && pread(fd, b + 1, 1, PG) == 1 && close(fd) == 0);
	CHECK(b[0] == 'N' && b[1] == 'D');

	/* The same after a forked child of the exec'ing process ran another program
	 * (its member slot is left behind, found by review): that exec still commits
	 * the last stores and settles the journal. */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char *q = child_map(path);
		q[0] = 'H';
		if (msync(q, 4 * PG, MS_SYNC) != 0)
			_exit(3);
		q[2 * PG] = 'I';
		if (msync(q, 4 * PG, MS_SYNC) != 0)
			_exit(3);
		pid_t grandchild = fork();
		if (grandchild == 0) {
			execl("/proc/self/exe", argv[0], "--replaced", (char *)NULL);
			_exit(5);
		}
		int st;
		if (grandchild < 0 || waitpid(grandchild, &st, 0) != grandchild || !WIFEXITED(st) || WEXITSTATUS(st))
			_exit(4);
		q[PG] = 'J'; /* committed by the exec */
		char *bare[] = { NULL };
		execle("/proc/self/exe", argv[0], "--overwrite", path, (char *)NULL, bare);
		_exit(5);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(file_byte_is(path, PG, 'J'));
	fd = open(path, O_RDONLY);
	char c[3] = { 0 };
	CHECK(fd >= 0 && pread(fd, c, 1, 0) == 1 && pread(fd, c + 1, 1, PG) == 1 && pread(fd, c + 2, 1, 2 * PG) == 1 &&
	      close(fd) == 0);
	CHECK(c[0] == 'N' && c[1] == 'J' && c[2] == 'I');
	unlink(path);
	puts("ok");
	return 0;
}
