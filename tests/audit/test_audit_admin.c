/*
 * idsvc-admin audit on a database that the real audit log wrote (audit_log_open, with a
 * checkpoint signed in a SoftHSM2 token), and on copies edited in SQL. Columns that the
 * leaf hash does not cover must fail 'audit verify' and must not steer 'audit show'.
 * Purged entries are counted and checked against a stated retention period. A bad node
 * or checkpoint line is named by its own line number. Every number argument of every
 * idsvc-admin subcommand is read strictly. A second log starts with entries of version
 * 1, which keep their payload in the hashed text, and continues with version 2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>

#include "audit_log.h"
#include "audit_store.h"
#include "p11.h"
#include "store.h"
#include "test_token.h"

typedef struct fixture {
    test_token token;
    char db_path[PATH_MAX + 16];
    char mixed_path[PATH_MAX + 16]; /* entries 0 and 1 of version 1, 2 and 3 of version 2 */
    /* Copies of both logs purged by the node two days after they were written, which
     * appended entry 4, the purge's own (see purge_rules). */
    char purged_path[PATH_MAX + 16];
    char mixed_purged_path[PATH_MAX + 32];
    char trust_path[PATH_MAX + 16];
    /* A log whose first checkpoint the key of trust_path signed, and whose second a later
     * key signed after a rollover, with that key's public half and a file with both. */
    char rolled_path[PATH_MAX + 16];
    char later_trust_path[PATH_MAX + 16];
    char both_trust_path[PATH_MAX + 16];
    /* A log of three entries under a checkpoint, extended by two more under a second
     * checkpoint. The rewritten copy had its entry 1 rewritten with every hash above it
     * and its checkpoints deleted, and the log then added one entry and a checkpoint. */
    char extended_path[PATH_MAX + 16];
    char rewritten_path[PATH_MAX + 16];
    /* A copy of the mixed log whose entries of version 2 lost their text, as if purged
     * entries of version 1, and its checkpoints. The log then added one entry and a
     * checkpoint, which signs version 2 only from that entry on. */
    char disguised_path[PATH_MAX + 32];
    /* An empty log of another node, with the checkpoint of its 0 entries signed by the
     * same key. */
    char other_node_path[PATH_MAX + 32];
} fixture;

static fixture *shared;

/* Entry 1, the one the tests edit: a verification for bank1 under TH rules. */
#define EDITED_KIND "verification_decided"
#define EDITED_RP "bank1"

/* The entries the tests record: entry 1 is the one they edit. */
static const audit_event logged_events[] = {
    {.kind = "key_generated"},
    {.kind = EDITED_KIND, .actor = EDITED_RP, .relying_party = EDITED_RP,
     .jurisdiction = "TH"},
    {.kind = "credential_issued", .actor = "demo-issuer"},
    {.kind = "credential_revoked", .actor = "demo-issuer"},
};

#define EVENT_COUNT (sizeof(logged_events) / sizeof(logged_events[0]))

/* Creates the node's schema in a new database file. */
static int create_database(const char *path)
{
    char error[512] = "";
    store *node_store = store_sqlite_open(path, error, sizeof(error));

    if (node_store == NULL) {
        fprintf(stderr, "%s\n", error);
        return -1;
    }
    store_close(&node_store);
    return 0;
}

/* Appends an entry of version 1 as the writer did before payload digests: the payload
 * inside the hashed text, and no payload column. */
static int append_version_1(audit_store *tree_store, audit_merkle_frontier *frontier,
                            const audit_event *event, int64_t when)
{
    json_t *doc;
    audit_store_entry entry;
    audit_store_entry *batch[1] = {&entry};
    time_t seconds = (time_t)when;
    char time_text[32];
    struct tm tm;
    char *text;
    int rc = -1;

    gmtime_r(&seconds, &tm);
    strftime(time_text, sizeof(time_text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    doc = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:{s:s}}", "node",
                    "https://node.example/idsvc", "time", time_text, "kind", event->kind,
                    "actor", event->actor, "relying_party", event->relying_party,
                    "jurisdiction", event->jurisdiction != NULL ? event->jurisdiction : "SG",
                    "payload", "subject", "a1b2");
    text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
                       : NULL;
    json_decref(doc);
    if (text == NULL)
        return -1;
    memset(&entry, 0, sizeof(entry));
    entry.recorded_at = when;
    entry.kind = event->kind;
    entry.actor = event->actor;
    entry.relying_party = event->relying_party;
    entry.jurisdiction = event->jurisdiction != NULL ? event->jurisdiction : "SG";
    entry.text = text;
    entry.text_len = strlen(text);
    if (audit_merkle_hash_leaf(text, entry.text_len, &entry.leaf_hash) == AUDIT_MERKLE_OK &&
        audit_store_append(tree_store, batch, 1, frontier) == AUDIT_OK)
        rc = 0;
    free(text);
    return rc;
}

/* Writes logged_events[1] and [2] as entries of version 1, recorded ten days ago, into
 * the new database at path, so that the log opened on it later continues them. */
static int write_version_1_entries(const char *path)
{
    int64_t ten_days_ago = (int64_t)time(NULL) - 10 * 86400;
    char error[512] = "";
    audit_merkle_frontier frontier;
    audit_store *tree_store;
    int rc;

    if (create_database(path) != 0)
        return -1;
    tree_store = audit_store_open(path, false, error, sizeof(error));
    if (tree_store == NULL) {
        fprintf(stderr, "audit_store_open: %s\n", error);
        return -1;
    }
    audit_merkle_frontier_init(&frontier);
    rc = append_version_1(tree_store, &frontier, &logged_events[1], ten_days_ago);
    if (rc == 0)
        rc = append_version_1(tree_store, &frontier, &logged_events[2], ten_days_ago);
    audit_store_close(&tree_store);
    return rc;
}

/* The retention rules of the purged log: one day, but TH entries are kept forever. The
 * mixed log is purged under the first rule only. */
static const audit_retention purge_rules[] = {{NULL, 1}, {"TH", 0}};

/* Opens the log of node_id at path, records events, purges two days ahead under the first
 * rule_count of purge_rules when rule_count is not 0, signs a checkpoint and closes the
 * log. */
static int record_and_sign_as(const char *node_id, const char *path, audit_signer *signer,
                              const audit_event *events, size_t count, size_t rule_count)
{
    audit_log_options options = {
        .database_path = path,
        .node_id = node_id,
        .jurisdiction = "SG",
        .signer = signer,
        .retention = purge_rules,
        .retention_count = rule_count,
    };
    char error[512] = "";
    audit_log *log = audit_log_open(&options, error, sizeof(error));
    uint64_t purged = 0;
    int rc = 0;

    if (log == NULL) {
        fprintf(stderr, "audit_log_open: %s\n", error);
        return -1;
    }
    for (size_t i = 0; rc == 0 && i < count; i++)
        rc = audit_record(log, &events[i], NULL) == AUDIT_OK ? 0 : -1;
    if (rc == 0 && rule_count > 0)
        rc = audit_log_purge(log, time(NULL) + 2 * 86400, &purged) == AUDIT_OK &&
                     purged > 0 ? 0 : -1;
    if (rc == 0)
        rc = audit_log_checkpoint(log, NULL) == AUDIT_OK ? 0 : -1;
    audit_log_close(&log);
    return rc;
}

static int record_and_sign(const char *path, audit_signer *signer, const audit_event *events,
                           size_t count, size_t rule_count)
{
    return record_and_sign_as("https://node.example/idsvc", path, signer, events, count,
                              rule_count);
}

/* Appends the public half of key to the PEM file at path. */
static int append_public_key(const char *path, p11_key *key)
{
    EVP_PKEY *public_key = p11_key_get_public(key, NULL);
    FILE *pem = fopen(path, "a");
    int rc = 0;

    if (public_key == NULL || pem == NULL || PEM_write_PUBKEY(pem, public_key) != 1)
        rc = -1;
    if (pem != NULL && fclose(pem) != 0)
        rc = -1;
    EVP_PKEY_free(public_key);
    return rc;
}

/* Writes the rolled log: two entries and a checkpoint under key, then two more and a
 * checkpoint under a key generated for the rollover, and the trust files. */
static int write_rolled_log(fixture *f, p11_token *hsm, audit_signer *signer, p11_key *key)
{
    p11_error err = {0};
    p11_key *later = NULL;
    audit_signer later_signer;
    int rc = -1;

    if (create_database(f->rolled_path) != 0 ||
        p11_key_generate(hsm, P11_KEY_EC_P256, "audit-later", (const unsigned char *)"\x08",
                         1, &later, &err) != 0 ||
        audit_signer_from_p11(later, &later_signer) != 0)
        goto out;
    if (record_and_sign(f->rolled_path, signer, logged_events, 2, 0) == 0 &&
        record_and_sign(f->rolled_path, &later_signer, &logged_events[2], 2, 0) == 0 &&
        append_public_key(f->later_trust_path, later) == 0 &&
        append_public_key(f->both_trust_path, key) == 0 &&
        append_public_key(f->both_trust_path, later) == 0)
        rc = 0;
out:
    p11_key_free(&later);
    return rc;
}

/* Runs sql with one blob parameter on db. Returns 0 or -1. */
static int exec_with_blob(sqlite3 *db, const char *sql, const void *blob, int len)
{
    sqlite3_stmt *statement = NULL;
    int rc = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &statement, NULL) == SQLITE_OK &&
        sqlite3_bind_blob(statement, 1, blob, len, SQLITE_TRANSIENT) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_DONE)
        rc = 0;
    sqlite3_finalize(statement);
    return rc;
}

/* Reads the blob that sql selects into out, which must be 32 bytes. Returns 0 or -1. */
static int select_hash(sqlite3 *db, const char *sql, audit_merkle_hash *out)
{
    sqlite3_stmt *statement = NULL;
    int rc = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &statement, NULL) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW &&
        sqlite3_column_bytes(statement, 0) == AUDIT_MERKLE_HASH_SIZE) {
        memcpy(out->bytes, sqlite3_column_blob(statement, 0), AUDIT_MERKLE_HASH_SIZE);
        rc = 0;
    }
    sqlite3_finalize(statement);
    return rc;
}

/* Returns a copy of the text that sql selects, or NULL. */
static char *select_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *statement = NULL;
    char *text = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &statement, NULL) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != NULL)
        text = strdup((const char *)sqlite3_column_text(statement, 0));
    sqlite3_finalize(statement);
    return text;
}

/* Copies the database at source_path to a new file at copy_path. Returns 0 or -1. */
static int copy_database(const char *source_path, const char *copy_path)
{
    sqlite3 *source = NULL;
    sqlite3 *copy = NULL;
    sqlite3_backup *backup = NULL;
    int rc = -1;

    if (sqlite3_open(source_path, &source) == SQLITE_OK &&
        sqlite3_open(copy_path, &copy) == SQLITE_OK &&
        (backup = sqlite3_backup_init(copy, "main", source, "main")) != NULL &&
        sqlite3_backup_step(backup, -1) == SQLITE_DONE)
        rc = 0;
    if (backup != NULL && sqlite3_backup_finish(backup) != SQLITE_OK)
        rc = -1;
    sqlite3_close(source);
    sqlite3_close(copy);
    return rc;
}

/* Reads the hash of the subtree at level and index: a leaf hash at level 0. */
static int stored_subtree(sqlite3 *db, unsigned level, uint64_t index, audit_merkle_hash *out)
{
    char sql[160];

    if (level == 0)
        snprintf(sql, sizeof(sql), "SELECT leaf_hash FROM audit_entries WHERE idx = %llu",
                 (unsigned long long)index);
    else
        snprintf(sql, sizeof(sql), "SELECT hash FROM audit_nodes WHERE level = %u AND "
                 "idx = %llu", level, (unsigned long long)index);
    return select_hash(db, sql, out);
}

/*
 * Rewrites entry 1 of the log at path in SQL, as someone who can write the file would.
 * The text, the jurisdiction column, the leaf hash and every stored subtree hash above
 * it change, so the tree is consistent again. Then every checkpoint is deleted.
 */
