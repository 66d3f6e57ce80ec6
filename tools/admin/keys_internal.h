/* Shared parts of 'idsvc-admin keys': option handling and certificates built in the HSM.
 */
#ifndef IDSVC_ADMIN_KEYS_INTERNAL_H
#define IDSVC_ADMIN_KEYS_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include <openssl/x509.h>

#include "p11.h"

#define KEYS_EXIT_OK 0
#define KEYS_EXIT_FAILED 1
#define KEYS_EXIT_USAGE 2

enum {
    OPTION_HELP = 0x100,
    OPTION_LABEL,
    OPTION_TYPE,
    OPTION_ID,
    OPTION_SO_PIN_FILE,
    OPTION_SO_PIN_ENV,
    OPTION_JSON,
    OPTION_KEY,
    OPTION_CERT,
    OPTION_PIN_REJECTED,
    OPTION_SUBJECT,
    OPTION_DAYS,
    OPTION_OUT,
    OPTION_STORE,
    OPTION_CONFIG,
    OPTION_FORCE,
    OPTION_YES,
};

/* Present in every table so that "--pin 1234" is rejected by name instead of as an
 * ambiguous prefix. */
#define REJECTED_PIN_ENTRIES                                                             \
    {"pin", required_argument, NULL, OPTION_PIN_REJECTED},                               \
    {                                                                                    \
        "so-pin", required_argument, NULL, OPTION_PIN_REJECTED                           \
    }

void keys_print_help(FILE *out);

/* Handles --help, a rejected PIN option, the token options and getopt's errors. Returns 0
 * when the option was a token option, or -1 when the caller must exit with *exit_code. */
int keys_common_option(const char *command, int option, p11_config *config, char **argv,
                       int *exit_code);

/* Prints "idsvc-admin keys COMMAND: message" on stderr. */
void keys_error(const char *command, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses "/CN=name/O=org" (a '/' inside a value is written "\/"). NULL after printing
 * the reason. */
X509_NAME *keys_parse_subject(const char *command, const char *text);

/* A self-signed X.509 v3 certificate for the key, signed inside the token. */
X509 *keys_self_signed_cert(p11_key *key, X509_NAME *subject, int days, p11_error *err);

/* A PKCS#10 certificate request for the key, signed inside the token. */
X509_REQ *keys_cert_request(p11_key *key, X509_NAME *subject, p11_error *err);

/* Writes PEM to path (mode 0644, the content is public) or to stdout when path is NULL.
 */
int keys_write_pem(const char *command, const char *path, X509 *cert, X509_REQ *req);

int keys_certificate_main(int argc, char **argv);
int keys_remove_main(int argc, char **argv);

/*
 * Finds where the node configuration at config_path uses key: as [hsm] tls_key or
 * saml_key, or by its public key in a certificate or key file of [tls], [saml] (also
 * previous_certificate and next_certificate), [regulator] or [policy]. Returns the
 * number of uses, listed in uses as "[hsm] saml_key, [saml] certificate", or -1 with a
 * sentence in uses when the configuration cannot be read or a key of it cannot be
 * checked.
 */
int keys_config_uses(const char *config_path, p11_token *token, p11_key *key, char *uses,
                     size_t size);
int keys_request_main(int argc, char **argv);

/* Opens the token named by the options, printing the reason on failure. */
int keys_open_token(const char *command, const p11_config *config, p11_token **out);

/* Finds a key by URI on the open token, printing the reason on failure. */
int keys_find_key(const char *command, p11_token *token, const char *uri, p11_key **out);

#endif
