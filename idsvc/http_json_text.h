/*
 * JSON text read and written without jansson's work per character, for the kilobytes of
 * SAML XML that POST /v1/verifications reads and returns. Both functions give the same
 * result as jansson 2.14 does for the same input.
 */
#ifndef IDSVC_HTTP_JSON_TEXT_H
#define IDSVC_HTTP_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * Parses a JSON object whose members are strings, integers, true, false, null or arrays
 * of those, with strings of printable ASCII and the escapes other than \u. Returns the
 * object that json_loadb would return with JSON_REJECT_DUPLICATES, members in the same
 * order, or NULL for any other text: then the caller parses it with json_loadb, which
 * also reports the errors. Nothing that json_loadb rejects is accepted.
 */
json_t *http_json_parse_plain(const char *text, size_t len);

/* The deepest nesting of a document that http_json_parse_plain returns: an object that
 * contains arrays. */
#define HTTP_JSON_PLAIN_DEPTH 2

/* The maximum number of bytes that http_json_escape writes for len bytes of input: 6
 * for each control character. */
#define HTTP_JSON_ESCAPED_MAX(len) (6 * (len))

/* Writes value as the contents of a JSON string, without the quotes, escaped as jansson's
 * json_dumps escapes it without JSON_ENSURE_ASCII. Returns the end of what it wrote, or
 * NULL when value is not valid UTF-8 (RFC 3629). out must have room for
 * HTTP_JSON_ESCAPED_MAX(len) bytes, and value[len] must be readable, such as the NUL of a
 * string. */
char *http_json_escape(char *out, const char *value, size_t len);

#endif
