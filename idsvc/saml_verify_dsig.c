/*
 * XML-DSig checks and verification with libxmlsec1 1.2.37 (OpenSSL backend).
 *
 * The SignedInfo is checked here first, so that each rejection gets its own reason code;
 * the xmlsec context is then hardened as well, so that xmlsec enforces the same limits
 * on its own. Keys come only from the trust store: each one is set directly as
 * dsigCtx->signKey, so xmlsec never reads KeyInfo and never copies a key.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xmlsec/xmlsec.h>

#include <libxml/tree.h>
#include <libxml/valid.h>
#include <openssl/evp.h>
#include <xmlsec/errors.h>
#include <xmlsec/keyinfo.h>
#include <xmlsec/keysdata.h>
#include <xmlsec/openssl/app.h>
#include <xmlsec/openssl/crypto.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>

#include "saml_verify_internal.h"
#include "xml_safe.h"

#define URI_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define URI_ENVELOPED "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define URI_MORE "http://www.w3.org/2001/04/xmldsig-more#"

typedef struct saml_algorithm {
    const char *uri;
    const char *name;
    int key_type; /* 0 for a digest */
    bool sha1;
} saml_algorithm;

/* The node signs with rsa-sha256 and ecdsa-sha256 only, but verifies the SHA-384 and
 * SHA-512 methods of RFC 6931 too, which other identity providers use. Any of them may
 * go with any EC curve of SAML_MIN_EC_BITS or more. The SHA-1 methods pass only for an
 * issuer that is allowed SHA-1. */
static const saml_algorithm saml_signature_methods[] = {
    { URI_MORE "rsa-sha256", "rsa-sha256", EVP_PKEY_RSA, false },
    { URI_MORE "rsa-sha384", "rsa-sha384", EVP_PKEY_RSA, false },
    { URI_MORE "rsa-sha512", "rsa-sha512", EVP_PKEY_RSA, false },
    { URI_MORE "ecdsa-sha256", "ecdsa-sha256", EVP_PKEY_EC, false },
    { URI_MORE "ecdsa-sha384", "ecdsa-sha384", EVP_PKEY_EC, false },
    { URI_MORE "ecdsa-sha512", "ecdsa-sha512", EVP_PKEY_EC, false },
    { "http://www.w3.org/2000/09/xmldsig#rsa-sha1", "rsa-sha1", EVP_PKEY_RSA, true },
    { URI_MORE "ecdsa-sha1", "ecdsa-sha1", EVP_PKEY_EC, true },
};

static const saml_algorithm saml_digest_methods[] = {
    { "http://www.w3.org/2001/04/xmlenc#sha256", "sha256", 0, false },
    { URI_MORE "sha384", "sha384", 0, false },
    { "http://www.w3.org/2001/04/xmlenc#sha512", "sha512", 0, false },
    { "http://www.w3.org/2000/09/xmldsig#sha1", "sha1", 0, true },
};

/* ---- Initialisation and xmlsec errors ------------------------------------------ */

static pthread_once_t saml_xmlsec_once = PTHREAD_ONCE_INIT;
static int saml_xmlsec_init_result = -1;

/* The first xmlsec error of the current verification, for the detail sentence. */
static _Thread_local int saml_xmlsec_error_reason;
static _Thread_local char saml_xmlsec_error_message[160];

static void saml_xmlsec_on_error(const char *file, int line, const char *func,
                                 const char *error_object, const char *error_subject,
                                 int reason, const char *message)
{
    (void)file;
    (void)line;
    (void)error_object;

    if (saml_xmlsec_error_reason != 0)
        return;
    saml_xmlsec_error_reason = reason;
    snprintf(saml_xmlsec_error_message, sizeof(saml_xmlsec_error_message), "%s: %s%s%s",
             func != NULL ? func : "xmlsec", error_subject != NULL ? error_subject : "",
             error_subject != NULL ? ": " : "", message != NULL ? message : "");
}

static void saml_xmlsec_init_once(void)
{
    xml_safe_init();
    if (xmlSecInit() < 0)
        return;
    if (xmlSecCheckVersion() != 1)
        return;
    if (xmlSecOpenSSLAppInit(NULL) < 0)
        return;
    if (xmlSecOpenSSLInit() < 0)
        return;

    /* Errors go to the verification's detail, not to stderr. */
    xmlSecErrorsSetCallback(saml_xmlsec_on_error);
    saml_xmlsec_init_result = 0;
}

