/* member.h -- the processes that share a managed file (its members): becoming the
 * first, joining, leaving, telling the others where this process maps the file,
 * and noticing a member that died.  docs/sharing.md gives the design. */
#ifndef FAMS_MEMBER_H
#define FAMS_MEMBER_H

#include <stdbool.h>
#include <stdint.h>

#include "file.h"

/* The first process of f (alone, holding the journal's write lock, its working
 * copy and shared state just built): take slot 0 and publish the rendezvous. */
int member_found(struct fams_file *f);

/* Join the processes that use f (the journal's read lock is held): reach the
 * working copy and shared state through a live member, take a slot.  Sets
 * f->memfd, f->state_fd, f->sh.  -1 with errno: EAGAIN when no live member could
 * be reached (they are exiting; the caller starts over), EACCES when the members
 * may not be reached by this process (another user, a non-dumpable process), with
 * a fams: line. */
int member_join(struct fams_file *f);

/* In a forked child that inherited f: become a member of its own (the working copy
 * and shared state are inherited already; the journal lock was taken for it before
 * the fork, f->fork_journal_fd).  The caller re-tracks the mappings. */
int member_join_forked(struct fams_file *f);

/* Whether processes other than this one use f (the commit lock is held). */
bool member_others(const struct fams_file *f);
/* Free the slots of members found dead (or exec'd); the commit lock is held. */
void member_sweep(struct fams_file *f);

/* Leave f's members (its changes were committed by the caller). */
void member_leave(struct fams_file *f);

/* Tell the other members where this process maps f now (after any change to its
 * mappings of f).  The commit lock is held. */
void member_publish_maps(struct fams_file *f);

/* Tell the others this process's descriptor numbers of f's working copy and state
 * (after they moved).  The commit lock is held. */
void member_publish_fds(struct fams_file *f);

/* Every range member i maps of f, inside [lo, hi) and the file, becomes suspect
 * (compared at the next commit).  The commit lock is held. */
void member_suspect(struct fams_file *f, int i, uint64_t lo, uint64_t hi);

/* Member i of f is dead (or not the process that joined): its mappings' pages
 * become suspect, its slot free.  The commit lock is held. */
void member_gone(struct fams_file *f, int i);

/* Whether member i of f is still the process that joined (its pid's start time). */
bool member_alive(struct fams_file *f, int i);

/* Close our pagemap of member i, if we opened one. */
void member_forget_pagemap(struct fams_file *f, int i);

/* Member i's pagemap (opened once per member, checking it is the process that
 * joined, and kept; not the caller's to close).  -1 with errno ESRCH when it is
 * gone, or the error of the open. */
int member_pagemap(struct fams_file *f, int i);

#endif
