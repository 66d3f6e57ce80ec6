/* Registration ceremony verification (WebAuthn Level 3, section 7.1). */
#include <stdlib.h>
#include <string.h>

#include "webauthn_internal.h"

typedef webauthn_code (*attestation_verify_fn)(const webauthn_attestation_input *in,
                                               webauthn_attestation_output *out,
                                               webauthn_error *err);

/* needs_pkey marks the formats that compare the credential key with a certificate key
 * and so need an EVP_PKEY for an ES256 key too. */
static const struct {
    const char *name;
    attestation_verify_fn verify;
    bool needs_pkey;
} attestation_formats[] = {
    {"packed", webauthn_attest_packed, false},
    {"fido-u2f", webauthn_attest_fido_u2f, false},
    {"tpm", webauthn_attest_tpm, false},
    {"android-key", webauthn_attest_android_key, true},
    {"apple", webauthn_attest_apple, true},
    {"android-safetynet", webauthn_attest_android_safetynet, false},
    {"none", webauthn_attest_none, false},
};

static bool format_needs_pkey(const char *fmt)
{
    for (size_t i = 0; i < sizeof(attestation_formats) / sizeof(attestation_formats[0]);
         i++) {
        if (strcmp(attestation_formats[i].name, fmt) == 0)
            return attestation_formats[i].needs_pkey;
    }
    return false;
}

/* The decoded parts of one registration response; every pointer is owned or points
 * into an owned buffer. */
typedef struct registration {
    json_t *root;
    unsigned char *raw_id;
    size_t raw_id_len;
    unsigned char *client_data;
    size_t client_data_len;
    unsigned char client_data_hash[32];
    unsigned char *attestation_object;
    size_t attestation_object_len;
    cbor_item_t *attestation_item;
    char fmt[24];
    const cbor_item_t *att_stmt;
    webauthn_auth_data auth_data;
    webauthn_cose_key key;
    webauthn_attestation_output attestation;
} registration;

static void registration_clear(registration *reg)
{
    sk_X509_pop_free(reg->attestation.x5c, X509_free);
    webauthn_cose_key_clear(&reg->key);
    if (reg->attestation_item != NULL)
        cbor_decref(&reg->attestation_item);
    free(reg->attestation_object);
    free(reg->client_data);
    free(reg->raw_id);
    json_decref(reg->root);
    memset(reg, 0, sizeof(*reg));
}

static webauthn_code read_fmt(const cbor_item_t *item, char *fmt, size_t size,
                              webauthn_error *err)
{
    size_t len;

    if (item == NULL || !cbor_isa_string(item) || !cbor_string_is_definite(item))
        return webauthn_fail(
            err, WEBAUTHN_MALFORMED,
            "The attestation object fmt is missing or not a text string.");
    len = cbor_string_length(item);
    if (len == 0 || len >= size || memchr(cbor_string_handle(item), '\0', len) != NULL)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED,
                             "The attestation format name is empty or too long.");
    memcpy(fmt, cbor_string_handle(item), len);
    fmt[len] = '\0';
    return WEBAUTHN_OK;
}

/* Splits the attestation object {fmt, attStmt, authData} into reg. */
static webauthn_code decode_attestation_object(registration *reg, webauthn_error *err)
{
    const cbor_item_t *fmt, *auth_data;
    webauthn_code code;

    code = webauthn_cbor_load(reg->attestation_object, reg->attestation_object_len,
                              &reg->attestation_item, err);
    if (code != WEBAUTHN_OK)
        return code;

    code = webauthn_cbor_map_text(reg->attestation_item, "fmt", &fmt, err);
    if (code == WEBAUTHN_OK)
        code =
            webauthn_cbor_map_text(reg->attestation_item, "attStmt", &reg->att_stmt, err);
    if (code == WEBAUTHN_OK)
        code = webauthn_cbor_map_text(reg->attestation_item, "authData", &auth_data, err);
    if (code != WEBAUTHN_OK)
        return code;

    code = read_fmt(fmt, reg->fmt, sizeof(reg->fmt), err);
    if (code != WEBAUTHN_OK)
        return code;
    if (reg->att_stmt == NULL || !cbor_isa_map(reg->att_stmt) ||
        !cbor_map_is_definite(reg->att_stmt))
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The attestation object attStmt is missing or not a map.");
    if (auth_data == NULL || !cbor_isa_bytestring(auth_data) ||
        !cbor_bytestring_is_definite(auth_data))
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The attestation object authData is missing or not a byte "
                             "string.");

    return webauthn_auth_data_parse(cbor_bytestring_handle(auth_data),
                                    cbor_bytestring_length(auth_data), true,
                                    &reg->auth_data, err);
}

/* Checks that the credential key and the extensions map in authenticator data have
 * their keys in CTAP2 canonical order. WebAuthn Level 3 (section 2.4) requires every
 * encoder to use that form and lets decoders reject any other. The authenticator encodes
 * these maps inside the authenticator data, which clients pass on as bytes and every
 * format but none signs. The attestation object and attStmt around them are not
 * checked, because clients build those themselves and nothing signs them. libfido2
 * 1.12 relies on this check, because it reads a map only in this order. */
