/* Processes sharing one file, as native MAP_SHARED lets them.  A parent maps a file
 * of 64 pages shared and writable and forks 4 workers: each updates its own 16 pages
 * for 50 rounds (a round counter in each page, msync(MS_SYNC) of its pages after
 * every round) and adds 1 to a counter in page 0 under a process-shared mutex.  Every
 * worker sees the parent's stores made before the fork and the others' increments;
 * after its last msync the file holds its pages; the parent sees every worker's
 * final stores through its own mapping, and after its msync and munmap the file
 * holds all of them.  Then a forked child maps a new file of its own and writes it
 * (committed by msync, or by exiting): the parent reads what it wrote.  Last, a
 * child and its parent map one new file independently (not inherited) at the same
 * time: each sees the other's stores, and the file ends with both. */
#include "check.h"
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>

#define NPAGES 64
#define NWORKERS 4
#define PER (NPAGES / NWORKERS)
#define ROUNDS 50
#define COUNTER_OFF 2048 /* the shared counter, in page 0 (worker 0's page) */
#define MARK_OFF 1024    /* a byte the parent stores in every page before the fork */

/* Page pg's tag: which worker owns it, and which page it is. */
static uint64_t tag_of(int pg) { return (uint64_t)(pg / PER + 1) * 1000 + (uint64_t)pg; }

static uint64_t get64(const char *page, size_t off)
{
	uint64_t v;
	memcpy(&v, page + off, sizeof v);
	return v;
}

static void put64(char *page, size_t off, uint64_t v) { memcpy(page + off, &v, sizeof v); }

/* A page as a worker leaves it after round r: the round at the start and at the end,
 * its tag after the first, and the parent's mark. */
static int page_is(const char *page, int pg, uint64_t r)
{
	return get64(page, 0) == r && get64(page, PG - 8) == r && get64(page, 8) == tag_of(pg) &&
	       page[MARK_OFF] == 'M';
}

/* Which of worker w's pages of image (NPAGES pages) is not at round r; -1 if none. */
static int first_bad_page(const char *image, int w, uint64_t r)
{
	for (int pg = w * PER; pg < (w + 1) * PER; pg++)
		if (!page_is(image + (size_t)pg * PG, pg, r))
			return pg;
	return -1;
}

/* Worker w: ROUNDS rounds over its pages of map, each ending in an msync of them,
 * and one increment of the shared counter per round.  Returns its exit status. */
static int worker(const char *path, char *map, pthread_mutex_t *mu, int w)
{
	for (int pg = 0; pg < NPAGES; pg++)
		if (map[(size_t)pg * PG + MARK_OFF] != 'M')
			return 10; /* the parent's store before the fork is not visible */
	char *mine = map + (size_t)w * PER * PG;
	uint64_t seen = 0;
	for (uint64_t r = 1; r <= ROUNDS; r++) {
		for (int i = 0; i < PER; i++) {
			char *page = mine + (size_t)i * PG;
			put64(page, 0, r);
			put64(page, 8, tag_of(w * PER + i));
			put64(page, PG - 8, r);
		}
		if (pthread_mutex_lock(mu) != 0)
			return 11; /* EOWNERDEAD: another worker died holding it */
		uint64_t v = get64(map, COUNTER_OFF);
		if (v < seen) {
			pthread_mutex_unlock(mu);
			return 12; /* the counter went back: the others' stores are not shared */
		}
		put64(map, COUNTER_OFF, v + 1);
		seen = v + 1;
		pthread_mutex_unlock(mu);
		if (msync(mine, PER * PG, MS_SYNC) != 0) {
			fprintf(stderr, "worker %d: msync: %s\n", w, strerror(errno));
			return 13;
		}
	}
	/* What it msync'ed is in the file. */
	static char image[NPAGES * PG];
	if (raw_pread_path(path, image, sizeof image, 0) != (ssize_t)sizeof image)
		return 14;
	if (first_bad_page(image, w, ROUNDS) >= 0)
		return 15;
	return 0;
}

