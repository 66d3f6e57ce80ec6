/* Assertion checks against the software authenticator: signature, flags, counter rule,
 * extension outputs and clientDataJSON, each rejection asserting its code. Every case
 * runs through webauthn_verify_assertion, and with the "parsed" setups through
 * webauthn_public_key_parse and webauthn_verify_assertion_key. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "soft_authenticator.h"
#include "webauthn.h"

typedef struct fixture {
    soft_authenticator auth;
    soft_ceremony ceremony;
    webauthn_verifier *verifier;
    unsigned char *public_key;
    size_t public_key_len;
    webauthn_credential stored;
    bool parsed_key; /* verify with a webauthn_public_key */
    webauthn_assertion result;
    webauthn_error err;
} fixture;

static int setup_alg(void **state, int alg, bool parsed_key)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || soft_authenticator_init(&f->auth, alg) != 0)
        return -1;
    soft_ceremony_defaults(&f->ceremony);
    f->ceremony.sign_count = 11;
    f->verifier = webauthn_verifier_new(SOFT_RP_ID);
    if (f->verifier == NULL ||
        webauthn_verifier_add_origin(f->verifier, SOFT_ORIGIN) != 0)
        return -1;

    f->public_key = soft_cose_key(&f->auth, &f->public_key_len);
    f->stored.id = f->auth.credential_id;
    f->stored.id_len = sizeof(f->auth.credential_id);
    f->stored.public_key = f->public_key;
    f->stored.public_key_len = f->public_key_len;
    f->stored.sign_count = 10;
    f->parsed_key = parsed_key;
    *state = f;
    return 0;
}

static int setup_es256(void **state)
{
    return setup_alg(state, -7, false);
}

static int setup_rs256(void **state)
{
    return setup_alg(state, -257, false);
}

static int setup_eddsa(void **state)
{
    return setup_alg(state, -8, false);
}

static int setup_es256_parsed(void **state)
{
    return setup_alg(state, -7, true);
}

static int setup_rs256_parsed(void **state)
{
    return setup_alg(state, -257, true);
}

static int setup_eddsa_parsed(void **state)
{
    return setup_alg(state, -8, true);
}

static int teardown(void **state)
{
    fixture *f = *state;

    free(f->public_key);
    webauthn_verifier_free(&f->verifier);
    soft_authenticator_clear(&f->auth);
    free(f);
    return 0;
}

static webauthn_code run(fixture *f)
{
    soft_ceremony defaults;
    char *json = soft_authenticate(&f->auth, &f->ceremony);
    webauthn_code code;

    assert_non_null(json);
    soft_ceremony_defaults(&defaults);
    if (f->parsed_key) {
        webauthn_public_key *key = NULL;

        code = webauthn_public_key_parse(f->stored.public_key, f->stored.public_key_len,
                                         &key, &f->err);
        if (code != WEBAUTHN_OK)
            fail_msg("parsing the stored key failed: %s", f->err.message);
        assert_int_equal(webauthn_public_key_algorithm(key), f->auth.alg);
        code = webauthn_verify_assertion_key(f->verifier, defaults.challenge,
                                             sizeof(defaults.challenge), &f->stored, key,
                                             json, strlen(json), &f->result, &f->err);
        webauthn_public_key_free(&key);
        assert_null(key);
    } else {
        code = webauthn_verify_assertion(f->verifier, defaults.challenge,
                                         sizeof(defaults.challenge), &f->stored, json,
                                         strlen(json), &f->result, &f->err);
    }
    free(json);
    return code;
}

/* Asserts a rejection by code; label names the case in a failure message. */
static void assert_case_rejected(fixture *f, const char *label, webauthn_code expected)
{
    webauthn_code code = run(f);

    if (code != expected)
        fail_msg("%s: expected %s, got %s: %s", label, webauthn_code_name(expected),
                 webauthn_code_name(code), f->err.message);
    assert_int_equal(f->err.code, expected);
}

static void assert_rejected(fixture *f, webauthn_code expected)
{
    assert_case_rejected(f, "assertion", expected);
}

static void assert_accepted(fixture *f)
{
    webauthn_code code = run(f);

    if (code != WEBAUTHN_OK)
        fail_msg("expected ok, got %s: %s", webauthn_code_name(code), f->err.message);
}

static void assertion_accepted(void **state)
{
    fixture *f = *state;

    assert_accepted(f);
    assert_int_equal(f->result.sign_count, 11);
    assert_int_equal(f->result.flags, 0x05);
}

static void counter_jump_accepted(void **state)
{
    fixture *f = *state;

    f->ceremony.sign_count = 5000;
    assert_accepted(f);
    assert_int_equal(f->result.sign_count, 5000);
}

static void both_zero_counters_accepted(void **state)
{
    fixture *f = *state;

    f->stored.sign_count = 0;
    f->ceremony.sign_count = 0;
    assert_accepted(f);
    assert_int_equal(f->result.sign_count, 0);
}

static void counter_regression_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.sign_count = 5;
    assert_rejected(f, WEBAUTHN_COUNTER_REGRESSION);
    /* The signature verified, so the caller learns the reported counter. */
    assert_int_equal(f->result.sign_count, 5);
}

static void equal_counter_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.sign_count = 10;
    assert_rejected(f, WEBAUTHN_COUNTER_REGRESSION);
}

