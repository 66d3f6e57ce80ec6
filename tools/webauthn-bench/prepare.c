/*
 * The case file for idsvc-webauthn-bench and bench.mjs: every input with the settings
 * that make it verify, so that both verifiers are configured alike.
 *
 * Each case carries the response as JSON text, the RP ID, origin and challenge, the
 * attestation policy and roots for registrations, and the stored credential for
 * assertions. "compare": false marks a case that only idsvc can run, with the reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "soft_authenticator.h"
#include "webauthn.h"
#include "webauthn_bench.h"

/* The software authenticator's credentials: ES256, RS256 and EdDSA. */
static const struct {
    int alg;
    const char *name;
} generated_algs[] = {
    {-7, "es256"},
    {-257, "rs256"},
    {-8, "eddsa"},
};

static json_t *load_json(const char *vectors_dir, const char *relative)
{
    char path[4096];
    json_error_t error;
    json_t *root;

    snprintf(path, sizeof(path), "%s/webauthn/%s", vectors_dir, relative);
    root = json_load_file(path, 0, &error);
    if (root == NULL)
        fprintf(stderr, "idsvc-webauthn-bench: cannot read %s: %s\n", path, error.text);
    return root;
}

static const char *text_at(const json_t *object, const char *key)
{
    const char *text = json_string_value(json_object_get(object, key));

    return text != NULL ? text : "";
}

static json_t *root_paths(const char *vectors_dir, const char *const *relative)
{
    json_t *paths = json_array();
    char path[4096];

    for (size_t i = 0; relative[i] != NULL; i++) {
        snprintf(path, sizeof(path), "%s/webauthn/%s", vectors_dir, relative[i]);
        json_array_append_new(paths, json_string(path));
    }
    return paths;
}

/* Reads "verification_time_used_by_source", such as "2025, 1, 8, 0, 0, 0", as UTC. */
static time_t vector_time(const json_t *vector)
{
    struct tm tm = {0};
    int fields[6];

    if (sscanf(text_at(vector, "verification_time_used_by_source"),
               "%d, %d, %d, %d, %d, %d", &fields[0], &fields[1], &fields[2], &fields[3],
               &fields[4], &fields[5]) != 6)
        return 0;
    tm.tm_year = fields[0] - 1900;
    tm.tm_mon = fields[1] - 1;
    tm.tm_mday = fields[2];
    tm.tm_hour = fields[3];
    tm.tm_min = fields[4];
    tm.tm_sec = fields[5];
    return timegm(&tm);
}

/* Adds the idsvc time pin as seconds and as readable text; 0 means the current time. */
static void set_time(json_t *test_case, time_t at)
{
    char text[32] = "";
    struct tm tm;

    json_object_set_new(test_case, "at", json_integer((json_int_t)at));
    if (at != 0 && gmtime_r(&at, &tm) != NULL)
        strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(test_case, "at_utc", at != 0 ? json_string(text) : json_null());
}

/* Starts a case with the fields every case has. Takes ownership of response. */
static json_t *new_case(const char *name, const char *ceremony, const char *source,
                        const char *rp_id, const char *origin, const char *challenge,
                        json_t *response)
{
    char *response_text = json_dumps(response, JSON_COMPACT);
    json_t *test_case = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:b, s:b}", "name", name, "ceremony",
        ceremony, "source", source, "rp_id", rp_id, "origin", origin, "challenge",
        challenge, "response", response_text, "require_uv", 0, "compare", 1);

    free(response_text);
    json_decref(response);
    return test_case;
}

/* A registration vector in RegistrationResponseJSON form under "credential". */
static json_t *registration_vector(const char *vectors_dir, const char *name,
                                   const char *relative, const char *policy,
                                   const char *const *roots, const char *not_compared)
{
    json_t *vector = load_json(vectors_dir, relative);
    json_t *test_case;
    char source[256];

    if (vector == NULL)
        return NULL;
    snprintf(source, sizeof(source), "vector webauthn/%s", relative);
    test_case = new_case(name, "registration", source, text_at(vector, "expected_rp_id"),
                         text_at(vector, "expected_origin"),
                         text_at(vector, "expected_challenge_b64url"),
                         json_incref(json_object_get(vector, "credential")));
    json_object_set_new(test_case, "fmt",
                        json_string(text_at(json_object_get(vector, "expected"), "fmt")));
    json_object_set_new(test_case, "policy", json_string(policy));
    json_object_set_new(test_case, "roots", root_paths(vectors_dir, roots));
    set_time(test_case, not_compared != NULL ? vector_time(vector) : 0);
    if (not_compared != NULL) {
        json_object_set_new(test_case, "compare", json_false());
        json_object_set_new(test_case, "not_compared", json_string(not_compared));
    }
    json_decref(vector);
    return test_case;
}

