/*
 * Checkpoints: a tree head with the time and the node's ID, as text, signed by the
 * node's key in the HSM. The signed bytes are the body exactly as stored:
 *
 *   idsvc-audit-checkpoint/v1
 *   node https://node.example/idsvc
 *   size 1234
 *   root 5f1c...e2 (64 lowercase hex digits)
 *   time 2026-01-31T12:00:00Z
 *   key 9a0b...77 (hex SHA-256 of the signing key's DER SubjectPublicKeyInfo)
 *   version-2-from 1200
 *
 * Each line ends with "\n". The last line states that the entries before index 1200 are
 * of version 1 and, up to size, those from it on of version 2 (audit_log.h), so that a
 * deleted entry text cannot pass for a purge of version 1. Checkpoints signed before
 * that line existed lack it. The signature is RSASSA-PKCS1-v1_5 with SHA-256 for an RSA
 * key, or ECDSA with SHA-256 as raw r||s for an EC key.
 */
#ifndef IDSVC_AUDIT_CHECKPOINT_H
#define IDSVC_AUDIT_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "audit_merkle.h"

#define AUDIT_CHECKPOINT_HEADER "idsvc-audit-checkpoint/v1"
#define AUDIT_SIGNATURE_MAX 512

/* A stored checkpoint; audit_checkpoint_clear frees its strings. */
typedef struct audit_checkpoint {
    uint64_t id;           /* the row number, rising with size */
    audit_merkle_tree_head head;
    time_t signed_at;
    /* The index of the first entry of version 2, or the log's size at the node's start
     * when it had none. has_version_2_from is false for a body without the line. */
    uint64_t version_2_from;
    bool has_version_2_from;
    char *node_id;
    char *key_id;
    char *algorithm;       /* "rsa-pkcs1-sha256" or "ecdsa-sha256" */
    char *body;            /* the signed text */
    unsigned char signature[AUDIT_SIGNATURE_MAX];
    size_t signature_len;
} audit_checkpoint;

void audit_checkpoint_clear(audit_checkpoint *checkpoint);

/* Signs bytes with the node's key. Returns 0 and sets *sig_len, or -1. */
typedef struct audit_signer {
    int (*sign)(void *ctx, const unsigned char *data, size_t len, unsigned char *sig,
                size_t *sig_len);
    /* Verifies a checkpoint signed with the same key: 0 when the signature holds. May be
     * NULL, and then the log cannot check its own checkpoints at open. */
    int (*verify)(void *ctx, const audit_checkpoint *checkpoint);
    void *ctx;
    /* The anchor kept outside the database (audit_anchor.h). anchor_read sets *text to
     * the anchor (malloced) or to NULL when there is none, and anchor_write replaces it.
     * Both return 0, or -1 with a sentence in error. NULL for both keeps no anchor, and
     * then the log checks itself only against its own checkpoints. */
    int (*anchor_read)(void *anchor_ctx, char **text, char *error, size_t error_size);
    int (*anchor_write)(void *anchor_ctx, const char *text, char *error, size_t error_size);
    void *anchor_ctx;
    char algorithm[24];
    char key_id[65];
} audit_signer;

/* The p11 key behind audit_signer_from_p11 (p11.h). */
struct p11_key;

/* Makes a signer that signs in the HSM with p11_sign. Returns 0, or -1 for a key type
 * that checkpoints do not support. */
int audit_signer_from_p11(struct p11_key *key, audit_signer *out);

/* Writes the hex SHA-256 of a public key's DER SubjectPublicKeyInfo. 0 or -1. */
int audit_key_id(EVP_PKEY *key, char out[65]);

/* Formats the body of a checkpoint; the caller frees it. NULL when out of memory. */
char *audit_checkpoint_format(const char *node_id, const audit_merkle_tree_head *head,
                              time_t signed_at, const char *key_id, uint64_t version_2_from);

/*
 * Parses a body into checkpoint's head, signed_at, node_id, key_id and, when the body has
 * that line, version_2_from. Returns 0, or -1 for a body that is not exactly the format
 * above, with or without its last line.
 */
int audit_checkpoint_parse(const char *body, audit_checkpoint *checkpoint);

/*
 * Verifies a checkpoint's signature over its body with key. Returns 0 when it holds,
 * or -1. An ECDSA signature must be raw r||s of the key's size.
 */
int audit_checkpoint_verify(const audit_checkpoint *checkpoint, EVP_PKEY *key);

/* Loads a public key from a PEM file with a PUBLIC KEY or a CERTIFICATE. */
EVP_PKEY *audit_load_public_pem(const char *path, char *error, size_t error_size);

/* Reads an RFC 3339 UTC second such as 2026-01-31T12:00:00Z. Returns 0, or -1 for any
 * other text or a date that does not exist. */
int audit_time_parse(const char *text, time_t *out);

/* Writes hash as 64 lowercase hex digits and a terminating zero. */
void audit_hash_hex(const audit_merkle_hash *hash, char out[65]);

/* Reads 64 hex digits. Returns 0, or -1 for anything else. */
int audit_hash_from_hex(const char *hex, audit_merkle_hash *out);

#endif
