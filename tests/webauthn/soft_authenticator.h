/*
 * A software WebAuthn authenticator and client for tests: OpenSSL keys (P-256, P-384,
 * P-521, RSA-2048, Ed25519), authenticator data and attestation objects built with
 * libcbor, and the RegistrationResponseJSON and AuthenticationResponseJSON a browser
 * would send. Every field can be set wrong on purpose, so that each rejection has a case.
 */
#ifndef IDSVC_SOFT_AUTHENTICATOR_H
#define IDSVC_SOFT_AUTHENTICATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "webauthn.h"

#define SOFT_RP_ID "id.example.org"
#define SOFT_ORIGIN "https://id.example.org"

typedef enum soft_format {
    SOFT_FORMAT_NONE,
    SOFT_FORMAT_PACKED_SELF,
    SOFT_FORMAT_PACKED_X5C,  /* signed by an attestation certificate from a test CA */
    SOFT_FORMAT_FIDO_U2F,    /* the same certificate; needs an ES256 credential */
    SOFT_FORMAT_TPM,         /* by the AIK of soft_ca_add_aik; an EC or RSA credential */
    SOFT_FORMAT_ANDROID_KEY, /* a certificate for the credential key, issued by the CA */
    SOFT_FORMAT_APPLE,       /* the same, with the apple nonce extension */
    SOFT_FORMAT_ANDROID_SAFETYNET, /* a JWS as soft_safetynet.h builds it */
} soft_format;

struct soft_safetynet;

/* A fault in a tpm statement whose certInfo the AIK still signs. A platform that has
 * its TPM certify a key could send such a statement. */
typedef enum soft_tpm_fault {
    SOFT_TPM_OK,
    SOFT_TPM_MAGIC,      /* certInfo magic is not TPM_GENERATED_VALUE */
    SOFT_TPM_TYPE,       /* certInfo type is not TPM_ST_ATTEST_CERTIFY */
    SOFT_TPM_EXTRA_DATA, /* extraData is not the hash of authData || clientDataHash */
    SOFT_TPM_NAME,       /* pubArea changed after certInfo named it */
    SOFT_TPM_OTHER_KEY,  /* pubArea, and the name in certInfo, describe another key */
    SOFT_TPM_PUB_AREA_TRAILING,  /* a zero byte after the unique field of pubArea */
    SOFT_TPM_CERT_INFO_TRAILING, /* a zero byte after the end of certInfo */
    SOFT_TPM_EXPONENT, /* an RSA pubArea names the exponent 3 (ES256: unchanged) */
    SOFT_TPM_KEY_BITS, /* an RSA pubArea names keyBits 1024 for its 2048-bit modulus */
    SOFT_TPM_CURVE,    /* an ECC pubArea names the next TPM_ECC_CURVE, P-384 for P-256 */
    SOFT_TPM_PUB_AREA_TYPE,  /* pubArea type is TPM_ALG_KEYEDHASH (0x0008) */
    SOFT_TPM_SYMMETRIC,      /* pubArea symmetric is AES-128 in CFB mode, not NULL */
    SOFT_TPM_DECRYPT_SCHEME, /* pubArea scheme is RSAES or ECDH, no signing scheme */
    /* pubArea scheme is a signing scheme of another algorithm than the key's: ECDAA for
     * an ES key, RSASSA for a PS key and RSAPSS for an RS key */
    SOFT_TPM_OTHER_SCHEME,
    SOFT_TPM_SCHEME_HASH, /* pubArea scheme is the key's own, but with SHA-1 */
    SOFT_TPM_KDF,         /* an ECC pubArea kdf is TPM_ALG_RSA (0x0001), no kdf */
} soft_tpm_fault;

/* A fault in the KeyDescription of an android-key certificate whose DER is valid. */
typedef enum soft_android_fault {
    SOFT_ANDROID_OK,
    SOFT_ANDROID_CHALLENGE,       /* attestationChallenge differs in its last byte */
    SOFT_ANDROID_ORIGIN_IMPORTED, /* hardware-enforced origin KM_ORIGIN_IMPORTED (2) */
    SOFT_ANDROID_PURPOSE_VERIFY,  /* hardware-enforced purpose VERIFY (3), not SIGN */
} soft_android_fault;

