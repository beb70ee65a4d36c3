/* stdio streams of a managed file read and write its working copy, as read() and
 * write() do: what fwrite/fputs put in is seen by the mappings at once and reaches
 * the file only at the next commit (the C library writes through calls of its own
 * that no wrapper sees, so a plain stream would change the data file around the
 * working copy); what fgets reads from a stream opened once the file is managed
 * includes stores not yet committed.  A stream the C library made where fams
 * cannot go (stdout sent to a file, freopen's, a wide one) is never torn into:
 * mapping its file for writing is refused with EBUSY, and so is opening a managed
 * file as one. */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* Run fn in a child; its exit status. */
static int in_child(int (*fn)(const char *), const char *path)
{
	pid_t pid = fork();
	if (pid == 0)
		exit(fn(path));
	int st;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Writes through a stream opened before the file was managed, then killed before
 * any commit: the file keeps what it held when it became managed. */
static int write_then_die(const char *path)
{
	FILE *fp = fopen(path, "w+");
	char page[PG];
	memset(page, 'x', sizeof page);
	CHECK(fp && fwrite(page, 1, PG, fp) == PG && fwrite(page, 1, PG, fp) == PG && fflush(fp) == 0);
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fileno(fp), 0);
	CHECK(p != MAP_FAILED);
	CHECK(fseek(fp, 0, SEEK_SET) == 0 && fputs("after", fp) >= 0 && fflush(fp) == 0);
	CHECK(memcmp(p, "after", 5) == 0 && file_byte_is(path, 0, 'x'));
	raise(SIGKILL);
	return 1;
}

/* Buffered bytes a normal exit flushes belong to the exit's commit. */
static int write_then_exit(const char *path)
{
	int fd = open(path, O_RDWR);
	char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	FILE *fp = fopen(path, "r+");
	CHECK(p != MAP_FAILED && fp && fputs("at exit", fp) >= 0);
	p[PG - 1] = 'z';
	exit(0); /* not flushed by the program: the C library flushes at exit */
}

/* stdout sent to a file: that file cannot be managed while stdout writes it. */
static int stdout_to_file(const char *path)
{
	CHECK(freopen(path, "w", stdout) == stdout);
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0 && ftruncate(fd, PG) == 0);
	void *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p == MAP_FAILED && errno == EBUSY);
	/* Read-only mappings are fine: they change nothing. */
	CHECK(mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0) != MAP_FAILED);
	return 0;
}

/* stdout assigned a stream fams made: its writes go through fams, so its file may
 * be mapped and written, and what stdout writes reaches the mapping. */
static int stdout_assigned(const char *path)
{
	FILE *fp = fopen(path, "w+");
	CHECK(fp != NULL && ftruncate(fileno(fp), PG) == 0);
	stdout = fp;
	char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fileno(fp), 0);
	CHECK(p != MAP_FAILED);
	CHECK(printf("through stdout") > 0 && fflush(stdout) == 0);
	CHECK(memcmp(p, "through stdout", 14) == 0);
	CHECK(msync(p, PG, MS_SYNC) == 0 && file_byte_is(path, 0, 't'));
	return 0;
}

/* ... and a managed file cannot become a stream the C library writes. */
static int freopen_managed(const char *path)
{
	int fd = open(path, O_RDWR);
	char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	CHECK(freopen(path, "r+", stdout) == NULL && errno == EBUSY);
	CHECK(freopen(path, "r", stdin) == stdin); /* reading it changes nothing */
	/* Nor can stdout be pointed at it under the C library's feet. */
	CHECK(dup2(fd, fileno(stdout)) == -1 && errno == EBUSY);
	CHECK(dup2(fd, 100) == 100 && close(100) == 0); /* any other number is fine */
	/* ... however it would land there: dup or open of the lowest free number. */
	CHECK(close(fileno(stdout)) == 0);
	CHECK(dup(fd) == -1 && errno == EBUSY && fcntl(fd, F_DUPFD, 0) == -1 && errno == EBUSY);
	CHECK(open(path, O_RDWR) == -1 && errno == EBUSY);
	int ro = open(path, O_RDONLY); /* the stream's writes fail there anyway */
	CHECK(ro == 1 && close(ro) == 0);
	return 0;
}

/* Streams fams made behave as the C library's own: "a" starts at the end, a
 * flush that fails at fclose fails fclose, freopen keeps the stream. */
