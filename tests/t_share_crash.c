/* Crash at every step, across processes: two processes share a file (B sets it up,
 * A joins), each changes pages of the working copy, and A commits -- which commits
 * B's pages too.  A is SIGKILLed at its k-th durable I/O operation (k = 1, 2, ...
 * until its commit runs to the end), holding the commit lock.  Then B, which
 * inherits the dead lock (EOWNERDEAD) and must repair before committing, is
 * SIGKILLed at its j-th operation (j = 0: before it commits at all; then 1, 2, ...
 * until its commit runs to the end).  With both dead, a third process recovers the
 * file.  It must equal the image before both changes or the image after both --
 * and the image after whenever either commit returned success.
 *
 * Unlike t_crash_points, the crashes are real: the processes die with the lock,
 * their descriptors and their OFD locks, and the kernel keeps every write they
 * issued (a process crash loses no page cache). */
#include <signal.h>
#include <sys/wait.h>

#include "commit.h"
#include "config.h"
#include "engine_harness.h"
#include "log.h"
#include "recover.h"
#include "sys.h"
#include "tracker.h"

static long ops, crash_at;

/* Count one durable operation; die at the chosen one, as a kill would. */
static void step(void)
{
	if (++ops == crash_at)
		raise(SIGKILL);
}
static ssize_t c_pwrite(int fd, const void *b, size_t n, off_t o)
{
	step();
	return fams_sys_default.os_pwrite(fd, b, n, o);
}
static int c_fdatasync(int fd) { step(); return fams_sys_default.os_fdatasync(fd); }
static int c_fsync(int fd) { step(); return fams_sys_default.os_fsync(fd); }
static int c_ftruncate(int fd, off_t l) { step(); return fams_sys_default.os_ftruncate(fd, l); }
static int c_fallocate(int fd, int m, off_t o, off_t l) { step(); return fams_sys_default.os_fallocate(fd, m, o, l); }
static int c_unlinkat(int d, const char *p, int f) { step(); return fams_sys_default.os_unlinkat(d, p, f); }

static void arm(long k)
{
	ops = 0;
	crash_at = k;
	fams_sys.os_pwrite = c_pwrite;
	fams_sys.os_fdatasync = c_fdatasync;
	fams_sys.os_fsync = c_fsync;
	fams_sys.os_ftruncate = c_ftruncate;
	fams_sys.os_fallocate = c_fallocate;
	fams_sys.os_unlinkat = c_unlinkat;
}

#define PAGES 32
static const struct {
	int who; /* 'A' or 'B' */
	uint64_t off;
	const char *text;
} changes[] = {
	{ 'B', 1 * PG + 7, "B's first page" }, { 'B', 20 * PG, "B's second page" },
	{ 'A', 3 * PG, "A's first page" },     { 'A', 7 * PG + 100, "A's second" },
	{ 'A', 25 * PG + 4000, "A's third, across a page boundary" },
};

static void make_changes(struct fams_file *f, int who)
{
	for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++)
		if (changes[i].who == who)
			put(f, changes[i].off, changes[i].text);
}

/* The file before the commits: a file of letters, or (fresh) one just made and
 * sized, all holes, not flushed: its first commit begins a log from an empty file
 * (commit.c, R0). */
static bool fresh;

static struct image before_image(void)
{
	return fresh ? (struct image){ calloc(1, PAGES * PG + 1), PAGES * PG } : base_image(PAGES * PG);
}

static struct image after_image(void)
{
	struct image im = before_image();
	for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++)
		memcpy(im.bytes + changes[i].off, changes[i].text, strlen(changes[i].text));
	return im;
}

/* A process of the pair: set up or join, change its pages, tell the test; then,
 * told to, commit with a crash at crash_k (0: never), and report 'y' or 'n'. */
static void member(int who, long crash_k, int to_test, int from_test)
{
	struct fams_file *f = open_managed();
	if (!f)
		FAIL("%c: open: %s", who, strerror(errno));
	make_changes(f, who);
	char c = 'r';
	if (write(to_test, &c, 1) != 1 || read(from_test, &c, 1) != 1)
		_exit(2);
	arm(crash_k);
	c = fams_file_commit(f, 0, UINT64_MAX) == 0 ? 'y' : 'n';
	fams_sys_reset();
	if (write(to_test, &c, 1) != 1)
		_exit(2);
	_exit(0); /* no clean leaving: the file stays as a crash leaves it */
}