int saml_xmlsec_init(void)
{
    pthread_once(&saml_xmlsec_once, saml_xmlsec_init_once);
    return saml_xmlsec_init_result;
}

saml_status saml_fail(char *detail, size_t detail_size, saml_status status, const char *format,
                      ...)
{
    va_list args;

    va_start(args, format);
    vsnprintf(detail, detail_size, format, args);
    va_end(args);
    return status;
}

/* ---- Checks of the Signature element ------------------------------------------- */

static const char *saml_dsig_algorithm(const xmlNode *node)
{
    const xmlAttr *attr = xmlHasProp((xmlNodePtr)node, (const xmlChar *)"Algorithm");

    if (attr == NULL || attr->children == NULL || attr->children->content == NULL)
        return "";
    return (const char *)attr->children->content;
}

static bool saml_dsig_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Rejects with status a node without the Algorithm attribute, which the XML-DSig schema
 * requires, and an Algorithm URI with white space around it, such as one a signer wrapped
 * onto its own line. xmlsec compares the URI exactly, so such a URI names no algorithm,
 * and the sentence names the white space as the fault. */
static saml_status saml_dsig_check_algorithm_space(const xmlNode *node,
                                                   saml_status status, char *detail,
                                                   size_t detail_size)
{
    const char *uri = saml_dsig_algorithm(node);
    size_t len = strlen(uri);

    if (xmlHasProp((xmlNodePtr)node, (const xmlChar *)"Algorithm") == NULL)
        return saml_fail(detail, detail_size, status,
                         "the %.40s has no Algorithm attribute, which XML-DSig requires",
                         node->name);
    if (len == 0 || (!saml_dsig_is_space(uri[0]) && !saml_dsig_is_space(uri[len - 1])))
        return SAML_OK;
    return saml_fail(
        detail, detail_size, status,
        "the %.40s Algorithm \"%.120s\" has leading or trailing white space; "
        "remove it, because the URI must match exactly",
        node->name, uri);
}

static const saml_algorithm *saml_dsig_find_algorithm(const saml_algorithm *table, size_t count,
                                                      const char *uri)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(table[i].uri, uri) == 0)
            return &table[i];
    }
    return NULL;
}

/* Returns the only child element with this name, or NULL when there is none or more. */
static xmlNodePtr saml_dsig_only_child(xmlNodePtr parent, const char *name, size_t *count)
{
    xmlNodePtr found = NULL;

    *count = 0;
    for (xmlNodePtr child = parent->children; child != NULL; child = child->next) {
        if (!xml_safe_is_element(child, SAML_NS_DSIG, name))
            continue;
        (*count)++;
        found = child;
    }
    return *count == 1 ? found : NULL;
}

/* Checks one Transform and counts it in *enveloped or *exclusive. Each of the two may
 * appear once, because a repeated c14n would canonicalise the document again. */
static saml_status saml_dsig_check_transform(xmlNodePtr transform, size_t *enveloped,
                                             size_t *exclusive, char *detail,
                                             size_t detail_size)
{
    const char *uri;
    bool is_exclusive;
    size_t *seen;
    saml_status status;

    if (!xml_safe_is_element(transform, SAML_NS_DSIG, "Transform"))
        return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_MALFORMED,
                         "Transforms contains an unexpected element <%.40s>", transform->name);
    status = saml_dsig_check_algorithm_space(transform, SAML_ERR_TRANSFORM_FORBIDDEN, detail,
                                             detail_size);
    if (status != SAML_OK)
        return status;
    uri = saml_dsig_algorithm(transform);
    is_exclusive = strcmp(uri, URI_EXC_C14N) == 0;
    if (strcmp(uri, URI_ENVELOPED) != 0 && !is_exclusive)
        return saml_fail(detail, detail_size, SAML_ERR_TRANSFORM_FORBIDDEN,
                         "the reference transform \"%.120s\" is not allowed; only "
                         "enveloped-signature and exclusive c14n are",
                         uri);

    seen = is_exclusive ? exclusive : enveloped;
    (*seen)++;
    if (*seen > 1)
        return saml_fail(detail, detail_size, SAML_ERR_TRANSFORM_FORBIDDEN,
                         "the Reference lists the transform \"%.120s\" more than once", uri);
    return saml_c14n_check_parameters(transform, is_exclusive, detail, detail_size);
}

