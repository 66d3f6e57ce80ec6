/*
 * Login, sessions per thread, fork() and reconnects, through a module that wraps SoftHSM2
 * (wrap_module.c): it counts C_Login and C_OpenSession calls and can return
 * CKR_DEVICE_REMOVED as if the HSM were gone, while every other call reaches the real
 * token.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "p11_test_util.h"

static test_token token_dir;

static struct {
    unsigned (*login_count)(void);
    unsigned (*open_count)(void);
    void (*reset_counts)(void);
    void (*force)(CK_RV rv);
    void (*force_login)(CK_RV rv);
    CK_RV (*close_all_sessions)(void);
} wrap;

static int setup(void **state)
{
    (void)state;
    return test_token_create(&token_dir);
}

static int teardown(void **state)
{
    (void)state;
    test_token_destroy(&token_dir);
    return 0;
}

/* Reaches the wrapper's controls; the layer must have loaded it first. */
static void bind_wrapper(void)
{
    void *dl = dlopen(P11_TEST_WRAP_MODULE, RTLD_NOW | RTLD_NOLOAD);

    assert_non_null(dl);
    *(void **)&wrap.login_count = dlsym(dl, "p11_wrap_login_count");
    *(void **)&wrap.open_count = dlsym(dl, "p11_wrap_open_count");
    *(void **)&wrap.reset_counts = dlsym(dl, "p11_wrap_reset_counts");
    *(void **)&wrap.force = dlsym(dl, "p11_wrap_force");
    *(void **)&wrap.force_login = dlsym(dl, "p11_wrap_force_login");
    *(void **)&wrap.close_all_sessions = dlsym(dl, "p11_wrap_close_all_sessions");
    assert_non_null(wrap.login_count);
    assert_non_null(wrap.force);
    assert_non_null(wrap.close_all_sessions);
    dlclose(dl);
}

static p11_token *open_wrapped(unsigned max_reconnects)
{
    p11_config config = p11_test_config(&token_dir, P11_TEST_WRAP_MODULE);
    p11_token *token = NULL;
    p11_error err;

    config.max_reconnects = max_reconnects;
    if (p11_token_open(&config, &token, &err) != 0)
        fail_msg("p11_token_open: %s", err.message);
    bind_wrapper();
    return token;
}

/* Finds the P-256 test key, making it on first use. */
static p11_key *test_key(p11_token *token)
{
    p11_key *key = NULL;
    p11_error err;

    if (p11_key_find(token, "pkcs11:object=session-key;type=private", &key, &err) == 0)
        return key;
    if (p11_key_generate(token, P11_KEY_EC_P256, "session-key", NULL, 0, &key, &err) != 0)
        fail_msg("p11_key_generate: %s", err.message);
    return key;
}

