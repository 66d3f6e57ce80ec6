/*
 * Interop, the xmlsec1 command line signs and idsvc verifies. The openssl command line
 * makes RSA-2048 and P-256 file keys in a temporary folder, `xmlsec1 --sign` signs with
 * them, and saml_verify accepts the result with only the public key trusted. A changed
 * byte is rejected as a digest mismatch. The template is indented and declares
 * xs and xsi on the Assertion, a layout that the idsvc signer never writes.
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

#include "interop_files.h"
#include "saml_build.h"
#include "test_token.h"

#define AUDIENCE "https://node.example.th"
#define ISSUER "https://peer.example.sg"

static char dir[PATH_MAX];

static const char TEMPLATE[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\""
    " xmlns:xs=\"http://www.w3.org/2001/XMLSchema\""
    " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
    " ID=\"%s\" IssueInstant=\"%s\" Version=\"2.0\">\n"
    "  <saml:Issuer>" ISSUER "</saml:Issuer>\n"
    "  <ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\n"
    "    <ds:SignedInfo>\n"
    "      <ds:CanonicalizationMethod "
    "Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\n"
    "      <ds:SignatureMethod Algorithm=\"%s\"/>\n"
    "      <ds:Reference URI=\"#%s\">\n"
    "        <ds:Transforms>\n"
    "          <ds:Transform"
    " Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\n"
    "          <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">\n"
    "            <ec:InclusiveNamespaces"
    " xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"xs\"/>\n"
    "          </ds:Transform>\n"
    "        </ds:Transforms>\n"
    "        <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n"
    "        <ds:DigestValue/>\n"
    "      </ds:Reference>\n"
    "    </ds:SignedInfo>\n"
    "    <ds:SignatureValue/>\n"
    "  </ds:Signature>\n"
    "  <saml:Subject>\n"
    "    <saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">"
    "SG-7781</saml:NameID>\n"
    "    <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">"
    "<saml:SubjectConfirmationData NotOnOrAfter=\"%s\"/></saml:SubjectConfirmation>\n"
    "  </saml:Subject>\n"
    "  <saml:Conditions NotBefore=\"%s\" NotOnOrAfter=\"%s\">\n"
    "    <saml:AudienceRestriction><saml:Audience>" AUDIENCE
    "</saml:Audience></saml:AudienceRestriction>\n"
    "  </saml:Conditions>\n"
    "  <saml:AuthnStatement AuthnInstant=\"%s\"><saml:AuthnContext>"
    "<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
    "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>\n"
    "  <saml:AttributeStatement>\n"
    "    <saml:Attribute Name=\"urn:oid:2.5.4.42\""
    " NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\" "
    "FriendlyName=\"givenName\">"
    "<saml:AttributeValue xsi:type=\"xs:string\">陈伟玲 &amp; Wei "
    "Ling</saml:AttributeValue>"
    "</saml:Attribute>\n"
    "    <saml:Attribute Name=\"urn:oid:1.3.6.1.5.5.7.9.4\""
    " NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\">"
    "<saml:AttributeValue xsi:type=\"xs:string\">SG</saml:AttributeValue>"
    "<saml:AttributeValue "
    "xsi:type=\"xs:string\">MY</saml:AttributeValue></saml:Attribute>\n"
    "  </saml:AttributeStatement>\n"
    "</saml:Assertion>\n";

static int setup(void **state)
{
    char command[2 * PATH_MAX];

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/idsvc-xmlsec-sign-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(
        command, sizeof(command),
        "cd '%s' && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
        "-out rsa.key 2>/dev/null && openssl pkey -in rsa.key -pubout -out rsa.pub && "
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key "
        "&& openssl pkey -in ec.key -pubout -out ec.pub",
        dir);
    return test_run(command) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    char command[PATH_MAX + 16];

    (void)state;
    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    return test_run(command) == 0 ? 0 : -1;
}

/* Fills the template with a fresh ID and a window around now, then runs xmlsec1. */
static char *xmlsec_sign(const char *key_name, const char *algorithm, size_t *len)
{
    char id[SAML_ID_SIZE];
    char now[SAML_TIME_SIZE];
    char before[SAML_TIME_SIZE];
    char after[SAML_TIME_SIZE];
    char template_path[PATH_MAX + 32];
    char signed_path[PATH_MAX + 32];
    char output_path[PATH_MAX + 32];
    char command[4 * PATH_MAX];
    char document[sizeof(TEMPLATE) + 512];
    char *output = NULL;
    char *xml;
    time_t t = time(NULL);
    int written;

    assert_int_equal(saml_new_id(id), 0);
    assert_int_equal(saml_format_time(t, now), 0);
    assert_int_equal(saml_format_time(t - 60, before), 0);
    assert_int_equal(saml_format_time(t + 300, after), 0);
    written = snprintf(document, sizeof(document), TEMPLATE, id, now, algorithm, id,
                       after, before, after, now);
    assert_true(written > 0 && (size_t)written < sizeof(document));

    snprintf(template_path, sizeof(template_path), "%s/template.xml", dir);
    snprintf(signed_path, sizeof(signed_path), "%s/signed.xml", dir);
    snprintf(output_path, sizeof(output_path), "%s/xmlsec1.out", dir);
    assert_int_equal(interop_write_file(template_path, document, (size_t)written), 0);
    snprintf(
        command, sizeof(command),
        "xmlsec1 --sign --id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion "
        "--privkey-pem '%s/%s.key' --output '%s' '%s'",
        dir, key_name, signed_path, template_path);
    if (interop_run_captured(command, output_path, &output) != 0)
        fail_msg("xmlsec1 --sign failed:\n%s", output);
    free(output);

    xml = test_read_file(signed_path, len);
    assert_non_null(xml);
    return xml;
}

