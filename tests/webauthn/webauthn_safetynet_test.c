/* android-safetynet registrations from the software authenticator with a throwaway
 * SafetyNet chain: the accepted cases under each policy, and one case per rejection,
 * each asserting its code and a word of its sentence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "soft_authenticator.h"
#include "soft_safetynet.h"
#include "webauthn.h"

#define DAY_SECONDS 86400

typedef struct fixture {
    soft_authenticator auth;
    soft_safetynet_ca ca;
    soft_safetynet statement;
    soft_ceremony ceremony;
    webauthn_verifier *verifier;
    webauthn_registration *reg;
    webauthn_error err;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || soft_authenticator_init(&f->auth, -7) != 0 ||
        soft_safetynet_ca_init(&f->ca) != 0)
        return -1;
    f->statement.ca = &f->ca;
    soft_ceremony_defaults(&f->ceremony);
    f->ceremony.format = SOFT_FORMAT_ANDROID_SAFETYNET;
    f->ceremony.safetynet = &f->statement;
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
    soft_safetynet_ca_clear(&f->ca);
    soft_authenticator_clear(&f->auth);
    free(f);
    return 0;
}

static webauthn_code run(fixture *f)
{
    webauthn_code code = soft_register_verify(&f->auth, &f->ceremony, NULL, 0,
                                              f->verifier, &f->reg, &f->err);

    if (code != WEBAUTHN_OK)
        assert_null(f->reg);
    return code;
}

static void assert_accepted_as(fixture *f, webauthn_attestation_type type)
{
    webauthn_code code = run(f);

    if (code != WEBAUTHN_OK)
        fail_msg("expected ok, got %s: %s", webauthn_code_name(code), f->err.message);
    assert_string_equal(f->reg->fmt, "android-safetynet");
    assert_int_equal(f->reg->attestation, type);
    assert_int_equal(f->reg->algorithm, -7);
}

/* Asserts a rejection by code and a word of its sentence. label names the case. */
static void assert_case_rejected(fixture *f, const char *label, webauthn_code expected,
                                 const char *word)
{
    webauthn_code code = run(f);

    if (code != expected)
        fail_msg("%s: expected %s, got %s: %s", label, webauthn_code_name(expected),
                 webauthn_code_name(code), f->err.message);
    assert_int_equal(f->err.code, expected);
    if (strstr(f->err.message, word) == NULL)
        fail_msg("%s: expected \"%s\" in: %s", label, word, f->err.message);
}

static void use_chain_policy(fixture *f)
{
    assert_int_equal(webauthn_verifier_add_root(f->verifier, f->ca.root), 0);
    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_CHAIN);
}

static void set_leaf(fixture *f, const soft_safetynet_leaf *leaf)
{
    assert_int_equal(soft_safetynet_ca_set_leaf(&f->ca, leaf), 0);
}

/* ---- Accepted statements ---------------------------------------------------------- */

static void safetynet_basic_under_any(void **state)
{
    fixture *f = *state;

    assert_accepted_as(f, WEBAUTHN_ATTESTED_BASIC);
}

static void safetynet_basic_under_self(void **state)
{
    fixture *f = *state;

    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_SELF);
    assert_accepted_as(f, WEBAUTHN_ATTESTED_BASIC);
}

static void safetynet_trusted_under_chain(void **state)
{
    fixture *f = *state;

    use_chain_policy(f);
    assert_accepted_as(f, WEBAUTHN_ATTESTED_TRUSTED);
}

static void safetynet_es256_leaf_trusted(void **state)
{
    fixture *f = *state;
    static const soft_safetynet_leaf leaf = {"P-256", "attest.android.com",
                                             "attest.android.com", 90};

    set_leaf(f, &leaf);
    use_chain_policy(f);
    assert_accepted_as(f, WEBAUTHN_ATTESTED_TRUSTED);
}

static void safetynet_common_name_only(void **state)
{
    fixture *f = *state;
    static const soft_safetynet_leaf leaf = {"RSA", "attest.android.com", NULL, 90};

    set_leaf(f, &leaf);
    assert_accepted_as(f, WEBAUTHN_ATTESTED_BASIC);
}

/* A timestamp in the past, however old, passes: the nonce proves freshness. */
static void safetynet_old_timestamp(void **state)
{
    fixture *f = *state;

    f->statement.timestamp_json = "0";
    assert_accepted_as(f, WEBAUTHN_ATTESTED_BASIC);
}

/* A timestamp after the verifier's time passes too, because a pinned verification time
 * may lie before a recorded response, and the signature already vouches for it. */
