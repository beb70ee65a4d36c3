/* fdframe.h -- the frame of every interposed call on a descriptor: the managed file
 * it names, the registry lock taken, the calls refused that may not be made. */
#ifndef FAMS_FDFRAME_H
#define FAMS_FDFRAME_H

#include <stdbool.h>

#include "file.h"

/* The managed file program descriptor fd names, trusting its slot only while fd
 * still names that file; NULL if none.  The registry lock is held. */
struct fams_file *fdframe_file(int fd);

/* Take the registry lock and return the managed file fd names; NULL when the call
 * is not fams's (*handled = 0: it goes to the kernel) or is refused (*handled = 1,
 * errno set: the file is used by processes this one may not share it with, or, for
 * calls that change it (`changes`), this is a forked child cut off from it).  A
 * call that is never refused passes what = NULL.  The call then ends with
 * registry_leave(). */
struct fams_file *fdframe_enter(int fd, const char *what, bool changes, int *handled);

/* The result of a call fdframe_enter did not give a file: pass through, or refused. */
#define FDFRAME_NOT_DONE(handled) ((handled) ? -1 : 0)

/* fd's open flags, or -1 with EBADF when it was opened only for `refused`
 * (O_WRONLY: it cannot read; O_RDONLY: it cannot write), as the kernel says. */
int fdframe_flags_except(int fd, int refused);

#endif
