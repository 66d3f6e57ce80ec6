/* Private keys in the token: found by RFC 7512 URI with p11-kit's parser, or generated.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <p11-kit/uri.h>

#include "p11_internal.h"

static const char *const type_names[] = {
    [P11_KEY_RSA_2048] = "rsa2048",
    [P11_KEY_RSA_3072] = "rsa3072",
    [P11_KEY_EC_P256] = "p256",
    [P11_KEY_EC_P384] = "p384",
};

const char *p11_key_type_name(p11_key_type type)
{
    if ((unsigned)type < sizeof(type_names) / sizeof(type_names[0]))
        return type_names[type];
    return "unknown";
}

int p11_key_type_parse(const char *name, p11_key_type *out)
{
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
        if (name != NULL && strcmp(name, type_names[i]) == 0) {
            *out = (p11_key_type)i;
            return 0;
        }
    }
    return -1;
}

char *p11_format_uri(const p11_token *token, CK_OBJECT_CLASS cls, const char *label,
                     const unsigned char *id, size_t id_len)
{
    P11KitUri *uri = p11_kit_uri_new();
    CK_ATTRIBUTE attrs[3];
    CK_ULONG n = 0;
    char *text = NULL;

    if (uri == NULL)
        return NULL;
    memcpy(p11_kit_uri_get_token_info(uri), &token->info, sizeof(token->info));
    attrs[n++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    if (label != NULL && label[0] != '\0')
        attrs[n++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
    if (id_len > 0)
        attrs[n++] = (CK_ATTRIBUTE){CKA_ID, (void *)id, id_len};
    if (p11_kit_uri_set_attributes(uri, attrs, n) != P11_KIT_URI_OK ||
        p11_kit_uri_format(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &text) != P11_KIT_URI_OK)
        text = NULL;
    p11_kit_uri_free(uri);
    return text;
}

static void key_destroy(p11_key *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->public);
    EVP_MD_free(key->sha256);
    EVP_MD_free(key->sha384);
    pthread_mutex_destroy(&key->refresh_lock);
    free(key->label);
    free(key->id);
    free(key);
}

void p11_key_free(p11_key **key)
{
    if (key == NULL)
        return;
    key_destroy(*key);
    *key = NULL;
}

int p11_key_from_handle(p11_token *token, CK_OBJECT_HANDLE handle, p11_key **out,
                        p11_error *err)
{
    unsigned char *label = NULL;
    size_t label_len = 0;
    p11_key *key;
    int type;

    *out = NULL;
    key = calloc(1, sizeof(*key));
    if (key == NULL)
        return p11_fail(err, CKR_HOST_MEMORY, "out of memory");
    pthread_mutex_init(&key->refresh_lock, NULL);
    key->token = token;
    atomic_init(&key->handle, handle);
    atomic_init(&key->handle_epoch, atomic_load(&token->handle_epoch));

    if (p11_object_get(token, handle, CKA_LABEL, &label, &label_len, true, err) != 0 ||
        p11_object_get(token, handle, CKA_ID, &key->id, &key->id_len, true, err) != 0)
        goto fail;
    key->label = calloc(1, label_len + 1);
    if (key->label == NULL) {
        p11_fail(err, CKR_HOST_MEMORY, "out of memory");
        goto fail;
    }
    if (label_len > 0)
        memcpy(key->label, label, label_len);
    free(label);
    label = NULL;

    key->public =
        p11_public_from_object(token, handle, key->id, key->id_len, key->label, err);
    if (key->public == NULL)
        goto fail;
    type = p11_public_key_type(key->public);
    if (type < 0) {
        p11_fail(
            err, CKR_KEY_SIZE_RANGE,
            "key '%s' is %s of %d bits; this layer signs with RSA-2048, RSA-3072, P-256 "
            "and P-384 keys",
            key->label, EVP_PKEY_get0_type_name(key->public),
            EVP_PKEY_get_bits(key->public));
        goto fail;
    }
    key->type = (p11_key_type)type;
    key->signature_size = type == P11_KEY_RSA_2048   ? 256
                          : type == P11_KEY_RSA_3072 ? 384
                          : type == P11_KEY_EC_P256  ? 64
                                                     : 96;

    key->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    key->sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
    if (key->sha256 == NULL || key->sha384 == NULL) {
        p11_fail(err, CKR_GENERAL_ERROR, "OpenSSL has no SHA-256 or SHA-384");
        goto fail;
    }
    *out = key;
    return 0;

fail:
    free(label);
    key_destroy(key);
    return -1;
}

/* Builds the search template for the key's private object from its label and id. */
static CK_ULONG identity_template(const p11_key *key, CK_OBJECT_CLASS *cls,
                                  CK_ATTRIBUTE *tmpl)
{
    CK_ULONG n = 0;

    tmpl[n++] = (CK_ATTRIBUTE){CKA_CLASS, cls, sizeof(*cls)};
    if (key->id_len > 0)
        tmpl[n++] = (CK_ATTRIBUTE){CKA_ID, key->id, key->id_len};
    if (key->label[0] != '\0')
        tmpl[n++] = (CK_ATTRIBUTE){CKA_LABEL, key->label, strlen(key->label)};
    return n;
}

