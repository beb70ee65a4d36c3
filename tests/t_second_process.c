/* A second process mapping a file another process manages gets EBUSY, and can
 * still read the last committed contents. */
#include "check.h"
#include <sys/wait.h>

int main(int argc, char **argv)
{
	if (argc == 3) { /* the second process, exec'd so it has its own fams */
		int fd = open(argv[2], O_RDWR);
		if (fd < 0)
			return 20;
		char b = 0;
		if (pread(fd, &b, 1, 0) != 1 || b != 'C')
			return 21;
		void *q = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (q != MAP_FAILED || errno != EBUSY)
			return 22;
		return 0;
	}
	const char *path = test_path("second");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 'C';
	CHECK(msync(p, PG, MS_SYNC) == 0);
	p[0] = 'U'; /* uncommitted */
	pid_t pid = fork();
	if (pid == 0) {
		execl(argv[0], argv[0], "child", path, (char *)NULL);
		_exit(127);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0) {
		fprintf(stderr, "second process failed with %d\n", WEXITSTATUS(status));
		return 1;
	}
	munmap(p, 4 * PG);
	close(fd);
	unlink(path);
	return 0;
}
