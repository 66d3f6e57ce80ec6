#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <microhttpd.h>

#include "http_headers.h"
#include "http_listen.h"
#include "log.h"
#include "problem.h"

#define DRAIN_TIMEOUT_MS 10000
/* How long nothing may run before the stop closes the connections. A request whose bytes
 * arrived but that no handler has reached yet is not counted in flight, so one check of
 * the count would drop it with its connection. A quiet period lets the workers read it
 * and send 503 node_stopping. */
#define DRAIN_QUIET_MS 100
#define PARAM_MAX_LEN 64

static const http_route routes[] = {
    {"POST", "/v1/credentials", ROLE_ISSUER, route_credentials_issue},
    {"GET", "/v1/credentials/{id}", ROLE_ISSUER, route_credentials_get},
    {"POST", "/v1/credentials/{id}/revocation", ROLE_ISSUER, route_credentials_revoke},
    {"POST", "/v1/verifications", ROLE_RP, route_verifications_create},
    {"GET", "/v1/issuers", ROLE_ANY, route_issuers_list},
    {"GET", "/saml/metadata", 0, route_metadata_get},
    {"GET", "/healthz", 0, route_health_get},
    {"GET", "/metrics", ROLE_REGULATOR | ROLE_NODE, route_metrics_get},
    {"GET", "/v1/verifications/{id}", ROLE_RP, route_verifications_get},
    {"GET", "/enroll", 0, route_enroll_page},
    {"POST", "/enroll/code", 0, route_enroll_code},
    {"POST", "/account/registration/options", 0, route_enroll_options},
    {"POST", "/account/registration", 0, route_enroll_finish},
    {"POST", "/account/authenticators/{id}/removal", 0, route_enroll_remove},
    {"GET", "/account", 0, route_subject_page},
    {"POST", "/account/signin/options", 0, route_subject_signin_options},
    {"POST", "/account/signin", 0, route_subject_signin},
    {"POST", "/account/signout", 0, route_subject_signout},
    {"GET", "/consent/{id}", 0, route_consent_page},
    {"POST", "/consent/{id}/options", 0, route_consent_options},
    {"POST", "/consent/{id}/approval", 0, route_consent_approve},
    {"POST", "/consent/{id}/refusal", 0, route_consent_refuse},
    {"GET", "/static/pages.js", 0, route_static_script},
    {"GET", "/static/pages.css", 0, route_static_style},
    {"GET", "/v1/audit/checkpoint", ROLE_REGULATOR, route_audit_checkpoint_get},
    {"GET", "/v1/audit/entries", ROLE_REGULATOR, route_audit_entries_list},
    {"GET", "/v1/audit/proof/inclusion", ROLE_REGULATOR, route_audit_inclusion_get},
    {"GET", "/v1/audit/proof/consistency", ROLE_REGULATOR, route_audit_consistency_get},
};

#define ROUTE_COUNT (sizeof(routes) / sizeof(routes[0]))

/* What libmicrohttpd hands each callback of one listener. */
typedef struct http_listener {
    struct http_server *server;
    bool is_public; /* [server] public_port: only the public routes */
    http_listen_socket socket; /* the listening socket and the daemon; daemon is NULL
                                * when the listener is not running */
} http_listener;

struct http_server {
    http_listener api;
    http_listener public_listener; /* [server] public_port's listener */
    http_acceptor acceptor;
    node *node;
    unsigned max_connections; /* per listener: [limits] max_connections, or fewer */
    atomic_uint in_flight;
    atomic_bool draining;     /* SIGTERM: finish what runs, take no new requests */

    /* Deferred replies (http_request_defer). The lock orders suspending against
     * resuming; work_done is broadcast by every resume. */
    pthread_mutex_t defer_lock;
    pthread_cond_t work_done;
    unsigned deferred; /* deferred requests whose work is not done yet */
    bool no_suspend;   /* the server stops: a deferred request waits on its worker */
};

/* Per-connection state: TLS bookkeeping and the client certificate, read once. */
typedef struct connection_state {
    tls_connection tls;
    bool peer_read;
    tls_peer peer;
    bool ambiguity_logged; /* client_certificate_ambiguous was logged */
    /* Length of the raw request-target of the connection's current request, up to its
     * first NUL byte, as on_uri saw it. libmicrohttpd reads one request of a connection
     * at a time, so the next request's on_uri call comes after this one's on_request. */
    size_t target_len;
    http_deadline deadline; /* registered while deadline_set is true */
    bool deadline_set;
} connection_state;

typedef struct request_state {
    http_request request;
    http_reply reply;
    size_t route_index; /* ROUTE_COUNT when no route matched */
    /* Index of the route that the request log and the metrics name. It is the matched
     * route, or for a 405 the first route of the path, and ROUTE_COUNT when no pattern
     * matches the path. */
    size_t label_index;
    char *body;
    size_t body_len;
    size_t body_capacity;
    size_t body_declared; /* Content-Length when the client sent one within the limit */
    bool body_too_large;
    bool length_required; /* Transfer-Encoding: the node reads Content-Length bodies */
    bool coding_unsupported; /* Transfer-Encoding other than one "chunked" */
    bool coding_seen;        /* a Transfer-Encoding header was read */
    bool content_encoded;    /* Content-Encoding names a coding other than identity */
    bool unframed; /* a POST with neither Content-Length nor Transfer-Encoding */
    bool dispatched;
    bool public_listener; /* arrived on public_port, which serves only public routes */
    bool after_stop;      /* arrived after the node began to stop */
    /* The framing of the body is in doubt: NULL, or the sentence of the 400 reply. */
    const char *framing_doubt;
    unsigned content_type_count;
    unsigned host_count;
    bool host_value_invalid; /* a Host value or a target's authority that is not a host
                              * and optional port */
    bool host_optional; /* HTTP/1.0, where a request may come without Host */
    bool path_encoded; /* the raw path had a percent-encoded byte */
    bool target_has_nul; /* the raw request-target had a NUL byte */
    char allow[64]; /* the Allow header of a 405 */
    struct timespec started;
    connection_state *connection;
    http_server *server;
    struct MHD_Connection *mhd_connection;
    /* A deferred reply (http_request_defer); the flags are under server->defer_lock. */
    http_continuation next;
    void *next_ctx;
    bool work_done; /* http_request_resume was called */
    bool suspended; /* the connection waits in MHD_suspend_connection */
} request_state;

