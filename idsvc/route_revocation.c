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

/* Attempts before the revocation gives up when keys of the credential keep being
 * enrolled or removed between the listing and the commit. */
#define REVOKE_ATTEMPTS 4

/* The rows of one revocation, written in the transaction of its entries. */
typedef struct revocation_rows {
    const char *id;
    const char *issuer;
    const char *reason;
    time_t at;
    const char *const *authenticator_ids;
    size_t authenticator_count;
    bool stale; /* the credential's keys changed after they were listed */
} revocation_rows;

static int write_revocation(struct sqlite3 *db, void *ctx)
{
    revocation_rows *rows = ctx;
    int rc = store_sqlite_write_revocation(db, rows->id, rows->issuer, rows->reason,
                                           rows->at);

    if (rc != 0)
        return rc;
    rc = web_sqlite_write_enrollment_removal(db, rows->id, rows->authenticator_ids,
                                             rows->authenticator_count);
    rows->stale = rc == 1;
    return rc;
}

/* The entries of one revocation: credential_revoked first, then one
 * authenticator_removed per key. */
typedef struct revocation_entries {
    audit_event *events;
    json_t **payloads;
    size_t count;
} revocation_entries;

static void entries_free(revocation_entries *entries)
{
    for (size_t i = 0; entries->payloads != NULL && i < entries->count; i++)
        json_decref(entries->payloads[i]);
    free(entries->payloads);
    free(entries->events);
    memset(entries, 0, sizeof(*entries));
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

/* Builds the entries of a revocation that removes the keys in ids. Returns false when
 * out of memory. */
static bool build_entries(const http_request *request, const store_credential *credential,
                          const char *reason, const char *subject, const char *const *ids,
                          size_t count, revocation_entries *out)
{
    out->count = count + 1;
    out->events = calloc(out->count, sizeof(*out->events));
    out->payloads = calloc(out->count, sizeof(*out->payloads));
    if (out->events == NULL || out->payloads == NULL)
        return false;
    out->payloads[0] = json_pack("{s:s, s:s?, s:s}", "credential_id", credential->id,
                                 "reason", reason, "subject", subject);
    set_event(request, &out->events[0], "credential_revoked", out->payloads[0]);
    for (size_t i = 0; i < count; i++) {
        out->payloads[i + 1] =
            json_pack("{s:s, s:s, s:s, s:s}", "authenticator_id", ids[i], "reason",
                      "credential_revoked", "credential_id", credential->id, "subject",
                      subject);
        set_event(request, &out->events[i + 1], "authenticator_removed",
                  out->payloads[i + 1]);
    }
    for (size_t i = 0; i < out->count; i++)
        if (out->payloads[i] == NULL)
            return false;
    return true;
}

/* Lists the ids of the keys that descend from the credential. The ids point into *list.
 * Returns false on a store failure. */
static bool list_keys(http_request *request, const char *credential_id,
                      web_authenticator **list, size_t *count, const char ***ids)
{
    store *s = request->node->store;

    if (s->ops->web->authenticator_list_enrolled_with(s, credential_id, list, count) !=
        STORE_OK)
        return false;
    *ids = calloc(*count + 1, sizeof(**ids));
    if (*ids == NULL)
        return false;
    for (size_t i = 0; i < *count; i++)
        (*ids)[i] = (*list)[i].id;
    return true;
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

/* One attempt: lists the keys, then commits. *stale reports a key list that changed
 * before the commit, which a new attempt fixes. */
static audit_status attempt(http_request *request, const store_credential *credential,
                            const char *reason, const char *subject, time_t at,
                            bool *stale, http_reply *reply)
{
    web_authenticator *list = NULL;
    size_t count = 0;
    const char **ids = NULL;
    revocation_entries entries = {0};
    revocation_rows rows = {
        .id = credential->id,
        .issuer = request->caller.identity,
        .reason = reason,
        .at = at,
    };
    audit_status status = AUDIT_ERR_NO_MEMORY;

    if (!list_keys(request, credential->id, &list, &count, &ids) ||
        !build_entries(request, credential, reason, subject, ids, count, &entries)) {
        problem_internal(reply);
        goto out;
    }
    rows.authenticator_ids = ids;
    rows.authenticator_count = count;
    entries.events[0].write_rows = write_revocation;
    entries.events[0].write_rows_ctx = &rows;
    status = audit_record_group(request->node->audit, entries.events, entries.count);
    *stale = status == AUDIT_ERR_CONFLICT && rows.stale;
    if (status != AUDIT_OK && status != AUDIT_ERR_CONFLICT)
        route_audit_failed(request, "credential_revoked", status, reply);
    if (status == AUDIT_OK && count > 0)
        log_removed(request, credential->id, count);
out:
    entries_free(&entries);
    free(ids);
    web_authenticators_free(&list, count);
    return status;
}

audit_status route_revocation_commit(http_request *request,
                                     const store_credential *credential, const char *reason,
                                     time_t at, http_reply *reply)
{
    char subject[65];
    bool stale = true;
    audit_status status = AUDIT_ERR_CONFLICT;

    /* The pseudonym of the subject's credential_issued entries. */
    if (audit_subject_pseudonym(request->node->audit, request->snapshot->cfg->entity_id,
                                credential->subject_name_id, subject) != AUDIT_OK) {
        problem_internal(reply);
        return AUDIT_ERR_INVALID_ARGUMENT;
    }
    for (int i = 0; i < REVOKE_ATTEMPTS && stale; i++) {
        stale = false;
        status = attempt(request, credential, reason, subject, at, &stale, reply);
    }
    if (!stale)
        return status;
    log_message(LOG_WARN, "revocation_retry_exhausted", "credential %s: its keys changed "
                "during %d attempts, request %s", credential->id, REVOKE_ATTEMPTS,
                request->request_id);
    problem_set(reply, 503, "store_unavailable", NULL,
                "Keys of this credential were enrolled or removed during the revocation; "
                "retry later.");
    reply->retry_after = request->node->boot->retry_after_seconds;
    return AUDIT_ERR_STORE_FAILED;
}
