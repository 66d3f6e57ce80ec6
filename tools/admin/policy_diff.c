/* idsvc-admin policy diff: what changed, rule by rule, and which requests change outcome.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "number_arg.h"
#include "policy_cmd.h"

/* The largest --limit: a count that size_t holds on every platform. */
#define DIFF_LIMIT_MAX UINT32_MAX

static void print_help(FILE *out)
{
    fputs("usage: idsvc-admin policy diff [--json] [--at TIME] [--limit N] OLD NEW\n"
          "\n"
          "OLD and NEW are each a bundle or a folder of bundles. Lists the rules added,\n"
          "removed and changed (field by field), then decides a grid of requests under "
          "both\n"
          "(every subject and relying party jurisdiction, purpose and claim, once with "
          "all\n"
          "conditions met and once with none) and lists the kinds of request whose "
          "decision\n"
          "changes.\n"
          "\n"
          "  --json      print the result as JSON\n"
          "  --at TIME   decision time of the grid (default: the later effectiveFrom)\n"
          "  --limit N   print at most N changed requests in the table (default 200)\n"
          "\n"
          "Exit status: 0 when nothing changed, 1 when something did, 2 for a usage "
          "error.\n",
          out);
}

/* ---- Rule by rule
 * ---------------------------------------------------------------------- */

static void join_names(const policy_names *names, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < names->count; i++)
        used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s",
                                 i > 0 ? " " : "", names->items[i]);
    if (names->count == 0)
        snprintf(buf, size, "any");
}

/* Describes one field of a rule as text, so that two versions compare as strings. */
static void describe_field(const policy_src_rule *rule, int field, char *buf, size_t size)
{
    size_t used = 0;

    switch (field) {
    case 0:
        join_names(&rule->subjects, buf, size);
        break;
    case 1:
        join_names(&rule->relying_parties, buf, size);
        break;
    case 2:
        snprintf(buf, size, "%s", policy_scope_name(rule->scope));
        break;
    case 3:
        join_names(&rule->purposes, buf, size);
        break;
    case 4:
        join_names(&rule->claims, buf, size);
        for (int c = 0; c < POLICY_CLASS_COUNT && rule->claims.count == 0; c++) {
            if (rule->class_mask & (1u << c))
                used += (size_t)snprintf(buf + used, size - used, "%sclass:%s",
                                         used > 0 ? " " : "",
                                         policy_class_name((policy_class)c));
        }
        break;
    case 5: {
        char derive[200];

        join_names(&rule->derive, derive, sizeof(derive));
        snprintf(buf, size, "%s%s%s", policy_effect_name(rule->effect),
                 rule->derive.count > 0 ? " of " : "",
                 rule->derive.count > 0 ? derive : "");
        break;
    }
    case 6:
        snprintf(buf, size, "%s", policy_consent_name(rule->consent));
        break;
    case 7:
        buf[0] = '\0';
        for (unsigned i = 0; i < POLICY_MECH_COUNT; i++) {
            if (rule->mechanisms & (1u << i))
                used +=
                    (size_t)snprintf(buf + used, size - used, "%s%s", used > 0 ? " " : "",
                                     policy_mechanism_name(1u << i));
        }
        if (used == 0)
            snprintf(buf, size, "none");
        break;
    case 8:
        snprintf(buf, size, "%s",
                 rule->has_min_assurance ? policy_assurance_name(rule->min_assurance)
                                         : "none");
        break;
    case 9:
        if (rule->max_retention < 0)
            snprintf(buf, size, "none");
        else
            snprintf(buf, size, "%ld days", rule->max_retention);
        break;
    case 10:
        buf[0] = '\0';
        for (size_t i = 0; i < rule->basis_count; i++)
            used += (size_t)snprintf(buf + used, used < size ? size - used : 0,
                                     "%s%s, %s", i > 0 ? "; " : "",
                                     rule->bases[i].instrument, rule->bases[i].provision);
        break;
    default:
        snprintf(buf, size, "%s", rule->summary != NULL ? rule->summary : "");
        break;
    }
}

