/* mmap of a managed file (or of one about to be) succeeds or fails exactly as the
 * kernel answers for the file itself: MAP_SYNC on a file that is not on persistent
 * memory is EOPNOTSUPP (so PMDK falls back to msync), an unknown flag with
 * MAP_SHARED_VALIDATE is EOPNOTSUPP, PROT_WRITE on a read-only or append-only
 * descriptor is EACCES, and so on; a MAP_FIXED mapping refused leaves the mapping it
 * would have replaced, as the kernel does.  The kernel's answer is measured in the
 * same run with a raw mmap system call on the data file. */
#include "check.h"
#include <linux/capability.h>
#include <sys/resource.h>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#define MAP_UNKNOWN_BIT 0x200000 /* no meaning to the kernel */

struct call {
	const char *what;
	int open_flags, prot, flags;
	size_t len;
};

static const struct call calls[] = {
	{ "MAP_SHARED_VALIDATE|MAP_SYNC", O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, 4 * PG },
	{ "MAP_SHARED_VALIDATE|MAP_SYNC read-only", O_RDWR, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, 4 * PG },
	{ "MAP_SHARED_VALIDATE|unknown", O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_UNKNOWN_BIT, 4 * PG },
	{ "MAP_SHARED_VALIDATE", O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE, 4 * PG },
	{ "MAP_SHARED|MAP_SYNC", O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_SYNC, 4 * PG },
	{ "PROT_WRITE on O_RDONLY", O_RDONLY, PROT_READ | PROT_WRITE, MAP_SHARED, 4 * PG },
	{ "PROT_READ on O_WRONLY", O_WRONLY, PROT_READ, MAP_SHARED, 4 * PG },
	{ "private on O_WRONLY", O_WRONLY, PROT_READ | PROT_WRITE, MAP_PRIVATE, 4 * PG },
	{ "PROT_WRITE on O_APPEND", O_RDWR | O_APPEND, PROT_READ | PROT_WRITE, MAP_SHARED, 4 * PG },
	{ "MAP_HUGETLB on a regular file", O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_HUGETLB, 4 * PG },
	{ "length 0", O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED, 0 },
	{ "MAP_FIXED_NOREPLACE over a mapping", O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, 4 * PG },
};

static void *in_use; /* an address range the program already uses */

/* 0 or the errno of one mmap of path, made natively (raw system call) or through fams. */
static int try_map(const char *path, const struct call *c, int native)
{
	int fd = native ? (int)syscall(SYS_openat, AT_FDCWD, path, c->open_flags) : open(path, c->open_flags);
	CHECK(fd >= 0);
	void *hint = (c->flags & MAP_FIXED_NOREPLACE) ? in_use : NULL;
	void *p = native ? (void *)syscall(SYS_mmap, hint, c->len, c->prot, c->flags, fd, 0)
			 : mmap(hint, c->len, c->prot, c->flags, fd, 0);
	int err = p == MAP_FAILED ? errno : 0;
	if (p != MAP_FAILED) {
		if (c->prot & PROT_WRITE) { /* a mapping fams accepted works */
			((char *)p)[1] = 'w';
			CHECK(msync(p, c->len, MS_SYNC) == 0);
		}
		CHECK(munmap(p, c->len) == 0);
	}
	native ? syscall(SYS_close, fd) : close(fd);
	return err;
}

/* Whether [p, p+len) is mapped (mincore fails with ENOMEM on a hole). */
static int mapped(void *p, size_t len)
{
	unsigned char v[64];
	return mincore(p, len, v) == 0;
}

/* A MAP_FIXED mapping the kernel refuses (MAP_LOCKED over the memlock limit) leaves
 * the mapping it would have replaced as the kernel leaves it: in place. */
static int refused_fixed_keeps_old(const char *path, int fd)
{
	struct rlimit none = { 0, 0 };
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	CHECK(setrlimit(RLIMIT_MEMLOCK, &none) == 0);
	CHECK(syscall(SYS_capget, &h, d) == 0);
	d[0].effective &= ~(1u << CAP_IPC_LOCK);
	CHECK(syscall(SYS_capset, &h, d) == 0);
	const int fixed_locked = MAP_SHARED | MAP_FIXED | MAP_LOCKED;

	char *n = mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(n != MAP_FAILED);
	void *r = (void *)syscall(SYS_mmap, n, 4 * PG, PROT_READ | PROT_WRITE, fixed_locked, fd, 0);
	int native_err = r == MAP_FAILED ? errno : 0, native_kept = mapped(n, 4 * PG);
	if (r != MAP_FAILED)
		SKIP("the kernel accepted MAP_LOCKED over the limit");

	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 'L';
	r = mmap(p, 4 * PG, PROT_READ | PROT_WRITE, fixed_locked, fd, 0);
	int err = r == MAP_FAILED ? errno : 0, kept = mapped(p, 4 * PG) && p[0] == 'L';
	if (err != native_err || kept != native_kept) {
		fprintf(stderr, "refused MAP_FIXED: kernel %s and %s the old mapping, fams %s and %s it\n",
			strerror(native_err), native_kept ? "kept" : "lost", err ? strerror(err) : "mapped",
			kept ? "kept" : "lost");
		return 1;
	}
	CHECK(msync(p, 4 * PG, MS_SYNC) == 0 && file_byte_is(path, 0, 'L'));
	CHECK(munmap(p, 4 * PG) == 0);
	return 0;
}

int main(void)
{
	const char *path = test_path("map_flags");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0 && close(fd) == 0); /* an open descriptor would keep the file managed */
	in_use = mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(in_use != MAP_FAILED);
	int failures = 0;
	for (int managed = 0; managed < 2; managed++) {
		char *keep = NULL;
		if (managed) { /* a mapping that keeps the file managed throughout */
			fd = open(path, O_RDWR);
			CHECK(fd >= 0);
			keep = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			CHECK(keep != MAP_FAILED);
			keep[0] = 'k';
		}
		for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
			int want = try_map(path, &calls[i], 1), got = try_map(path, &calls[i], 0);
			if (want != got) {
				fprintf(stderr, "%s, file %s: kernel says %s, fams says %s\n", calls[i].what,
					managed ? "managed" : "not yet managed", want ? strerror(want) : "ok",
					got ? strerror(got) : "ok");
				failures++;
			}
			if (!managed && journal_exists_for(path)) {
				/* Each call's descriptor is closed: the file must not stay managed,
				 * least of all after a call the kernel refused. */
				fprintf(stderr, "%s: the file is still managed afterwards\n", calls[i].what);
				failures++;
			}
		}
		if (keep) {
			CHECK(msync(keep, 4 * PG, MS_SYNC) == 0 && file_byte_is(path, 0, 'k'));
			CHECK(munmap(keep, 4 * PG) == 0);
		}
	}
	failures += refused_fixed_keeps_old(path, fd);
	close(fd);
	unlink(path);
	return failures ? 1 : 0;
}
