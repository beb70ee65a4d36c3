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
 * are not its. */
void report_end_site(void);

/* A commit ended: dirty pages, bytes written, flushes, nanoseconds. */
void report_commit(uint64_t pages, uint64_t bytes, unsigned flushes, uint64_t ns);

/* Write the report to FAMS_REPORT (at exit). */
void report_write(void);

#endif
