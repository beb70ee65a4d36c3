/* file.h -- one managed data file: its working copy, dirty pages and journal.  Its
 * commit and size changes are commit.h's, the processes sharing it member.h's. */
#ifndef FAMS_FILE_H
#define FAMS_FILE_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <uthash.h>

#include "asynccommit.h"
#include "groupcommit.h"
#include "journal.h"
#include "shared.h"

struct fams_file_key {
	dev_t dev;
	ino_t ino;
};

/* One managed file, as this process holds it.  What every process using the file
 * shares (size, bitmaps, journal counters, members, the commit lock) is *sh
 * (shared.h), guarded by the commit lock (commit.h); what this process knows of
 * the file -- its descriptors and mappings (nmaps, nfds), its place in the
 * registry -- by the registry lock (registry.c). */
struct fams_file {
	struct fams_file_key key; /* st_dev/st_ino as the program sees them */
	struct fams_identity id;  /* fsid/inode, as recorded in the journal */
	char path[PATH_MAX];
	int data_fd;              /* our own O_RDWR description of the data file ... */
	bool data_fd_shared;      /* ... or a duplicate of the program's, sharing its file
				   * offset and flags (the file could not be opened again):
				   * never seeked, and written only while it does not append */
	int memfd;                /* the working copy: one memory object per file, shared */
	int state_fd;             /* the shared state's memfd */
	struct fams_shared *sh;
	uint64_t *dirty;          /* in sh: pages written and not yet committed */
	uint64_t *suspect;        /* in sh: pages whose tracking was interrupted: compare at commit */
	int me;                   /* our slot in sh->members; -1 while not a member */
	int peer_pagemap[FAMS_MAX_MEMBERS]; /* the others' pagemaps we opened (-1: none) ... */
	uint64_t peer_gen[FAMS_MAX_MEMBERS]; /* ... for the member of this join number */
	struct fams_journal j;
	int nmaps;                /* mappings of the working copy in this process */
	int nfds;                 /* program descriptors of the file in this process */
	bool maps_changed;        /* its mappings changed since they were last published */
	int fork_journal_fd;      /* during fork: the child's own journal description, read-locked
				   * before the fork so the parent can never think itself the last */
	int pins;                 /* commits in flight without the registry lock (registry.c):
				   * the file is not retired until they end */
	struct commit_queue queue; /* this process's threads committing it (groupcommit.h) */
	uint64_t snapshot_commits; /* of sh->commits, those of this process's snapshots (commit lock) */
	uint64_t growths_seen;    /* sh->growths as this process's mappings last took them in (dirty.c) */
	char *plan_buf;           /* room for a commit's new and old bytes, kept (commitplan.c) */
	size_t plan_cap;
	char *jchunk;             /* FAMS_IO_CHUNK bytes, aligned, for writing the journal (commit.c) */
	struct fams_async async;  /* its snapshots waiting to be committed (asynccommit.h) */
	bool left_open;           /* an MS_ASYNC harvest left written pages unprotected
				   * (dirty_collect_leaving_open; registry lock, and the commit lock
				   * held by this process or its commit thread, see bits_lock) */
	pthread_mutex_t bits_lock; /* its bitmaps, between a snapshot taken beside this
				   * process's commit in flight and that commit (asynccommit.c) */
	bool unlinked;            /* no name: nothing to recover after a crash, no journal */
	bool cut_off;             /* a forked child that could not join: its mappings are
				   * private snapshots and its changes are refused */
	UT_hash_handle hh;
};

/* Start managing the regular file open as fd (st from fstat, path absolute): if
 * no other process uses it, acquire and recover its journal and fill a working
 * copy with its contents; otherwise join the processes that do (member.h).
 * Returns NULL with errno on failure, with a "fams:" message. */
struct fams_file *fams_file_open(int fd, const struct stat *st, const char *path);

/* Whether the bitmaps can describe a file of size bytes (EFBIG otherwise). */
int fams_file_fits(const struct fams_file *f, uint64_t size);

/* 0 when data_fd writes where it is told; -1 with EIO (and a fams: line) where it
 * is the program's description and the program has made it append since. */
int fams_file_data_writable(const struct fams_file *f);

/* lseek(data_fd, pos, whence) for SEEK_DATA or SEEK_HOLE, where data_fd is our own
 * description; -1 with EINVAL, as where the file system has no SEEK_DATA, where it
 * shares the program's file offset (a seek would move the program's next write). */
off_t fams_file_seek_data(const struct fams_file *f, off_t pos, int whence);

/* Leave the file's processes; the last one to leave removes the journal when
 * asked (clean exit).  The working copy stays, for mappings that outlive this. */
void fams_file_leave(struct fams_file *f, int remove_journal);
/* Stop managing: leave, then close everything and free f. */
void fams_file_close(struct fams_file *f, int remove_journal);

/* Change the size of the working copy; the data file takes it at the next commit.
 * Pages a growth brings inside are protected in this process's mappings, and
 * pages it brings back after a shrink no commit took yet become dirty (the data
 * file still holds their old bytes).  Every size change of a managed file goes
 * through here.  The commit lock is held. */
int fams_file_resize(struct fams_file *f, uint64_t new_size);

#endif
