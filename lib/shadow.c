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

/* The path of the file mapped at addr, from /proc/self/maps; false if none. */
bool mapped_path(uintptr_t addr, char *path, size_t cap)
{
	int fd = fams_sys.os_openat(AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return false;
	static char buf[1 << 16]; /* under the registry lock */
	size_t have = 0;
	bool found = false;
	for (;;) {
		ssize_t n = fams_raw_read(fd, buf + have, sizeof buf - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		char *line = buf, *nl;
		while ((nl = strchr(line, '\n'))) {
			*nl = '\0';
			unsigned long lo, hi;
			int name_at = 0;
			if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &name_at) == 2 && lo <= addr &&
			    addr < hi && name_at > 0 && line[name_at] == '/') {
				snprintf(path, cap, "%s", line + name_at);
				found = true;
				goto done;
			}
			line = nl + 1;
		}
		have = (size_t)(buf + have - line);
		memmove(buf, line, have);
		if (have == sizeof buf - 1)
			break; /* a line longer than the buffer: give up */
	}
done:
	fams_raw_close(fd);
	return found;
}
