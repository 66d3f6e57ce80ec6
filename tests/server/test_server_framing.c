/*
 * Malformed HTTP framing over real mutual TLS: the node's own replies, with a problem
 * document, and the replies that libmicrohttpd 0.9.75 still sends itself, with an HTML
 * body or none, before any callback of the node runs. After each case the daemon must
 * still serve a new connection.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server_harness.h"

/* Longer than libmicrohttpd's connection memory pool, 32 KiB by default. */
#define PAST_POOL_BYTES (40 * 1024)
#define READ_TIMEOUT_MS 3000

#define POST_HEAD                                                                        \
    "POST /v1/credentials HTTP/1.1\r\nHost: localhost\r\n"                               \
    "Content-Type: application/json\r\n"
#define CHUNKED_HEAD POST_HEAD "Transfer-Encoding: chunked\r\n\r\n"

static harness server;

static int start_server(void **state)
{
    (void)state;
    return harness_begin(&server);
}

static int stop_server(void **state)
{
    (void)state;
    return harness_finish(&server);
}

/* Returns prefix, then count copies of filler, then suffix, in a new string. */
static char *make_padded(const char *prefix, char filler, size_t count,
                         const char *suffix)
{
    size_t prefix_len = strlen(prefix);
    size_t suffix_len = strlen(suffix);
    char *text = malloc(prefix_len + count + suffix_len + 1);

    assert_non_null(text);
    memcpy(text, prefix, prefix_len);
    memset(text + prefix_len, filler, count);
    memcpy(text + prefix_len + count, suffix, suffix_len + 1);
    return text;
}

/* Returns a GET request with count extra header lines, in a new string. */
static char *make_many_headers(size_t count)
{
    static const char head[] = "GET /v1/issuers HTTP/1.1\r\nHost: localhost\r\n";
    char *text = malloc(sizeof(head) + count * 24 + 3);
    size_t len = sizeof(head) - 1;

    assert_non_null(text);
    memcpy(text, head, len);
    for (size_t i = 0; i < count; i++)
        len += (size_t)sprintf(text + len, "X-Filler-%zu: a\r\n", i);
    strcpy(text + len, "\r\n");
    return text;
}

/* Returns a GET request whose one Cookie header has count cookies "a=b", in a new
 * string. */
static char *make_many_cookies(size_t count)
{
    static const char head[] = "GET /v1/issuers HTTP/1.1\r\nHost: localhost\r\nCookie: a=b";
    char *text = malloc(sizeof(head) + count * 5 + 8);
    size_t len = sizeof(head) - 1;

    assert_non_null(text);
    memcpy(text, head, len);
    for (size_t i = 1; i < count; i++)
        len += (size_t)sprintf(text + len, "; a=b");
    strcpy(text + len, "\r\n\r\n");
    return text;
}

/* Returns a GET request with count query arguments such as "a1", in a new string. */
static char *make_many_arguments(size_t count)
{
    static const char tail[] = " HTTP/1.1\r\nHost: localhost\r\n\r\n";
    char *text = malloc(sizeof(tail) + count * 24 + 32);
    size_t len;

    assert_non_null(text);
    len = (size_t)sprintf(text, "GET /v1/issuers?a0");
    for (size_t i = 1; i < count; i++)
        len += (size_t)sprintf(text + len, "&a%zu", i);
    strcpy(text + len, tail);
    return text;
}

/* Returns the number of status lines in a reply. libmicrohttpd 0.9.75 sends some
 * twice. */
static unsigned count_status_lines(const char *reply)
{
    unsigned count = 0;

    for (const char *at = reply; (at = strstr(at, "HTTP/1.1 ")) != NULL; at++)
        count++;
    return count;
}

/* Fails unless a new connection still gets 200 from GET /v1/issuers. */
static void assert_still_serving(const char *after)
{
    raw_client *client = NULL;
    http_result result;

    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_RP, &client), 0);
    assert_int_equal(raw_request(client, "GET", "/v1/issuers", NULL, &result), 0);
    if (result.status != 200)
        fail_msg("after %s, GET /v1/issuers got %ld", after, result.status);
    http_result_clear(&result);
    raw_close(&client);
}

/* Sends text as client on a new connection and returns all that arrives until the
 * server closes it or READ_TIMEOUT_MS pass. *closed is true when the server closed it. */
