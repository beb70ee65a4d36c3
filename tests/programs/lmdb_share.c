/* lmdb_share DIR NPROCS KEYS -- LMDB with MDB_WRITEMAP written by several processes
 * at once: the parent forks NPROCS children that each open the environment in DIR
 * themselves (the parent does not touch it first; all children are released
 * together) and commit KEYS write transactions, each adding one key "p<child>-k<i>"
 * with a value derived from (child, i) and adding 1 to a shared "counter" record,
 * and pausing a few hundred microseconds between them, so the writers interleave
 * under LMDB's own writer lock (without the pause, the one holding the lock takes it
 * again at once and the children run one after the other).
 *
 * A child stops at its first error, prints it on stderr and exits 2: it reports, it
 * never retries.  The parent then opens the environment and walks every record:
 * every key of every child that exited 0 must be there with its value, every
 * per-child key present must hold its value, and the counter must equal the number
 * of per-child keys (one per committed transaction: no update lost).  Prints
 * "children ok K failed F keys_verified N counter C interleaved I" (I: the
 * transactions that found another process's commit after their child's previous
 * one) and exits 0 only when every child exited 0 and everything verified (1
 * otherwise). */
#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXVAL 256

static const MDB_val counter_key = { 7, "counter" };

/* The key of transaction i of child c. */
static size_t make_key(char *k, size_t cap, int c, int i)
{
	return (size_t)snprintf(k, cap, "p%d-k%d", c, i);
}

/* The value of transaction i of child c: a length and bytes that depend on both. */
static size_t make_val(unsigned char *v, int c, int i)
{
	size_t n = 16 + (size_t)(i * 7 + c * 13) % (MAXVAL - 16);
	for (size_t j = 0; j < n; j++)
		v[j] = (unsigned char)(c * 31 + i * 17 + j * 5 + 1);
	return n;
}

/* Report an LMDB error of child c (c < 0: the parent) and say it failed. */
static int failed(int c, const char *what, int rc)
{
	if (c >= 0)
		fprintf(stderr, "child %d (pid %d): %s: %s\n", c, (int)getpid(), what, mdb_strerror(rc));
	else
		fprintf(stderr, "parent: %s: %s\n", what, mdb_strerror(rc));
	return -1;
}

/* Open the environment in dir (64 MiB map, B-tree written through the map). */
static int open_env(MDB_env **env, const char *dir, int c)
{
	int rc;
	if ((rc = mdb_env_create(env)))
		return failed(c, "mdb_env_create", rc);
	if ((rc = mdb_env_set_mapsize(*env, 64u << 20)))
		return failed(c, "mdb_env_set_mapsize", rc);
	if ((rc = mdb_env_open(*env, dir, MDB_WRITEMAP | MDB_NOTLS, 0644)))
		return failed(c, "mdb_env_open", rc);
	return 0;
}

/* One write transaction of child c: add key i and add 1 to the counter, whose value
 * before it is left in *before. */
static int write_one(MDB_env *env, int c, int i, uint64_t *before)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)))
		return failed(c, "mdb_txn_begin", rc);
	if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)))
		goto abort;
	char k[32];
	unsigned char v[MAXVAL];
	MDB_val key = { make_key(k, sizeof k, c, i), k }, val = { make_val(v, c, i), v };
	if ((rc = mdb_put(txn, dbi, &key, &val, MDB_NOOVERWRITE)))
		goto abort;
	uint64_t n = 0;
	MDB_val ck = counter_key, cv;
	rc = mdb_get(txn, dbi, &ck, &cv);
	if (rc == 0 && cv.mv_size == sizeof n)
		memcpy(&n, cv.mv_data, sizeof n);
	else if (rc == 0)
		rc = MDB_CORRUPTED; /* a counter of the wrong size */
	if (rc && rc != MDB_NOTFOUND)
		goto abort;
	*before = n++;
	cv = (MDB_val){ sizeof n, &n };
	if ((rc = mdb_put(txn, dbi, &ck, &cv, 0)))
		goto abort;
	if ((rc = mdb_txn_commit(txn)))
		return failed(c, "mdb_txn_commit", rc);
	return 0;
abort:
	mdb_txn_abort(txn);
	return failed(c, "write transaction", rc);
}

/* Child c: wait for the start signal on go, open the environment, commit keys
 * transactions, close; count in *interleaved the transactions that found another
 * process's commit after its own previous one.  Never returns. */
static void child(const char *dir, int c, int keys, int go, uint64_t *interleaved)
{
	char b;
	if (read(go, &b, 1) < 0) { /* EOF when the parent closes its end: everyone starts */
		perror("child: waiting for the start");
		_exit(2);
	}
	close(go);
	MDB_env *env;
	if (open_env(&env, dir, c) < 0)
		_exit(2);
	uint64_t mine = 0, before = 0;
	for (int i = 0; i < keys; i++) {
		if (write_one(env, c, i, &before) < 0)
			_exit(2);
		if (i > 0 && before != mine)
			(*interleaved)++;
		mine = before + 1;
		usleep(200 + (unsigned)(i * 37 + c * 101) % 300); /* outside the lock: let the others in */
	}
	mdb_env_close(env);
	exit(0);
}

