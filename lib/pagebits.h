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

static inline bool bit_test(const uint64_t *bits, uint64_t i) { return bits[i / 64] >> (i % 64) & 1; }

static inline void bits_set(uint64_t *bits, uint64_t first, uint64_t last /* exclusive */, bool on)
{
	for (uint64_t i = first; i < last; i++) {
		if (i % 64 == 0 && i + 64 <= last) {
			bits[i / 64] = on ? ~0ull : 0;
			i += 63;
			continue;
		}
		if (on)
			bits[i / 64] |= 1ull << (i % 64);
		else
			bits[i / 64] &= ~(1ull << (i % 64));
	}
}

/* Pages a managed file's bitmaps can describe: it grows to at most this many
 * pages (1 TiB of 4 KiB pages); the bitmaps are sparse memory (shared.h), paid for
 * only where touched. */
#define FAMS_MAX_FILE_PAGES (1ull << 28)

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

/* Index of the first set bit in [from, to), or to. */
static inline uint64_t bits_next(const uint64_t *bits, uint64_t from, uint64_t to)
{
	uint64_t i = from;
	while (i < to) {
		uint64_t w = bits[i / 64] >> (i % 64);
		if (w)
			return i + (uint64_t)__builtin_ctzll(w) < to ? i + (uint64_t)__builtin_ctzll(w) : to;
		i = (i / 64 + 1) * 64;
	}
	return to;
}

#endif