struct proc {
	pid_t pid;
	int to, from; /* our ends of its pipes */
};

static struct proc start(int who, long crash_k)
{
	int up[2], down[2];
	if (pipe(up) < 0 || pipe(down) < 0)
		FAIL("pipe");
	pid_t pid = fork();
	if (pid < 0)
		FAIL("fork");
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		member(who, crash_k, up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	struct proc p = { pid, down[1], up[0] };
	char c;
	if (read(p.from, &c, 1) != 1 || c != 'r')
		FAIL("%c did not get ready", who);
	return p;
}

/* Tell p to commit; whether its commit returned success (false if it died). */
static bool commit_in(struct proc *p)
{
	char c = 'c';
	bool ok = write(p->to, &c, 1) == 1 && read(p->from, &c, 1) == 1 && c == 'y';
	int status;
	waitpid(p->pid, &status, 0);
	close(p->to);
	close(p->from);
	return ok;
}

static void kill_now(struct proc *p)
{
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	close(p->to);
	close(p->from);
}

/* One trial; sets *a_done / *b_done when that process's commit ran to the end. */
static void trial(long k, long j, bool *a_done, bool *b_done, long *states)
{
	struct image before = before_image(), after = after_image();
	remove_journal();
	if (fresh) {
		unlink(path);
		int fd = open(path, O_CREAT | O_RDWR, 0644);
		if (fd < 0 || ftruncate(fd, PAGES * PG) < 0)
			FAIL("a new file");
		close(fd);
	} else {
		write_image(&before);
	}
	struct proc b = start('B', j), a = start('A', k);
	bool a_ok = commit_in(&a);
	bool b_ok = false;
	if (j == 0)
		kill_now(&b);
	else
		b_ok = commit_in(&b);
	*a_done = a_ok;
	*b_done = b_ok;
	int outcome;
	if (fams_recover_path(AT_FDCWD, path, &outcome) < 0)
		FAIL("k=%ld j=%ld: recovery failed: %s", k, j, strerror(errno));
	struct image got = read_image();
	if (!same(&got, &before) && !same(&got, &after))
		VIOLATION("k=%ld j=%ld: file is neither the before- nor the after-image (%s)", k, j,
			  fams_recovery_name(outcome));
	if ((a_ok || b_ok) && !same(&got, &after))
		VIOLATION("k=%ld j=%ld: a commit returned success but its bytes are gone", k, j);
	(*states)++;
	free(got.bytes);
	free(before.bytes);
	free(after.bytes);
}

int main(int argc, char **argv)
{
	parse_broken(argc, argv);
	use_test_file("share_crash");
	fams_cfg.journal_size = 64 * 1024;
	fams_redo_room = 0; /* the log rolls over at the journal's size */
	fams_log_level = FAMS_LOG_ERROR; /* repairs and rollbacks are the point here */
	/* Changes go through put(), which marks them dirty, and no mapping exists: by
	 * default commits trust the dirty bits alone, as with the userfaultfd trackers
	 * (comparing every page would hide lost bits). */
	harness_tracker(FAMS_TRACKER_UFFD);
	long states = 0, ks = 0;
	/* Small commits in the redo log, then undo journals only (commit.c); then the
	 * redo log again over a new file (a log from an empty file). */
	static const char *const logs[] = { "redo", "undo", "redo, a new file" };
	for (int log = 0; log < 3; log++) {
		fams_cfg.commit_log = log == 1 ? FAMS_COMMIT_UNDO : FAMS_COMMIT_REDO;
		fresh = log == 2;
		for (long k = 1;; k++) {
			bool a_done = false, b_done = false;
			long js = 0;
			for (long j = 0;; j++) {
				trial(k, j, &a_done, &b_done, &states);
				js = j;
				if (j > 0 && (b_done || a_done))
					break; /* B's commit ran to the end (or had nothing left to do) */
				if (j > 200)
					FAIL("k=%ld: B's commit never ends", k);
			}
			printf("%s: A killed at step %2ld: B killed at %2ld steps, and not, all before- or after-image\n",
			       logs[log], k, js);
			ks = k;
			if (a_done)
				break;
		}
	}
	if (broken_name)
		return broken_not_caught();
	printf("%ld crash states over %ld steps of A's commit, 0 violations\n", states, ks);
	remove_journal();
	unlink(path);
	return 0;
}
