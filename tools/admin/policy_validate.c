/* idsvc-admin policy validate: schema and meaning checks, each finding with its line. */
#include <getopt.h>
#include <string.h>

#include "policy_cmd.h"

static void print_help(FILE *out)
{
    fputs(
        "usage: idsvc-admin policy validate [--json] [--strict] BUNDLE...\n"
        "\n"
        "Checks bundles against schemas/policy.xsd, then their meaning as one set:\n"
        "undeclared claims, jurisdictions and purposes, missing legal bases, duplicate\n"
        "rule ids, rules that can never match and rules that another rule always beats.\n"
        "Pass the base bundle together with residency bundles.\n"
        "\n"
        "  --json     print the findings as a JSON array\n"
        "  --strict   fail on warnings too\n"
        "\n"
        "Exit status: 0 when no error was found, 1 otherwise, 2 for a usage error.\n",
        out);
}

static void print_findings(const policy_findings *findings, bool as_json)
{
    json_t *list = json_array();

    for (size_t i = 0; i < findings->count; i++) {
        const policy_finding *f = &findings->items[i];

        if (as_json) {
            json_array_append_new(list, json_pack("{s:s, s:i, s:s, s:s, s:s}", "file",
                                                  f->path, "line", f->line, "severity",
                                                  f->error ? "error" : "warning", "code",
                                                  f->code, "message", f->message));
        } else {
            printf("%s:%d: %s: %s: %s\n", f->path, f->line,
                   f->error ? "error" : "warning", f->code, f->message);
        }
    }
    if (as_json)
        policy_cmd_print_json(list);
    json_decref(list);
}

/* Schema errors stop a bundle from loading, so they are read one file at a time. */
static int load_each(char *const *paths, size_t count, policy_cmd_bundles *bundles,
                     policy_findings *findings)
{
    int rc = 0;

    memset(bundles, 0, sizeof(*bundles));
    for (size_t i = 0; i < count; i++) {
        policy_cmd_bundles single;

        if (policy_cmd_load(&paths[i], 1, &single) != 0) {
            policy_findings_add(findings, true, paths[i], 0, "not_loaded",
                                "the bundle did not load (see the message above)");
            policy_cmd_bundles_free(&single);
            rc = -1;
            continue;
        }
        for (size_t k = 0; k < single.count; k++) {
            policy_bundle **items =
                realloc(bundles->items, (bundles->count + 1) * sizeof(*items));

            if (items == NULL)
                return -1;
            bundles->items = items;
            bundles->items[bundles->count++] = single.items[k];
        }
        free(single.items);
    }
    return rc;
}

int policy_cmd_validate(int argc, char **argv)
{
    static const struct option table[] = {
        {"json", no_argument, NULL, 'j'},
        {"strict", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    policy_findings findings = {0};
    policy_cmd_bundles bundles = {0};
    bool as_json = false, strict = false, failed = false;
    int option;

    while ((option = getopt_long(argc, argv, "", table, NULL)) != -1) {
        if (option == 'h') {
            print_help(stdout);
            return 0;
        }
        if (option == 'j')
            as_json = true;
        else if (option == 's')
            strict = true;
        else
            return EXIT_USAGE;
    }
    if (optind >= argc) {
        print_help(stderr);
        return EXIT_USAGE;
    }

    if (load_each(argv + optind, (size_t)(argc - optind), &bundles, &findings) == 0)
        policy_check_bundles(bundles.items, bundles.count, &findings);

    for (size_t i = 0; i < findings.count; i++)
        failed = failed || findings.items[i].error || strict;
    print_findings(&findings, as_json);
    if (!as_json)
        printf("%zu bundle(s), %zu finding(s): %s\n", bundles.count, findings.count,
               failed ? "invalid" : "valid");

    policy_findings_clear(&findings);
    policy_cmd_bundles_free(&bundles);
    return failed ? EXIT_REJECTED : 0;
}
