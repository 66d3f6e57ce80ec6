/* idsvc-admin policy explain and simulate. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "policy_cmd.h"

/* ---- explain
 * --------------------------------------------------------------------------- */

static void print_explain_help(FILE *out)
{
    fputs(
        "usage: idsvc-admin policy explain [--json] BUNDLE... REQUEST.json\n"
        "\n"
        "Decides one request (format in docs/policy-language.md, \"Requests\") and "
        "shows\n"
        "the decision per claim with its rule, legal basis and explanation, then every\n"
        "rule considered for each claim and what became of it.\n"
        "\n"
        "  --json   print the decision document with a \"trace\" member\n",
        out);
}

typedef struct trace_collector {
    json_t *per_claim; /* array of arrays, one per requested claim */
} trace_collector;

static void collect_trace(void *ctx, size_t claim_index, const policy_rule *rule,
                          policy_trace_status status)
{
    trace_collector *collector = ctx;
    json_t *list = json_array_get(collector->per_claim, claim_index);

    json_array_append_new(list, json_pack("{s:s, s:s, s:i, s:s}", "rule", rule->id,
                                          "bundle", rule->bundle_id, "line", rule->line,
                                          "status", policy_trace_status_name(status)));
}

static void print_decision_table(const policy_decision *decision,
                                 const policy_request *req, const json_t *trace)
{
    char line[1200];

    policy_cmd_describe_request(req, line, sizeof(line));
    printf("Request:  %s\n", line);
    for (size_t i = 0; i < decision->set->bundle_count; i++)
        printf("Policy:   %s version %ld, digest %s\n", decision->set->bundles[i].id,
               decision->set->bundles[i].version, decision->set->bundles[i].digest);
    printf("Outcome:  %s", policy_overall_name(decision->overall));
    if (decision->consent_required != POLICY_CONSENT_NONE)
        printf(" (%s consent still required)",
               policy_consent_name(decision->consent_required));
    printf("\n\n%-22s %-10s %-28s %s\n", "CLAIM", "DECISION", "REASON", "RULE");

    for (size_t i = 0; i < decision->claim_count; i++) {
        const policy_claim_decision *d = &decision->claims[i];

        printf("%-22s %-10s %-28s %s\n", d->claim, policy_outcome_name(d->outcome),
               policy_reason_name(d->reason), d->rule != NULL ? d->rule->id : "-");
    }
    printf("\nExplanations:\n");
    for (size_t i = 0; i < decision->claim_count; i++) {
        policy_claim_sentence(&decision->claims[i], req, line, sizeof(line));
        printf("  %s: %s\n", decision->claims[i].claim, line);
    }
    printf("\nRules considered:\n");
    for (size_t i = 0; i < decision->claim_count; i++) {
        const json_t *entries = json_array_get(trace, i);
        size_t k;
        const json_t *entry;

        printf("  %s:%s\n", decision->claims[i].claim,
               json_array_size(entries) == 0
                   ? " no rule of any applicable bundle names it"
                   : "");
        json_array_foreach(entries, k, entry)
        {
            printf("    %-38s %s (%s:%d)\n",
                   json_string_value(json_object_get(entry, "status")),
                   json_string_value(json_object_get(entry, "rule")),
                   json_string_value(json_object_get(entry, "bundle")),
                   (int)json_integer_value(json_object_get(entry, "line")));
        }
    }
}

static int explain(policy_set *set, const json_t *doc, bool as_json)
{
    trace_collector collector = {json_array()};
    policy_decision decision;
    policy_request req;
    policy_error err = {0};
    int rc = EXIT_REJECTED;

    if (policy_request_from_json(set, doc, &req, &err) != 0) {
        fprintf(stderr, POLICY_PROGRAM " explain: %s: %s%s%s\n",
                policy_error_name(err.code), err.message,
                err.field[0] != '\0' ? "; field " : "", err.field);
        goto out;
    }
    for (size_t i = 0; i < req.claim_count; i++)
        json_array_append_new(collector.per_claim, json_array());
    if (policy_evaluate_traced(&req, &decision, collect_trace, &collector, &err) != 0) {
        fprintf(stderr, POLICY_PROGRAM " explain: %s: %s\n", policy_error_name(err.code),
                err.message);
        goto out;
    }

    if (as_json) {
        json_t *out = policy_decision_to_json(&decision, &req);
        json_t *trace = json_object();

        for (size_t i = 0; i < decision.claim_count; i++)
            json_object_set(trace, decision.claims[i].claim,
                            json_array_get(collector.per_claim, i));
        json_object_set_new(out, "trace", trace);
        policy_cmd_print_json(out);
        json_decref(out);
    } else {
        print_decision_table(&decision, &req, collector.per_claim);
    }
    rc = 0;

out:
    json_decref(collector.per_claim);
    return rc;
}

