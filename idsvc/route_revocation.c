/*
 * The revocation of a credential together with what its enrollment code created. A
 * session opened with the code descends from the credential, and so do the keys
 * enrolled in it, the sessions those keys sign in, and the keys enrolled in those
 * sessions. Revoking the credential ends those sessions and removes those keys, so a
 * key enrolled with a stolen code cannot sign in or approve consent for the subject's
 * later credentials. Keys that descend from another credential stay.
 *
 * The revocation, the ended sessions, the removed keys, the credential_revoked entry and
 * one authenticator_removed entry per key commit in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "problem.h"
#include "route_audit.h"
#include "route_common.h"
#include "web_store_sql.h"

/* The rows and entries of one revocation. write_revocation fills ids and removed in the
 * transaction, and the log appends removed after credential_revoked. */
typedef struct revocation_rows {
    const http_request *request;
    const store_credential *credential;
    const char *reason;
    const char *subject; /* the pseudonym of the subject's credential_issued entries */
    time_t at;
    char **ids; /* the removed keys */
    size_t count;
    audit_event *removed; /* one authenticator_removed entry per key */
    const audit_event *added; /* removed, as the log reads it */
    json_t **payloads;
    size_t removed_count;
} revocation_rows;

static void removed_free(revocation_rows *rows)
{
    for (size_t i = 0; rows->payloads != NULL && i < rows->removed_count; i++)
        json_decref(rows->payloads[i]);
    free(rows->payloads);
    free(rows->removed);
    rows->payloads = NULL;
    rows->removed = NULL;
    rows->added = NULL;
    rows->removed_count = 0;
    web_ids_free(&rows->ids, rows->count);
    rows->count = 0;
}

static void set_event(const http_request *request, audit_event *event, const char *kind,
                      json_t *payload)
{
    *event = (audit_event){
        .kind = kind,
        .actor = request->caller.identity,
        .request_id = request->request_id,
        .payload = payload,
    };
}

/* Builds one authenticator_removed entry per id in rows. Returns false when out of
 * memory. */
static bool build_removed(revocation_rows *rows)
{
    if (rows->count == 0)
        return true;
    rows->removed = calloc(rows->count, sizeof(*rows->removed));
    rows->payloads = calloc(rows->count, sizeof(*rows->payloads));
    if (rows->removed == NULL || rows->payloads == NULL)
        return false;
    rows->removed_count = rows->count;
    for (size_t i = 0; i < rows->count; i++) {
        rows->payloads[i] = json_pack("{s:s, s:s, s:s, s:s}", "authenticator_id",
                                      rows->ids[i], "reason", "credential_revoked",
                                      "credential_id", rows->credential->id, "subject",
                                      rows->subject);
        if (rows->payloads[i] == NULL)
            return false;
        set_event(rows->request, &rows->removed[i], "authenticator_removed",
                  rows->payloads[i]);
    }
    rows->added = rows->removed;
    return true;
}

/* Revokes the credential and removes what its enrollment code created. It runs in the
 * audit log's transaction, which holds SQLite's write lock from its start (BEGIN
 * IMMEDIATE), so no key can be enrolled or removed between the reading of the keys and
 * their deletion. */
static int write_revocation(struct sqlite3 *db, void *ctx)
{
    revocation_rows *rows = ctx;
    int rc = store_sqlite_write_revocation(db, rows->credential->id,
                                           rows->request->caller.identity, rows->reason,
                                           rows->at);

    removed_free(rows);
    if (rc != 0)
        return rc;
    if (web_sqlite_write_enrollment_removal(db, rows->credential->id, &rows->ids,
                                            &rows->count) != 0)
        return -1;
    if (!build_removed(rows)) {
        log_message(LOG_ERROR, "revocation_failed",
                    "credential %s: out of memory for %zu authenticator_removed entries, "
                    "request %s", rows->credential->id, rows->count,
                    rows->request->request_id);
        return -1;
    }
    return 0;
}

static void log_removed(const http_request *request, const char *credential_id,
                        size_t count)
{
    char removed[24];

    snprintf(removed, sizeof(removed), "%zu", count);
    log_field fields[] = {
        {"request_id", request->request_id},
        {"credential_id", credential_id},
        {"authenticators", removed},
    };
    log_event(LOG_INFO, "enrollment_removed", fields, sizeof(fields) / sizeof(fields[0]));
}

audit_status route_revocation_commit(http_request *request,
                                     const store_credential *credential, const char *reason,
                                     time_t at, http_reply *reply)
{
    char subject[65];
    json_t *payload;
    audit_event revoked;
    revocation_rows rows = {
        .request = request,
        .credential = credential,
        .reason = reason,
        .subject = subject,
        .at = at,
    };
    audit_status status;

    if (audit_subject_pseudonym(request->node->audit, request->snapshot->cfg->entity_id,
                                credential->subject_name_id, subject) != AUDIT_OK) {
        problem_internal(reply);
        return AUDIT_ERR_INVALID_ARGUMENT;
    }
    payload = json_pack("{s:s, s:s?, s:s}", "credential_id", credential->id, "reason",
                        reason, "subject", subject);
    if (payload == NULL) {
        problem_internal(reply);
        return AUDIT_ERR_NO_MEMORY;
    }
    set_event(request, &revoked, "credential_revoked", payload);
    revoked.write_rows = write_revocation;
    revoked.write_rows_ctx = &rows;
    /* The log reads these once write_revocation has returned 0. */
    revoked.added_events = &rows.added;
    revoked.added_count = &rows.removed_count;

    status = audit_record(request->node->audit, &revoked, NULL);
    if (status != AUDIT_OK && status != AUDIT_ERR_CONFLICT)
        route_audit_failed(request, "credential_revoked", status, reply);
    if (status == AUDIT_OK && rows.count > 0)
        log_removed(request, credential->id, rows.count);
    removed_free(&rows);
    json_decref(payload);
    return status;
}
