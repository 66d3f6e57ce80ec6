/* Canonical JSON written directly. For the entry and payload of a verification it takes
 * about a third of the instructions of jansson's json_dumps (callgrind, jansson 2.14). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_json.h"
#include "log.h"

#define CANONICAL_JSON (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
#define TEXT_INITIAL_SIZE 512

typedef struct text_buffer {
    char *text;
    size_t len;
    size_t size;
    bool failed; /* out of memory, or a string that is not valid UTF-8 */
} text_buffer;

typedef struct member_name {
    const char *key;
    size_t len;
    const json_t *value;
} member_name;

static void put(text_buffer *out, const char *bytes, size_t len)
{
    if (out->failed)
        return;
    if (out->len + len + 1 > out->size) {
        size_t size = out->size != 0 ? out->size : TEXT_INITIAL_SIZE;

        while (out->len + len + 1 > size)
            size *= 2;
        char *grown = realloc(out->text, size);

        if (grown == NULL) {
            out->failed = true;
            return;
        }
        out->text = grown;
        out->size = size;
    }
    memcpy(out->text + out->len, bytes, len);
    out->len += len;
    out->text[out->len] = '\0';
}

static void put_escape(text_buffer *out, unsigned code_unit)
{
    static const char hex_digits[] = "0123456789ABCDEF";
    char escape[6] = {'\\', 'u', hex_digits[(code_unit >> 12) & 0xf],
                      hex_digits[(code_unit >> 8) & 0xf], hex_digits[(code_unit >> 4) & 0xf],
                      hex_digits[code_unit & 0xf]};

    put(out, escape, sizeof(escape));
}

/* Writes the code point of a well-formed UTF-8 sequence of 2 to 4 bytes as \uXXXX, or
 * as a UTF-16 surrogate pair above U+FFFF. */
static void put_code_point(text_buffer *out, const unsigned char *s, size_t len)
{
    uint32_t code_point = s[0] & (0xff >> (len + 1));

    for (size_t i = 1; i < len; i++)
        code_point = (code_point << 6) | (s[i] & 0x3f);
    if (code_point < 0x10000) {
        put_escape(out, code_point);
        return;
    }
    code_point -= 0x10000;
    put_escape(out, 0xd800 | (code_point >> 10));
    put_escape(out, 0xdc00 | (code_point & 0x3ff));
}

/* Returns the short escape letter of an ASCII byte, or 0 when it has none. */
static char short_escape(unsigned char c)
{
    switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case '\b': return 'b';
    case '\f': return 'f';
    case '\n': return 'n';
    case '\r': return 'r';
    case '\t': return 't';
    default: return 0;
    }
}

static void put_string(text_buffer *out, const char *value, size_t len)
{
    const unsigned char *s = (const unsigned char *)value;
    size_t run = 0; /* bytes before i that are copied as they are */

    put(out, "\"", 1);
    for (size_t i = 0; i < len;) {
        if (s[i] >= 0x20 && s[i] < 0x80 && short_escape(s[i]) == 0) {
            run++;
            i++;
            continue;
        }
        put(out, (const char *)s + i - run, run);
        run = 0;
        if (s[i] < 0x80) {
            char letter = short_escape(s[i]);
            char pair[2] = {'\\', letter};

            if (letter != 0)
                put(out, pair, sizeof(pair));
            else
                put_escape(out, s[i]);
            i++;
            continue;
        }
        size_t sequence = log_utf8_sequence(s + i);

        if (sequence == 0 || sequence > len - i) {
            out->failed = true;
            return;
        }
        put_code_point(out, s + i, sequence);
        i += sequence;
    }
    put(out, (const char *)s + len - run, run);
    put(out, "\"", 1);
}

static bool put_value(text_buffer *out, const json_t *value);

/* Orders member names as jansson's JSON_SORT_KEYS does: by bytes, then by length. */
static int compare_names(const void *a, const void *b)
{
    const member_name *x = a;
    const member_name *y = b;
    int order = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

    if (order != 0)
        return order;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Writes the members in the order of their names. Returns false, as put_value does,
 * when a member is left to jansson. */
static bool put_object(text_buffer *out, const json_t *object)
{
    size_t count = json_object_size(object);
    member_name *names = calloc(count != 0 ? count : 1, sizeof(*names));
    size_t filled = 0;
    size_t key_len;
    const char *key;
    json_t *member;

    if (names == NULL) {
        out->failed = true;
        return true;
    }
    json_object_keylen_foreach((json_t *)object, key, key_len, member)
        names[filled++] = (member_name){key, key_len, member};
    qsort(names, filled, sizeof(*names), compare_names);

    put(out, "{", 1);
    for (size_t i = 0; i < filled; i++) {
        if (i > 0)
            put(out, ",", 1);
        put_string(out, names[i].key, names[i].len);
        put(out, ":", 1);
        if (!put_value(out, names[i].value)) {
            free(names);
            return false;
        }
    }
    put(out, "}", 1);
    free(names);
    return true;
}

static bool put_array(text_buffer *out, const json_t *array)
{
    size_t index;
    json_t *item;

    put(out, "[", 1);
    json_array_foreach(array, index, item) {
        if (index > 0)
            put(out, ",", 1);
        if (!put_value(out, item))
            return false;
    }
    put(out, "]", 1);
    return true;
}

/* Writes value. Returns false for a real number, whose text is left to jansson. Out of
 * memory and invalid UTF-8 set out->failed instead. */
static bool put_value(text_buffer *out, const json_t *value)
{
    char number[32];

    switch (json_typeof(value)) {
    case JSON_OBJECT: return put_object(out, value);
    case JSON_ARRAY: return put_array(out, value);
    case JSON_STRING:
        put_string(out, json_string_value(value), json_string_length(value));
        return true;
    case JSON_INTEGER:
        snprintf(number, sizeof(number), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        put(out, number, strlen(number));
        return true;
    case JSON_TRUE: put(out, "true", 4); return true;
    case JSON_FALSE: put(out, "false", 5); return true;
    case JSON_NULL: put(out, "null", 4); return true;
    default: return false;
    }
}

char *audit_json_canonical(const json_t *value)
{
    text_buffer out = {0};

    /* Like json_dumps without JSON_ENCODE_ANY, only an object or an array has a text. */
    if (!json_is_object(value) && !json_is_array(value))
        return NULL;
    if (!put_value(&out, value)) {
        free(out.text);
        return out.failed ? NULL : json_dumps(value, CANONICAL_JSON);
    }
    if (out.failed) {
        free(out.text);
        return NULL;
    }
    return out.text;
}
