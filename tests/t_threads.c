/* Threads keep writing while another commits: every commit writes a state that
 * some page really held, and nothing written before a commit began is lost. */
#include "check.h"
#include <pthread.h>
#include <stdatomic.h>

#define PAGES 64
static char *map;
static atomic_int stop;
static atomic_long rounds[4];

static void *writer(void *arg)
{
	long id = (long)arg;
	long n = 0;
	while (!atomic_load(&stop)) {
		n++;
		for (int pg = (int)id; pg < PAGES; pg += 4)
			memcpy(map + (size_t)pg * PG + 64, &n, sizeof n);
		atomic_store(&rounds[id], n);
	}
	return NULL;
}

int main(void)
{
	const char *path = test_path("threads");
	int fd = make_file(path, PAGES * PG, 0);
	CHECK(fd >= 0);
	map = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED);
	pthread_t t[4];
	for (long i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, writer, (void *)i) == 0);
	for (int c = 0; c < 50; c++) {
		long before[4];
		for (int i = 0; i < 4; i++)
			before[i] = atomic_load(&rounds[i]);
		CHECK(msync(map, PAGES * PG, MS_SYNC) == 0);
		/* every page holds at least the round its writer had finished before */
		for (int pg = 0; pg < PAGES; pg++) {
			long v = 0;
			CHECK(raw_pread_path(path, &v, sizeof v, (off_t)pg * PG + 64) == sizeof v);
			CHECK(v >= before[pg % 4]);
		}
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(msync(map, PAGES * PG, MS_SYNC) == 0);
	for (int pg = 0; pg < PAGES; pg++) {
		long v = 0;
		CHECK(raw_pread_path(path, &v, sizeof v, (off_t)pg * PG + 64) == sizeof v);
		CHECK(v == atomic_load(&rounds[pg % 4]));
	}
	munmap(map, PAGES * PG);
	close(fd);
	unlink(path);
	return 0;
}
