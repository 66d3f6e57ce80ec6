/*
 * Proves that the signer's canonical form is exclusive c14n: libxml2 canonicalises the
 * signed document (with the Signature removed, as the enveloped transform does) and the
 * result must equal, byte for byte, what the signer hashed. The SignedInfo canonicalised
 * on its own must equal the bytes given to C_Sign. The documents carry every character
 * that c14n escapes and names in Thai, Chinese and Vietnamese.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/c14n.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "interop_keys.h"
#include "saml_build.h"

static interop_keys keys;

static int setup(void **state)
{
    (void)state;
    xmlInitParser();
    return interop_keys_create(&keys);
}

static int teardown(void **state)
{
    (void)state;
    interop_keys_destroy(&keys);
    xmlCleanupParser();
    return 0;
}

/* Fails with both texts shown, so that a mismatch points at the first differing byte. */
static void assert_same_bytes(const char *what, const char *expected, size_t expected_len,
                              const xmlChar *actual, int actual_len)
{
    size_t i = 0;

    assert_true(actual_len >= 0);
    while (i < expected_len && i < (size_t)actual_len && expected[i] == (char)actual[i])
        i++;
    if (i == expected_len && (size_t)actual_len == expected_len)
        return;
    /* Show 60 bytes on each side of the first difference. */
    size_t from = i > 60 ? i - 60 : 0;
    int expected_shown = (int)((expected_len - from) < 120 ? expected_len - from : 120);
    int actual_shown =
        (int)(((size_t)actual_len - from) < 120 ? (size_t)actual_len - from : 120);

    fail_msg("%s differs at byte %zu\nsigner:  ...%.*s\nlibxml2: ...%.*s", what, i,
             expected_shown, expected + from, actual_shown, (const char *)actual + from);
}

static xmlDocPtr parse(const char *xml, size_t len)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, "signed.xml", NULL, XML_PARSE_NONET);

    assert_non_null(doc);
    return doc;
}

/* Returns the Signature, checking that it is the element right after the Issuer. */
static xmlNodePtr find_signature(xmlDocPtr doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr issuer = xmlFirstElementChild(root);
    xmlNodePtr signature = issuer != NULL ? xmlNextElementSibling(issuer) : NULL;

    assert_string_equal((const char *)root->name, "Assertion");
    assert_non_null(issuer);
    assert_string_equal((const char *)issuer->name, "Issuer");
    assert_non_null(signature);
    assert_string_equal((const char *)signature->name, "Signature");
    assert_string_equal((const char *)signature->ns->href, SAML_NS_DSIG);
    return signature;
}

/* What the reference's transforms produce: enveloped signature, then exc-c14n with the
 * InclusiveNamespaces PrefixList "xs". */
static void check_assertion_bytes(const char *xml, size_t len,
                                  const saml_signed_parts *parts)
{
    xmlChar *prefixes[] = {BAD_CAST "xs", NULL};
    xmlDocPtr doc = parse(xml, len);
    xmlNodePtr signature = find_signature(doc);
    xmlChar *canonical = NULL;
    int canonical_len;

    xmlUnlinkNode(signature);
    xmlFreeNode(signature);
    canonical_len =
        xmlC14NDocDumpMemory(doc, NULL, XML_C14N_EXCLUSIVE_1_0, prefixes, 0, &canonical);
    assert_same_bytes("the canonical Assertion", parts->assertion.data,
                      parts->assertion.len, canonical, canonical_len);
    xmlFree(canonical);
    xmlFreeDoc(doc);
}

/* What a verifier signs over: the SignedInfo node set, canonicalised with exc-c14n. */
static void check_signed_info_bytes(const char *xml, size_t len,
                                    const saml_signed_parts *parts)
{
    xmlDocPtr doc = parse(xml, len);
    xmlXPathContextPtr context = xmlXPathNewContext(doc);
    xmlXPathObjectPtr result = NULL;
    xmlChar *canonical = NULL;
    int canonical_len;

    assert_non_null(context);
    assert_int_equal(xmlXPathRegisterNs(context, BAD_CAST "ds", BAD_CAST SAML_NS_DSIG),
                     0);
    result = xmlXPathEvalExpression(
        BAD_CAST "(//. | //@* | //namespace::*)[ancestor-or-self::ds:SignedInfo]",
        context);
    assert_non_null(result);
    assert_non_null(result->nodesetval);

    canonical_len = xmlC14NDocDumpMemory(doc, result->nodesetval, XML_C14N_EXCLUSIVE_1_0,
                                         NULL, 0, &canonical);
    assert_same_bytes("the canonical SignedInfo", parts->signed_info.data,
                      parts->signed_info.len, canonical, canonical_len);

    xmlFree(canonical);
    xmlXPathFreeObject(result);
    xmlXPathFreeContext(context);
    xmlFreeDoc(doc);
}

