/* robust_mutex.c -- robust process-shared pthread mutex in a MAP_SHARED memfd page: uncontended cost, EOWNERDEAD on holder death, contended handoff between processes. */
#include <errno.h>
#include "probe.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_UNCONT 5000000
#define N_HAND 3000
#define FUTEX_WAITERS 0x80000000u

struct shared {
	pthread_mutex_t m;
	pthread_mutex_t plain; /* process-shared, not robust, for comparison */
	volatile int owner;    /* who holds m in the handoff test: 0 or 1, -1 none */
	volatile int want[2];  /* process i is about to call lock() */
	double t_unlock;
	double lat[2][N_HAND];
};
static struct shared *sh;

static void die_with(const char *what, int e)
{
	fprintf(stderr, "%s: %s\n", what, strerror(e));
	exit(1);
}
static void init_mutex(pthread_mutex_t *m, int robust)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (robust)
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	int e = pthread_mutex_init(m, &a);
	if (e)
		die_with("pthread_mutex_init", e);
	pthread_mutexattr_destroy(&a);
}

static double uncontended_ns(pthread_mutex_t *m)
{
	double r[5];
	for (int b = 0; b < 5; b++) {
		double t0 = now_us();
		for (int i = 0; i < N_UNCONT; i++) {
			pthread_mutex_lock(m);
			pthread_mutex_unlock(m);
		}
		r[b] = (now_us() - t0) * 1000 / N_UNCONT;
	}
	return median(r, 5);
}

/* A child takes the lock, then dies in the given way; returns the next locker's lock() result. */
static int child_dies_holding(int how)
{
	int p[2];
	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		pthread_mutex_lock(&sh->m);
		write(p[1], "x", 1);
		if (how == 1)
			execl("/bin/sleep", "sleep", "100", (char *)NULL);
		for (;;)
			pause();
	}
	char x;
	read(p[0], &x, 1);
	int busy = pthread_mutex_trylock(&sh->m);
	usleep(20000);
	kill(c, SIGKILL); /* for the exec case: kill the new image, lock already released at exec */
	waitpid(c, NULL, 0);
	close(p[0]);
	close(p[1]);
	int r = pthread_mutex_lock(&sh->m);
	if (busy != EBUSY)
		fprintf(stderr, "trylock while held: %d\n", busy);
	return r;
}

static void *thread_locks_and_exits(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sh->m);
	return NULL;
}

struct waiter {
	int r;
	double t;
};
static void *blocked_waiter(void *arg)
{
	struct waiter *w = arg;
	w->r = pthread_mutex_lock(&sh->m);
	w->t = now_us();
	return NULL;
}

/* The holder waits until the other process is asleep in the kernel inside lock() (state S in
 * /proc/<pid>/stat after it announced it), then unlocks; the other's lock() return is timed. */
