/* The verifier and the response JSON that the WebAuthn harnesses share. */
#include "fuzz_webauthn.h"

#include <stdlib.h>

#include "webauthn.h"

webauthn_verifier *fuzz_webauthn_verifier(bool any_attestation)
{
    static webauthn_verifier *verifier;

    if (verifier != NULL)
        return verifier;
    verifier = webauthn_verifier_new(FUZZ_RP_ID);
    if (verifier == NULL || webauthn_verifier_add_origin(verifier, FUZZ_ORIGIN) != 0)
        abort();
    if (any_attestation)
        webauthn_verifier_set_policy(verifier, WEBAUTHN_ATTESTATION_ANY);
    return verifier;
}

void fuzz_webauthn_challenge(unsigned char challenge[FUZZ_CHALLENGE_SIZE])
{
    for (size_t i = 0; i < FUZZ_CHALLENGE_SIZE; i++)
        challenge[i] = (unsigned char)(i * 7 + 1);
}

static int set_base64url(json_t *object, const char *name, const fuzz_part *part)
{
    char *text = NULL;
    int result;

    if (webauthn_base64url_encode(part->data, part->size, &text) != 0)
        return -1;
    result = json_object_set_new(object, name, json_string(text));
    free(text);
    return result;
}

char *fuzz_webauthn_response(const fuzz_part *raw_id, const char *const *names,
                             const fuzz_part *parts, size_t count)
{
    json_t *root = json_object();
    json_t *response = json_object();
    char *text = NULL;
    int failed = root == NULL || response == NULL;

    failed |= set_base64url(root, "id", raw_id) != 0;
    failed |= set_base64url(root, "rawId", raw_id) != 0;
    failed |= json_object_set_new(root, "type", json_string("public-key")) != 0;
    for (size_t i = 0; i < count; i++)
        failed |= set_base64url(response, names[i], &parts[i]) != 0;
    failed |= json_object_set(root, "response", response) != 0;
    if (!failed)
        text = json_dumps(root, JSON_COMPACT);
    json_decref(response);
    json_decref(root);
    return text;
}