static const char *const field_names[] = {
    "subjects",
    "relying parties",
    "scope",
    "purposes",
    "claims",
    "effect",
    "consent",
    "transfer mechanisms",
    "minimum assurance",
    "maximum retention",
    "legal basis",
    "summary",
};
#define FIELD_COUNT 12

static const policy_src_rule *find_rule(const policy_cmd_bundles *bundles, const char *id,
                                        const char **bundle_id)
{
    for (size_t b = 0; b < bundles->count; b++) {
        for (size_t r = 0; r < bundles->items[b]->rule_count; r++) {
            if (strcmp(bundles->items[b]->rules[r].id, id) == 0) {
                *bundle_id = bundles->items[b]->id;
                return &bundles->items[b]->rules[r];
            }
        }
    }
    return NULL;
}

static size_t diff_rules(const policy_cmd_bundles *old, const policy_cmd_bundles *new_,
                         json_t *changes)
{
    const char *bundle_id;
    size_t count = 0;

    for (size_t b = 0; b < new_->count; b++) {
        for (size_t r = 0; r < new_->items[b]->rule_count; r++) {
            const policy_src_rule *rule = &new_->items[b]->rules[r];
            const policy_src_rule *before = find_rule(old, rule->id, &bundle_id);
            json_t *fields = json_array();

            for (int f = 0; before != NULL && f < FIELD_COUNT; f++) {
                char a[1200], c[1200];

                describe_field(before, f, a, sizeof(a));
                describe_field(rule, f, c, sizeof(c));
                if (strcmp(a, c) != 0)
                    json_array_append_new(fields,
                                          json_pack("{s:s, s:s, s:s}", "field",
                                                    field_names[f], "old", a, "new", c));
            }
            if (before == NULL || json_array_size(fields) > 0) {
                json_array_append_new(changes,
                                      json_pack("{s:s, s:s, s:s, s:o}", "rule", rule->id,
                                                "bundle", new_->items[b]->id, "change",
                                                before == NULL ? "added" : "changed",
                                                "fields", fields));
                count++;
            } else {
                json_decref(fields);
            }
        }
    }
    for (size_t b = 0; b < old->count; b++) {
        for (size_t r = 0; r < old->items[b]->rule_count; r++) {
            const policy_src_rule *rule = &old->items[b]->rules[r];

            if (find_rule(new_, rule->id, &bundle_id) == NULL) {
                json_array_append_new(changes,
                                      json_pack("{s:s, s:s, s:s, s:[]}", "rule", rule->id,
                                                "bundle", old->items[b]->id, "change",
                                                "removed", "fields"));
                count++;
            }
        }
    }
    return count;
}

/* ---- Requests whose decision changes
 * ------------------------------------------------------ */

/* Values for every claim the grid may request, so that a decision never turns on a
 * missing value. */
static json_t *grid_values(void)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, "
        "s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
        "given_name", "Mei", "family_name", "Tan", "full_name", "Tan Mei",
        "date_of_birth", "1990-04-01", "nationality", "SG", "address", "street",
        "1 Example Road", "country", "SG", "email", "mei@example.org", "phone",
        "+6500000000", "national_id", "ID-0001", "passport_number", "P-0001", "tax_id",
        "T-0001", "bank_account", "ACC-0001", "income_band", "B3", "credit_score", "700",
        "face_image", "IMG", "fingerprint_template", "FP", "religion", "R", "ethnicity",
        "E", "health_status", "H", "criminal_record", "none");
}

/* The condition variants of each grid request: every condition met with a short and
 * with the longest retention, so that a changed retention limit shows, and none met. */
typedef enum grid_conditions {
    GRID_ALL_MET,
    GRID_ALL_MET_LONG_RETENTION,
    GRID_NONE_MET,
    GRID_CONDITION_VARIANTS,
} grid_conditions;

static const char *const grid_condition_names[] = {
    "all met", "all met, retention 36500 days", "none met"};

typedef struct grid_point {
    const char *subject, *rp, *purpose, *claim;
    grid_conditions conditions;
} grid_point;

