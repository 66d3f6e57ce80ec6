/* Registration checks against the software authenticator: every rejection asserts its
 * code, and the accepted cases assert the decoded values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cbor.h>
#include <cmocka.h>
#include <jansson.h>
#include <openssl/sha.h>

#include "soft_authenticator.h"
#include "webauthn.h"

typedef struct fixture {
    soft_authenticator auth;
    soft_ca ca;
    soft_ceremony ceremony;
    webauthn_verifier *verifier;
    webauthn_registration *reg;
    webauthn_error err;
    unsigned char *att_stmt_value; /* the CBOR that ceremony.att_stmt_value points to */
} fixture;

static int setup_alg(void **state, int alg)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || soft_authenticator_init(&f->auth, alg) != 0)
        return -1;
    if (soft_ca_init(&f->ca, f->auth.aaguid) != 0)
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

static int setup_es256(void **state)
{
    return setup_alg(state, -7);
}

static int setup_rs256(void **state)
{
    return setup_alg(state, -257);
}

static int setup_eddsa(void **state)
{
    return setup_alg(state, -8);
}

static int teardown(void **state)
{
    fixture *f = *state;

    webauthn_registration_free(&f->reg);
    webauthn_verifier_free(&f->verifier);
    free(f->att_stmt_value);
    soft_ca_clear(&f->ca);
    soft_authenticator_clear(&f->auth);
    free(f);
    return 0;
}

/* Builds the response from f->ceremony (or from attestation_object when set) and
 * verifies it with the expected challenge of the defaults. */
static webauthn_code run_with_object(fixture *f, const unsigned char *attestation_object,
                                     size_t attestation_object_len)
{
    webauthn_code code =
        soft_register_verify(&f->auth, &f->ceremony, attestation_object,
                             attestation_object_len, f->verifier, &f->reg, &f->err);

    if (code != WEBAUTHN_OK)
        assert_null(f->reg);
    return code;
}

static webauthn_code run(fixture *f)
{
    return run_with_object(f, NULL, 0);
}

/* Asserts a rejection by code, and that the error carries the same code; label names
 * the case in a failure message. */
static void assert_case_rejected(fixture *f, const char *label, webauthn_code expected)
{
    webauthn_code code = run(f);

    if (code != expected)
        fail_msg("%s: expected %s, got %s: %s", label, webauthn_code_name(expected),
                 webauthn_code_name(code), f->err.message);
    assert_int_equal(f->err.code, expected);
    assert_true(strlen(f->err.message) > 0);
}

static void assert_rejected(fixture *f, webauthn_code expected)
{
    assert_case_rejected(f, "registration", expected);
}

static void assert_accepted(fixture *f)
{
    webauthn_code code = run(f);

    if (code != WEBAUTHN_OK)
        fail_msg("expected ok, got %s: %s", webauthn_code_name(code), f->err.message);
    assert_non_null(f->reg);
}

/* ---- Accepted registrations ------------------------------------------------------- */

static void assert_decoded(fixture *f, const char *fmt, webauthn_attestation_type type)
{
    size_t cose_len = 0;
    unsigned char *cose = soft_cose_key(&f->auth, &cose_len);

    assert_string_equal(f->reg->fmt, fmt);
    assert_int_equal(f->reg->attestation, type);
    assert_int_equal(f->reg->algorithm, f->auth.alg);
    assert_memory_equal(f->reg->aaguid, f->auth.aaguid, 16);
    assert_int_equal(f->reg->credential_id_len, sizeof(f->auth.credential_id));
    assert_memory_equal(f->reg->credential_id, f->auth.credential_id,
                        sizeof(f->auth.credential_id));
    assert_int_equal(f->reg->public_key_len, cose_len);
    assert_memory_equal(f->reg->public_key, cose, cose_len);
    assert_int_equal(f->reg->flags, 0x45);
    assert_int_equal(f->reg->sign_count, f->ceremony.sign_count);
    free(cose);
}

static void packed_self_accepted(void **state)
{
    fixture *f = *state;

    f->ceremony.sign_count = 7;
    assert_accepted(f);
    assert_decoded(f, "packed", WEBAUTHN_ATTESTED_SELF);
}

static void packed_self_accepted_under_self(void **state)
{
    fixture *f = *state;

    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_SELF);
    assert_accepted(f);
    assert_decoded(f, "packed", WEBAUTHN_ATTESTED_SELF);
}

static void none_accepted_by_default(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_NONE;
    assert_accepted(f);
    assert_decoded(f, "none", WEBAUTHN_ATTESTED_NONE);
}

static void packed_x5c_trusted_under_chain(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_CHAIN);
    assert_int_equal(webauthn_verifier_add_root(f->verifier, f->ca.ca_cert), 0);
    assert_accepted(f);
    assert_decoded(f, "packed", WEBAUTHN_ATTESTED_TRUSTED);
}

static void packed_x5c_basic_under_any(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    assert_accepted(f);
    assert_decoded(f, "packed", WEBAUTHN_ATTESTED_BASIC);
}

static void cross_origin_allowed_when_set(void **state)
{
    fixture *f = *state;

    f->ceremony.cross_origin = "true";
    webauthn_verifier_set_allow_cross_origin(f->verifier, true);
    assert_accepted(f);
}

/* The registration side of the clientDataJSON rules that the assertion suite covers
 * in full: a byte order mark is dropped, and a topOrigin needs crossOrigin allowed. */
static void client_data_byte_order_mark_accepted(void **state)
{
    fixture *f = *state;

    f->ceremony.client_data_prefix = "\xef\xbb\xbf";
    assert_accepted(f);
}

static void top_origin_rejected_unless_allowed(void **state)
{
    fixture *f = *state;

    f->ceremony.client_data_members = ",\"topOrigin\":\"https://top.example\"";
    assert_rejected(f, WEBAUTHN_CROSS_ORIGIN);
    webauthn_verifier_set_allow_cross_origin(f->verifier, true);
    assert_accepted(f);
}

/* WebAuthn Level 3 reserves tokenBinding, so every value but the status "present" is
 * accepted: the statuses without a binding, null, and shapes that clients wrote. */
static void token_binding_without_binding_accepted(void **state)
{
    static const char *const members[] = {
        ",\"tokenBinding\":{\"status\":\"supported\"}",
        ",\"tokenBinding\":{\"status\":\"not-supported\"}",
        ",\"tokenBinding\":null",
        ",\"tokenBinding\":\"unused\"",
        ",\"tokenBinding\":\"present\"",
        ",\"tokenBinding\":{}",
        ",\"tokenBinding\":{\"status\":1}",
        ",\"tokenBinding\":{\"status\":\"Present\"}",
        ",\"tokenBinding\":{\"status\":\"\"}",
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        f->ceremony.client_data_members = members[i];
        assert_accepted(f);
    }
    f->ceremony.client_data_members = NULL;
}

/* This server's TLS never uses Token Binding, so a client that reports it present
 * disagrees with the connection, with or without an id. */
static void token_binding_present_rejected(void **state)
{
    static const char *const members[] = {
        ",\"tokenBinding\":{\"status\":\"present\",\"id\":\"AAEC\"}",
        ",\"tokenBinding\":{\"status\":\"present\"}",
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        f->ceremony.client_data_members = members[i];
        assert_rejected(f, WEBAUTHN_TOKEN_BINDING_MISMATCH);
        assert_string_equal(webauthn_code_name(f->err.code), "token_binding_mismatch");
    }
    f->ceremony.client_data_members = NULL;
}

/* clientDataJSON of a registration with challenge twice, both copies the expected one. */
static void client_data_duplicate_member_rejected(void **state)
{
    fixture *f = *state;
    char *challenge =
        soft_base64url(f->ceremony.challenge, sizeof(f->ceremony.challenge));
    char members[128];

    assert_non_null(challenge);
    snprintf(members, sizeof(members), ",\"challenge\":\"%s\"", challenge);
    f->ceremony.client_data_members = members;
    assert_rejected(f, WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "duplicate object key"));
    f->ceremony.client_data_members = NULL;
    free(challenge);
}

/* RegistrationResponseJSON with type twice. */
static void response_duplicate_member_rejected(void **state)
{
    fixture *f = *state;
    soft_ceremony defaults;
    char *json = soft_register(&f->auth, &f->ceremony, NULL, 0);
    char *doubled;
    webauthn_code code;

    assert_non_null(json);
    assert_int_equal(json[0], '{');
    doubled = malloc(strlen(json) + sizeof("\"type\":\"public-key\","));
    assert_non_null(doubled);
    sprintf(doubled, "{\"type\":\"public-key\",%s", json + 1);
    soft_ceremony_defaults(&defaults);
    code = webauthn_verify_registration(f->verifier, defaults.challenge,
                                        sizeof(defaults.challenge), doubled,
                                        strlen(doubled), &f->reg, &f->err);
    if (code != WEBAUTHN_MALFORMED)
        fail_msg("expected malformed, got %s: %s", webauthn_code_name(code),
                 f->err.message);
    assert_int_equal(f->err.code, WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "duplicate object key"));
    assert_null(f->reg);
    free(doubled);
    free(json);
}

static void cross_origin_omitted_accepted(void **state)
{
    fixture *f = *state;

    f->ceremony.cross_origin = NULL;
    assert_accepted(f);
}

static void uv_cleared_accepted_without_require(void **state)
{
    fixture *f = *state;

    f->ceremony.flags = 0x01;
    assert_accepted(f);
    assert_int_equal(f->reg->flags, 0x41);
}

static void cred_protect_extension_accepted(void **state)
{
    fixture *f = *state;

    f->ceremony.credential_protect = "2";
    assert_accepted(f);
    assert_int_equal(f->reg->flags, 0xc5);
}

static void cred_protect_out_of_range_rejected(void **state)
{
    static const char *const levels[] = {"0", "4", "255"};
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        f->ceremony.credential_protect = levels[i];
        assert_rejected(f, WEBAUTHN_MALFORMED);
        assert_non_null(strstr(f->err.message, "is not 1, 2 or 3"));
    }
}

/* attStmt is not signed, so its member order carries no meaning. */
static void att_stmt_any_order_accepted(void **state)
{
    static const soft_format formats[] = {SOFT_FORMAT_PACKED_SELF,
                                          SOFT_FORMAT_PACKED_X5C};
    fixture *f = *state;

    f->ceremony.att_stmt_unordered = true;
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        f->ceremony.format = formats[i];
        assert_accepted(f);
    }
}

/* The formats the soft authenticator makes. */
static const soft_format all_formats[] = {
    SOFT_FORMAT_NONE,     SOFT_FORMAT_PACKED_SELF, SOFT_FORMAT_PACKED_X5C,
    SOFT_FORMAT_TPM,      SOFT_FORMAT_ANDROID_KEY, SOFT_FORMAT_APPLE,
    SOFT_FORMAT_FIDO_U2F,
};
#define ALL_FORMAT_COUNT (sizeof(all_formats) / sizeof(all_formats[0]))

/* Gives the ceremony a format, with the AIK that tpm needs. Returns false when the fixture's key cannot be attested in it: tpm
 * takes no EdDSA key, and fido-u2f only ES256 keys. */
static bool use_format(fixture *f, soft_format format)
{
    if (format == SOFT_FORMAT_TPM && f->auth.alg == -8)
        return false;
    if (format == SOFT_FORMAT_FIDO_U2F && f->auth.alg != -7)
        return false;
    if (format == SOFT_FORMAT_TPM)
        assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    f->ceremony.format = format;
    return true;
}

/* Asserts a cbor_malformed rejection whose message contains reason, naming the format
 * when it fails. */
static void assert_order_rejected(fixture *f, const char *reason)
{
    webauthn_code code = run(f);

    if (code != WEBAUTHN_CBOR_MALFORMED || strstr(f->err.message, reason) == NULL)
        fail_msg("format %d: expected cbor_malformed with \"%s\", got %s: %s",
                 (int)f->ceremony.format, reason, webauthn_code_name(code),
                 f->err.message);
    assert_int_equal(f->err.code, WEBAUTHN_CBOR_MALFORMED);
}

/* The authenticator encodes the credential key in CTAP2 canonical form, and no client
 * re-encodes authenticator data, so alg before kty is rejected under every format. */
