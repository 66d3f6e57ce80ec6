/*
 * SQLite storage of the citizen pages, part one: enrollment codes, user handles,
 * challenges, sessions and authenticators. Consent, verifications and disclosures are
 * in web_store_consent.c.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "log.h"
#include "web_store_sql.h"

#define PURGE_AFTER_SECONDS 86400 /* expired sessions stay this long */

sqlite3_stmt *web_sql_prepare_on(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        log_message(LOG_ERROR, "store_error", "preparing a statement failed: %s",
                    sqlite3_errmsg(db));
        return NULL;
    }
    return stmt;
}

sqlite3_stmt *web_sql_prepare(store *s, const char *sql)
{
    sqlite3 *db = store_sqlite_connection(s);

    return db != NULL ? web_sql_prepare_on(db, sql) : NULL;
}

void web_sql_log(sqlite3_stmt *stmt, const char *operation)
{
    store_note_error(sqlite3_extended_errcode(sqlite3_db_handle(stmt)));
    log_message(LOG_ERROR, "store_error", "%s failed: %s", operation,
                sqlite3_errmsg(sqlite3_db_handle(stmt)));
}

store_status web_sql_run(sqlite3_stmt *stmt, const char *operation)
{
    store_status status = STORE_OK;
    int rc = sqlite3_step(stmt);

    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        status = STORE_CONFLICT;
    } else if (rc != SQLITE_DONE) {
        web_sql_log(stmt, operation);
        status = STORE_FAILED;
    }
    sqlite3_finalize(stmt);
    return status;
}

int web_sql_exists(sqlite3_stmt *stmt, const char *operation)
{
    int rc = sqlite3_step(stmt);
    int found = -1;

    if (rc == SQLITE_ROW)
        found = 1;
    else if (rc == SQLITE_DONE)
        found = 0;
    else
        web_sql_log(stmt, operation);
    sqlite3_finalize(stmt);
    return found;
}

void web_sql_bind_text(sqlite3_stmt *stmt, int index, const char *value)
{
    if (value == NULL)
        sqlite3_bind_null(stmt, index);
    else
        sqlite3_bind_text(stmt, index, value, -1, SQLITE_TRANSIENT);
}

char *web_sql_column_text(sqlite3_stmt *stmt, int index)
{
    const unsigned char *text = sqlite3_column_text(stmt, index);

    return text != NULL ? strdup((const char *)text) : NULL;
}

void web_sql_column_copy(sqlite3_stmt *stmt, int index, char *out, size_t size)
{
    const unsigned char *text = sqlite3_column_text(stmt, index);

    out[0] = '\0';
    if (text != NULL && size > 0) {
        strncpy(out, (const char *)text, size - 1);
        out[size - 1] = '\0';
    }
}

int web_sql_changes(store *s)
{
    sqlite3 *db = store_sqlite_connection(s);

    return db != NULL ? sqlite3_changes(db) : 0;
}

/* Copies a blob column into a new buffer. Returns -1 when out of memory. */
static int column_blob(sqlite3_stmt *stmt, int index, unsigned char **out, size_t *len)
{
    const void *data = sqlite3_column_blob(stmt, index);
    int size = sqlite3_column_bytes(stmt, index);

    *out = malloc(size > 0 ? (size_t)size : 1);
    if (*out == NULL)
        return -1;
    if (size > 0)
        memcpy(*out, data, (size_t)size);
    *len = (size_t)size;
    return 0;
}

/* ---- Enrollment codes and user handles -------------------------------------------- */

/* Finds the active credential of a code. An expired one is STORE_NOT_FOUND with
 * out->expired set. */
static store_status find_code(store *s, const unsigned char code_hash[32], time_t now,
                              web_redemption *out)
{
    sqlite3_stmt *stmt = web_sql_prepare(
        s, "SELECT id, subject_id, not_on_or_after FROM credentials"
           " WHERE enrollment_code_hash = ? AND state = 'active'");
    store_status status = STORE_FAILED;
    int rc;

    memset(out, 0, sizeof(*out));
    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_blob(stmt, 1, code_hash, 32, SQLITE_TRANSIENT);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        status = STORE_NOT_FOUND;
    } else if (rc == SQLITE_ROW) {
        web_sql_column_copy(stmt, 0, out->credential_id, sizeof(out->credential_id));
        out->subject_id = sqlite3_column_int64(stmt, 1);
        out->expired = sqlite3_column_int64(stmt, 2) <= now;
        status = out->expired ? STORE_NOT_FOUND : STORE_OK;
    } else {
        web_sql_log(stmt, "reading an enrollment code");
    }
    sqlite3_finalize(stmt);
    return status;
}

