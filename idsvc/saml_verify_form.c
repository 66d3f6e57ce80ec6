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
 * of SAML 2.0 Core's protocol schema (saml-schema-protocol-2.0.xsd), and so is text
 * inside the SAML elements whose content is element-only.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

static bool saml_form_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Returns the first text or CDATA child of node that contains a character, XML white
 * space included only when space_counts, or NULL when it has none. */
static const xmlNode *saml_form_text_child(const xmlNode *node, bool space_counts)
{
    for (const xmlNode *child = node->children; child != NULL; child = child->next) {
        const char *text = (const char *)child->content;

        if ((child->type != XML_TEXT_NODE && child->type != XML_CDATA_SECTION_NODE) ||
            text == NULL)
            continue;
        while (!space_counts && saml_form_is_space(*text))
            text++;
        if (*text != '\0')
            return child;
    }
    return NULL;
}

/* Returns the first text or CDATA child of node that contains a character other than XML
 * white space, or NULL when it has none. */
static const xmlNode *saml_form_stray_text(const xmlNode *node)
{
    return saml_form_text_child(node, false);
}

/* Fails with status for the stray text of element, quoting its start. */
static saml_status saml_form_text_fail(const xmlNode *element, const xmlNode *text,
                                       saml_status status, const char *schema,
                                       char *detail, size_t detail_size)
{
    const char *content = (const char *)text->content;

    while (saml_form_is_space(*content))
        content++;
    return saml_fail(
        detail, detail_size, status,
        "the %.40s contains the text \"%.40s\", but %s allows no text there, "
        "only white space between its child elements",
        element->name, content, schema);
}

/*
 * Matches the child elements of parent against a content model, in order. Comments and
 * processing instructions between them are skipped, as xmlsec skips them, and so is
 * white space. Each of these content models is element-only, so other text is
 * rejected, because xmlsec would skip it too and it would travel unsigned inside the
 * Signature. The sentence names the text, the first element out of place, or the first
 * required one that is missing.
 */
static saml_status saml_form_check(xmlNodePtr parent, const saml_form_part *parts,
                                   size_t part_count, char *detail, size_t detail_size)
{
    xmlNodePtr child = saml_form_next_element(parent->children);
    const xmlNode *text = saml_form_stray_text(parent);

    if (text != NULL)
        return saml_form_text_fail(parent, text, SAML_ERR_SIGNATURE_MALFORMED, "XML-DSig",
                                   detail, detail_size);

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
        /* The same name in another namespace, such as a ds prefix bound to another URI,
         * would otherwise read as the element that is required. */
        if (strcmp((const char *)child->name, parts[i].name) == 0)
            return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_MALFORMED,
                             "the %.40s has <%.40s> in the namespace \"%.80s\" where "
                             "XML-DSig requires %s in " SAML_NS_DSIG,
                             parent->name, child->name,
                             child->ns != NULL ? (const char *)child->ns->href : "",
                             parts[i].name);
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

/* StatusType: StatusCode, StatusMessage?, StatusDetail?. A StatusDetail may hold any
 * XML. */
static const saml_form_group saml_form_status[] = {
    {SAML_NS_PROTOCOL, {"StatusCode"}, 1, 1},
    {SAML_NS_PROTOCOL, {"StatusMessage"}, 0, 1},
    {SAML_NS_PROTOCOL, {"StatusDetail"}, 0, 1},
};

/* StatusCodeType: at most one StatusCode, which refines the one around it. */
static const saml_form_group saml_form_status_code[] = {
    {SAML_NS_PROTOCOL, {"StatusCode"}, 0, 1},
};

/* Returns the StatusMessage of status, or NULL when it has none. */
static const xmlNode *saml_form_status_message(xmlNodePtr status)
{
    for (xmlNodePtr child = status->children; child != NULL; child = child->next) {
        if (xml_safe_is_element(child, SAML_NS_PROTOCOL, "StatusMessage"))
            return child;
    }
    return NULL;
}

