/*
 * The bare verification loop: parse, register the ID, verify with libxmlsec1 under the
 * same hardened settings idsvc uses, check the one reference. Nothing else of idsvc.
 */
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <xmlsec/crypto.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include "bench.h"

typedef struct xmlsec_state {
    const bench_xmlsec *input;
    xmlSecKeyPtr key;
} xmlsec_state;

static void *xmlsec_setup(void *shared)
{
    const bench_xmlsec *input = shared;
    xmlsec_state *state = calloc(1, sizeof(*state));

    if (state == NULL)
        return NULL;
    state->input = input;
    state->key = xmlSecCryptoAppKeyLoadMemory((const xmlSecByte *)input->pubkey_pem,
                                              (xmlSecSize)input->pubkey_pem_len,
                                              xmlSecKeyDataFormatPem, NULL, NULL, NULL);
    if (state->key == NULL) {
        free(state);
        return NULL;
    }
    return state;
}

static int harden(xmlSecDSigCtxPtr ctx)
{
    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    ctx->keyInfoReadCtx.maxRetrievalMethodLevel = 0;
    if (xmlSecPtrListAdd(&ctx->keyInfoReadCtx.enabledKeyData, BAD_CAST xmlSecKeyDataNameId) <
        0)
        return -1;
    if (xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id) < 0)
        return -1;
    if (xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha256Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformEcdsaSha256Id) < 0)
        return -1;
    return 0;
}

static int check_reference(xmlSecDSigCtxPtr ctx, xmlNodePtr root)
{
    xmlSecDSigReferenceCtxPtr reference;
    xmlChar *id;
    int ok;

    if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1)
        return -1;
    reference = xmlSecPtrListGetItem(&ctx->signedInfoReferences, 0);
    id = xmlGetProp(root, BAD_CAST "ID");
    ok = id != NULL && reference->uri != NULL && reference->uri[0] == '#' &&
         xmlStrcmp(reference->uri + 1, id) == 0;
    xmlFree(id);
    return ok ? 0 : -1;
}

static int verify_document(xmlsec_state *state, xmlDocPtr doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr signature;
    xmlAttrPtr id_attr;
    xmlSecDSigCtxPtr ctx;
    int result = -1;

    id_attr = root != NULL ? xmlHasProp(root, BAD_CAST "ID") : NULL;
    if (id_attr == NULL || xmlAddID(NULL, doc, id_attr->children->content, id_attr) == NULL)
        return -1;
    signature = xmlSecFindChild(root, xmlSecNodeSignature, xmlSecDSigNs);
    if (signature == NULL)
        return -1;

    ctx = xmlSecDSigCtxCreate(NULL);
    if (ctx == NULL)
        return -1;
    if (harden(ctx) != 0)
        goto out;

    /* Lend the thread's key to the context and take it back before destroying it. */
    ctx->signKey = state->key;
    if (xmlSecDSigCtxVerify(ctx, signature) == 0 && ctx->status == xmlSecDSigStatusSucceeded)
        result = check_reference(ctx, root);
    ctx->signKey = NULL;
out:
    xmlSecDSigCtxDestroy(ctx);
    return result;
}

static int xmlsec_run(void *opaque)
{
    xmlsec_state *state = opaque;
    xmlDocPtr doc;
    int result;

    doc = xmlReadMemory(state->input->xml, (int)state->input->xml_len, NULL, NULL,
                        XML_PARSE_NONET);
    if (doc == NULL)
        return -1;
    result = verify_document(state, doc);
    xmlFreeDoc(doc);
    return result;
}

static void xmlsec_teardown(void *opaque)
{
    xmlsec_state *state = opaque;

    xmlSecKeyDestroy(state->key);
    free(state);
}

const bench_op bench_xmlsec_verify_op = {
    .name = "xmlsec_verify",
    .setup = xmlsec_setup,
    .run = xmlsec_run,
    .teardown = xmlsec_teardown,
};
