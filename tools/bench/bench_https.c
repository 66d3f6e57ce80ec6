/*
 * The HTTPS scenario: client threads, each with its own keep-alive mutual-TLS
 * connection (GnuTLS), send POST /v1/verifications to a running daemon. Every request
 * carries a fresh assertion, signed in advance so that the client spends its CPU time on
 * TLS and HTTP only. The daemon verifies it, signs a result attestation in the HSM and
 * records the assertion ID. GET /metrics, with a regulator's certificate, reads the
 * daemon's own CPU time in verification and signing around the maximum-rate run.
 */
#include "bench_https.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <jansson.h>

#include "bench_fd_limits.h"
#include "saml.h"

#define MAX_CLIENT_THREADS 64
#define RESPONSE_MAX (256 * 1024)

/* ---- one keep-alive connection -------------------------------------------------- */

typedef struct connection {
    int fd;
    gnutls_session_t session;
} connection;

static gnutls_certificate_credentials_t credentials;         /* the relying party's */
static gnutls_certificate_credentials_t metrics_credentials; /* the regulator's */

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void connection_close(connection *c)
{
    if (c->session != NULL) {
        gnutls_bye(c->session, GNUTLS_SHUT_WR);
        gnutls_deinit(c->session);
    }
    if (c->fd >= 0)
        close(c->fd);
    c->session = NULL;
    c->fd = -1;
}

static int connection_open(const bench_https_options *opts,
                           gnutls_certificate_credentials_t client, connection *c)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    int one = 1;
    int rc;

    c->session = NULL;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons((uint16_t)opts->port);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        fprintf(stderr, "idsvc-bench: connecting to 127.0.0.1:%u failed: %s\n", opts->port,
                strerror(errno));
        connection_close(c);
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    /* GNUTLS_NO_SIGNAL: a send on a connection that the daemon closed returns EPIPE
     * instead of killing the program with SIGPIPE. */
    gnutls_init(&c->session, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL);
    gnutls_set_default_priority(c->session);
    gnutls_credentials_set(c->session, GNUTLS_CRD_CERTIFICATE, client);
    gnutls_session_set_verify_cert(c->session, "localhost", 0);
    gnutls_transport_set_int(c->session, c->fd);
    gnutls_handshake_set_timeout(c->session, 10000);
    do {
        rc = gnutls_handshake(c->session);
    } while (rc < 0 && gnutls_error_is_fatal(rc) == 0);
    if (rc < 0) {
        fprintf(stderr, "idsvc-bench: TLS handshake failed: %s\n", gnutls_strerror(rc));
        connection_close(c);
        return -1;
    }
    return 0;
}

static int send_all(connection *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t sent = gnutls_record_send(c->session, data, len);

        if (sent == GNUTLS_E_AGAIN || sent == GNUTLS_E_INTERRUPTED)
            continue;
        if (sent < 0)
            return -1;
        data += sent;
        len -= (size_t)sent;
    }
    return 0;
}

/* Reads one response framed by Content-Length and returns its status, or -1. */
static int read_status(connection *c, char *buffer, size_t size)
{
    size_t len = 0;
    size_t want = 0;
    char *end = NULL;

    for (;;) {
        ssize_t got;

        if (len + 1 >= size)
            return -1;
        got = gnutls_record_recv(c->session, buffer + len, size - len - 1);
        if (got == GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED)
            continue;
        if (got <= 0)
            return -1;
        len += (size_t)got;
        buffer[len] = '\0';
        if (end == NULL && (end = strstr(buffer, "\r\n\r\n")) != NULL) {
            const char *length = strstr(buffer, "\r\nContent-Length:");

            want = (size_t)(end + 4 - buffer) +
                   (length != NULL ? strtoul(length + 17, NULL, 10) : 0);
        }
        if (end != NULL && len >= want)
            break;
    }
    if (strncmp(buffer, "HTTP/1.1 ", 9) != 0 || strstr(buffer, "\r\nConnection: close") != NULL)
        return -1;
    return (int)strtol(buffer + 9, NULL, 10);
}

