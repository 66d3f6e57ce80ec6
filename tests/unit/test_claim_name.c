/*
 * The shape checks of a claim name (printable ASCII only, percent-encodings in their
 * normal form, no URN components, OIDs of urn:oid: names in RFC 3061 syntax within the
 * X.660 root arcs) and the comparison of two names as URIs. Each case matches a
 * phrase of the reason, so a failure shows which check rejected the name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "claim_name.h"

static void expect_rejected(const char *name, const char *phrase)
{
    char reason[512] = "";

    if (claim_name_check(name, reason, sizeof(reason)) != -1)
        fail_msg("accepted \"%s\", expected a reason with \"%s\"", name, phrase);
    if (strstr(reason, phrase) == NULL)
        fail_msg("\"%s\": expected \"%s\" in \"%s\"", name, phrase, reason);
}

static void test_names_accepted(void **state)
{
    static const char *const names[] = {
        "given_name",
        "urn:oid:2.5.4.42",
        "URN:OID:2.5.4.42", /* the claims reader rejects this look-alike of given_name */
        "urn:oid:0",
        "urn:oid:0.0",
        "urn:oid:1.39.0",
        "urn:oid:2.999.0",
        "urn:oid:0.9.2342.19200300.100.1.3",
        /* An arc of 39 digits, more than any C integer type holds. */
        "urn:oid:2.25.329800735698586629295641978511506172918",
        "urn:idsvc:claim:kyc_date",
        "https://bank.example/claims/segment?v=1#part",
        "oid:1.2.03", /* not a urn:oid: name, so its arcs are not read */
        "urn:example:a%2Fb%20c%25",
        "urn:example:a%21%80%FF", /* "!" and bytes above 0x7F are no control */
    };
    char reason[512];

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (claim_name_check(names[i], reason, sizeof(reason)) != 0)
            fail_msg("rejected \"%s\": %s", names[i], reason);
    }
}

/* Letters outside ASCII, bidirectional controls, invisible characters, controls and
 * spaces. The reason names the first such byte and its position from 1. */