static int rewrite_entry_1(const char *path)
{
    sqlite3 *db = NULL;
    char *text = NULL;
    audit_merkle_hash hash;
    audit_merkle_hash left;
    audit_merkle_hash right;
    uint64_t index = 1;
    int rc = -1;

    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "UPDATE audit_entries SET entry = replace(entry, '\"TH\"', '\"SG\"'),"
                         " jurisdiction = 'SG' WHERE idx = 1",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_changes(db) != 1)
        goto out;
    text = select_text(db, "SELECT entry FROM audit_entries WHERE idx = 1");
    if (text == NULL || audit_merkle_hash_leaf(text, strlen(text), &hash) != AUDIT_MERKLE_OK ||
        exec_with_blob(db, "UPDATE audit_entries SET leaf_hash = ? WHERE idx = 1", hash.bytes,
                       AUDIT_MERKLE_HASH_SIZE) != 0)
        goto out;
    /* Each stored parent of the rewritten leaf gets the hash of its two children. */
    for (unsigned level = 1; level < 64; level++) {
        char sql[160];

        index /= 2;
        if (stored_subtree(db, level, index, &hash) != 0)
            break;
        if (stored_subtree(db, level - 1, 2 * index, &left) != 0 ||
            stored_subtree(db, level - 1, 2 * index + 1, &right) != 0 ||
            audit_merkle_hash_children(&left, &right, &hash) != AUDIT_MERKLE_OK)
            goto out;
        snprintf(sql, sizeof(sql), "UPDATE audit_nodes SET hash = ? WHERE level = %u AND "
                 "idx = %llu", level, (unsigned long long)index);
        if (exec_with_blob(db, sql, hash.bytes, AUDIT_MERKLE_HASH_SIZE) != 0)
            goto out;
    }
    if (sqlite3_exec(db, "DELETE FROM audit_checkpoints", NULL, NULL, NULL) == SQLITE_OK)
        rc = 0;
out:
    free(text);
    sqlite3_close(db);
    return rc;
}

/* Writes the extended log, then the rewritten copy of it (see fixture). */
static int write_extended_logs(fixture *f, audit_signer *signer)
{
    if (create_database(f->extended_path) != 0 ||
        record_and_sign(f->extended_path, signer, logged_events, 3, 0) != 0 ||
        record_and_sign(f->extended_path, signer, &logged_events[2], 2, 0) != 0)
        return -1;
    if (copy_database(f->extended_path, f->rewritten_path) != 0 ||
        rewrite_entry_1(f->rewritten_path) != 0)
        return -1;
    return record_and_sign(f->rewritten_path, signer, logged_events, 1, 0);
}

/* Writes the disguised copy of the mixed log (see fixture). */
static int write_disguised_log(fixture *f, audit_signer *signer)
{
    sqlite3 *db = NULL;
    int rc = -1;

    if (copy_database(f->mixed_path, f->disguised_path) != 0 ||
        sqlite3_open(f->disguised_path, &db) != SQLITE_OK)
        goto out;
    if (sqlite3_exec(db, "UPDATE audit_entries SET entry = NULL, payload = NULL, purged_at ="
                         " recorded_at + 40 * 86400 WHERE idx >= 2;"
                         " DELETE FROM audit_checkpoints",
                     NULL, NULL, NULL) == SQLITE_OK)
        rc = 0;
out:
    sqlite3_close(db);
    if (rc == 0)
        rc = record_and_sign(f->disguised_path, signer, logged_events, 1, 0);
    return rc;
}

/* Records the four logged_events and a checkpoint, then closes the log so that the file
 * is complete. Writes the mixed log the same way after its two entries of version 1, and
 * the signing key's public half for --trust. */
static int write_log(fixture *f)
{
    p11_config config = {.token_label = TEST_TOKEN_LABEL};
    p11_error err = {0};
    p11_token *hsm = NULL;
    p11_key *key = NULL;
    audit_signer signer;
    int rc = -1;

    if (create_database(f->db_path) != 0 || create_database(f->purged_path) != 0 ||
        write_version_1_entries(f->mixed_path) != 0 ||
        write_version_1_entries(f->mixed_purged_path) != 0)
        return -1;
    config.module_path = f->token.module_path;
    config.pin_file = f->token.pin_path;
    if (p11_token_open(&config, &hsm, &err) != 0 ||
        p11_key_generate(hsm, P11_KEY_EC_P256, "audit", (const unsigned char *)"\x07", 1, &key,
                         &err) != 0 ||
        audit_signer_from_p11(key, &signer) != 0) {
        fprintf(stderr, "HSM: %s\n", err.message);
        goto out;
    }
    rc = record_and_sign(f->db_path, &signer, logged_events, EVENT_COUNT, 0);
    if (rc == 0)
        rc = record_and_sign(f->purged_path, &signer, logged_events, EVENT_COUNT, 2);
    if (rc == 0)
        rc = record_and_sign(f->mixed_path, &signer, &logged_events[1], 2, 0);
    if (rc == 0)
        rc = record_and_sign(f->mixed_purged_path, &signer, &logged_events[1], 2, 1);
    if (rc == 0)
        rc = write_rolled_log(f, hsm, &signer, key);
    if (rc == 0)
        rc = write_extended_logs(f, &signer);
    if (rc == 0)
        rc = write_disguised_log(f, &signer);
    if (rc == 0)
        rc = create_database(f->other_node_path);
    if (rc == 0)
        rc = record_and_sign_as("https://other.example/idsvc", f->other_node_path, &signer,
                                NULL, 0, 0);
    if (rc == 0)
        rc = append_public_key(f->trust_path, key);
out:
    p11_key_free(&key);
    p11_token_close(&hsm);
    return rc;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || test_token_create(&f->token) != 0)
        return -1;
    snprintf(f->db_path, sizeof(f->db_path), "%s/idsvc.db", f->token.dir);
    snprintf(f->mixed_path, sizeof(f->mixed_path), "%s/mixed.db", f->token.dir);
    snprintf(f->purged_path, sizeof(f->purged_path), "%s/purged-log.db", f->token.dir);
    snprintf(f->mixed_purged_path, sizeof(f->mixed_purged_path), "%s/mixed-purged-log.db",
             f->token.dir);
    snprintf(f->trust_path, sizeof(f->trust_path), "%s/audit.pub", f->token.dir);
    snprintf(f->rolled_path, sizeof(f->rolled_path), "%s/rolled-log.db", f->token.dir);
    snprintf(f->later_trust_path, sizeof(f->later_trust_path), "%s/audit-later.pub",
             f->token.dir);
    snprintf(f->both_trust_path, sizeof(f->both_trust_path), "%s/audit-both.pub",
             f->token.dir);
    snprintf(f->extended_path, sizeof(f->extended_path), "%s/extended.db", f->token.dir);
    snprintf(f->rewritten_path, sizeof(f->rewritten_path), "%s/rewritten.db", f->token.dir);
    snprintf(f->disguised_path, sizeof(f->disguised_path), "%s/disguised.db", f->token.dir);
    snprintf(f->other_node_path, sizeof(f->other_node_path), "%s/other-node.db",
             f->token.dir);
    if (write_log(f) != 0)
        return -1;
    shared = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    test_token_destroy(&f->token);
    free(f);
    return 0;
}

/* ---- Running idsvc-admin ---------------------------------------------------------- */

/* Runs idsvc-admin with arguments and returns its exit status, with stdout and stderr
 * in output. */
static int run_admin(const char *arguments, char *output, size_t size)
{
    const char *admin = getenv("IDSVC_ADMIN");
    char command[8192];

    assert_non_null(admin);
    assert_in_range(snprintf(command, sizeof(command), "%s %s", admin, arguments), 0,
                    sizeof(command) - 1);
    return test_run_capture(command, output, size);
}

/* Runs "audit show --database PATH FILTERS" into output and asserts its exit status. */
static void run_show(const char *path, const char *filters, int expected_status,
                     char *output, size_t size)
{
    char arguments[4 * PATH_MAX];
    int status;

    snprintf(arguments, sizeof(arguments), "audit show --database '%s' %s", path,
             filters);
    status = run_admin(arguments, output, size);
    if (status != expected_status)
        fail_msg("idsvc-admin %s: expected status %d, got %d: %s", arguments,
                 expected_status, status, output);
}

/* Checks that arguments exit with expected_status and print expected. */
static void expect_admin(const char *arguments, int expected_status, const char *expected)
{
    char output[16384];
    int status = run_admin(arguments, output, sizeof(output));

    if (status != expected_status || strstr(output, expected) == NULL)
        fprintf(stderr, "idsvc-admin %s: expected status %d and \"%s\", got %d: %s\n",
                arguments, expected_status, expected, status, output);
    assert_int_equal(status, expected_status);
    assert_non_null(strstr(output, expected));
}

/* Copies the database at source to NAME.db in the token folder and runs sql on the
 * copy. */
static void edited_copy_of(const char *source_path, const char *name, const char *sql,
                           char *path, size_t size)
{
    sqlite3 *source = NULL;
    sqlite3 *copy = NULL;
    sqlite3_backup *backup;
    char *message = NULL;

    assert_in_range(snprintf(path, size, "%s/%s.db", shared->token.dir, name), 0, size - 1);
    remove(path);
    assert_int_equal(sqlite3_open(source_path, &source), SQLITE_OK);
    assert_int_equal(sqlite3_open(path, &copy), SQLITE_OK);
    backup = sqlite3_backup_init(copy, "main", source, "main");
    assert_non_null(backup);
    assert_int_equal(sqlite3_backup_step(backup, -1), SQLITE_DONE);
    assert_int_equal(sqlite3_backup_finish(backup), SQLITE_OK);
    sqlite3_close(source);
    if (sql != NULL) {
        if (sqlite3_exec(copy, sql, NULL, NULL, &message) != SQLITE_OK)
            fprintf(stderr, "%s: %s\n", sql, message);
        assert_null(message);
        assert_true(sqlite3_changes(copy) >= 1);
    }
    sqlite3_close(copy);
}

/* Copies the log's database, as edited_copy_of does. */
static void edited_copy(const char *name, const char *sql, char *path, size_t size)
{
    edited_copy_of(shared->db_path, name, sql, path, size);
}

/* Exports a copy of source edited by sql; expects the export's exit status and, when
 * not NULL, export_message in its output. Leaves the export's path in export_path. */
static void export_copy_of(const char *source_path, const char *name, const char *sql,
                           int export_status, const char *export_message, char *export_path,
                           size_t size)
{
    char path[PATH_MAX + 64];
    char arguments[3 * PATH_MAX];

    edited_copy_of(source_path, name, sql, path, sizeof(path));
    assert_in_range(snprintf(export_path, size, "%s.jsonl", path), 0, size - 1);
    snprintf(arguments, sizeof(arguments), "audit export --database '%s' --out '%s'", path,
             export_path);
    expect_admin(arguments, export_status, export_message != NULL ? export_message : "");
}

static void export_copy(const char *name, const char *sql, int export_status,
                        const char *export_message, char *export_path, size_t size)
{
    export_copy_of(shared->db_path, name, sql, export_status, export_message, export_path,
                   size);
}

/* Exports a copy edited by sql, expecting export_status, and expects 'audit verify' with
 * options to exit with status and print expected. */
static void expect_export_and_verify(const char *name, const char *sql, int export_status,
                                     const char *options, int status, const char *expected)
{
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];

    export_copy(name, sql, export_status, NULL, export_path, sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s' %s", export_path,
             shared->trust_path, options);
    expect_admin(arguments, status, expected);
}

static void expect_verify(const char *name, const char *sql, const char *options, int status,
                          const char *expected)
{
    expect_export_and_verify(name, sql, 0, options, status, expected);
}

/* As expect_verify, on a copy of the log at source_path. */
static void expect_verify_of(const char *source_path, const char *name, const char *sql,
                             const char *options, int status, const char *expected)
{
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];

    export_copy_of(source_path, name, sql, 0, NULL, export_path, sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s' %s", export_path,
             shared->trust_path, options);
    expect_admin(arguments, status, expected);
}

