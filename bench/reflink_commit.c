/* reflink_commit -- cost of a famus_snap-style failure-atomic commit (Terence
 * Kelly's reflink snapshots) of k random dirty pages of a mapped file, to set
 * beside commit_latency's plain-msync and fams numbers on the same file system.
 * A commit is msync(MS_SYNC) and fsync of the file, FICLONE of the whole file into
 * the snapshot slot that is not the valid one, fsync of that slot, then a marker
 * (generation, slot) written with pwrite and fdatasync'ed; recovery would restore
 * the slot the marker names.  Two slots, so the valid snapshot is never the one
 * being overwritten.  Needs a reflink file system (XFS with reflink=1, btrfs;
 * bench/xfs_loop.sh makes one): elsewhere it exits 77.
 * Random page writes to a reflinked file fragment it, and a clone costs more the
 * more extents it copies, so --aging follows latency and extent count as commits
 * pile up on a fresh file.
 *   reflink_commit DIR FILE_MIB REPS K...
 *     One line per k: k=K median_us=M p99_us=P bytes_per_commit=B (as commit_latency;
 *     all k run in turn on one file, so later k see a file aged by earlier ones)
 *   reflink_commit --aging N K DIR FILE_MIB
 *     N commits of k pages on a file filled page by page (see setup); for
 *     commits 1, 10, 100, 500 and N (those <= N):
 *     commit=C us=T extents=E (E: extents of DIR/data after that commit)
 * Uses DIR/data, DIR/snap.0, DIR/snap.1 and DIR/valid, and removes them. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define SKIP 77

static const char *dir;
static char *p;
static size_t pages;
static int datafd = -1, snapfd[2] = {-1, -1}, validfd = -1, dfd = -1;
static uint64_t gen;	/* generation of the valid snapshot; its slot is gen % 2 */

static const char *path(const char *name)
{
	static char buf[4096];
	snprintf(buf, sizeof buf, "%s/%s", dir, name);
	return buf;
}

static void cleanup(void)
{
	if (p && p != MAP_FAILED)
		munmap(p, pages * PG);
	p = NULL;
	int *fds[] = {&datafd, &snapfd[0], &snapfd[1], &validfd, &dfd};
	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
		if (*fds[i] >= 0)
			close(*fds[i]), *fds[i] = -1;
	unlink(path("data"));
	unlink(path("snap.0"));
	unlink(path("snap.1"));
	unlink(path("valid"));
}

static int fail(const char *what)
{
	perror(what);
	cleanup();
	return 1;
}

/* The errors FICLONE gives where the file system cannot share extents. */
static int no_reflink(int e)
{
	return e == EOPNOTSUPP || e == EXDEV || e == EINVAL || e == ENOTTY;
}

static int skip(void)
{
	fprintf(stderr, "reflink_commit: FICLONE not supported on %s (%s): no reflink, skipping\n",
		dir, strerror(errno));
	cleanup();
	return SKIP;
}

/* Clone the whole data file into the slot after the valid one, make it durable,
 * then durably name it valid.  FICLONE replaces the destination's contents over
 * the source's length (remapping its old extents away) and extends a shorter
 * destination, but keeps a longer one's tail (XFS); the slots only ever hold
 * clones of this file, whose size never changes, so no truncation is needed. */
static int snapshot(void)
{
	uint64_t next = gen + 1, m[2] = {next, next % 2};
	int s = snapfd[next % 2];
	if (ioctl(s, FICLONE, datafd) < 0)
		return -1;
	if (fsync(s) < 0 || pwrite(validfd, m, sizeof m, 0) != (ssize_t)sizeof m || fdatasync(validfd) < 0)
		return -1;
	gen = next;
	return 0;
}

/* A commit: the mapping's dirty pages durable in the file, then a snapshot of it. */
static int commit(void)
{
	if (msync(p, pages * PG, MS_SYNC) < 0 || fsync(datafd) < 0)
		return -1;
	return snapshot();
}

/* DIR/data of mib MiB, all 1s and durable; the two slots; generation 0 in slot 0.
 * small_pages fills the file with page-sized writes instead of through the
 * mapping: the page cache then holds it in single pages rather than 2 MiB folios,
 * so each commit's copy-on-write splits extents a page at a time, as a file
 * built by small writes over time does (with large folios one dirty page
 * rewrites 2 MiB and the fragmentation grows ~100x more slowly). */
