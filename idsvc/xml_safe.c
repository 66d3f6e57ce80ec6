#include "xml_safe.h"
#include "xml_safe_scan.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/valid.h>

static pthread_once_t xml_safe_once = PTHREAD_ONCE_INIT;

/* Per-parse state, reached from SAX callbacks through the parser context's _private. */
typedef struct xml_safe_parse_state {
    bool doctype_seen;
    bool decoding_failed; /* libxml2's decoder met bytes invalid in the document's encoding */
    bool no_memory;       /* libxml2 ran out of memory */
    bool namespace_other; /* a namespace error other than a name that is not a URI */
    char namespace_uri[160]; /* libxml2's first "is not a valid URI" message, or "" */
    int namespace_uri_line;
    /* The first fixed limit of libxml2 that the document reached, as a sentence, or "". */
    char limit[160];
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

/* Writes "LEAD (line N: MESSAGE)" with the parser's last error into detail. libxml2
 * messages end with a newline, which is left out. */
static void name_parse_error(xmlParserCtxtPtr ctxt, const char *lead, char *detail,
                             size_t detail_size)
{
    const xmlError *error = xmlCtxtGetLastError(ctxt);
    const char *message = error != NULL && error->message != NULL ? error->message
                                                                   : "no message";

    snprintf(detail, detail_size, "%s (line %d: %.*s)", lead, error != NULL ? error->line : 0,
             (int)strcspn(message, "\n"), message);
}

/* Records a namespace error. libxml2 2.9.14 raises XML_WAR_NS_URI, at the level of an
 * error, for a namespace name that its RFC 3986 parser rejects, such as one with a
 * space. The first such message is kept to quote. Relative names come as warnings and
 * are left to the caller. */
static void xml_safe_note_namespace_error(xml_safe_parse_state *state, const xmlError *error)
{
    const char *message = error->message != NULL ? error->message : "no message";

    if (error->code != XML_WAR_NS_URI) {
        state->namespace_other = state->namespace_other || error->level >= XML_ERR_ERROR;
        return;
    }
    if (state->namespace_uri[0] != '\0')
        return;
    snprintf(state->namespace_uri, sizeof(state->namespace_uri), "%.*s",
             (int)strcspn(message, "\n"), message);
    state->namespace_uri_line = error->line;
}

/* Records the first error of the parse that comes from a fixed limit of libxml2 2.9.14
 * without XML_PARSE_HUGE, which the verifier never sets: 256 levels of nested elements
 * and 50,000 characters in a name. libxml2's own message names that option, and the
 * errors that follow a name cut short read as a document that is not well-formed. */
static void xml_safe_note_limit(xml_safe_parse_state *state, const xmlError *error)
{
    static const char depth_message[] = "Excessive depth in document";

    if (state->limit[0] != '\0' || error->domain != XML_FROM_PARSER)
        return;
    if (error->code == XML_ERR_NAME_TOO_LONG)
        snprintf(state->limit, sizeof(state->limit), "the document has a name longer than "
                 "%d characters, the maximum that the XML parser reads (line %d)",
                 XML_MAX_NAME_LENGTH, error->line);
    else if (error->code == XML_ERR_INTERNAL_ERROR && error->message != NULL &&
             strncmp(error->message, depth_message, sizeof(depth_message) - 1) == 0)
        snprintf(state->limit, sizeof(state->limit), "the document nests elements deeper "
                 "than %u levels, the maximum that the XML parser reads (line %d)",
                 xmlParserMaxDepth, error->line);
}

/*
 * Receives every error libxml2 raises during the parse. libxml2 2.9.14 reports a failed
 * conversion from the declared encoding, and the I/O error that follows it, without the
 * parser context, so XML_PARSE_NOERROR does not silence them and they would go to
 * standard error. A byte it cannot convert after the root element does not fail the
 * parse either, so the failure is recorded here to reject the document.
 */
static void xml_safe_on_error(void *user, xmlErrorPtr error)
{
    xml_safe_parse_state *state = user;

    if (error != NULL && error->code == XML_ERR_NO_MEMORY)
        state->no_memory = true;
    else if (error != NULL &&
             (error->domain == XML_FROM_I18N || error->domain == XML_FROM_IO))
        state->decoding_failed = true;
    else if (error != NULL && error->domain == XML_FROM_NAMESPACE)
        xml_safe_note_namespace_error(state, error);
    else if (error != NULL)
        xml_safe_note_limit(state, error);
}

/* Parses with xml_safe_on_error as this thread's structured error handler, and puts the
 * caller's handler back afterwards. */
static xmlDocPtr xml_safe_read(xmlParserCtxtPtr ctxt, const char *xml, size_t len,
                               int options, xml_safe_parse_state *state)
{
    xmlStructuredErrorFunc saved_handler = xmlStructuredError;
    void *saved_context = xmlStructuredErrorContext;
    xmlDocPtr doc;

    xmlSetStructuredErrorFunc(state, xml_safe_on_error);
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL, options);
    xmlSetStructuredErrorFunc(saved_context, saved_handler);
    return doc;
}

