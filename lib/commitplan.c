/* commitplan.c -- what one commit changes: which suspect pages are written, the
 * ranges of the data file that differ from the working copy's dirty pages, and
 * what a shrink cuts off. */
#include "commitplan.h"
#include "pagebits.h"
#include "sys.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Ranges are found a block at a time; changed blocks closer than MERGE_GAP join
 * one range (an extent costs a table entry and a write; a few equal bytes less). */
#define BLOCK 64u
#define MERGE_GAP (2 * BLOCK)

static int plan_add(struct commit_plan *pl, uint64_t off, uint64_t len, uint64_t flags, const char *undo,
		    const char *newb)
{
	if (pl->n == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 16;
		struct fams_jextent *e = realloc(pl->ext, cap * sizeof *e);
		if (e)
			pl->ext = e;
		const char **u = e ? realloc(pl->undo, cap * sizeof *u) : NULL;
		if (u)
			pl->undo = u;
		const char **nb = u ? realloc(pl->newb, cap * sizeof *nb) : NULL;
		if (!nb) {
			errno = ENOMEM;
			return -1;
		}
		pl->newb = nb;
		pl->cap = cap;
	}
	pl->ext[pl->n] = (struct fams_jextent){ .off = off, .len = len, .flags = flags };
	pl->undo[pl->n] = undo;
	pl->newb[pl->n] = newb;
	pl->n++;
	return 0;
}

/* Append to *runs the runs of dirty pages in [first, last); *bytes: what they hold
 * of the file's first `size` bytes. */
static int find_runs(struct page_run **runs, size_t *n, size_t *cap, const struct fams_file *f,
		     uint64_t first, uint64_t last, uint64_t size, uint64_t *bytes)
{
	const uint64_t pg = (uint64_t)fams_page_size;
	*bytes = 0;
	for (uint64_t p = bits_next(f->dirty, first, last); p < last;) {
		uint64_t q = p;
		while (q < last && bit_test(f->dirty, q))
			q++;
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 16;
			struct page_run *r = realloc(*runs, c * sizeof *r);
			if (!r) {
				errno = ENOMEM;
				return -1;
			}
			*runs = r;
			*cap = c;
		}
		(*runs)[(*n)++] = (struct page_run){ p, q };
		uint64_t end = q * pg > size ? size : q * pg;
		*bytes += end - p * pg;
		p = bits_next(f->dirty, q, last);
	}
	return 0;
}

/* The bytes of run r that lie inside size. */
static uint64_t run_bytes(const struct page_run *r, uint64_t size)
{
	const uint64_t pg = (uint64_t)fams_page_size;
	uint64_t off = r->first * pg, end = r->last * pg;
	return (end > size ? size : end) - off;
}

/* len bytes of fd at off into dst; past its end, zeros (a working copy shrunk under
 * us, or the growth a commit brings to the data file).  -1 with errno. */
static int read_zero_filled(int fd, char *dst, uint64_t len, uint64_t off)
{
	ssize_t r = fams_pread_full(fd, dst, (size_t)len, (off_t)off);
	if (r < 0)
		return -1;
	memset(dst + r, 0, (size_t)(len - (uint64_t)r));
	return 0;
}

int snapshot_take(struct fams_snapshot *s, const struct fams_file *f, uint64_t first, uint64_t last)
{
	uint64_t bytes;
	*s = (struct fams_snapshot){ .size = f->sh->size };
	if (find_runs(&s->runs, &s->nruns, &s->runs_cap, f, first, last, s->size, &bytes) < 0)
		return -1;
	if (!(s->bytes = malloc(bytes ? bytes : 1))) {
		errno = ENOMEM;
		return -1;
	}
	uint64_t pos = 0;
	for (size_t i = 0; i < s->nruns; i++) {
		uint64_t len = run_bytes(&s->runs[i], s->size);
		if (read_zero_filled(f->memfd, s->bytes + pos, len, s->runs[i].first * (uint64_t)fams_page_size) < 0)
			return -1;
		pos += len;
	}
	return 0;
}

void snapshot_free(struct fams_snapshot *s)
{
	free(s->runs);
	free(s->bytes);
	*s = (struct fams_snapshot){ 0 };
}

/* The ranges where the run's new bytes (nb) differ from its old (ob), len bytes
 * from off. */
static int diff_run(struct commit_plan *pl, uint64_t off, const char *nb, const char *ob, uint64_t len)
{
	uint64_t start = 0, end = 0; /* the open range, [start, end) in the run; none when equal */
	bool open = false;
	for (uint64_t b = 0; b < len; b += BLOCK) {
		uint64_t l = len - b < BLOCK ? len - b : BLOCK;
		if (memcmp(nb + b, ob + b, (size_t)l) == 0)
			continue;
		if (open && b - end <= MERGE_GAP) {
			end = b + l;
			continue;
		}
		if (open && plan_add(pl, off + start, end - start, 0, ob + start, nb + start) < 0)
			return -1;
		open = true;
		start = b;
		end = b + l;
	}
	if (open && plan_add(pl, off + start, end - start, 0, ob + start, nb + start) < 0)
		return -1;
	return 0;
}

/* Room for `bytes` bytes, kept in f between commits: a fresh buffer of a large
 * commit costs a page fault and a cleared page for each of its pages, which
 * weighed more than the copies themselves.  The commit lock is held. */
