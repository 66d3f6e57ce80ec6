/*
 * apple attestation (WebAuthn Level 3, section 8.8), verified with OpenSSL because
 * libfido2 1.12 does not know the format. The leaf certificate carries the extension
 * 1.2.840.113635.100.8.2 whose value is SEQUENCE { [1] EXPLICIT OCTET STRING nonce },
 * with nonce = SHA-256(authenticatorData || clientDataHash).
 */
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>

#include "webauthn_internal.h"

#define OID_APPLE_NONCE "1.2.840.113635.100.8.2"

/* Reads the nonce out of the extension value. Returns 0 or -1. */
static int read_nonce(const ASN1_OCTET_STRING *value, const unsigned char **nonce,
                      long *nonce_len)
{
    const unsigned char *p = ASN1_STRING_get0_data(value);
    long remaining = ASN1_STRING_length(value);
    const unsigned char *content;
    long content_len;
    int tag, tag_class;
    bool constructed;

    if (webauthn_der_next(&p, &remaining, &tag, &tag_class, &constructed, &content,
                          &content_len) != 0 ||
        tag != V_ASN1_SEQUENCE || tag_class != V_ASN1_UNIVERSAL || remaining != 0)
        return -1;
    p = content;
    remaining = content_len;
    if (webauthn_der_next(&p, &remaining, &tag, &tag_class, &constructed, &content,
                          &content_len) != 0 ||
        tag != 1 || tag_class != V_ASN1_CONTEXT_SPECIFIC || remaining != 0)
        return -1;
    p = content;
    remaining = content_len;
    if (webauthn_der_next(&p, &remaining, &tag, &tag_class, &constructed, &content,
                          &content_len) != 0 ||
        tag != V_ASN1_OCTET_STRING || tag_class != V_ASN1_UNIVERSAL || remaining != 0)
        return -1;

    *nonce = content;
    *nonce_len = content_len;
    return 0;
}

static webauthn_code compute_nonce(const webauthn_attestation_input *in,
                                   unsigned char nonce[32], webauthn_error *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    int ok;

    ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(ctx, in->auth_data->raw, in->auth_data->raw_len) == 1 &&
         EVP_DigestUpdate(ctx, in->client_data_hash, 32) == 1 &&
         EVP_DigestFinal_ex(ctx, nonce, &len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok || len != 32)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "OpenSSL could not hash the nonce.");
    return WEBAUTHN_OK;
}

webauthn_code webauthn_attest_apple(const webauthn_attestation_input *in,
                                    webauthn_attestation_output *out, webauthn_error *err)
{
    const cbor_item_t *x5c;
    const ASN1_OCTET_STRING *extension;
    const unsigned char *nonce;
    long nonce_len;
    unsigned char expected[32];
    int critical;
    X509 *leaf;
    webauthn_code code;

    code = webauthn_cbor_map_text(in->att_stmt, "x5c", &x5c, err);
    if (code != WEBAUTHN_OK)
        return code;
    if (x5c == NULL)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The apple attestation statement has no x5c.");
    code = webauthn_x5c_parse(x5c, &out->x5c, err);
    if (code != WEBAUTHN_OK)
        return code;
    leaf = sk_X509_value(out->x5c, 0);

    code = compute_nonce(in, expected, err);
    if (code != WEBAUTHN_OK)
        return code;
    extension = webauthn_x509_extension(leaf, OID_APPLE_NONCE, &critical);
    if (extension == NULL || read_nonce(extension, &nonce, &nonce_len) != 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The apple certificate has no valid nonce extension (%s).",
                             OID_APPLE_NONCE);
    if (nonce_len != 32 || memcmp(nonce, expected, 32) != 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The apple nonce is not SHA-256(authenticatorData || "
                             "clientDataHash).");

    if (in->credential_key->pkey == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "The credential key was parsed without an EVP_PKEY.");
    if (EVP_PKEY_eq(X509_get0_pubkey(leaf), in->credential_key->pkey) != 1)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The apple certificate key is not the %s credential key.",
                             webauthn_cose_alg_name(in->credential_key->alg));

    out->type = WEBAUTHN_ATTESTED_BASIC;
    return WEBAUTHN_OK;
}