/*
 * Requires exclusive c14n as the last reference transform, after an optional
 * enveloped-signature. Without it, or with enveloped-signature after it, xmlsec turns the
 * node set into bytes with inclusive c14n, which renders every namespace in scope on
 * every element and which the profile does not allow.
 */
static saml_status saml_dsig_check_transforms(xmlNodePtr reference, char *detail,
                                              size_t detail_size)
{
    size_t count;
    size_t enveloped = 0;
    size_t exclusive = 0;
    bool exclusive_last = false;
    xmlNodePtr transforms = saml_dsig_only_child(reference, "Transforms", &count);

    if (count > 1)
        return saml_fail(detail, detail_size, SAML_ERR_TRANSFORM_FORBIDDEN,
                         "the Reference has %zu Transforms elements", count);

    for (xmlNodePtr child = transforms != NULL ? transforms->children : NULL; child != NULL;
         child = child->next) {
        saml_status status;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        status = saml_dsig_check_transform(child, &enveloped, &exclusive, detail, detail_size);
        if (status != SAML_OK)
            return status;
        exclusive_last = strcmp(saml_dsig_algorithm(child), URI_EXC_C14N) == 0;
    }

    if (!exclusive_last)
        return saml_fail(detail, detail_size, SAML_ERR_TRANSFORM_FORBIDDEN,
                         "the Reference's last transform is not exclusive c14n, so xmlsec "
                         "would canonicalise with inclusive c14n");
    return SAML_OK;
}

/* Fails for a Signature, SignedInfo or Reference without exactly one child element
 * name, which saml_dsig_check_form has already ruled out. */
static saml_status saml_dsig_fail_count(xmlNodePtr parent, const char *name, size_t count,
                                        char *detail, size_t detail_size)
{
    return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_MALFORMED,
                     "the %.40s has %zu %s elements; exactly one is required", parent->name,
                     count, name);
}

/* Checks the DigestMethod and that the DigestValue is base64, so that a malformed value
 * is named as such and not as a signature that failed to verify. */
static saml_status saml_dsig_check_digest(xmlNodePtr reference, saml_dsig_info *info,
                                          char *detail, size_t detail_size)
{
    size_t count;
    xmlNodePtr method_node = saml_dsig_only_child(reference, "DigestMethod", &count);
    const saml_algorithm *digest;
    xmlNodePtr value_node;
    char *text;
    bool valid;
    size_t len;
    saml_status status;

    if (method_node == NULL)
        return saml_dsig_fail_count(reference, "DigestMethod", count, detail, detail_size);
    status = saml_dsig_check_algorithm_space(method_node, SAML_ERR_ALGORITHM_FORBIDDEN, detail,
                                             detail_size);
    if (status != SAML_OK)
        return status;
    digest = saml_dsig_find_algorithm(saml_digest_methods,
                                      sizeof(saml_digest_methods) /
                                          sizeof(saml_digest_methods[0]),
                                      saml_dsig_algorithm(method_node));
    if (digest == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_ALGORITHM_FORBIDDEN,
                         "the DigestMethod \"%.120s\" is not allowed",
                         saml_dsig_algorithm(method_node));
    info->uses_sha1 = info->uses_sha1 || digest->sha1;

    value_node = saml_dsig_only_child(reference, "DigestValue", &count);
    text = value_node != NULL ? xml_safe_text(value_node) : NULL;
    if (text == NULL && value_node != NULL &&
        saml_fail_text_read(value_node, "the DigestValue", detail, detail_size) ==
            SAML_ERR_INTERNAL)
        return SAML_ERR_INTERNAL;
    if (text == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_ENCODING,
                         "the Reference needs exactly one DigestValue holding only text");
    valid = saml_base64_check(text, strlen(text), &len) == 0;
    free(text);
    if (!valid)
        return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_ENCODING,
                         "the DigestValue is not valid base64");
    return SAML_OK;
}

