/*
 * The HTTPS front of the daemon: libmicrohttpd in thread-pool mode with epoll, fed by
 * the node's own accept thread (http_listen.h), a route table with the roles each route
 * admits, and the node state that handlers share.
 */
#ifndef IDSVC_HTTP_H
#define IDSVC_HTTP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "config.h"
#include "metrics.h"
#include "p11.h"
#include "saml.h"
#include "store.h"
#include "tls.h"

/* What SIGHUP replaces: the configuration and what is derived from it. Handlers hold a
 * reference for the whole request, so a reload never frees state in use. */
typedef struct node_snapshot {
    atomic_uint refs;
    config *cfg;
    saml_trust_store *trust;
    json_t *issuers; /* the document GET /v1/issuers returns */
    json_t *next_keys; /* SHA-256 hex of each [saml] next_certificate key */
    EVP_PKEY **next_public_keys; /* the same keys in the same order; owned */
    size_t next_public_key_count;
} node_snapshot;

/* The running node. Fields other than the snapshot are set at start and not changed. */
typedef struct node {
    pthread_mutex_t snapshot_lock;
    node_snapshot *snapshot;

    node_snapshot *boot_snapshot; /* held for the whole run, so boot stays valid */
    const config *boot;  /* the settings read at start: listen, HSM, database, limits */
    store *store;
    p11_token *token;
    p11_key *saml_key;
    X509 *saml_cert;     /* optional, published in the metadata */
    char *saml_cert_base64; /* saml_cert as KeyInfo writes it, encoded once at start */
    char *metadata_xml;
    metrics *metrics;
    tls_context *tls;
    struct audit_log *audit; /* the audit log (audit_log.h) */
    struct audit_anchor_p11 *audit_anchor; /* where the log keeps its anchor in the token */
    struct policy_store *policy; /* policy.h; NULL without [policy]; SIGHUP swaps its set */
} node;

node_snapshot *node_acquire(node *n);
void node_release(node_snapshot **snapshot);

/* Builds a snapshot from cfg (taking ownership of it) and publishes the registry to the
 * store. Returns 0, or -1 with a sentence in error and cfg freed. */
int node_install_config(node *n, config *cfg, char *error, size_t error_size);

/* Reads each file of cfg that the node reads without its HSM or database: the issuers'
 * keys, the attestation roots, the TLS certificate, the client CAs and the SAML
 * certificate, with the checks of a start. For `idsvc --check`. Returns 0 or -1 with
 * error set. */
int node_check_files(const config *cfg, char *error, size_t error_size);

/* Copies the registry entry of relying party id from the snapshot's configuration,
 * from which the store's registry is also written. Returns STORE_OK, STORE_NOT_FOUND or
 * STORE_FAILED when out of memory. The caller clears out with store_rp_clear. */
store_status node_find_rp(const node_snapshot *snapshot, const char *id, store_rp *out);

/* The caller as the client certificate shows it. */
typedef struct http_caller {
    bool has_certificate;
    unsigned role;          /* ROLE_NONE when the certificate maps to no role */
    bool ambiguous;         /* two sections match the certificate, so it has no role */
    const char *identity;   /* points into the snapshot's configuration */
    char fingerprint_hex[65];
    char subject_cn[CONFIG_CN_MAX_BYTES + 1]; /* empty when the certificate has no usable CN */
} http_caller;

#define HTTP_MAX_PARAMS 2

typedef struct http_request {
    node *node;
    node_snapshot *snapshot;
    const char *method;
    const char *path;
    char *params[HTTP_MAX_PARAMS]; /* the {id} segments of the route pattern */
    size_t param_count;
    const char *content_type;
    const char *body;
    size_t body_len;
    http_caller caller;
    char request_id[33];
    void *connection; /* the libmicrohttpd connection, for http_request_header */
} http_request;

/* Returns a request header, or NULL when it is absent. With several headers of the name,
 * it returns the first. */
const char *http_request_header(const http_request *request, const char *name);

/* Returns how many request headers have the name, in any case. */
unsigned http_request_header_count(const http_request *request, const char *name);

/* Returns the query-string argument of this name, compared in its case, or NULL when it
 * is absent. An argument without a value, with a NUL byte in it, or given more than
 * once, returns the empty string, which no parameter accepts. */
const char *http_request_query(const http_request *request, const char *name);

#define HTTP_MAX_HEADERS 8

/* A response under construction; body is owned and freed by the HTTP layer. */
typedef struct http_reply {
    unsigned status;
    char *body;
    size_t body_len;
    const char *content_type;
    const char *code;        /* the problem code, for the request log line */
    unsigned retry_after;    /* seconds; 0 sends no Retry-After */
    const char *allow;       /* methods for a 405 */
    size_t header_count;     /* extra headers, such as Set-Cookie; owned */
    char *header_names[HTTP_MAX_HEADERS];
    char *header_values[HTTP_MAX_HEADERS];
} http_reply;

/* Clears the body and the extra headers. */
void http_reply_clear(http_reply *reply);

