/* recover.h -- bring a data file back to its last committed state from its journal. */
#ifndef FAMS_RECOVER_H
#define FAMS_RECOVER_H

#include "journal.h"

enum fams_recovery_outcome {
	FAMS_REC_NONE = 0,    /* no journal, or one holding nothing live */
	FAMS_REC_COMPLETE,    /* the journal's commit had finished; data made durable */
	FAMS_REC_ROLLED_BACK, /* an interrupted commit was undone */
	FAMS_REC_TORN,        /* the journal was being written when a crash came: discarded */
	FAMS_REC_BUSY,        /* a live process manages the file: nothing to recover */
	FAMS_REC_FOREIGN,     /* the journal names another file: not applied */
	FAMS_REC_REPLAYED,    /* a redo log's commits were applied again; data made durable */
	FAMS_REC_REUSED,      /* the journal of a deleted file whose inode number and birth
			       * this one has (another generation): not applied */
};

const char *fams_recovery_name(int outcome);

/* Examine a journal we hold locked and apply it to data_fd if needed.  Does not
 * invalidate or remove the journal: the caller does that, after this returns 0.
 * Returns 0 with *outcome set, or -1 with errno (data and journal untouched beyond
 * what an idempotent re-run repairs).  FOREIGN returns -1 with EUCLEAN. */
#define FAMS_REC_FORCE_ROLLBACK 1 /* restore the old bytes even if the commit looks done (an
				   * undo journal's: a redo log's commits are only replayed) */
int fams_recover_locked(int jfd, int data_fd, const struct fams_identity *id,
			const char *data_name, int flags, int *outcome);

/* What a journal holds, judged as recovery would judge it but acting on nothing
 * (famsrun --status).  data_fd: the data file it belongs to, or -1 when that is
 * gone or unknown; id: that file's identity.  0 with *status, or -1 with errno. */
enum fams_journal_status {
	FAMS_JS_EMPTY,         /* names no commit */
	FAMS_JS_TORN,          /* cut short while written: would be discarded */
	FAMS_JS_OTHER_VERSION, /* another format: kept for the fams that wrote it */
	FAMS_JS_ORPHAN,        /* its file is gone: harmless, never applied */
	FAMS_JS_FOREIGN,       /* names another file than the one with its name */
	FAMS_JS_COMPLETE,      /* its commit finished: nothing to do */
	FAMS_JS_INTERRUPTED,   /* its commit was cut short: would roll back */
	FAMS_JS_REDO,          /* a redo log: its commits would be applied again */
};
int fams_journal_examine(int jfd, int data_fd, const struct fams_identity *id, int *status);

/* Cheap test: could path have a pending journal?  A statx of path for its identity,
 * then one faccessat.  Returns 1 if a journal file exists, 0 otherwise. */
int fams_journal_present(int dirfd, const char *path);

/* Full recovery by path, for open() and `famsrun --recover`: locate the journal,
 * lock it (BUSY if a live process holds it), recover, then remove the journal and
 * sync its directory.  Returns 0 with *outcome, or -1 with errno. */
int fams_recover_path(int dirfd, const char *path, int *outcome);

/* The same for a file the program has just opened as fd (by path, relative to
 * dirfd: the journal is looked for in path's directory).  The identity comes from
 * fd, with no second walk of the path, and recovery works on fd's own file even if
 * the path has changed meanwhile. */
int fams_recover_opened(int dirfd, const char *path, int fd, int *outcome);

#endif
