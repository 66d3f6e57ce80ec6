/* Declarations shared by the webauthn_*.c files; not part of the public interface. */
#ifndef IDSVC_WEBAUTHN_INTERNAL_H
#define IDSVC_WEBAUTHN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cbor.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "webauthn.h"

/* Limits on input sizes. NOTE: these are estimates with wide margins: real attestation
 * objects seen so far (TPM and Android chains included) stay below 8 KiB. */
#define WEBAUTHN_MAX_RESPONSE_JSON (256 * 1024)
#define WEBAUTHN_MAX_CBOR (64 * 1024)
#define WEBAUTHN_MAX_CBOR_DEPTH 16
#define WEBAUTHN_MAX_CREDENTIAL_ID 1023 /* WebAuthn Level 3 caps credential ids here */

/* Authenticator data flags. */
#define WEBAUTHN_FLAG_UP 0x01
#define WEBAUTHN_FLAG_UV 0x04
#define WEBAUTHN_FLAG_BE 0x08
#define WEBAUTHN_FLAG_BS 0x10
#define WEBAUTHN_FLAG_AT 0x40
#define WEBAUTHN_FLAG_ED 0x80

/* COSE algorithm identifiers (IANA COSE Algorithms registry). */
#define WEBAUTHN_COSE_ES256 (-7)
#define WEBAUTHN_COSE_EDDSA (-8)
#define WEBAUTHN_COSE_RS256 (-257)
#define WEBAUTHN_COSE_RS1 (-65535)
#define WEBAUTHN_COSE_ES384 (-35)
#define WEBAUTHN_COSE_ES512 (-36)
#define WEBAUTHN_COSE_PS256 (-37)
#define WEBAUTHN_COSE_PS384 (-38)
#define WEBAUTHN_COSE_PS512 (-39)
#define WEBAUTHN_COSE_RS384 (-258)
#define WEBAUTHN_COSE_RS512 (-259)

struct webauthn_verifier {
    char *rp_id;
    unsigned char
        rp_id_hash[32]; /* SHA-256 of rp_id, as authenticator data contains it */
    char **origins;
    size_t origin_count;
    X509_STORE *roots;
    size_t root_count;
    webauthn_attestation_policy policy;
    bool require_uv;
    bool allow_cross_origin;
    int64_t *algorithms; /* NULL: every one of webauthn_credential_algorithms */
    size_t algorithm_count;
    time_t at; /* 0: the current time */
};

/* Returns true when the verifier's registration options offered alg. */
bool webauthn_verifier_offers(const webauthn_verifier *verifier, int64_t alg);

/* Returns SHA-256 fetched once per process, or NULL when OpenSSL cannot provide it. */
const EVP_MD *webauthn_sha256_md(void);

/* Computes SHA-256 of data into hash. Returns 0, or -1 when OpenSSL fails. */
int webauthn_sha256(const unsigned char *data, size_t len, unsigned char hash[32]);

/* The name that OpenSSL 3 fetches SM3 (GB/T 32905-2016) by. A build of the tests
 * defines another one, to run the rejection of a build without SM3. */
#ifndef WEBAUTHN_SM3_NAME
#define WEBAUTHN_SM3_NAME "SM3"
#endif

/* Returns SM3 fetched once per process, or NULL when OpenSSL provides no SM3, as a
 * build configured with no-sm3 does. */
const EVP_MD *webauthn_sm3_md(void);

/* Fills err with code and a formatted sentence, and returns code. */
webauthn_code webauthn_fail(webauthn_error *err, webauthn_code code, const char *format,
                            ...) __attribute__((format(printf, 3, 4)));

/* ---- JSON responses --------------------------------------------------------------- */

/* Parses response JSON with duplicate keys rejected and a size cap. */
webauthn_code webauthn_json_load(const char *text, size_t len, json_t **out,
                                 webauthn_error *err);

/* Decodes the base64url string member key of object; what names it in messages. */
webauthn_code webauthn_json_bytes(const json_t *object, const char *key, const char *what,
                                  unsigned char **out, size_t *out_len,
                                  webauthn_error *err);

/* Decodes the challenge member of a parsed clientDataJSON, which must be unpadded.
 * Both the challenge lookup and the verification use it, so that a challenge the
 * verification rejects is rejected before the lookup consumes the stored one. */
webauthn_code webauthn_json_challenge(const json_t *client_data, unsigned char **out,
                                      size_t *out_len, webauthn_error *err);

/* Reads id, rawId and type of a PublicKeyCredential JSON and checks that id and rawId
 * name the same bytes; *raw_id is the decoded rawId for the caller to free. */
