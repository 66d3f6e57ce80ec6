/*
 * The checks of tpm certInfo and pubArea (WebAuthn Level 3, section 8.3), for every
 * statement algorithm. For RS1 over an ES256 or RS256 credential key, libfido2 1.12
 * makes them again, but it reports every failure as FIDO_ERR_INTERNAL, so each one is
 * checked here first to name what is wrong. Over keys of the other algorithms, these
 * are the only checks. The TPM 2.0 structures, as Windows Hello statements carry them:
 *
 *   certInfo (TPMS_ATTEST): magic UINT32, type UINT16, qualifiedSigner TPM2B_NAME,
 *     extraData TPM2B_DATA, clockInfo (17 bytes), firmwareVersion UINT64,
 *     attested TPMS_CERTIFY_INFO { name TPM2B_NAME, qualifiedName TPM2B_NAME }
 *   pubArea (TPMT_PUBLIC): type UINT16, nameAlg UINT16, objectAttributes UINT32,
 *     authPolicy TPM2B_DIGEST, parameters, unique
 *   parameters of TPM_ALG_RSA (TPMS_RSA_PARMS): symmetric, scheme, keyBits UINT16,
 *     exponent UINT32; unique is the modulus as a TPM2B
 *   parameters of TPM_ALG_ECC (TPMS_ECC_PARMS): symmetric, scheme, curveID UINT16,
 *     kdf; unique is TPMS_ECC_POINT { x TPM2B, y TPM2B }
 *
 * where a TPM2B is a UINT16 size and that many bytes, all big-endian. symmetric, scheme
 * and kdf each start with a TPM_ALG_ID, and their details follow unless it is
 * TPM_ALG_NULL (TPM 2.0 Library, Part 2: TPMT_SYM_DEF_OBJECT, TPMT_RSA_SCHEME,
 * TPMT_ECC_SCHEME and TPMT_KDF_SCHEME).
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "webauthn_internal.h"

#define TPM_GENERATED_VALUE 0xff544347u
#define TPM_ST_ATTEST_CERTIFY 0x8017u
/* TPM_ALG_ID values of the TPM 2.0 Library, Part 2. */
#define TPM_ALG_RSA 0x0001u
#define TPM_ALG_SHA1 0x0004u
#define TPM_ALG_SHA256 0x000bu
#define TPM_ALG_SHA384 0x000cu
#define TPM_ALG_SHA512 0x000du
#define TPM_ALG_NULL 0x0010u
#define TPM_ALG_SM3_256 0x0012u
#define TPM_ALG_RSASSA 0x0014u
#define TPM_ALG_RSAPSS 0x0016u
#define TPM_ALG_ECDSA 0x0018u
#define TPM_ALG_ECC 0x0023u
#define TPM_ALG_SHA3_256 0x0027u
#define TPM_ALG_SHA3_384 0x0028u
#define TPM_ALG_SHA3_512 0x0029u
/* The key derivation schemes that a TPMT_KDF_SCHEME may name, each followed by a hash. */
#define TPM_ALG_MGF1 0x0007u
#define TPM_ALG_KDF1_SP800_56A 0x0020u
#define TPM_ALG_KDF2 0x0021u
#define TPM_ALG_KDF1_SP800_108 0x0022u
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

/* Returns the hash of a nameAlg, or NULL for a TPM_ALG_ID that is no hash computed here
 * and for SM3 when OpenSSL has none. */
static const EVP_MD *name_alg_md(unsigned name_alg)
{
    switch (name_alg) {
    case TPM_ALG_SHA1:
        return EVP_sha1();
    case TPM_ALG_SHA256:
        return EVP_sha256();
    case TPM_ALG_SHA384:
        return EVP_sha384();
    case TPM_ALG_SHA512:
        return EVP_sha512();
    case TPM_ALG_SM3_256:
        return webauthn_sm3_md();
    case TPM_ALG_SHA3_256:
        return EVP_sha3_256();
    case TPM_ALG_SHA3_384:
        return EVP_sha3_384();
    case TPM_ALG_SHA3_512:
        return EVP_sha3_512();
    default:
        return NULL;
    }
}

