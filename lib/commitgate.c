/* commitgate.c -- the gate of commits made without the registry lock. */
#include "commitgate.h"

#include <pthread.h>

static pthread_rwlock_t g_gate = PTHREAD_RWLOCK_INITIALIZER;

void gate_enter(void) { pthread_rwlock_rdlock(&g_gate); }
void gate_leave(void) { pthread_rwlock_unlock(&g_gate); }
void gate_close(void) { pthread_rwlock_wrlock(&g_gate); }
void gate_open(void) { pthread_rwlock_unlock(&g_gate); }
void gate_reset(void) { pthread_rwlock_init(&g_gate, NULL); }
