/* pincalls.c -- io_uring's fixed buffers over a managed mapping: refused.  The
 * kernel pins a fixed buffer's pages for as long as it is registered and writes into
 * them (a READ_FIXED) with no fault and no mark in any page table: no tracker sees
 * those writes, and no commit, not even the last, would carry them.  Natively the
 * kernel refuses such a pin of a shared file mapping (EFAULT: the file system must
 * see its pages written); fams's working copy is memory, which may be pinned, so
 * fams refuses it the same way, with a fams: line. */
#include "fams.h"
#include "log.h"
#include "maptable.h"
#include "registry.h"
#include "sys.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/uio.h>
#include <unistd.h>

/* Whether any of the n buffers v names overlaps a managed mapping.  The array is the
 * program's: read through process_vm_readv, so that a bad pointer is the kernel's
 * EFAULT to return (the call goes on to it), never a fault in here.  Registry lock
 * held. */
static bool any_managed(const struct iovec *v, unsigned n)
{
	const uintptr_t mask = (uintptr_t)fams_page_size - 1;
	struct iovec chunk[64];
	for (unsigned at = 0; at < n;) {
		unsigned k = n - at < 64 ? n - at : 64;
		struct iovec local = { chunk, k * sizeof *chunk }, remote = { (void *)(v + at), k * sizeof *chunk };
		if (process_vm_readv(fams_raw_getpid(), &local, 1, &remote, 1, 0) != (ssize_t)(k * sizeof *chunk))
			return false;
		for (unsigned i = 0; i < k; i++) {
			uintptr_t s = (uintptr_t)chunk[i].iov_base, e = s + chunk[i].iov_len;
			if (chunk[i].iov_len && e > s && map_any_overlap(s & ~mask, (e + mask) & ~mask))
				return true;
		}
		at += k;
	}
	return false;
}

int fams_on_pin_buffers(const struct iovec *v, unsigned n, int *handled)
{
	*handled = 0;
	if (!v || !n)
		return 0;
	int saved = errno;
	fams_lock();
	*handled = any_managed(v, n);
	fams_unlock();
	errno = saved;
	if (!*handled)
		return 0;
	fams_error("io_uring fixed buffers over a mapping of a file fams manages refused (EFAULT), as the "
		   "kernel refuses them over a file mapping: it would write into them where no commit "
		   "can see");
	return -EFAULT;
}
