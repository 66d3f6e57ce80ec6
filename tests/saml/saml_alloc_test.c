/*
 * Allocation failures during SAML verification. The test fails each allocation of a
 * verification in turn, one per run. It reaches libxml2's allocations (xmlMalloc and the
 * others) through xmlMemSetup, and those of idsvc's own code (malloc, calloc, realloc and
 * strdup) through the linker's --wrap, which tests.cmake sets for this program only.
 * A run must end in SAML_ERR_INTERNAL, or in the outcome of the run without failures,
 * with the same sentence and claims, when the failed allocation did not matter. Any other
 * status would blame the issuer's document for the node's own failure, and a success
 * with other claims would mean that a value was dropped.
 *
 * OpenSSL's allocations, which go through CRYPTO_malloc inside libcrypto, are not
 * failed: xmlsec reports a failed OpenSSL call like a signature that does not verify.
 */
#define _GNU_SOURCE /* asprintf */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xmlmemory.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmldsig.h>

#include "xml_safe.h"

#include "saml_test_util.h"

/* ---- The failing allocator ------------------------------------------------------ */

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *ptr, size_t size);
char *__real_strdup(const char *text);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
char *__wrap_strdup(const char *text);

/* While armed and not suspended, each allocation counts one, and the one numbered
 * fail_at fails. */
static bool armed;
static bool suspended;
static long calls;
static long fail_at = -1;
static bool failed;

static bool alloc_fails(void)
{
    if (!armed || suspended)
        return false;
    if (calls++ != fail_at)
        return false;
    failed = true;
    return true;
}

