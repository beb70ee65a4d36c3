/* Power-loss state enumeration.  A power cut keeps, of each file, everything up to
 * its last completed flush; of the writes issued after it, any subset may persist,
 * in any order, each possibly torn at 512-byte sectors (old and new sectors mixed).
 * Size changes after the last flush may or may not persist, each whole: a file's
 * size on disk is one that it had (a write that extended the file takes the size
 * to the end of its last persisted sector; one inside the size it had when issued
 * changes no size, and its sectors past the size on disk are lost).  A file's
 * creation or removal persists only once its directory was synced, else either
 * way.
 *
 * For each commit shape, the engine runs for real while every durable operation
 * (write, flush, truncate, fallocate, create, unlink, directory sync) is recorded.
 * Then, for every prefix of that record (the power went out after operation i),
 * the states the disk could hold are generated -- all of them when the operations
 * after the last flushes touch few enough sectors, a random sample otherwise --
 * each is written out, recovery runs on it, and the data file must equal one of
 * the images the program could have committed: the last one whose commit had
 * returned, or the one in flight.
 *
 *   t_power_loss [--samples=N] [--seed=S] [--broken=MODE] [--commit-log=redo|undo]
 *                [--shape=TEXT]   (only the shapes whose name holds TEXT)
 * N: random states per crash point where enumeration is too large (default 400).
 * Every shape runs with small commits in the redo log and again with undo
 * journals only, unless --commit-log names one. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit.h"
#include "config.h"
#include "engine_harness.h"
#include "journal.h"
#include "log.h"
#include "recover.h"
#include "sys.h"

#define SECTOR 512
#define EXHAUSTIVE_BITS 12 /* enumerate every state when at most 2^12 */

enum file_id { F_DATA, F_JOURNAL, F_DIR, F_OTHER };
enum op_kind {
	OP_WRITE,  /* bytes at off of a file */
	OP_SIZE,   /* a file's size set (ftruncate) or extended (fallocate) */
	OP_FLUSH,  /* fdatasync/fsync of a file: its earlier operations are durable */
	OP_CREATE, /* the journal's directory entry appears */
	OP_UNLINK, /* the journal's directory entry goes */
	OP_DIRSYNC,
	OP_MARK, /* not I/O: an image the program may see after a crash (see below) */
};

struct op {
	enum op_kind kind;
	enum file_id file;
	uint64_t off, len; /* OP_WRITE; OP_SIZE: new size in off, len = 1 if only extends */
	char *bytes;
	int extends; /* OP_WRITE: it ends past the file's size when it was issued */
	int image;   /* OP_MARK: index into images[] */
	int durable; /* OP_MARK: the commit returned; earlier images are no longer valid */
};

static struct op ops[20000];
static int nops;
static ino_t data_ino;
static char jpath[4200]; /* the data file's journal: named after its identity, set by begin() */
static int recording;

static struct image images[20];
static int nimages;

static enum file_id classify(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return F_OTHER;
	if (S_ISDIR(st.st_mode))
		return F_DIR;
	return st.st_ino == data_ino ? F_DATA : F_JOURNAL;
}

static struct op *record(enum op_kind kind, enum file_id file)
{
	if (nops == (int)(sizeof ops / sizeof ops[0]))
		FAIL("too many operations recorded");
	struct op *o = &ops[nops++];
	*o = (struct op){ .kind = kind, .file = file };
	return o;
}

static int r_openat(int d, const char *p, int fl, mode_t m)
{
	int fd = fams_sys_default.os_openat(d, p, fl, m);
	if (recording && fd >= 0 && (fl & O_CREAT))
		record(OP_CREATE, F_JOURNAL);
	return fd;
}
static ssize_t r_pwrite(int fd, const void *b, size_t n, off_t o)
{
	struct stat before;
	int sized = fstat(fd, &before) == 0;
	ssize_t r = fams_sys_default.os_pwrite(fd, b, n, o);
	if (recording && r > 0) {
		struct op *op = record(OP_WRITE, classify(fd));
		op->off = (uint64_t)o;
		op->len = (uint64_t)r;
		op->extends = !sized || (uint64_t)o + (uint64_t)r > (uint64_t)before.st_size;
		op->bytes = malloc((size_t)r);
		memcpy(op->bytes, b, (size_t)r);
	}
	return r;
}
static int r_flush(int fd, int (*fn)(int))
{
	int r = fn(fd);
	if (recording && r == 0) {
		enum file_id id = classify(fd);
		record(id == F_DIR ? OP_DIRSYNC : OP_FLUSH, id);
	}
	return r;
}
static int r_fdatasync(int fd) { return r_flush(fd, fams_sys_default.os_fdatasync); }
static int r_fsync(int fd) { return r_flush(fd, fams_sys_default.os_fsync); }
static int r_ftruncate(int fd, off_t l)
{
	int r = fams_sys_default.os_ftruncate(fd, l);
	if (recording && r == 0)
		record(OP_SIZE, classify(fd))->off = (uint64_t)l;
	return r;
}
static int r_fallocate(int fd, int mode, off_t o, off_t l)
{
	int r = fams_sys_default.os_fallocate(fd, mode, o, l);
	if (recording && r == 0 && mode == 0) {
		struct op *op = record(OP_SIZE, classify(fd));
		op->off = (uint64_t)(o + l);
		op->len = 1;
	}
	return r;
}
static int r_unlinkat(int d, const char *p, int f)
{
	int r = fams_sys_default.os_unlinkat(d, p, f);
	if (recording && r == 0)
		record(OP_UNLINK, F_JOURNAL);
	return r;
}