static void zero_after_nonzero_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.sign_count = 0;
    assert_rejected(f, WEBAUTHN_COUNTER_REGRESSION);
}

static void tampered_signature_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.tamper_signature = true;
    assert_rejected(f, WEBAUTHN_SIGNATURE_INVALID);
}

static void tampered_regression_is_signature_invalid(void **state)
{
    fixture *f = *state;

    /* A forged response must not be reported as a clone. */
    f->ceremony.sign_count = 1;
    f->ceremony.tamper_signature = true;
    assert_rejected(f, WEBAUTHN_SIGNATURE_INVALID);
}

static void other_key_rejected(void **state)
{
    fixture *f = *state;
    soft_authenticator other;
    size_t len = 0;
    unsigned char *other_key;

    assert_int_equal(soft_authenticator_init(&other, f->auth.alg), 0);
    other_key = soft_cose_key(&other, &len);
    f->stored.public_key = other_key;
    f->stored.public_key_len = len;
    assert_rejected(f, WEBAUTHN_SIGNATURE_INVALID);
    free(other_key);
    soft_authenticator_clear(&other);
}

/* Each change to one part of a valid assertion, and the code of its rejection. */
static const struct {
    soft_change change;
    webauthn_code expected;
} rejected_changes[] = {
    {{.label = "up cleared", .flags = 0x04}, WEBAUTHN_USER_PRESENCE_MISSING},
    {{.label = "wrong type", .type = "webauthn.create"}, WEBAUTHN_CLIENT_DATA_TYPE},
    {{.label = "wrong origin", .origin = "https://id.example.org.evil.example"},
     WEBAUTHN_ORIGIN_NOT_ALLOWED},
    {{.label = "challenge mismatch", .challenge_byte = 31, .challenge_mask = 0x80},
     WEBAUTHN_CHALLENGE_MISMATCH},
    {{.label = "cross origin true", .cross_origin = "true"}, WEBAUTHN_CROSS_ORIGIN},
    {{.label = "rp id mismatch", .rp_id = "example.org"}, WEBAUTHN_RP_ID_MISMATCH},
    {{.label = "other credential", .other_raw_id = true},
     WEBAUTHN_CREDENTIAL_ID_MISMATCH},
};

static void ceremony_changes_rejected(void **state)
{
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(rejected_changes) / sizeof(rejected_changes[0]); i++) {
        soft_ceremony_defaults(&f->ceremony);
        f->ceremony.sign_count = 11;
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

static void uv_cleared_accepted_by_default(void **state)
{
    fixture *f = *state;

    f->ceremony.flags = 0x01;
    assert_accepted(f);
    assert_int_equal(f->result.flags, 0x01);
}

/* The BE flag of each assertion against the one stored at registration, both ways, and
 * the BS rule, which applies whatever was stored. */
static void backup_eligible_cleared_rejected(void **state)
{
    fixture *f = *state;

    f->stored.backup_eligibility = WEBAUTHN_BACKUP_ELIGIBLE;
    f->ceremony.flags = 0x05; /* UP, UV; BE clear */
    assert_rejected(f, WEBAUTHN_BACKUP_ELIGIBILITY_MISMATCH);
    assert_non_null(strstr(f->err.message, "clears backup eligibility (BE)"));
    assert_int_equal(f->result.sign_count, 0); /* nothing reported for storing */
}

static void backup_eligible_set_rejected(void **state)
{
    fixture *f = *state;

    f->stored.backup_eligibility = WEBAUTHN_BACKUP_INELIGIBLE;
    f->ceremony.flags = 0x0d; /* UP, UV, BE */
    assert_rejected(f, WEBAUTHN_BACKUP_ELIGIBILITY_MISMATCH);
    assert_non_null(strstr(f->err.message, "sets backup eligibility (BE)"));
    assert_int_equal(f->result.sign_count, 0);
}

static void backup_eligibility_kept_accepted(void **state)
{
    static const struct {
        webauthn_backup_eligibility stored;
        uint8_t flags;
    } cases[] = {
        {WEBAUTHN_BACKUP_ELIGIBLE, 0x0d},   /* BE, not backed up */
        {WEBAUTHN_BACKUP_ELIGIBLE, 0x1d},   /* BE and BS */
        {WEBAUTHN_BACKUP_INELIGIBLE, 0x05}, /* neither */
        {WEBAUTHN_BACKUP_UNKNOWN, 0x05},    /* not recorded: not compared */
        {WEBAUTHN_BACKUP_UNKNOWN, 0x1d},
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f->stored.backup_eligibility = cases[i].stored;
        f->ceremony.flags = cases[i].flags;
        assert_accepted(f);
        assert_int_equal(f->result.flags, cases[i].flags);
        assert_int_equal(f->result.backup_eligible, (cases[i].flags & 0x08) != 0);
    }
}

static void backup_state_without_eligibility_rejected(void **state)
{
    static const webauthn_backup_eligibility stored[] = {
        WEBAUTHN_BACKUP_UNKNOWN, WEBAUTHN_BACKUP_INELIGIBLE, WEBAUTHN_BACKUP_ELIGIBLE};
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(stored) / sizeof(stored[0]); i++) {
        f->stored.backup_eligibility = stored[i];
        f->ceremony.flags = 0x15; /* UP, UV, BS without BE */
        assert_rejected(f, WEBAUTHN_MALFORMED);
        assert_non_null(strstr(f->err.message, "backup state (BS)"));
    }
}

