/* asynccommit.c -- msync(MS_ASYNC) pipelined (see asynccommit.h): the snapshot
 * queue of each file and the thread that commits them.
 *
 * Lock order: registry lock, then a file's commit lock, then its bits_lock, then
 * g_lock; the commit thread holds g_lock only to take or finish a snapshot, never
 * while it commits (it then holds the commit gate and the file's commit lock), and
 * never waits for the registry lock: it takes it only when free (close_left_open).
 * A snapshot taken beside the thread's commit holds the registry lock and the
 * file's bits_lock, never its commit lock (take_beside). */
#include "asynccommit.h"
#include "commit.h"
#include "commitgate.h"
#include "commitlock.h"
#include "dirty.h"
#include "file.h"
#include "registry.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_work = PTHREAD_COND_INITIALIZER; /* a snapshot was queued */
static pthread_cond_t g_idle = PTHREAD_COND_INITIALIZER; /* a snapshot's commit ended */
static struct fams_file *g_queue;                        /* files with a snapshot queued */
static int g_busy;                                       /* snapshots being committed */
static bool g_thread;

/* Protect again the pages f's snapshot harvest left open (dirty.c), before its
 * commit compares them with the snapshot.  Only with the registry lock free -- no
 * mapping changes meanwhile, and a thread waiting for this snapshot (async_drain)
 * holds it.  Else they stay open until the next harvest that scans their mapping
 * (its record is not quiet meanwhile). */
static void close_left_open(struct fams_file *f)
{
	if (!fams_trylock())
		return;
	if (f->left_open && fams_commit_lock(f) == 0) {
		dirty_close_left_open(f);
		fams_commit_unlock(f);
	}
	fams_unlock();
}

/* Commit snapshot s of f: 0 or an errno.  While the thread holds the commit lock
 * for it, the program's next MS_ASYNC of f may take its snapshot beside the commit
 * instead of waiting for its flushes (take_beside).  Rule: never beside a commit
 * that is not ours -- the lock is let go only after f->bits_lock is taken, with
 * `committing` lowered, so no snapshot beside it is under way then; and the
 * bitmaps change under f->bits_lock on both sides (clear_snapshot_pages). */
static int commit_snapshot(struct fams_file *f, const struct fams_snapshot *s)
{
	if (fams_commit_lock(f) < 0)
		return errno;
	pthread_mutex_lock(&g_lock);
	f->async.committing = true;
	f->async.others = f->sh->commits - f->snapshot_commits;
	pthread_mutex_unlock(&g_lock);
	int err = fams_commit_apply(f, s) < 0 ? errno : 0;
	pthread_mutex_lock(&f->bits_lock);
	pthread_mutex_lock(&g_lock);
	f->async.committing = false;
	pthread_mutex_unlock(&g_lock);
	pthread_mutex_unlock(&f->bits_lock);
	fams_commit_unlock(f);
	return err;
}

/* The commit thread: commit each queued snapshot, oldest file first. */
static void *commit_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&g_lock);
	for (;;) {
		while (!g_queue)
			pthread_cond_wait(&g_work, &g_lock);
		struct fams_file *f = g_queue;
		g_queue = f->async.next;
		struct fams_snapshot s = f->async.queued;
		f->async.queued = (struct fams_snapshot){ 0 };
		f->async.has_queued = false;
		f->async.busy = true;
		g_busy++;
		pthread_mutex_unlock(&g_lock);

		gate_enter();
		close_left_open(f);
		int err = commit_snapshot(f, &s);
		gate_leave();
		snapshot_free(&s);

		pthread_mutex_lock(&g_lock);
		if (err)
			f->async.err = err;
		f->async.busy = false; /* from here on f is not ours to touch */
		g_busy--;
		pthread_cond_broadcast(&g_idle);
	}
	return NULL;
}

