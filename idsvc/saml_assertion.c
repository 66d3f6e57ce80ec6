/*
 * Reading a verified Assertion element into saml_assertion. Every value is read from
 * the element that was verified, as text content with comments ignored; an element
 * where text is expected rejects the document rather than yield part of a value.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saml_build.h"
#include "saml_verify_internal.h"
#include "xml_safe.h"

#define SAML_NAMEID_ENTITY "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"

/* Reads exactly count decimal digits at *text and advances past them. Unlike sscanf's %d
 * it takes no sign and no space. Returns -1 when a character is not a digit. */
static int saml_time_digits(const char **text, int count)
{
    int value = 0;

    for (int i = 0; i < count; i++) {
        char c = (*text)[i];

        if (c < '0' || c > '9')
            return -1;
        value = value * 10 + (c - '0');
    }
    *text += count;
    return value;
}

/* Reads the separator c at *text and advances past it. */
static bool saml_time_expect(const char **text, char c)
{
    if (**text != c)
        return false;
    (*text)++;
    return true;
}

static int saml_days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

/* Reads the zone ("Z", "+hh:mm" or "-hh:mm") and sets *offset in seconds east of UTC.
 * A time with no zone is invalid, because its writer's zone is unknown. An offset names
 * one instant, so it is converted: some signers write "+00:00" where SAML 2.0 Core
 * (section 1.3.3) requires UTC. */
static int saml_time_zone(const char **rest, long *offset)
{
    char sign = **rest;
    int zone_hour;
    int zone_minute;

    *offset = 0;
    if (sign == 'Z') {
        (*rest)++;
        return 0;
    }
    if (sign != '+' && sign != '-')
        return -1;
    (*rest)++;
    zone_hour = saml_time_digits(rest, 2);
    if (zone_hour < 0 || !saml_time_expect(rest, ':'))
        return -1;
    zone_minute = saml_time_digits(rest, 2);
    /* xs:dateTime offsets run from -14:00 to +14:00. */
    if (zone_minute < 0 || zone_hour > 14 || zone_minute > 59 ||
        (zone_hour == 14 && zone_minute != 0))
        return -1;
    *offset = (zone_hour * 60L + zone_minute) * 60L * (sign == '+' ? 1 : -1);
    return 0;
}

/* Returns the days from 1970-01-01 to a date of the proleptic Gregorian calendar; negative
 * before 1970. */
static long long saml_days_since_epoch(int year, int month, int day)
{
    static const int days_before_month[] = {0,   31,  59,  90,  120, 151,
                                            181, 212, 243, 273, 304, 334};
    const long long days_to_1970 = 719162; /* from 0001-01-01 to 1970-01-01 */
    long long past = year - 1;
    bool leap = saml_days_in_month(year, 2) == 29;
    long long days = 365 * past + past / 4 - past / 100 + past / 400;

    days += days_before_month[month - 1] + (month > 2 && leap ? 1 : 0) + day - 1;
    return days - days_to_1970;
}

/* Reads "YYYY-MM-DDThh:mm:ss" with fixed widths and digits only into fields. */
static int saml_time_fields(const char **rest, int fields[6])
{
    static const char separators[] = "--T::";
    static const int widths[] = {4, 2, 2, 2, 2, 2};

    for (int i = 0; i < 6; i++) {
        fields[i] = saml_time_digits(rest, widths[i]);
        if (fields[i] < 0 || (i < 5 && !saml_time_expect(rest, separators[i])))
            return -1;
    }
    return 0;
}

/* Skips the start of a year that XML Schema 1.0 allows in an xs:dateTime but that lies
 * outside the years the node reads: a negative year, or one of more than four digits
 * without a leading zero, such as 10000. Leaves *rest at its last four digits and
 * returns true, so that the rest of the value is still checked. Those digits give the
 * year's leap rule, which repeats every 400 years. */
static bool saml_time_skip_outside_year(const char **rest)
{
    const char *digits = *rest + (**rest == '-' ? 1 : 0);
    size_t count = strspn(digits, "0123456789");

    /* XML Schema 1.0 has no year 0000, signed or not. */
    if (count < 4 || (count > 4 && digits[0] == '0') ||
        (count == 4 && (digits == *rest || strncmp(digits, "0000", 4) == 0)))
        return false;
    *rest = digits + count - 4;
    return true;
}

int saml_time_parse(const char *text, time_t *out)
{
    /* The whiteSpace facet of xs:dateTime is collapse, so XML white space around the
     * value belongs to no part of it. */
    const char *rest = text + strspn(text, " \t\r\n");
    int f[6]; /* year, month, day, hour, minute, second */
    long offset = 0;
    long long value;
    bool outside_year = saml_time_skip_outside_year(&rest);

    if (saml_time_fields(&rest, f) != 0)
        return -1;

    /* A day that the month does not have is invalid, not the first days of the next
     * month as timegm would make it. xs:dateTime has no leap second (60), and SAML 2.0
     * Core, section 1.3.3, forbids writing one. XML Schema 1.0 has no year 0000. */
    if ((f[0] < 1 && !outside_year) || f[1] < 1 || f[1] > 12 || f[2] < 1 ||
        f[2] > saml_days_in_month(f[0], f[1]) || f[3] > 23 || f[4] > 59 || f[5] > 59)
        return -1;

    /* Fractions of a second are dropped. The reader of Conditions moves a NotBefore with
     * a fraction to the next whole second instead (saml_time_has_fraction). */
    if (*rest == '.') {
        rest++;
        if (*rest < '0' || *rest > '9')
            return -1;
        while (*rest >= '0' && *rest <= '9')
            rest++;
    }
    if (saml_time_zone(&rest, &offset) != 0 || rest[strspn(rest, " \t\r\n")] != '\0')
        return -1;
    if (outside_year)
        return -2;

    value = saml_days_since_epoch(f[0], f[1], f[2]) * 86400 + f[3] * 3600LL + f[4] * 60LL +
            f[5] - offset;
    if (value < 0 || value > SAML_TIME_MAX)
        return -2;
    *out = (time_t)value;
    return 0;
}

