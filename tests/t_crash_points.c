/* Crash at every step: for each commit shape, stop the world at the k-th durable
 * I/O operation of the engine (k = 1, 2, ... until the commit runs to the end),
 * run recovery, and require the file to equal, byte for byte, the image before
 * the commit or the image after it -- and the image after it whenever the commit
 * had returned success.  Then interrupt recovery itself at every step and require
 * the same of the recovery that follows.  A process crash keeps every write that
 * was issued (the page cache survives), so "stop" means: this operation and all
 * later ones never happen. */
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "commit.h"
#include "config.h"
#include "engine_harness.h"
#include "journal.h"
#include "log.h"
#include "recover.h"
#include "sys.h"
#include "tracker.h"

static long ops, crash_at;
static sigjmp_buf crash;
static int opened[256], nopened;

static void step(void)
{
	if (++ops == crash_at)
		siglongjmp(crash, 1);
}
/* Set-ups that need a half-applied commit stop at the n-th write after the
 * commit's first flush (the journal's): counted by what the writes are, not by
 * op number, so a change in how many writes the journal takes cannot move them. */
static long crash_at_data_write, data_writes;
static int flushed;
static void stop_in_data_writes(long n)
{
	crash_at_data_write = n;
	data_writes = 0;
	flushed = 0;
}
static int c_openat(int d, const char *p, int fl, mode_t m)
{
	if (fl & O_CREAT)
		step();
	int fd = fams_sys_default.os_openat(d, p, fl, m);
	if (fd >= 0 && nopened < 256)
		opened[nopened++] = fd;
	return fd;
}
static ssize_t c_pwrite(int fd, const void *b, size_t n, off_t o)
{
	step();
	if (crash_at_data_write && flushed && ++data_writes == crash_at_data_write)
		siglongjmp(crash, 1);
	return fams_sys_default.os_pwrite(fd, b, n, o);
}
static int c_fdatasync(int fd)
{
	step();
	flushed = 1;
	return fams_sys_default.os_fdatasync(fd);
}
static int c_fsync(int fd) { step(); return fams_sys_default.os_fsync(fd); }
static int c_ftruncate(int fd, off_t l) { step(); return fams_sys_default.os_ftruncate(fd, l); }
static int c_fallocate(int fd, int m, off_t o, off_t l) { step(); return fams_sys_default.os_fallocate(fd, m, o, l); }
static int c_unlinkat(int d, const char *p, int f) { step(); return fams_sys_default.os_unlinkat(d, p, f); }

static void arm(long k)
{
	ops = 0;
	crash_at = k;
	crash_at_data_write = 0;
	nopened = 0;
	fams_sys.os_openat = c_openat;
	fams_sys.os_pwrite = c_pwrite;
	fams_sys.os_fdatasync = c_fdatasync;
	fams_sys.os_fsync = c_fsync;
	fams_sys.os_ftruncate = c_ftruncate;
	fams_sys.os_fallocate = c_fallocate;
	fams_sys.os_unlinkat = c_unlinkat;
}
static void disarm(void) { fams_sys_reset(); }
/* The crashed "process" is gone: its descriptors (and journal lock) with it. */
static void drop_descriptors(void)
{
	for (int i = 0; i < nopened; i++)
		close(opened[i]);
	nopened = 0;
}

static char path_main[4096], path_replay[4200];

/* A commit shape: what the program does to the working copy before committing. */
struct shape {
	const char *name;
	size_t size;                         /* initial file size */
	void (*change)(struct fams_file *f); /* edits through the working copy */
	uint64_t resize;                     /* ftruncate to this size first (0: none) */
	int prior_commit;                    /* a completed commit first (journal is live) */
	int prior_crash;                     /* an interrupted commit first (recovery at open) */
	int fresh;                           /* not known durable: a file just made (commit.c, R0) */
};

static void ch_one(struct fams_file *f) { put(f, 3 * PG + 10, "one page"); }
static void ch_many(struct fams_file *f)
{
	for (int i = 0; i < 40; i += 3)
		put(f, (uint64_t)i * PG + (uint64_t)i, "scattered");
}
static void ch_end(struct fams_file *f) { put(f, f->sh->size - 5, "tail!"); }
static void ch_big(struct fams_file *f)
{
	for (int i = 0; i < 48; i++)
		put_page(f, (uint64_t)i, (char)('A' + i % 26)); /* grows the journal */
}
static void ch_grow(struct fams_file *f)
{
	put(f, f->sh->size - 100, "in the grown part");
	put(f, 10, "and the old part");
}
static void ch_none(struct fams_file *f) { (void)f; }
static void ch_shrink(struct fams_file *f)
{
	put(f, 5 * PG + 100, "cut");
	put(f, PG, "kept");
}

