/*
 * The policy engine inside the daemon: loading the signed bundles that [policy] names,
 * reloading them on SIGHUP, and the disclosure decision of POST /v1/verifications.
 */
#ifndef IDSVC_HTTP_POLICY_H
#define IDSVC_HTTP_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "http.h"
#include "policy.h"
#include "saml.h"
#include "store.h"

/*
 * Creates n->policy from cfg's [policy] section and loads its bundles. Leaves n->policy
 * NULL and returns 0 when the section names no bundle. Returns -1 after logging the
 * reason when the trust list or a bundle cannot be loaded.
 */
int http_policy_start(node *n, const config *cfg);

/* Loads cfg's regulator keys and bundles into a throwaway store, with every check of a
 * start (signatures, bindings, validate's checks, the node's home jurisdiction), for
 * `idsvc --check`. Returns 0, also when no bundle is named, or -1 with error set. */
int http_policy_check(const config *cfg, char *error, size_t error_size);

/* Reloads the regulator keys, their bindings and the bundles that cfg names, and puts
 * them in force together. On any failure, logs the stable code and the file at fault,
 * and keeps serving with the keys and the set that were loaded before. */
void http_policy_reload(node *n, const config *cfg);

void http_policy_stop(node *n);

/* The largest declared retention, in days, as the policy language allows it. */
#define VERIFICATION_RETENTION_MAX 36500

/* Reads the optional "retention_days" member: -1 when it is absent or null. Returns
 * false with 400 retention_invalid or field_invalid in reply for a bad value. */
bool verification_read_retention(const json_t *body, long *days, http_reply *reply);

/* The disclosure decision of one verification: what the response and the attestation
 * carry. Without the policy engine only the first four members are set. */
typedef struct disclosure {
    json_t *disclosed;          /* claim name -> value(s); a derived claim -> its value */
    json_t *withheld;           /* [{claim, reason}] */
    saml_attribute *attributes; /* the attestation's attributes */
    size_t attribute_count;
    bool owns_attributes;       /* names and values are copies freed with the disclosure */

    json_t *decisions;    /* per claim: decision, reason, rule, legal basis, explanation */
    json_t *policy;       /* [{id, version, digest}] of the bundles that decided */
    const char *outcome;  /* permit, partial, consent_required or deny */
    bool consent_required; /* the subject must consent before any claim is released */
    const char *consent;  /* the consent needed: explicit or separate-cross-border */
    char policy_log[640]; /* the bundles as "id vVERSION DIGEST", for the log line */

    /* While consent is pending: the same request decided with the consent evidence the
     * engine asked for, whose values the node keeps until the subject decides. NULL
     * otherwise. */
    struct disclosure *after_consent;
} disclosure;

void disclosure_clear(disclosure *d);

/* Adds the policy engine's members to a verification response: outcome,
 * consent_required, retention_days, decisions and policy. */
void verification_policy_members(json_t *doc, const disclosure *d, long retention_days);

/* The request members that the policy engine reads. */
typedef struct verification_terms {
    const char *purpose;
    long retention_days; /* -1 when the relying party declared none */
    const json_t *claims;
} verification_terms;

/*
 * Checks the purpose and the claim names of a verification request against the policy
 * set in force, before the assertion is verified, so that a request that the engine
 * cannot decide costs no signature check and leaves no audit entry. Returns true, or
 * false with 400 purpose_unknown, claim_unknown or field_invalid (a claim named twice)
 * in reply. verification_policy_decide checks them again, against the set that a
 * reload may have put in force since.
 */
bool verification_policy_check_terms(const http_request *request, const char *purpose,
                                     const json_t *claims, http_reply *reply);

/*
 * Decides each requested claim with the policy engine, using the verified assertion,
 * the relying party's registry entry and the node's jurisdiction. When consent is
 * required, nothing is released: disclosed stays empty and no attribute is set, and
 * after_consent holds the decision that the subject's consent would give, evaluated
 * with that consent as evidence. Returns 0, or -1 with a problem in reply.
 */
int verification_policy_decide(http_request *request, const store_rp *rp,
                               const saml_assertion *assertion,
                               const verification_terms *terms, disclosure *out,
                               http_reply *reply);

/* Returns the audit form of a decisions array: per claim its name, decision
 * (disclosed, derived, withheld, or consent_pending for a claim withheld until the
 * subject consents), reason, rule, bundle and the names of derived claims, never a
 * value or an explanation. NULL on allocation failure. */
json_t *verification_audit_claims(const json_t *decisions);

#endif
