/*
 * idsvc-policy-bench-https: the rate of POST /v1/verifications over keep-alive mutual
 * TLS with the policy engine on, beside the rate without it, measured in one run.
 *
 * The run sets up what the server tests use (tests/server/server_harness.h): a fresh
 * SoftHSM2 token with the node's TLS key (ECDSA P-256) and SAML key (RSA-2048), a demo CA
 * and client certificates. It signs asean-cn-base and residency-sg with a regulator key
 * in that token, then starts two daemons on the same token and keys: "policy" with
 * [policy] and "registry" without it, each with its own SQLite file. Each daemon issues
 * its own pool of credentials, because a credential is known only to the node that
 * issued it and an assertion verifies only once. The timed rounds alternate between the
 * daemons, and each round keeps one connection per client thread open for its length.
 * Besides the rates, it prints each daemon's CPU time per verification, which drifts
 * less than the rate when other processes share the machine.
 *
 * Both daemons return 200 with an attestation of two attributes signed in the HSM: the
 * policy daemon for an age check (date_of_birth and age_over_18 requested, age_over_18
 * and age_over_21 released as derived claims), the registry daemon with date_of_birth
 * and given_name.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <jansson.h>

#include "server_harness.h"

#define MAX_CLIENTS 64
#define RESPONSE_MAX (256 * 1024)
#define REGULATOR_KEY "pkcs11:token=" TEST_TOKEN_LABEL ";object=regulator;type=private"

typedef struct options {
    double seconds;
    int rounds;
    int clients;
    const char *database_dir; /* NULL keeps the databases in the harness folder */
} options;

/* One daemon under test and the request bodies it has not yet seen. */
typedef struct target {
    const char *name;
    harness h;
    char **bodies;
    size_t body_count;
    atomic_size_t next;
    double rates[64];
    double cpu_us[64]; /* the daemon's CPU time per verification, in microseconds */
} target;

typedef struct client {
    int fd;
    gnutls_session_t session;
    gnutls_certificate_credentials_t credentials;
} client;

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *format, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *format, ...)
{
    char command[8192];
    va_list args;
    int status;

    va_start(args, format);
    vsnprintf(command, sizeof(command), format, args);
    va_end(args);
    status = test_run(command);
    if (status != 0)
        fprintf(stderr, "command failed (%d): %s\n", status, command);
    return status;
}

/* ---- A keep-alive HTTPS client with a client certificate --------------------------- */

static void client_close(client *c)
{
    if (c->session != NULL) {
        gnutls_bye(c->session, GNUTLS_SHUT_WR);
        gnutls_deinit(c->session);
    }
    if (c->credentials != NULL)
        gnutls_certificate_free_credentials(c->credentials);
    if (c->fd >= 0)
        close(c->fd);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

/* Connects to 127.0.0.1:port as the client certificate "name" of the harness folder. */
static int client_open(const harness *h, const char *name, client *c)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    char cert[PATH_MAX + 64], key[PATH_MAX + 64], ca[PATH_MAX + 64];
    int one = 1;
    int rc;

    memset(c, 0, sizeof(*c));
    snprintf(cert, sizeof(cert), "%s/%s.pem", h->token.dir, name);
    snprintf(key, sizeof(key), "%s/%s.key", h->token.dir, name);
    snprintf(ca, sizeof(ca), "%s/ca.pem", h->token.dir);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons((uint16_t)h->port);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&address, sizeof(address)) != 0)
        goto fail;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (gnutls_certificate_allocate_credentials(&c->credentials) < 0 ||
        gnutls_certificate_set_x509_trust_file(c->credentials, ca, GNUTLS_X509_FMT_PEM) < 0 ||
        gnutls_certificate_set_x509_key_file(c->credentials, cert, key,
                                             GNUTLS_X509_FMT_PEM) < 0 ||
        gnutls_init(&c->session, GNUTLS_CLIENT) < 0 ||
        gnutls_set_default_priority(c->session) < 0 ||
        gnutls_credentials_set(c->session, GNUTLS_CRD_CERTIFICATE, c->credentials) < 0)
        goto fail;
    gnutls_transport_set_int(c->session, c->fd);
    do {
        rc = gnutls_handshake(c->session);
    } while (rc < 0 && gnutls_error_is_fatal(rc) == 0);
    if (rc < 0) {
        fprintf(stderr, "TLS handshake with port %u failed: %s\n", h->port,
                gnutls_strerror(rc));
        goto fail;
    }
    return 0;
fail:
    client_close(c);
    return -1;
}

