/*
 * The policy engine's part of POST /v1/verifications: it maps the verified credential's
 * attributes to the names of the policy catalogue, evaluates each requested claim with
 * the engine, and turns the decision into the response members and the attestation's
 * attributes. A withheld claim's value stays inside this file: only values that the
 * engine returns as disclosed or derived reach the response or the attestation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_policy.h"
#include "log.h"
#include "problem.h"
#include "route_common.h"

#define IDSVC_CLAIM_PREFIX "urn:idsvc:claim:"

/*
 * Policy catalogue names whose value comes from a SAML catalogue claim of another name.
 * "address" is an object, so that the engine's country-of derivation can read its
 * country member. Every other name is the same in both catalogues, or is written as
 * the attribute urn:idsvc:claim:NAME.
 */
static const struct claim_source {
    const char *policy_name;
    const char *saml_name;
    const char *member; /* the member of an object value, or NULL for the whole value */
} SOURCES[] = {
    {"phone", "phone_number", NULL},
    {"address", "residential_address", "text"},
    {"address", "residence_country", "country"},
};

#define SOURCE_COUNT (sizeof(SOURCES) / sizeof(SOURCES[0]))

bool verification_read_retention(const json_t *body, long *days, http_reply *reply)
{
    const json_t *value = json_object_get(body, "retention_days");

    *days = -1;
    if (value == NULL || json_is_null(value))
        return true;
    if (!json_is_integer(value)) {
        problem_set(reply, 400, "field_invalid", "retention_days",
                    "retention_days must be a whole number of days.");
        return false;
    }
    if (json_integer_value(value) < 0 ||
        json_integer_value(value) > VERIFICATION_RETENTION_MAX) {
        problem_set(reply, 400, "retention_invalid", "retention_days",
                    "retention_days must be from 0 to %d days, not %lld.",
                    VERIFICATION_RETENTION_MAX, (long long)json_integer_value(value));
        return false;
    }
    *days = (long)json_integer_value(value);
    return true;
}

void disclosure_clear(disclosure *d)
{
    json_decref(d->disclosed);
    json_decref(d->withheld);
    json_decref(d->decisions);
    json_decref(d->policy);
    if (d->owns_attributes)
        saml_attributes_free(d->attributes, d->attribute_count);
    else
        free(d->attributes); /* the names and values are borrowed from the assertion */
    if (d->after_consent != NULL) {
        disclosure_clear(d->after_consent);
        free(d->after_consent);
    }
    memset(d, 0, sizeof(*d));
}

void verification_policy_members(json_t *doc, const disclosure *d, long retention_days)
{
    json_object_set_new(doc, "outcome", json_string(d->outcome));
    json_object_set_new(doc, "consent_required",
                        d->consent != NULL ? json_string(d->consent) : json_null());
    json_object_set_new(doc, "retention_days",
                        retention_days >= 0 ? json_integer(retention_days) : json_null());
    json_object_set(doc, "decisions", d->decisions);
    json_object_set(doc, "policy", d->policy);
}

/* ---- The credential's values by policy name --------------------------------------- */

/* Where an attribute's values go in the engine's values: values[name], or
 * values[name][member] for a part of an object value. */
typedef struct value_target {
    const char *name;
    const char *member;
    bool multi_valued; /* the SAML catalogue allows several values */
} value_target;

/* Finds the target of an attribute, or returns false for an attribute that no policy
 * claim reads. An attribute outside the SAML catalogue counts as single-valued. */
