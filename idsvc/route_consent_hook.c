/*
 * The consent hook of POST /v1/verifications, the verification_decided entry that a
 * consent decision ends, the removal of held claim values, and the disclosure history
 * of verifications that need no consent. Only credentials this node issued can wait
 * for consent, because only the home node keeps a subject record. A verification of a
 * foreign credential that needs consent is rejected with consent_subject_unknown.
 *
 * The values that an approval would release are held in the verification's stored
 * result (the pending_verifications table), under "held", from the deferral until the
 * consent request is refused or expires; consent_purge_held_values then removes them.
 * They are never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "problem.h"
#include "route_audit.h"
#include "web.h"
#include "web_consent.h"

/* Finds the local subject of a verified assertion. Returns 1, 0 when the assertion is
 * not a credential of this node, or -1 on a store failure. */
static int local_subject(http_request *request, const saml_assertion *assertion,
                         int64_t *subject_id)
{
    store *s = request->node->store;
    store_status status;

    if (strcmp(assertion->issuer, request->snapshot->cfg->entity_id) != 0)
        return 0;
    status = s->ops->web->subject_of_assertion(s, assertion->id, subject_id);
    if (status == STORE_OK)
        return 1;
    return status == STORE_NOT_FOUND ? 0 : -1;
}

bool consent_available(const http_request *request, http_reply *reply)
{
    if (request->snapshot->cfg->web.rp_id != NULL)
        return true;
    problem_set(reply, 409, "consent_unavailable", NULL,
                "This verification needs the subject's consent, but the node serves no "
                "consent pages.");
    return false;
}

static int append(json_t *list, json_t *item)
{
    return item != NULL ? json_array_append_new(list, item) : -1;
}

/* The consent page's claim list from the engine's decisions after consent: what goes
 * in full, what only as a derived value (one item per derived claim), and what is not
 * shared either way. */
static json_t *engine_claim_forms(const json_t *decisions)
{
    json_t *claims = json_array();
    const json_t *entry;
    size_t index;
    int rc = claims != NULL ? 0 : -1;

    json_array_foreach(decisions, index, entry) {
        const json_t *claim = json_object_get(entry, "claim");
        const json_t *rule = json_object_get(entry, "rule");
        const char *decision = json_string_value(json_object_get(entry, "decision"));
        const char *name;
        json_t *value;

        if (rc != 0 || decision == NULL)
            rc = -1;
        else if (strcmp(decision, "disclosed") == 0)
            rc = append(claims, json_pack("{s:O, s:s, s:O*}", "claim", claim, "form", "full",
                                          "rule", rule));
        else if (strcmp(decision, "derived") == 0)
            json_object_foreach(json_object_get(entry, "derived"), name, value)
                rc |= append(claims, json_pack("{s:O, s:s, s:s, s:O*}", "claim", claim, "form",
                                               "derived", "derived", name, "rule", rule));
        else
            rc = append(claims, json_pack("{s:O, s:s, s:O, s:O*}", "claim", claim, "form",
                                          "withheld", "reason",
                                          json_object_get(entry, "reason"), "rule", rule));
    }
    if (rc != 0)
        json_decref(claims);
    return rc == 0 ? claims : NULL;
}

/* The consent page's claim list without the engine: every disclosed claim goes in full,
 * because the registry has no derived forms. */
static json_t *registry_claim_forms(const json_t *disclosed, const json_t *withheld)
{
    json_t *claims = json_array();
    const char *name;
    json_t *value;
    size_t index;
    int rc = claims != NULL ? 0 : -1;

    json_object_foreach((json_t *)disclosed, name, value)
        rc |= append(claims, json_pack("{s:s, s:s}", "claim", name, "form", "full"));
    json_array_foreach(withheld, index, value)
        rc |= append(claims, json_pack("{s:O, s:s, s:O}", "claim",
                                       json_object_get(value, "claim"), "form", "withheld",
                                       "reason", json_object_get(value, "reason")));
    if (rc != 0)
        json_decref(claims);
    return rc == 0 ? claims : NULL;
}

