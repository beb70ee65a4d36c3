/* Fault injection: make each I/O of a commit, of opening a file (journal creation
 * and recovery) and of recovery fail in turn, once, with EIO, ENOSPC, EINTR or a
 * short transfer.  Every time:
 *  - EINTR and short transfers are retried inside: the call succeeds;
 *  - EIO and ENOSPC surface: the commit returns -1 with that errno, the file holds
 *    its last committed bytes (checked on disk at once, and again after a crash
 *    and recovery), the program's uncommitted bytes are still in the working copy,
 *    and the same commit succeeds once the fault has cleared. */
#include "commit.h"
#include "config.h"
#include "engine_harness.h"
#include "journal.h"
#include "log.h"
#include "recover.h"
#include "sys.h"

enum fault { F_EIO, F_ENOSPC, F_EINTR, F_SHORT, NFAULTS };
static const char *fault_name[] = { "EIO", "ENOSPC", "EINTR", "short transfer" };

static enum fault kind;
static long ops, fire_at, fired;
static const char *fired_op; /* which call the fault hit */

/* Whether this operation is the one to fail; short transfers only apply to reads
 * and writes, EINTR to calls that can be interrupted. */
static int hit(int can_short, const char *op)
{
	if (kind == F_SHORT && !can_short)
		return 0;
	if (++ops != fire_at)
		return 0;
	fired = 1;
	fired_op = op;
	return 1;
}
static int fail_errno(void)
{
	errno = kind == F_EIO ? EIO : kind == F_ENOSPC ? ENOSPC : EINTR;
	return -1;
}
static ssize_t i_pread(int fd, void *b, size_t n, off_t o)
{
	if (hit(1, "pread")) {
		if (kind == F_SHORT)
			return fams_sys_default.os_pread(fd, b, n > 1 ? n / 2 : n, o);
		return fail_errno();
	}
	return fams_sys_default.os_pread(fd, b, n, o);
}
static ssize_t i_pwrite(int fd, const void *b, size_t n, off_t o)
{
	if (hit(1, "pwrite")) {
		if (kind == F_SHORT)
			return fams_sys_default.os_pwrite(fd, b, n > 1 ? n / 2 : n, o);
		return fail_errno();
	}
	return fams_sys_default.os_pwrite(fd, b, n, o);
}
static int i_fdatasync(int fd) { return hit(0, "fdatasync") ? fail_errno() : fams_sys_default.os_fdatasync(fd); }
static int i_fsync(int fd) { return hit(0, "fsync") ? fail_errno() : fams_sys_default.os_fsync(fd); }
static int i_ftruncate(int fd, off_t l) { return hit(0, "ftruncate") ? fail_errno() : fams_sys_default.os_ftruncate(fd, l); }
static int i_fallocate(int fd, int m, off_t o, off_t l) { return hit(0, "fallocate") ? fail_errno() : fams_sys_default.os_fallocate(fd, m, o, l); }
static int i_unlinkat(int d, const char *p, int f)
{
	/* unlink cannot be interrupted; EIO still can happen */
	return kind != F_EINTR && hit(0, "unlinkat") ? fail_errno() : fams_sys_default.os_unlinkat(d, p, f);
}
static int i_openat(int d, const char *p, int fl, mode_t m)
{
	if ((fl & O_CREAT) && kind != F_EINTR && hit(0, "openat"))
		return fail_errno();
	return fams_sys_default.os_openat(d, p, fl, m);
}

static void arm(enum fault k, long at)
{
	kind = k;
	ops = 0;
	fire_at = at;
	fired = 0;
	fams_sys.os_pread = i_pread;
	fams_sys.os_pwrite = i_pwrite;
	fams_sys.os_fdatasync = i_fdatasync;
	fams_sys.os_fsync = i_fsync;
	fams_sys.os_ftruncate = i_ftruncate;
	fams_sys.os_fallocate = i_fallocate;
	fams_sys.os_unlinkat = i_unlinkat;
	fams_sys.os_openat = i_openat;
}
static void disarm(void) { fams_sys_reset(); }

static long injected, retried, surfaced;

static int expect_errno(void) { return kind == F_EIO ? EIO : ENOSPC; }
static int transient(void) { return kind == F_EINTR || kind == F_SHORT; }

static struct image working_copy(struct fams_file *f)
{
	struct image im = { malloc(f->sh->size + 1), f->sh->size };
	if (pread(f->memfd, im.bytes, im.size, 0) != (ssize_t)im.size)
		FAIL("memfd read");
	return im;
}

