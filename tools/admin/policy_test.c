/* idsvc-admin policy test: table-driven expectations against a set of bundles. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy_cmd.h"

static void print_help(FILE *out)
{
    fputs(
        "usage: idsvc-admin policy test [--json] [--verbose] BUNDLE... TESTS\n"
        "\n"
        "TESTS is a test file or a folder of *.json test files. A test file contains\n"
        "\"defaults\" (request members shared by its cases) and \"cases\", each with a\n"
        "\"name\", a \"request\" merged over the defaults and an \"expect\" object:\n"
        "\"outcome\", \"consent_required\" and per-claim expectations such as\n"
        "\"withheld:consent_required\" or {\"decision\": ..., \"reason\": ..., \"rule\": "
        "...,\n"
        "\"derived\": {...}}. The format is in docs/policy-language.md, \"Tests\".\n"
        "\n"
        "  --json      print every case's result as JSON\n"
        "  --verbose   print passing cases too\n"
        "\n"
        "Exit status: 0 when every case passes, 1 otherwise, 2 for a usage error.\n",
        out);
}

typedef struct test_run {
    size_t cases, failed;
    bool verbose, as_json;
    json_t *results;
} test_run;

/* Appends one mismatch to the case's list of failures. */
static void mismatch(json_t *failures, const char *check_name, const char *expected,
                     const char *actual)
{
    json_array_append_new(failures, json_pack("{s:s, s:s, s:s}", "check", check_name,
                                              "expected", expected != NULL ? expected : "null",
                                              "actual", actual != NULL ? actual : "null"));
}

static void check_string(json_t *failures, const char *check_name, const json_t *expected,
                         const char *actual)
{
    if (expected == NULL)
        return;
    if (json_is_null(expected)) {
        if (actual != NULL)
            mismatch(failures, check_name, "null", actual);
        return;
    }
    if (actual == NULL || strcmp(json_string_value(expected), actual) != 0)
        mismatch(failures, check_name, json_string_value(expected), actual);
}

/* An expectation written as "decision", "decision:reason" or "decision:reason:rule". */
static json_t *expand_short_form(const char *text)
{
    char copy[256];
    char *reason, *rule;

    snprintf(copy, sizeof(copy), "%s", text);
    reason = strchr(copy, ':');
    if (reason != NULL)
        *reason++ = '\0';
    rule = reason != NULL ? strchr(reason, ':') : NULL;
    if (rule != NULL)
        *rule++ = '\0';
    return json_pack("{s:s, s:s*, s:s*}", "decision", copy, "reason", reason, "rule",
                     rule);
}

static void check_derived(json_t *failures, const char *claim, const json_t *expected,
                          const policy_claim_decision *d)
{
    const char *name;
    const json_t *value;
    char check_name[160];

    json_object_foreach((json_t *)expected, name, value)
    {
        const char *actual = NULL;

        for (size_t i = 0; i < d->derived_count; i++) {
            if (strcmp(d->derived[i].name, name) == 0)
                actual = d->derived[i].value;
        }
        snprintf(check_name, sizeof(check_name), "%s.derived.%s", claim, name);
        check_string(failures, check_name, value, actual);
    }
    /* The expectation lists every derived value, so that a case catches one more value
     * than the relying party may receive. */
    for (size_t i = 0; i < d->derived_count; i++) {
        if (json_object_get(expected, d->derived[i].name) != NULL)
            continue;
        snprintf(check_name, sizeof(check_name), "%s.derived.%s", claim,
                 d->derived[i].name);
        mismatch(failures, check_name, "no value", d->derived[i].value);
    }
}

static void check_claim(json_t *failures, const char *claim, const json_t *expectation,
                        const policy_decision *decision)
{
    const policy_claim_decision *d = NULL;
    json_t *expected = json_is_string(expectation)
                           ? expand_short_form(json_string_value(expectation))
                           : json_incref((json_t *)expectation);
    char check_name[160];

    for (size_t i = 0; i < decision->claim_count; i++) {
        if (strcmp(decision->claims[i].claim, claim) == 0)
            d = &decision->claims[i];
    }
    if (d == NULL) {
        mismatch(failures, claim, "a decision", "the claim was not requested");
        json_decref(expected);
        return;
    }
    snprintf(check_name, sizeof(check_name), "%s.decision", claim);
    check_string(failures, check_name, json_object_get(expected, "decision"),
                 policy_outcome_name(d->outcome));
    snprintf(check_name, sizeof(check_name), "%s.reason", claim);
    check_string(failures, check_name, json_object_get(expected, "reason"),
                 policy_reason_name(d->reason));
    snprintf(check_name, sizeof(check_name), "%s.rule", claim);
    check_string(failures, check_name, json_object_get(expected, "rule"),
                 d->rule != NULL ? d->rule->id : NULL);
    if (json_object_get(expected, "derived") != NULL)
        check_derived(failures, claim, json_object_get(expected, "derived"), d);
    json_decref(expected);
}

