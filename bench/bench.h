/* bench.h -- what the commit benchmarks share, so that every system is measured
 * on the same pages and counted the same way. */
#ifndef FAMS_BENCH_H
#define FAMS_BENCH_H

#include <stdio.h>
#include <stdlib.h>

#define PG 4096

/* qsort order for doubles, for medians and p99. */
static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static inline size_t gcd(size_t a, size_t b)
{
	while (b) {
		size_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Bytes this process has sent to storage so far (/proc/self/io: its own writes,
 * msync's writeback included). */
static inline unsigned long long write_bytes(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	unsigned long long v = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "write_bytes: %llu", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/* k distinct pages of pages (k <= pages): a random start, then a random stride
 * coprime with the page count.  Page i of the walk is page_at(&w, i). */
struct page_walk {
	size_t start, stride, pages;
};

static inline struct page_walk random_walk(size_t pages)
{
	struct page_walk w = { .pages = pages };
	w.start = (size_t)rand() % pages;
	w.stride = ((size_t)rand() % pages) | 1;
	while (gcd(w.stride, pages) != 1)
		w.stride += 2;
	return w;
}

static inline size_t page_at(const struct page_walk *w, size_t i) { return (w->start + i * w->stride) % w->pages; }

#endif
