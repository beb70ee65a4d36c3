/* gdbm_counter write DB EVERY | check DB -- GNU dbm, which updates its file through a
 * shared mapping (gdbm 1.9 and later, unless GDBM_NOMMAP), killed at random.
 *
 * write: opens DB (created if need be), and from the records it holds (n), stores
 * record n, n+1, ... for ever, calling gdbm_sync after every EVERY stores and then
 * printing "synced N" (N records, durable: gdbm_sync is msync and fsync).
 * check: opens DB for reading and walks it.  Prints "records N" and exits 0 when it
 * holds exactly records 0 .. N-1, each with its value; "torn: ..." and exits 2 when
 * it cannot be opened or walked, or holds anything else.
 *
 * Record i: key "k%08d", value of 20 to 919 bytes, each byte a function of i and its
 * place, so buckets split and the file grows as records come. */
#include <errno.h>
#include <gdbm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECORDS 1000000

static size_t value_len(long i) { return (size_t)(i * 37 % 900) + 20; }

/* Record i's key into buf (12 bytes at least). */
static datum key_of(long i, char *buf)
{
	int n = snprintf(buf, 16, "k%08ld", i);
	return (datum){ buf, n };
}

/* Record i's value into buf (920 bytes at least). */
static datum value_of(long i, char *buf)
{
	size_t n = value_len(i);
	for (size_t j = 0; j < n; j++)
		buf[j] = (char)('a' + (i * 7 + (long)j * 13) % 26);
	return (datum){ buf, (int)n };
}

/* The record number a key names, or -1 if it names none. */
static long index_of(datum k)
{
	if (k.dsize != 9 || k.dptr[0] != 'k')
		return -1;
	long i = 0;
	for (int j = 1; j < 9; j++) {
		if (k.dptr[j] < '0' || k.dptr[j] > '9')
			return -1;
		i = i * 10 + (k.dptr[j] - '0');
	}
	return i;
}

static void no_fatal(const char *msg) { fprintf(stderr, "gdbm: %s\n", msg); }

static int write_forever(const char *db, long every)
{
	GDBM_FILE f = gdbm_open(db, 0, GDBM_WRCREAT, 0644, no_fatal);
	if (!f)
		return fprintf(stderr, "open %s: %s\n", db, gdbm_strerror(gdbm_errno)), 1;
	gdbm_count_t n = 0;
	if (gdbm_count(f, &n) != 0)
		return fprintf(stderr, "count: %s\n", gdbm_strerror(gdbm_errno)), 1;
	char kb[16], vb[1024];
	for (long i = (long)n; i < MAX_RECORDS; i++) {
		if (gdbm_store(f, key_of(i, kb), value_of(i, vb), GDBM_REPLACE) != 0)
			return fprintf(stderr, "store %ld: %s\n", i, gdbm_strerror(gdbm_errno)), 1;
		if ((i + 1) % every == 0) {
			if (gdbm_sync(f) != 0)
				return fprintf(stderr, "sync: %s\n", gdbm_strerror(gdbm_errno)), 1;
			printf("synced %ld\n", i + 1);
			fflush(stdout);
		}
	}
	gdbm_close(f);
	return 0;
}

static int check(const char *db)
{
	GDBM_FILE f = gdbm_open(db, 0, GDBM_READER, 0, no_fatal);
	if (!f)
		return printf("torn: open: %s\n", gdbm_strerror(gdbm_errno)), 2;
	static unsigned char seen[MAX_RECORDS];
	long count = 0, max = -1;
	char vb[1024];
	datum k = gdbm_firstkey(f);
	while (k.dptr) {
		long i = index_of(k);
		if (i < 0 || i >= MAX_RECORDS || seen[i])
			return printf("torn: a foreign or repeated key (%.*s)\n", k.dsize, k.dptr), 2;
		seen[i] = 1;
		datum v = gdbm_fetch(f, k);
		datum want = value_of(i, vb);
		if (!v.dptr || v.dsize != want.dsize || memcmp(v.dptr, want.dptr, (size_t)v.dsize) != 0)
			return printf("torn: record %ld's value\n", i), 2;
		free(v.dptr);
		count++;
		max = i > max ? i : max;
		datum next = gdbm_nextkey(f, k);
		free(k.dptr);
		k = next;
	}
	if (gdbm_errno != GDBM_NO_ERROR && gdbm_errno != GDBM_ITEM_NOT_FOUND)
		return printf("torn: walk: %s\n", gdbm_strerror(gdbm_errno)), 2;
	if (max + 1 != count)
		return printf("torn: %ld records, the highest %ld\n", count, max), 2;
	gdbm_close(f);
	printf("records %ld\n", count);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "write") == 0 && atol(argv[3]) > 0)
		return write_forever(argv[2], atol(argv[3]));
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return check(argv[2]);
	fprintf(stderr, "usage: gdbm_counter write DB EVERY | check DB\n");
	return 2;
}
