/* Under FAMS_TRACKER=auto a process moves to the synchronous tracker while its
 * commits write a tiny part of what they cover, and back to the asynchronous one
 * when they write much of it (lib/trackswitch.c), committing every store across
 * both moves.
 *
 *   t_tracker_moves           runs itself as below with FAMS_LOG=info, reads its
 *                             messages, and checks both moves were made
 *   t_tracker_moves --work    the workload: 64 MiB mapped, 100 commits of one page,
 *                             then 100 commits of 256 pages; the file must hold
 *                             every store after each commit
 * Skipped (77) where the asynchronous tracker is not what auto chose. */
#include "check.h"

#include <sys/wait.h>

#define MAP_PAGES 16384

static void commit_pages(char *p, const char *path, size_t n, unsigned *seed, int round)
{
	size_t last = 0;
	for (size_t i = 0; i < n; i++) {
		last = (size_t)(rand_r(seed) % MAP_PAGES) * PG + (size_t)(round % PG);
		p[last] = (char)('A' + round % 26);
	}
	CHECK(msync(p, (size_t)MAP_PAGES * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, (off_t)last, (char)('A' + round % 26)));
}

static int work(void)
{
	const char *path = test_path("tracker_moves");
	int fd = make_file(path, (off_t)MAP_PAGES * PG, '.');
	CHECK(fd >= 0);
	char *p = mmap(NULL, (size_t)MAP_PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	unsigned seed = 3;
	int round = 0;
	for (int i = 0; i < 100; i++)
		commit_pages(p, path, 1, &seed, round++);
	for (int i = 0; i < 100; i++)
		commit_pages(p, path, 256, &seed, round++);
	/* Every page as memory has it. */
	static char buf[1 << 20];
	for (size_t off = 0; off < (size_t)MAP_PAGES * PG; off += sizeof buf) {
		CHECK(raw_pread_path(path, buf, sizeof buf, (off_t)off) == (ssize_t)sizeof buf);
		CHECK(memcmp(buf, p + off, sizeof buf) == 0);
	}
	CHECK(munmap(p, (size_t)MAP_PAGES * PG) == 0);
	close(fd);
	unlink(path);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--work") == 0)
		return work();
	int out[2];
	CHECK(pipe(out) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 2);
		close(out[0]);
		setenv("FAMS_LOG", "info", 1);
		setenv("FAMS_TRACKER", "auto", 1);
		setenv("FAMS_TRACKER_MOVES", "auto", 1);
		execl("/proc/self/exe", argv[0], "--work", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	static char log[1 << 16];
	size_t got = 0;
	ssize_t r;
	while (got < sizeof log - 1 && (r = read(out[0], log + got, sizeof log - 1 - got)) > 0)
		got += (size_t)r;
	log[got] = '\0';
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	fputs(log, stdout);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (!strstr(log, "fams: tracker: uffd\n"))
		SKIP("auto did not choose the asynchronous tracker here");
	const char *to_sync = strstr(log, "tracker: uffd-sync from now on");
	CHECK(to_sync != NULL);
	CHECK(strstr(to_sync, "tracker: uffd from now on") != NULL);
	printf("moved to uffd-sync for one-page commits and back for 256-page ones\n");
	return 0;
}
