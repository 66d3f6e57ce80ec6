/*
 * Unit tests of the SAML signer's inputs: the claims JSON reader, the checks on caller
 * text, c14n escaping, assertion IDs and timestamps. No HSM is needed here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "saml_build.h"

/* Parses text (which may hold a NUL, as JSON_ALLOW_NUL permits) and returns the reader's
 * result; error receives the rejection sentence. The strings in spec point into
 * *claims_out, which the caller frees. */
static int read_claims(const char *text, json_t **claims_out, saml_assertion_spec *spec,
                       saml_attribute **attributes, char *error, size_t error_size)
{
    json_error_t json_error;

    *claims_out = json_loads(text, JSON_ALLOW_NUL, &json_error);
    if (*claims_out == NULL) {
        fail_msg("test JSON is invalid: %s: %s", json_error.text, text);
        return -1;
    }
    return saml_spec_from_json(*claims_out, spec, attributes, error, error_size);
}

static void claims_full_document(void **state)
{
    const char *text =
        "{\"subject\": \"MY-0001\", \"name_id_format\": \"transient\","
        " \"assurance\": \"urn:example:loa:substantial\","
        " \"recipient\": \"https://rp.example/acs\","
        " \"attributes\": {\"given_name\": \"Siti\", \"nationality\": [\"MY\", \"SG\"],"
        " \"urn:oid:2.5.4.4\": \"Aminah\", \"https://rp.example/claims/tier\": "
        "\"gold\"}}";
    json_error_t json_error;
    json_t *claims = json_loads(text, 0, &json_error);
    saml_assertion_spec spec = {0};
    saml_attribute *attributes = NULL;
    char error[256] = "";

    (void)state;
    assert_non_null(claims);
    assert_int_equal(
        saml_spec_from_json(claims, &spec, &attributes, error, sizeof(error)), 0);
    assert_string_equal(spec.name_id, "MY-0001");
    assert_string_equal(spec.name_id_format,
                        "urn:oasis:names:tc:SAML:2.0:nameid-format:transient");
    assert_string_equal(spec.assurance, "urn:example:loa:substantial");
    assert_string_equal(spec.recipient, "https://rp.example/acs");
    assert_ptr_equal(spec.attributes, attributes);
    assert_int_equal(spec.attribute_count, 4);

    /* The order of the document is kept, and a catalogue URI maps to its name. */
    assert_string_equal(attributes[0].name, "given_name");
    assert_int_equal(attributes[0].value_count, 1);
    assert_string_equal(attributes[0].values[0], "Siti");
    assert_string_equal(attributes[1].name, "nationality");
    assert_int_equal(attributes[1].value_count, 2);
    assert_string_equal(attributes[1].values[1], "SG");
    assert_string_equal(attributes[2].name, "family_name");
    assert_string_equal(attributes[3].name, "https://rp.example/claims/tier");

    saml_attributes_free(attributes, spec.attribute_count);
    json_decref(claims);
}

static void claims_minimal_document(void **state)
{
    saml_assertion_spec spec = {.issuer = "kept"};
    saml_attribute *attributes = NULL;
    json_t *claims = NULL;
    char error[256] = "";

    (void)state;
    assert_int_equal(read_claims("{\"subject\": \"x\"}", &claims, &spec, &attributes,
                                 error, sizeof(error)),
                     0);
    assert_string_equal(spec.name_id, "x");
    assert_null(spec.name_id_format);
    assert_null(spec.assurance);
    assert_null(spec.recipient);
    assert_int_equal(spec.attribute_count, 0);
    assert_string_equal(spec.issuer, "kept");
    saml_attributes_free(attributes, spec.attribute_count);
    json_decref(claims);
}

typedef struct rejection {
    const char *json;
    const char *reason;
} rejection;

