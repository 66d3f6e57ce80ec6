/*
 * Evaluating one request against a compiled policy set.
 *
 * Per claim, each applicable bundle gives a verdict: the base always, the residency
 * bundle of the subject's home (export rules) and that of the relying party's
 * jurisdiction (import rules). Inside a bundle the most specific matching rule wins.
 * Among equally specific rules, withhold beats disclose-derived, which beats disclose,
 * and equal effects combine their conditions. Across bundles the strongest effect wins
 * and every bundle that allows the claim adds its conditions. So a claim is released
 * only in the form, and on the conditions, that every applicable bundle allows. A derived
 * claim requested by its own name is withheld wherever the verdict on its source claim is
 * to withhold, because it is a stand-in for that source.
 */
#include <stdio.h>
#include <string.h>

#include "iso3166.h"
#include "policy_internal.h"

#define MAX_MECHANISM_SETS 32

/* One bundle's verdict on one claim, with the conditions of every combined rule. */
typedef struct verdict {
    const policy_rule *rule; /* NULL when no rule of the bundle matched */
    policy_effect effect;
    uint64_t derive_mask;
    policy_consent consent;
    policy_assurance min_assurance;
    long max_retention;
    const policy_rule *consent_rule; /* the rule whose condition is reported */
    const policy_rule *assurance_rule;
    const policy_rule *retention_rule;
    unsigned mechanism_sets[MAX_MECHANISM_SETS]; /* the relying party needs one of each */
    const policy_rule *mechanism_rules[MAX_MECHANISM_SETS];
    size_t mechanism_set_count;
    /* The first rule whose mechanism set did not fit: the claim is then withheld, since
     * a condition the verdict cannot hold must not be dropped. */
    const policy_rule *mechanism_overflow;
} verdict;

/*
 * Adds a set of transfer mechanisms the relying party needs one of. Meeting a smaller set
 * meets every set that contains it, so a set that contains one already kept adds
 * nothing, and the sets it is contained in give way to it. A set beyond
 * MAX_MECHANISM_SETS sets mechanism_overflow.
 */
static void add_mechanism_set(verdict *v, unsigned set, const policy_rule *rule)
{
    size_t kept = 0;

    for (size_t i = 0; i < v->mechanism_set_count; i++)
        if ((v->mechanism_sets[i] & set) == v->mechanism_sets[i])
            return;
    for (size_t i = 0; i < v->mechanism_set_count; i++) {
        if ((set & v->mechanism_sets[i]) == set)
            continue;
        v->mechanism_sets[kept] = v->mechanism_sets[i];
        v->mechanism_rules[kept] = v->mechanism_rules[i];
        kept++;
    }
    v->mechanism_set_count = kept;
    if (kept == MAX_MECHANISM_SETS) {
        if (v->mechanism_overflow == NULL)
            v->mechanism_overflow = rule;
        return;
    }
    v->mechanism_sets[kept] = set;
    v->mechanism_rules[kept] = rule;
    v->mechanism_set_count++;
}

typedef struct trace_sink {
    policy_trace_fn fn;
    void *ctx;
    size_t claim_index;
    /* The status of each bundle's winning rule, which is known only once the verdicts
     * of all bundles are combined. */
    policy_trace_status winner;
    /* Set when a rule withholds the source of the claim, so that no winning rule of the
     * claim itself decides it. */
    bool source_withheld;
} trace_sink;

static void trace_emit(const trace_sink *sink, const policy_rule *rule,
                       policy_trace_status status)
{
    if (sink != NULL && sink->fn != NULL)
        sink->fn(sink->ctx, sink->claim_index, rule, status);
}

static void verdict_merge(verdict *v, const policy_rule *rule)
{
    if (rule->consent > v->consent) {
        v->consent = rule->consent;
        v->consent_rule = rule;
    }
    if (rule->min_assurance > v->min_assurance) {
        v->min_assurance = rule->min_assurance;
        v->assurance_rule = rule;
    }
    if (rule->max_retention >= 0 &&
        (v->max_retention < 0 || rule->max_retention < v->max_retention)) {
        v->max_retention = rule->max_retention;
        v->retention_rule = rule;
    }
    if (rule->mechanisms != 0)
        add_mechanism_set(v, rule->mechanisms, rule);
    /* Combined disclose-derived rules release only the stand-ins that all of them allow.
     */
    v->derive_mask &= rule->derive_mask;
}

