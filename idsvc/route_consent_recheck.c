/*
 * The second look at the credential of a verification that waits for consent. The
 * subject may approve up to [pages] consent_timeout after the relying party's request,
 * and the relying party fetches the result later still. So the node checks the
 * credential again when the subject approves and each time the relying party fetches
 * the result.
 * A credential of this node that was revoked, or whose validity (with [saml]
 * clock_skew) has passed, ends the verification as rejected with credential_revoked or
 * expired. The rejection, the removal of the held claim values and the
 * verification_decided entry commit in one transaction, and no attestation is signed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "problem.h"
#include "route_audit.h"
#include "web_consent.h"
#include "web_store_sql.h"

void consent_problem_rejected(http_reply *reply, const char *code)
{
    problem_set(reply, 422, code, NULL,
                strcmp(code, "credential_revoked") == 0
                    ? "The credential was revoked by its issuer, so this verification ended "
                      "without a result."
                    : "The credential has expired, so this verification ended without a "
                      "result.");
}

/* Reads the state of the verification's credential: *code is credential_revoked,
 * expired, or NULL while it is valid. Returns false with a problem in reply. */
static bool credential_code(http_request *request, const json_t *result, const char **code,
                            http_reply *reply)
{
    store *s = request->node->store;
    const char *issuer = json_string_value(json_object_get(result, "issuer"));
    const char *assertion_id = json_string_value(json_object_get(result, "assertion_id"));
    long skew = request->snapshot->cfg->clock_skew_seconds;
    store_credential credential;
    store_status status;

    *code = NULL;
    if (issuer == NULL || assertion_id == NULL) {
        problem_internal(reply);
        return false;
    }
    /* Only this node's credentials wait for consent, because only they have a subject
     * record here. */
    if (strcmp(issuer, request->snapshot->cfg->entity_id) != 0)
        return true;
    status = s->ops->find_by_assertion(s, assertion_id, &credential);
    if (status != STORE_OK) {
        store_credential_clear(&credential);
        problem_internal(reply);
        return false;
    }
    if (credential.state == STORE_CREDENTIAL_REVOKED)
        *code = "credential_revoked";
    else if (time(NULL) >= credential.not_on_or_after + skew)
        *code = "expired";
    store_credential_clear(&credential);
    return true;
}

/* What a rejection writes in the transaction of its entry. */
typedef struct rejection_rows {
    const char *consent_id;
    const char *code;
    time_t now;
} rejection_rows;

static int write_rejection(struct sqlite3 *db, void *ctx)
{
    const rejection_rows *rows = ctx;

    return web_sqlite_write_consent_rejection(db, rows->consent_id, rows->code, rows->now);
}

/* Prepares the verification_decided entry of the rejection. *event points into
 * *payload, which the caller releases, and into details. */
static bool rejection_event(http_request *request, const web_consent *consent,
                            const json_t *details, const json_t *result, const char *code,
                            audit_event *event, json_t **payload, http_reply *reply)
{
    const json_t *rp = json_object_get(details, "relying_party");

    *payload = json_pack("{s:s, s:s, s:O?, s:O?, s:O?, s:s}", "decision", "rejected",
                         "reason", code, "purpose", json_object_get(result, "purpose"),
                         "issuer", json_object_get(result, "issuer"), "assertion_id",
                         json_object_get(result, "assertion_id"), "consent_id",
                         consent->id);
    return route_audit_subject_prepare(request, "verification_decided", consent->subject_id,
                                       consent->rp_id,
                                       json_string_value(json_object_get(rp, "country")),
                                       *payload, event, reply);
}

static void log_rejected(const http_request *request, const web_consent *consent,
                         const char *code)
{
    log_field fields[] = {
        {"request_id", request->request_id},
        {"consent_id", consent->id},
        {"relying_party", consent->rp_id},
        {"reason", code},
    };
    log_event(LOG_INFO, "verification_rejected", fields, sizeof(fields) / sizeof(fields[0]));
}

/* Commits the rejection with its entry and sets the 422 reply. A request refused or
 * rejected meanwhile keeps that outcome, and the reply still names code. */
static void commit_rejection(http_request *request, const web_consent *consent,
                             const json_t *result, const char *code, http_reply *reply)
{
    json_t *details = json_loads(consent->details, 0, NULL);
    rejection_rows rows = {consent->id, code, time(NULL)};
    json_t *payload = NULL;
    audit_event event;
    audit_status status;

    if (details == NULL ||
        !rejection_event(request, consent, details, result, code, &event, &payload, reply)) {
        if (details == NULL)
            problem_internal(reply);
        goto out;
    }
    event.write_rows = write_rejection;
    event.write_rows_ctx = &rows;
    status = audit_record(request->node->audit, &event, NULL);
    if (status != AUDIT_OK && status != AUDIT_ERR_CONFLICT) {
        route_audit_failed(request, event.kind, status, reply);
        goto out;
    }
    if (status == AUDIT_OK)
        log_rejected(request, consent, code);
    consent_problem_rejected(reply, code);
out:
    json_decref(payload);
    json_decref(details);
}

bool consent_recheck_credential(http_request *request, const web_consent *consent,
                                const web_verification *verification, http_reply *reply)
{
    json_t *result = json_loads(verification->result, 0, NULL);
    const char *code = NULL;
    bool valid = false;

    if (result == NULL)
        problem_internal(reply);
    else if (credential_code(request, result, &code, reply) && code == NULL)
        valid = true;
    else if (code != NULL)
        commit_rejection(request, consent, result, code, reply);
    json_decref(result);
    return valid;
}
