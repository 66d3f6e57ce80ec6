/*
 * WebAuthn relying-party verification: registration (RegistrationResponseJSON with an
 * attestation object) and assertion (AuthenticationResponseJSON), as described in
 * docs/webauthn.md.
 *
 * Formats packed, fido-u2f, tpm and none go through libfido2; android-key and apple use
 * own OpenSSL code. Everything libfido2 leaves to the server (clientDataJSON, credential
 * id against rawId, counters, certificate chains, the AAGUID extension) is checked here.
 * Challenge storage, single use and expiry belong to the caller.
 *
 * Every function fails closed: a rejection returns a code other than WEBAUTHN_OK and
 * fills a webauthn_error with the same code and a sentence.
 */
#ifndef IDSVC_WEBAUTHN_H
#define IDSVC_WEBAUTHN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

/* Stable rejection codes; webauthn_code_name returns the text form, as in the list. */
typedef enum webauthn_code {
    WEBAUTHN_OK = 0,
    WEBAUTHN_MALFORMED,                      /* malformed */
    WEBAUTHN_CBOR_MALFORMED,                 /* cbor_malformed */
    WEBAUTHN_CLIENT_DATA_TYPE,               /* client_data_type */
    WEBAUTHN_CHALLENGE_MISMATCH,             /* challenge_mismatch */
    WEBAUTHN_ORIGIN_NOT_ALLOWED,             /* origin_not_allowed */
    WEBAUTHN_CROSS_ORIGIN,                   /* cross_origin */
    WEBAUTHN_RP_ID_MISMATCH,                 /* rp_id_mismatch */
    WEBAUTHN_USER_PRESENCE_MISSING,          /* user_presence_missing */
    WEBAUTHN_USER_VERIFICATION_MISSING,      /* user_verification_missing */
    WEBAUTHN_CREDENTIAL_ID_MISMATCH,         /* credential_id_mismatch */
    WEBAUTHN_ALGORITHM_UNSUPPORTED,          /* algorithm_unsupported */
    WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED, /* attestation_format_unsupported */
    WEBAUTHN_ATTESTATION_INVALID,            /* attestation_invalid */
    WEBAUTHN_ATTESTATION_CHAIN_INVALID,      /* attestation_chain_invalid */
    WEBAUTHN_ATTESTATION_REQUIRED,           /* attestation_required */
    WEBAUTHN_AAGUID_MISMATCH,                /* aaguid_mismatch */
    WEBAUTHN_SIGNATURE_INVALID,              /* signature_invalid */
    WEBAUTHN_COUNTER_REGRESSION,             /* counter_regression */
    WEBAUTHN_USER_HANDLE_MISMATCH,           /* user_handle_mismatch */
    WEBAUTHN_BACKUP_ELIGIBILITY_MISMATCH,    /* backup_eligibility_mismatch */
    WEBAUTHN_INTERNAL_ERROR,        /* internal_error: our failure, not the input's */
    WEBAUTHN_ALGORITHM_NOT_OFFERED, /* algorithm_not_offered */
    WEBAUTHN_TOKEN_BINDING_MISMATCH, /* token_binding_mismatch */
} webauthn_code;

/* Returns the stable text form of a code, such as "challenge_mismatch". */
const char *webauthn_code_name(webauthn_code code);

/* A rejection: its code and a sentence that names the value at fault. */
typedef struct webauthn_error {
    webauthn_code code;
    char message[256];
} webauthn_error;

/* The attestation a deployment demands at registration. */
typedef enum webauthn_attestation_policy {
    WEBAUTHN_ATTESTATION_ANY,  /* "none": every format, `none` included, is accepted */
    WEBAUTHN_ATTESTATION_SELF, /* "self": a verified statement, self attestation or better
                                */
    WEBAUTHN_ATTESTATION_CHAIN, /* "chain": an x5c chain to a configured root */
} webauthn_attestation_policy;

/* The attestation a registration carried, after verification. */
typedef enum webauthn_attestation_type {
    WEBAUTHN_ATTESTED_NONE,  /* format none */
    WEBAUTHN_ATTESTED_SELF,  /* packed without x5c, signed by the credential key */
    WEBAUTHN_ATTESTED_BASIC, /* signed by an x5c certificate whose chain was not evaluated
                              */
    WEBAUTHN_ATTESTED_TRUSTED, /* signed by an x5c certificate that chains to a root */
} webauthn_attestation_type;

/* The relying party's settings; read-only once set up, so threads may share one. */
typedef struct webauthn_verifier webauthn_verifier;

