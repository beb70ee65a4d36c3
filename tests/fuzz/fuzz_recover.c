/* fuzz_recover.c -- libFuzzer target: a journal on disk is untrusted input.
 *
 * Input: one flags byte, then the journal's bytes.  The data file is a fixed
 * 16-page image with a fixed identity.  Flags let the fuzzer past the checksums
 * to the code behind them (a random mutation almost never carries a valid hash):
 *   bit 0  recompute the body and header hashes after mutation
 *   bit 1  make the header name this data file (else the mutated identity stands)
 *   bit 2  force a rollback (as a failed commit does)
 *   bits 3-5  data file size: 16 pages minus that many 1000-byte steps
 *   bit 6  with bit 1: the birth as a header of this file's generation records it
 *   bit 7  with bit 1: ... of another generation (a deleted file's, inode number
 *          and birth reused: never applied)
 *
 * Recovery must never crash or hang, never touch the data file when the journal
 * names another file or does not validate, never write past the old size the
 * journal recorded nor truncate to any other size, and leave every byte outside
 * the journal's extents as it was.  For a redo log (format 4), "the journal's
 * extents" and "sizes" are those of every record found walking the log as its
 * layout lays the records out (replay applies only a prefix of them: those that
 * check); its writes stay below the largest of those sizes.  A log from an empty
 * file (format 5) may also cut the file to nothing first (only if a record
 * checks): every byte outside the records' extents is then zero. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "journal.h"
#include "log.h"
#include "recover.h"
#include "redolog.h"
#include "sys.h"

#define PG 4096
#define DATA_PAGES 16

static const struct fams_identity id = { 0x1234abcd5678ef01ull, 4242, 1764420000123456789ull, 0x5a5a };
static int data_fd = -1, journal_fd = -1;
static uint64_t allowed_size; /* the header's old size; writes must stay below it */
/* A redo log's: the sizes its records give the file (any one may be the last). */
static uint64_t redo_sizes[256]; /* a record takes 4 KiB at least: room for an input's */
static int nredo_sizes;
static int data_may_change;
static int from_empty; /* the journal is a log from an empty file (format 5) ... */
static int cut;        /* ... and recovery cut the data file to nothing */

#define VIOLATION(...)                                                                         \
	do {                                                                                   \
		fprintf(stderr, "fuzz_recover: " __VA_ARGS__);                                 \
		fprintf(stderr, "\n");                                                         \
		abort();                                                                       \
	} while (0)

static ssize_t f_pwrite(int fd, const void *b, size_t n, off_t o)
{
	if (fd == journal_fd)
		VIOLATION("recovery wrote to the journal");
	if (fd == data_fd) {
		if (!data_may_change)
			VIOLATION("wrote to the data file though the journal must not be applied");
		if ((uint64_t)o + n > allowed_size || (uint64_t)o + n < (uint64_t)o)
			VIOLATION("write at %lld+%zu past the recorded size %llu", (long long)o, n,
				  (unsigned long long)allowed_size);
	}
	return fams_sys_default.os_pwrite(fd, b, n, o);
}
static int f_ftruncate(int fd, off_t l)
{
	int redo_size = from_empty && l == 0;
	cut |= redo_size;
	for (int i = 0; i < nredo_sizes; i++)
		redo_size |= (uint64_t)l == redo_sizes[i];
	if (fd != data_fd || !data_may_change || ((uint64_t)l != allowed_size && !redo_size))
		VIOLATION("truncate of fd %d to %lld (recorded size %llu)", fd, (long long)l,
			  (unsigned long long)allowed_size);
	return fams_sys_default.os_ftruncate(fd, l);
}
static int f_noflush(int fd)
{
	(void)fd;
	return 0;
}
static int f_fallocate(int fd, int m, off_t o, off_t l)
{
	(void)fd, (void)m, (void)o, (void)l;
	VIOLATION("recovery allocated space");
}
static int f_unlinkat(int d, const char *p, int f)
{
	(void)d, (void)p, (void)f;
	VIOLATION("recovery unlinked something");
}

static char base[DATA_PAGES * PG];

/* The oracle's view of a redo log: every record's size, and its extents marked
 * in redo_inside (redo_limit bytes). */
