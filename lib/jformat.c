/* jformat.c -- the undo journal's on-disk format: its writer (used by the commit), its
 * reader and checks (used by recovery and the fuzzer), in one place. */
#include "jformat.h"
#include "redolog.h"
#include "sys.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack: hashing never allocates */
#include <xxhash.h>

uint64_t fams_journal_direct_min = 1u << 20;

uint64_t fams_jextent_hash(const void *bytes, size_t len) { return XXH3_64bits(bytes, len); }

uint64_t fams_jheader_hash(const struct fams_jheader *h)
{
	struct fams_jheader copy = *h;
	copy.header_hash = 0;
	return XXH3_64bits(&copy, sizeof copy);
}

uint64_t fams_jundo_offset(const struct fams_jheader *h)
{
	return FAMS_JOURNAL_BODY_OFFSET + h->nextents * sizeof(struct fams_jextent);
}

uint64_t fams_jundo_len(const struct fams_jextent *e, uint64_t old_size)
{
	if (e->off >= old_size)
		return 0;
	return e->len < old_size - e->off ? e->len : old_size - e->off;
}

/* Write the gathered bytes, the last piece padded with zeros to an aligned length.
 * A write O_DIRECT refuses (EINVAL: this file system's alignment is larger, or it
 * takes the flag but not the write) is made again buffered. */
static int jout_flush(struct fams_jout *o)
{
	size_t len = (o->fill + FAMS_JOURNAL_ALIGN - 1) & ~(size_t)(FAMS_JOURNAL_ALIGN - 1);
	memset(o->chunk + o->fill, 0, len - o->fill);
	int r = fams_pwrite_full(o->direct ? o->dfd : o->jfd, o->chunk, len, (off_t)o->pos);
	if (r < 0 && errno == EINVAL && o->direct) {
		o->direct = *o->allowed = false;
		r = fams_pwrite_full(o->jfd, o->chunk, len, (off_t)o->pos);
	}
	o->pos += o->fill;
	o->fill = 0;
	return r;
}

int fams_jout_put(struct fams_jout *o, const char *src, int data_fd, uint64_t off, uint64_t len)
{
	for (uint64_t done = 0; done < len;) {
		size_t room = FAMS_IO_CHUNK - o->fill;
		size_t c = len - done > room ? room : (size_t)(len - done);
		char *at = o->chunk + o->fill;
		if (src) {
			memcpy(at, src + done, c);
		} else {
			ssize_t r = fams_pread_full(data_fd, at, c, (off_t)(off + done));
			if (r < 0)
				return -1;
			memset(at + r, 0, c - (size_t)r);
		}
		if (o->hash)
			XXH3_64bits_update(o->hash, at, c);
		o->fill += c;
		done += c;
		if (o->fill == FAMS_IO_CHUNK && jout_flush(o) < 0)
			return -1;
	}
	return 0;
}

int fams_jout_end(struct fams_jout *o, int err)
{
	return err == 0 && o->fill ? jout_flush(o) : err;
}

