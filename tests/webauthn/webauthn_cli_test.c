/* idsvc-admin webauthn on the public vectors and on soft authenticator responses of
 * the newer algorithms: the JSON it prints, the "rejected: CODE:" line and the exit
 * status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/pem.h>

#include "soft_authenticator.h"
#include "soft_safetynet.h"
#include "test_token.h"

typedef struct cli {
    char dir[64];
    char response[128]; /* the response file */
    char out[128];
    char err[128];
    int status;
    json_t *vector;
} cli;

static int setup(void **state)
{
    cli *c = calloc(1, sizeof(*c));

    if (c == NULL || getenv("IDSVC_ADMIN") == NULL || getenv("IDSVC_VECTORS") == NULL)
        return -1;
    snprintf(c->dir, sizeof(c->dir), "/tmp/idsvc-webauthn-cli-XXXXXX");
    if (mkdtemp(c->dir) == NULL)
        return -1;
    snprintf(c->response, sizeof(c->response), "%s/response.json", c->dir);
    snprintf(c->out, sizeof(c->out), "%s/stdout", c->dir);
    snprintf(c->err, sizeof(c->err), "%s/stderr", c->dir);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    cli *c = *state;

    unlink(c->response);
    unlink(c->out);
    unlink(c->err);
    rmdir(c->dir);
    json_decref(c->vector);
    free(c);
    return 0;
}

/* Loads a vector and writes the JSON at key (a credential object) as the response. */
static void write_response(cli *c, const char *relative, const char *key)
{
    char path[4096];
    json_error_t error;

    test_vector_path(path, sizeof(path), relative);
    c->vector = json_load_file(path, 0, &error);
    if (c->vector == NULL)
        fail_msg("cannot load %s: %s", path, error.text);
    assert_int_equal(json_dump_file(json_object_get(c->vector, key), c->response, 0), 0);
}

static const char *text(const json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);

    if (!json_is_string(value))
        fail_msg("vector field %s is missing", key);
    return json_string_value(value);
}

/* Runs idsvc-admin webauthn with the arguments and the response file. */
static void run(cli *c, const char *arguments)
{
    char command[8192];
    int len = snprintf(command, sizeof(command), "'%s' webauthn %s '%s' >'%s' 2>'%s'",
                       getenv("IDSVC_ADMIN"), arguments, c->response, c->out, c->err);

    assert_true(len > 0 && len < (int)sizeof(command));
    c->status = test_run(command);
}

static void assert_rejected_line(const cli *c, const char *code)
{
    char *err = test_read_file(c->err, NULL);
    char prefix[128];

    assert_non_null(err);
    snprintf(prefix, sizeof(prefix), "rejected: %s: ", code);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("expected a line starting \"%s\", got: %s", prefix, err);
    assert_int_equal(c->status, 1);
    free(err);
}

static json_t *read_output(const cli *c)
{
    json_error_t error;
    json_t *output = json_load_file(c->out, 0, &error);
    char *err = test_read_file(c->err, NULL);

    if (c->status != 0)
        fail_msg("exit status %d: %s", c->status, err != NULL ? err : "");
    free(err);
    if (output == NULL)
        fail_msg("the output is not JSON: %s", error.text);
    return output;
}

static void register_none(cli *c, const char *extra)
{
    char arguments[4096];

    write_response(c, "webauthn/none/registration.json", "credential");
    snprintf(arguments, sizeof(arguments),
             "register --rp-id '%s' --origin '%s' --challenge '%s' %s",
             text(c->vector, "expected_rp_id"), text(c->vector, "expected_origin"),
             text(c->vector, "expected_challenge_b64url"), extra);
    run(c, arguments);
}

static void register_none_prints_json(void **state)
{
    cli *c = *state;
    json_t *output, *expected;

    register_none(c, "");
    output = read_output(c);
    expected = json_object_get(c->vector, "expected");

    assert_string_equal(text(output, "fmt"), "none");
    assert_string_equal(text(output, "attestation"), "none");
    assert_string_equal(text(output, "aaguid"), "00000000-0000-0000-0000-000000000000");
    assert_string_equal(text(output, "credential_id"),
                        text(expected, "credential_id_b64url"));
    assert_string_equal(text(output, "public_key"),
                        text(expected, "credential_public_key_cose_b64url"));
    assert_int_equal(json_integer_value(json_object_get(output, "algorithm")), -7);
    assert_int_equal(json_integer_value(json_object_get(output, "flags")), 0x45);
    assert_int_equal(json_integer_value(json_object_get(output, "sign_count")), 23);
    json_decref(output);
}