/* Checks the one Status of a Response, whose place saml_check_response_form has checked,
 * and the chain of StatusCode elements in it. */
static saml_status saml_form_check_status(xmlNodePtr root, char *detail, size_t detail_size)
{
    xmlNodePtr status = root->children;
    xmlNodePtr code;
    saml_status result;

    while (!xml_safe_is_element(status, SAML_NS_PROTOCOL, "Status"))
        status = status->next;
    result = SAML_FORM_CHECK(status, saml_form_status,
                             "StatusCode, StatusMessage?, StatusDetail?", detail,
                             detail_size);
    if (result == SAML_OK)
        result = saml_form_check_text_only(saml_form_status_message(status), detail,
                                           detail_size);

    code = saml_form_next_element(status->children);
    while (result == SAML_OK && code != NULL) {
        result = SAML_FORM_CHECK(code, saml_form_status_code,
                                 "one StatusCode that refines it", detail, detail_size);
        code = saml_form_next_element(code->children);
    }
    return result;
}

saml_status saml_check_response_form(xmlNodePtr root, char *detail, size_t detail_size)
{
    size_t part_count = sizeof(saml_form_response_head) / sizeof(saml_form_response_head[0]);
    xmlNodePtr child;
    saml_status status;

    if (!xml_safe_is_element(root, SAML_NS_PROTOCOL, "Response"))
        return SAML_OK;
    status = saml_check_response_header(root, detail, detail_size);
    if (status != SAML_OK)
        return status;

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
    return saml_form_check_status(root, detail, detail_size);
}

/*
 * The elements of SAML 2.0 Core's schemas (saml-schema-assertion-2.0.xsd and
 * saml-schema-protocol-2.0.xsd) whose types have element-only content, so that text
 * other than white space directly inside them breaks the schema. Left out are the
 * elements whose types allow text (Issuer, NameID, Audience, AttributeValue,
 * SubjectConfirmationData, AuthnContextDecl, StatusMessage and the like) and the abstract
 * Statement, Condition and BaseID, whose xsi:type may extend them. Each list is sorted
 * in strcmp order for bsearch.
 */
static const char *const saml_form_assertion_element_only[] = {
    "Advice",
    "Assertion",
    "Attribute",
    "AttributeStatement",
    "AudienceRestriction",
    "AuthnContext",
    "AuthnStatement",
    "AuthzDecisionStatement",
    "Conditions",
    "EncryptedAssertion",
    "EncryptedAttribute",
    "EncryptedID",
    "Evidence",
    "ProxyRestriction",
    "Subject",
    "SubjectConfirmation",
};

static const char *const saml_form_protocol_element_only[] = {
    "Extensions", "Response", "Status", "StatusCode", "StatusDetail",
};

/* The elements whose types have empty content: attributes only. XML Schema 1.0 (Part 1,
 * section 3.4.4, Element Locally Valid (Complex Type), clause 2.1) allows no character
 * children in empty content, so white space inside them breaks the schema too. */
static const char *const saml_form_assertion_empty[] = {
    "OneTimeUse",
    "SubjectLocality",
};

static int saml_form_compare_name(const void *name, const void *entry)
{
    return strcmp(name, *(const char *const *)entry);
}

static bool saml_form_in_list(const xmlNode *node, const char *const *names, size_t count)
{
    return bsearch(node->name, names, count, sizeof(names[0]), saml_form_compare_name) !=
           NULL;
}

static bool saml_form_in_ns(const xmlNode *node, const char *ns)
{
    return node->ns != NULL && node->ns->href != NULL &&
           strcmp((const char *)node->ns->href, ns) == 0;
}

