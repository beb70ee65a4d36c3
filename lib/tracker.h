/* tracker.h -- which pages of a working copy were written since they were last collected.
 * FAMS_TRACKER=auto takes the first of these the kernel offers:
 *
 * uffd: userfaultfd asynchronous write-protect + PAGEMAP_SCAN (Linux >= 6.7).  The
 *       kernel records the first write to each protected page, including writes it
 *       makes on the program's behalf (read(2) into a mapped page), with no signal;
 *       a scan returns the written pages and re-protects them in one call.
 * uffd-sync: userfaultfd write-protect on shmem, synchronous (Linux >= 5.19): a
 *       thread of ours serves the first store to each protected page, records it
 *       and opens the page (wpsync.c); a harvest takes the record and protects
 *       those pages again.  Commit cost follows the pages written, plus a round
 *       trip to the thread per first store.  Where userfaultfd serves user-mode
 *       faults only, the kernel cannot write into a protected page (EFAULT):
 *       fams opens the pages a read(2) is about to fill first.
 * compare: no kernel help; a commit compares each page of the working copy with the
 *       data file (which changes only at commits) and takes the pages that differ.
 *       Costs a read of the range per commit, catches every kind of write.
 *
 * Soft-dirty bits (/proc/self/clear_refs) were measured and are not used: they
 * are per process (clearing them for one mapping write-protects the whole
 * program), and a shmem page swapped out between two commits loses its bit.
 *
 * Writes made through write(2)/pwrite(2) on a descriptor go into the working copy
 * without touching any mapping, so file.c records those pages itself. */
#ifndef FAMS_TRACKER_H
#define FAMS_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* The tracker in force after fams_tracker_init: FAMS_TRACKER_UFFD, _UFFD_SYNC or _COMPARE. */
extern int fams_tracker_kind;

/* Pages this process's own scans (uffd) and takes (uffd-sync) have gone over, for
 * trackswitch.c's cost model: a scan's cost follows them (registry lock held). */
extern uint64_t fams_tracker_pages_covered;

/* Choose the tracker from FAMS_TRACKER; a named one this kernel cannot give falls
 * back to compare with a warning (never to no tracking at all). */
void fams_tracker_init(void);

/* Whether writes the kernel is about to make into [addr, addr + len) may need
 * tracked pages opened first (cheap, no lock); doing so for a range of one tracked
 * mapping (its pages count as written, and stay open); and, once the kernel is
 * done, letting commits protect them again. */
bool fams_tracker_opens_for_kernel(const void *addr, size_t len);
void fams_open_for_kernel(void *addr, size_t len);
void fams_kernel_filled(void);

/* Start tracking a mapping: register it for write-protect faults; its pages are
 * written-protected separately (fams_protect_range), only those inside the file. */
int fams_track_range(void *addr, size_t len);

/* Re-arm protection on a range whose written pages were already collected. */
int fams_protect_range(void *addr, size_t len);

/* Report each run [start, end) of pages written in the range since the last scan,
 * and with protect write-protect them again (without, they stay open, and the next
 * scan or take finds them again: dirty_collect_leaving_open): in this process
 * (pagemap_fd -1), or in the process whose pagemap pagemap_fd is (another process
 * sharing the file: the scan acts on its page tables, no help from it needed).  -1
 * with errno: ESRCH when that process is gone, EPERM when the range is not a
 * tracked mapping there. */
typedef void (*fams_written_fn)(void *ctx, uintptr_t start, uintptr_t end);
int fams_scan_written(int pagemap_fd, uintptr_t addr, size_t len, bool protect, fams_written_fn fn, void *ctx);
/* Report each run of pages of the range that are mapped (a page table entry or a
 * swap entry: the page exists), changing nothing; the synchronous tracker reports
 * the whole range.  What the kernel reads as written and is not mapped is a hole
 * never protected, or a page unmapped since it was written (mapscan.c). */
int fams_scan_mapped(int pagemap_fd, uintptr_t addr, size_t len, fams_written_fn fn, void *ctx);
/* The asynchronous tracker only: report each run the kernel reads as written --
 * pages written since their last scan, and pages never protected -- and protect
 * nothing (the caller then scans, with fams_scan_written, what it keeps). */
int fams_scan_candidates(int pagemap_fd, uintptr_t addr, size_t len, fams_written_fn fn, void *ctx);

/* uffd-sync: whether any page of [addr, addr + len) is recorded written and not
 * yet harvested (false for the other trackers). */
bool fams_tracker_recorded(uintptr_t addr, size_t len);

/* uffd-sync: set *flag to 1 whenever a page may have been opened to writing (before
 * it opens), until unwatched; 0, or -1 when it cannot (no room, or another tracker). */
int fams_tracker_watch(uint8_t *flag);
void fams_tracker_unwatch(uint8_t *flag);

/* Whether the tracker's descriptors belong to this process (false in a child made
 * without the fork handlers, such as by _Fork). */
bool fams_tracker_owned(void);

/* In a forked child: the tracker's descriptors describe the parent; drop them. */
void fams_tracker_forget(void);

/* Where the tracker keeps its descriptors, so the registry can protect them. */
void fams_tracker_fd_slots(int **uffd_slot, int **pagemap_slot, int **spare_slot);

/* Whether this process may move between the two userfaultfd trackers: it began
 * under uffd (Linux >= 6.7). */
bool fams_tracker_may_move(void);

/* Moving this process between the two userfaultfd trackers (trackswitch.c), under
 * the registry lock: make the descriptor of tracker `to` ready (uffd-sync: its
 * thread started; refused, EPERM, where it would serve user-mode faults only); then
 * unregister every tracked range from the current one; then switch, after which
 * ranges register with the new one.  0, or -1 with errno. */
int fams_tracker_prepare_switch(int to);
int fams_untrack_range(void *addr, size_t len);
void fams_tracker_switch(int to);

#endif