static char *scratch(struct fams_file *f, uint64_t bytes)
{
	if (f->plan_cap < bytes) {
		free(f->plan_buf);
		f->plan_cap = 0;
		if (!(f->plan_buf = malloc(bytes)))
			return NULL;
		f->plan_cap = bytes;
	}
	return f->plan_buf;
}

int plan_pages(struct commit_plan *pl, struct fams_file *f, uint64_t first, uint64_t last,
	       struct fams_jsizes sz, const struct fams_snapshot *snap)
{
	const uint64_t pg = (uint64_t)fams_page_size;
	uint64_t bytes = 0;
	if (!snap && find_runs(&pl->runs, &pl->nruns, &pl->runs_cap, f, first, last, sz.new_size, &bytes) < 0)
		return -1;
	if (snap) {
		if (snap->nruns && !(pl->runs = malloc(snap->nruns * sizeof *pl->runs))) {
			errno = ENOMEM;
			return -1;
		}
		memcpy(pl->runs, snap->runs, snap->nruns * sizeof *pl->runs);
		pl->nruns = pl->runs_cap = snap->nruns;
		for (size_t i = 0; i < snap->nruns; i++)
			bytes += run_bytes(&snap->runs[i], sz.new_size);
	}
	if (pl->nruns == 0)
		return 0;
	/* New and old bytes; a snapshot brings its new ones. */
	char *room = scratch(f, snap ? bytes : 2 * bytes);
	if (!room) {
		errno = ENOMEM;
		return -1;
	}
	pl->newbuf = snap ? NULL : room;
	pl->oldbuf = snap ? room : room + bytes;
	uint64_t pos = 0;
	for (size_t i = 0; i < pl->nruns; i++) {
		uint64_t off = pl->runs[i].first * pg, len = run_bytes(&pl->runs[i], sz.new_size);
		char *nb = snap ? snap->bytes + pos : pl->newbuf + pos, *ob = pl->oldbuf + pos;
		if ((!snap && read_zero_filled(f->memfd, nb, len, off) < 0) || read_zero_filled(f->data_fd, ob, len, off) < 0)
			return -1;
		if (diff_run(pl, off, nb, ob, len) < 0)
			return -1;
		pos += len;
	}
	pl->written = pl->n;
	for (size_t i = 0; i < pl->n; i++)
		pl->new_bytes += pl->ext[i].len;
	return 0;
}

int plan_cut(struct commit_plan *pl, const struct fams_file *f, struct fams_jsizes sz)
{
	for (uint64_t pos = sz.new_size; pos < sz.old_size;) {
		off_t data = fams_file_seek_data(f, (off_t)pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break;
		if (data < 0) /* no SEEK_DATA here (or not ours to use): keep everything */
			return plan_add(pl, pos, sz.old_size - pos, FAMS_JEXT_CUT, NULL, NULL);
		if ((uint64_t)data >= sz.old_size)
			break;
		off_t hole = fams_file_seek_data(f, data, SEEK_HOLE);
		uint64_t end = hole < 0 || (uint64_t)hole > sz.old_size ? sz.old_size : (uint64_t)hole;
		if (plan_add(pl, (uint64_t)data, end - (uint64_t)data, FAMS_JEXT_CUT, NULL, NULL) < 0)
			return -1;
		pos = end;
	}
	return 0;
}

void plan_free(struct commit_plan *pl)
{
	free(pl->ext);
	free(pl->undo);
	free(pl->newb);
	free(pl->runs);
	*pl = (struct commit_plan){ 0 };
}

/* Suspect pages against the data file, a chunk of pages at a time. */
int plan_compare_suspects(struct fams_file *f, uint64_t first, uint64_t last, bool all)
{
	const size_t pg = (size_t)fams_page_size, per = FAMS_IO_CHUNK / pg;
	char *a = NULL, *b = NULL;
	int ret = -1;
	uint64_t p = first;
	while (p < last) {
		if (!all) {
			p = bits_next(f->suspect, p, last);
			if (p >= last)
				break;
		}
		uint64_t n = last - p < per ? last - p : per;
		if (!all) { /* stop the batch at the first non-suspect page */
			uint64_t q = p;
			while (q < p + n && bit_test(f->suspect, q))
				q++;
			n = q - p;
		}
		if (!a && (!(a = malloc(FAMS_IO_CHUNK)) || !(b = malloc(FAMS_IO_CHUNK))))
			goto out;
		uint64_t off = p * pg, len = n * pg;
		if (off + len > f->sh->size)
			len = f->sh->size - off;
		ssize_t ra = fams_raw_pread(f->memfd, a, (size_t)len, (off_t)off);
		ssize_t rb = fams_pread_full(f->data_fd, b, (size_t)len, (off_t)off);
		if (ra < 0 || rb < 0)
			goto out;
		memset(b + rb, 0, (size_t)(len - (uint64_t)rb));
		for (uint64_t i = 0; i < n; i++) {
			uint64_t o = i * pg, l = o + pg > len ? len - o : pg;
			if (memcmp(a + o, b + o, (size_t)l) != 0)
				bits_word_or(f->dirty, (p + i) / 64, 1ull << ((p + i) % 64));
			bits_word_clear(f->suspect, (p + i) / 64, 1ull << ((p + i) % 64));
		}
		p += n;
	}
	ret = 0;
out:
	free(a);
	free(b);
	return ret;
}

uint64_t plan_page_count(const struct commit_plan *pl)
{
	uint64_t pages = 0;
	for (size_t i = 0; i < pl->nruns; i++)
		pages += pl->runs[i].last - pl->runs[i].first;
	return pages;
}
