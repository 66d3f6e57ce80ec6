#include "problem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"

#define PROBLEM_TYPE_PREFIX "urn:idsvc:problem:"

/*
 * Makes text valid UTF-8 in place, so that jansson takes it: a sequence that snprintf
 * cut at the end of its buffer is dropped, and any other byte that starts no
 * well-formed sequence becomes '?'. A detail quotes client text, and one cut inside a
 * character would otherwise turn the whole document into "{}".
 */
static void make_utf8(char *text)
{
    unsigned char *s = (unsigned char *)text;
    size_t i = 0;

    while (s[i] != '\0') {
        size_t len = s[i] < 0x80 ? 1 : log_utf8_sequence(s + i);

        if (len > 0) {
            i += len;
            continue;
        }
        if (strlen(text + i) < 4 && s[i] >= 0xc2 && s[i] <= 0xf4) {
            s[i] = '\0'; /* the start of a sequence that the buffer cut */
            break;
        }
        s[i++] = '?';
    }
}

const char *problem_status_title(unsigned status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

void problem_set(http_reply *reply, unsigned status, const char *code, const char *field,
                 const char *format, ...)
{
    char detail[512];
    char field_text[256];
    char type[128];
    va_list args;
    json_t *doc;

    va_start(args, format);
    vsnprintf(detail, sizeof(detail), format, args);
    va_end(args);
    make_utf8(detail);
    snprintf(type, sizeof(type), PROBLEM_TYPE_PREFIX "%s", code);

    http_reply_clear(reply);
    reply->status = status;
    reply->code = code;
    reply->content_type = "application/problem+json";

    doc = json_pack("{s:s, s:s, s:I, s:s, s:s}", "type", type, "title",
                    problem_status_title(status), "status", (json_int_t)status, "detail",
                    detail, "code", code);
    if (doc != NULL && field != NULL) {
        snprintf(field_text, sizeof(field_text), "%s", field);
        make_utf8(field_text);
        json_object_set_new(doc, "field", json_string(field_text));
    }
    if (doc != NULL)
        reply->body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);

    /* Without memory for the document the status and code still reach the client. */
    if (reply->body == NULL)
        reply->body = strdup("{}");
    reply->body_len = reply->body != NULL ? strlen(reply->body) : 0;
}

void problem_hsm_unavailable(http_reply *reply, unsigned retry_after_seconds)
{
    problem_set(reply, 503, "hsm_unavailable", NULL,
                "The node's HSM is not available; retry after %u seconds.",
                retry_after_seconds);
    reply->retry_after = retry_after_seconds;
}

void problem_internal(http_reply *reply)
{
    problem_set(reply, 500, "internal_error", NULL,
                "The node failed to process the request; the request id is in the "
                "X-Request-Id header.");
}
