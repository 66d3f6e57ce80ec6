/*
 * The SQLite backend. Each thread uses its own connection, because one connection
 * serialises every statement, and WAL lets readers run beside the one writer.
 */
#include "store.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store_sql.h"
#include "web_store.h"

#define BUSY_TIMEOUT_MS 5000
#define PURGE_EVERY 256 /* replay inserts between purges of expired rows */

/* The statements that every verification runs, prepared once per connection. Parsing
 * them again on each call cost about a tenth of the SQLite time of a verification. */
typedef enum cached_statement {
    STMT_RECORD_ASSERTION,
    STMT_GET_RP,
    STMT_GET_CREDENTIAL,
    STMT_FIND_BY_ASSERTION,
    STMT_COUNT,
} cached_statement;

#define CREDENTIAL_COLUMNS                                                                 \
    "SELECT c.id, c.issuer, s.name_id, c.assertion_id, c.assurance, c.issued_at,"          \
    " c.not_on_or_after, c.state, c.revocation_reason, c.revoked_at, c.held_claims"        \
    " FROM credentials c JOIN subjects s ON s.id = c.subject_id "

static const char *const cached_sql[STMT_COUNT] = {
    [STMT_RECORD_ASSERTION] = STORE_SQL_RECORD_ASSERTION,
    [STMT_GET_RP] =
        "SELECT id, entity_id, jurisdiction, allowed_claims FROM relying_parties WHERE id = ?",
    [STMT_GET_CREDENTIAL] = CREDENTIAL_COLUMNS "WHERE c.id = ?",
    [STMT_FIND_BY_ASSERTION] = CREDENTIAL_COLUMNS "WHERE c.assertion_id = ?",
};

/* One thread's connection and its prepared statements; only that thread uses them. */
typedef struct thread_db {
    sqlite3 *db;
    sqlite3_stmt *cached[STMT_COUNT];
} thread_db;

typedef struct sqlite_store {
    store base;
    char *path;
    pthread_key_t key;
    pthread_mutex_t lock;
    thread_db **connections; /* every connection opened, closed with the store */
    size_t connection_count;
    atomic_uint inserts;
} sqlite_store;

