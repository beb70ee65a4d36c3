/* member.c -- the processes that share a managed file: the first one, joining,
 * leaving, publishing where each maps the file, and dead members.
 *
 * How a process finds the others: the journal's rendezvous entries (journal.h)
 * name live members' pids and their descriptor numbers of the working copy and the
 * shared state; a joiner opens /proc/PID/fd/N for both.  The kernel lets it do so
 * only when it may read that process's memory (same user and dumpable, or
 * CAP_SYS_PTRACE): exactly the processes that could see the working copy anyway.
 * The joiner checks the inodes against the entry and the state's identity against
 * the file it opened, so a stale entry (a dead member whose pid was reused) is
 * never followed.
 *
 * Rules kept here (each under the commit lock, held by this process -- or by its
 * commit thread, for an MS_ASYNC snapshot taken beside its commit, asynccommit.c):
 *   - a member's slot and its published mappings change only with the lock held, so
 *     a committer scanning the members sees each one whole;
 *   - a mapping is published after it is tracked and before the program can store
 *     into it, and withdrawn after it is gone from the kernel: a committer may scan
 *     a range the member no longer maps (the scan finds nothing, or fails and the
 *     range is compared), never miss one it maps;
 *   - a dead member's mappings become suspect before its slot is freed: its stores
 *     are in the working copy, and only comparing can find the ones no scan
 *     reported. */
#include "member.h"
#include "commitlock.h"
#include "fdtable.h"
#include "log.h"
#include "maptable.h"
#include "sys.h"
#include "tracker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Field 22 of /proc/PID/stat (start time in clock ticks): with the pid, names one
 * process for the life of the system.  0 when it cannot be read. */
static uint64_t starttime_of(pid_t pid)
{
	int fd = fams_proc_open(pid, "stat", O_RDONLY);
	if (fd < 0)
		return 0;
	char buf[1024];
	ssize_t n = fams_raw_read(fd, buf, sizeof buf - 1);
	fams_raw_close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces and ')' */
	if (!p)
		return 0;
	/* After ") " come fields 3, 4, ...: skip to field 22. */
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* Whether process pid still holds descriptor n on the inode ino (an exec closes
 * fams's descriptors: they are close-on-exec). */
static bool holds(pid_t pid, int n, uint64_t ino)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, n);
	return fams_raw_fstatat(AT_FDCWD, path, &st, 0) == 0 && (uint64_t)st.st_ino == ino;
}

bool member_alive(struct fams_file *f, int i)
{
	const struct fams_member *m = &f->sh->members[i];
	/* The same process (its pid's start time), still the program that joined (it
	 * holds the shared state: it did not exec). */
	return m->gen && starttime_of(m->pid) == m->starttime && holds(m->pid, m->state_fd, m->state_ino);
}

void member_forget_pagemap(struct fams_file *f, int i)
{
	if (f->peer_pagemap[i] < 0)
		return;
	fd_internal_drop(f->peer_pagemap[i]);
	fams_raw_close(f->peer_pagemap[i]);
	f->peer_pagemap[i] = -1;
}

int member_pagemap(struct fams_file *f, int i)
{
	const struct fams_member *m = &f->sh->members[i];
	if (f->peer_pagemap[i] >= 0 && f->peer_gen[i] == m->gen)
		return f->peer_pagemap[i]; /* kept: a pagemap outlives no process (ESRCH after) */
	member_forget_pagemap(f, i);
	int fd = fams_proc_open(m->pid, "pagemap", O_RDONLY);
	if (fd < 0) {
		if (errno == ENOENT)
			errno = ESRCH;
		return -1;
	}
	/* Opened before the check: if the pid was reused after the member died, or the
	 * member exec'd, the check fails; if it dies or execs after the open, the scan
	 * fails with ESRCH (the pagemap is of the address space it had). */
	if (!member_alive(f, i)) {
		fams_raw_close(fd);
		errno = ESRCH;
		return -1;
	}
	f->peer_pagemap[i] = fd;
	f->peer_gen[i] = m->gen;
	fd_internal_add(&f->peer_pagemap[i]);
	return fd;
}

/* Write slot i's rendezvous entry from the member table (zeros for a free slot). */
static void publish_rendezvous(struct fams_file *f, int i)
{
	if (f->j.fd < 0)
		return;
	const struct fams_member *m = &f->sh->members[i];
	struct fams_rendezvous r = { 0 };
	if (m->gen)
		r = (struct fams_rendezvous){ FAMS_RENDEZVOUS_MAGIC, m->pid, m->wc_fd, m->state_fd, m->wc_ino,
					      m->state_ino };
	fams_journal_put_rendezvous(&f->j, i, &r);
}

