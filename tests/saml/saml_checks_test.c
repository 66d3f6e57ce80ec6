#define _GNU_SOURCE /* asprintf */
/*
 * The checks after the signature: validity window and clock skew, audience, replay,
 * condition elements, unknown issuers, key rollover, input limits, and verification
 * from two threads.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "saml_test_util.h"
#include "saml_verify_internal.h"

static saml_fixture fixture;
static char *genuine; /* valid from ST_NOW - 60 to ST_NOW + 240 */

static int setup(void **state)
{
    (void)state;
    if (st_fixture_create(&fixture) != 0)
        return -1;
    genuine = st_build(&fixture, fixture.rsa, "alice@idsvc.test");
    return genuine != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(genuine);
    st_fixture_destroy(&fixture);
    return 0;
}

static time_t offset_clock(void *ctx)
{
    return ST_NOW + *(const long *)ctx;
}

static saml_status verify_at(long offset, long skew)
{
    saml_verify_options options = st_options(&fixture);

    options.clock = offset_clock;
    options.clock_ctx = &offset;
    options.clock_skew_seconds = skew;
    return st_verify(&fixture, &options, genuine, NULL);
}

static void claims_read_from_signed_assertion(void **state)
{
    saml_assertion *a = NULL;
    json_t *json;

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, genuine, &a), SAML_OK);
    assert_string_equal(a->issuer, ST_ISSUER);
    assert_string_equal(a->name_id, "alice@idsvc.test");
    assert_int_equal(a->audience_count, 1);
    assert_string_equal(a->audiences[0], ST_AUDIENCE);
    assert_int_equal(a->not_before, ST_NOW - 60);
    assert_int_equal(a->not_on_or_after, ST_NOW + 240);
    assert_int_equal(a->attribute_count, 1);
    assert_string_equal(a->attributes[0].name, "urn:oid:2.5.4.42");
    assert_string_equal(a->attributes[0].values[0], "Alice");

    json = saml_assertion_to_json(a);
    assert_non_null(json);
    assert_string_equal(json_string_value(json_object_get(json, "name_id")), "alice@idsvc.test");
    assert_string_equal(json_string_value(json_object_get(json, "not_on_or_after")),
                        "2026-01-01T00:04:00Z");
    json_decref(json);
    saml_assertion_free(&a);
    assert_null(a);
}

static void window_not_yet_valid(void **state)
{
    (void)state;
    assert_int_equal(verify_at(-61, 0), SAML_ERR_NOT_YET_VALID);
    assert_int_equal(verify_at(-60, 0), SAML_OK);
}

static void window_expired(void **state)
{
    (void)state;
    assert_int_equal(verify_at(240, 0), SAML_ERR_EXPIRED);
    assert_int_equal(verify_at(239, 0), SAML_OK);
}

static void window_skew_honoured(void **state)
{
    (void)state;
    assert_int_equal(verify_at(-120, 60), SAML_OK);
    assert_int_equal(verify_at(-121, 60), SAML_ERR_NOT_YET_VALID);
    assert_int_equal(verify_at(299, 60), SAML_OK);
    assert_int_equal(verify_at(300, 60), SAML_ERR_EXPIRED);
}

static void audience_checked(void **state)
{
    saml_verify_options options = st_options(&fixture);

    (void)state;
    options.audience = ST_AUDIENCE;
    assert_int_equal(st_verify(&fixture, &options, genuine, NULL), SAML_OK);
    options.audience = "https://other-rp.idsvc.test";
    assert_int_equal(st_verify(&fixture, &options, genuine, NULL), SAML_ERR_AUDIENCE_MISMATCH);
}

static time_t fixed_clock(void *ctx)
{
    return *(const time_t *)ctx;
}

static void replay_rejected(void **state)
{
    /* The cache keeps an entry until NotOnOrAfter by its own clock, the tests' one. */
    saml_replay_memory *memory = saml_replay_memory_new(fixed_clock, &fixture.now);
    saml_replay_cache replay = saml_replay_memory_interface(memory);
    saml_verify_options options = st_options(&fixture);
    char *other = st_build(&fixture, fixture.rsa, "bob@idsvc.test");

    (void)state;
    assert_non_null(memory);
    options.replay = &replay;
    assert_int_equal(st_verify(&fixture, &options, genuine, NULL), SAML_OK);
    assert_int_equal(st_verify(&fixture, &options, genuine, NULL), SAML_ERR_REPLAYED);
    /* Another assertion has its own ID. */
    assert_int_equal(st_verify(&fixture, &options, other, NULL), SAML_OK);
    free(other);
    saml_replay_memory_free(&memory);
    assert_null(memory);
}

static void replay_entries_expire(void **state)
{
    time_t now = 1000;
    saml_replay_memory *memory = saml_replay_memory_new(fixed_clock, &now);
    saml_replay_cache replay = saml_replay_memory_interface(memory);

    (void)state;
    assert_int_equal(replay.check_and_store(replay.ctx, "https://a.example", "_a", 2000), 1);
    assert_int_equal(replay.check_and_store(replay.ctx, "https://a.example", "_a", 2000), 0);
    /* Another issuer's assertion with the same ID is a different assertion. */
    assert_int_equal(replay.check_and_store(replay.ctx, "https://b.example", "_a", 2000), 1);
    now = 2000;
    assert_int_equal(replay.check_and_store(replay.ctx, "https://a.example", "_a", 3000), 1);
    saml_replay_memory_free(&memory);
}

static void unknown_issuer_rejected(void **state)
{
    saml_trust_store *other = saml_trust_store_new();
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;
    p11_error err;
    EVP_PKEY *key = p11_key_get_public(fixture.rsa, &err);
    char detail[256];

    (void)state;
    assert_non_null(key);
    assert_int_equal(saml_trust_store_add(other, "https://someone-else.test", key, 0), 0);
    assert_int_equal(saml_verify(other, &options, genuine, strlen(genuine), &a, detail,
                                 sizeof(detail)),
                     SAML_ERR_ISSUER_UNTRUSTED);

    /* A key added for any issuer applies to this one as well. */
    assert_int_equal(saml_trust_store_add(other, NULL, key, 0), 0);
    assert_int_equal(saml_verify(other, &options, genuine, strlen(genuine), &a, detail,
                                 sizeof(detail)),
                     SAML_OK);
    saml_assertion_free(&a);
    EVP_PKEY_free(key);
    saml_trust_store_free(&other);
    assert_null(other);
}

static void rollover_either_key_verifies(void **state)
{
    saml_trust_store *store = saml_trust_store_new();
    saml_verify_options options = st_options(&fixture);
    char *old_signed = st_build(&fixture, fixture.rsa, "alice@idsvc.test");
    char *new_signed = st_build(&fixture, fixture.rsa_next, "alice@idsvc.test");
    saml_assertion *a = NULL;
    char detail[256];
    p11_error err;

    (void)state;
    for (int i = 0; i < 2; i++) {
        EVP_PKEY *key = p11_key_get_public(i == 0 ? fixture.rsa : fixture.rsa_next, &err);

        assert_non_null(key);
        assert_int_equal(saml_trust_store_add(store, ST_ISSUER, key, 0), 0);
        EVP_PKEY_free(key);
    }
    assert_int_equal(saml_verify(store, &options, old_signed, strlen(old_signed), &a, detail,
                                 sizeof(detail)),
                     SAML_OK);
    saml_assertion_free(&a);
    assert_int_equal(saml_verify(store, &options, new_signed, strlen(new_signed), &a, detail,
                                 sizeof(detail)),
                     SAML_OK);
    saml_assertion_free(&a);

    /* The fixture's store does not hold the next key. */
    assert_int_equal(st_verify(&fixture, NULL, new_signed, NULL), SAML_ERR_SIGNATURE_INVALID);

    saml_trust_store_free(&store);
    free(old_signed);
    free(new_signed);
}

static void input_limits(void **state)
{
    saml_verify_options options = st_options(&fixture);

    (void)state;
    options.max_input_bytes = strlen(genuine) - 1;
    assert_int_equal(st_verify(&fixture, &options, genuine, NULL), SAML_ERR_INPUT_TOO_LARGE);
    assert_int_equal(st_verify(&fixture, NULL, "<saml:Assertion", NULL), SAML_ERR_XML_MALFORMED);
    assert_int_equal(st_verify(&fixture, NULL, "<a xmlns=\"urn:example\"/>", NULL),
                     SAML_ERR_NOT_SAML);
}

/* A template assertion changed by from -> to, then signed by xmlsec1 with a file key
 * that the issuer trusts. */
static char *signed_variant(const char *from, const char *to)
{
    const st_template spec = {0};
    char *template = st_template_xml(&fixture, &spec);
    char *changed = st_replace(template, from, to);
    char *signed_xml = st_xmlsec_sign(&fixture, changed, fixture.file_rsa);

    free(template);
    free(changed);
    return signed_xml;
}

static void audience_restriction_required(void **state)
{
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;
    char detail[256];
    char *unbound = signed_variant("<saml:AudienceRestriction><saml:Audience>" ST_AUDIENCE
                                   "</saml:Audience></saml:AudienceRestriction>",
                                   "");

    (void)state;
    /* Without an expected audience the assertion passes: the check is the caller's. */
    assert_int_equal(st_verify(&fixture, &options, unbound, NULL), SAML_OK);

    options.audience = ST_AUDIENCE;
    assert_int_equal(saml_verify(fixture.store, &options, unbound, strlen(unbound), &a, detail,
                                 sizeof(detail)),
                     SAML_ERR_AUDIENCE_MISMATCH);
    assert_null(a);
    assert_non_null(strstr(detail, "no AudienceRestriction"));
    free(unbound);
}

/* An AudienceRestriction without an Audience breaks the schema and binds the assertion
 * to no relying party, so it is rejected with or without an expected audience. */
static void empty_audience_restriction_rejected(void **state)
{
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;
    char detail[256];
    char *empty = signed_variant("<saml:AudienceRestriction><saml:Audience>" ST_AUDIENCE
                                 "</saml:Audience></saml:AudienceRestriction>",
                                 "<saml:AudienceRestriction><!-- none -->"
                                 "</saml:AudienceRestriction>");

    (void)state;
    for (int with_audience = 0; with_audience <= 1; with_audience++) {
        options.audience = with_audience ? ST_AUDIENCE : NULL;
        assert_int_equal(saml_verify(fixture.store, &options, empty, strlen(empty), &a, detail,
                                     sizeof(detail)),
                         SAML_ERR_NOT_SAML);
        assert_null(a);
        assert_string_equal(detail, "an AudienceRestriction has no Audience; SAML 2.0 Core "
                                    "requires at least one");
    }
    free(empty);
}

static saml_status verify_xml_at(const char *xml, long offset, long skew)
{
    saml_verify_options options = st_options(&fixture);

    options.clock = offset_clock;
    options.clock_ctx = &offset;
    options.clock_skew_seconds = skew;
    return st_verify(&fixture, &options, xml, NULL);
}

static void bearer_confirmation_required(void **state)
{
    char *holder_of_key = signed_variant("cm:bearer", "cm:holder-of-key");
    char *without = signed_variant(
        "<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">"
        "<saml:SubjectConfirmationData NotOnOrAfter=\"2026-01-01T00:04:00Z\">"
        "</saml:SubjectConfirmationData></saml:SubjectConfirmation>",
        "");
    char *with_not_before = signed_variant("<saml:SubjectConfirmationData ",
                                           "<saml:SubjectConfirmationData "
                                           "NotBefore=\"2025-12-31T23:59:00Z\" ");
    char *without_end = signed_variant("<saml:SubjectConfirmationData NotOnOrAfter=",
                                       "<saml:SubjectConfirmationData Ends=");
    char *bad_end = signed_variant("NotOnOrAfter=\"2026-01-01T00:04:00Z\">",
                                   "NotOnOrAfter=\"2026-01-01 00:04\">");

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, holder_of_key, NULL), SAML_ERR_BEARER_MISSING);
    assert_int_equal(st_verify(&fixture, NULL, without, NULL), SAML_ERR_BEARER_MISSING);
    assert_int_equal(st_verify(&fixture, NULL, with_not_before, NULL),
                     SAML_ERR_CONFIRMATION_INVALID);
    assert_int_equal(st_verify(&fixture, NULL, without_end, NULL),
                     SAML_ERR_CONFIRMATION_INVALID);
    assert_int_equal(st_verify(&fixture, NULL, bad_end, NULL), SAML_ERR_CONFIRMATION_INVALID);
    free(bad_end);
    free(holder_of_key);
    free(without);
    free(with_not_before);
    free(without_end);
}

static void bearer_window_with_skew(void **state)
{
    /* The confirmation ends at 00:01:00, three minutes before the Conditions do. */
    char *xml = signed_variant("Data NotOnOrAfter=\"2026-01-01T00:04:00Z\"",
                               "Data NotOnOrAfter=\"2026-01-01T00:01:00Z\"");

    (void)state;
    assert_int_equal(verify_xml_at(xml, 59, 0), SAML_OK);
    assert_int_equal(verify_xml_at(xml, 60, 0), SAML_ERR_CONFIRMATION_EXPIRED);
    assert_int_equal(verify_xml_at(xml, 119, 60), SAML_OK);
    assert_int_equal(verify_xml_at(xml, 120, 60), SAML_ERR_CONFIRMATION_EXPIRED);
    /* Past the Conditions too: the assertion's own expiry is named first. */
    assert_int_equal(verify_xml_at(xml, 240, 0), SAML_ERR_EXPIRED);
    free(xml);
}

static void conditions_order_checked(void **state)
{
    char *reversed = signed_variant("NotBefore=\"2025-12-31T23:59:00Z\"",
                                    "NotBefore=\"2026-01-01T00:04:30Z\"");
    char *equal = signed_variant("NotBefore=\"2025-12-31T23:59:00Z\"",
                                 "NotBefore=\"2026-01-01T00:04:00Z\"");

    (void)state;
    /* A skew wide enough for both times still rejects an empty window. */
    assert_int_equal(verify_xml_at(reversed, 0, 600), SAML_ERR_CONDITIONS_INVALID);
    assert_int_equal(verify_xml_at(equal, 0, 600), SAML_ERR_CONDITIONS_INVALID);
    free(reversed);
    free(equal);
}

/* Wraps the genuine Assertion in an unsigned Response, after the given content. */
static char *in_response(const char *before_assertion)
{
    char *xml = NULL;

    assert_int_not_equal(
        asprintf(&xml,
                 "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
                 "ID=\"_r1\" Version=\"2.0\" IssueInstant=\"2026-01-01T00:00:00Z\">%s"
                 "%s</samlp:Response>",
                 before_assertion, genuine),
        -1);
    return xml;
}

static void response_status_and_namespaces(void **state)
{
    static const struct {
        const char *before_assertion;
        saml_status expected;
    } cases[] = {
        {"<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:"
         "Success\"/></samlp:Status>",
         SAML_OK},
        {"<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:"
         "Requester\"><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:"
         "RequestDenied\"/></samlp:StatusCode></samlp:Status>",
         SAML_ERR_STATUS_NOT_SUCCESS},
        {"<samlp:Status><samlp:StatusCode/></samlp:Status>", SAML_ERR_STATUS_NOT_SUCCESS},
        {"", SAML_ERR_NOT_SAML},
        {"<samlp:Status xmlns=\"\"><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:"
         "status:Success\"/></samlp:Status>",
         SAML_OK},
        {"<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:"
         "Success\"/></samlp:Status><y xmlns=\"rel\"/>",
         SAML_ERR_NAMESPACE_INVALID},
        {"<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:"
         "Success\"/></samlp:Status><y xmlns:p=\"#frag\" xmlns=\"\"/>",
         SAML_ERR_NAMESPACE_INVALID},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = in_response(cases[i].before_assertion);

        assert_int_equal(st_verify(&fixture, NULL, xml, NULL), cases[i].expected);
        free(xml);
    }
}

