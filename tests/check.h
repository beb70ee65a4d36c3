/* check.h -- helpers for the test programs.  Tests run as ordinary programs under
 * LD_PRELOAD=libfams_preload.so; to see what is really in a file (not the working
 * copy fams serves through the program's descriptors) they use raw system calls. */
#ifndef FAMS_CHECK_H
#define FAMS_CHECK_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PG 4096

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "%s:%d: check failed: %s (errno %d: %s)\n", __FILE__,  \
				__LINE__, #cond, errno, strerror(errno));                      \
			exit(1);                                                               \
		}                                                                              \
	} while (0)

#define SKIP(why)                                                                              \
	do {                                                                                   \
		fprintf(stderr, "skip: %s\n", why);                                            \
		exit(77);                                                                      \
	} while (0)

/* A line of this process's /proc/self/status in KiB (VmPTE, VmRSS, ...), or -1. */
static inline long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			kib = atol(line + n + 1);
			break;
		}
	if (f)
		fclose(f);
	return kib;
}

/* A fresh path for this test under $FAMS_TEST_DIR (a persistent file system). */
static inline const char *test_path(const char *name)
{
	static char buf[4][4096];
	static int i;
	const char *dir = getenv("FAMS_TEST_DIR");
	char *p = buf[i++ % 4];
	snprintf(p, 4096, "%s/%s.%d", dir ? dir : ".", name, (int)getpid());
	return p;
}

/* The rule named by --expect-broken=NAME (an engine with it broken must be caught),
 * or NULL. */
static inline const char *expected_broken(int argc, char **argv)
{
	return argc > 1 && strncmp(argv[1], "--expect-broken=", 16) == 0 ? argv[1] + 16 : NULL;
}

/* What the file itself holds, bypassing fams. */
static inline ssize_t raw_pread_path(const char *path, void *buf, size_t n, off_t off)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t r = syscall(SYS_pread64, fd, buf, n, off);
	syscall(SYS_close, fd);
	return r;
}

/* The 8 bytes the file itself holds at off, bypassing fams. */
static inline uint64_t raw_word(const char *path, off_t off)
{
	uint64_t v = 0;
	CHECK(raw_pread_path(path, &v, sizeof v, off) == (ssize_t)sizeof v);
	return v;
}

static inline off_t raw_size(const char *path)
{
	struct stat st;
	if (syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) < 0)
		return -1;
	return st.st_size;
}

/* The file holds byte c at off (read without fams). */
static inline int file_byte_is(const char *path, off_t off, char c)
{
	char b = 0;
	return raw_pread_path(path, &b, 1, off) == 1 && b == c;
}

static inline int make_file(const char *path, off_t size, char fill)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	char buf[PG];
	memset(buf, fill, sizeof buf);
	for (off_t o = 0; o < size; o += PG)
		if (pwrite(fd, buf, (size_t)(size - o < PG ? size - o : PG), o) < 0)
			return -1;
	return fd;
}

/* A file of size bytes filled with fill at path, mapped shared and writable whole;
 * its descriptor in *fd. */
static inline char *map_new_file(const char *path, size_t size, char fill, int *fd)
{
	*fd = make_file(path, (off_t)size, fill);
	CHECK(*fd >= 0);
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	CHECK(p != MAP_FAILED);
	return p;
}

/* The path of the journal of the file now at path, as fams names it next to the
 * file: ".INODE-BIRTH.fams-journal" (birth time in ns, hex; where the file system
 * has none, the inode's generation number). */
static inline int journal_path_for(const char *path, char *out, size_t cap)
{
	struct statx stx;
	if (syscall(SYS_statx, AT_FDCWD, path, 0, STATX_INO | STATX_BTIME, &stx) < 0)
		return -1;
	unsigned long long bt = 0;
	if (stx.stx_mask & STATX_BTIME) {
		bt = (unsigned long long)stx.stx_btime.tv_sec * 1000000000ull + stx.stx_btime.tv_nsec;
	} else { /* no birth time: the inode's generation number stands in */
		int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY), gen = 0;
		if (fd >= 0 && syscall(SYS_ioctl, fd, FS_IOC_GETVERSION, &gen) == 0)
			bt = (unsigned int)gen;
		if (fd >= 0)
			syscall(SYS_close, fd);
	}
	const char *slash = strrchr(path, '/');
	snprintf(out, cap, "%.*s/.%llu-%016llx.fams-journal", (int)(slash - path), path,
		 (unsigned long long)stx.stx_ino, bt);
	return 0;
}

static inline int journal_exists_for(const char *path)
{
	char j[4200];
	return journal_path_for(path, j, sizeof j) == 0 && syscall(SYS_faccessat, AT_FDCWD, j, F_OK) == 0;
}

#endif
