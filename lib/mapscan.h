/* mapscan.h -- one mapping's written pages: scanning a part of it into the file's
 * bitmaps, and protecting it (mapscan.c).  Under the file's commit lock. */
#ifndef FAMS_MAPSCAN_H
#define FAMS_MAPSCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "file.h"
#include "maptable.h"

/* Whether this process's tracker leaves the working copy's holes unprotected (the
 * asynchronous one: see mapscan.c). */
bool mapscan_holes_untracked(void);

/* Scan the part of a mapping (start, end: its addresses; off: the file offset of
 * start) that shows the file range [lo, hi), with pagemap (-1: this process's),
 * into f's bitmaps (dirty below protected_end, suspect above).  *holes_open: the
 * mapping may show unprotected holes (cleared when a scan of all of it found
 * none).  leave_open: protect nothing -- the pages found stay written in the page
 * tables, and every later scan finds them again (dirty_collect_leaving_open).  A
 * range the scan could not read becomes suspect.  0, or -1 with errno. */
int mapscan_part(struct fams_file *f, int pagemap, uint64_t start, uint64_t end, uint64_t off,
		 uint64_t protected_end, uint64_t lo, uint64_t hi, bool leave_open, bool *holes_open);

/* Protect the file range [lo, hi) (page aligned) of m where the working copy holds
 * pages, a page table's reach at a time.  0, or -1 with errno. */
int mapscan_protect(struct fams_map *m, uint64_t lo, uint64_t hi);

/* Pages the scans have found written (or suspect) so far, counted as they are
 * marked (registry lock held): a harvest's share is the difference. */
extern uint64_t mapscan_pages_found;

#endif
