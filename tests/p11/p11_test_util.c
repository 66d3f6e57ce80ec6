#include "p11_test_util.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

p11_config p11_test_config(const test_token *token, const char *module_path)
{
    p11_config config;

    memset(&config, 0, sizeof(config));
    config.module_path = module_path != NULL ? module_path : token->module_path;
    config.token_label = TEST_TOKEN_LABEL;
    config.pin_file = token->pin_path;
    return config;
}

int p11_test_open_fresh(test_token *dir, p11_token **token)
{
    p11_config config;
    p11_error err;

    if (test_token_create(dir) != 0)
        return -1;
    config = p11_test_config(dir, NULL);
    if (p11_token_open(&config, token, &err) != 0) {
        fprintf(stderr, "p11_token_open: %s\n", err.message);
        test_token_destroy(dir);
        return -1;
    }
    return 0;
}

void p11_test_close_fresh(test_token *dir, p11_token **token)
{
    p11_token_close(token);
    test_token_destroy(dir);
}

p11_sign_alg p11_test_default_alg(p11_key_type type)
{
    switch (type) {
    case P11_KEY_EC_P256:
        return P11_SIGN_ECDSA_SHA256;
    case P11_KEY_EC_P384:
        return P11_SIGN_ECDSA_SHA384;
    default:
        return P11_SIGN_RSA_PKCS1_SHA256;
    }
}

bool p11_test_verify(EVP_PKEY *pkey, p11_sign_alg alg, const unsigned char *data,
                     size_t len, const unsigned char *sig, size_t sig_len)
{
    const EVP_MD *md = alg == P11_SIGN_ECDSA_SHA384 ? EVP_sha384() : EVP_sha256();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    int der_len = 0;
    bool ok = false;

    if (alg != P11_SIGN_RSA_PKCS1_SHA256) {
        ECDSA_SIG *ecdsa = ECDSA_SIG_new();
        size_t half = sig_len / 2;
        BIGNUM *r = BN_bin2bn(sig, (int)half, NULL);
        BIGNUM *s = BN_bin2bn(sig + half, (int)half, NULL);

        if (ecdsa == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(ecdsa, r, s) != 1) {
            BN_free(r);
            BN_free(s);
        } else {
            der_len = i2d_ECDSA_SIG(ecdsa, &der);
        }
        ECDSA_SIG_free(ecdsa);
        if (der_len <= 0)
            goto out;
        sig = der;
        sig_len = (size_t)der_len;
    }
    ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1 &&
         EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1;
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(ctx);
    return ok;
}

CK_FUNCTION_LIST_PTR p11_test_functions(const char *module_path)
{
    void *dl = dlopen(module_path, RTLD_NOW | RTLD_NOLOAD);
    CK_C_GetFunctionList get;
    CK_FUNCTION_LIST_PTR f = NULL;

    if (dl == NULL)
        return NULL;
    *(void **)&get = dlsym(dl, "C_GetFunctionList");
    if (get == NULL || get(&f) != CKR_OK)
        f = NULL;
    dlclose(dl); /* drops the reference NOLOAD took; the layer keeps its own */
    return f;
}

CK_SLOT_ID p11_test_slot(CK_FUNCTION_LIST_PTR f, const char *label)
{
    CK_SLOT_ID slots[16];
    CK_ULONG count = 16;
    CK_TOKEN_INFO info;

    if (f->C_GetSlotList(CK_TRUE, slots, &count) != CKR_OK)
        return (CK_SLOT_ID)-1;
    for (CK_ULONG i = 0; i < count; i++) {
        if (f->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
            strncmp((const char *)info.label, label, strlen(label)) == 0 &&
            (strlen(label) == 32 || info.label[strlen(label)] == ' '))
            return slots[i];
    }
    return (CK_SLOT_ID)-1;
}