static saml_status saml_dsig_check_reference(xmlNodePtr reference, xmlNodePtr signed_node,
                                             saml_dsig_info *info, char *detail,
                                             size_t detail_size)
{
    xmlChar *id = NULL;
    xmlChar *uri = NULL;
    saml_status status =
        saml_read_attr(signed_node, "ID", NULL, &id, detail, detail_size);
    xmlAttrPtr registered;

    if (status == SAML_OK)
        status = saml_read_attr(reference, "URI", NULL, &uri, detail, detail_size);
    if (status != SAML_OK)
        goto out;
    if (id == NULL || id[0] == '\0') {
        status = saml_fail(detail, detail_size, SAML_ERR_REFERENCE_INVALID,
                           "the signed <%.40s> has no ID attribute", signed_node->name);
        goto out;
    }
    if (uri == NULL) {
        status =
            saml_fail(detail, detail_size, SAML_ERR_REFERENCE_INVALID,
                      "the Reference has no URI; it must be \"#%.80s\", the ID of the "
                      "enclosing <%.40s>",
                      id, signed_node->name);
        goto out;
    }
    if (uri[0] != '#' || strcmp((const char *)uri + 1, (const char *)id) != 0) {
        status = saml_fail(detail, detail_size, SAML_ERR_REFERENCE_INVALID,
                           "the Reference URI \"%.80s\" does not point at the enclosing "
                           "<%.40s> with ID \"%.80s\"",
                           (const char *)uri, signed_node->name, id);
        goto out;
    }
    registered = xmlGetID(signed_node->doc, id);
    if (registered == NULL || registered->parent != signed_node) {
        status = saml_fail(detail, detail_size, SAML_ERR_REFERENCE_INVALID,
                           "the ID \"%.80s\" does not resolve to the enclosing <%.40s>", id,
                           signed_node->name);
        goto out;
    }

    status = saml_dsig_check_transforms(reference, detail, detail_size);
    if (status == SAML_OK)
        status = saml_dsig_check_digest(reference, info, detail, detail_size);

out:
    xmlFree(id);
    xmlFree(uri);
    return status;
}

static saml_status saml_dsig_decode_value(xmlNodePtr signature, saml_dsig_info *info,
                                          char *detail, size_t detail_size)
{
    size_t count;
    xmlNodePtr value_node = saml_dsig_only_child(signature, "SignatureValue", &count);
    char *text = value_node != NULL ? xml_safe_text(value_node) : NULL;
    bool valid;

    /* A content fault keeps signature_encoding, and only a failed allocation is internal. */
    if (text == NULL && value_node != NULL &&
        saml_fail_text_read(value_node, "the SignatureValue", detail, detail_size) ==
            SAML_ERR_INTERNAL)
        return SAML_ERR_INTERNAL;
    if (text == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_ENCODING,
                         "the Signature needs exactly one SignatureValue holding only text");

    valid = saml_base64_check(text, strlen(text), &info->signature_len) == 0;
    free(text);
    if (!valid)
        return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_ENCODING,
                         "the SignatureValue is not valid base64");
    return SAML_OK;
}

saml_status saml_dsig_check(xmlNodePtr signature, xmlNodePtr signed_node, saml_dsig_info *info,
                            char *detail, size_t detail_size)
{
    const saml_algorithm *method;
    xmlNodePtr signed_info;
    xmlNodePtr node;
    size_t count;
    saml_status status;

    memset(info, 0, sizeof(*info));

    /* The form check requires SignedInfo, its two methods and each Reference's
     * DigestMethod and DigestValue exactly once. The lookups below check it again. */
    status = saml_dsig_check_form(signature, detail, detail_size);
    if (status != SAML_OK)
        return status;

    signed_info = saml_dsig_only_child(signature, "SignedInfo", &count);
    if (signed_info == NULL)
        return saml_dsig_fail_count(signature, "SignedInfo", count, detail, detail_size);

    node = saml_dsig_only_child(signed_info, "CanonicalizationMethod", &count);
    if (node == NULL)
        return saml_dsig_fail_count(signed_info, "CanonicalizationMethod", count, detail,
                                    detail_size);
    status = saml_dsig_check_algorithm_space(node, SAML_ERR_ALGORITHM_FORBIDDEN, detail,
                                             detail_size);
    if (status != SAML_OK)
        return status;
    if (strcmp(saml_dsig_algorithm(node), URI_EXC_C14N) != 0)
        return saml_fail(detail, detail_size, SAML_ERR_ALGORITHM_FORBIDDEN,
                         "the CanonicalizationMethod \"%.120s\" is not exclusive c14n "
                         "without comments",
                         saml_dsig_algorithm(node));
    status = saml_c14n_check_parameters(node, true, detail, detail_size);
    if (status != SAML_OK)
        return status;

    node = saml_dsig_only_child(signed_info, "SignatureMethod", &count);
    if (node == NULL)
        return saml_dsig_fail_count(signed_info, "SignatureMethod", count, detail, detail_size);
    status = saml_dsig_check_algorithm_space(node, SAML_ERR_ALGORITHM_FORBIDDEN, detail,
                                             detail_size);
    if (status != SAML_OK)
        return status;
    method = saml_dsig_find_algorithm(saml_signature_methods,
                                      sizeof(saml_signature_methods) /
                                          sizeof(saml_signature_methods[0]),
                                      saml_dsig_algorithm(node));
    if (method == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_ALGORITHM_FORBIDDEN,
                         "the SignatureMethod \"%.120s\" is not allowed",
                         saml_dsig_algorithm(node));
    info->key_type = method->key_type;
    info->uses_sha1 = method->sha1;
    info->method = method->name;

    node = saml_dsig_only_child(signed_info, "Reference", &count);
    if (node == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_REFERENCE_INVALID,
                         "the SignedInfo has %zu references; exactly one is required", count);
    status = saml_dsig_check_reference(node, signed_node, info, detail, detail_size);
    if (status == SAML_OK)
        status = saml_dsig_decode_value(signature, info, detail, detail_size);
    if (status != SAML_OK)
        return status;

    /* Last, because it walks the whole document: xmlsec's c14n visits every element. */
    return saml_c14n_check_document(signature->doc, detail, detail_size);
}

