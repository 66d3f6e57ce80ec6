/*
 * SAML 2.0 assertions: build, sign in the HSM, verify with hardened libxmlsec1.
 * The attribute profile is described in docs/saml-profile.md.
 */
#ifndef IDSVC_SAML_H
#define IDSVC_SAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "p11.h"

/* ---- Building and signing ---------------------------------------------------- */

typedef struct saml_attribute {
    char *name;    /* a name from the claims catalogue, such as "given_name" */
    char **values; /* one or more values, as text */
    size_t value_count;
} saml_attribute;

/* The syntax of a claim's values; docs/saml-profile.md lists the catalogue. */
typedef enum saml_claim_syntax {
    SAML_CLAIM_TEXT,    /* any text, written as xs:string */
    SAML_CLAIM_DATE,    /* YYYY-MM-DD, written as xs:date */
    SAML_CLAIM_COUNTRY, /* an assigned ISO 3166-1 alpha-2 code such as MY, as xs:string */
} saml_claim_syntax;

/* One entry of the claims catalogue. */
typedef struct saml_claim {
    const char *name;          /* the claims JSON key, such as "given_name" */
    const char *uri;           /* the Attribute Name, such as "urn:oid:2.5.4.42" */
    const char *friendly_name; /* the Attribute FriendlyName, such as "givenName" */
    saml_claim_syntax syntax;
    bool multi_valued;
    bool past_date; /* true for a date that cannot follow the day of issue: a birth date */
} saml_claim;

/* Finds a catalogue entry by its JSON key or by its Attribute Name; NULL when absent. */
const saml_claim *saml_claim_by_name(const char *name);
const saml_claim *saml_claim_by_uri(const char *uri);

/*
 * Applies the rules of a new credential on top of saml_claim_check_value, which
 * verification also applies to other issuers' values. A value of white space only is
 * rejected. So is a date_of_birth or kyc_date after the UTC day that follows now, which
 * is the day of issue in the time zones east of UTC. Returns 0, or -1 with a sentence
 * fragment in reason.
 */
int saml_claim_check_issued(const saml_claim *claim, const char *value, time_t now,
                            char *reason, size_t reason_size);

typedef struct saml_assertion_spec {
    const char *issuer;         /* entity ID of the signing node */
    const char *audience;       /* entity ID of the relying party */
    const char *name_id;        /* the subject's identifier at the issuer */
    const char *name_id_format; /* NULL or "" selects persistent, unless copies_verified */
    /* The spec copies a verified assertion, so a value that one lacks stays absent
     * instead of taking the signer's default. A NULL or empty name_id_format writes no
     * Format, which leaves unspecified in effect (SAML 2.0 Core, section 2.2.2), and
     * has_authn_instant false writes no AuthnStatement. */
    bool copies_verified;
    /* The NameID's NameQualifier, SPNameQualifier and SPProvidedID; NULL or "" omits each. */
    const char *name_qualifier;
    const char *sp_name_qualifier;
    const char *sp_provided_id;
    const char *assurance;      /* AuthnContextClassRef; NULL selects the profile's default */
    /* The AuthenticatingAuthority elements of the AuthnContext: authenticating_issuer
     * first unless it is NULL, then the list. */
    const char *authenticating_issuer;
    char *const *authenticating_authorities;
    size_t authenticating_authority_count;
    const char *recipient;      /* SubjectConfirmationData Recipient; NULL omits it */
    time_t issue_instant;
    /* The AuthnInstant, used when has_authn_instant is true, even at the epoch. Without
     * it a spec that copies_verified writes no AuthnStatement, and any other spec writes
     * issue_instant. */
    time_t authn_instant;
    bool has_authn_instant;
    long valid_seconds;         /* NotOnOrAfter = issue_instant + valid_seconds */
    const saml_attribute *attributes;
    size_t attribute_count;
    /* A ProxyRestriction condition (SAML 2.0 Core, section 2.5.1.6), written when
     * proxy_restricted is true. Its Count is proxy_count, or absent when proxy_count is
     * -1; its only Audience is audience when proxy_to_audience is true. */
    bool proxy_restricted;
    long proxy_count;
    bool proxy_to_audience;
} saml_assertion_spec;