/* A topOrigin means that the ceremony ran in an iframe, so it needs cross-origin use
 * allowed, whatever crossOrigin is (WebAuthn Level 3, section 7.2). */
static void top_origin_rejected_unless_allowed(void **state)
{
    static const char *const cross_origin[] = {NULL, "false", "true"};
    fixture *f = *state;

    f->ceremony.client_data_members = ",\"topOrigin\":\"https://top.example\"";
    for (size_t i = 0; i < sizeof(cross_origin) / sizeof(cross_origin[0]); i++) {
        f->ceremony.cross_origin = cross_origin[i];
        webauthn_verifier_set_allow_cross_origin(f->verifier, false);
        assert_rejected(f, WEBAUTHN_CROSS_ORIGIN);
        webauthn_verifier_set_allow_cross_origin(f->verifier, true);
        assert_accepted(f);
    }

    f->ceremony.client_data_members = ",\"topOrigin\":5";
    assert_rejected(f, WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "topOrigin is not a string"));
}

/* WebAuthn Level 3 runs UTF-8 decode on clientDataJSON before parsing it, which drops
 * a leading byte order mark and replaces invalid bytes with U+FFFD. */
static void client_data_byte_order_mark_accepted(void **state)
{
    fixture *f = *state;
    char *json;
    unsigned char *challenge = NULL;
    size_t len = 0;

    f->ceremony.client_data_prefix = "\xef\xbb\xbf";
    assert_accepted(f);

    json = soft_authenticate(&f->auth, &f->ceremony);
    assert_int_equal(
        webauthn_response_challenge(json, strlen(json), &challenge, &len, &f->err),
        WEBAUTHN_OK);
    assert_int_equal(len, sizeof(f->ceremony.challenge));
    free(challenge);
    free(json);

    /* Only one mark is dropped, and only at the start. */
    f->ceremony.client_data_prefix = "\xef\xbb\xbf\xef\xbb\xbf";
    assert_rejected(f, WEBAUTHN_MALFORMED);
    f->ceremony.client_data_prefix = " \xef\xbb\xbf";
    assert_rejected(f, WEBAUTHN_MALFORMED);
}

static void client_data_invalid_utf8_ignored_outside_members(void **state)
{
    static const char *const members[] = {
        ",\"x\":\"\xff\"",         /* never in UTF-8 */
        ",\"x\":\"\xc0\xae\"",     /* overlong */
        ",\"x\":\"\xed\xa0\x80\"", /* a surrogate */
        ",\"x\":\"\xe2\x82\"",     /* cut short */
        ",\"x\":\"\x80\x80\"",     /* continuation bytes alone */
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        f->ceremony.client_data_members = members[i];
        assert_accepted(f);
    }
}

static void client_data_invalid_utf8_in_member_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.type = "webauthn.g\xff"
                       "et";
    assert_rejected(f, WEBAUTHN_CLIENT_DATA_TYPE);
    f->ceremony.type = NULL;
    f->ceremony.origin = "https://id.example.org\xc0";
    assert_rejected(f, WEBAUTHN_ORIGIN_NOT_ALLOWED);
}

static void client_data_duplicate_member_named(void **state)
{
    fixture *f = *state;

    f->ceremony.client_data_members = ",\"type\":\"webauthn.get\"";
    assert_rejected(f, WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "duplicate object key"));
}

/* An assertion gets the tokenBinding checks of a registration, because this server's
 * TLS never uses Token Binding. */
static void token_binding_status_checked(void **state)
{
    fixture *f = *state;

    f->ceremony.client_data_members = ",\"tokenBinding\":{\"status\":\"supported\"}";
    assert_accepted(f);
    f->ceremony.client_data_members = ",\"tokenBinding\":{\"status\":\"present\"}";
    assert_rejected(f, WEBAUTHN_TOKEN_BINDING_MISMATCH);
    assert_non_null(strstr(f->err.message, "tokenBinding status is \"present\""));
    f->ceremony.client_data_members = ",\"tokenBinding\":{\"status\":\"absent\"}";
    assert_accepted(f);
}

/* A userHandle, when the response has one, must be the owner's (WebAuthn Level 2,
 * section 7.2, step 6). */
static void user_handle_checked(void **state)
{
    fixture *f = *state;
    static const unsigned char owner[32] = {1, 2, 3};
    static const unsigned char other[32] = {9, 9, 9};

    f->stored.user_handle = owner;
    f->stored.user_handle_len = sizeof(owner);
    f->ceremony.user_handle = owner;
    f->ceremony.user_handle_len = sizeof(owner);
    assert_accepted(f);

    f->ceremony.sign_count++;
    f->ceremony.user_handle = other;
    assert_rejected(f, WEBAUTHN_USER_HANDLE_MISMATCH);
    assert_string_equal(webauthn_code_name(WEBAUTHN_USER_HANDLE_MISMATCH),
                        "user_handle_mismatch");
    f->ceremony.user_handle_len = 31; /* a prefix of another length */
    f->ceremony.user_handle = owner;
    assert_rejected(f, WEBAUTHN_USER_HANDLE_MISMATCH);

    /* Absent, null and empty identify no account, and the key alone decides. */
    f->ceremony.user_handle = NULL;
    assert_accepted(f);
    f->ceremony.sign_count++;
    f->ceremony.user_handle_json = "null";
    assert_accepted(f);
    f->ceremony.sign_count++;
    f->ceremony.user_handle_json = "\"\"";
    assert_accepted(f);
    f->ceremony.sign_count++;
    f->ceremony.user_handle_json = "\"not base64url!\"";
    assert_rejected(f, WEBAUTHN_MALFORMED);
}