static void credential_key_order_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.credential_key_unordered = true;
    for (size_t i = 0; i < ALL_FORMAT_COUNT; i++) {
        if (!use_format(f, all_formats[i]))
            continue;
        assert_order_rejected(f, "credential public key in authenticator data does not "
                                 "have its map keys in CTAP2 canonical order");
    }
}

/* credProtect (11 bytes) before example (7 bytes) is out of canonical order. */
static void extension_order_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.credential_protect = "2";
    f->ceremony.extension_name = "example";
    f->ceremony.extension_name_len = strlen("example");
    for (size_t i = 0; i < ALL_FORMAT_COUNT; i++) {
        if (!use_format(f, all_formats[i]))
            continue;
        assert_order_rejected(f, "extensions do not have their map keys in CTAP2 "
                                 "canonical order");
    }
}

/* Clients build the attestation object themselves and nothing signs it, so authData
 * before fmt and attStmt is accepted under every format. */
static void attestation_object_any_order_accepted(void **state)
{
    fixture *f = *state;

    f->ceremony.attestation_object_unordered = true;
    for (size_t i = 0; i < ALL_FORMAT_COUNT; i++) {
        webauthn_code code;

        if (!use_format(f, all_formats[i]))
            continue;
        code = run(f);
        if (code != WEBAUTHN_OK)
            fail_msg("format %d: expected ok, got %s: %s", (int)all_formats[i],
                     webauthn_code_name(code), f->err.message);
        assert_non_null(f->reg);
    }
}

/* An extension output of the wrong type must be named, not reported as authenticator
 * data that libfido2 cannot decode. */
/* The extension output checks do not depend on the format that signs them. */
static void extension_outputs_checked_in_every_format(void **state)
{
    fixture *f = *state;

    for (size_t i = 0; i < ALL_FORMAT_COUNT; i++) {
        assert_true(use_format(f, all_formats[i]));
        f->ceremony.credential_protect = "2";
        assert_accepted(f);

        f->ceremony.credential_protect = "4";
        assert_rejected(f, WEBAUTHN_MALFORMED);
        if (strstr(f->err.message, "is not 1, 2 or 3") == NULL)
            fail_msg("format %zu: %s", i, f->err.message);

        f->ceremony.credential_protect = NULL;
        f->ceremony.extension_name = "hmac-secret";
        f->ceremony.extension_name_len = strlen("hmac-secret");
        f->ceremony.extension_text = true;
        assert_rejected(f, WEBAUTHN_MALFORMED);
        if (strstr(f->err.message, "hmac-secret extension output") == NULL)
            fail_msg("format %zu: %s", i, f->err.message);
        f->ceremony.extension_name = NULL;
        f->ceremony.extension_text = false;
    }
}

static void extension_output_type_named(void **state)
{
    static const struct {
        const char *name;
        bool text;
        const char *expected;
    } cases[] = {
        {"hmac-secret", true,
         "hmac-secret extension output in authenticator data is "
         "not a boolean"},
        {"credBlob", false,
         "credBlob extension output in authenticator data is not a "
         "boolean"},
        {"minPinLength", true,
         "minPinLength extension output in authenticator data is "
         "not an unsigned integer"},
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f->ceremony.extension_name = cases[i].name;
        f->ceremony.extension_name_len = strlen(cases[i].name);
        f->ceremony.extension_text = cases[i].text;
        assert_rejected(f, WEBAUTHN_MALFORMED);
        if (strstr(f->err.message, cases[i].expected) == NULL)
            fail_msg("case %zu: expected \"%s\" in: %s", i, cases[i].expected,
                     f->err.message);
    }
}

/* ---- Rejections from clientDataJSON ----------------------------------------------- */

/* credBlob true reports that the authenticator stored the blob that was sent. */
static void cred_blob_extension_accepted(void **state)
{
    static const soft_format formats[] = {SOFT_FORMAT_PACKED_SELF,
                                          SOFT_FORMAT_PACKED_X5C};
    fixture *f = *state;

    f->ceremony.extension_name = "credBlob";
    f->ceremony.extension_name_len = strlen("credBlob");
    f->ceremony.extension_true = true;
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        f->ceremony.format = formats[i];
        assert_accepted(f);
        assert_int_equal(f->reg->flags, 0xc5);
    }
}

/* The 32-byte challenge takes 43 characters, so "=" would complete its padding. The
 * client leaves padding out of the challenge, so it is refused there. */
static void padded_challenge_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.challenge_suffix = "=";
    assert_rejected(f, WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "challenge has base64url padding"));
}

/* ---- Rejections from clientDataJSON and authenticator data ------------------------ */

/* Each change to one part of a valid registration, and the code of its rejection. */
static const struct {
    soft_change change;
    webauthn_code expected;
} rejected_changes[] = {
    {{.label = "wrong origin", .origin = "https://evil.example.net"},
     WEBAUTHN_ORIGIN_NOT_ALLOWED},
    {{.label = "wrong type", .type = "webauthn.get"}, WEBAUTHN_CLIENT_DATA_TYPE},
    {{.label = "challenge mismatch", .challenge_byte = 0, .challenge_mask = 0x01},
     WEBAUTHN_CHALLENGE_MISMATCH},
    {{.label = "cross origin true", .cross_origin = "true"}, WEBAUTHN_CROSS_ORIGIN},
    {{.label = "cross origin not boolean", .cross_origin = "\"true\""},
     WEBAUTHN_MALFORMED},
    {{.label = "rp id mismatch", .rp_id = "other.example.org"}, WEBAUTHN_RP_ID_MISMATCH},
    {{.label = "up cleared", .flags = 0x04}, WEBAUTHN_USER_PRESENCE_MISSING},
    {{.label = "backup state without eligibility", .flags = 0x15}, WEBAUTHN_MALFORMED},
    {{.label = "raw id differs from auth data", .other_raw_id = true},
     WEBAUTHN_CREDENTIAL_ID_MISMATCH},
    {{.label = "id differs from raw id", .other_id_only = true},
     WEBAUTHN_CREDENTIAL_ID_MISMATCH},
};

static void ceremony_changes_rejected(void **state)
{
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(rejected_changes) / sizeof(rejected_changes[0]); i++) {
        soft_ceremony_defaults(&f->ceremony);
        f->ceremony.ca = &f->ca;
        soft_ceremony_apply(&f->ceremony, &rejected_changes[i].change);
        assert_case_rejected(f, rejected_changes[i].change.label,
                             rejected_changes[i].expected);
    }
}

static void uv_cleared_rejected_when_required(void **state)
{
    fixture *f = *state;

    f->ceremony.flags = 0x01;
    webauthn_verifier_set_require_uv(f->verifier, true);
    assert_rejected(f, WEBAUTHN_USER_VERIFICATION_MISSING);
}

/* The BE flag is reported for storing, because every assertion must repeat it. */
static void backup_eligibility_reported(void **state)
{
    fixture *f = *state;

    f->ceremony.flags = 0x0d; /* UP, UV, BE */
    assert_accepted(f);
    assert_true(f->reg->backup_eligible);
    f->ceremony.flags = 0x05;
    assert_accepted(f);
    assert_false(f->reg->backup_eligible);
}

/* Verifies the registration with id and rawId both replaced by len bytes. */
static webauthn_code run_with_raw_id_len(fixture *f, size_t len)
{
    soft_ceremony defaults;
    char *json = soft_register(&f->auth, &f->ceremony, NULL, 0);
    unsigned char *id = calloc(len, 1);
    char *id_text = soft_base64url(id, len);
    json_t *root = json_loads(json, 0, NULL);
    char *changed;
    webauthn_code code;

    assert_non_null(root);
    assert_non_null(id_text);
    json_object_set_new(root, "id", json_string(id_text));
    json_object_set_new(root, "rawId", json_string(id_text));
    changed = json_dumps(root, JSON_COMPACT);
    assert_non_null(changed);
    soft_ceremony_defaults(&defaults);
    webauthn_registration_free(&f->reg);
    code = webauthn_verify_registration(f->verifier, defaults.challenge,
                                        sizeof(defaults.challenge), changed,
                                        strlen(changed), &f->reg, &f->err);
    free(changed);
    json_decref(root);
    free(id_text);
    free(id);
    free(json);
    return code;
}

/* WebAuthn Level 3 caps credential ids at 1023 bytes. A rawId of 1023 bytes passes the
 * length check and then differs from the id in authenticator data. */
static void raw_id_over_1023_bytes_rejected(void **state)
{
    fixture *f = *state;

    assert_int_equal(run_with_raw_id_len(f, 1024), WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "more than the maximum 1023"));
    assert_int_equal(run_with_raw_id_len(f, 1023), WEBAUTHN_CREDENTIAL_ID_MISMATCH);
    assert_null(f->reg);
}

/* ---- Rejections from the attestation statement ------------------------------------ */

static void tampered_self_signature_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.tamper_signature = true;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
}

static void tampered_x5c_signature_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    f->ceremony.tamper_signature = true;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
}

static void undecodable_cert_key_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    f->ceremony.corrupt_cert_key = true;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
    assert_non_null(strstr(f->err.message, "cannot be decoded"));
}

/* Replaces the test CA with one whose attestation key is on the given curve. */
static void use_attestation_curve(fixture *f, const char *curve)
{
    soft_ca_clear(&f->ca);
    assert_int_equal(soft_ca_init_curve(&f->ca, f->auth.aaguid, curve), 0);
}

/* ES256 means ECDSA on P-256 with SHA-256, so another curve must not verify as ES256
 * even with a valid SHA-256 signature. */
static void packed_x5c_other_curve_rejected(void **state)
{
    static const char *const curves[] = {"P-384", "secp256k1", "brainpoolP256r1"};
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        use_attestation_curve(f, curves[i]);
        assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
        assert_non_null(strstr(f->err.message, "does not fit alg -7 (ES256)"));
    }
}

static void fido_u2f_accepted(void **state)
{
    fixture *f = *state;

    memset(f->auth.aaguid, 0, sizeof(f->auth.aaguid));
    f->ceremony.format = SOFT_FORMAT_FIDO_U2F;
    assert_accepted(f);
    assert_decoded(f, "fido-u2f", WEBAUTHN_ATTESTED_BASIC);
}

/* The U2F signature does not cover the AAGUID, so a client may fill it in. The
 * registration passes and reports the all-zero AAGUID, so that no record names a model
 * that nothing attested. */
static void fido_u2f_nonzero_aaguid_accepted(void **state)
{
    static const unsigned char zero[16] = {0};
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_FIDO_U2F;
    assert_accepted(f);
    assert_string_equal(f->reg->fmt, "fido-u2f");
    assert_int_equal(f->reg->attestation, WEBAUTHN_ATTESTED_BASIC);
    assert_int_not_equal(f->auth.aaguid[0], 0);
    assert_memory_equal(f->reg->aaguid, zero, sizeof(zero));
}

/* secp256k1 and brainpoolP256r1 keys are 256 bits long too, but fido-u2f allows only
 * P-256. */
static void fido_u2f_other_curve_rejected(void **state)
{
    static const char *const curves[] = {"secp256k1", "brainpoolP256r1", "P-384"};
    fixture *f = *state;

    memset(f->auth.aaguid, 0, sizeof(f->auth.aaguid));
    f->ceremony.format = SOFT_FORMAT_FIDO_U2F;
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        use_attestation_curve(f, curves[i]);
        assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
        assert_non_null(strstr(f->err.message, "not an EC P-256 key"));
    }
}

/* A TPM attestation with RS1 by a test AIK, over an ES256 or RS256 credential key. */
static void tpm_accepted(void **state)
{
    fixture *f = *state;

    assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    assert_accepted(f);
    assert_decoded(f, "tpm", WEBAUTHN_ATTESTED_BASIC);

    assert_int_equal(webauthn_verifier_add_root(f->verifier, f->ca.ca_cert), 0);
    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_CHAIN);
    assert_accepted(f);
    assert_decoded(f, "tpm", WEBAUTHN_ATTESTED_TRUSTED);
}

/* The tpm statement algorithms, each with the AIK that signs with it (an EC AIK on
 * aik_curve, or RSA-2048 when that is NULL) and the hash that extraData needs. */
