/* JSON text without jansson's lexer and dumper for the common, simple cases. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_json_text.h"
#include "log.h"

/* An integer of up to 18 digits fits in json_int_t (64 bits) without a check. */
#define PLAIN_INTEGER_DIGITS_MAX 18

typedef struct plain_reader {
    const unsigned char *at;
    const unsigned char *end;
    char *scratch; /* the decoded text of a string with escapes */
    size_t scratch_size;
} plain_reader;

/* A string as read: either a range of the input or the reader's scratch buffer. */
typedef struct plain_string {
    const char *text;
    size_t len;
} plain_string;

static void skip_space(plain_reader *r)
{
    while (r->at < r->end && (*r->at == ' ' || *r->at == '\t' || *r->at == '\n' ||
                              *r->at == '\r'))
        r->at++;
}

/* Printable ASCII other than the quote and the backslash is copied as it is. */
static bool plain_byte(unsigned char c)
{
    return c >= 0x20 && c <= 0x7f && c != '"' && c != '\\';
}

/* Returns the character of a one-letter escape, or 0 for \u and for letters that JSON
 * does not define. */
static char unescape(unsigned char letter)
{
    switch (letter) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return 0;
    }
}

/* Decodes the rest of a string that has escapes into the scratch buffer, from start
 * (just after the opening quote) on. r->at is at the first backslash. */
static bool read_escaped(plain_reader *r, const unsigned char *start, plain_string *out)
{
    size_t used = (size_t)(r->at - start);

    if (r->scratch == NULL) {
        /* A decoded string is never longer than the text it comes from. */
        r->scratch_size = (size_t)(r->end - start);
        r->scratch = malloc(r->scratch_size);
        if (r->scratch == NULL)
            return false;
    }
    memcpy(r->scratch, start, used);
    while (r->at < r->end) {
        const unsigned char *run = r->at;

        while (r->at < r->end && plain_byte(*r->at))
            r->at++;
        memcpy(r->scratch + used, run, (size_t)(r->at - run));
        used += (size_t)(r->at - run);
        if (r->at < r->end && *r->at == '"') {
            r->at++;
            *out = (plain_string){r->scratch, used};
            return true;
        }
        if (r->at + 1 >= r->end || *r->at != '\\' || unescape(r->at[1]) == 0)
            return false;
        r->scratch[used++] = unescape(r->at[1]);
        r->at += 2;
    }
    return false;
}

/* Reads the string at r->at, which is at its opening quote. */
static bool read_string(plain_reader *r, plain_string *out)
{
    const unsigned char *start = ++r->at;

    while (r->at < r->end && plain_byte(*r->at))
        r->at++;
    if (r->at < r->end && *r->at == '"') {
        *out = (plain_string){(const char *)start, (size_t)(r->at - start)};
        r->at++;
        return true;
    }
    if (r->at < r->end && *r->at == '\\')
        return read_escaped(r, start, out);
    return false;
}

static json_t *read_integer(plain_reader *r)
{
    bool negative = *r->at == '-';
    json_int_t value = 0;
    size_t digits = 0;

    if (negative)
        r->at++;
    if (r->at < r->end && *r->at == '0' && r->at + 1 < r->end && r->at[1] >= '0' &&
        r->at[1] <= '9')
        return NULL; /* a leading zero, which JSON does not allow */
    while (r->at < r->end && *r->at >= '0' && *r->at <= '9') {
        if (++digits > PLAIN_INTEGER_DIGITS_MAX)
            return NULL;
        value = value * 10 + (*r->at - '0');
        r->at++;
    }
    if (digits == 0 || (r->at < r->end && (*r->at == '.' || *r->at == 'e' || *r->at == 'E')))
        return NULL;
    return json_integer(negative ? -value : value);
}

static json_t *read_literal(plain_reader *r, const char *word, json_t *value)
{
    size_t len = strlen(word);

    if ((size_t)(r->end - r->at) < len || memcmp(r->at, word, len) != 0)
        return NULL;
    r->at += len;
    return value;
}

/* Reads a string, integer or literal. */
static json_t *read_scalar(plain_reader *r)
{
    plain_string s;

    if (r->at >= r->end)
        return NULL;
    switch (*r->at) {
    case '"': return read_string(r, &s) ? json_stringn_nocheck(s.text, s.len) : NULL;
    case 't': return read_literal(r, "true", json_true());
    case 'f': return read_literal(r, "false", json_false());
    case 'n': return read_literal(r, "null", json_null());
    default: break;
    }
    if (*r->at == '-' || (*r->at >= '0' && *r->at <= '9'))
        return read_integer(r);
    return NULL;
}

