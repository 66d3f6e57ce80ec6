/* The public half of a token key as an OpenSSL 3 EVP_PKEY. Only public attributes are
 * read: CKA_MODULUS and CKA_PUBLIC_EXPONENT, or CKA_EC_PARAMS and CKA_EC_POINT. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "p11_internal.h"

int p11_public_key_type(const EVP_PKEY *pkey)
{
    char group[64];

    if (EVP_PKEY_is_a(pkey, "RSA")) {
        switch (EVP_PKEY_get_bits(pkey)) {
        case 2048:
            return P11_KEY_RSA_2048;
        case 3072:
            return P11_KEY_RSA_3072;
        default:
            return -1;
        }
    }
    if (EVP_PKEY_is_a(pkey, "EC") &&
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                       sizeof(group), NULL) == 1) {
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            return P11_KEY_EC_P256;
        if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
            return P11_KEY_EC_P384;
    }
    return -1;
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM *params, const char *label,
                             p11_error *err)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        p11_fail(err, CKR_OK, "the token's public %s key '%s' is not valid for OpenSSL",
                 type, label != NULL ? label : "");
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static EVP_PKEY *rsa_public(const unsigned char *modulus, size_t modulus_len,
                            const unsigned char *exponent, size_t exponent_len,
                            const char *label, p11_error *err)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *n = BN_bin2bn(modulus, (int)modulus_len, NULL);
    BIGNUM *e = BN_bin2bn(exponent, (int)exponent_len, NULL);
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;

    if (bld == NULL || n == NULL || e == NULL ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1 ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
        p11_fail(err, CKR_HOST_MEMORY, "out of memory building an RSA key");
    else
        pkey = from_params("RSA", params, label, err);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

/* The standard makes CKA_EC_POINT a DER OCTET STRING around the point, but some modules
 * return the bare point. Both start with 0x04, so the length decides. */
static int unwrap_point(const unsigned char *der, size_t len, size_t field,
                        const unsigned char **point, size_t *point_len)
{
    const unsigned char *p = der;
    ASN1_OCTET_STRING *octets;

    if (len == 1 + 2 * field && der[0] == 0x04) {
        *point = der;
        *point_len = len;
        return 0;
    }
    octets = d2i_ASN1_OCTET_STRING(NULL, &p, (long)len);
    if (octets == NULL || p != der + len ||
        (size_t)ASN1_STRING_length(octets) != 1 + 2 * field) {
        ASN1_OCTET_STRING_free(octets);
        return -1;
    }
    /* The content lies inside der, after the tag and length. */
    *point_len = (size_t)ASN1_STRING_length(octets);
    *point = der + len - *point_len;
    ASN1_OCTET_STRING_free(octets);
    return 0;
}

static EVP_PKEY *ec_public(const unsigned char *ec_params, size_t params_len,
                           const unsigned char *ec_point, size_t point_len,
                           const char *label, p11_error *err)
{
    const unsigned char *p = ec_params;
    ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &p, (long)params_len);
    const unsigned char *point;
    const char *group;
    size_t field;
    size_t len;
    OSSL_PARAM params[3];
    EVP_PKEY *pkey;
    int nid = oid != NULL ? OBJ_obj2nid(oid) : NID_undef;

    ASN1_OBJECT_free(oid);
    if (nid == NID_X9_62_prime256v1) {
        group = "P-256";
        field = 32;
    } else if (nid == NID_secp384r1) {
        group = "P-384";
        field = 48;
    } else {
        p11_fail(
            err, CKR_CURVE_NOT_SUPPORTED,
            "key '%s' is on a curve this layer does not support (only P-256, P-384 by "
            "named-curve OID)",
            label != NULL ? label : "");
        return NULL;
    }
    if (unwrap_point(ec_point, point_len, field, &point, &len) != 0) {
        p11_fail(err, CKR_OK, "CKA_EC_POINT of key '%s' is not an uncompressed %s point",
                 label != NULL ? label : "", group);
        return NULL;
    }
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
    params[1] =
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, len);
    params[2] = OSSL_PARAM_construct_end();
    pkey = from_params("EC", params, label, err);
    return pkey;
}