/* ---- Verification with xmlsec ------------------------------------------------- */

static int saml_dsig_harden(xmlSecDSigCtxPtr ctx, bool allow_sha1)
{
    const xmlSecTransformId reference_transforms[] = {
        xmlSecTransformEnvelopedId,   xmlSecTransformExclC14NId,
        xmlSecOpenSSLTransformSha256Id, xmlSecOpenSSLTransformSha384Id,
        xmlSecOpenSSLTransformSha512Id,
    };
    const xmlSecTransformId signature_transforms[] = {
        xmlSecTransformExclC14NId,
        xmlSecOpenSSLTransformRsaSha256Id,   xmlSecOpenSSLTransformRsaSha384Id,
        xmlSecOpenSSLTransformRsaSha512Id,   xmlSecOpenSSLTransformEcdsaSha256Id,
        xmlSecOpenSSLTransformEcdsaSha384Id, xmlSecOpenSSLTransformEcdsaSha512Id,
    };
    size_t i;

    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    ctx->keyInfoReadCtx.maxRetrievalMethodLevel = 0;

    /* xmlsec digests the References of a Manifest in an Object, at the cost of the signed
     * Reference and even after that one failed, yet the outcome never depends on them. */
    ctx->flags |= XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;

    /* An empty list would enable every kind of key data. */
    if (xmlSecPtrListAdd(&ctx->keyInfoReadCtx.enabledKeyData, (void *)xmlSecKeyDataNameId) < 0)
        return -1;

    for (i = 0; i < sizeof(reference_transforms) / sizeof(reference_transforms[0]); i++) {
        if (xmlSecDSigCtxEnableReferenceTransform(ctx, reference_transforms[i]) < 0)
            return -1;
    }
    for (i = 0; i < sizeof(signature_transforms) / sizeof(signature_transforms[0]); i++) {
        if (xmlSecDSigCtxEnableSignatureTransform(ctx, signature_transforms[i]) < 0)
            return -1;
    }
    if (allow_sha1) {
        if (xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecOpenSSLTransformSha1Id) < 0 ||
            xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecOpenSSLTransformRsaSha1Id) < 0 ||
            xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecOpenSSLTransformEcdsaSha1Id) < 0)
            return -1;
    }
    return 0;
}

