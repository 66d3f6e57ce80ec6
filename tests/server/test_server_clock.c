/*
 * A wall clock that steps forward and back while the daemon runs. The daemon runs under
 * libfaketime, whose offset the test changes in the file FAKETIME_TIMESTAMP_FILE names,
 * while CLOCK_MONOTONIC and CLOCK_BOOTTIME stay real (DONT_FAKE_MONOTONIC). The test
 * skips itself when the build found no libfaketime.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "server_harness.h"
#include "test_token.h"

/* More than the 256 replay rows that the audit log records between two purges. */
#define VERIFICATIONS_FOR_A_PURGE 270

static harness server;
static char offset_path[PATH_MAX + 32];

static const char issue_body[] =
    "{\"subject\":\"SG-CLOCK-1\",\"audience\":\"" RP_ENTITY_ID "\","
    "\"assurance_level\":\"substantial\",\"validity_seconds\":3600,"
    "\"attributes\":{\"given_name\":\"Wei Ling\"}}";

static void set_clock_offset(const char *offset)
{
    FILE *file = fopen(offset_path, "w");

    assert_non_null(file);
    fprintf(file, "%s\n", offset);
    assert_int_equal(fclose(file), 0);
    usleep(200 * 1000);
}

static int start_server(void **state)
{
    (void)state;
    if (access(IDSVC_FAKETIME_LIBRARY, R_OK) != 0)
        return 0;
    if (harness_setup(&server) != 0)
        return -1;
    snprintf(offset_path, sizeof(offset_path), "%s/faketime-offset", server.token.dir);
    set_clock_offset("+0");
    /* A purge of expired payloads every second, for payloads older than one day. */
    if (harness_append_config(&server, "\n[audit]\ncheckpoint_interval = 1\n"
                                       "retention_days = 1\n") != 0 ||
        harness_start_faketime(&server, IDSVC_FAKETIME_LIBRARY, offset_path) != 0) {
        harness_teardown(&server);
        return -1;
    }
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    if (access(IDSVC_FAKETIME_LIBRARY, R_OK) != 0)
        return 0;
    return harness_finish(&server);
}

/* Issues a credential and returns the verification request for its assertion. */
static char *issue_verification_body(raw_client *client)
{
    http_result r;
    json_t *request;
    char *body;

    assert_int_equal(raw_request(client, "POST", "/v1/credentials", issue_body, &r), 0);
    assert_int_equal(r.status, 201);
    request = json_pack("{s:O, s:[s], s:s}", "assertion", json_object_get(r.json, "assertion"),
                        "claims", "given_name", "purpose", "account opening");
    body = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    http_result_clear(&r);
    assert_non_null(body);
    return body;
}

static long verify(raw_client *client, const char *body, char *code, size_t code_size)
{
    http_result r;
    long status;

    assert_int_equal(raw_request(client, "POST", "/v1/verifications", body, &r), 0);
    status = r.status;
    snprintf(code, code_size, "%s", http_result_code(&r));
    http_result_clear(&r);
    return status;
}

/* An assertion verified once stays used up after the wall clock stepped a day ahead,
 * the daemon purged expired replay rows, and the clock stepped back. A purge that
 * followed the stepped clock would remove its row, and it would verify a second time. */
static void test_clock_step_keeps_replay_rows(void **state)
{
    raw_client *issuer = NULL;
    raw_client *bank = NULL;
    char code[64];
    char *first;

    (void)state;
    if (access(IDSVC_FAKETIME_LIBRARY, R_OK) != 0)
        skip();
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_ISSUER, &issuer), 0);
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_RP, &bank), 0);
    first = issue_verification_body(issuer);
    assert_int_equal(verify(bank, first, code, sizeof(code)), 200);

    set_clock_offset("+1d");
    assert_int_equal(verify(bank, first, code, sizeof(code)), 422);
    assert_string_equal(code, "expired");
    for (int i = 0; i < VERIFICATIONS_FOR_A_PURGE; i++) {
        char *body = issue_verification_body(issuer);

        assert_int_equal(verify(bank, body, code, sizeof(code)), 200);
        free(body);
    }

    set_clock_offset("+0");
    assert_int_equal(verify(bank, first, code, sizeof(code)), 422);
    assert_string_equal(code, "replayed");
    free(first);
    raw_close(&issuer);
    raw_close(&bank);
}

