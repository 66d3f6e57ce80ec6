/*
 * One session per thread, login, fork detection and recovery from lost sessions.
 *
 * The fast path (p11_session_get) compares the process id with the token's and the
 * thread's session epoch with the token's epoch; both are plain loads. Everything else
 * happens under the layer's lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "p11_internal.h"

/* The PIN is unusable: retrying it could lock the token. */
static bool is_pin_failure(CK_RV rv)
{
    return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED ||
           rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE;
}

/* The module lost the session or the device: reopening may help. */
static bool is_lost(CK_RV rv)
{
    return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
           rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
           rv == CKR_USER_NOT_LOGGED_IN;
}

static bool is_device_lost(CK_RV rv)
{
    return rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT;
}

static void forget_pin(p11_token *token, CK_RV rv)
{
    token->pin_failure = rv;
    if (token->pin != NULL)
        OPENSSL_cleanse(token->pin, token->pin_len);
    free(token->pin);
    token->pin = NULL;
    token->pin_len = 0;
}

/* Logs the application in on the token unless a session of it already did. */
static int login(p11_token *token, CK_SESSION_HANDLE session, p11_error *err)
{
    CK_SESSION_INFO info;
    CK_RV rv;

    if (token->pin == NULL) {
        if (token->pin_failure != CKR_OK)
            return p11_fail(
                err, token->pin_failure,
                "login to token '%s' is not tried again: the PIN failed before "
                "with %s",
                token->label, p11_rv_name(token->pin_failure));
        return 0; /* opened without a PIN */
    }

    rv = token->f->C_GetSessionInfo(session, &info);
    if (rv != CKR_OK)
        return p11_fail_rv(err, rv, "C_GetSessionInfo",
                           "cannot read the session state of "
                           "token '%s'",
                           token->label);
    if (info.state == CKS_RO_USER_FUNCTIONS || info.state == CKS_RW_USER_FUNCTIONS)
        return 0;

    rv = token->f->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)token->pin,
                           (CK_ULONG)token->pin_len);
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
        return 0;
    /* A wrong PIN is never tried twice: forget it so no later reconnect repeats it. */
    if (is_pin_failure(rv))
        forget_pin(token, rv);
    return p11_fail_rv(err, rv, "C_Login", "login to token '%s' failed", token->label);
}

/* After fork(): the child initialises the module again and drops the parent's sessions,
 * all but this thread's record, which is reused. */
static int after_fork(p11_token *token, p11_error *err)
{
    p11_thread_session *mine = pthread_getspecific(token->session_key);
    p11_thread_session *ts;
    p11_thread_session *next;

    if (p11_module_after_fork(token->module, err) != 0)
        return -1;

    for (ts = token->sessions; ts != NULL; ts = next) {
        next = ts->next;
        if (ts != mine)
            free(ts); /* its thread does not exist in this process */
    }
    token->sessions = mine;
    if (mine != NULL) {
        mine->prev = NULL;
        mine->next = NULL;
        mine->epoch = 0;
    }
    atomic_fetch_add(&token->epoch, 1);
    atomic_fetch_add(&token->handle_epoch, 1);
    atomic_store(&token->pid, (int)getpid());

    /* Slot numbers may differ after a new C_Initialize. */
    return p11_token_find_slot(token, err);
}

/* Opens this thread's session and logs in. Caller holds the lock. */
static int open_locked(p11_token *token, CK_SESSION_HANDLE *out, p11_error *err)
{
    p11_thread_session *ts;
    CK_SESSION_HANDLE session;
    unsigned epoch;
    CK_RV rv;

    if (atomic_load(&token->pid) != (int)getpid() && after_fork(token, err) != 0)
        return -1;

    epoch = atomic_load(&token->epoch);
    ts = pthread_getspecific(token->session_key);
    if (ts != NULL && ts->epoch == epoch) {
        *out = ts->handle;
        return 0;
    }
    if (ts == NULL) {
        ts = calloc(1, sizeof(*ts));
        if (ts == NULL)
            return p11_fail(err, CKR_HOST_MEMORY, "out of memory");
        ts->token = token;
        if (pthread_setspecific(token->session_key, ts) != 0) {
            free(ts);
            return p11_fail(err, CKR_HOST_MEMORY, "cannot store the thread's session");
        }
        ts->next = token->sessions;
        if (ts->next != NULL)
            ts->next->prev = ts;
        token->sessions = ts;
    }

    rv = token->f->C_OpenSession(token->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                                 NULL, &session);
    if (rv != CKR_OK)
        return p11_fail_rv(err, rv, "C_OpenSession",
                           "cannot open a session on token '%s'", token->label);
    if (login(token, session, err) != 0) {
        token->f->C_CloseSession(session);
        return -1;
    }
    ts->handle = session;
    ts->epoch = epoch;
    *out = session;
    return 0;
}