static int stream_semantics(const char *path)
{
	int fd = open(path, O_RDWR);
	char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0); /* fams is live */
	CHECK(p != MAP_FAILED);
	const char *other = test_path("stdio_other");
	FILE *fp = fopen(other, "w");
	CHECK(fp && fputs("hello", fp) >= 0 && fclose(fp) == 0);
	fp = fopen(other, "a");
	CHECK(fp && ftell(fp) == 5 && fclose(fp) == 0); /* a header written "if ftell is 0" once only */
	int d = open(other, O_WRONLY);
	fp = fdopen(d, "a");
	CHECK(fp && ftell(fp) == 5 && fclose(fp) == 0);
	/* ftell as the C library's streams answer it: after reads, writes and appends
	 * (another descriptor's appends included), without a system call where it can. */
	fp = fopen(other, "a+");
	int app = open(other, O_WRONLY | O_APPEND);
	CHECK(fp && app >= 0 && fputs("ab", fp) >= 0 && fflush(fp) == 0 && ftell(fp) == 7);
	CHECK(write(app, "cd", 2) == 2 && fputs("e", fp) >= 0 && fflush(fp) == 0 && ftell(fp) == 10);
	CHECK(fseek(fp, 1, SEEK_SET) == 0 && fgetc(fp) == 'e' && ftell(fp) == 2 && fclose(fp) == 0 && close(app) == 0);
	/* Until the program seeks, ftell asks the descriptor (a write through fileno()
	 * is seen), as the C library's streams do. */
	fp = fopen(other, "r+");
	CHECK(fp && ftell(fp) == 0 && write(fileno(fp), "xyz", 3) == 3 && ftell(fp) == 3);
	CHECK(fseek(fp, 1, SEEK_SET) == 0 && ftell(fp) == 1 && fclose(fp) == 0);
	/* freopen of such a stream: the same stream on the new file, with nothing the
	 * old one left in it (a byte pushed back). */
	fp = fopen(other, "r+");
	CHECK(fp && ungetc('u', fp) == 'u' && freopen(path, "r+", fp) == fp && fgetc(fp) == p[0]);
	CHECK(fclose(fp) == 0);
	/* Its sides and its appending stay as made; a refused or failed freopen leaves
	 * the stream closed, as the C library's. */
	fp = fopen(other, "a");
	CHECK(fp && freopen(other, "w", fp) == NULL && errno == EINVAL && fileno(fp) == -1);
	fclose(fp);
	fp = fopen(other, "w");
	CHECK(fp && freopen(NULL, "r", fp) == NULL && errno == EINVAL);
	fclose(fp);
	/* The flush fclose makes fails: so does fclose. */
	struct rlimit small = { 2, 2 };
	signal(SIGXFSZ, SIG_IGN);
	fp = fopen(other, "w");
	CHECK(fp && setrlimit(RLIMIT_FSIZE, &small) == 0 && fputs("too long", fp) >= 0);
	CHECK(fclose(fp) == EOF && errno == EFBIG);
	unlink(other);
	return 0;
}

/* fork while another thread flushes every stream (the C library's list of streams
 * held, a stream of fams's writing through it): neither waits for the other. */
static FILE *g_flushed;
static volatile int g_stop;
static void *flush_all(void *arg)
{
	(void)arg;
	while (!g_stop) {
		fputc('x', g_flushed);
		fflush(NULL);
	}
	return NULL;
}
static int fork_while_flushing(const char *path)
{
	int fd = open(path, O_RDWR);
	char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	g_flushed = fopen(test_path("stdio_flushed"), "w");
	CHECK(p != MAP_FAILED && g_flushed);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, flush_all, NULL) == 0);
	for (int i = 0; i < 1000; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		CHECK(pid > 0 && waitpid(pid, NULL, 0) == pid);
	}
	g_stop = 1;
	pthread_join(t, NULL);
	unlink(test_path("stdio_flushed"));
	return 0;
}

