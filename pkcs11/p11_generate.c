/* Key pairs generated inside the token: the private half is sensitive, never extractable
 * and may only sign. */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "p11_internal.h"

#define P11_GENERATED_ID_LEN 16

/* DER OIDs of the named curves, as CKA_EC_PARAMS wants them. */
static const unsigned char oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

typedef struct generate_call {
    CK_MECHANISM mechanism;
    CK_ATTRIBUTE *public_tmpl;
    CK_ULONG public_n;
    CK_ATTRIBUTE *private_tmpl;
    CK_ULONG private_n;
    CK_OBJECT_HANDLE public_key;
    CK_OBJECT_HANDLE private_key;
} generate_call;

static CK_RV generate_step(p11_token *token, CK_SESSION_HANDLE session, void *arg,
                           const char **function)
{
    generate_call *call = arg;

    *function = "C_GenerateKeyPair";
    return token->f->C_GenerateKeyPair(
        session, &call->mechanism, call->public_tmpl, call->public_n, call->private_tmpl,
        call->private_n, &call->public_key, &call->private_key);
}

/* Refuses a label or id that a private key already has: URIs must stay unambiguous. */
static int check_free(p11_token *token, const char *label, const unsigned char *id,
                      size_t id_len, p11_error *err)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[2] = {{CKA_CLASS, &cls, sizeof(cls)},
                            {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE found;
    CK_ULONG count = 0;

    if (p11_object_find(token, tmpl, 2, &found, 1, &count, err) != 0)
        return -1;
    if (count > 0)
        return p11_fail(err, CKR_OK, "token '%s' already has a private key labelled '%s'",
                        token->label, label);
    tmpl[1] = (CK_ATTRIBUTE){CKA_ID, (void *)id, id_len};
    if (p11_object_find(token, tmpl, 2, &found, 1, &count, err) != 0)
        return -1;
    if (count > 0)
        return p11_fail(err, CKR_OK, "token '%s' already has a private key with this id",
                        token->label);
    return 0;
}

/* A module may ignore a template entry; the key is only kept when it really is
 * sensitive, never extractable and sign-only. */
static int check_attributes(p11_token *token, CK_OBJECT_HANDLE key, const char *label,
                            p11_error *err)
{
    CK_BBOOL sensitive = CK_FALSE, always_sensitive = CK_FALSE;
    CK_BBOOL extractable = CK_TRUE, never_extractable = CK_FALSE;
    CK_BBOOL sign = CK_FALSE, decrypt = CK_TRUE, private_ = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_SENSITIVE, &sensitive, sizeof(CK_BBOOL)},
        {CKA_ALWAYS_SENSITIVE, &always_sensitive, sizeof(CK_BBOOL)},
        {CKA_EXTRACTABLE, &extractable, sizeof(CK_BBOOL)},
        {CKA_NEVER_EXTRACTABLE, &never_extractable, sizeof(CK_BBOOL)},
        {CKA_SIGN, &sign, sizeof(CK_BBOOL)},
        {CKA_DECRYPT, &decrypt, sizeof(CK_BBOOL)},
        {CKA_PRIVATE, &private_, sizeof(CK_BBOOL)},
    };

    if (p11_object_get_fixed(token, key, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), err) != 0)
        return -1;
    if (!sensitive || !always_sensitive || extractable || !never_extractable || !sign ||
        decrypt || !private_)
        return p11_fail(
            err, CKR_TEMPLATE_INCONSISTENT,
            "token '%s' made key '%s' with sensitive=%d always_sensitive=%d "
            "extractable=%d never_extractable=%d sign=%d decrypt=%d private=%d; "
            "the key was destroyed",
            token->label, label, sensitive, always_sensitive, extractable,
            never_extractable, sign, decrypt, private_);
    return 0;
}