/* Maps the outcome of one xmlSecDSigCtxVerify call to a status. */
static saml_status saml_dsig_outcome(xmlSecDSigCtxPtr ctx, int rc, char *detail,
                                     size_t detail_size)
{
    xmlSecDSigReferenceCtxPtr reference;

    if (rc < 0) {
        saml_status status = SAML_ERR_SIGNATURE_INVALID;

        if (saml_xmlsec_error_reason == XMLSEC_ERRORS_R_TRANSFORM_DISABLED)
            status = SAML_ERR_TRANSFORM_FORBIDDEN;
        /* An element that xmlsec did not expect, or one it needs that is missing:
         * saml_dsig_check_form rejects these first, so this only backs it up. */
        else if (saml_xmlsec_error_reason == XMLSEC_ERRORS_R_INVALID_NODE ||
                 saml_xmlsec_error_reason == XMLSEC_ERRORS_R_UNEXPECTED_NODE ||
                 saml_xmlsec_error_reason == XMLSEC_ERRORS_R_NODE_NOT_FOUND)
            status = SAML_ERR_SIGNATURE_MALFORMED;

        return saml_fail(detail, detail_size, status, "xmlsec rejected the signature (%s)",
                         saml_xmlsec_error_message[0] != '\0' ? saml_xmlsec_error_message
                                                              : "no reason given");
    }

    if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1)
        return saml_fail(detail, detail_size, SAML_ERR_REFERENCE_INVALID,
                         "xmlsec processed %u references; exactly one is required",
                         (unsigned)xmlSecPtrListGetSize(&ctx->signedInfoReferences));
    reference = xmlSecPtrListGetItem(&ctx->signedInfoReferences, 0);
    if (reference == NULL || reference->status != xmlSecDSigStatusSucceeded)
        return saml_fail(detail, detail_size, SAML_ERR_DIGEST_MISMATCH,
                         "the digest of the signed element does not match its DigestValue");

    if (ctx->status != xmlSecDSigStatusSucceeded)
        return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_INVALID,
                         "the SignatureValue does not verify with the trusted key");
    return SAML_OK;
}

static saml_status saml_dsig_try_key(xmlNodePtr signature, const saml_trust_key *key,
                                     bool allow_sha1, char *detail, size_t detail_size)
{
    xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);
    saml_status status = SAML_ERR_INTERNAL;
    int rc;

    if (ctx == NULL || saml_dsig_harden(ctx, allow_sha1) != 0) {
        status = saml_fail(detail, detail_size, SAML_ERR_INTERNAL,
                           "cannot set up the xmlsec signature context");
        goto out;
    }

    saml_xmlsec_error_reason = 0;
    saml_xmlsec_error_message[0] = '\0';

    /* Borrowed from the trust store, which outlives this call; xmlsec only reads the
     * key and takes its own reference to the EVP_PKEY. Detached before destroy. */
    ctx->signKey = key->xmlsec_key;
    rc = xmlSecDSigCtxVerify(ctx, signature);
    ctx->signKey = NULL;

    status = saml_dsig_outcome(ctx, rc, detail, detail_size);

out:
    if (ctx != NULL)
        xmlSecDSigCtxDestroy(ctx);
    return status;
}

/* The smallest EC key, in bits of its field, that a signature may use: P-256, the
 * smallest curve of the profile. OpenSSL 3 also loads smaller curves such as secp112r1
 * and prime192v1. */
#define SAML_MIN_EC_BITS 256

/* Returns SAML_OK when key may be tried for this signature, or the reason it may not. */
static saml_status saml_dsig_key_fits(const saml_trust_key *key, const saml_dsig_info *info,
                                      unsigned min_rsa_bits)
{
    if (key->key_type != info->key_type)
        return SAML_ERR_SIGNATURE_INVALID;
    if (info->uses_sha1 && !(key->flags & SAML_TRUST_ALLOW_SHA1))
        return SAML_ERR_SHA1_FORBIDDEN;
    if (key->key_type == EVP_PKEY_RSA && (unsigned)key->bits < min_rsa_bits)
        return SAML_ERR_KEY_TOO_SMALL;
    if (key->key_type == EVP_PKEY_EC && key->bits < SAML_MIN_EC_BITS)
        return SAML_ERR_KEY_TOO_SMALL;
    if (key->key_type == EVP_PKEY_EC &&
        info->signature_len != 2 * (((size_t)key->bits + 7) / 8))
        return SAML_ERR_SIGNATURE_ENCODING;
    return SAML_OK;
}