static saml_trust_store *trust(const char *key_name)
{
    char path[PATH_MAX + 32];
    char error[256] = "";
    saml_trust_store *store = saml_trust_store_new();
    EVP_PKEY *key;

    snprintf(path, sizeof(path), "%s/%s.pub", dir, key_name);
    key = saml_load_public_pem(path, error, sizeof(error));
    if (key == NULL)
        fail_msg("loading %s failed: %s", path, error);
    assert_non_null(store);
    assert_int_equal(saml_trust_store_add(store, ISSUER, key, 0), 0);
    EVP_PKEY_free(key); /* the store holds its own reference */
    return store;
}

/* Finds a verified attribute by catalogue name, whether the verifier reports the
 * catalogue name or the Attribute Name. */
static const saml_attribute *find_claim(const saml_assertion *assertion, const char *name)
{
    for (size_t i = 0; i < assertion->attribute_count; i++) {
        const char *reported = assertion->attributes[i].name;
        const saml_claim *claim = saml_claim_by_name(reported);

        if (claim == NULL)
            claim = saml_claim_by_uri(reported);
        if (claim != NULL && strcmp(claim->name, name) == 0)
            return &assertion->attributes[i];
    }
    fail_msg("claim %s is missing from the verified assertion", name);
    return NULL;
}

static void check_verified(const char *key_name, const char *algorithm)
{
    saml_verify_options options = {.audience = AUDIENCE, .clock_skew_seconds = 60};
    saml_trust_store *store = trust(key_name);
    saml_assertion *assertion = NULL;
    const saml_attribute *given;
    const saml_attribute *nationality;
    char detail[256] = "";
    size_t len = 0;
    char *xml = xmlsec_sign(key_name, algorithm, &len);
    saml_status status =
        saml_verify(store, &options, xml, len, &assertion, detail, sizeof(detail));

    if (status != SAML_OK)
        fail_msg("saml_verify rejected xmlsec1's %s signature: %s: %s", key_name,
                 saml_status_code(status), detail);
    assert_string_equal(assertion->issuer, ISSUER);
    assert_string_equal(assertion->name_id, "SG-7781");
    given = find_claim(assertion, "given_name");
    assert_int_equal(given->value_count, 1);
    assert_string_equal(given->values[0], "陈伟玲 & Wei Ling");
    nationality = find_claim(assertion, "nationality");
    assert_int_equal(nationality->value_count, 2);
    assert_string_equal(nationality->values[1], "MY");
    saml_assertion_free(&assertion);

    /* A changed claim byte must fail on the reference digest. */
    char *at = strstr(xml, "Wei Ling");
    assert_non_null(at);
    at[0] = 'V';
    status = saml_verify(store, &options, xml, len, &assertion, detail, sizeof(detail));
    assert_null(assertion);
    if (status != SAML_ERR_DIGEST_MISMATCH)
        fail_msg("expected digest_mismatch, got %s: %s", saml_status_code(status),
                 detail);

    free(xml);
    saml_trust_store_free(&store);
}

static void rsa_from_xmlsec1_verifies(void **state)
{
    (void)state;
    check_verified("rsa", SAML_ALG_RSA_SHA256);
}

static void ecdsa_from_xmlsec1_verifies(void **state)
{
    (void)state;
    check_verified("ec", SAML_ALG_ECDSA_SHA256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rsa_from_xmlsec1_verifies),
        cmocka_unit_test(ecdsa_from_xmlsec1_verifies),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