/* Returns whether node is one of the elements of element-only content above. */
static bool saml_form_element_only(const xmlNode *node)
{
    if (saml_form_in_ns(node, SAML_NS_ASSERTION))
        return saml_form_in_list(node, saml_form_assertion_element_only,
                                 sizeof(saml_form_assertion_element_only) /
                                     sizeof(saml_form_assertion_element_only[0]));
    if (saml_form_in_ns(node, SAML_NS_PROTOCOL))
        return saml_form_in_list(node, saml_form_protocol_element_only,
                                 sizeof(saml_form_protocol_element_only) /
                                     sizeof(saml_form_protocol_element_only[0]));
    return false;
}

/* Returns whether node is one of the elements of empty content above. */
static bool saml_form_empty(const xmlNode *node)
{
    return saml_form_in_ns(node, SAML_NS_ASSERTION) &&
           saml_form_in_list(node, saml_form_assertion_empty,
                             sizeof(saml_form_assertion_empty) /
                                 sizeof(saml_form_assertion_empty[0]));
}

bool saml_form_has_stray_text(const xmlNode *element)
{
    /* The text first: most elements have none, and the lists are searched only for the
     * few that do, such as the Issuer and the NameID, whose text is their value. */
    if (saml_form_stray_text(element) != NULL)
        return saml_form_element_only(element) || saml_form_empty(element);
    return saml_form_text_child(element, true) != NULL && saml_form_empty(element);
}

/* Fails for the characters inside element, whose schema type has empty content. */
static saml_status saml_form_empty_fail(const xmlNode *element, char *detail,
                                        size_t detail_size)
{
    const xmlNode *text = saml_form_stray_text(element);
    const char *content = text != NULL ? (const char *)text->content : "";
    char what[64];

    while (saml_form_is_space(*content))
        content++;
    if (text != NULL)
        snprintf(what, sizeof(what), "the text \"%.40s\"", content);
    else
        snprintf(what, sizeof(what), "white space");
    return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                     "the %.40s contains %s, but SAML 2.0 Core's schema gives it empty "
                     "content, which allows no characters, not even white space",
                     element->name, what);
}

saml_status saml_check_element_text(const xmlNode *element, char *detail,
                                    size_t detail_size)
{
    if (element == NULL)
        return SAML_OK;
    if (saml_form_empty(element))
        return saml_form_empty_fail(element, detail, detail_size);
    return saml_form_text_fail(element, saml_form_stray_text(element), SAML_ERR_NOT_SAML,
                               "SAML 2.0 Core's schema", detail, detail_size);
}

/* Returns the first element below parent, among its children only unless deep, with the
 * local name name outside the namespace ns, or NULL. */
static xmlNodePtr saml_form_find_namesake(xmlNodePtr parent, const char *name,
                                          const char *ns, bool deep)
{
    for (xmlNodePtr node = xml_safe_next_element(parent, parent); node != NULL;
         node = deep ? xml_safe_next_element(node, parent)
                     : xml_safe_next_element_after(node, parent)) {
        bool in_ns = node->ns != NULL && strcmp((const char *)node->ns->href, ns) == 0;

        if (!in_ns && strcmp((const char *)node->name, name) == 0)
            return node;
    }
    return NULL;
}

saml_status saml_note_namesake_in(saml_status status, char *detail, size_t detail_size,
                                  xmlNodePtr parent, const char *name, const char *ns,
                                  bool deep)
{
    xmlNodePtr namesake = saml_form_find_namesake(parent, name, ns, deep);
    size_t len = strlen(detail);

    if (namesake == NULL || len >= detail_size)
        return status;
    snprintf(detail + len, detail_size - len,
             "; the document has <%.40s> in the namespace \"%.80s\", not in %s",
             namesake->name, namesake->ns != NULL ? (const char *)namesake->ns->href : "",
             ns);
    return status;
}

saml_status saml_note_namesake(saml_status status, char *detail, size_t detail_size,
                               xmlNodePtr parent, const char *name, bool deep)
{
    return saml_note_namesake_in(status, detail, detail_size, parent, name,
                                 SAML_NS_ASSERTION, deep);
}
