/*
 * Compiling bundles into a policy set: names become indexes and bit masks, and every
 * (bundle, claim, subject jurisdiction) gets the list of rules that can match it, in
 * precedence order. Evaluation then only walks one short list per claim and bundle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

#define ALL_JURISDICTIONS ((1u << (POLICY_OTHER_JURISDICTION + 1)) - 1)

static const policy_bundle *find_base(policy_bundle *const *bundles, size_t count,
                                      policy_error *err)
{
    const policy_bundle *base = NULL;

    for (size_t i = 0; i < count; i++) {
        if (bundles[i]->kind != POLICY_BUNDLE_BASE)
            continue;
        if (base != NULL) {
            policy_fail(err, POLICY_E_SET, 0,
                        "%s and %s are both base bundles; a set has one", base->path,
                        bundles[i]->path);
            return NULL;
        }
        base = bundles[i];
    }
    if (base == NULL)
        policy_fail(err, POLICY_E_SET, 0, "no base bundle among the %zu bundles given",
                    count);
    return base;
}

int policy_set_find_jurisdiction(const policy_set *set, const char *code)
{
    for (size_t i = 0; i < set->jurisdiction_count; i++) {
        if (strcmp(set->jurisdictions[i], code) == 0)
            return (int)i;
    }
    return -1;
}

int policy_set_find_purpose(const policy_set *set, const char *id)
{
    for (size_t i = 0; i < set->purpose_count; i++) {
        if (strcmp(set->purposes[i], id) == 0)
            return (int)i;
    }
    return -1;
}

int policy_set_find_claim(const policy_set *set, const char *name)
{
    for (size_t i = 0; i < set->claim_count; i++) {
        if (strcmp(set->claims[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

static int compile_catalogue(policy_set *set, const policy_bundle *base,
                             policy_error *err)
{
    if (base->jurisdiction_count > POLICY_MAX_JURISDICTIONS)
        return policy_fail(err, POLICY_E_SEMANTIC, 0, "%s: more than %d jurisdictions",
                           base->path, POLICY_MAX_JURISDICTIONS);
    if (base->claim_count > POLICY_MAX_CLAIMS)
        return policy_fail(err, POLICY_E_SEMANTIC, 0, "%s: more than %d claims",
                           base->path, POLICY_MAX_CLAIMS);

    for (size_t i = 0; i < base->jurisdiction_count; i++) {
        if (policy_set_find_jurisdiction(set, base->jurisdictions[i].id) >= 0)
            return policy_fail(err, POLICY_E_SEMANTIC, base->jurisdictions[i].line,
                               "%s:%d: jurisdiction %s is declared twice", base->path,
                               base->jurisdictions[i].line, base->jurisdictions[i].id);
        snprintf(set->jurisdictions[i], 3, "%s", base->jurisdictions[i].id);
        set->jurisdiction_count++;
    }

    set->purposes = calloc(base->purpose_count, sizeof(*set->purposes));
    if (set->purposes == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                           "out of memory compiling purposes");
    for (size_t i = 0; i < base->purpose_count; i++) {
        if (policy_set_find_purpose(set, base->purposes[i].id) >= 0)
            return policy_fail(err, POLICY_E_SEMANTIC, base->purposes[i].line,
                               "%s:%d: purpose %s is declared twice", base->path,
                               base->purposes[i].line, base->purposes[i].id);
        set->purposes[i] = strdup(base->purposes[i].id);
        if (set->purposes[i] == NULL)
            return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                               "out of memory compiling purposes");
        set->purpose_count++;
    }

    set->claims = calloc(base->claim_count, sizeof(*set->claims));
    if (set->claims == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory compiling claims");
    for (size_t i = 0; i < base->claim_count; i++) {
        const policy_src_claim *src = &base->claims[i];

        if (policy_set_find_claim(set, src->name) >= 0)
            return policy_fail(err, POLICY_E_SEMANTIC, src->line,
                               "%s:%d: claim %s is declared twice", base->path, src->line,
                               src->name);
        set->claims[i].name = strdup(src->name);
        if (set->claims[i].name == NULL)
            return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                               "out of memory compiling claims");
        set->claims[i].klass = src->klass;
        set->claims[i].derivation = src->derivation;
        set->claims[i].years = src->years;
        set->claims[i].source = -1;
        set->claim_count++;
    }
    return 0;
}

/* Links each derived claim to its source claim, once every claim has an index. */
static int compile_derivations(policy_set *set, const policy_bundle *base,
                               policy_error *err)
{
    for (size_t i = 0; i < base->claim_count; i++) {
        const policy_src_claim *src = &base->claims[i];
        policy_claim_def *claim = &set->claims[i];
        int source;

        if (src->derived_from == NULL) {
            if (src->derivation != POLICY_DERIVE_NONE ||
                src->klass == POLICY_CLASS_DERIVED)
                return policy_fail(
                    err, POLICY_E_SEMANTIC, src->line,
                    "%s:%d: claim %s has a derivation or the class derived but "
                    "no derivedFrom",
                    base->path, src->line, src->name);
            continue;
        }
        source = policy_set_find_claim(set, src->derived_from);
        if (source < 0 || set->claims[source].source >= 0 ||
            base->claims[source].derived_from)
            return policy_fail(
                err, POLICY_E_SEMANTIC, src->line,
                "%s:%d: claim %s derives from %s, which is not a claim the "
                "credential carries",
                base->path, src->line, src->name, src->derived_from);
        if (src->derivation == POLICY_DERIVE_NONE ||
            (src->derivation == POLICY_DERIVE_AGE_OVER && src->years <= 0))
            return policy_fail(
                err, POLICY_E_SEMANTIC, src->line,
                "%s:%d: derived claim %s needs a derivation (and years for "
                "age-over)",
                base->path, src->line, src->name);
        claim->source = source;
        set->claims[source].standins |= UINT64_C(1) << i;
    }
    return 0;
}

