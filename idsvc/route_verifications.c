/*
 * POST /v1/verifications, for relying parties: verifies a SAML assertion and returns
 * the claims disclosed, the reason each other requested claim was withheld, and a
 * result attestation that the node signs in the HSM for that relying party.
 *
 * The request's own members are checked first, with the policy engine's purposes and
 * claims catalogue when it runs, so that a request that no assertion could make valid
 * costs no signature check and writes no audit entry. Then the assertion's checks run
 * in this order: signature against the trust list, conditions, validity window and
 * audience (saml_verify), the ProxyRestriction, revocation of credentials this node
 * issued, then replay. A revoked credential therefore reports
 * "credential_revoked" even when presented twice. A credential of this node issued with
 * claims_in_assertion false gets its claim values from the store after the revocation
 * check.
 *
 * An accepted verification records its assertion ID in the replay cache and the
 * subject's disclosure history row in the same transaction as its audit entry: one
 * commit, one fsync, and never one without the others.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "http_policy.h"
#include "log.h"
#include "problem.h"
#include "route_audit.h"
#include "route_common.h"
#include "web_consent.h"
#include "web_store_sql.h"

#define PURPOSE_MAX 256
#define CLAIMS_MAX 64
#define REPLAY_FALLBACK_SECONDS (24 * 3600)

typedef struct verify_input {
    char *xml; /* decoded when the request sent base64 */
    size_t xml_len;
    const char *purpose;
    const json_t *claims;
    long retention_days; /* -1 when the relying party declared none */
} verify_input;

/* Returns the index of the first item before claims[index] that equals it, or -1. */
static long earlier_copy(const json_t *claims, size_t index)
{
    for (size_t j = 0; j < index; j++)
        if (json_equal(json_array_get(claims, j), json_array_get(claims, index)))
            return (long)j;
    return -1;
}

/* Checks the claim list; names_known is false when the policy engine checks the names
 * against its own catalogue. A name given twice is rejected in both cases, so that a
 * request names each claim once. */
static bool read_claim_list(const json_t *claims, bool names_known, http_reply *reply)
{
    size_t index;
    const json_t *item;
    char field[32];
    long earlier;

    if (claims == NULL || json_is_null(claims)) {
        problem_set(reply, 400, "field_missing", "claims", "The field claims is required.");
        return false;
    }
    if (!json_is_array(claims) || json_array_size(claims) == 0 ||
        json_array_size(claims) > CLAIMS_MAX) {
        problem_set(reply, 400, "field_invalid", "claims",
                    "claims must be an array of 1 to %d claim names.", CLAIMS_MAX);
        return false;
    }
    json_array_foreach(claims, index, item) {
        snprintf(field, sizeof(field), "claims[%zu]", index);
        if (!json_is_string(item)) {
            problem_set(reply, 400, "field_invalid", field, "Each claim must be a string.");
            return false;
        }
        if (names_known && saml_claim_by_name(json_string_value(item)) == NULL) {
            problem_set(reply, 400, "claim_unknown", field,
                        "Each claim must be a name from the claims catalogue.");
            return false;
        }
        earlier = earlier_copy(claims, index);
        if (earlier >= 0) {
            problem_set(reply, 400, "field_invalid", field,
                        "%s repeats claims[%ld]. Name each claim once.", field, earlier);
            return false;
        }
    }
    return true;
}

/* Tells raw XML from base64: XML starts with "<", after an optional UTF-8 byte order
 * mark and XML white space. Neither the mark nor white space is a base64 character. */
static bool assertion_is_xml(const char *assertion)
{
    static const char utf8_bom[] = "\xEF\xBB\xBF";

    if (strncmp(assertion, utf8_bom, sizeof(utf8_bom) - 1) == 0)
        assertion += sizeof(utf8_bom) - 1;
    return assertion[strspn(assertion, " \t\r\n")] == '<';
}

/* The code unit at bytes[i] of UTF-16 text. */
static unsigned code_unit(const unsigned char *bytes, size_t i, bool big_endian)
{
    return big_endian ? (unsigned)bytes[i] << 8 | bytes[i + 1]
                      : (unsigned)bytes[i + 1] << 8 | bytes[i];
}