static long count_purged(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    long count = -1;

    if (sqlite3_open_v2(server.db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM audit_entries WHERE purged_at IS NOT NULL",
                           -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        count = (long)sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

/* Payloads recorded minutes ago stay when the wall clock steps two days ahead of a
 * retention period of one day. A purge that followed the stepped clock would remove
 * them for good. */
static void test_clock_step_keeps_payloads(void **state)
{
    raw_client *issuer = NULL;
    char *body;

    (void)state;
    if (access(IDSVC_FAKETIME_LIBRARY, R_OK) != 0)
        skip();
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_ISSUER, &issuer), 0);
    body = issue_verification_body(issuer);
    free(body);
    raw_close(&issuer);
    assert_int_equal(count_purged(), 0);

    set_clock_offset("+2d");
    /* Three checkpoint intervals, each with a purge. */
    sleep(3);
    set_clock_offset("+0");
    assert_int_equal(count_purged(), 0);
}

/* Reads the status of a credential with GET /v1/credentials/{id}. */
static char *credential_status(raw_client *issuer, const char *id)
{
    char path[128];
    http_result r;
    char *status;

    snprintf(path, sizeof(path), "/v1/credentials/%s", id);
    assert_int_equal(raw_request(issuer, "GET", path, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    status = strdup(json_string_value(json_object_get(r.json, "status")));
    http_result_clear(&r);
    assert_non_null(status);
    return status;
}

/* A credential of one hour reads active, then expired once the wall clock is two hours
 * ahead, and active again after the clock steps back. */
static void test_credential_status_expired(void **state)
{
    raw_client *issuer = NULL;
    http_result r;
    char *id;
    char *status;

    (void)state;
    if (access(IDSVC_FAKETIME_LIBRARY, R_OK) != 0)
        skip();
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_ISSUER, &issuer), 0);
    assert_int_equal(raw_request(issuer, "POST", "/v1/credentials", issue_body, &r), 0);
    assert_int_equal(r.status, 201);
    id = strdup(json_string_value(json_object_get(r.json, "credential_id")));
    http_result_clear(&r);
    assert_non_null(id);

    status = credential_status(issuer, id);
    assert_string_equal(status, "active");
    free(status);
    set_clock_offset("+2h");
    status = credential_status(issuer, id);
    assert_string_equal(status, "expired");
    free(status);
    set_clock_offset("+0");
    status = credential_status(issuer, id);
    assert_string_equal(status, "active");
    free(status);
    free(id);
    raw_close(&issuer);
}

/* Counts the clock_behind_log lines in the daemon's log. */
static int count_clock_behind_lines(void)
{
    char *log = test_read_file(server.log_path, NULL);
    int count = 0;

    assert_non_null(log);
    for (const char *at = strstr(log, "\"event\":\"clock_behind_log\""); at != NULL;
         at = strstr(at + 1, "\"event\":\"clock_behind_log\""))
        count++;
    free(log);
    return count;
}

/* A wall clock that steps back behind the entries written 36 hours ahead gets one
 * clock_behind_log error from the checkpoint thread, not one per interval, and the node
 * keeps serving. It runs first, because the node reports each newest time once and the
 * other tests may write times up to two days ahead. The test certificates stay valid for
 * two days, so the step stays below that. */
static void test_clock_step_back_logged_once(void **state)
{
    raw_client *issuer = NULL;
    char *body;
    int before;
    int waited = 0;

    (void)state;
    if (access(IDSVC_FAKETIME_LIBRARY, R_OK) != 0)
        skip();
    set_clock_offset("+36h");
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_ISSUER, &issuer), 0);
    body = issue_verification_body(issuer);
    free(body);
    raw_close(&issuer);
    before = count_clock_behind_lines();

    set_clock_offset("+0");
    while (count_clock_behind_lines() == before && waited < 5000) {
        usleep(100 * 1000);
        waited += 100;
    }
    assert_int_equal(count_clock_behind_lines(), before + 1);
    /* Three more checkpoint intervals with the clock still behind. */
    sleep(3);
    assert_int_equal(count_clock_behind_lines(), before + 1);

    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_ISSUER, &issuer), 0);
    body = issue_verification_body(issuer);
    free(body);
    raw_close(&issuer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_step_back_logged_once),
        cmocka_unit_test(test_clock_step_keeps_replay_rows),
        cmocka_unit_test(test_clock_step_keeps_payloads),
        cmocka_unit_test(test_credential_status_expired),
    };

    return cmocka_run_group_tests(tests, start_server, stop_server);
}
