#include "xml_safe.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/valid.h>

static pthread_once_t xml_safe_once = PTHREAD_ONCE_INIT;

/* Per-parse state, reached from SAX callbacks through the parser context's _private. */
typedef struct xml_safe_parse_state {
    bool doctype_seen;
} xml_safe_parse_state;

static xmlParserInputPtr xml_safe_deny_entity(const char *url, const char *id,
                                              xmlParserCtxtPtr ctxt)
{
    (void)url;
    (void)id;
    (void)ctxt;
    return NULL;
}

static void xml_safe_init_once(void)
{
    xmlInitParser();
    xmlSetExternalEntityLoader(xml_safe_deny_entity);
}

void xml_safe_init(void)
{
    pthread_once(&xml_safe_once, xml_safe_init_once);
}

/* libxml2 reports "<!DOCTYPE name ...>" here, before it reads the internal subset, so
 * stopping now means no entity or element declaration is ever parsed. */
static void xml_safe_on_doctype(void *user, const xmlChar *name, const xmlChar *external_id,
                                const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = user;
    xml_safe_parse_state *state = ctxt->_private;

    (void)name;
    (void)external_id;
    (void)system_id;
    state->doctype_seen = true;
    xmlStopParser(ctxt);
}

/* Finds "<!DOCTYPE" in the raw bytes; the SAX hook above catches other encodings. */
static bool xml_safe_has_doctype_bytes(const char *xml, size_t len)
{
    static const char marker[] = "<!DOCTYPE";
    const size_t marker_len = sizeof(marker) - 1;

    for (size_t i = 0; i + marker_len <= len; i++) {
        if (xml[i] == '<' && memcmp(xml + i, marker, marker_len) == 0)
            return true;
    }
    return false;
}

/* The raw bytes as a sequence of code units: one byte in UTF-8 and the other encodings
 * that keep ASCII as is, two in UTF-16. Markup characters are ASCII in all of them. */
typedef struct xml_safe_units {
    const unsigned char *bytes;
    size_t count;
    size_t width;
    bool big_endian;
} xml_safe_units;

static unsigned xml_safe_unit(const xml_safe_units *units, size_t i)
{
    const unsigned char *at = units->bytes + i * units->width;

    if (units->width == 1)
        return at[0];
    return units->big_endian ? (unsigned)at[0] << 8 | at[1] : (unsigned)at[1] << 8 | at[0];
}

/* Detects the encoding family from the first bytes, as XML 1.0 Appendix F does. Returns
 * false for UCS-4 and EBCDIC, which the scan cannot read. */
static bool xml_safe_units_init(xml_safe_units *units, const char *xml, size_t len)
{
    const unsigned char *b = (const unsigned char *)xml;
    bool utf16_be = len >= 2 && ((b[0] == 0xFE && b[1] == 0xFF) || (b[0] == 0 && b[1] != 0));
    bool utf16_le = len >= 2 && ((b[0] == 0xFF && b[1] == 0xFE) || (b[0] != 0 && b[1] == 0));

    if (len >= 4 && ((b[0] == 0 && b[1] == 0) || (b[2] == 0 && b[3] == 0) ||
                     (b[0] == 0x4C && b[1] == 0x6F && b[2] == 0xA7 && b[3] == 0x94)))
        return false;
    units->bytes = b;
    units->width = utf16_be || utf16_le ? 2 : 1;
    units->big_endian = utf16_be;
    units->count = len / units->width;
    return true;
}

/* Returns the index just past the first occurrence of the ASCII text end at or after i,
 * or units->count when there is none. */
static size_t xml_safe_skip_past(const xml_safe_units *units, size_t i, const char *end)
{
    size_t end_len = strlen(end);

    for (; i + end_len <= units->count; i++) {
        size_t k = 0;

        while (k < end_len && xml_safe_unit(units, i + k) == (unsigned char)end[k])
            k++;
        if (k == end_len)
            return i + end_len;
    }
    return units->count;
}

