/*
 * Builds the node's SAML metadata once at start: its entity ID, its signing key and the
 * next signing keys of [saml] next_certificate, with an enveloped signature that the
 * node's SAML key makes in the HSM. The document is written as text, its exclusive
 * canonical form comes from libxml2, and the Signature is spliced in as the first child
 * of the EntityDescriptor, where the metadata schema puts it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/c14n.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "log.h"
#include "pem_file.h"
#include "route_common.h"
#include "xml_safe.h"

#define MD_NS "urn:oasis:names:tc:SAML:2.0:metadata"
#define DS_NS "http://www.w3.org/2000/09/xmldsig#"
#define DS11_NS "http://www.w3.org/2009/xmldsig11#"
#define ALG_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define ALG_ENVELOPED "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define ALG_SHA256 "http://www.w3.org/2001/04/xmlenc#sha256"
#define ALG_RSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define ALG_ECDSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
#define SAML_PROTOCOL "urn:oasis:names:tc:SAML:2.0:protocol"

/* The binding of this node's verification API, which is JSON over HTTPS, not SOAP. */
#define REST_BINDING "urn:idsvc:binding:rest-json"

static void put_escaped(FILE *out, const char *text)
{
    for (; *text != '\0'; text++) {
        switch (*text) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(*text, out);
        }
    }
}

static void put_base64(FILE *out, const unsigned char *der, int len)
{
    unsigned char *text = malloc((size_t)len / 3 * 4 + 8);

    if (text == NULL)
        return;
    EVP_EncodeBlock(text, der, len);
    fputs((const char *)text, out);
    free(text);
}

/* Writes the key's DER SubjectPublicKeyInfo and, when cert is not NULL, the certificate,
 * as the children of a KeyInfo after its KeyName. */
static void put_key_values(FILE *out, EVP_PKEY *key, X509 *cert)
{
    unsigned char *der = NULL;
    int len;

    len = i2d_PUBKEY(key, &der);
    if (len > 0) {
        fputs("<dsig11:DEREncodedKeyValue>", out);
        put_base64(out, der, len);
        fputs("</dsig11:DEREncodedKeyValue>", out);
    }
    OPENSSL_free(der);
    der = NULL;

    if (cert != NULL && (len = i2d_X509(cert, &der)) > 0) {
        fputs("<ds:X509Data><ds:X509Certificate>", out);
        put_base64(out, der, len);
        fputs("</ds:X509Certificate></ds:X509Data>", out);
    }
    OPENSSL_free(der);
}

static int put_key_info(FILE *out, const node *n)
{
    p11_error err = {0};
    EVP_PKEY *key = p11_key_get_public(n->saml_key, &err);

    if (key == NULL)
        return -1;
    fputs("<ds:KeyInfo><ds:KeyName>", out);
    put_escaped(out, p11_key_get_label(n->saml_key));
    fputs("</ds:KeyName>", out);
    put_key_values(out, key, n->saml_cert);
    fputs("</ds:KeyInfo>", out);
    EVP_PKEY_free(key);
    return 0;
}

/* Writes a signing KeyDescriptor of a next key, without a KeyName: the node does not
 * sign with it, so no signature names it yet. */
static void put_next_descriptor(FILE *out, EVP_PKEY *key, X509 *cert)
{
    fputs("<md:KeyDescriptor use=\"signing\"><ds:KeyInfo>", out);
    put_key_values(out, key, cert);
    fputs("</ds:KeyInfo></md:KeyDescriptor>", out);
}

/*
 * Writes one signing KeyDescriptor for each key of the [saml] next_certificate files, so
 * that relying parties that take keys from the metadata trust the next key before the
 * node signs with it. A file of certificates is published with them, and a file that
 * also has public keys gives bare keys. The start checked these files just before.
 */
static int put_next_keys(FILE *out, const config *cfg)
{
    for (size_t i = 0; i < cfg->saml_next_count; i++) {
        const char *path = cfg->saml_next_files[i];
        char detail[384] = "";
        X509 **certs = NULL;
        EVP_PKEY **keys = NULL;
        size_t count = 0;

        if (pem_read_certificates(path, &certs, &count, detail, sizeof(detail)) == 0) {
            for (size_t k = 0; k < count; k++)
                put_next_descriptor(out, X509_get0_pubkey(certs[k]), certs[k]);
            pem_certificates_free(&certs, count);
            continue;
        }
        if (pem_read_public_keys(path, &keys, &count, detail, sizeof(detail)) != 0) {
            log_message(LOG_ERROR, "metadata_failed", "[saml] next_certificate %s", detail);
            return -1;
        }
        for (size_t k = 0; k < count; k++)
            put_next_descriptor(out, keys[k], NULL);
        pem_keys_free(&keys, count);
    }
    return 0;
}

