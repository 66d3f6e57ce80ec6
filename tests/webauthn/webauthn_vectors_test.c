/*
 * The public WebAuthn and CBOR vectors in $IDSVC_VECTORS, each with the outcome its
 * JSON names, at the verification times it names. Accepted registrations are compared
 * field by field with the expected decoded values.
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
#include <jansson.h>

#include "test_token.h"
#include "webauthn.h"

/* Seconds since the epoch of the verification times the vectors name. */
#define TIME_2021_09_01 1630454400L /* 2021-09-01T00:00:00Z */
#define TIME_2025_01_08 1736294400L /* 2025-01-08T00:00:00Z */
#define TIME_2026_06_01 1780272000L /* 2026-06-01T00:00:00Z */
#define TIME_2027_07_01 1814400000L /* 2027-07-01T00:00:00Z */

static json_t *load_vector(const char *relative)
{
    char path[4096];
    json_error_t error;
    json_t *root;

    if (test_vector_path(path, sizeof(path), relative) == NULL)
        fail_msg("IDSVC_VECTORS is not set");
    root = json_load_file(path, 0, &error);
    if (root == NULL)
        fail_msg("cannot load %s: %s", path, error.text);
    return root;
}

static const char *get_text(const json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);

    if (!json_is_string(value))
        fail_msg("vector field %s is missing", key);
    return json_string_value(value);
}

/* Builds a verifier for the rp_id and origin with the roots named relative to
 * $IDSVC_VECTORS; roots is NULL-terminated. */
static webauthn_verifier *new_verifier(const char *rp_id, const char *origin,
                                       const char *const *roots, time_t at)
{
    webauthn_verifier *verifier = webauthn_verifier_new(rp_id);
    webauthn_error err;
    char path[4096];

    assert_non_null(verifier);
    assert_int_equal(webauthn_verifier_add_origin(verifier, origin), 0);
    for (size_t i = 0; roots != NULL && roots[i] != NULL; i++) {
        test_vector_path(path, sizeof(path), roots[i]);
        if (webauthn_verifier_add_roots_file(verifier, path, &err) != 0)
            fail_msg("%s", err.message);
    }
    if (roots != NULL)
        webauthn_verifier_set_policy(verifier, WEBAUTHN_ATTESTATION_CHAIN);
    webauthn_verifier_set_time(verifier, at);
    return verifier;
}

static unsigned char *decode(const char *text, size_t *len)
{
    unsigned char *bytes = NULL;

    assert_int_equal(webauthn_base64url_decode(text, strlen(text), &bytes, len), 0);
    return bytes;
}

static webauthn_code verify(const webauthn_verifier *verifier, const char *challenge_b64,
                            const json_t *credential, webauthn_registration **reg,
                            webauthn_error *err)
{
    size_t challenge_len = 0;
    unsigned char *challenge = decode(challenge_b64, &challenge_len);
    char *json = json_dumps(credential, JSON_COMPACT);
    webauthn_code code;

    code = webauthn_verify_registration(verifier, challenge, challenge_len, json,
                                        strlen(json), reg, err);
    free(json);
    free(challenge);
    return code;
}

static void assert_b64_equal(const unsigned char *data, size_t len, const char *expected)
{
    char *text = NULL;

    assert_int_equal(webauthn_base64url_encode(data, len, &text), 0);
    assert_string_equal(text, expected);
    free(text);
}

/* Compares a registration with the vector's "expected" object. */
static void assert_expected(const webauthn_registration *reg, const json_t *expected)
{
    char aaguid[33];
    unsigned long flags = strtoul(get_text(expected, "flags"), NULL, 16);

    for (int i = 0; i < 16; i++)
        snprintf(aaguid + 2 * i, 3, "%02x", reg->aaguid[i]);

    assert_string_equal(reg->fmt, get_text(expected, "fmt"));
    assert_b64_equal(reg->credential_id, reg->credential_id_len,
                     get_text(expected, "credential_id_b64url"));
    assert_int_equal(reg->credential_id_len,
                     json_integer_value(json_object_get(expected, "credential_id_len")));
    assert_b64_equal(reg->public_key, reg->public_key_len,
                     get_text(expected, "credential_public_key_cose_b64url"));
    assert_int_equal(reg->algorithm, json_integer_value(json_object_get(
                                         expected, "credential_cose_alg")));
    assert_string_equal(aaguid, get_text(expected, "aaguid_hex"));
    assert_int_equal(reg->sign_count,
                     json_integer_value(json_object_get(expected, "sign_count")));
    assert_int_equal(reg->flags, flags);
}

