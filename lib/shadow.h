/* shadow.h -- read-only shared mappings of unmanaged files, followed as shadows. */
#ifndef FAMS_SHADOW_H
#define FAMS_SHADOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "file.h"

/* A file just became managed: its shadows move onto the working copy. */
void shadow_adopt(struct fams_file *f);
/* Remember a shared mapping of an unmanaged regular file. */
void shadow_add(uintptr_t s, size_t len, off_t off, int prot, bool maywrite, const struct stat *st);
/* The path of the file mapped at addr, from /proc/self/maps; false if none. */
bool mapped_path(uintptr_t addr, char *path, size_t cap);

#endif
