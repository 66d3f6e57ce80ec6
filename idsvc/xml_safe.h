/*
 * Safe parsing of XML that comes from outside the node.
 *
 * Every reader of untrusted XML in idsvc goes through xml_safe_parse: the input size is
 * capped, any DOCTYPE is rejected before the parser reaches an entity declaration,
 * external entities and network access are off, and the parser options never include
 * NOENT, DTDLOAD, DTDATTR, HUGE or XINCLUDE.
 */
#ifndef IDSVC_XML_SAFE_H
#define IDSVC_XML_SAFE_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

typedef enum xml_safe_status {
    XML_SAFE_OK = 0,
    XML_SAFE_TOO_LARGE,
    XML_SAFE_DOCTYPE,
    XML_SAFE_MALFORMED,
    XML_SAFE_DUPLICATE_ID,
    XML_SAFE_NO_MEMORY,
    XML_SAFE_TOO_COMPLEX, /* a start tag has more than XML_SAFE_MAX_TAG_ATTRIBUTES */
    XML_SAFE_INVALID_ID,  /* an ID attribute is empty or has a character no NCName has */
    XML_SAFE_NAMESPACE_URI, /* namespace names that are not URIs, and no other fault */
} xml_safe_status;

/* The maximum number of attributes, namespace declarations included, of one start tag.
 * libxml2 2.9.14 compares each attribute of a start tag with every earlier one, so a tag
 * of 21,000 attributes took 0.34 s in `xmllint --noout`. */
#define XML_SAFE_MAX_TAG_ATTRIBUTES 128

/*
 * Initialises libxml2 and installs an external-entity loader that rejects every
 * request. Safe to call from any thread and any number of times.
 */
void xml_safe_init(void);

/*
 * Parses len bytes into *doc_out, which the caller frees with xmlFreeDoc. Inputs over
 * max_bytes, inputs with a start tag of more than XML_SAFE_MAX_TAG_ATTRIBUTES
 * attributes, and inputs with a NUL character or broken UTF-16 are rejected without
 * parsing. Bytes that the declared encoding cannot decode reject the input as
 * XML_SAFE_MALFORMED even where libxml2 skips them, and so does a document that breaks the
 * rules of XML namespaces, unless its only such fault is a namespace name that is not a
 * URI reference, which is XML_SAFE_NAMESPACE_URI. libxml2 reports nothing on standard
 * error. On failure *doc_out is NULL and detail contains a sentence naming what
 * failed.
 */
xml_safe_status xml_safe_parse(const char *xml, size_t len, size_t max_bytes,
                               xmlDocPtr *doc_out, char *detail, size_t detail_size);

/*
 * Registers every attribute named attr_name (without a namespace) as an XML ID, on any
 * element of the document. A value that is already registered, by this call or by
 * libxml2 for an xml:id attribute, is rejected as XML_SAFE_DUPLICATE_ID, unlike
 * xmlSecAddIDs, which keeps the first silently. A value that is empty or contains a
 * character that no NCName contains, such as a quote, white space or a colon, is rejected
 * as XML_SAFE_INVALID_ID. A first character that only an NCName's later characters may
 * be, such as a digit, is accepted.
 */
xml_safe_status xml_safe_register_ids(xmlDocPtr doc, const char *attr_name, char *detail,
                                      size_t detail_size);

/* Returns the next element after node in document order, or NULL at the end of root's
 * subtree. */
xmlNodePtr xml_safe_next_element(xmlNodePtr node, xmlNodePtr root);

/* Returns the next element after node's subtree in document order, or NULL at the end
 * of root's subtree. */
xmlNodePtr xml_safe_next_element_after(xmlNodePtr node, xmlNodePtr root);

/* Returns whether text is an NCName by the Name productions of XML 1.0, fifth edition,
 * which libxml2 2.9.14 applies to element and attribute names: a Name without a colon.
 * With any_first, the first character may also be one that a Name allows only later,
 * such as a digit. xmlValidateNCName applies the older rules of the fourth edition. */
bool xml_safe_is_ncname(const char *text, bool any_first);

/* Returns true when node is an element with this local name and namespace URI. */
int xml_safe_is_element(const xmlNode *node, const char *ns_href, const char *name);

/*
 * Returns the text of an element as one malloc'd string: every text and CDATA child
 * concatenated, comments and processing instructions skipped. Returns NULL when the
 * element has a child element or on allocation failure, so that a value can never be
 * read from only part of its content.
 */
char *xml_safe_text(const xmlNode *element);

/* Like xml_safe_text, with leading and trailing XML white space removed, as documents
 * that were indented carry it around values. */
char *xml_safe_text_trimmed(const xmlNode *element);

#endif
