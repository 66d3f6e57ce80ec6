/* Times one case of the case file with idsvc's verifier on the calling thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "webauthn.h"
#include "webauthn_bench.h"

/* A case ready to verify: the verifier, the decoded challenge and stored credential. */
typedef struct bench_input {
    const char *name;
    int is_assertion;
    const char *fmt; /* the format a registration must report */
    const char *response;
    size_t response_len;
    webauthn_verifier *verifier;
    unsigned char *challenge;
    size_t challenge_len;
    unsigned char *public_key;
    size_t public_key_len;
    unsigned char *credential_id;
    size_t credential_id_len;
    webauthn_credential credential;
    webauthn_public_key *parsed_key; /* set when assertions reuse a parsed key */
} bench_input;

static double seconds_of(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints one result as a line of compact JSON and releases it. */
static void print_line(json_t *line)
{
    json_dumpf(line, stdout, JSON_COMPACT);
    putchar('\n');
    fflush(stdout);
    json_decref(line);
}

static const char *text_at(const json_t *object, const char *key)
{
    return json_string_value(json_object_get(object, key));
}

static int decode_field(const json_t *test_case, const char *key, unsigned char **out,
                        size_t *out_len)
{
    const char *text = text_at(test_case, key);

    if (text == NULL ||
        webauthn_base64url_decode(text, strlen(text), out, out_len) != 0) {
        fprintf(stderr, "idsvc-webauthn-bench: field %s is missing or not base64url\n",
                key);
        return -1;
    }
    return 0;
}

static int parse_policy(const char *text, webauthn_attestation_policy *policy)
{
    if (text == NULL || strcmp(text, "none") == 0)
        *policy = WEBAUTHN_ATTESTATION_ANY;
    else if (strcmp(text, "self") == 0)
        *policy = WEBAUTHN_ATTESTATION_SELF;
    else if (strcmp(text, "chain") == 0)
        *policy = WEBAUTHN_ATTESTATION_CHAIN;
    else
        return -1;
    return 0;
}

/* Builds the verifier as a deployment would: one RP ID, one origin, the roots, the
 * policy and the time pin of the case. */
static webauthn_verifier *build_verifier(const json_t *test_case)
{
    const char *rp_id = text_at(test_case, "rp_id");
    const char *origin = text_at(test_case, "origin");
    const json_t *roots = json_object_get(test_case, "roots");
    const json_t *root;
    webauthn_attestation_policy policy;
    webauthn_verifier *verifier;
    webauthn_error err;
    size_t i;

    if (rp_id == NULL || origin == NULL ||
        parse_policy(text_at(test_case, "policy"), &policy) != 0) {
        fprintf(stderr, "idsvc-webauthn-bench: rp_id, origin or policy is invalid\n");
        return NULL;
    }
    verifier = webauthn_verifier_new(rp_id);
    if (verifier == NULL || webauthn_verifier_add_origin(verifier, origin) != 0) {
        fprintf(stderr, "idsvc-webauthn-bench: out of memory\n");
        webauthn_verifier_free(&verifier);
        return NULL;
    }
    json_array_foreach(roots, i, root)
    {
        if (webauthn_verifier_add_roots_file(verifier, json_string_value(root), &err) !=
            0) {
            fprintf(stderr, "idsvc-webauthn-bench: %s\n", err.message);
            webauthn_verifier_free(&verifier);
            return NULL;
        }
    }
    webauthn_verifier_set_policy(verifier, policy);
    webauthn_verifier_set_require_uv(
        verifier, json_is_true(json_object_get(test_case, "require_uv")));
    webauthn_verifier_set_time(
        verifier, (time_t)json_integer_value(json_object_get(test_case, "at")));
    return verifier;
}

static void input_clear(bench_input *input)
{
    webauthn_public_key_free(&input->parsed_key);
    webauthn_verifier_free(&input->verifier);
    free(input->challenge);
    free(input->public_key);
    free(input->credential_id);
    memset(input, 0, sizeof(*input));
}

static int input_init(bench_input *input, const json_t *test_case)
{
    const char *ceremony = text_at(test_case, "ceremony");

    memset(input, 0, sizeof(*input));
    input->name = text_at(test_case, "name");
    input->response = text_at(test_case, "response");
    if (input->name == NULL || input->response == NULL || ceremony == NULL) {
        fprintf(stderr,
                "idsvc-webauthn-bench: the case is missing name, response or ceremony\n");
        return -1;
    }
    input->response_len = strlen(input->response);
    input->is_assertion = strcmp(ceremony, "assertion") == 0;
    input->fmt = text_at(test_case, "fmt");

    input->verifier = build_verifier(test_case);
    if (input->verifier == NULL || decode_field(test_case, "challenge", &input->challenge,
                                                &input->challenge_len) != 0)
        goto fail;
    if (input->is_assertion) {
        if (decode_field(test_case, "public_key", &input->public_key,
                         &input->public_key_len) != 0 ||
            decode_field(test_case, "credential_id", &input->credential_id,
                         &input->credential_id_len) != 0)
            goto fail;
        input->credential.id = input->credential_id;
        input->credential.id_len = input->credential_id_len;
        input->credential.public_key = input->public_key;
        input->credential.public_key_len = input->public_key_len;
        input->credential.sign_count =
            (uint32_t)json_integer_value(json_object_get(test_case, "stored_count"));
    }
    return 0;

fail:
    input_clear(input);
    return -1;
}

/* Verifies once, as a server would per request, including freeing the result. When
 * fmt_out is not NULL, it receives the registration's format. */
static webauthn_code verify_once(const bench_input *input, webauthn_error *err,
                                 char *fmt_out, size_t fmt_size)
{
    webauthn_registration *registration = NULL;
    webauthn_assertion assertion;
    webauthn_code code;

    if (input->is_assertion && input->parsed_key != NULL)
        return webauthn_verify_assertion_key(
            input->verifier, input->challenge, input->challenge_len, &input->credential,
            input->parsed_key, input->response, input->response_len, &assertion, err);
    if (input->is_assertion)
        return webauthn_verify_assertion(
            input->verifier, input->challenge, input->challenge_len, &input->credential,
            input->response, input->response_len, &assertion, err);

    code = webauthn_verify_registration(input->verifier, input->challenge,
                                        input->challenge_len, input->response,
                                        input->response_len, &registration, err);
    if (code == WEBAUTHN_OK && fmt_out != NULL)
        snprintf(fmt_out, fmt_size, "%s", registration->fmt);
    webauthn_registration_free(&registration);
    return code;
}

/* Repeats verifications until the wall clock passes seconds; returns the count, or -1
 * when one of them failed. */
static long verify_for(const bench_input *input, double seconds)
{
    double end = seconds_of(CLOCK_MONOTONIC) + seconds;
    webauthn_error err;
    long count = 0;

    do {
        if (verify_once(input, &err, NULL, 0) != WEBAUTHN_OK) {
            fprintf(stderr, "idsvc-webauthn-bench: %s: rejected while timing: %s\n",
                    input->name, err.message);
            return -1;
        }
        count++;
    } while (seconds_of(CLOCK_MONOTONIC) < end);
    return count;
}

int wabench_run(const json_t *test_case, const wabench_options *options)
{
    bench_input input;
    webauthn_error err;
    char fmt[24] = "";
    double wall_start, cpu_start, wall, cpu;
    long count;
    int result = -1;

    if (input_init(&input, test_case) != 0)
        return -1;
    if (options->parsed_key && input.is_assertion &&
        webauthn_public_key_parse(input.public_key, input.public_key_len,
                                  &input.parsed_key, &err) != WEBAUTHN_OK) {
        fprintf(stderr, "idsvc-webauthn-bench: %s: the stored key is invalid: %s\n",
                input.name, err.message);
        goto out;
    }

    /* A benchmark of rejections measures nothing, so the case must pass first. */
    if (verify_once(&input, &err, fmt, sizeof(fmt)) != WEBAUTHN_OK) {
        char reason[320];

        snprintf(reason, sizeof(reason), "%s: %s", webauthn_code_name(err.code),
                 err.message);
        print_line(json_pack("{s:s, s:s, s:s}", "side", "idsvc", "case", input.name,
                             "rejected", reason));
        result = 1;
        goto out;
    }
    if (!input.is_assertion && input.fmt != NULL && strcmp(fmt, input.fmt) != 0) {
        char reason[96];

        snprintf(reason, sizeof(reason), "format %s, expected %s", fmt, input.fmt);
        print_line(json_pack("{s:s, s:s, s:s}", "side", "idsvc", "case", input.name,
                             "rejected", reason));
        result = 1;
        goto out;
    }

    if (options->warmup > 0 && verify_for(&input, options->warmup) < 0)
        goto out;
    wall_start = seconds_of(CLOCK_MONOTONIC);
    cpu_start = seconds_of(CLOCK_PROCESS_CPUTIME_ID);
    count = verify_for(&input, options->seconds);
    wall = seconds_of(CLOCK_MONOTONIC) - wall_start;
    cpu = seconds_of(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
    if (count < 0)
        goto out;

    print_line(json_pack("{s:s, s:s, s:s, s:I, s:f, s:f, s:b}", "side", "idsvc", "case",
                         input.name, "ceremony",
                         input.is_assertion ? "assertion" : "registration", "ops",
                         (json_int_t)count, "wall_s", wall, "cpu_s", cpu, "parsed_key",
                         input.parsed_key != NULL));
    result = 0;

out:
    input_clear(&input);
    return result;
}

const json_t *wabench_find_case(const json_t *cases, const char *name)
{
    const json_t *test_case;
    size_t i;

    json_array_foreach(json_object_get(cases, "cases"), i, test_case)
    {
        const char *case_name = text_at(test_case, "name");

        if (case_name != NULL && strcmp(case_name, name) == 0)
            return test_case;
    }
    return NULL;
}