/* Creates a verifier for one RP ID with user verification not required, crossOrigin
 * rejected, attestation policy ANY and the current time. Returns NULL when rp_id is
 * NULL or empty, or when out of memory. */
webauthn_verifier *webauthn_verifier_new(const char *rp_id);
void webauthn_verifier_free(webauthn_verifier **verifier);

/* Adds an origin that clientDataJSON may name, compared byte for byte, such as
 * "https://id.example.org". Returns 0, or -1 when out of memory. */
int webauthn_verifier_add_origin(webauthn_verifier *verifier, const char *origin);

/* Adds every certificate of a PEM file as an attestation trust anchor. Returns 0, or
 * -1 with a sentence in err when the file cannot be read or contains no certificate. */
int webauthn_verifier_add_roots_file(webauthn_verifier *verifier, const char *path,
                                     webauthn_error *err);

/* Adds one trust anchor; the verifier takes its own reference. Returns 0 or -1. */
int webauthn_verifier_add_root(webauthn_verifier *verifier, X509 *root);

void webauthn_verifier_set_policy(webauthn_verifier *verifier,
                                  webauthn_attestation_policy policy);
void webauthn_verifier_set_require_uv(webauthn_verifier *verifier, bool require_uv);
void webauthn_verifier_set_allow_cross_origin(webauthn_verifier *verifier, bool allow);

/* Pins the time at which certificate chains are checked; 0 selects the current time. */
void webauthn_verifier_set_time(webauthn_verifier *verifier, time_t at);

/*
 * Returns the COSE algorithms that a credential key may have, in the order a relying
 * party offers them in pubKeyCredParams: ES256 (-7), RS256 (-257), EdDSA (-8), ES384
 * (-35), ES512 (-36), PS256 (-37), PS384 (-38), PS512 (-39), RS384 (-258) and RS512
 * (-259). ES256 comes first, so that an authenticator that can make several prefers it.
 */
const int64_t *webauthn_credential_algorithms(size_t *count);

/* Returns the name of a COSE algorithm, such as "ES384", or "unknown". */
const char *webauthn_algorithm_name(int64_t alg);

/*
 * Sets the credential key algorithms that registration options offered, in
 * pubKeyCredParams. A registration whose credential key has another algorithm is
 * rejected with WEBAUTHN_ALGORITHM_NOT_OFFERED (WebAuthn Level 3, section 7.1). Until
 * this is called, every algorithm of webauthn_credential_algorithms is offered.
 * Returns 0, or -1 when an algorithm is not one of those or memory runs out.
 */
int webauthn_verifier_set_algorithms(webauthn_verifier *verifier, const int64_t *algs,
                                     size_t count);

/*
 * Decodes the challenge named in a response's clientDataJSON, so that the caller can
 * look it up in its challenge store and consume it before verifying. This does not
 * verify anything. The caller frees *challenge with free().
 */
webauthn_code webauthn_response_challenge(const char *response_json, size_t response_len,
                                          unsigned char **challenge,
                                          size_t *challenge_len, webauthn_error *err);

/* Compares two challenges in constant time for equal lengths; true when equal. */
bool webauthn_challenge_equal(const unsigned char *a, size_t a_len,
                              const unsigned char *b, size_t b_len);

/* A verified registration, ready to be stored with the user account. */
typedef struct webauthn_registration {
    char fmt[24]; /* attestation statement format, such as "packed" */
    webauthn_attestation_type attestation;
    unsigned char aaguid[16]; /* all zero under fido-u2f, whose signature omits it */
    unsigned char *credential_id;
    size_t credential_id_len;
    unsigned char *public_key; /* the COSE_Key exactly as in authenticator data */
    size_t public_key_len;
    int algorithm; /* COSE algorithm, one of webauthn_credential_algorithms */
    uint8_t flags; /* authenticator data flags (UP 0x01, UV 0x04, ...) */
    uint32_t sign_count;
    /* The BE flag: the credential may be backed up. Store it, and pass it back as
     * webauthn_credential.backup_eligibility, because it must not change. */
    bool backup_eligible;
} webauthn_registration;

/*
 * Verifies a RegistrationResponseJSON against the expected challenge (the raw bytes the
 * server sent, not their base64url form). On WEBAUTHN_OK, *out is set and the caller
 * frees it with webauthn_registration_free.
 */
webauthn_code webauthn_verify_registration(const webauthn_verifier *verifier,
                                           const unsigned char *challenge,
                                           size_t challenge_len,
                                           const char *response_json, size_t response_len,
                                           webauthn_registration **out,
                                           webauthn_error *err);
