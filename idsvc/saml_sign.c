/*
 * Signs a canonical Assertion: SHA-256 of the canonical bytes for the DigestValue, the
 * canonical SignedInfo signed by C_Sign in the HSM, and the Signature element spliced in
 * right after the Issuer.
 */
#include "saml_build.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

/* Large enough for RSA-4096 and for raw r||s of P-521. */
#define SIGNATURE_MAX 1024

/* SHA-256 fetched once, because OpenSSL 3.0's SHA256() looks the digest up in the
 * provider store, under its locks, on every call. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int digest_sha256(const char *data, size_t len,
                         unsigned char digest[SHA256_DIGEST_LENGTH], p11_error *err)
{
    pthread_once(&sha256_once, fetch_sha256);
    if (sha256_md == NULL ||
        EVP_Digest(data, len, digest, NULL, sha256_md, NULL) != 1) {
        saml_set_error(err, "OpenSSL could not compute SHA-256 of the assertion");
        return -1;
    }
    return 0;
}

/*
 * The SignedInfo start tag as exclusive c14n writes it when SignedInfo is canonicalised
 * alone: it declares the ds namespace itself. Inside the document the declaration sits
 * on the Signature element instead, and SignedInfo starts with SIGNED_INFO_IN_DOCUMENT.
 */
#define SIGNED_INFO_CANONICAL "<ds:SignedInfo xmlns:ds=\"" SAML_NS_DSIG "\">"
#define SIGNED_INFO_IN_DOCUMENT "<ds:SignedInfo>"

static int choose_algorithm(const p11_key *key, p11_sign_alg *alg, const char **uri,
                            p11_error *err)
{
    switch (p11_key_get_type(key)) {
    case P11_KEY_RSA_2048:
    case P11_KEY_RSA_3072:
        *alg = P11_SIGN_RSA_PKCS1_SHA256;
        *uri = SAML_ALG_RSA_SHA256;
        return 0;
    case P11_KEY_EC_P256:
    case P11_KEY_EC_P384:
        *alg = P11_SIGN_ECDSA_SHA256;
        *uri = SAML_ALG_ECDSA_SHA256;
        return 0;
    }
    saml_set_error(err, "the signing key has a type the SAML signer does not support");
    return -1;
}