static void user_handle_checked_without_owner(void **state)
{
    static const char *const malformed[] = {"5", "true", "{}", "\"not base64url!\"",
                                            "\"AAAA=\""};
    fixture *f = *state;

    f->ceremony.user_handle_json = "\"dXNlci0x\"";
    assert_accepted(f);
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        f->ceremony.sign_count++;
        f->ceremony.user_handle_json = malformed[i];
        assert_rejected(f, WEBAUTHN_MALFORMED);
        assert_non_null(strstr(f->err.message, "userHandle"));
    }
}

static void challenge_extracted_for_store(void **state)
{
    fixture *f = *state;
    char *json = soft_authenticate(&f->auth, &f->ceremony);
    unsigned char *challenge = NULL;
    size_t len = 0;

    assert_int_equal(
        webauthn_response_challenge(json, strlen(json), &challenge, &len, &f->err),
        WEBAUTHN_OK);
    assert_int_equal(len, sizeof(f->ceremony.challenge));
    assert_memory_equal(challenge, f->ceremony.challenge, len);
    assert_true(webauthn_challenge_equal(challenge, len, f->ceremony.challenge, len));
    assert_false(
        webauthn_challenge_equal(challenge, len - 1, f->ceremony.challenge, len));
    free(challenge);
    free(json);
}

static void hmac_secret_output_rejected(void **state)
{
    fixture *f = *state;

    /* libfido2 rejected outputs of extensions that were not requested. */
    f->ceremony.extension_name = "hmac-secret";
    f->ceremony.extension_name_len = strlen("hmac-secret");
    assert_rejected(f, WEBAUTHN_SIGNATURE_INVALID);
    assert_non_null(strstr(f->err.message, "hmac-secret extension"));
}

static void cred_blob_output_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.extension_name = "credBlob";
    f->ceremony.extension_name_len = strlen("credBlob");
    assert_rejected(f, WEBAUTHN_SIGNATURE_INVALID);
    assert_non_null(strstr(f->err.message, "credBlob extension"));
}

static void extension_name_with_nul_rejected(void **state)
{
    fixture *f = *state;

    /* libfido2 compared the name as a C string, so it ended at the NUL byte. */
    f->ceremony.extension_name = "hmac-secret\0x";
    f->ceremony.extension_name_len = sizeof("hmac-secret\0x") - 1;
    assert_rejected(f, WEBAUTHN_SIGNATURE_INVALID);
    assert_non_null(strstr(f->err.message, "hmac-secret extension"));
}

static void extension_text_output_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.extension_name = "hmac-secret";
    f->ceremony.extension_name_len = strlen("hmac-secret");
    f->ceremony.extension_text = true;
    assert_rejected(f, WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "hmac-secret is not a byte string"));
}

static void other_extension_accepted(void **state)
{
    fixture *f = *state;

    f->ceremony.extension_name = "example";
    f->ceremony.extension_name_len = strlen("example");
    f->ceremony.credential_protect = "2";
    assert_accepted(f);
    assert_int_equal(f->result.flags, 0x85);
}

/* credProtect twice in the assertion's extensions map. Once, it passes (see
 * other_extension_accepted), so the duplicate alone is the cause. */
static void extension_twice_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.credential_protect = "2";
    f->ceremony.extension_name = "credProtect";
    f->ceremony.extension_name_len = strlen("credProtect");
    assert_rejected(f, WEBAUTHN_CBOR_MALFORMED);
    assert_non_null(strstr(f->err.message, "the same key twice"));
}

static void extension_flag_without_extensions_rejected(void **state)
{
    fixture *f = *state;

    f->ceremony.flags |= 0x80; /* ED, with nothing after the fixed fields */
    assert_rejected(f, WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "extensions flag (ED)"));
}

static void bytes_after_counter_named(void **state)
{
    fixture *f = *state;

    f->ceremony.trailing_zero_bytes = 2;
    assert_rejected(f, WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "2 bytes after the signature counter"));
}

static void parsed_key_other_bytes_rejected(void **state)
{
    fixture *f = *state;
    soft_authenticator other;
    webauthn_public_key *key = NULL;
    size_t len = 0;
    unsigned char *other_key;
    char *json = soft_authenticate(&f->auth, &f->ceremony);

    /* A handle parsed from another key is the caller's bug, not a bad signature. */
    assert_int_equal(soft_authenticator_init(&other, f->auth.alg), 0);
    other_key = soft_cose_key(&other, &len);
    assert_int_equal(webauthn_public_key_parse(other_key, len, &key, &f->err),
                     WEBAUTHN_OK);
    assert_int_equal(webauthn_verify_assertion_key(f->verifier, f->ceremony.challenge,
                                                   sizeof(f->ceremony.challenge),
                                                   &f->stored, key, json, strlen(json),
                                                   &f->result, &f->err),
                     WEBAUTHN_INTERNAL_ERROR);
    assert_int_equal(f->err.code, WEBAUTHN_INTERNAL_ERROR);
    assert_int_equal(webauthn_verify_assertion_key(f->verifier, f->ceremony.challenge,
                                                   sizeof(f->ceremony.challenge),
                                                   &f->stored, NULL, json, strlen(json),
                                                   &f->result, &f->err),
                     WEBAUTHN_INTERNAL_ERROR);

    webauthn_public_key_free(&key);
    free(other_key);
    soft_authenticator_clear(&other);
    free(json);
}

