/* tracker.h -- which pages of a working copy were written since they were last collected.
 *
 * uffd: userfaultfd asynchronous write-protect + PAGEMAP_SCAN (Linux >= 6.7).  The
 *       kernel records the first write to each protected page, including writes it
 *       makes on the program's behalf (read(2) into a mapped page), with no signal;
 *       a scan returns the written pages and re-protects them in one call.
 * compare: no kernel help; a commit compares each page of the working copy with the
 *       data file (which changes only at commits) and takes the pages that differ.
 *       Costs a read of the range per commit, catches every kind of write.
 *
 * Writes made through write(2)/pwrite(2) on a descriptor go into the working copy
 * without touching any mapping, so file.c records those pages itself. */
#ifndef FAMS_TRACKER_H
#define FAMS_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* The tracker in force after fams_tracker_init: FAMS_TRACKER_UFFD or _COMPARE. */
extern int fams_tracker_kind;

/* Choose the tracker from FAMS_TRACKER; "uffd" that cannot work falls back to
 * compare with a warning (never to no tracking at all). */
void fams_tracker_init(void);

/* Start tracking a mapping: register it for write-protect faults; its pages are
 * written-protected separately (fams_protect_range), only those inside the file. */
int fams_track_range(void *addr, size_t len);

/* Re-arm protection on a range whose written pages were already collected. */
int fams_protect_range(void *addr, size_t len);

/* Report each run [start, end) of pages written in the range since the last scan,
 * and write-protect them again: in this process (pagemap_fd -1), or in the process
 * whose pagemap pagemap_fd is (another process sharing the file: the scan acts on
 * its page tables, no help from it needed).  -1 with errno: ESRCH when that process
 * is gone, EPERM when the range is not a tracked mapping there. */
typedef void (*fams_written_fn)(void *ctx, uintptr_t start, uintptr_t end);
int fams_scan_written(int pagemap_fd, uintptr_t addr, size_t len, fams_written_fn fn, void *ctx);

/* Whether the tracker's descriptors belong to this process (false in a child made
 * without the fork handlers, such as by _Fork). */
bool fams_tracker_owned(void);

/* In a forked child: the tracker's descriptors describe the parent; drop them. */
void fams_tracker_forget(void);

/* Where the tracker keeps its descriptors, so the registry can protect them. */
void fams_tracker_fd_slots(int **uffd_slot, int **pagemap_slot);

#endif
