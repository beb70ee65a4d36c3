/* trackswitch.h -- moving this process between the asynchronous and the
 * synchronous userfaultfd tracker by what its commits write (trackswitch.c). */
#ifndef FAMS_TRACKSWITCH_H
#define FAMS_TRACKSWITCH_H

#include <stdint.h>

#include "file.h"

/* A harvest of one of this process's own mappings went over `covered` pages
 * (scanned, or taken from uffd-sync's record) and found `written` pages written
 * (registry lock held). */
void trackswitch_note(uint64_t covered, uint64_t written);

/* After the harvest of a commit of [lo, hi) of f, before its plan (registry lock
 * and f's commit lock held): move to the other tracker if the window of commits
 * since the last decision asks for it and this process may (trackswitch.c). */
void trackswitch_consider(struct fams_file *f, uint64_t lo, uint64_t hi);

#endif
