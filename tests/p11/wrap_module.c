/*
 * A PKCS#11 module for tests: every call goes to the real SoftHSM2 module, except that it
 * counts C_Login calls and, when set to, returns CKR_DEVICE_REMOVED as if the HSM
 * were unplugged. A test in the same process reaches the controls below with dlsym on
 * this module.
 *
 * A test can also control another process that loaded the module, such as the daemon,
 * through the file that P11_WRAP_CONTROL names. Each call of the functions below reads
 * it again. Each line is "FUNCTION RV": a function (C_OpenSession, C_Login, C_SignInit,
 * C_Sign, C_FindObjectsInit, C_GetSlotList, or "all" for every one of them) and the
 * CK_RV to return instead of calling SoftHSM2, in decimal or 0x hex. C_SignInit.rsa and
 * C_SignInit.ecdsa fail the signatures of one key type only, and
 * C_FindObjectsInit.public and C_FindObjectsInit.certificate the searches for one class
 * of objects only. The line
 * "close_sessions N" closes every session of the token once for each new N, as a device
 * that lost its sessions. "swap_keys N" swaps the handles of the token's first two
 * private keys in C_SignInit, C_FindObjects, C_GetAttributeValue and C_DestroyObject, as
 * a device that came back and numbered its objects anew, and the next RSA C_SignInit
 * returns CKR_DEVICE_REMOVED. Other functions that take handles are not translated. A missing or empty file passes
 * everything through.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static atomic_ulong closed_generation;

/* Closes every session once for each new generation that the control file names. */
static void apply_close_sessions(unsigned long generation)
{
    unsigned long seen = atomic_load(&closed_generation);

    if (generation == seen ||
        !atomic_compare_exchange_strong(&closed_generation, &seen, generation))
        return;
    real->C_CloseAllSessions(atomic_load(&last_slot));
}

static atomic_ulong swapped_generation;
static atomic_ulong swap_first;  /* 0 while no handles are swapped */
static atomic_ulong swap_second;
static atomic_bool lose_next_rsa_sign; /* the next RSA C_SignInit reports a lost device */

/* Returns the handle to pass across the wrapper. The two swapped private keys trade
 * handles in both directions, and every other handle is passed unchanged. */
static CK_OBJECT_HANDLE swap_handle(CK_OBJECT_HANDLE handle)
{
    CK_OBJECT_HANDLE first = atomic_load(&swap_first);
    CK_OBJECT_HANDLE second = atomic_load(&swap_second);

    if (first == 0)
        return handle;
    if (handle == first)
        return second;
    return handle == second ? first : handle;
}

/* Swaps the handles of the token's first two private keys, once for each new
 * generation, as a device that came back and numbered its objects anew does. It also
 * makes the next RSA C_SignInit return CKR_DEVICE_REMOVED, so that the caller finds the
 * device gone. SoftHSM2 itself drops every object handle once all sessions are closed
 * and never gives an old number to another object, so the swap is the wrapper's own.
 * The search runs on a new session while the others keep the login. */
static void apply_swap_keys(unsigned long generation)
{
    CK_OBJECT_CLASS private_key = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE template[] = {{CKA_CLASS, &private_key, sizeof(private_key)}};
    CK_OBJECT_HANDLE found[2];
    CK_ULONG count = 0;
    CK_SESSION_HANDLE session;
    unsigned long seen = atomic_load(&swapped_generation);

    if (generation == seen ||
        !atomic_compare_exchange_strong(&swapped_generation, &seen, generation))
        return;
    if (real->C_OpenSession(atomic_load(&last_slot), CKF_SERIAL_SESSION, NULL, NULL,
                            &session) != CKR_OK)
        return;
    if (real->C_FindObjectsInit(session, template, 1) == CKR_OK) {
        real->C_FindObjects(session, found, 2, &count);
        real->C_FindObjectsFinal(session);
    }
    real->C_CloseSession(session);
    if (count == 2) {
        atomic_store(&swap_first, found[0]);
        atomic_store(&swap_second, found[1]);
        atomic_store(&lose_next_rsa_sign, true);
    }
}

/* The CK_RV that the control file sets for function, or CKR_OK. */
static CK_RV controlled_rv(const char *function)
{
    const char *path = getenv("P11_WRAP_CONTROL");
    char text[1024];
    char *line;
    char *save = NULL;
    CK_RV rv = CKR_OK;
    ssize_t len;
    int fd;

    if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return CKR_OK;
    len = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (len <= 0)
        return CKR_OK;
    text[len] = '\0';

    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char name[64];
        char number[32];
        unsigned long value;

        if (sscanf(line, "%63s %31s", name, number) != 2)
            continue;
        value = strtoul(number, NULL, 0);
        if (strcmp(name, "close_sessions") == 0)
            apply_close_sessions(value);
        else if (strcmp(name, "swap_keys") == 0)
            apply_swap_keys(value);
        else if (rv == CKR_OK && (strcmp(name, function) == 0 || strcmp(name, "all") == 0))
            rv = value;
    }
    return rv;
}

