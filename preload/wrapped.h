/* wrapped.h -- every function libfams_preload.so exports, listed once.
 *
 *   W(name, ret, params, need)   a wrapped function: its next definition (the C
 *                                library's, or another preloaded library's) is
 *                                resolved into real_<name> at start-up.  need:
 *                                REQUIRED when the wrapper cannot work without it
 *                                (a fams: line at start-up if it is missing),
 *                                OPTIONAL when it falls back to the system call or
 *                                the symbol is newer than some C libraries.
 *   A(alias, name, ret, params)  another name programs link against for the same
 *                                function (the large-file spellings): an alias.
 *   E(name)                      a wrapper of its own with nothing to resolve (the
 *                                fortify spellings, creat).
 *
 * preload.c declares and resolves the real functions and defines the aliases from
 * this list; exports.map.c makes the version script from it (only these names
 * leave the library).  No system header here: the types are tokens only. */
#ifndef FAMS_WRAPPED_H
#define FAMS_WRAPPED_H

#define REQUIRED 1
#define OPTIONAL 0

#define FAMS_EXPORTS(W, A, E)                                                                 \
	W(mmap, void *, (void *, size_t, int, int, int, off_t), OPTIONAL)                     \
	A(mmap64, mmap, void *, (void *, size_t, int, int, int, off_t))                       \
	W(munmap, int, (void *, size_t), OPTIONAL)                                            \
	W(mremap, void *, (void *, size_t, size_t, int, ...), OPTIONAL)                       \
	W(msync, int, (void *, size_t, int), OPTIONAL)                                        \
	W(madvise, int, (void *, size_t, int), OPTIONAL)                                      \
	W(mprotect, int, (void *, size_t, int), OPTIONAL)                                     \
	W(open, int, (const char *, int, ...), OPTIONAL)                                      \
	A(open64, open, int, (const char *, int, ...))                                        \
	E(__open_2)                                                                           \
	E(__open64_2)                                                                         \
	W(openat, int, (int, const char *, int, ...), OPTIONAL)                               \
	A(openat64, openat, int, (int, const char *, int, ...))                               \
	E(__openat_2)                                                                         \
	E(__openat64_2)                                                                       \
	E(creat)                                                                              \
	A(creat64, creat, int, (const char *, mode_t))                                        \
	W(fopen, FILE *, (const char *, const char *), REQUIRED)                              \
	A(fopen64, fopen, FILE *, (const char *, const char *))                               \
	W(fdopen, FILE *, (int, const char *), REQUIRED)                                      \
	W(freopen, FILE *, (const char *, const char *, FILE *), REQUIRED)                    \
	A(freopen64, freopen, FILE *, (const char *, const char *, FILE *))                   \
	W(tmpfile, FILE *, (void), OPTIONAL)                                                  \
	A(tmpfile64, tmpfile, FILE *, (void))                                                 \
	W(close, int, (int), OPTIONAL)                                                        \
	W(fclose, int, (FILE *), REQUIRED)                                                    \
	W(close_range, int, (unsigned, unsigned, int), OPTIONAL)                              \
	W(closefrom, void, (int), OPTIONAL)                                                   \
	W(dup, int, (int), OPTIONAL)                                                          \
	W(dup2, int, (int, int), OPTIONAL)                                                    \
	W(dup3, int, (int, int, int), OPTIONAL)                                               \
	W(fcntl, int, (int, int, ...), OPTIONAL)                                              \
	A(fcntl64, fcntl, int, (int, int, ...))                                               \
	W(fsync, int, (int), OPTIONAL)                                                        \
	W(fdatasync, int, (int), OPTIONAL)                                                    \
	W(ftruncate, int, (int, off_t), OPTIONAL)                                             \
	A(ftruncate64, ftruncate, int, (int, off_t))                                          \
	W(truncate, int, (const char *, off_t), OPTIONAL)                                     \
	A(truncate64, truncate, int, (const char *, off_t))                                   \
	W(fallocate, int, (int, int, off_t, off_t), OPTIONAL)                                 \
	A(fallocate64, fallocate, int, (int, int, off_t, off_t))                              \
	W(posix_fallocate, int, (int, off_t, off_t), OPTIONAL)                                \
	A(posix_fallocate64, posix_fallocate, int, (int, off_t, off_t))                       \
	W(stat, int, (const char *, struct stat *), OPTIONAL)                                 \
	A(stat64, stat, int, (const char *, struct stat64 *))                                 \
	W(fstat, int, (int, struct stat *), OPTIONAL)                                         \
	A(fstat64, fstat, int, (int, struct stat64 *))                                        \
	W(lstat, int, (const char *, struct stat *), OPTIONAL)                                \
	A(lstat64, lstat, int, (const char *, struct stat64 *))                               \
	W(fstatat, int, (int, const char *, struct stat *, int), OPTIONAL)                    \
	A(fstatat64, fstatat, int, (int, const char *, struct stat64 *, int))                 \
	W(statx, int, (int, const char *, int, unsigned, struct statx *), OPTIONAL)           \
	W(__xstat, int, (int, const char *, struct stat *), OPTIONAL)                         \
	A(__xstat64, __xstat, int, (int, const char *, struct stat64 *))                      \
	W(__fxstat, int, (int, int, struct stat *), OPTIONAL)                                 \
	A(__fxstat64, __fxstat, int, (int, int, struct stat64 *))                             \
	W(__lxstat, int, (int, const char *, struct stat *), OPTIONAL)                        \
	A(__lxstat64, __lxstat, int, (int, const char *, struct stat64 *))                    \
	W(__fxstatat, int, (int, int, const char *, struct stat *, int), OPTIONAL)            \
	A(__fxstatat64, __fxstatat, int, (int, int, const char *, struct stat64 *, int))      \
	W(lseek, off_t, (int, off_t, int), OPTIONAL)                                          \
	A(lseek64, lseek, off_t, (int, off_t, int))                                           \
	W(read, ssize_t, (int, void *, size_t), OPTIONAL)                                     \
	W(pread, ssize_t, (int, void *, size_t, off_t), OPTIONAL)                             \
	A(pread64, pread, ssize_t, (int, void *, size_t, off_t))                              \
	W(write, ssize_t, (int, const void *, size_t), OPTIONAL)                              \
	W(pwrite, ssize_t, (int, const void *, size_t, off_t), OPTIONAL)                      \
	A(pwrite64, pwrite, ssize_t, (int, const void *, size_t, off_t))                      \
	W(readv, ssize_t, (int, const struct iovec *, int), OPTIONAL)                         \
	W(writev, ssize_t, (int, const struct iovec *, int), OPTIONAL)                        \
	W(preadv, ssize_t, (int, const struct iovec *, int, off_t), OPTIONAL)                 \
	A(preadv64, preadv, ssize_t, (int, const struct iovec *, int, off_t))                 \
	W(pwritev, ssize_t, (int, const struct iovec *, int, off_t), OPTIONAL)                \
	A(pwritev64, pwritev, ssize_t, (int, const struct iovec *, int, off_t))               \
	W(preadv2, ssize_t, (int, const struct iovec *, int, off_t, int), OPTIONAL)           \
	W(pwritev2, ssize_t, (int, const struct iovec *, int, off_t, int), OPTIONAL)          \
	W(copy_file_range, ssize_t, (int, off_t *, int, off_t *, size_t, unsigned), OPTIONAL) \
	W(sendfile, ssize_t, (int, int, off_t *, size_t), OPTIONAL)                           \
	A(sendfile64, sendfile, ssize_t, (int, int, off_t *, size_t))                         \
	W(splice, ssize_t, (int, off_t *, int, off_t *, size_t, unsigned), OPTIONAL)          \
	W(recv, ssize_t, (int, void *, size_t, int), OPTIONAL)                                \
	W(recvfrom, ssize_t, (int, void *, size_t, int, struct sockaddr *, socklen_t *), OPTIONAL) \
	W(recvmsg, ssize_t, (int, struct msghdr *, int), OPTIONAL)                            \
	W(fread, size_t, (void *, size_t, size_t, FILE *), REQUIRED)                          \
	W(fread_unlocked, size_t, (void *, size_t, size_t, FILE *), OPTIONAL)                 \
	E(fputwc)                                                                             \
	E(putwc)                                                                              \
	E(fputwc_unlocked)                                                                    \
	E(putwc_unlocked)                                                                     \
	E(fputws)                                                                             \
	E(fputws_unlocked)                                                                    \
	E(vfwprintf)                                                                          \
	E(fwprintf)                                                                           \
	E(__vfwprintf_chk)                                                                    \
	E(__fwprintf_chk)                                                                     \
	E(putwchar)                                                                           \
	E(vwprintf)                                                                           \
	E(wprintf)                                                                            \
	E(__vwprintf_chk)                                                                     \
	E(__wprintf_chk)                                                                      \
	E(getwchar)                                                                           \
	E(putwchar_unlocked)                                                                  \
	E(getwchar_unlocked)                                                                  \
	E(vwscanf)                                                                            \
	E(wscanf)                                                                             \
	E(__isoc99_vwscanf)                                                                   \
	E(__isoc99_wscanf)                                                                    \
	E(fgetwc)                                                                             \
	E(getwc)                                                                              \
	E(fgetwc_unlocked)                                                                    \
	E(getwc_unlocked)                                                                     \
	E(fgetws)                                                                             \
	E(fgetws_unlocked)                                                                    \
	E(__fgetws_chk)                                                                       \
	E(__fgetws_unlocked_chk)                                                              \
	E(__isoc23_vfwscanf)                                                                  \
	E(__isoc23_fwscanf)                                                                   \
	E(__isoc23_vwscanf)                                                                   \
	E(__isoc23_wscanf)                                                                    \
	E(ungetwc)                                                                            \
	E(fwide)                                                                              \
	E(vfwscanf)                                                                           \
	E(fwscanf)                                                                            \
	E(__isoc99_vfwscanf)                                                                  \
	E(__isoc99_fwscanf)                                                                   \
	W(_exit, void, (int), OPTIONAL)                                                       \
	W(_Exit, void, (int), OPTIONAL)                                                       \
	W(execve, int, (const char *, char *const[], char *const[]), OPTIONAL)                \
	W(execv, int, (const char *, char *const[]), OPTIONAL)                                \
	W(execvp, int, (const char *, char *const[]), OPTIONAL)                               \
	W(execvpe, int, (const char *, char *const[], char *const[]), OPTIONAL)               \
	W(fexecve, int, (int, char *const[], char *const[]), OPTIONAL)                        \
	W(execveat, int, (int, const char *, char *const[], char *const[], int), OPTIONAL)    \
	E(execl)                                                                              \
	E(execlp)                                                                             \
	E(execle)                                                                             \
	W(io_uring_register_buffers, int, (void *, const struct iovec *, unsigned), OPTIONAL) \
	W(io_uring_register_buffers_tags, int, (void *, const struct iovec *, const unsigned long long *, unsigned), OPTIONAL) \
	W(io_uring_register_buffers_update_tag, int, (void *, unsigned, const struct iovec *, const unsigned long long *, unsigned), OPTIONAL) \
	W(io_uring_register, int, (unsigned, unsigned, const void *, unsigned), OPTIONAL)

#endif
