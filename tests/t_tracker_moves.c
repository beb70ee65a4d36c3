/* Under FAMS_TRACKER=auto a process moves to the synchronous tracker while its
 * commits write a tiny part of what they cover, and back to the asynchronous one
 * when they write much of it (lib/trackswitch.c), committing every store across
 * both moves.
 *
 *   t_tracker_moves           runs itself as below with FAMS_LOG=info, reads its
 *                             messages, and checks both moves were made
 *   t_tracker_moves --work    the workload: 64 MiB mapped, 300 commits of one page,
 *                             then 300 commits of 32 pages (a move needs 256 commits'
 *                             worth of the file); the file must hold every store
 *                             after each commit
 *   t_tracker_moves --stale-watch   (under FAMS_TRACKER_MOVES=always) a file moved
 *                             to uffd-sync and back, then closed, its shared state
 *                             unmapped and that address range taken by memory of
 *                             the program's own; a second file moved to uffd-sync
 *                             takes faults: uffd-sync's thread must not write into
 *                             the first file's old member slot (it raises the
 *                             `open` flags it watches), so the memory stays zero
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
	int fd;
	char *p = map_new_file(path, (size_t)MAP_PAGES * PG, '.', &fd);
	unsigned seed = 3;
	int round = 0;
	for (int i = 0; i < 300; i++)
		commit_pages(p, path, 1, &seed, round++);
	for (int i = 0; i < 300; i++)
		commit_pages(p, path, 32, &seed, round++);
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

/* Where this process maps a file's shared state (one file managed): 1, or 0. */
static int shared_state_range(unsigned long *a, unsigned long *b)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	CHECK(maps != NULL);
	char line[512];
	int n = 0;
	while (fgets(line, sizeof line, maps))
		if (strstr(line, "fams-shared-state") && sscanf(line, "%lx-%lx", a, b) == 2)
			n++;
	fclose(maps);
	return n == 1;
}

static int stale_watch(void)
{
	const char *one = test_path("tracker_moves_one"), *two = test_path("tracker_moves_two");
	const size_t size = 16 * PG;
	int fd;
	char *p = map_new_file(one, size, '.', &fd);
	p[0] = 'a';
	CHECK(msync(p, size, MS_SYNC) == 0); /* to uffd-sync: its thread watches our slot */
	p[PG] = 'b';
	CHECK(msync(p, size, MS_SYNC) == 0); /* back to uffd */
	unsigned long a, b;
	if (!shared_state_range(&a, &b))
		SKIP("no shared state mapping found in /proc/self/maps");
	CHECK(munmap(p, size) == 0);
	close(fd); /* the file is released: its shared state unmapped */
	char *mine = mmap((void *)a, b - a, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			  -1, 0);
	CHECK(mine != MAP_FAILED);
	p = map_new_file(two, size, '.', &fd);
	for (int i = 0; i < 4; i++) {
		p[(size_t)i * PG] = 'x'; /* under uffd-sync every other round: its thread serves it */
		CHECK(msync(p, size, MS_SYNC) == 0);
	}
	size_t raised = 0;
	for (size_t i = 0; i < b - a; i++)
		raised += mine[i] != 0;
	printf("%zu bytes of the program's memory written by fams\n", raised);
	CHECK(raised == 0);
	CHECK(munmap(p, size) == 0);
	close(fd);
	unlink(one);
	unlink(two);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--work") == 0)
		return work();
	if (argc > 1 && strcmp(argv[1], "--stale-watch") == 0)
		return stale_watch();
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
	printf("moved to uffd-sync for one-page commits and back for 32-page ones\n");
	return 0;
}