static store_status insert_redemption(sqlite3 *db, const char *credential_id, time_t now)
{
    /* The primary key makes the second redemption of a code a constraint conflict. */
    sqlite3_stmt *stmt = web_sql_prepare_on(db, "INSERT INTO enrollment_redemptions"
                                                " (credential_id, redeemed_at) VALUES (?, ?)");

    if (stmt == NULL)
        return STORE_FAILED;
    web_sql_bind_text(stmt, 1, credential_id);
    sqlite3_bind_int64(stmt, 2, now);
    return web_sql_run(stmt, "redeeming an enrollment code");
}

static int exec_on(sqlite3 *db, const char *sql, const char *operation)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    store_note_error(sqlite3_extended_errcode(db));
    log_message(LOG_ERROR, "store_error", "%s failed: %s", operation, sqlite3_errmsg(db));
    return -1;
}

static store_status insert_session(sqlite3 *db, const web_session *session);

/* Reads the code, records its redemption and stores the session in one transaction, so
 * that a failed session insert leaves the code unused. An unknown code is rejected by a
 * read first, so that guesses take no write lock. */
static store_status sqlite_redeem_enrollment(store *s, const unsigned char code_hash[32],
                                             time_t now, web_session *session,
                                             web_redemption *out)
{
    sqlite3 *db = store_sqlite_connection(s);
    store_status status = find_code(s, code_hash, now, out);

    if (db == NULL || status != STORE_OK)
        return db == NULL ? STORE_FAILED : status;
    if (exec_on(db, "BEGIN IMMEDIATE", "starting a redemption") != 0)
        return STORE_FAILED;
    status = find_code(s, code_hash, now, out);
    if (status == STORE_OK)
        status = insert_redemption(db, out->credential_id, now);
    if (status == STORE_OK) {
        session->subject_id = out->subject_id;
        memcpy(session->enrollment_credential, out->credential_id,
               sizeof(session->enrollment_credential));
        status = insert_session(db, session);
        /* A conflict here is a token drawn twice, not a used code. */
        if (status == STORE_CONFLICT)
            status = STORE_FAILED;
    }
    if (status != STORE_OK) {
        exec_on(db, "ROLLBACK", "rolling back a redemption");
        return status;
    }
    if (exec_on(db, "COMMIT", "committing a redemption") != 0) {
        exec_on(db, "ROLLBACK", "rolling back a redemption");
        return STORE_FAILED;
    }
    return STORE_OK;
}

static store_status sqlite_subject_of_assertion(store *s, const char *assertion_id,
                                                int64_t *subject_id)
{
    sqlite3_stmt *stmt =
        web_sql_prepare(s, "SELECT subject_id FROM credentials WHERE assertion_id = ?");
    store_status status = STORE_FAILED;
    int rc;

    if (stmt == NULL)
        return STORE_FAILED;
    web_sql_bind_text(stmt, 1, assertion_id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        status = STORE_NOT_FOUND;
    } else if (rc == SQLITE_ROW) {
        *subject_id = sqlite3_column_int64(stmt, 0);
        status = STORE_OK;
    } else {
        web_sql_log(stmt, "reading a credential's subject");
    }
    sqlite3_finalize(stmt);
    return status;
}

static store_status sqlite_subject_name_id(store *s, int64_t subject_id, char **name_id)
{
    sqlite3_stmt *stmt = web_sql_prepare(s, "SELECT name_id FROM subjects WHERE id = ?");
    store_status status = STORE_FAILED;
    int rc;

    *name_id = NULL;
    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_int64(stmt, 1, subject_id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        status = STORE_NOT_FOUND;
    } else if (rc == SQLITE_ROW) {
        *name_id = web_sql_column_text(stmt, 0);
        status = *name_id != NULL ? STORE_OK : STORE_FAILED;
    } else {
        web_sql_log(stmt, "reading a subject's NameID");
    }
    sqlite3_finalize(stmt);
    return status;
}

static store_status read_user_handle(store *s, int64_t subject_id, unsigned char out[32])
{
    sqlite3_stmt *stmt =
        web_sql_prepare(s, "SELECT handle FROM webauthn_user_handles WHERE subject_id = ?");
    store_status status = STORE_FAILED;
    int rc;

    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_int64(stmt, 1, subject_id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        status = STORE_NOT_FOUND;
    } else if (rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == 32) {
        memcpy(out, sqlite3_column_blob(stmt, 0), 32);
        status = STORE_OK;
    } else {
        web_sql_log(stmt, "reading a user handle");
    }
    sqlite3_finalize(stmt);
    return status;
}

