/*
 * The daemon end to end: mutual TLS and roles, input limits with their problem codes,
 * the issue -> verify -> revoke flow, replay, protocol versions and keep-alive. One
 * daemon serves every test in this file.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "server_harness.h"

static harness server;

static const char issue_body[] =
    "{\"subject\":\"SG-S1234567D\",\"audience\":\"" RP_ENTITY_ID "\","
    "\"assurance_level\":\"high\",\"validity_seconds\":3600,"
    "\"attributes\":{\"given_name\":\"Mei\",\"family_name\":\"Tan\","
    "\"nationality\":[\"SG\"],\"date_of_birth\":\"1990-02-03\"}}";

static int start_server(void **state)
{
    (void)state;
    return harness_begin(&server);
}

static int stop_server(void **state)
{
    (void)state;
    return harness_finish(&server);
}

static void expect_problem(const http_result *result, long status, const char *code)
{
    if (result->status != status || strcmp(http_result_code(result), code) != 0)
        fprintf(stderr, "expected %ld %s, got %ld %s\n", status, code, result->status,
                result->body ? result->body : "");
    assert_int_equal(result->status, status);
    assert_string_equal(http_result_code(result), code);
    assert_non_null(strstr(result->headers, "application/problem+json"));
}

/* Issues a credential as the issuer and leaves the response in result. */
static void issue(http_result *result)
{
    assert_int_equal(harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                                  issue_body, result),
                     0);
    if (result->status != 201)
        fprintf(stderr, "issuing failed: %ld %s\n", result->status, result->body);
    assert_int_equal(result->status, 201);
}

/* Builds a verification request for an assertion. */
static char *verification_body(const char *assertion, const char *claims)
{
    json_t *doc = json_pack("{s:s, s:s, s:o}", "assertion", assertion, "purpose",
                            "account opening", "claims", json_loads(claims, 0, NULL));
    char *text = json_dumps(doc, JSON_COMPACT);

    json_decref(doc);
    return text;
}

static void test_health_without_certificate(void **state)
{
    http_result result;

    (void)state;
    assert_int_equal(harness_curl(&server, NULL, "GET", "/healthz", NULL, NULL, &result), 0);
    assert_int_equal(result.status, 200);
    assert_string_equal(json_string_value(json_object_get(result.json, "status")), "ok");
    http_result_clear(&result);
}

static void test_metadata_is_public(void **state)
{
    http_result result;

    (void)state;
    assert_int_equal(harness_curl(&server, NULL, "GET", "/saml/metadata", NULL, NULL, &result),
                     0);
    assert_int_equal(result.status, 200);
    assert_non_null(strstr(result.body, "entityID=\"" NODE_ENTITY_ID "\""));
    assert_non_null(strstr(result.body, "DEREncodedKeyValue"));
    http_result_clear(&result);
}

static void test_api_needs_client_certificate(void **state)
{
    http_result result;

    (void)state;
    harness_curl(&server, NULL, "GET", "/v1/issuers", NULL, NULL, &result);
    expect_problem(&result, 401, "client_certificate_required");
    http_result_clear(&result);

    harness_curl(&server, NULL, "POST", "/v1/credentials", NULL, issue_body, &result);
    expect_problem(&result, 401, "client_certificate_required");
    http_result_clear(&result);
}

static void test_untrusted_ca_fails_handshake(void **state)
{
    http_result result;

    (void)state;
    harness_curl(&server, CLIENT_ROGUE, "GET", "/healthz", NULL, NULL, &result);
    assert_int_equal(result.status, 0);
    assert_int_not_equal(result.transport_exit, 0);
    http_result_clear(&result);

    /* The daemon logs GnuTLS's reason when the connection closes. Other connections,
     * such as the harness's readiness probe, log handshake failures of their own, so
     * wait for this one's reason rather than for the first failure. */
    const char *reason = "client certificate: The certificate is NOT trusted";
    char *log = harness_wait_for_log(&server, reason);

    assert_non_null(log);
    assert_non_null(strstr(log, "\"event\":\"tls_handshake_failed\""));
    if (strstr(log, reason) == NULL)
        fail_msg("no certificate reason in the handshake failure; log:\n%s", log);
    free(log);
}

static void test_unmapped_certificate_forbidden(void **state)
{
    http_result result;

    (void)state;
    harness_curl(&server, CLIENT_STRANGER, "GET", "/v1/issuers", NULL, NULL, &result);
    expect_problem(&result, 403, "client_not_registered");
    http_result_clear(&result);
}

static void test_wrong_role_forbidden(void **state)
{
    http_result result;

    (void)state;
    harness_curl(&server, CLIENT_RP, "POST", "/v1/credentials", NULL, issue_body, &result);
    expect_problem(&result, 403, "role_not_allowed");
    http_result_clear(&result);

    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/verifications", NULL, "{}", &result);
    expect_problem(&result, 403, "role_not_allowed");
    http_result_clear(&result);

    harness_curl(&server, CLIENT_ISSUER, "GET", "/metrics", NULL, NULL, &result);
    expect_problem(&result, 403, "role_not_allowed");
    http_result_clear(&result);
}

static void test_fingerprint_mapping_and_metrics(void **state)
{
    http_result result;

    (void)state;
    harness_curl(&server, CLIENT_REGULATOR, "GET", "/metrics", NULL, NULL, &result);
    assert_int_equal(result.status, 200);
    assert_non_null(strstr(result.body, "idsvc_http_requests_total{route=\"/healthz\""));
    assert_non_null(strstr(result.body, "idsvc_hsm_operations_total{operation=\"saml_sign\"}"));
    assert_non_null(strstr(result.body, "idsvc_http_request_duration_seconds_bucket"));
    http_result_clear(&result);
}

/* Operation figures of GET /metrics, read as the regulator. */
typedef struct operation_samples {
    long verify_count;
    double verify_cpu_seconds;
    long sign_count;
    double sign_cpu_seconds;
} operation_samples;

/* Returns the value of the sample named name (with its labels) in Prometheus text, and
 * fails the test when no line carries that sample. */
static double sample_value(const char *text, const char *name)
{
    size_t len = strlen(name);

    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');

        if (strncmp(line, name, len) == 0 && line[len] == ' ')
            return strtod(line + len + 1, NULL);
        line = end != NULL ? end + 1 : NULL;
    }
    fail_msg("GET /metrics has no sample %s; it returned:\n%s", name, text);
    return -1.0;
}

/* Returns the value of a sample of GET /metrics, read as the regulator, or 0 when no
 * line carries it yet, as for a counter that nothing has raised. */
static double read_sample_or_zero(const char *name)
{
    http_result result;
    double value = 0.0;
    size_t len = strlen(name);

    harness_curl(&server, CLIENT_REGULATOR, "GET", "/metrics", NULL, NULL, &result);
    assert_int_equal(result.status, 200);
    for (const char *line = result.body; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');

        if (strncmp(line, name, len) == 0 && line[len] == ' ')
            value = strtod(line + len + 1, NULL);
        line = end != NULL ? end + 1 : NULL;
    }
    http_result_clear(&result);
    return value;
}

/* A 405 names the route of its path in the metrics and the request log, so an operator
 * sees which route clients call with the wrong method. Only a path that no route has is
 * "unmatched". */
static void test_method_error_names_route(void **state)
{
    const char *by_route = "idsvc_http_requests_total{route=\"/v1/issuers\",status=\"405\"}";
    const char *unmatched = "idsvc_http_requests_total{route=\"unmatched\",status=\"405\"}";
    double by_route_before, unmatched_before;
    http_result result;
    char request_id[64] = "";
    char expected_line[160];
    char *log;

    (void)state;
    by_route_before = read_sample_or_zero(by_route);
    unmatched_before = read_sample_or_zero(unmatched);

    harness_curl(&server, CLIENT_ISSUER, "DELETE", "/v1/issuers", NULL, NULL, &result);
    expect_problem(&result, 405, "method_not_allowed");
    const char *id_header = strstr(result.headers, "X-Request-Id: ");
    assert_non_null(id_header);
    sscanf(id_header + strlen("X-Request-Id: "), "%63[0-9a-f]", request_id);
    http_result_clear(&result);

    /* Counters are whole numbers, so the comparison as integers is exact. */
    assert_int_equal((long)read_sample_or_zero(by_route), (long)by_route_before + 1);
    assert_int_equal((long)read_sample_or_zero(unmatched), (long)unmatched_before);

    snprintf(expected_line, sizeof(expected_line),
             "\"request_id\":\"%s\",\"role\":\"issuer\"", request_id);
    log = harness_wait_for_log(&server, expected_line);
    assert_non_null(log);
    const char *line = strstr(log, expected_line);
    if (line == NULL)
        fail_msg("no request log line for request %s", request_id);
    const char *line_end = strchr(line, '\n');
    const char *route = strstr(line, "\"route\":\"/v1/issuers\"");
    if (route == NULL || (line_end != NULL && route > line_end))
        fail_msg("the request log line of the 405 does not name /v1/issuers: %.*s",
                 line_end != NULL ? (int)(line_end - line) : 400, line);
    free(log);
}

