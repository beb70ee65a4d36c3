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
 * through the cookie's functions).  The C library gives such a stream no wide
 * side: the wide calls (fputws, fwprintf) on it are widestream.c's.
 *
 * Every stream made here is on a list until it closes: the C library flushes
 * streams at exit only after every destructor has run, fams's exit commit among
 * them, so stream_flush_all flushes them first (without their locks, as the C
 * library's exit flush does: a thread stuck holding one must not stop the exit). */
#include "stream.h"
#include "fams.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct stream {
	int fd;
	FILE *fp;
	char *buf; /* its buffer, of the size the C library would give it */
	size_t bufsize;
	/* The descriptor's position, kept as the C library's own streams keep it:
	 * learnt from a seek that moves (fseek, rewind), then moved by each transfer,
	 * forgotten on an error or an appending write; until then ftell asks the
	 * kernel, as theirs do (so a write through fileno() before any seek is seen). */
	off_t pos;
	bool pos_known;
	bool appends;      /* O_APPEND: each write goes to the end */
	bool made_append;  /* made for "a" (the C library's stream appends) */
	struct stream_wide wide; /* its wide calls' state (widestream.c) */
	struct stream *prev, *next;
};

static struct stream *g_streams;
static pthread_mutex_t g_streams_lock = PTHREAD_MUTEX_INITIALIZER;

/* After a transfer of r bytes: where the descriptor now is, if known. */
static void moved(struct stream *s, ssize_t r)
{
	if (r > 0)
		s->pos += r;
	else if (r < 0)
		s->pos_known = false;
}

static ssize_t stream_read(void *cookie, char *buf, size_t n)
{
	struct stream *s = cookie;
	ssize_t r = read(s->fd, buf, n);
	moved(s, r);
	return r;
}

/* As the C library's own file streams write: on after a short write, until an
 * error (which the stream records when fewer bytes than asked come back). */
static ssize_t stream_write(void *cookie, const char *buf, size_t n)
{
	struct stream *s = cookie;
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(s->fd, buf + done, n - done);
		if (w <= 0) {
			s->pos_known = false;
			break;
		}
		done += (size_t)w;
	}
	moved(s, (ssize_t)done);
	if (s->appends) /* the write went to the end, wherever that was */
		s->pos_known = false;
	return (ssize_t)done;
}

static int stream_seek(void *cookie, off64_t *off, int whence)
{
	struct stream *s = cookie;
	bool asks = whence == SEEK_CUR && *off == 0; /* ftell: where is it */
	if (asks && s->pos_known) {
		*off = s->pos;
		return 0;
	}
	off_t to = lseek(s->fd, *off, whence);
	if (to < 0) {
		s->pos_known = false;
		return -1;
	}
	if (!asks) {
		s->pos = to;
		s->pos_known = true;
	}
	*off = to;
	return 0;
}

static int stream_close(void *cookie)
{
	struct stream *s = cookie;
	fams_stream_mark(s->fp, NULL); /* the C library frees the FILE next */
	pthread_mutex_lock(&g_streams_lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		g_streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&g_streams_lock);
	int r = close(s->fd);
	free(s->buf); /* the C library is done with it: this is the stream's last call */
	free(s);
	return r;
}

/* The record of fp if fams made it, or NULL: its mark (fams.h), no lock taken --
 * the wide calls look it up with the stream's lock held, which a lock of ours
 * taken after it would invert against freopen's setvbuf. */
static struct stream *find(FILE *fp)
{
	struct stream *s = fams_stream_record(fp);
	return s && s->fp == fp ? s : NULL;
}

struct stream_wide *stream_wide(FILE *fp)
{
	struct stream *s = find(fp);
	return s ? &s->wide : NULL;
}

bool stream_is_ours(FILE *fp) { return find(fp) != NULL; }

void stream_detach(FILE *fp)
{
	struct stream *s = find(fp);
	int fd = s ? s->fd : -1;
	if (s) {
		s->fd = -1; /* its calls fail with EBADF from now on */
		s->pos_known = false;
		fp->_fileno = -2; /* a cookie stream's mark: fclose still calls stream_close */
	}
	__fpurge(fp);
	if (fd >= 0)
		close(fd);
}

bool stream_made_append(FILE *fp)
{
	struct stream *s = find(fp);
	return s && s->made_append;
}

int stream_reopen(FILE *fp, int fd)
{
	/* What the stream holds of the old file goes: output was flushed by the
	 * caller, input (pushed back too) is dropped, as a C library's freopen does. */
	__fpurge(fp);
	clearerr(fp);
	struct stream *s = find(fp);
	int old = s ? s->fd : -1;
	/* The new file under the old number: the stream's descriptor stays the one
	 * fileno() gave (a C library's freopen keeps it too, where it can). */
	int r = s && dup3(fd, old, fcntl(fd, F_GETFD) & FD_CLOEXEC ? O_CLOEXEC : 0) == old ? 0 : -1;
	if (r == 0) {
		flockfile(fp);
		s->pos_known = false;
		s->wide = (struct stream_wide){ 0 }; /* a new file: no shift state, no orientation */
		s->appends = fcntl(old, F_GETFL) & O_APPEND;
		funlockfile(fp);
		setvbuf(fp, s->buf, _IOFBF, s->buf ? s->bufsize : BUFSIZ); /* the buffering as made */
		close(fd);
	}
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
	*s = (struct stream){ .fd = fd, .fp = fp, .appends = fcntl(fd, F_GETFL) & O_APPEND, .made_append = how[0] == 'a' };
	fams_stream_mark(fp, s);
	/* The buffer's size the C library gives a stream of this file (a cookie stream
	 * would get BUFSIZ): where writes split into system calls stays the same.  Ours
	 * (setvbuf takes a size only with a buffer), freed when the stream closes. */
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_blksize > 0 && st.st_blksize != BUFSIZ &&
	    (s->buf = malloc((size_t)st.st_blksize))) {
		s->bufsize = (size_t)st.st_blksize;
		setvbuf(fp, s->buf, _IOFBF, s->bufsize);
	}
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

/* fork.  The C library takes its list of streams only after the prepare handlers
 * have run, fams's among them (which take the registry lock); a thread flushing
 * every stream (fflush(NULL), fcloseall) holds that list while a stream of ours
 * writes through the wrappers, which wait for the registry lock: so the list is
 * taken here first, before any lock of fams's (it is recursive: fork takes it
 * again).  The child gets the list of ours whole. */
static void (*list_lock)(void), (*list_unlock)(void), (*list_reset)(void);

void stream_init(void)
{
	*(void **)&list_lock = dlsym(RTLD_DEFAULT, "_IO_list_lock");
	*(void **)&list_unlock = dlsym(RTLD_DEFAULT, "_IO_list_unlock");
	*(void **)&list_reset = dlsym(RTLD_DEFAULT, "_IO_list_resetlock");
	if (!list_lock || !list_unlock || !list_reset)
		list_lock = list_unlock = list_reset = NULL;
}
void stream_prefork(void)
{
	if (list_lock)
		list_lock();
	pthread_mutex_lock(&g_streams_lock);
}
void stream_postfork_parent(void)
{
	pthread_mutex_unlock(&g_streams_lock);
	if (list_unlock)
		list_unlock();
}
void stream_postfork_child(void)
{
	pthread_mutex_unlock(&g_streams_lock);
	if (list_reset)
		list_reset(); /* one thread now; the C library resets it only if it took it */
}
