/* Credential keys of ES384, ES512, PS256, PS384, PS512, RS384 and RS512: registration
 * under every attestation format that allows them, assertions, and the keys, labels and
 * signatures that must be rejected, each rejection asserting its code and reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "soft_authenticator.h"
#include "webauthn.h"

/* The algorithms added beside ES256, RS256 and EdDSA. */
static const struct {
    int alg;
    const char *name;
} new_algs[] = {
    {-35, "ES384"}, {-36, "ES512"},  {-37, "PS256"},  {-38, "PS384"},
    {-39, "PS512"}, {-258, "RS384"}, {-259, "RS512"},
};
#define NEW_ALG_COUNT (sizeof(new_algs) / sizeof(new_algs[0]))

/* One authenticator per algorithm, made once, because RSA key generation is slow. */
typedef struct group {
    soft_authenticator auths[NEW_ALG_COUNT];
    soft_ca ca;      /* P-256 attestation key and an RSA AIK */
    soft_ca ca_p384; /* P-384 attestation key */
    soft_ca ca_rsa;  /* RSA-2048 attestation key */
} group;

typedef struct outcome {
    webauthn_code code;
    webauthn_error err;
    webauthn_registration *reg;
} outcome;

static int group_setup(void **state)
{
    group *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return -1;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++) {
        if (soft_authenticator_init(&g->auths[i], new_algs[i].alg) != 0)
            return -1;
    }
    if (soft_ca_init(&g->ca, g->auths[0].aaguid) != 0 || soft_ca_add_aik(&g->ca) != 0 ||
        soft_ca_init_curve(&g->ca_p384, g->auths[0].aaguid, "P-384") != 0 ||
        soft_ca_init_curve(&g->ca_rsa, g->auths[0].aaguid, "RSA") != 0)
        return -1;
    *state = g;
    return 0;
}

static int group_teardown(void **state)
{
    group *g = *state;

    for (size_t i = 0; i < NEW_ALG_COUNT; i++)
        soft_authenticator_clear(&g->auths[i]);
    soft_ca_clear(&g->ca);
    soft_ca_clear(&g->ca_p384);
    soft_ca_clear(&g->ca_rsa);
    free(g);
    return 0;
}

static webauthn_verifier *new_verifier(webauthn_attestation_policy policy,
                                       const soft_ca *root)
{
    webauthn_verifier *verifier = webauthn_verifier_new(SOFT_RP_ID);

    assert_non_null(verifier);
    assert_int_equal(webauthn_verifier_add_origin(verifier, SOFT_ORIGIN), 0);
    webauthn_verifier_set_policy(verifier, policy);
    if (root != NULL)
        assert_int_equal(webauthn_verifier_add_root(verifier, root->ca_cert), 0);
    return verifier;
}

static outcome register_with(const webauthn_verifier *verifier,
                             const soft_authenticator *auth,
                             const soft_ceremony *ceremony)
{
    soft_ceremony defaults;
    char *json = soft_register(auth, ceremony, NULL, 0);
    outcome out = {0};

    assert_non_null(json);
    soft_ceremony_defaults(&defaults);
    out.code = webauthn_verify_registration(verifier, defaults.challenge,
                                            sizeof(defaults.challenge), json,
                                            strlen(json), &out.reg, &out.err);
    free(json);
    return out;
}

/* Registers auth under the policy and asserts acceptance with the attestation type,
 * the credential's algorithm and its COSE key. */
static void assert_registered(const soft_authenticator *auth,
                              const soft_ceremony *ceremony,
                              webauthn_attestation_policy policy, const soft_ca *root,
                              webauthn_attestation_type type, const char *what)
{
    webauthn_verifier *verifier = new_verifier(policy, root);
    outcome out = register_with(verifier, auth, ceremony);
    size_t cose_len = 0;
    unsigned char *cose = soft_cose_key(auth, &cose_len);

    if (out.code != WEBAUTHN_OK)
        fail_msg("%s, alg %d: expected ok, got %s: %s", what, auth->alg,
                 webauthn_code_name(out.code), out.err.message);
    assert_int_equal(out.reg->attestation, type);
    assert_int_equal(out.reg->algorithm, auth->alg);
    assert_int_equal(out.reg->public_key_len, cose_len);
    assert_memory_equal(out.reg->public_key, cose, cose_len);
    free(cose);
    webauthn_registration_free(&out.reg);
    webauthn_verifier_free(&verifier);
}

/* Registers auth with the verifier and asserts the rejection code and that the
 * message contains reason. */
static void assert_not_registered(const webauthn_verifier *verifier,
                                  const soft_authenticator *auth,
                                  const soft_ceremony *ceremony, webauthn_code expected,
                                  const char *reason)
{
    outcome out = register_with(verifier, auth, ceremony);

    if (out.code != expected)
        fail_msg("alg %d: expected %s, got %s: %s", auth->alg,
                 webauthn_code_name(expected), webauthn_code_name(out.code),
                 out.err.message);
    assert_int_equal(out.err.code, expected);
    assert_null(out.reg);
    if (strstr(out.err.message, reason) == NULL)
        fail_msg("alg %d: \"%s\" lacks \"%s\"", auth->alg, out.err.message, reason);
}

