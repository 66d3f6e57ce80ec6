/* SQLite storage of the citizen pages, part two: consent requests, verifications that
 * wait for consent, and the disclosure history. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "web_store_sql.h"

static const char *const consent_states[] = {"pending", "approved", "refused"};

static web_consent_state parse_state(const char *text)
{
    for (size_t i = 0; i < sizeof(consent_states) / sizeof(consent_states[0]); i++)
        if (text != NULL && strcmp(text, consent_states[i]) == 0)
            return (web_consent_state)i;
    return WEB_CONSENT_REFUSED; /* an unreadable state never counts as approval */
}

store_status web_sqlite_consent_get(store *s, const char *id, web_consent *out)
{
    sqlite3_stmt *stmt = web_sql_prepare(
        s, "SELECT id, subject_id, rp_id, details, created_at, expires_at, state,"
           " decided_at, authenticator_id, rejection, rejected_at FROM consent_requests"
           " WHERE id = ?");
    store_status status = STORE_FAILED;
    int rc;

    memset(out, 0, sizeof(*out));
    if (stmt == NULL)
        return STORE_FAILED;
    web_sql_bind_text(stmt, 1, id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        status = STORE_NOT_FOUND;
    } else if (rc == SQLITE_ROW) {
        web_sql_column_copy(stmt, 0, out->id, sizeof(out->id));
        out->subject_id = sqlite3_column_int64(stmt, 1);
        out->rp_id = web_sql_column_text(stmt, 2);
        out->details = web_sql_column_text(stmt, 3);
        out->created_at = (time_t)sqlite3_column_int64(stmt, 4);
        out->expires_at = (time_t)sqlite3_column_int64(stmt, 5);
        out->state = parse_state((const char *)sqlite3_column_text(stmt, 6));
        out->decided_at = (time_t)sqlite3_column_int64(stmt, 7);
        web_sql_column_copy(stmt, 8, out->authenticator_id, sizeof(out->authenticator_id));
        web_sql_column_copy(stmt, 9, out->rejection, sizeof(out->rejection));
        out->rejected_at = (time_t)sqlite3_column_int64(stmt, 10);
        status = out->rp_id != NULL && out->details != NULL ? STORE_OK : STORE_FAILED;
    } else {
        web_sql_log(stmt, "reading a consent request");
    }
    sqlite3_finalize(stmt);
    if (status != STORE_OK)
        web_consent_clear(out);
    return status;
}

/* Records a decision on a pending request: 1 when it was decided or rejected before, 0,
 * or -1. */
static int decide_on(sqlite3 *db, const char *id, web_consent_state state,
                     const char *authenticator_id, time_t now)
{
    sqlite3_stmt *stmt = web_sql_prepare_on(
        db, "UPDATE consent_requests SET state = ?, decided_at = ?, authenticator_id = ?"
            " WHERE id = ? AND state = 'pending' AND rejection IS NULL");

    if (stmt == NULL)
        return -1;
    web_sql_bind_text(stmt, 1, consent_states[state]);
    sqlite3_bind_int64(stmt, 2, now);
    web_sql_bind_text(stmt, 3, authenticator_id);
    web_sql_bind_text(stmt, 4, id);
    if (web_sql_run(stmt, "recording a consent decision") != STORE_OK)
        return -1;
    return sqlite3_changes(db) == 0 ? 1 : 0;
}

/* Reads the one row that stmt selects, with the columns of verification_get. */
static store_status read_verification(sqlite3_stmt *stmt, web_verification *out)
{
    store_status status = STORE_FAILED;
    int rc = sqlite3_step(stmt);

    if (rc == SQLITE_DONE) {
        status = STORE_NOT_FOUND;
    } else if (rc == SQLITE_ROW) {
        web_sql_column_copy(stmt, 0, out->id, sizeof(out->id));
        out->rp_id = web_sql_column_text(stmt, 1);
        web_sql_column_copy(stmt, 2, out->consent_id, sizeof(out->consent_id));
        out->result = web_sql_column_text(stmt, 3);
        out->created_at = (time_t)sqlite3_column_int64(stmt, 4);
        status = out->rp_id != NULL && out->result != NULL ? STORE_OK : STORE_FAILED;
    } else {
        web_sql_log(stmt, "reading a verification");
    }
    sqlite3_finalize(stmt);
    if (status != STORE_OK)
        web_verification_clear(out);
    return status;
}