static int mask_jurisdictions(const policy_set *set, const policy_bundle *bundle,
                              const policy_names *names, uint32_t *mask,
                              policy_error *err)
{
    *mask = names->count == 0 ? ALL_JURISDICTIONS : 0;
    for (size_t i = 0; i < names->count; i++) {
        int j = policy_set_find_jurisdiction(set, names->items[i]);

        if (j < 0)
            return policy_fail(
                err, POLICY_E_SEMANTIC, names->lines[i],
                "%s:%d: jurisdiction %s is not declared in the base bundle", bundle->path,
                names->lines[i], names->items[i]);
        *mask |= 1u << j;
    }
    return 0;
}

static int mask_claims(const policy_set *set, const policy_bundle *bundle,
                       const policy_names *names, uint64_t *mask, policy_error *err)
{
    *mask = 0;
    for (size_t i = 0; i < names->count; i++) {
        int c = policy_set_find_claim(set, names->items[i]);

        if (c < 0)
            return policy_fail(err, POLICY_E_SEMANTIC, names->lines[i],
                               "%s:%d: claim %s is not in the claims catalogue",
                               bundle->path, names->lines[i], names->items[i]);
        *mask |= UINT64_C(1) << c;
    }
    return 0;
}

/* Specificity: the documented score of docs/policy-language.md, "Conflicts". */
static int rule_specificity(const policy_src_rule *src)
{
    int score = 0;

    score += src->subjects.count > 0 ? 1 : 0;
    if (src->relying_parties.count > 0)
        score += 2;
    else if (src->scope != POLICY_SCOPE_ANY)
        score += 1;
    score += src->purposes.count > 0 ? 1 : 0;
    if (src->claims.count > 0)
        score += 2;
    else if (src->class_mask != 0)
        score += 1;
    return score;
}

