/* Shared between the files of SAML verification; not part of the public API. */
#ifndef IDSVC_SAML_VERIFY_INTERNAL_H
#define IDSVC_SAML_VERIFY_INTERNAL_H

#include <stdbool.h>

#include <libxml/tree.h>
#include <openssl/evp.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/keys.h>

#include "saml.h"

#define SAML_NS_ASSERTION "urn:oasis:names:tc:SAML:2.0:assertion"
#define SAML_NS_PROTOCOL "urn:oasis:names:tc:SAML:2.0:protocol"
#define SAML_NS_DSIG "http://www.w3.org/2000/09/xmldsig#"
#define SAML_NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define SAML_METHOD_BEARER "urn:oasis:names:tc:SAML:2.0:cm:bearer"

/* One trusted public key, kept both as an EVP_PKEY and as a ready xmlsec key, so that a
 * verification never copies it. */
typedef struct saml_trust_key {
    char *issuer; /* NULL: trusted for any issuer */
    EVP_PKEY *pkey;
    xmlSecKeyPtr xmlsec_key;
    unsigned flags; /* SAML_TRUST_* */
    int key_type;   /* EVP_PKEY_RSA or EVP_PKEY_EC */
    int bits;
} saml_trust_key;

/* The maximum number of keys tried for one issuer; more are ignored. */
#define SAML_TRUST_MAX_CANDIDATES SAML_TRUST_MAX_ISSUER_KEYS

/* Fills keys with the issuer's own keys, then the keys trusted for any issuer, and
 * returns their number. */
size_t saml_trust_candidates(const saml_trust_store *store, const char *issuer,
                             const saml_trust_key **keys, size_t max);

/* Runs xmlSecInit, xmlSecCryptoAppInit and xmlSecCryptoInit once per process.
 * Returns 0, or -1 when any of them failed. */
int saml_xmlsec_init(void);

/* Writes a sentence into detail and returns status. */
saml_status saml_fail(char *detail, size_t detail_size, saml_status status, const char *format,
                      ...) __attribute__((format(printf, 4, 5)));

/* What the checks of SignedInfo found out about the signature. */
typedef struct saml_dsig_info {
    bool uses_sha1;         /* the digest or the signature method is SHA-1 */
    int key_type;           /* EVP_PKEY_RSA or EVP_PKEY_EC, from the SignatureMethod */
    const char *method;     /* the SignatureMethod URI, for messages */
    size_t signature_len;   /* the decoded SignatureValue length in bytes */
} saml_dsig_info;

/*
 * Checks that the Signature, its SignedInfo, each Reference and its Transforms contain
 * the child elements that the XML-DSig schema requires, in its order, and no others, and
 * no text but white space. Returns SAML_ERR_SIGNATURE_MALFORMED with a sentence naming
 * the element or text at fault.
 */
saml_status saml_dsig_check_form(xmlNodePtr signature, char *detail, size_t detail_size);

/*
 * Checks the Signature that is a direct child of signed: its form (saml_dsig_check_form),
 * exclusive c14n, an allowed SignatureMethod and exactly one Reference to signed's own ID. The
 * Reference has an optional enveloped-signature transform, then exclusive c14n as its
 * last, and a SHA-2 digest, or SHA-1, which the caller then checks against the issuer's
 * flags. Then applies saml_c14n_check_document to the whole document.
 */
saml_status saml_dsig_check(xmlNodePtr signature, xmlNodePtr signed_node, saml_dsig_info *info,
                            char *detail, size_t detail_size);

/* Verifies the signature with each candidate key in turn until one verifies. */
saml_status saml_dsig_verify(xmlNodePtr signature, const saml_dsig_info *info,
                             const saml_trust_key *const *keys, size_t key_count,
                             const saml_verify_options *options, char *detail,
                             size_t detail_size);

#define SAML_NS_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"

/* Bounds on the work of exclusive c14n, checked before xmlsec runs. saml_verify_c14n.c
 * gives the reasons and the measurements behind them. */
#define SAML_C14N_MAX_PREFIXES 16     /* entries of one InclusiveNamespaces PrefixList */
#define SAML_C14N_MAX_NS_IN_SCOPE 64  /* declarations on an element and its ancestors */
#define SAML_C14N_MAX_ATTRIBUTES 64   /* attributes of one element */
#define SAML_C14N_MAX_WORK 4000000ull /* the estimate of saml_c14n_check_document */

/*
 * Checks the parameters of a Transform or CanonicalizationMethod: none when
 * inclusive_allowed is false (enveloped-signature), otherwise at most one
 * InclusiveNamespaces child whose PrefixList contains at most SAML_C14N_MAX_PREFIXES
 * distinct NCNames or #default.
 */