static pid_t pids[2];
static int statfd[2];
static void wait_asleep(int who) { wait_until_asleep(&sh->want[who], statfd[who]); }
static void release_to(int other)
{
	wait_asleep(other);
	sh->t_unlock = now_us();
	sh->owner = -1;
	pthread_mutex_unlock(&sh->m);
	while (sh->owner != other) /* no stealing: let the other take it first */
		__builtin_ia32_pause();
}
static void acquire(int me, int r)
{
	sh->want[me] = 1;
	pthread_mutex_lock(&sh->m);
	sh->lat[me][r] = now_us() - sh->t_unlock;
	sh->owner = me;
}
static void open_stats(void)
{
	for (int i = 0; i < 2; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pids[i]);
		statfd[i] = open(path, O_RDONLY);
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int mfd = memfd_create("fams-lock", MFD_CLOEXEC);
	ftruncate(mfd, sizeof *sh);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	init_mutex(&sh->m, 1);
	init_mutex(&sh->plain, 0);

	printf("RESULT robust_pshared_uncontended_lock_unlock %.1f ns\n", uncontended_ns(&sh->m));
	printf("RESULT plain_pshared_uncontended_lock_unlock %.1f ns\n", uncontended_ns(&sh->plain));

	/* Holder SIGKILLed. */
	int r = child_dies_holding(0);
	int c = r == EOWNERDEAD ? pthread_mutex_consistent(&sh->m) : -1;
	pthread_mutex_unlock(&sh->m);
	int r2 = pthread_mutex_lock(&sh->m);
	pthread_mutex_unlock(&sh->m);
	printf("RESULT sigkill_holder_next_lock %d errno  # %s; consistent=%d; next lock=%d\n", r, strerrorname_np(r), c,
	       r2);
	/* Holder execs. */
	r = child_dies_holding(1);
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&sh->m);
	pthread_mutex_unlock(&sh->m);
	printf("RESULT exec_holder_next_lock %d errno  # %s\n", r, r ? strerrorname_np(r) : "0");
	/* Holder thread exits (process lives on). */
	pthread_t th;
	pthread_create(&th, NULL, thread_locks_and_exits, NULL);
	pthread_join(th, NULL);
	r = pthread_mutex_lock(&sh->m);
	if (r == EOWNERDEAD)
		pthread_mutex_consistent(&sh->m);
	pthread_mutex_unlock(&sh->m);
	printf("RESULT thread_exit_holder_next_lock %d errno  # %s\n", r, r ? strerrorname_np(r) : "0");
	/* A waiter already blocked in lock() when the holder is killed: how long until it gets EOWNERDEAD.
	 * Then again with a holder that has a 256 MiB populated shared mapping (page tables to tear down). */
	for (int big = 0; big < 2; big++) {
		double lat[20];
		int ok = 1;
		int big_fd = -1;
		const size_t BIG = 256UL << 20;
		if (big) {
			big_fd = memfd_create("big", MFD_CLOEXEC);
			ftruncate(big_fd, BIG);
			char *m = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_SHARED, big_fd, 0);
			memset(m, 1, BIG);
			munmap(m, BIG);
		}
		for (int i = 0; i < 20; i++) {
			int p[2];
			pipe(p);
			pid_t ch = fork();
			if (ch == 0) {
				if (big) {
					volatile char *m = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_SHARED, big_fd, 0);
					for (size_t j = 0; j < BIG; j += 4096)
						m[j] = 1;
				}
				pthread_mutex_lock(&sh->m);
				write(p[1], "x", 1);
				for (;;)
					pause();
			}
			char x;
			read(p[0], &x, 1);
			struct waiter w = { -1, 0 };
			pthread_create(&th, NULL, blocked_waiter, &w);
			while (!(__atomic_load_n((unsigned *)&sh->m.__data.__lock, __ATOMIC_ACQUIRE) & FUTEX_WAITERS))
				usleep(100);
			double t0 = now_us();
			kill(ch, SIGKILL);
			pthread_join(th, NULL);
			lat[i] = w.t - t0;
			ok &= w.r == EOWNERDEAD;
			pthread_mutex_consistent(&sh->m);
			pthread_mutex_unlock(&sh->m);
			waitpid(ch, NULL, 0);
			close(p[0]);
			close(p[1]);
		}
		printf("RESULT blocked_waiter_gets_EOWNERDEAD%s %d bool\n", big ? "_holder_256MiB_mapped" : "", ok);
		printf("RESULT kill_to_blocked_waiter_EOWNERDEAD%s_us %.1f us\n", big ? "_holder_256MiB_mapped" : "",
		       median(lat, 20));
		if (big_fd >= 0)
			close(big_fd);
	}
	/* Owner died and the next locker unlocks without pthread_mutex_consistent: unrecoverable. */
	{
		init_mutex(&sh->m, 1);
		r = child_dies_holding(0);
		pthread_mutex_unlock(&sh->m);
		r2 = pthread_mutex_lock(&sh->m);
		printf("RESULT no_consistent_then_lock %d errno  # %s then %s\n", r2, strerrorname_np(r),
		       strerrorname_np(r2));
		pthread_mutex_destroy(&sh->m);
		init_mutex(&sh->m, 1);
	}

	/* Contended handoff between two processes: unlock (with the other asleep on the lock) -> the other's lock() returns. */
	pthread_mutex_lock(&sh->m);
	sh->owner = 0;
	pids[0] = getpid();
	pid_t ch = fork();
	if (ch == 0) {
		pids[1] = getpid();
		open_stats();
		acquire(1, 0);
		for (int r = 1; r < N_HAND; r++) {
			release_to(0);
			acquire(1, r);
		}
		release_to(0);
		_exit(0);
	}
	pids[1] = ch;
	open_stats();
	for (int r = 0; r < N_HAND; r++) {
		release_to(1);
		acquire(0, r);
	}
	pthread_mutex_unlock(&sh->m);
	waitpid(ch, NULL, 0);
	static double all[2 * N_HAND];
	memcpy(all, sh->lat[0], sizeof sh->lat[0]);
	memcpy(all + N_HAND, sh->lat[1], sizeof sh->lat[1]);
	printf("RESULT robust_contended_handoff_unlock_to_lock_us %.2f us\n", median(all, 2 * N_HAND));
	return 0;
}
