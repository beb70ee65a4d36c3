/* widestream.c -- the wide-character calls on the streams fams made (stream.h).
 *
 * A stream made with fopencookie gets no wide side from the C library: its
 * fputwc, fwprintf, fgetwc... fail on it (WEOF, -1, errno untouched).  Under fams
 * every stream that writes a regular file is such a stream, so without these a
 * program's wide output to any file would fail where natively it works.  On a
 * stream fams made they do what a wide stream does -- convert between wide
 * characters and the bytes of the locale's multibyte encoding, each stream
 * keeping its shift states -- and move the bytes with the stream's byte calls,
 * under the stream's lock (a character, or a whole fwprintf, is written in one
 * fwrite: other threads' output never lands inside it).  As a wide stream does: a
 * character the locale cannot encode is written as its transliteration, or '?';
 * bytes that are no character stop a read with EILSEQ and the stream's error
 * indicator, and stay unread; a file ending inside a character ends the reading.
 * Every other stream goes to the C library's call after one test of a field and
 * of fams's mark (fams.h).
 *
 * Kept simpler than a wide stream: the conversion is the locale in force at each
 * call (a wide stream fixes it when it becomes wide), and the orientation is what
 * fwide and the wide calls set -- byte calls leave no trace fams can see, so fwide
 * reports 0 after them where the C library reports -1, and wide calls after them
 * are not refused (after fwide(fp, -1) they are).  Wide scanf on such a stream is
 * refused (EINVAL) with a fams: line.  The calls on stdout and stdin (wprintf,
 * putwchar, getwchar) are here too: a program may assign a stream of fopen's to
 * stdout. */
#include "stream.h"
#include "log.h"

#include <dlfcn.h>
#include <errno.h>
#include <iconv.h>
#include <langinfo.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define EXPORT __attribute__((visibility("default")))

/* The C library's fortified and ISO C99 spellings, which no header declares. */
int __vfwprintf_chk(FILE *fp, int flag, const wchar_t *fmt, va_list ap);
int __fwprintf_chk(FILE *fp, int flag, const wchar_t *fmt, ...);
int __vwprintf_chk(int flag, const wchar_t *fmt, va_list ap);
int __wprintf_chk(int flag, const wchar_t *fmt, ...);
wchar_t *__fgetws_chk(wchar_t *ws, size_t size, int n, FILE *fp);
wchar_t *__fgetws_unlocked_chk(wchar_t *ws, size_t size, int n, FILE *fp);
void __chk_fail(void) __attribute__((noreturn));
int __isoc99_vfwscanf(FILE *fp, const wchar_t *fmt, va_list ap);
int __isoc99_fwscanf(FILE *fp, const wchar_t *fmt, ...);
int __isoc99_vwscanf(const wchar_t *fmt, va_list ap);
int __isoc99_wscanf(const wchar_t *fmt, ...);
int __isoc23_vfwscanf(FILE *fp, const wchar_t *fmt, va_list ap);
int __isoc23_fwscanf(FILE *fp, const wchar_t *fmt, ...);
int __isoc23_vwscanf(const wchar_t *fmt, va_list ap);
int __isoc23_wscanf(const wchar_t *fmt, ...);

/* The C library's definition of name, looked up at its first call (never during
 * start-up: these are not called before main). */
#define REAL(name)                                                                    \
	({                                                                            \
		static __typeof__(name) *real_;                                       \
		if (!real_)                                                           \
			real_ = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);          \
		real_;                                                                \
	})

/* The wide state of fp if fams made it, else NULL (then the C library's call):
 * its mark, looked at only in streams without a wide side (fams_stream_record). */
static struct stream_wide *ours(FILE *fp) { return stream_wide(fp); }

/* Room for one character's bytes, transliterated ("(C)") or not. */
#define CHAR_ROOM 64

/* wc as the locale's bytes when it has none of its own, as a wide stream writes
 * it: its transliteration (the locale's rules, "(C)" for a copyright sign), else
 * '?'.  The number of bytes at out (room: cap). */