static void verdict_start(verdict *v, const policy_rule *rule)
{
    memset(v, 0, sizeof(*v));
    v->max_retention = -1;
    v->rule = rule;
    v->effect = rule->effect;
    v->derive_mask = rule->derive_mask;
    verdict_merge(v, rule);
}

static policy_trace_status rule_mismatch(const policy_rule *rule,
                                         const policy_request *req, bool *matched)
{
    bool cross_border = req->subject != req->relying_party;

    *matched = false;
    if (!(rule->rp_mask & (1u << req->relying_party)))
        return POLICY_TRACE_NO_RELYING_PARTY;
    if ((rule->scope == POLICY_SCOPE_DOMESTIC && cross_border) ||
        (rule->scope == POLICY_SCOPE_CROSS_BORDER && !cross_border))
        return POLICY_TRACE_NO_SCOPE;
    if (!(rule->purpose_mask & (UINT64_C(1) << req->purpose)))
        return POLICY_TRACE_NO_PURPOSE;
    *matched = true;
    return POLICY_TRACE_WON;
}

/* Finds one bundle's verdict; returns false when none of its rules matched. */
static bool bundle_verdict(const policy_request *req, int bundle, int claim, verdict *v,
                           const trace_sink *sink)
{
    const policy_rule_list *list =
        policy_set_candidates(req->set, bundle, claim, req->subject);
    int best = -1;

    v->rule = NULL;
    for (size_t i = 0; i < list->count; i++) {
        const policy_rule *rule = list->rules[i];
        bool matched;
        policy_trace_status status = rule_mismatch(rule, req, &matched);

        if (!matched) {
            trace_emit(sink, rule, status);
            continue;
        }
        if (v->rule == NULL) {
            verdict_start(v, rule);
            best = rule->specificity;
            trace_emit(sink, rule, sink != NULL ? sink->winner : POLICY_TRACE_WON);
        } else if (rule->specificity == best && rule->effect == v->effect) {
            verdict_merge(v, rule);
            trace_emit(sink, rule, POLICY_TRACE_COMBINED);
        } else if (rule->specificity == best) {
            trace_emit(sink, rule, POLICY_TRACE_OVERRIDDEN_EFFECT);
        } else {
            /* The list is in precedence order, so nothing after this can win. */
            if (sink == NULL || sink->fn == NULL)
                break;
            trace_emit(sink, rule, POLICY_TRACE_LESS_SPECIFIC);
        }
    }
    return v->rule != NULL;
}

/* Adds the conditions of another verdict: the strongest consent and assurance, the
 * shortest retention and every mechanism set. */
static void verdict_add_conditions(verdict *into, const verdict *other)
{
    for (size_t i = 0; i < other->mechanism_set_count; i++)
        add_mechanism_set(into, other->mechanism_sets[i], other->mechanism_rules[i]);
    if (into->mechanism_overflow == NULL)
        into->mechanism_overflow = other->mechanism_overflow;
    if (other->consent > into->consent) {
        into->consent = other->consent;
        into->consent_rule = other->consent_rule;
    }
    if (other->min_assurance > into->min_assurance) {
        into->min_assurance = other->min_assurance;
        into->assurance_rule = other->assurance_rule;
    }
    if (other->max_retention >= 0 &&
        (into->max_retention < 0 || other->max_retention < into->max_retention)) {
        into->max_retention = other->max_retention;
        into->retention_rule = other->retention_rule;
    }
}

/* Adds the conditions of another bundle's verdict, and keeps only the derived claims
 * that both allow. */
static void verdict_combine(verdict *into, const verdict *other)
{
    verdict_add_conditions(into, other);
    into->derive_mask &= other->derive_mask;
}

