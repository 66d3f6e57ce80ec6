/*
 * idsvc-admin webauthn: verifies one WebAuthn registration or assertion response from a
 * file, with the same library the server uses, for operators debugging a deployment and
 * for scripted checks. Prints JSON and exits 0, or prints "rejected: CODE: sentence" on
 * standard error and exits 1; usage errors exit 2.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "admin.h"
#include "number_arg.h"
#include "webauthn.h"

#define MAX_RESPONSE_FILE (1024 * 1024)

typedef struct webauthn_options {
    const char *rp_id;
    const char *origins[16];
    size_t origin_count;
    const char *challenge;
    const char *at;
    const char *roots[16];
    size_t root_count;
    const char *attestation;
    const char *public_key;
    const char *stored_count;
    const char *credential_id;
    webauthn_backup_eligibility backup_eligibility;
    bool require_uv;
    bool allow_cross_origin;
    const char *response_path;
} webauthn_options;

static void print_usage(FILE *out)
{
    fputs("usage: idsvc-admin webauthn register --rp-id ID --origin URL --challenge "
          "B64URL\n"
          "           [--at RFC3339-TIME] [--root PEM ...] [--attestation "
          "none|self|chain]\n"
          "           [--require-uv] [--allow-cross-origin] RESPONSE.json\n"
          "       idsvc-admin webauthn authenticate --rp-id ID --origin URL\n"
          "           --challenge B64URL --public-key COSE-B64URL --stored-count N\n"
          "           [--credential-id B64URL] [--backup-eligible yes|no]\n"
          "           [--require-uv] [--allow-cross-origin] RESPONSE.json\n"
          "\n"
          "  --rp-id ID            the relying party id, such as id.example.org\n"
          "  --origin URL          an allowed origin, such as https://id.example.org;\n"
          "                        repeat for several\n"
          "  --challenge B64URL    the challenge the server issued, base64url\n"
          "  --at TIME             check certificate chains at this time, such as\n"
          "                        2025-01-08T00:00:00Z (default: now)\n"
          "  --root PEM            a file of trusted attestation root certificates;\n"
          "                        repeat for several\n"
          "  --attestation MODE    none: accept any attestation, none included;\n"
          "                        self: reject format none;\n"
          "                        chain: require a chain to a --root.\n"
          "                        Default: chain when a --root is given, else none\n"
          "  --require-uv          reject responses without user verification (UV)\n"
          "  --allow-cross-origin  accept crossOrigin true or a topOrigin in\n"
          "                        clientDataJSON\n"
          "  --public-key B64URL   the stored COSE public key\n"
          "  --stored-count N      the stored signature counter\n"
          "  --credential-id B64URL  the stored credential id the rawId must equal\n"
          "  --backup-eligible yes|no  the BE flag of the registration; the assertion's\n"
          "                        BE flag must equal it (default: not compared)\n"
          "\n"
          "Exit status: 0 valid, 1 rejected (\"rejected: CODE: sentence\" on stderr), 2 "
          "usage error or internal_error.\n",
          out);
}

static int usage_error(const char *message, const char *value)
{
    fprintf(stderr, "idsvc-admin webauthn: %s%s%s\n", message, value ? ": " : "",
            value ? value : "");
    fputs("Run 'idsvc-admin webauthn --help' for the options.\n", stderr);
    return 2;
}

static int add_repeated(const char **list, size_t *count, const char *value,
                        const char *name)
{
    if (*count >= 16)
        return usage_error("at most 16 values are allowed for", name);
    list[(*count)++] = value;
    return 0;
}

/* Parses the options after the subcommand. Returns 0, -1 after printing the help, or
 * the exit status 2. */