/* Returns the milliseconds of the fraction of a second of an xs:dateTime value, 0 to 999.
 * When round_up is set, a further digit other than 0 adds one, so the result can be
 * 1000. A date has no '.' before it. */
static int saml_time_fraction_ms(const char *value, bool round_up)
{
    const char *dot = strchr(value, '.');
    const char *digit = dot != NULL ? dot + 1 : "";
    int ms = 0;

    for (int i = 0; i < 3; i++) {
        ms *= 10;
        if (*digit >= '0' && *digit <= '9')
            ms += *digit++ - '0';
    }
    for (; round_up && *digit >= '0' && *digit <= '9'; digit++) {
        if (*digit != '0')
            return ms + 1;
    }
    return ms;
}

int64_t saml_time_fraction_ps(const char *text, bool round_up)
{
    const char *dot = strchr(text, '.');
    const char *digit = dot != NULL ? dot + 1 : "";
    int64_t ps = 0;

    for (int i = 0; i < 3 && *digit >= '0' && *digit <= '9'; i++)
        digit++;
    for (int i = 0; i < 12; i++) {
        ps *= 10;
        if (*digit >= '0' && *digit <= '9')
            ps += *digit++ - '0';
    }
    for (; round_up && *digit >= '0' && *digit <= '9'; digit++) {
        if (*digit != '0')
            return ps + 1;
    }
    return ps;
}

int saml_time_parse_ms(const char *text, int64_t *out)
{
    time_t seconds;
    int parsed = saml_time_parse(text, &seconds);

    if (parsed == 0)
        *out = (int64_t)seconds * 1000 + saml_time_fraction_ms(text, false);
    return parsed;
}

/* Returns the only child element with this name in the assertion namespace, and sets
 * *count to how many there were. */
static xmlNodePtr saml_child(xmlNodePtr parent, const char *name, size_t *count)
{
    xmlNodePtr found = NULL;

    *count = 0;
    for (xmlNodePtr child = parent->children; child != NULL; child = child->next) {
        if (!xml_safe_is_element(child, SAML_NS_ASSERTION, name))
            continue;
        if (found == NULL)
            found = child;
        (*count)++;
    }
    return found;
}

saml_status saml_read_attr(xmlNodePtr element, const char *name, const char *ns,
                           xmlChar **out, char *detail, size_t detail_size)
{
    xmlAttrPtr attr = xmlHasNsProp(element, (const xmlChar *)name, (const xmlChar *)ns);

    *out = NULL;
    if (attr == NULL)
        return SAML_OK;
    /* The parser gives an attribute one text child, and an attribute without children
     * has the empty value. */
    if (attr->children == NULL)
        *out = xmlStrdup((const xmlChar *)"");
    else if (attr->children->type == XML_TEXT_NODE && attr->children->next == NULL)
        *out = xmlStrdup(attr->children->content);
    else
        *out = xmlNodeListGetString(element->doc, attr->children, 1);
    if (*out == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_INTERNAL,
                         "out of memory reading the %s attribute of <%.40s>", name,
                         element->name);
    return SAML_OK;
}

saml_status saml_read_attr_value(xmlNodePtr element, const char *name, const char *ns,
                                 saml_attr_value *out, char *detail, size_t detail_size)
{
    xmlAttrPtr attr = xmlHasNsProp(element, (const xmlChar *)name, (const xmlChar *)ns);
    const xmlNode *text = attr != NULL ? attr->children : NULL;
    saml_status status;

    out->text = NULL;
    out->copy = NULL;
    if (attr == NULL)
        return SAML_OK;
    if (text != NULL && text->type == XML_TEXT_NODE && text->next == NULL &&
        text->content != NULL) {
        out->text = (const char *)text->content;
        return SAML_OK;
    }
    status = saml_read_attr(element, name, ns, &out->copy, detail, detail_size);
    out->text = (const char *)out->copy;
    return status;
}

void saml_attr_value_free(saml_attr_value *value)
{
    xmlFree(value->copy);
    value->copy = NULL;
    value->text = NULL;
}

/* Returns whether an xs:dateTime value has a fraction of a second other than zero, as
 * in 2026-01-01T00:00:00.5Z. A date has no '.' before it. */
static bool saml_time_has_fraction(const xmlChar *value)
{
    const char *dot = strchr((const char *)value, '.');
    bool fraction = false;

    for (const char *digit = dot != NULL ? dot + 1 : ""; *digit >= '0' && *digit <= '9';
         digit++)
        fraction = fraction || *digit != '0';
    return fraction;
}

/* Copies the attribute name of node, without a namespace, into *out, to free(); NULL
 * when node has no such attribute. */
static saml_status saml_attr_dup(xmlNodePtr node, const char *name, char **out,
                                 char *detail, size_t detail_size)
{
    saml_attr_value value;
    saml_status status =
        saml_read_attr_value(node, name, NULL, &value, detail, detail_size);

    *out = NULL;
    if (status != SAML_OK || value.text == NULL) {
        saml_attr_value_free(&value);
        return status;
    }
    *out = strdup(value.text);
    saml_attr_value_free(&value);
    if (*out == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_INTERNAL,
                         "out of memory reading the %s attribute of <%.40s>", name,
                         node->name);
    return SAML_OK;
}

