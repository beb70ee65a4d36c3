/* scan_shootdown.c -- what a harvest (PAGEMAP_SCAN with WP_MATCHING over a 64 MiB
 * memfd mapping under async write-protect, k pages written) costs when the process
 * has run only on this CPU, and when it ran on another CPU since its last TLB flush
 * (pinned to the two CPUs in turn before each scan): the pages protected again must
 * be flushed from the other CPU too, an IPI that waits for an idle CPU to wake.
 * Prints RESULT lines with the median scan time and the TLB shootdowns per scan
 * (/proc/interrupts).  Needs two CPUs. */
#include "probe.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define PAGES 16384 /* 64 MiB */
#define PAGE 4096UL
#define REPS 201

/* TLB shootdowns received by all CPUs so far. */
static long shootdowns(void)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[4096];
	long n = 0;
	while (f && fgets(line, sizeof line, f)) {
		char *p = line;
		while (*p == ' ')
			p++;
		if (strncmp(p, "TLB:", 4) != 0)
			continue;
		for (char *t = strtok(p + 4, " "); t && *t >= '0' && *t <= '9'; t = strtok(NULL, " "))
			n += atol(t);
	}
	if (f)
		fclose(f);
	return n;
}

static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof s, &s) < 0)
		die("sched_setaffinity");
}

/* One harvest of [p, p + PAGES pages): microseconds. */
static double harvest(int pm, char *p)
{
	struct page_region vec[256];
	uintptr_t s = (uintptr_t)p, e = s + PAGES * PAGE;
	double t0 = now_us();
	while (s < e) {
		struct pm_scan_arg a = written_pages_arg(s, e, vec, 256);
		if (ioctl(pm, PAGEMAP_SCAN, &a) < 0)
			die("PAGEMAP_SCAN");
		if (a.walk_end <= s)
			break;
		s = a.walk_end;
	}
	return now_us() - t0;
}

int main(void)
{
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		printf("RESULT skipped_one_cpu 1 -\n");
		return 0;
	}
	int fd = memfd_create("working-copy", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, PAGES * PAGE) < 0)
		die("memfd");
	char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	memset(p, 1, PAGES * PAGE);
	int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED };
	struct uffdio_register reg = { .range = { (uintptr_t)p, PAGES * PAGE }, .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .range = reg.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0 || ioctl(uffd, UFFDIO_REGISTER, &reg) < 0 ||
	    ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0)
		die("userfaultfd");
	int pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0)
		die("pagemap");
	static const int ks[] = { 1, 8, 64 };
	static double t[REPS];
	uint64_t x = 88172645463325252ull;
	for (int moved = 0; moved < 2; moved++)
		for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
			long before = shootdowns();
			for (int r = 0; r < REPS; r++) {
				pin(moved ? r % 2 : 0);
				for (int i = 0; i < ks[ki]; i++) {
					x ^= x << 13, x ^= x >> 7, x ^= x << 17;
					p[(x % PAGES) * PAGE + (size_t)r] = (char)x;
				}
				t[r] = harvest(pm, p);
			}
			double per = (double)(shootdowns() - before) / REPS;
			const char *where = moved ? "after_other_cpu" : "one_cpu";
			printf("RESULT scan_%s_k%d_us %.1f us\n", where, ks[ki], median(t, REPS));
			printf("RESULT shootdowns_%s_k%d %.2f per_scan\n", where, ks[ki], per);
		}
	return 0;
}
