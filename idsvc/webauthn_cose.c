/* COSE_Key parsing (RFC 9052, RFC 9053, RFC 8230) of credential public keys. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "webauthn_internal.h"

/* COSE key parameters. */
#define COSE_KTY 1
#define COSE_ALG 3
#define COSE_EC_CRV (-1)
#define COSE_EC_X (-2)
#define COSE_EC_Y (-3)
#define COSE_RSA_N (-1)
#define COSE_RSA_E (-2)

#define COSE_KTY_OKP 1
#define COSE_KTY_EC2 2
#define COSE_KTY_RSA 3
#define COSE_CRV_P256 1
#define COSE_CRV_P384 2
#define COSE_CRV_P521 3
#define COSE_CRV_ED25519 6

const char *webauthn_cose_alg_name(int64_t alg)
{
    switch (alg) {
    case WEBAUTHN_COSE_ES256:
        return "ES256";
    case WEBAUTHN_COSE_RS256:
        return "RS256";
    case WEBAUTHN_COSE_EDDSA:
        return "EdDSA";
    case WEBAUTHN_COSE_RS1:
        return "RS1";
    case WEBAUTHN_COSE_ES384:
        return "ES384";
    case WEBAUTHN_COSE_ES512:
        return "ES512";
    case WEBAUTHN_COSE_PS256:
        return "PS256";
    case WEBAUTHN_COSE_PS384:
        return "PS384";
    case WEBAUTHN_COSE_PS512:
        return "PS512";
    case WEBAUTHN_COSE_RS384:
        return "RS384";
    case WEBAUTHN_COSE_RS512:
        return "RS512";
    default:
        return "unknown";
    }
}

/* Finds a byte string parameter of the key; fails when absent or of the wrong size
 * (want_len 0 accepts any non-empty length). */
static webauthn_code key_bytes(const cbor_item_t *map, int64_t label, size_t want_len,
                               const unsigned char **out, size_t *out_len,
                               webauthn_error *err)
{
    const cbor_item_t *value;
    webauthn_code code = webauthn_cbor_map_int(map, label, &value, err);

    if (code != WEBAUTHN_OK)
        return code;
    if (value == NULL || !cbor_isa_bytestring(value) ||
        !cbor_bytestring_is_definite(value) || cbor_bytestring_length(value) == 0 ||
        (want_len != 0 && cbor_bytestring_length(value) != want_len))
        return webauthn_fail(
            err, WEBAUTHN_MALFORMED,
            "The COSE key parameter %lld is missing or has the wrong size.",
            (long long)label);
    *out = cbor_bytestring_handle(value);
    *out_len = cbor_bytestring_length(value);
    return WEBAUTHN_OK;
}

static webauthn_code key_int(const cbor_item_t *map, int64_t label, int64_t *out,
                             webauthn_error *err)
{
    const cbor_item_t *value;
    webauthn_code code = webauthn_cbor_map_int(map, label, &value, err);

    if (code != WEBAUTHN_OK)
        return code;
    if (value == NULL || webauthn_cbor_int(value, out) != 0)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The COSE key parameter %lld is missing or not an integer.",
                             (long long)label);
    return WEBAUTHN_OK;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *builder)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(builder);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

/*
 * P-256 domain parameters, made once per process: the group for checking points, and a
 * key that holds only the parameters, for copying. OpenSSL 3.0 builds the group anew
 * (EC_GROUP_new_by_curve_name_ex, with a Montgomery context and a modular inverse)
 * every time EVP_PKEY_fromdata names the curve, which cost more than the point checks.
 * Both are only read after p256_init, so threads may share them.
 */
static EC_GROUP *p256_group;
static EVP_PKEY *p256_parameters;
static CRYPTO_ONCE p256_once = CRYPTO_ONCE_STATIC_INIT;

