/*
 * Strict reading of the PEM files that the node trusts: issuer keys, client CAs,
 * attestation roots and regulator keys. Every block of a file is loaded, and a file
 * with anything else in it is rejected, so that a half-written or corrupted file never
 * loads with only its first key.
 *
 * A file must consist of one or more blocks (RFC 7468) separated only by blank lines.
 * The error names the file and the line. These reject a file: text outside a block, a
 * block without its END line, a block with headers (an encrypted block) or invalid
 * base64, a DER body that does not parse or has bytes after it. So does a block of a
 * type the caller does not accept.
 */
#ifndef IDSVC_PEM_FILE_H
#define IDSVC_PEM_FILE_H

#include <stddef.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* The largest trust file read, in bytes. Debian 12's whole system bundle,
 * /etc/ssl/certs/ca-certificates.crt, is about 215 KiB. */
#define PEM_FILE_MAX_BYTES (4u * 1024u * 1024u)

/* Failure statuses of the readers below, so that a caller can tell a missing file from a
 * corrupted one. */
enum {
    PEM_FILE_UNREADABLE = -1, /* cannot be opened or read */
    PEM_FILE_INVALID = -2,    /* read, but breaks the rules above or is too large */
    PEM_FILE_NO_MEMORY = -3,
};

/*
 * Opens path for reading in binary mode when it is a regular file. Opening a FIFO waits
 * for a writer, and a device may never end, which would hold a start or a SIGHUP reload
 * for good, so these are rejected without waiting. Returns NULL with "PATH: cannot open
 * the file: REASON" or "PATH: not a regular file" in error. The node's configuration
 * file, trust files and policy bundles are opened this way.
 */
FILE *pem_file_open_regular(const char *path, char *error, size_t error_size);

/*
 * Reads every block of path, each a CERTIFICATE, a PUBLIC KEY or an RSA PUBLIC KEY (the
 * PKCS#1 form that OpenSSL's -RSAPublicKey_out writes), and returns their public keys in
 * file order in *keys (an array of *count keys, freed with
 * pem_keys_free). Returns 0, or PEM_FILE_UNREADABLE, PEM_FILE_INVALID or
 * PEM_FILE_NO_MEMORY with a sentence in error.
 */
int pem_read_public_keys(const char *path, EVP_PKEY ***keys, size_t *count, char *error,
                         size_t error_size);
void pem_keys_free(EVP_PKEY ***keys, size_t count);

/*
 * Reads every block of path, each a CERTIFICATE, and returns them in file order in
 * *certs (freed with pem_certificates_free). Returns as pem_read_public_keys does.
 */
int pem_read_certificates(const char *path, X509 ***certs, size_t *count, char *error,
                          size_t error_size);
void pem_certificates_free(X509 ***certs, size_t count);

#endif
