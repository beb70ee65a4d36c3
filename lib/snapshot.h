/* snapshot.h -- a file's dirty pages as they were at an asynchronous commit point
 * (msync with MS_ASYNC), to be committed later as that state (asynccommit.h). */
#ifndef FAMS_SNAPSHOT_H
#define FAMS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

/* A run of dirty pages [first, last). */
struct page_run {
	uint64_t first, last;
};

struct fams_snapshot {
	uint64_t size;        /* the working copy's size then */
	uint64_t base_others; /* the file's commits then (sh->commits) but this process's
			       * snapshots' (f->snapshot_commits) */
	struct page_run *runs;
	size_t nruns, runs_cap;
	char *bytes;        /* the runs' bytes, in order, clipped to size */
};

#endif
