/* Attestation certificates: x5c decoding, chain checks at a pinned time, extensions. */
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "webauthn_internal.h"

#define OID_FIDO_GEN_CE_AAGUID "1.3.6.1.4.1.45724.1.1.4"
#define MAX_X5C_CERTS 8

/* Returns the offset in der of the first content byte of the certificate's
 * signatureValue BIT STRING, which counts the unused bits, or 0 when der is not a
 * SEQUENCE of two SEQUENCEs and a BIT STRING. */
static size_t signature_unused_bits_offset(const unsigned char *der, size_t der_len)
{
    const unsigned char *p = der, *content;
    long remaining = (long)der_len, content_len;
    int tag, tag_class;
    bool constructed;

    if (webauthn_der_next(&p, &remaining, &tag, &tag_class, &constructed, &content,
                          &content_len) != 0 ||
        tag != V_ASN1_SEQUENCE || !constructed)
        return 0;
    p = content;
    remaining = content_len;
    for (int i = 0; i < 2; i++) {
        const unsigned char *inner;
        long inner_len;

        if (webauthn_der_next(&p, &remaining, &tag, &tag_class, &constructed, &inner,
                              &inner_len) != 0 ||
            tag != V_ASN1_SEQUENCE)
            return 0;
    }
    if (webauthn_der_next(&p, &remaining, &tag, &tag_class, &constructed, &content,
                          &content_len) != 0 ||
        tag != V_ASN1_BIT_STRING || constructed || content_len < 2)
        return 0;
    return (size_t)(content - der);
}

/* Decodes one x5c certificate, which must be exactly one DER certificate. A signature
 * BIT STRING that declares unused bits is read as declaring none, because some Yubico
 * attestation certificates were issued so and OpenSSL's X509_verify rejects them. The
 * count lies outside tbsCertificate and the signature bytes, so this makes no bad
 * signature valid. */
static X509 *decode_certificate(const unsigned char *der, size_t der_len)
{
    size_t offset = signature_unused_bits_offset(der, der_len);
    unsigned char *copy = NULL;
    const unsigned char *p;
    const unsigned char *start = der;
    X509 *cert;

    if (offset != 0 && der[offset] != 0) {
        copy = OPENSSL_memdup(der, der_len);
        if (copy == NULL)
            return NULL;
        copy[offset] = 0;
        start = copy;
    }

    p = start;
    cert = d2i_X509(NULL, &p, (long)der_len);
    if (cert != NULL && p != start + der_len) {
        X509_free(cert);
        cert = NULL;
    }
    OPENSSL_free(copy);
    return cert;
}

webauthn_code webauthn_x5c_parse(const cbor_item_t *array, STACK_OF(X509) * *out,
                                 webauthn_error *err)
{
    STACK_OF(X509) *certs = NULL;
    size_t count;
    webauthn_code code = WEBAUTHN_OK;

    *out = NULL;
    if (!cbor_isa_array(array) || !cbor_array_is_definite(array) ||
        cbor_array_size(array) == 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The attestation statement x5c is not a non-empty array.");
    count = cbor_array_size(array);
    if (count > MAX_X5C_CERTS)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_INVALID,
            "The attestation statement x5c has %zu certificates, more than "
            "%d.",
            count, MAX_X5C_CERTS);

    certs = sk_X509_new_null();
    if (certs == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");

    for (size_t i = 0; i < count; i++) {
        const cbor_item_t *item = cbor_array_handle(array)[i];
        X509 *cert;

        if (!cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item)) {
            code = webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                                 "x5c element %zu is not a byte string.", i);
            goto out;
        }
        cert = decode_certificate(cbor_bytestring_handle(item),
                                  cbor_bytestring_length(item));
        if (cert == NULL) {
            code = webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                                 "x5c element %zu is not one DER certificate.", i);
            goto out;
        }
        /* Later steps read the key without checking, so a certificate whose key
         * OpenSSL cannot decode stops here. */
        if (X509_get0_pubkey(cert) == NULL) {
            X509_free(cert);
            code = webauthn_fail(
                err, WEBAUTHN_ATTESTATION_INVALID,
                "x5c element %zu has a public key that cannot be decoded.", i);
            goto out;
        }
        if (sk_X509_push(certs, cert) == 0) {
            X509_free(cert);
            code = webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
            goto out;
        }
    }

    /* Ownership of the certificates passes to the caller with the stack. */
    *out = certs;
    certs = NULL;

out:
    sk_X509_pop_free(certs, X509_free);
    ERR_clear_error();
    return code;
}

