/* report.h -- the commit-site report (FAMS_REPORT): where in the program commits
 * came from, and what they cost. */
#ifndef FAMS_REPORT_H
#define FAMS_REPORT_H

#include <stdbool.h>
#include <stdint.h>

/* Whether FAMS_REPORT asks for the report (set at start-up; read without a lock). */
extern bool fams_report_on;

/* The call the calling thread is in (msync, fsync, munmap...) came from ip: its
 * commits are counted there.  Resolves ip to function+offset and binary the first
 * time it is seen (libunwind).  Only when fams_report_on. */
void report_note_site(const void *ip);
/* The call from the site noted is over: later commits of this thread (an exit's)
 * are not its.  Leaves errno alone. */
void report_end_site(void);

/* When a commit began: the time, and the flush counter (stats.h). */
struct report_mark {
	uint64_t ns, flushes;
};
struct report_mark report_mark(void);

/* A commit begun at *since ended, its dirty pages and bytes written: counted at
 * the site, with the flushes since (another file's commit may add to them
 * meanwhile: the report is a profile, not an audit) and its time. */
void report_commit(const struct report_mark *since, uint64_t pages, uint64_t bytes);

/* Write the report to FAMS_REPORT (at exit). */
void report_write(void);

#endif