static void p256_init(void)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0),
        OSSL_PARAM_END,
    };
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &p256_parameters, EVP_PKEY_KEY_PARAMETERS, params) != 1)
        p256_parameters = NULL;
    EVP_PKEY_CTX_free(ctx);

    /* p256_point_valid skips the subgroup test, which is sound only for cofactor 1. */
    p256_group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    if (p256_group != NULL && !BN_is_one(EC_GROUP_get0_cofactor(p256_group))) {
        EC_GROUP_free(p256_group);
        p256_group = NULL;
    }
}

static bool p256_ready(void)
{
    return CRYPTO_THREAD_run_once(&p256_once, p256_init) == 1 && p256_group != NULL &&
           p256_parameters != NULL;
}

/*
 * Checks a P-256 public key point given by its affine coordinates. These are the
 * three tests of OpenSSL 3.0's EVP_PKEY_public_check_quick
 * (ossl_ec_key_public_check_quick in crypto/ec/ec_key.c, the partial validation of NIST
 * SP 800-56A rev. 3, 5.6.2.3.4): the point is not at infinity, both coordinates are in
 * [0, p - 1], and the point is on the curve. They are run here on the shared group,
 * without building an EVP_PKEY.
 *
 * The full EVP_PKEY_public_check adds only that order * point is the point at
 * infinity, so that the point lies in the subgroup of prime order n. P-256 has cofactor
 * 1, which p256_init checks, so every point on the curve is in that subgroup and passes
 * the test. The full check cost about 33 us per key on this project's 2-core machine.
 * NOTE: a curve added later whose cofactor is not 1 needs the full check.
 */
static bool p256_point_valid(const unsigned char *x, const unsigned char *y)
{
    BN_CTX *ctx = BN_CTX_new();
    EC_POINT *point = EC_POINT_new(p256_group);
    const BIGNUM *field = EC_GROUP_get0_field(p256_group);
    BIGNUM *bx, *by;
    bool ok = false;

    if (ctx == NULL || point == NULL || field == NULL)
        goto out;
    BN_CTX_start(ctx);
    bx = BN_CTX_get(ctx);
    by = BN_CTX_get(ctx);
    if (by == NULL || BN_bin2bn(x, 32, bx) == NULL || BN_bin2bn(y, 32, by) == NULL)
        goto end;

    ok = BN_cmp(bx, field) < 0 && BN_cmp(by, field) < 0 &&
         EC_POINT_set_affine_coordinates(p256_group, point, bx, by, ctx) == 1 &&
         EC_POINT_is_at_infinity(p256_group, point) == 0 &&
         EC_POINT_is_on_curve(p256_group, point, ctx) == 1;

end:
    BN_CTX_end(ctx);
out:
    EC_POINT_free(point);
    BN_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* An EC2 curve of RFC 9053 (section 7.1) and the one ECDSA algorithm that RFC 9053
 * (section 2.1) pairs with it. */
typedef struct ec2_curve {
    int64_t alg;
    int64_t crv;
    const char *name;       /* "P-384" */
    const char *group_name; /* the OpenSSL group name */
    size_t coordinate_len;  /* the bytes of x and of y */
} ec2_curve;

static const ec2_curve ec2_curves[] = {
    {WEBAUTHN_COSE_ES256, COSE_CRV_P256, "P-256", "prime256v1", 32},
    {WEBAUTHN_COSE_ES384, COSE_CRV_P384, "P-384", "secp384r1", 48},
    {WEBAUTHN_COSE_ES512, COSE_CRV_P521, "P-521", "secp521r1", 66},
};

static const ec2_curve *ec2_curve_of_alg(int64_t alg)
{
    for (size_t i = 0; i < sizeof(ec2_curves) / sizeof(ec2_curves[0]); i++) {
        if (ec2_curves[i].alg == alg)
            return &ec2_curves[i];
    }
    return NULL;
}

/* Builds the P-256 key from a point that p256_point_valid accepted. */
static webauthn_code p256_pkey(const unsigned char *x, const unsigned char *y,
                               webauthn_cose_key *out, webauthn_error *err)
{
    unsigned char point[65];

    point[0] = 0x04;
    memcpy(point + 1, x, 32);
    memcpy(point + 33, y, 32);
    out->pkey = EVP_PKEY_dup(p256_parameters);
    if (out->pkey == NULL ||
        EVP_PKEY_set1_encoded_public_key(out->pkey, point, sizeof(point)) != 1) {
        ERR_clear_error();
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "OpenSSL could not create a P-256 key from a valid point.");
    }
    return WEBAUTHN_OK;
}

