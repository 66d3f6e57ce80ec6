/*
 * Durability of acknowledged writes: several client threads send requests over their
 * own keep-alive connections, the daemon is killed with SIGKILL in the middle of the
 * burst, and after a restart every write whose response arrived in full must be found.
 * Each thread records a write as soon as its response has been read in full, so the
 * list contains exactly the acknowledged ones. SIGKILL ends the process, not the
 * machine, so this shows that a response is sent only after the commit; power loss is
 * not simulated.
 *
 * The first test issues credentials (201). The second presents assertions to
 * POST /v1/verifications, whose 200 waits for the audit entry and the replay cache row
 * committed in one transaction.
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
    return harness_begin(&server);
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

/* ---- Verifications: the 200 waits for the audit entry and the replay row ------------ */

#define VERIFY_THREADS 6
#define ASSERTIONS_PER_THREAD 40
#define KILL_AFTER_ACCEPTED (VERIFY_THREADS * ASSERTIONS_PER_THREAD / 4)
#define BURST_TIMEOUT_MS 30000

typedef struct presentation {
    char *body;             /* the POST /v1/verifications request */
    char assertion_id[128]; /* from the 201 of the issuance */
    bool acknowledged;      /* its 200 arrived in full before the kill */
} presentation;

typedef struct verifier_thread {
    pthread_t thread;
    pthread_barrier_t *start;
    atomic_bool *stop;
    atomic_uint *accepted_total;
    presentation presentations[ASSERTIONS_PER_THREAD];
    size_t issued;
    size_t acknowledged;
    size_t interrupted;        /* requests sent whose response never arrived in full */
    size_t failed_before_kill; /* complete responses other than 200, which must not occur */
    long first_bad_status;
    char first_bad_code[64];
} verifier_thread;

static char *verification_body(const char *assertion)
{
    json_t *doc = json_pack("{s:s, s:s, s:[s]}", "assertion", assertion, "purpose",
                            "account opening", "claims", "given_name");
    char *text = json_dumps(doc, JSON_COMPACT);

    json_decref(doc);
    return text;
}

/* Issues the thread's credentials on one connection. Returns how many were issued. */
static size_t issue_assertions(verifier_thread *t)
{
    raw_client *client = NULL;
    size_t issued = 0;

    if (raw_connect(&server, "NORMAL", CLIENT_ISSUER, &client) != 0) {
        raw_close(&client);
        return 0;
    }
    while (issued < ASSERTIONS_PER_THREAD) {
        http_result result;
        const char *assertion;
        const char *id;

        if (raw_request(client, "POST", "/v1/credentials", issue_body, &result) != 0)
            break;
        assertion = json_string_value(json_object_get(result.json, "assertion"));
        id = json_string_value(json_object_get(result.json, "assertion_id"));
        if (result.status != 201 || assertion == NULL || id == NULL) {
            fprintf(stderr, "issuing failed: %ld %s\n", result.status,
                    result.body ? result.body : "");
            http_result_clear(&result);
            break;
        }
        t->presentations[issued].body = verification_body(assertion);
        snprintf(t->presentations[issued].assertion_id,
                 sizeof(t->presentations[issued].assertion_id), "%s", id);
        issued++;
        http_result_clear(&result);
    }
    raw_close(&client);
    return issued;
}

/* Issues the thread's assertions, waits for the others, then presents each assertion
 * once until stop is set. A connection that breaks is opened again. */
static void *verify_loop(void *arg)
{
    verifier_thread *t = arg;
    size_t next = 0;

    t->issued = issue_assertions(t);
    pthread_barrier_wait(t->start);
    while (!atomic_load(t->stop) && next < t->issued) {
        raw_client *client = NULL;

        if (raw_connect(&server, "NORMAL", CLIENT_RP, &client) != 0) {
            raw_close(&client);
            usleep(5 * 1000);
            continue;
        }
        while (!atomic_load(t->stop) && next < t->issued) {
            presentation *p = &t->presentations[next++];
            http_result result;
            const char *id;

            if (raw_request(client, "POST", "/v1/verifications", p->body, &result) != 0) {
                t->interrupted++; /* the daemon went away mid-request */
                break;
            }
            if (result.json == NULL) {
                /* Cut short by the kill: the headers arrived, the whole body did not. */
                t->interrupted++;
                http_result_clear(&result);
                break;
            }
            id = json_string_value(json_object_get(result.json, "assertion_id"));
            if (result.status == 200 && id != NULL && strcmp(id, p->assertion_id) == 0) {
                p->acknowledged = true;
                t->acknowledged++;
                atomic_fetch_add(t->accepted_total, 1);
            } else if (t->failed_before_kill++ == 0) {
                /* A complete response that is not the 200 of this assertion. */
                t->first_bad_status = result.status;
                snprintf(t->first_bad_code, sizeof(t->first_bad_code), "%s",
                         http_result_code(&result));
            }
            http_result_clear(&result);
        }
        raw_close(&client);
    }
    return NULL;
}

