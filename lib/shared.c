/* shared.c -- creating, reaching and locking the state a managed file's processes
 * share (shared.h).  Layout of the memfd: struct fams_shared, page aligned, then
 * the dirty bitmap and the suspect bitmap (pagebits.h: FAMS_MAX_FILE_PAGES bits and
 * their summary each). */
#include "shared.h"
#include "sys.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#define BITMAP_BYTES FAMS_BITMAP_BYTES

static uint64_t header_bytes(void) { return fams_page_round(sizeof(struct fams_shared)); }
static uint64_t state_bytes(void) { return header_bytes() + 2 * BITMAP_BYTES; }

uint64_t *shared_dirty(struct fams_shared *sh) { return (uint64_t *)((char *)sh + header_bytes()); }
uint64_t *shared_suspect(struct fams_shared *sh)
{
	return (uint64_t *)((char *)sh + header_bytes() + BITMAP_BYTES);
}

/* Map the state memfd; its bitmaps are sparse, so reserve no swap for them. */
static struct fams_shared *map_state(int fd)
{
	void *p = fams_raw_mmap(NULL, state_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

struct fams_shared *shared_create(int *fd, const struct fams_identity *id, uint64_t size)
{
	*fd = fams_raw_memfd_create("fams-shared-state", MFD_CLOEXEC);
	if (*fd < 0)
		return NULL;
	struct fams_shared *sh = NULL;
	if (fams_raw_ftruncate(*fd, (off_t)state_bytes()) < 0 || !(sh = map_state(*fd))) {
		int saved = errno;
		fams_raw_close(*fd);
		*fd = -1;
		errno = saved;
		return NULL;
	}
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&sh->lock, &a);
	pthread_mutexattr_destroy(&a);
	sh->version = FAMS_SHARED_VERSION;
	sh->page_size = (uint32_t)fams_page_size;
	sh->id = *id;
	sh->size = size;
	sh->data_size = size;
	sh->next_gen = 1;
	/* Last: a joiner that sees the magic sees everything before it. */
	__atomic_store_n(&sh->magic, FAMS_SHARED_MAGIC, __ATOMIC_RELEASE);
	return sh;
}

struct fams_shared *shared_map(int fd, const struct fams_identity *id)
{
	struct stat st;
	if (fams_raw_fstat(fd, &st) < 0)
		return NULL;
	if ((uint64_t)st.st_size != state_bytes()) {
		errno = EPROTO;
		return NULL;
	}
	struct fams_shared *sh = map_state(fd);
	if (!sh)
		return NULL;
	if (__atomic_load_n(&sh->magic, __ATOMIC_ACQUIRE) != FAMS_SHARED_MAGIC || sh->version != FAMS_SHARED_VERSION ||
	    sh->page_size != (uint32_t)fams_page_size || memcmp(&sh->id, id, sizeof *id) != 0) {
		shared_unmap(sh);
		errno = EPROTO;
		return NULL;
	}
	return sh;
}

void shared_unmap(struct fams_shared *sh)
{
	if (sh)
		fams_raw_munmap(sh, state_bytes());
}

int shared_lock(struct fams_shared *sh)
{
	/* Timed, and tried again: a holder killed inside pthread_mutex_unlock -- the
	 * lock freed, its waiters not yet woken -- leaves them asleep on a free lock,
	 * for the kernel's robust-list cleanup acts only on a lock the dead thread
	 * still owns.  A bare program of 5 processes sharing a robust mutex, one
	 * killed, stuck so in 7 of 710 runs here (Linux 6.18, glibc 2.36); under fams,
	 * whose commit lock is held across flushes, 6 of 100 kills of one of several
	 * forked writers.  A waiter wakes every 50 ms to find the lock free. */
	int r;
	do {
		struct timespec at;
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_nsec += 50 * 1000 * 1000;
		if (at.tv_nsec >= 1000000000) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000;
		}
		r = pthread_mutex_clocklock(&sh->lock, CLOCK_MONOTONIC, &at);
	} while (r == ETIMEDOUT);
	if (r == 0 || r == EOWNERDEAD)
		return r;
	errno = r;
	return -1;
}

void shared_consistent(struct fams_shared *sh) { pthread_mutex_consistent(&sh->lock); }
void shared_unlock(struct fams_shared *sh) { pthread_mutex_unlock(&sh->lock); }