/* The Windows Hello vector keeps its response under "registration" in another shape. */
static json_t *tpm_vector(const char *vectors_dir)
{
    static const char *const roots[] = {
        "tpm-windows-hello/microsoft-tpm-root-ca-2014.pem", NULL};
    json_t *vector = load_json(vectors_dir, "tpm-windows-hello/example.json");
    const json_t *registration, *expected;
    const char *id;
    json_t *response, *test_case;

    if (vector == NULL)
        return NULL;
    registration = json_object_get(vector, "registration");
    expected = json_object_get(json_object_get(vector, "expected"), "registration");
    id = text_at(expected, "credential_id_b64url");
    response = json_pack(
        "{s:s, s:s, s:s, s:{s:s, s:s}, s:{}}", "id", id, "rawId", id, "type",
        "public-key", "response", "clientDataJSON",
        text_at(registration, "clientDataJSON_b64url"), "attestationObject",
        text_at(registration, "attestationObject_b64url"), "clientExtensionResults");
    test_case = new_case("tpm-windows-hello", "registration",
                         "vector webauthn/tpm-windows-hello/example.json",
                         text_at(expected, "expected_rp_id"),
                         text_at(expected, "expected_origin"),
                         text_at(expected, "expected_challenge_b64url"), response);
    json_object_set_new(test_case, "fmt", json_string("tpm"));
    json_object_set_new(test_case, "policy", json_string("chain"));
    json_object_set_new(test_case, "roots", root_paths(vectors_dir, roots));
    /* NOTE: the AIK certificate and its issuer expire on 2027-06-03. Both sides check
     * this case at the current time, so from then on both reject it and it is skipped. */
    set_time(test_case, 0);
    json_decref(vector);
    return test_case;
}

static json_t *assertion_vector(const char *vectors_dir)
{
    json_t *vector = load_json(vectors_dir, "uv-required/assertion.json");
    const json_t *credential;
    json_t *test_case;

    if (vector == NULL)
        return NULL;
    credential = json_object_get(vector, "credential");
    test_case = new_case(
        "assertion-es256", "assertion", "vector webauthn/uv-required/assertion.json",
        text_at(vector, "expected_rp_id"), text_at(vector, "expected_origin"),
        text_at(vector, "expected_challenge_b64url"), json_incref((json_t *)credential));
    json_object_set_new(
        test_case, "public_key",
        json_string(text_at(vector, "credential_public_key_cose_b64url")));
    json_object_set_new(test_case, "credential_id",
                        json_string(text_at(credential, "rawId")));
    json_object_set(test_case, "stored_count",
                    json_object_get(vector, "stored_sign_count"));
    json_decref(vector);
    return test_case;
}

/* Makes a packed self-attested registration and an assertion with one fresh key, and
 * appends both cases. Returns 0 or -1. */
