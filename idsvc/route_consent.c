/*
 * Consent requests and their decisions. A verification that needs consent stores a
 * request whose details (relying party, country, purpose, retention, claims and their
 * form) are kept as canonical JSON: members sorted by key, no whitespace, non-ASCII
 * written as \u escapes (jansson's JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII).
 *
 * Approval is a WebAuthn assertion with user verification whose challenge is
 * SHA-256(nonce || details), with a fresh 32-byte nonce per attempt, so the signature
 * commits to exactly the details the page showed. Refusal needs no assertion.
 *
 * POST /consent/{id}/options   assertion options for the approval
 * POST /consent/{id}/approval  {"response": AuthenticationResponseJSON}
 * POST /consent/{id}/refusal   {}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "problem.h"
#include "route_audit.h"
#include "route_common.h"
#include "web.h"
#include "web_consent.h"
#include "web_store_sql.h"

bool consent_required(const http_request *request, const config_rp *rp)
{
    (void)request;
    return rp != NULL && rp->consent_always;
}

static json_t *build_details(const http_request *request, const consent_input *in,
                             const char *consent_id, time_t expires_at)
{
    const config *cfg = request->snapshot->cfg;
    char expires[32];

    route_format_time(expires_at, expires);
    return json_pack("{s:O, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:o, s:s, s:s*,"
                     " s:O*}",
                     "claims", in->claims, "consent_id", consent_id, "expires_at", expires,
                     "node", cfg->entity_id, "purpose", in->purpose, "relying_party",
                     "country", in->rp->jurisdiction, "entity_id", in->rp->entity_id, "id",
                     in->rp->id, "name", in->rp->name != NULL ? in->rp->name : in->rp->id,
                     "retention_days",
                     in->retention_days >= 0 ? json_integer(in->retention_days)
                                             : json_null(),
                     "rule", in->rule, "consent_required", in->consent_level, "policy",
                     in->policy);
}

static char *canonical(const json_t *doc)
{
    return json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
}

static void reply_deferred(http_reply *reply, const consent_input *in,
                           const char *verification_id, const char *consent_id,
                           const char *origin, time_t expires_at)
{
    char url[512];
    char expires[32];
    json_t *doc;

    snprintf(url, sizeof(url), "%s/consent/%s", origin, consent_id);
    route_format_time(expires_at, expires);
    doc = json_pack("{s:s, s:s, s:s, s:s, s:s}", "verification_id", verification_id,
                    "status", "consent_pending", "consent_id", consent_id, "consent_url",
                    url, "expires_at", expires);
    if (doc != NULL && in->reply_members != NULL &&
        json_object_update_missing(doc, in->reply_members) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    if (doc == NULL) {
        problem_internal(reply);
        return;
    }
    http_reply_json(reply, 202, doc);
}

/* The rows of one consent request, for write_request_rows. */
typedef struct request_rows {
    const web_consent *consent;
    const web_verification *verification;
} request_rows;

static int write_request_rows(struct sqlite3 *db, void *ctx)
{
    const request_rows *rows = ctx;

    return web_sqlite_write_consent_request(db, rows->consent, rows->verification);
}

/*
 * Commits the consent request, the verification that waits for it and the
 * consent_pending audit entry with the assertion's replay record, in one transaction.
 * Returns false with a problem in reply: 422 replayed, 422 credential_revoked or 503.
 */
static bool record_request(http_request *request, const consent_input *in,
                           const web_consent *consent, const char *verification_id,
                           http_reply *reply)
{
    web_verification verification = {0};
    request_rows rows = {consent, &verification};
    audit_verification entry = *in->audit;
    bool ok;

    snprintf(verification.id, sizeof(verification.id), "%s", verification_id);
    snprintf(verification.consent_id, sizeof(verification.consent_id), "%s", consent->id);
    verification.rp_id = (char *)in->rp->id;
    verification.created_at = consent->created_at;
    verification.result = canonical(in->result);
    if (verification.result == NULL) {
        problem_internal(reply);
        return false;
    }
    entry.consent_id = consent->id;
    entry.write_rows = write_request_rows;
    entry.write_rows_ctx = &rows;
    ok = route_audit_verification(request, &entry, in->rp->id, in->rp->jurisdiction,
                                  in->assertion, reply);
    free(verification.result);
    return ok;
}

