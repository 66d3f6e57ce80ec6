/*
 * The attack battery. Genuine assertions come from idsvc's own signer with keys in a
 * fresh SoftHSM2 token. Where an attack needs a valid signature over a changed document,
 * the xmlsec1 command line signs it with a file key that the issuer trusts. Each attack
 * asserts the reason of its rejection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "saml_test_util.h"

#define RESPONSE_OPEN                                                                     \
    "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_resp1\" " \
    "Version=\"2.0\" IssueInstant=\"2026-01-01T00:00:00Z\">"
#define RESPONSE_CLOSE "</samlp:Response>"
#define RESPONSE_ISSUER \
    "<saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">" ST_ISSUER "</saml:Issuer>"
#define DS_SIG_OPEN "<ds:Signature"
#define DS_SIG_CLOSE "</ds:Signature>"

static saml_fixture fixture;
static char *genuine;    /* signed by the HSM RSA key for alice@idsvc.test */
static char *genuine_ec; /* signed by the HSM P-256 key */

static int setup(void **state)
{
    (void)state;
    if (st_fixture_create(&fixture) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(genuine);
    free(genuine_ec);
    st_fixture_destroy(&fixture);
    return 0;
}

static const char *signed_doc(void)
{
    if (genuine == NULL)
        genuine = st_build(&fixture, fixture.rsa, "alice@idsvc.test");
    return genuine;
}

/* A forged, unsigned copy of the genuine assertion for mallory, with a new ID. */
static char *forged_doc(const char *id)
{
    char *no_sig = st_cut(signed_doc(), DS_SIG_OPEN, DS_SIG_CLOSE);
    char *renamed = st_replace(no_sig, "alice@idsvc.test", "mallory@idsvc.test");
    char *start = strstr(renamed, " ID=\"_");
    char *forged;
    char old_id[64];

    assert_non_null(start);
    snprintf(old_id, sizeof(old_id), "%.38s", start); /* ` ID="_` and 32 hex digits */
    {
        char new_id[64];

        snprintf(new_id, sizeof(new_id), " ID=\"%s", id);
        forged = st_replace(renamed, old_id, new_id);
    }
    free(no_sig);
    free(renamed);
    return forged;
}

static char *join3(const char *a, const char *b, const char *c)
{
    size_t len = strlen(a) + strlen(b) + strlen(c) + 1;
    char *text = malloc(len);

    assert_non_null(text);
    snprintf(text, len, "%s%s%s", a, b, c);
    return text;
}

/* Returns RESPONSE_OPEN, first, second and RESPONSE_CLOSE joined into one text, which
 * the caller frees. */
static char *in_response(const char *first, const char *second)
{
    size_t len = strlen(RESPONSE_OPEN) + strlen(first) + strlen(second) +
                 strlen(RESPONSE_CLOSE) + 1;
    char *text = malloc(len);

    assert_non_null(text);
    snprintf(text, len, "%s%s%s%s", RESPONSE_OPEN, first, second, RESPONSE_CLOSE);
    return text;
}

static void genuine_assertions_verify(void **state)
{
    saml_assertion *a = NULL;

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, signed_doc(), &a), SAML_OK);
    assert_string_equal(a->name_id, "alice@idsvc.test");
    assert_string_equal(a->issuer, ST_ISSUER);
    saml_assertion_free(&a);

    genuine_ec = st_build(&fixture, fixture.ec, "alice@idsvc.test");
    assert_int_equal(st_verify(&fixture, NULL, genuine_ec, NULL), SAML_OK);
}

static void wrap_forged_before_signed(void **state)
{
    char *forged = forged_doc("_forged1");
    char *doc = in_response(forged, signed_doc());

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_ASSERTION_COUNT);
    free(forged);
    free(doc);
}

static void wrap_forged_after_signed(void **state)
{
    char *forged = forged_doc("_forged2");
    char *doc = in_response(signed_doc(), forged);

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_ASSERTION_COUNT);
    free(forged);
    free(doc);
}

/* The verifier skips an Advice, so the forged Assertion is the one it checks, and it
 * has no Signature of its own. */
static void wrap_signed_inside_forged(void **state)
{
    char *forged = forged_doc("_forged3");
    char *advice = join3("<saml:Advice>", signed_doc(), "</saml:Advice></saml:Assertion>");
    char *doc = st_replace(forged, "</saml:Assertion>", advice);

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_SIGNATURE_MISSING);
    free(forged);
    free(advice);
    free(doc);
}

/* A Signature whose ds prefix is bound to another URI, such as https:// in place of
 * http://, is no XML-DSig Signature. The sentence names the namespace it is in. */
static void signature_namespace_named(void **state)
{
    char *doc =
        st_replace(signed_doc(), "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"",
                   "xmlns:ds=\"https://www.w3.org/2000/09/xmldsig#\"");
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;
    char detail[256];

    (void)state;
    assert_int_equal(saml_verify(fixture.store, &options, doc, strlen(doc), &a, detail,
                                 sizeof(detail)),
                     SAML_ERR_SIGNATURE_MISSING);
    assert_null(a);
    assert_string_equal(detail,
                        "the Assertion carries no Signature of its own; the document has "
                        "<Signature> in the namespace "
                        "\"https://www.w3.org/2000/09/xmldsig#\", not in "
                        "http://www.w3.org/2000/09/xmldsig#");
    free(doc);
}

/* The genuine Signature moves into the forged assertion and the signed one hides in
 * a container, so that its ID still resolves. */
static void wrap_signed_hidden_in(const char *open, const char *close)
{
    char *signature = st_slice(signed_doc(), DS_SIG_OPEN, DS_SIG_CLOSE);
    char *forged = forged_doc("_forged4");
    char *issuer_end = join3("</saml:Issuer>", signature, "");
    char *forged_signed = st_replace(forged, "</saml:Issuer>", issuer_end);
    char *hidden = join3(open, signed_doc(), close);
    char *doc = in_response(hidden, forged_signed);

    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_ASSERTION_COUNT);
    free(signature);
    free(forged);
    free(issuer_end);
    free(forged_signed);
    free(hidden);
    free(doc);
}

static void wrap_signed_in_extensions(void **state)
{
    (void)state;
    wrap_signed_hidden_in("<samlp:Extensions>", "</samlp:Extensions>");
}

static void wrap_signed_in_unknown_element(void **state)
{
    (void)state;
    wrap_signed_hidden_in("<x:wrap xmlns:x=\"urn:example:wrap\">", "</x:wrap>");
}

static void wrap_signed_in_signature_object(void **state)
{
    char *signature = st_slice(signed_doc(), DS_SIG_OPEN, DS_SIG_CLOSE);
    char *object = join3("<ds:Object>", signed_doc(), "</ds:Object></ds:Signature>");
    char *signature_with_object = st_replace(signature, DS_SIG_CLOSE, object);
    char *forged = forged_doc("_forged5");
    char *issuer_end = join3("</saml:Issuer>", signature_with_object, "");
    char *doc = st_replace(forged, "</saml:Issuer>", issuer_end);

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_ASSERTION_COUNT);
    free(signature);
    free(object);
    free(signature_with_object);
    free(forged);
    free(issuer_end);
    free(doc);
}

static void wrap_only_assertion_in_extensions(void **state)
{
    char *hidden = join3("<samlp:Extensions>", signed_doc(), "</samlp:Extensions>");
    char *doc = join3(RESPONSE_OPEN, hidden, RESPONSE_CLOSE);

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_ASSERTION_COUNT);
    free(hidden);
    free(doc);
}

static void wrap_forged_with_same_id(void **state)
{
    const char *start = strstr(signed_doc(), " ID=\"_");
    char id[40];
    char *forged;
    char *doc;

    (void)state;
    assert_non_null(start);
    snprintf(id, sizeof(id), "%.33s", start + 5);
    forged = forged_doc(id);
    doc = in_response(forged, signed_doc());
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_DUPLICATE_ID);
    free(forged);
    free(doc);
}

static void xml_id_duplicating_assertion_id(void **state)
{
    const char *start = strstr(signed_doc(), " ID=\"_");
    char attr[64];
    char *doc;

    (void)state;
    assert_non_null(start);
    /* xml:id is registered by libxml2 itself; it must not shadow the Assertion's ID. */
    snprintf(attr, sizeof(attr), "<samlp:Status xml:id=\"%.33s\"/>", start + 5);
    doc = in_response(attr, signed_doc());
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_DUPLICATE_ID);
    free(doc);
}