webauthn_code webauthn_json_credential(const json_t *root, unsigned char **raw_id,
                                       size_t *raw_id_len, const json_t **response,
                                       webauthn_error *err);

/* ---- clientDataJSON --------------------------------------------------------------- */

/* Parses clientDataJSON after the UTF-8 decode that WebAuthn Level 3 prescribes, which
 * drops a leading byte order mark and replaces invalid UTF-8 with U+FFFD. */
webauthn_code webauthn_client_data_parse(const unsigned char *bytes, size_t len,
                                         json_t **out, webauthn_error *err);

/* Checks type, challenge, origin, crossOrigin and topOrigin, and computes the SHA-256
 * of the bytes as received. */
webauthn_code webauthn_client_data_verify(const webauthn_verifier *verifier,
                                          const char *expected_type,
                                          const unsigned char *challenge,
                                          size_t challenge_len, const unsigned char *json,
                                          size_t len, unsigned char hash[32],
                                          webauthn_error *err);

/* ---- CBOR ------------------------------------------------------------------------- */

/* Checks that buf starts with one well-formed CBOR item with definite lengths, no tags,
 * nesting at most WEBAUTHN_MAX_CBOR_DEPTH, and every declared length within the input.
 * *item_len is its length in bytes. It must run before cbor_load, because
 * libcbor 0.8 allocates from a declared length before reading the elements. */
webauthn_code webauthn_cbor_check(const unsigned char *buf, size_t len, size_t *item_len,
                                  webauthn_error *err);

/* Checks the whole buffer as exactly one item, then loads it with libcbor. */
webauthn_code webauthn_cbor_load(const unsigned char *buf, size_t len, cbor_item_t **out,
                                 webauthn_error *err);

/* Finds the value of a text key in a definite map; NULL when absent. Two equal keys
 * make it fail with WEBAUTHN_CBOR_MALFORMED, the code of webauthn_cbor_check. */
webauthn_code webauthn_cbor_map_text(const cbor_item_t *map, const char *key,
                                     const cbor_item_t **value, webauthn_error *err);

/* Finds the value of an integer key in a definite map, with the same rules. */
webauthn_code webauthn_cbor_map_int(const cbor_item_t *map, int64_t key,
                                    const cbor_item_t **value, webauthn_error *err);

/* Returns true when the keys of a definite map are in CTAP2 canonical order, which
 * libfido2 1.12 requires of every map it reads. That order puts unsigned integers
 * first, then negative integers, then text strings, with integers by value and text by
 * length, then bytewise. A key of any other type makes it false. */
bool webauthn_cbor_map_canonical(const cbor_item_t *map);

/* Reads an unsigned or negative integer as int64_t; -1 when it is not one or too big. */
int webauthn_cbor_int(const cbor_item_t *item, int64_t *out);

/* ---- Authenticator data ----------------------------------------------------------- */

typedef struct webauthn_auth_data {
    const unsigned char *raw; /* the whole authenticator data, borrowed */
    size_t raw_len;
    const unsigned char *rp_id_hash; /* 32 bytes inside raw */
    uint8_t flags;
    uint32_t sign_count;
    unsigned char aaguid[16];
    const unsigned char *credential_id; /* inside raw; NULL without attested data */
    size_t credential_id_len;
    const unsigned char *public_key; /* COSE_Key inside raw */
    size_t public_key_len;
    const unsigned char *extensions; /* extensions map inside raw; NULL when absent */
    size_t extensions_len;
} webauthn_auth_data;

/* Splits authenticator data into its fields; attested credential data must be present
 * when with_credential is set. Trailing bytes are rejected. */
webauthn_code webauthn_auth_data_parse(const unsigned char *raw, size_t len,
                                       bool with_credential, webauthn_auth_data *out,
                                       webauthn_error *err);

/* Checks rpIdHash, user presence, user verification when required, and BE/BS. */
webauthn_code webauthn_auth_data_verify(const webauthn_verifier *verifier,
                                        const webauthn_auth_data *auth_data,
                                        webauthn_error *err);

/* ---- COSE keys -------------------------------------------------------------------- */

/* The credential key algorithms, for messages. */
#define WEBAUTHN_CREDENTIAL_ALG_NAMES                                                    \
    "ES256, RS256, EdDSA, ES384, ES512, PS256, PS384, PS512, RS384 and RS512"

typedef struct webauthn_cose_key {
    int alg;        /* one of webauthn_credential_algorithms */
    EVP_PKEY *pkey; /* NULL for an ES256 or RS256 key parsed without with_pkey */
    /* True for a key that libfido2 1.12 decodes: ES256, EdDSA, and RS256 with a
     * 256-byte modulus and a 3-byte exponent, the sizes of its rs256_pk_t. */
    bool libfido2_key;
} webauthn_cose_key;

