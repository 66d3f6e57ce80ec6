/*
 * A start whose wall clock is behind the newest time in the audit log. Each test makes a
 * node, lets it write entries under the real clock and stop, then starts it again under
 * libfaketime with its wall clock moved back, while CLOCK_MONOTONIC and CLOCK_BOOTTIME
 * stay real. The tests skip themselves when the build found no libfaketime.
 */
#define _GNU_SOURCE /* strptime */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "server_harness.h"
#include "test_token.h"

#define DAY_SECONDS 86400

/* The slack allowed between the test's clock readings and the daemon's: the start of
 * a sanitized daemon takes a few seconds. */
#define SLACK_SECONDS 120

static const char issue_body[] =
    "{\"subject\":\"SG-CLOCK-2\",\"audience\":\"" RP_ENTITY_ID "\","
    "\"assurance_level\":\"substantial\",\"validity_seconds\":3600,"
    "\"attributes\":{\"given_name\":\"Wei Ling\"}}";

typedef struct fixture {
    harness server;
    char offset_path[PATH_MAX + 32];
} fixture;

static bool faketime_missing(void)
{
    return access(IDSVC_FAKETIME_LIBRARY, R_OK) != 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || harness_setup(&f->server) != 0) {
        free(f);
        return -1;
    }
    snprintf(f->offset_path, sizeof(f->offset_path), "%s/faketime-offset",
             f->server.token.dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    harness_teardown(&f->server);
    free(f);
    return 0;
}

static void set_clock_offset(const fixture *f, const char *offset)
{
    FILE *file = fopen(f->offset_path, "w");

    assert_non_null(file);
    fprintf(file, "%s\n", offset);
    assert_int_equal(fclose(file), 0);
}

/* Starts the node under the real clock, issues a credential and stops it cleanly, which
 * signs a checkpoint of the entries. Then removes the daemon's log, so that the next
 * start's lines are the only ones. */
static void write_entries_and_stop(fixture *f)
{
    http_result r;

    assert_int_equal(harness_start(&f->server), 0);
    assert_int_equal(harness_curl(&f->server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                                  issue_body, &r),
                     0);
    assert_int_equal(r.status, 201);
    http_result_clear(&r);
    assert_int_equal(harness_stop(&f->server, SIGTERM), 0);
    assert_int_equal(unlink(f->server.log_path), 0);
}

static sqlite3 *open_database(const fixture *f)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open_v2(f->server.db_path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    return db;
}

static long long query_number(const fixture *f, const char *sql)
{
    sqlite3 *db = open_database(f);
    sqlite3_stmt *stmt = NULL;
    long long value;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
}

static time_t parse_time(const char *text)
{
    struct tm tm = {0};
    const char *end;

    assert_non_null(text);
    end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    assert_non_null(end);
    assert_int_equal(*end, '\0');
    return timegm(&tm);
}

