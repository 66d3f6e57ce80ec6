/*
 * Authentication ceremony verification (WebAuthn Level 3, section 7.2). The signature is
 * verified with OpenSSL on the parsed stored key. Every check that libfido2 1.12's
 * fido_assert_verify made when it verified assertions here is still made: the UP flag,
 * the UV flag when required and rpIdHash in webauthn_auth_data_verify, the extension
 * outputs in check_extensions, and the signature over authenticatorData ||
 * SHA-256(clientDataJSON) in verify_signature.
 */
#include <stdlib.h>
#include <string.h>

#include "webauthn_internal.h"

/* The decoded parts of one assertion response. */
typedef struct assertion {
    json_t *root;
    unsigned char *raw_id;
    size_t raw_id_len;
    unsigned char *client_data;
    size_t client_data_len;
    unsigned char client_data_hash[32];
    unsigned char *auth_data_raw;
    size_t auth_data_raw_len;
    unsigned char *signature;
    size_t signature_len;
    webauthn_auth_data auth_data;
} assertion;

static void assertion_clear(assertion *as)
{
    free(as->signature);
    free(as->auth_data_raw);
    free(as->client_data);
    free(as->raw_id);
    json_decref(as->root);
    memset(as, 0, sizeof(*as));
}

/* A response's userHandle identifies the account that the authenticator keeps the key
 * for, so it must be the credential owner's. An absent, null or empty one identifies no
 * account. Any other value must be base64url text even when the caller stored no
 * handle to compare, so that a malformed response is not accepted. */
static webauthn_code check_user_handle(const webauthn_credential *credential,
                                       const json_t *response, webauthn_error *err)
{
    const json_t *value = json_object_get(response, "userHandle");
    unsigned char *handle = NULL;
    size_t len = 0;
    webauthn_code code;

    if (value == NULL || json_is_null(value) ||
        (json_is_string(value) && json_string_length(value) == 0))
        return WEBAUTHN_OK;
    code = webauthn_json_bytes(response, "userHandle", "userHandle", &handle, &len, err);
    if (code == WEBAUTHN_OK && credential->user_handle != NULL &&
        (len != credential->user_handle_len ||
         memcmp(handle, credential->user_handle, len) != 0))
        code = webauthn_fail(err, WEBAUTHN_USER_HANDLE_MISMATCH,
                             "The response's userHandle is not the credential owner's.");
    free(handle);
    return code;
}

/* A credential's backup eligibility is fixed when it is created, so BE must be what the
 * registration reported (WebAuthn Level 3, section 7.2). */
static webauthn_code check_backup_eligibility(const webauthn_credential *credential,
                                              uint8_t flags, webauthn_error *err)
{
    bool eligible = (flags & WEBAUTHN_FLAG_BE) != 0;

    if (credential->backup_eligibility == WEBAUTHN_BACKUP_ELIGIBLE && !eligible)
        return webauthn_fail(err, WEBAUTHN_BACKUP_ELIGIBILITY_MISMATCH,
                             "The authenticator data clears backup eligibility (BE), but "
                             "the credential was registered as backup eligible.");
    if (credential->backup_eligibility == WEBAUTHN_BACKUP_INELIGIBLE && eligible)
        return webauthn_fail(err, WEBAUTHN_BACKUP_ELIGIBILITY_MISMATCH,
                             "The authenticator data sets backup eligibility (BE), but "
                             "the credential was registered as not backup eligible.");
    return WEBAUTHN_OK;
}