/* Removes the XML white space around text in place, as the whiteSpace facet of
 * xs:anyURI (collapse) does. NULL passes. */
static void saml_trim_uri(char *text)
{
    size_t start;
    size_t end;

    if (text == NULL)
        return;
    start = strspn(text, " \t\r\n");
    end = strlen(text);
    while (end > start && strchr(" \t\r\n", text[end - 1]) != NULL)
        end--;
    memmove(text, text + start, end - start);
    text[end - start] = '\0';
}

saml_status saml_read_time(xmlNodePtr node, const char *name, bool required, time_t *out,
                           bool *present, bool *fraction, char *detail,
                           size_t detail_size)
{
    saml_attr_value attr;
    saml_status status =
        saml_read_attr_value(node, name, NULL, &attr, detail, detail_size);
    const xmlChar *value = (const xmlChar *)attr.text;
    int parsed = 0;

    *out = 0;
    if (present != NULL)
        *present = value != NULL;
    if (fraction != NULL)
        *fraction = value != NULL && saml_time_has_fraction(value);
    if (status != SAML_OK) {
        saml_attr_value_free(&attr);
        return status;
    }
    if (value == NULL) {
        if (required)
            status = saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                               "<%.40s> has no %s attribute", node->name, name);
    } else {
        parsed = saml_time_parse((const char *)value, out);
    }
    if (parsed == -1)
        status = saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                           "the %s \"%.60s\" of <%.40s> is not a valid xs:dateTime: "
                           "a real date and time, ending in Z or an offset", name,
                           (const char *)value, node->name);
    else if (parsed == -2)
        status = saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                           "the %s \"%.60s\" of <%.40s> is outside the range the node "
                           "reads, 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z", name,
                           (const char *)value, node->name);
    saml_attr_value_free(&attr);
    return status;
}

/* Rejects an Assertion or a Response whose Version is not "2.0", the one version that
 * SAML 2.0 Core defines for both. */
static saml_status saml_check_version(xmlNodePtr element, char *detail, size_t detail_size)
{
    saml_attr_value attr;
    saml_status status =
        saml_read_attr_value(element, "Version", NULL, &attr, detail, detail_size);
    const char *version = attr.text;

    if (status == SAML_OK && version == NULL)
        status =
            saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                      "the %.40s has no Version attribute, but SAML 2.0 Core requires "
                      "Version \"2.0\"",
                      (const char *)element->name);
    else if (status == SAML_OK && strcmp(version, "2.0") != 0)
        status = saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                           "the %.40s's Version \"%.20s\" is not \"2.0\"",
                           (const char *)element->name, version);
    saml_attr_value_free(&attr);
    return status;
}

saml_status saml_check_response_header(xmlNodePtr response, char *detail, size_t detail_size)
{
    time_t issue_instant;
    saml_status status = saml_check_version(response, detail, detail_size);

    if (status != SAML_OK)
        return status;
    /* Only its presence is checked, because xml_safe_register_ids checked the value. */
    if (xmlHasNsProp(response, (const xmlChar *)"ID", NULL) == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                         "the Response has no ID attribute, which SAML 2.0 Core requires");
    status = saml_read_time(response, "IssueInstant", true, &issue_instant, NULL, NULL,
                            detail, detail_size);
    if (status != SAML_OK)
        return status;
    return saml_check_response_types(response, detail, detail_size);
}

static saml_status saml_read_header(xmlNodePtr assertion, saml_assertion *a, char *detail,
                                    size_t detail_size)
{
    xmlNodePtr issuer;
    size_t count;
    saml_status status = saml_check_version(assertion, detail, detail_size);

    if (status != SAML_OK)
        return status;

    status = saml_attr_dup(assertion, "ID", &a->id, detail, detail_size);
    if (status != SAML_OK)
        return status;
    if (a->id == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML, "the Assertion has no ID");

    issuer = saml_child(assertion, "Issuer", &count);
    if (count > 1)
        return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                         "the Assertion has %zu Issuer elements; exactly one is required",
                         count);
    if (count == 1) {
        status = saml_read_issuer(issuer, &a->issuer, detail, detail_size);
        if (status != SAML_OK)
            return status;
    }
    if (a->issuer == NULL || a->issuer[0] == '\0')
        return saml_fail(detail, detail_size, SAML_ERR_ISSUER_MISSING,
                         "the Assertion needs exactly one Issuer holding only text");

    status = saml_read_time(assertion, "IssueInstant", true, &a->issue_instant, NULL,
                            NULL, detail, detail_size);
    if (status != SAML_OK)
        return status;
    return saml_read_time_ms(assertion, "IssueInstant", a->issue_instant, false,
                             &a->issue_instant_ms, detail, detail_size);
}

/* Fails for a Subject without NameID. SAML 2.0 Core (section 2.4.1) also allows an
 * EncryptedID or a BaseID there, which is valid SAML that the node cannot read. */
static saml_status saml_fail_subject_identifier(xmlNodePtr subject, char *detail,
                                                size_t detail_size)
{
    static const char *const unread[] = { "EncryptedID", "BaseID" };
    size_t count;

    for (size_t i = 0; i < sizeof(unread) / sizeof(unread[0]); i++) {
        if (saml_child(subject, unread[i], &count) != NULL)
            return saml_fail(detail, detail_size, SAML_ERR_CONTENT_UNSUPPORTED,
                             "the Subject names its subject with <%s>, which the node cannot "
                             "read; it reads only a NameID",
                             unread[i]);
    }
    return saml_note_namesake(saml_fail(detail, detail_size, SAML_ERR_SUBJECT_MISSING,
                                        "the Subject has no NameID; exactly one is required"),
                              detail, detail_size, subject, "NameID", false);
}