static int parse_options(int argc, char **argv, webauthn_options *opts)
{
    static const struct option long_options[] = {
        {"rp-id", required_argument, NULL, 'r'},
        {"origin", required_argument, NULL, 'o'},
        {"challenge", required_argument, NULL, 'c'},
        {"at", required_argument, NULL, 't'},
        {"root", required_argument, NULL, 'R'},
        {"attestation", required_argument, NULL, 'a'},
        {"require-uv", no_argument, NULL, 'u'},
        {"allow-cross-origin", no_argument, NULL, 'x'},
        {"public-key", required_argument, NULL, 'k'},
        {"stored-count", required_argument, NULL, 'n'},
        {"credential-id", required_argument, NULL, 'i'},
        {"backup-eligible", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int option;

    optind = 1;
    while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        int status = 0;

        switch (option) {
        case 'r':
            opts->rp_id = optarg;
            break;
        case 'o':
            status = add_repeated(opts->origins, &opts->origin_count, optarg, "--origin");
            break;
        case 'c':
            opts->challenge = optarg;
            break;
        case 't':
            opts->at = optarg;
            break;
        case 'R':
            status = add_repeated(opts->roots, &opts->root_count, optarg, "--root");
            break;
        case 'a':
            opts->attestation = optarg;
            break;
        case 'u':
            opts->require_uv = true;
            break;
        case 'x':
            opts->allow_cross_origin = true;
            break;
        case 'k':
            opts->public_key = optarg;
            break;
        case 'n': {
            uint64_t stored;

            /* Checked here, so that a bad number is named before any file is read. */
            if (admin_parse_number("idsvc-admin webauthn", "--stored-count", optarg, 0,
                                   UINT32_MAX, &stored) != 0)
                return 2;
            opts->stored_count = optarg;
            break;
        }
        case 'i':
            opts->credential_id = optarg;
            break;
        case 'b':
            if (strcmp(optarg, "yes") == 0)
                opts->backup_eligibility = WEBAUTHN_BACKUP_ELIGIBLE;
            else if (strcmp(optarg, "no") == 0)
                opts->backup_eligibility = WEBAUTHN_BACKUP_INELIGIBLE;
            else
                return usage_error("--backup-eligible must be yes or no", optarg);
            break;
        case 'h':
            print_usage(stdout);
            return -1;
        default:
            return usage_error("invalid option", NULL);
        }
        if (status != 0)
            return status;
    }

    if (optind + 1 != argc)
        return usage_error("exactly one RESPONSE.json file is required", NULL);
    opts->response_path = argv[optind];
    if (opts->rp_id == NULL || opts->origin_count == 0 || opts->challenge == NULL)
        return usage_error("--rp-id, --origin and --challenge are required", NULL);
    return 0;
}

/* Parses an RFC 3339 date-time such as 2025-01-08T00:00:00Z or with an offset such as
 * +08:00; fractional seconds are ignored. Returns 0 or -1. */
static int parse_rfc3339(const char *text, time_t *out)
{
    struct tm tm;
    int year, month, day, hour, minute, second, consumed = 0;
    const char *rest;
    long offset = 0;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(text, "%4d-%2d-%2d%*1[Tt]%2d:%2d:%2d%n", &year, &month, &day, &hour,
               &minute, &second, &consumed) != 6 ||
        consumed != 19)
        return -1;
    rest = text + consumed;
    if (*rest == '.') {
        rest++;
        if (!isdigit((unsigned char)*rest))
            return -1;
        while (isdigit((unsigned char)*rest))
            rest++;
    }

    if ((rest[0] == 'Z' || rest[0] == 'z') && rest[1] == '\0') {
        offset = 0;
    } else if ((rest[0] == '+' || rest[0] == '-') && strlen(rest) == 6 &&
               rest[3] == ':' && isdigit((unsigned char)rest[1]) &&
               isdigit((unsigned char)rest[2]) && isdigit((unsigned char)rest[4]) &&
               isdigit((unsigned char)rest[5])) {
        offset = ((rest[1] - '0') * 10 + (rest[2] - '0')) * 3600L +
                 ((rest[4] - '0') * 10 + (rest[5] - '0')) * 60L;
        if (rest[0] == '-')
            offset = -offset;
    } else {
        return -1;
    }

    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
        second > 60)
        return -1;
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    *out = timegm(&tm) - offset;
    return 0;
}

static char *read_response(const char *path, size_t *len)
{
    FILE *file = fopen(path, "rb");
    char *buffer;

    if (file == NULL)
        return NULL;
    buffer = malloc(MAX_RESPONSE_FILE + 1);
    if (buffer != NULL) {
        *len = fread(buffer, 1, MAX_RESPONSE_FILE + 1, file);
        if (ferror(file) || *len > MAX_RESPONSE_FILE) {
            free(buffer);
            buffer = NULL;
        }
    }
    fclose(file);
    return buffer;
}

static webauthn_attestation_policy default_policy(const webauthn_options *opts)
{
    return opts->root_count > 0 ? WEBAUTHN_ATTESTATION_CHAIN : WEBAUTHN_ATTESTATION_ANY;
}

