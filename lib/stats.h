/* stats.h -- FAMS_STATS=1: what a run's commits cost, printed at exit. */
#ifndef FAMS_STATS_H
#define FAMS_STATS_H

/* One "fams: stats:" line on stderr: commits, flushes, committed, journal and
 * written bytes (logical: what fams asked the kernel to write). */
void fams_stats_print(void);

#endif
