/*
 * Meaning checks for `idsvc-admin policy validate` and the node's loader: names that
 * must be declared, legal bases, rules that can never match and rules that another rule
 * always beats. Each finding carries the bundle path and line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

void policy_findings_add(policy_findings *findings, bool error, const char *path,
                         int line, const char *code, const char *format, ...)
{
    policy_finding *finding;
    va_list args;

    if (findings->count == findings->capacity) {
        size_t capacity = findings->capacity == 0 ? 16 : findings->capacity * 2;
        policy_finding *items = realloc(findings->items, capacity * sizeof(*items));

        if (items == NULL)
            return;
        findings->items = items;
        findings->capacity = capacity;
    }
    finding = &findings->items[findings->count++];
    finding->error = error;
    finding->path = path;
    finding->line = line;
    snprintf(finding->code, sizeof(finding->code), "%s", code);
    va_start(args, format);
    vsnprintf(finding->message, sizeof(finding->message), format, args);
    va_end(args);
}

void policy_findings_clear(policy_findings *findings)
{
    free(findings->items);
    memset(findings, 0, sizeof(*findings));
}

/* ---- Names
 * ----------------------------------------------------------------------------- */

static const policy_src_claim *find_claim(const policy_bundle *base, const char *name)
{
    for (size_t i = 0; i < base->claim_count; i++) {
        if (strcmp(base->claims[i].name, name) == 0)
            return &base->claims[i];
    }
    return NULL;
}

static bool has_named(const policy_src_named *items, size_t count, const char *id)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(items[i].id, id) == 0)
            return true;
    }
    return false;
}

static void check_jurisdictions(const policy_bundle *base, const policy_bundle *bundle,
                                const policy_names *names, policy_findings *out)
{
    for (size_t i = 0; i < names->count; i++) {
        if (!has_named(base->jurisdictions, base->jurisdiction_count, names->items[i]))
            policy_findings_add(out, true, bundle->path, names->lines[i],
                                "unknown_jurisdiction",
                                "jurisdiction %s is not declared in base bundle %s",
                                names->items[i], base->id);
    }
}

/* True when the claim has derived claims that can stand in for it. */
static bool has_standins(const policy_bundle *base, const char *claim)
{
    for (size_t i = 0; i < base->claim_count; i++) {
        if (base->claims[i].derived_from != NULL &&
            strcmp(base->claims[i].derived_from, claim) == 0)
            return true;
    }
    return false;
}

/* True when the rule's Match names the claim, by name or by class, or names no claim. */
static bool rule_names_claim(const policy_src_rule *rule, const policy_src_claim *claim)
{
    if (rule->claims.count == 0 && rule->class_mask == 0)
        return true;
    for (size_t i = 0; i < rule->claims.count; i++)
        if (strcmp(rule->claims.items[i], claim->name) == 0)
            return true;
    return (rule->class_mask & (1u << claim->klass)) != 0;
}

static void check_derive(const policy_bundle *base, const policy_bundle *bundle,
                         const policy_src_rule *rule, policy_findings *out)
{
    bool any_source = rule->claims.count == 0;

    for (size_t i = 0; i < rule->claims.count; i++) {
        const policy_src_claim *claim = find_claim(base, rule->claims.items[i]);

        if (claim != NULL &&
            (claim->derived_from != NULL || has_standins(base, claim->name)))
            any_source = true;
    }
    if (!any_source)
        policy_findings_add(
            out, true, bundle->path, rule->line, "no_derived_claims",
            "rule %s is disclose-derived, but none of its claims has a derived "
            "claim that can stand in for it",
            rule->id);

    for (size_t i = 0; i < rule->derive.count; i++) {
        const policy_src_claim *claim = find_claim(base, rule->derive.items[i]);

        const policy_src_claim *source;

        if (claim == NULL || claim->derived_from == NULL) {
            policy_findings_add(out, true, bundle->path, rule->derive.lines[i],
                                "unknown_derived_claim",
                                "rule %s derives %s, which is not a derived claim of the "
                                "catalogue",
                                rule->id, rule->derive.items[i]);
            continue;
        }
        /* The rule releases a derived claim only where it applies: to the claim itself
         * or to the claim it is derived from. */
        source = find_claim(base, claim->derived_from);
        if (!rule_names_claim(rule, claim) &&
            (source == NULL || !rule_names_claim(rule, source)))
            policy_findings_add(out, true, bundle->path, rule->derive.lines[i],
                                "derive_unreachable",
                                "rule %s derives %s, but it applies neither to %s nor to "
                                "%s, the claim it is derived from, so it can never release it",
                                rule->id, claim->name, claim->name, claim->derived_from);
    }
}

