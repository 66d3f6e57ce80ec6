/* The raw C_Sign loop: the module's own PKCS#11 API, one session per thread. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "bench.h"

static void *module_handle;
static CK_FUNCTION_LIST_PTR functions;
static int initialised_here; /* 1 when this file called C_Initialize and must finalise */
static CK_SESSION_HANDLE login_session;
static CK_SLOT_ID slot;
static CK_OBJECT_HANDLE key_handle;
static const bench_raw_sign *config;

typedef struct raw_state {
    CK_SESSION_HANDLE session;
    CK_MECHANISM mechanism;
    unsigned char data[1024];
    CK_ULONG data_len;
    unsigned char signature[1024];
} raw_state;

static int find_slot(const char *label)
{
    CK_SLOT_ID slots[64];
    CK_ULONG count = 64;
    CK_TOKEN_INFO info;
    size_t label_len = strlen(label);

    if (functions->C_GetSlotList(CK_TRUE, slots, &count) != CKR_OK)
        return -1;
    for (CK_ULONG i = 0; i < count; i++) {
        if (functions->C_GetTokenInfo(slots[i], &info) != CKR_OK)
            continue;
        /* Token labels are padded with spaces to 32 bytes. */
        if (label_len <= sizeof(info.label) &&
            memcmp(info.label, label, label_len) == 0 &&
            (label_len == sizeof(info.label) || info.label[label_len] == ' ')) {
            slot = slots[i];
            return 0;
        }
    }
    return -1;
}

static int find_key(CK_SESSION_HANDLE session, const char *label)
{
    CK_OBJECT_CLASS class = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE template[] = {
        {CKA_CLASS, &class, sizeof(class)},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    CK_ULONG found = 0;
    CK_RV rv;

    if (functions->C_FindObjectsInit(session, template, 2) != CKR_OK)
        return -1;
    rv = functions->C_FindObjects(session, &key_handle, 1, &found);
    functions->C_FindObjectsFinal(session);
    return rv == CKR_OK && found == 1 ? 0 : -1;
}

/*
 * Opens the module on its own PKCS#11 API. When idsvc's layer has initialised and logged
 * in to the same module in this process already, the module is shared: both calls then
 * answer "already" and the raw loop uses sessions of its own beside the layer's.
 */
int bench_raw_open(bench_raw_sign *raw)
{
    CK_C_GetFunctionList get_function_list;
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_RV rv;

    config = raw;
    module_handle = dlopen(raw->module_path, RTLD_NOW | RTLD_LOCAL);
    if (module_handle == NULL)
        return -1;
    get_function_list = (CK_C_GetFunctionList)dlsym(module_handle, "C_GetFunctionList");
    if (get_function_list == NULL || get_function_list(&functions) != CKR_OK)
        return -1;
    rv = functions->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
        return -1;
    initialised_here = rv == CKR_OK;
    if (find_slot(raw->token_label) != 0)
        return -1;

    if (functions->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                 &login_session) != CKR_OK)
        return -1;
    /* The login holds for every session of this application until C_Finalize. */
    rv = functions->C_Login(login_session, CKU_USER, (CK_UTF8CHAR_PTR)raw->pin,
                            strlen(raw->pin));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
        return -1;
    return find_key(login_session, raw->key_label);
}

void bench_raw_close(void)
{
    if (functions != NULL) {
        functions->C_CloseSession(login_session);
        if (initialised_here)
            functions->C_Finalize(NULL);
    }
    functions = NULL;
    initialised_here = 0;
    /* The module stays loaded: idsvc's layer may be using it. */
}

static void *raw_setup(void *shared)
{
    raw_state *state = calloc(1, sizeof(*state));

    (void)shared;
    if (state == NULL)
        return NULL;
    if (functions->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &state->session) !=
        CKR_OK) {
        free(state);
        return NULL;
    }
    state->mechanism.mechanism = config->ecdsa ? CKM_ECDSA : CKM_SHA256_RSA_PKCS;
    /* ECDSA signs a SHA-256 digest; RSA hashes a SignedInfo-sized input itself. */
    state->data_len = config->ecdsa ? 32 : (CK_ULONG)config->data_len;
    memset(state->data, 0x5a, sizeof(state->data));
    return state;
}

static int raw_run(void *opaque)
{
    raw_state *state = opaque;
    CK_ULONG sig_len = sizeof(state->signature);

    if (functions->C_SignInit(state->session, &state->mechanism, key_handle) != CKR_OK)
        return -1;
    if (functions->C_Sign(state->session, state->data, state->data_len, state->signature,
                          &sig_len) != CKR_OK)
        return -1;
    return 0;
}

static void raw_teardown(void *opaque)
{
    raw_state *state = opaque;

    functions->C_CloseSession(state->session);
    free(state);
}

const bench_op bench_raw_sign_op = {
    .name = "raw_sign",
    .setup = raw_setup,
    .run = raw_run,
    .teardown = raw_teardown,
};
