/* startup_lib.c -- a library whose constructor maps a file writable and commits it,
 * as programs' libraries do before main (and perhaps before fams's own
 * constructor has run). */
#include "check.h"

int startup_ctor_failed_line = -1; /* 0 when the constructor's checks all passed */

#define EXPECT(cond)                                                                           \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			startup_ctor_failed_line = __LINE__;                                   \
			return;                                                                \
		}                                                                              \
	} while (0)

__attribute__((constructor)) static void map_before_main(void)
{
	const char *path = test_path("startup-ctor");
	int fd = make_file(path, 2 * PG, 'a');
	EXPECT(fd >= 0);
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT(p != MAP_FAILED);
	p[PG] = 'c';
	EXPECT(file_byte_is(path, PG, 'a')); /* served from the working copy */
	EXPECT(msync(p, 2 * PG, MS_SYNC) == 0);
	EXPECT(file_byte_is(path, PG, 'c'));
	EXPECT(munmap(p, 2 * PG) == 0 && close(fd) == 0);
	EXPECT(unlink(path) == 0);
	startup_ctor_failed_line = 0;
}
