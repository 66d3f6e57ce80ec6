/*
 * The element structure of an XML-DSig Signature, checked before any algorithm or value,
 * so that a Signature that breaks the schema is named as malformed. Without this check
 * xmlsec stops at the first unexpected element, and its failure reads like a
 * SignatureValue that the trusted key does not verify.
 *
 * The content models come from the schema of XML Signature Syntax and Processing (W3C
 * Recommendation, second edition, 2008), sections 4.1, 4.3, 4.3.3 and 4.3.3.4.
 *
 * The child elements of a samlp:Response are checked here too, against the ResponseType
 * of SAML 2.0 Core's protocol schema (saml-schema-protocol-2.0.xsd).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "saml_verify_internal.h"
#include "xml_safe.h"

/* One element of a content model: its local name in the XML-DSig namespace, and how
 * often it may appear in a row. max 0 means any number. */
typedef struct saml_form_part {
    const char *name;
    size_t min;
    size_t max;
} saml_form_part;

/* Signature: SignedInfo, SignatureValue, KeyInfo?, Object*. */
static const saml_form_part saml_form_signature[] = {
    {"SignedInfo", 1, 1},
    {"SignatureValue", 1, 1},
    {"KeyInfo", 0, 1},
    {"Object", 0, 0},
};

/* SignedInfo: CanonicalizationMethod, SignatureMethod, Reference+. */
static const saml_form_part saml_form_signed_info[] = {
    {"CanonicalizationMethod", 1, 1},
    {"SignatureMethod", 1, 1},
    {"Reference", 1, 0},
};

/* Reference: Transforms?, DigestMethod, DigestValue. */
static const saml_form_part saml_form_reference[] = {
    {"Transforms", 0, 1},
    {"DigestMethod", 1, 1},
    {"DigestValue", 1, 1},
};

/* Transforms: Transform+. */
static const saml_form_part saml_form_transforms[] = {
    {"Transform", 1, 0},
};

static bool saml_form_in_dsig(const xmlNode *node)
{
    return node->ns != NULL && node->ns->href != NULL &&
           strcmp((const char *)node->ns->href, SAML_NS_DSIG) == 0;
}

static xmlNodePtr saml_form_next_element(xmlNodePtr node)
{
    while (node != NULL && node->type != XML_ELEMENT_NODE)
        node = node->next;
    return node;
}

/*
 * Matches the child elements of parent against a content model, in order. Text,
 * comments and processing instructions between them are skipped, as xmlsec skips them.
 * The sentence names the first element out of place, or the first required one that is
 * missing.
 */
static saml_status saml_form_check(xmlNodePtr parent, const saml_form_part *parts,
                                   size_t part_count, char *detail, size_t detail_size)
{
    xmlNodePtr child = saml_form_next_element(parent->children);

    for (size_t i = 0; i < part_count; i++) {
        size_t seen = 0;

        while (child != NULL && xml_safe_is_element(child, SAML_NS_DSIG, parts[i].name) &&
               (parts[i].max == 0 || seen < parts[i].max)) {
            seen++;
            child = saml_form_next_element(child->next);
        }
        if (seen >= parts[i].min)
            continue;
        if (child == NULL)
            return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_MALFORMED,
                             "the %.40s has no %s element; XML-DSig requires one",
                             parent->name, parts[i].name);
        return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_MALFORMED,
                         "the %.40s has <%.40s> where XML-DSig requires %s", parent->name,
                         child->name, parts[i].name);
    }

    if (child == NULL)
        return SAML_OK;
    if (saml_form_in_dsig(child))
        return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_MALFORMED,
                         "the %.40s has <%.40s> out of place or once too often for "
                         "XML-DSig",
                         parent->name, child->name);
    return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_MALFORMED,
                     "the %.40s has <%.40s> of another namespace, where XML-DSig allows "
                     "no such element",
                     parent->name, child->name);
}