static void read_operation_samples(operation_samples *out)
{
    http_result result;

    harness_curl(&server, CLIENT_REGULATOR, "GET", "/metrics", NULL, NULL, &result);
    assert_int_equal(result.status, 200);
    out->verify_count = (long)sample_value(
        result.body, "idsvc_operation_cpu_seconds_count{operation=\"saml_verify\"}");
    out->verify_cpu_seconds = sample_value(
        result.body, "idsvc_operation_cpu_seconds_sum{operation=\"saml_verify\"}");
    out->sign_count = (long)sample_value(
        result.body, "idsvc_operation_cpu_seconds_count{operation=\"saml_sign\"}");
    out->sign_cpu_seconds = sample_value(
        result.body, "idsvc_operation_cpu_seconds_sum{operation=\"saml_sign\"}");
    http_result_clear(&result);
}

static void expect_cpu_growth(const char *operation, double before, double after)
{
    if (!(after > before))
        fail_msg("%s CPU seconds did not grow: %.9f before, %.9f after", operation, before,
                 after);
}

/* Earlier tests of this file used the same daemon, so the checks compare the samples
 * before and after each request rather than with zero. */
static void test_operation_cpu_metrics(void **state)
{
    operation_samples start, issued_samples, verified;
    http_result issued;
    http_result result;
    char *body;

    (void)state;
    read_operation_samples(&start);

    issue(&issued);
    read_operation_samples(&issued_samples);
    assert_int_equal(issued_samples.sign_count, start.sign_count + 1);
    expect_cpu_growth("saml_sign", start.sign_cpu_seconds, issued_samples.sign_cpu_seconds);
    assert_int_equal(issued_samples.verify_count, start.verify_count);

    body = verification_body(json_string_value(json_object_get(issued.json, "assertion")),
                             "[\"given_name\"]");
    harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body, &result);
    assert_int_equal(result.status, 200);
    http_result_clear(&result);
    read_operation_samples(&verified);

    /* One saml_verify of the assertion, and one signature for the result attestation. */
    assert_int_equal(verified.verify_count, issued_samples.verify_count + 1);
    expect_cpu_growth("saml_verify", issued_samples.verify_cpu_seconds,
                      verified.verify_cpu_seconds);
    assert_int_equal(verified.sign_count, issued_samples.sign_count + 1);
    expect_cpu_growth("saml_sign", issued_samples.sign_cpu_seconds,
                      verified.sign_cpu_seconds);

    free(body);
    http_result_clear(&issued);
}

static void test_issuers_for_any_role(void **state)
{
    http_result result;
    json_t *first;

    (void)state;
    harness_curl(&server, CLIENT_RP, "GET", "/v1/issuers", NULL, NULL, &result);
    assert_int_equal(result.status, 200);
    first = json_array_get(json_object_get(result.json, "issuers"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "entity_id")),
                        NODE_ENTITY_ID);
    http_result_clear(&result);
}

static void test_route_and_method_errors(void **state)
{
    http_result result;

    (void)state;
    harness_curl(&server, CLIENT_ISSUER, "GET", "/v1/nothing", NULL, NULL, &result);
    expect_problem(&result, 404, "route_not_found");
    http_result_clear(&result);

    harness_curl(&server, CLIENT_ISSUER, "DELETE", "/v1/credentials", NULL, NULL, &result);
    expect_problem(&result, 405, "method_not_allowed");
    assert_non_null(strstr(result.headers, "Allow: POST"));
    http_result_clear(&result);

    /* A GET route also serves HEAD, so Allow lists it. */
    harness_curl(&server, CLIENT_ISSUER, "DELETE", "/v1/issuers", NULL, NULL, &result);
    expect_problem(&result, 405, "method_not_allowed");
    assert_non_null(strstr(result.headers, "Allow: GET, HEAD\r\n"));
    http_result_clear(&result);
}

static void test_bad_json_rejected(void **state)
{
    http_result result;

    (void)state;
    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, "{\"subject\":",
                 &result);
    expect_problem(&result, 400, "json_invalid");
    http_result_clear(&result);

    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, "[1,2]", &result);
    expect_problem(&result, 400, "json_not_object");
    http_result_clear(&result);

    /* A bare string, number or literal is valid JSON too, but not an object. */
    static const char *const scalars[] = {"\"x\"", "null", "true", "1"};
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
        harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, scalars[i],
                     &result);
        expect_problem(&result, 400, "json_not_object");
        http_result_clear(&result);
    }

    /* Valid JSON that jansson cannot hold: one past INT64_MAX, and a double overflow. */
    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                 "{\"validity_seconds\": 9223372036854775808}", &result);
    expect_problem(&result, 400, "number_out_of_range");
    assert_non_null(strstr(json_string_value(json_object_get(result.json, "detail")),
                           "line 1, column"));
    http_result_clear(&result);
    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                 "{\"validity_seconds\": 1e999}", &result);
    expect_problem(&result, 400, "number_out_of_range");
    /* 1e999 is a real number, so the sentence must not speak of integers alone. */
    assert_non_null(strstr(json_string_value(json_object_get(result.json, "detail")),
                           "double"));
    http_result_clear(&result);

    /* INT64_MAX itself parses, and the member's own check rejects it. */
    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                 "{\"validity_seconds\": 9223372036854775807}", &result);
    assert_int_equal(result.status, 400);
    assert_string_not_equal(http_result_code(&result), "number_out_of_range");
    assert_string_not_equal(http_result_code(&result), "json_invalid");
    http_result_clear(&result);

    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", "text/plain",
                 issue_body, &result);
    expect_problem(&result, 415, "unsupported_media_type");
    http_result_clear(&result);
}

/* libmicrohttpd decodes the path before the node receives it, so "%00" would cut it and
 * "%2f" would add a segment. Content-Type must be one header naming JSON in UTF-8. */
static void test_path_and_media_type_checked(void **state)
{
    static const char *const encoded_paths[] = {"/v1/issuers%00x", "/v1%2fissuers",
                                                "/v1/issuer%73"};
    static const char *const rejected_types[] = {
        "application/json; charset=latin1",
        "application/json; foo=bar",
        "application/jsonx",
        "application/json; charset=\"utf-8",
        "application/json; ;charset=latin1",
    };
    /* RFC 9110 (section 5.6.6) allows empty parameters, so "application/json;" has no
     * parameter at all. */
    static const char *const accepted_types[] = {
        "application/json;charset=UTF-8",
        "Application/JSON ; charset=\"utf-8\"",
        "application/json;",
        "application/json; charset=utf-8;",
        "application/json ;; charset=utf-8",
    };
    raw_client *client = NULL;
    http_result result;
    char request[256];

    (void)state;
    for (size_t i = 0; i < sizeof(encoded_paths) / sizeof(encoded_paths[0]); i++) {
        snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n",
                 encoded_paths[i]);
        assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_ISSUER, &client), 0);
        assert_int_equal(raw_exchange(client, request, &result), 0);
        expect_problem(&result, 400, "path_invalid");
        http_result_clear(&result);
        raw_close(&client);
    }

    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_ISSUER, &client), 0);
    assert_int_equal(raw_exchange(client,
                                  "POST /v1/credentials HTTP/1.1\r\nHost: localhost\r\n"
                                  "Content-Type: application/json\r\n"
                                  "Content-Type: text/plain\r\n"
                                  "Content-Length: 2\r\n\r\n{}",
                                  &result),
                     0);
    expect_problem(&result, 400, "content_type_invalid");
    http_result_clear(&result);
    raw_close(&client);

    for (size_t i = 0; i < sizeof(rejected_types) / sizeof(rejected_types[0]); i++) {
        harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", rejected_types[i],
                     "{}", &result);
        expect_problem(&result, 415, "unsupported_media_type");
        http_result_clear(&result);
    }
    /* The body {} lacks every member, so an accepted media type reaches the handler. */
    for (size_t i = 0; i < sizeof(accepted_types) / sizeof(accepted_types[0]); i++) {
        harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", accepted_types[i],
                     "{}", &result);
        expect_problem(&result, 400, "field_missing");
        http_result_clear(&result);
    }
}