void consent_defer(http_request *request, const consent_input *in, http_reply *reply)
{
    const config_web *web = &request->snapshot->cfg->web;
    web_consent consent = {0};
    char verification_id[WEB_ID_LEN + 1];
    json_t *details = NULL;

    if (web->rp_id == NULL) {
        problem_set(reply, 409, "consent_unavailable", NULL,
                    "This verification needs the subject's consent, but the node serves no "
                    "consent pages.");
        return;
    }
    consent.subject_id = in->subject_id;
    consent.created_at = time(NULL);
    consent.expires_at = consent.created_at + web->consent_seconds;
    consent.rp_id = (char *)in->rp->id;
    if (route_random_hex(consent.id, WEB_ID_LEN / 2) != 0 ||
        route_random_hex(verification_id, WEB_ID_LEN / 2) != 0)
        goto fail;
    details = build_details(request, in, consent.id, consent.expires_at);
    consent.details = details != NULL ? canonical(details) : NULL;
    if (consent.details == NULL)
        goto fail;
    if (!record_request(request, in, &consent, verification_id, reply))
        goto out;

    log_field fields[] = {
        {"request_id", request->request_id},
        {"relying_party", in->rp->id},
        {"consent_id", consent.id},
        {"verification_id", verification_id},
    };
    log_event(LOG_INFO, "consent_requested", fields, sizeof(fields) / sizeof(fields[0]));
    reply_deferred(reply, in, verification_id, consent.id, web->origins[0],
                   consent.expires_at);
    goto out;
fail:
    problem_internal(reply);
out:
    free(consent.details);
    json_decref(details);
}

/* ---- The page's calls --------------------------------------------------------------- */

static void problem_consent_expired(http_reply *reply)
{
    problem_set(reply, 410, "consent_expired", NULL,
                "This consent request expired; the relying party must ask again.");
}

/* Loads a consent request that can still be decided; otherwise fills a problem. */
static bool load_pending(http_request *request, web_consent *consent, http_reply *reply)
{
    store *s = request->node->store;
    store_status status = s->ops->web->consent_get(s, request->params[0], consent);

    if (status == STORE_NOT_FOUND) {
        problem_set(reply, 404, "consent_not_found", NULL, "No consent request has this id.");
        return false;
    }
    if (status != STORE_OK) {
        problem_internal(reply);
        return false;
    }
    if (consent->rejection[0] != '\0') {
        consent_problem_rejected(reply, consent->rejection);
        return false;
    }
    if (consent->state != WEB_CONSENT_PENDING) {
        problem_set(reply, 409, "consent_already_decided", NULL,
                    "This consent request was %s before.",
                    consent->state == WEB_CONSENT_APPROVED ? "approved" : "refused");
        return false;
    }
    if (consent->expires_at <= time(NULL)) {
        problem_consent_expired(reply);
        return false;
    }
    return true;
}

/* Opens a page call: pages configured, Origin allowed, JSON body read. */

static json_t *assertion_options(const http_request *request, const web_challenge *challenge,
                                 json_t *allow)
{
    const config_web *web = &request->snapshot->cfg->web;
    char *text = web_base64url(challenge->bytes, WEB_CHALLENGE_LEN);
    json_t *doc = NULL;

    if (text != NULL && allow != NULL)
        doc = json_pack("{s:s, s:s, s:I, s:s, s:O}", "challenge", text, "rpId", web->rp_id,
                        "timeout", (json_int_t)web->challenge_seconds * 1000,
                        "userVerification", "required", "allowCredentials", allow);
    free(text);
    return doc;
}

void route_consent_options(http_request *request, http_reply *reply)
{
    store *s = request->node->store;
    json_t *body = web_begin_call(request, web_members_none, reply);
    web_consent consent = {0};
    web_authenticator *list = NULL;
    size_t count = 0;
    web_challenge challenge;
    json_t *allow = NULL;

    if (body == NULL || !load_pending(request, &consent, reply))
        goto out;
    if (s->ops->web->authenticator_list(s, consent.subject_id, &list, &count) != STORE_OK) {
        problem_internal(reply);
        goto out;
    }
    allow = web_allow_credentials(list, count);
    if (allow != NULL && json_array_size(allow) == 0) {
        problem_set(reply, 409, "authenticator_missing", NULL,
                    "The subject has no usable security key; enroll one first.");
        goto out;
    }
    if (web_challenge_issue(request, WEB_CEREMONY_CONSENT, consent.subject_id, consent.id,
                            consent.details, &challenge, reply) != 0)
        goto out;
    http_reply_json(reply, 200, assertion_options(request, &challenge, allow));
out:
    json_decref(allow);
    web_authenticators_free(&list, count);
    web_consent_clear(&consent);
    json_decref(body);
}

/* Checks that the challenge belongs to this request and commits to its details. */
static bool challenge_matches(const web_challenge *challenge, const web_consent *consent,
                              http_reply *reply)
{
    unsigned char expected[WEB_CHALLENGE_LEN];

    web_consent_digest(challenge->nonce, consent->details, expected);
    if (strcmp(challenge->consent_id, consent->id) == 0 &&
        webauthn_challenge_equal(expected, sizeof(expected), challenge->bytes,
                                 WEB_CHALLENGE_LEN))
        return true;
    problem_set(reply, 422, "challenge_consent_mismatch", "response",
                "The challenge was issued for another consent request.");
    return false;
}