static void register_none_rejected_under_self(void **state)
{
    cli *c = *state;

    register_none(c, "--attestation self");
    assert_rejected_line(c, "attestation_required");
}

static void register_wrong_origin_rejected(void **state)
{
    cli *c = *state;

    write_response(c, "webauthn/none/registration.json", "credential");
    run(c,
        "register --rp-id localhost --origin https://localhost:5000 --challenge "
        "TwN7n4WTyGKLc4ZY-qGsFqKnHM4nglqsyV0ICJlN2TO9XiRyFtrkaDwUvsql-gkLJXP6fnF1MlrZ53Mm"
        "4R7Cvw");
    assert_rejected_line(c, "origin_not_allowed");
}

static void register_android(cli *c, const char *at)
{
    const char *dir = getenv("IDSVC_VECTORS");
    char arguments[8192];

    write_response(c, "webauthn/android-key-pixel/registration.json", "credential");
    snprintf(
        arguments, sizeof(arguments),
        "register --rp-id '%s' --origin '%s' --challenge '%s' %s "
        "--root '%s/webauthn/android-key-pixel/google_hardware_attestation_root_1.pem' "
        "--root '%s/webauthn/android-key-pixel/google_hardware_attestation_root_2.pem' "
        "--root '%s/webauthn/android-key-pixel/google_hardware_attestation_root_3.pem' "
        "--root '%s/webauthn/android-key-pixel/google_hardware_attestation_root_4.pem'",
        text(c->vector, "expected_rp_id"), text(c->vector, "expected_origin"),
        text(c->vector, "expected_challenge_b64url"), at, dir, dir, dir, dir);
    run(c, arguments);
}

static void register_android_trusted_at_2025(void **state)
{
    cli *c = *state;
    json_t *output;

    register_android(c, "--at 2025-01-08T00:00:00Z");
    output = read_output(c);
    assert_string_equal(text(output, "fmt"), "android-key");
    assert_string_equal(text(output, "attestation"), "trusted");
    assert_string_equal(text(output, "aaguid"), "b93fd961-f2e6-462f-b122-82002247de78");
    assert_string_equal(
        text(output, "credential_id"),
        text(json_object_get(c->vector, "expected"), "credential_id_b64url"));
    json_decref(output);
}

static void register_android_rejected_today(void **state)
{
    cli *c = *state;
    char *err;

    register_android(c, "");
    assert_rejected_line(c, "attestation_chain_invalid");
    err = test_read_file(c->err, NULL);
    assert_non_null(strstr(err, "certificate has expired"));
    free(err);
}

static void authenticate_uv(cli *c, const char *extra)
{
    char arguments[4096];

    write_response(c, "webauthn/uv-required/assertion.json", "credential");
    snprintf(
        arguments, sizeof(arguments),
        "authenticate --rp-id '%s' --origin '%s' --challenge '%s' --public-key '%s' %s",
        text(c->vector, "expected_rp_id"), text(c->vector, "expected_origin"),
        text(c->vector, "expected_challenge_b64url"),
        text(c->vector, "credential_public_key_cose_b64url"), extra);
    run(c, arguments);
}

static void authenticate_prints_counter(void **state)
{
    cli *c = *state;
    json_t *output;

    authenticate_uv(c, "--stored-count 32");
    output = read_output(c);
    assert_int_equal(json_integer_value(json_object_get(output, "sign_count")), 33);
    assert_int_equal(json_integer_value(json_object_get(output, "flags")), 0x01);
    assert_true(json_is_false(json_object_get(output, "uv")));
    json_decref(output);
}

static void authenticate_require_uv_rejected(void **state)
{
    cli *c = *state;

    authenticate_uv(c, "--stored-count 32 --require-uv");
    assert_rejected_line(c, "user_verification_missing");
}

static void authenticate_equal_counter_rejected(void **state)
{
    cli *c = *state;

    authenticate_uv(c, "--stored-count 33");
    assert_rejected_line(c, "counter_regression");
}

