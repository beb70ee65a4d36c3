/* Members leaving at the same moment: one of them is the last and removes the
 * journal -- unless a repair after a dead committer is still to be made (it
 * failed): then the journal stays for it, or for recovery, to read.  Each member holds a read lock on its own description of the journal; a
 * leaver is the last when its lock becomes the write lock.  Two leaving together
 * used to fail that upgrade each while the other still held its read lock, and both
 * left the journal behind, with whatever it held.  Two descriptions in one process
 * conflict as two processes do (open file description locks). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine_harness.h"
#include "journal.h"
#include "log.h"
#include "recover.h"

/* A member's journal of the data file open as fd at data_path. */
static void open_member(struct fams_journal *j, const char *data_path, int fd, bool want_alone)
{
	struct stat st;
	struct fams_identity id;
	bool created, alone;
	if (fstat(fd, &st) < 0 || fams_identity_of(fd, &id) < 0)
		FAIL("identity: %s", strerror(errno));
	memset(j, 0, sizeof *j);
	if (fams_journal_open_member(j, data_path, &st, &id, &created, &alone) < 0)
		FAIL("open the journal: %s", strerror(errno));
	if (alone != want_alone)
		FAIL("the %s member %s alone", want_alone ? "first" : "second", alone ? "was" : "was not");
	if (alone && fams_journal_share(j) < 0)
		FAIL("share: %s", strerror(errno));
}

static int dying_fd = -1;

/* The committer's writes of the data file: it is killed after the first page. */
static ssize_t dying_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (fd == dying_fd && n > PG) {
		fams_sys_default.os_pwrite(fd, buf, PG, off);
		_exit(0);
	}
	return fams_sys_default.os_pwrite(fd, buf, n, off);
}

static ssize_t eio_pread(int fd, void *buf, size_t n, off_t off)
{
	(void)fd, (void)buf, (void)n, (void)off;
	errno = EIO;
	return -1;
}

int main(void)
{
	static char data_path[4096];
	const char *dir = getenv("FAMS_TEST_DIR");
	snprintf(data_path, sizeof data_path, "%s/last_leave.%d", dir ? dir : ".", (int)getpid());
	int fd = open(data_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		FAIL("%s: %s", data_path, strerror(errno));

	struct fams_journal a, b;
	open_member(&a, data_path, fd, true);
	open_member(&b, data_path, fd, false);
	/* Both leave: a first, while b still holds its read lock, then b. */
	bool a_last = fams_journal_last(&a), b_last = fams_journal_last(&b);
	if (a_last)
		FAIL("a took itself for the last while b still used the file");
	if (!b_last)
		FAIL("of two members leaving together, neither was the last: the journal stays behind");
	fams_journal_release(&a, 0);
	fams_journal_release(&b, 1);
	char jp[4200];
	struct fams_identity id;
	if (fams_identity_of(fd, &id) < 0 || fams_journal_path(data_path, &id, jp, sizeof jp) < 0)
		FAIL("journal path");
	if (access(jp, F_OK) == 0)
		FAIL("the last member left the journal %s", jp);

	/* A member that stays keeps the leaver from being the last. */
	open_member(&a, data_path, fd, true);
	open_member(&b, data_path, fd, false);
	if (fams_journal_last(&a))
		FAIL("a took itself for the last while b stays");
	fams_journal_release(&a, 0);
	if (!fams_journal_last(&b))
		FAIL("b, alone now, is not the last");
	fams_journal_release(&b, 1);
	close(fd);

	/* A committer dies half-way through writing the data file; the last process
	 * leaves, and its leave's commit lock is the one that finds the death: the
	 * repair it makes fails (recovery cannot read the journal), and the journal
	 * stays for the next open to apply (found by review: the leave used to decide
	 * before taking that lock). */
	path = data_path;
	struct image base = base_image(4 * PG);
	write_image(&base);
	free(base.bytes);
	struct fams_file *f = open_managed();
	if (!f)
		FAIL("open_managed");
	put_page(f, 1, 'A');
	if (fams_file_commit(f, 0, UINT64_MAX) < 0)
		FAIL("commit: %s", strerror(errno));
	put_page(f, 2, 'X');
	put_page(f, 3, 'Y');
	pid_t committer = fork();
	if (committer == 0) {
		dying_fd = f->data_fd;
		fams_sys.os_pwrite = dying_pwrite;
		fams_file_commit(f, 0, UINT64_MAX);
		_exit(3);
	}
	int status;
	if (waitpid(committer, &status, 0) != committer || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("the committer did not die writing the data file");
	fams_sys.os_pread = eio_pread;
	int level = fams_log_level;
	fams_log_level = FAMS_LOG_ERROR - 1; /* the failed repair is the point */
	fams_file_close(f, 1);
	fams_log_level = level;
	fams_sys_reset();
	journal_path(jp, sizeof jp);
	if (access(jp, F_OK) != 0)
		FAIL("the last process removed the journal while a repair was pending");
	int outcome;
	if (fams_recover_path(AT_FDCWD, data_path, &outcome) < 0)
		FAIL("recovery: %s", strerror(errno));
	struct image now = read_image();
	if (now.bytes[PG] != 'A' || now.bytes[2 * PG] != 'X' || now.bytes[3 * PG] != 'Y')
		FAIL("after recovery the file is torn: pages %c %c %c", now.bytes[PG], now.bytes[2 * PG], now.bytes[3 * PG]);
	free(now.bytes);
	remove_journal();
	unlink(data_path);
	puts("of members leaving together, one is the last");
	return 0;
}
