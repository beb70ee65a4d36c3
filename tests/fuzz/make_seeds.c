/* make_seeds DIR -- a seed corpus for fuzz_recover: real journals written by the
 * engine for the fuzz target's data image (16 pages, each its own letter), each
 * prefixed with the flags byte that makes it apply to the fuzz target's file. */
#include "config.h"
#include "engine_harness.h"
#include "journal.h"
#include "log.h"
#include "redolog.h"
#include <xxhash.h>

static int nseeds;

/* Save the journal of the file at path as a seed; as_v2: its header rewritten in
 * format 2 (for commits that changed no size, the body is the same). */
static void save_journal(const char *dir, uint8_t flags, int as_v2)
{
	char jp[4200], out[4400];
	journal_path(jp, sizeof jp);
	int fd = open(jp, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		FAIL("no journal at %s", jp);
	/* Only the live part: header block, table and old bytes (a redo log: all). */
	struct fams_jheader h;
	if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
		FAIL("journal header");
	size_t n = fams_redo_version(h.version) ? (size_t)st.st_size
							  : FAMS_JOURNAL_BODY_OFFSET + (size_t)h.body_len;
	uint8_t *buf = malloc(n + 1);
	buf[0] = flags;
	if (pread(fd, buf + 1, n, 0) != (ssize_t)n)
		FAIL("journal body");
	close(fd);
	if (as_v2) {
		struct fams_jheader_v2 v = { .version = 2, .page_size = h.page_size, .seq = h.seq, .fsid = h.fsid,
					     .ino = h.ino, .birth = h.birth, .data_size = h.old_size,
					     .nextents = h.nextents, .body_len = h.body_len, .body_hash = h.body_hash };
		memcpy(v.magic, FAMS_JOURNAL_MAGIC, 8);
		v.header_hash = XXH3_64bits(&v, sizeof v);
		memset(buf + 1, 0, sizeof h);
		memcpy(buf + 1, &v, sizeof v);
	}
	snprintf(out, sizeof out, "%s/seed-%02d", dir, nseeds++);
	int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (o < 0 || write(o, buf, n + 1) != (ssize_t)(n + 1))
		FAIL("write %s", out);
	close(o);
	free(buf);
}

static const char *const edits[][4] = {
	{ "one", NULL },
	{ "a", "b", "c", NULL },
	{ "end", NULL },
	{ "grown", "and old", NULL },
	{ "shrunk", NULL },
};
#define NEDITS (sizeof edits / sizeof edits[0])
/* The size each commit gives the file (0: unchanged): a growth, a shrink. */
static const uint64_t sizes[] = { 0, 0, 0, 21 * PG + 9, 9 * PG + 50 };

/* The fuzz target's data image (16 pages, each its own letter), managed afresh. */
static struct fams_file *open_fresh(void)
{
	remove_journal();
	struct image im = base_image(16 * PG);
	write_image(&im);
	free(im.bytes);
	struct fams_file *f = open_managed();
	if (!f)
		FAIL("open");
	return f;
}

/* Make edit e and commit it; in_one_log: at offsets that keep every edit inside
 * the sizes all of them give the file (the edits follow one another). */
static void commit_edit(struct fams_file *f, size_t e, bool in_one_log)
{
	if (sizes[e] && harness_resize(f, sizes[e]) < 0)
		FAIL("resize");
	for (int i = 0; edits[e][i]; i++) {
		uint64_t at = (uint64_t)(i * 5 + 1) * PG + 7;
		if (in_one_log)
			at += e;
		else if (e == 2)
			at = 16 * PG - 3;
		else if (e == 3 && i == 0)
			at = 18 * PG;
		put(f, at, edits[e][i]);
	}
	if (fams_file_commit(f, 0, UINT64_MAX) < 0)
		FAIL("commit");
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	static char p[4096];
	snprintf(p, sizeof p, "%s/seed-data.%d", argv[1], (int)getpid());
	path = p;
	fams_log_level = FAMS_LOG_ERROR;
	fams_cfg.journal_size = 64 * 1024;
	fams_cfg.commit_log = FAMS_COMMIT_UNDO;
	for (size_t e = 0; e < NEDITS; e++) {
		struct fams_file *f = open_fresh();
		commit_edit(f, e, false);
		fams_file_close(f, 0);
		save_journal(argv[1], 0x03, 0); /* hashes fixed, identity made the target's */
		save_journal(argv[1], 0x07, 0); /* the same, rolled back */
		save_journal(argv[1], 0x43, 0); /* a header of the target's generation */
		save_journal(argv[1], 0x83, 0); /* ... of another (a deleted file's): never applied */
		if (!sizes[e])
			save_journal(argv[1], 0x03, 1); /* as the previous fams wrote it */
	}
	/* Redo logs: every edit a commit of its own, into one log (after the first,
	 * an undo commit: the file is not known durable before it). */
	fams_cfg.commit_log = FAMS_COMMIT_REDO;
	struct fams_file *f = open_fresh();
	for (size_t e = 0; e < NEDITS; e++)
		commit_edit(f, e, true);
	fams_file_close(f, 0);
	save_journal(argv[1], 0x03, 0);
	/* The same into a log from an empty file (commit.c, R0): the file just made and
	 * sized, all holes; its replay cuts the target's file to nothing first. */
	remove_journal();
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 16 * PG) < 0)
		FAIL("a new file");
	close(fd);
	if (!(f = open_managed()))
		FAIL("open");
	for (size_t e = 0; e < NEDITS; e++)
		commit_edit(f, e, true);
	fams_file_close(f, 0);
	save_journal(argv[1], 0x03, 0);
	remove_journal();
	unlink(path);
	printf("%d seeds in %s\n", nseeds, argv[1]);
	return 0;
}
