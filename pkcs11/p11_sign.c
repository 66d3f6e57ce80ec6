/*
 * Signing: the hot path of the SAML signer. Per call: one pthread_getspecific, for ECDSA
 * one digest with a pre-fetched EVP_MD, then C_SignInit and C_Sign. No URI parsing, no
 * object search and no allocation of our own unless a session or key must be found again.
 */
#include <string.h>

#include "p11_internal.h"

typedef struct sign_call {
    p11_key *key;
    CK_MECHANISM mechanism;
    const unsigned char *data;
    CK_ULONG len;
    unsigned char *sig;
    CK_ULONG sig_len;
} sign_call;

static CK_RV sign_step(p11_token *token, CK_SESSION_HANDLE session, void *arg,
                       const char **function)
{
    sign_call *call = arg;
    CK_OBJECT_HANDLE handle;
    CK_RV rv;

    /* After fork() or a lost session the object handle may name nothing, or another
     * object: search the key again first. */
    *function = "C_SignInit";
    if (atomic_load_explicit(&call->key->handle_epoch, memory_order_acquire) !=
        atomic_load_explicit(&token->handle_epoch, memory_order_acquire))
        return CKR_KEY_HANDLE_INVALID;
    handle = atomic_load_explicit(&call->key->handle, memory_order_relaxed);

    rv = token->f->C_SignInit(session, &call->mechanism, handle);
    if (rv != CKR_OK)
        return rv;
    *function = "C_Sign";
    return token->f->C_Sign(session, (CK_BYTE_PTR)call->data, call->len, call->sig,
                            &call->sig_len);
}

static int check_alg(const p11_key *key, p11_sign_alg alg, CK_MECHANISM_TYPE *mechanism,
                     const EVP_MD **md, p11_error *err)
{
    bool rsa = key->type == P11_KEY_RSA_2048 || key->type == P11_KEY_RSA_3072;

    switch (alg) {
    case P11_SIGN_RSA_PKCS1_SHA256:
        if (!rsa)
            break;
        *mechanism = CKM_SHA256_RSA_PKCS;
        *md = NULL;
        return 0;
    case P11_SIGN_ECDSA_SHA256:
    case P11_SIGN_ECDSA_SHA384:
        if (rsa)
            break;
        *mechanism = CKM_ECDSA;
        *md = alg == P11_SIGN_ECDSA_SHA256 ? key->sha256 : key->sha384;
        return 0;
    }
    return p11_fail(err, CKR_KEY_TYPE_INCONSISTENT,
                    "signature algorithm %d does not fit key '%s' of type %s", (int)alg,
                    key->label, p11_key_type_name(key->type));
}

int p11_sign(p11_key *key, p11_sign_alg alg, const unsigned char *data, size_t len,
             unsigned char *sig, size_t *sig_len, p11_error *err)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    const EVP_MD *md = NULL;
    sign_call call;
    bool refreshed = false;
    p11_error local;

    if (err == NULL)
        err = &local; /* the retry below reads the reason */
    memset(&call, 0, sizeof(call));
    if (check_alg(key, alg, &call.mechanism.mechanism, &md, err) != 0)
        return -1;
    if (*sig_len < key->signature_size)
        return p11_fail(err, CKR_BUFFER_TOO_SMALL,
                        "signature buffer of %zu bytes is too small for key '%s' (%zu)",
                        *sig_len, key->label, key->signature_size);

    call.key = key;
    call.sig = sig;
    if (md != NULL) {
        /* ECDSA signs a digest that OpenSSL makes. */
        if (EVP_Digest(data, len, digest, &digest_len, md, NULL) != 1)
            return p11_fail(err, CKR_GENERAL_ERROR, "OpenSSL could not hash the data");
        call.data = digest;
        call.len = digest_len;
    } else {
        call.data = data;
        call.len = (CK_ULONG)len;
    }

    for (;;) {
        call.sig_len = (CK_ULONG)*sig_len;
        if (p11_session_call(key->token, sign_step, &call, "signing with key", key->label,
                             err) == 0)
            break;
        if (refreshed ||
            (err->rv != CKR_KEY_HANDLE_INVALID && err->rv != CKR_OBJECT_HANDLE_INVALID))
            return -1;
        if (p11_key_refresh(key, err) != 0)
            return -1;
        refreshed = true;
    }
    if (call.sig_len != key->signature_size)
        return p11_fail(
            err, CKR_GENERAL_ERROR,
            "token '%s' returned a %lu-byte signature for key '%s'; %zu expected",
            key->token->label, (unsigned long)call.sig_len, key->label,
            key->signature_size);
    *sig_len = call.sig_len;
    return 0;
}
