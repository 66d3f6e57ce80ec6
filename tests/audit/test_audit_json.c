/*
 * The canonical JSON of audit entries: the same bytes as jansson's json_dumps with
 * JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII, for fixed and random documents,
 * because a leaf hash covers them.
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

#include "audit_json.h"

#define CANONICAL_JSON (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
#define RANDOM_DOCUMENTS 3000

static void assert_canonical_as_jansson(const json_t *doc)
{
    char *reference = json_dumps(doc, CANONICAL_JSON);
    char *text = audit_json_canonical(doc);

    if (reference == NULL) {
        assert_null(text); /* a bare string, number or literal has no text */
        return;
    }
    assert_non_null(text);
    assert_string_equal(text, reference);
    free(text);
    free(reference);
}

static void test_fixed_documents_match_jansson(void **state)
{
    static const char *const documents[] = {
        "{}",
        "[]",
        "{\"version\":2,\"time\":\"2026-01-31T12:00:00Z\",\"actor\":null,\"kind\":\"x\"}",
        "{\"b\":1,\"a\":2,\"ab\":3,\"\":4,\"B\":5,\"a\\u00e9\":6,\"a~\":7}",
        "{\"nul\":\"a\\u0000b\"}",
        "{\"claims\":[{\"reason\":\"r\",\"name\":\"n\",\"decision\":\"disclosed\"}],\"n\":[]}",
        "{\"t\":true,\"f\":false,\"z\":null,\"i\":-9223372036854775808,\"j\":9223372036854775807}",
        "{\"s\":\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\"}",
        "{\"\\u00e9t\\u00e9\":\"caf\\u00e9 \\u0e01 \\u2028 \\ud83d\\ude00 \\uffff\"}",
        "{\"deep\":{\"z\":{\"y\":[1,[2,{\"b\":null,\"a\":\"x\"}]]}}}",
        "{\"real\":1.5,\"other\":\"written by jansson\"}",
        "[0.1,1e300,-0.0]",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(documents) / sizeof(documents[0]); i++) {
        json_t *doc = json_loads(documents[i], JSON_ALLOW_NUL, NULL);

        if (doc == NULL)
            fail_msg("the test document does not parse: %s", documents[i]);
        assert_canonical_as_jansson(doc);
        json_decref(doc);
    }
}

static void test_invalid_utf8_fails_as_jansson(void **state)
{
    json_t *doc = json_object();

    (void)state;
    json_object_set_new(doc, "a", json_stringn_nocheck("\xc3(", 2));
    assert_null(json_dumps(doc, CANONICAL_JSON));
    assert_null(audit_json_canonical(doc));
    assert_null(audit_json_canonical(NULL));
    assert_null(audit_json_canonical(json_true()));
    json_decref(doc);
}

/* Returns a random UTF-8 string: ASCII with quotes, backslashes and control characters,
 * and characters of two, three and four bytes. */
static json_t *random_string(unsigned *seed)
{
    static const char *const pieces[] = {
        "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\x01", "\x1f", "\x7f", "\xc3\xa9",
        "\xdf\xbf", "\xe0\xb8\x81", "\xef\xbf\xbf", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
    };
    char text[128] = "";
    size_t len = 0;

    for (int n = rand_r(seed) % 12; n > 0; n--) {
        const char *piece = pieces[rand_r(seed) % (sizeof(pieces) / sizeof(pieces[0]))];

        memcpy(text + len, piece, strlen(piece));
        len += strlen(piece);
    }
    return json_stringn(text, len);
}

static json_t *random_value(unsigned *seed, int depth)
{
    int kind = rand_r(seed) % (depth < 3 ? 7 : 5);

    switch (kind) {
    case 0: return json_integer((json_int_t)rand_r(seed) * (rand_r(seed) % 2 ? 1 : -7));
    case 1: return json_true();
    case 2: return json_null();
    case 3:
    case 4: return random_string(seed);
    case 5: {
        json_t *array = json_array();

        for (int n = rand_r(seed) % 4; n > 0; n--)
            json_array_append_new(array, random_value(seed, depth + 1));
        return array;
    }
    default: {
        json_t *object = json_object();

        for (int n = rand_r(seed) % 6; n > 0; n--) {
            json_t *name = random_string(seed);

            json_object_setn_new(object, json_string_value(name), json_string_length(name),
                                 random_value(seed, depth + 1));
            json_decref(name);
        }
        return object;
    }
    }
}

static void test_random_documents_match_jansson(void **state)
{
    unsigned seed = 20261205;

    (void)state;
    for (int i = 0; i < RANDOM_DOCUMENTS; i++) {
        json_t *doc = random_value(&seed, 3);
        json_t *object = json_pack("{s:o}", "value", random_value(&seed, 0));

        assert_canonical_as_jansson(doc);
        assert_canonical_as_jansson(object);
        json_decref(doc);
        json_decref(object);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_documents_match_jansson),
        cmocka_unit_test(test_invalid_utf8_fails_as_jansson),
        cmocka_unit_test(test_random_documents_match_jansson),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