#define STATE_OF(request_ptr) \
    ((request_state *)(void *)((char *)(request_ptr) - offsetof(request_state, request)))

const char *http_request_header(const http_request *request, const char *name)
{
    if (request->connection == NULL)
        return NULL;
    return MHD_lookup_connection_value(request->connection, MHD_HEADER_KIND, name);
}

/* Counts the headers of one name, in any case. */
typedef struct header_count {
    const char *name;
    unsigned count;
} header_count;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    header_count *c = cls;

    (void)kind;
    (void)value;
    if (key != NULL && strcasecmp(key, c->name) == 0)
        c->count++;
    return MHD_YES;
}

unsigned http_request_header_count(const http_request *request, const char *name)
{
    header_count headers = {name, 0};

    if (request->connection == NULL)
        return 0;
    MHD_get_connection_values(request->connection, MHD_HEADER_KIND, count_header, &headers);
    return headers.count;
}

/* The count of the query arguments whose name equals match->name, case included, and
 * the value of the last of them. */
typedef struct argument_match {
    const char *name;
    unsigned count;
    const char *value;
    size_t value_len;
} argument_match;

static enum MHD_Result match_argument(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_len, const char *value, size_t value_len)
{
    argument_match *match = cls;

    (void)kind;
    if (key != NULL && key_len == strlen(match->name) &&
        memcmp(key, match->name, key_len) == 0) {
        match->count++;
        match->value = value;
        match->value_len = value_len;
    }
    return MHD_YES;
}

const char *http_request_query(const http_request *request, const char *name)
{
    argument_match match = {name, 0, NULL, 0};

    if (request->connection == NULL)
        return NULL;
    /* libmicrohttpd 0.9.75's MHD_lookup_connection_value ignores case in names, so it
     * would read "FROM=5" as from. The node's parameters are lowercase, and a name in
     * other case is another parameter, which the route ignores. */
    MHD_get_connection_values_n(request->connection, MHD_GET_ARGUMENT_KIND,
                                match_argument, &match);
    if (match.count == 0)
        return NULL;
    /* "size=10&size=11" has no single meaning, so it counts as invalid, not as its first
     * value. */
    if (match.count > 1)
        return "";
    /* %00 decodes to a NUL byte, and C would read the value only up to it: "1%00x"
     * would pass as "1". Such a value comes back empty, which no parameter accepts. */
    if (match.value == NULL || memchr(match.value, '\0', match.value_len) != NULL)
        return "";
    return match.value;
}

const http_route *http_routes(size_t *count)
{
    *count = ROUTE_COUNT;
    return routes;
}

