#include "openapi_check.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "problem.h"

#define SCHEMA_DEPTH_MAX 16

/* The reply under check, for the mismatch messages. */
typedef struct check {
    const char *method;
    const char *pattern;
    int mismatches;
} check;

static void mismatch(check *c, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void mismatch(check *c, const char *format, ...)
{
    va_list args;

    fprintf(stderr, "openapi.json: %s %s: ", c->method, c->pattern);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    c->mismatches++;
}

json_t *openapi_load(void)
{
    const char *root = getenv("IDSVC_SOURCE_DIR");
    char path[4096];
    json_error_t error;
    json_t *doc;

    if (root == NULL) {
        fprintf(stderr, "IDSVC_SOURCE_DIR is not set, so schemas/openapi.json cannot be "
                        "found\n");
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/schemas/openapi.json", root);
    doc = json_load_file(path, 0, &error);
    if (doc == NULL)
        fprintf(stderr, "%s:%d: %s\n", path, error.line, error.text);
    return doc;
}

/* Follows a local $ref such as "#/components/schemas/X/properties/y", and the $ref of
 * what it finds. Returns element when it has no $ref, or NULL when a reference is broken. */
static const json_t *resolve(const json_t *doc, const json_t *element)
{
    for (int depth = 0; depth < 8 && element != NULL; depth++) {
        const char *ref = json_string_value(json_object_get(element, "$ref"));
        const json_t *at = doc;
        char token[256];

        if (ref == NULL)
            return element;
        if (strncmp(ref, "#/", 2) != 0)
            return NULL;
        ref += 2;
        while (at != NULL && *ref != '\0') {
            size_t len = strcspn(ref, "/");

            if (len >= sizeof(token))
                return NULL;
            memcpy(token, ref, len);
            token[len] = '\0';
            at = json_object_get(at, token);
            ref += len;
            if (*ref == '/')
                ref++;
        }
        element = at;
    }
    return NULL;
}

/* Copies the value of the header name from the last response head in headers, because
 * curl writes the head of an interim 100 Continue before the final one. Returns false
 * when the header is absent. */
static bool header_value(const char *headers, const char *name, char *out, size_t size)
{
    const char *head = headers;
    const char *line;
    const char *next;
    size_t name_len = strlen(name);

    if (headers == NULL)
        return false;
    while ((next = strstr(head, "\nHTTP/")) != NULL)
        head = next + 1;
    for (line = head; line != NULL && *line != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            next++;
        if (strncasecmp(line, name, name_len) != 0 || line[name_len] != ':')
            continue;
        line += name_len + 1;
        while (*line == ' ' || *line == '\t')
            line++;
        snprintf(out, size, "%.*s", (int)strcspn(line, "\r\n"), line);
        return true;
    }
    return false;
}

/* The media type of the reply without parameters, such as "text/html", or "". */
static void media_type(const http_result *reply, char *out, size_t size)
{
    size_t len;

    if (!header_value(reply->headers, "Content-Type", out, size)) {
        out[0] = '\0';
        return;
    }
    len = strcspn(out, ";");
    while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '\t'))
        len--;
    out[len] = '\0';
}

