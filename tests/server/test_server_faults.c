/*
 * Failures below the daemon while it runs. The daemon loads the PKCS#11 wrapper module,
 * whose faults the file P11_WRAP_CONTROL sets. The test lowers the daemon's RLIMIT_FSIZE
 * with prlimit while SIGXFSZ is ignored, so that every write to a file fails as on a full
 * disk. Each failure must return 503 with Retry-After and a stable code, store nothing
 * of the failed request, and pass once the part is back, without a restart.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "server_harness.h"

static harness server;
static char control_path[PATH_MAX + 32];
static char origin_header[128];

static const char issue_body[] =
    "{\"subject\":\"SG-FAULT-1\",\"audience\":\"" RP_ENTITY_ID "\","
    "\"assurance_level\":\"substantial\",\"validity_seconds\":3600,"
    "\"attributes\":{\"given_name\":\"Wei Ling\",\"family_name\":\"Chen\"}}";

/* Writes the wrapper module's fault lines; "" passes every call through again. */
static void set_faults(const char *text)
{
    FILE *file = fopen(control_path, "w");

    assert_non_null(file);
    fputs(text, file);
    assert_int_equal(fclose(file), 0);
}

/* Sets the daemon's maximum file size in bytes, or RLIM_INFINITY. */
static void set_daemon_file_limit(rlim_t bytes)
{
    struct rlimit limit = {bytes, RLIM_INFINITY};

    assert_int_equal(prlimit(server.pid, RLIMIT_FSIZE, &limit, NULL), 0);
}

static int start_server(void **state)
{
    char pages[256];

    (void)state;
    /* An ignored SIGXFSZ stays ignored across exec, so the daemon's writes past its file
     * size limit fail with EFBIG instead of killing it. */
    signal(SIGXFSZ, SIG_IGN);
    if (harness_setup(&server) != 0)
        return -1;
    snprintf(control_path, sizeof(control_path), "%s/p11-faults", server.token.dir);
    setenv("P11_WRAP_CONTROL", control_path, 1);
    snprintf(origin_header, sizeof(origin_header), "Origin: https://localhost:%u",
             server.port);
    snprintf(pages, sizeof(pages),
             "\n[webauthn]\nrp_id = localhost\norigin = https://localhost:%u\n",
             server.port);
    if (harness_run("sed -i 's#^module = .*#module = %s#' %s", P11_TEST_WRAP_MODULE,
                    server.config_path) != 0 ||
        harness_append_config(&server, pages) != 0 || harness_start(&server) != 0) {
        harness_teardown(&server);
        return -1;
    }
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    set_faults("");
    return harness_finish(&server);
}

/* Puts the HSM and the disk back after each test, also after a failed one. */
static int restore_parts(void **state)
{
    struct rlimit limit = {RLIM_INFINITY, RLIM_INFINITY};

    (void)state;
    set_faults("");
    return prlimit(server.pid, RLIMIT_FSIZE, &limit, NULL);
}