saml_status saml_c14n_check_parameters(xmlNodePtr method, bool inclusive_allowed,
                                       char *detail, size_t detail_size);

/*
 * Rejects a document whose exclusive c14n would cost more than the bounds allow: any
 * element with too many namespace declarations in scope or attributes, any
 * InclusiveNamespaces anywhere with an invalid or long PrefixList, or a work estimate
 * over SAML_C14N_MAX_WORK. Runs in time linear in the number of elements.
 */
saml_status saml_c14n_check_document(xmlDocPtr doc, char *detail, size_t detail_size);

/* Rejects a namespace declaration whose name is not an absolute URI. libxml2's c14n
 * fails on such a document, so its signature could never be checked. */
saml_status saml_check_namespaces(xmlDocPtr doc, char *detail, size_t detail_size);

/* Rejects a Response that lacks an attribute saml_check_response_header requires, or
 * whose child elements break the content model of SAML 2.0 Core's schema: Issuer?,
 * Signature?, Extensions?, Status, then (Assertion | EncryptedAssertion)*. Its Status
 * must hold StatusCode, StatusMessage?, StatusDetail?. Returns SAML_ERR_NOT_SAML naming
 * the attribute or the first element out of place. root is the document's root
 * element, and an Assertion root passes. */
saml_status saml_check_response_form(xmlNodePtr root, char *detail, size_t detail_size);

/* Returns whether element has characters that its SAML schema type forbids. A type of
 * element-only content, such as that of a Response, a Subject or an Attribute, allows only
 * XML white space in its text and CDATA children. A type of empty content, that of
 * OneTimeUse and SubjectLocality, allows no characters at all. */
bool saml_form_has_stray_text(const xmlNode *element);

/* Rejects, as SAML_ERR_NOT_SAML, an element for which saml_form_has_stray_text returned
 * true, quoting the start of the text or naming the white space. NULL passes. */
saml_status saml_check_element_text(const xmlNode *element, char *detail,
                                    size_t detail_size);

/* Rejects a Response whose top-level StatusCode is not Success; root is the document's
 * root element, which is the Assertion itself when no Response wraps it. */
saml_status saml_check_response_status(xmlNodePtr root, char *detail, size_t detail_size);

/* Rejects Conditions whose NotBefore is not earlier than their NotOnOrAfter. */
saml_status saml_check_conditions_order(const saml_assertion *a, char *detail,
                                        size_t detail_size);

/* Reads the OneTimeUse and ProxyRestriction conditions into a, and rejects any other
 * child element of conditions but AudienceRestriction, which saml_assertion_read reads.
 * A condition the node does not understand makes the assertion's validity
 * Indeterminate (SAML 2.0 Core, section 2.5.1.1), so it is never ignored. */
saml_status saml_read_condition_elements(xmlNodePtr conditions, saml_assertion *a,
                                         char *detail, size_t detail_size);

/* Requires a bearer SubjectConfirmation whose data the SAML 2.0 Web Browser SSO profile
 * accepts at now, with skew seconds of tolerance. latest_ms and latest_ps are the latest
 * time, in milliseconds and the picoseconds beyond them, that the clock may be at. */
saml_status saml_check_bearer(xmlNodePtr assertion, time_t now, int64_t latest_ms,
                              int64_t latest_ps, long skew, char *detail,
                              size_t detail_size);

/* Sets *out to seconds, the time that the attribute name of node holds, in milliseconds
 * with the attribute's fraction of a second, rounded up when round_up is set. seconds
 * must come from saml_read_time on the same attribute. */
saml_status saml_read_time_ms(xmlNodePtr node, const char *name, time_t seconds,
                              bool round_up, int64_t *out, char *detail,
                              size_t detail_size);

/*
 * Reads the text of element without leading and trailing white space into *out, to
 * free(). On failure returns saml_fail_text_read's status; what names the element in
 * the sentence, such as "an Audience".
 */
saml_status saml_read_text(xmlNodePtr element, const char *what, char **out, char *detail,
                           size_t detail_size);

/*
 * Tells why xml_safe_text could not read element. An element or an entity reference
 * inside is a fault of the content, SAML_ERR_NOT_SAML, naming what and the child. With
 * neither, only the allocation can have failed, and the status is SAML_ERR_INTERNAL.
 */
saml_status saml_fail_text_read(xmlNodePtr element, const char *what, char *detail,
                                size_t detail_size);