static webauthn_code p256_key(const unsigned char *x, const unsigned char *y,
                              bool with_pkey, webauthn_cose_key *out, webauthn_error *err)
{
    if (!p256_ready())
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "OpenSSL could not set up the P-256 group.");
    if (!p256_point_valid(x, y))
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The ES256 key is not a valid point on P-256.");
    if (!with_pkey)
        return WEBAUTHN_OK;
    return p256_pkey(x, y, out, err);
}

/*
 * Builds a P-384 or P-521 key and checks it with EVP_PKEY_public_check: the point is
 * not at infinity, its coordinates are below p, it is on the curve, and order * point
 * is the point at infinity (NIST SP 800-56A rev. 3, 5.6.2.3.3). These keys are rare,
 * so they take OpenSSL's full check rather than a shared group like P-256.
 */
static webauthn_code ec2_key(const ec2_curve *curve, const unsigned char *x,
                             const unsigned char *y, webauthn_cose_key *out,
                             webauthn_error *err)
{
    unsigned char point[1 + 2 * 66];
    size_t point_len = 1 + 2 * curve->coordinate_len;
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve->group_name, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, point_len),
        OSSL_PARAM_END,
    };
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY_CTX *check = NULL;
    bool valid;

    point[0] = 0x04;
    memcpy(point + 1, x, curve->coordinate_len);
    memcpy(point + 1 + curve->coordinate_len, y, curve->coordinate_len);
    valid = ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &out->pkey, EVP_PKEY_PUBLIC_KEY, params) == 1 &&
            (check = EVP_PKEY_CTX_new_from_pkey(NULL, out->pkey, NULL)) != NULL &&
            EVP_PKEY_public_check(check) == 1;
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    if (!valid)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The %s key is not a valid point on %s.",
                             webauthn_cose_alg_name(curve->alg), curve->name);
    return WEBAUTHN_OK;
}

/* Parses an EC2 key whose crv must be the curve that its alg names. Only ES256 keys
 * skip building the EVP_PKEY without with_pkey, because the P-384 and P-521 checks
 * need it. */
static webauthn_code parse_ec2(const cbor_item_t *map, const ec2_curve *curve,
                               bool with_pkey, webauthn_cose_key *out,
                               webauthn_error *err)
{
    const unsigned char *x, *y;
    size_t x_len, y_len;
    int64_t crv;
    webauthn_code code;

    code = key_int(map, COSE_EC_CRV, &crv, err);
    if (code != WEBAUTHN_OK)
        return code;
    if (crv != curve->crv)
        return webauthn_fail(err, WEBAUTHN_ALGORITHM_UNSUPPORTED,
                             "The %s key is on curve %lld; %s needs %s (%lld).",
                             webauthn_cose_alg_name(curve->alg), (long long)crv,
                             webauthn_cose_alg_name(curve->alg), curve->name,
                             (long long)curve->crv);
    code = key_bytes(map, COSE_EC_X, curve->coordinate_len, &x, &x_len, err);
    if (code == WEBAUTHN_OK)
        code = key_bytes(map, COSE_EC_Y, curve->coordinate_len, &y, &y_len, err);
    if (code != WEBAUTHN_OK)
        return code;

    if (curve->alg == WEBAUTHN_COSE_ES256)
        return p256_key(x, y, with_pkey, out, err);
    return ec2_key(curve, x, y, out, err);
}

/* Returns true for an exponent of at most 3 bytes, big-endian, that is odd and at
 * least 3. */
static bool rsa_exponent_valid(const unsigned char *e, size_t e_len)
{
    unsigned long value = 0;

    for (size_t i = 0; i < e_len; i++)
        value = value << 8 | e[i];
    return e_len > 0 && value >= 3 && (value & 1) == 1;
}