/* Finds the public key object (or else the certificate) stored with the same id. */
static EVP_PKEY *from_public_object(p11_token *token, CK_OBJECT_HANDLE object,
                                    p11_error *err);
static EVP_PKEY *from_certificate_object(p11_token *token, CK_OBJECT_HANDLE object,
                                         p11_error *err);

/* Returns whether every object in found contains the same public key. */
static bool companions_agree(p11_token *token, CK_OBJECT_CLASS cls,
                             const CK_OBJECT_HANDLE *found, CK_ULONG count)
{
    EVP_PKEY *first = p11_public_of_object(token, found[0], cls, NULL);
    bool agree = first != NULL;

    for (CK_ULONG i = 1; agree && i < count; i++) {
        EVP_PKEY *other = p11_public_of_object(token, found[i], cls, NULL);

        agree = other != NULL && EVP_PKEY_eq(first, other) == 1;
        EVP_PKEY_free(other);
    }
    EVP_PKEY_free(first);
    return agree;
}

/* Finds the object of class cls with the key's CKA_ID, or with its label when it has no
 * id, and puts it in *out. Returns 0, 1 when there is none, or -1 after setting err when
 * the search fails or several such objects contain different public keys. Then the
 * object of this key is unknown, and taking the first would publish or check another
 * key. A failed search is not read as "none", so the caller gets the module's reason. */
static int find_companion(p11_token *token, CK_OBJECT_CLASS cls, const unsigned char *id,
                          size_t id_len, const char *label, CK_OBJECT_HANDLE *out,
                          p11_error *err)
{
    CK_ATTRIBUTE tmpl[2];
    CK_OBJECT_HANDLE *found = NULL;
    CK_ULONG count = 0;
    int rc = 0;

    *out = CK_INVALID_HANDLE;
    tmpl[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    if (id_len > 0)
        tmpl[1] = (CK_ATTRIBUTE){CKA_ID, (void *)id, id_len};
    else if (label != NULL)
        tmpl[1] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
    else
        return 1;
    /* Every such object is compared, because one that differs may come after any
     * number that agree. */
    if (p11_object_find_all(token, tmpl, 2, &found, &count, err) != 0)
        return -1;
    if (count == 0) {
        free(found);
        return 1;
    }
    if (count > 1 && !companions_agree(token, cls, found, count)) {
        p11_fail(err, CKR_OK,
                 "key '%s': %lu %s objects with its %s hold different public keys, so "
                 "its public half is ambiguous; give each key pair its own CKA_ID",
                 label != NULL ? label : "", (unsigned long)count,
                 cls == CKO_CERTIFICATE ? "certificate" : "public key",
                 id_len > 0 ? "CKA_ID" : "label");
        rc = -1;
    } else {
        *out = found[0];
    }
    free(found);
    return rc;
}

/* Fails, setting err, when more than one private key has the key's CKA_ID (or its
 * label, when it has no id). The key's private object does not contain its public half,
 * so a single public key object or certificate with that id may belong to either key. */
static int check_single_private_key(p11_token *token, const unsigned char *id,
                                    size_t id_len, const char *label, p11_error *err)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[2];
    CK_OBJECT_HANDLE found[2];
    CK_ULONG count = 0;

    tmpl[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    if (id_len > 0)
        tmpl[1] = (CK_ATTRIBUTE){CKA_ID, (void *)id, id_len};
    else if (label != NULL)
        tmpl[1] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
    else
        return 0;
    if (p11_object_find(token, tmpl, 2, found, 2, &count, err) != 0)
        return -1;
    if (count < 2)
        return 0;
    return p11_fail(err, CKR_OK,
                    "key '%s': more than one private key has its %s, so its public half "
                    "is ambiguous; give each key pair its own CKA_ID",
                    label != NULL ? label : "", id_len > 0 ? "CKA_ID" : "label");
}

/* Reads the public key of the certificate beside the key. Returns NULL when there is
 * none, and also sets *failed when the search failed or certificates of different keys
 * share its id. */
static EVP_PKEY *from_certificate(p11_token *token, const unsigned char *id,
                                  size_t id_len, const char *label, bool *failed,
                                  p11_error *err)
{
    CK_OBJECT_HANDLE cert;

    *failed = false;
    switch (find_companion(token, CKO_CERTIFICATE, id, id_len, label, &cert, err)) {
    case 0:
        return from_certificate_object(token, cert, err);
    case -1:
        *failed = true;
        return NULL;
    default:
        return NULL;
    }
}

/* Reads the key of a public key object from its own attributes. */
static EVP_PKEY *from_public_object(p11_token *token, CK_OBJECT_HANDLE object, p11_error *err)
{
    CK_KEY_TYPE key_type = 0;
    CK_ATTRIBUTE type_attr = {CKA_KEY_TYPE, &key_type, sizeof(key_type)};
    CK_ATTRIBUTE_TYPE first = CKA_EC_PARAMS;
    CK_ATTRIBUTE_TYPE second = CKA_EC_POINT;
    unsigned char *a = NULL;
    unsigned char *b = NULL;
    size_t a_len = 0;
    size_t b_len = 0;
    EVP_PKEY *pkey = NULL;

    if (p11_object_get_fixed(token, object, &type_attr, 1, err) != 0)
        return NULL;
    if (key_type == CKK_RSA) {
        first = CKA_MODULUS;
        second = CKA_PUBLIC_EXPONENT;
    } else if (key_type != CKK_EC) {
        return NULL;
    }
    if (p11_object_get(token, object, first, &a, &a_len, false, err) == 0 &&
        p11_object_get(token, object, second, &b, &b_len, false, err) == 0)
        pkey = key_type == CKK_RSA ? rsa_public(a, a_len, b, b_len, NULL, err)
                                   : ec_public(a, a_len, b, b_len, NULL, err);
    free(a);
    free(b);
    return pkey;
}

/* Reads the subject public key of a certificate object. */
static EVP_PKEY *from_certificate_object(p11_token *token, CK_OBJECT_HANDLE object,
                                         p11_error *err)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t len = 0;
    X509 *x509;
    EVP_PKEY *pkey = NULL;

    if (p11_object_get(token, object, CKA_VALUE, &der, &len, false, err) != 0)
        return NULL;
    p = der;
    x509 = d2i_X509(NULL, &p, (long)len);
    if (x509 != NULL)
        pkey = X509_get_pubkey(x509);
    X509_free(x509);
    free(der);
    return pkey;
}