static webauthn_code name_alg_unsupported(unsigned name_alg, webauthn_error *err)
{
    /* Not the statement's fault: a TPM may name its keys with SM3, but OpenSSL can be
     * built without it. */
    if (name_alg == TPM_ALG_SM3_256)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED,
                             "The tpm pubArea nameAlg is TPM_ALG_SM3_256 (0x0012), but "
                             "this OpenSSL build has no SM3 to compute the name with.");
    return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                         "The tpm pubArea nameAlg 0x%04x is not SHA-1, SHA-256, SHA-384, "
                         "SHA-512, SM3, SHA3-256, SHA3-384 or SHA3-512.",
                         name_alg);
}

/* Writes nameAlg || H(pubArea), the TPM name of pubArea, with H the hash that nameAlg
 * names, and its length into *name_len. */
static webauthn_code pub_area_name(const unsigned char *pub_area, size_t pub_area_len,
                                   unsigned char name[2 + EVP_MAX_MD_SIZE],
                                   size_t *name_len, webauthn_error *err)
{
    unsigned name_alg = (unsigned)pub_area[2] << 8 | pub_area[3];
    const EVP_MD *md = name_alg_md(name_alg);
    unsigned int hash_len = 0;

    if (md == NULL)
        return name_alg_unsupported(name_alg, err);
    memcpy(name, pub_area + 2, 2);
    if (EVP_Digest(pub_area, pub_area_len, name + 2, &hash_len, md, NULL) != 1)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "OpenSSL could not hash the tpm pubArea for its name.");
    *name_len = 2 + hash_len;
    return WEBAUTHN_OK;
}

/* Writes the hash of authData || clientDataHash with the hash that the statement alg
 * employs, the value that extraData must have, and its length into *len. That hash is
 * never SM3: no algorithm of webauthn_sig_alg_find uses it, and no SM2 signature
 * algorithm is known to be registered for COSE (see docs/webauthn.md). */
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
    unsigned char extra[EVP_MAX_MD_SIZE], name[2 + EVP_MAX_MD_SIZE];
    size_t extra_len = 0, name_len = 0;
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

    /* check_pub_area ran first, so pubArea is long enough to hold nameAlg. */
    code = pub_area_name(cbor_bytestring_handle(pub_area),
                         cbor_bytestring_length(pub_area), name, &name_len, err);
    if (code != WEBAUTHN_OK)
        return code;
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
static uint32_t tpm_curve_of_alg(int64_t alg)
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

static const char *tpm_curve_name(uint32_t curve)
{
    switch (curve) {
    case TPM_ECC_NIST_P256:
        return "TPM_ECC_NIST_P256";
    case TPM_ECC_NIST_P384:
        return "TPM_ECC_NIST_P384";
    case TPM_ECC_NIST_P521:
        return "TPM_ECC_NIST_P521";
    default:
        return "another curve";
    }
}

/* Returns the TPM_ALG_ID of the hash of a credential key algorithm. */
static uint32_t tpm_hash_of_alg(const webauthn_sig_alg *key_alg)
{
    switch (EVP_MD_get_type(key_alg->md())) {
    case NID_sha384:
        return TPM_ALG_SHA384;
    case NID_sha512:
        return TPM_ALG_SHA512;
    default:
        return TPM_ALG_SHA256;
    }
}

static webauthn_code pub_area_truncated(webauthn_error *err)
{
    return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                         "The tpm pubArea is truncated: it is not a TPMT_PUBLIC.");
}

/* Reads symmetric and scheme, the first two parameters of an RSA or ECC key. TPM 2.0
 * Part 2 (TPMS_RSA_PARMS, TPMS_ECC_PARMS) sets symmetric to TPM_ALG_NULL for every key
 * but a restricted decryption key, which cannot sign. A key whose scheme is not
 * TPM_ALG_NULL signs only with that scheme, so it must be the credential key's own. */
