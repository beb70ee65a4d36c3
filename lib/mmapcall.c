/* mmapcall.c -- what mmap does to a managed file: a writable shared mapping makes
 * it managed, and every mapping of it is served from its working copy, after the
 * kernel has judged the call against the file itself.  Holds the registry lock. */
#include "fams.h"
#include "commit.h"
#include "dirty.h"
#include "elsewhere.h"
#include "log.h"
#include "maptable.h"
#include "registry.h"
#include "shadow.h"
#include "streams.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/mman.h>

/* Whether fd was opened for reading and writing (only such a shared mapping can
 * be, or become, writable). */
static bool fd_is_rdwr(int fd)
{
	return (fams_raw_fcntl(fd, F_GETFL, 0) & O_ACCMODE) == O_RDWR;
}

/* Whether the kernel would map the data file as the program asks.  The working
 * copy is a memfd: it would accept calls the file refuses (a read-only or
 * append-only descriptor with PROT_WRITE, PROT_EXEC on a noexec mount, MAP_SYNC on
 * a file not on persistent memory, a flag the kernel does not know), so the kernel
 * judges the call against the file itself, at an address of its own choosing (a
 * refused call leaves nothing behind) and without populating or locking it.
 * 0, or -1 with the kernel's errno. */
static int kernel_accepts(size_t len, int prot, int flags, int fd, off_t off)
{
	const int placement = MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_POPULATE | MAP_LOCKED;
	void *probe = fams_raw_mmap(NULL, len, prot, flags & ~placement, fd, off);
	if (probe == MAP_FAILED)
		return -1;
	fams_raw_munmap(probe, len);
	return 0;
}

/* Map f's working copy where and as the program asked (kernel_accepts said yes).
 * The flags are unchanged: MAP_SHARED_VALIDATE makes the memfd refuse MAP_SYNC too,
 * even for a file on persistent memory, since stores durable without msync are
 * exactly what fams cannot give (PMDK then falls back to msync, which fams makes
 * atomic); MAP_FIXED_NOREPLACE and MAP_FIXED place it as they would have. */
static void *map_working_copy(struct fams_file *f, void *addr, size_t len, int prot, int flags, off_t off)
{
	void *ret = fams_raw_mmap(addr, len, prot, flags, f->memfd, off);
	if (ret == MAP_FAILED && (flags & MAP_SYNC) && (flags & MAP_TYPE) == MAP_SHARED_VALIDATE &&
	    errno == EOPNOTSUPP)
		fams_warn("%s: MAP_SYNC refused (EOPNOTSUPP): stores that are durable without msync "
			  "cannot be made atomic; use msync", f->path);
	return ret;
}

/* Hold a free range [addr, addr + len) with an inaccessible reservation; false if
 * any of it is in use (or the kernel cannot place a mapping without replacing).
 * Keeps errno. */
static bool reserve_range(void *addr, size_t len)
{
	int saved = errno;
	void *r = fams_raw_mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
				-1, 0);
	if (r != MAP_FAILED && r != addr)
		fams_raw_munmap(r, len); /* a kernel before 4.17 took the address as a hint */
	errno = saved;
	return r == addr;
}

