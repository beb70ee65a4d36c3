/* engine_harness.h -- shared by the engine tests that drive a commit directly
 * (no interposition): file images, the file under test, a managed handle on it. */
#ifndef FAMS_ENGINE_HARNESS_H
#define FAMS_ENGINE_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit.h"
#include "file.h"
#include "redolog.h"
#include "sys.h"
#include "tracker.h"

#define PG 4096
#define FAIL(...)                                                                              \
	do {                                                                                   \
		fprintf(stderr, __VA_ARGS__);                                                  \
		fprintf(stderr, "\n");                                                         \
		exit(1);                                                                       \
	} while (0)

/* Which way commits find their pages, from FAMS_TRACKER (ctest runs the explorers
 * both ways): "compare" compares every page with the file; "uffd" or "uffd-sync"
 * trust the dirty bits alone, as those trackers' commits do -- which also shows a
 * lost bit that comparing would hide.  Without it, the explorer's own default. */
static inline void harness_tracker(int fallback)
{
	const char *t = getenv("FAMS_TRACKER");
	fams_tracker_kind = !t || !*t ? fallback : strcmp(t, "compare") == 0 ? FAMS_TRACKER_COMPARE : FAMS_TRACKER_UFFD;
}

/* The file the helpers act on. */
static char *path;

/* The broken engine a run was asked to prove it catches (see fams_test_break), or
 * none.  A violation then ends the run with success: the explorer caught it. */
static const char *broken_name;

#define VIOLATION(...)                                                                         \
	do {                                                                                   \
		if (broken_name) {                                                             \
			fprintf(stdout, "broken engine (%s) caught: ", broken_name);           \
			fprintf(stdout, __VA_ARGS__);                                          \
			fprintf(stdout, "\n");                                                 \
			exit(0);                                                               \
		}                                                                              \
		FAIL(__VA_ARGS__);                                                             \
	} while (0)

/* --broken=NAME: run with that ordering rule broken (tests only). */
static inline void parse_broken(int argc, char **argv)
{
	static const struct {
		const char *name;
		int value;
	} modes[] = {
		{ "data-first", FAMS_BREAK_DATA_FIRST },
		{ "no-journal-flush", FAMS_BREAK_NO_JOURNAL_FLUSH },
		{ "no-data-flush", FAMS_BREAK_NO_DATA_FLUSH },
		{ "no-repair", FAMS_BREAK_NO_REPAIR },
		{ "clear-early", FAMS_BREAK_CLEAR_EARLY },
		{ "grow-late", FAMS_BREAK_GROW_LATE },
		{ "size-alone-any", FAMS_BREAK_SIZE_ALONE_ANY },
		{ "regrow-stale", FAMS_BREAK_REGROW_STALE },
		{ "name-unsynced", FAMS_BREAK_NAME_UNSYNCED },
		{ "redo-unflushed", FAMS_BREAK_REDO_UNFLUSHED },
		{ "redo-unretired", FAMS_BREAK_REDO_UNRETIRED },
		{ "redo-dropped", FAMS_BREAK_REDO_DROPPED },
		{ "redo-epoch-reused", FAMS_BREAK_REDO_EPOCH_REUSED },
		{ "data-undurable", FAMS_BREAK_DATA_UNDURABLE },
		{ "empty-uncut", FAMS_BREAK_EMPTY_UNCUT },
		{ "empty-over-data", FAMS_BREAK_EMPTY_OVER_DATA },
		{ "empty-cut-always", FAMS_BREAK_EMPTY_CUT_ALWAYS },
		{ "exec-unsettled", FAMS_BREAK_EXEC_UNSETTLED },
		{ "identity-no-gen", FAMS_BREAK_IDENTITY_NO_GEN },
	};
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--broken=", 9) != 0)
			continue;
		for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
			if (strcmp(argv[i] + 9, modes[m].name) == 0) {
				broken_name = modes[m].name;
				fams_test_break = (enum fams_break)modes[m].value;
			}
		if (!broken_name)
			FAIL("unknown %s", argv[i]);
	}
}

/* At the end of a broken run: nothing was caught, which is a failure. */
static inline int broken_not_caught(void)
{
	fprintf(stderr, "broken engine (%s) NOT caught\n", broken_name);
	return 1;
}

struct image {
	char *bytes;
	size_t size;
};

static inline struct image read_image(void)
{
	struct image im;
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		FAIL("cannot read %s", path);
	im.size = (size_t)st.st_size;
	im.bytes = malloc(im.size + 1);
	if (pread(fd, im.bytes, im.size, 0) != (ssize_t)im.size)
		FAIL("short read");
	close(fd);
	return im;
}

static inline void write_image(const struct image *im)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || pwrite(fd, im->bytes, im->size, 0) != (ssize_t)im->size)
		FAIL("cannot write %s", path);
	close(fd);
}

static inline int same(const struct image *a, const struct image *b)
{
	return a->size == b->size && memcmp(a->bytes, b->bytes, a->size) == 0;
}

