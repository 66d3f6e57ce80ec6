/* idsvc-admin policy sign and verify. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "p11.h"
#include "policy_cmd.h"
#include "token_options.h"

enum {
    OPTION_KEY = 0x100,
    OPTION_KEY_NAME,
    OPTION_OUTPUT,
    OPTION_TRUST,
    OPTION_CONFIG,
    OPTION_REGULATOR,
    OPTION_AT,
    OPTION_JSON,
    OPTION_HELP,
};

static void print_sign_help(FILE *out)
{
    fputs(
        "usage: idsvc-admin policy sign BUNDLE --key URI [--output FILE]\n"
        "                               [--key-name NAME] TOKEN-OPTIONS\n"
        "\n"
        "Checks the bundle against the schema, then signs it with an enveloped XML\n"
        "signature (exclusive c14n, SHA-256, rsa-sha256 or ecdsa-sha256) made by the "
        "HSM.\n"
        "\n"
        "  --key URI        pkcs11: URI of the regulator's signing key (RSA or EC "
        "P-256)\n"
        "  --output FILE    where to write the signed bundle (default: standard output)\n"
        "  --key-name NAME  KeyInfo KeyName, a hint for people (default: the key label)\n"
        "\n",
        out);
    token_options_print_help(out);
}

static int write_output(const char *path, const char *data, size_t len)
{
    FILE *file = path != NULL ? fopen(path, "wb") : stdout;
    int rc = 0;

    if (file == NULL) {
        fprintf(stderr, POLICY_PROGRAM " sign: cannot open %s for writing\n", path);
        return -1;
    }
    if (fwrite(data, 1, len, file) != len)
        rc = -1;
    if (path != NULL && fclose(file) != 0)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, POLICY_PROGRAM " sign: writing %s failed\n",
                path != NULL ? path : "stdout");
    return rc;
}

static int sign_with_token(const p11_config *config, const char *key_uri,
                           const char *key_name, const char *xml, size_t len,
                           char **signed_xml, size_t *signed_len)
{
    p11_error p11_err = {0};
    policy_error err = {0};
    p11_token *token = NULL;
    p11_key *key = NULL;
    int rc = EXIT_REJECTED;

    if (p11_token_open(config, &token, &p11_err) != 0) {
        fprintf(stderr, POLICY_PROGRAM " sign: cannot open the token: %s\n",
                p11_err.message);
        return EXIT_REJECTED;
    }
    if (p11_key_find(token, key_uri, &key, &p11_err) != 0) {
        fprintf(stderr, POLICY_PROGRAM " sign: key %s: %s\n", key_uri, p11_err.message);
        goto out;
    }
    if (policy_sign_document(xml, len, key,
                             key_name != NULL ? key_name : p11_key_get_label(key),
                             signed_xml, signed_len, &err) != 0) {
        fprintf(stderr, POLICY_PROGRAM " sign: %s: %s\n", policy_error_name(err.code),
                err.message);
        goto out;
    }
    rc = 0;

out:
    p11_key_free(&key);
    p11_token_close(&token);
    return rc;
}

int policy_cmd_sign(int argc, char **argv)
{
    static const struct option table[] = {
        {"key", required_argument, NULL, OPTION_KEY},
        {"key-name", required_argument, NULL, OPTION_KEY_NAME},
        {"output", required_argument, NULL, OPTION_OUTPUT},
        {"help", no_argument, NULL, OPTION_HELP},
        TOKEN_OPTION_ENTRIES,
        {NULL, 0, NULL, 0},
    };
    p11_config config = {0};
    const char *key_uri = NULL, *key_name = NULL, *output = NULL;
    char *xml = NULL, *signed_xml = NULL;
    size_t len = 0, signed_len = 0;
    policy_error err = {0};
    int option, rc;

    while ((option = getopt_long(argc, argv, "", table, NULL)) != -1) {
        if (option == OPTION_HELP) {
            print_sign_help(stdout);
            return 0;
        }
        if (option == OPTION_KEY)
            key_uri = optarg;
        else if (option == OPTION_KEY_NAME)
            key_name = optarg;
        else if (option == OPTION_OUTPUT)
            output = optarg;
        else if (!token_option_apply(&config, option, optarg))
            return EXIT_USAGE;
    }
    if (optind != argc - 1 || key_uri == NULL) {
        fputs(POLICY_PROGRAM " sign: give one BUNDLE and --key; see --help\n", stderr);
        return EXIT_USAGE;
    }
    if (token_options_check(&config, POLICY_PROGRAM " sign") != 0)
        return EXIT_USAGE;

    if (policy_read_file(argv[optind], &xml, &len, &err) != 0) {
        fprintf(stderr, POLICY_PROGRAM " sign: %s\n", err.message);
        return EXIT_REJECTED;
    }
    rc = sign_with_token(&config, key_uri, key_name, xml, len, &signed_xml, &signed_len);
    if (rc == 0 && write_output(output, signed_xml, signed_len) != 0)
        rc = EXIT_REJECTED;
    free(xml);
    free(signed_xml);
    return rc;
}

static void print_verify_help(FILE *out)
{
    fputs(
        "usage: idsvc-admin policy verify BUNDLE --config FILE [--at TIME] [--json]\n"
        "       idsvc-admin policy verify BUNDLE --regulator NAME=SIGNS:FILE...\n"
        "                                 [--at TIME] [--json]\n"
        "       idsvc-admin policy verify BUNDLE --trust PEM [--at TIME] [--json]\n"
        "\n"
        "Verifies the bundle's signature with the regulator keys (never with a key from\n"
        "KeyInfo), that the verifying key may sign the bundle, its schema, and that it\n"
        "is in effect. Give exactly one of --config, --regulator and --trust.\n"
        "\n"
        "  --config FILE    a node's configuration file: its [regulator NAME] sections\n"
        "                   and [policy] trust_list, read as the node reads them\n"
        "  --regulator NAME=SIGNS:FILE\n"
        "                   one binding, as a [regulator NAME] section with\n"
        "                   key = FILE and signs = SIGNS. SIGNS lists base and ISO\n"
        "                   3166-1 alpha-2 codes separated by commas, such as base,SG.\n"
        "                   Repeat it for more keys or regulators\n"
        "  --trust PEM      PEM public keys or certificates, each trusted for every\n"
        "                   bundle without a check of what a key may sign\n"
        "  --at TIME        the time to check the effective dates at, as\n"
        "                   2026-01-31T00:00:00Z (default: now)\n"
        "  --json           print the result as JSON\n"
        "\n"
        "Exit status: 0 when the bundle verifies, 1 when it does not or a key or the\n"
        "configuration cannot be read, 2 for a usage error.\n",
        out);
}

static int verify_bundle(const char *path, const policy_trust *trust, time_t at,
                         json_t *result)
{
    policy_bundle *bundle = NULL;
    policy_error err = {0};
    size_t key_index = 0;
    char *xml = NULL;
    size_t len = 0;
    int rc = -1;

    if (policy_read_file(path, &xml, &len, &err) != 0 ||
        policy_verify_document(xml, len, trust, &key_index, &err) != 0 ||
        policy_bundle_parse(xml, len, path, &bundle, &err) != 0)
        goto out;
    /* The node's check, with its message: a key of --trust passes for every bundle. */
    if (policy_trust_authorise(trust, key_index, bundle, path, &err) != 0)
        goto out;
    if (at < bundle->effective_from) {
        policy_fail(&err, POLICY_E_NOT_YET, 0, "the bundle is not yet in effect");
        goto out;
    }
    if (bundle->effective_until != 0 && at >= bundle->effective_until) {
        policy_fail(&err, POLICY_E_EXPIRED, 0, "the bundle has expired");
        goto out;
    }
    json_object_set_new(result, "id", json_string(bundle->id));
    json_object_set_new(result, "version", json_integer(bundle->version));
    json_object_set_new(result, "digest", json_string(bundle->digest));
    json_object_set_new(result, "trusted_key", json_integer((json_int_t)key_index + 1));
    if (policy_trust_key_regulator(trust, key_index) != NULL)
        json_object_set_new(result, "regulator",
                            json_string(policy_trust_key_regulator(trust, key_index)));
    rc = 0;