/* The attestation's attributes as {name: [values]}, so that GET can sign them. */
static json_t *attributes_object(const disclosure *d)
{
    json_t *out = json_object();

    for (size_t i = 0; out != NULL && i < d->attribute_count; i++) {
        json_t *values = json_array();

        for (size_t k = 0; values != NULL && k < d->attributes[i].value_count; k++)
            json_array_append_new(values, json_string(d->attributes[i].values[k]));
        if (values == NULL || json_object_set_new(out, d->attributes[i].name, values) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* Marks the claims that a registry decision would disclose as waiting for consent. */
static json_t *registry_pending(const json_t *claims)
{
    json_t *list = json_deep_copy(claims);
    json_t *item;
    size_t index;

    json_array_foreach(list, index, item) {
        if (strcmp(json_string_value(json_object_get(item, "decision")), "disclosed") != 0)
            continue;
        json_object_set_new(item, "decision", json_string("consent_pending"));
        json_object_set_new(item, "reason", json_string("consent_required"));
    }
    return list;
}

/* The NameID's NameQualifier, SPNameQualifier and SPProvidedID that are present. */
static json_t *name_id_qualifiers(const saml_assertion *assertion)
{
    return json_pack("{s:s*, s:s*, s:s*}", "name_qualifier", assertion->name_qualifier,
                     "sp_name_qualifier", assertion->sp_name_qualifier, "sp_provided_id",
                     assertion->sp_provided_id);
}

static json_t *proxy_document(const saml_proxy_restriction *proxy)
{
    json_t *audiences;

    if (!proxy->present)
        return json_null();
    audiences = json_array();
    for (size_t i = 0; audiences != NULL && i < proxy->audience_count; i++) {
        if (json_array_append_new(audiences, json_string(proxy->audiences[i])) != 0) {
            json_decref(audiences);
            return NULL;
        }
    }
    return json_pack("{s:o, s:o}", "count",
                     proxy->count >= 0 ? json_integer(proxy->count) : json_null(),
                     "audiences", audiences);
}

/*
 * Builds the document that GET /v1/verifications/{id} reads, stored with the
 * verification:
 *
 * - "issuer", "assertion_id", "name_id_format", "assurance", "purpose" and "withheld"
 *   ({claim, reason} items) describe the verified credential and the decision;
 * - "proxy_restriction": the credential's ProxyRestriction ({"count", "audiences"}, count
 *   null when absent), which limits the attestation signed after approval, or null;
 * - "authn_instant": the credential's AuthnInstant in seconds since the epoch, which the
 *   attestation copies, or null when it has no AuthnStatement;
 * - "engine" (with the policy engine): "outcome", "retention_days" and "policy" of the
 *   decision after consent;
 * - "audit": "rule", "policy", "consent_required", and the per-claim lists "approved"
 *   and "refused" that the verification_decided entry of the subject's decision names;
 * - "held": the claim values that an approval releases ("claims", and with the engine
 *   the attestation's "attributes" and the "decisions", whose sentences quote derived
 *   values), the subject's "name_id" and its "name_qualifier", "sp_name_qualifier" and
 *   "sp_provided_id" when present. consent_purge_held_values removes it once the
 *   consent request was refused or expired.
 */
static json_t *result_document(const saml_assertion *assertion, const char *purpose,
                               long retention_days, const disclosure *d,
                               const json_t *approved)
{
    const disclosure *released = d->after_consent != NULL ? d->after_consent : d;
    json_t *qualifiers;
    json_t *doc = json_pack(
        "{s:s, s:s, s:s*, s:s*, s:s, s:O, s:{s:s, s:O*, s:s*, s:O, s:o}, s:{s:O, s:s}}",
        "issuer", assertion->issuer, "assertion_id", assertion->id, "name_id_format",
        assertion->name_id_format, "assurance", assertion->assurance, "purpose", purpose,
        "withheld", released->withheld, "audit", "rule",
        d->outcome != NULL ? "policy" : "consent", "policy", d->policy, "consent_required",
        d->consent, "approved", approved, "refused", route_audit_refused_claims(approved),
        "held", "claims", released->disclosed, "name_id", assertion->name_id);

    qualifiers = name_id_qualifiers(assertion);
    if (doc != NULL &&
        (json_object_set_new(doc, "proxy_restriction", proxy_document(&assertion->proxy)) !=
             0 ||
         json_object_set_new(doc, "authn_instant",
                             assertion->has_authn_statement
                                 ? json_integer((json_int_t)assertion->authn_instant)
                                 : json_null()) != 0 ||
         json_object_update(json_object_get(doc, "held"), qualifiers) != 0)) {
        json_decref(doc);
        doc = NULL;
    }
    json_decref(qualifiers);
    if (doc == NULL || d->outcome == NULL)
        return doc;
    if (json_object_set_new(doc, "engine",
                            json_pack("{s:s, s:o, s:O}", "outcome", released->outcome,
                                      "retention_days",
                                      retention_days >= 0 ? json_integer(retention_days)
                                                          : json_null(),
                                      "policy", released->policy)) != 0 ||
        json_object_set_new(json_object_get(doc, "held"), "attributes",
                            attributes_object(released)) != 0 ||
        json_object_set(json_object_get(doc, "held"), "decisions", released->decisions) !=
            0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/*
 * Stores the consent request (consent_defer) with its verification_decided
 * "consent_pending" entry: the decision to wait for consent is a verification decision
 * of its own, so the 202 goes out only once it is in the audit log. The entry records
 * the assertion's ID in the replay cache.
 */
static void defer_with_entry(http_request *request, consent_input *in,
                             const saml_assertion *assertion, const disclosure *d,
                             const json_t *approved, time_t replay_until, http_reply *reply)
{
    json_t *claims = d->outcome != NULL ? verification_audit_claims(d->decisions)
                                        : registry_pending(approved);
    audit_verification v = {
        .decision = "consent_pending",
        .purpose = in->purpose,
        .issuer = assertion->issuer,
        .assertion_id = assertion->id,
        .rule = d->outcome != NULL ? "policy" : "consent",
        .claims = claims,
        .policy = d->policy,
        .consent_required = d->consent,
        .replay_issuer = assertion->issuer,
        .replay_id = assertion->id,
        .replay_until = replay_until,
        .replay_credential =
            strcmp(assertion->issuer, request->snapshot->cfg->entity_id) == 0,
    };

    if (claims == NULL) {
        problem_internal(reply);
        return;
    }
    in->audit = &v;
    in->assertion = assertion;
    consent_defer(request, in, reply);
    in->audit = NULL;
    json_decref(claims);
}

void consent_defer_verification(http_request *request, const char *purpose,
                                long retention_days, const saml_assertion *assertion,
                                const disclosure *d, time_t replay_until, http_reply *reply)
{
    const config_rp *rp = config_find_rp(request->snapshot->cfg, request->caller.identity);
    consent_input in = {.rp = rp, .purpose = purpose, .rule = "consent",
                        .retention_days = retention_days, .consent_level = d->consent,
                        .policy = d->policy};
    json_t *claims = NULL;
    json_t *approved = NULL;
    json_t *result = NULL;
    int found = local_subject(request, assertion, &in.subject_id);

    if (found < 0 || rp == NULL || (d->outcome != NULL && d->after_consent == NULL)) {
        problem_internal(reply);
        return;
    }
    if (found == 0) {
        problem_set(reply, 422, "consent_subject_unknown", "assertion",
                    "This verification needs the subject's consent, but the subject has no "
                    "account on this node.");
        return;
    }
    if (d->outcome != NULL) {
        claims = engine_claim_forms(d->after_consent->decisions);
        approved = verification_audit_claims(d->after_consent->decisions);
    } else {
        claims = registry_claim_forms(d->disclosed, d->withheld);
        approved = route_audit_claim_decisions(d->disclosed, d->withheld);
    }
    result = claims != NULL && approved != NULL
                 ? result_document(assertion, purpose, retention_days, d, approved)
                 : NULL;
    if (result == NULL) {
        problem_internal(reply);
        goto out;
    }
    in.claims = claims;
    in.result = result;
    if (d->outcome != NULL) {
        /* The engine's members of an immediate response, with nothing released yet. */
        in.reply_members = json_object();
        if (in.reply_members == NULL) {
            problem_internal(reply);
            goto out;
        }
        verification_policy_members(in.reply_members, d, retention_days);
    }
    defer_with_entry(request, &in, assertion, d, approved, replay_until, reply);
out:
    json_decref(in.reply_members);
    json_decref(claims);
    json_decref(approved);
    json_decref(result);
}

int consent_prepare_disclosure(http_request *request, const char *purpose,
                               const saml_assertion *assertion, const json_t *disclosed,
                               web_disclosure *d, http_reply *reply)
{
    const config_rp *rp = config_find_rp(request->snapshot->cfg, request->caller.identity);
    json_t *names = json_array();
    const char *name;
    json_t *value;
    int found;

    *d = (web_disclosure){0};
    found = local_subject(request, assertion, &d->subject_id);
    if (found == 1 && rp != NULL && names != NULL) {
        json_object_foreach((json_t *)disclosed, name, value)
            json_array_append_new(names, json_string(name));
        d->rp_id = rp->id;
        d->rp_name = rp->name != NULL ? rp->name : rp->id;
        d->rp_country = rp->jurisdiction;
        d->purpose = (char *)purpose;
        /* Without consent, the policy engine decided, or without it the registry. */
        d->rule = request->node->policy != NULL ? "policy" : "registry";
        d->disclosed_at = time(NULL);
        d->claims = json_dumps(names, JSON_COMPACT);
    }
    json_decref(names);
    if (found == 0)
        return 0;
    if (found == 1 && d->claims != NULL)
        return 1;
    problem_internal(reply);
    return -1;
}

static const char *member_text(const json_t *doc, const char *name)
{
    return json_string_value(json_object_get(doc, name));
}

bool consent_outcome_event(http_request *request, const web_consent *consent,
                           web_consent_state state, const char *jurisdiction,
                           audit_event *event, json_t **payload, http_reply *reply)
{
    store *s = request->node->store;
    web_verification verification = {0};
    json_t *result = NULL;
    const json_t *audit;
    bool approved = state == WEB_CONSENT_APPROVED;
    bool ok = false;

    *payload = NULL;
    if (s->ops->web->verification_of_consent(s, consent->id, &verification) != STORE_OK ||
        (result = json_loads(verification.result, 0, NULL)) == NULL) {
        problem_internal(reply);
        goto out;
    }
    audit = json_object_get(result, "audit");
    audit_verification v = {
        .decision = approved ? "accepted" : "refused",
        .purpose = member_text(result, "purpose"),
        .issuer = member_text(result, "issuer"),
        .assertion_id = member_text(result, "assertion_id"),
        .rule = member_text(audit, "rule"),
        .claims = json_object_get(audit, approved ? "approved" : "refused"),
        .policy = json_object_get(audit, "policy"),
        .consent_id = consent->id,
        .consent_required = member_text(audit, "consent_required"),
    };
    if (v.purpose != NULL && v.issuer != NULL && v.assertion_id != NULL && v.rule != NULL &&
        json_is_array(v.claims))
        *payload = route_audit_verification_payload(&v);

    /* Only this node's credentials wait for consent, so the subject's pseudonym is the
     * one of its credential_issued entries. */
    ok = route_audit_subject_prepare(request, "verification_decided", consent->subject_id,
                                     consent->rp_id, jurisdiction, *payload, event, reply);
out:
    json_decref(result);
    web_verification_clear(&verification);
    return ok;
}

int consent_purge_held_values(store *s, time_t now)
{
    size_t count = 0;
    char removed[24];

    if (s->ops->web->verification_purge_held(s, now, &count) != STORE_OK)
        return -1; /* the store logged the failure; the next run tries again */
    if (count == 0)
        return 0;
    snprintf(removed, sizeof(removed), "%zu", count);
    log_field fields[] = {{"verifications", removed}};
    log_event(LOG_INFO, "held_values_removed", fields, 1);
    return (int)count;
}