static bool attribute_target(const saml_attribute *attribute, value_target *out)
{
    const saml_claim *claim = saml_claim_by_uri(attribute->name);

    if (claim == NULL)
        claim = saml_claim_by_name(attribute->name);
    out->name = claim != NULL ? claim->name : NULL;
    out->member = NULL;
    out->multi_valued = claim != NULL && claim->multi_valued;
    if (claim == NULL && strncmp(attribute->name, IDSVC_CLAIM_PREFIX,
                                 strlen(IDSVC_CLAIM_PREFIX)) == 0)
        out->name = attribute->name + strlen(IDSVC_CLAIM_PREFIX);
    if (out->name == NULL || out->name[0] == '\0')
        return false;
    for (size_t i = 0; claim != NULL && i < SOURCE_COUNT; i++) {
        if (strcmp(SOURCES[i].saml_name, claim->name) == 0) {
            out->name = SOURCES[i].policy_name;
            out->member = SOURCES[i].member;
        }
    }
    return true;
}

static bool same_target(const value_target *a, const value_target *b)
{
    if (strcmp(a->name, b->name) != 0)
        return false;
    if (a->member == NULL || b->member == NULL)
        return a->member == b->member;
    return strcmp(a->member, b->member) == 0;
}

/* Collects the distinct values of every attribute from first on with this target. */
static json_t *target_values(const saml_assertion *assertion, size_t first,
                             const value_target *target)
{
    json_t *list = json_array();

    for (size_t i = first; list != NULL && i < assertion->attribute_count; i++) {
        const saml_attribute *attribute = &assertion->attributes[i];
        value_target other;

        if (!attribute_target(attribute, &other) || !same_target(target, &other))
            continue;
        if (route_append_new_values(list, attribute) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

static bool seen_before(const saml_assertion *assertion, size_t index,
                        const value_target *target)
{
    for (size_t i = 0; i < index; i++) {
        value_target earlier;

        if (attribute_target(&assertion->attributes[i], &earlier) &&
            same_target(target, &earlier))
            return true;
    }
    return false;
}

static bool name_listed(const json_t *names, const char *name)
{
    size_t index;
    const json_t *item;

    json_array_foreach(names, index, item) {
        if (strcmp(json_string_value(item), name) == 0)
            return true;
    }
    return false;
}

/* Adds a policy name to ambiguous once; returns 0, or -1 when out of memory. */
static int mark_ambiguous(json_t *ambiguous, const char *name)
{
    if (name_listed(ambiguous, name))
        return 0;
    return json_array_append_new(ambiguous, json_string(name));
}

/*
 * Stores one target's value. A policy name that one attribute fills whole and others
 * by member, such as urn:idsvc:claim:address beside residence_country, has no value
 * that does not depend on the order of the attributes. So the name goes to ambiguous,
 * and the value kept is always the object of the members, whatever the order.
 */
static int set_target(json_t *values, const value_target *target, json_t *value,
                      json_t *ambiguous)
{
    json_t *object = json_object_get(values, target->name);
    bool whole_and_parts =
        object != NULL && (target->member == NULL || !json_is_object(object));

    if (whole_and_parts && mark_ambiguous(ambiguous, target->name) != 0) {
        json_decref(value);
        return -1;
    }
    if (whole_and_parts && target->member == NULL) {
        json_decref(value);
        return 0;
    }
    if (target->member == NULL)
        return json_object_set_new(values, target->name, value);
    if (!json_is_object(object)) {
        object = json_object();
        if (json_object_set_new(values, target->name, object) != 0) {
            json_decref(value);
            return -1;
        }
    }
    return json_object_set_new(object, target->member, value);
}

/*
 * Builds {policy name: value} from every attribute of the credential. The values of
 * all Attribute elements of one claim are merged, so that their order never decides.
 * A single-valued claim with two or more different values keeps them all as an array,
 * and its policy name is added to ambiguous, so the engine releases nothing from it.
 */
static json_t *credential_values(const saml_assertion *assertion, json_t *ambiguous)
{
    json_t *values = json_object();

    for (size_t i = 0; values != NULL && i < assertion->attribute_count; i++) {
        value_target target;
        json_t *list;
        json_t *value;

        if (!attribute_target(&assertion->attributes[i], &target) ||
            seen_before(assertion, i, &target))
            continue;
        list = target_values(assertion, i, &target);
        value = list;
        if (list != NULL && !target.multi_valued && json_array_size(list) == 1) {
            value = json_incref(json_array_get(list, 0));
            json_decref(list);
        } else if (list != NULL && !target.multi_valued && json_array_size(list) > 1 &&
                   mark_ambiguous(ambiguous, target.name) != 0) {
            json_decref(list);
            value = NULL;
        }
        if (value == NULL || set_target(values, &target, value, ambiguous) != 0) {
            json_decref(values);
            values = NULL;
        }
    }
    return values;
}

/* Maps AuthnContextClassRef to a level. NOTE: only the eIDAS level URIs are known;
 * any other class, "unspecified" included, counts as low. */
static const char *assurance_name(const char *class_ref)
{
    static const char *const levels[] = {"low", "substantial", "high"};
    static const char prefix[] = "http://eidas.europa.eu/LoA/";

    if (class_ref != NULL && strncmp(class_ref, prefix, sizeof(prefix) - 1) == 0) {
        for (size_t i = 0; i < 3; i++)
            if (strcmp(class_ref + sizeof(prefix) - 1, levels[i]) == 0)
                return levels[i];
    }
    return "low";
}

/* ---- The attestation's attributes -------------------------------------------------- */

static int add_attribute(disclosure *d, const char *name, const json_t *value)
{
    saml_attribute *attribute;
    size_t count = json_is_array(value) ? json_array_size(value) : 1;
    char uri[128];

    if (saml_claim_by_name(name) == NULL) {
        snprintf(uri, sizeof(uri), IDSVC_CLAIM_PREFIX "%s", name);
        name = uri;
    }
    for (size_t i = 0; i < d->attribute_count; i++)
        if (strcmp(d->attributes[i].name, name) == 0)
            return 0; /* two requested claims can derive the same value */

    attribute = &d->attributes[d->attribute_count];
    attribute->name = strdup(name);
    attribute->values = calloc(count, sizeof(*attribute->values));
    if (attribute->name == NULL || attribute->values == NULL) {
        free(attribute->name);
        free(attribute->values);
        return -1;
    }
    d->attribute_count++;
    for (size_t i = 0; i < count; i++) {
        const json_t *item = json_is_array(value) ? json_array_get(value, i) : value;

        attribute->values[i] = strdup(json_string_value(item) != NULL
                                          ? json_string_value(item)
                                          : "");
        if (attribute->values[i] == NULL)
            return -1;
        attribute->value_count++;
    }
    return 0;
}

/* Adds the SAML attributes that a disclosed claim's value came from. */
static int add_disclosed(disclosure *d, const char *claim, const json_t *value)
{
    if (!json_is_object(value)) {
        for (size_t i = 0; i < SOURCE_COUNT; i++)
            if (SOURCES[i].member == NULL && strcmp(SOURCES[i].policy_name, claim) == 0)
                claim = SOURCES[i].saml_name;
        return add_attribute(d, claim, value);
    }
    for (size_t i = 0; i < SOURCE_COUNT; i++) {
        const json_t *part = json_object_get(value, SOURCES[i].member != NULL
                                                        ? SOURCES[i].member
                                                        : "");

        if (strcmp(SOURCES[i].policy_name, claim) == 0 && part != NULL &&
            add_attribute(d, SOURCES[i].saml_name, part) != 0)
            return -1;
    }
    return 0;
}

/* ---- The decision ------------------------------------------------------------------ */

/* The engine's working state for one request; large, so it lives on the heap. */
typedef struct decision_state {
    policy_set *set;
    json_t *doc; /* the request document, which req borrows from */
    policy_request req;
    policy_decision decision;
    policy_decision given; /* with the consent that decision asked for, when it did */
    const char *disallowed[POLICY_REQUEST_MAX_CLAIMS]; /* not in allowed_claims */
    size_t disallowed_count;
} decision_state;

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

/* Returns the subject's home: the node's own jurisdiction for its credentials, the
 * [issuer] section's for another issuer's, or NULL when that section names none. */
static const char *subject_jurisdiction(const http_request *request,
                                        const saml_assertion *assertion)
{
    const config *cfg = request->snapshot->cfg;

    if (strcmp(assertion->issuer, cfg->entity_id) == 0)
        return cfg->jurisdiction;
    for (size_t i = 0; i < cfg->issuer_count; i++)
        if (strcmp(assertion->issuer, cfg->issuers[i].entity_id) == 0)
            return cfg->issuers[i].jurisdiction;
    return NULL;
}

static json_t *mechanism_names(unsigned bits)
{
    json_t *names = json_array();

    for (unsigned i = 0; names != NULL && i < POLICY_MECH_COUNT; i++)
        if (bits & (1u << i))
            json_array_append_new(names, json_string(policy_mechanism_name(1u << i)));
    return names;
}

static json_t *request_document(const http_request *request, const store_rp *rp,
                                const saml_assertion *assertion,
                                const verification_terms *terms, const char *home)
{
    const config_rp *registered = config_find_rp(request->snapshot->cfg, rp->id);
    json_t *ambiguous = json_array();
    json_t *values = ambiguous != NULL ? credential_values(assertion, ambiguous) : NULL;
    char when[32];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (values == NULL) {
        json_decref(ambiguous);
        return NULL;
    }
    return json_pack("{s:s, s:{s:s, s:s, s:o}, s:s, s:o, s:s, s:[], s:O, s:o, s:o, s:s}",
                     "subject_jurisdiction", home, "relying_party", "id", rp->id,
                     "jurisdiction", rp->jurisdiction, "transfer_mechanisms",
                     mechanism_names(registered != NULL ? registered->transfer_mechanisms
                                                        : 0),
                     "purpose", terms->purpose, "retention_days",
                     terms->retention_days >= 0 ? json_integer(terms->retention_days)
                                                : json_null(),
                     "assurance", assurance_name(assertion->assurance), "consent",
                     "claims", terms->claims, "values", values, "ambiguous", ambiguous,
                     "time", when);
}

/* Turns a request error into a problem: a bad purpose or claim list is the client's,
 * anything else comes from the node's own configuration. */
static void reject_request(const policy_error *err, http_reply *reply)
{
    if (strcmp(err->field, "purpose") == 0) {
        problem_set(reply, 400, "purpose_unknown", "purpose",
                    "The purpose is not one the policy bundles declare, such as "
                    "account_opening or age_check.");
        return;
    }
    if (strcmp(err->field, "claims") == 0) {
        problem_set(reply, 400, "field_invalid", "claims", "%s.", err->message);
        return;
    }
    log_message(LOG_ERROR, "policy_request_invalid", "%s: %s", err->field, err->message);
    problem_internal(reply);
}

/* Rejects a credential of another issuer whose [issuer] section names a jurisdiction
 * that the bundles do not declare, because no rule can decide for its subjects. The
 * node's own jurisdiction is checked when the bundles load. */
static void reject_undeclared_home(const char *home, http_reply *reply)
{
    problem_set(reply, 422, "subject_jurisdiction_unknown", "assertion",
                "The [issuer] section of this assertion's issuer names the jurisdiction "
                "%s, which the policy bundles do not declare, so no rule can decide for "
                "its subjects.",
                home);
}

static void reject_unknown_claim(size_t index, http_reply *reply)
{
    char field[32];

    snprintf(field, sizeof(field), "claims[%zu]", index);
    problem_set(reply, 400, "claim_unknown", field,
                "Each claim must be a name from the policy bundles' claims catalogue.");
}

bool verification_policy_check_terms(const http_request *request, const char *purpose,
                                     const json_t *claims, http_reply *reply)
{
    policy_set *set = policy_store_acquire(request->node->policy);
    policy_error err = {0};
    long unknown = -1;
    bool valid = false;

    if (set == NULL) {
        problem_internal(reply); /* the daemon does not start without a set */
        return false;
    }
    if (policy_check_terms(set, purpose, claims, &unknown, &err) != 0)
        reject_request(&err, reply);
    else if (unknown >= 0)
        reject_unknown_claim((size_t)unknown, reply);
    else
        valid = true;
    policy_set_release(&set);
    return valid;
}

/* Resolves the request and sets aside the claims the registry entry does not allow. */
static int resolve(http_request *request, const store_rp *rp,
                   const saml_assertion *assertion, const verification_terms *terms,
                   decision_state *st, http_reply *reply)
{
    const char *home = subject_jurisdiction(request, assertion);
    policy_error err = {0};
    size_t kept = 0;

    if (home == NULL) {
        problem_set(reply, 422, "subject_jurisdiction_unknown", "assertion",
                    "The policy engine needs the subject's home jurisdiction, but the "
                    "[issuer] section of this assertion's issuer names no jurisdiction.");
        return -1;
    }
    st->doc = request_document(request, rp, assertion, terms, home);
    if (st->doc == NULL) {
        problem_internal(reply);
        return -1;
    }
    if (policy_request_from_json(st->set, st->doc, &st->req, &err) != 0) {
        if (strcmp(err.field, "subject_jurisdiction") == 0)
            reject_undeclared_home(home, reply);
        else
            reject_request(&err, reply);
        return -1;
    }

    for (size_t i = 0; i < st->req.claim_count; i++) {
        if (st->req.claims[i] < 0) {
            reject_unknown_claim(i, reply);
            return -1;
        }
        if (!list_contains(rp->allowed_claims, st->req.claim_names[i])) {
            st->disallowed[st->disallowed_count++] = st->req.claim_names[i];
            continue;
        }
        st->req.claims[kept] = st->req.claims[i];
        st->req.claim_names[kept] = st->req.claim_names[i];
        kept++;
    }
    st->req.claim_count = kept;
    return 0;
}

static int evaluate(decision_state *st, policy_decision *decision, unsigned retry_after,
                    http_reply *reply)
{
    policy_error err = {0};

    if (st->req.claim_count == 0) {
        decision->set = st->set;
        decision->overall = POLICY_DENY;
        return 0;
    }
    if (policy_evaluate(&st->req, decision, &err) == 0)
        return 0;
    log_message(LOG_ERROR, "policy_unavailable", "%s (%s)", err.message,
                policy_error_name(err.code));
    problem_set(reply, 503, "policy_unavailable", NULL,
                "The node's policy bundles do not cover the decision time; the "
                "operator must load current bundles.");
    reply->retry_after = retry_after;
    return -1;
}

static void count_outcome(const decision_state *st, const policy_decision *decision,
                          disclosure *out)
{
    size_t released = 0;
    size_t total = decision->claim_count + st->disallowed_count;

    for (size_t i = 0; i < decision->claim_count; i++)
        if (decision->claims[i].outcome != POLICY_WITHHELD)
            released++;
    out->consent_required = decision->overall == POLICY_CONSENT_PENDING;
    if (out->consent_required) {
        out->outcome = policy_overall_name(POLICY_CONSENT_PENDING);
        out->consent = policy_consent_name(decision->consent_required);
    } else if (released == total) {
        out->outcome = policy_overall_name(POLICY_PERMIT);
    } else if (released == 0) {
        out->outcome = policy_overall_name(POLICY_DENY);
    } else {
        out->outcome = policy_overall_name(POLICY_PARTIAL);
    }
}

static json_t *disallowed_decision(const char *claim)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "claim", claim, "decision", "withheld",
                     "reason", "not_allowed_for_relying_party", "explanation",
                     "Withheld because the relying party's registry entry does not list "
                     "this claim in allowed_claims.");
}

/* Releases the values of one claim: into the response, and into the attestation. */
static int release(disclosure *out, const policy_claim_decision *claim)
{
    if (claim->outcome == POLICY_DISCLOSED) {
        if (json_object_set(out->disclosed, claim->claim, (json_t *)claim->value) != 0)
            return -1;
        return add_disclosed(out, claim->claim, claim->value);
    }
    for (size_t k = 0; k < claim->derived_count; k++) {
        json_t *value = json_string(claim->derived[k].value);
        int rc = value != NULL &&
                         json_object_set(out->disclosed, claim->derived[k].name, value) == 0
                     ? add_attribute(out, claim->derived[k].name, value)
                     : -1;

        json_decref(value);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Replaces the sentence of a derived claim while consent is pending, because the
 * engine's sentence quotes the derived values, which leave only after the decision. */
static void hide_derived_values(json_t *entry, const policy_claim_decision *claim)
{
    char sentence[256];

    if (claim->outcome != POLICY_DERIVED)
        return;
    snprintf(sentence, sizeof(sentence),
             "Only derived values are disclosed under rule %s, and only after the "
             "subject's decision on the consent request.",
             claim->rule != NULL ? policy_rule_id(claim->rule) : "(none)");
    json_object_set_new(entry, "explanation", json_string(sentence));
}

/* Fills the response members from a decision. While consent is pending, no value
 * and no derived value leaves: the decisions name the claims and the rules only. */
static int fill_disclosure(decision_state *st, const policy_decision *decision,
                           disclosure *out)
{
    json_t *doc = NULL;
    json_t *claims;
    size_t used = 0;
    int rc = -1;

    out->owns_attributes = true;
    out->disclosed = json_object();
    out->withheld = json_array();
    out->decisions = json_array();
    out->attributes = calloc(POLICY_REQUEST_MAX_CLAIMS * (POLICY_MAX_DERIVED + 2),
                             sizeof(*out->attributes));
    if (out->disclosed == NULL || out->withheld == NULL || out->decisions == NULL ||
        out->attributes == NULL)
        return -1;
    count_outcome(st, decision, out);

    if (decision->claim_count > 0) {
        doc = policy_decision_to_json(decision, &st->req);
        if (doc == NULL)
            return -1;
    }
    claims = json_object_get(doc, "claims");
    for (size_t i = 0; i < decision->claim_count; i++) {
        const policy_claim_decision *claim = &decision->claims[i];
        json_t *entry = json_array_get(claims, i);

        json_object_del(entry, "value");
        if (out->consent_required) {
            json_object_del(entry, "derived");
            hide_derived_values(entry, claim);
        }
        if (json_array_append(out->decisions, entry) != 0)
            goto out;
        if (claim->outcome == POLICY_WITHHELD) {
            json_array_append_new(out->withheld,
                                  json_pack("{s:s, s:s}", "claim", claim->claim, "reason",
                                            policy_reason_name(claim->reason)));
            continue;
        }
        if (!out->consent_required && release(out, claim) != 0)
            goto out;
    }
    for (size_t i = 0; i < st->disallowed_count; i++) {
        json_array_append_new(out->decisions, disallowed_decision(st->disallowed[i]));
        json_array_append_new(out->withheld,
                              json_pack("{s:s, s:s}", "claim", st->disallowed[i], "reason",
                                        "not_allowed_for_relying_party"));
    }

    out->policy = json_array();
    for (size_t i = 0; out->policy != NULL && i < policy_set_bundle_count(st->set); i++) {
        json_array_append_new(out->policy,
                              json_pack("{s:s, s:I, s:s}", "id",
                                        policy_set_bundle_id(st->set, i), "version",
                                        (json_int_t)policy_set_bundle_version(st->set, i),
                                        "digest", policy_set_bundle_digest(st->set, i)));
        used += (size_t)snprintf(out->policy_log + used,
                                 used < sizeof(out->policy_log)
                                     ? sizeof(out->policy_log) - used
                                     : 0,
                                 "%s%s v%ld %s", i > 0 ? ", " : "",
                                 policy_set_bundle_id(st->set, i),
                                 policy_set_bundle_version(st->set, i),
                                 policy_set_bundle_digest(st->set, i));
    }
    rc = out->policy != NULL ? 0 : -1;
out:
    json_decref(doc);
    return rc;
}

/*
 * Evaluates the request again with the consent that the first decision asked for as
 * evidence: "explicit", or "separate-cross-border", which counts as explicit too. The
 * result is what the subject's approval releases, so the consent page can show it and
 * the node can keep its values until the subject decides.
 */
static int decide_after_consent(http_request *request, decision_state *st,
                                disclosure *out, http_reply *reply)
{
    out->after_consent = calloc(1, sizeof(*out->after_consent));
    if (out->after_consent == NULL) {
        problem_internal(reply);
        return -1;
    }
    st->req.consent = st->decision.consent_required;
    if (evaluate(st, &st->given, request->node->boot->retry_after_seconds, reply) != 0)
        return -1;
    if (st->given.overall == POLICY_CONSENT_PENDING) {
        /* The engine orders consent levels, so the level it asked for satisfies it. */
        log_message(LOG_ERROR, "policy_consent_unsatisfied",
                    "the decision with consent %s as evidence still waits for consent",
                    policy_consent_name(st->req.consent));
        problem_internal(reply);
        return -1;
    }
    if (fill_disclosure(st, &st->given, out->after_consent) != 0) {
        problem_internal(reply);
        return -1;
    }
    return 0;
}

/* The audit form of one claim's decision; see verification_audit_claims. */
static json_t *audit_claim(const json_t *entry)
{
    const char *decision = json_string_value(json_object_get(entry, "decision"));
    const char *reason = json_string_value(json_object_get(entry, "reason"));
    json_t *item;
    json_t *names;
    const char *name;
    json_t *value;

    if (decision != NULL && reason != NULL && strcmp(decision, "withheld") == 0 &&
        strcmp(reason, "consent_required") == 0)
        decision = "consent_pending";
    item = json_pack("{s:O, s:s*, s:s*, s:O*, s:O*, s:O*}", "claim",
                     json_object_get(entry, "claim"), "decision", decision, "reason", reason,
                     "rule", json_object_get(entry, "rule"), "bundle",
                     json_object_get(entry, "bundle"), "consent_required",
                     json_object_get(entry, "consent_required"));
    if (item == NULL || !json_is_object(json_object_get(entry, "derived")))
        return item;
    names = json_array();
    json_object_foreach(json_object_get(entry, "derived"), name, value)
        json_array_append_new(names, json_string(name));
    json_object_set_new(item, "derived", names);
    return item;
}

json_t *verification_audit_claims(const json_t *decisions)
{
    json_t *claims = json_array();
    const json_t *entry;
    size_t index;

    json_array_foreach(decisions, index, entry) {
        json_t *item = audit_claim(entry);

        if (item == NULL || json_array_append_new(claims, item) != 0) {
            json_decref(claims);
            return NULL;
        }
    }
    return claims;
}

int verification_policy_decide(http_request *request, const store_rp *rp,
                               const saml_assertion *assertion,
                               const verification_terms *terms, disclosure *out,
                               http_reply *reply)
{
    decision_state *st = calloc(1, sizeof(*st));
    int rc = -1;

    if (st == NULL) {
        problem_internal(reply);
        return -1;
    }
    st->set = policy_store_acquire(request->node->policy);
    if (st->set == NULL) {
        problem_internal(reply); /* the daemon does not start without a set */
        goto out;
    }
    if (resolve(request, rp, assertion, terms, st, reply) != 0 ||
        evaluate(st, &st->decision, request->node->boot->retry_after_seconds, reply) != 0)
        goto out;
    if (fill_disclosure(st, &st->decision, out) != 0) {
        problem_internal(reply);
        goto out;
    }
    if (out->consent_required && decide_after_consent(request, st, out, reply) != 0)
        goto out;
    rc = 0;
out:
    /* The values of withheld claims are freed here with the request document. */
    json_decref(st->doc);
    policy_set_release(&st->set);
    free(st);
    return rc;
}