store_status web_sqlite_verification_get(store *s, const char *id, const char *rp_id,
                                         web_verification *out)
{
    sqlite3_stmt *stmt = web_sql_prepare(
        s, "SELECT id, rp_id, consent_id, result, created_at FROM pending_verifications"
           " WHERE id = ? AND rp_id = ?");

    memset(out, 0, sizeof(*out));
    if (stmt == NULL)
        return STORE_FAILED;
    web_sql_bind_text(stmt, 1, id);
    web_sql_bind_text(stmt, 2, rp_id);
    return read_verification(stmt, out);
}

store_status web_sqlite_verification_of_consent(store *s, const char *consent_id,
                                                web_verification *out)
{
    sqlite3_stmt *stmt = web_sql_prepare(
        s, "SELECT id, rp_id, consent_id, result, created_at FROM pending_verifications"
           " WHERE consent_id = ?");

    memset(out, 0, sizeof(*out));
    if (stmt == NULL)
        return STORE_FAILED;
    web_sql_bind_text(stmt, 1, consent_id);
    return read_verification(stmt, out);
}

store_status web_sqlite_verification_purge_held(store *s, time_t now, size_t *count)
{
    sqlite3_stmt *stmt = web_sql_prepare(
        s, "UPDATE pending_verifications"
           " SET result = json_set(json_remove(result, '$.held'), '$.held_removed_at', ?1)"
           " WHERE json_type(result, '$.held') IS NOT NULL AND consent_id IN"
           " (SELECT id FROM consent_requests WHERE state = 'refused' OR expires_at <= ?1)");
    store_status status;

    *count = 0;
    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_int64(stmt, 1, now);
    status = web_sql_run(stmt, "removing held claim values");
    if (status == STORE_OK)
        *count = (size_t)web_sql_changes(s);
    return status;
}

static store_status insert_disclosure(sqlite3 *db, const web_disclosure *d)
{
    sqlite3_stmt *stmt = web_sql_prepare_on(
        db, "INSERT INTO disclosures (subject_id, rp_id, rp_name, rp_country, purpose,"
            " claims, rule, consent_id, disclosed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");

    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_int64(stmt, 1, d->subject_id);
    web_sql_bind_text(stmt, 2, d->rp_id);
    web_sql_bind_text(stmt, 3, d->rp_name);
    web_sql_bind_text(stmt, 4, d->rp_country);
    web_sql_bind_text(stmt, 5, d->purpose);
    web_sql_bind_text(stmt, 6, d->claims);
    web_sql_bind_text(stmt, 7, d->rule);
    web_sql_bind_text(stmt, 8, d->consent_id);
    sqlite3_bind_int64(stmt, 9, d->disclosed_at);
    return web_sql_run(stmt, "recording a disclosure");
}

int web_sqlite_write_disclosure(sqlite3 *db, const web_disclosure *disclosure)
{
    return insert_disclosure(db, disclosure) == STORE_OK ? 0 : -1;
}

store_status web_sqlite_disclosure_add(store *s, const web_disclosure *d)
{
    sqlite3 *db = store_sqlite_connection(s);

    return db != NULL ? insert_disclosure(db, d) : STORE_FAILED;
}

static int read_disclosure(sqlite3_stmt *stmt, web_disclosure *d)
{
    memset(d, 0, sizeof(*d));
    d->subject_id = sqlite3_column_int64(stmt, 0);
    d->rp_id = web_sql_column_text(stmt, 1);
    d->rp_name = web_sql_column_text(stmt, 2);
    d->rp_country = web_sql_column_text(stmt, 3);
    d->purpose = web_sql_column_text(stmt, 4);
    d->claims = web_sql_column_text(stmt, 5);
    d->rule = web_sql_column_text(stmt, 6);
    d->consent_id = web_sql_column_text(stmt, 7);
    d->disclosed_at = (time_t)sqlite3_column_int64(stmt, 8);
    return d->rp_id != NULL && d->rp_name != NULL && d->rp_country != NULL &&
                   d->purpose != NULL && d->claims != NULL && d->rule != NULL
               ? 0
               : -1;
}