static int no_flush(int fd)
{
	(void)fd;
	return 0;
}

/* An image the program may see after a crash from here on.  durable: a commit
 * returned, so images before this one are no longer acceptable. */
static void mark_image(struct image im, int durable)
{
	if (nimages == (int)(sizeof images / sizeof images[0]))
		FAIL("too many images in one shape");
	images[nimages] = im;
	struct op *o = record(OP_MARK, F_OTHER);
	o->image = nimages++;
	o->durable = durable;
}

/* The data file as it is now, as such an image. */
static void mark(int durable) { mark_image(read_image(), durable); }

/* ---- the disk after a power cut ------------------------------------------------- */

struct disk_file {
	char *bytes;
	uint64_t size, cap;
	int exists;
};

static void df_reserve(struct disk_file *f, uint64_t size)
{
	if (size > f->cap) {
		uint64_t cap = f->cap ? f->cap : 65536;
		while (cap < size)
			cap *= 2;
		f->bytes = realloc(f->bytes, cap);
		f->cap = cap;
	}
}
static void df_resize(struct disk_file *f, uint64_t size)
{
	df_reserve(f, size);
	if (size > f->size)
		memset(f->bytes + f->size, 0, size - f->size);
	f->size = size;
}

static struct disk_file init_data, init_journal;

/* Per crash point: which operations are durable, and the bits choosing the rest. */
struct plan {
	int upto;          /* operations [0, upto) were issued */
	char durable[20000];
	int nbits;         /* pending sectors and pending metadata operations */
};

static uint64_t sectors_of(const struct op *o)
{
	return (o->off + o->len - 1) / SECTOR - o->off / SECTOR + 1;
}

static void make_plan(struct plan *p, int upto)
{
	p->upto = upto;
	p->nbits = 0;
	int flushed_data = -1, flushed_journal = -1, dirsync = -1;
	for (int i = 0; i < upto; i++) {
		if (ops[i].kind == OP_FLUSH && ops[i].file == F_DATA)
			flushed_data = i;
		if (ops[i].kind == OP_FLUSH && ops[i].file == F_JOURNAL)
			flushed_journal = i;
		if (ops[i].kind == OP_DIRSYNC)
			dirsync = i;
	}
	for (int i = 0; i < upto; i++) {
		const struct op *o = &ops[i];
		int last = o->kind == OP_CREATE || o->kind == OP_UNLINK ? dirsync
			   : o->file == F_DATA				 ? flushed_data
			   : o->file == F_JOURNAL			 ? flushed_journal
									 : upto;
		p->durable[i] = i < last || o->kind == OP_MARK || o->kind == OP_FLUSH || o->kind == OP_DIRSYNC;
		if (!p->durable[i])
			p->nbits += o->kind == OP_WRITE ? (int)sectors_of(o) : 1;
	}
}

/* Build the disk for a plan; bit(k) says whether pending unit k persisted. */
static void build(const struct plan *p, int (*bit)(void *, int), void *ctx, struct disk_file *d,
		  struct disk_file *j)
{
	d->size = 0;
	df_resize(d, init_data.size);
	memcpy(d->bytes, init_data.bytes, init_data.size);
	j->size = 0;
	df_resize(j, init_journal.size);
	memcpy(j->bytes, init_journal.bytes, init_journal.size);
	j->exists = init_journal.exists;
	int k = 0;
	for (int i = 0; i < p->upto; i++) {
		const struct op *o = &ops[i];
		struct disk_file *f = o->file == F_DATA ? d : j;
		int whole = p->durable[i];
		switch (o->kind) {
		case OP_WRITE: {
			uint64_t s0 = o->off / SECTOR, ns = sectors_of(o);
			if (o->extends && o->off + o->len > f->size && (whole || bit(ctx, k + (int)ns - 1)))
				df_resize(f, o->off + o->len); /* the size goes with the last sector */
			for (uint64_t s = 0; s < ns; s++) {
				if (!whole && !bit(ctx, k + (int)s))
					continue;
				uint64_t a = (s0 + s) * SECTOR, b = a + SECTOR;
				if (a < o->off)
					a = o->off;
				if (b > o->off + o->len)
					b = o->off + o->len;
				if (b > f->size && !o->extends) /* past the size on disk: not in the file */
					b = f->size;
				if (a >= b)
					continue;
				if (b > f->size)
					df_resize(f, b);
				memcpy(f->bytes + a, o->bytes + (a - o->off), b - a);
			}
			if (!whole)
				k += (int)ns;
			break;
		}
		case OP_SIZE:
			if (whole || bit(ctx, k))
				if (!o->len || o->off > f->size)
					df_resize(f, o->off);
			k += !whole;
			break;
		case OP_CREATE:
			if (whole || bit(ctx, k))
				j->exists = 1;
			k += !whole;
			break;
		case OP_UNLINK:
			if (whole || bit(ctx, k))
				j->exists = 0;
			k += !whole;
			break;
		default:
			break;
		}
	}
}

