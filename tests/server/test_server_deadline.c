/*
 * Request deadlines: a client that sends its request a byte at a time, never idle for
 * [limits] connection_timeout, loses its connection at that timeout after the start of
 * the connection or the end of its previous request. A client that sends whole
 * requests keeps its keep-alive connection past the timeout.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server_harness.h"
#include "test_token.h"

#define TIMEOUT_SECONDS 2
#define TRICKLE_INTERVAL_MS 300
#define TRICKLE_SECONDS_MAX 8.0

/* TLS 1.2, because a TLS 1.3 server may send session tickets after the handshake, and a
 * ticket would read as data from the server while the test waits for the close. */
#define PRIORITY_TLS12 "NORMAL:-VERS-ALL:+VERS-TLS1.2"

static harness server;

/* A request head whose 64-byte body the tests send a byte at a time. */
static const char body_head[] = "POST /v1/credentials HTTP/1.1\r\nHost: localhost\r\n"
                                "Content-Type: application/json\r\n"
                                "Content-Length: 64\r\n\r\n";

/* Sets up and starts a daemon with a connection_timeout of TIMEOUT_SECONDS. */
static int start_daemon(harness *h)
{
    if (harness_setup(h) != 0)
        return -1;
    if (harness_run(
            "sed -i 's/^threads = 2$/threads = 2\\nconnection_timeout = %d/' '%s'",
            TIMEOUT_SECONDS, h->config_path) != 0 ||
        harness_start(h) != 0) {
        harness_teardown(h);
        return -1;
    }
    return 0;
}

static int start_server(void **state)
{
    (void)state;
    return start_daemon(&server);
}

static int stop_server(void **state)
{
    (void)state;
    return harness_finish(&server);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Sends text a byte at a time, one every TRICKLE_INTERVAL_MS, then nothing, until the
 * server ends the connection. Returns the seconds from start to the end, or a negative
 * number when the server sent data or kept the connection for TRICKLE_SECONDS_MAX. */
static double trickle_until_closed(raw_client *client, const char *text,
                                   const struct timespec *start)
{
    size_t sent = 0;
    size_t len = strlen(text);

    while (seconds_since(start) < TRICKLE_SECONDS_MAX) {
        int end;

        if (sent < len && raw_send(client, text + sent, 1) == 0)
            sent++;
        end = raw_wait_end(client, TRICKLE_INTERVAL_MS);
        if (end == 1)
            return seconds_since(start);
        if (end == 0) {
            print_error("the server sent data after %zu bytes of the request\n", sent);
            return -1.0;
        }
    }
    return -2.0;
}

/* Returns the idsvc_request_timeouts_total sample of GET /metrics. */
static long request_timeouts(void)
{
    http_result result;
    const char *sample;
    long value = -1;

    harness_curl(&server, CLIENT_REGULATOR, "GET", "/metrics", NULL, NULL, &result);
    assert_int_equal(result.status, 200);
    sample = strstr(result.body, "\nidsvc_request_timeouts_total ");
    assert_non_null(sample);
    value = strtol(sample + strlen("\nidsvc_request_timeouts_total "), NULL, 10);
    http_result_clear(&result);
    return value;
}

/* Trickles text on a new connection and checks that the node ends the connection at the
 * timeout after its start, with a log line and a count in GET /metrics. */
static void check_trickle_closed(const char *text)
{
    raw_client *client = NULL;
    struct timespec start;
    long timeouts_before = request_timeouts();
    double closed_after;
    char *log;

    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(raw_connect(&server, PRIORITY_TLS12, CLIENT_ISSUER, &client), 0);
    closed_after = trickle_until_closed(client, text, &start);
    raw_close(&client);

    if (closed_after < 0)
        fail_msg("the connection stayed open for %.0f seconds while the request trickled "
                 "in (result %.0f)",
                 TRICKLE_SECONDS_MAX, closed_after);
    assert_true(closed_after >= TIMEOUT_SECONDS - 0.1);
    /* The sweep runs once a second, and a loaded machine may add a second more. */
    assert_true(closed_after <= TIMEOUT_SECONDS + 2.5);
    log = harness_wait_for_log(&server, "\"event\":\"request_timeout\"");
    assert_non_null(log);
    assert_non_null(strstr(log, "closed 1 connection(s) that sent no whole request "
                                "within connection_timeout (2 s)"));
    assert_non_null(strstr(log, "the first from 127.0.0.1"));
    free(log);
    assert_int_equal(request_timeouts(), timeouts_before + 1);
}

/* A request head that arrives a byte every 300 ms is never idle for the timeout. */
static void test_slow_head_closed(void **state)
{
    (void)state;
    check_trickle_closed("GET /v1/issuers HTTP/1.1\r\nHost: localhost\r\n"
                         "Accept: application/json\r\nUser-Agent: slow\r\n\r\n");
}

/* The same for a body whose head arrived at once. */
static void test_slow_body_closed(void **state)
{
    raw_client *client = NULL;
    struct timespec start;
    double closed_after;

    (void)state;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(raw_connect(&server, PRIORITY_TLS12, CLIENT_ISSUER, &client), 0);
    assert_int_equal(raw_send(client, body_head, strlen(body_head)), 0);
    closed_after = trickle_until_closed(
        client,
        "{\"subject\":\"SG-S7654321A\",\"attributes\":{\"given_name\":\"W\"}}    ",
        &start);
    raw_close(&client);
    if (closed_after < 0)
        fail_msg("the connection stayed open while the body trickled in (result %.0f)",
                 closed_after);
    assert_true(closed_after >= TIMEOUT_SECONDS - 0.1);
    assert_true(closed_after <= TIMEOUT_SECONDS + 2.5);
}

/* Whole requests, one every 400 ms for twice the timeout, each restart the deadline. */
static void test_steady_client_kept(void **state)
{
    raw_client *client = NULL;
    struct timespec start;
    int requests = 0;

    (void)state;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(raw_connect(&server, PRIORITY_TLS12, CLIENT_ISSUER, &client), 0);
    while (seconds_since(&start) < 2.0 * TIMEOUT_SECONDS) {
        http_result result;

        assert_int_equal(raw_request(client, "GET", "/v1/issuers", NULL, &result), 0);
        assert_int_equal(result.status, 200);
        http_result_clear(&result);
        requests++;
        usleep(400 * 1000);
    }
    raw_close(&client);
    assert_true(requests >= 8);
}

/* Sends SIGTERM to the daemon of h and a byte of client's body every TRICKLE_INTERVAL_MS
 * until the daemon exits. Returns the seconds from start to the exit, or a negative
 * number when the daemon still ran after TRICKLE_SECONDS_MAX or exited with an error. */
static double stop_while_trickling(harness *h, raw_client *client,
                                   const struct timespec *start)
{
    int status = -1;

    kill(h->pid, SIGTERM);
    while (seconds_since(start) < TRICKLE_SECONDS_MAX) {
        /* The send fails once the node has shut the connection down. */
        raw_send(client, " ", 1);
        usleep(TRICKLE_INTERVAL_MS * 1000);
        if (waitpid(h->pid, &status, WNOHANG) != h->pid)
            continue;
        h->pid = -1;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            print_error("the daemon ended with wait status %d after SIGTERM\n", status);
            return -1.0;
        }
        return seconds_since(start);
    }
    return -2.0;
}