/*
 * Parses a claims document (see docs/saml-profile.md) and sets name_id, name_id_format,
 * assurance, recipient and the attributes of spec; the other fields are left as they
 * are. The strings set in spec point into claims, which must outlive spec; the caller
 * frees *attributes_out with saml_attributes_free. Returns 0, or -1 with a sentence in
 * error.
 */
int saml_spec_from_json(json_t *claims, saml_assertion_spec *spec,
                        saml_attribute **attributes_out, char *error, size_t error_size);
void saml_attributes_free(saml_attribute *attributes, size_t count);

/* The member of a spec that saml_spec_check rejects. */
typedef enum saml_spec_field {
    SAML_SPEC_OK = 0,
    SAML_SPEC_ISSUER,
    SAML_SPEC_AUDIENCE,
    SAML_SPEC_NAME_ID,
    SAML_SPEC_NAME_ID_FORMAT,
    SAML_SPEC_ASSURANCE,
    SAML_SPEC_RECIPIENT,
    SAML_SPEC_VALIDITY, /* valid_seconds, or a time beyond the year 9999 */
    SAML_SPEC_ATTRIBUTES,
    SAML_SPEC_PROXY_RESTRICTION,
    SAML_SPEC_NO_MEMORY,
} saml_spec_field;

/*
 * Applies every check that saml_build_signed makes on spec, without signing, so that a
 * caller can reject a value before it reaches the HSM. Returns SAML_SPEC_OK, or the
 * member at fault with a sentence in error.
 */
saml_spec_field saml_spec_check(const saml_assertion_spec *spec, char *error,
                                size_t error_size);

typedef struct saml_signer {
    p11_key *key;
    const char *key_name; /* written to KeyInfo/KeyName; NULL selects the key's label */
    X509 *cert;           /* optional; written to KeyInfo/X509Data when set */
    /* Optional base64 text of cert's DER encoding from saml_certificate_base64. When
     * set, it is written in place of cert, which the signer then does not encode. */
    const char *cert_base64;
} saml_signer;

/*
 * Encodes cert as the base64 text of KeyInfo/X509Data/X509Certificate, for
 * saml_signer.cert_base64, so that a caller that signs often encodes its certificate
 * once. The caller frees the text with free(). Returns NULL when cert is NULL, cannot be
 * DER-encoded, or memory runs out.
 */
char *saml_certificate_base64(X509 *cert);

/*
 * Sets *size to the length of the Assertion of spec without its Signature. The signed
 * document is longer by the Signature element only. So a caller can refuse an assertion
 * too long for its use before the HSM signs it. Returns 0, or -1 when spec fails a check
 * of saml_build_signed or memory runs out.
 */
int saml_build_unsigned_size(const saml_assertion_spec *spec, size_t *size);

/*
 * Builds the Assertion and signs it with an enveloped signature (exclusive c14n,
 * SHA-256, rsa-sha256 or ecdsa-sha256 by C_Sign in the HSM). On success *xml_out is a
 * NUL-terminated document the caller frees with free(). Every caller value is checked:
 * invalid UTF-8 or a character that XML 1.0 forbids makes it fail with the field named
 * in err.
 */
int saml_build_signed(const saml_assertion_spec *spec, const saml_signer *signer,
                      char **xml_out, size_t *xml_len, p11_error *err);

/* ---- Verifying --------------------------------------------------------------- */