static char *exchange(const char *client, const char *text, bool *closed)
{
    raw_client *connection = NULL;
    char *reply;

    assert_int_equal(raw_connect(&server, "NORMAL", client, &connection), 0);
    reply = raw_exchange_bytes(connection, text, strlen(text), READ_TIMEOUT_MS, closed);
    raw_close(&connection);
    assert_non_null(reply);
    return reply;
}

/* Returns the status of the first status line of reply, or 0 when there is none. */
static long reply_status(const char *reply)
{
    if (strncmp(reply, "HTTP/1.1 ", 9) != 0)
        return 0;
    return strtol(reply + 9, NULL, 10);
}

typedef struct framing_case {
    const char *name;
    char *text;
} framing_case;

/* Checks one reply of the node's own: status with the problem code, Connection: close,
 * and the closed connection. Prints each mismatch and returns the number found. */
static unsigned check_node_reply(const char *name, const char *reply, bool closed,
                                 long status, const char *code)
{
    unsigned mismatches = 0;

    if (reply_status(reply) != status) {
        print_error("%s: expected %ld, got \"%.60s\"\n", name, status, reply);
        return 1;
    }
    if (strstr(reply, code) == NULL) {
        print_error("%s: the reply lacks the code %s\n", name, code);
        mismatches++;
    }
    if (strstr(reply, "Content-Type: application/problem+json") == NULL) {
        print_error("%s: the reply is not application/problem+json\n", name);
        mismatches++;
    }
    if (strstr(reply, "Connection: close") == NULL || !closed) {
        print_error("%s: the connection stayed open after the reply\n", name);
        mismatches++;
    }
    return mismatches;
}

/* Sends each case as client on a connection of its own and expects the node's reply
 * with status and code, and a daemon that still serves afterwards. Every case runs, so
 * that a failure lists each case that went wrong. */
static void expect_node_replies(const char *client, framing_case *cases, size_t count,
                                long status, const char *code)
{
    unsigned mismatches = 0;

    for (size_t i = 0; i < count; i++) {
        bool closed = false;
        char *reply = exchange(client, cases[i].text, &closed);

        mismatches += check_node_reply(cases[i].name, reply, closed, status, code);
        free(reply);
        free(cases[i].text);
        assert_still_serving(cases[i].name);
    }
    assert_int_equal(mismatches, 0);
}

/* A chunked body gets 411 length_required from every caller, a caller with a role
 * included, before libmicrohttpd parses any of it. Without that, libmicrohttpd responds
 * to each malformed chunk with its own HTML 400, 413 or 431, and a chunk-size line longer
 * than its connection pool with an HTML 500. */
static void test_chunked_rejected_for_role(void **state)
{
    framing_case cases[] = {
        {"valid chunks", strdup(CHUNKED_HEAD "2\r\n{}\r\n0\r\n\r\n")},
        {"chunk size not hexadecimal", strdup(CHUNKED_HEAD "zz\r\n{}\r\n0\r\n\r\n")},
        {"chunk size missing", strdup(CHUNKED_HEAD "\r\n{}\r\n0\r\n\r\n")},
        {"chunk size past 64 bits",
         strdup(CHUNKED_HEAD "fffffffffffffffff1\r\n{}\r\n0\r\n\r\n")},
        {"no CRLF after chunk data", strdup(CHUNKED_HEAD "2\r\n{}XX0\r\n\r\n")},
        {"chunk size with 40 KiB of zeros",
         make_padded(CHUNKED_HEAD, '0', PAST_POOL_BYTES, "2\r\n{}\r\n0\r\n\r\n")},
        {"chunk extension of 40 KiB",
         make_padded(CHUNKED_HEAD "2;", 'x', PAST_POOL_BYTES, "\r\n{}\r\n0\r\n\r\n")},
        {"trailer without colon", strdup(CHUNKED_HEAD "2\r\n{}\r\n0\r\nBogus\r\n\r\n")},
        {"trailer of 40 KiB", make_padded(CHUNKED_HEAD "2\r\n{}\r\n0\r\nX-Trailer: ", 'a',
                                          PAST_POOL_BYTES, "\r\n\r\n")},
    };

    (void)state;
    expect_node_replies(CLIENT_ISSUER, cases, sizeof(cases) / sizeof(cases[0]), 411,
                        "\"length_required\"");
}

