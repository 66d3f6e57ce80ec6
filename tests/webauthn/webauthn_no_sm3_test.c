/* The tpm checks in a WebAuthn library whose OpenSSL has no SM3: tests.cmake builds
 * idsvc_webauthn_no_sm3 to fetch SM3 by a name that OpenSSL does not know. A pubArea
 * with an SM3 nameAlg must then be rejected with its own code, and the other nameAlgs
 * must still pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "soft_authenticator.h"
#include "webauthn.h"

typedef struct fixture {
    soft_authenticator auth;
    soft_ca ca;
    webauthn_verifier *verifier;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || soft_authenticator_init(&f->auth, -35) != 0 ||
        soft_ca_init(&f->ca, f->auth.aaguid) != 0 || soft_ca_add_aik(&f->ca) != 0)
        return -1;
    f->verifier = webauthn_verifier_new(SOFT_RP_ID);
    if (f->verifier == NULL ||
        webauthn_verifier_add_origin(f->verifier, SOFT_ORIGIN) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    webauthn_verifier_free(&f->verifier);
    soft_ca_clear(&f->ca);
    soft_authenticator_clear(&f->auth);
    free(f);
    return 0;
}

/* Registers an RS256 tpm statement over the ES384 key with the given nameAlg. */
static webauthn_code register_name_alg(fixture *f, unsigned name_alg, webauthn_error *err)
{
    soft_ceremony ceremony;
    webauthn_registration *reg = NULL;
    webauthn_code code;
    char *json;

    soft_ceremony_defaults(&ceremony);
    ceremony.format = SOFT_FORMAT_TPM;
    ceremony.ca = &f->ca;
    ceremony.tpm_alg = -257;
    ceremony.tpm_name_alg = name_alg;
    json = soft_register(&f->auth, &ceremony, NULL, 0);
    assert_non_null(json);
    code = webauthn_verify_registration(f->verifier, ceremony.challenge,
                                        sizeof(ceremony.challenge), json, strlen(json),
                                        &reg, err);
    if (code != WEBAUTHN_OK)
        assert_null(reg);
    webauthn_registration_free(&reg);
    free(json);
    return code;
}

static void sm3_name_alg_unsupported(void **state)
{
    webauthn_error err = {0};
    webauthn_code code = register_name_alg(*state, 0x0012, &err);

    if (code != WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED)
        fail_msg("expected attestation_format_unsupported, got %s: %s",
                 webauthn_code_name(code), err.message);
    assert_int_equal(err.code, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED);
    assert_non_null(strstr(err.message, "nameAlg is TPM_ALG_SM3_256 (0x0012)"));
    assert_non_null(strstr(err.message, "this OpenSSL build has no SM3"));
}

/* The failed fetch of SM3 leaves the other hashes working. */
static void sha256_name_alg_accepted(void **state)
{
    webauthn_error err = {0};
    webauthn_code code = register_name_alg(*state, 0x000b, &err);

    if (code != WEBAUTHN_OK)
        fail_msg("expected ok, got %s: %s", webauthn_code_name(code), err.message);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sm3_name_alg_unsupported),
        cmocka_unit_test(sha256_name_alg_accepted),
        cmocka_unit_test(sm3_name_alg_unsupported),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
