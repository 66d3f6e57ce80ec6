/*
 * A PKCS#11 module for tests: every call goes to the real SoftHSM2 module, except that it
 * counts C_Login calls and, when set to, returns CKR_DEVICE_REMOVED as if the HSM
 * were unplugged. The test reaches the controls below with dlsym on this module.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <p11-kit/pkcs11.h>

#ifndef P11_WRAP_REAL_MODULE
#define P11_WRAP_REAL_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#endif

#define EXPORT __attribute__((visibility("default")))

static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST wrapped;
static atomic_uint login_count;
static atomic_uint open_count;
static atomic_ulong forced_rv; /* CKR_OK: pass everything through */
static atomic_ulong forced_login_rv;
static atomic_ulong last_slot;

EXPORT unsigned p11_wrap_login_count(void);
EXPORT unsigned p11_wrap_open_count(void);
EXPORT void p11_wrap_reset_counts(void);
EXPORT void p11_wrap_force(CK_RV rv);
EXPORT void p11_wrap_force_login(CK_RV rv);
EXPORT CK_RV p11_wrap_close_all_sessions(void);
EXPORT CK_FUNCTION_LIST_PTR p11_wrap_real(void);
EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

unsigned p11_wrap_login_count(void)
{
    return atomic_load(&login_count);
}

unsigned p11_wrap_open_count(void)
{
    return atomic_load(&open_count);
}

void p11_wrap_reset_counts(void)
{
    atomic_store(&login_count, 0);
    atomic_store(&open_count, 0);
}

void p11_wrap_force(CK_RV rv)
{
    atomic_store(&forced_rv, rv);
}

/* Makes C_Login alone fail, as with a PIN changed behind the layer's back. */
void p11_wrap_force_login(CK_RV rv)
{
    atomic_store(&forced_login_rv, rv);
}

/* Closes every session of the token behind the layer's back. */
CK_RV p11_wrap_close_all_sessions(void)
{
    return real->C_CloseAllSessions(atomic_load(&last_slot));
}

CK_FUNCTION_LIST_PTR p11_wrap_real(void)
{
    return real;
}

static CK_RV wrap_login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                        CK_ULONG len)
{
    CK_RV forced = atomic_load(&forced_rv);

    atomic_fetch_add(&login_count, 1);
    if (forced == CKR_OK)
        forced = atomic_load(&forced_login_rv);
    if (forced != CKR_OK)
        return forced;
    return real->C_Login(session, user, pin, len);
}

static CK_RV wrap_open_session(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app,
                               CK_NOTIFY notify, CK_SESSION_HANDLE_PTR session)
{
    CK_RV forced = atomic_load(&forced_rv);

    atomic_fetch_add(&open_count, 1);
    atomic_store(&last_slot, slot);
    if (forced != CKR_OK)
        return forced;
    return real->C_OpenSession(slot, flags, app, notify, session);
}

static CK_RV wrap_sign_init(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                            CK_OBJECT_HANDLE key)
{
    CK_RV forced = atomic_load(&forced_rv);

    if (forced != CKR_OK)
        return forced;
    return real->C_SignInit(session, mechanism, key);
}

static CK_RV wrap_sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG len,
                       CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    CK_RV forced = atomic_load(&forced_rv);

    if (forced != CKR_OK)
        return forced;
    return real->C_Sign(session, data, len, sig, sig_len);
}

static CK_RV wrap_get_slot_list(CK_BBOOL present, CK_SLOT_ID_PTR slots,
                                CK_ULONG_PTR count)
{
    CK_RV forced = atomic_load(&forced_rv);

    /* An unplugged token is not listed. */
    if (forced == CKR_DEVICE_REMOVED || forced == CKR_TOKEN_NOT_PRESENT) {
        *count = 0;
        return CKR_OK;
    }
    return real->C_GetSlotList(present, slots, count);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    if (real == NULL) {
        const char *path = getenv("P11_WRAP_REAL_MODULE");
        void *dl =
            dlopen(path != NULL ? path : P11_WRAP_REAL_MODULE, RTLD_NOW | RTLD_LOCAL);
        CK_C_GetFunctionList get;

        if (dl == NULL)
            return CKR_GENERAL_ERROR;
        *(void **)&get = dlsym(dl, "C_GetFunctionList");
        if (get == NULL || get(&real) != CKR_OK)
            return CKR_GENERAL_ERROR;
        wrapped = *real;
        wrapped.C_Login = wrap_login;
        wrapped.C_OpenSession = wrap_open_session;
        wrapped.C_SignInit = wrap_sign_init;
        wrapped.C_Sign = wrap_sign;
        wrapped.C_GetSlotList = wrap_get_slot_list;
    }
    *list = &wrapped;
    return CKR_OK;
}
