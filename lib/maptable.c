/* maptable.c -- the records of this process's mappings of managed files and shadows. */
#include "maptable.h"
#include "sys.h"

#include <stdlib.h>

struct fams_map *fams_maps;
struct fams_map *fams_shadows;

bool map_overlaps(const struct fams_map *m, uintptr_t s, uintptr_t e)
{
	return m->start < e && s < m->end;
}

bool map_any_overlap(uintptr_t s, uintptr_t e)
{
	for (struct fams_map *m = fams_maps; m; m = m->next)
		if (map_overlaps(m, s, e))
			return true;
	return false;
}

bool map_shadow_overlap(uintptr_t s, uintptr_t e)
{
	for (struct fams_map *m = fams_shadows; m; m = m->next)
		if (map_overlaps(m, s, e))
			return true;
	return false;
}

struct fams_map *map_push(struct fams_map **list, uintptr_t s, uintptr_t e, uint64_t off, int prot,
				 struct fams_file *f)
{
	struct fams_map *m = malloc(sizeof *m);
	if (!m)
		return NULL;
	*m = (struct fams_map){ .start = s, .end = e, .off = off, .prot = prot, .f = f, .next = *list };
	*list = m;
	if (f) {
		f->nmaps++;
		f->maps_changed = true;
	}
	return m;
}

struct fams_map *map_add(uintptr_t s, uintptr_t e, uint64_t off, int prot, struct fams_file *f)
{
	return map_push(&fams_maps, s, e, off, prot, f);
}

void map_free(struct fams_map *m)
{
	if (m->f) {
		m->f->nmaps--;
		m->f->maps_changed = true;
	}
	free(m);
}

/* Split the record containing addr (if addr is strictly inside it) in two; the
 * right part goes to the head of the list.  Returns false when out of memory. */
bool map_split(struct fams_map **list, uintptr_t addr)
{
	for (struct fams_map *m = *list; m; m = m->next) {
		if (!(m->start < addr && addr < m->end))
			continue;
		struct fams_map *r = map_push(list, addr, m->end, m->off + (addr - m->start), m->prot, m->f);
		if (!r)
			return false;
		r->key = m->key;
		r->maywrite = m->maywrite;
		r->untracked = m->untracked; /* both halves as the whole was */
		r->holes_open = m->holes_open;
		r->dontfork = m->dontfork;
		m->end = addr;
		return true;
	}
	return true;
}

void map_join(struct fams_map **list, struct fams_map *m)
{
	for (bool joined = true; joined;) {
		joined = false;
		for (struct fams_map **pn = list; *pn; pn = &(*pn)->next) {
			struct fams_map *n = *pn;
			if (n == m || n->start != m->end || n->f != m->f || n->prot != m->prot ||
			    n->maywrite != m->maywrite || n->dontfork != m->dontfork ||
			    n->off != m->off + (m->end - m->start))
				continue; /* (areas of another VM_MAYWRITE or VM_DONTCOPY do not join either) */
			m->end = n->end;
			m->untracked = m->untracked || n->untracked;
			m->holes_open = m->holes_open || n->holes_open;
			/* Quiet only if both were, since the same scan: the other may hold
			 * pages never harvested, or left open (dirty.c). */
			m->quiet = (m->quiet && n->quiet && m->quiet_faults == n->quiet_faults) ||
				   (m->quiet && fams_test_break == FAMS_BREAK_JOIN_KEEPS_QUIET);
			*pn = n->next;
			map_free(n);
			joined = true;
			break;
		}
	}
}

/* Drop the records of [s, e) from a list. */
void map_forget_in(struct fams_map **list, uintptr_t s, uintptr_t e)
{
	/* A hole in the middle of a record splits it; if memory for the split runs
	 * out, the whole record goes (a lost record is only ever a lost shadow or a
	 * mapping the kernel no longer has). */
	map_split(list, e);
	struct fams_map **pp = list;
	while (*pp) {
		struct fams_map *m = *pp;
		if (!map_overlaps(m, s, e)) {
			pp = &m->next;
		} else if (m->start < s) {
			m->end = s;
			if (m->f)
				m->f->maps_changed = true;
			pp = &m->next;
		} else if (m->end > e) {
			m->off += e - m->start;
			m->start = e;
			if (m->f)
				m->f->maps_changed = true;
			pp = &m->next;
		} else {
			*pp = m->next;
			map_free(m);
		}
	}
}

/* Drop the records of [s, e) after the kernel unmapped or replaced it. */
void map_forget_range(uintptr_t s, uintptr_t e)
{
	map_forget_in(&fams_maps, s, e);
	map_forget_in(&fams_shadows, s, e);
}

/* Call fn on the part of each mapping of f that shows the file range [lo, hi). */
void map_each_of_file(struct fams_file *f, uint64_t lo, uint64_t hi,
			void (*fn)(struct fams_map *m, uintptr_t s, uintptr_t e))
{
	for (struct fams_map *m = fams_maps; m; m = m->next) {
		if (m->f != f)
			continue;
		uint64_t mlo = m->off, mhi = m->off + (m->end - m->start);
		if (mhi <= lo || mlo >= hi)
			continue;
		uint64_t a = mlo > lo ? mlo : lo, b = mhi < hi ? mhi : hi;
		fn(m, m->start + (a - mlo), m->start + (b - mlo));
	}
}

/* The records of [s, e), split where it begins and ends, one after another:
 * for m = first_in(...); m; m = next_in(m, ...). */
static struct fams_map *next_in(struct fams_map *m, uintptr_t s, uintptr_t e)
{
	while (m && !map_overlaps(m, s, e))
		m = m->next;
	return m;
}
static struct fams_map *first_in(struct fams_map **list, uintptr_t s, uintptr_t e)
{
	map_split(list, s);
	map_split(list, e);
	return next_in(*list, s, e);
}

void map_set_prot(struct fams_map **list, uintptr_t s, uintptr_t e, int prot)
{
	for (struct fams_map *m = first_in(list, s, e); m; m = next_in(m->next, s, e))
		m->prot = prot;
}

void map_set_dontfork(struct fams_map **list, uintptr_t s, uintptr_t e, bool on)
{
	for (struct fams_map *m = first_in(list, s, e); m; m = next_in(m->next, s, e))
		m->dontfork = on;
}

void map_forget_dontfork(struct fams_map **list)
{
	for (struct fams_map **pm = list; *pm;) {
		struct fams_map *m = *pm;
		if (!m->dontfork) {
			pm = &m->next;
			continue;
		}
		*pm = m->next;
		map_free(m);
	}
}
