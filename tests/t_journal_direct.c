/* A large commit writes its undo journal's body with O_DIRECT (no page-cache copy
 * to write back at the flush); a small one writes it buffered, with the header.  A
 * redo record, one aligned run, is written direct whatever its size, where the
 * journal's blocks were written before (not in a journal just made).  A header is
 * never written direct, and the direct writes go through a description of their
 * own, never through the one other writes share.  Where the file system refuses a direct write (EINVAL), the
 * commit goes on buffered and later commits do not try again: the data file and
 * the journal are what they would have been. */
#include "config.h"
#include "engine_harness.h"
#include "jformat.h"
#include "log.h"
#include "recover.h"

static int direct_writes, buffered_writes, refuse_direct;

/* os_pwrite that counts the journal's writes by mode, and fails direct ones with
 * EINVAL when asked, as a file system without direct I/O would. */
static ssize_t counting_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_DIRECT)) {
		direct_writes++;
		if (off < FAMS_JOURNAL_BODY_OFFSET)
			FAIL("a write below the body (offset %lld) in O_DIRECT mode", (long long)off);
		if (refuse_direct) {
			errno = EINVAL;
			return -1;
		}
	} else {
		buffered_writes++;
	}
	return fams_sys_default.os_pwrite(fd, buf, n, off);
}

/* Commit `pages` whole pages of f, filled with c (no letter: base_image's pages are
 * letters); the data file must then hold them. */
static void commit_pages(struct fams_file *f, int pages, char c)
{
	direct_writes = buffered_writes = 0;
	for (int i = 0; i < pages; i++)
		put_page(f, (uint64_t)i, c);
	if (fams_file_commit(f, 0, UINT64_MAX) < 0)
		FAIL("commit of %d pages: %s", pages, strerror(errno));
	struct image now = read_image();
	for (int i = 0; i < pages * PG; i++)
		if (now.bytes[i] != c)
			FAIL("after a commit of %d pages, byte %d is not '%c'", pages, i, c);
	free(now.bytes);
}

/* The journal left by the last commit checks, and names `pages` extents. */
static void journal_checks(int pages)
{
	char jp[4200];
	journal_path(jp, sizeof jp);
	int jfd = open(jp, O_RDONLY);
	struct fams_jheader h;
	struct fams_jextent *ext = NULL;
	char *buf = malloc(FAMS_IO_CHUNK);
	if (jfd < 0 || fams_jread(jfd, &h, &ext, buf) != FAMS_J_VALID)
		FAIL("the journal of the last commit does not check");
	if (h.nextents != 1 || ext[0].len != (uint64_t)pages * PG)
		FAIL("the journal names %llu extents (the first %llu bytes), not one of %d pages", (unsigned long long)h.nextents, (unsigned long long)ext[0].len, pages);
	free(ext);
	free(buf);
	close(jfd);
}

int main(void)
{
	use_test_file("journal_direct");
	const char *dir = getenv("FAMS_TEST_DIR");
	fams_log_level = FAMS_LOG_ERROR;
	fams_cfg.commit_log = FAMS_COMMIT_UNDO; /* undo journals are what this is about */
	fams_sys.os_pwrite = counting_pwrite;

	int probe = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY);
	int tfd = openat(probe, ".", O_TMPFILE | O_RDWR | O_DIRECT, 0600);
	if (tfd < 0) {
		printf("skip: %s has no direct I/O\n", dir ? dir : ".");
		return 77;
	}
	close(tfd);
	close(probe);

	const int big = (int)(fams_journal_direct_min / PG) + 8; /* a body past the threshold */
	struct image base = base_image((size_t)(big + 8) * PG);
	write_image(&base);
	struct fams_file *f = open_managed();
	if (!f)
		FAIL("open_managed");

	commit_pages(f, 2, '#');
	if (direct_writes)
		FAIL("a commit of 2 pages wrote %d pieces of its journal direct", direct_writes);
	journal_checks(2);

	commit_pages(f, big, '%');
	if (!direct_writes)
		FAIL("a commit of %d pages wrote no piece of its journal direct", big);
	journal_checks(big);

	/* The direct writes go through a description of their own: the one every
	 * other write uses (any thread's, a forked child's) is never switched. */
	if (fcntl(f->j.fd, F_GETFL) & O_DIRECT)
		FAIL("the journal's shared description was left in O_DIRECT mode");

	/* A file system that refuses the direct writes: buffered, then and after. */
	refuse_direct = 1;
	commit_pages(f, big, '&');
	if (direct_writes != 1)
		FAIL("after a refused direct write, %d more were tried", direct_writes - 1);
	journal_checks(big);
	commit_pages(f, big, '*');
	if (direct_writes)
		FAIL("a commit after the refusal tried %d direct writes", direct_writes);
	journal_checks(big);

	fams_file_close(f, 1);

	/* Redo records: direct over journal blocks written before, one write each, the
	 * epoch's header buffered; after a refusal, buffered. */
	fams_cfg.commit_log = FAMS_COMMIT_REDO;
	refuse_direct = 0;
	if (!(f = open_managed()))
		FAIL("open_managed");
	commit_pages(f, big, '-'); /* undo (the data file is not known durable), over the journal's first MiB */
	for (int i = 0; i < 3; i++) {
		commit_pages(f, 2, (char)('a' + i));
		if (direct_writes != 1 || f->j.st->live != FAMS_JLIVE_REDO)
			FAIL("redo commit %d wrote %d pieces direct (live %d), not its record in one", i,
			     direct_writes, (int)f->j.st->live);
	}
	refuse_direct = 1;
	commit_pages(f, 2, 'x');
	commit_pages(f, big, 'y');
	if (direct_writes || f->j.st->live != FAMS_JLIVE_REDO)
		FAIL("a redo commit after a refusal tried %d direct writes", direct_writes);
	fams_file_close(f, 1);

	/* A file made empty and sized: its first commit begins a log in a journal just
	 * made, whose blocks were never written -- buffered, not direct (the file
	 * system would convert them as the direct write completes). */
	refuse_direct = 0;
	if (truncate(path, 0) < 0 || truncate(path, 4 * PG) < 0 || !(f = open_managed()))
		FAIL("a file made empty");
	commit_pages(f, 2, 'n');
	if (direct_writes || f->j.st->live != FAMS_JLIVE_REDO)
		FAIL("the first record of a journal just made wrote %d pieces direct (live %d)", direct_writes,
		     (int)f->j.st->live);
	fams_file_close(f, 1);
	unlink(path);
	printf("journal body: direct for %d pages, buffered for 2, buffered after a refusal; redo records direct "
	       "over written blocks, buffered in a journal just made\n", big);
	return 0;
}