/* The stop ends the accept thread, which sweeps the deadlines, and then waits up to
 * 10 seconds for the requests in flight. A body that trickles in must still lose its
 * connection at its deadline, so the stop does not wait those 10 seconds for it. */
static void test_stop_cuts_slow_body(void **state)
{
    harness stopping;
    raw_client *client = NULL;
    struct timespec start;
    double stopped_after;
    int timeout_lines;
    int drain_timeout_lines;

    (void)state;
    assert_int_equal(start_daemon(&stopping), 0);
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(raw_connect(&stopping, PRIORITY_TLS12, CLIENT_ISSUER, &client), 0);
    assert_int_equal(raw_send(client, body_head, strlen(body_head)), 0);
    /* The request is in flight once the node has read its head. */
    usleep(TRICKLE_INTERVAL_MS * 1000);
    stopped_after = stop_while_trickling(&stopping, client, &start);
    raw_close(&client);

    if (stopped_after < 0)
        harness_dump_log(&stopping);
    timeout_lines = harness_count_log(&stopping, "\"event\":\"request_timeout\"");
    drain_timeout_lines = harness_count_log(&stopping, "\"event\":\"drain_timeout\"");
    harness_teardown(&stopping);

    if (stopped_after < 0)
        fail_msg("the daemon did not stop within %.0f seconds while a body trickled in "
                 "(result %.0f)",
                 TRICKLE_SECONDS_MAX, stopped_after);
    assert_true(stopped_after <= TIMEOUT_SECONDS + 2.5);
    assert_int_equal(timeout_lines, 1);
    assert_int_equal(drain_timeout_lines, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_head_closed),
        cmocka_unit_test(test_slow_body_closed),
        cmocka_unit_test(test_steady_client_kept),
        cmocka_unit_test(test_stop_cuts_slow_body),
    };

    /* A send on a connection that the node shut down must fail, not end the test. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