/* A GET with a chunked body gets the 411 too, on a public route and on an API route. */
static void test_chunked_get_rejected(void **state)
{
    framing_case cases[] = {
        {"GET /healthz chunked", strdup("GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                                        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")},
        {"GET /v1/issuers chunked",
         strdup("GET /v1/issuers HTTP/1.1\r\nHost: localhost\r\n"
                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")},
    };

    (void)state;
    expect_node_replies(CLIENT_RP, cases, sizeof(cases) / sizeof(cases[0]), 411,
                        "\"length_required\"");
}

/* The 411 reaches a client that sends a large chunked body at once, although the node
 * closes the connection without reading the body. */
static void test_large_chunked_body_gets_411(void **state)
{
    framing_case cases[] = {
        {"chunk of 192 KiB",
         make_padded(CHUNKED_HEAD "30000\r\n", ' ', 3 * 65536, "\r\n0\r\n\r\n")},
    };

    (void)state;
    expect_node_replies(CLIENT_ISSUER, cases, 1, 411, "\"length_required\"");
}

/* Transfer-Encoding with Content-Length gets the node's 400 even when the chunked data
 * is malformed, to which libmicrohttpd would respond with an HTML 400 first. */
static void test_length_with_bad_chunks_rejected(void **state)
{
    framing_case cases[] = {
        {"Content-Length and a bad chunk",
         strdup(POST_HEAD
                "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nzz\r\n")},
    };

    (void)state;
    expect_node_replies(CLIENT_ISSUER, cases, 1, 400, "\"content_length_invalid\"");
}

/* A Transfer-Encoding or Content-Length header folded onto a second line (obs-fold)
 * gets 400 content_length_invalid. libmicrohttpd 0.9.75 appends the folded line to the
 * header's name and so frames no body. A proxy that unfolds the line reads a chunked body
 * or a length, so the two would disagree on where the next request starts. */
static void test_folded_framing_header_rejected(void **state)
{
    framing_case cases[] = {
        {"POST with Transfer-Encoding folded",
         strdup(POST_HEAD "Transfer-Encoding:\r\n chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")},
        {"GET with Transfer-Encoding folded",
         strdup("GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                "Transfer-Encoding:\r\n\tchunked\r\n\r\n0\r\n\r\n")},
        {"POST with Content-Length folded",
         strdup(POST_HEAD "Content-Length:\r\n 2\r\n\r\n{}")},
    };

    (void)state;
    expect_node_replies(CLIENT_ISSUER, cases, sizeof(cases) / sizeof(cases[0]), 400,
                        "\"content_length_invalid\"");
}

/* Sends text on the connection and fails unless the reply has status and, when code is
 * not NULL, the problem code. */
static void expect_reply(raw_client *connection, const char *name, const char *text,
                         long status, const char *code)
{
    http_result result;

    assert_int_equal(raw_exchange(connection, text, &result), 0);
    if (result.status != status)
        fail_msg("%s: expected %ld, got %ld", name, status, result.status);
    if (code != NULL && strcmp(http_result_code(&result), code) != 0)
        fail_msg("%s: expected the code %s, got \"%s\"", name, code,
                 http_result_code(&result));
    http_result_clear(&result);
}

/* An HTTP/1.1 request without Host, or any request with two, gets 400 host_invalid
 * (RFC 9112, section 3.2), which libmicrohttpd 0.9.75 lets through. The connection
 * stays open, and an HTTP/1.0 request may leave Host out. */
static void test_host_count_checked(void **state)
{
    raw_client *connection = NULL;

    (void)state;
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_RP, &connection), 0);
    expect_reply(connection, "HTTP/1.1 without Host", "GET /v1/issuers HTTP/1.1\r\n\r\n",
                 400, "host_invalid");
    expect_reply(connection, "two Host headers",
                 "GET /v1/issuers HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
                 "host_invalid");
    expect_reply(connection, "one Host header",
                 "GET /v1/issuers HTTP/1.1\r\nHost: a\r\n\r\n", 200, NULL);
    raw_close(&connection);

    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_RP, &connection), 0);
    expect_reply(connection, "HTTP/1.0 without Host", "GET /v1/issuers HTTP/1.0\r\n\r\n",
                 200, NULL);
    raw_close(&connection);
}

/* A Host value that is not a host with an optional port, as RFC 3986 (section 3.2) writes
 * them, gets 400 host_invalid, as RFC 9112 (section 3.2) requires for an invalid Host
 * value. Characters that a host and a port contain can still form no host and port. */
