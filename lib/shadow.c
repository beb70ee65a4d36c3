/* shadow.c -- shadows: read-only shared mappings of files that are not managed,
 * followed so that they move onto the working copy when their file becomes managed
 * (every mapping must see the same bytes).  Under the registry lock. */
#include "shadow.h"
#include "commitlock.h"
#include "dirty.h"
#include "fams.h"
#include "log.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int fams_shadows_live;

/* A file just became managed: its read-only shared mappings must now show the
 * working copy too.  Its contents equal the file's at this moment, so readers see
 * no change; from now on they see the program's writes as they happen. */
void shadow_adopt(struct fams_file *f)
{
	struct fams_map **pp = &fams_shadows;
	while (*pp) {
		struct fams_map *m = *pp;
		if (memcmp(&m->key, &f->key, sizeof f->key) != 0) {
			pp = &m->next;
			continue;
		}
		*pp = m->next;
		void *r = fams_raw_mmap((void *)m->start, m->end - m->start, m->prot, MAP_SHARED | MAP_FIXED,
					f->memfd, (off_t)m->off);
		m->f = f;
		f->nmaps++;
		f->maps_changed = true; /* published before the program runs on (registry_publish_maps) */
		int tracked = -1;
		if (r != MAP_FAILED && fams_commit_lock(f) == 0) {
			tracked = dirty_track(m, m->start, m->end); /* protected as of the shared size */
			fams_commit_unlock(f);
		}
		if (tracked < 0) {
			fams_error("%s: a read-only mapping at %p could not be moved onto the working copy (%s); "
				   "it shows only committed contents", f->path, (void *)m->start, strerror(errno));
			map_free(m);
			continue;
		}
		m->next = fams_maps;
		fams_maps = m;
	}
}

/* Remember a shared mapping of an unmanaged regular file (see fams_shadows).  Cheap:
 * the path is looked up only if mprotect ever asks for PROT_WRITE. */
void shadow_add(uintptr_t s, size_t len, off_t off, int prot, bool maywrite, const struct stat *st)
{
	uintptr_t e = s + fams_page_round(len);
	struct fams_map *m = map_push(&fams_shadows, s, e, (uint64_t)off, prot, NULL);
	if (!m)
		return;
	m->key = (struct fams_file_key){ 0 };
	m->key.dev = st->st_dev;
	m->key.ino = st->st_ino;
	m->maywrite = maywrite;
	__atomic_store_n(&fams_shadows_live, 1, __ATOMIC_RELEASE);
}

struct path_at {
	uintptr_t addr;
	char *path;
	size_t cap;
};

static bool names_file_at(uintptr_t lo, uintptr_t hi, int prot, const char *name, void *ctx)
{
	struct path_at *w = ctx;
	if (lo > w->addr || w->addr >= hi || name[0] != '/')
		return false;
	snprintf(w->path, w->cap, "%s", name);
	return true;
}

/* The path of the file mapped at addr, from /proc/self/maps; false if none. */
bool mapped_path(uintptr_t addr, char *path, size_t cap)
{
	struct path_at w = { addr, path, cap };
	return fams_maps_each(names_file_at, &w);
}