static store_status sqlite_user_handle(store *s, int64_t subject_id, unsigned char out[32])
{
    store_status status = read_user_handle(s, subject_id, out);
    sqlite3_stmt *stmt;

    if (status != STORE_NOT_FOUND)
        return status;
    if (gnutls_rnd(GNUTLS_RND_NONCE, out, 32) != 0)
        return STORE_FAILED;

    /* A concurrent first use may insert first; then the stored handle wins. */
    stmt = web_sql_prepare(s, "INSERT OR IGNORE INTO webauthn_user_handles (subject_id,"
                              " handle) VALUES (?, ?)");
    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_int64(stmt, 1, subject_id);
    sqlite3_bind_blob(stmt, 2, out, 32, SQLITE_TRANSIENT);
    status = web_sql_run(stmt, "storing a user handle");
    if (status != STORE_OK)
        return status;
    return read_user_handle(s, subject_id, out);
}

/* ---- Challenges -------------------------------------------------------------------- */

/* The live challenges that share a cap with challenge: those of its ceremony, and of
 * its consent request or registering subject when it has one. SQL parameters ?2 to ?4
 * are the ceremony, the subject and the consent id, ?7 the time. */
#define LIVE_CHALLENGES_OF_SCOPE                                                        \
    " FROM webauthn_challenges WHERE ceremony = ?2 AND expires_at > ?7"                 \
    " AND (?3 = 0 OR subject_id = ?3) AND (?4 IS NULL OR consent_id = ?4)"

/* Counts the live challenges in challenge's scope at now and finds the earliest of
 * their expiries. */
static store_status count_live_challenges(store *s, const web_challenge *challenge,
                                          time_t now, size_t *count, time_t *earliest)
{
    sqlite3_stmt *stmt =
        web_sql_prepare(s, "SELECT count(*), min(expires_at)" LIVE_CHALLENGES_OF_SCOPE);
    store_status status = STORE_FAILED;

    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_int(stmt, 2, (int)challenge->ceremony);
    sqlite3_bind_int64(stmt, 3, challenge->subject_id);
    web_sql_bind_text(stmt, 4, challenge->consent_id[0] != '\0' ? challenge->consent_id
                                                                 : NULL);
    sqlite3_bind_int64(stmt, 7, now);
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        *count = (size_t)sqlite3_column_int64(stmt, 0);
        *earliest = (time_t)sqlite3_column_int64(stmt, 1);
        status = STORE_OK;
    } else {
        web_sql_log(stmt, "counting live challenges");
    }
    sqlite3_finalize(stmt);
    return status;
}

/* Inserts the challenge only while fewer than max_live challenges of its scope are
 * live, in one statement, so that two threads cannot both take the last place.
 * STORE_CONFLICT when there was no place. */
static store_status insert_challenge(store *s, const web_challenge *challenge,
                                     const web_challenge_bounds *bounds)
{
    sqlite3_stmt *stmt = web_sql_prepare(
        s, "INSERT INTO webauthn_challenges (challenge, ceremony, subject_id, consent_id,"
           " nonce, expires_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6"
           " WHERE ?8 = 0 OR (SELECT count(*)" LIVE_CHALLENGES_OF_SCOPE ") < ?8");
    store_status status;

    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_blob(stmt, 1, challenge->bytes, WEB_CHALLENGE_LEN, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 2, (int)challenge->ceremony);
    sqlite3_bind_int64(stmt, 3, challenge->subject_id);
    web_sql_bind_text(stmt, 4, challenge->consent_id[0] != '\0' ? challenge->consent_id
                                                                 : NULL);
    sqlite3_bind_blob(stmt, 5, challenge->nonce, sizeof(challenge->nonce),
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 6, challenge->expires_at);
    sqlite3_bind_int64(stmt, 7, bounds->now);
    sqlite3_bind_int64(stmt, 8, (sqlite3_int64)bounds->max_live);
    status = web_sql_run(stmt, "storing a challenge");
    if (status == STORE_OK && web_sql_changes(s) == 0)
        status = STORE_CONFLICT;
    return status;
}

