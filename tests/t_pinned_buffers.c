/* io_uring's fixed buffers over a managed mapping are refused with EFAULT, as the
 * kernel refuses them over a shared file mapping: the kernel would write into their
 * pinned pages where no tracker sees, and those writes would never reach the file.
 * Buffers elsewhere (anonymous memory) register as natively.  Through liburing's
 * calls, which is where fams can see them: liburing (liburing.so.2) is loaded at run
 * time, so neither fams nor this test needs it to build; without it, or without
 * io_uring, the test is skipped (77). */
#include "check.h"

#include <dlfcn.h>
#include <sys/uio.h>

int main(void)
{
	void *lib = dlopen("liburing.so.2", RTLD_NOW | RTLD_GLOBAL);
	if (!lib) {
		printf("skip: liburing.so.2 is not installed\n");
		return 77;
	}
	int (*queue_init)(unsigned, void *, unsigned) = (int (*)(unsigned, void *, unsigned))dlsym(lib, "io_uring_queue_init");
	void (*queue_exit)(void *) = (void (*)(void *))dlsym(lib, "io_uring_queue_exit");
	/* The program's calls resolve to the first definition: fams's, under it. */
	int (*register_buffers)(void *, const struct iovec *, unsigned) =
		(int (*)(void *, const struct iovec *, unsigned))dlsym(RTLD_DEFAULT, "io_uring_register_buffers");
	int (*unregister_buffers)(void *) = (int (*)(void *))dlsym(lib, "io_uring_unregister_buffers");
	int (*uring_register)(unsigned, unsigned, const void *, unsigned) =
		(int (*)(unsigned, unsigned, const void *, unsigned))dlsym(RTLD_DEFAULT, "io_uring_register");
	CHECK(queue_init && queue_exit && register_buffers && unregister_buffers && uring_register);
	static char ring[4096] __attribute__((aligned(64))); /* struct io_uring, opaque here */
	int r = queue_init(8, ring, 0);
	if (r < 0) {
		printf("skip: io_uring_queue_init: %s\n", strerror(-r));
		return 77;
	}

	const char *path = test_path("pinned");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	struct iovec mapped = { p + PG, 2 * PG };
	CHECK(register_buffers(ring, &mapped, 1) == -EFAULT);
	/* The generic call, as IORING_REGISTER_BUFFERS: refused before any ring is
	 * looked at (ring descriptor 0 is none). */
	CHECK(uring_register(0, 0 /* IORING_REGISTER_BUFFERS */, &mapped, 1) == -EFAULT);

	static char anon[2 * 4096] __attribute__((aligned(4096)));
	struct iovec plain = { anon, sizeof anon };
	CHECK(register_buffers(ring, &plain, 1) == 0);
	CHECK(unregister_buffers(ring) == 0);

	p[0] = 'b';
	CHECK(msync(p, 4 * PG, MS_SYNC) == 0 && file_byte_is(path, 0, 'b'));
	CHECK(munmap(p, 4 * PG) == 0 && close(fd) == 0);
	queue_exit(ring);
	unlink(path);
	puts("io_uring fixed buffers: refused over a managed mapping (EFAULT), registered elsewhere");
	return 0;
}
