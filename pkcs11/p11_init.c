/* Initialising a token for development: C_InitToken on a free slot, then C_InitPIN. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p11_internal.h"

/* Finds the slot of an initialised token with this label, or a free slot. */
static int find_slot(CK_FUNCTION_LIST_PTR f, const char *label, bool want_free,
                     CK_SLOT_ID *out, CK_TOKEN_INFO *info_out, p11_error *err)
{
    CK_SLOT_ID *slots = NULL;
    CK_ULONG count = 0;
    CK_TOKEN_INFO info;
    char text[33];
    bool found = false;
    CK_RV rv;

    rv = f->C_GetSlotList(CK_TRUE, NULL, &count);
    if (rv == CKR_OK && count > 0) {
        slots = calloc(count, sizeof(*slots));
        if (slots == NULL)
            return p11_fail(err, CKR_HOST_MEMORY, "out of memory");
        rv = f->C_GetSlotList(CK_TRUE, slots, &count);
    }
    if (rv != CKR_OK) {
        free(slots);
        return p11_fail_rv(err, rv, "C_GetSlotList", "cannot list slots");
    }
    for (CK_ULONG i = 0; i < count && !found; i++) {
        if (f->C_GetTokenInfo(slots[i], &info) != CKR_OK)
            continue;
        p11_trim_field(text, info.label, sizeof(info.label));
        if (want_free
                ? !(info.flags & CKF_TOKEN_INITIALIZED)
                : (info.flags & CKF_TOKEN_INITIALIZED) && strcmp(text, label) == 0) {
            *out = slots[i];
            *info_out = info;
            found = true;
        }
    }
    free(slots);
    return found ? 0 : -1;
}

/* Finds the slot of a free token for label, and fails when a token has it already. */
static int find_free_slot(CK_FUNCTION_LIST_PTR f, const p11_module *module,
                          const char *label, CK_SLOT_ID *slot, p11_error *err)
{
    CK_TOKEN_INFO info;

    if (find_slot(f, label, false, slot, &info, err) == 0)
        return p11_fail(err, CKR_OK, "a token labelled '%s' exists already", label);
    p11_error_clear(err);
    if (find_slot(f, label, true, slot, &info, err) != 0) {
        if (err == NULL || err->message[0] == '\0')
            p11_fail(err, CKR_TOKEN_NOT_PRESENT,
                     "PKCS#11 module '%s' has no free slot for a new token",
                     module->path);
        return -1;
    }
    return 0;
}

/* Logs in as the security officer on a new session of slot and sets the user PIN. */
static int set_user_pin(CK_FUNCTION_LIST_PTR f, CK_SLOT_ID slot, const char *label,
                        const char *so_pin, const char *user_pin, p11_error *err)
{
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_RV rv;
    int ret = -1;

    rv =
        f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session);
    if (rv != CKR_OK)
        return p11_fail_rv(err, rv, "C_OpenSession",
                           "cannot open a session on token '%s'", label);
    rv = f->C_Login(session, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin));
    if (rv != CKR_OK) {
        p11_fail_rv(err, rv, "C_Login",
                    "the security officer cannot log in to token '%s'", label);
        goto out;
    }
    rv = f->C_InitPIN(session, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin));
    f->C_Logout(session);
    if (rv != CKR_OK) {
        p11_fail_rv(err, rv, "C_InitPIN", "cannot set the user PIN of token '%s'", label);
        goto out;
    }
    ret = 0;
out:
    f->C_CloseSession(session);
    return ret;
}

int p11_token_init(const char *module_path, const char *label, const char *so_pin,
                   const char *user_pin, char *serial, size_t serial_size, p11_error *err)
{
    CK_UTF8CHAR padded[32];
    CK_FUNCTION_LIST_PTR f;
    p11_module *module = NULL;
    CK_TOKEN_INFO info;
    CK_SLOT_ID slot;
    CK_RV rv;
    int ret = -1;

    p11_error_clear(err);
    if (label == NULL)
        return p11_fail(err, CKR_ARGUMENTS_BAD, "no token label given");
    if (p11_check_field(label, sizeof(padded), "label", err) != 0)
        return -1;
    if (so_pin == NULL || so_pin[0] == '\0' || user_pin == NULL || user_pin[0] == '\0')
        return p11_fail(err, CKR_ARGUMENTS_BAD,
                        "a new token needs an SO PIN and a user PIN");
    if (p11_module_acquire(module_path, &module, err) != 0)
        return -1;
    f = module->f;
    if (find_free_slot(f, module, label, &slot, err) != 0)
        goto out;

    memset(padded, ' ', sizeof(padded));
    memcpy(padded, label, strlen(label));
    rv = f->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), padded);
    if (rv != CKR_OK) {
        p11_fail_rv(err, rv, "C_InitToken", "cannot initialise token '%s'", label);
        goto out;
    }

    /* Some modules (SoftHSM2) move the new token to another slot. */
    if (find_slot(f, label, false, &slot, &info, err) != 0) {
        p11_fail(err, CKR_TOKEN_NOT_PRESENT, "token '%s' is not listed after C_InitToken",
                 label);
        goto out;
    }
    if (set_user_pin(f, slot, label, so_pin, user_pin, err) != 0)
        goto out;
    if (serial != NULL && serial_size > 0) {
        char text[17];

        p11_trim_field(text, info.serialNumber, sizeof(info.serialNumber));
        snprintf(serial, serial_size, "%s", text);
    }
    ret = 0;
out:
    p11_module_release(module);
    return ret;
}
