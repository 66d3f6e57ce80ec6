/* Requests from JSON, decisions to JSON, and the sentences that explain a decision. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso3166.h"
#include "policy_internal.h"

static int request_fail(policy_error *err, const char *field, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int request_fail(policy_error *err, const char *field, const char *format, ...)
{
    va_list args;

    if (err == NULL)
        return -1;
    err->code = POLICY_E_REQUEST;
    err->line = 0;
    va_start(args, format);
    vsnprintf(err->message, sizeof(err->message), format, args);
    va_end(args);
    snprintf(err->field, sizeof(err->field), "%s", field);
    return -1;
}

static int read_jurisdictions(const policy_set *set, const json_t *doc,
                              policy_request *req, policy_error *err)
{
    const json_t *rp = json_object_get(doc, "relying_party");
    const char *subject = json_string_value(json_object_get(doc, "subject_jurisdiction"));
    const char *country = json_string_value(json_object_get(rp, "jurisdiction"));

    if (subject == NULL)
        return request_fail(err, "subject_jurisdiction",
                            "subject_jurisdiction is missing%s", "");
    req->subject = policy_set_find_jurisdiction(set, subject);
    if (req->subject < 0)
        return request_fail(
            err, "subject_jurisdiction",
            "subject_jurisdiction %s is not a jurisdiction of the policy set", subject);

    if (!json_is_object(rp) || country == NULL)
        return request_fail(err, "relying_party.jurisdiction",
                            "relying_party.jurisdiction is missing%s", "");
    if (!iso3166_is_assigned(country))
        return request_fail(err, "relying_party.jurisdiction",
                            "relying_party.jurisdiction %s is not an officially assigned "
                            "ISO 3166-1 alpha-2 code in capitals, such as GB",
                            country);
    memcpy(req->rp_country, country, 3);
    req->relying_party = policy_set_find_jurisdiction(set, country);
    if (req->relying_party < 0)
        req->relying_party = POLICY_OTHER_JURISDICTION;
    req->rp_id = json_string_value(json_object_get(rp, "id"));
    return 0;
}

static int read_mechanisms(const json_t *doc, policy_request *req, policy_error *err)
{
    const json_t *list =
        json_object_get(json_object_get(doc, "relying_party"), "transfer_mechanisms");
    size_t i;
    const json_t *item;

    req->mechanisms = 0;
    if (list == NULL)
        return 0;
    if (!json_is_array(list))
        return request_fail(err, "relying_party.transfer_mechanisms",
                            "relying_party.transfer_mechanisms is not an array%s", "");
    json_array_foreach(list, i, item)
    {
        const char *name = json_string_value(item);
        int bit = name != NULL ? policy_mechanism_from_name(name) : -1;

        if (bit < 0)
            return request_fail(err, "relying_party.transfer_mechanisms",
                                "unknown transfer mechanism %s",
                                name != NULL ? name : "(not a string)");
        req->mechanisms |= (unsigned)bit;
    }
    return 0;
}

static int read_consent(const json_t *doc, policy_request *req, policy_error *err)
{
    const json_t *list = json_object_get(doc, "consent");
    size_t i;
    const json_t *item;

    req->consent = POLICY_CONSENT_NONE;
    if (list == NULL)
        return 0;
    if (!json_is_array(list))
        return request_fail(err, "consent", "consent is not an array%s", "");
    json_array_foreach(list, i, item)
    {
        const char *name = json_string_value(item);
        int consent = name != NULL ? policy_consent_from_name(name) : -1;

        if (consent < 0)
            return request_fail(err, "consent", "unknown consent kind %s",
                                name != NULL ? name : "(not a string)");
        if ((policy_consent)consent > req->consent)
            req->consent = (policy_consent)consent;
    }
    return 0;
}

static int read_claims(const policy_set *set, const json_t *doc, policy_request *req,
                       policy_error *err)
{
    const json_t *list = json_object_get(doc, "claims");
    size_t i;
    const json_t *item;

    if (!json_is_array(list) || json_array_size(list) == 0)
        return request_fail(err, "claims", "claims must be a non-empty array of names%s",
                            "");
    if (json_array_size(list) > POLICY_REQUEST_MAX_CLAIMS)
        return request_fail(err, "claims", "claims names more than %s claims", "64");

    req->claim_count = 0;
    json_array_foreach(list, i, item)
    {
        const char *name = json_string_value(item);

        if (name == NULL)
            return request_fail(err, "claims", "claims must contain only strings%s", "");
        for (size_t k = 0; k < req->claim_count; k++) {
            if (strcmp(req->claim_names[k], name) == 0)
                return request_fail(err, "claims", "claim %s is requested twice", name);
        }
        req->claim_names[req->claim_count] = name;
        req->claims[req->claim_count] = policy_set_find_claim(set, name);
        req->claim_count++;
    }
    return 0;
}

/* Looks the purpose up in the set, as part of a request document. */
static int read_purpose(const policy_set *set, const char *purpose, policy_request *req,
                        policy_error *err)
{
    if (purpose == NULL)
        return request_fail(err, "purpose", "purpose is missing%s", "");
    req->purpose = policy_set_find_purpose(set, purpose);
    if (req->purpose < 0)
        return request_fail(err, "purpose",
                            "purpose %s is not declared in the policy set", purpose);
    return 0;
}

