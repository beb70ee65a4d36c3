/* t_exit_now: _exit() ends a process normally without destructors; what it wrote
 * to a mapping survives natively, so fams commits it there too (fio's job
 * processes end this way).  A vfork child's _exit shares the parent's memory and
 * must commit nothing on its behalf. */
#include "check.h"
#include <sys/wait.h>

int main(void)
{
	/* A forked child maps its own file, writes, and leaves with _exit. */
	const char *p = test_path("exit-now");
	int fd = make_file(p, 2 * PG, 'a');
	CHECK(fd >= 0);
	close(fd);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int cfd = open(p, O_RDWR);
		char *m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
		if (m == MAP_FAILED)
			_exit(3);
		m[PG] = 'z';
		if (!file_byte_is(p, PG, 'a')) /* not yet: no commit point so far */
			_exit(4);
		_exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(file_byte_is(p, PG, 'z'));
	CHECK(!journal_exists_for(p));

	/* The parent has uncommitted bytes when a vfork child exits. */
	const char *q = test_path("exit-now-vfork");
	fd = make_file(q, 2 * PG, 'b');
	CHECK(fd >= 0);
	char *m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	m[0] = 'y';
	pid = vfork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(0);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(file_byte_is(q, 0, 'b'));  /* the child committed nothing */
	CHECK(journal_exists_for(q));     /* nor retired the parent's journal */
	m[1] = 'x';
	CHECK(msync(m, 2 * PG, MS_SYNC) == 0); /* the parent still commits */
	CHECK(file_byte_is(q, 0, 'y') && file_byte_is(q, 1, 'x'));
	CHECK(munmap(m, 2 * PG) == 0 && close(fd) == 0);
	unlink(p);
	unlink(q);
	puts("ok");
	return 0;
}