/* Rejects a SubjectConfirmation that names the entity expected to confirm the subject
 * with an EncryptedID (SAML 2.0 Core, section 2.4.1.1). The node cannot decrypt it, so it
 * could not tell whom the issuer meant to confirm. */
static saml_status saml_check_confirmation_ids(xmlNodePtr subject, char *detail,
                                               size_t detail_size)
{
    size_t count;

    for (xmlNodePtr c = subject->children; c != NULL; c = c->next) {
        if (xml_safe_is_element(c, SAML_NS_ASSERTION, "SubjectConfirmation") &&
            saml_child(c, "EncryptedID", &count) != NULL)
            return saml_fail(detail, detail_size, SAML_ERR_CONTENT_UNSUPPORTED,
                             "a SubjectConfirmation names the entity that confirms the "
                             "subject with <EncryptedID>, which the node cannot decrypt; the "
                             "issuer must send a NameID or none");
    }
    return SAML_OK;
}

saml_status saml_fail_text_read(xmlNodePtr element, const char *what, char *detail,
                                size_t detail_size)
{
    for (xmlNodePtr child = element->children; child != NULL; child = child->next) {
        if (child->type == XML_ELEMENT_NODE)
            return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                             "%s contains the element <%.40s>, where only text is allowed",
                             what, child->name);
        /* An entity reference needs a DOCTYPE, which the parser rejects, so only a
         * document built in memory has one. */
        if (child->type == XML_ENTITY_REF_NODE)
            return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                             "%s contains an entity reference, where only text is allowed",
                             what);
    }
    return saml_fail(detail, detail_size, SAML_ERR_INTERNAL, "out of memory reading %s",
                     what);
}

saml_status saml_read_text(xmlNodePtr element, const char *what, char **out, char *detail,
                           size_t detail_size)
{
    *out = xml_safe_text_trimmed(element);
    if (*out == NULL)
        return saml_fail_text_read(element, what, detail, detail_size);
    return SAML_OK;
}

saml_status saml_read_name_text(xmlNodePtr element, char **out, char *detail,
                                size_t detail_size)
{
    *out = NULL;
    for (xmlNodePtr child = element->children; child != NULL; child = child->next) {
        if (child->type == XML_ELEMENT_NODE)
            return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                             "the %.40s contains the element <%.40s>, but its type, "
                             "NameIDType, allows only text",
                             element->name, child->name);
    }

    *out = xml_safe_text_trimmed(element);
    if (*out == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_INTERNAL, "out of memory reading the %.40s",
                         element->name);
    return SAML_OK;
}

static bool saml_is_xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool saml_uri_equals(const char *value, const char *uri)
{
    size_t len;

    while (saml_is_xml_space(*value))
        value++;
    len = strlen(value);
    while (len > 0 && saml_is_xml_space(value[len - 1]))
        len--;
    return len == strlen(uri) && memcmp(value, uri, len) == 0;
}

saml_status saml_read_issuer(xmlNodePtr issuer, char **out, char *detail,
                             size_t detail_size)
{
    static const char *const qualifiers[] = {"NameQualifier", "SPNameQualifier",
                                             "SPProvidedID"};
    const char *owner = issuer->parent != NULL && issuer->parent->type == XML_ELEMENT_NODE
                            ? (const char *)issuer->parent->name
                            : "document";
    saml_attr_value attr;
    saml_status status =
        saml_read_attr_value(issuer, "Format", NULL, &attr, detail, detail_size);
    const char *format = attr.text;

    *out = NULL;
    if (status == SAML_OK && format != NULL &&
        !saml_uri_equals(format, SAML_NAMEID_ENTITY)) {
        bool empty = saml_uri_equals(format, "");

        status =
            saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                      "the Issuer of <%.40s> has %s%.100s%s, but an Issuer must have no "
                      "Format or the Format " SAML_NAMEID_ENTITY " (SAML 2.0 Web "
                      "Browser SSO profile, section 4.1.4.2)",
                      owner, empty ? "an empty Format" : "the Format \"",
                      empty ? "" : format, empty ? "" : "\"");
    }
    saml_attr_value_free(&attr);
    if (status != SAML_OK)
        return status;

    for (size_t i = 0; i < sizeof(qualifiers) / sizeof(qualifiers[0]); i++) {
        if (xmlHasNsProp(issuer, (const xmlChar *)qualifiers[i], NULL) != NULL)
            return saml_fail(
                detail, detail_size, SAML_ERR_NOT_SAML,
                "the Issuer of <%.40s> has the attribute %s, which SAML 2.0 Core "
                "(section 8.3.6) forbids on an entity identifier",
                owner, qualifiers[i]);
    }
    return saml_read_name_text(issuer, out, detail, detail_size);
}