static bool param_valid(const char *segment, size_t len)
{
    if (len == 0 || len > PARAM_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = segment[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static void free_params(http_request *request)
{
    for (size_t i = 0; i < request->param_count; i++) {
        free(request->params[i]);
        request->params[i] = NULL;
    }
    request->param_count = 0;
}

/* Matches path against a pattern segment by segment, copying {id} segments to params.
 * On a mismatch the params already copied are freed. */
static bool match_pattern(const char *pattern, const char *path, http_request *request)
{
    while (*pattern != '\0' && *path != '\0') {
        if (strncmp(pattern, "{id}", 4) == 0) {
            size_t len = strcspn(path, "/");

            if (!param_valid(path, len) || request->param_count == HTTP_MAX_PARAMS)
                goto mismatch;
            request->params[request->param_count] = strndup(path, len);
            if (request->params[request->param_count] == NULL)
                goto mismatch;
            request->param_count++;
            pattern += 4;
            path += len;
            continue;
        }
        if (*pattern != *path)
            goto mismatch;
        pattern++;
        path++;
    }
    if (*pattern == '\0' && *path == '\0')
        return true;
mismatch:
    free_params(request);
    return false;
}

/* Returns true when a request with method may use a route of route_method. HEAD is a
 * GET whose body libmicrohttpd leaves out (RFC 9110, section 9.3.2). */
static bool method_matches(const char *route_method, const char *method)
{
    return strcmp(route_method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

/* Finds the route for the method and path. When only the method differs, allow
 * receives the methods the path accepts, for the 405 response, and *label the first
 * route of the path. Otherwise *label is the return value. */
static size_t find_route(http_request *request, char *allow, size_t allow_size,
                         size_t *label)
{
    allow[0] = '\0';
    *label = ROUTE_COUNT;
    for (size_t i = 0; i < ROUTE_COUNT; i++)
        if (method_matches(routes[i].method, request->method) &&
            match_pattern(routes[i].pattern, request->path, request)) {
            *label = i;
            return i;
        }

    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        if (!match_pattern(routes[i].pattern, request->path, request))
            continue;
        free_params(request);
        if (*label == ROUTE_COUNT)
            *label = i;
        /* Every GET route also serves HEAD (RFC 9110, section 9.3.2). */
        snprintf(allow + strlen(allow), allow_size - strlen(allow), "%s%s%s",
                 allow[0] != '\0' ? ", " : "", routes[i].method,
                 strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
    }
    return ROUTE_COUNT;
}

/* Logs the two sections that a client certificate matches, the reason it gets no role. */
static void log_ambiguous_client(const tls_peer *peer, const config_client *conflict[2])
{
    char by_fingerprint[300];
    char by_cn[300];
    char sections[800];

    config_client_section(conflict[0], by_fingerprint, sizeof(by_fingerprint));
    config_client_section(conflict[1], by_cn, sizeof(by_cn));
    snprintf(sections, sizeof(sections),
             "[%s] matches its fingerprint and [%s] its subject_cn, so the certificate "
             "gets no role. Remove one of the two mappings",
             by_fingerprint, by_cn);
    log_field fields[] = {
        {"certificate_sha256", peer->fingerprint_hex},
        {"reason", sections},
    };

    log_event(LOG_ERROR, "client_certificate_ambiguous", fields,
              sizeof(fields) / sizeof(fields[0]));
}

static void read_caller(request_state *state, struct MHD_Connection *connection)
{
    connection_state *conn = state->connection;
    http_caller *caller = &state->request.caller;
    const config_client *conflict[2];
    const config_client *client;

    if (conn != NULL && !conn->peer_read) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);

        if (info != NULL && info->tls_session != NULL &&
            tls_read_peer(info->tls_session, &conn->peer) != 0)
            log_message(LOG_WARN, "tls_peer_unreadable",
                        "the client certificate could not be read");
        conn->peer_read = true;
    }
    if (conn == NULL || !conn->peer.has_certificate)
        return;

    caller->has_certificate = true;
    memcpy(caller->fingerprint_hex, conn->peer.fingerprint_hex, sizeof(caller->fingerprint_hex));
    memcpy(caller->subject_cn, conn->peer.subject_cn, sizeof(caller->subject_cn));
    /* Several CNs could name several clients, so such a certificate gets no role, not
     * even by its fingerprint; tls_read_peer logged why. */
    if (conn->peer.cn_status == TLS_CN_SEVERAL)
        return;
    client = config_match_client(state->request.snapshot->cfg, tls_peer_cn(&conn->peer),
                                 conn->peer.fingerprint, conflict);
    if (conflict[0] != NULL) {
        caller->ambiguous = true;
        if (!conn->ambiguity_logged)
            log_ambiguous_client(&conn->peer, conflict);
        conn->ambiguity_logged = true;
        return;
    }
    if (client != NULL) {
        caller->role = client->role;
        caller->identity = client->identity;
    }
}

/* Returns true when the caller may use the route; otherwise fills a problem. */
static bool authorize(const http_route *route, const http_caller *caller, http_reply *reply)
{
    if (route->roles == 0)
        return true;
    if (!caller->has_certificate) {
        problem_set(reply, 401, "client_certificate_required", NULL,
                    "This route requires a client certificate issued by a CA the node "
                    "trusts.");
        return false;
    }
    if (caller->ambiguous) {
        problem_set(
            reply, 403, "client_mapping_ambiguous", NULL,
            "The client certificate (SHA-256 %s) matches more than one section of "
            "the node's configuration, so it gets no role. The node's operator "
            "must remove one of the mappings.",
            caller->fingerprint_hex);
        return false;
    }
    if (caller->role == ROLE_NONE) {
        problem_set(reply, 403, "client_not_registered", NULL,
                    "The client certificate (SHA-256 %s) maps to no role on this node.",
                    caller->fingerprint_hex);
        return false;
    }
    if ((caller->role & route->roles) == 0) {
        problem_set(reply, 403, "role_not_allowed", NULL,
                    "The role %s may not use %s %s.", config_role_name(caller->role),
                    route->method, route->pattern);
        return false;
    }
    return true;
}

/* Runs the checks that the request line and headers decide, before the route's handler.
 * Returns true when one rejected the request and set the reply. on_request runs it before
 * the body of a request that waits for "100 Continue", and dispatch runs it again, so it
 * finds the route anew each time. */
static bool reject_request(request_state *state, struct MHD_Connection *connection)
{
    http_request *request = &state->request;
    http_reply *reply = &state->reply;
    const http_route *route;

    free_params(request);
    state->route_index =
        find_route(request, state->allow, sizeof(state->allow), &state->label_index);
    read_caller(state, connection);

    if (state->framing_doubt != NULL) {
        problem_set(reply, 400, "content_length_invalid", NULL, "%s", state->framing_doubt);
        return true;
    }
    if (state->coding_unsupported) {
        problem_set(reply, 400, "transfer_encoding_unsupported", NULL,
                    "The Transfer-Encoding header is not chunked alone, in one header, "
                    "so the body's framing is unknown. Send the body with a "
                    "Content-Length header and no Transfer-Encoding.");
        return true;
    }
    if (state->length_required) {
        problem_set(reply, 411, "length_required", NULL,
                    "Send the body with a Content-Length header. The node reads no body "
                    "framed by Transfer-Encoding.");
        return true;
    }
    if (state->path_encoded) {
        problem_set(reply, 400, "path_invalid", NULL,
                    "The path contains a percent-encoded byte. No path of this node needs "
                    "one, so send the path unencoded.");
        return true;
    }
    if (state->target_has_nul) {
        problem_set(reply, 400, "path_invalid", NULL,
                    "The request-target contains a NUL byte, which RFC 3986 does not allow "
                    "in a URI. Send the path and query without it.");
        return true;
    }
    if (state->host_count > 1 || (state->host_count == 0 && !state->host_optional)) {
        problem_set(reply, 400, "host_invalid", NULL,
                    "The request has %u Host headers. Send exactly one (RFC 9112, "
                    "section 3.2).",
                    state->host_count);
        return true;
    }
    if (state->host_value_invalid) {
        problem_set(reply, 400, "host_invalid", NULL,
                    "The Host header, or the authority of an absolute-form target, is "
                    "not a host name or address with an optional port (RFC 9112, section "
                    "3.2). Send the node's host name or address, with the port when it "
                    "is not 443.");
        return true;
    }
    if (state->content_type_count > 1) {
        problem_set(reply, 400, "content_type_invalid", NULL,
                    "The request has %u Content-Type headers. Send one.",
                    state->content_type_count);
        return true;
    }
    if (state->after_stop) {
        problem_set(reply, 503, "node_stopping", NULL,
                    "The node is stopping; send the request again, to this node after "
                    "its restart or to another one.");
        reply->retry_after = request->node->boot->retry_after_seconds;
        return true;
    }
    if (state->route_index == ROUTE_COUNT) {
        if (state->allow[0] == '\0') {
            problem_set(reply, 404, "route_not_found", NULL, "No route matches this path.");
        } else {
            problem_set(reply, 405, "method_not_allowed", NULL,
                        "This path accepts only %s.", state->allow);
            reply->allow = state->allow;
        }
        return true;
    }
    route = &routes[state->route_index];
    if (state->public_listener && route->roles != 0) {
        problem_set(reply, 421, "api_listener_required", NULL,
                    "This port serves only the public routes. Call the API on port %u "
                    "with a client certificate.",
                    request->node->boot->port);
        return true;
    }
    if (!authorize(route, &request->caller, reply))
        return true;

    if (state->body_too_large) {
        problem_set(reply, 413, "body_too_large", NULL,
                    "The request body is larger than %zu bytes.",
                    request->node->boot->limits.max_body_bytes);
        return true;
    }
    if (strcmp(route->method, "POST") == 0 && !http_media_type_is_json(request->content_type)) {
        problem_set(reply, 415, "unsupported_media_type", NULL,
                    "Send the request body as application/json, with no parameter other "
                    "than charset=utf-8.");
        return true;
    }
    /* RFC 9110, section 15.5.16: Accept-Encoding names the codings the node reads. */
    if (strcmp(route->method, "POST") == 0 && state->content_encoded) {
        problem_set(reply, 415, "content_encoding_unsupported", NULL,
                    "Send the request body without a content coding such as gzip; the "
                    "node reads only identity.");
        (void)http_reply_header(reply, MHD_HTTP_HEADER_ACCEPT_ENCODING, "identity");
        return true;
    }
    return false;
}

static void dispatch(request_state *state, struct MHD_Connection *connection)
{
    http_request *request = &state->request;
    http_reply *reply = &state->reply;
    const http_route *route;

    store_take_unavailable(); /* a mark from another request's work is not this one's */
    request->body = state->body;
    request->body_len = state->body_len;
    if (reject_request(state, connection))
        return;

    route = &routes[state->route_index];
    route->handler(request, reply);
    if (reply->status == 0 && state->next == NULL) {
        log_message(LOG_ERROR, "handler_error", "the handler for %s %s set no response",
                    route->method, route->pattern);
        problem_internal(reply);
    }
}

/* A 500 after the database was busy, or its disk full or failing, is not a fault of the
 * node: the client may retry once the database is back. */
static void soften_store_failure(request_state *state)
{
    http_reply *reply = &state->reply;

    if (!store_take_unavailable() || reply->status != 500)
        return;
    problem_set(reply, 503, "store_unavailable", NULL,
                "The database was busy or could not write, so the request did not "
                "complete. Retry later.");
    reply->retry_after = state->server->node->boot->retry_after_seconds;
}

static enum MHD_Result queue_reply(request_state *state, struct MHD_Connection *connection)
{
    http_reply *reply = &state->reply;
    struct MHD_Response *response;
    enum MHD_Result result;
    char retry[16];

    soften_store_failure(state);
    /* The response takes the body over and frees it, which spares a copy of a few
     * kilobytes per verification. */
    response = MHD_create_response_from_buffer(reply->body_len, reply->body,
                                               MHD_RESPMEM_MUST_FREE);
    if (response == NULL)
        return MHD_NO;
    reply->body = NULL;
    if (reply->content_type != NULL)
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, reply->content_type);
    MHD_add_response_header(response, "X-Request-Id", state->request.request_id);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (reply->retry_after > 0) {
        snprintf(retry, sizeof(retry), "%u", reply->retry_after);
        MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, retry);
    }
    if (reply->allow != NULL)
        MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, reply->allow);
    for (size_t i = 0; i < reply->header_count; i++)
        MHD_add_response_header(response, reply->header_names[i], reply->header_values[i]);
    /* While the node stops, keep-alive connections end after their reply. So does a
     * connection whose request framing is in doubt: its next bytes may be the rest of
     * a body that a different Content-Length would have included. A rejected POST
     * without either header counts too, because libmicrohttpd 0.9.75 drops a header
     * folded over two lines, and its body would be read as the next request. */
    if (atomic_load(&state->server->draining) || state->framing_doubt != NULL ||
        (state->unframed && reply->status >= 400))
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");

    result = MHD_queue_response(connection, reply->status, response);
    MHD_destroy_response(response);
    return result;
}

