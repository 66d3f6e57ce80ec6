/*
 * Fuzzes the parser of JSON request bodies, http_parse_json_body, with the default
 * limits of a node (depth 8, strings of 128 KiB). It also checks the fast parser and
 * writer against jansson, and aborts when they differ. An object that
 * http_json_parse_plain returns must equal the one json_loadb returns with
 * JSON_REJECT_DUPLICATES, members in the same order. http_json_escape must write what
 * json_dumps writes for the input, up to its first NUL byte, as a string.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_harness.h"
#include "http.h"
#include "http_json_text.h"

/* Returns whether the members of two objects have the same names in the same order. */
static bool same_member_order(json_t *a, json_t *b)
{
    void *at_a = json_object_iter(a);
    void *at_b = json_object_iter(b);

    while (at_a != NULL && at_b != NULL) {
        if (strcmp(json_object_iter_key(at_a), json_object_iter_key(at_b)) != 0)
            return false;
        at_a = json_object_iter_next(a, at_a);
        at_b = json_object_iter_next(b, at_b);
    }
    return at_a == NULL && at_b == NULL;
}

static void check_plain_parser(const char *text, size_t size)
{
    json_t *plain = http_json_parse_plain(text, size);
    json_t *reference;

    if (plain == NULL)
        return;
    reference = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
    if (reference == NULL || !json_equal(plain, reference) ||
        !same_member_order(plain, reference))
        abort();
    json_decref(reference);
    json_decref(plain);
}

/* value is NUL-terminated, as http_json_escape requires. */
static void check_escape(const char *value)
{
    size_t len = strlen(value);
    char *escaped = malloc(HTTP_JSON_ESCAPED_MAX(len) + 1);
    json_t *string = json_string(value); /* NULL for invalid UTF-8 */
    char *reference = string != NULL ? json_dumps(string, JSON_ENCODE_ANY) : NULL;
    char *end;

    if (escaped == NULL || (string != NULL && reference == NULL))
        abort();
    end = http_json_escape(escaped, value, len);
    if ((end == NULL) != (string == NULL))
        abort();
    /* json_dumps writes the quotes around the escaped text. */
    if (end != NULL && ((size_t)(end - escaped) != strlen(reference) - 2 ||
                        memcmp(escaped, reference + 1, (size_t)(end - escaped)) != 0))
        abort();
    free(reference);
    json_decref(string);
    free(escaped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static config settings;
    static node server;
    http_request request = {0};
    http_reply reply = {0};
    json_t *doc;

    settings.limits.max_json_depth = 8;
    settings.limits.max_string_bytes = 128 * 1024;
    server.boot = &settings;
    request.node = &server;
    request.body = (const char *)data;
    request.body_len = size;

    doc = http_parse_json_body(&request, &reply);
    if (doc == NULL && reply.status != 400)
        abort(); /* every rejection of a body is a 400 problem */
    json_decref(doc);
    http_reply_clear(&reply);

    check_plain_parser((const char *)data, size);

    char *value = malloc(size + 1);

    if (value == NULL)
        abort();
    memcpy(value, data, size);
    value[size] = '\0';
    check_escape(value);
    free(value);
    return 0;
}