/* The reason a document was rejected; saml_status_code() gives its stable name. */
typedef enum saml_status {
    SAML_OK = 0,
    SAML_ERR_INPUT_TOO_LARGE,
    SAML_ERR_XML_MALFORMED,
    SAML_ERR_DOCTYPE_FORBIDDEN,
    SAML_ERR_NOT_SAML,
    SAML_ERR_ASSERTION_COUNT,
    SAML_ERR_DUPLICATE_ID,
    SAML_ERR_SIGNATURE_MISSING,
    SAML_ERR_SIGNATURE_COUNT,
    SAML_ERR_REFERENCE_INVALID,
    SAML_ERR_TRANSFORM_FORBIDDEN,
    SAML_ERR_ALGORITHM_FORBIDDEN,
    SAML_ERR_SHA1_FORBIDDEN,
    SAML_ERR_KEY_TOO_SMALL,
    SAML_ERR_SIGNATURE_ENCODING,
    SAML_ERR_ISSUER_MISSING,
    SAML_ERR_ISSUER_UNTRUSTED,
    SAML_ERR_DIGEST_MISMATCH,
    SAML_ERR_SIGNATURE_INVALID,
    SAML_ERR_SUBJECT_MISSING,
    SAML_ERR_CONDITIONS_MISSING,
    SAML_ERR_NOT_YET_VALID,
    SAML_ERR_EXPIRED,
    SAML_ERR_AUDIENCE_MISMATCH,
    SAML_ERR_REPLAYED,
    SAML_ERR_NAMESPACE_INVALID,      /* a namespace name is relative or not a URI */
    SAML_ERR_STATUS_NOT_SUCCESS,     /* the Response's top-level StatusCode */
    SAML_ERR_CONDITIONS_INVALID,     /* NotBefore is not earlier than NotOnOrAfter */
    SAML_ERR_BEARER_MISSING,         /* no SubjectConfirmation with the bearer method */
    SAML_ERR_CONFIRMATION_INVALID,   /* a bearer SubjectConfirmationData breaks the profile */
    SAML_ERR_CONFIRMATION_EXPIRED,   /* the bearer confirmation's NotOnOrAfter has passed */
    SAML_ERR_CONDITION_UNKNOWN,      /* a condition that the node does not understand */
    SAML_ERR_C14N_TOO_COMPLEX,       /* canonicalisation would exceed the verifier's bounds */
    SAML_ERR_CONTENT_UNSUPPORTED,    /* valid SAML content that the node cannot read */
    SAML_ERR_SIGNATURE_MALFORMED,    /* a Signature that breaks the XML-DSig schema */
    SAML_ERR_INTERNAL,
} saml_status;

/* Returns the stable code of a status, such as "duplicate_id". */
const char *saml_status_code(saml_status status);

/* Trust store: issuer entity IDs mapped to one or more public keys (for rollover). */
typedef struct saml_trust_store saml_trust_store;

#define SAML_TRUST_ALLOW_SHA1 0x1u /* this issuer may still sign with SHA-1 */

saml_trust_store *saml_trust_store_new(void);
void saml_trust_store_free(saml_trust_store **store);

/* The maximum number of keys that a verification tries for one issuer. The node rejects a
 * configuration that would trust more for one issuer, itself included, because it would
 * list the keys past this number but never try them. */
#define SAML_TRUST_MAX_ISSUER_KEYS 16

/* Adds a key for an issuer; issuer NULL trusts the key for any issuer. Takes a
 * reference to key. */
int saml_trust_store_add(saml_trust_store *store, const char *issuer, EVP_PKEY *key,
                         unsigned flags);

/* Loads one public key from a PEM file: from a PUBLIC KEY or RSA PUBLIC KEY (PKCS#1)
 * block, or, when the file has neither, from its first CERTIFICATE block. */
EVP_PKEY *saml_load_public_pem(const char *path, char *error, size_t error_size);

/* Replay cache: remembers assertion IDs until their NotOnOrAfter. An ID counts per
 * issuer, because each issuer makes its own IDs: one issuer reusing another's ID must
 * not block the other's assertion. */
typedef struct saml_replay_cache {
    /* Returns 1 when issuer's id was first seen now and is recorded, 0 when already
     * seen, -1 on a storage failure. */
    int (*check_and_store)(void *ctx, const char *issuer, const char *id,
                           time_t not_on_or_after);
    void *ctx;
} saml_replay_cache;

/* An in-memory replay cache for tests and the command line; a server process shares a
 * database-backed one. Thread-safe. */
typedef struct saml_replay_memory saml_replay_memory;

/* clock may be NULL to use time(NULL); entries whose NotOnOrAfter has passed by it are
 * dropped. */