void *fams_on_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, int *handled)
{
	*handled = 0;
	const bool fixed = flags & MAP_FIXED;
	const bool anon = (flags & MAP_ANONYMOUS) || fd < 0;
	if (fams_hint(fams_down) || (anon && !(fixed && (fams_hint(fams_maps) || fams_hint(fams_shadows)))))
		return NULL;
	const int type = flags & MAP_TYPE;
	const bool shared = type == MAP_SHARED || type == MAP_SHARED_VALIDATE;
	/* A private mapping needs the working copy only if the file is managed (or the
	 * refusal, if processes this one could not join use it). */
	if (!shared && !registry_any() && !fams_hint(fams_any_elsewhere) && !(fixed && (fams_hint(fams_maps) || fams_hint(fams_shadows))))
		return NULL;
	struct stat st;
	if (!anon && (fams_raw_fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)))
		return NULL;
	const bool rdwr = !anon && shared && fd_is_rdwr(fd);

	int saved = errno;
	void *ret = NULL;
	fams_lock();
	/* Ordering: MAP_FIXED into a range that is free now (a program that unmapped a
	 * reservation to map a file there) holds the range before fams allocates
	 * anything for the call -- its records, a working copy's state, a tracker
	 * thread's stack -- which the kernel could place there, for the program's
	 * mapping to replace (fams's memory then lives in the program's mapping: a
	 * write-protected record stops the tracker's own thread).  The final mapping
	 * replaces the reservation; any other outcome removes it. */
	const bool reserved = fixed && !(flags & MAP_FIXED_NOREPLACE) && !anon && reserve_range(addr, len);
	struct fams_file *f = anon ? NULL : registry_find(st.st_dev, st.st_ino);
	if (f && f->cut_off && shared) {
		fams_error("%s: mapping it is refused in a forked child that could not share it with its parent",
			   f->path);
		*handled = 1;
		errno = EBUSY;
		ret = MAP_FAILED;
		goto out;
	}
	if (!f && !anon && elsewhere_refused(fd, "mmap")) {
		*handled = 1;
		ret = MAP_FAILED;
		goto out;
	}
	const bool to_manage = !f && rdwr && (prot & PROT_WRITE) && fs_is_persistent(fd);
	if ((f || to_manage) && kernel_accepts(len, prot, flags, fd, off) < 0) {
		/* Refused as without fams, and before the file becomes managed for nothing. */
		*handled = 1;
		ret = MAP_FAILED;
		goto out;
	}
	const char *stream;
	int stream_fd = to_manage ? streams_plain_writer(&st, &stream) : -1;
	if (stream_fd >= 0) {
		/* Its writes would change the data file around the working copy. */
		char path[PATH_MAX] = "?";
		fams_fd_path(fd, path, sizeof path);
		fams_error("%s: mapping it for writing refused (EBUSY): the program writes it through %s "
			   "(descriptor %d), whose writes fams cannot see", path, stream, stream_fd);
		*handled = 1;
		errno = EBUSY;
		ret = MAP_FAILED;
		goto out;
	}
	if (to_manage) {
		f = registry_manage(fd, &st);
		if (!f && errno) {
			elsewhere_mark(&st, errno); /* used by processes we could not join */
			*handled = 1;
			ret = MAP_FAILED;
			goto out;
		}
	}
	if (!f) {
		/* Not ours; but a MAP_FIXED mapping replaces whatever it lands on, and a
		 * read-only shared mapping of a regular file is remembered as a shadow. */
		const uintptr_t a = (uintptr_t)addr, b = a + len;
		const bool over_managed = fixed && map_any_overlap(a, b);
		const bool over_shadow = fixed && map_shadow_overlap(a, b);
		const bool want_shadow = !anon && shared && !(prot & PROT_WRITE) && fs_is_persistent(fd);
		if (!over_managed && !over_shadow && !want_shadow) {
			errno = saved; /* registry_manage may have cleared it (FAMS_EXCLUDE) */
			goto out;
		}
		if (over_managed)
			registry_commit_dropped(a, b, "mmap(MAP_FIXED) over a mapping");
		ret = fams_raw_mmap(addr, len, prot, flags, fd, off);
		*handled = 1;
		if (ret != MAP_FAILED) {
			if (fixed)
				map_forget_range(a, b);
			registry_retire_unused();
			if (want_shadow)
				shadow_add((uintptr_t)ret, len, off, prot, rdwr, &st);
		} else {
			saved = errno;
		}
		errno = saved;
		goto out;
	}

	/* A mapping of a managed file: serve it from the working copy. */
	*handled = 1;
	if (fixed && map_any_overlap((uintptr_t)addr, (uintptr_t)addr + len))
		registry_commit_dropped((uintptr_t)addr, (uintptr_t)addr + len, "mmap(MAP_FIXED) over a mapping");
	ret = map_working_copy(f, addr, len, prot, flags, off);
	if (ret == MAP_FAILED) {
		saved = errno;
		registry_retire_unused();
		errno = saved;
		goto out;
	}
	uintptr_t s = (uintptr_t)ret, e = s + fams_page_round(len);
	if (fixed)
		map_forget_range(s, e);
	if (shared) {
		/* Private mappings never change the file; they need no record.  The new
		 * mapping is protected as of the shared size, under the commit lock. */
		struct fams_map *m = map_add(s, e, (uint64_t)off, prot, f);
		if (m)
			m->maywrite = rdwr;
		int tracked = -1;
		if (m && fams_commit_lock(f) == 0) {
			tracked = dirty_track(m, s, e);
			/* MAP_FIXED may have replaced a mapping another thread was storing into:
			 * such a store, between the new mapping and its protection, left no
			 * record -- compare the range once. */
			if (tracked == 0 && fixed)
				bits_mark_bytes(f->suspect, (uint64_t)off, e - s);
			fams_commit_unlock(f);
		}
		if (tracked < 0) {
			saved = errno;
			fams_error("%s: cannot track writes to a new mapping: %s", f->path, strerror(saved));
			map_forget_range(s, e);
			fams_raw_munmap(ret, e - s);
			registry_retire_unused();
			errno = saved;
			ret = MAP_FAILED;
			goto out;
		}
	}
	registry_retire_unused();
	errno = saved;
out:
	if (reserved && (!*handled || ret == MAP_FAILED)) {
		int keep = errno;
		fams_raw_munmap(addr, len);
		errno = keep;
	}
	registry_publish_maps();
	fams_unlock();
	return ret;
}