/* ---- checking one state ------------------------------------------------------------ */

static long states_checked;

static void put_file(const char *p, const struct disk_file *f)
{
	int fd = open(p, O_RDWR | O_CREAT, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)f->size) < 0 ||
	    (f->size && pwrite(fd, f->bytes, f->size, 0) != (ssize_t)f->size))
		FAIL("cannot write state to %s", p);
	close(fd);
}

static const char *shape_name;

static void check_state(const struct plan *p, const struct disk_file *d, const struct disk_file *j)
{
	put_file(path, d);
	if (j->exists)
		put_file(jpath, j);
	else
		unlink(jpath);
	/* Which images are acceptable: from the last returned commit to the next. */
	int lo = 0, hi = 0;
	for (int i = 0; i < p->upto; i++)
		if (ops[i].kind == OP_MARK) {
			if (ops[i].durable)
				lo = ops[i].image;
			hi = ops[i].image;
		}
	for (int i = p->upto; i < nops; i++)
		if (ops[i].kind == OP_MARK) {
			hi = ops[i].image;
			if (ops[i].durable)
				break;
		}
	int outcome;
	fams_sys.os_fdatasync = no_flush; /* this disk is simulated: no need to wait for it */
	fams_sys.os_fsync = no_flush;
	int r = fams_recover_path(AT_FDCWD, path, &outcome);
	fams_sys_reset();
	if (r < 0)
		VIOLATION("%s, power cut after op %d: recovery failed: %s", shape_name, p->upto, strerror(errno));
	struct image got = read_image();
	int ok = 0;
	for (int i = lo; i <= hi && !ok; i++)
		ok = same(&got, &images[i]);
	if (!ok && getenv("POWER_LOSS_DEBUG")) {
		static const char *kinds[] = { "write", "size", "flush", "create", "unlink", "dirsync", "mark" };
		static const char *files[] = { "data", "journal", "dir", "-" };
		for (int i = 0; i < nops; i++)
			fprintf(stderr, "%c %2d %-7s %-7s off=%llu len=%llu%s\n", i < p->upto ? (p->durable[i] ? 'D' : 'p') : ' ',
				i, kinds[ops[i].kind], files[ops[i].file], (unsigned long long)ops[i].off,
				(unsigned long long)ops[i].len, ops[i].kind == OP_MARK ? (ops[i].durable ? " durable" : " soft") : "");
		fprintf(stderr, "got size %zu; images:", got.size);
		for (int i = 0; i < nimages; i++)
			fprintf(stderr, " %zu", images[i].size);
		fprintf(stderr, "\n");
	}
	if (!ok)
		VIOLATION("%s, power cut after op %d of %d: the file is none of the images %d..%d it may be (%s)",
			  shape_name, p->upto, nops, lo, hi, fams_recovery_name(outcome));
	free(got.bytes);
	states_checked++;
}

static int bit_of_mask(void *ctx, int k) { return (int)((*(uint64_t *)ctx >> k) & 1); }

