/* journal.h -- the journal file of a data file: where it is, creating, locking,
 * growing and invalidating it.  What it holds is jformat.h's.
 *
 * One journal per data file, named after the file's identity, not its path
 * (fams_journal_locate): a renamed file keeps its journal, and a new file created
 * under an old name never meets the journal of the file that had it. */
#ifndef FAMS_JOURNAL_H
#define FAMS_JOURNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "jformat.h"

#define FAMS_JOURNAL_SUFFIX ".fams-journal"

/* The journal's counters: every process that commits the file uses the same ones
 * (they live in its shared state, shared.h, once it has one). */
struct fams_jcounters {
	uint64_t capacity; /* bytes allocated to the journal file */
	uint64_t seq;      /* last sequence number written */
	uint32_t live;     /* FAMS_JLIVE_*: what the journal on disk may hold */
	uint32_t disk;     /* FAMS_JDISK_*: what is durable of the journal file itself */
	uint64_t live_old, live_new; /* FAMS_JLIVE_SIZES: the sizes its commit went between */
	/* The redo log (redolog.h, commit.c): the epoch its header on disk may name
	 * (0: none -- the header is an undo journal's, or zeros, for sure), and with
	 * FAMS_JLIVE_REDO, where its next record goes and that record's index. */
	uint64_t redo_epoch, redo_tail, redo_index;
	/* Where the journal's writes since this process group opened it end (redo
	 * records and undo bodies, an append that failed too): below, a direct write
	 * overwrites blocks written before; above, it would land in blocks allocated
	 * and never written, which the file system converts as it completes -- in a
	 * journal just made, 4 to 8 times a buffered write's cost with its flush. */
	uint64_t written_end;
};
enum {
	/* Its directory entry is durable: a commit may write the data file.  A journal
	 * is made without syncing its directory; the first commit that writes the
	 * journal syncs it (commit.c), so a file mapped and never changed costs none. */
	FAMS_JDISK_NAME_SYNCED = 1,
	/* What it holds on disk is known to be nothing (created here, or a header of
	 * zeros flushed): reappearing after a power cut it would be ignored, so its
	 * removal needs no directory sync. */
	FAMS_JDISK_HOLDS_NOTHING = 2,
};
enum {
	FAMS_JLIVE_NONE,    /* a header of zeros (or no journal): it names no commit */
	FAMS_JLIVE_SIZES,   /* a valid commit from live_old to live_new, finished */
	FAMS_JLIVE_UNKNOWN, /* a commit whose journal write or flush failed or never ended */
	FAMS_JLIVE_REDO,    /* a redo log of epoch redo_epoch, records durable up to redo_tail,
			     * whose bytes the data file may not hold durably yet */
};

/* A journal file we hold open and locked.
 *
 * Its lock is an OFD lock on the whole file, which the kernel drops with a killed
 * holder: each process that uses the data file (a member, member.h) holds a read
 * lock; a write lock is taken only by a process that is alone: the first one,
 * while it recovers and sets the file up (then it downgrades), one recovering a
 * file nobody uses, and the last one leaving, before it removes the journal. */
struct fams_journal {
	int fd;             /* -1: no journal (an unlinked data file cannot be recovered) */
	int dirfd;          /* directory holding it: for unlink and directory fsync */
	char dir[PATH_MAX]; /* its path, for messages */
	char name[NAME_MAX + 1];
	int direct_fd;      /* its own description in O_DIRECT mode (-1: the file system, or
			     * /proc, refused one): never switched, so that writes through
			     * fd, by any thread or forked child, are never direct */
	bool direct_ok;     /* direct_fd may be written: cleared where the file system refused a
			     * write through it (the bytes then go buffered) */
	struct fams_jcounters own; /* the counters until st points into the shared state */
	struct fams_jcounters *st;
};

/* Where a process that joins a file finds a member to reach its working copy
 * through: one entry per member slot (shared.h: FAMS_MAX_MEMBERS of them), in the
 * journal's reserved header block past the header; each member writes its own when
 * it joins (and again if its descriptors move), and whoever frees a slot clears
 * its entry.  Not part of any commit: never flushed, meaningless after a crash (a
 * joiner checks that the process is alive and that the descriptors it names are
 * the working copy and shared state of this file). */
#define FAMS_RENDEZVOUS_OFFSET 2048u
#define FAMS_RENDEZVOUS_SLOTS 64
#define FAMS_RENDEZVOUS_MAGIC 0x5a56444eu /* "NDVZ" */
struct fams_rendezvous {
	uint32_t magic;
	int32_t pid;
	int32_t wc_fd, state_fd;
	uint64_t wc_ino, state_ino;
};
_Static_assert(FAMS_RENDEZVOUS_OFFSET + FAMS_RENDEZVOUS_SLOTS * sizeof(struct fams_rendezvous) <=
		       FAMS_JOURNAL_BODY_OFFSET,
	       "the rendezvous entries fit in the journal's header block");

int fams_identity_of(int fd, struct fams_identity *id);