/* Start the commit thread, all signals blocked (they are the program's). */
static int start_thread(void)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_t t;
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&t, NULL, commit_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		errno = r;
		return -1;
	}
	pthread_setname_np(t, "fams-commit");
	pthread_detach(t);
	g_thread = true;
	return 0;
}

/* Take the snapshot of [lo, hi) of f beside the thread's commit of f, if one is in
 * flight: without waiting for its flushes (a program's MS_ASYNC after MS_ASYNC
 * waited for each commit's flushes before).  1 taken, 0 not (no commit of f in
 * flight, or pages to compare with the data file it writes), -1 with errno. */
static int take_beside(struct fams_file *f, uint64_t lo, uint64_t hi, struct fams_snapshot *s)
{
	pthread_mutex_lock(&f->bits_lock);
	pthread_mutex_lock(&g_lock);
	bool committing = f->async.committing;
	uint64_t others = f->async.others;
	pthread_mutex_unlock(&g_lock);
	int r = 0;
	if (committing) {
		r = fams_commit_snapshot_beside(f, lo, hi, others, s) == 0 ? 1 : -1;
		if (r < 0 && errno == EAGAIN) {
			snapshot_free(s);
			r = 0;
		}
	}
	pthread_mutex_unlock(&f->bits_lock);
	return r;
}

int async_submit(struct fams_file *f, uint64_t lo, uint64_t hi)
{
	pthread_mutex_lock(&g_lock);
	int r = g_thread ? 0 : start_thread();
	bool merge = f->async.has_queued;
	if (merge) { /* the new snapshot covers the queued one's pages too */
		lo = f->async.lo < lo ? f->async.lo : lo;
		hi = f->async.hi > hi ? f->async.hi : hi;
	}
	pthread_mutex_unlock(&g_lock);
	if (r < 0)
		return -1;
	/* Taken without g_lock (it takes the commit lock, or bits_lock beside the
	 * thread's commit); only this thread, under the registry lock, replaces a
	 * queued snapshot. */
	struct fams_snapshot s = { 0 };
	int beside = take_beside(f, lo, hi, &s);
	if (beside < 0 || (beside == 0 && fams_commit_snapshot(f, lo, hi, &s) < 0)) {
		int saved = errno;
		snapshot_free(&s);
		errno = saved;
		return -1;
	}
	pthread_mutex_lock(&g_lock);
	struct fams_snapshot old = { 0 };
	if (f->async.has_queued) {
		old = f->async.queued; /* still queued: the new one replaces it */
	} else {
		f->async.has_queued = true;
		f->async.next = NULL;
		struct fams_file **tail = &g_queue;
		while (*tail)
			tail = &(*tail)->async.next;
		*tail = f;
	}
	f->async.queued = s;
	f->async.lo = lo;
	f->async.hi = hi;
	pthread_cond_signal(&g_work);
	pthread_mutex_unlock(&g_lock);
	snapshot_free(&old);
	return 0;
}

void async_drain(struct fams_file *f)
{
	pthread_mutex_lock(&g_lock);
	while (f->async.has_queued || f->async.busy)
		pthread_cond_wait(&g_idle, &g_lock);
	pthread_mutex_unlock(&g_lock);
}

void async_drain_all(void)
{
	pthread_mutex_lock(&g_lock);
	while (g_queue || g_busy)
		pthread_cond_wait(&g_idle, &g_lock);
	pthread_mutex_unlock(&g_lock);
}

int async_take_error(struct fams_file *f)
{
	pthread_mutex_lock(&g_lock);
	int err = f->async.err;
	f->async.err = 0;
	pthread_mutex_unlock(&g_lock);
	return err;
}

void async_fork_child(void)
{
	pthread_mutex_init(&g_lock, NULL);
	pthread_cond_init(&g_work, NULL);
	pthread_cond_init(&g_idle, NULL);
	g_queue = NULL; /* drained before the fork */
	g_busy = 0;
	g_thread = false;
}
