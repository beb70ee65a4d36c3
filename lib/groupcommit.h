/* groupcommit.h -- commits of one file by several threads share flushes: a thread
 * that asks while another's commit is under way joins the next batch, and one of
 * the batch commits the union of their ranges for all of them (a group commit).
 *
 * Batches are numbered; a thread's request belongs to the batch open when it
 * arrived, which begins collecting only after it arrived, so every store the
 * thread made before asking is in it.  One batch is committed at a time (the
 * leader's); the others wait on the queue's condition, holding no other lock. */
#ifndef FAMS_GROUPCOMMIT_H
#define FAMS_GROUPCOMMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define CQ_RESULTS 64 /* outcomes kept, by batch number, for waiters to read */

struct commit_queue {
	pthread_mutex_t lock;
	pthread_cond_t done;
	bool busy;               /* a leader is committing a batch */
	uint64_t open_batch;     /* number of the batch requests join now */
	uint64_t open_lo, open_hi; /* the union of their ranges (lo > hi: none yet) */
	uint64_t done_batch;     /* the last batch committed (successfully or not) */
	struct {
		uint64_t batch;
		int err;         /* 0: committed */
	} results[CQ_RESULTS];
};

/* A thread's request: its batch, and, when it leads, the range to commit. */
struct cq_ticket {
	uint64_t batch, lo, hi;
};

void cq_init(struct commit_queue *q);
/* Ask for [lo, hi) to be committed; waits while another batch is committed.
 * Returns true when the caller leads its batch: it must commit [t->lo, t->hi) and
 * report with cq_led; false when another thread committed it: cq_outcome says
 * how. */
bool cq_join(struct commit_queue *q, uint64_t lo, uint64_t hi, struct cq_ticket *t);
/* The leader's commit of its batch ended with err (0: success): wake the batch. */
void cq_led(struct commit_queue *q, const struct cq_ticket *t, int err);
/* The outcome of the caller's batch: 0, its error, or -1 when it is no longer
 * known (too many batches since): the caller commits again on its own. */
int cq_outcome(struct commit_queue *q, const struct cq_ticket *t);

#endif
