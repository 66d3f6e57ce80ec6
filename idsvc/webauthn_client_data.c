/* clientDataJSON checks (WebAuthn Level 3, sections 7.1 and 7.2, steps on C). */
#include <stdlib.h>
#include <string.h>

#include "webauthn_internal.h"

static webauthn_code check_type(const json_t *client_data, const char *expected_type,
                                webauthn_error *err)
{
    const json_t *type = json_object_get(client_data, "type");

    if (!json_is_string(type))
        return webauthn_fail(err, WEBAUTHN_CLIENT_DATA_TYPE,
                             "The clientDataJSON type is missing; expected \"%s\".",
                             expected_type);
    if (strcmp(json_string_value(type), expected_type) != 0)
        return webauthn_fail(err, WEBAUTHN_CLIENT_DATA_TYPE,
                             "The clientDataJSON type is \"%.40s\"; expected \"%s\".",
                             json_string_value(type), expected_type);
    return WEBAUTHN_OK;
}

static webauthn_code check_challenge(const json_t *client_data,
                                     const unsigned char *challenge, size_t challenge_len,
                                     webauthn_error *err)
{
    unsigned char *received = NULL;
    size_t received_len = 0;
    webauthn_code code;

    code = webauthn_json_bytes(client_data, "challenge", "clientDataJSON challenge",
                               &received, &received_len, err);
    if (code != WEBAUTHN_OK)
        return code;

    if (!webauthn_challenge_equal(received, received_len, challenge, challenge_len))
        code = webauthn_fail(err, WEBAUTHN_CHALLENGE_MISMATCH,
                             "The clientDataJSON challenge is not the challenge this "
                             "server issued for the ceremony.");
    free(received);
    return code;
}

static webauthn_code check_origin(const webauthn_verifier *verifier,
                                  const json_t *client_data, webauthn_error *err)
{
    const json_t *origin = json_object_get(client_data, "origin");

    if (!json_is_string(origin))
        return webauthn_fail(err, WEBAUTHN_ORIGIN_NOT_ALLOWED,
                             "The clientDataJSON origin is missing.");

    for (size_t i = 0; i < verifier->origin_count; i++) {
        if (strlen(verifier->origins[i]) == json_string_length(origin) &&
            strcmp(verifier->origins[i], json_string_value(origin)) == 0)
            return WEBAUTHN_OK;
    }
    return webauthn_fail(err, WEBAUTHN_ORIGIN_NOT_ALLOWED,
                         "The origin \"%.100s\" is not one of the configured origins.",
                         json_string_value(origin));
}

static webauthn_code check_cross_origin(const webauthn_verifier *verifier,
                                        const json_t *client_data, webauthn_error *err)
{
    const json_t *cross_origin = json_object_get(client_data, "crossOrigin");

    /* Older browsers omit crossOrigin; it then means false. */
    if (cross_origin == NULL || json_is_false(cross_origin))
        return WEBAUTHN_OK;
    if (!json_is_true(cross_origin))
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The clientDataJSON crossOrigin is not a boolean.");
    if (!verifier->allow_cross_origin)
        return webauthn_fail(err, WEBAUTHN_CROSS_ORIGIN,
                             "The ceremony ran in a cross-origin iframe, which this "
                             "relying party does not allow.");
    return WEBAUTHN_OK;
}

webauthn_code webauthn_client_data_verify(const webauthn_verifier *verifier,
                                          const char *expected_type,
                                          const unsigned char *challenge,
                                          size_t challenge_len, const unsigned char *json,
                                          size_t len, unsigned char hash[32],
                                          webauthn_error *err)
{
    json_t *client_data = NULL;
    webauthn_code code;

    code = webauthn_json_load((const char *)json, len, &client_data, err);
    if (code != WEBAUTHN_OK) {
        /* Name the field at fault rather than the whole response. */
        webauthn_fail(err, code, "The clientDataJSON is not a valid JSON object.");
        goto out;
    }

    code = check_type(client_data, expected_type, err);
    if (code != WEBAUTHN_OK)
        goto out;

    code = check_challenge(client_data, challenge, challenge_len, err);
    if (code != WEBAUTHN_OK)
        goto out;

    code = check_origin(verifier, client_data, err);
    if (code != WEBAUTHN_OK)
        goto out;

    code = check_cross_origin(verifier, client_data, err);
    if (code != WEBAUTHN_OK)
        goto out;

    /* The hash covers the bytes as received, never a re-serialisation. */
    if (webauthn_sha256(json, len, hash) != 0)
        code = webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "OpenSSL could not compute SHA-256.");

out:
    json_decref(client_data);
    return code;
}