static size_t transliterate(wchar_t wc, char *out, size_t cap)
{
	char to[64];
	snprintf(to, sizeof to, "%s//TRANSLIT", nl_langinfo(CODESET));
	iconv_t cd = iconv_open(to, "WCHAR_T");
	size_t n = 0;
	if (cd != (iconv_t)-1) {
		char *in = (char *)&wc, *at = out;
		size_t inleft = sizeof wc, outleft = cap;
		if (iconv(cd, &in, &inleft, &at, &outleft) != (size_t)-1 && inleft == 0)
			n = (size_t)(at - out);
		iconv_close(cd);
	}
	if (n == 0) {
		out[0] = '?';
		n = 1;
	}
	return n;
}

/* Whether the stream may take wide calls: not once fwide made it a byte stream
 * (then the call fails as on one: WEOF, no errno); it becomes wide. */
static bool goes_wide(struct stream_wide *w)
{
	if (w->orientation < 0)
		return false;
	w->orientation = 1;
	return true;
}

/* Write n wide characters of ws as multibyte bytes; the stream's lock is held.
 * 0, or -1 (the write's failure). */
static int put_wides(struct stream_wide *w, FILE *fp, const wchar_t *ws, size_t n)
{
	char buf[512];
	size_t used = 0;
	if (!goes_wide(w))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (used + CHAR_ROOM > sizeof buf) {
			if (fwrite_unlocked(buf, 1, used, fp) != used)
				return -1;
			used = 0;
		}
		int saved = errno;
		size_t k = wcrtomb(buf + used, ws[i], &w->out);
		if (k == (size_t)-1) {
			memset(&w->out, 0, sizeof w->out);
			k = transliterate(ws[i], buf + used, CHAR_ROOM);
			errno = saved; /* not an error: the character is written, as it can be */
		}
		used += k;
	}
	return used && fwrite_unlocked(buf, 1, used, fp) != used ? -1 : 0;
}

/* Put back the n bytes of an unfinished character (the last one read last). */
static void unread(FILE *fp, const unsigned char *bytes, size_t n)
{
	while (n > 0)
		ungetc(bytes[--n], fp);
}

/* The next wide character of the stream into *wc: 1, 0 at the end (where the file
 * ends inside a character too, its bytes left unread), -1 on an error (EILSEQ:
 * bytes that are no character, left unread, and the error indicator set; else
 * the read's).  The stream's lock is held. */
static int get_wide(struct stream_wide *w, FILE *fp, wint_t *wc)
{
	unsigned char pending[MB_LEN_MAX];
	size_t npending = 0;
	if (!goes_wide(w))
		return -1;
	for (;;) {
		int c = getc_unlocked(fp);
		if (c == EOF) {
			if (ferror_unlocked(fp))
				return -1;
			memset(&w->in, 0, sizeof w->in);
			unread(fp, pending, npending);
			fp->_flags |= _IO_EOF_SEEN; /* ungetc cleared it */
			return 0;
		}
		char ch = (char)c;
		wchar_t got;
		size_t k = mbrtowc(&got, &ch, 1, &w->in);
		if (k == (size_t)-2) {
			if (npending < sizeof pending)
				pending[npending++] = (unsigned char)c;
			continue;
		}
		if (k == (size_t)-1) {
			memset(&w->in, 0, sizeof w->in);
			pending[npending < sizeof pending ? npending++ : npending - 1] = (unsigned char)c;
			unread(fp, pending, npending);
			fp->_flags |= _IO_ERR_SEEN;
			errno = EILSEQ;
			return -1;
		}
		*wc = k == 0 ? L'\0' : (wint_t)got;
		return 1;
	}
}

static wint_t put_one(struct stream_wide *w, wchar_t wc, FILE *fp)
{
	flockfile(fp);
	int r = put_wides(w, fp, &wc, 1);
	funlockfile(fp);
	return r < 0 ? WEOF : (wint_t)wc;
}

/* fputwc and its spellings: on a stream fams made, put_one; else the C library's. */
#define PUT_WIDE(name)                                                      \
	EXPORT wint_t name(wchar_t wc, FILE *fp)                            \
	{                                                                   \
		struct stream_wide *w = ours(fp);                           \
		return w ? put_one(w, wc, fp) : REAL(name)(wc, fp);         \
	}
PUT_WIDE(fputwc)
PUT_WIDE(putwc)
PUT_WIDE(fputwc_unlocked)
PUT_WIDE(putwc_unlocked)

