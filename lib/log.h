/* log.h -- "fams:" messages on stderr, formatted without allocation. */
#ifndef FAMS_LOG_H
#define FAMS_LOG_H

enum fams_log_level { FAMS_LOG_ERROR = 0, FAMS_LOG_WARN, FAMS_LOG_INFO, FAMS_LOG_DEBUG };

extern int fams_log_level;

/* Print one line "fams: ..." to stderr if level is enabled.  errno is preserved.
 * After FAMS_LOG_CAP lines the rest are dropped, with one line saying so. */
void fams_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define fams_error(...) fams_log(FAMS_LOG_ERROR, __VA_ARGS__)
#define fams_warn(...) fams_log(FAMS_LOG_WARN, __VA_ARGS__)
#define fams_info(...) fams_log(FAMS_LOG_INFO, __VA_ARGS__)
#define fams_debug(...)                                                                        \
	do {                                                                                   \
		if (fams_log_level >= FAMS_LOG_DEBUG)                                          \
			fams_log(FAMS_LOG_DEBUG, __VA_ARGS__);                                 \
	} while (0)

#endif