/* Each entry moves the schema one version forward, inside one transaction. */
static const char *const migrations[] = {
    /* 1: subjects, credentials, replay cache and relying parties. */
    "CREATE TABLE subjects ("
    "  id INTEGER PRIMARY KEY,"
    "  issuer TEXT NOT NULL,"
    "  name_id TEXT NOT NULL,"
    "  claims TEXT NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (issuer, name_id));"
    "CREATE TABLE credentials ("
    "  id TEXT PRIMARY KEY,"
    "  subject_id INTEGER NOT NULL REFERENCES subjects(id),"
    "  issuer TEXT NOT NULL,"
    "  assertion_id TEXT NOT NULL UNIQUE,"
    "  assurance TEXT NOT NULL,"
    "  issued_at INTEGER NOT NULL,"
    "  not_on_or_after INTEGER NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('active', 'revoked')),"
    "  revocation_reason TEXT,"
    "  revoked_at INTEGER,"
    "  enrollment_code_hash BLOB NOT NULL);"
    "CREATE TABLE replay_cache ("
    "  assertion_id TEXT PRIMARY KEY,"
    "  not_on_or_after INTEGER NOT NULL);"
    "CREATE INDEX replay_cache_expiry ON replay_cache (not_on_or_after);"
    "CREATE TABLE relying_parties ("
    "  id TEXT PRIMARY KEY,"
    "  entity_id TEXT NOT NULL,"
    "  jurisdiction TEXT NOT NULL,"
    "  allowed_claims TEXT NOT NULL);",
    /* 2: the citizen pages: enrollment, authenticators, sessions, consent, disclosures. */
    "CREATE TABLE enrollment_redemptions ("
    "  credential_id TEXT PRIMARY KEY REFERENCES credentials(id),"
    "  redeemed_at INTEGER NOT NULL);"
    "CREATE TABLE webauthn_user_handles ("
    "  subject_id INTEGER PRIMARY KEY REFERENCES subjects(id),"
    "  handle BLOB NOT NULL UNIQUE);"
    "CREATE TABLE authenticators ("
    "  id TEXT PRIMARY KEY,"
    "  subject_id INTEGER NOT NULL REFERENCES subjects(id),"
    "  credential_id BLOB NOT NULL UNIQUE,"
    "  public_key BLOB NOT NULL,"
    "  algorithm INTEGER NOT NULL,"
    "  sign_count INTEGER NOT NULL,"
    "  aaguid BLOB NOT NULL,"
    "  format TEXT NOT NULL,"
    "  attestation TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  last_used_at INTEGER,"
    "  possibly_cloned INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX authenticators_subject ON authenticators (subject_id);"
    "CREATE TABLE webauthn_challenges ("
    "  challenge BLOB PRIMARY KEY,"
    "  ceremony INTEGER NOT NULL,"
    "  subject_id INTEGER,"
    "  consent_id TEXT,"
    "  nonce BLOB,"
    "  expires_at INTEGER NOT NULL,"
    "  used_at INTEGER);"
    "CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges (expires_at);"
    "CREATE TABLE web_sessions ("
    "  token_hash BLOB PRIMARY KEY,"
    "  subject_id INTEGER NOT NULL REFERENCES subjects(id),"
    "  expires_at INTEGER NOT NULL);"
    "CREATE TABLE consent_requests ("
    "  id TEXT PRIMARY KEY,"
    "  subject_id INTEGER NOT NULL REFERENCES subjects(id),"
    "  rp_id TEXT NOT NULL,"
    "  details TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'refused')),"
    "  decided_at INTEGER,"
    "  authenticator_id TEXT);"
    "CREATE TABLE pending_verifications ("
    "  id TEXT PRIMARY KEY,"
    "  rp_id TEXT NOT NULL,"
    "  consent_id TEXT REFERENCES consent_requests(id),"
    "  result TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE disclosures ("
    "  id INTEGER PRIMARY KEY,"
    "  subject_id INTEGER NOT NULL REFERENCES subjects(id),"
    "  rp_id TEXT NOT NULL,"
    "  rp_name TEXT NOT NULL,"
    "  rp_country TEXT NOT NULL,"
    "  purpose TEXT NOT NULL,"
    "  claims TEXT NOT NULL,"
    "  rule TEXT NOT NULL,"
    "  consent_id TEXT,"
    "  disclosed_at INTEGER NOT NULL);"
    "CREATE INDEX disclosures_subject ON disclosures (subject_id, disclosed_at);",
    /* 3: the audit log (audit_store.c): entries with their leaf hashes, the hashes of
     * complete subtrees above the leaves, signed checkpoints, the pseudonym secret. */
    "CREATE TABLE audit_entries ("
    "  idx INTEGER PRIMARY KEY,"
    "  recorded_at INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  actor TEXT,"
    "  relying_party TEXT,"
    "  jurisdiction TEXT NOT NULL,"
    "  leaf_hash BLOB NOT NULL,"
    "  entry TEXT,"
    "  purged_at INTEGER);"
    "CREATE INDEX audit_entries_time ON audit_entries (recorded_at);"
    "CREATE TABLE audit_nodes ("
    "  level INTEGER NOT NULL,"
    "  idx INTEGER NOT NULL,"
    "  hash BLOB NOT NULL,"
    "  PRIMARY KEY (level, idx)) WITHOUT ROWID;"
    "CREATE TABLE audit_checkpoints ("
    "  id INTEGER PRIMARY KEY,"
    "  tree_size INTEGER NOT NULL,"
    "  root BLOB NOT NULL,"
    "  signed_at INTEGER NOT NULL,"
    "  node_id TEXT NOT NULL,"
    "  key_id TEXT NOT NULL,"
    "  algorithm TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  signature BLOB NOT NULL);"
    "CREATE TABLE audit_secret ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  secret BLOB NOT NULL);",
    /* 4: the replay cache keyed by issuer and assertion ID. The rows of version 1 have
     * no issuer; they keep the issuer '', which STORE_SQL_RECORD_ASSERTION matches for
     * every issuer, until they expire. */
    "CREATE TABLE replay_cache_by_issuer ("
    "  issuer TEXT NOT NULL,"
    "  assertion_id TEXT NOT NULL,"
    "  not_on_or_after INTEGER NOT NULL,"
    "  PRIMARY KEY (issuer, assertion_id)) WITHOUT ROWID;"
    "INSERT INTO replay_cache_by_issuer (issuer, assertion_id, not_on_or_after)"
    "  SELECT '', assertion_id, not_on_or_after FROM replay_cache;"
    "DROP TABLE replay_cache;"
    "ALTER TABLE replay_cache_by_issuer RENAME TO replay_cache;"
    "CREATE INDEX replay_cache_expiry ON replay_cache (not_on_or_after);",
    /* 5: what a credential's enrollment code created. A session and an authenticator
     * name the credential whose code they descend from: a session opened with the code,
     * or signed in with a key enrolled that way, and each key enrolled in such a
     * session. Revoking the credential removes them. Sessions of version 4 have no such
     * record, so the migration ends them. Authenticators of version 4 keep NULL. A
     * consent request ends with a rejection code when its credential was revoked or
     * expired before the result was released. subjects_name_id finds the subject of a
     * NameID whatever its issuer. */
    "ALTER TABLE web_sessions ADD COLUMN enrollment_credential TEXT"
    "  REFERENCES credentials(id);"
    "DELETE FROM web_sessions;"
    "CREATE INDEX web_sessions_enrollment ON web_sessions (enrollment_credential);"
    "ALTER TABLE authenticators ADD COLUMN enrollment_credential TEXT"
    "  REFERENCES credentials(id);"
    "CREATE INDEX authenticators_enrollment ON authenticators (enrollment_credential);"
    "ALTER TABLE consent_requests ADD COLUMN rejection TEXT;"
    "ALTER TABLE consent_requests ADD COLUMN rejected_at INTEGER;"
    "CREATE INDEX subjects_name_id ON subjects (name_id);",
    /* 6: the claims of a credential issued with claims_in_assertion false, whose
     * assertion carries no values, so that verification reads them here. Credentials
     * of version 5 keep NULL: their assertions carry the values. */
    "ALTER TABLE credentials ADD COLUMN held_claims TEXT;",
    /* 7: the payload text of each audit entry of version 2, whose hashed entry text
     * carries only the payload's SHA-256, so that retention can remove the payload and
     * keep the entry text. Entries of version 1 keep their payload in the entry text
     * and NULL here. */
    "ALTER TABLE audit_entries ADD COLUMN payload TEXT;",
    /* 8: the highest version of each policy bundle that the node has loaded, with its
     * digest, so that a start or reload refuses an older bundle, or another bundle
     * under a version already loaded. */
    "CREATE TABLE policy_versions ("
    "  bundle_id TEXT PRIMARY KEY,"
    "  version INTEGER NOT NULL,"
    "  digest TEXT NOT NULL) WITHOUT ROWID;",
    /* 9: the BE flag (backup eligible) that each authenticator's registration reported,
     * 1 or 0, which every assertion must repeat. Authenticators of version 8 keep NULL
     * until their first verified assertion records its BE flag. */
    /* The brackets tell clang that the two literals form one element. */
    ("ALTER TABLE authenticators ADD COLUMN backup_eligible INTEGER"
     "  CHECK (backup_eligible IN (0, 1));"),
    /* 10: the authenticator that signed a session in, NULL for a session that an
     * enrollment code opened. A session counts as open only while that authenticator
     * is enrolled and not marked as possibly cloned. Sessions of version 9 do not say
     * which key signed them in, so the migration ends them. */
    "ALTER TABLE web_sessions ADD COLUMN authenticator_id TEXT;"
    "DELETE FROM web_sessions;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

int store_sqlite_schema_latest(void)
{
    return SCHEMA_VERSION;
}

const char *store_status_name(store_status status)
{
    switch (status) {
    case STORE_OK:
        return "ok";
    case STORE_NOT_FOUND:
        return "not_found";
    case STORE_CONFLICT:
        return "conflict";
    default:
        return "failed";
    }
}

static _Thread_local bool unavailable_seen;

void store_note_error(int sqlite_result)
{
    int primary = sqlite_result & 0xff;

    /* Contention, a full disk, an I/O error, a file made read-only or a connection that
     * cannot open pass once the database or its disk is back. A corrupt file or a
     * misused statement does not, and stays a 500. */
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_FULL ||
        primary == SQLITE_IOERR || primary == SQLITE_READONLY || primary == SQLITE_CANTOPEN)
        unavailable_seen = true;
}