static store_status sqlite_challenge_put(store *s, const web_challenge *challenge,
                                         const web_challenge_bounds *bounds,
                                         time_t *retry_at)
{
    sqlite3_stmt *purge;
    size_t live = 0;
    store_status status;

    *retry_at = 0;
    if (bounds->max_live > 0) {
        /* A read first, so that requests past the limit take no write lock. */
        status = count_live_challenges(s, challenge, bounds->now, &live, retry_at);
        if (status != STORE_OK || live >= bounds->max_live)
            return status != STORE_OK ? status : STORE_CONFLICT;
    }

    /* Expired rows go while new ones come, so the table stays small. */
    purge = web_sql_prepare(s, "DELETE FROM webauthn_challenges WHERE expires_at < ?");
    if (purge != NULL) {
        sqlite3_bind_int64(purge, 1, bounds->purge_before);
        web_sql_run(purge, "purging expired challenges");
    }

    status = insert_challenge(s, challenge, bounds);
    if (status == STORE_CONFLICT &&
        count_live_challenges(s, challenge, bounds->now, &live, retry_at) != STORE_OK)
        status = STORE_FAILED;
    return status;
}

static store_status sqlite_challenge_take(store *s, const unsigned char *bytes, size_t len,
                                          time_t now, web_challenge *out)
{
    sqlite3_stmt *stmt = web_sql_prepare(
        s, "UPDATE webauthn_challenges SET used_at = ? WHERE challenge = ?"
           " AND used_at IS NULL RETURNING ceremony, subject_id, consent_id, nonce, expires_at");
    store_status status = STORE_FAILED;
    int rc;

    memset(out, 0, sizeof(*out));
    if (stmt == NULL || len != WEB_CHALLENGE_LEN) {
        sqlite3_finalize(stmt);
        return stmt == NULL ? STORE_FAILED : STORE_NOT_FOUND;
    }
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_blob(stmt, 2, bytes, (int)len, SQLITE_TRANSIENT);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        memcpy(out->bytes, bytes, len);
        out->ceremony = (web_ceremony)sqlite3_column_int(stmt, 0);
        out->subject_id = sqlite3_column_int64(stmt, 1);
        web_sql_column_copy(stmt, 2, out->consent_id, sizeof(out->consent_id));
        if (sqlite3_column_bytes(stmt, 3) == (int)sizeof(out->nonce))
            memcpy(out->nonce, sqlite3_column_blob(stmt, 3), sizeof(out->nonce));
        out->expires_at = (time_t)sqlite3_column_int64(stmt, 4);
        status = STORE_OK;
        rc = sqlite3_step(stmt);
    } else if (rc == SQLITE_DONE) {
        status = STORE_NOT_FOUND;
    }
    if (rc != SQLITE_DONE) {
        web_sql_log(stmt, "consuming a challenge");
        status = STORE_FAILED;
    }
    sqlite3_finalize(stmt);
    if (status != STORE_NOT_FOUND)
        return status;

    /* Tell a challenge used before (a replay) from one never issued. */
    stmt = web_sql_prepare(s, "SELECT 1 FROM webauthn_challenges WHERE challenge = ?");
    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_blob(stmt, 1, bytes, (int)len, SQLITE_TRANSIENT);
    status = sqlite3_step(stmt) == SQLITE_ROW ? STORE_CONFLICT : STORE_NOT_FOUND;
    sqlite3_finalize(stmt);
    return status;
}

/* ---- Sessions ---------------------------------------------------------------------- */

/* Stores a session on db and removes the sessions whose expiry lies more than
 * PURGE_AFTER_SECONDS before this one's. */
static store_status insert_session(sqlite3 *db, const web_session *session)
{
    sqlite3_stmt *stmt = web_sql_prepare_on(
        db, "INSERT INTO web_sessions (token_hash, subject_id, enrollment_credential,"
            " expires_at, authenticator_id) VALUES (?, ?, ?, ?, ?)");
    sqlite3_stmt *purge;

    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_blob(stmt, 1, session->token_hash, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, session->subject_id);
    web_sql_bind_text(stmt, 3, session->enrollment_credential[0] != '\0'
                                   ? session->enrollment_credential
                                   : NULL);
    sqlite3_bind_int64(stmt, 4, session->expires_at);
    web_sql_bind_text(stmt, 5, session->authenticator[0] != '\0' ? session->authenticator
                                                                  : NULL);
    purge = web_sql_prepare_on(db, "DELETE FROM web_sessions WHERE expires_at < ?");
    if (purge != NULL) {
        sqlite3_bind_int64(purge, 1, session->expires_at - PURGE_AFTER_SECONDS);
        web_sql_run(purge, "purging old sessions");
    }
    return web_sql_run(stmt, "storing a session");
}

static store_status sqlite_session_put(store *s, const web_session *session)
{
    sqlite3 *db = store_sqlite_connection(s);

    return db != NULL ? insert_session(db, session) : STORE_FAILED;
}

