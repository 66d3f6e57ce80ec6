/* Reading the replies of the citizen pages' calls in the enrollment and consent tests. */
#include "page_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <jansson.h>

#include "webauthn.h"

const char *page_find_nocase(const char *text, const char *needle)
{
    size_t len = strlen(needle);

    for (; text != NULL && *text != '\0'; text++)
        if (strncasecmp(text, needle, len) == 0)
            return text;
    return NULL;
}

void page_read_cookie(const http_result *r, char *out, size_t size)
{
    const char *found = page_find_nocase(r->headers, "set-cookie: __Host-idsvc_session=");

    assert_non_null(found);
    found += strlen("set-cookie: ");
    snprintf(out, size, "%.*s", (int)strcspn(found, ";\r\n"), found);
}

void page_decode_challenge(const http_result *r, unsigned char out[32])
{
    const char *text = json_string_value(json_object_get(r->json, "challenge"));
    unsigned char *bytes = NULL;
    size_t len = 0;

    assert_non_null(text);
    assert_int_equal(webauthn_base64url_decode(text, strlen(text), &bytes, &len), 0);
    assert_int_equal(len, 32);
    memcpy(out, bytes, 32);
    free(bytes);
}

char *page_wrap_response(char *response_json)
{
    size_t len = strlen(response_json) + 32;
    char *body = malloc(len);

    assert_non_null(body);
    snprintf(body, len, "{\"response\":%s}", response_json);
    free(response_json);
    return body;
}
