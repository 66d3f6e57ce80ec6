/*
 * Signing a policy bundle with a regulator key in the HSM: an enveloped XML signature
 * over the bundle root with exclusive c14n, SHA-256 and rsa-sha256 or ecdsa-sha256
 * (raw r||s), computed by C_Sign. The private key never leaves the token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/c14n.h>
#include <openssl/evp.h>

#include "p11.h"
#include "policy_internal.h"
#include "xml_safe.h"

#define URI_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define URI_ENVELOPED "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define URI_SHA256 "http://www.w3.org/2001/04/xmlenc#sha256"
#define URI_RSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define URI_ECDSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"

static char *base64(const unsigned char *data, size_t len)
{
    char *text = malloc(4 * ((len + 2) / 3) + 1);

    if (text != NULL)
        EVP_EncodeBlock((unsigned char *)text, data, (int)len);
    return text;
}

static xmlNodePtr add_child(xmlNodePtr parent, xmlNsPtr ns, const char *name,
                            const char *algorithm)
{
    xmlNodePtr node = xmlNewChild(parent, ns, (const xmlChar *)name, NULL);

    if (node != NULL && algorithm != NULL &&
        xmlNewProp(node, (const xmlChar *)"Algorithm", (const xmlChar *)algorithm) ==
            NULL)
        return NULL;
    return node;
}

/* Builds SignedInfo as the root of its own document, so that its exclusive canonical
 * form can be taken alone. Exclusive c14n does not depend on where xmlns:ds is declared,
 * so the form is the same once SignedInfo moves into the Signature. */
static xmlDocPtr build_signed_info(const char *id, const char *method,
                                   const char *digest_b64)
{
    xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
    xmlNodePtr signed_info, reference, transforms;
    char uri[300];
    xmlNsPtr ns;

    if (doc == NULL)
        return NULL;
    signed_info = xmlNewDocNode(doc, NULL, (const xmlChar *)"SignedInfo", NULL);
    if (signed_info == NULL)
        goto fail;
    xmlDocSetRootElement(doc, signed_info);
    ns = xmlNewNs(signed_info, (const xmlChar *)POLICY_DSIG_NS, (const xmlChar *)"ds");
    if (ns == NULL)
        goto fail;
    xmlSetNs(signed_info, ns);

    snprintf(uri, sizeof(uri), "#%s", id);
    if (add_child(signed_info, ns, "CanonicalizationMethod", URI_EXC_C14N) == NULL ||
        add_child(signed_info, ns, "SignatureMethod", method) == NULL)
        goto fail;
    reference = add_child(signed_info, ns, "Reference", NULL);
    if (reference == NULL ||
        xmlNewProp(reference, (const xmlChar *)"URI", (const xmlChar *)uri) == NULL)
        goto fail;
    transforms = add_child(reference, ns, "Transforms", NULL);
    if (transforms == NULL ||
        add_child(transforms, ns, "Transform", URI_ENVELOPED) == NULL ||
        add_child(transforms, ns, "Transform", URI_EXC_C14N) == NULL ||
        add_child(reference, ns, "DigestMethod", URI_SHA256) == NULL ||
        xmlNewTextChild(reference, ns, (const xmlChar *)"DigestValue",
                        (const xmlChar *)digest_b64) == NULL)
        goto fail;
    return doc;

fail:
    xmlFreeDoc(doc);
    return NULL;
}

static int sign_signed_info(xmlDocPtr signed_info, p11_key *key, char **value_b64,
                            policy_error *err)
{
    p11_sign_alg alg = p11_key_get_type(key) == P11_KEY_EC_P256
                           ? P11_SIGN_ECDSA_SHA256
                           : P11_SIGN_RSA_PKCS1_SHA256;
    unsigned char signature[1024];
    size_t signature_len = sizeof(signature);
    xmlChar *c14n = NULL;
    p11_error p11_err = {0};
    int len;
    int rc = -1;

    len = xmlC14NDocDumpMemory(signed_info, NULL, XML_C14N_EXCLUSIVE_1_0, NULL, 0, &c14n);
    if (len < 0)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                           "exclusive c14n of SignedInfo failed");
    if (p11_sign(key, alg, c14n, (size_t)len, signature, &signature_len, &p11_err) != 0) {
        policy_fail(err, POLICY_E_HSM, 0, "the HSM did not sign: %s (%s)",
                    p11_err.message, p11_rv_name(p11_err.rv));
        goto out;
    }
    *value_b64 = base64(signature, signature_len);
    if (*value_b64 == NULL) {
        policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory encoding the signature");
        goto out;
    }
    rc = 0;