static int wait_status(pid_t pid)
{
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

/* Four workers share the parent's mapping of a 64-page file. */
static void prefork_workers(void)
{
	char path[4096];
	snprintf(path, sizeof path, "%s", test_path("share_prefork"));
	int fd = make_file(path, NPAGES * PG, 0);
	CHECK(fd >= 0);
	char *map = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED);
	for (int pg = 0; pg < NPAGES; pg++)
		map[(size_t)pg * PG + MARK_OFF] = 'M'; /* not committed before the fork */

	pthread_mutex_t *mu = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(mu != MAP_FAILED);
	pthread_mutexattr_t at;
	CHECK(pthread_mutexattr_init(&at) == 0);
	CHECK(pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED) == 0);
	CHECK(pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST) == 0);
	CHECK(pthread_mutex_init(mu, &at) == 0);

	pid_t pids[NWORKERS];
	for (int w = 0; w < NWORKERS; w++) {
		pids[w] = fork();
		CHECK(pids[w] >= 0);
		if (pids[w] == 0)
			_exit(worker(path, map, mu, w));
	}
	int bad = 0;
	for (int w = 0; w < NWORKERS; w++) {
		int rc = wait_status(pids[w]);
		if (rc != 0) {
			fprintf(stderr, "prefork: worker %d exit status %d\n", w, rc);
			bad = 1;
		}
	}
	CHECK(!bad);

	/* The parent sees every worker's final stores through its own mapping. */
	for (int w = 0; w < NWORKERS; w++) {
		int pg = first_bad_page(map, w, ROUNDS);
		if (pg >= 0)
			fprintf(stderr, "prefork: the parent's mapping: page %d of worker %d holds round %llu\n",
				pg, w, (unsigned long long)get64(map + (size_t)pg * PG, 0));
		CHECK(pg < 0);
	}
	CHECK(get64(map, COUNTER_OFF) == NWORKERS * ROUNDS);

	/* After the parent's msync and munmap, the file holds all of it. */
	CHECK(msync(map, NPAGES * PG, MS_SYNC) == 0);
	CHECK(munmap(map, NPAGES * PG) == 0 && close(fd) == 0);
	static char image[NPAGES * PG];
	CHECK(raw_pread_path(path, image, sizeof image, 0) == (ssize_t)sizeof image);
	for (int w = 0; w < NWORKERS; w++) {
		int pg = first_bad_page(image, w, ROUNDS);
		if (pg >= 0)
			fprintf(stderr, "prefork: the file: page %d of worker %d holds round %llu\n", pg, w,
				(unsigned long long)get64(image + (size_t)pg * PG, 0));
		CHECK(pg < 0);
	}
	CHECK(get64(image, COUNTER_OFF) == NWORKERS * ROUNDS);
	CHECK(pthread_mutex_destroy(mu) == 0 && munmap(mu, PG) == 0);
	unlink(path);
}

/* Every page of the first n pages of image holds its stamp. */
static int has_stamps(const char *image, int n, char tag)
{
	for (int pg = 0; pg < n; pg++)
		for (size_t i = 0; i < PG; i += 256)
			if (image[(size_t)pg * PG + i] != (char)(tag + pg % 8))
				return 0;
	return 1;
}

/* A forked child maps a new file (the parent never had it), writes it and commits
 * by msync or by exiting; the parent, which still maps a file of its own, reads it
 * with pread and through a mapping of its own. */