/*
 * Returns true when x, an Ed25519 public key, is a canonical encoding (RFC 8032,
 * section 5.1.3) of a point outside the subgroup of order 8. A point of small order,
 * the identity among them, verifies a signature with R at that point and S = 0 for
 * any message, so anyone could sign for such a key. The eight small-order points have
 * y = 1 (the identity), y = -1, y = 0 (two points) and the four y values below, which
 * are facts of the curve, with the sign bit of x in the top bit.
 */
static bool ed25519_point_valid(const unsigned char x[32])
{
    static const unsigned char order_8_y[2][32] = {
        {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
         0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
         0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
        {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
         0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
         0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
    };
    unsigned char y[32];
    bool all_ff = true;

    memcpy(y, x, 32);
    y[31] &= 0x7f; /* the sign of x */
    for (size_t i = 1; i < 31; i++)
        all_ff = all_ff && y[i] == 0xff;
    /* y >= p = 2^255 - 19 is not canonical; p - 1 (y = -1) is of order 2. */
    if (all_ff && y[31] == 0x7f && y[0] >= 0xec)
        return false;
    if (y[0] <= 1 && y[31] == 0) {
        bool rest_zero = true;

        for (size_t i = 1; i < 31; i++)
            rest_zero = rest_zero && y[i] == 0;
        if (rest_zero) /* y = 0 or y = 1 */
            return false;
    }
    for (size_t i = 0; i < 2; i++)
        if (memcmp(y, order_8_y[i], 32) == 0)
            return false;
    return true;
}

/* Checks the modulus size: 2048 to 4096 bits for every RSA algorithm, with an exponent
 * of at most 3 bytes. JWA (RFC 7518, section 3.3) requires at least 2048 bits for
 * RS256 and sets no other size. The modulus needs no whole number of bytes: the W3C
 * test vector of a packed RS256 credential (WebAuthn Level 3, section 16) has one of
 * 3482 bits. */
static webauthn_code check_rsa_size(int64_t alg, const unsigned char *n, size_t n_len,
                                    size_t e_len, webauthn_error *err)
{
    const char *name = webauthn_cose_alg_name(alg);
    unsigned first = n[0]; /* not zero, because parse_rsa rejects a leading zero */
    size_t bits = (n_len - 1) * 8;

    while (first != 0) {
        bits++;
        first >>= 1;
    }
    if (n_len > 512 || e_len > 3)
        return webauthn_fail(err, WEBAUTHN_ALGORITHM_UNSUPPORTED,
                             "The %s key has a %zu-byte modulus and a %zu-byte exponent; "
                             "supported is a modulus of 2048 to 4096 bits with an "
                             "exponent of at most 3 bytes.",
                             name, n_len, e_len);
    if (bits < 2048)
        return webauthn_fail(err, WEBAUTHN_ALGORITHM_UNSUPPORTED,
                             "The %s modulus has %zu bits, shorter than 2048 bits; "
                             "supported are moduli of 2048 to 4096 bits.",
                             name, bits);
    return WEBAUTHN_OK;
}

static webauthn_code parse_rsa(const cbor_item_t *map, int64_t alg, bool with_pkey,
                               webauthn_cose_key *out, webauthn_error *err)
{
    const unsigned char *n, *e;
    size_t n_len, e_len;
    BIGNUM *n_bn = NULL, *e_bn = NULL;
    OSSL_PARAM_BLD *builder = NULL;
    webauthn_code code;

    code = key_bytes(map, COSE_RSA_N, 0, &n, &n_len, err);
    if (code == WEBAUTHN_OK)
        code = key_bytes(map, COSE_RSA_E, 0, &e, &e_len, err);
    if (code != WEBAUTHN_OK)
        return code;
    /* RFC 8230 (section 4) encodes n and e in the minimum number of bytes, so that a key
     * has one encoding. */
    if (n[0] == 0 || e[0] == 0)
        return webauthn_fail(
            err, WEBAUTHN_MALFORMED,
            "The %s key's %s starts with a zero byte, but RFC 8230 requires "
            "the minimum number of bytes.",
            webauthn_cose_alg_name(alg), n[0] == 0 ? "modulus" : "exponent");
    code = check_rsa_size(alg, n, n_len, e_len, err);
    if (code != WEBAUTHN_OK)
        return code;
    /* RFC 8017 (section 3.1) requires an odd exponent from 3 on. With e = 1 a
     * signature is the padded digest itself, so anyone could sign for the key; an even
     * exponent is no RSA key. n must be odd too, as a product of two odd primes. */
    if (!rsa_exponent_valid(e, e_len) || (n[n_len - 1] & 1) == 0)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The %s key is not valid: its exponent must be odd and at "
                             "least 3, and its modulus odd.",
                             webauthn_cose_alg_name(alg));
    /* OpenSSL 3.0's import of a public RSA key (ossl_rsa_fromdata in
     * crypto/rsa/rsa_backend.c) checks only that n and e are present, which key_bytes
     * already did, so an RS256 registration that libfido2 verifies skips building an
     * EVP_PKEY. Other RSA keys are verified with OpenSSL, which needs it. */
    out->libfido2_key = alg == WEBAUTHN_COSE_RS256 && n_len == 256 && e_len == 3;
    if (!with_pkey && out->libfido2_key)
        return WEBAUTHN_OK;

    n_bn = BN_bin2bn(n, (int)n_len, NULL);
    e_bn = BN_bin2bn(e, (int)e_len, NULL);
    builder = OSSL_PARAM_BLD_new();
    if (n_bn == NULL || e_bn == NULL || builder == NULL ||
        OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, n_bn) != 1 ||
        OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, e_bn) != 1) {
        code = webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
        goto out;
    }
    out->pkey = pkey_from_params("RSA", builder);
    if (out->pkey == NULL)
        code =
            webauthn_fail(err, WEBAUTHN_MALFORMED, "The %s key is not a valid RSA key.",
                          webauthn_cose_alg_name(alg));