static int request(connection *c, const char *method, const char *path, const char *body,
                   size_t body_len, char *buffer, size_t size)
{
    char head[512];

    snprintf(head, sizeof(head),
             "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n",
             method, path, body_len);
    if (send_all(c, head, strlen(head)) != 0 ||
        (body_len > 0 && send_all(c, body, body_len) != 0))
        return -1;
    return read_status(c, buffer, size);
}

/* ---- the pool of request bodies ----------------------------------------------- */

typedef struct body_pool {
    char **bodies;
    size_t *lengths;
    size_t count;
    atomic_size_t next;
} body_pool;

static void pool_free(body_pool *pool)
{
    for (size_t i = 0; i < pool->count; i++)
        free(pool->bodies[i]);
    free(pool->bodies);
    free(pool->lengths);
    memset(pool, 0, sizeof(*pool));
}

static const char *const bench_names[] = {"Siti Nurhaliza"};
static const char *const bench_nationalities[] = {"MY"};

/* Signs count assertions, each with its own ID, and wraps each in a request body. */
static int pool_fill(const bench_https_options *opts, size_t count, body_pool *pool)
{
    saml_attribute attributes[] = {
        {"full_name", (char **)bench_names, 1},
        {"nationality", (char **)bench_nationalities, 1},
    };
    saml_signer signer = {.key = opts->issuer_key, .key_name = opts->issuer_key_name};
    p11_error err = {0};

    memset(pool, 0, sizeof(*pool));
    pool->bodies = calloc(count, sizeof(*pool->bodies));
    pool->lengths = calloc(count, sizeof(*pool->lengths));
    if (pool->bodies == NULL || pool->lengths == NULL)
        return -1;

    for (size_t i = 0; i < count; i++) {
        saml_assertion_spec spec = {
            .issuer = "https://id.example.my/saml",
            .audience = "https://bank.example.th/saml",
            .name_id = "b6c1f0a2-5d4e-4f7a-9c3b-1e2d3f4a5b6c",
            .issue_instant = time(NULL),
            .valid_seconds = 3600,
            .attributes = attributes,
            .attribute_count = 2,
        };
        char *xml = NULL;
        size_t len = 0;
        json_t *doc;

        if (saml_build_signed(&spec, &signer, &xml, &len, &err) != 0) {
            fprintf(stderr, "idsvc-bench: signing a request assertion failed: %s\n",
                    err.message);
            return -1;
        }
        doc = json_pack("{s:s, s:[s, s], s:s}", "assertion", xml, "claims", "full_name",
                        "nationality", "purpose", "benchmark");
        free(xml);
        pool->bodies[i] = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        if (pool->bodies[i] == NULL)
            return -1;
        pool->lengths[i] = strlen(pool->bodies[i]);
        pool->count = i + 1;
    }
    return 0;
}

/* ---- timed runs ------------------------------------------------------------------ */

typedef struct client_thread {
    pthread_t thread;
    const bench_https_options *opts;
    body_pool *pool;
    pthread_barrier_t *start;
    double start_time;      /* set by the main thread after the barrier */
    double interval;        /* seconds between scheduled requests; 0 for no limit */
    double seconds;
    double *latencies_ms;
    size_t latency_cap;
    size_t done;
    long errors;
    int exhausted;
} client_thread;

