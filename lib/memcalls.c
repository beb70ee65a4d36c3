/* memcalls.c -- what each interposed memory call does to mappings of managed files:
 * mmap (served from the working copy), munmap/mremap/mmap(MAP_FIXED) (commit what
 * they drop), msync (a commit point), mprotect (follow it; a shadow made writable
 * first becomes managed), madvise (never lose the record of a write).  Each holds
 * the registry lock. */
#include "fams.h"
#include "dirty.h"
#include "elsewhere.h"
#include "fdtable.h"
#include "log.h"
#include "maptable.h"
#include "registry.h"
#include "shadow.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif

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

/* Before [s, e) is unmapped or replaced: commit what it holds. */
static void prepare_drop(uintptr_t s, uintptr_t e, const char *what)
{
	for (struct fams_map *m = fams_maps; m; m = m->next) {
		if (!map_overlaps(m, s, e) || m->f->inherited)
			continue;
		uintptr_t a = m->start > s ? m->start : s, b = m->end < e ? m->end : e;
		uint64_t lo = m->off + (a - m->start), hi = m->off + (b - m->start);
		dirty_harvest(m, a, b);
		if (fams_file_commit(m->f, lo, hi) < 0)
			fams_error("%s: %s could not commit its changes (%s); they are kept and committed "
				   "at the next msync, fsync or exit", m->f->path, what, strerror(errno));
	}
}