/* Parses and checks a COSE_Key of one of webauthn_credential_algorithms: EC2 keys on
 * the curve that the alg names (ES256 P-256, ES384 P-384, ES512 P-521), RSA keys, and
 * Ed25519 keys. An ES256 key, or an RS256 key that libfido2 decodes, gets an EVP_PKEY
 * only when with_pkey is set, because building one costs more than the checks and a
 * registration seldom needs it. Keys of the other algorithms always get one. */
webauthn_code webauthn_cose_key_parse(const unsigned char *buf, size_t len,
                                      bool with_pkey, webauthn_cose_key *out,
                                      webauthn_error *err);
void webauthn_cose_key_clear(webauthn_cose_key *key);
const char *webauthn_cose_alg_name(int64_t alg);

/* Returns the parsed key of a webauthn_public_key, or NULL when cose_key is not NULL
 * and differs from the bytes the key was parsed from. */
const webauthn_cose_key *webauthn_public_key_cose(const webauthn_public_key *key,
                                                  const unsigned char *cose_key,
                                                  size_t len);

/* ---- Attestation ------------------------------------------------------------------ */

typedef struct webauthn_attestation_input {
    const webauthn_verifier *verifier;
    const char *fmt;
    const cbor_item_t *att_stmt; /* a definite map */
    const webauthn_auth_data *auth_data;
    const webauthn_cose_key *credential_key;
    const unsigned char *client_data_hash; /* 32 bytes */
} webauthn_attestation_input;

typedef struct webauthn_attestation_output {
    webauthn_attestation_type type;
    STACK_OF(X509) * x5c; /* leaf first; owned, NULL for none and self */
} webauthn_attestation_output;

webauthn_code webauthn_attest_none(const webauthn_attestation_input *in,
                                   webauthn_attestation_output *out, webauthn_error *err);
webauthn_code webauthn_attest_packed(const webauthn_attestation_input *in,
                                     webauthn_attestation_output *out,
                                     webauthn_error *err);
webauthn_code webauthn_attest_fido_u2f(const webauthn_attestation_input *in,
                                       webauthn_attestation_output *out,
                                       webauthn_error *err);
webauthn_code webauthn_attest_tpm(const webauthn_attestation_input *in,
                                  webauthn_attestation_output *out, webauthn_error *err);

/* Verifies a packed, fido-u2f or tpm (RS1) statement with libfido2's fido_cred_verify,
 * which checks the statement signature, and for tpm also certInfo and pubArea. */
webauthn_code webauthn_fido_verify(const webauthn_attestation_input *in,
                                   webauthn_error *err);

/* Checks the extension outputs in a registration's authenticator data that libfido2
 * 1.12 decodes: the types of credBlob, hmac-secret, credProtect and minPinLength, and the
 * credProtect level. Every format gets these checks, not only those libfido2 verifies. */
webauthn_code webauthn_check_extension_outputs(const webauthn_auth_data *ad,
                                               webauthn_error *err);

/* Returns true for ES256, RS256 and EdDSA, the algorithms whose packed statements
 * libfido2 1.12 verifies. */
bool webauthn_libfido2_alg(int64_t alg);

/* Finds sig in attStmt and checks that it is a non-empty byte string. */
webauthn_code webauthn_att_stmt_sig(const cbor_item_t *att_stmt, const char *fmt,
                                    const cbor_item_t **sig, webauthn_error *err);

/* Verifies the attStmt sig, which must be a byte string, as the signature by key under
 * alg over authenticatorData || clientDataHash. A signature that does not verify is
 * attestation_invalid. */
webauthn_code webauthn_verify_att_signature(const webauthn_attestation_input *in,
                                            EVP_PKEY *key, int64_t alg,
                                            webauthn_error *err);

/* Reads the integer member key of attStmt. A missing or non-integer member is
 * attestation_invalid. */
webauthn_code webauthn_att_stmt_int(const cbor_item_t *att_stmt, const char *key,
                                    int64_t *out, webauthn_error *err);

/* Rejects a statement that has an ecdaaKeyId as attestation_format_unsupported.
 * WebAuthn Level 2 let packed and tpm statements carry one in place of x5c, and Level 3
 * removed ECDAA. */
webauthn_code webauthn_reject_ecdaa(const cbor_item_t *att_stmt, const char *fmt,
                                    webauthn_error *err);

/* Finds the member key of attStmt, which must be present. The caller checks its type. */
webauthn_code webauthn_att_stmt_member(const cbor_item_t *att_stmt, const char *key,
                                       const cbor_item_t **value, webauthn_error *err);

/* A COSE signature algorithm other than EdDSA, and the hash that it employs, which
 * for tpm statements also computes certInfo.extraData. */