static webauthn_code read_key_schemes(tpm_reader *r, const webauthn_sig_alg *key_alg,
                                      webauthn_error *err)
{
    uint32_t symmetric = read_uint(r, 2);
    uint32_t scheme = read_uint(r, 2);
    uint32_t hash, want_scheme, want_hash;
    const char *want_name;

    if (r->failed)
        return pub_area_truncated(err);
    if (symmetric != TPM_ALG_NULL)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm pubArea symmetric algorithm is 0x%04x, not "
                             "TPM_ALG_NULL (0x0010) as a signing key needs.",
                             (unsigned)symmetric);
    if (scheme == TPM_ALG_NULL)
        return WEBAUTHN_OK;

    if (key_alg->curve_nid != NID_undef) {
        want_scheme = TPM_ALG_ECDSA;
        want_name = "TPM_ALG_ECDSA";
    } else if (key_alg->padding == RSA_PKCS1_PSS_PADDING) {
        want_scheme = TPM_ALG_RSAPSS;
        want_name = "TPM_ALG_RSAPSS";
    } else {
        want_scheme = TPM_ALG_RSASSA;
        want_name = "TPM_ALG_RSASSA";
    }
    if (scheme != want_scheme)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_INVALID,
            "The tpm pubArea scheme is 0x%04x; the %s credential key needs "
            "TPM_ALG_NULL (0x0010) or %s (0x%04x).",
            (unsigned)scheme, key_alg->name, want_name, (unsigned)want_scheme);
    want_hash = tpm_hash_of_alg(key_alg);
    hash = read_uint(r, 2);
    if (r->failed)
        return pub_area_truncated(err);
    if (hash != want_hash)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm pubArea scheme %s has the hash 0x%04x; the %s "
                             "credential key needs %s (0x%04x).",
                             want_name, (unsigned)hash, key_alg->name, key_alg->hash_name,
                             (unsigned)want_hash);
    return WEBAUTHN_OK;
}

/* Reads curveID and kdf of an ECC key, and its unique field, the point x and y. */
static webauthn_code check_ecc_key(tpm_reader *r, const webauthn_sig_alg *key_alg,
                                   const cbor_item_t *cose, webauthn_error *err)
{
    uint32_t want_curve = tpm_curve_of_alg(key_alg->alg);
    uint32_t curve = read_uint(r, 2);
    uint32_t kdf = read_uint(r, 2);

    /* A read past the end returns 0, which is no kdf, so truncation is named first. */
    if (r->failed)
        return pub_area_truncated(err);
    if (kdf != TPM_ALG_NULL) {
        if (kdf != TPM_ALG_MGF1 && kdf != TPM_ALG_KDF1_SP800_56A && kdf != TPM_ALG_KDF2 &&
            kdf != TPM_ALG_KDF1_SP800_108)
            return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                                 "The tpm pubArea kdf 0x%04x is not a TPM key derivation "
                                 "scheme.",
                                 (unsigned)kdf);
        read_bytes(r, 2); /* the hash of the kdf, which a signing key does not use */
    }
    if (r->failed)
        return pub_area_truncated(err);
    if (curve != want_curve)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_INVALID,
            "The tpm pubArea curveID is 0x%04x, but the %s credential key "
            "needs %s (0x%04x).",
            (unsigned)curve, key_alg->name, tpm_curve_name(want_curve),
            (unsigned)want_curve);
    if (!sized_equals(r, cose_bytes(cose, -2)) || !sized_equals(r, cose_bytes(cose, -3)))
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm pubArea describes another key than the credential "
                             "key: its point differs.");
    return WEBAUTHN_OK;
}

