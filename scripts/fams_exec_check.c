/* fams-exec-check -- whether the dynamic loader will honour LD_PRELOAD for a
 * program (famsrun asks before it runs one, so that fams never drops its
 * guarantee silently):
 *   fams-exec-check PATH
 * exits 0 when it will (an ELF program of this machine that names a program
 * interpreter, or a script whose interpreter is one), 3 for a static ELF program
 * (no PT_INTERP: no loader runs), 4 for a program the loader runs in secure mode
 * for this caller (set-user- or set-group-ID to other ids than the caller's real
 * ones, or with file capabilities: it ignores LD_PRELOAD there), 5 for an ELF
 * program of another class or machine (the loader cannot load fams's library into
 * it), 2 for a file it cannot read (famsrun lets exec report that). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

enum { PROTECTABLE = 0, UNREADABLE = 2, STATIC = 3, SECURE = 4, FOREIGN = 5 };

#if UINTPTR_MAX > 0xffffffffu
#define OUR_CLASS ELFCLASS64
#else
#define OUR_CLASS ELFCLASS32
#endif

/* This program's own e_machine: the one fams's library was built for. */
static int our_machine(void)
{
	unsigned char h[sizeof(Elf64_Ehdr)];
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : pread(fd, h, sizeof h, 0);
	if (fd >= 0)
		close(fd);
	return n >= (ssize_t)sizeof(Elf32_Ehdr) ? ((const Elf32_Ehdr *)h)->e_machine : -1;
}

/* Whether the ELF image whose first bytes are in buf (n of them) asks for a program
 * interpreter, reading its program headers from fd; FOREIGN if it is of another
 * class or machine than ours; -1 if it is not ELF. */
static int has_interp(int fd, const unsigned char *buf, size_t n)
{
	if (n < sizeof(Elf32_Ehdr) || memcmp(buf, ELFMAG, SELFMAG) != 0)
		return -1;
	if (buf[EI_CLASS] != OUR_CLASS || ((const Elf32_Ehdr *)buf)->e_machine != our_machine())
		return FOREIGN;
	int is64 = buf[EI_CLASS] == ELFCLASS64;
	uint64_t phoff;
	uint16_t phnum, phentsize;
	if (is64 && n >= sizeof(Elf64_Ehdr)) {
		const Elf64_Ehdr *h = (const Elf64_Ehdr *)buf;
		phoff = h->e_phoff, phnum = h->e_phnum, phentsize = h->e_phentsize;
	} else if (!is64) {
		const Elf32_Ehdr *h = (const Elf32_Ehdr *)buf;
		phoff = h->e_phoff, phnum = h->e_phnum, phentsize = h->e_phentsize;
	} else {
		return -1;
	}
	for (uint16_t i = 0; i < phnum; i++) {
		unsigned char ph[sizeof(Elf64_Phdr)];
		size_t want = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
		if (phentsize < want || pread(fd, ph, want, (off_t)(phoff + (uint64_t)i * phentsize)) != (ssize_t)want)
			return -1;
		uint32_t type = is64 ? ((const Elf64_Phdr *)ph)->p_type : ((const Elf32_Phdr *)ph)->p_type;
		if (type == PT_INTERP)
			return 1;
	}
	return 0;
}

/* Whether the loader runs the program in secure mode for this caller (AT_SECURE):
 * the kernel sets it when the program's effective ids after exec differ from the
 * caller's real ones, or when the exec gains capabilities. */
static int secure_for_caller(const char *path, const struct stat *st)
{
	if ((st->st_mode & S_ISUID) && st->st_uid != getuid())
		return 1;
	if ((st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP) && st->st_gid != getgid())
		return 1;
	/* File capabilities raise the program's privileges: secure too (unless the
	 * caller is root, who has them all already). */
	return getuid() != 0 && getxattr(path, "security.capability", NULL, 0) > 0;
}

/* The verdict for path; depth counts the scripts that led here (the kernel follows
 * at most 4 interpreters). */
static int check(const char *path, int depth)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return UNREADABLE;
	if (secure_for_caller(path, &st)) /* before reading it: it may be unreadable to us */
		return SECURE;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return UNREADABLE;
	unsigned char buf[256];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	int r = UNREADABLE;
	if (n >= 2 && buf[0] == '#' && buf[1] == '!') {
		/* A script: what runs is its interpreter, the first word after #!. */
		buf[n] = '\0';
		char *s = (char *)buf + 2;
		s += strspn(s, " \t");
		s[strcspn(s, " \t\n")] = '\0';
		r = *s && depth < 4 ? check(s, depth + 1) : PROTECTABLE;
	} else if (n >= 0) {
		int interp = has_interp(fd, buf, (size_t)n);
		r = interp == FOREIGN ? FOREIGN : interp == 0 ? STATIC : PROTECTABLE;
	}
	close(fd);
	return r;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fams-exec-check PATH\n");
		return UNREADABLE;
	}
	return check(argv[1], 0);
}