/* ---- Registration ------------------------------------------------------------------ */

static void none_accepted_for_each_alg(void **state)
{
    group *g = *state;
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.format = SOFT_FORMAT_NONE;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++)
        assert_registered(&g->auths[i], &ceremony, WEBAUTHN_ATTESTATION_ANY, NULL,
                          WEBAUTHN_ATTESTED_NONE, "none");
}

static void packed_self_accepted_for_each_alg(void **state)
{
    group *g = *state;
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    for (size_t i = 0; i < NEW_ALG_COUNT; i++)
        assert_registered(&g->auths[i], &ceremony, WEBAUTHN_ATTESTATION_SELF, NULL,
                          WEBAUTHN_ATTESTED_SELF, "packed self");
}

/* An ES256 attestation certificate signs for each new credential key. */
static void packed_x5c_es256_for_each_alg(void **state)
{
    group *g = *state;
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.format = SOFT_FORMAT_PACKED_X5C;
    ceremony.ca = &g->ca;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++)
        assert_registered(&g->auths[i], &ceremony, WEBAUTHN_ATTESTATION_CHAIN, &g->ca,
                          WEBAUTHN_ATTESTED_TRUSTED, "packed x5c ES256");
}

/* Attestation certificates that sign with ES384 (P-384) and PS256 (RSA), for each new
 * credential key. */
static void packed_x5c_new_statement_algs(void **state)
{
    group *g = *state;
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.format = SOFT_FORMAT_PACKED_X5C;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++) {
        ceremony.ca = &g->ca_p384;
        ceremony.packed_alg = -35;
        assert_registered(&g->auths[i], &ceremony, WEBAUTHN_ATTESTATION_CHAIN,
                          &g->ca_p384, WEBAUTHN_ATTESTED_TRUSTED, "packed x5c ES384");
        ceremony.ca = &g->ca_rsa;
        ceremony.packed_alg = -37;
        assert_registered(&g->auths[i], &ceremony, WEBAUTHN_ATTESTATION_CHAIN, &g->ca_rsa,
                          WEBAUTHN_ATTESTED_TRUSTED, "packed x5c PS256");
    }
}

/* A statement alg whose curve is not the certificate key's: ES512 by a P-384 key. */
static void packed_x5c_wrong_curve_rejected(void **state)
{
    group *g = *state;
    webauthn_verifier *verifier = new_verifier(WEBAUTHN_ATTESTATION_ANY, NULL);
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.format = SOFT_FORMAT_PACKED_X5C;
    ceremony.ca = &g->ca_p384;
    ceremony.packed_alg = -36;
    assert_not_registered(verifier, &g->auths[0], &ceremony, WEBAUTHN_ATTESTATION_INVALID,
                          "does not fit alg -36 (ES512)");
    webauthn_verifier_free(&verifier);
}

/* A packed x5c statement by a P-256 key in an existing combination stays with
 * libfido2 and is still accepted. */
static void packed_x5c_es256_credential_unchanged(void **state)
{
    soft_authenticator auth;
    soft_ceremony ceremony;
    group *g = *state;

    assert_int_equal(soft_authenticator_init(&auth, -7), 0);
    soft_ceremony_defaults(&ceremony);
    ceremony.format = SOFT_FORMAT_PACKED_X5C;
    ceremony.ca = &g->ca;
    assert_registered(&auth, &ceremony, WEBAUTHN_ATTESTATION_CHAIN, &g->ca,
                      WEBAUTHN_ATTESTED_TRUSTED, "packed x5c ES256 key");
    soft_authenticator_clear(&auth);
}

static void tampered_self_signature_rejected(void **state)
{
    group *g = *state;
    webauthn_verifier *verifier = new_verifier(WEBAUTHN_ATTESTATION_ANY, NULL);
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.tamper_signature = true;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++)
        assert_not_registered(verifier, &g->auths[i], &ceremony,
                              WEBAUTHN_ATTESTATION_INVALID, "signature does not verify");
    webauthn_verifier_free(&verifier);
}

/* Sets up a tpm ceremony whose AIK certificate comes from ca, with statement alg RS1
 * unless the test sets tpm_alg. */
static void tpm_ceremony(soft_ceremony *ceremony, const soft_ca *ca)
{
    soft_ceremony_defaults(ceremony);
    ceremony->format = SOFT_FORMAT_TPM;
    ceremony->ca = ca;
}

/* tpm statements by an RSA AIK (RS256) over ECDSA P-384 and P-521 keys and RSA keys
 * of the PS and RS algorithms. */