static void signature_moved_to_response(void **state)
{
    saml_verify_options options = st_options(&fixture);
    char *signature = st_slice(signed_doc(), DS_SIG_OPEN, DS_SIG_CLOSE);
    char *unsigned_assertion = st_cut(signed_doc(), DS_SIG_OPEN, DS_SIG_CLOSE);
    char *doc = in_response(signature, unsigned_assertion);

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_SIGNATURE_MISSING);
    options.accept_signed_response = true;
    assert_int_equal(st_verify(&fixture, &options, doc, NULL), SAML_ERR_REFERENCE_INVALID);
    free(signature);
    free(unsigned_assertion);
    free(doc);
}

/* A signature template over the Response _resp1, for xmlsec1 to fill. */
#define RESPONSE_SIGNATURE_TEMPLATE                                                       \
    "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>"        \
    "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"  \
    "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>" \
    "<ds:Reference URI=\"#_resp1\"><ds:Transforms>"                                      \
    "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>" \
    "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"              \
    "</ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>" \
    "<ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>"                  \
    "<ds:SignatureValue></ds:SignatureValue></ds:Signature>"

/* Returns the genuine Assertion inside a Response that key_pem signs too. */
static char *double_signed(const char *key_pem)
{
    char *inner = join3(RESPONSE_ISSUER RESPONSE_SIGNATURE_TEMPLATE,
                        "<samlp:Status><samlp:StatusCode "
                        "Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>",
                        signed_doc());
    char *unsigned_response = join3(RESPONSE_OPEN, inner, RESPONSE_CLOSE);
    char *doc = st_xmlsec_sign(&fixture, unsigned_response, key_pem);

    free(inner);
    free(unsigned_response);
    return doc;
}

/* A Response signed around a signed Assertion: both signatures must verify. A Response
 * changed after signing, or signed by an untrusted key, fails closed, though the
 * Assertion inside still verifies. */
static void response_signature_checked_too(void **state)
{
    char *doc = double_signed(fixture.file_rsa);
    char *changed = st_replace(doc, "IssueInstant=\"2026-01-01T00:00:00Z\">",
                               "IssueInstant=\"2026-01-01T00:00:01Z\">");
    char *untrusted = double_signed(fixture.file_attacker);
    char detail[256];
    saml_assertion *a = NULL;
    saml_verify_options options = st_options(&fixture);

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_OK);
    assert_int_equal(saml_verify(fixture.store, &options, changed, strlen(changed), &a,
                                 detail, sizeof(detail)),
                     SAML_ERR_DIGEST_MISMATCH);
    assert_non_null(strstr(detail, "the Response's own Signature: "));
    assert_null(a);
    assert_int_equal(st_verify(&fixture, NULL, untrusted, NULL), SAML_ERR_SIGNATURE_INVALID);
    free(doc);
    free(changed);
    free(untrusted);
}

#define SUCCESS_STATUS                                                                 \
    "<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>" \
    "</samlp:Status>"

/* Wraps the genuine signed Assertion in a Response with issuer, then a Signature
 * template when sign is true, then head before the Assertion and tail after it. Signs it
 * with the trusted file key when sign is true. */
static char *response_around(const char *issuer, const char *head, const char *tail,
                             int sign)
{
    char *assertion_and_tail = join3(signed_doc(), tail, RESPONSE_CLOSE);
    char *signature_and_head = join3(issuer, sign ? RESPONSE_SIGNATURE_TEMPLATE : "", head);
    char *doc = join3(RESPONSE_OPEN, signature_and_head, assertion_and_tail);
    char *signed_xml = sign ? st_xmlsec_sign(&fixture, doc, fixture.file_rsa) : NULL;

    free(assertion_and_tail);
    free(signature_and_head);
    if (!sign)
        return doc;
    free(doc);
    return signed_xml;
}

/* A Response's children follow SAML 2.0 Core's schema: Issuer?, Signature?, Extensions?,
 * Status, then (Assertion | EncryptedAssertion)*. Any other element, or one out of
 * order, is not_saml naming the element, whether or not the Response is signed. */
static void response_content_model_checked(void **state)
{
    static const struct {
        const char *head;
        const char *tail;
        const char *named;
    } cases[] = {
        {SUCCESS_STATUS,
         "<saml:AttributeStatement xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">"
         "<saml:Attribute Name=\"urn:oid:2.5.4.42\"><saml:AttributeValue>Mallory"
         "</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>",
         "<AttributeStatement> (urn:oasis:names:tc:SAML:2.0:assertion)"},
        {SUCCESS_STATUS,
         "<saml:Subject xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>",
         "<Subject> (urn:oasis:names:tc:SAML:2.0:assertion)"},
        {SUCCESS_STATUS, "<x:extra xmlns:x=\"urn:example:x\"/>", "<extra> (urn:example:x)"},
        {SUCCESS_STATUS "<saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">"
         ST_ISSUER "</saml:Issuer>", "", "<Issuer> (urn:oasis:names:tc:SAML:2.0:assertion)"},
        {"<samlp:Extensions/>" SUCCESS_STATUS "<samlp:Extensions/>", "",
         "<Extensions> (urn:oasis:names:tc:SAML:2.0:protocol)"},
        {SUCCESS_STATUS SUCCESS_STATUS, "", "<Status> (urn:oasis:names:tc:SAML:2.0:protocol)"},
    };
    char detail[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int sign = 0; sign <= 1; sign++) {
            char *doc = response_around("", cases[i].head, cases[i].tail, sign);
            saml_verify_options options = st_options(&fixture);
            saml_assertion *a = NULL;

            assert_int_equal(saml_verify(fixture.store, &options, doc, strlen(doc), &a,
                                         detail, sizeof(detail)),
                             SAML_ERR_NOT_SAML);
            assert_null(a);
            if (strstr(detail, cases[i].named) == NULL ||
                strstr(detail, "out of place or once too often") == NULL)
                fail_msg("case %zu, signed %d: the detail does not name %s: %s", i, sign,
                         cases[i].named, detail);
            free(doc);
        }
    }
}

/* The optional children in their schema order verify, signed or not. An Assertion
 * before the Status is out of order, and a Response without Status names the Status. */
static void response_content_model_order(void **state)
{
    const char *issuer = "<saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">"
                         ST_ISSUER "</saml:Issuer>";
    const char *head = "<samlp:Extensions><x:e xmlns:x=\"urn:example:x\"/></samlp:Extensions>"
        SUCCESS_STATUS;
    char *assertion_first = join3(RESPONSE_OPEN, signed_doc(), SUCCESS_STATUS RESPONSE_CLOSE);
    char *no_status = response_around("", "", "", 0);
    char detail[512];
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;

    (void)state;
    for (int sign = 0; sign <= 1; sign++) {
        char *doc = response_around(issuer, head, "", sign);

        if (st_verify(&fixture, NULL, doc, NULL) != SAML_OK)
            fail_msg("the Response in schema order, signed %d, did not verify", sign);
        free(doc);
    }

    assert_int_equal(saml_verify(fixture.store, &options, assertion_first,
                                 strlen(assertion_first), &a, detail, sizeof(detail)),
                     SAML_ERR_NOT_SAML);
    assert_non_null(strstr(detail, "the Response has the element <Assertion>"));
    assert_int_equal(saml_verify(fixture.store, &options, no_status, strlen(no_status), &a,
                                 detail, sizeof(detail)),
                     SAML_ERR_NOT_SAML);
    assert_string_equal(detail, "the Response has no Status; SAML 2.0 Core requires one");
    assert_null(a);

    free(assertion_first);
    free(no_status);
}

/* A signed Response must carry an Issuer (saml-profiles-2.0-os, section 4.1.4.2),
 * whether its Signature is the one verified or an envelope around a signed Assertion. */
static void signed_response_issuer_required(void **state)
{
    char *around_signed = response_around("", SUCCESS_STATUS, "", 1);
    char *with_issuer = response_around(RESPONSE_ISSUER, SUCCESS_STATUS, "", 1);
    char detail[256];
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, with_issuer, NULL), SAML_OK);
    assert_int_equal(saml_verify(fixture.store, &options, around_signed, strlen(around_signed),
                                 &a, detail, sizeof(detail)),
                     SAML_ERR_ISSUER_MISSING);
    assert_null(a);
    assert_non_null(strstr(detail, "the signed Response has no Issuer"));
    free(around_signed);
    free(with_issuer);
}