bool store_take_unavailable(void)
{
    bool seen = unavailable_seen;

    unavailable_seen = false;
    return seen;
}

static void log_sqlite(sqlite3 *db, const char *operation)
{
    if (db != NULL)
        store_note_error(sqlite3_extended_errcode(db));
    log_message(LOG_ERROR, "store_error", "%s failed: %s", operation,
                db != NULL ? sqlite3_errmsg(db) : "no connection");
}

static int exec(sqlite3 *db, const char *sql)
{
    char *message = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
        log_message(LOG_ERROR, "store_error", "statement failed: %s",
                    message != NULL ? message : "unknown error");
        sqlite3_free(message);
        return -1;
    }
    return 0;
}

/* Commits the connection's transaction, or rolls it back when the COMMIT fails. SQLite
 * keeps the transaction open after a COMMIT that failed with SQLITE_BUSY or on a
 * deferred constraint, and the connection would then keep the write lock. */
static int commit(sqlite3 *db)
{
    if (exec(db, "COMMIT") == 0)
        return 0;
    if (!sqlite3_get_autocommit(db))
        exec(db, "ROLLBACK");
    return -1;
}

static sqlite3 *open_connection(const char *path)
{
    sqlite3 *db = NULL;

    if (sqlite3_open_v2(path, &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        log_sqlite(db, "opening the database");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);

    /* synchronous is a per-connection setting. FULL syncs the WAL on every commit, so an
     * acknowledged write survives a process crash, and a power loss when the disk
     * honours fsync. */
    if (exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "PRAGMA foreign_keys=ON;") != 0) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static thread_db *thread_db_open(sqlite_store *s)
{
    thread_db *conn = pthread_getspecific(s->key);
    thread_db **grown;

    if (conn != NULL)
        return conn;
    conn = calloc(1, sizeof(*conn));
    if (conn == NULL)
        return NULL;
    conn->db = open_connection(s->path);
    if (conn->db == NULL) {
        free(conn);
        return NULL;
    }

    pthread_mutex_lock(&s->lock);
    grown = realloc(s->connections, (s->connection_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        s->connections = grown;
        grown[s->connection_count++] = conn;
    }
    pthread_mutex_unlock(&s->lock);
    if (grown == NULL) {
        sqlite3_close(conn->db);
        free(conn);
        return NULL;
    }
    pthread_setspecific(s->key, conn);
    return conn;
}

static sqlite3 *thread_connection(sqlite_store *s)
{
    thread_db *conn = thread_db_open(s);

    return conn != NULL ? conn->db : NULL;
}

sqlite3 *store_sqlite_connection(store *s)
{
    return thread_connection((sqlite_store *)s);
}

/* Returns this thread's prepared copy of a cached statement, preparing it on first use.
 * The caller hands it back with release_cached, which ends its read transaction. */
static sqlite3_stmt *prepare_cached(sqlite_store *s, cached_statement which, sqlite3 **db_out)
{
    thread_db *conn = thread_db_open(s);

    if (conn == NULL)
        return NULL;
    if (conn->cached[which] == NULL &&
        sqlite3_prepare_v3(conn->db, cached_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                           &conn->cached[which], NULL) != SQLITE_OK) {
        log_sqlite(conn->db, "preparing a statement");
        conn->cached[which] = NULL;
        return NULL;
    }
    *db_out = conn->db;
    return conn->cached[which];
}

static void release_cached(sqlite3_stmt *stmt)
{
    /* reset repeats the error of a failed step, which the caller has handled. */
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

static int read_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *stmt = NULL;
    int rc = -1;

    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_versions",
                           -1, &stmt, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_step(stmt) != SQLITE_ROW)
        goto out;
    /* Read as 64 bits, so that a value past INT_MAX is not cut into a small one. */
    sqlite3_int64 value = sqlite3_column_int64(stmt, 0);
    if (value < 0 || value > INT_MAX) {
        log_message(LOG_ERROR, "store_error",
                    "the database records schema version %lld, which no build has",
                    (long long)value);
        goto out;
    }
    *version = (int)value;
    rc = 0;
out:
    sqlite3_finalize(stmt);
    return rc;
}

static int migrate(sqlite3 *db)
{
    int version = 0;
    char record[160];

    if (exec(db, "CREATE TABLE IF NOT EXISTS schema_versions ("
                 " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)") != 0)
        return -1;
    if (read_version(db, &version) != 0)
        return -1;
    if (version > SCHEMA_VERSION) {
        log_message(LOG_ERROR, "store_error",
                    "the database has schema version %d; this build knows up to %d",
                    version, SCHEMA_VERSION);
        return -1;
    }

    for (int next = version + 1; next <= SCHEMA_VERSION; next++) {
        snprintf(record, sizeof(record),
                 "INSERT INTO schema_versions VALUES (%d, strftime('%%s', 'now'));", next);
        if (exec(db, "BEGIN IMMEDIATE") != 0)
            return -1;
        if (exec(db, migrations[next - 1]) != 0 || exec(db, record) != 0) {
            exec(db, "ROLLBACK");
            return -1;
        }
        if (commit(db) != 0)
            return -1;
        log_message(LOG_INFO, "store_migrated", "schema version %d applied", next);
    }
    return 0;
}

static void bind_text(sqlite3_stmt *stmt, int index, const char *value)
{
    if (value == NULL)
        sqlite3_bind_null(stmt, index);
    else
        sqlite3_bind_text(stmt, index, value, -1, SQLITE_TRANSIENT);
}

static char *column_text(sqlite3_stmt *stmt, int index)
{
    const unsigned char *text = sqlite3_column_text(stmt, index);

    return text != NULL ? strdup((const char *)text) : NULL;
}

/* Prepares a statement on this thread's connection. Returns NULL after logging a
 * failure. */
static sqlite3_stmt *prepare(sqlite_store *s, const char *sql, sqlite3 **db_out)
{
    sqlite3 *db = thread_connection(s);
    sqlite3_stmt *stmt = NULL;

    if (db == NULL)
        return NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        log_sqlite(db, "preparing a statement");
        return NULL;
    }
    if (db_out != NULL)
        *db_out = db;
    return stmt;
}

