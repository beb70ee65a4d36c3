/* ofd_lock.c -- OFD locks (F_OFD_SETLKW) as a commit lock between processes: uncontended cost on ext4 and tmpfs, release on SIGKILL, contended handoff. */
#include <errno.h>
#include "probe.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_UNCONT 20000
#define N_HAND 2000

static int lk(int fd, int cmd, short type)
{
	struct flock f = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1, .l_pid = 0 };
	return fcntl(fd, cmd, &f) < 0 ? errno : 0;
}

static const char *path;
/* When set, the holder maps this (parent-owned, populated) memfd and touches every page
 * before locking: its death then has page tables to tear down. */
static int big_fd = -1;
#define BIG (256UL << 20)

static double uncontended(void)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	static double t[N_UNCONT];
	for (int i = 0; i < N_UNCONT; i++) {
		double t0 = now_us();
		if (lk(fd, F_OFD_SETLKW, F_WRLCK) || lk(fd, F_OFD_SETLK, F_UNLCK))
			exit(1);
		t[i] = now_us() - t0;
	}
	close(fd);
	return median(t, N_UNCONT);
}

/* A child (its own open file description) takes the lock and waits; returns its pid. */
static pid_t holder(void)
{
	int p[2];
	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		if (big_fd >= 0) {
			volatile char *m = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_SHARED, big_fd, 0);
			for (size_t i = 0; i < BIG; i += 4096)
				m[i] = 1;
		}
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (lk(fd, F_OFD_SETLKW, F_WRLCK))
			_exit(1);
		write(p[1], "x", 1);
		for (;;)
			pause();
	}
	char x;
	read(p[0], &x, 1);
	close(p[0]);
	close(p[1]);
	return c;
}