int64_t fams_jwrite(int jfd, int dfd, int data_fd, uint64_t seq, const struct fams_identity *id, struct fams_jsizes sizes,
		    const struct fams_jextent *ext, const char *const *undo, size_t n, char *chunk, bool *direct)
{
	struct fams_jheader h = { .version = FAMS_JOURNAL_VERSION, .page_size = (uint32_t)fams_page_size };
	memcpy(h.magic, FAMS_JOURNAL_MAGIC, 8);
	h.seq = seq;
	h.fsid = id->fsid;
	h.ino = id->ino;
	h.birth = fams_jheader_birth(id);
	h.old_size = sizes.old_size;
	h.new_size = sizes.new_size;
	h.nextents = n;
	size_t table = n * sizeof *ext;
	uint64_t undo_bytes = 0;
	for (size_t i = 0; i < n; i++)
		undo_bytes += fams_jundo_len(&ext[i], h.old_size);
	h.body_len = table + undo_bytes;

	XXH3_state_t state;
	XXH3_INITSTATE(&state);
	XXH3_64bits_reset_withSeed(&state, seq);
	/* The body -- the extent table, then the undo images -- is gathered into
	 * chunk and written a whole chunk at a time: one small write per extent costs
	 * a walk of a large page-cache folio's blocks each, which dominated commits of
	 * many scattered pages.  A large body skips the page cache (O_DIRECT): it is
	 * written once and flushed at once, and a buffered body's writeback was most
	 * of a large commit's journal flush.  A small one goes buffered: the flush then
	 * writes it in one I/O with the header page, where a direct write is an I/O of
	 * its own before the flush's (small commits measured slower). */
	struct fams_jout o = { .jfd = jfd, .dfd = dfd, .chunk = chunk, .pos = FAMS_JOURNAL_BODY_OFFSET,
			       .allowed = direct, .hash = &state };
	o.direct = h.body_len >= fams_journal_direct_min && dfd >= 0 && *direct;
	int err = fams_jout_put(&o, (const char *)ext, -1, 0, table);
	for (size_t i = 0; i < n && err == 0; i++)
		err = fams_jout_put(&o, undo[i], data_fd, ext[i].off, fams_jundo_len(&ext[i], h.old_size));
	err = fams_jout_end(&o, err);
	h.body_hash = XXH3_64bits_digest(&state);
	h.header_hash = fams_jheader_hash(&h);
	/* The header last: until it is written, the journal does not check. */
	if (err == 0)
		err = fams_pwrite_full(jfd, &h, sizeof h, 0);
	return err < 0 ? -1 : (int64_t)(h.body_len + sizeof h);
}

int fams_hash_piece(void *xxh3_state, const char *bytes, size_t n, uint64_t off)
{
	(void)off;
	XXH3_64bits_update(xxh3_state, bytes, n);
	return 0;
}

/* Whether the extent table fits the header: sorted, disjoint, non-empty extents,
 * the written ones inside new_size, the cut ones inside [new_size, old_size), their
 * undo images adding up with the table to exactly the body. */
static bool extents_check(const struct fams_jheader *h, const struct fams_jextent *ext)
{
	uint64_t total = h->nextents * sizeof *ext, prev_end = 0;
	for (uint64_t i = 0; i < h->nextents; i++) {
		const struct fams_jextent *e = &ext[i];
		bool cut = e->flags == FAMS_JEXT_CUT;
		uint64_t lo = cut ? h->new_size : 0, hi = cut ? h->old_size : h->new_size;
		uint64_t undo = fams_jundo_len(e, h->old_size);
		if ((e->flags & ~(uint64_t)FAMS_JEXT_CUT) || e->len == 0 || e->off < prev_end ||
		    e->off + e->len < e->off || e->off < lo || e->off + e->len > hi || total + undo < total)
			return false;
		prev_end = e->off + e->len;
		total += undo;
	}
	return total == h->body_len;
}

/* A format 2 header (at the start of h's bytes) as a format 3 one: -1 when its
 * hash does not check. */
static int from_v2(struct fams_jheader *h)
{
	struct fams_jheader_v2 v;
	memcpy(&v, h, sizeof v);
	uint64_t want = v.header_hash;
	v.header_hash = 0;
	if (XXH3_64bits(&v, sizeof v) != want)
		return -1;
	*h = (struct fams_jheader){ .version = 2, .page_size = v.page_size, .seq = v.seq, .fsid = v.fsid,
				    .ino = v.ino, .birth = v.birth, .old_size = v.data_size,
				    .new_size = v.data_size, .nextents = v.nextents, .body_len = v.body_len,
				    .body_hash = v.body_hash };
	memcpy(h->magic, v.magic, 8);
	h->header_hash = fams_jheader_hash(h);
	return 0;
}