static char *redo_inside;
static size_t redo_limit;
static void note_record_size(uint8_t *j, size_t n, size_t at, struct fams_jrecord *r)
{
	(void)j, (void)n, (void)at;
	if (nredo_sizes < (int)(sizeof redo_sizes / sizeof redo_sizes[0]))
		redo_sizes[nredo_sizes++] = r->new_size;
}
static void note_record_extents(uint8_t *j, size_t n, size_t at, struct fams_jrecord *r)
{
	size_t table = at + sizeof *r;
	for (uint64_t i = 0; i < r->nextents && table <= n && (n - table) / sizeof(struct fams_jextent) > i; i++) {
		struct fams_jextent e;
		memcpy(&e, j + table + i * sizeof e, sizeof e);
		for (uint64_t b = e.off; b < redo_limit && b - e.off < e.len; b++)
			redo_inside[b] = 1;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fams_log_level = -1; /* torn and foreign journals are the normal case here */
	for (size_t i = 0; i < sizeof base; i++)
		base[i] = (char)('a' + (i / PG) % 26);
	data_fd = memfd_create("fuzz-data", MFD_CLOEXEC);
	journal_fd = memfd_create("fuzz-journal", MFD_CLOEXEC);
	fams_sys.os_pwrite = f_pwrite;
	fams_sys.os_ftruncate = f_ftruncate;
	fams_sys.os_fdatasync = f_noflush;
	fams_sys.os_fsync = f_noflush;
	fams_sys.os_fallocate = f_fallocate;
	fams_sys.os_unlinkat = f_unlinkat;
	return 0;
}

/* Walk a redo log's records as its layout lays them out (no hash checked): fn on
 * each record found, at its offset; stops at the first without the magic. */
static void walk_records(uint8_t *j, size_t n, void (*fn)(uint8_t *j, size_t n, size_t at, struct fams_jrecord *r))
{
	for (size_t at = FAMS_JOURNAL_BODY_OFFSET; at <= n && n - at >= sizeof(struct fams_jrecord);) {
		struct fams_jrecord r;
		memcpy(&r, j + at, sizeof r);
		if (memcmp(r.magic, FAMS_JRECORD_MAGIC, 8) != 0 || r.nextents > r.body_len / sizeof(struct fams_jextent) ||
		    r.body_len > n)
			return;
		fn(j, n, at, &r);
		at += fams_jrecord_span((size_t)r.nextents, r.body_len - r.nextents * sizeof(struct fams_jextent));
	}
}

/* A record's hashes as a valid log would carry them. */
static void fix_record(uint8_t *j, size_t n, size_t at, struct fams_jrecord *r)
{
	if (r->body_len <= n - at - sizeof *r)
		r->body_hash = XXH3_64bits_withSeed(j + at + sizeof *r, (size_t)r->body_len, r->index);
	r->record_hash = 0;
	r->record_hash = XXH3_64bits(r, sizeof *r);
	memcpy(j + at, r, sizeof *r);
}

/* Recompute the hashes a valid journal of these bytes would carry (format 3, a
 * redo log's header and records, or 2 when the header says so). */
static void fix_hashes(uint8_t *j, size_t n)
{
	struct fams_jheader h;
	memcpy(&h, j, sizeof h);
	if (fams_redo_version(h.version)) {
		h.header_hash = fams_jheader_hash(&h);
		memcpy(j, &h, sizeof h);
		walk_records(j, n, fix_record);
		return;
	}
	if (h.version == 2) {
		struct fams_jheader_v2 v;
		memcpy(&v, j, sizeof v);
		if (n >= FAMS_JOURNAL_BODY_OFFSET && v.body_len <= n - FAMS_JOURNAL_BODY_OFFSET)
			v.body_hash = XXH3_64bits_withSeed(j + FAMS_JOURNAL_BODY_OFFSET, (size_t)v.body_len, v.seq);
		v.header_hash = 0;
		v.header_hash = XXH3_64bits(&v, sizeof v);
		memcpy(j, &v, sizeof v);
		return;
	}
	if (n >= FAMS_JOURNAL_BODY_OFFSET && h.body_len <= n - FAMS_JOURNAL_BODY_OFFSET)
		h.body_hash = XXH3_64bits_withSeed(j + FAMS_JOURNAL_BODY_OFFSET, (size_t)h.body_len, h.seq);
	h.header_hash = fams_jheader_hash(&h);
	memcpy(j, &h, sizeof h);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	if (n < 1 || n > (1u << 20))
		return 0;
	const uint8_t flags = in[0];
	size_t jn = n - 1;
	uint8_t *j = malloc(jn + sizeof(struct fams_jheader));
	memcpy(j, in + 1, jn);
	if (jn >= sizeof(struct fams_jheader)) {
		struct fams_jheader h;
		memcpy(&h, j, sizeof h);
		if (flags & 2) {
			struct fams_identity deleted = id;
			deleted.gen = id.gen + 1;
			h.fsid = id.fsid;
			h.ino = id.ino;
			h.birth = flags & 128 ? fams_jheader_birth(&deleted) : flags & 64 ? fams_jheader_birth(&id) : id.birth;
		}
		memcpy(j, &h, sizeof h);
		if (flags & 1)
			fix_hashes(j, jn);
	}
	const size_t data_size = DATA_PAGES * PG - 1000u * ((flags >> 3) & 7);

	if (ftruncate(journal_fd, 0) < 0 || pwrite(journal_fd, j, jn, 0) != (ssize_t)jn ||
	    ftruncate(data_fd, 0) < 0 || pwrite(data_fd, base, data_size, 0) != (ssize_t)data_size)
		abort();

	/* The oracle reads only what any reader of the format can: the identity and
	 * recorded size, and the extent table, for the "untouched outside" check. */
	struct fams_jheader h = { 0 };
	const int have_header = jn >= sizeof h;
	if (have_header)
		memcpy(&h, j, sizeof h);
	data_may_change = have_header && fams_jheader_names(&h, &id) == FAMS_JID_SAME;
	allowed_size = data_may_change ? h.old_size : 0; /* format 2's one size sits where old_size does */
	uint64_t nextents = h.nextents;
	if (have_header && h.version == 2) {
		struct fams_jheader_v2 v;
		memcpy(&v, j, sizeof v);
		nextents = v.nextents;
	}

	nredo_sizes = 0;
	redo_inside = NULL;
	from_empty = data_may_change && h.version == FAMS_JOURNAL_REDO_EMPTY_VERSION;
	cut = 0;
	if (have_header && fams_redo_version(h.version)) {
		nextents = 0; /* the records' extents count instead, below */
		allowed_size = 0;
		walk_records(j, jn, note_record_size);
		for (int i = 0; i < nredo_sizes; i++)
			if (redo_sizes[i] > allowed_size)
				allowed_size = redo_sizes[i];
		if (!data_may_change)
			nredo_sizes = 0;
	}

	int outcome;
	int r = fams_recover_locked(journal_fd, data_fd, &id, "fuzz", flags & 4 ? FAMS_REC_FORCE_ROLLBACK : 0,
				    &outcome);
	if (!data_may_change && outcome != FAMS_REC_NONE && outcome != FAMS_REC_TORN && outcome != FAMS_REC_FOREIGN &&
	    outcome != FAMS_REC_REUSED)
		VIOLATION("a journal of another file was applied (outcome %s)", fams_recovery_name(outcome));
	if (outcome == FAMS_REC_FOREIGN && (r != -1 || errno != EUCLEAN))
		VIOLATION("a foreign journal was not refused with EUCLEAN");

	/* Every byte outside the journal's extents, below both sizes, is unchanged. */
	struct stat st;
	if (fstat(data_fd, &st) < 0)
		abort();
	size_t got_size = (size_t)st.st_size;
	int redo_size = 0;
	for (int i = 0; i < nredo_sizes; i++)
		redo_size |= got_size == redo_sizes[i];
	if (got_size != data_size && got_size != allowed_size && !redo_size)
		VIOLATION("data file size %zu is neither its own %zu nor the recorded %llu", got_size, data_size,
			  (unsigned long long)allowed_size);
	/* A valid journal may record a size far beyond this file (the file is then
	 * extended, sparsely); bytes are compared up to a bound, and the write hook
	 * has already checked every write against the recorded size. */
	const size_t limit = got_size < data_size + (1u << 20) ? got_size : data_size + (1u << 20);
	char *now = malloc(limit + 1);
	if (pread(data_fd, now, limit, 0) != (ssize_t)limit)
		abort();
	char *inside = calloc(limit + 1, 1);
	const size_t table_room = jn > FAMS_JOURNAL_BODY_OFFSET ? jn - FAMS_JOURNAL_BODY_OFFSET : 0;
	if (data_may_change && nredo_sizes) {
		redo_inside = inside;
		redo_limit = limit;
		walk_records(j, jn, note_record_extents);
	}
	if (data_may_change && nextents <= table_room / sizeof(struct fams_jextent)) {
		for (uint64_t i = 0; i < nextents; i++) {
			struct fams_jextent e;
			memcpy(&e, j + FAMS_JOURNAL_BODY_OFFSET + i * sizeof e, sizeof e);
			for (uint64_t b = e.off; b < limit && b - e.off < e.len; b++)
				inside[b] = 1;
		}
	}
	size_t common = limit < data_size ? limit : data_size;
	for (int i = 0; i < nredo_sizes; i++) /* a record's shrink cuts what a later growth zeroes */
		if (redo_sizes[i] < common)
			common = (size_t)redo_sizes[i];
	for (size_t b = 0; b < common; b++)
		if (!inside[b] && now[b] != (cut ? 0 : base[b]))
			VIOLATION("byte %zu outside every extent %s (outcome %s)", b,
				  cut ? "is not zero after the cut" : "changed", fams_recovery_name(outcome));
	for (size_t b = data_size; b < limit; b++)
		if (!inside[b] && now[b] != 0)
			VIOLATION("byte %zu past the old end is neither zero nor journalled", b);
	free(inside);
	free(now);
	free(j);
	return 0;
}
