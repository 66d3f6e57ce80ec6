/* The shape checks of a claim name. claim_name.h lists them with their sources. */
#include "claim_name.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define URN_PREFIX "urn:"
#define OID_URN_PREFIX "urn:oid:"

/* The maximum number of characters of a name or an arc that a reason quotes. */
#define QUOTED_MAX 64

static int quoted_length(size_t len)
{
    return (int)(len < QUOTED_MAX ? len : QUOTED_MAX);
}

/* Rejects a byte outside 0x21 to 0x7E. The reason quotes up to QUOTED_MAX characters
 * before that byte, which are all printable ASCII. */
static int check_ascii(const char *name, char *reason, size_t reason_size)
{
    for (size_t i = 0; name[i] != '\0'; i++) {
        unsigned char byte = (unsigned char)name[i];
        int quoted = quoted_length(i);

        if (byte >= 0x21 && byte <= 0x7E)
            continue;
        snprintf(reason, reason_size,
                 "claim name has the byte 0x%02X at position %zu%s%.*s%s. A claim name "
                 "is a catalogue name or a URI of printable ASCII characters without "
                 "spaces (RFC 3986), and IRIs are not accepted",
                 byte, i + 1, i > 0 ? ", after \"" : "", quoted,
                 name + i - (size_t)quoted, i > 0 ? "\"" : "");
        return -1;
    }
    return 0;
}

static bool is_upper_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* Returns the value of an uppercase hexadecimal digit. */
static unsigned hex_value(char digit)
{
    return digit <= '9' ? (unsigned)(digit - '0') : (unsigned)(digit - 'A' + 10);
}

/* RFC 3986, section 2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
static bool is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Rejects a percent-encoding of a control character (0x00 to 0x1F, and 0x7F), which
 * check_ascii rejects as a byte. A relying party that decodes the name reads such a byte
 * in it, and a NUL ends the name early for C string functions, so that
 * "urn:idsvc:claim:kyc_date%00" would read as kyc_date's URI. */
static int check_encoded_control(const char *name, const char *p, unsigned byte,
                                 char *reason, size_t reason_size)
{
    if (byte >= 0x20 && byte != 0x7F)
        return 0;
    snprintf(
        reason, reason_size,
        "claim name \"%.64s\" has \"%.3s\" at position %zu, the percent-encoding of "
        "a control character, which a relying party that decodes the name would read "
        "in it. A claim name has no control character, encoded or not",
        name, p, (size_t)(p - name) + 1);
    return -1;
}

/* Rejects a percent-encoding other than the one form that RFC 3986 (sections 2.1 and
 * 2.3) has producers write: "%" and two uppercase hexadecimal digits, for a character
 * outside the unreserved set. Normalisation turns every other form into that one or
 * into the character itself, so "kyc%5Fdate" reads as "kyc_date" to a relying party.
 * A control character is rejected too (check_encoded_control). */
static int check_percent_encodings(const char *name, char *reason, size_t reason_size)
{
    for (const char *p = strchr(name, '%'); p != NULL; p = strchr(p + 1, '%')) {
        bool normal = is_upper_hex(p[1]) && is_upper_hex(p[2]);
        unsigned byte = normal ? hex_value(p[1]) * 16 + hex_value(p[2]) : 0;

        if (normal && !is_unreserved((unsigned char)byte)) {
            if (check_encoded_control(name, p, byte, reason, reason_size) != 0)
                return -1;
            continue;
        }
        snprintf(reason, reason_size,
                 "claim name \"%.64s\" has \"%.3s\" at position %zu. RFC 3986 writes "
                 "a percent-encoding as \"%%\" and two uppercase hexadecimal digits, "
                 "and never encodes a letter, a digit, \"-\", \".\", \"_\" or \"~\". "
                 "Write the character itself",
                 name, p, (size_t)(p - name) + 1);
        return -1;
    }
    return 0;
}

static int check_urn_components(const char *name, char *reason, size_t reason_size)
{
    const char *component;

    if (strncasecmp(name, URN_PREFIX, strlen(URN_PREFIX)) != 0)
        return 0;
    component = strpbrk(name, "?#");
    if (component == NULL)
        return 0;
    snprintf(reason, reason_size,
             "claim name \"%.64s\" has a \"%c\" component. RFC 8141 (section 3) leaves "
             "the components after \"?+\", \"?=\" and \"#\" out of URN equivalence, "
             "so a relying party may read the name as the URN before them",
             name, *component);
    return -1;
}