int fams_jread(int jfd, struct fams_jheader *h, struct fams_jextent **ext, char *buf)
{
	struct stat jst;
	*ext = NULL;
	if (fams_raw_fstat(jfd, &jst) < 0)
		return -1;
	if ((uint64_t)jst.st_size < sizeof *h)
		return FAMS_J_EMPTY;
	if (fams_pread_full(jfd, h, sizeof *h, 0) < 0)
		return -1;
	static const char zero_magic[8];
	if (memcmp(h->magic, zero_magic, 8) == 0)
		return FAMS_J_EMPTY;

	if (memcmp(h->magic, FAMS_JOURNAL_MAGIC, 8) == 0 && h->version == 2 && from_v2(h) < 0)
		return FAMS_J_TORN_HEADER;
	if (memcmp(h->magic, FAMS_JOURNAL_MAGIC, 8) == 0 && fams_redo_version(h->version))
		return fams_jheader_hash(h) == h->header_hash ? FAMS_J_REDO : FAMS_J_TORN_HEADER;
	if (memcmp(h->magic, FAMS_JOURNAL_MAGIC, 8) == 0 && h->version != FAMS_JOURNAL_VERSION && h->version != 2)
		return FAMS_J_OTHER_VERSION;
	uint64_t body_max = (uint64_t)jst.st_size > FAMS_JOURNAL_BODY_OFFSET
				    ? (uint64_t)jst.st_size - FAMS_JOURNAL_BODY_OFFSET : 0;
	if (memcmp(h->magic, FAMS_JOURNAL_MAGIC, 8) != 0 || fams_jheader_hash(h) != h->header_hash ||
	    h->body_len > body_max ||
	    h->nextents > h->body_len / sizeof(struct fams_jextent))
		return FAMS_J_TORN_HEADER;

	size_t table = (size_t)h->nextents * sizeof **ext;
	struct fams_jextent *e = malloc(table ? table : 1);
	XXH3_state_t hstate, *hs = &hstate;
	XXH3_INITSTATE(hs);
	int state = FAMS_J_TORN;
	if (!e) {
		errno = ENOMEM;
		state = -1;
		goto out;
	}
	/* A read that fails is an error to report, never a torn journal to discard. */
	ssize_t got = table ? fams_pread_full(jfd, e, table, FAMS_JOURNAL_BODY_OFFSET) : 0;
	if (got < 0) {
		state = -1;
		goto out;
	}
	if ((size_t)got != table || !extents_check(h, e))
		goto out;
	XXH3_64bits_reset_withSeed(hs, h->seq);
	int64_t hashed = fams_read_chunks(jfd, FAMS_JOURNAL_BODY_OFFSET, h->body_len, buf, fams_hash_piece, hs);
	if (hashed < 0) {
		state = -1;
		goto out;
	}
	if ((uint64_t)hashed == h->body_len && XXH3_64bits_digest(hs) == h->body_hash)
		state = FAMS_J_VALID;
out:
	if (state == FAMS_J_VALID)
		*ext = e;
	else
		free(e);
	return state;
}

/* An odd constant: multiplying by it is a bijection of 64-bit words, so a generation
 * (32 bits) comes back exactly from birth ^ header birth (GEN_UNMIX: its inverse). */
#define GEN_MIX 0x9e3779b97f4a7c15ull
#define GEN_UNMIX 0xf1de83e19937733dull

uint64_t fams_jheader_birth(const struct fams_identity *id) { return id->birth ^ (id->gen * GEN_MIX); }

int fams_jheader_names(const struct fams_jheader *h, const struct fams_identity *id)
{
	if (h->fsid != id->fsid || h->ino != id->ino)
		return FAMS_JID_OTHER;
	/* What the header mixed into the birth: a generation (32 bits), or nothing (a
	 * header older than the generation, or a file system without one). */
	uint64_t gen = (h->birth ^ id->birth) * GEN_UNMIX;
	if (gen > UINT32_MAX)
		return FAMS_JID_OTHER; /* another birth */
	/* Where this file's generation could not be had (0), the birth alone decides,
	 * as before the generation: calling the journal another file's would drop a
	 * commit it holds. */
	if (gen == 0 || id->gen == 0 || gen == id->gen || fams_test_break == FAMS_BREAK_IDENTITY_NO_GEN)
		return FAMS_JID_SAME;
	return FAMS_JID_REUSED;
}
