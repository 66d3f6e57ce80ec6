/*
 * Signs a fuzz input's Signature template with the test key, so that the mutations of
 * fuzz_saml_verify_signed reach the checks that saml_verify makes after the signature.
 */
#include "fuzz_saml_sign.h"

#include <limits.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <xmlsec/crypto.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmltree.h>

#include "saml_verify_internal.h"

/* Loads the key once. It lives until the process ends, reachable from a static. */
static xmlSecKeyPtr signing_key(const char *key_path)
{
    static xmlSecKeyPtr key;

    if (key == NULL && saml_xmlsec_init() == 0)
        key = xmlSecCryptoAppKeyLoad(key_path, xmlSecKeyDataFormatPem, NULL, NULL, NULL);
    return key;
}

/* Declares the ID attribute of element as an XML ID, as the SAML schema does. */
static void declare_id(xmlDocPtr doc, xmlNodePtr element)
{
    xmlAttrPtr id = xmlHasProp(element, BAD_CAST "ID");

    if (id != NULL && id->children != NULL && id->children->content != NULL &&
        xmlGetID(doc, id->children->content) == NULL)
        xmlAddID(NULL, doc, id->children->content, id);
}

/* Returns the Signature that is a child of the root or of the root's first child
 * element, and declares the IDs of both elements. */
static xmlNodePtr find_template(xmlDocPtr doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr child;
    xmlNodePtr signature;

    if (root == NULL)
        return NULL;
    declare_id(doc, root);
    signature = xmlSecFindChild(root, xmlSecNodeSignature, xmlSecDSigNs);
    child = xmlSecGetNextElementNode(root->children);
    if (child != NULL) {
        declare_id(doc, child);
        if (signature == NULL)
            signature = xmlSecFindChild(child, xmlSecNodeSignature, xmlSecDSigNs);
    }
    return signature;
}

/* Allows what the signed seeds use and nothing else, so that no template can make
 * xmlsec read a file or the network. */
static int restrict_context(xmlSecDSigCtxPtr context)
{
    context->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    return xmlSecDSigCtxEnableReferenceTransform(context, xmlSecTransformEnvelopedId) < 0 ||
           xmlSecDSigCtxEnableReferenceTransform(context, xmlSecTransformExclC14NId) < 0 ||
           xmlSecDSigCtxEnableReferenceTransform(context, xmlSecTransformSha256Id) < 0 ||
           xmlSecDSigCtxEnableSignatureTransform(context, xmlSecTransformExclC14NId) < 0 ||
           xmlSecDSigCtxEnableSignatureTransform(context, xmlSecTransformRsaSha256Id) < 0
               ? -1
               : 0;
}

static int sign_template(xmlSecKeyPtr key, xmlNodePtr signature)
{
    xmlSecDSigCtxPtr context = xmlSecDSigCtxCreate(NULL);
    int result = -1;

    if (context == NULL)
        return -1;
    context->signKey = xmlSecKeyDuplicate(key);
    if (context->signKey != NULL && restrict_context(context) == 0)
        result = xmlSecDSigCtxSign(context, signature) < 0 ? -1 : 0;
    xmlSecDSigCtxDestroy(context);
    return result;
}

char *fuzz_saml_sign(const char *key_path, const char *text, size_t size, size_t *len)
{
    xmlSecKeyPtr key = signing_key(key_path);
    xmlDocPtr doc;
    xmlNodePtr signature;
    xmlChar *out = NULL;
    int out_len = 0;

    if (key == NULL || size > INT_MAX)
        return NULL;
    doc = xmlReadMemory(text, (int)size, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
                                                         XML_PARSE_NOWARNING);
    if (doc == NULL)
        return NULL;
    signature = find_template(doc);
    if (signature != NULL && sign_template(key, signature) == 0)
        xmlDocDumpMemory(doc, &out, &out_len);
    xmlFreeDoc(doc);
    *len = out_len > 0 ? (size_t)out_len : 0;
    return (char *)out;
}
