/* asynccommit.h -- msync(MS_ASYNC) pipelined: the call takes a snapshot of the
 * written pages (the state the program chose) and returns; a thread of fams's
 * ("fams-commit") commits it, with the usual journal and two flushes, soon after.
 *
 * A file has at most one snapshot queued and one being committed; a later
 * MS_ASYNC replaces the queued one with a snapshot of both ranges (the later
 * bytes win: a state the program chose).  Every other commit point of the file --
 * msync(MS_SYNC), fsync, munmap, its last close, exit, fork -- first waits until
 * nothing of it is queued or being committed (async_drain), so a commit is never
 * overtaken by an older snapshot.  A snapshot's commit that fails says so with a
 * fams: line and leaves the pages dirty; the next fsync or MS_SYNC of the file
 * reports its error (as a failed writeback is reported natively). */
#ifndef FAMS_ASYNCCOMMIT_H
#define FAMS_ASYNCCOMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "snapshot.h"

struct fams_file;

/* A file's snapshots on their way (guarded by the commit thread's lock). */
struct fams_async {
	struct fams_snapshot queued;
	uint64_t lo, hi;        /* the range the queued snapshot covers */
	bool has_queued, busy;  /* one queued; one being committed */
	bool committing;        /* the thread holds f's commit lock for it ... */
	uint64_t others;        /* ... and f's commits but this process's snapshots' then */
	int err;                /* a snapshot's commit failed with it (0: none) */
	struct fams_file *next; /* in the list of files with a snapshot queued */
};

/* msync(MS_ASYNC) of [lo, hi) of f: snapshot and queue it.  The registry lock is
 * held (the snapshot collects the written pages).  -1 with errno: the caller
 * commits synchronously instead. */
int async_submit(struct fams_file *f, uint64_t lo, uint64_t hi);
/* Wait until nothing of f's is queued or being committed.  Never with the commit
 * gate closed or f's commit lock held (the commit thread needs both). */
void async_drain(struct fams_file *f);
/* The same for every file (exit, fork). */
void async_drain_all(void);
/* The error of a failed snapshot commit of f since the last call (0: none). */
int async_take_error(struct fams_file *f);
/* In a forked child: no commit thread, nothing queued. */
void async_fork_child(void);

#endif