out:
    OSSL_PARAM_BLD_free(builder);
    BN_free(n_bn);
    BN_free(e_bn);
    return code;
}

static webauthn_code parse_okp(const cbor_item_t *map, webauthn_cose_key *out,
                               webauthn_error *err)
{
    const unsigned char *x;
    size_t x_len;
    int64_t crv;
    webauthn_code code;

    code = key_int(map, COSE_EC_CRV, &crv, err);
    if (code != WEBAUTHN_OK)
        return code;
    if (crv != COSE_CRV_ED25519)
        return webauthn_fail(
            err, WEBAUTHN_ALGORITHM_UNSUPPORTED,
            "The EdDSA key is on curve %lld; only Ed25519 (6) is supported.",
            (long long)crv);
    code = key_bytes(map, COSE_EC_X, 32, &x, &x_len, err);
    if (code != WEBAUTHN_OK)
        return code;
    if (!ed25519_point_valid(x))
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The EdDSA key is not valid: it is a point of small order, "
                             "or not a canonical encoding.");

    out->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, x_len);
    if (out->pkey == NULL)
        return webauthn_fail(err, WEBAUTHN_MALFORMED, "The EdDSA key is not valid.");
    return WEBAUTHN_OK;
}

/* Rejects the private key parameters of the IANA COSE Key Type Parameters registry:
 * d (-4) of EC2 and OKP keys, and d, p, q, dP, dQ, qInv, other, r_i, d_i and t_i (-3 to
 * -12) of RSA keys. The server stores the COSE key as it is, so such a parameter would
 * put the authenticator's private key in the database. */