/* The sessions that are open: unexpired, not descended from a revoked credential, and
 * signed in by a key that is still enrolled and not marked as possibly cloned. A sign-in
 * that overlaps a revocation or a key's removal can store a session after it, and these
 * conditions keep that session closed too. The statement binds the token hash and the
 * time. */
#define OPEN_SESSION                                                                       \
    " FROM web_sessions s LEFT JOIN credentials c ON c.id = s.enrollment_credential"      \
    " WHERE s.token_hash = ? AND s.expires_at > ?"                                         \
    " AND (s.enrollment_credential IS NULL OR c.state = 'active')"                         \
    " AND (s.authenticator_id IS NULL OR EXISTS (SELECT 1 FROM authenticators a"           \
    " WHERE a.id = s.authenticator_id AND a.possibly_cloned = 0))"

static store_status sqlite_session_get(store *s, const unsigned char token_hash[32],
                                       time_t now, web_session *out)
{
    sqlite3_stmt *stmt = web_sql_prepare(
        s, "SELECT s.subject_id, s.enrollment_credential, s.expires_at" OPEN_SESSION);
    store_status status = STORE_FAILED;
    int rc;

    memset(out, 0, sizeof(*out));
    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_blob(stmt, 1, token_hash, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, now);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        status = STORE_NOT_FOUND;
    } else if (rc == SQLITE_ROW) {
        memcpy(out->token_hash, token_hash, sizeof(out->token_hash));
        out->subject_id = sqlite3_column_int64(stmt, 0);
        web_sql_column_copy(stmt, 1, out->enrollment_credential,
                            sizeof(out->enrollment_credential));
        out->expires_at = (time_t)sqlite3_column_int64(stmt, 2);
        status = STORE_OK;
    } else {
        web_sql_log(stmt, "reading a session");
    }
    sqlite3_finalize(stmt);
    return status;
}

int web_sqlite_session_open(sqlite3 *db, const unsigned char token_hash[32], time_t now)
{
    sqlite3_stmt *stmt = web_sql_prepare_on(db, "SELECT 1" OPEN_SESSION);

    if (stmt == NULL)
        return -1;
    sqlite3_bind_blob(stmt, 1, token_hash, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, now);
    return web_sql_exists(stmt, "checking a session");
}

static store_status sqlite_session_delete(store *s, const unsigned char token_hash[32])
{
    sqlite3_stmt *stmt = web_sql_prepare(s, "DELETE FROM web_sessions WHERE token_hash = ?");

    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_blob(stmt, 1, token_hash, 32, SQLITE_TRANSIENT);
    return web_sql_run(stmt, "deleting a session");
}

/* ---- Authenticators ---------------------------------------------------------------- */

#define AUTHENTICATOR_COLUMNS                                                              \
    "SELECT id, subject_id, credential_id, public_key, algorithm, sign_count, aaguid,"     \
    " format, attestation, created_at, last_used_at, possibly_cloned,"                     \
    " enrollment_credential, backup_eligible FROM authenticators "

/* Reads the backup_eligible column: NULL for a key enrolled before schema version 9 whose
 * BE flag no assertion has recorded yet, else 0 or 1. */
static webauthn_backup_eligibility read_backup_eligibility(sqlite3_stmt *stmt, int column)
{
    if (sqlite3_column_type(stmt, column) == SQLITE_NULL)
        return WEBAUTHN_BACKUP_UNKNOWN;
    return sqlite3_column_int(stmt, column) != 0 ? WEBAUTHN_BACKUP_ELIGIBLE
                                                 : WEBAUTHN_BACKUP_INELIGIBLE;
}

static int read_authenticator(sqlite3_stmt *stmt, web_authenticator *out)
{
    memset(out, 0, sizeof(*out));
    web_sql_column_copy(stmt, 0, out->id, sizeof(out->id));
    out->subject_id = sqlite3_column_int64(stmt, 1);
    if (column_blob(stmt, 2, &out->credential_id, &out->credential_id_len) != 0 ||
        column_blob(stmt, 3, &out->public_key, &out->public_key_len) != 0)
        return -1;
    out->algorithm = sqlite3_column_int(stmt, 4);
    out->sign_count = (uint32_t)sqlite3_column_int64(stmt, 5);
    if (sqlite3_column_bytes(stmt, 6) == 16)
        memcpy(out->aaguid, sqlite3_column_blob(stmt, 6), 16);
    web_sql_column_copy(stmt, 7, out->format, sizeof(out->format));
    web_sql_column_copy(stmt, 8, out->attestation, sizeof(out->attestation));
    out->created_at = (time_t)sqlite3_column_int64(stmt, 9);
    out->last_used_at = (time_t)sqlite3_column_int64(stmt, 10);
    out->possibly_cloned = sqlite3_column_int(stmt, 11) != 0;
    web_sql_column_copy(stmt, 12, out->enrollment_credential,
                        sizeof(out->enrollment_credential));
    out->backup_eligibility = read_backup_eligibility(stmt, 13);
    return 0;
}