/* The image a change makes of before, run to the end on a copy (path_replay). */
static struct image run_change(const struct image *before, void (*change)(struct fams_file *f), uint64_t resize)
{
	path = path_replay;
	remove_journal();
	write_image(before);
	struct fams_file *g = open_managed();
	harness_data_durable(g);
	if (!g)
		FAIL("replay open");
	if (resize && harness_resize(g, resize) < 0)
		FAIL("replay resize");
	change(g);
	if (fams_file_commit(g, 0, UINT64_MAX) < 0)
		FAIL("replay commit");
	fams_file_close(g, 1);
	struct image after = read_image();
	unlink(path_replay);
	path = path_main;
	return after;
}

static void ch_prior(struct fams_file *f)
{
	put(f, 7 * PG, "prior");
	put(f, 12 * PG, "prior, second extent");
}

/* Run one crash trial; returns 1 if the crash point was past the end. */
static int trial(const struct shape *sh, long k, long *states)
{
	struct image a = base_image(sh->size), before, after = { 0, 0 };
	remove_journal();
	write_image(&a);
	if (sh->prior_commit || sh->prior_crash) {
		arm(0); /* record descriptors, never crash (yet) */
		struct fams_file *f = open_managed();
		harness_data_durable(f);
		if (!f)
			FAIL("%s: open for prior commit", sh->name);
		ch_prior(f);
		if (sh->prior_crash) {
			/* Two extents: stop at the second data write, one extent new, the
			 * journal durable. */
			stop_in_data_writes(2);
			if (sigsetjmp(crash, 1) == 0)
				fams_file_commit(f, 0, UINT64_MAX);
			disarm();
			drop_descriptors();
			struct image half = read_image();
			if (same(&half, &a))
				FAIL("%s: set-up did not leave a half-applied commit", sh->name);
			free(half.bytes);
		} else if (fams_file_commit(f, 0, UINT64_MAX) < 0) {
			FAIL("%s: prior commit", sh->name);
		}
		disarm();
		if (!sh->prior_crash)
			fams_file_close(f, 0); /* a crash right after: journal stays live */
	}
	before = read_image();
	if (sh->prior_crash) {
		/* The image before is the one recovery will bring: an undo journal rolls
		 * the interrupted commit back, a redo log (durable before the first data
		 * write) applies it whole. */
		free(before.bytes);
		before = fams_cfg.commit_log == FAMS_COMMIT_REDO ? run_change(&a, ch_prior, 0) : a;
		if (fams_cfg.commit_log == FAMS_COMMIT_UNDO)
			a = base_image(sh->size);
	}
	/* The after-image: the same change on a copy of "before", run to the end. */
	after = run_change(&before, sh->change, sh->resize);

	volatile int committed = 0, crashed = 0;
	struct fams_file *volatile f = NULL;
	arm(k);
	if (sigsetjmp(crash, 1) == 0) {
		f = open_managed();
		if (!sh->fresh)
			harness_data_durable(f);
		if (!f)
			FAIL("%s k=%ld: open: %s", sh->name, k, strerror(errno));
		if (sh->resize && harness_resize(f, sh->resize) < 0)
			FAIL("%s k=%ld: resize: %s", sh->name, k, strerror(errno));
		sh->change(f);
		committed = fams_file_commit(f, 0, UINT64_MAX) == 0;
		if (!committed)
			FAIL("%s k=%ld: commit failed without a crash: %s", sh->name, k, strerror(errno));
	} else {
		crashed = 1;
	}
	disarm();
	if (!crashed)
		fams_file_close(f, 0); /* then a crash: the journal stays live */
	else
		drop_descriptors();
	int outcome;
	if (fams_recover_path(AT_FDCWD, path, &outcome) < 0)
		FAIL("%s k=%ld: recovery failed: %s", sh->name, k, strerror(errno));
	struct image got = read_image();
	/* ftruncate changes the working copy; the file takes the size with the commit,
	 * so the resized, uncommitted image is not a state a crash may leave. */
	if (!same(&got, &before) && !same(&got, &after))
		VIOLATION("%s k=%ld: file is neither the before- nor the after-image (%s)", sh->name, k,
		     fams_recovery_name(outcome));
	if (committed && !same(&got, &after))
		VIOLATION("%s k=%ld: the commit returned success but its bytes are gone", sh->name, k);
	(*states)++;
	free(got.bytes);
	free(after.bytes);
	free(before.bytes);
	free(a.bytes);
	return !crashed;
}

