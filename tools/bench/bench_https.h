/*
 * The HTTPS scenario of idsvc-bench: POST /v1/verifications to a running daemon over
 * keep-alive mutual TLS, from a pool of client threads that each hold one connection.
 */
#ifndef IDSVC_BENCH_HTTPS_H
#define IDSVC_BENCH_HTTPS_H

#include <stddef.h>
#include <sys/types.h>

#include "p11.h"

typedef struct bench_https_options {
    unsigned port;         /* the daemon listens on 127.0.0.1:port */
    const char *ca_file;   /* the CA of the daemon's TLS certificate */
    const char *cert_file; /* the relying party's client certificate and key */
    const char *key_file;
    const char *metrics_cert_file; /* a regulator's certificate and key, for /metrics */
    const char *metrics_key_file;
    pid_t daemon_pid;      /* for VmHWM and VmRSS in /proc/PID/status */
    int client_threads;    /* connections that send requests */
    int worker_threads;    /* the daemon's [limits] threads, for the per-thread ratio */
    int idle_connections;  /* opened and left idle for the memory figure */
    /* Idle connections held open during a second maximum-rate run; 0 skips that run. */
    int with_idle_connections;
    int max_connections;   /* the daemon's [limits] max_connections */
    double seconds;        /* length of each timed run */
    p11_key *issuer_key;   /* signs the assertions that the requests carry */
    const char *issuer_key_name;
} bench_https_options;

typedef struct bench_https_result {
    double max_rate;          /* requests/s, unlimited */
    double max_p50_ms;
    double max_p99_ms;
    double max_daemon_cpu_ms; /* the daemon's CPU time per request at the maximum rate */
    /* Mean thread CPU time of one saml_verify and one signed SAML build in the daemon
     * during the maximum-rate run, from idsvc_operation_cpu_seconds of GET /metrics. */
    double max_verify_cpu_ms;
    double max_sign_cpu_ms;
    double half_rate_target;  /* requests/s asked of the rate-limited run */
    double half_rate;         /* requests/s it reached */
    double half_p50_ms;
    double half_p99_ms;
    long idle_open;           /* idle connections that completed a request */
    long rss_idle_kib;        /* VmRSS with the idle connections open */
    long peak_rss_kib;        /* VmHWM at the end */
    long errors;              /* answers other than 200, or broken connections */

    /* The maximum-rate run with opts->with_idle_connections idle connections open. When
     * with_idle_skipped is set, the run did not take place and the rates are 0. */
    double with_idle_rate;
    double with_idle_p50_ms;
    double with_idle_p99_ms;
    double with_idle_daemon_cpu_ms;
    long with_idle_open;        /* idle connections that completed a request */
    long with_idle_still_open;  /* of those, connections that served a second request
                                 * after the run */
    long with_idle_rss_kib;     /* VmRSS with the idle connections open, before the run */
    char with_idle_skipped[256]; /* why the run did not take place, or "" */
} bench_https_result;

/*
 * Runs the scenario: signs a pool of fresh assertions (each can be verified only once,
 * because the daemon rejects a replay), a run at the maximum rate with GET /metrics
 * before and after it, a run limited to half of it, then opens the idle connections and
 * reads the daemon's memory. Last comes a second maximum-rate run while
 * opts->with_idle_connections idle connections stay open. When they cannot fit in the
 * open-file limits or the daemon's connection limit, that run is skipped and
 * with_idle_skipped contains the reason. expected_rate sizes the pool. Returns 0, or -1 with a
 * sentence on standard error.
 */
int bench_https_run(const bench_https_options *opts, double expected_rate,
                    bench_https_result *out);

#endif
