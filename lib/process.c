/* process.c -- the life of a process under fams: start-up, fork, exit.
 *
 * Order at fork: the prepare handler takes the registry lock (no thread is inside
 * the registry while the address space is copied) and, for each managed file, a
 * journal lock for the child (so the parent, exiting at once, cannot take itself
 * for the file's last process); the parent's handler drops those and releases the
 * lock; the child's starts a fresh lock and joins each file as a process of its own
 * (files_fork_child).  At exit every file is committed before it is left; the
 * last process to leave removes the journal (registry_shutdown). */
#include "fams.h"
#include "asynccommit.h"
#include "commitgate.h"
#include "commitlock.h"
#include "config.h"
#include "dirty.h"
#include "fdtable.h"
#include "groupcommit.h"
#include "log.h"
#include "maptable.h"
#include "member.h"
#include "process.h"
#include "registry.h"
#include "report.h"
#include "stats.h"
#include "sys.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static pid_t g_pid; /* this process, as of start-up or fork */

bool fams_same_process(void) { return fams_raw_getpid() == g_pid; }

int fams_init(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	if (pg > 0)
		fams_page_size = pg;
	fams_config_load();
	fams_report_on = fams_cfg.report[0] != '\0';
	if (fams_report_on && fams_cfg.report[0] != '/') {
		/* Relative to where the program started: it may change directory. */
		char cwd[PATH_MAX], abs[PATH_MAX];
		if (getcwd(cwd, sizeof cwd) && (size_t)snprintf(abs, sizeof abs, "%s/%s", cwd, fams_cfg.report) < sizeof abs)
			strcpy(fams_cfg.report, abs);
	}
	g_pid = fams_raw_getpid();
	return 0;
}

void fams_on_exit_now(void)
{
	/* A vfork child (or a raw clone) shares our memory: committing or retiring
	 * anything from it would act for the parent.  Only this process's own exit
	 * counts. */
	if (!fams_same_process())
		return;
	fams_shutdown();
}

void fams_before_exec(void)
{
	if (!fams_hint(fams_live) || !fams_same_process()) /* a vfork child: the parent's files */
		return;
	int saved = errno;
	registry_before_exec();
	errno = saved;
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
	fd_internal_drop(f->j.direct_fd);
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

/* For each file, a journal lock for the child (the registry lock held). */
static void files_fork_prepare(void)
{
	async_drain_all(); /* nothing queued: the child would never commit it */
	registry_quiesce(); /* no commit in flight: the child could never see it end */
	struct fams_file *files = registry_files(), *f, *tmp;
	HASH_ITER(hh, files, f, tmp) {
		f->fork_journal_fd = -1;
		if (!f->cut_off && !fams_down && f->j.fd >= 0)
			f->fork_journal_fd = fams_journal_lock_for_child(&f->j);
	}
}

/* The children's journal locks dropped again; commits may run. */
static void files_fork_parent(void)
{
	struct fams_file *files = registry_files(), *f, *tmp;
	HASH_ITER(hh, files, f, tmp) {
		if (f->fork_journal_fd >= 0)
			fams_raw_close(f->fork_journal_fd);
		f->fork_journal_fd = -1;
	}
	registry_resume();
}

/* A fresh lock, the parent's tracker dropped, and a share of every file the parent
 * managed (a tracker of its own, a member slot of its own). */
static void files_fork_child(void)
{
	registry_lock_reset();
	gate_reset(); /* closed by the thread that forked: ours alone now */
	async_fork_child();
	registry_forget_tracker();
	/* Areas under MADV_DONTFORK are not ours: the child has none there. */
	map_forget_dontfork(&fams_maps);
	map_forget_dontfork(&fams_shadows);
	if (!registry_any())
		return;
	/* The child shares every file with its parent, as a member of its own: its
	 * stores are tracked from its first one, and any commit commits them. */
	registry_start_tracker();
	struct fams_file *files = registry_files(), *f, *tmp;
	HASH_ITER(hh, files, f, tmp) {
		cq_init(&f->queue); /* its waiters and leader stayed in the parent ... */
		pthread_mutex_init(&f->bits_lock, NULL);
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

void fams_atfork_prepare(void)
{
	fams_lock();
	files_fork_prepare();
}

void fams_atfork_parent(void)
{
	files_fork_parent();
	fams_unlock();
}

void fams_atfork_child(void)
{
	g_pid = fams_raw_getpid();
	files_fork_child();
}

void fams_shutdown(void)
{
	if (!registry_shutdown())
		return;
	if (fams_cfg.stats)
		fams_stats_print();
	if (fams_report_on)
		report_write();
}
