/*
 * File helpers of the SAML interop tests: certificates issued by a throwaway test CA,
 * and running the xmlsec1 command line with its output captured.
 */
#ifndef IDSVC_INTEROP_FILES_H
#define IDSVC_INTEROP_FILES_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* A CA key made in memory and its self-signed certificate. */
typedef struct interop_ca {
    EVP_PKEY *key;
    X509 *cert;
} interop_ca;

/* Makes the CA (P-256, valid from one hour ago for one day). Returns 0 or -1. */
int interop_ca_create(interop_ca *ca);
void interop_ca_destroy(interop_ca *ca);

/* Issues a certificate for public_key with common name cn, signed by the CA. */
X509 *interop_ca_issue(const interop_ca *ca, EVP_PKEY *public_key, const char *cn);

/* Writes a certificate as PEM. Returns 0 or -1. */
int interop_write_cert_pem(X509 *cert, const char *path);

/* Writes len bytes to path. Returns 0 or -1. */
int interop_write_file(const char *path, const char *data, size_t len);

/*
 * Runs command with stdout and stderr redirected to output_path, and returns its exit
 * status (-1 when it did not run). *output receives the captured text, which the
 * caller frees.
 */
int interop_run_captured(const char *command, const char *output_path, char **output);

#endif
