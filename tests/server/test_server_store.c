/* The SQLite store on a real file: migrations, issuance, revocation and the replay cache
 * with its purge of expired rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "test_token.h"

static char folder[48]; /* short enough for the path buffers below */
static char path[128];

static int open_store(void **state)
{
    char error[256];

    if (test_make_temp_dir(folder, sizeof(folder), "idsvc-store") != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/test.db", folder);
    *state = store_sqlite_open(path, error, sizeof(error));
    if (*state == NULL)
        fprintf(stderr, "%s\n", error);
    return *state != NULL ? 0 : -1;
}

static int close_store(void **state)
{
    char command[64];
    store *s = *state;

    store_close(&s);
    snprintf(command, sizeof(command), "rm -rf %s", folder);
    return system(command) == 0 ? 0 : -1;
}

static store_issue sample_issue(const char *id, const char *assertion_id)
{
    store_issue issue = {
        .credential_id = id,
        .issuer = "agency",
        .subject_name_id = "SG-1",
        .subject_claims_json = "{\"given_name\":\"Mei\"}",
        .assertion_id = assertion_id,
        .assurance = "http://eidas.europa.eu/LoA/high",
        .issued_at = 1000,
        .not_on_or_after = 2000,
    };

    return issue;
}

static void test_schema_version_recorded(void **state)
{
    store *s = *state;
    int version = 0;

    assert_int_equal(s->ops->schema_version(s, &version), STORE_OK);
    assert_true(store_sqlite_schema_latest() >= 1);
    assert_int_equal(version, store_sqlite_schema_latest());
}

static void test_reopen_keeps_schema(void **state)
{
    store *again;
    char error[256];
    int version = 0;

    (void)state;
    again = store_sqlite_open(path, error, sizeof(error));
    assert_non_null(again);
    assert_int_equal(again->ops->schema_version(again, &version), STORE_OK);
    assert_int_equal(version, store_sqlite_schema_latest());
    store_close(&again);
    assert_null(again);
}

static void test_issue_and_revoke(void **state)
{
    store *s = *state;
    store_issue issue = sample_issue("c1", "_a1");
    store_credential credential;

    assert_int_equal(s->ops->issue_credential(s, &issue), STORE_OK);
    assert_int_equal(s->ops->issue_credential(s, &issue), STORE_CONFLICT);

    assert_int_equal(s->ops->find_by_assertion(s, "_a1", &credential), STORE_OK);
    assert_string_equal(credential.id, "c1");
    assert_string_equal(credential.subject_name_id, "SG-1");
    assert_int_equal(credential.state, STORE_CREDENTIAL_ACTIVE);
    store_credential_clear(&credential);

    assert_int_equal(s->ops->revoke_credential(s, "c1", "other", "x", 1500), STORE_NOT_FOUND);
    assert_int_equal(s->ops->revoke_credential(s, "c1", "agency", "lost", 1500), STORE_OK);
    assert_int_equal(s->ops->revoke_credential(s, "c1", "agency", "lost", 1600),
                     STORE_CONFLICT);
    assert_int_equal(s->ops->revoke_credential(s, "c9", "agency", "x", 1500),
                     STORE_NOT_FOUND);

    assert_int_equal(s->ops->get_credential(s, "c1", &credential), STORE_OK);
    assert_int_equal(credential.state, STORE_CREDENTIAL_REVOKED);
    assert_string_equal(credential.revocation_reason, "lost");
    assert_int_equal(credential.revoked_at, 1500);
    store_credential_clear(&credential);

    assert_int_equal(s->ops->get_credential(s, "nothing", &credential), STORE_NOT_FOUND);
}

static void test_replay_cache_and_purge(void **state)
{
    store *s = *state;
    saml_replay_cache cache = store_replay_cache(s);
    time_t now = time(NULL);
    const char *agency = "https://agency.example/saml";

    assert_int_equal(cache.check_and_store(cache.ctx, agency, "_r1", now + 600), 1);
    assert_int_equal(cache.check_and_store(cache.ctx, agency, "_r1", now + 600), 0);
    assert_int_equal(cache.check_and_store(cache.ctx, agency, "_old", now - 10), 1);

    assert_int_equal(s->ops->purge_replay(s, now), STORE_OK);
    assert_int_equal(cache.check_and_store(cache.ctx, agency, "_old", now + 600), 1);
    assert_int_equal(cache.check_and_store(cache.ctx, agency, "_r1", now + 600), 0);
}

/* Each issuer makes its own IDs, so one issuer's ID does not block another's. */
static void test_replay_id_counts_per_issuer(void **state)
{
    store *s = *state;
    saml_replay_cache cache = store_replay_cache(s);
    time_t later = time(NULL) + 600;

    assert_int_equal(cache.check_and_store(cache.ctx, "https://a.example", "_same", later), 1);
    assert_int_equal(cache.check_and_store(cache.ctx, "https://b.example", "_same", later), 1);
    assert_int_equal(cache.check_and_store(cache.ctx, "https://a.example", "_same", later), 0);
    assert_int_equal(cache.check_and_store(cache.ctx, "https://b.example", "_same", later), 0);
}

/* Stubs of the tables that migrations after version 3 change, with only the columns the
 * tests read, so that a test can write an old database without the whole schema. */
#define V3_TABLE_STUBS                                                                     \
    "CREATE TABLE subjects (id INTEGER PRIMARY KEY, issuer TEXT, name_id TEXT);"           \
    "CREATE TABLE credentials (id TEXT PRIMARY KEY);"                                      \
    "CREATE TABLE web_sessions (token_hash BLOB PRIMARY KEY, subject_id INTEGER,"          \
    " expires_at INTEGER);"                                                                \
    "CREATE TABLE authenticators (id TEXT PRIMARY KEY, subject_id INTEGER);"               \
    "CREATE TABLE consent_requests (id TEXT PRIMARY KEY);"                                 \
    "CREATE TABLE audit_entries (idx INTEGER PRIMARY KEY);"

/* A database of schema version 3 has replay rows without an issuer. Version 4 keeps
 * them, and each still blocks its ID for every issuer until it expires. */
static void test_replay_rows_survive_migration(void **state)
{
    char old_path[sizeof(path) + 8];
    char error[256];
    sqlite3 *db = NULL;
    store *migrated;
    saml_replay_cache cache;
    time_t later = time(NULL) + 600;
    char sql[1024];

    (void)state;
    snprintf(old_path, sizeof(old_path), "%s.v3", path);
    snprintf(sql, sizeof(sql),
             "CREATE TABLE schema_versions (version INTEGER PRIMARY KEY,"
             " applied_at INTEGER NOT NULL);"
             "INSERT INTO schema_versions VALUES (1, 0), (2, 0), (3, 0);" V3_TABLE_STUBS
             "CREATE TABLE replay_cache (assertion_id TEXT PRIMARY KEY,"
             " not_on_or_after INTEGER NOT NULL);"
             "INSERT INTO replay_cache VALUES ('_legacy', %lld);",
             (long long)later);
    assert_int_equal(sqlite3_open(old_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    migrated = store_sqlite_open(old_path, error, sizeof(error));
    assert_non_null(migrated);
    cache = store_replay_cache(migrated);
    assert_int_equal(cache.check_and_store(cache.ctx, "https://a.example", "_legacy", later), 0);
    assert_int_equal(cache.check_and_store(cache.ctx, "https://b.example", "_legacy", later), 0);
    assert_int_equal(cache.check_and_store(cache.ctx, "https://a.example", "_fresh", later), 1);
    store_close(&migrated);
    unlink(old_path);
}

/* Returns the single integer that sql selects on path, or -1. */
static long long select_number(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    long long value = -1;

    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
}

/* Version 5 cannot tell which enrollment code a session of version 4 descends from, so
 * the migration ends those sessions. Keys of version 4 stay, with no enrollment
 * credential, so no revocation removes them. */
static void test_version_4_sessions_end(void **state)
{
    char old_path[sizeof(path) + 8];
    char error[256];
    sqlite3 *db = NULL;
    store *migrated;

    (void)state;
    snprintf(old_path, sizeof(old_path), "%s.v4", path);
    assert_int_equal(sqlite3_open(old_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE schema_versions (version INTEGER PRIMARY KEY,"
                                  " applied_at INTEGER NOT NULL);"
                                  "INSERT INTO schema_versions VALUES (1, 0), (2, 0), (3, 0),"
                                  " (4, 0);" V3_TABLE_STUBS
                                  "INSERT INTO web_sessions VALUES (x'01', 1, 4000000000);"
                                  "INSERT INTO authenticators VALUES ('key-1', 1);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    migrated = store_sqlite_open(old_path, error, sizeof(error));
    assert_non_null(migrated);
    store_close(&migrated);
    assert_int_equal(select_number(old_path, "SELECT count(*) FROM web_sessions"), 0);
    assert_int_equal(select_number(old_path, "SELECT count(*) FROM authenticators"
                                             " WHERE enrollment_credential IS NULL"),
                     1);
    unlink(old_path);
}

/* The page sessions table as versions 5 to 9 have it. */
#define V9_SESSIONS_STUB                                                                   \
    "CREATE TABLE web_sessions (token_hash BLOB PRIMARY KEY, subject_id INTEGER,"          \
    " expires_at INTEGER, enrollment_credential TEXT);"

/* Version 10 records the key that signed each session in. A session of version 9 does
 * not say which key that was, so removing the key could not end it, and the migration
 * ends every such session. */
static void test_version_9_sessions_end(void **state)
{
    char old_path[sizeof(path) + 8];
    char error[256];
    sqlite3 *db = NULL;
    store *migrated;

    (void)state;
    snprintf(old_path, sizeof(old_path), "%s.v9", path);
    assert_int_equal(sqlite3_open(old_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE schema_versions (version INTEGER PRIMARY KEY,"
                                  " applied_at INTEGER NOT NULL);"
                                  "INSERT INTO schema_versions VALUES (1, 0), (2, 0), (3, 0),"
                                  " (4, 0), (5, 0), (6, 0), (7, 0), (8, 0), (9, 0);"
                                  V9_SESSIONS_STUB
                                  "INSERT INTO web_sessions VALUES (x'01', 1, 4000000000,"
                                  " NULL);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    migrated = store_sqlite_open(old_path, error, sizeof(error));
    assert_non_null(migrated);
    store_close(&migrated);
    assert_int_equal(select_number(old_path, "SELECT count(*) FROM web_sessions"), 0);
    assert_int_equal(select_number(old_path, "SELECT count(*) FROM pragma_table_info("
                                             "'web_sessions') WHERE name = 'authenticator_id'"),
                     1);
    unlink(old_path);
}

/* Version 9 records each key's BE flag. Keys of version 8 keep NULL, which means "not
 * recorded" until an assertion records it, and only 0 and 1 can be stored. */
static void test_version_8_keys_keep_no_backup_flag(void **state)
{
    char old_path[sizeof(path) + 8];
    char error[256];
    sqlite3 *db = NULL;
    store *migrated;

    (void)state;
    snprintf(old_path, sizeof(old_path), "%s.v8", path);
    assert_int_equal(sqlite3_open(old_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE schema_versions (version INTEGER PRIMARY KEY,"
                                  " applied_at INTEGER NOT NULL);"
                                  "INSERT INTO schema_versions VALUES (1, 0), (2, 0), (3, 0),"
                                  " (4, 0), (5, 0), (6, 0), (7, 0), (8, 0);"
                                  "CREATE TABLE authenticators (id TEXT PRIMARY KEY,"
                                  " subject_id INTEGER);"
                                  "INSERT INTO authenticators VALUES ('key-1', 1);"
                                  V9_SESSIONS_STUB,
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    migrated = store_sqlite_open(old_path, error, sizeof(error));
    assert_non_null(migrated);
    store_close(&migrated);
    assert_int_equal(select_number(old_path, "SELECT count(*) FROM authenticators"
                                             " WHERE backup_eligible IS NULL"),
                     1);

    assert_int_equal(sqlite3_open(old_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE authenticators SET backup_eligible = 2", NULL,
                                  NULL, NULL),
                     SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_exec(db, "UPDATE authenticators SET backup_eligible = 1", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    unlink(old_path);
}

/* One NameID names one subject: another issuer cannot issue for it, and nothing of its
 * attempt is stored. The first issuer still can. */
static void test_name_id_of_one_issuer(void **state)
{
    store *s = *state;
    store_issue first = sample_issue("c-name-1", "_name-1");
    store_issue other = sample_issue("c-name-2", "_name-2");
    store_issue again = sample_issue("c-name-3", "_name-3");
    store_credential credential;

    first.subject_name_id = other.subject_name_id = again.subject_name_id = "SG-NAME";
    other.issuer = "second-agency";
    assert_int_equal(s->ops->issue_credential(s, &first), STORE_OK);
    assert_int_equal(s->ops->issue_credential(s, &other), STORE_CONFLICT);
    assert_int_equal(s->ops->get_credential(s, "c-name-2", &credential), STORE_NOT_FOUND);
    assert_int_equal(s->ops->issue_credential(s, &again), STORE_OK);
    assert_int_equal(select_number(path, "SELECT count(*) FROM subjects"
                                         " WHERE name_id = 'SG-NAME'"),
                     1);
}

/* A schema version below zero or past INT_MAX stops the open before any migration runs.
 * Read as an int, 2^32 + 1 would pass for version 1. */
static void test_store_rejects_impossible_version(void **state)
{
    static const char *const versions[] = {"-1", "4294967297"};
    char old_path[sizeof(path) + 8];
    char error[256];
    char sql[256];
    sqlite3 *db = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        snprintf(old_path, sizeof(old_path), "%s.bad%zu", path, i);
        snprintf(sql, sizeof(sql),
                 "CREATE TABLE schema_versions (version INTEGER PRIMARY KEY,"
                 " applied_at INTEGER NOT NULL);"
                 "INSERT INTO schema_versions VALUES (%s, 0);",
                 versions[i]);
        assert_int_equal(sqlite3_open(old_path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);

        assert_null(store_sqlite_open(old_path, error, sizeof(error)));
        assert_non_null(strstr(error, "cannot open or migrate"));
        assert_int_equal(select_number(old_path, "SELECT count(*) FROM schema_versions"), 1);
        assert_int_equal(select_number(old_path, "SELECT count(*) FROM sqlite_master"
                                                 " WHERE name = 'subjects'"),
                         0);
        unlink(old_path);
    }
}

static void test_registry_replaced(void **state)
{
    store *s = *state;
    store_rp first[] = {{"bank", "https://bank.example/sp", "SG", "given_name"},
                        {"wallet", "https://wallet.example", "MY", "family_name"}};
    store_rp second[] = {{"bank", "https://bank.example/sp2", "SG", "given_name email"}};
    store_rp rp;

    assert_int_equal(s->ops->replace_rps(s, first, 2), STORE_OK);
    assert_int_equal(s->ops->get_rp(s, "wallet", &rp), STORE_OK);
    assert_string_equal(rp.jurisdiction, "MY");
    store_rp_clear(&rp);

    assert_int_equal(s->ops->replace_rps(s, second, 1), STORE_OK);
    assert_int_equal(s->ops->get_rp(s, "wallet", &rp), STORE_NOT_FOUND);
    assert_int_equal(s->ops->get_rp(s, "bank", &rp), STORE_OK);
    assert_string_equal(rp.entity_id, "https://bank.example/sp2");
    assert_string_equal(rp.allowed_claims, "given_name email");
    store_rp_clear(&rp);
}

/* A registry replacement whose COMMIT fails rolls back, so the store's connection does
 * not keep the write lock. A deferred foreign key makes the COMMIT fail here, and SQLite
 * keeps the transaction open after that failure, as after a COMMIT that got SQLITE_BUSY. */
static void test_failed_commit_rolls_back(void **state)
{
    store *s = *state;
    store_rp first[] = {{"kept", "https://kept.example/sp", "SG", "given_name"}};
    store_rp second[] = {{"other", "https://other.example/sp", "SG", "given_name"}};
    sqlite3 *db = NULL;
    store_rp rp;

    assert_int_equal(s->ops->replace_rps(s, first, 1), STORE_OK);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 200);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA foreign_keys = ON;"
                                  "CREATE TABLE test_child (rp TEXT REFERENCES"
                                  " relying_parties(id) DEFERRABLE INITIALLY DEFERRED);"
                                  "INSERT INTO test_child VALUES ('kept')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);

    assert_int_equal(s->ops->replace_rps(s, second, 1), STORE_FAILED);
    assert_int_equal(s->ops->get_rp(s, "kept", &rp), STORE_OK);
    store_rp_clear(&rp);
    /* Another connection can write at once. */
    assert_int_equal(sqlite3_exec(db, "DROP TABLE test_child", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(s->ops->replace_rps(s, second, 1), STORE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_version_recorded),
        cmocka_unit_test(test_reopen_keeps_schema),
        cmocka_unit_test(test_issue_and_revoke),
        cmocka_unit_test(test_replay_cache_and_purge),
        cmocka_unit_test(test_replay_id_counts_per_issuer),
        cmocka_unit_test(test_replay_rows_survive_migration),
        cmocka_unit_test(test_version_4_sessions_end),
        cmocka_unit_test(test_version_8_keys_keep_no_backup_flag),
        cmocka_unit_test(test_version_9_sessions_end),
        cmocka_unit_test(test_name_id_of_one_issuer),
        cmocka_unit_test(test_store_rejects_impossible_version),
        cmocka_unit_test(test_registry_replaced),
        cmocka_unit_test(test_failed_commit_rolls_back),
    };

    return cmocka_run_group_tests(tests, open_store, close_store);
}
