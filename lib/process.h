/* process.h -- which process fams runs in. */
#ifndef FAMS_PROCESS_H
#define FAMS_PROCESS_H

#include <stdbool.h>

/* False in a vfork child (or a raw clone sharing our memory): it has a descriptor
 * table of its own, and must not change this process's records of ours. */
bool fams_same_process(void);

#endif
