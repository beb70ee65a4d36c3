/* A second process under fams shares a file another process manages: a descriptor
 * it opens while the file is managed reads the working copy (the first process's
 * uncommitted stores included), a writable mapping through a descriptor opened
 * before shows the same bytes, its stores and writes are seen by the first process
 * at once, its msync commits both processes' pages, and a size change by either is
 * seen by both.  The last process to leave removes the journal.  A
 * process of another user may not join: its reads and mappings fail with EACCES
 * (run as root only: it needs a second user). */
#include "check.h"
#include <grp.h>
#include <sys/wait.h>

static int to_parent, from_parent;

static void say(char c) { CHECK(write(to_parent, &c, 1) == 1); }
static void await(char c)
{
	char got = 0;
	CHECK(read(from_parent, &got, 1) == 1 && got == c);
}

static int second_process(const char *path)
{
	int early = open(path, O_RDWR); /* opened before the file is managed */
	if (early < 0)
		return 20;
	say('o');
	await('m'); /* the first process now manages the file; page 0 holds its uncommitted 'U' */
	int late = open(path, O_RDONLY); /* opened while it is managed: joins at once */
	char b = 0;
	if (late < 0 || pread(late, &b, 1, 0) != 1 || b != 'U')
		return 21;
	/* a reader's read-only mapping shows the working copy too (as jstat reading a
	 * JVM's hsperfdata file must) */
	const char *ro = mmap(NULL, PG, PROT_READ, MAP_SHARED, late, 0);
	if (ro == MAP_FAILED || ro[0] != 'U')
		return 30;
	char *q = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, early, 0);
	if (q == MAP_FAILED || q[0] != 'U')
		return 22;
	q[PG] = 'S';                                  /* a store ... */
	if (pwrite(early, "w", 1, 2 * PG) != 1 || q[2 * PG] != 'w') /* ... and a write */
		return 23;
	say('s');
	await('g'); /* the first process grew the file to 6 pages */
	struct stat st;
	if (fstat(early, &st) != 0 || st.st_size != 6 * PG || pread(late, &b, 1, 5 * PG) != 1 || b != 'g')
		return 25;
	if (msync(q, 4 * PG, MS_SYNC) != 0) /* commits the first process's pages too */
		return 26;
	if (!file_byte_is(path, 0, 'U') || !file_byte_is(path, PG, 'S') || !file_byte_is(path, 2 * PG, 'w'))
		return 27;
	say('c');
	await('l'); /* the first process left */
	if (!journal_exists_for(path))
		return 28; /* we still use the file */
	q[3 * PG] = 'L';
	munmap(q, 4 * PG);
	close(early);
	close(late);
	if (!file_byte_is(path, 3 * PG, 'L'))
		return 29;
	return 0; /* our exit, the last user's, removes the journal */
}

/* A process of another user may not share the file: EACCES, the file untouched. */
static int other_user(const char *path)
{
	if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
		return 77;
	struct stat st;
	if (stat(path, &st) != 0)
		return 77; /* the test directory is not reachable by that user */
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return errno == EACCES ? 0 : 43; /* refused at open: the journal is not its to read */
	char b;
	if (mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) != MAP_FAILED || errno != EACCES)
		return 40;
	if (pread(fd, &b, 1, 0) != -1 || errno != EACCES)
		return 41;
	if (pwrite(fd, "x", 1, 0) != -1 || errno != EACCES)
		return 42;
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
	CHECK(fchmod(fd, 0666) == 0);
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
	say('m');
	int status;
	if (read(from_parent, &c, 1) != 1 || c != 's') {
		CHECK(waitpid(pid, &status, 0) == pid);
		fprintf(stderr, "second process failed with %d\n", WEXITSTATUS(status));
		return 1;
	}
	CHECK(p[PG] == 'S' && p[2 * PG] == 'w'); /* its store and its write, at once */
	CHECK(file_byte_is(path, PG, 'a'));      /* not committed yet */
	CHECK(ftruncate(fd, 6 * PG) == 0 && pwrite(fd, "g", 1, 5 * PG) == 1);
	say('g');
	if (read(from_parent, &c, 1) != 1 || c != 'c') {
		CHECK(waitpid(pid, &status, 0) == pid);
		fprintf(stderr, "second process failed with %d\n", WEXITSTATUS(status));
		return 1;
	}
	if (geteuid() == 0) {
		pid_t other = fork();
		if (other == 0)
			_exit(other_user(path));
		CHECK(waitpid(other, &status, 0) == other && WIFEXITED(status));
		CHECK(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 77);
		if (WEXITSTATUS(status) == 77)
			fprintf(stderr, "note: the other-user case was skipped (no access for uid 65534)\n");
	}
	CHECK(file_byte_is(path, 0, 'U')); /* nothing the other user tried got through */
	CHECK(munmap(p, 4 * PG) == 0 && close(fd) == 0); /* leaves; the second process stays */
	say('l');
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0) {
		fprintf(stderr, "second process failed with %d\n", WEXITSTATUS(status));
		return 1;
	}
	CHECK(file_byte_is(path, 5 * PG, 'g'));
	CHECK(!journal_exists_for(path)); /* the last one out removed it */
	unlink(path);
	return 0;
}