static saml_status saml_read_subject(xmlNodePtr assertion, saml_assertion *a, char *detail,
                                     size_t detail_size)
{
    size_t count;
    xmlNodePtr subject = saml_child(assertion, "Subject", &count);
    xmlNodePtr name_id;
    saml_status status;

    if (count != 1)
        return saml_note_namesake(
            saml_fail(detail, detail_size, SAML_ERR_SUBJECT_MISSING,
                      "the Assertion has %zu Subject elements; exactly one is required", count),
            detail, detail_size, assertion, "Subject", false);

    name_id = saml_child(subject, "NameID", &count);
    if (count == 0)
        return saml_fail_subject_identifier(subject, detail, detail_size);
    status = saml_check_confirmation_ids(subject, detail, detail_size);
    if (status != SAML_OK)
        return status;
    if (count != 1)
        return saml_fail(detail, detail_size, SAML_ERR_SUBJECT_MISSING,
                         "the Subject has %zu NameID elements; exactly one is required", count);

    /* The whole text, so a comment inside NameID cannot cut the value short. */
    status = saml_read_name_text(name_id, &a->name_id, detail, detail_size);
    if (status != SAML_OK)
        return status;
    /* Other white space than XML's, such as U+3000, names no subject either. */
    if (a->name_id[0] == '\0' || saml_text_is_blank(a->name_id))
        return saml_fail(detail, detail_size, SAML_ERR_SUBJECT_MISSING,
                         "the NameID is empty or only white space");
    status = saml_attr_dup(name_id, "Format", &a->name_id_format, detail, detail_size);
    saml_trim_uri(a->name_id_format);
    if (status == SAML_OK)
        status = saml_attr_dup(name_id, "NameQualifier", &a->name_qualifier, detail,
                               detail_size);
    if (status == SAML_OK)
        status = saml_attr_dup(name_id, "SPNameQualifier", &a->sp_name_qualifier, detail,
                               detail_size);
    if (status == SAML_OK)
        status = saml_attr_dup(name_id, "SPProvidedID", &a->sp_provided_id, detail,
                               detail_size);
    return status;
}

static int saml_push_string(char ***list, size_t *count, char *value)
{
    char **grown = realloc(*list, (*count + 1) * sizeof(**list));

    if (grown == NULL) {
        free(value);
        return -1;
    }
    grown[(*count)++] = value;
    *list = grown;
    return 0;
}

saml_status saml_read_time_ms(xmlNodePtr node, const char *name, time_t seconds,
                              bool round_up, int64_t *out, char *detail,
                              size_t detail_size)
{
    saml_attr_value value;
    saml_status status =
        saml_read_attr_value(node, name, NULL, &value, detail, detail_size);

    *out = (int64_t)seconds * 1000;
    if (status == SAML_OK && value.text != NULL)
        *out += saml_time_fraction_ms(value.text, round_up);
    saml_attr_value_free(&value);
    return status;
}

/* Sets *ms and *ps to seconds, the time that the attribute name of node holds, in
 * milliseconds with the attribute's fraction dropped, and the picoseconds that the
 * fraction adds. A digit finer than the 15th rounds the picoseconds up when round_up is
 * set, carrying into *ms at 10^12. */
static saml_status saml_read_time_fine(xmlNodePtr node, const char *name, time_t seconds,
                                       bool round_up, int64_t *ms, int64_t *ps,
                                       char *detail, size_t detail_size)
{
    saml_attr_value value;
    saml_status status =
        saml_read_attr_value(node, name, NULL, &value, detail, detail_size);

    *ms = (int64_t)seconds * 1000;
    *ps = 0;
    if (status == SAML_OK && value.text != NULL) {
        *ms += saml_time_fraction_ms(value.text, false);
        *ps = saml_time_fraction_ps(value.text, round_up);
    }
    if (*ps == 1000000000000) {
        *ms += 1;
        *ps = 0;
    }
    saml_attr_value_free(&value);
    return status;
}

static saml_status saml_read_conditions(xmlNodePtr assertion, saml_assertion *a, char *detail,
                                        size_t detail_size)
{
    size_t count;
    xmlNodePtr conditions = saml_child(assertion, "Conditions", &count);
    bool fraction;
    saml_status status;

    if (count != 1)
        return saml_note_namesake(
            saml_fail(detail, detail_size, SAML_ERR_CONDITIONS_MISSING,
                      "the Assertion has %zu Conditions elements; exactly one is required",
                      count),
            detail, detail_size, assertion, "Conditions", false);

    status = saml_read_time(conditions, "NotBefore", false, &a->not_before,
                            &a->has_not_before, &fraction, detail, detail_size);
    /* A clock in milliseconds is compared with the fraction itself (saml_verify.c). */
    if (status == SAML_OK)
        status = saml_read_time_fine(conditions, "NotBefore", a->not_before, true,
                                     &a->not_before_ms, &a->not_before_ps, detail,
                                     detail_size);
    if (status != SAML_OK)
        return status;
    /* The whole seconds of 00:00:00.5 are 00:00:00, when the assertion is not valid yet,
     * so a NotBefore with a fraction starts at the next whole second. */
    if (fraction)
        a->not_before++;
    if (xmlHasNsProp(conditions, (const xmlChar *)"NotOnOrAfter", NULL) == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_CONDITIONS_MISSING,
                         "the Conditions have no NotOnOrAfter, so the assertion never expires");
    status = saml_read_time(conditions, "NotOnOrAfter", true, &a->not_on_or_after, NULL,
                            NULL, detail, detail_size);
    if (status == SAML_OK)
        status = saml_read_time_fine(conditions, "NotOnOrAfter", a->not_on_or_after,
                                     false, &a->not_on_or_after_ms,
                                     &a->not_on_or_after_ps, detail, detail_size);
    if (status == SAML_OK)
        status = saml_read_condition_elements(conditions, a, detail, detail_size);
    if (status != SAML_OK)
        return status;

    for (xmlNodePtr r = conditions->children; r != NULL; r = r->next) {
        if (!xml_safe_is_element(r, SAML_NS_ASSERTION, "AudienceRestriction"))
            continue;
        for (xmlNodePtr aud = r->children; aud != NULL; aud = aud->next) {
            char *value;

            if (!xml_safe_is_element(aud, SAML_NS_ASSERTION, "Audience"))
                continue;
            status = saml_read_text(aud, "an Audience", &value, detail, detail_size);
            if (status != SAML_OK)
                return status;
            if (saml_push_string(&a->audiences, &a->audience_count, value) != 0)
                return saml_fail(detail, detail_size, SAML_ERR_INTERNAL, "out of memory");
        }
    }
    return SAML_OK;
}

