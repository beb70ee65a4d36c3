/* registry.h -- the files this process manages, and the registry lock that guards
 * them and every table built around them (fdtable, maptable, shadow, elsewhere). */
#ifndef FAMS_REGISTRY_H
#define FAMS_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "file.h"

void fams_lock(void);
void fams_unlock(void);
/* The lock if it is free (a thread that must never wait for it: the commit thread,
 * for which a holder may be waiting). */
bool fams_trylock(void);
/* The end of an interposed call that took the lock: publish changed mappings,
 * release it and return r, with errno the call's when r < 0 and the caller's
 * (saved) otherwise. */
ssize_t registry_leave(ssize_t r, int saved);

/* After fams_shutdown: descriptors and mappings pass straight through (set under
 * the lock; read without it by the fast pass-through tests, where a stale false
 * only sends a call to the locked path). */
extern bool fams_down;

/* Whether any file is managed (a hint read without the lock, like fams_down). */
bool registry_any(void);
/* The managed file with identity (dev, ino), or NULL. */
struct fams_file *registry_find(dev_t dev, ino_t ino);
/* The managed file path (relative to dirfd) names now, or NULL (errno may change). */
struct fams_file *registry_find_path(int dirfd, const char *path);
/* Start managing the file open as fd: its journal, recovery, working copy; its
 * descriptors and shadows adopted.  NULL with errno, or with errno 0 when
 * FAMS_INCLUDE/EXCLUDE leave the file alone. */
struct fams_file *registry_manage(int fd, const struct stat *st);
/* Commit the dirty pages of f in the file range [lo, hi), every process's; `what`
 * names the call for the refusal in a forked child cut off from f.  The registry
 * lock is let go during the flushes and taken again: the caller must not hold
 * pointers into the tables across it (f itself stays). */
int registry_commit(struct fams_file *f, uint64_t lo, uint64_t hi, const char *what);
/* Wait until no commit is in flight without the registry lock, and keep it so
 * until registry_resume (the registry lock held): before fams's own descriptors
 * are closed or moved, or the process is copied. */
void registry_quiesce(void);
void registry_resume(void);
/* In a forked child that could not share f: refuse `what` with EPERM and a fams: line. */
int registry_refuse_cut_off(struct fams_file *f, const char *what);
/* Tell the other processes sharing each file where this process maps it now, if
 * that changed (at the end of every call that maps or unmaps, before the program
 * can store into a new mapping). */
void registry_publish_maps(void);
/* fams's own descriptors moved (dup2 onto one): tell the others their new numbers. */
void registry_fds_moved(void);
/* Before [s, e) is unmapped or replaced: commit what its mappings hold (a failure
 * is reported and the changes kept for the next commit point). */
void registry_commit_dropped(uintptr_t s, uintptr_t e, const char *what);
/* Stop managing the files this process neither maps nor has a descriptor of. */
void registry_retire_unused(void);
/* Whether fd's file lives on a file system whose contents survive a crash. */
bool fs_is_persistent(int fd);

/* The managed files (a uthash table, walked with HASH_ITER under the registry lock). */
struct fams_file *registry_files(void);
/* This process's dirty-page tracker: opened when it first manages a file.  In a
 * forked child the tracker's descriptors act on the parent's address space (a
 * userfaultfd and a pagemap belong to the mm that opened them): forget drops them,
 * whatever the child inherited, and a later start opens its own. */
void registry_start_tracker(void);
void registry_forget_tracker(void);
/* In a forked child: the registry lock made anew (a thread of the parent's may
 * have held it). */
void registry_lock_reset(void);
/* Before exec (the program is about to be replaced): commit every file no other
 * process uses, each on its own, and leave its journal holding nothing; a failure
 * is reported with a fams: line. */
void registry_before_exec(void);
/* At exit: commit every file, then leave each (the last process removes the
 * journal).  False if already done. */
bool registry_shutdown(void);

#endif
