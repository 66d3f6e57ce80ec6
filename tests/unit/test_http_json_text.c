/*
 * The plain JSON parser and the string escaper give what jansson gives: the same
 * object with members in the same order, NULL for every text outside the plain subset,
 * and the same escaped bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "http_json_text.h"

#define RANDOM_DOCUMENTS 2000

static json_t *jansson_parse(const char *text)
{
    return json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
}

/* Checks that both objects contain equal members in the same order. */
static void assert_same_object(json_t *plain, json_t *reference)
{
    void *plain_at = json_object_iter(plain);
    void *reference_at = json_object_iter(reference);

    assert_true(json_equal(plain, reference));
    while (plain_at != NULL && reference_at != NULL) {
        assert_string_equal(json_object_iter_key(plain_at),
                            json_object_iter_key(reference_at));
        plain_at = json_object_iter_next(plain, plain_at);
        reference_at = json_object_iter_next(reference, reference_at);
    }
    assert_null(plain_at);
    assert_null(reference_at);
}

static void assert_parsed_as_jansson(const char *text)
{
    json_t *plain = http_json_parse_plain(text, strlen(text));
    json_t *reference = jansson_parse(text);

    if (plain == NULL)
        fail_msg("the plain parser left to jansson: %s", text);
    assert_non_null(reference);
    assert_same_object(plain, reference);
    json_decref(plain);
    json_decref(reference);
}

static void test_plain_documents_match_jansson(void **state)
{
    static const char *const documents[] = {
        "{}",
        " \t\r\n{ \t\r\n} \t\r\n",
        "{\"assertion\":\"<a b=\\\"c\\\">x\\/y</a>\",\"claims\":[\"a\",\"b\"],"
        "\"purpose\":\"kyc\"}",
        "{\"n\":0,\"m\":-0,\"big\":999999999999999999,\"neg\":-999999999999999999}",
        "{\"t\":true,\"f\":false,\"z\":null,\"list\":[1,\"a\",true,false,null]}",
        "{\"escapes\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"\":\"empty name\",\"e\":\"\"}",
        "{\"a\\nb\":1,\"a\\tb\":[ ],\"del\":\"\x7f\"}",
        "{ \"spaced\" : [ 1 , 2 ] , \"x\" : \"y\" }",
        "{\"z\":1,\"a\":2,\"m\":3}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(documents) / sizeof(documents[0]); i++)
        assert_parsed_as_jansson(documents[i]);
}

static void test_other_texts_left_to_jansson(void **state)
{
    static const char *const texts[] = {
        "", "   ", "[]", "\"a\"", "1", "null",
        "{\"a\":\"\\u0041\"}",          /* \u escapes */
        "{\"a\":\"caf\xc3\xa9\"}",      /* bytes past ASCII */
        "{\"a\":{}}",                   /* nested objects */
        "{\"a\":[[1]]}",                /* nested arrays */
        "{\"a\":1.5}", "{\"a\":1e3}", "{\"a\":1E3}",
        "{\"a\":1234567890123456789}",  /* 19 digits */
        "{\"a\":01}", "{\"a\":-}", "{\"a\":-a}", "{\"a\":+1}",
        "{\"a\":1,\"a\":2}",            /* a repeated name */
        "{\"a\\n\":1,\"a\\n\":2}",      /* a repeated name with escapes */
        "{\"a\":\"b\"} x", "{\"a\":\"b\"}{}", "{\"a\":\"b\"",
        "{\"a\":\"b}", "{\"a\":\"b\\", "{\"a\":\"b\\x\"}",
        "{\"a\":\"tab\there\"}",        /* a raw control character */
        "{\"a\" \"b\"}", "{\"a\":}", "{\"a\":1,}", "{,}", "{\"a\":[1,]}", "{\"a\":[1 2]}",
        "{\"a\":tru}", "{\"a\":truex}", "{\"a\":nul}", "{a:1}", "{'a':1}",
        "\xef\xbb\xbf{}",               /* a byte order mark */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        json_t *plain = http_json_parse_plain(texts[i], strlen(texts[i]));

        if (plain != NULL)
            fail_msg("the plain parser accepted: %s", texts[i]);
    }
}

static void test_text_after_nul_left_to_jansson(void **state)
{
    static const char text[] = "{\"a\":1}\0";

    (void)state;
    assert_null(http_json_parse_plain(text, sizeof(text) - 1));
    assert_null(http_json_parse_plain("{\"a\":\"x\0y\"}", 11));
}

/* Returns a random string of printable ASCII, quotes, backslashes and the characters
 * that have one-letter escapes. */
static char *random_string(unsigned *seed)
{
    static const char alphabet[] = "abcXYZ019 <>=/\"\\\b\f\n\r\t{}[],:\x7f";
    size_t len = (size_t)(rand_r(seed) % 40);
    char *s = malloc(len + 1);

    assert_non_null(s);
    for (size_t i = 0; i < len; i++)
        s[i] = alphabet[rand_r(seed) % (sizeof(alphabet) - 1)];
    s[len] = '\0';
    return s;
}

static json_t *random_scalar(unsigned *seed)
{
    char *s;
    json_t *value;

    switch (rand_r(seed) % 5) {
    case 0: return json_integer((json_int_t)rand_r(seed) - RAND_MAX / 2);
    case 1: return json_true();
    case 2: return json_null();
    default: break;
    }
    s = random_string(seed);
    value = json_string(s);
    free(s);
    return value;
}

static json_t *random_document(unsigned *seed)
{
    json_t *doc = json_object();
    int members = rand_r(seed) % 6;

    for (int i = 0; i < members; i++) {
        char *name = random_string(seed);
        json_t *value = random_scalar(seed);

        if (rand_r(seed) % 3 == 0) {
            json_decref(value);
            value = json_array();
            for (int j = rand_r(seed) % 4; j > 0; j--)
                json_array_append_new(value, random_scalar(seed));
        }
        json_object_set_new(doc, name, value);
        free(name);
    }
    return doc;
}

static void test_random_documents_match_jansson(void **state)
{
    unsigned seed = 20261205;

    (void)state;
    for (int i = 0; i < RANDOM_DOCUMENTS; i++) {
        json_t *doc = random_document(&seed);
        char *text = json_dumps(doc, i % 2 == 0 ? JSON_COMPACT : JSON_INDENT(2));

        assert_non_null(text);
        assert_parsed_as_jansson(text);
        free(text);
        json_decref(doc);
    }
}

/* Changes, inserts or deletes a few bytes of text, with bytes that matter to a JSON
 * lexer most of the time. Returns the new length. */
static size_t mutate(char *text, size_t len, size_t size, unsigned *seed)
{
    static const char alphabet[] = "{}[]:,\"\\/u0123456789abefnrt-+.eE \t\n\x01\x7f\x80\xff";
    int edits = 1 + rand_r(seed) % 3;

    for (int i = 0; i < edits && len > 0; i++) {
        size_t at = (size_t)rand_r(seed) % len;
        char byte = rand_r(seed) % 4 == 0 ? (char)(rand_r(seed) % 256)
                                          : alphabet[rand_r(seed) % (sizeof(alphabet) - 1)];

        switch (rand_r(seed) % 3) {
        case 0:
            text[at] = byte;
            break;
        case 1:
            if (len + 1 < size) {
                memmove(text + at + 1, text + at, len - at);
                text[at] = byte;
                len++;
            }
            break;
        default:
            memmove(text + at, text + at + 1, len - at - 1);
            len--;
            break;
        }
    }
    return len;
}

/* Whatever the plain parser accepts of a mutated document, jansson accepts too and
 * reads the same: the plain parser never turns an invalid body into a valid one. */
static void test_mutated_documents_never_accepted_alone(void **state)
{
    unsigned seed = 5122026;
    size_t plain_accepted = 0;

    (void)state;
    for (int i = 0; i < RANDOM_DOCUMENTS * 10; i++) {
        json_t *doc = random_document(&seed);
        char *dumped = json_dumps(doc, JSON_COMPACT);
        size_t len = strlen(dumped);
        size_t size = len + 8;
        char *text = malloc(size);
        json_t *plain;

        assert_non_null(text);
        memcpy(text, dumped, len);
        len = mutate(text, len, size, &seed);
        plain = http_json_parse_plain(text, len);
        if (plain != NULL) {
            json_t *reference =
                json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);

            if (reference == NULL)
                fail_msg("the plain parser accepted what jansson rejects: %.*s", (int)len,
                         text);
            assert_same_object(plain, reference);
            json_decref(reference);
            json_decref(plain);
            plain_accepted++;
        }
        free(text);
        free(dumped);
        json_decref(doc);
    }
    /* Many mutations keep a valid document, so the comparison ran on real cases. */
    assert_true(plain_accepted > RANDOM_DOCUMENTS);
}

