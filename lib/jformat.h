/* jformat.h -- the undo journal's on-disk format: what it holds, its writer, its reader.
 *
 * Layout (little-endian):
 *
 *   offset 0     struct fams_jheader            (a 4096-byte block is reserved)
 *   offset 4096  body: struct fams_jextent[nextents], then the old bytes of each
 *                extent that lie inside old_size (the undo image), in extent
 *                order, unpadded
 *
 * The header names the data file (filesystem id + inode + birth), its size before
 * the commit (old_size) and the size the commit gives it (new_size), and carries a
 * hash of the body and of itself.  An extent is either written by the commit --
 * inside new_size, with a hash of the bytes written there (new_hash) and, as undo,
 * its old bytes below old_size (a part in a growth has none: cutting the file back
 * to old_size undoes it) -- or cut off by it (FAMS_JEXT_CUT: inside [new_size,
 * old_size), only its old bytes, and only where the old file held data: a hole
 * comes back as zeros when the file regrows).  Recovery compares the data file
 * with new_hash and new_size to tell a finished commit (leave it) from an
 * interrupted one (roll it back), so finishing a commit needs no write to the
 * journal and no third flush.
 *
 * A journal whose header or body does not check was being written when a crash
 * came: by the ordering rule in commit.c, no byte of the data file had changed
 * under it, so it is discarded, never applied.  A header of zeros holds nothing. */
#ifndef FAMS_JFORMAT_H
#define FAMS_JFORMAT_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#define FAMS_JOURNAL_MAGIC "FAMSJRN1"
#define FAMS_JOURNAL_VERSION 3u
#define FAMS_JOURNAL_BODY_OFFSET 4096u

struct fams_jheader {
	char magic[8];        /* FAMS_JOURNAL_MAGIC; all zero when invalidated */
	uint32_t version;
	uint32_t page_size;
	uint64_t seq;         /* commit number within this journal's life */
	uint64_t fsid;        /* identity of the data file: filesystem id ... */
	uint64_t ino;         /* ... inode number ... */
	uint64_t birth;       /* ... and birth, mixed with its generation (fams_jheader_birth) */
	uint64_t old_size;    /* data file size before the commit */
	uint64_t new_size;    /* data file size the commit gives it */
	uint64_t nextents;
	uint64_t body_len;    /* bytes of body following FAMS_JOURNAL_BODY_OFFSET */
	uint64_t body_hash;   /* XXH3-64 of the body, seeded with seq */
	uint64_t header_hash; /* XXH3-64 of this header with header_hash = 0 */
};

/* Format 2's header (fams before size changes moved into the commit): the same
 * body, one size.  Read, never written: a journal an older fams left behind is
 * recovered by its own rules (recover.c). */
struct fams_jheader_v2 {
	char magic[8];
	uint32_t version; /* 2 */
	uint32_t page_size;
	uint64_t seq, fsid, ino, birth;
	uint64_t data_size; /* data file size when the commit began */
	uint64_t nextents, body_len, body_hash;
	uint64_t header_hash; /* XXH3-64 of this header with header_hash = 0 */
};

struct fams_jextent {
	uint64_t off;      /* byte offset in the data file */
	uint64_t len;      /* bytes; never past new_size (cut: past old_size) */
	uint64_t new_hash; /* XXH3-64 of the bytes this commit writes there (cut: 0) */
	uint64_t flags;    /* FAMS_JEXT_* */
};
#define FAMS_JEXT_CUT 1u /* cut off by the commit's shrink: undo bytes only */

/* Identity of a data file, as recorded in its journal and spelled in its name.
 * The birth tells a file from a later one that reuses its inode number -- but the
 * kernel stamps births with its coarse clock, so a file made again within one tick
 * (1 to 4 ms) of the old one can share its inode number and birth; the generation,
 * recorded in the journal's header (fams_jheader_birth), tells those apart. */
struct fams_identity {
	uint64_t fsid;
	uint64_t ino;
	uint64_t birth; /* birth time in ns since the epoch (statx STATX_BTIME); where the
			 * file system keeps none, the inode's generation number; else 0 */
	uint64_t gen;   /* the inode's generation number (FS_IOC_GETVERSION), 0 where
			 * there is none or it was not asked (an identity made only to
			 * name a journal) */
};

/* The birth a journal's header records for id: its birth, mixed with its
 * generation (a header written by a fams before the generation, or for a file with
 * none, records the birth alone).  The name keeps the birth alone, so that a
 * journal an older fams left is still found. */
uint64_t fams_jheader_birth(const struct fams_identity *id);

/* How a journal header's identity (fsid, ino, birth) relates to id. */
enum {
	FAMS_JID_SAME,   /* the file it was written for */
	FAMS_JID_REUSED, /* the same inode number and birth, another generation: the
			  * journal's file was deleted and its inode number given to id's */
	FAMS_JID_OTHER,  /* another file */
};
int fams_jheader_names(const struct fams_jheader *h, const struct fams_identity *id);

/* The hash of the bytes a commit writes to one extent (its new_hash). */
uint64_t fams_jextent_hash(const void *bytes, size_t len);

/* Where the undo image of the first extent starts in the journal. */
uint64_t fams_jundo_offset(const struct fams_jheader *h);

