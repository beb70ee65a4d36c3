/* t_unwritable: a journal that cannot be created (its directory is not writable)
 * makes the writable mapping fail with EACCES and a "fams:" message; nothing is
 * mapped without a journal, the file is untouched, and once the directory is
 * writable again the same mapping works.  The journal directory is the data file's,
 * or FAMS_JOURNAL_DIR when that is set. */
#include "check.h"
#include <linux/capability.h>

/* Root writes anywhere: give up the capabilities that bypass permission bits. */
static void drop_dac_capabilities(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	CHECK(syscall(SYS_capget, &h, d) == 0);
	d[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
	CHECK(syscall(SYS_capset, &h, d) == 0);
}

int main(void)
{
	const char *jdir = getenv("FAMS_JOURNAL_DIR");
	const char *dir = test_path("unwritable");
	CHECK(mkdir(dir, 0755) == 0);
	if (jdir)
		CHECK(mkdir(jdir, 0755) == 0 || errno == EEXIST);
	char path[4200];
	snprintf(path, sizeof path, "%s/data", dir);
	int fd = make_file(path, 2 * PG, 'a');
	CHECK(fd >= 0);
	const char *locked = jdir ? jdir : dir;
	CHECK(chmod(locked, 0555) == 0);
	drop_dac_capabilities();
	char probe[4300];
	snprintf(probe, sizeof probe, "%s/probe", locked);
	int pfd = (int)syscall(SYS_openat, AT_FDCWD, probe, O_CREAT | O_WRONLY, 0600);
	if (pfd >= 0) {
		syscall(SYS_close, pfd);
		unlink(probe);
		SKIP("cannot make a directory unwritable here");
	}

	errno = 0;
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p == MAP_FAILED && errno == EACCES);
	CHECK(file_byte_is(path, 0, 'a') && raw_size(path) == 2 * PG);
	/* A read-only mapping needs no journal. */
	char *ro = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(ro != MAP_FAILED && ro[0] == 'a');
	/* ...but it cannot be made writable without one. */
	errno = 0;
	CHECK(mprotect(ro, PG, PROT_READ | PROT_WRITE) == -1 && errno == EACCES);
	CHECK(munmap(ro, 2 * PG) == 0);

	CHECK(chmod(locked, 0755) == 0);
	p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[PG] = 'b';
	CHECK(msync(p, 2 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, PG, 'b'));
	CHECK(munmap(p, 2 * PG) == 0 && close(fd) == 0);
	unlink(path);
	rmdir(dir);
	puts("ok");
	return 0;
}