/* Checks the code units of UTF-16 text: no zero unit and no unpaired surrogate. */
static const char *utf16_problem(const unsigned char *bytes, size_t len, bool big_endian)
{
    if (len % 2 != 0)
        return "UTF-16 of odd length, which was cut";
    for (size_t i = 0; i < len; i += 2) {
        unsigned unit = code_unit(bytes, i, big_endian);

        if (unit == 0)
            return "a NUL character";
        if (unit >= 0xdc00 && unit <= 0xdfff)
            return "an unpaired surrogate";
        if (unit >= 0xd800 && unit <= 0xdbff) {
            if (i + 2 >= len || code_unit(bytes, i + 2, big_endian) < 0xdc00 ||
                code_unit(bytes, i + 2, big_endian) > 0xdfff)
                return "an unpaired surrogate";
            i += 2;
        }
    }
    return NULL;
}

/*
 * Checks a decoded assertion for text at which libxml2 2.9 stops reading and ignores the
 * rest. In UTF-8 that is a zero byte. UTF-16, whose other characters have zero bytes of
 * their own, is detected by its byte order mark, or without one by "<?", as XML 1.0
 * (appendix F) and libxml2 detect it. There a zero code unit or an unpaired surrogate
 * stops the parser. Returns what is wrong, or NULL.
 */
static const char *decoded_text_problem(const char *text, size_t len)
{
    const unsigned char *bytes = (const unsigned char *)text;

    if (len >= 2 && bytes[0] == 0xff && bytes[1] == 0xfe)
        return utf16_problem(bytes + 2, len - 2, false);
    if (len >= 2 && bytes[0] == 0xfe && bytes[1] == 0xff)
        return utf16_problem(bytes + 2, len - 2, true);
    if (len >= 2 && ((bytes[0] == '<' && bytes[1] == 0) || (bytes[0] == 0 && bytes[1] == '<'))) {
        if (len < 4 || code_unit(bytes, 2, bytes[0] == 0) != '?')
            return "UTF-16 without a byte order mark or an XML declaration";
        return utf16_problem(bytes, len, bytes[0] == 0);
    }
    return memchr(text, '\0', len) != NULL ? "a NUL byte" : NULL;
}

static bool read_verify_input(const http_request *request, const json_t *body,
                              verify_input *in, http_reply *reply)
{
    static const char *const members[] = {"assertion", "claims", "purpose",
                                          "retention_days", NULL};
    const char *assertion;
    const char *problem;

    if (!http_json_known_members(body, members, reply))
        return false;
    assertion = http_json_string(body, "assertion", true,
                                 request->node->boot->limits.max_body_bytes, reply);
    if (assertion == NULL)
        return false;
    in->purpose = http_json_string(body, "purpose", true, PURPOSE_MAX, reply);
    if (in->purpose == NULL)
        return false;
    if (!verification_read_retention(body, &in->retention_days, reply))
        return false;
    in->claims = json_object_get(body, "claims");
    if (!read_claim_list(in->claims, request->node->policy == NULL, reply))
        return false;
    if (request->node->policy != NULL &&
        !verification_policy_check_terms(request, in->purpose, in->claims, reply))
        return false;

    if (assertion_is_xml(assertion)) {
        in->xml_len = strlen(assertion);
        in->xml = strdup(assertion);
    } else {
        /* Checked first, so that a failed allocation in the decoder is a 500, never a
         * client's fault. */
        if (saml_base64_check(assertion, strlen(assertion), &in->xml_len) != 0) {
            problem_set(reply, 400, "assertion_encoding_invalid", "assertion",
                        "assertion must be SAML XML or its base64 encoding.");
            return false;
        }
        in->xml = (char *)saml_base64_decode(assertion, strlen(assertion), &in->xml_len);
        if (in->xml == NULL) {
            problem_internal(reply);
            return false;
        }
        problem = decoded_text_problem(in->xml, in->xml_len);
        if (problem != NULL) {
            problem_set(reply, 400, "assertion_encoding_invalid", "assertion",
                        "The base64 assertion decodes to text with %s, which the XML "
                        "parser cannot read whole.", problem);
            return false;
        }
    }
    if (in->xml == NULL) {
        problem_internal(reply);
        return false;
    }
    return true;
}

