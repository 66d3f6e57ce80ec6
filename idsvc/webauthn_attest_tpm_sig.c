/*
 * The signature of a tpm attestation statement: the AIK in x5c[0] signs the certInfo
 * bytes with the COSE algorithm in alg (WebAuthn Level 3, section 8.3). RS1 and the RS
 * algorithms are RSASSA-PKCS1-v1_5 (RFC 8812). The PS algorithms are RSASSA-PSS with
 * MGF1 of the same hash and a salt as long as the hash (RFC 8230, section 2). The ES
 * algorithms are ECDSA (RFC 9053) with a DER-encoded signature, as WebAuthn uses.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "webauthn_internal.h"

/* The TPM 2.0 AIKs of real platforms are RSA-2048 or ECC keys, and 2048 bits is also the
 * least RSA size that the SAML verifier takes by default. */
#define WEBAUTHN_TPM_MIN_AIK_RSA_BITS 2048

static const char *curve_name(int nid)
{
    const char *nist = EC_curve_nid2nist(nid);

    return nist != NULL ? nist : OBJ_nid2sn(nid);
}

/* Writes what kind of key this is, such as "an RSA key" or "an EC key on P-384". */
static void describe_key(const EVP_PKEY *key, char *out, size_t size)
{
    int nid = webauthn_ec_curve_nid(key);
    const char *type = EVP_PKEY_get0_type_name(key);

    if (EVP_PKEY_is_a(key, "RSA"))
        snprintf(out, size, "an RSA key");
    else if (nid != NID_undef)
        snprintf(out, size, "an EC key on %s", curve_name(nid));
    else
        snprintf(out, size, "a key of type %s", type != NULL ? type : "unknown");
}

/* Checks that the AIK is an RSA key of at least WEBAUTHN_TPM_MIN_AIK_RSA_BITS for the
 * RS and PS algorithms, and an EC key on the algorithm's curve for the ES algorithms. */
static webauthn_code check_aik_key(const webauthn_sig_alg *tpm_alg, const EVP_PKEY *key,
                                   webauthn_error *err)
{
    char found[64], needed[64];
    bool fits;

    if (tpm_alg->curve_nid == NID_undef)
        fits = EVP_PKEY_is_a(key, "RSA");
    else
        fits = webauthn_ec_curve_nid(key) == tpm_alg->curve_nid;
    if (fits && tpm_alg->curve_nid == NID_undef &&
        EVP_PKEY_get_bits(key) < WEBAUTHN_TPM_MIN_AIK_RSA_BITS)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The TPM attestation certificate key is an RSA key of %d bits; "
                             "an AIK needs at least %d.",
                             EVP_PKEY_get_bits(key), WEBAUTHN_TPM_MIN_AIK_RSA_BITS);
    if (fits)
        return WEBAUTHN_OK;

    describe_key(key, found, sizeof(found));
    if (tpm_alg->curve_nid == NID_undef)
        snprintf(needed, sizeof(needed), "an RSA key");
    else
        snprintf(needed, sizeof(needed), "an EC key on %s",
                 curve_name(tpm_alg->curve_nid));
    return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                         "The TPM attestation certificate key is %s, but alg %lld (%s) "
                         "needs %s.",
                         found, (long long)tpm_alg->alg, tpm_alg->name, needed);
}

webauthn_code webauthn_tpm_verify_signature(const webauthn_sig_alg *tpm_alg, X509 *aik,
                                            const cbor_item_t *cert_info,
                                            const cbor_item_t *sig, webauthn_error *err)
{
    EVP_PKEY *key = X509_get0_pubkey(aik);
    EVP_MD_CTX *ctx = NULL;
    EVP_PKEY_CTX *pkey_ctx = NULL;
    webauthn_code code;

    if (key == NULL)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The TPM attestation certificate key cannot be decoded.");
    code = check_aik_key(tpm_alg, key, err);
    if (code != WEBAUTHN_OK)
        return code;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL ||
        EVP_DigestVerifyInit(ctx, &pkey_ctx, tpm_alg->md(), NULL, key) != 1 ||
        !webauthn_sig_set_padding(pkey_ctx, tpm_alg)) {
        code = webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "OpenSSL could not set up %s signature verification.",
                             tpm_alg->name);
        goto out;
    }
    if (EVP_DigestVerify(ctx, cbor_bytestring_handle(sig), cbor_bytestring_length(sig),
                         cbor_bytestring_handle(cert_info),
                         cbor_bytestring_length(cert_info)) != 1)
        code = webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm attestation signature over certInfo does not "
                             "verify with alg %lld (%s).",
                             (long long)tpm_alg->alg, tpm_alg->name);

out:
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return code;
}