/* Creates a parser context with xml_safe_on_error as this thread's structured error
 * handler, so that a failed allocation is not reported on standard error. */
static xmlParserCtxtPtr xml_safe_new_context(xml_safe_parse_state *state)
{
    xmlStructuredErrorFunc saved_handler = xmlStructuredError;
    void *saved_context = xmlStructuredErrorContext;
    xmlParserCtxtPtr ctxt;

    xmlSetStructuredErrorFunc(state, xml_safe_on_error);
    ctxt = xmlNewParserCtxt();
    xmlSetStructuredErrorFunc(saved_context, saved_handler);
    return ctxt;
}

/* Names the namespace fault of a parse that cleared nsWellFormed. A namespace name that
 * is not a URI reference, when it is the only fault, gets its own status, so that a
 * caller can name it as it names a relative one. Anything else is malformed. */
static xml_safe_status xml_safe_namespace_fault(xmlParserCtxtPtr ctxt,
                                                const xml_safe_parse_state *state,
                                                char *detail, size_t detail_size)
{
    if (state->namespace_uri[0] == '\0' || state->namespace_other) {
        name_parse_error(ctxt, "the document breaks the rules of XML namespaces", detail,
                         detail_size);
        return XML_SAFE_MALFORMED;
    }
    snprintf(detail, detail_size,
             "a namespace name is not a URI reference, so the document cannot be "
             "canonicalised (line %d: %s)",
             state->namespace_uri_line, state->namespace_uri);
    return XML_SAFE_NAMESPACE_URI;
}

