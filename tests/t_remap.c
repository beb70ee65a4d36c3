/* Partial munmap, MAP_FIXED over part of a mapping, mremap grow/shrink/move (also of
 * a mapping mprotect split and joined again): each commits what it drops and keeps
 * tracking what remains. */
#include "check.h"

int main(void)
{
	const char *path = test_path("remap");
	int fd = make_file(path, 16 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);

	/* partial munmap of the middle: its writes are committed, the rest are not */
	p[4 * PG] = 'm';
	p[1 * PG] = 'k';
	CHECK(munmap(p + 4 * PG, 2 * PG) == 0);
	CHECK(file_byte_is(path, 4 * PG, 'm'));
	CHECK(file_byte_is(path, 1 * PG, 'a'));
	p[12 * PG] = 'r'; /* the right part is still tracked */
	CHECK(msync(p + 8 * PG, 8 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 12 * PG, 'r'));

	/* MAP_FIXED anonymous memory over part of it: the dropped part is committed */
	p[2 * PG] = 'f';
	char *a = mmap(p + 2 * PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK(a == p + 2 * PG);
	CHECK(file_byte_is(path, 2 * PG, 'f'));
	a[0] = 'n'; /* anonymous memory: never reaches the file */
	CHECK(msync(p, 2 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 1 * PG, 'k'));
	CHECK(file_byte_is(path, 2 * PG, 'f'));

	/* mremap: move (tracking survives the move) */
	char *q = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 8 * PG);
	CHECK(q != MAP_FAILED);
	q[0] = 'b';
	char *hole = mmap(NULL, 16 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *moved = mremap(q, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, hole + 4 * PG);
	CHECK(moved == hole + 4 * PG);
	CHECK(moved[0] == 'b');
	moved[PG] = 'v';
	CHECK(msync(moved, 4 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 8 * PG, 'b') && file_byte_is(path, 9 * PG, 'v'));
	/* grow then shrink; the shrink commits the part it drops */
	char *g = mremap(moved, 4 * PG, 8 * PG, MREMAP_MAYMOVE);
	CHECK(g != MAP_FAILED);
	g[6 * PG] = 'g'; /* file page 14 */
	g[PG] = 'w';
	char *s = mremap(g, 8 * PG, 2 * PG, 0);
	CHECK(s == g);
	CHECK(file_byte_is(path, 14 * PG, 'g'));
	CHECK(file_byte_is(path, 9 * PG, 'v')); /* kept part: still uncommitted */
	CHECK(msync(s, 2 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 9 * PG, 'w'));
	/* mprotect of a part and back leaves one area in the kernel: mremap takes it
	 * whole, as natively */
	CHECK(mprotect(s + PG, PG, PROT_READ) == 0 && mprotect(s + PG, PG, PROT_READ | PROT_WRITE) == 0);
	s[PG] = 'x';
	char *j = mremap(s, 2 * PG, 3 * PG, MREMAP_MAYMOVE);
	CHECK(j != MAP_FAILED);
	CHECK(j[PG] == 'x');
	CHECK(msync(j, 3 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 9 * PG, 'x'));
	s = j;
	munmap(s, 3 * PG);

	/* A read-only mapping of a file fams does not manage yet (a shadow), split by
	 * mprotect and joined again, then moved: none of its records stays at the old
	 * address, where the file becoming managed would map itself over whatever
	 * lives there now. */
	char path2[4200];
	snprintf(path2, sizeof path2, "%s.2", path);
	int fd2 = make_file(path2, 4 * PG, 's');
	CHECK(fd2 >= 0);
	char *ro = mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd2, 0);
	CHECK(ro != MAP_FAILED);
	CHECK(mprotect(ro + PG, PG, PROT_NONE) == 0 && mprotect(ro + PG, PG, PROT_READ) == 0);
	char *ro2 = mremap(ro, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, hole + 8 * PG);
	CHECK(ro2 == hole + 8 * PG);
	/* Anonymous memory lands there (a hint, as an allocator's mmap lands where
	 * memory is free: fams never sees it). */
	char *anon = mmap(ro, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(anon == ro);
	anon[PG] = 'Z';
	char *w2 = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0); /* now managed */
	CHECK(w2 != MAP_FAILED);
	CHECK(anon[PG] == 'Z' && ro2[PG] == 's');
	munmap(w2, 4 * PG);
	munmap(anon, 4 * PG);
	munmap(ro2, 4 * PG);
	close(fd2);
	unlink(path2);
	munmap(hole, 16 * PG);
	munmap(p, 16 * PG);
	close(fd);
	CHECK(!journal_exists_for(path));
	unlink(path);
	return 0;
}