/*
 * Reads the options of explain and simulate (--json, --help) and compiles the bundles
 * named before the last argument into *set. Returns -1 when the command goes on with
 * *set, else the exit status for the command to return.
 */
static int start_bundle_command(int argc, char **argv, void (*print_help)(FILE *),
                                bool *as_json, policy_set **set)
{
    static const struct option table[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int option;

    while ((option = getopt_long(argc, argv, "", table, NULL)) != -1) {
        if (option == 'h') {
            print_help(stdout);
            return 0;
        }
        if (option != 'j')
            return EXIT_USAGE;
        *as_json = true;
    }
    if (argc - optind < 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    if (policy_cmd_compile(argv + optind, (size_t)(argc - optind - 1), set) != 0)
        return EXIT_REJECTED;
    return -1;
}

int policy_cmd_explain(int argc, char **argv)
{
    policy_set *set = NULL;
    bool as_json = false;
    json_t *doc;
    int rc = start_bundle_command(argc, argv, print_explain_help, &as_json, &set);

    if (rc >= 0)
        return rc;
    doc = policy_cmd_read_json(argv[argc - 1]);
    rc = doc != NULL ? explain(set, doc, as_json) : EXIT_REJECTED;
    json_decref(doc);
    policy_set_release(&set);
    return rc;
}

/* ---- simulate
 * -------------------------------------------------------------------------- */

static void print_simulate_help(FILE *out)
{
    fputs("usage: idsvc-admin policy simulate [--json] BUNDLE... REQUESTS.jsonl\n"
          "\n"
          "Decides every request of a JSON Lines file (one request object per line) and\n"
          "tabulates the claim decisions by subject and relying party jurisdiction, "
          "purpose\n"
          "and deciding rule, then the overall outcomes by jurisdiction pair.\n"
          "\n"
          "  --json   print the rows as JSON\n",
          out);
}

/* Counts keyed by a text key, kept in the order the keys were first seen. */
typedef struct tally {
    json_t *rows; /* key -> {fields..., counts} */
} tally;

static void tally_add(tally *t, const char *key, json_t *fields, const char *counter)
{
    json_t *row = json_object_get(t->rows, key);

    if (row == NULL) {
        row = fields;
        json_object_set_new(t->rows, key, row);
    } else {
        json_decref(fields);
    }
    json_object_set_new(
        row, counter,
        json_integer(json_integer_value(json_object_get(row, counter)) + 1));
}

static void simulate_one(const policy_request *req, const policy_decision *decision,
                         tally *claims, tally *outcomes)
{
    const char *subject = req->set->jurisdictions[req->subject];
    const char *purpose = req->set->purposes[req->purpose];
    char key[256];

    for (size_t i = 0; i < decision->claim_count; i++) {
        const policy_claim_decision *d = &decision->claims[i];
        const char *rule = d->rule != NULL ? d->rule->id : "(none)";

        snprintf(key, sizeof(key), "%s %s %s %s", subject, req->rp_country, purpose,
                 rule);
        tally_add(claims, key,
                  json_pack("{s:s, s:s, s:s, s:s}", "subject", subject, "relying_party",
                            req->rp_country, "purpose", purpose, "rule", rule),
                  policy_outcome_name(d->outcome));
    }
    snprintf(key, sizeof(key), "%s %s", subject, req->rp_country);
    tally_add(
        outcomes, key,
        json_pack("{s:s, s:s}", "subject", subject, "relying_party", req->rp_country),
        policy_overall_name(decision->overall));
}

static long count_of(const json_t *row, const char *name)
{
    return (long)json_integer_value(json_object_get(row, name));
}

static void print_tallies(const tally *claims, const tally *outcomes, size_t requests,
                          size_t errors)
{
    const char *key;
    json_t *row;

    printf("%-8s %-8s %-22s %-36s %9s %8s %9s\n", "SUBJECT", "RP", "PURPOSE", "RULE",
           "DISCLOSED", "DERIVED", "WITHHELD");
    json_object_foreach(claims->rows, key, row)
    {
        printf("%-8s %-8s %-22s %-36s %9ld %8ld %9ld\n",
               json_string_value(json_object_get(row, "subject")),
               json_string_value(json_object_get(row, "relying_party")),
               json_string_value(json_object_get(row, "purpose")),
               json_string_value(json_object_get(row, "rule")),
               count_of(row, "disclosed"), count_of(row, "derived"),
               count_of(row, "withheld"));
    }
    printf("\n%-8s %-8s %7s %8s %17s %6s\n", "SUBJECT", "RP", "PERMIT", "PARTIAL",
           "CONSENT_REQUIRED", "DENY");
    json_object_foreach(outcomes->rows, key, row)
    {
        printf("%-8s %-8s %7ld %8ld %17ld %6ld\n",
               json_string_value(json_object_get(row, "subject")),
               json_string_value(json_object_get(row, "relying_party")),
               count_of(row, "permit"), count_of(row, "partial"),
               count_of(row, "consent_required"), count_of(row, "deny"));
    }
    printf("\n%zu request(s), %zu rejected as invalid\n", requests, errors);
}

static json_t *rows_in_order(const tally *t)
{
    json_t *list = json_array();
    const char *key;
    json_t *row;

    json_object_foreach(t->rows, key, row) json_array_append(list, row);
    return list;
}

static int simulate_file(policy_set *set, FILE *file, const char *path, bool as_json)
{
    tally claims = {json_object()}, outcomes = {json_object()};
    size_t requests = 0, errors = 0, line_number = 0;
    char *line = NULL;
    size_t capacity = 0;

    while (getline(&line, &capacity, file) > 0) {
        policy_decision decision;
        policy_request req;
        policy_error err = {0};
        json_error_t json_err;
        json_t *doc;

        line_number++;
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        requests++;
        doc = json_loads(line, JSON_REJECT_DUPLICATES, &json_err);
        if (doc == NULL || policy_request_from_json(set, doc, &req, &err) != 0 ||
            policy_evaluate(&req, &decision, &err) != 0) {
            fprintf(stderr, "%s:%zu: error: %s\n", path, line_number,
                    doc == NULL ? json_err.text : err.message);
            errors++;
        } else {
            simulate_one(&req, &decision, &claims, &outcomes);
        }
        json_decref(doc);
    }
    free(line);

    if (as_json) {
        json_t *out = json_pack("{s:o, s:o, s:I, s:I}", "claims", rows_in_order(&claims),
                                "outcomes", rows_in_order(&outcomes), "requests",
                                (json_int_t)requests, "invalid", (json_int_t)errors);

        policy_cmd_print_json(out);
        json_decref(out);
    } else {
        print_tallies(&claims, &outcomes, requests, errors);
    }
    json_decref(claims.rows);
    json_decref(outcomes.rows);
    return errors == 0 ? 0 : EXIT_REJECTED;
}

int policy_cmd_simulate(int argc, char **argv)
{
    policy_set *set = NULL;
    bool as_json = false;
    FILE *file;
    int rc = start_bundle_command(argc, argv, print_simulate_help, &as_json, &set);

    if (rc >= 0)
        return rc;
    file = fopen(argv[argc - 1], "r");
    if (file == NULL) {
        fprintf(stderr, POLICY_PROGRAM " simulate: cannot open %s\n", argv[argc - 1]);
        policy_set_release(&set);
        return EXIT_REJECTED;
    }
    rc = simulate_file(set, file, argv[argc - 1], as_json);
    fclose(file);
    policy_set_release(&set);
    return rc;
}