static int send_all(client *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t sent = gnutls_record_send(c->session, data, len);

        if (sent < 0 && gnutls_error_is_fatal((int)sent) == 0)
            continue;
        if (sent <= 0)
            return -1;
        data += sent;
        len -= (size_t)sent;
    }
    return 0;
}

/* Returns the Content-Length of a response head that ends at end, or 0 without one. */
static long content_length(const char *head, const char *end)
{
    static const char name[] = "\r\ncontent-length:";

    for (const char *at = head; at + sizeof(name) - 1 < end; at++)
        if (strncasecmp(at, name, sizeof(name) - 1) == 0)
            return strtol(at + sizeof(name) - 1, NULL, 10);
    return 0;
}

/* Sends one POST and reads the response into buffer (Content-Length framing). Returns
 * the HTTP status, or -1 when the connection broke. *body points into buffer. */
static int client_post(client *c, const char *path, const char *body, char *buffer,
                       size_t size, const char **body_out)
{
    char head[512];
    size_t used = 0;
    char *end = NULL;
    long length;
    int status;

    snprintf(head, sizeof(head),
             "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n",
             path, strlen(body));
    if (send_all(c, head, strlen(head)) != 0 || send_all(c, body, strlen(body)) != 0)
        return -1;

    while (end == NULL) {
        ssize_t got = gnutls_record_recv(c->session, buffer + used, size - 1 - used);

        if (got < 0 && gnutls_error_is_fatal((int)got) == 0)
            continue;
        if (got <= 0)
            return -1;
        used += (size_t)got;
        buffer[used] = '\0';
        end = strstr(buffer, "\r\n\r\n");
    }
    if (sscanf(buffer, "HTTP/1.1 %d", &status) != 1)
        return -1;
    length = content_length(buffer, end);
    if (length < 0 || (size_t)length + (size_t)(end + 4 - buffer) >= size)
        return -1;
    while (used < (size_t)(end + 4 - buffer) + (size_t)length) {
        ssize_t got = gnutls_record_recv(c->session, buffer + used, size - 1 - used);

        if (got < 0 && gnutls_error_is_fatal((int)got) == 0)
            continue;
        if (got <= 0)
            return -1;
        used += (size_t)got;
    }
    buffer[used] = '\0';
    *body_out = end + 4;
    return status;
}

/* ---- Setup ---------------------------------------------------------------------------- */

static int sign_bundles(const harness *h)
{
    const char *admin = getenv("IDSVC_ADMIN");
    const char *source = getenv("IDSVC_SOURCE_DIR");
    static const char *const bundles[] = {"asean-cn-base", "residency-sg"};

    if (admin == NULL || source == NULL) {
        fprintf(stderr, "IDSVC_ADMIN, IDSVC_SOURCE_DIR and IDSVC_DAEMON must be set\n");
        return -1;
    }
    if (run("GNUTLS_PIN='" TEST_TOKEN_PIN "' p11tool --provider '%s' --login "
            "--generate-privkey=ecdsa --curve=secp256r1 --label regulator --id 11 "
            "'pkcs11:token=" TEST_TOKEN_LABEL "' --outfile '%s/regulators.pem' "
            ">/dev/null 2>&1",
            h->token.module_path, h->token.dir) != 0)
        return -1;
    for (size_t i = 0; i < 2; i++) {
        if (run("'%s' policy sign '%s/policies/%s.xml' --key '" REGULATOR_KEY "' --module "
                "'%s' --token " TEST_TOKEN_LABEL " --pin-file '%s' --output '%s/%s.xml' "
                ">/dev/null",
                admin, source, bundles[i], h->token.module_path, h->token.pin_path,
                h->token.dir, bundles[i]) != 0)
            return -1;
    }
    return 0;
}