/* Builds the verifier from the options. Returns 0, or the exit status 2. */
static int build_verifier(const webauthn_options *opts, webauthn_verifier **out)
{
    webauthn_verifier *verifier = webauthn_verifier_new(opts->rp_id);
    webauthn_attestation_policy policy = default_policy(opts);
    webauthn_error err;
    time_t at = 0;

    *out = NULL;
    if (verifier == NULL)
        return usage_error("invalid --rp-id", opts->rp_id);
    for (size_t i = 0; i < opts->origin_count; i++) {
        if (webauthn_verifier_add_origin(verifier, opts->origins[i]) != 0)
            goto fail_memory;
    }
    for (size_t i = 0; i < opts->root_count; i++) {
        if (webauthn_verifier_add_roots_file(verifier, opts->roots[i], &err) != 0) {
            webauthn_verifier_free(&verifier);
            return usage_error(err.message, NULL);
        }
    }

    if (opts->attestation != NULL) {
        if (strcmp(opts->attestation, "none") == 0)
            policy = WEBAUTHN_ATTESTATION_ANY;
        else if (strcmp(opts->attestation, "self") == 0)
            policy = WEBAUTHN_ATTESTATION_SELF;
        else if (strcmp(opts->attestation, "chain") == 0)
            policy = WEBAUTHN_ATTESTATION_CHAIN;
        else {
            webauthn_verifier_free(&verifier);
            return usage_error("--attestation must be none, self or chain",
                               opts->attestation);
        }
    }
    if (opts->at != NULL && parse_rfc3339(opts->at, &at) != 0) {
        webauthn_verifier_free(&verifier);
        return usage_error("--at is not an RFC 3339 time such as 2025-01-08T00:00:00Z",
                           opts->at);
    }

    webauthn_verifier_set_policy(verifier, policy);
    webauthn_verifier_set_require_uv(verifier, opts->require_uv);
    webauthn_verifier_set_allow_cross_origin(verifier, opts->allow_cross_origin);
    webauthn_verifier_set_time(verifier, at);
    *out = verifier;
    return 0;

fail_memory:
    webauthn_verifier_free(&verifier);
    fputs("idsvc-admin webauthn: out of memory\n", stderr);
    return 2;
}

static const char *attestation_name(webauthn_attestation_type type)
{
    switch (type) {
    case WEBAUTHN_ATTESTED_NONE:
        return "none";
    case WEBAUTHN_ATTESTED_SELF:
        return "self";
    case WEBAUTHN_ATTESTED_BASIC:
        return "basic";
    case WEBAUTHN_ATTESTED_TRUSTED:
        return "trusted";
    }
    return "unknown";
}

/* Adds flags as a number and each named bit as a boolean. */
static void add_flags(json_t *object, uint8_t flags)
{
    json_object_set_new(object, "flags", json_integer(flags));
    json_object_set_new(object, "up", json_boolean(flags & 0x01));
    json_object_set_new(object, "uv", json_boolean(flags & 0x04));
    json_object_set_new(object, "be", json_boolean(flags & 0x08));
    json_object_set_new(object, "bs", json_boolean(flags & 0x10));
}

static void format_aaguid(const unsigned char aaguid[16], char text[37])
{
    char *p = text;

    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        p += sprintf(p, "%02x", aaguid[i]);
    }
}

static int print_json(json_t *object)
{
    char *text = json_dumps(object, JSON_INDENT(2));

    json_decref(object);
    if (text == NULL) {
        fputs("idsvc-admin webauthn: out of memory\n", stderr);
        return 2;
    }
    printf("%s\n", text);
    free(text);
    return 0;
}

static int print_registration(const webauthn_registration *reg)
{
    json_t *object = json_object();
    char *credential_id = NULL, *public_key = NULL;
    char aaguid[37];
    int status;

    format_aaguid(reg->aaguid, aaguid);
    if (object == NULL ||
        webauthn_base64url_encode(reg->credential_id, reg->credential_id_len,
                                  &credential_id) != 0 ||
        webauthn_base64url_encode(reg->public_key, reg->public_key_len, &public_key) !=
            0) {
        json_decref(object);
        free(credential_id);
        fputs("idsvc-admin webauthn: out of memory\n", stderr);
        return 2;
    }

    json_object_set_new(object, "fmt", json_string(reg->fmt));
    json_object_set_new(object, "attestation",
                        json_string(attestation_name(reg->attestation)));
    json_object_set_new(object, "aaguid", json_string(aaguid));
    json_object_set_new(object, "credential_id", json_string(credential_id));
    json_object_set_new(object, "public_key", json_string(public_key));
    json_object_set_new(object, "algorithm", json_integer(reg->algorithm));
    json_object_set_new(object, "algorithm_name",
                        json_string(webauthn_algorithm_name(reg->algorithm)));
    add_flags(object, reg->flags);
    json_object_set_new(object, "sign_count", json_integer(reg->sign_count));
    status = print_json(object);

    free(credential_id);
    free(public_key);
    return status;
}

