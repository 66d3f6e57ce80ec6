/*
 * The shape of a claim name that a client sends: a catalogue name such as given_name, or
 * a URI such as urn:oid:2.5.4.42 (docs/saml-profile.md). The claims reader looks the
 * name up in the catalogue afterwards. These checks come first and reject a name that a
 * relying party could read as another claim, or that only looks like a known one.
 */
#ifndef IDSVC_CLAIM_NAME_H
#define IDSVC_CLAIM_NAME_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Checks the characters of a claim name, and the syntax of a URN:
 *  - every byte is printable ASCII other than space (0x21 to 0x7E), because a URI is
 *    ASCII (RFC 3986) and the node does not accept IRIs. So no letter outside ASCII, no
 *    bidirectional control and no invisible character can make a look-alike name;
 *  - a percent-encoding is "%" and two uppercase hexadecimal digits, and encodes no
 *    unreserved character such as "_" (RFC 3986, sections 2.1 and 2.3). So every name
 *    is in the form that URI normalisation keeps. Nor does it encode a control
 *    character (0x00 to 0x1F, 0x7F), which a relying party that decodes the name would
 *    read in it, such as a NUL that ends the name early;
 *  - a URN (scheme "urn" in any case) has no "?" or "#", because RFC 8141 (section 3)
 *    leaves the components after them out of URN equivalence;
 *  - any other URN is "urn:", a namespace identifier, ":" and a namespace-specific
 *    string as RFC 8141 (section 2) writes them;
 *  - after "urn:oid:" in any case comes an OID as RFC 3061 writes it: decimal arcs
 *    joined by dots, none empty and none with a leading zero ("0" itself is an arc).
 *    X.660 numbers the first arc 0, 1 or 2, and the second at most 39 under 0 and 1.
 *    Arcs are compared as decimal text, so an arc of any length is read without
 *    overflow.
 * Whether the name is in the catalogue, or a URI at all, is left to the claims reader.
 * Returns 0, or -1 with a sentence in reason that names the claim and the fault. It
 * quotes only the ASCII part of a name before a byte outside printable ASCII.
 * NOTE: percent-encoded UTF-8 passes, such as "%E2%80%8B" for U+200B ZERO WIDTH SPACE.
 * A relying party that shows the name as an IRI (RFC 3987, section 3.2) shows that
 * character, so such a name can look like another one there.
 */
int claim_name_check(const char *name, char *reason, size_t reason_size);

/*
 * Returns whether two names that passed claim_name_check are one URI to a relying party
 * that compares as RFC 3986 (section 6.2.2.1) and RFC 8141 (section 3.1) do. The scheme,
 * a URN's namespace identifier and the host of a URI with an authority compare without
 * regard to case, the rest byte for byte. So "URN:EXAMPLE:a" and "urn:example:a" are
 * one name, and so are "https://Bank.example/a" and "https://bank.example/a", while
 * "given_name" is only itself.
 * NOTE: the scheme-based and path normalisations of RFC 3986 (sections 6.2.2.3 and
 * 6.2.3), such as a default port or a "." segment, are not applied.
 */
bool claim_names_equivalent(const char *a, const char *b);

#endif
