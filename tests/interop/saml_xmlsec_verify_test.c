/*
 * Interop, idsvc signs and the xmlsec1 command line verifies. Assertions signed in a
 * SoftHSM2 token with RSA-2048 and P-256 verify in xmlsec1 given only the certificate,
 * only the public key, or only the CA that issued the certificate in KeyInfo. A changed
 * byte makes xmlsec1 fail for the expected reason. The same holds for the output of
 * `idsvc-admin saml sign`, whose input errors are checked too.
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
#include "interop_keys.h"
#include "saml_build.h"

#define XMLSEC_VERIFY                                                                    \
    "xmlsec1 --verify --id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion"

static interop_keys keys;
static interop_ca ca;
static char dir[PATH_MAX];

/* Certificates of the HSM keys, issued by the test CA. */
static X509 *rsa_cert;
static X509 *ec_cert;

/* A P-384 key, which signs with ecdsa-sha256 like every EC key. */
static p11_key *p384;

static void path_in_dir(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static int write_key_files(const char *prefix, p11_key *key, X509 **cert_out)
{
    char path[PATH_MAX + 64];
    char name[64];
    EVP_PKEY *public_key = p11_key_get_public(key, NULL);

    if (public_key == NULL)
        return -1;
    *cert_out = interop_ca_issue(&ca, public_key, prefix);
    EVP_PKEY_free(public_key);
    if (*cert_out == NULL)
        return -1;

    snprintf(name, sizeof(name), "%s-cert.pem", prefix);
    path_in_dir(path, sizeof(path), name);
    if (interop_write_cert_pem(*cert_out, path) != 0)
        return -1;
    snprintf(name, sizeof(name), "%s-pub.pem", prefix);
    path_in_dir(path, sizeof(path), name);
    return interop_write_public_pem(key, path);
}

static int setup(void **state)
{
    char path[PATH_MAX + 64];

    (void)state;
    if (interop_keys_create(&keys) != 0 || interop_ca_create(&ca) != 0)
        return -1;
    snprintf(dir, sizeof(dir), "%s", keys.token_files.dir);

    path_in_dir(path, sizeof(path), "ca.pem");
    if (interop_write_cert_pem(ca.cert, path) != 0)
        return -1;
    if (write_key_files("rsa", keys.rsa, &rsa_cert) != 0 ||
        write_key_files("ec", keys.ec, &ec_cert) != 0)
        return -1;

    if (p11_key_generate(keys.token, P11_KEY_EC_P384, "saml-p384",
                         (const unsigned char *)"\3", 1, &p384, NULL) != 0)
        return -1;
    path_in_dir(path, sizeof(path), "p384-pub.pem");
    return interop_write_public_pem(p384, path);
}

static int teardown(void **state)
{
    (void)state;
    p11_key_free(&p384);
    X509_free(rsa_cert);
    X509_free(ec_cert);
    interop_ca_destroy(&ca);
    interop_keys_destroy(&keys);
    return 0;
}

/* Signs an assertion with claims that include non-ASCII text and escaped characters. */
static char *sign_with(const saml_signer *signer, size_t *len)
{
    char *given[] = {"Siti"};
    char *family[] = {"Nguyễn & <Trần> \"王\""};
    char *nationality[] = {"MY", "SG"};
    char *birth[] = {"1990-02-28"};
    saml_attribute attributes[] = {
        {"given_name", given, 1},
        {"family_name", family, 1},
        {"nationality", nationality, 2},
        {"date_of_birth", birth, 1},
    };
    saml_assertion_spec spec = {
        .issuer = "https://idp.example.my",
        .audience = "https://bank.example.th",
        .name_id = "MY-000123",
        .recipient = "https://bank.example.th/acs",
        .issue_instant = time(NULL),
        .valid_seconds = 300,
        .attributes = attributes,
        .attribute_count = 4,
    };
    p11_error err = {0};
    char *xml = NULL;

    if (saml_build_signed(&spec, signer, &xml, len, &err) != 0)
        fail_msg("signing failed: %s (%s)", err.message, p11_rv_name(err.rv));
    return xml;
}

static char *sign(p11_key *key, X509 *cert, size_t *len)
{
    saml_signer signer = {.key = key, .cert = cert};

    return sign_with(&signer, len);
}

/* Returns a copy of the KeyInfo element of xml. */
static char *key_info_of(const char *xml)
{
    const char *start = strstr(xml, "<ds:KeyInfo>");
    const char *end = start != NULL ? strstr(start, "</ds:KeyInfo>") : NULL;

    assert_non_null(start);
    assert_non_null(end);
    return strndup(start, (size_t)(end - start) + strlen("</ds:KeyInfo>"));
}

/* Writes xml to a file and runs xmlsec1 on it with key_options; returns the status. */
static int xmlsec_verify(const char *xml, size_t len, const char *key_options,
                         char **output)
{
    char xml_path[PATH_MAX + 64];
    char output_path[PATH_MAX + 64];
    char command[4 * PATH_MAX];

    path_in_dir(xml_path, sizeof(xml_path), "signed.xml");
    path_in_dir(output_path, sizeof(output_path), "xmlsec1.out");
    assert_int_equal(interop_write_file(xml_path, xml, len), 0);
    snprintf(command, sizeof(command), XMLSEC_VERIFY " %s %s", key_options, xml_path);
    return interop_run_captured(command, output_path, output);
}

static void expect_verified(const char *xml, size_t len, const char *key_options)
{
    char *output = NULL;
    int status = xmlsec_verify(xml, len, key_options, &output);

    if (status != 0 || strncmp(output, "OK", 2) != 0)
        fail_msg("xmlsec1 %s rejected the assertion (status %d):\n%s", key_options,
                 status, output);
    free(output);
}

static void expect_rejected(const char *xml, size_t len, const char *key_options,
                            const char *reason)
{
    char *output = NULL;
    int status = xmlsec_verify(xml, len, key_options, &output);

    if (status == 0 || strstr(output, "FAIL") == NULL || strstr(output, reason) == NULL)
        fail_msg("expected xmlsec1 to fail with \"%s\", got status %d:\n%s", reason,
                 status, output);
    free(output);
}

/* Returns "--pubkey-cert-pem DIR/NAME" and the like in a static buffer. */
static const char *key_option(const char *option, const char *name)
{
    static char buffer[PATH_MAX + 128];
    char path[PATH_MAX + 64];

    path_in_dir(path, sizeof(path), name);
    snprintf(buffer, sizeof(buffer), "%s %s", option, path);
    return buffer;
}

static void verifies_with_key(p11_key *key, const char *prefix)
{
    char cert_name[64];
    char pub_name[64];
    size_t len = 0;
    char *xml = sign(key, NULL, &len);

    snprintf(cert_name, sizeof(cert_name), "%s-cert.pem", prefix);
    snprintf(pub_name, sizeof(pub_name), "%s-pub.pem", prefix);
    expect_verified(xml, len, key_option("--pubkey-cert-pem", cert_name));
    expect_verified(xml, len, key_option("--pubkey-pem", pub_name));
    free(xml);
}

static void rsa_verifies_in_xmlsec1(void **state)
{
    (void)state;
    verifies_with_key(keys.rsa, "rsa");
}

static void ecdsa_verifies_in_xmlsec1(void **state)
{
    (void)state;
    verifies_with_key(keys.ec, "ec");
}

static void ecdsa_p384_verifies_in_xmlsec1(void **state)
{
    size_t len = 0;
    char *xml;

    (void)state;
    xml = sign(p384, NULL, &len);
    assert_non_null(strstr(xml, SAML_ALG_ECDSA_SHA256));
    expect_verified(xml, len, key_option("--pubkey-pem", "p384-pub.pem"));
    free(xml);
}

/* With the certificate in KeyInfo, xmlsec1 needs only the CA that issued it. */
static void keyinfo_certificate_chains_to_ca(void **state)
{
    size_t len = 0;
    char *rsa_xml;
    char *ec_xml;

    (void)state;
    rsa_xml = sign(keys.rsa, rsa_cert, &len);
    assert_non_null(strstr(rsa_xml, "<ds:X509Certificate>"));
    assert_non_null(strstr(rsa_xml, "<ds:KeyName>saml-rsa</ds:KeyName>"));
    expect_verified(rsa_xml, len, key_option("--trusted-pem", "ca.pem"));
    free(rsa_xml);

    ec_xml = sign(keys.ec, ec_cert, &len);
    expect_verified(ec_xml, len, key_option("--trusted-pem", "ca.pem"));
    free(ec_xml);
}

/* The text of saml_certificate_base64 gives the same KeyInfo bytes as a certificate that
 * the signer encodes itself, with or without the X509 object in the signer. */
static void encoded_certificate_same_key_info(void **state)
{
    char *encoded = saml_certificate_base64(ec_cert);
    saml_signer both = {.key = keys.ec, .cert = ec_cert, .cert_base64 = encoded};
    saml_signer text_only = {.key = keys.ec, .cert_base64 = encoded};
    size_t len = 0;
    char *reference = sign(keys.ec, ec_cert, &len);
    char *with_both = sign_with(&both, &len);
    char *with_text = sign_with(&text_only, &len);
    char *expected = key_info_of(reference);
    char *got_both = key_info_of(with_both);
    char *got_text = key_info_of(with_text);

    (void)state;
    assert_non_null(encoded);
    assert_non_null(strstr(expected, encoded));
    assert_string_equal(got_both, expected);
    assert_string_equal(got_text, expected);
    expect_verified(with_text, len, key_option("--trusted-pem", "ca.pem"));
    assert_null(saml_certificate_base64(NULL));

    free(got_text);
    free(got_both);
    free(expected);
    free(with_text);
    free(with_both);
    free(reference);
    free(encoded);
}

/* Replaces the byte after the first occurrence of marker. */
static void change_byte_after(char *xml, const char *marker)
{
    char *at = strstr(xml, marker);

    assert_non_null(at);
    at += strlen(marker);
    *at = *at == 'A' ? 'B' : 'A';
}

static void changed_byte_fails(p11_key *key, const char *prefix)
{
    char cert_name[64];
    size_t len = 0;
    char *claim = sign(key, NULL, &len);
    char *value = strdup(claim);

    assert_non_null(value);
    snprintf(cert_name, sizeof(cert_name), "%s-cert.pem", prefix);

    /* A changed claim value breaks the reference digest. */
    change_byte_after(claim, ">Sit");
    expect_rejected(claim, len, key_option("--pubkey-cert-pem", cert_name),
                    "data and digest do not match");

    /* A changed signature byte keeps the digest but breaks the signature. */
    change_byte_after(value, "<ds:SignatureValue>");
    expect_rejected(value, len, key_option("--pubkey-cert-pem", cert_name),
                    "SignedInfo References (ok/all): 1/1");
    free(claim);
    free(value);
}

static void rsa_changed_byte_fails(void **state)
{
    (void)state;
    changed_byte_fails(keys.rsa, "rsa");
}

static void ecdsa_changed_byte_fails(void **state)
{
    (void)state;
    changed_byte_fails(keys.ec, "ec");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rsa_verifies_in_xmlsec1),
        cmocka_unit_test(ecdsa_verifies_in_xmlsec1),
        cmocka_unit_test(ecdsa_p384_verifies_in_xmlsec1),
        cmocka_unit_test(keyinfo_certificate_chains_to_ca),
        cmocka_unit_test(encoded_certificate_same_key_info),
        cmocka_unit_test(rsa_changed_byte_fails),
        cmocka_unit_test(ecdsa_changed_byte_fails),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