typedef struct tpm_alg_case {
    int alg;
    const char *name;
    const char *aik_curve;
    const char *hash_name;
} tpm_alg_case;

static const tpm_alg_case tpm_rs1 = {-65535, "RS1", NULL, "SHA-1"};
static const tpm_alg_case tpm_rs256 = {-257, "RS256", NULL, "SHA-256"};
static const tpm_alg_case tpm_ps256 = {-37, "PS256", NULL, "SHA-256"};
static const tpm_alg_case tpm_es256 = {-7, "ES256", "P-256", "SHA-256"};

/* Gives the ceremony a tpm statement by alg, signed by a new AIK that fits it. */
static void use_tpm_alg(fixture *f, const tpm_alg_case *c)
{
    if (c->aik_curve == NULL)
        assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    else
        assert_int_equal(soft_ca_add_aik_ec(&f->ca, c->aik_curve), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_alg = c->alg;
}

static void assert_tpm_accepted(fixture *f, const tpm_alg_case *c,
                                webauthn_attestation_type type)
{
    webauthn_code code = run(f);

    if (code != WEBAUTHN_OK)
        fail_msg("%s: expected ok, got %s: %s", c->name, webauthn_code_name(code),
                 f->err.message);
    assert_decoded(f, "tpm", type);
}

/* A statement by alg is accepted as basic, and as trusted under the chain policy. */
static void check_tpm_alg_accepted(fixture *f, const tpm_alg_case *c)
{
    use_tpm_alg(f, c);
    assert_tpm_accepted(f, c, WEBAUTHN_ATTESTED_BASIC);

    assert_int_equal(webauthn_verifier_add_root(f->verifier, f->ca.ca_cert), 0);
    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_CHAIN);
    assert_tpm_accepted(f, c, WEBAUTHN_ATTESTED_TRUSTED);
}

static void tpm_rs256_accepted(void **state)
{
    check_tpm_alg_accepted(*state, &tpm_rs256);
}

static void tpm_ps256_accepted(void **state)
{
    check_tpm_alg_accepted(*state, &tpm_ps256);
}

/* An ES256 statement by an ECC AIK on P-256. */
static void tpm_es256_accepted(void **state)
{
    check_tpm_alg_accepted(*state, &tpm_es256);
}

/* The 384- and 512-bit variants hash extraData and certInfo with SHA-384 and SHA-512. */
static void tpm_longer_hash_algs_accepted(void **state)
{
    static const tpm_alg_case cases[] = {
        {-258, "RS384", NULL, "SHA-384"},   {-259, "RS512", NULL, "SHA-512"},
        {-38, "PS384", NULL, "SHA-384"},    {-39, "PS512", NULL, "SHA-512"},
        {-35, "ES384", "P-384", "SHA-384"}, {-36, "ES512", "P-521", "SHA-512"},
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        use_tpm_alg(f, &cases[i]);
        assert_tpm_accepted(f, &cases[i], WEBAUTHN_ATTESTED_BASIC);
    }
}

/* A pubArea whose nameAlg is SM3, under each statement alg that the own checks alone
 * verify over an ES256 or RS256 key. */
static void tpm_sm3_name_alg_accepted(void **state)
{
    static const tpm_alg_case *const algs[] = {&tpm_rs256, &tpm_ps256, &tpm_es256};
    fixture *f = *state;

    f->ceremony.tpm_name_alg = 0x0012;
    for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
        use_tpm_alg(f, algs[a]);
        assert_tpm_accepted(f, algs[a], WEBAUTHN_ATTESTED_BASIC);
    }
}

/* An RS1 statement over an ES256 or RS256 key also goes through libfido2 1.12, which
 * takes only a SHA-256 nameAlg. SM3 and SHA-384 names pass the own checks first. */
static void tpm_rs1_other_name_alg_unsupported(void **state)
{
    static const unsigned name_algs[] = {0x0012, 0x000c};
    fixture *f = *state;
    char reason[64];

    use_tpm_alg(f, &tpm_rs1);
    for (size_t i = 0; i < sizeof(name_algs) / sizeof(name_algs[0]); i++) {
        f->ceremony.tpm_name_alg = name_algs[i];
        snprintf(reason, sizeof(reason), "nameAlg is 0x%04x, but libfido2 1.12",
                 name_algs[i]);
        assert_rejected(f, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED);
        if (strstr(f->err.message, reason) == NULL)
            fail_msg("expected \"%s\" in \"%s\"", reason, f->err.message);
        assert_non_null(strstr(f->err.message, "only with SHA-256 (0x000b)"));
    }
}

/* Each tpm fault whose certInfo the AIK signed, with the field its message names, for
 * RS1 and the algorithms added beside it. For RS1, libfido2 1.12 would report all of
 * them as FIDO_ERR_INTERNAL. */
static void tpm_structure_faults_named(void **state)
{
    static const tpm_alg_case *const algs[] = {&tpm_rs1, &tpm_rs256, &tpm_ps256,
                                               &tpm_es256};
    static const struct {
        soft_tpm_fault fault;
        const char *reason; /* NULL for extraData, whose reason names the hash */
    } cases[] = {
        {SOFT_TPM_MAGIC, "not TPM_GENERATED_VALUE"},
        {SOFT_TPM_TYPE, "not TPM_ST_ATTEST_CERTIFY"},
        {SOFT_TPM_EXTRA_DATA, NULL},
        {SOFT_TPM_NAME, "attested name is not the name of pubArea"},
        {SOFT_TPM_OTHER_KEY, "pubArea describes another key"},
        {SOFT_TPM_PUB_AREA_TRAILING, "pubArea describes another key"},
        {SOFT_TPM_CERT_INFO_TRAILING, "1 bytes after the end of its TPMS_ATTEST"},
    };
    fixture *f = *state;
    char reason[128];

    for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
        use_tpm_alg(f, algs[a]);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            f->ceremony.tpm_fault = cases[i].fault;
            if (cases[i].reason != NULL)
                snprintf(reason, sizeof(reason), "%s", cases[i].reason);
            else
                snprintf(reason, sizeof(reason),
                         "extraData is not %s of authenticatorData", algs[a]->hash_name);
            assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
            if (strstr(f->err.message, reason) == NULL)
                fail_msg("%s, case %zu: expected \"%s\" in \"%s\"", algs[a]->name, i,
                         reason, f->err.message);
        }
    }
}

/* An RSA pubArea must name the exponent 65537, as 0 or as the value itself. */
static void tpm_pub_area_exponent_rejected(void **state)
{
    static const tpm_alg_case *const algs[] = {&tpm_rs1, &tpm_rs256};
    fixture *f = *state;

    f->ceremony.tpm_fault = SOFT_TPM_EXPONENT;
    for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
        use_tpm_alg(f, algs[a]);
        assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
        assert_non_null(strstr(f->err.message, "pubArea describes another key"));
    }
}

static void tpm_tampered_signature_rejected(void **state)
{
    static const tpm_alg_case *const algs[] = {&tpm_rs1, &tpm_rs256, &tpm_ps256,
                                               &tpm_es256};
    fixture *f = *state;
    char reason[128];

    f->ceremony.tamper_signature = true;
    for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
        use_tpm_alg(f, algs[a]);
        snprintf(reason, sizeof(reason), "does not verify with alg %d (%s)", algs[a]->alg,
                 algs[a]->name);
        assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
        if (strstr(f->err.message, reason) == NULL)
            fail_msg("expected \"%s\" in \"%s\"", reason, f->err.message);
    }
}

/* The statement names RS256 and extraData is SHA-256, but the AIK signed certInfo with
 * RS1 (SHA-1). */
static void tpm_rs1_signature_under_rs256_rejected(void **state)
{
    fixture *f = *state;

    use_tpm_alg(f, &tpm_rs256);
    f->ceremony.tpm_signature_alg = -65535;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
    assert_non_null(strstr(f->err.message, "does not verify with alg -257 (RS256)"));
}

/* The PKCS #1 v1.5 signature of RS256 does not pass as PS256, which is RSASSA-PSS. */
static void tpm_rs256_signature_under_ps256_rejected(void **state)
{
    fixture *f = *state;

    use_tpm_alg(f, &tpm_ps256);
    f->ceremony.tpm_signature_alg = -257;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
    assert_non_null(strstr(f->err.message, "does not verify with alg -37 (PS256)"));
}

/* RFC 8230 fixes the PSS salt length to the hash length, so a longer salt, which a
 * verifier that reads the salt length from the signature would accept, is rejected. */
static void tpm_ps256_longer_salt_rejected(void **state)
{
    fixture *f = *state;

    use_tpm_alg(f, &tpm_ps256);
    f->ceremony.tpm_pss_max_salt = true;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
    assert_non_null(strstr(f->err.message, "does not verify with alg -37 (PS256)"));
}

static void tpm_ecc_aik_under_rs256_rejected(void **state)
{
    fixture *f = *state;

    assert_int_equal(soft_ca_add_aik_ec(&f->ca, "P-256"), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_alg = -257;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
    assert_non_null(strstr(f->err.message, "key is an EC key on P-256, but alg -257 "
                                           "(RS256) needs an RSA key"));
}

/* An RSA AIK shorter than 2048 bits is rejected under RS1, which Windows Hello uses,
 * and under RS256. */
static void tpm_short_rsa_aik_rejected(void **state)
{
    static const int algs[] = {-65535, -257};
    fixture *f = *state;

    assert_int_equal(soft_ca_add_aik_rsa(&f->ca, 1024), 0);
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        f->ceremony.format = SOFT_FORMAT_TPM;
        f->ceremony.tpm_alg = algs[i];
        assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
        if (strstr(f->err.message, "1024 bits") == NULL ||
            strstr(f->err.message, "at least 2048") == NULL)
            fail_msg("alg %d: the message does not name the key size: %s", algs[i],
                     f->err.message);
    }
}

/* ES256 is ECDSA on P-256, so a P-384 AIK must not sign as ES256, even with SHA-256. */
static void tpm_es256_with_p384_aik_rejected(void **state)
{
    fixture *f = *state;

    assert_int_equal(soft_ca_add_aik_ec(&f->ca, "P-384"), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_alg = -7;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
    assert_non_null(strstr(f->err.message, "key is an EC key on P-384, but alg -7 "
                                           "(ES256) needs an EC key on P-256"));
}

/* ES256K (-47) and the unassigned value -65534 are no tpm algorithms. The AIK signs with
 * RS1 either way. */
static void tpm_unknown_alg_rejected(void **state)
{
    static const int algs[] = {-47, -65534};
    fixture *f = *state;
    char reason[64];

    assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_signature_alg = -65535;
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        f->ceremony.tpm_alg = algs[i];
        snprintf(reason, sizeof(reason), "statement algorithm %d (unknown)", algs[i]);
        assert_rejected(f, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED);
        if (strstr(f->err.message, reason) == NULL)
            fail_msg("expected \"%s\" in \"%s\"", reason, f->err.message);
    }
}

/* libfido2 1.12 compares pubArea with ES256 and RS256 keys only. */
static void tpm_eddsa_key_rejected(void **state)
{
    fixture *f = *state;

    assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    assert_rejected(f, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED);
    assert_non_null(strstr(f->err.message, "ECDSA or RSA credential key"));
    assert_non_null(strstr(f->err.message, "the statement algorithm -65535 (RS1)"));
    assert_non_null(strstr(f->err.message, "an EdDSA credential key"));
}

/* pubArea names the exponent 65537 and libfido2 compares only the modulus, so a
 * credential key with the exponent 3 would pass as the attested key. */
static void tpm_other_exponent_rejected(void **state)
{
    fixture *f = *state;

    soft_authenticator_clear(&f->auth);
    assert_int_equal(soft_authenticator_init_rsa(&f->auth, 3), 0);
    assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
    assert_non_null(strstr(f->err.message, "exponent is not 65537"));
}

/* A packed or tpm statement with an ecdaaKeyId in place of x5c, which WebAuthn Level 2
 * allowed in both formats. Each is rejected for ECDAA, not for the missing x5c. */