static long count_rows(const char *table)
{
    char sql[128];
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    long count = -1;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    if (sqlite3_open_v2(server.db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        count = (long)sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

/* Checks a 503 problem with its code and the configured Retry-After of 7 seconds. */
static void expect_unavailable(const http_result *r, const char *code)
{
    if (r->status != 503 || strcmp(http_result_code(r), code) != 0)
        fprintf(stderr, "expected 503 %s, got %ld: %s\n", code, r->status,
                r->body != NULL ? r->body : "(no body)");
    assert_int_equal(r->status, 503);
    assert_string_equal(http_result_code(r), code);
    assert_non_null(r->headers);
    assert_non_null(strcasestr(r->headers, "\nRetry-After: 7\r"));
    assert_non_null(strcasestr(r->headers, "Content-Type: application/problem+json"));
}

static void issue(http_result *r)
{
    assert_int_equal(harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                                  issue_body, r),
                     0);
}

static void signin_options(http_result *r)
{
    const char *headers[] = {"Content-Type: application/json", origin_header, NULL};

    assert_int_equal(harness_curl_headers(&server, NULL, "POST", "/account/signin/options",
                                          headers, "{}", r),
                     0);
}

static void checkpoint(http_result *r)
{
    assert_int_equal(
        harness_curl(&server, CLIENT_REGULATOR, "GET", "/v1/audit/checkpoint", NULL, NULL, r),
        0);
}

/* A full disk is a database failure, not a fault of the node: every route that writes
 * returns 503 with Retry-After, and works again once writes succeed. */
static void test_full_disk_answers_503(void **state)
{
    long credentials;
    long challenges;
    http_result r;

    (void)state;
    issue(&r);
    assert_int_equal(r.status, 201);
    http_result_clear(&r);
    credentials = count_rows("credentials");
    challenges = count_rows("webauthn_challenges");

    set_daemon_file_limit(1);
    issue(&r);
    expect_unavailable(&r, "audit_unavailable");
    http_result_clear(&r);
    signin_options(&r);
    expect_unavailable(&r, "store_unavailable");
    http_result_clear(&r);
    checkpoint(&r);
    expect_unavailable(&r, "store_unavailable");
    http_result_clear(&r);
    assert_int_equal(count_rows("credentials"), credentials);
    assert_int_equal(count_rows("webauthn_challenges"), challenges);

    set_daemon_file_limit(RLIM_INFINITY);
    issue(&r);
    assert_int_equal(r.status, 201);
    http_result_clear(&r);
    signin_options(&r);
    assert_int_equal(r.status, 200);
    http_result_clear(&r);
    checkpoint(&r);
    assert_int_equal(r.status, 200);
    http_result_clear(&r);
}

/* Each error that a failing HSM returns from C_SignInit of the SAML key gives 503
 * hsm_unavailable, and no credential is stored. The TLS key, of another type, still signs
 * the handshakes. */
static void test_saml_key_failure_answers_503(void **state)
{
    static const char *const faults[] = {
        "C_SignInit.rsa 0x30\n", /* CKR_DEVICE_ERROR */
        "C_SignInit.rsa 0x32\n", /* CKR_DEVICE_REMOVED */
        "C_SignInit.rsa 0xB3\n", /* CKR_SESSION_HANDLE_INVALID */
        "C_SignInit.rsa 0xE0\n", /* CKR_TOKEN_NOT_PRESENT */
    };
    long credentials = count_rows("credentials");
    http_result r;

    (void)state;
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        set_faults(faults[i]);
        issue(&r);
        expect_unavailable(&r, "hsm_unavailable");
        http_result_clear(&r);
        assert_int_equal(count_rows("credentials"), credentials);
    }
    set_faults("");
    issue(&r);
    assert_int_equal(r.status, 201);
    http_result_clear(&r);
}

/* An assertion whose verification met a failing HSM stays usable: the retry succeeds. */
static void test_verification_retry_after_hsm_failure(void **state)
{
    json_t *request;
    char *body;
    http_result r;

    (void)state;
    issue(&r);
    assert_int_equal(r.status, 201);
    request = json_pack("{s:O, s:[s], s:s}", "assertion", json_object_get(r.json, "assertion"),
                        "claims", "given_name", "purpose", "account opening");
    body = json_dumps(request, JSON_COMPACT);
    http_result_clear(&r);

    set_faults("C_SignInit.rsa 0x30\n");
    assert_int_equal(
        harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body, &r), 0);
    expect_unavailable(&r, "hsm_unavailable");
    http_result_clear(&r);

    set_faults("");
    assert_int_equal(
        harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body, &r), 0);
    assert_int_equal(r.status, 200);
    http_result_clear(&r);
    free(body);
    json_decref(request);
}

/* A checkpoint that the HSM cannot sign gives 503 and a log line with the HSM's reason,
 * and the next call signs it. */
