/* The scan of raw XML bytes that xml_safe_parse runs before libxml2 parses them; not part
 * of the public API. */
#ifndef IDSVC_XML_SAFE_SCAN_H
#define IDSVC_XML_SAFE_SCAN_H

#include <stddef.h>

#include "xml_safe.h"

/*
 * Checks the raw bytes before libxml2 parses them. XML_SAFE_MALFORMED rejects a UCS-4 or
 * EBCDIC document and a malformed XML declaration. It also rejects a declared encoding
 * that the scan cannot read, or whose code units differ from those the document starts
 * in, a NUL character, and in UTF-16 an odd number of bytes or a surrogate without its
 * pair. XML_SAFE_DOCTYPE rejects a DOCTYPE declaration, but not the text "<!DOCTYPE" in a
 * comment, CDATA section or processing instruction. XML_SAFE_TOO_COMPLEX rejects a start
 * tag with more than XML_SAFE_MAX_TAG_ATTRIBUTES attributes. Returns XML_SAFE_OK, or the
 * status with a sentence in detail.
 */
xml_safe_status xml_safe_scan_raw(const char *xml, size_t len, char *detail,
                                  size_t detail_size);

#endif
