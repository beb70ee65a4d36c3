/* journal.h -- the on-disk undo journal: format, location, locking, validation.
 *
 * One journal per data file, named after the file's identity, not its path
 * (fams_journal_locate): a renamed file keeps its journal, and a new file created
 * under an old name never meets the journal of the file that had it.
 *
 * Layout (little-endian):
 *
 *   offset 0     struct fams_jheader            (a 4096-byte block is reserved)
 *   offset 4096  body: struct fams_jextent[nextents], then the old bytes of each
 *                extent, in extent order, unpadded
 *
 * The header names the data file (filesystem id + inode + birth) and its size when the
 * commit began, and carries a hash of the body and of itself.  Each extent records
 * where its bytes live in the data file and a hash of the bytes the commit writes
 * there (new_hash): recovery compares the data file with new_hash to tell a
 * finished commit (leave it) from an interrupted one (roll it back), so finishing a
 * commit needs no write to the journal and no third flush.
 *
 * A journal whose header or body does not validate was being written when a crash
 * came: by the ordering rule in file.c, no byte of the data file had changed under
 * it, so it is discarded, never applied. */
#ifndef FAMS_JOURNAL_H
#define FAMS_JOURNAL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define FAMS_JOURNAL_MAGIC "FAMSJRN1"
#define FAMS_JOURNAL_VERSION 2u
#define FAMS_JOURNAL_BODY_OFFSET 4096u
#define FAMS_JOURNAL_SUFFIX ".fams-journal"

struct fams_jheader {
	char magic[8];        /* FAMS_JOURNAL_MAGIC; all zero when invalidated */
	uint32_t version;
	uint32_t page_size;
	uint64_t seq;         /* commit number within this journal's life */
	uint64_t fsid;        /* identity of the data file: filesystem id ... */
	uint64_t ino;         /* ... inode number ... */
	uint64_t birth;       /* ... and birth (see struct fams_identity) */
	uint64_t data_size;   /* data file size when the commit began */
	uint64_t nextents;
	uint64_t body_len;    /* bytes of body following FAMS_JOURNAL_BODY_OFFSET */
	uint64_t body_hash;   /* XXH3-64 of the body, seeded with seq */
	uint64_t header_hash; /* XXH3-64 of this header with header_hash = 0 */
};

struct fams_jextent {
	uint64_t off;      /* byte offset in the data file (page aligned) */
	uint64_t len;      /* bytes; never past data_size */
	uint64_t new_hash; /* XXH3-64 of the bytes this commit writes there */
	uint64_t reserved;
};

/* Identity of a data file, as recorded in its journal and spelled in its name.
 * The birth tells a file from a later one that reuses its inode number. */
struct fams_identity {
	uint64_t fsid;
	uint64_t ino;
	uint64_t birth; /* birth time in ns since the epoch (statx STATX_BTIME); where the
			 * file system keeps none, the inode's generation number; else 0 */
};

/* A journal file we hold open and locked. */
struct fams_journal {
	int fd;             /* -1: no journal (an unlinked data file cannot be recovered) */
	int dirfd;          /* directory holding it: for unlink and directory fsync */
	char name[NAME_MAX + 1];
	uint64_t capacity;  /* bytes allocated to the journal file */
	uint64_t seq;       /* last sequence number written */
	uint64_t live_end;  /* end of the highest data range named by the journal on disk */
};

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

/* Open (creating if absent) and lock the journal of a data file that this process
 * will manage.  Runs recovery on whatever journal was there first, so on return
 * the data file holds its last committed state and the journal holds nothing live.
 * Errors: EBUSY (another process manages the file), EUCLEAN (a foreign or
 * unusable journal is in the way), or the errno of the failed call. */
int fams_journal_acquire(struct fams_journal *j, const char *data_path, int data_fd,
			 const struct stat *data_st, const struct fams_identity *id);

/* Whether the journal of the data file at data_path is locked by an open file
 * description other than the caller's: a live process manages the file (this
 * process too, if it manages it).  Needs no write access to the journal. */
int fams_journal_held(const char *data_path, const struct fams_identity *id);

/* Make sure the journal file can hold bytes; grows it up to FAMS_JOURNAL_MAX. */
int fams_journal_reserve(struct fams_journal *j, uint64_t bytes);

/* Durably mark the journal as holding nothing (zero the header, flush). */
int fams_journal_invalidate(struct fams_journal *j);

/* Release at clean shutdown: the journal is removed and its directory synced, so
 * no stale journal can outlive the last commit. */
void fams_journal_release(struct fams_journal *j, int remove);

/* Hash helpers shared by commit and recovery. */
uint64_t fams_header_hash(const struct fams_jheader *h);

#endif
