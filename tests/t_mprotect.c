/* t_mprotect: a read-only shared mapping stays coherent with the working copy once
 * the file becomes managed, and mprotect can make it writable without its writes
 * bypassing the journal (they reach the file only at a commit). */
#include "check.h"
#include <stdint.h>

/* The protection (PROT_*) /proc/self/maps shows at addr, or -1. */
static int area_prot(const void *addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int prot = -1;
	while (f && prot < 0 && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && lo <= (uintptr_t)addr && (uintptr_t)addr < hi)
			prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0);
	}
	if (f)
		fclose(f);
	return prot;
}

int main(void)
{
	/* 1. Mapped read-only first (descriptor O_RDWR), made writable later. */
	const char *p = test_path("mprotect");
	int fd = make_file(p, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *ro = mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(ro != MAP_FAILED);
	CHECK(close(fd) == 0); /* the mapping outlives its descriptor */
	CHECK(ro[PG] == 'a');
	CHECK(mprotect(ro + PG, 2 * PG, PROT_READ | PROT_WRITE) == 0);
	ro[PG] = 'b';
	ro[2 * PG + 7] = 'c';
	CHECK(file_byte_is(p, PG, 'a'));       /* not in the file before a commit */
	CHECK(journal_exists_for(p));           /* the file is managed now */
	CHECK(msync(ro + PG, 2 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(p, PG, 'b') && file_byte_is(p, 2 * PG + 7, 'c'));
	/* The part left read-only is still read-only. */
	CHECK(mprotect(ro, PG, PROT_READ) == 0);
	CHECK(munmap(ro, 4 * PG) == 0);
	CHECK(!journal_exists_for(p));

	/* 2. A read-only mapping made before another one writes: it sees the writes as
	 * they happen, as MAP_SHARED promises, not only after a commit. */
	const char *q = test_path("mprotect-coherent");
	fd = make_file(q, 2 * PG, 'x');
	CHECK(fd >= 0);
	int rdonly = open(q, O_RDONLY);
	CHECK(rdonly >= 0);
	const char *view = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, rdonly, 0);
	CHECK(view != MAP_FAILED);
	char *rw = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(rw != MAP_FAILED);
	rw[PG + 3] = 'y';
	CHECK(view[PG + 3] == 'y');
	CHECK(file_byte_is(q, PG + 3, 'x'));
	/* A read-only descriptor cannot make its mapping writable, as without fams. */
	errno = 0;
	CHECK(mprotect((void *)view, PG, PROT_READ | PROT_WRITE) == -1 && errno == EACCES);
	CHECK(msync(rw, 2 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(q, PG + 3, 'y'));
	CHECK(munmap(rw, 2 * PG) == 0 && munmap((void *)view, 2 * PG) == 0);

	/* 3. A read-only mapping moved with mremap is still followed. */
	const char *r = test_path("mprotect-moved");
	fd = make_file(r, 2 * PG, 'm');
	CHECK(fd >= 0);
	char *a = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(a != MAP_FAILED);
	char *hole = mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(hole != MAP_FAILED);
	char *b = mremap(a, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, hole + PG);
	CHECK(b == hole + PG);
	CHECK(mprotect(b, 2 * PG, PROT_READ | PROT_WRITE) == 0);
	b[5] = 'n';
	CHECK(file_byte_is(r, 5, 'm'));
	CHECK(fsync(fd) == 0);
	CHECK(file_byte_is(r, 5, 'n'));
	CHECK(close(fd) == 0);

	/* 4. An mprotect that fails part-way (a hole after the mapping: ENOMEM) has
	 * changed the mapping all the same; when the file becomes managed, the mapping
	 * is moved onto the working copy with the protection it has, not the old one. */
	const char *h = test_path("mprotect-partial");
	fd = make_file(h, 2 * PG, 'h');
	CHECK(fd >= 0);
	char *v = mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(v != MAP_FAILED && munmap(v + 2 * PG, PG) == 0);
	CHECK(mprotect(v, 3 * PG, PROT_NONE) == -1 && errno == ENOMEM);
	char *w = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0); /* managed now */
	CHECK(w != MAP_FAILED && journal_exists_for(h));
	CHECK(area_prot(v) == 0); /* PROT_NONE, as the kernel left it */
	CHECK(munmap(w, 2 * PG) == 0 && munmap(v, 2 * PG) == 0 && close(fd) == 0);
	puts("ok");
	return 0;
}
