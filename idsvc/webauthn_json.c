/* Reading the PublicKeyCredential JSON that browsers send (WebAuthn Level 3 toJSON()). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "webauthn_internal.h"

webauthn_code webauthn_json_load(const char *text, size_t len, json_t **out,
                                 webauthn_error *err)
{
    json_error_t json_error;
    json_t *root;

    *out = NULL;
    if (text == NULL || len == 0)
        return webauthn_fail(err, WEBAUTHN_MALFORMED, "The response JSON is empty.");
    if (len > WEBAUTHN_MAX_RESPONSE_JSON)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The response JSON is %zu bytes, more than the maximum %d.",
                             len, WEBAUTHN_MAX_RESPONSE_JSON);

    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &json_error);
    if (root == NULL)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The response is not valid JSON: %s (line %d).",
                             json_error.text, json_error.line);
    if (!json_is_object(root)) {
        json_decref(root);
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The response JSON is not an object.");
    }

    *out = root;
    return WEBAUTHN_OK;
}

webauthn_code webauthn_json_bytes(const json_t *object, const char *key, const char *what,
                                  unsigned char **out, size_t *out_len,
                                  webauthn_error *err)
{
    const json_t *value = json_object_get(object, key);

    *out = NULL;
    *out_len = 0;
    if (value == NULL)
        return webauthn_fail(err, WEBAUTHN_MALFORMED, "The %s is missing.", what);
    if (!json_is_string(value))
        return webauthn_fail(err, WEBAUTHN_MALFORMED, "The %s is not a string.", what);

    if (webauthn_base64url_decode_padded(json_string_value(value),
                                         json_string_length(value), out, out_len) != 0)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The %s is not valid base64url (RFC 4648 section 5).", what);
    if (*out_len == 0) {
        free(*out);
        *out = NULL;
        return webauthn_fail(err, WEBAUTHN_MALFORMED, "The %s is empty.", what);
    }
    return WEBAUTHN_OK;
}

webauthn_code webauthn_json_credential(const json_t *root, unsigned char **raw_id,
                                       size_t *raw_id_len, const json_t **response,
                                       webauthn_error *err)
{
    const json_t *type = json_object_get(root, "type");
    unsigned char *id = NULL;
    size_t id_len = 0;
    webauthn_code code;

    *raw_id = NULL;
    *raw_id_len = 0;
    *response = NULL;

    if (!json_is_string(type) || strcmp(json_string_value(type), "public-key") != 0)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The credential type is not \"public-key\".");

    *response = json_object_get(root, "response");
    if (!json_is_object(*response))
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The credential has no \"response\" object.");

    code =
        webauthn_json_bytes(root, "rawId", "credential rawId", raw_id, raw_id_len, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = webauthn_json_bytes(root, "id", "credential id", &id, &id_len, err);
    if (code != WEBAUTHN_OK)
        goto out;

    if (id_len != *raw_id_len || memcmp(id, *raw_id, id_len) != 0)
        code = webauthn_fail(err, WEBAUTHN_CREDENTIAL_ID_MISMATCH,
                             "The credential id and rawId name different credentials.");
    else if (*raw_id_len > WEBAUTHN_MAX_CREDENTIAL_ID)
        code = webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The credential id is %zu bytes, more than the maximum %d.",
                             *raw_id_len, WEBAUTHN_MAX_CREDENTIAL_ID);

out:
    free(id);
    if (code != WEBAUTHN_OK) {
        free(*raw_id);
        *raw_id = NULL;
        *raw_id_len = 0;
    }
    return code;
}

webauthn_code webauthn_json_challenge(const json_t *client_data, unsigned char **out,
                                      size_t *out_len, webauthn_error *err)
{
    const char *text = json_string_value(json_object_get(client_data, "challenge"));

    /* The client encodes the challenge as WebAuthn defines base64url, without padding,
     * so padding here is not a client's encoding of the issued challenge. */
    if (text != NULL && strchr(text, '=') != NULL) {
        *out = NULL;
        *out_len = 0;
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The clientDataJSON challenge has base64url padding, which "
                             "WebAuthn's encoding of the challenge leaves out.");
    }
    return webauthn_json_bytes(client_data, "challenge", "clientDataJSON challenge", out,
                               out_len, err);
}

webauthn_code webauthn_response_challenge(const char *response_json, size_t response_len,
                                          unsigned char **challenge,
                                          size_t *challenge_len, webauthn_error *err)
{
    json_t *root = NULL;
    json_t *client_data = NULL;
    unsigned char *client_data_bytes = NULL;
    size_t client_data_len = 0;
    webauthn_code code;

    *challenge = NULL;
    *challenge_len = 0;

    code = webauthn_json_load(response_json, response_len, &root, err);
    if (code != WEBAUTHN_OK)
        goto out;

    code =
        webauthn_json_bytes(json_object_get(root, "response"), "clientDataJSON",
                            "clientDataJSON", &client_data_bytes, &client_data_len, err);
    if (code != WEBAUTHN_OK)
        goto out;

    code =
        webauthn_client_data_parse(client_data_bytes, client_data_len, &client_data, err);
    if (code != WEBAUTHN_OK)
        goto out;

    code = webauthn_json_challenge(client_data, challenge, challenge_len, err);

out:
    json_decref(client_data);
    free(client_data_bytes);
    json_decref(root);
    return code;
}

bool webauthn_challenge_equal(const unsigned char *a, size_t a_len,
                              const unsigned char *b, size_t b_len)
{
    if (a == NULL || b == NULL || a_len != b_len || a_len == 0)
        return false;
    return CRYPTO_memcmp(a, b, a_len) == 0;
}
