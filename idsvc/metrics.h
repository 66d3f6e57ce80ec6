/*
 * Counters and histograms in the Prometheus text format (version 0.0.4). Updates are
 * atomic, so worker threads record without locks.
 */
#ifndef IDSVC_METRICS_H
#define IDSVC_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct metrics metrics;

/* HSM operations that are counted; errors are counted per operation too. */
typedef enum metrics_hsm_op {
    METRICS_HSM_SAML_SIGN,
    METRICS_HSM_TLS_KEY_IMPORT,
    METRICS_HSM_OP_COUNT,
} metrics_hsm_op;

/* Operations whose thread CPU time is summed, so that the mean cost of each can be read
 * inside the running daemon. */
typedef enum metrics_operation {
    METRICS_OPERATION_SAML_VERIFY, /* saml_verify of a relying party's assertion */
    METRICS_OPERATION_SAML_SIGN,   /* saml_build_signed, the HSM signature included */
    METRICS_OPERATION_COUNT,
} metrics_operation;

/* route_names are the route patterns, kept by reference; one more slot counts requests
 * that matched no route. */
metrics *metrics_new(const char *const *route_names, size_t route_count);
void metrics_free(metrics **m);

/* route is an index into route_names, or route_count for unmatched requests. */
void metrics_record_request(metrics *m, size_t route, unsigned status, double seconds);
void metrics_record_hsm(metrics *m, metrics_hsm_op op, bool ok);
void metrics_record_handshake_failure(metrics *m);
/* Counts connections that the request deadline shut down (http_deadline.h). */
void metrics_record_request_timeouts(metrics *m, size_t count);

/* Returns the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID, user plus system) in
 * nanoseconds, or 0 when the clock cannot be read. */
uint64_t metrics_thread_cpu_ns(void);

/* Counts one operation and adds the calling thread's CPU time since started_ns, a value
 * that metrics_thread_cpu_ns returned on this thread before the operation began. */
void metrics_record_operation(metrics *m, metrics_operation op, uint64_t started_ns);

/* Formats every metric; the caller frees the text. */
char *metrics_render(const metrics *m, size_t *len);

#endif