static void test_host_value_checked(void **state)
{
    static const struct {
        const char *name;
        const char *host_line;
        long status;
    } cases[] = {
        {"empty Host", "Host:\r\n", 400},
        {"Host of white space", "Host:  \t\r\n", 400},
        {"Host with a space inside", "Host: a b\r\n", 400},
        {"Host with a path", "Host: localhost/v1\r\n", 400},
        {"Host with user info", "Host: user@localhost\r\n", 400},
        {"Host with a non-ASCII byte", "Host: caf\xc3\xa9.example\r\n", 400},
        {"host name and port", "Host: localhost:8443\r\n", 200},
        {"IPv4 address", "Host: 127.0.0.1\r\n", 200},
        {"IPv6 literal and port", "Host: [::1]:8443\r\n", 200},
        {"white space after the value", "Host: localhost \r\n", 200},
        {"port with letters", "Host: localhost:https\r\n", 400},
        {"two ports", "Host: localhost:1:2\r\n", 400},
        {"port without a host", "Host: :8443\r\n", 400},
        {"IPv6 address without brackets", "Host: ::1\r\n", 400},
        {"IPv6 literal not closed", "Host: [::1\r\n", 400},
        {"IPv6 literal not an address", "Host: [::g]\r\n", 400},
        {"text after an IPv6 literal", "Host: [::1]x\r\n", 400},
        {"bracket inside a name", "Host: a[b]\r\n", 400},
        {"percent without two hex digits", "Host: a%4\r\n", 400},
        {"empty port", "Host: localhost:\r\n", 200},
        {"percent-encoded name", "Host: a%2Db\r\n", 200},
        {"sub-delimiters in a name", "Host: a,b;c\r\n", 200},
        {"IPv4 in an IPv6 literal", "Host: [::ffff:127.0.0.1]:8443\r\n", 200},
        {"IPvFuture literal", "Host: [v1.a:b]\r\n", 200},
    };
    raw_client *connection = NULL;
    char text[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_RP, &connection), 0);
        snprintf(text, sizeof(text), "GET /v1/issuers HTTP/1.1\r\n%s\r\n",
                 cases[i].host_line);
        expect_reply(connection, cases[i].name, text, cases[i].status,
                     cases[i].status == 400 ? "host_invalid" : NULL);
        raw_close(&connection);
    }
}

/* RFC 9112 (section 3.2.2) requires a server to accept an absolute-form target. One with
 * the https scheme reaches the route of its path, and its authority must be a host with
 * an optional port, as a Host value must. Another scheme names another origin. */
static void test_absolute_form_target(void **state)
{
    static const struct {
        const char *name;
        const char *target;
        long status;
        const char *code;
    } cases[] = {
        {"https target", "https://localhost/v1/issuers", 200, NULL},
        {"scheme in capitals, port and query", "HTTPS://localhost:8443/v1/issuers?x=1",
         200, NULL},
        {"IPv6 authority", "https://[::1]:8443/v1/issuers", 200, NULL},
        {"authority with user info", "https://user@localhost/v1/issuers", 400,
         "host_invalid"},
        {"empty authority", "https:///v1/issuers", 400, "host_invalid"},
        {"authority without a path", "https://localhost", 404, "route_not_found"},
        {"authority and an unknown path", "https://localhost/v1/nothing", 404,
         "route_not_found"},
        {"http scheme", "http://localhost/v1/issuers", 404, "route_not_found"},
    };
    raw_client *connection = NULL;
    char text[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_RP, &connection), 0);
        snprintf(text, sizeof(text), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n",
                 cases[i].target);
        expect_reply(connection, cases[i].name, text, cases[i].status, cases[i].code);
        raw_close(&connection);
    }
}

/* Sends len bytes of text, which may contain NUL bytes, on the connection and fails unless
 * the reply has status and, when code is not NULL, the problem code. */
static void expect_reply_bytes(raw_client *connection, const char *name, const char *text,
                               size_t len, long status, const char *code)
{
    http_result result;

    if (raw_exchange_timed(connection, text, len, false, READ_TIMEOUT_MS, &result) != 0)
        fail_msg("%s: no whole reply arrived", name);
    if (result.status != status)
        fail_msg("%s: expected %ld, got %ld", name, status, result.status);
    if (code != NULL && strcmp(http_result_code(&result), code) != 0)
        fail_msg("%s: expected the code %s, got \"%s\"", name, code,
                 http_result_code(&result));
    if (code != NULL && (result.headers == NULL ||
                         strstr(result.headers, "application/problem+json") == NULL))
        fail_msg("%s: the reply is not application/problem+json", name);
    http_result_clear(&result);
}