static void times_parsed_strictly(void **state)
{
    static const char *const invalid[] = {
        "2026-02-31T00:00:00Z", /* no such day */
        "2023-02-29T00:00:00Z", /* not a leap year */
        "2026-04-31T00:00:00Z",
        "2026-+2-01T00:00:00Z", /* a sign where a digit belongs */
        "2026-02-01T 1:00:00Z",
        "2026-02-01T01:00:-1Z",
        "2026-02-01T01:00:00+1:00",
        "2026-02-01T01:00:00+01:0",
        "2026-02-01T24:00:00Z",
        "2026-02-01T01:00:00.Z",
        "2026-02-01T01:00:00Zjunk",
        "2026-2-01T01:00:00Z",
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00.5",
        "2026-01-01T10:20:60Z",
        "2026-01-01T10:20:00+14:59",
        "2026-01-01T10:20:00-14:30",
        "",
    };
    static const struct {
        const char *text;
        time_t value;
    } valid[] = {
        {"2024-02-29T23:59:59Z", 1709251199},
        {"2026-01-01T00:00:00Z", 1767225600},
        {"2026-01-01T02:00:00.250+02:00", 1767225600},
        {"2025-12-31T19:00:00-05:00", 1767225600},
        {"2026-01-01T14:00:00+14:00", 1767225600},
    };
    saml_verify_options options;
    saml_assertion *assertion = NULL;
    char detail[512];
    char *bad_date;
    time_t value;

    (void)state;
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        if (saml_time_parse(invalid[i], &value) != -1)
            fail_msg("\"%s\" was accepted as a time", invalid[i]);
    }
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        assert_int_equal(saml_time_parse(valid[i].text, &value), 0);
        assert_int_equal(value, valid[i].value);
    }

    /* A signed NotOnOrAfter on 31 February must not roll over into March. */
    bad_date = signed_variant("59:00Z\" NotOnOrAfter=\"2026-01-01T00:04:00Z\"",
                              "59:00Z\" NotOnOrAfter=\"2026-02-31T00:00:00Z\"");
    assert_int_equal(st_verify(&fixture, NULL, bad_date, NULL), SAML_ERR_NOT_SAML);
    free(bad_date);

    /* A signed NotOnOrAfter without a zone names no instant. */
    bad_date = signed_variant("59:00Z\" NotOnOrAfter=\"2026-01-01T00:04:00Z\"",
                              "59:00Z\" NotOnOrAfter=\"2026-01-01T00:04:00\"");
    options = st_options(&fixture);
    assert_int_equal(saml_verify(fixture.store, &options, bad_date, strlen(bad_date),
                                 &assertion, detail, sizeof(detail)),
                     SAML_ERR_NOT_SAML);
    assert_null(assertion);
    assert_non_null(strstr(detail, "\"2026-01-01T00:04:00\" of <Conditions> is not a "
                                   "valid xs:dateTime: a real date and time, ending in Z "
                                   "or an offset"));
    free(bad_date);
}

/* The detail goes on one line of standard error and into problem+json, where jansson
 * rejects invalid UTF-8: no control characters, and no character cut in half. */
static void base64_decoded_strictly(void **state)
{
    static const char *const invalid[] = {
        "QUJD-xyz", "QUJDREVG==", "QUJDRA", "QUJDRA=", "QU=JD", "QUJD====",
        "QUJD\x01", "QUJD_A==", "", " \r\n",
    };
    static const struct {
        const char *text;
        const char *decoded;
    } valid[] = {
        {"QUJD", "ABC"},
        {"QUJD\r\nREVG", "ABCDEF"},
        {" QUJ\tDRA== ", "ABCD"},
        {"QUJDREU=", "ABCDE"},
    };
    unsigned char *out;
    char *forged;
    size_t len;

    (void)state;
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        out = saml_base64_decode(invalid[i], strlen(invalid[i]), &len);
        if (out != NULL)
            fail_msg("\"%s\" was decoded as base64", invalid[i]);
    }
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        out = saml_base64_decode(valid[i].text, strlen(valid[i].text), &len);
        assert_non_null(out);
        assert_int_equal(len, strlen(valid[i].decoded));
        assert_string_equal((char *)out, valid[i].decoded);
        free(out);
    }

    /* OpenSSL's decoder would stop at the '-' and ignore what follows. */
    forged = st_replace(genuine, "</ds:SignatureValue>", "-AAAA</ds:SignatureValue>");
    assert_int_equal(st_verify(&fixture, NULL, forged, NULL), SAML_ERR_SIGNATURE_ENCODING);
    free(forged);
}

static void assert_detail_printable(const char *detail)
{
    json_t *json = json_string(detail);

    for (const unsigned char *p = (const unsigned char *)detail; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fail_msg("detail has control character 0x%02x: %s", *p, detail);
    }
    if (json == NULL)
        fail_msg("detail is not valid UTF-8: %s", detail);
    json_decref(json);
}

static saml_status verify_with_issuer(const char *issuer, char *detail, size_t detail_size)
{
    saml_verify_options options = st_options(&fixture);
    char element[512];
    saml_assertion *a = NULL;
    char *doc;
    saml_status status;

    snprintf(element, sizeof(element), "<saml:Issuer>%s</saml:Issuer>", issuer);
    doc = st_replace(genuine, "<saml:Issuer>" ST_ISSUER "</saml:Issuer>", element);
    status = saml_verify(fixture.store, &options, doc, strlen(doc), &a, detail, detail_size);
    assert_null(a);
    free(doc);
    return status;
}

static void detail_printable_on_one_line(void **state)
{
    static const char duplicate_id[] =
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" "
        "ID=\"_a&#10;rejected: none&#9;\"><saml:Subject ID=\"_a&#10;rejected: none&#9;\">"
        "</saml:Subject></saml:Assertion>";
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;
    char long_issuer[160];
    char detail[256];

    (void)state;
    /* The issuer is read before any signature check, so anyone can choose it. */
    assert_int_equal(verify_with_issuer("https://evil.test&#10;rejected: none:&#13;forged",
                                        detail, sizeof(detail)),
                     SAML_ERR_ISSUER_UNTRUSTED);
    assert_non_null(strstr(detail, "https://evil.test?rejected: none:?forged"));
    assert_detail_printable(detail);

    /* %.120s cuts the issuer inside the two bytes of U+00E9. */
    memset(long_issuer, 'a', 119);
    snprintf(long_issuer + 119, sizeof(long_issuer) - 119, "\xc3\xa9\xc3\xa9");
    assert_int_equal(verify_with_issuer(long_issuer, detail, sizeof(detail)),
                     SAML_ERR_ISSUER_UNTRUSTED);
    assert_detail_printable(detail);

    /* So does a small detail buffer, as a server passes one. */
    for (size_t size = 30; size < 48; size++) {
        assert_int_equal(verify_with_issuer("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                                            detail, size),
                         SAML_ERR_ISSUER_UNTRUSTED);
        assert_detail_printable(detail);
    }

    /* IDs reach the detail from the parser's own checks, before the SAML ones. An ID with
     * a control character is not an NCName, so it is named before any duplicate. */
    assert_int_equal(saml_verify(fixture.store, &options, duplicate_id, strlen(duplicate_id),
                                 &a, detail, sizeof(detail)),
                     SAML_ERR_NOT_SAML);
    assert_non_null(strstr(detail, "\"_a?rejected: none?\""));
    assert_detail_printable(detail);
}

static void missing_issuer_rejected(void **state)
{
    char *doc = st_cut(genuine, "<saml:Issuer>", "</saml:Issuer>");

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_ISSUER_MISSING);
    free(doc);
}

static void *verify_many(void *arg)
{
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;
    char detail[256];
    intptr_t failures = 0;

    (void)arg;
    for (int i = 0; i < 50; i++) {
        if (saml_verify(fixture.store, &options, genuine, strlen(genuine), &a, detail,
                        sizeof(detail)) != SAML_OK)
            failures++;
        saml_assertion_free(&a);
    }
    return (void *)failures;
}

static void two_threads_verify(void **state)
{
    pthread_t threads[2];
    void *failures;

    (void)state;
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, verify_many, NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(threads[i], &failures), 0);
        assert_int_equal((intptr_t)failures, 0);
    }
}

/* Returns the template assertion with extra elements after its AudienceRestriction,
 * signed by xmlsec1 with the trusted RSA file key. */
static char *signed_with_conditions(const char *id, const char *conditions)
{
    const st_template spec = { .id = id };
    char *tmpl = st_template_xml(&fixture, &spec);
    char *to = NULL;
    char *changed;
    char *doc;

    assert_int_not_equal(asprintf(&to, "</saml:AudienceRestriction>%s", conditions), -1);
    changed = st_replace(tmpl, "</saml:AudienceRestriction>", to);
    doc = st_xmlsec_sign(&fixture, changed, fixture.file_rsa);
    free(to);
    free(changed);
    free(tmpl);
    return doc;
}

/* Verifies doc with `idsvc-admin saml verify` at the fixture's time and returns the
 * exit status. The first line of standard error goes to line. */
static int verify_with_cli(const char *doc, char *line, size_t line_size)
{
    char path[PATH_MAX + 32];
    char args[PATH_MAX * 2 + 128];
    FILE *file;

    snprintf(path, sizeof(path), "%s/conditions.xml", fixture.dir);
    file = fopen(path, "w");
    assert_non_null(file);
    assert_int_equal(fputs(doc, file) >= 0, 1);
    assert_int_equal(fclose(file), 0);
    snprintf(args, sizeof(args), "--trust %s.pub --at 2026-01-01T00:00:00Z %s",
             fixture.file_rsa, path);
    return st_run_cli(args, line, line_size);
}

static void unknown_condition_rejected(void **state)
{
    char *doc = signed_with_conditions(
        "_cond1", "<saml:Condition xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                  "xmlns:x=\"urn:x\" xsi:type=\"x:OnlyOnMondays\"/>");
    char line[512];

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_CONDITION_UNKNOWN);
    assert_int_equal(verify_with_cli(doc, line, sizeof(line)), 1);
    print_message("    cli: %s\n", line);
    assert_non_null(strstr(line, "rejected: condition_unknown: "));
    free(doc);
}

/* The verifier issues nothing, so it reads OneTimeUse and ProxyRestriction and
 * reports them, even a Count of 0, which only forbids new assertions. */
static void proxy_restriction_reported(void **state)
{
    char *doc = signed_with_conditions(
        "_cond2", "<saml:OneTimeUse/><saml:ProxyRestriction Count=\"0\">"
                  "<saml:Audience>https://a.test</saml:Audience>"
                  "<saml:Audience>https://b.test</saml:Audience></saml:ProxyRestriction>");
    saml_assertion *a = NULL;
    json_t *json;
    json_t *proxy;
    char line[512];

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, &a), SAML_OK);
    assert_true(a->one_time_use);
    assert_true(a->proxy.present);
    assert_int_equal(a->proxy.count, 0);
    assert_int_equal(a->proxy.audience_count, 2);
    assert_string_equal(a->proxy.audiences[1], "https://b.test");

    json = saml_assertion_to_json(a);
    assert_non_null(json);
    assert_true(json_is_true(json_object_get(json, "one_time_use")));
    proxy = json_object_get(json, "proxy_restriction");
    assert_int_equal(json_integer_value(json_object_get(proxy, "count")), 0);
    assert_int_equal(json_array_size(json_object_get(proxy, "audiences")), 2);
    json_decref(json);
    saml_assertion_free(&a);

    assert_int_equal(verify_with_cli(doc, line, sizeof(line)), 0);
    free(doc);
}

/* Verifies xml with the fixture's options and copies the detail into detail. */
static saml_status verify_with_detail(const char *xml, char *detail, size_t detail_size)
{
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;
    saml_status status;

    status = saml_verify(fixture.store, &options, xml, strlen(xml), &a, detail, detail_size);
    print_message("    %s: %s\n", saml_status_code(status), detail);
    assert_null(a);
    return status;
}

/* Asserts that xml verifies to status with exactly the detail expected. */
static void assert_verify_detail(const char *xml, saml_status status,
                                 const char *expected)
{
    char detail[512];
    saml_status actual = verify_with_detail(xml, detail, sizeof(detail));

    if (actual != status)
        fail_msg("expected %s, got %s: %s", saml_status_code(status),
                 saml_status_code(actual), detail);
    assert_string_equal(detail, expected);
}

/* Asserts that the template with conditions after its AudienceRestriction verifies to
 * status with a detail that contains part. */
static void assert_conditions_rejected(const char *id, const char *conditions,
                                       saml_status status, const char *part)
{
    char *doc = signed_with_conditions(id, conditions);
    char detail[512];

    assert_int_equal(verify_with_detail(doc, detail, sizeof(detail)), status);
    if (strstr(detail, part) == NULL)
        fail_msg("expected \"%s\" in: %s", part, detail);
    free(doc);
}

static void one_time_use_twice_rejected(void **state)
{
    (void)state;
    assert_conditions_rejected("_otu2", "<saml:OneTimeUse/><saml:OneTimeUse/>",
                               SAML_ERR_CONDITIONS_INVALID, "more than one OneTimeUse");
}

static void proxy_restriction_twice_rejected(void **state)
{
    (void)state;
    assert_conditions_rejected("_proxy2",
                               "<saml:ProxyRestriction Count=\"1\"/>"
                               "<saml:ProxyRestriction Count=\"2\"/>",
                               SAML_ERR_CONDITIONS_INVALID,
                               "more than one ProxyRestriction");
}

/* A Count that is no xs:nonNegativeInteger: negative, a fraction or a sign alone. */
static void proxy_count_invalid_rejected(void **state)
{
    static const char *const counts[] = {"-1", "1.5", "+", " - 0x"};

    (void)state;
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        char conditions[128];
        char part[96];

        snprintf(conditions, sizeof(conditions), "<saml:ProxyRestriction Count=\"%s\"/>",
                 counts[i]);
        snprintf(part, sizeof(part), "Count \"%s\" is not a non-negative integer",
                 counts[i]);
        assert_conditions_rejected("_count", conditions, SAML_ERR_CONDITIONS_INVALID,
                                   part);
    }
}

/* xs:nonNegativeInteger allows a leading "+", and "-" before zero. */
static void proxy_count_signed_accepted(void **state)
{
    static const struct {
        const char *count;
        long value;
    } cases[] = {{"+3", 3}, {"-0", 0}, {" +007 ", 7}};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char conditions[128];
        char *doc;
        saml_assertion *a = NULL;

        snprintf(conditions, sizeof(conditions), "<saml:ProxyRestriction Count=\"%s\"/>",
                 cases[i].count);
        doc = signed_with_conditions("_count", conditions);
        assert_int_equal(st_verify(&fixture, NULL, doc, &a), SAML_OK);
        assert_int_equal(a->proxy.count, cases[i].value);
        saml_assertion_free(&a);
        free(doc);
    }
}

/* Comments and white space between the Audience elements of a ProxyRestriction. */
static void proxy_restriction_comment_accepted(void **state)
{
    char *doc =
        signed_with_conditions("_proxyc", "<saml:ProxyRestriction><!-- one --> "
                                          "<saml:Audience>https://a.test</saml:Audience>"
                                          "</saml:ProxyRestriction>");
    saml_assertion *a = NULL;

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, &a), SAML_OK);
    assert_int_equal(a->proxy.audience_count, 1);
    assert_string_equal(a->proxy.audiences[0], "https://a.test");
    saml_assertion_free(&a);
    free(doc);
}

