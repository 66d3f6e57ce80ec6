/*
 * The element structure inside a signed Assertion, checked against the types of SAML 2.0
 * Core's assertion schema (saml-schema-assertion-2.0.xsd): the Assertion's own children,
 * its Subject and each SubjectConfirmation, each AttributeStatement and Attribute, and
 * an AuthnStatement with its AuthnContext. The verifier reads its claims from these
 * elements, so an element out of place or of an unknown kind is rejected as not_saml
 * rather than skipped. An AuthzDecisionStatement, which the verifier does not read, is
 * checked too, because it would pass as part of the assertion that the node accepted. The
 * attributes of a SubjectConfirmationData are checked against their types
 * (saml_verify_types.c). The content of an Advice, a Conditions (see
 * saml_verify_profile.c), a SubjectConfirmationData, an AttributeValue and an
 * AuthnContextDecl is not checked here.
 */
#include <stdbool.h>
#include <stddef.h>

#include "saml_verify_internal.h"
#include "xml_safe.h"

/* AssertionType: Issuer, Signature?, Subject?, Conditions?, Advice?, then statements. */
static const saml_form_group saml_form_assertion[] = {
    {SAML_NS_ASSERTION, {"Issuer"}, 1, 1},
    {SAML_NS_DSIG, {"Signature"}, 0, 1},
    {SAML_NS_ASSERTION, {"Subject"}, 0, 1},
    {SAML_NS_ASSERTION, {"Conditions"}, 0, 1},
    {SAML_NS_ASSERTION, {"Advice"}, 0, 1},
    {SAML_NS_ASSERTION,
     {"Statement", "AuthnStatement", "AuthzDecisionStatement", "AttributeStatement"},
     0,
     0},
};

/* SubjectType: an identifier, then SubjectConfirmation elements. The verifier has
 * already required one NameID, so the form that holds only SubjectConfirmation
 * elements is not needed here. */
static const saml_form_group saml_form_subject[] = {
    {SAML_NS_ASSERTION, {"BaseID", "NameID", "EncryptedID"}, 0, 1},
    {SAML_NS_ASSERTION, {"SubjectConfirmation"}, 0, 0},
};

/* SubjectConfirmationType: an identifier?, then SubjectConfirmationData?. */
static const saml_form_group saml_form_subject_confirmation[] = {
    {SAML_NS_ASSERTION, {"BaseID", "NameID", "EncryptedID"}, 0, 1},
    {SAML_NS_ASSERTION, {"SubjectConfirmationData"}, 0, 1},
};

/* AttributeStatementType: one or more Attribute or EncryptedAttribute elements. */
static const saml_form_group saml_form_attribute_statement[] = {
    {SAML_NS_ASSERTION, {"Attribute", "EncryptedAttribute"}, 1, 0},
};

/* AttributeType: AttributeValue elements. */
static const saml_form_group saml_form_attribute[] = {
    {SAML_NS_ASSERTION, {"AttributeValue"}, 0, 0},
};

/* AuthzDecisionStatementType: one or more Action elements, then an optional Evidence. */
static const saml_form_group saml_form_authz_decision[] = {
    {SAML_NS_ASSERTION, {"Action"}, 1, 0},
    {SAML_NS_ASSERTION, {"Evidence"}, 0, 1},
};

static xmlNodePtr saml_form_next_element(xmlNodePtr node)
{
    while (node != NULL && node->type != XML_ELEMENT_NODE)
        node = node->next;
    return node;
}

/* Returns the namespace URI of node for a message, or "no namespace". */
static const char *saml_form_namespace(const xmlNode *node)
{
    if (node->ns == NULL || node->ns->href == NULL)
        return "no namespace";
    return (const char *)node->ns->href;
}

static bool saml_form_is_assertion_element(const xmlNode *node, const char *name)
{
    return xml_safe_is_element((xmlNodePtr)node, SAML_NS_ASSERTION, name);
}

/* Skips the elements named name among the children from child on, and returns the next
 * element after them. Reports how many were skipped in *count. */
static xmlNodePtr saml_form_skip(xmlNodePtr child, const char *name, size_t *count)
{
    *count = 0;
    while (saml_form_is_assertion_element(child, name)) {
        (*count)++;
        child = saml_form_next_element(child->next);
    }
    return child;
}

