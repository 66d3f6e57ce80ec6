/*
 * The XML Schema types of the optional attributes that the verifier does not otherwise
 * read. They are InResponseTo, Destination and Consent of a Response (StatusResponseType,
 * saml-schema-protocol-2.0.xsd). They are also InResponseTo, Recipient, NotBefore and
 * NotOnOrAfter of a SubjectConfirmationData (SubjectConfirmationDataType,
 * saml-schema-assertion-2.0.xsd). A value that is not of its type breaks the schema and
 * is rejected as not_saml, although the node compares none of these values. Only the
 * NotOnOrAfter of a bearer confirmation, which the bearer check compares, keeps
 * subject_confirmation_invalid.
 *
 * An InResponseTo is an xs:NCName. A digit or another character that an NCName allows
 * only later may start it, as the verifier allows for an ID, because it repeats the ID
 * of a request. Destination, Consent and Recipient are xs:anyURI. The Address of a
 * SubjectConfirmationData is an xs:string, which any attribute value is.
 *
 * The xs:anyURI values that the verifier reads from the signed Assertion, such as a
 * NameID Format, an Audience or an AuthnContextClassRef, are checked against the type
 * too (saml_check_assertion_uris), before the verifier compares or reports them. The
 * signer checks the Format and the AuthnContextClassRef again as absolute URIs when a
 * result attestation copies them.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saml_verify_internal.h"
#include "xml_safe.h"

/* The longest IPv6 address in text form, with an IPv4 part. */
#define SAML_IPV6_TEXT_MAX 45

static bool saml_uri_is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool saml_uri_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool saml_uri_is_hex(unsigned char c)
{
    return saml_uri_is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static bool saml_uri_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The characters that XLink (section 5.4) escapes as %HH before an xs:anyURI is read as
 * a URI (XML Schema 1.0, Part 2, section 3.2.17): non-ASCII bytes, controls, space and
 * < > " { } | \ ^ `. Each stands for a valid percent-encoding. The character tests are
 * switch statements, because every character of every URI value goes through them. */
static bool saml_uri_is_escaped(unsigned char c)
{
    switch (c) {
    case '<':
    case '>':
    case '"':
    case '{':
    case '}':
    case '|':
    case '\\':
    case '^':
    case '`':
        return true;
    default:
        return c <= 0x20 || c >= 0x7f;
    }
}

/* unreserved and sub-delims of RFC 3986, section 2. */
static bool saml_uri_is_plain(unsigned char c)
{
    switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
        return true;
    default:
        return saml_uri_is_alpha(c) || saml_uri_is_digit(c);
    }
}

/* The characters after the first of a scheme (RFC 3986, section 3.1). */
static bool saml_uri_is_scheme_char(unsigned char c)
{
    return saml_uri_is_alpha(c) || saml_uri_is_digit(c) || c == '+' || c == '-' ||
           c == '.';
}

/* Returns the length of the character at text that extra or a plain, escaped or
 * percent-encoded character makes up, or 0 when there is none there. */
static size_t saml_uri_char(const char *text, const char *extra)
{
    unsigned char c = (unsigned char)text[0];

    if (c == '\0')
        return 0;
    if (saml_uri_is_plain(c) || saml_uri_is_escaped(c) || strchr(extra, c) != NULL)
        return 1;
    if (c == '%' && saml_uri_is_hex((unsigned char)text[1]) &&
        saml_uri_is_hex((unsigned char)text[2]))
        return 3;
    return 0;
}

/* Skips the characters that extra or saml_uri_char allows and returns the first other
 * one. */
static const char *saml_uri_skip(const char *text, const char *extra)
{
    size_t len;

    while ((len = saml_uri_char(text, extra)) > 0)
        text += len;
    return text;
}

/* Checks an IP-literal without its brackets, len characters at text: an IPv6 address
 * or an IPvFuture ("v", hex digits, ".", then plain characters or ":"). */