out:
    xmlFree(c14n);
    return rc;
}

/* Moves SignedInfo into a new Signature element at the end of the bundle root. */
static int attach_signature(xmlNodePtr root, xmlDocPtr signed_info, const char *value_b64,
                            const char *key_name, policy_error *err)
{
    xmlNodePtr signature =
        xmlNewDocNode(root->doc, NULL, (const xmlChar *)"Signature", NULL);
    xmlNodePtr copy, key_info;
    xmlNsPtr ns;

    if (signature == NULL || xmlAddChild(root, signature) == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                           "out of memory building the Signature");
    ns = xmlNewNs(signature, (const xmlChar *)POLICY_DSIG_NS, (const xmlChar *)"ds");
    if (ns == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                           "out of memory building the Signature");
    xmlSetNs(signature, ns);

    copy = xmlDocCopyNode(xmlDocGetRootElement(signed_info), root->doc, 1);
    if (copy == NULL || xmlAddChild(signature, copy) == NULL ||
        xmlNewTextChild(signature, ns, (const xmlChar *)"SignatureValue",
                        (const xmlChar *)value_b64) == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                           "out of memory building the Signature");

    /* KeyName is a hint for people; verifiers use only their trust list. */
    if (key_name != NULL) {
        key_info = xmlNewChild(signature, ns, (const xmlChar *)"KeyInfo", NULL);
        if (key_info == NULL || xmlNewTextChild(key_info, ns, (const xmlChar *)"KeyName",
                                                (const xmlChar *)key_name) == NULL)
            return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                               "out of memory building KeyInfo");
    }
    return 0;
}

static int check_signable(xmlNodePtr root, policy_error *err)
{
    for (xmlNodePtr node = root; node != NULL; node = xml_safe_next_element(node, root)) {
        if (xml_safe_is_element(node, POLICY_DSIG_NS, "Signature"))
            return policy_fail(
                err, POLICY_E_SIGNED, (int)xmlGetLineNo(node),
                "line %ld: the bundle is already signed. Sign the unsigned source "
                "instead.",
                xmlGetLineNo(node));
    }
    return 0;
}

int policy_sign_document(const char *xml, size_t len, struct p11_key *key,
                         const char *key_name, char **out, size_t *out_len,
                         policy_error *err)
{
    p11_key_type type = p11_key_get_type(key);
    unsigned char digest[32];
    char *digest_b64 = NULL, *value_b64 = NULL, *id = NULL;
    xmlDocPtr doc = NULL, signed_info = NULL;
    xmlChar *text = NULL;
    xmlNodePtr root;
    int text_len = 0;
    int rc = -1;

    *out = NULL;
    if (type != P11_KEY_EC_P256 && type != P11_KEY_RSA_2048 && type != P11_KEY_RSA_3072)
        return policy_fail(
            err, POLICY_E_HSM, 0,
            "bundles are signed with RSA (2048 or 3072 bits) or ECDSA P-256 keys");

    /* The schema check first: only a valid bundle gets a regulator's signature. */
    if (policy_parse_document(xml, len, &doc, err) != 0)
        return -1;
    root = xmlDocGetRootElement(doc);
    id = (char *)xmlGetNoNsProp(root, (const xmlChar *)"ID");
    if (id == NULL || check_signable(root, err) != 0)
        goto out;

    if (policy_digest_document(doc, digest, err) != 0)
        goto out;
    digest_b64 = base64(digest, sizeof(digest));
    signed_info = digest_b64 != NULL
                      ? build_signed_info(id,
                                          type == P11_KEY_EC_P256 ? URI_ECDSA_SHA256
                                                                  : URI_RSA_SHA256,
                                          digest_b64)
                      : NULL;
    if (signed_info == NULL) {
        policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory building SignedInfo");
        goto out;
    }
    if (sign_signed_info(signed_info, key, &value_b64, err) != 0 ||
        attach_signature(root, signed_info, value_b64, key_name, err) != 0)
        goto out;

    xmlDocDumpMemoryEnc(doc, &text, &text_len, "UTF-8");
    if (text == NULL || (*out = malloc((size_t)text_len + 1)) == NULL) {
        policy_fail(err, POLICY_E_NO_MEMORY, 0,
                    "out of memory writing the signed bundle");
        goto out;
    }
    memcpy(*out, text, (size_t)text_len);
    (*out)[text_len] = '\0';
    *out_len = (size_t)text_len;
    rc = 0;

out:
    xmlFree(text);
    xmlFree(id);
    free(digest_b64);
    free(value_b64);
    xmlFreeDoc(signed_info);
    xmlFreeDoc(doc);
    return rc;
}
