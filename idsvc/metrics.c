#include "metrics.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const unsigned tracked_statuses[] = {200, 201, 202, 204, 400, 401, 403, 404, 405,
                                            409, 411, 413, 415, 421, 422, 429, 500, 503};
#define STATUS_SLOTS (sizeof(tracked_statuses) / sizeof(tracked_statuses[0]) + 1)

static const double bucket_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1,   0.25,   0.5,   1.0,  2.5};
#define BUCKETS (sizeof(bucket_bounds) / sizeof(bucket_bounds[0]))

static const char *const hsm_op_names[METRICS_HSM_OP_COUNT] = {"saml_sign",
                                                               "tls_key_import"};

static const char *const operation_names[METRICS_OPERATION_COUNT] = {"saml_verify",
                                                                    "saml_sign"};

typedef struct route_metrics {
    atomic_ulong by_status[STATUS_SLOTS];
    atomic_ulong buckets[BUCKETS]; /* not cumulative; summed when rendered */
    atomic_ulong count;
    atomic_ulong micros_sum;
} route_metrics;

struct metrics {
    const char *const *route_names;
    size_t route_count;
    route_metrics *routes; /* route_count + 1 slots */
    atomic_ulong hsm_ops[METRICS_HSM_OP_COUNT];
    atomic_ulong hsm_errors[METRICS_HSM_OP_COUNT];
    atomic_ulong handshake_failures;
    atomic_ulong request_timeouts;
    atomic_ulong operations[METRICS_OPERATION_COUNT];
    /* Nanoseconds, in 64 bits because a 32-bit long would wrap after 4.3 seconds. */
    _Atomic uint64_t operation_cpu_ns[METRICS_OPERATION_COUNT];
};

metrics *metrics_new(const char *const *route_names, size_t route_count)
{
    metrics *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->routes = calloc(route_count + 1, sizeof(*m->routes));
    if (m->routes == NULL) {
        free(m);
        return NULL;
    }
    m->route_names = route_names;
    m->route_count = route_count;
    return m;
}

void metrics_free(metrics **m)
{
    if (m == NULL || *m == NULL)
        return;
    free((*m)->routes);
    free(*m);
    *m = NULL;
}

static size_t status_slot(unsigned status)
{
    for (size_t i = 0; i < STATUS_SLOTS - 1; i++)
        if (tracked_statuses[i] == status)
            return i;
    return STATUS_SLOTS - 1;
}

void metrics_record_request(metrics *m, size_t route, unsigned status, double seconds)
{
    route_metrics *r;
    size_t bucket = 0;

    if (route > m->route_count)
        route = m->route_count;
    r = &m->routes[route];

    while (bucket < BUCKETS && seconds > bucket_bounds[bucket])
        bucket++;
    atomic_fetch_add(&r->by_status[status_slot(status)], 1);
    if (bucket < BUCKETS)
        atomic_fetch_add(&r->buckets[bucket], 1);
    atomic_fetch_add(&r->count, 1);
    atomic_fetch_add(&r->micros_sum, (unsigned long)(seconds * 1e6));
}

void metrics_record_hsm(metrics *m, metrics_hsm_op op, bool ok)
{
    atomic_fetch_add(&m->hsm_ops[op], 1);
    if (!ok)
        atomic_fetch_add(&m->hsm_errors[op], 1);
}

void metrics_record_handshake_failure(metrics *m)
{
    atomic_fetch_add(&m->handshake_failures, 1);
}

void metrics_record_request_timeouts(metrics *m, size_t count)
{
    atomic_fetch_add(&m->request_timeouts, (unsigned long)count);
}

uint64_t metrics_thread_cpu_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void metrics_record_operation(metrics *m, metrics_operation op, uint64_t started_ns)
{
    uint64_t now_ns = metrics_thread_cpu_ns();

    atomic_fetch_add(&m->operations[op], 1);
    /* A clock that failed at either end reads 0, and then the operation adds no time. */
    if (started_ns != 0 && now_ns > started_ns)
        atomic_fetch_add(&m->operation_cpu_ns[op], now_ns - started_ns);
}

static const char *route_label(const metrics *m, size_t route)
{
    return route < m->route_count ? m->route_names[route] : "unmatched";
}

