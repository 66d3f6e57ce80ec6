/* Helpers shared by the route files. */
#ifndef IDSVC_ROUTE_COMMON_H
#define IDSVC_ROUTE_COMMON_H

#include <stddef.h>
#include <time.h>

#include "http.h"

/* Formats t as an RFC 3339 time in UTC, such as "2026-01-31T12:00:00Z". */
void route_format_time(time_t t, char out[32]);

/* Fills out with 2 * bytes hex digits from the random generator; 0 or -1. */
int route_random_hex(char *out, size_t bytes);

/*
 * Signs an assertion in the HSM with the node's SAML key and counts the operation. On
 * failure fills reply: 503 with Retry-After when the HSM failed, 500 otherwise.
 */
int route_sign_assertion(http_request *request, const saml_assertion_spec *spec,
                         char **xml_out, http_reply *reply);

/*
 * Checks the values that a result attestation copies from a verified assertion (the
 * NameID, its format, the assurance level and the disclosed attributes) against the
 * signer's rules. An assertion whose values the signer would reject gets 422 with a
 * code of its own, so that it never reaches the HSM and fails there as a fault of the
 * node. Returns 0, or -1 with the problem in reply.
 */
int route_check_result_values(http_request *request, const saml_assertion_spec *spec,
                              http_reply *reply);

/* Appends to the JSON array list each value of attribute that list does not contain yet.
 * Returns 0, or -1 when out of memory. */
int route_append_new_values(json_t *list, const saml_attribute *attribute);

/* Copies the root Assertion's ID from XML that route_sign_assertion produced. */
int route_assertion_id(const char *xml, char *out, size_t out_size);

#endif