static store_status step_done(sqlite3 *db, sqlite3_stmt *stmt, const char *operation)
{
    int rc = sqlite3_step(stmt);

    if (rc == SQLITE_DONE)
        return STORE_OK;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return STORE_CONFLICT;
    log_sqlite(db, operation);
    return STORE_FAILED;
}

/* Returns STORE_CONFLICT when a subject of another issuer than issuer has name_id. */
static store_status check_name_id_free(sqlite3 *db, const char *name_id,
                                       const char *issuer)
{
    static const char sql[] =
        "SELECT 1 FROM subjects WHERE name_id = ? AND issuer <> ? LIMIT 1";
    sqlite3_stmt *stmt = NULL;
    store_status status = STORE_FAILED;
    int rc;

    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        log_sqlite(db, "preparing the NameID check");
        return STORE_FAILED;
    }
    bind_text(stmt, 1, name_id);
    bind_text(stmt, 2, issuer);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        status = STORE_CONFLICT;
    else if (rc == SQLITE_DONE)
        status = STORE_OK;
    else
        log_sqlite(db, "checking the NameID");
    sqlite3_finalize(stmt);
    return status;
}

static store_status upsert_subject(sqlite3 *db, const store_issue *issue,
                                   sqlite3_int64 *subject_id)
{
    static const char sql[] =
        "INSERT INTO subjects (issuer, name_id, claims, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (issuer, name_id) DO UPDATE SET claims = excluded.claims,"
        " updated_at = excluded.updated_at RETURNING id";
    sqlite3_stmt *stmt = NULL;
    store_status status = check_name_id_free(db, issue->subject_name_id, issue->issuer);

    if (status != STORE_OK)
        return status;
    status = STORE_FAILED;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        log_sqlite(db, "preparing the subject upsert");
        return STORE_FAILED;
    }
    bind_text(stmt, 1, issue->issuer);
    bind_text(stmt, 2, issue->subject_name_id);
    bind_text(stmt, 3, issue->subject_claims_json);
    sqlite3_bind_int64(stmt, 4, issue->issued_at);
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        *subject_id = sqlite3_column_int64(stmt, 0);
        status = STORE_OK;
    } else {
        log_sqlite(db, "storing the subject");
    }
    sqlite3_finalize(stmt);
    return status;
}