static void make_request_id(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[16];

    if (gnutls_rnd(GNUTLS_RND_NONCE, bytes, sizeof(bytes)) != 0)
        memset(bytes, 0, sizeof(bytes));
    for (size_t i = 0; i < sizeof(bytes); i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 0x0f];
    }
    out[32] = '\0';
}

/* Returns whether a Transfer-Encoding value is the chunked coding alone. libmicrohttpd
 * 0.9.75 strips the white space before a header value but not after it, and frames a
 * body as chunked only when the value equals "chunked" in any case. A value with white
 * space after it would make it read the body until the connection closes, so this test
 * is the library's own. */
static bool coding_is_chunked(const char *value)
{
    return strcasecmp(value, "chunked") == 0;
}

/* Returns whether a Content-Encoding value names a coding other than identity, in any
 * case and with any optional white space around the list's members (RFC 9110, sections
 * 5.6.1 and 8.4). An empty value names none. */
static bool coding_is_applied(const char *value)
{
    const char *p = value;

    while (*p != '\0') {
        size_t len;

        p += strspn(p, " \t,");
        len = strcspn(p, " \t,");
        if (len > 0 && !(len == 8 && strncasecmp(p, "identity", 8) == 0))
            return true;
        p += len;
    }
    return false;
}

/* Returns whether name is field followed by more characters, in any case. libmicrohttpd
 * 0.9.75 appends a folded header line (obs-fold, RFC 9112, section 5.2) to the header's
 * name. So "Transfer-Encoding:" folded before "chunked" arrives as the header
 * "Transfer-Encodingchunked". It frames no body here, but a chunked one at a proxy that
 * unfolds it. */
static bool name_extends(const char *name, const char *field)
{
    size_t field_len = strlen(field);

    return strncasecmp(name, field, field_len) == 0 && name[field_len] != '\0';
}

/* Counts the Content-Type and Host headers, and marks a request whose Content-Length
 * headers disagree, or whose Transfer-Encoding is other than one "chunked".
 * libmicrohttpd 0.9.75 reads the first of each. */
