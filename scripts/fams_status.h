/* fams_status.h -- famsrun --status (fams_status.c). */
#ifndef FAMS_STATUS_H
#define FAMS_STATUS_H

#include <stdbool.h>

/* List the journals of the directories and files named (none: the working
 * directory, or FAMS_JOURNAL_DIR): a table, or JSON.  0, or 1 if one could not be read. */
int fams_status(int argc, char **argv, bool json);

#endif
