/* The wide-character stdio calls work on the streams fams makes for files it may
 * manage (every stream that writes a regular file), as on the C library's own:
 * fwprintf, fputws, fputwc and putwc write the locale's multibyte bytes (into the
 * working copy once the file is mapped: the mapping sees them after fflush, the
 * file after the commit); fgetwc, fgetws and ungetwc read them back; fwide reports
 * the stream wide.  Wide scanf on such a stream is refused with EINVAL (a fams:
 * line).  Unencodable characters, undecodable bytes and a thread holding the
 * stream's lock across wide calls during a freopen behave as with the C
 * library's streams.  So do wprintf and putwchar when the program assigned such a stream
 * to stdout.  Streams fams does not make are the C library's. */
#include "check.h"
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <wchar.h>

/* As a wide stream does: characters the locale cannot encode are written as
 * their transliteration (the call succeeds, errno untouched); bytes that are no
 * character stop a read with EILSEQ and the error indicator, and stay unread. */
static void conversions(const char *path)
{
	CHECK(setlocale(LC_ALL, "C") != NULL);
	FILE *fp = fopen(path, "w+");
	CHECK(fp != NULL);
	errno = 0;
	CHECK(fwprintf(fp, L"\u00a9\u00e9") == 2 && errno == 0 && !ferror(fp));
	CHECK(fflush(fp) == 0);
	char got[16] = { 0 };
	CHECK(raw_pread_path(path, got, sizeof got, 0) == 4 && memcmp(got, "(C)?", 4) == 0);
	CHECK(setlocale(LC_ALL, "C.UTF-8") != NULL);
	CHECK(fseek(fp, 0, SEEK_SET) == 0 && fputs("ab\xff" "c", fp) >= 0 && fflush(fp) == 0 && fseek(fp, 0, SEEK_SET) == 0);
	CHECK(fgetwc(fp) == L'a' && fgetwc(fp) == L'b');
	errno = 0;
	CHECK(fgetwc(fp) == WEOF && errno == EILSEQ && ferror(fp) && !feof(fp) && ftell(fp) == 2);
	clearerr(fp);
	wchar_t one[1] = { L'x' };
	CHECK(fgetws(one, 1, fp) == one && one[0] == L'\0'); /* n == 1: the empty string */
	CHECK(fclose(fp) == 0);
	unlink(path);
}

/* A thread holding a stream's lock across wide calls while another freopens it:
 * neither waits for ever (fams's lookup of its stream takes no lock). */
static FILE *contended;
static void *wide_under_lock(void *arg)
{
	for (int i = 0; i < 2000; i++) {
		flockfile(contended);
		fputwc(L'x', contended);
		fputwc(L'\n', contended);
		funlockfile(contended);
	}
	return arg;
}

static void locked_while_reopened(const char *path)
{
	contended = fopen(path, "w");
	CHECK(contended != NULL);
	pthread_t t;
	alarm(60); /* a deadlock fails the test */
	CHECK(pthread_create(&t, NULL, wide_under_lock, NULL) == 0);
	for (int i = 0; i < 200; i++)
		CHECK(freopen(path, "w", contended) == contended);
	CHECK(pthread_join(t, NULL) == 0);
	alarm(0);
	CHECK(fclose(contended) == 0);
	unlink(path);
}