static void expect_mixed_verify(const char *name, const char *sql, const char *options,
                                int status, const char *expected)
{
    expect_verify_of(shared->mixed_path, name, sql, options, status, expected);
}

/* Counts the lines of the file at path. */
static unsigned long count_lines(const char *path)
{
    FILE *file = fopen(path, "r");
    unsigned long lines = 0;
    int c;

    assert_non_null(file);
    while ((c = fgetc(file)) != EOF)
        lines += c == '\n';
    fclose(file);
    return lines;
}

/* Returns the number of the first line of the file at path that contains text. */
static unsigned long line_containing(const char *path, const char *text)
{
    FILE *file = fopen(path, "r");
    char line[16384];
    unsigned long number = 0;

    assert_non_null(file);
    while (fgets(line, sizeof(line), file) != NULL) {
        number++;
        if (strstr(line, text) != NULL) {
            fclose(file);
            return number;
        }
    }
    fclose(file);
    fail_msg("no line of %s contains %s", path, text);
    return 0;
}

/* Exports the unedited log as NAME, appends line to the export, and expects 'audit
 * verify' to exit 1 and print before, the appended line's number, then after. */
static void expect_appended_line_rejected(const char *name, const char *line,
                                          const char *before, const char *after)
{
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];
    char expected[512];
    unsigned long number;
    FILE *file;

    export_copy(name, NULL, 0, NULL, export_path, sizeof(export_path));
    number = count_lines(export_path) + 1;
    file = fopen(export_path, "a");
    assert_non_null(file);
    fprintf(file, "%s\n", line);
    assert_int_equal(fclose(file), 0);

    snprintf(expected, sizeof(expected), "%s%lu%s", before, number, after);
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 1, expected);
}

/* ---- Tests ------------------------------------------------------------------------ */

static void test_verify_clean_copy(void **state)
{
    (void)state;
    expect_verify("clean", NULL, "", 0, "OK 4 entries, 1 checkpoints");
    expect_verify("clean", NULL, "", 0, "; 0 purged\n");
    expect_verify("clean", NULL, "--retention-days 0", 0, "; 0 purged\n");
}

static void test_verify_names_edited_column(void **state)
{
    static const struct {
        const char *name;
        const char *sql;
        int export_status; /* export reports a column of the wrong type with 1 */
        const char *expected;
    } cases[] = {
        {"kind", "UPDATE audit_entries SET kind = 'credential_revoked' WHERE idx = 1", 0,
         "FAILED entry 1: column_mismatch: the kind column is \"credential_revoked\", but "
         "the entry's kind is \"" EDITED_KIND "\""},
        {"actor", "UPDATE audit_entries SET actor = 'someone-else' WHERE idx = 1", 0,
         "FAILED entry 1: column_mismatch: the actor column is \"someone-else\""},
        {"actor-null", "UPDATE audit_entries SET actor = NULL WHERE idx = 1", 0,
         "FAILED entry 1: column_mismatch: the actor column is null"},
        {"actor-added", "UPDATE audit_entries SET actor = 'bank2' WHERE idx = 0", 0,
         "FAILED entry 0: column_mismatch: the actor column is \"bank2\", but the entry's "
         "actor is null"},
        {"rp", "UPDATE audit_entries SET relying_party = 'bank2' WHERE idx = 1", 0,
         "FAILED entry 1: column_mismatch: the relying_party column is \"bank2\""},
        {"jurisdiction", "UPDATE audit_entries SET jurisdiction = 'SG' WHERE idx = 1", 0,
         "FAILED entry 1: column_mismatch: the jurisdiction column is \"SG\", but the "
         "entry's jurisdiction is \"TH\""},
        {"time", "UPDATE audit_entries SET recorded_at = 1577836800 WHERE idx = 1", 0,
         "FAILED entry 1: column_mismatch: the recorded_at column is 1577836800 "
         "(2020-01-01T00:00:00Z)"},
        {"time-real",
         "UPDATE audit_entries SET recorded_at = recorded_at + 0.5 WHERE idx = 1", 1,
         "FAILED entry 1: column_invalid: the recorded_at column is"},
        {"purged-at-kept", "UPDATE audit_entries SET purged_at = recorded_at WHERE idx = 2", 1,
         "FAILED entry 2: purge_invalid: the purged_at column is"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_export_and_verify(cases[i].name, cases[i].sql, cases[i].export_status, "", 1,
                                 cases[i].expected);
}

static void test_text_time_not_dropped(void **state)
{
    static const char sql[] =
        "UPDATE audit_entries SET recorded_at = '2020-01-01T00:00:00Z' WHERE idx = 1";
    static const char message[] =
        "entry 1: column_invalid: the recorded_at column is \"2020-01-01T00:00:00Z\", not "
        "an integer";
    char export_path[PATH_MAX + 128];
    char path[PATH_MAX + 64];
    char arguments[4 * PATH_MAX];
    char output[16384];

    (void)state;
    /* export names the row and still writes it, so that verify names it too. */
    export_copy("text-time", sql, 1, message, export_path, sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 1, "FAILED entry 1: column_invalid");

    /* show names the row and still prints it, from its text. */
    edited_copy("text-time", sql, path, sizeof(path));
    snprintf(arguments, sizeof(arguments), "audit show --database '%s'", path);
    expect_admin(arguments, 1, message);
    assert_int_equal(run_admin(arguments, output, sizeof(output)), 1);
    assert_non_null(strstr(output, "{\"index\":1,"));
}

/* An entry text that is not valid UTF-8 cannot be a JSON string, so export writes its
 * bytes as entry_hex and names the entry, and verify hashes those bytes. */
static void test_invalid_utf8_text_exported(void **state)
{
    static const char sql[] =
        "UPDATE audit_entries SET entry = CAST(x'ff' AS TEXT) WHERE idx = 1";
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];
    char output[16384];
    FILE *file;
    size_t lines = 0;
    int c;

    (void)state;
    export_copy("utf8", sql, 1, "entry 1: entry_not_utf8: the entry text is not valid UTF-8",
                export_path, sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit export --database '%.*s' --out '%s'",
             (int)(strlen(export_path) - strlen(".jsonl")), export_path, export_path);
    assert_int_equal(run_admin(arguments, output, sizeof(output)), 1);
    assert_null(strstr(output, "not an error"));
    assert_null(strstr(output, "failed"));

    /* Every row is written: 4 entries, their subtree hashes and the checkpoint. */
    file = fopen(export_path, "r");
    assert_non_null(file);
    while ((c = fgetc(file)) != EOF)
        lines += c == '\n';
    fclose(file);
    assert_true(lines > 4);

    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 1, "FAILED entry 1: entry_hash_mismatch");
}

/* An entry text with a NUL byte is valid UTF-8, but verify cannot read it back from a
 * JSON string, so export writes it as entry_hex too and verify names the entry. */
static void test_nul_in_text_exported(void **state)
{
    static const char sql[] =
        "UPDATE audit_entries SET entry = entry || CAST(x'610062' AS TEXT) WHERE idx = 1";
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];

    (void)state;
    export_copy("nul", sql, 1, "entry 1: entry_not_utf8: the entry text contains a NUL byte",
                export_path, sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 1, "FAILED entry 1: entry_hash_mismatch");
}

/* A column that is not valid UTF-8 is exported as X'hex', as a blob is. */
static void test_invalid_utf8_column_exported(void **state)
{
    (void)state;
    expect_verify("utf8-actor", "UPDATE audit_entries SET actor = CAST(x'ff' AS TEXT) "
                  "WHERE idx = 1", "", 1,
                  "FAILED entry 1: column_mismatch: the actor column is \"X'ff'\"");

    /* A column with a NUL byte, here a jurisdiction that the purge would match against
     * no rule of TH, is exported as hex and named, not as \u0000, which verify rejects
     * in a JSON string. */
    expect_verify("nul-jurisdiction", "UPDATE audit_entries SET jurisdiction = "
                  "CAST(x'544800' AS TEXT) WHERE idx = 1", "", 1,
                  "FAILED entry 1: column_mismatch: the jurisdiction column is "
                  "\"X'544800'\", but the entry's jurisdiction is \"TH\"");
}

/* An export without checkpoints fails with checkpoint_missing and nothing else. */
static void test_no_checkpoint_reported(void **state)
{
    char output[16384];
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];

    (void)state;
    export_copy("no-checkpoint", "DELETE FROM audit_checkpoints", 0, NULL, export_path,
                sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    assert_int_equal(run_admin(arguments, output, sizeof(output)), 1);
    assert_non_null(strstr(output, "FAILED checkpoint 0: checkpoint_missing"));
    assert_null(strstr(output, "runtime error"));
}

static void test_show_reads_entry_text(void **state)
{
    char path[PATH_MAX + 64];
    char output[16384];

    (void)state;
    edited_copy("show-columns",
                "UPDATE audit_entries SET kind = 'credential_revoked', actor = 'someone-else',"
                " relying_party = 'bank2', recorded_at = 1577836800 WHERE idx = 1",
                path, sizeof(path));

    /* The edited columns neither select the entry nor appear in its line. */
    run_show(path, "--kind credential_revoked", 1, output, sizeof(output));
    assert_null(strstr(output, "{\"index\":1,"));
    assert_non_null(strstr(output, "{\"index\":3,"));
    assert_non_null(strstr(output, "entry 1: column_mismatch"));
    run_show(path, "--rp bank2", 1, output, sizeof(output));
    assert_null(strstr(output, "{\"index\""));
    run_show(path, "--until 2021-01-01T00:00:00Z", 1, output, sizeof(output));
    assert_null(strstr(output, "{\"index\""));

    /* The hashed facts select it and are printed. */
    run_show(path,
             "--kind " EDITED_KIND " --rp " EDITED_RP " --since 2021-01-01T00:00:00Z", 1,
             output, sizeof(output));
    assert_non_null(strstr(output, "{\"index\":1,"));
    assert_non_null(strstr(output, "\"kind\":\"" EDITED_KIND "\",\"actor\":\"" EDITED_RP
                                   "\",\"relying_party\":\"" EDITED_RP "\","
                                   "\"jurisdiction\":\"TH\"}"));
    assert_null(strstr(output, "\"actor\":\"someone-else\""));
    assert_null(strstr(output, "\"time\":\"2020-01-01"));
}

/* An entry text without a readable time is reported, and the other rows still print. */
static void test_show_text_without_time(void **state)
{
    static const char *const texts[] = {"{}", "not json", "{\"time\":7}"};
    char path[PATH_MAX + 64];
    char sql[256];
    char output[16384];

    (void)state;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        snprintf(sql, sizeof(sql), "UPDATE audit_entries SET entry = '%s' WHERE idx = 1",
                 texts[i]);
        edited_copy("show-no-time", sql, path, sizeof(path));
        run_show(path, "", 1, output, sizeof(output));
        assert_non_null(strstr(output, "entry 1: the entry text has no readable time"));
        assert_non_null(strstr(output, "{\"index\":0,"));
        assert_non_null(strstr(output, "{\"index\":3,"));
    }
}

/* A purged entry of version 1 has only its columns left, and show marks them. */
static void test_show_marks_purged_version_1(void **state)
{
    char path[PATH_MAX + 64];
    char output[16384];

    (void)state;
    edited_copy_of(shared->mixed_path, "show-purged-v1",
                   "UPDATE audit_entries SET entry = NULL, purged_at = recorded_at + 86400"
                   " WHERE idx = 1",
                   path, sizeof(path));
    run_show(path, "--kind credential_issued", 0, output, sizeof(output));
    assert_non_null(strstr(output, "{\"index\":1,"));
    assert_non_null(strstr(output, "\"entry\":null,\"payload\":null"));
    assert_non_null(strstr(output, "\"columns_unprotected\":true"));
    assert_non_null(strstr(output, "{\"index\":3,"));
    assert_non_null(strstr(output, "NOTE 1 purged entries of version 1 shown"));
}