static void lower(const char *in, char *out, size_t size)
{
    size_t i = 0;

    for (; in[i] != '\0' && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

static bool is_operation(const char *key)
{
    static const char *const methods[] = {"get",     "put",  "post",  "delete",
                                          "options", "head", "patch", "trace"};

    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(key, methods[i]) == 0)
            return true;
    return false;
}

/* Compares the Allow header of a 405 with the operations that the path item lists. */
static void check_allow(const json_t *item, const http_result *reply, check *c)
{
    char allow[256];
    char named[8][16];
    size_t count = 0;
    const char *key;
    json_t *operation;
    const char *at = allow;

    if (!header_value(reply->headers, "Allow", allow, sizeof(allow))) {
        mismatch(c, "the 405 reply has no Allow header");
        return;
    }
    while (*at != '\0' && count < sizeof(named) / sizeof(named[0])) {
        size_t len;

        while (*at == ' ' || *at == ',')
            at++;
        len = strcspn(at, ", ");
        if (len == 0)
            break;
        snprintf(named[count], sizeof(named[count]), "%.*s", (int)len, at);
        lower(named[count], named[count], sizeof(named[count]));
        if (!is_operation(named[count]) || json_object_get(item, named[count]) == NULL)
            mismatch(c, "Allow names %.*s, which the path does not list", (int)len, at);
        count++;
        at += len;
    }

    json_object_foreach((json_t *)item, key, operation) {
        bool is_named = false;

        for (size_t i = 0; i < count; i++)
            is_named = is_named || strcmp(named[i], key) == 0;
        if (is_operation(key) && !is_named)
            mismatch(c, "the path lists %s, which Allow (\"%s\") does not name", key, allow);
    }
}

/* Checks that value has the members that schema requires and only those it declares. */
static void check_members(const json_t *doc, const json_t *schema, json_t *value,
                          const char *where, int depth, check *c)
{
    const json_t *properties;
    const json_t *extra;
    const json_t *required;
    const json_t *name;
    const char *key;
    json_t *member;
    size_t index;
    char inner[256];

    schema = resolve(doc, schema);
    if (schema == NULL || depth > SCHEMA_DEPTH_MAX)
        return;

    if (json_is_array(value)) {
        const json_t *items = json_object_get(schema, "items");

        if (items == NULL)
            return;
        json_array_foreach(value, index, member) {
            snprintf(inner, sizeof(inner), "%s[%zu]", where, index);
            check_members(doc, items, member, inner, depth + 1, c);
        }
        return;
    }
    if (!json_is_object(value))
        return;

    properties = json_object_get(schema, "properties");
    extra = json_object_get(schema, "additionalProperties");
    required = json_object_get(schema, "required");
    json_array_foreach(required, index, name) {
        if (json_object_get(value, json_string_value(name)) == NULL)
            mismatch(c, "%s lacks the required member %s", where, json_string_value(name));
    }
    json_object_foreach(value, key, member) {
        const json_t *declared = json_object_get(properties, key);

        snprintf(inner, sizeof(inner), "%s.%s", where, key);
        if (declared != NULL)
            check_members(doc, declared, member, inner, depth + 1, c);
        else if (json_is_object(extra))
            check_members(doc, extra, member, inner, depth + 1, c);
        else if (properties != NULL && !json_is_true(extra))
            mismatch(c, "%s is a member that the schema does not declare", inner);
    }
}

static void check_problem(const json_t *doc, const http_result *reply, check *c)
{
    const char *code = json_string_value(json_object_get(reply->json, "code"));
    const char *title = json_string_value(json_object_get(reply->json, "title"));
    const char *expected_title = problem_status_title((unsigned)reply->status);
    const json_t *schema = json_object_get(
        json_object_get(json_object_get(doc, "components"), "schemas"), "Problem");

    if (reply->json == NULL) {
        mismatch(c, "the problem document is not JSON: %s",
                 reply->body != NULL ? reply->body : "");
        return;
    }
    if (code == NULL || code[0] == '\0')
        mismatch(c, "the problem document has no code");
    if (json_integer_value(json_object_get(reply->json, "status")) != reply->status)
        mismatch(c, "the problem document's status is not the reply's %ld", reply->status);
    if (title == NULL || strcmp(title, expected_title) != 0)
        mismatch(c, "the problem document's title is \"%s\", not \"%s\" for %ld",
                 title != NULL ? title : "", expected_title, reply->status);
    check_members(doc, schema, reply->json, "problem", 0, c);
}

/* Finds the documented response for the reply's status, for 405 the MethodNotAllowed
 * component. Returns NULL after a mismatch. */
static const json_t *find_response(const json_t *doc, const json_t *item,
                                   const json_t *operation, const http_result *reply,
                                   check *c)
{
    const json_t *response;
    char status[16];

    snprintf(status, sizeof(status), "%ld", reply->status);
    if (reply->status == 405) {
        if (operation != NULL)
            mismatch(c, "405 for a method that the path lists");
        check_allow(item, reply, c);
        response = json_object_get(json_object_get(json_object_get(doc, "components"),
                                                   "responses"),
                                   "MethodNotAllowed");
        if (response == NULL)
            mismatch(c, "405, but components.responses has no MethodNotAllowed");
        return response;
    }
    if (operation == NULL) {
        mismatch(c, "the path lists no %s operation", c->method);
        return NULL;
    }
    response = resolve(doc, json_object_get(json_object_get(operation, "responses"), status));
    if (response == NULL)
        mismatch(c, "the status %s is not listed", status);
    return response;
}

/* Checks Retry-After and Allow against the headers that the response declares. */
static void check_headers(const json_t *response, const http_result *reply, check *c)
{
    const json_t *declared = json_object_get(response, "headers");
    static const char *const names[] = {"Retry-After", "Allow"};
    char value[256];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (header_value(reply->headers, names[i], value, sizeof(value)) &&
            json_object_get(declared, names[i]) == NULL)
            mismatch(c, "the %ld reply has a %s header that the response does not declare",
                     reply->status, names[i]);
    }
    if ((reply->status == 429 || reply->status == 503) &&
        !header_value(reply->headers, "Retry-After", value, sizeof(value)))
        mismatch(c, "the %ld reply has no Retry-After header", reply->status);
}

int openapi_check_reply(const json_t *doc, const char *method, const char *pattern,
                        const http_result *reply)
{
    check c = {method, pattern, 0};
    const json_t *item = json_object_get(json_object_get(doc, "paths"), pattern);
    bool head = strcmp(method, "HEAD") == 0;
    const json_t *operation;
    const json_t *response;
    const json_t *content;
    char name[16];
    char type[128];

    if (item == NULL) {
        mismatch(&c, "the document lists no such path");
        return c.mismatches;
    }
    lower(method, name, sizeof(name));
    operation = json_object_get(item, name);
    response = find_response(doc, item, operation, reply, &c);
    if (response == NULL)
        return c.mismatches;

    /* A reply to HEAD has the media type of GET's reply, and no body. */
    content = json_object_get(response, "content");
    if (head && reply->status != 405) {
        char status[16];

        snprintf(status, sizeof(status), "%ld", reply->status);
        content = json_object_get(
            resolve(doc, json_object_get(json_object_get(json_object_get(item, "get"),
                                                         "responses"),
                                         status)),
            "content");
        if (reply->body != NULL && reply->body[0] != '\0')
            mismatch(&c, "the reply to HEAD has a body");
    }
    media_type(reply, type, sizeof(type));
    if (type[0] != '\0' && json_object_get(content, type) == NULL)
        mismatch(&c, "the %ld reply is %s, which the response does not list",
                 reply->status, type);

    check_headers(response, reply, &c);
    if (head)
        return c.mismatches;
    if (strcmp(type, "application/problem+json") == 0)
        check_problem(doc, reply, &c);
    else if (strcmp(type, "application/json") == 0)
        check_members(doc, json_object_get(json_object_get(content, type), "schema"),
                      reply->json, "body", 0, &c);
    return c.mismatches;
}
