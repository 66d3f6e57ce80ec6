/*
 * Runs the real idsvc daemon for integration tests: a fresh SoftHSM2 token with the
 * node's TLS and SAML keys, a demo CA with client certificates, a fresh SQLite file and
 * a free loopback port, all in one temporary folder. Callers are curl (with client
 * certificates) and a raw GnuTLS client for what curl cannot show.
 */
#ifndef IDSVC_SERVER_HARNESS_H
#define IDSVC_SERVER_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "test_token.h"

/* Client certificates the harness makes; all but "rogue" come from the trusted CA. */
#define CLIENT_ISSUER "issuer-agency"
#define CLIENT_ISSUER_TWO "issuer-two"
#define CLIENT_RP "bank-one"
#define CLIENT_REGULATOR "regulator-one"
#define CLIENT_STRANGER "stranger"  /* trusted CA, but mapped to no role */
#define CLIENT_ROGUE "rogue"        /* signed by a CA the node does not trust */

#define RP_ENTITY_ID "https://bank.example/sp"
#define NODE_ENTITY_ID "https://node.example/idsvc"

typedef struct harness {
    test_token token;
    char config_path[PATH_MAX + 32];
    char db_path[PATH_MAX + 32];
    char log_path[PATH_MAX + 32];
    char tokens_dir[PATH_MAX + 32];
    unsigned port;
    pid_t pid;
    const char *extra_argument; /* passed to the daemon after --config FILE, or NULL */
} harness;

/* The parts of a SAML assertion that the server tests vary. The assertion is valid from
 * issued - 60 s to issued + lifetime and carries one givenName attribute. */
typedef struct harness_assertion {
    const char *id;
    const char *issuer;
    time_t issued;
    long lifetime; /* seconds */
    const char *audience;
    const char *name_id_tag;     /* the NameID start tag, such as <saml:NameID> */
    const char *conditions;      /* elements after the AudienceRestriction, or "" */
    const char *authn_statement; /* the AuthnStatement element, or "" */
} harness_assertion;

/* Makes the token, keys, certificates and configuration. Returns 0 or -1. */
int harness_setup(harness *h);

/* Appends text to the configuration file, for tests that need other settings. */
int harness_append_config(harness *h, const char *text);

/* Writes saml-cert.pem into the token folder: a certificate of the node's SAML key in
 * the token, made by `idsvc-admin keys certificate`, for `xmlsec1 --verify`. Returns 0
 * or -1. */
int harness_make_saml_certificate(const harness *h);

/* Starts the daemon and waits until it accepts connections. Returns 0 or -1. */
int harness_start(harness *h);

/* Starts the daemon as harness_start does, under libfaketime: library is the path of
 * libfaketimeMT.so.1, and offset_file holds the offset of the daemon's wall clock, such
 * as "-1d", which libfaketime reads again on every call. CLOCK_MONOTONIC and
 * CLOCK_BOOTTIME stay real. The test's own process keeps the real clock. */
int harness_start_faketime(harness *h, const char *library, const char *offset_file);

/* Sends sig and waits for the daemon; returns its exit status, 128 + signal when a
 * signal ended it, or -1. */
int harness_stop(harness *h, int sig);

void harness_teardown(harness *h);

/* Sets the harness up and starts the daemon, or tears it down again on failure. Returns
 * 0 or -1, for a group setup. */
int harness_begin(harness *h);

/* Stops the daemon with SIGTERM, prints its exit status and log when that is not 0, and
 * tears the harness down. Returns 0 for a clean stop, or -1, for a group teardown. */
int harness_finish(harness *h);

/* Reads the daemon's log until it contains text, for up to 2 seconds, and returns it,
 * or NULL when it cannot be read. The caller checks for text and frees the log. */
char *harness_wait_for_log(const harness *h, const char *text);

/* Prints the daemon's log to standard error, for a failing test. */
void harness_dump_log(const harness *h);

/* Counts the occurrences of text in the daemon's log, and 0 when the log cannot be
 * read. */
int harness_count_log(const harness *h, const char *text);

/* Sends SIGHUP and waits up to 10 seconds until the log contains event once more than
 * before. Returns 0, or -1 after printing the log when the count is not one more. */
int harness_reload_and_wait(const harness *h, const char *event);

typedef struct http_result {
    long status;       /* 0 when no HTTP response arrived */
    char *headers;
    char *body;
    json_t *json;      /* the body parsed, when it is JSON */
    int transport_exit; /* curl's exit status */
} http_result;

