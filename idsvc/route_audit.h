/*
 * Recording audit events from route handlers. Each function appends one entry through
 * audit_record and returns only once it is durable. On failure it replaces the reply
 * with 503 audit_unavailable and returns false, so the handler sends no success for an
 * event the log lacks. docs/audit-log.md lists the payload fields.
 */
#ifndef IDSVC_ROUTE_AUDIT_H
#define IDSVC_ROUTE_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "audit_log.h"
#include "http.h"
#include "saml.h"
#include "store.h"

/*
 * Opens the node's audit log on its database with the [audit] settings, signing
 * checkpoints with the SAML key, and records the checkpoint_key_loaded event. The open
 * fails when the wall clock is behind the log's newest time by more than [saml]
 * clock_skew, unless accept_clock_behind (idsvc --accept-clock-behind) is set, which
 * records a clock_behind_accepted entry instead. Returns 0, or -1 after logging the
 * reason.
 */
int route_audit_open(node *n, const config *cfg, bool accept_clock_behind);

/* Commits what is queued and closes the log; call it after the HTTP server stopped. */
void route_audit_close(node *n);

/* Records an event of the node itself, outside any request, such as policy_loaded or
 * an operator's SIGHUP. Takes ownership of payload (NULL counts as a failure). Logs
 * audit_record_failed and returns -1 when the entry could not be made durable. */
int route_audit_node_event(node *n, const char *kind, json_t *payload);

/* Records event with the caller as actor and the request ID filled in. */
bool route_audit_record(http_request *request, audit_event *event, http_reply *reply);

/* credential_issued: the IDs, the assurance, the subject's pseudonym and the claim
 * names of attributes (never their values). write_rows stores the subject and the
 * credential in the entry's transaction. Returns the status; a failure other than
 * AUDIT_ERR_CONFLICT (write_rows found the NameID taken) sets a problem in reply. */
audit_status route_audit_issued(http_request *request, const store_issue *issue,
                                const json_t *attributes, audit_rows_fn write_rows,
                                void *ctx, http_reply *reply);

/*
 * Revokes the credential at time at and removes what its enrollment code created: the
 * sessions that descend from it and the keys enrolled in them (route_revocation.c). One
 * transaction contains these rows, the credential_revoked entry (the credential ID, the
 * issuer's reason) and an authenticator_removed entry per removed key. Returns the
 * status; a failure other than AUDIT_ERR_CONFLICT (no active credential left to revoke)
 * sets a problem in reply.
 */
audit_status route_revocation_commit(http_request *request,
                                     const store_credential *credential, const char *reason,
                                     time_t at, http_reply *reply);

/* The decision of one verification, for its verification_decided entry. */
typedef struct audit_verification {
    const char *decision;         /* accepted, consent_pending or refused */
    const char *purpose;
    const char *issuer;
    const char *assertion_id;
    const char *rule;             /* policy, registry_allowed_claims or consent */
    const json_t *claims;         /* per claim: claim, decision, reason, rule; no value */
    const json_t *policy;         /* [{id, version, digest}], or NULL without the engine */
    const char *consent_id;       /* NULL when no consent was asked */
    const char *consent_required; /* the consent the engine asked for, or NULL */
    /* The assertion ID to record in the replay cache with the entry, or NULL; see
     * audit_event. A replay then fails the request with 422 assertion_replayed. */
    const char *replay_issuer;
    const char *replay_id;
    time_t replay_until;
    bool replay_credential; /* replay_id is a credential of this node; see audit_event */
    audit_rows_fn write_rows; /* rows committed with the entry, or NULL; see audit_event */
    void *write_rows_ctx;
} audit_verification;

/* Returns the per-claim list of a decision without the engine: each key of disclosed
 * as "disclosed", each {claim, reason} of withheld as "withheld". NULL on failure. */
json_t *route_audit_claim_decisions(const json_t *disclosed, const json_t *withheld);

/* Returns a copy of a per-claim list in which every claim that was not withheld is
 * withheld with the reason consent_refused: what a refusal releases. */
json_t *route_audit_refused_claims(const json_t *claims);

/* Builds the verification_decided payload of v; the caller adds the subject. */
json_t *route_audit_verification_payload(const audit_verification *v);

/* verification_decided for a verification of relying party rp_id, whose retention
 * period is that of jurisdiction: v plus the subject's pseudonym. */
bool route_audit_verification(http_request *request, const audit_verification *v,
                              const char *rp_id, const char *jurisdiction,
                              const saml_assertion *assertion, http_reply *reply);

/* The same entry through audit_record_async: returns AUDIT_OK once it is queued, and
 * on_done(ctx, status) runs after its commit. On another status nothing was queued. */
audit_status route_audit_verification_async(http_request *request,
                                            const audit_verification *v, const char *rp_id,
                                            const char *jurisdiction,
                                            const saml_assertion *assertion,
                                            audit_done_fn on_done, void *ctx);

/* Sets the reply for an entry of kind that was not recorded: 422 replayed for
 * AUDIT_ERR_REPLAYED, 422 credential_revoked for AUDIT_ERR_REVOKED, otherwise a logged
 * 503 audit_unavailable with Retry-After. */
void route_audit_failed(http_request *request, const char *kind, audit_status status,
                        http_reply *reply);

/* An event of the citizen pages (consent_given, consent_refused, authenticator_enrolled,
 * authenticator_removed, and the verification_decided that a consent decision ends) about the subject subject_id: adds the subject's pseudonym to
 * payload, which the caller keeps. relying_party and jurisdiction may be NULL. Fails
 * with 500 when the subject cannot be read. */
bool route_audit_subject_event(http_request *request, const char *kind, int64_t subject_id,
                               const char *relying_party, const char *jurisdiction,
                               json_t *payload, http_reply *reply);

/* Fills *event as route_audit_subject_event would record it, for audit_record_group.
 * The event points into payload and the arguments. */
bool route_audit_subject_prepare(http_request *request, const char *kind, int64_t subject_id,
                                 const char *relying_party, const char *jurisdiction,
                                 json_t *payload, audit_event *event, http_reply *reply);

/*
 * verification_decided, rejected: when reply contains a 422 rejection of the credential,
 * queues an entry with its problem code and defers the reply (http_request_defer) until
 * the entry is committed, so the worker thread does not wait for the fsync. The reply
 * goes out as it is, or as 503 audit_unavailable when the entry cannot be recorded.
 * Other replies are left alone. Call it last: the handler must not touch reply after.
 */
void route_audit_rejection(http_request *request, const char *purpose, const store_rp *rp,
                           http_reply *reply);

#endif
