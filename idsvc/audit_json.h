/*
 * The canonical JSON text of audit entries and payloads: sorted keys, no spaces and
 * only ASCII, byte for byte what jansson 2.14 writes with JSON_COMPACT | JSON_SORT_KEYS
 * | JSON_ENSURE_ASCII. A leaf hash covers these bytes, so they must never change.
 */
#ifndef IDSVC_AUDIT_JSON_H
#define IDSVC_AUDIT_JSON_H

#include <jansson.h>

/* Returns the canonical text of an object or array, which the caller frees. Returns
 * NULL as json_dumps does: for any other value, when out of memory, or when value
 * contains a string that is not valid UTF-8. A value that contains a real number is
 * written by json_dumps itself. */
char *audit_json_canonical(const json_t *value);

#endif