/* A NUL byte in the request-target gets 400 path_invalid. libmicrohttpd 0.9.75 passes
 * the target as a C string, so the node would otherwise serve "/v1/issuers\0/x" as
 * "/v1/issuers", while a proxy in front may have read the whole target. Each case is
 * followed by a valid request on the same connection, which the check must not reject. */
static void test_request_target_nul_rejected(void **state)
{
    static const struct {
        const char *name;
        const char *target; /* with the NUL byte written as \0 */
        size_t target_len;
    } cases[] = {
        {"NUL at the end of the path", "/v1/issuers\0", 12},
        {"NUL before more path", "/v1/issuers\0/../x", 17},
        {"NUL inside a path id", "/v1/credentials/ab\0cd", 21},
        {"NUL in the query", "/v1/issuers?a\0b", 15},
    };
    static const char head_end[] = " HTTP/1.1\r\nHost: localhost\r\n\r\n";
    static const char valid[] = "GET /v1/issuers HTTP/1.1\r\nHost: localhost\r\n\r\n";
    raw_client *connection = NULL;
    char text[256];

    (void)state;
    assert_int_equal(raw_connect(&server, "NORMAL", CLIENT_RP, &connection), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = 0;

        memcpy(text, "GET ", 4);
        len += 4;
        memcpy(text + len, cases[i].target, cases[i].target_len);
        len += cases[i].target_len;
        memcpy(text + len, head_end, sizeof(head_end) - 1);
        len += sizeof(head_end) - 1;
        assert_non_null(memchr(text, '\0', len));

        expect_reply_bytes(connection, cases[i].name, text, len, 400, "path_invalid");
        expect_reply_bytes(connection, "a valid request after it", valid, strlen(valid),
                           200, NULL);
    }
    raw_close(&connection);
}

/* A request that waits for "100 Continue" and that the node rejects from its request line
 * and headers gets the rejection at once, with no "100 Continue" before it, and its
 * connection closes. Without that, libmicrohttpd 0.9.75 sends "100 Continue" and the
 * client uploads the whole body only to be rejected. A request that passes these checks
 * still gets "100 Continue". */
static void test_expect_continue_rejected_early(void **state)
{
#define EXPECT_HEAD(method, path)                                                        \
    method " " path " HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"          \
           "Content-Length: 50000\r\n"
    static const struct {
        const char *name;
        const char *client;
        const char *text;
        long status;
        const char *code;
    } cases[] = {
        {"no client certificate", NULL,
         EXPECT_HEAD("POST", "/v1/credentials") "Content-Type: application/json\r\n\r\n",
         401, "\"client_certificate_required\""},
        {"role not allowed", CLIENT_RP,
         EXPECT_HEAD("POST", "/v1/credentials") "Content-Type: application/json\r\n\r\n",
         403, "\"role_not_allowed\""},
        {"no route", CLIENT_ISSUER,
         EXPECT_HEAD("POST", "/v1/nothing") "Content-Type: application/json\r\n\r\n", 404,
         "\"route_not_found\""},
        {"method not allowed", CLIENT_ISSUER,
         EXPECT_HEAD("PUT", "/v1/credentials") "Content-Type: application/json\r\n\r\n",
         405, "\"method_not_allowed\""},
        {"media type not JSON", CLIENT_ISSUER,
         EXPECT_HEAD("POST", "/v1/credentials") "Content-Type: text/plain\r\n\r\n", 415,
         "\"unsupported_media_type\""},
        {"two Host headers", CLIENT_ISSUER,
         EXPECT_HEAD("POST", "/v1/credentials") "Host: b\r\n"
                                               "Content-Type: application/json\r\n\r\n",
         400, "\"host_invalid\""},
    };
    static const char accepted[] =
        EXPECT_HEAD("POST", "/v1/credentials") "Content-Type: application/json\r\n\r\n";
#undef EXPECT_HEAD
    unsigned mismatches = 0;
    bool closed = false;
    char *reply;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        reply = exchange(cases[i].client, cases[i].text, &closed);
        mismatches += check_node_reply(cases[i].name, reply, closed, cases[i].status,
                                       cases[i].code);
        free(reply);
        assert_still_serving(cases[i].name);
    }
    assert_int_equal(mismatches, 0);

    reply = exchange(CLIENT_ISSUER, accepted, &closed);
    if (strncmp(reply, "HTTP/1.1 100 Continue\r\n", 23) != 0)
        fail_msg("an accepted request: expected 100 Continue, got \"%.60s\"", reply);
    free(reply);
}

