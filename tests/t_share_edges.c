/* Edges of sharing a file between processes, each found by a review and each
 * failing on the engine before its fix:
 *   1. a process that dies holding the commit lock after the file grew: the repair
 *      must not cut the file back to the size of the last commit's journal (later
 *      msyncs returned 0 and lost the grown part);
 *   2. a read-only mapping made writable (mprotect) in a process that joins the
 *      file that way: its stores must be committed by the others too;
 *   3. the daemon pattern, fork and the parent exits at once: the child keeps
 *      sharing the file (it was cut off, msync EPERM);
 *   4. processes that only opened the file, all killed: a new process still finds
 *      the live one that maps it (it was refused, EBUSY);
 *   5. 63 children that exec'd another program: their slots are free again (the
 *      next process was refused, EUSERS).
 * Knows the shared state's layout (lib/shared.h) only to take its commit lock and
 * die holding it, as a killed process would. */
#include "check.h"
#include "shared.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

/* In a child of ours that shares the file: take the commit lock and die with it. */
static void die_holding_the_lock(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char p[300], link[256];
		snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(p, link, sizeof link - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strstr(link, "fams-shared-state"))
			continue;
		int fd = open(p, O_RDWR);
		struct fams_shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (sh != MAP_FAILED && pthread_mutex_lock(&sh->lock) == 0)
			raise(SIGKILL);
	}
	_exit(3); /* not found: the parent's check fails */
}

static void grow_then_a_dead_holder(void)
{
	const char *path = test_path("edge_grow");
	int fd = make_file(path, PG, 'a');
	CHECK(fd >= 0);
	char *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	m[0] = 'b';
	CHECK(msync(m, PG, MS_SYNC) == 0); /* the journal now names a 1-page file */
	CHECK(ftruncate(fd, 4 * PG) == 0);
	m[2 * PG] = 'c';
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		die_holding_the_lock();
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
	CHECK(msync(m, 4 * PG, MS_SYNC) == 0);
	CHECK(raw_size(path) == 4 * PG);
	CHECK(file_byte_is(path, 2 * PG, 'c'));
	munmap(m, 4 * PG);
	close(fd);
	unlink(path);
}

static void shadow_made_writable(void)
{
	const char *path = test_path("edge_shadow");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0);
	close(fd);
	int go[2], done[2];
	CHECK(pipe(go) == 0 && pipe(done) == 0);
	pid_t pid = fork(); /* nothing is managed yet: the child is a process of its own */
	CHECK(pid >= 0);
	if (pid == 0) {
		int cfd = open(path, O_RDWR);
		char *r = mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, cfd, 0); /* followed as a shadow */
		char c = 'r';
		if (r == MAP_FAILED || write(done[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		if (mprotect(r, 4 * PG, PROT_READ | PROT_WRITE) != 0)
			_exit(3);
		r[PG] = 'S'; /* joins the file through the mprotect, then stores */
		if (write(done[1], &c, 1) != 1)
			_exit(4);
		pause();
	}
	char c;
	CHECK(read(done[0], &c, 1) == 1);
	fd = open(path, O_RDWR);
	char *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0); /* manages it */
	CHECK(m != MAP_FAILED);
	CHECK(write(go[1], &c, 1) == 1 && read(done[0], &c, 1) == 1);
	CHECK(m[PG] == 'S');
	CHECK(msync(m, 4 * PG, MS_SYNC) == 0); /* commits the other process's store */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK(file_byte_is(path, PG, 'S'));
	munmap(m, 4 * PG);
	close(fd);
	unlink(path);
}

