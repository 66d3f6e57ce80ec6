/* Loading PKCS#11 modules by path, and the process-wide locks of the layer. */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p11_internal.h"

#ifndef IDSVC_DEFAULT_PKCS11_MODULE
#define IDSVC_DEFAULT_PKCS11_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#endif

void p11_softhsm_hint(const char *module_path, char *hint, size_t size)
{
    const char *path = module_path != NULL ? module_path : IDSVC_DEFAULT_PKCS11_MODULE;
    const char *slash = strrchr(path, '/');
    const char *conf = getenv("SOFTHSM2_CONF");

    hint[0] = '\0';
    if (strstr(slash != NULL ? slash + 1 : path, "softhsm") == NULL)
        return;
    if (conf == NULL)
        snprintf(hint, size,
                 " SOFTHSM2_CONF is not set, so SoftHSM2 used its default token folder");
    else
        snprintf(hint, size, " Does the tokendir of SOFTHSM2_CONF (%s) hold the token?",
                 conf);
}

static pthread_mutex_t p11_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t p11_call_lock; /* read-held during every call into a module */
static pthread_once_t p11_atfork_once = PTHREAD_ONCE_INIT;
static p11_module *p11_modules; /* every module loaded, guarded by p11_mutex */

/*
 * fork() waits until no thread is inside a slow path or inside a module call, so the
 * child inherits neither our lock nor a module's internal lock held by a thread that does
 * not exist there. SoftHSM2 2.6's C_Finalize would otherwise wait forever in the child
 * for a mutex that a parent thread held in C_Sign.
 */
static void atfork_prepare(void)
{
    pthread_mutex_lock(&p11_mutex);
    pthread_rwlock_wrlock(&p11_call_lock);
}

static void init_call_lock(void)
{
    pthread_rwlockattr_t attr;

    /* Writer preference, so a steady stream of signing threads cannot starve fork(). */
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&p11_call_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
}

static void atfork_parent(void)
{
    pthread_rwlock_unlock(&p11_call_lock);
    pthread_mutex_unlock(&p11_mutex);
}

/* glibc's rwlock records the writer's thread id, and the child's thread has a new one,
 * so the child makes the lock anew instead of unlocking it. */
static void atfork_child(void)
{
    init_call_lock();
    pthread_mutex_unlock(&p11_mutex);
}

static void register_atfork(void)
{
    init_call_lock();
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

void p11_lock(void)
{
    pthread_once(&p11_atfork_once, register_atfork);
    pthread_mutex_lock(&p11_mutex);
}

void p11_call_begin(void)
{
    pthread_once(&p11_atfork_once, register_atfork);
    pthread_rwlock_rdlock(&p11_call_lock);
}

void p11_call_end(void)
{
    pthread_rwlock_unlock(&p11_call_lock);
}

void p11_unlock(void)
{
    pthread_mutex_unlock(&p11_mutex);
}

static CK_RV initialize(CK_FUNCTION_LIST_PTR f)
{
    CK_C_INITIALIZE_ARGS args;

    /* The module may create threads and must use the operating system's locks. */
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    return f->C_Initialize(&args);
}

static int module_init(p11_module *module, p11_error *err)
{
    CK_RV rv = initialize(module->f);

    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        /* Another library of this process (GnuTLS, p11-kit) initialised it; it finalises
         * it too. */
        module->initialized = false;
    } else if (rv != CKR_OK) {
        return p11_fail_rv(err, rv, "C_Initialize",
                           "cannot initialise PKCS#11 module '%s'", module->path);
    } else {
        module->initialized = true;
    }
    module->pid = getpid();
    return 0;
}

static int module_load(const char *path, p11_module **out, p11_error *err)
{
    CK_C_GetFunctionList get_function_list;
    p11_module *module;
    CK_RV rv;

    module = calloc(1, sizeof(*module));
    if (module == NULL || (module->path = strdup(path)) == NULL) {
        free(module);
        return p11_fail(err, CKR_HOST_MEMORY, "out of memory loading '%s'", path);
    }

    /* RTLD_LOCAL keeps two modules' symbols apart. */
    module->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (module->dl == NULL) {
        p11_fail(err, CKR_OK, "cannot load PKCS#11 module '%s': %s", path, dlerror());
        goto fail;
    }
    *(void **)&get_function_list = dlsym(module->dl, "C_GetFunctionList");
    if (get_function_list == NULL) {
        p11_fail(err, CKR_OK, "'%s' is not a PKCS#11 module: it has no C_GetFunctionList",
                 path);
        goto fail;
    }
    rv = get_function_list(&module->f);
    if (rv != CKR_OK || module->f == NULL) {
        p11_fail_rv(err, rv, "C_GetFunctionList", "cannot use PKCS#11 module '%s'", path);
        goto fail;
    }
    *out = module;
    return 0;

fail:
    /* NOTE: a module that was opened is never dlclose()d; see p11_module_release. */
    free(module->path);
    free(module);
    return -1;
}

int p11_module_acquire(const char *path, p11_module **out, p11_error *err)
{
    p11_module *module;
    int ret = -1;

    if (path == NULL || path[0] == '\0')
        path = IDSVC_DEFAULT_PKCS11_MODULE;

    p11_lock();
    for (module = p11_modules; module != NULL; module = module->next) {
        if (strcmp(module->path, path) == 0)
            break;
    }
    if (module == NULL) {
        if (module_load(path, &module, err) != 0)
            goto out;
        module->next = p11_modules;
        p11_modules = module;
    }

    if (module->refs == 0 || module->pid != getpid()) {
        if (module->refs > 0) {
            /* A child of fork() opening a token on a module its parent initialised. */
            if (p11_module_after_fork(module, err) != 0)
                goto out;
        } else if (module_init(module, err) != 0) {
            goto out;
        }
    }
    module->refs++;
    *out = module;
    ret = 0;
out:
    p11_unlock();
    return ret;
}

void p11_module_release(p11_module *module)
{
    if (module == NULL)
        return;
    p11_lock();
    if (module->refs > 0 && --module->refs == 0) {
        if (module->initialized && module->pid == getpid())
            module->f->C_Finalize(NULL);
        module->initialized = false;
        /* NOTE: the module stays mapped and listed: unloading SoftHSM2 and loading it
         * again in one process is not reliable, and leak reports lose its symbols. */
    }
    p11_unlock();
}

int p11_module_after_fork(p11_module *module, p11_error *err)
{
    pid_t pid = getpid();

    if (module->pid == pid)
        return 0;
    /* The child inherits the parent's module state, which is not valid in the child, so
     * PKCS#11 requires the child to initialise the module again. No parent thread was
     * inside the module at fork(), because fork() waited for p11_call_lock. */
    module->f->C_Finalize(NULL);
    return module_init(module, err);
}