/* The vector's assertion has BE clear, which a key stored as backup eligible rejects. */
static void authenticate_backup_eligible_rejected(void **state)
{
    cli *c = *state;

    authenticate_uv(c, "--stored-count 32 --backup-eligible yes");
    assert_rejected_line(c, "backup_eligibility_mismatch");
}

static void authenticate_backup_ineligible_accepted(void **state)
{
    cli *c = *state;
    json_t *output;

    authenticate_uv(c, "--stored-count 32 --backup-eligible no");
    assert_int_equal(c->status, 0);
    output = read_output(c);
    assert_true(json_is_false(json_object_get(output, "be")));
    json_decref(output);
}

static void invalid_backup_eligible_is_usage_error(void **state)
{
    cli *c = *state;

    authenticate_uv(c, "--stored-count 32 --backup-eligible maybe");
    assert_int_equal(c->status, 2);
}

static void missing_challenge_is_usage_error(void **state)
{
    cli *c = *state;

    write_response(c, "webauthn/none/registration.json", "credential");
    run(c, "register --rp-id localhost --origin http://localhost:5000");
    assert_int_equal(c->status, 2);
}

static void invalid_time_is_usage_error(void **state)
{
    cli *c = *state;

    register_none(c, "--at 2025-01-08");
    assert_int_equal(c->status, 2);
}

/* The soft authenticator's algorithms beyond ES256, RS256 and EdDSA. */
static const struct {
    int alg;
    const char *name;
} soft_algs[] = {{-35, "ES384"}, {-36, "ES512"}, {-37, "PS256"}};

/* Writes the text as the response file. */
static void write_text(const cli *c, const char *text_value)
{
    FILE *file = fopen(c->response, "w");

    assert_non_null(file);
    assert_int_equal(fputs(text_value, file) >= 0, 1);
    assert_int_equal(fclose(file), 0);
}

/* Runs the command for the soft authenticator's relying party and challenge. */
static void run_soft(cli *c, const char *command, const char *extra)
{
    soft_ceremony defaults;
    char *challenge;
    char arguments[4096];

    soft_ceremony_defaults(&defaults);
    challenge = soft_base64url(defaults.challenge, sizeof(defaults.challenge));
    assert_non_null(challenge);
    snprintf(arguments, sizeof(arguments), "%s --rp-id %s --origin %s --challenge %s %s",
             command, SOFT_RP_ID, SOFT_ORIGIN, challenge, extra);
    free(challenge);
    run(c, arguments);
}

static void register_soft_algorithms(void **state)
{
    cli *c = *state;

    for (size_t i = 0; i < sizeof(soft_algs) / sizeof(soft_algs[0]); i++) {
        soft_authenticator auth;
        soft_ceremony ceremony;
        char *response;
        json_t *output;

        assert_int_equal(soft_authenticator_init(&auth, soft_algs[i].alg), 0);
        soft_ceremony_defaults(&ceremony);
        response = soft_register(&auth, &ceremony, NULL, 0);
        assert_non_null(response);
        write_text(c, response);
        run_soft(c, "register", "--attestation self");

        output = read_output(c);
        assert_string_equal(text(output, "fmt"), "packed");
        assert_string_equal(text(output, "attestation"), "self");
        assert_int_equal(json_integer_value(json_object_get(output, "algorithm")),
                         soft_algs[i].alg);
        assert_string_equal(text(output, "algorithm_name"), soft_algs[i].name);
        json_decref(output);
        free(response);
        soft_authenticator_clear(&auth);
    }
}