out:
    json_object_set_new(result, "verified", json_boolean(rc == 0));
    if (rc != 0) {
        json_object_set_new(result, "error", json_string(policy_error_name(err.code)));
        json_object_set_new(result, "message", json_string(err.message));
    }
    policy_bundle_free(&bundle);
    free(xml);
    return rc;
}

/* Reads the regulator keys that the options name. Returns 0, or an exit status after
 * printing the problem. */
static int load_verify_trust(const char *config_path,
                             const struct config_policy *bindings, const char *trust_path,
                             policy_trust **trust)
{
    policy_error err = {0};

    if (config_path != NULL)
        return policy_cmd_load_config_trust(config_path, trust) == 0 ? 0 : EXIT_REJECTED;
    if (bindings != NULL)
        return policy_cmd_load_bindings(bindings, trust) == 0 ? 0 : EXIT_REJECTED;

    fputs(POLICY_PROGRAM
          " verify: NOTE: --trust does not check which bundles a key may "
          "sign, so each of its keys passes for every bundle. A node with "
          "[regulator] sections rejects a bundle whose key is not bound to "
          "it. To apply the node's check, use --config or --regulator.\n",
          stderr);
    if (policy_trust_load(trust_path, trust, &err) != 0) {
        fprintf(stderr, POLICY_PROGRAM " verify: %s\n", err.message);
        return EXIT_REJECTED;
    }
    return 0;
}