/* A fault in the sig member of a packed, fido-u2f, tpm or android-key statement. */
typedef enum soft_sig_fault {
    SOFT_SIG_OK,
    SOFT_SIG_MISSING, /* no sig member */
    SOFT_SIG_EMPTY,   /* an empty byte string */
    SOFT_SIG_TEXT,    /* the text string "sig" */
} soft_sig_fault;

/* A test certificate authority and the packed attestation certificate it issued. */
typedef struct soft_ca {
    EVP_PKEY *ca_key;
    const EVP_MD *ca_md; /* the hash that the CA signs its certificates with */
    X509 *ca_cert;
    EVP_PKEY *attestation_key;
    X509 *attestation_cert;
    EVP_PKEY *aik_key; /* TPM attestation key (AIK); NULL until soft_ca_add_aik */
    X509 *aik_cert;
} soft_ca;

typedef struct soft_authenticator {
    EVP_PKEY *key;
    int alg; /* the COSE alg of the credential key */
    /* The COSE algorithm the key signs with, when not 0, so that a signature can be
     * made by another algorithm than the key's alg (PS256 for an RS256 key). */
    int signature_alg;
    unsigned char credential_id[32];
    unsigned char aaguid[16];
} soft_authenticator;

/* What one ceremony sends; soft_ceremony_defaults gives a valid registration. */
typedef struct soft_ceremony {
    const char *type;         /* clientDataJSON type; NULL selects the right one */
    const char *origin;       /* clientDataJSON origin */
    const char *rp_id;        /* hashed into rpIdHash */
    const char *cross_origin; /* literal JSON value, or NULL to omit crossOrigin */
    /* Bytes sent before the clientDataJSON object, such as a byte order mark, and
     * members added after the others, as JSON text that starts with a comma. */
    const char *client_data_prefix;
    const char *client_data_members;
    unsigned char challenge[32];
    const char *challenge_suffix; /* text after the challenge's base64url, or NULL */
    uint8_t flags; /* UP, UV, BE, BS; AT is added for registrations */
    uint32_t sign_count;
    soft_format format;
    const soft_ca *ca;     /* for SOFT_FORMAT_PACKED_X5C */
    int packed_alg;        /* the alg of a packed x5c statement; 0 selects ES256 */
    bool other_raw_id;     /* id and rawId name another credential than authData */
    bool other_id_only;    /* only id differs from rawId */
    bool tamper_signature; /* flip a bit of the signature */
    bool ecdaa_key_id;     /* packed x5c and tpm: an ecdaaKeyId in place of x5c */
    soft_sig_fault sig_fault;
    const char *credential_protect; /* extension value in authData, or NULL */
    /* An extension output named this in authData, or NULL; its value is 32 zero bytes,
     * the text "x" when extension_text is set, or true when extension_true is set. The
     * name may contain a NUL byte, so extension_name_len gives its length. */
    const char *extension_name;
    size_t extension_name_len;
    bool extension_text;
    bool extension_true;
    bool extension_uint;         /* the value is the unsigned integer 4 */
    const char *format_name;     /* replaces the fmt text when set */
    bool corrupt_cert_key;       /* make the x5c certificate key undecodable */
    /* The count of unused bits that the packed or fido-u2f certificate's signatureValue
     * BIT STRING declares, in place of 0, as some Yubico certificates declare 2. */
    unsigned char cert_signature_unused_bits;
    bool corrupt_credential_key; /* flip the last bit of the COSE key in authData */
    /* Out of CTAP2 canonical order, which CBOR allows: sig before alg in attStmt, and
     * alg (3) before kty (1) in the COSE key in authData. */
    bool att_stmt_unordered;
    bool credential_key_unordered;
    /* authData, fmt, attStmt in the attestation object, the order that Firefox's
     * authenticator-rs wrote until February 2023; canonical is fmt, attStmt, authData. */
    bool attestation_object_unordered;
    /* attestationSecurityLevel and keyMintSecurityLevel of an android-key KeyDescription
     * (0 Software, 1 TrustedEnvironment, 2 StrongBox). The hardware-enforced list always
     * claims KM_PURPOSE_SIGN and KM_ORIGIN_GENERATED. */
    int android_attestation_level;
    int android_key_level;
    /* Adds allApplications to the software-enforced (1) or the hardware-enforced (2)
     * list of the KeyDescription. The value 0 leaves it out. */
    int android_all_applications;
    soft_android_fault android_fault;
    /* The KeyDescription DER to send as it is, in place of the one built from the
     * members above, when android_description is not NULL. */
    const unsigned char *android_description;
    size_t android_description_len;
    bool android_no_description; /* leave the KeyDescription extension out */
    /* The value of the apple nonce extension to send as it is, when apple_nonce is not
     * NULL, and whether to leave the extension out. */
    const unsigned char *apple_nonce;
    size_t apple_nonce_len;
    bool apple_no_nonce;
    /* An attStmt member to replace with the CBOR item att_stmt_value encodes, or to
     * remove when att_stmt_value is NULL. The change is made after the statement is
     * signed, so it applies to any format. */
    const char *att_stmt_member;
    const unsigned char *att_stmt_value;
    size_t att_stmt_value_len;
    /* The key that signs the android-key statement and that its certificate certifies,
     * when not the credential key. */
    EVP_PKEY *android_key;
    /* The key that the apple certificate certifies, when not the credential key. */
    EVP_PKEY *apple_certified_key;
    /* The android-safetynet statement to send, for SOFT_FORMAT_ANDROID_SAFETYNET. */
    const struct soft_safetynet *safetynet;
    size_t trailing_zero_bytes; /* zero bytes appended to authData, after every field */
    soft_tpm_fault tpm_fault;
    /* When not 0, only the first so many bytes of pubArea or certInfo are sent. */
    size_t tpm_pub_area_cut;
    size_t tpm_cert_info_cut;
    /* The COSE algorithm that the tpm statement names in alg (RS1 by default) and the
     * one that the AIK signs certInfo with, when tpm_signature_alg is not 0. */
    int tpm_alg;
    int tpm_signature_alg;
    /* The TPM_ALG_ID of the pubArea nameAlg, which also hashes the attested name in
     * certInfo; 0 selects TPM_ALG_SHA256 (0x000b). */
    unsigned tpm_name_alg;
    /* The TPM_ALG_ID of the hash that computes the digest of the attested name in
     * certInfo, when not 0. The name still starts with tpm_name_alg, so a value other
     * than tpm_name_alg makes a name that is not the name of pubArea. */
    unsigned tpm_name_hash_alg;
    /* pubArea names the signing scheme of the credential key's alg with its hash (such
     * as ECDSA with SHA-384 for ES384) and, for an ECC key, the key derivation scheme
     * MGF1 with SHA-256, in place of TPM_ALG_NULL. */
    bool tpm_schemes;
    bool tpm_pss_max_salt; /* a PS* signature with the longest salt the key allows */
    /* The same for a packed statement's or an assertion's PS* signature. */
    bool pss_max_salt;
    /* The userHandle of an assertion response: user_handle_len bytes, or omitted when
     * NULL. user_handle_json, when set, is sent as it is instead (such as "null"). */
    const unsigned char *user_handle;
    size_t user_handle_len;
    const char *user_handle_json;
} soft_ceremony;