/* Verifies a registration.json vector and asserts the expected values. */
static void accept_registration(const char *relative, const char *const *roots, time_t at)
{
    json_t *vector = load_vector(relative);
    webauthn_verifier *verifier =
        new_verifier(get_text(vector, "expected_rp_id"),
                     get_text(vector, "expected_origin"), roots, at);
    webauthn_registration *reg = NULL;
    webauthn_error err;
    webauthn_code code;

    code = verify(verifier, get_text(vector, "expected_challenge_b64url"),
                  json_object_get(vector, "credential"), &reg, &err);
    if (code != WEBAUTHN_OK)
        fail_msg("%s: %s: %s", relative, webauthn_code_name(code), err.message);
    assert_expected(reg, json_object_get(vector, "expected"));
    assert_int_equal(reg->attestation,
                     roots != NULL ? WEBAUTHN_ATTESTED_TRUSTED : WEBAUTHN_ATTESTED_NONE);

    webauthn_registration_free(&reg);
    webauthn_verifier_free(&verifier);
    json_decref(vector);
}

static void none_accepted(void **state)
{
    (void)state;
    accept_registration("webauthn/none/registration.json", NULL, 0);
}

static void fido_u2f_yubikey_accepted(void **state)
{
    static const char *const roots[] = {
        "webauthn/fido-u2f-yubikey/yubico-u2f-root-ca-457200631.pem", NULL};

    (void)state;
    accept_registration("webauthn/fido-u2f-yubikey/registration.json", roots, 0);
}

static const char *const android_roots[] = {
    "webauthn/android-key-pixel/google_hardware_attestation_root_1.pem",
    "webauthn/android-key-pixel/google_hardware_attestation_root_2.pem",
    "webauthn/android-key-pixel/google_hardware_attestation_root_3.pem",
    "webauthn/android-key-pixel/google_hardware_attestation_root_4.pem",
    NULL,
};

static void android_key_pixel_accepted_at_2025(void **state)
{
    (void)state;
    accept_registration("webauthn/android-key-pixel/registration.json", android_roots,
                        TIME_2025_01_08);
}

/* Runs a registration vector that must be rejected; returns the error. */
static webauthn_error reject_registration(const char *relative, const char *const *roots,
                                          time_t at, webauthn_code expected)
{
    json_t *vector = load_vector(relative);
    webauthn_verifier *verifier =
        new_verifier(get_text(vector, "expected_rp_id"),
                     get_text(vector, "expected_origin"), roots, at);
    webauthn_registration *reg = NULL;
    webauthn_error err;
    webauthn_code code;

    code = verify(verifier, get_text(vector, "expected_challenge_b64url"),
                  json_object_get(vector, "credential"), &reg, &err);
    if (code != expected)
        fail_msg("%s: expected %s, got %s: %s", relative, webauthn_code_name(expected),
                 webauthn_code_name(code), err.message);
    assert_null(reg);
    webauthn_verifier_free(&verifier);
    json_decref(vector);
    return err;
}

static void android_key_pixel_rejected_today(void **state)
{
    webauthn_error err;

    (void)state;
    /* The TEE intermediate expired on 2025-02-02 and Droid CA3 on 2025-02-17. */
    err = reject_registration("webauthn/android-key-pixel/registration.json",
                              android_roots, 0, WEBAUTHN_ATTESTATION_CHAIN_INVALID);
    assert_non_null(strstr(err.message, "certificate has expired"));
}

static void android_key_pixel_rejected_with_other_root(void **state)
{
    static const char *const roots[] = {"webauthn/apple/apple_webauthn_root_ca.pem",
                                        NULL};
    webauthn_error err;

    (void)state;
    /* x5c carries the Google root itself; that must not make it trusted. */
    err = reject_registration("webauthn/android-key-pixel/registration.json", roots,
                              TIME_2025_01_08, WEBAUTHN_ATTESTATION_CHAIN_INVALID);
    assert_non_null(strstr(err.message, "certificate"));
}

static void apple_accepted_at_2021(void **state)
{
    static const char *const roots[] = {"webauthn/apple/apple_webauthn_root_ca.pem",
                                        NULL};

    (void)state;
    accept_registration("webauthn/apple/registration.json", roots, TIME_2021_09_01);
}

static void apple_rejected_today(void **state)
{
    static const char *const roots[] = {"webauthn/apple/apple_webauthn_root_ca.pem",
                                        NULL};
    webauthn_error err;

    (void)state;
    /* The leaf was valid only from 2021-08-31 to 2021-09-03. */
    err = reject_registration("webauthn/apple/registration.json", roots, 0,
                              WEBAUTHN_ATTESTATION_CHAIN_INVALID);
    assert_non_null(strstr(err.message, "certificate has expired"));
}