/* Authenticates with each algorithm, and with a changed signature byte. */
static void authenticate_soft_algorithms(void **state)
{
    cli *c = *state;

    for (size_t i = 0; i < sizeof(soft_algs) / sizeof(soft_algs[0]); i++) {
        soft_authenticator auth;
        soft_ceremony ceremony;
        size_t cose_len = 0;
        unsigned char *cose;
        char *cose_text, *response, extra[2048];
        json_t *output;

        assert_int_equal(soft_authenticator_init(&auth, soft_algs[i].alg), 0);
        cose = soft_cose_key(&auth, &cose_len);
        cose_text = soft_base64url(cose, cose_len);
        assert_non_null(cose_text);
        snprintf(extra, sizeof(extra), "--public-key %s --stored-count 10", cose_text);
        soft_ceremony_defaults(&ceremony);
        ceremony.sign_count = 11;

        response = soft_authenticate(&auth, &ceremony);
        write_text(c, response);
        free(response);
        run_soft(c, "authenticate", extra);
        output = read_output(c);
        assert_int_equal(json_integer_value(json_object_get(output, "sign_count")), 11);
        json_decref(output);

        ceremony.tamper_signature = true;
        response = soft_authenticate(&auth, &ceremony);
        write_text(c, response);
        free(response);
        run_soft(c, "authenticate", extra);
        assert_rejected_line(c, "signature_invalid");

        free(cose_text);
        free(cose);
        soft_authenticator_clear(&auth);
    }
}

/* Writes an android-safetynet registration from a throwaway SafetyNet chain as the
 * response, and the chain's root as root_path. */
static void write_safetynet(cli *c, const soft_safetynet_ca *ca, bool tamper_signature,
                            const char *root_path)
{
    soft_authenticator auth;
    soft_ceremony ceremony;
    soft_safetynet statement = {.ca = ca, .tamper_signature = tamper_signature};
    FILE *root = fopen(root_path, "w");
    char *response;

    assert_non_null(root);
    assert_int_equal(PEM_write_X509(root, ca->root), 1);
    assert_int_equal(fclose(root), 0);

    assert_int_equal(soft_authenticator_init(&auth, -7), 0);
    soft_ceremony_defaults(&ceremony);
    ceremony.format = SOFT_FORMAT_ANDROID_SAFETYNET;
    ceremony.safetynet = &statement;
    response = soft_register(&auth, &ceremony, NULL, 0);
    assert_non_null(response);
    write_text(c, response);
    free(response);
    soft_authenticator_clear(&auth);
}

/* A SafetyNet statement is trusted with its root, rejected once its leaf has expired,
 * and rejected with a changed JWS signature. */
static void register_soft_safetynet(void **state)
{
    cli *c = *state;
    soft_safetynet_ca ca;
    char root_path[160], extra[512], later[32];
    time_t after_leaf = time(NULL) + 100 * 86400; /* the leaf is valid for 90 days */
    json_t *output;

    snprintf(root_path, sizeof(root_path), "%s/safetynet_root.pem", c->dir);
    strftime(later, sizeof(later), "%Y-%m-%dT%H:%M:%SZ", gmtime(&after_leaf));
    assert_int_equal(soft_safetynet_ca_init(&ca), 0);
    write_safetynet(c, &ca, false, root_path);

    snprintf(extra, sizeof(extra), "--root '%s'", root_path);
    run_soft(c, "register", extra);
    output = read_output(c);
    assert_string_equal(text(output, "fmt"), "android-safetynet");
    assert_string_equal(text(output, "attestation"), "trusted");
    json_decref(output);

    snprintf(extra, sizeof(extra), "--root '%s' --at %s", root_path, later);
    run_soft(c, "register", extra);
    assert_rejected_line(c, "attestation_chain_invalid");

    write_safetynet(c, &ca, true, root_path);
    run_soft(c, "register", "--attestation self");
    assert_rejected_line(c, "attestation_invalid");

    unlink(root_path);
    soft_safetynet_ca_clear(&ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(register_none_prints_json, setup, teardown),
        cmocka_unit_test_setup_teardown(register_none_rejected_under_self, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(register_wrong_origin_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(register_android_trusted_at_2025, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(register_android_rejected_today, setup, teardown),
        cmocka_unit_test_setup_teardown(authenticate_prints_counter, setup, teardown),
        cmocka_unit_test_setup_teardown(authenticate_backup_eligible_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(authenticate_backup_ineligible_accepted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(invalid_backup_eligible_is_usage_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(authenticate_require_uv_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(authenticate_equal_counter_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(missing_challenge_is_usage_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(invalid_time_is_usage_error, setup, teardown),
        cmocka_unit_test_setup_teardown(register_soft_algorithms, setup, teardown),
        cmocka_unit_test_setup_teardown(authenticate_soft_algorithms, setup, teardown),
        cmocka_unit_test_setup_teardown(register_soft_safetynet, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
