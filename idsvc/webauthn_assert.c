/* Authentication ceremony verification (WebAuthn Level 3, section 7.2) with libfido2. */
#include <stdlib.h>
#include <string.h>

#include <fido.h>
#include <fido/eddsa.h>
#include <fido/es256.h>
#include <fido/rs256.h>

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
    webauthn_cose_key key;
} assertion;

static void assertion_clear(assertion *as)
{
    webauthn_cose_key_clear(&as->key);
    free(as->signature);
    free(as->auth_data_raw);
    free(as->client_data);
    free(as->raw_id);
    json_decref(as->root);
    memset(as, 0, sizeof(*as));
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

    return webauthn_cose_key_parse(credential->public_key, credential->public_key_len,
                                   &as->key, err);
}

/* Converts the stored key to libfido2's form; *out is freed with free_fido_key. */
static webauthn_code fido_key_new(const webauthn_cose_key *key, void **out,
                                  webauthn_error *err)
{
    int result = FIDO_ERR_INTERNAL;

    *out = NULL;
    if (key->alg == WEBAUTHN_COSE_ES256) {
        es256_pk_t *pk = es256_pk_new();

        result = pk == NULL ? FIDO_ERR_INTERNAL : es256_pk_from_EVP_PKEY(pk, key->pkey);
        *out = pk;
    } else if (key->alg == WEBAUTHN_COSE_RS256) {
        rs256_pk_t *pk = rs256_pk_new();

        result = pk == NULL ? FIDO_ERR_INTERNAL : rs256_pk_from_EVP_PKEY(pk, key->pkey);
        *out = pk;
    } else if (key->alg == WEBAUTHN_COSE_EDDSA) {
        eddsa_pk_t *pk = eddsa_pk_new();

        result = pk == NULL ? FIDO_ERR_INTERNAL : eddsa_pk_from_EVP_PKEY(pk, key->pkey);
        *out = pk;
    }

    if (result != FIDO_OK)
        return webauthn_fail(err, WEBAUTHN_ALGORITHM_UNSUPPORTED,
                             "libfido2 cannot use the stored %s key: %s.",
                             webauthn_cose_alg_name(key->alg), fido_strerr(result));
    return WEBAUTHN_OK;
}

static void fido_key_free(int alg, void **key)
{
    if (alg == WEBAUTHN_COSE_ES256)
        es256_pk_free((es256_pk_t **)key);
    else if (alg == WEBAUTHN_COSE_RS256)
        rs256_pk_free((rs256_pk_t **)key);
    else if (alg == WEBAUTHN_COSE_EDDSA)
        eddsa_pk_free((eddsa_pk_t **)key);
    *key = NULL;
}

/* Verifies the signature over authenticatorData || SHA-256(clientDataJSON). The
 * presence and verification flags are set explicitly, because by default libfido2
 * passes an assertion whose UP flag is clear. */
static webauthn_code verify_with_fido(const webauthn_verifier *verifier,
                                      const assertion *as, webauthn_error *err)
{
    fido_assert_t *fido_assert = fido_assert_new();
    void *pk = NULL;
    int result;
    webauthn_code code;

    if (fido_assert == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
    code = fido_key_new(&as->key, &pk, err);
    if (code != WEBAUTHN_OK)
        goto out;

    if (fido_assert_set_rp(fido_assert, verifier->rp_id) != FIDO_OK ||
        fido_assert_set_clientdata_hash(fido_assert, as->client_data_hash, 32) !=
            FIDO_OK ||
        fido_assert_set_count(fido_assert, 1) != FIDO_OK ||
        fido_assert_set_up(fido_assert, FIDO_OPT_TRUE) != FIDO_OK ||
        fido_assert_set_uv(fido_assert,
                           verifier->require_uv ? FIDO_OPT_TRUE : FIDO_OPT_OMIT) !=
            FIDO_OK) {
        code = webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "libfido2 rejected the assertion parameters.");
        goto out;
    }
    /* The authenticator data passed webauthn_auth_data_parse, extensions included, so
     * libfido2's cbor_load of them is bounded. */
    if (fido_assert_set_authdata_raw(fido_assert, 0, as->auth_data_raw,
                                     as->auth_data_raw_len) != FIDO_OK ||
        fido_assert_set_sig(fido_assert, 0, as->signature, as->signature_len) !=
            FIDO_OK) {
        code = webauthn_fail(
            err, WEBAUTHN_MALFORMED,
            "libfido2 could not decode the authenticator data or signature.");
        goto out;
    }

    result = fido_assert_verify(fido_assert, 0, as->key.alg, pk);
    if (result == FIDO_ERR_INVALID_SIG)
        code = webauthn_fail(err, WEBAUTHN_SIGNATURE_INVALID,
                             "The assertion signature does not verify with the stored %s "
                             "key.",
                             webauthn_cose_alg_name(as->key.alg));
    else if (result != FIDO_OK)
        code = webauthn_fail(err, WEBAUTHN_SIGNATURE_INVALID,
                             "libfido2 rejected the assertion: %s.", fido_strerr(result));

out:
    fido_key_free(as->key.alg, &pk);
    fido_assert_free(&fido_assert);
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

webauthn_code webauthn_verify_assertion(const webauthn_verifier *verifier,
                                        const unsigned char *challenge,
                                        size_t challenge_len,
                                        const webauthn_credential *credential,
                                        const char *response_json, size_t response_len,
                                        webauthn_assertion *out, webauthn_error *err)
{
    assertion as;
    webauthn_code code;

    memset(&as, 0, sizeof(as));
    memset(out, 0, sizeof(*out));
    /* Fail closed: the result reads "rejected" until every step has passed. */
    webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "The verification did not finish.");

    code = decode_and_check(verifier, challenge, challenge_len, credential, response_json,
                            response_len, &as, err);
    if (code != WEBAUTHN_OK)
        goto out;

    code = verify_with_fido(verifier, &as, err);
    if (code != WEBAUTHN_OK)
        goto out;

    /* The signature is genuine from here on, so a regression points at a clone. */
    out->flags = as.auth_data.flags;
    out->sign_count = as.auth_data.sign_count;
    code = check_counter(credential->sign_count, as.auth_data.sign_count, err);
    if (code == WEBAUTHN_OK)
        webauthn_fail(err, WEBAUTHN_OK, "The assertion is valid.");

out:
    assertion_clear(&as);
    return code;
}