static void tpm_accepted_for_each_alg(void **state)
{
    group *g = *state;
    soft_ceremony ceremony;

    tpm_ceremony(&ceremony, &g->ca);
    ceremony.tpm_alg = -257;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++)
        assert_registered(&g->auths[i], &ceremony, WEBAUTHN_ATTESTATION_CHAIN, &g->ca,
                          WEBAUTHN_ATTESTED_TRUSTED, "tpm");
}

/* A pubArea that describes another point or modulus than the credential key. */
static void tpm_other_key_rejected(void **state)
{
    group *g = *state;
    webauthn_verifier *verifier = new_verifier(WEBAUTHN_ATTESTATION_ANY, NULL);
    soft_ceremony ceremony;

    tpm_ceremony(&ceremony, &g->ca);
    ceremony.tpm_alg = -257;
    ceremony.tpm_fault = SOFT_TPM_OTHER_KEY;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++)
        assert_not_registered(verifier, &g->auths[i], &ceremony,
                              WEBAUTHN_ATTESTATION_INVALID, "describes another key");
    webauthn_verifier_free(&verifier);
}

/* tpm statements with alg RS1, which libfido2 1.12 does not verify over these keys, so
 * that only the checks of webauthn_attest_tpm_info.c apply. */
static void tpm_rs1_accepted_for_each_alg(void **state)
{
    group *g = *state;
    soft_ceremony ceremony;

    tpm_ceremony(&ceremony, &g->ca);
    for (size_t i = 0; i < NEW_ALG_COUNT; i++)
        assert_registered(&g->auths[i], &ceremony, WEBAUTHN_ATTESTATION_CHAIN, &g->ca,
                          WEBAUTHN_ATTESTED_TRUSTED, "tpm RS1");
}

/* Every hash that TPM 2.0 defines as a nameAlg and OpenSSL computes, SM3 included. The
 * attested name in certInfo is hashed with the same one. */
static void tpm_rs1_name_algs_accepted(void **state)
{
    static const struct {
        unsigned id;
        const char *name;
    } name_algs[] = {
        {0x0004, "tpm nameAlg SHA-1"},    {0x000b, "tpm nameAlg SHA-256"},
        {0x000c, "tpm nameAlg SHA-384"},  {0x000d, "tpm nameAlg SHA-512"},
        {0x0012, "tpm nameAlg SM3"},      {0x0027, "tpm nameAlg SHA3-256"},
        {0x0028, "tpm nameAlg SHA3-384"}, {0x0029, "tpm nameAlg SHA3-512"},
    };
    group *g = *state;
    soft_ceremony ceremony;

    tpm_ceremony(&ceremony, &g->ca);
    for (size_t n = 0; n < sizeof(name_algs) / sizeof(name_algs[0]); n++) {
        ceremony.tpm_name_alg = name_algs[n].id;
        for (size_t i = 0; i < NEW_ALG_COUNT; i++)
            assert_registered(&g->auths[i], &ceremony, WEBAUTHN_ATTESTATION_ANY, NULL,
                              WEBAUTHN_ATTESTED_BASIC, name_algs[n].name);
    }
}

/* A pubArea whose scheme is the credential key's own signing scheme and hash, and
 * whose ECC kdf is MGF1, in place of TPM_ALG_NULL. */
static void tpm_rs1_signing_schemes_accepted(void **state)
{
    group *g = *state;
    soft_ceremony ceremony;

    tpm_ceremony(&ceremony, &g->ca);
    ceremony.tpm_schemes = true;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++)
        assert_registered(&g->auths[i], &ceremony, WEBAUTHN_ATTESTATION_ANY, NULL,
                          WEBAUTHN_ATTESTED_BASIC, "tpm RS1 with schemes");
}