int main(void)
{
	const char *path = test_path("stdio");
	int fd = make_file(path, 4 * PG, 'a');
	CHECK(fd >= 0);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 'M'; /* a store not committed yet */

	/* A stream opened once the file is managed: reads see the store, writes reach
	 * the mapping and not the file, and fileno names a descriptor of the file. */
	FILE *fp = fopen(path, "r+");
	CHECK(fp && fileno(fp) >= 0);
	struct stat st;
	CHECK(fstat(fileno(fp), &st) == 0 && st.st_size == 4 * PG);
	CHECK(fgetc(fp) == 'M');
	CHECK(fseek(fp, PG, SEEK_SET) == 0 && fputs("stdio", fp) >= 0 && fflush(fp) == 0);
	CHECK(ftell(fp) == PG + 5);
	CHECK(memcmp(p + PG, "stdio", 5) == 0 && file_byte_is(path, PG, 'a'));
	/* fclose flushes what is buffered into the working copy too. */
	CHECK(fseek(fp, 2 * PG, SEEK_SET) == 0 && fputs("closed", fp) >= 0 && fclose(fp) == 0);
	CHECK(memcmp(p + 2 * PG, "closed", 6) == 0 && file_byte_is(path, 2 * PG, 'a'));

	/* A read-only stream reads the working copy. */
	FILE *rd = fopen(path, "r");
	char line[8] = "";
	CHECK(rd && fgets(line, sizeof line, rd) && line[0] == 'M' && line[1] == 'a');
	CHECK(fseek(rd, 0, SEEK_END) == 0 && ftell(rd) == 4 * PG && fclose(rd) == 0);

	/* Appending grows the working copy; the file only at the commit. */
	FILE *ap = fopen(path, "a");
	CHECK(ap && fputs("tail", ap) >= 0 && fflush(ap) == 0);
	CHECK(fstat(fd, &st) == 0 && st.st_size == 4 * PG + 4 && raw_size(path) == 4 * PG);
	CHECK(fclose(ap) == 0);

	/* fdopen of a descriptor the program opened: the same. */
	int d = open(path, O_RDWR);
	FILE *g = fdopen(d, "r+");
	CHECK(g && fileno(g) == d);
	CHECK(fseek(g, 3 * PG, SEEK_SET) == 0 && fputs("fdopen", g) >= 0 && fflush(g) == 0);
	CHECK(memcmp(p + 3 * PG, "fdopen", 6) == 0 && file_byte_is(path, 3 * PG, 'a'));
	CHECK(fclose(g) == 0 && fcntl(d, F_GETFD) == -1 && errno == EBADF);

	CHECK(msync(p, 4 * PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, 0, 'M') && file_byte_is(path, PG, 's') && file_byte_is(path, 2 * PG, 'c') &&
	      file_byte_is(path, 3 * PG, 'f') && raw_size(path) == 4 * PG + 4);
	CHECK(munmap(p, 4 * PG) == 0 && close(fd) == 0);

	const char *fresh = test_path("stdio_fresh");
	CHECK(in_child(write_then_die, fresh) == 128 + SIGKILL);
	CHECK(raw_size(fresh) == 2 * PG && file_byte_is(fresh, 0, 'x'));
	fd = open(fresh, O_RDONLY); /* recovery ran: the journal is gone */
	CHECK(fd >= 0 && close(fd) == 0);

	CHECK(in_child(write_then_exit, path) == 0);
	char got[8] = "";
	CHECK(raw_pread_path(path, got, 7, 0) == 7 && memcmp(got, "at exit", 7) == 0 && file_byte_is(path, PG - 1, 'z'));

	CHECK(in_child(stream_semantics, path) == 0);
	CHECK(in_child(fork_while_flushing, path) == 0);

	/* A wide stream (",ccs=") is the C library's: never on a managed file. */
	fd = open(path, O_RDWR);
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED && fopen(path, "r+,ccs=UTF-8") == NULL && errno == EBUSY);
	CHECK(munmap(p, PG) == 0 && close(fd) == 0);
	/* tmpfile's stream is one of fams's too, on the descriptor the C library would
	 * give it (the lowest free, where /tmp makes unnamed files). */
	int lowest = open("/dev/null", O_RDONLY), probe = (int)syscall(SYS_openat, AT_FDCWD, "/tmp",
								     O_RDWR | O_TMPFILE | O_EXCL, 0600);
	CHECK(lowest >= 0 && close(lowest) == 0);
	if (probe >= 0)
		CHECK(close(probe) == 0);
	FILE *t = tmpfile();
	CHECK(t && (probe < 0 || fileno(t) == lowest));
	CHECK(t && fileno(t) >= 0 && fputs("tmp", t) >= 0 && fflush(t) == 0 && lseek(fileno(t), 0, SEEK_END) == 3);
	CHECK(fclose(t) == 0);

	const char *out = test_path("stdio_stdout");
	CHECK(in_child(stdout_to_file, out) == 0);
	CHECK(in_child(stdout_assigned, out) == 0);
	CHECK(in_child(freopen_managed, path) == 0);

	unlink(path);
	unlink(fresh);
	unlink(out);
	return 0;
}