/* RFC 3986 pchar and "/", without pct-encoded, which check_percent_encodings checks. */
static bool is_nss_char(char c)
{
    return is_unreserved((unsigned char)c) || strchr("!$&'()*+,;=:@/%", c) != NULL;
}

static bool is_alphanumeric(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Checks a URN other than urn:oid: against RFC 8141 (section 2). After "urn:" comes a
 * namespace identifier of 2 to 32 letters, digits and hyphens with a letter or digit at
 * each end, then ":" and a namespace-specific string of pchar and "/" that does not
 * start with "/". */
static int check_urn_syntax(const char *name, char *reason, size_t reason_size)
{
    const char *nid = name + strlen(URN_PREFIX);
    size_t nid_len = strcspn(nid, ":");
    const char *nss = nid + nid_len + 1;
    bool nid_valid = nid_len >= 2 && nid_len <= 32 && is_alphanumeric(nid[0]) &&
                     is_alphanumeric(nid[nid_len - 1]);

    for (size_t i = 0; nid_valid && i < nid_len; i++)
        nid_valid = is_alphanumeric(nid[i]) || nid[i] == '-';
    if (!nid_valid || nid[nid_len] != ':' || nss[0] == '\0' || nss[0] == '/') {
        snprintf(reason, reason_size,
                 "claim name \"%.64s\" is not a URN as RFC 8141 writes one: \"urn:\", a "
                 "namespace identifier of 2 to 32 letters, digits and hyphens with a "
                 "letter or digit at each end, \":\", and a namespace-specific string",
                 name);
        return -1;
    }
    for (const char *p = nss; *p != '\0'; p++) {
        if (is_nss_char(*p))
            continue;
        snprintf(reason, reason_size,
                 "claim name \"%.64s\" has \"%c\" at position %zu, which RFC 8141 does "
                 "not allow in the namespace-specific string of a URN",
                 name, *p, (size_t)(p - name) + 1);
        return -1;
    }
    return 0;
}

/* Checks that arc number index, counted from 1, is decimal without a leading zero. */
static int check_arc_syntax(const char *name, const char *arc, size_t len, size_t index,
                            char *reason, size_t reason_size)
{
    if (len == 0) {
        snprintf(reason, reason_size,
                 "claim name \"%.64s\" has an empty arc %zu. An OID (RFC 3061) is "
                 "decimal arcs joined by single dots, with no dot before the first arc "
                 "or after the last",
                 name, index);
        return -1;
    }
    if (strspn(arc, "0123456789") < len) {
        snprintf(reason, reason_size,
                 "claim name \"%.64s\" has arc %zu \"%.*s\", which is not a decimal "
                 "number as an OID (RFC 3061) needs",
                 name, index, quoted_length(len), arc);
        return -1;
    }
    if (len > 1 && arc[0] == '0') {
        snprintf(reason, reason_size,
                 "claim name \"%.64s\" has arc %zu \"%.*s\" with a leading zero, so it "
                 "could name the claim whose arc has none. X.660 and RFC 3061 write an "
                 "arc without leading zeros",
                 name, index, quoted_length(len), arc);
        return -1;
    }
    return 0;
}

/* Checks the first two arcs against X.660: the first is 0, 1 or 2, and under 0 and 1
 * the second is at most 39. Both have passed check_arc_syntax, so a number's length
 * orders it. second is NULL when the OID has one arc. */
static int check_root_arcs(const char *name, const char *first, size_t first_len,
                           const char *second, size_t second_len, char *reason,
                           size_t reason_size)
{
    if (first_len > 1 || first[0] > '2') {
        snprintf(reason, reason_size,
                 "claim name \"%.64s\" has the first arc \"%.*s\", but X.660 numbers the "
                 "first arc of an OID 0, 1 or 2",
                 name, quoted_length(first_len), first);
        return -1;
    }
    if (second == NULL || first[0] == '2')
        return 0;
    if (second_len > 2 || (second_len == 2 && strncmp(second, "39", 2) > 0)) {
        snprintf(reason, reason_size,
                 "claim name \"%.64s\" has the second arc \"%.*s\" under arc %c, but "
                 "X.660 numbers the arcs under 0 and 1 from 0 to 39",
                 name, quoted_length(second_len), second, first[0]);
        return -1;
    }
    return 0;
}

/* Checks the OID of a urn:oid: name. oid points to the text after the prefix. */
static int check_oid(const char *name, const char *oid, char *reason, size_t reason_size)
{
    const char *arc = oid;
    const char *second = NULL;
    size_t first_len = strcspn(oid, ".");
    size_t second_len = 0;

    for (size_t index = 1;; index++) {
        size_t len = strcspn(arc, ".");

        if (check_arc_syntax(name, arc, len, index, reason, reason_size) != 0)
            return -1;
        if (index == 2) {
            second = arc;
            second_len = len;
        }
        if (arc[len] == '\0')
            break;
        arc += len + 1;
    }
    return check_root_arcs(name, oid, first_len, second, second_len, reason, reason_size);
}

int claim_name_check(const char *name, char *reason, size_t reason_size)
{
    if (check_ascii(name, reason, reason_size) != 0 ||
        check_percent_encodings(name, reason, reason_size) != 0 ||
        check_urn_components(name, reason, reason_size) != 0)
        return -1;
    /* The OID syntax allows only digits and dots, a subset of the URN syntax. */
    if (strncasecmp(name, OID_URN_PREFIX, strlen(OID_URN_PREFIX)) == 0)
        return check_oid(name, name + strlen(OID_URN_PREFIX), reason, reason_size);
    if (strncasecmp(name, URN_PREFIX, strlen(URN_PREFIX)) == 0)
        return check_urn_syntax(name, reason, reason_size);
    return 0;
}

/* Returns the length of the part of a URI that compares without regard to case. That is
 * the scheme and its colon (RFC 3986, section 6.2.2.1), and for a URN the namespace
 * identifier and its colon as well (RFC 8141, section 3.1). A name without a colon has
 * none. */
static size_t case_insensitive_length(const char *name)
{
    const char *colon = strchr(name, ':');
    const char *nid_end;

    if (colon == NULL)
        return 0;
    if (strncasecmp(name, URN_PREFIX, strlen(URN_PREFIX)) == 0) {
        nid_end = strchr(name + strlen(URN_PREFIX), ':');
        if (nid_end != NULL)
            return (size_t)(nid_end - name) + 1;
    }
    return (size_t)(colon - name) + 1;
}

/* The offsets that split a name into parts that compare with or without regard to case.
 * For a URI with an authority ("scheme://"), the host and port run from host_start to
 * host_end, after any userinfo and its "@". Other names have host_start == host_end. */
typedef struct name_parts {
    size_t scheme_end; /* the end of case_insensitive_length */
    size_t host_start;
    size_t host_end;
} name_parts;

static name_parts split_name(const char *name)
{
    name_parts parts;
    const char *authority;
    const char *end;
    const char *host;

    parts.scheme_end = case_insensitive_length(name);
    parts.host_start = parts.scheme_end;
    parts.host_end = parts.scheme_end;
    authority = name + parts.scheme_end;
    if (parts.scheme_end == 0 || strncmp(authority, "//", 2) != 0)
        return parts;

    authority += 2;
    end = authority + strcspn(authority, "/?#");
    host = authority;
    for (const char *p = authority; p < end; p++) {
        if (*p == '@')
            host = p + 1;
    }
    parts.host_start = (size_t)(host - name);
    parts.host_end = (size_t)(end - name);
    return parts;
}

bool claim_names_equivalent(const char *a, const char *b)
{
    name_parts pa = split_name(a);
    name_parts pb = split_name(b);
    size_t host_len = pa.host_end - pa.host_start;

    if (pa.scheme_end != pb.scheme_end || pa.host_start != pb.host_start ||
        pa.host_end != pb.host_end)
        return false;
    /* Every part has the same offsets in both names, because case folding of ASCII keeps
     * lengths. The userinfo between the scheme and the host compares byte for byte. */
    if (strncasecmp(a, b, pa.scheme_end) != 0)
        return false;
    if (strncmp(a + pa.scheme_end, b + pa.scheme_end, pa.host_start - pa.scheme_end) != 0)
        return false;
    if (strncasecmp(a + pa.host_start, b + pa.host_start, host_len) != 0)
        return false;
    return strcmp(a + pa.host_end, b + pa.host_end) == 0;
}
