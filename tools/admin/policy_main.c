/* idsvc-admin policy: the regulators' tool for policy bundles. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "admin.h"
#include "policy_cmd.h"
#include "policy_internal.h"

static void print_usage(FILE *out)
{
    fputs(
        "usage: idsvc-admin policy SUBCOMMAND [OPTIONS] ARGS\n"
        "\n"
        "subcommands:\n"
        "  validate BUNDLE...             check the schema and the meaning of bundles\n"
        "  sign BUNDLE --key URI ...      sign a bundle with a regulator key in the HSM\n"
        "  verify BUNDLE --config FILE    verify a bundle's signature, signer and dates\n"
        "  diff OLD NEW                   compare two bundles or folders rule by rule\n"
        "  explain BUNDLE... REQUEST.json decide one request and show every rule "
        "considered\n"
        "  simulate BUNDLE... REQUESTS.jsonl\n"
        "                                 tabulate outcomes by jurisdiction pair, "
        "purpose\n"
        "                                 and rule\n"
        "  test BUNDLE... TESTS           run table-driven expectations\n"
        "\n"
        "A BUNDLE argument is a bundle file or a folder whose *.xml files are read in "
        "name\n"
        "order. Run 'idsvc-admin policy SUBCOMMAND --help' for a subcommand's options;\n"
        "the language is described in docs/policy-language.md.\n",
        out);
}

int admin_policy_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {
        {"validate", policy_cmd_validate}, {"sign", policy_cmd_sign},
        {"verify", policy_cmd_verify},     {"diff", policy_cmd_diff},
        {"explain", policy_cmd_explain},   {"simulate", policy_cmd_simulate},
        {"test", policy_cmd_test},
    };

    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, POLICY_PROGRAM ": unknown subcommand '%s'\n", argv[1]);
    print_usage(stderr);
    return EXIT_USAGE;
}

bool policy_cmd_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

char *policy_cmd_join_path(const char *folder, const char *name)
{
    size_t folder_len = strlen(folder);
    size_t len = folder_len + strlen(name) + 2;
    char *path = malloc(len);

    while (folder_len > 1 && folder[folder_len - 1] == '/')
        folder_len--;
    if (path != NULL)
        snprintf(path, len, "%.*s/%s", (int)folder_len, folder, name);
    return path;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int policy_cmd_list_folder(const char *folder, const char *suffix, char ***names,
                           size_t *count)
{
    DIR *dir = opendir(folder);
    size_t suffix_len = strlen(suffix);
    struct dirent *entry;

    *names = NULL;
    *count = 0;
    if (dir == NULL) {
        fprintf(stderr, POLICY_PROGRAM ": cannot open folder %s: %s\n", folder,
                strerror(errno));
        return -1;
    }
    while ((entry = readdir(dir)) != NULL) {
        size_t len = strlen(entry->d_name);
        char **grown;

        if (len <= suffix_len || strcmp(entry->d_name + len - suffix_len, suffix) != 0)
            continue;
        grown = realloc(*names, (*count + 1) * sizeof(**names));
        if (grown == NULL)
            goto out_of_memory;
        *names = grown;
        (*names)[*count] = policy_cmd_join_path(folder, entry->d_name);
        if ((*names)[*count] == NULL)
            goto out_of_memory;
        (*count)++;
    }
    closedir(dir);
    qsort(*names, *count, sizeof(**names), compare_names);
    return 0;

out_of_memory:
    closedir(dir);
    policy_cmd_free_names(*names, *count);
    *names = NULL;
    *count = 0;
    fprintf(stderr, POLICY_PROGRAM ": out of memory while listing folder %s\n", folder);
    return -1;
}

void policy_cmd_free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

static int add_bundle(policy_cmd_bundles *out, const char *path)
{
    policy_bundle **items = realloc(out->items, (out->count + 1) * sizeof(*items));
    policy_error err = {0};

    if (items == NULL)
        return -1;
    out->items = items;
    if (policy_bundle_load_file(path, &out->items[out->count], &err) != 0) {
        fprintf(stderr, "%s:%d: error: %s: %s\n", path, err.line,
                policy_error_name(err.code), err.message);
        return -1;
    }
    out->count++;
    return 0;
}

/* Reads every *.xml bundle of a folder, in name order. */
static int add_folder(policy_cmd_bundles *out, const char *folder)
{
    char **names;
    size_t count;
    int rc = 0;

    if (policy_cmd_list_folder(folder, ".xml", &names, &count) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (rc == 0 && add_bundle(out, names[i]) != 0)
            rc = -1;
    }
    policy_cmd_free_names(names, count);
    if (rc == 0 && count == 0) {
        fprintf(stderr,
                POLICY_PROGRAM ": folder %s contains no *.xml bundle; pass a bundle file "
                               "or a folder of them\n",
                folder);
        rc = -1;
    }
    return rc;
}

