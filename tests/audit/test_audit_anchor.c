/*
 * The audit anchor in the HSM through the real daemon. A node whose database lost its
 * checkpoints or its last entries, or was replaced, does not start, and start_failed
 * names the reason. `idsvc-admin audit anchor reset` lets it start, and the log records
 * the reset. A database written by a node without anchors gets one at its next start.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "p11.h"
#include "server_harness.h"

#define ANCHOR_LABEL "idsvc-audit-anchor"

static const char issue_body[] =
    "{\"subject\":\"SG-S7654321Z\",\"audience\":\"" RP_ENTITY_ID "\","
    "\"assurance_level\":\"high\",\"validity_seconds\":3600,"
    "\"attributes\":{\"given_name\":\"Wei\",\"family_name\":\"Lim\","
    "\"nationality\":[\"SG\"]}}";

static int setup(void **state)
{
    harness *h = calloc(1, sizeof(*h));

    if (h == NULL || harness_setup(h) != 0 ||
        harness_append_config(h, "\n[audit]\ncheckpoint_interval = 0\n") != 0 ||
        harness_start(h) != 0) {
        if (h != NULL)
            harness_teardown(h);
        free(h);
        return -1;
    }
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    harness *h = *state;

    harness_teardown(h);
    free(h);
    return 0;
}

static void issue(harness *h, int count)
{
    for (int i = 0; i < count; i++) {
        http_result result;

        assert_int_equal(harness_curl(h, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                                      issue_body, &result),
                         0);
        assert_int_equal(result.status, 201);
        http_result_clear(&result);
    }
}

/* Asks for a signed checkpoint as the regulator and returns its tree size. */
static json_int_t sign_checkpoint(harness *h)
{
    http_result result;
    json_int_t size;

    assert_int_equal(harness_curl(h, CLIENT_REGULATOR, "GET", "/v1/audit/checkpoint", NULL,
                                  NULL, &result),
                     0);
    assert_int_equal(result.status, 200);
    size = json_integer_value(json_object_get(result.json, "tree_size"));
    assert_true(size > 0);
    http_result_clear(&result);
    return size;
}

/* Runs idsvc-admin audit with arguments and returns its exit status, with its standard
 * output and error in output. */
static int run_admin(const char *arguments, char *output, size_t size)
{
    const char *admin = getenv("IDSVC_ADMIN");
    char command[8192];

    assert_non_null(admin);
    assert_in_range(snprintf(command, sizeof(command), "%s audit %s", admin, arguments), 0,
                    sizeof(command) - 1);
    return test_run_capture(command, output, size);
}

static int run_anchor_command(const harness *h, const char *command, char *output,
                              size_t size)
{
    char arguments[PATH_MAX + 64];

    snprintf(arguments, sizeof(arguments), "anchor %s --config '%s'", command,
             h->config_path);
    return run_admin(arguments, output, size);
}

/* Empties the daemon's log file, so that the next start's lines are the only ones. */
static void clear_log(const harness *h)
{
    FILE *file = fopen(h->log_path, "w");

    assert_non_null(file);
    fclose(file);
}

/* Starts the daemon, expects it to stop during the start, and returns its log. */
static char *start_fails(harness *h)
{
    char *log;

    clear_log(h);
    assert_int_equal(harness_start(h), -1);
    log = test_read_file(h->log_path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "\"event\":\"start_failed\""));
    return log;
}

static void expect_in(const char *text, const char *expected)
{
    if (strstr(text, expected) == NULL)
        fprintf(stderr, "expected \"%s\" in:\n%s\n", expected, text);
    assert_non_null(strstr(text, expected));
}

/* Deletes every checkpoint, and the entries from index keep on with the subtrees that
 * cover them, so the stored tree is a consistent tree of keep entries. */