/* A purged entry of version 2 keeps its text, so show reads its facts from the text and
 * the edited columns neither select it nor appear in its line. */
static void test_show_purged_version_2_from_text(void **state)
{
    char path[PATH_MAX + 64];
    char output[16384];

    (void)state;
    edited_copy("show-purged-v2",
                "UPDATE audit_entries SET payload = NULL, purged_at = recorded_at + 86400"
                " WHERE idx = 2",
                path, sizeof(path));
    run_show(path, "--kind credential_issued", 0, output, sizeof(output));
    assert_non_null(strstr(output, "{\"index\":2,"));
    assert_non_null(strstr(output, "\\\"payload_sha256\\\":\\\""));
    assert_non_null(strstr(output, "\"payload\":null,\"purged_at\":"));
    assert_non_null(strstr(output, "\"kind\":\"credential_issued\""));
    assert_null(strstr(output, "columns_unprotected"));
    assert_null(strstr(output, "NOTE"));

    edited_copy("show-purged-v2-columns",
                "UPDATE audit_entries SET payload = NULL, purged_at = recorded_at + 86400,"
                " kind = 'credential_revoked', recorded_at = 1577836800 WHERE idx = 2",
                path, sizeof(path));
    run_show(path, "--kind credential_revoked", 1, output, sizeof(output));
    assert_non_null(strstr(output, "entry 2: column_mismatch: the recorded_at column is "
                                   "1577836800"));
    assert_null(strstr(output, "{\"index\":2,"));
    assert_non_null(strstr(output, "{\"index\":3,"));
}

/* The purged log: the node purged entries 0, 2 and 3 (SG) two days after it wrote them,
 * kept entry 1 (TH) under its own rule, and recorded the purge in entry 4. */
static void expect_purged_verify(const char *name, const char *sql, const char *options,
                                 int status, const char *expected)
{
    expect_verify_of(shared->purged_path, name, sql, options, status, expected);
}

static void test_verify_counts_and_checks_purges(void **state)
{
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];
    char output[16384];

    (void)state;
    expect_purged_verify("purged", NULL, "", 0, "OK 5 entries, 1 checkpoints");
    expect_purged_verify("purged", NULL, "", 0, "; 3 purged, indexes 0 to 3\n");
    expect_purged_verify("purged", NULL, "", 0,
                         "NOTE no retention period was stated for 3 purged entries");
    expect_purged_verify("purged", NULL, "--retention-days 2", 0,
                         "; 3 purged, indexes 0 to 3\n");
    expect_purged_verify("purged", NULL, "--retention-days 3", 1,
                         "FAILED entry 0: purged_early: the payload was purged 2 days and ");
    /* A jurisdiction's own period wins over the default, as on the node. */
    expect_purged_verify("purged", NULL, "--retention-days 1 --retention-days SG=0", 1,
                         "FAILED entry 0: purged_early: the payload was purged, but the stated "
                         "policy keeps the payloads of jurisdiction SG forever");
    expect_purged_verify("purged", NULL, "--retention-days 3 --retention-days SG=1", 0,
                         "; 3 purged, indexes 0 to 3\n");
    expect_purged_verify("purged", NULL, "--retention-days TH=1", 0,
                         "NOTE no retention period was stated for 3 purged entries");

    /* Entries of version 2 keep their hashed facts, so no column is left unprotected. */
    export_copy_of(shared->purged_path, "purged", NULL, 0, NULL, export_path,
                   sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    assert_int_equal(run_admin(arguments, output, sizeof(output)), 0);
    assert_null(strstr(output, "not covered by any hash"));

    /* export reports these rows too, and exits 1. */
    expect_export_and_verify("purged-no-time",
                             "UPDATE audit_entries SET payload = NULL WHERE idx = 3", 1, "", 1,
                             "FAILED entry 3: purge_invalid: the payload is gone, but the "
                             "purged_at column is null");
    expect_export_and_verify("purged-before",
                             "UPDATE audit_entries SET payload = NULL,"
                             " purged_at = recorded_at - 1 WHERE idx = 3",
                             1, "", 1, "FAILED entry 3: purge_invalid: the purged_at column");
}

/* A purge time must be that of a purge the log records, under whose rules the entry
 * expired, so the unhashed purged_at column cannot hide an early deletion. */
static void test_purge_must_be_logged(void **state)
{
    (void)state;
    /* Moved far into the future, a purge time would pass any stated period. */
    expect_purged_verify("purge-moved",
                         "UPDATE audit_entries SET purged_at = purged_at + 1000 * 86400"
                         " WHERE idx = 2",
                         "--retention-days 2", 1,
                         "FAILED entry 2: purge_unlogged: the purged_at column names ");
    expect_purged_verify("purge-moved",
                         "UPDATE audit_entries SET purged_at = purged_at + 1000 * 86400"
                         " WHERE idx = 2",
                         "", 1,
                         "but no later audit_payloads_purged entry records a purge at that "
                         "time");
    /* A payload deleted outside any purge, on a log that was never purged. */
    expect_verify("purge-forged",
                  "UPDATE audit_entries SET payload = NULL,"
                  " purged_at = recorded_at + 2 * 86400 WHERE idx IN (1, 2)",
                  "", 1, "FAILED entry 1: purge_unlogged");
    /* The TH entry was kept by its rule: the real purge's time does not cover it. */
    expect_purged_verify("purge-borrowed",
                         "UPDATE audit_entries SET payload = NULL, purged_at ="
                         " (SELECT purged_at FROM audit_entries WHERE idx = 0) WHERE idx = 1",
                         "", 1,
                         "FAILED entry 1: purge_unlogged: the purge that entry 4 records at ");
    /* The purge entry's payload names the rules, and is never purged. */
    expect_purged_verify("purge-entry-purged",
                         "UPDATE audit_entries SET payload = NULL,"
                         " purged_at = recorded_at + 86400 WHERE idx = 4",
                         "", 1,
                         "FAILED entry 4: purge_invalid: the entry records a purge, but its "
                         "payload, which names the purge time and rules, is gone");
}

/* Once its payload is purged, an entry of version 2 keeps its time and jurisdiction
 * under the leaf hash: moving either column, or deleting the text to free them, fails. */
static void test_purged_facts_stay_hashed(void **state)
{
    (void)state;
    expect_verify("purged-time-moved",
                  "UPDATE audit_entries SET payload = NULL,"
                  " purged_at = recorded_at + 2 * 86400,"
                  " recorded_at = recorded_at - 5 * 86400 WHERE idx = 1",
                  "--retention-days 3", 1,
                  "FAILED entry 1: column_mismatch: the recorded_at column is");
    expect_verify("purged-jurisdiction-moved",
                  "UPDATE audit_entries SET payload = NULL,"
                  " purged_at = recorded_at + 2 * 86400, jurisdiction = 'SG' WHERE idx = 1",
                  "--retention-days TH=30 --retention-days SG=1", 1,
                  "FAILED entry 1: column_mismatch: the jurisdiction column is \"SG\", but "
                  "the entry's jurisdiction is \"TH\"");
    expect_verify("purged-text-deleted",
                  "UPDATE audit_entries SET entry = NULL, payload = NULL,"
                  " purged_at = recorded_at + 40 * 86400 WHERE idx = 1",
                  "--retention-days 30", 1,
                  "FAILED entry 1: entry_version_invalid: the entry is of version 1 or has no "
                  "text, but entry 0 before it is of version 2");
}

/* After a key rollover, each checkpoint is checked with the key that it names, from any
 * --trust file; a missing key is named as such, not as a bad signature. */
static void test_verify_key_rollover(void **state)
{
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];

    (void)state;
    export_copy_of(shared->rolled_path, "rolled", NULL, 0, NULL, export_path,
                   sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 1,
                 "FAILED checkpoint 2: checkpoint_key_mismatch: the checkpoint names key ");
    expect_admin(arguments, 1, "which no --trust file contains");
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->later_trust_path);
    expect_admin(arguments, 1, "FAILED checkpoint 1: checkpoint_key_mismatch");
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s' --trust '%s'",
             export_path, shared->trust_path, shared->later_trust_path);
    expect_admin(arguments, 0, "OK 4 entries, 2 checkpoints");
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->both_trust_path);
    expect_admin(arguments, 0, "OK 4 entries, 2 checkpoints");
}

/* Writes text to NAME in the token folder, after the PEM blocks of the file at
 * prefix_path when that is not NULL, and leaves the new file's path in path. */
static void write_trust_file(const char *name, const char *prefix_path, const char *text,
                             char *path, size_t size)
{
    char *prefix = NULL;
    FILE *file;

    assert_in_range(snprintf(path, size, "%s/%s", shared->token.dir, name), 0, size - 1);
    if (prefix_path != NULL) {
        file = fopen(prefix_path, "r");
        assert_non_null(file);
        prefix = calloc(1, 65536);
        assert_non_null(prefix);
        assert_true(fread(prefix, 1, 65535, file) > 0);
        fclose(file);
    }
    file = fopen(path, "w");
    assert_non_null(file);
    fputs(prefix != NULL ? prefix : "", file);
    fputs(text, file);
    assert_int_equal(fclose(file), 0);
    free(prefix);
}

/* Writes the public half of key to NAME, after the PEM blocks of the file at prefix_path
 * when that is not NULL, and frees key. */
static void write_key_file(const char *name, const char *prefix_path, EVP_PKEY *key,
                           char *path, size_t size)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long len;

    assert_non_null(key);
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PUBKEY(bio, key), 1);
    len = BIO_get_mem_data(bio, &pem);
    assert_true(len > 0);
    pem = strndup(pem, (size_t)len);
    assert_non_null(pem);
    write_trust_file(name, prefix_path, pem, path, size);
    free(pem);
    BIO_free(bio);
    EVP_PKEY_free(key);
}

/* Runs 'audit verify' of the clean export with --trust trust_path, and expects status
 * and expected. */
static void expect_trust_file(const char *export_path, const char *trust_path, int status,
                              const char *expected)
{
    char arguments[4 * PATH_MAX];

    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             trust_path);
    expect_admin(arguments, status, expected);
}

/* A --trust file with a block that does not decode, or with only keys of types that sign
 * no checkpoint, is a usage error that names the block. A key left out silently would
 * make its checkpoints fail with checkpoint_key_mismatch, which names the wrong cause. */
static void test_trust_file_checked(void **state)
{
    char export_path[PATH_MAX + 128];
    char path[PATH_MAX + 64];
    char command[4 * PATH_MAX];
    char output[4096];

    (void)state;
    export_copy("trust-files", NULL, 0, NULL, export_path, sizeof(export_path));
    expect_trust_file(export_path, shared->trust_path, 0, "OK 4 entries");

    write_trust_file("bad-der.pem", shared->trust_path,
                     "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", path,
                     sizeof(path));
    expect_trust_file(export_path, path, 2,
                      "bad-der.pem: PEM block 2 (PUBLIC KEY): its content is not a valid DER "
                      "SubjectPublicKeyInfo");
    write_trust_file("bad-cert.pem", shared->trust_path,
                     "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", path,
                     sizeof(path));
    expect_trust_file(export_path, path, 2,
                      "bad-cert.pem: PEM block 2 (CERTIFICATE): its content is not a valid DER "
                      "X.509 certificate");
    write_trust_file("no-end.pem", shared->trust_path,
                     "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n", path,
                     sizeof(path));
    expect_trust_file(export_path, path, 2, "no-end.pem: PEM block 2 is malformed");

    write_key_file("ed25519.pem", NULL, EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), path,
                   sizeof(path));
    expect_trust_file(export_path, path, 2,
                      "ed25519.pem: no key that can sign checkpoints: PEM block 1 (PUBLIC "
                      "KEY): its key is of type ED25519 with 256 bits, but a node signs checkpoints "
                      "only with RSA keys of 2048 or 3072 bits or EC P-256 keys");
    write_key_file("p384.pem", NULL, EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"), path,
                   sizeof(path));
    expect_trust_file(export_path, path, 2,
                      "its key is of type EC with 384 bits on curve secp384r1");
    write_key_file("rsa1024.pem", NULL, EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024),
                   path, sizeof(path));
    expect_trust_file(export_path, path, 2, "its key is of type RSA with 1024 bits");
    /* A key of another type beside the node's, as a CA's certificate may be, is left out. */
    write_key_file("p384-and-node.pem", shared->trust_path,
                   EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"), path, sizeof(path));
    expect_trust_file(export_path, path, 0, "OK 4 entries");

    write_trust_file("private.pem", NULL,
                     "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", path,
                     sizeof(path));
    expect_trust_file(export_path, path, 2,
                      "private.pem: no PUBLIC KEY or CERTIFICATE block in PEM form (blocks "
                      "of other labels: 1)");
    write_trust_file("empty.pem", NULL, "", path, sizeof(path));
    expect_trust_file(export_path, path, 2,
                      "empty.pem: no PUBLIC KEY or CERTIFICATE block in PEM form (blocks of "
                      "other labels: 0)");
    expect_trust_file(export_path, "/nonexistent/audit.pub", 2,
                      "/nonexistent/audit.pub: cannot open the file: No such file or directory");

    /* An endless input ends after 1 MiB, rather than being read for ever. */
    snprintf(command, sizeof(command), "timeout 60 %s audit verify '%s' --trust /dev/zero",
             getenv("IDSVC_ADMIN"), export_path);
    assert_int_equal(test_run_capture(command, output, sizeof(output)), 2);
    assert_non_null(strstr(output, "/dev/zero: the file is larger than 1 MiB"));
}