static int put_string(struct stream_wide *w, const wchar_t *ws, FILE *fp)
{
	flockfile(fp);
	int r = put_wides(w, fp, ws, wcslen(ws));
	funlockfile(fp);
	return r < 0 ? EOF : 1;
}

EXPORT int fputws(const wchar_t *ws, FILE *fp)
{
	struct stream_wide *w = ours(fp);
	return w ? put_string(w, ws, fp) : REAL(fputws)(ws, fp);
}

EXPORT int fputws_unlocked(const wchar_t *ws, FILE *fp)
{
	struct stream_wide *w = ours(fp);
	return w ? put_string(w, ws, fp) : REAL(fputws_unlocked)(ws, fp);
}

/* fwprintf on a stream fams made: formatted by the C library into a wide memory
 * stream (flag >= 0: its fortified formatter, as __fwprintf_chk), then written
 * whole.  The number of wide characters, or -1. */
static int print_wide(struct stream_wide *w, FILE *fp, int flag, const wchar_t *fmt, va_list ap)
{
	wchar_t *text = NULL;
	size_t len = 0;
	FILE *mem = open_wmemstream(&text, &len);
	if (!mem)
		return -1;
	int n = flag >= 0 ? REAL(__vfwprintf_chk)(mem, flag, fmt, ap) : REAL(vfwprintf)(mem, fmt, ap);
	if (fclose(mem) != 0)
		n = -1;
	if (n >= 0) {
		flockfile(fp);
		if (put_wides(w, fp, text, len) < 0)
			n = -1;
		funlockfile(fp);
	}
	free(text);
	return n;
}

EXPORT int vfwprintf(FILE *fp, const wchar_t *fmt, va_list ap)
{
	struct stream_wide *w = ours(fp);
	return w ? print_wide(w, fp, -1, fmt, ap) : REAL(vfwprintf)(fp, fmt, ap);
}

EXPORT int fwprintf(FILE *fp, const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct stream_wide *w = ours(fp);
	int n = w ? print_wide(w, fp, -1, fmt, ap) : REAL(vfwprintf)(fp, fmt, ap);
	va_end(ap);
	return n;
}

EXPORT int __vfwprintf_chk(FILE *fp, int flag, const wchar_t *fmt, va_list ap)
{
	struct stream_wide *w = ours(fp);
	return w ? print_wide(w, fp, flag < 0 ? 0 : flag, fmt, ap) : REAL(__vfwprintf_chk)(fp, flag, fmt, ap);
}

EXPORT int __fwprintf_chk(FILE *fp, int flag, const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct stream_wide *w = ours(fp);
	int n = w ? print_wide(w, fp, flag < 0 ? 0 : flag, fmt, ap) : REAL(__vfwprintf_chk)(fp, flag, fmt, ap);
	va_end(ap);
	return n;
}

#define PUT_WIDE_STDOUT(name)                                               \
	EXPORT wint_t name(wchar_t wc)                                      \
	{                                                                   \
		struct stream_wide *w = ours(stdout);                       \
		return w ? put_one(w, wc, stdout) : REAL(name)(wc);         \
	}
PUT_WIDE_STDOUT(putwchar)
PUT_WIDE_STDOUT(putwchar_unlocked)

EXPORT int vwprintf(const wchar_t *fmt, va_list ap)
{
	struct stream_wide *w = ours(stdout);
	return w ? print_wide(w, stdout, -1, fmt, ap) : REAL(vwprintf)(fmt, ap);
}

EXPORT int wprintf(const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct stream_wide *w = ours(stdout);
	int n = w ? print_wide(w, stdout, -1, fmt, ap) : REAL(vwprintf)(fmt, ap);
	va_end(ap);
	return n;
}

EXPORT int __vwprintf_chk(int flag, const wchar_t *fmt, va_list ap)
{
	struct stream_wide *w = ours(stdout);
	return w ? print_wide(w, stdout, flag < 0 ? 0 : flag, fmt, ap) : REAL(__vwprintf_chk)(flag, fmt, ap);
}

EXPORT int __wprintf_chk(int flag, const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct stream_wide *w = ours(stdout);
	int n = w ? print_wide(w, stdout, flag < 0 ? 0 : flag, fmt, ap) : REAL(__vwprintf_chk)(flag, fmt, ap);
	va_end(ap);
	return n;
}

