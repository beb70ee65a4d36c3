/* stream.h -- stdio streams whose reads and writes are this library's wrappers. */
#ifndef FAMS_STREAM_H
#define FAMS_STREAM_H

#include <stdio.h>

/* A stream on fd (open with the access mode's) for mode ("r", "w+", "ab", ...);
 * fclose closes fd.  NULL with errno when out of memory. */
FILE *stream_through_fams(int fd, const char *mode);
/* Flush every such stream: before the exit commit. */
void stream_flush_all(void);
/* Around fork (pthread_atfork): the child gets the list whole. */
void stream_prefork(void);
void stream_postfork(void);

#endif