static store_status insert_credential(sqlite3 *db, const store_issue *issue,
                                      sqlite3_int64 subject_id)
{
    static const char sql[] =
        "INSERT INTO credentials (id, subject_id, issuer, assertion_id, assurance,"
        " issued_at, not_on_or_after, state, enrollment_code_hash, held_claims)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)";
    sqlite3_stmt *stmt = NULL;
    store_status status;

    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        log_sqlite(db, "preparing the credential insert");
        return STORE_FAILED;
    }
    bind_text(stmt, 1, issue->credential_id);
    sqlite3_bind_int64(stmt, 2, subject_id);
    bind_text(stmt, 3, issue->issuer);
    bind_text(stmt, 4, issue->assertion_id);
    bind_text(stmt, 5, issue->assurance);
    sqlite3_bind_int64(stmt, 6, issue->issued_at);
    sqlite3_bind_int64(stmt, 7, issue->not_on_or_after);
    sqlite3_bind_blob(stmt, 8, issue->enrollment_code_hash,
                      sizeof(issue->enrollment_code_hash), SQLITE_TRANSIENT);
    bind_text(stmt, 9, issue->held_claims_json);
    status = step_done(db, stmt, "storing the credential");
    sqlite3_finalize(stmt);
    return status;
}

int store_sqlite_write_issue(sqlite3 *db, const store_issue *issue)
{
    sqlite3_int64 subject_id = 0;
    store_status status = upsert_subject(db, issue, &subject_id);

    if (status == STORE_CONFLICT)
        return 1;
    if (status != STORE_OK || insert_credential(db, issue, subject_id) != STORE_OK)
        return -1;
    return 0;
}