static void ecdaa_key_id_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.ecdaa_key_id = true;
    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    assert_rejected(f, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED);
    assert_non_null(strstr(f->err.message, "packed statement has an ecdaaKeyId"));

    assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    assert_rejected(f, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED);
    assert_non_null(strstr(f->err.message, "tpm statement has an ecdaaKeyId"));
}

/* A sig that is missing, empty or not a byte string, in each format that libfido2
 * verifies (packed self and x5c with ES256, fido-u2f) or that has its own code (tpm,
 * android-key). Each sentence names sig, which libfido2 alone does not. */
static void statement_sig_faults_rejected(void **state)
{
    static const soft_format formats[] = {SOFT_FORMAT_PACKED_SELF, SOFT_FORMAT_PACKED_X5C,
                                          SOFT_FORMAT_FIDO_U2F, SOFT_FORMAT_TPM,
                                          SOFT_FORMAT_ANDROID_KEY};
    static const struct {
        soft_sig_fault fault;
        const char *sentence;
    } faults[] = {
        {SOFT_SIG_MISSING, "attestation statement has no sig"},
        {SOFT_SIG_EMPTY, "attestation statement sig is empty"},
        {SOFT_SIG_TEXT, "attestation statement sig is not a byte string"},
    };
    fixture *f = *state;

    assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        for (size_t k = 0; k < sizeof(faults) / sizeof(faults[0]); k++) {
            f->ceremony.format = formats[i];
            f->ceremony.sig_fault = faults[k].fault;
            assert_case_rejected(f, faults[k].sentence, WEBAUTHN_ATTESTATION_INVALID);
            if (strstr(f->err.message, faults[k].sentence) == NULL)
                fail_msg("format %zu: expected \"%s\" in: %s", i, faults[k].sentence,
                         f->err.message);
        }
    }
}

/* An android-key statement from a TEE or StrongBox keystore, as a Pixel sends. */
static void android_key_accepted(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_ANDROID_KEY;
    assert_accepted(f);
    assert_decoded(f, "android-key", WEBAUTHN_ATTESTED_BASIC);

    f->ceremony.android_attestation_level = 2;
    f->ceremony.android_key_level = 2;
    assert_accepted(f);
    assert_decoded(f, "android-key", WEBAUTHN_ATTESTED_BASIC);
}

/* A software keystore signs its own KeyDescription, so the hardware-enforced list it
 * fills in proves nothing. The FIDO conformance tools send such a statement. */
static void android_key_software_level_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_ANDROID_KEY;
    f->ceremony.android_attestation_level = 0;
    f->ceremony.android_key_level = 0;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
    assert_non_null(strstr(f->err.message, "attestationSecurityLevel is Software"));

    f->ceremony.android_attestation_level = 1;
    assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
    assert_non_null(strstr(f->err.message, "keyMintSecurityLevel is Software"));
}

/* A key usable by all applications of the device is not bound to the relying party's
 * app, so allApplications rejects the statement in either authorization list. */
static void android_key_all_applications_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_ANDROID_KEY;
    assert_accepted(f);
    for (int list = 1; list <= 2; list++) {
        f->ceremony.android_all_applications = list;
        assert_rejected(f, WEBAUTHN_ATTESTATION_INVALID);
        if (strstr(f->err.message, "allApplications") == NULL)
            fail_msg("list %d: the sentence does not name allApplications: %s", list,
                     f->err.message);
    }
}

/* Asserts a rejection with code ATTESTATION_INVALID and a sentence containing part. */
static void assert_invalid_with(fixture *f, const char *label, const char *part)
{
    assert_case_rejected(f, label, WEBAUTHN_ATTESTATION_INVALID);
    if (strstr(f->err.message, part) == NULL)
        fail_msg("%s: expected \"%s\" in: %s", label, part, f->err.message);
}

static void android_key_challenge_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_ANDROID_KEY;
    f->ceremony.android_fault = SOFT_ANDROID_CHALLENGE;
    assert_invalid_with(f, "challenge", "attestationChallenge is not the SHA-256");
}

/* A key imported into the keystore may exist outside it too (KM_ORIGIN_IMPORTED). */
static void android_key_origin_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_ANDROID_KEY;
    f->ceremony.android_fault = SOFT_ANDROID_ORIGIN_IMPORTED;
    assert_invalid_with(f, "origin", "origin is not KM_ORIGIN_GENERATED");
}

static void android_key_purpose_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_ANDROID_KEY;
    f->ceremony.android_fault = SOFT_ANDROID_PURPOSE_VERIFY;
    assert_invalid_with(f, "purpose", "does not include KM_PURPOSE_SIGN");
}

/* The six leading KeyDescription fields (version 3, both levels TrustedEnvironment, a
 * zero challenge, an empty uniqueId), 48 bytes, for hand-built descriptions. */
#define ANDROID_LEADING                                                                  \
    0x02, 0x01, 0x03, 0x0a, 0x01, 0x01, 0x02, 0x01, 0x04, 0x0a, 0x01, 0x01, 0x04, 0x20,  \
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, \
        0, 0, 0, 0, 0, 0x04, 0x00

/* A KeyDescription extension that is not valid DER of the schema, one fault each. */
static void android_key_description_malformed(void **state)
{
    static const unsigned char not_sequence[] = {0x04, 0x00};
    static const unsigned char trailing[] = {0x30, 0x00, 0x00};
    static const unsigned char version_text[] = {0x30, 0x03, 0x04, 0x01, 0x03};
    static const unsigned char level_negative[] = {0x30, 0x06, 0x02, 0x01,
                                                   0x03, 0x0a, 0x01, 0xff};
    static const unsigned char key_level_long[] = {0x30, 0x10, 0x02, 0x01, 0x03, 0x0a,
                                                   0x01, 0x01, 0x02, 0x01, 0x04, 0x0a,
                                                   0x05, 0x00, 0x00, 0x00, 0x00, 0x01};
    static const unsigned char software_set[] = {0x30, 0x32, ANDROID_LEADING, 0x31, 0x00};
    static const unsigned char no_hardware[] = {0x30, 0x32, ANDROID_LEADING, 0x30, 0x00};
    static const unsigned char universal_field[] = {
        0x30, 0x36, ANDROID_LEADING, 0x30, 0x02, 0x05, 0x00, 0x30, 0x00};
    static const unsigned char purpose_not_set[] = {
        0x30, 0x39, ANDROID_LEADING, 0x30, 0x00, 0x30, 0x05, 0xa1, 0x03, 0x02,
        0x01, 0x02};
    static const unsigned char purpose_null[] = {
        0x30, 0x3a, ANDROID_LEADING, 0x30, 0x00, 0x30, 0x06, 0xa1, 0x04, 0x31, 0x02,
        0x05, 0x00};
    static const unsigned char origin_null[] = {
        0x30, 0x3a, ANDROID_LEADING, 0x30, 0x00, 0x30, 0x06, 0xbf, 0x85, 0x3e, 0x02,
        0x05, 0x00};
    static const unsigned char origin_empty[] = {
        0x30, 0x3a, ANDROID_LEADING, 0x30, 0x00, 0x30, 0x06, 0xbf, 0x85, 0x3e, 0x02,
        0x02, 0x00};
    static const struct {
        const char *label;
        const unsigned char *der;
        size_t len;
    } cases[] = {
        {"an OCTET STRING, not a SEQUENCE", not_sequence, sizeof(not_sequence)},
        {"a byte after the SEQUENCE", trailing, sizeof(trailing)},
        {"attestationVersion an OCTET STRING", version_text, sizeof(version_text)},
        {"attestationSecurityLevel negative", level_negative, sizeof(level_negative)},
        {"keyMintSecurityLevel of 5 bytes", key_level_long, sizeof(key_level_long)},
        {"softwareEnforced a SET", software_set, sizeof(software_set)},
        {"hardwareEnforced missing", no_hardware, sizeof(no_hardware)},
        {"a universal NULL in softwareEnforced", universal_field,
         sizeof(universal_field)},
        {"purpose an INTEGER, not a SET", purpose_not_set, sizeof(purpose_not_set)},
        {"purpose a SET of NULL", purpose_null, sizeof(purpose_null)},
        {"origin a NULL", origin_null, sizeof(origin_null)},
        {"origin an empty INTEGER", origin_empty, sizeof(origin_empty)},
        {"empty", not_sequence, 0},
    };
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_ANDROID_KEY;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f->ceremony.android_description = cases[i].der;
        f->ceremony.android_description_len = cases[i].len;
        assert_invalid_with(f, cases[i].label, "not a valid KeyDescription");
    }
}

static void android_key_extension_missing(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_ANDROID_KEY;
    f->ceremony.android_no_description = true;
    assert_invalid_with(f, "no extension", "has no key attestation extension");
}

static void apple_nonce_missing_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_APPLE;
    f->ceremony.apple_no_nonce = true;
    assert_invalid_with(f, "no extension", "has no valid nonce extension");
}

/* Nonce extension values that are not SEQUENCE { [1] EXPLICIT OCTET STRING }. */
static void apple_nonce_malformed(void **state)
{
    static const unsigned char not_sequence[] = {0x31, 0x04, 0xa1, 0x02, 0x04, 0x00};
    static const unsigned char after_sequence[] = {0x30, 0x04, 0xa1, 0x02,
                                                   0x04, 0x00, 0x00};
    static const unsigned char tag_two[] = {0x30, 0x04, 0xa2, 0x02, 0x04, 0x00};
    static const unsigned char after_tag[] = {0x30, 0x05, 0xa1, 0x02, 0x04, 0x00, 0x00};
    static const unsigned char integer[] = {0x30, 0x05, 0xa1, 0x03, 0x02, 0x01, 0x01};
    static const unsigned char after_octets[] = {0x30, 0x05, 0xa1, 0x03,
                                                 0x04, 0x00, 0x00};
    static const struct {
        const char *label;
        const unsigned char *der;
        size_t len;
    } cases[] = {
        {"a SET", not_sequence, sizeof(not_sequence)},
        {"a byte after the SEQUENCE", after_sequence, sizeof(after_sequence)},
        {"[2] in place of [1]", tag_two, sizeof(tag_two)},
        {"a second field after [1]", after_tag, sizeof(after_tag)},
        {"an INTEGER in [1]", integer, sizeof(integer)},
        {"a byte after the OCTET STRING", after_octets, sizeof(after_octets)},
    };
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_APPLE;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f->ceremony.apple_nonce = cases[i].der;
        f->ceremony.apple_nonce_len = cases[i].len;
        assert_invalid_with(f, cases[i].label, "has no valid nonce extension");
    }
}

/* A well-formed nonce of the wrong value, and one of 31 bytes. */
static void apple_nonce_mismatch_rejected(void **state)
{
    unsigned char zero[6 + 32] = {0x30, 0x24, 0xa1, 0x22, 0x04, 0x20};
    unsigned char short_nonce[6 + 31] = {0x30, 0x23, 0xa1, 0x21, 0x04, 0x1f};
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_APPLE;
    f->ceremony.apple_nonce = zero;
    f->ceremony.apple_nonce_len = sizeof(zero);
    assert_invalid_with(f, "zero nonce", "nonce is not SHA-256");

    f->ceremony.apple_nonce = short_nonce;
    f->ceremony.apple_nonce_len = sizeof(short_nonce);
    assert_invalid_with(f, "31-byte nonce", "nonce is not SHA-256");
}

static void apple_x5c_missing_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_APPLE;
    f->ceremony.att_stmt_member = "x5c";
    assert_invalid_with(f, "no x5c", "apple attestation statement has no x5c");
}

/* Sets the attStmt member to replace with value, or to remove when value is NULL. The
 * encoded value stays in the fixture until teardown. */
static void set_att_stmt_member(fixture *f, const char *member, cbor_item_t *value)
{
    size_t size = 0;

    free(f->att_stmt_value);
    f->att_stmt_value = NULL;
    f->ceremony.att_stmt_member = member;
    f->ceremony.att_stmt_value = NULL;
    f->ceremony.att_stmt_value_len = 0;
    if (value == NULL)
        return;
    f->ceremony.att_stmt_value_len =
        cbor_serialize_alloc(value, &f->att_stmt_value, &size);
    f->ceremony.att_stmt_value = f->att_stmt_value;
    cbor_decref(&value);
}