/* Returns the trace status of the winning rule of verdicts[i], given the verdict out
 * that the bundles combined into, or dropped when no bundle decides the claim. */
static policy_trace_status winner_status(const verdict *verdicts, size_t i,
                                         const verdict *out, bool dropped,
                                         const trace_sink *sink)
{
    if (sink->source_withheld)
        return POLICY_TRACE_OVERRIDDEN_BY_SOURCE;
    if (dropped)
        return POLICY_TRACE_NO_BASE_RULE;
    if (verdicts[i].rule == out->rule)
        return POLICY_TRACE_WON;
    if (verdicts[i].effect == out->effect)
        return POLICY_TRACE_COMBINED;
    return POLICY_TRACE_OVERRIDDEN_BY_BUNDLE;
}

/* Traces the candidate rules of every applicable bundle, once the combined verdict is
 * known, so that a trace never calls a rule the winner when the decision drops it. */
static void trace_bundles(const policy_request *req, int claim, const int *applicable,
                          size_t count, const verdict *verdicts, const int *from,
                          size_t found, const verdict *out, bool dropped,
                          const trace_sink *sink)
{
    for (size_t b = 0; b < count; b++) {
        trace_sink bundle_sink = *sink;
        verdict again;

        bundle_sink.winner = POLICY_TRACE_WON;
        for (size_t i = 0; i < found; i++) {
            if (from[i] == applicable[b])
                bundle_sink.winner = winner_status(verdicts, i, out, dropped, sink);
        }
        bundle_verdict(req, applicable[b], claim, &again, &bundle_sink);
    }
}

/* Combines the verdicts of the applicable bundles; returns false when no rule of any of
 * them matched. The strongest effect wins and the conditions add up, so a residency
 * bundle can add restrictions to the base but never lift one. */
static bool claim_verdict(const policy_request *req, int claim, verdict *out,
                          const trace_sink *sink)
{
    const policy_set *set = req->set;
    int home = set->residency_of[req->subject];
    int destination = req->relying_party < POLICY_MAX_JURISDICTIONS
                          ? set->residency_of[req->relying_party]
                          : -1;
    int applicable[3];
    int from[3];
    verdict verdicts[3];
    size_t count = 0, found = 0;
    policy_effect strongest = POLICY_DISCLOSE;
    bool base_decides = false;
    bool dropped;
    int base = -1;

    for (size_t b = 0; b < set->bundle_count && count == 0; b++) {
        if (set->bundles[b].kind == POLICY_BUNDLE_BASE)
            applicable[count++] = base = (int)b;
    }
    if (home >= 0)
        applicable[count++] = home;
    if (destination >= 0 && destination != home)
        applicable[count++] = destination;

    for (size_t i = 0; i < count; i++) {
        if (!bundle_verdict(req, applicable[i], claim, &verdicts[found], NULL))
            continue;
        if (verdicts[found].effect > strongest)
            strongest = verdicts[found].effect;
        base_decides = base_decides || applicable[i] == base;
        from[found++] = applicable[i];
    }

    /* A residency bundle can only narrow what the base allows: where the base has no
     * rule, a residency rule may withhold, but not release. */
    dropped = found == 0 || (!base_decides && strongest != POLICY_WITHHOLD);
    out->rule = NULL;
    for (size_t i = 0; i < found && out->rule == NULL && !dropped; i++) {
        if (verdicts[i].effect == strongest)
            *out = verdicts[i];
    }

    /* Every bundle that allows the claim adds its conditions, whatever form it allows. */
    for (size_t i = 0; i < found && !dropped && strongest != POLICY_WITHHOLD; i++) {
        if (verdicts[i].rule != out->rule)
            verdict_combine(out, &verdicts[i]);
    }
    if (sink != NULL && sink->fn != NULL)
        trace_bundles(req, claim, applicable, count, verdicts, from, found, out, dropped,
                      sink);
    return !dropped;
}

/* ---- Derived values ---------------------------------------------------------------- */

