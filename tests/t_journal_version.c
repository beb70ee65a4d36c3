/* A journal written by another version of fams (a valid header in a format this
 * one does not read) is neither applied nor discarded as torn: recovery fails with
 * EUCLEAN and a fams: line, the journal is kept, and the data file stays as it is
 * -- here a half-applied commit, which only the right version can roll back.  A
 * journal of format 2 (the fams before this one) is read and rolled back. */
#include "config.h"
#include "engine_harness.h"
#include "jformat.h"
#include "log.h"
#include "recover.h"
#include <xxhash.h>

int main(void)
{
	use_test_file("journal_version");
	fams_log_level = FAMS_LOG_ERROR;
	fams_cfg.commit_log = FAMS_COMMIT_UNDO; /* undo journals are what this is about */

	struct image base = base_image(8 * PG);
	struct image torn = torn_undo_commit(&base);

	/* Relabel the journal as format 1, its header hash made right again. */
	char jp[4200];
	journal_path(jp, sizeof jp);
	struct fams_jheader h;
	read_journal_header(&h);
	h.version = 1;
	write_journal_header(&h);

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
	/* The same journal as format 2 writes it: rolled back to the state before. */
	struct fams_jheader_v2 v = { .version = 2, .page_size = h.page_size, .seq = h.seq, .fsid = h.fsid,
				     .ino = h.ino, .birth = h.birth, .data_size = h.old_size,
				     .nextents = h.nextents, .body_len = h.body_len, .body_hash = h.body_hash };
	memcpy(v.magic, FAMS_JOURNAL_MAGIC, 8);
	v.header_hash = XXH3_64bits(&v, sizeof v);
	int jfd = open(jp, O_RDWR);
	char zero[sizeof h] = { 0 };
	if (jfd < 0 || pwrite(jfd, zero, sizeof zero, 0) != sizeof zero || pwrite(jfd, &v, sizeof v, 0) != sizeof v)
		FAIL("write format 2 journal");
	close(jfd);
	if (fams_recover_path(AT_FDCWD, path, &outcome) < 0 || outcome != FAMS_REC_ROLLED_BACK)
		FAIL("a format 2 journal was not rolled back: %s (%s)", strerror(errno), fams_recovery_name(outcome));
	now = read_image();
	if (!same(&now, &base))
		FAIL("after a format 2 journal's rollback the file is not the state before its commit");
	unlink(jp);
	unlink(path);
	printf("a journal of another format version is refused and kept; one of format 2 is rolled back\n");
	return 0;
}
