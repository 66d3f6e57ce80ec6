/*
 * The two listeners of [server] public_port. The API port rejects a TLS handshake
 * without a client certificate, and the daemon log gives the reason. The public port
 * serves the public routes to clients without one and replies 421 to the API routes.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>

#include "server_harness.h"
#include "test_token.h"

static harness server;
static unsigned public_port;

static int start_server(void **state)
{
    char text[64];

    (void)state;
    public_port = harness_free_port();
    snprintf(text, sizeof(text), "\n[server]\npublic_port = %u\n", public_port);
    if (public_port == 0 || harness_setup(&server) != 0 ||
        harness_append_config(&server, text) != 0 || harness_start(&server) != 0) {
        harness_dump_log(&server);
        harness_teardown(&server);
        return -1;
    }
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    harness_teardown(&server);
    return 0;
}

static void expect_status(raw_client *client, const char *method, const char *path,
                          const char *body, long status, const char *code)
{
    http_result result;

    assert_int_equal(raw_request(client, method, path, body, &result), 0);
    if (result.status != status)
        fprintf(stderr, "%s %s: %ld %s\n", method, path, result.status,
                result.body != NULL ? result.body : "");
    assert_int_equal(result.status, status);
    if (code != NULL)
        assert_string_equal(http_result_code(&result), code);
    http_result_clear(&result);
}

/*
 * Connects to the API port and checks that the server rejected the client, and why.
 * libmicrohttpd closes a failed handshake without an alert, so the reason is the one
 * the daemon logs. A TLS 1.2 client sees the failure in the handshake. A TLS 1.3
 * client finishes its side of the handshake before the server has checked its
 * certificate, so it reads the end of the connection instead of a response.
 */
static void expect_handshake_rejected(const char *priority, const char *client_name,
                                      const char *reason)
{
    raw_client *client = NULL;
    int rc = raw_connect_port(&server, server.port, priority, client_name, &client);
    char *log;

    if (rc == 0)
        assert_int_equal(raw_read_end(client), 1);
    else
        assert_true(rc < 0);
    raw_close(&client);

    log = harness_wait_for_log(&server, reason);
    if (log == NULL || strstr(log, reason) == NULL)
        fail_msg("no \"%s\" in the daemon log:\n%s", reason, log != NULL ? log : "");
    assert_non_null(strstr(log, "\"event\":\"tls_handshake_failed\""));
    free(log);
}

#define TLS13 "NORMAL:-VERS-ALL:+VERS-TLS1.3"
#define TLS12 "NORMAL:-VERS-ALL:+VERS-TLS1.2"
#define NO_CERTIFICATE "none was offered, and the API port requires one"

static void test_api_port_rejects_no_certificate(void **state)
{
    (void)state;
    expect_handshake_rejected(TLS13, NULL, NO_CERTIFICATE);
    truncate(server.log_path, 0);
    expect_handshake_rejected(TLS12, NULL, NO_CERTIFICATE);
}

/* GnuTLS as a client offers no certificate whose issuer is missing from the server's
 * list of acceptable CAs, so a certificate of an unknown CA arrives as none. curl sends
 * it anyway; test_server_api checks that case on a shared port. */
static void test_api_port_rejects_unknown_ca(void **state)
{
    (void)state;
    truncate(server.log_path, 0);
    expect_handshake_rejected(TLS13, CLIENT_ROGUE, NO_CERTIFICATE);
    truncate(server.log_path, 0);
    expect_handshake_rejected(TLS12, CLIENT_ROGUE, NO_CERTIFICATE);
}

static void test_api_port_serves_certified_client(void **state)
{
    raw_client *client = NULL;

    (void)state;
    assert_int_equal(raw_connect_port(&server, server.port, "NORMAL", CLIENT_RP, &client), 0);
    expect_status(client, "GET", "/v1/issuers", NULL, 200, NULL);
    expect_status(client, "GET", "/healthz", NULL, 200, NULL);
    raw_close(&client);
}

static void test_public_port_serves_public_routes(void **state)
{
    raw_client *client = NULL;

    (void)state;
    assert_int_equal(raw_connect_port(&server, public_port, "NORMAL", NULL, &client), 0);
    expect_status(client, "GET", "/healthz", NULL, 200, NULL);
    expect_status(client, "GET", "/saml/metadata", NULL, 200, NULL);
    expect_status(client, "GET", "/v1/issuers", NULL, 421, "api_listener_required");
    expect_status(client, "POST", "/v1/verifications", "{}", 421, "api_listener_required");
    expect_status(client, "GET", "/no/such/route", NULL, 404, "route_not_found");
    raw_close(&client);
}

/* The public port requests no certificate, so one offered there grants no role. */
static void test_public_port_ignores_certificates(void **state)
{
    raw_client *client = NULL;

    (void)state;
    assert_int_equal(raw_connect_port(&server, public_port, "NORMAL", CLIENT_RP, &client), 0);
    expect_status(client, "GET", "/v1/issuers", NULL, 421, "api_listener_required");
    raw_close(&client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_port_rejects_no_certificate),
        cmocka_unit_test(test_api_port_rejects_unknown_ca),
        cmocka_unit_test(test_api_port_serves_certified_client),
        cmocka_unit_test(test_public_port_serves_public_routes),
        cmocka_unit_test(test_public_port_ignores_certificates),
    };

    /* A write to a connection that the server closed must fail, not end the test. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