/* Reads a calendar date YYYY-MM-DD: ten characters, digits where digits belong, a year
 * from 1, as issuance takes it (XML Schema 1.0 has no year 0), and a day that the month
 * has (29 February only in leap years). */
static bool parse_calendar_date(const char *date, int *year, int *month, int *day)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap;

    if (strlen(date) != 10 || date[4] != '-' || date[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (date[i] < '0' || date[i] > '9'))
            return false;
    *year = (date[0] - '0') * 1000 + (date[1] - '0') * 100 + (date[2] - '0') * 10 +
            (date[3] - '0');
    *month = (date[5] - '0') * 10 + (date[6] - '0');
    *day = (date[8] - '0') * 10 + (date[9] - '0');
    if (*year < 1 || *month < 1 || *month > 12 || *day < 1)
        return false;
    leap = (*year % 4 == 0 && *year % 100 != 0) || *year % 400 == 0;
    return *day <= days[*month - 1] + (*month == 2 && leap ? 1 : 0);
}

static bool derive_age_over(const char *date, int years, time_t now,
                            policy_derived_value *out)
{
    int year, month, day;
    struct tm today;
    int age;

    if (!parse_calendar_date(date, &year, &month, &day))
        return false;
    gmtime_r(&now, &today);

    /* A birthday on 29 February counts from 1 March in years without that day. */
    age = today.tm_year + 1900 - year;
    if (today.tm_mon + 1 < month || (today.tm_mon + 1 == month && today.tm_mday < day))
        age--;
    if (age < 0)
        return false;
    out->value = age >= years ? "true" : "false";
    return true;
}

/* Derives nothing from a country that is not an officially assigned code, so that a
 * claim such as UK or XX is withheld rather than released as a residency country. */
static bool derive_country(const json_t *address, policy_derived_value *out)
{
    const char *country = json_string_value(json_object_get(address, "country"));

    if (!iso3166_is_assigned(country))
        return false;
    memcpy(out->text, country, 3);
    out->value = out->text;
    return true;
}

static bool derive_value(const policy_request *req, int derived,
                         policy_derived_value *out)
{
    const policy_claim_def *def = &req->set->claims[derived];
    const char *source_name = req->set->claims[def->source].name;
    const json_t *source = json_object_get(req->values, source_name);

    out->name = def->name;
    switch (def->derivation) {
    case POLICY_DERIVE_AGE_OVER:
        return json_is_string(source) &&
               derive_age_over(json_string_value(source), def->years, req->time, out);
    case POLICY_DERIVE_COUNTRY_OF:
        return json_is_object(source) && derive_country(source, out);
    case POLICY_DERIVE_PRESENT:
        out->value = source != NULL && !json_is_null(source) ? "true" : "false";
        return true;
    case POLICY_DERIVE_ASSURANCE:
        out->value = policy_assurance_name(req->assurance);
        return true;
    case POLICY_DERIVE_NONE:
        break;
    }
    return false;
}

/* ---- One claim --------------------------------------------------------------------- */

static void withhold(policy_claim_decision *d, policy_reason reason)
{
    d->outcome = POLICY_WITHHELD;
    d->reason = reason;
    d->value = NULL;
    d->derived_count = 0;
    memset(d->derived, 0, sizeof(d->derived));
}

static bool check_conditions(const policy_request *req, const verdict *v,
                             policy_claim_decision *d)
{
    if (req->assurance < v->min_assurance) {
        d->rule = v->assurance_rule;
        d->assurance_needed = v->min_assurance;
        withhold(d, POLICY_REASON_ASSURANCE_TOO_LOW);
        return false;
    }
    if (v->mechanism_overflow != NULL) {
        /* NOTE: more than MAX_MECHANISM_SETS incomparable sets; the overflowing rule is
         * named, even when the relying party meets its own set. */
        d->rule = v->mechanism_overflow;
        d->mechanisms_needed = v->mechanism_overflow->mechanisms;
        withhold(d, POLICY_REASON_MECHANISM_MISSING);
        return false;
    }
    for (size_t i = 0; i < v->mechanism_set_count; i++) {
        if ((req->mechanisms & v->mechanism_sets[i]) == 0) {
            d->rule = v->mechanism_rules[i];
            d->mechanisms_needed = v->mechanism_sets[i];
            withhold(d, POLICY_REASON_MECHANISM_MISSING);
            return false;
        }
    }
    if (v->max_retention >= 0 &&
        (req->retention_days < 0 || req->retention_days > v->max_retention)) {
        d->rule = v->retention_rule;
        d->retention_max = v->max_retention;
        withhold(d, POLICY_REASON_RETENTION_TOO_LONG);
        return false;
    }
    return true;
}