EVP_PKEY *p11_public_of_object(p11_token *token, CK_OBJECT_HANDLE object,
                               CK_OBJECT_CLASS cls, p11_error *err)
{
    if (cls == CKO_PUBLIC_KEY)
        return from_public_object(token, object, err);
    if (cls == CKO_CERTIFICATE)
        return from_certificate_object(token, object, err);
    return NULL;
}

/* Reads the public half of an RSA key from the private key's public attributes, or when
 * a module hides them, from the public key object. Returns 0, with *pkey left NULL when
 * neither has it, or -1 when the lookup must stop. */
static int rsa_from_objects(p11_token *token, CK_OBJECT_HANDLE private_key,
                            const unsigned char *id, size_t id_len, const char *label,
                            EVP_PKEY **pkey, p11_error *err)
{
    const char *name = label != NULL ? label : "";
    CK_OBJECT_HANDLE public_key;
    unsigned char *modulus = NULL;
    unsigned char *exponent = NULL;
    size_t modulus_len = 0;
    size_t exponent_len = 0;

    if (p11_object_get(token, private_key, CKA_MODULUS, &modulus, &modulus_len, true,
                       err) == 0 &&
        modulus != NULL &&
        p11_object_get(token, private_key, CKA_PUBLIC_EXPONENT, &exponent, &exponent_len,
                       true, err) == 0 &&
        exponent != NULL) {
        *pkey = rsa_public(modulus, modulus_len, exponent, exponent_len, name, err);
        goto out;
    }
    free(modulus);
    free(exponent);
    modulus = exponent = NULL;
    if (find_companion(token, CKO_PUBLIC_KEY, id, id_len, label, &public_key, err) < 0 ||
        check_single_private_key(token, id, id_len, label, err) != 0)
        return -1;
    if (public_key != CK_INVALID_HANDLE &&
        p11_object_get(token, public_key, CKA_MODULUS, &modulus, &modulus_len, false,
                       err) == 0 &&
        p11_object_get(token, public_key, CKA_PUBLIC_EXPONENT, &exponent, &exponent_len,
                       false, err) == 0)
        *pkey = rsa_public(modulus, modulus_len, exponent, exponent_len, name, err);
out:
    free(modulus);
    free(exponent);
    return 0;
}

