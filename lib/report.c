/* report.c -- the commit-site report (FAMS_REPORT): for each place in the program
 * whose call caused commits (msync, fsync, fdatasync, munmap; exit and fams's own
 * MS_ASYNC thread as one row), how many, their dirty pages, bytes written, flushes
 * and median and 99th-percentile time, written at exit.  Places are resolved to
 * function+offset by libunwind (which reads the binary's symbol tables, static
 * functions too) and to their binary by dladdr; libunwind is loaded with dlopen
 * the first time, so a process that does not ask for the report never loads it. */
#include "report.h"
#include "config.h"
#include "log.h"
#include "sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>

bool fams_report_on;

struct site {
	const void *ip; /* NULL: commits made outside any noted call */
	char where[512];
	uint64_t commits, pages, bytes, flushes;
	uint64_t *ns;
	size_t n, cap;
	UT_hash_handle hh;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct site *g_sites;
static __thread const void *t_site;
static __thread bool t_in_call;

/* libunwind's local-unwinding calls, by the names its macros expand to. */
#define NAME_OF(x) NAME_OF_(x)
#define NAME_OF_(x) #x
static struct {
	bool tried, ok;
	int (*getcontext)(unw_context_t *);
	int (*init_local)(unw_cursor_t *, unw_context_t *);
	int (*step)(unw_cursor_t *);
	int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
	int (*get_proc_name)(unw_cursor_t *, char *, size_t, unw_word_t *);
} unw;

static bool load_libunwind(void)
{
	if (unw.tried)
		return unw.ok;
	unw.tried = true;
	void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fams_warn("FAMS_REPORT: cannot load libunwind.so.8 (%s); places are named by dladdr only", dlerror());
		return false;
	}
	*(void **)&unw.getcontext = dlsym(h, NAME_OF(unw_tdep_getcontext));
	*(void **)&unw.init_local = dlsym(h, NAME_OF(unw_init_local));
	*(void **)&unw.step = dlsym(h, NAME_OF(unw_step));
	*(void **)&unw.get_reg = dlsym(h, NAME_OF(unw_get_reg));
	*(void **)&unw.get_proc_name = dlsym(h, NAME_OF(unw_get_proc_name));
	unw.ok = unw.getcontext && unw.init_local && unw.step && unw.get_reg && unw.get_proc_name;
	return unw.ok;
}

/* A C++ name demangled into fn (cap bytes), by the C++ runtime's demangler when
 * the program has loaded it (a C++ program has; fams, in C, does not link it). */
static void demangle(char *fn, size_t cap)
{
	typedef char *(*demangler)(const char *, char *, size_t *, int *);
	demangler d = strncmp(fn, "_Z", 2) == 0 ? (demangler)dlsym(RTLD_DEFAULT, "__cxa_demangle") : NULL;
	int status = -1;
	char *plain = d ? d(fn, NULL, NULL, &status) : NULL;
	if (plain && status == 0)
		snprintf(fn, cap, "%s", plain);
	free(plain);
}

/* Name the place ip into s->where: "function+0xOFF (binary)". */
static void __attribute__((noinline)) name_site(struct site *s, const void *ip)
{
	char fn[256] = "";
	unw_word_t off = 0;
	if (load_libunwind()) {
		unw_context_t uc;
		unw_cursor_t c;
		/* Walk up from here to the frame whose return address is ip. */
		if (unw.getcontext(&uc) == 0 && unw.init_local(&c, &uc) == 0)
			for (int i = 0; i < 8 && unw.step(&c) > 0; i++) {
				unw_word_t at;
				if (unw.get_reg(&c, UNW_REG_IP, &at) == 0 && at == (unw_word_t)ip) {
					if (unw.get_proc_name(&c, fn, sizeof fn, &off) != 0)
						fn[0] = '\0';
					break;
				}
			}
	}
	Dl_info di;
	bool found = dladdr(ip, &di) != 0;
	if (!fn[0] && found && di.dli_sname) {
		snprintf(fn, sizeof fn, "%s", di.dli_sname);
		off = (unw_word_t)((const char *)ip - (const char *)di.dli_saddr);
	}
	demangle(fn, sizeof fn);
	snprintf(s->where, sizeof s->where, "%s+0x%llx (%s)", fn[0] ? fn : "?", (unsigned long long)off,
		 found && di.dli_fname ? di.dli_fname : "?");
}

/* The entry of site ip, made if new; the lock is held. */
static struct site *site_of(const void *ip)
{
	struct site *s;
	HASH_FIND_PTR(g_sites, &ip, s);
	if (s)
		return s;
	if (!(s = calloc(1, sizeof *s)))
		return NULL;
	s->ip = ip;
	if (ip)
		name_site(s, ip);
	else
		snprintf(s->where, sizeof s->where, "at exit, or by fams's MS_ASYNC thread");
	HASH_ADD_PTR(g_sites, ip, s);
	return s;
}

void report_note_site(const void *ip)
{
	int saved = errno;
	t_site = ip;
	t_in_call = true;
	pthread_mutex_lock(&g_lock);
	site_of(ip);
	pthread_mutex_unlock(&g_lock);
	errno = saved;
}

void report_end_site(void) { t_in_call = false; }

struct report_mark report_mark(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (struct report_mark){ (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec,
				     __atomic_load_n(&fams_stats.flushes, __ATOMIC_RELAXED) };
}

void report_commit(const struct report_mark *since, uint64_t pages, uint64_t bytes)
{
	struct report_mark now = report_mark();
	uint64_t flushes = now.flushes - since->flushes, ns = now.ns - since->ns;
	pthread_mutex_lock(&g_lock);
	struct site *s = site_of(t_in_call ? t_site : NULL);
	if (s) {
		s->commits++;
		s->pages += pages;
		s->bytes += bytes;
		s->flushes += flushes;
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64;
			uint64_t *ns_ = realloc(s->ns, cap * sizeof *ns_);
			if (ns_)
				s->ns = ns_, s->cap = cap;
		}
		if (s->n < s->cap)
			s->ns[s->n++] = ns;
	}
	pthread_mutex_unlock(&g_lock);
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int by_commits(struct site *a, struct site *b)
{
	return a->commits < b->commits ? 1 : a->commits > b->commits ? -1 : 0;
}

void report_write(void)
{
	pthread_mutex_lock(&g_lock);
	FILE *out = fopen(fams_cfg.report, "w");
	if (!out) {
		fams_error("FAMS_REPORT: cannot write %s: %s", fams_cfg.report, strerror(errno));
		pthread_mutex_unlock(&g_lock);
		return;
	}
	fprintf(out, "%8s %8s %12s %8s %10s %10s  %s\n", "commits", "pages", "bytes", "flushes", "p50_us",
		"p99_us", "where");
	HASH_SORT(g_sites, by_commits);
	for (struct site *s = g_sites; s; s = s->hh.next) {
		if (!s->commits)
			continue;
		qsort(s->ns, s->n, sizeof *s->ns, by_value);
		double p50 = s->n ? (double)s->ns[s->n / 2] / 1e3 : 0, p99 = s->n ? (double)s->ns[(s->n * 99) / 100] / 1e3 : 0;
		fprintf(out, "%8llu %8llu %12llu %8llu %10.1f %10.1f  %s\n", (unsigned long long)s->commits,
			(unsigned long long)s->pages, (unsigned long long)s->bytes, (unsigned long long)s->flushes, p50,
			p99, s->where);
	}
	fclose(out);
	pthread_mutex_unlock(&g_lock);
}