static void truncate_log(const harness *h, json_int_t keep)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "DELETE FROM audit_checkpoints;"
             "DELETE FROM audit_entries WHERE idx >= %lld;"
             "DELETE FROM audit_nodes WHERE ((idx + 1) << level) > %lld;",
             (long long)keep, (long long)keep);
    assert_int_equal(harness_sql(h, sql), 0);
}

static void remove_database(const harness *h)
{
    char path[PATH_MAX + 40];

    assert_int_equal(unlink(h->db_path), 0);
    snprintf(path, sizeof(path), "%s-wal", h->db_path);
    unlink(path);
    snprintf(path, sizeof(path), "%s-shm", h->db_path);
    unlink(path);
}

/* Returns the first entry of kind from GET /v1/audit/entries, or the last one when last
 * is true, parsed, with its payload as the member payload, or NULL, and counts the
 * entries of that kind. */
static json_t *find_entry(harness *h, const char *kind, size_t *count, bool last)
{
    http_result result;
    json_t *found = NULL;
    const json_t *item;
    size_t i;

    *count = 0;
    assert_int_equal(harness_curl(h, CLIENT_REGULATOR, "GET", "/v1/audit/entries?from=0",
                                  NULL, NULL, &result),
                     0);
    assert_int_equal(result.status, 200);
    json_array_foreach(json_object_get(result.json, "entries"), i, item) {
        json_t *entry = json_loads(json_string_value(json_object_get(item, "entry")), 0, NULL);
        json_t *payload = json_loads(json_string_value(json_object_get(item, "payload")), 0,
                                     NULL);

        assert_non_null(entry);
        assert_non_null(payload);
        json_object_set_new(entry, "payload", payload);
        if (strcmp(json_string_value(json_object_get(entry, "kind")), kind) == 0) {
            (*count)++;
            if (found == NULL || last) {
                json_decref(found);
                found = entry;
                continue;
            }
        }
        json_decref(entry);
    }
    http_result_clear(&result);
    return found;
}

/* Removes the anchor from the token, as a token that a node without anchors used. */
static void remove_anchor(const harness *h)
{
    p11_config config = {
        .module_path = h->token.module_path,
        .token_label = TEST_TOKEN_LABEL,
        .pin_file = h->token.pin_path,
    };
    p11_token *token = NULL;
    p11_error err;

    if (p11_token_open(&config, &token, &err) != 0)
        fail_msg("p11_token_open: %s", err.message);
    if (p11_data_remove(token, ANCHOR_LABEL, NODE_ENTITY_ID, &err) != 0)
        fail_msg("p11_data_remove: %s", err.message);
    p11_token_close(&token);
}

/* ---- Tests ------------------------------------------------------------------------- */

static void test_truncated_log_rejected(void **state)
{
    harness *h = *state;
    char config_field[PATH_MAX + 64];
    json_int_t size;
    char expected[128];
    char *log;

    issue(h, 4);
    size = sign_checkpoint(h);
    assert_int_equal(harness_stop(h, SIGTERM), 0);

    truncate_log(h, size - 2);
    log = start_fails(h);
    expect_in(log, "audit anchor in the HSM");
    snprintf(expected, sizeof(expected), "records %lld entries, but the log has %lld",
             (long long)size, (long long)(size - 2));
    expect_in(log, expected);
    expect_in(log, "'idsvc-admin audit anchor reset --config FILE'");
    snprintf(config_field, sizeof(config_field), "\"config\":\"%s\"", h->config_path);
    expect_in(log, config_field);
    free(log);
}

/* Deleting the checkpoints alone leaves the tree whole, and the stored checkpoints agree
 * with it; only the anchor still names the checkpoint that was signed. */
static void test_deleted_checkpoints_rejected(void **state)
{
    harness *h = *state;
    json_int_t size;
    char expected[160];
    char *log;

    issue(h, 2);
    size = sign_checkpoint(h);
    assert_int_equal(harness_stop(h, SIGTERM), 0);

    assert_int_equal(harness_sql(h, "DELETE FROM audit_checkpoints"), 0);
    log = start_fails(h);
    snprintf(expected, sizeof(expected),
             "the audit anchor in the HSM keeps a checkpoint of %lld entries that the "
             "database no longer has; its checkpoints were deleted",
             (long long)size);
    expect_in(log, expected);
    free(log);
}