void *fams_on_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, int *handled)
{
	*handled = 0;
	const bool fixed = flags & MAP_FIXED;
	const bool anon = (flags & MAP_ANONYMOUS) || fd < 0;
	if (fams_down || (anon && !(fixed && (fams_maps || fams_shadows))))
		return NULL;
	const int type = flags & MAP_TYPE;
	const bool shared = type == MAP_SHARED || type == MAP_SHARED_VALIDATE;
	/* A private mapping needs the working copy only if the file is managed (or the
	 * refusal, if another process manages it). */
	if (!shared && !registry_any() && !fams_any_elsewhere && !(fixed && (fams_maps || fams_shadows)))
		return NULL;
	struct stat st;
	if (!anon && (fams_raw_fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)))
		return NULL;
	const bool rdwr = !anon && shared && fd_is_rdwr(fd);

	int saved = errno;
	void *ret = NULL;
	fams_lock();
	struct fams_file *f = anon ? NULL : registry_find(st.st_dev, st.st_ino);
	if (f && f->inherited && shared) {
		fams_error("%s: mapping a file that the parent process manages is not supported in a forked child",
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
	if (to_manage) {
		f = registry_manage(fd, &st);
		if (!f && errno) {
			if (errno == EBUSY) /* another process manages it: see mark_elsewhere */
				elsewhere_mark(&st);
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
		if (want_shadow && elsewhere_held(fd, &st)) {
			/* It would show only the other process's committed bytes. */
			elsewhere_mark(&st);
			elsewhere_refused(fd, "a read-only shared mmap");
			*handled = 1;
			ret = MAP_FAILED;
			goto out;
		}
		if (!over_managed && !over_shadow && !want_shadow)
			goto out;
		if (over_managed)
			prepare_drop(a, b, "mmap(MAP_FIXED) over a mapping");
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
		prepare_drop((uintptr_t)addr, (uintptr_t)addr + len, "mmap(MAP_FIXED) over a mapping");
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
		/* Private mappings never change the file; they need no record. */
		struct fams_map *m = map_add(s, e, (uint64_t)off, prot, f);
		if (m)
			m->maywrite = rdwr;
		if (!m || dirty_track(m, s, e) < 0) {
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
	fams_unlock();
	return ret;
}

/* The frame of a memory call over [s, e): enter_range() takes the registry lock
 * when the range touches a managed mapping (or, with shadows, a shadow) and says
 * so; otherwise the call is not fams's and the lock is not held.  The call then
 * ends with registry_leave(). */
static bool enter_range(uintptr_t s, uintptr_t e, bool shadows)
{
	fams_lock();
	if (map_any_overlap(s, e) || (shadows && map_shadow_overlap(s, e)))
		return true;
	fams_unlock();
	return false;
}

/* munmap over [addr, addr+len), which touches managed mappings or shadows. */
static int unmap_range(void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr;
	if ((s & ((uintptr_t)fams_page_size - 1)) || len == 0) {
		errno = EINVAL;
		return -1;
	}
	uintptr_t e = s + fams_page_round(len);
	prepare_drop(s, e, "munmap");
	if (fams_raw_munmap(addr, len) < 0)
		return -1;
	map_forget_range(s, e);
	registry_retire_unused();
	return 0;
}

int fams_on_munmap(void *addr, size_t len, int *handled)
{
	int saved = errno;
	uintptr_t s = (uintptr_t)addr;
	*handled = (fams_maps || fams_shadows) && enter_range(s, s + len, true);
	return *handled ? (int)registry_leave(unmap_range(addr, len), saved) : 0;
}

void *fams_on_mremap(void *old, size_t oldlen, size_t newlen, int flags, void *new_addr, int *handled)
{
	*handled = 0;
	if (!fams_maps && !fams_shadows)
		return NULL;
	uintptr_t os = (uintptr_t)old, oe = os + fams_page_round(oldlen);
	uintptr_t nlen = fams_page_round(newlen);
	void *ret = NULL;
	int saved = errno;
	fams_lock();
	struct fams_map *m = NULL;
	for (struct fams_map *it = fams_maps; it; it = it->next)
		if (it->start <= os && os < it->end)
			m = it;
	struct fams_map *sm = NULL;
	for (struct fams_map *it = fams_shadows; it && !m; it = it->next)
		if (it->start <= os && os < it->end)
			sm = it;
	const uintptr_t ds = (uintptr_t)new_addr, de = ds + nlen;
	bool dest_overlap = (flags & MREMAP_FIXED) && (map_any_overlap(ds, de) || map_shadow_overlap(ds, de));
	if (!m && !sm && !dest_overlap)
		goto out;
	*handled = 1;
	if (m && ((flags & MREMAP_DONTUNMAP) || oldlen == 0 || oe > m->end)) {
		fams_error("%s: this mremap of a managed mapping (flags %#x, %zu bytes) is not supported",
			   m->f->path, flags, oldlen);
		saved = EINVAL;
		ret = MAP_FAILED;
		goto out;
	}
	struct fams_file *f = m ? m->f : NULL;
	uint64_t off = m ? m->off + (os - m->start) : 0;
	if (m) {
		dirty_harvest(m, os, oe);
		if (nlen < oe - os && !f->inherited &&
		    fams_file_commit(f, off + nlen, off + (oe - os)) < 0)
			fams_error("%s: mremap could not commit the part it drops (%s); kept for the next commit",
				   f->path, strerror(errno));
	}
	if (dest_overlap)
		prepare_drop((uintptr_t)new_addr, (uintptr_t)new_addr + nlen, "mremap over a mapping");
	ret = fams_raw_mremap(old, oldlen, newlen, flags, new_addr);
	if (ret == MAP_FAILED) {
		saved = errno;
		goto out;
	}
	if (dest_overlap)
		map_forget_range(ds, de);
	if (sm && !(flags & MREMAP_DONTUNMAP)) {
		/* A shadow moves (or changes size) with its mapping. */
		struct fams_map moved = *sm;
		map_forget_in(&fams_shadows, os, oe > sm->end ? sm->end : oe);
		struct fams_map *n = map_push(&fams_shadows, (uintptr_t)ret, (uintptr_t)ret + nlen,
					      moved.off + (os - moved.start), moved.prot, NULL);
		if (n) {
			n->key = moved.key;
			n->maywrite = moved.maywrite;
		}
	}
	if (m) {
		/* f stays alive across the swap of records: only retire_unmapped frees. */
		int prot = m->prot;
		bool maywrite = m->maywrite;
		map_forget_range(os, oe);
		struct fams_map *nm = map_add((uintptr_t)ret, (uintptr_t)ret + nlen, off, prot, f);
		if (nm) {
			nm->maywrite = maywrite;
			if ((uintptr_t)ret != os)
				dirty_rearm(nm, nm->start, nm->end);
			else if (nlen > oe - os)
				dirty_rearm(nm, os + (oe - os), nm->end);
		}
	}
	registry_retire_unused();
out:
	fams_unlock();
	errno = saved;
	return ret;
}

/* msync over [addr, addr+len), which touches managed mappings. */
static int sync_range(void *addr, size_t len, int flags)
{
	uintptr_t s = (uintptr_t)addr, e = s + len;
	int err = 0;
	/* The kernel checks the arguments exactly as for a plain msync (EINVAL, ENOMEM,
	 * EBUSY); on the working copy the call itself writes nothing anywhere. */
	if (syscall(SYS_msync, addr, len, flags) < 0)
		return -1;
	/* Every msync is a commit point (MS_ASYNC too: an atomic state the program
	 * chose); MS_INVALIDATE has nothing to do, all mappings share one copy.  Each
	 * file is committed atomically on its own, over the span the range covers. */
	for (struct fams_map *m = fams_maps; m; m = m->next) {
		if (!map_overlaps(m, s, e))
			continue;
		struct fams_file *f = m->f;
		uint64_t lo = UINT64_MAX, hi = 0;
		for (struct fams_map *k = m; k; k = k->next) {
			if (k->f != f || !map_overlaps(k, s, e))
				continue;
			uintptr_t a = k->start > s ? k->start : s, b = k->end < e ? k->end : e;
			uint64_t klo = k->off + (a - k->start), khi = k->off + (b - k->start);
			lo = klo < lo ? klo : lo;
			hi = khi > hi ? khi : hi;
		}
		bool done_before = false;
		for (struct fams_map *k = fams_maps; k != m; k = k->next)
			if (k->f == f && map_overlaps(k, s, e))
				done_before = true;
		if (done_before)
			continue;
		if (registry_commit(f, lo, hi, "msync") < 0 && err == 0)
			err = errno; /* the first failure is the call's; the other files still commit */
	}
	errno = err;
	return err ? -1 : 0;
}

int fams_on_msync(void *addr, size_t len, int flags, int *handled)
{
	int saved = errno;
	uintptr_t s = (uintptr_t)addr;
	*handled = fams_maps && enter_range(s, s + len, false);
	return *handled ? (int)registry_leave(sync_range(addr, len, flags), saved) : 0;
}

/* Make the shadows in [s, e) writable-capable: each one's file becomes managed and
 * every shadow of it moves onto the working copy.  A shadow whose descriptor was
 * read-only is left alone: the kernel refuses PROT_WRITE on it, as it would anyway.
 * The file is reopened by the name the kernel shows for the mapping, and used only
 * if it is still the same inode. */
static int manage_shadows(uintptr_t s, uintptr_t e)
{
	for (;;) {
		struct fams_map *m = fams_shadows;
		while (m && !(map_overlaps(m, s, e) && m->maywrite))
			m = m->next;
		if (!m)
			return 0;
		char path[PATH_MAX];
		int fd = -1;
		if (mapped_path(m->start, path, sizeof path))
			fd = fams_sys.os_openat(AT_FDCWD, path, O_RDWR | O_CLOEXEC, 0);
		else
			errno = ENOENT;
		struct stat st;
		if (fd >= 0 && fams_raw_fstat(fd, &st) == 0 && st.st_dev == m->key.dev && st.st_ino == m->key.ino) {
			struct fams_file *f = registry_find(st.st_dev, st.st_ino);
			if (f)
				shadow_adopt(f);
			else
				f = registry_manage(fd, &st);
			int saved = errno;
			fams_raw_close(fd);
			struct fd_slot *slot = fd_slot(fd, false);
			if (slot)
				fd_point(slot, NULL); /* fd was ours for a moment, not the program's */
			if (!f && saved) {
				errno = saved;
				return -1;
			}
			if (!f) /* excluded by FAMS_INCLUDE/EXCLUDE: not ours to follow */
				map_forget_in(&fams_shadows, m->start, m->end);
			continue; /* m is gone from the shadows either way */
		}
		int saved = fd < 0 ? errno : ESTALE;
		if (fd >= 0)
			fams_raw_close(fd);
		fams_error("cannot make a read-only shared mapping at %p writable: its file can no longer be "
			   "reopened by name (%s), and writes must not bypass the journal",
			   (void *)m->start, strerror(saved));
		errno = EACCES;
		return -1;
	}
}

/* mprotect over [addr, addr+len), which touches managed mappings or shadows. */
static int protect_range(void *addr, size_t len, int prot)
{
	uintptr_t s = (uintptr_t)addr, e = s + fams_page_round(len);
	if (prot & PROT_WRITE) {
		/* The working copy is always writable; the program's descriptor may not
		 * have been.  Refuse as the kernel would have. */
		for (struct fams_map *m = fams_maps; m; m = m->next) {
			if (map_overlaps(m, s, e) && !m->maywrite) {
				errno = EACCES;
				return -1;
			}
		}
		if (map_shadow_overlap(s, e) && manage_shadows(s, e) < 0)
			return -1;
	}
	if (fams_raw_mprotect(addr, len, prot) < 0)
		return -1;
	/* Follow the protection: a forked child remaps with it, mremap carries it. */
	map_set_prot(&fams_maps, s, e, prot);
	map_set_prot(&fams_shadows, s, e, prot);
	return 0;
}

int fams_on_mprotect(void *addr, size_t len, int prot, int *handled)
{
	int saved = errno;
	uintptr_t s = (uintptr_t)addr;
	*handled = (fams_maps || fams_shadows) && enter_range(s, s + fams_page_round(len), true);
	return *handled ? (int)registry_leave(protect_range(addr, len, prot), saved) : 0;
}

static bool advice_discards(int advice)
{
	switch (advice) {
	case MADV_DONTNEED:
	case MADV_DONTNEED_LOCKED:
	case MADV_REMOVE:
	case MADV_FREE:
	case MADV_COLD:
	case MADV_PAGEOUT:
		return true;
	}
	return false;
}

/* madvise over [addr, addr+len), which touches managed mappings, with advice
 * that discards pages. */
static int advise_range(void *addr, size_t len, int advice)
{
	uintptr_t s = (uintptr_t)addr, e = s + len;
	/* Collect what was written first: the advice may drop the kernel's record of it
	 * (never the bytes: they live in the working copy, not in these page tables). */
	for (struct fams_map *m = fams_maps; m; m = m->next)
		if (map_overlaps(m, s, e))
			dirty_harvest(m, s, e);
	if (fams_raw_madvise(addr, len, advice) < 0)
		return -1;
	for (struct fams_map *m = fams_maps; m; m = m->next) {
		if (!map_overlaps(m, s, e))
			continue;
		uintptr_t a = m->start > s ? m->start : s, b = m->end < e ? m->end : e;
		/* MADV_REMOVE frees the range of the working copy, as it would free the
		 * file's blocks: the zeros reach the file at the next commit. */
		if (advice == MADV_REMOVE)
			fams_file_mark(m->f, m->f->dirty, m->off + (a - m->start), b - a);
		dirty_rearm(m, a, b);
	}
	return 0;
}

int fams_on_madvise(void *addr, size_t len, int advice, int *handled)
{
	int saved = errno;
	uintptr_t s = (uintptr_t)addr;
	*handled = fams_maps && advice_discards(advice) && enter_range(s, s + len, false);
	return *handled ? (int)registry_leave(advise_range(addr, len, advice), saved) : 0;
}