static unsigned free_port(void)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    socklen_t len = sizeof(address);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned port = 0;

    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&address, sizeof(address)) == 0 &&
        getsockname(fd, (struct sockaddr *)&address, &len) == 0)
        port = ntohs(address.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Makes the registry daemon's harness: the same folder, token and keys as the policy
 * daemon, another port, database and log, and no [policy] section. */
static int derive_registry(const harness *policy, harness *registry, const options *opts)
{
    char database[PATH_MAX + 64] = "registry.db";

    if (opts->database_dir != NULL)
        snprintf(database, sizeof(database), "%s/idsvc-bench-registry-%d.db",
                 opts->database_dir, (int)getpid());
    *registry = *policy;
    registry->port = free_port();
    snprintf(registry->config_path, sizeof(registry->config_path), "%s/registry.conf",
             policy->token.dir);
    snprintf(registry->log_path, sizeof(registry->log_path), "%s/registry.log",
             policy->token.dir);
    return run("sed 's/^port = .*/port = %u/; s|^path = .*\\.db$|path = %s|' '%s' > '%s'",
               registry->port, database, policy->config_path, registry->config_path);
}

static int setup(target *policy, target *registry, const options *opts)
{
    harness *h = &policy->h;

    if (harness_setup(h) != 0 || sign_bundles(h) != 0)
        return -1;
    if (opts->database_dir != NULL &&
        run("sed -i 's|^path = idsvc.db$|path = %s/idsvc-bench-policy-%d.db|' '%s'",
            opts->database_dir, (int)getpid(), h->config_path) != 0)
        return -1;
    /* bank-one may receive the claims of both scenarios. */
    if (run("sed -i 's/^allowed_claims = .*/allowed_claims = given_name family_name "
            "nationality date_of_birth age_over_18/' '%s'",
            h->config_path) != 0 ||
        derive_registry(h, &registry->h, opts) != 0 ||
        harness_append_config(h, "\n[policy]\ntrust_list = regulators.pem\n"
                                 "bundle = asean-cn-base.xml\nbundle = residency-sg.xml\n") !=
            0)
        return -1;
    if (harness_start(h) != 0 || harness_start(&registry->h) != 0)
        return -1;
    return 0;
}

/* ---- The pool of request bodies ------------------------------------------------------ */

typedef struct issue_job {
    target *t;
    size_t first, count;
    int failed;
} issue_job;

static const char ISSUE_BODY[] =
    "{\"subject\":\"SG-BENCH-%zu\",\"audience\":\"" RP_ENTITY_ID "\","
    "\"assurance_level\":\"high\",\"validity_seconds\":7200,"
    "\"attributes\":{\"given_name\":\"Mei\",\"family_name\":\"Tan\","
    "\"date_of_birth\":\"1990-02-03\",\"nationality\":[\"SG\"]}}";

static char *verification_body(const target *t, const char *assertion)
{
    bool policy = strcmp(t->name, "policy") == 0;
    json_t *doc = policy ? json_pack("{s:s, s:s, s:[s, s], s:i}", "assertion", assertion,
                                     "purpose", "age_check", "claims", "date_of_birth",
                                     "age_over_18", "retention_days", 30)
                         : json_pack("{s:s, s:s, s:[s, s]}", "assertion", assertion,
                                     "purpose", "age_check", "claims", "date_of_birth",
                                     "given_name");
    char *text = json_dumps(doc, JSON_COMPACT);

    json_decref(doc);
    return text;
}

static void *issue_worker(void *arg)
{
    issue_job *job = arg;
    char *buffer = malloc(RESPONSE_MAX);
    char request[1024];
    client c;

    if (buffer == NULL || client_open(&job->t->h, CLIENT_ISSUER, &c) != 0) {
        job->failed = 1;
        free(buffer);
        return NULL;
    }
    for (size_t i = job->first; i < job->first + job->count; i++) {
        const char *body = NULL;
        json_t *doc;

        snprintf(request, sizeof(request), ISSUE_BODY, i);
        if (client_post(&c, "/v1/credentials", request, buffer, RESPONSE_MAX, &body) !=
            201) {
            fprintf(stderr, "issuing on the %s daemon failed: %.300s\n", job->t->name,
                    body != NULL ? body : "(no response)");
            job->failed = 1;
            break;
        }
        doc = json_loads(body, 0, NULL);
        if (json_is_string(json_object_get(doc, "assertion")))
            job->t->bodies[i] = verification_body(
                job->t, json_string_value(json_object_get(doc, "assertion")));
        json_decref(doc);
        if (job->t->bodies[i] == NULL) {
            job->failed = 1;
            break;
        }
    }
    client_close(&c);
    free(buffer);
    return NULL;
}

/* Appends at least count fresh request bodies to t's pool. */
static int grow_pool(target *t, size_t count, int threads)
{
    pthread_t ids[MAX_CLIENTS];
    issue_job jobs[MAX_CLIENTS];
    size_t share = count / (size_t)threads + 1;
    size_t first = t->body_count;
    char **grown = realloc(t->bodies, (first + share * (size_t)threads) * sizeof(*grown));
    int failed = 0;

    if (grown == NULL)
        return -1;
    t->bodies = grown;
    memset(grown + first, 0, share * (size_t)threads * sizeof(*grown));
    t->body_count = first + share * (size_t)threads; /* so that the bodies are freed */
    for (int i = 0; i < threads; i++) {
        jobs[i] = (issue_job){t, first + (size_t)i * share, share, 0};
        pthread_create(&ids[i], NULL, issue_worker, &jobs[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(ids[i], NULL);
        failed |= jobs[i].failed;
    }
    return failed ? -1 : 0;
}

/* Issues credentials until the pool contains enough unused bodies for one round at
 * max_rate with a margin of 50%. */
static int top_up_pool(target *t, double max_rate, const options *opts)
{
    size_t needed = (size_t)((max_rate * 1.5 + 200) * opts->seconds);
    size_t left = t->body_count - atomic_load(&t->next);

    if (left >= needed)
        return 0;
    return grow_pool(t, needed - left, opts->clients);
}

/* ---- Timed rounds ----------------------------------------------------------------------- */

typedef struct load_job {
    target *t;
    double deadline;
    long done, errors;
} load_job;

static void *load_worker(void *arg)
{
    load_job *job = arg;
    char *buffer = malloc(RESPONSE_MAX);
    client c;

    if (buffer == NULL || client_open(&job->t->h, CLIENT_RP, &c) != 0) {
        job->errors++;
        free(buffer);
        return NULL;
    }
    while (now_seconds() < job->deadline) {
        size_t i = atomic_fetch_add(&job->t->next, 1);
        const char *body = NULL;
        int status;

        if (i >= job->t->body_count) {
            job->errors++; /* the pool ran dry: the figure would be wrong */
            break;
        }
        status = client_post(&c, "/v1/verifications", job->t->bodies[i], buffer,
                             RESPONSE_MAX, &body);
        if (status == 200 && strstr(body, "\"attestation\"") != NULL) {
            job->done++;
            continue;
        }
        if (job->errors++ == 0)
            fprintf(stderr, "%s daemon: status %d: %.300s\n", job->t->name, status,
                    body != NULL ? body : "");
        if (status < 0)
            break;
    }
    client_close(&c);
    free(buffer);
    return NULL;
}

/* Returns the CPU time that all threads of process pid have run, in nanoseconds, from
 * the first field of each /proc/PID/task/TID/schedstat; -1 when it cannot be read. */
static double process_cpu_ns(pid_t pid)
{
    char path[64];
    DIR *tasks;
    struct dirent *entry;
    double total = 0;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    tasks = opendir(path);
    if (tasks == NULL)
        return -1;
    while ((entry = readdir(tasks)) != NULL) {
        char stat_path[400];
        unsigned long long ns = 0;
        FILE *file;

        if (entry->d_name[0] == '.')
            continue;
        snprintf(stat_path, sizeof(stat_path), "%s/%s/schedstat", path, entry->d_name);
        file = fopen(stat_path, "r");
        if (file == NULL)
            continue; /* the thread ended */
        if (fscanf(file, "%llu", &ns) == 1)
            total += (double)ns;
        fclose(file);
    }
    closedir(tasks);
    return total;
}

/* Runs one timed round against t; returns requests/s or -1 on any error, and sets
 * *cpu_us to the daemon's CPU time per verification. */
static double timed_round(target *t, const options *opts, double *cpu_us)
{
    double cpu_start = process_cpu_ns(t->h.pid);
    pthread_t ids[MAX_CLIENTS];
    load_job jobs[MAX_CLIENTS];
    double start = now_seconds();
    long done = 0, errors = 0;

    for (int i = 0; i < opts->clients; i++) {
        jobs[i] = (load_job){t, start + opts->seconds, 0, 0};
        pthread_create(&ids[i], NULL, load_worker, &jobs[i]);
    }
    for (int i = 0; i < opts->clients; i++) {
        pthread_join(ids[i], NULL);
        done += jobs[i].done;
        errors += jobs[i].errors;
    }
    if (errors > 0 || done == 0) {
        fprintf(stderr, "%s daemon: %ld errors in a round\n", t->name, errors);
        return -1;
    }
    *cpu_us = (process_cpu_ns(t->h.pid) - cpu_start) / 1000.0 / (double)done;
    return (double)done / (now_seconds() - start);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(const double *values, int count)
{
    double sorted[64];

    memcpy(sorted, values, (size_t)count * sizeof(*values));
    qsort(sorted, (size_t)count, sizeof(*sorted), compare_doubles);
    return count % 2 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2;
}

static int parse_options(int argc, char **argv, options *opts)
{
    static const struct option long_options[] = {
        {"seconds", required_argument, NULL, 's'},
        {"rounds", required_argument, NULL, 'r'},
        {"clients", required_argument, NULL, 'c'},
        {"database-dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int option;

    while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (option) {
        case 's':
            opts->seconds = atof(optarg);
            break;
        case 'r':
            opts->rounds = atoi(optarg);
            break;
        case 'c':
            opts->clients = atoi(optarg);
            break;
        case 'd':
            opts->database_dir = optarg;
            break;
        default:
            fputs("usage: idsvc-policy-bench-https [--seconds S] [--rounds N] "
                  "[--clients C]\n"
                  "  --seconds S  length of each timed round (default 3)\n"
                  "  --rounds N   rounds per daemon, alternating (default 7, at most 64)\n"
                  "  --clients C  client threads, one connection each (default 4)\n"
                  "  --database-dir DIR  put both SQLite files in DIR, such as a tmpfs\n"
                  "               (default: the run's temporary folder)\n"
                  "Needs IDSVC_DAEMON, IDSVC_ADMIN and IDSVC_SOURCE_DIR, as the tests "
                  "do.\n",
                  option == 'h' ? stdout : stderr);
            exit(option == 'h' ? 0 : 2);
        }
    }
    if (opts->seconds <= 0 || opts->rounds < 1 || opts->rounds > 64 || opts->clients < 1 ||
        opts->clients > MAX_CLIENTS) {
        fprintf(stderr, "invalid option: seconds > 0, rounds 1 to 64, clients 1 to %d\n",
                MAX_CLIENTS);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options opts = {3.0, 7, 4, NULL};
    target policy = {.name = "policy"}, registry = {.name = "registry"};
    target *order[2];
    double max_rate = 2000; /* requests/s; raised to the fastest round seen */
    int status = 1;

    if (parse_options(argc, argv, &opts) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    gnutls_global_init();
    if (setup(&policy, &registry, &opts) != 0)
        goto out;

    atomic_init(&policy.next, 0);
    atomic_init(&registry.next, 0);
    for (int round = 0; round < opts.rounds; round++) {
        /* Both pools are topped up before the pair of timed runs, never during one. */
        if (top_up_pool(&policy, max_rate, &opts) != 0 ||
            top_up_pool(&registry, max_rate, &opts) != 0)
            goto out;
        order[0] = round % 2 == 0 ? &policy : &registry;
        order[1] = round % 2 == 0 ? &registry : &policy;
        for (int k = 0; k < 2; k++) {
            double rate = timed_round(order[k], &opts, &order[k]->cpu_us[round]);

            if (rate < 0)
                goto out;
            order[k]->rates[round] = rate;
            if (rate > max_rate)
                max_rate = rate;
        }
        printf("round %d: policy %.0f/s %.0f us, registry %.0f/s %.0f us\n", round + 1,
               policy.rates[round], policy.cpu_us[round], registry.rates[round],
               registry.cpu_us[round]);
    }

    /* The ratio of each round's pair is less exposed to load that drifts over the run
     * than the ratio of the two medians. */
    double ratios[64];

    for (int round = 0; round < opts.rounds; round++)
        ratios[round] = policy.rates[round] / registry.rates[round];
    printf("median of %d rounds of %.1f s, %d connections: with the policy engine %.0f "
           "verifications/s, without %.0f/s; median ratio of the rounds %.3f\n",
           opts.rounds, opts.seconds, opts.clients, median(policy.rates, opts.rounds),
           median(registry.rates, opts.rounds), median(ratios, opts.rounds));
    for (int round = 0; round < opts.rounds; round++)
        ratios[round] = registry.cpu_us[round] / policy.cpu_us[round];
    printf("daemon CPU time per verification, median: with the policy engine %.0f us, "
           "without %.0f us; median ratio of the rounds (without / with) %.3f\n",
           median(policy.cpu_us, opts.rounds), median(registry.cpu_us, opts.rounds),
           median(ratios, opts.rounds));
    status = 0;
out:
    harness_stop(&registry.h, SIGTERM);
    harness_stop(&policy.h, SIGTERM);
    harness_teardown(&policy.h);
    if (opts.database_dir != NULL)
        run("rm -f '%s'/idsvc-bench-policy-%d.db* '%s'/idsvc-bench-registry-%d.db*",
            opts.database_dir, (int)getpid(), opts.database_dir, (int)getpid());
    for (size_t i = 0; i < policy.body_count; i++)
        free(policy.bodies[i]);
    for (size_t i = 0; i < registry.body_count; i++)
        free(registry.bodies[i]);
    free(policy.bodies);
    free(registry.bodies);
    gnutls_global_deinit();
    return status;
}