void webauthn_registration_free(webauthn_registration **registration);

/* The BE flag that the registration of a stored credential reported. */
typedef enum webauthn_backup_eligibility {
    WEBAUTHN_BACKUP_UNKNOWN = 0, /* not recorded, so an assertion's BE is not compared */
    WEBAUTHN_BACKUP_INELIGIBLE, /* BE was clear, so it must be clear in every assertion */
    WEBAUTHN_BACKUP_ELIGIBLE,   /* BE was set, so it must be set in every assertion */
} webauthn_backup_eligibility;

/* What the relying party stored at registration. */
typedef struct webauthn_credential {
    const unsigned char *id; /* when set, the response's rawId must equal it */
    size_t id_len;
    const unsigned char *public_key; /* COSE_Key */
    size_t public_key_len;
    uint32_t sign_count;
    /* The owner's user handle. When set, a response that carries a non-empty
     * userHandle must carry this one (WebAuthn Level 2, section 7.2, step 6). */
    const unsigned char *user_handle;
    size_t user_handle_len;
    /* BE at registration (WebAuthn Level 3, section 7.2): an assertion whose BE flag
     * differs is rejected with WEBAUTHN_BACKUP_ELIGIBILITY_MISMATCH. */
    webauthn_backup_eligibility backup_eligibility;
} webauthn_credential;

/* The outcome of an assertion whose signature verified. */
typedef struct webauthn_assertion {
    uint8_t flags;
    uint32_t sign_count;  /* the counter the authenticator reported */
    bool backup_eligible; /* the BE flag, for a credential stored without one */
} webauthn_assertion;

/*
 * Verifies an AuthenticationResponseJSON with the stored credential. The new counter
 * must be greater than the stored one, unless both are zero. A counter that did not
 * grow returns WEBAUTHN_COUNTER_REGRESSION only after the signature verified, and *out
 * is filled then too, so that the caller can mark the authenticator as possibly cloned.
 */
webauthn_code webauthn_verify_assertion(const webauthn_verifier *verifier,
                                        const unsigned char *challenge,
                                        size_t challenge_len,
                                        const webauthn_credential *credential,
                                        const char *response_json, size_t response_len,
                                        webauthn_assertion *out, webauthn_error *err);

/*
 * A stored credential public key, decoded and checked once so that assertions need not
 * decode it again. The route layer can keep one per authenticator. It is read-only once
 * made, so threads may share one.
 */
typedef struct webauthn_public_key webauthn_public_key;

/*
 * Decodes and checks a COSE_Key as stored from webauthn_registration.public_key, with
 * the same rules as an assertion applies to credential->public_key. On WEBAUTHN_OK,
 * *out is set and the caller frees it with webauthn_public_key_free.
 */
webauthn_code webauthn_public_key_parse(const unsigned char *cose_key, size_t len,
                                        webauthn_public_key **out, webauthn_error *err);
void webauthn_public_key_free(webauthn_public_key **key);

/* Returns the COSE algorithm of a parsed key, one of webauthn_credential_algorithms. */
int webauthn_public_key_algorithm(const webauthn_public_key *key);

/*
 * Verifies an assertion as webauthn_verify_assertion does, with the stored key already
 * parsed. credential->id and credential->sign_count are used as there. When
 * credential->public_key is set, it must be the COSE_Key that key was parsed from, or
 * the call fails with WEBAUTHN_INTERNAL_ERROR; it may be NULL.
 */
webauthn_code webauthn_verify_assertion_key(
    const webauthn_verifier *verifier, const unsigned char *challenge,
    size_t challenge_len, const webauthn_credential *credential,
    const webauthn_public_key *key, const char *response_json, size_t response_len,
    webauthn_assertion *out, webauthn_error *err);

/* Strict unpadded base64url, as WebAuthn JSON uses it. Decoding rejects padding,
 * whitespace and non-zero unused bits; both return 0 or -1, and the caller frees. */
int webauthn_base64url_decode(const char *text, size_t text_len, unsigned char **out,
                              size_t *out_len);
int webauthn_base64url_encode(const unsigned char *data, size_t len, char **out);

/* Decodes base64url as webauthn_base64url_decode does, but also takes the padding of RFC
 * 4648 section 3.2 when it is complete and correct, as some encoders write it. Used for
 * the outer members of a response, whose bytes are the same either way. */
int webauthn_base64url_decode_padded(const char *text, size_t text_len, unsigned char **out,
                                     size_t *out_len);

#endif
