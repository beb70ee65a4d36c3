/* registry.c -- the files this process manages: finding, managing, committing and
 * retiring them; and the registry lock.
 *
 * Locking: one mutex, the registry lock, protects every structure of the registry
 * (this file, fdtable.c, maptable.c, shadow.c, elsewhere.c) and every field of every
 * struct fams_file but its shared state (shared.h) and its commit queue.  Page
 * faults never take it (dirty tracking is done by the kernel), so writers to
 * mapped memory never wait for a commit; calls on managed descriptors do.  fork()
 * takes it in its prepare handler so a child never inherits it held.
 *
 * Lock order: the registry lock, then the commit gate (commitgate.h), then one
 * file's commit lock (commitlock.h, taken by the functions of commit.h and around
 * every change to a file's shared state).  (registry_commit enters the gate, as a
 * reader, after taking the commit lock under the registry lock: that never waits,
 * the gate being closed only under the registry lock.)  Never two commit locks, and
 * nothing is called with any of them held that could take it again (the engine's
 * own I/O goes to the kernel, never through the wrappers).  A commit may hold the
 * gate and the commit lock without the registry lock (registry_commit during its
 * flushes, the MS_ASYNC thread): it then never waits for the registry lock, and
 * it pins its file, which is not retired while pinned.  Whoever closes or moves
 * fams's descriptors, or forks, closes the gate first (no commit in flight).
 * Other processes sharing a file take its commit lock under their own registry
 * locks, which nobody else ever waits for. */
#include "registry.h"
#include "commit.h"
#include "config.h"
#include "fams.h"
#include "asynccommit.h"
#include "commitgate.h"
#include "commitlock.h"
#include "fdtable.h"
#include "groupcommit.h"
#include "log.h"
#include "maptable.h"
#include "member.h"
#include "shadow.h"
#include "sys.h"
#include "tracker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
/* Commits flush without the registry lock (registry_commit): from before it lets
 * the lock go until it is done with the file's descriptors, each is inside the
 * commit gate (commitgate.h) and pins its file; a file is not retired while
 * pinned.  A commit takes the registry lock again only after it left the gate. */
static bool g_retire_pending; /* a file was kept from retiring by its pins */
int fams_live;
bool fams_down;
static struct fams_file *g_files; /* by (st_dev, st_ino) */
static bool g_tracker_ready;

void registry_start_tracker(void)
{
	if (g_tracker_ready)
		return;
	fams_tracker_init();
	g_tracker_ready = true;
	fd_tracker_internals(true);
}

void fams_lock(void) { pthread_mutex_lock(&g_lock); }
void fams_unlock(void) { pthread_mutex_unlock(&g_lock); }
bool fams_trylock(void) { return pthread_mutex_trylock(&g_lock) == 0; }

bool registry_any(void) { return fams_hint(g_files) != NULL; }

struct fams_file *registry_files(void) { return g_files; }

void registry_lock_reset(void) { pthread_mutex_init(&g_lock, NULL); }

ssize_t registry_leave(ssize_t r, int saved)
{
	if (g_retire_pending) {
		g_retire_pending = false;
		registry_retire_unused();
	}
	registry_publish_maps();
	fams_unlock();
	if (r >= 0)
		errno = saved;
	return r;
}

struct fams_file *registry_find_path(int dirfd, const char *path)
{
	struct stat st;
	return registry_any() && fams_raw_fstatat(dirfd, path, &st, 0) == 0 ? registry_find(st.st_dev, st.st_ino)
									      : NULL;
}

struct fams_file *registry_find(dev_t dev, ino_t ino)
{
	struct fams_file_key key;
	memset(&key, 0, sizeof key);
	key.dev = dev;
	key.ino = ino;
	struct fams_file *f = NULL;
	HASH_FIND(hh, g_files, &key, sizeof key, f);
	return f;
}

int registry_refuse_cut_off(struct fams_file *f, const char *what)
{
	fams_error("%s: %s in a forked child that could not share the file with its parent is refused: "
		   "the child's changes would silently diverge from the parent's; nothing was written",
		   f->path, what);
	errno = EPERM;
	return -1;
}

/* Commit the batch t leads (registry_commit): collect under the registry lock,
 * then the journal, the data and their flushes without it.  0 or an errno. */
