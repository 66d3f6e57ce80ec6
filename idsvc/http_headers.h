/* Checks of the request line and headers that libmicrohttpd 0.9.75 leaves to the
 * application. */
#ifndef IDSVC_HTTP_HEADERS_H
#define IDSVC_HTTP_HEADERS_H

#include <stdbool.h>

/* Returns true when value is "application/json", in any case, with no parameter other
 * than charset=utf-8. RFC 8259 defines no parameters and requires UTF-8 between systems,
 * so a body declared in another charset is rejected rather than misread. */
bool http_media_type_is_json(const char *value);

/* Returns true when the path of a raw request-target (the text before any '?') contains
 * a percent-encoded byte. libmicrohttpd decodes the path before it passes it to the
 * application, so "%00" would cut it short and "%2F" would add a segment. */
bool http_target_path_is_encoded(const char *target);

#endif