static void print_verify_result(const char *path, const json_t *result, int rc)
{
    const char *regulator = json_string_value(json_object_get(result, "regulator"));

    if (rc == 0)
        printf("%s: verified: bundle %s version %lld, digest %s, trusted key %lld%s%s\n",
               path, json_string_value(json_object_get(result, "id")),
               (long long)json_integer_value(json_object_get(result, "version")),
               json_string_value(json_object_get(result, "digest")),
               (long long)json_integer_value(json_object_get(result, "trusted_key")),
               regulator != NULL ? " of regulator " : "",
               regulator != NULL ? regulator : "");
    else
        fprintf(stderr, "%s: not verified: %s: %s\n", path,
                json_string_value(json_object_get(result, "error")),
                json_string_value(json_object_get(result, "message")));
}

int policy_cmd_verify(int argc, char **argv)
{
    static const struct option table[] = {
        {"config", required_argument, NULL, OPTION_CONFIG},
        {"regulator", required_argument, NULL, OPTION_REGULATOR},
        {"trust", required_argument, NULL, OPTION_TRUST},
        {"at", required_argument, NULL, OPTION_AT},
        {"json", no_argument, NULL, OPTION_JSON},
        {"help", no_argument, NULL, OPTION_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *trust_path = NULL, *config_path = NULL;
    struct config_policy *bindings = NULL;
    policy_trust *trust = NULL;
    time_t at = time(NULL);
    bool as_json = false;
    int sources, option;
    json_t *result;
    int rc = EXIT_USAGE;

    while ((option = getopt_long(argc, argv, "", table, NULL)) != -1) {
        if (option == OPTION_HELP) {
            print_verify_help(stdout);
            rc = 0;
            goto out;
        }
        if (option == OPTION_TRUST) {
            trust_path = optarg;
        } else if (option == OPTION_CONFIG) {
            config_path = optarg;
        } else if (option == OPTION_REGULATOR) {
            if (policy_cmd_add_regulator(&bindings, optarg) != 0)
                goto out;
        } else if (option == OPTION_AT) {
            if (policy_parse_utc(optarg, &at) != 0) {
                fprintf(stderr,
                        POLICY_PROGRAM " verify: --at %s is not a UTC time such as "
                                       "2026-01-31T00:00:00Z\n",
                        optarg);
                goto out;
            }
        } else if (option == OPTION_JSON) {
            as_json = true;
        } else {
            goto out;
        }
    }
    sources = (config_path != NULL) + (bindings != NULL) + (trust_path != NULL);
    if (optind != argc - 1 || sources != 1) {
        fputs(POLICY_PROGRAM " verify: give one BUNDLE and exactly one of --config, "
                             "--regulator and --trust; see --help\n",
              stderr);
        goto out;
    }
    rc = load_verify_trust(config_path, bindings, trust_path, &trust);
    if (rc != 0)
        goto out;

    result = json_object();
    rc = verify_bundle(argv[optind], trust, at, result) == 0 ? 0 : EXIT_REJECTED;
    if (as_json)
        policy_cmd_print_json(result);
    else
        print_verify_result(argv[optind], result, rc);
    json_decref(result);

out:
    policy_trust_free(&trust);
    policy_cmd_free_regulators(&bindings);
    return rc;
}