static bool is_ambiguous(const policy_request *req, int claim)
{
    return (req->ambiguous & (UINT64_C(1) << claim)) != 0;
}

/* Tells whether a derived claim is computed from a source value in conflict. Only
 * age-over and country-of read the value, and present and assurance-level do not. */
static bool reads_ambiguous_value(const policy_request *req, int derived)
{
    const policy_claim_def *def = &req->set->claims[derived];

    if (def->derivation != POLICY_DERIVE_AGE_OVER &&
        def->derivation != POLICY_DERIVE_COUNTRY_OF)
        return false;
    return is_ambiguous(req, def->source);
}

/* Tells whether the own rules of a derived claim keep it: a withhold verdict, or a
 * disclose-derived verdict whose derive list leaves it out, as when a relying party
 * requests it by its own name. */
static bool own_rules_withhold(int claim, const verdict *own)
{
    return own->effect == POLICY_WITHHOLD ||
           (own->effect == POLICY_DISCLOSE_DERIVED &&
            (own->derive_mask & (UINT64_C(1) << claim)) == 0);
}

/* The rules already traced for the stand-ins of one claim. */
typedef struct traced_rules {
    const policy_rule *items[POLICY_MAX_DERIVED * (4 + MAX_MECHANISM_SETS)];
    size_t count;
} traced_rules;

/* Traces a rule with status, unless it was traced for another stand-in already. */
static void trace_standin_rule(const trace_sink *sink, traced_rules *traced,
                               const policy_rule *rule, policy_trace_status status)
{
    if (rule == NULL)
        return;
    for (size_t i = 0; i < traced->count; i++)
        if (traced->items[i] == rule)
            return;
    if (traced->count < sizeof(traced->items) / sizeof(traced->items[0]))
        traced->items[traced->count++] = rule;
    trace_emit(sink, rule, status);
}

/* Traces each rule that sets a condition of a stand-in's own verdict, so that a
 * decision that names one of them for a failed condition shows it in the trace. */
static void trace_standin_conditions(const trace_sink *sink, traced_rules *traced,
                                     const verdict *own)
{
    const policy_trace_status status = POLICY_TRACE_STANDIN_CONDITIONS;

    if (sink == NULL || sink->fn == NULL)
        return;
    trace_standin_rule(sink, traced, own->rule, status);
    trace_standin_rule(sink, traced, own->consent_rule, status);
    trace_standin_rule(sink, traced, own->assurance_rule, status);
    trace_standin_rule(sink, traced, own->retention_rule, status);
    for (size_t i = 0; i < own->mechanism_set_count; i++)
        trace_standin_rule(sink, traced, own->mechanism_rules[i], status);
}

/*
 * Narrows the stand-ins of a disclose-derived verdict on a source claim to those that
 * may leave, and adds the conditions of their own rules to v. A stand-in released
 * through its source follows its own rules: where they withhold it, it is left out,
 * and where they allow it, their conditions apply too. So a request for the source
 * cannot skip the consent, mechanism, assurance or retention that a request for the
 * stand-in by its own name must meet. A stand-in that no rule of its own matches adds
 * no condition.
 */
