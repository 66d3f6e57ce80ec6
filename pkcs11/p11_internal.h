/*
 * Internals of the HSM layer shared by its files; nothing outside pkcs11/ includes this.
 *
 * Locking: one process-wide mutex (p11_lock) guards the slow paths: loading modules,
 * opening a thread's session, logging in, recovering after fork() or a lost device.
 * The signing path takes only a shared read lock (p11_call_begin), which fork() takes for
 * writing: it reads the thread's session with pthread_getspecific and compares two
 * counters.
 */
#ifndef IDSVC_P11_INTERNAL_H
#define IDSVC_P11_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "p11.h"

#define P11_DEFAULT_MAX_RECONNECTS 3u
#define P11_PIN_MAX 256

#define P11_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* ---- errors (p11_error.c) ---- */

void p11_error_clear(p11_error *err);
int p11_fail(p11_error *err, CK_RV rv, const char *format, ...) P11_PRINTF(3, 4);
/* "what: function returned CKR_NAME"; always returns -1. */
int p11_fail_rv(p11_error *err, CK_RV rv, const char *function, const char *format, ...)
    P11_PRINTF(4, 5);

/* ---- the process-wide lock (p11_module.c) ---- */

void p11_lock(void);
void p11_unlock(void);

/* Bracket every call into a module made outside p11_lock, so fork() can wait for it. */
void p11_call_begin(void);
void p11_call_end(void);

/* ---- modules (p11_module.c) ---- */

typedef struct p11_module {
    char *path;
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    unsigned refs;
    bool initialized; /* by this layer, so it finalises it too */
    pid_t pid;        /* the process that initialised it */
    struct p11_module *next;
} p11_module;

/* Loads and initialises a module, or takes another reference to a loaded one. */
int p11_module_acquire(const char *path, p11_module **out, p11_error *err);
void p11_module_release(p11_module *module);
/* In a forked child: finalise and initialise again, once per module. Caller holds the
 * lock. */
int p11_module_after_fork(p11_module *module, p11_error *err);

/* ---- tokens and sessions (p11_token.c, p11_session.c) ---- */

typedef struct p11_thread_session {
    p11_token *token;
    CK_SESSION_HANDLE handle;
    unsigned epoch; /* 0: no usable session */
    struct p11_thread_session *prev;
    struct p11_thread_session *next;
} p11_thread_session;

struct p11_token {
    p11_module *module;
    CK_FUNCTION_LIST_PTR f;
    CK_SLOT_ID slot;
    CK_TOKEN_INFO info;
    char label[33]; /* trimmed copies of info's fields, for messages */
    char serial[17];
    char *want_label; /* how the token was chosen, to find it again */
    char *want_serial;
    char *pin; /* NULL: no login; wiped and freed after a PIN error */
    size_t pin_len;
    CK_RV pin_failure; /* the C_Login error that made the PIN unusable */
    unsigned max_reconnects;
    pthread_key_t session_key;
    atomic_uint epoch;        /* thread sessions of another epoch are reopened */
    atomic_uint handle_epoch; /* object handles of another epoch are searched again */
    atomic_int pid;           /* the process these sessions belong to */
    p11_thread_session *sessions;
};

/* Chooses the slot by label and serial; fills slot, info, label and serial. Caller holds
 * the lock or owns the token alone. */
int p11_token_find_slot(p11_token *token, p11_error *err);

/* Trims the space padding of a PKCS#11 text field into a C string. */
void p11_trim_field(char *out, const CK_UTF8CHAR *field, size_t size);

/* Checks a token label or serial number given by the caller against its padded field of
 * field_size bytes: 1 to field_size bytes, and no trailing space, because the padding
 * makes "a " and "a" the same token. what names the value in the message. */
int p11_check_field(const char *value, size_t field_size, const char *what, p11_error *err);

/* A step run on the thread's session; sets *function to the call that failed. */
typedef CK_RV (*p11_session_fn)(p11_token *token, CK_SESSION_HANDLE session, void *arg,
                                const char **function);