static saml_status saml_read_authorities(xmlNodePtr context, saml_assertion *a,
                                         char *detail, size_t detail_size)
{
    for (xmlNodePtr child = context->children; child != NULL; child = child->next) {
        char *value;
        saml_status status;

        if (!xml_safe_is_element(child, SAML_NS_ASSERTION, "AuthenticatingAuthority"))
            continue;
        status = saml_read_text(child, "an AuthenticatingAuthority", &value, detail,
                                detail_size);
        if (status != SAML_OK)
            return status;
        if (saml_push_string(&a->authenticating_authorities,
                             &a->authenticating_authority_count, value) != 0)
            return saml_fail(detail, detail_size, SAML_ERR_INTERNAL, "out of memory");
    }
    return SAML_OK;
}

static saml_status saml_read_assurance(xmlNodePtr assertion, saml_assertion *a, char *detail,
                                       size_t detail_size)
{
    size_t count;
    xmlNodePtr statement = saml_child(assertion, "AuthnStatement", &count);
    xmlNodePtr context;
    xmlNodePtr class_ref;
    saml_status status;

    if (count == 0)
        return SAML_OK;
    /* The schema allows any number, but the result attestation copies one. */
    if (count > 1)
        return saml_fail(detail, detail_size, SAML_ERR_CONTENT_UNSUPPORTED,
                         "the Assertion has %zu AuthnStatement elements; the node reads at "
                         "most one",
                         count);
    /* The schema requires AuthnInstant; the result attestation copies it. */
    a->has_authn_statement = true;
    status = saml_read_time(statement, "AuthnInstant", true, &a->authn_instant, NULL,
                            NULL, detail, detail_size);
    if (status == SAML_OK)
        status = saml_read_time_ms(statement, "AuthnInstant", a->authn_instant, false,
                                   &a->authn_instant_ms, detail, detail_size);
    /* It is optional, and saml_verify.c compares it with the clock. */
    if (status == SAML_OK)
        status = saml_read_time(
            statement, "SessionNotOnOrAfter", false, &a->session_not_on_or_after,
            &a->has_session_not_on_or_after, NULL, detail, detail_size);
    if (status == SAML_OK && a->has_session_not_on_or_after)
        status = saml_read_time_fine(statement, "SessionNotOnOrAfter",
                                     a->session_not_on_or_after, false,
                                     &a->session_not_on_or_after_ms,
                                     &a->session_not_on_or_after_ps, detail, detail_size);
    if (status == SAML_OK)
        status = saml_check_authn_statement_form(statement, detail, detail_size);
    if (status != SAML_OK)
        return status;

    /* The form check leaves one AuthnContext with at most one AuthnContextClassRef. */
    context = saml_child(statement, "AuthnContext", &count);
    status = saml_read_authorities(context, a, detail, detail_size);
    if (status != SAML_OK)
        return status;
    class_ref = saml_child(context, "AuthnContextClassRef", &count);
    if (class_ref == NULL)
        return SAML_OK;
    return saml_read_text(class_ref, "the AuthnContextClassRef", &a->assurance, detail,
                          detail_size);
}

/* Returns the first child element of node, or NULL when it has none. */
static xmlNodePtr saml_first_element(xmlNodePtr node)
{
    for (xmlNodePtr child = node->children; child != NULL; child = child->next) {
        if (child->type == XML_ELEMENT_NODE)
            return child;
    }
    return NULL;
}

/* Sets *is_nil when value_node has xsi:nil "true" or "1", which SAML 2.0 Core (section
 * 2.7.3.1.1) reserves for a null value, as opposed to an empty string. */
static saml_status saml_is_nil(xmlNodePtr value_node, bool *is_nil, char *detail,
                               size_t detail_size)
{
    xmlChar *nil;
    saml_status status =
        saml_read_attr(value_node, "nil", SAML_NS_XSI, &nil, detail, detail_size);

    *is_nil = false;
    if (nil != NULL) {
        const char *text = (const char *)nil;
        size_t len;
        bool is_false;

        /* xs:boolean collapses white space around its value. */
        text += strspn(text, " \t\r\n");
        len = strcspn(text, " \t\r\n");
        *is_nil =
            (len == 4 && strncmp(text, "true", 4) == 0) || (len == 1 && text[0] == '1');
        is_false =
            (len == 5 && strncmp(text, "false", 5) == 0) || (len == 1 && text[0] == '0');
        /* Anything else, such as "true junk", leaves open whether the value is null. */
        if ((!*is_nil && !is_false) || text[len + strspn(text + len, " \t\r\n")] != '\0')
            status = saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                               "an AttributeValue has xsi:nil \"%.40s\", which is not an "
                               "xs:boolean (true, false, 1 or 0)",
                               (const char *)nil);
    }
    xmlFree(nil);
    return status;
}

/* Returns true when node has a character or an element among its children. Comments,
 * processing instructions and empty CDATA sections add neither. */
static bool saml_has_content(xmlNodePtr node)
{
    for (xmlNodePtr child = node->children; child != NULL; child = child->next) {
        if (child->type == XML_COMMENT_NODE || child->type == XML_PI_NODE)
            continue;
        if ((child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE) &&
            (child->content == NULL || child->content[0] == '\0'))
            continue;
        return true;
    }
    return false;
}