static void parsed_key_without_bytes_accepted(void **state)
{
    fixture *f = *state;
    webauthn_public_key *key = NULL;
    char *json = soft_authenticate(&f->auth, &f->ceremony);

    assert_int_equal(webauthn_public_key_parse(f->stored.public_key,
                                               f->stored.public_key_len, &key, &f->err),
                     WEBAUTHN_OK);
    f->stored.public_key = NULL;
    f->stored.public_key_len = 0;
    assert_int_equal(webauthn_verify_assertion_key(f->verifier, f->ceremony.challenge,
                                                   sizeof(f->ceremony.challenge),
                                                   &f->stored, key, json, strlen(json),
                                                   &f->result, &f->err),
                     WEBAUTHN_OK);
    assert_int_equal(f->result.sign_count, 11);
    webauthn_public_key_free(&key);
    free(json);
}

/* Returns the offset of the content of the byte string that follows label and the
 * string's CBOR header in the COSE key, or 0 when absent. */
static size_t cose_bytes_offset(const unsigned char *cose, size_t len,
                                unsigned char label, unsigned char header,
                                size_t header_len)
{
    for (size_t i = 0; i + 1 + header_len < len; i++) {
        if (cose[i] == label && cose[i + 1] == header)
            return i + 1 + header_len;
    }
    return 0;
}

static void parse_off_curve_point_rejected(void **state)
{
    fixture *f = *state;
    webauthn_public_key *key = NULL;
    unsigned char *cose = malloc(f->public_key_len);
    size_t y;

    /* Label -3 (0x22), then a 32-byte string (0x58 0x20): the y coordinate. */
    memcpy(cose, f->public_key, f->public_key_len);
    y = cose_bytes_offset(cose, f->public_key_len, 0x22, 0x58, 2);
    assert_true(y != 0);
    cose[y + 31] ^= 0x01;
    assert_int_equal(webauthn_public_key_parse(cose, f->public_key_len, &key, &f->err),
                     WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "not a valid point on P-256"));
    assert_null(key);
    free(cose);
}

/* Parses a COSE Ed25519 key with public key x and returns the code. */
static webauthn_code parse_ed25519(const unsigned char x[32], webauthn_error *err)
{
    unsigned char cose[10 + 32] = {0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21, 0x58, 0x20};
    webauthn_public_key *key = NULL;
    webauthn_code code;

    memcpy(cose + 10, x, 32);
    code = webauthn_public_key_parse(cose, sizeof(cose), &key, err);
    webauthn_public_key_free(&key);
    return code;
}

/* Fills x with the little-endian encoding whose first byte is low, whose bytes 1 to 30
 * are middle and whose last byte is high. */
static void fill_point(unsigned char x[32], unsigned char low, unsigned char middle,
                       unsigned char high)
{
    memset(x, middle, 32);
    x[0] = low;
    x[31] = high;
}

/* An Ed25519 key of small order, for which R at that point and S = 0 verify any
 * message, or a non-canonical encoding, is rejected; the base point is accepted. */
static void parse_weak_ed25519_rejected(void **state)
{
    static const unsigned char order_8[32] = {
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
        0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a};
    unsigned char x[32];
    webauthn_error err = {0};

    (void)state;
    fill_point(x, 0x01, 0x00, 0x00); /* the identity */
    assert_int_equal(parse_ed25519(x, &err), WEBAUTHN_MALFORMED);
    assert_non_null(strstr(err.message, "point of small order"));
    fill_point(x, 0x01, 0x00, 0x80); /* the identity with the sign bit */
    assert_int_equal(parse_ed25519(x, &err), WEBAUTHN_MALFORMED);
    fill_point(x, 0x00, 0x00, 0x00); /* y = 0, of order 4 */
    assert_int_equal(parse_ed25519(x, &err), WEBAUTHN_MALFORMED);
    fill_point(x, 0xec, 0xff, 0x7f); /* y = -1, of order 2 */
    assert_int_equal(parse_ed25519(x, &err), WEBAUTHN_MALFORMED);
    fill_point(x, 0xee, 0xff, 0x7f); /* y = p + 1, not canonical */
    assert_int_equal(parse_ed25519(x, &err), WEBAUTHN_MALFORMED);
    assert_int_equal(parse_ed25519(order_8, &err), WEBAUTHN_MALFORMED);
    memcpy(x, order_8, 32);
    x[31] |= 0x80;
    assert_int_equal(parse_ed25519(x, &err), WEBAUTHN_MALFORMED);

    /* The base point, y = 4/5, encodes as 0x58 then 0x66 bytes. */
    fill_point(x, 0x58, 0x66, 0x66);
    assert_int_equal(parse_ed25519(x, &err), WEBAUTHN_OK);
}