static int add_generated(json_t *cases, int alg, const char *alg_name)
{
    soft_authenticator auth;
    soft_ceremony ceremony;
    char *registration = NULL, *assertion = NULL, *challenge = NULL, *public_key = NULL;
    char *credential_id = NULL;
    unsigned char *cose = NULL;
    size_t cose_len = 0;
    char name[64], source[128];
    json_t *response;
    json_t *test_case;
    int result = -1;

    if (soft_authenticator_init(&auth, alg) != 0) {
        fprintf(stderr, "idsvc-webauthn-bench: key generation failed for %s\n", alg_name);
        return -1;
    }
    soft_ceremony_defaults(&ceremony);
    ceremony.format = SOFT_FORMAT_PACKED_SELF;
    registration = soft_register(&auth, &ceremony, NULL, 0);

    /* The assertion reports counter 1 against a stored 0, as the first sign-in would. */
    ceremony.sign_count = 1;
    assertion = soft_authenticate(&auth, &ceremony);
    challenge = soft_base64url(ceremony.challenge, sizeof(ceremony.challenge));
    cose = soft_cose_key(&auth, &cose_len);
    public_key = cose != NULL ? soft_base64url(cose, cose_len) : NULL;
    credential_id = soft_base64url(auth.credential_id, sizeof(auth.credential_id));
    if (registration == NULL || assertion == NULL || challenge == NULL ||
        public_key == NULL || credential_id == NULL) {
        fprintf(stderr,
                "idsvc-webauthn-bench: the software authenticator failed for %s\n",
                alg_name);
        goto out;
    }

    snprintf(name, sizeof(name), "packed-self-%s", alg_name);
    snprintf(source, sizeof(source), "generated: software authenticator, %s key",
             alg_name);
    response = json_loads(registration, 0, NULL);
    test_case = new_case(name, "registration", source, SOFT_RP_ID, SOFT_ORIGIN, challenge,
                         response);
    json_object_set_new(test_case, "fmt", json_string("packed"));
    json_object_set_new(test_case, "policy", json_string("self"));
    json_object_set_new(test_case, "roots", json_array());
    set_time(test_case, 0);
    json_array_append_new(cases, test_case);

    snprintf(name, sizeof(name), "generated-assertion-%s", alg_name);
    response = json_loads(assertion, 0, NULL);
    test_case =
        new_case(name, "assertion", source, SOFT_RP_ID, SOFT_ORIGIN, challenge, response);
    json_object_set_new(test_case, "public_key", json_string(public_key));
    json_object_set_new(test_case, "credential_id", json_string(credential_id));
    json_object_set_new(test_case, "stored_count", json_integer(0));
    json_array_append_new(cases, test_case);
    result = 0;

out:
    free(credential_id);
    free(public_key);
    free(cose);
    free(challenge);
    free(assertion);
    free(registration);
    soft_authenticator_clear(&auth);
    return result;
}

int wabench_prepare(const char *vectors_dir, const char *out_path)
{
    static const char *const no_roots[] = {NULL};
    static const char *const yubico_roots[] = {
        "fido-u2f-yubikey/yubico-u2f-root-ca-457200631.pem", NULL};
    static const char *const google_roots[] = {
        "android-key-pixel/google_hardware_attestation_root_1.pem",
        "android-key-pixel/google_hardware_attestation_root_2.pem",
        "android-key-pixel/google_hardware_attestation_root_3.pem",
        "android-key-pixel/google_hardware_attestation_root_4.pem", NULL};
    static const char *const apple_roots[] = {"apple/apple_webauthn_root_ca.pem", NULL};
    static const char expired[] =
        "its certificates have expired; idsvc checks the chain at the vector's time, but "
        "@simplewebauthn/server checks certificate validity only at the current time";
    json_t *cases = json_array();
    json_t *items[6];
    json_t *root;
    int result = -1;

    items[0] = registration_vector(vectors_dir, "none", "none/registration.json", "none",
                                   no_roots, NULL);
    items[1] = registration_vector(vectors_dir, "fido-u2f-yubikey",
                                   "fido-u2f-yubikey/registration.json", "chain",
                                   yubico_roots, NULL);
    items[2] = tpm_vector(vectors_dir);
    items[3] = assertion_vector(vectors_dir);
    items[4] = registration_vector(vectors_dir, "android-key-pixel",
                                   "android-key-pixel/registration.json", "chain",
                                   google_roots, expired);
    items[5] = registration_vector(vectors_dir, "apple", "apple/registration.json",
                                   "chain", apple_roots, expired);
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
        if (items[i] == NULL)
            goto out;
    }
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
        json_array_append(cases, items[i]);
    }
    for (size_t i = 0; i < sizeof(generated_algs) / sizeof(generated_algs[0]); i++) {
        if (add_generated(cases, generated_algs[i].alg, generated_algs[i].name) != 0)
            goto out;
    }

    root = json_pack("{s:O}", "cases", cases);
    if (json_dump_file(root, out_path, JSON_INDENT(2)) != 0)
        fprintf(stderr, "idsvc-webauthn-bench: cannot write %s\n", out_path);
    else
        result = 0;
    json_decref(root);

out:
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
        json_decref(items[i]);
    json_decref(cases);
    return result;
}