int policy_cmd_load(char *const *paths, size_t path_count, policy_cmd_bundles *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < path_count; i++) {
        struct stat st;
        int rc;

        if (stat(paths[i], &st) != 0) {
            fprintf(stderr, POLICY_PROGRAM ": %s: not found\n", paths[i]);
            return -1;
        }
        rc = S_ISDIR(st.st_mode) ? add_folder(out, paths[i]) : add_bundle(out, paths[i]);
        if (rc != 0)
            return -1;
    }
    return 0;
}

void policy_cmd_bundles_free(policy_cmd_bundles *bundles)
{
    for (size_t i = 0; i < bundles->count; i++)
        policy_bundle_free(&bundles->items[i]);
    free(bundles->items);
    memset(bundles, 0, sizeof(*bundles));
}

/* Prints the error findings of the checks that a node makes before it compiles a set,
 * as validate prints them. Returns -1 when there is one: explain, test and simulate
 * then decide nothing on a set that no node would load. */
static int check_names_as_node(const policy_cmd_bundles *bundles)
{
    policy_findings findings = {0};
    int rc = policy_check_names(bundles->items, bundles->count, &findings);

    for (size_t i = 0; i < findings.count; i++)
        if (findings.items[i].error)
            fprintf(stderr, "%s:%d: error: %s: %s\n", findings.items[i].path,
                    findings.items[i].line, findings.items[i].code,
                    findings.items[i].message);
    policy_findings_clear(&findings);
    return rc;
}

int policy_cmd_compile(char *const *paths, size_t path_count, policy_set **set)
{
    policy_cmd_bundles bundles;
    policy_error err = {0};
    int rc = -1;

    if (policy_cmd_load(paths, path_count, &bundles) == 0 &&
        check_names_as_node(&bundles) == 0) {
        rc = policy_set_compile(bundles.items, bundles.count, set, &err);
        if (rc != 0)
            fprintf(stderr, POLICY_PROGRAM ": error: %s: %s\n",
                    policy_error_name(err.code), err.message);
    }
    policy_cmd_bundles_free(&bundles);
    return rc;
}

json_t *policy_cmd_read_json(const char *path)
{
    json_error_t error;
    json_t *value = json_load_file(path, JSON_REJECT_DUPLICATES, &error);

    if (value == NULL)
        fprintf(stderr, "%s:%d: error: invalid JSON: %s\n", path, error.line, error.text);
    return value;
}

void policy_cmd_print_json(const json_t *value)
{
    json_dumpf(value, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    fputc('\n', stdout);
}

void policy_cmd_describe_request(const policy_request *req, char *buf, size_t size)
{
    const policy_set *set = req->set;
    char mechanisms[160] = "";
    char retention[40] = "none declared";
    size_t used = 0;

    for (unsigned i = 0; i < POLICY_MECH_COUNT; i++) {
        if (req->mechanisms & (1u << i))
            used += (size_t)snprintf(
                mechanisms + used,
                used < sizeof(mechanisms) ? sizeof(mechanisms) - used : 0, "%s%s",
                used > 0 ? "," : "", policy_mechanism_name(1u << i));
    }
    if (req->retention_days >= 0)
        snprintf(retention, sizeof(retention), "%ld days", req->retention_days);
    snprintf(
        buf, size,
        "subject %s -> relying party %s%s%s%s, purpose %s, assurance %s, consent %s, "
        "mechanisms %s, retention %s",
        set->jurisdictions[req->subject], req->rp_country, req->rp_id != NULL ? " (" : "",
        req->rp_id != NULL ? req->rp_id : "", req->rp_id != NULL ? ")" : "",
        set->purposes[req->purpose], policy_assurance_name(req->assurance),
        policy_consent_name(req->consent), used > 0 ? mechanisms : "none", retention);
}