static void reject_assertion(http_reply *reply, saml_status status, const char *detail)
{
    if (status == SAML_ERR_INTERNAL) {
        log_message(LOG_ERROR, "verify_internal_error", "%s", detail);
        problem_internal(reply);
        return;
    }
    problem_set(reply, 422, saml_status_code(status), "assertion", "%s", detail);
}

/*
 * Gives a credential whose values the node stores (issued with claims_in_assertion false)
 * those values as its attributes, so that every later step decides on them as on values
 * the assertion carried. The node signed that assertion without attributes, so one that
 * has attributes is a fault of the store, and the verification fails closed.
 */
static bool adopt_held_claims(saml_assertion *assertion, const char *claims_json,
                              http_reply *reply)
{
    json_t *claims = json_pack("{s:s, s:o}", "subject", assertion->name_id, "attributes",
                               json_loads(claims_json, JSON_REJECT_DUPLICATES, NULL));
    saml_assertion_spec spec = {0};
    saml_attribute *attributes = NULL;
    char error[256] = "";

    if (claims == NULL || assertion->attribute_count != 0 ||
        saml_spec_from_json(claims, &spec, &attributes, error, sizeof(error)) != 0) {
        log_message(LOG_ERROR, "held_claims_unusable", "credential of assertion %s: %s",
                    assertion->id,
                    error[0] != '\0' ? error : "attributes in the assertion, or no memory");
        json_decref(claims);
        problem_internal(reply);
        return false;
    }
    free(assertion->attributes);
    assertion->attributes = attributes; /* ownership passes to the assertion */
    assertion->attribute_count = spec.attribute_count;
    json_decref(claims);
    return true;
}

/* Rejects an assertion in this node's name that is revoked or that no credential
 * record backs, such as a result attestation presented as a credential. Gives a
 * credential whose values the node stores those values. */
static bool check_own_credential(http_request *request, saml_assertion *assertion,
                                 http_reply *reply)
{
    store *s = request->node->store;
    store_credential credential;
    store_status status;

    if (strcmp(assertion->issuer, request->snapshot->cfg->entity_id) != 0)
        return true;

    status = s->ops->find_by_assertion(s, assertion->id, &credential);
    if (status == STORE_NOT_FOUND)
        problem_set(reply, 422, "credential_unknown", "assertion",
                    "The assertion names this node as issuer, but no credential of this "
                    "node has its ID.");
    else if (status != STORE_OK)
        problem_internal(reply);
    else if (credential.state == STORE_CREDENTIAL_REVOKED)
        problem_set(reply, 422, "credential_revoked", "assertion",
                    "The credential was revoked by its issuer.");
    else if (credential.held_claims_json != NULL)
        (void)adopt_held_claims(assertion, credential.held_claims_json, reply);
    store_credential_clear(&credential);
    return status == STORE_OK && reply->status == 0;
}

/* Rejects an assertion whose ProxyRestriction forbids the node to issue a result
 * attestation to the relying party on its basis (SAML 2.0 Core, section 2.5.1.6). */
static bool check_proxy_restriction(const store_rp *rp, const saml_assertion *assertion,
                                    http_reply *reply)
{
    saml_assertion_spec probe = {.audience = rp->entity_id};

    if (saml_spec_proxy_from(&probe, &assertion->proxy) == 0)
        return true;
    if (assertion->proxy.count == 0)
        problem_set(reply, 422, "proxy_restricted", "assertion",
                    "The assertion's ProxyRestriction has Count 0, which forbids any new "
                    "assertion on its basis, so the node cannot sign a result attestation.");
    else
        problem_set(reply, 422, "proxy_restricted", "assertion",
                    "The assertion's ProxyRestriction does not list the relying party's "
                    "entity ID among its Audiences, so the node cannot sign a result "
                    "attestation for it.");
    return false;
}

/* Collects the distinct values of every Attribute element that carries claim, by its
 * URI or its name, in document order. Returns NULL only when out of memory. */
