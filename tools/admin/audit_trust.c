/* The trusted checkpoint keys of 'audit verify' and 'audit prove' (audit_trust.h). */
#include "audit_trust.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit_checkpoint.h"

/* A PEM file of public keys and certificates is a few KiB; the cap keeps a wrong path,
 * such as /dev/zero or a database, from being read whole. */
#define TRUST_FILE_MAX (1024 * 1024)

/* Reads the whole file at path into buffer, of TRUST_FILE_MAX + 1 bytes, and returns a
 * memory BIO over it, or NULL with a sentence in error. Reading stops past
 * TRUST_FILE_MAX bytes, so that an endless input ends. */
static BIO *read_file(const char *path, char *buffer, char *error, size_t error_size)
{
    FILE *file = fopen(path, "rb");
    size_t len = 0;
    BIO *bio = NULL;

    if (file == NULL) {
        snprintf(error, error_size, "%s: cannot open the file: %s", path, strerror(errno));
        return NULL;
    }
    if (buffer != NULL)
        len = fread(buffer, 1, TRUST_FILE_MAX + 1, file);
    if (buffer == NULL)
        snprintf(error, error_size, "%s: out of memory", path);
    else if (ferror(file))
        snprintf(error, error_size, "%s: reading failed: %s", path, strerror(errno));
    else if (len > TRUST_FILE_MAX)
        snprintf(error, error_size, "%s: the file is larger than 1 MiB, which no PEM file of "
                 "public keys is; pass the node's PUBLIC KEY or CERTIFICATE file", path);
    else if ((bio = BIO_new_mem_buf(buffer, (int)len)) == NULL)
        snprintf(error, error_size, "%s: out of memory", path);
    fclose(file);
    return bio;
}

/*
 * Reads the key of one PUBLIC KEY or CERTIFICATE block. Returns it, or NULL with a
 * sentence in error when the block's DER is not one whole key or certificate.
 */
static EVP_PKEY *block_key(const char *name, const unsigned char *data, long len,
                           char *error, size_t error_size)
{
    const unsigned char *cursor = data;
    bool public_key = strcmp(name, PEM_STRING_PUBLIC) == 0;
    EVP_PKEY *key = NULL;
    X509 *cert;

    if (public_key) {
        key = d2i_PUBKEY(NULL, &cursor, len);
    } else {
        cert = d2i_X509(NULL, &cursor, len);
        if (cert != NULL)
            key = X509_get_pubkey(cert);
        X509_free(cert);
    }
    /* Bytes after the DER object are an error too: the block was edited. */
    if (key != NULL && cursor != data + len) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    if (key == NULL)
        snprintf(error, error_size, "its content is not a valid DER %s",
                 public_key ? "SubjectPublicKeyInfo" : "X.509 certificate with a public key");
    return key;
}

/*
 * Checks that key is of a type that signs checkpoints, as audit_signer_from_p11 allows:
 * RSA of 2048 or 3072 bits, or EC P-256. Returns 0, or -1 with the key's type in error.
 */
static int check_key_type(EVP_PKEY *key, char *error, size_t error_size)
{
    char group[64] = "";

    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA &&
        (EVP_PKEY_get_bits(key) == 2048 || EVP_PKEY_get_bits(key) == 3072))
        return 0;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       NULL) == 1 &&
        strcmp(group, "prime256v1") == 0)
        return 0;
    snprintf(error, error_size, "its key is of type %s with %d bits%s%s, but a node signs "
             "checkpoints only with RSA keys of 2048 or 3072 bits or EC P-256 keys",
             EVP_PKEY_get0_type_name(key) != NULL ? EVP_PKEY_get0_type_name(key) : "unknown",
             EVP_PKEY_get_bits(key), group[0] != '\0' ? " on curve " : "", group);
    return -1;
}

/* Adds key to the set unless its ID is there already; takes the key either way. */
static int add_key(audit_trust *trust, EVP_PKEY *key, const char *path, char *error,
                   size_t error_size)
{
    char key_id[65];

    if (audit_key_id(key, key_id) != 0) {
        EVP_PKEY_free(key);
        snprintf(error, error_size, "%s: a key cannot be encoded", path);
        return -1;
    }
    if (audit_trust_find(trust, key_id) != NULL) {
        EVP_PKEY_free(key);
        return 0;
    }
    if (trust->count == AUDIT_TRUST_MAX) {
        EVP_PKEY_free(key);
        snprintf(error, error_size, "%s: more than %d trusted keys", path, AUDIT_TRUST_MAX);
        return -1;
    }
    trust->keys[trust->count] = key;
    memcpy(trust->key_ids[trust->count], key_id, sizeof(key_id));
    trust->count++;
    return 0;
}