static enum MHD_Result note_framing_header(void *cls, enum MHD_ValueKind kind,
                                           const char *key, const char *value)
{
    request_state *state = cls;
    const char *first;

    (void)kind;
    /* libmicrohttpd 0.9.75 keeps white space before the colon as part of the name, so
     * "Transfer-Encoding : chunked" frames no body here, while a proxy that trims the
     * name reads one. RFC 9112, section 5.1, requires a 400. */
    if (key[strcspn(key, " \t")] != '\0')
        state->framing_doubt = "A header name is followed by white space before its colon "
                               "(RFC 9112, section 5.1). Remove the white space.";
    if (name_extends(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
        name_extends(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
        state->framing_doubt = "A header name starts with Transfer-Encoding or "
                               "Content-Length and goes on, as a folded header line "
                               "(obs-fold, RFC 9112, section 5.2) arrives. Send each "
                               "header on one line.";
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_TYPE) == 0)
        state->content_type_count++;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_ENCODING) == 0)
        state->content_encoded = state->content_encoded || coding_is_applied(value);
    if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
        state->host_count++;
        state->host_value_invalid =
            state->host_value_invalid || !http_host_value_valid(value);
    }
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        state->coding_unsupported = state->coding_unsupported || state->coding_seen ||
                                    !coding_is_chunked(value);
        state->coding_seen = true;
    }
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0)
        return MHD_YES;
    first = MHD_lookup_connection_value(state->request.connection, MHD_HEADER_KIND,
                                        MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (first != NULL && strcmp(first, value) != 0)
        state->framing_doubt = "The request has Content-Length headers with different "
                               "values (RFC 9112, section 6.3). Send one.";
    return MHD_YES;
}

static request_state *request_begin(http_server *server, struct MHD_Connection *connection,
                                    const char *url, const char *method)
{
    request_state *state = calloc(1, sizeof(*state));
    const union MHD_ConnectionInfo *info;
    const char *length;
    bool authority_ok;

    if (state == NULL)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &state->started);
    atomic_fetch_add(&server->in_flight, 1);

    info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    state->connection = info != NULL ? info->socket_context : NULL;
    state->route_index = ROUTE_COUNT;
    state->label_index = ROUTE_COUNT;
    state->server = server;
    state->mhd_connection = connection;
    state->request.node = server->node;
    state->request.snapshot = node_acquire(server->node);
    state->request.method = method;
    state->request.path = http_target_origin_path(url, &authority_ok);
    state->host_value_invalid = !authority_ok;
    state->request.connection = connection;
    state->request.content_type =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    make_request_id(state->request.request_id);

    MHD_get_connection_values(connection, MHD_HEADER_KIND, note_framing_header, state);
    length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
    /* RFC 9112, section 6.1: with both, Transfer-Encoding frames the body, and the
     * connection must close after the reply. Such a request is rejected. */
    if (length != NULL && MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL) {
        state->framing_doubt = "The request has both Transfer-Encoding and Content-Length "
                               "(RFC 9112, section 6.1). Send one of them.";
        length = NULL;
    }

    state->unframed = strcmp(method, "POST") == 0 && length == NULL &&
                      MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_TRANSFER_ENCODING) == NULL;

    /* A declared length over the limit is rejected before any of the body is read. */
    if (length != NULL) {
        unsigned long long declared = strtoull(length, NULL, 10);

        if (declared > server->node->boot->limits.max_body_bytes)
            state->body_too_large = true;
        else
            state->body_declared = (size_t)declared;
    }
    return state;
}

/* Appends one piece of the body. The buffer is sized once from Content-Length, and
 * grows by doubling should a piece not fit. */
static void append_body(request_state *state, size_t limit, const char *data, size_t len)
{
    size_t needed;

    if (state->body_too_large || len > limit - state->body_len) {
        state->body_too_large = true;
        return;
    }
    needed = state->body_len + len + 1;
    if (needed > state->body_capacity) {
        size_t capacity = state->body_capacity == 0 && state->body_declared >= len
                              ? state->body_declared + 1
                              : state->body_capacity * 2;
        char *grown;

        if (capacity < needed)
            capacity = needed;
        grown = realloc(state->body, capacity);
        if (grown == NULL) {
            state->body_too_large = true;
            return;
        }
        state->body = grown;
        state->body_capacity = capacity;
    }
    memcpy(state->body + state->body_len, data, len);
    state->body_len += len;
    state->body[state->body_len] = '\0';
}

void http_request_defer(http_request *request, http_continuation next, void *ctx)
{
    request_state *state = STATE_OF(request);

    pthread_mutex_lock(&state->server->defer_lock);
    state->server->deferred++;
    state->next = next;
    state->next_ctx = ctx;
    state->work_done = false; /* a continuation may defer again */
    pthread_mutex_unlock(&state->server->defer_lock);
}

void http_request_resume(http_request *request)
{
    request_state *state = STATE_OF(request);
    http_server *server = state->server;

    pthread_mutex_lock(&server->defer_lock);
    state->work_done = true;
    if (state->suspended)
        MHD_resume_connection(state->mhd_connection);
    server->deferred--;
    pthread_cond_broadcast(&server->work_done);
    pthread_mutex_unlock(&server->defer_lock);
}

/* After a handler deferred: suspends the connection unless the work is done already.
 * Returns true when it suspended. Once the server stops, libmicrohttpd must not be left
 * with a suspended connection, so the worker waits for the work instead. */
static bool suspend_deferred(request_state *state, struct MHD_Connection *connection)
{
    http_server *server = state->server;
    bool suspend;

    pthread_mutex_lock(&server->defer_lock);
    while (server->no_suspend && !state->work_done)
        pthread_cond_wait(&server->work_done, &server->defer_lock);
    suspend = !state->work_done;
    if (suspend) {
        MHD_suspend_connection(connection);
        state->suspended = true;
    }
    pthread_mutex_unlock(&server->defer_lock);
    return suspend;
}

/* Runs the continuation of a deferred request whose work is done. */
static void finish_deferred(request_state *state)
{
    http_continuation next;
    void *ctx;

    pthread_mutex_lock(&state->server->defer_lock);
    next = state->next;
    ctx = state->next_ctx;
    state->next = NULL;
    state->suspended = false;
    pthread_mutex_unlock(&state->server->defer_lock);

    store_take_unavailable(); /* a mark from other requests' work is not this one's */
    next(&state->request, &state->reply, ctx);
    if (state->reply.status == 0) {
        log_message(LOG_ERROR, "handler_error", "a deferred handler set no response");
        problem_internal(&state->reply);
    }
}

