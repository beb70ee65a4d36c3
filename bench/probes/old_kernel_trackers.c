/* old_kernel_trackers -- what the two dirty-page trackers possible before Linux 6.7
 * (issue 14) can do, on a 64 MiB MAP_SHARED memfd mapping (fams's working copy),
 * with 8 pages written per round:
 *   soft-dirty: /proc/self/clear_refs "4", then bit 55 of /proc/self/pagemap;
 *   sync uffd-wp: userfaultfd write-protect on shmem, a handler thread that records
 *     the page and un-protects it (one round trip per first store).
 * Prints RESULT lines: whether each is there, exact (finds exactly the pages
 * written), and what clearing, scanning and a first store cost.  Runs in the
 * power-cut machine on Debian's 6.1 kernel (tests/powercut, fams.workload=probe). */
#include "probe.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define PAGES 16384 /* 64 MiB */
#define WRITES 8
#define ROUNDS 9
#define PG 4096

static char *map_working_copy(void)
{
	int fd = (int)syscall(SYS_memfd_create, "probe", 0);
	if (fd < 0 || ftruncate(fd, (off_t)PAGES * PG) < 0)
		die("memfd");
	char *p = mmap(NULL, (size_t)PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	memset(p, 1, (size_t)PAGES * PG); /* populated, as a working copy is */
	return p;
}

/* ---- soft-dirty ---- */

static int clear_soft_dirty(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	int ok = fd >= 0 && write(fd, "4", 1) == 1;
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* Pages of p with the soft-dirty bit (55) set. */
static int count_soft_dirty(int pagemap, char *p)
{
	static uint64_t e[PAGES];
	off_t off = (off_t)((uintptr_t)p / PG) * 8;
	if (pread(pagemap, e, sizeof e, off) != (ssize_t)sizeof e)
		die("pagemap");
	int n = 0;
	for (int i = 0; i < PAGES; i++)
		n += (int)(e[i] >> 55 & 1);
	return n;
}

static void soft_dirty(char *p)
{
	int pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0 || clear_soft_dirty() < 0) {
		printf("RESULT soft_dirty_available 0 (%s)\n", strerror(errno));
		return;
	}
	p[0] = 1; /* one store after clearing: its bit must be set, and only it */
	if (count_soft_dirty(pm, p) != 1) {
		printf("RESULT soft_dirty_available 0 (a store after clear_refs sets no bit: not built in)\n");
		return;
	}
	double clear[ROUNDS], scan[ROUNDS], store[ROUNDS];
	int exact = 1;
	for (int r = 0; r < ROUNDS; r++) {
		double t = now_us();
		clear_soft_dirty();
		clear[r] = now_us() - t;
		t = now_us();
		for (int i = 0; i < WRITES; i++)
			p[(size_t)((r * 977 + i * 1999) % PAGES) * PG] = (char)r;
		store[r] = (now_us() - t) / WRITES;
		t = now_us();
		int n = count_soft_dirty(pm, p);
		scan[r] = now_us() - t;
		exact &= n == WRITES;
	}
	printf("RESULT soft_dirty_available 1 yes\n");
	printf("RESULT soft_dirty_exact %d (8 pages written, 8 found)\n", exact);
	printf("RESULT soft_dirty_clear_refs_us %.1f us\n", median(clear, ROUNDS));
	printf("RESULT soft_dirty_first_store_us %.2f us\n", median(store, ROUNDS));
	printf("RESULT soft_dirty_scan_64MiB_us %.1f us\n", median(scan, ROUNDS));
	close(pm);
}

/* ---- synchronous userfaultfd write-protect ---- */

static int uffd;
static volatile int faults;

static void *handler(void *arg)
{
	struct uffd_msg m;
	for (;;) {
		struct pollfd pfd = { uffd, POLLIN, 0 };
		if (poll(&pfd, 1, -1) < 0 || read(uffd, &m, sizeof m) != (ssize_t)sizeof m)
			continue;
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		uintptr_t a = (uintptr_t)m.arg.pagefault.address & ~(uintptr_t)(PG - 1);
		struct uffdio_writeprotect wp = { .range = { a, PG }, .mode = 0 }; /* un-protect and wake */
		if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0)
			die("unprotect");
		faults++;
	}
	return arg;
}

static void sync_uffd_wp(char *p)
{
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_HUGETLBFS_SHMEM };
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0) {
		printf("RESULT sync_uffd_wp_available 0 (%s)\n", strerror(errno));
		return;
	}
	struct uffdio_register reg = { .range = { (uintptr_t)p, (size_t)PAGES * PG }, .mode = UFFDIO_REGISTER_MODE_WP };
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
		printf("RESULT sync_uffd_wp_available 0 (register: %s)\n", strerror(errno));
		return;
	}
	pthread_t t;
	pthread_create(&t, NULL, handler, NULL);
	double prot[ROUNDS], store[ROUNDS];
	int exact = 1;
	for (int r = 0; r < ROUNDS; r++) {
		struct uffdio_writeprotect wp = { .range = { (uintptr_t)p, (size_t)PAGES * PG },
						  .mode = UFFDIO_WRITEPROTECT_MODE_WP };
		double t0 = now_us();
		if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0)
			die("protect");
		prot[r] = now_us() - t0;
		int before = faults;
		t0 = now_us();
		for (int i = 0; i < WRITES; i++)
			p[(size_t)((r * 977 + i * 1999) % PAGES) * PG] = (char)r;
		store[r] = (now_us() - t0) / WRITES;
		exact &= faults - before == WRITES;
	}
	printf("RESULT sync_uffd_wp_available 1 yes\n");
	printf("RESULT sync_uffd_wp_exact %d (8 pages written, 8 faults)\n", exact);
	printf("RESULT sync_uffd_wp_protect_64MiB_us %.1f us\n", median(prot, ROUNDS));
	printf("RESULT sync_uffd_wp_first_store_us %.2f us\n", median(store, ROUNDS));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char *p = map_working_copy();
	soft_dirty(p);
	sync_uffd_wp(p);
	return 0;
}
