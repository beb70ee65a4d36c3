/* registry.c -- the files this process manages: finding, managing, committing and
 * retiring them; and the registry lock.
 *
 * Locking: one mutex, the registry lock, protects every structure of the registry
 * (this file, fdtable.c, maptable.c, shadow.c, elsewhere.c) and every field of every
 * struct fams_file, and is held across commits.  Page faults never take it (dirty
 * tracking is done by the kernel), so writers to mapped memory never wait for a
 * commit; calls on managed descriptors do.  fork() takes it in its prepare handler
 * so a child never inherits it held.
 *
 * Lock order: the registry lock, then one file's commit lock (shared.h, taken by
 * the functions of commit.h and around every change to a file's shared state);
 * never a commit lock and then the registry lock, never two commit locks at once,
 * and nothing is called with either held that could take it again (the engine's
 * own I/O goes to the kernel, never through the wrappers).  Every commit-lock
 * holder in this process holds the registry lock too, so none is held at fork (the
 * prepare handler holds the registry lock) and none while a file is retired.
 * Other processes sharing a file take its commit lock under their own registry
 * locks, which nobody else ever waits for. */
#include "registry.h"
#include "commit.h"
#include "config.h"
#include "dirty.h"
#include "fams.h"
#include "asynccommit.h"
#include "commitgate.h"
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
#include <sys/mman.h>
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

static void forget_parents_tracker(void);

/* Open this process's tracker, if it has none yet. */
static void start_tracker(void)
{
	if (g_tracker_ready)
		return;
	fams_tracker_init();
	g_tracker_ready = true;
	int *u, *p;
	fams_tracker_fd_slots(&u, &p);
	fd_internal_add(u);
	fd_internal_add(p);
}

void fams_lock(void) { pthread_mutex_lock(&g_lock); }
void fams_unlock(void) { pthread_mutex_unlock(&g_lock); }

bool registry_any(void) { return fams_hint(g_files) != NULL; }

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
	if (fams_commit_begin(f, t->lo, t->hi) < 0) {
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
		forget_parents_tracker(); /* a child made without the fork handlers (_Fork) */
	start_tracker();
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

/* In a forked child: the tracker's descriptors act on the parent's address space
 * (a userfaultfd and a pagemap belong to the mm that opened them), so they must go
 * whatever the child inherited; a child that maps a file later opens its own. */
static void forget_parents_tracker(void)
{
	if (!g_tracker_ready)
		return;
	int *u, *p;
	fams_tracker_fd_slots(&u, &p);
	fd_internal_drop(*u);
	fd_internal_drop(*p);
	fams_tracker_forget();
	g_tracker_ready = false;
}

/* A forked child that could not join f: its mappings become private snapshots and
 * its changes are refused, so they neither reach the file nor silently diverge
 * into the parent's working copy. */
static void cut_off(struct fams_file *f)
{
	fams_error("%s: this forked child cannot share the file with its parent (%s); its mappings of it "
		   "are private snapshots and its changes are refused", f->path, strerror(errno));
	for (struct fams_map *m = fams_maps; m; m = m->next)
		if (m->f == f)
			fams_raw_mmap((void *)m->start, m->end - m->start, m->prot, MAP_PRIVATE | MAP_FIXED,
				      f->memfd, (off_t)m->off);
	f->cut_off = true;
	f->me = -1;
	for (int i = 0; i < FAMS_MAX_MEMBERS; i++)
		member_forget_pagemap(f, i);
	fd_internal_drop(f->j.fd);
	fd_internal_drop(f->j.dirfd);
	fams_journal_release(&f->j, 0);
}

/* Register and protect this process's mappings of f: a child's page tables start
 * empty and untracked (a userfaultfd belongs to the parent's address space). */
static int track_mappings(struct fams_file *f)
{
	for (struct fams_map *m = fams_maps; m; m = m->next)
		if (m->f == f && dirty_track(m, m->start, m->end) < 0)
			return -1;
	return 0;
}

void registry_fork_prepare(void)
{
	async_drain_all(); /* nothing queued: the child would never commit it */
	registry_quiesce(); /* no commit in flight: the child could never see it end */
	struct fams_file *f, *tmp;
	HASH_ITER(hh, g_files, f, tmp) {
		f->fork_journal_fd = -1;
		if (!f->cut_off && !fams_down && f->j.fd >= 0)
			f->fork_journal_fd = fams_journal_lock_for_child(&f->j);
	}
}

void registry_fork_parent(void)
{
	struct fams_file *f, *tmp;
	HASH_ITER(hh, g_files, f, tmp) {
		if (f->fork_journal_fd >= 0)
			fams_raw_close(f->fork_journal_fd);
		f->fork_journal_fd = -1;
	}
	registry_resume();
}

void registry_fork_child(void)
{
	pthread_mutex_init(&g_lock, NULL);
	gate_reset(); /* closed by the thread that forked: ours alone now */
	async_fork_child();
	forget_parents_tracker();
	if (!g_files)
		return;
	/* The child shares every file with its parent, as a member of its own: its
	 * stores are tracked from its first one, and any commit commits them. */
	start_tracker();
	struct fams_file *f, *tmp;
	HASH_ITER(hh, g_files, f, tmp) {
		cq_init(&f->queue); /* its waiters and leader stayed in the parent ... */
		f->pins = 0;        /* ... and so did the commits that pinned it */
		if (f->cut_off)
			continue;
		f->me = -1;
		int jfd = f->j.fd;
		/* Tracked under the commit lock, so that the size our protection reaches
		 * is the size of the moment (it may change before we join). */
		uint64_t tracked_to = 0;
		int tracked = -1;
		if (fams_commit_lock(f) == 0) {
			tracked_to = f->sh->size;
			tracked = track_mappings(f);
			fams_commit_unlock(f);
		}
		if (tracked < 0 || member_join_forked(f) < 0) {
			if (f->fork_journal_fd >= 0)
				fams_raw_close(f->fork_journal_fd);
			f->fork_journal_fd = -1;
			cut_off(f);
			continue;
		}
		if (f->j.fd != jfd) { /* our own description of the journal now */
			fd_internal_drop(jfd);
			fd_internal_add(&f->j.fd);
		}
		/* Our mappings are protected as of the size when they were tracked, not
		 * as of joining: a growth in between is caught up at our next harvest. */
		struct fams_member *me = &f->sh->members[f->me];
		if (me->protected_end > tracked_to)
			me->protected_end = tracked_to;
		/* Pages opened between tracking and joining, before our `open` flag was
		 * watched: raise it for them (checked after the watch began, so none is
		 * missed; only ever raised here, never lowered). */
		if (me->reports_open && dirty_any_recorded(f))
			__atomic_store_n(&me->open, 1, __ATOMIC_SEQ_CST);
	}
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

void registry_commit_all(const char *what)
{
	fams_lock();
	async_drain_all();
	/* A file other processes still use keeps its working copy, and this one's
	 * stores in it, for their next commit (as at a member's exit): a forked child
	 * that execs must not commit its parent's unsynced state. */
	if (!fams_down)
		commit_each(what, false);
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