/* Parses a COSE RS256 key of a 2048-bit modulus ending in last_n and the exponent e of
 * e_len bytes (1 to 4), and returns the code. */
static webauthn_code parse_rs256(unsigned char last_n, const unsigned char *e,
                                 size_t e_len, webauthn_error *err)
{
    unsigned char cose[11 + 256 + 6];
    webauthn_public_key *key = NULL;
    webauthn_code code;
    static const unsigned char head[10] = {0xa4, 0x01, 0x03, 0x03, 0x39, 0x01, 0x00,
                                           0x20, 0x59, 0x01};

    assert_true(e_len >= 1 && e_len <= 4);
    memcpy(cose, head, sizeof(head));
    cose[10] = 0x00; /* the byte string's length is 0x0100 */
    memset(cose + 11, 0xc5, 256);
    cose[11 + 255] = last_n;
    cose[11 + 256] = 0x21;
    cose[11 + 257] = (unsigned char)(0x40 | e_len);
    memcpy(cose + 11 + 258, e, e_len);
    code = webauthn_public_key_parse(cose, 11 + 258 + e_len, &key, err);
    webauthn_public_key_free(&key);
    return code;
}

/* An RS256 key with the exponent 1, for which the padded digest is the signature, or
 * an even exponent or modulus, is rejected, and 3 and 65537 are accepted. */
static void parse_weak_rsa_rejected(void **state)
{
    static const unsigned char one[1] = {0x01};
    static const unsigned char three[1] = {0x03};
    static const unsigned char even[3] = {0x01, 0x00, 0x00};
    static const unsigned char f4[3] = {0x01, 0x00, 0x01};
    webauthn_error err = {0};

    (void)state;
    assert_int_equal(parse_rs256(0x35, one, sizeof(one), &err), WEBAUTHN_MALFORMED);
    assert_non_null(strstr(err.message, "exponent must be odd and at least 3"));
    assert_int_equal(parse_rs256(0x35, even, sizeof(even), &err), WEBAUTHN_MALFORMED);
    assert_int_equal(parse_rs256(0x34, f4, sizeof(f4), &err), WEBAUTHN_MALFORMED);
    assert_int_equal(parse_rs256(0x35, three, sizeof(three), &err), WEBAUTHN_OK);
    assert_int_equal(parse_rs256(0x35, f4, sizeof(f4), &err), WEBAUTHN_OK);
}

/* RFC 8230 (section 4) encodes n and e in the minimum number of bytes, so an exponent
 * with a leading zero byte is malformed, even 65537 in 4 bytes. */
static void parse_padded_exponent_rejected(void **state)
{
    static const unsigned char three[3] = {0x00, 0x00, 0x03};
    static const unsigned char f4[4] = {0x00, 0x01, 0x00, 0x01};
    webauthn_error err = {0};

    (void)state;
    assert_int_equal(parse_rs256(0x35, three, sizeof(three), &err), WEBAUTHN_MALFORMED);
    assert_non_null(strstr(err.message, "exponent starts with a zero byte"));
    assert_int_equal(parse_rs256(0x35, f4, sizeof(f4), &err), WEBAUTHN_MALFORMED);
    assert_non_null(strstr(err.message, "exponent starts with a zero byte"));
}

static void parse_short_modulus_rejected(void **state)
{
    fixture *f = *state;
    webauthn_public_key *key = NULL;
    unsigned char *cose = malloc(f->public_key_len);
    size_t n;

    /* Label -1 (0x20), then a 256-byte string (0x59 0x01 0x00): the modulus. */
    memcpy(cose, f->public_key, f->public_key_len);
    n = cose_bytes_offset(cose, f->public_key_len, 0x20, 0x59, 3);
    assert_true(n != 0);
    cose[n] = 0x7f;
    assert_int_equal(webauthn_public_key_parse(cose, f->public_key_len, &key, &f->err),
                     WEBAUTHN_ALGORITHM_UNSUPPORTED);
    assert_non_null(strstr(f->err.message, "shorter than 2048 bits"));
    assert_null(key);
    free(cose);
}

/* A stored key with d (-4) appended, as a faulty enrollment could have kept it. */
static void parse_private_key_rejected(void **state)
{
    fixture *f = *state;
    size_t len = f->stored.public_key_len + 3 + 32;
    unsigned char *cose = malloc(len);
    webauthn_public_key *key = NULL;

    memcpy(cose, f->stored.public_key, f->stored.public_key_len);
    cose[0]++;
    cose[f->stored.public_key_len] = 0x23;
    cose[f->stored.public_key_len + 1] = 0x58;
    cose[f->stored.public_key_len + 2] = 32;
    memset(cose + f->stored.public_key_len + 3, 0x42, 32);
    assert_int_equal(webauthn_public_key_parse(cose, len, &key, &f->err),
                     WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "private key parameter -4 (d)"));
    assert_null(key);
    free(cose);
}

