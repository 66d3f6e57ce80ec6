/*
 * Internals of the fixed-template SAML signer, shared by its source files and its tests.
 *
 * The signer writes the Assertion directly in exclusive-c14n canonical form, so the bytes
 * it writes are the bytes it hashes. Nothing is parsed or canonicalised at runtime.
 */
#ifndef IDSVC_SAML_BUILD_H
#define IDSVC_SAML_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "saml.h"

/* Namespaces and algorithm identifiers written by the signer. */
#define SAML_NS_ASSERTION "urn:oasis:names:tc:SAML:2.0:assertion"
#define SAML_NS_DSIG "http://www.w3.org/2000/09/xmldsig#"
#define SAML_NS_XS "http://www.w3.org/2001/XMLSchema"
#define SAML_NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define SAML_ALG_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define SAML_ALG_ENVELOPED "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define SAML_ALG_SHA256 "http://www.w3.org/2001/04/xmlenc#sha256"
#define SAML_ALG_RSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define SAML_ALG_ECDSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"

#define SAML_NAME_FORMAT_URI "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
#define SAML_NAMEID_PERSISTENT "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
#define SAML_AUTHN_UNSPECIFIED "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
#define SAML_CM_BEARER "urn:oasis:names:tc:SAML:2.0:cm:bearer"

/* The maximum length, in bytes, of any one caller value. */
#define SAML_VALUE_MAX 1024

/* "_" followed by 32 hexadecimal digits, and the terminating NUL. */
#define SAML_ID_SIZE 34

/* "YYYY-MM-DDThh:mm:ssZ" and the terminating NUL. */
#define SAML_TIME_SIZE 21

/*
 * A growing byte buffer. A failed allocation sets `failed` and makes every later write a
 * no-op, so a writer checks once at the end instead of after every call.
 */
typedef struct saml_buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
} saml_buf;

void saml_buf_free(saml_buf *buf);
void saml_buf_put(saml_buf *buf, const char *bytes, size_t len);
void saml_buf_puts(saml_buf *buf, const char *text);

/* Appends text escaped as exclusive c14n escapes character content: & < > and CR. */
void saml_buf_put_text(saml_buf *buf, const char *text);

/* Appends text escaped as exclusive c14n escapes attribute values: & < " TAB LF CR. */
void saml_buf_put_attr(saml_buf *buf, const char *text);

/* Appends the base64 encoding of bytes, without line breaks. */
void saml_buf_put_base64(saml_buf *buf, const unsigned char *bytes, size_t len);

/*
 * Checks that text is valid UTF-8, at most SAML_VALUE_MAX bytes, and holds only
 * characters that XML 1.0 allows. Returns 0, or -1 with a sentence fragment in reason.
 */
int saml_text_check(const char *text, char *reason, size_t reason_size);

/* Returns whether text, valid UTF-8, consists only of characters with Unicode's
 * White_Space property, such as U+00A0 NO-BREAK SPACE and U+3000 IDEOGRAPHIC SPACE. */
bool saml_text_is_blank(const char *text);

/* Checks that text is an absolute URI: a scheme, a colon and no space or control. */
bool saml_text_is_uri(const char *text);

/* Returns the catalogue claim whose URI equals uri when ASCII letter case is ignored,
 * such as given_name for "URN:OID:2.5.4.42", or NULL. */
const saml_claim *saml_claim_by_uri_ignoring_case(const char *uri);

/* Writes a new ID, "_" and 32 hex digits from RAND_bytes. Returns 0, or -1 when the
 * random generator fails. */
int saml_new_id(char id[SAML_ID_SIZE]);

/* Formats t as an xs:dateTime in UTC with a Z suffix. Returns 0, or -1 when the year
 * does not fit in four digits. */
int saml_format_time(time_t t, char out[SAML_TIME_SIZE]);

/*
 * Checks that one value suits a claim's syntax (a date is YYYY-MM-DD, a country is two
 * capital letters). claim NULL stands for a claim named by a URI outside the catalogue,
 * which takes any text. Returns 0, or -1 with a sentence fragment in reason.
 */
int saml_claim_check_value(const saml_claim *claim, const char *value, char *reason,
                           size_t reason_size);

/* Everything the signer produced, kept apart so that tests can compare each part. */
typedef struct saml_signed_parts {
    char id[SAML_ID_SIZE];
    saml_buf assertion;      /* canonical Assertion without Signature: the digest input */
    size_t signature_offset; /* where the Signature goes: right after </saml:Issuer> */
    saml_buf signed_info;    /* canonical SignedInfo: the bytes given to C_Sign */
    saml_buf signature;      /* the Signature element as it appears in the document */
} saml_signed_parts;

/*
 * Writes the Assertion of spec, without Signature, in canonical form into parts. Sets
 * parts->id and parts->signature_offset. Returns 0, or -1 with the reason in err.
 */
int saml_build_canonical(const saml_assertion_spec *spec, saml_signed_parts *parts,
                         p11_error *err);

/*
 * Builds and signs the Assertion of spec, filling every part. saml_build_signed joins
 * the parts into the document. Returns 0, or -1 with the reason in err.
 */
int saml_sign_parts(const saml_assertion_spec *spec, const saml_signer *signer,
                    saml_signed_parts *parts, p11_error *err);

/* Joins signed parts into the document: the Assertion up to the end of the Issuer, the
 * Signature, then the rest. Returns a NUL-terminated copy, or NULL when out of memory. */
char *saml_signed_parts_join(const saml_signed_parts *parts, size_t *len);

void saml_signed_parts_free(saml_signed_parts *parts);

/* Fills err with a failure that did not come from the module. */
void saml_set_error(p11_error *err, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