/* Reads the public half of an EC key from the public key object. Returns 0, with *pkey
 * left NULL when there is no such object, or -1 when the lookup must stop. */
static int ec_from_objects(p11_token *token, const unsigned char *id, size_t id_len,
                           const char *label, EVP_PKEY **pkey, p11_error *err)
{
    const char *name = label != NULL ? label : "";
    CK_OBJECT_HANDLE public_key;
    unsigned char *params = NULL;
    unsigned char *point = NULL;
    size_t params_len = 0;
    size_t point_len = 0;

    if (find_companion(token, CKO_PUBLIC_KEY, id, id_len, label, &public_key, err) < 0 ||
        check_single_private_key(token, id, id_len, label, err) != 0)
        return -1;
    if (public_key != CK_INVALID_HANDLE &&
        p11_object_get(token, public_key, CKA_EC_PARAMS, &params, &params_len, false,
                       err) == 0 &&
        p11_object_get(token, public_key, CKA_EC_POINT, &point, &point_len, false, err) ==
            0)
        *pkey = ec_public(params, params_len, point, point_len, name, err);
    free(params);
    free(point);
    return 0;
}

/* Reads the public half from the certificate beside the key, for a key without a
 * public key object. Keeps an earlier error in err when there is no certificate. */
static EVP_PKEY *public_from_certificate(p11_token *token, const unsigned char *id,
                                         size_t id_len, const char *label, p11_error *err)
{
    p11_error cert_err;
    EVP_PKEY *pkey;
    bool failed;

    p11_error_clear(&cert_err);
    pkey = from_certificate(token, id, id_len, label, &failed, &cert_err);
    if (failed) {
        if (err != NULL)
            *err = cert_err;
        return NULL;
    }
    if (pkey == NULL && err != NULL && err->message[0] == '\0')
        p11_fail(err, CKR_OK,
                 "key '%s' has no public key object or certificate with the same "
                 "CKA_ID, so its public half is unknown",
                 label != NULL ? label : "");
    return pkey;
}

EVP_PKEY *p11_public_from_object(p11_token *token, CK_OBJECT_HANDLE private_key,
                                 const unsigned char *id, size_t id_len,
                                 const char *label, p11_error *err)
{
    CK_KEY_TYPE key_type = 0;
    CK_ATTRIBUTE type_attr = {CKA_KEY_TYPE, &key_type, sizeof(key_type)};
    EVP_PKEY *pkey = NULL;
    int rc;

    p11_error_clear(err);
    if (p11_object_get_fixed(token, private_key, &type_attr, 1, err) != 0)
        return NULL;

    if (key_type == CKK_RSA)
        rc = rsa_from_objects(token, private_key, id, id_len, label, &pkey, err);
    else if (key_type == CKK_EC)
        rc = ec_from_objects(token, id, id_len, label, &pkey, err);
    else
        rc = p11_fail(
            err, CKR_KEY_TYPE_INCONSISTENT,
            "key '%s' has key type 0x%lx; this layer signs with RSA and EC keys only",
            label != NULL ? label : "", (unsigned long)key_type);
    if (rc != 0)
        return NULL;

    if (pkey == NULL)
        pkey = public_from_certificate(token, id, id_len, label, err);
    if (pkey != NULL)
        p11_error_clear(err);
    return pkey;
}

EVP_PKEY *p11_key_get_public(const p11_key *key, p11_error *err)
{
    if (key == NULL || key->public == NULL) {
        p11_fail(err, CKR_OK, "no key");
        return NULL;
    }
    if (EVP_PKEY_up_ref(key->public) != 1) {
        p11_fail(err, CKR_HOST_MEMORY, "cannot take a reference to the public key");
        return NULL;
    }
    return key->public;
}
