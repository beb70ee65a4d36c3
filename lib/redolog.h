/* redolog.h -- the journal as a redo log (format 4): what it holds, its writer, its
 * reader and replay.  The commit that writes it and its ordering rules are commit.c's.
 *
 * Layout (little-endian):
 *
 *   offset 0     struct fams_jheader, version FAMS_JOURNAL_REDO_VERSION: names the
 *                data file and an epoch (seq); old_size = new_size = the data file's
 *                size when the epoch began; nextents, body_len and body_hash 0.
 *                Version FAMS_JOURNAL_REDO_EMPTY_VERSION: the same, for an epoch
 *                that began from an empty file (old_size = new_size = 0; below)
 *   offset 4096  the epoch's records, each at a FAMS_JOURNAL_ALIGN-aligned offset,
 *                the next one where the last one's span ends:
 *                struct fams_jrecord, struct fams_jextent[nextents] (off and len;
 *                new_hash and flags 0), then the new bytes of each extent in order
 *
 * A record is one whole commit: the size it gives the data file and the new bytes
 * of every range it changes.  Record k of an epoch (index 1, 2, ...) is written only
 * once record k-1 is durable, so the log of an epoch is the records that check,
 * from the first, up to the first one that does not (wrong magic, epoch or index,
 * a hash, a bound): replaying them in order, each whole, brings the data file to
 * the last commit that became durable.  Replay writes only what the records say, so
 * running it again after a crash in it is harmless.
 *
 * An epoch begins from a data file whose state the disk holds, or from an empty
 * one: a file whose every byte is a hole, or never written, in the page cache
 * (made and sized, or truncated, and not flushed since), which the disk may still
 * hold older bytes or another size of.  Its records, like any, hold what differs
 * from the file as the page cache has it -- from zeros, so together they are the
 * whole file -- and its replay cuts the data file to nothing before the first
 * record that checks:
 * whatever the disk kept of the file's life before the epoch goes (and so does
 * anything written to it outside fams since).  This spares the flush a log from an
 * unflushed file would need first (commit.c, R0).
 *
 * Why format 4 shares format 3's header and magic: a fams that reads only format 3
 * finds "another version" and keeps the journal for us, where an unknown magic
 * would read as a torn journal, to be discarded with the commits it holds. */
#ifndef FAMS_REDOLOG_H
#define FAMS_REDOLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jformat.h"

#define FAMS_JOURNAL_REDO_VERSION 4u
#define FAMS_JOURNAL_REDO_EMPTY_VERSION 5u
#define FAMS_JRECORD_MAGIC "FAMSREC1"

struct fams_jrecord {
	char magic[8];        /* FAMS_JRECORD_MAGIC */
	uint64_t epoch;       /* the header's seq */
	uint64_t index;       /* 1 for an epoch's first record */
	uint64_t old_size;    /* data file size before this commit (for status only) */
	uint64_t new_size;    /* the size it gives the data file */
	uint64_t nextents;
	uint64_t body_len;    /* the extent table and the new bytes */
	uint64_t body_hash;   /* XXH3-64 of the body, seeded with index */
	uint64_t record_hash; /* XXH3-64 of this struct with record_hash = 0 */
};

/* The journal bytes a record of n extents carrying `bytes` new bytes takes,
 * aligned so that the next record starts a block of its own. */
uint64_t fams_jrecord_span(size_t n, uint64_t bytes);

/* A new log's epoch: random, never 0.  An epoch names its records for as long as
 * the journal file lives, across the processes that use it and their crashes: a
 * log retired at open leaves its records in place, and a later log's records
 * land among them, so no two logs of one journal may share an epoch (a counter
 * would restart with the next process). */
uint64_t fams_redo_new_epoch(void);

/* Whether a journal header of this version is a redo log's (either kind). */
bool fams_redo_version(uint32_t version);

/* Write the header of epoch `epoch` for the data file id of `size` bytes, or of
 * an epoch that begins from an empty file (from_empty; size is then 0).  Not
 * flushed.  0, or -1 with errno. */
int fams_redo_start(int jfd, uint64_t epoch, const struct fams_identity *id, uint64_t size, bool from_empty);

/* Write record `index` of epoch `epoch` at journal offset `at`: the extents
 * ext[0..n) (off, len) and their new bytes newb[i].  chunk holds FAMS_IO_CHUNK
 * bytes.  Through dfd (the journal opened O_DIRECT; -1: none) while *direct,
 * which is cleared where the file system refuses it.  Not flushed.  Returns the bytes written, or -1
 * with errno. */
int64_t fams_redo_append(int jfd, int dfd, uint64_t at, uint64_t epoch, uint64_t index, struct fams_jsizes sz,
			 const struct fams_jextent *ext, const char *const *newb, size_t n, char *chunk, bool *direct);

/* What replay found: the records applied and where the epoch's log ends. */
struct fams_redo_end {
	uint64_t records; /* records that checked (and were applied, when applying) */
	uint64_t index;   /* the last one's index (0: none) */
	uint64_t tail;    /* journal offset after it */
	uint64_t bytes;   /* new bytes they carried */
};

/* Read the records of the epoch h (a header fams_jread found REDO) in order and,
 * when data_fd >= 0, apply each to the data file (its size, then its bytes; of an
 * epoch from an empty file, first cut to nothing when a record checks).  Not
 * flushed.  buf holds FAMS_IO_CHUNK bytes.  0 with *end, or -1 with errno (a read
 * or write failed: never a record that does not check, which ends the log). */
int fams_redo_replay(int jfd, int data_fd, const struct fams_jheader *h, char *buf, struct fams_redo_end *end);

#endif