static void admit_standins(const policy_request *req, int claim, verdict *v,
                           const trace_sink *sink)
{
    uint64_t candidates = req->set->claims[claim].standins & v->derive_mask;
    uint64_t admitted = 0;
    traced_rules traced = {.count = 0};

    for (int i = 0; i < (int)req->set->claim_count; i++) {
        verdict own;

        if (!(candidates & (UINT64_C(1) << i)))
            continue;
        if (claim_verdict(req, i, &own, NULL)) {
            if (own_rules_withhold(i, &own)) {
                trace_standin_rule(sink, &traced, own.rule,
                                   POLICY_TRACE_WITHHOLDS_STANDIN);
                continue;
            }
            trace_standin_conditions(sink, &traced, &own);
            verdict_add_conditions(v, &own);
        }
        admitted |= UINT64_C(1) << i;
    }
    v->derive_mask = admitted;
}

/* Fills the disclosed value or the derived values; false when they are not available. */
static bool release_values(const policy_request *req, int claim, const verdict *v,
                           policy_claim_decision *d)
{
    const policy_claim_def *def = &req->set->claims[claim];
    uint64_t standins;

    if (def->source >= 0) {
        /* A disclose-derived rule releases only the derived claims that its derive list
         * picks, also when one is requested by name. */
        if (v->effect == POLICY_DISCLOSE_DERIVED &&
            (v->derive_mask & (UINT64_C(1) << claim)) == 0) {
            withhold(d, POLICY_REASON_RULE);
            return false;
        }
        d->outcome = POLICY_DERIVED;
        d->derived_count = 1;
        if (reads_ambiguous_value(req, claim)) {
            withhold(d, POLICY_REASON_SOURCE_AMBIGUOUS);
            return false;
        }
        if (!derive_value(req, claim, &d->derived[0])) {
            withhold(d, POLICY_REASON_DERIVATION_FAILED);
            return false;
        }
        return true;
    }

    if (v->effect == POLICY_DISCLOSE) {
        d->outcome = POLICY_DISCLOSED;
        d->value = json_object_get(req->values, def->name);
        if (is_ambiguous(req, claim)) {
            withhold(d, POLICY_REASON_SOURCE_AMBIGUOUS);
            return false;
        }
        if (d->value == NULL || json_is_null(d->value)) {
            withhold(d, POLICY_REASON_VALUE_MISSING);
            return false;
        }
        return true;
    }

    d->outcome = POLICY_DERIVED;
    standins = def->standins & v->derive_mask;
    for (int i = 0; i < (int)req->set->claim_count && standins != 0; i++) {
        if (!(standins & (UINT64_C(1) << i)))
            continue;
        if (reads_ambiguous_value(req, i)) {
            withhold(d, POLICY_REASON_SOURCE_AMBIGUOUS);
            return false;
        }
        if (d->derived_count == POLICY_MAX_DERIVED ||
            !derive_value(req, i, &d->derived[d->derived_count])) {
            withhold(d, POLICY_REASON_DERIVATION_FAILED);
            return false;
        }
        d->derived_count++;
    }
    if (d->derived_count == 0) {
        withhold(d, POLICY_REASON_DERIVATION_FAILED);
        return false;
    }
    return true;
}

/* Returns the rule that withholds the source of a derived claim, or NULL when the claim
 * is not derived or its source's verdict is to disclose or derive. A source that no rule
 * matches returns NULL too, so that its derived claims follow their own rules. */
static const policy_rule *source_withhold_rule(const policy_request *req, int claim)
{
    int source = req->set->claims[claim].source;
    verdict v;

    if (source < 0 || !claim_verdict(req, source, &v, NULL))
        return NULL;
    return v.effect == POLICY_WITHHOLD ? v.rule : NULL;
}

/* Withholds a derived claim under the rule that withholds its source, because a derived
 * claim is a stand-in for its source and must not leave where the source may not.
 * claim_verdict traces the claim's own winning rules as overridden. */
static void withhold_for_source(const policy_request *req, int claim,
                                const policy_rule *source_rule, policy_claim_decision *d,
                                const trace_sink *sink)
{
    trace_emit(sink, source_rule, POLICY_TRACE_WITHHOLDS_SOURCE);
    d->rule = source_rule;
    d->reason = POLICY_REASON_RULE;
    d->withheld_source = req->set->claims[req->set->claims[claim].source].name;
}