/* Returns the names of the claims that an approval shares: a derived claim's own name
 * for a derived value, each name once, and nothing that is not shared. */
static json_t *shared_claim_names(const json_t *details)
{
    json_t *names = json_array();
    const json_t *claim;
    size_t index;

    json_array_foreach(json_object_get(details, "claims"), index, claim) {
        const char *form = json_string_value(json_object_get(claim, "form"));
        json_t *name = json_object_get(claim, strcmp(form != NULL ? form : "", "derived") == 0
                                                  ? "derived"
                                                  : "claim");
        const json_t *seen;
        size_t i;
        bool listed = false;

        if (names == NULL || form == NULL || strcmp(form, "withheld") == 0 ||
            !json_is_string(name))
            continue;
        json_array_foreach(names, i, seen)
            listed = listed || json_equal(seen, name);
        if (!listed)
            json_array_append(names, name);
    }
    return names;
}

/* What a consent decision writes in the transaction of its audit entries. */
typedef struct decision_rows {
    const char *consent_id;
    web_consent_state state;
    const char *authenticator;
    time_t now;
    const web_disclosure *disclosure; /* the history row of an approval, or NULL */
    bool authenticator_removed; /* set when the approving key was removed meanwhile */
    bool expired;               /* set when the request expired before the commit */
} decision_rows;

/* Runs in the commit's transaction, which may start well after the request was read, so
 * the expiry is checked against the time of the commit. */
static int write_decision_rows(struct sqlite3 *db, void *ctx)
{
    decision_rows *rows = ctx;
    int rc;

    rows->now = time(NULL);
    rc = web_sqlite_write_consent_decision(db, rows->consent_id, rows->state,
                                           rows->authenticator, rows->now, rows->disclosure);
    rows->authenticator_removed = rc == 2;
    rows->expired = rc == 3;
    return rc >= 2 ? 1 : rc;
}

/* Fills the subject's disclosure history row of an approval from the consent's details,
 * which must outlive it; the caller frees d->claims. Returns false when a member is
 * missing. */
static bool fill_disclosure(const web_consent *consent, const json_t *details, time_t now,
                            web_disclosure *d)
{
    const json_t *rp = json_object_get(details, "relying_party");
    json_t *names = shared_claim_names(details);

    *d = (web_disclosure){
        .subject_id = consent->subject_id,
        .rp_id = (char *)json_string_value(json_object_get(rp, "id")),
        .rp_name = (char *)json_string_value(json_object_get(rp, "name")),
        .rp_country = (char *)json_string_value(json_object_get(rp, "country")),
        .purpose = (char *)json_string_value(json_object_get(details, "purpose")),
        .rule = (char *)json_string_value(json_object_get(details, "rule")),
        .consent_id = (char *)consent->id,
        .disclosed_at = now,
        .claims = names != NULL ? json_dumps(names, JSON_COMPACT) : NULL,
    };
    json_decref(names);
    return d->rp_id != NULL && d->rp_name != NULL && d->rp_country != NULL &&
           d->purpose != NULL && d->rule != NULL && d->claims != NULL;
}

static void log_decision(const http_request *request, const web_consent *consent,
                         const char *event, const char *authenticator)
{
    log_field fields[] = {
        {"request_id", request->request_id},
        {"consent_id", consent->id},
        {"relying_party", consent->rp_id},
        {"authenticator", authenticator},
    };
    log_event(LOG_INFO, event, fields, sizeof(fields) / sizeof(fields[0]));
}

/* Prepares consent_given or consent_refused: what the subject decided on, by claim name
 * only, and the approving authenticator. *event points into *payload and details. */
static bool decision_event(http_request *request, const web_consent *consent,
                           const json_t *details, web_consent_state state,
                           const char *authenticator, audit_event *event, json_t **payload,
                           http_reply *reply)
{
    const json_t *rp = json_object_get(details, "relying_party");
    json_t *names = shared_claim_names(details);

    *payload = names == NULL ? NULL
                             : json_pack("{s:s, s:s?, s:O?, s:O, s:s*}", "consent_id",
                                         consent->id, "purpose",
                                         json_string_value(json_object_get(details, "purpose")),
                                         "retention_days",
                                         json_object_get(details, "retention_days"), "claims",
                                         names, "authenticator_id", authenticator);
    json_decref(names);
    return route_audit_subject_prepare(
        request, state == WEB_CONSENT_APPROVED ? "consent_given" : "consent_refused",
        consent->subject_id, consent->rp_id, json_string_value(json_object_get(rp, "country")),
        *payload, event, reply);
}

/*
 * Records the decision, the approval's disclosure history row and both audit entries
 * (consent_given or consent_refused, then the verification_decided it ends) in one
 * transaction. So the relying party can fetch approved claims only when the log shows
 * the approval, and a failure leaves the request pending for the subject to decide again.
 */
