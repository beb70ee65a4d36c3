/* commitlock.h -- the commit lock of a managed file: one robust mutex in the state
 * every process using the file shares (shared.h), serializing commits and size
 * changes across all of them; its next holder repairs after a holder that died
 * (commitlock.c gives the steps). */
#ifndef FAMS_COMMITLOCK_H
#define FAMS_COMMITLOCK_H

#include "file.h"

/* Take f's commit lock; if its last holder died, repair first.  0, or -1 with
 * errno and a fams: line (the lock is not held then). */
int fams_commit_lock(struct fams_file *f);
void fams_commit_unlock(struct fams_file *f);

#endif
