/*
 * Fuzzes the parser of JSON request bodies, http_parse_json_body, with the default
 * limits of a node (depth 8, strings of 128 KiB). It also checks the fast parser
 * against jansson: an object that http_json_parse_plain returns must equal the one
 * json_loadb returns with JSON_REJECT_DUPLICATES, or the harness aborts.
 */
#include <stdlib.h>

#include "fuzz_harness.h"
#include "http.h"
#include "http_json_text.h"

static void check_plain_parser(const char *text, size_t size)
{
    json_t *plain = http_json_parse_plain(text, size);
    json_t *reference;

    if (plain == NULL)
        return;
    reference = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
    if (reference == NULL || !json_equal(plain, reference))
        abort();
    json_decref(reference);
    json_decref(plain);
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
    return 0;
}