static bool commit_decision(http_request *request, const web_consent *consent,
                            const json_t *details, web_consent_state state,
                            const char *authenticator, http_reply *reply)
{
    const char *jurisdiction =
        json_string_value(json_object_get(json_object_get(details, "relying_party"), "country"));
    decision_rows rows = {consent->id, state, authenticator, time(NULL), NULL, false, false};
    web_disclosure history = {0};
    json_t *payloads[2] = {NULL, NULL};
    audit_event events[2];
    audit_status status = AUDIT_ERR_INVALID_ARGUMENT;
    bool ok = false;

    if (!decision_event(request, consent, details, state, authenticator, &events[0],
                        &payloads[0], reply) ||
        !consent_outcome_event(request, consent, state, jurisdiction, &events[1],
                               &payloads[1], reply))
        goto out;
    if (state == WEB_CONSENT_APPROVED) {
        if (!fill_disclosure(consent, details, rows.now, &history)) {
            problem_internal(reply);
            goto out;
        }
        rows.disclosure = &history;
    }
    events[0].write_rows = write_decision_rows;
    events[0].write_rows_ctx = &rows;
    status = audit_record_group(request->node->audit, events, 2);
    if (status == AUDIT_ERR_CONFLICT && rows.authenticator_removed)
        problem_set(reply, 422, "authenticator_unknown", "response",
                    "The authenticator of this response was removed or blocked during the "
                    "approval.");
    else if (status == AUDIT_ERR_CONFLICT && rows.expired)
        problem_consent_expired(reply);
    else if (status == AUDIT_ERR_CONFLICT)
        problem_set(reply, 409, "consent_already_decided", NULL,
                    "This consent request was decided before.");
    else if (status != AUDIT_OK)
        route_audit_failed(request, events[0].kind, status, reply);
    ok = status == AUDIT_OK;
out:
    free(history.claims);
    json_decref(payloads[0]);
    json_decref(payloads[1]);
    return ok;
}

static void decide(http_request *request, const web_consent *consent,
                   web_consent_state state, const char *authenticator, http_reply *reply)
{
    json_t *details = json_loads(consent->details, 0, NULL);

    if (details == NULL) {
        problem_internal(reply);
        return;
    }
    if (!commit_decision(request, consent, details, state, authenticator, reply)) {
        json_decref(details);
        return;
    }
    json_decref(details);
    /* A refusal releases nothing, so the held values go at once. */
    if (state == WEB_CONSENT_REFUSED)
        consent_purge_held_values(request->node->store, time(NULL));
    log_decision(request, consent, state == WEB_CONSENT_APPROVED ? "consent_approved"
                                                                 : "consent_refused",
                 authenticator);
    http_reply_json(reply, 200,
                    json_pack("{s:s, s:s}", "consent_id", consent->id, "state",
                              state == WEB_CONSENT_APPROVED ? "approved" : "refused"));
}

/* Checks the verification's credential again before an approval releases anything. */
static bool recheck_credential(http_request *request, const web_consent *consent,
                               http_reply *reply)
{
    store *s = request->node->store;
    web_verification verification = {0};
    bool valid = false;

    if (s->ops->web->verification_of_consent(s, consent->id, &verification) != STORE_OK)
        problem_internal(reply);
    else
        valid = consent_recheck_credential(request, consent, &verification, reply);
    web_verification_clear(&verification);
    return valid;
}

void route_consent_approve(http_request *request, http_reply *reply)
{
    json_t *body = web_begin_call(request, web_members_response, reply);
    web_consent consent = {0};
    web_challenge challenge;
    web_authenticator authenticator = {0};
    char *response = NULL;

    if (body == NULL || !load_pending(request, &consent, reply))
        goto out;
    response = web_response_text(body, reply);
    if (response == NULL ||
        !web_challenge_take(request, response, WEB_CEREMONY_CONSENT, &challenge, reply) ||
        !challenge_matches(&challenge, &consent, reply))
        goto out;
    if (!web_verify_assertion(request, &challenge, response, consent.subject_id,
                              &authenticator, reply) ||
        !recheck_credential(request, &consent, reply))
        goto out;
    decide(request, &consent, WEB_CONSENT_APPROVED, authenticator.id, reply);
out:
    web_authenticator_clear(&authenticator);
    free(response);
    web_consent_clear(&consent);
    json_decref(body);
}

void route_consent_refuse(http_request *request, http_reply *reply)
{
    json_t *body = web_begin_call(request, web_members_none, reply);
    web_consent consent = {0};

    if (body != NULL && load_pending(request, &consent, reply))
        decide(request, &consent, WEB_CONSENT_REFUSED, NULL, reply);
    web_consent_clear(&consent);
    json_decref(body);
}
