/* elsewhere.h -- files another process manages: the descriptors of them this
 * process may not read, write or map while it does.  Under the registry lock. */
#ifndef FAMS_ELSEWHERE_H
#define FAMS_ELSEWHERE_H

#include <stdbool.h>
#include <sys/stat.h>

/* A descriptor was ever marked (read without the lock: a hint that only ever
 * turns true, for the pass-through test of private mappings). */
extern bool fams_any_elsewhere;

struct fd_slot;
/* Mark one program descriptor's slot as a file managed elsewhere. */
void elsewhere_mark_slot(struct fd_slot *s);
/* Mark every descriptor of the file st describes. */
void elsewhere_mark(const struct stat *st);
/* If fd is marked and its file is still managed elsewhere, refuse `what` with EBUSY
 * (reported once per file) and return true; if the other process is gone, clear
 * the mark and return false. */
bool elsewhere_refused(int fd, const char *what);

#endif