static char *join_legal_basis(const policy_src_rule *src)
{
    size_t len = 1;
    char *text;

    for (size_t i = 0; i < src->basis_count; i++)
        len += strlen(src->bases[i].instrument) + strlen(src->bases[i].provision) + 4;
    text = calloc(1, len);
    if (text == NULL)
        return NULL;
    for (size_t i = 0; i < src->basis_count; i++) {
        if (i > 0)
            strcat(text, "; ");
        strcat(text, src->bases[i].instrument);
        strcat(text, ", ");
        strcat(text, src->bases[i].provision);
    }
    return text;
}

static int compile_masks(const policy_set *set, const policy_bundle *bundle,
                         const policy_src_rule *src, policy_rule *rule, policy_error *err)
{
    uint32_t subjects;

    if (mask_jurisdictions(set, bundle, &src->subjects, &subjects, err) != 0 ||
        mask_jurisdictions(set, bundle, &src->relying_parties, &rule->rp_mask, err) !=
            0 ||
        mask_claims(set, bundle, &src->claims, &rule->claim_mask, err) != 0 ||
        mask_claims(set, bundle, &src->derive, &rule->derive_mask, err) != 0)
        return -1;
    rule->subject_mask = subjects & ~(1u << POLICY_OTHER_JURISDICTION);
    if (src->derive.count == 0)
        rule->derive_mask = UINT64_MAX;

    rule->purpose_mask = src->purposes.count == 0 ? UINT64_MAX : 0;
    for (size_t i = 0; i < src->purposes.count; i++) {
        int p = policy_set_find_purpose(set, src->purposes.items[i]);

        if (p < 0)
            return policy_fail(err, POLICY_E_SEMANTIC, src->purposes.lines[i],
                               "%s:%d: purpose %s is not declared in the base bundle",
                               bundle->path, src->purposes.lines[i],
                               src->purposes.items[i]);
        rule->purpose_mask |= UINT64_C(1) << p;
    }
    rule->claim_any = src->claims.count == 0 && src->class_mask == 0;
    rule->class_mask = src->class_mask;
    return 0;
}

static int compile_rule(policy_set *set, int bundle_index, const policy_bundle *bundle,
                        const policy_src_rule *src, policy_rule *rule, policy_error *err)
{
    rule->bundle = bundle_index;
    rule->bundle_id = set->bundles[bundle_index].id;
    rule->line = src->line;
    rule->scope = src->scope;
    rule->effect = src->effect;
    rule->consent = src->consent;
    rule->mechanisms = src->mechanisms;
    rule->min_assurance =
        src->has_min_assurance ? src->min_assurance : POLICY_ASSURANCE_LOW;
    rule->max_retention = src->max_retention;
    rule->specificity = rule_specificity(src);

    if (src->basis_count == 0)
        return policy_fail(err, POLICY_E_SEMANTIC, src->line,
                           "%s:%d: rule %s has no LegalBasis", bundle->path, src->line,
                           src->id);
    if (compile_masks(set, bundle, src, rule, err) != 0)
        return -1;

    rule->id = strdup(src->id);
    rule->summary = strdup(src->summary != NULL ? src->summary : "");
    rule->note = src->note != NULL ? strdup(src->note) : NULL;
    rule->legal_basis = join_legal_basis(src);
    if (rule->id == NULL || rule->summary == NULL || rule->legal_basis == NULL ||
        (src->note != NULL && rule->note == NULL))
        return policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory compiling rules");
    return 0;
}

static bool rule_matches_claim(const policy_set *set, const policy_rule *rule, int claim)
{
    if (rule->claim_any)
        return true;
    if (rule->claim_mask & (UINT64_C(1) << claim))
        return true;
    return (rule->class_mask & (1u << set->claims[claim].klass)) != 0;
}

/* Precedence inside one bundle: more specific first, then the stronger effect, then the
 * rule id, so that the order never depends on the file. */
static int compare_precedence(const void *a, const void *b)
{
    const policy_rule *left = *(const policy_rule *const *)a;
    const policy_rule *right = *(const policy_rule *const *)b;

    if (left->specificity != right->specificity)
        return right->specificity - left->specificity;
    if (left->effect != right->effect)
        return (int)right->effect - (int)left->effect;
    return strcmp(left->id, right->id);
}