/* Returns a CBOR array of the DER of cert, count times, with extra bytes after each. */
static cbor_item_t *cert_array(X509 *cert, size_t count, const unsigned char *extra,
                               size_t extra_len)
{
    unsigned char *der = NULL;
    int der_len = i2d_X509(cert, &der);
    unsigned char *bytes = malloc((size_t)der_len + extra_len);
    cbor_item_t *array = cbor_new_definite_array(count);

    memcpy(bytes, der, (size_t)der_len);
    if (extra_len > 0)
        memcpy(bytes + der_len, extra, extra_len);
    for (size_t i = 0; i < count; i++)
        cbor_array_push(
            array, cbor_move(cbor_build_bytestring(bytes, (size_t)der_len + extra_len)));
    free(bytes);
    OPENSSL_free(der);
    return array;
}

static void none_statement_not_empty_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_NONE;
    set_att_stmt_member(f, "alg", cbor_build_negint8(6));
    assert_invalid_with(f, "alg in none", "none attestation statement is not an empty");
}

static void packed_alg_faults_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_PACKED_SELF;
    set_att_stmt_member(f, "alg", NULL);
    assert_invalid_with(f, "no alg", "alg is missing or not an integer");

    set_att_stmt_member(f, "alg", cbor_build_string("ES256"));
    assert_invalid_with(f, "alg text", "alg is missing or not an integer");
}

/* A self statement whose alg (RS256) is not the ES256 credential key's. */
static void packed_self_other_alg_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_PACKED_SELF;
    set_att_stmt_member(f, "alg", cbor_build_negint16(256));
    assert_invalid_with(f, "RS256 self", "self attestation names algorithm -257");
}

/* RS1 (-65535) is a tpm alg only, so a packed x5c statement may not name it. */
static void packed_x5c_rs1_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    set_att_stmt_member(f, "alg", cbor_build_negint16(65534));
    assert_case_rejected(f, "RS1", WEBAUTHN_ALGORITHM_UNSUPPORTED);
    assert_non_null(strstr(f->err.message, "uses COSE algorithm -65535"));
}

static void fido_u2f_x5c_faults_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_FIDO_U2F;
    set_att_stmt_member(f, "x5c", NULL);
    assert_invalid_with(f, "no x5c", "attestation statement has no x5c");

    set_att_stmt_member(f, "x5c", cbor_build_string("x5c"));
    assert_invalid_with(f, "x5c text", "x5c is not a non-empty array");

    set_att_stmt_member(f, "x5c", cert_array(f->ca.attestation_cert, 2, NULL, 0));
    assert_invalid_with(f, "two certificates", "holds 2 certificates instead of one");
}

/* x5c shapes that webauthn_x5c_parse rejects, sent in a packed statement. */
static void x5c_faults_rejected(void **state)
{
    static const unsigned char zero = 0;
    static const unsigned char sequence_of_integer[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    static const unsigned char no_bit_string[] = {0x30, 0x04, 0x30, 0x00, 0x30, 0x00};
    fixture *f = *state;
    cbor_item_t *array;

    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    set_att_stmt_member(f, "x5c", cbor_new_definite_array(0));
    assert_invalid_with(f, "empty", "x5c is not a non-empty array");

    set_att_stmt_member(f, "x5c", cert_array(f->ca.attestation_cert, 9, NULL, 0));
    assert_invalid_with(f, "nine certificates", "has 9 certificates, more than 8");

    array = cbor_new_definite_array(1);
    cbor_array_push(array, cbor_move(cbor_build_string("certificate")));
    set_att_stmt_member(f, "x5c", array);
    assert_invalid_with(f, "text element", "x5c element 0 is not a byte string");

    set_att_stmt_member(f, "x5c", cert_array(f->ca.attestation_cert, 1, &zero, 1));
    assert_invalid_with(f, "trailing byte", "x5c element 0 is not one DER certificate");

    array = cbor_new_definite_array(1);
    cbor_array_push(array, cbor_move(cbor_build_bytestring(sequence_of_integer,
                                                           sizeof(sequence_of_integer))));
    set_att_stmt_member(f, "x5c", array);
    assert_invalid_with(f, "INTEGER", "x5c element 0 is not one DER certificate");

    array = cbor_new_definite_array(1);
    cbor_array_push(
        array, cbor_move(cbor_build_bytestring(no_bit_string, sizeof(no_bit_string))));
    set_att_stmt_member(f, "x5c", array);
    assert_invalid_with(f, "no signature", "x5c element 0 is not one DER certificate");
}

/* Under CHAIN with no root configured, no chain can verify. */
static void chain_without_roots_rejected(void **state)
{
    fixture *f = *state;

    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_CHAIN);
    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    assert_rejected(f, WEBAUTHN_ATTESTATION_CHAIN_INVALID);
    assert_non_null(strstr(f->err.message, "No attestation root is configured"));
}

static void android_key_x5c_text_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_ANDROID_KEY;
    set_att_stmt_member(f, "x5c", cbor_build_string("x5c"));
    assert_invalid_with(f, "x5c text", "x5c is not a non-empty array");
}

/* A sig that is valid DER (r = s = 1) but no signature by the leaf key. */
static void android_key_signature_rejected(void **state)
{
    static const unsigned char wrong[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_ANDROID_KEY;
    set_att_stmt_member(f, "sig", cbor_build_bytestring(wrong, sizeof(wrong)));
    assert_invalid_with(f, "r = s = 1",
                        "android-key attestation signature does not verify");
}

/* A statement that another key signs and that the certificate certifies for it. */
static void android_key_other_key_rejected(void **state)
{
    fixture *f = *state;
    soft_authenticator other;

    assert_int_equal(soft_authenticator_init(&other, -7), 0);
    f->ceremony.format = SOFT_FORMAT_ANDROID_KEY;
    f->ceremony.android_key = other.key;
    assert_invalid_with(f, "other key",
                        "android-key certificate key is not the credential");
    soft_authenticator_clear(&other);
}

static void apple_x5c_text_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_APPLE;
    set_att_stmt_member(f, "x5c", cbor_build_string("x5c"));
    assert_invalid_with(f, "x5c text", "x5c is not a non-empty array");
}

/* pubArea cut inside each part that check_pub_area reads: the header, symmetric and
 * scheme, the scheme's hash, the ECC kdf and the kdf's hash. Its header (type, nameAlg,
 * objectAttributes, a 32-byte authPolicy) is 42 bytes long. */
static void tpm_pub_area_truncated(void **state)
{
    static const struct {
        const char *label;
        size_t cut;
        bool schemes;
    } cases[] = {
        {"in objectAttributes", 5, false}, {"in scheme", 45, false},
        {"in the scheme hash", 47, true},  {"in kdf", 49, false},
        {"in the kdf hash", 53, true},
    };
    fixture *f = *state;

    assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f->ceremony.tpm_pub_area_cut = cases[i].cut;
        f->ceremony.tpm_schemes = cases[i].schemes;
        assert_invalid_with(f, cases[i].label, "pubArea is truncated");
    }
}

/* An RSA pubArea cut in its exponent, after keyBits. */
static void tpm_rsa_pub_area_truncated(void **state)
{
    fixture *f = *state;

    assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_pub_area_cut = 50;
    assert_invalid_with(f, "in exponent", "pubArea is truncated");
}

static void tpm_cert_info_truncated(void **state)
{
    fixture *f = *state;

    assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_cert_info_cut = 10;
    assert_invalid_with(f, "in qualifiedSigner", "certInfo is truncated");
}

static void tpm_statement_faults_rejected(void **state)
{
    fixture *f = *state;

    assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    set_att_stmt_member(f, "ver", cbor_build_string("1.0"));
    assert_invalid_with(f, "ver 1.0", "attestation version is not \"2.0\"");

    set_att_stmt_member(f, "certInfo", cbor_build_string("certInfo"));
    assert_invalid_with(f, "certInfo text", "certInfo and pubArea must be byte strings");

    set_att_stmt_member(f, "pubArea", cbor_build_string("pubArea"));
    assert_invalid_with(f, "pubArea text", "certInfo and pubArea must be byte strings");

    set_att_stmt_member(f, "x5c", cbor_build_string("x5c"));
    assert_invalid_with(f, "x5c text", "x5c is not a non-empty array");
}

static void tpm_kdf_rejected(void **state)
{
    fixture *f = *state;

    assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_fault = SOFT_TPM_KDF;
    assert_invalid_with(f, "kdf TPM_ALG_RSA", "kdf 0x0001 is not a TPM key derivation");
}

/* An ES256 credential key whose pubArea names TPM_ECC_NIST_P384. */
static void tpm_es256_curve_rejected(void **state)
{
    fixture *f = *state;

    assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_fault = SOFT_TPM_CURVE;
    assert_invalid_with(f, "P-384 for ES256", "needs TPM_ECC_NIST_P256 (0x0003)");
}

/* A statement that names ES256 but whose certInfo the RSA AIK signed with RS1. */
static void tpm_rsa_aik_for_es256_rejected(void **state)
{
    fixture *f = *state;

    assert_int_equal(soft_ca_add_aik(&f->ca), 0);
    f->ceremony.format = SOFT_FORMAT_TPM;
    f->ceremony.tpm_alg = -7;
    f->ceremony.tpm_signature_alg = -65535;
    assert_invalid_with(f, "RSA AIK",
                        "key is an RSA key, but alg -7 (ES256) needs an EC");
}

/* hmac-secret true and minPinLength 4 in a packed statement's authenticator data,
 * which libfido2 compares with the extensions requested of it. */
static void fido_extensions_accepted(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_PACKED_SELF;
    f->ceremony.extension_name = "hmac-secret";
    f->ceremony.extension_name_len = strlen("hmac-secret");
    f->ceremony.extension_true = true;
    assert_accepted(f);

    f->ceremony.extension_name = "minPinLength";
    f->ceremony.extension_name_len = strlen("minPinLength");
    f->ceremony.extension_true = false;
    f->ceremony.extension_uint = true;
    assert_accepted(f);
}

static void rs1_algorithm_named(void **state)
{
    (void)state;
    assert_string_equal(webauthn_algorithm_name(-65535), "RS1");
}

/* Verifies the registration of f->ceremony after setting key (in the response object
 * when in_response is set) to value, or removing it when value is NULL. */
static webauthn_code run_json_edit(fixture *f, bool in_response, const char *key,
                                   json_t *value)
{
    soft_ceremony defaults;
    char *built = soft_register(&f->auth, &f->ceremony, NULL, 0);
    json_t *root = json_loads(built, 0, NULL);
    json_t *object = in_response ? json_object_get(root, "response") : root;
    char *json;
    webauthn_code code;

    assert_non_null(root);
    if (value != NULL)
        json_object_set_new(object, key, value);
    else
        json_object_del(object, key);
    json = json_dumps(root, JSON_COMPACT);
    soft_ceremony_defaults(&defaults);
    webauthn_registration_free(&f->reg);
    code = webauthn_verify_registration(f->verifier, defaults.challenge,
                                        sizeof(defaults.challenge), json, strlen(json),
                                        &f->reg, &f->err);
    json_decref(root);
    free(json);
    free(built);
    return code;
}

/* Response JSON whose credential members are missing or of the wrong type. */
static void response_json_faults_rejected(void **state)
{
    static const struct {
        bool in_response;
        const char *key;
        const char *value; /* JSON text, or NULL to remove the member */
        const char *part;
    } cases[] = {
        {false, "type", "\"password\"", "credential type is not \"public-key\""},
        {false, "type", NULL, "credential type is not \"public-key\""},
        {false, "response", "\"response\"", "has no \"response\" object"},
        {false, "rawId", NULL, "credential rawId is missing"},
        {true, "clientDataJSON", NULL, "clientDataJSON is missing"},
        {true, "clientDataJSON", "\"\"", "clientDataJSON is empty"},
        {true, "attestationObject", NULL, "attestationObject is missing"},
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *value = NULL;
        webauthn_code code;

        if (cases[i].value != NULL)
            value = json_loads(cases[i].value, JSON_DECODE_ANY, NULL);
        code = run_json_edit(f, cases[i].in_response, cases[i].key, value);
        if (code != WEBAUTHN_MALFORMED || strstr(f->err.message, cases[i].part) == NULL)
            fail_msg("case %zu: expected malformed with \"%s\", got %s: %s", i,
                     cases[i].part, webauthn_code_name(code), f->err.message);
    }
}