/* A node that stopped after a checkpoint's commit but before its anchor write leaves
 * the anchor one checkpoint behind, so the next start writes it from the latest. A copy
 * of the token made after the first checkpoint, restored later, sets up that state. */
static void test_lagging_anchor_updated(void **state)
{
    harness *h = *state;
    char output[8192];
    char expected[64];
    json_int_t first;
    json_int_t second;
    char *log;

    issue(h, 2);
    first = sign_checkpoint(h);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(harness_run("cp -a '%s' '%s.first'", h->tokens_dir, h->tokens_dir), 0);

    assert_int_equal(harness_start(h), 0);
    issue(h, 2);
    second = sign_checkpoint(h);
    assert_true(second > first);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(harness_run("rm -rf '%s' && mv '%s.first' '%s'", h->tokens_dir,
                                 h->tokens_dir, h->tokens_dir),
                     0);

    clear_log(h);
    assert_int_equal(harness_start(h), 0);
    log = harness_wait_for_log(h, "audit_anchor_updated");
    assert_non_null(log);
    expect_in(log, "audit_anchor_updated");
    free(log);
    assert_int_equal(run_anchor_command(h, "show", output, sizeof(output)), 0);
    snprintf(expected, sizeof(expected), "\nsize %lld\n", (long long)second);
    expect_in(output, expected);
}

static void test_replaced_database_rejected(void **state)
{
    harness *h = *state;
    char config_field[PATH_MAX + 64];
    char *log;

    issue(h, 2);
    sign_checkpoint(h);
    assert_int_equal(harness_stop(h, SIGTERM), 0);

    remove_database(h);
    log = start_fails(h);
    expect_in(log, "the audit anchor in the HSM is for log ID ");
    expect_in(log, "the database was replaced");
    expect_in(log, "'idsvc-admin audit anchor reset --config FILE'");
    snprintf(config_field, sizeof(config_field), "\"config\":\"%s\"", h->config_path);
    expect_in(log, config_field);
    free(log);
}

/* Exports the node's database and runs audit verify on it with the node's key; returns
 * the exit status with the output in output. */
static int export_and_verify(harness *h, char *output, size_t size)
{
    char arguments[4 * PATH_MAX];

    snprintf(arguments, sizeof(arguments), "export --database '%s' --out '%s.jsonl'",
             h->db_path, h->db_path);
    assert_int_equal(run_admin(arguments, output, size), 0);
    snprintf(arguments, sizeof(arguments), "verify '%s.jsonl' --trust '%s/saml.pub'",
             h->db_path, h->token.dir);
    return run_admin(arguments, output, size);
}

