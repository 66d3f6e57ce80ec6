/* Reading the replies of the citizen pages' calls in the enrollment and consent tests. */
#ifndef IDSVC_TEST_PAGE_CLIENT_H
#define IDSVC_TEST_PAGE_CLIENT_H

#include <stddef.h>

#include "server_harness.h"

/* Finds needle in text without regard to ASCII case; NULL when absent. */
const char *page_find_nocase(const char *text, const char *needle);

/* Copies "__Host-idsvc_session=..." from the Set-Cookie header of a response. */
void page_read_cookie(const http_result *r, char *out, size_t size);

/* Decodes the 32-byte base64url "challenge" of an options reply. */
void page_decode_challenge(const http_result *r, unsigned char out[32]);

/* Returns {"response": RESPONSE_JSON} and frees response_json. */
char *page_wrap_response(char *response_json);

#endif
