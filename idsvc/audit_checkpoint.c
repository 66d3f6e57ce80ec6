/* Checkpoint bodies, their signatures in the HSM, and their verification with OpenSSL. */
#include "audit_checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "log.h"
#include "p11.h"

#define ALGORITHM_RSA "rsa-pkcs1-sha256"
#define ALGORITHM_ECDSA "ecdsa-sha256"

void audit_checkpoint_clear(audit_checkpoint *checkpoint)
{
    free(checkpoint->node_id);
    free(checkpoint->key_id);
    free(checkpoint->algorithm);
    free(checkpoint->body);
    memset(checkpoint, 0, sizeof(*checkpoint));
}

void audit_hash_hex(const audit_merkle_hash *hash, char out[65])
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < AUDIT_MERKLE_HASH_SIZE; i++) {
        out[2 * i] = digits[hash->bytes[i] >> 4];
        out[2 * i + 1] = digits[hash->bytes[i] & 15];
    }
    out[64] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int audit_hash_from_hex(const char *hex, audit_merkle_hash *out)
{
    if (hex == NULL || strlen(hex) != 2 * AUDIT_MERKLE_HASH_SIZE)
        return -1;
    for (size_t i = 0; i < AUDIT_MERKLE_HASH_SIZE; i++) {
        int high = hex_value(hex[2 * i]);
        int low = hex_value(hex[2 * i + 1]);

        if (high < 0 || low < 0)
            return -1;
        out->bytes[i] = (unsigned char)(high << 4 | low);
    }
    return 0;
}

int audit_key_id(EVP_PKEY *key, char out[65])
{
    unsigned char *der = NULL;
    audit_merkle_hash digest;
    int len = i2d_PUBKEY(key, &der);

    if (len <= 0)
        return -1;
    SHA256(der, (size_t)len, digest.bytes);
    OPENSSL_free(der);
    audit_hash_hex(&digest, out);
    return 0;
}

static int sign_with_p11(void *ctx, const unsigned char *data, size_t len,
                         unsigned char *sig, size_t *sig_len)
{
    p11_key *key = ctx;
    p11_key_type type = p11_key_get_type(key);
    p11_sign_alg alg = type == P11_KEY_RSA_2048 || type == P11_KEY_RSA_3072
                           ? P11_SIGN_RSA_PKCS1_SHA256
                           : P11_SIGN_ECDSA_SHA256;
    p11_error err = {0};

    if (p11_sign(key, alg, data, len, sig, sig_len, &err) == 0)
        return 0;
    log_message(LOG_ERROR, "audit_checkpoint_sign_failed", "the HSM did not sign: %s",
                err.message);
    return -1;
}

static int verify_with_p11(void *ctx, const audit_checkpoint *checkpoint)
{
    EVP_PKEY *public_key = p11_key_get_public(ctx, NULL);
    int rc = public_key != NULL ? audit_checkpoint_verify(checkpoint, public_key) : -1;

    EVP_PKEY_free(public_key);
    return rc;
}

int audit_signer_from_p11(struct p11_key *key, audit_signer *out)
{
    p11_key_type type = p11_key_get_type(key);
    EVP_PKEY *public_key = p11_key_get_public(key, NULL);
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (public_key == NULL || p11_key_signature_size(key) > AUDIT_SIGNATURE_MAX)
        goto out;
    if (audit_key_id(public_key, out->key_id) != 0)
        goto out;

    /* ECDSA with SHA-256 only: a P-384 key would need SHA-384 to keep its strength, and
     * one algorithm name per key type keeps verifiers simple. */
    if (type == P11_KEY_RSA_2048 || type == P11_KEY_RSA_3072)
        snprintf(out->algorithm, sizeof(out->algorithm), "%s", ALGORITHM_RSA);
    else if (type == P11_KEY_EC_P256)
        snprintf(out->algorithm, sizeof(out->algorithm), "%s", ALGORITHM_ECDSA);
    else
        goto out;
    out->sign = sign_with_p11;
    out->verify = verify_with_p11;
    out->ctx = key;
    rc = 0;
out:
    EVP_PKEY_free(public_key);
    return rc;
}

