/* wpsync.h -- the synchronous write-protect tracker (Linux 5.19 to 6.6): a thread
 * that serves userfaultfd write-protect faults, and takes back the pages it opened
 * to writing (their record: wprecord.h).  tracker.c chooses it and does the registering; this keeps
 * the rule that no write is lost between a fault and a harvest (wpsync.c). */
#ifndef FAMS_WPSYNC_H
#define FAMS_WPSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Start the fault-serving thread on uffd (blocking reads).  0, or -1 with errno. */
int wpsync_start(int uffd);

/* Take the record's pages in [addr, addr + len): for each run, clear its bits,
 * write-protect it again through fd, then report it through fn.  -1 with errno
 * when the thread could not serve (EIO) or a run could not be protected; the
 * caller then compares the range (its bits are gone). */
int wpsync_take(int fd, uintptr_t addr, size_t len, void (*fn)(void *ctx, uintptr_t s, uintptr_t e), void *ctx);

/* The record's pages in [addr, addr + len), each run reported through fn, left as
 * they are: open, their bits set (a later take finds them).  -1 with errno EIO
 * when the thread could not serve. */
int wpsync_peek(uintptr_t addr, size_t len, void (*fn)(void *ctx, uintptr_t s, uintptr_t e), void *ctx);

/* The kernel is about to write into [addr, addr + len), a range of one tracked
 * mapping, for this thread (a userfaultfd that serves only user-mode faults makes
 * such writes fail with EFAULT): record and open it as a fault would, and keep
 * harvests from protecting it again until wpsync_fill_done. */
void wpsync_fill(int fd, uintptr_t addr, size_t len);
void wpsync_fill_done(void);

/* Flags raised (set to 1, before the page opens) whenever a page is opened to
 * writing, for other processes to know this one may have stores to collect
 * (shared.h, fams_member.open): watch one, stop watching it (after this returns the
 * thread no longer touches it).  wpsync_watch: 0, or -1 (ENOSPC) when full. */
int wpsync_watch(uint8_t *flag);
void wpsync_unwatch(uint8_t *flag);

/* Write-protect (wp) or open [addr, addr + len) through userfaultfd fd, also where
 * the range spans several VMAs (before Linux 6.5 the kernel takes one per call).
 * Opening wakes the threads waiting on those pages. */
int wpsync_protect(int fd, uintptr_t addr, size_t len, bool wp);

/* The process moves to the asynchronous tracker (pause) or back (trackswitch.c):
 * while paused, a fault already queued is not served, its thread only woken (once
 * this returns, no page is being opened). */
void wpsync_pause(bool pause);

/* In a forked child: the thread is the parent's, not ours; forget it and the
 * record (the child's tracking starts afresh). */
void wpsync_forget(void);

#endif
