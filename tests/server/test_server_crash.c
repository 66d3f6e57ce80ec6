/*
 * Durability of acknowledged writes: several client threads issue credentials over
 * their own keep-alive connections, the daemon is killed with SIGKILL in the middle of
 * the burst, and after a restart every credential whose 201 arrived must be found.
 * Each thread records a credential id as soon as its 201 has been read in full, so the
 * list contains exactly the acknowledged issuances. SIGKILL ends the process, not the
 * machine, so this shows that a 201 is sent only after the commit; power loss is not
 * simulated.
 */
#include <setjmp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server_harness.h"

#define CLIENT_THREADS 6
#define MAX_IDS_PER_THREAD 4096

static harness server;

static const char issue_body[] =
    "{\"subject\":\"SG-S7654321A\",\"audience\":\"" RP_ENTITY_ID "\","
    "\"assurance_level\":\"substantial\",\"validity_seconds\":3600,"
    "\"attributes\":{\"given_name\":\"Wei Ling\",\"family_name\":\"Chen\"}}";

typedef struct issuer_thread {
    pthread_t thread;
    atomic_bool *stop;
    char (*ids)[65];
    size_t acknowledged;
    size_t interrupted;        /* requests sent whose response never arrived in full */
    size_t failed_before_kill; /* complete responses other than 201, which must not occur */
    long first_bad_status;
} issuer_thread;

static int start_server(void **state)
{
    (void)state;
    if (harness_setup(&server) != 0 || harness_start(&server) != 0) {
        harness_teardown(&server);
        return -1;
    }
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    harness_teardown(&server);
    return 0;
}

/* Issues credentials until stop is set. A connection that breaks is opened again, so
 * the burst continues up to the kill. */
static void *issue_loop(void *arg)
{
    issuer_thread *t = arg;

    while (!atomic_load(t->stop)) {
        raw_client *client = NULL;

        if (raw_connect(&server, "NORMAL", CLIENT_ISSUER, &client) != 0) {
            raw_close(&client);
            usleep(5 * 1000);
            continue;
        }
        while (!atomic_load(t->stop) && t->acknowledged < MAX_IDS_PER_THREAD) {
            http_result result;
            const char *id;

            if (raw_request(client, "POST", "/v1/credentials", issue_body, &result) != 0) {
                t->interrupted++; /* the daemon went away mid-request */
                break;
            }
            id = json_string_value(json_object_get(result.json, "credential_id"));
            if (result.status == 201 && id != NULL) {
                snprintf(t->ids[t->acknowledged], sizeof(t->ids[0]), "%s", id);
                t->acknowledged++;
            } else if (result.json != NULL) {
                /* A complete response that is not 201. A response cut short by the kill
                 * has no complete JSON body and is not counted. */
                if (t->failed_before_kill++ == 0)
                    t->first_bad_status = result.status;
            }
            http_result_clear(&result);
        }
        raw_close(&client);
    }
    return NULL;
}

static size_t count_credentials_found(issuer_thread *threads)
{
    size_t found = 0;

    for (int i = 0; i < CLIENT_THREADS; i++) {
        for (size_t k = 0; k < threads[i].acknowledged; k++) {
            char path[128];
            http_result result;

            snprintf(path, sizeof(path), "/v1/credentials/%s", threads[i].ids[k]);
            assert_int_equal(
                harness_curl(&server, CLIENT_ISSUER, "GET", path, NULL, NULL, &result), 0);
            if (result.status == 200)
                found++;
            else
                fprintf(stderr, "acknowledged credential %s is missing: %ld %s\n",
                        threads[i].ids[k], result.status, result.body ? result.body : "");
            http_result_clear(&result);
        }
    }
    return found;
}

static void test_sigkill_keeps_acknowledged(void **state)
{
    issuer_thread threads[CLIENT_THREADS];
    atomic_bool stop = false;
    size_t acknowledged = 0;
    size_t interrupted = 0;
    size_t bad = 0;
    int status;

    (void)state;
    memset(threads, 0, sizeof(threads));
    for (int i = 0; i < CLIENT_THREADS; i++) {
        threads[i].stop = &stop;
        threads[i].ids = calloc(MAX_IDS_PER_THREAD, sizeof(threads[i].ids[0]));
        assert_non_null(threads[i].ids);
        assert_int_equal(pthread_create(&threads[i].thread, NULL, issue_loop, &threads[i]), 0);
    }

    /* Let the burst run, then kill the daemon while requests are in flight. */
    sleep(2);
    status = harness_stop(&server, SIGKILL);
    assert_int_equal(status, 128 + SIGKILL);
    usleep(200 * 1000);
    atomic_store(&stop, true);
    for (int i = 0; i < CLIENT_THREADS; i++) {
        pthread_join(threads[i].thread, NULL);
        acknowledged += threads[i].acknowledged;
        interrupted += threads[i].interrupted;
        bad += threads[i].failed_before_kill;
        if (threads[i].failed_before_kill > 0)
            fprintf(stderr, "thread %d got status %ld\n", i, threads[i].first_bad_status);
    }
    print_message("    %zu issuances acknowledged before SIGKILL, %zu cut off by it\n",
                  acknowledged, interrupted);
    assert_int_equal(bad, 0);

    /* The burst must have been real and the kill must have hit requests in flight, or
     * the test proves nothing. */
    assert_true(acknowledged >= CLIENT_THREADS);
    assert_true(interrupted >= 1);

    assert_int_equal(harness_start(&server), 0);
    assert_int_equal(count_credentials_found(threads), acknowledged);

    for (int i = 0; i < CLIENT_THREADS; i++)
        free(threads[i].ids);
    assert_int_equal(harness_stop(&server, SIGTERM), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_keeps_acknowledged),
    };

    /* Writes to a connection that the kill closed must fail, not end the test. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
