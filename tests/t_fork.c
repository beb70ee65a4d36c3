/* A forked child shares its parent's managed file: it sees the parent's stores,
 * the parent sees its stores and its write(2)s at once, and its msync and fsync
 * commit the pages both of them wrote, atomically.  Its exit commits what is left
 * and leaves the journal to the parent, which still uses the file.  A vfork
 * child's close leaves the parent's records alone. */
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
		if (msync(p + PG, PG, MS_SYNC) != 0)
			_exit(11);
		/* one commit of both processes' pages, within the range asked */
		if (!file_byte_is(path, PG, 'C'))
			_exit(12);
		if (pwrite(fd, "W", 1, 2 * PG) != 1 || p[2 * PG] != 'W')
			_exit(13);
		if (fsync(fd) != 0 || !file_byte_is(path, 0, 'P') || !file_byte_is(path, 2 * PG, 'W'))
			_exit(14);
		p[3 * PG] = 'E'; /* committed by the child's exit */
		exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(p[PG] == 'C' && p[2 * PG] == 'W'); /* the child's stores, seen through our mapping */
	CHECK(file_byte_is(path, 3 * PG, 'E'));
	CHECK(journal_exists_for(path)); /* the child left the journal to us */
	p[0] = 'Q';
	CHECK(msync(p, 4 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 0, 'Q'));
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
	CHECK(file_byte_is(path, 3 * PG, 'E'));
	munmap(p, 4 * PG);
	close(fd);
	CHECK(file_byte_is(path, 3 * PG, 'V')); /* the last close committed */
	CHECK(!journal_exists_for(path));       /* and, the last user, removed the journal */
	unlink(path);
	return 0;
}
