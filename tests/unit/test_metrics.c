/*
 * The metrics text: each route's latency histogram stays a valid Prometheus histogram,
 * with cumulative buckets that never exceed the +Inf bucket and a _count equal to it,
 * while worker threads record requests during the rendering.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

#define RENDERS 20000

typedef struct recorder {
    metrics *m;
    atomic_bool stop;
} recorder;

static void *record_requests(void *arg)
{
    recorder *r = arg;

    while (!atomic_load(&r->stop))
        metrics_record_request(r->m, 0, 200, 0.0001);
    return NULL;
}

/* Returns the number that follows the first occurrence of prefix in text. */
static unsigned long sample_value(const char *text, const char *prefix)
{
    const char *line = strstr(text, prefix);

    assert_non_null(line);
    return strtoul(line + strlen(prefix), NULL, 10);
}

static void test_histogram_buckets_monotonic(void **state)
{
    static const char *const names[] = {"/r"};
    recorder r = {.m = metrics_new(names, 1)};
    pthread_t thread;
    unsigned long smallest = 0;
    unsigned long infinite = 0;
    unsigned long count = 0;

    (void)state;
    assert_non_null(r.m);
    assert_int_equal(pthread_create(&thread, NULL, record_requests, &r), 0);
    for (int i = 0; i < RENDERS && smallest <= infinite && infinite == count; i++) {
        size_t len = 0;
        char *text = metrics_render(r.m, &len);

        assert_non_null(text);
        smallest = sample_value(
            text, "idsvc_http_request_duration_seconds_bucket{route=\"/r\",le=\"0.001\"} ");
        infinite = sample_value(
            text, "idsvc_http_request_duration_seconds_bucket{route=\"/r\",le=\"+Inf\"} ");
        count = sample_value(text, "idsvc_http_request_duration_seconds_count{route=\"/r\"} ");
        free(text);
    }
    atomic_store(&r.stop, true);
    pthread_join(thread, NULL);
    metrics_free(&r.m);

    assert_true(smallest <= infinite);
    assert_int_equal(infinite, count);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_buckets_monotonic),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