/* Returns true when the text and CDATA children of node are XML white space only and
 * node has no child element. */
static bool saml_only_white_space(xmlNodePtr node)
{
    for (xmlNodePtr child = node->children; child != NULL; child = child->next) {
        if (child->type == XML_ELEMENT_NODE || child->type == XML_ENTITY_REF_NODE)
            return false;
        if ((child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE) &&
            child->content != NULL &&
            child->content[strspn((const char *)child->content, " \t\r\n")] != '\0')
            return false;
    }
    return true;
}

/* Reads one AttributeValue as text. Its type is xs:anyType, so element content, such as
 * the NameID of eduPersonTargetedID, is valid SAML, but no claim string can hold it. A
 * null value (xsi:nil) gives no value, because a claim string cannot tell it from the
 * empty string that an empty AttributeValue without xsi:nil is. */
static saml_status saml_read_attribute_value(xmlNodePtr value_node, saml_attribute *attribute,
                                             char *detail, size_t detail_size)
{
    xmlNodePtr element = saml_first_element(value_node);
    char what[96];
    char *value;
    bool is_nil;
    saml_status status = saml_is_nil(value_node, &is_nil, detail, detail_size);

    if (status != SAML_OK)
        return status;
    /* XML Schema 1.0 (Part 1, section 3.3.4, clause 3.2.1) allows no character or
     * element in a null element, so white space that looks like indentation is
     * content too. */
    if (is_nil) {
        if (saml_has_content(value_node))
            return saml_fail(
                detail, detail_size, SAML_ERR_NOT_SAML,
                "a value of the Attribute \"%.60s\" is null (xsi:nil) but not "
                "empty%s",
                attribute->name,
                saml_only_white_space(value_node)
                    ? "; XML Schema allows no characters in it, not even white space"
                    : "");
        return SAML_OK;
    }
    if (element != NULL)
        return saml_fail(detail, detail_size, SAML_ERR_CONTENT_UNSUPPORTED,
                         "a value of the Attribute \"%.60s\" contains the element <%.40s>, "
                         "but the node reads only text values; the issuer must not release "
                         "this attribute to the node",
                         attribute->name, element->name);
    /* Reads the text as saml_read_text does, naming the Attribute only on failure. */
    value = xml_safe_text_trimmed(value_node);
    if (value == NULL) {
        snprintf(what, sizeof(what), "a value of the Attribute \"%.60s\"",
                 attribute->name);
        return saml_fail_text_read(value_node, what, detail, detail_size);
    }
    if (saml_push_string(&attribute->values, &attribute->value_count, value) != 0)
        return saml_fail(detail, detail_size, SAML_ERR_INTERNAL, "out of memory");
    return SAML_OK;
}

static saml_status saml_read_attribute(xmlNodePtr node, saml_attribute *attribute,
                                       char *detail, size_t detail_size)
{
    saml_status status =
        saml_attr_dup(node, "Name", &attribute->name, detail, detail_size);

    if (status != SAML_OK)
        return status;
    if (attribute->name == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML, "an Attribute has no Name");

    for (xmlNodePtr child = node->children; child != NULL; child = child->next) {
        if (!xml_safe_is_element(child, SAML_NS_ASSERTION, "AttributeValue"))
            continue;
        status = saml_read_attribute_value(child, attribute, detail, detail_size);
        if (status != SAML_OK)
            return status;
    }
    return SAML_OK;
}

static saml_status saml_read_attributes(xmlNodePtr assertion, saml_assertion *a, char *detail,
                                        size_t detail_size)
{
    for (xmlNodePtr st = assertion->children; st != NULL; st = st->next) {
        if (!xml_safe_is_element(st, SAML_NS_ASSERTION, "AttributeStatement"))
            continue;
        for (xmlNodePtr node = st->children; node != NULL; node = node->next) {
            saml_attribute *grown;
            saml_status status;

            /* Skipping it would report its claim as absent from the credential, though
             * the issuer asserted it. */
            if (xml_safe_is_element(node, SAML_NS_ASSERTION, "EncryptedAttribute"))
                return saml_fail(detail, detail_size, SAML_ERR_CONTENT_UNSUPPORTED,
                                 "the AttributeStatement holds an EncryptedAttribute, which "
                                 "the node cannot decrypt; the issuer must send the "
                                 "Attribute unencrypted");
            if (!xml_safe_is_element(node, SAML_NS_ASSERTION, "Attribute"))
                continue;
            grown = realloc(a->attributes, (a->attribute_count + 1) * sizeof(*grown));
            if (grown == NULL)
                return saml_fail(detail, detail_size, SAML_ERR_INTERNAL, "out of memory");
            a->attributes = grown;
            memset(&grown[a->attribute_count], 0, sizeof(*grown));
            a->attribute_count++;

            status = saml_read_attribute(node, &grown[a->attribute_count - 1], detail,
                                         detail_size);
            if (status != SAML_OK)
                return status;
        }
    }
    return SAML_OK;
}