/* Each check of pubArea and certInfo, with a statement that the AIK signed by RS1. */
static void tpm_rs1_structure_faults_named(void **state)
{
    enum { ANY_KEY, EC_KEY, RSA_KEY };
    static const struct {
        soft_tpm_fault fault;
        unsigned name_alg; /* 0 for SHA-256 */
        int keys;
        const char *reason;
    } cases[] = {
        {SOFT_TPM_MAGIC, 0, ANY_KEY, "magic is 0xfe544347, not TPM_GENERATED_VALUE"},
        {SOFT_TPM_TYPE, 0, ANY_KEY, "type is 0x8016, not TPM_ST_ATTEST_CERTIFY"},
        {SOFT_TPM_EXTRA_DATA, 0, ANY_KEY,
         "extraData is not SHA-1 of authenticatorData and clientDataHash"},
        {SOFT_TPM_NAME, 0, ANY_KEY, "attested name is not the name of pubArea"},
        {SOFT_TPM_NAME, 0x000c, ANY_KEY, "attested name is not the name of pubArea"},
        {SOFT_TPM_OK, 0x0010, ANY_KEY,
         "nameAlg 0x0010 is not SHA-1, SHA-256, SHA-384, SHA-512, SM3"},
        {SOFT_TPM_NAME, 0x0012, ANY_KEY, "attested name is not the name of pubArea"},
        {SOFT_TPM_OTHER_KEY, 0, EC_KEY,
         "pubArea describes another key than the "
         "credential key: its point differs"},
        {SOFT_TPM_OTHER_KEY, 0, RSA_KEY,
         "pubArea describes another key than the "
         "credential key: its modulus differs"},
        {SOFT_TPM_PUB_AREA_TRAILING, 0, ANY_KEY, "1 bytes follow its unique field"},
        {SOFT_TPM_CERT_INFO_TRAILING, 0, ANY_KEY,
         "1 bytes after the end of its TPMS_ATTEST"},
        {SOFT_TPM_PUB_AREA_TYPE, 0, EC_KEY, "pubArea type is 0x0008, not TPM_ALG_ECC"},
        {SOFT_TPM_PUB_AREA_TYPE, 0, RSA_KEY, "pubArea type is 0x0008, not TPM_ALG_RSA"},
        {SOFT_TPM_SYMMETRIC, 0, ANY_KEY,
         "symmetric algorithm is 0x0006, not TPM_ALG_NULL (0x0010)"},
        {SOFT_TPM_DECRYPT_SCHEME, 0, EC_KEY, "pubArea scheme is 0x0019; the ES"},
        {SOFT_TPM_DECRYPT_SCHEME, 0, RSA_KEY, "pubArea scheme is 0x0015; the "},
        {SOFT_TPM_OTHER_SCHEME, 0, EC_KEY, "pubArea scheme is 0x001a; the ES"},
        {SOFT_TPM_OTHER_SCHEME, 0, RSA_KEY, "needs TPM_ALG_NULL (0x0010) or TPM_ALG_RSA"},
        {SOFT_TPM_SCHEME_HASH, 0, ANY_KEY, "has the hash 0x0004; the "},
        {SOFT_TPM_CURVE, 0, EC_KEY, "credential key needs TPM_ECC_NIST_P"},
        {SOFT_TPM_KEY_BITS, 0, RSA_KEY, "keyBits is 1024, but the"},
        {SOFT_TPM_EXPONENT, 0, RSA_KEY, "its exponent is 3, not 65537"},
    };
    group *g = *state;
    webauthn_verifier *verifier = new_verifier(WEBAUTHN_ATTESTATION_ANY, NULL);
    soft_ceremony ceremony;

    tpm_ceremony(&ceremony, &g->ca);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        ceremony.tpm_fault = cases[c].fault;
        ceremony.tpm_name_alg = cases[c].name_alg;
        for (size_t i = 0; i < NEW_ALG_COUNT; i++) {
            bool ec = EVP_PKEY_is_a(g->auths[i].key, "EC");

            if ((cases[c].keys == EC_KEY && !ec) || (cases[c].keys == RSA_KEY && ec))
                continue;
            assert_not_registered(verifier, &g->auths[i], &ceremony,
                                  WEBAUTHN_ATTESTATION_INVALID, cases[c].reason);
        }
    }
    webauthn_verifier_free(&verifier);
}

/* SM3 and SHA-256 digests are both 32 bytes long, so a name whose nameAlg names one and
 * whose digest is the other has the right size and differs only in its bytes. Run with
 * an RS1 and an RS256 statement. */
static void tpm_sm3_name_mismatch_rejected(void **state)
{
    static const struct {
        unsigned name_alg;
        unsigned hash_alg;
    } cases[] = {
        {0x0012, 0x000b}, /* nameAlg SM3, name digest by SHA-256 */
        {0x000b, 0x0012}, /* nameAlg SHA-256, name digest by SM3 */
    };
    static const int statement_algs[] = {-65535, -257};
    group *g = *state;
    webauthn_verifier *verifier = new_verifier(WEBAUTHN_ATTESTATION_ANY, NULL);
    soft_ceremony ceremony;

    tpm_ceremony(&ceremony, &g->ca);
    for (size_t s = 0; s < sizeof(statement_algs) / sizeof(statement_algs[0]); s++) {
        ceremony.tpm_alg = statement_algs[s];
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            ceremony.tpm_name_alg = cases[c].name_alg;
            ceremony.tpm_name_hash_alg = cases[c].hash_alg;
            for (size_t i = 0; i < NEW_ALG_COUNT; i++)
                assert_not_registered(verifier, &g->auths[i], &ceremony,
                                      WEBAUTHN_ATTESTATION_INVALID,
                                      "attested name is not the name of pubArea");
        }
    }
    webauthn_verifier_free(&verifier);
}

/* An RS256 statement whose pubArea nameAlg is SM3, under the chain policy. */
static void tpm_sm3_name_alg_rs256_accepted(void **state)
{
    group *g = *state;
    soft_ceremony ceremony;

    tpm_ceremony(&ceremony, &g->ca);
    ceremony.tpm_alg = -257;
    ceremony.tpm_name_alg = 0x0012;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++)
        assert_registered(&g->auths[i], &ceremony, WEBAUTHN_ATTESTATION_CHAIN, &g->ca,
                          WEBAUTHN_ATTESTED_TRUSTED, "tpm RS256 nameAlg SM3");
}

