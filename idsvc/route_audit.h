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
 * checkpoints with the SAML key, and records the checkpoint_key_loaded event. Returns 0,
 * or -1 after logging the reason.
 */
int route_audit_open(node *n, const config *cfg);

/* Commits what is queued and closes the log; call it after the HTTP server stopped. */
void route_audit_close(node *n);

/* Records event with the caller as actor and the request ID filled in. */
bool route_audit_record(http_request *request, audit_event *event, http_reply *reply);

/* credential_issued: the IDs, the assurance, the subject's pseudonym and the claim
 * names of attributes (never their values). */
bool route_audit_issued(http_request *request, const store_issue *issue,
                        const json_t *attributes, http_reply *reply);

/* credential_revoked: the credential ID and the issuer's reason. */
bool route_audit_revoked(http_request *request, const store_credential *credential,
                         http_reply *reply);

/* verification_decided, accepted: the claim names disclosed (the keys of disclosed)
 * and withheld ({claim, reason} items of withheld). */
bool route_audit_verification(http_request *request, const char *purpose,
                              const store_rp *rp, const saml_assertion *assertion,
                              const json_t *disclosed, const json_t *withheld,
                              http_reply *reply);

/* verification_decided, consent_pending: a verification that waits for the subject's
 * consent request consent_id; the claim decisions as for an accepted one. */
bool route_audit_verification_deferred(http_request *request, const char *purpose,
                                       const config_rp *rp, const saml_assertion *assertion,
                                       const json_t *disclosed, const json_t *withheld,
                                       const char *consent_id, http_reply *reply);

/* An event of the citizen pages (consent_given, consent_refused, authenticator_enrolled,
 * authenticator_removed) about the subject subject_id: adds the subject's pseudonym to
 * payload, which the caller keeps. relying_party and jurisdiction may be NULL. Fails
 * with 500 when the subject cannot be read. */
bool route_audit_subject_event(http_request *request, const char *kind, int64_t subject_id,
                               const char *relying_party, const char *jurisdiction,
                               json_t *payload, http_reply *reply);

/* verification_decided, rejected: records the problem code when reply holds a 4xx
 * rejection of the credential; leaves other replies alone. */
bool route_audit_rejection(http_request *request, const char *purpose, const store_rp *rp,
                           http_reply *reply);

#endif