static webauthn_code reject_private_parameters(const cbor_item_t *map, int64_t kty,
                                               webauthn_error *err)
{
    static const char *const rsa_names[] = {"d",    "p",     "q",   "dP",  "dQ",
                                            "qInv", "other", "r_i", "d_i", "t_i"};
    int64_t first = kty == COSE_KTY_RSA ? -3 : -4;
    int64_t last = kty == COSE_KTY_RSA ? -12 : -4;

    for (int64_t label = first; label >= last; label--) {
        const cbor_item_t *value = NULL;
        webauthn_code code = webauthn_cbor_map_int(map, label, &value, err);

        if (code != WEBAUTHN_OK)
            return code;
        if (value != NULL)
            return webauthn_fail(err, WEBAUTHN_MALFORMED,
                                 "The COSE key contains the private key parameter %lld "
                                 "(%s); a credential public key must not.",
                                 (long long)label,
                                 kty == COSE_KTY_RSA ? rsa_names[-3 - label] : "d");
    }
    return WEBAUTHN_OK;
}

/* Returns true for the RSA algorithms that a credential key may have: RS256, RS384,
 * RS512, PS256, PS384 and PS512. RS1 is left out, because it is accepted only as a tpm
 * statement algorithm. */
static bool rsa_credential_alg(int64_t alg)
{
    const webauthn_sig_alg *sig_alg = webauthn_sig_alg_find(alg);

    return sig_alg != NULL && sig_alg->curve_nid == NID_undef && alg != WEBAUTHN_COSE_RS1;
}

/* Checks that alg is a credential key algorithm and kty its key type. This comes before
 * any other parameter is read, because the labels of the parameters mean different
 * things under each key type. */
static webauthn_code check_alg_kty(int64_t kty, int64_t alg, webauthn_error *err)
{
    if ((ec2_curve_of_alg(alg) != NULL && kty == COSE_KTY_EC2) ||
        (rsa_credential_alg(alg) && kty == COSE_KTY_RSA) ||
        (alg == WEBAUTHN_COSE_EDDSA && kty == COSE_KTY_OKP))
        return WEBAUTHN_OK;
    return webauthn_fail(err, WEBAUTHN_ALGORITHM_UNSUPPORTED,
                         "The credential key has COSE algorithm %lld and key type %lld; "
                         "supported are %s.",
                         (long long)alg, (long long)kty, WEBAUTHN_CREDENTIAL_ALG_NAMES);
}

/* Parses a key whose alg and kty passed check_alg_kty. */
static webauthn_code parse_by_alg(const cbor_item_t *map, int64_t kty, int64_t alg,
                                  bool with_pkey, webauthn_cose_key *out,
                                  webauthn_error *err)
{
    out->libfido2_key = alg == WEBAUTHN_COSE_ES256 || alg == WEBAUTHN_COSE_EDDSA;
    if (kty == COSE_KTY_EC2)
        return parse_ec2(map, ec2_curve_of_alg(alg), with_pkey, out, err);
    if (kty == COSE_KTY_RSA)
        return parse_rsa(map, alg, with_pkey, out, err);
    return parse_okp(map, out, err);
}

webauthn_code webauthn_cose_key_parse(const unsigned char *buf, size_t len,
                                      bool with_pkey, webauthn_cose_key *out,
                                      webauthn_error *err)
{
    cbor_item_t *map = NULL;
    int64_t kty, alg;
    webauthn_code code;

    memset(out, 0, sizeof(*out));
    code = webauthn_cbor_load(buf, len, &map, err);
    if (code != WEBAUTHN_OK)
        return code;

    code = key_int(map, COSE_KTY, &kty, err);
    if (code == WEBAUTHN_OK)
        code = key_int(map, COSE_ALG, &alg, err);
    if (code == WEBAUTHN_OK)
        code = check_alg_kty(kty, alg, err);
    if (code == WEBAUTHN_OK)
        code = reject_private_parameters(map, kty, err);
    if (code != WEBAUTHN_OK)
        goto out;

    code = parse_by_alg(map, kty, alg, with_pkey, out, err);
    if (code == WEBAUTHN_OK)
        out->alg = (int)alg;

out:
    cbor_decref(&map);
    if (code != WEBAUTHN_OK)
        webauthn_cose_key_clear(out);
    return code;
}

void webauthn_cose_key_clear(webauthn_cose_key *key)
{
    EVP_PKEY_free(key->pkey);
    key->pkey = NULL;
    key->alg = 0;
    key->libfido2_key = false;
}