static json_t *claim_values(const saml_assertion *assertion, const saml_claim *claim)
{
    json_t *list = json_array();

    for (size_t i = 0; list != NULL && i < assertion->attribute_count; i++) {
        const saml_attribute *attribute = &assertion->attributes[i];

        if (strcmp(attribute->name, claim->uri) != 0 &&
            strcmp(attribute->name, claim->name) != 0)
            continue;
        if (route_append_new_values(list, attribute) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* Adds a disclosed claim's values to the attestation, copied from the JSON list. */
static int add_attestation_attribute(disclosure *out, const saml_claim *claim,
                                     const json_t *list)
{
    saml_attribute *attribute = &out->attributes[out->attribute_count];
    size_t count = json_array_size(list);

    attribute->name = strdup(claim->name);
    attribute->values = calloc(count, sizeof(*attribute->values));
    if (attribute->name == NULL || attribute->values == NULL) {
        free(attribute->name);
        free(attribute->values);
        return -1;
    }
    out->attribute_count++;
    for (size_t i = 0; i < count; i++) {
        attribute->values[i] = strdup(json_string_value(json_array_get(list, i)));
        if (attribute->values[i] == NULL)
            return -1;
        attribute->value_count++;
    }
    return 0;
}

/* Looks for name in a space-separated list. */
static bool list_contains(const char *list, const char *name)
{
    size_t len = strlen(name);

    while (*list != '\0') {
        size_t token = strcspn(list, " ");

        if (token == len && strncmp(list, name, len) == 0)
            return true;
        list += token;
        list += strspn(list, " ");
    }
    return false;
}

/* Returns true when a claim named earlier in the request was disclosed or withheld. */
static bool claim_decided(const disclosure *out, const char *name)
{
    size_t index;
    const json_t *item;

    if (json_object_get(out->disclosed, name) != NULL)
        return true;
    json_array_foreach(out->withheld, index, item)
        if (strcmp(json_string_value(json_object_get(item, "claim")), name) == 0)
            return true;
    return false;
}

/* The decision without the policy engine ([policy] names no bundle): a claim is
 * disclosed when the credential carries it and the relying party's registry entry
 * allows it. The values of all Attribute elements of a claim are merged, and a
 * single-valued claim with different values is withheld as source_ambiguous, so that
 * the order of the elements never decides. No consent is asked. */
static int decide_claims(const verify_input *in, const store_rp *rp,
                         const saml_assertion *assertion, disclosure *out)
{
    size_t index;
    const json_t *item;

    out->owns_attributes = true;
    out->disclosed = json_object();
    out->withheld = json_array();
    out->attributes = calloc(json_array_size(in->claims) + 1, sizeof(*out->attributes));
    if (out->disclosed == NULL || out->withheld == NULL || out->attributes == NULL)
        return -1;

    json_array_foreach(in->claims, index, item) {
        const saml_claim *claim = saml_claim_by_name(json_string_value(item));
        json_t *values = NULL;
        const char *reason = NULL;
        int rc = 0;

        if (claim_decided(out, claim->name))
            continue;
        if (!list_contains(rp->allowed_claims, claim->name)) {
            reason = "not_allowed_for_relying_party";
        } else {
            values = claim_values(assertion, claim);
            if (values == NULL)
                return -1;
            if (json_array_size(values) == 0)
                reason = "not_in_credential";
            else if (!claim->multi_valued && json_array_size(values) > 1)
                reason = "source_ambiguous";
        }

        if (reason != NULL)
            rc = json_array_append_new(out->withheld,
                                       json_pack("{s:s, s:s}", "claim", claim->name,
                                                 "reason", reason));
        else if (json_object_set_new(out->disclosed, claim->name,
                                     claim->multi_valued
                                         ? json_incref(values)
                                         : json_incref(json_array_get(values, 0))) != 0 ||
                 add_attestation_attribute(out, claim, values) != 0)
            rc = -1;
        json_decref(values);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* The result attestation of a verification: the verified subject, with the disclosed
 * claims of d, for the relying party. It carries the ProxyRestriction that the
 * assertion's ProxyRestriction requires of a new assertion, once check_proxy_restriction
 * has found that it allows one. */
static saml_assertion_spec attestation_spec(const http_request *request, const store_rp *rp,
                                            const saml_assertion *assertion,
                                            const disclosure *d)
{
    saml_assertion_spec spec = {
        .issuer = request->snapshot->cfg->entity_id,
        .audience = rp->entity_id,
        .name_id = assertion->name_id,
        .name_id_format = assertion->name_id_format,
        .copies_verified = true,
        .name_qualifier =
            saml_name_qualifier_for_copy(assertion, request->snapshot->cfg->entity_id),
        .sp_name_qualifier = assertion->sp_name_qualifier,
        .sp_provided_id = assertion->sp_provided_id,
        .assurance = assertion->assurance,
        .authenticating_issuer = saml_authenticating_issuer_for_copy(
            assertion, request->snapshot->cfg->entity_id),
        .authenticating_authorities = assertion->authenticating_authorities,
        .authenticating_authority_count = assertion->authenticating_authority_count,
        .issue_instant = time(NULL),
        .authn_instant = assertion->authn_instant,
        .has_authn_instant = assertion->has_authn_statement,
        .valid_seconds = request->snapshot->cfg->result_validity_seconds,
        .attributes = d->attributes,
        .attribute_count = d->attribute_count,
    };

    (void)saml_spec_proxy_from(&spec, &assertion->proxy);
    return spec;
}

static int sign_attestation(http_request *request, const store_rp *rp,
                            const saml_assertion *assertion, const disclosure *d,
                            char **xml, http_reply *reply)
{
    saml_assertion_spec spec = attestation_spec(request, rp, assertion, d);

    return route_sign_assertion(request, &spec, xml, reply);
}

/* Rejects, before anything is stored, an assertion whose values the node could not
 * sign into the attestation now or, after consent, into the one released then. */
static bool check_attestation_values(http_request *request, const store_rp *rp,
                                     const saml_assertion *assertion, const disclosure *d,
                                     http_reply *reply)
{
    saml_assertion_spec now = attestation_spec(request, rp, assertion, d);
    saml_assertion_spec later;

    if (route_check_result_values(request, &now, reply) != 0)
        return false;
    if (d->after_consent == NULL)
        return true;
    later = attestation_spec(request, rp, assertion, d->after_consent);
    return route_check_result_values(request, &later, reply) == 0;
}

/* How long the replay cache keeps an assertion's ID: until saml_verify would reject the
 * assertion as expired under any clock skew that a reload may set, which is
 * NotOnOrAfter plus the largest skew. With the skew in force, a reload that raised it
 * could accept the assertion again once its row was purged. */
static time_t replay_until(const saml_assertion *assertion)
{
    if (assertion->not_on_or_after == 0)
        return time(NULL) + REPLAY_FALLBACK_SECONDS;
    return assertion->not_on_or_after + CONFIG_CLOCK_SKEW_MAX;
}

static void reply_accepted(http_request *request, const verify_input *in,
                           const saml_assertion *assertion, disclosure *d,
                           const char *attestation, http_reply *reply)
{
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O}", "decision", "accepted",
                            "issuer", assertion->issuer, "assertion_id", assertion->id,
                            "purpose", in->purpose, "claims", d->disclosed, "withheld",
                            d->withheld);
    json_t *policy_members = json_object(); /* written after the attestation */
    char disclosed[16];

    if (d->outcome != NULL)
        verification_policy_members(policy_members, d, in->retention_days);

    snprintf(disclosed, sizeof(disclosed), "%zu", d->attribute_count);
    log_field fields[] = {
        {"request_id", request->request_id},
        {"relying_party", request->caller.identity},
        {"issuer", assertion->issuer},
        {"assertion_id", assertion->id},
        {"claims_disclosed", disclosed},
        {"policy_outcome", d->outcome},
        {"policy", d->outcome != NULL ? d->policy_log : NULL},
    };
    log_event(LOG_INFO, "verification_accepted", fields, sizeof(fields) / sizeof(fields[0]));
    if (attestation != NULL) {
        http_reply_json_with_string(reply, 200, doc, "attestation", attestation,
                                    policy_members);
        return;
    }
    json_object_update(doc, policy_members);
    json_decref(policy_members);
    http_reply_json(reply, 200, doc);
}

/*
 * A verification between its decision and its reply. An accepted one waits for the
 * commit of its audit entry (with its assertion ID, see audit_accepted) without holding
 * the worker thread: the handler defers the reply, and finish_accepted sends it once the
 * entry is durable.
 */
typedef struct verification_job {
    http_request *request;
    json_t *body; /* in.purpose and in.claims point into it */
    verify_input in;
    store_rp rp;
    saml_assertion *assertion;
    disclosure d;
    char *attestation;
    /* The subject's disclosure history row, written with the audit entry when the
     * assertion is a credential of this node; history.claims is the job's. */
    web_disclosure history;
    bool has_history;
    audit_status recorded; /* the audit entry's outcome, set by the committing thread */
} verification_job;

static void job_free(verification_job *job)
{
    free(job->history.claims);
    free(job->attestation);
    disclosure_clear(&job->d);
    saml_assertion_free(&job->assertion);
    store_rp_clear(&job->rp);
    free(job->in.xml);
    json_decref(job->body);
    free(job);
}

/* Runs on the thread that committed the entry: keeps the outcome and wakes the
 * connection. */
static void accepted_recorded(void *ctx, audit_status status)
{
    verification_job *job = ctx;

    job->recorded = status;
    http_request_resume(job->request);
}

/* Runs on the worker thread once the audit entry is decided. The subject's disclosure
 * history row committed with the entry, after the replay check passed. */
static void finish_accepted(http_request *request, http_reply *reply, void *ctx)
{
    verification_job *job = ctx;

    if (job->recorded != AUDIT_OK)
        route_audit_failed(request, "verification_decided", job->recorded, reply);
    else
        reply_accepted(request, &job->in, job->assertion, &job->d, job->attestation, reply);
    route_audit_rejection(request, job->in.purpose, &job->rp, reply);
    job_free(job);
}

/* Writes the subject's disclosure history row in the audit entry's transaction. Runs on
 * the committing thread while the job waits for it. */
static int write_history(struct sqlite3 *db, void *ctx)
{
    const verification_job *job = ctx;

    return web_sqlite_write_disclosure(db, &job->history);
}

/* Queues the verification_decided entry of a verification decided at once, with the
 * assertion ID for the replay cache and the subject's disclosure history row, and defers
 * the reply to finish_accepted, which owns the job from here on. */
static void audit_accepted(verification_job *job)
{
    http_request *request = job->request;
    const disclosure *d = &job->d;
    audit_verification v = {
        .decision = "accepted",
        .purpose = job->in.purpose,
        .issuer = job->assertion->issuer,
        .assertion_id = job->assertion->id,
        .replay_issuer = job->assertion->issuer,
        .replay_id = job->assertion->id,
        .replay_until = replay_until(job->assertion),
        /* check_own_credential ran before the decision; the commit checks again, so a
         * revocation committed meanwhile is not overtaken. */
        .replay_credential =
            strcmp(job->assertion->issuer, request->snapshot->cfg->entity_id) == 0,
    };
    json_t *claims;
    audit_status status;

    if (job->has_history) {
        v.write_rows = write_history;
        v.write_rows_ctx = job;
    }
    if (d->outcome != NULL) {
        claims = verification_audit_claims(d->decisions);
        v.rule = "policy";
        v.policy = d->policy;
    } else {
        claims = route_audit_claim_decisions(d->disclosed, d->withheld);
        v.rule = "registry_allowed_claims";
    }
    v.claims = claims;
    http_request_defer(request, finish_accepted, job);
    status = route_audit_verification_async(request, &v, job->rp.id, job->rp.jurisdiction,
                                            job->assertion, accepted_recorded, job);
    json_decref(claims);
    if (status != AUDIT_OK) {
        /* Nothing was queued: finish_accepted reports the failure. */
        job->recorded = status;
        http_request_resume(request);
    }
}

/* Signs the attestation of an accepted verification, prepares the subject's disclosure
 * history row and queues both with the audit entry. Returns true when the reply is
 * deferred to finish_accepted, and false when reply is set already. */
static bool sign_and_record(verification_job *job, http_reply *reply)
{
    http_request *request = job->request;
    int history;

    /* Sign before recording the ID, so an HSM failure leaves the assertion usable for
     * a retry; a concurrent second presentation still loses at the record. */
    if (sign_attestation(request, &job->rp, job->assertion, &job->d, &job->attestation,
                         reply) != 0)
        return false;
    history = consent_prepare_disclosure(request, job->in.purpose, job->assertion,
                                         job->d.disclosed, &job->history, reply);
    if (history < 0)
        return false;
    job->has_history = history == 1;
    audit_accepted(job);
    return true;
}

/* Decides the claims. Returns true when the reply is deferred to finish_accepted, which
 * then owns the job, and false when reply is set already. */
static bool verify_and_disclose(verification_job *job, http_reply *reply)
{
    http_request *request = job->request;
    const config *cfg = request->snapshot->cfg;
    const verify_input *in = &job->in;
    const store_rp *rp = &job->rp;
    saml_verify_options options = {
        .clock_skew_seconds = cfg->clock_skew_seconds,
        .audience = rp->entity_id,
        .max_input_bytes = request->node->boot->limits.max_body_bytes,
    };
    char detail[256] = "";
    uint64_t cpu_started_ns = metrics_thread_cpu_ns();
    saml_status status;

    status = saml_verify(request->snapshot->trust, &options, in->xml, in->xml_len,
                         &job->assertion, detail, sizeof(detail));
    metrics_record_operation(request->node->metrics, METRICS_OPERATION_SAML_VERIFY,
                             cpu_started_ns);
    if (status != SAML_OK) {
        reject_assertion(reply, status, detail);
        return false;
    }
    if (!check_proxy_restriction(rp, job->assertion, reply) ||
        !check_own_credential(request, job->assertion, reply))
        return false;
    if (request->node->policy != NULL) {
        verification_terms terms = {in->purpose, in->retention_days, in->claims};

        if (verification_policy_decide(request, rp, job->assertion, &terms, &job->d, reply) != 0)
            return false;
    } else if (decide_claims(in, rp, job->assertion, &job->d) != 0) {
        problem_internal(reply);
        return false;
    }

    if (!check_attestation_values(request, rp, job->assertion, &job->d, reply))
        return false;

    /* A verification that needs the subject's consent is stored and answered 202 with
     * the consent link, and nothing is disclosed yet. With the policy engine the
     * engine's decision says when; without it, the registry's consent setting. */
    if (request->node->policy != NULL
            ? job->d.consent_required
            : consent_required(request, config_find_rp(request->snapshot->cfg, rp->id))) {
        if (consent_available(request, reply))
            consent_defer_verification(request, in->purpose, in->retention_days,
                                       job->assertion, &job->d,
                                       replay_until(job->assertion), reply);
        return false;
    }

    return sign_and_record(job, reply);
}

void route_verifications_create(http_request *request, http_reply *reply)
{
    verification_job *job = calloc(1, sizeof(*job));
    store_status status;

    if (job == NULL) {
        problem_internal(reply);
        return;
    }
    job->request = request;
    job->body = http_parse_json_body(request, reply);
    if (job->body == NULL || !read_verify_input(request, job->body, &job->in, reply))
        goto out;

    /* The snapshot's registry, which the store also contains: read without a query,
     * and from the same configuration as the trust list of this request. */
    status = node_find_rp(request->snapshot, request->caller.identity, &job->rp);
    if (status == STORE_NOT_FOUND) {
        problem_set(reply, 403, "relying_party_not_registered", NULL,
                    "The caller's relying-party entry is missing from the registry.");
        goto out;
    }
    if (status != STORE_OK) {
        problem_internal(reply);
        goto out;
    }
    if (verify_and_disclose(job, reply))
        return; /* finish_accepted sets the reply and frees the job */
    route_audit_rejection(request, job->in.purpose, &job->rp, reply);
out:
    job_free(job);
}
