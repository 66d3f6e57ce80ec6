/* JSON in and out of the HTTP layer, within the configured limits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "http_json_text.h"
#include "problem.h"

#define FIELD_PATH_MAX 128

void http_reply_clear(http_reply *reply)
{
    free(reply->body);
    for (size_t i = 0; i < reply->header_count; i++) {
        free(reply->header_names[i]);
        free(reply->header_values[i]);
    }
    memset(reply, 0, sizeof(*reply));
}

int http_reply_header(http_reply *reply, const char *name, const char *value)
{
    char *name_copy;
    char *value_copy;

    if (reply->header_count == HTTP_MAX_HEADERS)
        return -1;
    name_copy = strdup(name);
    value_copy = strdup(value);
    if (name_copy == NULL || value_copy == NULL) {
        free(name_copy);
        free(value_copy);
        return -1;
    }
    reply->header_names[reply->header_count] = name_copy;
    reply->header_values[reply->header_count] = value_copy;
    reply->header_count++;
    return 0;
}

void http_reply_json(http_reply *reply, unsigned status, json_t *doc)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;

    json_decref(doc);
    if (text == NULL) {
        problem_internal(reply);
        return;
    }
    http_reply_clear(reply);
    reply->status = status;
    reply->content_type = "application/json";
    reply->body = text;
    reply->body_len = strlen(text);
}

/* Returns the compact text of an object without its closing brace, and its length. */
static char *dump_open_object(json_t *object, size_t *len)
{
    char *text = json_dumps(object, JSON_COMPACT);

    if (text == NULL)
        return NULL;
    *len = strlen(text) - 1;
    return text;
}

static char *append(char *at, const char *text, size_t len)
{
    memcpy(at, text, len);
    return at + len;
}

/* Writes {head members,"name":"value",tail members} with the commas that JSON needs,
 * into body, and returns the end, or NULL when name or value is not valid UTF-8. head
 * and tail are open objects as dump_open_object returns them. */
static char *join_members(char *body, const char *head, size_t head_len, const char *name,
                          const char *value, const char *tail, size_t tail_len)
{
    char *at = append(body, head, head_len);

    if (head_len > 1)
        *at++ = ',';
    *at++ = '"';
    at = http_json_escape(at, name, strlen(name));
    if (at == NULL)
        return NULL;
    at = append(at, "\":\"", 3);
    at = http_json_escape(at, value, strlen(value));
    if (at == NULL)
        return NULL;
    *at++ = '"';
    if (tail_len > 1) {
        *at++ = ',';
        at = append(at, tail + 1, tail_len - 1);
    }
    *at++ = '}';
    *at = '\0';
    return at;
}

void http_reply_json_with_string(http_reply *reply, unsigned status, json_t *head,
                                 const char *name, const char *value, json_t *tail)
{
    size_t head_len = 0, tail_len = 0;
    size_t name_len = strlen(name), value_len = strlen(value);
    char *head_text = dump_open_object(head, &head_len);
    char *tail_text = dump_open_object(tail, &tail_len);
    char *body = NULL;
    char *end = NULL;

    json_decref(head);
    json_decref(tail);
    /* Two commas, four quotes, a colon, the closing brace and the NUL take 9 bytes,
     * and the opening brace of tail is left out. */
    if (head_text != NULL && tail_text != NULL && value_len < SIZE_MAX / 8)
        body = malloc(head_len + HTTP_JSON_ESCAPED_MAX(name_len) +
                      HTTP_JSON_ESCAPED_MAX(value_len) + tail_len - 1 + 9);
    if (body != NULL)
        end = join_members(body, head_text, head_len, name, value, tail_text, tail_len);
    free(head_text);
    free(tail_text);
    if (end == NULL) {
        free(body);
        problem_internal(reply);
        return;
    }

    http_reply_clear(reply);
    reply->status = status;
    reply->content_type = "application/json";
    reply->body = body;
    reply->body_len = (size_t)(end - body);
}

void http_reply_text(http_reply *reply, unsigned status, const char *content_type,
                     const char *text, size_t len)
{
    char *copy = malloc(len + 1);

    if (copy == NULL) {
        problem_internal(reply);
        return;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    http_reply_clear(reply);
    reply->status = status;
    reply->content_type = content_type;
    reply->body = copy;
    reply->body_len = len;
}

typedef struct json_limits {
    unsigned max_depth;
    size_t max_string;
} json_limits;

static void append_path(char *path, const char *parent, const char *key)
{
    if (parent[0] == '\0')
        snprintf(path, FIELD_PATH_MAX, "%s", key);
    else
        snprintf(path, FIELD_PATH_MAX, "%s.%s", parent, key);
}

/* Walks the document; on the first value over a limit fills reply, naming its path. */
static bool check_limits(const json_t *value, const json_limits *limits, unsigned depth,
                         const char *path, http_reply *reply)
{
    char child[FIELD_PATH_MAX];
    const char *key;
    json_t *member;
    size_t index;

    if (json_is_string(value) && json_string_length(value) > limits->max_string) {
        problem_set(reply, 400, "string_too_long", path[0] != '\0' ? path : NULL,
                    "A string is longer than %zu bytes.", limits->max_string);
        return false;
    }
    if (!json_is_object(value) && !json_is_array(value))
        return true;
    if (depth > limits->max_depth) {
        problem_set(reply, 400, "json_too_deep", path[0] != '\0' ? path : NULL,
                    "The document nests deeper than %u levels.", limits->max_depth);
        return false;
    }

    if (json_is_object(value)) {
        json_object_foreach((json_t *)value, key, member) {
            append_path(child, path, key);
            if (strlen(key) > limits->max_string) {
                problem_set(reply, 400, "string_too_long", NULL,
                            "A member name is longer than %zu bytes.", limits->max_string);
                return false;
            }
            if (!check_limits(member, limits, depth + 1, child, reply))
                return false;
        }
        return true;
    }
    json_array_foreach(value, index, member) {
        snprintf(child, sizeof(child), "%s[%zu]", path, index);
        if (!check_limits(member, limits, depth + 1, child, reply))
            return false;
    }
    return true;
}

/* Counts nesting on the raw text, so a deep document is rejected before jansson
 * recurses into it. Brackets inside strings do not count. */
static bool raw_depth_ok(const char *text, size_t len, unsigned max_depth)
{
    unsigned depth = 0;
    bool in_string = false;

    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth)
                return false;
        } else if (c == '}' || c == ']') {
            if (depth > 0)
                depth--;
        }
    }
    return true;
}