static int build_index(policy_set *set, policy_error *err)
{
    size_t slots = set->bundle_count * set->claim_count * POLICY_MAX_JURISDICTIONS;

    set->index = calloc(slots, sizeof(*set->index));
    if (set->index == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                           "out of memory building the rule index");

    for (size_t b = 0; b < set->bundle_count; b++) {
        for (size_t c = 0; c < set->claim_count; c++) {
            for (size_t s = 0; s < set->jurisdiction_count; s++) {
                policy_rule_list *list = (policy_rule_list *)policy_set_candidates(
                    set, (int)b, (int)c, (int)s);

                for (size_t r = 0; r < set->rule_count; r++) {
                    const policy_rule *rule = &set->rules[r];

                    if (rule->bundle != (int)b || !(rule->subject_mask & (1u << s)) ||
                        !rule_matches_claim(set, rule, (int)c))
                        continue;
                    if (list->rules == NULL) {
                        list->rules = calloc(set->rule_count, sizeof(*list->rules));
                        if (list->rules == NULL)
                            return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                                               "out of memory building the rule index");
                    }
                    list->rules[list->count++] = rule;
                }
                if (list->count > 1)
                    qsort(list->rules, list->count, sizeof(*list->rules),
                          compare_precedence);
            }
        }
    }
    return 0;
}

