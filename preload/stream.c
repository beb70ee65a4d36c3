/* stream.c -- stdio streams whose reads and writes are this library's wrappers.
 *
 * The C library's stdio reads, writes and seeks a file through calls of its own,
 * which no interposer sees: a plain stream of a managed file would write the data
 * file around the working copy, outside any commit, and read bytes the program has
 * since changed.  The streams fams must see (fams_stream_through) are made with
 * fopencookie instead: their read, write, seek and close are the read, write,
 * lseek and close this library exports, as if the program had called them.
 *
 * fileno() still names the descriptor: glibc marks a cookie stream by a negative
 * _fileno and reads that field nowhere else on its paths (every transfer goes
 * through the cookie's functions).  Such a stream is a byte stream: the wide
 * calls (fputws, fwprintf) fail on it.
 *
 * Every stream made here is on a list until it closes: the C library flushes
 * streams at exit only after every destructor has run, fams's exit commit among
 * them, so stream_flush_all flushes them first (without their locks, as the C
 * library's exit flush does: a thread stuck holding one must not stop the exit). */
#include "stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct stream {
	int fd;
	FILE *fp;
	struct stream *prev, *next;
};

static struct stream *g_streams;
static pthread_mutex_t g_streams_lock = PTHREAD_MUTEX_INITIALIZER;

static ssize_t stream_read(void *cookie, char *buf, size_t n)
{
	return read(((struct stream *)cookie)->fd, buf, n);
}

/* As the C library's own file streams write: on after a short write, until an
 * error (which the stream records when fewer bytes than asked come back). */
static ssize_t stream_write(void *cookie, const char *buf, size_t n)
{
	const struct stream *s = cookie;
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(s->fd, buf + done, n - done);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	return (ssize_t)done;
}

static int stream_seek(void *cookie, off64_t *off, int whence)
{
	off_t to = lseek(((struct stream *)cookie)->fd, *off, whence);
	if (to < 0)
		return -1;
	*off = to;
	return 0;
}

static int stream_close(void *cookie)
{
	struct stream *s = cookie;
	pthread_mutex_lock(&g_streams_lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		g_streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&g_streams_lock);
	int r = close(s->fd);
	free(s);
	return r;
}

FILE *stream_through_fams(int fd, const char *mode)
{
	/* fopencookie reads the first letter and a '+' after it (or after a 'b'):
	 * fopen's mode may have the '+' anywhere among its flags. */
	char how[3] = { mode[0], strchr(mode, '+') ? '+' : '\0', '\0' };
	struct stream *s = malloc(sizeof *s);
	if (!s)
		return NULL;
	cookie_io_functions_t io = { stream_read, stream_write, stream_seek, stream_close };
	FILE *fp = fopencookie(s, how, io);
	if (!fp) {
		free(s);
		return NULL;
	}
	fp->_fileno = fd;
	*s = (struct stream){ .fd = fd, .fp = fp };
	pthread_mutex_lock(&g_streams_lock);
	s->next = g_streams;
	if (g_streams)
		g_streams->prev = s;
	g_streams = s;
	pthread_mutex_unlock(&g_streams_lock);
	return fp;
}

void stream_flush_all(void)
{
	pthread_mutex_lock(&g_streams_lock);
	for (struct stream *s = g_streams; s; s = s->next)
		fflush_unlocked(s->fp);
	pthread_mutex_unlock(&g_streams_lock);
}

/* fork: the child gets the list whole (no thread of the parent's is inside it). */
void stream_prefork(void) { pthread_mutex_lock(&g_streams_lock); }
void stream_postfork(void) { pthread_mutex_unlock(&g_streams_lock); }