/* A POST body under a content coding other than identity gets a 415 that names the
 * coding the node reads (RFC 9110, section 15.5.16). A body under identity alone is
 * read as JSON. */
static void test_content_coding_rejected(void **state)
{
    static const struct {
        const char *coding;
        long status;
        const char *code;
    } cases[] = {
        {"gzip", 415, "content_encoding_unsupported"},
        {"identity, gzip", 415, "content_encoding_unsupported"},
        {"br", 415, "content_encoding_unsupported"},
        {"identity", 400, "field_missing"},
        {"Identity , identity", 400, "field_missing"},
    };
    raw_client *client = NULL;
    http_result result;
    char request[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(request, sizeof(request),
                 "POST /v1/credentials HTTP/1.1\r\nHost: localhost\r\n"
                 "Content-Type: application/json\r\nContent-Encoding: %s\r\n"
                 "Content-Length: 2\r\n\r\n{}",
                 cases[i].coding);
        assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_ISSUER, &client), 0);
        assert_int_equal(raw_exchange(client, request, &result), 0);
        expect_problem(&result, cases[i].status, cases[i].code);
        if (cases[i].status == 415 &&
            strstr(result.headers, "\nAccept-Encoding: identity\r") == NULL)
            fail_msg("the 415 for %s names no Accept-Encoding: %s", cases[i].coding,
                     result.headers);
        http_result_clear(&result);
        raw_close(&client);
    }
}

static void test_json_too_deep_rejected(void **state)
{
    http_result result;
    char body[256] = "{\"subject\":";

    (void)state;
    for (int i = 0; i < 12; i++)
        strcat(body, "[");
    for (int i = 0; i < 12; i++)
        strcat(body, "]");
    strcat(body, "}");
    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, body, &result);
    expect_problem(&result, 400, "json_too_deep");
    http_result_clear(&result);
}

static void test_string_too_long_names_field(void **state)
{
    http_result result;
    size_t len = 40000;
    char *body = malloc(len + 64);

    (void)state;
    strcpy(body, "{\"subject\":\"");
    memset(body + strlen(body), 'a', len);
    strcpy(body + 12 + len, "\"}");
    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, body, &result);
    expect_problem(&result, 400, "string_too_long");
    assert_string_equal(http_result_field(&result), "subject");
    http_result_clear(&result);
    free(body);
}

/* A detail or field that quotes client text is cut at a character boundary, so a long
 * name in a script outside ASCII still gets a whole problem document. */
static void test_cut_detail_keeps_document(void **state)
{
    static const char two_bytes[] = "\xc3\xa9";        /* U+00E9 */
    static const char four_bytes[] = "\xf0\x9f\x98\x80"; /* U+1F600 */
    const char *letters[] = {two_bytes, four_bytes};
    char body[4096];
    http_result result;

    (void)state;
    for (size_t shift = 0; shift < 8; shift++) {
        const char *letter = letters[shift % 2];
        size_t used = (size_t)snprintf(body, sizeof(body), "{\"%.*s", (int)(shift / 2),
                                       "aaaa");

        for (int i = 0; i < 300; i++)
            used += (size_t)snprintf(body + used, sizeof(body) - used, "%s", letter);
        snprintf(body + used, sizeof(body) - used, "\": 1}");
        harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, body, &result);
        expect_problem(&result, 400, "field_unknown");
        assert_non_null(json_string_value(json_object_get(result.json, "detail")));
        assert_non_null(json_string_value(json_object_get(result.json, "field")));
        http_result_clear(&result);
    }
}

static void test_oversized_body_rejected(void **state)
{
    http_result result;
    size_t len = 70000;
    char *body = malloc(len + 1);

    (void)state;
    memset(body, ' ', len);
    body[0] = '{';
    body[len - 1] = '}';
    body[len] = '\0';
    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, body, &result);
    expect_problem(&result, 413, "body_too_large");
    http_result_clear(&result);
    free(body);
}

static void test_missing_and_invalid_fields(void **state)
{
    http_result result;

    (void)state;
    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                 "{\"audience\":\"" RP_ENTITY_ID "\"}", &result);
    expect_problem(&result, 400, "field_missing");
    assert_string_equal(http_result_field(&result), "subject");
    http_result_clear(&result);

    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                 "{\"subject\":\"x\",\"audience\":\"" RP_ENTITY_ID "\","
                 "\"assurance_level\":\"high\",\"validity_seconds\":5,"
                 "\"attributes\":{\"given_name\":\"Mei\"}}",
                 &result);
    expect_problem(&result, 400, "field_invalid");
    assert_string_equal(http_result_field(&result), "validity_seconds");
    http_result_clear(&result);

    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                 "{\"subject\":\"x\",\"audience\":\"" RP_ENTITY_ID "\","
                 "\"assurance_level\":\"high\",\"validity_seconds\":600,"
                 "\"attributes\":{\"shoe_size\":\"44\"}}",
                 &result);
    expect_problem(&result, 422, "claims_invalid");
    assert_string_equal(http_result_field(&result), "attributes");
    http_result_clear(&result);
}

/* A subject that the verifier would read back as another NameID, or as none, is
 * rejected at issuance, and the problem names the subject. So is one of Unicode white
 * space only, such as U+3000 or U+00A0 and U+2028, which identifies no one. */
static void test_subject_verifier_cannot_read(void **state)
{
    static const char *const subjects[] = {"   ",         " SG-1",        "SG-1\\t",
                                           "SG\\u0001-1", "\\u3000",       "\\u00a0\\u2028"};
    static const char *const reasons[] = {"only white space", "white space",
                                          "white space",      "\"subject\"",
                                          "only white space", "only white space"};
    http_result result;
    char body[512];

    (void)state;
    for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
        snprintf(body, sizeof(body),
                 "{\"subject\":\"%s\",\"audience\":\"" RP_ENTITY_ID "\","
                 "\"assurance_level\":\"high\",\"validity_seconds\":600,"
                 "\"attributes\":{\"given_name\":\"Mei\"}}",
                 subjects[i]);
        harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, body, &result);
        expect_problem(&result, 422, "claims_invalid");
        assert_string_equal(http_result_field(&result), "subject");
        assert_non_null(strstr(result.body, reasons[i]));
        http_result_clear(&result);
    }
}

/* Issues a credential for subject with the attributes JSON object and expects 422
 * claims_invalid on the attributes member, with reason in its detail. */
static void expect_attributes_rejected(const char *subject, const char *attributes,
                                       const char *reason)
{
    http_result result;
    const char *detail;
    char body[512];

    snprintf(body, sizeof(body),
             "{\"subject\":\"%s\",\"audience\":\"" RP_ENTITY_ID "\","
             "\"assurance_level\":\"high\",\"validity_seconds\":600,"
             "\"attributes\":%s}",
             subject, attributes);
    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, body, &result);
    print_message("    %s -> %ld %s\n", attributes, result.status, http_result_code(&result));
    expect_problem(&result, 422, "claims_invalid");
    assert_string_equal(http_result_field(&result), "attributes");
    detail = json_string_value(json_object_get(result.json, "detail"));
    assert_non_null(detail);
    if (strstr(detail, reason) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", reason, detail);
    http_result_clear(&result);
}

/* Counts the rows of the credentials table. */
static int credential_rows(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int count = -1;

    assert_int_equal(sqlite3_open_v2(server.db_path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM credentials", -1, &stmt,
                                        NULL),
                     SQLITE_OK);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        count = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

/* Returns how many SAML assertions the HSM has signed, from GET /metrics. */
static double saml_signatures(void)
{
    return read_sample_or_zero("idsvc_hsm_operations_total{operation=\"saml_sign\"}");
}

/* A claims document and a phrase that the problem's detail must contain. */
typedef struct attribute_case {
    const char *attributes;
    const char *reason;
} attribute_case;

/* Posts each case's attributes for subject, expects 422 claims_invalid with its reason,
 * and checks that nothing was stored or signed. */
static void expect_cases_rejected(const char *subject, const attribute_case *cases,
                                  size_t count)
{
    int rows = credential_rows();
    double signatures = saml_signatures();

    for (size_t i = 0; i < count; i++)
        expect_attributes_rejected(subject, cases[i].attributes, cases[i].reason);
    assert_int_equal(credential_rows(), rows);
    assert_true(saml_signatures() == signatures);
}

/* Issues a credential for subject with the attributes object and checks that the node
 * stored one credential and made one signature. */
static void expect_attributes_issued(const char *subject, const char *attributes)
{
    int rows = credential_rows();
    double signatures = saml_signatures();
    http_result result;
    char body[1024];

    snprintf(body, sizeof(body),
             "{\"subject\":\"%s\",\"audience\":\"" RP_ENTITY_ID "\","
             "\"assurance_level\":\"high\",\"validity_seconds\":600,"
             "\"attributes\":%s}",
             subject, attributes);
    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, body, &result);
    if (result.status != 201)
        fprintf(stderr, "issuing failed: %ld %s\n", result.status, result.body);
    assert_int_equal(result.status, 201);
    http_result_clear(&result);
    assert_int_equal(credential_rows(), rows + 1);
    assert_true(saml_signatures() == signatures + 1);
}

