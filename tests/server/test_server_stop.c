/*
 * HTTP behaviour around the routes: HEAD on GET routes, bodies whose framing or size is
 * wrong, a second daemon on the same database, the workers' event loop, and stops with
 * SIGTERM while requests wait for a commit or keep-alive clients keep sending.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "server_harness.h"
#include "test_token.h"

#define CLIENT_THREADS 4
#define STOP_SECONDS_MAX 5.0 /* half the drain timeout of http_server_stop */

static harness server;
static char *verification; /* a POST /v1/verifications body, accepted once */

static const char issue_body[] =
    "{\"subject\":\"SG-S7654321A\",\"audience\":\"" RP_ENTITY_ID "\","
    "\"assurance_level\":\"substantial\",\"validity_seconds\":3600,"
    "\"attributes\":{\"given_name\":\"Wei Ling\"}}";

/* Replaces the whole line that matches the sed pattern in the node's configuration.
 * Returns 0 or -1. */
static int set_config_line(const char *pattern, const char *line)
{
    return harness_run("sed -i 's/^%s$/%s/' '%s'", pattern, line, server.config_path);
}

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

static void test_head_like_get_without_body(void **state)
{
    raw_client *client = NULL;
    http_result result;

    (void)state;
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_RP, &client), 0);
    assert_int_equal(raw_request(client, "HEAD", "/v1/issuers", NULL, &result), 0);
    assert_int_equal(result.status, 200);
    assert_string_equal(result.body, "");
    assert_non_null(strstr(result.headers, "Content-Type: application/json"));
    http_result_clear(&result);

    /* The connection stays framed: a GET on it gets the body the HEAD left out. */
    assert_int_equal(raw_request(client, "GET", "/v1/issuers", NULL, &result), 0);
    assert_int_equal(result.status, 200);
    assert_non_null(result.json);
    http_result_clear(&result);
    raw_close(&client);
}

/* Returns the number of epoll instances that process pid has open, or -1 when its
 * descriptors cannot be read. */
static int count_epoll_instances(pid_t pid)
{
    char fd_dir[64];
    DIR *dir;
    const struct dirent *entry;
    int count = 0;

    snprintf(fd_dir, sizeof(fd_dir), "/proc/%d/fd", (int)pid);
    dir = opendir(fd_dir);
    if (dir == NULL)
        return -1;
    while ((entry = readdir(dir)) != NULL) {
        char link[PATH_MAX];
        char target[64];
        ssize_t len;

        snprintf(link, sizeof(link), "%s/%s", fd_dir, entry->d_name);
        len = readlink(link, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (strcmp(target, "anon_inode:[eventpoll]") == 0)
            count++;
    }
    closedir(dir);
    return count;
}

/* The worker threads wait in epoll, whose cost per wakeup does not grow with the idle
 * connections, not in poll(). The harness runs two workers, each with its own epoll
 * instance. */
static void test_workers_use_epoll(void **state)
{
    int count;

    (void)state;
    count = count_epoll_instances(server.pid);
    assert_int_not_equal(count, -1);
    if (count != 2)
        fail_msg("the daemon holds %d epoll instances, where each of its 2 worker threads "
                 "should hold one", count);
}

/* Issues a credential and builds the verification body that presents it. */
static void prepare_verification(void)
{
    http_result issued;
    json_t *doc;

    assert_int_equal(harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                                  issue_body, &issued),
                     0);
    assert_int_equal(issued.status, 201);
    doc = json_pack("{s:s, s:s, s:[s]}", "assertion",
                    json_string_value(json_object_get(issued.json, "assertion")), "purpose",
                    "account opening", "claims", "given_name");
    assert_non_null(doc);
    verification = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    http_result_clear(&issued);
}

/* Two Content-Length values leave the body's end in doubt (RFC 9112, section 6.3): the
 * request is rejected and the connection closed, so the bytes after the first length
 * cannot pass as a second request. */
static void test_conflicting_lengths_rejected(void **state)
{
    raw_client *client = NULL;
    http_result result;

    (void)state;
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_ISSUER, &client), 0);
    assert_int_equal(raw_exchange(client,
                                  "POST /v1/credentials HTTP/1.1\r\nHost: localhost\r\n"
                                  "Content-Type: application/json\r\n"
                                  "Content-Length: 2\r\nContent-Length: 40\r\n\r\n"
                                  "{}GET /v1/issuers HTTP/1.1\r\nHost: x\r\n\r\n",
                                  &result),
                     0);
    assert_int_equal(result.status, 400);
    assert_string_equal(http_result_code(&result), "content_length_invalid");
    assert_non_null(strstr(result.headers, "Connection: close"));
    http_result_clear(&result);
    assert_int_equal(raw_read_end(client), 1);
    raw_close(&client);
}

