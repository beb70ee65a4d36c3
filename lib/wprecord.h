/* wprecord.h -- the synchronous write-protect tracker's record (wpsync.c): one bit
 * per page of the address space, set when the page was opened to writing.  The
 * record is a two-level table of bitmaps, one per GiB of address space that ever
 * held a tracked mapping, never freed while the fault-serving thread may use it,
 * so that thread needs no lock of the engine's to set a bit.  Which lock guards
 * setting and taking bits is wpsync.c's rule 2. */
#ifndef FAMS_WPRECORD_H
#define FAMS_WPRECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The table of bitmaps, reserved (not committed) once.  0, or -1 with errno. */
int wprecord_init(void);

/* Make room for [addr, addr + len) before it is registered: a fault there must
 * find somewhere to set its bit.  0, or -1 (ENOMEM).  The registry lock is held. */
int wprecord_prepare(uintptr_t addr, size_t len);

/* The word holding the bit of the page at addr, and that bit; NULL when no bitmap
 * covers it.  The bits of a word are 64 consecutive pages, the first at an address
 * a multiple of 64 pages. */
uint64_t *wprecord_word(uintptr_t addr, uint64_t *bit);

/* Set the bits of [addr, addr + len); false if some page had no bitmap. */
bool wprecord_set(uintptr_t addr, size_t len);

/* Whether any tracked mapping may lie in [addr, addr + len) (cheap, no lock). */
bool wprecord_may_cover(uintptr_t addr, size_t len);

/* Whether any page of [addr, addr + len) has its bit set (no lock: a bit set
 * concurrently may or may not be seen). */
bool wprecord_any(uintptr_t addr, size_t len);

/* Clear every bit (a forked child's record starts afresh). */
void wprecord_clear(void);

#endif
