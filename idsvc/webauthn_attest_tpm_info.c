/*
 * The checks of tpm certInfo and pubArea (WebAuthn Level 3, section 8.3), for every
 * statement algorithm. For RS1, libfido2 1.12 makes them again, but it reports every
 * failure as FIDO_ERR_INTERNAL, so each one is checked here first to name what is
 * wrong. The TPM 2.0 structures, as Windows Hello statements carry them:
 *
 *   certInfo (TPMS_ATTEST): magic UINT32, type UINT16, qualifiedSigner TPM2B_NAME,
 *     extraData TPM2B_DATA, clockInfo (17 bytes), firmwareVersion UINT64,
 *     attested TPMS_CERTIFY_INFO { name TPM2B_NAME, qualifiedName TPM2B_NAME }
 *   pubArea (TPMT_PUBLIC): type UINT16, nameAlg UINT16, objectAttributes UINT32,
 *     authPolicy TPM2B_DIGEST, parameters, unique
 *
 * where a TPM2B is a UINT16 size and that many bytes, all big-endian.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "webauthn_internal.h"

#define TPM_GENERATED_VALUE 0xff544347u
#define TPM_ST_ATTEST_CERTIFY 0x8017u
#define TPM_ALG_RSA 0x0001u
#define TPM_ALG_SHA1 0x0004u
#define TPM_ALG_SHA256 0x000bu
#define TPM_ALG_ECC 0x0023u
/* TPM_ECC_CURVE values (TPM 2.0 Library, Part 2, section 6.4). */
#define TPM_ECC_NIST_P256 0x0003u
#define TPM_ECC_NIST_P384 0x0004u
#define TPM_ECC_NIST_P521 0x0005u
#define TPM_RSA_DEFAULT_EXPONENT 65537u
#define TPM_CLOCK_INFO_LEN 17
#define TPM_FIRMWARE_VERSION_LEN 8

/* A read position in a TPM structure. A read past the end sets failed. */
typedef struct tpm_reader {
    const unsigned char *p;
    size_t remaining;
    bool failed;
} tpm_reader;

static const unsigned char *read_bytes(tpm_reader *r, size_t len)
{
    const unsigned char *start = r->p;

    if (r->failed || r->remaining < len) {
        r->failed = true;
        return NULL;
    }
    r->p += len;
    r->remaining -= len;
    return start;
}

static uint32_t read_uint(tpm_reader *r, size_t width)
{
    const unsigned char *p = read_bytes(r, width);
    uint32_t value = 0;

    for (size_t i = 0; p != NULL && i < width; i++)
        value = value << 8 | p[i];
    return value;
}

/* Reads a TPM2B and returns its bytes, or NULL when it runs past the end. */
static const unsigned char *read_sized(tpm_reader *r, size_t *len)
{
    *len = read_uint(r, 2);
    return read_bytes(r, *len);
}

/* Writes nameAlg || H(pubArea), the TPM name of pubArea, and returns its length, or 0
 * for a nameAlg other than SHA-1 and SHA-256. */
static size_t pub_area_name(const unsigned char *pub_area, size_t pub_area_len,
                            unsigned char name[2 + SHA256_DIGEST_LENGTH])
{
    unsigned name_alg;

    if (pub_area_len < 4)
        return 0;
    name_alg = (unsigned)pub_area[2] << 8 | pub_area[3];
    memcpy(name, pub_area + 2, 2);
    if (name_alg == TPM_ALG_SHA256) {
        SHA256(pub_area, pub_area_len, name + 2);
        return 2 + SHA256_DIGEST_LENGTH;
    }
    if (name_alg == TPM_ALG_SHA1) {
        SHA1(pub_area, pub_area_len, name + 2);
        return 2 + SHA_DIGEST_LENGTH;
    }
    return 0;
}

/* Writes the hash of authData || clientDataHash with the hash that the statement alg
 * employs, the value that extraData must have, and its length into *len. */
