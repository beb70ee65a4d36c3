/* The size a program reads of a mapped file -- through stat, fstat, lstat, fstatat,
 * statx, the old __xstat spellings and lseek(SEEK_END) -- is the size it set
 * (ftruncate up and down, pwrite past the end, an O_APPEND write, fallocate), also
 * in a forked child sharing the file; SEEK_DATA/SEEK_HOLE answer from what was
 * written; errors and errno are the kernel's; an unmanaged file is untouched. */
#include "check.h"
#include <dlfcn.h>
#include <stdint.h>
#include <sys/wait.h>

typedef int (*path_fn)(const char *, struct stat *);
typedef int (*fd_fn)(int, struct stat *);
typedef int (*at_fn)(int, const char *, struct stat *, int);
typedef int (*old_path_fn)(int, const char *, struct stat *);
typedef int (*old_fd_fn)(int, int, struct stat *);
typedef int (*old_at_fn)(int, int, const char *, struct stat *, int);
typedef off_t (*seek_fn)(int, off_t, int);

/* The function a program linked against name calls (fams's, under the preload). */
static void *fn(const char *name)
{
	void *f = dlsym(RTLD_DEFAULT, name);
	if (!f)
		fprintf(stderr, "%s: not found\n", name);
	CHECK(f);
	return f;
}

static int bad;
static const char *stage;

/* Record a size some call reported that is not want. */
static void seen(const char *call, long long got, off_t want)
{
	if (got == (long long)want)
		return;
	fprintf(stderr, "%s: %s says %lld, want %lld\n", stage, call, got, (long long)want);
	bad = 1;
}

/* Every size the program can read of the file at path, open as fd, must be want. */
static void sizes_are(int fd, const char *path, off_t want)
{
	struct stat st;
	/* old spellings take the layout's version first: 1 (_STAT_VER_LINUX) on x86_64 */
	static const char *const by_path[] = { "stat", "stat64", "lstat", "lstat64" };
	for (size_t i = 0; i < sizeof by_path / sizeof by_path[0]; i++) {
		st.st_size = -1;
		CHECK(((path_fn)fn(by_path[i]))(path, &st) == 0);
		seen(by_path[i], st.st_size, want);
	}
	static const char *const by_fd[] = { "fstat", "fstat64" };
	for (size_t i = 0; i < sizeof by_fd / sizeof by_fd[0]; i++) {
		st.st_size = -1;
		CHECK(((fd_fn)fn(by_fd[i]))(fd, &st) == 0);
		seen(by_fd[i], st.st_size, want);
	}
	static const char *const at[] = { "fstatat", "fstatat64" };
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		st.st_size = -1;
		CHECK(((at_fn)fn(at[i]))(AT_FDCWD, path, &st, 0) == 0);
		seen(at[i], st.st_size, want);
		st.st_size = -1;
		CHECK(((at_fn)fn(at[i]))(fd, "", &st, AT_EMPTY_PATH) == 0);
		seen(at[i], st.st_size, want);
	}
	static const char *const old_path[] = { "__xstat", "__xstat64", "__lxstat", "__lxstat64" };
	for (size_t i = 0; i < sizeof old_path / sizeof old_path[0]; i++) {
		st.st_size = -1;
		CHECK(((old_path_fn)fn(old_path[i]))(1, path, &st) == 0);
		seen(old_path[i], st.st_size, want);
	}
	static const char *const old_fd[] = { "__fxstat", "__fxstat64" };
	for (size_t i = 0; i < sizeof old_fd / sizeof old_fd[0]; i++) {
		st.st_size = -1;
		CHECK(((old_fd_fn)fn(old_fd[i]))(1, fd, &st) == 0);
		seen(old_fd[i], st.st_size, want);
	}
	static const char *const old_at[] = { "__fxstatat", "__fxstatat64" };
	for (size_t i = 0; i < sizeof old_at / sizeof old_at[0]; i++) {
		st.st_size = -1;
		CHECK(((old_at_fn)fn(old_at[i]))(1, AT_FDCWD, path, &st, 0) == 0);
		seen(old_at[i], st.st_size, want);
	}
	struct statx stx;
	stx.stx_size = 0;
	CHECK(statx(AT_FDCWD, path, 0, STATX_SIZE, &stx) == 0);
	seen("statx", (long long)stx.stx_size, want);
	stx.stx_size = 0;
	CHECK(statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) == 0);
	seen("statx(fd)", (long long)stx.stx_size, want);
	static const char *const seeks[] = { "lseek", "lseek64" };
	for (size_t i = 0; i < sizeof seeks / sizeof seeks[0]; i++) {
		seek_fn s = (seek_fn)fn(seeks[i]);
		seen(seeks[i], s(fd, 0, SEEK_END), want);
		seen("position after SEEK_END", s(fd, 0, SEEK_CUR), want);
		if (want > 0)
			seen("lseek(-1, SEEK_END)", s(fd, -1, SEEK_END), want - 1);
	}
	/* st's other fields are the kernel's */
	struct stat raw;
	CHECK(fstat(fd, &st) == 0 && syscall(SYS_fstat, fd, &raw) == 0);
	CHECK(st.st_dev == raw.st_dev && st.st_ino == raw.st_ino && st.st_mode == raw.st_mode &&
	      st.st_nlink == raw.st_nlink && st.st_uid == raw.st_uid && st.st_blksize == raw.st_blksize);
}