static void test_reset_lets_node_start(void **state)
{
    harness *h = *state;
    char output[8192];
    char *log;
    json_t *entry;
    json_t *payload;
    json_int_t size;
    size_t count;

    issue(h, 3);
    size = sign_checkpoint(h);

    /* The running node has the database's lock file, so a reset now is rejected. */
    assert_int_equal(run_anchor_command(h, "reset", output, sizeof(output)), 1);
    expect_in(output, "stop it first");
    assert_int_equal(harness_stop(h, SIGTERM), 0);

    truncate_log(h, 1);
    free(start_fails(h));
    assert_int_equal(run_anchor_command(h, "reset", output, sizeof(output)), 0);
    expect_in(output, "reset marker");
    assert_int_equal(run_anchor_command(h, "show", output, sizeof(output)), 0);
    expect_in(output, "idsvc-audit-anchor-reset/v1\ntime ");

    clear_log(h);
    assert_int_equal(harness_start(h), 0);
    entry = find_entry(h, "audit_anchor_reset", &count, false);
    assert_non_null(entry);
    assert_int_equal(count, 1);
    payload = json_object_get(entry, "payload");
    assert_int_equal(json_integer_value(json_object_get(payload, "previous_size")), size);
    assert_int_equal(strlen(json_string_value(json_object_get(payload, "previous_root"))), 64);
    assert_string_equal(json_string_value(json_object_get(payload, "previous_log_id")),
                        json_string_value(json_object_get(payload, "log_id")));
    assert_non_null(json_string_value(json_object_get(payload, "reset_at")));
    json_decref(entry);

    /* The node replaced the marker with an anchor of its new checkpoint at once. */
    assert_int_equal(run_anchor_command(h, "show", output, sizeof(output)), 0);
    expect_in(output, "idsvc-audit-anchor/v1\nlog ");
    assert_null(strstr(output, "idsvc-audit-anchor-reset/v1"));

    /* A second start records no second reset. */
    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(harness_start(h), 0);
    json_decref(find_entry(h, "audit_anchor_reset", &count, false));
    assert_int_equal(count, 1);

    /* audit verify names the rollback that the reset entry records. */
    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(export_and_verify(h, output, sizeof(output)), 0);
    expect_in(output, "NOTE entry 1 records an anchor reset after a rollback: the previous "
                      "anchor of this log covered ");
    assert_int_equal(harness_start(h), 0);
    log = test_read_file(h->log_path, NULL);
    expect_in(log, "audit_anchor_reset_recorded");
    free(log);
}

/* A log with entries and no anchor does not start: deleting the anchor's object needs
 * no PIN in SoftHSM2, and a changed entity ID looks under another name. After the
 * operator's reset the node starts and records that the anchor was missing. */
static void test_missing_anchor_needs_reset(void **state)
{
    harness *h = *state;
    json_t *entry;
    json_t *payload;
    char output[8192];
    char expected[64];
    json_int_t size;
    size_t count = 0;
    char *log;

    issue(h, 2);
    size = sign_checkpoint(h);
    assert_int_equal(harness_stop(h, SIGTERM), 0);

    remove_anchor(h);
    assert_int_equal(run_anchor_command(h, "show", output, sizeof(output)), 1);
    expect_in(output, "has no audit anchor for " NODE_ENTITY_ID);
    log = start_fails(h);
    expect_in(log, "the HSM has no audit anchor for node " NODE_ENTITY_ID ", but the audit "
                   "log has ");
    expect_in(log, "run 'idsvc-admin audit anchor reset --config FILE'");
    free(log);

    assert_int_equal(run_anchor_command(h, "reset", output, sizeof(output)), 0);
    expect_in(output, "The token had no audit anchor for " NODE_ENTITY_ID);
    clear_log(h);
    assert_int_equal(harness_start(h), 0);
    entry = find_entry(h, "audit_anchor_reset", &count, false);
    assert_non_null(entry);
    assert_int_equal(count, 1);
    payload = json_object_get(entry, "payload");
    assert_true(json_is_true(json_object_get(payload, "previous_missing")));
    assert_null(json_object_get(payload, "previous_size"));
    json_decref(entry);
    assert_int_equal(run_anchor_command(h, "show", output, sizeof(output)), 0);
    expect_in(output, "idsvc-audit-anchor/v1\nlog ");
    snprintf(expected, sizeof(expected), "\nsize %lld\n", (long long)size + 1);
    expect_in(output, expected);

    /* The new anchor is checked at the next start. */
    assert_int_equal(harness_stop(h, SIGTERM), 0);
    truncate_log(h, size - 1);
    free(start_fails(h));
}

/* An emptied log in a used database, with its anchor deleted, is not a new log: the
 * start fails until the operator's reset. */