void http_result_clear(http_result *result);

/* The "code" member of a problem document, or "" when there is none. */
const char *http_result_code(const http_result *result);
const char *http_result_field(const http_result *result);

/* Calls the daemon with curl. client names a certificate above or is NULL for none;
 * body may be NULL. content_type NULL sends application/json with a body. */
int harness_curl(harness *h, const char *client, const char *method, const char *path,
                 const char *content_type, const char *body, http_result *out);

/* Posts body to /v1/credentials as CLIENT_ISSUER and returns a copy of the assertion of
 * the 201 response, which the caller frees. Any other response is printed, and the
 * result is NULL. */
char *harness_issue(harness *h, const char *body);

/* Like harness_curl, and sends the extra request headers of a NULL-terminated list of
 * "Name: value" lines, which must not contain single quotes. */
int harness_curl_headers(harness *h, const char *client, const char *method,
                         const char *path, const char *const *headers, const char *body,
                         http_result *out);

/* A raw GnuTLS connection with a chosen priority string, for protocol-level tests. */
typedef struct raw_client raw_client;

/* Connects and runs the handshake. Returns 0, or the GnuTLS error of the handshake (a
 * negative number), or 1 when the TCP connection failed. */
int raw_connect(harness *h, const char *priority, const char *client, raw_client **out);

/* The same on another port of the daemon, such as [server] public_port. */
int raw_connect_port(harness *h, unsigned port, const char *priority, const char *client,
                     raw_client **out);

/* Reads once without sending: 1 when the server ended the connection, whether by a
 * close or an alert, and 0 when it sent data. */
int raw_read_end(raw_client *c);

/* Runs the printf-formatted shell command and prints it when it fails. Returns 0, or -1
 * when it failed. */
int harness_run(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Runs SQL on the node's database from a connection of the test's own. Returns 0, or -1
 * after printing the statement and SQLite's message. */
int harness_sql(const harness *h, const char *sql);

/* A free TCP port on 127.0.0.1, or 0. With IDSVC_TEST_PORTS set to a range such as
 * "23000-23999" the port comes from that range, otherwise the kernel picks it. */
unsigned harness_free_port(void);

/* Sends one request on the connection and reads one response (Content-Length framed). */
int raw_request(raw_client *c, const char *method, const char *path, const char *body,
                http_result *out);
void raw_close(raw_client **c);

/* Sends text as it is, a whole request with its head, and reads one response. */
int raw_exchange(raw_client *c, const char *text, http_result *out);

/* Sends len bytes of text as they are, a whole request that may contain NUL bytes, and
 * reads one response, also after a failed send. head_only marks the reply to HEAD, which has no body. Returns 0,
 * -1 when the connection ended before a whole response, or -2 when nothing arrived for
 * timeout_ms. */
int raw_exchange_timed(raw_client *c, const char *text, size_t len, bool head_only,
                       int timeout_ms, http_result *out);

/* Sends len bytes of text as they are, in one go, and reads whatever arrives until the
 * server ends the connection or nothing arrives for timeout_ms. Returns the bytes read,
 * NUL-terminated and possibly empty, or NULL when out of memory. *closed is true when
 * the server ended the connection. A failed send still reads, because the server may
 * have replied before it closed. */
char *raw_exchange_bytes(raw_client *c, const char *text, size_t len, int timeout_ms,
                         bool *closed);

/* Sends len bytes of data as they are, and reads nothing. Returns 0, or -1 when the send
 * failed. */
int raw_send(raw_client *c, const char *data, size_t len);

/* Waits up to timeout_ms for the server to send data or end the connection, and reads
 * what arrives. Returns 1 when the server ended the connection, whether by a close or an
 * alert, 0 when data arrived, and -2 when nothing arrived. */
int raw_wait_end(raw_client *c, int timeout_ms);

/* The negotiated protocol, such as "TLS1.3". */
const char *raw_protocol(const raw_client *c);

/* Writes t as an xs:dateTime in UTC, such as 2026-01-02T03:04:05Z. */
void harness_format_time(time_t t, char out[32]);

/* Returns the assertion of spec with an empty signature for `xmlsec1 --sign` to fill, or
 * NULL when out of memory; the caller frees it. */
char *harness_assertion_template(const harness_assertion *spec);

/* Signs document with `xmlsec1 --sign` and the PEM private key key_file of the test
 * folder, and returns the signed text or NULL; the caller frees it. */
char *harness_xmlsec_sign(const harness *h, const char *key_file, const char *document);

#endif