static void response_json_not_object_rejected(void **state)
{
    static const unsigned char challenge[32] = {0};
    fixture *f = *state;

    assert_int_equal(webauthn_verify_registration(f->verifier, challenge, 32, "[]", 2,
                                                  &f->reg, &f->err),
                     WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "response JSON is not an object"));
    assert_int_equal(
        webauthn_verify_registration(f->verifier, challenge, 32, "", 0, &f->reg, &f->err),
        WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "response JSON is empty"));
}

static void add_pair(cbor_item_t *map, const char *key, cbor_item_t *value);

/* Returns {"fmt": fmt, "attStmt": att_stmt, "authData": auth_data} as CBOR. A member
 * given as NULL is left out; fmt has fmt_len bytes. */
static unsigned char *none_object(const char *fmt, size_t fmt_len, cbor_item_t *att_stmt,
                                  cbor_item_t *auth_data, size_t *len)
{
    cbor_item_t *map = cbor_new_definite_map(3);
    unsigned char *out = NULL;
    size_t size = 0;

    add_pair(map, "fmt", cbor_build_stringn(fmt, fmt_len));
    if (att_stmt != NULL)
        add_pair(map, "attStmt", att_stmt);
    if (auth_data != NULL)
        add_pair(map, "authData", auth_data);
    *len = cbor_serialize_alloc(map, &out, &size);
    cbor_decref(&map);
    return out;
}

/* Returns authData bytes: rpIdHash, flags, a zero counter, then extra_len bytes. */
static cbor_item_t *auth_data_with(uint8_t flags, const unsigned char *extra,
                                   size_t extra_len)
{
    unsigned char bytes[37 + 64] = {0};

    assert_true(extra_len <= 64);
    SHA256((const unsigned char *)SOFT_RP_ID, strlen(SOFT_RP_ID), bytes);
    bytes[32] = flags;
    if (extra_len > 0)
        memcpy(bytes + 37, extra, extra_len);
    return cbor_build_bytestring(bytes, 37 + extra_len);
}

static void assert_none_object_rejected(fixture *f, unsigned char *object, size_t len,
                                        webauthn_code expected, const char *part)
{
    webauthn_code code = run_with_object(f, object, len);

    free(object);
    if (code != expected || strstr(f->err.message, part) == NULL)
        fail_msg("expected %s with \"%s\", got %s: %s", webauthn_code_name(expected),
                 part, webauthn_code_name(code), f->err.message);
}

/* Attestation objects whose fmt, attStmt or authData has the wrong type or size. */
static void attestation_object_faults_rejected(void **state)
{
    static const unsigned char aaguid_only[16] = {0};
    static const unsigned char zero_id[18] = {0};
    static const unsigned char long_id[18 + 4] = {[16] = 0, [17] = 32};
    fixture *f = *state;
    size_t len = 0;
    unsigned char *object;

    object =
        none_object("", 0, cbor_new_definite_map(0), auth_data_with(0x41, NULL, 0), &len);
    assert_none_object_rejected(f, object, len, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED,
                                "format name is empty or too long");
    object = none_object("no\0ne", 5, cbor_new_definite_map(0),
                         auth_data_with(0x41, NULL, 0), &len);
    assert_none_object_rejected(f, object, len, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED,
                                "format name is empty or too long");
    object = none_object("none", 4, cbor_build_string("x"), auth_data_with(0x41, NULL, 0),
                         &len);
    assert_none_object_rejected(f, object, len, WEBAUTHN_MALFORMED,
                                "attStmt is missing or not a map");
    object =
        none_object("none", 4, cbor_new_definite_map(0), cbor_build_string("x"), &len);
    assert_none_object_rejected(f, object, len, WEBAUTHN_MALFORMED,
                                "authData is missing or not a byte string");
    object = none_object("none", 4, cbor_new_definite_map(0),
                         cbor_build_bytestring(aaguid_only, 16), &len);
    assert_none_object_rejected(f, object, len, WEBAUTHN_MALFORMED,
                                "authenticator data is 16 bytes, shorter than 37");
    object = none_object("none", 4, cbor_new_definite_map(0),
                         auth_data_with(0x01, NULL, 0), &len);
    assert_none_object_rejected(f, object, len, WEBAUTHN_MALFORMED, "(AT flag clear)");
    object = none_object("none", 4, cbor_new_definite_map(0),
                         auth_data_with(0x41, aaguid_only, 16), &len);
    assert_none_object_rejected(f, object, len, WEBAUTHN_MALFORMED,
                                "attested credential data is truncated");
    object = none_object("none", 4, cbor_new_definite_map(0),
                         auth_data_with(0x41, zero_id, sizeof(zero_id)), &len);
    assert_none_object_rejected(f, object, len, WEBAUTHN_MALFORMED,
                                "credential id length 0 is outside 1 to");
    object = none_object("none", 4, cbor_new_definite_map(0),
                         auth_data_with(0x41, long_id, sizeof(long_id)), &len);
    assert_none_object_rejected(f, object, len, WEBAUTHN_MALFORMED,
                                "credential id runs past the authenticator data");
}

/* Verifies the registration of f->ceremony with clientDataJSON replaced by text. */
static webauthn_code run_client_data(fixture *f, const char *text)
{
    soft_ceremony defaults;
    char *built = soft_register(&f->auth, &f->ceremony, NULL, 0);
    char *encoded = soft_base64url((const unsigned char *)text, strlen(text));
    json_t *root = json_loads(built, 0, NULL);
    char *json;
    webauthn_code code;

    assert_non_null(root);
    json_object_set_new(json_object_get(root, "response"), "clientDataJSON",
                        json_string(encoded));
    json = json_dumps(root, JSON_COMPACT);
    soft_ceremony_defaults(&defaults);
    webauthn_registration_free(&f->reg);
    code = webauthn_verify_registration(f->verifier, defaults.challenge,
                                        sizeof(defaults.challenge), json, strlen(json),
                                        &f->reg, &f->err);
    json_decref(root);
    free(json);
    free(encoded);
    free(built);
    return code;
}

/* Returns clientDataJSON text with the given type and origin members, as JSON text. */
static char *client_data_text(const char *type_json, const char *origin_json)
{
    soft_ceremony defaults;
    char *challenge;
    char *text = malloc(512);

    soft_ceremony_defaults(&defaults);
    challenge = soft_base64url(defaults.challenge, sizeof(defaults.challenge));
    snprintf(text, 512, "{\"type\":%s,\"challenge\":\"%s\",\"origin\":%s}", type_json,
             challenge, origin_json);
    free(challenge);
    return text;
}

static void assert_client_data_rejected(fixture *f, const char *text,
                                        webauthn_code expected, const char *part)
{
    webauthn_code code = run_client_data(f, text);

    if (code != expected)
        fail_msg("%s: expected %s, got %s: %s", text, webauthn_code_name(expected),
                 webauthn_code_name(code), f->err.message);
    if (strstr(f->err.message, part) == NULL)
        fail_msg("%s: expected \"%s\" in: %s", text, part, f->err.message);
}

static void client_data_not_object_rejected(void **state)
{
    fixture *f = *state;

    assert_client_data_rejected(f, "[]", WEBAUTHN_MALFORMED,
                                "clientDataJSON is not a JSON object");
    assert_client_data_rejected(f, "[{\"type\":\"webauthn.create\"}]", WEBAUTHN_MALFORMED,
                                "clientDataJSON is not a JSON object");
}

static void client_data_type_not_string_rejected(void **state)
{
    fixture *f = *state;
    char *number = client_data_text("1", "\"" SOFT_ORIGIN "\"");
    char *missing = client_data_text("null", "\"" SOFT_ORIGIN "\"");

    assert_client_data_rejected(f, number, WEBAUTHN_CLIENT_DATA_TYPE, "type is missing");
    assert_client_data_rejected(f, missing, WEBAUTHN_CLIENT_DATA_TYPE, "type is missing");
    free(number);
    free(missing);
}

static void client_data_origin_not_string_rejected(void **state)
{
    fixture *f = *state;
    char *number = client_data_text("\"webauthn.create\"", "443");
    char *array = client_data_text("\"webauthn.create\"", "[\"" SOFT_ORIGIN "\"]");

    assert_client_data_rejected(f, number, WEBAUTHN_ORIGIN_NOT_ALLOWED,
                                "origin is missing");
    assert_client_data_rejected(f, array, WEBAUTHN_ORIGIN_NOT_ALLOWED,
                                "origin is missing");
    free(number);
    free(array);
}

/* Invalid UTF-8 after the type, one case per lead byte range of the Encoding Standard's
 * UTF-8 decoder. Each becomes U+FFFD, so the type differs and the sentence shows it. */
static void client_data_type_invalid_utf8_rejected(void **state)
{
    static const char *const suffixes[] = {
        "\xc2\x41",         /* a 2-byte lead before an ASCII byte */
        "\xe0\x80\x80",     /* overlong below U+0800 */
        "\xf0\x80\x80\x80", /* overlong below U+10000 */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf1\x80\x80",     /* a 4-byte sequence cut after 3 bytes */
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char type[64];
        char *text;

        snprintf(type, sizeof(type), "\"webauthn.create%s\"", suffixes[i]);
        text = client_data_text(type, "\"" SOFT_ORIGIN "\"");
        assert_client_data_rejected(f, text, WEBAUTHN_CLIENT_DATA_TYPE,
                                    "type is \"webauthn.create\xef\xbf\xbd");
        free(text);
    }
}

/* A valid 4-byte sequence after the type reaches the sentence unchanged. */
static void client_data_type_emoji_rejected(void **state)
{
    fixture *f = *state;
    char *text =
        client_data_text("\"webauthn.create\xf0\x9f\x98\x80\"", "\"" SOFT_ORIGIN "\"");

    assert_client_data_rejected(f, text, WEBAUTHN_CLIENT_DATA_TYPE,
                                "type is \"webauthn.create\xf0\x9f\x98\x80\"");
    free(text);
}

static void verifier_empty_rp_id_rejected(void **state)
{
    (void)state;
    assert_null(webauthn_verifier_new(""));
    assert_null(webauthn_verifier_new(NULL));
}

static void verifier_missing_roots_file_rejected(void **state)
{
    fixture *f = *state;
    webauthn_error err = {0};

    assert_int_equal(
        webauthn_verifier_add_roots_file(f->verifier, "/nonexistent/roots.pem", &err),
        -1);
    assert_int_equal(err.code, WEBAUTHN_INTERNAL_ERROR);
    assert_non_null(strstr(err.message, "Cannot read the root file"));
    assert_non_null(strstr(err.message, "/nonexistent/roots.pem"));
}

/* A credential key whose alg is among several offered ones passes. */
static void offered_algorithm_accepted(void **state)
{
    static const int64_t offered[] = {-257, -8, -7};
    fixture *f = *state;

    assert_int_equal(webauthn_verifier_set_algorithms(f->verifier, offered, 3), 0);
    assert_accepted(f);
    assert_int_equal(f->reg->algorithm, -7);
}

static void aaguid_extension_mismatch_rejected(void **state)
{
    fixture *f = *state;
    unsigned char other[16];

    memset(other, 0x77, sizeof(other));
    soft_ca_clear(&f->ca);
    assert_int_equal(soft_ca_init(&f->ca, other), 0);
    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    assert_rejected(f, WEBAUTHN_AAGUID_MISMATCH);
}

static void untrusted_root_rejected(void **state)
{
    fixture *f = *state;
    soft_ca other;

    assert_int_equal(soft_ca_init(&other, NULL), 0);
    assert_int_equal(webauthn_verifier_add_root(f->verifier, other.ca_cert), 0);
    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_CHAIN);
    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    assert_rejected(f, WEBAUTHN_ATTESTATION_CHAIN_INVALID);
    soft_ca_clear(&other);
}

