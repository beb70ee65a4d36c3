/* stream.h -- stdio streams whose reads and writes are this library's wrappers. */
#ifndef FAMS_STREAM_H
#define FAMS_STREAM_H

#include <stdbool.h>
#include <stdio.h>
#include <wchar.h>

/* What a stream fams made keeps for its wide calls (widestream.c), guarded by
 * the stream's own lock (flockfile). */
struct stream_wide {
	mbstate_t out, in; /* the conversions' shift states */
	int orientation;   /* as fwide reports it: > 0 wide, < 0 bytes, 0 not yet */
};

/* A stream on fd (open with the access mode's) for mode ("r", "w+", "ab", ...);
 * fclose closes fd.  NULL with errno when out of memory. */
FILE *stream_through_fams(int fd, const char *mode);
/* The wide state of fp if fams made it, else NULL. */
struct stream_wide *stream_wide(FILE *fp);
/* Whether fams made fp. */
bool stream_is_ours(FILE *fp);
/* A failed freopen of a stream fams made: its file is closed, the stream stays
 * (its calls fail with EBADF) until fclose, as the C library's after a failed
 * freopen. */
void stream_detach(FILE *fp);
/* Whether fams made fp for appending ("a"), which it stays. */
bool stream_made_append(FILE *fp);
/* freopen of a stream fams made: the file open on fd takes the place of its
 * file, under its descriptor number (fd is closed), with what the stream held of
 * the old one dropped and its buffering as made.  -1 if fp is not ours. */
int stream_reopen(FILE *fp, int fd);
/* Flush every such stream: before the exit commit. */
void stream_flush_all(void);
/* At start-up, after the C library's symbols can be looked up. */
void stream_init(void);
/* Around fork (pthread_atfork, registered after fams's: its prepare runs first). */
void stream_prefork(void);
void stream_postfork_parent(void);
void stream_postfork_child(void);

#endif
