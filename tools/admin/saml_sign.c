/*
 * idsvc-admin saml sign: builds a SAML 2.0 Assertion from a claims JSON file, signs it
 * with a key in the HSM and prints it on standard output.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "admin.h"
#include "saml.h"
#include "number_arg.h"
#include "token_options.h"

#define PROGRAM "idsvc-admin saml sign"

/* The default validity is short because a relying party checks a presented assertion
 * at once. The maximum keeps a typing mistake from issuing a credential for decades. */
#define VALID_DEFAULT_SECONDS 300
#define VALID_MAX_SECONDS (366L * 24 * 3600)

enum {
    OPTION_KEY = 0x100,
    OPTION_ISSUER,
    OPTION_AUDIENCE,
    OPTION_CLAIMS,
    OPTION_CERT,
    OPTION_STORED_CERT,
    OPTION_KEY_NAME,
    OPTION_VALID,
    OPTION_HELP,
};

typedef struct sign_options {
    p11_config token;
    const char *key_uri;
    const char *issuer;
    const char *audience;
    const char *claims_path;
    const char *cert_path;
    bool stored_cert;
    const char *key_name;
    long valid_seconds;
} sign_options;

static void print_help(FILE *out)
{
    fputs("usage: idsvc-admin saml sign --key URI --issuer ID --audience ID\n"
          "                             --claims FILE.json [OPTIONS] TOKEN-OPTIONS\n"
          "\n"
          "Builds a SAML 2.0 Assertion, signs it inside the HSM and prints it.\n"
          "\n"
          "  --key URI          pkcs11: URI of the signing key (RSA or EC)\n"
          "  --issuer ID        entity ID written to Issuer\n"
          "  --audience ID      entity ID of the relying party (AudienceRestriction)\n"
          "  --claims FILE      claims JSON file (format in docs/saml-profile.md)\n"
          "  --cert FILE        PEM certificate of the key to add to KeyInfo\n"
          "  --stored-cert      add the certificate stored beside the key in the token\n"
          "  --key-name NAME    KeyInfo KeyName (default: the key's label)\n"
          "  --valid SECONDS    validity from now (default 300, at most 31622400)\n"
          "\n",
          out);
    token_options_print_help(out);
}

static int parse_valid(const char *text, long *out)
{
    uint64_t value;

    if (admin_read_number(text, 1, VALID_MAX_SECONDS, &value) != 0) {
        fprintf(stderr, PROGRAM ": --valid must be a number of seconds from 1 to %ld, "
                "not \"%s\"\n", VALID_MAX_SECONDS, text);
        return -1;
    }
    *out = (long)value;
    return 0;
}

static int apply_option(sign_options *options, int option, const char *value)
{
    switch (option) {
    case OPTION_KEY:
        options->key_uri = value;
        return 0;
    case OPTION_ISSUER:
        options->issuer = value;
        return 0;
    case OPTION_AUDIENCE:
        options->audience = value;
        return 0;
    case OPTION_CLAIMS:
        options->claims_path = value;
        return 0;
    case OPTION_CERT:
        options->cert_path = value;
        return 0;
    case OPTION_STORED_CERT:
        options->stored_cert = true;
        return 0;
    case OPTION_KEY_NAME:
        options->key_name = value;
        return 0;
    case OPTION_VALID:
        return parse_valid(value, &options->valid_seconds);
    default:
        if (token_option_apply(&options->token, option, value))
            return 0;
        return -1;
    }
}

static int check_required(const sign_options *options)
{
    const char *missing = NULL;

    if (options->key_uri == NULL)
        missing = "--key";
    else if (options->issuer == NULL)
        missing = "--issuer";
    else if (options->audience == NULL)
        missing = "--audience";
    else if (options->claims_path == NULL)
        missing = "--claims";
    if (missing != NULL) {
        fprintf(stderr, PROGRAM ": %s is required; see --help\n", missing);
        return -1;
    }
    if (options->cert_path != NULL && options->stored_cert) {
        fputs(PROGRAM ": give either --cert or --stored-cert, not both\n", stderr);
        return -1;
    }
    return token_options_check(&options->token, PROGRAM);
}