static wint_t get_one(struct stream_wide *w, FILE *fp)
{
	wint_t c = WEOF;
	flockfile(fp);
	int r = get_wide(w, fp, &c);
	funlockfile(fp);
	return r > 0 ? c : WEOF;
}

/* fgetwc and its spellings, and getwchar's on stdin: on a stream fams made,
 * get_one; else the C library's. */
#define GET_WIDE(name)                                                      \
	EXPORT wint_t name(FILE *fp)                                        \
	{                                                                   \
		struct stream_wide *w = ours(fp);                           \
		return w ? get_one(w, fp) : REAL(name)(fp);                 \
	}
#define GET_WIDE_STDIN(name)                                                \
	EXPORT wint_t name(void)                                            \
	{                                                                   \
		struct stream_wide *w = ours(stdin);                        \
		return w ? get_one(w, stdin) : REAL(name)();                \
	}
GET_WIDE(fgetwc)
GET_WIDE(getwc)
GET_WIDE(fgetwc_unlocked)
GET_WIDE(getwc_unlocked)
GET_WIDE_STDIN(getwchar)
GET_WIDE_STDIN(getwchar_unlocked)

/* fgetws on a stream fams made: up to n - 1 characters (at most max), through a
 * newline, as the C library's: NULL for n <= 0 and at the end before any, or on
 * an error; n == 1 gives the empty string.  *count: the characters read. */
static wchar_t *get_line(struct stream_wide *w, wchar_t *ws, int n, size_t max, FILE *fp, size_t *count)
{
	*count = 0;
	if (n <= 0)
		return NULL;
	size_t i = 0, want = (size_t)n - 1 < max ? (size_t)n - 1 : max;
	int r = 1;
	wint_t c = 0;
	flockfile(fp);
	while (i < want && c != L'\n' && (r = get_wide(w, fp, &c)) > 0)
		ws[i++] = (wchar_t)c;
	funlockfile(fp);
	*count = i;
	if (r < 0 || (i == 0 && n > 1))
		return NULL;
	if (i < max) /* else the fortified caller fails: the line did not fit */
		ws[i] = L'\0';
	return ws;
}

EXPORT wchar_t *fgetws(wchar_t *ws, int n, FILE *fp)
{
	struct stream_wide *w = ours(fp);
	size_t count;
	return w ? get_line(w, ws, n, SIZE_MAX, fp, &count) : REAL(fgetws)(ws, n, fp);
}

EXPORT wchar_t *fgetws_unlocked(wchar_t *ws, int n, FILE *fp)
{
	struct stream_wide *w = ours(fp);
	size_t count;
	return w ? get_line(w, ws, n, SIZE_MAX, fp, &count) : REAL(fgetws_unlocked)(ws, n, fp);
}

/* The fortified fgetws: as the C library's, it reads at most size characters and
 * fails only when the line did not fit the buffer. */
static wchar_t *get_line_checked(struct stream_wide *w, wchar_t *ws, size_t size, int n, FILE *fp)
{
	size_t count;
	wchar_t *r = get_line(w, ws, n, size, fp, &count);
	if (r && count >= size)
		__chk_fail();
	return r;
}

EXPORT wchar_t *__fgetws_chk(wchar_t *ws, size_t size, int n, FILE *fp)
{
	struct stream_wide *w = ours(fp);
	return w ? get_line_checked(w, ws, size, n, fp) : REAL(__fgetws_chk)(ws, size, n, fp);
}

EXPORT wchar_t *__fgetws_unlocked_chk(wchar_t *ws, size_t size, int n, FILE *fp)
{
	struct stream_wide *w = ours(fp);
	return w ? get_line_checked(w, ws, size, n, fp) : REAL(__fgetws_unlocked_chk)(ws, size, n, fp);
}

EXPORT wint_t ungetwc(wint_t wc, FILE *fp)
{
	struct stream_wide *w = ours(fp);
	if (!w)
		return REAL(ungetwc)(wc, fp);
	if (wc == WEOF)
		return WEOF;
	char buf[MB_LEN_MAX];
	mbstate_t st;
	memset(&st, 0, sizeof st);
	size_t k = wcrtomb(buf, (wchar_t)wc, &st);
	if (k == (size_t)-1) {
		errno = EILSEQ;
		return WEOF;
	}
	flockfile(fp);
	wint_t r = goes_wide(w) ? wc : WEOF;
	while (k > 0 && r != WEOF) /* the last byte back first: read again in order */
		if (ungetc((unsigned char)buf[--k], fp) == EOF)
			r = WEOF;
	funlockfile(fp);
	return r;
}

