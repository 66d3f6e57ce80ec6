/* Registrations whose attestation certificate breaks one requirement of WebAuthn
 * Level 3: the packed certificate (section 8.2.1), the TPM AIK certificate (section
 * 8.3.1) and the AAGUID extension. Each case changes one field of a certificate from the
 * software authenticator's test CA, signs it again with the CA key, and asserts the
 * rejection code and a part of its sentence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/x509v3.h>

#include "soft_authenticator.h"
#include "webauthn.h"

typedef struct fixture {
    soft_authenticator auth;
    soft_ca ca;
    soft_ceremony ceremony;
    webauthn_verifier *verifier;
    webauthn_registration *reg;
    webauthn_error err;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || soft_authenticator_init(&f->auth, -7) != 0)
        return -1;
    if (soft_ca_init(&f->ca, f->auth.aaguid) != 0 || soft_ca_add_aik(&f->ca) != 0)
        return -1;
    soft_ceremony_defaults(&f->ceremony);
    f->ceremony.ca = &f->ca;
    f->verifier = webauthn_verifier_new(SOFT_RP_ID);
    if (f->verifier == NULL ||
        webauthn_verifier_add_origin(f->verifier, SOFT_ORIGIN) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    webauthn_registration_free(&f->reg);
    webauthn_verifier_free(&f->verifier);
    soft_ca_clear(&f->ca);
    soft_authenticator_clear(&f->auth);
    free(f);
    return 0;
}

static webauthn_code run(fixture *f)
{
    return soft_register_verify(&f->auth, &f->ceremony, NULL, 0, f->verifier, &f->reg,
                                &f->err);
}

/* Asserts a rejection by code and a part of its sentence. */
static void assert_rejected(fixture *f, webauthn_code expected, const char *reason)
{
    webauthn_code code = run(f);

    if (code != expected)
        fail_msg("expected %s, got %s: %s", webauthn_code_name(expected),
                 webauthn_code_name(code), f->err.message);
    assert_null(f->reg);
    if (strstr(f->err.message, reason) == NULL)
        fail_msg("the sentence does not say \"%s\": %s", reason, f->err.message);
}

static void assert_accepted(fixture *f)
{
    webauthn_code code = run(f);

    if (code != WEBAUTHN_OK)
        fail_msg("expected ok, got %s: %s", webauthn_code_name(code), f->err.message);
    assert_non_null(f->reg);
}

/* ---- Certificate edits ------------------------------------------------------------- */

static void delete_extension(X509 *cert, int nid)
{
    int index;

    while ((index = X509_get_ext_by_NID(cert, nid, -1)) >= 0)
        X509_EXTENSION_free(X509_delete_ext(cert, index));
}

/* Replaces the extension nid by value, in the syntax of openssl x509v3_config, or only
 * deletes it when value is NULL. */
static void set_extension(const soft_ca *ca, X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *extension;

    delete_extension(cert, nid);
    if (value == NULL)
        return;
    X509V3_set_ctx(&ctx, ca->ca_cert, cert, NULL, NULL, 0);
    extension = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(extension);
    assert_int_equal(X509_add_ext(cert, extension, -1), 1);
    X509_EXTENSION_free(extension);
}

/* Replaces the extension named by oid with DER content, or deletes it when der is
 * NULL. */
static void set_raw_extension(X509 *cert, const char *oid, int critical,
                              const unsigned char *der, size_t der_len)
{
    ASN1_OBJECT *object = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    X509_EXTENSION *extension;
    int index;

    assert_non_null(object);
    while ((index = X509_get_ext_by_OBJ(cert, object, -1)) >= 0)
        X509_EXTENSION_free(X509_delete_ext(cert, index));
    if (der != NULL) {
        assert_int_equal(ASN1_OCTET_STRING_set(value, der, (int)der_len), 1);
        extension = X509_EXTENSION_create_by_OBJ(NULL, object, critical, value);
        assert_non_null(extension);
        assert_int_equal(X509_add_ext(cert, extension, -1), 1);
        X509_EXTENSION_free(extension);
    }
    ASN1_OCTET_STRING_free(value);
    ASN1_OBJECT_free(object);
}

/* Replaces the subject by the entries of "C=MY/O=..." text. The text "" gives an empty
 * subject. */
static void set_subject(X509 *cert, const char *text)
{
    X509_NAME *name = X509_NAME_new();
    char copy[256];

    snprintf(copy, sizeof(copy), "%s", text);
    for (char *part = strtok(copy, "/"); part != NULL; part = strtok(NULL, "/")) {
        char *equals = strchr(part, '=');

        assert_non_null(equals);
        *equals = '\0';
        assert_int_equal(X509_NAME_add_entry_by_txt(name, part, MBSTRING_UTF8,
                                                    (const unsigned char *)equals + 1,
                                                    -1, -1, 0),
                         1);
    }
    assert_int_equal(X509_set_subject_name(cert, name), 1);
    X509_NAME_free(name);
}

