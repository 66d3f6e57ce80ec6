/*
 * The checks that SAML 2.0 Core and the Web Browser SSO profile add to a signature that
 * verified: the Response status, the condition elements, the order of the Conditions
 * times and the bearer subject confirmation. Sources: saml-core-2.0-os section 2.5.1
 * (Conditions), and
 * saml-profiles-2.0-os sections 4.1.4.2 and 4.1.4.3 (bearer assertions and their
 * processing rules).
 *
 * The node's API has no assertion consumer service URL and sends no AuthnRequest, so
 * the profile's Recipient and InResponseTo checks do not apply to it, and Address,
 * which the profile leaves optional, is not compared. The AudienceRestriction that the
 * profile requires is checked in saml_verify.c.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/uri.h>

#include "saml_verify_internal.h"
#include "xml_safe.h"

#define SAML_STATUS_SUCCESS "urn:oasis:names:tc:SAML:2.0:status:Success"

/* The largest ProxyRestriction Count kept. A larger one is read as this value: the node
 * then allows fewer indirections than the issuer did, never more. */
#define SAML_PROXY_COUNT_MAX 2147483647L

/* Returns whether name is one of the SAML, XML-DSig and XML Schema namespaces that
 * assertions declare. These are absolute URIs, so they skip the URI parse. */
static bool saml_known_namespace(const char *name)
{
    static const char *const known[] = {
        SAML_NS_ASSERTION, SAML_NS_PROTOCOL, SAML_NS_DSIG, SAML_NS_XSI,
        SAML_NS_EXC_C14N,  "http://www.w3.org/2001/XMLSchema",
    };

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(name, known[i]) == 0)
            return true;
    return false;
}

/* Returns whether name parses as a URI with a scheme, as exclusive c14n requires. */
static bool saml_absolute_uri(const char *name)
{
    xmlURIPtr uri;
    bool absolute;

    if (saml_known_namespace(name))
        return true;
    uri = xmlParseURI(name);
    absolute = uri != NULL && uri->scheme != NULL && uri->scheme[0] != '\0';
    xmlFreeURI(uri);
    return absolute;
}

saml_status saml_check_namespaces(xmlDocPtr doc, char *detail, size_t detail_size)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);

    for (xmlNodePtr node = root; node != NULL; node = xml_safe_next_element(node, root)) {
        for (xmlNsPtr ns = node->nsDef; ns != NULL; ns = ns->next) {
            /* xmlns="" undeclares the default namespace and names none. */
            if (ns->href == NULL || ns->href[0] == '\0')
                continue;
            if (!saml_absolute_uri((const char *)ns->href))
                return saml_fail(detail, detail_size, SAML_ERR_NAMESPACE_INVALID,
                                 "the namespace name \"%.80s\" declared on <%.40s> is not an "
                                 "absolute URI, so the document cannot be canonicalised",
                                 (const char *)ns->href, node->name);
        }
    }
    return SAML_OK;
}

/* Returns the only child of parent with this name in namespace ns, or NULL when there
 * is none or more than one. */
static xmlNodePtr saml_only_child(xmlNodePtr parent, const char *ns, const char *name)
{
    xmlNodePtr found = NULL;

    for (xmlNodePtr child = parent->children; child != NULL; child = child->next) {
        if (!xml_safe_is_element(child, ns, name))
            continue;
        if (found != NULL)
            return NULL;
        found = child;
    }
    return found;
}

saml_status saml_check_response_status(xmlNodePtr root, char *detail, size_t detail_size)
{
    xmlNodePtr status;
    xmlNodePtr code;
    xmlNodePtr second;
    xmlChar *value;
    xmlChar *reason = NULL;
    saml_status result;

    if (!xml_safe_is_element(root, SAML_NS_PROTOCOL, "Response"))
        return SAML_OK;

    status = saml_only_child(root, SAML_NS_PROTOCOL, "Status");
    code = status != NULL ? saml_only_child(status, SAML_NS_PROTOCOL, "StatusCode") : NULL;
    if (code == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                         "the Response needs exactly one Status with exactly one StatusCode");

    /* Only the top-level code states whether the request succeeded, and a second-level
     * code inside it only refines that, so it is named as the reason. */
    result = saml_read_attr(code, "Value", NULL, &value, detail, detail_size);
    if (result != SAML_OK ||
        (value != NULL && saml_uri_equals((const char *)value, SAML_STATUS_SUCCESS)))
        goto out;
    second = saml_only_child(code, SAML_NS_PROTOCOL, "StatusCode");
    if (second != NULL)
        result = saml_read_attr(second, "Value", NULL, &reason, detail, detail_size);
    if (result == SAML_OK)
        result = saml_fail(detail, detail_size, SAML_ERR_STATUS_NOT_SUCCESS,
                           "the Response's StatusCode is \"%.100s\"%s%.100s%s, not Success, "
                           "so the issuer reports that the request failed",
                           value != NULL ? (const char *)value : "",
                           reason != NULL ? " with the second-level code \"" : "",
                           reason != NULL ? (const char *)reason : "",
                           reason != NULL ? "\"" : "");
out:
    xmlFree(reason);
    xmlFree(value);
    return result;
}