static void sleep_until(double when)
{
    double wait = when - now_seconds();
    struct timespec ts;

    if (wait <= 0)
        return;
    ts.tv_sec = (time_t)wait;
    ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

static void *client_main(void *arg)
{
    client_thread *t = arg;
    char *buffer = malloc(RESPONSE_MAX);
    connection c = {.fd = -1};
    int opened = buffer != NULL ? connection_open(t->opts, credentials, &c) : -1;
    double deadline;

    /* Connections are open before the clock starts, so handshakes are not timed. */
    pthread_barrier_wait(t->start);
    pthread_barrier_wait(t->start);
    if (opened != 0) {
        t->errors++;
        goto out;
    }
    deadline = t->start_time + t->seconds;
    for (size_t k = 0; t->done < t->latency_cap; k++) {
        double scheduled = t->interval > 0 ? t->start_time + (double)k * t->interval
                                           : now_seconds();
        size_t index;
        int status;

        if (scheduled >= deadline || now_seconds() >= deadline)
            break;
        sleep_until(scheduled);
        index = atomic_fetch_add(&t->pool->next, 1);
        if (index >= t->pool->count) {
            t->exhausted = 1;
            break;
        }
        status = request(&c, "POST", "/v1/verifications", t->pool->bodies[index],
                         t->pool->lengths[index], buffer, RESPONSE_MAX);
        if (status != 200) {
            if (t->errors++ == 0)
                fprintf(stderr, "idsvc-bench: a verification answered %d: %.300s\n", status,
                        status > 0 ? strstr(buffer, "\r\n\r\n") : "(no response)");
            if (status < 0)
                break;
            continue;
        }
        /* Measured from the scheduled time, so a late send counts against latency. */
        t->latencies_ms[t->done++] = (now_seconds() - scheduled) * 1000.0;
    }
out:
    connection_close(&c);
    free(buffer);
    return NULL;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double percentile(const double *sorted, size_t count, double p)
{
    size_t index;

    if (count == 0)
        return 0.0;
    index = (size_t)ceil(p * (double)count) - 1;
    return sorted[index < count ? index : count - 1];
}

typedef struct run_result {
    size_t requests; /* requests that returned status 200 */
    double rate;
    double p50_ms;
    double p99_ms;
    double daemon_cpu_ms; /* the daemon's CPU time per request */
    long errors;
} run_result;

static double daemon_cpu_seconds(pid_t pid);
static size_t pool_size(double rate, double seconds);

/* Runs the clients for opts->seconds; rate 0 sends as fast as the daemon answers. */
static int timed_run(const bench_https_options *opts, body_pool *pool, double rate,
                     run_result *out)
{
    int threads = opts->client_threads;
    client_thread clients[MAX_CLIENT_THREADS];
    size_t cap = pool->count; /* no thread can send more than the pool holds */
    pthread_barrier_t start;
    double *all = NULL;
    size_t total = 0;
    double started, elapsed;
    double cpu_before, cpu_after;
    int exhausted = 0;

    memset(clients, 0, sizeof(clients));
    memset(out, 0, sizeof(*out));
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        clients[i] = (client_thread){
            .opts = opts, .pool = pool, .start = &start, .seconds = opts->seconds,
            .interval = rate > 0 ? (double)threads / rate : 0.0,
            .latencies_ms = malloc(cap * sizeof(double)), .latency_cap = cap,
        };
        if (clients[i].latencies_ms == NULL)
            clients[i].latency_cap = 0;
        pthread_create(&clients[i].thread, NULL, client_main, &clients[i]);
    }
    pthread_barrier_wait(&start);
    cpu_before = daemon_cpu_seconds(opts->daemon_pid);
    started = now_seconds() + 0.01;
    for (int i = 0; i < threads; i++)
        clients[i].start_time = started + (rate > 0 ? (double)i / rate : 0.0);
    pthread_barrier_wait(&start);

    for (int i = 0; i < threads; i++) {
        pthread_join(clients[i].thread, NULL);
        total += clients[i].done;
        out->errors += clients[i].errors;
        exhausted |= clients[i].exhausted;
    }
    elapsed = now_seconds() - started;
    cpu_after = daemon_cpu_seconds(opts->daemon_pid);
    pthread_barrier_destroy(&start);
    if (exhausted)
        fprintf(stderr, "idsvc-bench: the request pool ran out before the run ended\n");

    all = malloc((total + 1) * sizeof(double));
    if (all != NULL) {
        size_t at = 0;

        for (int i = 0; i < threads; i++) {
            memcpy(all + at, clients[i].latencies_ms, clients[i].done * sizeof(double));
            at += clients[i].done;
        }
        qsort(all, total, sizeof(double), compare_double);
        out->p50_ms = percentile(all, total, 0.50);
        out->p99_ms = percentile(all, total, 0.99);
    }
    out->requests = total;
    out->rate = (double)total / elapsed;
    if (total > 0 && cpu_before >= 0 && cpu_after >= 0)
        out->daemon_cpu_ms = (cpu_after - cpu_before) * 1000.0 / (double)total;
    for (int i = 0; i < threads; i++)
        free(clients[i].latencies_ms);
    free(all);
    return all != NULL && total > 0 ? 0 : -1;
}

/* ---- idle connections and the daemon's memory -------------------------------------- */

/* Reads a "Name:   123 kB" line of /proc/PID/status; -1 when it is missing. */
static long read_status_kib(pid_t pid, const char *name)
{
    char path[64];
    char line[256];
    size_t len = strlen(name);
    long value = -1;
    FILE *file;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    file = fopen(path, "r");
    if (file == NULL)
        return -1;
    while (fgets(line, sizeof(line), file) != NULL) {
        if (strncmp(line, name, len) == 0 && line[len] == ':') {
            value = strtol(line + len + 1, NULL, 10);
            break;
        }
    }
    fclose(file);
    return value;
}

/* The daemon's CPU time so far (user plus system), in seconds; -1 when unknown. */
static double daemon_cpu_seconds(pid_t pid)
{
    char path[64];
    char text[1024];
    unsigned long user = 0, system = 0;
    const char *after_name;
    size_t len;
    FILE *file;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    file = fopen(path, "r");
    if (file == NULL)
        return -1.0;
    len = fread(text, 1, sizeof(text) - 1, file);
    fclose(file);
    text[len] = '\0';

    /* Fields 14 and 15 of proc(5), counted after the command name in brackets. */
    after_name = strrchr(text, ')');
    if (after_name == NULL ||
        sscanf(after_name + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &user,
               &system) != 2)
        return -1.0;
    return (double)(user + system) / (double)sysconf(_SC_CLK_TCK);
}

/* Opens count connections, each with one GET /v1/issuers so that it is fully set up,
 * and leaves them idle. Stops at the first failure and reports it on standard error.
 * Returns the number of connections whose request returned 200. */
static long open_idle(const bench_https_options *opts, connection *idle, int count,
                      char *buffer)
{
    long opened = 0;

    for (int i = 0; i < count; i++) {
        int status = -1;

        if (connection_open(opts, credentials, &idle[i]) == 0)
            status = request(&idle[i], "GET", "/v1/issuers", NULL, 0, buffer, RESPONSE_MAX);
        if (status != 200) {
            if (idle[i].fd >= 0)
                fprintf(stderr, "idsvc-bench: GET /v1/issuers on idle connection %d "
                        "failed (status %d)\n", i + 1, status);
            break;
        }
        opened++;
    }
    return opened;
}

/* Allocates count closed connections, or returns NULL. */
static connection *idle_alloc(int count)
{
    connection *idle = calloc((size_t)count, sizeof(*idle));

    for (int i = 0; idle != NULL && i < count; i++)
        idle[i].fd = -1;
    return idle;
}

static void idle_free(connection *idle, int count)
{
    for (int i = 0; idle != NULL && i < count; i++)
        connection_close(&idle[i]);
    free(idle);
}

/* Opens the idle connections and reads the daemon's memory while they stay open. */
static void measure_idle(const bench_https_options *opts, bench_https_result *out)
{
    connection *idle = idle_alloc(opts->idle_connections);
    char *buffer = malloc(RESPONSE_MAX);

    if (idle == NULL || buffer == NULL)
        goto out;
    out->idle_open = open_idle(opts, idle, opts->idle_connections, buffer);
    sleep(1);
    out->rss_idle_kib = read_status_kib(opts->daemon_pid, "VmRSS");
    out->peak_rss_kib = read_status_kib(opts->daemon_pid, "VmHWM");
out:
    idle_free(idle, opts->idle_connections);
    free(buffer);
}

/* ---- the maximum rate with idle connections open ------------------------------------ */

/* Descriptors that either process may open during the run besides those counted before
 * it, because SoftHSM2 opens its token files for each signature and SQLite opens its
 * journal. An estimate with room to spare: at commit 5373ec7, the daemon had 14 to 16
 * descriptors open besides its sockets. */
#define OPEN_FILE_MARGIN 64

/* Records why the run with idle connections cannot take place, and returns -1. */
__attribute__((format(printf, 2, 3)))
static int skip_with_idle(bench_https_result *out, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    vsnprintf(out->with_idle_skipped, sizeof(out->with_idle_skipped), format, args);
    va_end(args);
    return -1;
}

/*
 * Checks that the idle connections and the client connections fit the daemon's
 * connection limit and both processes' open-file limits, and raises this program's soft
 * limit up to its hard limit where needed. libmicrohttpd gives each worker thread an
 * equal share of [limits] max_connections. The node's accept thread gives a connection
 * to the worker that its descriptor number picks, or to the next one with room. So the
 * connections must fit one share, because with one worker they all go to it.
 */
static int check_with_idle_fits(const bench_https_options *opts, bench_https_result *out)
{
    long connections = (long)opts->with_idle_connections + opts->client_threads;
    long per_worker = opts->max_connections / opts->worker_threads;
    long own_open = bench_count_open_files(0);
    long daemon_open = bench_count_open_files(opts->daemon_pid);
    long daemon_limit = bench_open_file_limit(opts->daemon_pid);
    long own_needed, own_limit, daemon_needed;

    if (connections > per_worker)
        return skip_with_idle(out, "%ld connections (%d idle and %d clients) exceed the "
                              "daemon's limit of %ld per worker ([limits] max_connections = "
                              "%d, threads = %d)", connections,
                              opts->with_idle_connections, opts->client_threads, per_worker,
                              opts->max_connections, opts->worker_threads);
    if (own_open < 0 || daemon_open < 0 || daemon_limit < 0)
        return skip_with_idle(out, "cannot read /proc/self/fd, /proc/%ld/fd or "
                              "/proc/%ld/limits", (long)opts->daemon_pid,
                              (long)opts->daemon_pid);

    own_needed = own_open + connections + OPEN_FILE_MARGIN;
    own_limit = bench_raise_open_file_limit(own_needed);
    if (own_limit < own_needed)
        return skip_with_idle(out, "the bench program needs about %ld open files, but its "
                              "limit is %ld and its hard limit (ulimit -Hn) allows no more",
                              own_needed, own_limit);
    daemon_needed = daemon_open + connections + OPEN_FILE_MARGIN;
    if (daemon_limit < daemon_needed)
        return skip_with_idle(out, "the daemon needs about %ld open files, but its limit "
                              "is %ld; raise ulimit -n before starting it", daemon_needed,
                              daemon_limit);
    return 0;
}

/*
 * Opens opts->with_idle_connections idle connections, each with one request, and runs
 * the clients at the maximum rate while they stay open. After the run every idle
 * connection sends one more request, to show that none was closed during the run.
 */
static void measure_with_idle(const bench_https_options *opts, double expected_rate,
                              bench_https_result *out)
{
    int count = opts->with_idle_connections;
    connection *idle = NULL;
    char *buffer = NULL;
    body_pool pool = {0};
    run_result run;

    if (count <= 0) {
        skip_with_idle(out, "--with-idle-connections is 0");
        return;
    }
    idle = idle_alloc(count);
    buffer = malloc(RESPONSE_MAX);
    if (idle == NULL || buffer == NULL) {
        skip_with_idle(out, "out of memory for %d idle connections", count);
        goto out;
    }
    /* The pool is signed first, so that the daemon has closed the connections of the
     * memory figure before the check below counts its descriptors. */
    if (pool_fill(opts, pool_size(expected_rate, opts->seconds), &pool) != 0) {
        skip_with_idle(out, "signing the assertions for the run failed");
        goto out;
    }
    if (check_with_idle_fits(opts, out) != 0)
        goto out;

    out->with_idle_open = open_idle(opts, idle, count, buffer);
    if (out->with_idle_open < count) {
        skip_with_idle(out, "only %ld of %d idle connections completed a request",
                       out->with_idle_open, count);
        goto out;
    }
    out->with_idle_rss_kib = read_status_kib(opts->daemon_pid, "VmRSS");
    if (timed_run(opts, &pool, 0.0, &run) != 0) {
        skip_with_idle(out, "the run with %d idle connections open failed", count);
        goto out;
    }
    out->with_idle_rate = run.rate;
    out->with_idle_p50_ms = run.p50_ms;
    out->with_idle_p99_ms = run.p99_ms;
    out->with_idle_daemon_cpu_ms = run.daemon_cpu_ms;
    out->errors += run.errors;

    for (int i = 0; i < count; i++) {
        if (request(&idle[i], "GET", "/v1/issuers", NULL, 0, buffer, RESPONSE_MAX) == 200)
            out->with_idle_still_open++;
    }
out:
    idle_free(idle, count);
    pool_free(&pool);
    free(buffer);
}

/* ---- the daemon's own CPU time in verification and signing ------------------------- */

/* The idsvc_operation_cpu_seconds samples of GET /metrics at one moment. */
typedef struct operation_totals {
    double verify_seconds;
    double verify_count;
    double sign_seconds;
    double sign_count;
} operation_totals;

/* Reads the value of the sample named name, labels included, from Prometheus text. */
static int sample_value(const char *text, const char *name, double *out)
{
    size_t len = strlen(name);

    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, name, len) == 0 && line[len] == ' ') {
            *out = strtod(line + len + 1, NULL);
            return 0;
        }
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    fprintf(stderr, "idsvc-bench: GET /metrics has no sample %s\n", name);
    return -1;
}