static int setup(size_t mib, int small_pages)
{
	pages = mib * 256;
	gen = (uint64_t)-1;	/* so the first snapshot is generation 0, slot 0 */
	datafd = open(path("data"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (datafd < 0)
		return fail("open data");
	for (int i = 0; i < 2; i++)
		if ((snapfd[i] = open(path(i ? "snap.1" : "snap.0"), O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
			return fail("open snap");
	validfd = open(path("valid"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (validfd < 0 || dfd < 0)
		return fail("open valid");
	/* Cloning the still empty file tells whether there is reflink before the fill. */
	if (ioctl(snapfd[0], FICLONE, datafd) < 0)
		return no_reflink(errno) ? skip() : fail("FICLONE");
	if (ftruncate(datafd, (off_t)(pages * PG)) < 0)
		return fail("ftruncate");
	p = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, datafd, 0);
	if (p == MAP_FAILED)
		return fail("mmap");
	if (small_pages) {
		char page[PG];
		memset(page, 1, sizeof page);
		for (size_t i = 0; i < pages; i++)
			if (pwrite(datafd, page, PG, (off_t)(i * PG)) != PG)
				return fail("fill");
	} else {
		memset(p, 1, pages * PG);
	}
	if (commit() < 0)
		return no_reflink(errno) ? skip() : fail("first snapshot");
	if (fsync(dfd) < 0)	/* the four names, once */
		return fail("fsync dir");
	return 0;
}

/* Dirty k distinct pages, the same ones commit_latency dirties. */
static void dirty(int k)
{
	struct page_walk w = random_walk(pages);
	for (int i = 0; i < k; i++)
		p[page_at(&w, (size_t)i) * PG] += 1;
}

/* One timed commit, in microseconds; negative on failure. */
static double timed_commit(void)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (commit() < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
}

/* Extents of fd's file: FIEMAP with no room for extents just counts them. */
static long extents(int fd)
{
	struct fiemap fm = {.fm_start = 0, .fm_length = FIEMAP_MAX_OFFSET, .fm_extent_count = 0};
	if (ioctl(fd, FS_IOC_FIEMAP, &fm) < 0)
		return -1;
	return (long)fm.fm_mapped_extents;
}

static int aging(int n, int k)
{
	for (int c = 1; c <= n; c++) {
		dirty(k);
		double us = timed_commit();
		if (us < 0)
			return no_reflink(errno) ? skip() : fail("commit");
		if (c == 1 || c == 10 || c == 100 || c == 500 || c == n) {
			printf("commit=%d us=%.1f extents=%ld\n", c, us, extents(datafd));
			fflush(stdout);
		}
	}
	return 0;
}

static int latency(int reps, int nk, char **ks)
{
	double *t = malloc(sizeof(double) * (size_t)reps), *b = malloc(sizeof(double) * (size_t)reps);
	if (!t || !b)
		return fail("malloc");
	for (int a = 0; a < nk; a++) {
		int k = atoi(ks[a]);
		for (int r = 0; r < reps; r++) {
			unsigned long long w0 = write_bytes();
			dirty(k);
			if ((t[r] = timed_commit()) < 0)
				return no_reflink(errno) ? skip() : fail("commit");
			b[r] = (double)(write_bytes() - w0);
		}
		qsort(t, (size_t)reps, sizeof *t, cmp_double);
		qsort(b, (size_t)reps, sizeof *b, cmp_double);
		printf("k=%d median_us=%.1f p99_us=%.1f bytes_per_commit=%.0f\n", k, t[reps / 2],
		       t[(reps * 99) / 100], b[reps / 2]);
		fflush(stdout);
	}
	free(t);
	free(b);
	return 0;
}

int main(int argc, char **argv)
{
	int age = argc == 6 && strcmp(argv[1], "--aging") == 0;
	if (!age && (argc < 5 || argv[1][0] == '-')) {
		fprintf(stderr, "usage: reflink_commit DIR FILE_MIB REPS K...\n"
				"       reflink_commit --aging N K DIR FILE_MIB\n");
		return 2;
	}
	char **a = age ? argv + 4 : argv + 1;	/* DIR FILE_MIB */
	dir = a[0];
	int rc = setup((size_t)atol(a[1]), age);
	if (rc)
		return rc;
	srand(1);
	rc = age ? aging(atoi(argv[2]), atoi(argv[3])) : latency(atoi(argv[3]), argc - 4, argv + 4);
	if (rc)
		return rc;
	cleanup();
	return 0;
}
