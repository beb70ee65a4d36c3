/* The program's file offset and flags are the program's.  Where fams cannot open a file again
 * (a file made read-only, mode 0444, through an O_RDWR descriptor, by a user other
 * than root), its description of the data file is a duplicate of the program's and
 * shares its offset: fams must never seek it -- not when the file becomes managed
 * (filling the working copy), not at its first commit (asking whether the file holds
 * data), not at a shrink (finding the cut bytes).  Each case writes, maps, commits
 * and writes again at the offset the program left: the second write must land
 * there.  Nor may fams write a commit through such a description once it appends
 * (O_APPEND, which makes every write land at the end): mapping the file through a
 * descriptor that appends fails with EACCES, and a commit after the program made it
 * append fails with EIO, the file keeping its last committed state.  Runs as uid
 * 65534 in a child (skips unless root, or where that user can reach no directory on
 * a file system fams manages). */
#include <dirent.h>
#include <sys/wait.h>

#include "check.h"

/* Whether fams made a journal in dir: the file there is managed. */
static int has_journal(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	while (d && (e = readdir(d)))
		found |= strstr(e->d_name, ".fams-journal") != NULL;
	if (d)
		closedir(d);
	return found;
}

/* In a directory the child may write: a 0444 file written, mapped with its offset
 * at `at`, committed (shrunk to `shrink` bytes first, when not 0), then "ABC"
 * written at the offset the program left.  The file must read `want`. */
static void one_case(const char *dir, const char *name, off_t at, off_t shrink, const char *want, size_t len)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_CREAT | O_RDWR | O_EXCL, 0444);
	CHECK(fd >= 0);
	CHECK(write(fd, "0123456789", 10) == 10);
	CHECK(lseek(fd, at, SEEK_SET) == at);
	char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	if (!has_journal(dir))
		_exit(77); /* not managed here: nothing to check */
	CHECK(lseek(fd, 0, SEEK_CUR) == at); /* managing it moved nothing */
	p[0] = 'X';
	if (shrink)
		CHECK(ftruncate(fd, shrink) == 0);
	CHECK(msync(p, PG, MS_SYNC) == 0);
	CHECK(lseek(fd, 0, SEEK_CUR) == at); /* nor did its commit */
	CHECK(write(fd, "ABC", 3) == 3);
	CHECK(munmap(p, PG) == 0);
	CHECK(close(fd) == 0);
	char buf[64] = { 0 };
	int r = open(path, O_RDONLY);
	ssize_t n = r >= 0 ? read(r, buf, sizeof buf - 1) : -1;
	close(r);
	if (n != (ssize_t)len || memcmp(buf, want, len) != 0) {
		fprintf(stderr, "%s: the file reads \"%s\" (%zd bytes), not \"%s\" (%zu)\n", name, buf, n, want, len);
		exit(1);
	}
	unlink(path);
}

/* A descriptor that appends: mapping through it is refused; made to append after the
 * mapping, the next commit fails and the file keeps its last committed state. */
static void appending(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/appends", dir);
	int fd = open(path, O_CREAT | O_RDWR | O_APPEND | O_EXCL, 0444);
	CHECK(fd >= 0 && write(fd, "0123456789", 10) == 10);
	CHECK(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EACCES);
	CHECK(fcntl(fd, F_SETFL, 0) == 0);
	char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 'X';
	CHECK(msync(p, PG, MS_SYNC) == 0);
	CHECK(fcntl(fd, F_SETFL, O_APPEND) == 0);
	p[1] = 'Y';
	CHECK(msync(p, PG, MS_SYNC) == -1 && errno == EIO);
	char buf[16] = { 0 };
	CHECK(raw_size(path) == 10 && raw_pread_path(path, buf, sizeof buf, 0) == 10 &&
	      memcmp(buf, "X123456789", 10) == 0);
	CHECK(fcntl(fd, F_SETFL, 0) == 0); /* so that the exit commit can go through */
	CHECK(munmap(p, PG) == 0);
	close(fd);
	unlink(path);
}

/* Run the cases as uid 65534 in dir: 0 passed, 77 nothing to check there, else failed. */
static int run_as_nobody(const char *dir)
{
	if (mkdir(dir, 0777) < 0 || chmod(dir, 0777) < 0)
		return 77;
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		CHECK(setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0);
		if (access(dir, W_OK | X_OK) < 0)
			_exit(77); /* a directory above it is closed to that user */
		one_case(dir, "at-end", 10, 0, "X123456789ABC", 13);   /* first commit of a file holding data */
		one_case(dir, "at-two", 2, 0, "X1ABC56789", 10);       /* offset left inside the file */
		one_case(dir, "shrunk", 10, 6, "X12345\0\0\0\0ABC", 13); /* a shrink's cut found */
		one_case(dir, "shrunk-at-two", 2, 6, "X1ABC5", 6);     /* ... with the offset inside */
		appending(dir);
		_exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	rmdir(dir);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(void)
{
	if (geteuid() != 0)
		SKIP("needs root, to run a child as another user (root can open a 0444 file again)");
	/* The test directory, or where that user can reach one (a checkout in a private
	 * directory cannot be). */
	char spare[64];
	snprintf(spare, sizeof spare, "/var/tmp/fams-shared-offset.%d", (int)getpid());
	int r = run_as_nobody(test_path("shared_offset"));
	if (r == 77)
		r = run_as_nobody(spare);
	if (r == 77)
		SKIP("uid 65534 can reach no directory on a file system fams manages");
	if (r != 0)
		return 1;
	printf("the program's offset stays where it left it (managing, first commit, shrink), and an "
	       "appending descriptor is never written through\n");
	return 0;
}
