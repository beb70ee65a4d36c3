/* pagebits.h -- page arithmetic and the page bitmaps of a managed file (one bit a
 * page: dirty, suspect). */
#ifndef FAMS_PAGEBITS_H
#define FAMS_PAGEBITS_H

#include <stdbool.h>
#include <stdint.h>

#include "sys.h"

static inline uint64_t page_of(uint64_t off) { return off / (uint64_t)fams_page_size; }
static inline uint64_t pages_for(uint64_t bytes)
{
	return (bytes + (uint64_t)fams_page_size - 1) / (uint64_t)fams_page_size;
}

/* Pages a managed file's bitmaps can describe: it grows to at most this many
 * pages (1 TiB of 4 KiB pages); the bitmaps are sparse memory (shared.h), paid for
 * only where touched. */
#define FAMS_MAX_FILE_PAGES (1ull << 28)

/* A page bitmap is FAMS_MAX_FILE_PAGES bits, then a summary of one bit per word
 * of them, set while that word may have a bit set: finding the set bits of a huge
 * file written sparsely walks the summary, 1/64 of the bitmap.  Invariant: a word
 * whose summary bit is clear is zero.  Changed only under the file's commit lock. */
#define FAMS_BITMAP_WORDS (FAMS_MAX_FILE_PAGES / 64)
#define FAMS_BITMAP_BYTES ((FAMS_BITMAP_WORDS + FAMS_BITMAP_WORDS / 64) * 8)

static inline bool bit_test(const uint64_t *bits, uint64_t i) { return bits[i / 64] >> (i % 64) & 1; }

/* Or mask into word w (the summary first: a word never holds a bit its summary
 * hides), or clear mask from it (the summary after, once the word is zero). */
static inline void bits_word_or(uint64_t *bits, uint64_t w, uint64_t mask)
{
	bits[FAMS_BITMAP_WORDS + w / 64] |= 1ull << (w % 64);
	bits[w] |= mask;
}

static inline void bits_word_clear(uint64_t *bits, uint64_t w, uint64_t mask)
{
	if (!(bits[w] &= ~mask))
		bits[FAMS_BITMAP_WORDS + w / 64] &= ~(1ull << (w % 64));
}

static inline void bits_set(uint64_t *bits, uint64_t first, uint64_t last /* exclusive */, bool on)
{
	while (first < last) {
		uint64_t w = first / 64, lo = first % 64, n = last - first < 64 - lo ? last - first : 64 - lo;
		uint64_t mask = (n == 64 ? ~0ull : ((1ull << n) - 1)) << lo;
		if (on)
			bits_word_or(bits, w, mask);
		else if (bits[w] & mask)
			bits_word_clear(bits, w, mask);
		first += n;
	}
}

/* Set the bits of the pages holding bytes [off, off+len). */
static inline void bits_mark_bytes(uint64_t *bits, uint64_t off, uint64_t len)
{
	if (len == 0)
		return;
	uint64_t first = page_of(off), last = pages_for(off + len);
	if (last > FAMS_MAX_FILE_PAGES)
		last = FAMS_MAX_FILE_PAGES;
	if (first < last)
		bits_set(bits, first, last, true);
}

/* Index of the first set bit in [from, to), or to.  Words whose summary bit is
 * clear are skipped 64 at a time. */
static inline uint64_t bits_next(const uint64_t *bits, uint64_t from, uint64_t to)
{
	const uint64_t *summary = bits + FAMS_BITMAP_WORDS;
	uint64_t i = from;
	while (i < to) {
		uint64_t w = i / 64, s = summary[w / 64] >> (w % 64);
		if (!s) { /* no bit in the rest of this summary word's 64 words */
			i = (w / 64 + 1) * 64 * 64;
			continue;
		}
		uint64_t first = w + (uint64_t)__builtin_ctzll(s);
		if (first > w)
			i = first * 64;
		if (i >= to)
			break;
		uint64_t x = bits[i / 64] >> (i % 64);
		if (x)
			return i + (uint64_t)__builtin_ctzll(x) < to ? i + (uint64_t)__builtin_ctzll(x) : to;
		i = (i / 64 + 1) * 64;
	}
	return to;
}

#endif