/* Both Transfer-Encoding and Content-Length (RFC 9112, section 6.1): rejected, and the
 * connection closes, so a request hidden in the body is never served. */
static void test_chunked_with_length_rejected(void **state)
{
    raw_client *client = NULL;
    http_result result;

    (void)state;
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_ISSUER, &client), 0);
    assert_int_equal(raw_exchange(client,
                                  "POST /v1/credentials HTTP/1.1\r\nHost: localhost\r\n"
                                  "Content-Type: application/json\r\n"
                                  "Transfer-Encoding: chunked\r\nContent-Length: 99999999\r\n"
                                  "\r\n2\r\n{}\r\n0\r\n\r\n"
                                  "GET /v1/issuers HTTP/1.1\r\nHost: x\r\n\r\n",
                                  &result),
                     0);
    assert_int_equal(result.status, 400);
    assert_string_equal(http_result_code(&result), "content_length_invalid");
    assert_non_null(strstr(result.body, "Transfer-Encoding"));
    assert_non_null(strstr(result.headers, "Connection: close"));
    http_result_clear(&result);
    assert_int_equal(raw_read_end(client), 1);
    raw_close(&client);
}

/* A chunked request from a caller without a certificate is rejected with 411 on its
 * headers alone, before any of its body is sent or read. The test sends no body: the
 * node closes without reading one, and body bytes still unread at the close would make
 * the kernel reset the connection, which can discard the reply before the client reads
 * it. test_server_framing sends long chunk-size lines with a reader that tolerates that. */
static void test_chunked_without_role_rejected(void **state)
{
    static const char head[] = "POST /enroll/code HTTP/1.1\r\nHost: localhost\r\n"
                               "Content-Type: application/json\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n";
    raw_client *client = NULL;
    http_result result;

    (void)state;
    assert_int_equal(raw_connect(&server, "NORMAL", NULL, &client), 0);
    assert_int_equal(raw_exchange(client, head, &result), 0);
    assert_int_equal(result.status, 411);
    assert_string_equal(http_result_code(&result), "length_required");
    assert_non_null(strstr(result.headers, "Connection: close"));
    http_result_clear(&result);
    raw_close(&client);
}

/* Sends text as the issuer on a connection of its own and expects a 400 with code, and
 * with closes, a reply that closes the connection. */
static void expect_raw_400(const char *text, const char *code, bool closes)
{
    raw_client *client = NULL;
    http_result result;

    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_ISSUER, &client), 0);
    assert_int_equal(raw_exchange(client, text, &result), 0);
    assert_int_equal(result.status, 400);
    assert_string_equal(http_result_code(&result), code);
    if (closes)
        assert_non_null(strstr(result.headers, "Connection: close"));
    http_result_clear(&result);
    raw_close(&client);
}

/* A transfer coding other than one "chunked" is rejected at once with 400, where
 * libmicrohttpd would wait for a body it cannot frame until the connection timed out. */
static void test_other_transfer_coding_rejected(void **state)
{
    static const char *const codings[] = {
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        /* libmicrohttpd keeps white space after a value and then reads the body until
         * the connection closes. */
        "Transfer-Encoding: chunked  \r\n",
        "Transfer-Encoding: chunked\t\r\n",
    };
    char text[512];

    (void)state;
    for (size_t i = 0; i < sizeof(codings) / sizeof(codings[0]); i++) {
        snprintf(text, sizeof(text),
                 "POST /v1/credentials HTTP/1.1\r\nHost: localhost\r\n"
                 "Content-Type: application/json\r\n%s\r\n2\r\n{}\r\n0\r\n\r\n",
                 codings[i]);
        expect_raw_400(text, "transfer_encoding_unsupported", true);
    }
}

/* HTTP/1.0 has no transfer codings, so a chunked HTTP/1.0 request gets 400
 * (RFC 9112, section 6.1), where libmicrohttpd would read its body as chunked. */
