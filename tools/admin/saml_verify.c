/*
 * idsvc-admin saml verify: verifies a signed SAML 2.0 Assertion, or a Response with one
 * Assertion, against the public keys given with --trust, and prints what it states.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>

#include "admin.h"
#include "number_arg.h"
#include "pem_file.h"
#include "saml.h"

#define PROGRAM "idsvc-admin saml verify"
#define MAX_TRUST_FILES 16
/* Larger inputs are read only up to here; verification then rejects them by size. */
#define READ_LIMIT (16u * 1024u * 1024u)

enum {
    OPTION_TRUST = 0x100,
    OPTION_AT,
    OPTION_AUDIENCE,
    OPTION_ALLOW_SHA1,
    OPTION_MIN_RSA_BITS,
    OPTION_ACCEPT_SIGNED_RESPONSE,
    OPTION_HELP,
};

typedef struct verify_args {
    const char *trust[MAX_TRUST_FILES];
    size_t trust_count;
    bool pinned_time;
    int64_t at_ms; /* --at, in milliseconds since the epoch */
    int64_t at_ps; /* the picoseconds of --at beyond its millisecond */
    const char *audience;
    bool allow_sha1;
    unsigned min_rsa_bits;
    bool accept_signed_response;
    const char *path;
} verify_args;

static void print_help(FILE *out)
{
    fputs("usage: idsvc-admin saml verify --trust PEM [--trust PEM ...] [OPTIONS] FILE\n"
          "\n"
          "Verifies a signed SAML 2.0 Assertion, or a Response with one Assertion. Prints\n"
          "the verified claims as JSON and exits 0, or prints 'rejected: CODE: reason' on\n"
          "standard error and exits 1.\n"
          "\n"
          "  --trust PEM               a file of CERTIFICATE, PUBLIC KEY or RSA PUBLIC KEY\n"
          "                            blocks, each RSA or EC key trusted for any issuer;\n"
          "                            may be given up to 16 times\n"
          "  --at TIME                 judge the validity window at this RFC 3339 time\n"
          "                            instead of now, such as 2012-07-03T11:35:00Z;\n"
          "                            up to 15 digits of a second count\n"
          "  --audience ID             require this entity ID in every AudienceRestriction,\n"
          "                            and at least one AudienceRestriction\n"
          "  --allow-sha1              accept SHA-1 digests and signature methods\n"
          "  --min-rsa-bits N          reject RSA keys shorter than N bits (default 2048)\n"
          "  --accept-signed-response  accept an unsigned Assertion inside a signed Response\n",
          out);
}

static int parse_min_bits(const char *text, unsigned *out)
{
    uint64_t value;

    if (admin_parse_number(PROGRAM, "--min-rsa-bits", text, 512, 16384, &value) != 0)
        return -1;
    *out = (unsigned)value;
    return 0;
}

static int parse_option(int option, verify_args *args)
{
    switch (option) {
    case OPTION_TRUST:
        if (args->trust_count == MAX_TRUST_FILES) {
            fprintf(stderr, PROGRAM ": at most %d --trust files are accepted\n",
                    MAX_TRUST_FILES);
            return -1;
        }
        args->trust[args->trust_count++] = optarg;
        return 0;
    case OPTION_AT:
        if (saml_time_parse_ms(optarg, &args->at_ms) != 0) {
            fprintf(stderr, PROGRAM ": --at needs an RFC 3339 time such as "
                    "2012-07-03T11:35:00Z, not \"%s\"\n", optarg);
            return -1;
        }
        args->at_ps = saml_time_fraction_ps(optarg, false);
        args->pinned_time = true;
        return 0;
    case OPTION_AUDIENCE:
        args->audience = optarg;
        return 0;
    case OPTION_ALLOW_SHA1:
        args->allow_sha1 = true;
        return 0;
    case OPTION_MIN_RSA_BITS:
        return parse_min_bits(optarg, &args->min_rsa_bits);
    case OPTION_ACCEPT_SIGNED_RESPONSE:
        args->accept_signed_response = true;
        return 0;
    default:
        return -1;
    }
}

/* Returns 0 to go on, 1 after --help, or -1 on a usage error. */
static int parse_args(int argc, char **argv, verify_args *args)
{
    static const struct option options[] = {
        { "trust", required_argument, NULL, OPTION_TRUST },
        { "at", required_argument, NULL, OPTION_AT },
        { "audience", required_argument, NULL, OPTION_AUDIENCE },
        { "allow-sha1", no_argument, NULL, OPTION_ALLOW_SHA1 },
        { "min-rsa-bits", required_argument, NULL, OPTION_MIN_RSA_BITS },
        { "accept-signed-response", no_argument, NULL, OPTION_ACCEPT_SIGNED_RESPONSE },
        { "help", no_argument, NULL, OPTION_HELP },
        { NULL, 0, NULL, 0 },
    };
    int option;

    optind = 1;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == OPTION_HELP) {
            print_help(stdout);
            return 1;
        }
        if (parse_option(option, args) != 0)
            return -1;
    }

    if (args->trust_count == 0) {
        fputs(PROGRAM ": at least one --trust PEM is required\n", stderr);
        return -1;
    }
    if (optind != argc - 1) {
        fputs(PROGRAM ": exactly one FILE to verify is required\n", stderr);
        return -1;
    }
    args->path = argv[optind];
    return 0;
}