static void test_checkpoint_hsm_failure_answers_503(void **state)
{
    http_result r;
    char *log;
    char *line;

    (void)state;
    issue(&r);
    assert_int_equal(r.status, 201);
    http_result_clear(&r);

    set_faults("C_SignInit.rsa 0x30\n");
    checkpoint(&r);
    expect_unavailable(&r, "hsm_unavailable");
    http_result_clear(&r);
    log = harness_wait_for_log(&server, "\"event\":\"audit_checkpoint_sign_failed\"");
    assert_non_null(log);
    line = strstr(log, "\"event\":\"audit_checkpoint_sign_failed\"");
    assert_non_null(line);
    line[strcspn(line, "\n")] = '\0';
    assert_non_null(strstr(line, "C_SignInit returned CKR_DEVICE_ERROR"));
    free(log);

    set_faults("");
    checkpoint(&r);
    assert_int_equal(r.status, 200);
    http_result_clear(&r);
}

/* While the TLS key cannot sign, handshakes fail, and the log line names the TLS key as
 * the reason. They succeed again once it can sign, and after the token lost every
 * session, without a restart. */
static void test_tls_key_failure_recovers(void **state)
{
    http_result r;
    char *log;
    char *line;

    (void)state;
    set_faults("C_Sign 0x30\n");
    assert_int_equal(harness_curl(&server, NULL, "GET", "/healthz", NULL, NULL, &r), 0);
    assert_int_equal(r.status, 0);
    http_result_clear(&r);
    log = harness_wait_for_log(&server, "the node's TLS key did not sign");
    assert_non_null(log);
    line = strstr(log, "the node's TLS key did not sign");
    assert_non_null(line);
    line[strcspn(line, "\n")] = '\0';
    assert_non_null(strstr(line, "HSM"));
    free(log);

    set_faults("close_sessions 1\n");
    for (int i = 0; i < 4; i++) {
        assert_int_equal(harness_curl(&server, NULL, "GET", "/healthz", NULL, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_clear(&r);
    }
    issue(&r);
    assert_int_equal(r.status, 201);
    http_result_clear(&r);
}

/* A token that comes back with its objects numbered anew: the old handle of the SAML key
 * now names the TLS key. The node must search its key again after the device was lost,
 * sign with the SAML key, and the credential must verify. The calls use connections
 * opened before, because GnuTLS's session of the TLS key gets no lost device in this
 * simulation. It keeps the key's old handle, so new handshakes fail. */
static void test_renumbered_keys_found_again(void **state)
{
    raw_client *issuer = NULL;
    raw_client *bank = NULL;
    json_t *request;
    char *body;
    http_result r;

    (void)state;
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_ISSUER, &issuer), 0);
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_RP, &bank), 0);
    assert_int_equal(raw_request(issuer, "POST", "/v1/credentials", issue_body, &r), 0);
    assert_int_equal(r.status, 201);
    http_result_clear(&r);

    set_faults("swap_keys 1\n");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(raw_request(issuer, "POST", "/v1/credentials", issue_body, &r), 0);
        if (r.status != 201)
            fprintf(stderr, "issuance %d after the swap: %ld %s\n", i, r.status,
                    r.body != NULL ? r.body : "");
        assert_int_equal(r.status, 201);
        if (i == 0)
            http_result_clear(&r);
    }
    request = json_pack("{s:O, s:[s], s:s}", "assertion", json_object_get(r.json, "assertion"),
                        "claims", "given_name", "purpose", "account opening");
    body = json_dumps(request, JSON_COMPACT);
    http_result_clear(&r);

    assert_int_equal(raw_request(bank, "POST", "/v1/verifications", body, &r), 0);
    assert_int_equal(r.status, 200);
    http_result_clear(&r);
    free(body);
    json_decref(request);
    raw_close(&issuer);
    raw_close(&bank);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_full_disk_answers_503, restore_parts),
        cmocka_unit_test_teardown(test_saml_key_failure_answers_503, restore_parts),
        cmocka_unit_test_teardown(test_verification_retry_after_hsm_failure, restore_parts),
        cmocka_unit_test_teardown(test_checkpoint_hsm_failure_answers_503, restore_parts),
        cmocka_unit_test_teardown(test_tls_key_failure_recovers, restore_parts),
        cmocka_unit_test_teardown(test_renumbered_keys_found_again, restore_parts),
    };

    return cmocka_run_group_tests(tests, start_server, stop_server);
}
