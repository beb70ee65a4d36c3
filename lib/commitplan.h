/* commitplan.h -- what one commit changes: the byte ranges of the data file that
 * differ from the working copy, with their new and old bytes, and what a shrink
 * cuts off.  The protocol that applies a plan is commit.c's. */
#ifndef FAMS_COMMITPLAN_H
#define FAMS_COMMITPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "file.h"
#include "jformat.h"
#include "snapshot.h"

/* Copy the dirty pages of [first, last) (pages) out of f's working copy, as they
 * are now, with the size.  The commit lock is held and the pages collected.  -1
 * with errno. */
int snapshot_take(struct fams_snapshot *s, const struct fams_file *f, uint64_t first, uint64_t last);
void snapshot_free(struct fams_snapshot *s);

struct commit_plan {
	struct fams_jextent *ext; /* the journal's extents: changed ranges, then cut ones */
	const char **undo;        /* per extent: its old bytes, or NULL (cut: in the data file) */
	const char **newb;        /* per changed range: its new bytes */
	size_t n, cap, written;   /* extents, room, of which changed ranges */
	struct page_run *runs;
	size_t nruns, runs_cap;
	char *newbuf, *oldbuf;    /* one stable copy of the dirty pages, new and old (in f's
				   * plan_buf, kept between commits) */
	uint64_t new_bytes;       /* bytes the changed ranges write */
};

/* Compare the suspect pages of [first, last) (every page, when all: the compare
 * tracker) with the data file; the ones that differ become dirty, and none stays
 * suspect.  Past the data file's end a page is compared with zeros (the commit
 * brings zeros there: a growth).  -1 with errno. */
int plan_compare_suspects(struct fams_file *f, uint64_t first, uint64_t last, bool all);

/* The pages a plan took (its runs'). */
uint64_t plan_page_count(const struct commit_plan *pl);

/* Plan the dirty pages of [first, last) (pages) of f for a commit from sz.old_size
 * to sz.new_size: copy their bytes out of the working copy once (other threads may
 * keep writing; everything hashed, journaled and written comes from this copy) --
 * or take them from snap, when it is a snapshot's commit --, read the data file's
 * bytes there, and keep the ranges that differ, so the journal holds, and the data
 * file is written, only what changed.  A page written with the bytes it had costs
 * nothing.  -1 with errno. */
int plan_pages(struct commit_plan *pl, struct fams_file *f, uint64_t first, uint64_t last,
	       struct fams_jsizes sz, const struct fams_snapshot *snap);

/* Add what a shrink from sz.old_size to sz.new_size cuts off where the data file
 * holds data; its old bytes stay in the data file until the journal takes them
 * (a hole comes back as zeros when a rollback regrows the file).  -1 with errno. */
int plan_cut(struct commit_plan *pl, const struct fams_file *f, struct fams_jsizes sz);

void plan_free(struct commit_plan *pl);

#endif
