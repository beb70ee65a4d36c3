/* Opening a managed file again keeps the program's POSIX record locks on it.
 * Closing any descriptor of a file releases every fcntl lock the process holds on
 * that file, so fams must never open and close a descriptor of its own around the
 * program's open (SQLite opens one database several times and relies on this).
 * The same holds when another process manages the file.  Another process sees
 * the lock with F_GETLK. */
#include "check.h"
#include <sys/wait.h>

/* Whether a forked child sees a write lock on byte 0 of path held by pid. */
static int lock_seen(const char *path, pid_t pid)
{
	pid_t c = fork();
	if (c == 0) {
		int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
		if (fd < 0 || syscall(SYS_fcntl, fd, F_GETLK, &fl) < 0)
			_exit(2);
		_exit(fl.l_type == F_WRLCK && fl.l_pid == pid ? 0 : 1);
	}
	int status;
	return waitpid(c, &status, 0) == c && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void lock_byte0(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	CHECK(fcntl(fd, F_SETLK, &fl) == 0);
}

int main(int argc, char **argv)
{
	if (argc == 3) { /* the other process: manage the file until told to stop */
		int fd = open(argv[2], O_RDWR);
		char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return 2;
		p[0] = 'm';
		if (write(1, "r", 1) != 1)
			return 3;
		char c;
		return read(0, &c, 1) == 1 ? 0 : 4;
	}
	/* This process manages the file, locks it, opens it again twice. */
	const char *path = test_path("posix_locks");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 'x';
	CHECK(msync(p, PG, MS_SYNC) == 0);
	lock_byte0(fd);
	CHECK(lock_seen(path, getpid()));
	int again = open(path, O_RDONLY), more = open(path, O_RDWR | O_APPEND);
	CHECK(again >= 0 && more >= 0);
	CHECK(lock_seen(path, getpid()));
	CHECK(munmap(p, 4 * PG) == 0 && close(again) == 0 && close(more) == 0 && close(fd) == 0);

	/* Another process manages it: this one locks it and opens it again. */
	int to[2], from[2];
	CHECK(pipe(to) == 0 && pipe(from) == 0);
	pid_t other = fork();
	if (other == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		execl(argv[0], argv[0], "other", path, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	char c;
	CHECK(read(from[0], &c, 1) == 1);
	fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR); /* opened before: not refused */
	CHECK(fd >= 0);
	lock_byte0(fd);
	again = open(path, O_RDONLY);
	CHECK(again >= 0);
	CHECK(lock_seen(path, getpid()));
	CHECK(write(to[1], "q", 1) == 1);
	int status;
	CHECK(waitpid(other, &status, 0) == other && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(again);
	close(fd);
	unlink(path);
	return 0;
}
