/*
 * Compares replies of the real daemon with schemas/openapi.json, so that a test that
 * meets a status, a media type, a header or a body member that the document does not
 * list fails and names it.
 */
#ifndef IDSVC_OPENAPI_CHECK_H
#define IDSVC_OPENAPI_CHECK_H

#include <jansson.h>

#include "server_harness.h"

/* Loads schemas/openapi.json from the folder in IDSVC_SOURCE_DIR. Returns the document,
 * or NULL after printing why it could not be read. */
json_t *openapi_load(void);

/*
 * Checks a reply to method on the route pattern (such as "/consent/{id}") against the
 * document and prints one line per mismatch to standard error. Returns the number of
 * mismatches. The checks:
 * - the path lists the method and the status, or for 405 the path exists and the
 *   components hold MethodNotAllowed, whose Allow header must name the path's methods;
 * - the Content-Type is one of the listed media types, those of GET for HEAD, and a
 *   reply to HEAD has no body;
 * - a Retry-After or Allow header is declared by the response, and every 429 and 503
 *   carries Retry-After;
 * - a problem document has its code, its status and the standard title of the status;
 * - a JSON body has the required members and only members that the schema declares,
 *   in nested objects and arrays too. A schema with no properties, or with
 *   additionalProperties true or a schema, allows other members.
 */
int openapi_check_reply(const json_t *doc, const char *method, const char *pattern,
                        const http_result *reply);

#endif