/* Interrupt recovery itself at every step; the next recovery must still restore. */
static void recovery_trials(long *states)
{
	for (volatile long k2 = 1;; k2++) {
		struct image a = base_image(48 * PG);
		remove_journal();
		write_image(&a);
		arm(0);
		struct fams_file *f = open_managed();
		harness_data_durable(f);
		ch_many(f);
		volatile int stopped = 0;
		/* The commit of 14 extents: stop at the fifth data write, four new. */
		stop_in_data_writes(5);
		if (sigsetjmp(crash, 1) == 0)
			fams_file_commit(f, 0, UINT64_MAX);
		else
			stopped = 1;
		disarm();
		if (!stopped)
			FAIL("recovery set-up: the commit was not interrupted");
		drop_descriptors();
		struct image half = read_image();
		if (same(&half, &a))
			FAIL("recovery set-up did not leave a half-applied commit");
		free(half.bytes);
		int outcome;
		volatile int done = 0;
		arm(k2);
		if (sigsetjmp(crash, 1) == 0) {
			if (fams_recover_path(AT_FDCWD, path, &outcome) < 0)
				FAIL("recovery k=%ld failed", k2);
			done = 1;
		}
		disarm();
		drop_descriptors();
		if (fams_recover_path(AT_FDCWD, path, &outcome) < 0)
			FAIL("second recovery after k=%ld failed", k2);
		struct image got = read_image();
		/* The interrupted commit rolled back (undo), or applied whole (redo). */
		struct image want = fams_cfg.commit_log == FAMS_COMMIT_REDO ? run_change(&a, ch_many, 0) : a;
		if (!same(&got, &want))
			VIOLATION("recovery interrupted at step %ld did not restore the %s-image (then: %s)", (long)k2,
				  fams_cfg.commit_log == FAMS_COMMIT_REDO ? "after" : "before", fams_recovery_name(outcome));
		(*states)++;
		free(got.bytes);
		if (want.bytes != a.bytes)
			free(want.bytes);
		free(a.bytes);
		if (done)
			break;
	}
}

int main(int argc, char **argv)
{
	parse_broken(argc, argv);
	const char *dir = getenv("FAMS_TEST_DIR");
	snprintf(path_main, sizeof path_main, "%s/crash_points.%d", dir ? dir : ".", (int)getpid());
	snprintf(path_replay, sizeof path_replay, "%s.replay", path_main);
	path = path_main;
	fams_cfg.journal_size = 64 * 1024;
	fams_redo_room = 0; /* the log rolls over at the journal's size */ /* small, so ch_big must grow it */
	fams_cfg.journal_max = 64 << 20;
	fams_log_level = FAMS_LOG_ERROR; /* rollbacks are the point here, not news */
	/* Changes go through put(), which marks them dirty, and no mapping exists: by
	 * default commits trust the dirty bits alone, as with the userfaultfd trackers
	 * (comparing every page would hide a lost bit). */
	harness_tracker(FAMS_TRACKER_UFFD);
	static const struct shape shapes[] = {
		{ "one page", 16 * PG, ch_one, 0, 0, 0, 0 },
		{ "scattered pages", 48 * PG, ch_many, 0, 0, 0, 0 },
		{ "page at the end", 10 * PG + 333, ch_end, 0, 0, 0, 0 },
		{ "journal growth", 48 * PG, ch_big, 0, 0, 0, 0 },
		{ "after ftruncate grow", 8 * PG + 50, ch_grow, 11 * PG + 57, 0, 0, 0 },
		{ "after ftruncate shrink", 12 * PG, ch_shrink, 5 * PG + 123, 1, 0, 0 },
		{ "a shrink alone", 14 * PG, ch_none, 5 * PG + 123, 1, 0, 0 },
		{ "a growth alone", 14 * PG, ch_none, 20 * PG + 1, 1, 0, 0 },
		{ "a shrink to the old size", 13 * PG, ch_none, 13 * PG - 10, 0, 0, 0 },
		{ "with a live journal", 16 * PG, ch_many, 0, 1, 0, 0 },
		{ "after a previous crash", 16 * PG, ch_one, 0, 0, 1, 0 },
		{ "a new file, sized", 0, ch_one, 6 * PG + 50, 0, 0, 1 },
	};
	long states = 0;
	/* Small commits in the redo log, then undo journals only (commit.c). */
	static const char *const logs[] = { "redo", "undo" };
	for (int log = 0; log < 2; log++) {
		fams_cfg.commit_log = log;
		for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
			long k = 1;
			while (!trial(&shapes[s], k, &states))
				k++;
			printf("%s: %-24s %3ld crash points, all before- or after-image\n", logs[log], shapes[s].name,
			       k - 1);
		}
		recovery_trials(&states);
	}
	if (broken_name)
		return broken_not_caught();
	printf("%ld crash states checked, 0 violations\n", states);
	remove_journal();
	unlink(path);
	return 0;
}
