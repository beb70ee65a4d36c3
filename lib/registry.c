/* registry.c -- which mappings and descriptors belong to managed files, and what
 * each interposed call does to them.
 *
 * Locking: one mutex, g_lock, protects every structure here and every field of
 * every struct fams_file, and is held across commits.  Page faults never take it
 * (dirty tracking is done by the kernel), so writers to mapped memory never wait
 * for a commit; calls on managed descriptors do.  fork() takes it in its prepare
 * handler so a child never inherits it held. */
#include "fams.h"
#include "config.h"
#include "file.h"
#include "log.h"
#include "recover.h"
#include "sys.h"
#include "tracker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

struct fams_map {
	uintptr_t start, end; /* page aligned */
	uint64_t off;         /* file offset of start */
	int prot;             /* current protection (mprotect is followed) */
	bool maywrite;        /* its descriptor was O_RDWR: mprotect may add PROT_WRITE */
	struct fams_file *f;  /* NULL for a shadow record */
	struct fams_map *next;
	struct fams_file_key key; /* shadow records only: the file's identity */
};

struct fd_slot {
	struct fams_file *file; /* a program descriptor of a managed file */
	int *internal;          /* one of ours: where its number is stored */
	bool elsewhere;         /* a program descriptor of a file another process manages */
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
int fams_live;
int fams_shadows_live;
static struct fams_file *g_files; /* by (st_dev, st_ino) */
static struct fams_map *g_maps;
/* Shadows: shared mappings of regular files that are not managed, because they were
 * mapped read-only.  Remembered so that they move onto the working copy when the
 * file becomes managed (every mapping must see the same bytes) or when mprotect
 * makes one writable (its writes must go through a commit, never straight to the
 * file). */
static struct fams_map *g_shadows;
static struct fd_slot *g_fds;
static int g_fds_cap;
static bool g_child;    /* a forked child: inherited files are read-only here */
static bool g_down;     /* after fams_shutdown */
static bool g_tracker_ready;
static bool g_any_elsewhere; /* a descriptor was ever marked `elsewhere` */
static pid_t g_pid; /* this process, as of start-up or fork */

/* False in a vfork child (or a raw clone sharing our memory): it has a descriptor
 * table of its own, and must not change this process's records of ours. */
static bool same_process(void) { return (pid_t)syscall(SYS_getpid) == g_pid; }

static inline uintptr_t page_round(uintptr_t n)
{
	const uintptr_t pg = (uintptr_t)fams_page_size;
	return (n + pg - 1) & ~(pg - 1);
}

/* Whether fd was opened for reading and writing (only such a shared mapping can
 * be, or become, writable). */
static bool fd_is_rdwr(int fd)
{
	return (fams_raw_fcntl(fd, F_GETFL, 0) & O_ACCMODE) == O_RDWR;
}

#define LOCK() pthread_mutex_lock(&g_lock)
#define UNLOCK() pthread_mutex_unlock(&g_lock)

/* ---- descriptors --------------------------------------------------------------- */

static struct fd_slot *slot_of(int fd, bool create)
{
	if (fd < 0)
		return NULL;
	if (fd >= g_fds_cap) {
		if (!create)
			return NULL;
		int cap = g_fds_cap ? g_fds_cap : 256;
		while (cap <= fd)
			cap *= 2;
		struct fd_slot *s = realloc(g_fds, (size_t)cap * sizeof *s);
		if (!s)
			return NULL;
		memset(s + g_fds_cap, 0, (size_t)(cap - g_fds_cap) * sizeof *s);
		g_fds = s;
		g_fds_cap = cap;
	}
	return &g_fds[fd];
}

/* Point a program descriptor's slot at managed file f (NULL: at none), keeping
 * f->nfds: a file stays managed while the program has a mapping or a descriptor
 * of it (retire_unused). */
static void slot_point(struct fd_slot *s, struct fams_file *f)
{
	if (s->file)
		s->file->nfds--;
	s->file = f;
	if (f)
		f->nfds++;
	s->elsewhere = false;
}

static void internal_add(int *where)
{
	struct fd_slot *s = *where >= 0 ? slot_of(*where, true) : NULL;
	if (s) {
		slot_point(s, NULL);
		s->internal = where;
	}
}

static void internal_drop(int fd)
{
	struct fd_slot *s = slot_of(fd, false);
	if (s)
		s->internal = NULL;
}

static void file_internal_fds(struct fams_file *f, bool add)
{
	int *fds[] = { &f->data_fd, &f->memfd, &f->j.fd, &f->j.dirfd };
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
		if (*fds[i] < 0)
			continue;
		if (add)
			internal_add(fds[i]);
		else
			internal_drop(*fds[i]);
	}
}

static void retire_unused(void);

/* The managed file program descriptor fd refers to, or NULL.  A slot can outlive
 * its descriptor (fclose, and anything else that closes without calling close(),
 * leaves it behind): before its file is trusted, fd must still name that file, or
 * a pipe or log file that reused the number would read and write the working copy. */
static struct fams_file *file_of_fd(int fd)
{
	struct fd_slot *s = slot_of(fd, false);
	if (!s || !s->file)
		return NULL;
	struct stat st;
	if (fams_raw_fstat(fd, &st) == 0 && st.st_dev == s->file->key.dev && st.st_ino == s->file->key.ino)
		return s->file;
	slot_point(s, NULL);
	retire_unused();
	return NULL;
}

static struct fams_file *file_by_key(dev_t dev, ino_t ino)
{
	struct fams_file_key key;
	memset(&key, 0, sizeof key);
	key.dev = dev;
	key.ino = ino;
	struct fams_file *f = NULL;
	HASH_FIND(hh, g_files, &key, sizeof key, f);
	return f;
}

/* Call fn on the slot of every program descriptor open on the file (dev, ino). */
static void each_descriptor_of(dev_t dev, ino_t ino, void (*fn)(struct fd_slot *s, void *ctx), void *ctx)
{
	char buf[4096];
	int dir = fams_sys.os_openat(AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dir < 0)
		return;
	for (;;) {
		long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
		if (n <= 0)
			break;
		for (long pos = 0; pos < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + pos);
			pos += d->d_reclen;
			char *end;
			long fd = strtol(d->d_name, &end, 10);
			if (*end || end == d->d_name || fd == dir)
				continue;
			struct fd_slot *s = slot_of((int)fd, true);
			struct stat st;
			if (!s || s->internal || fams_raw_fstat((int)fd, &st) < 0)
				continue;
			if (S_ISREG(st.st_mode) && st.st_dev == dev && st.st_ino == ino)
				fn(s, ctx);
		}
	}
	fams_raw_close(dir);
}