static void apple_wrong_challenge_rejected(void **state)
{
    json_t *vector = load_vector("webauthn/apple/registration.json");
    webauthn_verifier *verifier = new_verifier(
        get_text(vector, "expected_rp_id"), get_text(vector, "expected_origin"), NULL, 0);
    webauthn_registration *reg = NULL;
    webauthn_error err;

    (void)state;
    assert_int_equal(
        verify(verifier, "AAAA", json_object_get(vector, "credential"), &reg, &err),
        WEBAUTHN_CHALLENGE_MISMATCH);
    webauthn_verifier_free(&verifier);
    json_decref(vector);
}

/* The tpm vector keeps its response under "registration" in another shape. */
static json_t *tpm_credential(const json_t *vector)
{
    const json_t *registration = json_object_get(vector, "registration");
    const json_t *expected =
        json_object_get(json_object_get(vector, "expected"), "registration");
    const char *id = get_text(expected, "credential_id_b64url");

    return json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "id", id, "rawId", id, "type",
                     "public-key", "response", "clientDataJSON",
                     get_text(registration, "clientDataJSON_b64url"), "attestationObject",
                     get_text(registration, "attestationObject_b64url"));
}

static webauthn_code verify_tpm(time_t at, webauthn_registration **reg,
                                webauthn_error *err)
{
    static const char *const roots[] = {
        "webauthn/tpm-windows-hello/microsoft-tpm-root-ca-2014.pem", NULL};
    json_t *vector = load_vector("webauthn/tpm-windows-hello/example.json");
    const json_t *expected =
        json_object_get(json_object_get(vector, "expected"), "registration");
    json_t *credential = tpm_credential(vector);
    webauthn_verifier *verifier =
        new_verifier(get_text(expected, "expected_rp_id"),
                     get_text(expected, "expected_origin"), roots, at);
    webauthn_code code;

    code = verify(verifier, get_text(expected, "expected_challenge_b64url"), credential,
                  reg, err);
    if (code == WEBAUTHN_OK)
        assert_expected(*reg, expected);

    webauthn_verifier_free(&verifier);
    json_decref(credential);
    json_decref(vector);
    return code;
}

static void tpm_windows_hello_accepted_before_2027(void **state)
{
    webauthn_registration *reg = NULL;
    webauthn_error err;
    webauthn_code code;

    (void)state;
    /* The AIK signature is RS1; a blanket SHA-1 ban would reject this. */
    code = verify_tpm(TIME_2026_06_01, &reg, &err);
    if (code != WEBAUTHN_OK)
        fail_msg("%s: %s", webauthn_code_name(code), err.message);
    assert_int_equal(reg->attestation, WEBAUTHN_ATTESTED_TRUSTED);
    webauthn_registration_free(&reg);
}

static void tpm_windows_hello_rejected_after_expiry(void **state)
{
    webauthn_registration *reg = NULL;
    webauthn_error err;

    (void)state;
    assert_int_equal(verify_tpm(TIME_2027_07_01, &reg, &err),
                     WEBAUTHN_ATTESTATION_CHAIN_INVALID);
    assert_non_null(strstr(err.message, "certificate has expired"));
    assert_null(reg);
}

/* The derived copy stores its fields flat rather than as a credential object. */
static void none_up_uv_cleared_rejected(void **state)
{
    json_t *vector = load_vector("webauthn/none/registration_UP_UV_cleared.derived.json");
    const char *id = get_text(vector, "credential_id_b64url");
    json_t *credential = json_pack(
        "{s:s, s:s, s:s, s:{s:s, s:s}}", "id", id, "rawId", id, "type", "public-key",
        "response", "clientDataJSON", get_text(vector, "clientDataJSON_b64url"),
        "attestationObject", get_text(vector, "attestationObject_b64url"));
    webauthn_verifier *verifier = new_verifier(
        get_text(vector, "expected_rp_id"), get_text(vector, "expected_origin"), NULL, 0);
    webauthn_registration *reg = NULL;
    webauthn_error err;

    (void)state;
    assert_int_equal(verify(verifier, get_text(vector, "expected_challenge_b64url"),
                            credential, &reg, &err),
                     WEBAUTHN_USER_PRESENCE_MISSING);
    assert_null(reg);
    webauthn_verifier_free(&verifier);
    json_decref(credential);
    json_decref(vector);
}

