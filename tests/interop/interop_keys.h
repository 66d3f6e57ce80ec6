/*
 * Shared set-up of the SAML interop tests: a fresh SoftHSM2 token with an RSA-2048 and
 * a P-256 signing key generated inside it.
 */
#ifndef IDSVC_INTEROP_KEYS_H
#define IDSVC_INTEROP_KEYS_H

#include "p11.h"
#include "test_token.h"

typedef struct interop_keys {
    test_token token_files;
    p11_token *token;
    p11_key *rsa; /* label "saml-rsa" */
    p11_key *ec;  /* label "saml-ec" */
} interop_keys;

/* Creates the token and both keys. Returns 0, or -1 after printing the reason. */
int interop_keys_create(interop_keys *keys);

/* Frees the keys, closes the token and removes its folder. */
void interop_keys_destroy(interop_keys *keys);

/* Writes the public half of key as a PEM SubjectPublicKeyInfo file. Returns 0 or -1. */
int interop_write_public_pem(const p11_key *key, const char *path);

#endif
