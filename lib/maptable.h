/* maptable.h -- this process's records of its mappings of managed files' working
 * copies, and of the read-only shared mappings it follows as shadows.  Every list
 * and record is protected by the registry lock (registry.h). */
#ifndef FAMS_MAPTABLE_H
#define FAMS_MAPTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "file.h"

struct fams_map {
	uintptr_t start, end; /* page aligned */
	uint64_t off;         /* file offset of start */
	int prot;             /* current protection (mprotect is followed) */
	bool maywrite;        /* its descriptor was O_RDWR: mprotect may add PROT_WRITE */
	bool untracked;       /* re-arming its tracking failed: compared at every commit */
	bool holes_open;      /* asynchronous tracker: it may show holes of the working copy
			       * left unprotected (dirty.c, holes_untracked) */
	bool dontfork;        /* MADV_DONTFORK: a forked child does not have it */
	bool quiet;           /* scanned whole, and no page of it written since, unless this
			       * process has taken a page fault since (dirty.c) ... */
	uint64_t quiet_faults; /* ... which it had taken quiet_faults of before that scan */
	struct fams_file *f;  /* NULL for a shadow record */
	struct fams_map *next;
	struct fams_file_key key; /* shadow records only: the file's identity */
};

/* Mappings of managed files. */
extern struct fams_map *fams_maps;
/* Shadows: shared mappings of regular files that are not managed, because they were
 * mapped read-only.  Remembered so that they move onto the working copy when the
 * file becomes managed (every mapping must see the same bytes) or when mprotect
 * makes one writable (its writes must go through a commit, never straight to the
 * file). */
extern struct fams_map *fams_shadows;

bool map_overlaps(const struct fams_map *m, uintptr_t s, uintptr_t e);
bool map_any_overlap(uintptr_t s, uintptr_t e);
bool map_shadow_overlap(uintptr_t s, uintptr_t e);
/* A new record at the head of list (f->nmaps counts it); NULL when out of memory. */
struct fams_map *map_push(struct fams_map **list, uintptr_t s, uintptr_t e, uint64_t off, int prot,
			  struct fams_file *f);
struct fams_map *map_add(uintptr_t s, uintptr_t e, uint64_t off, int prot, struct fams_file *f);
void map_free(struct fams_map *m);
bool map_split(struct fams_map **list, uintptr_t addr);
/* Join to m the records that continue it -- the next part of the same file, at the
 * next address, with the same protection and the same maywrite -- as the kernel
 * joins the areas (after an mprotect of a part and back, say); the flags that make
 * a commit compare are taken from either. */
void map_join(struct fams_map **list, struct fams_map *m);
/* Drop the records of [s, e) from a list, or from both lists. */
void map_forget_in(struct fams_map **list, uintptr_t s, uintptr_t e);
void map_forget_range(uintptr_t s, uintptr_t e);
/* Call fn on the part of each mapping of f that shows the file range [lo, hi). */
void map_each_of_file(struct fams_file *f, uint64_t lo, uint64_t hi,
		      void (*fn)(struct fams_map *m, uintptr_t s, uintptr_t e));
/* Follow mprotect: a forked child remaps with the protection, mremap carries it. */
void map_set_prot(struct fams_map **list, uintptr_t s, uintptr_t e, int prot);
/* Follow MADV_DONTFORK (on) and MADV_DOFORK (off). */
void map_set_dontfork(struct fams_map **list, uintptr_t s, uintptr_t e, bool on);
/* A forked child: drop the records of areas it did not inherit (MADV_DONTFORK). */
void map_forget_dontfork(struct fams_map **list);

#endif
