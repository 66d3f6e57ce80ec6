/*
 * The public keys that a regulator trusts to have signed a node's checkpoints, for
 * 'audit verify' and 'audit prove'. A node that rolled its signing key over signed
 * earlier checkpoints with the earlier key, so several keys may be trusted at once.
 * Each checkpoint names its key by the hex SHA-256 of the key's DER
 * SubjectPublicKeyInfo, and is checked with that key only.
 */
#ifndef IDSVC_ADMIN_AUDIT_TRUST_H
#define IDSVC_ADMIN_AUDIT_TRUST_H

#include <stddef.h>

#include <openssl/evp.h>

#define AUDIT_TRUST_MAX 32

typedef struct audit_trust {
    size_t count;
    EVP_PKEY *keys[AUDIT_TRUST_MAX];
    char key_ids[AUDIT_TRUST_MAX][65];
} audit_trust;

/*
 * Adds the key of every PUBLIC KEY and CERTIFICATE block of the PEM file at path that can
 * sign checkpoints (RSA of 2048 or 3072 bits, or EC P-256), and ignores blocks of other
 * labels and keys of other types. Returns 0, or -1 with a sentence in error. It fails
 * when the file cannot be read or is larger than 1 MiB, or when a block is malformed or
 * its DER is not one whole key or certificate. It also fails when no key can sign
 * checkpoints, or when the set would grow past AUDIT_TRUST_MAX keys.
 */
int audit_trust_add_file(audit_trust *trust, const char *path, char *error,
                         size_t error_size);

/* Returns the trusted key whose ID is key_id, or NULL. */
EVP_PKEY *audit_trust_find(const audit_trust *trust, const char *key_id);

/* Writes the trusted key IDs, each cut to 16 hex digits and separated by ", ". */
void audit_trust_describe(const audit_trust *trust, char *out, size_t out_size);

void audit_trust_clear(audit_trust *trust);

#endif