/*
 * Adds the key of PEM block number (from 1) with label name. Returns 1 for a key added,
 * or -1 after an error, such as a block whose DER does not decode. Returns 0 for a block
 * of another label, and for a key of a type that signs no checkpoint, because a
 * certificate file may also contain its CA's certificate. The first such key's reason
 * goes to skipped.
 */
static int add_block(audit_trust *trust, const char *path, size_t number, const char *name,
                     const unsigned char *data, long len, char *skipped, size_t skipped_size,
                     char *error, size_t error_size)
{
    char reason[256];
    EVP_PKEY *key;

    if (strcmp(name, PEM_STRING_PUBLIC) != 0 && strcmp(name, PEM_STRING_X509) != 0)
        return 0;
    key = block_key(name, data, len, reason, sizeof(reason));
    if (key == NULL) {
        snprintf(error, error_size, "%s: PEM block %zu (%.40s): %s", path, number, name,
                 reason);
        return -1;
    }
    if (check_key_type(key, reason, sizeof(reason)) != 0) {
        EVP_PKEY_free(key);
        if (skipped[0] == '\0')
            snprintf(skipped, skipped_size, "PEM block %zu (%.40s): %s", number, name, reason);
        return 0;
    }
    return add_key(trust, key, path, error, error_size) == 0 ? 1 : -1;
}

/* Checks why PEM_read_bio stopped: the end of the input is fine, and anything else
 * (a block without its END line, base64 that does not decode) is an error. */
static int check_pem_end(const char *path, size_t number, char *error, size_t error_size)
{
    unsigned long code = ERR_peek_last_error();

    ERR_clear_error();
    if (code == 0 ||
        (ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE))
        return 0;
    snprintf(error, error_size, "%s: PEM block %zu is malformed: %s", path, number,
             ERR_reason_error_string(code) != NULL ? ERR_reason_error_string(code)
                                                   : "unknown reason");
    return -1;
}

int audit_trust_add_file(audit_trust *trust, const char *path, char *error,
                         size_t error_size)
{
    char *buffer = malloc(TRUST_FILE_MAX + 1);
    BIO *bio = read_file(path, buffer, error, error_size);
    char skipped[400] = "";
    char *name = NULL;
    char *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    size_t blocks = 0;
    size_t found = 0;
    int rc = 0;

    if (bio == NULL) {
        free(buffer);
        return -1;
    }
    ERR_clear_error();
    while (rc == 0 && PEM_read_bio(bio, &name, &header, &data, &len) == 1) {
        int added = add_block(trust, path, ++blocks, name, data, len, skipped,
                              sizeof(skipped), error, error_size);

        if (added < 0)
            rc = -1;
        found += added > 0 ? 1 : 0;
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        /* So that the last error after the loop is the one that ended PEM_read_bio. */
        ERR_clear_error();
    }
    BIO_free(bio);
    free(buffer);
    if (rc == 0)
        rc = check_pem_end(path, blocks + 1, error, error_size);
    ERR_clear_error();
    if (rc == 0 && found == 0 && skipped[0] != '\0') {
        snprintf(error, error_size, "%s: no key that can sign checkpoints: %s", path, skipped);
        rc = -1;
    } else if (rc == 0 && found == 0) {
        snprintf(error, error_size, "%s: no PUBLIC KEY or CERTIFICATE block in PEM form "
                 "(blocks of other labels: %zu)", path, blocks);
        rc = -1;
    }
    return rc;
}

EVP_PKEY *audit_trust_find(const audit_trust *trust, const char *key_id)
{
    for (size_t i = 0; key_id != NULL && i < trust->count; i++)
        if (strcmp(trust->key_ids[i], key_id) == 0)
            return trust->keys[i];
    return NULL;
}

void audit_trust_describe(const audit_trust *trust, char *out, size_t out_size)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < trust->count && used < out_size; i++)
        used += (size_t)snprintf(out + used, out_size - used, "%s%.16s", i > 0 ? ", " : "",
                                 trust->key_ids[i]);
}

void audit_trust_clear(audit_trust *trust)
{
    for (size_t i = 0; i < trust->count; i++)
        EVP_PKEY_free(trust->keys[i]);
    trust->count = 0;
}