typedef struct library_case {
    const char *name;
    char *text;
    long status;           /* 0: the connection closes without a reply */
    unsigned status_lines; /* how often libmicrohttpd sends the status line */
    bool may_stay_open;    /* the connection may stay open until its timeout */
} library_case;

/* Checks one reply of libmicrohttpd's own: its status, an HTML body or none, no request
 * id (the node never saw the request), and the closed connection. */
static void expect_library_reply(const library_case *c)
{
    bool closed = false;
    char *reply = exchange(CLIENT_ISSUER, c->text, &closed);

    if (c->status == 0) {
        if (reply[0] != '\0')
            fail_msg("%s: expected no reply, got \"%.60s\"", c->name, reply);
    } else {
        if (reply_status(reply) != c->status)
            fail_msg("%s: expected %ld, got \"%.60s\"", c->name, c->status, reply);
        if (count_status_lines(reply) != c->status_lines)
            fail_msg("%s: expected %u status lines, got %u", c->name, c->status_lines,
                     count_status_lines(reply));
        assert_null(strstr(reply, "X-Request-Id"));
        assert_null(strstr(reply, "application/problem+json"));
    }
    if (!closed && !c->may_stay_open)
        fail_msg("%s: the connection stayed open", c->name);
    free(reply);
}

/* The replies that libmicrohttpd 0.9.75 sends itself, as docs/api.md lists them. The node
 * has no callback before these replies, so a change here means that the library changed
 * and the list needs a look. */
static void test_library_replies_documented(void **state)
{
    library_case cases[] = {
        {"version not HTTP/d.d", strdup("GET /v1/issuers HTTP/1.x\r\nHost: a\r\n\r\n"),
         400, 1, false},
        {"version missing", strdup("GET /v1/issuers\r\nHost: a\r\n\r\n"), 400, 1, false},
        {"version HTTP/0.9", strdup("GET /v1/issuers HTTP/0.9\r\nHost: a\r\n\r\n"), 505,
         1, false},
        {"version HTTP/2.0", strdup("GET /v1/issuers HTTP/2.0\r\nHost: a\r\n\r\n"), 505,
         1, false},
        {"request line without space", strdup("GARBAGE\r\n\r\n"), 0, 0, false},
        {"method missing", strdup(" /v1/issuers HTTP/1.1\r\nHost: a\r\n\r\n"), 0, 0,
         false},
        {"request line of 40 KiB",
         make_padded("GET /", 'a', PAST_POOL_BYTES, " HTTP/1.1\r\nHost: a\r\n\r\n"), 414,
         1, false},
        {"header line without colon",
         strdup("GET /v1/issuers HTTP/1.1\r\nHost: a\r\nBogus\r\n\r\n"), 400, 1, false},
        {"header of 40 KiB",
         make_padded("GET /v1/issuers HTTP/1.1\r\nHost: a\r\nX-Filler: ", 'a',
                     PAST_POOL_BYTES, "\r\n\r\n"),
         431, 1, false},
        {"3000 header lines", make_many_headers(3000), 431, 1, false},
        {"1000 query arguments", make_many_arguments(1000), 0, 0, true},
        {"a Cookie header of 600 cookies", make_many_cookies(600), 431, 2, false},
        {"Content-Length not a number", strdup(POST_HEAD "Content-Length: abc\r\n\r\n{}"),
         400, 2, false},
        {"Content-Length with a space after",
         strdup(POST_HEAD "Content-Length: 2 \r\n\r\n{}"), 400, 2, false},
        {"Content-Length past 64 bits",
         strdup(POST_HEAD "Content-Length: 99999999999999999999999\r\n\r\n{}"), 413, 2,
         false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_library_reply(&cases[i]);
        free(cases[i].text);
        assert_still_serving(cases[i].name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked_rejected_for_role),
        cmocka_unit_test(test_chunked_get_rejected),
        cmocka_unit_test(test_large_chunked_body_gets_411),
        cmocka_unit_test(test_length_with_bad_chunks_rejected),
        cmocka_unit_test(test_folded_framing_header_rejected),
        cmocka_unit_test(test_host_count_checked),
        cmocka_unit_test(test_host_value_checked),
        cmocka_unit_test(test_absolute_form_target),
        cmocka_unit_test(test_request_target_nul_rejected),
        cmocka_unit_test(test_expect_continue_rejected_early),
        cmocka_unit_test(test_library_replies_documented),
    };

    /* A send to a connection that the node closed after an early reply must fail, not
     * end the test. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