static store_status insert_authenticator(sqlite3 *db, const web_authenticator *a)
{
    sqlite3_stmt *stmt = web_sql_prepare_on(
        db, "INSERT INTO authenticators (id, subject_id, credential_id, public_key,"
            " algorithm, sign_count, aaguid, format, attestation, created_at,"
            " enrollment_credential, backup_eligible)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");

    if (stmt == NULL)
        return STORE_FAILED;
    web_sql_bind_text(stmt, 1, a->id);
    sqlite3_bind_int64(stmt, 2, a->subject_id);
    sqlite3_bind_blob(stmt, 3, a->credential_id, (int)a->credential_id_len,
                      SQLITE_TRANSIENT);
    sqlite3_bind_blob(stmt, 4, a->public_key, (int)a->public_key_len, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 5, a->algorithm);
    sqlite3_bind_int64(stmt, 6, a->sign_count);
    sqlite3_bind_blob(stmt, 7, a->aaguid, 16, SQLITE_TRANSIENT);
    web_sql_bind_text(stmt, 8, a->format);
    web_sql_bind_text(stmt, 9, a->attestation);
    sqlite3_bind_int64(stmt, 10, a->created_at);
    web_sql_bind_text(stmt, 11, a->enrollment_credential[0] != '\0' ? a->enrollment_credential
                                                                    : NULL);
    if (a->backup_eligibility == WEBAUTHN_BACKUP_UNKNOWN)
        sqlite3_bind_null(stmt, 12);
    else
        sqlite3_bind_int(stmt, 12, a->backup_eligibility == WEBAUTHN_BACKUP_ELIGIBLE);
    return web_sql_run(stmt, "storing an authenticator");
}

static store_status sqlite_authenticator_add(store *s, const web_authenticator *a)
{
    sqlite3 *db = store_sqlite_connection(s);

    return db != NULL ? insert_authenticator(db, a) : STORE_FAILED;
}

/* Returns 1 when the subject has WEB_AUTHENTICATORS_MAX authenticators or more, 0, or -1
 * after logging. */
static int subject_at_limit(sqlite3 *db, int64_t subject_id)
{
    sqlite3_stmt *stmt = web_sql_prepare_on(
        db, "SELECT count(*) FROM authenticators WHERE subject_id = ?");
    int rc;

    if (stmt == NULL)
        return -1;
    sqlite3_bind_int64(stmt, 1, subject_id);
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        web_sql_log(stmt, "counting the authenticators of a subject");
        sqlite3_finalize(stmt);
        return -1;
    }
    rc = sqlite3_column_int64(stmt, 0) >= WEB_AUTHENTICATORS_MAX;
    sqlite3_finalize(stmt);
    return rc;
}

int web_sqlite_write_authenticator(sqlite3 *db, const web_authenticator *a)
{
    int at_limit = subject_at_limit(db, a->subject_id);
    store_status status;

    if (at_limit != 0)
        return at_limit < 0 ? -1 : 2;
    status = insert_authenticator(db, a);

    if (status == STORE_CONFLICT)
        return 1;
    return status == STORE_OK ? 0 : -1;
}

static store_status sqlite_authenticator_find(store *s, const unsigned char *credential_id,
                                              size_t len, web_authenticator *out)
{
    sqlite3_stmt *stmt = web_sql_prepare(s, AUTHENTICATOR_COLUMNS "WHERE credential_id = ?");
    store_status status = STORE_FAILED;
    int rc;

    memset(out, 0, sizeof(*out));
    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_blob(stmt, 1, credential_id, (int)len, SQLITE_TRANSIENT);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE)
        status = STORE_NOT_FOUND;
    else if (rc == SQLITE_ROW)
        status = read_authenticator(stmt, out) == 0 ? STORE_OK : STORE_FAILED;
    else
        web_sql_log(stmt, "reading an authenticator");
    sqlite3_finalize(stmt);
    if (status != STORE_OK)
        web_authenticator_clear(out);
    return status;
}