static void resign(const soft_ca *ca, X509 *cert)
{
    assert_true(X509_sign(cert, ca->ca_key, ca->ca_md) > 0);
}

/* Sets the AIK subject alternative name to a directoryName of the given attribute
 * entries, "OID=value" joined by "/", and an optional DNS name. */
static void set_aik_san(fixture *f, const char *directory, const char *dns, int critical)
{
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    char copy[256];

    assert_non_null(names);
    if (directory != NULL) {
        GENERAL_NAME *name = GENERAL_NAME_new();
        X509_NAME *entries = X509_NAME_new();

        snprintf(copy, sizeof(copy), "%s", directory);
        for (char *part = strtok(copy, "/"); part != NULL; part = strtok(NULL, "/")) {
            char *equals = strchr(part, '=');

            *equals = '\0';
            assert_int_equal(X509_NAME_add_entry_by_txt(entries, part, MBSTRING_UTF8,
                                                        (const unsigned char *)equals + 1,
                                                        -1, -1, 0),
                             1);
        }
        GENERAL_NAME_set0_value(name, GEN_DIRNAME, entries);
        sk_GENERAL_NAME_push(names, name);
    }
    if (dns != NULL) {
        GENERAL_NAME *name = GENERAL_NAME_new();
        ASN1_IA5STRING *text = ASN1_IA5STRING_new();

        ASN1_STRING_set(text, dns, -1);
        GENERAL_NAME_set0_value(name, GEN_DNS, text);
        sk_GENERAL_NAME_push(names, name);
    }
    delete_extension(f->ca.aik_cert, NID_subject_alt_name);
    assert_int_equal(X509_add1_ext_i2d(f->ca.aik_cert, NID_subject_alt_name, names,
                                       critical, X509V3_ADD_DEFAULT),
                     1);
    GENERAL_NAMES_free(names);
    resign(&f->ca, f->ca.aik_cert);
}

#define TPM_MANUFACTURER "2.23.133.2.1=id:FFFFF1D0"
#define TPM_MODEL "2.23.133.2.2=NPCT6xx"
#define TPM_VERSION "2.23.133.2.3=id:13"

/* ---- packed ------------------------------------------------------------------------ */

static void packed_cert_accepted(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    assert_accepted(f);
}

/* Registers with the certificate's signatureValue BIT STRING declaring 2 unused bits,
 * as some Security Key by Yubico certificates do, under the chain policy. */
static void assert_unused_bits_trusted(fixture *f, soft_format format)
{
    f->ceremony.format = format;
    f->ceremony.cert_signature_unused_bits = 2;
    assert_int_equal(webauthn_verifier_add_root(f->verifier, f->ca.ca_cert), 0);
    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_CHAIN);
    assert_accepted(f);
    assert_int_equal(f->reg->attestation, WEBAUTHN_ATTESTED_TRUSTED);
}

static void packed_cert_unused_bits_trusted(void **state)
{
    assert_unused_bits_trusted(*state, SOFT_FORMAT_PACKED_X5C);
}

static void u2f_cert_unused_bits_trusted(void **state)
{
    assert_unused_bits_trusted(*state, SOFT_FORMAT_FIDO_U2F);
}

/* The count is read as zero, but the signature must still verify with the CA key. */
static void unused_bits_other_ca_rejected(void **state)
{
    fixture *f = *state;
    soft_ca other;

    assert_int_equal(soft_ca_init(&other, f->auth.aaguid), 0);
    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    f->ceremony.cert_signature_unused_bits = 2;
    assert_int_equal(webauthn_verifier_add_root(f->verifier, other.ca_cert), 0);
    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_CHAIN);
    assert_rejected(f, WEBAUTHN_ATTESTATION_CHAIN_INVALID, "does not verify");
    soft_ca_clear(&other);
}

static void packed_cert_version_1_rejected(void **state)
{
    fixture *f = *state;

    assert_int_equal(X509_set_version(f->ca.attestation_cert, X509_VERSION_1), 1);
    resign(&f->ca, f->ca.attestation_cert);
    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID, "not X.509 version 3");
}