static bool saml_form_group_matches(const saml_form_group *group, xmlNodePtr node)
{
    size_t count = sizeof(group->names) / sizeof(group->names[0]);

    for (size_t i = 0; i < count && group->names[i] != NULL; i++) {
        if (xml_safe_is_element(node, group->ns, group->names[i]))
            return true;
    }
    return false;
}

saml_status saml_form_check_groups(xmlNodePtr parent, const saml_form_group *groups,
                                   size_t group_count, const char *model, char *detail,
                                   size_t detail_size)
{
    xmlNodePtr child = saml_form_next_element(parent->children);

    for (size_t i = 0; i < group_count; i++) {
        size_t seen = 0;

        while (child != NULL && saml_form_group_matches(&groups[i], child) &&
               (groups[i].max == 0 || seen < groups[i].max)) {
            seen++;
            child = saml_form_next_element(child->next);
        }
        if (seen >= groups[i].min)
            continue;
        if (child == NULL)
            return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                             "the %.40s has no %s, but SAML 2.0 Core requires one",
                             parent->name, groups[i].names[0]);
        return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                         "the %.40s has the element <%.40s> (%.80s) where SAML 2.0 Core "
                         "requires %s",
                         parent->name, child->name, saml_form_namespace(child),
                         groups[i].names[0]);
    }

    if (child == NULL)
        return SAML_OK;
    return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                     "the %.40s has the element <%.40s> (%.80s) out of place or once too "
                     "often; SAML 2.0 Core allows %s",
                     parent->name, child->name, saml_form_namespace(child), model);
}

saml_status saml_form_check_text_only(const xmlNode *element, char *detail,
                                      size_t detail_size)
{
    xmlNodePtr inner;

    if (element == NULL)
        return SAML_OK;
    inner = saml_form_next_element(element->children);
    if (inner == NULL)
        return SAML_OK;
    return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                     "the %.40s contains the element <%.40s> (%.80s), but SAML 2.0 Core's "
                     "schema gives it text content, which allows no elements",
                     element->name, inner->name, saml_form_namespace(inner));
}

/* Returns the first child element of parent named name in the SAML assertion
 * namespace, or NULL. */
static xmlNodePtr saml_form_find(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr child = parent->children; child != NULL; child = child->next) {
        if (saml_form_is_assertion_element(child, name))
            return child;
    }
    return NULL;
}

/*
 * Checks an AuthnContext against AuthnContextType of saml-schema-assertion-2.0.xsd:
 * AuthnContextClassRef?, then AuthnContextDecl or AuthnContextDeclRef?, with at least
 * one of those three, then AuthenticatingAuthority*. The content of an AuthnContextDecl
 * is any XML and is not read.
 */
static saml_status saml_form_check_authn_context(xmlNodePtr context, char *detail,
                                                 size_t detail_size)
{
    xmlNodePtr child = saml_form_next_element(context->children);
    size_t class_refs;
    size_t declarations;
    size_t declaration_refs;
    size_t authorities;

    child = saml_form_skip(child, "AuthnContextClassRef", &class_refs);
    child = saml_form_skip(child, "AuthnContextDecl", &declarations);
    if (declarations == 0)
        child = saml_form_skip(child, "AuthnContextDeclRef", &declaration_refs);
    else
        declaration_refs = 0;
    child = saml_form_skip(child, "AuthenticatingAuthority", &authorities);

    if (child == NULL && class_refs + declarations + declaration_refs == 0)
        return saml_fail(
            detail, detail_size, SAML_ERR_NOT_SAML,
            "the AuthnContext has no AuthnContextClassRef, AuthnContextDecl or "
            "AuthnContextDeclRef, but SAML 2.0 Core requires one of them");
    if (class_refs > 1)
        return saml_fail(
            detail, detail_size, SAML_ERR_NOT_SAML,
            "the AuthnContext has %zu AuthnContextClassRef elements, but SAML "
            "2.0 Core allows at most one",
            class_refs);
    if (declarations + declaration_refs > 1)
        return saml_fail(
            detail, detail_size, SAML_ERR_NOT_SAML,
            "the AuthnContext has %zu AuthnContextDecl or AuthnContextDeclRef "
            "elements, but SAML 2.0 Core allows at most one",
            declarations + declaration_refs);
    if (child == NULL)
        return SAML_OK;
    return saml_fail(
        detail, detail_size, SAML_ERR_NOT_SAML,
        "the AuthnContext has the element <%.40s> (%.80s) out of place; SAML "
        "2.0 Core allows AuthnContextClassRef?, then AuthnContextDecl or "
        "AuthnContextDeclRef?, then AuthenticatingAuthority elements",
        child->name, saml_form_namespace(child));
}