/* Checks a Reference and, when it has one, its Transforms. */
static saml_status saml_form_check_reference(xmlNodePtr reference, char *detail,
                                             size_t detail_size)
{
    saml_status status =
        saml_form_check(reference, saml_form_reference,
                        sizeof(saml_form_reference) / sizeof(saml_form_reference[0]),
                        detail, detail_size);
    xmlNodePtr first = saml_form_next_element(reference->children);

    if (status != SAML_OK || !xml_safe_is_element(first, SAML_NS_DSIG, "Transforms"))
        return status;
    return saml_form_check(first, saml_form_transforms,
                           sizeof(saml_form_transforms) / sizeof(saml_form_transforms[0]),
                           detail, detail_size);
}

saml_status saml_dsig_check_form(xmlNodePtr signature, char *detail, size_t detail_size)
{
    saml_status status =
        saml_form_check(signature, saml_form_signature,
                        sizeof(saml_form_signature) / sizeof(saml_form_signature[0]),
                        detail, detail_size);
    xmlNodePtr signed_info;

    if (status != SAML_OK)
        return status;

    signed_info = saml_form_next_element(signature->children);
    status =
        saml_form_check(signed_info, saml_form_signed_info,
                        sizeof(saml_form_signed_info) / sizeof(saml_form_signed_info[0]),
                        detail, detail_size);

    for (xmlNodePtr child = signed_info->children; child != NULL && status == SAML_OK;
         child = child->next) {
        if (xml_safe_is_element(child, SAML_NS_DSIG, "Reference"))
            status = saml_form_check_reference(child, detail, detail_size);
    }
    return status;
}

/* The content of a samlp:Response before its assertions (saml-schema-protocol-2.0.xsd,
 * types StatusResponseType and ResponseType): Issuer?, Signature?, Extensions?, Status. */
static const struct {
    const char *ns;
    const char *name;
    bool required;
} saml_form_response_head[] = {
    {SAML_NS_ASSERTION, "Issuer", false},
    {SAML_NS_DSIG, "Signature", false},
    {SAML_NS_PROTOCOL, "Extensions", false},
    {SAML_NS_PROTOCOL, "Status", true},
};

static bool saml_form_has_child(xmlNodePtr parent, const char *ns, const char *name)
{
    for (xmlNodePtr child = parent->children; child != NULL; child = child->next) {
        if (xml_safe_is_element(child, ns, name))
            return true;
    }
    return false;
}

static saml_status saml_form_response_fail(xmlNodePtr child, char *detail, size_t detail_size)
{
    const char *ns = child->ns != NULL && child->ns->href != NULL
                         ? (const char *)child->ns->href
                         : "no namespace";

    return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                     "the Response has the element <%.40s> (%.80s) out of place or once too "
                     "often; SAML 2.0 Core allows Issuer?, Signature?, Extensions?, Status, "
                     "then Assertion or EncryptedAssertion elements",
                     child->name, ns);
}

saml_status saml_check_response_form(xmlNodePtr root, char *detail, size_t detail_size)
{
    size_t part_count = sizeof(saml_form_response_head) / sizeof(saml_form_response_head[0]);
    xmlNodePtr child;

    if (!xml_safe_is_element(root, SAML_NS_PROTOCOL, "Response"))
        return SAML_OK;

    child = saml_form_next_element(root->children);
    for (size_t i = 0; i < part_count; i++) {
        if (xml_safe_is_element(child, saml_form_response_head[i].ns,
                                saml_form_response_head[i].name)) {
            child = saml_form_next_element(child->next);
            continue;
        }
        if (!saml_form_response_head[i].required)
            continue;
        if (!saml_form_has_child(root, saml_form_response_head[i].ns,
                                 saml_form_response_head[i].name))
            return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                             "the Response has no %s; SAML 2.0 Core requires one",
                             saml_form_response_head[i].name);
        return saml_form_response_fail(child, detail, detail_size);
    }

    for (; child != NULL; child = saml_form_next_element(child->next)) {
        if (!xml_safe_is_element(child, SAML_NS_ASSERTION, "Assertion") &&
            !xml_safe_is_element(child, SAML_NS_ASSERTION, "EncryptedAssertion"))
            return saml_form_response_fail(child, detail, detail_size);
    }
    return SAML_OK;
}