static void check_rule_names(const policy_bundle *base, const policy_bundle *bundle,
                             const policy_src_rule *rule, policy_findings *out)
{
    if (rule->basis_count == 0)
        policy_findings_add(
            out, true, bundle->path, rule->line, "missing_legal_basis",
            "rule %s has no LegalBasis; cite the instrument and provision, and "
            "say in a Note what is uncertain",
            rule->id);

    check_jurisdictions(base, bundle, &rule->subjects, out);
    check_jurisdictions(base, bundle, &rule->relying_parties, out);
    for (size_t i = 0; i < rule->purposes.count; i++) {
        if (!has_named(base->purposes, base->purpose_count, rule->purposes.items[i]))
            policy_findings_add(out, true, bundle->path, rule->purposes.lines[i],
                                "unknown_purpose",
                                "purpose %s is not declared in base bundle %s",
                                rule->purposes.items[i], base->id);
    }
    for (size_t i = 0; i < rule->claims.count; i++) {
        if (find_claim(base, rule->claims.items[i]) == NULL)
            policy_findings_add(out, true, bundle->path, rule->claims.lines[i],
                                "unknown_claim",
                                "claim %s is not in the claims catalogue of %s",
                                rule->claims.items[i], base->id);
    }
    if (rule->effect == POLICY_DISCLOSE_DERIVED)
        check_derive(base, bundle, rule, out);
    else if (rule->derive.count > 0)
        policy_findings_add(out, false, bundle->path, rule->line, "derive_ignored",
                            "rule %s lists derived claims but its effect is %s", rule->id,
                            policy_effect_name(rule->effect));
}

static void check_ids(policy_bundle *const *bundles, size_t count, policy_findings *out)
{
    for (size_t b = 0; b < count; b++) {
        for (size_t r = 0; r < bundles[b]->rule_count; r++) {
            const policy_src_rule *rule = &bundles[b]->rules[r];

            for (size_t b2 = 0; b2 <= b; b2++) {
                size_t end = b2 == b ? r : bundles[b2]->rule_count;

                for (size_t r2 = 0; r2 < end; r2++) {
                    if (strcmp(bundles[b2]->rules[r2].id, rule->id) == 0)
                        policy_findings_add(
                            out, true, bundles[b]->path, rule->line, "duplicate_rule_id",
                            "rule id %s is already used at %s:%d", rule->id,
                            bundles[b2]->path, bundles[b2]->rules[r2].line);
                }
            }
        }
    }
}

/* Reports a name that the base declares twice, with the code given, such as
 * duplicate_claim. ids and lines hold the declared names and their lines. */
static void check_declared_once(const policy_bundle *base, const char *const *ids,
                                const int *lines, size_t count, const char *what,
                                const char *code, policy_findings *out)
{
    for (size_t i = 0; i < count; i++) {
        for (size_t k = 0; k < i; k++) {
            if (strcmp(ids[k], ids[i]) != 0)
                continue;
            policy_findings_add(out, true, base->path, lines[i], code,
                                "%s %s is declared twice, first at line %d", what, ids[i],
                                lines[k]);
            break;
        }
    }
}

