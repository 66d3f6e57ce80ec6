/* Builds the node's SAML metadata once at start: its entity ID and signing key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "log.h"
#include "route_common.h"

#define MD_NS "urn:oasis:names:tc:SAML:2.0:metadata"
#define DS_NS "http://www.w3.org/2000/09/xmldsig#"
#define DS11_NS "http://www.w3.org/2009/xmldsig11#"
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

static int put_key_info(FILE *out, const node *n)
{
    p11_error err = {0};
    EVP_PKEY *key = p11_key_get_public(n->saml_key, &err);
    unsigned char *der = NULL;
    int len;

    if (key == NULL)
        return -1;
    fputs("<ds:KeyInfo><ds:KeyName>", out);
    put_escaped(out, p11_key_get_label(n->saml_key));
    fputs("</ds:KeyName>", out);

    len = i2d_PUBKEY(key, &der);
    if (len > 0) {
        fputs("<dsig11:DEREncodedKeyValue>", out);
        put_base64(out, der, len);
        fputs("</dsig11:DEREncodedKeyValue>", out);
    }
    OPENSSL_free(der);
    der = NULL;

    if (n->saml_cert != NULL && (len = i2d_X509(n->saml_cert, &der)) > 0) {
        fputs("<ds:X509Data><ds:X509Certificate>", out);
        put_base64(out, der, len);
        fputs("</ds:X509Certificate></ds:X509Data>", out);
    }
    OPENSSL_free(der);
    fputs("</ds:KeyInfo>", out);
    EVP_PKEY_free(key);
    return 0;
}

/* NOTE: the metadata is not signed yet; clients should fetch it over TLS only. */
char *route_metadata_build(const node *n)
{
    const config *cfg = n->boot;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    int rc;

    if (out == NULL)
        return NULL;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<md:EntityDescriptor xmlns:md=\"" MD_NS
          "\" xmlns:ds=\"" DS_NS "\" xmlns:dsig11=\"" DS11_NS "\" entityID=\"", out);
    put_escaped(out, cfg->entity_id);
    fputs("\"><md:AttributeAuthorityDescriptor protocolSupportEnumeration=\"" SAML_PROTOCOL
          "\"><md:KeyDescriptor use=\"signing\">", out);
    rc = put_key_info(out, n);
    fputs("</md:KeyDescriptor><md:AttributeService Binding=\"" REST_BINDING
          "\" Location=\"", out);
    if (cfg->public_url != NULL)
        put_escaped(out, cfg->public_url);
    else
        fprintf(out, "https://%s:%u", cfg->listen_address, cfg->port);
    fputs("/v1/verifications\"/></md:AttributeAuthorityDescriptor></md:EntityDescriptor>\n",
          out);

    if (fclose(out) != 0 || rc != 0) {
        free(text);
        return NULL;
    }
    return text;
}
