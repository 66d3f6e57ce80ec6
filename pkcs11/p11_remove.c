/* Removal of a key pair with its certificates (p11_key_destroy in p11.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "p11_internal.h"

/* Checks that an object of class cls contains the key's own public key. Another key
 * pair may share the CKA_ID or label, because other tools such as pkcs11-tool do not
 * reject one, and its objects must stay. */
static bool contains_public_key(const p11_key *key, CK_OBJECT_HANDLE object,
                                CK_OBJECT_CLASS cls)
{
    p11_error ignored;
    EVP_PKEY *contained = p11_public_of_object(key->token, object, cls, &ignored);
    bool same = contained != NULL && EVP_PKEY_eq(contained, key->public) == 1;

    EVP_PKEY_free(contained);
    return same;
}

/* Destroys every object of class cls that contains the key's public key and counts
 * them. Adds the objects with its CKA_ID or label that contain another key to *kept. */
static int destroy_companions(p11_key *key, CK_OBJECT_CLASS cls, size_t *count,
                              size_t *kept, p11_error *err)
{
    CK_ATTRIBUTE tmpl[2];
    CK_OBJECT_HANDLE *found = NULL;
    CK_ULONG found_count = 0;
    int ret = 0;

    *count = 0;
    if (p11_object_find_all(key->token, tmpl, p11_key_companion_template(key, &cls, tmpl), &found,
                            &found_count, err) != 0)
        return -1;
    for (CK_ULONG i = 0; i < found_count && ret == 0; i++) {
        if (!contains_public_key(key, found[i], cls)) {
            (*kept)++;
            continue;
        }
        ret = p11_object_destroy(key->token, found[i], err);
        if (ret == 0)
            (*count)++;
    }
    free(found);
    return ret;
}

/* Checks whether the module returns the key's public half from the private key object
 * itself: an RSA modulus is a public attribute of it. Other keys take it from a public
 * key object or certificate with the same CKA_ID (p11_public.c). */
static bool public_from_private(p11_key *key)
{
    unsigned char *modulus = NULL;
    size_t len = 0;
    p11_error ignored;
    bool found;

    if (key->type != P11_KEY_RSA_2048 && key->type != P11_KEY_RSA_3072)
        return false;
    found = p11_object_get(key->token, atomic_load(&key->handle), CKA_MODULUS, &modulus,
                           &len, true, &ignored) == 0 &&
            modulus != NULL;
    free(modulus);
    return found;
}

int p11_key_check_companions(p11_key *key, p11_error *err)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[2];
    CK_OBJECT_HANDLE *found = NULL;
    CK_ULONG count = 0;

    p11_error_clear(err);
    if (p11_key_refresh(key, err) != 0 ||
        p11_object_find_all(key->token, tmpl, p11_key_companion_template(key, &cls, tmpl), &found,
                            &count, err) != 0)
        return -1;
    free(found);
    if (count <= 1 || public_from_private(key))
        return 0;
    return p11_fail(err, CKR_OK,
                    "%lu private keys have the %s of key '%s', so the public key object and "
                    "certificate of this key cannot be told from those of the others. Remove "
                    "the other key pairs with the same %s first",
                    (unsigned long)count, key->id_len > 0 ? "CKA_ID" : "label", key->label,
                    key->id_len > 0 ? "CKA_ID" : "label");
}

int p11_key_destroy(p11_key **key, p11_removed *removed, p11_error *err)
{
    p11_key *target = *key;
    int ret = -1;

    p11_error_clear(err);
    memset(removed, 0, sizeof(*removed));
    /* The handle may be stale after a reconnect, so the key is searched again first. */
    if (p11_key_refresh(target, err) != 0)
        goto out;
    if (p11_object_destroy(target->token, atomic_load(&target->handle), err) != 0)
        goto out;
    removed->private_key = true;
    if (destroy_companions(target, CKO_PUBLIC_KEY, &removed->public_keys, &removed->kept,
                           err) != 0)
        goto out;
    if (destroy_companions(target, CKO_CERTIFICATE, &removed->certificates, &removed->kept,
                           err) != 0)
        goto out;
    ret = 0;
out:
    p11_key_free(key);
    return ret;
}
