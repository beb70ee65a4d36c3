/* fams_status.c -- famsrun --status: every journal found in the directories named
 * (or next to the files named, or in FAMS_JOURNAL_DIR), with its data file, what
 * recovery would do with it, its size and age; a table, or JSON with --json. */
#include "fams_status.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "journal.h"
#include "recover.h"

static const char *const state_names[] = {
	[FAMS_JS_EMPTY] = "empty",
	[FAMS_JS_TORN] = "torn (would be discarded)",
	[FAMS_JS_OTHER_VERSION] = "another format (kept)",
	[FAMS_JS_ORPHAN] = "orphan (its file is gone)",
	[FAMS_JS_FOREIGN] = "names another file (not applied)",
	[FAMS_JS_COMPLETE] = "complete",
	[FAMS_JS_INTERRUPTED] = "interrupted (would roll back)",
	[FAMS_JS_REDO] = "redo log (its commits would be applied again)",
};

/* Print one journal's row (JSON object with json); *first: none printed yet. */
static void row(const char *journal, const char *data, const char *state, const struct stat *st, bool json,
		bool *first)
{
	long long age = (long long)(time(NULL) - st->st_mtime);
	if (json)
		printf("%s\n  {\"journal\": \"%s\", \"file\": \"%s\", \"state\": \"%s\", \"bytes\": %lld, "
		       "\"age_s\": %lld}",
		       *first ? "" : ",", journal, data, state, (long long)st->st_size, age);
	else
		printf("%-52s %-32s %-32s %10lld %7llds\n", journal, data, state, (long long)st->st_size, age);
	*first = false;
}

/* The file in dir that a journal of identity (ino, birth) belongs to, into out
 * (dir/name), open read-only; -1 if none (a file that reuses the inode is another
 * file: another birth). */
static int file_of(const char *dir, unsigned long long ino, unsigned long long birth, char *out, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int fd = -1;
	while (d && fd < 0 && (e = readdir(d))) {
		struct fams_identity id;
		if ((unsigned long long)e->d_ino != ino || e->d_name[0] == '.' ||
		    (size_t)snprintf(out, cap, "%s/%s", dir, e->d_name) >= cap)
			continue;
		int f = open(out, O_RDONLY | O_CLOEXEC);
		if (f >= 0 && fams_identity_of(f, &id) == 0 && id.ino == ino && id.birth == birth)
			fd = f;
		else if (f >= 0)
			close(f);
	}
	if (d)
		closedir(d);
	if (fd < 0)
		out[0] = '\0';
	return fd;
}

/* Examine the journal dir/name and print its row. */
static int one(const char *dir, const char *name, bool json, bool *first)
{
	char journal[PATH_MAX], data[PATH_MAX] = "";
	unsigned long long fsid = 0, ino = 0, birth = 0;
	if ((size_t)snprintf(journal, sizeof journal, "%s/%s", dir, name) >= sizeof journal)
		return 1;
	int jfd = open(journal, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (jfd < 0 || fstat(jfd, &st) < 0) {
		fprintf(stderr, "famsrun: %s: %s\n", journal, strerror(errno));
		return 1;
	}
	int data_fd = -1;
	if (sscanf(name, ".%llu-%llx", &ino, &birth) == 2)
		data_fd = file_of(dir, ino, birth, data, sizeof data);
	else if (sscanf(name, "%llx-%llu-%llx", &fsid, &ino, &birth) == 3)
		snprintf(data, sizeof data, "inode %llu of fs %llx", ino, fsid);
	const char *state;
	struct fams_identity id = { 0 };
	int status;
	if (fams_journal_in_use(jfd))
		state = "in use by a live process";
	else if ((data_fd >= 0 && fams_identity_of(data_fd, &id) < 0) ||
		 fams_journal_examine(jfd, data_fd, &id, &status) < 0)
		state = "unreadable";
	else
		state = state_names[status];
	if (data_fd >= 0)
		close(data_fd);
	close(jfd);
	row(journal, data[0] ? data : "-", state, &st, json, first);
	return 0;
}

/* Every journal in dir. */
static int in_dir(const char *dir, bool json, bool *first)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "famsrun: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	int status = 0;
	size_t suffix = strlen(FAMS_JOURNAL_SUFFIX);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n > suffix && strcmp(e->d_name + n - suffix, FAMS_JOURNAL_SUFFIX) == 0)
			status |= one(dir, e->d_name, json, first);
	}
	closedir(d);
	return status;
}

int fams_status(int argc, char **argv, bool json)
{
	bool first = true;
	int status = 0;
	if (json)
		printf("[");
	else
		printf("%-52s %-32s %-32s %10s %8s\n", "JOURNAL", "FILE", "STATE", "BYTES", "AGE");
	if (argc == 0)
		status |= in_dir(fams_cfg.journal_dir[0] ? fams_cfg.journal_dir : ".", json, &first);
	for (int i = 0; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			status |= in_dir(argv[i], json, &first);
			continue;
		}
		struct fams_identity id;
		char dir[PATH_MAX], name[NAME_MAX + 1];
		if (fams_identity_at(AT_FDCWD, argv[i], &id) < 0 ||
		    fams_journal_locate(argv[i], &id, dir, sizeof dir, name, sizeof name) < 0) {
			fprintf(stderr, "famsrun: %s: %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		char full[PATH_MAX + NAME_MAX + 2];
		snprintf(full, sizeof full, "%s/%s", dir, name);
		if (access(full, F_OK) == 0)
			status |= one(dir, name, json, &first);
		else if (!json)
			printf("%-52s %-32s %-32s\n", "-", argv[i], "no journal (nothing to recover)");
	}
	if (json)
		printf("%s]\n", first ? "" : "\n");
	return status;
}
