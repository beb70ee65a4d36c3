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
