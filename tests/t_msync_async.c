/* msync(MS_ASYNC) is pipelined: it returns at once with the state it was called
 * in queued for the commit thread; that state reaches the file by itself, stores
 * after the call are not part of it, and a later MS_SYNC or fsync is never
 * overtaken by it (the file keeps the newer state), also when the change lives
 * only in the bitmap (pwrite) and goes back and forth between snapshots; MS_ASYNC
 * after MS_ASYNC with no wait never takes the file back.
 *   t_msync_async [--expect-broken=NAME]: with a rule broken
 *   (libfams_preload_broken.so), an overtaken commit must be seen. */
#include "check.h"
#include <stdint.h>
#include <time.h>

#define PAGES 8
#define ROUNDS 300
#define BACK_TO_BACK 4000

int main(int argc, char **argv)
{
	const char *broken = expected_broken(argc, argv);
	const char *path = test_path("msync_async");
	int fd = make_file(path, PAGES * PG, 0);
	CHECK(fd >= 0);
	char *p = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);

	/* The state at the call lands by itself; a store after it does not. */
	uint64_t v = 1;
	memcpy(p, &v, sizeof v);
	CHECK(msync(p, PAGES * PG, MS_ASYNC) == 0);
	memcpy(p + 8, &v, sizeof v);
	for (int i = 0; i < 400 && raw_word(path, 0) != 1; i++)
		usleep(5000);
	CHECK(raw_word(path, 0) == 1 && raw_word(path, 8) == 0);

	/* MS_ASYNC then MS_SYNC, over and over: after each MS_SYNC the file holds its
	 * state, and keeps it once the commit thread is done. */
	int overtaken = 0;
	for (uint64_t i = 2; i < ROUNDS; i++) {
		off_t off = (off_t)(i % PAGES) * PG + 16;
		uint64_t older = i * 2, newer = i * 2 + 1;
		memcpy(p + off, &older, sizeof older);
		CHECK(msync(p, PAGES * PG, MS_ASYNC) == 0);
		memcpy(p + off, &newer, sizeof newer);
		CHECK(msync(p, PAGES * PG, i % 2 ? MS_SYNC : MS_SYNC | MS_INVALIDATE) == 0);
		if (raw_word(path, off) != newer)
			overtaken++;
		usleep(1000); /* a snapshot the MS_SYNC did not wait for lands meanwhile */
		if (raw_word(path, off) != newer)
			overtaken++;
	}
	CHECK(fsync(fd) == 0); /* waits for the commit thread */
	usleep(200000);        /* time for a snapshot it did not wait for to land */
	for (uint64_t i = ROUNDS - PAGES; i < ROUNDS; i++)
		if (raw_word(path, (off_t)(i % PAGES) * PG + 16) != i * 2 + 1)
			overtaken++;

	/* a, snapshot; b, snapshot; a again: after fsync the file holds a (the second
	 * snapshot's commit must not leave b with the page taken for clean). */
	int stale = 0;
	for (uint64_t i = 1; i <= 1000 && !broken; i++) {
		uint64_t a = i * 2, b = i * 2 + 1;
		CHECK(pwrite(fd, &a, sizeof a, PG) == (ssize_t)sizeof a && msync(p, PAGES * PG, MS_ASYNC) == 0);
		CHECK(pwrite(fd, &b, sizeof b, PG) == (ssize_t)sizeof b && msync(p, PAGES * PG, MS_ASYNC) == 0);
		CHECK(pwrite(fd, &a, sizeof a, PG) == (ssize_t)sizeof a && fsync(fd) == 0);
		if (raw_word(path, PG) != a)
			stale++;
	}
	CHECK(stale == 0);

	/* MS_ASYNC after MS_ASYNC with no wait, each taken beside the commit of the one
	 * before (asynccommit.c): the file never goes back, and after fsync every page
	 * holds its last store. */
	int back = 0, missed = 0;
	uint64_t seen = 0;
	for (uint64_t i = 1; i <= BACK_TO_BACK; i++) {
		memcpy(p + (i % PAGES) * PG + 64, &i, sizeof i);
		memcpy(p + 72, &i, sizeof i);
		CHECK(msync(p, PAGES * PG, MS_ASYNC) == 0);
		if (i % 16 == 0) {
			uint64_t now = raw_word(path, 72);
			back += now < seen;
			seen = now > seen ? now : seen;
		}
	}
	CHECK(fsync(fd) == 0);
	for (uint64_t i = BACK_TO_BACK - PAGES + 1; i <= BACK_TO_BACK; i++)
		missed += raw_word(path, (off_t)(i % PAGES) * PG + 64) != i;
	missed += raw_word(path, 72) != BACK_TO_BACK;
	CHECK(back == 0 && missed == 0);
	if (broken) {
		printf("broken engine (%s) %s: %d newer commits overtaken by older snapshots\n", broken,
		       overtaken ? "caught" : "NOT caught", overtaken);
		return overtaken ? 0 : 1;
	}
	CHECK(overtaken == 0);
	CHECK(munmap(p, PAGES * PG) == 0 && close(fd) == 0);
	unlink(path);
	puts("ok");
	return 0;
}
