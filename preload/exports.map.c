/* exports.map.c -- preprocessed (cc -E -P) into the version script of
 * libfams_preload.so: only the names wrapped.h lists leave the library. */
#include "wrapped.h"
#define W(name, ret, params, need) name;
#define A(alias, name, ret, params) alias;
#define E(name) name;
{
  global:
    FAMS_EXPORTS(W, A, E)
  local: *;
};