static bool saml_uri_ip_literal(const char *text, size_t len)
{
    char address[SAML_IPV6_TEXT_MAX + 1];
    struct in6_addr parsed;
    size_t hex = 1;

    if (len > 1 && (text[0] == 'v' || text[0] == 'V')) {
        while (hex < len && saml_uri_is_hex((unsigned char)text[hex]))
            hex++;
        if (hex == 1 || hex + 1 >= len || text[hex] != '.')
            return false;
        for (size_t i = hex + 1; i < len; i++) {
            if (!saml_uri_is_plain((unsigned char)text[i]) && text[i] != ':')
                return false;
        }
        return true;
    }
    if (len == 0 || len > SAML_IPV6_TEXT_MAX)
        return false;
    memcpy(address, text, len);
    address[len] = '\0';
    return inet_pton(AF_INET6, address, &parsed) == 1;
}

/* Checks the authority of len characters at text: [ userinfo "@" ] host [ ":" port ]. */
static bool saml_uri_authority(const char *text, size_t len)
{
    const char *end = text + len;
    const char *at = memchr(text, '@', len);
    const char *host = text;
    const char *rest;

    if (at != NULL) {
        if (saml_uri_skip(text, ":") != at)
            return false;
        host = at + 1;
    }
    if (host < end && *host == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));

        if (close == NULL || !saml_uri_ip_literal(host + 1, (size_t)(close - host - 1)))
            return false;
        rest = close + 1;
    } else {
        rest = saml_uri_skip(host, "");
        /* The white space after a value counts as escaped, so the scan may pass end. */
        if (rest > end)
            rest = end;
    }
    if (rest < end && *rest == ':') {
        rest++;
        while (rest < end && saml_uri_is_digit((unsigned char)*rest))
            rest++;
    }
    return rest == end;
}

/*
 * Returns whether value is an xs:anyURI: with the XML white space around it removed
 * (the type's whiteSpace facet is collapse), and the characters of saml_uri_is_escaped
 * read as escaped, a URI-reference of RFC 3986 (section 4.1). The empty value is one.
 * libxml2's schema validator (xmlschemastypes.c) replaces the same characters and then
 * parses the value with its own URI parser.
 */
bool saml_is_any_uri(const char *value)
{
    const char *start = value;
    const char *end;
    const char *p;
    const char *first_end;

    while (saml_uri_is_space((unsigned char)*start))
        start++;
    end = start + strlen(start);
    while (end > start && saml_uri_is_space((unsigned char)end[-1]))
        end--;
    p = start;

    /* A scheme, or a first path segment without a colon (RFC 3986, section 4.2). */
    first_end = start + strcspn(start, "/?#");
    if (memchr(start, ':', (size_t)(first_end - start)) != NULL) {
        if (!saml_uri_is_alpha((unsigned char)*p))
            return false;
        p++;
        while (saml_uri_is_scheme_char((unsigned char)*p))
            p++;
        if (*p != ':')
            return false;
        p++;
    }

    if (p[0] == '/' && p[1] == '/') {
        size_t len = strcspn(p + 2, "/?#");

        if (p + 2 + len > end)
            len = (size_t)(end - (p + 2));
        if (!saml_uri_authority(p + 2, len))
            return false;
        p += 2 + len;
    }
    p = saml_uri_skip(p, ":@/");
    if (p < end && *p == '?')
        p = saml_uri_skip(p + 1, ":@/?");
    if (p < end && *p == '#')
        p = saml_uri_skip(p + 1, ":@/?");
    /* The white space at the end counts as escaped, so the scan may pass it. */
    return p >= end;
}

/* Returns whether value is an InResponseTo: an NCName once the XML white space around
 * it is removed, as the whiteSpace facet of xs:NCName (collapse) removes it. Removes
 * that white space from value. */
static bool saml_is_response_reference(char *value)
{
    size_t start = 0;
    size_t len;

    while (saml_uri_is_space((unsigned char)value[start]))
        start++;
    len = strlen(value + start);
    while (len > 0 && saml_uri_is_space((unsigned char)value[start + len - 1]))
        len--;
    memmove(value, value + start, len);
    value[len] = '\0';

    /* A digit, "-" or "." may start the value. */
    return xml_safe_is_ncname(value, true);
}