/* An element that a condition's schema type does not allow inside it. */
static void condition_child_unknown_rejected(void **state)
{
    static const struct {
        const char *conditions;
        const char *part;
    } cases[] = {
        {"<saml:OneTimeUse><saml:Audience>https://a.test</saml:Audience></"
         "saml:OneTimeUse>",
         "condition <OneTimeUse> contains an element <Audience>"},
        {"<saml:ProxyRestriction><saml:Issuer>x</saml:Issuer></saml:ProxyRestriction>",
         "condition <ProxyRestriction> contains an element <Issuer>"},
        {"<saml:AudienceRestriction><saml:Issuer>x</saml:Issuer>"
         "</saml:AudienceRestriction>",
         "condition <AudienceRestriction> contains an element <Issuer>"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_conditions_rejected("_child", cases[i].conditions,
                                   SAML_ERR_CONDITION_UNKNOWN, cases[i].part);
}

/* A DigestMethod that is unknown or has no Algorithm, a second Reference and an
 * Assertion without ID, made after xmlsec1 signed the template. Each is checked before
 * the signature is verified, so each gets its own reason. */
static void signed_info_faults_rejected(void **state)
{
    static const struct {
        const char *from;
        const char *to;
        saml_status status;
        const char *part;
    } cases[] = {
        {"<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>",
         "<ds:DigestMethod Algorithm=\"urn:example:digest\"/>",
         SAML_ERR_ALGORITHM_FORBIDDEN, "urn:example:digest"},
        {"<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>",
         "<ds:DigestMethod/>", SAML_ERR_ALGORITHM_FORBIDDEN,
         "the DigestMethod has no Algorithm attribute, which XML-DSig requires"},
        {"<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>",
         "<ds:SignatureMethod/>", SAML_ERR_ALGORITHM_FORBIDDEN,
         "the SignatureMethod has no Algorithm attribute, which XML-DSig requires"},
        {"<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
         "<ds:CanonicalizationMethod/>", SAML_ERR_ALGORITHM_FORBIDDEN,
         "the CanonicalizationMethod has no Algorithm attribute, which XML-DSig requires"},
        {"<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
         "<ds:Transform/>", SAML_ERR_TRANSFORM_FORBIDDEN,
         "the Transform has no Algorithm attribute, which XML-DSig requires"},
        {"<ds:Reference ",
         "<ds:Reference URI=\"#_tmpl0001\"><ds:DigestMethod "
         "Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>"
         "<ds:DigestValue>AA==</ds:DigestValue></ds:Reference><ds:Reference ",
         SAML_ERR_REFERENCE_INVALID, "the SignedInfo has 2 references; exactly one"},
        {" ID=\"_tmpl0001\"", "", SAML_ERR_REFERENCE_INVALID,
         "the signed <Assertion> has no ID attribute"},
    };
    const st_template spec = {0};
    char *doc = st_template_signed(&fixture, &spec, fixture.file_rsa);
    char detail[512];

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = st_replace(doc, cases[i].from, cases[i].to);

        assert_int_equal(verify_with_detail(xml, detail, sizeof(detail)),
                         cases[i].status);
        if (strstr(detail, cases[i].part) == NULL)
            fail_msg("case %zu: expected \"%s\" in: %s", i, cases[i].part, detail);
        free(xml);
    }
    free(doc);
}

/* An ECDSA signature for an issuer whose only trusted key is RSA. */
static void signature_method_without_key_rejected(void **state)
{
    const st_template spec = {.signature_method =
                                  "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"};
    char *doc = st_template_signed(&fixture, &spec, fixture.file_ec);
    char path[PATH_MAX + 8];
    char error[256] = "";
    char detail[512] = "";
    saml_verify_options options = st_options(&fixture);
    saml_trust_store *store = saml_trust_store_new();
    saml_assertion *a = NULL;
    EVP_PKEY *rsa;

    (void)state;
    snprintf(path, sizeof(path), "%s.pub", fixture.file_rsa);
    rsa = saml_load_public_pem(path, error, sizeof(error));
    assert_non_null(rsa);
    assert_int_equal(saml_trust_store_add(store, ST_ISSUER, rsa, 0), 0);
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_OK);
    assert_int_equal(
        saml_verify(store, &options, doc, strlen(doc), &a, detail, sizeof(detail)),
        SAML_ERR_SIGNATURE_INVALID);
    assert_null(a);
    assert_non_null(
        strstr(detail, "no trusted key of the issuer fits the SignatureMethod"));
    EVP_PKEY_free(rsa);
    saml_trust_store_free(&store);
    assert_null(store);
    saml_trust_store_free(&store);
    saml_trust_store_free(NULL);
    free(doc);
}

/* The store takes only RSA and EC keys, the key types of the allowed SignatureMethods. */
static void trust_store_ed25519_rejected(void **state)
{
    saml_trust_store *store = saml_trust_store_new();
    EVP_PKEY *ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

    (void)state;
    assert_non_null(ed25519);
    assert_int_equal(saml_trust_store_add(store, ST_ISSUER, ed25519, 0), -1);
    EVP_PKEY_free(ed25519);
    saml_trust_store_free(&store);
}

static void public_pem_faults_rejected(void **state)
{
    char error[PATH_MAX + 160] = "";
    char path[PATH_MAX + 16];
    FILE *file;

    (void)state;
    snprintf(path, sizeof(path), "%s/missing.pem", fixture.dir);
    assert_null(saml_load_public_pem(path, error, sizeof(error)));
    assert_non_null(strstr(error, "cannot open"));
    assert_non_null(strstr(error, "missing.pem"));

    snprintf(path, sizeof(path), "%s/empty.pem", fixture.dir);
    file = fopen(path, "w");
    assert_non_null(file);
    assert_int_equal(fputs("no key here\n", file) >= 0, 1);
    assert_int_equal(fclose(file), 0);
    assert_null(saml_load_public_pem(path, error, sizeof(error)));
    assert_non_null(strstr(error, "holds no valid PEM block"));
}

/* Conditions with a NotBefore but no NotOnOrAfter would never expire. */
static void conditions_without_end_rejected(void **state)
{
    char *doc = signed_variant("NotBefore=\"2025-12-31T23:59:00Z\" "
                               "NotOnOrAfter=\"2026-01-01T00:04:00Z\">",
                               "NotBefore=\"2025-12-31T23:59:00Z\">");
    char detail[512];

    (void)state;
    assert_int_equal(verify_with_detail(doc, detail, sizeof(detail)),
                     SAML_ERR_CONDITIONS_MISSING);
    assert_non_null(
        strstr(detail, "have no NotOnOrAfter, so the assertion never expires"));
    free(doc);
}

/* An unsigned Assertion in a Response with no Signature, or with two, when a signed
 * Response may stand for its Assertion. */
static void response_signature_count_rejected(void **state)
{
    static const struct {
        const char *signatures;
        saml_status status;
        const char *part;
    } cases[] = {
        {"", SAML_ERR_SIGNATURE_MISSING,
         "neither the Assertion nor the Response carries a Signature"},
        {"<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/>"
         "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/>",
         SAML_ERR_SIGNATURE_COUNT, "the Response has 2 Signature children"},
    };
    const st_template spec = {0};
    char *template = st_template_xml(&fixture, &spec);
    char *unsigned_assertion = st_cut(template, "<ds:Signature", "</ds:Signature>");
    saml_verify_options options = st_options(&fixture);

    (void)state;
    options.accept_signed_response = true;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = NULL;
        char detail[512] = "";
        saml_assertion *a = NULL;
        saml_status status;

        assert_int_not_equal(
            asprintf(
                &xml,
                "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
                "ID=\"_r2\" Version=\"2.0\" IssueInstant=\"2026-01-01T00:00:00Z\">%s"
                "<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:"
                "status:Success\"/></samlp:Status>%s</samlp:Response>",
                cases[i].signatures, unsigned_assertion),
            -1);
        status = saml_verify(fixture.store, &options, xml, strlen(xml), &a, detail,
                             sizeof(detail));
        print_message("    %s: %s\n", saml_status_code(status), detail);
        assert_int_equal(status, cases[i].status);
        assert_null(a);
        if (strstr(detail, cases[i].part) == NULL)
            fail_msg("case %zu: expected \"%s\" in: %s", i, cases[i].part, detail);
        free(xml);
    }
    free(unsigned_assertion);
    free(template);
}

/* A bearer SubjectConfirmation without its SubjectConfirmationData. */
static void bearer_without_data_rejected(void **state)
{
    const st_template spec = {0};
    char *template = st_template_xml(&fixture, &spec);
    char *cut = st_cut(template, "<saml:SubjectConfirmationData ",
                       "</saml:SubjectConfirmationData>");
    char *doc = st_xmlsec_sign(&fixture, cut, fixture.file_rsa);
    char detail[512];

    (void)state;
    assert_int_equal(verify_with_detail(doc, detail, sizeof(detail)),
                     SAML_ERR_CONFIRMATION_INVALID);
    assert_non_null(strstr(detail, "needs exactly one SubjectConfirmationData"));
    free(doc);
    free(cut);
    free(template);
}

/* Asserts that the signed_variant for from and to verifies when expected is NULL, and
 * otherwise is rejected as not_saml with exactly the detail expected. */
static void assert_variant_detail(const char *from, const char *to, const char *expected)
{
    char *xml = signed_variant(from, to);

    if (expected == NULL)
        assert_int_equal(st_verify(&fixture, NULL, xml, NULL), SAML_OK);
    else
        assert_verify_detail(xml, SAML_ERR_NOT_SAML, expected);
    free(xml);
}

/* libxml2 2.9.14 registers no empty ID, and the verifier must not take that for a failed
 * allocation, which returns internal. */
static void empty_id_rejected(void **state)
{
    char *assertion_id = st_replace(genuine, " ID=\"_", " ID=\"\" Old=\"_");
    char *response_id = in_response("");
    char *response_empty = st_replace(response_id, "ID=\"_r1\"", "ID=\"\"");
    char *extra = in_response("<x:Extra xmlns:x=\"urn:example:x\" ID=\"\"/>");
    const struct {
        const char *xml;
        const char *detail;
    } cases[] = {
        {assertion_id, "the ID attribute of <Assertion> is empty, but an ID needs a value"},
        {response_empty, "the ID attribute of <Response> is empty, but an ID needs a value"},
        {extra, "the ID attribute of <Extra> is empty, but an ID needs a value"},
    };
    char line[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_verify_detail(cases[i].xml, SAML_ERR_NOT_SAML, cases[i].detail);

    assert_int_equal(verify_with_cli(assertion_id, line, sizeof(line)), 1);
    assert_string_equal(line, "rejected: not_saml: the ID attribute of <Assertion> is "
                              "empty, but an ID needs a value");
    free(assertion_id);
    free(response_id);
    free(response_empty);
    free(extra);
}

/* Asserts that genuine, with the ID of its assertion and the Reference URI that names
 * it replaced by id, is rejected as not_saml with detail_part in the detail. */
static void assert_assertion_id_rejected(const char *id, const char *detail_part)
{
    char id_attribute[64];
    char uri[64];
    char detail[512];
    char *renamed;
    char *doc;

    snprintf(id_attribute, sizeof(id_attribute), " ID=\"%s", id);
    snprintf(uri, sizeof(uri), "URI=\"#%s", id);
    renamed = st_replace(genuine, " ID=\"_", id_attribute);
    doc = st_replace(renamed, "URI=\"#_", uri);
    assert_int_equal(verify_with_detail(doc, detail, sizeof(detail)), SAML_ERR_NOT_SAML);
    if (strstr(detail, detail_part) == NULL)
        fail_msg("ID \"%s\": expected \"%s\" in: %s", id, detail_part, detail);
    free(renamed);
    free(doc);
}

/* xmlsec 1.2.37 turns a Reference "#value" into the XPointer "id('value')", so an ID that
 * is not an NCName must be rejected before xmlsec resolves it. A quote would end the string
 * and let the document write XPath, and white space would split it into several IDs. */
static void id_not_ncname_rejected(void **state)
{
    static const char *const bad_ids[] = {
        "_x')|id('_y", /* the reference URI becomes part of the XPath expression */
        "_x'y",        /* an unbalanced quote */
        "_x _y",       /* id() would look up "_x" and "_y" */
        "_x:y",        /* a colon: a QName, not an NCName */
    };
    char detail[512];
    char expected[512];
    char line[512];

    (void)state;
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++)
        assert_assertion_id_rejected(bad_ids[i],
                                     "which contains a character that an XML ID cannot "
                                     "contain, such as a quote, white space or a colon");

    /* On an unsigned element too, because xmlsec could still be pointed at it. */
    char *extra = in_response("<x:Extra xmlns:x=\"urn:example:x\" ID=\"a'b\"/>");

    assert_int_equal(verify_with_detail(extra, detail, sizeof(detail)), SAML_ERR_NOT_SAML);
    snprintf(expected, sizeof(expected),
             "the ID attribute of <Extra> is \"a'b\", which contains a character that an XML "
             "ID cannot contain, such as a quote, white space or a colon");
    assert_string_equal(detail, expected);
    assert_int_equal(verify_with_cli(extra, line, sizeof(line)), 1);
    assert_non_null(strstr(line, "rejected: not_saml: the ID attribute of <Extra>"));
    free(extra);
}

/* A NotBefore half a second after the clock is not reached yet, though its whole
 * seconds are: the verifier rounds a NotBefore with a fraction up. */
static void not_before_fraction_rounded_up(void **state)
{
    const st_template spec = { .id = "_fraction1" };
    char *template = st_template_xml(&fixture, &spec);
    char *changed = st_replace(template, "NotBefore=\"2025-12-31T23:59:00Z\"",
                               "NotBefore=\"2026-01-01T00:00:00.500Z\"");
    char *doc = st_xmlsec_sign(&fixture, changed, fixture.file_rsa);
    saml_verify_options options = st_options(&fixture);
    time_t at = ST_NOW;
    saml_assertion *a = NULL;

    (void)state;
    options.clock = fixed_clock;
    options.clock_ctx = &at;
    assert_int_equal(st_verify(&fixture, &options, doc, NULL), SAML_ERR_NOT_YET_VALID);
    at = ST_NOW + 1;
    assert_int_equal(st_verify(&fixture, &options, doc, &a), SAML_OK);
    assert_int_equal(a->not_before, ST_NOW + 1);
    saml_assertion_free(&a);
    free(template);
    free(changed);
    free(doc);
}

/* IdPs that write a UUID as the ID, such as 28338c8c-39ab-4b94-bcdc-46f68f99d962, start
 * it with a digit, which xs:ID does not allow but xmlsec resolves like any other ID. */
static void id_starting_with_digit_verifies(void **state)
{
    const st_template spec = { .id = "28338c8c-39ab-4b94-bcdc-46f68f99d962" };
    char *template = st_template_xml(&fixture, &spec);
    char *doc = st_xmlsec_sign(&fixture, template, fixture.file_rsa);
    saml_assertion *a = NULL;

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, &a), SAML_OK);
    assert_string_equal(a->id, "28338c8c-39ab-4b94-bcdc-46f68f99d962");
    saml_assertion_free(&a);
    free(template);
    free(doc);
}

/* IDs and PrefixList entries are NCNames by the Name rules of XML 1.0, fifth edition,
 * which libxml2 applies to the document's own names. U+FF21 FULLWIDTH LATIN CAPITAL
 * LETTER A and U+10000 are name characters there, though not in the fourth edition.
 * U+200B ZERO WIDTH SPACE and U+2028 LINE SEPARATOR are in neither. */
static void id_fifth_edition_names_verify(void **state)
{
    static const char *const valid_ids[] = {"_\xef\xbc\xa1", "_\xf0\x90\x80\x80x"};
    static const char *const invalid_ids[] = {"_a\xe2\x80\x8b", "_a\xe2\x80\xa8"};

    (void)state;
    for (size_t i = 0; i < sizeof(valid_ids) / sizeof(valid_ids[0]); i++) {
        const st_template spec = {.id = valid_ids[i]};
        char *template = st_template_xml(&fixture, &spec);
        char *doc = st_xmlsec_sign(&fixture, template, fixture.file_rsa);
        saml_assertion *a = NULL;

        assert_int_equal(st_verify(&fixture, NULL, doc, &a), SAML_OK);
        assert_string_equal(a->id, valid_ids[i]);
        saml_assertion_free(&a);
        free(template);
        free(doc);
    }

    for (size_t i = 0; i < sizeof(invalid_ids) / sizeof(invalid_ids[0]); i++)
        assert_assertion_id_rejected(invalid_ids[i],
                                     "which contains a character that an XML ID cannot "
                                     "contain");

    char *prefixed = signed_variant(
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">"
        "<ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" "
        "PrefixList=\"xs \xef\xbc\xa1\"/></ds:Transform>");

    assert_int_equal(st_verify(&fixture, NULL, prefixed, NULL), SAML_OK);
    free(prefixed);
}

/* Returns the template with each pair of edits[] applied in turn, signed by xmlsec1. */
static char *signed_with_edits(const char *const edits[][2], size_t count)
{
    const st_template spec = {0};
    char *xml = st_template_xml(&fixture, &spec);
    char *signed_xml;

    for (size_t i = 0; i < count; i++) {
        char *next = st_replace(xml, edits[i][0], edits[i][1]);

        free(xml);
        xml = next;
    }
    signed_xml = st_xmlsec_sign(&fixture, xml, fixture.file_rsa);
    free(xml);
    return signed_xml;
}

/* XML Schema's whiteSpace facet collapse takes XML white space off both ends of an
 * xs:dateTime and an xs:anyURI, so each signed time, the bearer Method, the NameID Format
 * and the StatusCode keep their meaning with it. White space inside a value, and U+00A0
 * NO-BREAK SPACE, which is not XML white space, still make a time invalid. */
