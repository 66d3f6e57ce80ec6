/*
 * Consent requests: what a verification that needs the subject's consent hands to the
 * consent pages, and what GET /v1/verifications/{id} reads back.
 */
#ifndef IDSVC_WEB_CONSENT_H
#define IDSVC_WEB_CONSENT_H

#include <stdint.h>

#include <jansson.h>

#include "http.h"
#include "saml.h"
#include "web_store.h"

/* A verification waiting for consent. Strings and JSON are borrowed for the call. */
typedef struct consent_input {
    int64_t subject_id;
    const config_rp *rp;
    const char *purpose;
    long retention_days; /* how long the relying party may keep the claims; -1 unknown */
    /* The claim decisions, in request order: [{"claim": NAME, "form": "full"}, or
     * {"claim": NAME, "form": "derived", "derived": DERIVED-NAME}]. Withheld claims are
     * not listed, because nothing about them is disclosed. */
    const json_t *claims;
    const char *rule; /* why consent is asked, shown in the disclosure history */
    /* What GET /v1/verifications/{id} returns after approval: "claims" (name -> value), "withheld", "issuer",
     * "assertion_id", "name_id", "name_id_format", "assurance" and "purpose". */
    const json_t *result;
    char consent_id[WEB_ID_LEN + 1]; /* set by consent_defer: the stored request's id */
} consent_input;

/*
 * Stores a consent request and the verification that waits for it, and replies 202
 * with verification_id, status "consent_pending" and consent_url. Fills a problem on
 * failure.
 */
void consent_defer(http_request *request, consent_input *input, http_reply *reply);

/*
 * The hook of POST /v1/verifications: returns true when this verification needs the
 * subject's consent.
 * NOTE: this is the relying party's registry setting "consent = always|never". The
 * policy engine's consent_required does not reach it yet, because the engine's branch
 * withholds the values that a deferred verification would need to store.
 */
bool consent_required(const http_request *request, const config_rp *rp);

/* Defers a verified, not yet disclosed verification of the calling relying party until
 * the subject decides. disclosed and withheld are the claim decisions. Replies 202, or
 * fills a problem. */
void consent_defer_verification(http_request *request, const char *purpose,
                                const saml_assertion *assertion, const json_t *disclosed,
                                const json_t *withheld, http_reply *reply);

/* Adds a disclosure that needed no consent to the subject's history when the assertion
 * is a credential of this node. Returns false with a 500 problem when it cannot be
 * recorded, so nothing is disclosed without a record. */
bool consent_record_disclosure(http_request *request, const char *purpose,
                               const saml_assertion *assertion, const json_t *disclosed,
                               http_reply *reply);

#endif