/* Reads every verification_decided entry with decision "accepted" from
 * GET /v1/audit/entries and returns their assertion IDs, sorted, in *ids. */
static size_t read_accepted_ids(char ***ids)
{
    raw_client *client = NULL;
    char path[128] = "/v1/audit/entries?from=0";
    size_t count = 0;

    *ids = NULL;
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_REGULATOR, &client), 0);
    for (;;) {
        http_result result;
        json_t *item;
        size_t i;
        const char *next;

        assert_int_equal(raw_request(client, "GET", path, NULL, &result), 0);
        if (result.status != 200)
            fail_msg("GET %s: %ld %s", path, result.status, result.body ? result.body : "");
        json_array_foreach(json_object_get(result.json, "entries"), i, item)
        {
            const char *text = json_string_value(json_object_get(item, "entry"));
            json_t *entry = text != NULL ? json_loads(text, 0, NULL) : NULL;
            const char *payload_text = json_string_value(json_object_get(item, "payload"));
            json_t *payload = payload_text != NULL ? json_loads(payload_text, 0, NULL) : NULL;
            const char *kind = json_string_value(json_object_get(entry, "kind"));
            const char *decision = json_string_value(json_object_get(payload, "decision"));
            const char *id = json_string_value(json_object_get(payload, "assertion_id"));

            if (kind != NULL && strcmp(kind, "verification_decided") == 0 &&
                decision != NULL && strcmp(decision, "accepted") == 0) {
                assert_non_null(id);
                *ids = realloc(*ids, (count + 1) * sizeof(**ids));
                assert_non_null(*ids);
                (*ids)[count] = strdup(id);
                assert_non_null((*ids)[count]);
                count++;
            }
            json_decref(payload);
            json_decref(entry);
        }
        next = json_string_value(json_object_get(result.json, "next"));
        if (next != NULL)
            snprintf(path, sizeof(path), "%s", next);
        http_result_clear(&result);
        if (next == NULL)
            break;
    }
    raw_close(&client);
    return count;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t count_id(char **ids, size_t count, const char *id)
{
    size_t found = 0;

    for (size_t i = 0; i < count; i++)
        found += strcmp(ids[i], id) == 0;
    return found;
}

/* Presents body again on a fresh connection and returns the response in result. */
static void present_again(const char *body, http_result *result)
{
    raw_client *client = NULL;

    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_RP, &client), 0);
    assert_int_equal(raw_request(client, "POST", "/v1/verifications", body, result), 0);
    raw_close(&client);
}