/* A country claim must be an officially assigned ISO 3166-1 alpha-2 code in capitals,
 * because the node signs it as one. The problem names the attributes member, and its
 * detail the claim, the value's position and the rule. */
static void test_issue_country_claims_checked(void **state)
{
    static const attribute_case cases[] = {
        {"{\"nationality\":\"UK\"}", "\"nationality\" value 1 is not an officially"},
        {"{\"nationality\":[\"MY\",\"XX\"]}",
         "\"nationality\" value 2 is not an officially"},
        {"{\"residence_country\":\"EU\"}",
         "\"residence_country\" value 1 is not an officially"},
        {"{\"document_country\":\"sg\"}",
         "\"document_country\" value 1 is not an officially"},
    };

    (void)state;
    expect_cases_rejected("SG-COUNTRY-1", cases, sizeof(cases) / sizeof(cases[0]));

    /* GB is the code that ISO assigns to the United Kingdom. */
    expect_attributes_issued("SG-COUNTRY-1",
                             "{\"nationality\":[\"GB\",\"MY\"],"
                             "\"residence_country\":\"SG\",\"document_country\":\"GB\"}");
}

/* A new credential takes no claim value of white space only, and no birth or KYC date
 * after the day of issue. A document may expire in any year. */
static void test_issue_claim_values_checked(void **state)
{
    static const attribute_case cases[] = {
        {"{\"given_name\":\"  \"}", "\"given_name\" value 1 contains only white space"},
        {"{\"kyc_method\":[\"video\",\"\\t\\n\"]}",
         "\"kyc_method\" value 2 contains only white space"},
        {"{\"date_of_birth\":\"2999-01-01\"}", "\"date_of_birth\" value 1 is a date after"},
        {"{\"kyc_date\":\"2999-12-31\"}", "\"kyc_date\" value 1 is a date after"},
    };

    (void)state;
    expect_cases_rejected("SG-VALUES-1", cases, sizeof(cases) / sizeof(cases[0]));

    expect_attributes_issued("SG-VALUES-1",
                             "{\"given_name\":\" Mei \",\"date_of_birth\":\"1990-02-28\","
                             "\"document_expiry\":\"2999-01-01\"}");
}

/* Counts the audit entries of kind whose payload contains text. */
static int entries_of(const char *kind, const char *text)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int count = -1;

    assert_int_equal(sqlite3_open_v2(server.db_path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM audit_entries WHERE kind = ?1 "
                                        "AND payload LIKE '%' || ?2 || '%'",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(stmt, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, text, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        count = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

/*
 * A revocation and its credential_revoked entry commit together. When the entry cannot
 * be written, the credential stays active, so the issuer's retry revokes it and records
 * the entry. The retry used to find the credential revoked, get 409, and leave the log
 * without the entry for good.
 */
static void test_revocation_atomic(void **state)
{
    http_result issued;
    http_result result;
    char path[128];
    const char *id;

    (void)state;
    issue(&issued);
    id = json_string_value(json_object_get(issued.json, "credential_id"));
    assert_non_null(id);
    snprintf(path, sizeof(path), "/v1/credentials/%s/revocation", id);

    assert_int_equal(
        harness_sql(&server,
                    "CREATE TRIGGER test_no_revoked BEFORE INSERT ON audit_entries "
                    "WHEN NEW.kind = 'credential_revoked' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"),
        0);
    harness_curl(&server, CLIENT_ISSUER, "POST", path, NULL, "{\"reason\":\"stolen\"}",
                 &result);
    assert_int_equal(harness_sql(&server, "DROP TRIGGER test_no_revoked"), 0);
    expect_problem(&result, 503, "audit_unavailable");
    http_result_clear(&result);
    assert_int_equal(entries_of("credential_revoked", id), 0);

    snprintf(path, sizeof(path), "/v1/credentials/%s", id);
    harness_curl(&server, CLIENT_ISSUER, "GET", path, NULL, NULL, &result);
    assert_int_equal(result.status, 200);
    assert_string_equal(json_string_value(json_object_get(result.json, "status")), "active");
    http_result_clear(&result);

    snprintf(path, sizeof(path), "/v1/credentials/%s/revocation", id);
    harness_curl(&server, CLIENT_ISSUER, "POST", path, NULL, "{\"reason\":\"stolen\"}",
                 &result);
    assert_int_equal(result.status, 200);
    assert_string_equal(json_string_value(json_object_get(result.json, "status")), "revoked");
    http_result_clear(&result);
    harness_curl(&server, CLIENT_ISSUER, "POST", path, NULL, "{\"reason\":\"stolen\"}",
                 &result);
    expect_problem(&result, 409, "credential_already_revoked");
    http_result_clear(&result);
    assert_int_equal(entries_of("credential_revoked", id), 1);
    http_result_clear(&issued);
}

/* A revocation reason of white space only, such as spaces, a tab or U+3000, gets 400
 * field_invalid, and the credential stays active with no credential_revoked entry. */
static void test_revocation_reason_blank(void **state)
{
    static const char *const bodies[] = {
        "{\"reason\":\"   \"}",
        "{\"reason\":\"\\t\\n\"}",
        "{\"reason\":\"\\u3000\\u00a0\"}",
    };
    http_result issued;
    http_result result;
    char path[128];
    const char *id;

    (void)state;
    issue(&issued);
    id = json_string_value(json_object_get(issued.json, "credential_id"));
    assert_non_null(id);
    snprintf(path, sizeof(path), "/v1/credentials/%s/revocation", id);

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        harness_curl(&server, CLIENT_ISSUER, "POST", path, NULL, bodies[i], &result);
        expect_problem(&result, 400, "field_invalid");
        assert_string_equal(http_result_field(&result), "reason");
        http_result_clear(&result);
    }
    assert_int_equal(entries_of("credential_revoked", id), 0);

    snprintf(path, sizeof(path), "/v1/credentials/%s", id);
    harness_curl(&server, CLIENT_ISSUER, "GET", path, NULL, NULL, &result);
    assert_int_equal(result.status, 200);
    assert_string_equal(json_string_value(json_object_get(result.json, "status")), "active");
    http_result_clear(&result);
    http_result_clear(&issued);
}

/* An issuance stores its credential in the transaction of its credential_issued entry,
 * so a failed entry leaves no active credential that the log lacks. */
static void test_issuance_atomic(void **state)
{
    http_result result;
    int before = credential_rows();

    (void)state;
    assert_int_equal(
        harness_sql(&server,
                    "CREATE TRIGGER test_no_issued BEFORE INSERT ON audit_entries "
                    "WHEN NEW.kind = 'credential_issued' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"),
        0);
    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, issue_body,
                 &result);
    assert_int_equal(harness_sql(&server, "DROP TRIGGER test_no_issued"), 0);
    expect_problem(&result, 503, "audit_unavailable");
    http_result_clear(&result);
    assert_int_equal(credential_rows(), before);

    issue(&result);
    assert_int_equal(credential_rows(), before + 1);
    assert_int_equal(
        entries_of("credential_issued",
                   json_string_value(json_object_get(result.json, "credential_id"))),
        1);
    http_result_clear(&result);
}

/* A claim URI that differs from a catalogue claim's URI only in letter case gets 422
 * claims_invalid, because a relying party that compares URNs as RFC 8141 does would
 * read it as that claim. Nothing is stored. */
static void test_claim_uri_case_rejected(void **state)
{
    static const char *const attributes[] = {
        "{\"given_name\":\"Alice\",\"URN:OID:2.5.4.42\":\"Mallory\"}",
        "{\"Urn:Oid:2.5.4.42\":\"Mallory\"}",
        "{\"urn:idsvc:claim:KYC_DATE\":\"2020-01-01\"}",
    };
    int before = credential_rows();
    http_result result;
    char body[512];

    (void)state;
    for (size_t i = 0; i < sizeof(attributes) / sizeof(attributes[0]); i++) {
        snprintf(body, sizeof(body),
                 "{\"subject\":\"SG-URI-CASE\",\"audience\":\"" RP_ENTITY_ID "\","
                 "\"assurance_level\":\"substantial\",\"validity_seconds\":3600,"
                 "\"attributes\":%s}",
                 attributes[i]);
        harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, body, &result);
        expect_problem(&result, 422, "claims_invalid");
        assert_string_equal(http_result_field(&result), "attributes");
        assert_non_null(strstr(json_string_value(json_object_get(result.json, "detail")),
                               "differs only in letter case"));
        http_result_clear(&result);
    }
    assert_int_equal(credential_rows(), before);
}