static void format_time(time_t at, char *buffer, size_t size)
{
    struct tm tm;

    gmtime_r(&at, &tm);
    strftime(buffer, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

webauthn_code webauthn_x5c_verify_chain(const webauthn_verifier *verifier,
                                        STACK_OF(X509) * x5c, webauthn_error *err)
{
    X509_STORE_CTX *ctx = NULL;
    STACK_OF(X509) *untrusted = NULL;
    time_t at = verifier->at != 0 ? verifier->at : time(NULL);
    char when[32];
    webauthn_code code = WEBAUTHN_OK;

    format_time(at, when, sizeof(when));
    if (verifier->root_count == 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_CHAIN_INVALID,
                             "No attestation root is configured to verify the chain.");

    /* Everything after the leaf is only a candidate intermediate; trust comes from the
     * configured roots, even where x5c carries a root itself. */
    untrusted = sk_X509_dup(x5c);
    ctx = X509_STORE_CTX_new();
    if (untrusted == NULL || ctx == NULL) {
        code = webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
        goto out;
    }
    (void)sk_X509_shift(untrusted);

    if (X509_STORE_CTX_init(ctx, verifier->roots, sk_X509_value(x5c, 0), untrusted) !=
        1) {
        code = webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "OpenSSL could not set up chain verification.");
        goto out;
    }
    /* X509_VERIFY_PARAM_set_time also sets X509_V_FLAG_USE_CHECK_TIME. */
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), at);

    if (X509_verify_cert(ctx) != 1) {
        int error = X509_STORE_CTX_get_error(ctx);

        code =
            webauthn_fail(err, WEBAUTHN_ATTESTATION_CHAIN_INVALID,
                          "The attestation certificate chain does not verify at %s: %s "
                          "(certificate %d of x5c counted from the leaf at 0).",
                          when, X509_verify_cert_error_string(error),
                          X509_STORE_CTX_get_error_depth(ctx));
    }

out:
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    ERR_clear_error();
    return code;
}

const ASN1_OCTET_STRING *webauthn_x509_extension(const X509 *cert, const char *oid,
                                                 int *critical)
{
    ASN1_OBJECT *object = OBJ_txt2obj(oid, 1);
    int index;
    X509_EXTENSION *extension;

    *critical = 0;
    if (object == NULL)
        return NULL;
    index = X509_get_ext_by_OBJ(cert, object, -1);
    ASN1_OBJECT_free(object);
    if (index < 0)
        return NULL;

    extension = X509_get_ext(cert, index);
    *critical = X509_EXTENSION_get_critical(extension);
    return X509_EXTENSION_get_data(extension);
}

int webauthn_der_next(const unsigned char **p, long *remaining, int *tag, int *tag_class,
                      bool *constructed, const unsigned char **content, long *content_len)
{
    const unsigned char *start = *p;
    int flags;

    if (*remaining <= 0)
        return -1;
    flags = ASN1_get_object(p, content_len, tag, tag_class, *remaining);
    /* 0x80 is an error; 0x21 is an indefinite length, which DER forbids. */
    if ((flags & 0x80) || flags == 0x21)
        return -1;
    *constructed = (flags & V_ASN1_CONSTRUCTED) != 0;
    *content = *p;
    *p += *content_len;
    *remaining -= (long)(*p - start);
    return 0;
}

webauthn_code webauthn_x509_check_aaguid(const X509 *cert, const unsigned char aaguid[16],
                                         webauthn_error *err)
{
    int critical;
    const ASN1_OCTET_STRING *value =
        webauthn_x509_extension(cert, OID_FIDO_GEN_CE_AAGUID, &critical);
    const unsigned char *p;
    const unsigned char *content;
    long remaining, content_len;
    int tag, tag_class;
    bool constructed;

    if (value == NULL)
        return WEBAUTHN_OK;
    if (critical)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The attestation certificate marks id-fido-gen-ce-aaguid "
                             "critical, which the FIDO profile forbids.");

    /* The extension value is an OCTET STRING that wraps the 16 AAGUID bytes. */
    p = ASN1_STRING_get0_data(value);
    remaining = ASN1_STRING_length(value);
    if (webauthn_der_next(&p, &remaining, &tag, &tag_class, &constructed, &content,
                          &content_len) != 0 ||
        tag != V_ASN1_OCTET_STRING || tag_class != V_ASN1_UNIVERSAL || constructed ||
        content_len != 16 || remaining != 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The id-fido-gen-ce-aaguid extension is not a 16-byte OCTET "
                             "STRING.");

    if (memcmp(content, aaguid, 16) != 0)
        return webauthn_fail(
            err, WEBAUTHN_AAGUID_MISMATCH,
            "The attestation certificate's AAGUID extension differs from "
            "the AAGUID in the authenticator data.");
    return WEBAUTHN_OK;
}
