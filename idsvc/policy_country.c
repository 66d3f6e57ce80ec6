/* Checks that every jurisdiction a policy bundle names is an officially assigned
 * ISO 3166-1 alpha-2 code (iso3166.c). */
#include "iso3166.h"
#include "policy_internal.h"

static int fail_unassigned(const char *code, int line, policy_error *err)
{
    return policy_fail(
        err, POLICY_E_SCHEMA, line,
        "line %d: jurisdiction %s is not an officially assigned ISO 3166-1 "
        "alpha-2 code. Use the code that ISO assigns, such as GB for the "
        "United Kingdom",
        line, code);
}

static int check_names(const policy_names *names, policy_error *err)
{
    for (size_t i = 0; i < names->count; i++) {
        if (!iso3166_is_assigned(names->items[i]))
            return fail_unassigned(names->items[i], names->lines[i], err);
    }
    return 0;
}

int policy_bundle_check_countries(const policy_bundle *bundle, int root_line,
                                  policy_error *err)
{
    if (bundle->kind == POLICY_BUNDLE_RESIDENCY &&
        !iso3166_is_assigned(bundle->jurisdiction))
        return fail_unassigned(bundle->jurisdiction, root_line, err);
    for (size_t i = 0; i < bundle->jurisdiction_count; i++) {
        const policy_src_named *item = &bundle->jurisdictions[i];

        if (!iso3166_is_assigned(item->id))
            return fail_unassigned(item->id, item->line, err);
    }
    for (size_t i = 0; i < bundle->rule_count; i++) {
        const policy_src_rule *rule = &bundle->rules[i];

        if (check_names(&rule->subjects, err) != 0 ||
            check_names(&rule->relying_parties, err) != 0)
            return -1;
    }
    return 0;
}