/* Returns the length in bits of a big-endian unsigned integer, or 0 for NULL. */
static int integer_bits(const cbor_item_t *value)
{
    const unsigned char *bytes;
    size_t len;
    int bits;

    if (value == NULL)
        return 0;
    bytes = cbor_bytestring_handle(value);
    len = cbor_bytestring_length(value);
    while (len > 0 && bytes[0] == 0) {
        bytes++;
        len--;
    }
    if (len == 0)
        return 0;
    bits = (int)(len - 1) * 8;
    for (unsigned top = bytes[0]; top != 0; top >>= 1)
        bits++;
    return bits;
}

/* Reads keyBits and exponent of an RSA key, and its unique field, the modulus.
 * check_tpm_exponent has required the credential key's exponent to be 65537. */
static webauthn_code check_rsa_key(tpm_reader *r, const webauthn_sig_alg *key_alg,
                                   const cbor_item_t *cose, webauthn_error *err)
{
    uint32_t key_bits = read_uint(r, 2);
    uint32_t exponent = read_uint(r, 4);
    int modulus_bits = integer_bits(cose_bytes(cose, -1));

    if (r->failed)
        return pub_area_truncated(err);
    if ((int)key_bits != modulus_bits)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm pubArea keyBits is %u, but the %s credential key "
                             "has %d bits.",
                             (unsigned)key_bits, key_alg->name, modulus_bits);
    /* TPM 2.0 writes the default exponent 65537 as 0 in TPMS_RSA_PARMS. */
    if (exponent != 0 && exponent != TPM_RSA_DEFAULT_EXPONENT)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm pubArea describes another key than the credential "
                             "key: its exponent is %u, not 65537.",
                             (unsigned)exponent);
    if (!sized_equals(r, cose_bytes(cose, -1)))
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm pubArea describes another key than the credential "
                             "key: its modulus differs.");
    return WEBAUTHN_OK;
}

/* Checks that pubArea is a TPMT_PUBLIC of the credential key: the type, parameters and
 * unique field of an ES256, ES384 or ES512 key on the curve of its alg, or of an RSA
 * key of the credential key's size. Nothing may follow unique. */
static webauthn_code check_pub_area(const webauthn_attestation_input *in,
                                    const cbor_item_t *pub_area, webauthn_error *err)
{
    tpm_reader r = {cbor_bytestring_handle(pub_area), cbor_bytestring_length(pub_area),
                    false};
    const webauthn_sig_alg *key_alg = webauthn_sig_alg_find(in->credential_key->alg);
    uint32_t type = read_uint(&r, 2);
    size_t policy_len;
    uint32_t want;
    cbor_item_t *cose = NULL;
    webauthn_code code;

    if (key_alg == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "The tpm pubArea check got an EdDSA credential key.");
    want = key_alg->curve_nid != NID_undef ? TPM_ALG_ECC : TPM_ALG_RSA;
    read_bytes(&r, 6); /* nameAlg, which check_cert_info reads, and objectAttributes */
    read_sized(&r, &policy_len);
    if (r.failed)
        return pub_area_truncated(err);
    if (type != want)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_INVALID,
            "The tpm pubArea type is 0x%04x, not %s (0x%04x) like the %s "
            "credential key.",
            (unsigned)type, want == TPM_ALG_ECC ? "TPM_ALG_ECC" : "TPM_ALG_RSA",
            (unsigned)want, key_alg->name);
    code = read_key_schemes(&r, key_alg, err);
    if (code != WEBAUTHN_OK)
        return code;

    code = webauthn_cbor_load(in->auth_data->public_key, in->auth_data->public_key_len,
                              &cose, err);
    if (code != WEBAUTHN_OK)
        return code;
    if (want == TPM_ALG_ECC)
        code = check_ecc_key(&r, key_alg, cose, err);
    else
        code = check_rsa_key(&r, key_alg, cose, err);
    cbor_decref(&cose);
    if (code == WEBAUTHN_OK && r.remaining != 0)
        code = webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm pubArea describes another key than the credential "
                             "key: %zu bytes follow its unique field.",
                             r.remaining);
    return code;
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