static void render_requests(const metrics *m, FILE *out)
{
    fputs("# HELP idsvc_http_requests_total HTTP requests by route and status.\n"
          "# TYPE idsvc_http_requests_total counter\n", out);
    for (size_t route = 0; route <= m->route_count; route++) {
        for (size_t slot = 0; slot < STATUS_SLOTS; slot++) {
            unsigned long n = atomic_load(&m->routes[route].by_status[slot]);

            if (n == 0)
                continue;
            if (slot < STATUS_SLOTS - 1)
                fprintf(out, "idsvc_http_requests_total{route=\"%s\",status=\"%u\"} %lu\n",
                        route_label(m, route), tracked_statuses[slot], n);
            else
                fprintf(out, "idsvc_http_requests_total{route=\"%s\",status=\"other\"} %lu\n",
                        route_label(m, route), n);
        }
    }
}

static void render_latency(const metrics *m, FILE *out)
{
    fputs("# HELP idsvc_http_request_duration_seconds Time from the first byte of a "
          "request to the queued response.\n"
          "# TYPE idsvc_http_request_duration_seconds histogram\n", out);
    for (size_t route = 0; route <= m->route_count; route++) {
        const route_metrics *r = &m->routes[route];
        const char *label = route_label(m, route);
        unsigned long cumulative = 0;
        unsigned long count;

        for (size_t b = 0; b < BUCKETS; b++) {
            cumulative += atomic_load(&r->buckets[b]);
            fprintf(out,
                    "idsvc_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %lu\n",
                    label, bucket_bounds[b], cumulative);
        }
        /* A request recorded while the buckets were read can be in a bucket but not yet
         * in count, and +Inf below a bucket would make the histogram invalid. */
        count = atomic_load(&r->count);
        if (count < cumulative)
            count = cumulative;
        fprintf(out,
                "idsvc_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lu\n"
                "idsvc_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                "idsvc_http_request_duration_seconds_count{route=\"%s\"} %lu\n",
                label, count, label, atomic_load(&r->micros_sum) / 1e6, label, count);
    }
}

static void render_hsm(const metrics *m, FILE *out)
{
    fputs("# HELP idsvc_hsm_operations_total Operations that used the HSM.\n"
          "# TYPE idsvc_hsm_operations_total counter\n", out);
    for (size_t op = 0; op < METRICS_HSM_OP_COUNT; op++)
        fprintf(out, "idsvc_hsm_operations_total{operation=\"%s\"} %lu\n", hsm_op_names[op],
                atomic_load(&m->hsm_ops[op]));
    fputs("# HELP idsvc_hsm_errors_total HSM operations that failed.\n"
          "# TYPE idsvc_hsm_errors_total counter\n", out);
    for (size_t op = 0; op < METRICS_HSM_OP_COUNT; op++)
        fprintf(out, "idsvc_hsm_errors_total{operation=\"%s\"} %lu\n", hsm_op_names[op],
                atomic_load(&m->hsm_errors[op]));
    fprintf(out,
            "# HELP idsvc_tls_handshake_failures_total TLS handshakes that failed.\n"
            "# TYPE idsvc_tls_handshake_failures_total counter\n"
            "idsvc_tls_handshake_failures_total %lu\n",
            atomic_load(&m->handshake_failures));
    fprintf(out,
            "# HELP idsvc_request_timeouts_total Connections closed because no whole "
            "request arrived within connection_timeout.\n"
            "# TYPE idsvc_request_timeouts_total counter\n"
            "idsvc_request_timeouts_total %lu\n",
            atomic_load(&m->request_timeouts));
}

/* A summary without quantiles: the sum and count give the mean CPU time per operation. */
static void render_operations(const metrics *m, FILE *out)
{
    fputs("# HELP idsvc_operation_cpu_seconds Thread CPU time spent in an operation.\n"
          "# TYPE idsvc_operation_cpu_seconds summary\n", out);
    for (size_t op = 0; op < METRICS_OPERATION_COUNT; op++) {
        const char *name = operation_names[op];
        uint64_t ns = atomic_load(&m->operation_cpu_ns[op]);

        fprintf(out,
                "idsvc_operation_cpu_seconds_sum{operation=\"%s\"} "
                "%" PRIu64 ".%09" PRIu64 "\n",
                name, ns / 1000000000u, ns % 1000000000u);
        fprintf(out, "idsvc_operation_cpu_seconds_count{operation=\"%s\"} %lu\n", name,
                atomic_load(&m->operations[op]));
    }
}

char *metrics_render(const metrics *m, size_t *len)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);

    if (out == NULL)
        return NULL;
    render_requests(m, out);
    render_latency(m, out);
    render_hsm(m, out);
    render_operations(m, out);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    *len = size;
    return text;
}