/* Adds a response header; both strings are copied. Setting a body clears the headers,
 * so add them after the body. Returns 0, or -1 when out of memory or when
 * HTTP_MAX_HEADERS are set already. */
int http_reply_header(http_reply *reply, const char *name, const char *value);

/* Sets a JSON body (taking the reference to doc) with the given status. */
void http_reply_json(http_reply *reply, unsigned status, json_t *doc);

/* Sets a JSON body with the members of head, then name with the string value, then
 * the members of tail, as http_reply_json would write one object that contains them
 * in that order. It takes both references. value is escaped without jansson, which pays
 * off for kilobytes of XML. A value that is not valid UTF-8 gives 500. */
void http_reply_json_with_string(http_reply *reply, unsigned status, json_t *head,
                                 const char *name, const char *value, json_t *tail);

/* Sets a body of another type; text is copied. */
void http_reply_text(http_reply *reply, unsigned status, const char *content_type,
                     const char *text, size_t len);

typedef void (*http_handler)(http_request *request, http_reply *reply);

typedef struct http_route {
    const char *method;
    const char *pattern; /* "{id}" matches one path segment */
    unsigned roles;      /* ROLE_* bits; 0 for a public route */
    http_handler handler;
} http_route;

/* The route table, which the OpenAPI document mirrors. */
const http_route *http_routes(size_t *count);

/* Route handlers, one file per endpoint group. */
void route_credentials_issue(http_request *request, http_reply *reply);
void route_credentials_get(http_request *request, http_reply *reply);
void route_credentials_revoke(http_request *request, http_reply *reply);
void route_verifications_create(http_request *request, http_reply *reply);
void route_issuers_list(http_request *request, http_reply *reply);
void route_metadata_get(http_request *request, http_reply *reply);
void route_health_get(http_request *request, http_reply *reply);
void route_metrics_get(http_request *request, http_reply *reply);

/* The citizen pages and the consent results (route_enroll*.c, route_subject*.c,
 * route_consent*.c, web_static.c). */
void route_verifications_get(http_request *request, http_reply *reply);
void route_enroll_page(http_request *request, http_reply *reply);
void route_enroll_code(http_request *request, http_reply *reply);
void route_enroll_options(http_request *request, http_reply *reply);
void route_enroll_finish(http_request *request, http_reply *reply);
void route_enroll_remove(http_request *request, http_reply *reply);
void route_subject_page(http_request *request, http_reply *reply);
void route_subject_signin_options(http_request *request, http_reply *reply);
void route_subject_signin(http_request *request, http_reply *reply);
void route_subject_signout(http_request *request, http_reply *reply);
void route_consent_page(http_request *request, http_reply *reply);
void route_consent_options(http_request *request, http_reply *reply);
void route_consent_approve(http_request *request, http_reply *reply);
void route_consent_refuse(http_request *request, http_reply *reply);
void route_static_script(http_request *request, http_reply *reply);
void route_static_style(http_request *request, http_reply *reply);
void route_audit_checkpoint_get(http_request *request, http_reply *reply);
void route_audit_entries_list(http_request *request, http_reply *reply);
void route_audit_inclusion_get(http_request *request, http_reply *reply);
void route_audit_consistency_get(http_request *request, http_reply *reply);

/*
 * Deferred replies. A handler whose reply waits on work that another thread finishes,
 * such as the commit of an audit entry, calls http_request_defer before it returns,
 * with the function that completes the reply, and hands the work on. The worker thread
 * then serves other connections; this one is suspended. The other thread calls
 * http_request_resume once the work is done, whichever comes first, and next(request,
 * reply, ctx) runs on the connection's worker thread. It must leave a reply set: its
 * own, or one the handler set before deferring. It may also defer again, with new work.
 * The handler must not change the reply after deferring.
 */
typedef void (*http_continuation)(http_request *request, http_reply *reply, void *ctx);

void http_request_defer(http_request *request, http_continuation next, void *ctx);

/* Safe from any thread, once per deferred request. */
void http_request_resume(http_request *request);

/* Builds the node's SAML metadata document; the caller frees it. NULL on failure. */
char *route_metadata_build(const node *n);

/*
 * Parses the body as a JSON object within the configured depth and string limits.
 * Returns NULL with a problem in reply when the body is not acceptable.
 */
json_t *http_parse_json_body(const http_request *request, http_reply *reply);

/* Reads a string member. Returns NULL with a problem in reply when the member is
 * missing and required, not a string, empty or longer than max_len bytes. Returns NULL
 * and leaves reply unset when an optional member is absent. */
const char *http_json_string(const json_t *object, const char *name, bool required,
                             size_t max_len, http_reply *reply);

/* Rejects a member of object whose name is not in known (a NULL-terminated list) with
 * 400 field_unknown naming it. Returns true when every member is known. */
bool http_json_known_members(const json_t *object, const char *const *known,
                             http_reply *reply);

/* Runs the server until http_server_stop; 0 or -1 with a sentence in error. */
typedef struct http_server http_server;

int http_server_start(node *n, http_server **out, char *error, size_t error_size);

/* Stops accepting, lets requests in flight finish, and frees the server. */
void http_server_stop(http_server **server);

#endif
