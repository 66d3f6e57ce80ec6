/*
 * What the WebAuthn harnesses share: the relying party, the challenge that the seeds
 * carry, and the building of a response JSON from raw parts.
 */
#ifndef IDSVC_FUZZ_WEBAUTHN_H
#define IDSVC_FUZZ_WEBAUTHN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "fuzz_parts.h"
#include "webauthn.h"

#define FUZZ_RP_ID "id.example.org"
#define FUZZ_ORIGIN "https://id.example.org"
#define FUZZ_CHALLENGE_SIZE 32

/* Returns the verifier of the harnesses, made on the first call for FUZZ_RP_ID and
 * FUZZ_ORIGIN, with every attestation format accepted when any_attestation is true.
 * Aborts when it cannot be made. */
webauthn_verifier *fuzz_webauthn_verifier(bool any_attestation);

/* Fills challenge with the fixed challenge of the seeds: byte i is i * 7 + 1. */
void fuzz_webauthn_challenge(unsigned char challenge[FUZZ_CHALLENGE_SIZE]);

/* Returns the text of {"id", "rawId", "type": "public-key", "response"} where id and
 * rawId are raw_id, and response has each part under its name, all in base64url. The
 * caller frees it; NULL when memory runs out. */
char *fuzz_webauthn_response(const fuzz_part *raw_id, const char *const *names,
                             const fuzz_part *parts, size_t count);

#endif