/* The unsigned document and where its Signature goes. */
typedef struct metadata_text {
    char *xml;
    size_t len;
    char id[40];             /* the EntityDescriptor's ID, which the Reference names */
    size_t signature_offset; /* right after the EntityDescriptor start tag */
} metadata_text;

static int write_unsigned(const node *n, metadata_text *out)
{
    const config *cfg = n->boot;
    FILE *stream = open_memstream(&out->xml, &out->len);
    char hex[33];
    int rc;

    if (stream == NULL || route_random_hex(hex, 16) != 0) {
        if (stream != NULL)
            fclose(stream);
        free(out->xml);
        out->xml = NULL;
        return -1;
    }
    snprintf(out->id, sizeof(out->id), "_%s", hex);

    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<md:EntityDescriptor xmlns:md=\"" MD_NS
          "\" xmlns:ds=\"" DS_NS "\" xmlns:dsig11=\"" DS11_NS "\" ID=\"", stream);
    fputs(out->id, stream);
    fputs("\" entityID=\"", stream);
    put_escaped(stream, cfg->entity_id);
    fputs("\">", stream);
    fflush(stream);
    out->signature_offset = out->len;

    fputs("<md:AttributeAuthorityDescriptor protocolSupportEnumeration=\"" SAML_PROTOCOL
          "\"><md:KeyDescriptor use=\"signing\">", stream);
    rc = put_key_info(stream, n);
    fputs("</md:KeyDescriptor>", stream);
    if (rc == 0)
        rc = put_next_keys(stream, cfg);
    fputs("<md:AttributeService Binding=\"" REST_BINDING
          "\" Location=\"", stream);
    if (cfg->public_url != NULL)
        put_escaped(stream, cfg->public_url);
    else
        fprintf(stream, "https://%s:%u", cfg->listen_address, cfg->port);
    fputs("/v1/verifications\"/></md:AttributeAuthorityDescriptor></md:EntityDescriptor>\n",
          stream);

    if (fclose(stream) != 0 || rc != 0) {
        free(out->xml);
        out->xml = NULL;
        return -1;
    }
    return 0;
}

/* The SHA-256 of the exclusive canonical form of the document, which is what the
 * enveloped-signature and exc-c14n transforms give once the Signature is in place. */
static int digest_document(const metadata_text *text, unsigned char digest[SHA256_DIGEST_LENGTH])
{
    xmlDocPtr doc = NULL;
    xmlChar *canonical = NULL;
    char detail[128];
    int len;
    int rc = -1;

    if (xml_safe_parse(text->xml, text->len, text->len + 1, &doc, detail, sizeof(detail)) !=
        XML_SAFE_OK) {
        log_message(LOG_ERROR, "metadata_failed", "the metadata does not parse: %s", detail);
        goto out;
    }
    len = xmlC14NDocDumpMemory(doc, NULL, XML_C14N_EXCLUSIVE_1_0, NULL, 0, &canonical);
    if (len < 0)
        goto out;
    SHA256(canonical, (size_t)len, digest);
    rc = 0;

out:
    xmlFree(canonical);
    xmlFreeDoc(doc);
    return rc;
}

#define SIGNED_INFO_FORMAT                                                                 \
    "<ds:SignedInfo%s><ds:CanonicalizationMethod Algorithm=\"" ALG_EXC_C14N                   \
    "\"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"%s\">"                     \
    "</ds:SignatureMethod><ds:Reference URI=\"#%s\"><ds:Transforms>"                          \
    "<ds:Transform Algorithm=\"" ALG_ENVELOPED "\"></ds:Transform>"                           \
    "<ds:Transform Algorithm=\"" ALG_EXC_C14N "\"></ds:Transform>"                            \
    "</ds:Transforms><ds:DigestMethod Algorithm=\"" ALG_SHA256 "\">"                          \
    "</ds:DigestMethod><ds:DigestValue>%s</ds:DigestValue></ds:Reference></ds:SignedInfo>"