static int read_scalars(const policy_set *set, const json_t *doc, policy_request *req,
                        policy_error *err)
{
    const char *purpose = json_string_value(json_object_get(doc, "purpose"));
    const char *assurance = json_string_value(json_object_get(doc, "assurance"));
    const char *time_text = json_string_value(json_object_get(doc, "time"));
    const json_t *retention = json_object_get(doc, "retention_days");
    int level;

    if (read_purpose(set, purpose, req, err) != 0)
        return -1;

    level = assurance != NULL ? policy_assurance_from_name(assurance) : -1;
    if (level < 0)
        return request_fail(err, "assurance",
                            "assurance must be low, substantial or high, not %s",
                            assurance != NULL ? assurance : "missing");
    req->assurance = (policy_assurance)level;

    if (time_text == NULL || policy_parse_utc(time_text, &req->time) != 0)
        return request_fail(err, "time",
                            "time must be a UTC time such as 2026-01-31T12:00:00Z, "
                            "not %s",
                            time_text != NULL ? time_text : "missing");

    req->retention_days = -1;
    if (retention != NULL && !json_is_null(retention)) {
        if (!json_is_integer(retention) || json_integer_value(retention) < 0 ||
            json_integer_value(retention) > 36500)
            return request_fail(err, "retention_days",
                                "retention_days must be an integer from 0 to 36500%s",
                                "");
        req->retention_days = (long)json_integer_value(retention);
    }

    req->values = json_object_get(doc, "values");
    if (req->values != NULL && !json_is_object(req->values))
        return request_fail(err, "values", "values must be an object%s", "");
    return 0;
}

/* Reads "ambiguous": the claims whose value in the credential is in conflict. Names
 * outside the catalogue are ignored, as they are in values. */
static int read_ambiguous(const policy_set *set, const json_t *doc, policy_request *req,
                          policy_error *err)
{
    const json_t *list = json_object_get(doc, "ambiguous");
    size_t i;
    const json_t *item;

    req->ambiguous = 0;
    if (list == NULL)
        return 0;
    if (!json_is_array(list))
        return request_fail(err, "ambiguous", "ambiguous is not an array of names%s", "");
    json_array_foreach(list, i, item)
    {
        const char *name = json_string_value(item);
        int claim = name != NULL ? policy_set_find_claim(set, name) : -1;

        if (name == NULL)
            return request_fail(err, "ambiguous", "ambiguous must contain only strings%s",
                                "");
        if (claim >= 0)
            req->ambiguous |= UINT64_C(1) << claim;
    }
    return 0;
}

int policy_request_from_json(const policy_set *set, const json_t *doc,
                             policy_request *req, policy_error *err)
{
    memset(req, 0, sizeof(*req));
    req->set = set;
    if (!json_is_object(doc))
        return request_fail(err, "", "the request is not a JSON object%s", "");
    if (read_jurisdictions(set, doc, req, err) != 0 ||
        read_mechanisms(doc, req, err) != 0 || read_consent(doc, req, err) != 0 ||
        read_claims(set, doc, req, err) != 0 || read_scalars(set, doc, req, err) != 0 ||
        read_ambiguous(set, doc, req, err) != 0)
        return -1;
    return 0;
}

