/* streams.h -- the C library's own stdio streams that keep a file from being
 * managed.  Under the registry lock. */
#ifndef FAMS_STREAMS_H
#define FAMS_STREAMS_H

#include <sys/stat.h>

/* A stream of the C library's own (stdin, stdout, stderr, or one freopen made)
 * that writes the file st describes: its descriptor, its name in *which; or -1. */
int streams_plain_writer(const struct stat *st, const char **which);

#endif