/* prove checks the entry's text against the leaf hash that the proof covers, and with
 * --trust the key that the checkpoint names. */
static void test_prove_checks_entry_and_key(void **state)
{
    char path[PATH_MAX + 64];
    char arguments[4 * PATH_MAX];

    (void)state;
    snprintf(arguments, sizeof(arguments), "audit prove 1 --database '%s' --trust '%s'",
             shared->db_path, shared->trust_path);
    expect_admin(arguments, 0, "\"verified\":true");
    edited_copy("prove-text", "UPDATE audit_entries SET entry = replace(entry, 'TH', 'SG')"
                              " WHERE idx = 1",
                path, sizeof(path));
    snprintf(arguments, sizeof(arguments), "audit prove 1 --database '%s'", path);
    expect_admin(arguments, 1, "entry 1: entry_hash_mismatch: the entry text does not hash");
    snprintf(arguments, sizeof(arguments), "audit prove 1 --database '%s' --trust '%s'",
             shared->db_path, shared->later_trust_path);
    expect_admin(arguments, 1, "checkpoint 1: checkpoint_key_mismatch: it names key ");

    /* An entry of version 2 keeps its text when purged: a deleted one is named. */
    edited_copy("prove-text-deleted",
                "UPDATE audit_entries SET entry = NULL, payload = NULL,"
                " purged_at = recorded_at + 86400 WHERE idx = 1",
                path, sizeof(path));
    snprintf(arguments, sizeof(arguments), "audit prove 1 --database '%s'", path);
    expect_admin(arguments, 1, "entry 1: entry_version_invalid: the entry has no text");

    /* Bytes after a NUL are part of the stored text, so they must fail the hash. */
    edited_copy("prove-text-nul",
                "UPDATE audit_entries SET entry = CAST(CAST(entry AS BLOB) || X'00' ||"
                " CAST('{\"kind\":\"forged\"}' AS BLOB) AS TEXT) WHERE idx = 1",
                path, sizeof(path));
    snprintf(arguments, sizeof(arguments), "audit prove 1 --database '%s'", path);
    expect_admin(arguments, 1, "entry 1: entry_hash_mismatch: the entry text does not hash");

    /* A leaf hash stored as hex text is named as such, not as a failed store. */
    edited_copy("prove-leaf-text",
                "UPDATE audit_entries SET leaf_hash = hex(leaf_hash) WHERE idx = 1", path,
                sizeof(path));
    snprintf(arguments, sizeof(arguments), "audit prove 1 --database '%s'", path);
    expect_admin(arguments, 1,
                 "entry 1: leaf_hash_invalid: the stored leaf hash is not a blob of 32 bytes");
}

/* ---- Saved checkpoints and consistency proofs ------------------------------------- */

/* Writes the checkpoint of rank rank (0 the smallest) of the log at db_path to NAME.json
 * in the token folder, as GET /v1/audit/checkpoint returns it, and its path to path. */
static void save_checkpoint(const char *db_path, int rank, const char *name, char *path,
                            size_t size)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *statement = NULL;
    unsigned char signature[4 * 512 / 3 + 8];
    json_t *doc;

    assert_in_range(snprintf(path, size, "%s/%s.json", shared->token.dir, name), 0, size - 1);
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT tree_size, node_id, key_id, algorithm, "
                                        "body, signature FROM audit_checkpoints "
                                        "ORDER BY tree_size LIMIT 1 OFFSET ?",
                                        -1, &statement, NULL),
                     SQLITE_OK);
    sqlite3_bind_int(statement, 1, rank);
    assert_int_equal(sqlite3_step(statement), SQLITE_ROW);
    assert_in_range(sqlite3_column_bytes(statement, 5), 1, 512);
    EVP_EncodeBlock(signature, sqlite3_column_blob(statement, 5),
                    sqlite3_column_bytes(statement, 5));
    doc = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "tree_size",
                    (json_int_t)sqlite3_column_int64(statement, 0), "node",
                    sqlite3_column_text(statement, 1), "key_id",
                    sqlite3_column_text(statement, 2), "algorithm",
                    sqlite3_column_text(statement, 3), "body",
                    sqlite3_column_text(statement, 4), "signature", (const char *)signature);
    assert_non_null(doc);
    assert_int_equal(json_dump_file(doc, path, JSON_COMPACT), 0);
    json_decref(doc);
    sqlite3_finalize(statement);
    sqlite3_close(db);
}

static json_t *hash_hex_json(const audit_merkle_hash *hash)
{
    char hex[65];

    for (size_t i = 0; i < AUDIT_MERKLE_HASH_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", hash->bytes[i]);
    return json_string(hex);
}

/* Builds the consistency proof between the trees of from and to entries of the log at
 * db_path, as GET /v1/audit/proof/consistency returns it. */
static json_t *consistency_reply(const char *db_path, uint64_t from, uint64_t to)
{
    char error[512] = "";
    audit_store *tree_store = audit_store_open(db_path, true, error, sizeof(error));
    audit_merkle_source source;
    audit_merkle_proof proof;
    audit_merkle_tree_head first;
    audit_merkle_tree_head second;
    json_t *hashes = json_array();

    assert_non_null(tree_store);
    source = audit_store_source(tree_store);
    assert_int_equal(audit_merkle_consistency_proof(&source, from, to, &proof),
                     AUDIT_MERKLE_OK);
    assert_int_equal(audit_merkle_tree_head_compute(&source, from, &first), AUDIT_MERKLE_OK);
    assert_int_equal(audit_merkle_tree_head_compute(&source, to, &second), AUDIT_MERKLE_OK);
    audit_store_close(&tree_store);
    for (size_t i = 0; i < proof.count; i++)
        json_array_append_new(hashes, hash_hex_json(&proof.hashes[i]));
    return json_pack("{s:I, s:I, s:o, s:o, s:o}", "first_size", (json_int_t)from,
                     "second_size", (json_int_t)to, "first_root", hash_hex_json(&first.root),
                     "second_root", hash_hex_json(&second.root), "proof", hashes);
}

/* Writes doc to NAME.json in the token folder, releases it, and puts the path in path. */
static void write_json(json_t *doc, const char *name, char *path, size_t size)
{
    assert_non_null(doc);
    assert_in_range(snprintf(path, size, "%s/%s.json", shared->token.dir, name), 0, size - 1);
    assert_int_equal(json_dump_file(doc, path, JSON_COMPACT), 0);
    json_decref(doc);
}

/* Expects 'audit consistency OLD NEW --proof PROOF --trust' to exit with status and
 * print expected. */
static void expect_consistency(const char *old_path, const char *new_path,
                               const char *proof_path, int status, const char *expected)
{
    char arguments[5 * PATH_MAX];

    snprintf(arguments, sizeof(arguments), "audit consistency '%s' '%s' --proof '%s' "
             "--trust '%s'", old_path, new_path, proof_path, shared->trust_path);
    expect_admin(arguments, status, expected);
}

/* Expects 'audit verify' of an export of the log at db_path, with --saved saved_path,
 * to exit with status and print expected. */
static void expect_saved_verify(const char *db_path, const char *name, const char *saved_path,
                                int status, const char *expected)
{
    char export_path[PATH_MAX + 128];
    char arguments[5 * PATH_MAX];

    export_copy_of(db_path, name, NULL, 0, NULL, export_path, sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s' --saved '%s'",
             export_path, shared->trust_path, saved_path);
    expect_admin(arguments, status, expected);
}

/* A checkpoint saved at three entries is contained in the log of five, both by the
 * export and by the node's consistency proof between two saved checkpoints. */
static void test_saved_checkpoint_extended(void **state)
{
    char old_path[PATH_MAX + 64];
    char new_path[PATH_MAX + 64];
    char proof_path[PATH_MAX + 64];
    char expected[PATH_MAX + 160];

    (void)state;
    save_checkpoint(shared->extended_path, 0, "saved-3", old_path, sizeof(old_path));
    save_checkpoint(shared->extended_path, 1, "saved-5", new_path, sizeof(new_path));
    write_json(consistency_reply(shared->extended_path, 3, 5), "proof-3-5", proof_path,
               sizeof(proof_path));

    expect_consistency(old_path, new_path, proof_path, 0,
                       "OK the checkpoint of 5 entries with root ");
    expect_consistency(old_path, new_path, proof_path, 0, "extends the checkpoint of 3 entries");
    snprintf(expected, sizeof(expected), "OK saved checkpoint %s: the export's first 3 "
             "entries hash to its root", old_path);
    expect_saved_verify(shared->extended_path, "saved-extended", old_path, 0, expected);
    expect_saved_verify(shared->extended_path, "saved-extended", new_path, 0,
                        "the export's first 5 entries hash to its root");
}

/* The rewritten log verifies on its own, because its checkpoints were deleted and the
 * node signed a new one over the rewrite, but not against the checkpoint saved before. */
static void test_saved_checkpoint_rewritten_log(void **state)
{
    char old_path[PATH_MAX + 64];
    char new_path[PATH_MAX + 64];
    char proof_path[PATH_MAX + 64];
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];

    (void)state;
    save_checkpoint(shared->extended_path, 0, "saved-3", old_path, sizeof(old_path));
    save_checkpoint(shared->rewritten_path, 0, "rewritten-6", new_path, sizeof(new_path));
    write_json(consistency_reply(shared->rewritten_path, 3, 6), "proof-rewritten", proof_path,
               sizeof(proof_path));

    export_copy_of(shared->rewritten_path, "rewritten-alone", NULL, 0, NULL, export_path,
                   sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 0, "OK 6 entries, 1 checkpoints");

    expect_saved_verify(shared->rewritten_path, "rewritten-saved", old_path, 1,
                        ": checkpoint_root_mismatch: the export's first 3 entries do not "
                        "hash to the saved root");
    expect_consistency(old_path, new_path, proof_path, 1, ": first_root_mismatch: ");
}

/* The disguised log verifies on its own, because its only checkpoint signs version 2
 * from entry 4 on, but the checkpoint saved before signs version 2 from entry 2, whose
 * text is gone although its leaf hash is unchanged. */