int policy_check_terms(const policy_set *set, const char *purpose, const json_t *claims,
                       long *unknown, policy_error *err)
{
    policy_request *req = calloc(1, sizeof(*req));
    json_t *doc = json_pack("{s:O?}", "claims", claims);
    int rc = -1;

    *unknown = -1;
    if (req == NULL || doc == NULL) {
        request_fail(err, "", "out of memory%s", "");
        goto out;
    }
    req->set = set;
    if (read_claims(set, doc, req, err) != 0 || read_purpose(set, purpose, req, err) != 0)
        goto out;
    for (size_t i = 0; i < req->claim_count && *unknown < 0; i++)
        if (req->claims[i] < 0)
            *unknown = (long)i;
    rc = 0;
out:
    json_decref(doc);
    free(req);
    return rc;
}

/* ---- Sentences ------------------------------------------------------------------------
 */

static void mechanism_list(unsigned mechanisms, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < POLICY_MECH_COUNT; i++) {
        if (!(mechanisms & (1u << i)))
            continue;
        used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s",
                                 used > 0 ? ", " : "", policy_mechanism_name(1u << i));
    }
}

static void derived_list(const policy_claim_decision *claim, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < claim->derived_count; i++)
        used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s=%s",
                                 i > 0 ? ", " : "", claim->derived[i].name,
                                 claim->derived[i].value);
}

static const char *consent_phrase(policy_consent consent)
{
    return consent == POLICY_CONSENT_SEPARATE_CROSS_BORDER
               ? "separate consent for the cross-border transfer"
               : "explicit consent";
}

/* Returns the claim whose value a requested claim reads: its source for a derived
 * claim, else the claim itself. */
static const char *source_name(const policy_request *req, const char *claim)
{
    int index = policy_set_find_claim(req->set, claim);

    if (index < 0 || req->set->claims[index].source < 0)
        return claim;
    return req->set->claims[req->set->claims[index].source].name;
}

void policy_claim_sentence(const policy_claim_decision *claim, const policy_request *req,
                           char *buf, size_t size)
{
    const policy_rule *rule = claim->rule;
    const char *id = rule != NULL ? rule->id : "";
    const char *basis = rule != NULL ? rule->legal_basis : "";
    char list[200];

    switch (claim->reason) {
    case POLICY_REASON_RULE:
        if (claim->outcome == POLICY_DISCLOSED) {
            snprintf(buf, size, "Disclosed under rule %s (%s): %s", id, basis,
                     rule->summary);
        } else if (claim->outcome == POLICY_DERIVED) {
            derived_list(claim, list, sizeof(list));
            snprintf(buf, size,
                     "Only derived values are disclosed (%s) under rule %s (%s): %s",
                     list, id, basis, rule->summary);
        } else if (claim->withheld_source != NULL) {
            snprintf(buf, size,
                     "Withheld because rule %s (%s) withholds %s, the claim that %s is "
                     "derived from: %s",
                     id, basis, claim->withheld_source, claim->claim, rule->summary);
        } else {
            snprintf(buf, size, "Withheld under rule %s (%s): %s", id, basis,
                     rule->summary);
        }
        break;
    case POLICY_REASON_NO_RULE:
        snprintf(
            buf, size,
            "Withheld because no rule allows disclosing %s to a relying party in %s for "
            "the purpose %s.",
            claim->claim, req->rp_country, req->set->purposes[req->purpose]);
        break;
    case POLICY_REASON_UNKNOWN_CLAIM:
        snprintf(buf, size, "Withheld because %s is not in the claims catalogue.",
                 claim->claim);
        break;
    case POLICY_REASON_CONSENT_REQUIRED:
        snprintf(buf, size,
                 "Withheld until the subject gives %s, which rule %s (%s) requires.",
                 consent_phrase(claim->consent_needed), id, basis);
        break;
    case POLICY_REASON_MECHANISM_MISSING:
        mechanism_list(claim->mechanisms_needed, list, sizeof(list));
        snprintf(
            buf, size,
            "Withheld because the relying party has none of the transfer mechanisms that "
            "rule %s (%s) requires on record: %s.",
            id, basis, list);
        break;
    case POLICY_REASON_ASSURANCE_TOO_LOW:
        snprintf(
            buf, size,
            "Withheld because the credential's assurance level %s is below the level %s "
            "that rule %s (%s) requires.",
            policy_assurance_name(req->assurance),
            policy_assurance_name(claim->assurance_needed), id, basis);
        break;
    case POLICY_REASON_RETENTION_TOO_LONG:
        if (req->retention_days < 0)
            snprintf(buf, size,
                     "Withheld because the relying party declared no retention period "
                     "and rule "
                     "%s (%s) allows at most %ld days.",
                     id, basis, claim->retention_max);
        else
            snprintf(
                buf, size,
                "Withheld because the relying party declared a retention of %ld days and "
                "rule %s (%s) allows at most %ld days.",
                req->retention_days, id, basis, claim->retention_max);
        break;
    case POLICY_REASON_VALUE_MISSING:
        snprintf(buf, size,
                 "Withheld because the verified credential carries no value for %s.",
                 claim->claim);
        break;
    case POLICY_REASON_DERIVATION_FAILED:
        snprintf(
            buf, size,
            "Withheld because the derived value of %s could not be computed from the "
            "verified credential.",
            claim->claim);
        break;
    case POLICY_REASON_SOURCE_AMBIGUOUS:
        snprintf(buf, size,
                 "Withheld because the verified credential carries conflicting values for "
                 "%s, so no single value can be released or derived.",
                 source_name(req, claim->claim));
        break;
    }
}

