/* file.h -- one managed data file: its working copy, dirty pages and journal.  Its
 * commit and size changes are commit.h's. */
#ifndef FAMS_FILE_H
#define FAMS_FILE_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <uthash.h>

#include "journal.h"

struct fams_file_key {
	dev_t dev;
	ino_t ino;
};

/* Locking (the order is written in registry.c): the file's own state -- size,
 * page bitmaps, journal, the commit and its flags -- is guarded by lock, taken by
 * the functions of file.h and commit.h; what this process knows of the file --
 * its descriptors and mappings (nmaps, nfds), inherited, its place in the registry
 * -- by the registry lock.  lock is the part that moves into memory shared between
 * processes when they share a file. */
struct fams_file {
	pthread_mutex_t lock;     /* this file's state; taken after the registry lock, never before */
	struct fams_file_key key; /* st_dev/st_ino as the program sees them */
	struct fams_identity id;  /* fsid/inode, as recorded in the journal */
	char path[PATH_MAX];
	int data_fd;              /* our own O_RDWR description of the data file */
	int memfd;                /* the working copy: one memory object per file */
	uint64_t size;            /* size of the working copy == size of the data file */
	uint64_t *dirty;          /* pages written and not yet committed */
	uint64_t *suspect;        /* pages whose tracking was interrupted: compare at commit */
	uint64_t bitmap_pages;    /* capacity of both bitmaps */
	struct fams_journal j;
	int nmaps;                /* mappings of the working copy in this process */
	int nfds;                 /* program descriptors of the file in this process */
	bool unlinked;            /* no name: nothing to recover after a crash, no journal */
	bool needs_flush;         /* the size changed since the data file was last flushed */
	bool needs_rollback;      /* a commit failed half-way and its rollback too */
	bool inherited;           /* we are a forked child; the parent owns this file */
	UT_hash_handle hh;
};

/* Start managing the regular file open as fd (st from fstat, path absolute):
 * acquire and recover its journal, then fill a working copy with its contents.
 * Returns NULL with errno on failure, with a "fams:" message. */
struct fams_file *fams_file_open(int fd, const struct stat *st, const char *path);

/* Make the page bitmaps cover a file of size bytes (new pages clean). */
int fams_file_bitmaps_fit(struct fams_file *f, uint64_t size);

/* Mark [off, off+len) of the working copy as written (write(2), fallocate, ...). */
void fams_file_mark(struct fams_file *f, uint64_t *bits, uint64_t off, uint64_t len);

/* Stop managing: close everything; remove the journal when asked (clean exit). */
void fams_file_close(struct fams_file *f, int remove_journal);

#endif
