/* ftruncate around msync (Kyoto Cabinet's pattern), windows larger than the file,
 * writes past the end.  A size change reaches the file with the next commit, as
 * every other change does: raw_size (no fams) sees the committed size. */
#include "check.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>

static sigjmp_buf jb;
static void on_bus(int sig) { siglongjmp(jb, sig); }

int main(void)
{
	const char *path = test_path("resize");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 64 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0); /* window > file */
	CHECK(p != MAP_FAILED);
	CHECK(ftruncate(fd, 8 * PG) == 0);
	CHECK(raw_size(path) == 4 * PG);
	p[7 * PG] = 'G';
	CHECK(msync(p, 64 * PG, MS_SYNC) == 0);
	CHECK(raw_size(path) == 8 * PG);
	CHECK(file_byte_is(path, 7 * PG, 'G'));
	/* shrink, msync, regrow: the cut pages read back as zeros, nothing regrows */
	p[6 * PG] = 'S';
	CHECK(ftruncate(fd, 5 * PG + 10) == 0);
	CHECK(msync(p, 64 * PG, MS_SYNC) == 0);
	CHECK(raw_size(path) == 5 * PG + 10);
	CHECK(ftruncate(fd, 8 * PG) == 0);
	CHECK(p[6 * PG] == 0 && p[7 * PG] == 0);
	CHECK(raw_size(path) == 5 * PG + 10);
	/* pages a regrow brings back inside are tracked again: read first or not, a
	 * write to them reaches the file at the next commit */
	p[6 * PG + 1] = 'R';
	CHECK(p[7 * PG + 5] == 0);
	p[7 * PG + 5] = 'Q';
	CHECK(msync(p, 64 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 6 * PG + 1, 'R') && file_byte_is(path, 7 * PG + 5, 'Q'));
	/* and so are pages a write() past the end brings inside */
	CHECK(pwrite(fd, "w", 1, 9 * PG) == 1);
	p[8 * PG + 7] = 'W';
	CHECK(msync(p, 64 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 8 * PG + 7, 'W') && file_byte_is(path, 9 * PG, 'w'));
	CHECK(ftruncate(fd, 8 * PG) == 0);
	/* a partial last page: bytes past the end are not written */
	CHECK(ftruncate(fd, 2 * PG + 100) == 0);
	p[2 * PG + 50] = 'E';
	CHECK(msync(p, 64 * PG, MS_SYNC) == 0);
	CHECK(raw_size(path) == 2 * PG + 100);
	CHECK(file_byte_is(path, 2 * PG + 50, 'E'));
	/* beyond the end of the file, a mapping faults as without fams */
	signal(SIGBUS, on_bus);
	volatile int faulted = 0;
	if (sigsetjmp(jb, 1) == 0)
		p[10 * PG] = 'x';
	else
		faulted = 1;
	CHECK(faulted);
	/* pwrite past the end grows the file; size and bytes arrive at the next commit */
	CHECK(pwrite(fd, "END", 3, 12 * PG) == 3);
	CHECK(raw_size(path) == 2 * PG + 100);
	CHECK(memcmp(p + 12 * PG, "END", 3) == 0);
	CHECK(fdatasync(fd) == 0);
	CHECK(raw_size(path) == 12 * PG + 3);
	CHECK(file_byte_is(path, 12 * PG + 2, 'D'));
	/* a shrink then a growth before one commit: the range in between reads zeros,
	 * in the file too (it held old bytes the commit must replace) */
	p[11 * PG] = 'Z';
	CHECK(fsync(fd) == 0 && file_byte_is(path, 11 * PG, 'Z'));
	CHECK(ftruncate(fd, 10 * PG) == 0 && ftruncate(fd, 12 * PG + 3) == 0);
	CHECK(p[11 * PG] == 0);
	CHECK(fsync(fd) == 0);
	CHECK(file_byte_is(path, 11 * PG, 0) && file_byte_is(path, 12 * PG, 0));
	/* fallocate punching a hole is a content change: committed, not immediate */
	p[PG] = 'h';
	CHECK(msync(p, PG * 2, MS_SYNC) == 0);
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PG, PG) == 0);
	CHECK(p[PG] == 0);
	CHECK(file_byte_is(path, PG, 'h'));
	CHECK(fsync(fd) == 0);
	CHECK(file_byte_is(path, PG, 0));
	CHECK(posix_fallocate(fd, 0, 20 * PG) == 0);
	CHECK(raw_size(path) == 12 * PG + 3);
	CHECK(fsync(fd) == 0);
	CHECK(raw_size(path) == 20 * PG);
	/* open with O_RDONLY|O_TRUNC truncates on Linux: the working copy too */
	int ro = open(path, O_RDONLY | O_TRUNC);
	CHECK(ro >= 0 && raw_size(path) == 0);
	struct stat st0;
	CHECK(fstat(fd, &st0) == 0 && st0.st_size == 0 && close(ro) == 0);
	CHECK(ftruncate(fd, 20 * PG) == 0);
	p[PG] = 'o';
	CHECK(fsync(fd) == 0 && raw_size(path) == 20 * PG && file_byte_is(path, PG, 'o'));
	CHECK(file_byte_is(path, 0, 0) && file_byte_is(path, 12 * PG, 0));
	/* truncate by path is ftruncate: the size reaches the file with the commit */
	struct stat st;
	CHECK(truncate(path, 18 * PG + 1) == 0);
	CHECK(stat(path, &st) == 0 && st.st_size == 18 * PG + 1 && raw_size(path) == 20 * PG);
	CHECK(fsync(fd) == 0 && raw_size(path) == 18 * PG + 1);
	/* ... judged by the effective ids, as the kernel does (root only: needs ids) */
	if (geteuid() == 0 && chmod(path, 0644) == 0) {
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0)
			_exit(setresuid(0, 65534, 0) == 0 && truncate(path, PG) == -1 && errno == EACCES ? 0 : 1);
		int status;
		CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
		CHECK(stat(path, &st) == 0 && st.st_size == 18 * PG + 1);
	}
	munmap(p, 64 * PG);
	close(fd);
	unlink(path);
	return 0;
}