static bool xml_safe_starts_with(const xml_safe_units *units, size_t i, const char *text)
{
    for (size_t k = 0; text[k] != '\0'; k++)
        if (i + k >= units->count || xml_safe_unit(units, i + k) != (unsigned char)text[k])
            return false;
    return true;
}

/* Reads the start tag that opens at i and counts its '=' signs outside quoted values,
 * an upper bound of its attributes. Returns the index past the tag. */
static size_t xml_safe_scan_tag(const xml_safe_units *units, size_t i, size_t *attributes)
{
    unsigned quote = 0;

    *attributes = 0;
    for (; i < units->count; i++) {
        unsigned c = xml_safe_unit(units, i);

        if (quote != 0) {
            quote = c == quote ? 0 : quote;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '=') {
            (*attributes)++;
        } else if (c == '>') {
            return i + 1;
        }
    }
    return units->count;
}

/* Whether an encoding name keeps the markup characters as the scan reads them: UTF-8,
 * UTF-16 and UCS-2, and the single-byte sets that keep ASCII as it is. A stateful or
 * escaping encoding such as UTF-7 writes '<' as other bytes, so the scan would miss
 * every tag. */
static bool xml_safe_encoding_known(const char *name)
{
    static const char *const exact[] = {"UTF-8",  "UTF8",     "UTF-16",   "UTF-16LE",
                                        "UTF-16BE", "UCS-2",  "ISO-10646-UCS-2",
                                        "US-ASCII", "ASCII"};
    static const char *const prefixes[] = {"ISO-8859-", "WINDOWS-125"};

    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (strcasecmp(name, exact[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t prefix_len = strlen(prefixes[i]);
        const char *number = name + prefix_len;

        if (strncasecmp(name, prefixes[i], prefix_len) == 0 && number[0] != '\0' &&
            strspn(number, "0123456789") == strlen(number))
            return true;
    }
    return false;
}

/* Reads the encoding that the XML declaration at the start names into out, or leaves
 * out empty when there is no declaration or it names none. */
static void xml_safe_declared_encoding(const xml_safe_units *units, char *out, size_t size)
{
    size_t i = 0;
    size_t end;
    size_t len = 0;

    out[0] = '\0';
    if (units->count > 0 && xml_safe_unit(units, 0) == 0xFEFF)
        i = 1; /* the UTF-16 byte order mark */
    else if (xml_safe_starts_with(units, 0, "\xEF\xBB\xBF"))
        i = 3; /* the UTF-8 one */
    if (!xml_safe_starts_with(units, i, "<?xml "))
        return;
    end = xml_safe_skip_past(units, i, "?>");
    for (i += 6; i + 8 < end && !xml_safe_starts_with(units, i, "encoding"); i++)
        ;
    for (i += 8; i < end && strchr(" \t\r\n=", (int)xml_safe_unit(units, i)) != NULL; i++)
        ;
    if (i >= end || (xml_safe_unit(units, i) != '"' && xml_safe_unit(units, i) != '\''))
        return;
    for (i++; i < end && len + 1 < size; i++) {
        unsigned c = xml_safe_unit(units, i);

        if (c == '"' || c == '\'' || c > 0x7e)
            break;
        out[len++] = (char)c;
    }
    out[len] = '\0';
}

/*
 * Finds a start tag with more than XML_SAFE_MAX_TAG_ATTRIBUTES attributes in the raw
 * bytes, skipping comments, CDATA sections, processing instructions and end tags. The
 * scan is lenient: malformed markup is left for the parser to reject.
 */
static xml_safe_status xml_safe_scan_attributes(const char *xml, size_t len, char *detail,
                                                size_t detail_size)
{
    xml_safe_units units;
    size_t i = 0;

    char encoding[48];

    if (!xml_safe_units_init(&units, xml, len)) {
        snprintf(detail, detail_size, "the document is in UCS-4 or EBCDIC; send UTF-8 or "
                                      "UTF-16");
        return XML_SAFE_MALFORMED;
    }
    xml_safe_declared_encoding(&units, encoding, sizeof(encoding));
    if (encoding[0] != '\0' && !xml_safe_encoding_known(encoding)) {
        snprintf(detail, detail_size, "the XML declaration names the encoding \"%s\", which "
                 "the node does not read; send UTF-8 or UTF-16", encoding);
        return XML_SAFE_MALFORMED;
    }
    while (i < units.count) {
        size_t attributes = 0;

        if (xml_safe_unit(&units, i) != '<')
            i++;
        else if (xml_safe_starts_with(&units, i, "<!--"))
            i = xml_safe_skip_past(&units, i + 4, "-->");
        else if (xml_safe_starts_with(&units, i, "<![CDATA["))
            i = xml_safe_skip_past(&units, i + 9, "]]>");
        else if (xml_safe_starts_with(&units, i, "<?"))
            i = xml_safe_skip_past(&units, i + 2, "?>");
        else if (xml_safe_starts_with(&units, i, "</") || xml_safe_starts_with(&units, i, "<!"))
            i = xml_safe_skip_past(&units, i + 2, ">");
        else
            i = xml_safe_scan_tag(&units, i + 1, &attributes);

        if (attributes > XML_SAFE_MAX_TAG_ATTRIBUTES) {
            snprintf(detail, detail_size,
                     "a start tag has more than %d attributes and namespace declarations",
                     XML_SAFE_MAX_TAG_ATTRIBUTES);
            return XML_SAFE_TOO_COMPLEX;
        }
    }
    return XML_SAFE_OK;
}

xml_safe_status xml_safe_parse(const char *xml, size_t len, size_t max_bytes,
                               xmlDocPtr *doc_out, char *detail, size_t detail_size)
{
    const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
    xml_safe_parse_state state = { .doctype_seen = false };
    xml_safe_status status = XML_SAFE_MALFORMED;
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr doc = NULL;

    *doc_out = NULL;
    xml_safe_init();

    if (len > max_bytes || len > INT_MAX) {
        snprintf(detail, detail_size, "the document has %zu bytes, more than the limit of %zu",
                 len, max_bytes);
        return XML_SAFE_TOO_LARGE;
    }
    if (xml_safe_has_doctype_bytes(xml, len)) {
        snprintf(detail, detail_size, "the document contains a DOCTYPE declaration");
        return XML_SAFE_DOCTYPE;
    }
    status = xml_safe_scan_attributes(xml, len, detail, detail_size);
    if (status != XML_SAFE_OK)
        return status;

    ctxt = xmlNewParserCtxt();
    if (ctxt == NULL) {
        snprintf(detail, detail_size, "out of memory creating the XML parser");
        return XML_SAFE_NO_MEMORY;
    }
    ctxt->_private = &state;
    ctxt->sax->internalSubset = xml_safe_on_doctype;

    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL, options);

    /* Checked first: a stopped parse also looks malformed. */
    if (state.doctype_seen || (doc != NULL && (doc->intSubset != NULL || doc->extSubset != NULL))) {
        snprintf(detail, detail_size, "the document contains a DOCTYPE declaration");
        status = XML_SAFE_DOCTYPE;
        goto out;
    }
    if (doc == NULL || !ctxt->wellFormed || xmlDocGetRootElement(doc) == NULL) {
        const xmlError *error = xmlCtxtGetLastError(ctxt);

        snprintf(detail, detail_size, "the document is not well-formed XML (line %d: %s)",
                 error != NULL ? error->line : 0,
                 error != NULL && error->message != NULL ? error->message : "no message\n");
        /* libxml2 messages end with a newline. */
        detail[strcspn(detail, "\n")] = '\0';
        status = XML_SAFE_MALFORMED;
        goto out;
    }

    *doc_out = doc; /* ownership passes to the caller */
    doc = NULL;
    status = XML_SAFE_OK;

out:
    xmlFreeDoc(doc);
    ctxt->_private = NULL;
    xmlFreeParserCtxt(ctxt);
    return status;
}

xmlNodePtr xml_safe_next_element(xmlNodePtr node, xmlNodePtr root)
{
    xmlNodePtr next = node->children;

    while (next != NULL && next->type != XML_ELEMENT_NODE)
        next = next->next;
    if (next != NULL)
        return next;

    while (node != NULL && node != root) {
        for (next = node->next; next != NULL; next = next->next) {
            if (next->type == XML_ELEMENT_NODE)
                return next;
        }
        node = node->parent;
    }
    return NULL;
}

int xml_safe_is_element(const xmlNode *node, const char *ns_href, const char *name)
{
    if (node == NULL || node->type != XML_ELEMENT_NODE || node->ns == NULL)
        return 0;
    return strcmp((const char *)node->name, name) == 0 &&
           strcmp((const char *)node->ns->href, ns_href) == 0;
}

static xml_safe_status xml_safe_register_attr(xmlDocPtr doc, xmlAttrPtr attr, char *detail,
                                              size_t detail_size)
{
    xml_safe_status status = XML_SAFE_OK;
    xmlChar *value = xmlNodeListGetString(doc, attr->children, 1);

    if (value == NULL)
        value = xmlStrdup((const xmlChar *)"");
    if (value == NULL)
        return XML_SAFE_NO_MEMORY;

    /* xmlAddID of libxml2 2.9.14 returns NULL for an empty value, as for a failed
     * allocation, and an ID must be an NCName, which is never empty. xmlAddID would
     * also print an error for a duplicate, so look first. */
    if (value[0] == '\0') {
        snprintf(detail, detail_size, "the %.40s attribute of <%.60s> is empty, but an ID "
                 "needs a value", (const char *)attr->name, (const char *)attr->parent->name);
        status = XML_SAFE_INVALID_ID;
    } else if (xmlGetID(doc, value) != NULL) {
        snprintf(detail, detail_size, "the ID \"%.80s\" appears on more than one element",
                 (const char *)value);
        status = XML_SAFE_DUPLICATE_ID;
    } else if (xmlAddID(NULL, doc, value, attr) == NULL) {
        snprintf(detail, detail_size, "out of memory registering the ID \"%.80s\"",
                 (const char *)value);
        status = XML_SAFE_NO_MEMORY;
    }
    xmlFree(value);
    return status;
}

xml_safe_status xml_safe_register_ids(xmlDocPtr doc, const char *attr_name, char *detail,
                                      size_t detail_size)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);

    for (xmlNodePtr node = root; node != NULL; node = xml_safe_next_element(node, root)) {
        for (xmlAttrPtr attr = node->properties; attr != NULL; attr = attr->next) {
            xml_safe_status status;

            if (attr->ns != NULL || strcmp((const char *)attr->name, attr_name) != 0)
                continue;
            status = xml_safe_register_attr(doc, attr, detail, detail_size);
            if (status != XML_SAFE_OK)
                return status;
        }
    }
    return XML_SAFE_OK;
}

