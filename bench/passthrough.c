/* passthrough -- nanoseconds per call of calls fams must pass straight through
 * (descriptors and mappings that are not managed).  Run natively and under
 * famsrun; bench/passthrough.sh prints both and the difference.  With "live", one
 * file is managed first, so descriptor calls take the engine's slower path; the
 * *_managed rows then ask that file its size (the working copy's), and otherwise
 * the unmanaged one, for the native cost of the same call. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static int file_fd, null_fd;
static int sized_fd; /* the managed file with "live", else file_fd */
static char buf[4096];
static char *anon;

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void op_open_close(void)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/pt-file", dir);
	close(open(p, O_RDONLY));
}
/* stdio: a stream that reads, one that writes (under fams: a stream of its own,
 * stream.c), and 4 KiB put through a writing stream's buffer to the file. */
static void fopen_fclose(const char *mode)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/pt-file", dir);
	FILE *f = fopen(p, mode);
	if (f)
		fclose(f);
}
static void op_fopen_read(void) { fopen_fclose("r"); }
static void op_fopen_write(void) { fopen_fclose("r+"); }
static FILE *out_stream;
static void op_fwrite_4k(void)
{
	static unsigned n;
	if (++n % 4096 == 0)
		rewind(out_stream); /* 16 MiB at most */
	fwrite(buf, 1, sizeof buf, out_stream);
}
/* ftell: the C library's own stream keeps the position; a cookie stream asks the
 * descriptor (lseek) every time. */
static void op_ftell(void) { (void)ftell(out_stream); }
static void op_pread_4k(void) { (void)!pread(file_fd, buf, sizeof buf, 0); }
static void op_write_devnull(void) { (void)!write(null_fd, buf, 1); }
static void op_mmap_anon(void)
{
	void *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(p, 65536);
}
static void op_mmap_file_private(void)
{
	void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, file_fd, 0);
	munmap(p, 4096);
}
static void op_mmap_file_shared_ro(void)
{
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, file_fd, 0);
	munmap(p, 4096);
}
static void op_mprotect(void)
{
	mprotect(anon, 4096, PROT_READ);
	mprotect(anon, 4096, PROT_READ | PROT_WRITE);
}

static void op_fstat(void)
{
	struct stat st;
	fstat(file_fd, &st);
}
static void op_stat(void)
{
	char p[4200];
	struct stat st;
	snprintf(p, sizeof p, "%s/pt-file", dir);
	stat(p, &st);
}
static void op_lseek_cur(void) { lseek(file_fd, 0, SEEK_CUR); }
static void op_lseek_end(void) { lseek(file_fd, 0, SEEK_END); }
static void op_fstat_managed(void)
{
	struct stat st;
	fstat(sized_fd, &st);
}
static void op_lseek_end_managed(void) { lseek(sized_fd, 0, SEEK_END); }

static const struct {
	const char *name;
	void (*fn)(void);
	int iters;
} ops[] = {
	{ "open+close", op_open_close, 20000 },
	{ "fopen+fclose_read", op_fopen_read, 20000 },
	{ "fopen+fclose_write", op_fopen_write, 20000 },
	{ "fwrite_4k", op_fwrite_4k, 50000 },
	{ "ftell", op_ftell, 100000 },
	{ "pread_4k", op_pread_4k, 50000 },
	{ "write_devnull", op_write_devnull, 100000 },
	{ "mmap+munmap_anon", op_mmap_anon, 20000 },
	{ "mmap+munmap_private_file", op_mmap_file_private, 20000 },
	{ "mmap+munmap_shared_ro_file", op_mmap_file_shared_ro, 20000 },
	{ "mprotect_x2", op_mprotect, 50000 },
	{ "fstat", op_fstat, 100000 },
	{ "stat", op_stat, 50000 },
	{ "lseek_cur", op_lseek_cur, 100000 },
	{ "lseek_end", op_lseek_end, 100000 },
	{ "fstat_managed", op_fstat_managed, 100000 },
	{ "lseek_end_managed", op_lseek_end_managed, 100000 },
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: passthrough DIR [live]\n");
		return 2;
	}
	dir = argv[1];
	char p[4200];
	snprintf(p, sizeof p, "%s/pt-file", dir);
	file_fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	null_fd = open("/dev/null", O_WRONLY);
	if (file_fd < 0 || null_fd < 0 || write(file_fd, buf, sizeof buf) != sizeof buf)
		return perror("open"), 1;
	anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	snprintf(p, sizeof p, "%s/pt-stream", dir);
	if (!(out_stream = fopen(p, "w")))
		return perror(p), 1;
	char *live = NULL;
	int live_fd = -1;
	sized_fd = file_fd;
	if (argc > 2 && strcmp(argv[2], "live") == 0) {
		snprintf(p, sizeof p, "%s/pt-live", dir);
		live_fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (live_fd < 0 || ftruncate(live_fd, 4096) < 0)
			return perror("live"), 1;
		live = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, live_fd, 0);
		if (live == MAP_FAILED)
			return perror("mmap live"), 1;
		live[0] = 1;
		sized_fd = live_fd;
	}
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		double best = 1e18;
		for (int round = 0; round < 5; round++) {
			double t0 = now_ns();
			for (int k = 0; k < ops[i].iters; k++)
				ops[i].fn();
			double per = (now_ns() - t0) / ops[i].iters;
			best = per < best ? per : best;
		}
		printf("%s %.0f\n", ops[i].name, best);
	}
	fclose(out_stream);
	if (live) {
		munmap(live, 4096);
		close(live_fd);
		unlink(p);
	}
	snprintf(p, sizeof p, "%s/pt-file", dir);
	unlink(p);
	return 0;
}