/* Returns the parsed body when it is an object within the limits. Otherwise frees it
 * and sets the problem. */
static json_t *checked_object(json_t *doc, const json_limits *limits, http_reply *reply)
{
    if (!json_is_object(doc)) {
        problem_set(reply, 400, "json_not_object", NULL, "The body must be a JSON object.");
        json_decref(doc);
        return NULL;
    }
    if (!check_limits(doc, limits, 1, "", reply)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

json_t *http_parse_json_body(const http_request *request, http_reply *reply)
{
    const config_limits *configured = &request->node->boot->limits;
    json_limits limits = {configured->max_json_depth, configured->max_string_bytes};
    json_error_t error;
    json_t *doc;

    if (request->body == NULL || request->body_len == 0) {
        problem_set(reply, 400, "body_missing", NULL, "The request needs a JSON body.");
        return NULL;
    }
    /* The plain parser reads a typical body at a fraction of jansson's cost per byte,
     * and leaves every other text, errors included, to jansson. A plain document nests
     * at most HTTP_JSON_PLAIN_DEPTH levels, so under a limit that allows them the raw
     * depth check below could not reject it. */
    if (limits.max_depth >= HTTP_JSON_PLAIN_DEPTH) {
        doc = http_json_parse_plain(request->body, request->body_len);
        if (doc != NULL)
            return checked_object(doc, &limits, reply);
    }

    if (!raw_depth_ok(request->body, request->body_len, limits.max_depth)) {
        problem_set(reply, 400, "json_too_deep", NULL,
                    "The document nests deeper than %u levels.", limits.max_depth);
        return NULL;
    }

    /* JSON_DECODE_ANY reads a bare string, number or literal as the valid JSON that it
     * is, so that it gets json_not_object below and not json_invalid. */
    doc = json_loadb(request->body, request->body_len,
                     JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (doc == NULL && json_error_code(&error) == json_error_numeric_overflow) {
        /* Valid JSON, but beyond what jansson holds: a 64-bit integer or a double. */
        problem_set(reply, 400, "number_out_of_range", NULL,
                    "The number at line %d, column %d is outside the range of a 64-bit "
                    "integer, or of a double when it has a fraction or an exponent.",
                    error.line, error.column);
        return NULL;
    }
    if (doc == NULL) {
        problem_set(reply, 400, "json_invalid", NULL,
                    "The body is not valid JSON: %s at line %d, column %d.", error.text,
                    error.line, error.column);
        return NULL;
    }
    return checked_object(doc, &limits, reply);
}

const char *http_json_string(const json_t *object, const char *name, bool required,
                             size_t max_len, http_reply *reply)
{
    const json_t *value = json_object_get(object, name);

    if (value == NULL || json_is_null(value)) {
        if (required)
            problem_set(reply, 400, "field_missing", name, "The field %s is required.",
                        name);
        return NULL;
    }
    if (!json_is_string(value)) {
        problem_set(reply, 400, "field_invalid", name, "The field %s must be a string.",
                    name);
        return NULL;
    }
    if (json_string_length(value) == 0 || json_string_length(value) > max_len) {
        problem_set(reply, 400, "field_invalid", name,
                    "The field %s must hold 1 to %zu bytes.", name, max_len);
        return NULL;
    }
    if (strlen(json_string_value(value)) != json_string_length(value)) {
        problem_set(reply, 400, "field_invalid", name,
                    "The field %s must not contain a NUL character.", name);
        return NULL;
    }
    return json_string_value(value);
}

bool http_json_known_members(const json_t *object, const char *const *known,
                             http_reply *reply)
{
    const char *name;
    json_t *value;

    json_object_foreach((json_t *)object, name, value) {
        size_t i = 0;

        while (known[i] != NULL && strcmp(known[i], name) != 0)
            i++;
        if (known[i] == NULL) {
            problem_set(reply, 400, "field_unknown", name,
                        "The field %s is not part of this request; remove it.", name);
            return false;
        }
    }
    return true;
}