int main(void)
{
	if (!setlocale(LC_ALL, "C.UTF-8"))
		SKIP("no C.UTF-8 locale on this system");
	const char *path = test_path("wide_stream");
	conversions(path);
	locked_while_reopened(path);
	CHECK(setlocale(LC_ALL, "C.UTF-8") != NULL);
	FILE *fp = fopen(path, "w+");
	CHECK(fp != NULL);
	CHECK(fwide(fp, 0) == 0);
	CHECK(fwprintf(fp, L"h\u00e9llo %d\n", 42) == 9); /* wide characters, not bytes */
	CHECK(fputws(L"\u03bb\u2192\n", fp) >= 0);
	CHECK(fputwc(L'\u00fc', fp) == L'\u00fc' && putwc(L'\n', fp) == L'\n');
	CHECK(fwide(fp, 0) > 0);
	CHECK(fflush(fp) == 0);
	const char expect[] = "h\xc3\xa9llo 42\n\xce\xbb\xe2\x86\x92\n\xc3\xbc\n";
	const size_t len = sizeof expect - 1;
	char got[64] = { 0 };
	CHECK(raw_pread_path(path, got, sizeof got, 0) == (ssize_t)len && memcmp(got, expect, len) == 0);

	/* Mapped: the file is managed, the stream writes the working copy. */
	int fd = fileno(fp);
	CHECK(ftruncate(fd, PG) == 0);
	char *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	CHECK(fseek(fp, (long)len, SEEK_SET) == 0);
	CHECK(fwprintf(fp, L"\u00df%ls", L"\u00e5") == 2 && fflush(fp) == 0);
	CHECK(memcmp(m + len, "\xc3\x9f\xc3\xa5", 4) == 0);
	CHECK(file_byte_is(path, (off_t)len, 0)); /* not before the commit */
	CHECK(msync(m, PG, MS_SYNC) == 0);
	CHECK(file_byte_is(path, (off_t)len, (char)0xc3) && file_byte_is(path, (off_t)len + 3, (char)0xa5));

	/* Read back, a character at a time, a line at a time, one pushed back. */
	rewind(fp);
	wchar_t line[32];
	CHECK(fgetws(line, 32, fp) == line && wcscmp(line, L"h\u00e9llo 42\n") == 0);
	CHECK(fgetwc(fp) == L'\u03bb');
	CHECK(ungetwc(L'\u03bb', fp) == L'\u03bb');
	CHECK(getwc(fp) == L'\u03bb' && fgetwc(fp) == L'\u2192' && fgetwc(fp) == L'\n');
	CHECK(fgetws(line, 3, fp) == line && wcscmp(line, L"\u00fc\n") == 0);
	CHECK(fgetws(line, 32, fp) == line && wcsncmp(line, L"\u00df\u00e5", 2) == 0);

	/* Wide scanf is refused on such a stream, said with errno. */
	rewind(fp);
	int n = 0;
	errno = 0;
	CHECK(fwscanf(fp, L"%d", &n) == EOF && errno == EINVAL);

	/* stdin assigned a stream of the managed file: getwchar reads it, wscanf is
	 * refused as fwscanf is. */
	FILE *in = fopen(path, "r"), *saved_in = stdin;
	CHECK(in != NULL);
	stdin = in;
	wint_t first = getwchar();
	errno = 0;
	int scanned = wscanf(L"%d", &n), scan_errno = errno;
	stdin = saved_in;
	CHECK(first == L'h' && scanned == EOF && scan_errno == EINVAL && fclose(in) == 0);

	CHECK(munmap(m, PG) == 0 && fclose(fp) == 0);
	/* stdout assigned such a stream: wprintf and putwchar write it. */
	const char *out = test_path("wide_stdout");
	FILE *o = fopen(out, "w"), *saved = stdout;
	CHECK(o != NULL);
	stdout = o;
	int printed = wprintf(L"%ls", L"\u00e9");
	wint_t put = putwchar(L'\n');
	stdout = saved;
	CHECK(printed == 1 && put == L'\n' && fclose(o) == 0);
	CHECK(raw_pread_path(out, got, sizeof got, 0) == 3 && memcmp(got, "\xc3\xa9\n", 3) == 0);
	unlink(out);

	/* A wide stream of the C library's: its own calls. */
	wchar_t *text = NULL;
	size_t size = 0;
	FILE *mem = open_wmemstream(&text, &size);
	CHECK(mem != NULL && fwprintf(mem, L"%dé", 7) == 2 && fclose(mem) == 0);
	CHECK(size == 2 && wcscmp(text, L"7é") == 0);
	free(text);
	unlink(path);
	return 0;
}