char *audit_checkpoint_format(const char *node_id, const audit_merkle_tree_head *head,
                              time_t signed_at, const char *key_id, uint64_t version_2_from)
{
    char root[65];
    char when[32];
    struct tm tm;
    char *body;
    int len;

    audit_hash_hex(&head->root, root);
    gmtime_r(&signed_at, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

#define CHECKPOINT_FORMAT                                                                 \
    AUDIT_CHECKPOINT_HEADER "\nnode %s\nsize %" PRIu64 "\nroot %s\ntime %s\nkey %s\n"        \
                            "version-2-from %" PRIu64 "\n"
    len = snprintf(NULL, 0, CHECKPOINT_FORMAT, node_id, head->size, root, when, key_id,
                   version_2_from);
    body = len > 0 ? malloc((size_t)len + 1) : NULL;
    if (body != NULL)
        snprintf(body, (size_t)len + 1, CHECKPOINT_FORMAT, node_id, head->size, root, when,
                 key_id, version_2_from);
#undef CHECKPOINT_FORMAT
    return body;
}

/* Copies the value of the line "name VALUE\n" at *cursor and moves past it. */
static char *take_line(const char **cursor, const char *name)
{
    size_t name_len = strlen(name);
    const char *line = *cursor;
    const char *end = strchr(line, '\n');

    if (end == NULL || strncmp(line, name, name_len) != 0 || line[name_len] != ' ')
        return NULL;
    *cursor = end + 1;
    return strndup(line + name_len + 1, (size_t)(end - line - (ptrdiff_t)name_len - 1));
}

int audit_time_parse(const char *text, time_t *out)
{
    struct tm tm = {0};
    char check[32];

    if (strlen(text) != 20 ||
        sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);

    /* timegm normalises 2026-02-30 to March; formatting back rejects such dates. */
    gmtime_r(out, &tm);
    strftime(check, sizeof(check), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strcmp(check, text) == 0 ? 0 : -1;
}

static int parse_size(const char *text, uint64_t *out)
{
    char *end = NULL;

    if (text[0] < '0' || text[0] > '9' || (text[0] == '0' && text[1] != '\0'))
        return -1;
    *out = strtoull(text, &end, 10);
    return *end == '\0' && *out != UINT64_MAX ? 0 : -1;
}

int audit_checkpoint_parse(const char *body, audit_checkpoint *checkpoint)
{
    const char *cursor = body;
    char *size = NULL;
    char *root = NULL;
    char *when = NULL;
    char *version_2_from = NULL;
    int rc = -1;

    if (strncmp(cursor, AUDIT_CHECKPOINT_HEADER "\n", strlen(AUDIT_CHECKPOINT_HEADER) + 1))
        return -1;
    cursor += strlen(AUDIT_CHECKPOINT_HEADER) + 1;

    free(checkpoint->node_id);
    free(checkpoint->key_id);
    checkpoint->node_id = take_line(&cursor, "node");
    size = take_line(&cursor, "size");
    root = take_line(&cursor, "root");
    when = take_line(&cursor, "time");
    checkpoint->key_id = take_line(&cursor, "key");
    checkpoint->has_version_2_from = *cursor != '\0';
    if (checkpoint->has_version_2_from)
        version_2_from = take_line(&cursor, "version-2-from");
    if (checkpoint->node_id == NULL || size == NULL || root == NULL || when == NULL ||
        checkpoint->key_id == NULL || *cursor != '\0' ||
        (checkpoint->has_version_2_from && version_2_from == NULL))
        goto out;

    if (parse_size(size, &checkpoint->head.size) != 0 ||
        audit_hash_from_hex(root, &checkpoint->head.root) != 0 ||
        audit_time_parse(when, &checkpoint->signed_at) != 0)
        goto out;
    checkpoint->version_2_from = 0;
    if (checkpoint->has_version_2_from &&
        parse_size(version_2_from, &checkpoint->version_2_from) != 0)
        goto out;
    rc = 0;
out:
    free(size);
    free(root);
    free(when);
    free(version_2_from);
    return rc;
}

/* Converts a raw r||s signature to the DER form OpenSSL verifies. */
static unsigned char *ecdsa_raw_to_der(const unsigned char *raw, size_t len, int *der_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)(len / 2), NULL);
    BIGNUM *s = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
    unsigned char *der = NULL;

    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return NULL;
    }
    *der_len = i2d_ECDSA_SIG(sig, &der); /* sig owns r and s from here on */
    ECDSA_SIG_free(sig);
    return *der_len > 0 ? der : NULL;
}

int audit_checkpoint_verify(const audit_checkpoint *checkpoint, EVP_PKEY *key)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const unsigned char *signature = checkpoint->signature;
    size_t signature_len = checkpoint->signature_len;
    unsigned char *der = NULL;
    int der_len = 0;
    int rc = -1;

    if (ctx == NULL || checkpoint->body == NULL || checkpoint->algorithm == NULL)
        goto out;

    if (strcmp(checkpoint->algorithm, ALGORITHM_ECDSA) == 0) {
        if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
            signature_len != 2 * (size_t)((EVP_PKEY_get_bits(key) + 7) / 8))
            goto out;
        der = ecdsa_raw_to_der(signature, signature_len, &der_len);
        if (der == NULL)
            goto out;
        signature = der;
        signature_len = (size_t)der_len;
    } else if (strcmp(checkpoint->algorithm, ALGORITHM_RSA) != 0 ||
               EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        goto out;
    }

    if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestVerify(ctx, signature, signature_len,
                         (const unsigned char *)checkpoint->body,
                         strlen(checkpoint->body)) == 1)
        rc = 0;
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(ctx);
    return rc;
}

EVP_PKEY *audit_load_public_pem(const char *path, char *error, size_t error_size)
{
    FILE *file = fopen(path, "r");
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;

    if (file == NULL) {
        snprintf(error, error_size, "%s: cannot open the file", path);
        return NULL;
    }
    key = PEM_read_PUBKEY(file, NULL, NULL, NULL);
    if (key == NULL) {
        rewind(file);
        cert = PEM_read_X509(file, NULL, NULL, NULL);
        if (cert != NULL)
            key = X509_get_pubkey(cert);
    }
    fclose(file);
    X509_free(cert);
    if (key == NULL)
        snprintf(error, error_size, "%s: no PUBLIC KEY or CERTIFICATE in PEM form", path);
    return key;
}