static int add_bundle(policy_set *set, const policy_bundle *bundle,
                      const policy_bundle *base, policy_error *err)
{
    policy_set_bundle *entry = &set->bundles[set->bundle_count];

    entry->id = strdup(bundle->id);
    if (entry->id == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory compiling the set");
    entry->version = bundle->version;
    memcpy(entry->digest, bundle->digest, sizeof(entry->digest));
    entry->kind = bundle->kind;
    entry->effective_from = bundle->effective_from;
    entry->effective_until = bundle->effective_until;
    entry->jurisdiction = -1;
    set->bundle_count++;

    if (bundle->kind == POLICY_BUNDLE_RESIDENCY) {
        int j = policy_set_find_jurisdiction(set, bundle->jurisdiction);

        if (strcmp(bundle->base_id, base->id) != 0)
            return policy_fail(err, POLICY_E_SET, 0,
                               "%s extends base %s, but the base is %s", bundle->path,
                               bundle->base_id, base->id);
        if (j < 0)
            return policy_fail(
                err, POLICY_E_SET, 0,
                "%s governs jurisdiction %s, which the base does not declare",
                bundle->path, bundle->jurisdiction);
        if (set->residency_of[j] >= 0)
            return policy_fail(err, POLICY_E_SET, 0,
                               "%s is a second residency bundle for %s; a set has one",
                               bundle->path, bundle->jurisdiction);
        set->residency_of[j] = (int)set->bundle_count - 1;
        entry->jurisdiction = j;
    }
    for (size_t i = 0; i + 1 < set->bundle_count; i++) {
        if (strcmp(set->bundles[i].id, bundle->id) == 0)
            return policy_fail(err, POLICY_E_SET, 0,
                               "%s has the bundle ID %s of another bundle of the set",
                               bundle->path, bundle->id);
    }

    if (bundle->effective_from > set->effective_from)
        set->effective_from = bundle->effective_from;
    if (bundle->effective_until != 0 &&
        (set->effective_until == 0 || bundle->effective_until < set->effective_until))
        set->effective_until = bundle->effective_until;
    return 0;
}

static int compile_rules(policy_set *set, policy_bundle *const *bundles, size_t count,
                         policy_error *err)
{
    size_t total = 0;

    for (size_t i = 0; i < count; i++)
        total += bundles[i]->rule_count;
    set->rules = calloc(total + 1, sizeof(*set->rules));
    if (set->rules == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory compiling rules");

    for (size_t b = 0; b < count; b++) {
        for (size_t r = 0; r < bundles[b]->rule_count; r++) {
            const policy_src_rule *src = &bundles[b]->rules[r];

            for (size_t k = 0; k < set->rule_count; k++) {
                if (strcmp(set->rules[k].id, src->id) == 0)
                    return policy_fail(err, POLICY_E_SEMANTIC, src->line,
                                       "%s:%d: rule id %s is used twice in the set",
                                       bundles[b]->path, src->line, src->id);
            }
            set->rule_count++;
            if (compile_rule(set, (int)b, bundles[b], src,
                             &set->rules[set->rule_count - 1], err) != 0)
                return -1;
        }
    }
    return 0;
}

int policy_set_compile(policy_bundle *const *bundles, size_t count, policy_set **out,
                       policy_error *err)
{
    const policy_bundle *base;
    policy_set *set = NULL;
    int rc = -1;

    *out = NULL;
    base = find_base(bundles, count, err);
    if (base == NULL)
        return -1;

    set = calloc(1, sizeof(*set));
    if (set == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory compiling the set");
    atomic_init(&set->refcount, 1);
    for (int j = 0; j < POLICY_MAX_JURISDICTIONS; j++)
        set->residency_of[j] = -1;
    set->bundles = calloc(count, sizeof(*set->bundles));
    if (set->bundles == NULL) {
        policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory compiling the set");
        goto out;
    }

    if (compile_catalogue(set, base, err) != 0 ||
        compile_derivations(set, base, err) != 0)
        goto out;
    for (size_t i = 0; i < count; i++) {
        if (add_bundle(set, bundles[i], base, err) != 0)
            goto out;
    }
    if (compile_rules(set, bundles, count, err) != 0 || build_index(set, err) != 0)
        goto out;

    *out = set; /* ownership passes to the caller */
    set = NULL;
    rc = 0;

out:
    policy_set_release(&set);
    return rc;
}

policy_set *policy_set_ref(policy_set *set)
{
    if (set != NULL)
        atomic_fetch_add(&set->refcount, 1);
    return set;
}

static void set_free(policy_set *set)
{
    size_t slots = set->bundle_count * set->claim_count * POLICY_MAX_JURISDICTIONS;

    if (set->index != NULL) {
        for (size_t i = 0; i < slots; i++)
            free(set->index[i].rules);
    }
    free(set->index);
    for (size_t i = 0; i < set->rule_count; i++) {
        free(set->rules[i].id);
        free(set->rules[i].legal_basis);
        free(set->rules[i].summary);
        free(set->rules[i].note);
    }
    free(set->rules);
    for (size_t i = 0; i < set->claim_count; i++)
        free(set->claims[i].name);
    free(set->claims);
    for (size_t i = 0; i < set->purpose_count; i++)
        free(set->purposes[i]);
    free(set->purposes);
    for (size_t i = 0; i < set->bundle_count; i++)
        free(set->bundles[i].id);
    free(set->bundles);
    free(set);
}

void policy_set_release(policy_set **set_ptr)
{
    policy_set *set = set_ptr != NULL ? *set_ptr : NULL;

    if (set == NULL)
        return;
    *set_ptr = NULL;
    if (atomic_fetch_sub(&set->refcount, 1) == 1)
        set_free(set);
}

size_t policy_set_bundle_count(const policy_set *set)
{
    return set->bundle_count;
}

const char *policy_set_bundle_id(const policy_set *set, size_t i)
{
    return set->bundles[i].id;
}

long policy_set_bundle_version(const policy_set *set, size_t i)
{
    return set->bundles[i].version;
}

const char *policy_set_bundle_digest(const policy_set *set, size_t i)
{
    return set->bundles[i].digest;
}

time_t policy_set_expires(const policy_set *set)
{
    return set->effective_until;
}

const char *policy_rule_id(const policy_rule *rule)
{
    return rule->id;
}

const char *policy_rule_bundle(const policy_rule *rule)
{
    return rule->bundle_id;
}

const char *policy_rule_summary(const policy_rule *rule)
{
    return rule->summary;
}

const char *policy_rule_legal_basis(const policy_rule *rule)
{
    return rule->legal_basis;
}

int policy_rule_line(const policy_rule *rule)
{
    return rule->line;
}