static void packed_cert_subject_rejected(void **state)
{
    static const char *const subjects[] = {
        "O=idsvc tests/OU=Authenticator Attestation/CN=Soft Authenticator",
        "C=MY/OU=Authenticator Attestation/CN=Soft Authenticator",
        "C=MY/O=idsvc tests/CN=Soft Authenticator",
        "C=MY/O=idsvc tests/OU=Authenticator attestation/CN=Soft Authenticator",
        "C=MY/O=idsvc tests/OU=Authenticator Attestation",
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
        set_subject(f->ca.attestation_cert, subjects[i]);
        resign(&f->ca, f->ca.attestation_cert);
        f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
        assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID, "subject lacks C, O, CN");
    }
}

static void packed_cert_ca_rejected(void **state)
{
    fixture *f = *state;

    set_extension(&f->ca, f->ca.attestation_cert, NID_basic_constraints,
                  "critical,CA:TRUE");
    resign(&f->ca, f->ca.attestation_cert);
    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID, "is a CA certificate");
}

/* Without basic constraints a certificate is no CA (RFC 5280, section 4.2.1.9). */
static void packed_cert_without_constraints_accepted(void **state)
{
    fixture *f = *state;

    set_extension(&f->ca, f->ca.attestation_cert, NID_basic_constraints, NULL);
    resign(&f->ca, f->ca.attestation_cert);
    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    assert_accepted(f);
}

static void aaguid_extension_critical_rejected(void **state)
{
    fixture *f = *state;
    unsigned char der[18] = {0x04, 0x10};

    memcpy(der + 2, f->auth.aaguid, 16);
    set_raw_extension(f->ca.attestation_cert, "1.3.6.1.4.1.45724.1.1.4", 1, der,
                      sizeof(der));
    resign(&f->ca, f->ca.attestation_cert);
    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID, "critical");
}

/* The AAGUID bytes without the inner OCTET STRING, a 15-byte value, and a value with a
 * byte after it. */
static void aaguid_extension_encoding_rejected(void **state)
{
    fixture *f = *state;
    unsigned char der[19] = {0x04, 0x10};
    const struct {
        const unsigned char *bytes;
        size_t len;
    } cases[] = {{der + 2, 16}, {(const unsigned char[]){0x04, 0x0f, 1, 2, 3, 4, 5, 6, 7,
                                                         8, 9, 10, 11, 12, 13, 14, 15},
                                 17},
                 {der, 19}};

    memcpy(der + 2, f->auth.aaguid, 16);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        set_raw_extension(f->ca.attestation_cert, "1.3.6.1.4.1.45724.1.1.4", 0,
                          cases[i].bytes, cases[i].len);
        resign(&f->ca, f->ca.attestation_cert);
        f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
        assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID, "16-byte OCTET STRING");
    }
}

static void aaguid_extension_absent_accepted(void **state)
{
    fixture *f = *state;

    set_raw_extension(f->ca.attestation_cert, "1.3.6.1.4.1.45724.1.1.4", 0, NULL, 0);
    resign(&f->ca, f->ca.attestation_cert);
    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    assert_accepted(f);
}

/* ---- tpm --------------------------------------------------------------------------- */

static void tpm_aik_accepted(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_alg = -257;
    assert_accepted(f);
}

static void tpm_aik_version_1_rejected(void **state)
{
    fixture *f = *state;

    assert_int_equal(X509_set_version(f->ca.aik_cert, X509_VERSION_1), 1);
    resign(&f->ca, f->ca.aik_cert);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_alg = -257;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID, "not X.509 version 3");
}

static void tpm_aik_subject_rejected(void **state)
{
    fixture *f = *state;

    set_subject(f->ca.aik_cert, "CN=Soft TPM");
    resign(&f->ca, f->ca.aik_cert);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_alg = -257;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID, "subject is not empty");
}

static void tpm_aik_without_eku_rejected(void **state)
{
    fixture *f = *state;

    set_extension(&f->ca, f->ca.aik_cert, NID_ext_key_usage, "serverAuth");
    resign(&f->ca, f->ca.aik_cert);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_alg = -257;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID, "2.23.133.8.3");
}

static void tpm_aik_ca_rejected(void **state)
{
    fixture *f = *state;

    set_extension(&f->ca, f->ca.aik_cert, NID_basic_constraints, "critical,CA:TRUE");
    resign(&f->ca, f->ca.aik_cert);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_alg = -257;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID, "is a CA certificate");
}

static void tpm_aik_without_san_rejected(void **state)
{
    fixture *f = *state;

    delete_extension(f->ca.aik_cert, NID_subject_alt_name);
    resign(&f->ca, f->ca.aik_cert);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_alg = -257;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID, "no subject alternative name");
}

