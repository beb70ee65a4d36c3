/* pmdk_counter POOL N | pmdk_counter POOL -- PMDK (libpmemobj) transactions on a pool
 * file.  With N: create POOL, run N transactions that each add 1 to a counter in
 * the root object, print "committed N", then die by SIGKILL, as a crash would.
 * Without N: open POOL (PMDK checks it), print "counter C"; exit 1 if it cannot.
 *
 * PMDK maps its pool MAP_SHARED_VALIDATE | MAP_SYNC to learn whether the file is on
 * persistent memory; on a disk the kernel answers EOPNOTSUPP and PMDK makes each
 * transaction durable with msync.  Every committed transaction must survive. */
#include <libpmemobj.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct root {
	uint64_t counter;
};

int main(int argc, char **argv)
{
	if (argc == 3) {
		long n = atol(argv[2]);
		PMEMobjpool *pop = pmemobj_create(argv[1], "fams-test", 16 << 20, 0644);
		if (!pop) {
			fprintf(stderr, "pmemobj_create: %s\n", pmemobj_errormsg());
			return 1;
		}
		PMEMoid root = pmemobj_root(pop, sizeof(struct root));
		struct root *r = pmemobj_direct(root);
		for (volatile long i = 0; i < n; i++) { /* volatile: TX_BEGIN uses setjmp */
			TX_BEGIN(pop) {
				pmemobj_tx_add_range(root, 0, sizeof *r);
				r->counter++;
			} TX_ONABORT {
				fprintf(stderr, "transaction %ld aborted\n", i);
				return 1;
			} TX_END
		}
		printf("committed %ld\n", n);
		fflush(stdout);
		raise(SIGKILL);
	}
	if (argc != 2) {
		fprintf(stderr, "usage: pmdk_counter POOL [N]\n");
		return 2;
	}
	PMEMobjpool *pop = pmemobj_open(argv[1], "fams-test");
	if (!pop) {
		fprintf(stderr, "pmemobj_open: %s\n", pmemobj_errormsg());
		return 1;
	}
	struct root *r = pmemobj_direct(pmemobj_root(pop, sizeof(struct root)));
	printf("counter %llu\n", (unsigned long long)r->counter);
	pmemobj_close(pop);
	return 0;
}