static const rejection REJECTIONS[] = {
    {"[]", "the claims document must be a JSON object, not an array"},
    {"{}", "the claims document has no \"subject\""},
    {"{\"subject\": 5}", "\"subject\" must be a string, not a number"},
    {"{\"subject\": \"\"}", "\"subject\" is empty"},
    {"{\"subject\": \"a\\u0000b\"}", "\"subject\" contains a NUL character"},
    {"{\"subject\": \"a\", \"extra\": 1}",
     "unknown key \"extra\" in the claims document"},
    {"{\"subject\": \"a\", \"assurance\": \"high\"}",
     "\"assurance\" must be an absolute URI"},
    {"{\"subject\": \"a\", \"recipient\": \"rp.example/acs\"}",
     "\"recipient\" must be an absolute URI"},
    {"{\"subject\": \"a\", \"name_id_format\": \"weird\"}",
     "\"name_id_format\" must be persistent, transient, unspecified, email or a URI"},
    {"{\"subject\": \"a\", \"attributes\": []}",
     "\"attributes\" must be an object, not an array"},
    {"{\"subject\": \"a\", \"attributes\": {\"shoe_size\": \"42\"}}",
     "unknown claim \"shoe_size\": use a name from the claims catalogue"},
    {"{\"subject\": \"a\", \"attributes\": {\"given_name\": 42}}",
     "claim \"given_name\" is a number, but claim values must be a string or an array "
     "of strings"},
    {"{\"subject\": \"a\", \"attributes\": {\"given_name\": null}}",
     "claim \"given_name\" is null"},
    {"{\"subject\": \"a\", \"attributes\": {\"given_name\": {\"x\": \"y\"}}}",
     "claim \"given_name\" is an object"},
    {"{\"subject\": \"a\", \"attributes\": {\"nationality\": [\"MY\", 7]}}",
     "claim \"nationality\" value 2 is a number, but claim values must be strings"},
    {"{\"subject\": \"a\", \"attributes\": {\"nationality\": [\"MY\", true]}}",
     "claim \"nationality\" value 2 is a boolean"},
    {"{\"subject\": \"a\", \"attributes\": {\"nationality\": []}}",
     "claim \"nationality\" has an empty array of values"},
    {"{\"subject\": \"a\", \"attributes\": {\"given_name\": [\"A\", \"B\"]}}",
     "claim \"given_name\" takes one value, not 2"},
    {"{\"subject\": \"a\", \"attributes\": {\"given_name\": \"\"}}",
     "claim \"given_name\" value 1 is empty"},
    {"{\"subject\": \"a\", \"attributes\": {\"date_of_birth\": \"1990-02-30\"}}",
     "claim \"date_of_birth\" value 1 is not a date in the form YYYY-MM-DD"},
    {"{\"subject\": \"a\", \"attributes\": {\"date_of_birth\": \"31/01/1990\"}}",
     "claim \"date_of_birth\" value 1 is not a date in the form YYYY-MM-DD"},
    {"{\"subject\": \"a\", \"attributes\": {\"nationality\": \"Malaysia\"}}",
     "claim \"nationality\" value 1 is not an officially assigned ISO 3166-1"},
    {"{\"subject\": \"a\", \"attributes\": {\"nationality\": \"my\"}}",
     "claim \"nationality\" value 1 is not an officially assigned ISO 3166-1"},
    /* Two capital letters that ISO has not assigned: UK and EU are exceptionally
     * reserved, and XX is user-assigned. */
    {"{\"subject\": \"a\", \"attributes\": {\"nationality\": [\"MY\", \"UK\"]}}",
     "claim \"nationality\" value 2 is not an officially assigned ISO 3166-1"},
    {"{\"subject\": \"a\", \"attributes\": {\"residence_country\": \"XX\"}}",
     "claim \"residence_country\" value 1 is not an officially assigned ISO 3166-1"},
    {"{\"subject\": \"a\", \"attributes\": {\"document_country\": \"EU\"}}",
     "claim \"document_country\" value 1 is not an officially assigned ISO 3166-1"},
    {"{\"subject\": \"a\", \"attributes\": {\"given_name\": \"a\\u0001b\"}}",
     "claim \"given_name\" value 1 contains U+0001, which XML 1.0 does not allow"},
    {"{\"subject\": \"a\", \"attributes\": {\"given_name\": \"a\\uffffb\"}}",
     "claim \"given_name\" value 1 contains U+FFFF, which XML 1.0 does not allow"},
    {"{\"subject\": \"a\\u001b\"}", "\"subject\" contains U+001B"},
    {"{\"subject\": \"a\", \"attributes\": {\"given_name\": \"a\\u0000b\"}}",
     "claim \"given_name\" value 1 contains a NUL character"},
    {"{\"subject\": \"a\", \"attributes\": {\"given_name\": \"Siti\", "
     "\"urn:oid:2.5.4.42\": \"Siti\"}}",
     "claim \"urn:oid:2.5.4.42\" repeats the claim \"given_name\""},
};

