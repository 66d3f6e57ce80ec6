/*
 * Counters and histograms in the Prometheus text format (version 0.0.4). Updates are
 * atomic, so worker threads record without locks.
 */
#ifndef IDSVC_METRICS_H
#define IDSVC_METRICS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct metrics metrics;

/* HSM operations that are counted; errors are counted per operation too. */
typedef enum metrics_hsm_op {
    METRICS_HSM_SAML_SIGN,
    METRICS_HSM_TLS_KEY_IMPORT,
    METRICS_HSM_OP_COUNT,
} metrics_hsm_op;

/* route_names are the route patterns, kept by reference; one more slot counts requests
 * that matched no route. */
metrics *metrics_new(const char *const *route_names, size_t route_count);
void metrics_free(metrics **m);

/* route is an index into route_names, or route_count for unmatched requests. */
void metrics_record_request(metrics *m, size_t route, unsigned status, double seconds);
void metrics_record_hsm(metrics *m, metrics_hsm_op op, bool ok);
void metrics_record_handshake_failure(metrics *m);

/* Formats every metric; the caller frees the text. */
char *metrics_render(const metrics *m, size_t *len);

#endif