/* Reports claims, jurisdictions and purposes that the base declares twice. */
static void check_declarations(const policy_bundle *base, policy_findings *out)
{
    size_t capacity = base->claim_count;
    const char **ids;
    int *lines;

    capacity = base->jurisdiction_count > capacity ? base->jurisdiction_count : capacity;
    capacity = base->purpose_count > capacity ? base->purpose_count : capacity;
    ids = calloc(capacity + 1, sizeof(*ids));
    lines = calloc(capacity + 1, sizeof(*lines));
    if (ids != NULL && lines != NULL) {
        for (size_t i = 0; i < base->claim_count; i++) {
            ids[i] = base->claims[i].name;
            lines[i] = base->claims[i].line;
        }
        check_declared_once(base, ids, lines, base->claim_count, "claim",
                            "duplicate_claim", out);
        for (size_t i = 0; i < base->jurisdiction_count; i++) {
            ids[i] = base->jurisdictions[i].id;
            lines[i] = base->jurisdictions[i].line;
        }
        check_declared_once(base, ids, lines, base->jurisdiction_count, "jurisdiction",
                            "duplicate_jurisdiction", out);
        for (size_t i = 0; i < base->purpose_count; i++) {
            ids[i] = base->purposes[i].id;
            lines[i] = base->purposes[i].line;
        }
        check_declared_once(base, ids, lines, base->purpose_count, "purpose",
                            "duplicate_purpose", out);
    }
    free(ids);
    free(lines);
}

/* Reports a claim with more derived claims than a decision can carry for it, because a
 * disclose-derived rule that releases all of them would always fail. */
static void check_standin_counts(const policy_bundle *base, policy_findings *out)
{
    for (size_t i = 0; i < base->claim_count; i++) {
        const policy_src_claim *claim = &base->claims[i];
        size_t count = 0;

        for (size_t k = 0; k < base->claim_count; k++) {
            if (base->claims[k].derived_from != NULL &&
                strcmp(base->claims[k].derived_from, claim->name) == 0)
                count++;
        }
        if (count > POLICY_MAX_DERIVED)
            policy_findings_add(out, true, base->path, claim->line,
                                "too_many_derived_claims",
                                "claim %s has %zu derived claims, but a decision carries at "
                                "most %d derived values for one claim",
                                claim->name, count, POLICY_MAX_DERIVED);
    }
}

/* Reports a bundle whose ID another bundle of the set has too. A decision names its
 * bundles by ID, and a node records the highest version it loaded of each ID, so two
 * bundles of one ID would make both ambiguous. */
static void check_bundle_ids(policy_bundle *const *bundles, size_t count,
                             policy_findings *out)
{
    for (size_t b = 0; b < count; b++) {
        for (size_t b2 = 0; b2 < b; b2++) {
            if (strcmp(bundles[b2]->id, bundles[b]->id) != 0)
                continue;
            policy_findings_add(out, true, bundles[b]->path, 0, "duplicate_bundle_id",
                                "bundle ID %s is already the ID of %s; give each bundle "
                                "of a set its own ID",
                                bundles[b]->id, bundles[b2]->path);
            break;
        }
    }
}

/* ---- Rules that can never match or never win -----------------------------------------
 */

static bool is_subset32(uint32_t a, uint32_t b)
{
    return (a & ~b) == 0;
}

static bool is_subset64(uint64_t a, uint64_t b)
{
    return (a & ~b) == 0;
}

/* The catalogue indexes a rule can match, as a mask. */
static uint64_t rule_claims(const policy_set *set, const policy_rule *rule)
{
    uint64_t mask = 0;

    for (size_t c = 0; c < set->claim_count; c++) {
        if (rule->claim_any || (rule->claim_mask & (UINT64_C(1) << c)) ||
            (rule->class_mask & (1u << set->claims[c].klass)))
            mask |= UINT64_C(1) << c;
    }
    return mask;
}

static bool scope_covers(policy_scope outer, policy_scope inner)
{
    return outer == POLICY_SCOPE_ANY || outer == inner;
}

/* True when every request that inner matches, outer matches too. */
static bool rule_covers(const policy_set *set, const policy_rule *outer,
                        const policy_rule *inner)
{
    return is_subset32(inner->subject_mask, outer->subject_mask) &&
           is_subset32(inner->rp_mask, outer->rp_mask) &&
           is_subset64(inner->purpose_mask, outer->purpose_mask) &&
           scope_covers(outer->scope, inner->scope) &&
           is_subset64(rule_claims(set, inner), rule_claims(set, outer));
}