/* The same when the Response's Signature is the only one. */
static void signed_response_only_issuer_required(void **state)
{
    char *unsigned_assertion = st_cut(signed_doc(), DS_SIG_OPEN, DS_SIG_CLOSE);
    char *tail = join3(SUCCESS_STATUS, unsigned_assertion, RESPONSE_CLOSE);
    char *bare = join3(RESPONSE_OPEN, RESPONSE_SIGNATURE_TEMPLATE, tail);
    char *with = join3(RESPONSE_OPEN, RESPONSE_ISSUER RESPONSE_SIGNATURE_TEMPLATE, tail);
    char *signed_bare = st_xmlsec_sign(&fixture, bare, fixture.file_rsa);
    char *signed_with = st_xmlsec_sign(&fixture, with, fixture.file_rsa);
    saml_verify_options options = st_options(&fixture);
    char detail[256];
    saml_assertion *a = NULL;

    (void)state;
    options.accept_signed_response = true;
    assert_int_equal(st_verify(&fixture, &options, signed_with, NULL), SAML_OK);
    assert_int_equal(saml_verify(fixture.store, &options, signed_bare, strlen(signed_bare), &a,
                                 detail, sizeof(detail)),
                     SAML_ERR_ISSUER_MISSING);
    assert_null(a);
    assert_non_null(strstr(detail, "the signed Response has no Issuer"));
    free(unsigned_assertion);
    free(tail);
    free(bare);
    free(with);
    free(signed_bare);
    free(signed_with);
}

/* Wraps the genuine signed Assertion in an unsigned Response whose children before the
 * Status are issuers, such as one or two Issuer elements or none. */
static char *unsigned_response_with(const char *issuers)
{
    char *status_and_assertion = join3("<samlp:Status><samlp:StatusCode "
                                       "Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>"
                                       "</samlp:Status>",
                                       signed_doc(), RESPONSE_CLOSE);
    char *doc = join3(RESPONSE_OPEN, issuers, status_and_assertion);

    free(status_and_assertion);
    return doc;
}

/* An unsigned Response may omit its Issuer, but one that it carries must name the
 * Assertion's issuer, as the Web Browser SSO profile requires (saml-profiles-2.0-os,
 * section 4.1.4.2). */
static void unsigned_response_issuer_checked(void **state)
{
    const char *start = strstr(signed_doc(), "<saml:Issuer>");
    char issuer[256];
    char same[400];
    char *with_same;
    char *with_other;
    char *with_none;
    char *with_two;
    char two[800];
    char detail[256];
    saml_assertion *a = NULL;
    saml_verify_options options = st_options(&fixture);

    (void)state;
    assert_non_null(start);
    assert_int_equal(sscanf(start + strlen("<saml:Issuer>"), "%255[^<]", issuer), 1);
    snprintf(same, sizeof(same),
             "<saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">%s"
             "</saml:Issuer>",
             issuer);
    snprintf(two, sizeof(two), "%s%s", same, same);
    with_same = unsigned_response_with(same);
    with_other = unsigned_response_with(
        "<saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">"
        "https://other.idsvc.test</saml:Issuer>");
    with_none = unsigned_response_with("");
    with_two = unsigned_response_with(two);

    assert_int_equal(st_verify(&fixture, NULL, with_same, NULL), SAML_OK);
    assert_int_equal(st_verify(&fixture, NULL, with_none, NULL), SAML_OK);
    assert_int_equal(saml_verify(fixture.store, &options, with_other, strlen(with_other), &a,
                                 detail, sizeof(detail)),
                     SAML_ERR_ISSUER_UNTRUSTED);
    assert_null(a);
    if (strstr(detail, "the Response's Issuer \"https://other.idsvc.test\" differs") == NULL)
        fail_msg("the detail does not name the Response's Issuer: %s", detail);
    assert_int_equal(st_verify(&fixture, NULL, with_two, NULL), SAML_ERR_NOT_SAML);
    free(with_same);
    free(with_other);
    free(with_none);
    free(with_two);
}

/* Signs the genuine Assertion inside a Response whose template is first edited from
 * `from` to `to`, with the trusted RSA key. */
static char *double_signed_edited(const char *from, const char *to)
{
    char *edited = st_replace(RESPONSE_SIGNATURE_TEMPLATE, from, to);
    char *inner = join3(edited,
                        "<samlp:Status><samlp:StatusCode "
                        "Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>",
                        signed_doc());
    char *unsigned_response = join3(RESPONSE_OPEN, inner, RESPONSE_CLOSE);
    char *doc = st_xmlsec_sign(&fixture, unsigned_response, fixture.file_rsa);

    free(edited);
    free(inner);
    free(unsigned_response);
    return doc;
}

/* The Response's own Signature meets the rules of the Assertion's: SHA-1 only for a key
 * that allows it, the Assertion's Issuer, and one Signature. */
static void response_signature_rules(void **state)
{
    char *sha1 = NULL;
    char *other_issuer = double_signed_edited(
        "<ds:Signature ", "<saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">"
                          "https://other.idsvc.test</saml:Issuer><ds:Signature ");
    char *doc = double_signed(fixture.file_rsa);
    char *signature = st_slice(doc, DS_SIG_OPEN, DS_SIG_CLOSE);
    char *copy_first = join3(signature, "<samlp:Status>", "");
    char *two_signatures = st_replace(doc, "<samlp:Status>", copy_first);

    (void)state;
    /* xmlsec1 --sign fails on a SHA-1 template here, so the Response's DigestMethod, the
     * first in the document, is edited after signing. The algorithm check comes before
     * the digest check. */
    sha1 = st_replace(doc, "http://www.w3.org/2001/04/xmlenc#sha256",
                      "http://www.w3.org/2000/09/xmldsig#sha1");
    assert_int_equal(st_verify(&fixture, NULL, sha1, NULL), SAML_ERR_SHA1_FORBIDDEN);
    assert_int_equal(st_verify(&fixture, NULL, other_issuer, NULL),
                     SAML_ERR_ISSUER_UNTRUSTED);
    assert_int_equal(st_verify(&fixture, NULL, two_signatures, NULL),
                     SAML_ERR_SIGNATURE_COUNT);
    free(sha1);
    free(other_issuer);
    free(doc);
    free(signature);
    free(copy_first);
    free(two_signatures);
}

static void signature_moved_into_subject(void **state)
{
    char *signature = st_slice(signed_doc(), DS_SIG_OPEN, DS_SIG_CLOSE);
    char *unsigned_assertion = st_cut(signed_doc(), DS_SIG_OPEN, DS_SIG_CLOSE);
    char *moved = join3("<saml:Subject>", signature, "");
    char *doc = st_replace(unsigned_assertion, "<saml:Subject>", moved);

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_SIGNATURE_MISSING);
    free(signature);
    free(unsigned_assertion);
    free(moved);
    free(doc);
}

static void two_signatures_rejected(void **state)
{
    char *signature = st_slice(signed_doc(), DS_SIG_OPEN, DS_SIG_CLOSE);
    char *twice = join3(signature, signature, "");
    char *doc = st_replace(signed_doc(), signature, twice);

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_SIGNATURE_COUNT);
    free(signature);
    free(twice);
    free(doc);
}

/* A valid signature over the Response, placed in the Assertion: it does not sign the
 * element that encloses it. */
static void reference_to_other_id(void **state)
{
    const st_template spec = { .id = "_ref1", .reference_uri = "#_resp1" };
    char *assertion = st_template_xml(&fixture, &spec);
    char *unsigned_doc = join3(RESPONSE_OPEN, assertion, RESPONSE_CLOSE);
    char *doc = st_xmlsec_sign(&fixture, unsigned_doc, fixture.file_rsa);

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_REFERENCE_INVALID);
    free(assertion);
    free(unsigned_doc);
    free(doc);
}

static void reference_to_external_uri(void **state)
{
    const char *start = strstr(signed_doc(), "<ds:Reference URI=\"#");
    char old_uri[80];
    char *doc;

    (void)state;
    assert_non_null(start);
    snprintf(old_uri, sizeof(old_uri), "%.53s", start);
    doc = st_replace(signed_doc(), old_uri, "<ds:Reference URI=\"http://127.0.0.1:9/assertion");
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_REFERENCE_INVALID);
    free(doc);
}

static void comment_inside_name_id_after_signing(void **state)
{
    saml_assertion *a = NULL;
    char *doc = st_replace(signed_doc(), "alice@idsvc.test", "alice@idsvc<!-- x -->.test");

    (void)state;
    /* Exclusive c14n drops comments, so the signature still verifies; the whole value
     * must be read, not the text before the comment. */
    assert_int_equal(st_verify(&fixture, NULL, doc, &a), SAML_OK);
    assert_string_equal(a->name_id, "alice@idsvc.test");
    saml_assertion_free(&a);
    free(doc);
}

static void comment_inside_name_id_when_signed(void **state)
{
    const st_template spec = { .id = "_cmt1", .name_id = "admin@idsvc.test<!---->.evil.test" };
    char *doc = st_template_signed(&fixture, &spec, fixture.file_rsa);
    saml_assertion *a = NULL;

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, &a), SAML_OK);
    assert_string_equal(a->name_id, "admin@idsvc.test.evil.test");
    saml_assertion_free(&a);
    free(doc);
}

