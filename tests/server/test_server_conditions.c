/*
 * POST /v1/verifications with the Conditions and NameID variants that decide what the
 * node may sign into its result attestation: unknown conditions, OneTimeUse,
 * ProxyRestriction, and a NameID Format that is absent, empty or explicit. Assertions are
 * signed by the `xmlsec1 --sign` command line with an openssl file key of a configured
 * issuer, and `xmlsec1 --verify` checks each attestation that carries a new condition
 * with only the node's certificate. One daemon serves every test in this file.
 */
#define _GNU_SOURCE /* asprintf */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server_harness.h"

#define PEER_ENTITY_ID "https://peer.example.my/saml"
#define OTHER_AUDIENCE "https://other.example/sp"
#define ASSERTION_ID_ATTR "--id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
#define PERSISTENT "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"

static harness server;

/* The AuthnStatement of every assertion but those of test_authn_statement_copied. */
#define AUTHN_INSTANT "2026-01-02T03:04:05Z"
#define AUTHN_CLASS "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
#define AUTHN_STATEMENT                                                                   \
    "<saml:AuthnStatement AuthnInstant=\"" AUTHN_INSTANT "\"><saml:AuthnContext>"          \
    "<saml:AuthnContextClassRef>" AUTHN_CLASS "</saml:AuthnContextClassRef>"              \
    "</saml:AuthnContext></saml:AuthnStatement>"

static const char ISSUER_CONFIG[] =
    "\n[saml]\ncertificate = saml-cert.pem\n\n"
    "[issuer peer]\nentity_id = " PEER_ENTITY_ID "\ncertificate = peer.pub\n";

static int make_file_key(const harness *h)
{
    char command[2 * PATH_MAX];

    snprintf(command, sizeof(command),
             "cd '%s' && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
             "-out peer.key 2>/dev/null && openssl pkey -in peer.key -pubout -out peer.pub",
             h->token.dir);
    return test_run(command);
}

static int start_server(void **state)
{
    (void)state;
    if (harness_setup(&server) != 0 || make_file_key(&server) != 0 ||
        harness_make_saml_certificate(&server) != 0 ||
        harness_append_config(&server, ISSUER_CONFIG) != 0 || harness_start(&server) != 0) {
        harness_teardown(&server);
        return -1;
    }
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    return harness_finish(&server);
}

/* Writes text to a file of the test folder and returns its path. */
static void write_test_file(const char *name, const char *text, char *path, size_t path_size)
{
    FILE *file;

    snprintf(path, path_size, "%s/%s", server.token.dir, name);
    file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    assert_int_equal(fclose(file), 0);
}

/* Returns a peer assertion, valid now for 300 s and signed by `xmlsec1 --sign`, with
 * this NameID start tag, these elements after the AudienceRestriction and this
 * AuthnStatement. */
static char *peer_assertion_with(const char *name_id_tag, const char *conditions,
                                 const char *authn_statement)
{
    static unsigned counter;
    char id[64];
    harness_assertion spec = {.id = id,
                              .issuer = PEER_ENTITY_ID,
                              .issued = time(NULL),
                              .lifetime = 300,
                              .audience = RP_ENTITY_ID,
                              .name_id_tag = name_id_tag,
                              .conditions = conditions,
                              .authn_statement = authn_statement};
    char *document;
    char *xml;

    snprintf(id, sizeof(id), "_cond%08x%08lx", ++counter, (unsigned long)spec.issued);
    document = harness_assertion_template(&spec);
    assert_non_null(document);
    xml = harness_xmlsec_sign(&server, "peer.key", document);
    assert_non_null(xml);
    free(document);
    return xml;
}

static char *peer_assertion(const char *name_id_tag, const char *conditions)
{
    return peer_assertion_with(name_id_tag, conditions, AUTHN_STATEMENT);
}

/* A peer assertion with a persistent NameID and these extra conditions. */
static char *conditions_assertion(const char *conditions)
{
    return peer_assertion("<saml:NameID Format=\"" PERSISTENT "\">", conditions);
}