/* Returns 0 to run, 1 after --help, -1 on a usage error. */
static int parse_options(int argc, char **argv, sign_options *options)
{
    static const struct option table[] = {
        {"key", required_argument, NULL, OPTION_KEY},
        {"issuer", required_argument, NULL, OPTION_ISSUER},
        {"audience", required_argument, NULL, OPTION_AUDIENCE},
        {"claims", required_argument, NULL, OPTION_CLAIMS},
        {"cert", required_argument, NULL, OPTION_CERT},
        {"stored-cert", no_argument, NULL, OPTION_STORED_CERT},
        {"key-name", required_argument, NULL, OPTION_KEY_NAME},
        {"valid", required_argument, NULL, OPTION_VALID},
        {"help", no_argument, NULL, OPTION_HELP},
        TOKEN_OPTION_ENTRIES,
        {NULL, 0, NULL, 0},
    };
    int option;

    memset(options, 0, sizeof(*options));
    options->valid_seconds = VALID_DEFAULT_SECONDS;
    optind = 1;
    while ((option = getopt_long(argc, argv, "", table, NULL)) != -1) {
        if (option == OPTION_HELP) {
            print_help(stdout);
            return 1;
        }
        if (option == '?' || apply_option(options, option, optarg) != 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, PROGRAM ": unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return check_required(options);
}

static void print_p11_error(const char *what, const p11_error *err)
{
    if (err->rv != CKR_OK)
        fprintf(stderr, PROGRAM ": %s: %s (%s)\n", what, err->message,
                p11_rv_name(err->rv));
    else
        fprintf(stderr, PROGRAM ": %s: %s\n", what, err->message);
}

static json_t *load_claims(const char *path)
{
    json_error_t json_error;
    json_t *claims = json_load_file(path, JSON_REJECT_DUPLICATES, &json_error);

    if (claims == NULL)
        fprintf(stderr, PROGRAM ": cannot read the claims file %s: line %d: %s\n", path,
                json_error.line, json_error.text);
    return claims;
}

/* Reads a PEM certificate and checks that it contains the public half of key. */
static X509 *load_matching_cert(const char *path, const p11_key *key)
{
    FILE *file = fopen(path, "r");
    X509 *cert = NULL;
    EVP_PKEY *public_key = NULL;
    p11_error err = {0};

    if (file == NULL) {
        fprintf(stderr, PROGRAM ": cannot open the certificate %s: %s\n", path,
                strerror(errno));
        return NULL;
    }
    cert = PEM_read_X509(file, NULL, NULL, NULL);
    fclose(file);
    if (cert == NULL) {
        fprintf(stderr, PROGRAM ": %s contains no PEM certificate\n", path);
        return NULL;
    }

    public_key = p11_key_get_public(key, &err);
    if (public_key == NULL || EVP_PKEY_eq(X509_get0_pubkey(cert), public_key) != 1) {
        fprintf(stderr,
                PROGRAM ": the certificate %s is not for the key given by --key\n", path);
        X509_free(cert);
        cert = NULL;
    }
    EVP_PKEY_free(public_key);
    return cert;
}

static X509 *load_stored_cert(p11_token *token, const p11_key *key)
{
    p11_error err = {0};
    X509 *cert = p11_cert_load(token, key, &err);

    if (cert != NULL)
        return cert;
    if (err.rv == CKR_OK && err.message[0] == '\0')
        fputs(PROGRAM ": --stored-cert was given, but no certificate is stored beside "
                      "the key\n",
              stderr);
    else
        print_p11_error("cannot load the stored certificate", &err);
    return NULL;
}

/* Signs and prints; returns the exit status. */
static int sign_and_print(const sign_options *options, json_t *claims)
{
    saml_assertion_spec spec = {0};
    saml_attribute *attributes = NULL;
    saml_signer signer = {0};
    p11_token *token = NULL;
    p11_error err = {0};
    char error[256];
    char *xml = NULL;
    size_t xml_len = 0;
    int status = 1;

    if (saml_spec_from_json(claims, &spec, &attributes, error, sizeof(error)) != 0) {
        fprintf(stderr, PROGRAM ": %s: %s\n", options->claims_path, error);
        goto out;
    }
    spec.issuer = options->issuer;
    spec.audience = options->audience;
    spec.issue_instant = time(NULL);
    spec.valid_seconds = options->valid_seconds;

    if (p11_token_open(&options->token, &token, &err) != 0) {
        print_p11_error("cannot open the token", &err);
        goto out;
    }
    if (p11_key_find(token, options->key_uri, &signer.key, &err) != 0) {
        print_p11_error("cannot find the key", &err);
        goto out;
    }
    signer.key_name = options->key_name;
    if (options->cert_path != NULL)
        signer.cert = load_matching_cert(options->cert_path, signer.key);
    else if (options->stored_cert)
        signer.cert = load_stored_cert(token, signer.key);
    if ((options->cert_path != NULL || options->stored_cert) && signer.cert == NULL)
        goto out;

    if (saml_build_signed(&spec, &signer, &xml, &xml_len, &err) != 0) {
        print_p11_error("cannot sign the assertion", &err);
        goto out;
    }
    if (fwrite(xml, 1, xml_len, stdout) != xml_len || fputc('\n', stdout) == EOF ||
        fflush(stdout) != 0) {
        fprintf(stderr, PROGRAM ": cannot write the assertion: %s\n", strerror(errno));
        goto out;
    }
    status = 0;

out:
    free(xml);
    X509_free(signer.cert);
    p11_key_free(&signer.key);
    p11_token_close(&token);
    saml_attributes_free(attributes, spec.attribute_count);
    return status;
}

int admin_saml_sign_main(int argc, char **argv)
{
    sign_options options;
    json_t *claims = NULL;
    int parsed = parse_options(argc, argv, &options);
    int status;

    if (parsed != 0)
        return parsed > 0 ? 0 : 2;

    claims = load_claims(options.claims_path);
    if (claims == NULL)
        return 1;
    status = sign_and_print(&options, claims);
    json_decref(claims);
    return status;
}