/* Runs fn on this thread's session. When the session or device is lost, reopens it, logs
 * in again and runs fn again, at most token->max_reconnects times. On failure err
 * contains "what name: function returned CKR_...". */
int p11_session_call(p11_token *token, p11_session_fn fn, void *arg, const char *what,
                     const char *name, p11_error *err);

/* Opens the first session and logs in (used by p11_token_open). */
int p11_session_first(p11_token *token, p11_error *err);
/* Closes every session of the token; the token is being closed. Caller holds the lock. */
void p11_session_close_all(p11_token *token);

/* ---- objects (p11_object.c) ---- */

/* Finds up to max objects matching the template; *count may be max when there are more.
 */
int p11_object_find(p11_token *token, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                    CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count, p11_error *err);
/* Finds every matching object; the caller frees *out. */
int p11_object_find_all(p11_token *token, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                        CK_OBJECT_HANDLE **out, CK_ULONG *count, p11_error *err);
/* Reads one attribute of any length; *value is malloced (NULL and 0 when empty or absent
 * and absent_ok). */
int p11_object_get(p11_token *token, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type,
                   unsigned char **value, size_t *len, bool absent_ok, p11_error *err);
/* Reads fixed-size attributes in one call; an absent one gets ulValueLen
 * CK_UNAVAILABLE_INFORMATION. */
int p11_object_get_fixed(p11_token *token, CK_OBJECT_HANDLE object, CK_ATTRIBUTE *tmpl,
                         CK_ULONG n, p11_error *err);
int p11_object_destroy(p11_token *token, CK_OBJECT_HANDLE object, p11_error *err);
int p11_object_create(p11_token *token, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                      CK_OBJECT_HANDLE *out, p11_error *err);

/* ---- keys (p11_key.c, p11_public.c) ---- */

struct p11_key {
    p11_token *token;
    p11_key_type type;
    atomic_ulong handle;      /* the private key object */
    atomic_uint handle_epoch; /* token->handle_epoch when handle was found */
    pthread_mutex_t refresh_lock;
    char *label;
    unsigned char *id;
    size_t id_len;
    EVP_PKEY *public;
    EVP_MD *sha256; /* fetched once, so signing does no name lookup */
    EVP_MD *sha384;
    size_t signature_size;
};

/* Builds a key from the handle of a private key object. */
int p11_key_from_handle(p11_token *token, CK_OBJECT_HANDLE handle, p11_key **out,
                        p11_error *err);
/* Searches the private key again by its label and id. */
int p11_key_refresh(p11_key *key, p11_error *err);

/* Fills tmpl, of at least 2 entries, with the search template of the key's other
 * objects of class cls. They are the objects with its CKA_ID, or with its label when it
 * has no id, as the layer finds a public half and a certificate. Returns the number of
 * entries. */
CK_ULONG p11_key_companion_template(const p11_key *key, CK_OBJECT_CLASS *cls,
                                    CK_ATTRIBUTE *tmpl);

/* Reads the public half of a private key object (p11_public.c). */
EVP_PKEY *p11_public_from_object(p11_token *token, CK_OBJECT_HANDLE private_key,
                                 const unsigned char *id, size_t id_len,
                                 const char *label, p11_error *err);
/* Reads the key that a public key object or a certificate object (cls) holds. Returns
 * NULL for another class or an object that does not parse. */
EVP_PKEY *p11_public_of_object(p11_token *token, CK_OBJECT_HANDLE object,
                               CK_OBJECT_CLASS cls, p11_error *err);
/* The key type of a public key, or -1 when this layer does not support it. */
int p11_public_key_type(const EVP_PKEY *pkey);

/* Formats a pkcs11: URI for an object on the token (p11_key.c). */
char *p11_format_uri(const p11_token *token, CK_OBJECT_CLASS cls, const char *label,
                     const unsigned char *id, size_t id_len);

/* Hex of bytes, lower case; caller frees. */
char *p11_hex(const unsigned char *data, size_t len);

#endif