static void child_new_file(int by_exit)
{
	enum { N = 16 };
	char path[4096], own[4096];
	snprintf(path, sizeof path, "%s", test_path(by_exit ? "share_child_exit" : "share_child_msync"));
	snprintf(own, sizeof own, "%s", test_path("share_parent_own"));
	int pfd = make_file(own, PG, 'o');
	CHECK(pfd >= 0);
	char *pmap = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, pfd, 0);
	CHECK(pmap != MAP_FAILED);
	pmap[0] = 'P';
	char tag = by_exit ? 'a' : 'k';
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || ftruncate(fd, N * PG) != 0)
			_exit(20);
		char *p = mmap(NULL, N * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(21);
		for (int pg = 0; pg < N; pg++)
			memset(p + (size_t)pg * PG, tag + pg % 8, PG);
		if (by_exit)
			exit(0);
		_exit(msync(p, N * PG, MS_SYNC) == 0 ? 0 : 22);
	}
	int rc = wait_status(pid);
	if (rc != 0)
		fprintf(stderr, "child_new_file(by_exit=%d): child exit status %d\n", by_exit, rc);
	CHECK(rc == 0);
	static char image[N * PG];
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(pread(fd, image, sizeof image, 0) == (ssize_t)sizeof image && has_stamps(image, N, tag));
	char *q = mmap(NULL, N * PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(q != MAP_FAILED && has_stamps(q, N, tag));
	CHECK(munmap(q, N * PG) == 0 && close(fd) == 0);
	CHECK(raw_pread_path(path, image, sizeof image, 0) == (ssize_t)sizeof image && has_stamps(image, N, tag));
	CHECK(msync(pmap, PG, MS_SYNC) == 0 && file_byte_is(own, 0, 'P'));
	CHECK(munmap(pmap, PG) == 0 && close(pfd) == 0);
	unlink(path);
	unlink(own);
}

/* A child and its parent each open and map one new file (nothing inherited) at the
 * same time; each sees the other's stores as they are made; the child's msync and
 * the parent's munmap leave both in the file. */
static void child_and_parent_map_one_file(void)
{
	enum { N = 8 };
	char path[4096];
	snprintf(path, sizeof path, "%s", test_path("share_both"));
	int up[2], down[2];
	CHECK(pipe(up) == 0 && pipe(down) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || ftruncate(fd, N * PG) != 0)
			_exit(40);
		char *p = mmap(NULL, N * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(41);
		p[0] = 'C';
		if (write(up[1], "1", 1) != 1) /* the file exists and holds the child's store */
			_exit(42);
		char b;
		if (read(down[0], &b, 1) != 1) /* the parent mapped it and stored */
			_exit(43);
		if (p[PG] != 'P')
			_exit(44); /* the parent's store is not visible here */
		p[2 * PG] = 'c';
		if (msync(p, N * PG, MS_SYNC) != 0)
			_exit(45);
		if (write(up[1], "2", 1) != 1)
			_exit(46);
		if (read(down[0], &b, 1) != 1) /* the parent saw the second store */
			_exit(47);
		_exit(munmap(p, N * PG) == 0 && close(fd) == 0 ? 0 : 48);
	}
	close(up[1]);
	close(down[0]);
	char b;
	CHECK(read(up[0], &b, 1) == 1 && b == '1');
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	char *p = mmap(NULL, N * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		fprintf(stderr, "child_and_parent: the parent's mmap of the child's file: %s\n", strerror(errno));
	CHECK(p != MAP_FAILED);
	CHECK(p[0] == 'C'); /* the child's store */
	p[PG] = 'P';
	CHECK(write(down[1], "1", 1) == 1);
	CHECK(read(up[0], &b, 1) == 1 && b == '2');
	CHECK(p[2 * PG] == 'c'); /* the child's store made after the parent mapped */
	CHECK(file_byte_is(path, 0, 'C') && file_byte_is(path, 2 * PG, 'c')); /* its msync */
	CHECK(write(down[1], "2", 1) == 1);
	int rc = wait_status(pid);
	if (rc != 0)
		fprintf(stderr, "child_and_parent: child exit status %d\n", rc);
	CHECK(rc == 0);
	p[3 * PG] = 'Q';
	CHECK(munmap(p, N * PG) == 0 && close(fd) == 0);
	CHECK(file_byte_is(path, 0, 'C') && file_byte_is(path, PG, 'P') && file_byte_is(path, 2 * PG, 'c') &&
	      file_byte_is(path, 3 * PG, 'Q'));
	close(up[0]);
	close(down[1]);
	unlink(path);
}

int main(void)
{
	prefork_workers();
	child_new_file(0);
	child_new_file(1);
	child_and_parent_map_one_file();
	return 0;
}