static webauthn_code check_auth_data_map_order(const webauthn_auth_data *ad,
                                               webauthn_error *err)
{
    cbor_item_t *map = NULL;
    webauthn_code code;
    bool canonical;

    code = webauthn_cbor_load(ad->public_key, ad->public_key_len, &map, err);
    if (code != WEBAUTHN_OK)
        return code;
    if (!cbor_isa_map(map)) {
        cbor_decref(&map);
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The credential public key in authenticator data is not a "
                             "CBOR map, so it is no COSE_Key.");
    }
    canonical = webauthn_cbor_map_canonical(map);
    cbor_decref(&map);
    if (!canonical)
        return webauthn_fail(err, WEBAUTHN_CBOR_MALFORMED,
                             "The credential public key in authenticator data does not "
                             "have its map keys in CTAP2 canonical order, or has a key "
                             "that is neither an integer nor a text string.");
    if (ad->extensions == NULL)
        return WEBAUTHN_OK;

    code = webauthn_cbor_load(ad->extensions, ad->extensions_len, &map, err);
    if (code != WEBAUTHN_OK)
        return code;
    canonical = webauthn_cbor_map_canonical(map);
    cbor_decref(&map);
    if (!canonical)
        return webauthn_fail(err, WEBAUTHN_CBOR_MALFORMED,
                             "The authenticator data extensions do not have their map "
                             "keys in CTAP2 canonical order, or have a key that is "
                             "neither an integer nor a text string.");
    return WEBAUTHN_OK;
}

/* Steps up to the attestation statement: JSON, clientDataJSON, authenticator data, the
 * credential id and the credential key. */