static void schema_white_space_collapsed(void **state)
{
    static const char *const edits[][2] = {
        {"IssueInstant=\"2025-12-31T23:59:00Z\"", "IssueInstant=\" 2025-12-31T23:59:00Z\""},
        {"NotOnOrAfter=\"2026-01-01T00:04:00Z\"></saml:SubjectConfirmationData>",
         "NotOnOrAfter=\"&#9;2026-01-01T00:04:00Z&#10;\"></saml:SubjectConfirmationData>"},
        {"NotBefore=\"2025-12-31T23:59:00Z\" NotOnOrAfter=\"2026-01-01T00:04:00Z\"",
         "NotBefore=\"2025-12-31T23:59:00Z \" NotOnOrAfter=\"&#13;2026-01-01T00:04:00Z\""},
        {"Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\"",
         "Method=\" urn:oasis:names:tc:SAML:2.0:cm:bearer&#10;\""},
        {"Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\"",
         "Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress \""},
    };
    static const char *const invalid[] = {
        "2026-01-01T00:04:00Z x",
        "2026-01-01 T00:04:00Z",
        "\xc2\xa0" "2026-01-01T00:04:00Z",
    };
    char *doc = signed_with_edits(edits, sizeof(edits) / sizeof(edits[0]));
    char *response = in_response("<samlp:Status><samlp:StatusCode Value=\"&#10;  urn:oasis:"
                                 "names:tc:SAML:2.0:status:Success\t\"/></samlp:Status>");
    saml_assertion *a = NULL;
    time_t value;

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, &a), SAML_OK);
    assert_int_equal(a->issue_instant, ST_NOW - 60);
    assert_int_equal(a->not_before, ST_NOW - 60);
    assert_int_equal(a->not_on_or_after, ST_NOW + 240);
    assert_string_equal(a->name_id_format,
                        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress");
    saml_assertion_free(&a);

    assert_int_equal(st_verify(&fixture, NULL, response, NULL), SAML_OK);

    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        if (saml_time_parse(invalid[i], &value) != -1)
            fail_msg("\"%s\" was accepted as a time", invalid[i]);
    }
    free(doc);
    free(response);
}

/* A root that is not SAML 2.0 is named with its namespace. The message then tells a SAML
 * 1.1 document and a prefix bound to another URI from a root of another name. */
static void root_namespace_named(void **state)
{
    static const struct {
        const char *xml;
        const char *detail;
    } cases[] = {
        {"<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\" "
         "MajorVersion=\"1\" MinorVersion=\"1\" AssertionID=\"_s1\"/>",
         "the root element <Assertion> is in the SAML 1.x namespace "
         "\"urn:oasis:names:tc:SAML:1.0:assertion\"; the node reads only SAML 2.0 "
         "Assertions and Responses"},
        {"<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:1.0:protocol\" "
         "MajorVersion=\"1\" MinorVersion=\"1\" ResponseID=\"_r1\"/>",
         "the root element <Response> is in the SAML 1.x namespace "
         "\"urn:oasis:names:tc:SAML:1.0:protocol\"; the node reads only SAML 2.0 "
         "Assertions and Responses"},
        {"<saml:Assertion xmlns:saml=\"urn:example:other\" ID=\"_a1\"/>",
         "the root element <Assertion> in the namespace \"urn:example:other\" is neither "
         "a SAML 2.0 Assertion (urn:oasis:names:tc:SAML:2.0:assertion) nor a Response "
         "(urn:oasis:names:tc:SAML:2.0:protocol)"},
        {"<Assertion ID=\"_a1\"/>",
         "the root element <Assertion> without a namespace is neither a SAML 2.0 Assertion "
         "(urn:oasis:names:tc:SAML:2.0:assertion) nor a Response "
         "(urn:oasis:names:tc:SAML:2.0:protocol)"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_verify_detail(cases[i].xml, SAML_ERR_NOT_SAML, cases[i].detail);
}

/* An element with the name that the verifier looks for, but in another namespace such
 * as SAML 1.1's, is named with that namespace. The reason then does not read as if the
 * element were absent. */
static void namesake_namespace_named(void **state)
{
    char *subject = signed_variant("<saml:Subject>",
                                   "<saml:Subject xmlns:saml=\"urn:example:x\">");
    char *name_id = signed_variant("<saml:NameID ", "<saml:NameID xmlns:saml=\"urn:example:x\" ");
    char *conditions = signed_variant("<saml:Conditions ",
                                      "<saml:Conditions xmlns:saml=\"urn:example:x\" ");
    char *issuer = st_replace(genuine, "<saml:Issuer>",
                              "<saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:metadata\">");
    const char *saml11 =
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_r1\" "
        "Version=\"2.0\" IssueInstant=\"2026-01-01T00:00:00Z\"><samlp:Status>"
        "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>"
        "</samlp:Status><saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\" "
        "MajorVersion=\"1\" MinorVersion=\"1\" AssertionID=\"_s1\"/></samlp:Response>";
    const struct {
        const char *xml;
        saml_status status;
        const char *detail;
    } cases[] = {
        {subject, SAML_ERR_SUBJECT_MISSING,
         "the Assertion has 0 Subject elements; exactly one is required; the document has "
         "<Subject> in the namespace \"urn:example:x\", not in "
         "urn:oasis:names:tc:SAML:2.0:assertion"},
        {name_id, SAML_ERR_SUBJECT_MISSING,
         "the Subject has no NameID; exactly one is required; the document has <NameID> in "
         "the namespace \"urn:example:x\", not in urn:oasis:names:tc:SAML:2.0:assertion"},
        {conditions, SAML_ERR_CONDITIONS_MISSING,
         "the Assertion has 0 Conditions elements; exactly one is required; the document "
         "has <Conditions> in the namespace \"urn:example:x\", not in "
         "urn:oasis:names:tc:SAML:2.0:assertion"},
        {issuer, SAML_ERR_ISSUER_MISSING,
         "the Assertion has no Issuer; the document has <Issuer> in the namespace "
         "\"urn:oasis:names:tc:SAML:2.0:metadata\", not in "
         "urn:oasis:names:tc:SAML:2.0:assertion"},
        {saml11, SAML_ERR_ASSERTION_COUNT,
         "the document holds 0 Assertion elements; exactly one is required; the document "
         "has <Assertion> in the namespace \"urn:oasis:names:tc:SAML:1.0:assertion\", not in "
         "urn:oasis:names:tc:SAML:2.0:assertion"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_verify_detail(cases[i].xml, cases[i].status, cases[i].detail);
    free(subject);
    free(name_id);
    free(conditions);
    free(issuer);
}

static void times_outside_range_rejected(void **state)
{
    static const char *const outside[] = {
        "9999-12-31T23:59:59-01:00", /* 10000-01-01T00:59:59Z */
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00+00:01",
        "0001-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",  /* XML Schema allows years of more than four digits */
        "10000-02-29T00:00:00Z",  /* a leap year, as 10000 is a multiple of 400 */
        "-2026-01-01T00:00:00Z",  /* and negative years */
    };
    static const char *const invalid[] = {
        "010000-01-01T00:00:00Z", /* a year of more than four digits with a leading zero */
        "10100-02-29T00:00:00Z",  /* 10100 is not a leap year */
        "-0000-01-01T00:00:00Z",  /* XML Schema 1.0 has no year 0000 */
        "+2026-01-01T00:00:00Z",
        "10000-01-01T00:00:00",
    };
    static const struct {
        const char *text;
        time_t value;
    } edges[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"1969-12-31T23:00:00-01:00", 0},
        {"9999-12-31T23:59:59Z", (time_t)SAML_TIME_MAX},
        {"9999-12-31T23:59:59+14:00", (time_t)SAML_TIME_MAX - 14 * 3600},
    };
    time_t value;

    (void)state;
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
        if (saml_time_parse(outside[i], &value) != -2)
            fail_msg("\"%s\" was not rejected as outside the range", outside[i]);
    }
    assert_int_equal(saml_time_parse("0000-01-01T00:00:00Z", &value), -1);
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        if (saml_time_parse(invalid[i], &value) != -1)
            fail_msg("\"%s\" was not rejected as invalid", invalid[i]);
    }
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        assert_int_equal(saml_time_parse(edges[i].text, &value), 0);
        assert_int_equal(value, edges[i].value);
    }
}

#define AUTHN_STATEMENT(instant)                                                       \
    "</saml:Conditions><saml:AuthnStatement AuthnInstant=\"" instant "\">"             \
    "<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:"    \
    "classes:unspecified</saml:AuthnContextClassRef></saml:AuthnContext>"              \
    "</saml:AuthnStatement>"

/* Each time that the verifier reads, signed with a value after the year 9999 or before
 * 1970 in UTC, and the status and detail of its rejection. */
static void signed_times_outside_range(void **state)
{
    static const struct {
        const char *from;
        const char *to;
        saml_status status;
        const char *detail;
    } cases[] = {
        {"</saml:Conditions>", AUTHN_STATEMENT("9999-12-31T23:59:59-01:00"), SAML_ERR_NOT_SAML,
         "the AuthnInstant \"9999-12-31T23:59:59-01:00\" of <AuthnStatement> is outside the "
         "range the node reads, 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"},
        {"IssueInstant=\"2025-12-31T23:59:00Z\"", "IssueInstant=\"1969-12-31T23:59:59Z\"",
         SAML_ERR_NOT_SAML,
         "the IssueInstant \"1969-12-31T23:59:59Z\" of <Assertion> is outside the range the "
         "node reads, 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"},
        {"59:00Z\" NotOnOrAfter=\"2026-01-01T00:04:00Z\"",
         "59:00Z\" NotOnOrAfter=\"9999-12-31T23:30:00-00:30\"", SAML_ERR_NOT_SAML,
         "the NotOnOrAfter \"9999-12-31T23:30:00-00:30\" of <Conditions> is outside the range "
         "the node reads, 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"},
        {"59:00Z\" NotOnOrAfter=\"2026-01-01T00:04:00Z\"",
         "59:00Z\" NotOnOrAfter=\"10000-01-01T00:00:00Z\"", SAML_ERR_NOT_SAML,
         "the NotOnOrAfter \"10000-01-01T00:00:00Z\" of <Conditions> is outside the range "
         "the node reads, 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"},
        {"Data NotOnOrAfter=\"2026-01-01T00:04:00Z\"",
         "Data NotOnOrAfter=\"9999-12-31T23:59:59-01:00\"", SAML_ERR_CONFIRMATION_INVALID,
         "the NotOnOrAfter of the bearer SubjectConfirmationData is outside the range the "
         "node reads, 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"},
    };
    char detail[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = signed_variant(cases[i].from, cases[i].to);

        assert_int_equal(verify_with_detail(xml, detail, sizeof(detail)), cases[i].status);
        assert_string_equal(detail, cases[i].detail);
        free(xml);
    }
}

#define ATTRIBUTE(value)                                                               \
    "</saml:Conditions><saml:AttributeStatement><saml:Attribute Name=\"urn:oid:1.3.6.1.4.1." \
    "5923.1.1.1.10\"><saml:AttributeValue>" value "</saml:AttributeValue></saml:Attribute>" \
    "</saml:AttributeStatement>"

/* Returns the template signed with its NameID replaced by identifier. */
static char *signed_without_name_id(const char *identifier)
{
    const st_template spec = {0};
    char *template = st_template_xml(&fixture, &spec);
    char *name_id = st_slice(template, "<saml:NameID ", "</saml:NameID>");
    char *changed = st_replace(template, name_id, identifier);
    char *signed_xml = st_xmlsec_sign(&fixture, changed, fixture.file_rsa);

    free(template);
    free(name_id);
    free(changed);
    return signed_xml;
}

/* Valid SAML that the node cannot read is named as such, not as malformed SAML: an
 * AttributeValue with element content (eduPersonTargetedID carries a NameID), an
 * EncryptedID or a BaseID in place of the NameID, an EncryptedID in a
 * SubjectConfirmation, a second AuthnStatement, and an EncryptedAttribute, alone or
 * beside a plain Attribute. */
static void unreadable_content_named(void **state)
{
    char *targeted_id = signed_variant(
        "</saml:Conditions>",
        ATTRIBUTE("<saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\" "
                  "NameQualifier=\"" ST_ISSUER "\" SPNameQualifier=\"" ST_AUDIENCE "\">"
                  "t8Xq</saml:NameID>"));
    char *mixed = signed_variant("</saml:Conditions>",
                                 ATTRIBUTE("adm<x:b xmlns:x=\"urn:example:x\"/>in"));
    char *two_authn = signed_variant(
        "</saml:Conditions>",
        AUTHN_STATEMENT("2026-01-01T00:00:00Z")
        "<saml:AuthnStatement AuthnInstant=\"2026-01-01T00:00:00Z\"><saml:AuthnContext>"
        "<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
        "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>");
    char *encrypted_id = signed_without_name_id(
        "<saml:EncryptedID><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\">"
        "<xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData>"
        "</xenc:EncryptedData></saml:EncryptedID>");
    char *base_id = signed_without_name_id(
        "<saml:BaseID xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xmlns:x=\"urn:example:x\" xsi:type=\"x:Handle\"/>");
    char *no_id = signed_without_name_id("");
    char *encrypted_attribute = signed_variant(
        "</saml:Conditions>",
        "</saml:Conditions><saml:AttributeStatement><saml:EncryptedAttribute>"
        "<xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\">"
        "<xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData>"
        "</xenc:EncryptedData></saml:EncryptedAttribute></saml:AttributeStatement>");
    char *encrypted_beside_plain = signed_variant(
        "</saml:Conditions>",
        "</saml:Conditions><saml:AttributeStatement><saml:Attribute Name=\"urn:oid:2.5.4.42\">"
        "<saml:AttributeValue>Alice</saml:AttributeValue></saml:Attribute>"
        "<saml:EncryptedAttribute><xenc:EncryptedData "
        "xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"/></saml:EncryptedAttribute>"
        "</saml:AttributeStatement>");
    char *confirmation_encrypted_id = signed_variant(
        "<saml:SubjectConfirmationData",
        "<saml:EncryptedID><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/"
        "xmlenc#\"/></saml:EncryptedID><saml:SubjectConfirmationData");
    const struct {
        const char *xml;
        saml_status status;
        const char *detail;
    } cases[] = {
        {targeted_id, SAML_ERR_CONTENT_UNSUPPORTED,
         "a value of the Attribute \"urn:oid:1.3.6.1.4.1.5923.1.1.1.10\" contains the element "
         "<NameID>, but the node reads only text values; the issuer must not release this "
         "attribute to the node"},
        {mixed, SAML_ERR_CONTENT_UNSUPPORTED,
         "a value of the Attribute \"urn:oid:1.3.6.1.4.1.5923.1.1.1.10\" contains the element "
         "<b>, but the node reads only text values; the issuer must not release this "
         "attribute to the node"},
        {two_authn, SAML_ERR_CONTENT_UNSUPPORTED,
         "the Assertion has 2 AuthnStatement elements; the node reads at most one"},
        {encrypted_id, SAML_ERR_CONTENT_UNSUPPORTED,
         "the Subject names its subject with <EncryptedID>, which the node cannot read; it "
         "reads only a NameID"},
        {base_id, SAML_ERR_CONTENT_UNSUPPORTED,
         "the Subject names its subject with <BaseID>, which the node cannot read; it reads "
         "only a NameID"},
        {no_id, SAML_ERR_SUBJECT_MISSING, "the Subject has no NameID; exactly one is required"},
        {encrypted_attribute, SAML_ERR_CONTENT_UNSUPPORTED,
         "the AttributeStatement holds an EncryptedAttribute, which the node cannot decrypt; "
         "the issuer must send the Attribute unencrypted"},
        {encrypted_beside_plain, SAML_ERR_CONTENT_UNSUPPORTED,
         "the AttributeStatement holds an EncryptedAttribute, which the node cannot decrypt; "
         "the issuer must send the Attribute unencrypted"},
        {confirmation_encrypted_id, SAML_ERR_CONTENT_UNSUPPORTED,
         "a SubjectConfirmation names the entity that confirms the subject with "
         "<EncryptedID>, which the node cannot decrypt; the issuer must send a NameID or "
         "none"},
    };
    char line[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_verify_detail(cases[i].xml, cases[i].status, cases[i].detail);

    assert_int_equal(verify_with_cli(targeted_id, line, sizeof(line)), 1);
    assert_non_null(strstr(line, "rejected: content_unsupported: a value of the Attribute"));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        free((char *)cases[i].xml);
}

/* xml_safe_text returns NULL both for an element inside the text and for a failed
 * allocation. The first is malformed SAML, not_saml, and the second is the node's own
 * failure, internal. */
static void text_read_failure_classified(void **state)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr audience = xmlNewDocNode(doc, NULL, BAD_CAST "Audience", BAD_CAST ST_AUDIENCE);
    xmlNodePtr with_entity = xmlNewDocNode(doc, NULL, BAD_CAST "Audience", NULL);
    char detail[512];

    (void)state;
    assert_non_null(audience);
    assert_non_null(with_entity);
    xmlDocSetRootElement(doc, audience);

    /* Text alone can fail to read only when memory runs out. */
    assert_int_equal(saml_fail_text_read(audience, "an Audience", detail, sizeof(detail)),
                     SAML_ERR_INTERNAL);
    assert_string_equal(detail, "out of memory reading an Audience");

    assert_non_null(xmlNewChild(audience, NULL, BAD_CAST "b", NULL));
    assert_int_equal(saml_fail_text_read(audience, "an Audience", detail, sizeof(detail)),
                     SAML_ERR_NOT_SAML);
    assert_string_equal(detail, "an Audience contains the element <b>, where only text is "
                                "allowed");

    /* The parser rejects the DOCTYPE that an entity needs, so build the reference. */
    assert_non_null(xmlAddChild(with_entity, xmlNewReference(doc, BAD_CAST "&x;")));
    assert_int_equal(saml_fail_text_read(with_entity, "an Audience", detail, sizeof(detail)),
                     SAML_ERR_NOT_SAML);
    assert_string_equal(detail, "an Audience contains an entity reference, where only text "
                                "is allowed");

    xmlFreeNode(with_entity);
    xmlFreeDoc(doc);
}