static void write_signed_info(saml_buf *buf, const char *algorithm_uri, const char *id,
                              const unsigned char digest[SHA256_DIGEST_LENGTH])
{
    saml_buf_puts(buf, SIGNED_INFO_CANONICAL
                  "<ds:CanonicalizationMethod Algorithm=\"" SAML_ALG_EXC_C14N "\">"
                  "</ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"");
    saml_buf_puts(buf, algorithm_uri);
    saml_buf_puts(buf, "\"></ds:SignatureMethod><ds:Reference URI=\"#");
    saml_buf_puts(buf, id);
    saml_buf_puts(buf,
                  "\"><ds:Transforms>"
                  "<ds:Transform Algorithm=\"" SAML_ALG_ENVELOPED "\"></ds:Transform>"
                  "<ds:Transform Algorithm=\"" SAML_ALG_EXC_C14N "\">"
                  "<ec:InclusiveNamespaces xmlns:ec=\"" SAML_ALG_EXC_C14N
                  "\" PrefixList=\"xs\"></ec:InclusiveNamespaces></ds:Transform>"
                  "</ds:Transforms>"
                  "<ds:DigestMethod Algorithm=\"" SAML_ALG_SHA256 "\"></ds:DigestMethod>"
                  "<ds:DigestValue>");
    saml_buf_put_base64(buf, digest, SHA256_DIGEST_LENGTH);
    saml_buf_puts(buf, "</ds:DigestValue></ds:Reference></ds:SignedInfo>");
}

/* Appends the base64 text of cert's DER form. Returns -1 when i2d_X509 fails. */
static int put_certificate_base64(saml_buf *buf, X509 *cert)
{
    unsigned char *der = NULL;
    int der_len = i2d_X509(cert, &der);

    if (der_len <= 0)
        return -1;
    saml_buf_put_base64(buf, der, (size_t)der_len);
    OPENSSL_free(der);
    return 0;
}

char *saml_certificate_base64(X509 *cert)
{
    saml_buf text = {0};

    /* Every write to a saml_buf leaves its data NUL-terminated. */
    if (cert == NULL || put_certificate_base64(&text, cert) != 0 || text.data == NULL)
        text.failed = true;
    if (text.failed) {
        saml_buf_free(&text);
        return NULL;
    }
    return text.data;
}

/* Writes X509Data from the signer's encoded text when it has one, else from its cert. */
static int write_certificate(saml_buf *buf, const saml_signer *signer, p11_error *err)
{
    saml_buf_puts(buf, "<ds:X509Data><ds:X509Certificate>");
    if (signer->cert_base64 != NULL) {
        saml_buf_puts(buf, signer->cert_base64);
    } else if (put_certificate_base64(buf, signer->cert) != 0) {
        saml_set_error(err, "the signing certificate could not be DER-encoded");
        return -1;
    }
    saml_buf_puts(buf, "</ds:X509Certificate></ds:X509Data>");
    return 0;
}

/* Writes KeyInfo with the KeyName and, when the signer has one, the certificate. */
static int write_key_info(saml_buf *buf, const saml_signer *signer, p11_error *err)
{
    const char *key_name = signer->key_name;
    bool has_cert = signer->cert != NULL || signer->cert_base64 != NULL;
    char reason[128];

    if (key_name == NULL)
        key_name = p11_key_get_label(signer->key);
    if ((key_name == NULL || key_name[0] == '\0') && !has_cert)
        return 0;

    saml_buf_puts(buf, "<ds:KeyInfo>");
    if (key_name != NULL && key_name[0] != '\0') {
        if (saml_text_check(key_name, reason, sizeof(reason)) != 0) {
            saml_set_error(err, "the key name %s", reason);
            return -1;
        }
        saml_buf_puts(buf, "<ds:KeyName>");
        saml_buf_put_text(buf, key_name);
        saml_buf_puts(buf, "</ds:KeyName>");
    }
    if (has_cert && write_certificate(buf, signer, err) != 0)
        return -1;
    saml_buf_puts(buf, "</ds:KeyInfo>");
    return 0;
}

static int write_signature(saml_signed_parts *parts, const saml_signer *signer,
                           const unsigned char *signature, size_t signature_len,
                           p11_error *err)
{
    saml_buf *buf = &parts->signature;
    size_t canonical_open = strlen(SIGNED_INFO_CANONICAL);

    saml_buf_puts(buf,
                  "<ds:Signature xmlns:ds=\"" SAML_NS_DSIG "\">" SIGNED_INFO_IN_DOCUMENT);
    saml_buf_put(buf, parts->signed_info.data + canonical_open,
                 parts->signed_info.len - canonical_open);
    saml_buf_puts(buf, "<ds:SignatureValue>");
    saml_buf_put_base64(buf, signature, signature_len);
    saml_buf_puts(buf, "</ds:SignatureValue>");
    if (write_key_info(buf, signer, err) != 0)
        return -1;
    saml_buf_puts(buf, "</ds:Signature>");
    return 0;
}

int saml_sign_parts(const saml_assertion_spec *spec, const saml_signer *signer,
                    saml_signed_parts *parts, p11_error *err)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    unsigned char signature[SIGNATURE_MAX];
    size_t signature_len = sizeof(signature);
    const char *algorithm_uri;
    p11_sign_alg alg;

    if (signer == NULL || signer->key == NULL) {
        saml_set_error(err, "no signing key was given");
        return -1;
    }
    if (choose_algorithm(signer->key, &alg, &algorithm_uri, err) != 0)
        return -1;
    if (saml_build_canonical(spec, parts, err) != 0)
        return -1;

    if (digest_sha256(parts->assertion.data, parts->assertion.len, digest, err) != 0)
        return -1;
    write_signed_info(&parts->signed_info, algorithm_uri, parts->id, digest);
    if (parts->signed_info.failed) {
        saml_set_error(err, "out of memory while writing SignedInfo");
        return -1;
    }

    /* The only private-key operation: C_Sign over the canonical SignedInfo. */
    if (p11_sign(signer->key, alg, (const unsigned char *)parts->signed_info.data,
                 parts->signed_info.len, signature, &signature_len, err) != 0)
        return -1;

    if (write_signature(parts, signer, signature, signature_len, err) != 0)
        return -1;
    if (parts->signature.failed) {
        saml_set_error(err, "out of memory while writing the Signature");
        return -1;
    }
    return 0;
}

char *saml_signed_parts_join(const saml_signed_parts *parts, size_t *len)
{
    size_t head = parts->signature_offset;
    size_t tail = parts->assertion.len - head;
    size_t total = parts->assertion.len + parts->signature.len;
    char *xml = malloc(total + 1);

    if (xml == NULL)
        return NULL;
    memcpy(xml, parts->assertion.data, head);
    memcpy(xml + head, parts->signature.data, parts->signature.len);
    memcpy(xml + head + parts->signature.len, parts->assertion.data + head, tail);
    xml[total] = '\0';
    *len = total;
    return xml;
}

int saml_build_unsigned_size(const saml_assertion_spec *spec, size_t *size)
{
    saml_signed_parts parts;
    p11_error err;
    int result;

    memset(&parts, 0, sizeof(parts));
    result = saml_build_canonical(spec, &parts, &err);
    if (result == 0)
        *size = parts.assertion.len;
    saml_signed_parts_free(&parts);
    return result;
}

int saml_build_signed(const saml_assertion_spec *spec, const saml_signer *signer,
                      char **xml_out, size_t *xml_len, p11_error *err)
{
    saml_signed_parts parts;
    size_t len = 0;
    int result = -1;

    memset(&parts, 0, sizeof(parts));
    *xml_out = NULL;
    if (saml_sign_parts(spec, signer, &parts, err) != 0)
        goto out;

    *xml_out = saml_signed_parts_join(&parts, &len);
    if (*xml_out == NULL) {
        saml_set_error(err, "out of memory while joining the signed assertion");
        goto out;
    }
    if (xml_len != NULL)
        *xml_len = len;
    result = 0;

out:
    saml_signed_parts_free(&parts);
    return result;
}