static store_status sqlite_issue_credential(store *base, const store_issue *issue)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3 *db = thread_connection(s);
    sqlite3_int64 subject_id = 0;
    store_status status;

    if (db == NULL || exec(db, "BEGIN IMMEDIATE") != 0)
        return STORE_FAILED;

    status = upsert_subject(db, issue, &subject_id);
    if (status == STORE_OK)
        status = insert_credential(db, issue, subject_id);

    if (status != STORE_OK) {
        exec(db, "ROLLBACK");
        return status;
    }
    return commit(db) == 0 ? STORE_OK : STORE_FAILED;
}

static store_status read_credential(sqlite_store *s, cached_statement which, const char *key,
                                    store_credential *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = prepare_cached(s, which, &db);
    store_status status = STORE_FAILED;
    int rc;

    memset(out, 0, sizeof(*out));
    if (stmt == NULL)
        return STORE_FAILED;
    bind_text(stmt, 1, key);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        status = STORE_NOT_FOUND;
    } else if (rc == SQLITE_ROW) {
        out->id = column_text(stmt, 0);
        out->issuer = column_text(stmt, 1);
        out->subject_name_id = column_text(stmt, 2);
        out->assertion_id = column_text(stmt, 3);
        out->assurance = column_text(stmt, 4);
        out->issued_at = (time_t)sqlite3_column_int64(stmt, 5);
        out->not_on_or_after = (time_t)sqlite3_column_int64(stmt, 6);
        out->state = strcmp((const char *)sqlite3_column_text(stmt, 7), "revoked") == 0
                         ? STORE_CREDENTIAL_REVOKED
                         : STORE_CREDENTIAL_ACTIVE;
        out->revocation_reason = column_text(stmt, 8);
        out->revoked_at = (time_t)sqlite3_column_int64(stmt, 9);
        out->held_claims_json = column_text(stmt, 10);
        status = out->id != NULL && out->issuer != NULL &&
                         (out->held_claims_json != NULL ||
                          sqlite3_column_type(stmt, 10) == SQLITE_NULL)
                     ? STORE_OK
                     : STORE_FAILED;
    } else {
        log_sqlite(db, "reading a credential");
    }
    release_cached(stmt);
    if (status == STORE_FAILED)
        store_credential_clear(out);
    return status;
}

static store_status sqlite_check_name_id(store *base, const char *name_id,
                                         const char *issuer)
{
    sqlite3 *db = thread_connection((sqlite_store *)base);

    return db != NULL ? check_name_id_free(db, name_id, issuer) : STORE_FAILED;
}

static store_status sqlite_get_credential(store *base, const char *id,
                                          store_credential *out)
{
    return read_credential((sqlite_store *)base, STMT_GET_CREDENTIAL, id, out);
}

static store_status sqlite_find_by_assertion(store *base, const char *assertion_id,
                                             store_credential *out)
{
    return read_credential((sqlite_store *)base, STMT_FIND_BY_ASSERTION, assertion_id, out);
}

/* Revokes on db; STORE_OK with *changed false when no active credential matched. */
static store_status revoke_on(sqlite3 *db, const char *id, const char *issuer,
                              const char *reason, time_t at, bool *changed)
{
    static const char sql[] =
        "UPDATE credentials SET state = 'revoked', revocation_reason = ?, revoked_at = ?"
        " WHERE id = ? AND issuer = ? AND state = 'active'";
    sqlite3_stmt *stmt = NULL;
    store_status status;

    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        log_sqlite(db, "preparing a revocation");
        return STORE_FAILED;
    }
    bind_text(stmt, 1, reason);
    sqlite3_bind_int64(stmt, 2, at);
    bind_text(stmt, 3, id);
    bind_text(stmt, 4, issuer);
    status = step_done(db, stmt, "revoking a credential");
    sqlite3_finalize(stmt);
    *changed = sqlite3_changes(db) == 1;
    return status;
}

int store_sqlite_write_revocation(sqlite3 *db, const char *id, const char *issuer,
                                  const char *reason, time_t at)
{
    bool changed = false;

    if (revoke_on(db, id, issuer, reason, at, &changed) != STORE_OK)
        return -1;
    return changed ? 0 : 1;
}

