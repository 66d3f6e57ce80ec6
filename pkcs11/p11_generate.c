/* Key pairs generated inside the token: the private half is sensitive, never extractable
 * and may only sign. */
#include <stdbool.h>
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

/* The attribute templates of one key pair, and the values they point at. */
typedef struct pair_template {
    CK_BBOOL yes;
    CK_BBOOL no;
    CK_OBJECT_CLASS public_class;
    CK_OBJECT_CLASS private_class;
    CK_KEY_TYPE key_type;
    CK_ULONG bits;
    CK_ATTRIBUTE public_attrs[12];
    CK_ATTRIBUTE private_attrs[16];
    CK_ULONG public_count;
    CK_ULONG private_count;
} pair_template;

static void add_public(pair_template *pair, CK_ATTRIBUTE_TYPE type, const void *value,
                       size_t len)
{
    pair->public_attrs[pair->public_count++] = (CK_ATTRIBUTE){type, (void *)value, len};
}

static void add_private(pair_template *pair, CK_ATTRIBUTE_TYPE type, const void *value,
                        size_t len)
{
    pair->private_attrs[pair->private_count++] = (CK_ATTRIBUTE){type, (void *)value, len};
}

/* Returns the address of a CK_BBOOL with the value flag, for a template entry. */
static const CK_BBOOL *flag_value(const pair_template *pair, bool flag)
{
    return flag ? &pair->yes : &pair->no;
}

/* Sets the mechanism and the public attributes that depend on the key type. */
static int add_type_attributes(pair_template *pair, p11_key_type type,
                               CK_MECHANISM *mechanism, p11_error *err)
{
    static const CK_BYTE public_exponent[] = {0x01, 0x00, 0x01};

    switch (type) {
    case P11_KEY_RSA_2048:
    case P11_KEY_RSA_3072:
        pair->key_type = CKK_RSA;
        pair->bits = type == P11_KEY_RSA_2048 ? 2048 : 3072;
        mechanism->mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        add_public(pair, CKA_MODULUS_BITS, &pair->bits, sizeof(pair->bits));
        add_public(pair, CKA_PUBLIC_EXPONENT, public_exponent, sizeof(public_exponent));
        add_public(pair, CKA_ENCRYPT, flag_value(pair, false), sizeof(CK_BBOOL));
        add_public(pair, CKA_WRAP, flag_value(pair, false), sizeof(CK_BBOOL));
        return 0;
    case P11_KEY_EC_P256:
        pair->key_type = CKK_EC;
        mechanism->mechanism = CKM_EC_KEY_PAIR_GEN;
        add_public(pair, CKA_EC_PARAMS, oid_p256, sizeof(oid_p256));
        add_public(pair, CKA_DERIVE, flag_value(pair, false), sizeof(CK_BBOOL));
        return 0;
    case P11_KEY_EC_P384:
        pair->key_type = CKK_EC;
        mechanism->mechanism = CKM_EC_KEY_PAIR_GEN;
        add_public(pair, CKA_EC_PARAMS, oid_p384, sizeof(oid_p384));
        add_public(pair, CKA_DERIVE, flag_value(pair, false), sizeof(CK_BBOOL));
        return 0;
    default:
        return p11_fail(err, CKR_ARGUMENTS_BAD, "unknown key type %d", (int)type);
    }
}

/* Adds the attributes of every key pair: both halves are token objects, and the private
 * half is sensitive, never extractable and may only sign. */
static void add_common_attributes(pair_template *pair, const char *label,
                                  const unsigned char *id, size_t id_len)
{
    static const struct {
        CK_ATTRIBUTE_TYPE type;
        bool value;
    } private_flags[] = {
        {CKA_TOKEN, true},        {CKA_PRIVATE, true}, {CKA_SENSITIVE, true},
        {CKA_EXTRACTABLE, false}, {CKA_SIGN, true},    {CKA_DECRYPT, false},
        {CKA_UNWRAP, false},      {CKA_DERIVE, false},
    };

    add_public(pair, CKA_CLASS, &pair->public_class, sizeof(pair->public_class));
    add_public(pair, CKA_KEY_TYPE, &pair->key_type, sizeof(pair->key_type));
    add_public(pair, CKA_TOKEN, flag_value(pair, true), sizeof(CK_BBOOL));
    add_public(pair, CKA_PRIVATE, flag_value(pair, false), sizeof(CK_BBOOL));
    add_public(pair, CKA_VERIFY, flag_value(pair, true), sizeof(CK_BBOOL));
    add_public(pair, CKA_LABEL, label, strlen(label));
    add_public(pair, CKA_ID, id, id_len);

    add_private(pair, CKA_CLASS, &pair->private_class, sizeof(pair->private_class));
    add_private(pair, CKA_KEY_TYPE, &pair->key_type, sizeof(pair->key_type));
    for (size_t i = 0; i < sizeof(private_flags) / sizeof(private_flags[0]); i++)
        add_private(pair, private_flags[i].type, flag_value(pair, private_flags[i].value),
                    sizeof(CK_BBOOL));
    add_private(pair, CKA_LABEL, label, strlen(label));
    add_private(pair, CKA_ID, id, id_len);
}

int p11_key_generate(p11_token *token, p11_key_type type, const char *label,
                     const unsigned char *id, size_t id_len, p11_key **out,
                     p11_error *err)
{
    unsigned char random_id[P11_GENERATED_ID_LEN];
    pair_template pair = {.yes = CK_TRUE,
                          .no = CK_FALSE,
                          .public_class = CKO_PUBLIC_KEY,
                          .private_class = CKO_PRIVATE_KEY};
    generate_call call = {0};
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
    if (check_free(token, label, id, id_len, err) != 0 ||
        add_type_attributes(&pair, type, &call.mechanism, err) != 0)
        return -1;
    add_common_attributes(&pair, label, id, id_len);

    call.public_tmpl = pair.public_attrs;
    call.public_n = pair.public_count;
    call.private_tmpl = pair.private_attrs;
    call.private_n = pair.private_count;
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