/* ---- Decision documents
 * ----------------------------------------------------------------- */

static json_t *claim_to_json(const policy_claim_decision *claim,
                             const policy_request *req)
{
    json_t *out = json_object();
    char sentence[1024];

    if (out == NULL)
        return NULL;
    policy_claim_sentence(claim, req, sentence, sizeof(sentence));
    json_object_set_new(out, "claim", json_string(claim->claim));
    json_object_set_new(out, "decision",
                        json_string(policy_outcome_name(claim->outcome)));
    json_object_set_new(out, "reason", json_string(policy_reason_name(claim->reason)));
    json_object_set_new(out, "rule",
                        claim->rule != NULL ? json_string(claim->rule->id) : json_null());
    json_object_set_new(out, "bundle",
                        claim->rule != NULL ? json_string(claim->rule->bundle_id)
                                            : json_null());
    json_object_set_new(out, "legal_basis",
                        claim->rule != NULL ? json_string(claim->rule->legal_basis)
                                            : json_null());
    json_object_set_new(out, "explanation", json_string(sentence));

    if (claim->reason == POLICY_REASON_CONSENT_REQUIRED)
        json_object_set_new(out, "consent_required",
                            json_string(policy_consent_name(claim->consent_needed)));

    /* A withheld claim carries neither a value nor derived values. */
    if (claim->outcome == POLICY_DISCLOSED && claim->value != NULL)
        json_object_set(out, "value", (json_t *)claim->value);
    if (claim->outcome == POLICY_DERIVED) {
        json_t *derived = json_object();

        for (size_t i = 0; i < claim->derived_count; i++)
            json_object_set_new(derived, claim->derived[i].name,
                                json_string(claim->derived[i].value));
        json_object_set_new(out, "derived", derived);
    }
    return out;
}

json_t *policy_decision_to_json(const policy_decision *decision,
                                const policy_request *req)
{
    json_t *out = json_object();
    json_t *bundles = json_array();
    json_t *claims = json_array();
    char when[32];

    if (out == NULL || bundles == NULL || claims == NULL) {
        json_decref(out);
        json_decref(bundles);
        json_decref(claims);
        return NULL;
    }

    for (size_t i = 0; i < decision->set->bundle_count; i++) {
        const policy_set_bundle *b = &decision->set->bundles[i];

        json_array_append_new(bundles,
                              json_pack("{s:s, s:I, s:s}", "id", b->id, "version",
                                        (json_int_t)b->version, "digest", b->digest));
    }
    for (size_t i = 0; i < decision->claim_count; i++)
        json_array_append_new(claims, claim_to_json(&decision->claims[i], req));

    policy_format_utc(req->time, when, sizeof(when));
    json_object_set_new(out, "outcome",
                        json_string(policy_overall_name(decision->overall)));
    json_object_set_new(
        out, "consent_required",
        decision->consent_required == POLICY_CONSENT_NONE
            ? json_null()
            : json_string(policy_consent_name(decision->consent_required)));
    json_object_set_new(out, "time", json_string(when));
    json_object_set_new(out, "policy", bundles);
    json_object_set_new(out, "claims", claims);
    return out;
}