/* The request context that on_uri returns for a path with a percent-encoded byte. A
 * static address needs no freeing, whether or not the request reaches on_request. */
static char path_encoded_mark;

/* Sees the raw request-target before libmicrohttpd decodes it, marks an encoded path,
 * and keeps the target's length for request_target_has_nul. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    connection_state *conn = info != NULL ? info->socket_context : NULL;

    (void)cls;
    if (conn != NULL)
        conn->target_len = strlen(uri);
    return http_target_path_is_encoded(uri) ? &path_encoded_mark : NULL;
}

/*
 * Returns whether the raw request-target contained a NUL byte. libmicrohttpd 0.9.75 passes
 * the target as a C string, so "/healthz\0/x" would reach the routes as "/healthz".
 * NOTE: this relies on 0.9.75's layout of the request line in its read buffer. The
 * target starts at url, and the version starts one byte after the target's end, where
 * the space before it was replaced by a NUL. A version in another buffer rejects
 * every request, which test_server_framing shows at once.
 */
static bool request_target_has_nul(const request_state *state, const char *url,
                                   const char *version)
{
    const connection_state *conn = state->connection;

    if (conn == NULL)
        return false;
    return version < url || (size_t)(version - url) != conn->target_len + 1;
}

/*
 * Marks a request with a Transfer-Encoding header, whatever its caller, so that its
 * rejection goes out before libmicrohttpd parses any of the body. libmicrohttpd 0.9.75
 * decodes chunked framing itself and calls the handler only with chunk data. A malformed
 * chunk or trailer gets its own HTML 400, 413 or 431. A chunk-size line that outgrows
 * the connection's memory pool (32 KiB by default), through an extension or leading
 * zeros, gets an HTML 500 from its event loop (MHD_CONNECTION_CONTINUE_SENT in
 * MHD_connection_update_event_loop_info). No callback runs while that line accumulates,
 * and a larger pool only moves the threshold, so the node reads no chunked body at all.
 * RFC 9112, section 6.3, lets a server require Content-Length with a 411.
 */
static void check_transfer_coding(request_state *state, struct MHD_Connection *connection)
{
    if (MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
        state->length_required = true;
}

/* Returns whether the request waits for "100 Continue" before it sends its body, which
 * libmicrohttpd 0.9.75 sends when the first call queues no reply (RFC 9110, section
 * 10.1.1). HTTP/1.0 has no such expectation. */
static bool expects_continue(struct MHD_Connection *connection, const char *version)
{
    const char *expect = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_EXPECT);

    return expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
           strcmp(version, MHD_HTTP_VERSION_1_0) != 0;
}

/* Returns the connection's state, which on_connection made, or NULL. */
static connection_state *connection_of(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info != NULL ? info->socket_context : NULL;
}

/* Clears the request deadline of the connection once its request has arrived whole. */
static void request_received(struct MHD_Connection *connection)
{
    connection_state *conn = connection_of(connection);

    if (conn != NULL && conn->deadline_set)
        http_deadline_clear(&conn->deadline);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection,
                                  const char *url, const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    const http_listener *listener = cls;
    http_server *server = listener->server;
    bool path_encoded = *req_cls == &path_encoded_mark;
    request_state *state = path_encoded ? NULL : *req_cls;

    if (state == NULL) {
        state = request_begin(server, connection, url, method);
        if (state == NULL)
            return MHD_NO;
        /* RFC 9112, section 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty
         * framing, because HTTP/1.0 has no transfer codings. */
        if (state->coding_seen && strcmp(version, MHD_HTTP_VERSION_1_0) == 0)
            state->coding_unsupported = true;
        state->host_optional = strcmp(version, MHD_HTTP_VERSION_1_0) == 0;
        state->path_encoded = path_encoded;
        state->target_has_nul = request_target_has_nul(state, url, version);
        state->public_listener = listener->is_public;
        state->after_stop = atomic_load(&server->draining);
        *req_cls = state;
        check_transfer_coding(state, connection);
        /* Queueing a response on the first call makes libmicrohttpd 0.9.75 close the
         * connection, so the response goes out on the next call. A body declared too
         * large and a body framed by Transfer-Encoding are the exceptions. Their replies
         * go out now, before "100 Continue" and before libmicrohttpd parses any of the
         * body, and their connections should close anyway. So does every other
         * rejection of a request that waits for "100 Continue". */
        if (expects_continue(connection, version) && reject_request(state, connection)) {
            request_received(connection);
            state->dispatched = true;
            return queue_reply(state, connection);
        }
        if (!state->body_too_large && !state->length_required)
            return MHD_YES;
    }

    if (*upload_data_size > 0) {
        size_t limit = server->node->boot->limits.max_body_bytes;

        append_body(state, limit, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (!state->dispatched) {
        request_received(connection);
        dispatch(state, connection);
        state->dispatched = true;
    } else if (state->next == NULL) {
        return MHD_YES; /* the reply is queued already */
    }
    /* A continuation runs once its work is done, resumed or finished before the
     * suspension, and may itself defer again. */
    while (state->next != NULL) {
        if (suspend_deferred(state, connection))
            return MHD_YES;
        finish_deferred(state);
    }
    return queue_reply(state, connection);
}

static double elapsed_seconds(const struct timespec *since)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) + (now.tv_nsec - since->tv_nsec) / 1e9;
}

static void log_request(const request_state *state, double seconds)
{
    const http_request *request = &state->request;
    const http_caller *caller = &request->caller;
    char status[8];
    char latency[24];
    const char *caller_name = caller->identity != NULL     ? caller->identity
                      : caller->subject_cn[0] != 0 ? caller->subject_cn
                                                   : NULL;

    snprintf(status, sizeof(status), "%u", state->reply.status);
    snprintf(latency, sizeof(latency), "%.3f", seconds * 1000.0);
    log_field fields[] = {
        {"request_id", request->request_id},
        {"role", config_role_name(caller->role)},
        {"caller", caller_name},
        {"certificate_sha256", caller->has_certificate ? caller->fingerprint_hex : NULL},
        {"method", request->method},
        {"route", state->label_index < ROUTE_COUNT ? routes[state->label_index].pattern
                                                   : "unmatched"},
        {"status", status},
        {"code", state->reply.code},
        {"latency_ms", latency},
    };
    log_event(state->reply.status >= 500 ? LOG_WARN : LOG_INFO, "request", fields,
              sizeof(fields) / sizeof(fields[0]));
}

