/* The commit lock after a holder killed inside pthread_mutex_unlock: the lock word
 * is free, a waiter asleep on it was never woken, and the kernel's robust-list
 * cleanup does nothing (the dead thread no longer owns the lock).  The waiter must
 * still get the lock (lib/shared.c: shared_lock wakes to try again); with a plain
 * pthread_mutex_lock it sleeps for ever.  The death inside unlock is made exactly:
 * the holder frees the lock word by hand, without the wake, and exits. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/futex.h>
#include <unistd.h>

#include "engine_harness.h"
#include "shared.h"
#include "sys.h"

int main(void)
{
	struct fams_identity id = { 1, 2, 3, 0 };
	int fd;
	struct fams_shared *sh = shared_create(&fd, &id, 4096);
	if (!sh)
		FAIL("shared_create: %s", strerror(errno));
	int rounds = 20;
	for (int r = 0; r < rounds; r++) {
		int ready[2];
		if (pipe(ready) < 0)
			FAIL("pipe");
		pid_t holder = fork();
		if (holder == 0) {
			if (shared_lock(sh) != 0)
				_exit(2);
			if (write(ready[1], "h", 1) != 1)
				_exit(2);
			/* Wait until the waiter sleeps on the lock: it sets the waiters bit. */
			for (int i = 0; i < 5000 && !(__atomic_load_n(&sh->lock.__data.__lock, __ATOMIC_ACQUIRE) & FUTEX_WAITERS); i++)
				usleep(1000);
			/* Killed inside unlock: the word freed, nobody woken. */
			__atomic_store_n(&sh->lock.__data.__lock, 0, __ATOMIC_RELEASE);
			_exit(0);
		}
		char c;
		if (read(ready[0], &c, 1) != 1)
			FAIL("holder did not lock");
		pid_t waiter = fork();
		if (waiter == 0) {
			alarm(10);
			int got = shared_lock(sh);
			if (got != 0 && got != EOWNERDEAD)
				_exit(3);
			shared_unlock(sh);
			_exit(0);
		}
		int st;
		if (waitpid(holder, &st, 0) != holder || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			FAIL("round %d: the holder failed", r);
		if (waitpid(waiter, &st, 0) != waiter)
			FAIL("waitpid");
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
			FAIL("round %d: the waiter slept 10 s on a free lock (lost wakeup)", r);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			FAIL("round %d: the waiter failed (%d)", r, st);
		close(ready[0]);
		close(ready[1]);
	}
	printf("%d holders freed the commit lock without waking its waiter; each waiter got it\n", rounds);
	return 0;
}
