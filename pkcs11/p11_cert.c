/* X.509 certificate objects stored beside a key, with its label and CKA_ID. */
#include <stdlib.h>
#include <string.h>

#include "p11_internal.h"

CK_ULONG p11_key_companion_template(const p11_key *key, CK_OBJECT_CLASS *cls,
                                    CK_ATTRIBUTE *tmpl)
{
    CK_ULONG n = 0;

    tmpl[n++] = (CK_ATTRIBUTE){CKA_CLASS, cls, sizeof(*cls)};
    if (key->id_len > 0)
        tmpl[n++] = (CK_ATTRIBUTE){CKA_ID, key->id, key->id_len};
    else
        tmpl[n++] = (CK_ATTRIBUTE){CKA_LABEL, key->label, strlen(key->label)};
    return n;
}

static int der_of(int len, unsigned char *der, const char *what, p11_error *err)
{
    (void)der;
    if (len <= 0)
        return p11_fail(err, CKR_OK, "cannot encode the certificate's %s", what);
    return 0;
}

int p11_cert_store(p11_token *token, const p11_key *key, X509 *cert, p11_error *err)
{
    static CK_BBOOL yes = CK_TRUE;
    static CK_BBOOL no = CK_FALSE;
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE cert_type = CKC_X_509;
    unsigned char *value = NULL, *subject = NULL, *issuer = NULL, *serial = NULL;
    int value_len, subject_len, issuer_len, serial_len;
    CK_OBJECT_HANDLE *old = NULL;
    CK_ULONG old_count = 0;
    CK_OBJECT_HANDLE created;
    CK_ATTRIBUTE find[2];
    CK_ULONG find_n;
    int ret = -1;

    p11_error_clear(err);
    if (EVP_PKEY_eq(X509_get0_pubkey(cert), key->public) != 1)
        return p11_fail(err, CKR_OK,
                        "the certificate's public key is not the public key of '%s'",
                        key->label);

    value_len = i2d_X509(cert, &value);
    subject_len = i2d_X509_NAME(X509_get_subject_name(cert), &subject);
    issuer_len = i2d_X509_NAME(X509_get_issuer_name(cert), &issuer);
    serial_len = i2d_ASN1_INTEGER(X509_get_serialNumber(cert), &serial);
    if (der_of(value_len, value, "DER", err) != 0 ||
        der_of(subject_len, subject, "subject", err) != 0 ||
        der_of(issuer_len, issuer, "issuer", err) != 0 ||
        der_of(serial_len, serial, "serial number", err) != 0)
        goto out;

    /* A new certificate replaces the old ones of the key, after it is stored. */
    find_n = p11_key_companion_template(key, &cls, find);
    if (p11_object_find_all(token, find, find_n, &old, &old_count, err) != 0)
        goto out;

    {
        CK_ATTRIBUTE tmpl[] = {
            {CKA_CLASS, &cls, sizeof(cls)},
            {CKA_CERTIFICATE_TYPE, &cert_type, sizeof(cert_type)},
            {CKA_TOKEN, &yes, sizeof(yes)},
            {CKA_PRIVATE, &no, sizeof(no)},
            {CKA_LABEL, key->label, strlen(key->label)},
            {CKA_ID, key->id, key->id_len},
            {CKA_SUBJECT, subject, (CK_ULONG)subject_len},
            {CKA_ISSUER, issuer, (CK_ULONG)issuer_len},
            {CKA_SERIAL_NUMBER, serial, (CK_ULONG)serial_len},
            {CKA_VALUE, value, (CK_ULONG)value_len},
        };

        if (p11_object_create(token, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &created,
                              err) != 0)
            goto out;
    }
    for (CK_ULONG i = 0; i < old_count; i++) {
        if (p11_object_destroy(token, old[i], err) != 0)
            goto out;
    }
    ret = 0;
out:
    free(old);
    OPENSSL_free(value);
    OPENSSL_free(subject);
    OPENSSL_free(issuer);
    OPENSSL_free(serial);
    return ret;
}

X509 *p11_cert_load(p11_token *token, const p11_key *key, p11_error *err)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_ATTRIBUTE tmpl[2];
    CK_OBJECT_HANDLE *found = NULL;
    CK_ULONG count = 0;
    X509 *cert = NULL;
    bool mismatch = false;

    p11_error_clear(err);
    if (p11_object_find_all(token, tmpl, p11_key_companion_template(key, &cls, tmpl), &found, &count,
                            err) != 0)
        return NULL;
    for (CK_ULONG i = 0; i < count && cert == NULL; i++) {
        unsigned char *der = NULL;
        const unsigned char *p;
        size_t len = 0;

        if (p11_object_get(token, found[i], CKA_VALUE, &der, &len, false, err) != 0)
            break;
        p = der;
        cert = d2i_X509(NULL, &p, (long)len);
        free(der);
        /* Only a certificate of this very key counts. */
        if (cert != NULL && EVP_PKEY_eq(X509_get0_pubkey(cert), key->public) != 1) {
            X509_free(cert);
            cert = NULL;
            mismatch = true;
        }
    }
    free(found);
    if (cert == NULL && mismatch && err != NULL && err->message[0] == '\0')
        p11_fail(err, CKR_OK,
                 "the certificate stored beside '%s' does not hold its public key",
                 key->label);
    return cert;
}
