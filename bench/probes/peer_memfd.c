/* peer_memfd.c -- reaching a peer's memfd: open("/proc/<pid>/fd/<n>") cost, coherence, other-uid errno, SCM_RIGHTS round trip. */
#include <errno.h>
#include "probe.h"
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SIZE (64UL << 20)
#define PAGE 4096UL
#define N_OPEN 2000
#define N_RT 2000
#define N_COH 1000


/* Process B: exec'd with "peer <Apid> <fdnum> <ctl>"; it did not inherit the memfd (MFD_CLOEXEC). */
static int peer(pid_t a, int n, int ctl)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)a, n);
	static double t[N_OPEN], tc[N_OPEN];
	for (int i = 0; i < N_OPEN; i++) {
		double t0 = now_us();
		int fd = open(path, O_RDWR | O_CLOEXEC);
		double t1 = now_us();
		if (fd < 0)
			die("peer open");
		close(fd);
		t[i] = t1 - t0;
		tc[i] = now_us() - t0;
	}
	printf("RESULT proc_fd_open_us %.2f us\n", median(t, N_OPEN));
	printf("RESULT proc_fd_open_close_us %.2f us\n", median(tc, N_OPEN));
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("peer open");
	uint64_t ino;
	struct stat st;
	fstat(fd, &st);
	ino = st.st_ino;
	xwrite(ctl, &ino, sizeof ino);
	volatile uint64_t *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("peer mmap");
	/* Coherence: B stores, tells A through the socket (no msync); A checks; and A stores, B checks. */
	int bad = 0;
	for (uint64_t i = 1; i <= N_COH; i++) {
		size_t slot = (i * 7919) % (SIZE / PAGE) * (PAGE / 8);
		p[slot] = i;
		xwrite(ctl, &slot, sizeof slot);
		uint64_t v;
		xread(ctl, &v, sizeof v); /* A stored v at slot + 1 */
		if (p[slot + 1] != v)
			bad++;
	}
	printf("RESULT coherence_A_sees_B_and_B_sees_A %d bool\n", bad == 0);
	/* Visibility latency without any syscall: B polls until A's store appears. */
	static double lat[N_COH];
	volatile uint64_t *flag = p + 8, *stamp = p + 9, *ack = p + 10;
	for (uint64_t i = 1; i <= N_COH; i++) {
		while (*flag != i)
			__builtin_ia32_pause();
		uint64_t s = *stamp;
		double now = now_us(), then;
		memcpy(&then, &s, sizeof then);
		lat[i - 1] = now - then;
		*ack = i;
	}
	printf("RESULT store_visible_to_peer_polling_us %.3f us\n", median(lat, N_COH));
	/* SCM_RIGHTS echo: receive the fd, send it straight back. */
	for (int i = 0; i < N_RT; i++) {
		char tag;
		int f = recv_fd(ctl, &tag, 1);
		if (f < 0)
			die("no fd");
		send_fd(ctl, f, "b", 1);
		close(f);
	}
	return 0;
}

static long capget_set(int drop_bits_mask_lo)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d))
		return -1;
	d[0].effective &= ~drop_bits_mask_lo;
	d[0].permitted &= ~drop_bits_mask_lo;
	d[0].inheritable &= ~drop_bits_mask_lo;
	return syscall(SYS_capset, &h, d);
}

