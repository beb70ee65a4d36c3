/* memcalls.c -- what the other interposed memory calls do to mappings of managed
 * files (mmap is mmapcall.c's): munmap and mremap commit what they drop, msync is a
 * commit point, mprotect is followed (a shadow made writable first becomes
 * managed), madvise never loses the record of a write.  Each holds the registry
 * lock. */
#include "fams.h"
#include "asynccommit.h"
#include "dirty.h"
#include "commit.h"
#include "elsewhere.h"
#include "fdtable.h"
#include "log.h"
#include "maptable.h"
#include "member.h"
#include "process.h"
#include "registry.h"
#include "shadow.h"
#include "sys.h"
#include "tracker.h"

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
	registry_commit_dropped(s, e, "munmap");
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
	*handled = (fams_hint(fams_maps) || fams_hint(fams_shadows)) && enter_range(s, s + len, true);
	return *handled ? (int)registry_leave(unmap_range(addr, len), saved) : 0;
}

void *fams_on_mremap(void *old, size_t oldlen, size_t newlen, int flags, void *new_addr, int *handled)
{
	*handled = 0;
	if (!fams_hint(fams_maps) && !fams_hint(fams_shadows))
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
	if (m && oe > m->end)
		map_join(&fams_maps, m); /* the kernel's area may span records split by mprotect */
	if (m && ((flags & MREMAP_DONTUNMAP) || oldlen == 0 || oe > m->end)) {
		fams_error("%s: this mremap of a managed mapping (flags %#x, %zu bytes) is not supported",
			   m->f->path, flags, oldlen);
		saved = EINVAL;
		ret = MAP_FAILED;
		goto out;
	}
	struct fams_file *f = m ? m->f : NULL;
	uint64_t off = m ? m->off + (os - m->start) : 0;
	if (m && !f->cut_off) {
		if (fams_commit_lock(f) == 0) {
			dirty_harvest(m, os, oe);
			fams_commit_unlock(f);
		}
		if (nlen < oe - os)
			async_drain(f);
		if (nlen < oe - os && fams_file_commit(f, off + nlen, off + (oe - os)) < 0)
			fams_error("%s: mremap could not commit the part it drops (%s); kept for the next commit",
				   f->path, strerror(errno));
	}
	if (dest_overlap)
		registry_commit_dropped((uintptr_t)new_addr, (uintptr_t)new_addr + nlen, "mremap over a mapping");
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
		map_forget_in(&fams_shadows, os, oe); /* every record of the area, split or not */
		struct fams_map *n = map_push(&fams_shadows, (uintptr_t)ret, (uintptr_t)ret + nlen,
					      moved.off + (os - moved.start), moved.prot, NULL);
		if (n) {
			n->key = moved.key;
			n->maywrite = moved.maywrite;
			n->dontfork = moved.dontfork;
		}
	}
	if (m) {
		/* f stays alive across the swap of records: only retire_unmapped frees. */
		int prot = m->prot;
		bool maywrite = m->maywrite, untracked = m->untracked, holes_open = m->holes_open,
		     dontfork = m->dontfork;
		map_forget_range(os, oe);
		struct fams_map *nm = map_add((uintptr_t)ret, (uintptr_t)ret + nlen, off, prot, f);
		if (nm && !f->cut_off && fams_commit_lock(f) == 0) {
			nm->maywrite = maywrite;
			nm->untracked = untracked; /* as the record it replaces (dirty_rearm may add) */
			nm->holes_open = holes_open;
			nm->dontfork = dontfork;
			if ((uintptr_t)ret != os)
				dirty_rearm(nm, nm->start, nm->end);
			else if (nlen > oe - os)
				dirty_rearm(nm, os + (oe - os), nm->end);
			fams_commit_unlock(f);
		}
	}
	registry_retire_unused();
out:
	registry_publish_maps();
	fams_unlock();
	errno = saved;
	return ret;
}

/* Whether an MS_ASYNC commit of f may be left to the commit thread (asynccommit.h):
 * not while other processes share f (their commits would take the snapshot's
 * pages first, and each process's thread would have to wait for the others'), nor
 * under the compare tracker (its snapshot would compare the whole range anyway),
 * nor in a vfork child (the commit thread would be started in its parent's memory). */
static bool may_pipeline(const struct fams_file *f)
{
	return !f->cut_off && !fams_down && fams_tracker_kind != FAMS_TRACKER_COMPARE && !member_others(f) &&
	       fams_same_process();
}

/* msync over [addr, addr+len), which touches managed mappings. */
static int sync_range(void *addr, size_t len, int flags)
{
	uintptr_t s = (uintptr_t)addr, e = s + len;
	int err = 0;
	/* The kernel checks the arguments exactly as for a plain msync (EINVAL, ENOMEM,
	 * EBUSY); on the working copy the call itself writes nothing anywhere. */
	if (fams_raw_msync(addr, len, flags) < 0)
		return -1;
	/* Every msync is a commit point (MS_ASYNC too: an atomic state the program
	 * chose); MS_INVALIDATE has nothing to do, all mappings share one copy.  Each
	 * file is committed atomically on its own, over the span the range covers.
	 * The commits let the registry lock go (registry_commit): the files and spans
	 * are gathered first, each file pinned until its commit is done. */
	struct target {
		struct fams_file *f;
		uint64_t lo, hi;
	} *t = NULL;
	size_t nt = 0;
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
		struct target *more = realloc(t, (nt + 1) * sizeof *t);
		if (!more) {
			err = ENOMEM;
			break;
		}
		t = more;
		t[nt++] = (struct target){ f, lo, hi };
		f->pins++;
	}
	for (size_t i = 0; i < nt; i++) {
		if ((flags & MS_ASYNC) && may_pipeline(t[i].f) && async_submit(t[i].f, t[i].lo, t[i].hi) == 0)
			continue;
		if (registry_commit(t[i].f, t[i].lo, t[i].hi, "msync") < 0 && err == 0)
			err = errno; /* the first failure is the call's; the other files still commit */
	}
	for (size_t i = 0; i < nt; i++)
		t[i].f->pins--;
	free(t);
	if (nt)
		registry_retire_unused(); /* one may have lost its last mapping meanwhile */
	errno = err;
	return err ? -1 : 0;
}