static bool never_matches(const policy_set *set, const policy_rule *rule,
                          const char **reason)
{
    uint32_t subjects = rule->subject_mask;
    uint32_t rps = rule->rp_mask & ((1u << POLICY_MAX_JURISDICTIONS) - 1);
    int residency = set->bundles[rule->bundle].jurisdiction;

    if (rule_claims(set, rule) == 0) {
        *reason = "no claim of the catalogue is in its claim classes";
        return true;
    }
    if (rule->scope == POLICY_SCOPE_DOMESTIC && (subjects & rule->rp_mask) == 0) {
        *reason = "it is domestic, but no jurisdiction is both a subject and a relying "
                  "party one";
        return true;
    }
    if (rule->scope == POLICY_SCOPE_CROSS_BORDER && subjects == rps &&
        (subjects & (subjects - 1)) == 0 &&
        !(rule->rp_mask & (1u << POLICY_OTHER_JURISDICTION))) {
        *reason = "it is cross-border, but its subject and relying party are the same "
                  "jurisdiction";
        return true;
    }
    if (residency >= 0 && !(subjects & (1u << residency)) &&
        !(rule->rp_mask & (1u << residency))) {
        *reason = "its residency bundle applies only when the subject or the relying "
                  "party is in "
                  "its jurisdiction, which the rule excludes";
        return true;
    }
    return false;
}

void policy_check_reach(const policy_set *set, policy_bundle *const *bundles,
                        policy_findings *out)
{
    for (size_t i = 0; i < set->rule_count; i++) {
        const policy_rule *rule = &set->rules[i];
        const char *path = bundles[rule->bundle]->path;
        const char *reason = NULL;

        if (never_matches(set, rule, &reason)) {
            policy_findings_add(out, false, path, rule->line, "never_matches",
                                "rule %s can never match: %s", rule->id, reason);
            continue;
        }
        for (size_t k = 0; k < set->rule_count; k++) {
            const policy_rule *other = &set->rules[k];

            if (k == i || other->bundle != rule->bundle || !rule_covers(set, other, rule))
                continue;
            if (other->specificity > rule->specificity ||
                (other->specificity == rule->specificity &&
                 other->effect > rule->effect)) {
                policy_findings_add(
                    out, false, path, rule->line, "shadowed",
                    "rule %s never wins: rule %s (line %d) matches every request "
                    "it matches and takes precedence",
                    rule->id, other->id, other->line);
                break;
            }
        }
    }
}

int policy_check_names(policy_bundle *const *bundles, size_t count, policy_findings *out)
{
    const policy_bundle *base = NULL;
    size_t errors_before = out->count;

    for (size_t i = 0; i < count; i++) {
        if (bundles[i]->kind == POLICY_BUNDLE_BASE)
            base = base == NULL ? bundles[i] : base;
    }
    if (base == NULL) {
        policy_findings_add(
            out, true, count > 0 ? bundles[0]->path : "", 0, "no_base_bundle",
            "no base bundle given; pass the base bundle too so that names can "
            "be checked");
        return -1;
    }

    check_bundle_ids(bundles, count, out);
    check_declarations(base, out);
    check_standin_counts(base, out);
    check_ids(bundles, count, out);
    for (size_t b = 0; b < count; b++) {
        for (size_t r = 0; r < bundles[b]->rule_count; r++)
            check_rule_names(base, bundles[b], &bundles[b]->rules[r], out);
    }
    for (size_t i = errors_before; i < out->count; i++) {
        if (out->items[i].error)
            return -1;
    }
    return 0;
}

int policy_check_bundles(policy_bundle *const *bundles, size_t count,
                         policy_findings *out)
{
    policy_set *set = NULL;
    policy_error err = {0};

    if (policy_check_names(bundles, count, out) != 0)
        return -1; /* the set cannot compile, so the reach checks cannot run */

    if (policy_set_compile(bundles, count, &set, &err) != 0) {
        policy_findings_add(out, true, "", err.line, policy_error_name(err.code), "%s",
                            err.message);
        return -1;
    }
    policy_check_reach(set, bundles, out);
    policy_set_release(&set);
    return 0;
}
