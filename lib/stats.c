/* stats.c -- FAMS_STATS=1: the counters of sys.c as one line at exit, for users and
 * bench/ (logical bytes: what fams asked the kernel to write, before any page or
 * folio rounding). */
#include "stats.h"
#include "sys.h"

#include <stdio.h>

void fams_stats_print(void)
{
	struct fams_io_stats s = fams_stats;
	char line[320];
	int n = snprintf(line, sizeof line,
			 "fams: stats: commits=%llu flushes=%llu committed_bytes=%llu journal_bytes=%llu "
			 "bytes_written=%llu\n",
			 (unsigned long long)s.commits, (unsigned long long)s.flushes,
			 (unsigned long long)s.committed_bytes, (unsigned long long)s.journal_bytes,
			 (unsigned long long)s.bytes_written);
	if (n > 0)
		fams_raw_write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