static void test_saved_checkpoint_version_line(void **state)
{
    char saved_path[PATH_MAX + 64];
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];

    (void)state;
    save_checkpoint(shared->mixed_path, 0, "saved-mixed", saved_path, sizeof(saved_path));
    export_copy_of(shared->disguised_path, "disguised-alone", NULL, 0, NULL, export_path,
                   sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 0, "OK 5 entries, 1 checkpoints");

    expect_saved_verify(shared->disguised_path, "disguised-saved", saved_path, 1,
                        "FAILED entry 2: entry_version_invalid: saved checkpoint ");
    expect_saved_verify(shared->disguised_path, "disguised-saved", saved_path, 1,
                        " signs that the entries from index 2 on are of version 2, but this "
                        "one is of version 1 or has no text");
    expect_saved_verify(shared->mixed_path, "mixed-saved", saved_path, 0,
                        "the export's first 4 entries hash to its root");
}

/* The disguised log's checkpoint extends the saved one by a valid proof, because the
 * leaf hashes stayed, but it signs version 2 from another index. */
static void test_consistency_version_line(void **state)
{
    char old_path[PATH_MAX + 64];
    char new_path[PATH_MAX + 64];
    char proof_path[PATH_MAX + 64];

    (void)state;
    save_checkpoint(shared->mixed_path, 0, "saved-mixed", old_path, sizeof(old_path));
    save_checkpoint(shared->disguised_path, 0, "disguised-5", new_path, sizeof(new_path));
    write_json(consistency_reply(shared->disguised_path, 4, 5), "proof-disguised", proof_path,
               sizeof(proof_path));
    expect_consistency(old_path, new_path, proof_path, 1,
                       ": checkpoint_version_mismatch: the checkpoint signs that entries of "
                       "version 2 start at index 4, but the old one signs index 2");

    /* The same proof between two checkpoints of the unchanged log passes. */
    save_checkpoint(shared->mixed_path, 0, "mixed-again", new_path, sizeof(new_path));
    write_json(consistency_reply(shared->mixed_path, 4, 4), "proof-mixed", proof_path,
               sizeof(proof_path));
    expect_consistency(old_path, new_path, proof_path, 0,
                       "OK the checkpoint of 4 entries with root ");
}

/* Edits the proof of 3 to 5 entries by edit and expects 'audit consistency' to fail
 * with expected. */
static void expect_edited_proof(const char *name, void (*edit)(json_t *proof),
                                const char *expected)
{
    char old_path[PATH_MAX + 64];
    char new_path[PATH_MAX + 64];
    char proof_path[PATH_MAX + 64];
    json_t *reply = consistency_reply(shared->extended_path, 3, 5);

    assert_non_null(reply);
    edit(json_object_get(reply, "proof"));
    save_checkpoint(shared->extended_path, 0, "saved-3", old_path, sizeof(old_path));
    save_checkpoint(shared->extended_path, 1, "saved-5", new_path, sizeof(new_path));
    write_json(reply, name, proof_path, sizeof(proof_path));
    expect_consistency(old_path, new_path, proof_path, 1, expected);
}

/* Changes the first hex digit of the proof's last hash. */
static void change_last_hash(json_t *proof)
{
    size_t last = json_array_size(proof) - 1;
    char *hex = strdup(json_string_value(json_array_get(proof, last)));

    assert_non_null(hex);
    hex[0] = hex[0] == '0' ? '1' : '0';
    json_array_set_new(proof, last, json_string(hex));
    free(hex);
}

static void drop_last_hash(json_t *proof)
{
    assert_int_equal(json_array_remove(proof, json_array_size(proof) - 1), 0);
}

static void append_hash(json_t *proof)
{
    json_array_append_new(proof, json_string("00000000000000000000000000000000"
                                              "00000000000000000000000000000000"));
}

static void append_bad_hash(json_t *proof)
{
    json_array_append_new(proof, json_string("not hex"));
}

/* A proof with a changed hash, a missing or an extra hash, or a hash that is not hex
 * fails with its reason. */
static void test_consistency_proof_tampered(void **state)
{
    (void)state;
    expect_edited_proof("proof-changed", change_last_hash, ": second_root_mismatch: ");
    expect_edited_proof("proof-short", drop_last_hash, ": proof_too_short: ");
    expect_edited_proof("proof-long", append_hash, ": proof_too_long: ");
    expect_edited_proof("proof-not-hex", append_bad_hash,
                        ": proof_invalid: a proof hash is not 64 hex digits");
}

/* Checkpoints passed in the wrong order, a proof for other sizes, a saved checkpoint
 * with a changed signature or covering more than the export, and a file that is not a
 * checkpoint each fail with their reason. */
static void test_saved_checkpoint_rejections(void **state)
{
    char old_path[PATH_MAX + 64];
    char new_path[PATH_MAX + 64];
    char proof_path[PATH_MAX + 64];
    char bad_path[PATH_MAX + 64];
    char *text;
    json_t *doc;

    (void)state;
    save_checkpoint(shared->extended_path, 0, "saved-3", old_path, sizeof(old_path));
    save_checkpoint(shared->extended_path, 1, "saved-5", new_path, sizeof(new_path));
    write_json(consistency_reply(shared->extended_path, 3, 5), "proof-3-5", proof_path,
               sizeof(proof_path));
    expect_consistency(new_path, old_path, proof_path, 1,
                       ": first_size_too_large: the old checkpoint signs 5 entries, more than "
                       "the 3 of the new one");

    write_json(consistency_reply(shared->extended_path, 2, 5), "proof-2-5", bad_path,
               sizeof(bad_path));
    expect_consistency(old_path, new_path, bad_path, 1,
                       ": proof_invalid: first_size is 2, but its checkpoint signs 3 entries");

    /* The signature of the saved checkpoint with its first base64 character changed. */
    doc = json_load_file(old_path, 0, NULL);
    assert_non_null(doc);
    text = strdup(json_string_value(json_object_get(doc, "signature")));
    assert_non_null(text);
    text[0] = text[0] == 'A' ? 'B' : 'A';
    json_object_set_new(doc, "signature", json_string(text));
    free(text);
    write_json(doc, "saved-3-bad-signature", bad_path, sizeof(bad_path));
    expect_consistency(bad_path, new_path, proof_path, 1,
                       ": checkpoint_signature_invalid: the signature does not verify");
    expect_saved_verify(shared->extended_path, "saved-bad-signature", bad_path, 1,
                        ": checkpoint_signature_invalid: the signature does not verify");

    expect_saved_verify(shared->db_path, "saved-beyond", new_path, 1,
                        ": checkpoint_beyond_export: the checkpoint signs 5 entries, but the "
                        "export holds 4");
    write_json(json_pack("{s:s}", "body", "idsvc-audit-checkpoint/v1\n"), "not-checkpoint",
               bad_path, sizeof(bad_path));
    expect_consistency(bad_path, new_path, proof_path, 1,
                       ": checkpoint_invalid: the body, algorithm or signature is missing");
}

/* Every node's tree of 0 entries has the same root, so a checkpoint of 0 entries that
 * another node signed with a trusted key differs from this node's only by its node line.
 * Neither as a saved checkpoint nor as a line added to the export may it pass. */
static void test_other_node_checkpoint_rejected(void **state)
{
    char saved_path[PATH_MAX + 64];
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];
    json_t *saved;
    json_t *line;
    char *text;
    FILE *file;

    (void)state;
    save_checkpoint(shared->other_node_path, 0, "other-node-0", saved_path,
                    sizeof(saved_path));
    saved = json_load_file(saved_path, 0, NULL);
    assert_non_null(saved);
    line = json_pack("{s:s, s:i, s:O, s:O, s:O}", "type", "checkpoint", "id", 99, "algorithm",
                     json_object_get(saved, "algorithm"), "body", json_object_get(saved, "body"),
                     "signature", json_object_get(saved, "signature"));
    assert_non_null(line);
    text = json_dumps(line, JSON_COMPACT);
    assert_non_null(text);
    export_copy("other-node-line", NULL, 0, NULL, export_path, sizeof(export_path));
    file = fopen(export_path, "a");
    assert_non_null(file);
    fprintf(file, "%s\n", text);
    assert_int_equal(fclose(file), 0);
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 1,
                 "FAILED checkpoint 1: checkpoint_node_mismatch: the checkpoint names node "
                 "https://node.example/idsvc, but checkpoint 99 of 0 entries before it names "
                 "https://other.example/idsvc");

    expect_saved_verify(shared->db_path, "saved-other-node", saved_path, 1,
                        "other-node-0.json: checkpoint_node_mismatch: the checkpoint names "
                        "node https://other.example/idsvc, but the export's checkpoint 1 of 4 "
                        "entries names https://node.example/idsvc");
    free(text);
    json_decref(line);
    json_decref(saved);
}

/* Runs idsvc-admin with arguments under a time limit, for inputs that never end, and
 * expects status and expected. */
static void expect_admin_bounded(const char *arguments, int status, const char *expected)
{
    char command[7 * PATH_MAX];
    char output[4096];
    int actual;

    snprintf(command, sizeof(command), "timeout 60 %s %s", getenv("IDSVC_ADMIN"), arguments);
    actual = test_run_capture(command, output, sizeof(output));
    if (actual != status || strstr(output, expected) == NULL)
        fprintf(stderr, "%s: expected status %d and \"%s\", got %d: %s\n", command, status,
                expected, actual, output);
    assert_int_equal(actual, status);
    assert_non_null(strstr(output, expected));
}

/* The input files of verify and consistency are read to a bound. An endless or huge
 * input fails with its reason after 1 MiB rather than filling the memory. A folder is an
 * unreadable file (exit status 2), not a file that is not JSON. */
static void test_input_files_bounded(void **state)
{
    char saved_path[PATH_MAX + 64];
    char export_path[PATH_MAX + 128];
    char arguments[6 * PATH_MAX];

    (void)state;
    save_checkpoint(shared->extended_path, 0, "bounded-3", saved_path, sizeof(saved_path));
    snprintf(arguments, sizeof(arguments), "audit verify /dev/zero --trust '%s'",
             shared->trust_path);
    expect_admin_bounded(arguments, 1,
                         "FAILED line 1: export_invalid: the line is longer than 1 MiB");

    snprintf(arguments, sizeof(arguments), "audit consistency /dev/zero '%s' --trust '%s'",
             saved_path, shared->trust_path);
    expect_admin_bounded(arguments, 1,
                         "FAILED saved checkpoint /dev/zero: checkpoint_invalid: the file is "
                         "larger than 1 MiB");
    snprintf(arguments, sizeof(arguments), "audit consistency '%s' '%s' --trust '%s'",
             shared->token.dir, saved_path, shared->trust_path);
    expect_admin_bounded(arguments, 2, ": Is a directory");
    snprintf(arguments, sizeof(arguments),
             "audit consistency '%s' '%s' --proof '%s' --trust '%s'", saved_path, saved_path,
             shared->token.dir, shared->trust_path);
    expect_admin_bounded(arguments, 2, ": Is a directory");

    export_copy_of(shared->extended_path, "bounded-export", NULL, 0, NULL, export_path,
                   sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s' --saved /dev/zero",
             export_path, shared->trust_path);
    expect_admin_bounded(arguments, 1,
                         "FAILED saved checkpoint /dev/zero: checkpoint_invalid: the file is "
                         "larger than 1 MiB");
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s' --saved '%s'",
             export_path, shared->trust_path, shared->token.dir);
    expect_admin_bounded(arguments, 2, ": Is a directory");

    /* The database in place of its export is named as such. */
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'",
             shared->extended_path, shared->trust_path);
    expect_admin_bounded(arguments, 1,
                         "FAILED line 1: export_invalid: the file is an SQLite database, not "
                         "an export");
}

/* --out naming the database, through its own path, a hard link or its -wal file, would
 * truncate the audit log, so export refuses it and leaves the database as it was. */
