/* FAMS_REPORT: a program that commits from two functions -- three msyncs in one,
 * two fsyncs in the other -- gets a report at exit naming each function, with its
 * count of commits.  The program runs as a child with FAMS_REPORT set (fams reads
 * its settings when a process starts). */
#include "check.h"
#include <dlfcn.h>
#include <sys/wait.h>

static void __attribute__((noinline)) commit_by_msync(char *p)
{
	p[0]++;
	CHECK(msync(p, PG, MS_SYNC) == 0);
}

static void __attribute__((noinline)) commit_by_fsync(char *p, int fd)
{
	p[PG]++;
	CHECK(fsync(fd) == 0);
}

/* The program the report is about. */
static int work(const char *path)
{
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	for (int i = 0; i < 3; i++)
		commit_by_msync(p);
	for (int i = 0; i < 2; i++)
		commit_by_fsync(p, fd);
	return 0;
}

/* The report's row naming fn, or NULL. */
static char *row_of(char *report, const char *fn)
{
	for (char *line = strtok(report, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, fn))
			return line;
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "work") == 0)
		return work(argv[2]);
	void *unwind = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	if (!unwind)
		SKIP("libunwind.so.8 is not installed: the report names places by dladdr only");
	dlclose(unwind);
	const char *path = test_path("report");
	char report[4200], text[8192];
	snprintf(report, sizeof report, "%s.report", path);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		setenv("FAMS_REPORT", report, 1);
		execl("/proc/self/exe", argv[0], "work", path, (char *)NULL);
		_exit(127);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	int fd = open(report, O_RDONLY);
	CHECK(fd >= 0);
	ssize_t n = read(fd, text, sizeof text - 1);
	CHECK(n > 0);
	text[n] = '\0';
	close(fd);
	fputs(text, stdout);
	char copy[8192];
	memcpy(copy, text, (size_t)n + 1);
	char *m = row_of(copy, "commit_by_msync+");
	CHECK(m && strtoul(m, NULL, 10) == 3 && strstr(m, "t_report"));
	memcpy(copy, text, (size_t)n + 1);
	char *s = row_of(copy, "commit_by_fsync+");
	CHECK(s && strtoul(s, NULL, 10) == 2);
	unlink(report);
	unlink(path);
	puts("ok");
	return 0;
}