xml_safe_status xml_safe_parse(const char *xml, size_t len, size_t max_bytes,
                               xmlDocPtr *doc_out, char *detail, size_t detail_size)
{
    const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
    xml_safe_parse_state state = {
        .doctype_seen = false, .decoding_failed = false, .no_memory = false};
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
    /* The scan also rejects a DOCTYPE before libxml2 reads it, and the SAX hook checks
     * again. */
    status = xml_safe_scan_raw(xml, len, detail, detail_size);
    if (status != XML_SAFE_OK)
        return status;

    ctxt = xml_safe_new_context(&state);
    if (ctxt == NULL) {
        snprintf(detail, detail_size, "out of memory creating the XML parser");
        return XML_SAFE_NO_MEMORY;
    }
    ctxt->_private = &state;
    ctxt->sax->internalSubset = xml_safe_on_doctype;

    doc = xml_safe_read(ctxt, xml, len, options, &state);

    /* Checked first: a stopped parse also looks malformed. */
    if (state.doctype_seen || (doc != NULL && (doc->intSubset != NULL || doc->extSubset != NULL))) {
        snprintf(detail, detail_size, "the document contains a DOCTYPE declaration");
        status = XML_SAFE_DOCTYPE;
        goto out;
    }
    /* A failed allocation stops the parse as an error in the document would, and can
     * break the decoder's buffers too, so it is named first. */
    if (state.no_memory) {
        snprintf(detail, detail_size, "out of memory parsing the document");
        status = XML_SAFE_NO_MEMORY;
        goto out;
    }
    /* Before the parse errors, which name only the place where decoding stopped. libxml2's
     * message is not quoted, because it shows bytes from beyond the end of the input. */
    if (state.decoding_failed) {
        snprintf(detail, detail_size, "the document contains bytes that are invalid in the "
                 "encoding its XML declaration names, so the XML parser cannot decode them");
        status = XML_SAFE_MALFORMED;
        goto out;
    }
    if (state.limit[0] != '\0') {
        snprintf(detail, detail_size, "%s", state.limit);
        status = XML_SAFE_MALFORMED;
        goto out;
    }
    if (doc == NULL || !ctxt->wellFormed || xmlDocGetRootElement(doc) == NULL) {
        name_parse_error(ctxt, "the document is not well-formed XML", detail, detail_size);
        status = XML_SAFE_MALFORMED;
        goto out;
    }

    /* libxml2 goes on after a namespace error, such as a prefix that no xmlns binds or
     * one attribute twice under two prefixes of one namespace, and only clears
     * nsWellFormed. Such a document is not namespace-well-formed (Namespaces in XML 1.0,
     * section 7), and the verifier would read names that no namespace backs. */
    if (!ctxt->nsWellFormed) {
        status = xml_safe_namespace_fault(ctxt, &state, detail, detail_size);
        goto out;
    }

    /* libxml2 2.9.14 reads any version "1.x" as XML 1.0, with only a warning. An XML 1.1
     * reader would turn U+0085 and U+2028 into line feeds and allow C0 controls as
     * character references, so its text differs from libxml2's. Canonical XML, which
     * exclusive c14n builds on, is not defined for XML 1.1 (Canonical XML 1.1, W3C
     * Recommendation of 2 May 2008, abstract). */
    if (doc->version != NULL && strcmp((const char *)doc->version, "1.0") != 0) {
        snprintf(detail, detail_size, "the XML declaration names version \"%.16s\", but the "
                 "node reads only XML 1.0; declare version \"1.0\"",
                 (const char *)doc->version);
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
    return xml_safe_next_element_after(node, root);
}

xmlNodePtr xml_safe_next_element_after(xmlNodePtr node, xmlNodePtr root)
{
    xmlNodePtr next;

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
    /* Most calls test a name that differs in its first character, and this test saves
     * them the calls to strcmp. */
    if (node->name[0] != (xmlChar)name[0])
        return 0;
    return strcmp((const char *)node->name, name) == 0 &&
           strcmp((const char *)node->ns->href, ns_href) == 0;
}

/* Returns whether c may follow the first character of a Name in XML 1.0, fifth edition
 * (productions [4] and [4a]), the colon excepted, as in an NCName. */
static bool xml_safe_is_ncname_char(int c)
{
    static const struct {
        int first;
        int last;
    } ranges[] = {
        {'-', '.'},       {'0', '9'},       {'A', 'Z'},         {'_', '_'},
        {'a', 'z'},       {0xB7, 0xB7},     {0xC0, 0xD6},       {0xD8, 0xF6},
        {0xF8, 0x37D},    {0x37F, 0x1FFF},  {0x200C, 0x200D},   {0x203F, 0x2040},
        {0x2070, 0x218F}, {0x2C00, 0x2FEF}, {0x3001, 0xD7FF},   {0xF900, 0xFDCF},
        {0xFDF0, 0xFFFD}, {0x10000, 0xEFFFF},
    };

    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        if (c >= ranges[i].first && c <= ranges[i].last)
            return true;
    }
    return false;
}

/* Returns whether c may start a Name in XML 1.0, fifth edition (production [4]), the
 * colon excepted. */