/* The schema type of an attribute that saml_check_types reads. */
typedef enum saml_attr_type {
    SAML_TYPE_NCNAME,
    SAML_TYPE_ANY_URI,
} saml_attr_type;

typedef struct saml_typed_attr {
    const char *name;
    saml_attr_type type;
} saml_typed_attr;

/* Fails for the value of the attribute attr of element, which is not of its type. */
static saml_status saml_fail_type(xmlNodePtr element, const saml_typed_attr *attr,
                                  const char *value, char *detail, size_t detail_size)
{
    return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                     "the %s \"%.80s\" of <%.40s> is not an %s, as SAML 2.0 Core's "
                     "schema requires",
                     attr->name, value, element->name,
                     attr->type == SAML_TYPE_NCNAME
                         ? "xs:NCName: it must be a name without a colon or white "
                           "space, the ID of the request it answers"
                         : "xs:anyURI: it must be a URI reference");
}

static saml_status saml_check_typed(xmlNodePtr element, const saml_typed_attr *attr,
                                    char *detail, size_t detail_size)
{
    xmlChar *reference;
    saml_attr_value uri;
    saml_status status;

    /* The check of an InResponseTo removes the white space around the copy that it
     * names in the sentence. An xs:anyURI is checked where it is stored. */
    if (attr->type == SAML_TYPE_NCNAME) {
        status =
            saml_read_attr(element, attr->name, NULL, &reference, detail, detail_size);
        if (status == SAML_OK && reference != NULL &&
            !saml_is_response_reference((char *)reference))
            status = saml_fail_type(element, attr, (const char *)reference, detail,
                                    detail_size);
        xmlFree(reference);
        return status;
    }
    status = saml_read_attr_value(element, attr->name, NULL, &uri, detail, detail_size);
    if (status == SAML_OK && uri.text != NULL && !saml_is_any_uri(uri.text))
        status = saml_fail_type(element, attr, uri.text, detail, detail_size);
    saml_attr_value_free(&uri);
    return status;
}

static saml_status saml_check_types(xmlNodePtr element, const saml_typed_attr *attrs,
                                    size_t count, char *detail, size_t detail_size)
{
    for (size_t i = 0; i < count; i++) {
        saml_status status = saml_check_typed(element, &attrs[i], detail, detail_size);

        if (status != SAML_OK)
            return status;
    }
    return SAML_OK;
}

saml_status saml_check_response_types(xmlNodePtr response, char *detail,
                                      size_t detail_size)
{
    static const saml_typed_attr attrs[] = {
        {"InResponseTo", SAML_TYPE_NCNAME},
        {"Destination", SAML_TYPE_ANY_URI},
        {"Consent", SAML_TYPE_ANY_URI},
    };

    return saml_check_types(response, attrs, sizeof(attrs) / sizeof(attrs[0]), detail,
                            detail_size);
}

saml_status saml_check_confirmation_data_types(xmlNodePtr data, bool bearer, char *detail,
                                               size_t detail_size)
{
    static const saml_typed_attr attrs[] = {
        {"InResponseTo", SAML_TYPE_NCNAME},
        {"Recipient", SAML_TYPE_ANY_URI},
    };
    time_t instant;
    int64_t bearer_end_ms;
    int64_t bearer_end_ps;
    bool present;
    saml_status status = saml_check_types(data, attrs, sizeof(attrs) / sizeof(attrs[0]),
                                          detail, detail_size);

    if (status == SAML_OK)
        status = saml_read_time(data, "NotBefore", false, &instant, NULL, NULL, detail,
                                detail_size);
    if (status != SAML_OK)
        return status;
    /* Every bearer confirmation, not only the first one that is met, because a value
     * that is not a time breaks the schema whichever confirmation carries it. */
    if (bearer)
        return saml_read_bearer_end(data, &bearer_end_ms, &bearer_end_ps, &present,
                                    detail, detail_size);
    return saml_read_time(data, "NotOnOrAfter", false, &instant, NULL, NULL, detail,
                          detail_size);
}

/* The xs:anyURI values of the elements of saml-schema-assertion-2.0.xsd: an attribute,
 * which the schema may require, or the text content when attribute is NULL. The Format
 * of an Issuer has a stricter rule of its own (saml_read_issuer). */
