/* A journal written by another version of fams (a valid header in another format)
 * is neither applied nor discarded as torn: recovery fails with EUCLEAN and a
 * fams: line, the journal is kept, and the data file stays as it is -- here a
 * half-applied commit, which only the right version can roll back. */
#include "engine_harness.h"
#include "jformat.h"
#include "log.h"
#include "recover.h"

int main(void)
{
	static char path_main[4096];
	const char *dir = getenv("FAMS_TEST_DIR");
	snprintf(path_main, sizeof path_main, "%s/journal_version.%d", dir ? dir : ".", (int)getpid());
	path = path_main;
	fams_log_level = FAMS_LOG_ERROR;

	struct image base = base_image(8 * PG);
	write_image(&base);
	struct fams_file *f = open_managed();
	if (!f)
		FAIL("open_managed");
	put(f, 0, "NEW");
	put(f, 5 * PG, "NEW");
	if (fams_file_commit(f, 0, UINT64_MAX) < 0)
		FAIL("commit");
	/* A crash between the data writes: page 0 new, page 5 old again. */
	int fd = open(path, O_RDWR);
	if (fd < 0 || pwrite(fd, base.bytes + 5 * PG, PG, 5 * PG) != PG)
		FAIL("set-up");
	close(fd);
	fams_file_close(f, 0);
	struct image torn = read_image();

	/* Relabel the journal as format 1, its header hash made right again. */
	char jp[4200];
	journal_path(jp, sizeof jp);
	int jfd = open(jp, O_RDWR);
	struct fams_jheader h;
	if (jfd < 0 || pread(jfd, &h, sizeof h, 0) != sizeof h)
		FAIL("read journal %s", jp);
	h.version = 1;
	h.header_hash = fams_jheader_hash(&h);
	if (pwrite(jfd, &h, sizeof h, 0) != sizeof h)
		FAIL("write journal");
	close(jfd);

	int outcome;
	errno = 0;
	int r = fams_recover_path(AT_FDCWD, path, &outcome);
	if (r != -1 || errno != EUCLEAN)
		FAIL("recovery returned %d, errno %d (%s): expected EUCLEAN", r, errno, strerror(errno));
	if (access(jp, F_OK) != 0)
		FAIL("the journal was removed");
	struct image now = read_image();
	if (!same(&now, &torn))
		FAIL("the data file was changed");
	unlink(jp);
	unlink(path);
	printf("a journal of another format version is refused and kept\n");
	return 0;
}
