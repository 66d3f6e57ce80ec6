/*
 * idsvc-admin keys remove: destroys a key pair in the token with its certificates. The
 * command first rejects a key that the node's configuration file uses (keys_in_use.c)
 * unless --force is given. Then it reads a confirmation from a terminal, or needs --yes.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys_internal.h"
#include "token_options.h"

#define REMOVE_COMMAND "remove"

typedef struct remove_args {
    const char *label;
    const char *id_hex;
    const char *uri;
    const char *config_path;
    bool force;
    bool yes;
    p11_config token;
} remove_args;

/* Appends text to out with every byte outside the RFC 3986 unreserved set as %XX, as an
 * RFC 7512 URI wants a label. Returns 0, or -1 when out is too small. */
static int append_encoded(char *out, size_t size, const char *text)
{
    size_t used = strlen(out);

    for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
        bool plain = isalnum(*c) || strchr("-._~", *c) != NULL;
        int written = plain ? snprintf(out + used, size - used, "%c", *c)
                            : snprintf(out + used, size - used, "%%%02X", *c);

        if (written < 0 || (size_t)written >= size - used)
            return -1;
        used += (size_t)written;
    }
    return 0;
}

/* Checks that hex is 1 to 64 bytes in hex digits, as --id of 'keys generate'. */
static bool id_valid(const char *hex)
{
    size_t len = strlen(hex);

    return len > 0 && len % 2 == 0 && len <= 128 && strspn(hex, "0123456789abcdefABCDEF") == len;
}

/* Writes the URI of the private key that --label, --id or --key names. */
static int key_uri(const remove_args *args, char *out, size_t size)
{
    if (args->uri != NULL)
        return snprintf(out, size, "%s", args->uri) < (int)size ? 0 : -1;
    snprintf(out, size, "pkcs11:%s", args->label != NULL ? "object=" : "id=");
    if (args->label != NULL && append_encoded(out, size, args->label) != 0)
        return -1;
    for (const char *c = args->id_hex; c != NULL && *c != '\0'; c += 2) {
        size_t used = strlen(out);

        if (snprintf(out + used, size - used, "%%%c%c", c[0], c[1]) >= (int)(size - used))
            return -1;
    }
    if (strlen(out) + sizeof(";type=private") > size)
        return -1;
    strcat(out, ";type=private");
    return 0;
}

/* Reads the options into args. Returns 0, or the exit status to return. */
static int parse_args(int argc, char **argv, remove_args *args)
{
    static const struct option options[] = {
        {"label", required_argument, NULL, OPTION_LABEL},
        {"id", required_argument, NULL, OPTION_ID},
        {"key", required_argument, NULL, OPTION_KEY},
        {"config", required_argument, NULL, OPTION_CONFIG},
        {"force", no_argument, NULL, OPTION_FORCE},
        {"yes", no_argument, NULL, OPTION_YES},
        {"help", no_argument, NULL, OPTION_HELP},
        TOKEN_OPTION_ENTRIES,
        REJECTED_PIN_ENTRIES,
        {NULL, 0, NULL, 0},
    };
    int option;
    int code = KEYS_EXIT_OK;

    memset(args, 0, sizeof(*args));
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == OPTION_LABEL)
            args->label = optarg;
        else if (option == OPTION_ID)
            args->id_hex = optarg;
        else if (option == OPTION_KEY)
            args->uri = optarg;
        else if (option == OPTION_CONFIG)
            args->config_path = optarg;
        else if (option == OPTION_FORCE)
            args->force = true;
        else if (option == OPTION_YES)
            args->yes = true;
        else if (keys_common_option(REMOVE_COMMAND, option, &args->token, argv, &code) != 0)
            return code;
    }
    if (optind != argc) {
        keys_error(REMOVE_COMMAND, "unexpected argument '%s'", argv[optind]);
        return KEYS_EXIT_USAGE;
    }
    if ((args->label != NULL) + (args->id_hex != NULL) + (args->uri != NULL) != 1) {
        keys_error(REMOVE_COMMAND, "name the key by exactly one of --label L, --id HEX or "
                                   "--key URI");
        return KEYS_EXIT_USAGE;
    }
    if ((args->label != NULL && args->label[0] == '\0') ||
        (args->id_hex != NULL && !id_valid(args->id_hex))) {
        keys_error(REMOVE_COMMAND, "--label must not be empty, and --id must be 1 to 64 "
                                   "bytes in hex");
        return KEYS_EXIT_USAGE;
    }
    if (args->config_path == NULL && !args->force) {
        keys_error(REMOVE_COMMAND, "--config FILE is required, so that a key the node uses "
                                   "is not removed; pass --force to remove without the check");
        return KEYS_EXIT_USAGE;
    }
    return KEYS_EXIT_OK;
}

/*
 * Asks on the terminal whether to remove the key described by description. Returns
 * KEYS_EXIT_OK when the operator typed "yes", KEYS_EXIT_FAILED for any other input,
 * and KEYS_EXIT_USAGE without --yes when standard input is not a terminal.
 */