/* How many of e's old bytes the undo image holds: those below old_size. */
uint64_t fams_jundo_len(const struct fams_jextent *e, uint64_t old_size);

/* The sizes a commit takes the data file between. */
struct fams_jsizes {
	uint64_t old_size, new_size;
};

/* fams_jwrite -- write the journal of a commit to jfd: the body (the extent table
 * ext[0..n), whose new_hash and flags the caller set, then the undo image: the data
 * file's current bytes of each extent below old_size -- from undo[i] where the
 * caller holds them, else read from data_fd), then the header that makes it valid,
 * naming id, seq and the sizes.  Not flushed: that is the caller's ordering rule.
 * The body is written through chunk (FAMS_IO_CHUNK bytes, aligned to
 * FAMS_JOURNAL_ALIGN) in pieces at offsets and of lengths aligned to
 * FAMS_JOURNAL_ALIGN, the last padded with zeros (the journal must have room for
 * fams_jspan bytes); with *direct, a body of fams_journal_direct_min bytes or more
 * through dfd (the journal opened O_DIRECT; -1: none), and *direct is cleared
 * where the file system refuses it.  The header goes through jfd.
 * Returns the bytes that count (header and body), or -1 with errno. */
int64_t fams_jwrite(int jfd, int dfd, int data_fd, uint64_t seq, const struct fams_identity *id, struct fams_jsizes sizes,
		    const struct fams_jextent *ext, const char *const *undo, size_t n, char *chunk, bool *direct);

/* Journal bytes on their way out (an undo journal's body, a redo record): gathered
 * into chunk (FAMS_IO_CHUNK bytes, aligned to FAMS_JOURNAL_ALIGN) and written a
 * whole chunk at a time from pos, an aligned offset, the last piece padded with
 * zeros to an aligned length (the journal must have room for it); hashed into
 * hash (an XXH3_state_t) when it is not NULL.  Written through dfd, the journal
 * opened with O_DIRECT, while direct; else through jfd.  Where the file system
 * refuses a direct write, the bytes go through jfd and *allowed is cleared. */
struct fams_jout {
	int jfd, dfd;
	char *chunk;
	size_t fill;   /* bytes gathered in chunk */
	uint64_t pos;  /* where chunk goes in the journal */
	bool *allowed; /* the journal may be written direct (cleared when refused) */
	bool direct;   /* writing through dfd */
	void *hash;
};
/* Append len bytes: copied from src, or read from data_fd at off when src is NULL
 * (zeros where the file ends early). */
int fams_jout_put(struct fams_jout *o, const char *src, int data_fd, uint64_t off, uint64_t len);
/* Write what is left; err is the writing's so far (0 or -1), returned, or -1 when
 * this write fails. */
int fams_jout_end(struct fams_jout *o, int err);

/* The alignment of the body's writes, and the journal length they reach for a
 * body of body_len bytes. */
#define FAMS_JOURNAL_ALIGN 4096u
/* The smallest body written with O_DIRECT (1 MiB; tests lower it to reach the
 * direct path with small commits). */
extern uint64_t fams_journal_direct_min;
static inline uint64_t fams_jspan(uint64_t body_len)
{
	return FAMS_JOURNAL_BODY_OFFSET + ((body_len + FAMS_JOURNAL_ALIGN - 1) & ~(uint64_t)(FAMS_JOURNAL_ALIGN - 1));
}

enum fams_jstate {
	FAMS_J_EMPTY,         /* no journal, or a header of zeros: nothing live */
	FAMS_J_TORN_HEADER,   /* cut short by a crash while it was written (its header does not
			       * check): never to be applied */
	FAMS_J_TORN,          /* the same, found in the extent table or the body */
	FAMS_J_OTHER_VERSION, /* our magic, a format version we do not read (h->version): not torn
			       * (the header is written whole, within one sector); to be
			       * kept for the version that wrote it, never applied */
	FAMS_J_VALID,         /* header, extent table and body all check */
	FAMS_J_REDO,          /* a redo log's header (format 4, redolog.h) that checks: *h
			       * filled, its records read by fams_redo_replay */
};

/* fams_jread -- read and check the journal in jfd (format 3, or 2: then h->version
 * is 2 and both sizes are its one; a format 4 header is REDO).  FAMS_J_VALID fills *h and sets
 * *ext to a malloc'd table of h->nextents extents: sorted, disjoint, written ones
 * inside h->new_size, cut ones inside [new_size, old_size), their undo images
 * adding up to the body, whose hash checks.  -1 with errno when the
 * journal could not be read: that is an error to report, never a torn journal.
 * buf holds FAMS_IO_CHUNK bytes. */
int fams_jread(int jfd, struct fams_jheader *h, struct fams_jextent **ext, char *buf);

/* A fams_chunk_fn (fams_read_chunks) that feeds each piece to the XXH3_state_t at
 * ctx: a journal's body, or a data file's range, hashed as it is read. */
int fams_hash_piece(void *xxh3_state, const char *bytes, size_t n, uint64_t off);

/* The hash a header must carry (XXH3-64 of it with header_hash = 0). */
uint64_t fams_jheader_hash(const struct fams_jheader *h);

#endif