/* An element inside the SignatureValue or a DigestValue stays signature_encoding: only
 * a failed allocation while reading them is internal. */
static void signature_text_content_named(void **state)
{
    char *in_signature = st_replace(genuine, "<ds:SignatureValue>",
                                    "<ds:SignatureValue><x:b xmlns:x=\"urn:example:x\"/>");
    char *in_digest = st_replace(genuine, "<ds:DigestValue>",
                                 "<ds:DigestValue><x:b xmlns:x=\"urn:example:x\"/>");
    char detail[512];

    (void)state;
    assert_int_equal(verify_with_detail(in_signature, detail, sizeof(detail)),
                     SAML_ERR_SIGNATURE_ENCODING);
    assert_string_equal(detail,
                        "the Signature needs exactly one SignatureValue holding only text");
    assert_int_equal(verify_with_detail(in_digest, detail, sizeof(detail)),
                     SAML_ERR_SIGNATURE_ENCODING);
    assert_string_equal(detail, "the Reference needs exactly one DigestValue holding only text");

    free(in_signature);
    free(in_digest);
}

/* An element inside an Audience, an AuthenticatingAuthority or an AuthnContextClassRef
 * of a signed assertion is not_saml, naming the element. */
static void text_content_named(void **state)
{
    char *audience = signed_variant("<saml:Audience>" ST_AUDIENCE "</saml:Audience>",
                                    "<saml:Audience>" ST_AUDIENCE
                                    "<x:b xmlns:x=\"urn:example:x\"/></saml:Audience>");
    char *class_ref = signed_variant(
        "</saml:Conditions>",
        "</saml:Conditions><saml:AuthnStatement AuthnInstant=\"2026-01-01T00:00:00Z\">"
        "<saml:AuthnContext><saml:AuthnContextClassRef>urn:x<x:b xmlns:x=\"urn:example:x\"/>"
        "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>");
    char *authority = signed_variant(
        "</saml:Conditions>",
        "</saml:Conditions><saml:AuthnStatement AuthnInstant=\"2026-01-01T00:00:00Z\">"
        "<saml:AuthnContext><saml:AuthnContextClassRef>urn:x</saml:AuthnContextClassRef>"
        "<saml:AuthenticatingAuthority>urn:example:idp<x:b xmlns:x=\"urn:example:x\"/>"
        "</saml:AuthenticatingAuthority></saml:AuthnContext></saml:AuthnStatement>");
    char detail[512];

    (void)state;
    assert_int_equal(verify_with_detail(audience, detail, sizeof(detail)), SAML_ERR_NOT_SAML);
    assert_string_equal(detail, "an Audience contains the element <b>, where only text is "
                                "allowed");
    assert_int_equal(verify_with_detail(class_ref, detail, sizeof(detail)), SAML_ERR_NOT_SAML);
    assert_string_equal(detail, "the AuthnContextClassRef contains the element <b>, where "
                                "only text is allowed");
    assert_int_equal(verify_with_detail(authority, detail, sizeof(detail)), SAML_ERR_NOT_SAML);
    assert_string_equal(detail, "an AuthenticatingAuthority contains the element <b>, where "
                                "only text is allowed");

    free(audience);
    free(class_ref);
    free(authority);
}

/* A NameID or Issuer with element content breaks the schema of NameIDType and is
 * not_saml, while an empty one is valid SAML that names no one. Each gets its own
 * sentence. */
static void name_id_content_named(void **state)
{
    char *with_element = signed_without_name_id(
        "<saml:NameID>adm<x:b xmlns:x=\"urn:example:x\"/>in</saml:NameID>");
    char *empty = signed_without_name_id("<saml:NameID></saml:NameID>");
    char *blank = signed_without_name_id("<saml:NameID> \n </saml:NameID>");
    char *wide_blank =
        signed_without_name_id("<saml:NameID>\xe3\x80\x80\xc2\xa0</saml:NameID>");
    char *issuer_element = signed_variant(
        "<saml:Issuer>" ST_ISSUER "</saml:Issuer>",
        "<saml:Issuer>" ST_ISSUER "<x:b xmlns:x=\"urn:example:x\"/></saml:Issuer>");
    char *issuer_blank = signed_variant("<saml:Issuer>" ST_ISSUER "</saml:Issuer>",
                                        "<saml:Issuer> </saml:Issuer>");
    char detail[512];

    (void)state;
    assert_int_equal(verify_with_detail(with_element, detail, sizeof(detail)), SAML_ERR_NOT_SAML);
    assert_string_equal(detail, "the NameID contains the element <b>, but its type, "
                                "NameIDType, allows only text");
    assert_int_equal(verify_with_detail(empty, detail, sizeof(detail)), SAML_ERR_SUBJECT_MISSING);
    assert_string_equal(detail, "the NameID is empty or only white space");
    assert_int_equal(verify_with_detail(blank, detail, sizeof(detail)), SAML_ERR_SUBJECT_MISSING);
    assert_string_equal(detail, "the NameID is empty or only white space");
    /* U+3000 and U+00A0: no subject is named by Unicode white space either. */
    assert_int_equal(verify_with_detail(wide_blank, detail, sizeof(detail)),
                     SAML_ERR_SUBJECT_MISSING);
    assert_string_equal(detail, "the NameID is empty or only white space");
    free(wide_blank);

    /* The Issuer has the same type, NameIDType. */
    assert_int_equal(verify_with_detail(issuer_element, detail, sizeof(detail)),
                     SAML_ERR_NOT_SAML);
    assert_string_equal(detail,
                        "the Issuer contains the element <b>, but its type, NameIDType, "
                        "allows only text");
    assert_int_equal(verify_with_detail(issuer_blank, detail, sizeof(detail)),
                     SAML_ERR_ISSUER_MISSING);
    assert_string_equal(detail, "the Issuer of <Assertion> is empty or only white space");

    free(issuer_element);
    free(issuer_blank);
    free(with_element);
    free(empty);
    free(blank);
}

#define ENCRYPTED_ASSERTION                                                              \
    "<saml:EncryptedAssertion><xenc:EncryptedData "                                      \
    "xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"><xenc:CipherData>"                 \
    "<xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>"  \
    "</saml:EncryptedAssertion>"

#define SUCCESS_RESPONSE(content)                                                        \
    "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "              \
    "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_r1\" Version=\"2.0\" "   \
    "IssueInstant=\"2026-01-01T00:00:00Z\"><saml:Issuer>" ST_ISSUER "</saml:Issuer>"     \
    "<samlp:Status><samlp:StatusCode "                                                   \
    "Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>" content     \
    "</samlp:Response>"

/* A Response whose only assertion is encrypted is valid SAML that the node cannot read,
 * like an EncryptedID, so it is content_unsupported. An EncryptedAssertion beside a
 * signed Assertion is a second assertion, so that stays assertion_count. */
static void encrypted_assertion_named(void **state)
{
    const char *alone = SUCCESS_RESPONSE(ENCRYPTED_ASSERTION);
    char *beside = NULL;
    char detail[512];

    (void)state;
    assert_int_equal(verify_with_detail(alone, detail, sizeof(detail)),
                     SAML_ERR_CONTENT_UNSUPPORTED);
    assert_string_equal(detail, "the Response carries its assertion as an EncryptedAssertion, "
                                "which the node cannot decrypt; the issuer must send the "
                                "Assertion unencrypted");

    assert_int_not_equal(asprintf(&beside, SUCCESS_RESPONSE("%s" ENCRYPTED_ASSERTION),
                                  strstr(genuine, "<saml:Assertion")),
                         -1);
    assert_int_equal(verify_with_detail(beside, detail, sizeof(detail)),
                     SAML_ERR_ASSERTION_COUNT);
    assert_string_equal(detail, "the document holds 1 Assertion and 1 EncryptedAssertion "
                                "elements; exactly one assertion is required");
    free(beside);
}

/* A Response that reports a failed request, as an IdP sends after a failed login,
 * contains no Assertion. Its status names the reason, with the second-level code, rather than
 * the missing Assertion. A successful Response without an Assertion is still
 * assertion_count. */
static void failed_response_named(void **state)
{
    const char *no_assertion = SUCCESS_RESPONSE("");
    char *responder = st_replace(no_assertion, "status:Success\"/>",
                                 "status:Responder\"><samlp:StatusCode Value=\"urn:oasis:"
                                 "names:tc:SAML:2.0:status:AuthnFailed\"/></samlp:StatusCode>"
                                 "<samlp:StatusMessage>failed</samlp:StatusMessage>");
    char *requester = st_replace(no_assertion, "status:Success", "status:Requester");
    char detail[512];

    (void)state;
    assert_int_equal(verify_with_detail(responder, detail, sizeof(detail)),
                     SAML_ERR_STATUS_NOT_SUCCESS);
    assert_string_equal(detail, "the Response's StatusCode is "
                                "\"urn:oasis:names:tc:SAML:2.0:status:Responder\" with the "
                                "second-level code "
                                "\"urn:oasis:names:tc:SAML:2.0:status:AuthnFailed\", not "
                                "Success, so the issuer reports that the request failed");

    assert_int_equal(verify_with_detail(requester, detail, sizeof(detail)),
                     SAML_ERR_STATUS_NOT_SUCCESS);
    assert_string_equal(detail, "the Response's StatusCode is "
                                "\"urn:oasis:names:tc:SAML:2.0:status:Requester\", not "
                                "Success, so the issuer reports that the request failed");

    assert_int_equal(verify_with_detail(no_assertion, detail, sizeof(detail)),
                     SAML_ERR_ASSERTION_COUNT);
    assert_string_equal(detail,
                        "the document holds 0 Assertion elements; exactly one is required");
    free(responder);
    free(requester);
}

/* A Reference with URI="", which selects the whole document, and one without URI are
 * both rejected, each with its own detail message. */
static void reference_without_id_named(void **state)
{
    const st_template spec = { .reference_uri = "" };
    char *template = st_template_xml(&fixture, &spec);
    char *no_uri = st_replace(template, "<ds:Reference URI=\"\">", "<ds:Reference>");
    char *empty_doc = st_xmlsec_sign(&fixture, template, fixture.file_rsa);
    char *absent_doc = st_xmlsec_sign(&fixture, no_uri, fixture.file_rsa);
    char detail[512];

    (void)state;
    assert_int_equal(verify_with_detail(empty_doc, detail, sizeof(detail)),
                     SAML_ERR_REFERENCE_INVALID);
    assert_string_equal(detail, "the Reference URI \"\" does not point at the enclosing "
                                "<Assertion> with ID \"_tmpl0001\"");

    assert_int_equal(verify_with_detail(absent_doc, detail, sizeof(detail)),
                     SAML_ERR_REFERENCE_INVALID);
    assert_string_equal(detail,
                        "the Reference has no URI; it must be \"#_tmpl0001\", the ID "
                        "of the enclosing <Assertion>");
    free(template);
    free(no_uri);
    free(empty_doc);
    free(absent_doc);
}

#define XSI "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "

/* A null AttributeValue (xsi:nil "true" or "1") gives no value, while an empty one
 * without xsi:nil is the empty string. A null value with content is invalid, white
 * space included, and a comment inside one adds no content. */
static void nil_attribute_value_absent(void **state)
{
    char *values = signed_variant(
        "</saml:Conditions>",
        "</saml:Conditions><saml:AttributeStatement><saml:Attribute "
        "Name=\"urn:example:a\">"
        "<saml:AttributeValue " XSI "xsi:nil=\"true\"/>"
        "<saml:AttributeValue></saml:AttributeValue>"
        "<saml:AttributeValue " XSI "xsi:nil=\" 1 \"><!-- null --></saml:AttributeValue>"
        "<saml:AttributeValue " XSI "xsi:nil=\"false\">x</saml:AttributeValue>"
        "</saml:Attribute><saml:Attribute Name=\"urn:example:b\">"
        "<saml:AttributeValue " XSI "xsi:nil=\"true\"/></saml:Attribute>"
        "</saml:AttributeStatement>");
    char *nil_with_text =
        signed_variant("</saml:Conditions>",
                       "</saml:Conditions><saml:AttributeStatement><saml:Attribute "
                       "Name=\"urn:example:c\">"
                       "<saml:AttributeValue " XSI
                       "xsi:nil=\"true\">x</saml:AttributeValue></saml:Attribute>"
                       "</saml:AttributeStatement>");
    saml_assertion *a = NULL;
    char detail[512];

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, values, &a), SAML_OK);
    assert_int_equal(a->attribute_count, 2);
    assert_string_equal(a->attributes[0].name, "urn:example:a");
    assert_int_equal(a->attributes[0].value_count, 2);
    assert_string_equal(a->attributes[0].values[0], "");
    assert_string_equal(a->attributes[0].values[1], "x");
    assert_string_equal(a->attributes[1].name, "urn:example:b");
    assert_int_equal(a->attributes[1].value_count, 0);
    saml_assertion_free(&a);

    assert_int_equal(verify_with_detail(nil_with_text, detail, sizeof(detail)),
                     SAML_ERR_NOT_SAML);
    assert_string_equal(
        detail,
        "a value of the Attribute \"urn:example:c\" is null (xsi:nil) but not empty");
    free(values);
    free(nil_with_text);
}

/* xsi:nil is an xs:boolean. Another value, such as "true junk" or "yes", leaves open
 * whether the value is null, so the document is not SAML. */
static void nil_not_boolean_rejected(void **state)
{
    static const char *const values[] = {"true junk", "yes", "TRUE", "", "10"};
    char detail[512];
    char expected[256];

    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char element[256];
        char *doc;

        snprintf(element, sizeof(element),
                 "</saml:Conditions><saml:AttributeStatement><saml:Attribute "
                 "Name=\"urn:example:c\"><saml:AttributeValue " XSI
                 "xsi:nil=\"%s\"/></saml:Attribute></saml:AttributeStatement>",
                 values[i]);
        doc = signed_variant("</saml:Conditions>", element);
        assert_int_equal(verify_with_detail(doc, detail, sizeof(detail)), SAML_ERR_NOT_SAML);
        snprintf(expected, sizeof(expected),
                 "an AttributeValue has xsi:nil \"%s\", which is not an xs:boolean "
                 "(true, false, 1 or 0)",
                 values[i]);
        assert_string_equal(detail, expected);
        free(doc);
    }
}

