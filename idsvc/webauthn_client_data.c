/* clientDataJSON checks (WebAuthn Level 3, sections 7.1 and 7.2, steps on C). */
#include <stdlib.h>
#include <string.h>

#include "webauthn_internal.h"

/* Appends U+FFFD, the replacement character, in UTF-8. */
static size_t put_replacement(unsigned char *out, size_t pos)
{
    out[pos] = 0xef;
    out[pos + 1] = 0xbf;
    out[pos + 2] = 0xbd;
    return pos + 3;
}

/* Sets the number of continuation bytes that lead starts and the range of the first
 * one (RFC 3629, section 4). Returns false for a byte that cannot start a sequence. */
static bool utf8_lead(unsigned char lead, size_t *needed, unsigned char *low,
                      unsigned char *high)
{
    *low = 0x80;
    *high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf)
        *needed = 1;
    else if (lead >= 0xe0 && lead <= 0xef)
        *needed = 2;
    else if (lead >= 0xf0 && lead <= 0xf4)
        *needed = 3;
    else
        return false;
    if (lead == 0xe0)
        *low = 0xa0; /* overlong below U+0800 */
    else if (lead == 0xed)
        *high = 0x9f; /* surrogates */
    else if (lead == 0xf0)
        *low = 0x90; /* overlong below U+10000 */
    else if (lead == 0xf4)
        *high = 0x8f; /* above U+10FFFF */
    return true;
}

/*
 * Runs the Encoding Standard's "UTF-8 decode", which WebAuthn Level 3 applies to
 * clientDataJSON before parsing it (sections 7.1 and 7.2). It drops one leading byte
 * order mark and replaces each invalid sequence, the lead byte with the continuation
 * bytes that fit it, by U+FFFD. An invalid byte in type, challenge or origin therefore
 * fails that member's check, and one elsewhere changes nothing. Returns the text for
 * the caller to free, or NULL when out of memory.
 */
static char *utf8_decode(const unsigned char *in, size_t len, size_t *out_len)
{
    unsigned char *out = malloc(len * 3 + 1);
    size_t i = 0, pos = 0;

    if (out == NULL)
        return NULL;
    if (len >= 3 && in[0] == 0xef && in[1] == 0xbb && in[2] == 0xbf)
        i = 3;

    while (i < len) {
        size_t needed, taken = 1;
        unsigned char low, high;

        if (in[i] < 0x80) {
            out[pos++] = in[i++];
            continue;
        }
        if (!utf8_lead(in[i], &needed, &low, &high)) {
            pos = put_replacement(out, pos);
            i++;
            continue;
        }
        while (taken <= needed && i + taken < len && in[i + taken] >= low &&
               in[i + taken] <= high) {
            taken++;
            low = 0x80;
            high = 0xbf;
        }
        if (taken == needed + 1) {
            memcpy(out + pos, in + i, taken);
            pos += taken;
        } else {
            pos = put_replacement(out, pos); /* the byte that did not fit is read next */
        }
        i += taken;
    }
    out[pos] = '\0';
    *out_len = pos;
    return (char *)out;
}

webauthn_code webauthn_client_data_parse(const unsigned char *bytes, size_t len,
                                         json_t **out, webauthn_error *err)
{
    json_error_t json_error;
    size_t text_len = 0;
    char *text;

    *out = NULL;
    if (len > WEBAUTHN_MAX_RESPONSE_JSON)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The clientDataJSON is %zu bytes, more than the maximum %d.",
                             len, WEBAUTHN_MAX_RESPONSE_JSON);
    text = utf8_decode(bytes, len, &text_len);
    if (text == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");

    *out = json_loadb(text, text_len, JSON_REJECT_DUPLICATES, &json_error);
    free(text);
    if (*out == NULL)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The clientDataJSON is not valid JSON: %s (line %d).",
                             json_error.text, json_error.line);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The clientDataJSON is not a JSON object.");
    }
    return WEBAUTHN_OK;
}

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

    code = webauthn_json_challenge(client_data, &received, &received_len, err);
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

/* crossOrigin true, or a topOrigin, means that the ceremony ran in an iframe whose
 * ancestors are of another origin. WebAuthn Level 3 (sections 7.1 and 7.2) accepts
 * either only when the relying party expects such an iframe. */
static webauthn_code check_cross_origin(const webauthn_verifier *verifier,
                                        const json_t *client_data, webauthn_error *err)
{
    const json_t *cross_origin = json_object_get(client_data, "crossOrigin");
    const json_t *top_origin = json_object_get(client_data, "topOrigin");

    /* Older browsers omit crossOrigin; it then means false. */
    if (cross_origin != NULL && !json_is_boolean(cross_origin))
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The clientDataJSON crossOrigin is not a boolean.");
    if (top_origin != NULL && !json_is_string(top_origin))
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The clientDataJSON topOrigin is not a string.");
    if (verifier->allow_cross_origin)
        return WEBAUTHN_OK;

    if (json_is_true(cross_origin))
        return webauthn_fail(err, WEBAUTHN_CROSS_ORIGIN,
                             "The ceremony ran in a cross-origin iframe, which this "
                             "relying party does not allow.");
    if (top_origin != NULL)
        return webauthn_fail(err, WEBAUTHN_CROSS_ORIGIN,
                             "The clientDataJSON names the top-level origin \"%.100s\", "
                             "so the ceremony ran in an iframe, which this relying party "
                             "does not allow.",
                             json_string_value(top_origin));
    return WEBAUTHN_OK;
}

/*
 * Checks tokenBinding against the state of this server's TLS, which never negotiates
 * Token Binding (RFC 8471). WebAuthn Level 2 (sections 7.1 and 7.2) requires the status
 * to match that state, so the status "present" is rejected. WebAuthn Level 3 only
 * reserves the member and reads nothing from it, and clients have written other shapes
 * there, such as the string "unused" of old U2F clients, so any other value is ignored.
 */
static webauthn_code check_token_binding(const json_t *client_data, webauthn_error *err)
{
    const json_t *token_binding = json_object_get(client_data, "tokenBinding");
    const char *status = json_string_value(json_object_get(token_binding, "status"));

    if (status != NULL && strcmp(status, "present") == 0)
        return webauthn_fail(err, WEBAUTHN_TOKEN_BINDING_MISMATCH,
                             "The clientDataJSON tokenBinding status is \"present\", but "
                             "this server's TLS connections never use Token Binding.");
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

    code = webauthn_client_data_parse(json, len, &client_data, err);
    if (code != WEBAUTHN_OK)
        goto out;

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

    code = check_token_binding(client_data, err);
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
