/* tdb_counter DB NPROCS ITERATIONS [chainlock|transaction] -- Samba's tdb from several
 * processes: the parent forks NPROCS children that each tdb_open DB (creating it if
 * need be; the parent does not touch it first) and add 1 to one shared counter
 * ITERATIONS times (read and write under tdb_chainlock, or each in a transaction),
 * then checks the counter and tdb_check.
 *
 * A child stops at its first error and exits 2: it reports, it never retries.  The
 * counter must equal ITERATIONS times the children that exited 0.  Prints
 * "children ok K failed F counter C" and exits 0 when the database is intact and
 * the counter is right (1 otherwise). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <tdb.h>
#include <unistd.h>

static TDB_DATA key = { (unsigned char *)"counter", 7 };

static int add_one(struct tdb_context *tdb, int transaction)
{
	if (transaction ? tdb_transaction_start(tdb) : tdb_chainlock(tdb, key))
		return -1;
	uint32_t v = 0;
	TDB_DATA d = tdb_fetch(tdb, key); /* no record yet: the counter is 0 */
	int ok = d.dptr ? d.dsize == sizeof v : tdb_error(tdb) == TDB_ERR_NOEXIST;
	if (ok) {
		if (d.dptr)
			memcpy(&v, d.dptr, sizeof v);
		v++;
		TDB_DATA nv = { (unsigned char *)&v, sizeof v };
		ok = tdb_store(tdb, key, nv, TDB_REPLACE) == 0;
	}
	free(d.dptr);
	if (transaction)
		ok = ok ? tdb_transaction_commit(tdb) == 0 : (tdb_transaction_cancel(tdb), 0);
	else
		tdb_chainunlock(tdb, key);
	return ok ? 0 : -1;
}

static void child(const char *db, int n, int transaction)
{
	struct tdb_context *tdb = tdb_open(db, 0, TDB_DEFAULT, O_RDWR | O_CREAT, 0644);
	if (!tdb) {
		fprintf(stderr, "child %d: tdb_open: %s\n", (int)getpid(), strerror(errno));
		_exit(2);
	}
	for (int i = 0; i < n; i++) {
		if (add_one(tdb, transaction) < 0) {
			fprintf(stderr, "child %d: update %d failed: %s (%s)\n", (int)getpid(), i,
				tdb_errorstr(tdb), strerror(errno));
			_exit(2);
		}
	}
	exit(tdb_close(tdb) == 0 ? 0 : 2);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: tdb_counter DB NPROCS ITERATIONS [chainlock|transaction]\n");
		return 2;
	}
	const char *db = argv[1];
	int nprocs = atoi(argv[2]), n = atoi(argv[3]);
	int transaction = argc > 4 && strcmp(argv[4], "transaction") == 0;
	for (int i = 0; i < nprocs; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0)
			child(db, n, transaction);
	}
	int ok = 0, failed = 0, status;
	while (wait(&status) > 0)
		WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ok++ : failed++;

	struct tdb_context *tdb = tdb_open(db, 0, TDB_DEFAULT, O_RDWR, 0);
	if (!tdb) {
		fprintf(stderr, "cannot reopen %s: %s\n", db, strerror(errno));
		return 1;
	}
	int intact = tdb_check(tdb, NULL, NULL) == 0;
	uint32_t v = 0;
	TDB_DATA d = tdb_fetch(tdb, key);
	if (d.dptr && d.dsize == sizeof v)
		memcpy(&v, d.dptr, sizeof v);
	free(d.dptr);
	tdb_close(tdb);
	printf("children ok %d failed %d counter %u%s\n", ok, failed, v, intact ? "" : " tdb_check FAILED");
	return intact && v == (uint32_t)ok * (uint32_t)n ? 0 : 1;
}