/* A tpm statement as a TPM made for China could send it: an SM3 nameAlg, and an AIK
 * certificate that an SM2 CA signed with SM3, whose chain verifies to that root. */
static void tpm_sm2_ca_chain_accepted(void **state)
{
    group *g = *state;
    soft_ca ca;
    soft_ceremony ceremony;

    assert_int_equal(soft_ca_init_sm2(&ca, g->auths[0].aaguid), 0);
    assert_int_equal(soft_ca_add_aik(&ca), 0);
    assert_int_equal(X509_get_signature_nid(ca.aik_cert), NID_SM2_with_SM3);
    tpm_ceremony(&ceremony, &ca);
    ceremony.tpm_alg = -257;
    ceremony.tpm_name_alg = 0x0012;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++)
        assert_registered(&g->auths[i], &ceremony, WEBAUTHN_ATTESTATION_CHAIN, &ca,
                          WEBAUTHN_ATTESTED_TRUSTED, "tpm with an SM2 CA");
    soft_ca_clear(&ca);
}

static void android_key_accepted_for_each_alg(void **state)
{
    group *g = *state;
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.format = SOFT_FORMAT_ANDROID_KEY;
    ceremony.ca = &g->ca;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++)
        assert_registered(&g->auths[i], &ceremony, WEBAUTHN_ATTESTATION_ANY, NULL,
                          WEBAUTHN_ATTESTED_BASIC, "android-key");
}

/* apple statements have no alg, so WebAuthn Level 3 (section 8.8) allows any credential
 * key that the certificate can carry: EC keys on P-384 and P-521, and RSA keys. */
static void apple_accepted_for_each_alg(void **state)
{
    group *g = *state;
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.format = SOFT_FORMAT_APPLE;
    ceremony.ca = &g->ca;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++) {
        assert_registered(&g->auths[i], &ceremony, WEBAUTHN_ATTESTATION_ANY, NULL,
                          WEBAUTHN_ATTESTED_BASIC, "apple");
        assert_registered(&g->auths[i], &ceremony, WEBAUTHN_ATTESTATION_CHAIN, &g->ca,
                          WEBAUTHN_ATTESTED_TRUSTED, "apple");
    }
}

/* An apple certificate whose key is not the credential key: of another type, on
 * another curve, or of the same kind with another value. */
static void apple_other_key_rejected(void **state)
{
    group *g = *state;
    webauthn_verifier *verifier = new_verifier(WEBAUTHN_ATTESTATION_ANY, NULL);
    const struct {
        size_t credential; /* index into new_algs */
        EVP_PKEY *certified;
        const char *reason;
    } cases[] = {
        {0, g->ca.attestation_key, "certificate key is not the ES384 credential key"},
        {0, g->ca_p384.attestation_key,
         "certificate key is not the ES384 credential key"},
        {0, g->auths[1].key, "certificate key is not the ES384 credential key"},
        {0, g->auths[2].key, "certificate key is not the ES384 credential key"},
        {1, g->auths[0].key, "certificate key is not the ES512 credential key"},
        {2, g->ca_rsa.attestation_key, "certificate key is not the PS256 credential key"},
        {2, g->auths[0].key, "certificate key is not the PS256 credential key"},
        {5, g->auths[6].key, "certificate key is not the RS384 credential key"},
    };
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.format = SOFT_FORMAT_APPLE;
    ceremony.ca = &g->ca;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ceremony.apple_certified_key = cases[i].certified;
        assert_not_registered(verifier, &g->auths[cases[i].credential], &ceremony,
                              WEBAUTHN_ATTESTATION_INVALID, cases[i].reason);
    }
    webauthn_verifier_free(&verifier);
}

/* fido-u2f signs only for P-256 keys. */
static void fido_u2f_rejected_for_each_alg(void **state)
{
    group *g = *state;
    webauthn_verifier *verifier = new_verifier(WEBAUTHN_ATTESTATION_ANY, NULL);
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.format = SOFT_FORMAT_FIDO_U2F;
    ceremony.ca = &g->ca;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++)
        assert_not_registered(verifier, &g->auths[i], &ceremony,
                              WEBAUTHN_ATTESTATION_INVALID, "must be ES256");
    webauthn_verifier_free(&verifier);
}

/* A P-256 key labelled ES384, and a P-384 key labelled ES512. */
static void key_on_wrong_curve_rejected(void **state)
{
    webauthn_verifier *verifier = new_verifier(WEBAUTHN_ATTESTATION_ANY, NULL);
    soft_authenticator auth;
    soft_ceremony ceremony;

    (void)state;
    soft_ceremony_defaults(&ceremony);
    ceremony.format = SOFT_FORMAT_NONE;

    assert_int_equal(soft_authenticator_init(&auth, -7), 0);
    auth.alg = -35;
    assert_not_registered(verifier, &auth, &ceremony, WEBAUTHN_ALGORITHM_UNSUPPORTED,
                          "The ES384 key is on curve 1; ES384 needs P-384 (2)");
    soft_authenticator_clear(&auth);

    assert_int_equal(soft_authenticator_init(&auth, -35), 0);
    auth.alg = -36;
    assert_not_registered(verifier, &auth, &ceremony, WEBAUTHN_ALGORITHM_UNSUPPORTED,
                          "The ES512 key is on curve 2; ES512 needs P-521 (3)");
    soft_authenticator_clear(&auth);
    webauthn_verifier_free(&verifier);
}