/* Trusts key number, counted from 1, of a --trust file. Only RSA and EC keys verify
 * SAML signatures. */
static int trust_key(saml_trust_store *store, EVP_PKEY *key, const char *path,
                     size_t number, unsigned flags)
{
    int type = EVP_PKEY_get_base_id(key);

    if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
        fprintf(stderr,
                PROGRAM ": %s: key %zu has the type %s, but only RSA and EC keys verify SAML "
                "signatures\n",
                path, number, OBJ_nid2sn(type));
        return -1;
    }
    if (saml_trust_store_add(store, NULL, key, flags) != 0) {
        fprintf(stderr, PROGRAM ": %s: cannot add key %zu to the trust store\n", path,
                number);
        return -1;
    }
    return 0;
}

/* Reads every block of a --trust file with the node's strict reader, so that the tool
 * trusts what the node would trust from the same file, and trusts each key. */
static int trust_file(saml_trust_store *store, const char *path, unsigned flags)
{
    EVP_PKEY **keys = NULL;
    size_t count = 0;
    char error[512];
    int rc = pem_read_public_keys(path, &keys, &count, error, sizeof(error));

    if (rc != 0) {
        fprintf(stderr, PROGRAM ": %s\n", error);
        return -1;
    }
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = trust_key(store, keys[i], path, i + 1, flags);
    pem_keys_free(&keys, count);
    return rc;
}

static saml_trust_store *load_trust(const verify_args *args)
{
    saml_trust_store *store = saml_trust_store_new();
    unsigned flags = args->allow_sha1 ? SAML_TRUST_ALLOW_SHA1 : 0;

    if (store == NULL) {
        fputs(PROGRAM ": out of memory\n", stderr);
        return NULL;
    }
    for (size_t i = 0; i < args->trust_count; i++) {
        if (trust_file(store, args->trust[i], flags) != 0) {
            saml_trust_store_free(&store);
            return NULL;
        }
    }
    return store;
}

static char *read_input(const char *path, size_t *len)
{
    FILE *file = fopen(path, "rb");
    char *data = NULL;

    if (file == NULL) {
        fprintf(stderr, PROGRAM ": cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    data = malloc(READ_LIMIT + 1);
    if (data == NULL) {
        fputs(PROGRAM ": out of memory\n", stderr);
        fclose(file);
        return NULL;
    }
    *len = fread(data, 1, READ_LIMIT + 1, file);
    if (ferror(file)) {
        fprintf(stderr, PROGRAM ": cannot read %s\n", path);
        free(data);
        data = NULL;
    }
    fclose(file);
    return data;
}

static int64_t pinned_clock_ms(void *ctx)
{
    return *(const int64_t *)ctx;
}

/* Verifies the file and prints the result. Returns the exit status. */
static int verify_file(const verify_args *args, const saml_trust_store *store)
{
    saml_replay_memory *replay_memory = saml_replay_memory_new(NULL, NULL);
    saml_replay_cache replay = saml_replay_memory_interface(replay_memory);
    saml_verify_options options = {
        .clock_ms = args->pinned_time ? pinned_clock_ms : NULL,
        .clock_ps = args->at_ps,
        .clock_ctx = (void *)&args->at_ms,
        .audience = args->audience,
        .min_rsa_bits = args->min_rsa_bits,
        .accept_signed_response = args->accept_signed_response,
        .replay = replay_memory != NULL ? &replay : NULL,
    };
    saml_assertion *assertion = NULL;
    json_t *json = NULL;
    char detail[512];
    size_t len = 0;
    char *xml = read_input(args->path, &len);
    saml_status status;
    int exit_code = 1;

    if (xml == NULL)
        goto out;

    status = saml_verify(store, &options, xml, len, &assertion, detail, sizeof(detail));
    if (status != SAML_OK) {
        fprintf(stderr, "rejected: %s: %s\n", saml_status_code(status), detail);
        goto out;
    }

    json = saml_assertion_to_json(assertion);
    if (json == NULL || json_dumpf(json, stdout, JSON_INDENT(2)) != 0) {
        fputs(PROGRAM ": cannot print the result\n", stderr);
        goto out;
    }
    fputc('\n', stdout);
    exit_code = 0;

out:
    json_decref(json);
    saml_assertion_free(&assertion);
    saml_replay_memory_free(&replay_memory);
    free(xml);
    return exit_code;
}

int admin_saml_verify_main(int argc, char **argv)
{
    verify_args args = { 0 };
    saml_trust_store *store = NULL;
    int parsed = parse_args(argc, argv, &args);
    int exit_code;

    if (parsed != 0) {
        if (parsed < 0)
            fputs("Run '" PROGRAM " --help' for the options.\n", stderr);
        return parsed < 0 ? 2 : 0;
    }

    store = load_trust(&args);
    if (store == NULL)
        return 2;

    exit_code = verify_file(&args, store);
    saml_trust_store_free(&store);
    return exit_code;
}