/* The forced return value of function: the dlsym control first, then the file. */
static CK_RV forced_for(const char *function)
{
    CK_RV forced = atomic_load(&forced_rv);

    return forced != CKR_OK ? forced : controlled_rv(function);
}

static CK_RV wrap_login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                        CK_ULONG len)
{
    CK_RV forced = forced_for("C_Login");

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
    CK_RV forced = forced_for("C_OpenSession");

    atomic_fetch_add(&open_count, 1);
    atomic_store(&last_slot, slot);
    if (forced != CKR_OK)
        return forced;
    return real->C_OpenSession(slot, flags, app, notify, session);
}

static CK_RV wrap_sign_init(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                            CK_OBJECT_HANDLE key)
{
    CK_RV forced = forced_for("C_SignInit");

    if (forced == CKR_OK && mechanism != NULL && mechanism->mechanism != CKM_ECDSA &&
        atomic_exchange(&lose_next_rsa_sign, false))
        return CKR_DEVICE_REMOVED;
    /* "C_SignInit.rsa" and "C_SignInit.ecdsa" fail one key type only, such as the
     * SAML key while the TLS key still signs. */
    if (forced == CKR_OK && mechanism != NULL)
        forced = controlled_rv(mechanism->mechanism == CKM_ECDSA ? "C_SignInit.ecdsa"
                                                                  : "C_SignInit.rsa");

    if (forced != CKR_OK)
        return forced;
    return real->C_SignInit(session, mechanism, swap_handle(key));
}

static CK_RV wrap_sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG len,
                       CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    CK_RV forced = forced_for("C_Sign");

    if (forced != CKR_OK) {
        /* A C_Sign that fails for another reason than a too small buffer ends the
         * signing operation in PKCS#11, so the real module's operation is finished into
         * a scratch buffer. Otherwise its next C_SignInit would fail with
         * CKR_OPERATION_ACTIVE. */
        CK_BYTE scratch[1024];
        CK_ULONG scratch_len = sizeof(scratch);

        real->C_Sign(session, data, len, scratch, &scratch_len);
        return forced;
    }
    return real->C_Sign(session, data, len, sig, sig_len);
}

static CK_RV wrap_get_slot_list(CK_BBOOL present, CK_SLOT_ID_PTR slots,
                                CK_ULONG_PTR count)
{
    CK_RV forced = forced_for("C_GetSlotList");

    /* An unplugged token is not listed. */
    if (forced == CKR_DEVICE_REMOVED || forced == CKR_TOKEN_NOT_PRESENT) {
        *count = 0;
        return CKR_OK;
    }
    return real->C_GetSlotList(present, slots, count);
}

/* The control name of a search for one class of objects: "C_FindObjectsInit.public" or
 * "C_FindObjectsInit.certificate", or NULL for a search of another class or of none. */
static const char *find_control(CK_ATTRIBUTE_PTR templ, CK_ULONG count)
{
    for (CK_ULONG i = 0; i < count; i++) {
        CK_OBJECT_CLASS cls;

        if (templ[i].type != CKA_CLASS || templ[i].ulValueLen != sizeof(cls))
            continue;
        memcpy(&cls, templ[i].pValue, sizeof(cls));
        if (cls == CKO_PUBLIC_KEY)
            return "C_FindObjectsInit.public";
        if (cls == CKO_CERTIFICATE)
            return "C_FindObjectsInit.certificate";
    }
    return NULL;
}

static CK_RV wrap_find_objects_init(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR templ,
                                    CK_ULONG count)
{
    CK_RV forced = forced_for("C_FindObjectsInit");
    const char *control = find_control(templ, count);

    /* Failing one class only lets the search for the private key pass, and the search
     * for its public half fail. */
    if (forced == CKR_OK && control != NULL)
        forced = controlled_rv(control);
    if (forced != CKR_OK)
        return forced;
    return real->C_FindObjectsInit(session, templ, count);
}

static CK_RV wrap_find_objects(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE_PTR objects,
                               CK_ULONG max, CK_ULONG_PTR count)
{
    CK_RV rv = real->C_FindObjects(session, objects, max, count);

    for (CK_ULONG i = 0; rv == CKR_OK && i < *count; i++)
        objects[i] = swap_handle(objects[i]);
    return rv;
}

static CK_RV wrap_get_attribute_value(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                                      CK_ATTRIBUTE_PTR templ, CK_ULONG count)
{
    return real->C_GetAttributeValue(session, swap_handle(object), templ, count);
}

static CK_RV wrap_destroy_object(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object)
{
    return real->C_DestroyObject(session, swap_handle(object));
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
        wrapped.C_FindObjectsInit = wrap_find_objects_init;
        wrapped.C_FindObjects = wrap_find_objects;
        wrapped.C_GetAttributeValue = wrap_get_attribute_value;
        wrapped.C_DestroyObject = wrap_destroy_object;
    }
    *list = &wrapped;
    return CKR_OK;
}
