/* process.c -- the life of a process under fams: start-up, fork, exit.
 *
 * Order at fork: the prepare handler takes the registry lock (no thread is inside
 * the registry while the address space is copied) and, for each managed file, a
 * journal lock for the child (so the parent, exiting at once, cannot take itself
 * for the file's last process); the parent's handler drops those and releases the
 * lock; the child's starts a fresh lock and joins each file as a process of its own
 * (registry_fork_child).  At exit every file is committed before it is left; the
 * last process to leave removes the journal (registry_shutdown). */
#include "fams.h"
#include "config.h"
#include "process.h"
#include "registry.h"
#include "stats.h"
#include "sys.h"

#include <sys/syscall.h>
#include <errno.h>
#include <unistd.h>

static pid_t g_pid; /* this process, as of start-up or fork */

bool fams_same_process(void) { return fams_raw_getpid() == g_pid; }

int fams_init(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	if (pg > 0)
		fams_page_size = pg;
	fams_config_load();
	g_pid = fams_raw_getpid();
	return 0;
}

void fams_on_exit_now(void)
{
	/* A vfork child (or a raw clone) shares our memory: committing or retiring
	 * anything from it would act for the parent.  Only this process's own exit
	 * counts. */
	if (!fams_same_process())
		return;
	fams_shutdown();
}

void fams_before_exec(void)
{
	if (!fams_hint(fams_live) || !fams_same_process()) /* a vfork child: the parent's files */
		return;
	int saved = errno;
	registry_commit_all("exec");
	errno = saved;
}

void fams_atfork_prepare(void)
{
	fams_lock();
	registry_fork_prepare();
}

void fams_atfork_parent(void)
{
	registry_fork_parent();
	fams_unlock();
}

void fams_atfork_child(void)
{
	g_pid = fams_raw_getpid();
	registry_fork_child();
}

void fams_shutdown(void)
{
	if (registry_shutdown() && fams_cfg.stats)
		fams_stats_print();
}
