/* fams-exec-check -- whether the dynamic loader will honour LD_PRELOAD for a
 * program (famsrun asks before it runs one, so that fams never drops its
 * guarantee silently):
 *   fams-exec-check PATH
 * exits 0 when it will (a dynamically linked ELF program, or a script: its
 * interpreter is what runs), 3 for a static ELF program (no PT_INTERP: no loader
 * runs), 4 for a program the loader runs in secure mode for this caller (set-user-
 * or set-group-ID to other ids than the caller's, or with file capabilities): it
 * ignores LD_PRELOAD there.  2 for a file it cannot read (famsrun lets exec report
 * that). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

enum { PROTECTABLE = 0, UNREADABLE = 2, STATIC = 3, SECURE = 4 };

/* Whether the ELF image whose first bytes are in buf (n of them) asks for a program
 * interpreter, reading its program headers from fd.  -1 if it is not ELF. */
static int has_interp(int fd, const unsigned char *buf, size_t n)
{
	if (n < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0)
		return -1;
	int is64 = buf[EI_CLASS] == ELFCLASS64;
	uint64_t phoff;
	uint16_t phnum, phentsize;
	if (is64 && n >= sizeof(Elf64_Ehdr)) {
		const Elf64_Ehdr *h = (const Elf64_Ehdr *)buf;
		phoff = h->e_phoff, phnum = h->e_phnum, phentsize = h->e_phentsize;
	} else if (!is64 && n >= sizeof(Elf32_Ehdr)) {
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

/* Whether the loader runs path in secure mode for this caller (AT_SECURE). */
static int secure_for_caller(const char *path, const struct stat *st)
{
	if ((st->st_mode & S_ISUID) && st->st_uid != geteuid())
		return 1;
	if ((st->st_mode & S_ISGID) && st->st_gid != getegid())
		return 1;
	/* File capabilities raise the program's privileges: secure too (unless the
	 * caller is root, who has them all already). */
	return geteuid() != 0 && getxattr(path, "security.capability", NULL, 0) > 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fams-exec-check PATH\n");
		return UNREADABLE;
	}
	int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return UNREADABLE;
	unsigned char buf[sizeof(Elf64_Ehdr)];
	ssize_t n = pread(fd, buf, sizeof buf, 0);
	if (n < 0)
		return UNREADABLE;
	if (n >= 2 && buf[0] == '#' && buf[1] == '!')
		return PROTECTABLE; /* a script: its interpreter is what the loader runs */
	if (secure_for_caller(argv[1], &st))
		return SECURE;
	return has_interp(fd, buf, (size_t)n) == 0 ? STATIC : PROTECTABLE;
}