/* A claim name outside printable ASCII gets 422 claims_invalid on attributes, before
 * anything is stored or signed. A URI is ASCII (RFC 3986), so a letter outside ASCII,
 * a bidirectional control or an invisible character can only make a look-alike, such as
 * given_name's URI with a zero-width space after it. */
static void test_claim_name_not_ascii_rejected(void **state)
{
    static const attribute_case cases[] = {
        {"{\"urn:oid:2.5.4.42\\u200b\":\"Mallory\"}", "byte 0xE2 at position 17"},
        {"{\"urn:example:\\u202egpj.exe\":\"x\"}", "byte 0xE2 at position 13"},
        {"{\"urn:example:na\xC3\xAFve\":\"x\"}", "byte 0xC3 at position 15"},
        {"{\"urn:example:a\\u00a0b\":\"x\"}", "byte 0xC2 at position 14"},
        {"{\"\\ufeffurn:oid:2.5.4.42\":\"Mallory\"}", "byte 0xEF at position 1"},
        {"{\"urn:oid:\\uff12.5.4.42\":\"Mallory\"}", "byte 0xEF at position 9"},
        {"{\"given_name\\u2060\":\"Mallory\"}", "byte 0xE2 at position 11"},
        {"{\"urn:example:a\\u007fb\":\"x\"}", "byte 0x7F at position 14"},
    };

    (void)state;
    expect_cases_rejected("SG-NAME-ASCII", cases, sizeof(cases) / sizeof(cases[0]));
}

/* An OID arc with a leading zero names another claim to a relying party that reads the
 * arcs as numbers, so urn:oid:2.5.4.042 could be read as given_name. Such a name, and
 * any other OID that breaks RFC 3061 or the X.660 root arcs, gets 422 claims_invalid on
 * attributes, and nothing is stored or signed. So do a URN that breaks RFC 8141, and
 * the other names that normalise to another URI: a URN with a "?" or "#" component, and
 * a percent-encoding that is not in its normal form. Correct OIDs, with arcs of any
 * length under arc 2, are issued. */
static void test_claim_uri_syntax_checked(void **state)
{
    static const attribute_case cases[] = {
        {"{\"given_name\":\"Alice\",\"urn:oid:2.5.4.042\":\"Mallory\"}",
         "arc 4 \"042\" with a leading zero"},
        {"{\"urn:oid:1.2.03\":\"x\"}", "arc 3 \"03\" with a leading zero"},
        {"{\"URN:OID:2.5.4.042\":\"Mallory\"}", "arc 4 \"042\" with a leading zero"},
        {"{\"urn:oid:\":\"x\"}", "an empty arc 1"},
        {"{\"urn:oid:2..5\":\"x\"}", "an empty arc 2"},
        {"{\"urn:oid:2.5.4.42.\":\"x\"}", "an empty arc 5"},
        {"{\"urn:oid:3.1\":\"x\"}", "the first arc \"3\""},
        {"{\"urn:oid:1.40\":\"x\"}", "the second arc \"40\" under arc 1"},
        {"{\"urn:oid:0.99\":\"x\"}", "the second arc \"99\" under arc 0"},
        /* 2^64 + 2: a 64-bit parser that wraps would read the arc as 2. */
        {"{\"urn:oid:18446744073709551618.5.4.42\":\"x\"}",
         "the first arc \"18446744073709551618\""},
        {"{\"urn:oid:2.5.4.42?=x\":\"Mallory\"}", "out of URN equivalence"},
        {"{\"urn:idsvc:claim:kyc_date#x\":\"2020-01-01\"}", "out of URN equivalence"},
        /* URI normalisation decodes %5F to "_", which gives kyc_date's URI. */
        {"{\"urn:idsvc:claim:kyc%5Fdate\":\"2020-01-01\"}", "has \"%5F\" at position 20"},
        {"{\"urn:example:a%2fb\":\"x\"}", "has \"%2f\" at position 14"},
        /* A decoder reads a NUL there, which ends the name at kyc_date's URI. */
        {"{\"urn:idsvc:claim:kyc_date%00\":\"2020-01-01\"}",
         "has \"%00\" at position 25, the percent-encoding of a control character"},
        {"{\"urn:oid\":\"x\"}", "is not a URN as RFC 8141 writes one"},
        {"{\"urn:example:<b>\":\"x\"}", "has \"<\" at position 13"},
    };

    (void)state;
    expect_cases_rejected("SG-NAME-OID", cases, sizeof(cases) / sizeof(cases[0]));

    expect_attributes_issued("SG-NAME-OID", "{\"urn:oid:0.0\":\"a\",\"urn:oid:1.39.0\":\"b\","
                             "\"urn:oid:2.25.329800735698586629295641978511506172918\":\"c\"}");
}

/* Two claims whose names are one URI to a relying party, because the scheme, a URN's
 * namespace identifier and the host of a URL compare without regard to case, get 422
 * claims_invalid on attributes. The signer would write both, and a relying party would
 * read two values of one claim, such as the national_id that the policy engine reads
 * from urn:idsvc:claim:national_id. Nothing is stored or signed. */
static void test_claim_names_equivalent_rejected(void **state)
{
    static const attribute_case cases[] = {
        {"{\"urn:idsvc:claim:national_id\":\"S1\","
         "\"URN:IDSVC:claim:national_id\":\"S2\"}",
         "\"URN:IDSVC:claim:national_id\" is the claim \"urn:idsvc:claim:national_id\""},
        {"{\"urn:example:a\":\"1\",\"Urn:Example:a\":\"2\"}",
         "\"Urn:Example:a\" is the claim \"urn:example:a\""},
        {"{\"https://bank.example/segment\":\"1\","
         "\"HTTPS://bank.example/segment\":\"2\"}",
         "\"HTTPS://bank.example/segment\" is the claim"},
        /* The host of a URL compares without regard to case too. */
        {"{\"https://bank.example/segment\":\"1\","
         "\"https://BANK.Example/segment\":\"2\"}",
         "\"https://BANK.Example/segment\" is the claim "
         "\"https://bank.example/segment\""},
    };

    (void)state;
    expect_cases_rejected("SG-NAME-TWICE", cases, sizeof(cases) / sizeof(cases[0]));

    /* The rest of a URN compares byte for byte (RFC 8141), and so does the path of a
     * URL (RFC 3986), so these are four claims. */
    expect_attributes_issued("SG-NAME-TWICE", "{\"urn:example:a\":\"1\",\"urn:example:A\":\"2\","
                             "\"https://bank.example/p\":\"3\",\"https://bank.example/P\":\"4\"}");
}

/* A multi-valued claim takes each value once. A verifier reads a value without the XML
 * white space at its ends, so " video\n" repeats "video". The problem names the claim
 * and both positions, and nothing is stored or signed. Values that differ in letter
 * case are different values: the node does not fold case. */
static void test_claim_values_repeated_rejected(void **state)
{
    static const attribute_case cases[] = {
        {"{\"kyc_method\":[\"video\",\"video\"]}",
         "claim \"kyc_method\" value 2 repeats value 1"},
        {"{\"nationality\":[\"SG\",\"MY\",\"SG\"]}",
         "claim \"nationality\" value 3 repeats value 1"},
        {"{\"kyc_method\":[\"nfc_chip\",\"video\",\" video\\n\"]}",
         "claim \"kyc_method\" value 3 repeats value 2"},
        {"{\"kyc_method\":[\"video\\t\",\"\\r\\nvideo\"]}",
         "claim \"kyc_method\" value 2 repeats value 1"},
        {"{\"https://bank.example/claims/segment\":[\"a\",\"b\",\"a\"]}",
         "claim \"https://bank.example/claims/segment\" value 3 repeats value 1"},
        {"{\"urn:idsvc:claim:kyc_method\":[\"video\",\"video\"]}",
         "claim \"kyc_method\" value 2 repeats value 1"},
    };
    int rows = credential_rows();
    double signatures = saml_signatures();
    http_result result;

    (void)state;
    expect_cases_rejected("SG-VALUES-TWICE", cases, sizeof(cases) / sizeof(cases[0]));

    /* Values that the node would keep in its store are checked alike. */
    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                 "{\"subject\":\"SG-VALUES-TWICE\",\"audience\":\"" RP_ENTITY_ID "\","
                 "\"assurance_level\":\"high\",\"validity_seconds\":600,"
                 "\"claims_in_assertion\":false,"
                 "\"attributes\":{\"kyc_method\":[\"video\",\"video \"]}}",
                 &result);
    expect_problem(&result, 422, "claims_invalid");
    assert_string_equal(http_result_field(&result), "attributes");
    assert_non_null(strstr(json_string_value(json_object_get(result.json, "detail")),
                           "claim \"kyc_method\" value 2 repeats value 1"));
    http_result_clear(&result);
    assert_int_equal(credential_rows(), rows);
    assert_true(saml_signatures() == signatures);

    expect_attributes_issued("SG-VALUES-TWICE", "{\"kyc_method\":[\"video\",\"Video\",\"video call\"],"
                             "\"nationality\":[\"SG\",\"MY\"]}");
}