/*
 * Reads the text of an element of NameIDType, such as NameID or Issuer, without leading
 * and trailing white space. The type is text with attributes (SAML 2.0 Core, section
 * 2.2.2), so an element inside is SAML_ERR_NOT_SAML. Returns SAML_OK with *out to free(),
 * possibly empty, or SAML_ERR_INTERNAL when memory runs out.
 */
saml_status saml_read_name_text(xmlNodePtr element, char **out, char *detail,
                                size_t detail_size);

/*
 * Reads an Issuer, of an Assertion or a Response, as saml_read_name_text does. The SAML
 * 2.0 Web Browser SSO profile (section 4.1.4.2) requires it to have no Format or the
 * Format urn:oasis:names:tc:SAML:2.0:nameid-format:entity. XML white space around that
 * URI is allowed, as xs:anyURI allows it. SAML 2.0 Core (section 8.3.6) forbids
 * NameQualifier, SPNameQualifier and SPProvidedID on an entity identifier. Each of these
 * faults is SAML_ERR_NOT_SAML, naming the attribute.
 */
saml_status saml_read_issuer(xmlNodePtr issuer, char **out, char *detail,
                             size_t detail_size);

/*
 * Reads the attribute name of element, in the namespace ns or, when ns is NULL, without
 * a namespace, into *out, to xmlFree(). *out is NULL when element has no such attribute.
 * Returns SAML_OK, or SAML_ERR_INTERNAL when memory runs out, so that a failed
 * allocation never reads as an absent attribute.
 */
saml_status saml_read_attr(xmlNodePtr element, const char *name, const char *ns,
                           xmlChar **out, char *detail, size_t detail_size);

/* The value of an attribute, borrowed from the document where the parser stored it in
 * one text node, which is the usual case, or else joined into a copy. */
typedef struct saml_attr_value {
    const char *text; /* NULL when the element has no such attribute */
    xmlChar *copy;    /* the joined value that text points to, or NULL */
} saml_attr_value;

/* Reads the attribute name of element as saml_read_attr does, but without a copy where
 * the document stores the value in one text node. Release *out with
 * saml_attr_value_free, also after a failure. */
saml_status saml_read_attr_value(xmlNodePtr element, const char *name, const char *ns,
                                 saml_attr_value *out, char *detail, size_t detail_size);

void saml_attr_value_free(saml_attr_value *value);

/*
 * Reads the xs:dateTime attribute name of node, without a namespace, into *out, and sets
 * *present, which may be NULL for a required attribute. A time with a fraction of a
 * second sets *fraction when fraction is not NULL. A required attribute that is absent,
 * and a value that saml_time_parse rejects, is SAML_ERR_NOT_SAML naming the attribute.
 */
saml_status saml_read_time(xmlNodePtr node, const char *name, bool required, time_t *out,
                           bool *present, bool *fraction, char *detail,
                           size_t detail_size);

/*
 * Checks the attributes that SAML 2.0 Core (section 3.2.2, StatusResponseType) requires
 * of a Response, which the verifier reads nothing else from: Version "2.0", an ID and an
 * IssueInstant that is an xs:dateTime, then the types of saml_check_response_types. A
 * fault is SAML_ERR_NOT_SAML, naming the attribute. saml_verify.c compares the
 * IssueInstant with the clock.
 */
saml_status saml_check_response_header(xmlNodePtr response, char *detail,
                                       size_t detail_size);

/* Reads the NotOnOrAfter of the SubjectConfirmationData data of a bearer confirmation
 * into *not_on_or_after_ms, in milliseconds since the epoch, and the picoseconds of its
 * fraction beyond them into *not_on_or_after_ps, and sets *present. A value
 * that saml_time_parse rejects is SAML_ERR_CONFIRMATION_INVALID, the code of the bearer
 * profile's faults. */
saml_status saml_read_bearer_end(xmlNodePtr data, int64_t *not_on_or_after_ms,
                                 int64_t *not_on_or_after_ps, bool *present, char *detail,
                                 size_t detail_size);

/* Returns whether value is an xs:anyURI, by the rule that saml_verify_types.c gives. */
bool saml_is_any_uri(const char *value);

/* Rejects, as SAML_ERR_NOT_SAML, a Response whose InResponseTo is not an xs:NCName, or
 * whose Destination or Consent is not an xs:anyURI. A digit may start the InResponseTo,
 * as it may start an ID. */
saml_status saml_check_response_types(xmlNodePtr response, char *detail,
                                      size_t detail_size);