saml_replay_memory *saml_replay_memory_new(time_t (*clock)(void *ctx), void *clock_ctx);
void saml_replay_memory_free(saml_replay_memory **cache);

/* Returns the cache interface for options->replay; valid while cache lives. */
saml_replay_cache saml_replay_memory_interface(saml_replay_memory *cache);

typedef struct saml_verify_options {
    time_t (*clock)(void *ctx); /* NULL selects time(NULL) */
    /* NULL, or the time in milliseconds since the epoch, which then replaces clock. The
     * window checks compare it with the fractions of NotBefore and NotOnOrAfter, and the
     * instant checks with those of the IssueInstant and AuthnInstant, while a clock of
     * whole seconds may be up to a second behind the time. */
    int64_t (*clock_ms)(void *ctx);
    /* With clock_ms, the picoseconds that the time has beyond its millisecond, 0 to
     * 999999999999, so that a time such as 09:30:00.4404567 equals a NotBefore with the
     * same fraction. */
    int64_t clock_ps;
    void *clock_ctx;                /* passed to clock or clock_ms */
    long clock_skew_seconds;        /* tolerance on NotBefore and NotOnOrAfter */
    const char *audience;           /* NULL skips the audience check */
    unsigned min_rsa_bits;          /* 0 selects 2048 */
    size_t max_input_bytes;         /* 0 selects 256 KiB */
    bool accept_signed_response;    /* a signed Response may stand for its Assertion */
    const saml_replay_cache *replay; /* NULL skips the replay check */
} saml_verify_options;

/* The ProxyRestriction condition of a verified assertion (SAML 2.0 Core, section
 * 2.5.1.6): the limits on new assertions issued on the basis of it. */
typedef struct saml_proxy_restriction {
    bool present;
    long count;       /* the Count, or -1 when absent, which sets no limit */
    char **audiences; /* the parties new assertions may be issued to; none sets no limit */
    size_t audience_count;
} saml_proxy_restriction;

/* What a verified assertion states, read only from the signed element. */
typedef struct saml_assertion {
    char *id;
    char *issuer;
    char *name_id;
    char *name_id_format;
    char *name_qualifier;    /* NULL when absent, like the next two */
    char *sp_name_qualifier;
    char *sp_provided_id;
    char *assurance;
    char **authenticating_authorities; /* of the AuthnContext, in document order */
    size_t authenticating_authority_count;
    time_t issue_instant;
    time_t authn_instant;    /* 0 when has_authn_statement is false */
    /* IssueInstant and AuthnInstant in milliseconds since the epoch, with a finer
     * fraction dropped. */
    int64_t issue_instant_ms;
    int64_t authn_instant_ms;
    bool has_authn_statement;
    /* The AuthnStatement's SessionNotOnOrAfter, the time at which the issuer's session
     * with the subject ends (SAML 2.0 Core, section 2.7.2). 0 when
     * has_session_not_on_or_after is false. The _ms and _ps members hold it as
     * not_on_or_after_ms and not_on_or_after_ps below hold NotOnOrAfter. */
    time_t session_not_on_or_after;
    int64_t session_not_on_or_after_ms;
    int64_t session_not_on_or_after_ps;
    bool has_session_not_on_or_after;
    time_t not_before; /* 0 when has_not_before is false */
    bool has_not_before;
    time_t not_on_or_after;
    /* NotBefore and NotOnOrAfter in milliseconds since the epoch, with a finer fraction
     * dropped, and the picoseconds that the fraction adds to them, 0 to 999999999999.
     * A digit of the fraction finer than the 15th is rounded towards the inside of the
     * window, which can carry into the milliseconds. */
    int64_t not_before_ms;
    int64_t not_before_ps;
    int64_t not_on_or_after_ms;
    int64_t not_on_or_after_ps;
    char **audiences;
    size_t audience_count;
    saml_attribute *attributes;
    size_t attribute_count;
    bool one_time_use; /* a OneTimeUse condition; the replay check honours every ID anyway */
    saml_proxy_restriction proxy;
} saml_assertion;

