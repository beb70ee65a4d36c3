/* t_startup: start-up does not deadlock or lose the guarantee when
 *  - the program's own allocator calls mmap, so dlsym's allocations (made while
 *    fams resolves libc) come back into fams's mmap wrapper;
 *  - a library's constructor maps and commits a file before main. */
#include "check.h"
#include <stdint.h>

/* A bump allocator over mmap, replacing malloc for the whole process. */
static char *arena, *arena_end;
static size_t mmap_calls;

static void *bump(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (!arena || (size_t)(arena_end - arena) < n) {
		size_t chunk = n > (1u << 20) ? n : (1u << 20);
		char *c = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (c == MAP_FAILED)
			return NULL;
		__atomic_add_fetch(&mmap_calls, 1, __ATOMIC_RELAXED);
		arena = c;
		arena_end = c + chunk;
	}
	void *r = arena;
	arena += n;
	return r;
}

/* Single-threaded until main: no lock needed for this test. */
void *malloc(size_t n)
{
	size_t *h = bump(n + 16);
	if (!h)
		return NULL;
	*h = n;
	return h + 2;
}
void free(void *p) { (void)p; }
void *calloc(size_t a, size_t b) { return malloc(a * b); } /* mmap'd memory is zero */
void *realloc(void *p, size_t n)
{
	void *q = malloc(n);
	if (q && p) {
		size_t old = ((size_t *)p)[-2];
		memcpy(q, p, old < n ? old : n);
	}
	return q;
}

extern int startup_ctor_failed_line;

int main(void)
{
	CHECK(mmap_calls > 0);
	if (startup_ctor_failed_line != 0) {
		fprintf(stderr, "library constructor failed at startup_lib.c:%d\n", startup_ctor_failed_line);
		return 1;
	}
	/* And the ordinary case still works after such a start. */
	const char *path = test_path("startup-main");
	int fd = make_file(path, PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[1] = 'm';
	CHECK(file_byte_is(path, 1, 'a'));
	CHECK(msync(p, PG, MS_SYNC) == 0 && file_byte_is(path, 1, 'm'));
	CHECK(munmap(p, PG) == 0 && close(fd) == 0 && unlink(path) == 0);
	puts("ok");
	return 0;
}
