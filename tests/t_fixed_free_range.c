/* A program that unmaps a reservation and maps a file at its address with
 * MAP_FIXED (the range is free for a moment) gets its mapping there, and fams's
 * own allocations for the call (the file's first mapping: records, its state, a
 * tracker thread) never land in that range to be replaced by it.  When one did,
 * the synchronous tracker's thread faulted on its own write-protected record and
 * the program hung (5 runs of 6; an alarm fails the test then).  Each run is a
 * fresh program (this one again, exec'd): the layout of a first mapping. */
#include "check.h"
#include <signal.h>
#include <sys/wait.h>

/* A reservation unmapped, a new file mapped MAP_FIXED there, stored to,
 * committed, read back from the file. */
static int map_into_freed(const char *path)
{
	alarm(10);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, 4 * PG) == 0);
	char *r = mmap(NULL, 8 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(r != MAP_FAILED && munmap(r, 8 * PG) == 0);
	char *a = mmap(r, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	CHECK(a == r);
	a[0] = 'X';
	a[3 * PG] = 'Y';
	CHECK(msync(a, 4 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 0, 'X') && file_byte_is(path, 3 * PG, 'Y'));
	CHECK(munmap(a, 4 * PG) == 0 && close(fd) == 0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--run") == 0)
		return map_into_freed(argv[2]);
	const char *path = test_path("fixed_free_range");
	for (int run = 0; run < 8; run++) {
		pid_t pid = fork();
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "--run", path, (char *)NULL);
			_exit(127);
		}
		int st;
		CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "run %d: %s %d\n", run, WIFSIGNALED(st) ? "killed by signal" : "exit status",
				WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			return 1;
		}
	}
	unlink(path);
	return 0;
}
