/* config.h -- the FAMS_* settings, parsed once from the environment. */
#ifndef FAMS_CONFIG_H
#define FAMS_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

enum fams_commit_log { FAMS_COMMIT_REDO = 0, FAMS_COMMIT_UNDO };

enum fams_tracker_kind { FAMS_TRACKER_AUTO = 0, FAMS_TRACKER_UFFD, FAMS_TRACKER_UFFD_SYNC, FAMS_TRACKER_COMPARE };

/* FAMS_TRACKER_MOVES (trackswitch.c): when the auto tracker moves between uffd and uffd-sync. */
enum fams_tracker_moves { FAMS_MOVES_AUTO = 0, FAMS_MOVES_NEVER, FAMS_MOVES_ALWAYS };

struct fams_config {
	uint64_t journal_size;      /* FAMS_JOURNAL_SIZE: preallocated journal bytes */
	uint64_t journal_max;       /* FAMS_JOURNAL_MAX: a commit needing more fails */
	char journal_dir[PATH_MAX]; /* FAMS_JOURNAL_DIR: "" = next to the data file */
	int log_level;              /* FAMS_LOG */
	int commit_log;             /* FAMS_COMMIT_LOG: enum fams_commit_log */
	int tracker;                /* FAMS_TRACKER */
	int tracker_moves;          /* FAMS_TRACKER_MOVES: enum fams_tracker_moves */
	int stats;                  /* FAMS_STATS=1: counters on stderr at exit */
	char report[PATH_MAX];      /* FAMS_REPORT: the commit-site report's file ("" = none) */
	char include[1024];         /* FAMS_INCLUDE: ':'-separated fnmatch patterns */
	char exclude[1024];         /* FAMS_EXCLUDE */
};

extern struct fams_config fams_cfg;

/* Read the FAMS_* variables into fams_cfg; a bad value gets a warning naming the
 * variable and the default used. */
void fams_config_load(void);

/* Parse "64K", "16M", "1G" or plain bytes; returns 0 on success. */
int fams_parse_size(const char *s, uint64_t *out);

/* Whether a file at this absolute path may be managed under FAMS_INCLUDE/EXCLUDE. */
int fams_path_selected(const char *path);

#endif
