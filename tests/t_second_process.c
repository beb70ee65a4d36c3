/* A second process under fams cannot map, read, write or resize a file another
 * process manages (EBUSY, with a fams: line): it would see or change a different
 * image than that process's working copy; an open with O_TRUNC, which would cut the
 * file under it, fails with EBUSY too.  That holds for a descriptor opened
 * before the other process started managing the file (its mmap is refused, then
 * its pread) and for one opened after.  fsync stays harmless and allowed.  Once
 * the other process stops managing the file, the same descriptors work again and
 * see its last commit. */
#include "check.h"
#include <sys/wait.h>

static int to_parent, from_parent;
static const char *path_of_test;

static void say(char c) { CHECK(write(to_parent, &c, 1) == 1); }
static void await(char c)
{
	char got = 0;
	CHECK(read(from_parent, &got, 1) == 1 && got == c);
}

/* Every call that would see or change the file's bytes fails with EBUSY. */
static int all_refused(int fd)
{
	char b = 0;
	void *q;
	if (pread(fd, &b, 1, 0) != -1 || errno != EBUSY)
		return 31;
	if (read(fd, &b, 1) != -1 || errno != EBUSY)
		return 32;
	if (pwrite(fd, "x", 1, 0) != -1 || errno != EBUSY)
		return 33;
	if (ftruncate(fd, PG) != -1 || errno != EBUSY)
		return 34;
	if ((q = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) != MAP_FAILED || errno != EBUSY)
		return 35;
	if ((q = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0)) != MAP_FAILED || errno != EBUSY)
		return 36;
	if ((q = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0)) != MAP_FAILED || errno != EBUSY)
		return 37;
	if (fsync(fd) != 0)
		return 38;
	if (open(path_of_test, O_WRONLY | O_TRUNC) != -1 || errno != EBUSY) /* would cut the file */
		return 42;
	if (fopen(path_of_test, "w") != NULL || errno != EBUSY)
		return 43;
	int d = dup(fd); /* a duplicate carries the refusal */
	if (d < 0 || pread(d, &b, 1, 0) != -1 || errno != EBUSY)
		return 39;
	close(d);
	return 0;
}

static int second_process(const char *path)
{
	path_of_test = path;
	int early = open(path, O_RDWR); /* opened before the file is managed */
	if (early < 0)
		return 20;
	say('o');
	await('m'); /* the first process now manages the file */
	void *q = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, early, 0);
	if (q != MAP_FAILED || errno != EBUSY)
		return 21;
	int rc = all_refused(early);
	if (rc)
		return rc;
	int late = open(path, O_RDONLY); /* opened while it is managed */
	if (late < 0)
		return 22;
	if ((rc = all_refused(late)))
		return rc + 10;
	say('r');
	await('u'); /* the first process unmapped: it no longer manages the file */
	char b = 0;
	if (pread(early, &b, 1, 0) != 1 || b != 'U') /* its last commit */
		return 50;
	if (pread(late, &b, 1, 0) != 1 || b != 'U')
		return 51;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5) { /* the second process, exec'd so it has its own fams */
		to_parent = atoi(argv[3]);
		from_parent = atoi(argv[4]);
		return second_process(argv[2]);
	}
	const char *path = test_path("second");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0);
	int up[2], down[2];
	CHECK(pipe(up) == 0 && pipe(down) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		char a[16], b[16];
		snprintf(a, sizeof a, "%d", up[1]);
		snprintf(b, sizeof b, "%d", down[0]);
		execl(argv[0], argv[0], "child", path, a, b, (char *)NULL);
		_exit(127);
	}
	close(up[1]); /* the child's ends: its exit must end our reads */
	close(down[0]);
	to_parent = down[1];
	from_parent = up[0];
	char c = 0;
	CHECK(read(from_parent, &c, 1) == 1 && c == 'o');
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 'C';
	CHECK(msync(p, PG, MS_SYNC) == 0);
	p[0] = 'U'; /* uncommitted: what a reader of the file would wrongly miss */
	CHECK(write(to_parent, "m", 1) == 1);
	int status;
	if (read(from_parent, &c, 1) != 1 || c != 'r') {
		CHECK(waitpid(pid, &status, 0) == pid);
		fprintf(stderr, "second process failed with %d\n", WEXITSTATUS(status));
		return 1;
	}
	CHECK(file_byte_is(path, 0, 'C') && file_byte_is(path, 1, 'a')); /* nothing it tried got through */
	CHECK(raw_size(path) == 4 * PG);
	CHECK(munmap(p, 4 * PG) == 0 && close(fd) == 0); /* commits 'U', stops managing the file */
	CHECK(write(to_parent, "u", 1) == 1);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0) {
		fprintf(stderr, "second process failed with %d\n", WEXITSTATUS(status));
		return 1;
	}
	unlink(path);
	return 0;
}
