/* Statement helpers shared by the SQLite files of web_store.h. */
#ifndef IDSVC_WEB_STORE_SQL_H
#define IDSVC_WEB_STORE_SQL_H

#include <sqlite3.h>

#include "web_store.h"

/* Prepares sql on this thread's connection, or on db; NULL after logging a failure. */
sqlite3_stmt *web_sql_prepare(store *s, const char *sql);
sqlite3_stmt *web_sql_prepare_on(sqlite3 *db, const char *sql);

/* Steps a statement that returns no row: STORE_OK, STORE_CONFLICT for a constraint,
 * or STORE_FAILED after logging. Finalizes stmt. */
store_status web_sql_run(sqlite3_stmt *stmt, const char *operation);

/* Binds text, or NULL for a NULL value. */
void web_sql_bind_text(sqlite3_stmt *stmt, int index, const char *value);

/* Copies a text column; NULL for SQL NULL or when out of memory. */
char *web_sql_column_text(sqlite3_stmt *stmt, int index);

/* Copies a text column into a fixed buffer, empty for SQL NULL. */
void web_sql_column_copy(sqlite3_stmt *stmt, int index, char *out, size_t size);

/* Steps a statement that selects at most one row and finalizes it. Returns 1 for a row,
 * 0 for none, or -1 after logging that operation failed. */
int web_sql_exists(sqlite3_stmt *stmt, const char *operation);

/* Logs a failed step or read. */
void web_sql_log(sqlite3_stmt *stmt, const char *operation);

/* Rows changed by the last statement on this thread's connection. */
int web_sql_changes(store *s);

/* The operations of web_store_consent.c, for the table in web_store_sqlite.c. */
store_status web_sqlite_consent_get(store *s, const char *id, web_consent *out);
store_status web_sqlite_verification_get(store *s, const char *id, const char *rp_id,
                                         web_verification *out);
store_status web_sqlite_verification_of_consent(store *s, const char *consent_id,
                                                web_verification *out);
store_status web_sqlite_verification_purge_held(store *s, time_t now, size_t *count);
store_status web_sqlite_disclosure_add(store *s, const web_disclosure *disclosure);
store_status web_sqlite_disclosure_list(store *s, int64_t subject_id, size_t max,
                                        web_disclosure **out, size_t *count);

/*
 * Writes a consent request and the verification that waits for it, on db, inside a
 * transaction the caller holds: the audit log's, as the audit_event write_rows of the
 * verification's consent_pending entry. Returns 0, or -1 after logging.
 */
int web_sqlite_write_consent_request(sqlite3 *db, const web_consent *consent,
                                     const web_verification *verification);

/* Adds a row to a subject's disclosure history in the caller's transaction. Returns 0,
 * or -1 after logging. */
int web_sqlite_write_disclosure(sqlite3 *db, const web_disclosure *disclosure);

/*
 * Records the decision on a pending consent request and, for an approval, the subject's
 * disclosure history row, on db inside a transaction the caller holds: the audit log's,
 * as the write_rows of the decision's entries. Returns 0, 1 when the request was decided
 * or rejected before, 2 when the approving authenticator was removed meanwhile, 3 when
 * the request has expired at now, or -1 after logging. On 1, 2 and 3 the caller's
 * savepoint undoes what was written.
 */
int web_sqlite_write_consent_decision(sqlite3 *db, const char *id, web_consent_state state,
                                      const char *authenticator_id, time_t now,
                                      const web_disclosure *disclosure);

/*
 * Writes an enrollment's authenticator, or removes one of a subject's, on db inside a
 * transaction the caller holds: the audit log's, as the write_rows of
 * authenticator_enrolled or authenticator_removed. Each returns 0 when written, and 1,
 * with nothing written, when the credential is enrolled already or the subject has no
 * authenticator with that id. web_sqlite_write_authenticator returns 2, with nothing
 * written, when the subject has WEB_AUTHENTICATORS_MAX authenticators. Each returns -1
 * after logging a failure.
 */
int web_sqlite_write_authenticator(sqlite3 *db, const web_authenticator *authenticator);
int web_sqlite_write_authenticator_removal(sqlite3 *db, int64_t subject_id, const char *id);

/*
 * Checks on db, inside the caller's transaction, that the session of token_hash is
 * still open at now and that its enrollment credential, when it has one, is not revoked.
 * Returns 1 when it is, 0 when not, or -1 after logging.
 */
int web_sqlite_session_open(sqlite3 *db, const unsigned char token_hash[32], time_t now);

/*
 * Ends what the enrollment code of credential_id created, on db inside the transaction
 * of the credential's revocation: deletes every session that descends from it and every
 * authenticator enrolled with it. *ids receives the *count ids of the deleted
 * authenticators, oldest first, read in the same transaction, so they are exactly the
 * deleted ones. Returns 0, or -1 after logging. Either way the caller frees *ids with
 * web_ids_free.
 */
int web_sqlite_write_enrollment_removal(sqlite3 *db, const char *credential_id, char ***ids,
                                        size_t *count);
void web_ids_free(char ***ids, size_t count);

/*
 * Ends the verification of consent request id as rejected with a problem code, such as
 * credential_revoked, and removes its held claim values, on db inside the transaction of
 * its verification_decided entry. Returns 0, 1 when the request was refused or rejected
 * before (nothing written), or -1 after logging.
 */
int web_sqlite_write_consent_rejection(sqlite3 *db, const char *id, const char *code,
                                       time_t now);

#endif
