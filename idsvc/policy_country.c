/*
 * Jurisdiction codes: the officially assigned ISO 3166-1 alpha-2 codes, which the
 * jurisdictions of policy bundles and of [regulator] signs lines must be.
 */
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

/*
 * The 249 officially assigned ISO 3166-1 alpha-2 codes as of 2023-04-05 (ISO/TC 46
 * N1108, the revision that the iso3166.tab file of tzdata 2025b names), sorted for
 * bsearch. Debian's iso-codes 4.15.0 (iso_3166-1.json) lists the same 249 codes.
 * Exceptionally reserved codes such as UK and EU, and user-assigned ones such as XX and
 * AA, are not assigned, so they are not here. Each row starts a new first letter.
 */
/* clang-format off */
static const char ASSIGNED[][3] = {
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW",
    "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ",
    "BR", "BS", "BT", "BV", "BW", "BY", "BZ",
    "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU",
    "CV", "CW", "CX", "CY", "CZ",
    "DE", "DJ", "DK", "DM", "DO", "DZ",
    "EC", "EE", "EG", "EH", "ER", "ES", "ET",
    "FI", "FJ", "FK", "FM", "FO", "FR",
    "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR",
    "GS", "GT", "GU", "GW", "GY",
    "HK", "HM", "HN", "HR", "HT", "HU",
    "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT",
    "JE", "JM", "JO", "JP",
    "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ",
    "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY",
    "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ",
    "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ",
    "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ",
    "OM",
    "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY",
    "QA",
    "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO",
    "SR", "SS", "ST", "SV", "SX", "SY", "SZ",
    "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV",
    "TW", "TZ",
    "UA", "UG", "UM", "US", "UY", "UZ",
    "VA", "VC", "VE", "VG", "VI", "VN", "VU",
    "WF", "WS",
    "YE", "YT",
    "ZA", "ZM", "ZW",
};
/* clang-format on */

static int compare_code(const void *key, const void *item)
{
    return strcmp(key, item);
}

bool policy_country_is_assigned(const char *code)
{
    if (code == NULL || strlen(code) != 2)
        return false;
    return bsearch(code, ASSIGNED, sizeof(ASSIGNED) / sizeof(ASSIGNED[0]),
                   sizeof(ASSIGNED[0]), compare_code) != NULL;
}

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
        if (!policy_country_is_assigned(names->items[i]))
            return fail_unassigned(names->items[i], names->lines[i], err);
    }
    return 0;
}

int policy_bundle_check_countries(const policy_bundle *bundle, int root_line,
                                  policy_error *err)
{
    if (bundle->kind == POLICY_BUNDLE_RESIDENCY &&
        !policy_country_is_assigned(bundle->jurisdiction))
        return fail_unassigned(bundle->jurisdiction, root_line, err);
    for (size_t i = 0; i < bundle->jurisdiction_count; i++) {
        const policy_src_named *item = &bundle->jurisdictions[i];

        if (!policy_country_is_assigned(item->id))
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