/* ---- commits ----------------------------------------------------------------------- */

struct shape {
	const char *name;
	size_t size;
	void (*change)(struct fams_file *f);
	int prior_commit;
	int fresh; /* an empty file, not known durable, sized in the working copy first: a
		    * log from an empty file (commit.c, R0) */
};

static void ch_one(struct fams_file *f) { put(f, 3 * PG + 10, "one page"); }
static void ch_many(struct fams_file *f)
{
	for (int i = 0; i < 40; i += 3)
		put(f, (uint64_t)i * PG + (uint64_t)i, "scattered");
}
static void ch_big(struct fams_file *f)
{
	for (int i = 0; i < 40; i++)
		put_page(f, (uint64_t)i, (char)('A' + i % 26)); /* grows the journal */
}
static void ch_end(struct fams_file *f) { put(f, f->sh->size - 5, "tail!"); }

/* What recovery would make of f's data file if the process crashed now: run on a
 * copy of it, with f's journal (recovery checks the identity it is given). */
static struct image recovered_copy(struct fams_file *f)
{
	char copy[4200];
	snprintf(copy, sizeof copy, "%s.crashed", path);
	struct image now = read_image();
	int fd = open(copy, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || pwrite(fd, now.bytes, now.size, 0) != (ssize_t)now.size)
		FAIL("copy for recovery");
	int outcome;
	if (fams_recover_locked(f->j.fd, fd, &f->id, copy, 0, &outcome) < 0)
		FAIL("recovery of the copy: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0)
		FAIL("fstat copy");
	struct image got = { malloc((size_t)st.st_size + 1), (size_t)st.st_size };
	if (pread(fd, got.bytes, got.size, 0) != (ssize_t)got.size)
		FAIL("read copy");
	close(fd);
	unlink(copy);
	free(now.bytes);
	return got;
}

/* One trial: returns 1 once the fault point lies past the commit's last I/O. */
static int commit_trial(const struct shape *sh, enum fault k, long at)
{
	struct image base = base_image(sh->fresh ? 0 : sh->size);
	remove_journal();
	write_image(&base);
	struct fams_file *f = open_managed();
	if (!f)
		FAIL("%s: open", sh->name);
	if (!sh->fresh)
		harness_data_durable(f);
	else if (harness_resize(f, sh->size) < 0)
		FAIL("%s: sizing the new file", sh->name);
	if (sh->prior_commit) {
		put(f, 7 * PG, "prior");
		if (fams_file_commit(f, 0, UINT64_MAX) < 0)
			FAIL("%s: prior commit", sh->name);
	}
	struct image before = read_image();
	sh->change(f);
	struct image after = working_copy(f);

	arm(k, at);
	errno = 0;
	int r = fams_file_commit(f, 0, UINT64_MAX);
	int err = errno;
	disarm();
	struct image got = read_image();
	if (!fired) {
		if (r < 0 || !same(&got, &after))
			FAIL("%s: commit without a fault failed", sh->name);
		if (sh->fresh && fams_cfg.commit_log == FAMS_COMMIT_REDO && !journal_from_empty(f))
			FAIL("%s: the commit began no log from an empty file", sh->name);
	} else if (transient()) {
		retried++;
		if (r < 0)
			FAIL("%s: %s at I/O %ld surfaced (errno %d) instead of being retried", sh->name,
			     fault_name[k], at, err);
		if (!same(&got, &after))
			FAIL("%s: %s at I/O %ld: commit succeeded but the file is not the new image", sh->name,
			     fault_name[k], at);
	} else {
		surfaced++;
		if (r == 0)
			FAIL("%s: %s at I/O %ld: the commit reported success", sh->name, fault_name[k], at);
		if (err != expect_errno())
			FAIL("%s: %s at I/O %ld: errno %d (%s), expected %s", sh->name, fault_name[k], at, err,
			     strerror(err), fault_name[k]);
		if (!same(&got, &before))
			FAIL("%s: %s at I/O %ld: the file no longer holds its last commit", sh->name,
			     fault_name[k], at);
		struct image mem = working_copy(f);
		if (!same(&mem, &after))
			FAIL("%s: %s at I/O %ld: the uncommitted bytes are gone from memory", sh->name,
			     fault_name[k], at);
		free(mem.bytes);
		/* A crash now: recovery, run on a copy of the data file, keeps it too
		 * (the journal may hold the failed commit whole: it must not apply it). */
		struct image crashed = recovered_copy(f);
		if (!same(&crashed, &before))
			FAIL("%s: %s at I/O %ld: a crash after the failed commit would bring it back", sh->name,
			     fault_name[k], at);
		free(crashed.bytes);
		/* The fault has cleared: the same commit now succeeds. */
		if (fams_file_commit(f, 0, UINT64_MAX) < 0)
			FAIL("%s: %s at I/O %ld: retry failed: %s", sh->name, fault_name[k], at, strerror(errno));
		free(got.bytes);
		got = read_image();
		if (!same(&got, &after))
			FAIL("%s: %s at I/O %ld: the retry did not commit the new image", sh->name, fault_name[k], at);
	}
	/* And a crash now, then recovery, keeps the committed image. */
	fams_file_close(f, 0);
	int outcome;
	if (fams_recover_path(AT_FDCWD, path, &outcome) < 0)
		FAIL("%s: recovery after the trial failed", sh->name);
	free(got.bytes);
	got = read_image();
	if (!same(&got, &after))
		FAIL("%s: %s at I/O %ld: recovery after the trial changed the file (%s)", sh->name,
		     fault_name[k], at, fams_recovery_name(outcome));
	injected += fired;
	free(got.bytes);
	free(before.bytes);
	free(after.bytes);
	free(base.bytes);
	return !fired;
}

/* ---- opening and recovery ------------------------------------------------------------ */

/* Leave a half-applied commit behind (a crash between data writes); *committed:
 * the image the commit makes. */
static struct image half_applied(struct image *committed)
{
	struct image base = base_image(48 * PG);
	remove_journal();
	write_image(&base);
	struct fams_file *f = open_managed();
	harness_data_durable(f);
	ch_many(f);
	/* Apply it fully, then put the journal back as it was before the data flush
	 * by restoring half of the old bytes: the journal is durable and valid, the
	 * file a mix. */
	if (fams_file_commit(f, 0, UINT64_MAX) < 0)
		FAIL("set-up commit");
	*committed = read_image();
	int fd = open(path, O_RDWR);
	if (fd < 0 || pwrite(fd, base.bytes, 20 * PG, 0) != 20 * PG)
		FAIL("set-up mix");
	close(fd);
	fams_file_close(f, 0);
	return base;
}

static int recovery_trial(enum fault k, long at, int via_open)
{
	struct image committed;
	struct image base = half_applied(&committed);
	struct image mixed = read_image();
	/* What recovery brings: the state before the commit (an undo journal rolls it
	 * back) or the commit whole (a redo log applies it). */
	const struct image *want = fams_cfg.commit_log == FAMS_COMMIT_REDO ? &committed : &base;
	if (same(&mixed, &base))
		FAIL("set-up did not leave a mixed file");
	arm(k, at);
	errno = 0;
	int r, outcome = 0;
	struct fams_file *f = NULL;
	if (via_open == 1) {
		f = open_managed();
		harness_data_durable(f);
		r = f ? 0 : -1;
	} else if (via_open == 2) { /* a program's open(): recovery from its new descriptor */
		int fd = open(path, O_RDONLY);
		r = fd < 0 ? -1 : fams_recover_opened(AT_FDCWD, path, fd, &outcome);
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
	} else {
		r = fams_recover_path(AT_FDCWD, path, &outcome);
	}
	int err = errno;
	disarm();
	const char *what = via_open == 1 ? "open" : via_open == 2 ? "program's open" : "recovery";
	if (fired && !transient()) {
		surfaced++;
		if (r == 0) {
			/* Only I/O after the file is safe may fail without failing the call:
			 * removing or retiring the spent journal, or preallocating it. */
			if (strcmp(fired_op, "unlinkat") && strcmp(fired_op, "fsync") && strcmp(fired_op, "fallocate"))
				FAIL("%s: %s in %s (I/O %ld) was ignored", what, fault_name[k], fired_op, at);
		} else if (err != expect_errno()) {
			FAIL("%s: %s at I/O %ld: errno %d (%s)", what, fault_name[k], at, err, strerror(err));
		}
	} else if (fired) {
		retried++;
		if (r < 0)
			FAIL("%s: %s at I/O %ld surfaced (errno %d)", what, fault_name[k], at, err);
	}
	if (f)
		fams_file_close(f, 1);
	/* Whatever happened, the next recovery restores the last committed image. */
	if (fams_recover_path(AT_FDCWD, path, &outcome) < 0)
		FAIL("%s: %s at I/O %ld: the recovery after it failed", what, fault_name[k], at);
	struct image got = read_image();
	if (!same(&got, want))
		FAIL("%s: %s at I/O %ld: the file is not the last committed image", what, fault_name[k], at);
	injected += fired;
	free(got.bytes);
	free(mixed.bytes);
	free(base.bytes);
	free(committed.bytes);
	return !fired;
}

/* Opening a file with no journal: creating and preallocating it, syncing its
 * directory.  A failure refuses the open with its errno and leaves no journal
 * that could later be mistaken for one. */
static int create_trial(enum fault k, long at)
{
	struct image base = base_image(8 * PG);
	remove_journal();
	write_image(&base);
	arm(k, at);
	errno = 0;
	struct fams_file *f = open_managed();
	harness_data_durable(f);
	int err = errno;
	disarm();
	if (fired && !transient()) {
		surfaced++;
		/* Preallocation is an optimisation: the journal grows at commit instead. */
		if (f && strcmp(fired_op, "fallocate") != 0)
			FAIL("journal creation: %s in %s (I/O %ld): the open succeeded", fault_name[k], fired_op, at);
		if (err != expect_errno())
			FAIL("journal creation: %s at I/O %ld: errno %d (%s)", fault_name[k], at, err, strerror(err));
	} else if (fired) {
		retried++;
	}
	if (!f && !(f = open_managed()))
		FAIL("journal creation: %s at I/O %ld: the open after it failed", fault_name[k], at);
	put(f, PG, "after");
	if (fams_file_commit(f, 0, UINT64_MAX) < 0)
		FAIL("journal creation: %s at I/O %ld: commit after it failed", fault_name[k], at);
	fams_file_close(f, 1);
	struct image got = read_image();
	memcpy(base.bytes + PG, "after", 5);
	if (!same(&got, &base))
		FAIL("journal creation: %s at I/O %ld: wrong file after commit", fault_name[k], at);
	injected += fired;
	free(got.bytes);
	free(base.bytes);
	return !fired;
}

int main(void)
{
	use_test_file("faults");
	fams_cfg.journal_size = 64 * 1024;
	fams_redo_room = 0; /* the log rolls over at the journal's size */
	fams_cfg.journal_max = 64 << 20;
	fams_log_level = FAMS_LOG_ERROR - 1; /* every fault prints an error: silence them */
	static const struct shape shapes[] = {
		{ "one page", 16 * PG, ch_one, 0, 0 },
		{ "scattered pages", 48 * PG, ch_many, 0, 0 },
		{ "journal growth", 48 * PG, ch_big, 0, 0 },
		{ "page at the end", 10 * PG + 333, ch_end, 1, 0 },
		{ "with a live journal", 48 * PG, ch_many, 1, 0 },
		{ "a new file", 16 * PG, ch_one, 0, 1 },
		{ "a new file, twice", 48 * PG, ch_many, 1, 1 },
	};
	/* Small commits in the redo log, then undo journals only (commit.c). */
	static const char *const logs[] = { "redo", "undo" };
	for (int log = 0; log < 2; log++) {
		fams_cfg.commit_log = log;
		for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
			long points = 0;
			for (int k = 0; k < NFAULTS; k++)
				for (long at = 1; !commit_trial(&shapes[s], (enum fault)k, at); at++)
					points++;
			printf("%s: commit, %-20s %4ld faults injected\n", logs[log], shapes[s].name,
			       points);
		}
		for (int via_open = 0; via_open < 3; via_open++) {
			long points = 0;
			for (int k = 0; k < NFAULTS; k++)
				for (long at = 1; !recovery_trial((enum fault)k, at, via_open); at++)
					points++;
			printf("%s: %-28s %4ld faults injected\n", logs[log],
			       via_open == 1 ? "open with a pending journal" : via_open == 2 ? "program's open, pending journal" : "recovery",
			       points);
		}
	}
	long points = 0;
	for (int k = 0; k < NFAULTS; k++)
		for (long at = 1; !create_trial((enum fault)k, at); at++)
			points++;
	printf("%-28s %4ld faults injected\n", "open creating a journal", points);
	printf("%ld faults injected (%ld retried inside, %ld surfaced with their errno), 0 violations\n",
	       injected, retried, surfaced);
	remove_journal();
	unlink(path);
	return 0;
}
