/* shared.h -- the state of a managed file that every process using it shares: its
 * size, its page bitmaps, its journal's counters, its members, and the commit lock.
 * It lives in a memfd ("fams-shared-state") that each member maps; a process joins
 * by opening a member's descriptor of it (member.h).  docs/sharing.md argues the
 * design; the ordering rules are written where they are kept (commit.c, member.c).
 *
 * Lock order, across the engine: a process's registry lock (registry.c), then one
 * file's commit lock (this mutex); never the other way round, never two commit
 * locks at once.  Registry locks are private to each process and nobody waits for
 * another process's, so the order holds across processes too.  Every field below
 * except magic, version, id and the member table's rendezvous copy is read and
 * written only with the commit lock held.
 *
 * The commit lock is a robust process-shared mutex: when its holder dies, the next
 * locker gets EOWNERDEAD and repairs (commitlock.c) before its call goes on; the
 * mutex is always marked consistent, since an unlock without that would make every
 * later lock fail (ENOTRECOVERABLE: measured, docs/sharing.md). */
#ifndef FAMS_SHARED_H
#define FAMS_SHARED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "journal.h"
#include "pagebits.h"

#define FAMS_SHARED_MAGIC 0x3144485353414d46ull /* "FAMSSHD1" */
#define FAMS_SHARED_VERSION 7u
/* Processes that can share one file at once, and mappings of it each can publish
 * for the others to scan (more mappings: see fams_member.overflow). */
#define FAMS_MAX_MEMBERS 64
#define FAMS_MEMBER_MAPS 32

/* One mapping of the working copy in a member's address space. */
struct fams_member_map {
	uint64_t start, end; /* addresses in the member, page aligned */
	uint64_t off;        /* file offset shown at start */
};

struct fams_member {
	uint64_t gen;        /* 0: a free slot; otherwise a number no other join had */
	int32_t pid;
	int32_t wc_fd;       /* its descriptors of the working copy and of this state ... */
	int32_t state_fd;
	uint32_t nmaps;
	uint64_t wc_ino;     /* ... and their inodes, which a joiner checks */
	uint64_t state_ino;
	uint64_t starttime;  /* /proc/PID/stat field 22: tells it from a later process with its pid */
	uint64_t protected_end; /* its mappings' pages below this file offset are write-protected:
				 * above it (the file grew in another process) a page the
				 * kernel calls written may be a hole, so it is compared */
	uint8_t tracked;     /* its writes are seen by a scan (userfaultfd); else compared */
	uint8_t overflow;    /* maps[] cannot be trusted -- 1: being rewritten, 2: it maps the file
			      * in more pieces than maps[] holds -- compare all it may map */
	uint8_t reports_open; /* untracked, but says when it may have written (open) */
	uint8_t open;        /* reports_open: its uffd-sync fault thread may have opened a page of
			      * this file since its last harvest of all of it (wpsync.c) */
	uint8_t pad[4];
	struct fams_member_map maps[FAMS_MEMBER_MAPS];
};

struct fams_shared {
	uint64_t magic;
	uint32_t version, page_size;
	struct fams_identity id; /* the data file: a joiner checks it is the one it opened */
	pthread_mutex_t lock;    /* the commit lock */
	uint64_t size;           /* of the working copy; the data file's follows at each commit */
	uint64_t data_size;      /* of the data file: set by commits (and an O_TRUNC open) */
	uint64_t commits;        /* successful commits of the file, by any process */
	uint64_t growths;        /* size increases of the working copy, by any process */
	struct fams_jcounters jcounters;
	uint64_t next_gen;
	uint8_t needs_flush;     /* the data file's allocation changed (fallocate) since its last flush */
	uint8_t needs_rollback;  /* a commit failed half-way and its rollback too */
	uint8_t harvesting;      /* a committer is moving written pages into the bitmaps */
	uint8_t needs_repair;    /* a holder died; its repair has not succeeded yet */
	uint8_t data_durable;    /* the data file holds on disk what it holds in the page cache
				  * (flushed since anything but a redo log changed it): a redo
				  * log may begin from it (commit.c, redo_fits) */
	uint8_t pad[3];
	struct fams_member members[FAMS_MAX_MEMBERS];
};

/* Create the shared state of a file of `size` bytes, mapped; *fd is its memfd.
 * NULL with errno. */
struct fams_shared *shared_create(int *fd, const struct fams_identity *id, uint64_t size);
/* Map the shared state open as fd (a member's, reached by a joiner) after checking
 * it is one, for the file id.  NULL with errno (EPROTO: not a state of this file). */
struct fams_shared *shared_map(int fd, const struct fams_identity *id);
void shared_unmap(struct fams_shared *sh);
/* The page bitmaps in this process's mapping of sh. */
uint64_t *shared_dirty(struct fams_shared *sh);
uint64_t *shared_suspect(struct fams_shared *sh);

/* Lock: 0, or EOWNERDEAD (held now; the caller repairs, then shared_consistent),
 * or -1 with errno (ENOTRECOVERABLE). */
int shared_lock(struct fams_shared *sh);
void shared_consistent(struct fams_shared *sh);
void shared_unlock(struct fams_shared *sh);

#endif