static webauthn_code extra_data_hash(const webauthn_attestation_input *in,
                                     const webauthn_sig_alg *tpm_alg,
                                     unsigned char hash[EVP_MAX_MD_SIZE], size_t *len,
                                     webauthn_error *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int hash_len = 0;
    int ok;

    ok = ctx != NULL && EVP_DigestInit_ex(ctx, tpm_alg->md(), NULL) == 1 &&
         EVP_DigestUpdate(ctx, in->auth_data->raw, in->auth_data->raw_len) == 1 &&
         EVP_DigestUpdate(ctx, in->client_data_hash, 32) == 1 &&
         EVP_DigestFinal_ex(ctx, hash, &hash_len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "OpenSSL could not compute %s for the tpm extraData.",
                             tpm_alg->hash_name);
    *len = hash_len;
    return WEBAUTHN_OK;
}

/* The certInfo fields checked here. */
typedef struct cert_info_fields {
    uint32_t magic;
    uint32_t type;
    const unsigned char *extra_data;
    size_t extra_data_len;
    const unsigned char *name;
    size_t name_len;
    size_t trailing_len; /* bytes after qualifiedName, where TPMS_ATTEST ends */
} cert_info_fields;

/* Reads a TPMS_ATTEST of type certify. Returns false when it is truncated. */
static bool read_cert_info(const cbor_item_t *cert_info, cert_info_fields *out)
{
    tpm_reader r = {cbor_bytestring_handle(cert_info), cbor_bytestring_length(cert_info),
                    false};
    size_t skipped_len;

    out->magic = read_uint(&r, 4);
    out->type = read_uint(&r, 2);
    read_sized(&r, &skipped_len); /* qualifiedSigner */
    out->extra_data = read_sized(&r, &out->extra_data_len);
    read_bytes(&r, TPM_CLOCK_INFO_LEN + TPM_FIRMWARE_VERSION_LEN);
    out->name = read_sized(&r, &out->name_len);
    read_sized(&r, &skipped_len); /* qualifiedName */
    out->trailing_len = r.remaining;
    return !r.failed;
}

/* Checks certInfo against authData, clientDataHash and pubArea. */
static webauthn_code check_cert_info(const webauthn_attestation_input *in,
                                     const webauthn_sig_alg *tpm_alg,
                                     const cbor_item_t *cert_info,
                                     const cbor_item_t *pub_area, webauthn_error *err)
{
    unsigned char extra[EVP_MAX_MD_SIZE], name[2 + SHA256_DIGEST_LENGTH];
    size_t extra_len = 0, name_len;
    cert_info_fields fields;
    webauthn_code code;

    if (!read_cert_info(cert_info, &fields))
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm certInfo is truncated: it is not a TPMS_ATTEST.");
    if (fields.trailing_len != 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm certInfo has %zu bytes after the end of its "
                             "TPMS_ATTEST.",
                             fields.trailing_len);
    if (fields.magic != TPM_GENERATED_VALUE)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm certInfo magic is 0x%08x, not TPM_GENERATED_VALUE "
                             "(0xff544347).",
                             (unsigned)fields.magic);
    if (fields.type != TPM_ST_ATTEST_CERTIFY)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm certInfo type is 0x%04x, not TPM_ST_ATTEST_CERTIFY "
                             "(0x8017).",
                             (unsigned)fields.type);

    code = extra_data_hash(in, tpm_alg, extra, &extra_len, err);
    if (code != WEBAUTHN_OK)
        return code;
    if (fields.extra_data_len != extra_len ||
        memcmp(fields.extra_data, extra, extra_len) != 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm certInfo extraData is not %s of authenticatorData "
                             "and clientDataHash, which alg %lld (%s) needs.",
                             tpm_alg->hash_name, (long long)tpm_alg->alg, tpm_alg->name);

    name_len = pub_area_name(cbor_bytestring_handle(pub_area),
                             cbor_bytestring_length(pub_area), name);
    if (name_len == 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm pubArea nameAlg is neither SHA-1 nor SHA-256.");
    if (fields.name_len != name_len || memcmp(fields.name, name, name_len) != 0)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_INVALID,
            "The tpm certInfo certifies another key: its attested name is "
            "not the name of pubArea.");
    return WEBAUTHN_OK;
}

/* Returns the byte string under label in the credential's COSE key, or NULL. */
static const cbor_item_t *cose_bytes(const cbor_item_t *map, int64_t label)
{
    const cbor_item_t *value = NULL;
    webauthn_error ignored;

    if (webauthn_cbor_map_int(map, label, &value, &ignored) != WEBAUTHN_OK ||
        value == NULL || !cbor_isa_bytestring(value) ||
        !cbor_bytestring_is_definite(value))
        return NULL;
    return value;
}