static const struct {
    const char *element;
    const char *attribute;
    bool required;
} saml_assertion_uris[] = {
    {"NameID", "Format", false},
    {"SubjectConfirmation", "Method", true},
    {"Audience", NULL, false},
    {"AuthnContextClassRef", NULL, false},
    {"AuthnContextDeclRef", NULL, false},
    {"AuthenticatingAuthority", NULL, false},
    {"Attribute", "NameFormat", false},
    {"AuthzDecisionStatement", "Resource", true},
    {"Action", "Namespace", true},
};

/* Returns the content of element when it is one text node, as the parser stores the
 * text of an element without comments, CDATA sections or child elements, or NULL. */
static const char *saml_single_text(const xmlNode *element)
{
    const xmlNode *text = element->children;

    if (text == NULL || text->type != XML_TEXT_NODE || text->next != NULL)
        return NULL;
    return (const char *)text->content;
}

/* Checks the text content of element as an xs:anyURI. */
static saml_status saml_check_uri_text(xmlNodePtr element, char *detail,
                                       size_t detail_size)
{
    const char *single = saml_single_text(element);
    char what[64];
    char *text;
    saml_status status;

    /* saml_is_any_uri ignores the white space around the value, which saml_read_text
     * would remove, so one text node that passes needs no copy. Any other content takes
     * the reading below, which names its faults. */
    if (single != NULL && saml_is_any_uri(single))
        return SAML_OK;
    snprintf(what, sizeof(what), "the %.40s", (const char *)element->name);
    status = saml_read_text(element, what, &text, detail, detail_size);
    if (status != SAML_OK)
        return status;
    if (!saml_is_any_uri(text))
        status = saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                           "the %.40s \"%.80s\" is not an xs:anyURI: it must be a URI "
                           "reference, as SAML 2.0 Core's schema requires",
                           element->name, text);
    free(text);
    return status;
}

/* Checks the xs:anyURI value of element that saml_assertion_uris lists, if any, and
 * that a required one is present. */
static saml_status saml_check_uri_value(xmlNodePtr element, char *detail,
                                        size_t detail_size)
{
    for (size_t i = 0; i < sizeof(saml_assertion_uris) / sizeof(saml_assertion_uris[0]);
         i++) {
        saml_typed_attr attr = {saml_assertion_uris[i].attribute, SAML_TYPE_ANY_URI};

        if (!xml_safe_is_element(element, SAML_NS_ASSERTION,
                                 saml_assertion_uris[i].element))
            continue;
        if (attr.name == NULL)
            return saml_check_uri_text(element, detail, detail_size);
        if (saml_assertion_uris[i].required &&
            xmlHasNsProp(element, BAD_CAST attr.name, NULL) == NULL)
            return saml_fail(
                detail, detail_size, SAML_ERR_NOT_SAML,
                "the <%.40s> has no %s attribute, which SAML 2.0 Core's schema "
                "requires",
                element->name, attr.name);
        return saml_check_typed(element, &attr, detail, detail_size);
    }
    return SAML_OK;
}

saml_status saml_check_assertion_uris(xmlNodePtr parent, char *detail, size_t detail_size)
{
    for (xmlNodePtr child = parent->children; child != NULL; child = child->next) {
        saml_status status;

        /* The assertions that an Advice or an Evidence carries are not read. Elements of
         * other namespaces, such as the Signature, hold no SAML values. */
        if (child->type != XML_ELEMENT_NODE || child->ns == NULL ||
            strcmp((const char *)child->ns->href, SAML_NS_ASSERTION) != 0 ||
            xml_safe_is_element(child, SAML_NS_ASSERTION, "Advice") ||
            xml_safe_is_element(child, SAML_NS_ASSERTION, "Evidence"))
            continue;
        status = saml_check_uri_value(child, detail, detail_size);
        if (status == SAML_OK)
            status = saml_check_assertion_uris(child, detail, detail_size);
        if (status != SAML_OK)
            return status;
    }
    return SAML_OK;
}
