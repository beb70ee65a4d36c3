/* The program's file offset is the program's.  Where fams cannot open a file again
 * (a file made read-only, mode 0444, through an O_RDWR descriptor, by a user other
 * than root), its description of the data file is a duplicate of the program's and
 * shares its offset: fams must never seek it -- not when the file becomes managed
 * (filling the working copy), not at its first commit (asking whether the file holds
 * data), not at a shrink (finding the cut bytes).  Each case writes, maps, commits
 * and writes again at the offset the program left: the second write must land
 * there.  Runs as uid 65534 in a child (skips unless root). */
#include <sys/wait.h>

#include "check.h"

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

int main(void)
{
	if (geteuid() != 0)
		SKIP("needs root, to run a child as another user (root can open a 0444 file again)");
	const char *dir = test_path("shared_offset");
	CHECK(mkdir(dir, 0777) == 0 && chmod(dir, 0777) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		CHECK(setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0);
		one_case(dir, "at-end", 10, 0, "X123456789ABC", 13);   /* first commit of a file holding data */
		one_case(dir, "at-two", 2, 0, "X1ABC56789", 10);       /* offset left inside the file */
		one_case(dir, "shrunk", 10, 6, "X12345\0\0\0\0ABC", 13); /* a shrink's cut bytes found */
		_exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	rmdir(dir);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1;
	printf("the program's offset stays where it left it: at managing, first commit, shrink\n");
	return 0;
}
