/* Signing of fuzz inputs for the fuzz_saml_verify_signed target. */
#ifndef IDSVC_FUZZ_SAML_SIGN_H
#define IDSVC_FUZZ_SAML_SIGN_H

#include <stddef.h>

/*
 * Parses text and fills in its first Signature template, the one of the root or of
 * the root's first child element, with the RSA private key in the PEM file key_path.
 * Only a same-document reference, the enveloped-signature and exclusive c14n
 * transforms, SHA-256 and rsa-sha256 are allowed. Returns the signed document, which
 * the caller frees with xmlFree, and sets *len. Returns NULL when text does not parse
 * or its template cannot be signed.
 */
char *fuzz_saml_sign(const char *key_path, const char *text, size_t size, size_t *len);

#endif
