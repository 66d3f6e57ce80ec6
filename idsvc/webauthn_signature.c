/*
 * COSE signature algorithms and their verification with OpenSSL. The RS algorithms are
 * RSASSA-PKCS1-v1_5 (RFC 8812). The PS algorithms are RSASSA-PSS with MGF1 of the same
 * hash and a salt as long as the hash (RFC 8230, section 2). The ES algorithms are ECDSA
 * on the curve that RFC 9053 (section 2.1) pairs with each, with a DER-encoded
 * signature, as WebAuthn uses. EdDSA is Ed25519 (RFC 8032).
 */
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "webauthn_internal.h"

/* clang-format off */
static const webauthn_sig_alg sig_algs[] = {
    {WEBAUTHN_COSE_RS1,   "RS1",   "SHA-1",   EVP_sha1,   RSA_PKCS1_PADDING,     NID_undef},
    {WEBAUTHN_COSE_RS256, "RS256", "SHA-256", EVP_sha256, RSA_PKCS1_PADDING,     NID_undef},
    {WEBAUTHN_COSE_RS384, "RS384", "SHA-384", EVP_sha384, RSA_PKCS1_PADDING,     NID_undef},
    {WEBAUTHN_COSE_RS512, "RS512", "SHA-512", EVP_sha512, RSA_PKCS1_PADDING,     NID_undef},
    {WEBAUTHN_COSE_PS256, "PS256", "SHA-256", EVP_sha256, RSA_PKCS1_PSS_PADDING, NID_undef},
    {WEBAUTHN_COSE_PS384, "PS384", "SHA-384", EVP_sha384, RSA_PKCS1_PSS_PADDING, NID_undef},
    {WEBAUTHN_COSE_PS512, "PS512", "SHA-512", EVP_sha512, RSA_PKCS1_PSS_PADDING, NID_undef},
    {WEBAUTHN_COSE_ES256, "ES256", "SHA-256", EVP_sha256, 0, NID_X9_62_prime256v1},
    {WEBAUTHN_COSE_ES384, "ES384", "SHA-384", EVP_sha384, 0, NID_secp384r1},
    {WEBAUTHN_COSE_ES512, "ES512", "SHA-512", EVP_sha512, 0, NID_secp521r1},
};
/* clang-format on */

const webauthn_sig_alg *webauthn_sig_alg_find(int64_t alg)
{
    for (size_t i = 0; i < sizeof(sig_algs) / sizeof(sig_algs[0]); i++) {
        if (sig_algs[i].alg == alg)
            return &sig_algs[i];
    }
    return NULL;
}

int webauthn_ec_curve_nid(const EVP_PKEY *key)
{
    char group[64];

    if (!EVP_PKEY_is_a(key, "EC") ||
        EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) != 1)
        return NID_undef;
    return OBJ_sn2nid(group);
}

bool webauthn_key_fits_alg(const EVP_PKEY *key, int64_t alg)
{
    const webauthn_sig_alg *sig_alg = webauthn_sig_alg_find(alg);

    if (key == NULL)
        return false;
    if (alg == WEBAUTHN_COSE_EDDSA)
        return EVP_PKEY_is_a(key, "ED25519");
    if (sig_alg == NULL)
        return false;
    if (sig_alg->curve_nid == NID_undef)
        return EVP_PKEY_is_a(key, "RSA");
    return webauthn_ec_curve_nid(key) == sig_alg->curve_nid;
}

bool webauthn_sig_set_padding(EVP_PKEY_CTX *pkey_ctx, const webauthn_sig_alg *sig_alg)
{
    if (sig_alg->padding == 0)
        return true;
    if (EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, sig_alg->padding) != 1)
        return false;
    if (sig_alg->padding != RSA_PKCS1_PSS_PADDING)
        return true;
    return EVP_PKEY_CTX_set_rsa_mgf1_md(pkey_ctx, sig_alg->md()) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pkey_ctx, RSA_PSS_SALTLEN_DIGEST) == 1;
}

/* Returns the digest of alg, NULL for EdDSA. SHA-256 is the copy fetched once per
 * process, because ES256 and RS256 are the common case. */
static const EVP_MD *alg_md(const webauthn_sig_alg *sig_alg)
{
    if (sig_alg == NULL)
        return NULL;
    if (sig_alg->md == EVP_sha256)
        return webauthn_sha256_md();
    return sig_alg->md();
}

webauthn_code webauthn_verify_signature(EVP_PKEY *key, int64_t alg,
                                        const unsigned char *data, size_t data_len,
                                        const unsigned char *signature,
                                        size_t signature_len, webauthn_error *err)
{
    const webauthn_sig_alg *sig_alg = webauthn_sig_alg_find(alg);
    EVP_MD_CTX *ctx = NULL;
    EVP_PKEY_CTX *pkey_ctx = NULL;
    const EVP_MD *md = alg_md(sig_alg);
    webauthn_code code = WEBAUTHN_OK;

    /* RS1 fits an RSA key but is accepted only inside tpm, whose certInfo signature
     * webauthn_attest_tpm_sig.c verifies. */
    if (alg == WEBAUTHN_COSE_RS1 || !webauthn_key_fits_alg(key, alg))
        return webauthn_fail(
            err, WEBAUTHN_ALGORITHM_UNSUPPORTED,
            "The signature algorithm %lld (%s) does not match the key or is "
            "not supported.",
            (long long)alg, webauthn_cose_alg_name(alg));
    if (alg != WEBAUTHN_COSE_EDDSA && md == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "OpenSSL could not provide %s.", sig_alg->hash_name);

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestVerifyInit(ctx, &pkey_ctx, md, NULL, key) != 1 ||
        (sig_alg != NULL && !webauthn_sig_set_padding(pkey_ctx, sig_alg))) {
        code = webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "OpenSSL could not set up %s signature verification.",
                             webauthn_cose_alg_name(alg));
        goto out;
    }
    if (EVP_DigestVerify(ctx, signature, signature_len, data, data_len) != 1)
        code = webauthn_fail(err, WEBAUTHN_SIGNATURE_INVALID,
                             "The %s signature does not verify.",
                             webauthn_cose_alg_name(alg));

out:
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return code;
}