static bool deferred_work_done(request_state *state)
{
    bool done;

    pthread_mutex_lock(&state->server->defer_lock);
    done = state->work_done;
    pthread_mutex_unlock(&state->server->defer_lock);
    return done;
}

static void wait_work_done(request_state *state)
{
    pthread_mutex_lock(&state->server->defer_lock);
    while (!state->work_done)
        pthread_cond_wait(&state->server->work_done, &state->server->defer_lock);
    pthread_mutex_unlock(&state->server->defer_lock);
}

/* Gives the connection's next request a new deadline, at the end of a request. */
static void restart_deadline(http_server *server, struct MHD_Connection *connection)
{
    connection_state *conn = connection_of(connection);

    if (conn != NULL && conn->deadline_set)
        http_deadline_restart(&server->acceptor.deadlines, &conn->deadline);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server *server = ((const http_listener *)cls)->server;
    request_state *state = *req_cls;
    double seconds;

    (void)toe;
    restart_deadline(server, connection);
    if (state == NULL || *req_cls == &path_encoded_mark)
        return;

    /* MHD_stop_daemon may end a deferred request whose continuation has not run. Once
     * its work is done, the continuation runs here to free the work, and no reply goes
     * out. While the work runs it still points at the request, so the request stays
     * allocated (http_server_stop waits for the work, so this is not expected). A
     * continuation that defers again started its work here, so the wait for it is
     * bounded. */
    if (state->next != NULL && !deferred_work_done(state)) {
        log_message(LOG_ERROR, "deferred_request_orphaned",
                    "request %s ended while its work was running", state->request.request_id);
        return;
    }
    while (state->next != NULL) {
        wait_work_done(state);
        finish_deferred(state);
    }
    seconds = elapsed_seconds(&state->started);
    if (state->dispatched) {
        log_request(state, seconds);
        metrics_record_request(server->node->metrics, state->label_index,
                               state->reply.status, seconds);
    }

    for (size_t i = 0; i < state->request.param_count; i++)
        free(state->request.params[i]);
    node_release(&state->request.snapshot);
    http_reply_clear(&state->reply);
    free(state->body);
    free(state);
    *req_cls = NULL;
    atomic_fetch_sub(&server->in_flight, 1);
}

static void format_address(const struct sockaddr *address, char *out, size_t size)
{
    out[0] = '\0';
    if (address == NULL)
        return;
    if (address->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)address)->sin_addr,
                  out, (socklen_t)size);
    else if (address->sa_family == AF_INET6)
        inet_ntop(AF_INET6,
                  &((const struct sockaddr_in6 *)(const void *)address)->sin6_addr, out,
                  (socklen_t)size);
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    http_listener *listener = cls;
    http_server *server = listener->server;
    connection_state *conn = *socket_context;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t session = info != NULL ? info->tls_session : NULL;

    if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
        http_listen_connection_closed(&server->acceptor, &listener->socket);

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn = calloc(1, sizeof(*conn));
        *socket_context = conn;
        if (conn == NULL)
            return;
        info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        format_address(info != NULL ? info->client_addr : NULL, conn->tls.address,
                       sizeof(conn->tls.address));
        info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (info != NULL) {
            http_deadline_add(&server->acceptor.deadlines, &conn->deadline,
                              info->connect_fd, conn->tls.address);
            conn->deadline_set = true;
        }
        if (session != NULL)
            tls_connection_start(session, &conn->tls);
        return;
    }

    if (conn == NULL)
        return;
    if (conn->deadline_set)
        http_deadline_remove(&server->acceptor.deadlines, &conn->deadline);
    if (session != NULL && tls_connection_closed(session, &conn->tls))
        metrics_record_handshake_failure(server->node->metrics);
    free(conn);
    *socket_context = NULL;
}

/* libmicrohttpd passes printf formats, so the attribute lets clang check the call. */
static void mhd_logger(void *cls, const char *format, va_list args)
    __attribute__((format(printf, 2, 0)));

static void mhd_logger(void *cls, const char *format, va_list args)
{
    char message[LOG_VALUE_MAX + 1];

    (void)cls;
    vsnprintf(message, sizeof(message), format, args);
    message[strcspn(message, "\n")] = '\0';
    log_event(LOG_DEBUG, "libmicrohttpd", &(log_field){"message", message}, 1);
}

/*
 * Starts one listener: its listening socket, and a libmicrohttpd daemon that runs an
 * epoll thread pool without a listening socket of its own. The accept thread
 * (http_listen.c) hands the daemon each connection with MHD_add_connection. The API
 * listener requests client certificates and trusts the client CAs. The public one
 * (is_public) requests none, and dispatch rejects the API routes on it.
 *
 * Why the node listens itself: a stop must refuse new connections at once, and in
 * libmicrohttpd 0.9.75 a daemon that listens stops only through MHD_quiesce_daemon. On
 * an epoll thread pool that call races the workers to remove the listening socket from
 * their epoll sets, and the loser aborts the process ("Failed to remove listen FD from
 * epoll set"), about one SIGTERM in eight under load. A poll() pool has no such race,
 * but each poll() wakeup walks every connection of the worker: with 1,000 idle
 * keep-alive connections on one worker its maximum rate fell to 0.5 to 0.6 of the rate
 * without them (docs/benchmarks.md). A daemon without a listening socket needs no
 * quiescing, so it can use epoll, whose cost per wakeup does not grow with idle
 * connections, and the accept thread closes the sockets at the stop.
 *
 * [limits] max_connections keeps its meaning, but the accept thread enforces it, not
 * libmicrohttpd. It counts a connection when it hands it over and stops accepting while
 * max_connections are open, so further clients wait in the backlog, as they did when
 * libmicrohttpd listened. libmicrohttpd gets max_connections times the threads as its
 * limit, so each worker's share can hold every connection. In 0.9.75
 * MHD_add_connection picks a worker by a count that lags behind the connections queued
 * to it. A worker handed more than its share returns from new_connection_process_ with
 * cleanup_connection_mutex still locked, and that deadlocks the worker and the stop.
 */