static store_status sqlite_revoke_credential(store *base, const char *id,
                                             const char *issuer, const char *reason,
                                             time_t at)
{
    sqlite3 *db = thread_connection((sqlite_store *)base);
    store_credential existing;
    store_status status;
    bool changed = false;

    if (db == NULL)
        return STORE_FAILED;
    status = revoke_on(db, id, issuer, reason, at, &changed);
    if (status != STORE_OK || changed)
        return status;

    /* No row changed: tell a missing or foreign credential from a revoked one. */
    status = sqlite_get_credential(base, id, &existing);
    if (status == STORE_OK)
        status = strcmp(existing.issuer, issuer) == 0 ? STORE_CONFLICT : STORE_NOT_FOUND;
    store_credential_clear(&existing);
    return status;
}

static store_status sqlite_purge_replay(store *base, time_t now)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt =
        prepare((sqlite_store *)base, STORE_SQL_PURGE_REPLAY, &db);
    store_status status;

    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_int64(stmt, 1, now);
    status = step_done(db, stmt, "purging the replay cache");
    sqlite3_finalize(stmt);
    return status;
}

static store_status sqlite_record_assertion(store *base, const char *issuer,
                                            const char *assertion_id, time_t not_on_or_after)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = prepare_cached(s, STMT_RECORD_ASSERTION, &db);
    store_status status;

    if (stmt == NULL)
        return STORE_FAILED;
    bind_text(stmt, 1, issuer);
    bind_text(stmt, 2, assertion_id);
    sqlite3_bind_int64(stmt, 3, not_on_or_after);
    status = step_done(db, stmt, "recording an assertion ID");
    if (status == STORE_OK && sqlite3_changes(db) == 0)
        status = STORE_CONFLICT;
    release_cached(stmt);

    if (status == STORE_OK && atomic_fetch_add(&s->inserts, 1) % PURGE_EVERY == 0)
        sqlite_purge_replay(base, time(NULL));
    return status;
}

static store_status insert_rp(sqlite3 *db, const store_rp *rp)
{
    sqlite3_stmt *stmt = NULL;
    store_status status;

    if (sqlite3_prepare_v2(db,
                           "INSERT INTO relying_parties (id, entity_id, jurisdiction,"
                           " allowed_claims) VALUES (?, ?, ?, ?)",
                           -1, &stmt, NULL) != SQLITE_OK) {
        log_sqlite(db, "preparing the registry insert");
        return STORE_FAILED;
    }
    bind_text(stmt, 1, rp->id);
    bind_text(stmt, 2, rp->entity_id);
    bind_text(stmt, 3, rp->jurisdiction);
    bind_text(stmt, 4, rp->allowed_claims);
    status = step_done(db, stmt, "storing a relying party");
    sqlite3_finalize(stmt);
    return status;
}

static store_status sqlite_replace_rps(store *base, const store_rp *rps, size_t count)
{
    sqlite3 *db = thread_connection((sqlite_store *)base);
    store_status status = STORE_OK;

    if (db == NULL || exec(db, "BEGIN IMMEDIATE") != 0)
        return STORE_FAILED;
    if (exec(db, "DELETE FROM relying_parties") != 0)
        status = STORE_FAILED;
    for (size_t i = 0; status == STORE_OK && i < count; i++)
        status = insert_rp(db, &rps[i]);
    if (status != STORE_OK) {
        exec(db, "ROLLBACK");
        return status;
    }
    return commit(db) == 0 ? STORE_OK : STORE_FAILED;
}

static store_status sqlite_get_rp(store *base, const char *id, store_rp *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = prepare_cached((sqlite_store *)base, STMT_GET_RP, &db);
    store_status status = STORE_FAILED;
    int rc;

    memset(out, 0, sizeof(*out));
    if (stmt == NULL)
        return STORE_FAILED;
    bind_text(stmt, 1, id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        status = STORE_NOT_FOUND;
    } else if (rc == SQLITE_ROW) {
        out->id = column_text(stmt, 0);
        out->entity_id = column_text(stmt, 1);
        out->jurisdiction = column_text(stmt, 2);
        out->allowed_claims = column_text(stmt, 3);
        status = out->allowed_claims != NULL ? STORE_OK : STORE_FAILED;
    } else {
        log_sqlite(db, "reading a relying party");
    }
    release_cached(stmt);
    if (status == STORE_FAILED)
        store_rp_clear(out);
    return status;
}