static void test_chunked_http10_rejected(void **state)
{
    (void)state;
    expect_raw_400("POST /v1/credentials HTTP/1.0\r\nHost: localhost\r\n"
                   "Content-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n"
                   "2\r\n{}\r\n0\r\n\r\n",
                   "transfer_encoding_unsupported", false);
}

/* White space between a header name and its colon gets 400 content_length_invalid and
 * a close. libmicrohttpd would read "Transfer-Encoding : chunked" as another header and
 * the body as the next request, which a proxy that trims the name reads as a body. */
static void test_space_before_colon_rejected(void **state)
{
    (void)state;
    expect_raw_400("POST /v1/credentials HTTP/1.1\r\nHost: localhost\r\n"
                   "Content-Type: application/json\r\n"
                   "Transfer-Encoding : chunked\r\n\r\n"
                   "2\r\n{}\r\n0\r\n\r\n",
                   "content_length_invalid", true);
}

/* A Transfer-Encoding folded over two lines is obsolete (RFC 9112, section 5.2), and
 * libmicrohttpd drops it, so the POST arrives with no framing header. The node rejects
 * it and closes the connection, so that the body is not read as a second request. */
static void test_folded_coding_closes(void **state)
{
    raw_client *client = NULL;
    http_result result;

    (void)state;
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_ISSUER, &client), 0);
    assert_int_equal(raw_exchange(client,
                                  "POST /v1/credentials HTTP/1.1\r\nHost: localhost\r\n"
                                  "Content-Type: application/json\r\n"
                                  "Transfer-Encoding: gzip\r\n chunked\r\n\r\n"
                                  "GET /v1/issuers HTTP/1.1\r\nHost: x\r\n\r\n",
                                  &result),
                     0);
    assert_int_equal(result.status, 400);
    assert_non_null(strstr(result.headers, "Connection: close"));
    http_result_clear(&result);
    assert_int_equal(raw_read_end(client), 1);
    raw_close(&client);
}

/* Runs the daemon a second time on the same configuration and returns its exit status. */
static int run_second_daemon(const char *log_path)
{
    const char *daemon = getenv("IDSVC_DAEMON");
    pid_t pid;
    int status = 0;

    assert_non_null(daemon);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        dup2(fd, STDERR_FILENO);
        execl(daemon, "idsvc", "--config", server.config_path, (char *)NULL);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A second daemon on the node's database stops before it writes anything, so the
 * running node's audit log, whose frontier is in memory, stays whole. */
static void test_second_daemon_locked_out(void **state)
{
    char log_path[sizeof(server.log_path) + 8];
    http_result result;
    char *log;

    (void)state;
    snprintf(log_path, sizeof(log_path), "%s.2", server.log_path);
    assert_int_not_equal(run_second_daemon(log_path), 0);
    log = test_read_file(log_path, NULL);
    assert_non_null(log);
    if (strstr(log, "another idsvc process uses the database") == NULL)
        fail_msg("the second daemon did not report the lock:\n%s", log);
    free(log);

    /* The running node still records audit entries: an issuance is one. */
    assert_int_equal(harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                                  issue_body, &result),
                     0);
    assert_int_equal(result.status, 201);
    http_result_clear(&result);
}

typedef struct waiting_request {
    pthread_t thread;
    const char *body;
    atomic_long status; /* read by the test while the request may still run */
    char code[64];      /* the problem code, or "" */
} waiting_request;

static void *send_one_verification(void *arg)
{
    waiting_request *w = arg;
    raw_client *client = NULL;
    http_result result;

    if (raw_connect(&server, "NORMAL", CLIENT_RP, &client) == 0 &&
        raw_request(client, "POST", "/v1/verifications", w->body, &result) == 0) {
        atomic_store(&w->status, result.status);
        snprintf(w->code, sizeof(w->code), "%s", http_result_code(&result));
        http_result_clear(&result);
    }
    raw_close(&client);
    return NULL;
}