EXPORT int fwide(FILE *fp, int mode)
{
	struct stream_wide *w = ours(fp);
	if (!w)
		return REAL(fwide)(fp, mode);
	flockfile(fp);
	if (w->orientation == 0 && mode != 0)
		w->orientation = mode > 0 ? 1 : -1;
	int r = w->orientation;
	funlockfile(fp);
	return r;
}

/* Wide scanf on a stream fams made: refused, once said. */
static int refuse_scan(void)
{
	static int said;
	if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		fams_error("fwscanf on a stream of a file fams may manage is not supported: refused (EINVAL); "
			   "read with fgetws and parse with swscanf");
	errno = EINVAL;
	return EOF;
}

/* The C library's headers name the ISO C99 scanf by the plain names: the plain
 * symbols (older programs') are defined under names of their own. */
int plain_vfwscanf(FILE *fp, const wchar_t *fmt, va_list ap) __asm__("vfwscanf");
int plain_fwscanf(FILE *fp, const wchar_t *fmt, ...) __asm__("fwscanf");
int plain_vwscanf(const wchar_t *fmt, va_list ap) __asm__("vwscanf");
int plain_wscanf(const wchar_t *fmt, ...) __asm__("wscanf");

typedef int vscan_fn(FILE *, const wchar_t *, va_list);

/* A wide scanf of fp: refused if fams made fp, else the C library's (*real,
 * looked up by its symbol name at the first call). */
static int scan(vscan_fn **real, const char *symbol, FILE *fp, const wchar_t *fmt, va_list ap)
{
	if (ours(fp))
		return refuse_scan();
	if (!*real)
		*real = (vscan_fn *)dlsym(RTLD_NEXT, symbol);
	return (*real)(fp, fmt, ap);
}

static vscan_fn *real_vfwscanf, *real_isoc99_vfwscanf, *real_isoc23_vfwscanf;

/* The four wide scanf calls of one spelling (on a stream, and on stdin), over the
 * C library's vfwscanf of that spelling, symbol. */
#define WIDE_SCANS(vfw, fw, vw, w, real, symbol)                                        \
	EXPORT int vfw(FILE *fp, const wchar_t *fmt, va_list ap)                         \
	{                                                                                \
		return scan(&real, symbol, fp, fmt, ap);                                 \
	}                                                                                \
	EXPORT int fw(FILE *fp, const wchar_t *fmt, ...)                                 \
	{                                                                                \
		va_list ap;                                                              \
		va_start(ap, fmt);                                                       \
		int n = scan(&real, symbol, fp, fmt, ap);                                \
		va_end(ap);                                                              \
		return n;                                                                \
	}                                                                                \
	EXPORT int vw(const wchar_t *fmt, va_list ap)                                    \
	{                                                                                \
		return scan(&real, symbol, stdin, fmt, ap);                              \
	}                                                                                \
	EXPORT int w(const wchar_t *fmt, ...)                                            \
	{                                                                                \
		va_list ap;                                                              \
		va_start(ap, fmt);                                                       \
		int n = scan(&real, symbol, stdin, fmt, ap);                             \
		va_end(ap);                                                              \
		return n;                                                                \
	}

WIDE_SCANS(plain_vfwscanf, plain_fwscanf, plain_vwscanf, plain_wscanf, real_vfwscanf, "vfwscanf")
WIDE_SCANS(__isoc99_vfwscanf, __isoc99_fwscanf, __isoc99_vwscanf, __isoc99_wscanf, real_isoc99_vfwscanf,
	   "__isoc99_vfwscanf")
/* The C2x spellings (the C library's headers from 2.38 name scanf so). */
WIDE_SCANS(__isoc23_vfwscanf, __isoc23_fwscanf, __isoc23_vwscanf, __isoc23_wscanf, real_isoc23_vfwscanf,
	   "__isoc23_vfwscanf")