static void attacker_key_in_key_info(void **state)
{
    const st_template spec = {
        .id = "_atk1",
        .name_id = "mallory@idsvc.test",
        .key_info = "<ds:KeyInfo><ds:KeyValue/></ds:KeyInfo>",
    };
    char *doc = st_template_signed(&fixture, &spec, fixture.file_attacker);

    (void)state;
    assert_non_null(strstr(doc, "<ds:Modulus>")); /* xmlsec1 wrote the attacker's key */
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_SIGNATURE_INVALID);
    free(doc);
}

static void xpath_transform_rejected(void **state)
{
    const st_template spec = {
        .id = "_xp1",
        .extra_transform = "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-"
                           "19991116\"><ds:XPath>not(ancestor-or-self::saml:NameID)</ds:XPath>"
                           "</ds:Transform>",
    };
    char *doc = st_template_signed(&fixture, &spec, fixture.file_rsa);

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_TRANSFORM_FORBIDDEN);
    free(doc);
}

static void inclusive_c14n_rejected(void **state)
{
    const st_template spec = {
        .id = "_c14n1",
        .c14n_method = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    };
    char *doc = st_template_signed(&fixture, &spec, fixture.file_rsa);

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_ALGORITHM_FORBIDDEN);
    free(doc);
}

/* The SHA-384 and SHA-512 signature methods verify with a key of their type, and a
 * changed byte still fails on the digest. */
static void stronger_signature_methods_verify(void **state)
{
    static const struct {
        const char *method;
        int ec;
    } cases[] = {
        {"http://www.w3.org/2001/04/xmldsig-more#rsa-sha384", 0},
        {"http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", 0},
        {"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384", 1},
        {"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512", 1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const st_template spec = {.id = "_method1", .signature_method = cases[i].method};
        char *doc = st_template_signed(&fixture, &spec,
                                       cases[i].ec ? fixture.file_ec : fixture.file_rsa);
        char *changed = st_replace(doc, "alice@idsvc.test", "mallory@idsvc.test");

        if (st_verify(&fixture, NULL, doc, NULL) != SAML_OK)
            fail_msg("%s did not verify", cases[i].method);
        assert_int_equal(st_verify(&fixture, NULL, changed, NULL), SAML_ERR_DIGEST_MISMATCH);
        free(doc);
        free(changed);
    }
}

/* Methods outside the list are rejected before any key is tried: MD5, RSA-PSS, which
 * libxmlsec1 1.2.37 cannot verify, and HMAC, whose key would be the issuer's secret. */
static void signature_method_outside_profile(void **state)
{
    static const char *const methods[] = {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
        "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
        "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha224",
    };
    const st_template spec = {.id = "_method2"};
    char *doc = st_template_signed(&fixture, &spec, fixture.file_rsa);

    (void)state;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        char *edited =
            st_replace(doc, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", methods[i]);
        saml_verify_options options = st_options(&fixture);
        saml_assertion *assertion = NULL;
        char detail[512] = "";

        assert_int_equal(saml_verify(fixture.store, &options, edited, strlen(edited),
                                     &assertion, detail, sizeof(detail)),
                         SAML_ERR_ALGORITHM_FORBIDDEN);
        assert_null(assertion);
        if (strstr(detail, methods[i]) == NULL)
            fail_msg("the detail does not name %s: %s", methods[i], detail);
        free(edited);
    }
    free(doc);
}

/* An Algorithm URI with white space around it names no algorithm, because xmlsec
 * compares URIs exactly. The rejection stays, and the sentence names the white space. */
static void algorithm_white_space_named(void **state)
{
    static const struct {
        const char *from;
        const char *to;
        saml_status status;
        const char *element;
    } cases[] = {
        {"<ds:SignatureMethod Algorithm=\"http", "<ds:SignatureMethod Algorithm=\" http",
         SAML_ERR_ALGORITHM_FORBIDDEN, "the SignatureMethod Algorithm \" http"},
        {"xmlenc#sha256\"/>", "xmlenc#sha256 \"/>", SAML_ERR_ALGORITHM_FORBIDDEN,
         "the DigestMethod Algorithm \"http"},
        {"<ds:CanonicalizationMethod Algorithm=\"http",
         "<ds:CanonicalizationMethod Algorithm=\"\thttp", SAML_ERR_ALGORITHM_FORBIDDEN,
         "the CanonicalizationMethod Algorithm \""},
        {"#enveloped-signature\"", "#enveloped-signature  \"", SAML_ERR_TRANSFORM_FORBIDDEN,
         "the Transform Algorithm \"http"},
    };
    const st_template spec = {.id = "_space1"};
    char *doc = st_template_signed(&fixture, &spec, fixture.file_rsa);

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *edited = st_replace(doc, cases[i].from, cases[i].to);
        saml_verify_options options = st_options(&fixture);
        saml_assertion *assertion = NULL;
        char detail[512] = "";

        assert_non_null(strstr(edited, cases[i].to));
        assert_int_equal(saml_verify(fixture.store, &options, edited, strlen(edited),
                                     &assertion, detail, sizeof(detail)),
                         cases[i].status);
        assert_null(assertion);
        if (strstr(detail, cases[i].element) == NULL ||
            strstr(detail, "has leading or trailing white space") == NULL)
            fail_msg("case %zu: the detail does not name the white space: %s", i, detail);
        free(edited);
    }
    free(doc);
}

static void sha1_rejected_unless_allowed(void **state)
{
    const st_template digest = { .id = "_sha1d", .digest_method =
                                                     "http://www.w3.org/2000/09/xmldsig#sha1" };
    const st_template method = { .id = "_sha1s", .signature_method =
                                                     "http://www.w3.org/2000/09/xmldsig#rsa-sha1" };
    char *doc_digest = st_template_signed(&fixture, &digest, fixture.file_rsa);
    char *doc_method = st_template_signed(&fixture, &method, fixture.file_rsa);
    saml_trust_store *sha1_store = saml_trust_store_new();
    char pub[PATH_MAX + 8];
    char error[256];
    char detail[256];
    EVP_PKEY *key;
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc_digest, NULL), SAML_ERR_SHA1_FORBIDDEN);
    assert_int_equal(st_verify(&fixture, NULL, doc_method, NULL), SAML_ERR_SHA1_FORBIDDEN);

    /* The same documents verify for an issuer whose key is marked for SHA-1. */
    snprintf(pub, sizeof(pub), "%s.pub", fixture.file_rsa);
    key = saml_load_public_pem(pub, error, sizeof(error));
    assert_non_null(key);
    assert_int_equal(saml_trust_store_add(sha1_store, ST_ISSUER, key, SAML_TRUST_ALLOW_SHA1), 0);
    EVP_PKEY_free(key);
    assert_int_equal(saml_verify(sha1_store, &options, doc_digest, strlen(doc_digest), &a,
                                 detail, sizeof(detail)),
                     SAML_OK);
    saml_assertion_free(&a);
    assert_int_equal(saml_verify(sha1_store, &options, doc_method, strlen(doc_method), &a,
                                 detail, sizeof(detail)),
                     SAML_OK);
    saml_assertion_free(&a);

    saml_trust_store_free(&sha1_store);
    free(doc_digest);
    free(doc_method);
}

/* The sha1_forbidden detail names the part that is SHA-1, not the other one. */
static void sha1_detail_names_part(void **state)
{
    const st_template digest = { .id = "_sha1dd", .digest_method =
                                                      "http://www.w3.org/2000/09/xmldsig#sha1" };
    const st_template method = { .id = "_sha1sd", .signature_method =
                                                      "http://www.w3.org/2000/09/xmldsig#rsa-sha1" };
    char *doc_digest = st_template_signed(&fixture, &digest, fixture.file_rsa);
    char *doc_method = st_template_signed(&fixture, &method, fixture.file_rsa);
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;
    char detail[512];

    (void)state;
    assert_int_equal(saml_verify(fixture.store, &options, doc_digest, strlen(doc_digest), &a,
                                 detail, sizeof(detail)),
                     SAML_ERR_SHA1_FORBIDDEN);
    print_message("    digest: %s\n", detail);
    assert_non_null(strstr(detail, "DigestMethod http://www.w3.org/2000/09/xmldsig#sha1"));
    assert_null(strstr(detail, "rsa-sha256"));

    assert_int_equal(saml_verify(fixture.store, &options, doc_method, strlen(doc_method), &a,
                                 detail, sizeof(detail)),
                     SAML_ERR_SHA1_FORBIDDEN);
    print_message("    method: %s\n", detail);
    assert_non_null(
        strstr(detail, "SignatureMethod http://www.w3.org/2000/09/xmldsig#rsa-sha1"));
    assert_null(strstr(detail, "DigestMethod"));

    free(doc_digest);
    free(doc_method);
}