/* Checks that the escaper writes what json_dumps writes between the quotes. */
static void assert_escaped_as_jansson(const char *value, size_t len)
{
    json_t *string = json_stringn(value, len);
    char *reference = json_dumps(string, JSON_ENCODE_ANY);
    char *out = malloc(HTTP_JSON_ESCAPED_MAX(len) + 1);
    char *end;

    assert_non_null(reference);
    assert_non_null(out);
    end = http_json_escape(out, value, len);
    assert_non_null(end);
    assert_int_equal(end - out, strlen(reference) - 2);
    assert_memory_equal(out, reference + 1, strlen(reference) - 2);
    free(out);
    free(reference);
    json_decref(string);
}

static void test_escape_matches_jansson(void **state)
{
    static const char *const values[] = {
        "", "plain", "<a b=\"c\">x/y</a>", "back\\slash", "caf\xc3\xa9",
        "\xe0\xb8\x81\xf0\x9f\x98\x80", "\x7f", "line\nbreak\r\n\ttab\b\f",
    };
    char byte[2] = {0, 0};

    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        assert_escaped_as_jansson(values[i], strlen(values[i]));
    for (int c = 1; c < 0x80; c++) {
        byte[0] = (char)c;
        assert_escaped_as_jansson(byte, 1);
    }
}

static void test_escape_rejects_invalid_utf8(void **state)
{
    static const char *const values[] = {
        "\x80", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff",
    };
    char out[64];

    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        assert_null(http_json_escape(out, values[i], strlen(values[i])));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_documents_match_jansson),
        cmocka_unit_test(test_other_texts_left_to_jansson),
        cmocka_unit_test(test_text_after_nul_left_to_jansson),
        cmocka_unit_test(test_random_documents_match_jansson),
        cmocka_unit_test(test_mutated_documents_never_accepted_alone),
        cmocka_unit_test(test_escape_matches_jansson),
        cmocka_unit_test(test_escape_rejects_invalid_utf8),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