static bool xml_safe_is_ncname_start(int c)
{
    bool follow_only = c == '-' || c == '.' || (c >= '0' && c <= '9') || c == 0xB7 ||
                       (c >= 0x300 && c <= 0x36F) || c == 0x203F || c == 0x2040;

    return !follow_only && xml_safe_is_ncname_char(c);
}

/* Decodes the UTF-8 character at at, of at most left bytes, and sets *len to its length.
 * Returns -1 for bytes that are not UTF-8. */
static int xml_safe_utf8_char(const unsigned char *at, size_t left, int *len)
{
    /* IDs and prefixes are mostly ASCII, which needs no decoding. */
    if (at[0] < 0x80) {
        *len = 1;
        return at[0];
    }
    *len = left > 4 ? 4 : (int)left;
    return xmlGetUTF8Char(at, len);
}

bool xml_safe_is_ncname(const char *text, bool any_first)
{
    const unsigned char *at = (const unsigned char *)text;
    size_t left = strlen(text);

    if (left == 0)
        return false;
    while (left > 0) {
        int len;
        int c = xml_safe_utf8_char(at, left, &len);

        if (c < 0 || !xml_safe_is_ncname_char(c))
            return false;
        if (at == (const unsigned char *)text && !any_first && !xml_safe_is_ncname_start(c))
            return false;
        at += len;
        left -= (size_t)len;
    }
    return true;
}

/* Returns the value of attr as the parser stores it, in one text node, or NULL when it
 * is stored otherwise and must be joined. */
static const xmlChar *xml_safe_attr_text(const xmlAttr *attr)
{
    const xmlNode *text = attr->children;

    if (text == NULL || text->type != XML_TEXT_NODE || text->next != NULL)
        return NULL;
    return text->content;
}

static xml_safe_status xml_safe_register_attr(xmlDocPtr doc, xmlAttrPtr attr, char *detail,
                                              size_t detail_size)
{
    xml_safe_status status = XML_SAFE_OK;
    const xmlChar *stored = xml_safe_attr_text(attr);
    xmlChar *joined = NULL;
    const xmlChar *value = stored;

    /* An attribute without children has the empty value; with children, NULL means that
     * memory ran out. */
    if (stored == NULL) {
        joined = attr->children != NULL ? xmlNodeListGetString(doc, attr->children, 1)
                                        : xmlStrdup((const xmlChar *)"");
        value = joined;
    }
    if (value == NULL) {
        snprintf(detail, detail_size,
                 "out of memory reading the %.40s attribute of <%.60s>",
                 (const char *)attr->name, (const char *)attr->parent->name);
        return XML_SAFE_NO_MEMORY;
    }

    /* xmlAddID of libxml2 2.9.14 returns NULL for an empty value, as for a failed
     * allocation, and an ID must be an NCName, which is never empty. xmlAddID would
     * also print an error for a duplicate, so look first. */
    if (value[0] == '\0') {
        snprintf(detail, detail_size, "the %.40s attribute of <%.60s> is empty, but an ID "
                 "needs a value", (const char *)attr->name, (const char *)attr->parent->name);
        status = XML_SAFE_INVALID_ID;
    } else if (!xml_safe_is_ncname((const char *)value, true)) {
        /* xmlsec 1.2.37 resolves a Reference "#value" by evaluating the XPointer
         * "id('value')", so a quote would change that expression, and XPath's id()
         * splits its argument at white space into several IDs. xs:ID is an NCName, but
         * IdPs that write a UUID as the ID start it with a digit, so any first character
         * that an NCName allows later is accepted. */
        snprintf(detail, detail_size, "the %.40s attribute of <%.60s> is \"%.80s\", which "
                 "contains a character that an XML ID cannot contain, such as a quote, white "
                 "space or a colon", (const char *)attr->name,
                 (const char *)attr->parent->name, (const char *)value);
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
    xmlFree(joined);
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