/* Reads the array at r->at, which is at '[', of scalars only. */
static json_t *read_array(plain_reader *r)
{
    json_t *array = json_array();

    r->at++;
    skip_space(r);
    if (r->at < r->end && *r->at == ']') {
        r->at++;
        return array;
    }
    while (array != NULL) {
        skip_space(r);
        if (json_array_append_new(array, read_scalar(r)) != 0)
            break;
        skip_space(r);
        if (r->at < r->end && *r->at == ']') {
            r->at++;
            return array;
        }
        if (r->at >= r->end || *r->at != ',')
            break;
        r->at++;
    }
    json_decref(array);
    return NULL;
}

/* Reads one "name": value member into object. A repeated name ends the fast path, so
 * that json_loadb reports it. */
static bool read_member(plain_reader *r, json_t *object)
{
    plain_string name;
    char *copy = NULL;
    json_t *value;
    bool set;

    if (r->at >= r->end || *r->at != '"' || !read_string(r, &name) ||
        json_object_getn(object, name.text, name.len) != NULL)
        return false;
    /* A name with escapes lives in the scratch buffer, which the value may reuse. */
    if (name.text == r->scratch) {
        copy = malloc(name.len + 1);
        if (copy == NULL)
            return false;
        memcpy(copy, name.text, name.len);
        name.text = copy;
    }
    skip_space(r);
    set = r->at < r->end && *r->at == ':';
    if (set) {
        r->at++;
        skip_space(r);
        value = r->at < r->end && *r->at == '[' ? read_array(r) : read_scalar(r);
        set = value != NULL &&
              json_object_setn_new_nocheck(object, name.text, name.len, value) == 0;
    }
    free(copy);
    return set;
}

static json_t *read_object(plain_reader *r)
{
    json_t *object = json_object();

    r->at++;
    skip_space(r);
    if (r->at < r->end && *r->at == '}') {
        r->at++;
        return object;
    }
    while (object != NULL) {
        skip_space(r);
        if (!read_member(r, object))
            break;
        skip_space(r);
        if (r->at < r->end && *r->at == '}') {
            r->at++;
            return object;
        }
        if (r->at >= r->end || *r->at != ',')
            break;
        r->at++;
    }
    json_decref(object);
    return NULL;
}

json_t *http_json_parse_plain(const char *text, size_t len)
{
    plain_reader r = {(const unsigned char *)text, (const unsigned char *)text + len, NULL,
                      0};
    json_t *doc = NULL;

    skip_space(&r);
    if (r.at < r.end && *r.at == '{')
        doc = read_object(&r);
    skip_space(&r);
    if (doc != NULL && r.at != r.end) {
        json_decref(doc);
        doc = NULL;
    }
    free(r.scratch);
    return doc;
}

/* The upper-case hex digits of the \u00XX escape that jansson writes for a byte below
 * 0x20 without a short form such as \n. */
static const char hex_digits[] = "0123456789ABCDEF";

/* Writes the escape of an ASCII byte that is not copied as it is: a short form such as
 * \n where JSON has one, \u00XX otherwise. */
static char *put_escape(char *out, unsigned char c)
{
    char letter = 0;

    switch (c) {
    case '"': letter = '"'; break;
    case '\\': letter = '\\'; break;
    case '\b': letter = 'b'; break;
    case '\f': letter = 'f'; break;
    case '\n': letter = 'n'; break;
    case '\r': letter = 'r'; break;
    case '\t': letter = 't'; break;
    default: break;
    }
    *out++ = '\\';
    if (letter != 0) {
        *out++ = letter;
        return out;
    }
    memcpy(out, "u00", 3);
    out[3] = hex_digits[c >> 4];
    out[4] = hex_digits[c & 0x0f];
    return out + 5;
}

char *http_json_escape(char *out, const char *value, size_t len)
{
    const unsigned char *s = (const unsigned char *)value;
    size_t i = 0;

    while (i < len) {
        size_t start = i;

        /* Copies the run of printable ASCII up to the next byte that needs work. */
        while (i < len && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
            i++;
        memcpy(out, s + start, i - start);
        out += i - start;
        if (i == len)
            break;
        if (s[i] < 0x80) {
            out = put_escape(out, s[i]);
            i++;
            continue;
        }
        size_t sequence = log_utf8_sequence(s + i);

        if (sequence == 0 || sequence > len - i)
            return NULL;
        memcpy(out, s + i, sequence);
        out += sequence;
        i += sequence;
    }
    return out;
}
