/* fams-recover -- bring files to their last committed state (famsrun --recover),
 * name the journal that belongs to each file (famsrun --journal-of), or list the
 * journals found and what recovery would do with each (famsrun --status). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#include "config.h"
#include "fams_status.h"
#include "journal.h"
#include "log.h"
#include "recover.h"

/* Print the path of path's journal (whether or not it exists now). */
static int journal_of(const char *path)
{
	struct fams_identity id;
	char dir[PATH_MAX], name[NAME_MAX + 1];
	if (fams_identity_at(AT_FDCWD, path, &id) < 0 ||
	    fams_journal_locate(path, &id, dir, sizeof dir, name, sizeof name) < 0) {
		fprintf(stderr, "fams-recover: %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("%s/%s\n", dir, name);
	return 0;
}

int main(int argc, char **argv)
{
	int status = 0, first = 1, names = 0;
	fams_config_load();
	if (argc > 1 && strcmp(argv[1], "--status") == 0) {
		bool json = argc > 2 && strcmp(argv[2], "--json") == 0;
		return fams_status(argc - 2 - json, argv + 2 + json, json);
	}
	if (argc > 1 && strcmp(argv[1], "--journal-of") == 0)
		names = first = 2;
	if (argc <= first) {
		fprintf(stderr, "usage: fams-recover FILE...\n       fams-recover --journal-of FILE...\n");
		return 2;
	}
	for (int i = first; i < argc; i++) {
		if (names) {
			status |= journal_of(argv[i]);
			continue;
		}
		int outcome;
		if (fams_recover_path(AT_FDCWD, argv[i], &outcome) < 0) {
			fprintf(stderr, "fams-recover: %s: %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		printf("%s: %s\n", argv[i], fams_recovery_name(outcome));
		if (outcome == FAMS_REC_BUSY)
			status = 1;
	}
	return status;
}
