/* streams.c -- stdio streams and managed files.
 *
 * The C library's stdio reads and writes a file through calls of its own that no
 * interposer sees.  Two kinds of stream follow from that:
 *  - streams fopen and fdopen make: the preload layer builds those fams must see
 *    (fams_stream_through) so that their reads and writes are its wrappers';
 *  - the C library's own streams, which fams cannot rebuild: stdin, stdout and
 *    stderr (a shell may have sent them to a file), the streams freopen reopens
 *    in place, and the wide streams a converting fopen (",ccs=") makes.  Their
 *    writes would change a managed file around its working copy, outside any
 *    commit, so a file one of them writes is never managed (mapping it for
 *    writing fails with EBUSY: streams_plain_writer), a managed file is never
 *    opened as one for writing (fams_plain_stream_may_open, _opened), and a
 *    managed descriptor never lands where stdout or stderr writes
 *    (fams_stream_may_land).
 * Under the registry lock. */
#include "fams.h"
#include "fdtable.h"
#include "log.h"
#include "registry.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdint.h>
#include <string.h>

/* Such streams open for writing, besides the standard three. */
static FILE *g_plain[16];
int fams_plain_streams; /* how many: the fclose wrapper's pass-through test */

/* Whether fd names a file used under fams: managed here, or by processes this one
 * could not join.  Under the registry lock. */
static bool used_under_fams(int fd)
{
	bool dropped;
	struct fd_slot *s = fd_slot(fd, false);
	bool used = fd_file(fd, &dropped) || (s && s->elsewhere);
	if (dropped)
		registry_retire_unused(); /* a stale slot: its descriptor was closed elsewhere */
	return used;
}

bool fams_stream_through(int fd, bool writes)
{
	if (writes) { /* the file may become managed while the stream is open */
		struct stat st;
		return fams_raw_fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	}
	if (!fams_hint(fams_live))
		return false;
	fams_lock();
	bool used = used_under_fams(fd);
	fams_unlock();
	return used;
}

#define STREAM_MARK 0x3172747373616d66ull /* "famsstr1" */
struct stream_mark {
	uint64_t magic;
	void *record;
};
_Static_assert(sizeof(((FILE *)0)->_unused2) >= sizeof(struct stream_mark), "no room for the mark");

void fams_stream_mark(FILE *fp, void *record)
{
	struct stream_mark m = { record ? STREAM_MARK : 0, record };
	memcpy(fp->_unused2, &m, sizeof m);
}

void *fams_stream_record(FILE *fp)
{
	if (!fp || fp->_wide_data != (struct _IO_wide_data *)-1)
		return NULL;
	struct stream_mark m;
	memcpy(&m, fp->_unused2, sizeof m);
	return m.magic == STREAM_MARK ? m.record : NULL;
}

/* The descriptor the C library writes through for stream fp, or -1 (none, it does
 * not write, or fams made it: its writes are fams's -- a program may assign such
 * a stream to stdout).  Unlocked: never wait on a stream under the registry lock. */
static int writing_fd(FILE *fp)
{
	return fp && !fams_stream_record(fp) && __fwritable(fp) ? fileno_unlocked(fp) : -1;
}

int fams_stream_may_land(int from, int at)
{
	bool onto_stream = writing_fd(stdin) == at || writing_fd(stdout) == at || writing_fd(stderr) == at;
	if (!onto_stream || (fams_raw_fcntl(from, F_GETFL, 0) & O_ACCMODE) == O_RDONLY)
		return 0; /* a read-only descriptor: the stream's writes fail there anyway */
	fams_lock();
	bool used = used_under_fams(from);
	char path[PATH_MAX] = "?";
	if (used)
		fams_fd_path(from, path, sizeof path);
	fams_unlock();
	if (!used)
		return 0;
	fams_error("%s: a descriptor of it at number %d refused (EBUSY): the file is used under fams, and "
		   "the C library's standard stream there would write it through calls fams cannot see",
		   path, at);
	errno = EBUSY;
	return -1;
}

/* A stream the C library writes through its own calls, open on the file st
 * describes: its descriptor, or -1.  Under the registry lock. */
static int plain_writer_fd(FILE *fp, const struct stat *st)
{
	struct stat fs;
	int fd = writing_fd(fp);
	if (fd < 0 || fams_raw_fstat(fd, &fs) < 0)
		return -1;
	return fs.st_dev == st->st_dev && fs.st_ino == st->st_ino ? fd : -1;
}

int streams_plain_writer(const struct stat *st, const char **which)
{
	static const char *names[] = { "stdin", "stdout", "stderr" };
	FILE *std[] = { stdin, stdout, stderr };
	for (int i = 0; i < 3; i++) {
		int fd = plain_writer_fd(std[i], st);
		if (fd >= 0) {
			*which = names[i];
			return fd;
		}
	}
	for (int i = 0; i < fams_plain_streams; i++) {
		int fd = plain_writer_fd(g_plain[i], st);
		if (fd >= 0) {
			*which = "a stream the C library made (freopen, or fopen with \",ccs=\")";
			return fd;
		}
	}
	return -1;
}

/* The refusal of a reopening for writing (EBUSY, one fams: line). */
static int refuse_plain(const char *path)
{
	fams_error("%s: opening it for writing as a stream the C library makes itself (freopen, or fopen "
		   "with \",ccs=\") refused (EBUSY): the file is used under fams, and the C library would "
		   "write it through calls fams cannot see, around its commits", path);
	errno = EBUSY;
	return -1;
}

int fams_plain_stream_may_open(const char *path)
{
	fams_lock();
	bool managed = registry_find_path(AT_FDCWD, path) != NULL;
	fams_unlock();
	return managed ? refuse_plain(path) : 0;
}

/* Remember fp among the reopened streams (a full list is said once). */
static void remember_plain(FILE *fp, const char *path)
{
	const int cap = (int)(sizeof g_plain / sizeof g_plain[0]);
	int i = 0;
	while (i < fams_plain_streams && g_plain[i] != fp)
		i++;
	if (i < fams_plain_streams)
		return;
	if (i == cap) {
		fams_error("more than %d streams reopened for writing: fams cannot watch the one on %s, and "
			   "would not refuse to map that file while the stream writes it", cap, path);
		return;
	}
	g_plain[i] = fp;
	__atomic_store_n(&fams_plain_streams, i + 1, __ATOMIC_RELEASE);
}

int fams_plain_stream_opened(const char *path, FILE *fp, int fd)
{
	fams_lock();
	bool used = used_under_fams(fd);
	if (!used && fp != stdin && fp != stdout && fp != stderr)
		remember_plain(fp, path);
	fams_unlock();
	return used ? refuse_plain(path) : 0;
}

void fams_plain_stream_closed(FILE *fp)
{
	fams_lock();
	for (int i = 0; i < fams_plain_streams; i++)
		if (g_plain[i] == fp) {
			g_plain[i] = g_plain[fams_plain_streams - 1];
			__atomic_store_n(&fams_plain_streams, fams_plain_streams - 1, __ATOMIC_RELEASE);
			break;
		}
	fams_unlock();
}