static void test_export_keeps_database(void **state)
{
    char path[PATH_MAX + 64];
    char other[PATH_MAX + 80];
    char arguments[4 * PATH_MAX];
    char command[3 * PATH_MAX];
    char export_path[PATH_MAX + 96];

    (void)state;
    edited_copy("export-self", NULL, path, sizeof(path));
    snprintf(arguments, sizeof(arguments), "audit export --database '%s' --out '%s'", path,
             path);
    expect_admin(arguments, 2, "is the database");

    snprintf(other, sizeof(other), "%s.link", path);
    snprintf(command, sizeof(command), "ln '%s' '%s'", path, other);
    assert_int_equal(test_run(command), 0);
    snprintf(arguments, sizeof(arguments), "audit export --database '%s' --out '%s'", path,
             other);
    expect_admin(arguments, 2, "writing it would destroy the audit log; choose another file");

    snprintf(other, sizeof(other), "%s-wal", path);
    snprintf(command, sizeof(command), "printf x > '%s'", other);
    assert_int_equal(test_run(command), 0);
    snprintf(arguments, sizeof(arguments), "audit export --database '%s' --out '%s'", path,
             other);
    expect_admin(arguments, 2, "is the database");
    remove(other);

    /* The database still exports and verifies whole. */
    snprintf(export_path, sizeof(export_path), "%s.jsonl", path);
    snprintf(arguments, sizeof(arguments), "audit export --database '%s' --out '%s'", path,
             export_path);
    expect_admin(arguments, 0, "");
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 0, "OK 4 entries");
}

/* Copies the log at source_path to NAME.db, appends event to the copy as a node without
 * a signer would, and exports the copy into export_path. */
static void export_with_entry(const char *source_path, const char *name,
                              const audit_event *event, char *export_path, size_t size)
{
    char path[PATH_MAX + 64];
    char arguments[4 * PATH_MAX];
    char error[512] = "";
    audit_log_options options = {.node_id = "https://node.example/idsvc",
                                 .jurisdiction = "SG"};
    audit_log *log;

    edited_copy_of(source_path, name, NULL, path, sizeof(path));
    options.database_path = path;
    log = audit_log_open(&options, error, sizeof(error));
    if (log == NULL)
        fail_msg("audit_log_open: %s", error);
    assert_int_equal(audit_record(log, event, NULL), AUDIT_OK);
    audit_log_close(&log);

    snprintf(export_path, size, "%s.jsonl", path);
    snprintf(arguments, sizeof(arguments), "audit export --database '%s' --out '%s'", path,
             export_path);
    expect_admin(arguments, 0, "");
}

/* A purge entry whose purged_at is not its own hashed time, as a node writes it, is
 * forged: it could otherwise cover payloads deleted at any time it names. */
static void test_forged_purge_entry_rejected(void **state)
{
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];
    time_t now = time(NULL);
    json_t *payload = json_pack("{s:I, s:[{s:n, s:i}]}", "purged_at",
                                (json_int_t)now + 5 * 86400, "rules", "jurisdiction",
                                "days", 1);
    audit_event forged = {.kind = AUDIT_PURGE_KIND, .time = now, .payload = payload};

    (void)state;
    export_with_entry(shared->purged_path, "forged-purge", &forged, export_path,
                      sizeof(export_path));
    json_decref(payload);
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 1,
                 "FAILED entry 5: purge_invalid: the purge entry's purged_at (");
}

/* Appends an audit_anchor_reset entry to a copy of the log, as a node writes one after
 * a reset, with root as the previous root of 2 entries. Exports the copy into
 * export_path. */
static void export_with_reset(const char *name, const char *root, char *export_path,
                              size_t size)
{
    json_t *payload = json_pack("{s:s, s:s, s:i, s:s, s:s}", "reset_at",
                                "2026-01-31T12:00:00Z", "log_id", "ab", "previous_size", 2,
                                "previous_root", root, "previous_log_id", "ab");
    audit_event reset = {.kind = "audit_anchor_reset", .payload = payload};

    export_with_entry(shared->db_path, name, &reset, export_path, size);
    json_decref(payload);
}

/* A clock_behind_accepted entry gets a NOTE line with both times, and one whose payload
 * lacks them, as after a purge, still gets a NOTE line. */
static void test_clock_acceptance_noted(void **state)
{
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];
    json_t *payload = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "wall_clock",
                                "2026-01-30T12:00:00Z", "recorded_time",
                                "2026-01-31T12:00:00Z", "recorded_by", "checkpoint",
                                "checkpoint_id", 2, "behind_seconds", 86400,
                                "tolerance_seconds", 60);
    audit_event accepted = {.kind = "clock_behind_accepted", .payload = payload};

    (void)state;
    export_with_entry(shared->db_path, "clock-accepted", &accepted, export_path,
                      sizeof(export_path));
    json_decref(payload);
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 0, "NOTE entry 4 records a start whose wall clock "
                               "2026-01-30T12:00:00Z was 86400 seconds behind "
                               "2026-01-31T12:00:00Z, the newest time in the log, let pass "
                               "with --accept-clock-behind");

    accepted.payload = NULL;
    export_with_entry(shared->db_path, "clock-accepted-empty", &accepted, export_path,
                      sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 0, "NOTE entry 4 records a start whose wall clock was behind "
                               "the newest time in the log, let pass with "
                               "--accept-clock-behind; its payload with both times is "
                               "purged or unreadable");
}

/* A reset within one log whose previous anchor covered only entries before it: those
 * entries must still hash to the previous anchor's root. */
static void test_reset_root_checked(void **state)
{
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];
    char root[65];
    char error[512] = "";
    audit_store *tree_store = audit_store_open(shared->db_path, true, error, sizeof(error));
    audit_merkle_source source;
    audit_merkle_tree_head head;

    (void)state;
    assert_non_null(tree_store);
    source = audit_store_source(tree_store);
    assert_int_equal(audit_merkle_tree_head_compute(&source, 2, &head), AUDIT_MERKLE_OK);
    audit_hash_hex(&head.root, root);
    audit_store_close(&tree_store);

    export_with_reset("reset-kept", root, export_path, sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 0, "NOTE entry 4 records an anchor reset; the previous anchor "
                               "covered 2 entries of this log");

    memset(root, '0', 64);
    export_with_reset("reset-rewritten", root, export_path, sizeof(export_path));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 1, "FAILED entry 4: reset_root_mismatch: the reset records that "
                               "the previous anchor signed root 0000000000000000... for 2 "
                               "entries");
}

/* Each checkpoint signs where entries of version 2 start, so deleting the texts of the
 * first ones cannot make them pass for purged entries of version 1. */
static void test_first_texts_deleted(void **state)
{
    (void)state;
    expect_verify("first-text-deleted",
                  "UPDATE audit_entries SET entry = NULL, payload = NULL,"
                  " purged_at = recorded_at + 40 * 86400 WHERE idx = 0",
                  "", 1,
                  "FAILED entry 0: entry_version_invalid: checkpoint 1 signs that the entries "
                  "from index 0 on are of version 2, but this one is of version 1 or has no "
                  "text: its text was deleted");
    expect_mixed_verify("mixed-version-2-deleted",
                        "UPDATE audit_entries SET entry = NULL, payload = NULL,"
                        " purged_at = recorded_at + 40 * 86400 WHERE idx >= 2",
                        "", 1,
                        "FAILED entry 2: entry_version_invalid: checkpoint 1 signs that the "
                        "entries from index 2 on are of version 2");
}

static void test_payload_tamper_detected(void **state)
{
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];

    (void)state;
    expect_verify("payload-edited",
                  "UPDATE audit_entries SET payload = '{\"subject\":\"00ff\"}' WHERE idx = 1",
                  "", 1,
                  "FAILED entry 1: payload_hash_mismatch: the payload does not hash to the "
                  "payload_sha256 of the entry text");
    expect_export_and_verify("payload-deleted",
                             "UPDATE audit_entries SET payload = NULL WHERE idx = 1", 1, "", 1,
                             "FAILED entry 1: purge_invalid: the payload is gone, but the "
                             "purged_at column is null");
    expect_mixed_verify("payload-on-version-1",
                        "UPDATE audit_entries SET payload = '{}' WHERE idx = 0", "", 1,
                        "FAILED entry 0: payload_hash_mismatch: a payload is stored, but the "
                        "entry has no text of version 2");

    /* A payload that is not valid UTF-8 is exported as payload_hex, and verify hashes
     * those bytes. */
    export_copy("payload-utf8",
                "UPDATE audit_entries SET payload = CAST(x'ff' AS TEXT) WHERE idx = 1", 1,
                "entry 1: payload_not_utf8: the payload text is not valid UTF-8, so the line "
                "carries its bytes as payload_hex",
                export_path, sizeof(export_path));
    assert_non_null(strstr(export_path, ".jsonl"));
    assert_true(line_containing(export_path, "\"payload_hex\":\"ff\"") > 0);
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 1, "FAILED entry 1: payload_hash_mismatch");
}

/* A log whose first entries a node wrote before payload digests verifies, and its
 * purged entries of version 1 keep the old rule: only their columns are left. */
static void test_verify_mixed_versions(void **state)
{
    char export_path[PATH_MAX + 128];
    unsigned long line;

    (void)state;
    expect_mixed_verify("mixed-clean", NULL, "", 0, "OK 4 entries, 1 checkpoints");
    expect_mixed_verify("mixed-clean", NULL, "", 0, "; 0 purged\n");

    /* Entry 0 contains its payload in its text; entry 2 names its payload by digest. */
    export_copy_of(shared->mixed_path, "mixed-lines", NULL, 0, NULL, export_path,
                   sizeof(export_path));
    line = line_containing(export_path, "{\"type\":\"entry\",\"index\":0,");
    assert_int_equal(line_containing(export_path, "\\\"payload\\\":{\\\"subject\\\""), line);
    assert_int_equal(line_containing(export_path, "\"payload\":null,\"columns\""), line);
    line = line_containing(export_path, "{\"type\":\"entry\",\"index\":2,");
    assert_int_equal(line_containing(export_path, "\"payload\":\"{}\""), line);

    /* The node purged the whole text of entries 0 and 1, recorded ten days before, and
     * the payloads of 2 and 3, two days after they were recorded. */
    expect_verify_of(shared->mixed_purged_path, "mixed-purged", NULL, "--retention-days 2",
                     0, "; 4 purged, indexes 0 to 3\n");
    expect_verify_of(shared->mixed_purged_path, "mixed-purged", NULL, "--retention-days 2",
                     0,
                     "NOTE the recorded_at, kind, actor, relying_party and jurisdiction "
                     "columns of the 2 purged entries of version 1 are not covered by any "
                     "hash");
    expect_verify_of(shared->mixed_purged_path, "mixed-purged", NULL, "--retention-days 3",
                     1, "FAILED entry 2: purged_early: the payload was purged 2 days");
    expect_verify_of(shared->mixed_purged_path, "mixed-purged", NULL, "--retention-days 13",
                     1, "FAILED entry 0: purged_early: the entry text was purged 12 days");
}

/* idsvc-admin opens the database read-only and cannot migrate it, so it reads a
 * database without the payload column of schema version 7 as one of version 1 entries. */
static void test_show_reads_schema_6_database(void **state)
{
    char path[PATH_MAX + 64];
    char output[16384];

    (void)state;
    edited_copy_of(shared->mixed_path, "schema-6",
                   "DELETE FROM audit_entries WHERE idx >= 2;"
                   "ALTER TABLE audit_entries DROP COLUMN payload",
                   path, sizeof(path));
    run_show(path, "", 0, output, sizeof(output));
    assert_non_null(strstr(output, "{\"index\":0,"));
    assert_non_null(strstr(output, "{\"index\":1,"));
    assert_non_null(strstr(output, "\"payload\":null"));
    assert_null(strstr(output, "reading audit_entries failed"));
}

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define NODE_LINE(level, index)                                                          \
    "{\"type\":\"node\",\"level\":" level ",\"index\":" index ",\"hash\":\"" ZERO_HASH "\"}"

/* A node line that is malformed, or covers entries past the end of the export, is named
 * by its own line, never by a line or entry number computed from its fields. */