static bool sign_ok(p11_key *key, p11_error *err)
{
    static const unsigned char data[] = "data to sign";
    unsigned char sig[64];
    size_t sig_len = sizeof(sig);
    EVP_PKEY *pkey;
    bool ok;

    if (p11_sign(key, P11_SIGN_ECDSA_SHA256, data, sizeof(data), sig, &sig_len, err) != 0)
        return false;
    pkey = p11_key_get_public(key, err);
    ok = pkey != NULL && sig_len == 64 &&
         p11_test_verify(pkey, P11_SIGN_ECDSA_SHA256, data, sizeof(data), sig, sig_len);
    EVP_PKEY_free(pkey);
    return ok;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_pin_file_mode_rejected(void **state)
{
    char path[PATH_MAX + 16];
    char pin[64];
    p11_config config = p11_test_config(&token_dir, NULL);
    p11_token *token = NULL;
    p11_error err;

    (void)state;
    snprintf(path, sizeof(path), "%s/open-pin", token_dir.dir);
    write_file(path, TEST_TOKEN_PIN "\n", 0644);

    assert_int_equal(p11_pin_read_file(path, pin, sizeof(pin), &err), -1);
    assert_non_null(strstr(err.message, "mode 0644"));
    assert_non_null(strstr(err.message, "group or others"));
    assert_string_equal(pin, "");

    config.pin_file = path;
    assert_int_equal(p11_token_open(&config, &token, &err), -1);
    assert_null(token);
    assert_non_null(strstr(err.message, path));

    /* Mode 0600 is accepted and the newline is not part of the PIN. */
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(p11_pin_read_file(path, pin, sizeof(pin), &err), 0);
    assert_string_equal(pin, TEST_TOKEN_PIN);
}

static void test_pin_from_environment(void **state)
{
    p11_config config = p11_test_config(&token_dir, NULL);
    p11_token *token = NULL;
    p11_error err;

    (void)state;
    config.pin_file = NULL;
    config.pin_env = "IDSVC_P11_TEST_PIN";
    unsetenv("IDSVC_P11_TEST_PIN");
    assert_int_equal(p11_token_open(&config, &token, &err), -1);
    assert_non_null(strstr(err.message, "IDSVC_P11_TEST_PIN"));

    setenv("IDSVC_P11_TEST_PIN", TEST_TOKEN_PIN, 1);
    if (p11_token_open(&config, &token, &err) != 0)
        fail_msg("p11_token_open: %s", err.message);
    p11_token_close(&token);
    assert_null(token);
    unsetenv("IDSVC_P11_TEST_PIN");
}

static void test_wrong_pin_one_login(void **state)
{
    char path[PATH_MAX + 16];
    p11_config config = p11_test_config(&token_dir, P11_TEST_WRAP_MODULE);
    p11_token *good;
    p11_token *token = NULL;
    p11_error err;

    (void)state;
    /* Load the wrapper once to reach its counters, then close it so that no session stays
     * logged in. */
    good = open_wrapped(0);
    p11_token_close(&good);
    wrap.reset_counts();

    snprintf(path, sizeof(path), "%s/wrong-pin", token_dir.dir);
    write_file(path, "not-the-pin\n", 0600);
    config.pin_file = path;
    assert_int_equal(p11_token_open(&config, &token, &err), -1);
    assert_null(token);
    assert_int_equal(err.rv, CKR_PIN_INCORRECT);
    assert_non_null(strstr(err.message, "CKR_PIN_INCORRECT"));
    assert_int_equal(wrap.login_count(), 1);
}

/* Destroys the public key object of the key with this label, through the real module,
 * so that the key's public half can come only from a certificate. */
static void destroy_public_key_object(const char *label)
{
    CK_FUNCTION_LIST_PTR f = p11_test_functions(token_dir.module_path);
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_LABEL, (void *)label, strlen(label)}};
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE object;
    CK_ULONG count = 0;

    assert_non_null(f);
    assert_int_equal(f->C_OpenSession(p11_test_slot(f, TEST_TOKEN_LABEL),
                                      CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                      &session),
                     CKR_OK);
    assert_int_equal(f->C_FindObjectsInit(session, find, 2), CKR_OK);
    assert_int_equal(f->C_FindObjects(session, &object, 1, &count), CKR_OK);
    f->C_FindObjectsFinal(session);
    assert_int_equal(count, 1);
    assert_int_equal(f->C_DestroyObject(session, object), CKR_OK);
    f->C_CloseSession(session);
}

/* A failed search for the certificate of a key without a public key object reports the
 * module's error, not "no public key object or certificate". */
static void test_public_half_search_failure(void **state)
{
    char path[PATH_MAX + 16];
    p11_token *token = open_wrapped(0);
    p11_key *key = NULL;
    p11_error err;

    (void)state;
    if (p11_key_generate(token, P11_KEY_EC_P256, "lonely-key", NULL, 0, &key, &err) != 0)
        fail_msg("p11_key_generate: %s", err.message);
    p11_key_free(&key);
    destroy_public_key_object("lonely-key");

    snprintf(path, sizeof(path), "%s/wrap-control", token_dir.dir);
    write_file(path, "C_FindObjectsInit.certificate 0x30\n", 0600);
    setenv("P11_WRAP_CONTROL", path, 1);
    assert_int_equal(p11_key_find(token, "pkcs11:object=lonely-key;type=private", &key,
                                  &err),
                     -1);
    unsetenv("P11_WRAP_CONTROL");
    assert_null(key);
    assert_int_equal(err.rv, CKR_DEVICE_ERROR);
    if (strstr(err.message, "CKR_DEVICE_ERROR") == NULL)
        fail_msg("the module's failure is not the reason: %s", err.message);

    /* Without the failure, the key has no public half at all. */
    assert_int_equal(p11_key_find(token, "pkcs11:object=lonely-key;type=private", &key,
                                  &err),
                     -1);
    assert_non_null(strstr(err.message, "no public key object or certificate"));
    p11_token_close(&token);
}

typedef struct signer {
    p11_key *key;
    int rounds;
    int good;
    char message[256];
} signer;

static void *sign_loop(void *arg)
{
    signer *s = arg;
    p11_error err;

    for (int i = 0; i < s->rounds; i++) {
        if (sign_ok(s->key, &err))
            s->good++;
        else
            snprintf(s->message, sizeof(s->message), "%s", err.message);
    }
    return NULL;
}

