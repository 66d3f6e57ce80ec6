/*
 * CBOR input checks before libcbor. libcbor 0.8 (Debian 12) allocates storage for a
 * declared array or map length before it reads any element, so the five bytes
 * 9a ff ff ff ff ask it for about 34 GB. Debian builds it without CBOR_CUSTOM_ALLOC, so
 * cbor_set_allocs does not exist to cap that. Instead every length is checked against
 * the bytes that remain before cbor_load runs: an array element takes at least one
 * byte and a map entry at least two, so a declared count can never exceed the input.
 *
 * The same walk enforces the rules of the CTAP2 canonical CBOR encoding form (CTAP 2.1,
 * Message Encoding) that make one value have one encoding: integers and lengths in
 * their shortest form, no indefinite lengths and no tags. It also rejects what RFC 8949
 * (section 5.3.1) calls invalid: text strings that are not UTF-8, and maps with the
 * same key twice.
 */
#include <stdlib.h>
#include <string.h>

#include "webauthn_internal.h"

#define STRINGIFY_VALUE(x) #x
#define STRINGIFY(x) STRINGIFY_VALUE(x)

typedef struct cbor_reader {
    const unsigned char *buf;
    size_t len;
    size_t pos;
    const char *problem; /* why the check failed, for the error message */
    bool out_of_memory;  /* the check failed for lack of memory, not for the input */
} cbor_reader;

static int reject(cbor_reader *reader, const char *problem)
{
    reader->problem = problem;
    return -1;
}

/* Reads the initial byte and argument of an item header. Returns 0 or -1. */
static int read_header(cbor_reader *reader, unsigned *major, unsigned *info,
                       uint64_t *argument)
{
    size_t width;

    if (reader->pos >= reader->len)
        return reject(reader, "the input ends where an item should start");
    *major = reader->buf[reader->pos] >> 5;
    *info = reader->buf[reader->pos] & 0x1f;
    reader->pos++;

    if (*info < 24) {
        *argument = *info;
        return 0;
    }
    if (*info == 31 && *major == 7)
        return reject(reader, "a break stop code outside an indefinite-length item");
    if (*info == 31)
        return reject(reader, "an indefinite length, which WebAuthn never uses");
    if (*info > 27)
        return reject(reader, "a reserved additional information value (28 to 30)");

    width = (size_t)1 << (*info - 24);
    if (reader->len - reader->pos < width)
        return reject(reader, "the input ends inside an item header");
    *argument = 0;
    for (size_t i = 0; i < width; i++)
        *argument = (*argument << 8) | reader->buf[reader->pos++];

    /* Major type 7 keeps floats in these widths, and check_simple rejects its simple
     * values in two bytes (f8 xx). Every other argument must need its width: values
     * below 24 fit in the initial byte, and each wider form starts above the range of
     * the narrower one. */
    if (*major != 7 && *argument < (*info == 24 ? 24 : (uint64_t)1 << (4 * width)))
        return reject(reader, "an integer or length that is not in its shortest form, "
                              "which CTAP2 canonical CBOR requires");
    return 0;
}

/* Returns true when text is well-formed UTF-8 (RFC 3629, section 4): no overlong
 * forms, no surrogates (U+D800 to U+DFFF) and nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *text, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char lead = text[i];
        size_t extra;
        unsigned char low = 0x80, high = 0xbf; /* range of the first continuation byte */

        if (lead < 0x80) {
            i++;
            continue;
        }
        if (lead >= 0xc2 && lead <= 0xdf)
            extra = 1;
        else if (lead >= 0xe0 && lead <= 0xef)
            extra = 2;
        else if (lead >= 0xf0 && lead <= 0xf4)
            extra = 3;
        else
            return false; /* a continuation byte, an overlong lead, or above U+10FFFF */

        if (lead == 0xe0)
            low = 0xa0; /* overlong below U+0800 */
        else if (lead == 0xed)
            high = 0x9f; /* surrogates */
        else if (lead == 0xf0)
            low = 0x90; /* overlong below U+10000 */
        else if (lead == 0xf4)
            high = 0x8f; /* above U+10FFFF */

        if (len - i - 1 < extra || text[i + 1] < low || text[i + 1] > high)
            return false;
        for (size_t k = 2; k <= extra; k++) {
            if ((text[i + k] & 0xc0) != 0x80)
                return false;
        }
        i += extra + 1;
    }
    return true;
}

/* Accepts false, true, null, undefined and floats. libcbor 0.8 cannot decode the other
 * simple values, and RFC 8949 makes the two-byte form of 0 to 31 not well formed, so
 * they are rejected here with a reason rather than a libcbor error code. */
static int check_simple(cbor_reader *reader, unsigned info)
{
    if ((info >= 20 && info <= 23) || (info >= 25 && info <= 27))
        return 0;
    return reject(reader, "a simple value other than false, true, null and undefined");
}

static int check_item(cbor_reader *reader, unsigned depth);