saml_status saml_assertion_read(xmlNodePtr assertion, saml_assertion **out, char *detail,
                                size_t detail_size)
{
    saml_assertion *a = calloc(1, sizeof(*a));
    saml_status status;

    *out = NULL;
    if (a == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_INTERNAL, "out of memory");

    status = saml_read_header(assertion, a, detail, detail_size);
    if (status == SAML_OK)
        status = saml_read_subject(assertion, a, detail, detail_size);
    if (status == SAML_OK)
        status = saml_read_conditions(assertion, a, detail, detail_size);
    if (status == SAML_OK)
        status = saml_read_assurance(assertion, a, detail, detail_size);
    if (status == SAML_OK)
        status = saml_read_attributes(assertion, a, detail, detail_size);
    /* Last, so that the readers above name the faults they know with their own codes. */
    if (status == SAML_OK)
        status = saml_check_assertion_form(assertion, detail, detail_size);
    if (status == SAML_OK)
        status = saml_check_assertion_uris(assertion, detail, detail_size);

    if (status != SAML_OK) {
        saml_assertion_free(&a);
        return status;
    }
    *out = a;
    return SAML_OK;
}

static void saml_free_strings(char **list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(list[i]);
    free(list);
}

void saml_assertion_free(saml_assertion **assertion)
{
    saml_assertion *a;

    if (assertion == NULL || *assertion == NULL)
        return;
    a = *assertion;

    free(a->id);
    free(a->issuer);
    free(a->name_id);
    free(a->name_id_format);
    free(a->name_qualifier);
    free(a->sp_name_qualifier);
    free(a->sp_provided_id);
    free(a->assurance);
    saml_free_strings(a->authenticating_authorities, a->authenticating_authority_count);
    saml_free_strings(a->audiences, a->audience_count);
    saml_free_strings(a->proxy.audiences, a->proxy.audience_count);
    for (size_t i = 0; i < a->attribute_count; i++) {
        free(a->attributes[i].name);
        saml_free_strings(a->attributes[i].values, a->attributes[i].value_count);
    }
    free(a->attributes);
    free(a);
    *assertion = NULL;
}

#define SAML_NAMEID_PERSISTENT "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
#define SAML_NAMEID_TRANSIENT "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"

const char *saml_name_qualifier_for_copy(const saml_assertion *assertion,
                                         const char *new_issuer)
{
    const char *format = assertion->name_id_format;

    if (assertion->name_qualifier != NULL && assertion->name_qualifier[0] != '\0')
        return assertion->name_qualifier;
    if (format == NULL ||
        (strcmp(format, SAML_NAMEID_PERSISTENT) != 0 &&
         strcmp(format, SAML_NAMEID_TRANSIENT) != 0) ||
        strcmp(assertion->issuer, new_issuer) == 0)
        return NULL;
    return assertion->issuer;
}

const char *saml_authenticating_issuer_for_copy(const saml_assertion *assertion,
                                                const char *new_issuer)
{
    if (!assertion->has_authn_statement || strcmp(assertion->issuer, new_issuer) == 0)
        return NULL;
    return assertion->issuer;
}

static json_t *saml_time_json(time_t value, bool present)
{
    struct tm tm;
    char text[32];

    if (!present || gmtime_r(&value, &tm) == NULL)
        return json_null();
    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(text);
}

static json_t *saml_string_json(const char *value)
{
    return value != NULL ? json_string(value) : json_null();
}

static json_t *saml_attributes_json(const saml_assertion *a)
{
    json_t *attributes = json_object();

    for (size_t i = 0; attributes != NULL && i < a->attribute_count; i++) {
        const saml_attribute *attribute = &a->attributes[i];
        json_t *values = json_object_get(attributes, attribute->name);

        /* Attributes that share a Name are merged into one list of values. */
        if (values == NULL) {
            values = json_array();
            json_object_set_new(attributes, attribute->name, values);
        }
        for (size_t j = 0; j < attribute->value_count; j++)
            json_array_append_new(values, json_string(attribute->values[j]));
    }
    return attributes;
}

static json_t *saml_strings_json(char *const *list, size_t count)
{
    json_t *array = json_array();

    for (size_t i = 0; array != NULL && i < count; i++)
        json_array_append_new(array, json_string(list[i]));
    return array;
}

/* The ProxyRestriction as {"count": N or null, "audiences": [...]}, or null without one. */
static json_t *saml_proxy_json(const saml_proxy_restriction *proxy)
{
    if (!proxy->present)
        return json_null();
    return json_pack("{s:o, s:o}", "count",
                     proxy->count >= 0 ? json_integer(proxy->count) : json_null(),
                     "audiences", saml_strings_json(proxy->audiences, proxy->audience_count));
}

json_t *saml_assertion_to_json(const saml_assertion *assertion)
{
    json_t *audiences = saml_strings_json(assertion->audiences, assertion->audience_count);

    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
                     "s:o, s:b, s:o}",
                     "issuer", saml_string_json(assertion->issuer),
                     "assertion_id", saml_string_json(assertion->id),
                     "name_id", saml_string_json(assertion->name_id),
                     "name_id_format", saml_string_json(assertion->name_id_format),
                     "name_qualifier", saml_string_json(assertion->name_qualifier),
                     "sp_name_qualifier", saml_string_json(assertion->sp_name_qualifier),
                     "sp_provided_id", saml_string_json(assertion->sp_provided_id),
                     "issue_instant", saml_time_json(assertion->issue_instant, true),
                     "not_before",
                     saml_time_json(assertion->not_before, assertion->has_not_before),
                     "not_on_or_after", saml_time_json(assertion->not_on_or_after, true),
                     "audiences", audiences,
                     "assurance", saml_string_json(assertion->assurance),
                     "attributes", saml_attributes_json(assertion),
                     "authenticating_authorities",
                     saml_strings_json(assertion->authenticating_authorities,
                                       assertion->authenticating_authority_count),
                     "one_time_use", assertion->one_time_use,
                     "proxy_restriction", saml_proxy_json(&assertion->proxy));
}