int p11_key_generate(p11_token *token, p11_key_type type, const char *label,
                     const unsigned char *id, size_t id_len, p11_key **out,
                     p11_error *err)
{
    static CK_BBOOL yes = CK_TRUE;
    static CK_BBOOL no = CK_FALSE;
    static CK_BYTE public_exponent[] = {0x01, 0x00, 0x01};
    CK_OBJECT_CLASS public_class = CKO_PUBLIC_KEY;
    CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY;
    CK_KEY_TYPE key_type;
    CK_ULONG bits = 0;
    unsigned char random_id[P11_GENERATED_ID_LEN];
    CK_ATTRIBUTE public_tmpl[12];
    CK_ATTRIBUTE private_tmpl[16];
    CK_ULONG np = 0;
    CK_ULONG nq = 0;
    generate_call call;
    p11_error cleanup;

    p11_error_clear(err);
    *out = NULL;
    if (label == NULL || label[0] == '\0' || strlen(label) > 128)
        return p11_fail(err, CKR_ARGUMENTS_BAD,
                        "a new key needs a label of 1 to 128 bytes");
    if (id == NULL || id_len == 0) {
        if (RAND_bytes(random_id, sizeof(random_id)) != 1)
            return p11_fail(err, CKR_GENERAL_ERROR, "OpenSSL could not make a random id");
        id = random_id;
        id_len = sizeof(random_id);
    }
    if (check_free(token, label, id, id_len, err) != 0)
        return -1;

    memset(&call, 0, sizeof(call));
    switch (type) {
    case P11_KEY_RSA_2048:
    case P11_KEY_RSA_3072:
        key_type = CKK_RSA;
        bits = type == P11_KEY_RSA_2048 ? 2048 : 3072;
        call.mechanism.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        public_tmpl[np++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)};
        public_tmpl[np++] =
            (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, public_exponent, sizeof(public_exponent)};
        public_tmpl[np++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &no, sizeof(no)};
        public_tmpl[np++] = (CK_ATTRIBUTE){CKA_WRAP, &no, sizeof(no)};
        break;
    case P11_KEY_EC_P256:
    case P11_KEY_EC_P384:
        key_type = CKK_EC;
        call.mechanism.mechanism = CKM_EC_KEY_PAIR_GEN;
        if (type == P11_KEY_EC_P256)
            public_tmpl[np++] =
                (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)oid_p256, sizeof(oid_p256)};
        else
            public_tmpl[np++] =
                (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)oid_p384, sizeof(oid_p384)};
        public_tmpl[np++] = (CK_ATTRIBUTE){CKA_DERIVE, &no, sizeof(no)};
        break;
    default:
        return p11_fail(err, CKR_ARGUMENTS_BAD, "unknown key type %d", (int)type);
    }

    public_tmpl[np++] = (CK_ATTRIBUTE){CKA_CLASS, &public_class, sizeof(public_class)};
    public_tmpl[np++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &key_type, sizeof(key_type)};
    public_tmpl[np++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
    public_tmpl[np++] = (CK_ATTRIBUTE){CKA_PRIVATE, &no, sizeof(no)};
    public_tmpl[np++] = (CK_ATTRIBUTE){CKA_VERIFY, &yes, sizeof(yes)};
    public_tmpl[np++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
    public_tmpl[np++] = (CK_ATTRIBUTE){CKA_ID, (void *)id, id_len};

    private_tmpl[nq++] = (CK_ATTRIBUTE){CKA_CLASS, &private_class, sizeof(private_class)};
    private_tmpl[nq++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &key_type, sizeof(key_type)};
    private_tmpl[nq++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
    private_tmpl[nq++] = (CK_ATTRIBUTE){CKA_PRIVATE, &yes, sizeof(yes)};
    private_tmpl[nq++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &yes, sizeof(yes)};
    private_tmpl[nq++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &no, sizeof(no)};
    private_tmpl[nq++] = (CK_ATTRIBUTE){CKA_SIGN, &yes, sizeof(yes)};
    private_tmpl[nq++] = (CK_ATTRIBUTE){CKA_DECRYPT, &no, sizeof(no)};
    private_tmpl[nq++] = (CK_ATTRIBUTE){CKA_UNWRAP, &no, sizeof(no)};
    private_tmpl[nq++] = (CK_ATTRIBUTE){CKA_DERIVE, &no, sizeof(no)};
    private_tmpl[nq++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
    private_tmpl[nq++] = (CK_ATTRIBUTE){CKA_ID, (void *)id, id_len};

    call.public_tmpl = public_tmpl;
    call.public_n = np;
    call.private_tmpl = private_tmpl;
    call.private_n = nq;
    if (p11_session_call(token, generate_step, &call, "generating key", label, err) != 0)
        return -1;

    if (check_attributes(token, call.private_key, label, err) != 0 ||
        p11_key_from_handle(token, call.private_key, out, err) != 0) {
        p11_object_destroy(token, call.private_key, &cleanup);
        p11_object_destroy(token, call.public_key, &cleanup);
        return -1;
    }
    return 0;
}
