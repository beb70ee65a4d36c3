/* The wide-character stdio calls work on the streams fams makes for files it may
 * manage (every stream that writes a regular file), as on the C library's own:
 * fwprintf, fputws, fputwc and putwc write the locale's multibyte bytes (into the
 * working copy once the file is mapped: the mapping sees them after fflush, the
 * file after the commit); fgetwc, fgetws and ungetwc read them back; fwide reports
 * the stream wide.  Wide scanf on such a stream is refused with EINVAL (a fams:
 * line).  So do wprintf and putwchar when the program assigned such a stream
 * to stdout.  Streams fams does not make are the C library's. */
#include "check.h"
#include <locale.h>
#include <wchar.h>

int main(void)
{
	CHECK(setlocale(LC_ALL, "C.UTF-8") != NULL);
	const char *path = test_path("wide_stream");
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