static store_status sqlite_get_policy_version(store *base, const char *bundle_id,
                                              store_policy_version *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = prepare((sqlite_store *)base,
                                 "SELECT version, digest FROM policy_versions"
                                 " WHERE bundle_id = ?1",
                                 &db);
    store_status status = STORE_FAILED;
    int rc;

    if (stmt == NULL)
        return STORE_FAILED;
    bind_text(stmt, 1, bundle_id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        status = STORE_NOT_FOUND;
    } else if (rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 1) < (int)sizeof(out->digest)) {
        out->version = sqlite3_column_int64(stmt, 0);
        snprintf(out->digest, sizeof(out->digest), "%s",
                 (const char *)sqlite3_column_text(stmt, 1));
        status = STORE_OK;
    } else {
        log_sqlite(db, "reading a policy bundle's version");
    }
    sqlite3_finalize(stmt);
    return status;
}

int store_sqlite_write_policy_version(sqlite3 *db, const char *bundle_id, long version,
                                      const char *digest)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (sqlite3_prepare_v2(db,
                           "INSERT INTO policy_versions (bundle_id, version, digest)"
                           " VALUES (?1, ?2, ?3) ON CONFLICT (bundle_id) DO UPDATE"
                           " SET version = excluded.version, digest = excluded.digest"
                           " WHERE excluded.version > policy_versions.version",
                           -1, &stmt, NULL) != SQLITE_OK) {
        log_sqlite(db, "preparing the policy version record");
        return -1;
    }
    bind_text(stmt, 1, bundle_id);
    sqlite3_bind_int64(stmt, 2, version);
    bind_text(stmt, 3, digest);
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE)
        log_sqlite(db, "recording a policy bundle's version");
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

static store_status sqlite_schema_version(store *base, int *version)
{
    sqlite3 *db = thread_connection((sqlite_store *)base);

    if (db == NULL || read_version(db, version) != 0)
        return STORE_FAILED;
    return STORE_OK;
}

static void sqlite_close(store *base)
{
    sqlite_store *s = (sqlite_store *)base;

    for (size_t i = 0; i < s->connection_count; i++) {
        thread_db *conn = s->connections[i];

        for (size_t j = 0; j < STMT_COUNT; j++)
            sqlite3_finalize(conn->cached[j]);
        sqlite3_close(conn->db);
        free(conn);
    }
    free(s->connections);
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

static const store_ops sqlite_ops = {
    .issue_credential = sqlite_issue_credential,
    .check_name_id = sqlite_check_name_id,
    .get_credential = sqlite_get_credential,
    .find_by_assertion = sqlite_find_by_assertion,
    .revoke_credential = sqlite_revoke_credential,
    .record_assertion = sqlite_record_assertion,
    .purge_replay = sqlite_purge_replay,
    .replace_rps = sqlite_replace_rps,
    .get_rp = sqlite_get_rp,
    .get_policy_version = sqlite_get_policy_version,
    .schema_version = sqlite_schema_version,
    .close = sqlite_close,
    .web = &web_store_sqlite_ops,
};

store *store_sqlite_open(const char *path, char *error, size_t error_size)
{
    sqlite_store *s = calloc(1, sizeof(*s));
    sqlite3 *db;

    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    s->base.ops = &sqlite_ops;
    pthread_mutex_init(&s->lock, NULL);
    if (pthread_key_create(&s->key, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        free(s->path);
        free(s);
        snprintf(error, error_size, "out of memory");
        return NULL;
    }

    db = thread_connection(s);
    if (db == NULL || migrate(db) != 0) {
        snprintf(error, error_size, "%s: cannot open or migrate the database (see the "
                 "store_error line above)", path);
        sqlite_close(&s->base);
        return NULL;
    }
    return &s->base;
}

void store_close(store **s)
{
    if (s == NULL || *s == NULL)
        return;
    (*s)->ops->close(*s);
    *s = NULL;
}

void store_credential_clear(store_credential *credential)
{
    free(credential->id);
    free(credential->issuer);
    free(credential->subject_name_id);
    free(credential->assertion_id);
    free(credential->assurance);
    free(credential->revocation_reason);
    free(credential->held_claims_json);
    memset(credential, 0, sizeof(*credential));
}

void store_rp_clear(store_rp *rp)
{
    free(rp->id);
    free(rp->entity_id);
    free(rp->jurisdiction);
    free(rp->allowed_claims);
    memset(rp, 0, sizeof(*rp));
}

static int replay_check_and_store(void *ctx, const char *issuer, const char *id,
                                  time_t not_on_or_after)
{
    store *s = ctx;

    switch (s->ops->record_assertion(s, issuer, id, not_on_or_after)) {
    case STORE_OK:
        return 1;
    case STORE_CONFLICT:
        return 0;
    default:
        return -1;
    }
}

saml_replay_cache store_replay_cache(store *s)
{
    saml_replay_cache cache = {replay_check_and_store, s};

    return cache;
}