static bool grid_request(const policy_set *set, const grid_point *p, const json_t *values,
                         time_t at, policy_request *req)
{
    memset(req, 0, sizeof(*req));
    req->set = set;
    req->subject = policy_set_find_jurisdiction(set, p->subject);
    req->relying_party = policy_set_find_jurisdiction(set, p->rp);
    req->purpose = policy_set_find_purpose(set, p->purpose);
    if (req->subject < 0 || req->relying_party < 0 || req->purpose < 0)
        return false;
    snprintf(req->rp_country, sizeof(req->rp_country), "%s", p->rp);
    req->claim_count = 1;
    req->claim_names[0] = p->claim;
    req->claims[0] = policy_set_find_claim(set, p->claim);
    req->values = values;
    req->time = at;
    bool all = p->conditions != GRID_NONE_MET;

    req->mechanisms = all ? (1u << POLICY_MECH_COUNT) - 1 : 0;
    req->assurance = all ? POLICY_ASSURANCE_HIGH : POLICY_ASSURANCE_LOW;
    req->consent = all ? POLICY_CONSENT_SEPARATE_CROSS_BORDER : POLICY_CONSENT_NONE;
    req->retention_days = p->conditions == GRID_ALL_MET                  ? 30
                          : p->conditions == GRID_ALL_MET_LONG_RETENTION ? 36500
                                                                         : -1;
    return true;
}

static void decision_text(const policy_set *set, const grid_point *p,
                          const json_t *values, time_t at, char *buf, size_t size)
{
    policy_decision decision;
    policy_request req;
    policy_error err = {0};
    int len;

    if (!grid_request(set, p, values, at, &req)) {
        snprintf(buf, size, "not in the set");
        return;
    }
    if (policy_evaluate(&req, &decision, &err) != 0) {
        snprintf(buf, size, "error %s", policy_error_name(err.code));
        return;
    }
    len = snprintf(buf, size, "%s/%s/%s", policy_outcome_name(decision.claims[0].outcome),
                   policy_reason_name(decision.claims[0].reason),
                   decision.claims[0].rule != NULL ? decision.claims[0].rule->id : "-");
    /* The derived claims released, so that a changed derive list shows too. */
    for (size_t i = 0; i < decision.claims[0].derived_count && len > 0 && (size_t)len < size;
         i++)
        len += snprintf(buf + len, size - (size_t)len, "%s%s", i == 0 ? " " : ",",
                        decision.claims[0].derived[i].name);
}

static size_t diff_outcomes(const policy_set *old, const policy_set *new_, time_t at,
                            json_t *changes)
{
    json_t *values = grid_values();
    size_t count = 0;

    for (size_t s = 0; s < new_->jurisdiction_count; s++) {
        for (size_t r = 0; r < new_->jurisdiction_count; r++) {
            for (size_t p = 0; p < new_->purpose_count; p++) {
                for (size_t c = 0; c < new_->claim_count; c++) {
                    for (int v = 0; v < GRID_CONDITION_VARIANTS; v++) {
                        grid_point point = {new_->jurisdictions[s],
                                            new_->jurisdictions[r], new_->purposes[p],
                                            new_->claims[c].name, (grid_conditions)v};
                        char a[200], b[200];

                        decision_text(old, &point, values, at, a, sizeof(a));
                        decision_text(new_, &point, values, at, b, sizeof(b));
                        if (strcmp(a, b) == 0)
                            continue;
                        json_array_append_new(
                            changes,
                            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "subject",
                                      point.subject, "relying_party", point.rp, "purpose",
                                      point.purpose, "claim", point.claim, "conditions",
                                      grid_condition_names[v], "old", a, "new", b));
                        count++;
                    }
                }
            }
        }
    }
    json_decref(values);
    return count;
}

