/* The trust store: issuer entity IDs mapped to the public keys that may sign for them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xmlsec/xmlsec.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <xmlsec/keys.h>
#include <xmlsec/openssl/evp.h>

#include "saml_verify_internal.h"

struct saml_trust_store {
    saml_trust_key *keys;
    size_t count;
    size_t capacity;
};

saml_trust_store *saml_trust_store_new(void)
{
    return calloc(1, sizeof(saml_trust_store));
}

static void saml_trust_key_clear(saml_trust_key *key)
{
    free(key->issuer);
    EVP_PKEY_free(key->pkey);
    if (key->xmlsec_key != NULL)
        xmlSecKeyDestroy(key->xmlsec_key);
    memset(key, 0, sizeof(*key));
}

void saml_trust_store_free(saml_trust_store **store)
{
    if (store == NULL || *store == NULL)
        return;

    for (size_t i = 0; i < (*store)->count; i++)
        saml_trust_key_clear(&(*store)->keys[i]);
    free((*store)->keys);
    free(*store);
    *store = NULL;
}

/* Wraps a public key as an xmlsec key without copying it: the xmlsec key holds its own
 * reference to pkey. */
static xmlSecKeyPtr saml_trust_make_xmlsec_key(EVP_PKEY *pkey)
{
    xmlSecKeyDataPtr data = NULL;
    xmlSecKeyPtr key = NULL;

    if (EVP_PKEY_up_ref(pkey) != 1)
        return NULL;
    data = xmlSecOpenSSLEvpKeyAdopt(pkey);
    if (data == NULL) {
        EVP_PKEY_free(pkey);
        return NULL;
    }

    key = xmlSecKeyCreate();
    if (key == NULL || xmlSecKeySetValue(key, data) < 0) {
        xmlSecKeyDataDestroy(data);
        if (key != NULL)
            xmlSecKeyDestroy(key);
        return NULL;
    }
    return key;
}

static int saml_trust_grow(saml_trust_store *store)
{
    size_t capacity = store->capacity == 0 ? 4 : store->capacity * 2;
    saml_trust_key *keys;

    if (store->count < store->capacity)
        return 0;
    keys = realloc(store->keys, capacity * sizeof(*keys));
    if (keys == NULL)
        return -1;
    store->keys = keys;
    store->capacity = capacity;
    return 0;
}

int saml_trust_store_add(saml_trust_store *store, const char *issuer, EVP_PKEY *key,
                         unsigned flags)
{
    saml_trust_key entry = { 0 };
    int key_type = EVP_PKEY_get_base_id(key);

    if (key_type != EVP_PKEY_RSA && key_type != EVP_PKEY_EC)
        return -1;
    if (saml_xmlsec_init() != 0 || saml_trust_grow(store) != 0)
        return -1;

    entry.key_type = key_type;
    entry.bits = EVP_PKEY_get_bits(key);
    entry.flags = flags;
    if (issuer != NULL) {
        entry.issuer = strdup(issuer);
        if (entry.issuer == NULL)
            goto fail;
    }
    entry.xmlsec_key = saml_trust_make_xmlsec_key(key);
    if (entry.xmlsec_key == NULL)
        goto fail;
    if (EVP_PKEY_up_ref(key) != 1)
        goto fail;
    entry.pkey = key;

    store->keys[store->count++] = entry;
    return 0;

fail:
    saml_trust_key_clear(&entry);
    return -1;
}

size_t saml_trust_candidates(const saml_trust_store *store, const char *issuer,
                             const saml_trust_key **keys, size_t max)
{
    size_t count = 0;

    if (store == NULL)
        return 0;

    /* The issuer's own keys come first, so that a key for any issuer is a fallback. */
    for (size_t i = 0; i < store->count && count < max; i++) {
        if (store->keys[i].issuer != NULL && strcmp(store->keys[i].issuer, issuer) == 0)
            keys[count++] = &store->keys[i];
    }
    for (size_t i = 0; i < store->count && count < max; i++) {
        if (store->keys[i].issuer == NULL)
            keys[count++] = &store->keys[i];
    }
    return count;
}

EVP_PKEY *saml_load_public_pem(const char *path, char *error, size_t error_size)
{
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    BIO *bio = BIO_new_file(path, "r");

    if (bio == NULL) {
        snprintf(error, error_size, "cannot open %s", path);
        return NULL;
    }

    /* OpenSSL 3.0's decoders read a PKCS#1 RSA PUBLIC KEY block here too, as well as a
     * SubjectPublicKeyInfo PUBLIC KEY block. */
    key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (key == NULL) {
        /* Not a bare key: take the public key out of a certificate, and keep only it. */
        (void)BIO_reset(bio);
        cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (cert != NULL)
            key = X509_get_pubkey(cert);
    }
    ERR_clear_error();

    if (key == NULL)
        snprintf(error, error_size,
                 "%s holds no valid PEM block of the types PUBLIC KEY, CERTIFICATE or RSA "
                 "PUBLIC KEY",
                 path);
    X509_free(cert);
    BIO_free(bio);
    return key;
}