static void chain_checked_at_pinned_time(void **state)
{
    fixture *f = *state;

    /* The test certificates start one day before now, so ten days ago is too early. */
    assert_int_equal(webauthn_verifier_add_root(f->verifier, f->ca.ca_cert), 0);
    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_CHAIN);
    webauthn_verifier_set_time(f->verifier, time(NULL) - 10 * 86400);
    f->ceremony.format = SOFT_FORMAT_PACKED_X5C;
    assert_rejected(f, WEBAUTHN_ATTESTATION_CHAIN_INVALID);
    assert_non_null(strstr(f->err.message, "not yet valid"));
}

static void off_curve_key_rejected(void **state)
{
    fixture *f = *state;

    /* Format none verifies no signature, so only the point check can catch this. */
    f->ceremony.format = SOFT_FORMAT_NONE;
    f->ceremony.corrupt_credential_key = true;
    assert_rejected(f, WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "not a valid point on P-256"));
}

static void none_rejected_under_self(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_NONE;
    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_SELF);
    assert_rejected(f, WEBAUTHN_ATTESTATION_REQUIRED);
}

static void none_rejected_under_chain(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_NONE;
    assert_int_equal(webauthn_verifier_add_root(f->verifier, f->ca.ca_cert), 0);
    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_CHAIN);
    assert_rejected(f, WEBAUTHN_ATTESTATION_REQUIRED);
}

static void self_rejected_under_chain(void **state)
{
    fixture *f = *state;

    assert_int_equal(webauthn_verifier_add_root(f->verifier, f->ca.ca_cert), 0);
    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_CHAIN);
    assert_rejected(f, WEBAUTHN_ATTESTATION_REQUIRED);
}

/* ---- Malformed input -------------------------------------------------------------- */

static void assert_object_rejected(fixture *f, const unsigned char *bytes, size_t len,
                                   webauthn_code expected)
{
    webauthn_code code = run_with_object(f, bytes, len);

    if (code != expected)
        fail_msg("expected %s, got %s: %s", webauthn_code_name(expected),
                 webauthn_code_name(code), f->err.message);
}

static void trailing_bytes_rejected(void **state)
{
    fixture *f = *state;
    unsigned char hash[32] = {0};
    size_t len = 0;
    unsigned char *object = soft_attestation_object(&f->auth, &f->ceremony, hash, &len);
    unsigned char *longer = malloc(len + 1);

    memcpy(longer, object, len);
    longer[len] = 0x00;
    assert_object_rejected(f, longer, len + 1, WEBAUTHN_CBOR_MALFORMED);
    free(longer);
    free(object);
}

static void truncated_object_rejected(void **state)
{
    fixture *f = *state;
    unsigned char hash[32] = {0};
    size_t len = 0;
    unsigned char *object = soft_attestation_object(&f->auth, &f->ceremony, hash, &len);

    assert_object_rejected(f, object, len - 1, WEBAUTHN_CBOR_MALFORMED);
    free(object);
}

static void extension_flag_without_extensions_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format = SOFT_FORMAT_NONE;
    f->ceremony.flags |= 0x80; /* ED, with nothing after the credential key */
    assert_rejected(f, WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "extensions flag (ED)"));
}

static void add_pair(cbor_item_t *map, const char *key, cbor_item_t *value)
{
    cbor_map_add(map, (struct cbor_pair){.key = cbor_move(cbor_build_string(key)),
                                         .value = cbor_move(value)});
}

/* The authenticator data ends right after the credential id, with AT set. */
static void credential_key_missing_rejected(void **state)
{
    fixture *f = *state;
    unsigned char auth_data[37 + 18 + sizeof(f->auth.credential_id)];
    unsigned char *object = NULL;
    size_t size = 0, len;
    cbor_item_t *map = cbor_new_definite_map(3);

    memset(auth_data, 0, sizeof(auth_data));
    SHA256((const unsigned char *)SOFT_RP_ID, strlen(SOFT_RP_ID), auth_data);
    auth_data[32] = 0x45; /* UP, UV and AT */
    auth_data[37 + 17] = sizeof(f->auth.credential_id);
    memcpy(auth_data + 37 + 18, f->auth.credential_id, sizeof(f->auth.credential_id));
    add_pair(map, "fmt", cbor_build_string("none"));
    add_pair(map, "attStmt", cbor_new_definite_map(0));
    add_pair(map, "authData", cbor_build_bytestring(auth_data, sizeof(auth_data)));
    len = cbor_serialize_alloc(map, &object, &size);
    cbor_decref(&map);

    assert_object_rejected(f, object, len, WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "no credential public key"));
    free(object);
}

/* Returns a none attestation object whose authData carries the credential id, then
 * key_len bytes of key, then tail_len bytes of tail. Its flags are UP, UV, AT and extra. */
static unsigned char *none_object_with(fixture *f, const unsigned char *key,
                                       size_t key_len, const unsigned char *tail,
                                       size_t tail_len, unsigned char extra_flags,
                                       size_t *len)
{
    size_t fixed_len = 37 + 18 + sizeof(f->auth.credential_id);
    size_t auth_data_len = fixed_len + key_len + tail_len;
    unsigned char *auth_data = calloc(1, auth_data_len);
    unsigned char *object = NULL;
    size_t size = 0;
    cbor_item_t *map = cbor_new_definite_map(3);

    SHA256((const unsigned char *)SOFT_RP_ID, strlen(SOFT_RP_ID), auth_data);
    auth_data[32] = 0x45 | extra_flags;
    auth_data[37 + 17] = sizeof(f->auth.credential_id);
    memcpy(auth_data + 37 + 18, f->auth.credential_id, sizeof(f->auth.credential_id));
    memcpy(auth_data + fixed_len, key, key_len);
    if (tail_len > 0)
        memcpy(auth_data + fixed_len + key_len, tail, tail_len);
    add_pair(map, "fmt", cbor_build_string("none"));
    add_pair(map, "attStmt", cbor_new_definite_map(0));
    add_pair(map, "authData", cbor_build_bytestring(auth_data, auth_data_len));
    *len = cbor_serialize_alloc(map, &object, &size);
    cbor_decref(&map);
    free(auth_data);
    return object;
}

/* Firefox 117 sent an Ed25519 COSE key whose map header counted one entry fewer than
 * it had, which left the x coordinate after the key. The message must name where the
 * extra bytes sit, for every key type. */
static void bytes_after_credential_key_named(void **state)
{
    fixture *f = *state;
    size_t key_len = 0, len = 0;
    unsigned char *key = soft_cose_key(&f->auth, &key_len);
    unsigned char *object;

    key[0]--; /* the map header, one entry short */
    object = none_object_with(f, key, key_len, NULL, 0, 0, &len);
    assert_object_rejected(f, object, len, WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "after the credential public key"));
    assert_non_null(strstr(f->err.message, "extensions flag (ED) is clear"));
    free(object);
    free(key);
}

/* Returns the credential's COSE key with one more pair, label and a 32-byte value,
 * appended; the caller frees it. */
static unsigned char *cose_key_with_pair(fixture *f, unsigned char label, size_t *len)
{
    size_t key_len = 0;
    unsigned char *key = soft_cose_key(&f->auth, &key_len);
    unsigned char *longer = malloc(key_len + 3 + 32);

    memcpy(longer, key, key_len);
    longer[0]++; /* the map header counts the new pair */
    longer[key_len] = label;
    longer[key_len + 1] = 0x58; /* a byte string of 32 bytes */
    longer[key_len + 2] = 32;
    memset(longer + key_len + 3, 0x42, 32);
    *len = key_len + 3 + 32;
    free(key);
    return longer;
}

/* A credential key that carries private key material is not a public key, and the
 * server must not store that material. d is -4 for EC2 and OKP keys, -3 for RSA. */
static void credential_private_key_rejected(void **state)
{
    fixture *f = *state;
    unsigned char label = f->auth.alg == -257 ? 0x22 : 0x23; /* CBOR -3 or -4 */
    size_t key_len = 0, len = 0;
    unsigned char *key = cose_key_with_pair(f, label, &key_len);
    unsigned char *object = none_object_with(f, key, key_len, NULL, 0, 0, &len);

    assert_object_rejected(f, object, len, WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "private key parameter"));
    free(object);
    free(key);
}

/* Parameters a COSE key may carry beside the public ones, such as kid (2), stay
 * accepted. kid goes after kty (1), where CTAP2 canonical order puts it, and the
 * ES256 key starts with the map header and the two bytes of kty. */
static void credential_key_id_accepted(void **state)
{
    fixture *f = *state;
    size_t short_len = 0, key_len = 0, len = 0;
    unsigned char *short_key = soft_cose_key(&f->auth, &short_len);
    unsigned char *key = malloc(short_len + 3 + 32);
    unsigned char *object;
    webauthn_code code;

    memcpy(key, short_key, 3);
    key[0]++; /* the map header counts the new pair */
    key[3] = 0x02;
    key[4] = 0x58; /* a byte string of 32 bytes */
    key[5] = 32;
    memset(key + 6, 0x42, 32);
    memcpy(key + 6 + 32, short_key + 3, short_len - 3);
    key_len = short_len + 3 + 32;
    free(short_key);
    object = none_object_with(f, key, key_len, NULL, 0, 0, &len);
    code = run_with_object(f, object, len);

    if (code != WEBAUTHN_OK)
        fail_msg("expected ok, got %s: %s", webauthn_code_name(code), f->err.message);
    free(object);
    free(key);
}

/* COSE labels are integers or text strings (RFC 9052), and CTAP2 canonical order has no
 * place for another key type, so a byte string label h'01' is rejected. */
static void credential_key_byte_string_label_rejected(void **state)
{
    static const unsigned char pair[] = {0x41, 0x01, 0xf5}; /* h'01': true */
    fixture *f = *state;
    size_t short_len = 0, len = 0;
    unsigned char *short_key = soft_cose_key(&f->auth, &short_len);
    unsigned char *key = malloc(short_len + sizeof(pair));
    unsigned char *object;

    memcpy(key, short_key, short_len);
    key[0]++; /* the map header counts the new pair */
    memcpy(key + short_len, pair, sizeof(pair));
    object = none_object_with(f, key, short_len + sizeof(pair), NULL, 0, 0, &len);
    assert_object_rejected(f, object, len, WEBAUTHN_CBOR_MALFORMED);
    assert_non_null(strstr(f->err.message, "neither an integer nor a text string"));
    free(object);
    free(key);
    free(short_key);
}

static void bytes_after_extensions_named(void **state)
{
    fixture *f = *state;
    static const unsigned char tail[] = {0xa0, 0x00}; /* an empty map, then one byte */
    size_t key_len = 0, len = 0;
    unsigned char *key = soft_cose_key(&f->auth, &key_len);
    unsigned char *object =
        none_object_with(f, key, key_len, tail, sizeof(tail), 0x80, &len);

    assert_object_rejected(f, object, len, WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "1 byte after the extensions"));
    free(object);
    free(key);
}