static void test_sigkill_keeps_accepted_verifications(void **state)
{
    verifier_thread *threads = calloc(VERIFY_THREADS, sizeof(*threads));
    pthread_barrier_t start;
    atomic_bool stop = false;
    atomic_uint accepted_total = 0;
    size_t issued = 0;
    size_t acknowledged = 0;
    size_t interrupted = 0;
    size_t bad = 0;
    char **accepted_ids = NULL;
    size_t accepted_count;
    int waited = 0;
    int status;

    (void)state;
    assert_non_null(threads);
    /* The test before stops the daemon it started. */
    if (server.pid <= 0)
        assert_int_equal(harness_start(&server), 0);

    /* The main thread passes the barrier too, once every thread has its assertions. */
    assert_int_equal(pthread_barrier_init(&start, NULL, VERIFY_THREADS + 1), 0);
    for (int i = 0; i < VERIFY_THREADS; i++) {
        threads[i].start = &start;
        threads[i].stop = &stop;
        threads[i].accepted_total = &accepted_total;
        assert_int_equal(pthread_create(&threads[i].thread, NULL, verify_loop, &threads[i]), 0);
    }
    pthread_barrier_wait(&start);

    /* Kill once a quarter of the assertions were accepted, so that every thread still
     * has requests to send and some are in flight. */
    while (atomic_load(&accepted_total) < KILL_AFTER_ACCEPTED && waited < BURST_TIMEOUT_MS) {
        usleep(5 * 1000);
        waited += 5;
    }
    status = harness_stop(&server, SIGKILL);
    assert_int_equal(status, 128 + SIGKILL);
    usleep(200 * 1000);
    atomic_store(&stop, true);
    for (int i = 0; i < VERIFY_THREADS; i++) {
        pthread_join(threads[i].thread, NULL);
        issued += threads[i].issued;
        acknowledged += threads[i].acknowledged;
        interrupted += threads[i].interrupted;
        bad += threads[i].failed_before_kill;
        if (threads[i].failed_before_kill > 0)
            fprintf(stderr, "thread %d got %ld %s\n", i, threads[i].first_bad_status,
                    threads[i].first_bad_code);
    }
    pthread_barrier_destroy(&start);
    print_message("    %zu verifications acknowledged before SIGKILL, %zu cut off by it\n",
                  acknowledged, interrupted);
    assert_int_equal(issued, VERIFY_THREADS * ASSERTIONS_PER_THREAD);
    assert_int_equal(bad, 0);

    /* The burst must have been real and the kill must have hit requests in flight, or
     * the test proves nothing. */
    assert_true(acknowledged >= KILL_AFTER_ACCEPTED);
    assert_true(acknowledged < issued);
    assert_true(interrupted >= 1);

    assert_int_equal(harness_start(&server), 0);

    /* Every acknowledged assertion has exactly one accepted verification_decided entry,
     * and no assertion, acknowledged or not, was accepted twice. */
    accepted_count = read_accepted_ids(&accepted_ids);
    if (accepted_count > 1)
        qsort(accepted_ids, accepted_count, sizeof(*accepted_ids), compare_strings);
    for (size_t i = 1; i < accepted_count; i++)
        if (strcmp(accepted_ids[i - 1], accepted_ids[i]) == 0)
            fail_msg("assertion %s has two accepted entries", accepted_ids[i]);
    assert_true(accepted_count <= issued);
    for (int i = 0; i < VERIFY_THREADS; i++) {
        for (size_t k = 0; k < threads[i].issued; k++) {
            presentation *p = &threads[i].presentations[k];

            if (p->acknowledged &&
                count_id(accepted_ids, accepted_count, p->assertion_id) != 1)
                fail_msg("acknowledged assertion %s has %zu accepted entries, expected 1",
                         p->assertion_id,
                         count_id(accepted_ids, accepted_count, p->assertion_id));
        }
    }

    /* The replay cache row of each acknowledged assertion survived as well: presenting
     * it again is a replay. The rejected entries that this adds come after the check
     * above. */
    for (int i = 0; i < VERIFY_THREADS; i++) {
        for (size_t k = 0; k < threads[i].issued; k++) {
            presentation *p = &threads[i].presentations[k];
            http_result result;

            if (!p->acknowledged)
                continue;
            present_again(p->body, &result);
            if (result.status != 422 || strcmp(http_result_code(&result), "replayed") != 0)
                fail_msg("acknowledged assertion %s presented again: expected 422 replayed, "
                         "got %ld %s",
                         p->assertion_id, result.status, http_result_code(&result));
            assert_string_equal(http_result_field(&result), "assertion");
            http_result_clear(&result);
        }
    }

    for (size_t i = 0; i < accepted_count; i++)
        free(accepted_ids[i]);
    free(accepted_ids);
    for (int i = 0; i < VERIFY_THREADS; i++)
        for (size_t k = 0; k < threads[i].issued; k++)
            free(threads[i].presentations[k].body);
    free(threads);
    assert_int_equal(harness_stop(&server, SIGTERM), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_keeps_acknowledged),
        cmocka_unit_test(test_sigkill_keeps_accepted_verifications),
    };

    /* Writes to a connection that the kill closed must fail, not end the test. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