/* Try the open from a forked child with other credentials; returns errno (0 = opened). */
static int try_open_as(const char *path, int mode)
{
	int pfd[2];
	if (pipe(pfd))
		die("pipe");
	pid_t c = fork();
	if (c == 0) {
		int r = 0;
		if (mode == 1) { /* uid/gid nobody: setresuid from 0 to non-0 clears all capabilities */
			if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
				r = -1000 - errno;
		} else if (mode == 2) { /* stay uid 0, drop CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH */
			if (capget_set((1 << CAP_SYS_PTRACE) | (1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH)))
				r = -1000 - errno;
		} else if (mode == 3) { /* stay uid 0, drop only CAP_SYS_PTRACE */
			if (capget_set(1 << CAP_SYS_PTRACE))
				r = -1000 - errno;
		}
		if (r == 0) {
			int fd = open(path, O_RDWR);
			r = fd < 0 ? errno : 0;
		}
		xwrite(pfd[1], &r, sizeof r);
		_exit(0);
	}
	int r;
	xread(pfd[0], &r, sizeof r);
	waitpid(c, NULL, 0);
	close(pfd[0]);
	close(pfd[1]);
	return r;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "peer"))
		return peer(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));

	int mfd = memfd_create("fams-wc", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, SIZE))
		die("memfd");
	volatile uint64_t *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	pid_t b = fork();
	if (b == 0) {
		close(sv[0]);
		char a[16], n[16], s[16];
		snprintf(a, sizeof a, "%d", (int)getppid());
		snprintf(n, sizeof n, "%d", mfd);
		snprintf(s, sizeof s, "%d", sv[1]);
		execl("/proc/self/exe", argv[0], "peer", a, n, s, (char *)NULL);
		die("exec");
	}
	close(sv[1]);
	int ctl = sv[0];
	fflush(stdout);
	uint64_t ino;
	xread(ctl, &ino, sizeof ino);
	struct stat st;
	fstat(mfd, &st);
	printf("RESULT peer_sees_same_inode %d bool\n", ino == st.st_ino);
	int bad = 0;
	for (uint64_t i = 1; i <= N_COH; i++) {
		size_t slot;
		xread(ctl, &slot, sizeof slot);
		if (p[slot] != i)
			bad++;
		p[slot + 1] = i * 3;
		uint64_t v = i * 3;
		xwrite(ctl, &v, sizeof v);
	}
	printf("RESULT coherence_B_store_seen_by_A %d bool\n", bad == 0);
	fflush(stdout);
	volatile uint64_t *flag = p + 8, *stamp = p + 9, *ack = p + 10;
	for (uint64_t i = 1; i <= N_COH; i++) {
		double t = now_us();
		uint64_t s;
		memcpy(&s, &t, sizeof s);
		*stamp = s;
		__atomic_store_n(flag, i, __ATOMIC_RELEASE);
		while (*ack != i) /* B saw it and took its timestamp */
			__builtin_ia32_pause();
	}
	static double rt[N_RT];
	for (int i = 0; i < N_RT; i++) {
		double t0 = now_us();
		send_fd(ctl, mfd, "a", 1);
		char tag;
		int f = recv_fd(ctl, &tag, 1);
		rt[i] = now_us() - t0;
		if (f < 0)
			die("no fd back");
		close(f);
	}
	int status;
	waitpid(b, &status, 0);
	fflush(stdout);
	printf("RESULT scm_rights_roundtrip_2proc_us %.2f us\n", median(rt, N_RT));
	/* The same send+receive inside one process (no scheduling): */
	int lp[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, lp);
	for (int i = 0; i < N_RT; i++) {
		double t0 = now_us();
		send_fd(lp[0], mfd, "x", 1);
		char tag;
		int f = recv_fd(lp[1], &tag, 1);
		close(f);
		rt[i] = now_us() - t0;
	}
	printf("RESULT scm_rights_send_recv_close_1proc_us %.2f us\n", median(rt, N_RT));

	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)getpid(), mfd);
	int e;
	e = try_open_as(path, 0);
	printf("RESULT other_cred_errno_root_full_caps %d errno  # %s\n", e, e ? strerror(e) : "opened");
	e = try_open_as(path, 1);
	printf("RESULT other_cred_errno_nobody %d errno  # %s\n", e, e ? strerror(e) : "opened");
	e = try_open_as(path, 2);
	printf("RESULT other_cred_errno_root_no_ptrace_dac %d errno  # %s\n", e, e ? strerror(e) : "opened");
	e = try_open_as(path, 3);
	printf("RESULT other_cred_errno_root_no_ptrace %d errno  # %s\n", e, e ? strerror(e) : "opened");
	/* A nobody process opening the fd of another nobody process (same uid, no caps either side).
	 * setuid makes a process non-dumpable (fs.suid_dumpable=0); try both as-is and after PR_SET_DUMPABLE 1. */
	for (int dumpable = 0; dumpable < 2; dumpable++) {
		int pfd[2];
		pipe(pfd);
		pid_t c = fork();
		if (c == 0) {
			setgroups(0, NULL);
			setresgid(65534, 65534, 65534);
			setresuid(65534, 65534, 65534);
			if (dumpable)
				prctl(PR_SET_DUMPABLE, 1);
			int m2 = memfd_create("n", 0);
			ftruncate(m2, PAGE);
			char pth[64];
			snprintf(pth, sizeof pth, "/proc/%d/fd/%d", (int)getpid(), m2);
			int r = try_open_as(pth, 0);
			xwrite(pfd[1], &r, sizeof r);
			_exit(0);
		}
		int r;
		xread(pfd[0], &r, sizeof r);
		waitpid(c, NULL, 0);
		printf("RESULT same_uid_nobody_%s_errno %d errno  # %s\n", dumpable ? "dumpable" : "nondumpable", r, r ? strerror(r) : "opened");
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