static void disclosure_clear(web_disclosure *d)
{
    free(d->rp_id);
    free(d->rp_name);
    free(d->rp_country);
    free(d->purpose);
    free(d->claims);
    free(d->rule);
    free(d->consent_id);
    memset(d, 0, sizeof(*d));
}

store_status web_sqlite_disclosure_list(store *s, int64_t subject_id, size_t max,
                                        web_disclosure **out, size_t *count)
{
    sqlite3_stmt *stmt = web_sql_prepare(
        s, "SELECT subject_id, rp_id, rp_name, rp_country, purpose, claims, rule,"
           " consent_id, disclosed_at FROM disclosures WHERE subject_id = ?"
           " ORDER BY disclosed_at DESC, id DESC LIMIT ?");
    web_disclosure *list = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    *count = 0;
    if (stmt == NULL)
        return STORE_FAILED;
    sqlite3_bind_int64(stmt, 1, subject_id);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)max);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        web_disclosure *grown = realloc(list, (n + 1) * sizeof(*grown));

        if (grown == NULL)
            break;
        list = grown;
        if (read_disclosure(stmt, &list[n]) != 0) {
            disclosure_clear(&list[n]);
            break;
        }
        n++;
    }
    if (rc != SQLITE_DONE) {
        web_sql_log(stmt, "listing disclosures");
        sqlite3_finalize(stmt);
        web_disclosures_free(&list, n);
        return STORE_FAILED;
    }
    sqlite3_finalize(stmt);
    *out = list;
    *count = n;
    return STORE_OK;
}