static void adopt_descriptor(struct fd_slot *s, void *f) { slot_point(s, f); }

/* A file just became managed: every descriptor the program already has on it
 * must now read and write the working copy. */
static void adopt_open_descriptors(struct fams_file *f)
{
	each_descriptor_of(f->key.dev, f->key.ino, adopt_descriptor, f);
}

/* ---- files another process manages -----------------------------------------------
 *
 * Until processes share a working copy, a process that is refused a mapping of a
 * file (another process manages it) must not read or write that file either: the
 * file holds only committed bytes while the other process's stores live in its
 * working copy, and a program falling back to pread/pwrite under its own locks
 * (tdb does) would work on a different image.  Its descriptors of the file are
 * marked; read, write, ftruncate, fallocate and mmap through them fail with EBUSY
 * (an error programs report rather than retry, as for the refused mmap) for as
 * long as the other process manages the file.  Marks are made when open() finds
 * the file's journal held, and when managing the file is refused. */

/* Whether fd's file is managed by another live process (its journal is held). */
static bool held_elsewhere(int fd, const struct stat *st)
{
	char proc[64], path[PATH_MAX];
	struct fams_identity id;
	if (file_by_key(st->st_dev, st->st_ino) || st->st_nlink == 0)
		return false; /* ours, or unlinked: an unlinked file has no journal */
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	ssize_t n = fams_raw_readlink(proc, path, sizeof path - 1);
	if (n <= 0 || fams_identity_of(fd, &id) < 0)
		return false;
	path[n] = '\0';
	return fams_journal_held(path, &id);
}

static void mark_descriptor(struct fd_slot *s, void *unused)
{
	if (!s->file)
		s->elsewhere = true;
}

/* Mark every descriptor of the file st describes as one of a file managed elsewhere. */
static void mark_elsewhere(const struct stat *st)
{
	each_descriptor_of(st->st_dev, st->st_ino, mark_descriptor, NULL);
	g_any_elsewhere = true;
	__atomic_store_n(&fams_live, 1, __ATOMIC_RELEASE);
}

/* Whether the refusal for file st was reported already (once per file; the last
 * few files are remembered, the log's own cap bounds the rest). */
static bool told_before(const struct stat *st)
{
	static struct fams_file_key told[16];
	static unsigned next;
	struct fams_file_key k = { .dev = st->st_dev, .ino = st->st_ino };
	for (unsigned i = 0; i < sizeof told / sizeof told[0]; i++)
		if (told[i].dev == k.dev && told[i].ino == k.ino)
			return true;
	told[next++ % (sizeof told / sizeof told[0])] = k;
	return false;
}

/* If fd is marked and its file is still managed elsewhere, refuse `what` with EBUSY
 * (reported once per file); if the other process is gone, clear the mark. */
static bool refused_elsewhere(int fd, const char *what)
{
	struct fd_slot *s = slot_of(fd, false);
	struct stat st;
	if (!s || !s->elsewhere)
		return false;
	if (fams_raw_fstat(fd, &st) < 0 || !held_elsewhere(fd, &st)) {
		s->elsewhere = false;
		return false;
	}
	if (!told_before(&st)) {
		char proc[64], path[PATH_MAX];
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		ssize_t n = fams_raw_readlink(proc, path, sizeof path - 1);
		path[n > 0 ? n : 0] = '\0';
		fams_error("%s: %s refused (EBUSY), and every later read, write or mapping of it while another "
			   "process manages it: sharing a file between processes is not supported, and this "
			   "process would see or change a different image of it", path, what);
	}
	errno = EBUSY;
	return true;
}

/* ---- mappings ---------------------------------------------------------------- */

static bool overlaps(const struct fams_map *m, uintptr_t s, uintptr_t e)
{
	return m->start < e && s < m->end;
}

static bool any_overlap(uintptr_t s, uintptr_t e)
{
	for (struct fams_map *m = g_maps; m; m = m->next)
		if (overlaps(m, s, e))
			return true;
	return false;
}

static void on_written(void *ctx, uintptr_t s, uintptr_t e)
{
	struct fams_map *m = ctx;
	fams_file_mark(m->f, m->f->dirty, m->off + (s - m->start), e - s);
}

/* The end of the file in m's address range (m->start if m starts past it). */
static uintptr_t file_end_in(const struct fams_map *m)
{
	uint64_t file_end = page_round(m->f->size);
	return file_end > m->off ? m->start + (uintptr_t)(file_end - m->off) : m->start;
}

/* Track writes to [s, e) of m: register all of it, write-protect only the pages
 * inside the file.  Protecting an unpopulated page leaves a marker in the page
 * table, and every truncate of the working copy walks the markers from the new end
 * to the end of each mapping: a 64 MiB mapping of a 6 MiB file (Kyoto Cabinet's
 * default) made each shrink cost ~0.5 ms.  Pages past the end cannot be touched
 * (SIGBUS); a resize that brings them inside protects them (protect_grown). */
static int track(struct fams_map *m, uintptr_t s, uintptr_t e)
{
	if (fams_track_range((void *)s, e - s) < 0)
		return -1;
	uintptr_t inside = file_end_in(m);
	if (e > inside)
		e = inside;
	return s < e ? fams_protect_range((void *)s, e - s) : 0;
}

/* Call fn on the part of each mapping of f that shows the file range [lo, hi). */
static void each_mapped(struct fams_file *f, uint64_t lo, uint64_t hi,
			void (*fn)(struct fams_map *m, uintptr_t s, uintptr_t e))
{
	for (struct fams_map *m = g_maps; m; m = m->next) {
		if (m->f != f)
			continue;
		uint64_t mlo = m->off, mhi = m->off + (m->end - m->start);
		if (mhi <= lo || mlo >= hi)
			continue;
		uint64_t a = mlo > lo ? mlo : lo, b = mhi < hi ? mhi : hi;
		fn(m, m->start + (a - mlo), m->start + (b - mlo));
	}
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
	each_mapped(f, page_round(old_size), page_round(f->size), protect);
}

/* Every size change of a managed file goes through here. */
static int resize_file(struct fams_file *f, uint64_t new_size)
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
static void harvest(struct fams_map *m, uintptr_t s, uintptr_t e)
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
		track(m, s, e);
	}
}

/* Re-arm tracking of [s, e) of m after an operation that may have lost it.  Writes
 * that land between the harvest before the operation and this call are caught by
 * comparing the range at the next commit. */
static void rearm(struct fams_map *m, uintptr_t s, uintptr_t e)
{
	if (m->f->inherited || s >= e)
		return;
	track(m, s, e);
	fams_file_mark(m->f, m->f->suspect, m->off + (s - m->start), e - s);
}