struct waiter {
	int fd, r;
	double t;
};
static void *blocked_waiter(void *arg)
{
	struct waiter *w = arg;
	w->r = lk(w->fd, F_OFD_SETLKW, F_WRLCK);
	w->t = now_us();
	return NULL;
}
static char thread_state(pid_t tid)
{
	char p[64], buf[512];
	snprintf(p, sizeof p, "/proc/self/task/%d/stat", (int)tid);
	int fd = open(p, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	char *q = strrchr(buf, ')');
	return q ? q[2] : '?';
}
struct waiter2 {
	struct waiter w;
	volatile pid_t tid;
};
static void *blocked_waiter2(void *arg)
{
	struct waiter2 *w = arg;
	w->tid = gettid();
	return blocked_waiter(&w->w);
}

/* Handoff between two processes, each with its own open file description. */
struct shared {
	volatile int owner, want[2];
	double t_unlock;
	double lat[2][N_HAND];
};
static struct shared *sh;
static int statfd[2], hfd;
static void wait_asleep(int who) { wait_until_asleep(&sh->want[who], statfd[who]); }
static void release_to(int other)
{
	wait_asleep(other);
	sh->t_unlock = now_us();
	sh->owner = -1;
	lk(hfd, F_OFD_SETLK, F_UNLCK);
	while (sh->owner != other)
		__builtin_ia32_pause();
}
static void acquire(int me, int r)
{
	sh->want[me] = 1;
	if (lk(hfd, F_OFD_SETLKW, F_WRLCK))
		exit(1);
	sh->lat[me][r] = now_us() - sh->t_unlock;
	sh->owner = me;
}
static void open_stats(pid_t *pids)
{
	for (int i = 0; i < 2; i++) {
		char p[64];
		snprintf(p, sizeof p, "/proc/%d/stat", (int)pids[i]);
		statfd[i] = open(p, O_RDONLY);
	}
}

static void run(const char *fs, const char *p)
{
	path = p;
	printf("RESULT ofd_uncontended_lock_unlock_%s %.2f us\n", fs, uncontended());

	/* Holder SIGKILLed. */
	int fd = open(path, O_RDWR | O_CLOEXEC);
	pid_t c = holder();
	int busy = lk(fd, F_OFD_SETLK, F_WRLCK);
	struct flock g = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	fcntl(fd, F_OFD_GETLK, &g);
	kill(c, SIGKILL);
	int imm = lk(fd, F_OFD_SETLK, F_WRLCK);
	if (!imm)
		lk(fd, F_OFD_SETLK, F_UNLCK);
	siginfo_t si;
	waitid(P_PID, c, &si, WEXITED | WNOWAIT);
	int zombie = lk(fd, F_OFD_SETLK, F_WRLCK);
	lk(fd, F_OFD_SETLK, F_UNLCK);
	waitpid(c, NULL, 0);
	printf("RESULT ofd_%s_while_held %d errno  # %s, GETLK l_pid=%d\n", fs, busy, strerrorname_np(busy), (int)g.l_pid);
	printf("RESULT ofd_%s_after_sigkill_zombie_setlk %d errno  # %s (right after kill(): %s)\n", fs, zombie,
	       zombie ? strerrorname_np(zombie) : "acquired", imm ? strerrorname_np(imm) : "acquired");

	/* A waiter blocked in F_OFD_SETLKW when the holder is killed (holder small, then with 256 MiB mapped). */
	for (int big = 0; big < 2; big++) {
	double lat[20];
	int ok = 1;
	if (big) {
		big_fd = memfd_create("big", MFD_CLOEXEC);
		ftruncate(big_fd, BIG);
		char *m = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_SHARED, big_fd, 0);
		memset(m, 1, BIG);
		munmap(m, BIG);
	}
	for (int i = 0; i < 20; i++) {
		c = holder();
		struct waiter2 w = { { fd, -1, 0 }, 0 };
		pthread_t th;
		pthread_create(&th, NULL, blocked_waiter2, &w);
		while (!w.tid)
			usleep(100);
		while (thread_state(w.tid) != 'S')
			usleep(100);
		usleep(1000);
		double t0 = now_us();
		kill(c, SIGKILL);
		pthread_join(th, NULL);
		lat[i] = w.w.t - t0;
		ok &= w.w.r == 0;
		lk(fd, F_OFD_SETLK, F_UNLCK);
		waitpid(c, NULL, 0);
	}
	printf("RESULT ofd_%s_blocked_waiter_acquires_on_kill %d bool\n", fs, ok);
	printf("RESULT ofd_%s_kill_to_blocked_waiter_acquired%s_us %.1f us\n", fs,
	       big_fd >= 0 ? "_holder_256MiB_mapped" : "", median(lat, 20));
	}
	close(fd);
	close(big_fd);
	big_fd = -1;

	/* Contended handoff. */
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[2] = { getpid(), 0 };
	hfd = open(path, O_RDWR | O_CLOEXEC);
	lk(hfd, F_OFD_SETLKW, F_WRLCK);
	sh->owner = 0;
	c = fork();
	if (c == 0) {
		close(hfd);
		hfd = open(path, O_RDWR | O_CLOEXEC); /* its own open file description */
		pids[1] = getpid();
		open_stats(pids);
		acquire(1, 0);
		for (int r = 1; r < N_HAND; r++) {
			release_to(0);
			acquire(1, r);
		}
		release_to(0);
		_exit(0);
	}
	pids[1] = c;
	open_stats(pids);
	for (int r = 0; r < N_HAND; r++) {
		release_to(1);
		acquire(0, r);
	}
	lk(hfd, F_OFD_SETLK, F_UNLCK);
	waitpid(c, NULL, 0);
	close(hfd);
	close(statfd[0]);
	close(statfd[1]);
	static double all[2 * N_HAND];
	memcpy(all, sh->lat[0], sizeof sh->lat[0]);
	memcpy(all + N_HAND, sh->lat[1], sizeof sh->lat[1]);
	printf("RESULT ofd_%s_contended_handoff_unlock_to_lock_us %.2f us\n", fs, median(all, 2 * N_HAND));
	munmap(sh, sizeof *sh);
	unlink(path);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	run("ext4", "/tmp/fams-ofd-probe.lock");
	run("tmpfs", "/dev/shm/fams-ofd-probe.lock");
	return 0;
}