/* An RS256 self attestation whose signature is PS256. */
static void pss_self_signature_under_rs256_rejected(void **state)
{
    webauthn_verifier *verifier = new_verifier(WEBAUTHN_ATTESTATION_ANY, NULL);
    soft_authenticator auth;
    soft_ceremony ceremony;

    (void)state;
    soft_ceremony_defaults(&ceremony);
    assert_int_equal(soft_authenticator_init(&auth, -257), 0);
    auth.signature_alg = -37;
    assert_not_registered(verifier, &auth, &ceremony, WEBAUTHN_ATTESTATION_INVALID,
                          "signature does not verify");
    soft_authenticator_clear(&auth);
    webauthn_verifier_free(&verifier);
}

/* RFC 8230 (section 2) fixes the PSS salt length to the hash length, so a signature
 * with the longest salt the key allows is rejected. */
static void packed_pss_long_salt_rejected(void **state)
{
    group *g = *state;
    webauthn_verifier *verifier = new_verifier(WEBAUTHN_ATTESTATION_ANY, NULL);
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.pss_max_salt = true;
    for (size_t i = 2; i <= 4; i++) /* PS256, PS384, PS512 */
        assert_not_registered(verifier, &g->auths[i], &ceremony,
                              WEBAUTHN_ATTESTATION_INVALID, "signature does not verify");

    ceremony.format = SOFT_FORMAT_PACKED_X5C;
    ceremony.ca = &g->ca_rsa;
    ceremony.packed_alg = -37;
    assert_not_registered(verifier, &g->auths[0], &ceremony, WEBAUTHN_ATTESTATION_INVALID,
                          "signature does not verify with alg -37 (PS256)");
    webauthn_verifier_free(&verifier);
}

/* A tpm statement by a P-384 AIK (ES384) over an ES384 key. */
static void tpm_es384_statement_accepted(void **state)
{
    group *g = *state;
    soft_ca ca;
    soft_ceremony ceremony;

    assert_int_equal(soft_ca_init(&ca, g->auths[0].aaguid), 0);
    assert_int_equal(soft_ca_add_aik_ec(&ca, "P-384"), 0);
    tpm_ceremony(&ceremony, &ca);
    ceremony.tpm_alg = -35;
    assert_registered(&g->auths[0], &ceremony, WEBAUTHN_ATTESTATION_CHAIN, &ca,
                      WEBAUTHN_ATTESTED_TRUSTED, "tpm ES384");
    soft_ca_clear(&ca);
}

/* alg before kty in the credential key is out of CTAP2 canonical order under every
 * format, those verified without libfido2 included. */
static void credential_key_order_rejected(void **state)
{
    static const soft_format formats[] = {
        SOFT_FORMAT_NONE, SOFT_FORMAT_PACKED_SELF, SOFT_FORMAT_PACKED_X5C,
        SOFT_FORMAT_TPM,  SOFT_FORMAT_ANDROID_KEY, SOFT_FORMAT_APPLE};
    group *g = *state;
    webauthn_verifier *verifier = new_verifier(WEBAUTHN_ATTESTATION_ANY, NULL);
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.ca = &g->ca;
    ceremony.credential_key_unordered = true;
    for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
        ceremony.format = formats[f];
        for (size_t i = 0; i < NEW_ALG_COUNT; i++)
            assert_not_registered(verifier, &g->auths[i], &ceremony,
                                  WEBAUTHN_CBOR_MALFORMED,
                                  "credential public key in authenticator data does not "
                                  "have its map keys in CTAP2 canonical order");
    }
    webauthn_verifier_free(&verifier);
}

/* A credential key whose alg the registration options did not offer. */
static void alg_not_offered_rejected(void **state)
{
    static const int64_t es256_only[] = {-7};
    group *g = *state;
    webauthn_verifier *verifier = new_verifier(WEBAUTHN_ATTESTATION_ANY, NULL);
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.format = SOFT_FORMAT_NONE;
    assert_int_equal(webauthn_verifier_set_algorithms(verifier, es256_only, 1), 0);
    for (size_t i = 0; i < NEW_ALG_COUNT; i++) {
        char reason[64];

        snprintf(reason, sizeof(reason), "algorithm %d (%s) was not offered",
                 new_algs[i].alg, new_algs[i].name);
        assert_not_registered(verifier, &g->auths[i], &ceremony,
                              WEBAUTHN_ALGORITHM_NOT_OFFERED, reason);
    }
    webauthn_verifier_free(&verifier);
}