static saml_status saml_dsig_unfit(saml_status reason, const saml_dsig_info *info,
                                   unsigned min_rsa_bits, char *detail, size_t detail_size)
{
    switch (reason) {
    case SAML_ERR_SHA1_FORBIDDEN:
        /* uses_sha1 comes from a SHA-1 SignatureMethod, or else from the DigestMethod,
         * whose table has one SHA-1 entry. */
        for (size_t i = 0;
             i < sizeof(saml_signature_methods) / sizeof(saml_signature_methods[0]); i++)
            if (saml_signature_methods[i].sha1 &&
                strcmp(saml_signature_methods[i].name, info->method) == 0)
                return saml_fail(detail, detail_size, reason,
                                 "the SignatureMethod %s uses SHA-1, which is rejected "
                                 "unless the issuer is allowed SHA-1",
                                 saml_signature_methods[i].uri);
        for (size_t i = 0; i < sizeof(saml_digest_methods) / sizeof(saml_digest_methods[0]);
             i++)
            if (saml_digest_methods[i].sha1)
                return saml_fail(detail, detail_size, reason,
                                 "the DigestMethod %s uses SHA-1, which is rejected unless "
                                 "the issuer is allowed SHA-1",
                                 saml_digest_methods[i].uri);
        return saml_fail(detail, detail_size, reason, "the signature uses SHA-1");
    case SAML_ERR_KEY_TOO_SMALL:
        if (info->key_type == EVP_PKEY_EC)
            return saml_fail(detail, detail_size, reason,
                             "the issuer's trusted EC keys are on curves of fewer than %d "
                             "bits, such as P-192; use P-256 or a larger curve",
                             SAML_MIN_EC_BITS);
        return saml_fail(detail, detail_size, reason,
                         "the issuer's trusted RSA keys are shorter than %u bits", min_rsa_bits);
    case SAML_ERR_SIGNATURE_ENCODING:
        return saml_fail(detail, detail_size, reason,
                         "the ECDSA SignatureValue has %zu bytes, not the raw r||s of twice "
                         "the field size",
                         info->signature_len);
    default:
        return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_INVALID,
                         "no trusted key of the issuer fits the SignatureMethod %s",
                         info->method);
    }
}

/*
 * Names the reason when no tried RSA key verified a SignatureValue whose length differs
 * from the modulus of each of them. PKCS#1 v1.5 makes a signature exactly as long as the
 * modulus, so the value was cut or padded, or a key that is not trusted made it, such as
 * the issuer's next key of another size.
 */
static saml_status saml_dsig_fail_rsa_length(const saml_dsig_info *info,
                                             const saml_trust_key *key, char *detail,
                                             size_t detail_size)
{
    return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_INVALID,
                     "the RSA SignatureValue has %zu bytes, a length that no trusted key of "
                     "the issuer makes (its %d-bit key makes %d), so the value was cut or "
                     "padded, or a key that is not trusted made it",
                     info->signature_len, key->bits, (key->bits + 7) / 8);
}

/* Returns true when an RSA key makes signatures of the SignatureValue's length. */
static bool saml_dsig_rsa_length_fits(const saml_dsig_info *info, const saml_trust_key *key)
{
    return info->signature_len == ((size_t)key->bits + 7) / 8;
}

saml_status saml_dsig_verify(xmlNodePtr signature, const saml_dsig_info *info,
                             const saml_trust_key *const *keys, size_t key_count,
                             const saml_verify_options *options, char *detail,
                             size_t detail_size)
{
    unsigned min_rsa_bits = options->min_rsa_bits != 0 ? options->min_rsa_bits : 2048;
    saml_status unfit = SAML_ERR_SIGNATURE_INVALID;
    saml_status status = SAML_ERR_SIGNATURE_INVALID;
    const saml_trust_key *other_length = NULL; /* a tried RSA key of another length */
    bool length_fits = false;
    bool tried = false;

    /* Several keys for one issuer allow a key rollover: any of them may have signed. */
    for (size_t i = 0; i < key_count; i++) {
        saml_status fits = saml_dsig_key_fits(keys[i], info, min_rsa_bits);

        if (fits != SAML_OK) {
            /* Report the most specific reason: SHA-1, then size, then encoding. */
            if (unfit == SAML_ERR_SIGNATURE_INVALID || fits < unfit)
                unfit = fits;
            continue;
        }

        tried = true;
        if (keys[i]->key_type == EVP_PKEY_RSA && !saml_dsig_rsa_length_fits(info, keys[i]))
            other_length = keys[i];
        else
            length_fits = true;
        status = saml_dsig_try_key(signature, keys[i], info->uses_sha1, detail, detail_size);
        if (status != SAML_ERR_SIGNATURE_INVALID)
            return status; /* success, or a failure no other key can change */
    }

    if (!tried)
        return saml_dsig_unfit(unfit, info, min_rsa_bits, detail, detail_size);
    if (!length_fits && other_length != NULL)
        return saml_dsig_fail_rsa_length(info, other_length, detail, detail_size);
    return status;
}