/* The encoded bytes of one map key. */
typedef struct key_span {
    const unsigned char *bytes;
    size_t len;
} key_span;

static int compare_spans(const void *a, const void *b)
{
    const key_span *x = a, *y = b;

    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->bytes, y->bytes, x->len);
}

/* Returns true when two keys have the same encoding. With integers and lengths in
 * their shortest form and no tags or indefinite lengths, equal integer, string, array
 * and map keys have equal encodings. NOTE: a float key written in two widths is not
 * found, because no WebAuthn or COSE map has float keys. */
static bool spans_repeat(key_span *keys, size_t count)
{
    qsort(keys, count, sizeof(keys[0]), compare_spans);
    for (size_t i = 1; i < count; i++) {
        if (compare_spans(&keys[i - 1], &keys[i]) == 0)
            return true;
    }
    return false;
}

static int check_array(cbor_reader *reader, uint64_t count, unsigned depth)
{
    /* An array element takes at least one byte. */
    if (count > reader->len - reader->pos)
        return reject(reader, "an array or map declares more items than the input holds");
    for (uint64_t i = 0; i < count; i++) {
        if (check_item(reader, depth + 1) != 0)
            return -1;
    }
    return 0;
}

/* Checks count key and value pairs, and that no key appears twice. */
static int check_map(cbor_reader *reader, uint64_t count, unsigned depth)
{
    key_span *keys;
    int result = 0;

    /* A map entry takes at least two bytes. */
    if (count > (reader->len - reader->pos) / 2)
        return reject(reader, "an array or map declares more items than the input holds");
    if (count == 0)
        return 0;
    keys = malloc((size_t)count * sizeof(*keys));
    if (keys == NULL) {
        reader->out_of_memory = true;
        return reject(reader, "out of memory");
    }

    for (uint64_t i = 0; i < count && result == 0; i++) {
        keys[i].bytes = reader->buf + reader->pos;
        result = check_item(reader, depth + 1);
        keys[i].len = (size_t)(reader->buf + reader->pos - keys[i].bytes);
        if (result == 0)
            result = check_item(reader, depth + 1);
    }
    if (result == 0 && spans_repeat(keys, (size_t)count))
        result = reject(reader, "a map that has the same key twice");
    free(keys);
    return result;
}

static int check_item(cbor_reader *reader, unsigned depth)
{
    unsigned major, info;
    uint64_t argument;

    if (depth > WEBAUTHN_MAX_CBOR_DEPTH)
        return reject(reader, "nesting is deeper than " STRINGIFY(
                                  WEBAUTHN_MAX_CBOR_DEPTH) " levels");
    if (read_header(reader, &major, &info, &argument) != 0)
        return -1;

    switch (major) {
    case 0: /* unsigned integer */
    case 1: /* negative integer */
        return 0;

    case 2: /* byte string */
    case 3: /* text string */
        if (argument > reader->len - reader->pos)
            return reject(reader, "a string runs past the end of the input");
        if (major == 3 && !utf8_valid(reader->buf + reader->pos, (size_t)argument))
            return reject(reader, "a text string that is not valid UTF-8");
        reader->pos += (size_t)argument;
        return 0;

    case 4: /* array */
        return check_array(reader, argument, depth);

    case 5: /* map */
        return check_map(reader, argument, depth);

    case 6:
        return reject(reader, "a tag, which WebAuthn and COSE keys never use");

    default: /* 7: simple value or float; the argument was the whole payload */
        return check_simple(reader, info);
    }
}

webauthn_code webauthn_cbor_check(const unsigned char *buf, size_t len, size_t *item_len,
                                  webauthn_error *err)
{
    cbor_reader reader = {.buf = buf, .len = len, .pos = 0, .problem = NULL};

    *item_len = 0;
    if (buf == NULL || len == 0)
        return webauthn_fail(err, WEBAUTHN_CBOR_MALFORMED, "The CBOR input is empty.");
    if (len > WEBAUTHN_MAX_CBOR)
        return webauthn_fail(err, WEBAUTHN_CBOR_MALFORMED,
                             "The CBOR input is %zu bytes, more than the maximum %d.",
                             len, WEBAUTHN_MAX_CBOR);

    if (check_item(&reader, 0) != 0) {
        if (reader.out_of_memory)
            return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                                 "Out of memory while checking the CBOR input.");
        return webauthn_fail(err, WEBAUTHN_CBOR_MALFORMED,
                             "The CBOR input is rejected near byte %zu: %s.", reader.pos,
                             reader.problem);
    }

    *item_len = reader.pos;
    return WEBAUTHN_OK;
}