/* SEEK_HOLE and SEEK_DATA: a hole at or before the end, no data at or past it. */
static void holes_sane(int fd, off_t size)
{
	off_t h = lseek(fd, 0, SEEK_HOLE);
	if (h < 0 || h > size || lseek(fd, 0, SEEK_CUR) != h) {
		fprintf(stderr, "%s: SEEK_HOLE from 0 gives %lld (size %lld)\n", stage, (long long)h, (long long)size);
		bad = 1;
	}
	CHECK(lseek(fd, 7, SEEK_SET) == 7);
	errno = 0;
	CHECK(lseek(fd, size, SEEK_DATA) == -1 && errno == ENXIO);
	CHECK(lseek(fd, size + 3 * PG, SEEK_DATA) == -1 && errno == ENXIO);
	CHECK(lseek(fd, size, SEEK_HOLE) == -1 && errno == ENXIO);
	CHECK(lseek(fd, 0, SEEK_CUR) == 7); /* a failed seek leaves the position */
	if (size > 0)
		CHECK(lseek(fd, 0, SEEK_DATA) == 0); /* the file begins with written bytes */
}

/* Both, and that the program reads what it set. */
static void check_stage(const char *what, int fd, const char *path, off_t want)
{
	stage = what;
	sizes_are(fd, path, want);
	holes_sane(fd, want);
	CHECK(!bad);
}

/* Errors are the kernel's, and a successful call keeps errno. */
static void errors_and_errno(int fd, const char *path)
{
	struct stat st;
	struct statx stx;
	errno = EDOM;
	CHECK(fstat(fd, &st) == 0 && errno == EDOM);
	CHECK(stat(path, &st) == 0 && errno == EDOM);
	CHECK(statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &stx) == 0 && errno == EDOM);
	CHECK(lseek(fd, 0, SEEK_END) == st.st_size && errno == EDOM);
	CHECK(lseek(fd, 0, SEEK_DATA) == 0 && errno == EDOM);
	CHECK(lseek(fd, 3, SEEK_SET) == 3 && lseek(fd, 2, SEEK_CUR) == 5 && errno == EDOM);
	CHECK(lseek(fd, 100 * PG, SEEK_SET) == 100 * PG); /* past the end, as natively */
	CHECK(fstat(-1, &st) == -1 && errno == EBADF);
	CHECK(lseek(-1, 0, SEEK_END) == -1 && errno == EBADF);
	CHECK(stat("/nonexistent/fams", &st) == -1 && errno == ENOENT);
	struct stat *volatile nowhere = NULL;
	CHECK(fstat(fd, nowhere) == -1 && errno == EFAULT);
	CHECK(lseek(fd, 0, 99) == -1 && errno == EINVAL);
	CHECK(lseek(fd, -(st.st_size + 1), SEEK_END) == -1 && errno == EINVAL);
	CHECK(lseek(fd, INT64_MAX, SEEK_END) == -1 && errno == EINVAL); /* the kernel's answer */
	CHECK(lseek(fd, 0, SEEK_CUR) == 100 * PG);                    /* untouched by the failures */
}

