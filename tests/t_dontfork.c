/* MADV_DONTFORK on part of a managed mapping, or on a read-only one fams follows:
 * a forked child has no area there, and fams's records follow -- the child commits
 * to the part it has, what it maps into the hole is never taken for the file's
 * pages, and fams never maps anything over it. */
#include "check.h"
#include <sys/wait.h>

static int child(const char *path, char *a)
{
	/* The hole is free: a private mapping can go there. */
	char *n = mmap(a + 2 * PG, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		       -1, 0);
	CHECK(n == a + 2 * PG);
	memset(n, 'N', 2 * PG);
	a[0] = 'C';
	CHECK(msync(a, 2 * PG, MS_SYNC) == 0);
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0 && fsync(fd) == 0);
	CHECK(file_byte_is(path, 0, 'C') && file_byte_is(path, 2 * PG, 'p') && file_byte_is(path, 3 * PG, 'p'));
	return 0;
}

/* A read-only mapping fams follows (a shadow) under MADV_DONTFORK: the child maps
 * memory of its own there, then makes the file managed -- fams moves its shadows
 * onto the working copy, and must not move one the child does not have over that
 * memory. */
static int shadow_child(const char *path, char *ro)
{
	char *n = mmap(ro, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(n == ro);
	memset(n, 'N', 2 * PG);
	int fd = open(path, O_RDWR);
	char *w = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0); /* managed now */
	CHECK(w != MAP_FAILED && journal_exists_for(path));
	CHECK(n[0] == 'N' && n[PG] == 'N'); /* its own memory, untouched */
	return 0;
}

int main(void)
{
	const char *path = test_path("dontfork");
	int fd = make_file(path, 4 * PG, 'p');
	CHECK(fd >= 0);
	char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(a != MAP_FAILED);
	CHECK(madvise(a + 2 * PG, 2 * PG, MADV_DONTFORK) == 0);
	pid_t pid = fork();
	if (pid == 0)
		exit(child(path, a));
	int st;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(a[0] == 'C' && a[2 * PG] == 'p'); /* the parent sees the child's commit */
	/* MADV_DOFORK gives the area back to the next child. */
	CHECK(madvise(a + 2 * PG, 2 * PG, MADV_DOFORK) == 0);
	pid = fork();
	if (pid == 0) {
		a[3 * PG] = 'D';
		exit(msync(a, 4 * PG, MS_SYNC) == 0 && file_byte_is(path, 3 * PG, 'D') ? 0 : 1);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(munmap(a, 4 * PG) == 0 && close(fd) == 0);

	const char *other = test_path("dontfork_shadow");
	fd = make_file(other, 2 * PG, 's');
	char *ro = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(fd >= 0 && ro != MAP_FAILED && close(fd) == 0 && madvise(ro, 2 * PG, MADV_DONTFORK) == 0);
	pid = fork();
	if (pid == 0)
		exit(shadow_child(other, ro));
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(ro[0] == 's' && munmap(ro, 2 * PG) == 0);
	unlink(other);
	unlink(path);
	return 0;
}