/* Writes SignedInfo. Alone, with the ds namespace declared on it, this text is already
 * the exclusive canonical form; inside the document the declaration on the root
 * applies, and exclusive c14n of SignedInfo there gives the same bytes. */
static char *write_signed_info(const char *method, const char *id,
                               const unsigned char digest[SHA256_DIGEST_LENGTH],
                               int with_namespace)
{
    char digest_b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
    const char *ns = with_namespace ? " xmlns:ds=\"" DS_NS "\"" : "";
    char *text;
    int len;

    EVP_EncodeBlock((unsigned char *)digest_b64, digest, SHA256_DIGEST_LENGTH);
    len = snprintf(NULL, 0, SIGNED_INFO_FORMAT, ns, method, id, digest_b64);
    text = len > 0 ? malloc((size_t)len + 1) : NULL;
    if (text != NULL)
        snprintf(text, (size_t)len + 1, SIGNED_INFO_FORMAT, ns, method, id, digest_b64);
    return text;
}

/* Signs the canonical SignedInfo in the HSM and returns the SignatureValue in base64. */
static char *sign_in_hsm(const node *n, const char *signed_info)
{
    p11_key_type type = p11_key_get_type(n->saml_key);
    p11_sign_alg alg = type == P11_KEY_EC_P256 || type == P11_KEY_EC_P384
                           ? P11_SIGN_ECDSA_SHA256
                           : P11_SIGN_RSA_PKCS1_SHA256;
    unsigned char signature[1024];
    size_t signature_len = sizeof(signature);
    p11_error err = {0};
    char *value;

    if (p11_sign(n->saml_key, alg, (const unsigned char *)signed_info, strlen(signed_info),
                 signature, &signature_len, &err) != 0) {
        log_message(LOG_ERROR, "metadata_failed", "the HSM did not sign the metadata: %s",
                    err.message);
        return NULL;
    }
    value = malloc(4 * ((signature_len + 2) / 3) + 1);
    if (value != NULL)
        EVP_EncodeBlock((unsigned char *)value, signature, (int)signature_len);
    return value;
}

/* Joins the unsigned text and the Signature element into the signed document. */
static char *splice_signature(const node *n, const metadata_text *text,
                              const char *signed_info, const char *value)
{
    FILE *stream;
    char *xml = NULL;
    size_t size = 0;

    stream = open_memstream(&xml, &size);
    if (stream == NULL)
        return NULL;
    fwrite(text->xml, 1, text->signature_offset, stream);
    fputs("<ds:Signature>", stream);
    fputs(signed_info, stream);
    fputs("<ds:SignatureValue>", stream);
    fputs(value, stream);
    fputs("</ds:SignatureValue><ds:KeyInfo><ds:KeyName>", stream);
    put_escaped(stream, p11_key_get_label(n->saml_key));
    fputs("</ds:KeyName></ds:KeyInfo></ds:Signature>", stream);
    fputs(text->xml + text->signature_offset, stream);
    if (fclose(stream) != 0) {
        free(xml);
        return NULL;
    }
    return xml;
}

/* NOTE: the metadata carries no validUntil, because the node builds it once at start
 * and serves it until it stops; relying parties decide how long to cache it. */
char *route_metadata_build(const node *n)
{
    p11_key_type type = p11_key_get_type(n->saml_key);
    const char *method = type == P11_KEY_EC_P256 || type == P11_KEY_EC_P384
                             ? ALG_ECDSA_SHA256
                             : ALG_RSA_SHA256;
    metadata_text text = {0};
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char *canonical_signed_info = NULL;
    char *signed_info = NULL;
    char *value = NULL;
    char *xml = NULL;

    if (write_unsigned(n, &text) != 0 || digest_document(&text, digest) != 0)
        goto out;

    canonical_signed_info = write_signed_info(method, text.id, digest, 1);
    signed_info = write_signed_info(method, text.id, digest, 0);
    if (canonical_signed_info == NULL || signed_info == NULL)
        goto out;
    value = sign_in_hsm(n, canonical_signed_info);
    if (value == NULL)
        goto out;
    xml = splice_signature(n, &text, signed_info, value);

out:
    free(value);
    free(signed_info);
    free(canonical_signed_info);
    free(text.xml);
    return xml;
}