/* Reads every row of stmt, which selects AUTHENTICATOR_COLUMNS, and finalizes it. */
static store_status read_authenticators(sqlite3_stmt *stmt, web_authenticator **out,
                                        size_t *count)
{
    web_authenticator *list = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    *count = 0;
    if (stmt == NULL)
        return STORE_FAILED;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        web_authenticator *grown = realloc(list, (n + 1) * sizeof(*grown));

        if (grown == NULL)
            break;
        list = grown;
        if (read_authenticator(stmt, &list[n]) != 0) {
            web_authenticator_clear(&list[n]);
            break;
        }
        n++;
    }
    if (rc != SQLITE_DONE) {
        web_sql_log(stmt, "listing authenticators");
        sqlite3_finalize(stmt);
        web_authenticators_free(&list, n);
        return STORE_FAILED;
    }
    sqlite3_finalize(stmt);
    *out = list;
    *count = n;
    return STORE_OK;
}

static store_status sqlite_authenticator_list(store *s, int64_t subject_id,
                                              web_authenticator **out, size_t *count)
{
    sqlite3_stmt *stmt = web_sql_prepare(
        s, AUTHENTICATOR_COLUMNS "WHERE subject_id = ? ORDER BY created_at, rowid");

    if (stmt != NULL)
        sqlite3_bind_int64(stmt, 1, subject_id);
    return read_authenticators(stmt, out, count);
}

static store_status sqlite_authenticator_list_enrolled_with(store *s,
                                                            const char *credential_id,
                                                            web_authenticator **out,
                                                            size_t *count)
{
    sqlite3_stmt *stmt = web_sql_prepare(
        s, AUTHENTICATOR_COLUMNS "WHERE enrollment_credential = ? ORDER BY created_at, rowid");

    if (stmt != NULL)
        web_sql_bind_text(stmt, 1, credential_id);
    return read_authenticators(stmt, out, count);
}

static store_status delete_authenticator(sqlite3 *db, int64_t subject_id, const char *id)
{
    sqlite3_stmt *stmt =
        web_sql_prepare_on(db, "DELETE FROM authenticators WHERE id = ? AND subject_id = ?");
    store_status status;

    if (stmt == NULL)
        return STORE_FAILED;
    web_sql_bind_text(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, subject_id);
    status = web_sql_run(stmt, "removing an authenticator");
    if (status == STORE_OK && sqlite3_changes(db) == 0)
        status = STORE_NOT_FOUND;
    return status;
}

static store_status sqlite_authenticator_remove(store *s, int64_t subject_id,
                                                const char *id)
{
    sqlite3 *db = store_sqlite_connection(s);

    return db != NULL ? delete_authenticator(db, subject_id, id) : STORE_FAILED;
}

int web_sqlite_write_authenticator_removal(sqlite3 *db, int64_t subject_id, const char *id)
{
    store_status status = delete_authenticator(db, subject_id, id);

    if (status == STORE_NOT_FOUND)
        return 1;
    return status == STORE_OK ? 0 : -1;
}

static int delete_sessions_of(sqlite3 *db, const char *credential_id)
{
    sqlite3_stmt *stmt =
        web_sql_prepare_on(db, "DELETE FROM web_sessions WHERE enrollment_credential = ?");

    if (stmt == NULL)
        return -1;
    web_sql_bind_text(stmt, 1, credential_id);
    return web_sql_run(stmt, "ending the sessions of a credential") == STORE_OK ? 0 : -1;
}

/* Reads the ids of the authenticators enrolled with credential_id into *ids, oldest
 * first. Returns 0, or -1 after logging. */
static int read_enrolled_ids(sqlite3 *db, const char *credential_id, char ***ids,
                             size_t *count)
{
    sqlite3_stmt *stmt = web_sql_prepare_on(
        db, "SELECT id FROM authenticators WHERE enrollment_credential = ?"
            " ORDER BY created_at, rowid");
    int rc;

    if (stmt == NULL)
        return -1;
    web_sql_bind_text(stmt, 1, credential_id);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        char **grown = realloc(*ids, (*count + 1) * sizeof(*grown));
        char *id = grown != NULL && text != NULL ? strdup(text) : NULL;

        if (grown != NULL)
            *ids = grown;
        if (id == NULL) {
            log_message(LOG_ERROR, "store_error",
                        "listing the authenticators of credential %s failed: %s",
                        credential_id, text == NULL ? "an id is NULL" : "out of memory");
            sqlite3_finalize(stmt);
            return -1;
        }
        (*ids)[(*count)++] = id;
    }
    if (rc != SQLITE_DONE) {
        web_sql_log(stmt, "listing the authenticators of a credential");
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_finalize(stmt);
    return 0;
}