/* Fetches GET /metrics on a connection of its own, so that no timed connection carries
 * it, and reads the operation samples. */
static int read_operation_totals(const bench_https_options *opts, operation_totals *out)
{
    connection c = {.fd = -1};
    char *buffer = malloc(RESPONSE_MAX);
    const char *body = NULL;
    int status = -1;
    int rc = -1;

    if (buffer == NULL)
        return -1;
    if (connection_open(opts, metrics_credentials, &c) == 0)
        status = request(&c, "GET", "/metrics", NULL, 0, buffer, RESPONSE_MAX);
    connection_close(&c);
    if (status == 200)
        body = strstr(buffer, "\r\n\r\n");
    if (body == NULL) {
        fprintf(stderr, "idsvc-bench: GET /metrics returned status %d: %.300s\n", status,
                status > 0 ? buffer : "(no response)");
        goto out;
    }
    if (sample_value(body, "idsvc_operation_cpu_seconds_sum{operation=\"saml_verify\"}",
                     &out->verify_seconds) != 0 ||
        sample_value(body, "idsvc_operation_cpu_seconds_count{operation=\"saml_verify\"}",
                     &out->verify_count) != 0 ||
        sample_value(body, "idsvc_operation_cpu_seconds_sum{operation=\"saml_sign\"}",
                     &out->sign_seconds) != 0 ||
        sample_value(body, "idsvc_operation_cpu_seconds_count{operation=\"saml_sign\"}",
                     &out->sign_count) != 0)
        goto out;
    rc = 0;
out:
    free(buffer);
    return rc;
}

