/* Listing the private keys of a token with the attributes that show they stay inside. */
#include <stdlib.h>
#include <string.h>

#include "p11_internal.h"

void p11_key_info_free(p11_key_info *infos, size_t count)
{
    if (infos == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        free(infos[i].label);
        free(infos[i].id_hex);
        free(infos[i].uri);
    }
    free(infos);
}

static int read_flags(p11_token *token, CK_OBJECT_HANDLE object, p11_key_info *info,
                      p11_error *err)
{
    CK_BBOOL sensitive = CK_FALSE, always_sensitive = CK_FALSE;
    CK_BBOOL extractable = CK_FALSE, never_extractable = CK_FALSE;
    CK_BBOOL sign = CK_FALSE, decrypt = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_SENSITIVE, &sensitive, sizeof(CK_BBOOL)},
        {CKA_ALWAYS_SENSITIVE, &always_sensitive, sizeof(CK_BBOOL)},
        {CKA_EXTRACTABLE, &extractable, sizeof(CK_BBOOL)},
        {CKA_NEVER_EXTRACTABLE, &never_extractable, sizeof(CK_BBOOL)},
        {CKA_SIGN, &sign, sizeof(CK_BBOOL)},
        {CKA_DECRYPT, &decrypt, sizeof(CK_BBOOL)},
    };

    if (p11_object_get_fixed(token, object, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), err) !=
        0)
        return -1;
    info->sensitive = sensitive == CK_TRUE;
    info->always_sensitive = always_sensitive == CK_TRUE;
    /* An attribute the module does not report is shown as the unsafe value. */
    info->extractable =
        extractable == CK_TRUE || tmpl[2].ulValueLen == CK_UNAVAILABLE_INFORMATION;
    info->never_extractable = never_extractable == CK_TRUE;
    info->can_sign = sign == CK_TRUE;
    info->can_decrypt = decrypt == CK_TRUE;
    return 0;
}

static int describe(p11_token *token, CK_OBJECT_HANDLE object, p11_key_info *info,
                    p11_error *err)
{
    p11_key *key = NULL;
    X509 *cert;
    p11_error cert_err;

    if (p11_key_from_handle(token, object, &key, err) != 0) {
        /* A key this layer cannot use is still listed, by its label and id. */
        unsigned char *label = NULL;
        unsigned char *id = NULL;
        size_t label_len = 0;
        size_t id_len = 0;

        if (p11_object_get(token, object, CKA_LABEL, &label, &label_len, true, err) !=
                0 ||
            p11_object_get(token, object, CKA_ID, &id, &id_len, true, err) != 0) {
            free(label);
            return -1;
        }
        info->label = calloc(1, label_len + 1);
        if (info->label != NULL && label_len > 0)
            memcpy(info->label, label, label_len);
        info->id_hex = p11_hex(id, id_len);
        info->uri = p11_format_uri(token, CKO_PRIVATE_KEY, info->label, id, id_len);
        info->type_name = "unsupported";
        free(label);
        free(id);
        p11_error_clear(err);
    } else {
        info->label = strdup(key->label);
        info->id_hex = p11_hex(key->id, key->id_len);
        info->uri = p11_key_get_uri(key);
        info->type = key->type;
        info->supported = true;
        info->type_name = p11_key_type_name(key->type);
        cert = p11_cert_load(token, key, &cert_err);
        info->has_certificate = cert != NULL;
        X509_free(cert);
        p11_key_free(&key);
    }
    if (info->label == NULL || info->id_hex == NULL || info->uri == NULL)
        return p11_fail(err, CKR_HOST_MEMORY, "out of memory");
    return read_flags(token, object, info, err);
}

int p11_key_list(p11_token *token, p11_key_info **out, size_t *count, p11_error *err)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    CK_OBJECT_HANDLE *found = NULL;
    CK_ULONG n = 0;
    p11_key_info *infos;

    p11_error_clear(err);
    *out = NULL;
    *count = 0;
    if (p11_object_find_all(token, tmpl, 1, &found, &n, err) != 0)
        return -1;
    infos = calloc(n > 0 ? n : 1, sizeof(*infos));
    if (infos == NULL) {
        free(found);
        return p11_fail(err, CKR_HOST_MEMORY, "out of memory");
    }
    for (CK_ULONG i = 0; i < n; i++) {
        if (describe(token, found[i], &infos[i], err) != 0) {
            p11_key_info_free(infos, i + 1);
            free(found);
            return -1;
        }
    }
    free(found);
    *out = infos;
    *count = n;
    return 0;
}