void *__wrap_malloc(size_t size)
{
    return alloc_fails() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    return alloc_fails() ? NULL : __real_calloc(count, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
    return alloc_fails() ? NULL : __real_realloc(ptr, size);
}

char *__wrap_strdup(const char *text)
{
    return alloc_fails() ? NULL : __real_strdup(text);
}

/* libxml2 2.9.14's parser and xmlsec's verification do not always tell their caller that
 * memory ran out. The parser can drop a name when its dictionary cannot grow and go on
 * (then the digest no longer matches), and xmlsec reports a failure inside like a
 * signature that does not verify. So the sweeps over saml_verify leave their own
 * allocations alone, and parse_swept checks the parser on its own. */
xmlDocPtr __real_xmlCtxtReadMemory(xmlParserCtxtPtr ctxt, const char *buffer, int size,
                                   const char *url, const char *encoding, int options);
xmlDocPtr __wrap_xmlCtxtReadMemory(xmlParserCtxtPtr ctxt, const char *buffer, int size,
                                   const char *url, const char *encoding, int options);
int __real_xmlSecDSigCtxVerify(xmlSecDSigCtxPtr ctx, xmlNodePtr node);
int __wrap_xmlSecDSigCtxVerify(xmlSecDSigCtxPtr ctx, xmlNodePtr node);

static bool sweep_parser; /* whether the parser's allocations are counted too */

xmlDocPtr __wrap_xmlCtxtReadMemory(xmlParserCtxtPtr ctxt, const char *buffer, int size,
                                   const char *url, const char *encoding, int options)
{
    xmlDocPtr doc;

    suspended = !sweep_parser;
    doc = __real_xmlCtxtReadMemory(ctxt, buffer, size, url, encoding, options);
    suspended = false;
    return doc;
}

int __wrap_xmlSecDSigCtxVerify(xmlSecDSigCtxPtr ctx, xmlNodePtr node)
{
    int rc;

    suspended = true;
    rc = __real_xmlSecDSigCtxVerify(ctx, node);
    suspended = false;
    return rc;
}

/* ---- The documents ------------------------------------------------------------- */

static saml_fixture fixture;

#define SUCCESS_CODE                                                                     \
    "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>"

/* Edits of the test template so that it carries every value the verifier reads. They
 * add an Issuer with the entity Format, a NameID with its qualifiers and the optional
 * attributes of a SubjectConfirmationData. They add a NotBefore with a fraction of a
 * second, OneTimeUse, a ProxyRestriction, an AuthnStatement with a
 * SessionNotOnOrAfter, and attribute values, one of them null. */
static const char *const rich_edits[][2] = {
    {"<saml:Issuer>",
     "<saml:Issuer Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:entity\">"},
    {"<saml:SubjectConfirmationData ",
     "<saml:SubjectConfirmationData InResponseTo=\"_request01\" "
     "Recipient=\"https://sp.example/acs\" Address=\"192.0.2.1\" "},
    {"<saml:NameID ",
     "<saml:NameID NameQualifier=\"urn:example:q\" SPNameQualifier=\"urn:example:sq\" "
     "SPProvidedID=\"sp-1\" "},
    {"NotBefore=\"2025-12-31T23:59:00Z\"", "NotBefore=\"2025-12-31T23:59:00.5Z\""},
    {"</saml:Conditions>",
     "<saml:OneTimeUse/><saml:ProxyRestriction Count=\"2\">"
     "<saml:Audience>urn:example:proxy</saml:Audience></saml:ProxyRestriction>"
     "</saml:Conditions><saml:AuthnStatement AuthnInstant=\"2025-12-31T23:59:00Z\" "
     "SessionNotOnOrAfter=\"2026-01-01T08:00:00Z\">"
     "<saml:AuthnContext><saml:AuthnContextClassRef>urn:example:loa"
     "</saml:AuthnContextClassRef><saml:AuthenticatingAuthority>urn:example:authority"
     "</saml:AuthenticatingAuthority></saml:AuthnContext></saml:AuthnStatement>"
     "<saml:AttributeStatement><saml:Attribute Name=\"urn:oid:2.5.4.42\">"
     "<saml:AttributeValue>Alice</saml:AttributeValue><saml:AttributeValue "
     "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:nil=\"true\"/>"
     "</saml:Attribute><saml:Attribute Name=\"urn:example:claim\">"
     "<saml:AttributeValue>one</saml:AttributeValue></saml:Attribute>"
     "</saml:AttributeStatement>"},
};

/* Returns the template with rich_edits, then from replaced by to when from is not NULL,
 * signed by xmlsec1 without the XML declaration that it writes, so that a Response can
 * wrap it. */
static char *rich_assertion_with(const char *from, const char *to)
{
    const st_template spec = {.id = "_alloc01"};
    char *xml = st_template_xml(&fixture, &spec);
    char *signed_xml;

    for (size_t i = 0; i < sizeof(rich_edits) / sizeof(rich_edits[0]); i++) {
        char *next = st_replace(xml, rich_edits[i][0], rich_edits[i][1]);

        free(xml);
        xml = next;
    }
    if (from != NULL) {
        char *next = st_replace(xml, from, to);

        free(xml);
        xml = next;
    }
    signed_xml = st_xmlsec_sign(&fixture, xml, fixture.file_rsa);
    free(xml);
    xml = st_replace(signed_xml, "<?xml version=\"1.0\"?>\n", "");
    free(signed_xml);
    return xml;
}

static char *rich_assertion(void)
{
    return rich_assertion_with(NULL, NULL);
}

/* Wraps content in an unsigned Response whose Issuer names the test issuer, with every
 * optional attribute of a Response. */
static char *in_response(const char *content)
{
    char *xml = NULL;

    assert_int_not_equal(
        asprintf(
            &xml,
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" "
            "ID=\"_response01\" Version=\"2.0\" IssueInstant=\"2026-01-01T00:00:00Z\" "
            "InResponseTo=\"_request01\" Destination=\"https://sp.example/acs\" "
            "Consent=\"urn:oasis:names:tc:SAML:2.0:consent:unspecified\">"
            "<saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">" ST_ISSUER
            "</saml:Issuer>%s</samlp:Response>",
            content),
        -1);
    return xml;
}

/* ---- The sweep ------------------------------------------------------------------ */

typedef struct outcome {
    saml_status status;
    char detail[512];
    char *json; /* the claims on success, else NULL */
} outcome;

static time_t fixture_clock(void *ctx)
{
    (void)ctx;
    return fixture.now;
}

static void verify_once(const char *xml, long fail, outcome *out)
{
    saml_replay_memory *memory = saml_replay_memory_new(fixture_clock, NULL);
    saml_replay_cache replay = saml_replay_memory_interface(memory);
    saml_verify_options options = st_options(&fixture);
    saml_assertion *assertion = NULL;

    assert_non_null(memory);
    options.audience = ST_AUDIENCE;
    options.replay = &replay;

    calls = 0;
    fail_at = fail;
    failed = false;
    armed = true;
    out->status = saml_verify(fixture.store, &options, xml, strlen(xml), &assertion,
                              out->detail, sizeof(out->detail));
    armed = false;

    out->json = NULL;
    if (assertion != NULL) {
        json_t *json = saml_assertion_to_json(assertion);

        assert_non_null(json);
        out->json = json_dumps(json, JSON_SORT_KEYS);
        json_decref(json);
    }
    saml_assertion_free(&assertion);
    saml_replay_memory_free(&memory);
}

/* libxml2 2.9.14 can fail to record a namespace declaration when memory runs out,
 * without reporting it, and then finds a prefix that nothing binds. The parse check
 * rejects such a document as breaking the namespace rules, which fails closed, though
 * it blames the document. Returns whether a run ended so. */
static bool namespace_loss(bool malformed, const char *detail)
{
    return malformed && strstr(detail, "breaks the rules of XML namespaces") != NULL &&
           strstr(detail, "is not defined") != NULL;
}

/* Fails each allocation of one verification of xml in turn. */
static void sweep(const char *xml, saml_status expected)
{
    outcome clean;
    long total;
    long internal = 0;
    long lost = 0;

    verify_once(xml, -1, &clean);
    assert_int_equal(clean.status, expected);
    total = calls;
    assert_true(total > 0);

    for (long i = 0; i < total; i++) {
        outcome run;

        verify_once(xml, i, &run);
        /* The runs are alike up to the failure, so allocation i is always made. */
        assert_true(failed);
        if (run.status == SAML_ERR_INTERNAL) {
            internal++;
        } else if (namespace_loss(run.status == SAML_ERR_XML_MALFORMED, run.detail)) {
            lost++;
        } else if (run.status != clean.status || strcmp(run.detail, clean.detail) != 0 ||
                   (clean.json != NULL &&
                    (run.json == NULL || strcmp(run.json, clean.json) != 0))) {
            fail_msg("failing allocation %ld of %ld gave %s (%s), not %s or internal%s",
                     i, total, saml_status_code(run.status), run.detail,
                     saml_status_code(clean.status),
                     run.status == clean.status ? ", with other claims or sentence" : "");
        }
        free(run.json);
    }
    print_message("    %ld allocations, %ld of them failed as internal, %ld as a lost "
                  "namespace\n",
                  total, internal, lost);
    assert_true(internal > 0);
    free(clean.json);
}

/* The parser alone: a failed allocation that libxml2 reports is internal, never a
 * malformed document. One that it does not report leaves a document that parsed. */
static void parse_swept(void **state)
{
    char *xml = rich_assertion();
    long total = 0;
    long no_memory = 0;

    (void)state;
    sweep_parser = true;
    for (long i = -1; i == -1 || i < total; i++) {
        xmlDocPtr doc = NULL;
        char detail[256];
        xml_safe_status status;

        calls = 0;
        fail_at = i;
        armed = true;
        status = xml_safe_parse(xml, strlen(xml), 1u << 20, &doc, detail, sizeof(detail));
        armed = false;
        if (i == -1)
            total = calls;
        if (status != XML_SAFE_OK && status != XML_SAFE_NO_MEMORY &&
            !namespace_loss(status == XML_SAFE_MALFORMED, detail))
            fail_msg("failing allocation %ld of %ld of the parser gave status %d (%s)", i,
                     total, (int)status, detail);
        if (status == XML_SAFE_NO_MEMORY)
            no_memory++;
        xmlFreeDoc(doc);
    }
    print_message("    %ld allocations, %ld of them failed as out of memory\n", total,
                  no_memory);
    assert_true(no_memory > 0);
    sweep_parser = false;
    free(xml);
}

static void signed_assertion_swept(void **state)
{
    char *xml = rich_assertion();

    (void)state;
    sweep(xml, SAML_OK);
    free(xml);
}

static void response_around_assertion_swept(void **state)
{
    char *assertion = rich_assertion();
    char *status = NULL;
    char *xml;

    (void)state;
    assert_int_not_equal(
        asprintf(&status, "<samlp:Status>" SUCCESS_CODE "</samlp:Status>%s", assertion),
        -1);
    xml = in_response(status);
    sweep(xml, SAML_OK);
    free(xml);
    free(status);
    free(assertion);
}

/* A failed Response, whose second-level code the sentence names. */
static void failed_response_swept(void **state)
{
    char *xml =
        in_response("<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:"
                    "SAML:2.0:status:Responder\"><samlp:StatusCode Value=\"urn:"
                    "oasis:names:tc:SAML:2.0:status:AuthnFailed\"/></samlp:StatusCode>"
                    "</samlp:Status>");

    (void)state;
    sweep(xml, SAML_ERR_STATUS_NOT_SUCCESS);
    free(xml);
}

/* A document the verifier rejects after the signature, for a fault of its content: a
 * null AttributeValue that is not empty. */
static void rejected_content_swept(void **state)
{
    char *assertion = rich_assertion_with("<saml:AttributeValue>one",
                                          "<saml:AttributeValue xmlns:xsi=\"http://www.w3.org/"
                                          "2001/XMLSchema-instance\" xsi:nil=\"1\">one");

    (void)state;
    sweep(assertion, SAML_ERR_NOT_SAML);
    free(assertion);
}

static int setup(void **state)
{
    (void)state;
    /* Before libxml2 allocates anything. Each sweep verifies once without a failure
     * first, which initialises xmlsec and the parser outside the counted runs. */
    if (xmlMemSetup(free, __wrap_malloc, __wrap_realloc, __wrap_strdup) != 0)
        return -1;
    return st_fixture_create(&fixture);
}

static int teardown(void **state)
{
    (void)state;
    st_fixture_destroy(&fixture);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_swept),
        cmocka_unit_test(signed_assertion_swept),
        cmocka_unit_test(response_around_assertion_swept),
        cmocka_unit_test(failed_response_swept),
        cmocka_unit_test(rejected_content_swept),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