static void format_time(time_t t, char out[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The newest time the node wrote: its last entry's or its latest checkpoint's time. */
static void newest_recorded_time(const fixture *f, char out[32])
{
    time_t entry = (time_t)query_number(
        f, "SELECT recorded_at FROM audit_entries ORDER BY idx DESC LIMIT 1");
    sqlite3 *db = open_database(f);
    sqlite3_stmt *stmt = NULL;
    const char *body;
    const char *line;
    char when[32];
    time_t checkpoint;

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT body FROM audit_checkpoints "
                                        "ORDER BY tree_size DESC, id DESC LIMIT 1",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    body = (const char *)sqlite3_column_text(stmt, 0);
    line = strstr(body, "\ntime ");
    assert_non_null(line);
    snprintf(when, sizeof(when), "%.20s", line + 6);
    checkpoint = parse_time(when);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    format_time(entry > checkpoint ? entry : checkpoint, out);
}

/* Returns the parsed log line of the first event of this name, or NULL. */
static json_t *find_event(const fixture *f, const char *event)
{
    char *log = test_read_file(f->server.log_path, NULL);
    char needle[128];
    json_t *found = NULL;

    assert_non_null(log);
    snprintf(needle, sizeof(needle), "\"event\":\"%s\"", event);
    for (char *line = strtok(log, "\n"); line != NULL && found == NULL;
         line = strtok(NULL, "\n"))
        if (strstr(line, needle) != NULL)
            found = json_loads(line, 0, NULL);
    free(log);
    return found;
}

/* Checks that a time the daemon read from its clock is one day behind the real one. */
static void assert_day_behind(const char *wall_clock, time_t before)
{
    time_t wall = parse_time(wall_clock);

    assert_true(wall >= before - DAY_SECONDS - SLACK_SECONDS);
    assert_true(wall <= time(NULL) - DAY_SECONDS + SLACK_SECONDS);
}

static void assert_behind_seconds(long long behind)
{
    assert_true(behind >= DAY_SECONDS - SLACK_SECONDS);
    assert_true(behind <= DAY_SECONDS + SLACK_SECONDS);
}

/* A clock one day behind the log stops the start with clock_behind_log, which names
 * both times, the difference and the flag, and the start writes nothing. */
static void test_start_rejects_clock_day_behind(void **state)
{
    fixture *f = *state;
    char recorded[32];
    long long entries;
    time_t before;
    json_t *event;
    json_t *failed;
    const char *message;

    if (faketime_missing())
        skip();
    write_entries_and_stop(f);
    newest_recorded_time(f, recorded);
    entries = query_number(f, "SELECT count(*) FROM audit_entries");

    set_clock_offset(f, "-1d");
    before = time(NULL);
    assert_int_equal(harness_start_faketime(&f->server, IDSVC_FAKETIME_LIBRARY,
                                            f->offset_path),
                     -1);

    event = find_event(f, "clock_behind_log");
    assert_non_null(event);
    assert_string_equal(json_string_value(json_object_get(event, "level")), "error");
    assert_string_equal(json_string_value(json_object_get(event, "recorded_time")), recorded);
    assert_day_behind(json_string_value(json_object_get(event, "wall_clock")), before);
    assert_behind_seconds(atoll(json_string_value(json_object_get(event, "behind_seconds"))));
    assert_string_equal(json_string_value(json_object_get(event, "tolerance_seconds")), "60");
    message = json_string_value(json_object_get(event, "message"));
    assert_non_null(strstr(message, recorded));
    assert_non_null(strstr(message, json_string_value(json_object_get(event, "wall_clock"))));
    assert_non_null(strstr(message, "Set the clock right"));
    assert_non_null(strstr(message, "--accept-clock-behind"));

    failed = find_event(f, "start_failed");
    assert_non_null(failed);
    message = json_string_value(json_object_get(failed, "message"));
    assert_non_null(strstr(message, "clock_behind_log"));
    assert_non_null(strstr(message, recorded));
    assert_null(find_event(f, "started"));
    assert_int_equal(query_number(f, "SELECT count(*) FROM audit_entries"), entries);
    json_decref(event);
    json_decref(failed);
}

/* A clock 30 seconds behind, within the default [saml] clock_skew of 60 seconds, starts,
 * and clock_checked shows the comparison. */
static void test_start_allows_clock_within_tolerance(void **state)
{
    fixture *f = *state;
    char recorded[32];
    json_t *checked;
    const char *message;

    if (faketime_missing())
        skip();
    write_entries_and_stop(f);
    newest_recorded_time(f, recorded);

    set_clock_offset(f, "-30");
    assert_int_equal(harness_start_faketime(&f->server, IDSVC_FAKETIME_LIBRARY,
                                            f->offset_path),
                     0);
    checked = find_event(f, "clock_checked");
    assert_non_null(checked);
    message = json_string_value(json_object_get(checked, "message"));
    assert_non_null(strstr(message, " seconds behind "));
    assert_non_null(strstr(message, recorded));
    assert_null(find_event(f, "clock_behind_log"));
    assert_int_equal(harness_stop(&f->server, SIGTERM), 0);
    json_decref(checked);
}

/* --accept-clock-behind starts the node a day behind, and the audit log records a
 * clock_behind_accepted entry with both times. The next start at the same clock needs
 * no flag, because the entry and its checkpoint are now the newest. */
static void test_start_accepts_flag_and_records_it(void **state)
{
    fixture *f = *state;
    char recorded[32];
    time_t before;
    sqlite3 *db;
    sqlite3_stmt *stmt = NULL;
    json_t *entry;
    json_t *payload;

    if (faketime_missing())
        skip();
    write_entries_and_stop(f);
    newest_recorded_time(f, recorded);

    set_clock_offset(f, "-1d");
    f->server.extra_argument = "--accept-clock-behind";
    before = time(NULL);
    assert_int_equal(harness_start_faketime(&f->server, IDSVC_FAKETIME_LIBRARY,
                                            f->offset_path),
                     0);
    assert_int_equal(harness_stop(&f->server, SIGTERM), 0);

    db = open_database(f);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT entry, payload FROM audit_entries "
                                        "WHERE kind = 'clock_behind_accepted'",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    entry = json_loads((const char *)sqlite3_column_text(stmt, 0), 0, NULL);
    payload = json_loads((const char *)sqlite3_column_text(stmt, 1), 0, NULL);
    assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    assert_non_null(entry);
    assert_non_null(payload);
    assert_string_equal(json_string_value(json_object_get(payload, "recorded_time")),
                        recorded);
    assert_day_behind(json_string_value(json_object_get(payload, "wall_clock")), before);
    assert_string_equal(json_string_value(json_object_get(payload, "wall_clock")),
                        json_string_value(json_object_get(entry, "time")));
    assert_behind_seconds(json_integer_value(json_object_get(payload, "behind_seconds")));
    assert_int_equal(json_integer_value(json_object_get(payload, "tolerance_seconds")), 60);
    json_decref(entry);
    json_decref(payload);

    f->server.extra_argument = NULL;
    assert_int_equal(harness_start_faketime(&f->server, IDSVC_FAKETIME_LIBRARY,
                                            f->offset_path),
                     0);
    assert_int_equal(harness_stop(&f->server, SIGTERM), 0);
    assert_int_equal(
        query_number(f, "SELECT count(*) FROM audit_entries WHERE kind = "
                        "'clock_behind_accepted'"),
        1);
}

/* A new database records no time, so a node with a clock a day behind starts, and
 * clock_checked reports that there was nothing to compare. */
static void test_start_fresh_database_any_clock(void **state)
{
    fixture *f = *state;
    json_t *checked;

    if (faketime_missing())
        skip();
    set_clock_offset(f, "-1d");
    assert_int_equal(harness_start_faketime(&f->server, IDSVC_FAKETIME_LIBRARY,
                                            f->offset_path),
                     0);
    checked = find_event(f, "clock_checked");
    assert_non_null(checked);
    assert_non_null(strstr(json_string_value(json_object_get(checked, "message")),
                           "records no time yet"));
    assert_null(find_event(f, "clock_behind_log"));
    assert_int_equal(harness_stop(&f->server, SIGTERM), 0);
    json_decref(checked);
}

/* Removes the database and its WAL files, as a restore to an empty database would. */
static void remove_database(const fixture *f)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char path[PATH_MAX + 64];

    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(path, sizeof(path), "%s%s", f->server.db_path, suffixes[i]);
        assert_true(unlink(path) == 0 || i > 0);
    }
}

