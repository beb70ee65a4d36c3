/* lmdb_counter DIR run [async] | lmdb_counter DIR check N [async] -- LMDB with
 * MDB_WRITEMAP (its B-tree written through a writable shared mapping, msync'ed at
 * each commit; with async, MDB_MAPASYNC: msync(MS_ASYNC)).
 * run: commit transactions that each add the next key (and rewrite a "last"
 * record) until killed, printing each committed number on stdout.  check: open
 * the environment, walk every record, and require keys 1..last with no gaps,
 * last >= N (the last number a run printed: no committed transaction lost; not
 * with async, where a commit promises no durability and a kill may take the last
 * ones) and the "last" record equal to the key count.  Exit 0 when all holds. */
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(rc, what)                                                                        \
	do {                                                                                   \
		int r_ = (rc);                                                                 \
		if (r_) {                                                                      \
			fprintf(stderr, "%s: %s\n", what, mdb_strerror(r_));                   \
			exit(1);                                                               \
		}                                                                              \
	} while (0)

static MDB_env *open_env(const char *dir, bool async)
{
	MDB_env *env;
	CHECK(mdb_env_create(&env), "mdb_env_create");
	CHECK(mdb_env_set_mapsize(env, 64u << 20), "mdb_env_set_mapsize");
	CHECK(mdb_env_open(env, dir, MDB_WRITEMAP | MDB_NOTLS | (async ? MDB_MAPASYNC : 0), 0644), "mdb_env_open");
	return env;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	bool run = strcmp(argv[2], "run") == 0;
	bool async = argc > (run ? 3 : 4) && strcmp(argv[run ? 3 : 4], "async") == 0;
	MDB_env *env = open_env(argv[1], async);
	MDB_txn *txn;
	MDB_dbi dbi;
	if (run) {
		char pad[200];
		memset(pad, 'v', sizeof pad);
		for (uint64_t i = 1;; i++) {
			CHECK(mdb_txn_begin(env, NULL, 0, &txn), "begin");
			CHECK(mdb_dbi_open(txn, NULL, 0, &dbi), "dbi");
			char k[32];
			snprintf(k, sizeof k, "key%012llu", (unsigned long long)i);
			MDB_val key = { strlen(k), k }, val = { sizeof pad, pad };
			CHECK(mdb_put(txn, dbi, &key, &val, 0), "put");
			MDB_val lk = { 4, "last" }, lv = { sizeof i, &i };
			CHECK(mdb_put(txn, dbi, &lk, &lv, 0), "put last");
			CHECK(mdb_txn_commit(txn), "commit");
			printf("%llu\n", (unsigned long long)i);
			fflush(stdout);
		}
	}
	uint64_t want = argc > 3 ? strtoull(argv[3], NULL, 10) : 0, n = 0, last = 0;
	CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "begin");
	CHECK(mdb_dbi_open(txn, NULL, 0, &dbi), "dbi");
	MDB_cursor *c;
	CHECK(mdb_cursor_open(txn, dbi, &c), "cursor");
	MDB_val key, val;
	int rc;
	while ((rc = mdb_cursor_get(c, &key, &val, n ? MDB_NEXT : MDB_FIRST)) == 0) {
		if (key.mv_size == 4 && memcmp(key.mv_data, "last", 4) == 0) {
			memcpy(&last, val.mv_data, sizeof last);
			continue;
		}
		char k[32];
		snprintf(k, sizeof k, "key%012llu", (unsigned long long)(n + 1));
		if (key.mv_size != strlen(k) || memcmp(key.mv_data, k, key.mv_size) != 0) {
			fprintf(stderr, "record %llu is not %s\n", (unsigned long long)n + 1, k);
			return 1;
		}
		n++;
	}
	if (rc != MDB_NOTFOUND)
		CHECK(rc, "cursor walk");
	printf("records %llu last %llu committed-before-kill %llu\n", (unsigned long long)n,
	       (unsigned long long)last, (unsigned long long)want);
	return n == last && (n >= want || async) ? 0 : 1;
}