/* Reads one TPM2B from r and compares it with a COSE byte string. */
static bool sized_equals(tpm_reader *r, const cbor_item_t *cose_value)
{
    size_t len;
    const unsigned char *bytes = read_sized(r, &len);

    return bytes != NULL && cose_value != NULL &&
           cbor_bytestring_length(cose_value) == len &&
           memcmp(bytes, cbor_bytestring_handle(cose_value), len) == 0;
}

/* Returns the TPM curve of an ES algorithm, or 0 for any other algorithm. */
static uint32_t tpm_curve_of_alg(int alg)
{
    switch (alg) {
    case WEBAUTHN_COSE_ES256:
        return TPM_ECC_NIST_P256;
    case WEBAUTHN_COSE_ES384:
        return TPM_ECC_NIST_P384;
    case WEBAUTHN_COSE_ES512:
        return TPM_ECC_NIST_P521;
    default:
        return 0;
    }
}

/* Compares the parameters and unique field of pubArea, after authPolicy, with the
 * credential key: the point of an ES256, ES384 or ES512 key on the curve of its alg,
 * or the modulus of an RSA key, whose exponent check_tpm_exponent requires to be
 * 65537. Nothing may follow unique. */
static bool pub_area_key_matches(tpm_reader *r, int alg, const cbor_item_t *cose)
{
    uint32_t want_curve = tpm_curve_of_alg(alg);
    bool matches;

    read_bytes(r, 4); /* symmetric and scheme */
    if (want_curve != 0) {
        uint32_t curve = read_uint(r, 2);

        read_bytes(r, 2); /* kdf */
        matches = curve == want_curve && sized_equals(r, cose_bytes(cose, -2)) &&
                  sized_equals(r, cose_bytes(cose, -3));
    } else {
        uint32_t exponent;

        read_bytes(r, 2); /* keyBits */
        exponent = read_uint(r, 4);
        /* TPM 2.0 writes the default exponent 65537 as 0 in TPMS_RSA_PARMS. */
        matches = (exponent == 0 || exponent == TPM_RSA_DEFAULT_EXPONENT) &&
                  sized_equals(r, cose_bytes(cose, -1));
    }
    return matches && !r->failed && r->remaining == 0;
}

static webauthn_code check_pub_area(const webauthn_attestation_input *in,
                                    const cbor_item_t *pub_area, webauthn_error *err)
{
    tpm_reader r = {cbor_bytestring_handle(pub_area), cbor_bytestring_length(pub_area),
                    false};
    uint32_t type = read_uint(&r, 2);
    uint32_t want =
        tpm_curve_of_alg(in->credential_key->alg) != 0 ? TPM_ALG_ECC : TPM_ALG_RSA;
    size_t policy_len;
    cbor_item_t *cose = NULL;
    webauthn_code code;
    bool matches;

    read_bytes(&r, 6); /* nameAlg and objectAttributes */
    read_sized(&r, &policy_len);
    if (r.failed || type != want)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm pubArea is not a %s key like the credential key.",
                             want == TPM_ALG_ECC ? "TPM_ALG_ECC" : "TPM_ALG_RSA");

    code = webauthn_cbor_load(in->auth_data->public_key, in->auth_data->public_key_len,
                              &cose, err);
    if (code != WEBAUTHN_OK)
        return code;
    matches = pub_area_key_matches(&r, in->credential_key->alg, cose);
    cbor_decref(&cose);
    if (!matches)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm pubArea describes another key than the credential "
                             "key.");
    return WEBAUTHN_OK;
}

webauthn_code webauthn_tpm_check_structures(const webauthn_attestation_input *in,
                                            const webauthn_sig_alg *tpm_alg,
                                            const cbor_item_t *cert_info,
                                            const cbor_item_t *pub_area,
                                            webauthn_error *err)
{
    webauthn_code code;

    if (!cbor_isa_bytestring(cert_info) || !cbor_bytestring_is_definite(cert_info) ||
        !cbor_isa_bytestring(pub_area) || !cbor_bytestring_is_definite(pub_area))
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm certInfo and pubArea must be byte strings.");
    code = check_pub_area(in, pub_area, err);
    if (code == WEBAUTHN_OK)
        code = check_cert_info(in, tpm_alg, cert_info, pub_area, err);
    return code;
}
