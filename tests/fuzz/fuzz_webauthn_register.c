/*
 * Fuzzes webauthn_verify_registration on raw bytes. The input is split by fuzz_split
 * into rawId, clientDataJSON and attestationObject, which the harness encodes into a
 * RegistrationResponseJSON. Every attestation format is accepted, so that the parsers
 * of each statement are reached.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_harness.h"
#include "fuzz_webauthn.h"
#include "webauthn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"clientDataJSON", "attestationObject"};
    unsigned char challenge[FUZZ_CHALLENGE_SIZE];
    webauthn_registration *registration = NULL;
    webauthn_error err;
    fuzz_part parts[3];
    char *json;

    fuzz_split(data, size, parts, 3);
    json = fuzz_webauthn_response(&parts[0], names, &parts[1], 2);
    if (json == NULL)
        abort();
    fuzz_webauthn_challenge(challenge);

    if (webauthn_verify_registration(fuzz_webauthn_verifier(true), challenge, sizeof(challenge), json,
                                     strlen(json), &registration, &err) == WEBAUTHN_OK)
        webauthn_registration_free(&registration);
    else if (registration != NULL)
        abort();
    free(json);
    return 0;
}