static uint64_t inode_of(int fd)
{
	struct stat st;
	return fams_raw_fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Take a free slot for this process (sweeping dead members if none is free).  The
 * commit lock is held.  -1 with EUSERS when all are taken by live processes. */
static int take_slot(struct fams_file *f)
{
	struct fams_shared *sh = f->sh;
	int slot = -1;
	for (int i = 0; i < FAMS_MAX_MEMBERS && slot < 0; i++)
		if (!sh->members[i].gen)
			slot = i;
	for (int i = 0; i < FAMS_MAX_MEMBERS && slot < 0; i++) {
		if (!member_alive(f, i)) {
			member_gone(f, i);
			slot = i;
		}
	}
	if (slot < 0) {
		errno = EUSERS;
		return -1;
	}
	pid_t pid = fams_raw_getpid();
	struct fams_member *m = &sh->members[slot];
	memset(m, 0, sizeof *m);
	m->pid = pid;
	m->wc_fd = f->memfd;
	m->state_fd = f->state_fd;
	m->wc_ino = inode_of(f->memfd);
	m->state_ino = inode_of(f->state_fd);
	m->starttime = starttime_of(pid);
	/* It maps nothing yet: every mapping it makes is protected up to the size of
	 * the moment (dirty_track). */
	m->protected_end = sh->size;
	/* Others can read its written pages from its page tables only where the kernel
	 * keeps them there (the asynchronous tracker); the synchronous tracker's
	 * record is in its own memory, so the others compare what it maps. */
	m->tracked = fams_tracker_kind == FAMS_TRACKER_UFFD;
	/* The synchronous tracker's thread raises `open` before it opens any page, so
	 * the others compare what it maps only while it has stores not yet harvested.
	 * (A forked child's pages opened before this are raised by registry.c.) */
	if (fams_tracker_kind == FAMS_TRACKER_UFFD_SYNC && fams_tracker_watch(&m->open) == 0)
		m->reports_open = 1;
	m->gen = sh->next_gen++;
	f->me = slot;
	publish_rendezvous(f, slot);
	return 0;
}

/* Take a slot under the commit lock; a fams: line when there is none. */
static int become_member(struct fams_file *f)
{
	if (fams_commit_lock(f) < 0)
		return -1;
	int r = take_slot(f);
	if (r == 0)
		member_publish_maps(f);
	fams_commit_unlock(f);
	if (r < 0)
		fams_error("%s: already used by %d processes under fams, the most that can share a file; "
			   "refused (EUSERS)", f->path, FAMS_MAX_MEMBERS);
	return r;
}

int member_found(struct fams_file *f) { return become_member(f); }

/* Open descriptor n of process pid (the working copy or the state) and check that
 * it is the inode the entry names. */
static int open_peer_fd(pid_t pid, int n, uint64_t ino)
{
	char what[32];
	snprintf(what, sizeof what, "fd/%d", n);
	int fd = fams_proc_open(pid, what, O_RDWR);
	if (fd < 0)
		return -1;
	if (inode_of(fd) != ino) {
		fams_raw_close(fd);
		errno = ESTALE;
		return -1;
	}
	return fd;
}

/* Reach the working copy and state through rendezvous entry r.  0, or -1 with errno. */
static int reach(struct fams_file *f, const struct fams_rendezvous *r)
{
	int wc = open_peer_fd(r->pid, r->wc_fd, r->wc_ino);
	if (wc < 0)
		return -1;
	int st = open_peer_fd(r->pid, r->state_fd, r->state_ino);
	struct fams_shared *sh = st >= 0 ? shared_map(st, &f->id) : NULL;
	if (!sh) {
		int saved = errno;
		fams_raw_close(wc);
		if (st >= 0)
			fams_raw_close(st);
		errno = saved;
		return -1;
	}
	f->memfd = wc;
	f->state_fd = st;
	f->sh = sh;
	f->dirty = shared_dirty(sh);
	f->suspect = shared_suspect(sh);
	f->j.st = &sh->jcounters;
	return 0;
}

int member_join(struct fams_file *f)
{
	struct fams_rendezvous r[FAMS_RENDEZVOUS_SLOTS];
	if (fams_journal_get_rendezvous(&f->j, r) < 0)
		return -1;
	pid_t self = fams_raw_getpid();
	int refused = 0;
	for (int i = 0; i < FAMS_RENDEZVOUS_SLOTS; i++) {
		if (r[i].magic != FAMS_RENDEZVOUS_MAGIC || r[i].pid <= 0 || r[i].pid == self)
			continue;
		if (reach(f, &r[i]) == 0)
			return become_member(f);
		if (errno == EACCES || errno == EPERM)
			refused = errno;
	}
	if (refused) {
		fams_error("%s: used by a process under fams that this one may not share it with (another "
			   "user, or a process that cannot be inspected): refused (EACCES)", f->path);
		errno = EACCES;
		return -1;
	}
	errno = EAGAIN;
	return -1;
}

int member_join_forked(struct fams_file *f)
{
	if (f->j.fd >= 0) {
		if (f->fork_journal_fd < 0)
			return -1; /* errno from fams_journal_lock_for_child, before the fork */
		fams_journal_adopt(&f->j, f->fork_journal_fd);
		f->fork_journal_fd = -1;
	}
	return become_member(f);
}

void member_sweep(struct fams_file *f)
{
	for (int i = 0; i < FAMS_MAX_MEMBERS; i++)
		if (i != f->me && f->sh->members[i].gen && !member_alive(f, i))
			member_gone(f, i);
}

bool member_others(const struct fams_file *f)
{
	for (int i = 0; i < FAMS_MAX_MEMBERS; i++)
		if (i != f->me && f->sh->members[i].gen)
			return true;
	return false;
}

void member_leave(struct fams_file *f)
{
	for (int i = 0; i < FAMS_MAX_MEMBERS; i++)
		member_forget_pagemap(f, i);
	if (f->me < 0 || fams_commit_lock(f) < 0)
		return;
	int me = f->me;
	fams_tracker_unwatch(&f->sh->members[me].open); /* before the slot is reused or unmapped */
	memset(&f->sh->members[me], 0, sizeof f->sh->members[me]);
	f->me = -1;
	publish_rendezvous(f, me);
	fams_commit_unlock(f);
}

static int by_start(const void *a, const void *b)
{
	const struct fams_member_map *x = a, *y = b;
	return (x->start > y->start) - (x->start < y->start);
}

void member_publish_maps(struct fams_file *f)
{
	if (f->me < 0)
		return;
	struct fams_member *me = &f->sh->members[f->me];
	/* Rule: a member killed half-way through this rewrite must not leave a range
	 * unnamed: while it lasts the slot says "compare everything" (overflow). */
	uint8_t before = me->overflow;
	me->overflow = 1;
	uint32_t n = 0;
	bool overflow = false;
	for (struct fams_map *m = fams_maps; m && !overflow; m = m->next) {
		if (m->f != f)
			continue;
		if (n == FAMS_MEMBER_MAPS) {
			/* Full: sort and merge what we have to make room. */
			qsort(me->maps, n, sizeof me->maps[0], by_start);
			uint32_t k = 0;
			for (uint32_t i = 0; i < n; i++) {
				struct fams_member_map *last = k ? &me->maps[k - 1] : NULL;
				if (last && last->end == me->maps[i].start &&
				    last->off + (last->end - last->start) == me->maps[i].off)
					last->end = me->maps[i].end; /* continues it in memory and in the file */
				else
					me->maps[k++] = me->maps[i];
			}
			n = k;
			overflow = n == FAMS_MEMBER_MAPS;
			if (overflow)
				break;
		}
		me->maps[n++] = (struct fams_member_map){ m->start, m->end, m->off };
	}
	me->nmaps = n;
	if (overflow && before != 2)
		fams_info("%s: mapped in more than %d pieces in one process; commits by other processes compare "
			  "the whole file", f->path, FAMS_MEMBER_MAPS);
	__atomic_store_n(&me->overflow, overflow ? 2 : 0, __ATOMIC_RELEASE);
}

void member_publish_fds(struct fams_file *f)
{
	if (f->me < 0)
		return;
	struct fams_member *me = &f->sh->members[f->me];
	me->wc_fd = f->memfd;
	me->state_fd = f->state_fd;
	publish_rendezvous(f, f->me);
}

void member_suspect(struct fams_file *f, int i, uint64_t lo, uint64_t hi)
{
	const struct fams_member *m = &f->sh->members[i];
	if (hi > f->sh->size)
		hi = f->sh->size;
	if (m->overflow) { /* its list cannot be trusted: all of [lo, hi) */
		if (lo < hi)
			bits_mark_bytes(f->suspect, lo, hi - lo);
		return;
	}
	for (uint32_t k = 0; k < m->nmaps; k++) {
		uint64_t a = m->maps[k].off, b = a + (m->maps[k].end - m->maps[k].start);
		a = a > lo ? a : lo;
		b = b < hi ? b : hi;
		if (a < b)
			bits_mark_bytes(f->suspect, a, b - a);
	}
}

void member_gone(struct fams_file *f, int i)
{
	struct fams_member *m = &f->sh->members[i];
	member_suspect(f, i, 0, UINT64_MAX);
	fams_debug("%s: process %d, which shared it, is gone; its pages are compared at the next commit",
		   f->path, (int)m->pid);
	member_forget_pagemap(f, i);
	memset(m, 0, sizeof *m);
	publish_rendezvous(f, i);
}