static void harvest_file(struct fams_file *f, uint64_t lo, uint64_t hi) { each_mapped(f, lo, hi, harvest); }

static int refuse_inherited(struct fams_file *f, const char *what)
{
	fams_error("%s: %s in a forked child of the process that manages it is refused: "
		   "the child's changes would silently diverge from the parent's; nothing was written",
		   f->path, what);
	errno = EPERM;
	return -1;
}

/* Commit the dirty pages of f in the file range [lo, hi). */
static int commit_file(struct fams_file *f, uint64_t lo, uint64_t hi, const char *what)
{
	if (f->inherited)
		return refuse_inherited(f, what);
	harvest_file(f, lo, hi);
	return fams_file_commit(f, lo, hi);
}

static struct fams_map *map_push(struct fams_map **list, uintptr_t s, uintptr_t e, uint64_t off, int prot,
				 struct fams_file *f)
{
	struct fams_map *m = malloc(sizeof *m);
	if (!m)
		return NULL;
	*m = (struct fams_map){ .start = s, .end = e, .off = off, .prot = prot, .f = f, .next = *list };
	*list = m;
	if (f)
		f->nmaps++;
	return m;
}

static struct fams_map *map_add(uintptr_t s, uintptr_t e, uint64_t off, int prot, struct fams_file *f)
{
	return map_push(&g_maps, s, e, off, prot, f);
}

static void map_free(struct fams_map *m)
{
	if (m->f)
		m->f->nmaps--;
	free(m);
}

/* Split the record containing addr (if addr is strictly inside it) in two; the
 * right part goes to the head of the list.  Returns false when out of memory. */
static bool map_split(struct fams_map **list, uintptr_t addr)
{
	for (struct fams_map *m = *list; m; m = m->next) {
		if (!(m->start < addr && addr < m->end))
			continue;
		struct fams_map *r = map_push(list, addr, m->end, m->off + (addr - m->start), m->prot, m->f);
		if (!r)
			return false;
		r->key = m->key;
		r->maywrite = m->maywrite;
		m->end = addr;
		return true;
	}
	return true;
}

/* Before [s, e) is unmapped or replaced: commit what it holds. */
static void prepare_drop(uintptr_t s, uintptr_t e, const char *what)
{
	for (struct fams_map *m = g_maps; m; m = m->next) {
		if (!overlaps(m, s, e) || m->f->inherited)
			continue;
		uintptr_t a = m->start > s ? m->start : s, b = m->end < e ? m->end : e;
		uint64_t lo = m->off + (a - m->start), hi = m->off + (b - m->start);
		harvest(m, a, b);
		if (fams_file_commit(m->f, lo, hi) < 0)
			fams_error("%s: %s could not commit its changes (%s); they are kept and committed "
				   "at the next msync, fsync or exit", m->f->path, what, strerror(errno));
	}
}

/* Drop the records of [s, e) from a list. */
static void forget_in(struct fams_map **list, uintptr_t s, uintptr_t e)
{
	/* A hole in the middle of a record splits it; if memory for the split runs
	 * out, the whole record goes (a lost record is only ever a lost shadow or a
	 * mapping the kernel no longer has). */
	map_split(list, e);
	struct fams_map **pp = list;
	while (*pp) {
		struct fams_map *m = *pp;
		if (!overlaps(m, s, e)) {
			pp = &m->next;
		} else if (m->start < s) {
			m->end = s;
			pp = &m->next;
		} else if (m->end > e) {
			m->off += e - m->start;
			m->start = e;
			pp = &m->next;
		} else {
			*pp = m->next;
			map_free(m);
		}
	}
}

/* Drop the records of [s, e) after the kernel unmapped or replaced it. */
static void forget_range(uintptr_t s, uintptr_t e)
{
	forget_in(&g_maps, s, e);
	forget_in(&g_shadows, s, e);
}

static bool shadow_overlap(uintptr_t s, uintptr_t e)
{
	for (struct fams_map *m = g_shadows; m; m = m->next)
		if (overlaps(m, s, e))
			return true;
	return false;
}

static void retire(struct fams_file *f)
{
	if (!f->inherited && !g_down) {
		if (fams_file_commit(f, 0, UINT64_MAX) < 0) {
			fams_error("%s: its last mapping and descriptor are gone but its changes could not be "
				   "committed (%s); kept for the next fsync or exit", f->path, strerror(errno));
			return;
		}
	}
	for (int fd = 0; fd < g_fds_cap; fd++)
		if (g_fds[fd].file == f)
			slot_point(&g_fds[fd], NULL);
	file_internal_fds(f, false);
	HASH_DEL(g_files, f);
	fams_debug("no longer managing %s", f->path);
	/* The parent owns an inherited file's journal: never remove it from a child. */
	fams_file_close(f, !f->inherited);
}

/* Stop managing the files this process neither maps nor has a descriptor of.
 * Not at the last munmap alone: a program that unmaps and maps again to grow the
 * file (tdb does) keeps reading and writing through its descriptor meanwhile, and
 * another process must not take the file over in between; those reads and writes
 * would go around its working copy. */
static void retire_unused(void)
{
	struct fams_file *f, *tmp;
	HASH_ITER(hh, g_files, f, tmp)
		if (f->nmaps == 0 && f->nfds == 0)
			retire(f);
}

/* ---- which files are managed ------------------------------------------------- */

static bool persistent_fs(int fd)
{
	struct statfs sf;
	if (fams_raw_fstatfs(fd, &sf) < 0)
		return false;
	switch ((unsigned long)sf.f_type) {
	case TMPFS_MAGIC:
	case RAMFS_MAGIC:
	case PROC_SUPER_MAGIC:
	case SYSFS_MAGIC:
	case HUGETLBFS_MAGIC:
	case DEVPTS_SUPER_MAGIC:
	case 0x42494e4d: /* binfmt_misc */
	case 0x64626720: /* debugfs */
	case 0xcafe4a11: /* bpf */
		return false;
	}
	return true;
}

/* A file just became managed: its read-only shared mappings must now show the
 * working copy too.  Its contents equal the file's at this moment, so readers see
 * no change; from now on they see the program's writes as they happen. */
static void adopt_shadows(struct fams_file *f)
{
	struct fams_map **pp = &g_shadows;
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
		if (r == MAP_FAILED || track(m, m->start, m->end) < 0) {
			fams_error("%s: a read-only mapping at %p could not be moved onto the working copy (%s); "
				   "it shows only committed contents", f->path, (void *)m->start, strerror(errno));
			map_free(m);
			continue;
		}
		m->next = g_maps;
		g_maps = m;
	}
}