/* Replaces the alg of the android-key statement, -7 encoded as the byte 0x26 after the
 * text "alg", with other CBOR bytes. The statement is not signed, so only the alg check
 * can reject the result. */
static webauthn_code verify_android_with_alg(const unsigned char *alg, size_t alg_len,
                                             webauthn_error *err)
{
    static const unsigned char pattern[] = {0x63, 'a', 'l', 'g', 0x26};
    json_t *vector = load_vector("webauthn/android-key-pixel/registration.json");
    json_t *credential = json_deep_copy(json_object_get(vector, "credential"));
    json_t *response = json_object_get(credential, "response");
    webauthn_verifier *verifier = new_verifier(
        get_text(vector, "expected_rp_id"), get_text(vector, "expected_origin"), NULL, 0);
    webauthn_registration *reg = NULL;
    size_t len = 0, at = 0;
    unsigned char *object = decode(get_text(response, "attestationObject"), &len);
    unsigned char *changed = malloc(len + alg_len);
    char *text = NULL;
    webauthn_code code;

    while (at + sizeof(pattern) <= len &&
           memcmp(object + at, pattern, sizeof(pattern)) != 0)
        at++;
    assert_true(at + sizeof(pattern) <= len);
    memcpy(changed, object, at + 4);
    memcpy(changed + at + 4, alg, alg_len);
    memcpy(changed + at + 4 + alg_len, object + at + 5, len - at - 5);
    assert_int_equal(webauthn_base64url_encode(changed, len - 1 + alg_len, &text), 0);
    json_object_set_new(response, "attestationObject", json_string(text));

    code = verify(verifier, get_text(vector, "expected_challenge_b64url"), credential,
                  &reg, err);
    webauthn_registration_free(&reg);
    free(text);
    free(changed);
    free(object);
    webauthn_verifier_free(&verifier);
    json_decref(credential);
    json_decref(vector);
    return code;
}

static void android_key_alg_in_range_accepted(void **state)
{
    static const unsigned char es256[] = {0x26};
    webauthn_error err;
    webauthn_code code;

    (void)state;
    code = verify_android_with_alg(es256, sizeof(es256), &err);
    if (code != WEBAUTHN_OK)
        fail_msg("%s: %s", webauthn_code_name(code), err.message);
}

/* 2^32 - 7 and -7 - 2^32 are both -7 when narrowed to 32 bits. */
static void android_key_alg_out_of_range_rejected(void **state)
{
    static const unsigned char above[] = {0x1a, 0xff, 0xff, 0xff, 0xf9};
    static const unsigned char below[] = {0x3b, 0x00, 0x00, 0x00, 0x01,
                                          0x00, 0x00, 0x00, 0x06};
    webauthn_error err;

    (void)state;
    assert_int_equal(verify_android_with_alg(above, sizeof(above), &err),
                     WEBAUTHN_ALGORITHM_UNSUPPORTED);
    assert_non_null(strstr(err.message, "4294967289"));
    assert_int_equal(verify_android_with_alg(below, sizeof(below), &err),
                     WEBAUTHN_ALGORITHM_UNSUPPORTED);
    assert_non_null(strstr(err.message, "-4294967303"));
}

/* ---- The assertion vector -----------------------------------------------------------
 */

static webauthn_code verify_uv_assertion(bool require_uv, webauthn_assertion *result,
                                         webauthn_error *err)
{
    json_t *vector = load_vector("webauthn/uv-required/assertion.json");
    webauthn_verifier *verifier = new_verifier(
        get_text(vector, "expected_rp_id"), get_text(vector, "expected_origin"), NULL, 0);
    size_t challenge_len = 0, key_len = 0;
    unsigned char *challenge =
        decode(get_text(vector, "expected_challenge_b64url"), &challenge_len);
    unsigned char *key =
        decode(get_text(vector, "credential_public_key_cose_b64url"), &key_len);
    char *json = json_dumps(json_object_get(vector, "credential"), JSON_COMPACT);
    webauthn_credential stored = {
        .public_key = key,
        .public_key_len = key_len,
        .sign_count =
            (uint32_t)json_integer_value(json_object_get(vector, "stored_sign_count")),
    };
    webauthn_code code;

    webauthn_verifier_set_require_uv(verifier, require_uv);
    code = webauthn_verify_assertion(verifier, challenge, challenge_len, &stored, json,
                                     strlen(json), result, err);

    free(json);
    free(key);
    free(challenge);
    webauthn_verifier_free(&verifier);
    json_decref(vector);
    return code;
}

