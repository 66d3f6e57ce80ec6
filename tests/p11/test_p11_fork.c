/*
 * fork() while other threads sign: the child must not inherit a lock that a parent
 * thread held inside the module. SoftHSM2 2.6's C_Finalize waits forever for such a lock.
 *
 * This test is built without sanitizers. GCC 12's AddressSanitizer allocator takes a
 * lock of its own on every allocation and does not release it across fork(), so under
 * ASan the child can hang in malloc whatever the layer does.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "p11.h"
#include "test_token.h"

#define SIGNING_THREADS 4
#define FORK_ROUNDS 20

typedef struct busy_signer {
    p11_key *key;
    atomic_bool *stop;
    int failures;
} busy_signer;

static bool sign_once(p11_key *key)
{
    static const unsigned char data[] = "fork test";
    unsigned char sig[512];
    size_t sig_len = sizeof(sig);

    return p11_sign(key, P11_SIGN_ECDSA_SHA256, data, sizeof(data), sig, &sig_len,
                    NULL) == 0;
}

static void *sign_until_stopped(void *arg)
{
    busy_signer *busy = arg;

    while (!atomic_load(busy->stop)) {
        if (!sign_once(busy->key))
            busy->failures++;
    }
    return NULL;
}

/* Waits for a child for at most timeout_seconds; kills it and returns -1 when it hangs. */
static int wait_child(pid_t child, int timeout_seconds)
{
    int status;

    for (int i = 0; i < timeout_seconds * 100; i++) {
        if (waitpid(child, &status, WNOHANG) == child)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        usleep(10000);
    }
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    return -1;
}

/* Forks FORK_ROUNDS times while the threads sign; returns the first round that failed,
 * or -1 when every child signed and exited in time. */
static int fork_rounds(p11_key *key)
{
    for (int round = 0; round < FORK_ROUNDS; round++) {
        pid_t child = fork();

        if (child < 0)
            return round;
        if (child == 0)
            _exit(sign_once(key) ? 0 : 1);
        if (wait_child(child, 30) != 0)
            return round;
    }
    return -1;
}

static void fork_while_threads_sign(void **state)
{
    test_token tt;
    p11_config config;
    p11_token *token = NULL;
    p11_key *key = NULL;
    p11_error err = {0};
    atomic_bool stop = false;
    busy_signer signers[SIGNING_THREADS];
    pthread_t threads[SIGNING_THREADS];
    int failed_round;

    (void)state;
    assert_int_equal(test_token_create(&tt), 0);
    config = (p11_config){.module_path = tt.module_path,
                          .token_label = TEST_TOKEN_LABEL,
                          .pin_file = tt.pin_path};
    if (p11_token_open(&config, &token, &err) != 0 ||
        p11_key_generate(token, P11_KEY_EC_P256, "fork", (const unsigned char *)"\x01", 1,
                         &key, &err) != 0)
        fail_msg("token set-up failed: %s", err.message);

    for (int i = 0; i < SIGNING_THREADS; i++) {
        signers[i] = (busy_signer){.key = key, .stop = &stop};
        assert_int_equal(pthread_create(&threads[i], NULL, sign_until_stopped, &signers[i]),
                         0);
    }
    failed_round = fork_rounds(key);

    /* Stop the threads before any assertion, because they use this frame's variables. */
    atomic_store(&stop, true);
    for (int i = 0; i < SIGNING_THREADS; i++)
        pthread_join(threads[i], NULL);

    if (failed_round >= 0)
        fail_msg("fork round %d: the child hung or failed to sign", failed_round);
    for (int i = 0; i < SIGNING_THREADS; i++)
        assert_int_equal(signers[i].failures, 0);
    p11_key_free(&key);
    p11_token_close(&token);
    test_token_destroy(&tt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fork_while_threads_sign),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