static void small_rsa_key_rejected(void **state)
{
    const st_template spec = { .id = "_small1" };
    char *doc = st_template_signed(&fixture, &spec, fixture.file_rsa1024);
    saml_trust_store *store = saml_trust_store_new();
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;
    char pub[PATH_MAX + 8];
    char error[256];
    char detail[256];
    EVP_PKEY *key;

    (void)state;
    snprintf(pub, sizeof(pub), "%s.pub", fixture.file_rsa1024);
    key = saml_load_public_pem(pub, error, sizeof(error));
    assert_non_null(key);
    assert_int_equal(saml_trust_store_add(store, ST_ISSUER, key, 0), 0);
    EVP_PKEY_free(key);

    assert_int_equal(saml_verify(store, &options, doc, strlen(doc), &a, detail, sizeof(detail)),
                     SAML_ERR_KEY_TOO_SMALL);
    options.min_rsa_bits = 1024;
    assert_int_equal(saml_verify(store, &options, doc, strlen(doc), &a, detail, sizeof(detail)),
                     SAML_OK);
    saml_assertion_free(&a);
    saml_trust_store_free(&store);
    free(doc);
}

/* A signature by an EC key on a curve below 256 bits, which OpenSSL 3 loads, is rejected
 * as key_too_small. */
static void small_ec_key_rejected(void **state)
{
    static const char *const curves[] = {"secp112r1", "prime192v1", "secp224r1"};
    const st_template spec = {
        .id = "_smallec",
        .signature_method = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    };
    char *tmpl = st_template_xml(&fixture, &spec);

    (void)state;
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        saml_trust_store *store = saml_trust_store_new();
        saml_verify_options options = st_options(&fixture);
        saml_assertion *a = NULL;
        char key_path[PATH_MAX + 32];
        char command[4 * sizeof(key_path)];
        char error[256];
        char detail[256] = "";
        EVP_PKEY *key;
        char *doc;

        snprintf(key_path, sizeof(key_path), "%s/%s.pem", fixture.dir, curves[i]);
        snprintf(command, sizeof(command),
                 "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:%s -pkeyopt "
                 "ec_param_enc:named_curve -out %s 2>/dev/null && openssl pkey -in %s "
                 "-pubout -out %s.pub 2>/dev/null",
                 curves[i], key_path, key_path, key_path);
        assert_int_equal(test_run(command), 0);
        doc = st_xmlsec_sign(&fixture, tmpl, key_path);
        strcat(key_path, ".pub");
        key = saml_load_public_pem(key_path, error, sizeof(error));
        assert_non_null(key);
        assert_int_equal(saml_trust_store_add(store, ST_ISSUER, key, 0), 0);
        EVP_PKEY_free(key);

        assert_int_equal(saml_verify(store, &options, doc, strlen(doc), &a, detail,
                                     sizeof(detail)),
                         SAML_ERR_KEY_TOO_SMALL);
        assert_null(a);
        if (strstr(detail, "trusted EC keys are on curves of fewer than 256 bits") == NULL)
            fail_msg("%s: %s", curves[i], detail);
        saml_trust_store_free(&store);
        free(doc);
    }
    free(tmpl);
}

/* Writes first and then second to path, failing the test on error. */
static void write_texts(const char *path, const char *first, const char *second)
{
    FILE *file = fopen(path, "w");

    assert_non_null(file);
    assert_true(fputs(first, file) >= 0);
    assert_true(fputs(second, file) >= 0);
    assert_int_equal(fclose(file), 0);
}

/* Writes the PKCS#1 RSA PUBLIC KEY form of the private key file key_pem to out. */
static void write_pkcs1_public(const char *key_pem, char *out, size_t out_size)
{
    char command[3 * PATH_MAX + 128];

    snprintf(out, out_size, "%s.rsapub", key_pem);
    snprintf(command, sizeof(command),
             "openssl rsa -in %s -RSAPublicKey_out -out %s 2>/dev/null", key_pem, out);
    assert_int_equal(test_run(command), 0);
}

/* idsvc-admin saml verify trusts a PKCS#1 RSA PUBLIC KEY file as it trusts the same key
 * in SubjectPublicKeyInfo form, and keeps the RSA minimum of 2048 bits for it. */
static void pkcs1_trust_file_accepted(void **state)
{
    const st_template spec = {.id = "_pkcs1"};
    char *tmpl = st_template_xml(&fixture, &spec);
    char *doc = st_xmlsec_sign(&fixture, tmpl, fixture.file_rsa);
    char *small_doc = st_xmlsec_sign(&fixture, tmpl, fixture.file_rsa1024);
    char pkcs1[PATH_MAX + 16];
    char small_pkcs1[PATH_MAX + 16];
    char spki[PATH_MAX + 16];
    char doc_path[PATH_MAX + 16];
    char args[4 * PATH_MAX];
    char line[512];
    char error[256];
    EVP_PKEY *from_pkcs1;
    EVP_PKEY *from_spki;
    FILE *file;

    (void)state;
    write_pkcs1_public(fixture.file_rsa, pkcs1, sizeof(pkcs1));
    write_pkcs1_public(fixture.file_rsa1024, small_pkcs1, sizeof(small_pkcs1));
    snprintf(spki, sizeof(spki), "%s.pub", fixture.file_rsa);
    from_pkcs1 = saml_load_public_pem(pkcs1, error, sizeof(error));
    from_spki = saml_load_public_pem(spki, error, sizeof(error));
    assert_non_null(from_pkcs1);
    assert_non_null(from_spki);
    assert_int_equal(EVP_PKEY_eq(from_pkcs1, from_spki), 1);
    EVP_PKEY_free(from_pkcs1);
    EVP_PKEY_free(from_spki);

    snprintf(doc_path, sizeof(doc_path), "%s/pkcs1.xml", fixture.dir);
    file = fopen(doc_path, "w");
    assert_non_null(file);
    assert_true(fputs(doc, file) >= 0);
    assert_int_equal(fclose(file), 0);
    snprintf(args, sizeof(args), "--trust %s --at 2026-01-01T00:00:00Z %s", pkcs1, doc_path);
    assert_int_equal(st_run_cli(args, line, sizeof(line)), 0);

    file = fopen(doc_path, "w");
    assert_non_null(file);
    assert_true(fputs(small_doc, file) >= 0);
    assert_int_equal(fclose(file), 0);
    snprintf(args, sizeof(args), "--trust %s --at 2026-01-01T00:00:00Z %s", small_pkcs1,
             doc_path);
    assert_int_equal(st_run_cli(args, line, sizeof(line)), 1);
    assert_non_null(strstr(line, "rejected: key_too_small: "));

    free(tmpl);
    free(doc);
    free(small_doc);
}

/* A trust file whose RSA PUBLIC KEY block does not hold a valid RSAPublicKey is a usage
 * error, exit status 2, and the sentence names the file, the line and the block. */
static void pkcs1_trust_file_invalid_named(void **state)
{
    char pkcs1[PATH_MAX + 16];
    char broken[PATH_MAX + 32];
    char args[3 * PATH_MAX];
    char expected[2 * PATH_MAX];
    char line[PATH_MAX + 256];
    char *text;
    char *cut;
    FILE *file;

    (void)state;
    write_pkcs1_public(fixture.file_rsa, pkcs1, sizeof(pkcs1));
    text = test_read_file(pkcs1, NULL);
    assert_non_null(text);
    /* Keep the first line of base64 only: a DER body cut short. */
    cut = strchr(strchr(text, '\n') + 1, '\n') + 1;
    snprintf(broken, sizeof(broken), "%s.cut", pkcs1);
    file = fopen(broken, "w");
    assert_non_null(file);
    assert_true(fprintf(file, "%.*s-----END RSA PUBLIC KEY-----\n", (int)(cut - text), text) >
                0);
    assert_int_equal(fclose(file), 0);

    snprintf(args, sizeof(args), "--trust %s %s", broken, broken);
    assert_int_equal(st_run_cli(args, line, sizeof(line)), 2);
    snprintf(expected, sizeof(expected),
             "idsvc-admin saml verify: %s: line 1: the RSA PUBLIC KEY block (block 1) is not "
             "valid",
             broken);
    assert_string_equal(line, expected);
    free(text);
}

/* The tool reads a --trust file as the node does: every block is trusted, so a key in
 * the second block verifies, and text outside the blocks rejects the whole file. */