/* Builds an issuance body whose claim values are each within their limits. XML escapes
 * their "&" characters to "&amp;", five bytes each, so the assertion is larger than the
 * JSON string that POST /v1/verifications accepts (128 KiB by default). */
static char *issue_body_escaping_large(bool claims_in_assertion)
{
    static const char *const single_valued[] = {
        "given_name", "family_name",     "full_name", "place_of_birth", "residential_address",
        "kyc_level",  "document_number", "document_type",
    };
    char value[1025];
    json_t *attributes = json_object();
    json_t *methods = json_array();
    json_t *body;
    char *text;

    memset(value, '&', 1024);
    value[1024] = '\0';
    for (size_t i = 0; i < sizeof(single_valued) / sizeof(single_valued[0]); i++)
        json_object_set_new(attributes, single_valued[i], json_string(value));
    /* kyc_method takes up to 16 values. */
    for (int i = 0; i < 16; i++) {
        snprintf(value + 1022, 3, "%02d", i);
        json_array_append_new(methods, json_string(value));
    }
    json_object_set_new(attributes, "kyc_method", methods);
    body = json_pack("{s:s, s:s, s:s, s:i, s:b, s:o}", "subject", "SG-ESCAPED-1", "audience",
                     RP_ENTITY_ID, "assurance_level", "high", "validity_seconds", 600,
                     "claims_in_assertion", claims_in_assertion, "attributes", attributes);
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    assert_non_null(text);
    return text;
}

/* The node issues no credential whose assertion it could not verify afterwards: one
 * longer than [limits] max_string_bytes gets 422 before anything is stored, and before
 * the HSM signs it. The same values held at the node leave the assertion small, and it
 * verifies. */
static void test_issue_assertion_too_large_rejected(void **state)
{
    const char *signatures = "idsvc_hsm_operations_total{operation=\"saml_sign\"}";
    http_result result;
    const char *detail;
    const char *assertion;
    char *body = issue_body_escaping_large(true);
    char *verification;
    double signed_before;

    (void)state;
    signed_before = read_sample_or_zero(signatures);
    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, body, &result);
    expect_problem(&result, 422, "claims_invalid");
    assert_string_equal(http_result_field(&result), "attributes");
    detail = json_string_value(json_object_get(result.json, "detail"));
    assert_non_null(detail);
    if (strstr(detail, "max_string_bytes") == NULL ||
        strstr(detail, "assertion without its signature would be") == NULL)
        fail_msg("the detail does not name the unsigned size and [limits] "
                 "max_string_bytes: %s",
                 detail);
    http_result_clear(&result);
    if (read_sample_or_zero(signatures) != signed_before)
        fail_msg("the HSM signed an assertion that the node then refused as too long");
    free(body);

    body = issue_body_escaping_large(false);
    harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, body, &result);
    if (result.status != 201)
        fprintf(stderr, "issuing with held claims failed: %ld %s\n", result.status,
                result.body);
    assert_int_equal(result.status, 201);
    assertion = json_string_value(json_object_get(result.json, "assertion"));
    assert_non_null(assertion);
    verification = verification_body(assertion, "[\"given_name\"]");
    http_result_clear(&result);
    free(body);

    harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, verification, &result);
    if (result.status != 200)
        fprintf(stderr, "verifying failed: %ld %s\n", result.status, result.body);
    assert_int_equal(result.status, 200);
    assert_int_equal(json_string_length(json_object_get(
                         json_object_get(result.json, "claims"), "given_name")),
                     1024);
    http_result_clear(&result);
    free(verification);
}

static void test_issue_verify_revoke(void **state)
{
    http_result issued;
    http_result result;
    char path[128];
    char *body;
    const char *id;

    (void)state;
    issue(&issued);
    id = json_string_value(json_object_get(issued.json, "credential_id"));
    assert_non_null(id);
    assert_non_null(json_string_value(json_object_get(issued.json, "enrollment_code")));

    body = verification_body(json_string_value(json_object_get(issued.json, "assertion")),
                             "[\"given_name\",\"nationality\",\"date_of_birth\",\"email\"]");
    harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body, &result);
    assert_int_equal(result.status, 200);
    assert_string_equal(json_string_value(json_object_get(result.json, "decision")),
                        "accepted");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(result.json, "claims"), "given_name")),
        "Mei");
    assert_non_null(json_object_get(json_object_get(result.json, "claims"), "nationality"));
    assert_null(json_object_get(json_object_get(result.json, "claims"), "date_of_birth"));
    assert_int_equal(json_array_size(json_object_get(result.json, "withheld")), 2);
    assert_non_null(strstr(json_string_value(json_object_get(result.json, "attestation")),
                           "<saml:Audience>" RP_ENTITY_ID "</saml:Audience>"));
    http_result_clear(&result);

    snprintf(path, sizeof(path), "/v1/credentials/%s/revocation", id);
    harness_curl(&server, CLIENT_ISSUER, "POST", path, NULL, "{\"reason\":\"document lost\"}",
                 &result);
    assert_int_equal(result.status, 200);
    assert_string_equal(json_string_value(json_object_get(result.json, "status")), "revoked");
    http_result_clear(&result);

    harness_curl(&server, CLIENT_ISSUER, "POST", path, NULL, "{\"reason\":\"again\"}", &result);
    expect_problem(&result, 409, "credential_already_revoked");
    http_result_clear(&result);

    harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body, &result);
    expect_problem(&result, 422, "credential_revoked");
    assert_string_equal(http_result_field(&result), "assertion");
    http_result_clear(&result);

    free(body);
    http_result_clear(&issued);
}

/* Without the policy engine, a requested claim named twice gets 400 field_invalid on
 * the repeat, as it does with the engine, instead of being folded into one. A name
 * outside the catalogue, such as given_name's URI or a look-alike with an invisible
 * character, gets 400 claim_unknown. Both come before the assertion is verified, so it
 * stays unused and verifies afterwards. */
static void test_verification_claim_names_checked(void **state)
{
    static const struct {
        const char *claims;
        const char *code;
        const char *field;
    } cases[] = {
        {"[\"given_name\",\"given_name\"]", "field_invalid", "claims[1]"},
        {"[\"given_name\",\"nationality\",\"given_name\"]", "field_invalid", "claims[2]"},
        {"[\"given_name\\u200b\"]", "claim_unknown", "claims[0]"},
        {"[\"given_name\",\"urn:oid:2.5.4.42\"]", "claim_unknown", "claims[1]"},
        {"[\"urn:oid:2.5.4.042\"]", "claim_unknown", "claims[0]"},
        {"[\"GIVEN_NAME\"]", "claim_unknown", "claims[0]"},
    };
    http_result issued;
    http_result result;
    const char *assertion;
    char *body;

    (void)state;
    issue(&issued);
    assertion = json_string_value(json_object_get(issued.json, "assertion"));
    assert_non_null(assertion);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        body = verification_body(assertion, cases[i].claims);
        harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body,
                     &result);
        print_message("    %s -> %ld %s\n", cases[i].claims, result.status,
                      http_result_code(&result));
        expect_problem(&result, 400, cases[i].code);
        assert_string_equal(http_result_field(&result), cases[i].field);
        http_result_clear(&result);
        free(body);
    }

    body = verification_body(assertion, "[\"given_name\"]");
    harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body, &result);
    assert_int_equal(result.status, 200);
    http_result_clear(&result);
    free(body);
    http_result_clear(&issued);
}

/* How utf16_base64 writes a text: its byte order, and what comes before and after. */
typedef struct utf16_form {
    bool big_endian;
    bool no_mark;           /* leave out the byte order mark */
    const char *prefix;     /* ASCII text before the assertion, or NULL */
    unsigned tail[12];      /* code units after the text; 0 ends the list */
} utf16_form;