static void offer_lists_es256_first(void **state)
{
    size_t count = 0;
    const int64_t *algs = webauthn_credential_algorithms(&count);
    webauthn_verifier *verifier = new_verifier(WEBAUTHN_ATTESTATION_ANY, NULL);
    static const int64_t unknown[] = {-7, -65535};

    (void)state;
    assert_int_equal(count, 10);
    assert_int_equal(algs[0], -7);
    for (size_t i = 0; i < NEW_ALG_COUNT; i++) {
        bool listed = false;

        for (size_t j = 0; j < count; j++)
            listed = listed || algs[j] == new_algs[i].alg;
        if (!listed)
            fail_msg("%s is not offered", new_algs[i].name);
    }
    /* RS1 is no credential key algorithm, so it cannot be offered. */
    assert_int_equal(webauthn_verifier_set_algorithms(verifier, unknown, 2), -1);
    webauthn_verifier_free(&verifier);
}

/* ---- Assertions ---------------------------------------------------------------------
 */

/* Verifies an assertion by auth against its stored COSE key, through
 * webauthn_verify_assertion and through a parsed webauthn_public_key. */
static void assert_assertion(const soft_authenticator *auth,
                             const soft_ceremony *ceremony, webauthn_code expected,
                             const char *reason)
{
    webauthn_verifier *verifier = new_verifier(WEBAUTHN_ATTESTATION_ANY, NULL);
    soft_ceremony defaults;
    size_t cose_len = 0;
    unsigned char *cose = soft_cose_key(auth, &cose_len);
    char *json = soft_authenticate(auth, ceremony);
    webauthn_credential stored = {.id = auth->credential_id,
                                  .id_len = sizeof(auth->credential_id),
                                  .public_key = cose,
                                  .public_key_len = cose_len,
                                  .sign_count = 10};
    webauthn_public_key *key = NULL;
    webauthn_assertion result;
    webauthn_error err;
    webauthn_code code;

    assert_non_null(json);
    soft_ceremony_defaults(&defaults);
    code = webauthn_verify_assertion(verifier, defaults.challenge,
                                     sizeof(defaults.challenge), &stored, json,
                                     strlen(json), &result, &err);
    if (code != expected)
        fail_msg("alg %d: expected %s, got %s: %s", auth->alg,
                 webauthn_code_name(expected), webauthn_code_name(code), err.message);
    if (expected != WEBAUTHN_OK && strstr(err.message, reason) == NULL)
        fail_msg("alg %d: \"%s\" lacks \"%s\"", auth->alg, err.message, reason);

    assert_int_equal(webauthn_public_key_parse(cose, cose_len, &key, &err), WEBAUTHN_OK);
    assert_int_equal(webauthn_public_key_algorithm(key), auth->alg);
    code = webauthn_verify_assertion_key(verifier, defaults.challenge,
                                         sizeof(defaults.challenge), &stored, key, json,
                                         strlen(json), &result, &err);
    assert_int_equal(code, expected);
    if (expected == WEBAUTHN_OK)
        assert_int_equal(result.sign_count, ceremony->sign_count);

    webauthn_public_key_free(&key);
    free(json);
    free(cose);
    webauthn_verifier_free(&verifier);
}

static void assertion_accepted_for_each_alg(void **state)
{
    group *g = *state;
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.sign_count = 11;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++)
        assert_assertion(&g->auths[i], &ceremony, WEBAUTHN_OK, NULL);
}

/* RS256 keys whose modulus is not 2048 bits, one of them not a whole number of bytes,
 * as in the W3C test vector of a packed RS256 credential. libfido2 1.12 decodes only
 * 2048-bit RS256 keys, so OpenSSL verifies these statements. */
static void rs256_other_modulus_sizes_accepted(void **state)
{
    group *g = *state;
    static const unsigned sizes[] = {2100, 3072};
    soft_ceremony ceremony;

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        soft_authenticator auth;

        assert_int_equal(soft_authenticator_init_rsa_bits(&auth, -257, sizes[i], 65537),
                         0);
        soft_ceremony_defaults(&ceremony);
        ceremony.format = SOFT_FORMAT_NONE;
        assert_registered(&auth, &ceremony, WEBAUTHN_ATTESTATION_ANY, NULL,
                          WEBAUTHN_ATTESTED_NONE, "none");
        ceremony.format = SOFT_FORMAT_PACKED_SELF;
        assert_registered(&auth, &ceremony, WEBAUTHN_ATTESTATION_SELF, NULL,
                          WEBAUTHN_ATTESTED_SELF, "packed self");
        ceremony.format = SOFT_FORMAT_PACKED_X5C;
        ceremony.ca = &g->ca;
        assert_registered(&auth, &ceremony, WEBAUTHN_ATTESTATION_CHAIN, &g->ca,
                          WEBAUTHN_ATTESTED_TRUSTED, "packed x5c");
        tpm_ceremony(&ceremony, &g->ca);
        assert_registered(&auth, &ceremony, WEBAUTHN_ATTESTATION_CHAIN, &g->ca,
                          WEBAUTHN_ATTESTED_TRUSTED, "tpm RS1");

        soft_ceremony_defaults(&ceremony);
        ceremony.sign_count = 11;
        assert_assertion(&auth, &ceremony, WEBAUTHN_OK, NULL);
        soft_authenticator_clear(&auth);
    }
}

