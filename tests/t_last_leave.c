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
#include <unistd.h>

#include "engine_harness.h"
#include "journal.h"
#include "log.h"

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

	/* The last process leaves while the repair after a dead committer is pending
	 * (recovery cannot read the journal): the journal stays. */
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
	f->sh->needs_repair = true; /* as the lock's next holder finds it after a death */
	fams_sys.os_pread = eio_pread;
	int level = fams_log_level;
	fams_log_level = FAMS_LOG_ERROR - 1; /* the failed repair is the point */
	fams_file_close(f, 1);
	fams_log_level = level;
	fams_sys_reset();
	journal_path(jp, sizeof jp);
	if (access(jp, F_OK) != 0)
		FAIL("the last process removed the journal while a repair was pending");
	remove_journal();
	unlink(data_path);
	puts("of members leaving together, one is the last");
	return 0;
}