static void test_verify_names_bad_node_line(void **state)
{
    static const struct {
        const char *name;
        const char *line;
        const char *before; /* the expected output up to the line number */
        const char *after;
    } cases[] = {
        {"node-level-70", NODE_LINE("70", "0"),
         "FAILED line ", ": export_invalid: a node needs a level from 1 to 63"},
        {"node-level-0", NODE_LINE("0", "0"),
         "FAILED line ", ": export_invalid: a node needs a level from 1 to 63"},
        {"node-index-negative", NODE_LINE("1", "-1"),
         "FAILED line ", ": export_invalid: a node needs a level from 1 to 63"},
        /* index * 2^level wraps past 2^64 */
        {"node-index-overflow", NODE_LINE("3", "9223372036854775807"),
         "FAILED line ", ": node_beyond_export: the node of level 3, index "
         "9223372036854775807 covers entries past the end of the export, which has 4 "
         "entries"},
        {"node-level-63", NODE_LINE("63", "1"),
         "FAILED line ", ": node_beyond_export: the node of level 63, index 1"},
        /* entries 4 and 5 of a log of 4 */
        {"node-past-end", NODE_LINE("1", "2"),
         "FAILED line ", ": node_beyond_export: the node of level 1, index 2"},
        {"node-hash", NODE_LINE("1", "1"),
         "FAILED entry 2: node_hash_mismatch: the stored hash of level 1, index 1 (line ",
         ") differs from the rebuilt one"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_appended_line_rejected(cases[i].name, cases[i].line, cases[i].before,
                                      cases[i].after);
}

/* Deleting the last entry leaves the subtrees above it in the export: the first of them
 * is named by its line. */
static void test_verify_names_node_past_deleted_entry(void **state)
{
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];
    char expected[256];

    (void)state;
    export_copy("deleted-last", "DELETE FROM audit_entries WHERE idx = 3", 0, NULL,
                export_path, sizeof(export_path));
    snprintf(expected, sizeof(expected),
             "FAILED line %lu: node_beyond_export: the node of level 1, index 1 covers "
             "entries past the end of the export, which has 3 entries",
             line_containing(export_path, "\"level\":1,\"index\":1,"));
    snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'", export_path,
             shared->trust_path);
    expect_admin(arguments, 1, expected);
}

/* A checkpoint line without an id of 0 or more is named by its line. */
static void test_verify_names_bad_checkpoint_id(void **state)
{
    static const char *const ids[] = {"-1", "\"1\"", "null"};
    char export_path[PATH_MAX + 128];
    char line[16384];
    FILE *file;

    (void)state;
    export_copy("checkpoint-id", NULL, 0, NULL, export_path, sizeof(export_path));
    file = fopen(export_path, "r");
    assert_non_null(file);
    while (fgets(line, sizeof(line), file) != NULL && strstr(line, "\"checkpoint\"") == NULL)
        ;
    fclose(file);
    assert_non_null(strstr(line, "\"type\":\"checkpoint\",\"id\":1,"));

    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char edited[16384];
        const char *rest = strstr(line, "\"id\":1,") + strlen("\"id\":1,");

        line[strcspn(line, "\n")] = '\0';
        snprintf(edited, sizeof(edited), "{\"type\":\"checkpoint\",\"id\":%s,%s", ids[i],
                 rest);
        expect_appended_line_rejected("checkpoint-id", edited, "FAILED line ",
                                      ": export_invalid: a checkpoint needs an integer id "
                                      "of 0 or more");
    }
}

/* A NUL byte in a line, also in a last line without a newline, and a member name that
 * appears twice are rejected at their line, not read past or read one way. */
static void test_verify_rejects_nul_and_duplicates(void **state)
{
    static const struct {
        const char *name;
        const char *bytes;
        size_t len;
        const char *after;
    } cases[] = {
        {"nul-last", "\0{\"type\":\"bogus\"}", 17, ": export_invalid: the line contains a NUL"},
        {"nul-middle", "{\"type\":\0\"node\"}\n", 17,
         ": export_invalid: the line contains a NUL"},
        {"duplicate", "{\"type\":\"entry\",\"type\":\"node\"}\n", 31,
         ": export_invalid: a member name appears twice"},
    };
    char export_path[PATH_MAX + 128];
    char arguments[4 * PATH_MAX];
    char expected[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned long number;
        FILE *file;

        export_copy(cases[i].name, NULL, 0, NULL, export_path, sizeof(export_path));
        number = count_lines(export_path) + 1;
        file = fopen(export_path, "a");
        assert_non_null(file);
        assert_int_equal(fwrite(cases[i].bytes, 1, cases[i].len, file), cases[i].len);
        assert_int_equal(fclose(file), 0);
        snprintf(expected, sizeof(expected), "FAILED line %lu%s", number, cases[i].after);
        snprintf(arguments, sizeof(arguments), "audit verify '%s' --trust '%s'",
                 export_path, shared->trust_path);
        expect_admin(arguments, 1, expected);
    }
    expect_appended_line_rejected("not-json-line", "{\"type\":", "FAILED line ",
                                  ": export_invalid: the line is not JSON (column ");
}

static void test_number_arguments_strict(void **state)
{
    static const struct {
        const char *arguments;
        const char *expected;
    } cases[] = {
        {"audit prove 1 --database x.db --size 0",
         "--size must be a whole number from 1 to 9223372036854775807, not \"0\""},
        {"audit prove 1 --database x.db --size 1x", "--size must be a whole number"},
        {"audit prove 1 --database x.db --size -1", "--size must be a whole number"},
        {"audit prove 1 --database x.db --size 18446744073709551616",
         "--size must be a whole number"},
        {"audit prove 1 --database x.db --size 9223372036854775808",
         "--size must be a whole number"},
        {"audit prove 99999999999999999999 --database x.db",
         "INDEX must be a whole number from 0 to 9223372036854775806"},
        {"audit prove -1 --database x.db", "INDEX must be a whole number from 0 to"},
        {"audit prove 1x --database x.db", "INDEX must be a whole number"},
        {"audit prove ' 1' --database x.db", "INDEX must be a whole number"},
        {"audit prove 3 --database x.db --size 3",
         "INDEX 3 is not in a tree of --size 3 entries; INDEX must be from 0 to 2"},
        {"audit show --database x.db --limit 0",
         "--limit must be a whole number from 1 to 9223372036854775807, not \"0\""},
        {"audit show --database x.db --limit +5", "--limit must be a whole number"},
        {"audit show --database x.db --since -5",
         "--since must be an RFC 3339 UTC time such as 2026-01-31T12:00:00Z, or a whole "
         "number of seconds since 1970 from 0 to 9223372036854775807, not \"-5\""},
        {"audit show --database x.db --until 2026-02-30T00:00:00Z",
         "--until must be an RFC 3339 UTC time"},
        {"audit verify x.jsonl --trust x.pem --retention-days 36601",
         "--retention-days must be a whole number from 0 to 36600, not \"36601\""},
        {"audit verify x.jsonl --trust x.pem --retention-days SG=2d",
         "--retention-days must be a whole number from 0 to 36600, not \"2d\""},
        {"audit verify x.jsonl --trust x.pem --retention-days sg=4",
         "--retention-days: \"sg\" is not an officially assigned ISO 3166-1 alpha-2 code"},
        {"audit verify x.jsonl --trust x.pem --retention-days SGP=4",
         "--retention-days: \"SGP\" is not an officially assigned"},
        {"audit verify x.jsonl --trust x.pem --retention-days 'S G=4'",
         "--retention-days: \"S G\" is not an officially assigned"},
        {"policy diff --limit 1x a.xml b.xml",
         "--limit must be a whole number from 1 to 4294967295, not \"1x\""},
        {"saml sign --valid ' 5'", "--valid must be a number of seconds from 1 to 31622400"},
        {"saml verify --min-rsa-bits 2048x", "--min-rsa-bits must be a whole number from 512 "
                                             "to 16384"},
        {"keys certificate --days 0x10", "--days must be a whole number from 1 to 3650"},
        {"webauthn authenticate --stored-count 4294967296",
         "--stored-count must be a whole number from 0 to 4294967295"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_admin(cases[i].arguments, 2, cases[i].expected);
}

/* The usage of idsvc-admin --help names every subcommand that audit --help documents. */
static void test_usage_names_audit_subcommands(void **state)
{
    static const char *const subcommands[] = {"export", "verify", "consistency",
                                              "prove",  "show",   "anchor"};
    char usage[8192];
    char audit_usage[8192];
    char listed_names[256];
    const char *names;

    (void)state;
    assert_int_equal(run_admin("--help", usage, sizeof(usage)), 0);
    assert_int_equal(run_admin("audit --help", audit_usage, sizeof(audit_usage)), 0);
    names = strstr(usage, "  audit ");
    assert_non_null(names);
    names += strlen("  audit ");
    /* The names come as "export|verify|...", so each one is between two bars. */
    snprintf(listed_names, sizeof(listed_names), "|%.*s|", (int)strcspn(names, " \n"),
             names);
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
        char documented[64];
        char listed[64];

        snprintf(documented, sizeof(documented), "\n  %s ", subcommands[i]);
        if (strstr(audit_usage, documented) == NULL)
            fail_msg("idsvc-admin audit --help does not document %s", subcommands[i]);
        snprintf(listed, sizeof(listed), "|%s|", subcommands[i]);
        if (strstr(listed_names, listed) == NULL)
            fail_msg("idsvc-admin --help does not list audit %s: %s", subcommands[i],
                     listed_names);
    }
}

/* An unknown subcommand of audit or saml is named before the usage, as keys and policy
 * name theirs. */
static void test_unknown_subcommand_named(void **state)
{
    (void)state;
    expect_admin("audit frobnicate", 2,
                 "idsvc-admin audit: unknown command 'frobnicate'");
    expect_admin("saml frobnicate", 2, "idsvc-admin saml: unknown command 'frobnicate'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_clean_copy),
        cmocka_unit_test(test_verify_names_edited_column),
        cmocka_unit_test(test_text_time_not_dropped),
        cmocka_unit_test(test_invalid_utf8_text_exported),
        cmocka_unit_test(test_nul_in_text_exported),
        cmocka_unit_test(test_invalid_utf8_column_exported),
        cmocka_unit_test(test_no_checkpoint_reported),
        cmocka_unit_test(test_show_reads_entry_text),
        cmocka_unit_test(test_show_text_without_time),
        cmocka_unit_test(test_show_marks_purged_version_1),
        cmocka_unit_test(test_show_purged_version_2_from_text),
        cmocka_unit_test(test_verify_counts_and_checks_purges),
        cmocka_unit_test(test_purge_must_be_logged),
        cmocka_unit_test(test_forged_purge_entry_rejected),
        cmocka_unit_test(test_reset_root_checked),
        cmocka_unit_test(test_clock_acceptance_noted),
        cmocka_unit_test(test_first_texts_deleted),
        cmocka_unit_test(test_verify_key_rollover),
        cmocka_unit_test(test_trust_file_checked),
        cmocka_unit_test(test_prove_checks_entry_and_key),
        cmocka_unit_test(test_saved_checkpoint_extended),
        cmocka_unit_test(test_saved_checkpoint_rewritten_log),
        cmocka_unit_test(test_saved_checkpoint_version_line),
        cmocka_unit_test(test_consistency_version_line),
        cmocka_unit_test(test_consistency_proof_tampered),
        cmocka_unit_test(test_saved_checkpoint_rejections),
        cmocka_unit_test(test_other_node_checkpoint_rejected),
        cmocka_unit_test(test_input_files_bounded),
        cmocka_unit_test(test_export_keeps_database),
        cmocka_unit_test(test_purged_facts_stay_hashed),
        cmocka_unit_test(test_payload_tamper_detected),
        cmocka_unit_test(test_verify_mixed_versions),
        cmocka_unit_test(test_show_reads_schema_6_database),
        cmocka_unit_test(test_verify_names_bad_node_line),
        cmocka_unit_test(test_verify_names_node_past_deleted_entry),
        cmocka_unit_test(test_verify_names_bad_checkpoint_id),
        cmocka_unit_test(test_verify_rejects_nul_and_duplicates),
        cmocka_unit_test(test_number_arguments_strict),
        cmocka_unit_test(test_usage_names_audit_subcommands),
        cmocka_unit_test(test_unknown_subcommand_named),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
