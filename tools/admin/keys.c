/*
 * idsvc-admin keys: sets up an HSM token and its keys through the HSM layer.
 * init-token, generate, list and import-cert live here; certificate and request in
 * keys_x509.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "admin.h"
#include "keys_internal.h"
#include "token_options.h"

void keys_print_help(FILE *out)
{
    fputs(
        "usage: idsvc-admin keys COMMAND [OPTIONS] TOKEN-OPTIONS\n"
        "\n"
        "commands:\n"
        "  init-token --label L (--so-pin-file F | --so-pin-env V)\n"
        "             (--pin-file F | --pin-env V) [--module PATH]\n"
        "        initialise a free slot as a new token (SoftHSM2, for development)\n"
        "  generate --type rsa2048|rsa3072|p256|p384 --label L [--id HEX]\n"
        "        generate a sign-only, non-extractable key pair; prints its pkcs11: URI\n"
        "  certificate --key URI --subject /CN=.../O=... [--days N] [--out FILE] "
        "[--store]\n"
        "        a self-signed X.509 certificate for the key, signed in the token\n"
        "  request --key URI --subject /CN=.../O=... [--out FILE]\n"
        "        a PKCS#10 certificate request for the key, signed in the token\n"
        "  list [--json]\n"
        "        the private keys, with the attributes that keep them in the token\n"
        "  import-cert --key URI --cert FILE.pem\n"
        "        store a certificate beside the key, once its public key matches\n"
        "  remove (--label L | --id HEX | --key URI) (--config FILE | --force) [--yes]\n"
        "        destroy a key pair and its certificates; refuses a key that the node\n"
        "        configuration FILE uses unless --force, and asks to confirm unless --yes\n"
        "\n",
        out);
    token_options_print_help(out);
    fputs(
        "\n"
        "PINs are never taken on the command line. SoftHSM2 reads its configuration "
        "from\n"
        "the file named by SOFTHSM2_CONF; without it, it uses the system token folder.\n"
        "See docs/hsm.md.\n"
        "Exit status: 0 done, 1 the operation failed, 2 usage error.\n",
        out);
}

void keys_error(const char *command, const char *format, ...)
{
    va_list args;

    fprintf(stderr, "idsvc-admin keys %s: ", command);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
}

int keys_common_option(const char *command, int option, p11_config *config, char **argv,
                       int *exit_code)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";

    switch (option) {
    case OPTION_HELP:
        keys_print_help(stdout);
        *exit_code = KEYS_EXIT_OK;
        return -1;
    case OPTION_PIN_REJECTED:
        keys_error(command,
                   "a PIN is never taken on the command line; use --pin-file FILE "
                   "(mode 0600) or --pin-env NAME");
        *exit_code = KEYS_EXIT_USAGE;
        return -1;
    default:
        if (config != NULL && token_option_apply(config, option, optarg))
            return 0;
        if (option == '?' && optopt >= 0x100)
            keys_error(command, "option '%s' needs a value", arg);
        else
            keys_error(command, "unknown option '%s' (see 'idsvc-admin keys --help')",
                       arg);
        *exit_code = KEYS_EXIT_USAGE;
        return -1;
    }
}

int keys_open_token(const char *command, const p11_config *config, p11_token **out)
{
    p11_error err;

    if (token_options_check(config, "idsvc-admin keys") != 0)
        return KEYS_EXIT_USAGE;
    if (p11_token_open(config, out, &err) != 0) {
        keys_error(command, "%s", err.message);
        return KEYS_EXIT_FAILED;
    }
    return KEYS_EXIT_OK;
}

int keys_find_key(const char *command, p11_token *token, const char *uri, p11_key **out)
{
    p11_error err;

    if (p11_key_find(token, uri, out, &err) != 0) {
        keys_error(command, "key %s: %s", uri, err.message);
        return KEYS_EXIT_FAILED;
    }
    return KEYS_EXIT_OK;
}

static int parse_hex(const char *text, unsigned char **out, size_t *len)
{
    size_t n = strlen(text);

    if (n == 0 || n % 2 != 0 || n > 128)
        return -1;
    *out = malloc(n / 2);
    if (*out == NULL)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned value;

        if (sscanf(text + 2 * i, "%2x", &value) != 1 ||
            strspn(text + 2 * i, "0123456789abcdefABCDEF") < 2) {
            free(*out);
            *out = NULL;
            return -1;
        }
        (*out)[i] = (unsigned char)value;
    }
    *len = n / 2;
    return 0;
}

/* Reads a PIN from a file or a variable for init-token. */
static int read_pin(const char *command, const char *file, const char *env,
                    const char *what, char *pin, size_t size)
{
    p11_error err;
    int ret;

    if ((file == NULL) == (env == NULL)) {
        keys_error(command, "give the %s by exactly one of --%s-file or --%s-env", what,
                   strcmp(what, "SO PIN") == 0 ? "so-pin" : "pin",
                   strcmp(what, "SO PIN") == 0 ? "so-pin" : "pin");
        return KEYS_EXIT_USAGE;
    }
    ret = file != NULL ? p11_pin_read_file(file, pin, size, &err)
                       : p11_pin_read_env(env, pin, size, &err);
    if (ret != 0) {
        keys_error(command, "%s: %s", what, err.message);
        return KEYS_EXIT_FAILED;
    }
    return KEYS_EXIT_OK;
}

