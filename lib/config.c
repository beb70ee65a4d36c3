/* config.c -- the FAMS_* settings: one table (variable, kind, default, bounds) and
 * one parser for all of them. */
#include "config.h"
#include "log.h"
#include "settings.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_JOURNAL_SIZE (64ull << 10)
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

/* How a setting's value is read. */
enum kind {
	SIZE,  /* "64K", "16M", "1G" or bytes, at least min */
	WORD,  /* one of words[] (or its index as a digit, for FAMS_LOG): an int */
	FLAG,  /* anything but "" and "0" turns it on: an int */
	TEXT,  /* a string of at most cap - 1 bytes */
	PATH,  /* a TEXT that must be an absolute path */
};

static const char *const log_words[] = { "error", "warn", "info", "debug", NULL };
static const char *const commit_log_words[] = { "redo", "undo", NULL };
static const char *const tracker_words[] = { "auto", "uffd", "uffd-sync", "compare", NULL };
static const char *const moves_words[] = { "auto", "never", "always", NULL };

/* Every FAMS_* setting, from settings.h: its variable, kind, where it goes (whose
 * initial value in fams_cfg is its default), and its bounds.  Read in this order. */
static const struct setting {
	const char *name;
	enum kind kind;
	void *dst;
	size_t cap;                /* bytes at dst (TEXT, PATH: the most a value may take) */
	uint64_t min;              /* SIZE */
	const char *const *words;  /* WORD */
	bool digits;               /* WORD: "0".."3" name the words by index too */
	bool any_case;             /* WORD: "WARN" is "warn" */
	const char *unset;         /* PATH: what happens when it is not used */
} settings[] = {
/* The bounds each setting names in settings.h. */
#define NO_RULE .min = 0
#define AT_LEAST_4K .min = 4096
#define LOG_WORDS .words = log_words, .digits = true, .any_case = true
#define TRACKER_WORDS .words = tracker_words
#define MOVES_WORDS .words = moves_words
#define COMMIT_LOG_WORDS .words = commit_log_words
#define DIR_RULE .unset = "journals go next to their files"
#define ENTRY(var, kind_, field, rule, option, arg, help)                                      \
	{ .name = #var, .kind = kind_, .dst = &fams_cfg.field, .cap = sizeof fams_cfg.field, rule },
	FAMS_SETTINGS(ENTRY)
};

/* The words of a WORD setting, "a, b, c", for a warning. */
static void list_words(const char *const *words, char *out, size_t cap)
{
	out[0] = '\0';
	for (size_t n = 0; *words; words++)
		n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", n ? ", " : "", *words);
}

/* Read one setting from the environment; a bad value keeps the default, with a
 * warning naming the variable and the value used. */
static void load(const struct setting *st)
{
	const char *s = secure_getenv(st->name);
	if (st->kind == FLAG) {
		*(int *)st->dst = s && *s && strcmp(s, "0") != 0;
		return;
	}
	if (!s || !*s)
		return;
	switch (st->kind) {
	case SIZE: {
		uint64_t v, *dst = st->dst;
		if (fams_parse_size(s, &v) == 0 && v >= st->min)
			*dst = v;
		else
			fams_warn("%s=\"%s\" is not a size (like 64M or 1G, at least %llu); using %llu", st->name, s,
				  (unsigned long long)st->min, (unsigned long long)*dst);
		return;
	}
	case WORD: {
		int *dst = st->dst, n = 0;
		for (; st->words[n]; n++) {
			if ((st->any_case ? strcasecmp(s, st->words[n]) : strcmp(s, st->words[n])) == 0) {
				*dst = n;
				return;
			}
		}
		if (st->digits && s[0] >= '0' && s[0] < '0' + n && s[1] == '\0') {
			*dst = s[0] - '0';
			return;
		}
		char words[128];
		list_words(st->words, words, sizeof words);
		fams_warn("%s=\"%s\" is not one of %s; using %s", st->name, s, words, st->words[*dst]);
		return;
	}
	case TEXT:
	case PATH:
		if (strlen(s) >= st->cap) {
			fams_warn("%s is longer than %zu bytes; ignored", st->name, st->cap - 1);
			return;
		}
		if (st->kind == PATH && s[0] != '/') {
			fams_warn("%s=\"%s\" is not an absolute path; %s", st->name, s, st->unset);
			return;
		}
		strcpy(st->dst, s);
		return;
	case FLAG:
		return;
	}
}

void fams_config_load(void)
{
	for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
		load(&settings[i]);
		if (settings[i].dst == &fams_cfg.log_level)
			fams_log_level = fams_cfg.log_level; /* later warnings obey it */
		if (settings[i].dst == &fams_cfg.journal_max && fams_cfg.journal_max < fams_cfg.journal_size) {
			fams_warn("FAMS_JOURNAL_MAX is below FAMS_JOURNAL_SIZE; using %llu for both",
				  (unsigned long long)fams_cfg.journal_size);
			fams_cfg.journal_max = fams_cfg.journal_size;
		}
	}
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