static void check_decision(json_t *failures, const json_t *expect,
                           const policy_decision *decision)
{
    const char *claim;
    const json_t *expectation;

    check_string(failures, "outcome", json_object_get(expect, "outcome"),
                 policy_overall_name(decision->overall));
    check_string(failures, "consent_required",
                 json_object_get(expect, "consent_required"),
                 decision->consent_required == POLICY_CONSENT_NONE
                     ? NULL
                     : policy_consent_name(decision->consent_required));
    json_object_foreach((json_t *)json_object_get(expect, "claims"), claim, expectation)
        check_claim(failures, claim, expectation, decision);
}

static void report_case(test_run *run, const char *file, const char *name,
                        json_t *failures, const char *error)
{
    bool passed = error == NULL && json_array_size(failures) == 0;
    size_t i;
    const json_t *f;

    run->cases++;
    run->failed += passed ? 0 : 1;
    if (run->as_json) {
        json_array_append_new(run->results,
                              json_pack("{s:s, s:s, s:b, s:O, s:s?}", "file", file,
                                        "case", name, "passed", passed, "failures",
                                        failures, "error", error));
        return;
    }
    if (passed) {
        if (run->verbose)
            printf("PASS %s: %s\n", file, name);
        return;
    }
    printf("FAIL %s: %s\n", file, name);
    if (error != NULL)
        printf("     %s\n", error);
    json_array_foreach(failures, i, f)
    {
        printf("     %s: expected %s, got %s\n",
               json_string_value(json_object_get(f, "check")),
               json_string_value(json_object_get(f, "expected")),
               json_string_value(json_object_get(f, "actual")));
    }
}

/* Returns true when every member of object is one of names (NULL-terminated), and the
 * member's value is a string, or null where null_ok. */
static bool only_strings(const json_t *object, const char *const *names, bool null_ok)
{
    const char *name;
    const json_t *value;

    json_object_foreach((json_t *)object, name, value) {
        bool known = false;

        for (size_t i = 0; names[i] != NULL; i++)
            known = known || strcmp(names[i], name) == 0;
        if (!known || !(json_is_string(value) || (null_ok && json_is_null(value))))
            return false;
    }
    return true;
}

/* Returns true for a missing derived expectation, or an object of string values. */
static bool derived_valid(const json_t *derived)
{
    const char *name;
    const json_t *value;

    if (derived == NULL)
        return true;
    if (!json_is_object(derived))
        return false;
    json_object_foreach((json_t *)derived, name, value)
        if (!json_is_string(value))
            return false;
    return true;
}

/* Checks one claim's expectation: a short-form string, or an object of decision,
 * reason, rule (or null) and derived (an object of strings). */
static bool claim_expectation_valid(const json_t *expectation)
{
    static const char *const members[] = {"decision", "reason", "rule", NULL};
    json_t *copy;
    bool valid;

    if (json_is_string(expectation))
        return true;
    if (!json_is_object(expectation))
        return false;
    copy = json_copy((json_t *)expectation);
    json_object_del(copy, "derived");
    valid = copy != NULL && only_strings(copy, members, true) &&
            derived_valid(json_object_get(expectation, "derived"));
    json_decref(copy);
    return valid;
}

/* Checks the shape of a case's expect member. Returns NULL, or the sentence that names
 * what is wrong, so that a misspelt or mistyped expectation fails instead of passing. */
static const char *expectation_fault(const json_t *expect)
{
    static const char *const members[] = {"outcome", "consent_required", "error", NULL};
    const json_t *claims = json_object_get(expect, "claims");
    const char *claim;
    const json_t *expectation;
    json_t *copy;
    bool valid;

    if (!json_is_object(expect))
        return "the case has no expect object";
    if (json_object_size(expect) == 0)
        return "expect is empty, so the case would check nothing";
    copy = json_copy((json_t *)expect);
    json_object_del(copy, "claims");
    valid = copy != NULL && only_strings(copy, members, true);
    json_decref(copy);
    if (!valid)
        return "expect may hold only outcome, consent_required and error as strings "
               "(consent_required also null), and claims";
    if (claims != NULL && !json_is_object(claims))
        return "expect.claims must be an object of claim expectations";
    json_object_foreach((json_t *)claims, claim, expectation)
        if (!claim_expectation_valid(expectation))
            return "each claim expectation must be \"decision[:reason[:rule]]\" or an "
                   "object of decision, reason and rule strings (rule also null) and "
                   "derived, an object of strings";
    return NULL;
}