static void trust_file_read_whole(void **state)
{
    const st_template spec = {.id = "_whole"};
    char *doc = st_template_signed(&fixture, &spec, fixture.file_rsa);
    char path[PATH_MAX + 16];
    char both[PATH_MAX + 32];
    char noisy[PATH_MAX + 32];
    char doc_path[PATH_MAX + 32];
    char args[4 * PATH_MAX];
    char expected[2 * PATH_MAX];
    char line[PATH_MAX + 256];
    char *rsa;
    char *ec;

    (void)state;
    snprintf(path, sizeof(path), "%s.pub", fixture.file_rsa);
    rsa = test_read_file(path, NULL);
    snprintf(path, sizeof(path), "%s.pub", fixture.file_ec);
    ec = test_read_file(path, NULL);
    assert_non_null(rsa);
    assert_non_null(ec);
    snprintf(both, sizeof(both), "%s/both.pem", fixture.dir);
    snprintf(noisy, sizeof(noisy), "%s/noisy.pem", fixture.dir);
    snprintf(doc_path, sizeof(doc_path), "%s/whole.xml", fixture.dir);
    write_texts(both, ec, rsa);
    write_texts(noisy, rsa, "not a block\n");
    write_texts(doc_path, doc, "");

    snprintf(args, sizeof(args), "--trust %s --at 2026-01-01T00:00:00Z %s", both, doc_path);
    assert_int_equal(st_run_cli(args, line, sizeof(line)), 0);
    snprintf(args, sizeof(args), "--trust %s --at 2026-01-01T00:00:00Z %s", noisy, doc_path);
    assert_int_equal(st_run_cli(args, line, sizeof(line)), 2);
    snprintf(expected, sizeof(expected), "idsvc-admin saml verify: %s: line", noisy);
    if (strncmp(line, expected, strlen(expected)) != 0 || strstr(line, "outside") == NULL)
        fail_msg("the sentence does not name the stray text: %s", line);
    free(rsa);
    free(ec);
    free(doc);
}

/* A trust file whose second key is Ed25519, which cannot verify a SAML signature, is a
 * usage error, exit status 2, and the sentence names the file, the key and its type. */
static void trust_file_other_key_named(void **state)
{
    EVP_PKEY *ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    char path[PATH_MAX + 16];
    char mixed[PATH_MAX + 32];
    char args[3 * PATH_MAX];
    char expected[2 * PATH_MAX];
    char line[PATH_MAX + 256];
    char *rsa;
    FILE *file;

    (void)state;
    assert_non_null(ed25519);
    snprintf(path, sizeof(path), "%s.pub", fixture.file_rsa);
    rsa = test_read_file(path, NULL);
    assert_non_null(rsa);
    snprintf(mixed, sizeof(mixed), "%s/rsa-and-ed25519.pem", fixture.dir);
    file = fopen(mixed, "w");
    assert_non_null(file);
    assert_true(fputs(rsa, file) >= 0);
    assert_int_equal(PEM_write_PUBKEY(file, ed25519), 1);
    assert_int_equal(fclose(file), 0);

    snprintf(args, sizeof(args), "--trust %s %s", mixed, mixed);
    assert_int_equal(st_run_cli(args, line, sizeof(line)), 2);
    snprintf(expected, sizeof(expected),
             "idsvc-admin saml verify: %s: key 2 has the type ED25519, but only RSA and EC "
             "keys verify SAML signatures",
             mixed);
    assert_string_equal(line, expected);
    EVP_PKEY_free(ed25519);
    free(rsa);
}

/* Re-encodes a raw r||s ECDSA SignatureValue as DER. */
static char *ecdsa_to_der(const char *doc)
{
    char *value = st_slice(doc, "<ds:SignatureValue>", "</ds:SignatureValue>");
    size_t prefix = strlen("<ds:SignatureValue>");
    unsigned char raw[256];
    unsigned char *der = NULL;
    unsigned char b64[512];
    ECDSA_SIG *sig = ECDSA_SIG_new();
    int raw_len;
    int der_len;
    char *replacement;
    char *result;

    value[strlen(value) - strlen("</ds:SignatureValue>")] = '\0';
    raw_len = EVP_DecodeBlock(raw, (unsigned char *)value + prefix,
                              (int)strlen(value + prefix));
    /* EVP_DecodeBlock counts the padding; P-256 gives two 32-byte integers. */
    assert_int_equal(raw_len - (value[strlen(value) - 1] == '=') -
                         (value[strlen(value) - 2] == '='),
                     64);
    assert_int_equal(ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL)),
                     1);
    der_len = i2d_ECDSA_SIG(sig, &der);
    assert_true(der_len > 0);
    EVP_EncodeBlock(b64, der, der_len);

    replacement = join3("<ds:SignatureValue>", (char *)b64, "");
    {
        char *old = join3("<ds:SignatureValue>", value + prefix, "");

        result = st_replace(doc, old, replacement);
        free(old);
    }
    free(replacement);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    free(value);
    return result;
}

static void ecdsa_der_value_rejected(void **state)
{
    char *doc;

    (void)state;
    if (genuine_ec == NULL)
        genuine_ec = st_build(&fixture, fixture.ec, "alice@idsvc.test");
    doc = ecdsa_to_der(genuine_ec);
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_SIGNATURE_ENCODING);
    free(doc);
}

static void claim_changed_after_signing(void **state)
{
    char *name = st_replace(signed_doc(), "alice@idsvc.test", "mallory@idsvc.test");
    char *audience = st_replace(signed_doc(), ST_AUDIENCE "<", "https://other.test<");

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, name, NULL), SAML_ERR_DIGEST_MISMATCH);
    assert_int_equal(st_verify(&fixture, NULL, audience, NULL), SAML_ERR_DIGEST_MISMATCH);
    free(name);
    free(audience);
}

static void signature_value_changed(void **state)
{
    const char *value = strstr(signed_doc(), "<ds:SignatureValue>");
    char old[32];
    char new[32];
    char *doc;

    (void)state;
    assert_non_null(value);
    snprintf(old, sizeof(old), "%.24s", value);
    snprintf(new, sizeof(new), "%.23s%c", value, old[23] == 'A' ? 'B' : 'A');
    doc = st_replace(signed_doc(), old, new);
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_SIGNATURE_INVALID);
    free(doc);
}

static void doctype_before_signed_assertion(void **state)
{
    char *doc = join3("<!DOCTYPE a [<!ENTITY e \"x\">]>", signed_doc(), "");

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, NULL), SAML_ERR_DOCTYPE_FORBIDDEN);
    free(doc);
}

/* "<!DOCTYPE" as text in a CDATA section or a comment declares nothing, so the signed
 * document verifies. A real declaration after a comment is still found. */
static void doctype_text_not_declaration(void **state)
{
    const st_template spec = {0};
    char *template = st_template_xml(&fixture, &spec);
    char *changed = st_replace(
        template, "</saml:Conditions>",
        "</saml:Conditions><!-- <!DOCTYPE x [<!ENTITY e \"x\">]> --><saml:AttributeStatement>"
        "<saml:Attribute Name=\"urn:example:page\"><saml:AttributeValue><![CDATA[<!DOCTYPE "
        "html><p>hi</p>]]></saml:AttributeValue></saml:Attribute></saml:AttributeStatement>");
    char *doc = st_xmlsec_sign(&fixture, changed, fixture.file_rsa);
    char *declared = join3("<!-- note --><!DOCTYPE a>", doc, "");
    saml_assertion *a = NULL;

    (void)state;
    assert_int_equal(st_verify(&fixture, NULL, doc, &a), SAML_OK);
    assert_int_equal(a->attribute_count, 1);
    assert_string_equal(a->attributes[0].values[0], "<!DOCTYPE html><p>hi</p>");
    saml_assertion_free(&a);

    assert_int_equal(st_verify(&fixture, NULL, declared, NULL), SAML_ERR_DOCTYPE_FORBIDDEN);
    free(template);
    free(changed);
    free(doc);
    free(declared);
}

/* Verifies len bytes, which may contain NUL, and checks the status and the reason. */
static void expect_bytes(const char *xml, size_t len, saml_status expected, const char *reason)
{
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;
    char detail[512];
    saml_status status =
        saml_verify(fixture.store, &options, xml, len, &a, detail, sizeof(detail));

    print_message("    %s: %s\n", saml_status_code(status), detail);
    saml_assertion_free(&a);
    assert_int_equal(status, expected);
    if (reason != NULL)
        assert_non_null(strstr(detail, reason));
}

/* Returns ascii in UTF-16LE after a byte order mark, with room for 8 more bytes, and sets
 * *len to its length. */
static char *utf16le(const char *ascii, size_t *len)
{
    size_t chars = strlen(ascii);
    char *out = calloc(2 + 2 * chars + 8, 1);

    assert_non_null(out);
    out[0] = (char)0xFF;
    out[1] = (char)0xFE;
    for (size_t i = 0; i < chars; i++)
        out[2 + 2 * i] = ascii[i];
    *len = 2 + 2 * chars;
    return out;
}