static int init_token_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"label", required_argument, NULL, OPTION_LABEL},
        {"so-pin-file", required_argument, NULL, OPTION_SO_PIN_FILE},
        {"so-pin-env", required_argument, NULL, OPTION_SO_PIN_ENV},
        {"help", no_argument, NULL, OPTION_HELP},
        TOKEN_OPTION_ENTRIES,
        REJECTED_PIN_ENTRIES,
        {NULL, 0, NULL, 0},
    };
    const char *command = "init-token";
    const char *label = NULL;
    const char *so_pin_file = NULL;
    const char *so_pin_env = NULL;
    p11_config config;
    char so_pin[300];
    char pin[300];
    char serial[32];
    p11_error err;
    int option;
    int code = KEYS_EXIT_OK;

    memset(&config, 0, sizeof(config));
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == OPTION_LABEL)
            label = optarg;
        else if (option == OPTION_SO_PIN_FILE)
            so_pin_file = optarg;
        else if (option == OPTION_SO_PIN_ENV)
            so_pin_env = optarg;
        else if (keys_common_option(command, option, &config, argv, &code) != 0)
            return code;
    }
    if (optind != argc || label == NULL) {
        keys_error(command,
                   optind != argc ? "unexpected argument '%s'" : "--label is required%s",
                   optind != argc ? argv[optind] : "");
        return KEYS_EXIT_USAGE;
    }
    if (config.token_label != NULL || config.token_serial != NULL) {
        keys_error(command,
                   "the new token is named by --label; --token and --serial do not "
                   "apply");
        return KEYS_EXIT_USAGE;
    }
    if ((config.module_path == NULL || strstr(config.module_path, "softhsm") != NULL) &&
        getenv("SOFTHSM2_CONF") == NULL)
        fprintf(stderr, "idsvc-admin keys init-token: note: SOFTHSM2_CONF is not set, so "
                        "SoftHSM2 uses its system token folder\n");

    code = read_pin(command, so_pin_file, so_pin_env, "SO PIN", so_pin, sizeof(so_pin));
    if (code == KEYS_EXIT_OK)
        code = read_pin(command, config.pin_file, config.pin_env, "user PIN", pin,
                        sizeof(pin));
    if (code == KEYS_EXIT_OK && p11_token_init(config.module_path, label, so_pin, pin,
                                               serial, sizeof(serial), &err) != 0) {
        keys_error(command, "token '%s': %s", label, err.message);
        code = KEYS_EXIT_FAILED;
    }
    OPENSSL_cleanse(so_pin, sizeof(so_pin));
    OPENSSL_cleanse(pin, sizeof(pin));
    if (code == KEYS_EXIT_OK)
        printf("initialised token '%s' with serial %s\n", label, serial);
    return code;
}

/* The arguments of "keys generate". */
typedef struct generate_args {
    const char *type_name;
    p11_key_type type;
    const char *label;
    unsigned char *id; /* NULL: the token layer picks a random id */
    size_t id_len;
    p11_config config;
} generate_args;

/* Reads the options of "keys generate". Returns 0 to go on, or -1 to stop with the exit
 * code in *code, after --help or a usage error. */