/*
 * Returns the NameQualifier that a copy of the assertion's NameID needs in a new
 * assertion by new_issuer: the NameID's own, or else the assertion's Issuer for a
 * persistent or transient NameID from another issuer. SAML 2.0 Core (sections 8.3.7 and
 * 8.3.8) lets such a NameID omit the qualifier only while it is the Issuer of the
 * assertion that contains it. Returns NULL when the copy needs none.
 */
const char *saml_name_qualifier_for_copy(const saml_assertion *assertion,
                                         const char *new_issuer);

/*
 * Returns the AuthenticatingAuthority that a copy of the assertion's AuthnStatement in a
 * new assertion by new_issuer adds: the assertion's Issuer when it differs from
 * new_issuer. SAML 2.0 Core (section 2.7.2.2) presumes that an assertion's Issuer took
 * part in the authentication and lists only the other authorities. Returns NULL when
 * the copy adds none.
 */
const char *saml_authenticating_issuer_for_copy(const saml_assertion *assertion,
                                                const char *new_issuer);

/*
 * Sets the ProxyRestriction of spec, a new assertion for spec->audience issued on the
 * basis of an assertion that carried received: Count one less than received's (none
 * when received has none), and spec->audience as the only Audience when received names
 * any. Leaves spec unchanged when received is not present. Returns 0, or -1 when
 * received forbids the new assertion: its Count is 0, or its Audiences leave out
 * spec->audience.
 */
int saml_spec_proxy_from(saml_assertion_spec *spec, const saml_proxy_restriction *received);

/*
 * Verifies a standalone Assertion or a Response with exactly one Assertion. Fails
 * closed: anything but SAML_OK leaves *out NULL. detail receives a sentence naming what
 * failed.
 */
saml_status saml_verify(const saml_trust_store *store, const saml_verify_options *options,
                        const char *xml, size_t len, saml_assertion **out, char *detail,
                        size_t detail_size);

void saml_assertion_free(saml_assertion **assertion);

/* Encodes a verified assertion as the JSON that `idsvc-admin saml verify` prints. */
json_t *saml_assertion_to_json(const saml_assertion *assertion);

/* The last second that the verifier reads and the signer writes, 9999-12-31T23:59:59Z. */
#define SAML_TIME_MAX 253402300799LL

/* Parses an xs:dateTime such as "2024-05-01T10:00:00Z" or "...T12:00:00.5+02:00" into
 * seconds since the epoch, skipping XML white space around it, as the type's whiteSpace
 * facet (collapse) does. Returns 0 on success, or -1 for text that is not an
 * xs:dateTime with a zone. Returns -2, and leaves *out unchanged, for a valid time before
 * 1970-01-01T00:00:00Z or after SAML_TIME_MAX in UTC. */
int saml_time_parse(const char *text, time_t *out);

/* Parses an xs:dateTime as saml_time_parse does, into milliseconds since the epoch. A
 * fraction finer than a millisecond is dropped. Returns what saml_time_parse returns. */
int saml_time_parse_ms(const char *text, int64_t *out);

/* Returns the picoseconds that the 4th to 15th digits of the fraction of an xs:dateTime
 * add to its millisecond, 0 to 999999999999, or 0 for a time without them. When round_up
 * is set, a further digit other than 0 adds one, so the result can be 10^12. */
int64_t saml_time_fraction_ps(const char *text, bool round_up);

/* Decodes standard base64 (RFC 4648, section 4) with its padding, as xs:base64Binary
 * and the SAML HTTP-POST binding carry it: space, tab, CR and LF may appear anywhere
 * and are skipped. Any other character, a missing or misplaced '=' and empty input are
 * invalid. Returns a NUL-terminated buffer to free() and sets *out_len, or returns NULL
 * for invalid input or when memory runs out. */
unsigned char *saml_base64_decode(const char *text, size_t len, size_t *out_len);

/* Checks text as saml_base64_decode does, without decoding it or allocating memory, so
 * that an invalid value is never confused with a failed allocation. Returns 0 and sets
 * *out_len to the length of the decoded bytes, or returns -1 for invalid input. */
int saml_base64_check(const char *text, size_t len, size_t *out_len);

#endif