/* A forked child shares the file: each sees the size the other set. */
static void forked_child(int fd, const char *path)
{
	int down[2], up[2];
	char c;
	CHECK(pipe(down) == 0 && pipe(up) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		CHECK(read(down[0], &c, 1) == 1);
		check_stage("child, after the parent's ftruncate", fd, path, 12 * PG + 5);
		CHECK(ftruncate(fd, 2 * PG + 9) == 0);
		CHECK(write(up[1], "c", 1) == 1);
		exit(0);
	}
	CHECK(ftruncate(fd, 12 * PG + 5) == 0);
	CHECK(write(down[1], "p", 1) == 1);
	CHECK(read(up[0], &c, 1) == 1);
	check_stage("parent, after the child's ftruncate", fd, path, 2 * PG + 9);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(down[0]), close(down[1]), close(up[0]), close(up[1]);
}

/* A file fams does not manage (never mapped shared), and a symlink's own size. */
static void unmanaged(const char *path)
{
	const char *other = test_path("stat_size_other");
	int fd = make_file(other, 3 * PG + 5, 'b');
	CHECK(fd >= 0);
	char *q = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(q != MAP_FAILED);
	CHECK(ftruncate(fd, 2 * PG + 1) == 0);
	check_stage("an unmanaged file", fd, other, 2 * PG + 1);
	CHECK(raw_size(other) == 2 * PG + 1);
	/* lstat of a symlink to the managed file: the link's size, stat: the file's */
	const char *link = test_path("stat_size_link");
	CHECK(symlink(path, link) == 0);
	struct stat st, raw;
	CHECK(lstat(link, &st) == 0 && syscall(SYS_newfstatat, AT_FDCWD, link, &raw, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK(S_ISLNK(st.st_mode) && st.st_size == raw.st_size && st.st_size == (off_t)strlen(path));
	munmap(q, 4 * PG);
	close(fd);
	unlink(other);
	unlink(link);
}

int main(void)
{
	const char *path = test_path("stat_size");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 64 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0); /* managed now */
	CHECK(p != MAP_FAILED);
	check_stage("mapped", fd, path, 4 * PG);

	CHECK(ftruncate(fd, 10 * PG) == 0);
	check_stage("ftruncate up", fd, path, 10 * PG);
	CHECK(ftruncate(fd, 3 * PG + 123) == 0);
	check_stage("ftruncate down", fd, path, 3 * PG + 123);

	CHECK(pwrite(fd, "x", 1, 5 * PG + 7) == 1);
	check_stage("pwrite past the end", fd, path, 5 * PG + 8);
	/* page 4 was never written, page 5 was: the data lies there, wherever the data
	 * file is until the next commit (its page 5 is a hole until then) */
	off_t d = lseek(fd, 4 * PG, SEEK_DATA);
	CHECK(d >= 4 * PG && d <= 5 * PG + 7);

	int afd = open(path, O_WRONLY | O_APPEND);
	CHECK(afd >= 0);
	CHECK(write(afd, "app", 3) == 3);
	check_stage("O_APPEND write", fd, path, 5 * PG + 11);
	check_stage("O_APPEND write, its descriptor", afd, path, 5 * PG + 11);
	CHECK(memcmp(p + 5 * PG + 8, "app", 3) == 0);
	close(afd);

	if (fallocate(fd, 0, 0, 7 * PG + 1) == 0) {
		check_stage("fallocate growth", fd, path, 7 * PG + 1);
		CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 9 * PG) == 0);
		check_stage("fallocate KEEP_SIZE", fd, path, 7 * PG + 1);
	} else {
		CHECK(errno == EOPNOTSUPP);
		fprintf(stderr, "note: no fallocate on this file system; posix_fallocate only\n");
		CHECK(ftruncate(fd, 7 * PG + 1) == 0);
	}
	CHECK(posix_fallocate(fd, 0, 8 * PG) == 0);
	check_stage("posix_fallocate growth", fd, path, 8 * PG);

	p[8 * PG - 1] = 'z';
	CHECK(msync(p, 64 * PG, MS_SYNC) == 0);
	check_stage("after a commit", fd, path, 8 * PG);
	CHECK(raw_size(path) == 8 * PG); /* the data file has the size at a commit point */

	errors_and_errno(fd, path);
	forked_child(fd, path);
	unmanaged(path);

	munmap(p, 64 * PG);
	close(fd);
	unlink(path);
	return 0;
}