static void post_assertion(const char *assertion, http_result *result)
{
    json_t *doc = json_pack("{s:s, s:[s], s:s}", "assertion", assertion, "claims",
                            "given_name", "purpose", "account opening");
    char *body = json_dumps(doc, JSON_COMPACT);

    assert_int_equal(harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body,
                                  result),
                     0);
    free(body);
    json_decref(doc);
}

static void expect_problem(const http_result *result, long status, const char *code)
{
    if (result->status != status || strcmp(http_result_code(result), code) != 0)
        fprintf(stderr, "expected %ld %s, got %ld %s\n", status, code, result->status,
                result->body ? result->body : "");
    assert_int_equal(result->status, status);
    assert_string_equal(http_result_code(result), code);
    assert_string_equal(http_result_field(result), "assertion");
}

/* Posts an assertion with these conditions twice and expects code both times: nothing
 * was recorded, so the second post is not a replay. */
static void expect_conditions_rejected(const char *conditions, const char *code)
{
    char *xml = conditions_assertion(conditions);
    http_result result;

    print_message("    %s\n", conditions);
    post_assertion(xml, &result);
    expect_problem(&result, 422, code);
    http_result_clear(&result);
    post_assertion(xml, &result);
    expect_problem(&result, 422, code);
    http_result_clear(&result);
    free(xml);
}

/* Posts xml, expects 200 and returns a copy of the attestation. */
static char *accepted_attestation(const char *xml)
{
    http_result result;
    const char *attestation;
    char *copy;

    post_assertion(xml, &result);
    if (result.status != 200)
        fprintf(stderr, "rejected: %s\n", result.body ? result.body : "");
    assert_int_equal(result.status, 200);
    attestation = json_string_value(json_object_get(result.json, "attestation"));
    assert_non_null(attestation);
    copy = strdup(attestation);
    assert_non_null(copy);
    http_result_clear(&result);
    return copy;
}

/* Runs `xmlsec1 --verify` on an attestation with only the node's certificate. */
static int xmlsec_verify_attestation(const char *xml)
{
    char path[PATH_MAX + 32];
    char command[4 * PATH_MAX];

    write_test_file("attestation.xml", xml, path, sizeof(path));
    snprintf(command, sizeof(command),
             "xmlsec1 --verify " ASSERTION_ID_ATTR " --pubkey-cert-pem '%s/saml-cert.pem' "
             "'%s' >'%s/xmlsec1.out' 2>&1",
             server.token.dir, path, server.token.dir);
    return test_run(command);
}

/* Returns a copy of the attestation's element that starts with start, up to its end
 * tag end, or NULL when it has none. */
static char *element_of(const char *attestation, const char *start, const char *end)
{
    const char *from = strstr(attestation, start);
    const char *to = from != NULL ? strstr(from, end) : NULL;

    if (to == NULL)
        return NULL;
    return strndup(from, (size_t)(to - from) + strlen(end));
}

/* ---- conditions the node does not understand ---------------------------------------- */

