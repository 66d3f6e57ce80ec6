/*
 * Statement signatures over authenticatorData || clientDataHash verified with OpenSSL,
 * for packed statements whose algorithms libfido2 1.12 does not verify: a credential
 * key or a statement alg other than ES256, RS256 and EdDSA.
 */
#include <stdlib.h>
#include <string.h>

#include "webauthn_internal.h"

bool webauthn_libfido2_alg(int64_t alg)
{
    return alg == WEBAUTHN_COSE_ES256 || alg == WEBAUTHN_COSE_RS256 ||
           alg == WEBAUTHN_COSE_EDDSA;
}

webauthn_code webauthn_att_stmt_sig(const cbor_item_t *att_stmt, const char *fmt,
                                    const cbor_item_t **sig, webauthn_error *err)
{
    webauthn_code code = webauthn_att_stmt_member(att_stmt, "sig", sig, err);

    if (code != WEBAUTHN_OK)
        return code;
    if (!cbor_isa_bytestring(*sig) || !cbor_bytestring_is_definite(*sig))
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The %s attestation statement sig is not a byte string.",
                             fmt);
    if (cbor_bytestring_length(*sig) == 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The %s attestation statement sig is empty.", fmt);
    return WEBAUTHN_OK;
}

webauthn_code webauthn_verify_att_signature(const webauthn_attestation_input *in,
                                            EVP_PKEY *key, int64_t alg,
                                            webauthn_error *err)
{
    const webauthn_auth_data *ad = in->auth_data;
    const cbor_item_t *sig;
    unsigned char *signed_data;
    webauthn_code code;

    code = webauthn_att_stmt_sig(in->att_stmt, in->fmt, &sig, err);
    if (code != WEBAUTHN_OK)
        return code;
    if (key == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "The %s attestation key has no EVP_PKEY.", in->fmt);

    signed_data = malloc(ad->raw_len + 32);
    if (signed_data == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
    memcpy(signed_data, ad->raw, ad->raw_len);
    memcpy(signed_data + ad->raw_len, in->client_data_hash, 32);
    code = webauthn_verify_signature(key, alg, signed_data, ad->raw_len + 32,
                                     cbor_bytestring_handle(sig),
                                     cbor_bytestring_length(sig), err);
    free(signed_data);
    if (code == WEBAUTHN_SIGNATURE_INVALID)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The %s attestation signature does not verify with alg "
                             "%lld (%s).",
                             in->fmt, (long long)alg, webauthn_cose_alg_name(alg));
    return code;
}