static void claims_rejections(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(REJECTIONS) / sizeof(REJECTIONS[0]); i++) {
        saml_assertion_spec spec = {0};
        saml_attribute *attributes = (saml_attribute *)&spec; /* must become NULL */
        json_t *claims = NULL;
        char error[256] = "";

        print_message("case %zu: %s\n", i, REJECTIONS[i].json);
        assert_int_equal(read_claims(REJECTIONS[i].json, &claims, &spec, &attributes,
                                     error, sizeof(error)),
                         -1);
        json_decref(claims);
        assert_null(attributes);
        assert_null(spec.attributes);
        if (strstr(error, REJECTIONS[i].reason) == NULL)
            fail_msg("case %zu: expected \"%s\" in \"%s\"", i, REJECTIONS[i].reason,
                     error);
    }
}

/* Values too long, with invalid UTF-8, or too many: built with the jansson API because
 * a JSON text cannot carry invalid UTF-8. */
static void claims_rejects_built_values(void **state)
{
    char long_value[SAML_VALUE_MAX + 2];
    json_t *claims = json_pack("{s:s, s:{}}", "subject", "a", "attributes");
    json_t *attributes_json = json_object_get(claims, "attributes");
    saml_assertion_spec spec = {0};
    saml_attribute *attributes = NULL;
    char error[256] = "";

    (void)state;
    memset(long_value, 'x', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    json_object_set_new(attributes_json, "given_name", json_string(long_value));
    assert_int_equal(
        saml_spec_from_json(claims, &spec, &attributes, error, sizeof(error)), -1);
    assert_non_null(strstr(error, "value 1 is 1025 bytes long, but at most 1024"));

    json_object_set_new(attributes_json, "given_name",
                        json_stringn_nocheck("a\xC0\xAF", 3));
    assert_int_equal(
        saml_spec_from_json(claims, &spec, &attributes, error, sizeof(error)), -1);
    assert_non_null(
        strstr(error, "claim \"given_name\" value 1 is not valid UTF-8 (byte 2)"));

    json_object_clear(attributes_json);
    for (int i = 0; i < 65; i++) {
        char name[64];

        snprintf(name, sizeof(name), "urn:example:claim:%d", i);
        json_object_set_new(attributes_json, name, json_string("v"));
    }
    assert_int_equal(
        saml_spec_from_json(claims, &spec, &attributes, error, sizeof(error)), -1);
    assert_non_null(strstr(error, "\"attributes\" has 65 claims, but at most 64"));
    json_decref(claims);
}

static void escape_text_and_attributes(void **state)
{
    const char *input = "a&b<c>d\"e'f\tg\nh\ri]]>";
    saml_buf text = {0};
    saml_buf attr = {0};

    (void)state;
    saml_buf_put_text(&text, input);
    saml_buf_put_attr(&attr, input);
    assert_false(text.failed);
    assert_false(attr.failed);
    assert_string_equal(text.data, "a&amp;b&lt;c&gt;d\"e'f\tg\nh&#xD;i]]&gt;");
    assert_string_equal(attr.data, "a&amp;b&lt;c>d&quot;e'f&#x9;g&#xA;h&#xD;i]]>");
    saml_buf_free(&text);
    saml_buf_free(&attr);
}

static void escape_keeps_non_ascii(void **state)
{
    const char *names = "สมชาย ใจดี 王小明 Nguyễn Thị Minh Khai 😀";
    saml_buf text = {0};

    (void)state;
    saml_buf_put_text(&text, names);
    assert_string_equal(text.data, names);
    saml_buf_free(&text);
}

static void text_check_cases(void **state)
{
    static const struct {
        const char *text;
        const char *reason; /* NULL when the text is accepted */
    } cases[] = {
        {"Siti Aminah", NULL},
        {"สมชาย ใจดี", NULL},
        {"Nguyễn Thị Minh Khai", NULL},
        {"\xF0\x9F\x98\x80", NULL}, /* U+1F600, four bytes */
        {"tab\tline\ncr\r", NULL},
        {"\xEF\xBF\xBD", NULL}, /* U+FFFD, the last allowed BMP char */
        {"\xC0\xAF", "is not valid UTF-8 (byte 1)"},         /* overlong '/' */
        {"\xE0\x80\xAF", "is not valid UTF-8 (byte 1)"},     /* overlong, three bytes */
        {"\xED\xA0\x80", "is not valid UTF-8 (byte 1)"},     /* surrogate U+D800 */
        {"\xF4\x90\x80\x80", "is not valid UTF-8 (byte 1)"}, /* above U+10FFFF */
        {"ab\xE0\xB8", "is not valid UTF-8 (byte 3)"},       /* truncated Thai letter */
        {"\x80", "is not valid UTF-8 (byte 1)"},             /* lone continuation byte */
        {"\xF8\x88\x80\x80\x80", "is not valid UTF-8 (byte 1)"},
        {"\x01", "contains U+0001, which XML 1.0 does not allow"},
        {"a\x1F", "contains U+001F"},
        {"\xEF\xBF\xBE", "contains U+FFFE"},
        {"\xEF\xBF\xBF", "contains U+FFFF"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char reason[128] = "";
        int result = saml_text_check(cases[i].text, reason, sizeof(reason));

        print_message("case %zu\n", i);
        if (cases[i].reason == NULL) {
            assert_int_equal(result, 0);
            continue;
        }
        assert_int_equal(result, -1);
        if (strstr(reason, cases[i].reason) == NULL)
            fail_msg("case %zu: expected \"%s\" in \"%s\"", i, cases[i].reason, reason);
    }
}

static void uri_check_cases(void **state)
{
    (void)state;
    assert_true(saml_text_is_uri("urn:oid:2.5.4.42"));
    assert_true(saml_text_is_uri("https://rp.example/acs?a=1&b=\"2\""));
    assert_true(saml_text_is_uri("x-y.z+w:v"));
    assert_false(saml_text_is_uri("given_name"));
    assert_false(saml_text_is_uri("urn:"));
    assert_false(saml_text_is_uri(":x"));
    assert_false(saml_text_is_uri("1urn:x"));
    assert_false(saml_text_is_uri("urn:a b"));
    assert_false(saml_text_is_uri("ur n:ab"));
}

static int compare_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void ids_unique_and_well_formed(void **state)
{
    enum { COUNT = 20000 };
    char(*ids)[SAML_ID_SIZE] = calloc(COUNT, SAML_ID_SIZE);

    (void)state;
    assert_non_null(ids);
    for (size_t i = 0; i < COUNT; i++) {
        assert_int_equal(saml_new_id(ids[i]), 0);
        assert_int_equal(strlen(ids[i]), 33);
        assert_int_equal(ids[i][0], '_');
        assert_int_equal(strspn(ids[i] + 1, "0123456789abcdef"), 32);
    }
    qsort(ids, COUNT, SAML_ID_SIZE, compare_ids);
    for (size_t i = 1; i < COUNT; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
}

static void time_format_cases(void **state)
{
    char out[SAML_TIME_SIZE];

    (void)state;
    assert_int_equal(saml_format_time(0, out), 0);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    assert_int_equal(saml_format_time(1798761599, out), 0);
    assert_string_equal(out, "2026-12-31T23:59:59Z");
    assert_int_equal(saml_format_time((time_t)253402300800, out), -1); /* year 10000 */
}

/* The builder checks what API callers pass, because not every spec comes from JSON. */
static void build_rejects_bad_spec(void **state)
{
    char *bad_values[] = {"a\x01"};
    char *two_values[] = {"1990-01-01", "1991-01-01"};
    char *good_values[] = {"Siti"};
    saml_attribute bad = {"given_name", bad_values, 1};
    saml_attribute two = {"date_of_birth", two_values, 2};
    saml_attribute unknown = {"shoe_size", good_values, 1};
    saml_attribute repeated[] = {{"given_name", good_values, 1},
                                 {"urn:oid:2.5.4.42", good_values, 1}};
    const saml_assertion_spec base = {.issuer = "https://idp.example",
                                      .audience = "https://rp.example",
                                      .name_id = "MY-1",
                                      .issue_instant = 1798761599,
                                      .valid_seconds = 300};
    static const char *const reasons[] = {
        "the issuer is missing",
        "the subject NameID contains U+0002",
        "the validity period must be positive, not 0 seconds",
        "the NameID format is not an absolute URI",
        "attribute given_name value 1 contains U+0001",
        "attribute date_of_birth takes one value, not 2",
        "attribute \"shoe_size\" is neither a catalogue claim nor a URI",
        "attribute urn:oid:2.5.4.42 appears twice",
    };
    saml_assertion_spec specs[8];

    (void)state;
    for (size_t i = 0; i < 8; i++)
        specs[i] = base;
    specs[0].issuer = "";
    specs[1].name_id = "x\x02";
    specs[2].valid_seconds = 0;
    specs[3].name_id_format = "persistent";
    specs[4].attributes = &bad;
    specs[4].attribute_count = 1;
    specs[5].attributes = &two;
    specs[5].attribute_count = 1;
    specs[6].attributes = &unknown;
    specs[6].attribute_count = 1;
    specs[7].attributes = repeated;
    specs[7].attribute_count = 2;

    for (size_t i = 0; i < 8; i++) {
        saml_signed_parts parts = {0};
        p11_error err = {0};

        print_message("case %zu\n", i);
        assert_int_equal(saml_build_canonical(&specs[i], &parts, &err), -1);
        if (strstr(err.message, reasons[i]) == NULL)
            fail_msg("case %zu: expected \"%s\" in \"%s\"", i, reasons[i], err.message);
        saml_signed_parts_free(&parts);
    }
}

/* Returns the time of a UTC date and time of day. */
static time_t utc_time(int year, int month, int day, int hour, int minute, int second)
{
    struct tm tm = {0};

    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return timegm(&tm);
}

/* A new credential's birth or KYC date may be tomorrow in UTC, today east of UTC, but
 * no later, across the UTC day boundary, a year's end and February of leap years. */
static void issued_dates_bounded_by_tomorrow(void **state)
{
    static const struct {
        int now[6];           /* year, month, day, hour, minute, second in UTC */
        const char *latest;   /* accepted */
        const char *rejected; /* the day after latest */
    } cases[] = {
        {{2026, 12, 5, 23, 59, 59}, "2026-12-06", "2026-12-07"},
        {{2026, 12, 6, 0, 0, 0}, "2026-12-07", "2026-12-08"},
        {{2026, 12, 31, 12, 0, 0}, "2027-01-01", "2027-01-02"},
        {{2028, 2, 28, 12, 0, 0}, "2028-02-29", "2028-03-01"},
        {{2027, 2, 28, 12, 0, 0}, "2027-03-01", "2027-03-02"},
        {{2100, 2, 28, 12, 0, 0}, "2100-03-01", "2100-03-02"},
    };
    const saml_claim *birth = saml_claim_by_name("date_of_birth");
    const saml_claim *kyc = saml_claim_by_name("kyc_date");
    const saml_claim *expiry = saml_claim_by_name("document_expiry");
    char reason[128];

    (void)state;
    assert_non_null(birth);
    assert_non_null(kyc);
    assert_non_null(expiry);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const int *n = cases[i].now;
        time_t now = utc_time(n[0], n[1], n[2], n[3], n[4], n[5]);

        if (saml_claim_check_issued(birth, cases[i].latest, now, reason,
                                    sizeof(reason)) != 0)
            fail_msg("case %zu: %s was rejected: %s", i, cases[i].latest, reason);
        assert_int_equal(
            saml_claim_check_issued(kyc, cases[i].latest, now, reason, sizeof(reason)),
            0);
        assert_int_equal(saml_claim_check_issued(birth, cases[i].rejected, now, reason,
                                                 sizeof(reason)),
                         -1);
        if (strstr(reason, "after tomorrow") == NULL)
            fail_msg("case %zu: the reason \"%s\" does not name tomorrow", i, reason);
        assert_int_equal(
            saml_claim_check_issued(kyc, cases[i].rejected, now, reason, sizeof(reason)),
            -1);
        assert_int_equal(saml_claim_check_issued(expiry, cases[i].rejected, now, reason,
                                                 sizeof(reason)),
                         0);
    }
}

/* A new credential's claim value of Unicode white space only is rejected, such as an
 * ideographic space in a Chinese name. Text with white space around it is kept. */
static void issued_blank_values_rejected(void **state)
{
    static const char *const blank[] = {
        " ", "\t\r\n", "\xC2\xA0",   /* U+00A0 NO-BREAK SPACE */
        "\xE3\x80\x80",                /* U+3000 IDEOGRAPHIC SPACE */
        " \xE2\x80\xAF\xE2\x80\x82 ", /* U+202F and U+2002 */
    };
    static const char *const kept[] = {
        " Mei ", "\xE3\x80\x80\xE6\x9D\x8E", /* U+3000 then U+674E */
        "\xE2\x80\x8B",                    /* U+200B ZERO WIDTH SPACE is no White_Space */
    };
    const saml_claim *name = saml_claim_by_name("given_name");
    char reason[128];

    (void)state;
    for (size_t i = 0; i < sizeof(blank) / sizeof(blank[0]); i++) {
        if (saml_claim_check_issued(name, blank[i], 0, reason, sizeof(reason)) != -1)
            fail_msg("blank value %zu was accepted", i);
        assert_string_equal(reason, "contains only white space");
    }
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        if (saml_claim_check_issued(name, kept[i], 0, reason, sizeof(reason)) != 0)
            fail_msg("value %zu was rejected: %s", i, reason);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(claims_full_document),
        cmocka_unit_test(claims_minimal_document),
        cmocka_unit_test(claims_rejections),
        cmocka_unit_test(claims_rejects_built_values),
        cmocka_unit_test(escape_text_and_attributes),
        cmocka_unit_test(escape_keeps_non_ascii),
        cmocka_unit_test(text_check_cases),
        cmocka_unit_test(uri_check_cases),
        cmocka_unit_test(ids_unique_and_well_formed),
        cmocka_unit_test(time_format_cases),
        cmocka_unit_test(build_rejects_bad_spec),
        cmocka_unit_test(issued_dates_bounded_by_tomorrow),
        cmocka_unit_test(issued_blank_values_rejected),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
