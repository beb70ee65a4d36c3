/* dirty.h -- which pages of managed files were written: the tracker's record for
 * each mapping, of this process and of every other process sharing the file,
 * moved into the file's bitmaps.  Under the registry lock and the commit lock. */
#ifndef FAMS_DIRTY_H
#define FAMS_DIRTY_H

#include <stdbool.h>
#include <stdint.h>

#include "file.h"
#include "maptable.h"

/* Track writes to [s, e) of m: register all of it, write-protect only the pages
 * inside the file. */
int dirty_track(struct fams_map *m, uintptr_t s, uintptr_t e);
/* Move the tracker's record of written pages in [s, e) of m into the file's
 * bitmap; if the tracker cannot say, the pages become suspect (compared at commit). */
void dirty_harvest(struct fams_map *m, uintptr_t s, uintptr_t e);
/* The same for every mapping of f over the file range [lo, hi). */
void dirty_harvest_file(struct fams_file *f, uint64_t lo, uint64_t hi);
/* The same; quick: a mapping scanned whole since which this process took no page
 * fault is not scanned again (dirty.c says why; msync, fsync and MS_ASYNC only). */
void dirty_harvest_file_as(struct fams_file *f, uint64_t lo, uint64_t hi, bool quick);
/* The same, and for the mappings of every other process sharing f: what a commit
 * of [lo, hi) must write.  A member found dead leaves its mappings suspect. */
void dirty_collect(struct fams_file *f, uint64_t lo, uint64_t hi, bool quick);
/* The same for an MS_ASYNC snapshot, protecting nothing where the tracker allows
 * (dirty.c says why and the rule). */
void dirty_collect_leaving_open(struct fams_file *f, uint64_t lo, uint64_t hi);
/* Protect again, marking them dirty, the pages a harvest left open in f's
 * mappings.  Under the registry lock and f's commit lock (the commit thread, before
 * a snapshot's commit compares its pages). */
void dirty_close_left_open(struct fams_file *f);
/* Whether the tracker holds a record of written pages of any of this process's
 * mappings of f, not yet harvested (uffd-sync; false for the other trackers). */
bool dirty_any_recorded(struct fams_file *f);
/* Re-arm tracking of [s, e) of m after an operation that may have lost it. */
void dirty_rearm(struct fams_map *m, uintptr_t s, uintptr_t e);
/* The kernel is about to write into [s, e) for the program (read(2)): where the
 * tracker cannot serve such writes (fams_tracker_opens_for_kernel), open the
 * managed pages there first; they count as written.  Under the registry lock. */
void dirty_open_for_kernel(uintptr_t s, uintptr_t e);
/* f is about to grow from old_size to new_size (commit.c, fams_file_resize):
 * protect the pages it brings inside in this process's mappings before they exist
 * (the others catch up at their next harvest).  The commit lock is held. */
void dirty_protect_grown(struct fams_file *f, uint64_t old_size, uint64_t new_size);

#endif
