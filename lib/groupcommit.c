/* groupcommit.c -- commits of one file by several threads share flushes (see
 * groupcommit.h).  The queue's lock is taken after any other and held only to
 * read and change the queue: no commit runs under it. */
#include "groupcommit.h"
#include "sys.h"

#include <errno.h>

void cq_init(struct commit_queue *q)
{
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->done, NULL);
	q->busy = false;
	q->open_batch = 1;
	q->open_lo = UINT64_MAX;
	q->open_hi = 0;
	q->done_batch = 0;
	for (int i = 0; i < CQ_RESULTS; i++)
		q->results[i].batch = 0;
}

bool cq_join(struct commit_queue *q, uint64_t lo, uint64_t hi, struct cq_ticket *t)
{
	pthread_mutex_lock(&q->lock);
	t->batch = q->open_batch;
	if (fams_test_break == FAMS_BREAK_JOIN_LATE && q->busy) {
		t->batch--; /* the batch under way: it collected before we came */
		lo = q->open_lo;
		hi = q->open_hi;
	}
	if (lo < q->open_lo)
		q->open_lo = lo;
	if (hi > q->open_hi)
		q->open_hi = hi;
	while (q->done_batch < t->batch) {
		if (!q->busy) {
			/* Nobody commits: ours is the open batch (a batch closes only when
			 * its leader takes it), and we lead it. */
			q->busy = true;
			t->lo = q->open_lo;
			t->hi = q->open_hi;
			q->open_batch++;
			q->open_lo = UINT64_MAX;
			q->open_hi = 0;
			pthread_mutex_unlock(&q->lock);
			return true;
		}
		pthread_cond_wait(&q->done, &q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return false;
}

void cq_led(struct commit_queue *q, const struct cq_ticket *t, int err)
{
	pthread_mutex_lock(&q->lock);
	q->results[t->batch % CQ_RESULTS].batch = t->batch;
	q->results[t->batch % CQ_RESULTS].err = err;
	q->done_batch = t->batch;
	q->busy = false;
	pthread_cond_broadcast(&q->done);
	pthread_mutex_unlock(&q->lock);
}

int cq_outcome(struct commit_queue *q, const struct cq_ticket *t)
{
	pthread_mutex_lock(&q->lock);
	int r = q->results[t->batch % CQ_RESULTS].batch == t->batch ? q->results[t->batch % CQ_RESULTS].err : -1;
	pthread_mutex_unlock(&q->lock);
	return r;
}