static void safetynet_future_timestamp(void **state)
{
    fixture *f = *state;

    webauthn_verifier_set_time(f->verifier, 1700000000);
    f->statement.timestamp_json = "99999999999999";
    assert_accepted_as(f, WEBAUTHN_ATTESTED_BASIC);
}

/* ---- Rejected statements ---------------------------------------------------------- */

/* One change to a valid statement, with the code and a word of the sentence. */
typedef struct statement_case {
    const char *label;
    soft_safetynet change;
    webauthn_code code;
    const char *word;
} statement_case;

/* clang-format off */
static const statement_case statement_cases[] = {
    {"ver empty", {.ver = ""}, WEBAUTHN_MALFORMED, "ver"},
    {"extra attStmt member", {.extra_member = true}, WEBAUTHN_MALFORMED,
     "only ver and response"},
    {"response as text", {.response_text = true}, WEBAUTHN_MALFORMED, "response"},
    {"two JWS parts", {.part_count = 2}, WEBAUTHN_MALFORMED, "JWS parts"},
    {"four JWS parts", {.part_count = 4}, WEBAUTHN_MALFORMED, "JWS parts"},
    {"padded JWS part", {.padding = true}, WEBAUTHN_MALFORMED, "padding"},
    {"alg missing", {.alg = ""}, WEBAUTHN_MALFORMED, "alg"},
    {"alg none", {.alg = "none"}, WEBAUTHN_ALGORITHM_UNSUPPORTED, "\"none\""},
    {"alg HS256", {.alg = "HS256"}, WEBAUTHN_ALGORITHM_UNSUPPORTED, "HS256"},
    {"alg ES256 with an RSA leaf", {.alg = "ES256"}, WEBAUTHN_ALGORITHM_UNSUPPORTED,
     "does not fit"},
    {"x5c missing", {.no_x5c = true}, WEBAUTHN_MALFORMED, "x5c"},
    {"x5c empty", {.x5c_json = "[]"}, WEBAUTHN_MALFORMED, "x5c"},
    {"x5c not base64", {.x5c_json = "[\"not base64!\"]"}, WEBAUTHN_MALFORMED, "base64"},
    {"x5c in base64url", {.x5c_json = "[\"-_-_\"]"}, WEBAUTHN_MALFORMED, "base64"},
    {"x5c without padding", {.x5c_json = "[\"AAA\"]"}, WEBAUTHN_MALFORMED, "base64"},
    {"x5c element not text", {.x5c_json = "[1]"}, WEBAUTHN_MALFORMED, "base64"},
    {"x5c element not DER", {.x5c_json = "[\"AAAA\"]"}, WEBAUTHN_ATTESTATION_INVALID,
     "DER"},
    {"header alg twice", {.header_members = "\"alg\":\"RS256\""}, WEBAUTHN_MALFORMED,
     "header"},
    {"payload nonce twice", {.payload_members = "\"nonce\":\"x\""}, WEBAUTHN_MALFORMED,
     "payload"},
    {"header crit", {.header_members = "\"crit\":[\"exp\"],\"exp\":1"},
     WEBAUTHN_ATTESTATION_INVALID, "crit"},
    {"bad JWS signature", {.tamper_signature = true}, WEBAUTHN_ATTESTATION_INVALID,
     "signature does not verify"},
    {"wrong nonce", {.nonce_json = "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\""},
     WEBAUTHN_ATTESTATION_INVALID, "nonce"},
    /* The right bytes, but not in the standard base64 that WebAuthn names. */
    {"nonce in base64url", {.nonce_base64url = true}, WEBAUTHN_ATTESTATION_INVALID,
     "nonce"},
    {"nonce not text", {.nonce_json = "1"}, WEBAUTHN_MALFORMED, "nonce"},
    {"ctsProfileMatch false", {.cts_profile_match = "false"},
     WEBAUTHN_ATTESTATION_INVALID, "ctsProfileMatch"},
    {"ctsProfileMatch absent", {.cts_profile_match = ""}, WEBAUTHN_ATTESTATION_INVALID,
     "ctsProfileMatch"},
    {"ctsProfileMatch text", {.cts_profile_match = "\"true\""},
     WEBAUTHN_ATTESTATION_INVALID, "ctsProfileMatch"},
    {"timestampMs absent", {.timestamp_json = ""}, WEBAUTHN_MALFORMED, "timestampMs"},
    {"timestampMs negative", {.timestamp_json = "-1"}, WEBAUTHN_MALFORMED,
     "timestampMs"},
    {"timestampMs fraction", {.timestamp_json = "1.5"}, WEBAUTHN_MALFORMED,
     "timestampMs"},
    {"timestampMs text", {.timestamp_json = "\"1700000000000\""}, WEBAUTHN_MALFORMED,
     "timestampMs"},
};
/* clang-format on */

