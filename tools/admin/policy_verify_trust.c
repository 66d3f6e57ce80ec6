/*
 * The regulator keys of idsvc-admin policy verify: a node's configuration file
 * (--config) or bindings given on the command line (--regulator). Both build the trust
 * list with config_load_policy_trust, as the node does, so a key signs only what its
 * regulator's signs list covers.
 */
#include <stdlib.h>
#include <string.h>

#include "config_trust.h"
#include "policy_cmd.h"

#define VERIFY_PROGRAM POLICY_PROGRAM " verify"

static bool same_signs(const config_regulator *a, const config_regulator *b)
{
    if (a->signs_base != b->signs_base || a->jurisdiction_count != b->jurisdiction_count)
        return false;
    for (size_t i = 0; i < a->jurisdiction_count; i++) {
        if (strcmp(a->jurisdictions[i], b->jurisdictions[i]) != 0)
            return false;
    }
    return true;
}

static void clear_regulator(config_regulator *regulator)
{
    free(regulator->name);
    for (size_t i = 0; i < regulator->key_count; i++)
        free(regulator->key_files[i]);
    free(regulator->key_files);
    for (size_t i = 0; i < regulator->jurisdiction_count; i++)
        free(regulator->jurisdictions[i]);
    free(regulator->jurisdictions);
    memset(regulator, 0, sizeof(*regulator));
}

/* Appends path to regulator's key files. */
static int add_key_file(config_regulator *regulator, const char *path)
{
    char **grown =
        realloc(regulator->key_files, (regulator->key_count + 1) * sizeof(*grown));

    if (grown == NULL)
        return -1;
    regulator->key_files = grown;
    grown[regulator->key_count] = strdup(path);
    if (grown[regulator->key_count] == NULL)
        return -1;
    regulator->key_count++;
    return 0;
}

/* Reads NAME=SIGNS:FILE into parsed. NAME ends at the first '=' and SIGNS at the next
 * ':', so FILE may contain both characters. */
static int parse_binding(const char *spec, config_regulator *parsed)
{
    const char *equals = strchr(spec, '=');
    const char *colon = equals != NULL ? strchr(equals + 1, ':') : NULL;
    char error[256];
    char *signs;
    int rc;

    memset(parsed, 0, sizeof(*parsed));
    if (equals == NULL || colon == NULL || equals == spec || colon[1] == '\0') {
        fprintf(stderr,
                VERIFY_PROGRAM ": --regulator %s is not NAME=SIGNS:FILE, such as "
                               "pdpc-sg=SG:pdpc-sg.pem\n",
                spec);
        return -1;
    }
    signs = strndup(equals + 1, (size_t)(colon - equals - 1));
    parsed->name = strndup(spec, (size_t)(equals - spec));
    if (signs == NULL || parsed->name == NULL || add_key_file(parsed, colon + 1) != 0) {
        free(signs);
        clear_regulator(parsed);
        fputs(VERIFY_PROGRAM ": out of memory\n", stderr);
        return -1;
    }

    /* The node's own reader of a signs line, so both accept the same lists. */
    rc = config_regulator_add_signs(parsed, signs, error, sizeof(error));
    if (rc != 0)
        fprintf(stderr, VERIFY_PROGRAM ": --regulator %s: SIGNS: %s\n", spec, error);
    else if (!parsed->signs_base && parsed->jurisdiction_count == 0) {
        fprintf(stderr,
                VERIFY_PROGRAM ": --regulator %s: SIGNS is empty; list base, "
                               "jurisdiction codes or both, separated by commas\n",
                spec);
        rc = -1;
    }
    free(signs);
    if (rc != 0)
        clear_regulator(parsed);
    return rc;
}

int policy_cmd_add_regulator(config_policy **list, const char *spec)
{
    config_policy *bindings = *list;
    config_regulator parsed;
    config_regulator *grown;

    if (parse_binding(spec, &parsed) != 0)
        return -1;
    if (bindings == NULL && (bindings = *list = calloc(1, sizeof(*bindings))) == NULL) {
        clear_regulator(&parsed);
        fputs(VERIFY_PROGRAM ": out of memory\n", stderr);
        return -1;
    }

    /* A repeated NAME adds a key, like a second key line in one [regulator] section. */
    for (size_t i = 0; i < bindings->regulator_count; i++) {
        config_regulator *existing = &bindings->regulators[i];
        int rc = 0;

        if (strcmp(existing->name, parsed.name) != 0)
            continue;
        if (!same_signs(existing, &parsed)) {
            fprintf(stderr,
                    VERIFY_PROGRAM ": --regulator %s: regulator %s is already given with "
                                   "other SIGNS; one regulator has one SIGNS list\n",
                    spec, parsed.name);
            rc = -1;
        } else if (add_key_file(existing, parsed.key_files[0]) != 0) {
            fputs(VERIFY_PROGRAM ": out of memory\n", stderr);
            rc = -1;
        }
        clear_regulator(&parsed);
        return rc;
    }

    grown =
        realloc(bindings->regulators, (bindings->regulator_count + 1) * sizeof(*grown));
    if (grown == NULL) {
        clear_regulator(&parsed);
        fputs(VERIFY_PROGRAM ": out of memory\n", stderr);
        return -1;
    }
    bindings->regulators = grown;
    grown[bindings->regulator_count++] = parsed; /* the list now owns parsed's strings */
    return 0;
}

void policy_cmd_free_regulators(config_policy **bindings)
{
    if (bindings == NULL || *bindings == NULL)
        return;
    for (size_t i = 0; i < (*bindings)->regulator_count; i++)
        clear_regulator(&(*bindings)->regulators[i]);
    free((*bindings)->regulators);
    free(*bindings);
    *bindings = NULL;
}

int policy_cmd_load_bindings(const config_policy *bindings, policy_trust **out)
{
    policy_error err = {0};

    if (config_load_policy_trust(bindings, out, &err) != 0) {
        fprintf(stderr, VERIFY_PROGRAM ": %s\n", err.message);
        return -1;
    }
    return 0;
}

/* Prints a note for each key that no [regulator] section binds, as the node logs
 * policy_key_unbound at start. */
static void note_unbound_keys(const policy_trust *trust, bool bound)
{
    for (size_t i = 0; i < policy_trust_count(trust); i++) {
        if (policy_trust_key_regulator(trust, i) != NULL)
            continue;
        fprintf(stderr,
                VERIFY_PROGRAM ": NOTE: %s is in [policy] trust_list but in no "
                               "[regulator] section, so it may sign %s\n",
                policy_trust_key_source(trust, i), bound ? "no bundle" : "every bundle");
    }
}

int policy_cmd_load_config_trust(const char *path, policy_trust **out)
{
    config *cfg = NULL;
    policy_error err = {0};
    char error[1024];
    int rc = -1;

    *out = NULL;
    if (config_load(path, &cfg, error, sizeof(error)) != 0) {
        fprintf(stderr, VERIFY_PROGRAM ": %s\n", error);
        return -1;
    }
    if (config_load_policy_trust(&cfg->policy, out, &err) != 0) {
        fprintf(stderr, VERIFY_PROGRAM ": %s: %s\n", path, err.message);
        goto out;
    }
    note_unbound_keys(*out, cfg->policy.regulator_count > 0);
    rc = 0;

out:
    config_free(&cfg);
    return rc;
}