static int delete_enrolled(sqlite3 *db, const char *credential_id)
{
    sqlite3_stmt *stmt = web_sql_prepare_on(
        db, "DELETE FROM authenticators WHERE enrollment_credential = ?");

    if (stmt == NULL)
        return -1;
    web_sql_bind_text(stmt, 1, credential_id);
    return web_sql_run(stmt, "removing the authenticators of a credential") == STORE_OK
               ? 0
               : -1;
}

int web_sqlite_write_enrollment_removal(sqlite3 *db, const char *credential_id, char ***ids,
                                        size_t *count)
{
    *ids = NULL;
    *count = 0;
    if (read_enrolled_ids(db, credential_id, ids, count) != 0 ||
        delete_sessions_of(db, credential_id) != 0 || delete_enrolled(db, credential_id) != 0)
        return -1;
    return 0;
}

void web_ids_free(char ***ids, size_t count)
{
    if (ids == NULL || *ids == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free((*ids)[i]);
    free(*ids);
    *ids = NULL;
}

static store_status sqlite_authenticator_use(store *s, const char *id, uint32_t old_count,
                                             uint32_t new_count, bool backup_eligible,
                                             time_t now)
{
    /* A key enrolled before schema version 9 has no BE flag recorded, so the first
     * verified assertion's, which the credential key signed, is kept. The last condition
     * stops a concurrent assertion with the other BE value from passing too. */
    sqlite3_stmt *stmt = web_sql_prepare(
        s, "UPDATE authenticators SET sign_count = ?, last_used_at = ?,"
           " backup_eligible = coalesce(backup_eligible, ?)"
           " WHERE id = ? AND sign_count = ? AND possibly_cloned = 0"
           " AND coalesce(backup_eligible, ?) = ?");
    store_status status;

    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_int64(stmt, 1, new_count);
    sqlite3_bind_int64(stmt, 2, now);
    sqlite3_bind_int(stmt, 3, backup_eligible);
    web_sql_bind_text(stmt, 4, id);
    sqlite3_bind_int64(stmt, 5, old_count);
    sqlite3_bind_int(stmt, 6, backup_eligible);
    sqlite3_bind_int(stmt, 7, backup_eligible);
    status = web_sql_run(stmt, "updating a signature counter");
    if (status == STORE_OK && web_sql_changes(s) == 0)
        status = STORE_CONFLICT;
    return status;
}

static store_status sqlite_authenticator_mark_cloned(store *s, const char *id)
{
    sqlite3_stmt *stmt =
        web_sql_prepare(s, "UPDATE authenticators SET possibly_cloned = 1 WHERE id = ?");

    if (stmt == NULL)
        return STORE_FAILED;
    web_sql_bind_text(stmt, 1, id);
    return web_sql_run(stmt, "marking an authenticator");
}

void web_authenticator_clear(web_authenticator *authenticator)
{
    free(authenticator->credential_id);
    free(authenticator->public_key);
    memset(authenticator, 0, sizeof(*authenticator));
}

void web_authenticators_free(web_authenticator **list, size_t count)
{
    if (list == NULL || *list == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        web_authenticator_clear(&(*list)[i]);
    free(*list);
    *list = NULL;
}

const web_store_ops web_store_sqlite_ops = {
    .redeem_enrollment = sqlite_redeem_enrollment,
    .subject_of_assertion = sqlite_subject_of_assertion,
    .subject_name_id = sqlite_subject_name_id,
    .user_handle = sqlite_user_handle,
    .challenge_put = sqlite_challenge_put,
    .challenge_take = sqlite_challenge_take,
    .session_put = sqlite_session_put,
    .session_get = sqlite_session_get,
    .session_delete = sqlite_session_delete,
    .authenticator_add = sqlite_authenticator_add,
    .authenticator_find = sqlite_authenticator_find,
    .authenticator_list = sqlite_authenticator_list,
    .authenticator_list_enrolled_with = sqlite_authenticator_list_enrolled_with,
    .authenticator_remove = sqlite_authenticator_remove,
    .authenticator_use = sqlite_authenticator_use,
    .authenticator_mark_cloned = sqlite_authenticator_mark_cloned,
    .consent_get = web_sqlite_consent_get,
    .verification_get = web_sqlite_verification_get,
    .verification_of_consent = web_sqlite_verification_of_consent,
    .verification_purge_held = web_sqlite_verification_purge_held,
    .disclosure_add = web_sqlite_disclosure_add,
    .disclosure_list = web_sqlite_disclosure_list,
};