char *xml_safe_text(const xmlNode *element)
{
    size_t len = 0;
    char *text = NULL;

    for (const xmlNode *child = element->children; child != NULL; child = child->next) {
        if (child->type == XML_ELEMENT_NODE || child->type == XML_ENTITY_REF_NODE)
            return NULL;
        if (child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE)
            len += child->content != NULL ? strlen((const char *)child->content) : 0;
    }

    text = malloc(len + 1);
    if (text == NULL)
        return NULL;
    text[0] = '\0';

    len = 0;
    for (const xmlNode *child = element->children; child != NULL; child = child->next) {
        size_t part;

        if (child->type != XML_TEXT_NODE && child->type != XML_CDATA_SECTION_NODE)
            continue;
        if (child->content == NULL)
            continue;
        part = strlen((const char *)child->content);
        memcpy(text + len, child->content, part + 1);
        len += part;
    }
    return text;
}

static bool xml_safe_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

char *xml_safe_text_trimmed(const xmlNode *element)
{
    char *text = xml_safe_text(element);
    size_t start = 0;
    size_t end;

    if (text == NULL)
        return NULL;
    end = strlen(text);
    while (start < end && xml_safe_is_space(text[start]))
        start++;
    while (end > start && xml_safe_is_space(text[end - 1]))
        end--;
    memmove(text, text + start, end - start);
    text[end - start] = '\0';
    return text;
}
