/* Commits flush without the process-wide lock: threads committing their own files,
 * threads committing one file together, and a thread opening, mapping, dup2-ing
 * and forking meanwhile.  Every commit that returned is in the file (read without
 * fams), nothing deadlocks, and a forked child's commit lands too.
 *   t_concurrent_commits [--expect-broken=NAME]: the engine runs with a rule
 *   broken (libfams_preload_broken.so): a lost commit must be seen. */
#include "check.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>

#define THREADS 4
#define ROUNDS 150
#define PAGES_EACH 4

static const char *own_path[THREADS], *shared_path, *churn_path;
static char *shared_map;
static int shared_fd;
static atomic_int failures, stop;

/* A thread with a file of its own: store, commit (msync or fsync), check. */
static void *own_file(void *arg)
{
	long id = (long)arg;
	int fd = open(own_path[id], O_RDWR);
	CHECK(fd >= 0);
	char *p = mmap(NULL, PAGES_EACH * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	for (uint64_t i = 1; i <= ROUNDS; i++) {
		off_t off = (off_t)(i % PAGES_EACH) * PG + 8;
		memcpy(p + off, &i, sizeof i);
		CHECK((i % 2 ? msync(p, PAGES_EACH * PG, MS_SYNC) : fsync(fd)) == 0);
		if (raw_word(own_path[id], off) != i)
			atomic_fetch_add(&failures, 1);
	}
	CHECK(munmap(p, PAGES_EACH * PG) == 0 && close(fd) == 0);
	return NULL;
}

/* A thread with pages of its own in the shared file: the commits of one file
 * by several threads. */
static void *shared_file(void *arg)
{
	long id = (long)arg;
	for (uint64_t i = 1; i <= ROUNDS; i++) {
		off_t off = (off_t)(id * PAGES_EACH + i % PAGES_EACH) * PG + 16;
		memcpy(shared_map + off, &i, sizeof i);
		int r = i % 3 ? msync(shared_map + id * PAGES_EACH * PG, PAGES_EACH * PG, MS_SYNC)
			      : fsync(shared_fd);
		CHECK(r == 0);
		if (raw_word(shared_path, off) != i)
			atomic_fetch_add(&failures, 1);
	}
	return NULL;
}

/* Calls that change the tables the commits let go of: open/close, map/unmap,
 * dup2, fork (the child commits a file of its own and exits). */
static void *churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		int fd = open(churn_path, O_RDWR);
		CHECK(fd >= 0);
		char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		CHECK(p != MAP_FAILED);
		p[1]++;
		int spare = dup(fd);
		CHECK(spare >= 0 && dup2(fd, spare) == spare && close(spare) == 0);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			p[2] = 'c';
			_exit(msync(p, PG, MS_SYNC) == 0 ? 0 : 1);
		}
		int status;
		CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
		char got = 0;
		CHECK(raw_pread_path(churn_path, &got, 1, 2) == 1 && got == 'c');
		CHECK(munmap(p, PG) == 0 && close(fd) == 0);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *broken = expected_broken(argc, argv);
	static char names[THREADS][64];
	for (int t = 0; t < THREADS; t++) {
		snprintf(names[t], sizeof names[t], "concurrent-own%d", t);
		own_path[t] = strdup(test_path(names[t]));
		int fd = make_file(own_path[t], PAGES_EACH * PG, 0);
		CHECK(fd >= 0 && close(fd) == 0);
	}
	shared_path = strdup(test_path("concurrent-shared"));
	churn_path = strdup(test_path("concurrent-churn"));
	shared_fd = make_file(shared_path, THREADS * PAGES_EACH * PG, 0);
	int cfd = make_file(churn_path, PG, 0);
	CHECK(shared_fd >= 0 && cfd >= 0 && close(cfd) == 0);
	shared_map = mmap(NULL, THREADS * PAGES_EACH * PG, PROT_READ | PROT_WRITE, MAP_SHARED, shared_fd, 0);
	CHECK(shared_map != MAP_FAILED);

	pthread_t own[THREADS], shared[THREADS], churner;
	CHECK(pthread_create(&churner, NULL, churn, NULL) == 0);
	for (long t = 0; t < THREADS; t++)
		CHECK(pthread_create(&own[t], NULL, own_file, (void *)t) == 0 &&
		      pthread_create(&shared[t], NULL, shared_file, (void *)t) == 0);
	for (int t = 0; t < THREADS; t++)
		CHECK(pthread_join(own[t], NULL) == 0 && pthread_join(shared[t], NULL) == 0);
	atomic_store(&stop, 1);
	CHECK(pthread_join(churner, NULL) == 0);
	if (broken) {
		printf("broken engine (%s) %s: %d commits returned before their bytes were in the file\n", broken,
		       atomic_load(&failures) ? "caught" : "NOT caught", atomic_load(&failures));
		return atomic_load(&failures) ? 0 : 1;
	}
	CHECK(atomic_load(&failures) == 0);

	CHECK(munmap(shared_map, THREADS * PAGES_EACH * PG) == 0 && close(shared_fd) == 0);
	for (int t = 0; t < THREADS; t++)
		unlink(own_path[t]);
	unlink(shared_path);
	unlink(churn_path);
	puts("ok");
	return 0;
}
