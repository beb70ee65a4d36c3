/* dirty.c -- which pages of managed files were written, gathered from the tracker
 * for each mapping, and kept tracked across resizes and remappings.  Under the
 * registry lock. */
#include "dirty.h"
#include "commit.h"
#include "log.h"
#include "sys.h"
#include "tracker.h"

#include <errno.h>
#include <string.h>

static void on_written(void *ctx, uintptr_t s, uintptr_t e)
{
	struct fams_map *m = ctx;
	fams_file_mark(m->f, m->f->dirty, m->off + (s - m->start), e - s);
}

/* The end of the file in m's address range (m->start if m starts past it). */
static uintptr_t file_end_in(const struct fams_map *m)
{
	uint64_t file_end = fams_page_round(m->f->size);
	return file_end > m->off ? m->start + (uintptr_t)(file_end - m->off) : m->start;
}

/* Track writes to [s, e) of m: register all of it, write-protect only the pages
 * inside the file.  Protecting an unpopulated page leaves a marker in the page
 * table, and every truncate of the working copy walks the markers from the new end
 * to the end of each mapping: a 64 MiB mapping of a 6 MiB file (Kyoto Cabinet's
 * default) made each shrink cost ~0.5 ms.  Pages past the end cannot be touched
 * (SIGBUS); a resize that brings them inside protects them (protect_grown). */
int dirty_track(struct fams_map *m, uintptr_t s, uintptr_t e)
{
	if (fams_track_range((void *)s, e - s) < 0)
		return -1;
	uintptr_t inside = file_end_in(m);
	if (e > inside)
		e = inside;
	return s < e ? fams_protect_range((void *)s, e - s) : 0;
}

static void protect(struct fams_map *m, uintptr_t s, uintptr_t e)
{
	if (!m->f->inherited)
		fams_protect_range((void *)s, e - s);
}

/* f grew from old_size: protect the pages of its mappings that were past the old
 * end.  None of them can have been written (they faulted), so no write is lost;
 * the page holding the old end was inside the file and is protected already. */
static void protect_grown(struct fams_file *f, uint64_t old_size)
{
	map_each_of_file(f, fams_page_round(old_size), fams_page_round(f->size), protect);
}

/* Every size change of a managed file goes through here. */
int dirty_resize(struct fams_file *f, uint64_t new_size)
{
	uint64_t old_size = f->size;
	if (fams_file_resize(f, new_size) < 0)
		return -1;
	if (new_size > old_size)
		protect_grown(f, old_size);
	return 0;
}

/* Move the kernel's record of written pages in [s, e) of m into the file's bitmap.
 * If the kernel cannot say, the pages become suspect: compared at commit. */
void dirty_harvest(struct fams_map *m, uintptr_t s, uintptr_t e)
{
	if (s < m->start)
		s = m->start;
	if (e > m->end)
		e = m->end;
	/* Nothing past the end of the file can have been written (it faults), and
	 * scanning there would touch the page tables of all of a large mapping. */
	uintptr_t inside = file_end_in(m);
	if (e > inside)
		e = inside;
	if (s >= e || m->f->inherited)
		return;
	if (fams_harvest_range((void *)s, e - s, on_written, m) < 0) {
		fams_debug("dirty scan failed (%s); comparing instead", strerror(errno));
		fams_file_mark(m->f, m->f->suspect, m->off + (s - m->start), e - s);
		dirty_track(m, s, e);
	}
}

/* Re-arm tracking of [s, e) of m after an operation that may have lost it.  Writes
 * that land between the harvest before the operation and this call are caught by
 * comparing the range at the next commit. */
void dirty_rearm(struct fams_map *m, uintptr_t s, uintptr_t e)
{
	if (m->f->inherited || s >= e)
		return;
	dirty_track(m, s, e);
	fams_file_mark(m->f, m->f->suspect, m->off + (s - m->start), e - s);
}

void dirty_harvest_file(struct fams_file *f, uint64_t lo, uint64_t hi) { map_each_of_file(f, lo, hi, dirty_harvest); }
