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

/* Returns true when a Host header value, without the white space after it, is a host
 * with an optional port, as RFC 9112 (section 3.2) and RFC 3986 (section 3.2) write
 * them. The host is a registered name, an IPv4 address or a bracketed IP-literal, and
 * the port is ":" and digits. An empty host, which an https URI may not have, is
 * invalid. */
bool http_host_value_valid(const char *value);

/* Returns the path of a request-target, which libmicrohttpd 0.9.75 passes without its
 * query. An origin-form target ("/v1/issuers") is its own path. RFC 9112 (section
 * 3.2.2) requires a server to accept the absolute form too, so for a target such as
 * "https://node.example/v1/issuers" it returns the path after the authority, or "/"
 * when there is none. *authority_ok is false when that authority is not a host with an
 * optional port, as http_host_value_valid reads one. */
const char *http_target_origin_path(const char *target, bool *authority_ok);

#endif