static int print_rejection(const webauthn_error *err)
{
    fprintf(stderr, "rejected: %s: %s\n", webauthn_code_name(err->code), err->message);
    return err->code == WEBAUTHN_INTERNAL_ERROR ? 2 : 1;
}

/* Decodes a base64url option value. Returns 0, or the exit status 2. */
static int decode_option(const char *name, const char *value, unsigned char **out,
                         size_t *len)
{
    if (webauthn_base64url_decode(value, strlen(value), out, len) != 0 || *len == 0)
        return usage_error("this option is not non-empty unpadded base64url", name);
    return 0;
}

static int run_register(const webauthn_verifier *verifier, const unsigned char *challenge,
                        size_t challenge_len, const char *response, size_t response_len)
{
    webauthn_registration *reg = NULL;
    webauthn_error err;
    int status;

    if (webauthn_verify_registration(verifier, challenge, challenge_len, response,
                                     response_len, &reg, &err) != WEBAUTHN_OK)
        return print_rejection(&err);
    status = print_registration(reg);
    webauthn_registration_free(&reg);
    return status;
}

static int run_authenticate(const webauthn_options *opts,
                            const webauthn_verifier *verifier,
                            const unsigned char *challenge, size_t challenge_len,
                            const char *response, size_t response_len)
{
    webauthn_credential credential = {0};
    webauthn_assertion result;
    webauthn_error err;
    unsigned char *public_key = NULL, *credential_id = NULL;
    size_t public_key_len = 0, credential_id_len = 0;
    uint64_t stored;
    json_t *object;
    int status;

    if (opts->public_key == NULL || opts->stored_count == NULL)
        return usage_error("authenticate needs --public-key and --stored-count", NULL);
    if (admin_parse_number("idsvc-admin webauthn", "--stored-count", opts->stored_count, 0,
                           UINT32_MAX, &stored) != 0)
        return 2;

    status =
        decode_option("--public-key", opts->public_key, &public_key, &public_key_len);
    if (status == 0 && opts->credential_id != NULL)
        status = decode_option("--credential-id", opts->credential_id, &credential_id,
                               &credential_id_len);
    if (status != 0)
        goto out;

    credential.id = credential_id;
    credential.id_len = credential_id_len;
    credential.public_key = public_key;
    credential.public_key_len = public_key_len;
    credential.sign_count = (uint32_t)stored;
    credential.backup_eligibility = opts->backup_eligibility;

    if (webauthn_verify_assertion(verifier, challenge, challenge_len, &credential,
                                  response, response_len, &result, &err) != WEBAUTHN_OK) {
        status = print_rejection(&err);
        goto out;
    }

    object = json_object();
    if (object == NULL) {
        status = 2;
        goto out;
    }
    json_object_set_new(object, "sign_count", json_integer(result.sign_count));
    add_flags(object, result.flags);
    status = print_json(object);

out:
    free(public_key);
    free(credential_id);
    return status;
}

int admin_webauthn_main(int argc, char **argv)
{
    webauthn_options opts = {0};
    webauthn_verifier *verifier = NULL;
    unsigned char *challenge = NULL;
    size_t challenge_len = 0, response_len = 0;
    char *response = NULL;
    bool registering;
    int status;

    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "register") != 0 && strcmp(argv[1], "authenticate") != 0)
        return usage_error("unknown subcommand", argv[1]);
    registering = strcmp(argv[1], "register") == 0;

    status = parse_options(argc - 1, argv + 1, &opts);
    if (status != 0)
        return status == -1 ? 0 : status;

    status = decode_option("--challenge", opts.challenge, &challenge, &challenge_len);
    if (status == 0)
        status = build_verifier(&opts, &verifier);
    if (status != 0)
        goto out;

    response = read_response(opts.response_path, &response_len);
    if (response == NULL) {
        status = usage_error("cannot read the response file, or it is larger than 1 MiB",
                             opts.response_path);
        goto out;
    }

    if (registering)
        status = run_register(verifier, challenge, challenge_len, response, response_len);
    else
        status = run_authenticate(&opts, verifier, challenge, challenge_len, response,
                                  response_len);

out:
    free(response);
    free(challenge);
    webauthn_verifier_free(&verifier);
    return status;
}