#define ADVICE_ASSERTION(id, name_id)                                                    \
    "<saml:Assertion ID=\"" id                                                           \
    "\" IssueInstant=\"2026-01-01T00:00:00Z\" Version=\"2.0\">"                          \
    "<saml:Issuer>https://other.idsvc.test</"                                            \
    "saml:Issuer><saml:Subject><saml:NameID>" name_id                                    \
    "</saml:NameID></saml:Subject></saml:Assertion>"

#define AUTHZ_WITH_EVIDENCE(content)                                                     \
    "<saml:AuthzDecisionStatement Resource=\"https://rp.idsvc.test/record\" "            \
    "Decision=\"Permit\"><saml:Action Namespace=\"urn:oasis:names:tc:SAML:1.0:action:"  \
    "rwedc\">Read</saml:Action><saml:Evidence>" content "</saml:Evidence>"                \
    "</saml:AuthzDecisionStatement>"

/* The Evidence of an AuthzDecisionStatement may carry the assertions that the decision
 * relied on (SAML 2.0 Core, section 2.7.4.3). Like those of an Advice, they neither
 * count as a second Assertion nor give the claims. Outside an Assertion, such as in the
 * Extensions of a Response, an Evidence hides nothing from the count. */
static void evidence_assertions_ignored(void **state)
{
    char *evidence = signed_variant(
        "</saml:Conditions>",
        "</saml:Conditions>" AUTHZ_WITH_EVIDENCE(
            "<saml:AssertionIDRef>_other1</saml:AssertionIDRef>" ADVICE_ASSERTION(
                "_evidence1", "mallory@idsvc.test")));
    char *in_extensions = in_response(
        "<samlp:Extensions><saml:AuthzDecisionStatement xmlns:saml=\"urn:oasis:names:tc:"
        "SAML:2.0:assertion\" Resource=\"https://rp.idsvc.test/record\" Decision=\"Permit\">"
        "<saml:Action Namespace=\"urn:x\">Read</saml:Action><saml:Evidence>" ADVICE_ASSERTION(
            "_evidence2", "mallory@idsvc.test") "</saml:Evidence>"
        "</saml:AuthzDecisionStatement></samlp:Extensions>"
        "<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:"
        "Success\"/></samlp:Status>");
    saml_assertion *a = NULL;
    char detail[512];

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, evidence, &a), SAML_OK);
    assert_string_equal(a->name_id, "alice@idsvc.test");
    saml_assertion_free(&a);

    assert_int_equal(verify_with_detail(in_extensions, detail, sizeof(detail)),
                     SAML_ERR_ASSERTION_COUNT);
    assert_string_equal(detail,
                        "the document holds 2 Assertion elements; exactly one is required");
    free(evidence);
    free(in_extensions);
}

/* An Advice may carry other assertions as evidence (SAML 2.0 Core, section 2.6.1). A
 * relying party may ignore them, so they neither count as a second Assertion nor give
 * the claims. An ID inside the Advice must still be unique. */
static void advice_assertions_ignored(void **state)
{
    char *advice = signed_variant(
        "</saml:Conditions>",
        "</saml:Conditions><saml:Advice><saml:AssertionIDRef>_other1</"
        "saml:AssertionIDRef>" ADVICE_ASSERTION(
            "_advice1",
            "mallory@idsvc.test") "<saml:EncryptedAssertion><xenc:EncryptedData "
                                  "xmlns:xenc=\"http://www.w3.org/2001/04/"
                                  "xmlenc#\"><xenc:CipherData><xenc:CipherValue>"
                                  "AAAA</xenc:CipherValue></xenc:CipherData></"
                                  "xenc:EncryptedData></saml:EncryptedAssertion>"
                                  "</saml:Advice>");
    char *in_response_doc = NULL;
    /* Added after signing: xmlsec1 cannot sign a document with a duplicate ID. */
    char *plain = signed_variant("</saml:Conditions>", "</saml:Conditions>");
    char *same_id = st_replace(plain, "</saml:Conditions>",
                               "</saml:Conditions><saml:Advice>" ADVICE_ASSERTION(
                                   "_tmpl0001", "mallory@idsvc.test") "</saml:Advice>");
    saml_assertion *a = NULL;
    char detail[512];
    char line[512];

    (void)state;
    assert_int_not_equal(
        asprintf(&in_response_doc,
                 "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:"
                 "protocol\" ID=\"_r1\" Version=\"2.0\" IssueInstant=\"2026-"
                 "01-01T00:00:00Z\"><samlp:Status><samlp:StatusCode Value="
                 "\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>"
                 "</samlp:Status>%s</samlp:Response>",
                 strstr(advice, "<saml:Assertion")),
        -1);

    assert_int_equal(st_verify(&fixture, NULL, advice, &a), SAML_OK);
    assert_string_equal(a->id, "_tmpl0001");
    assert_string_equal(a->name_id, "alice@idsvc.test");
    saml_assertion_free(&a);

    assert_int_equal(st_verify(&fixture, NULL, in_response_doc, &a), SAML_OK);
    assert_string_equal(a->name_id, "alice@idsvc.test");
    saml_assertion_free(&a);

    assert_int_equal(verify_with_cli(advice, line, sizeof(line)), 0);

    assert_int_equal(verify_with_detail(same_id, detail, sizeof(detail)),
                     SAML_ERR_DUPLICATE_ID);
    free(advice);
    free(in_response_doc);
    free(plain);
    free(same_id);
}

/* A time at the epoch reads as 0, which must not pass for an absent value. */
static void epoch_times_kept(void **state)
{
    char *authn = signed_variant("</saml:Conditions>", AUTHN_STATEMENT("1970-01-01T00:00:00Z"));
    char *not_before = signed_variant("NotBefore=\"2025-12-31T23:59:00Z\"",
                                      "NotBefore=\"1970-01-01T00:00:00Z\"");
    char *both_epoch = signed_variant("NotBefore=\"2025-12-31T23:59:00Z\" "
                                      "NotOnOrAfter=\"2026-01-01T00:04:00Z\"",
                                      "NotBefore=\"1970-01-01T00:00:00Z\" "
                                      "NotOnOrAfter=\"1970-01-01T00:00:00Z\"");
    saml_assertion *a = NULL;
    json_t *json;

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, authn, &a), SAML_OK);
    assert_true(a->has_authn_statement);
    assert_int_equal(a->authn_instant, 0);
    /* A copy by another issuer names this one as an authenticating authority. */
    assert_non_null(saml_authenticating_issuer_for_copy(a, "https://other.idsvc.test"));
    saml_assertion_free(&a);

    assert_int_equal(st_verify(&fixture, NULL, not_before, &a), SAML_OK);
    assert_true(a->has_not_before);
    json = saml_assertion_to_json(a);
    assert_non_null(json);
    assert_string_equal(json_string_value(json_object_get(json, "not_before")),
                        "1970-01-01T00:00:00Z");
    json_decref(json);
    saml_assertion_free(&a);

    /* An empty window is named as such, not as an expiry. */
    assert_int_equal(verify_xml_at(both_epoch, 0, 0), SAML_ERR_CONDITIONS_INVALID);
    free(authn);
    free(not_before);
    free(both_epoch);
}

/* Returns genuine with the first element that starts with start and ends with end
 * written twice. */
static char *with_element_doubled(const char *start, const char *end)
{
    char *element = st_slice(genuine, start, end);
    char *doubled = NULL;
    char *doc;

    assert_int_not_equal(asprintf(&doubled, "%s%s", element, element), -1);
    doc = st_replace(genuine, element, doubled);
    free(doubled);
    free(element);
    return doc;
}

/* A duplicate or malformed part of the Signature or the Issuer gets the status and detail
 * that name it. A second element breaks the XML-DSig form, and a DigestValue that is not
 * base64 is an encoding fault, not a failed signature. */