/*
 * libxml2 2.9.14 stops reading at a NUL, and drops an incomplete UTF-16 code unit or a
 * high surrogate at the end, so bytes after the root element could pass unread. Such a
 * document is not XML, and each is rejected for what it contains.
 */
static void undecoded_bytes_rejected(void **state)
{
    const char *doc = signed_doc();
    size_t len = strlen(doc);
    char *junk = join3(doc, "X<other/>", "");
    char *wide;
    size_t wide_len;

    (void)state;
    junk[len] = '\0';
    expect_bytes(junk, len + 9, SAML_ERR_XML_MALFORMED, "a NUL character at byte");

    wide = utf16le(doc, &wide_len);
    expect_bytes(wide, wide_len, SAML_OK, NULL);
    memcpy(wide + wide_len, "\0\0<\0", 4);
    expect_bytes(wide, wide_len + 4, SAML_ERR_XML_MALFORMED, "a NUL character at byte");
    expect_bytes(wide, wide_len + 1, SAML_ERR_XML_MALFORMED, "odd number of bytes");
    memcpy(wide + wide_len, "\0\xD8", 2);
    expect_bytes(wide, wide_len + 2, SAML_ERR_XML_MALFORMED,
                 "surrogate 0xD800 without its pair");
    memcpy(wide + wide_len, " \0\0\xDC", 4);
    expect_bytes(wide, wide_len + 4, SAML_ERR_XML_MALFORMED,
                 "surrogate 0xDC00 without its pair");
    memcpy(wide + wide_len, "\0\xD8\0\xDC", 4);
    expect_bytes(wide, wide_len + 4, SAML_ERR_XML_MALFORMED, "Extra content");

    free(junk);
    free(wide);
}

/* libxml2 2.9.14 reads a document declared as XML 1.1 as XML 1.0, where a U+0085 or
 * U+2028 stays in the text that an XML 1.1 reader turns into a line feed. Any version
 * but 1.0 is xml_malformed, naming the version, in UTF-8 and in UTF-16. */
static void xml_version_not_1_0_rejected(void **state)
{
    static const char *const versions[] = {"1.1", "1.9"};
    char *declared_1_0 = join3("<?xml version=\"1.0\"?>", signed_doc(), "");
    char *declared_utf16 =
        join3("<?xml version=\"1.1\" encoding=\"UTF-16\"?>", signed_doc(), "");
    char *wide;
    size_t wide_len;

    (void)state;
    expect_bytes(declared_1_0, strlen(declared_1_0), SAML_OK, NULL);
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        char *declaration = st_replace("<?xml version=\"V\" encoding=\"UTF-8\"?>", "V",
                                       versions[i]);
        char *doc = join3(declaration, signed_doc(), "");
        char *reason = st_replace("the XML declaration names version \"V\", but the node "
                                  "reads only XML 1.0",
                                  "V", versions[i]);

        expect_bytes(doc, strlen(doc), SAML_ERR_XML_MALFORMED, reason);
        free(declaration);
        free(doc);
        free(reason);
    }

    wide = utf16le(declared_utf16, &wide_len);
    expect_bytes(wide, wide_len, SAML_ERR_XML_MALFORMED,
                 "names version \"1.1\", but the node reads only XML 1.0");

    free(declared_1_0);
    free(declared_utf16);
    free(wide);
}

/* Returns RESPONSE_OPEN, the unsigned element <x:e> nested depth levels deep or, with
 * depth 0, an element whose name has name_length characters, then the signed Assertion. */
static char *response_with_extra(size_t depth, size_t name_length)
{
    static const char open[] = "<x:e xmlns:x=\"urn:example:x\">";
    size_t size = sizeof(RESPONSE_OPEN) + depth * 16 + name_length + 64 +
                  strlen(signed_doc()) + sizeof(RESPONSE_CLOSE);
    char *xml = malloc(size);
    size_t used;

    assert_non_null(xml);
    used = (size_t)snprintf(xml, size, "%s%s", RESPONSE_OPEN, depth > 0 ? open : "");
    for (size_t i = 1; i < depth; i++)
        used += (size_t)snprintf(xml + used, size - used, "<x:e>");
    for (size_t i = 0; i < depth; i++)
        used += (size_t)snprintf(xml + used, size - used, "</x:e>");
    if (name_length > 0) {
        used += (size_t)snprintf(xml + used, size - used, "<x:");
        memset(xml + used, 'n', name_length);
        used += name_length;
        used += (size_t)snprintf(xml + used, size - used, " xmlns:x=\"urn:example:x\"/>");
    }
    snprintf(xml + used, size - used, "%s%s", signed_doc(), RESPONSE_CLOSE);
    return xml;
}

/* libxml2 2.9.14 stops at 256 levels of nested elements and at a name of more than
 * 50,000 characters unless XML_PARSE_HUGE is set, which the verifier never sets. Its own
 * messages name that option, or read as a missing end of a start tag, so the verifier
 * names the limit. */
static void parser_limits_named(void **state)
{
    char *deep = response_with_extra(300, 0);
    char *long_name = response_with_extra(0, 60000);

    (void)state;
    expect_bytes(deep, strlen(deep), SAML_ERR_XML_MALFORMED,
                 "the document nests elements deeper than 256 levels, the maximum that the "
                 "XML parser reads");
    expect_bytes(long_name, strlen(long_name), SAML_ERR_XML_MALFORMED,
                 "the document has a name longer than 50000 characters, the maximum that "
                 "the XML parser reads");
    free(deep);
    free(long_name);
}

/* A document that breaks the rules of XML namespaces is xml_malformed, though libxml2
 * parses on: a prefix that no xmlns binds, on an element or an attribute, and one
 * attribute twice under two prefixes of one namespace. */