static void parse_garbage_rejected(void **state)
{
    fixture *f = *state;
    static const unsigned char garbage[] = {0x9a, 0xff, 0xff, 0xff, 0xff};
    webauthn_public_key *key = NULL;

    assert_int_equal(webauthn_public_key_parse(garbage, sizeof(garbage), &key, &f->err),
                     WEBAUTHN_CBOR_MALFORMED);
    assert_null(key);
    assert_int_equal(webauthn_public_key_parse(NULL, 0, &key, &f->err),
                     WEBAUTHN_MALFORMED);
    webauthn_public_key_free(&key);
    webauthn_public_key_free(NULL);
}

/* The input shared by the threads of parsed_key_shared_by_threads. */
typedef struct shared_input {
    const fixture *f;
    const webauthn_public_key *key;
    const char *json;
    int failures; /* counted by the one thread that receives this struct */
} shared_input;

static void *verify_repeatedly(void *arg)
{
    shared_input *in = arg;
    webauthn_assertion result;
    webauthn_error err;

    for (int i = 0; i < 20; i++) {
        if (webauthn_verify_assertion_key(in->f->verifier, in->f->ceremony.challenge,
                                          sizeof(in->f->ceremony.challenge),
                                          &in->f->stored, in->key, in->json,
                                          strlen(in->json), &result, &err) != WEBAUTHN_OK)
            in->failures++;
        if (webauthn_verify_assertion(in->f->verifier, in->f->ceremony.challenge,
                                      sizeof(in->f->ceremony.challenge), &in->f->stored,
                                      in->json, strlen(in->json), &result,
                                      &err) != WEBAUTHN_OK)
            in->failures++;
    }
    return NULL;
}