static void huge_lengths_rejected_fast(void **state)
{
    fixture *f = *state;
    static const struct {
        unsigned char bytes[9];
        size_t len;
    } cases[] = {
        {{0x9a, 0xff, 0xff, 0xff, 0xff}, 5},                         /* array, 2^32-1 */
        {{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9}, /* array, 2^64-1 */
        {{0xba, 0xff, 0xff, 0xff, 0xff}, 5},                         /* map, 2^32-1 */
        {{0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9}, /* map, 2^64-1 */
        {{0x5a, 0xff, 0xff, 0xff, 0xff}, 5},                         /* bytes, 2^32-1 */
        {{0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9}, /* text, 2^64-1 */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clock_t start = clock();

        /* Under AddressSanitizer a multi-gigabyte allocation attempt aborts the test,
         * so passing also shows that no such allocation happened. */
        assert_object_rejected(f, cases[i].bytes, cases[i].len, WEBAUTHN_CBOR_MALFORMED);
        assert_true((double)(clock() - start) / CLOCKS_PER_SEC < 0.5);
    }
}

static void indefinite_length_rejected(void **state)
{
    fixture *f = *state;
    static const unsigned char bytes[] = {0xbf, 0x63, 'f', 'm', 't', 0x64,
                                          'n',  'o',  'n', 'e', 0xff};

    assert_object_rejected(f, bytes, sizeof(bytes), WEBAUTHN_CBOR_MALFORMED);
}

static void deep_nesting_rejected(void **state)
{
    fixture *f = *state;
    unsigned char bytes[64];

    memset(bytes, 0x81, sizeof(bytes) - 1); /* arrays of one element, nested */
    bytes[sizeof(bytes) - 1] = 0x00;
    assert_object_rejected(f, bytes, sizeof(bytes), WEBAUTHN_CBOR_MALFORMED);
}

/* Each construct that the CBOR check rejects, as the value of "fmt", with the reason
 * that the message must name. */
static void cbor_rejection_named(void **state)
{
    static const struct {
        unsigned char value[4];
        size_t len;
        const char *reason;
    } cases[] = {
        {{0xe0}, 1, "a simple value other than false, true, null and undefined"},
        {{0xf8, 0x15}, 2, "a simple value other than false, true, null and undefined"},
        {{0xf8, 0x20}, 2, "a simple value other than false, true, null and undefined"},
        {{0xc0, 0x00}, 2, "a tag"},
        {{0x5f, 0x41, 0x61, 0xff}, 4, "an indefinite length"},
        {{0xff}, 1, "a break stop code outside an indefinite-length item"},
        {{0x1c}, 1, "a reserved additional information value"},
        {{0x5a, 0xff, 0xff, 0xff}, 4, "the input ends inside an item header"},
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char bytes[5 + 4] = {0xa1, 0x63, 'f', 'm', 't'};

        memcpy(bytes + 5, cases[i].value, cases[i].len);
        assert_object_rejected(f, bytes, 5 + cases[i].len, WEBAUTHN_CBOR_MALFORMED);
        if (strstr(f->err.message, cases[i].reason) == NULL)
            fail_msg("case %zu: expected \"%s\" in: %s", i, cases[i].reason,
                     f->err.message);
    }
}

static void object_not_a_map_rejected(void **state)
{
    fixture *f = *state;
    static const unsigned char bytes[] = {0x83, 0x01, 0x02, 0x03};

    assert_object_rejected(f, bytes, sizeof(bytes), WEBAUTHN_MALFORMED);
}

static void unknown_format_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.format_name = "x-test";
    assert_rejected(f, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED);
}

static void compound_rejected_with_reason(void **state)
{
    fixture *f = *state;

    f->ceremony.format_name = "compound";
    assert_rejected(f, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED);
    assert_non_null(strstr(f->err.message, "combine several formats"));
}

/* Returns a copy of json with suffix written at the end of the string value of member
 * name, which must stand in json. */
static char *append_to_member(const char *json, const char *name, const char *suffix)
{
    char key[64];
    const char *start;
    const char *end;
    char *out = malloc(strlen(json) + strlen(suffix) + 1);

    assert_non_null(out);
    snprintf(key, sizeof(key), "\"%s\":\"", name);
    start = strstr(json, key);
    assert_non_null(start);
    end = strchr(start + strlen(key), '"');
    assert_non_null(end);
    memcpy(out, json, (size_t)(end - json));
    strcpy(out + (end - json), suffix);
    strcat(out, end);
    return out;
}

/* Returns the padding that completes the base64url value of member name in json. */
static const char *padding_of(const char *json, const char *name)
{
    char key[64];
    const char *start;
    size_t len;

    snprintf(key, sizeof(key), "\"%s\":\"", name);
    start = strstr(json, key);
    assert_non_null(start);
    start += strlen(key);
    len = (size_t)(strchr(start, '"') - start);
    if (len % 4 == 2)
        return "==";
    if (len % 4 == 3)
        return "=";
    return "";
}

static webauthn_code verify_text(fixture *f, const char *json)
{
    soft_ceremony defaults;

    soft_ceremony_defaults(&defaults);
    return webauthn_verify_registration(f->verifier, defaults.challenge,
                                        sizeof(defaults.challenge), json, strlen(json),
                                        &f->reg, &f->err);
}

/* Some encoders pad base64url. The outer members decode to the same bytes either way,
 * so their complete padding is taken. */
static void padded_members_accepted(void **state)
{
    static const char *const members[] = {"id", "rawId", "clientDataJSON",
                                          "attestationObject"};
    fixture *f = *state;
    char *json = soft_register(&f->auth, &f->ceremony, NULL, 0);
    webauthn_code code;

    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        char *padded = append_to_member(json, members[i], padding_of(json, members[i]));

        free(json);
        json = padded;
    }
    code = verify_text(f, json);
    if (code != WEBAUTHN_OK)
        fail_msg("expected ok, got %s: %s", webauthn_code_name(code), f->err.message);
    assert_int_equal(f->reg->credential_id_len, sizeof(f->auth.credential_id));
    free(json);
}

/* Padding of the wrong length, or with other characters after it, stays malformed. */
static void wrong_padding_rejected(void **state)
{
    static const char *const wrong[] = {"==", "===", "====", "=A", "A="};
    fixture *f = *state;
    char *json = soft_register(&f->auth, &f->ceremony, NULL, 0);
    char *bad;

    /* The credential id is 32 bytes, 43 characters, so its padding is one "=". */
    assert_string_equal(padding_of(json, "id"), "=");
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        bad = append_to_member(json, "id", wrong[i]);
        assert_int_equal(verify_text(f, bad), WEBAUTHN_MALFORMED);
        assert_non_null(strstr(f->err.message, "credential id is not valid base64url"));
        free(bad);
    }
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(packed_self_accepted, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(packed_self_accepted, setup_rs256, teardown),
        cmocka_unit_test_setup_teardown(packed_self_accepted, setup_eddsa, teardown),
        cmocka_unit_test_setup_teardown(packed_self_accepted_under_self, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(none_accepted_by_default, setup_eddsa, teardown),
        cmocka_unit_test_setup_teardown(off_curve_key_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(packed_x5c_trusted_under_chain, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(packed_x5c_trusted_under_chain, setup_rs256,
                                        teardown),
        cmocka_unit_test_setup_teardown(packed_x5c_basic_under_any, setup_eddsa,
                                        teardown),
        cmocka_unit_test_setup_teardown(cross_origin_allowed_when_set, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(token_binding_without_binding_accepted,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(token_binding_present_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(client_data_duplicate_member_rejected,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(response_duplicate_member_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(cross_origin_omitted_accepted, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(uv_cleared_accepted_without_require, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(cred_protect_extension_accepted, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(att_stmt_any_order_accepted, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(att_stmt_any_order_accepted, setup_rs256,
                                        teardown),
        cmocka_unit_test_setup_teardown(credential_key_order_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(credential_key_order_rejected, setup_rs256,
                                        teardown),
        cmocka_unit_test_setup_teardown(credential_key_order_rejected, setup_eddsa,
                                        teardown),
        cmocka_unit_test_setup_teardown(extension_order_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(attestation_object_any_order_accepted,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(attestation_object_any_order_accepted,
                                        setup_rs256, teardown),
        cmocka_unit_test_setup_teardown(extension_outputs_checked_in_every_format,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(cred_protect_out_of_range_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(extension_output_type_named, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(cred_blob_extension_accepted, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(cred_blob_extension_accepted, setup_eddsa,
                                        teardown),
        cmocka_unit_test_setup_teardown(ceremony_changes_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(padded_challenge_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(uv_cleared_rejected_when_required, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(backup_eligibility_reported, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(client_data_byte_order_mark_accepted, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(top_origin_rejected_unless_allowed, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(raw_id_over_1023_bytes_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tampered_self_signature_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tampered_self_signature_rejected, setup_rs256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tampered_self_signature_rejected, setup_eddsa,
                                        teardown),
        cmocka_unit_test_setup_teardown(tampered_x5c_signature_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(undecodable_cert_key_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(packed_x5c_other_curve_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(fido_u2f_accepted, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(fido_u2f_nonzero_aaguid_accepted, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(fido_u2f_other_curve_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_accepted, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(tpm_accepted, setup_rs256, teardown),
        cmocka_unit_test_setup_teardown(tpm_eddsa_key_rejected, setup_eddsa, teardown),
        cmocka_unit_test_setup_teardown(tpm_rs256_accepted, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(tpm_rs256_accepted, setup_rs256, teardown),
        cmocka_unit_test_setup_teardown(tpm_ps256_accepted, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(tpm_ps256_accepted, setup_rs256, teardown),
        cmocka_unit_test_setup_teardown(tpm_es256_accepted, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(tpm_es256_accepted, setup_rs256, teardown),
        cmocka_unit_test_setup_teardown(tpm_longer_hash_algs_accepted, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_sm3_name_alg_accepted, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(tpm_sm3_name_alg_accepted, setup_rs256, teardown),
        cmocka_unit_test_setup_teardown(tpm_rs1_other_name_alg_unsupported, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_rs1_other_name_alg_unsupported, setup_rs256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_structure_faults_named, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_structure_faults_named, setup_rs256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_pub_area_exponent_rejected, setup_rs256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_tampered_signature_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_rs1_signature_under_rs256_rejected,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(tpm_rs256_signature_under_ps256_rejected,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(tpm_ps256_longer_salt_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_ecc_aik_under_rs256_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_es256_with_p384_aik_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_short_rsa_aik_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_unknown_alg_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(android_key_accepted, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(android_key_accepted, setup_rs256, teardown),
        cmocka_unit_test_setup_teardown(android_key_software_level_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_other_exponent_rejected, setup_rs256,
                                        teardown),
        cmocka_unit_test_setup_teardown(ecdaa_key_id_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(statement_sig_faults_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(android_key_challenge_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(android_key_origin_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(android_key_purpose_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(android_key_description_malformed, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(android_key_extension_missing, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(android_key_x5c_text_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(android_key_signature_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(android_key_other_key_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(apple_nonce_missing_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(fido_extensions_accepted, setup_es256, teardown),
        cmocka_unit_test(rs1_algorithm_named),
        cmocka_unit_test_setup_teardown(apple_nonce_malformed, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(apple_nonce_mismatch_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(apple_x5c_missing_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(apple_x5c_text_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(none_statement_not_empty_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(packed_alg_faults_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(packed_self_other_alg_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(packed_x5c_rs1_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(fido_u2f_x5c_faults_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(x5c_faults_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(chain_without_roots_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_pub_area_truncated, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(response_json_faults_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(response_json_not_object_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(attestation_object_faults_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(client_data_not_object_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(client_data_type_not_string_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(client_data_origin_not_string_rejected,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(client_data_type_invalid_utf8_rejected,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(client_data_type_emoji_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test(verifier_empty_rp_id_rejected),
        cmocka_unit_test_setup_teardown(verifier_missing_roots_file_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(offered_algorithm_accepted, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_rsa_pub_area_truncated, setup_rs256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_cert_info_truncated, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(tpm_statement_faults_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tpm_kdf_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(tpm_es256_curve_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(tpm_rsa_aik_for_es256_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(android_key_all_applications_rejected,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(aaguid_extension_mismatch_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(untrusted_root_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(chain_checked_at_pinned_time, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(none_rejected_under_self, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(none_rejected_under_chain, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(self_rejected_under_chain, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(trailing_bytes_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(truncated_object_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(extension_flag_without_extensions_rejected,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(bytes_after_credential_key_named, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(bytes_after_credential_key_named, setup_rs256,
                                        teardown),
        cmocka_unit_test_setup_teardown(bytes_after_credential_key_named, setup_eddsa,
                                        teardown),
        cmocka_unit_test_setup_teardown(bytes_after_extensions_named, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(credential_private_key_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(credential_private_key_rejected, setup_rs256,
                                        teardown),
        cmocka_unit_test_setup_teardown(credential_private_key_rejected, setup_eddsa,
                                        teardown),
        cmocka_unit_test_setup_teardown(credential_key_id_accepted, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(credential_key_byte_string_label_rejected,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(credential_key_missing_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(huge_lengths_rejected_fast, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(indefinite_length_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(deep_nesting_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(cbor_rejection_named, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(object_not_a_map_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(unknown_format_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(compound_rejected_with_reason, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(padded_members_accepted, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(wrong_padding_rejected, setup_es256, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
