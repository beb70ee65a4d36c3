/* A journal belongs to its file, not to a path: renaming a managed file and then
 * creating its old name works (in this process and in another), a crash's journal
 * never blocks or touches a new file created where the old one was deleted -- even
 * one made at once, which the kernel gives the old inode number and, from its
 * coarse clock, the old birth time -- and a file renamed after a crash is still
 * recovered when opened under its new name.  Whether the new file does have the
 * old identity depends on the kernel's clock (fams's own stat calls make it hand out
 * fine-grained times): the count is printed; t_journal_identity proves the rule. */
#include "check.h"
#include <signal.h>
#include <sys/wait.h>


/* In a child: map path, commit 'X' over page 0, and die without exiting (SIGKILL),
 * leaving the journal of a finished commit behind, as a crash does. */
static void crash_after_commit(const char *path)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR);
		char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(1);
		/* Two commits: a journal's first is an undo commit (no redo log begins
		 * from a file not known durable), the second takes the redo log. */
		p[0] = 'W';
		if (msync(p, PG, MS_SYNC) != 0)
			_exit(2);
		p[0] = 'X';
		if (msync(p, PG, MS_SYNC) != 0)
			_exit(2);
		raise(SIGKILL);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
	CHECK(journal_exists_for(path));
}

/* Map path writable, store c at off, commit; the file holds it. */
static void map_and_commit(const char *path, off_t off, char c)
{
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, 4 * PG) == 0);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[off] = c;
	CHECK(msync(p, 4 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, off, c));
	CHECK(munmap(p, 4 * PG) == 0 && close(fd) == 0);
}

static int run(const char *prog, const char *arg)
{
	pid_t pid = fork();
	if (pid == 0) {
		execl(prog, prog, arg, (char *)NULL);
		_exit(127);
	}
	int status;
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(void)
{
	/* 1. Rename a managed file over a new name, then create the old name again. */
	const char *a = test_path("jn_a"), *b = test_path("jn_b");
	int fd = make_file(a, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = '1';
	CHECK(msync(p, PG, MS_SYNC) == 0);
	CHECK(rename(a, b) == 0);
	CHECK(run("/usr/bin/touch", a) == 0); /* another process under fams */
	map_and_commit(a, PG, 'n');           /* and this one manages the new file too */
	p[0] = '2';                           /* the renamed file still commits */
	CHECK(msync(p, PG, MS_SYNC) == 0);
	CHECK(file_byte_is(b, 0, '2'));
	CHECK(munmap(p, 4 * PG) == 0 && close(fd) == 0);
	CHECK(unlink(a) == 0 && unlink(b) == 0);

	/* 2. Crash, delete the data file, create it again: the stale journal neither
	 * blocks the new file nor is ever applied to it.  Done at once, the new file
	 * often has the old one's inode number and birth time (the same journal name:
	 * only the generation in the journal's header tells them apart), so again
	 * and again, counting those. */
	const char *c = test_path("jn_c");
	int same_identity = 0;
	const int rounds = 12;
	for (int round = 0; round < rounds; round++) {
		fd = make_file(c, 4 * PG, 'c');
		CHECK(fd >= 0 && close(fd) == 0);
		crash_after_commit(c);
		struct statx old_id, new_id;
		CHECK(statx(AT_FDCWD, c, 0, STATX_INO | STATX_BTIME, &old_id) == 0);
		char stale[4200];
		CHECK(journal_path_for(c, stale, sizeof stale) == 0);
		CHECK(unlink(c) == 0);
		fd = open(c, O_RDWR | O_CREAT | O_EXCL, 0644);
		CHECK(fd >= 0);
		CHECK(statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME, &new_id) == 0);
		same_identity += old_id.stx_ino == new_id.stx_ino &&
				 old_id.stx_btime.tv_sec == new_id.stx_btime.tv_sec &&
				 old_id.stx_btime.tv_nsec == new_id.stx_btime.tv_nsec;
		char buf[4 * PG];
		memset(buf, 'z', sizeof buf);
		CHECK(pwrite(fd, buf, sizeof buf, 0) == (ssize_t)sizeof buf && close(fd) == 0);
		map_and_commit(c, 2 * PG, 'N');
		CHECK(file_byte_is(c, 0, 'z') && file_byte_is(c, PG, 'z')); /* nothing applied */
		CHECK(unlink(c) == 0);
		unlink(stale); /* an orphan: its file is gone (a no-op where the new file reused it) */
	}
	printf("case 2: %d of %d new files had the old one's inode number and birth\n", same_identity, rounds);

	/* 3. Crash mid-commit, rename the data file, open it under the new name: the
	 * journal follows the file and the interrupted commit is recovered first.
	 * A commit torn half-way is made by hand: after a finished commit of 'X' over
	 * 'W', a byte beside it (in the range the commit wrote) is changed behind
	 * fams's back, so the range matches neither state. */
	const char *d = test_path("jn_d"), *e = test_path("jn_e");
	fd = make_file(d, 4 * PG, 'd');
	CHECK(fd >= 0 && close(fd) == 0);
	crash_after_commit(d);
	int raw = (int)syscall(SYS_openat, AT_FDCWD, d, O_RDWR);
	CHECK(raw >= 0 && syscall(SYS_pwrite64, raw, "T", 1, 10) == 1 && syscall(SYS_close, raw) == 0);
	CHECK(rename(d, e) == 0);
	fd = open(e, O_RDONLY);
	CHECK(fd >= 0);
	char got[2] = { 0 };
	CHECK(pread(fd, got, 1, 0) == 1 && pread(fd, got + 1, 1, 10) == 1);
	/* An undo journal rolls back to the state before 'X'; a redo log applies the
	 * commit again, its whole range, the byte beside 'X' included. */
	const char *log = getenv("FAMS_COMMIT_LOG");
	if (log && strcmp(log, "undo") == 0)
		CHECK(got[0] == 'W' && got[1] == 'd');
	else
		CHECK(got[0] == 'X' && got[1] == 'd');
	CHECK(!journal_exists_for(e));
	CHECK(close(fd) == 0 && unlink(e) == 0);
	return 0;
}