/* Creates an authenticator with a fresh key for alg: P-256 for ES256 (-7), P-384 for
 * ES384 (-35), P-521 for ES512 (-36), RSA-2048 for RS256, RS384, RS512, PS256, PS384
 * and PS512 (-257, -258, -259, -37, -38, -39), Ed25519 for EdDSA (-8). The COSE key
 * takes its crv from the key, so setting alg afterwards mislabels it. */
int soft_authenticator_init(soft_authenticator *auth, int alg);

/* Creates an RS256 authenticator whose RSA-2048 key has the given public exponent. */
int soft_authenticator_init_rsa(soft_authenticator *auth, unsigned exponent);

/* Creates an authenticator for the RSA algorithm alg whose key has the given modulus
 * size in bits and public exponent. */
int soft_authenticator_init_rsa_bits(soft_authenticator *auth, int alg, unsigned bits,
                                     unsigned exponent);
void soft_authenticator_clear(soft_authenticator *auth);

/* Creates a CA and an attestation certificate for packed. cert_aaguid, when not NULL,
 * goes into the id-fido-gen-ce-aaguid extension. */
int soft_ca_init(soft_ca *ca, const unsigned char *cert_aaguid);

/* Does what soft_ca_init does with an attestation key on another curve, named as
 * EVP_EC_gen takes it ("P-384", "secp256k1"), or an RSA-2048 key for "RSA". */
