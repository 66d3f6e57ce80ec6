/* Key lookup by RFC 7512 URI, certificates stored beside keys, and the key list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/x509v3.h>

#include "p11_test_util.h"

static test_token token_dir;
static p11_token *token;

static const unsigned char id_one[] = {0x01, 0x02, 0xa0};
static const unsigned char id_two[] = {0x42};

static int setup(void **state)
{
    p11_key *key = NULL;
    p11_error err;

    (void)state;
    if (p11_test_open_fresh(&token_dir, &token) != 0)
        return -1;
    if (p11_key_generate(token, P11_KEY_EC_P256, "signing key", id_one, sizeof(id_one),
                         &key, &err) != 0) {
        print_error("generate: %s\n", err.message);
        return -1;
    }
    p11_key_free(&key);
    if (p11_key_generate(token, P11_KEY_RSA_2048, "other", id_two, sizeof(id_two), &key,
                         &err) != 0) {
        print_error("generate: %s\n", err.message);
        return -1;
    }
    p11_key_free(&key);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    p11_test_close_fresh(&token_dir, &token);
    return 0;
}

static p11_key *find_ok(const char *uri)
{
    p11_key *key = NULL;
    p11_error err;

    if (p11_key_find(token, uri, &key, &err) != 0)
        fail_msg("p11_key_find(%s): %s", uri, err.message);
    return key;
}

static void find_fails(const char *uri, const char *reason)
{
    p11_key *key = NULL;
    p11_error err;

    assert_int_equal(p11_key_find(token, uri, &key, &err), -1);
    assert_null(key);
    if (strstr(err.message, reason) == NULL)
        fail_msg("p11_key_find(%s): '%s' lacks '%s'", uri, err.message, reason);
}

static void test_find_by_label(void **state)
{
    p11_key *key;

    (void)state;
    /* %20 is the space of the label, as RFC 7512 encodes it. */
    key = find_ok("pkcs11:object=signing%20key");
    assert_string_equal(p11_key_get_label(key), "signing key");
    assert_int_equal(p11_key_get_type(key), P11_KEY_EC_P256);
    p11_key_free(&key);

    key = find_ok("pkcs11:token=" TEST_TOKEN_LABEL ";object=other;type=private");
    assert_int_equal(p11_key_get_type(key), P11_KEY_RSA_2048);
    p11_key_free(&key);
}

static void test_find_by_id(void **state)
{
    p11_key *key;
    const unsigned char *id;
    size_t id_len;

    (void)state;
    key = find_ok("pkcs11:id=%01%02%A0");
    assert_string_equal(p11_key_get_label(key), "signing key");
    id = p11_key_get_id(key, &id_len);
    assert_int_equal(id_len, sizeof(id_one));
    assert_memory_equal(id, id_one, sizeof(id_one));
    p11_key_free(&key);

    key = find_ok("pkcs11:id=%42;type=private");
    assert_string_equal(p11_key_get_label(key), "other");
    p11_key_free(&key);
}

static void test_own_uri_round_trip(void **state)
{
    p11_key *key = find_ok("pkcs11:id=%42");
    p11_key *again;
    char *uri = p11_key_get_uri(key);

    (void)state;
    assert_non_null(uri);
    again = find_ok(uri);
    assert_string_equal(p11_key_get_label(again), "other");
    free(uri);
    p11_key_free(&again);
    p11_key_free(&key);
}

static void test_zero_and_several_rejected(void **state)
{
    (void)state;
    find_fails("pkcs11:object=missing", "no private key on token");
    find_fails("pkcs11:object=signing%20key;id=%42", "no private key on token");
    find_fails("pkcs11:type=private", "2 private keys on token");
    find_fails("pkcs11:", "2 private keys on token");
}

static void test_bad_uris_rejected(void **state)
{
    (void)state;
    find_fails("file:///etc/passwd", "not a valid pkcs11: URI");
    find_fails("pkcs11:object=other;type=cert", "does not name a private key");
    find_fails("pkcs11:token=another;object=other", "names another token");
    find_fails("pkcs11:object=other?pin-value=1234", "carries a PIN");
    /* p11-kit keeps the last of two values, which would name the key after the first. */
    find_fails("pkcs11:object=missing;object=other", "gives the attribute 'object' twice");
    find_fails("pkcs11:id=%42;type=private;id=%42", "gives the attribute 'id' twice");
}

/* A certificate holding the key's public half, signed by a throwaway software key: the
 * store only cares whose public key it holds. */
static X509 *make_cert(EVP_PKEY *subject_key, const char *cn)
{
    EVP_PKEY *issuer_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();

    assert_non_null(issuer_key);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
                               -1, 0);
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
    X509_set_subject_name(cert, name);
    X509_set_issuer_name(cert, name);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_set_pubkey(cert, subject_key);
    assert_true(X509_sign(cert, issuer_key, EVP_sha256()) > 0);
    X509_NAME_free(name);
    EVP_PKEY_free(issuer_key);
    return cert;
}

