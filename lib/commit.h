/* commit.h -- how a managed file's changes reach the data file: the commit, and
 * size changes, under the ordering rules written in commit.c, and the commit lock
 * that serializes them across every process using the file. */
#ifndef FAMS_COMMIT_H
#define FAMS_COMMIT_H

#include <stdint.h>

#include "commitlock.h"
#include "commitplan.h"
#include "file.h"

/* Atomically commit the pages in [lo, hi) written by any process using f: after
 * success they are durable in the data file; after failure the data file holds
 * its previous committed state and the pages stay dirty for a retry.  Takes the
 * commit lock.  Returns 0 or -1 with errno.  The caller first waits for this
 * process's MS_ASYNC snapshots of f (async_drain): a commit is never overtaken
 * by an older snapshot's. */
int fams_file_commit(struct fams_file *f, uint64_t lo, uint64_t hi);
/* The same in two halves, for a caller that lets other threads go on during the
 * flushes: begin takes the commit lock and collects the written pages (it reads
 * this process's mapping records: the registry lock is held; quick: msync and
 * fsync, see dirty_harvest_file_as); finish runs the protocol and releases the
 * commit lock, and needs only f's descriptors to stay. */
int fams_commit_begin(struct fams_file *f, uint64_t lo, uint64_t hi, bool quick);
int fams_commit_finish(struct fams_file *f, uint64_t lo, uint64_t hi);

/* An asynchronous commit point (asynccommit.h): copy the written pages of [lo, hi)
 * as they are now into s (commit lock taken and released; the registry lock is
 * held, as for fams_commit_begin).  -1 with errno. */
int fams_commit_snapshot(struct fams_file *f, uint64_t lo, uint64_t hi, struct fams_snapshot *s);
/* The same while this process's commit thread commits f (it holds the commit
 * lock; f->bits_lock is held here, the registry lock too): others is the file's
 * count of commits but this process's snapshots' before that commit.  -1 with
 * errno EAGAIN when pages must be compared with the data file that commit writes
 * (the caller then takes the snapshot after it). */
int fams_commit_snapshot_beside(struct fams_file *f, uint64_t lo, uint64_t hi, uint64_t others,
				struct fams_snapshot *s);
/* Commit snapshot s, as any commit, unless a commit other than this process's
 * snapshots' was made since it was taken (it took newer bytes of the same pages:
 * nothing to do).  With the commit lock held; needs only f's descriptors to stay. */
int fams_commit_apply(struct fams_file *f, const struct fams_snapshot *s);

/* Make an allocation (fallocate) durable when no commit did.  Takes the lock. */
int fams_file_flush_if_needed(struct fams_file *f);

/* The kernel is about to truncate the data file (open with O_TRUNC; f's snapshots
 * drained first, or one would regrow the file after it): retire the
 * live journal first (0 may be one of its sizes); refused (EBUSY, a fams: line)
 * while other processes use the file.  Takes the lock. */
int fams_file_before_truncate(struct fams_file *f);

/* Before exec, when no other process uses f: its commits durable in the data file
 * alone and its journal holding nothing.  The next program may not run under fams,
 * and a journal left live would be applied again (a redo log), or rolled back (an
 * undo journal), over what it writes at the next open.  Nothing while other
 * processes use the file (the last of them removes the journal).  The file stays
 * managed, should exec fail.  Takes the lock.  0, or -1 with errno. */
int fams_file_settle(struct fams_file *f);

/* The journal bytes a redo log may take before it rolls over (a checkpoint); a
 * journal preallocated larger keeps its size.  1 MiB; tests lower it to roll over
 * with few commits. */
extern uint64_t fams_redo_room;

#endif