/* Identity of the file at path (relative to dirfd; path "": dirfd itself), without
 * opening it.  The file system id is looked up only when FAMS_JOURNAL_DIR needs it
 * (fsid = 0 otherwise).  -1 with errno (ENOENT: no such file, so no journal either;
 * EINVAL: not a regular file). */
int fams_identity_at(int dirfd, const char *path, struct fams_identity *id);

/* Journal directory and file name for a data file: the directory of data_path
 * (absolute, or relative to the caller's directory for open-time checks) and
 * ".INODE-BIRTH.fams-journal", or FAMS_JOURNAL_DIR and
 * "FSID-INODE-BIRTH.fams-journal".  Returns 0 or -1 with errno (ENAMETOOLONG). */
int fams_journal_locate(const char *data_path, const struct fams_identity *id, char *dir,
			size_t dir_cap, char *name, size_t name_cap);
/* The same as one path, "DIR/NAME". */
int fams_journal_path(const char *data_path, const struct fams_identity *id, char *out, size_t cap);

/* Open (creating if absent) and lock the journal of a data file that this process
 * will manage; *created says whether it is new, *alone whether it holds the write
 * lock (no other process uses the file: it recovers and sets the file up, then
 * fams_journal_share) or a read lock (it joins the processes that do).  An existing
 * journal taken alone may hold a commit to recover: the caller runs recovery
 * (recover.h) and then retires it, before fams_journal_ready.  Errors: EUCLEAN
 * (something that is not a journal is in the way), or the errno of the failed
 * call; a journal created here is removed again. */
int fams_journal_open_member(struct fams_journal *j, const char *data_path, const struct stat *data_st,
			     const struct fams_identity *id, bool *created, bool *alone);

/* The journal taken alone is set up: turn the write lock into a read lock, so
 * others may join (atomically: no recoverer can slip in between). */
int fams_journal_share(struct fams_journal *j);

/* Whether this process is the last one using the file: its read lock becomes the
 * write lock only when no other process holds one.  True leaves the write lock held;
 * false, no lock (the process is leaving: of members leaving at once, one is last). */
bool fams_journal_last(struct fams_journal *j);

/* Before fork: a new open file description of the journal with a read lock of its
 * own, for the child (an inherited descriptor shares the parent's description, and
 * so its lock).  Taken before the fork, it keeps the parent from taking itself for
 * the last process even if it exits before the child has run.  -1 with errno. */
int fams_journal_lock_for_child(const struct fams_journal *j);

/* In the forked child: use fd (from fams_journal_lock_for_child) as our journal
 * descriptor, closing the inherited one. */
void fams_journal_adopt(struct fams_journal *j, int fd);

/* Read all rendezvous entries (FAMS_RENDEZVOUS_SLOTS of them); write entry i. */
int fams_journal_get_rendezvous(const struct fams_journal *j, struct fams_rendezvous *r);
int fams_journal_put_rendezvous(const struct fams_journal *j, int i, const struct fams_rendezvous *r);

/* Preallocate the journal; one created here holds nothing on disk.  Its directory
 * entry is made durable by the first commit that writes it (fams_journal_sync_name). */
int fams_journal_ready(struct fams_journal *j, bool created);
/* Make the journal's directory entry durable, once: before any byte of the data
 * file may change under it.  0, or -1 with errno. */
int fams_journal_sync_name(struct fams_journal *j);

/* Give up a journal just opened: close it, and remove it if it was created. */
void fams_journal_abandon(struct fams_journal *j, bool created);

/* Lock a journal file for this open file description (an OFD write lock: it lives
 * as long as the description, and vanishes with a killed holder).  -1 with EBUSY
 * when a live process holds it (any lock: a process that uses the file holds a
 * read lock). */
int fams_journal_lock(int fd);

/* Whether name in dirfd still names the file open as fd (fstat into *st): a
 * recovering process may unlink and recreate a journal between our open and our
 * lock, and only the journal we hold may be used or removed. */
int fams_journal_names(int dirfd, const char *name, int fd, struct stat *st);

/* Whether the journal of the data file at data_path is locked by an open file
 * description other than the caller's: a live process manages the file (this
 * process too, if it manages it).  Needs no write access to the journal. */
int fams_journal_held(const char *data_path, const struct fams_identity *id);
/* The same for a journal open as fd (any open file description but a holder's). */
bool fams_journal_in_use(int fd);

/* Make sure the journal file can hold bytes; grows it up to FAMS_JOURNAL_MAX. */
int fams_journal_reserve(struct fams_journal *j, uint64_t bytes);

/* Durably mark the journal as holding nothing (zero the header, flush).  A redo
 * log's commits must be durable in the data file first (commit.c's checkpoint). */
int fams_journal_retire(struct fams_journal *j);

/* The same, if the journal on disk may still name a commit (live). */
int fams_journal_invalidate(struct fams_journal *j);

/* Release at clean shutdown: the journal is removed and, unless it holds nothing
 * on disk, its directory synced, so no stale journal can outlive the last commit. */
void fams_journal_release(struct fams_journal *j, int remove);

#endif