int fams_on_msync(void *addr, size_t len, int flags, int *handled)
{
	int saved = errno;
	uintptr_t s = (uintptr_t)addr;
	*handled = fams_hint(fams_maps) && enter_range(s, s + len, false);
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

struct protect_span {
	uintptr_t s, e;
};

/* Records of [s, e) take the protection an area of the kernel's now has. */
static bool follow_area(uintptr_t lo, uintptr_t hi, int prot, const char *name, void *ctx)
{
	const struct protect_span *w = ctx;
	uintptr_t a = lo > w->s ? lo : w->s, b = hi < w->e ? hi : w->e;
	if (a < b) {
		map_set_prot(&fams_maps, a, b, prot);
		map_set_prot(&fams_shadows, a, b, prot);
	}
	return lo >= w->e;
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
	if (fams_raw_mprotect(addr, len, prot) < 0) {
		/* The kernel may have changed the areas before the one it failed on (a hole
		 * in the range: ENOMEM): the records take what the areas now have. */
		int saved = errno;
		fams_maps_each(follow_area, &(struct protect_span){ s, e });
		errno = saved;
		return -1;
	}
	/* Follow the protection: a forked child remaps with it, mremap carries it. */
	map_set_prot(&fams_maps, s, e, prot);
	map_set_prot(&fams_shadows, s, e, prot);
	return 0;
}

int fams_on_mprotect(void *addr, size_t len, int prot, int *handled)
{
	int saved = errno;
	uintptr_t s = (uintptr_t)addr;
	*handled = (fams_hint(fams_maps) || fams_hint(fams_shadows)) && enter_range(s, s + fams_page_round(len), true);
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

/* Call fn on the part of each managed mapping inside [s, e), with its file's
 * commit lock held. */
static void each_mapping_locked(uintptr_t s, uintptr_t e, void (*fn)(struct fams_map *m, uintptr_t a, uintptr_t b,
								      int advice), int advice)
{
	for (struct fams_map *m = fams_maps; m; m = m->next) {
		if (!map_overlaps(m, s, e) || m->f->cut_off || fams_commit_lock(m->f) < 0)
			continue;
		fn(m, m->start > s ? m->start : s, m->end < e ? m->end : e, advice);
		fams_commit_unlock(m->f);
	}
}

static void harvest_before(struct fams_map *m, uintptr_t a, uintptr_t b, int advice) { dirty_harvest(m, a, b); }

static void rearm_after(struct fams_map *m, uintptr_t a, uintptr_t b, int advice)
{
	/* MADV_REMOVE frees the range of the working copy, as it would free the
	 * file's blocks: the zeros reach the file at the next commit. */
	if (advice == MADV_REMOVE)
		bits_mark_bytes(m->f->dirty, m->off + (a - m->start), b - a);
	dirty_rearm(m, a, b);
}

/* madvise over [addr, addr+len), which touches managed mappings, with advice
 * that discards pages. */
static int advise_range(void *addr, size_t len, int advice)
{
	uintptr_t s = (uintptr_t)addr, e = s + len;
	/* Collect what was written first: the advice may drop the kernel's record of it
	 * (never the bytes: they live in the working copy, not in these page tables). */
	each_mapping_locked(s, e, harvest_before, advice);
	if (fams_raw_madvise(addr, len, advice) < 0)
		return -1;
	each_mapping_locked(s, e, rearm_after, advice);
	return 0;
}

/* MADV_DONTFORK, MADV_DOFORK: the records follow, so that a forked child keeps
 * records only of the areas it has (a record of an area it lacks would be tracked,
 * and remapped, where the child may map something else). */
static int fork_advice(void *addr, size_t len, int advice)
{
	/* ENOMEM: part of the range is unmapped; the mapped areas took the advice. */
	if (fams_raw_madvise(addr, len, advice) < 0 && errno != ENOMEM)
		return -1;
	int err = errno;
	uintptr_t s = (uintptr_t)addr, e = s + fams_page_round(len);
	map_set_dontfork(&fams_maps, s, e, advice == MADV_DONTFORK);
	map_set_dontfork(&fams_shadows, s, e, advice == MADV_DONTFORK);
	errno = err;
	return err == ENOMEM ? -1 : 0;
}

int fams_on_madvise(void *addr, size_t len, int advice, int *handled)
{
	int saved = errno;
	uintptr_t s = (uintptr_t)addr;
	if (advice == MADV_DONTFORK || advice == MADV_DOFORK) {
		*handled = (fams_hint(fams_maps) || fams_hint(fams_shadows)) &&
			   enter_range(s, s + fams_page_round(len), true);
		return *handled ? (int)registry_leave(fork_advice(addr, len, advice), saved) : 0;
	}
	*handled = fams_hint(fams_maps) && advice_discards(advice) && enter_range(s, s + len, false);
	return *handled ? (int)registry_leave(advise_range(addr, len, advice), saved) : 0;
}
