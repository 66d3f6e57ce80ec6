/*
 * Fuzzes webauthn_verify_assertion on raw bytes. The input is split by fuzz_split into
 * rawId, clientDataJSON, authenticatorData, signature and the stored COSE_Key of the
 * credential, so that the key parser is fuzzed as well.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_harness.h"
#include "fuzz_webauthn.h"
#include "webauthn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"clientDataJSON", "authenticatorData",
                                        "signature"};
    unsigned char challenge[FUZZ_CHALLENGE_SIZE];
    webauthn_credential credential = {0};
    webauthn_assertion assertion;
    webauthn_error err;
    fuzz_part parts[5];
    char *json;

    fuzz_split(data, size, parts, 5);
    json = fuzz_webauthn_response(&parts[0], names, &parts[1], 3);
    if (json == NULL)
        abort();
    fuzz_webauthn_challenge(challenge);
    credential.public_key = parts[4].data;
    credential.public_key_len = parts[4].size;

    webauthn_verify_assertion(fuzz_webauthn_verifier(false), challenge, sizeof(challenge), &credential,
                              json, strlen(json), &assertion, &err);
    free(json);
    return 0;
}