int p11_key_refresh(p11_key *key, p11_error *err)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[3];
    CK_OBJECT_HANDLE found[2];
    CK_ULONG count = 0;
    CK_ULONG n = identity_template(key, &cls, tmpl);
    unsigned epoch;
    int ret = -1;

    pthread_mutex_lock(&key->refresh_lock);
    epoch = atomic_load(&key->token->handle_epoch);
    if (p11_object_find(key->token, tmpl, n, found, 2, &count, err) != 0)
        goto out;
    if (count != 1) {
        p11_fail(err, count == 0 ? CKR_KEY_HANDLE_INVALID : CKR_OK,
                 "private key '%s' %s on token '%s' any more", key->label,
                 count == 0 ? "is not"
                            : "is no longer the only one with its label and id",
                 key->token->label);
        goto out;
    }
    atomic_store(&key->handle, found[0]);
    atomic_store(&key->handle_epoch, epoch);
    ret = 0;
out:
    pthread_mutex_unlock(&key->refresh_lock);
    return ret;
}

/* Reads the class, label and id of an object, to match them against the URI. */
static int uri_matches(p11_token *token, P11KitUri *uri, CK_OBJECT_HANDLE object,
                       bool *match, p11_error *err)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    unsigned char *label = NULL;
    unsigned char *id = NULL;
    size_t label_len = 0;
    size_t id_len = 0;
    CK_ATTRIBUTE attrs[3];

    if (p11_object_get(token, object, CKA_LABEL, &label, &label_len, true, err) != 0 ||
        p11_object_get(token, object, CKA_ID, &id, &id_len, true, err) != 0) {
        free(label);
        return -1;
    }
    attrs[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    attrs[1] = (CK_ATTRIBUTE){CKA_LABEL, label, label_len};
    attrs[2] = (CK_ATTRIBUTE){CKA_ID, id, id_len};
    *match = p11_kit_uri_match_attributes(uri, attrs, 3) == 1;
    free(label);
    free(id);
    return 0;
}

/*
 * Finds a path attribute that the URI gives twice, such as "object=a;object=b", and
 * copies its name to name. p11-kit 0.24.1 keeps the last value without an error, so the
 * URI would name another key than a reader of its first value expects.
 */
static bool uri_repeats_attribute(const char *text, char *name, size_t name_size)
{
    const char *colon = strchr(text, ':');
    const char *path = colon != NULL ? colon + 1 : "";
    size_t path_len = strcspn(path, "?");
    const char *names[32];
    size_t lengths[32];
    size_t count = 0;

    for (size_t at = 0; at < path_len && count < 32; at += strcspn(path + at, ";") + 1) {
        size_t len = strcspn(path + at, "=;?");

        for (size_t i = 0; i < count; i++) {
            if (lengths[i] == len && strncmp(names[i], path + at, len) == 0) {
                snprintf(name, name_size, "%.*s", (int)len, path + at);
                return true;
            }
        }
        names[count] = path + at;
        lengths[count] = len;
        count++;
    }
    return false;
}

