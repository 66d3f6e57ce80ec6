/* Key generation, signing and public key export on a real SoftHSM2 token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "p11_test_util.h"

static test_token token_dir;
static p11_token *token;

static int setup(void **state)
{
    (void)state;
    return p11_test_open_fresh(&token_dir, &token);
}

static int teardown(void **state)
{
    (void)state;
    p11_test_close_fresh(&token_dir, &token);
    return 0;
}

static void sign_and_verify(p11_key *key, p11_sign_alg alg, size_t expected_len)
{
    static const unsigned char data[] = "<saml:Assertion>signed data</saml:Assertion>";
    unsigned char sig[512];
    size_t sig_len = sizeof(sig);
    p11_error err;
    EVP_PKEY *pkey;

    assert_int_equal(p11_sign(key, alg, data, sizeof(data) - 1, sig, &sig_len, &err), 0);
    assert_int_equal(sig_len, expected_len);
    assert_int_equal(p11_key_signature_size(key), expected_len);

    pkey = p11_key_get_public(key, &err);
    assert_non_null(pkey);
    assert_true(p11_test_verify(pkey, alg, data, sizeof(data) - 1, sig, sig_len));

    /* A changed byte of data must not verify. */
    assert_false(p11_test_verify(pkey, alg, data, sizeof(data) - 2, sig, sig_len));
    EVP_PKEY_free(pkey);
}

/* Reads an attribute of the private key beside the layer, on the real module. */
static CK_RV read_private_attribute(const char *label, CK_ATTRIBUTE_TYPE type)
{
    CK_FUNCTION_LIST_PTR f = p11_test_functions(token_dir.module_path);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_LABEL, (void *)label, strlen(label)}};
    unsigned char value[1024];
    CK_ATTRIBUTE attr = {type, value, sizeof(value)};
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE object;
    CK_ULONG count = 0;
    CK_RV rv;

    assert_non_null(f);
    assert_int_equal(f->C_OpenSession(p11_test_slot(f, TEST_TOKEN_LABEL),
                                      CKF_SERIAL_SESSION, NULL, NULL, &session),
                     CKR_OK);
    assert_int_equal(f->C_FindObjectsInit(session, find, 2), CKR_OK);
    assert_int_equal(f->C_FindObjects(session, &object, 1, &count), CKR_OK);
    f->C_FindObjectsFinal(session);
    assert_int_equal(count, 1);
    rv = f->C_GetAttributeValue(session, object, &attr, 1);
    f->C_CloseSession(session);
    return rv;
}

static void generate_one(p11_key_type type, const char *label, size_t sig_len)
{
    p11_key *key = NULL;
    p11_error err;

    if (p11_key_generate(token, type, label, NULL, 0, &key, &err) != 0)
        fail_msg("p11_key_generate %s: %s", label, err.message);
    assert_int_equal(p11_key_get_type(key), type);
    assert_string_equal(p11_key_get_label(key), label);
    sign_and_verify(key, p11_test_default_alg(type), sig_len);

    /* The private half stays in the token. An RSA key keeps its secret in
     * CKA_PRIVATE_EXPONENT and the primes; CKA_VALUE is not an RSA attribute at all. */
    if (type == P11_KEY_RSA_2048 || type == P11_KEY_RSA_3072) {
        assert_int_equal(read_private_attribute(label, CKA_PRIVATE_EXPONENT),
                         CKR_ATTRIBUTE_SENSITIVE);
        assert_int_equal(read_private_attribute(label, CKA_PRIME_1),
                         CKR_ATTRIBUTE_SENSITIVE);
        assert_int_not_equal(read_private_attribute(label, CKA_VALUE), CKR_OK);
    } else {
        assert_int_equal(read_private_attribute(label, CKA_VALUE),
                         CKR_ATTRIBUTE_SENSITIVE);
    }
    p11_key_free(&key);
    assert_null(key);
}

static void test_rsa2048(void **state)
{
    (void)state;
    generate_one(P11_KEY_RSA_2048, "rsa2048", 256);
}

static void test_rsa3072(void **state)
{
    (void)state;
    generate_one(P11_KEY_RSA_3072, "rsa3072", 384);
}