webauthn_code webauthn_cbor_load(const unsigned char *buf, size_t len, cbor_item_t **out,
                                 webauthn_error *err)
{
    struct cbor_load_result result;
    size_t item_len;
    webauthn_code code;

    *out = NULL;
    code = webauthn_cbor_check(buf, len, &item_len, err);
    if (code != WEBAUTHN_OK)
        return code;
    if (item_len != len)
        return webauthn_fail(err, WEBAUTHN_CBOR_MALFORMED,
                             "The CBOR input has %zu bytes after its single item.",
                             len - item_len);

    *out = cbor_load(buf, len, &result);
    if (*out == NULL || result.error.code != CBOR_ERR_NONE || result.read != len) {
        if (*out != NULL)
            cbor_decref(out);
        return webauthn_fail(err, WEBAUTHN_CBOR_MALFORMED,
                             "libcbor could not decode the CBOR input (error %d at byte "
                             "%zu).",
                             (int)result.error.code, result.error.position);
    }
    return WEBAUTHN_OK;
}

int webauthn_cbor_int(const cbor_item_t *item, int64_t *out)
{
    uint64_t value;

    if (!cbor_isa_uint(item) && !cbor_isa_negint(item))
        return -1;
    value = cbor_get_int(item);
    if (value > INT64_MAX)
        return -1;
    /* A negative integer n is stored as -1 - n. */
    *out = cbor_isa_uint(item) ? (int64_t)value : -1 - (int64_t)value;
    return 0;
}

static bool key_is_text(const cbor_item_t *key, const char *text)
{
    size_t len = strlen(text);

    return cbor_isa_string(key) && cbor_string_is_definite(key) &&
           cbor_string_length(key) == len &&
           memcmp(cbor_string_handle(key), text, len) == 0;
}

static bool key_is_int(const cbor_item_t *key, int64_t expected)
{
    int64_t value;

    return webauthn_cbor_int(key, &value) == 0 && value == expected;
}

static webauthn_code map_find(const cbor_item_t *map, bool by_text, const char *text,
                              int64_t number, const cbor_item_t **value,
                              webauthn_error *err)
{
    struct cbor_pair *pairs;
    size_t count;

    *value = NULL;
    if (!cbor_isa_map(map) || !cbor_map_is_definite(map))
        return webauthn_fail(err, WEBAUTHN_MALFORMED, "A CBOR map was expected.");

    pairs = cbor_map_handle(map);
    count = cbor_map_size(map);
    for (size_t i = 0; i < count; i++) {
        bool match =
            by_text ? key_is_text(pairs[i].key, text) : key_is_int(pairs[i].key, number);

        if (!match)
            continue;
        /* webauthn_cbor_check rejects a repeated key before any map gets here. This
         * second check keeps the same code, in case a map ever skips that walk. */
        if (*value != NULL) {
            *value = NULL;
            if (by_text)
                return webauthn_fail(err, WEBAUTHN_CBOR_MALFORMED,
                                     "The CBOR map has the key \"%s\" twice.", text);
            return webauthn_fail(err, WEBAUTHN_CBOR_MALFORMED,
                                 "The CBOR map has the key %lld twice.",
                                 (long long)number);
        }
        *value = pairs[i].value;
    }
    return WEBAUTHN_OK;
}

webauthn_code webauthn_cbor_map_text(const cbor_item_t *map, const char *key,
                                     const cbor_item_t **value, webauthn_error *err)
{
    return map_find(map, true, key, 0, value, err);
}

webauthn_code webauthn_cbor_map_int(const cbor_item_t *map, int64_t key,
                                    const cbor_item_t **value, webauthn_error *err)
{
    return map_find(map, false, NULL, key, value, err);
}

/* Orders two map keys of the types CTAP2 allows as libfido2 1.12 does (ctap_check_cbor
 * in its cbor.c): returns true when prev may come before next. */
static bool key_precedes(const cbor_item_t *prev, const cbor_item_t *next)
{
    size_t prev_len, next_len;

    if (cbor_typeof(prev) != cbor_typeof(next))
        return cbor_typeof(prev) < cbor_typeof(next);
    if (cbor_isa_uint(next) || cbor_isa_negint(next))
        return cbor_int_get_width(next) >= cbor_int_get_width(prev) &&
               cbor_get_int(next) > cbor_get_int(prev);

    prev_len = cbor_string_length(prev);
    next_len = cbor_string_length(next);
    return next_len > prev_len ||
           (next_len == prev_len &&
            memcmp(cbor_string_handle(prev), cbor_string_handle(next), next_len) < 0);
}

static bool key_type_allowed(const cbor_item_t *key)
{
    return cbor_isa_uint(key) || cbor_isa_negint(key) ||
           (cbor_isa_string(key) && cbor_string_is_definite(key));
}

bool webauthn_cbor_map_canonical(const cbor_item_t *map)
{
    struct cbor_pair *pairs = cbor_map_handle(map);
    size_t count = cbor_map_size(map);

    for (size_t i = 0; i < count; i++) {
        if (!key_type_allowed(pairs[i].key))
            return false;
        if (i > 0 && !key_precedes(pairs[i - 1].key, pairs[i].key))
            return false;
    }
    return true;
}
