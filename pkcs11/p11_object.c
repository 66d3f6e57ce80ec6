/* Small object operations on the thread's session: search, read, create, destroy. */
#include <stdlib.h>
#include <string.h>

#include "p11_internal.h"

typedef struct find_call {
    CK_ATTRIBUTE *tmpl;
    CK_ULONG n;
    CK_OBJECT_HANDLE *out;
    CK_ULONG max;
    CK_ULONG count;
} find_call;

static CK_RV find_step(p11_token *token, CK_SESSION_HANDLE session, void *arg,
                       const char **function)
{
    find_call *call = arg;
    CK_RV rv;
    CK_RV final_rv;

    call->count = 0;
    *function = "C_FindObjectsInit";
    rv = token->f->C_FindObjectsInit(session, call->tmpl, call->n);
    if (rv != CKR_OK)
        return rv;
    *function = "C_FindObjects";
    rv = token->f->C_FindObjects(session, call->out, call->max, &call->count);
    final_rv = token->f->C_FindObjectsFinal(session);
    if (rv == CKR_OK && final_rv != CKR_OK) {
        *function = "C_FindObjectsFinal";
        rv = final_rv;
    }
    return rv;
}

int p11_object_find(p11_token *token, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                    CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count, p11_error *err)
{
    find_call call = {tmpl, n, out, max, 0};

    *count = 0;
    if (p11_session_call(token, find_step, &call, "searching objects on token",
                         token->label, err) != 0)
        return -1;
    *count = call.count;
    return 0;
}

typedef struct find_all_call {
    CK_ATTRIBUTE *tmpl;
    CK_ULONG n;
    CK_OBJECT_HANDLE *out;
    CK_ULONG count;
} find_all_call;

static CK_RV find_all_step(p11_token *token, CK_SESSION_HANDLE session, void *arg,
                           const char **function)
{
    find_all_call *call = arg;
    CK_ULONG capacity = 0;
    CK_ULONG got;
    CK_RV rv;

    free(call->out);
    call->out = NULL;
    call->count = 0;
    *function = "C_FindObjectsInit";
    rv = token->f->C_FindObjectsInit(session, call->tmpl, call->n);
    if (rv != CKR_OK)
        return rv;
    *function = "C_FindObjects";
    for (;;) {
        if (call->count == capacity) {
            CK_OBJECT_HANDLE *grown;

            capacity = capacity == 0 ? 32 : capacity * 2;
            grown = realloc(call->out, capacity * sizeof(*grown));
            if (grown == NULL) {
                rv = CKR_HOST_MEMORY;
                break;
            }
            call->out = grown;
        }
        rv = token->f->C_FindObjects(session, call->out + call->count,
                                     capacity - call->count, &got);
        if (rv != CKR_OK || got == 0)
            break;
        call->count += got;
    }
    token->f->C_FindObjectsFinal(session);
    return rv;
}

int p11_object_find_all(p11_token *token, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                        CK_OBJECT_HANDLE **out, CK_ULONG *count, p11_error *err)
{
    find_all_call call = {tmpl, n, NULL, 0};

    *out = NULL;
    *count = 0;
    if (p11_session_call(token, find_all_step, &call, "searching objects on token",
                         token->label, err) != 0) {
        free(call.out);
        return -1;
    }
    *out = call.out;
    *count = call.count;
    return 0;
}

typedef struct get_call {
    CK_OBJECT_HANDLE object;
    CK_ATTRIBUTE *tmpl;
    CK_ULONG n;
    bool partial_ok; /* absent attributes are reported in ulValueLen, not as failure */
} get_call;

static CK_RV get_step(p11_token *token, CK_SESSION_HANDLE session, void *arg,
                      const char **function)
{
    get_call *call = arg;
    CK_RV rv;

    *function = "C_GetAttributeValue";
    rv = token->f->C_GetAttributeValue(session, call->object, call->tmpl, call->n);
    if (call->partial_ok && rv == CKR_ATTRIBUTE_TYPE_INVALID)
        rv = CKR_OK;
    return rv;
}

int p11_object_get(p11_token *token, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type,
                   unsigned char **value, size_t *len, bool absent_ok, p11_error *err)
{
    CK_ATTRIBUTE attr = {type, NULL, 0};
    get_call call = {object, &attr, 1, absent_ok};

    *value = NULL;
    *len = 0;
    /* First the length, then the value. */
    if (p11_session_call(token, get_step, &call, "reading an attribute on token",
                         token->label, err) != 0)
        return -1;
    if (attr.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
        if (absent_ok)
            return 0;
        return p11_fail(err, CKR_ATTRIBUTE_TYPE_INVALID,
                        "object on token '%s' has no attribute 0x%lx", token->label,
                        (unsigned long)type);
    }
    if (attr.ulValueLen == 0)
        return 0;
    attr.pValue = malloc(attr.ulValueLen);
    if (attr.pValue == NULL)
        return p11_fail(err, CKR_HOST_MEMORY, "out of memory");
    call.partial_ok = false;
    if (p11_session_call(token, get_step, &call, "reading an attribute on token",
                         token->label, err) != 0) {
        free(attr.pValue);
        return -1;
    }
    *value = attr.pValue;
    *len = attr.ulValueLen;
    return 0;
}

int p11_object_get_fixed(p11_token *token, CK_OBJECT_HANDLE object, CK_ATTRIBUTE *tmpl,
                         CK_ULONG n, p11_error *err)
{
    get_call call = {object, tmpl, n, true};

    return p11_session_call(token, get_step, &call, "reading attributes on token",
                            token->label, err);
}

typedef struct destroy_call {
    CK_OBJECT_HANDLE object;
} destroy_call;

static CK_RV destroy_step(p11_token *token, CK_SESSION_HANDLE session, void *arg,
                          const char **function)
{
    destroy_call *call = arg;

    *function = "C_DestroyObject";
    return token->f->C_DestroyObject(session, call->object);
}

int p11_object_destroy(p11_token *token, CK_OBJECT_HANDLE object, p11_error *err)
{
    destroy_call call = {object};

    return p11_session_call(token, destroy_step, &call, "destroying an object on token",
                            token->label, err);
}

typedef struct create_call {
    CK_ATTRIBUTE *tmpl;
    CK_ULONG n;
    CK_OBJECT_HANDLE object;
} create_call;

static CK_RV create_step(p11_token *token, CK_SESSION_HANDLE session, void *arg,
                         const char **function)
{
    create_call *call = arg;

    *function = "C_CreateObject";
    return token->f->C_CreateObject(session, call->tmpl, call->n, &call->object);
}

int p11_object_create(p11_token *token, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                      CK_OBJECT_HANDLE *out, p11_error *err)
{
    create_call call = {tmpl, n, CK_INVALID_HANDLE};

    if (p11_session_call(token, create_step, &call, "creating an object on token",
                         token->label, err) != 0)
        return -1;
    *out = call.object;
    return 0;
}

char *p11_hex(const unsigned char *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *out = malloc(len * 2 + 1);

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0f];
    }
    out[len * 2] = '\0';
    return out;
}
