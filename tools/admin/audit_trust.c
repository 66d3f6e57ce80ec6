/* The trusted checkpoint keys of 'audit verify' and 'audit prove' (audit_trust.h). */
#include "audit_trust.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit_checkpoint.h"

/* Reads the key of one PEM block, or returns NULL for a block of another kind. */
static EVP_PKEY *block_key(const char *name, const unsigned char *data, long len)
{
    const unsigned char *cursor = data;
    EVP_PKEY *key = NULL;
    X509 *cert;

    if (strcmp(name, PEM_STRING_PUBLIC) == 0)
        return d2i_PUBKEY(NULL, &cursor, len);
    if (strcmp(name, PEM_STRING_X509) != 0)
        return NULL;
    cert = d2i_X509(NULL, &cursor, len);
    if (cert != NULL)
        key = X509_get_pubkey(cert);
    X509_free(cert);
    return key;
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

int audit_trust_add_file(audit_trust *trust, const char *path, char *error,
                         size_t error_size)
{
    FILE *file = fopen(path, "r");
    char *name = NULL;
    char *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    size_t found = 0;
    int rc = 0;

    if (file == NULL) {
        snprintf(error, error_size, "%s: cannot open the file", path);
        return -1;
    }
    while (rc == 0 && PEM_read(file, &name, &header, &data, &len) == 1) {
        EVP_PKEY *key = block_key(name, data, len);

        if (key != NULL) {
            found++;
            rc = add_key(trust, key, path, error, error_size);
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
    }
    fclose(file);
    ERR_clear_error(); /* PEM_read reports the end of the file as an error */
    if (rc == 0 && found == 0) {
        snprintf(error, error_size, "%s: no PUBLIC KEY or CERTIFICATE in PEM form", path);
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