static int parse_generate(int argc, char **argv, generate_args *args, int *code)
{
    static const struct option options[] = {
        {"type", required_argument, NULL, OPTION_TYPE},
        {"label", required_argument, NULL, OPTION_LABEL},
        {"id", required_argument, NULL, OPTION_ID},
        {"help", no_argument, NULL, OPTION_HELP},
        TOKEN_OPTION_ENTRIES,
        REJECTED_PIN_ENTRIES,
        {NULL, 0, NULL, 0},
    };
    const char *command = "generate";
    const char *id_text = NULL;
    int option;

    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == OPTION_TYPE)
            args->type_name = optarg;
        else if (option == OPTION_LABEL)
            args->label = optarg;
        else if (option == OPTION_ID)
            id_text = optarg;
        else if (keys_common_option(command, option, &args->config, argv, code) != 0)
            return -1;
    }
    if (optind != argc) {
        keys_error(command, "unexpected argument '%s'", argv[optind]);
        *code = KEYS_EXIT_USAGE;
        return -1;
    }
    if (args->type_name == NULL ||
        p11_key_type_parse(args->type_name, &args->type) != 0) {
        keys_error(command, "--type must be rsa2048, rsa3072, p256 or p384, not '%s'",
                   args->type_name != NULL ? args->type_name : "");
        *code = KEYS_EXIT_USAGE;
        return -1;
    }
    if (args->label == NULL || args->label[0] == '\0') {
        keys_error(command, "--label is required");
        *code = KEYS_EXIT_USAGE;
        return -1;
    }
    if (id_text != NULL && parse_hex(id_text, &args->id, &args->id_len) != 0) {
        keys_error(command, "--id must be 1 to 64 bytes in hex, not '%s'", id_text);
        *code = KEYS_EXIT_USAGE;
        return -1;
    }
    return 0;
}

static int generate_main(int argc, char **argv)
{
    const char *command = "generate";
    generate_args args = {0};
    p11_token *token = NULL;
    p11_key *key = NULL;
    p11_error err;
    char *uri;
    int code = KEYS_EXIT_OK;

    if (parse_generate(argc, argv, &args, &code) != 0)
        goto out;
    code = keys_open_token(command, &args.config, &token);
    if (code != KEYS_EXIT_OK)
        goto out;
    if (p11_key_generate(token, args.type, args.label, args.id, args.id_len, &key,
                         &err) != 0) {
        keys_error(command, "%s key '%s': %s", args.type_name, args.label, err.message);
        code = KEYS_EXIT_FAILED;
        goto out;
    }
    uri = p11_key_get_uri(key);
    if (uri == NULL) {
        keys_error(command, "cannot format the URI of key '%s'", args.label);
        code = KEYS_EXIT_FAILED;
        goto out;
    }
    printf("%s\n", uri);
    free(uri);
out:
    free(args.id);
    p11_key_free(&key);
    p11_token_close(&token);
    return code;
}

static const char *yes_no(bool value)
{
    return value ? "true" : "false";
}

static int print_json(const p11_key_info *infos, size_t count)
{
    json_t *array = json_array();
    char *text;

    for (size_t i = 0; i < count && array != NULL; i++) {
        const p11_key_info *k = &infos[i];
        json_t *item = json_pack(
            "{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:b}", "label", k->label,
            "id", k->id_hex, "uri", k->uri, "type", k->type_name, "sensitive",
            k->sensitive, "always_sensitive", k->always_sensitive, "extractable",
            k->extractable, "never_extractable", k->never_extractable, "sign",
            k->can_sign, "decrypt", k->can_decrypt, "certificate", k->has_certificate);

        if (item == NULL || json_array_append_new(array, item) != 0) {
            json_decref(array);
            array = NULL;
        }
    }
    text = array != NULL ? json_dumps(array, JSON_INDENT(2)) : NULL;
    json_decref(array);
    if (text == NULL)
        return -1;
    printf("%s\n", text);
    free(text);
    return 0;
}

static void print_text(const p11_key_info *infos, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const p11_key_info *k = &infos[i];

        printf("%s%s\n", i > 0 ? "\n" : "", k->label);
        printf("  id:          %s\n", k->id_hex);
        printf("  uri:         %s\n", k->uri);
        printf("  type:        %s\n", k->type_name);
        printf("  attributes:  sensitive=%s always_sensitive=%s extractable=%s "
               "never_extractable=%s sign=%s decrypt=%s\n",
               yes_no(k->sensitive), yes_no(k->always_sensitive), yes_no(k->extractable),
               yes_no(k->never_extractable), yes_no(k->can_sign), yes_no(k->can_decrypt));
        printf("  certificate: %s\n", k->has_certificate ? "stored" : "none");
    }
}