/* Sets the mean CPU time of one verification and one signature between two readings.
 * Every request of the run costs one of each, which the counts check. */
static int operation_means(const operation_totals *before, const operation_totals *after,
                           size_t requests, bench_https_result *out)
{
    double verifications = after->verify_count - before->verify_count;
    double signatures = after->sign_count - before->sign_count;

    if (verifications <= 0 || signatures <= 0) {
        fprintf(stderr, "idsvc-bench: GET /metrics counted %.0f verifications and %.0f "
                "signatures during the maximum-rate run\n", verifications, signatures);
        return -1;
    }
    if (verifications != (double)requests || signatures != (double)requests)
        fprintf(stderr, "idsvc-bench: the daemon counted %.0f verifications and %.0f "
                "signatures for %zu requests that returned 200\n", verifications,
                signatures, requests);
    out->max_verify_cpu_ms =
        (after->verify_seconds - before->verify_seconds) * 1000.0 / verifications;
    out->max_sign_cpu_ms =
        (after->sign_seconds - before->sign_seconds) * 1000.0 / signatures;
    return 0;
}

/* ---- the scenario ------------------------------------------------------------------ */

static int load_credentials(const bench_https_options *opts, const char *cert_file,
                            const char *key_file, gnutls_certificate_credentials_t *out)
{
    int rc;

    if (gnutls_certificate_allocate_credentials(out) != 0)
        return -1;
    rc = gnutls_certificate_set_x509_trust_file(*out, opts->ca_file, GNUTLS_X509_FMT_PEM);
    if (rc <= 0) {
        fprintf(stderr, "idsvc-bench: cannot read the CA %s\n", opts->ca_file);
        return -1;
    }
    rc = gnutls_certificate_set_x509_key_file(*out, cert_file, key_file,
                                              GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        fprintf(stderr, "idsvc-bench: cannot read the client certificate %s: %s\n",
                cert_file, gnutls_strerror(rc));
        return -1;
    }
    return 0;
}

