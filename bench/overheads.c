/* overheads DIR [MIB [GIB...]] -- what tracking and the working copy cost a program,
 * measured the same way natively and under famsrun (bench/overheads.sh runs both):
 *   first_write_ns   first store to each of 1% of the pages of a sparse file mapping
 *   clean_msync_us   msync of the whole mapping when nothing is dirty (the dirty scan)
 *   rss_kib, shmem_kib  resident memory after touching 1% of the sparse file
 * and for each GIB, a sparse file of that size mapped whole, 1,000 pages stored to
 * and committed (cost proportional to the pages touched, not to the size mapped):
 *   sparse_GIB_mmap_ms, _clean_msync_ms, _munmap_ms, _vmpte_kib (page tables then) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PG 4096

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

/* A sparse file of gib GiB mapped whole, 1,000 pages of it stored to and committed. */
static int sparse(const char *dir, long gib)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/overheads-huge", dir);
	size_t len = (size_t)gib << 30, touched = 1000, stride = len / PG / touched;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)len) < 0)
		return perror("sparse file"), 1;
	long pte0 = status_kib("VmPTE");
	double t0 = now_ns();
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	double t_map = now_ns() - t0;
	if (p == MAP_FAILED)
		return perror("sparse mmap"), 1;
	for (size_t i = 0; i < touched; i++)
		p[i * stride * PG] = 1;
	if (msync(p, len, MS_SYNC) < 0)
		return perror("sparse msync"), 1;
	t0 = now_ns();
	msync(p, len, MS_SYNC);
	double t_clean = now_ns() - t0;
	long pte = status_kib("VmPTE") - pte0;
	t0 = now_ns();
	munmap(p, len);
	double t_unmap = now_ns() - t0;
	printf("sparse_%ldG_mmap_ms %.2f\nsparse_%ldG_clean_msync_ms %.2f\nsparse_%ldG_munmap_ms %.2f\n"
	       "sparse_%ldG_vmpte_kib %ld\n",
	       gib, t_map / 1e6, gib, t_clean / 1e6, gib, t_unmap / 1e6, gib, pte);
	close(fd);
	unlink(path);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: overheads DIR [MIB [GIB...]]\n");
		return 2;
	}
	size_t pages = (size_t)(argc > 2 ? atol(argv[2]) : 1024) * 256;
	char path[4200];
	snprintf(path, sizeof path, "%s/overheads-sparse", argv[1]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)(pages * PG)) < 0)
		return perror("open"), 1;
	char *p = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return perror("mmap"), 1;
	long rss0 = status_kib("VmRSS");
	size_t touched = pages / 100, stride = 100;
	double t0 = now_ns();
	for (size_t i = 0; i < touched; i++)
		p[i * stride * PG] = 1;
	double first_write = (now_ns() - t0) / (double)touched;
	long rss = status_kib("VmRSS") - rss0, shmem = status_kib("RssShmem"), file = status_kib("RssFile");
	if (msync(p, pages * PG, MS_SYNC) < 0)
		return perror("msync"), 1;
	/* Now nothing is dirty: the cost of finding that out. */
	double best = 1e18;
	for (int r = 0; r < 20; r++) {
		t0 = now_ns();
		msync(p, pages * PG, MS_SYNC);
		double t = now_ns() - t0;
		best = t < best ? t : best;
	}
	printf("first_write_ns %.0f\nclean_msync_us %.0f\nrss_growth_kib %ld\nrss_shmem_kib %ld\nrss_file_kib %ld\n",
	       first_write, best / 1e3, rss, shmem, file);
	munmap(p, pages * PG);
	close(fd);
	unlink(path);
	for (int a = 3; a < argc; a++)
		if (sparse(argv[1], atol(argv[a])) != 0)
			return 1;
	return 0;
}