static void decide_claim(const policy_request *req, size_t index,
                         policy_claim_decision *d, const trace_sink *sink)
{
    int claim = req->claims[index];
    const policy_rule *source_rule;
    const trace_sink *claim_sink = sink;
    trace_sink own_sink;
    verdict v = {0};
    bool found;

    memset(d, 0, sizeof(*d));
    d->claim = req->claim_names[index];
    d->outcome = POLICY_WITHHELD;
    if (claim < 0) {
        d->reason = POLICY_REASON_UNKNOWN_CLAIM;
        return;
    }
    source_rule = source_withhold_rule(req, claim);
    if (sink != NULL && source_rule != NULL) {
        own_sink = *sink;
        own_sink.source_withheld = true;
        claim_sink = &own_sink;
    }
    found = claim_verdict(req, claim, &v, claim_sink);
    if (source_rule != NULL) {
        withhold_for_source(req, claim, source_rule, d, sink);
        return;
    }
    if (!found) {
        d->reason = POLICY_REASON_NO_RULE;
        return;
    }

    d->rule = v.rule;
    d->reason = POLICY_REASON_RULE;
    if (v.effect == POLICY_WITHHOLD)
        return;
    if (v.effect == POLICY_DISCLOSE_DERIVED && req->set->claims[claim].source < 0)
        admit_standins(req, claim, &v, sink);
    if (!check_conditions(req, &v, d))
        return;
    if (!release_values(req, claim, &v, d))
        return;

    /* Consent comes last: the subject is asked only for what could then be released,
     * and nothing computed above leaves the engine before that. */
    if (req->consent < v.consent) {
        d->rule = v.consent_rule;
        d->consent_needed = v.consent;
        withhold(d, POLICY_REASON_CONSENT_REQUIRED);
    }
}

static void decide_overall(policy_decision *out)
{
    size_t released = 0, pending = 0;

    out->consent_required = POLICY_CONSENT_NONE;
    for (size_t i = 0; i < out->claim_count; i++) {
        const policy_claim_decision *d = &out->claims[i];

        if (d->outcome != POLICY_WITHHELD)
            released++;
        if (d->reason == POLICY_REASON_CONSENT_REQUIRED) {
            pending++;
            if (d->consent_needed > out->consent_required)
                out->consent_required = d->consent_needed;
        }
    }
    if (pending > 0)
        out->overall = POLICY_CONSENT_PENDING;
    else if (released == out->claim_count)
        out->overall = POLICY_PERMIT;
    else if (released == 0)
        out->overall = POLICY_DENY;
    else
        out->overall = POLICY_PARTIAL;
}

int policy_evaluate_traced(const policy_request *req, policy_decision *out,
                           policy_trace_fn trace, void *ctx, policy_error *err)
{
    const policy_set *set = req->set;
    trace_sink sink = {trace, ctx, 0, POLICY_TRACE_WON, false};

    out->set = set;
    out->claim_count = 0;
    out->overall = POLICY_DENY;
    out->consent_required = POLICY_CONSENT_NONE;

    if (req->time < set->effective_from)
        return policy_fail(
            err, POLICY_E_NOT_YET, 0,
            "the decision time is before a bundle of the policy set takes effect");
    if (set->effective_until != 0 && req->time >= set->effective_until)
        return policy_fail(err, POLICY_E_EXPIRED, 0,
                           "a bundle of the policy set expired before the decision time");
    if (req->claim_count == 0 || req->claim_count > POLICY_REQUEST_MAX_CLAIMS)
        return policy_fail(err, POLICY_E_REQUEST, 0, "a request names 1 to %d claims",
                           POLICY_REQUEST_MAX_CLAIMS);

    for (size_t i = 0; i < req->claim_count; i++) {
        sink.claim_index = i;
        decide_claim(req, i, &out->claims[i], trace != NULL ? &sink : NULL);
    }
    out->claim_count = req->claim_count;
    decide_overall(out);
    return 0;
}

int policy_evaluate(const policy_request *req, policy_decision *out, policy_error *err)
{
    return policy_evaluate_traced(req, out, NULL, NULL, err);
}