/* Checks the SubjectLocality elements that open an AuthnStatement, from first on: at
 * most one, and with no child element, because SubjectLocalityType has empty content.
 * The characters inside it are checked with the other stray text. */
static saml_status saml_form_check_locality(xmlNodePtr first, size_t count, char *detail,
                                            size_t detail_size)
{
    xmlNodePtr inner;

    if (count > 1)
        return saml_fail(
            detail, detail_size, SAML_ERR_NOT_SAML,
            "the AuthnStatement has %zu SubjectLocality elements, but SAML 2.0 "
            "Core allows at most one",
            count);
    inner = count == 1 ? saml_form_next_element(first->children) : NULL;
    if (inner == NULL)
        return SAML_OK;
    return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                     "the SubjectLocality contains the element <%.40s> (%.80s), but SAML "
                     "2.0 Core's schema gives it empty content, which allows no elements",
                     inner->name, saml_form_namespace(inner));
}

saml_status saml_check_authn_statement_form(xmlNodePtr statement, char *detail,
                                            size_t detail_size)
{
    xmlNodePtr child = saml_form_next_element(statement->children);
    xmlNodePtr context;
    size_t localities;
    saml_status status;

    context = saml_form_skip(child, "SubjectLocality", &localities);
    status = saml_form_check_locality(child, localities, detail, detail_size);
    if (status != SAML_OK)
        return status;
    if (context == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                         "the AuthnStatement has no AuthnContext, but SAML 2.0 Core "
                         "requires one");
    if (!saml_form_is_assertion_element(context, "AuthnContext"))
        return saml_fail(
            detail, detail_size, SAML_ERR_NOT_SAML,
            "the AuthnStatement has the element <%.40s> (%.80s) where SAML 2.0 "
            "Core requires its AuthnContext",
            context->name, saml_form_namespace(context));

    child = saml_form_next_element(context->next);
    if (child != NULL)
        return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                         "the AuthnStatement has the element <%.40s> (%.80s) after its "
                         "AuthnContext, but SAML 2.0 Core allows nothing there",
                         child->name, saml_form_namespace(child));
    status = saml_form_check_authn_context(context, detail, detail_size);
    if (status != SAML_OK)
        return status;
    /* The readers reject an element inside the class reference and the authorities. */
    return saml_form_check_text_only(saml_form_find(context, "AuthnContextDeclRef"), detail,
                                     detail_size);
}

/* Checks the attribute types of the SubjectConfirmationData of confirmation, if it has
 * one. */
static saml_status saml_form_check_confirmation_data(xmlNodePtr confirmation,
                                                     char *detail, size_t detail_size)
{
    xmlNodePtr data = saml_form_find(confirmation, "SubjectConfirmationData");
    saml_attr_value method;
    bool bearer;
    saml_status status;

    if (data == NULL)
        return SAML_OK;
    status =
        saml_read_attr_value(confirmation, "Method", NULL, &method, detail, detail_size);
    bearer = status == SAML_OK && method.text != NULL &&
             saml_uri_equals(method.text, SAML_METHOD_BEARER);
    saml_attr_value_free(&method);
    if (status != SAML_OK)
        return status;
    return saml_check_confirmation_data_types(data, bearer, detail, detail_size);
}

/* Checks a SubjectConfirmation, the text content of its NameID and the attributes of its
 * SubjectConfirmationData, which the readers do not read. */