static webauthn_code
decode_and_check(const webauthn_verifier *verifier, const unsigned char *challenge,
                 size_t challenge_len, const webauthn_credential *credential,
                 const char *json, size_t json_len, assertion *as, webauthn_error *err)
{
    const json_t *response;
    webauthn_code code;

    code = webauthn_json_load(json, json_len, &as->root, err);
    if (code != WEBAUTHN_OK)
        return code;
    code =
        webauthn_json_credential(as->root, &as->raw_id, &as->raw_id_len, &response, err);
    if (code != WEBAUTHN_OK)
        return code;
    if (credential->id != NULL &&
        (credential->id_len != as->raw_id_len ||
         memcmp(credential->id, as->raw_id, as->raw_id_len) != 0))
        return webauthn_fail(err, WEBAUTHN_CREDENTIAL_ID_MISMATCH,
                             "The response's rawId is not the stored credential's id.");
    code = check_user_handle(credential, response, err);
    if (code != WEBAUTHN_OK)
        return code;

    code = webauthn_json_bytes(response, "clientDataJSON", "clientDataJSON",
                               &as->client_data, &as->client_data_len, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = webauthn_client_data_verify(verifier, "webauthn.get", challenge, challenge_len,
                                       as->client_data, as->client_data_len,
                                       as->client_data_hash, err);
    if (code != WEBAUTHN_OK)
        return code;

    code = webauthn_json_bytes(response, "authenticatorData", "authenticatorData",
                               &as->auth_data_raw, &as->auth_data_raw_len, err);
    if (code == WEBAUTHN_OK)
        code = webauthn_json_bytes(response, "signature", "signature", &as->signature,
                                   &as->signature_len, err);
    if (code != WEBAUTHN_OK)
        return code;

    code = webauthn_auth_data_parse(as->auth_data_raw, as->auth_data_raw_len, false,
                                    &as->auth_data, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = webauthn_auth_data_verify(verifier, &as->auth_data, err);
    if (code != WEBAUTHN_OK)
        return code;
    return check_backup_eligibility(credential, as->auth_data.flags, err);
}

/* Returns true when a CBOR map key names the extension. Like libfido2, which copies
 * the key with cbor_string_copy and compares it with strcmp, the name ends at the first
 * NUL byte. */
static bool key_names(const cbor_item_t *key, const char *name)
{
    size_t len;
    const unsigned char *text;
    const unsigned char *nul;

    if (!cbor_isa_string(key) || !cbor_string_is_definite(key))
        return false;
    text = cbor_string_handle(key);
    len = cbor_string_length(key);
    nul = len == 0 ? NULL : memchr(text, '\0', len);
    if (nul != NULL)
        len = (size_t)(nul - text);
    return len == strlen(name) && (len == 0 || memcmp(text, name, len) == 0);
}

/*
 * Rejects the extension outputs that libfido2 1.12 decodes in assertion authenticator
 * data, hmac-secret and credBlob. fido_assert_verify requires the outputs reported to
 * equal the extensions requested, and this server requests none; a value that is not a
 * byte string already failed libfido2's decoding. Other extensions pass, as there.
 */
static webauthn_code check_extensions(const webauthn_auth_data *auth_data,
                                      webauthn_error *err)
{
    static const char *const decoded[] = {"hmac-secret", "credBlob"};
    cbor_item_t *map = NULL;
    struct cbor_pair *pairs;
    webauthn_code code;

    if (auth_data->extensions == NULL)
        return WEBAUTHN_OK;
    code =
        webauthn_cbor_load(auth_data->extensions, auth_data->extensions_len, &map, err);
    if (code != WEBAUTHN_OK)
        return code;

    pairs = cbor_map_handle(map);
    for (size_t i = 0; i < cbor_map_size(map) && code == WEBAUTHN_OK; i++) {
        for (size_t j = 0; j < sizeof(decoded) / sizeof(decoded[0]); j++) {
            if (!key_names(pairs[i].key, decoded[j]))
                continue;
            if (!cbor_isa_bytestring(pairs[i].value) ||
                !cbor_bytestring_is_definite(pairs[i].value))
                code = webauthn_fail(
                    err, WEBAUTHN_MALFORMED,
                    "The authenticator data extension %s is not a byte string.",
                    decoded[j]);
            else
                code = webauthn_fail(
                    err, WEBAUTHN_SIGNATURE_INVALID,
                    "The authenticator data reports the %s extension, which this "
                    "server did not request.",
                    decoded[j]);
            break;
        }
    }

    cbor_decref(&map);
    return code;
}

/* Verifies the signature over authenticatorData || SHA-256(clientDataJSON) with the
 * stored key. The algorithm is the key's own, so a signature of another algorithm
 * cannot be chosen by the response. */
static webauthn_code verify_signature(const assertion *as, const webauthn_cose_key *key,
                                      webauthn_error *err)
{
    size_t signed_len = as->auth_data_raw_len + sizeof(as->client_data_hash);
    unsigned char *signed_data = malloc(signed_len);
    webauthn_code code;

    if (signed_data == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
    memcpy(signed_data, as->auth_data_raw, as->auth_data_raw_len);
    memcpy(signed_data + as->auth_data_raw_len, as->client_data_hash,
           sizeof(as->client_data_hash));

    code = webauthn_verify_signature(key->pkey, key->alg, signed_data, signed_len,
                                     as->signature, as->signature_len, err);
    if (code == WEBAUTHN_SIGNATURE_INVALID)
        webauthn_fail(err, WEBAUTHN_SIGNATURE_INVALID,
                      "The assertion signature does not verify with the stored %s key.",
                      webauthn_cose_alg_name(key->alg));
    free(signed_data);
    return code;
}

/* A counter must grow; both zero means the authenticator keeps no counter. A counter
 * may jump by more than one, because one authenticator may serve several sites. */
static webauthn_code check_counter(uint32_t stored, uint32_t received,
                                   webauthn_error *err)
{
    if (stored == 0 && received == 0)
        return WEBAUTHN_OK;
    if (received > stored)
        return WEBAUTHN_OK;
    return webauthn_fail(
        err, WEBAUTHN_COUNTER_REGRESSION,
        "The signature counter %u is not greater than the stored %u; the "
        "authenticator may be cloned.",
        received, stored);
}

/* Runs every step after the response was decoded and checked against the verifier and
 * the stored credential id: the extensions, the signature and the counter. */
static webauthn_code finish(const webauthn_credential *credential,
                            const webauthn_cose_key *key, const assertion *as,
                            webauthn_assertion *out, webauthn_error *err)
{
    webauthn_code code;

    code = check_extensions(&as->auth_data, err);
    if (code != WEBAUTHN_OK)
        return code;

    code = verify_signature(as, key, err);
    if (code != WEBAUTHN_OK)
        return code;

    /* The signature is genuine from here on, so a regression points at a clone. */
    out->flags = as->auth_data.flags;
    out->sign_count = as->auth_data.sign_count;
    out->backup_eligible = (as->auth_data.flags & WEBAUTHN_FLAG_BE) != 0;
    code = check_counter(credential->sign_count, as->auth_data.sign_count, err);
    if (code == WEBAUTHN_OK)
        webauthn_fail(err, WEBAUTHN_OK, "The assertion is valid.");
    return code;
}

webauthn_code webauthn_verify_assertion(const webauthn_verifier *verifier,
                                        const unsigned char *challenge,
                                        size_t challenge_len,
                                        const webauthn_credential *credential,
                                        const char *response_json, size_t response_len,
                                        webauthn_assertion *out, webauthn_error *err)
{
    assertion as;
    webauthn_cose_key key;
    webauthn_code code;

    memset(&as, 0, sizeof(as));
    memset(&key, 0, sizeof(key));
    memset(out, 0, sizeof(*out));
    /* Fail closed: the result reads "rejected" until every step has passed. */
    webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "The verification did not finish.");

    code = decode_and_check(verifier, challenge, challenge_len, credential, response_json,
                            response_len, &as, err);
    if (code != WEBAUTHN_OK)
        goto out;

    code = webauthn_cose_key_parse(credential->public_key, credential->public_key_len,
                                   true, &key, err);
    if (code != WEBAUTHN_OK)
        goto out;

    code = finish(credential, &key, &as, out, err);

out:
    webauthn_cose_key_clear(&key);
    assertion_clear(&as);
    return code;
}

webauthn_code webauthn_verify_assertion_key(
    const webauthn_verifier *verifier, const unsigned char *challenge,
    size_t challenge_len, const webauthn_credential *credential,
    const webauthn_public_key *key, const char *response_json, size_t response_len,
    webauthn_assertion *out, webauthn_error *err)
{
    const webauthn_cose_key *parsed;
    assertion as;
    webauthn_code code;

    memset(&as, 0, sizeof(as));
    memset(out, 0, sizeof(*out));
    /* Fail closed: the result reads "rejected" until every step has passed. */
    webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "The verification did not finish.");

    /* A key parsed from other bytes than the credential's is the caller's bug. */
    parsed = key == NULL ? NULL
                         : webauthn_public_key_cose(key, credential->public_key,
                                                    credential->public_key_len);
    if (parsed == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "The parsed public key is missing or was not parsed from "
                             "the credential's public_key.");

    code = decode_and_check(verifier, challenge, challenge_len, credential, response_json,
                            response_len, &as, err);
    if (code == WEBAUTHN_OK)
        code = finish(credential, parsed, &as, out, err);

    assertion_clear(&as);
    return code;
}
