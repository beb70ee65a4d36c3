/* config.c -- one table of FAMS_* settings, each with its default. */
#include "config.h"
#include "log.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_JOURNAL_SIZE (16ull << 20)
#define DEFAULT_JOURNAL_MAX (1ull << 30)

struct fams_config fams_cfg = {
	.journal_size = DEFAULT_JOURNAL_SIZE,
	.journal_max = DEFAULT_JOURNAL_MAX,
	.log_level = FAMS_LOG_WARN,
	.tracker = FAMS_TRACKER_AUTO,
};

int fams_parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0' || v > (~0ull >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static void load_size(const char *name, uint64_t *dst, uint64_t min)
{
	const char *s = secure_getenv(name);
	uint64_t v;
	if (!s || !*s)
		return;
	if (fams_parse_size(s, &v) == 0 && v >= min)
		*dst = v;
	else
		fams_warn("%s=\"%s\" is not a size (like 64M or 1G, at least %llu); using %llu",
			  name, s, (unsigned long long)min, (unsigned long long)*dst);
}

static void load_string(const char *name, char *dst, size_t cap)
{
	const char *s = secure_getenv(name);
	if (!s || !*s)
		return;
	if (strlen(s) >= cap) {
		fams_warn("%s is longer than %zu bytes; ignored", name, cap - 1);
		return;
	}
	strcpy(dst, s);
}

void fams_config_load(void)
{
	const char *s = secure_getenv("FAMS_LOG");
	if (s && *s) {
		static const char *const names[] = { "error", "warn", "info", "debug" };
		int found = -1;
		for (int i = 0; i < 4; i++)
			if (strcasecmp(s, names[i]) == 0)
				found = i;
		if (found < 0 && s[0] >= '0' && s[0] <= '3' && s[1] == '\0')
			found = s[0] - '0';
		if (found >= 0)
			fams_cfg.log_level = found;
		else
			fams_warn("FAMS_LOG=\"%s\" is not one of error, warn, info, debug; using warn", s);
	}
	fams_log_level = fams_cfg.log_level;

	load_size("FAMS_JOURNAL_SIZE", &fams_cfg.journal_size, 4096);
	load_size("FAMS_JOURNAL_MAX", &fams_cfg.journal_max, 4096);
	if (fams_cfg.journal_max < fams_cfg.journal_size) {
		fams_warn("FAMS_JOURNAL_MAX is below FAMS_JOURNAL_SIZE; using %llu for both",
			  (unsigned long long)fams_cfg.journal_size);
		fams_cfg.journal_max = fams_cfg.journal_size;
	}
	load_string("FAMS_JOURNAL_DIR", fams_cfg.journal_dir, sizeof fams_cfg.journal_dir);
	if (fams_cfg.journal_dir[0] && fams_cfg.journal_dir[0] != '/') {
		fams_warn("FAMS_JOURNAL_DIR=\"%s\" is not an absolute path; journals go next to their files",
			  fams_cfg.journal_dir);
		fams_cfg.journal_dir[0] = '\0';
	}

	s = secure_getenv("FAMS_TRACKER");
	if (s && *s) {
		if (strcmp(s, "auto") == 0)
			fams_cfg.tracker = FAMS_TRACKER_AUTO;
		else if (strcmp(s, "uffd") == 0)
			fams_cfg.tracker = FAMS_TRACKER_UFFD;
		else if (strcmp(s, "compare") == 0)
			fams_cfg.tracker = FAMS_TRACKER_COMPARE;
		else
			fams_warn("FAMS_TRACKER=\"%s\" is not one of auto, uffd, compare; using auto", s);
	}
	s = secure_getenv("FAMS_STATS");
	fams_cfg.stats = s && *s && strcmp(s, "0") != 0;
	load_string("FAMS_INCLUDE", fams_cfg.include, sizeof fams_cfg.include);
	load_string("FAMS_EXCLUDE", fams_cfg.exclude, sizeof fams_cfg.exclude);
}

/* Does path match any ':'-separated pattern in list?  A pattern ending in '/'
 * (or "/ *" style directory prefix) matches everything below that directory. */
static int match_list(const char *list, const char *path)
{
	const char *p = list;
	while (*p) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		char pat[1024];
		if (n > 0 && n < sizeof pat) {
			memcpy(pat, p, n);
			pat[n] = '\0';
			if (pat[n - 1] == '/') {
				if (strncmp(path, pat, n) == 0)
					return 1;
			} else if (fnmatch(pat, path, 0) == 0) {
				return 1;
			}
		}
		if (!colon)
			break;
		p = colon + 1;
	}
	return 0;
}

int fams_path_selected(const char *path)
{
	if (fams_cfg.include[0] && !match_list(fams_cfg.include, path))
		return 0;
	if (fams_cfg.exclude[0] && match_list(fams_cfg.exclude, path))
		return 0;
	return 1;
}
