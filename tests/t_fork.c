/* A forked child that inherited a managed mapping cannot commit: its msync and
 * fsync fail with EPERM and nothing it wrote reaches the file or the parent.  A
 * vfork child's close leaves the parent's records alone. */
#include "check.h"
#include <sys/wait.h>

int main(void)
{
	const char *path = test_path("fork");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 'P';
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (p[0] != 'P')
			_exit(10);
		p[PG] = 'C';
		if (msync(p, 4 * PG, MS_SYNC) != -1 || errno != EPERM)
			_exit(11);
		if (fsync(fd) != -1 || errno != EPERM)
			_exit(12);
		if (pwrite(fd, "C", 1, 2 * PG) != -1 || errno != EPERM)
			_exit(13);
		/* the child's own new files work normally */
		const char *mine = test_path("fork_child");
		int cf = make_file(mine, PG, 'k');
		char *c = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, cf, 0);
		if (c == MAP_FAILED)
			_exit(14);
		c[0] = 'K';
		if (msync(c, PG, MS_SYNC) != 0 || !file_byte_is(mine, 0, 'K'))
			_exit(15);
		munmap(c, PG);
		unlink(mine);
		exit(0); /* normal exit: must commit nothing of the parent's */
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(p[PG] == 'a');              /* the child's write stayed in the child */
	CHECK(file_byte_is(path, PG, 'a'));
	CHECK(file_byte_is(path, 0, 'a')); /* the parent's uncommitted write too */
	CHECK(journal_exists_for(path));   /* the child did not remove the parent's journal */
	CHECK(msync(p, 4 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 0, 'P'));
	/* children that exec are unaffected */
	pid = fork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* A vfork child shares our memory but not our descriptor table: its close of
	 * our descriptor must not change our records of it. */
	pid = vfork();
	if (pid == 0) {
		close(fd);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(pwrite(fd, "V", 1, 3 * PG) == 1);
	CHECK(p[3 * PG] == 'V');          /* still the working copy's descriptor */
	CHECK(file_byte_is(path, 3 * PG, 'a'));
	munmap(p, 4 * PG);
	close(fd);
	unlink(path);
	return 0;
}
