/* wprecord.c -- the synchronous tracker's record of opened pages (wprecord.h). */
#include "wprecord.h"
#include "sys.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define CHUNK_SHIFT 30 /* a bitmap per GiB of address space */
#define ADDR_BITS 48   /* user addresses below 2^48 (4-level page tables) */
#define NCHUNKS ((size_t)1 << (ADDR_BITS - CHUNK_SHIFT))

static unsigned page_shift;
static size_t chunk_words; /* 64-bit words of one chunk's bitmap */
/* chunks[addr >> CHUNK_SHIFT]: written under the registry lock (prepare), read by
 * the fault-serving thread with acquire loads. */
static uint64_t **chunks;
static size_t lowest = NCHUNKS, highest; /* the chunks allocated: [lowest, highest] */

int wprecord_init(void)
{
	page_shift = (unsigned)__builtin_ctzl((unsigned long)fams_page_size);
	chunk_words = ((size_t)1 << (CHUNK_SHIFT - page_shift)) / 64;
	if (chunks)
		return 0;
	void *t = fams_raw_mmap(NULL, NCHUNKS * sizeof *chunks, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t == MAP_FAILED)
		return -1;
	chunks = t;
	return 0;
}

int wprecord_prepare(uintptr_t addr, size_t len)
{
	size_t first = addr >> CHUNK_SHIFT, last = (addr + len - 1) >> CHUNK_SHIFT;
	if (len == 0)
		return 0;
	if (last >= NCHUNKS) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t c = first; c <= last; c++) {
		if (chunks[c])
			continue;
		void *b = fams_raw_mmap(NULL, chunk_words * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
					-1, 0);
		if (b == MAP_FAILED)
			return -1;
		__atomic_store_n(&chunks[c], (uint64_t *)b, __ATOMIC_RELEASE);
		if (c < lowest)
			lowest = c;
		if (c > highest)
			highest = c;
	}
	return 0;
}

uint64_t *wprecord_word(uintptr_t addr, uint64_t *bit)
{
	size_t c = addr >> CHUNK_SHIFT;
	if (c >= NCHUNKS || !chunks)
		return NULL;
	uint64_t *chunk = __atomic_load_n(&chunks[c], __ATOMIC_ACQUIRE);
	if (!chunk)
		return NULL;
	size_t page = (addr & (((uintptr_t)1 << CHUNK_SHIFT) - 1)) >> page_shift;
	*bit = (uint64_t)1 << (page % 64);
	return &chunk[page / 64];
}

bool wprecord_set(uintptr_t addr, size_t len)
{
	bool all = true;
	for (uintptr_t a = addr; a < addr + len; a += (uintptr_t)1 << page_shift) {
		uint64_t bit, *w = wprecord_word(a, &bit);
		if (w)
			__atomic_fetch_or(w, bit, __ATOMIC_RELEASE);
		else
			all = false;
	}
	return all;
}

bool wprecord_may_cover(uintptr_t addr, size_t len)
{
	if (!chunks || len == 0)
		return false;
	for (size_t c = addr >> CHUNK_SHIFT; c <= (addr + len - 1) >> CHUNK_SHIFT && c < NCHUNKS; c++)
		if (__atomic_load_n(&chunks[c], __ATOMIC_ACQUIRE))
			return true;
	return false;
}

bool wprecord_any(uintptr_t addr, size_t len)
{
	for (uintptr_t a = addr; a < addr + len; a += (uintptr_t)1 << page_shift) {
		uint64_t bit, *w = wprecord_word(a, &bit);
		if (w && (__atomic_load_n(w, __ATOMIC_ACQUIRE) & bit))
			return true;
	}
	return false;
}

void wprecord_clear(void)
{
	for (size_t c = lowest; chunks && c <= highest && c < NCHUNKS; c++)
		if (chunks[c])
			memset(chunks[c], 0, chunk_words * 8);
}
