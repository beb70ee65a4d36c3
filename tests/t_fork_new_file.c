/* A forked child (or grandchild) of a process that used fams manages new files of
 * its own: every byte it stores into every page of a new mapping is in the file
 * after its msync, or after its normal exit.  The child may map where the parent
 * still has a mapping or somewhere the parent has none, and the parent may or may
 * not still manage a file of its own.  A child made by _Fork (no fork handlers)
 * never has a commit succeed without its stores. */
#include "check.h"
#include <sys/wait.h>

#define NPAGES 256 /* 1 MiB */

static char stamp(int tag, size_t page) { return (char)('A' + (tag * 7 + (int)page) % 26); }

/* Every page of path holds its stamp (read without fams). */
static int file_has_stamps(const char *path, int tag)
{
	static char buf[NPAGES * PG];
	if (raw_pread_path(path, buf, sizeof buf, 0) != (ssize_t)sizeof buf)
		return 0;
	for (size_t pg = 0; pg < NPAGES; pg++)
		for (size_t i = 0; i < PG; i += 512)
			if (buf[pg * PG + i] != stamp(tag, pg))
				return 0;
	return 1;
}

/* In a child: map a new file of NPAGES pages (over `drop` if given, so it lands at
 * an address the parent still uses), stamp every page, commit by msync or by
 * exiting.  Returns through the exit status: 0 when the file holds every stamp. */
static void child_stamps_new_file(const char *path, int tag, void *drop, int by_exit)
{
	if (drop && munmap(drop, NPAGES * PG) != 0)
		_exit(10);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, NPAGES * PG) != 0)
		_exit(11);
	char *p = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		_exit(12);
	if (drop && p != drop)
		fprintf(stderr, "note: the child's mapping did not land on the parent's address\n");
	for (size_t pg = 0; pg < NPAGES; pg++)
		memset(p + pg * PG, stamp(tag, pg), PG);
	if (by_exit)
		exit(0); /* normal exit is a commit point */
	if (msync(p, NPAGES * PG, MS_SYNC) != 0)
		_exit(13);
	_exit(file_has_stamps(path, tag) ? 0 : 14);
}

static int wait_ok(pid_t pid)
{
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

/* Fork a child running child_stamps_new_file; check its status and the file. */
static void check_child(const char *what, const char *path, int tag, void *drop, int by_exit)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		child_stamps_new_file(path, tag, drop, by_exit);
	int rc = wait_ok(pid);
	if (rc != 0 || !file_has_stamps(path, tag)) {
		fprintf(stderr, "%s: child status %d, file %s its stores\n", what, rc,
			file_has_stamps(path, tag) ? "holds" : "LACKS");
		exit(1);
	}
	unlink(path);
}

int main(void)
{
	/* The parent uses fams once and stops managing anything: its tracker exists. */
	char a[4096]; /* test_path's buffers are reused */
	snprintf(a, sizeof a, "%s", test_path("fork_a"));
	int fd = make_file(a, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *pa = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(pa != MAP_FAILED);
	pa[0] = 'P';
	CHECK(msync(pa, PG, MS_SYNC) == 0);
	CHECK(munmap(pa, 4 * PG) == 0 && close(fd) == 0);

	void *anon = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(anon != MAP_FAILED);
	check_child("child maps where the parent has a mapping", test_path("fork_b"), 1, anon, 0);
	check_child("child maps at an address free in the parent", test_path("fork_c"), 2, NULL, 0);
	check_child("child commits by exiting", test_path("fork_d"), 3, anon, 1);

	/* A grandchild, while the child in between also used fams. */
	char g[4096];
	snprintf(g, sizeof g, "%s", test_path("fork_g"));
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int cfd = make_file(test_path("fork_mid"), 4 * PG, 'm');
		char *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
		if (m == MAP_FAILED)
			_exit(20);
		m[0] = 'M';
		if (msync(m, PG, MS_SYNC) != 0)
			_exit(21);
		pid_t gp = fork();
		if (gp == 0)
			child_stamps_new_file(g, 4, anon, 0);
		int rc = wait_ok(gp);
		unlink(test_path("fork_mid"));
		_exit(rc);
	}
	CHECK(wait_ok(pid) == 0 && file_has_stamps(g, 4));
	unlink(g);

	/* _Fork() makes a child without running the fork handlers: the tracker it
	 * inherits belongs to the parent, so the child opens its own; its new mapping
	 * works -- and were it refused, never an msync returning 0 without its stores. */
	pid = _Fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		const char *h = test_path("fork_h");
		int hfd = open(h, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (hfd < 0 || ftruncate(hfd, NPAGES * PG) != 0)
			_exit(30);
		char *q = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, hfd, 0);
		if (q == MAP_FAILED) { /* refused, with a fams: line: loud, but not expected */
			unlink(h);
			_exit(32);
		}
		for (size_t pg = 0; pg < NPAGES; pg++)
			memset(q + pg * PG, stamp(7, pg), PG);
		int synced = msync(q, NPAGES * PG, MS_SYNC) == 0, held = file_has_stamps(h, 7);
		unlink(h);
		_exit(!synced ? 33 : !held ? 31 : 0);
	}
	CHECK(wait_ok(pid) == 0);

	/* The parent still manages a file when it forks. */
	fd = open(a, O_RDWR);
	CHECK(fd >= 0);
	pa = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(pa != MAP_FAILED);
	pa[PG] = 'Q';
	check_child("child of a parent that still manages a file", test_path("fork_e"), 5, anon, 0);
	check_child("same, at an address free in the parent", test_path("fork_f"), 6, NULL, 0);
	CHECK(msync(pa, 4 * PG, MS_SYNC) == 0 && file_byte_is(a, PG, 'Q'));
	CHECK(munmap(pa, 4 * PG) == 0 && close(fd) == 0);
	unlink(a);
	return 0;
}