/* Remember a shared mapping of an unmanaged regular file (see g_shadows).  Cheap:
 * the path is looked up only if mprotect ever asks for PROT_WRITE. */
static void shadow_add(uintptr_t s, size_t len, off_t off, int prot, bool maywrite, const struct stat *st)
{
	uintptr_t e = s + page_round(len);
	struct fams_map *m = map_push(&g_shadows, s, e, (uint64_t)off, prot, NULL);
	if (!m)
		return;
	m->key = (struct fams_file_key){ 0 };
	m->key.dev = st->st_dev;
	m->key.ino = st->st_ino;
	m->maywrite = maywrite;
	__atomic_store_n(&fams_shadows_live, 1, __ATOMIC_RELEASE);
}

/* The path of the file mapped at addr, from /proc/self/maps; false if none. */
static bool mapped_path(uintptr_t addr, char *path, size_t cap)
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

static struct fams_file *manage(int fd, const struct stat *st)
{
	char proc[64], path[PATH_MAX];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	ssize_t n = fams_raw_readlink(proc, path, sizeof path - 1);
	if (n <= 0)
		return NULL;
	path[n] = '\0';
	if (!fams_path_selected(path)) {
		errno = 0;
		return NULL;
	}
	char *deleted = strstr(path, " (deleted)");
	if (st->st_nlink == 0 && deleted && deleted[10] == '\0')
		*deleted = '\0';
	if (!g_tracker_ready) {
		fams_tracker_init();
		g_tracker_ready = true;
		int *u, *p;
		fams_tracker_fd_slots(&u, &p);
		internal_add(u);
		internal_add(p);
	}
	struct fams_file *f = fams_file_open(fd, st, path);
	if (!f)
		return NULL;
	HASH_ADD(hh, g_files, key, sizeof f->key, f);
	file_internal_fds(f, true);
	adopt_open_descriptors(f);
	adopt_shadows(f);
	__atomic_store_n(&fams_live, 1, __ATOMIC_RELEASE);
	return f;
}

/* ---- entry points: memory ------------------------------------------------------- */

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

