/* A journal names its file by inode number and birth time, and the kernel stamps
 * births with its coarse clock: a file deleted and made again within one tick has
 * the old one's inode number and birth, and so the old journal's name.  The header
 * records the inode's generation too (fams_jheader_birth), and recovery must tell:
 *   - a header of another generation (the journal of the deleted file) is never
 *     applied: outcome REUSED, the data file untouched, the journal removed;
 *   - a header of this file's generation, or one written before the generation
 *     (birth alone), is applied as ever (here: a torn commit rolled back);
 *   - a file whose generation cannot be had (0) is matched by birth alone.
 * With --broken=identity-no-gen (headers matched without the generation), the
 * first case applies the stale journal: caught. */
#include "config.h"
#include "engine_harness.h"
#include "jformat.h"
#include "log.h"
#include "recover.h"

/* Rewrite the journal header's birth field as written for identity id. */
static void relabel(const struct fams_identity *id)
{
	struct fams_jheader h;
	read_journal_header(&h);
	h.birth = fams_jheader_birth(id);
	write_journal_header(&h);
}

/* Recover the file at path: its outcome; the journal must be gone after. */
static int recover(void)
{
	char jp[4200];
	journal_path(jp, sizeof jp);
	int outcome;
	if (fams_recover_path(AT_FDCWD, path, &outcome) < 0)
		FAIL("recovery failed: %s", strerror(errno));
	if (access(jp, F_OK) == 0)
		FAIL("the journal is left after recovery (%s)", fams_recovery_name(outcome));
	return outcome;
}

int main(int argc, char **argv)
{
	parse_broken(argc, argv);
	use_test_file("journal_identity");
	fams_log_level = FAMS_LOG_ERROR;
	fams_cfg.commit_log = FAMS_COMMIT_UNDO; /* a torn commit to roll back */

	/* The rule itself, on identities made up. */
	const struct fams_identity a = { 7, 42, 1764420000123456789ull, 0x1234 };
	struct fams_identity other_gen = a, no_gen = a, other_birth = a;
	other_gen.gen = 0x1235;
	no_gen.gen = 0;
	other_birth.birth++;
	struct fams_jheader h = { .fsid = a.fsid, .ino = a.ino, .birth = fams_jheader_birth(&a) };
	struct fams_jheader legacy = { .fsid = a.fsid, .ino = a.ino, .birth = a.birth };
	if (fams_jheader_names(&h, &a) != FAMS_JID_SAME || fams_jheader_names(&legacy, &a) != FAMS_JID_SAME ||
	    fams_jheader_names(&h, &no_gen) != FAMS_JID_SAME || fams_jheader_names(&h, &other_birth) != FAMS_JID_OTHER)
		FAIL("a header is not matched as its rule says");
	/* (A broken engine is to be caught below, where it would apply a journal.) */
	if (!broken_name && fams_jheader_names(&h, &other_gen) != FAMS_JID_REUSED)
		FAIL("a header of generation %#llx is taken for generation %#llx's file",
		     (unsigned long long)a.gen, (unsigned long long)other_gen.gen);

	struct image base = base_image(8 * PG);
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	struct fams_identity id;
	if (fd < 0 || fams_identity_of(fd, &id) < 0)
		FAIL("identity of %s", path);
	close(fd);
	if (id.gen == 0) {
		unlink(path);
		printf("skip: this file system gives no generation number\n");
		return 77;
	}

	/* The journal of a deleted file of another generation: never applied. */
	struct image torn = torn_undo_commit(&base);
	struct fams_identity deleted = id;
	deleted.gen = id.gen ^ 1;
	relabel(&deleted);
	int outcome = recover();
	struct image now = read_image();
	if (!same(&now, &torn))
		VIOLATION("a journal written for generation %#llx was applied to generation %#llx's file (%s)",
			  (unsigned long long)deleted.gen, (unsigned long long)id.gen, fams_recovery_name(outcome));
	if (outcome != FAMS_REC_REUSED)
		FAIL("the journal of a deleted file: %s", fams_recovery_name(outcome));

	/* This file's own journal, and one written before the generation: rolled back. */
	for (int legacy_header = 0; legacy_header < 2; legacy_header++) {
		torn_undo_commit(&base);
		if (legacy_header) {
			struct fams_identity old = id;
			old.gen = 0; /* the birth alone, as a fams before the generation wrote it */
			relabel(&old);
		}
		outcome = recover();
		now = read_image();
		if (outcome != FAMS_REC_ROLLED_BACK || !same(&now, &base))
			FAIL("%s journal was not rolled back: %s", legacy_header ? "a birth-only" : "the file's own",
			     fams_recovery_name(outcome));
	}
	if (broken_name)
		return broken_not_caught();
	unlink(path);
	printf("a journal of another generation is never applied; the file's own, and a birth-only one, are\n");
	return 0;
}
