/* elsewhere.h -- files other processes use under fams that this process could not
 * join (another user's, say): the descriptors of them it may not read, write or
 * map while they do.  Under the registry lock. */
#ifndef FAMS_ELSEWHERE_H
#define FAMS_ELSEWHERE_H

#include <stdbool.h>
#include <sys/stat.h>

/* A descriptor was ever marked (read without the lock: a hint that only ever
 * turns true, for the pass-through test of private mappings). */
extern bool fams_any_elsewhere;

struct fd_slot;
/* Mark one program descriptor's slot: calls through it fail with err. */
void elsewhere_mark_slot(struct fd_slot *s, int err);
/* Mark every descriptor of the file st describes. */
void elsewhere_mark(const struct stat *st, int err);
/* If fd is marked and its file is still used by the others, refuse `what` with the
 * mark's errno (reported once per file) and return true; if they are gone, clear
 * the mark and return false. */
bool elsewhere_refused(int fd, const char *what);

#endif
