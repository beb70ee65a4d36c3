/* torture_check FILE NPAGES [fresh] -- verify the torture_writer invariant: every
 * page holds the same round.  Prints the round; exit 0 consistent, 1 torn.  With
 * "fresh" (a writer that truncates its file each run), an empty file is round 0,
 * as a file of zeros is.  Reads with plain read(2). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PG 4096

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int npages = atoi(argv[2]);
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0)
		return perror("open"), 2;
	if (argc > 3 && strcmp(argv[3], "fresh") == 0 && lseek(fd, 0, SEEK_END) == 0)
		return printf("0\n"), 0;
	uint64_t first = 0;
	char page[PG];
	for (int i = 0; i < npages; i++) {
		if (pread(fd, page, PG, (off_t)i * PG) != PG)
			return fprintf(stderr, "short file\n"), 1;
		uint64_t r;
		memcpy(&r, page, sizeof r);
		for (int b = 8; b < 72; b++)
			if ((unsigned char)page[b] != (r & 0xff))
				return printf("torn inside page %d\n", i), 1;
		if (i == 0)
			first = r;
		else if (r != first)
			return printf("torn: page 0 holds round %llu, page %d holds %llu\n",
				      (unsigned long long)first, i, (unsigned long long)r), 1;
	}
	printf("%llu\n", (unsigned long long)first);
	return 0;
}