static void parsed_key_shared_by_threads(void **state)
{
    fixture *f = *state;
    webauthn_public_key *key = NULL;
    char *json = soft_authenticate(&f->auth, &f->ceremony);
    pthread_t threads[4];
    shared_input inputs[4];

    /* One parsed key and one verifier serve concurrent requests, as in the server. */
    assert_int_equal(webauthn_public_key_parse(f->stored.public_key,
                                               f->stored.public_key_len, &key, &f->err),
                     WEBAUTHN_OK);
    for (int i = 0; i < 4; i++) {
        inputs[i] = (shared_input){.f = f, .key = key, .json = json, .failures = 0};
        assert_int_equal(pthread_create(&threads[i], NULL, verify_repeatedly, &inputs[i]),
                         0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(inputs[i].failures, 0);
    }

    webauthn_public_key_free(&key);
    free(json);
}

/* Assertion JSON with a member missing, empty or of the wrong type, and JSON that is
 * not an object. */
static void assertion_json_faults_rejected(void **state)
{
    static const struct {
        bool in_response;
        const char *key;
        const char *value; /* JSON text, or NULL to remove the member */
        const char *part;
    } cases[] = {
        {false, "type", "\"password\"", "credential type is not \"public-key\""},
        {false, "response", "[]", "has no \"response\" object"},
        {true, "clientDataJSON", NULL, "clientDataJSON is missing"},
        {true, "authenticatorData", "\"\"", "authenticatorData is empty"},
        {true, "signature", NULL, "signature is missing"},
        {true, "signature", "7", "signature is not a string"},
    };
    fixture *f = *state;
    soft_ceremony defaults;

    soft_ceremony_defaults(&defaults);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *built = soft_authenticate(&f->auth, &f->ceremony);
        json_t *root = json_loads(built, 0, NULL);
        json_t *object = cases[i].in_response ? json_object_get(root, "response") : root;
        char *json;
        webauthn_code code;

        assert_non_null(object);
        if (cases[i].value != NULL)
            json_object_set_new(object, cases[i].key,
                                json_loads(cases[i].value, JSON_DECODE_ANY, NULL));
        else
            json_object_del(object, cases[i].key);
        json = json_dumps(root, JSON_COMPACT);
        code = webauthn_verify_assertion(f->verifier, defaults.challenge,
                                         sizeof(defaults.challenge), &f->stored, json,
                                         strlen(json), &f->result, &f->err);
        if (code != WEBAUTHN_MALFORMED || strstr(f->err.message, cases[i].part) == NULL)
            fail_msg("case %zu: expected malformed with \"%s\", got %s: %s", i,
                     cases[i].part, webauthn_code_name(code), f->err.message);
        free(json);
        json_decref(root);
        free(built);
    }

    assert_int_equal(webauthn_verify_assertion(f->verifier, defaults.challenge,
                                               sizeof(defaults.challenge), &f->stored,
                                               "[]", 2, &f->result, &f->err),
                     WEBAUTHN_MALFORMED);
    assert_non_null(strstr(f->err.message, "response JSON is not an object"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(assertion_accepted, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(assertion_json_faults_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(assertion_accepted, setup_rs256, teardown),
        cmocka_unit_test_setup_teardown(assertion_accepted, setup_eddsa, teardown),
        cmocka_unit_test_setup_teardown(counter_jump_accepted, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(both_zero_counters_accepted, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(counter_regression_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(equal_counter_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(zero_after_nonzero_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tampered_signature_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tampered_signature_rejected, setup_rs256,
                                        teardown),
        cmocka_unit_test_setup_teardown(tampered_signature_rejected, setup_eddsa,
                                        teardown),
        cmocka_unit_test_setup_teardown(tampered_regression_is_signature_invalid,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(other_key_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(other_key_rejected, setup_eddsa, teardown),
        cmocka_unit_test_setup_teardown(ceremony_changes_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(uv_cleared_rejected_when_required, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(uv_cleared_accepted_by_default, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(backup_eligible_cleared_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(backup_eligible_set_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(backup_eligibility_kept_accepted, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(backup_state_without_eligibility_rejected,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(backup_eligible_cleared_rejected,
                                        setup_es256_parsed, teardown),
        cmocka_unit_test_setup_teardown(backup_eligible_set_rejected, setup_eddsa_parsed,
                                        teardown),
        cmocka_unit_test_setup_teardown(top_origin_rejected_unless_allowed, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(client_data_byte_order_mark_accepted, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(client_data_invalid_utf8_ignored_outside_members,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(client_data_invalid_utf8_in_member_rejected,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(token_binding_status_checked, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(client_data_duplicate_member_named, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(user_handle_checked, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(user_handle_checked_without_owner, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(challenge_extracted_for_store, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(hmac_secret_output_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(cred_blob_output_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(extension_name_with_nul_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(extension_text_output_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(other_extension_accepted, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(extension_twice_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(extension_flag_without_extensions_rejected,
                                        setup_es256, teardown),
        cmocka_unit_test_setup_teardown(bytes_after_counter_named, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(assertion_accepted, setup_es256_parsed, teardown),
        cmocka_unit_test_setup_teardown(assertion_accepted, setup_rs256_parsed, teardown),
        cmocka_unit_test_setup_teardown(assertion_accepted, setup_eddsa_parsed, teardown),
        cmocka_unit_test_setup_teardown(counter_jump_accepted, setup_es256_parsed,
                                        teardown),
        cmocka_unit_test_setup_teardown(both_zero_counters_accepted, setup_es256_parsed,
                                        teardown),
        cmocka_unit_test_setup_teardown(counter_regression_rejected, setup_es256_parsed,
                                        teardown),
        cmocka_unit_test_setup_teardown(equal_counter_rejected, setup_es256_parsed,
                                        teardown),
        cmocka_unit_test_setup_teardown(zero_after_nonzero_rejected, setup_es256_parsed,
                                        teardown),
        cmocka_unit_test_setup_teardown(tampered_signature_rejected, setup_es256_parsed,
                                        teardown),
        cmocka_unit_test_setup_teardown(tampered_signature_rejected, setup_rs256_parsed,
                                        teardown),
        cmocka_unit_test_setup_teardown(tampered_signature_rejected, setup_eddsa_parsed,
                                        teardown),
        cmocka_unit_test_setup_teardown(tampered_regression_is_signature_invalid,
                                        setup_es256_parsed, teardown),
        cmocka_unit_test_setup_teardown(other_key_rejected, setup_es256_parsed, teardown),
        cmocka_unit_test_setup_teardown(other_key_rejected, setup_eddsa_parsed, teardown),
        cmocka_unit_test_setup_teardown(ceremony_changes_rejected, setup_es256_parsed,
                                        teardown),
        cmocka_unit_test_setup_teardown(uv_cleared_rejected_when_required,
                                        setup_es256_parsed, teardown),
        cmocka_unit_test_setup_teardown(uv_cleared_accepted_by_default,
                                        setup_es256_parsed, teardown),
        cmocka_unit_test_setup_teardown(hmac_secret_output_rejected, setup_es256_parsed,
                                        teardown),
        cmocka_unit_test_setup_teardown(cred_blob_output_rejected, setup_es256_parsed,
                                        teardown),
        cmocka_unit_test_setup_teardown(extension_name_with_nul_rejected,
                                        setup_es256_parsed, teardown),
        cmocka_unit_test_setup_teardown(extension_text_output_rejected,
                                        setup_es256_parsed, teardown),
        cmocka_unit_test_setup_teardown(other_extension_accepted, setup_es256_parsed,
                                        teardown),
        cmocka_unit_test_setup_teardown(other_key_rejected, setup_rs256, teardown),
        cmocka_unit_test_setup_teardown(other_key_rejected, setup_rs256_parsed, teardown),
        cmocka_unit_test_setup_teardown(parsed_key_other_bytes_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(parsed_key_other_bytes_rejected, setup_eddsa,
                                        teardown),
        cmocka_unit_test_setup_teardown(parsed_key_without_bytes_accepted, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(parsed_key_without_bytes_accepted, setup_rs256,
                                        teardown),
        cmocka_unit_test(parse_weak_ed25519_rejected),
        cmocka_unit_test(parse_weak_rsa_rejected),
        cmocka_unit_test(parse_padded_exponent_rejected),
        cmocka_unit_test_setup_teardown(parse_off_curve_point_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(parse_short_modulus_rejected, setup_rs256,
                                        teardown),
        cmocka_unit_test_setup_teardown(parse_garbage_rejected, setup_es256, teardown),
        cmocka_unit_test_setup_teardown(parse_private_key_rejected, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(parse_private_key_rejected, setup_eddsa,
                                        teardown),
        cmocka_unit_test_setup_teardown(parsed_key_shared_by_threads, setup_es256,
                                        teardown),
        cmocka_unit_test_setup_teardown(parsed_key_shared_by_threads, setup_rs256,
                                        teardown),
        cmocka_unit_test_setup_teardown(parsed_key_shared_by_threads, setup_eddsa,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