static void test_emptied_log_needs_reset(void **state)
{
    harness *h = *state;
    char output[8192];
    char *log;

    issue(h, 2);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
    remove_anchor(h);
    assert_int_equal(harness_sql(h, "DELETE FROM audit_entries; DELETE FROM audit_nodes;"
                                    " DELETE FROM audit_checkpoints"),
                     0);
    log = start_fails(h);
    expect_in(log, "the HSM has no audit anchor for node " NODE_ENTITY_ID ", and the audit "
                   "log is empty, but the database was used before");
    free(log);

    assert_int_equal(run_anchor_command(h, "reset", output, sizeof(output)), 0);
    clear_log(h);
    assert_int_equal(harness_start(h), 0);
}

/* A changed entity ID finds no anchor, so the start fails until a reset. After it, the
 * checkpoints name the new ID, and audit verify accepts the change at the reset. */
static void test_entity_id_change_after_reset(void **state)
{
    harness *h = *state;
    char output[8192];
    char *log;

    issue(h, 1);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(harness_run("sed -i 's|^entity_id = " NODE_ENTITY_ID "$|entity_id = "
                                 "https://renamed.example/idsvc|' '%s'",
                                 h->config_path),
                     0);
    log = start_fails(h);
    expect_in(log, "the HSM has no audit anchor for node https://renamed.example/idsvc");
    free(log);

    assert_int_equal(run_anchor_command(h, "reset", output, sizeof(output)), 0);
    clear_log(h);
    assert_int_equal(harness_start(h), 0);
    issue(h, 1);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(export_and_verify(h, output, sizeof(output)), 0);
    expect_in(output, "records an anchor reset where the HSM had no anchor");
    assert_int_equal(harness_start(h), 0);
}

/* Returns the payload of the last checkpoint_key_loaded entry, recorded at each start. */
static json_t *last_key_loaded(harness *h)
{
    size_t count = 0;
    json_t *entry = find_entry(h, "checkpoint_key_loaded", &count, true);
    json_t *payload;

    assert_non_null(entry);
    payload = json_incref(json_object_get(entry, "payload"));
    json_decref(entry);
    return payload;
}

/* A clean stop signs the last entries, so the next start finds none unsigned. After a
 * SIGKILL, the start records the unsigned ones in its checkpoint_key_loaded entry. */
static void test_stop_signs_last_entries(void **state)
{
    harness *h = *state;
    char output[8192];
    json_t *payload;
    const json_t *unsigned_entries;
    char *log;

    issue(h, 2);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
    clear_log(h);
    assert_int_equal(harness_start(h), 0);
    payload = last_key_loaded(h);
    assert_null(json_object_get(payload, "unsigned_entries"));
    json_decref(payload);
    log = test_read_file(h->log_path, NULL);
    assert_non_null(log);
    assert_null(strstr(log, "audit_unsigned_entries"));
    free(log);

    issue(h, 2);
    assert_int_equal(harness_stop(h, SIGKILL), 128 + SIGKILL);
    clear_log(h);
    assert_int_equal(harness_start(h), 0);
    payload = last_key_loaded(h);
    unsigned_entries = json_object_get(payload, "unsigned_entries");
    assert_non_null(unsigned_entries);
    assert_true(json_integer_value(json_object_get(unsigned_entries, "count")) >= 2);
    assert_true(json_integer_value(json_object_get(unsigned_entries, "from")) > 0);
    json_decref(payload);
    log = test_read_file(h->log_path, NULL);
    assert_non_null(log);
    expect_in(log, "\"event\":\"audit_unsigned_entries\"");
    free(log);

    /* audit verify points the regulator at them. */
    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(export_and_verify(h, output, sizeof(output)), 0);
    expect_in(output, "records a start that found ");
    expect_in(output, "that no checkpoint covered: written before a crash, or added to the "
                      "database while the node was stopped");
    assert_int_equal(harness_start(h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_truncated_log_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_checkpoints_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lagging_anchor_updated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaced_database_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_lets_node_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_anchor_needs_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_signs_last_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emptied_log_needs_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entity_id_change_after_reset, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