int soft_ca_init_curve(soft_ca *ca, const unsigned char *cert_aaguid,
                       const char *attestation_curve);
/* Does what soft_ca_init does with an SM2 CA key that signs every certificate with SM3
 * (SM2-with-SM3), as the CA of a TPM vendor in China may. */
int soft_ca_init_sm2(soft_ca *ca, const unsigned char *cert_aaguid);
void soft_ca_clear(soft_ca *ca);

/* Adds an RSA-2048 TPM attestation key and its certificate, issued by the CA: version 3,
 * an empty subject, a critical subject alternative name with the TPM manufacturer, model
 * and version, and the extended key usage 2.23.133.8.3. */
int soft_ca_add_aik(soft_ca *ca);

/* Does what soft_ca_add_aik does with an RSA AIK of bits bits. */
int soft_ca_add_aik_rsa(soft_ca *ca, unsigned bits);

/* Does what soft_ca_add_aik does with an EC AIK on the curve named as EVP_EC_gen takes
 * it ("P-256", "P-384"). Either function replaces an AIK added before. */
int soft_ca_add_aik_ec(soft_ca *ca, const char *curve);

void soft_ceremony_defaults(soft_ceremony *ceremony);

/* One change to a valid ceremony, for tables of rejection cases. A member left NULL,
 * 0 or false keeps what the ceremony has. */
typedef struct soft_change {
    const char *label; /* names the case in a failure message */
    const char *type;
    const char *origin;
    const char *rp_id;
    const char *cross_origin;
    uint8_t flags;
    size_t challenge_byte;  /* the challenge byte that challenge_mask flips */
    uint8_t challenge_mask; /* the bits to flip; 0 keeps the challenge */
    bool other_raw_id;
    bool other_id_only;
} soft_change;

/* Applies the members that change sets to ceremony. */
void soft_ceremony_apply(soft_ceremony *ceremony, const soft_change *change);

/* Returns the COSE_Key of the credential; the caller frees it. */
unsigned char *soft_cose_key(const soft_authenticator *auth, size_t *len);

/* Builds the attestation object alone; the caller frees it. */
unsigned char *soft_attestation_object(const soft_authenticator *auth,
                                       const soft_ceremony *ceremony,
                                       const unsigned char *client_data_hash,
                                       size_t *len);

/* Returns RegistrationResponseJSON with attestationObject replaced by the given bytes
 * when attestation_object is not NULL; the caller frees the text. */
char *soft_register(const soft_authenticator *auth, const soft_ceremony *ceremony,
                    const unsigned char *attestation_object,
                    size_t attestation_object_len);

/* Builds a registration with soft_register and verifies it with verifier against the
 * default challenge. Frees *reg first. Returns the verifier's code, or
 * WEBAUTHN_INTERNAL_ERROR with a message in err when the response could not be built. */
webauthn_code soft_register_verify(const soft_authenticator *auth,
                                   const soft_ceremony *ceremony,
                                   const unsigned char *attestation_object,
                                   size_t attestation_object_len,
                                   const webauthn_verifier *verifier,
                                   webauthn_registration **reg, webauthn_error *err);

/* Returns AuthenticationResponseJSON; the caller frees the text. */
char *soft_authenticate(const soft_authenticator *auth, const soft_ceremony *ceremony);

/* Returns base64url text of data; the caller frees it. */
char *soft_base64url(const unsigned char *data, size_t len);

#endif