static void signature_parts_named(void **state)
{
    char *two_methods = with_element_doubled("<ds:SignatureMethod", "</ds:SignatureMethod>");
    char *two_c14n = with_element_doubled("<ds:CanonicalizationMethod",
                                          "</ds:CanonicalizationMethod>");
    char *no_digest_method = st_cut(genuine, "<ds:DigestMethod", "</ds:DigestMethod>");
    char *digest_not_base64 = st_replace(genuine, "<ds:DigestValue>", "<ds:DigestValue>%");
    char *two_digests = with_element_doubled("<ds:DigestValue>", "</ds:DigestValue>");
    char *two_issuers = with_element_doubled("<saml:Issuer>", "</saml:Issuer>");
    const struct {
        const char *xml;
        saml_status status;
        const char *detail;
    } cases[] = {
        {two_methods, SAML_ERR_SIGNATURE_MALFORMED,
         "the SignedInfo has <SignatureMethod> where XML-DSig requires Reference"},
        {two_c14n, SAML_ERR_SIGNATURE_MALFORMED,
         "the SignedInfo has <CanonicalizationMethod> where XML-DSig requires SignatureMethod"},
        {no_digest_method, SAML_ERR_SIGNATURE_MALFORMED,
         "the Reference has <DigestValue> where XML-DSig requires DigestMethod"},
        {digest_not_base64, SAML_ERR_SIGNATURE_ENCODING, "the DigestValue is not valid base64"},
        {two_digests, SAML_ERR_SIGNATURE_MALFORMED,
         "the Reference has <DigestValue> out of place or once too often for XML-DSig"},
        {two_issuers, SAML_ERR_NOT_SAML,
         "<Assertion> has 2 Issuer elements; at most one is allowed"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_verify_detail(cases[i].xml, cases[i].status, cases[i].detail);
    free(two_methods);
    free(two_c14n);
    free(no_digest_method);
    free(digest_not_base64);
    free(two_digests);
    free(two_issuers);
}

/* Returns genuine with insert placed before the first occurrence of marker. */
static char *with_inserted(const char *marker, const char *insert)
{
    char *replacement = NULL;
    char *doc;

    assert_int_not_equal(asprintf(&replacement, "%s%s", insert, marker), -1);
    doc = st_replace(genuine, marker, replacement);
    free(replacement);
    return doc;
}

/* Returns genuine with a copy of its SignedInfo inside an element of another namespace
 * before the real one, as a signature wrapping attack hides a second SignedInfo. */
static char *wrapped_copy_of_signed_info(void)
{
    char *signed_info = st_slice(genuine, "<ds:SignedInfo>", "</ds:SignedInfo>");
    char *wrapper = NULL;
    char *doc;

    assert_int_not_equal(asprintf(&wrapper, "<Wrapper xmlns=\"urn:x\">%s</Wrapper>",
                                  signed_info), -1);
    doc = with_inserted("<ds:SignedInfo>", wrapper);
    free(wrapper);
    free(signed_info);
    return doc;
}

/* A Signature whose elements break the content models of the XML-DSig schema is
 * signature_malformed, with the element at fault named, before xmlsec reads it. xmlsec
 * would stop at the first unexpected element, and that failure would read like a
 * SignatureValue that the trusted key does not verify. */
static void signature_form_checked(void **state)
{
    char *no_signed_info = st_cut(genuine, "<ds:SignedInfo>", "</ds:SignedInfo>");
    char *before_signed_info = with_inserted("<ds:SignedInfo>", "<ds:Manifest/>");
    char *wrapped_signed_info = wrapped_copy_of_signed_info();
    char *after_signed_info = with_inserted("<ds:SignatureValue>", "<ds:Object/>");
    char *foreign_in_signature = with_inserted("</ds:Signature>", "<x:Note xmlns:x=\"urn:x\"/>");
    char *two_key_infos = with_inserted("</ds:Signature>",
                                        "<ds:KeyInfo><ds:KeyName>k</ds:KeyName></ds:KeyInfo>");
    char *foreign_in_signed_info = with_inserted("</ds:SignedInfo>", "<ds:Object/>");
    char *foreign_in_transforms = with_inserted("</ds:Transforms>", "<ds:Object/>");
    char *transforms = st_slice(genuine, "<ds:Transforms>", "</ds:Transforms>");
    char *empty_transforms = st_replace(genuine, transforms, "<ds:Transforms/>");
    char *rebound_signed_info =
        st_replace(genuine, "<ds:SignedInfo>", "<ds:SignedInfo xmlns:ds=\"urn:example:x\">");
    char *two_transforms = with_inserted("<ds:DigestMethod",
                                         "<ds:Transforms><ds:Transform Algorithm=\""
                                         "http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
                                         "</ds:Transforms>");
    const struct {
        const char *xml;
        const char *detail;
    } cases[] = {
        {no_signed_info, "the Signature has <SignatureValue> where XML-DSig requires SignedInfo"},
        {before_signed_info, "the Signature has <Manifest> where XML-DSig requires SignedInfo"},
        {wrapped_signed_info, "the Signature has <Wrapper> where XML-DSig requires SignedInfo"},
        {rebound_signed_info,
         "the Signature has <SignedInfo> in the namespace \"urn:example:x\" where XML-DSig "
         "requires SignedInfo in http://www.w3.org/2000/09/xmldsig#"},
        {after_signed_info, "the Signature has <Object> where XML-DSig requires SignatureValue"},
        {foreign_in_signature,
         "the Signature has <Note> of another namespace, where XML-DSig allows no such "
         "element"},
        {two_key_infos, "the Signature has <KeyInfo> out of place or once too often for XML-DSig"},
        {foreign_in_signed_info,
         "the SignedInfo has <Object> out of place or once too often for XML-DSig"},
        {two_transforms, "the Reference has <Transforms> where XML-DSig requires DigestMethod"},
        {foreign_in_transforms,
         "the Transforms has <Object> out of place or once too often for XML-DSig"},
        {empty_transforms, "the Transforms has no Transform element; XML-DSig requires one"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_verify_detail(cases[i].xml, SAML_ERR_SIGNATURE_MALFORMED, cases[i].detail);

    free(no_signed_info);
    free(before_signed_info);
    free(wrapped_signed_info);
    free(rebound_signed_info);
    free(after_signed_info);
    free(foreign_in_signature);
    free(two_key_infos);
    free(foreign_in_signed_info);
    free(two_transforms);
    free(foreign_in_transforms);
    free(transforms);
    free(empty_transforms);
}

/* Object elements after the KeyInfo are part of the XML-DSig form, and the enveloped
 * signature leaves them out of the digest, so the assertion still verifies. */
static void signature_objects_allowed(void **state)
{
    char *objects = with_inserted("</ds:Signature>",
                                  "<ds:Object Id=\"o1\"><x:Note xmlns:x=\"urn:x\"/></ds:Object>"
                                  "<ds:Object/>");

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, objects, NULL), SAML_OK);
    free(objects);
}

/* The Issuer of an Assertion, and of a Response around it, may have no Format or the
 * entity Format, with white space around the URI, as xs:anyURI allows. Any other Format,
 * an empty one, and a name qualifier, which an entity identifier must not carry, are
 * not_saml. */
static void issuer_format_checked(void **state)
{
    static const struct {
        const char *issuer;
        const char *detail; /* NULL: the assertion verifies */
    } cases[] = {
        {"<saml:Issuer Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:entity\">",
         NULL},
        {"<saml:Issuer Format=\" "
         "urn:oasis:names:tc:SAML:2.0:nameid-format:entity&#9;&#10;\">",
         NULL},
        {"<saml:Issuer "
         "Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\">",
         "the Issuer of <Assertion> has the Format \"urn:oasis:names:tc:SAML:1.1:nameid-"
         "format:emailAddress\", but an Issuer must have no Format or the Format "
         "urn:oasis:names:tc:SAML:2.0:nameid-format:entity (SAML 2.0 Web Browser SSO "
         "profile, section 4.1.4.2)"},
        {"<saml:Issuer Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format: entity\">",
         "the Issuer of <Assertion> has the Format \"urn:oasis:names:tc:SAML:2.0:nameid-"
         "format: entity\", but an Issuer must have no Format or the Format "
         "urn:oasis:names:tc:SAML:2.0:nameid-format:entity (SAML 2.0 Web Browser SSO "
         "profile, section 4.1.4.2)"},
        {"<saml:Issuer Format=\"\">",
         "the Issuer of <Assertion> has an empty Format, but an Issuer must have no "
         "Format "
         "or the Format urn:oasis:names:tc:SAML:2.0:nameid-format:entity (SAML 2.0 Web "
         "Browser SSO profile, section 4.1.4.2)"},
        {"<saml:Issuer Format=\" &#9;\">",
         "the Issuer of <Assertion> has an empty Format, but an Issuer must have no "
         "Format "
         "or the Format urn:oasis:names:tc:SAML:2.0:nameid-format:entity (SAML 2.0 Web "
         "Browser SSO profile, section 4.1.4.2)"},
        {"<saml:Issuer NameQualifier=\"https://federation.idsvc.test\">",
         "the Issuer of <Assertion> has the attribute NameQualifier, which SAML 2.0 Core "
         "(section 8.3.6) forbids on an entity identifier"},
        {"<saml:Issuer SPNameQualifier=\"" ST_AUDIENCE "\">",
         "the Issuer of <Assertion> has the attribute SPNameQualifier, which SAML 2.0 "
         "Core (section 8.3.6) forbids on an entity identifier"},
        {"<saml:Issuer SPProvidedID=\"x\">",
         "the Issuer of <Assertion> has the attribute SPProvidedID, which SAML 2.0 Core "
         "(section 8.3.6) forbids on an entity identifier"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_variant_detail("<saml:Issuer>", cases[i].issuer, cases[i].detail);
}

/* The Response's own Issuer is read with the same checks. */
static void response_issuer_format_checked(void **state)
{
    char *email =
        in_response("<saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" "
                    "Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:"
                    "emailAddress\">" ST_ISSUER "</saml:Issuer><samlp:Status>"
                    "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:"
                    "Success\"/></samlp:Status>");
    char *entity = in_response(
        "<saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" "
        "Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:entity\">" ST_ISSUER
        "</saml:Issuer><samlp:Status><samlp:StatusCode "
        "Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>"
        "</samlp:Status>");
    char *qualified =
        in_response("<saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:"
                    "assertion\" NameQualifier=\"urn:x\">" ST_ISSUER
                    "</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"urn:"
                    "oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>");
    char detail[512];

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, entity, NULL), SAML_OK);
    assert_int_equal(verify_with_detail(email, detail, sizeof(detail)),
                     SAML_ERR_NOT_SAML);
    assert_string_equal(
        detail, "the Issuer of <Response> has the Format \"urn:oasis:names:tc:SAML:1.1:"
                "nameid-format:emailAddress\", but an Issuer must have no Format or the "
                "Format urn:oasis:names:tc:SAML:2.0:nameid-format:entity (SAML 2.0 Web "
                "Browser SSO profile, section 4.1.4.2)");
    assert_int_equal(verify_with_detail(qualified, detail, sizeof(detail)),
                     SAML_ERR_NOT_SAML);
    assert_string_equal(detail,
                        "the Issuer of <Response> has the attribute NameQualifier, "
                        "which SAML 2.0 Core (section 8.3.6) forbids on an entity "
                        "identifier");
    free(email);
    free(entity);
    free(qualified);
}

/* The Response around a signed Assertion must carry the attributes that SAML 2.0 Core
 * (section 3.2.2) requires, Version "2.0", ID and IssueInstant, although the claims come
 * only from the Assertion. */
static void response_header_checked(void **state)
{
    static const char status[] = "<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:"
                                 "tc:SAML:2.0:status:Success\"/></samlp:Status>";
    static const struct {
        const char *attributes;
        const char *detail;
    } cases[] = {
        {"ID=\"_r1\" IssueInstant=\"2026-01-01T00:00:00Z\"",
         "the Response has no Version attribute, but SAML 2.0 Core requires Version \"2.0\""},
        {"ID=\"_r1\" Version=\"1.1\" IssueInstant=\"2026-01-01T00:00:00Z\"",
         "the Response's Version \"1.1\" is not \"2.0\""},
        {"ID=\"_r1\" Version=\"2.0 \" IssueInstant=\"2026-01-01T00:00:00Z\"",
         "the Response's Version \"2.0 \" is not \"2.0\""},
        {"Version=\"2.0\" IssueInstant=\"2026-01-01T00:00:00Z\"",
         "the Response has no ID attribute, which SAML 2.0 Core requires"},
        {"ID=\"_r1\" Version=\"2.0\"", "<Response> has no IssueInstant attribute"},
        {"ID=\"_r1\" Version=\"2.0\" IssueInstant=\"2026-01-01T00:00:00\"",
         "the IssueInstant \"2026-01-01T00:00:00\" of <Response> is not a valid "
         "xs:dateTime: a real date and time, ending in Z or an offset"},
    };
    char detail[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = NULL;

        assert_int_not_equal(asprintf(&xml,
                                      "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:"
                                      "SAML:2.0:protocol\" %s>%s%s</samlp:Response>",
                                      cases[i].attributes, status, genuine),
                             -1);
        assert_int_equal(verify_with_detail(xml, detail, sizeof(detail)), SAML_ERR_NOT_SAML);
        assert_string_equal(detail, cases[i].detail);
        free(xml);
    }
}

#define CLASS_REF "<saml:AuthnContextClassRef>urn:x:level</saml:AuthnContextClassRef>"
#define DECL_REF "<saml:AuthnContextDeclRef>urn:x:decl</saml:AuthnContextDeclRef>"
#define AUTHORITY "<saml:AuthenticatingAuthority>urn:x:aa</saml:AuthenticatingAuthority>"
#define CONTEXT(content) "<saml:AuthnContext>" content "</saml:AuthnContext>"

/* An AuthnStatement must hold SubjectLocality?, then one AuthnContext, and that
 * AuthnContext a class or a declaration, each at most once, then its authorities, as
 * SAML 2.0 Core's schema requires. Two class references would leave the node to pick
 * an assurance level. */
static void authn_statement_form_checked(void **state)
{
    static const struct {
        const char *content;
        const char *detail; /* NULL: the assertion verifies */
    } cases[] = {
        {CONTEXT(CLASS_REF), NULL},
        {CONTEXT(DECL_REF), NULL},
        {CONTEXT(CLASS_REF DECL_REF AUTHORITY AUTHORITY), NULL},
        {"<saml:SubjectLocality Address=\"192.0.2.1\"/>" CONTEXT(CLASS_REF), NULL},
        {"", "the AuthnStatement has no AuthnContext, but SAML 2.0 Core requires one"},
        {CONTEXT(CLASS_REF) CONTEXT(CLASS_REF),
         "the AuthnStatement has the element <AuthnContext> "
         "(urn:oasis:names:tc:SAML:2.0:assertion) after its AuthnContext, but SAML 2.0 "
         "Core allows nothing there"},
        {"<saml:SubjectLocality/><saml:SubjectLocality/>" CONTEXT(CLASS_REF),
         "the AuthnStatement has 2 SubjectLocality elements, but SAML 2.0 Core allows at "
         "most one"},
        {"<saml:SubjectLocality Address=\"192.0.2.1\"><x:Extra xmlns:x=\"urn:x\"/>"
         "</saml:SubjectLocality>" CONTEXT(CLASS_REF),
         "the SubjectLocality contains the element <Extra> (urn:x), but SAML 2.0 Core's "
         "schema gives it empty content, which allows no elements"},
        {"<saml:SubjectLocality><!-- a comment --></saml:SubjectLocality>" CONTEXT(CLASS_REF),
         NULL},
        {"<x:Extra xmlns:x=\"urn:x\"/>" CONTEXT(CLASS_REF),
         "the AuthnStatement has the element <Extra> (urn:x) where SAML 2.0 Core requires "
         "its AuthnContext"},
        {CONTEXT(""),
         "the AuthnContext has no AuthnContextClassRef, AuthnContextDecl or "
         "AuthnContextDeclRef, but SAML 2.0 Core requires one of them"},
        {CONTEXT(AUTHORITY),
         "the AuthnContext has no AuthnContextClassRef, AuthnContextDecl or "
         "AuthnContextDeclRef, but SAML 2.0 Core requires one of them"},
        {CONTEXT(CLASS_REF "<saml:AuthnContextClassRef>urn:x:high</saml:AuthnContextClassRef>"),
         "the AuthnContext has 2 AuthnContextClassRef elements, but SAML 2.0 Core allows "
         "at most one"},
        {CONTEXT("<saml:AuthnContextDeclRef>urn:x:decl<x:Y xmlns:x=\"urn:x\"/>"
                 "</saml:AuthnContextDeclRef>"),
         "the AuthnContextDeclRef contains the element <Y> (urn:x), but SAML 2.0 Core's "
         "schema gives it text content, which allows no elements"},
        {CONTEXT(DECL_REF DECL_REF),
         "the AuthnContext has 2 AuthnContextDecl or AuthnContextDeclRef elements, but "
         "SAML 2.0 Core allows at most one"},
        {CONTEXT(AUTHORITY CLASS_REF),
         "the AuthnContext has the element <AuthnContextClassRef> "
         "(urn:oasis:names:tc:SAML:2.0:assertion) out of place; SAML 2.0 Core allows "
         "AuthnContextClassRef?, then AuthnContextDecl or AuthnContextDeclRef?, then "
         "AuthenticatingAuthority elements"},
        {CONTEXT(DECL_REF CLASS_REF),
         "the AuthnContext has the element <AuthnContextClassRef> "
         "(urn:oasis:names:tc:SAML:2.0:assertion) out of place; SAML 2.0 Core allows "
         "AuthnContextClassRef?, then AuthnContextDecl or AuthnContextDeclRef?, then "
         "AuthenticatingAuthority elements"},
    };
    char detail[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *statement = NULL;
        char *xml;

        assert_int_not_equal(asprintf(&statement,
                                      "</saml:Conditions><saml:AuthnStatement AuthnInstant="
                                      "\"2026-01-01T00:00:00Z\">%s</saml:AuthnStatement>",
                                      cases[i].content),
                             -1);
        xml = signed_variant("</saml:Conditions>", statement);
        if (cases[i].detail == NULL) {
            assert_int_equal(st_verify(&fixture, NULL, xml, NULL), SAML_OK);
        } else {
            assert_int_equal(verify_with_detail(xml, detail, sizeof(detail)),
                             SAML_ERR_NOT_SAML);
            assert_string_equal(detail, cases[i].detail);
        }
        free(statement);
        free(xml);
    }
}

/* Signs the template with the element from start to end moved in front of before. */
static char *signed_moved(const char *start, const char *end, const char *before)
{
    const st_template spec = {0};
    char *template = st_template_xml(&fixture, &spec);
    char *element = st_slice(template, start, end);
    char *without = st_cut(template, start, end);
    char *moved_before = NULL;
    char *moved;
    char *signed_xml;

    assert_int_not_equal(asprintf(&moved_before, "%s%s", element, before), -1);
    moved = st_replace(without, before, moved_before);
    signed_xml = st_xmlsec_sign(&fixture, moved, fixture.file_rsa);
    free(template);
    free(element);
    free(without);
    free(moved_before);
    free(moved);
    return signed_xml;
}

#define ASSERTION_MODEL                                                                   \
    "SAML 2.0 Core allows Issuer, Signature?, Subject?, Conditions?, Advice?, then "     \
    "statements"
#define SUBJECT_MODEL "SAML 2.0 Core allows an identifier, then SubjectConfirmation elements"

/* A signed variant of the template, `from` replaced by `to`, that verifies when detail
 * is NULL and is otherwise not_saml with that sentence. */
typedef struct form_case {
    const char *from;
    const char *to;
    const char *detail;
} form_case;

static void expect_form_cases(const form_case *cases, size_t count)
{
    for (size_t i = 0; i < count; i++)
        assert_variant_detail(cases[i].from, cases[i].to, cases[i].detail);
}

/* The signed Assertion, its Subject, each SubjectConfirmation, AttributeStatement and
 * Attribute must follow the content models of SAML 2.0 Core's schema. An element out of
 * place or of an unknown kind is not_saml naming it, not skipped. */
static void assertion_form_checked(void **state)
{
    static const form_case cases[] = {
        {"</saml:Conditions>", "</saml:Conditions><saml:Advice></saml:Advice>", NULL},
        {"<saml:SubjectConfirmationData",
         "<saml:NameID>bob</saml:NameID><saml:SubjectConfirmationData", NULL},
        {"<saml:Subject>", "<x:Extra xmlns:x=\"urn:x\"></x:Extra><saml:Subject>",
         "the Assertion has the element <Extra> (urn:x) out of place or once too often; "
         ASSERTION_MODEL},
        {"<saml:Subject>",
         "<saml:AttributeStatement><saml:Attribute Name=\"urn:x\"></saml:Attribute>"
         "</saml:AttributeStatement><saml:Subject>",
         "the Assertion has the element <Subject> (urn:oasis:names:tc:SAML:2.0:assertion) "
         "out of place or once too often; " ASSERTION_MODEL},
        {"</saml:Subject>", "</saml:Subject><saml:Advice></saml:Advice>",
         "the Assertion has the element <Conditions> "
         "(urn:oasis:names:tc:SAML:2.0:assertion) out of place or once too often; "
         ASSERTION_MODEL},
        {"</saml:SubjectConfirmation></saml:Subject>",
         "</saml:SubjectConfirmation><saml:Foo></saml:Foo></saml:Subject>",
         "the Subject has the element <Foo> (urn:oasis:names:tc:SAML:2.0:assertion) out "
         "of place or once too often; " SUBJECT_MODEL},
        {"<saml:Subject><saml:NameID",
         "<saml:Subject><saml:SubjectConfirmation Method=\"urn:x\">"
         "</saml:SubjectConfirmation><saml:NameID",
         "the Subject has the element <NameID> (urn:oasis:names:tc:SAML:2.0:assertion) "
         "out of place or once too often; " SUBJECT_MODEL},
        {"<saml:SubjectConfirmationData",
         "<saml:NameID>bob<x:Y xmlns:x=\"urn:x\"></x:Y></saml:NameID>"
         "<saml:SubjectConfirmationData",
         "the NameID contains the element <Y> (urn:x), but SAML 2.0 Core's schema gives "
         "it text content, which allows no elements"},
        {"</saml:SubjectConfirmationData>",
         "</saml:SubjectConfirmationData><x:Extra xmlns:x=\"urn:x\"></x:Extra>",
         "the SubjectConfirmation has the element <Extra> (urn:x) out of place or once "
         "too often; SAML 2.0 Core allows an identifier?, then SubjectConfirmationData?"},
        {"</saml:Conditions>",
         "</saml:Conditions><saml:AttributeStatement></saml:AttributeStatement>",
         "the AttributeStatement has no Attribute, but SAML 2.0 Core requires one"},
        {"</saml:Conditions>",
         "</saml:Conditions><saml:AttributeStatement><saml:Attribute Name=\"urn:x\">"
         "<saml:AttributeValue>v</saml:AttributeValue><x:Y xmlns:x=\"urn:x\"></x:Y>"
         "</saml:Attribute></saml:AttributeStatement>",
         "the Attribute has the element <Y> (urn:x) out of place or once too often; SAML "
         "2.0 Core allows AttributeValue elements"},
    };
    char *signature_last = signed_moved("<ds:Signature", "</ds:Signature>",
                                        "</saml:Assertion>");
    char *conditions_first = signed_moved("<saml:Conditions", "</saml:Conditions>",
                                          "<saml:Subject>");
    char detail[512];

    (void)state;
    expect_form_cases(cases, sizeof(cases) / sizeof(cases[0]));

    assert_int_equal(verify_with_detail(signature_last, detail, sizeof(detail)),
                     SAML_ERR_NOT_SAML);
    assert_string_equal(detail, "the Assertion has the element <Signature> "
                                "(http://www.w3.org/2000/09/xmldsig#) out of place or once "
                                "too often; " ASSERTION_MODEL);
    assert_int_equal(verify_with_detail(conditions_first, detail, sizeof(detail)),
                     SAML_ERR_NOT_SAML);
    assert_string_equal(detail, "the Assertion has the element <Subject> "
                                "(urn:oasis:names:tc:SAML:2.0:assertion) out of place or "
                                "once too often; " ASSERTION_MODEL);
    free(signature_last);
    free(conditions_first);
}

#define SUCCESS_CODE "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\">"

/* The Status of a Response contains StatusCode, StatusMessage?, StatusDetail?, and each
 * StatusCode at most one StatusCode that refines it, as SAML 2.0 Core's schema
 * requires. */
static void response_status_form_checked(void **state)
{
    static const struct {
        const char *status;
        const char *detail; /* NULL: the document verifies */
    } cases[] = {
        {"<samlp:Status>" SUCCESS_CODE "</samlp:StatusCode><samlp:StatusMessage>m"
         "</samlp:StatusMessage><samlp:StatusDetail><x:Any xmlns:x=\"urn:x\"></x:Any>"
         "</samlp:StatusDetail></samlp:Status>",
         NULL},
        {"<samlp:Status>" SUCCESS_CODE "<samlp:StatusCode Value=\"urn:x\"><samlp:StatusCode "
         "Value=\"urn:y\"></samlp:StatusCode></samlp:StatusCode></samlp:StatusCode>"
         "</samlp:Status>",
         NULL},
        {"<samlp:Status><samlp:StatusMessage>m</samlp:StatusMessage>" SUCCESS_CODE
         "</samlp:StatusCode></samlp:Status>",
         "the Status has the element <StatusMessage> (urn:oasis:names:tc:SAML:2.0:"
         "protocol) where SAML 2.0 Core requires StatusCode"},
        {"<samlp:Status>" SUCCESS_CODE "</samlp:StatusCode><samlp:StatusMessage>m"
         "<x:Y xmlns:x=\"urn:x\"></x:Y></samlp:StatusMessage></samlp:Status>",
         "the StatusMessage contains the element <Y> (urn:x), but SAML 2.0 Core's schema "
         "gives it text content, which allows no elements"},
        {"<samlp:Status>" SUCCESS_CODE "</samlp:StatusCode><x:Y xmlns:x=\"urn:x\"></x:Y>"
         "</samlp:Status>",
         "the Status has the element <Y> (urn:x) out of place or once too often; SAML 2.0 "
         "Core allows StatusCode, StatusMessage?, StatusDetail?"},
        {"<samlp:Status>" SUCCESS_CODE "<x:Y xmlns:x=\"urn:x\"></x:Y></samlp:StatusCode>"
         "</samlp:Status>",
         "the StatusCode has the element <Y> (urn:x) out of place or once too often; SAML "
         "2.0 Core allows one StatusCode that refines it"},
        {"<samlp:Status>" SUCCESS_CODE "<samlp:StatusCode Value=\"urn:x\"><samlp:StatusMessage>"
         "</samlp:StatusMessage></samlp:StatusCode></samlp:StatusCode></samlp:Status>",
         "the StatusCode has the element <StatusMessage> (urn:oasis:names:tc:SAML:2.0:"
         "protocol) out of place or once too often; SAML 2.0 Core allows one StatusCode "
         "that refines it"},
    };
    char detail[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = in_response(cases[i].status);

        if (cases[i].detail == NULL) {
            assert_int_equal(st_verify(&fixture, NULL, xml, NULL), SAML_OK);
        } else {
            assert_int_equal(verify_with_detail(xml, detail, sizeof(detail)),
                             SAML_ERR_NOT_SAML);
            assert_string_equal(detail, cases[i].detail);
        }
        free(xml);
    }
}

#define STATEMENTS(authn, context, attributes, attribute)                                \
    "</saml:Conditions><saml:AuthnStatement "                                            \
    "AuthnInstant=\"2026-01-01T00:00:00Z\">" authn "<saml:AuthnContext>" context         \
    "<saml:AuthnContextClassRef>urn:x"                                                   \
    "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"             \
    "<saml:AttributeStatement>" attributes "<saml:Attribute Name=\"urn:x\">" attribute   \
    "<saml:AttributeValue>v</saml:AttributeValue></saml:Attribute>"                      \
    "</saml:AttributeStatement>"

/* Text other than white space directly inside a SAML element whose schema content is
 * element-only, plain or in a CDATA section, is not_saml naming the element. White space,
 * comments and text in elements of mixed content still pass. */
static void element_text_rejected(void **state)
{
    static const struct {
        const char *from;
        const char *to;
        const char *element; /* NULL: the assertion verifies */
    } cases[] = {
        {"</saml:Issuer>", "</saml:Issuer>x", "Assertion"},
        {"<saml:Subject>", "<saml:Subject>x", "Subject"},
        {"<saml:Subject>", "<saml:Subject><![CDATA[x]]>", "Subject"},
        {"<saml:SubjectConfirmationData ", "x<saml:SubjectConfirmationData ",
         "SubjectConfirmation"},
        {"<saml:AudienceRestriction>", "x<saml:AudienceRestriction>", "Conditions"},
        {"</saml:AudienceRestriction>", "x</saml:AudienceRestriction>",
         "AudienceRestriction"},
        {"</saml:AudienceRestriction>",
         "</saml:AudienceRestriction><saml:ProxyRestriction>x</saml:ProxyRestriction>",
         "ProxyRestriction"},
        {"</saml:Conditions>", STATEMENTS("x", "", "", ""), "AuthnStatement"},
        {"</saml:Conditions>", STATEMENTS("", "x", "", ""), "AuthnContext"},
        {"</saml:Conditions>", STATEMENTS("", "", "x", ""), "AttributeStatement"},
        {"</saml:Conditions>", STATEMENTS("", "", "", "x"), "Attribute"},
        {"<saml:Subject>", "<saml:Subject>\n  <!-- indented -->\t", NULL},
        {"<saml:AudienceRestriction>", "<![CDATA[ \n]]><saml:AudienceRestriction>", NULL},
        {"</saml:SubjectConfirmationData>", "mixed</saml:SubjectConfirmationData>", NULL},
        {"</saml:Conditions>", STATEMENTS(" ", "\n", "\t", "\r\n"), NULL},
    };
    char detail[512];
    char expected[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = signed_variant(cases[i].from, cases[i].to);

        if (cases[i].element == NULL) {
            assert_int_equal(st_verify(&fixture, NULL, xml, NULL), SAML_OK);
        } else {
            snprintf(
                expected, sizeof(expected),
                "the %s contains the text \"x\", but SAML 2.0 Core's schema allows no "
                "text there, only white space between its child elements",
                cases[i].element);
            assert_int_equal(verify_with_detail(xml, detail, sizeof(detail)),
                             SAML_ERR_NOT_SAML);
            assert_string_equal(detail, expected);
        }
        free(xml);
    }
}

/* Characters that look like white space but are not XML white space (space, tab, line
 * feed, carriage return) are text, written plainly or as character references. XML white
 * space written as character references is still white space. */
static void unicode_space_is_text(void **state)
{
    static const struct {
        const char *to;
        const char *quoted; /* the start of the text that the sentence quotes */
    } cases[] = {
        {"<saml:Subject>\xc2\xa0", "\xc2\xa0"},           /* U+00A0 NO-BREAK SPACE */
        {"<saml:Subject>\xe3\x80\x80", "\xe3\x80\x80"}, /* U+3000 IDEOGRAPHIC SPACE */
        {"<saml:Subject>&#x2028;", "\xe2\x80\xa8"},      /* U+2028 LINE SEPARATOR */
        {"<saml:Subject>&#xFEFF;", "\xef\xbb\xbf"},      /* U+FEFF, a BOM as text */
        {"<saml:Subject>&#x85;", "?"}, /* U+0085 NEXT LINE, a C1 control, quoted as ? */
        {"<saml:Subject>&#32;&#x9;&#xA;&#xD;&#120;", "x"},
        {"<saml:Subject><![CDATA[\xc2\xa0]]>", "\xc2\xa0"},
    };
    char *spaces = signed_variant("<saml:Subject>", "<saml:Subject>&#32;&#x9;&#xA;&#xD;");
    char detail[512];
    char expected[256];

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, spaces, NULL), SAML_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = signed_variant("<saml:Subject>", cases[i].to);

        snprintf(expected, sizeof(expected),
                 "the Subject contains the text \"%s\", but SAML 2.0 Core's schema "
                 "allows no text there, only white space between its child elements",
                 cases[i].quoted);
        assert_int_equal(verify_with_detail(xml, detail, sizeof(detail)),
                         SAML_ERR_NOT_SAML);
        assert_string_equal(detail, expected);
        free(xml);
    }
    free(spaces);
}

