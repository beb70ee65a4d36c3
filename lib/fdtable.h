/* fdtable.h -- what fams knows of each descriptor number of this process: a
 * program descriptor of a managed file, of a file used by processes this one could
 * not join, or one of fams's own.  Protected by the registry lock (registry.h). */
#ifndef FAMS_FDTABLE_H
#define FAMS_FDTABLE_H

#include <stdbool.h>
#include <sys/types.h>

#include "file.h"

struct fd_slot {
	struct fams_file *file; /* a program descriptor of a managed file (fd_point keeps file->nfds) */
	int *internal;          /* one of ours: where its number is stored */
	int elsewhere;          /* a program descriptor of a file used under fams by processes
				 * this one could not join: the errno its calls fail with */
};

/* The slot of fd; with create, grows the table (NULL when out of memory). */
struct fd_slot *fd_slot(int fd, bool create);
/* Point a program descriptor's slot at managed file f (NULL: at none). */
void fd_point(struct fd_slot *s, struct fams_file *f);
/* Mark the descriptor stored at *where as fams's own (or forget it). */
void fd_internal_add(int *where);
void fd_internal_drop(int fd);
/* f's own descriptors (data file, working copy, journal): mark them ours, or forget them. */
void fd_file_internals(struct fams_file *f, bool add);
/* The tracker's descriptors, where they are now (a move swaps two of them,
 * trackswitch.c): mark them ours, or forget them. */
void fd_tracker_internals(bool add);
/* The managed file program descriptor fd refers to, or NULL.  A slot can outlive
 * its descriptor (fclose, and anything else that closes without calling close(),
 * leaves it behind): before its file is trusted, fd must still name that file, or
 * a pipe or log file that reused the number would read and write the working copy.
 * A slot found stale is cleared and *dropped set: the caller retires what is unused. */
struct fams_file *fd_file(int fd, bool *dropped);
/* Call fn on the slot of every program descriptor open on the file (dev, ino). */
void fd_each_of(dev_t dev, ino_t ino, void (*fn)(struct fd_slot *s, void *ctx), void *ctx);
/* A file just became managed: every descriptor the program already has on it
 * must now read and write the working copy. */
void fd_adopt_all(struct fams_file *f);
/* No program descriptor refers to f any more (it is retired), or to any file (shutdown). */
void fd_forget_file(struct fams_file *f);
void fd_forget_all(void);

#endif