static void safetynet_statement_rejected(void **state)
{
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(statement_cases) / sizeof(statement_cases[0]); i++) {
        const statement_case *c = &statement_cases[i];

        f->statement = c->change;
        f->statement.ca = &f->ca;
        assert_case_rejected(f, c->label, c->code, c->word);
    }
}

static void safetynet_es256_der_signature(void **state)
{
    fixture *f = *state;
    static const soft_safetynet_leaf leaf = {"P-256", "attest.android.com",
                                             "attest.android.com", 90};

    set_leaf(f, &leaf);
    f->statement.der_signature = true;
    assert_case_rejected(f, "DER signature", WEBAUTHN_ATTESTATION_INVALID, "64");
}

/* A leaf for another host, whatever else it names, is not SafetyNet's. */
static void safetynet_wrong_host_rejected(void **state)
{
    fixture *f = *state;
    static const soft_safetynet_leaf leaves[] = {
        {"RSA", "attest.example.com", "attest.example.com", 90},
        /* The CN is read only when the certificate has no dNSName. */
        {"RSA", "attest.android.com", "attest.example.com", 90},
        {"RSA", "attest.android.com.example.com", NULL, 90},
        {"RSA", "*.android.com", "*.android.com", 90},
    };

    for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
        char label[96];

        snprintf(label, sizeof(label), "leaf for %s", leaves[i].common_name);
        set_leaf(f, &leaves[i]);
        assert_case_rejected(f, label, WEBAUTHN_ATTESTATION_INVALID,
                             "attest.android.com");
    }
}

static void safetynet_expired_leaf_under_chain(void **state)
{
    fixture *f = *state;

    use_chain_policy(f);
    webauthn_verifier_set_time(f->verifier, time(NULL) + 100 * DAY_SECONDS);
    assert_case_rejected(f, "expired leaf", WEBAUTHN_ATTESTATION_CHAIN_INVALID,
                         "expired");
    assert_non_null(strstr(f->err.message, "certificate 0 of x5c"));
}

static void safetynet_other_root_under_chain(void **state)
{
    fixture *f = *state;
    soft_safetynet_ca other;

    assert_int_equal(soft_safetynet_ca_init(&other), 0);
    assert_int_equal(webauthn_verifier_add_root(f->verifier, other.root), 0);
    webauthn_verifier_set_policy(f->verifier, WEBAUTHN_ATTESTATION_CHAIN);
    assert_case_rejected(f, "other root", WEBAUTHN_ATTESTATION_CHAIN_INVALID,
                         "does not verify");
    soft_safetynet_ca_clear(&other);
}

/* JWS texts that fail before any member is read: a NUL byte, a header that is not
 * base64url or not a JSON object ("W10" is "[]"), and a signature that is not
 * base64url ("e30" is "{}"). */
static void safetynet_jws_encoding_rejected(void **state)
{
    static const struct {
        const char *text;
        size_t len;
        const char *word;
    } cases[] = {
        {"e30.e30.\0AA", 11, "response contains a NUL byte"},
        {"!!!.e30.AA", 10, "JWS header is not base64url"},
        {"W10.e30.AA", 10, "JWS header is not a JSON object"},
        {"e30.W10.AA", 10, "JWS payload is not a JSON object"},
        {"e30.e30.!!", 10, "JWS signature is not base64url"},
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cbor_item_t *response =
            cbor_build_bytestring((const unsigned char *)cases[i].text, cases[i].len);
        unsigned char *encoded = NULL;
        size_t size = 0;

        f->ceremony.att_stmt_member = "response";
        f->ceremony.att_stmt_value_len = cbor_serialize_alloc(response, &encoded, &size);
        f->ceremony.att_stmt_value = encoded;
        assert_case_rejected(f, cases[i].word, WEBAUTHN_MALFORMED, cases[i].word);
        cbor_decref(&response);
        free(encoded);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(safetynet_basic_under_any, setup, teardown),
        cmocka_unit_test_setup_teardown(safetynet_basic_under_self, setup, teardown),
        cmocka_unit_test_setup_teardown(safetynet_trusted_under_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(safetynet_es256_leaf_trusted, setup, teardown),
        cmocka_unit_test_setup_teardown(safetynet_common_name_only, setup, teardown),
        cmocka_unit_test_setup_teardown(safetynet_old_timestamp, setup, teardown),
        cmocka_unit_test_setup_teardown(safetynet_future_timestamp, setup, teardown),
        cmocka_unit_test_setup_teardown(safetynet_statement_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(safetynet_es256_der_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(safetynet_wrong_host_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(safetynet_jws_encoding_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(safetynet_expired_leaf_under_chain, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(safetynet_other_root_under_chain, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