/* The journal of the file now at path (named after its identity); "" if none. */
static inline void journal_path(char *out, size_t cap)
{
	struct fams_identity id;
	char dir[4096], name[256];
	out[0] = '\0';
	if (fams_identity_at(AT_FDCWD, path, &id) == 0 &&
	    fams_journal_locate(path, &id, dir, sizeof dir, name, sizeof name) == 0 &&
	    (size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap)
		out[0] = '\0';
}

/* The header of the journal of the file at path, read; and written back, its hash
 * made right again. */
static inline void read_journal_header(struct fams_jheader *h)
{
	char jp[4200];
	journal_path(jp, sizeof jp);
	int jfd = open(jp, O_RDONLY);
	if (jfd < 0 || pread(jfd, h, sizeof *h, 0) != sizeof *h)
		FAIL("read journal %s", jp);
	close(jfd);
}
static inline void write_journal_header(struct fams_jheader *h)
{
	char jp[4200];
	journal_path(jp, sizeof jp);
	h->header_hash = fams_jheader_hash(h);
	int jfd = open(jp, O_WRONLY);
	if (jfd < 0 || pwrite(jfd, h, sizeof *h, 0) != sizeof *h)
		FAIL("write journal %s", jp);
	close(jfd);
}

static inline void remove_journal(void)
{
	char j[4200];
	journal_path(j, sizeof j);
	if (j[0])
		unlink(j);
}

/* A file of `size` bytes, each page filled with its own letter. */
static inline struct image base_image(size_t size)
{
	struct image im = { malloc(size + 1), size };
	for (size_t i = 0; i < size; i++)
		im.bytes[i] = (char)('a' + (i / PG) % 26);
	return im;
}

/* Write s at off of the working copy, as a program's store would. */
static inline void put(struct fams_file *f, uint64_t off, const char *s)
{
	size_t n = strlen(s);
	if (pwrite(f->memfd, s, n, (off_t)off) != (ssize_t)n)
		FAIL("memfd write");
	if (fams_commit_lock(f) < 0)
		FAIL("commit lock");
	bits_mark_bytes(f->dirty, off, n);
	fams_commit_unlock(f);
}

/* Fill page `page` of the working copy with byte c: a change the size of a page
 * (the journal holds only what changed). */
static inline void put_page(struct fams_file *f, uint64_t page, char c)
{
	static char bytes[PG + 1];
	memset(bytes, c, PG);
	put(f, page * PG, bytes);
}

/* Resize f as ftruncate would (the commit lock held). */
static inline int harness_resize(struct fams_file *f, uint64_t size)
{
	if (fams_commit_lock(f) < 0)
		return -1;
	int r = fams_file_resize(f, size);
	fams_commit_unlock(f);
	return r;
}

/* For explorers of process crashes only: the bytes the test wrote before the file
 * was managed count as durable (a process crash keeps the page cache), so a redo
 * log may begin at the first commit (commit.c, redo_fits) instead of after an undo
 * commit.  Never for t_power_loss, whose disk is the test's. */
static inline void harness_data_durable(struct fams_file *f)
{
	if (f)
		f->sh->data_durable = true;
}

/* Whether f's journal holds a log from an empty file (commit.c, R0) -- what the
 * first commit of a new file begins under the redo log. */
static inline int journal_from_empty(const struct fams_file *f)
{
	struct fams_jheader h;
	return pread(f->j.fd, &h, sizeof h, 0) == (ssize_t)sizeof h && h.version == FAMS_JOURNAL_REDO_EMPTY_VERSION;
}

/* The file the helpers act on: NAME.PID in $FAMS_TEST_DIR (or here). */
static inline void use_test_file(const char *name)
{
	static char file[4096];
	const char *dir = getenv("FAMS_TEST_DIR");
	snprintf(file, sizeof file, "%s/%s.%d", dir ? dir : ".", name, (int)getpid());
	path = file;
}

static inline struct fams_file *open_managed(void)
{
	int fd = open(path, O_RDWR);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		FAIL("open %s", path);
	struct fams_file *f = fams_file_open(fd, &st, path);
	close(fd);
	return f;
}

/* The file at path written as base, then an undo commit of it cut short as a crash
 * between its data writes leaves it: page 0 new, page 5 old again.  Returns that
 * torn image; the commit's journal is left.  (fams_cfg.commit_log must be undo.) */
static inline struct image torn_undo_commit(const struct image *base)
{
	write_image(base);
	struct fams_file *f = open_managed();
	if (!f)
		FAIL("open_managed");
	put(f, 0, "NEW");
	put(f, 5 * PG, "NEW");
	if (fams_file_commit(f, 0, UINT64_MAX) < 0)
		FAIL("commit");
	int fd = open(path, O_RDWR);
	if (fd < 0 || pwrite(fd, base->bytes + 5 * PG, PG, 5 * PG) != PG)
		FAIL("set-up");
	close(fd);
	fams_file_close(f, 0);
	return read_image();
}

#endif
