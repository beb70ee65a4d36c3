/* famsrun-options.c -- preprocessed (cc -E -P) when famsrun is configured, into the
 * two shell functions famsrun uses for the options that set FAMS_* variables, so
 * that lib/settings.h stays their one list:
 *   fams_option_help   prints each option's help line
 *   fams_option ARGS   takes an option at the head of ARGS if it is one of them
 *                      (take_option, in famsrun.in), or returns 1 */
#include "settings.h"
#define HELP(var, kind, field, rule, option, arg, help) option_help option arg help #var ;
fams_option_help() { FAMS_SETTINGS(HELP) }
#define TAKE(var, kind, field, rule, option, arg, help) take_option option kind #var "$@" && return 0 ;
fams_option() { FAMS_SETTINGS(TAKE) return 1 ; }