static int lead_batch(struct fams_file *f, const struct cq_ticket *t)
{
	fams_lock();
	if (fams_down) { /* the exit commit took every store made before it */
		fams_unlock();
		return 0;
	}
	/* Never overtaken by an older snapshot's commit (asynccommit.h); none can be
	 * queued while we hold the registry lock. */
	if (fams_test_break != FAMS_BREAK_SNAPSHOT_OVERTAKES)
		async_drain(f);
	if (fams_commit_begin(f, t->lo, t->hi, true) < 0) {
		int err = errno;
		fams_unlock();
		return err;
	}
	gate_enter();
	fams_unlock();
	int err = fams_commit_finish(f, t->lo, t->hi) < 0 ? errno : 0;
	gate_leave();
	return err;
}

int registry_commit(struct fams_file *f, uint64_t lo, uint64_t hi, const char *what)
{
	if (f->cut_off)
		return registry_refuse_cut_off(f, what);
	/* Without the registry lock from here: other threads' calls, and their
	 * commits of other files, go on during our flushes; their commits of this
	 * file join the next batch (groupcommit.h), committed once for all of them. */
	f->pins++;
	fams_unlock();
	int err;
	for (;;) {
		struct cq_ticket t;
		if (cq_join(&f->queue, lo, hi, &t)) {
			err = lead_batch(f, &t);
			cq_led(&f->queue, &t, err);
			break;
		}
		if ((err = cq_outcome(&f->queue, &t)) >= 0)
			break; /* else its outcome is lost: ask again */
	}
	fams_lock();
	f->pins--;
	if (!err)
		err = async_take_error(f); /* an MS_ASYNC commit failed since: as a failed writeback */
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

void registry_quiesce(void) { gate_close(); }
void registry_resume(void) { gate_open(); }

void registry_publish_maps(void)
{
	int saved = errno;
	struct fams_file *f, *tmp;
	HASH_ITER(hh, g_files, f, tmp) {
		if (!f->maps_changed || f->cut_off || fams_down || fams_commit_lock(f) < 0)
			continue;
		member_publish_maps(f);
		f->maps_changed = false;
		fams_commit_unlock(f);
	}
	errno = saved;
}

void registry_fds_moved(void)
{
	struct fams_file *f, *tmp;
	HASH_ITER(hh, g_files, f, tmp) {
		if (f->cut_off || fams_down || fams_commit_lock(f) < 0)
			continue;
		member_publish_fds(f);
		fams_commit_unlock(f);
	}
}

static void retire(struct fams_file *f)
{
	async_drain(f); /* its snapshots' commit uses its descriptors */
	if (!f->cut_off && !fams_down) {
		if (fams_file_commit(f, 0, UINT64_MAX) < 0) {
			fams_error("%s: its last mapping and descriptor are gone but its changes could not be "
				   "committed (%s); kept for the next fsync or exit", f->path, strerror(errno));
			return;
		}
	}
	fd_forget_file(f);
	fd_file_internals(f, false);
	HASH_DEL(g_files, f);
	fams_debug("no longer managing %s", f->path);
	fams_file_close(f, !f->cut_off);
}

/* Stop managing the files this process neither maps nor has a descriptor of.
 * Not at the last munmap alone: a program that unmaps and maps again to grow the
 * file (tdb does) keeps reading and writing through its descriptor meanwhile: were
 * the file retired in between, those reads and writes would go to the data file,
 * around the working copy the other processes sharing it still use. */
void registry_retire_unused(void)
{
	struct fams_file *f, *tmp;
	HASH_ITER(hh, g_files, f, tmp) {
		if (f->nmaps != 0 || f->nfds != 0)
			continue;
		if (f->pins)
			g_retire_pending = true; /* registry_leave retires it once its commits end */
		else
			retire(f);
	}
}

void registry_commit_dropped(uintptr_t s, uintptr_t e, const char *what)
{
	if (fams_down)
		return; /* after the exit commit: see registry_shutdown */
	for (struct fams_map *m = fams_maps; m; m = m->next) {
		if (!map_overlaps(m, s, e) || m->f->cut_off)
			continue;
		uintptr_t a = m->start > s ? m->start : s, b = m->end < e ? m->end : e;
		uint64_t lo = m->off + (a - m->start), hi = m->off + (b - m->start);
		async_drain(m->f);
		if (fams_file_commit(m->f, lo, hi) < 0)
			fams_error("%s: %s could not commit its changes (%s); they are kept and committed "
				   "at the next msync, fsync or exit", m->f->path, what, strerror(errno));
	}
}

bool fs_is_persistent(int fd)
{
	struct statfs sf;
	if (fams_raw_fstatfs(fd, &sf) < 0)
		return false;
	switch ((unsigned long)sf.f_type) {
	case TMPFS_MAGIC:
	case RAMFS_MAGIC:
	case PROC_SUPER_MAGIC:
	case SYSFS_MAGIC:
	case HUGETLBFS_MAGIC:
	case DEVPTS_SUPER_MAGIC:
	case 0x42494e4d: /* binfmt_misc */
	case 0x64626720: /* debugfs */
	case 0xcafe4a11: /* bpf */
		return false;
	}
	return true;
}

struct fams_file *registry_manage(int fd, const struct stat *st)
{
	char path[PATH_MAX];
	if (fams_fd_path(fd, path, sizeof path) < 0)
		return NULL;
	if (!fams_path_selected(path)) {
		errno = 0;
		return NULL;
	}
	char *deleted = strstr(path, " (deleted)");
	if (st->st_nlink == 0 && deleted && deleted[10] == '\0')
		*deleted = '\0';
	if (g_tracker_ready && !fams_tracker_owned())
		registry_forget_tracker(); /* a child made without the fork handlers (_Fork) */
	registry_start_tracker();
	struct fams_file *f = fams_file_open(fd, st, path);
	if (!f)
		return NULL;
	HASH_ADD(hh, g_files, key, sizeof f->key, f);
	fd_file_internals(f, true);
	fd_adopt_all(f);
	shadow_adopt(f);
	registry_publish_maps(); /* the shadows it took over are mappings of it now */
	__atomic_store_n(&fams_live, 1, __ATOMIC_RELEASE);
	return f;
}

void registry_forget_tracker(void)
{
	if (!g_tracker_ready)
		return;
	fd_tracker_internals(false);
	fams_tracker_forget();
	g_tracker_ready = false;
}

/* Commit every file of this process (but for the ones other processes still use,
 * unless shared_too) at `what`, reporting each failure.  The registry lock is held
 * and the MS_ASYNC snapshots drained. */
static void commit_each(const char *what, bool shared_too)
{
	struct fams_file *f, *tmp;
	HASH_ITER(hh, g_files, f, tmp)
		if (!f->cut_off && (shared_too || !member_others(f)) && fams_file_commit(f, 0, UINT64_MAX) < 0)
			fams_error("%s: changes made since the last commit could not be committed at %s (%s); "
				   "the file keeps its last committed state", f->path, what, strerror(errno));
}

/* The member slots of processes gone (dead, or a forked child that ran another
 * program) freed in every file: such a slot must not keep this exec from
 * committing and settling a file no live process shares. */
static void sweep_each(void)
{
	struct fams_file *f, *tmp;
	HASH_ITER(hh, g_files, f, tmp) {
		if (f->cut_off || fams_commit_lock(f) < 0)
			continue;
		member_sweep(f);
		fams_commit_unlock(f);
	}
}

/* Before exec: every file no other process uses left with a journal that holds
 * nothing (fams_file_settle). */
static void settle_each(void)
{
	struct fams_file *f, *tmp;
	HASH_ITER(hh, g_files, f, tmp)
		if (!f->cut_off && fams_file_settle(f) < 0)
			fams_error("%s: making its commits durable before exec failed (%s); its journal keeps "
				   "them, and the next open under fams applies them again over any change made "
				   "after", f->path, strerror(errno));
}

void registry_before_exec(void)
{
	fams_lock();
	async_drain_all();
	/* A file other processes still use keeps its working copy, and this one's
	 * stores in it, for their next commit (as at a member's exit): a forked child
	 * that execs must not commit its parent's unsynced state. */
	if (!fams_down) {
		sweep_each();
		commit_each("exec", false);
		settle_each();
	}
	fams_unlock();
}

bool registry_shutdown(void)
{
	fams_lock();
	if (fams_down) {
		fams_unlock();
		return false;
	}
	async_drain_all(); /* exit waits for what MS_ASYNC queued */
	registry_quiesce(); /* the journals close below: no commit may be using them */
	commit_each("exit", true);
	/* From now on nothing is committed: a later msync or munmap (another exit
	 * handler's) would find no journal to make it atomic. */
	fams_down = true;
	/* Descriptors write to the file directly from now on. */
	fd_forget_all();
	/* Mappings stay (the process is going away), and so do the records they point
	 * to; the last process of each file removes its journal, so none outlives the
	 * last commit. */
	struct fams_file *f, *tmp;
	HASH_ITER(hh, g_files, f, tmp) {
		HASH_DEL(g_files, f);
		fams_file_leave(f, !f->cut_off);
	}
	registry_resume();
	fams_unlock();
	return true;
}