/* After the database is replaced by an empty one and the anchor reset, the database
 * records no time, but the anchor in the HSM still contains the time of the checkpoint
 * that the clean stop signed. A clock a day behind it stops the start. */
static void test_start_after_anchor_reset_checks_anchor(void **state)
{
    fixture *f = *state;
    const char *admin = getenv("IDSVC_ADMIN");
    char command[PATH_MAX * 2 + 64];
    char output[4096];
    json_t *event;

    if (faketime_missing())
        skip();
    assert_non_null(admin);
    write_entries_and_stop(f);
    remove_database(f);
    snprintf(command, sizeof(command), "%s audit anchor reset --config '%s'", admin,
             f->server.config_path);
    if (test_run_capture(command, output, sizeof(output)) != 0)
        fail_msg("audit anchor reset failed: %s", output);

    set_clock_offset(f, "-1d");
    assert_int_equal(harness_start_faketime(&f->server, IDSVC_FAKETIME_LIBRARY,
                                            f->offset_path),
                     -1);
    event = find_event(f, "clock_behind_log");
    assert_non_null(event);
    if (strstr(json_string_value(json_object_get(event, "recorded_by")), "HSM anchor") ==
        NULL)
        fail_msg("clock_behind_log does not name the anchor: %s",
                 json_string_value(json_object_get(event, "recorded_by")));
    assert_behind_seconds(atoll(json_string_value(json_object_get(event, "behind_seconds"))));
    assert_null(find_event(f, "started"));
    json_decref(event);
}

/* --check starts nothing, so it rejects --accept-clock-behind with exit status 2 and a
 * message naming both options. */
static void test_check_rejects_clock_flag(void **state)
{
    fixture *f = *state;
    char command[2 * PATH_MAX];
    char output[1024] = "";
    size_t length;
    FILE *pipe;

    snprintf(command, sizeof(command), "'%s' --config '%s' --check --accept-clock-behind 2>&1",
             getenv("IDSVC_DAEMON"), f->server.config_path);
    pipe = popen(command, "r");
    assert_non_null(pipe);
    length = fread(output, 1, sizeof(output) - 1, pipe);
    output[length] = '\0';
    assert_int_equal(WEXITSTATUS(pclose(pipe)), 2);
    assert_non_null(strstr(output, "--accept-clock-behind applies to a start, and --check "
                                   "starts nothing"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_rejects_clock_day_behind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_allows_clock_within_tolerance, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_start_accepts_flag_and_records_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_start_fresh_database_any_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_after_anchor_reset_checks_anchor, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_check_rejects_clock_flag, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