static size_t pool_size(double rate, double seconds)
{
    double size = rate * seconds * 1.3 + 64;

    return size > 200000 ? 200000 : (size_t)size;
}

int bench_https_run(const bench_https_options *opts, double expected_rate,
                    bench_https_result *out)
{
    body_pool pool = {0};
    run_result max_run, half_run;
    operation_totals before, after;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (opts->client_threads < 1 || opts->client_threads > MAX_CLIENT_THREADS ||
        load_credentials(opts, opts->cert_file, opts->key_file, &credentials) != 0 ||
        load_credentials(opts, opts->metrics_cert_file, opts->metrics_key_file,
                         &metrics_credentials) != 0)
        goto out;

    if (pool_fill(opts, pool_size(expected_rate, opts->seconds), &pool) != 0 ||
        read_operation_totals(opts, &before) != 0 ||
        timed_run(opts, &pool, 0.0, &max_run) != 0 ||
        read_operation_totals(opts, &after) != 0 ||
        operation_means(&before, &after, max_run.requests, out) != 0)
        goto out;
    pool_free(&pool);

    out->half_rate_target = max_run.rate / 2.0;
    if (pool_fill(opts, pool_size(out->half_rate_target, opts->seconds), &pool) != 0 ||
        timed_run(opts, &pool, out->half_rate_target, &half_run) != 0)
        goto out;

    out->max_rate = max_run.rate;
    out->max_p50_ms = max_run.p50_ms;
    out->max_p99_ms = max_run.p99_ms;
    out->max_daemon_cpu_ms = max_run.daemon_cpu_ms;
    out->half_rate = half_run.rate;
    out->half_p50_ms = half_run.p50_ms;
    out->half_p99_ms = half_run.p99_ms;
    out->errors = max_run.errors + half_run.errors;

    measure_idle(opts, out);
    pool_free(&pool);
    measure_with_idle(opts, max_run.rate, out);
    if (out->with_idle_skipped[0] == '\0' &&
        out->with_idle_still_open < out->with_idle_open)
        fprintf(stderr, "idsvc-bench: %ld of %ld idle connections served no request after "
                "the run with them open\n", out->with_idle_open - out->with_idle_still_open,
                out->with_idle_open);
    rc = out->errors == 0 && out->idle_open == opts->idle_connections ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "idsvc-bench: %ld requests failed; %ld of %d idle connections "
                "opened\n", out->errors, out->idle_open, opts->idle_connections);
out:
    pool_free(&pool);
    if (credentials != NULL)
        gnutls_certificate_free_credentials(credentials);
    if (metrics_credentials != NULL)
        gnutls_certificate_free_credentials(metrics_credentials);
    credentials = NULL;
    metrics_credentials = NULL;
    return rc;
}