static int start_listener(http_server *server, unsigned port, bool is_public, char *error,
                          size_t error_size)
{
    const config *cfg = server->node->boot;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_TLS |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    http_listener *listener = is_public ? &server->public_listener : &server->api;
    http_listen_socket *socket = &listener->socket;

    listener->server = server;
    listener->is_public = is_public;
    socket->max_connections = server->max_connections;
    if (http_listen_open(cfg->listen_address, port, &socket->fd, error, error_size) != 0)
        return -1;
    socket->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, listener,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->limits.threads,
        MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
        MHD_OPTION_HTTPS_MEM_TRUST, is_public ? NULL : tls_client_ca_pem(server->node->tls),
        MHD_OPTION_HTTPS_CERT_CALLBACK,
        is_public ? tls_public_certificate_callback : tls_certificate_callback,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, listener,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, listener,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->limits.connection_timeout_seconds,
        MHD_OPTION_CONNECTION_LIMIT, socket->max_connections * (unsigned)cfg->limits.threads,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
        MHD_OPTION_END);
    if (socket->daemon == NULL) {
        snprintf(error, error_size, "cannot start the HTTPS server on %s port %u: "
                 "libmicrohttpd failed to start (invalid TLS settings, or no threads or "
                 "memory left)", cfg->listen_address, port);
        http_listen_close(socket);
        return -1;
    }
    return 0;
}

/* Stops a listener's daemon, which closes its connections, and closes its listening
 * socket if the accept thread has not. */
static void stop_listener(http_listener *listener)
{
    if (listener->socket.daemon != NULL)
        MHD_stop_daemon(listener->socket.daemon);
    listener->socket.daemon = NULL;
    http_listen_close(&listener->socket);
}

int http_server_start(node *n, http_server **out, char *error, size_t error_size)
{
    const config *cfg = n->boot;
    http_server *server = calloc(1, sizeof(*server));
    http_listen_socket *sockets[HTTP_LISTEN_MAX_SOCKETS];
    size_t socket_count = 0;

    *out = NULL;
    if (server == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    server->node = n;
    server->api.socket.fd = -1;
    server->public_listener.socket.fd = -1;
    pthread_mutex_init(&server->defer_lock, NULL);
    pthread_cond_init(&server->work_done, NULL);
    tls_require_client_certificate(n->tls, cfg->public_port != 0);
    if (http_listen_fit_descriptors((unsigned)cfg->limits.max_connections,
                                    cfg->public_port != 0 ? 2 : 1,
                                    (unsigned)cfg->limits.threads, &server->max_connections,
                                    error, error_size) != 0)
        goto fail;

    if (cfg->public_port != 0) {
        if (start_listener(server, cfg->public_port, true, error, error_size) != 0)
            goto fail;
        sockets[socket_count++] = &server->public_listener.socket;
    }
    if (start_listener(server, cfg->port, false, error, error_size) != 0)
        goto fail;
    sockets[socket_count++] = &server->api.socket;
    if (http_acceptor_start(&server->acceptor, sockets, socket_count,
                            (unsigned)cfg->limits.connection_timeout_seconds, n->metrics,
                            error, error_size) != 0)
        goto fail;
    *out = server;
    return 0;
fail:
    stop_listener(&server->api);
    stop_listener(&server->public_listener);
    pthread_cond_destroy(&server->work_done);
    pthread_mutex_destroy(&server->defer_lock);
    free(server);
    return -1;
}

/* Waits until no deferred request has work running. */
static void wait_deferred(http_server *server)
{
    pthread_mutex_lock(&server->defer_lock);
    while (server->deferred > 0)
        pthread_cond_wait(&server->work_done, &server->defer_lock);
    pthread_mutex_unlock(&server->defer_lock);
}

void http_server_stop(http_server **server_ptr)
{
    http_server *server;
    int waited_ms = 0;
    int quiet_ms = 0;

    if (server_ptr == NULL || *server_ptr == NULL)
        return;
    server = *server_ptr;

    /* Stop accepting, then give requests in flight time to finish. The accept thread
     * closes the listening sockets, so the kernel refuses new connections. A request
     * that arrives on an open connection from here on gets 503 node_stopping, and every
     * reply closes its connection. Idle keep-alive connections are closed by
     * MHD_stop_daemon once nothing has run for DRAIN_QUIET_MS. */
    atomic_store(&server->draining, true);
    http_acceptor_stop(&server->acceptor);
    while (quiet_ms < DRAIN_QUIET_MS && waited_ms < DRAIN_TIMEOUT_MS) {
        usleep(10 * 1000);
        waited_ms += 10;
        /* A client that trickles in the body of a request in flight would otherwise hold
         * the drain for DRAIN_TIMEOUT_MS. */
        http_acceptor_sweep(&server->acceptor);
        quiet_ms = atomic_load(&server->in_flight) == 0 ? quiet_ms + 10 : 0;
    }
    if (atomic_load(&server->in_flight) > 0)
        log_message(LOG_WARN, "drain_timeout", "%u requests were still running after %d ms",
                    atomic_load(&server->in_flight), DRAIN_TIMEOUT_MS);
    /* A deferred request's work ends in bounded time, because an audit commit succeeds
     * or fails. Its completion touches the request, so wait for it even after the
     * drain timeout. From here on a request that defers waits on its worker thread,
     * which MHD_stop_daemon joins, so none is suspended when the daemon stops. */
    pthread_mutex_lock(&server->defer_lock);
    server->no_suspend = true;
    pthread_mutex_unlock(&server->defer_lock);
    wait_deferred(server);
    stop_listener(&server->api);
    stop_listener(&server->public_listener);
    wait_deferred(server);
    /* The daemons' connection callbacks wake the acceptor until they stop. */
    http_acceptor_destroy(&server->acceptor);
    pthread_cond_destroy(&server->work_done);
    pthread_mutex_destroy(&server->defer_lock);
    free(server);
    *server_ptr = NULL;
}