typedef struct webauthn_sig_alg {
    int64_t alg;
    const char *name;          /* "RS256" */
    const char *hash_name;     /* "SHA-256", for messages */
    const EVP_MD *(*md)(void); /* EVP_sha256 */
    int padding;   /* RSA_PKCS1_PADDING, RSA_PKCS1_PSS_PADDING, or 0 for ECDSA */
    int curve_nid; /* the ECDSA curve; NID_undef for RSA */
} webauthn_sig_alg;

/* Returns alg, one of RS1, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 and
 * ES512, or NULL for any other value (EdDSA included). */
const webauthn_sig_alg *webauthn_sig_alg_find(int64_t alg);

/* Sets the RSA padding of sig_alg, and for PSS the MGF1 hash and a salt length equal
 * to the hash length. Does nothing for ECDSA. Returns false when OpenSSL fails. */
bool webauthn_sig_set_padding(EVP_PKEY_CTX *pkey_ctx, const webauthn_sig_alg *sig_alg);

/* Returns the NID of an EC key's named curve, or NID_undef. */
int webauthn_ec_curve_nid(const EVP_PKEY *key);

/* Checks that tpm certInfo and pubArea are well formed and certify the credential key
 * for this ceremony, with extraData hashed as tpm_alg prescribes, naming the first
 * field that is not. The credential key must be ECDSA or RSA. */
webauthn_code webauthn_tpm_check_structures(const webauthn_attestation_input *in,
                                            const webauthn_sig_alg *tpm_alg,
                                            const cbor_item_t *cert_info,
                                            const cbor_item_t *pub_area,
                                            webauthn_error *err);

/* Checks that the key of aik fits tpm_alg and that sig, a byte string, is its
 * signature over the certInfo byte string. */
webauthn_code webauthn_tpm_verify_signature(const webauthn_sig_alg *tpm_alg, X509 *aik,
                                            const cbor_item_t *cert_info,
                                            const cbor_item_t *sig, webauthn_error *err);
webauthn_code webauthn_attest_android_key(const webauthn_attestation_input *in,
                                          webauthn_attestation_output *out,
                                          webauthn_error *err);
webauthn_code webauthn_attest_apple(const webauthn_attestation_input *in,
                                    webauthn_attestation_output *out,
                                    webauthn_error *err);
webauthn_code webauthn_attest_android_safetynet(const webauthn_attestation_input *in,
                                                webauthn_attestation_output *out,
                                                webauthn_error *err);

/* ---- X.509 ------------------------------------------------------------------------ */

/* Decodes an x5c array of DER certificates, leaf first. */
webauthn_code webauthn_x5c_parse(const cbor_item_t *array, STACK_OF(X509) * *out,
                                 webauthn_error *err);

/* Verifies x5c (leaf first) up to a configured root at the verifier's time. */
webauthn_code webauthn_x5c_verify_chain(const webauthn_verifier *verifier,
                                        STACK_OF(X509) * x5c, webauthn_error *err);

/* Finds an extension by dotted OID; *critical is set when found. NULL when absent. */
const ASN1_OCTET_STRING *webauthn_x509_extension(const X509 *cert, const char *oid,
                                                 int *critical);

/* Checks id-fido-gen-ce-aaguid, when present: not critical and equal to aaguid. */
webauthn_code webauthn_x509_check_aaguid(const X509 *cert, const unsigned char aaguid[16],
                                         webauthn_error *err);

/* Reads one DER TLV from *p (at most *remaining bytes) and advances past it. The
 * content is returned through content and content_len. Returns 0 or -1. */
int webauthn_der_next(const unsigned char **p, long *remaining, int *tag, int *tag_class,
                      bool *constructed, const unsigned char **content,
                      long *content_len);

/* Returns true when key is of the type that alg signs with: an EC key on the curve
 * that RFC 9053 pairs with ES256 (P-256), ES384 (P-384) and ES512 (P-521), RSA for the
 * RS, PS and RS1 algorithms, Ed25519 for EdDSA. A key of the right type on another
 * curve, such as P-384 or secp256k1 for ES256, does not fit. */
bool webauthn_key_fits_alg(const EVP_PKEY *key, int64_t alg);

/* Verifies signature over data with key under a COSE algorithm: EdDSA or any of
 * webauthn_sig_alg_find except RS1.
 * alg is the statement's value as decoded, so that no out-of-range value can pass as a
 * supported one. */
webauthn_code webauthn_verify_signature(EVP_PKEY *key, int64_t alg,
                                        const unsigned char *data, size_t data_len,
                                        const unsigned char *signature,
                                        size_t signature_len, webauthn_error *err);

#endif