static void namespace_errors_rejected(void **state)
{
    static const struct {
        const char *from;
        const char *to;
        const char *named;
    } cases[] = {
        {"<saml:Issuer>", "<saml:Issuer p:x=\"1\">", "Namespace prefix p for x on Issuer"},
        {"<saml:Issuer>", "<p:e/><saml:Issuer>", "Namespace prefix p on e"},
        {"<saml:Issuer>",
         "<saml:Issuer xmlns:a=\"urn:x\" xmlns:b=\"urn:x\" a:y=\"1\" b:y=\"2\">",
         "redefined"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *doc = st_replace(signed_doc(), cases[i].from, cases[i].to);

        expect_bytes(doc, strlen(doc), SAML_ERR_XML_MALFORMED, cases[i].named);
        free(doc);
    }
}

/* A namespace name that libxml2's URI parser rejects, such as one with a space, a bad
 * percent escape or an unclosed IP literal, is namespace_invalid, as a relative one is,
 * because exclusive c14n cannot render it. With another namespace fault beside it, the
 * document is xml_malformed. */
static void namespace_uri_invalid_named(void **state)
{
    static const struct {
        const char *to;
        saml_status expected;
        const char *named;
    } cases[] = {
        {"<saml:Issuer xmlns:o=\"http://exa mple/\">", SAML_ERR_NAMESPACE_INVALID,
         "a namespace name is not a URI reference, so the document cannot be "
         "canonicalised (line 1: xmlns:o: 'http://exa mple/' is not a valid URI)"},
        {"<saml:Issuer xmlns=\"urn:x%zz\" xmlns:p=\"http://[::1\">",
         SAML_ERR_NAMESPACE_INVALID, "'urn:x%zz' is not a valid URI"},
        {"<saml:Issuer xmlns:o=\"rel\">", SAML_ERR_NAMESPACE_INVALID,
         "the namespace name \"rel\" declared on <Issuer> is not an absolute URI"},
        {"<saml:Issuer xmlns:o=\"a b\" p:x=\"1\">", SAML_ERR_XML_MALFORMED,
         "the document breaks the rules of XML namespaces"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *doc = st_replace(signed_doc(), "<saml:Issuer>", cases[i].to);

        expect_bytes(doc, strlen(doc), cases[i].expected, cases[i].named);
        free(doc);
    }
}

/*
 * windows-1252 does not define the byte 0x81, so libxml2 2.9.14 cannot decode it. After
 * the root element it dropped the byte without failing the parse, and inside it failed
 * with a message about the end of the data. Either way the byte is named as the reason,
 * and libxml2 writes nothing to standard error about it.
 */
static void undecoded_byte_reported_once(void **state)
{
    static const char cp1252[] = "<?xml version=\"1.0\" encoding=\"windows-1252\"?>";
    char *changed = st_replace(signed_doc(), "alice@", "al\x81ice@");
    char *doc = join3(cp1252, signed_doc(), "");
    char path[PATH_MAX + 16];
    char args[3 * PATH_MAX];
    char err_line[512];
    FILE *file;

    (void)state;
    expect_bytes(doc, strlen(doc), SAML_OK, NULL);
    free(doc);
    doc = join3(cp1252, signed_doc(), "\x81");
    expect_bytes(doc, strlen(doc), SAML_ERR_XML_MALFORMED,
                 "bytes that are invalid in the encoding its XML declaration names");
    free(doc);
    doc = join3(cp1252, changed, "");
    expect_bytes(doc, strlen(doc), SAML_ERR_XML_MALFORMED,
                 "bytes that are invalid in the encoding its XML declaration names");

    snprintf(path, sizeof(path), "%s/undecoded.xml", fixture.dir);
    file = fopen(path, "w");
    assert_non_null(file);
    assert_true(fputs(doc, file) >= 0);
    assert_int_equal(fclose(file), 0);
    snprintf(args, sizeof(args), "--trust %s.pub %s", fixture.file_rsa, path);
    assert_int_equal(st_run_cli(args, err_line, sizeof(err_line)), 1);
    assert_string_equal(err_line, "rejected: xml_malformed: the document contains bytes that "
                                  "are invalid in the encoding its XML declaration names, so "
                                  "the XML parser cannot decode them");
    free(changed);
    free(doc);
}

/*
 * Thai issuers declare TIS-620 or windows-874, which keep ASCII as ISO-8859-11 does. A
 * document signed in each, with a Thai NameID, verifies and yields the name in UTF-8, and
 * 0xFC, which neither defines, is rejected after the root element.
 */
static void thai_encodings_verify(void **state)
{
    static const char *const names[] = {"TIS-620", "windows-874"};
    /* "somchai" in Thai letters, in both encodings, and then in UTF-8. */
    static const char thai[] = "\xca\xc1\xaa\xd2\xc2@idsvc.test";
    static const char thai_utf8[] = "\xe0\xb8\xaa\xe0\xb8\xa1\xe0\xb8\x8a\xe0\xb8\xb2"
                                    "\xe0\xb8\xa2@idsvc.test";

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const st_template spec = {.id = "_thai1", .name_id = thai};
        char *body = st_template_xml(&fixture, &spec);
        char *declaration = st_replace("<?xml version=\"1.0\" encoding=\"NAME\"?>\n", "NAME",
                                       names[i]);
        char *tmpl = join3(declaration, body, "");
        char *doc = st_xmlsec_sign(&fixture, tmpl, fixture.file_rsa);
        char *tail = join3(doc, "\xfc", "");
        saml_assertion *assertion = NULL;

        if (st_verify(&fixture, NULL, doc, &assertion) != SAML_OK)
            fail_msg("the %s document did not verify", names[i]);
        assert_string_equal(assertion->name_id, thai_utf8);
        saml_assertion_free(&assertion);
        expect_bytes(tail, strlen(tail), SAML_ERR_XML_MALFORMED,
                     "bytes that are invalid in the encoding its XML declaration names");
        free(body);
        free(declaration);
        free(tmpl);
        free(doc);
        free(tail);
    }
}

/* Returns the detail of verifying xml, which must be rejected with expected. */
static char *rejection_detail(const char *xml, saml_status expected)
{
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;
    char detail[512];
    saml_status status =
        saml_verify(fixture.store, &options, xml, strlen(xml), &a, detail, sizeof(detail));
    char *copy = strdup(detail);

    print_message("    %s: %s\n", saml_status_code(status), detail);
    assert_null(a);
    assert_int_equal(status, expected);
    assert_non_null(copy);
    return copy;
}

/*
 * An RSA SignatureValue as long as no trusted modulus, cut by one base64 group or made by
 * a 3072-bit key that is not trusted, is named for its length. A value of the right
 * length that does not verify keeps the general reason.
 */
static void rsa_value_length_named(void **state)
{
    const char *value = strstr(signed_doc(), "<ds:SignatureValue>");
    const st_template spec = {.id = "_len3072"};
    char key[PATH_MAX + 16];
    char command[3 * PATH_MAX];
    char old[64];
    char new[64];
    char *cut;
    char *tmpl;
    char *other;
    char *detail;

    (void)state;
    assert_non_null(value);
    /* The tag and 44 base64 characters, then the same without the last group of 4. */
    snprintf(old, sizeof(old), "%.63s", value);
    snprintf(new, sizeof(new), "%.59s", value);
    cut = st_replace(signed_doc(), old, new);
    detail = rejection_detail(cut, SAML_ERR_SIGNATURE_INVALID);
    assert_non_null(strstr(detail, "the RSA SignatureValue has 253 bytes"));
    assert_non_null(strstr(detail, "its 2048-bit key makes 256"));
    free(detail);

    snprintf(key, sizeof(key), "%s/rsa3072.pem", fixture.dir);
    snprintf(command, sizeof(command),
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out %s "
             "2>/dev/null", key);
    assert_int_equal(test_run(command), 0);
    tmpl = st_template_xml(&fixture, &spec);
    other = st_xmlsec_sign(&fixture, tmpl, key);
    detail = rejection_detail(other, SAML_ERR_SIGNATURE_INVALID);
    assert_non_null(strstr(detail, "the RSA SignatureValue has 384 bytes"));
    free(detail);
    free(other);
    free(tmpl);

    tmpl = st_template_xml(&fixture, &(st_template){.id = "_len2048"});
    other = st_xmlsec_sign(&fixture, tmpl, fixture.file_attacker);
    detail = rejection_detail(other, SAML_ERR_SIGNATURE_INVALID);
    assert_string_equal(detail, "the SignatureValue does not verify with the trusted key");
    free(detail);
    free(other);
    free(tmpl);
    free(cut);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(genuine_assertions_verify),
        cmocka_unit_test(algorithm_white_space_named),
        cmocka_unit_test(wrap_forged_before_signed),
        cmocka_unit_test(wrap_forged_after_signed),
        cmocka_unit_test(wrap_signed_inside_forged),
        cmocka_unit_test(signature_namespace_named),
        cmocka_unit_test(wrap_signed_in_extensions),
        cmocka_unit_test(wrap_signed_in_unknown_element),
        cmocka_unit_test(wrap_signed_in_signature_object),
        cmocka_unit_test(wrap_only_assertion_in_extensions),
        cmocka_unit_test(wrap_forged_with_same_id),
        cmocka_unit_test(xml_id_duplicating_assertion_id),
        cmocka_unit_test(signature_moved_to_response),
        cmocka_unit_test(response_signature_checked_too),
        cmocka_unit_test(response_signature_rules),
        cmocka_unit_test(response_content_model_checked),
        cmocka_unit_test(response_content_model_order),
        cmocka_unit_test(unsigned_response_issuer_checked),
        cmocka_unit_test(signed_response_issuer_required),
        cmocka_unit_test(signed_response_only_issuer_required),
        cmocka_unit_test(signature_moved_into_subject),
        cmocka_unit_test(two_signatures_rejected),
        cmocka_unit_test(reference_to_other_id),
        cmocka_unit_test(reference_to_external_uri),
        cmocka_unit_test(comment_inside_name_id_after_signing),
        cmocka_unit_test(comment_inside_name_id_when_signed),
        cmocka_unit_test(attacker_key_in_key_info),
        cmocka_unit_test(xpath_transform_rejected),
        cmocka_unit_test(inclusive_c14n_rejected),
        cmocka_unit_test(stronger_signature_methods_verify),
        cmocka_unit_test(small_ec_key_rejected),
        cmocka_unit_test(thai_encodings_verify),
        cmocka_unit_test(signature_method_outside_profile),
        cmocka_unit_test(sha1_rejected_unless_allowed),
        cmocka_unit_test(sha1_detail_names_part),
        cmocka_unit_test(small_rsa_key_rejected),
        cmocka_unit_test(pkcs1_trust_file_accepted),
        cmocka_unit_test(pkcs1_trust_file_invalid_named),
        cmocka_unit_test(trust_file_read_whole),
        cmocka_unit_test(trust_file_other_key_named),
        cmocka_unit_test(ecdsa_der_value_rejected),
        cmocka_unit_test(claim_changed_after_signing),
        cmocka_unit_test(signature_value_changed),
        cmocka_unit_test(doctype_before_signed_assertion),
        cmocka_unit_test(doctype_text_not_declaration),
        cmocka_unit_test(undecoded_bytes_rejected),
        cmocka_unit_test(undecoded_byte_reported_once),
        cmocka_unit_test(xml_version_not_1_0_rejected),
        cmocka_unit_test(parser_limits_named),
        cmocka_unit_test(namespace_errors_rejected),
        cmocka_unit_test(namespace_uri_invalid_named),
        cmocka_unit_test(rsa_value_length_named),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
