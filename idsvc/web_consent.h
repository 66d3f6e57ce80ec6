/*
 * Consent requests: what a verification that needs the subject's consent hands to the
 * consent pages, and what GET /v1/verifications/{id} reads back.
 */
#ifndef IDSVC_WEB_CONSENT_H
#define IDSVC_WEB_CONSENT_H

#include <stdint.h>

#include <jansson.h>

#include "http.h"
#include "http_policy.h"
#include "route_audit.h"
#include "saml.h"
#include "web_store.h"

/* A verification waiting for consent. Strings and JSON are borrowed for the call. */
typedef struct consent_input {
    int64_t subject_id;
    const config_rp *rp;
    const char *purpose;
    long retention_days; /* how long the relying party may keep the claims; -1 unknown */
    /* The claim decisions, in request order: {"claim": NAME, "form": "full"},
     * {"claim": NAME, "form": "derived", "derived": DERIVED-NAME} (one item per derived
     * claim), or {"claim": NAME, "form": "withheld", "reason": REASON} for a claim that
     * is not shared either way. Items may add the deciding "rule". */
    const json_t *claims;
    const char *rule; /* why consent is asked, shown in the disclosure history */
    const char *consent_level; /* the engine's explicit or separate-cross-border, or NULL */
    const json_t *policy;      /* the engine's [{id, version, digest}], or NULL */
    /* The stored result that GET /v1/verifications/{id} reads after approval, with the
     * claim values under "held"; route_consent_hook.c describes the members. */
    const json_t *result;
    json_t *reply_members; /* members added to the 202 response when not NULL */
    /* The verification's consent_pending audit entry, without consent_id, and the
     * assertion it concerns. */
    const audit_verification *audit;
    const saml_assertion *assertion;
} consent_input;

/*
 * Stores a consent request and the verification that waits for it, and replies 202
 * with verification_id, status "consent_pending" and consent_url. Both rows, the
 * audit entry and its replay record commit in one transaction, so a replayed assertion
 * gets 422 replayed and leaves no consent request. Fills a problem on failure.
 */
void consent_defer(http_request *request, const consent_input *input, http_reply *reply);

/*
 * Reads the registry's consent setting, which applies to nodes without the policy
 * engine: returns true when the relying party's section sets "consent = always". With
 * the engine, the engine's decision alone decides whether a verification waits.
 */
bool consent_required(const http_request *request, const config_rp *rp);

/* Returns true when the node serves the consent pages; otherwise fills 409
 * consent_unavailable. */
bool consent_available(const http_request *request, http_reply *reply);

/* Defers a verified, not yet disclosed verification of the calling relying party until
 * the subject decides. d is the decision: the engine's, whose after_consent holds what
 * an approval releases, or the registry's, whose disclosed claims wait. The assertion's
 * ID is recorded in the replay cache until replay_until, with the deferral. Replies 202,
 * or fills a problem. */
void consent_defer_verification(http_request *request, const char *purpose,
                                long retention_days, const saml_assertion *assertion,
                                const disclosure *d, time_t replay_until,
                                http_reply *reply);

/* Prepares the verification_decided entry that a consent decision ends: "accepted"
 * after an approval, "refused" after a refusal, naming the consent and the bundles of
 * the decision the subject saw, with the relying party's jurisdiction. *event points
 * into *payload, which the caller releases, and into jurisdiction. Returns false with a
 * problem in reply. */
bool consent_outcome_event(http_request *request, const web_consent *consent,
                           web_consent_state state, const char *jurisdiction,
                           audit_event *event, json_t **payload, http_reply *reply);

/*
 * Checks again the credential of the verification that waits for consent, or whose
 * approved result is not yet fetched. Returns true while it is valid. When this node's
 * credential was revoked or has expired, ends the verification as rejected, with its
 * verification_decided entry in the same transaction, and returns false with 422
 * credential_revoked or expired in reply. Also returns false with a problem in reply
 * when the check fails.
 */
bool consent_recheck_credential(http_request *request, const web_consent *consent,
                                const web_verification *verification, http_reply *reply);

/* Sets the 422 reply of a verification that ended as rejected with code. */
void consent_problem_rejected(http_reply *reply, const char *code);

/* Removes the held claim values of verifications whose consent request was refused or
 * has expired. Returns the number of verifications purged, or -1 on a store failure. */
int consent_purge_held_values(store *s, time_t now);

/* Fills the subject's history row of a disclosure that needed no consent, when the
 * assertion is a credential of this node, for the caller to write in the transaction of
 * the verification's audit entry (web_sqlite_write_disclosure). Returns 1 with *d
 * filled, whose claims the caller frees, 0 when the assertion is no credential of this
 * node, or -1 with a 500 problem in reply. The other members of *d point into request,
 * purpose and the configuration. */
int consent_prepare_disclosure(http_request *request, const char *purpose,
                               const saml_assertion *assertion, const json_t *disclosed,
                               web_disclosure *d, http_reply *reply);

#endif
