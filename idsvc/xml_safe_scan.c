/*
 * The scan of the raw bytes before libxml2 parses them. It reads the document as libxml2
 * 2.9.14 will: in the code units detected at the start, and in those of the encoding
 * that the XML declaration names, which must be the same.
 */
#include "xml_safe_scan.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

/* Returns the index of the first unit c at or after i, or units->count when there is
 * none. One-byte units use memchr, because every verification scans its whole
 * document and most of it is text and quoted values. */
static size_t xml_safe_find_unit(const xml_safe_units *units, size_t i, unsigned c)
{
    if (units->width == 1) {
        const unsigned char *found =
            i < units->count ? memchr(units->bytes + i, (int)c, units->count - i) : NULL;

        return found != NULL ? (size_t)(found - units->bytes) : units->count;
    }
    while (i < units->count && xml_safe_unit(units, i) != c)
        i++;
    return i;
}

/* Returns the index just past the first occurrence of the ASCII text end at or after i,
 * or units->count when there is none. */
static size_t xml_safe_skip_past(const xml_safe_units *units, size_t i, const char *end)
{
    size_t end_len = strlen(end);

    for (; (i = xml_safe_find_unit(units, i, (unsigned char)end[0])) + end_len <= units->count;
         i++) {
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

/* Returns the index of the first unit at or after i that is '>' or below it, or
 * units->count. Names, most of a tag outside its quoted values, are above '>'. */
static size_t xml_safe_skip_above_gt(const xml_safe_units *units, size_t i)
{
    if (units->width == 1) {
        while (i < units->count && units->bytes[i] > '>')
            i++;
        return i;
    }
    while (i < units->count && xml_safe_unit(units, i) > '>')
        i++;
    return i;
}

/* Reads the start tag that opens at i and counts its '=' signs outside quoted values,
 * an upper bound of its attributes. Returns the index past the tag. */
static size_t xml_safe_scan_tag(const xml_safe_units *units, size_t i, size_t *attributes)
{
    *attributes = 0;
    for (i = xml_safe_skip_above_gt(units, i); i < units->count;
         i = xml_safe_skip_above_gt(units, i + 1)) {
        unsigned c = xml_safe_unit(units, i);

        if (c == '"' || c == '\'') {
            /* Skip to the closing quote, because a quoted value contains no markup. */
            i = xml_safe_find_unit(units, i + 1, c);
            if (i == units->count)
                break;
        } else if (c == '=') {
            (*attributes)++;
        } else if (c == '>') {
            return i + 1;
        }
    }
    return units->count;
}

static bool xml_safe_is_space(unsigned c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The byte order that an encoding name fixes for two-byte code units. */
typedef enum xml_safe_byte_order {
    XML_SAFE_ORDER_ANY,
    XML_SAFE_ORDER_LITTLE,
    XML_SAFE_ORDER_BIG,
} xml_safe_byte_order;

/* An encoding that an XML declaration may name, and the code units libxml2 then reads. */
typedef struct xml_safe_encoding {
    const char *name;
    size_t width; /* bytes per code unit */
    xml_safe_byte_order order;
} xml_safe_encoding;

/*
 * Finds an encoding name that keeps the markup characters as the scan reads them: UTF-8,
 * UTF-16 and UCS-2, and the single-byte sets that keep ASCII as it is: ISO-8859-N,
 * windows-125N, and the Thai sets TIS-620 and windows-874 by their IANA names. A
 * stateful or escaping encoding such as UTF-7 writes '<' as other bytes, so the scan
 * would miss every tag. Returns NULL for any other name.
 */
static const xml_safe_encoding *xml_safe_find_encoding(const char *name)
{
    /* libxml2 2.9.14 keeps the detected UTF-16 byte order for "UTF-16", but reads
     * "UTF-16LE" and "UTF-16BE" as named. It hands the UCS-2 names to iconv, which in
     * glibc 2.36 on x86-64 reads them little-endian. NOTE: other C libraries and
     * big-endian hosts were not checked. */
    static const xml_safe_encoding exact[] = {
        {"UTF-8", 1, XML_SAFE_ORDER_ANY},
        {"UTF8", 1, XML_SAFE_ORDER_ANY},
        {"US-ASCII", 1, XML_SAFE_ORDER_ANY},
        {"ASCII", 1, XML_SAFE_ORDER_ANY},
        {"UTF-16", 2, XML_SAFE_ORDER_ANY},
        {"UTF-16LE", 2, XML_SAFE_ORDER_LITTLE},
        {"UTF-16BE", 2, XML_SAFE_ORDER_BIG},
        {"UCS-2", 2, XML_SAFE_ORDER_LITTLE},
        {"ISO-10646-UCS-2", 2, XML_SAFE_ORDER_LITTLE},
        {"TIS-620", 1, XML_SAFE_ORDER_ANY},
        {"WINDOWS-874", 1, XML_SAFE_ORDER_ANY},
    };
    static const xml_safe_encoding single_byte = {"", 1, XML_SAFE_ORDER_ANY};
    static const char *const prefixes[] = {"ISO-8859-", "WINDOWS-125"};

    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (strcasecmp(name, exact[i].name) == 0)
            return &exact[i];
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t prefix_len = strlen(prefixes[i]);
        const char *number = name + prefix_len;

        if (strncasecmp(name, prefixes[i], prefix_len) == 0 && number[0] != '\0' &&
            strspn(number, "0123456789") == strlen(number))
            return &single_byte;
    }
    return NULL;
}

static size_t xml_safe_skip_space(const xml_safe_units *units, size_t i)
{
    while (i < units->count && xml_safe_is_space(xml_safe_unit(units, i)))
        i++;
    return i;
}

/* Copies printable ASCII units from *i into out, up to the unit stop or a space, '=' or
 * quote. Returns false when a unit is not printable ASCII or out is too small. */
static bool xml_safe_copy_token(const xml_safe_units *units, size_t *i, unsigned stop,
                                char *out, size_t size)
{
    size_t len = 0;

    for (; *i < units->count; (*i)++) {
        unsigned c = xml_safe_unit(units, *i);

        if (c == stop || (stop == '=' && (xml_safe_is_space(c) || c == '\'' || c == '"')))
            break;
        if (c < 0x21 || c > 0x7e || len + 1 >= size)
            return false;
        out[len++] = (char)c;
    }
    out[len] = '\0';
    return *i < units->count;
}

/* Reads one pseudo-attribute of the XML declaration at *i: a name, then '=' with optional
 * white space around it (XML 1.0's Eq), then a value in single or double quotes. */
static bool xml_safe_pseudo_attribute(const xml_safe_units *units, size_t *i, char *name,
                                      size_t name_size, char *value, size_t value_size)
{
    unsigned quote;

    if (!xml_safe_copy_token(units, i, '=', name, name_size) || name[0] == '\0')
        return false;
    *i = xml_safe_skip_space(units, *i);
    if (*i >= units->count || xml_safe_unit(units, *i) != '=')
        return false;
    *i = xml_safe_skip_space(units, *i + 1);
    quote = *i < units->count ? xml_safe_unit(units, *i) : 0;
    if (quote != '"' && quote != '\'')
        return false;
    (*i)++;
    if (!xml_safe_copy_token(units, i, quote, value, value_size))
        return false;
    (*i)++; /* the closing quote */
    return true;
}

/*
 * Reads the XML declaration at the start, after any byte order mark, with the grammar of
 * XML 1.0's XMLDecl: "<?xml", then pseudo-attributes each after white space,
 * then optional white space and "?>". Sets encoding to the name it gives, or to "" when
 * there is no declaration or it names none. Returns false for a malformed declaration,
 * with encoding set when the name came before the fault.
 */
static bool xml_safe_declared_encoding(const xml_safe_units *units, char *encoding,
                                       size_t size)
{
    size_t i = 0;
    char name[16];
    char value[64];

    encoding[0] = '\0';
    if (units->count > 0 && xml_safe_unit(units, 0) == 0xFEFF)
        i = 1; /* the UTF-16 byte order mark */
    else if (xml_safe_starts_with(units, 0, "\xEF\xBB\xBF"))
        i = 3; /* the UTF-8 one */
    /* Like libxml2, only "<?xml" and white space start a declaration. */
    if (!xml_safe_starts_with(units, i, "<?xml") || i + 5 >= units->count ||
        !xml_safe_is_space(xml_safe_unit(units, i + 5)))
        return true;

    for (i += 5;;) {
        size_t after_space = xml_safe_skip_space(units, i);

        if (xml_safe_starts_with(units, after_space, "?>"))
            return true;
        if (after_space == i)
            return false; /* pseudo-attributes are separated by white space */
        i = after_space;
        if (!xml_safe_pseudo_attribute(units, &i, name, sizeof(name), value, sizeof(value)))
            return false;
        if (strcmp(name, "encoding") != 0)
            continue;
        /* libxml2 switches at the first one, and rejects a second only after that. */
        if (encoding[0] != '\0' || value[0] == '\0')
            return false;
        snprintf(encoding, size, "%s", value);
    }
}

static const char *xml_safe_units_name(const xml_safe_units *units)
{
    if (units->width == 1)
        return "an 8-bit encoding such as UTF-8";
    return units->big_endian ? "UTF-16BE" : "UTF-16LE";
}

/* Checks the encoding that the XML declaration names against the code units the
 * document starts in. libxml2 2.9.14 switches to the declared encoding after the
 * declaration, so a name of another width or byte order would make it read the rest of
 * the bytes differently from the scan. */
static xml_safe_status xml_safe_check_declaration(const xml_safe_units *units, char *detail,
                                                  size_t detail_size)
{
    char name[64];
    bool well_formed = xml_safe_declared_encoding(units, name, sizeof(name));
    const xml_safe_encoding *encoding = name[0] != '\0' ? xml_safe_find_encoding(name) : NULL;

    /* The name first: a declaration that is malformed only in the code units the document
     * starts in may be well-formed in those of the name. */
    if (name[0] != '\0' && encoding == NULL) {
        snprintf(detail, detail_size, "the XML declaration names the encoding \"%s\", which "
                 "the node does not read; send UTF-8 or UTF-16", name);
        return XML_SAFE_MALFORMED;
    }
    if (encoding != NULL &&
        (encoding->width != units->width ||
         (encoding->order == XML_SAFE_ORDER_LITTLE && units->big_endian) ||
         (encoding->order == XML_SAFE_ORDER_BIG && !units->big_endian))) {
        snprintf(detail, detail_size, "the XML declaration names the encoding \"%s\", but "
                 "the document starts in %s; declare the encoding that the document is "
                 "written in", name, xml_safe_units_name(units));
        return XML_SAFE_MALFORMED;
    }
    if (!well_formed) {
        snprintf(detail, detail_size, "the XML declaration is malformed; write it as "
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        return XML_SAFE_MALFORMED;
    }
    return XML_SAFE_OK;
}

static xml_safe_status xml_safe_fail_doctype(char *detail, size_t detail_size)
{
    snprintf(detail, detail_size, "the document contains a DOCTYPE declaration");
    return XML_SAFE_DOCTYPE;
}

/* Returns whether the '<' at i opens markup other than a start tag: a comment, CDATA
 * section, DOCTYPE or other declaration, processing instruction or end tag. Each of
 * these has '!', '?' or '/' next, so the unit after '<' is enough to rule them out. */
static bool xml_safe_opens_other_markup(const xml_safe_units *units, size_t i)
{
    unsigned next = i + 1 < units->count ? xml_safe_unit(units, i + 1) : 0;

    return next == '!' || next == '?' || next == '/';
}

/*
 * Finds a DOCTYPE declaration, or a start tag with more than XML_SAFE_MAX_TAG_ATTRIBUTES
 * attributes, in the raw bytes. Comments, CDATA sections and processing instructions are
 * skipped, so "<!DOCTYPE" as text inside them is no declaration. The scan is lenient:
 * malformed markup is left for the parser to reject.
 */
static xml_safe_status xml_safe_scan_markup(const xml_safe_units *units, char *detail,
                                            size_t detail_size)
{
    size_t i = 0;

    while (i < units->count) {
        size_t attributes = 0;

        if (xml_safe_unit(units, i) != '<')
            i = xml_safe_find_unit(units, i, '<');
        else if (!xml_safe_opens_other_markup(units, i))
            i = xml_safe_scan_tag(units, i + 1, &attributes);
        else if (xml_safe_starts_with(units, i, "<!--"))
            i = xml_safe_skip_past(units, i + 4, "-->");
        else if (xml_safe_starts_with(units, i, "<![CDATA["))
            i = xml_safe_skip_past(units, i + 9, "]]>");
        else if (xml_safe_starts_with(units, i, "<?"))
            i = xml_safe_skip_past(units, i + 2, "?>");
        else if (xml_safe_starts_with(units, i, "<!DOCTYPE"))
            return xml_safe_fail_doctype(detail, detail_size);
        else /* an end tag, or a declaration other than a DOCTYPE */
            i = xml_safe_skip_past(units, i + 2, ">");

        if (attributes > XML_SAFE_MAX_TAG_ATTRIBUTES) {
            snprintf(detail, detail_size,
                     "a start tag has more than %d attributes and namespace declarations",
                     XML_SAFE_MAX_TAG_ATTRIBUTES);
            return XML_SAFE_TOO_COMPLEX;
        }
    }
    return XML_SAFE_OK;
}

/*
 * Rejects code units that libxml2 2.9.14 stops at or drops without an error. It reads a
 * NUL as the end of the input, so anything after a NUL that follows the root element
 * would pass unread. In UTF-16 it drops a last byte that makes no whole code unit and a
 * high surrogate that ends the input. A surrogate without its pair elsewhere fails the
 * parse, and is named here for what it is.
 */
static xml_safe_status xml_safe_check_units(const xml_safe_units *units, size_t len,
                                            char *detail, size_t detail_size)
{
    /* In one-byte units only a NUL can be wrong, and memchr finds it in a fraction of
     * the time of the loop below, which the verification of every assertion pays. */
    if (units->width == 1) {
        const unsigned char *nul = memchr(units->bytes, 0, units->count);

        if (nul == NULL)
            return XML_SAFE_OK;
        snprintf(detail, detail_size, "the document contains a NUL character at byte %zu, "
                 "which XML 1.0 does not allow", (size_t)(nul - units->bytes));
        return XML_SAFE_MALFORMED;
    }
    if (units->width == 2 && len % 2 != 0) {
        snprintf(detail, detail_size, "the document is in UTF-16 but has an odd number of "
                 "bytes, %zu, so its last code unit is incomplete", len);
        return XML_SAFE_MALFORMED;
    }
    for (size_t i = 0; i < units->count; i++) {
        unsigned c = xml_safe_unit(units, i);
        bool high = units->width == 2 && c >= 0xD800 && c <= 0xDBFF;
        bool low = units->width == 2 && c >= 0xDC00 && c <= 0xDFFF;

        if (c == 0) {
            snprintf(detail, detail_size, "the document contains a NUL character at byte "
                     "%zu, which XML 1.0 does not allow", i * units->width);
            return XML_SAFE_MALFORMED;
        }
        if (high && i + 1 < units->count) {
            unsigned next = xml_safe_unit(units, i + 1);

            if (next >= 0xDC00 && next <= 0xDFFF) {
                i++;
                continue;
            }
        }
        if (high || low) {
            snprintf(detail, detail_size, "the document contains the UTF-16 surrogate 0x%04X "
                     "without its pair at byte %zu, which encodes no character", c,
                     i * units->width);
            return XML_SAFE_MALFORMED;
        }
    }
    return XML_SAFE_OK;
}

xml_safe_status xml_safe_scan_raw(const char *xml, size_t len, char *detail,
                                  size_t detail_size)
{
    xml_safe_units units;
    xml_safe_status status;

    if (!xml_safe_units_init(&units, xml, len)) {
        snprintf(detail, detail_size, "the document is in UCS-4 or EBCDIC; send UTF-8 or "
                                      "UTF-16");
        return XML_SAFE_MALFORMED;
    }
    status = xml_safe_check_declaration(&units, detail, detail_size);
    if (status == XML_SAFE_OK)
        status = xml_safe_check_units(&units, len, detail, detail_size);
    if (status != XML_SAFE_OK)
        return status;
    return xml_safe_scan_markup(&units, detail, detail_size);
}
