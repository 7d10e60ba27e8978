/* Internals shared by the files of pkg/osb; no other module includes this. */
#ifndef DTK_OSB_OSB_INT_H
#define DTK_OSB_OSB_INT_H

#include <stddef.h>

#include "pkg/json/json.h"
#include "pkg/osb/osb.h"

/* Longest broker description kept in a reply. */
#define DTK_OSB__DESCRIPTION_MAX 512

/* Overwrites every string, key and number of v with zeros, then frees it:
 * for trees that may hold credentials. NULL is a no-op. */
void dtk_osb__json_wipe_free(dtk_json *v);

/* Zeroes len bytes in a way the compiler may not drop. */
void dtk_osb__wipe(void *p, size_t len);

/* Parses a Retry-After value: delta-seconds or an IMF-fixdate relative to
 * now_epoch. Returns -1 when absent or unusable, else seconds (≥ 0). */
long dtk_osb__parse_retry_after(const char *value, long long now_epoch);

/* Decodes a parsed /v2/catalog document; schemas are moved out of doc. */
int dtk_osb__catalog_decode(dtk_osb_catalog **out, dtk_json *doc);

#endif