static void test_threads_sign_on_own_sessions(void **state)
{
    p11_token *token = open_wrapped(0);
    p11_key *key = test_key(token);
    signer signers[2] = {{key, 300, 0, ""}, {key, 300, 0, ""}};
    pthread_t threads[2];
    unsigned opened;

    (void)state;
    wrap.reset_counts();
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, sign_loop, &signers[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    for (int i = 0; i < 2; i++) {
        if (signers[i].good != signers[i].rounds)
            fail_msg("thread %d: %d of %d good: %s", i, signers[i].good,
                     signers[i].rounds, signers[i].message);
    }

    /* Each thread opened one session and needed no second login. */
    opened = wrap.open_count();
    assert_int_equal(opened, 2);
    assert_int_equal(wrap.login_count(), 0);
    p11_key_free(&key);
    p11_token_close(&token);
}

static void test_fork_child_signs(void **state)
{
    p11_token *token = open_wrapped(0);
    p11_key *key = test_key(token);
    p11_error err;
    int status = -1;
    pid_t child;

    (void)state;
    assert_true(sign_ok(key, &err));
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* The child initialises the module again, logs in and signs. */
        bool ok = sign_ok(key, &err) && sign_ok(key, &err);

        if (!ok)
            fprintf(stderr, "child: %s\n", err.message);
        p11_key_free(&key);
        p11_token_close(&token);
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    if (!sign_ok(key, &err))
        fail_msg("parent after fork: %s", err.message);
    p11_key_free(&key);
    p11_token_close(&token);
}

static void test_lost_sessions_reopened(void **state)
{
    p11_token *token = open_wrapped(0);
    p11_key *key = test_key(token);
    p11_error err;

    (void)state;
    assert_true(sign_ok(key, &err));
    wrap.reset_counts();

    /* Every session closes behind the layer's back, and the login with them. */
    assert_int_equal(wrap.close_all_sessions(), CKR_OK);
    if (!sign_ok(key, &err))
        fail_msg("after C_CloseAllSessions: %s", err.message);
    assert_int_equal(wrap.open_count(), 1);
    assert_int_equal(wrap.login_count(), 1);
    p11_key_free(&key);
    p11_token_close(&token);
}

static void test_device_gone_bounded(void **state)
{
    p11_token *token = open_wrapped(3);
    p11_key *key = test_key(token);
    p11_error err;

    (void)state;
    assert_true(sign_ok(key, &err));
    wrap.reset_counts();

    wrap.force(CKR_DEVICE_REMOVED);
    assert_false(sign_ok(key, &err));
    wrap.force(CKR_OK);
    assert_int_equal(err.rv, CKR_DEVICE_REMOVED);
    assert_non_null(strstr(err.message, "still unavailable after 3 reconnect attempts"));
    assert_non_null(strstr(err.message, "CKR_DEVICE_REMOVED"));
    assert_non_null(strstr(err.message, TEST_TOKEN_LABEL));
    /* One new session tried per reconnect, and no more. */
    assert_int_equal(wrap.open_count(), 3);

    /* The HSM is back: the next call reconnects. */
    if (!sign_ok(key, &err))
        fail_msg("after the device came back: %s", err.message);
    p11_key_free(&key);
    p11_token_close(&token);
}

static void test_no_pin_retry_after_reconnect(void **state)
{
    p11_token *token = open_wrapped(3);
    p11_key *key = test_key(token);
    p11_error err;

    (void)state;
    assert_true(sign_ok(key, &err));

    /* The sessions vanish and the PIN no longer works: one C_Login, no retry. */
    wrap.reset_counts();
    wrap.force_login(CKR_PIN_INCORRECT);
    assert_int_equal(wrap.close_all_sessions(), CKR_OK);
    assert_false(sign_ok(key, &err));
    assert_int_equal(err.rv, CKR_PIN_INCORRECT);
    assert_int_equal(wrap.login_count(), 1);

    /* Later calls do not try the PIN again either, even once the token would take it. */
    wrap.force_login(CKR_OK);
    assert_false(sign_ok(key, &err));
    assert_int_equal(err.rv, CKR_PIN_INCORRECT);
    assert_non_null(strstr(err.message, "not tried again"));
    assert_int_equal(wrap.login_count(), 1);
    p11_key_free(&key);
    p11_token_close(&token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pin_file_mode_rejected),
        cmocka_unit_test(test_pin_from_environment),
        cmocka_unit_test(test_wrong_pin_one_login),
        cmocka_unit_test(test_threads_sign_on_own_sessions),
        cmocka_unit_test(test_fork_child_signs),
        cmocka_unit_test(test_lost_sessions_reopened),
        cmocka_unit_test(test_device_gone_bounded),
        cmocka_unit_test(test_no_pin_retry_after_reconnect),
        cmocka_unit_test(test_public_half_search_failure),
    };

    return cmocka_run_group_tests_name("p11_session", tests, setup, teardown);
}