static void run_case(test_run *run, const policy_set *set, const char *file,
                     const json_t *defaults, const json_t *test)
{
    const char *name = json_string_value(json_object_get(test, "name"));
    const json_t *request = json_object_get(test, "request");
    json_t *doc = json_is_object(defaults) ? json_deep_copy(defaults) : json_object();
    json_t *failures = json_array();
    policy_decision decision;
    policy_request req;
    policy_error err = {0};
    char error[700];
    const char *error_text = NULL;
    const json_t *expected_error =
        json_object_get(json_object_get(test, "expect"), "error");

    if (json_is_object(request))
        json_object_update_recursive(doc, (json_t *)request);
    if (defaults != NULL && !json_is_object(defaults)) {
        error_text = "defaults must be an object of request members";
    } else if (request != NULL && !json_is_object(request)) {
        error_text = "request must be an object of request members";
    } else if ((error_text = expectation_fault(json_object_get(test, "expect"))) != NULL) {
        /* reported below as the case's error */
    } else if (policy_request_from_json(set, doc, &req, &err) != 0 ||
        policy_evaluate(&req, &decision, &err) != 0) {
        if (expected_error == NULL ||
            strcmp(json_string_value(expected_error), policy_error_name(err.code)) != 0) {
            snprintf(error, sizeof(error), "%s: %s", policy_error_name(err.code),
                     err.message);
            error_text = error;
        }
    } else if (expected_error != NULL) {
        mismatch(failures, "error", json_string_value(expected_error), "no error");
    } else {
        check_decision(failures, json_object_get(test, "expect"), &decision);
    }
    report_case(run, file, name != NULL ? name : "(unnamed)", failures, error_text);
    json_decref(failures);
    json_decref(doc);
}

static int run_file(test_run *run, const policy_set *set, const char *path)
{
    json_t *doc = policy_cmd_read_json(path);
    const json_t *cases = json_object_get(doc, "cases");
    size_t i;
    const json_t *test;

    if (doc == NULL)
        return -1;
    if (!json_is_array(cases)) {
        fprintf(stderr, "%s: error: the test file has no \"cases\" array\n", path);
        json_decref(doc);
        return -1;
    }
    json_array_foreach(cases, i, test)
        run_case(run, set, path, json_object_get(doc, "defaults"), test);
    json_decref(doc);
    return 0;
}

static int run_folder(test_run *run, const policy_set *set, const char *folder)
{
    char **names;
    size_t count;
    int rc = 0;

    if (policy_cmd_list_folder(folder, ".json", &names, &count) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (run_file(run, set, names[i]) != 0)
            rc = -1;
    }
    policy_cmd_free_names(names, count);
    return rc;
}

int policy_cmd_test(int argc, char **argv)
{
    static const struct option table[] = {
        {"json", no_argument, NULL, 'j'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    test_run run = {0};
    policy_set *set = NULL;
    const char *tests;
    struct stat st;
    int option, rc;

    while ((option = getopt_long(argc, argv, "", table, NULL)) != -1) {
        if (option == 'h') {
            print_help(stdout);
            return 0;
        }
        if (option == 'j')
            run.as_json = true;
        else if (option == 'v')
            run.verbose = true;
        else
            return EXIT_USAGE;
    }
    if (argc - optind < 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    tests = argv[argc - 1];
    if (stat(tests, &st) != 0) {
        fprintf(stderr, POLICY_PROGRAM " test: %s: not found\n", tests);
        return EXIT_USAGE;
    }
    if (policy_cmd_compile(argv + optind, (size_t)(argc - optind - 1), &set) != 0)
        return EXIT_REJECTED;

    run.results = json_array();
    rc = S_ISDIR(st.st_mode) ? run_folder(&run, set, tests) : run_file(&run, set, tests);
    if (run.as_json) {
        json_t *out = json_pack("{s:O, s:I, s:I}", "results", run.results, "cases",
                                (json_int_t)run.cases, "failed", (json_int_t)run.failed);

        policy_cmd_print_json(out);
        json_decref(out);
    } else {
        printf("%zu case(s), %zu failed\n", run.cases, run.failed);
    }
    json_decref(run.results);
    policy_set_release(&set);
    return rc == 0 && run.failed == 0 && run.cases > 0 ? 0 : EXIT_REJECTED;
}