/* The signing path: a pthread_getspecific and two comparisons when nothing changed. */
static inline int session_get(p11_token *token, CK_SESSION_HANDLE *out, p11_error *err)
{
    p11_thread_session *ts;
    int ret;

    if (atomic_load_explicit(&token->pid, memory_order_acquire) == (int)getpid()) {
        ts = pthread_getspecific(token->session_key);
        if (ts != NULL &&
            ts->epoch == atomic_load_explicit(&token->epoch, memory_order_acquire)) {
            *out = ts->handle;
            return 0;
        }
    }
    p11_lock();
    ret = open_locked(token, out, err);
    p11_unlock();
    return ret;
}

int p11_session_first(p11_token *token, p11_error *err)
{
    CK_SESSION_HANDLE session;

    return session_get(token, &session, err);
}

/* Forgets this thread's session after rv reported it lost, so the next call opens one. */
static void drop_session(p11_token *token, CK_RV rv)
{
    p11_thread_session *ts;
    p11_error ignored;

    p11_lock();
    ts = pthread_getspecific(token->session_key);
    if (ts != NULL && ts->epoch != 0) {
        /* A closed or invalid handle is not closed again: the module may have given the
         * number to another thread's new session. A session that lost its login is still
         * ours, and is closed. */
        if (rv == CKR_USER_NOT_LOGGED_IN)
            token->f->C_CloseSession(ts->handle);
        ts->epoch = 0;
    }
    /* The token may be back in another slot. */
    if (is_device_lost(rv))
        p11_token_find_slot(token, &ignored);
    /* SoftHSM2 2.6 drops every object handle once the application has no session left,
     * and a device that comes back may number its objects anew, even giving a key's old
     * number to another key. So every key is searched again before it signs (sign_step
     * compares the epochs). */
    atomic_fetch_add(&token->handle_epoch, 1);
    p11_unlock();
}

static void backoff(unsigned attempt)
{
    struct timespec delay;
    unsigned ms;

    if (attempt <= 1)
        return; /* the first reconnect is at once: a closed session comes back at once */
    ms = 50u << (attempt - 2 < 5 ? attempt - 2 : 5);
    if (ms > 1000)
        ms = 1000;
    delay.tv_sec = ms / 1000;
    delay.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&delay, &delay) != 0 && errno == EINTR)
        ;
}

int p11_session_call(p11_token *token, p11_session_fn fn, void *arg, const char *what,
                     const char *name, p11_error *err)
{
    unsigned attempt = 0;

    for (;;) {
        const char *function = "C_OpenSession";
        CK_SESSION_HANDLE session;
        CK_RV rv;

        if (session_get(token, &session, err) != 0) {
            rv = err != NULL ? err->rv : CKR_GENERAL_ERROR;
            if (!is_lost(rv))
                return -1;
        } else {
            p11_call_begin();
            rv = fn(token, session, arg, &function);
            p11_call_end();
            if (rv == CKR_OK)
                return 0;
            if (!is_lost(rv))
                return p11_fail_rv(err, rv, function, "%s%s%s%s", what,
                                   name != NULL ? " '" : "", name != NULL ? name : "",
                                   name != NULL ? "'" : "");
        }

        if (attempt >= token->max_reconnects)
            return p11_fail(err, rv,
                            "HSM token '%s' is still unavailable after %u reconnect "
                            "attempts: %s returned %s while %s%s%s%s",
                            token->label, attempt, function, p11_rv_name(rv), what,
                            name != NULL ? " '" : "", name != NULL ? name : "",
                            name != NULL ? "'" : "");
        attempt++;
        drop_session(token, rv);
        backoff(attempt);
    }
}

void p11_session_close_all(p11_token *token)
{
    p11_thread_session *ts;
    p11_thread_session *next;
    bool same_process = atomic_load(&token->pid) == (int)getpid();

    for (ts = token->sessions; ts != NULL; ts = next) {
        next = ts->next;
        if (same_process && ts->epoch != 0 && ts->epoch == atomic_load(&token->epoch))
            token->f->C_CloseSession(ts->handle);
        free(ts);
    }
    token->sessions = NULL;
}
