#include "interop_keys.h"

#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

static int generate(interop_keys *keys, p11_key_type type, const char *label,
                    unsigned char id, p11_key **out)
{
    p11_error err = {0};

    if (p11_key_generate(keys->token, type, label, &id, 1, out, &err) != 0) {
        fprintf(stderr, "interop: generating %s failed: %s (%s)\n", label, err.message,
                p11_rv_name(err.rv));
        return -1;
    }
    return 0;
}

int interop_keys_create(interop_keys *keys)
{
    p11_config config = {0};
    p11_error err = {0};

    memset(keys, 0, sizeof(*keys));
    if (test_token_create(&keys->token_files) != 0) {
        fprintf(stderr, "interop: creating the SoftHSM2 token failed\n");
        return -1;
    }

    config.module_path = keys->token_files.module_path;
    config.token_label = TEST_TOKEN_LABEL;
    config.pin_file = keys->token_files.pin_path;
    if (p11_token_open(&config, &keys->token, &err) != 0) {
        fprintf(stderr, "interop: opening the token failed: %s (%s)\n", err.message,
                p11_rv_name(err.rv));
        return -1;
    }

    if (generate(keys, P11_KEY_RSA_2048, "saml-rsa", 1, &keys->rsa) != 0 ||
        generate(keys, P11_KEY_EC_P256, "saml-ec", 2, &keys->ec) != 0)
        return -1;
    return 0;
}

void interop_keys_destroy(interop_keys *keys)
{
    p11_key_free(&keys->rsa);
    p11_key_free(&keys->ec);
    p11_token_close(&keys->token);
    if (keys->token_files.dir[0] != '\0')
        test_token_destroy(&keys->token_files);
}

int interop_write_public_pem(const p11_key *key, const char *path)
{
    p11_error err = {0};
    EVP_PKEY *public_key = p11_key_get_public(key, &err);
    FILE *file = NULL;
    int result = -1;

    if (public_key == NULL) {
        fprintf(stderr, "interop: exporting the public key failed: %s\n", err.message);
        return -1;
    }
    file = fopen(path, "w");
    if (file != NULL && PEM_write_PUBKEY(file, public_key) == 1)
        result = 0;
    if (file != NULL && fclose(file) != 0)
        result = -1;
    EVP_PKEY_free(public_key);
    return result;
}
