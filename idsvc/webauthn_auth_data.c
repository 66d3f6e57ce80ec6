/* Authenticator data (WebAuthn Level 3, section 6.1): layout and the flag checks. */
#include <string.h>

#include <openssl/crypto.h>

#include "webauthn_internal.h"

/* rpIdHash (32) + flags (1) + signCount (4) */
#define AUTH_DATA_FIXED_LEN 37
/* aaguid (16) + credentialIdLength (2) */
#define ATTESTED_FIXED_LEN 18

static webauthn_code parse_attested(const unsigned char *raw, size_t len, size_t *pos,
                                    webauthn_auth_data *out, webauthn_error *err)
{
    size_t id_len;
    size_t key_len;
    webauthn_code code;

    if (len - *pos < ATTESTED_FIXED_LEN)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The attested credential data is truncated.");
    memcpy(out->aaguid, raw + *pos, sizeof(out->aaguid));
    id_len = (size_t)raw[*pos + 16] << 8 | raw[*pos + 17];
    *pos += ATTESTED_FIXED_LEN;

    if (id_len == 0 || id_len > WEBAUTHN_MAX_CREDENTIAL_ID)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The credential id length %zu is outside 1 to %d.", id_len,
                             WEBAUTHN_MAX_CREDENTIAL_ID);
    if (len - *pos < id_len)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The credential id runs past the authenticator data.");
    out->credential_id = raw + *pos;
    out->credential_id_len = id_len;
    *pos += id_len;

    /* The COSE_Key has no length prefix: its end is where its CBOR item ends. */
    if (*pos == len)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The attested credential data has no credential public key "
                             "after the credential id.");
    code = webauthn_cbor_check(raw + *pos, len - *pos, &key_len, err);
    if (code != WEBAUTHN_OK)
        return code;
    out->public_key = raw + *pos;
    out->public_key_len = key_len;
    *pos += key_len;
    return WEBAUTHN_OK;
}

static webauthn_code parse_extensions(const unsigned char *raw, size_t len, size_t *pos,
                                      webauthn_auth_data *out, webauthn_error *err)
{
    size_t extensions_len;
    webauthn_code code;

    if (*pos == len)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The authenticator data sets the extensions flag (ED), "
                             "but no extensions follow.");
    code = webauthn_cbor_check(raw + *pos, len - *pos, &extensions_len, err);
    if (code != WEBAUTHN_OK)
        return code;
    if (raw[*pos] >> 5 != 5)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The authenticator data extensions are not a CBOR map.");
    out->extensions = raw + *pos;
    out->extensions_len = extensions_len;
    *pos += extensions_len;
    return WEBAUTHN_OK;
}

/* Names the field that the extra bytes follow. After a credential public key they may
 * belong to the key itself, when its map header declared fewer entries than it has, as
 * Firefox 117 did for Ed25519 keys. */
static webauthn_code fail_extra_bytes(const webauthn_auth_data *out, size_t extra,
                                      webauthn_error *err)
{
    const char *unit = extra == 1 ? "byte" : "bytes";

    if (out->extensions != NULL)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The authenticator data has %zu %s after the extensions.",
                             extra, unit);
    if (out->public_key != NULL)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The authenticator data has %zu %s after the credential "
                             "public key, and the extensions flag (ED) is clear. Check "
                             "that the COSE_Key map header counts all its entries.",
                             extra, unit);
    return webauthn_fail(err, WEBAUTHN_MALFORMED,
                         "The authenticator data has %zu %s after the signature counter, "
                         "and the AT and ED flags are clear.",
                         extra, unit);
}

webauthn_code webauthn_auth_data_parse(const unsigned char *raw, size_t len,
                                       bool with_credential, webauthn_auth_data *out,
                                       webauthn_error *err)
{
    size_t pos = AUTH_DATA_FIXED_LEN;
    webauthn_code code;

    memset(out, 0, sizeof(*out));
    if (raw == NULL || len < AUTH_DATA_FIXED_LEN)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The authenticator data is %zu bytes, shorter than %d.", len,
                             AUTH_DATA_FIXED_LEN);
    out->raw = raw;
    out->raw_len = len;
    out->rp_id_hash = raw;
    out->flags = raw[32];
    out->sign_count = (uint32_t)raw[33] << 24 | (uint32_t)raw[34] << 16 |
                      (uint32_t)raw[35] << 8 | raw[36];

    if (with_credential && !(out->flags & WEBAUTHN_FLAG_AT))
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The authenticator data has no attested credential data (AT "
                             "flag clear).");
    if (out->flags & WEBAUTHN_FLAG_AT) {
        code = parse_attested(raw, len, &pos, out, err);
        if (code != WEBAUTHN_OK)
            return code;
    }

    if (out->flags & WEBAUTHN_FLAG_ED) {
        code = parse_extensions(raw, len, &pos, out, err);
        if (code != WEBAUTHN_OK)
            return code;
    }

    if (pos != len)
        return fail_extra_bytes(out, len - pos, err);
    return WEBAUTHN_OK;
}

webauthn_code webauthn_auth_data_verify(const webauthn_verifier *verifier,
                                        const webauthn_auth_data *auth_data,
                                        webauthn_error *err)
{
    if (CRYPTO_memcmp(verifier->rp_id_hash, auth_data->rp_id_hash,
                      sizeof(verifier->rp_id_hash)) != 0)
        return webauthn_fail(
            err, WEBAUTHN_RP_ID_MISMATCH,
            "The authenticator data rpIdHash is not SHA-256 of the RP ID "
            "\"%.100s\".",
            verifier->rp_id);

    if (!(auth_data->flags & WEBAUTHN_FLAG_UP))
        return webauthn_fail(
            err, WEBAUTHN_USER_PRESENCE_MISSING,
            "The authenticator did not test user presence (UP flag clear).");

    if (verifier->require_uv && !(auth_data->flags & WEBAUTHN_FLAG_UV))
        return webauthn_fail(
            err, WEBAUTHN_USER_VERIFICATION_MISSING,
            "User verification is required, but the authenticator did not "
            "verify the user (UV flag clear).");

    if ((auth_data->flags & WEBAUTHN_FLAG_BS) && !(auth_data->flags & WEBAUTHN_FLAG_BE))
        return webauthn_fail(
            err, WEBAUTHN_MALFORMED,
            "The authenticator data sets backup state (BS) without backup "
            "eligibility (BE).");
    return WEBAUTHN_OK;
}