void web_disclosures_free(web_disclosure **list, size_t count)
{
    if (list == NULL || *list == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        disclosure_clear(&(*list)[i]);
    free(*list);
    *list = NULL;
}

void web_consent_clear(web_consent *consent)
{
    free(consent->rp_id);
    free(consent->details);
    memset(consent, 0, sizeof(*consent));
}

void web_verification_clear(web_verification *verification)
{
    free(verification->rp_id);
    free(verification->result);
    memset(verification, 0, sizeof(*verification));
}

/* ---- A consent request with its verification, in the audit entry's transaction --- */

static store_status insert_consent(sqlite3 *db, const web_consent *c)
{
    sqlite3_stmt *stmt = web_sql_prepare_on(
        db, "INSERT INTO consent_requests (id, subject_id, rp_id, details, created_at,"
            " expires_at, state) VALUES (?, ?, ?, ?, ?, ?, 'pending')");

    if (stmt == NULL)
        return STORE_FAILED;
    web_sql_bind_text(stmt, 1, c->id);
    sqlite3_bind_int64(stmt, 2, c->subject_id);
    web_sql_bind_text(stmt, 3, c->rp_id);
    web_sql_bind_text(stmt, 4, c->details);
    sqlite3_bind_int64(stmt, 5, c->created_at);
    sqlite3_bind_int64(stmt, 6, c->expires_at);
    return web_sql_run(stmt, "storing a consent request");
}

static store_status insert_verification(sqlite3 *db, const web_verification *v)
{
    sqlite3_stmt *stmt = web_sql_prepare_on(
        db, "INSERT INTO pending_verifications (id, rp_id, consent_id, result, created_at)"
            " VALUES (?, ?, ?, ?, ?)");

    if (stmt == NULL)
        return STORE_FAILED;
    web_sql_bind_text(stmt, 1, v->id);
    web_sql_bind_text(stmt, 2, v->rp_id);
    web_sql_bind_text(stmt, 3, v->consent_id[0] != '\0' ? v->consent_id : NULL);
    web_sql_bind_text(stmt, 4, v->result);
    sqlite3_bind_int64(stmt, 5, v->created_at);
    return web_sql_run(stmt, "storing a verification");
}

int web_sqlite_write_consent_request(sqlite3 *db, const web_consent *consent,
                                     const web_verification *verification)
{
    if (insert_consent(db, consent) != STORE_OK ||
        insert_verification(db, verification) != STORE_OK) {
        log_message(LOG_ERROR, "store_error", "the consent request %s was not stored",
                    consent->id);
        return -1;
    }
    return 0;
}

/* Returns 1 when the authenticator id is stored and not marked as possibly cloned, 0, or
 * -1 after logging. A revocation may remove it between the assertion's check and this
 * transaction. */
static int authenticator_usable(sqlite3 *db, const char *id)
{
    sqlite3_stmt *stmt = web_sql_prepare_on(
        db, "SELECT 1 FROM authenticators WHERE id = ? AND possibly_cloned = 0");

    if (stmt == NULL)
        return -1;
    web_sql_bind_text(stmt, 1, id);
    return web_sql_exists(stmt, "reading an authenticator");
}

/* Returns 1 when consent request id has expired at now, 0, or -1 after logging. */
static int consent_expired(sqlite3 *db, const char *id, time_t now)
{
    sqlite3_stmt *stmt = web_sql_prepare_on(
        db, "SELECT 1 FROM consent_requests WHERE id = ? AND expires_at <= ?");

    if (stmt == NULL)
        return -1;
    web_sql_bind_text(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, now);
    return web_sql_exists(stmt, "checking the expiry of a consent request");
}

int web_sqlite_write_consent_decision(sqlite3 *db, const char *id, web_consent_state state,
                                      const char *authenticator_id, time_t now,
                                      const web_disclosure *disclosure)
{
    int rc = consent_expired(db, id, now);

    if (rc != 0)
        return rc < 0 ? -1 : 3;
    if (state == WEB_CONSENT_APPROVED) {
        rc = authenticator_id != NULL ? authenticator_usable(db, authenticator_id) : 0;
        if (rc != 1)
            return rc < 0 ? -1 : 2;
    }
    rc = decide_on(db, id, state, authenticator_id, now);
    if (rc != 0)
        return rc;
    if (disclosure != NULL && insert_disclosure(db, disclosure) != STORE_OK)
        return -1;
    return 0;
}

/* Marks a request rejected with code: 1 when it was refused or rejected before, 0, or
 * -1. */
static int reject_on(sqlite3 *db, const char *id, const char *code, time_t now)
{
    sqlite3_stmt *stmt = web_sql_prepare_on(
        db, "UPDATE consent_requests SET rejection = ?, rejected_at = ?"
            " WHERE id = ? AND state <> 'refused' AND rejection IS NULL");

    if (stmt == NULL)
        return -1;
    web_sql_bind_text(stmt, 1, code);
    sqlite3_bind_int64(stmt, 2, now);
    web_sql_bind_text(stmt, 3, id);
    if (web_sql_run(stmt, "rejecting a verification") != STORE_OK)
        return -1;
    return sqlite3_changes(db) == 0 ? 1 : 0;
}

/* Removes the held claim values of the verification of consent request id at once,
 * because a rejected verification releases nothing. */
static int drop_held_values(sqlite3 *db, const char *id, time_t now)
{
    sqlite3_stmt *stmt = web_sql_prepare_on(
        db, "UPDATE pending_verifications"
            " SET result = json_set(json_remove(result, '$.held'), '$.held_removed_at', ?)"
            " WHERE consent_id = ? AND json_type(result, '$.held') IS NOT NULL");

    if (stmt == NULL)
        return -1;
    sqlite3_bind_int64(stmt, 1, now);
    web_sql_bind_text(stmt, 2, id);
    return web_sql_run(stmt, "removing held claim values") == STORE_OK ? 0 : -1;
}

int web_sqlite_write_consent_rejection(sqlite3 *db, const char *id, const char *code,
                                       time_t now)
{
    int rc = reject_on(db, id, code, now);

    return rc != 0 ? rc : drop_held_values(db, id, now);
}
