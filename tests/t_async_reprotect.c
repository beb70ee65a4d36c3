/* What an MS_ASYNC snapshot's harvest leaves open (under the userfaultfd trackers
 * it protects nothing; the commit thread protects the pages again, lib/dirty.c) is
 * never lost:
 *   1. a store to a page left open, after a drain that kept the commit thread from
 *      protecting it, reaches the file at the next MS_SYNC (the mapping may not be
 *      taken for quiet: such a store faults nowhere);
 *   2. a store outside the snapshot's range, in a mapping the commit thread
 *      protects again, reaches the file at the next MS_SYNC (that protection must
 *      take the pages it finds written);
 *   3. two records of one mapping (split by mprotect) joined again by an mremap
 *      that fails, one quiet and one holding a page left open (or one never
 *      harvested): a store to that page reaches the file at the next MS_SYNC (the
 *      joined record is quiet only if both were).
 * Every tracker runs it; the rules apply under uffd and uffd-sync (whose record
 * keeps the bits of pages left open).
 *   t_async_reprotect [--expect-broken=NAME]: with a rule broken
 *   (libfams_preload_broken.so), a lost store must be seen. */
#include "check.h"
#include <stdint.h>

#define PAGES 8
#define ROUNDS 200

int main(int argc, char **argv)
{
	const char *broken = expected_broken(argc, argv);
	const char *path = test_path("async_reprotect");
	int fd = make_file(path, PAGES * PG, 0);
	CHECK(fd >= 0);
	char *p = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	CHECK(msync(p, PAGES * PG, MS_SYNC) == 0);

	/* 1: snapshot, drained at once by fsync (which holds fams's registry lock while
	 * it waits), then a store to the same page and MS_SYNC. */
	int lost_after_drain = 0;
	for (uint64_t i = 1; i <= ROUNDS; i++) {
		uint64_t first = i * 2, second = i * 2 + 1;
		memcpy(p, &first, sizeof first);
		CHECK(msync(p, PAGES * PG, MS_ASYNC) == 0);
		CHECK(fsync(fd) == 0);
		memcpy(p, &second, sizeof second);
		CHECK(msync(p, PAGES * PG, MS_SYNC) == 0);
		if (raw_word(path, 0) != second)
			lost_after_drain++;
	}

	/* 2: page 1 and page 5 stored; a snapshot of page 1 alone; the commit thread
	 * left free to protect the mapping again (no fams call until its commit is
	 * in the file); MS_SYNC of all. */
	int lost_outside = 0;
	for (uint64_t i = 1; i <= ROUNDS / 4 && !(broken && lost_after_drain); i++) {
		uint64_t inside = i * 2, outside = i * 2 + 1;
		memcpy(p + PG, &inside, sizeof inside);
		memcpy(p + 5 * PG, &outside, sizeof outside);
		CHECK(msync(p + PG, PG, MS_ASYNC) == 0);
		for (int t = 0; t < 1000 && raw_word(path, PG) != inside; t++)
			usleep(1000);
		usleep(2000); /* its commit done, the thread back asleep */
		CHECK(msync(p, PAGES * PG, MS_SYNC) == 0);
		if (raw_word(path, 5 * PG) != outside)
			lost_outside++;
	}

	/* 3: records [0, 4) and [4, 8) of one kernel area; page 6 stored, then left
	 * open by MS_ASYNC (or, with no MS_ASYNC, never harvested), [0, 4) made quiet
	 * by an MS_SYNC of its own; an mremap across both that fails joins them; a
	 * store to page 6, then MS_SYNC of all. */
	int lost_joined = 0;
	for (uint64_t i = 1; i <= ROUNDS / 2 && !(broken && lost_after_drain + lost_outside); i++) {
		uint64_t first = i * 2, second = i * 2 + 1;
		CHECK(mprotect(p + 4 * PG, 4 * PG, PROT_READ) == 0);
		CHECK(mprotect(p + 4 * PG, 4 * PG, PROT_READ | PROT_WRITE) == 0);
		memcpy(p + 6 * PG, &first, sizeof first);
		if (i % 2)
			CHECK(msync(p, PAGES * PG, MS_ASYNC) == 0);
		CHECK(msync(p, 4 * PG, MS_SYNC) == 0);
		CHECK(mremap(p + 2 * PG, 4 * PG, 5 * PG, 0) == MAP_FAILED); /* ENOMEM: in place only */
		memcpy(p + 6 * PG, &second, sizeof second);
		CHECK(msync(p, PAGES * PG, MS_SYNC) == 0);
		if (raw_word(path, 6 * PG) != second)
			lost_joined++;
	}

	if (broken) {
		int lost = lost_after_drain + lost_outside + lost_joined;
		printf("broken engine (%s) %s: %d stores lost after a drain, %d outside the snapshot, %d in joined "
		       "records\n",
		       broken, lost ? "caught" : "NOT caught", lost_after_drain, lost_outside, lost_joined);
		return lost ? 0 : 1;
	}
	CHECK(lost_after_drain == 0);
	CHECK(lost_outside == 0);
	CHECK(lost_joined == 0);
	CHECK(munmap(p, PAGES * PG) == 0 && close(fd) == 0);
	unlink(path);
	puts("ok");
	return 0;
}