struct random_choice {
	uint64_t seed;
	int mode; /* 0: each unit at random; 1: each operation whole or not at all */
	const struct plan *p;
	signed char *unit; /* chosen bits */
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int bit_of_array(void *ctx, int k) { return ((signed char *)ctx)[k]; }

/* Choose pending units for one random state: each pending operation persists
 * whole, not at all, or torn (its sectors chosen one by one). */
static void random_units(const struct plan *p, signed char *unit)
{
	int k = 0;
	for (int i = 0; i < p->upto; i++) {
		if (p->durable[i])
			continue;
		int n = ops[i].kind == OP_WRITE ? (int)sectors_of(&ops[i]) : 1;
		uint64_t s0 = ops[i].kind == OP_WRITE ? ops[i].off / SECTOR : 0;
		/* 0-1 whole, 2 none, 3-4 torn by sector, 5-6 torn by 4 KiB block (page
		 * writeback: a later block of a write on disk, an earlier one not) */
		uint64_t how = rnd() % 7, block = UINT64_MAX;
		signed char block_bit = 0;
		for (int s = 0; s < n; s++) {
			if (how >= 5 && (s0 + (uint64_t)s) / 8 != block) {
				block = (s0 + (uint64_t)s) / 8;
				block_bit = (signed char)(rnd() & 1);
			}
			unit[k + s] = how < 2 ? 1 : how == 2 ? 0 : how >= 5 ? block_bit : (signed char)(rnd() & 1);
		}
		k += n;
	}
}

static long samples_per_point = 400;
static long points_exhaustive, points_sampled;

static void explore(void)
{
	static struct plan p;
	static struct disk_file d, j;
	signed char *unit = malloc(1 << 20);
	for (int upto = 0; upto <= nops; upto++) {
		/* A mark leaves the disk as the prefix before it left it; a durable one
		 * narrows what it may be (the commit returned), so it is checked again. */
		if (upto > 0 && ops[upto - 1].kind == OP_MARK && !ops[upto - 1].durable)
			continue;
		make_plan(&p, upto);
		if (p.nbits > (1 << 20))
			FAIL("too many pending units");
		if (p.nbits <= EXHAUSTIVE_BITS) {
			for (uint64_t m = 0; m < (1ull << p.nbits); m++) {
				build(&p, bit_of_mask, &m, &d, &j);
				check_state(&p, &d, &j);
			}
			points_exhaustive++;
		} else {
			for (long s = 0; s < samples_per_point; s++) {
				random_units(&p, unit);
				build(&p, bit_of_array, unit, &d, &j);
				check_state(&p, &d, &j);
			}
			points_sampled++;
		}
	}
	free(unit);
}

/* ---- shapes ------------------------------------------------------------------------ */

static void begin(size_t size)
{
	for (int i = 0; i < nops; i++)
		free(ops[i].bytes);
	nops = 0;
	for (int i = 0; i < nimages; i++)
		free(images[i].bytes);
	nimages = 0;
	remove_journal();
	struct image a = base_image(size);
	write_image(&a);
	free(a.bytes);
	struct stat st;
	if (stat(path, &st) < 0)
		FAIL("stat");
	data_ino = st.st_ino;
	journal_path(jpath, sizeof jpath);
	struct image im = read_image();
	init_data.size = 0;
	df_resize(&init_data, im.size);
	memcpy(init_data.bytes, im.bytes, im.size);
	free(im.bytes);
	init_journal.size = 0;
	init_journal.exists = 0;
	mark(1);
	recording = 1;
}

/* An image the program may see after a crash: the working copy as it is now (an
 * asynchronous commit point), which is not yet on disk. */
static void mark_seen(struct fams_file *f)
{
	struct image im = { malloc(f->sh->size + 1), f->sh->size };
	if (pread(f->memfd, im.bytes, im.size, 0) != (ssize_t)im.size)
		FAIL("working copy read");
	mark_image(im, 0);
}

/* Commit everything: the data file must then be what the program sees. */
static void commit(struct fams_file *f)
{
	if (fams_file_commit(f, 0, UINT64_MAX) < 0)
		FAIL("%s: commit failed: %s", shape_name, strerror(errno));
	struct image seen = { malloc(f->sh->size + 1), f->sh->size };
	if (pread(f->memfd, seen.bytes, seen.size, 0) != (ssize_t)seen.size)
		FAIL("working copy read");
	mark(1);
	if (!same(&seen, &images[nimages - 1]))
		VIOLATION("%s: after a commit the file (%zu bytes) is not what the program sees (%zu bytes)",
			  shape_name, images[nimages - 1].size, seen.size);
	free(seen.bytes);
}

static void finish(struct fams_file *f)
{
	recording = 0;
	fams_file_close(f, 0); /* the power goes: the journal stays as it is */
	explore();
}

static void sh_one_page(void)
{
	begin(8 * PG);
	struct fams_file *f = open_managed();
	put(f, 3 * PG + 10, "one page");
	commit(f);
	finish(f);
}

static void sh_two_pages_end(void)
{
	begin(6 * PG + 700);
	struct fams_file *f = open_managed();
	put(f, 0, "first");
	put(f, 6 * PG + 690, "tail!");
	commit(f);
	finish(f);
}

static void sh_scattered(void)
{
	begin(48 * PG);
	struct fams_file *f = open_managed();
	for (int i = 0; i < 40; i += 3)
		put(f, (uint64_t)i * PG + (uint64_t)i, "scattered");
	commit(f);
	finish(f);
}

/* Whole pages rewritten: ranges of many sectors, each of which may tear. */
static void sh_whole_pages(void)
{
	begin(16 * PG);
	struct fams_file *f = open_managed();
	put_page(f, 1, 'A');
	put_page(f, 2, 'B');
	put_page(f, 9, 'C');
	commit(f);
	finish(f);
}

/* The same, the journal's body written with O_DIRECT (as a large commit's is): in
 * aligned pieces, the last padded with zeros past the body. */
static void sh_whole_pages_direct(void)
{
	uint64_t was = fams_journal_direct_min;
	fams_journal_direct_min = 0;
	sh_whole_pages();
	fams_journal_direct_min = was;
}

static void sh_journal_growth(void)
{
	begin(40 * PG);
	struct fams_file *f = open_managed();
	for (int i = 0; i < 24; i++)
		put_page(f, (uint64_t)i, (char)('A' + i % 26)); /* grows the journal */
	commit(f);
	finish(f);
}

/* Three commits in a row: each overwrites the journal of the one before, which is
 * safe only if the earlier commit's data was durable first. */
static void sh_consecutive(void)
{
	begin(8 * PG);
	struct fams_file *f = open_managed();
	put(f, 2 * PG, "first commit");
	commit(f);
	put(f, 5 * PG, "second commit");
	commit(f);
	put(f, 2 * PG + 1, "third");
	commit(f);
	finish(f);
}

/* ftruncate around commits, as Kyoto Cabinet does: the size change is seen at
 * once and durable at the next commit. */
static void sh_resize(void)
{
	begin(12 * PG);
	struct fams_file *f = open_managed();
	put(f, 9 * PG, "beyond the cut");
	commit(f);
	if (harness_resize(f, 5 * PG + 123) < 0)
		FAIL("resize");
	mark(0);
	put(f, PG, "kept");
	commit(f);
	if (harness_resize(f, 7 * PG) < 0)
		FAIL("resize");
	mark(0);
	put(f, 6 * PG + 5, "grown");
	commit(f);
	finish(f);
}

static void resize(struct fams_file *f, uint64_t size)
{
	if (harness_resize(f, size) < 0)
		FAIL("%s: resize to %llu: %s", shape_name, (unsigned long long)size, strerror(errno));
}

/* A growth and pages written in it and below the old end, in one commit: the data
 * file must be the old one or the new one, never grown part of the way. */
static void sh_grow_commit(void)
{
	begin(6 * PG + 100);
	struct fams_file *f = open_managed();
	resize(f, 12 * PG);
	put(f, 2 * PG, "below the old end");
	put(f, 6 * PG + 50, "across it");
	put(f, 8 * PG, "grown");
	put(f, 11 * PG + 7, "at the new end");
	commit(f);
	finish(f);
}

/* A commit that grew the file, then a shrink back to the size it grew from: a
 * size change alone may not skip the journal when recovery could read the new
 * size as the commit's old one (and roll back what it finished). */
static void sh_commit_shrink_back(void)
{
	begin(6 * PG);
	struct fams_file *f = open_managed();
	resize(f, 9 * PG);
	put(f, 2 * PG, "kept after the shrink");
	put(f, 7 * PG, "cut by the shrink");
	commit(f);
	resize(f, 6 * PG);
	commit(f);
	resize(f, 3 * PG + 9); /* neither of the live journal's sizes: a size change alone */
	commit(f);
	finish(f);
}

/* A shrink and a growth before one commit: the regrown range holds zeros in the
 * working copy and old bytes in the data file, which the commit must replace. */
static void sh_shrink_grow_commit(void)
{
	begin(10 * PG);
	struct fams_file *f = open_managed();
	put(f, 2 * PG, "first");
	commit(f);
	resize(f, 3 * PG + 5);
	resize(f, 8 * PG);
	put(f, 6 * PG, "regrown");
	commit(f);
	finish(f);
}

/* Two asynchronous commit points whose commits run after both were taken (the
 * commit thread's pipeline): each commit brings the file exactly to its snapshot,
 * and a crash leaves the last returned one or the one in flight. */
static void sh_snapshots(void)
{
	begin(12 * PG);
	struct fams_file *f = open_managed();
	struct fams_snapshot s1, s2;
	put_page(f, 2, 'A');
	put(f, 7 * PG + 3, "first snapshot");
	resize(f, 14 * PG);
	put(f, 13 * PG, "grown by the first");
	if (fams_commit_snapshot(f, 0, UINT64_MAX, &s1) < 0)
		FAIL("%s: snapshot", shape_name);
	mark_seen(f);
	int first = nimages - 1;
	put_page(f, 2, 'B');
	put(f, 9 * PG, "second snapshot");
	resize(f, 10 * PG + 11);
	if (fams_commit_snapshot(f, 0, UINT64_MAX, &s2) < 0)
		FAIL("%s: snapshot", shape_name);
	mark_seen(f);
	int second = nimages - 1;
	put(f, 4 * PG, "after both: not in either");
	if (fams_commit_apply(f, &s1) < 0)
		FAIL("%s: commit of the first snapshot: %s", shape_name, strerror(errno));
	mark(1);
	if (!same(&images[nimages - 1], &images[first]))
		VIOLATION("%s: the first snapshot's commit did not bring the file to it", shape_name);
	if (fams_commit_apply(f, &s2) < 0)
		FAIL("%s: commit of the second snapshot: %s", shape_name, strerror(errno));
	mark(1);
	if (!same(&images[nimages - 1], &images[second]))
		VIOLATION("%s: the second snapshot's commit did not bring the file to it", shape_name);
	snapshot_free(&s1);
	snapshot_free(&s2);
	finish(f);
}

/* A redo log that fills up (commit.c, R3): its commits made durable and the log
 * retired before the next epoch's first record -- larger than the last epoch's
 * first, so it reaches into the second -- is written over it. */
static void sh_redo_rollover(void)
{
	begin(8 * PG);
	struct fams_file *f = open_managed();
	/* The first commit is an undo one (the file is not known durable); seven
	 * one-page records fill the log. */
	for (int i = 0; i < 8; i++) {
		put_page(f, 0, (char)('A' + i));
		commit(f);
	}
	put_page(f, 0, 'Y');
	put_page(f, 1, 'Z');
	commit(f);
	put(f, 5 * PG, "next record of the new epoch");
	commit(f);
	finish(f);
}

/* A redo log whose room is larger than the journal: the journal grows under its
 * live records, and they stay. */
static void sh_redo_grows(void)
{
	begin(8 * PG);
	fams_redo_room = 256 * 1024;
	struct fams_file *f = open_managed();
	/* An undo commit first, then records of 12 KiB: the sixth reaches past the
	 * 64 KiB journal. */
	for (int i = 0; i < 7; i++) {
		put_page(f, (uint64_t)i, (char)('K' + i));
		put_page(f, 7, (char)('k' + i));
		commit(f);
	}
	fams_redo_room = 0;
	finish(f);
}

/* A log left by a killed process, applied at the next open, then a new log over
 * it: the old log's later records must never be read as the new log's. */
static void sh_redo_after_crash(void)
{
	begin(8 * PG);
	struct fams_file *f = open_managed();
	put_page(f, 0, 'A');
	commit(f);
	put_page(f, 1, 'B');
	commit(f);
	put_page(f, 1, 'C');
	commit(f);
	fams_file_close(f, 0); /* killed: its log stays */
	f = open_managed();     /* recovery applies it, and retires it */
	put_page(f, 1, 'D');    /* an undo commit: a new process knows no durable data */
	commit(f);
	put_page(f, 1, 'E');    /* the new log's first record, where the old one's was */
	commit(f);
	finish(f);
}

/* open(O_TRUNC) of a file with a live redo log, as opencall.c makes it: the log is
 * checkpointed, the kernel truncates (unflushed), and the next commit -- smaller
 * new contents -- begins a log from that truncation only as one from an empty
 * file (commit.c, R0): its record holds only what differs from the zeros, and a
 * power cut that lost the truncation would leave the old bytes around it unless
 * the replay cuts them away first. */
static void sh_redo_truncated(void)
{
	begin(8 * PG);
	struct fams_file *f = open_managed();
	put_page(f, 2, 'P');
	commit(f); /* an undo commit */
	put_page(f, 3, 'Q');
	commit(f); /* the log's first record */
	if (fams_file_before_truncate(f) < 0)
		FAIL("%s: before the truncation", shape_name);
	if (fams_truncate(f->data_fd, 0) < 0)
		FAIL("%s: the kernel's truncation", shape_name);
	if (fams_commit_lock(f) < 0)
		FAIL("commit lock");
	f->sh->data_size = 0;
	if (fams_file_resize(f, 0) < 0)
		FAIL("%s: resize", shape_name);
	fams_commit_unlock(f);
	mark_seen(f);
	resize(f, 5 * PG);
	put(f, PG + 5, "new contents");
	commit(f);
	finish(f);
}

/* A file made new, as a program does before mapping it: one that held data is
 * truncated (O_TRUNC, unflushed: the disk may keep the old bytes).  Its page cache
 * then holds no data, so its first commit begins a log from an empty file with no
 * flush of the data file first (commit.c, R0): replay must cut away whatever the
 * disk kept. */
static void new_file_start(size_t size)
{
	begin(size);
	int fd = open(path, O_RDWR);
	if (fd < 0 || fams_sys.os_ftruncate(fd, 0) < 0)
		FAIL("%s: the program's truncation", shape_name);
	close(fd);
	mark_image((struct image){ malloc(1), 0 }, 0);
}

/* The log f's first commit began is one from an empty file (with the redo log). */
static void expect_from_empty(struct fams_file *f)
{
	if (fams_cfg.commit_log == FAMS_COMMIT_REDO && !journal_from_empty(f))
		FAIL("%s: the first commit began no log from an empty file", shape_name);
}

/* Made new, then managed, sized, written and committed twice. */
static void sh_new_file(void)
{
	new_file_start(8 * PG);
	struct fams_file *f = open_managed();
	resize(f, 5 * PG);
	put(f, PG + 5, "new contents");
	commit(f);
	expect_from_empty(f);
	put_page(f, 3, 'R');
	commit(f);
	finish(f);
}

/* Made new and sized with fallocate before it is mapped, as gold makes its output:
 * the extents are allocated and never written, and the commit must still find that
 * the file holds no data (asked before its plan reads the data file). */
static void sh_new_file_fallocated(void)
{
	new_file_start(8 * PG);
	int fd = open(path, O_RDWR);
	if (fd < 0 || fams_sys.os_fallocate(fd, 0, 0, 6 * PG) < 0)
		FAIL("%s: the program's fallocate", shape_name);
	close(fd);
	mark_image((struct image){ calloc(1, 6 * PG), 6 * PG }, 0);
	struct fams_file *f = open_managed();
	put(f, 2 * PG + 9, "linked");
	put_page(f, 5, 'E');
	commit(f);
	expect_from_empty(f);
	put(f, 10, "header");
	commit(f);
	finish(f);
}

/* A file of holes whose size is on disk (sized and flushed before fams managed it):
 * its first commit begins a log from an empty file, and a power cut before that
 * record is durable must leave the file as it was -- the replay cuts only once a
 * record checks (an empty file is no state the program had here). */
static void sh_new_file_flushed_size(void)
{
	begin(0);
	int fd = open(path, O_RDWR);
	if (fd < 0 || fams_sys.os_ftruncate(fd, 6 * PG) < 0 || fams_sys.os_fdatasync(fd) < 0)
		FAIL("%s: the program's sizing", shape_name);
	close(fd);
	mark_image((struct image){ calloc(1, 6 * PG), 6 * PG }, 1);
	struct fams_file *f = open_managed();
	put(f, 4 * PG + 1, "the first record");
	commit(f);
	expect_from_empty(f);
	finish(f);
}

/* Records of a log from an empty file after a shrink, a growth, a regrow over cut
 * bytes (its records, not the cut, must account for every byte). */
static void sh_new_file_sizes(void)
{
	new_file_start(10 * PG);
	struct fams_file *f = open_managed();
	resize(f, 9 * PG + 7);
	put_page(f, 1, 'a');
	put(f, 8 * PG + 3, "near the end");
	commit(f);
	expect_from_empty(f);
	resize(f, 2 * PG + 100);
	commit(f);
	resize(f, 12 * PG);
	put(f, 11 * PG, "regrown");
	commit(f);
	resize(f, 3 * PG);
	resize(f, 9 * PG);
	put(f, 2 * PG + 1, "x");
	commit(f);
	finish(f);
}

/* Two MS_ASYNC snapshots of a file made new, committed after: the first begins
 * the log from an empty file. */
static void sh_new_file_snapshots(void)
{
	new_file_start(12 * PG);
	struct fams_file *f = open_managed();
	resize(f, 6 * PG);
	struct fams_snapshot s1, s2;
	put_page(f, 2, 'A');
	if (fams_commit_snapshot(f, 0, UINT64_MAX, &s1) < 0)
		FAIL("%s: snapshot", shape_name);
	mark_seen(f);
	put_page(f, 2, 'B');
	resize(f, 8 * PG);
	put(f, 7 * PG, "second");
	if (fams_commit_snapshot(f, 0, UINT64_MAX, &s2) < 0)
		FAIL("%s: snapshot", shape_name);
	mark_seen(f);
	put(f, 4 * PG, "after both");
	if (fams_commit_apply(f, &s1) < 0)
		FAIL("%s: commit of the first snapshot", shape_name);
	mark(1);
	expect_from_empty(f);
	if (fams_commit_apply(f, &s2) < 0)
		FAIL("%s: commit of the second snapshot", shape_name);
	mark(1);
	snapshot_free(&s1);
	snapshot_free(&s2);
	commit(f);
	finish(f);
}

static int eio_flush(int fd)
{
	(void)fd;
	errno = EIO;
	return -1;
}

static int eio_flush_journal(int fd)
{
	if (classify(fd) == F_JOURNAL) {
		errno = EIO;
		return -1;
	}
	return r_fdatasync(fd);
}

/* A checkpoint whose retirement of the log fails (found by review): the zeros may
 * be on disk or not, so the next record may not go on under them as if the log
 * were still live (it would be lost with them). */
static void sh_retire_fails(void)
{
	begin(8 * PG);
	struct fams_file *f = open_managed();
	put_page(f, 1, 'A');
	commit(f); /* an undo commit */
	put_page(f, 2, 'B');
	commit(f); /* the log's first record */
	fams_sys.os_fdatasync = eio_flush_journal;
	int level = fams_log_level;
	fams_log_level = FAMS_LOG_ERROR - 1; /* the failure is the point: no message */
	if (fams_file_before_truncate(f) == 0)
		FAIL("%s: the checkpoint was expected to fail", shape_name);
	fams_log_level = level;
	fams_sys.os_fdatasync = r_fdatasync;
	put_page(f, 3, 'C'); /* no truncation followed: the open failed */
	commit(f);
	finish(f);
}

/* A size change alone whose flush fails (found by review): the truncation may or may
 * not be on disk, so the next commit may not begin from the data file as durable --
 * a redo log would not record the zeros of a regrown range, and an undo commit's
 * recovery would read the size as its own. */
static void sh_size_flush_fails(void)
{
	begin(8 * PG);
	struct fams_file *f = open_managed();
	put_page(f, 1, 'A');
	commit(f); /* an undo commit: the data file is durable */
	resize(f, 4 * PG);
	fams_sys.os_fdatasync = eio_flush;
	int level = fams_log_level;
	fams_log_level = FAMS_LOG_ERROR - 1; /* the failure is the point: no message */
	if (fams_file_commit(f, 0, UINT64_MAX) == 0)
		FAIL("%s: the size change was expected to fail", shape_name);
	fams_log_level = level;
	fams_sys.os_fdatasync = r_fdatasync;
	mark(0); /* the file may have the new size */
	resize(f, 8 * PG);
	put_page(f, 0, 'B');
	commit(f);
	finish(f);
}

/* The last process leaves: a redo log's commits are made durable in the data file
 * before its journal is removed (file.c, R3). */
static void sh_last_leaves(void)
{
	begin(8 * PG);
	struct fams_file *f = open_managed();
	put(f, 2 * PG, "first commit");
	commit(f);
	put_page(f, 4, 'Q');
	commit(f);
	fams_file_close(f, 1);
	recording = 0;
	explore();
}

/* exec (registry.c): the commits of a file no other process uses made durable in
 * the data file alone, its journal left holding nothing -- then the next program,
 * not under fams, writes the file and flushes: neither a replay of the log nor a
 * rollback of the undo journal may touch its bytes. */
static void sh_exec_settles(void)
{
	begin(8 * PG);
	struct fams_file *f = open_managed();
	put_page(f, 1, 'A');
	commit(f); /* an undo commit */
	put_page(f, 2, 'B');
	commit(f); /* the log's first record (undo: an undo commit) */
	if (fams_file_settle(f) < 0)
		FAIL("%s: settling before exec: %s", shape_name, strerror(errno));
	if (fams_pwrite_full(f->data_fd, "the next program", 16, 2 * PG + 5) < 0 || fams_flush(f->data_fd) < 0)
		FAIL("%s: the next program's write", shape_name);
	mark(1);
	finish(f);
}

/* Kyoto Cabinet's synchronisation, twice: grow, commit, shrink to the new logical
 * end, commit (a size change alone). */
static void sh_kyoto_sync(void)
{
	const uint64_t start = 5 * PG + 100;
	begin(start);
	struct fams_file *f = open_managed();
	for (uint64_t i = 0; i < 2; i++) {
		resize(f, 8 * PG);
		put(f, start + i * 32, "record of 32 bytes, no more.....");
		commit(f);
		resize(f, start + (i + 1) * 32);
		commit(f);
	}
	finish(f);
}

int main(int argc, char **argv)
{
	int only_log = -1; /* --commit-log=redo|undo: only that one (default: both) */
	const char *only_shape = NULL; /* --shape=TEXT: only the shapes whose name holds it */
	parse_broken(argc, argv);
	harness_tracker(FAMS_TRACKER_COMPARE);
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--samples=", 10) == 0)
			samples_per_point = atol(argv[i] + 10);
		else if (strncmp(argv[i], "--seed=", 7) == 0)
			rng_state = strtoull(argv[i] + 7, NULL, 0) | 1;
		else if (strncmp(argv[i], "--shape=", 8) == 0)
			only_shape = argv[i] + 8;
		else if (strcmp(argv[i], "--commit-log=redo") == 0)
			only_log = FAMS_COMMIT_REDO;
		else if (strcmp(argv[i], "--commit-log=undo") == 0)
			only_log = FAMS_COMMIT_UNDO;
	}
	use_test_file("power_loss");
	fams_cfg.journal_size = 64 * 1024;
	fams_redo_room = 0; /* the log rolls over at the journal's size */ /* small, so growth is exercised */
	fams_cfg.journal_max = 64 << 20;
	fams_log_level = FAMS_LOG_ERROR;
	fams_sys.os_openat = r_openat;
	fams_sys.os_pwrite = r_pwrite;
	fams_sys.os_fdatasync = r_fdatasync;
	fams_sys.os_fsync = r_fsync;
	fams_sys.os_ftruncate = r_ftruncate;
	fams_sys.os_fallocate = r_fallocate;
	fams_sys.os_unlinkat = r_unlinkat;
	struct fams_sys recorder = fams_sys;
	static const struct {
		const char *name;
		void (*run)(void);
	} shapes[] = {
		{ "first commit, one page", sh_one_page },
		{ "first page and partial last page", sh_two_pages_end },
		{ "scattered pages", sh_scattered },
		{ "whole pages", sh_whole_pages },
		{ "whole pages, journal body direct", sh_whole_pages_direct },
		{ "journal growth", sh_journal_growth },
		{ "three consecutive commits", sh_consecutive },
		{ "ftruncate shrink and grow", sh_resize },
		{ "growth and pages in one commit", sh_grow_commit },
		{ "commit, then shrink back", sh_commit_shrink_back },
		{ "shrink then grow in one commit", sh_shrink_grow_commit },
		{ "Kyoto Cabinet's sync, twice", sh_kyoto_sync },
		{ "two snapshots, committed after", sh_snapshots },
		{ "redo log full, next epoch", sh_redo_rollover },
		{ "redo log grows the journal", sh_redo_grows },
		{ "a killed process's log, then a new one", sh_redo_after_crash },
		{ "open(O_TRUNC) of a file with a log", sh_redo_truncated },
		{ "a new file: truncated, sized, committed", sh_new_file },
		{ "a new file sized with fallocate", sh_new_file_fallocated },
		{ "a new file sized and flushed", sh_new_file_flushed_size },
		{ "a new file: shrink and regrow in its first log", sh_new_file_sizes },
		{ "a new file: two snapshots in its first log", sh_new_file_snapshots },
		{ "a size change alone whose flush fails", sh_size_flush_fails },
		{ "a checkpoint whose retirement fails", sh_retire_fails },
		{ "last process leaves", sh_last_leaves },
		{ "exec, then a program not under fams", sh_exec_settles },
	};
	static const char *const logs[] = { "redo", "undo" };
	for (int log = 0; log < 2; log++) {
		if (only_log >= 0 && log != only_log)
			continue;
		fams_cfg.commit_log = log;
		for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
			shape_name = shapes[s].name;
			if (only_shape && !strstr(shape_name, only_shape))
				continue;
			long before = states_checked, pe = points_exhaustive, ps = points_sampled;
			fams_sys = recorder;
			shapes[s].run();
			fams_sys_reset();
			printf("%s: %-34s %4d ops, %3ld crash points exhaustive, %3ld sampled, %7ld states\n", logs[log],
			       shape_name, nops, points_exhaustive - pe, points_sampled - ps, states_checked - before);
			fflush(stdout);
		}
	}
	if (broken_name)
		return broken_not_caught();
	printf("%ld power-loss states checked, 0 violations\n", states_checked);
	remove_journal();
	unlink(path);
	return 0;
}