void *fams_on_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, int *handled)
{
	*handled = 0;
	const bool fixed = flags & MAP_FIXED;
	const bool anon = (flags & MAP_ANONYMOUS) || fd < 0;
	if (g_down || (anon && !(fixed && (g_maps || g_shadows))))
		return NULL;
	const int type = flags & MAP_TYPE;
	const bool shared = type == MAP_SHARED || type == MAP_SHARED_VALIDATE;
	/* A private mapping needs the working copy only if the file is managed (or the
	 * refusal, if another process manages it). */
	if (!shared && !g_files && !g_any_elsewhere && !(fixed && (g_maps || g_shadows)))
		return NULL;
	struct stat st;
	if (!anon && (fams_raw_fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)))
		return NULL;
	const bool rdwr = !anon && shared && fd_is_rdwr(fd);

	int saved = errno;
	void *ret = NULL;
	LOCK();
	struct fams_file *f = anon ? NULL : file_by_key(st.st_dev, st.st_ino);
	if (f && f->inherited && shared) {
		fams_error("%s: mapping a file that the parent process manages is not supported in a forked child",
			   f->path);
		*handled = 1;
		errno = EBUSY;
		ret = MAP_FAILED;
		goto out;
	}
	if (!f && !anon && refused_elsewhere(fd, "mmap")) {
		*handled = 1;
		ret = MAP_FAILED;
		goto out;
	}
	const bool to_manage = !f && rdwr && (prot & PROT_WRITE) && persistent_fs(fd);
	if ((f || to_manage) && kernel_accepts(len, prot, flags, fd, off) < 0) {
		/* Refused as without fams, and before the file becomes managed for nothing. */
		*handled = 1;
		ret = MAP_FAILED;
		goto out;
	}
	if (to_manage) {
		f = manage(fd, &st);
		if (!f && errno) {
			if (errno == EBUSY) /* another process manages it: see mark_elsewhere */
				mark_elsewhere(&st);
			*handled = 1;
			ret = MAP_FAILED;
			goto out;
		}
	}
	if (!f) {
		/* Not ours; but a MAP_FIXED mapping replaces whatever it lands on, and a
		 * read-only shared mapping of a regular file is remembered as a shadow. */
		const uintptr_t a = (uintptr_t)addr, b = a + len;
		const bool over_managed = fixed && any_overlap(a, b);
		const bool over_shadow = fixed && shadow_overlap(a, b);
		const bool want_shadow = !anon && shared && !(prot & PROT_WRITE) && persistent_fs(fd);
		if (want_shadow && held_elsewhere(fd, &st)) {
			/* It would show only the other process's committed bytes. */
			mark_elsewhere(&st);
			refused_elsewhere(fd, "a read-only shared mmap");
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
				forget_range(a, b);
			retire_unused();
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
	if (fixed && any_overlap((uintptr_t)addr, (uintptr_t)addr + len))
		prepare_drop((uintptr_t)addr, (uintptr_t)addr + len, "mmap(MAP_FIXED) over a mapping");
	ret = map_working_copy(f, addr, len, prot, flags, off);
	if (ret == MAP_FAILED) {
		saved = errno;
		retire_unused();
		errno = saved;
		goto out;
	}
	uintptr_t s = (uintptr_t)ret, e = s + page_round(len);
	if (fixed)
		forget_range(s, e);
	if (shared) {
		/* Private mappings never change the file; they need no record. */
		struct fams_map *m = map_add(s, e, (uint64_t)off, prot, f);
		if (m)
			m->maywrite = rdwr;
		if (!m || track(m, s, e) < 0) {
			saved = errno;
			fams_error("%s: cannot track writes to a new mapping: %s", f->path, strerror(saved));
			forget_range(s, e);
			fams_raw_munmap(ret, e - s);
			retire_unused();
			errno = saved;
			ret = MAP_FAILED;
			goto out;
		}
	}
	retire_unused();
	errno = saved;
out:
	UNLOCK();
	return ret;
}

int fams_on_munmap(void *addr, size_t len, int *handled)
{
	*handled = 0;
	if (!g_maps && !g_shadows)
		return 0;
	uintptr_t s = (uintptr_t)addr, e = s + len;
	int ret = 0, saved = errno;
	LOCK();
	if (!any_overlap(s, e) && !shadow_overlap(s, e))
		goto out;
	*handled = 1;
	if ((s & ((uintptr_t)fams_page_size - 1)) || len == 0) {
		saved = EINVAL;
		ret = -1;
		goto out;
	}
	e = s + page_round(len);
	prepare_drop(s, e, "munmap");
	ret = fams_raw_munmap(addr, len);
	if (ret < 0) {
		saved = errno;
		goto out;
	}
	forget_range(s, e);
	retire_unused();
out:
	UNLOCK();
	errno = saved;
	return ret;
}

void *fams_on_mremap(void *old, size_t oldlen, size_t newlen, int flags, void *new_addr, int *handled)
{
	*handled = 0;
	if (!g_maps && !g_shadows)
		return NULL;
	uintptr_t os = (uintptr_t)old, oe = os + page_round(oldlen);
	uintptr_t nlen = page_round(newlen);
	void *ret = NULL;
	int saved = errno;
	LOCK();
	struct fams_map *m = NULL;
	for (struct fams_map *it = g_maps; it; it = it->next)
		if (it->start <= os && os < it->end)
			m = it;
	struct fams_map *sm = NULL;
	for (struct fams_map *it = g_shadows; it && !m; it = it->next)
		if (it->start <= os && os < it->end)
			sm = it;
	const uintptr_t ds = (uintptr_t)new_addr, de = ds + nlen;
	bool dest_overlap = (flags & MREMAP_FIXED) && (any_overlap(ds, de) || shadow_overlap(ds, de));
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
		harvest(m, os, oe);
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
		forget_range(ds, de);
	if (sm && !(flags & MREMAP_DONTUNMAP)) {
		/* A shadow moves (or changes size) with its mapping. */
		struct fams_map moved = *sm;
		forget_in(&g_shadows, os, oe > sm->end ? sm->end : oe);
		struct fams_map *n = map_push(&g_shadows, (uintptr_t)ret, (uintptr_t)ret + nlen,
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
		forget_range(os, oe);
		struct fams_map *nm = map_add((uintptr_t)ret, (uintptr_t)ret + nlen, off, prot, f);
		if (nm) {
			nm->maywrite = maywrite;
			if ((uintptr_t)ret != os)
				rearm(nm, nm->start, nm->end);
			else if (nlen > oe - os)
				rearm(nm, os + (oe - os), nm->end);
		}
	}
	retire_unused();
out:
	UNLOCK();
	errno = saved;
	return ret;
}

int fams_on_msync(void *addr, size_t len, int flags, int *handled)
{
	*handled = 0;
	if (!g_maps)
		return 0;
	uintptr_t s = (uintptr_t)addr, e = s + len;
	int ret = 0, saved = errno;
	LOCK();
	if (!any_overlap(s, e))
		goto out;
	*handled = 1;
	/* The kernel checks the arguments exactly as for a plain msync (EINVAL, ENOMEM,
	 * EBUSY); on the working copy the call itself writes nothing anywhere. */
	if (syscall(SYS_msync, addr, len, flags) < 0) {
		saved = errno;
		ret = -1;
		goto out;
	}
	/* Every msync is a commit point (MS_ASYNC too: an atomic state the program
	 * chose); MS_INVALIDATE has nothing to do, all mappings share one copy.  Each
	 * file is committed atomically on its own, over the span the range covers. */
	for (struct fams_map *m = g_maps; m; m = m->next) {
		if (!overlaps(m, s, e))
			continue;
		struct fams_file *f = m->f;
		uint64_t lo = UINT64_MAX, hi = 0;
		for (struct fams_map *k = m; k; k = k->next) {
			if (k->f != f || !overlaps(k, s, e))
				continue;
			uintptr_t a = k->start > s ? k->start : s, b = k->end < e ? k->end : e;
			uint64_t klo = k->off + (a - k->start), khi = k->off + (b - k->start);
			lo = klo < lo ? klo : lo;
			hi = khi > hi ? khi : hi;
		}
		bool done_before = false;
		for (struct fams_map *k = g_maps; k != m; k = k->next)
			if (k->f == f && overlaps(k, s, e))
				done_before = true;
		if (done_before)
			continue;
		if (commit_file(f, lo, hi, "msync") < 0 && ret == 0) {
			ret = -1;
			saved = errno;
		}
	}
out:
	UNLOCK();
	errno = saved;
	return ret;
}

/* Make the shadows in [s, e) writable-capable: each one's file becomes managed and
 * every shadow of it moves onto the working copy.  A shadow whose descriptor was
 * read-only is left alone: the kernel refuses PROT_WRITE on it, as it would anyway.
 * The file is reopened by the name the kernel shows for the mapping, and used only
 * if it is still the same inode. */
static int manage_shadows(uintptr_t s, uintptr_t e)
{
	for (;;) {
		struct fams_map *m = g_shadows;
		while (m && !(overlaps(m, s, e) && m->maywrite))
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
			struct fams_file *f = file_by_key(st.st_dev, st.st_ino);
			if (f)
				adopt_shadows(f);
			else
				f = manage(fd, &st);
			int saved = errno;
			fams_raw_close(fd);
			struct fd_slot *slot = slot_of(fd, false);
			if (slot)
				slot_point(slot, NULL); /* fd was ours for a moment, not the program's */
			if (!f && saved) {
				errno = saved;
				return -1;
			}
			if (!f) /* excluded by FAMS_INCLUDE/EXCLUDE: not ours to follow */
				forget_in(&g_shadows, m->start, m->end);
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

static void set_prot(struct fams_map **list, uintptr_t s, uintptr_t e, int prot)
{
	map_split(list, s);
	map_split(list, e);
	for (struct fams_map *m = *list; m; m = m->next)
		if (overlaps(m, s, e))
			m->prot = prot;
}

int fams_on_mprotect(void *addr, size_t len, int prot, int *handled)
{
	*handled = 0;
	if (!g_maps && !g_shadows)
		return 0;
	uintptr_t s = (uintptr_t)addr;
	uintptr_t e = s + page_round(len);
	int ret = 0, saved = errno;
	LOCK();
	const bool managed = any_overlap(s, e), shadowed = shadow_overlap(s, e);
	if (!managed && !shadowed)
		goto out;
	*handled = 1;
	if (prot & PROT_WRITE) {
		/* The working copy is always writable; the program's descriptor may not
		 * have been.  Refuse as the kernel would have. */
		for (struct fams_map *m = g_maps; m; m = m->next) {
			if (overlaps(m, s, e) && !m->maywrite) {
				saved = EACCES;
				ret = -1;
				goto out;
			}
		}
	}
	if (shadowed && (prot & PROT_WRITE) && manage_shadows(s, e) < 0) {
		saved = errno;
		ret = -1;
		goto out;
	}
	ret = fams_raw_mprotect(addr, len, prot);
	if (ret < 0) {
		saved = errno;
		goto out;
	}
	/* Follow the protection: a forked child remaps with it, mremap carries it. */
	set_prot(&g_maps, s, e, prot);
	set_prot(&g_shadows, s, e, prot);
out:
	UNLOCK();
	errno = saved;
	return ret;
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

int fams_on_madvise(void *addr, size_t len, int advice, int *handled)
{
	*handled = 0;
	if (!g_maps || !advice_discards(advice))
		return 0;
	uintptr_t s = (uintptr_t)addr, e = s + len;
	int ret = 0, saved = errno;
	LOCK();
	if (!any_overlap(s, e))
		goto out;
	*handled = 1;
	/* Collect what was written first: the advice may drop the kernel's record of it
	 * (never the bytes: they live in the working copy, not in these page tables). */
	for (struct fams_map *m = g_maps; m; m = m->next)
		if (overlaps(m, s, e))
			harvest(m, s, e);
	ret = fams_raw_madvise(addr, len, advice);
	if (ret < 0) {
		saved = errno;
		goto out;
	}
	for (struct fams_map *m = g_maps; m; m = m->next) {
		if (!overlaps(m, s, e))
			continue;
		uintptr_t a = m->start > s ? m->start : s, b = m->end < e ? m->end : e;
		/* MADV_REMOVE frees the range of the working copy, as it would free the
		 * file's blocks: the zeros reach the file at the next commit. */
		if (advice == MADV_REMOVE)
			fams_file_mark(m->f, m->f->dirty, m->off + (a - m->start), b - a);
		rearm(m, a, b);
	}
out:
	UNLOCK();
	errno = saved;
	return ret;
}

/* ---- entry points: descriptors ------------------------------------------------------- */

/* Recovery before the program can read: report what it did; FAMS_OPEN_ELSEWHERE
 * when a live process holds the journal.  r and outcome from fams_recover_*. */
static int recovered(const char *path, int r, int outcome)
{
	if (r < 0)
		return -1; /* errno from recovery; the message is printed */
	if (outcome != FAMS_REC_NONE && outcome != FAMS_REC_BUSY)
		fams_info("%s: %s", path, fams_recovery_name(outcome));
	return outcome == FAMS_REC_BUSY ? FAMS_OPEN_ELSEWHERE : 0;
}

/* Whether open() with these flags is checked for a pending journal before the call
 * (O_TRUNC: the kernel truncates before fams sees the descriptor, and a rollback
 * after that would undo the truncation) rather than after it, from the descriptor
 * (no second walk of the path).  O_CREAT|O_EXCL makes a file no journal can name. */
static bool check_before(int flags) { return flags & O_TRUNC; }
static bool check_after(int flags)
{
	return !(flags & (O_TRUNC | O_PATH)) && (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL);
}

/* Whether the file at path is one this process manages. */
static bool managed_here(int dirfd, const char *path)
{
	struct stat st;
	LOCK();
	bool ours = g_files && fams_raw_fstatat(dirfd, path, &st, 0) == 0 && file_by_key(st.st_dev, st.st_ino);
	UNLOCK();
	return ours;
}

int fams_before_open(int dirfd, const char *path, int flags)
{
	if (g_down || !path || !check_before(flags))
		return 0;
	if (fams_live) {
		/* Truncating a managed file through open(): retire its live journal first,
		 * as fams_file_resize would (the kernel truncates before we see the fd). */
		struct stat st;
		int saved = errno;
		LOCK();
		struct fams_file *f = g_files && fams_raw_fstatat(dirfd, path, &st, 0) == 0
					      ? file_by_key(st.st_dev, st.st_ino) : NULL;
		int r = f && !f->inherited ? fams_journal_invalidate(&f->j) : 0;
		UNLOCK();
		if (r < 0)
			return -1;
		errno = saved;
	}
	int saved = errno, outcome = FAMS_REC_NONE;
	int r = fams_recover_path(dirfd, path, &outcome);
	r = recovered(path, r, outcome);
	if (r == FAMS_OPEN_ELSEWHERE && !managed_here(dirfd, path)) {
		/* The kernel would truncate the file under the other process's working
		 * copy: its later commits could not bring the bytes back (a commit never
		 * regrows the file), so everything it wrote would be lost in silence. */
		fams_error("%s: open with O_TRUNC refused (EBUSY): another process manages this file, "
			   "and sharing it between processes is not supported", path);
		errno = EBUSY;
		return -1;
	}
	if (r >= 0)
		errno = saved;
	return r;
}

int fams_after_open(int dirfd, const char *path, int fd, int flags, int before)
{
	if (g_down || fd < 0 || !path || !same_process())
		return 0;
	int saved = errno;
	bool elsewhere = before == FAMS_OPEN_ELSEWHERE;
	if (check_after(flags)) {
		int outcome = FAMS_REC_NONE;
		int r = fams_recover_opened(dirfd, path, fd, &outcome);
		r = recovered(path, r, outcome);
		if (r < 0)
			return -1;
		elsewhere = r == FAMS_OPEN_ELSEWHERE;
	}
	if (!fams_live && !elsewhere) {
		errno = saved;
		return 0;
	}
	struct stat st;
	LOCK();
	struct fd_slot *stale = slot_of(fd, false);
	if (stale && !stale->internal && (stale->file || stale->elsewhere)) {
		/* The number was closed without close() (fclose, close_range): a new file now. */
		slot_point(stale, NULL);
		retire_unused();
	}
	if ((g_files || elsewhere) && !(flags & O_PATH) && fams_raw_fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		struct fams_file *f = file_by_key(st.st_dev, st.st_ino);
		struct fd_slot *s = f || elsewhere ? slot_of(fd, true) : NULL;
		if (s) {
			slot_point(s, f);
			s->elsewhere = !f;
			if (!f) {
				g_any_elsewhere = true;
				__atomic_store_n(&fams_live, 1, __ATOMIC_RELEASE);
			}
		}
		if (f && (flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY && !f->inherited && f->size) {
			harvest_file(f, 0, UINT64_MAX);
			resize_file(f, 0);
		}
	}
	UNLOCK();
	errno = saved;
	return 0;
}

void fams_after_dup(int oldfd, int newfd)
{
	if (!fams_live || newfd < 0 || !same_process())
		return;
	int saved = errno;
	LOCK();
	struct fams_file *f = file_of_fd(oldfd);
	struct fd_slot *old = slot_of(oldfd, false);
	bool elsewhere = old && old->elsewhere;
	struct fd_slot *s = slot_of(newfd, f != NULL || elsewhere);
	if (s && !s->internal) {
		/* newfd may have named another managed file until now (dup2). */
		slot_point(s, f);
		s->elsewhere = elsewhere;
		retire_unused();
	}
	UNLOCK();
	errno = saved;
}

void fams_before_replace(int newfd)
{
	if (!fams_live || !same_process())
		return;
	int saved = errno;
	LOCK();
	struct fd_slot *s = slot_of(newfd, false);
	if (s && s->internal) {
		/* dup2 onto one of our descriptors would close it: move ours away first.
		 * A program descriptor's slot changes only if the dup2 succeeds. */
		int *where = s->internal;
		int moved = fams_raw_fcntl(newfd, F_DUPFD_CLOEXEC, 0);
		if (moved >= 0) {
			*where = moved;
			s->internal = NULL;
			internal_add(where);
		}
	}
	UNLOCK();
	errno = saved;
}

int fams_on_close(int fd)
{
	if (!fams_live || !same_process())
		return 0;
	int internal = 0, saved = errno;
	LOCK();
	struct fd_slot *s = slot_of(fd, false);
	if (s) {
		internal = s->internal != NULL;
		if (!internal && s->file) {
			/* The last descriptor of an unmapped file: commit, stop managing it. */
			slot_point(s, NULL);
			retire_unused();
		}
		s->elsewhere = false;
	}
	UNLOCK();
	errno = saved; /* a commit at the last close must not leave its errno behind */
	return internal;
}

int fams_on_close_range(unsigned first, unsigned last, int flags, int *handled)
{
	*handled = 0;
	if (!fams_live || !same_process() || (flags & CLOSE_RANGE_CLOEXEC))
		return 0;
	*handled = 1;
	int saved = errno, ret = 0;
	LOCK();
	/* Forget the program's descriptors in the range, and close the range around
	 * ours: they are the engine's, the program's close_range must not take them. */
	unsigned from = first;
	for (unsigned fd = first; fd <= last && fd < (unsigned)g_fds_cap; fd++) {
		struct fd_slot *s = &g_fds[fd];
		if (s->internal) {
			if (fd > from && syscall(SYS_close_range, from, fd - 1, flags) < 0 && !ret) {
				ret = -1;
				saved = errno;
			}
			from = fd + 1;
			continue;
		}
		slot_point(s, NULL);
	}
	if (from <= last && from >= first && syscall(SYS_close_range, from, last, flags) < 0 && !ret) {
		ret = -1;
		saved = errno;
	}
	retire_unused();
	UNLOCK();
	errno = saved;
	return ret;
}

static size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t n = 0;
	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

ssize_t fams_on_read(int fd, const struct iovec *iov, int iovcnt, off_t pos, int *handled)
{
	*handled = 0;
	if (!fams_live)
		return 0;
	ssize_t n = 0;
	int saved = errno;
	LOCK();
	struct fams_file *f = file_of_fd(fd);
	if (!f) {
		if (refused_elsewhere(fd, "read")) {
			*handled = 1;
			saved = EBUSY;
			n = -1;
		}
		goto out;
	}
	*handled = 1;
	int fl = fams_raw_fcntl(fd, F_GETFL, 0);
	if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY) {
		saved = EBADF;
		n = -1;
		goto out;
	}
	bool use_pos = pos < 0;
	if (use_pos && (pos = fams_raw_lseek(fd, 0, SEEK_CUR)) < 0) {
		saved = errno;
		n = -1;
		goto out;
	}
	n = syscall(SYS_preadv, f->memfd, iov, iovcnt, (long)pos, 0L);
	if (n < 0)
		saved = errno;
	else if (use_pos)
		fams_raw_lseek(fd, pos + n, SEEK_SET);
out:
	UNLOCK();
	errno = saved;
	return n;
}

ssize_t fams_on_write(int fd, const struct iovec *iov, int iovcnt, off_t pos, int *handled)
{
	*handled = 0;
	if (!fams_live)
		return 0;
	ssize_t n = 0;
	int saved = errno;
	LOCK();
	struct fams_file *f = file_of_fd(fd);
	if (!f) {
		if (refused_elsewhere(fd, "write")) {
			*handled = 1;
			saved = EBUSY;
			n = -1;
		}
		goto out;
	}
	*handled = 1;
	if (f->inherited) {
		n = refuse_inherited(f, "write");
		saved = errno;
		goto out;
	}
	int fl = fams_raw_fcntl(fd, F_GETFL, 0);
	if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
		saved = EBADF;
		n = -1;
		goto out;
	}
	bool use_pos = pos < 0;
	if (use_pos)
		pos = (fl & O_APPEND) ? (off_t)f->size : fams_raw_lseek(fd, 0, SEEK_CUR);
	if (pos < 0) {
		saved = errno;
		n = -1;
		goto out;
	}
	size_t total = iov_total(iov, iovcnt);
	/* A write past the end grows the file now, as it would without fams; the bytes
	 * reach it at the next commit. */
	if ((uint64_t)pos + total > f->size) {
		harvest_file(f, 0, UINT64_MAX);
		if (resize_file(f, (uint64_t)pos + total) < 0) {
			saved = errno;
			n = -1;
			goto out;
		}
	}
	n = syscall(SYS_pwritev, f->memfd, iov, iovcnt, (long)pos, 0L);
	if (n < 0) {
		saved = errno;
		goto out;
	}
	fams_file_mark(f, f->dirty, (uint64_t)pos, (uint64_t)n);
	if (use_pos)
		fams_raw_lseek(fd, pos + n, SEEK_SET);
out:
	UNLOCK();
	errno = saved;
	return n;
}

int fams_on_fsync(int fd, int datasync, int *handled)
{
	*handled = 0;
	if (!fams_live)
		return 0;
	int ret = 0, saved = errno;
	LOCK();
	struct fams_file *f = file_of_fd(fd);
	if (!f)
		goto out;
	*handled = 1;
	/* All dirty pages of the file in one atomic commit; if none, the data file
	 * still owes a flush for a size change nobody flushed yet. */
	if (commit_file(f, 0, UINT64_MAX, datasync ? "fdatasync" : "fsync") < 0 ||
	    fams_file_flush_if_needed(f) < 0) {
		ret = -1;
		saved = errno;
	}
out:
	UNLOCK();
	errno = saved;
	return ret;
}

int fams_on_ftruncate(int fd, off_t len, int *handled)
{
	*handled = 0;
	if (!fams_live)
		return 0;
	int ret = 0, saved = errno;
	LOCK();
	struct fams_file *f = file_of_fd(fd);
	if (!f) {
		if (refused_elsewhere(fd, "ftruncate")) {
			*handled = 1;
			saved = EBUSY;
			ret = -1;
		}
		goto out;
	}
	*handled = 1;
	if (f->inherited) {
		ret = refuse_inherited(f, "ftruncate");
		saved = errno;
		goto out;
	}
	int fl = fams_raw_fcntl(fd, F_GETFL, 0);
	if (len < 0 || fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
		saved = fl < 0 ? EBADF : EINVAL;
		ret = -1;
		goto out;
	}
	/* Collect written pages first: the bits of pages cut off must go with them. */
	harvest_file(f, 0, UINT64_MAX);
	if (resize_file(f, (uint64_t)len) < 0) {
		ret = -1;
		saved = errno;
	}
out:
	UNLOCK();
	errno = saved;
	return ret;
}

int fams_on_fallocate(int fd, int mode, off_t off, off_t len, int *handled)
{
	*handled = 0;
	if (!fams_live)
		return 0;
	int ret = 0, saved = errno;
	LOCK();
	struct fams_file *f = file_of_fd(fd);
	if (!f) {
		if (refused_elsewhere(fd, "fallocate")) {
			*handled = 1;
			saved = EBUSY;
			ret = -1;
		}
		goto out;
	}
	*handled = 1;
	if (f->inherited) {
		ret = refuse_inherited(f, "fallocate");
		saved = errno;
		goto out;
	}
	if (off < 0 || len <= 0) {
		saved = EINVAL;
		ret = -1;
		goto out;
	}
	uint64_t end = (uint64_t)off + (uint64_t)len;
	if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) {
		fams_error("%s: fallocate collapse/insert range on a mapped file cannot be made atomic; refused",
			   f->path);
		saved = EOPNOTSUPP;
		ret = -1;
	} else if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		/* Content changes belong to the working copy and reach the file at commit. */
		harvest_file(f, 0, UINT64_MAX);
		if (!(mode & FALLOC_FL_KEEP_SIZE) && end > f->size && resize_file(f, end) < 0) {
			ret = -1;
			saved = errno;
			goto out;
		}
		uint64_t zend = end < f->size ? end : f->size;
		if ((uint64_t)off < zend) {
			if (fams_raw_fallocate(f->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
					       (off_t)(zend - (uint64_t)off)) < 0) {
				ret = -1;
				saved = errno;
				goto out;
			}
			fams_file_mark(f, f->dirty, (uint64_t)off, zend - (uint64_t)off);
		}
	} else {
		/* Allocation does not change content: the data file takes it directly. */
		if (fams_raw_fallocate(fd, mode, off, len) < 0) {
			ret = -1;
			saved = errno;
		} else if (!(mode & FALLOC_FL_KEEP_SIZE) && end > f->size) {
			if (resize_file(f, end) < 0) {
				ret = -1;
				saved = errno;
			}
		}
	}
out:
	UNLOCK();
	errno = saved;
	return ret;
}

/* ---- process life ------------------------------------------------------------ */

int fams_init(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	if (pg > 0)
		fams_page_size = pg;
	fams_config_load();
	g_pid = (pid_t)syscall(SYS_getpid);
	return 0;
}

void fams_on_exit_now(void)
{
	/* A vfork child (or a raw clone) shares our memory: committing or retiring
	 * anything from it would act for the parent.  Only this process's own exit
	 * counts. */
	if (!same_process())
		return;
	fams_shutdown();
}

void fams_atfork_prepare(void) { LOCK(); }
void fams_atfork_parent(void) { UNLOCK(); }

/* In a forked child: the tracker's descriptors act on the parent's address space
 * (a userfaultfd and a pagemap belong to the mm that opened them), so they must go
 * whatever the child inherited; a child that maps a file later opens its own. */
static void forget_parents_tracker(void)
{
	if (!g_tracker_ready)
		return;
	int *u, *p;
	fams_tracker_fd_slots(&u, &p);
	internal_drop(*u);
	internal_drop(*p);
	fams_tracker_forget();
	g_tracker_ready = false;
}

void fams_atfork_child(void)
{
	pthread_mutex_init(&g_lock, NULL);
	g_pid = (pid_t)syscall(SYS_getpid);
	forget_parents_tracker();
	if (!g_files)
		return;
	/* The child shares the working copies with its parent.  Give it a private
	 * snapshot of each instead, and refuse its commits: its writes must neither
	 * reach the file nor silently diverge into the parent's copy. */
	g_child = true;
	for (struct fams_map *m = g_maps; m; m = m->next) {
		fams_raw_mmap((void *)m->start, m->end - m->start, m->prot,
			      MAP_PRIVATE | MAP_FIXED, m->f->memfd, (off_t)m->off);
	}
	struct fams_file *f, *tmp;
	HASH_ITER(hh, g_files, f, tmp) {
		if (f->inherited)
			continue;
		f->inherited = true;
		/* Keep the working copy for reads; the journal and its lock are the parent's. */
		internal_drop(f->j.fd);
		internal_drop(f->j.dirfd);
		internal_drop(f->data_fd);
		fams_journal_release(&f->j, 0);
		fams_raw_close(f->data_fd);
		f->data_fd = -1;
	}
}

/* FAMS_STATS=1: what the commits cost, for users and bench/ (logical bytes: what
 * fams asked the kernel to write, before any page or folio rounding). */
static void print_stats(void)
{
	struct fams_io_stats s = fams_stats;
	char line[320];
	int n = snprintf(line, sizeof line,
			 "fams: stats: commits=%llu flushes=%llu committed_bytes=%llu journal_bytes=%llu "
			 "bytes_written=%llu\n",
			 (unsigned long long)s.commits, (unsigned long long)s.flushes,
			 (unsigned long long)s.committed_bytes, (unsigned long long)s.journal_bytes,
			 (unsigned long long)s.bytes_written);
	if (n > 0)
		fams_raw_write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void fams_shutdown(void)
{
	LOCK();
	if (g_down) {
		UNLOCK();
		return;
	}
	struct fams_file *f, *tmp;
	HASH_ITER(hh, g_files, f, tmp) {
		if (f->inherited)
			continue;
		if (commit_file(f, 0, UINT64_MAX, "exit") < 0) {
			fams_error("%s: changes made since the last commit could not be committed at exit (%s); "
				   "the file keeps its last committed state", f->path, strerror(errno));
			continue;
		}
	}
	g_down = true;
	/* Descriptors write to the file directly from now on. */
	for (int fd = 0; fd < g_fds_cap; fd++)
		slot_point(&g_fds[fd], NULL);
	/* Mappings stay (the process is going away); journals are retired so none
	 * outlives the last commit. */
	HASH_ITER(hh, g_files, f, tmp) {
		HASH_DEL(g_files, f);
		if (!f->inherited && !f->needs_rollback)
			fams_journal_release(&f->j, 1);
	}
	UNLOCK();
	if (fams_cfg.stats)
		print_stats();
}
