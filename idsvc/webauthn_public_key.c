/* Stored credential public keys, parsed once and shared by later assertions. */
#include <stdlib.h>
#include <string.h>

#include "webauthn_internal.h"

struct webauthn_public_key {
    webauthn_cose_key key;
    unsigned char *cose; /* the COSE_Key bytes the key was parsed from */
    size_t cose_len;
};

webauthn_code webauthn_public_key_parse(const unsigned char *cose_key, size_t len,
                                        webauthn_public_key **out, webauthn_error *err)
{
    webauthn_public_key *key;
    webauthn_code code;

    *out = NULL;
    if (cose_key == NULL || len == 0)
        return webauthn_fail(err, WEBAUTHN_MALFORMED, "The stored COSE key is empty.");
    key = calloc(1, sizeof(*key));
    if (key == NULL || (key->cose = malloc(len)) == NULL) {
        free(key);
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
    }
    memcpy(key->cose, cose_key, len);
    key->cose_len = len;

    code = webauthn_cose_key_parse(cose_key, len, true, &key->key, err);
    if (code != WEBAUTHN_OK) {
        webauthn_public_key_free(&key);
        return code;
    }
    *out = key;
    return WEBAUTHN_OK;
}

void webauthn_public_key_free(webauthn_public_key **key_p)
{
    webauthn_public_key *key;

    if (key_p == NULL || (key = *key_p) == NULL)
        return;
    webauthn_cose_key_clear(&key->key);
    free(key->cose);
    free(key);
    *key_p = NULL;
}

int webauthn_public_key_algorithm(const webauthn_public_key *key)
{
    return key->key.alg;
}

const webauthn_cose_key *webauthn_public_key_cose(const webauthn_public_key *key,
                                                  const unsigned char *cose_key,
                                                  size_t len)
{
    if (cose_key != NULL &&
        (len != key->cose_len || memcmp(cose_key, key->cose, len) != 0))
        return NULL;
    return &key->key;
}