static int confirm(const remove_args *args, const char *description, const char *token_label)
{
    char answer[16] = "";

    if (args->yes)
        return KEYS_EXIT_OK;
    if (!isatty(STDIN_FILENO)) {
        keys_error(REMOVE_COMMAND, "standard input is not a terminal, so the removal of %s "
                   "cannot be confirmed; pass --yes", description);
        return KEYS_EXIT_USAGE;
    }
    fprintf(stderr, "Remove %s from token '%s'? The key cannot be recovered. Type yes to "
            "remove it: ", description, token_label);
    fflush(stderr);
    if (fgets(answer, sizeof(answer), stdin) == NULL || strcmp(answer, "yes\n") != 0) {
        keys_error(REMOVE_COMMAND, "not confirmed; nothing was removed");
        return KEYS_EXIT_FAILED;
    }
    return KEYS_EXIT_OK;
}

/* Describes the key as "private key 'LABEL' (id HEX, type TYPE)". Control characters
 * of the label become '?', so that a label cannot rewrite the terminal around the
 * confirmation prompt. */
static void describe_key(p11_key *key, char *out, size_t size)
{
    size_t id_len = 0;
    const unsigned char *id = p11_key_get_id(key, &id_len);
    const char *label = p11_key_get_label(key);
    char id_hex[129] = "";
    char shown[256];
    size_t len = 0;

    for (size_t i = 0; i < id_len && i < 64; i++)
        snprintf(id_hex + 2 * i, 3, "%02x", id[i]);
    for (const unsigned char *c = (const unsigned char *)label;
         c != NULL && *c != '\0' && len + 1 < sizeof(shown); c++)
        shown[len++] = *c < 0x20 || *c == 0x7f ? '?' : (char)*c;
    shown[len] = '\0';
    snprintf(out, size, "private key '%s' (id %s, type %s)", shown,
             id_len > 0 ? id_hex : "none", p11_key_type_name(p11_key_get_type(key)));
}

/* Rejects a key that the configuration uses unless --force is given. */
static int check_in_use(const remove_args *args, p11_token *token, p11_key *key,
                        const char *description)
{
    char uses[2048] = "";
    int found;

    if (args->config_path == NULL)
        return KEYS_EXIT_OK;
    found = keys_config_uses(args->config_path, token, key, uses, sizeof(uses));
    if (found < 0) {
        keys_error(REMOVE_COMMAND, "%s", uses);
        return KEYS_EXIT_FAILED;
    }
    if (found == 0)
        return KEYS_EXIT_OK;
    if (!args->force) {
        keys_error(REMOVE_COMMAND, "%s is in use by %s: %s; nothing was removed. Rotate "
                   "the node to another key first, or pass --force", description,
                   args->config_path, uses);
        return KEYS_EXIT_FAILED;
    }
    fprintf(stderr, "idsvc-admin keys remove: warning: removing %s although %s uses it: "
            "%s\n", description, args->config_path, uses);
    return KEYS_EXIT_OK;
}

static int remove_key(const remove_args *args, p11_token *token, p11_key **key)
{
    char description[512];
    p11_removed removed;
    p11_error err;
    int code;

    describe_key(*key, description, sizeof(description));
    /* Both the in-use check and the removal compare public keys, so an ambiguous public
     * half stops the command even with --force. */
    if (p11_key_check_companions(*key, &err) != 0) {
        keys_error(REMOVE_COMMAND, "%s: %s; nothing was removed", description, err.message);
        return KEYS_EXIT_FAILED;
    }
    code = check_in_use(args, token, *key, description);
    if (code == KEYS_EXIT_OK)
        code = confirm(args, description, p11_token_get_label(token));
    if (code != KEYS_EXIT_OK)
        return code;
    if (p11_key_destroy(key, &removed, &err) != 0) {
        keys_error(REMOVE_COMMAND, "%s: %s; %s", description, err.message,
                   removed.private_key ? "the private key was removed, but not all of its "
                                         "public keys and certificates"
                                       : "nothing was removed");
        return KEYS_EXIT_FAILED;
    }
    printf("removed %s, %zu public key%s and %zu certificate%s from token '%s'\n", description,
           removed.public_keys, removed.public_keys == 1 ? "" : "s", removed.certificates,
           removed.certificates == 1 ? "" : "s", p11_token_get_label(token));
    if (removed.kept > 0)
        printf("kept %zu public key or certificate object%s with the same id or label, "
               "because %s another key\n", removed.kept, removed.kept == 1 ? "" : "s",
               removed.kept == 1 ? "it holds" : "they hold");
    return KEYS_EXIT_OK;
}

int keys_remove_main(int argc, char **argv)
{
    remove_args args;
    p11_token *token = NULL;
    p11_key *key = NULL;
    char uri[512];
    int code = parse_args(argc, argv, &args);

    if (code != KEYS_EXIT_OK)
        return code;
    if (key_uri(&args, uri, sizeof(uri)) != 0) {
        keys_error(REMOVE_COMMAND, "the key's label or URI is longer than %zu bytes",
                   sizeof(uri) - 1);
        return KEYS_EXIT_USAGE;
    }
    code = keys_open_token(REMOVE_COMMAND, &args.token, &token);
    if (code == KEYS_EXIT_OK)
        code = keys_find_key(REMOVE_COMMAND, token, uri, &key);
    if (code == KEYS_EXIT_OK)
        code = remove_key(&args, token, &key);
    p11_key_free(&key);
    p11_token_close(&token);
    return code;
}