static void test_p256(void **state)
{
    (void)state;
    generate_one(P11_KEY_EC_P256, "p256", 64);
}

static void test_p384(void **state)
{
    p11_key *key = NULL;
    p11_error err;

    (void)state;
    generate_one(P11_KEY_EC_P384, "p384", 96);

    /* P-384 with a SHA-256 digest is allowed too. */
    assert_int_equal(p11_key_find(token, "pkcs11:object=p384;type=private", &key, &err),
                     0);
    sign_and_verify(key, P11_SIGN_ECDSA_SHA256, 96);
    p11_key_free(&key);
}

static void test_found_key_signs(void **state)
{
    p11_key *key = NULL;
    p11_error err;
    char *uri;

    (void)state;
    assert_int_equal(
        p11_key_generate(token, P11_KEY_EC_P256, "found", NULL, 0, &key, &err), 0);
    uri = p11_key_get_uri(key);
    assert_non_null(uri);
    assert_non_null(strstr(uri, "object=found"));
    assert_non_null(strstr(uri, "type=private"));
    assert_non_null(strstr(uri, "token=" TEST_TOKEN_LABEL));
    p11_key_free(&key);

    if (p11_key_find(token, uri, &key, &err) != 0)
        fail_msg("p11_key_find %s: %s", uri, err.message);
    free(uri);
    sign_and_verify(key, P11_SIGN_ECDSA_SHA256, 64);
    p11_key_free(&key);
}

static void test_wrong_algorithm(void **state)
{
    unsigned char sig[512];
    size_t sig_len = 10;
    p11_key *key = NULL;
    p11_error err;

    (void)state;
    assert_int_equal(p11_key_find(token, "pkcs11:object=found", &key, &err), 0);

    /* RSA padding with an EC key, and a buffer that is too small, fail before C_Sign. */
    assert_int_equal(
        p11_sign(key, P11_SIGN_RSA_PKCS1_SHA256, sig, 4, sig, &sig_len, &err), -1);
    assert_int_equal(err.rv, CKR_KEY_TYPE_INCONSISTENT);
    assert_int_equal(p11_sign(key, P11_SIGN_ECDSA_SHA256, sig, 4, sig, &sig_len, &err),
                     -1);
    assert_int_equal(err.rv, CKR_BUFFER_TOO_SMALL);
    p11_key_free(&key);
}

static void test_duplicate_label_rejected(void **state)
{
    p11_key *key = NULL;
    p11_error err;

    (void)state;
    assert_int_equal(
        p11_key_generate(token, P11_KEY_EC_P256, "found", NULL, 0, &key, &err), -1);
    assert_null(key);
    assert_non_null(strstr(err.message, "already has a private key labelled 'found'"));
}

static void test_rv_names(void **state)
{
    (void)state;
    assert_string_equal(p11_rv_name(CKR_OK), "CKR_OK");
    assert_string_equal(p11_rv_name(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
    assert_string_equal(p11_rv_name(CKR_ATTRIBUTE_SENSITIVE), "CKR_ATTRIBUTE_SENSITIVE");
    assert_string_equal(p11_rv_name(CKR_DEVICE_REMOVED), "CKR_DEVICE_REMOVED");
    assert_string_equal(p11_rv_name(0x202), "CKR_OPERATION_CANCEL_FAILED");
    assert_string_equal(p11_rv_name(0x201), "CKR_TOKEN_RESOURCE_EXCEEDED");
    assert_string_equal(p11_rv_name(0x35), "CKR_AEAD_DECRYPT_FAILED");
    assert_string_equal(p11_rv_name(0x1B8), "CKR_PIN_TOO_WEAK");
    assert_string_equal(p11_rv_name(0x80000001UL), "CKR_VENDOR_DEFINED");
    assert_string_equal(p11_rv_name(0x4), "CKR_UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rv_names),
        cmocka_unit_test(test_rsa2048),
        cmocka_unit_test(test_rsa3072),
        cmocka_unit_test(test_p256),
        cmocka_unit_test(test_p384),
        cmocka_unit_test(test_found_key_signs),
        cmocka_unit_test(test_wrong_algorithm),
        cmocka_unit_test(test_duplicate_label_rejected),
    };

    return cmocka_run_group_tests_name("p11_keys", tests, setup, teardown);
}