static void uv_required_assertion_rejected(void **state)
{
    webauthn_assertion result;
    webauthn_error err;

    (void)state;
    assert_int_equal(verify_uv_assertion(true, &result, &err),
                     WEBAUTHN_USER_VERIFICATION_MISSING);
}

static void uv_optional_assertion_accepted(void **state)
{
    webauthn_assertion result;
    webauthn_error err;
    webauthn_code code;

    (void)state;
    code = verify_uv_assertion(false, &result, &err);
    if (code != WEBAUTHN_OK)
        fail_msg("%s: %s", webauthn_code_name(code), err.message);
    assert_int_equal(result.sign_count, 33);
    assert_int_equal(result.flags, 0x01);
}

/* ---- The CBOR vector ----------------------------------------------------------------
 */

/* Puts attestation object bytes into the none vector's response, which is valid in
 * every other respect, and verifies it. */
static webauthn_code verify_with_object(const unsigned char *object, size_t len,
                                        webauthn_error *err)
{
    json_t *vector = load_vector("webauthn/none/registration.json");
    json_t *credential = json_deep_copy(json_object_get(vector, "credential"));
    webauthn_verifier *verifier = new_verifier(
        get_text(vector, "expected_rp_id"), get_text(vector, "expected_origin"), NULL, 0);
    webauthn_registration *reg = NULL;
    char *text = NULL;
    webauthn_code code;

    assert_int_equal(webauthn_base64url_encode(object, len, &text), 0);
    json_object_set_new(json_object_get(credential, "response"), "attestationObject",
                        json_string(text));
    code = verify(verifier, get_text(vector, "expected_challenge_b64url"), credential,
                  &reg, err);
    assert_null(reg);

    free(text);
    webauthn_verifier_free(&verifier);
    json_decref(credential);
    json_decref(vector);
    return code;
}

static void cbor_huge_array_rejected_fast(void **state)
{
    json_t *expected = load_vector("cbor/huge-array-length/expected.json");
    char path[4096], relative[512];
    size_t len = 0;
    unsigned char *bytes;
    webauthn_error err;
    clock_t start;

    (void)state;
    snprintf(relative, sizeof(relative), "cbor/huge-array-length/%s",
             get_text(expected, "input_file"));
    test_vector_path(path, sizeof(path), relative);
    bytes = (unsigned char *)test_read_file(path, &len);
    assert_non_null(bytes);
    assert_int_equal(len, 5);

    /* AddressSanitizer aborts on a multi-gigabyte allocation attempt, so passing under
     * it also shows that none happened. */
    start = clock();
    assert_int_equal(verify_with_object(bytes, len, &err), WEBAUTHN_CBOR_MALFORMED);
    assert_true((double)(clock() - start) / CLOCKS_PER_SEC < 0.5);

    free(bytes);
    json_decref(expected);
}

static void cbor_huge_variants_rejected(void **state)
{
    static const unsigned char array64[] = {0x9b, 0xff, 0xff, 0xff, 0xff,
                                            0xff, 0xff, 0xff, 0xff};
    static const unsigned char map32[] = {0xba, 0xff, 0xff, 0xff, 0xff};
    webauthn_error err;

    (void)state;
    assert_int_equal(verify_with_object(array64, sizeof(array64), &err),
                     WEBAUTHN_CBOR_MALFORMED);
    assert_int_equal(verify_with_object(map32, sizeof(map32), &err),
                     WEBAUTHN_CBOR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(none_accepted),
        cmocka_unit_test(none_up_uv_cleared_rejected),
        cmocka_unit_test(fido_u2f_yubikey_accepted),
        cmocka_unit_test(tpm_windows_hello_accepted_before_2027),
        cmocka_unit_test(tpm_windows_hello_rejected_after_expiry),
        cmocka_unit_test(android_key_pixel_accepted_at_2025),
        cmocka_unit_test(android_key_pixel_rejected_today),
        cmocka_unit_test(android_key_pixel_rejected_with_other_root),
        cmocka_unit_test(android_key_alg_in_range_accepted),
        cmocka_unit_test(android_key_alg_out_of_range_rejected),
        cmocka_unit_test(apple_accepted_at_2021),
        cmocka_unit_test(apple_rejected_today),
        cmocka_unit_test(apple_wrong_challenge_rejected),
        cmocka_unit_test(uv_required_assertion_rejected),
        cmocka_unit_test(uv_optional_assertion_accepted),
        cmocka_unit_test(cbor_huge_array_rejected_fast),
        cmocka_unit_test(cbor_huge_variants_rejected),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