/* A subject alternative name twice, or one that is not a GeneralNames SEQUENCE. */
static void tpm_aik_san_invalid_rejected(void **state)
{
    static const unsigned char not_names[] = {0x04, 0x01, 0x00};
    fixture *f = *state;
    GENERAL_NAMES *names = X509_get_ext_d2i(f->ca.aik_cert, NID_subject_alt_name, NULL,
                                            NULL);

    assert_non_null(names);
    assert_int_equal(X509_add1_ext_i2d(f->ca.aik_cert, NID_subject_alt_name, names, 1,
                                       X509V3_ADD_APPEND),
                     1);
    GENERAL_NAMES_free(names);
    resign(&f->ca, f->ca.aik_cert);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_alg = -257;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID, "is repeated or cannot be decoded");

    set_raw_extension(f->ca.aik_cert, "2.5.29.17", 1, not_names, sizeof(not_names));
    resign(&f->ca, f->ca.aik_cert);
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID, "is repeated or cannot be decoded");
}

/* The TCG EK Credential Profile for TPM 2.0 (section 3.2.9) puts the manufacturer, the
 * model and the version in a directoryName of the subject alternative name. */
static void tpm_aik_san_attributes_rejected(void **state)
{
    static const struct {
        const char *directory;
        const char *dns;
        const char *missing;
    } cases[] = {
        {NULL, "tpm.example.org", "tcg-at-tpmManufacturer"},
        {TPM_MODEL "/" TPM_VERSION, NULL, "tcg-at-tpmManufacturer"},
        {TPM_MANUFACTURER "/" TPM_VERSION, NULL, "tcg-at-tpmModel"},
        {TPM_MANUFACTURER "/" TPM_MODEL, NULL, "tcg-at-tpmVersion"},
        {"CN=TPM", NULL, "tcg-at-tpmManufacturer"},
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        set_aik_san(f, cases[i].directory, cases[i].dns, 1);
        f->ceremony.format = SOFT_FORMAT_TPM;
        f->ceremony.tpm_alg = -257;
        assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID, cases[i].missing);
    }
}

/* An AIK certificate carries the manufacturer as "id:" and the 4-byte TCG vendor id in
 * 8 hexadecimal digits; another form is rejected. */
static void tpm_aik_manufacturer_form_rejected(void **state)
{
    static const char *const manufacturers[] = {
        "2.23.133.2.1=Nuvoton",      "2.23.133.2.1=id:4E5443",
        "2.23.133.2.1=id:4E54430G",  "2.23.133.2.1=ID:4E544300",
        "2.23.133.2.1=id:4E5443000", "2.23.133.2.1= id:4E544300",
    };
    fixture *f = *state;
    char directory[128];

    for (size_t i = 0; i < sizeof(manufacturers) / sizeof(manufacturers[0]); i++) {
        snprintf(directory, sizeof(directory), "%s/" TPM_MODEL "/" TPM_VERSION,
                 manufacturers[i]);
        set_aik_san(f, directory, NULL, 1);
        f->ceremony.format = SOFT_FORMAT_TPM;
        f->ceremony.tpm_alg = -257;
        assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID, "tcg-at-tpmManufacturer is not");
    }
}

/* The attributes may come in any order, with other names beside them. */
static void tpm_aik_san_attributes_accepted(void **state)
{
    fixture *f = *state;

    set_aik_san(f, TPM_VERSION "/" TPM_MODEL "/" TPM_MANUFACTURER, "tpm.example.org", 1);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_alg = -257;
    assert_accepted(f);
}

static void tpm_aik_aaguid_mismatch_rejected(void **state)
{
    fixture *f = *state;
    unsigned char der[18] = {0x04, 0x10};

    memset(der + 2, 0x77, 16);
    set_raw_extension(f->ca.aik_cert, "1.3.6.1.4.1.45724.1.1.4", 0, der, sizeof(der));
    resign(&f->ca, f->ca.aik_cert);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_alg = -257;
    assert_rejected(f, WEBAUTHN_AAGUID_MISMATCH, "differs");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(packed_cert_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(packed_cert_unused_bits_trusted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(u2f_cert_unused_bits_trusted, setup, teardown),
        cmocka_unit_test_setup_teardown(unused_bits_other_ca_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(packed_cert_version_1_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(packed_cert_subject_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(packed_cert_ca_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(packed_cert_without_constraints_accepted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(aaguid_extension_critical_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(aaguid_extension_encoding_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(aaguid_extension_absent_accepted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_aik_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(tpm_aik_version_1_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(tpm_aik_subject_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(tpm_aik_without_eku_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(tpm_aik_ca_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(tpm_aik_without_san_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(tpm_aik_san_invalid_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(tpm_aik_san_attributes_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(tpm_aik_manufacturer_form_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_aik_san_attributes_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(tpm_aik_aaguid_mismatch_rejected, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