/* Rejects, as SAML_ERR_NOT_SAML, a SubjectConfirmationData whose InResponseTo is not an
 * xs:NCName, whose Recipient is not an xs:anyURI, or whose NotBefore or NotOnOrAfter is
 * not an xs:dateTime that the node reads. The NotOnOrAfter of a bearer confirmation is
 * read by saml_read_bearer_end, with its code. */
saml_status saml_check_confirmation_data_types(xmlNodePtr data, bool bearer, char *detail,
                                               size_t detail_size);

/*
 * Rejects an AuthnStatement whose content breaks AuthnStatementType and AuthnContextType
 * of saml-schema-assertion-2.0.xsd: SubjectLocality? with no child element, then exactly
 * one AuthnContext, which contains AuthnContextClassRef?, then AuthnContextDecl or
 * AuthnContextDeclRef?, with at least one of the three, then AuthenticatingAuthority*.
 * Returns SAML_ERR_NOT_SAML with a sentence naming the element missing, repeated or out
 * of place.
 */
saml_status saml_check_authn_statement_form(xmlNodePtr statement, char *detail,
                                            size_t detail_size);

/* A run of one to four alternative elements of one namespace, repeated min to max times
 * (max 0: any number), in a sequence that makes up a content model. */
typedef struct saml_form_group {
    const char *ns;
    const char *names[4];
    size_t min;
    size_t max;
} saml_form_group;

/*
 * Matches the child elements of parent against groups, in order, skipping text,
 * comments and processing instructions. model spells the content model for the
 * sentence, which names the first element out of place or the first required one that
 * is missing. Returns SAML_ERR_NOT_SAML for a mismatch.
 */
saml_status saml_form_check_groups(xmlNodePtr parent, const saml_form_group *groups,
                                   size_t group_count, const char *model, char *detail,
                                   size_t detail_size);

/* Rejects, as SAML_ERR_NOT_SAML, an element of text content, such as a NameID or an
 * AuthnContextDeclRef, that contains a child element, naming it. NULL passes. */
saml_status saml_form_check_text_only(const xmlNode *element, char *detail,
                                      size_t detail_size);

#define SAML_FORM_CHECK(parent, groups, model, detail, detail_size)                      \
    saml_form_check_groups(parent, groups, sizeof(groups) / sizeof(groups[0]), model,    \
                           detail, detail_size)

/*
 * Rejects an Assertion whose child elements, or those of its Subject, a
 * SubjectConfirmation, an AttributeStatement or an Attribute, break the content models
 * of saml-schema-assertion-2.0.xsd. The Assertion contains Issuer, Signature?, Subject?,
 * Conditions?, Advice?, then statements. Returns SAML_ERR_NOT_SAML with a sentence naming
 * the element missing or out of place.
 */
saml_status saml_check_assertion_form(xmlNodePtr assertion, char *detail,
                                      size_t detail_size);

/*
 * Appends to the sentence in detail, when parent has a child element with the local name
 * name in another namespace than SAML_NS_ASSERTION, or, with deep, such a descendant,
 * that this element is in that namespace. So an element whose prefix is bound to another
 * URI, such as a SAML 1.1 Assertion, is not reported only as missing. Returns status.
 */
saml_status saml_note_namesake(saml_status status, char *detail, size_t detail_size,
                               xmlNodePtr parent, const char *name, bool deep);

/* Appends to detail, as saml_note_namesake does, for an element that belongs in the
 * namespace ns instead of SAML_NS_ASSERTION, such as an XML-DSig Signature. */
saml_status saml_note_namesake_in(saml_status status, char *detail, size_t detail_size,
                                  xmlNodePtr parent, const char *name, const char *ns,
                                  bool deep);

/* Returns whether value equals uri once the XML white space around it is taken off, as
 * the whiteSpace facet of xs:anyURI (collapse) takes it off. */
bool saml_uri_equals(const char *value, const char *uri);

/*
 * Rejects as SAML_ERR_NOT_SAML an xs:anyURI value of the SAML elements inside parent
 * that saml_is_any_uri does not accept. The values are a NameID Format, a
 * SubjectConfirmation Method, an Audience, an AuthnContextClassRef, an
 * AuthnContextDeclRef, an AuthenticatingAuthority, an Attribute NameFormat, an
 * AuthzDecisionStatement Resource and an Action Namespace. The Method, the Resource and
 * the Namespace are required too. The inside of an Advice and of an Evidence is not
 * checked.
 */
saml_status saml_check_assertion_uris(xmlNodePtr parent, char *detail,
                                      size_t detail_size);

/* Reads the claims of an Assertion element that has been verified. */
saml_status saml_assertion_read(xmlNodePtr assertion, saml_assertion **out, char *detail,
                                size_t detail_size);

#endif