static void put_unit(unsigned char *out, size_t *used, unsigned unit, bool big_endian)
{
    out[(*used)++] = (unsigned char)(big_endian ? unit >> 8 : unit & 0xff);
    out[(*used)++] = (unsigned char)(big_endian ? unit & 0xff : unit >> 8);
}

/* Converts the prefix and len bytes of ASCII text to UTF-16 in the given form, then to
 * base64. */
static char *utf16_base64(const char *ascii, size_t len, const utf16_form *form)
{
    size_t prefix_len = form->prefix != NULL ? strlen(form->prefix) : 0;
    size_t max = 2 * (prefix_len + len + 1 + 12);
    unsigned char *utf16 = malloc(max);
    char *encoded = malloc(4 * ((max + 2) / 3) + 1);
    size_t used = 0;

    assert_non_null(utf16);
    assert_non_null(encoded);
    if (!form->no_mark)
        put_unit(utf16, &used, 0xfeff, form->big_endian);
    for (size_t i = 0; i < prefix_len; i++)
        put_unit(utf16, &used, (unsigned char)form->prefix[i], form->big_endian);
    for (size_t i = 0; i < len; i++) {
        assert_true((unsigned char)ascii[i] < 0x80);
        put_unit(utf16, &used, (unsigned char)ascii[i], form->big_endian);
    }
    for (size_t i = 0; i < 12 && form->tail[i] != 0; i++)
        put_unit(utf16, &used, form->tail[i], form->big_endian);
    EVP_EncodeBlock((unsigned char *)encoded, utf16, (int)used);
    free(utf16);
    return encoded;
}

/* Issues a credential, sends its assertion in the UTF-16 form, and leaves the
 * verification's response in result. */
static void verify_utf16(const utf16_form *form, http_result *result)
{
    http_result issued;
    const char *text;
    char *encoded;
    char *body;

    issue(&issued);
    text = json_string_value(json_object_get(issued.json, "assertion"));
    encoded = utf16_base64(text, strlen(text), form);
    body = verification_body(encoded, "[\"given_name\"]");
    harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body, result);
    free(body);
    free(encoded);
    http_result_clear(&issued);
}

/* UTF-16 that libxml2 would read only in part is rejected: an unpaired surrogate stops
 * its conversion, and without a byte order mark it reads UTF-16 only after "<?". */
static void test_utf16_partial_text_rejected(void **state)
{
    static const struct {
        utf16_form form;
        const char *detail;
    } rejected[] = {
        {{.tail = {0xd800, '<', 'x', '>'}}, "an unpaired surrogate"},
        {{.big_endian = true, .tail = {0xd800}}, "an unpaired surrogate"},
        {{.tail = {0xdc00}}, "an unpaired surrogate"},
        {{.no_mark = true}, "UTF-16 without a byte order mark or an XML declaration"},
    };
    static const utf16_form declared = {
        .no_mark = true,
        .prefix = "<?xml version=\"1.0\"?>",
        .tail = {'<', '!', '-', '-', 0xd83d, 0xde00, '-', '-', '>'}, /* U+1F600 */
    };
    http_result result;

    (void)state;
    for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
        verify_utf16(&rejected[i].form, &result);
        expect_problem(&result, 400, "assertion_encoding_invalid");
        assert_non_null(strstr(json_string_value(json_object_get(result.json, "detail")),
                               rejected[i].detail));
        http_result_clear(&result);
    }
    /* With a declaration, UTF-16 without a mark is read, a whole surrogate pair too. */
    verify_utf16(&declared, &result);
    if (result.status != 200)
        fprintf(stderr, "declared UTF-16: %ld %s\n", result.status, result.body);
    assert_int_equal(result.status, 200);
    http_result_clear(&result);
}

/* An assertion sent as base64 of UTF-16 verifies like its UTF-8 form, and a UTF-16 text
 * with a NUL character is rejected as one. */
static void test_utf16_assertion_accepted(void **state)
{
    http_result issued;
    http_result result;
    const char *text;
    char *encoded;
    char *body;
    char *nul;
    size_t full;

    (void)state;
    for (int big_endian = 0; big_endian <= 1; big_endian++) {
        utf16_form form = {.big_endian = big_endian == 1};

        issue(&issued);
        text = json_string_value(json_object_get(issued.json, "assertion"));
        encoded = utf16_base64(text, strlen(text), &form);
        body = verification_body(encoded, "[\"given_name\"]");
        harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body, &result);
        if (result.status != 200)
            fprintf(stderr, "UTF-16 %s: %ld %s\n", big_endian ? "BE" : "LE", result.status,
                    result.body);
        assert_int_equal(result.status, 200);
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(result.json, "claims"), "given_name")),
                            "Mei");
        http_result_clear(&result);
        free(body);
        free(encoded);
        http_result_clear(&issued);
    }

    issue(&issued);
    nul = strdup(json_string_value(json_object_get(issued.json, "assertion")));
    assert_non_null(nul);
    full = strlen(nul);
    text = strstr(nul, ">Mei<");
    assert_non_null(text);
    nul[text - nul + 2] = '\0'; /* "M", U+0000, "i" */
    encoded = utf16_base64(nul, full, &(utf16_form){.big_endian = false});
    body = verification_body(encoded, "[\"given_name\"]");
    harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body, &result);
    expect_problem(&result, 400, "assertion_encoding_invalid");
    assert_non_null(strstr(json_string_value(json_object_get(result.json, "detail")),
                           "NUL character"));
    http_result_clear(&result);
    free(body);
    free(encoded);
    free(nul);
    http_result_clear(&issued);
}

/* Reads how long the replay cache keeps an assertion ID, in seconds since 1970. */
static long long replay_kept_until(const char *assertion_id)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    long long until = -1;

    assert_int_equal(sqlite3_open_v2(server.db_path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT not_on_or_after FROM replay_cache "
                                        "WHERE assertion_id = ?1",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(stmt, 1, assertion_id, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        until = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return until;
}

static void test_replay_rejected(void **state)
{
    http_result issued;
    http_result result;
    struct tm tm = {0};
    char *body;

    (void)state;
    issue(&issued);
    body = verification_body(json_string_value(json_object_get(issued.json, "assertion")),
                             "[\"given_name\"]");
    harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body, &result);
    assert_int_equal(result.status, 200);
    http_result_clear(&result);

    /* The ID is kept past NotOnOrAfter by the largest clock skew a reload can set, 600
     * seconds, so raising the skew cannot accept the assertion again. */
    assert_int_equal(sscanf(json_string_value(json_object_get(issued.json,
                                                              "not_on_or_after")),
                            "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon,
                            &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec),
                     6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    assert_int_equal(replay_kept_until(json_string_value(json_object_get(issued.json,
                                                                         "assertion_id"))),
                     (long long)timegm(&tm) + 600);

    harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body, &result);
    expect_problem(&result, 422, "replayed");
    http_result_clear(&result);
    free(body);
    http_result_clear(&issued);
}

static void test_tampered_assertion_rejected(void **state)
{
    http_result issued;
    http_result result;
    char *assertion;
    char *body;
    char *name;

    (void)state;
    issue(&issued);
    assertion = strdup(json_string_value(json_object_get(issued.json, "assertion")));
    name = strstr(assertion, ">Mei<");
    assert_non_null(name);
    name[1] = 'L';
    body = verification_body(assertion, "[\"given_name\"]");
    harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body, &result);
    expect_problem(&result, 422, "digest_mismatch");
    http_result_clear(&result);
    free(body);
    free(assertion);
    http_result_clear(&issued);
}

static void test_other_issuer_sees_not_found(void **state)
{
    http_result issued;
    http_result result;
    char path[128];

    (void)state;
    issue(&issued);
    snprintf(path, sizeof(path), "/v1/credentials/%s",
             json_string_value(json_object_get(issued.json, "credential_id")));

    harness_curl(&server, CLIENT_ISSUER, "GET", path, NULL, NULL, &result);
    assert_int_equal(result.status, 200);
    assert_string_equal(json_string_value(json_object_get(result.json, "status")), "active");
    http_result_clear(&result);

    harness_curl(&server, CLIENT_ISSUER_TWO, "GET", path, NULL, NULL, &result);
    expect_problem(&result, 404, "credential_not_found");
    http_result_clear(&result);
    http_result_clear(&issued);
}