static int check_uri(p11_token *token, P11KitUri *uri, const char *text, p11_error *err)
{
    CK_ATTRIBUTE *cls = p11_kit_uri_get_attribute(uri, CKA_CLASS);
    char repeated[64];

    if (uri_repeats_attribute(text, repeated, sizeof(repeated)))
        return p11_fail(err, CKR_OK, "URI '%s' gives the attribute '%s' twice; give it once",
                        text, repeated);
    if (p11_kit_uri_any_unrecognized(uri))
        return p11_fail(err, CKR_OK, "URI '%s' has an attribute this layer does not know",
                        text);
    if (p11_kit_uri_get_pin_value(uri) != NULL || p11_kit_uri_get_pin_source(uri) != NULL)
        return p11_fail(
            err, CKR_OK,
            "URI '%s' carries a PIN; give the PIN by a file or the environment", text);
    if (p11_kit_uri_match_token_info(uri, &token->info) != 1)
        return p11_fail(err, CKR_OK, "URI '%s' names another token than '%s' (serial %s)",
                        text, token->label, token->serial);
    if (cls != NULL && (cls->ulValueLen != sizeof(CK_OBJECT_CLASS) ||
                        *(CK_OBJECT_CLASS *)cls->pValue != CKO_PRIVATE_KEY))
        return p11_fail(err, CKR_OK,
                        "URI '%s' does not name a private key (type=private)", text);
    return 0;
}

int p11_key_find(p11_token *token, const char *text, p11_key **out, p11_error *err)
{
    CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[8];
    CK_ATTRIBUTE *attrs;
    CK_ULONG n_attrs = 0;
    CK_ULONG n = 0;
    CK_OBJECT_HANDLE found[16];
    CK_ULONG count = 0;
    CK_OBJECT_HANDLE match = CK_INVALID_HANDLE;
    unsigned matches = 0;
    P11KitUri *uri;
    int code;
    int ret = -1;

    p11_error_clear(err);
    *out = NULL;
    if (text == NULL)
        return p11_fail(err, CKR_ARGUMENTS_BAD, "no key URI given");
    uri = p11_kit_uri_new();
    if (uri == NULL)
        return p11_fail(err, CKR_HOST_MEMORY, "out of memory");
    code = p11_kit_uri_parse(text, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, uri);
    if (code != P11_KIT_URI_OK) {
        p11_fail(err, CKR_OK, "'%s' is not a valid pkcs11: URI (%s)", text,
                 p11_kit_uri_message(code));
        goto out;
    }
    if (check_uri(token, uri, text, err) != 0)
        goto out;

    /* The module filters by the URI's object attributes; p11-kit checks each result. */
    tmpl[n++] = (CK_ATTRIBUTE){CKA_CLASS, &private_class, sizeof(private_class)};
    attrs = p11_kit_uri_get_attributes(uri, &n_attrs);
    for (CK_ULONG i = 0; i < n_attrs && n < 8; i++) {
        if (attrs[i].type != CKA_CLASS)
            tmpl[n++] = attrs[i];
    }
    if (p11_object_find(token, tmpl, n, found, 16, &count, err) != 0)
        goto out;
    for (CK_ULONG i = 0; i < count; i++) {
        bool ok = false;

        if (uri_matches(token, uri, found[i], &ok, err) != 0)
            goto out;
        if (ok && ++matches == 1)
            match = found[i];
    }
    if (matches == 0) {
        p11_fail(err, CKR_OK, "no private key on token '%s' matches '%s'", token->label,
                 text);
        goto out;
    }
    if (matches > 1) {
        p11_fail(
            err, CKR_OK,
            "%s%u private keys on token '%s' match '%s'; name one by object= and id=",
            count == 16 ? "at least " : "", matches, token->label, text);
        goto out;
    }
    ret = p11_key_from_handle(token, match, out, err);
out:
    p11_kit_uri_free(uri);
    return ret;
}

p11_key_type p11_key_get_type(const p11_key *key)
{
    return key->type;
}

const char *p11_key_get_label(const p11_key *key)
{
    return key->label;
}

const unsigned char *p11_key_get_id(const p11_key *key, size_t *len)
{
    *len = key->id_len;
    return key->id;
}

char *p11_key_get_uri(const p11_key *key)
{
    return p11_format_uri(key->token, CKO_PRIVATE_KEY, key->label, key->id, key->id_len);
}

size_t p11_key_signature_size(const p11_key *key)
{
    return key->signature_size;
}