static void assertion_changed_byte_rejected(void **state)
{
    group *g = *state;
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.sign_count = 11;
    ceremony.tamper_signature = true;
    for (size_t i = 0; i < NEW_ALG_COUNT; i++) {
        char reason[64];

        snprintf(reason, sizeof(reason), "does not verify with the stored %s key",
                 new_algs[i].name);
        assert_assertion(&g->auths[i], &ceremony, WEBAUTHN_SIGNATURE_INVALID, reason);
    }
}

static void assertion_pss_long_salt_rejected(void **state)
{
    group *g = *state;
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.sign_count = 11;
    ceremony.pss_max_salt = true;
    for (size_t i = 2; i <= 4; i++) { /* PS256, PS384, PS512 */
        char reason[64];

        snprintf(reason, sizeof(reason), "does not verify with the stored %s key",
                 new_algs[i].name);
        assert_assertion(&g->auths[i], &ceremony, WEBAUTHN_SIGNATURE_INVALID, reason);
    }
}

/* A PS256 signature presented for an RS256 key, and the reverse. */
static void assertion_padding_swap_rejected(void **state)
{
    soft_authenticator auth;
    soft_ceremony ceremony;

    (void)state;
    soft_ceremony_defaults(&ceremony);
    ceremony.sign_count = 11;
    assert_int_equal(soft_authenticator_init(&auth, -257), 0);
    auth.signature_alg = -37;
    assert_assertion(&auth, &ceremony, WEBAUTHN_SIGNATURE_INVALID,
                     "does not verify with the stored RS256 key");

    auth.alg = -37;
    auth.signature_alg = -257;
    assert_assertion(&auth, &ceremony, WEBAUTHN_SIGNATURE_INVALID,
                     "does not verify with the stored PS256 key");
    soft_authenticator_clear(&auth);
}

/* An ES384 key that signs with SHA-512 instead of SHA-384. */
static void assertion_wrong_hash_rejected(void **state)
{
    group *g = *state;
    soft_authenticator auth = g->auths[0];
    soft_ceremony ceremony;

    soft_ceremony_defaults(&ceremony);
    ceremony.sign_count = 11;
    auth.signature_alg = -36;
    assert_assertion(&auth, &ceremony, WEBAUTHN_SIGNATURE_INVALID,
                     "does not verify with the stored ES384 key");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(none_accepted_for_each_alg),
        cmocka_unit_test(packed_self_accepted_for_each_alg),
        cmocka_unit_test(rs256_other_modulus_sizes_accepted),
        cmocka_unit_test(packed_x5c_es256_for_each_alg),
        cmocka_unit_test(packed_x5c_new_statement_algs),
        cmocka_unit_test(packed_x5c_wrong_curve_rejected),
        cmocka_unit_test(packed_x5c_es256_credential_unchanged),
        cmocka_unit_test(tampered_self_signature_rejected),
        cmocka_unit_test(tpm_accepted_for_each_alg),
        cmocka_unit_test(tpm_other_key_rejected),
        cmocka_unit_test(tpm_rs1_accepted_for_each_alg),
        cmocka_unit_test(tpm_rs1_name_algs_accepted),
        cmocka_unit_test(tpm_rs1_signing_schemes_accepted),
        cmocka_unit_test(tpm_rs1_structure_faults_named),
        cmocka_unit_test(tpm_sm3_name_mismatch_rejected),
        cmocka_unit_test(tpm_sm3_name_alg_rs256_accepted),
        cmocka_unit_test(tpm_sm2_ca_chain_accepted),
        cmocka_unit_test(android_key_accepted_for_each_alg),
        cmocka_unit_test(apple_accepted_for_each_alg),
        cmocka_unit_test(apple_other_key_rejected),
        cmocka_unit_test(fido_u2f_rejected_for_each_alg),
        cmocka_unit_test(key_on_wrong_curve_rejected),
        cmocka_unit_test(pss_self_signature_under_rs256_rejected),
        cmocka_unit_test(packed_pss_long_salt_rejected),
        cmocka_unit_test(tpm_es384_statement_accepted),
        cmocka_unit_test(credential_key_order_rejected),
        cmocka_unit_test(alg_not_offered_rejected),
        cmocka_unit_test(offer_lists_es256_first),
        cmocka_unit_test(assertion_accepted_for_each_alg),
        cmocka_unit_test(assertion_changed_byte_rejected),
        cmocka_unit_test(assertion_pss_long_salt_rejected),
        cmocka_unit_test(assertion_padding_swap_rejected),
        cmocka_unit_test(assertion_wrong_hash_rejected),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