static int list_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, OPTION_JSON},
        {"help", no_argument, NULL, OPTION_HELP},
        TOKEN_OPTION_ENTRIES,
        REJECTED_PIN_ENTRIES,
        {NULL, 0, NULL, 0},
    };
    const char *command = "list";
    p11_config config;
    p11_token *token = NULL;
    p11_key_info *infos = NULL;
    size_t count = 0;
    bool json = false;
    p11_error err;
    int option;
    int code = KEYS_EXIT_OK;

    memset(&config, 0, sizeof(config));
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == OPTION_JSON)
            json = true;
        else if (keys_common_option(command, option, &config, argv, &code) != 0)
            return code;
    }
    if (optind != argc) {
        keys_error(command, "unexpected argument '%s'", argv[optind]);
        return KEYS_EXIT_USAGE;
    }
    code = keys_open_token(command, &config, &token);
    if (code != KEYS_EXIT_OK)
        return code;
    if (p11_key_list(token, &infos, &count, &err) != 0) {
        keys_error(command, "%s", err.message);
        code = KEYS_EXIT_FAILED;
    } else if (json) {
        if (print_json(infos, count) != 0) {
            keys_error(command, "cannot format the list as JSON");
            code = KEYS_EXIT_FAILED;
        }
    } else {
        print_text(infos, count);
    }
    p11_key_info_free(infos, count);
    p11_token_close(&token);
    return code;
}

static X509 *read_cert(const char *command, const char *path)
{
    FILE *file = fopen(path, "r");
    X509 *cert;

    if (file == NULL) {
        keys_error(command, "cannot open certificate '%s': %s", path, strerror(errno));
        return NULL;
    }
    cert = PEM_read_X509(file, NULL, NULL, NULL);
    fclose(file);
    if (cert == NULL)
        keys_error(command, "'%s' holds no PEM certificate", path);
    return cert;
}

static int import_cert_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"key", required_argument, NULL, OPTION_KEY},
        {"cert", required_argument, NULL, OPTION_CERT},
        {"help", no_argument, NULL, OPTION_HELP},
        TOKEN_OPTION_ENTRIES,
        REJECTED_PIN_ENTRIES,
        {NULL, 0, NULL, 0},
    };
    const char *command = "import-cert";
    const char *uri = NULL;
    const char *path = NULL;
    p11_config config;
    p11_token *token = NULL;
    p11_key *key = NULL;
    X509 *cert = NULL;
    p11_error err;
    int option;
    int code = KEYS_EXIT_OK;

    memset(&config, 0, sizeof(config));
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == OPTION_KEY)
            uri = optarg;
        else if (option == OPTION_CERT)
            path = optarg;
        else if (keys_common_option(command, option, &config, argv, &code) != 0)
            return code;
    }
    if (optind != argc || uri == NULL || path == NULL) {
        keys_error(command, "--key URI and --cert FILE are required");
        return KEYS_EXIT_USAGE;
    }
    cert = read_cert(command, path);
    if (cert == NULL)
        return KEYS_EXIT_FAILED;
    code = keys_open_token(command, &config, &token);
    if (code == KEYS_EXIT_OK)
        code = keys_find_key(command, token, uri, &key);
    if (code == KEYS_EXIT_OK && p11_cert_store(token, key, cert, &err) != 0) {
        keys_error(command, "certificate '%s' for key %s: %s", path, uri, err.message);
        code = KEYS_EXIT_FAILED;
    }
    if (code == KEYS_EXIT_OK)
        printf("stored certificate '%s' beside key '%s'\n", path, p11_key_get_label(key));
    X509_free(cert);
    p11_key_free(&key);
    p11_token_close(&token);
    return code;
}

int admin_keys_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {
        {"init-token", init_token_main},
        {"generate", generate_main},
        {"certificate", keys_certificate_main},
        {"request", keys_request_main},
        {"list", list_main},
        {"import-cert", import_cert_main},
        {"remove", keys_remove_main},
    };

    if (argc < 2) {
        keys_print_help(stderr);
        return KEYS_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        keys_print_help(stdout);
        return KEYS_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            /* Each command parses its own options from its own name on. */
            optind = 1;
            opterr = 0;
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "idsvc-admin keys: unknown command '%s'\n", argv[1]);
    keys_print_help(stderr);
    return KEYS_EXIT_USAGE;
}
