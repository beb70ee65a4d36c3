/* fams-recover -- bring files to their last committed state (famsrun --recover). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "recover.h"

int main(int argc, char **argv)
{
	int status = 0;
	fams_config_load();
	if (argc < 2) {
		fprintf(stderr, "usage: fams-recover FILE...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
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
