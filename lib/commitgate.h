/* commitgate.h -- the gate a commit holds while it uses a file's descriptors
 * without the registry lock (registry.c's commits, asynccommit.c's thread).
 * Whatever closes or moves those descriptors (exit, a dup2 onto one of fams's) or
 * copies the process (fork) closes the gate first, always after the registry lock;
 * a commit holding the gate never waits for the registry lock. */
#ifndef FAMS_COMMITGATE_H
#define FAMS_COMMITGATE_H

void gate_enter(void); /* shared: a commit */
void gate_leave(void);
void gate_close(void); /* exclusive: no commit in flight until gate_open */
void gate_open(void);
/* In a forked child: the gate as new (the thread that closed it is ours). */
void gate_reset(void);

#endif