/* OneTimeUse and SubjectLocality have empty content, which XML Schema 1.0 allows no
 * characters in, white space included. Comments and an empty CDATA section are no
 * characters, so they pass. */
static void empty_content_space_rejected(void **state)
{
    static const form_case cases[] = {
        {"</saml:AudienceRestriction>",
         "</saml:AudienceRestriction><saml:OneTimeUse>x</saml:OneTimeUse>",
         "the OneTimeUse contains the text \"x\", but SAML 2.0 Core's schema gives it "
         "empty content, which allows no characters, not even white space"},
        {"</saml:AudienceRestriction>",
         "</saml:AudienceRestriction><saml:OneTimeUse> </saml:OneTimeUse>",
         "the OneTimeUse contains white space, but SAML 2.0 Core's schema gives it empty "
         "content, which allows no characters, not even white space"},
        {"</saml:AudienceRestriction>",
         "</saml:AudienceRestriction><saml:OneTimeUse><![CDATA[\n]]></saml:OneTimeUse>",
         "the OneTimeUse contains white space, but SAML 2.0 Core's schema gives it empty "
         "content, which allows no characters, not even white space"},
        {"</saml:Conditions>",
         STATEMENTS("<saml:SubjectLocality Address=\"192.0.2.1\">\n"
                    "</saml:SubjectLocality>",
                    "", "", ""),
         "the SubjectLocality contains white space, but SAML 2.0 Core's schema gives it "
         "empty content, which allows no characters, not even white space"},
        {"</saml:AudienceRestriction>",
         "</saml:AudienceRestriction><saml:OneTimeUse><!-- once --><![CDATA[]]>"
         "</saml:OneTimeUse>",
         NULL},
        {"</saml:Conditions>",
         STATEMENTS("<saml:SubjectLocality Address=\"192.0.2.1\"/>", "", "", ""), NULL},
    };

    (void)state;
    expect_form_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Text in the unsigned Response around the Assertion, and in its Status, is not_saml
 * too. Text added to the signed Assertion after signing keeps digest_mismatch, because
 * the signature is checked first. */
static void response_text_rejected(void **state)
{
    static const struct {
        const char *before_assertion;
        const char *element;
    } cases[] = {
        {"<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:"
         "Success\"/></samlp:Status>x",
         "Response"},
        {"<samlp:Status>x<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:"
         "Success\"/></samlp:Status>",
         "Status"},
        {"<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:"
         "Success\"><![CDATA[x]]></samlp:StatusCode></samlp:Status>",
         "StatusCode"},
    };
    char *after_signing = st_replace(genuine, "<saml:Subject>", "<saml:Subject>x");
    char detail[512];
    char expected[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = in_response(cases[i].before_assertion);

        snprintf(
            expected, sizeof(expected),
            "the %s contains the text \"x\", but SAML 2.0 Core's schema allows no text "
            "there, only white space between its child elements",
            cases[i].element);
        assert_int_equal(verify_with_detail(xml, detail, sizeof(detail)),
                         SAML_ERR_NOT_SAML);
        assert_string_equal(detail, expected);
        free(xml);
    }
    assert_int_equal(verify_with_detail(after_signing, detail, sizeof(detail)),
                     SAML_ERR_DIGEST_MISMATCH);
    free(after_signing);
}

/* Text other than white space directly inside the Signature, its SignedInfo, a
 * Reference or its Transforms breaks the XML-DSig schema, and is signature_malformed
 * naming the element. White space there, and text in the KeyInfo, whose content is
 * mixed, still pass. */
static void signature_text_rejected(void **state)
{
    static const struct {
        const char *marker;
        const char *insert;
        const char *element; /* NULL: the assertion verifies */
    } cases[] = {
        {"<ds:SignatureValue>", "x", "Signature"},
        {"<ds:SignatureValue>", "<![CDATA[x]]>", "Signature"},
        {"<ds:SignatureMethod", "x", "SignedInfo"},
        {"<ds:DigestMethod", "x", "Reference"},
        {"</ds:Transforms>", "x", "Transforms"},
        {"<ds:SignatureValue>", "\n  ", NULL},
        {"</ds:KeyInfo>", "x", NULL},
    };
    char detail[512];
    char expected[256];

    (void)state;
    assert_non_null(strstr(genuine, "</ds:KeyInfo>"));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = with_inserted(cases[i].marker, cases[i].insert);

        if (cases[i].element == NULL) {
            assert_int_equal(st_verify(&fixture, NULL, xml, NULL), SAML_OK);
        } else {
            snprintf(expected, sizeof(expected),
                     "the %s contains the text \"x\", but XML-DSig allows no text there, "
                     "only white space between its child elements",
                     cases[i].element);
            assert_int_equal(verify_with_detail(xml, detail, sizeof(detail)),
                             SAML_ERR_SIGNATURE_MALFORMED);
            assert_string_equal(detail, expected);
        }
        free(xml);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(claims_read_from_signed_assertion),
        cmocka_unit_test(window_not_yet_valid),
        cmocka_unit_test(window_expired),
        cmocka_unit_test(window_skew_honoured),
        cmocka_unit_test(audience_checked),
        cmocka_unit_test(replay_rejected),
        cmocka_unit_test(replay_entries_expire),
        cmocka_unit_test(unknown_issuer_rejected),
        cmocka_unit_test(rollover_either_key_verifies),
        cmocka_unit_test(input_limits),
        cmocka_unit_test(missing_issuer_rejected),
        cmocka_unit_test(audience_restriction_required),
        cmocka_unit_test(empty_audience_restriction_rejected),
        cmocka_unit_test(times_parsed_strictly),
        cmocka_unit_test(base64_decoded_strictly),
        cmocka_unit_test(bearer_confirmation_required),
        cmocka_unit_test(bearer_window_with_skew),
        cmocka_unit_test(conditions_order_checked),
        cmocka_unit_test(response_status_and_namespaces),
        cmocka_unit_test(detail_printable_on_one_line),
        cmocka_unit_test(two_threads_verify),
        cmocka_unit_test(unknown_condition_rejected),
        cmocka_unit_test(proxy_restriction_reported),
        cmocka_unit_test(one_time_use_twice_rejected),
        cmocka_unit_test(proxy_restriction_twice_rejected),
        cmocka_unit_test(proxy_count_invalid_rejected),
        cmocka_unit_test(proxy_count_signed_accepted),
        cmocka_unit_test(proxy_restriction_comment_accepted),
        cmocka_unit_test(condition_child_unknown_rejected),
        cmocka_unit_test(bearer_without_data_rejected),
        cmocka_unit_test(conditions_without_end_rejected),
        cmocka_unit_test(response_signature_count_rejected),
        cmocka_unit_test(signed_info_faults_rejected),
        cmocka_unit_test(signature_method_without_key_rejected),
        cmocka_unit_test(trust_store_ed25519_rejected),
        cmocka_unit_test(public_pem_faults_rejected),
        cmocka_unit_test(empty_id_rejected),
        cmocka_unit_test(id_not_ncname_rejected),
        cmocka_unit_test(id_starting_with_digit_verifies),
        cmocka_unit_test(id_fifth_edition_names_verify),
        cmocka_unit_test(schema_white_space_collapsed),
        cmocka_unit_test(root_namespace_named),
        cmocka_unit_test(namesake_namespace_named),
        cmocka_unit_test(not_before_fraction_rounded_up),
        cmocka_unit_test(times_outside_range_rejected),
        cmocka_unit_test(signed_times_outside_range),
        cmocka_unit_test(epoch_times_kept),
        cmocka_unit_test(unreadable_content_named),
        cmocka_unit_test(advice_assertions_ignored),
        cmocka_unit_test(evidence_assertions_ignored),
        cmocka_unit_test(nil_attribute_value_absent),
        cmocka_unit_test(nil_not_boolean_rejected),
        cmocka_unit_test(reference_without_id_named),
        cmocka_unit_test(name_id_content_named),
        cmocka_unit_test(text_read_failure_classified),
        cmocka_unit_test(text_content_named),
        cmocka_unit_test(signature_text_content_named),
        cmocka_unit_test(encrypted_assertion_named),
        cmocka_unit_test(failed_response_named),
        cmocka_unit_test(signature_form_checked),
        cmocka_unit_test(signature_objects_allowed),
        cmocka_unit_test(signature_parts_named),
        cmocka_unit_test(issuer_format_checked),
        cmocka_unit_test(response_issuer_format_checked),
        cmocka_unit_test(response_header_checked),
        cmocka_unit_test(response_status_form_checked),
        cmocka_unit_test(authn_statement_form_checked),
        cmocka_unit_test(assertion_form_checked),
        cmocka_unit_test(element_text_rejected),
        cmocka_unit_test(unicode_space_is_text),
        cmocka_unit_test(empty_content_space_rejected),
        cmocka_unit_test(response_text_rejected),
        cmocka_unit_test(signature_text_rejected),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
