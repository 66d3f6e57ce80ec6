/*
 * Fuzzes saml_verify with a trust store of one RSA-2048 test key for the issuer of the
 * signed seeds, a fixed clock and an in-memory replay cache made anew for each input, so
 * that a seed verifies every time it runs.
 * FUZZ_SAML_KEY names the PEM file of the public key. When FUZZ_SAML_SIGN_KEY names the
 * private key, as in the fuzz_saml_verify_signed target, the harness also signs the
 * input's Signature template and verifies the signed document.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_harness.h"
#include "fuzz_saml_sign.h"
#include "saml.h"

#include <libxml/xmlmemory.h>

#define FUZZ_ISSUER "https://issuer.idsvc.test"
#define FUZZ_AUDIENCE "https://rp.idsvc.test"
#define FUZZ_NOW ((time_t)1767225600) /* 2026-01-01T00:00:00Z, inside the seeds' window */

static time_t fixed_clock(void *ctx)
{
    (void)ctx;
    return FUZZ_NOW;
}

/* Builds the trust store once. It lives until the process ends, which LeakSanitizer
 * does not report because a static pointer still reaches it. */
static const saml_trust_store *trust_store(void)
{
    static saml_trust_store *store;
    char error[256];
    EVP_PKEY *key;

    if (store != NULL)
        return store;
    key = saml_load_public_pem(FUZZ_SAML_KEY, error, sizeof(error));
    store = saml_trust_store_new();
    if (key == NULL || store == NULL ||
        saml_trust_store_add(store, FUZZ_ISSUER, key, 0) != 0) {
        fprintf(stderr, "fuzz_saml_verify: failed to load the test key %s: %s\n",
                FUZZ_SAML_KEY, error);
        abort();
    }
    EVP_PKEY_free(key);
    return store;
}

static void verify_document(const char *text, size_t size)
{
    const saml_trust_store *store = trust_store();
    saml_replay_memory *replay_memory = saml_replay_memory_new(fixed_clock, NULL);
    saml_replay_cache replay;
    saml_verify_options options = {0};
    saml_assertion *assertion = NULL;
    char detail[512];

    if (replay_memory == NULL)
        abort();
    replay = saml_replay_memory_interface(replay_memory);
    options.clock = fixed_clock;
    options.clock_skew_seconds = 60;
    options.audience = FUZZ_AUDIENCE;
    options.accept_signed_response = true;
    options.replay = &replay;

    if (saml_verify(store, &options, text, size, &assertion, detail, sizeof(detail)) ==
        SAML_OK) {
        json_decref(saml_assertion_to_json(assertion));
        saml_assertion_free(&assertion);
    } else if (assertion != NULL) {
        abort(); /* saml_verify promises to leave *out NULL on failure */
    }
    saml_replay_memory_free(&replay_memory);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    verify_document((const char *)data, size);
#ifdef FUZZ_SAML_SIGN_KEY
    size_t signed_size = 0;
    char *signed_text = fuzz_saml_sign(FUZZ_SAML_SIGN_KEY, (const char *)data, size,
                                       &signed_size);

    if (signed_text != NULL) {
        verify_document(signed_text, signed_size);
        xmlFree(signed_text);
    }
#endif
    return 0;
}