static webauthn_code decode_and_check(const webauthn_verifier *verifier,
                                      const unsigned char *challenge,
                                      size_t challenge_len, const char *json,
                                      size_t json_len, registration *reg,
                                      webauthn_error *err)
{
    const json_t *response;
    webauthn_code code;

    code = webauthn_json_load(json, json_len, &reg->root, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = webauthn_json_credential(reg->root, &reg->raw_id, &reg->raw_id_len, &response,
                                    err);
    if (code != WEBAUTHN_OK)
        return code;

    code = webauthn_json_bytes(response, "clientDataJSON", "clientDataJSON",
                               &reg->client_data, &reg->client_data_len, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = webauthn_client_data_verify(verifier, "webauthn.create", challenge,
                                       challenge_len, reg->client_data,
                                       reg->client_data_len, reg->client_data_hash, err);
    if (code != WEBAUTHN_OK)
        return code;

    code =
        webauthn_json_bytes(response, "attestationObject", "attestationObject",
                            &reg->attestation_object, &reg->attestation_object_len, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = decode_attestation_object(reg, err);
    if (code != WEBAUTHN_OK)
        return code;

    code = webauthn_auth_data_verify(verifier, &reg->auth_data, err);
    if (code != WEBAUTHN_OK)
        return code;

    if (reg->auth_data.credential_id_len != reg->raw_id_len ||
        memcmp(reg->auth_data.credential_id, reg->raw_id, reg->raw_id_len) != 0)
        return webauthn_fail(
            err, WEBAUTHN_CREDENTIAL_ID_MISMATCH,
            "The credential id in the authenticator data differs from the "
            "response's rawId.");

    code = check_auth_data_map_order(&reg->auth_data, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = webauthn_check_extension_outputs(&reg->auth_data, err);
    if (code != WEBAUTHN_OK)
        return code;
    code =
        webauthn_cose_key_parse(reg->auth_data.public_key, reg->auth_data.public_key_len,
                                format_needs_pkey(reg->fmt), &reg->key, err);
    if (code != WEBAUTHN_OK)
        return code;

    /* WebAuthn Level 3 (section 7.1) requires the credential key's alg to be one of
     * pubKeyCredParams. */
    if (!webauthn_verifier_offers(verifier, reg->key.alg))
        return webauthn_fail(err, WEBAUTHN_ALGORITHM_NOT_OFFERED,
                             "The credential key algorithm %d (%s) was not offered in "
                             "the registration options.",
                             reg->key.alg, webauthn_cose_alg_name(reg->key.alg));
    return WEBAUTHN_OK;
}

/* Registered WebAuthn formats that this server does not verify, each with the reason
 * that its rejection gives. */
static const struct {
    const char *name;
    const char *reason;
} unverified_formats[] = {
    {"compound", "this server does not verify statements that combine several formats"},
};

static webauthn_code reject_format(const char *fmt, webauthn_error *err)
{
    for (size_t i = 0; i < sizeof(unverified_formats) / sizeof(unverified_formats[0]);
         i++) {
        if (strcmp(unverified_formats[i].name, fmt) == 0)
            return webauthn_fail(err, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED,
                                 "The attestation format \"%s\" is not supported: %s.",
                                 fmt, unverified_formats[i].reason);
    }
    return webauthn_fail(err, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED,
                         "The attestation format \"%s\" is not supported.", fmt);
}

static webauthn_code verify_statement(const webauthn_verifier *verifier,
                                      registration *reg, webauthn_error *err)
{
    webauthn_attestation_input in = {
        .verifier = verifier,
        .fmt = reg->fmt,
        .att_stmt = reg->att_stmt,
        .auth_data = &reg->auth_data,
        .credential_key = &reg->key,
        .client_data_hash = reg->client_data_hash,
    };

    for (size_t i = 0; i < sizeof(attestation_formats) / sizeof(attestation_formats[0]);
         i++) {
        if (strcmp(attestation_formats[i].name, reg->fmt) == 0)
            return attestation_formats[i].verify(&in, &reg->attestation, err);
    }
    return reject_format(reg->fmt, err);
}

/* Applies the deployment's attestation policy to a verified statement. */
static webauthn_code apply_policy(const webauthn_verifier *verifier, registration *reg,
                                  webauthn_error *err)
{
    webauthn_attestation_output *attestation = &reg->attestation;
    webauthn_code code;

    if (verifier->policy == WEBAUTHN_ATTESTATION_ANY)
        return WEBAUTHN_OK;

    if (attestation->type == WEBAUTHN_ATTESTED_NONE)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_REQUIRED,
            "The registration has no attestation (format none), but this "
            "relying party requires %s attestation.",
            verifier->policy == WEBAUTHN_ATTESTATION_SELF ? "self or better" : "chained");
    if (verifier->policy == WEBAUTHN_ATTESTATION_SELF)
        return WEBAUTHN_OK;

    if (attestation->type == WEBAUTHN_ATTESTED_SELF)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_REQUIRED,
            "The registration has only self attestation, but this relying "
            "party requires a chain to a configured root.");
    code = webauthn_x5c_verify_chain(verifier, attestation->x5c, err);
    if (code != WEBAUTHN_OK)
        return code;
    attestation->type = WEBAUTHN_ATTESTED_TRUSTED;
    return WEBAUTHN_OK;
}

static webauthn_code build_output(const registration *reg, webauthn_registration **out,
                                  webauthn_error *err)
{
    webauthn_registration *result = calloc(1, sizeof(*result));

    if (result == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
    result->credential_id = malloc(reg->auth_data.credential_id_len);
    result->public_key = malloc(reg->auth_data.public_key_len);
    if (result->credential_id == NULL || result->public_key == NULL) {
        webauthn_registration_free(&result);
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
    }

    memcpy(result->fmt, reg->fmt, sizeof(result->fmt));
    result->attestation = reg->attestation.type;
    /* The U2F signature does not cover the AAGUID, so a fido-u2f registration keeps the
     * all-zero AAGUID that CTAP2 gives U2F authenticators, whatever the client sent. */
    if (strcmp(reg->fmt, "fido-u2f") != 0)
        memcpy(result->aaguid, reg->auth_data.aaguid, sizeof(result->aaguid));
    memcpy(result->credential_id, reg->auth_data.credential_id,
           reg->auth_data.credential_id_len);
    result->credential_id_len = reg->auth_data.credential_id_len;
    memcpy(result->public_key, reg->auth_data.public_key, reg->auth_data.public_key_len);
    result->public_key_len = reg->auth_data.public_key_len;
    result->algorithm = reg->key.alg;
    result->flags = reg->auth_data.flags;
    result->sign_count = reg->auth_data.sign_count;
    result->backup_eligible = (reg->auth_data.flags & WEBAUTHN_FLAG_BE) != 0;

    *out = result;
    return WEBAUTHN_OK;
}

webauthn_code webauthn_verify_registration(const webauthn_verifier *verifier,
                                           const unsigned char *challenge,
                                           size_t challenge_len,
                                           const char *response_json, size_t response_len,
                                           webauthn_registration **out,
                                           webauthn_error *err)
{
    registration reg;
    webauthn_code code;

    memset(&reg, 0, sizeof(reg));
    *out = NULL;
    /* Fail closed: the result reads "rejected" until every step has passed. */
    webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "The verification did not finish.");

    code = decode_and_check(verifier, challenge, challenge_len, response_json,
                            response_len, &reg, err);
    if (code != WEBAUTHN_OK)
        goto out;

    code = verify_statement(verifier, &reg, err);
    if (code != WEBAUTHN_OK)
        goto out;

    code = apply_policy(verifier, &reg, err);
    if (code != WEBAUTHN_OK)
        goto out;

    code = build_output(&reg, out, err);
    if (code == WEBAUTHN_OK)
        webauthn_fail(err, WEBAUTHN_OK, "The registration is valid.");

out:
    registration_clear(&reg);
    return code;
}

void webauthn_registration_free(webauthn_registration **registration_p)
{
    webauthn_registration *result;

    if (registration_p == NULL || (result = *registration_p) == NULL)
        return;
    free(result->credential_id);
    free(result->public_key);
    free(result);
    *registration_p = NULL;
}