static saml_status saml_form_check_subject_confirmation(xmlNodePtr confirmation,
                                                        char *detail, size_t detail_size)
{
    saml_status status = SAML_FORM_CHECK(confirmation, saml_form_subject_confirmation,
                                         "an identifier?, then SubjectConfirmationData?",
                                         detail, detail_size);

    if (status == SAML_OK)
        status = saml_form_check_text_only(saml_form_find(confirmation, "NameID"), detail,
                                           detail_size);
    if (status != SAML_OK)
        return status;
    return saml_form_check_confirmation_data(confirmation, detail, detail_size);
}

static saml_status saml_form_check_subject(xmlNodePtr subject, char *detail,
                                           size_t detail_size)
{
    saml_status status = SAML_FORM_CHECK(
        subject, saml_form_subject, "an identifier, then SubjectConfirmation elements",
        detail, detail_size);

    for (xmlNodePtr child = subject->children; child != NULL && status == SAML_OK;
         child = child->next) {
        if (saml_form_is_assertion_element(child, "SubjectConfirmation"))
            status = saml_form_check_subject_confirmation(child, detail, detail_size);
    }
    return status;
}

static saml_status saml_form_check_attribute_statement(xmlNodePtr statement, char *detail,
                                                       size_t detail_size)
{
    saml_status status =
        SAML_FORM_CHECK(statement, saml_form_attribute_statement,
                        "Attribute or EncryptedAttribute elements", detail, detail_size);

    for (xmlNodePtr child = statement->children; child != NULL && status == SAML_OK;
         child = child->next) {
        if (saml_form_is_assertion_element(child, "Attribute"))
            status = SAML_FORM_CHECK(child, saml_form_attribute,
                                     "AttributeValue elements", detail, detail_size);
    }
    return status;
}

/* Checks the Decision of an AuthzDecisionStatement, which DecisionType limits to three
 * values, and its children. The Action elements have text content, and the inside of
 * the Evidence is not checked, like that of an Advice. */
static saml_status saml_form_check_authz_decision(xmlNodePtr statement, char *detail,
                                                  size_t detail_size)
{
    xmlChar *decision;
    bool known;
    saml_status status =
        SAML_FORM_CHECK(statement, saml_form_authz_decision,
                        "Action elements, then Evidence?", detail, detail_size);

    for (xmlNodePtr child = statement->children; child != NULL && status == SAML_OK;
         child = child->next) {
        if (saml_form_is_assertion_element(child, "Action"))
            status = saml_form_check_text_only(child, detail, detail_size);
    }
    if (status == SAML_OK)
        status =
            saml_read_attr(statement, "Decision", NULL, &decision, detail, detail_size);
    if (status != SAML_OK)
        return status;

    if (decision == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                         "the AuthzDecisionStatement has no Decision, but SAML 2.0 Core "
                         "requires one");

    /* DecisionType restricts xs:string, whose white space is preserved. */
    known = xmlStrEqual(decision, BAD_CAST "Permit") ||
            xmlStrEqual(decision, BAD_CAST "Deny") ||
            xmlStrEqual(decision, BAD_CAST "Indeterminate");
    if (!known)
        status =
            saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                      "the AuthzDecisionStatement has the Decision \"%.40s\", but SAML "
                      "2.0 Core allows only Permit, Deny and Indeterminate",
                      (const char *)decision);
    xmlFree(decision);
    return status;
}

saml_status saml_check_assertion_form(xmlNodePtr assertion, char *detail,
                                      size_t detail_size)
{
    saml_status status = SAML_FORM_CHECK(
        assertion, saml_form_assertion,
        "Issuer, Signature?, Subject?, Conditions?, Advice?, then statements", detail,
        detail_size);

    for (xmlNodePtr child = assertion->children; child != NULL && status == SAML_OK;
         child = child->next) {
        if (saml_form_is_assertion_element(child, "Subject"))
            status = saml_form_check_subject(child, detail, detail_size);
        else if (saml_form_is_assertion_element(child, "AttributeStatement"))
            status = saml_form_check_attribute_statement(child, detail, detail_size);
        else if (saml_form_is_assertion_element(child, "AuthzDecisionStatement"))
            status = saml_form_check_authz_decision(child, detail, detail_size);
    }
    return status;
}
