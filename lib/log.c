/* log.c -- "fams:" messages on stderr, formatted into a fixed buffer. */
#include "log.h"
#include "sys.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FAMS_LOG_CAP 200

int fams_log_level = FAMS_LOG_WARN;
static unsigned log_lines;

void fams_log(int level, const char *fmt, ...)
{
	if (level > fams_log_level)
		return;
	int saved = errno;
	unsigned n = __atomic_add_fetch(&log_lines, 1, __ATOMIC_RELAXED);
	if (n > FAMS_LOG_CAP + 1 && level > FAMS_LOG_ERROR)
		goto out;
	char buf[1024];
	size_t len;
	if (n == FAMS_LOG_CAP + 1 && level > FAMS_LOG_ERROR) {
		len = (size_t)snprintf(buf, sizeof buf, "fams: too many messages; further warnings are dropped\n");
	} else {
		memcpy(buf, "fams: ", 6);
		va_list ap;
		va_start(ap, fmt);
		int w = vsnprintf(buf + 6, sizeof buf - 7, fmt, ap);
		va_end(ap);
		len = 6 + (w < 0 ? 0 : (size_t)w >= sizeof buf - 7 ? sizeof buf - 8 : (size_t)w);
		buf[len++] = '\n';
	}
	fams_raw_write(2, buf, len);
out:
	errno = saved;
}
