/*
 * The subject CN of a client certificate for the role mapping. GnuTLS returns a DN
 * attribute as an RFC 4514 string, which escapes characters such as ',' and shows some
 * string types as '#' and hex, so a configured subject_cn could not be compared with it.
 * OpenSSL's ASN1_STRING_to_UTF8 returns the value itself, converted to UTF-8 from any
 * ASN.1 string type (T61String is read as Latin-1).
 */
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "tls.h"

/* Copies one CN value into out when a subject_cn could match it. */
static void copy_cn(const ASN1_STRING *value, char *out, size_t out_size,
                    tls_cn_status *status)
{
    unsigned char *utf8 = NULL;
    int len = ASN1_STRING_to_UTF8(&utf8, value);
    long characters = -1;

    *status = TLS_CN_INVALID;
    /* len is -1 for a value that is not a string type or not valid in its type, and when
     * memory runs out. Each case leaves the certificate without a CN to match. */
    if (len > 0 && (size_t)len < out_size && memchr(utf8, '\0', (size_t)len) == NULL)
        characters = config_utf8_characters((const char *)utf8);
    if (characters > 0 && characters <= CONFIG_CN_MAX_CHARS) {
        memcpy(out, utf8, (size_t)len + 1);
        *status = TLS_CN_OK;
    }
    OPENSSL_free(utf8);
}

int tls_subject_cn(const gnutls_datum_t *der, char *out, size_t out_size,
                   tls_cn_status *status)
{
    const unsigned char *p = der->data;
    X509 *cert = d2i_X509(NULL, &p, (long)der->size);
    const X509_NAME *subject;
    int first;

    out[0] = '\0';
    *status = TLS_CN_INVALID;
    if (cert == NULL)
        return -1;
    subject = X509_get_subject_name(cert);

    /* The index search covers every attribute of every RDN, so a multi-valued RDN such
     * as CN=a+CN=b counts as two CNs too. */
    first = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (first < 0)
        *status = TLS_CN_ABSENT;
    else if (X509_NAME_get_index_by_NID(subject, NID_commonName, first) >= 0)
        *status = TLS_CN_SEVERAL;
    else
        copy_cn(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, first)), out,
                out_size, status);
    X509_free(cert);
    return 0;
}

const char *tls_peer_cn(const tls_peer *peer)
{
    return peer->cn_status == TLS_CN_OK ? peer->subject_cn : NULL;
}