saml_status saml_check_conditions_order(const saml_assertion *a, char *detail,
                                        size_t detail_size)
{
    bool same_ms = a->not_before_ms == a->not_on_or_after_ms;

    if (a->has_not_before &&
        (a->not_before_ms > a->not_on_or_after_ms ||
         (same_ms && a->not_before_ps >= a->not_on_or_after_ps)))
        return saml_fail(detail, detail_size, SAML_ERR_CONDITIONS_INVALID,
                         "the Conditions' NotBefore is not earlier than their NotOnOrAfter, "
                         "so the assertion is valid at no time");
    return SAML_OK;
}

/* Fails for an element inside a condition that its schema type does not allow. */
static saml_status saml_fail_child(xmlNodePtr child, xmlNodePtr condition, char *detail,
                                   size_t detail_size)
{
    return saml_fail(detail, detail_size, SAML_ERR_CONDITION_UNKNOWN,
                     "the condition <%.40s> contains an element <%.60s> that the node does "
                     "not understand, so the assertion's validity cannot be determined",
                     condition->name, child->name);
}

/* Rejects any child element of an AudienceRestriction but saml:Audience. It rejects an
 * AudienceRestriction without an Audience too: the schema requires one
 * (AudienceRestrictionType), and without it the assertion is bound to no relying party.
 * saml_assertion_read reads the Audience values. */
static saml_status saml_check_audience_restriction(xmlNodePtr restriction, char *detail,
                                                   size_t detail_size)
{
    size_t audiences = 0;

    for (xmlNodePtr child = restriction->children; child != NULL; child = child->next) {
        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (!xml_safe_is_element(child, SAML_NS_ASSERTION, "Audience"))
            return saml_fail_child(child, restriction, detail, detail_size);
        audiences++;
    }
    if (audiences == 0)
        return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                         "an AudienceRestriction has no Audience; SAML 2.0 Core requires "
                         "at least one");
    return SAML_OK;
}

static saml_status saml_read_one_time_use(xmlNodePtr node, saml_assertion *a, char *detail,
                                          size_t detail_size)
{
    if (a->one_time_use)
        return saml_fail(detail, detail_size, SAML_ERR_CONDITIONS_INVALID,
                         "the Conditions contain more than one OneTimeUse, and SAML 2.0 "
                         "Core allows at most one");
    for (xmlNodePtr child = node->children; child != NULL; child = child->next) {
        if (child->type == XML_ELEMENT_NODE)
            return saml_fail_child(child, node, detail, detail_size);
    }
    a->one_time_use = true;
    return SAML_OK;
}

/*
 * Parses a ProxyRestriction Count, an xs:nonNegativeInteger: XML white space around an
 * optional sign and decimal digits, where "-" is allowed only before zero. Returns 0,
 * or -1 when text is not such a number.
 */
static int saml_parse_count(const char *text, long *out)
{
    const char *p = text + strspn(text, " \t\r\n");
    unsigned long long value = 0;
    size_t digits = 0;
    char sign = '+';

    if (*p == '+' || *p == '-')
        sign = *p++;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (value <= (unsigned long long)SAML_PROXY_COUNT_MAX)
            value = value * 10 + (unsigned long long)(*p - '0');
    }
    p += strspn(p, " \t\r\n");
    if (digits == 0 || *p != '\0' || (sign == '-' && value != 0))
        return -1;
    *out = value > (unsigned long long)SAML_PROXY_COUNT_MAX ? SAML_PROXY_COUNT_MAX
                                                             : (long)value;
    return 0;
}

static saml_status saml_read_proxy_count(xmlNodePtr node, saml_proxy_restriction *proxy,
                                         char *detail, size_t detail_size)
{
    xmlChar *count;
    saml_status status = saml_read_attr(node, "Count", NULL, &count, detail, detail_size);

    proxy->count = -1;
    if (count != NULL && saml_parse_count((const char *)count, &proxy->count) != 0)
        status = saml_fail(detail, detail_size, SAML_ERR_CONDITIONS_INVALID,
                           "the ProxyRestriction's Count \"%.40s\" is not a non-negative "
                           "integer",
                           (const char *)count);
    xmlFree(count);
    return status;
}