static void test_old_tls_versions_rejected(void **state)
{
    static const char *const old[] = {"NORMAL:-VERS-ALL:+VERS-TLS1.0",
                                      "NORMAL:-VERS-ALL:+VERS-TLS1.1"};
    raw_client *client = NULL;

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        int rc = raw_connect(&server, old[i], CLIENT_ISSUER, &client);

        assert_true(rc < 0);
        raw_close(&client);
    }
}

/* TLS 1.2 suites with CBC and SHA-1, or without forward secrecy, are refused. */
static void test_weak_tls12_suites_rejected(void **state)
{
    static const char *const weak[] = {
        "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC:-MAC-ALL:+SHA1",
        "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA",
    };
    raw_client *client = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
        int rc = raw_connect(&server, weak[i], CLIENT_ISSUER, &client);

        assert_true(rc < 0);
        raw_close(&client);
    }
}

static void test_tls12_and_tls13_accepted(void **state)
{
    raw_client *client = NULL;

    (void)state;
    assert_int_equal(raw_connect(&server, "NORMAL:-VERS-ALL:+VERS-TLS1.2", CLIENT_ISSUER,
                                 &client),
                     0);
    assert_string_equal(raw_protocol(client), "TLS1.2");
    raw_close(&client);

    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_ISSUER, &client), 0);
    assert_string_equal(raw_protocol(client), "TLS1.3");
    raw_close(&client);
}

static void test_keep_alive_holds(void **state)
{
    raw_client *client = NULL;
    http_result result;

    (void)state;
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_RP, &client), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(raw_request(client, "GET", "/v1/issuers", NULL, &result), 0);
        assert_int_equal(result.status, 200);
        assert_null(strstr(result.headers, "Connection: close"));
        http_result_clear(&result);
    }
    raw_close(&client);
}

#define RACE_CONNECTIONS 8

typedef struct presenter {
    pthread_t thread;
    pthread_barrier_t *start;
    raw_client *client;
    const char *body;
    int request_rc; /* raw_request's return */
    long status;
    char code[64];
    char field[64];
    char assertion_id[128]; /* from a 200 response */
} presenter;

static void *present_once(void *arg)
{
    presenter *p = arg;
    http_result result;

    pthread_barrier_wait(p->start);
    p->request_rc = raw_request(p->client, "POST", "/v1/verifications", p->body, &result);
    if (p->request_rc != 0)
        return NULL;
    p->status = result.status;
    snprintf(p->code, sizeof(p->code), "%s", http_result_code(&result));
    snprintf(p->field, sizeof(p->field), "%s", http_result_field(&result));
    snprintf(p->assertion_id, sizeof(p->assertion_id), "%s",
             json_string_value(json_object_get(result.json, "assertion_id")) != NULL
                 ? json_string_value(json_object_get(result.json, "assertion_id"))
                 : "");
    http_result_clear(&result);
    return NULL;
}

/* Counts the verification_decided entries in the database that reject for reason. */
static int rejections_recorded(const char *reason)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    char pattern[96];
    int count = -1;

    snprintf(pattern, sizeof(pattern), "%%\"decision\":\"rejected\",%%\"reason\":\"%s\"%%",
             reason);
    assert_int_equal(sqlite3_open_v2(server.db_path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM audit_entries WHERE kind = "
                                        "'verification_decided' AND payload LIKE ?1",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(stmt, 1, pattern, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        count = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

/* One assertion posted at the same moment on eight mutual-TLS connections: the replay
 * cache row written with the audit entry lets exactly one of them through. */
static void test_parallel_replay_one_accepted(void **state)
{
    presenter presenters[RACE_CONNECTIONS];
    pthread_barrier_t start;
    http_result issued;
    http_result result;
    const char *assertion_id;
    unsigned accepted = 0;
    unsigned replayed = 0;
    int replays_before;
    char *body;

    (void)state;
    replays_before = rejections_recorded("replayed");
    issue(&issued);
    assertion_id = json_string_value(json_object_get(issued.json, "assertion_id"));
    assert_non_null(assertion_id);
    body = verification_body(json_string_value(json_object_get(issued.json, "assertion")),
                             "[\"given_name\"]");

    /* Every handshake is done before the barrier, so the requests arrive together. */
    memset(presenters, 0, sizeof(presenters));
    assert_int_equal(pthread_barrier_init(&start, NULL, RACE_CONNECTIONS), 0);
    for (int i = 0; i < RACE_CONNECTIONS; i++) {
        presenters[i].start = &start;
        presenters[i].body = body;
        assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_RP, &presenters[i].client), 0);
    }
    for (int i = 0; i < RACE_CONNECTIONS; i++)
        assert_int_equal(
            pthread_create(&presenters[i].thread, NULL, present_once, &presenters[i]), 0);
    for (int i = 0; i < RACE_CONNECTIONS; i++) {
        pthread_join(presenters[i].thread, NULL);
        raw_close(&presenters[i].client);
    }
    pthread_barrier_destroy(&start);

    for (int i = 0; i < RACE_CONNECTIONS; i++) {
        presenter *p = &presenters[i];

        if (p->request_rc != 0)
            fail_msg("connection %d got no response", i);
        if (p->status == 200) {
            accepted++;
            assert_string_equal(p->assertion_id, assertion_id);
            continue;
        }
        if (p->status != 422 || strcmp(p->code, "replayed") != 0)
            fail_msg("connection %d: expected 200 or 422 replayed, got %ld %s", i, p->status,
                     p->code);
        assert_string_equal(p->field, "assertion");
        replayed++;
    }
    assert_int_equal(accepted, 1);
    assert_int_equal(replayed, RACE_CONNECTIONS - 1);

    /* The ID stays recorded: a later presentation is a replay as well. */
    harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body, &result);
    expect_problem(&result, 422, "replayed");
    http_result_clear(&result);
    /* Each rejection went out only after its audit entry was committed. */
    assert_int_equal(rejections_recorded("replayed") - replays_before, RACE_CONNECTIONS);

    free(body);
    http_result_clear(&issued);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_without_certificate),
        cmocka_unit_test(test_metadata_is_public),
        cmocka_unit_test(test_api_needs_client_certificate),
        cmocka_unit_test(test_untrusted_ca_fails_handshake),
        cmocka_unit_test(test_unmapped_certificate_forbidden),
        cmocka_unit_test(test_wrong_role_forbidden),
        cmocka_unit_test(test_issuers_for_any_role),
        cmocka_unit_test(test_route_and_method_errors),
        cmocka_unit_test(test_bad_json_rejected),
        cmocka_unit_test(test_path_and_media_type_checked),
        cmocka_unit_test(test_content_coding_rejected),
        cmocka_unit_test(test_json_too_deep_rejected),
        cmocka_unit_test(test_string_too_long_names_field),
        cmocka_unit_test(test_cut_detail_keeps_document),
        cmocka_unit_test(test_utf16_assertion_accepted),
        cmocka_unit_test(test_utf16_partial_text_rejected),
        cmocka_unit_test(test_oversized_body_rejected),
        cmocka_unit_test(test_missing_and_invalid_fields),
        cmocka_unit_test(test_subject_verifier_cannot_read),
        cmocka_unit_test(test_issue_country_claims_checked),
        cmocka_unit_test(test_issue_claim_values_checked),
        cmocka_unit_test(test_claim_name_not_ascii_rejected),
        cmocka_unit_test(test_claim_uri_syntax_checked),
        cmocka_unit_test(test_claim_names_equivalent_rejected),
        cmocka_unit_test(test_claim_values_repeated_rejected),
        cmocka_unit_test(test_issue_assertion_too_large_rejected),
        cmocka_unit_test(test_issue_verify_revoke),
        cmocka_unit_test(test_verification_claim_names_checked),
        cmocka_unit_test(test_replay_rejected),
        cmocka_unit_test(test_parallel_replay_one_accepted),
        cmocka_unit_test(test_revocation_atomic),
        cmocka_unit_test(test_revocation_reason_blank),
        cmocka_unit_test(test_claim_uri_case_rejected),
        cmocka_unit_test(test_issuance_atomic),
        cmocka_unit_test(test_tampered_assertion_rejected),
        cmocka_unit_test(test_other_issuer_sees_not_found),
        cmocka_unit_test(test_old_tls_versions_rejected),
        cmocka_unit_test(test_weak_tls12_suites_rejected),
        cmocka_unit_test(test_tls12_and_tls13_accepted),
        cmocka_unit_test(test_keep_alive_holds),
        cmocka_unit_test(test_fingerprint_mapping_and_metrics),
        cmocka_unit_test(test_operation_cpu_metrics),
        cmocka_unit_test(test_method_error_names_route),
    };

    return cmocka_run_group_tests(tests, start_server, stop_server);
}