static void test_bytes_outside_ascii_rejected(void **state)
{
    static const struct {
        const char *name;
        const char *phrase;
    } cases[] = {
        {"urn:example:na\xC3\xAFve",
         "byte 0xC3 at position 15, after \"urn:example:na\""},
        {"urn:example:\xE2\x80\xAEgpj.exe", "byte 0xE2 at position 13"},   /* U+202E */
        {"urn:oid:2.5.4.42\xE2\x80\x8B", "byte 0xE2 at position 17"},       /* U+200B */
        {"given_name\xC2\xA0", "byte 0xC2 at position 11"},                /* U+00A0 */
        {"\xEF\xBB\xBFurn:oid:2.5.4.42", "byte 0xEF at position 1."},      /* U+FEFF */
        {"urn:oid:\xEF\xBC\x92.5.4.42", "byte 0xEF at position 9"},         /* U+FF12 */
        {"urn:example:a\tb", "byte 0x09 at position 14"},
        {"urn:example:a b", "byte 0x20 at position 14"},
        {"urn:example:a\x7F", "byte 0x7F at position 14"},
        {"urn:example:\x01", "byte 0x01 at position 13"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_rejected(cases[i].name, cases[i].phrase);
}

/* The reason quotes at most 64 characters before the byte, and none after it. */
static void test_reason_quotes_ascii_only(void **state)
{
    char name[200];
    char reason[512];

    (void)state;
    memset(name, 'a', 100);
    memcpy(name, "urn:", 4);
    memcpy(name + 100, "\xE2\x80\xAE" "after", 9);
    assert_int_equal(claim_name_check(name, reason, sizeof(reason)), -1);
    assert_non_null(strstr(reason, "position 101"));
    assert_null(strstr(reason, "urn:"));
    assert_null(strstr(reason, "after\""));
    for (const char *p = reason; *p != '\0'; p++)
        assert_true(*p >= 0x20 && *p <= 0x7E);
}

/* RFC 8141 leaves "?+", "?=" and "#" components out of URN equivalence. */
static void test_urn_components_rejected(void **state)
{
    static const char *const names[] = {
        "urn:idsvc:claim:kyc_date#x",
        "urn:idsvc:claim:kyc_date?=x",
        "URN:idsvc:claim:kyc_date?+x",
        "urn:oid:2.5.4.42?=lang",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        expect_rejected(names[i], "out of URN equivalence");
}

/* RFC 3986 has producers write "%" and two uppercase hexadecimal digits, and never
 * encode an unreserved character, so "kyc%5Fdate" normalises to the catalogue's
 * "kyc_date". */
static void test_percent_encodings_checked(void **state)
{
    static const struct {
        const char *name;
        const char *phrase;
    } cases[] = {
        {"urn:idsvc:claim:kyc%5Fdate", "has \"%5F\" at position 20"},
        {"urn:oid:2.5.4.%34%32", "has \"%34\" at position 15"},
        {"https://bank.example/%7Esegment", "has \"%7E\" at position 22"},
        {"urn:example:a%2fb", "has \"%2f\" at position 14"},
        {"urn:example:a%2", "has \"%2\" at position 14"},
        {"urn:example:a%", "has \"%\" at position 14"},
        {"urn:example:a%zz", "has \"%zz\" at position 14"},
    };
    /* A decoder reads a control character in these, and a NUL ends the name early. */
    static const struct {
        const char *name;
        const char *phrase;
    } controls[] = {
        {"urn:idsvc:claim:kyc_date%00", "has \"%00\" at position 25"},
        {"urn:example:a%0Ab", "has \"%0A\" at position 14"},
        {"urn:example:a%1F", "has \"%1F\" at position 14"},
        {"https://bank.example/segment%7F", "has \"%7F\" at position 29"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_rejected(cases[i].name, cases[i].phrase);
    for (size_t i = 0; i < sizeof(controls) / sizeof(controls[0]); i++) {
        expect_rejected(controls[i].name, controls[i].phrase);
        expect_rejected(controls[i].name, "the percent-encoding of a control character");
    }
}

/* The scheme, and a URN's namespace identifier, compare without regard to case, and the
 * rest of a name byte for byte. */
static void test_equivalent_names(void **state)
{
    (void)state;
    assert_true(claim_names_equivalent("urn:example:a", "URN:EXAMPLE:a"));
    assert_true(claim_names_equivalent("urn:idsvc:claim:national_id",
                                       "Urn:IdSvc:claim:national_id"));
    assert_true(
        claim_names_equivalent("https://bank.example/x", "HTTPS://bank.example/x"));
    assert_true(claim_names_equivalent("urn:oid:2.5.4.42", "urn:oid:2.5.4.42"));

    assert_false(claim_names_equivalent("urn:example:a", "urn:example:A"));
    assert_false(
        claim_names_equivalent("urn:idsvc:claim:kyc_date", "urn:idsvc:CLAIM:kyc_date"));
    assert_false(claim_names_equivalent("urn:example:a", "urn:examples:a"));
    assert_false(claim_names_equivalent("given_name", "GIVEN_NAME"));
    assert_false(claim_names_equivalent("urn:a", "URN:b"));
    assert_false(claim_names_equivalent("urn:a", "URN:A"));
}

/* RFC 3986 (section 6.2.2.1) compares the host of a URI with an authority without
 * regard to case, and its userinfo, path, query and fragment byte for byte. */
static void test_equivalent_hosts(void **state)
{
    (void)state;
    assert_true(claim_names_equivalent("https://bank.example/segment",
                                       "https://BANK.Example/segment"));
    assert_true(claim_names_equivalent("HTTPS://Bank.example:8443/x",
                                       "https://bank.EXAMPLE:8443/x"));
    assert_true(
        claim_names_equivalent("https://bank.example?q", "https://BANK.example?q"));
    assert_true(claim_names_equivalent("https://user@BANK.example/x",
                                       "https://user@bank.example/x"));
    assert_true(
        claim_names_equivalent("https://[2001:DB8::1]/x", "https://[2001:db8::1]/x"));

    assert_false(claim_names_equivalent("https://User@bank.example/x",
                                        "https://user@bank.example/x"));
    assert_false(claim_names_equivalent("https://bank.example/Segment",
                                        "https://BANK.example/segment"));
    assert_false(
        claim_names_equivalent("https://bank.example/x?Q", "https://bank.example/x?q"));
    assert_false(
        claim_names_equivalent("https://bank.example/x#F", "https://bank.example/x#f"));
    assert_false(
        claim_names_equivalent("https://bank.example/x", "https://bank.example.x/x"));
    /* Without "//" there is no authority, so the text after the scheme is a path. */
    assert_false(claim_names_equivalent("example:Bank/x", "example:bank/x"));
}

/* A URN other than urn:oid: has a namespace identifier and a namespace-specific string
 * as RFC 8141 (section 2) writes them. */
static void test_urn_syntax_checked(void **state)
{
    static const char *const accepted[] = {
        "urn:ab:x",
        "urn:a2345678901234567890123456789012:x", /* a namespace identifier of 32 */
        "urn:example:a/b:c@d!$&'()*+,;=-._~%2F",
        "URN:EXAMPLE:x",
    };
    static const struct {
        const char *name;
        const char *phrase;
    } rejected[] = {
        {"urn:oid", "is not a URN as RFC 8141 writes one"},
        {"urn:a:x", "is not a URN as RFC 8141 writes one"},
        {"urn:-ab:x", "is not a URN as RFC 8141 writes one"},
        {"urn:ab-:x", "is not a URN as RFC 8141 writes one"},
        {"urn:a_b:x", "is not a URN as RFC 8141 writes one"},
        {"urn:a23456789012345678901234567890123:x",
         "is not a URN as RFC 8141 writes one"},
        {"urn:example:", "is not a URN as RFC 8141 writes one"},
        {"urn:example:/a", "is not a URN as RFC 8141 writes one"},
        {"urn:example:a<b", "has \"<\" at position 14"},
        {"urn:example:a\\b", "has \"\\\" at position 14"},
        {"urn:example:{a}", "has \"{\" at position 13"},
    };
    char reason[512];

    (void)state;
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        if (claim_name_check(accepted[i], reason, sizeof(reason)) != 0)
            fail_msg("rejected \"%s\": %s", accepted[i], reason);
    }
    for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++)
        expect_rejected(rejected[i].name, rejected[i].phrase);
}

static void test_oid_arcs_rejected(void **state)
{
    static const struct {
        const char *name;
        const char *phrase;
    } cases[] = {
        {"urn:oid:2.5.4.042", "arc 4 \"042\" with a leading zero"},
        {"urn:oid:1.2.03", "arc 3 \"03\" with a leading zero"},
        {"URN:OID:02.5.4.42", "arc 1 \"02\" with a leading zero"},
        {"urn:oid:2.5.4.00", "arc 4 \"00\" with a leading zero"},
        {"urn:oid:", "an empty arc 1"},
        {"urn:oid:.2.5", "an empty arc 1"},
        {"urn:oid:2..5", "an empty arc 2"},
        {"urn:oid:2.5.", "an empty arc 3"},
        {"urn:oid:2.5.4.x", "arc 4 \"x\", which is not a decimal number"},
        {"urn:oid:2.5.4.+42", "arc 4 \"+42\", which is not a decimal number"},
        {"urn:oid:2.5.4.-1", "arc 4 \"-1\", which is not a decimal number"},
        {"urn:oid:2.5.4.%2B42", "arc 4 \"%2B42\", which is not a decimal number"},
        {"urn:oid:3.1", "the first arc \"3\""},
        {"urn:oid:10.1", "the first arc \"10\""},
        /* 2^64 + 2 and 2^64 + 1: a 64-bit parser that wraps would read 2 and 1. */
        {"urn:oid:18446744073709551618.5", "the first arc \"18446744073709551618\""},
        {"urn:oid:1.18446744073709551617", "the second arc \"18446744073709551617\""},
        {"urn:oid:1.40", "the second arc \"40\" under arc 1"},
        {"urn:oid:0.99.1", "the second arc \"99\" under arc 0"},
        {"urn:oid:1.100", "the second arc \"100\" under arc 1"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_rejected(cases[i].name, cases[i].phrase);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_accepted),
        cmocka_unit_test(test_bytes_outside_ascii_rejected),
        cmocka_unit_test(test_reason_quotes_ascii_only),
        cmocka_unit_test(test_urn_components_rejected),
        cmocka_unit_test(test_percent_encodings_checked),
        cmocka_unit_test(test_equivalent_names),
        cmocka_unit_test(test_equivalent_hosts),
        cmocka_unit_test(test_urn_syntax_checked),
        cmocka_unit_test(test_oid_arcs_rejected),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