/* Returns errno of a TCP connection to the API port, or 0 when it was accepted. */
static int connect_errno(void)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rc;

    address.sin_port = htons((uint16_t)server.port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = connect(fd, (struct sockaddr *)&address, sizeof(address)) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

/* While a verification waits for its commit, SIGTERM closes the listening socket at
 * once: new clients are refused instead of waiting in the backlog until the stop. */
static void test_stop_refuses_new_connections(void **state)
{
    static waiting_request waiting; /* static: the thread may outlive a failed check */
    sqlite3 *db = NULL;

    (void)state;
    prepare_verification();
    waiting = (waiting_request){.body = verification};

    /* Another connection keeps a write transaction open, so the verification's commit
     * waits. */
    assert_int_equal(sqlite3_open(server.db_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(pthread_create(&waiting.thread, NULL, send_one_verification, &waiting),
                     0);
    usleep(500 * 1000);
    assert_int_equal(kill(server.pid, SIGTERM), 0);
    usleep(300 * 1000);
    assert_int_equal(connect_errno(), ECONNREFUSED);

    /* The waiting verification still completes once the database is free. */
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    pthread_join(waiting.thread, NULL);
    assert_int_equal(atomic_load(&waiting.status), 200);
    assert_int_equal(harness_stop(&server, SIGTERM), 0);
    free(verification);
    verification = NULL;
    assert_int_equal(harness_start(&server), 0);
}

static double now_seconds(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + now.tv_nsec / 1e9;
}

/* Returns a TCP connection to the API port that sends nothing, or -1. */
static int open_silent_connection(void)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    address.sin_port = htons((uint16_t)server.port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Sends SIGTERM and waits up to limit seconds. Returns the exit status, or -1 after
 * killing a daemon that did not stop in time. */
static int stop_within(double limit)
{
    double started = now_seconds();
    int status = 0;

    kill(server.pid, SIGTERM);
    while (now_seconds() - started < limit) {
        if (waitpid(server.pid, &status, WNOHANG) == server.pid) {
            server.pid = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(20 * 1000);
    }
    harness_stop(&server, SIGKILL);
    return -1;
}

/*
 * A burst of connections past [limits] max_connections waits in the backlog and leaves
 * every worker serving. libmicrohttpd 0.9.75 locks up a worker that is handed more than
 * its share of the limit, so the node must never hand it one.
 */
static void test_burst_past_connection_limit(void **state)
{
    enum { BURST = 12 };
    int fds[BURST];
    http_result health = {0};

    (void)state;
    assert_int_equal(harness_stop(&server, SIGTERM), 0);
    /* The harness file sets threads = 2 already, and a key is given once per section. */
    assert_int_equal(harness_append_config(&server, "\n[limits]\nmax_connections = 2\n"), 0);
    assert_int_equal(harness_start(&server), 0);

    for (int i = 0; i < BURST; i++)
        fds[i] = open_silent_connection();
    usleep(300 * 1000);
    for (int i = 0; i < BURST; i++) {
        assert_true(fds[i] >= 0);
        close(fds[i]);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(harness_curl(&server, NULL, "GET", "/healthz", NULL, NULL, &health),
                         0);
        assert_int_equal(health.status, 200);
        http_result_clear(&health);
    }
    assert_int_equal(stop_within(STOP_SECONDS_MAX), 0);
    assert_int_equal(set_config_line("max_connections = 2", "max_connections = 1024"), 0);
    assert_int_equal(harness_start(&server), 0);
}

/*
 * Under a low open-file limit the node logs connection_limit_lowered and takes fewer
 * connections than max_connections, and a burst past that leaves it serving. The reserve
 * keeps the descriptors that SoftHSM2 needs to open its token file for the TLS key. A
 * node that ran out of them during handshakes never completed a handshake again.
 */
static void test_descriptor_limit_keeps_reserve(void **state)
{
    enum { BURST = 250 };
    const char *daemon = getenv("IDSVC_DAEMON");
    char real[PATH_MAX];
    char wrapper[PATH_MAX + 64];
    char script[2 * PATH_MAX];
    int fds[BURST];
    http_result health = {0};
    char *log;
    FILE *file;

    (void)state;
    assert_non_null(daemon);
    snprintf(real, sizeof(real), "%s", daemon);
    snprintf(wrapper, sizeof(wrapper), "%s/idsvc-low-nofile", server.token.dir);
    snprintf(script, sizeof(script), "#!/bin/sh\nulimit -n 200\nexec '%s' \"$@\"\n", real);
    file = fopen(wrapper, "w");
    assert_non_null(file);
    assert_int_equal(fputs(script, file) >= 0, 1);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(chmod(wrapper, 0700), 0);

    assert_int_equal(harness_stop(&server, SIGTERM), 0);
    assert_int_equal(setenv("IDSVC_DAEMON", wrapper, 1), 0);
    assert_int_equal(harness_start(&server), 0);
    assert_int_equal(setenv("IDSVC_DAEMON", real, 1), 0);
    log = harness_wait_for_log(&server, "connection_limit_lowered");
    assert_non_null(log);
    assert_non_null(strstr(log, "connection_limit_lowered"));
    free(log);

    for (int i = 0; i < BURST; i++)
        fds[i] = open_silent_connection();
    usleep(500 * 1000);
    for (int i = 0; i < BURST; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    usleep(300 * 1000);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(harness_curl(&server, NULL, "GET", "/healthz", NULL, NULL, &health),
                         0);
        assert_int_equal(health.status, 200);
        http_result_clear(&health);
    }
    assert_int_equal(stop_within(STOP_SECONDS_MAX), 0);
    assert_int_equal(harness_start(&server), 0);
}

/* Restarts the node with the given number of worker threads. */
static void restart_with_threads(int threads)
{
    char text[64];

    snprintf(text, sizeof(text), "threads = %d", threads);
    assert_int_equal(harness_stop(&server, SIGTERM), 0);
    assert_int_equal(set_config_line("threads = [0-9]*", text), 0);
    assert_int_equal(harness_start(&server), 0);
}

/*
 * With one worker thread, a rejected verification whose audit entry waits for a locked
 * database does not hold the worker: another connection is served meanwhile, and the
 * rejection's 422 goes out with its own code once the database is free.
 */
static void test_rejection_leaves_worker_free(void **state)
{
    static waiting_request waiting; /* static: the thread may outlive a failed check */
    char *name = NULL;
    sqlite3 *db = NULL;
    http_result health;
    double started;

    (void)state;
    restart_with_threads(1);
    prepare_verification();
    /* A changed claim value breaks the digest: 422 digest_mismatch. */
    name = strstr(verification, ">Wei Ling<");
    assert_non_null(name);
    name[1] = 'V';
    waiting = (waiting_request){.body = verification};

    assert_int_equal(sqlite3_open(server.db_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(pthread_create(&waiting.thread, NULL, send_one_verification, &waiting),
                     0);
    usleep(500 * 1000);
    started = now_seconds();
    assert_int_equal(harness_curl(&server, NULL, "GET", "/healthz", NULL, NULL, &health), 0);
    assert_int_equal(health.status, 200);
    assert_true(now_seconds() - started < 1.0);
    http_result_clear(&health);
    /* Still waiting: the reply goes out only once the entry is committed. */
    assert_int_equal(atomic_load(&waiting.status), 0);

    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    pthread_join(waiting.thread, NULL);
    assert_int_equal(atomic_load(&waiting.status), 422);
    assert_string_equal(waiting.code, "digest_mismatch");
    free(verification);
    verification = NULL;
    restart_with_threads(2);
}

typedef struct sender {
    pthread_t thread;
    size_t ok;       /* 200, or 422 replayed */
    size_t stopping; /* 503 node_stopping */
    size_t other;    /* any other complete response, which must not occur */
    long other_status;
} sender;

/*
 * Sends one assertion again and again on one keep-alive connection until the node
 * closes it. The first presentation is accepted and every later one rejected as
 * replayed, each after a full verification and signature, so requests stay in flight
 * for milliseconds, as real ones do.
 */
static void *send_until_closed(void *arg)
{
    sender *s = arg;
    raw_client *client = NULL;
    http_result result;

    if (raw_connect(&server, "NORMAL", CLIENT_RP, &client) != 0) {
        raw_close(&client);
        return NULL;
    }
    while (raw_request(client, "POST", "/v1/verifications", verification, &result) == 0) {
        const char *code = http_result_code(&result);

        if (result.status == 200 ||
            (result.status == 422 && code != NULL && strcmp(code, "replayed") == 0)) {
            s->ok++;
        } else if (result.status == 503 && code != NULL && strcmp(code, "node_stopping") == 0) {
            s->stopping++;
        } else {
            s->other++;
            s->other_status = result.status;
        }
        http_result_clear(&result);
    }
    raw_close(&client);
    return NULL;
}

static void test_sigterm_under_keepalive_load(void **state)
{
    sender senders[CLIENT_THREADS];
    size_t ok = 0;
    size_t stopping = 0;
    double started;
    double stopped;
    char *log;

    (void)state;
    prepare_verification();
    memset(senders, 0, sizeof(senders));
    for (int i = 0; i < CLIENT_THREADS; i++)
        assert_int_equal(pthread_create(&senders[i].thread, NULL, send_until_closed,
                                        &senders[i]),
                         0);
    sleep(1);
    started = now_seconds();
    assert_int_equal(harness_stop(&server, SIGTERM), 0);
    stopped = now_seconds();
    for (int i = 0; i < CLIENT_THREADS; i++) {
        pthread_join(senders[i].thread, NULL);
        ok += senders[i].ok;
        stopping += senders[i].stopping;
        if (senders[i].other > 0)
            fail_msg("client %d got status %ld while the node stopped", i,
                     senders[i].other_status);
    }
    print_message("    %zu requests answered, %zu refused as node_stopping, stop took %.2f s\n",
                  ok, stopping, stopped - started);

    assert_true(ok > 0);
    assert_true(stopped - started < STOP_SECONDS_MAX);
    log = test_read_file(server.log_path, NULL);
    assert_non_null(log);
    assert_null(strstr(log, "\"event\":\"drain_timeout\""));
    assert_non_null(strstr(log, "\"event\":\"stopped\""));
    /* The stop signs the last entries before it logs that it stopped. */
    assert_non_null(strstr(log, "\"event\":\"audit_checkpoint_signed\""));
    assert_true(strstr(strrchr(log, '{'), "\"event\":\"stopped\"") != NULL);
    free(log);
    free(verification);
}

#define LATE_CLIENTS 24

typedef struct late_sender {
    pthread_t thread;
    raw_client *client;
    pthread_barrier_t *start;
    long status; /* 0 when no reply came */
} late_sender;

static void *send_after_barrier(void *arg)
{
    late_sender *s = arg;
    http_result result;

    pthread_barrier_wait(s->start);
    if (raw_request(s->client, "POST", "/v1/verifications", verification, &result) == 0) {
        s->status = result.status;
        http_result_clear(&result);
    }
    return NULL;
}

/*
 * Requests sent a moment before SIGTERM get a reply each: their own, or 503
 * node_stopping. Requests that no handler had reached yet used to be dropped with their
 * connections when the stop found nothing running.
 */
static void test_sigterm_answers_late_requests(void **state)
{
    static late_sender senders[LATE_CLIENTS]; /* static: threads may outlive a failure */
    pthread_barrier_t start;
    int unanswered = 0;

    (void)state;
    prepare_verification();
    assert_int_equal(pthread_barrier_init(&start, NULL, LATE_CLIENTS + 1), 0);
    for (int i = 0; i < LATE_CLIENTS; i++) {
        senders[i] = (late_sender){.start = &start};
        assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_RP, &senders[i].client), 0);
        assert_int_equal(
            pthread_create(&senders[i].thread, NULL, send_after_barrier, &senders[i]), 0);
    }
    pthread_barrier_wait(&start);
    usleep(3 * 1000);
    assert_int_equal(harness_stop(&server, SIGTERM), 0);
    for (int i = 0; i < LATE_CLIENTS; i++) {
        pthread_join(senders[i].thread, NULL);
        raw_close(&senders[i].client);
        unanswered += senders[i].status == 0;
    }
    pthread_barrier_destroy(&start);
    print_message("    %d of %d late requests got no reply\n", unanswered, LATE_CLIENTS);
    assert_int_equal(unanswered, 0);
    free(verification);
    verification = NULL;
    assert_int_equal(harness_start(&server), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_like_get_without_body),
        cmocka_unit_test(test_workers_use_epoll),
        cmocka_unit_test(test_chunked_with_length_rejected),
        cmocka_unit_test(test_chunked_without_role_rejected),
        cmocka_unit_test(test_other_transfer_coding_rejected),
        cmocka_unit_test(test_folded_coding_closes),
        cmocka_unit_test(test_space_before_colon_rejected),
        cmocka_unit_test(test_chunked_http10_rejected),
        cmocka_unit_test(test_second_daemon_locked_out),
        cmocka_unit_test(test_conflicting_lengths_rejected),
        cmocka_unit_test(test_stop_refuses_new_connections),
        cmocka_unit_test(test_burst_past_connection_limit),
        cmocka_unit_test(test_descriptor_limit_keeps_reserve),
        cmocka_unit_test(test_rejection_leaves_worker_free),
        cmocka_unit_test(test_sigterm_answers_late_requests),
        cmocka_unit_test(test_sigterm_under_keepalive_load),
    };

    /* Writes to a connection that the stopping node closed must fail, not end the
     * test. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
