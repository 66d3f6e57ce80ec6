/* Shared by the files of `idsvc-admin policy`. */
#ifndef IDSVC_ADMIN_POLICY_CMD_H
#define IDSVC_ADMIN_POLICY_CMD_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "policy_internal.h"

#define POLICY_PROGRAM "idsvc-admin policy"

/* Exit statuses, as for every idsvc-admin subcommand. */
#define EXIT_REJECTED 1
#define EXIT_USAGE 2

/* Bundles read from files and folders (every *.xml in a folder, in name order). */
typedef struct policy_cmd_bundles {
    policy_bundle **items;
    size_t count;
} policy_cmd_bundles;

/* Reads the bundles named by paths; prints each failure with its file and line. */
int policy_cmd_load(char *const *paths, size_t path_count, policy_cmd_bundles *out);
void policy_cmd_bundles_free(policy_cmd_bundles *bundles);

/* Reads the bundles and compiles them into one set. */
int policy_cmd_compile(char *const *paths, size_t path_count, policy_set **set);

/* Returns folder/name in a new string, or NULL when out of memory. */
char *policy_cmd_join_path(const char *folder, const char *name);

/* Lists the files of folder whose names end with suffix, as folder/name paths sorted
 * by name, so that a result never depends on the order the file system returns.
 * Returns 0, or -1 after printing why the folder cannot be read. Free the list with
 * policy_cmd_free_names. */
int policy_cmd_list_folder(const char *folder, const char *suffix, char ***names,
                           size_t *count);
void policy_cmd_free_names(char **names, size_t count);

/* Reads a JSON file; prints the failure. */
json_t *policy_cmd_read_json(const char *path);

/* Prints a JSON value on standard output with a final newline. */
void policy_cmd_print_json(const json_t *value);

/* Returns true when argv contains --help. */
bool policy_cmd_wants_help(int argc, char **argv);

/* Names the request's jurisdictions, purpose and conditions in one line. */
void policy_cmd_describe_request(const policy_request *req, char *buf, size_t size);

/* The regulators of --regulator options, as [regulator] sections of a configuration.
 * config.h defines the struct. */
struct config_policy;

/* Adds the binding of one --regulator NAME=SIGNS:FILE to *bindings, which starts as
 * NULL. Returns 0, or -1 after printing why spec is invalid. */
int policy_cmd_add_regulator(struct config_policy **bindings, const char *spec);
void policy_cmd_free_regulators(struct config_policy **bindings);

/* Builds the trust list of the --regulator bindings. Returns 0, or -1 after printing
 * why a key file cannot be read or bound. */
int policy_cmd_load_bindings(const struct config_policy *bindings, policy_trust **out);

/* Builds the trust list of a node's configuration file, as the node does at start,
 * and prints a note for each key that no [regulator] section binds. Returns 0, or -1
 * after printing why the file or a key cannot be read. */
int policy_cmd_load_config_trust(const char *path, policy_trust **out);

int policy_cmd_validate(int argc, char **argv);
int policy_cmd_sign(int argc, char **argv);
int policy_cmd_verify(int argc, char **argv);
int policy_cmd_diff(int argc, char **argv);
int policy_cmd_explain(int argc, char **argv);
int policy_cmd_simulate(int argc, char **argv);
int policy_cmd_test(int argc, char **argv);

#endif