static void test_certificate_store_and_load(void **state)
{
    p11_key *key = find_ok("pkcs11:object=signing%20key");
    p11_key *other = find_ok("pkcs11:object=other");
    EVP_PKEY *pkey;
    X509 *cert;
    X509 *loaded;
    p11_error err;

    (void)state;
    /* None stored yet: NULL without an error. */
    assert_null(p11_cert_load(token, key, &err));
    assert_string_equal(err.message, "");

    pkey = p11_key_get_public(key, &err);
    cert = make_cert(pkey, "first");
    if (p11_cert_store(token, key, cert, &err) != 0)
        fail_msg("p11_cert_store: %s", err.message);
    loaded = p11_cert_load(token, key, &err);
    assert_non_null(loaded);
    assert_int_equal(X509_cmp(cert, loaded), 0);
    X509_free(loaded);
    X509_free(cert);

    /* A second certificate replaces the first. */
    cert = make_cert(pkey, "second");
    assert_int_equal(p11_cert_store(token, key, cert, &err), 0);
    loaded = p11_cert_load(token, key, &err);
    assert_non_null(loaded);
    assert_int_equal(X509_cmp(cert, loaded), 0);
    X509_free(loaded);

    /* Another key's certificate is refused, and the other key still has none. */
    assert_int_equal(p11_cert_store(token, other, cert, &err), -1);
    assert_non_null(strstr(err.message, "not the public key of 'other'"));
    assert_null(p11_cert_load(token, other, &err));
    X509_free(cert);
    EVP_PKEY_free(pkey);
    p11_key_free(&key);
    p11_key_free(&other);
}

static void test_list(void **state)
{
    p11_key_info *infos = NULL;
    size_t count = 0;
    p11_error err;
    bool seen_signing = false;

    (void)state;
    if (p11_key_list(token, &infos, &count, &err) != 0)
        fail_msg("p11_key_list: %s", err.message);
    assert_int_equal(count, 2);
    for (size_t i = 0; i < count; i++) {
        assert_true(infos[i].supported);
        assert_true(infos[i].sensitive);
        assert_true(infos[i].always_sensitive);
        assert_false(infos[i].extractable);
        assert_true(infos[i].never_extractable);
        assert_true(infos[i].can_sign);
        assert_false(infos[i].can_decrypt);
        assert_non_null(strstr(infos[i].uri, "pkcs11:"));
        if (strcmp(infos[i].label, "signing key") == 0) {
            seen_signing = true;
            assert_string_equal(infos[i].id_hex, "0102a0");
            assert_string_equal(infos[i].type_name, "p256");
            assert_true(infos[i].has_certificate);
        } else {
            assert_string_equal(infos[i].type_name, "rsa2048");
            assert_false(infos[i].has_certificate);
        }
    }
    assert_true(seen_signing);
    p11_key_info_free(infos, count);
}

/* A label with a trailing space fills the same padded field as the label without it.
 * Initialising it would make a second token with the label in use, so both init and open
 * reject it with the reason. */
static void test_label_trailing_space_rejected(void **state)
{
    static const char *const spaced[] = {TEST_TOKEN_LABEL " ", TEST_TOKEN_LABEL "   "};
    p11_config config = p11_test_config(&token_dir, NULL);
    p11_token *again = NULL;
    p11_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(spaced) / sizeof(spaced[0]); i++) {
        assert_int_equal(p11_token_init(token_dir.module_path, spaced[i], TEST_TOKEN_SO_PIN,
                                        TEST_TOKEN_PIN, NULL, 0, &err),
                         -1);
        assert_int_equal(err.rv, CKR_ARGUMENTS_BAD);
        assert_non_null(strstr(err.message, "ends with a space"));

        config.token_label = spaced[i];
        assert_int_equal(p11_token_open(&config, &again, &err), -1);
        assert_null(again);
        assert_int_equal(err.rv, CKR_ARGUMENTS_BAD);
        assert_non_null(strstr(err.message, "ends with a space"));
    }

    config.token_label = NULL;
    config.token_serial = "0123456789abcdef0";
    assert_int_equal(p11_token_open(&config, &again, &err), -1);
    assert_int_equal(err.rv, CKR_ARGUMENTS_BAD);
    assert_non_null(strstr(err.message, "serial has 1 to 16 bytes"));

    /* The real label still names exactly one token. */
    config = p11_test_config(&token_dir, NULL);
    assert_int_equal(p11_token_open(&config, &again, &err), 0);
    p11_token_close(&again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_by_label),
        cmocka_unit_test(test_find_by_id),
        cmocka_unit_test(test_own_uri_round_trip),
        cmocka_unit_test(test_zero_and_several_rejected),
        cmocka_unit_test(test_bad_uris_rejected),
        cmocka_unit_test(test_certificate_store_and_load),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_label_trailing_space_rejected),
    };

    return cmocka_run_group_tests_name("p11_objects", tests, setup, teardown);
}
