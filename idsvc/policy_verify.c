/*
 * Verifying a bundle's signature with the regulator trust list.
 *
 * The XML-DSig checks are the hardened ones of SAML verification, saml_dsig_check and
 * saml_dsig_verify. They allow same-document references only and exactly one Reference,
 * to the root's own ID. They allow only the enveloped-signature and exclusive c14n
 * transforms, SHA-2 digests, and rsa-sha256 or ecdsa-sha256 with raw r||s. They bound
 * the work of canonicalisation before any digest, as for assertions. Keys come only from
 * the trust list, never from KeyInfo.
 * This file adds what is particular to bundles: the Signature is the last child of the
 * PolicyBundle root and the only one in the document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"
#include "saml_verify_internal.h"
#include "xml_safe.h"

/* Finds the one Signature of the document, which must be the root's last element child.
 */
static int find_signature(xmlNodePtr root, xmlNodePtr *out, policy_error *err)
{
    xmlNodePtr signature = NULL, last = NULL;
    size_t count = 0;

    for (xmlNodePtr node = root; node != NULL; node = xml_safe_next_element(node, root)) {
        if (xml_safe_is_element(node, POLICY_DSIG_NS, "Signature")) {
            signature = node;
            count++;
        }
    }
    for (xmlNodePtr node = root->children; node != NULL; node = node->next) {
        if (node->type == XML_ELEMENT_NODE)
            last = node;
    }

    if (count == 0)
        return policy_fail(
            err, POLICY_E_UNSIGNED, 0,
            "the bundle is not signed; a node loads only bundles signed by a "
            "regulator key of its trust list");
    if (count > 1)
        return policy_fail(
            err, POLICY_E_SIGNATURE, (int)xmlGetLineNo(signature),
            "the bundle contains %zu Signature elements; exactly one is allowed", count);
    if (signature != last)
        return policy_fail(
            err, POLICY_E_SIGNATURE, (int)xmlGetLineNo(signature),
            "line %ld: the Signature must be the last child of PolicyBundle",
            xmlGetLineNo(signature));
    *out = signature;
    return 0;
}

static policy_error_code map_status(saml_status status)
{
    switch (status) {
    case SAML_ERR_SIGNATURE_INVALID:
        return POLICY_E_UNTRUSTED;
    case SAML_ERR_INTERNAL:
        return POLICY_E_NO_MEMORY;
    default:
        return POLICY_E_SIGNATURE;
    }
}

/* Tries each trusted key alone, so that the caller learns which one verified. */
static int verify_with_trust(xmlNodePtr signature, const saml_dsig_info *info,
                             const policy_trust *trust, size_t *key_index,
                             policy_error *err)
{
    size_t max = policy_trust_count(trust);
    const saml_trust_key **keys = calloc(max + 1, sizeof(*keys));
    size_t count;
    saml_verify_options options = {.min_rsa_bits = 2048};
    saml_status status = SAML_ERR_SIGNATURE_INVALID;
    char detail[300] = "no key of the trust list fits the signature";

    if (keys == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory verifying");
    /* Every key was added for any issuer, so the candidates come in the list's order
     * and an index here is the trust list's index of the key. */
    count = saml_trust_candidates(policy_trust_store(trust), "", keys, max);
    for (size_t i = 0; i < count; i++) {
        status = saml_dsig_verify(signature, info, &keys[i], 1, &options, detail,
                                  sizeof(detail));
        if (status == SAML_OK) {
            *key_index = i;
            free(keys);
            return 0;
        }
        if (status != SAML_ERR_SIGNATURE_INVALID)
            break; /* a digest or form failure, which no other key can change */
    }
    free(keys);
    if (status == SAML_ERR_SIGNATURE_INVALID)
        return policy_fail(
            err, POLICY_E_UNTRUSTED, 0,
            "no regulator key of the trust list verifies the signature (%s)", detail);
    return policy_fail(err, map_status(status), 0, "the signature is invalid: %s",
                       detail);
}

int policy_verify_document(const char *xml, size_t len, const policy_trust *trust,
                           size_t *key_index, policy_error *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr root, signature = NULL;
    saml_dsig_info info;
    saml_status status;
    char detail[300];
    int rc = -1;

    if (xml_safe_parse(xml, len, POLICY_BUNDLE_MAX_BYTES, &doc, detail, sizeof(detail)) !=
        XML_SAFE_OK)
        return policy_fail(err, POLICY_E_MALFORMED, 0, "%s", detail);
    root = xmlDocGetRootElement(doc);
    if (!xml_safe_is_element(root, POLICY_NS, "PolicyBundle")) {
        policy_fail(err, POLICY_E_SCHEMA, 0, "the root element is not a PolicyBundle");
        goto out;
    }

    /* IDs are registered here, and a duplicate is rejected, before any reference is
     * resolved; xmlsec itself would keep the first silently. */
    if (xml_safe_register_ids(doc, "ID", detail, sizeof(detail)) != XML_SAFE_OK) {
        policy_fail(err, POLICY_E_SIGNATURE, 0, "%s", detail);
        goto out;
    }
    if (find_signature(root, &signature, err) != 0)
        goto out;

    status = saml_dsig_check(signature, root, &info, detail, sizeof(detail));
    if (status != SAML_OK) {
        policy_fail(err,
                    map_status(status) == POLICY_E_UNTRUSTED ? POLICY_E_SIGNATURE
                                                             : map_status(status),
                    (int)xmlGetLineNo(signature), "the signature is invalid: %s", detail);
        goto out;
    }
    if (info.uses_sha1) {
        policy_fail(err, POLICY_E_SIGNATURE, (int)xmlGetLineNo(signature),
                    "the signature uses SHA-1, which bundles may not use");
        goto out;
    }
    rc = verify_with_trust(signature, &info, trust, key_index, err);

out:
    xmlFreeDoc(doc);
    return rc;
}