static saml_status saml_read_proxy_audience(xmlNodePtr audience,
                                            saml_proxy_restriction *proxy, char *detail,
                                            size_t detail_size)
{
    char *value;
    char **grown;
    saml_status status = saml_read_text(audience, "an Audience of the ProxyRestriction", &value,
                                        detail, detail_size);

    if (status != SAML_OK)
        return status;
    grown = realloc(proxy->audiences, (proxy->audience_count + 1) * sizeof(*grown));
    if (grown == NULL) {
        free(value);
        return saml_fail(detail, detail_size, SAML_ERR_INTERNAL, "out of memory");
    }
    grown[proxy->audience_count++] = value;
    proxy->audiences = grown;
    return SAML_OK;
}

static saml_status saml_read_proxy(xmlNodePtr node, saml_proxy_restriction *proxy,
                                   char *detail, size_t detail_size)
{
    saml_status status;

    if (proxy->present)
        return saml_fail(detail, detail_size, SAML_ERR_CONDITIONS_INVALID,
                         "the Conditions contain more than one ProxyRestriction, and SAML "
                         "2.0 Core allows at most one");
    proxy->present = true;
    status = saml_read_proxy_count(node, proxy, detail, detail_size);

    for (xmlNodePtr child = node->children; status == SAML_OK && child != NULL;
         child = child->next) {
        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (!xml_safe_is_element(child, SAML_NS_ASSERTION, "Audience"))
            return saml_fail_child(child, node, detail, detail_size);
        status = saml_read_proxy_audience(child, proxy, detail, detail_size);
    }
    return status;
}

/* Fails for a condition the node does not understand, naming its xsi:type if any. */
static saml_status saml_fail_unknown_condition(xmlNodePtr node, char *detail,
                                               size_t detail_size)
{
    xmlChar *type = xmlGetNsProp(node, (const xmlChar *)"type", (const xmlChar *)SAML_NS_XSI);
    const char *ns = node->ns != NULL ? (const char *)node->ns->href : "";
    saml_status status = saml_fail(
        detail, detail_size, SAML_ERR_CONDITION_UNKNOWN,
        "the Conditions contain <%.40s> in the namespace \"%.80s\"%s%.60s%s, a condition "
        "that the node does not understand, so the assertion's validity cannot be "
        "determined",
        node->name, ns, type != NULL ? " with xsi:type \"" : "",
        type != NULL ? (const char *)type : "", type != NULL ? "\"" : "");

    xmlFree(type);
    return status;
}

saml_status saml_read_condition_elements(xmlNodePtr conditions, saml_assertion *a,
                                         char *detail, size_t detail_size)
{
    for (xmlNodePtr child = conditions->children; child != NULL; child = child->next) {
        saml_status status;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        /* A saml:Condition, whatever its xsi:type, is an extension the node does not
         * implement, and so is any element that SAML 2.0 Core does not define here. */
        if (xml_safe_is_element(child, SAML_NS_ASSERTION, "AudienceRestriction"))
            status = saml_check_audience_restriction(child, detail, detail_size);
        else if (xml_safe_is_element(child, SAML_NS_ASSERTION, "OneTimeUse"))
            status = saml_read_one_time_use(child, a, detail, detail_size);
        else if (xml_safe_is_element(child, SAML_NS_ASSERTION, "ProxyRestriction"))
            status = saml_read_proxy(child, &a->proxy, detail, detail_size);
        else
            status = saml_fail_unknown_condition(child, detail, detail_size);
        if (status != SAML_OK)
            return status;
    }
    return SAML_OK;
}

saml_status saml_read_bearer_end(xmlNodePtr data, int64_t *not_on_or_after_ms,
                                 int64_t *not_on_or_after_ps, bool *present, char *detail,
                                 size_t detail_size)
{
    saml_attr_value text;
    int parsed;
    saml_status status =
        saml_read_attr_value(data, "NotOnOrAfter", NULL, &text, detail, detail_size);

    *present = text.text != NULL;
    if (status != SAML_OK || text.text == NULL) {
        saml_attr_value_free(&text);
        return status;
    }
    parsed = saml_time_parse_ms(text.text, not_on_or_after_ms);
    *not_on_or_after_ps = saml_time_fraction_ps(text.text, false);
    saml_attr_value_free(&text);
    if (parsed == -1)
        return saml_fail(
            detail, detail_size, SAML_ERR_CONFIRMATION_INVALID,
            "the NotOnOrAfter of the bearer SubjectConfirmationData is not a "
            "valid xs:dateTime: a real date and time, ending in Z or an "
            "offset");
    if (parsed != 0)
        return saml_fail(
            detail, detail_size, SAML_ERR_CONFIRMATION_INVALID,
            "the NotOnOrAfter of the bearer SubjectConfirmationData is outside "
            "the range the node reads, 1970-01-01T00:00:00Z to "
            "9999-12-31T23:59:59Z");
    return SAML_OK;
}

