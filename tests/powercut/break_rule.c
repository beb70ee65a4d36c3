/* break_rule.c -- the power-cut harness's deliberately broken engine: linked into
 * a second copy of the preload library (libfams_preload_broken.so, never
 * installed), it breaks one ordering rule from start-up: a commit reports success
 * before its data is durable.  The harness must catch it (lost commits). */
#include "sys.h"

__attribute__((constructor)) static void break_one_rule(void) { fams_test_break = FAMS_BREAK_NO_DATA_FLUSH; }