/* The key is exactly make_key's "p<c>-k<i>" for some c and i (which it sets). */
static int parse_key(const MDB_val *key, int *c, int *i)
{
	char k[32], again[32];
	if (key->mv_size == 0 || key->mv_size >= sizeof k)
		return 0;
	memcpy(k, key->mv_data, key->mv_size);
	k[key->mv_size] = 0;
	return sscanf(k, "p%d-k%d", c, i) == 2 && make_key(again, sizeof again, *c, *i) == key->mv_size &&
	       memcmp(again, k, key->mv_size) == 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: lmdb_share DIR NPROCS KEYS\n");
		return 2;
	}
	const char *dir = argv[1];
	int nprocs = atoi(argv[2]), keys = atoi(argv[3]);
	if (nprocs < 1 || keys < 1) {
		fprintf(stderr, "lmdb_share: NPROCS and KEYS must be positive\n");
		return 2;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	int go[2];
	if (pipe(go) != 0)
		return 1;
	pid_t *pids = calloc((size_t)nprocs, sizeof *pids);
	int *exited_ok = calloc((size_t)nprocs, sizeof *exited_ok);
	/* Each child's count of interleaved transactions (anonymous memory, not a file). */
	uint64_t *interleaved = mmap(NULL, (size_t)nprocs * sizeof *interleaved, PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!pids || !exited_ok || interleaved == MAP_FAILED)
		return 1;
	for (int c = 0; c < nprocs; c++) {
		pids[c] = fork();
		if (pids[c] < 0) {
			perror("fork");
			return 1;
		}
		if (pids[c] == 0) {
			close(go[1]);
			child(dir, c, keys, go[0], &interleaved[c]);
		}
	}
	close(go[0]);
	close(go[1]); /* release them all at once */
	int ok = 0, nfailed = 0, status;
	for (int c = 0; c < nprocs; c++) {
		if (waitpid(pids[c], &status, 0) != pids[c]) {
			perror("waitpid");
			return 1;
		}
		exited_ok[c] = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		exited_ok[c] ? ok++ : nfailed++;
		if (!WIFEXITED(status))
			fprintf(stderr, "child %d killed by signal %d\n", c, WTERMSIG(status));
	}

	MDB_env *env;
	if (open_env(&env, dir, -1) < 0)
		return 1;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	int rc, good = 1;
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) || (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) ||
	    (rc = mdb_cursor_open(txn, dbi, &cur))) {
		failed(-1, "reading back", rc);
		return 1;
	}
	/* Every record: a per-child key holding its value, or the counter. */
	uint64_t verified = 0, counter = 0, records = 0;
	int have_counter = 0;
	MDB_val key, val;
	while ((rc = mdb_cursor_get(cur, &key, &val, records ? MDB_NEXT : MDB_FIRST)) == 0) {
		records++;
		int c, i;
		unsigned char want[MAXVAL];
		if (key.mv_size == counter_key.mv_size && memcmp(key.mv_data, counter_key.mv_data, key.mv_size) == 0) {
			have_counter = val.mv_size == sizeof counter;
			if (have_counter)
				memcpy(&counter, val.mv_data, sizeof counter);
			else
				fprintf(stderr, "the counter record has %zu bytes\n", val.mv_size), good = 0;
		} else if (!parse_key(&key, &c, &i) || c < 0 || c >= nprocs || i < 0 || i >= keys) {
			fprintf(stderr, "unexpected key \"%.*s\"\n", (int)key.mv_size, (char *)key.mv_data);
			good = 0;
		} else if (val.mv_size != make_val(want, c, i) || memcmp(val.mv_data, want, val.mv_size) != 0) {
			fprintf(stderr, "key p%d-k%d has a wrong value (%zu bytes)\n", c, i, val.mv_size);
			good = 0;
		} else {
			verified++;
		}
	}
	if (rc != MDB_NOTFOUND)
		good = failed(-1, "walking the records", rc) == 0;
	/* Every key of every child that exited 0 is there. */
	for (int c = 0; c < nprocs; c++) {
		for (int i = 0; exited_ok[c] && i < keys; i++) {
			char k[32];
			key = (MDB_val){ make_key(k, sizeof k, c, i), k };
			if ((rc = mdb_get(txn, dbi, &key, &val)) != 0) {
				fprintf(stderr, "key %s of child %d (exited 0) is missing: %s\n", k, c, mdb_strerror(rc));
				good = 0;
				break;
			}
		}
	}
	if (verified && (!have_counter || counter != verified)) {
		fprintf(stderr, "counter %llu but %llu keys: updates lost\n", (unsigned long long)counter,
			(unsigned long long)verified);
		good = 0;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	uint64_t inter = 0;
	for (int c = 0; c < nprocs; c++)
		inter += interleaved[c];
	printf("children ok %d failed %d keys_verified %llu counter %llu interleaved %llu%s\n", ok, nfailed,
	       (unsigned long long)verified, (unsigned long long)counter, (unsigned long long)inter,
	       good ? "" : " CHECK FAILED");
	return good && nfailed == 0 && verified == (uint64_t)nprocs * (uint64_t)keys ? 0 : 1;
}