static void print_text(const json_t *rules, const json_t *requests, size_t limit)
{
    size_t i, k;
    const json_t *item, *field;

    printf("Rules changed: %zu\n", json_array_size(rules));
    json_array_foreach(rules, i, item)
    {
        printf("  %-8s %s (%s)\n", json_string_value(json_object_get(item, "change")),
               json_string_value(json_object_get(item, "rule")),
               json_string_value(json_object_get(item, "bundle")));
        json_array_foreach(json_object_get(item, "fields"), k, field)
        {
            printf("           %s: %s -> %s\n",
                   json_string_value(json_object_get(field, "field")),
                   json_string_value(json_object_get(field, "old")),
                   json_string_value(json_object_get(field, "new")));
        }
    }

    printf("\nRequests whose decision changes: %zu\n", json_array_size(requests));
    if (json_array_size(requests) == 0)
        return;
    printf("%-8s %-4s %-22s %-22s %-9s %-50s %s\n", "SUBJECT", "RP", "PURPOSE", "CLAIM",
           "CONDS", "OLD", "NEW");
    json_array_foreach(requests, i, item)
    {
        if (i == limit) {
            printf("... %zu more; use --json for all\n",
                   json_array_size(requests) - limit);
            break;
        }
        printf("%-8s %-4s %-22s %-22s %-9s %-50s %s\n",
               json_string_value(json_object_get(item, "subject")),
               json_string_value(json_object_get(item, "relying_party")),
               json_string_value(json_object_get(item, "purpose")),
               json_string_value(json_object_get(item, "claim")),
               json_string_value(json_object_get(item, "conditions")),
               json_string_value(json_object_get(item, "old")),
               json_string_value(json_object_get(item, "new")));
    }
}

static int run_diff(char *old_path, char *new_path, time_t at, bool at_given,
                    bool as_json, size_t limit)
{
    policy_cmd_bundles old = {0}, new_ = {0};
    policy_set *old_set = NULL, *new_set = NULL;
    json_t *rules = json_array(), *requests = json_array();
    policy_error err = {0};
    size_t changed;
    int rc = EXIT_REJECTED;

    if (policy_cmd_load(&old_path, 1, &old) != 0 ||
        policy_cmd_load(&new_path, 1, &new_) != 0)
        goto out;
    if (policy_set_compile(old.items, old.count, &old_set, &err) != 0 ||
        policy_set_compile(new_.items, new_.count, &new_set, &err) != 0) {
        fprintf(stderr, POLICY_PROGRAM " diff: %s: %s\n", policy_error_name(err.code),
                err.message);
        rc = EXIT_USAGE;
        goto out;
    }
    if (!at_given)
        at = old_set->effective_from > new_set->effective_from ? old_set->effective_from
                                                               : new_set->effective_from;

    changed =
        diff_rules(&old, &new_, rules) + diff_outcomes(old_set, new_set, at, requests);
    if (as_json) {
        json_t *out = json_pack("{s:O, s:O}", "rules", rules, "requests", requests);

        policy_cmd_print_json(out);
        json_decref(out);
    } else {
        print_text(rules, requests, limit);
    }
    rc = changed > 0 ? EXIT_REJECTED : 0;

out:
    json_decref(rules);
    json_decref(requests);
    policy_set_release(&old_set);
    policy_set_release(&new_set);
    policy_cmd_bundles_free(&old);
    policy_cmd_bundles_free(&new_);
    return rc;
}

int policy_cmd_diff(int argc, char **argv)
{
    static const struct option table[] = {
        {"json", no_argument, NULL, 'j'},
        {"at", required_argument, NULL, 'a'},
        {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool as_json = false, at_given = false;
    size_t limit = 200;
    time_t at = 0;
    int option;

    while ((option = getopt_long(argc, argv, "", table, NULL)) != -1) {
        if (option == 'h') {
            print_help(stdout);
            return 0;
        } else if (option == 'j') {
            as_json = true;
        } else if (option == 'a') {
            if (policy_parse_utc(optarg, &at) != 0) {
                fprintf(stderr,
                        POLICY_PROGRAM " diff: --at %s is not a UTC time such as "
                                       "2026-01-31T00:00:00Z\n",
                        optarg);
                return EXIT_USAGE;
            }
            at_given = true;
        } else if (option == 'l') {
            uint64_t value;

            if (admin_parse_number(POLICY_PROGRAM " diff", "--limit", optarg, 1,
                                   DIFF_LIMIT_MAX, &value) != 0)
                return EXIT_USAGE;
            limit = (size_t)value;
        } else {
            fputs(POLICY_PROGRAM " diff: invalid option; see --help\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    return run_diff(argv[optind], argv[optind + 1], at, at_given, as_json, limit);
}