static void check_spec(const saml_assertion_spec *spec, p11_key *key,
                       const char *key_name)
{
    saml_signer signer = {.key = key, .key_name = key_name};
    saml_signed_parts parts = {0};
    p11_error err = {0};
    char *xml = NULL;
    size_t len = 0;

    if (saml_sign_parts(spec, &signer, &parts, &err) != 0)
        fail_msg("signing failed: %s (%s)", err.message, p11_rv_name(err.rv));
    xml = saml_signed_parts_join(&parts, &len);
    assert_non_null(xml);

    check_assertion_bytes(xml, len, &parts);
    check_signed_info_bytes(xml, len, &parts);

    free(xml);
    saml_signed_parts_free(&parts);
}

static const saml_assertion_spec BASE = {
    .issuer = "https://idp.example.my",
    .audience = "https://bank.example.th",
    .name_id = "MY-000123",
    .issue_instant = 1798761599,
    .valid_seconds = 300,
};

/* Every character that c14n escapes, in text and in attribute values. */
static void c14n_escaped_characters(void **state)
{
    char *given[] = {"A&B <C> \"D\" 'E' ]]> tab\tline\ncr\rend"};
    char *custom[] = {"&amp; is not decoded twice: &lt;"};
    saml_attribute attributes[] = {
        {"given_name", given, 1},
        {"urn:example:claim:\"quoted\"&<angle>", custom, 1},
    };
    saml_assertion_spec spec = BASE;

    (void)state;
    spec.issuer = "https://idp.example/?a=1&b=<2>&c=\"3\"";
    spec.audience = "rp & co <x> \"q\" 'a'";
    spec.name_id = "id&<>\"'\r\n\tend";
    spec.name_id_format = "urn:example:format:\"q\"&<>'";
    spec.assurance = "urn:example:loa:a&b<c>\"d\"";
    spec.recipient = "https://rp.example/acs?x=\"1\"&y=<2>";
    spec.attributes = attributes;
    spec.attribute_count = 2;

    check_spec(&spec, keys.rsa, "key <&> \"name\"\r");
    check_spec(&spec, keys.ec, NULL);
}

static void c14n_non_ascii_names(void **state)
{
    char *thai[] = {"สมชาย ใจดี"};
    char *chinese[] = {"王小明"};
    char *vietnamese[] = {"Nguyễn Thị Minh Khai"};
    char *place[] = {"Hà Nội"};
    char *address[] = {"99/1 ถนนสุขุมวิท, กรุงเทพฯ 😀"};
    char *nationality[] = {"TH", "VN"};
    char *birth[] = {"1990-02-28"};
    saml_attribute attributes[] = {
        {"given_name", thai, 1},
        {"family_name", chinese, 1},
        {"full_name", vietnamese, 1},
        {"place_of_birth", place, 1},
        {"residential_address", address, 1},
        {"nationality", nationality, 2},
        {"date_of_birth", birth, 1},
    };
    saml_assertion_spec spec = BASE;

    (void)state;
    spec.name_id = "ผู้ใช้-๑๒๓";
    spec.attributes = attributes;
    spec.attribute_count = sizeof(attributes) / sizeof(attributes[0]);

    check_spec(&spec, keys.rsa, NULL);
    check_spec(&spec, keys.ec, "คีย์ลงนาม");
}

static void c14n_without_attributes(void **state)
{
    (void)state;
    check_spec(&BASE, keys.rsa, NULL);
    check_spec(&BASE, keys.ec, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(c14n_escaped_characters),
        cmocka_unit_test(c14n_non_ascii_names),
        cmocka_unit_test(c14n_without_attributes),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