static void daemon_pattern(void)
{
	const char *path = test_path("edge_daemon");
	int fd = make_file(path, PG, 'a');
	CHECK(fd >= 0);
	int res[2];
	CHECK(pipe(res) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) { /* the program: maps, commits, daemonizes */
		char *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		m[0] = 'p';
		if (msync(m, PG, MS_SYNC) != 0)
			_exit(2);
		if (fork() > 0)
			exit(0); /* the parent leaves at once, through exit */
		usleep(100000);
		m[1] = 'c';
		char r = msync(m, PG, MS_SYNC) == 0 ? 'y' : 'n';
		if (write(res[1], &r, 1) != 1)
			_exit(3);
		exit(0);
	}
	close(res[1]);
	CHECK(waitpid(pid, NULL, 0) == pid);
	char r = 0;
	CHECK(read(res[0], &r, 1) == 1 && r == 'y');
	usleep(100000); /* its exit: the last one out */
	CHECK(file_byte_is(path, 1, 'c'));
	CHECK(!journal_exists_for(path));
	close(fd);
	unlink(path);
}

/* Start a process (exec'd: not a forked member) that opens path and waits. */
static pid_t opener(const char *self, const char *path)
{
	pid_t pid = fork();
	if (pid == 0) {
		execl(self, self, "open", path, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void openers_die(const char *self)
{
	const char *path = test_path("edge_openers");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0);
	int go[2], ready[2];
	CHECK(pipe(go) == 0 && pipe(ready) == 0);
	pid_t first = fork(); /* the first process to use the file, gone later */
	CHECK(first >= 0);
	if (first == 0) {
		char *f = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		char c = 'r';
		if (f == MAP_FAILED || write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		exit(0);
	}
	char c;
	CHECK(read(ready[0], &c, 1) == 1);
	pid_t o[9];
	for (int i = 0; i < 9; i++)
		CHECK((o[i] = opener(self, path)) > 0);
	usleep(300000); /* they have opened it: processes that share it and map nothing */
	char *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0); /* the tenth */
	CHECK(m != MAP_FAILED);
	CHECK(write(go[1], &c, 1) == 1 && waitpid(first, NULL, 0) == first); /* the first leaves */
	for (int i = 0; i < 9; i++) {
		kill(o[i], SIGKILL);
		waitpid(o[i], NULL, 0);
	}
	m[0] = 'L'; /* we are alive, and the file is ours to share */
	pid_t late = fork();
	if (late == 0) {
		execl(self, self, "read", path, (char *)NULL);
		_exit(127);
	}
	int status;
	CHECK(waitpid(late, &status, 0) == late && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	munmap(m, 4 * PG);
	close(fd);
	unlink(path);
}

static void exec_children(void)
{
	const char *path = test_path("edge_exec");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	pid_t kids[63];
	for (int i = 0; i < 63; i++) {
		kids[i] = fork(); /* joins in the fork handler, then leaves fams behind */
		CHECK(kids[i] >= 0);
		if (kids[i] == 0) {
			execl("/bin/sleep", "sleep", "30", (char *)NULL);
			_exit(127);
		}
	}
	usleep(200000);
	pid_t pid = fork(); /* needs a slot of its own */
	CHECK(pid >= 0);
	if (pid == 0) {
		m[PG] = 'K';
		_exit(msync(m, 4 * PG, MS_SYNC) == 0 ? 0 : 1);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	for (int i = 0; i < 63; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	CHECK(WEXITSTATUS(status) == 0);
	CHECK(file_byte_is(path, PG, 'K'));
	munmap(m, 4 * PG);
	close(fd);
	unlink(path);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "open") == 0) { /* an opener: joins at open, waits */
		if (open(argv[2], O_RDONLY) < 0)
			return 2;
		pause();
	}
	if (argc == 3 && strcmp(argv[1], "read") == 0) { /* a late reader: must share, and see 'L' */
		int fd = open(argv[2], O_RDONLY);
		char b = 0;
		return fd >= 0 && pread(fd, &b, 1, 0) == 1 && b == 'L' ? 0 : 1;
	}
	int only = argc == 2 ? atoi(argv[1]) : 0; /* one case, by number */
	if (!only || only == 1)
		grow_then_a_dead_holder();
	if (!only || only == 2)
		shadow_made_writable();
	if (!only || only == 3)
		daemon_pattern();
	if (!only || only == 4)
		openers_die(argv[0]);
	if (!only || only == 5)
		exec_children();
	return 0;
}