static void test_unknown_condition_rejected(void **state)
{
    static const char *const cases[] = {
        "<saml:Condition xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xmlns:x=\"urn:x\" xsi:type=\"x:OnlyForJurisdiction\"/>",
        /* A Condition typed as a known restriction is still not read as one. */
        "<saml:Condition xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xsi:type=\"saml:AudienceRestrictionType\"><saml:Audience>" RP_ENTITY_ID
        "</saml:Audience></saml:Condition>",
        "<saml:Condition/>",
        "<x:Foo xmlns:x=\"urn:x\"/>",
        "<saml:Foo/>",
        "<saml:Audience>" RP_ENTITY_ID "</saml:Audience>",
        "<saml:AudienceRestriction><saml:Audience>" RP_ENTITY_ID "</saml:Audience>"
        "<x:Only xmlns:x=\"urn:x\"/></saml:AudienceRestriction>",
        "<saml:ProxyRestriction Count=\"3\"><x:Only xmlns:x=\"urn:x\"/>"
        "</saml:ProxyRestriction>",
        "<saml:OneTimeUse><x:Only xmlns:x=\"urn:x\"/></saml:OneTimeUse>",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_conditions_rejected(cases[i], "condition_unknown");
}

static void test_invalid_conditions_rejected(void **state)
{
    static const char *const cases[] = {
        "<saml:ProxyRestriction Count=\"2\"/><saml:ProxyRestriction Count=\"2\"/>",
        "<saml:OneTimeUse/><saml:OneTimeUse/>",
        "<saml:ProxyRestriction Count=\"-1\"/>",
        "<saml:ProxyRestriction Count=\"two\"/>",
        "<saml:ProxyRestriction Count=\"\"/>",
        "<saml:ProxyRestriction Count=\"1.0\"/>",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_conditions_rejected(cases[i], "conditions_invalid");
}

/* ---- ProxyRestriction ---------------------------------------------------------------- */

static void test_proxy_restriction_forbids(void **state)
{
    static const char *const cases[] = {
        "<saml:ProxyRestriction Count=\"0\"/>",
        "<saml:ProxyRestriction Count=\" 00 \"/>",
        "<saml:ProxyRestriction Count=\"-0\"/>",
        "<saml:ProxyRestriction Count=\"0\"><saml:Audience>" RP_ENTITY_ID
        "</saml:Audience></saml:ProxyRestriction>",
        "<saml:ProxyRestriction><saml:Audience>" OTHER_AUDIENCE
        "</saml:Audience></saml:ProxyRestriction>",
        "<saml:ProxyRestriction Count=\"5\"><saml:Audience>" OTHER_AUDIENCE
        "</saml:Audience><saml:Audience>" RP_ENTITY_ID "/</saml:Audience>"
        "</saml:ProxyRestriction>",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_conditions_rejected(cases[i], "proxy_restricted");
}

typedef struct proxy_case {
    const char *received; /* the ProxyRestriction of the posted assertion */
    const char *signed_;  /* the one the attestation must carry */
} proxy_case;

static void test_proxy_restriction_passed_on(void **state)
{
    static const proxy_case cases[] = {
        {"<saml:ProxyRestriction Count=\"1\"/>",
         "<saml:ProxyRestriction Count=\"0\"></saml:ProxyRestriction>"},
        {"<saml:ProxyRestriction Count=\"+3\"><saml:Audience>" OTHER_AUDIENCE
         "</saml:Audience><saml:Audience> " RP_ENTITY_ID " </saml:Audience>"
         "</saml:ProxyRestriction>",
         "<saml:ProxyRestriction Count=\"2\"><saml:Audience>" RP_ENTITY_ID
         "</saml:Audience></saml:ProxyRestriction>"},
        {"<saml:ProxyRestriction><saml:Audience>" RP_ENTITY_ID
         "</saml:Audience></saml:ProxyRestriction>",
         "<saml:ProxyRestriction><saml:Audience>" RP_ENTITY_ID
         "</saml:Audience></saml:ProxyRestriction>"},
        {"<saml:ProxyRestriction/>", "<saml:ProxyRestriction></saml:ProxyRestriction>"},
        {"<saml:ProxyRestriction Count=\"99999999999999999999\"/>",
         "<saml:ProxyRestriction Count=\"2147483646\"></saml:ProxyRestriction>"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = conditions_assertion(cases[i].received);
        char *attestation = accepted_attestation(xml);
        char *proxy = element_of(attestation, "<saml:ProxyRestriction",
                                 "</saml:ProxyRestriction>");

        print_message("    %s -> %s\n", cases[i].received, proxy != NULL ? proxy : "none");
        assert_non_null(proxy);
        assert_string_equal(proxy, cases[i].signed_);
        assert_int_equal(xmlsec_verify_attestation(attestation), 0);
        free(proxy);
        free(attestation);
        free(xml);
    }
}

static void test_no_proxy_restriction_added(void **state)
{
    char *xml = conditions_assertion("");
    char *attestation = accepted_attestation(xml);

    (void)state;
    assert_null(strstr(attestation, "ProxyRestriction"));
    free(attestation);
    free(xml);
}

/* OneTimeUse is accepted, and the replay check makes the second presentation fail. */
static void test_one_time_use_honoured(void **state)
{
    char *xml = conditions_assertion("<saml:OneTimeUse/>");
    char *attestation = accepted_attestation(xml);
    http_result result;

    (void)state;
    post_assertion(xml, &result);
    expect_problem(&result, 422, "replayed");
    http_result_clear(&result);
    free(attestation);
    free(xml);
}

/* ---- the NameID Format copied into the attestation ------------------------------------ */

typedef struct name_id_case {
    const char *received; /* the NameID start tag of the posted assertion */
    const char *signed_;  /* the attestation's NameID element */
} name_id_case;

static void test_name_id_format_copied(void **state)
{
    static const name_id_case cases[] = {
        {"<saml:NameID>", "<saml:NameID>MY-000123</saml:NameID>"},
        {"<saml:NameID Format=\"\">", "<saml:NameID>MY-000123</saml:NameID>"},
        {"<saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">",
         "<saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">"
         "MY-000123</saml:NameID>"},
        /* A persistent or transient NameID without NameQualifier is qualified by its
         * Issuer, which the attestation then names, because its own Issuer is the node. */
        {"<saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\">",
         "<saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\" "
         "NameQualifier=\"" PEER_ENTITY_ID "\">MY-000123</saml:NameID>"},
        {"<saml:NameID Format=\"" PERSISTENT "\">",
         "<saml:NameID Format=\"" PERSISTENT "\" NameQualifier=\"" PEER_ENTITY_ID
         "\">MY-000123</saml:NameID>"},
        {"<saml:NameID SPProvidedID=\"acct-7\" SPNameQualifier=\"" RP_ENTITY_ID
         "\" NameQualifier=\"https://idp.example/q\" Format=\"" PERSISTENT "\">",
         "<saml:NameID Format=\"" PERSISTENT "\" NameQualifier=\"https://idp.example/q\" "
         "SPNameQualifier=\"" RP_ENTITY_ID "\" SPProvidedID=\"acct-7\">MY-000123</saml:NameID>"},
        {"<saml:NameID NameQualifier=\"https://idp.example/q\">",
         "<saml:NameID NameQualifier=\"https://idp.example/q\">MY-000123</saml:NameID>"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = peer_assertion(cases[i].received, "");
        char *attestation = accepted_attestation(xml);
        char *name_id = element_of(attestation, "<saml:NameID", "</saml:NameID>");

        print_message("    %s -> %s\n", cases[i].received, name_id != NULL ? name_id : "none");
        assert_non_null(name_id);
        assert_string_equal(name_id, cases[i].signed_);
        assert_int_equal(xmlsec_verify_attestation(attestation), 0);
        free(name_id);
        free(attestation);
        free(xml);
    }
}

/* A NameID qualifier that the signer cannot carry is rejected before anything is
 * recorded, like the NameID itself. */
static void test_name_id_qualifier_too_long(void **state)
{
    char tag[64 + 1100];
    char *xml;
    http_result result;

    (void)state;
    snprintf(tag, sizeof(tag), "<saml:NameID SPProvidedID=\"%01100d\">", 7);
    xml = peer_assertion(tag, "");
    post_assertion(xml, &result);
    expect_problem(&result, 422, "name_id_invalid");
    http_result_clear(&result);
    post_assertion(xml, &result);
    expect_problem(&result, 422, "name_id_invalid");
    http_result_clear(&result);
    free(xml);
}

/* ---- the AuthnStatement copied into the attestation ---------------------------------- */

static void test_authn_statement_copied(void **state)
{
    char *xml = peer_assertion("<saml:NameID>", "");
    char *attestation = accepted_attestation(xml);
    char *statement = element_of(attestation, "<saml:AuthnStatement", ">");

    char *context = element_of(attestation, "<saml:AuthnContext>", "</saml:AuthnContext>");

    (void)state;
    /* The subject authenticated at the time the verified assertion states, not when the
     * node signed, and the peer, not the node, authenticated it. */
    assert_non_null(statement);
    assert_string_equal(statement, "<saml:AuthnStatement AuthnInstant=\"" AUTHN_INSTANT "\">");
    assert_non_null(context);
    assert_string_equal(context, "<saml:AuthnContext><saml:AuthnContextClassRef>" AUTHN_CLASS
                                 "</saml:AuthnContextClassRef><saml:AuthenticatingAuthority>"
                                 PEER_ENTITY_ID "</saml:AuthenticatingAuthority>"
                                 "</saml:AuthnContext>");
    assert_int_equal(xmlsec_verify_attestation(attestation), 0);
    free(context);
    free(statement);
    free(attestation);
    free(xml);

    /* The authorities the assertion lists follow the peer. */
    xml = peer_assertion_with(
        "<saml:NameID>", "",
        "<saml:AuthnStatement AuthnInstant=\"" AUTHN_INSTANT "\"><saml:AuthnContext>"
        "<saml:AuthnContextClassRef>" AUTHN_CLASS "</saml:AuthnContextClassRef>"
        "<saml:AuthenticatingAuthority> https://upstream.example/idp </saml:AuthenticatingAuthority>"
        "</saml:AuthnContext></saml:AuthnStatement>");
    attestation = accepted_attestation(xml);
    context = element_of(attestation, "<saml:AuthnContext>", "</saml:AuthnContext>");
    assert_non_null(context);
    assert_string_equal(context, "<saml:AuthnContext><saml:AuthnContextClassRef>" AUTHN_CLASS
                                 "</saml:AuthnContextClassRef><saml:AuthenticatingAuthority>"
                                 PEER_ENTITY_ID "</saml:AuthenticatingAuthority>"
                                 "<saml:AuthenticatingAuthority>https://upstream.example/idp"
                                 "</saml:AuthenticatingAuthority></saml:AuthnContext>");
    assert_int_equal(xmlsec_verify_attestation(attestation), 0);
    free(context);
    free(attestation);
    free(xml);

    /* No AuthnStatement: the attestation states no authentication either. */
    xml = peer_assertion_with("<saml:NameID>", "", "");
    attestation = accepted_attestation(xml);
    assert_null(strstr(attestation, "AuthnStatement"));
    assert_null(strstr(attestation, "AuthnContext"));
    assert_int_equal(xmlsec_verify_attestation(attestation), 0);
    free(attestation);
    free(xml);
}

static void test_authenticating_authority_too_long(void **state)
{
    char statement[512 + 1100];
    char *xml;
    http_result result;

    (void)state;
    snprintf(statement, sizeof(statement),
             "<saml:AuthnStatement AuthnInstant=\"" AUTHN_INSTANT "\"><saml:AuthnContext>"
             "<saml:AuthnContextClassRef>" AUTHN_CLASS "</saml:AuthnContextClassRef>"
             "<saml:AuthenticatingAuthority>urn:x:%01100d</saml:AuthenticatingAuthority>"
             "</saml:AuthnContext></saml:AuthnStatement>",
             7);
    xml = peer_assertion_with("<saml:NameID>", "", statement);
    post_assertion(xml, &result);
    expect_problem(&result, 422, "assurance_invalid");
    http_result_clear(&result);
    free(xml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_condition_rejected),
        cmocka_unit_test(test_invalid_conditions_rejected),
        cmocka_unit_test(test_proxy_restriction_forbids),
        cmocka_unit_test(test_proxy_restriction_passed_on),
        cmocka_unit_test(test_no_proxy_restriction_added),
        cmocka_unit_test(test_one_time_use_honoured),
        cmocka_unit_test(test_name_id_format_copied),
        cmocka_unit_test(test_name_id_qualifier_too_long),
        cmocka_unit_test(test_authn_statement_copied),
        cmocka_unit_test(test_authenticating_authority_too_long),
    };

    return cmocka_run_group_tests(tests, start_server, stop_server);
}