/*
 * Checks one bearer SubjectConfirmation. The profile requires SubjectConfirmationData
 * with NotOnOrAfter and forbids NotBefore on it.
 */
static saml_status saml_check_bearer_data(xmlNodePtr confirmation, time_t now,
                                          int64_t latest_ms, int64_t latest_ps, long skew,
                                          char *detail, size_t detail_size)
{
    xmlNodePtr data = saml_only_child(confirmation, SAML_NS_ASSERTION,
                                      "SubjectConfirmationData");
    int64_t not_on_or_after_ms = 0;
    int64_t not_on_or_after_ps = 0;
    bool present;
    saml_status status;

    if (data == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_CONFIRMATION_INVALID,
                         "the bearer SubjectConfirmation needs exactly one "
                         "SubjectConfirmationData");
    if (xmlHasProp(data, (const xmlChar *)"NotBefore") != NULL)
        return saml_fail(detail, detail_size, SAML_ERR_CONFIRMATION_INVALID,
                         "the bearer SubjectConfirmationData has a NotBefore, which the "
                         "Web Browser SSO profile forbids");

    status = saml_read_bearer_end(data, &not_on_or_after_ms, &not_on_or_after_ps,
                                  &present, detail, detail_size);
    if (status != SAML_OK)
        return status;
    if (!present)
        return saml_fail(detail, detail_size, SAML_ERR_CONFIRMATION_INVALID,
                         "the bearer SubjectConfirmationData has no NotOnOrAfter, so it "
                         "does not limit when the assertion can be presented");

    latest_ms -= (int64_t)skew * 1000;
    if (latest_ms > not_on_or_after_ms ||
        (latest_ms == not_on_or_after_ms && latest_ps >= not_on_or_after_ps))
        return saml_fail(
            detail, detail_size, SAML_ERR_CONFIRMATION_EXPIRED,
            "the bearer SubjectConfirmationData expired at its NotOnOrAfter, "
            "%lld seconds ago",
            (long long)(now - not_on_or_after_ms / 1000));
    return SAML_OK;
}

saml_status saml_check_bearer(xmlNodePtr assertion, time_t now, int64_t latest_ms,
                              int64_t latest_ps, long skew, char *detail,
                              size_t detail_size)
{
    xmlNodePtr subject = saml_only_child(assertion, SAML_NS_ASSERTION, "Subject");
    saml_status first_failure = SAML_OK;
    char first_detail[256] = "";
    size_t bearers = 0;

    for (xmlNodePtr c = subject != NULL ? subject->children : NULL; c != NULL; c = c->next) {
        saml_attr_value method;
        bool bearer;
        saml_status status;

        if (!xml_safe_is_element(c, SAML_NS_ASSERTION, "SubjectConfirmation"))
            continue;
        status = saml_read_attr_value(c, "Method", NULL, &method, detail, detail_size);
        bearer = status == SAML_OK && method.text != NULL &&
                 saml_uri_equals(method.text, SAML_METHOD_BEARER);
        saml_attr_value_free(&method);
        if (status != SAML_OK)
            return status;
        if (!bearer)
            continue;

        /* SAML 2.0 Core: one confirmation that is met confirms the subject. */
        bearers++;
        status = saml_check_bearer_data(c, now, latest_ms, latest_ps, skew, detail,
                                        detail_size);
        if (status == SAML_OK)
            return SAML_OK;
        if (first_failure == SAML_OK) {
            first_failure = status;
            snprintf(first_detail, sizeof(first_detail), "%s", detail);
        }
    }

    if (bearers == 0)
        return saml_fail(detail, detail_size, SAML_ERR_BEARER_MISSING,
                         "the Subject has no SubjectConfirmation with the bearer method; "
                         "the node takes no key or other proof from the presenter, so it "
                         "cannot confirm the subject any other way");
    return saml_fail(detail, detail_size, first_failure, "%s", first_detail);
}
