#include "tls.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/pkcs11.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "log.h"
#include "p11.h"
#include "pem_file.h"

#define TLS_MAX_CHAIN 8

struct tls_context {
    char *key_uri;
    char *pin;
    gnutls_pcert_st chain[TLS_MAX_CHAIN];
    unsigned chain_length;
    char *client_ca_pem;
    bool require_client_certificate;
    /* Written by whichever worker thread imports the key, read after the start. */
    atomic_bool pin_rejected; /* set when the token rejected the PIN during an import */
    atomic_int import_error;  /* the GnuTLS error of the last failed import, or 0 */
    tls_hsm_observer observer;

    /* Every key imported by a worker thread, released when the context is freed. */
    pthread_mutex_t keys_lock;
    gnutls_privkey_t *keys;
    size_t key_count;
};

/* The certificate callback of GnuTLS takes no user pointer, so it reads this. */
static tls_context *active_context;

/* A gnutls_privkey_t is locked while it signs, so each worker thread imports its own. */
static _Thread_local gnutls_privkey_t thread_key;

/* Hands the PIN to GnuTLS once; a second attempt means the PIN was wrong, and trying
 * again would count towards locking the token. */
static int pin_callback(void *userdata, int attempt, const char *token_url,
                        const char *token_label, unsigned int flags, char *pin,
                        size_t pin_max)
{
    tls_context *ctx = userdata;
    size_t len = strlen(ctx->pin);

    (void)token_url;
    (void)flags;
    if (attempt > 0) {
        atomic_store(&ctx->pin_rejected, true);
        log_message(LOG_ERROR, "tls_pin_rejected",
                    "the token '%s' rejected the PIN; not retrying", token_label);
        return -1;
    }
    if (len + 1 > pin_max)
        return -1;
    memcpy(pin, ctx->pin, len + 1);
    return 0;
}

static int import_key(tls_context *ctx, gnutls_privkey_t *out)
{
    gnutls_privkey_t key = NULL;
    int rc;

    rc = gnutls_privkey_init(&key);
    if (rc == GNUTLS_E_SUCCESS)
        rc = gnutls_privkey_import_url(key, ctx->key_uri, 0);
    if (ctx->observer.key_import != NULL)
        ctx->observer.key_import(ctx->observer.ctx, rc == GNUTLS_E_SUCCESS);
    if (rc != GNUTLS_E_SUCCESS) {
        atomic_store(&ctx->import_error, rc);
        log_message(LOG_ERROR, "tls_key_import_failed",
                    "importing the TLS key from the token failed: %s", gnutls_strerror(rc));
        gnutls_privkey_deinit(key);
        return -1;
    }
    *out = key;
    return 0;
}

static int remember_key(tls_context *ctx, gnutls_privkey_t key)
{
    gnutls_privkey_t *grown;
    int rc = -1;

    pthread_mutex_lock(&ctx->keys_lock);
    grown = realloc(ctx->keys, (ctx->key_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        ctx->keys = grown;
        grown[ctx->key_count++] = key;
        rc = 0;
    }
    pthread_mutex_unlock(&ctx->keys_lock);
    return rc;
}

static gnutls_privkey_t thread_private_key(tls_context *ctx)
{
    gnutls_privkey_t key = NULL;

    if (thread_key != NULL)
        return thread_key;
    if (import_key(ctx, &key) != 0)
        return NULL;
    if (remember_key(ctx, key) != 0) {
        gnutls_privkey_deinit(key);
        return NULL;
    }
    thread_key = key;
    return key;
}

static tls_connection *connection_of(gnutls_session_t session);

/* A certificate that is offered must chain to a client CA and allow TLS client
 * authentication. A handshake without one passes, unless the API listener requires
 * certificates; the failure names the reason for the log line of the closed
 * connection. */
static int verify_client_certificate(gnutls_session_t session)
{
    gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                     (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
    tls_connection *conn = connection_of(session);
    gnutls_datum_t text = {NULL, 0};
    unsigned int count = 0;
    unsigned int status = 0;
    int rc;

    if (gnutls_certificate_get_peers(session, &count) == NULL || count == 0) {
        if (active_context == NULL || !active_context->require_client_certificate)
            return 0;
        if (conn != NULL)
            snprintf(conn->failure, sizeof(conn->failure),
                     "client certificate: none was offered, and the API port requires one");
        return -1;
    }
    rc = gnutls_certificate_verify_peers(session, &purpose, 1, &status);
    if (rc == GNUTLS_E_SUCCESS && status == 0)
        return 0;

    if (conn != NULL) {
        if (rc != GNUTLS_E_SUCCESS)
            snprintf(conn->failure, sizeof(conn->failure), "client certificate: %s",
                     gnutls_strerror(rc));
        else if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509,
                                                              &text, 0) == 0)
            snprintf(conn->failure, sizeof(conn->failure), "client certificate: %s",
                     (const char *)text.data);
        gnutls_free(text.data);
    }
    return -1;
}

void tls_require_client_certificate(tls_context *ctx, bool required)
{
    ctx->require_client_certificate = required;
}

/* Hands GnuTLS the node's chain and this thread's key. */
static int serve_certificate(tls_context *ctx, gnutls_pcert_st **pcert,
                             unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    gnutls_privkey_t key = thread_private_key(ctx);

    if (key == NULL)
        return -1;
    *pcert = ctx->chain;
    *pcert_length = ctx->chain_length;
    *pkey = key;
    return 0;
}

int tls_certificate_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_dn,
                             int nreqs, const gnutls_pk_algorithm_t *pk_algos,
                             int pk_algos_length, gnutls_pcert_st **pcert,
                             unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    tls_context *ctx = active_context;

    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    if (ctx == NULL)
        return -1;

    /* Ask for a certificate and verify any that is offered during the handshake. On a
     * port shared with the public routes a client without one must get through, and
     * the API routes reply 401. An API port of its own rejects it in
     * verify_client_certificate, which gives the log line its reason. That is the
     * effect of GNUTLS_CERT_REQUIRE, whose failure would carry no reason. */
    gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
    gnutls_session_set_verify_function(session, verify_client_certificate);
    return serve_certificate(ctx, pcert, pcert_length, pkey);
}

int tls_public_certificate_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_dn,
                                    int nreqs, const gnutls_pk_algorithm_t *pk_algos,
                                    int pk_algos_length, gnutls_pcert_st **pcert,
                                    unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    tls_context *ctx = active_context;

    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    if (ctx == NULL)
        return -1;
    gnutls_certificate_server_set_request(session, GNUTLS_CERT_IGNORE);
    return serve_certificate(ctx, pcert, pcert_length, pkey);
}

static int load_chain(tls_context *ctx, const char *path, char *error, size_t error_size)
{
    int rc;

    ctx->chain_length = TLS_MAX_CHAIN;
    rc = gnutls_pcert_list_import_x509_file(ctx->chain, &ctx->chain_length, path,
                                            GNUTLS_X509_FMT_PEM, NULL, NULL, 0);
    if (rc < 0) {
        ctx->chain_length = 0;
        snprintf(error, error_size, "%s: cannot load the TLS certificate chain: %s", path,
                 gnutls_strerror(rc));
        return -1;
    }
    return 0;
}

/* Appends the file's bytes and a line break to *text, which stays NUL-terminated.
 * Returns -1 when the file cannot be read or reads empty. An empty read means that the
 * file changed since the caller checked its certificates, as a pipe does when it is
 * read a second time. */
static int append_file(char **text, size_t *len, const char *path)
{
    FILE *file = fopen(path, "rb");
    char buffer[4096];
    size_t added = 0;
    size_t n;
    int rc = 0;

    if (file == NULL)
        return -1;
    while ((n = fread(buffer, 1, sizeof(buffer), file)) > 0) {
        /* Room for these bytes, the line break and the NUL. */
        char *grown = realloc(*text, *len + n + 2);

        if (grown == NULL) {
            rc = -1;
            break;
        }
        *text = grown;
        memcpy(grown + *len, buffer, n);
        *len += n;
        added += n;
    }
    if (rc == 0 && (ferror(file) || added == 0))
        rc = -1;
    fclose(file);
    if (rc == 0) {
        (*text)[(*len)++] = '\n';
        (*text)[*len] = '\0';
    }
    return rc;
}

static int load_client_cas(tls_context *ctx, const config *cfg, char *error,
                           size_t error_size)
{
    size_t len = 0;

    for (size_t i = 0; i < cfg->client_ca_count; i++) {
        char detail[384] = "";
        X509 **certs = NULL;
        size_t count = 0;

        /* Checked here, so that a bad block stops the start and names the file. */
        if (pem_read_certificates(cfg->client_ca_files[i], &certs, &count, detail,
                                  sizeof(detail)) != 0) {
            snprintf(error, error_size, "[tls] client_ca %s", detail);
            return -1;
        }
        pem_certificates_free(&certs, count);
        if (append_file(&ctx->client_ca_pem, &len, cfg->client_ca_files[i]) != 0) {
            snprintf(error, error_size,
                     "%s: cannot read the client CA file a second time, or it read empty "
                     "then; give a regular file, not a pipe",
                     cfg->client_ca_files[i]);
            return -1;
        }
    }
    return 0;
}

static int init_pkcs11(tls_context *ctx, const config *cfg, char *error, size_t error_size)
{
    const char *module = cfg->module_path != NULL ? cfg->module_path : TLS_DEFAULT_MODULE;
    int rc;

    /* MANUAL: without it p11-kit would load every module configured on the system. */
    rc = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_MANUAL, NULL);
    if (rc == GNUTLS_E_SUCCESS)
        rc = gnutls_pkcs11_add_provider(module, NULL);
    if (rc != GNUTLS_E_SUCCESS) {
        snprintf(error, error_size, "%s: cannot load the PKCS#11 module into GnuTLS: %s",
                 module, gnutls_strerror(rc));
        return -1;
    }
    gnutls_pkcs11_set_pin_function(pin_callback, ctx);
    return 0;
}

/* Writes why the first import of the TLS key failed, naming the PIN source when the
 * token rejected the PIN, and SOFTHSM2_CONF when SoftHSM2 found no such key. */
static void describe_import_failure(const tls_context *ctx, const config *cfg,
                                    char *error, size_t error_size)
{
    char hint[160] = "";
    int import_error = atomic_load(&ctx->import_error);

    if (atomic_load(&ctx->pin_rejected)) {
        snprintf(error, error_size,
                 "the token '%s' rejected the PIN read from [hsm] %s %s "
                 "(tls_pin_rejected). Correct the PIN there. The node does not try a "
                 "rejected PIN again",
                 cfg->token_label, cfg->pin_file != NULL ? "pin_file" : "pin_env",
                 cfg->pin_file != NULL ? cfg->pin_file : cfg->pin_env);
        return;
    }
    if (import_error == GNUTLS_E_PKCS11_REQUESTED_OBJECT_NOT_AVAILBLE)
        p11_softhsm_hint(cfg->module_path, hint, sizeof(hint));
    snprintf(error, error_size, "cannot import the TLS key %s from the token: %s.%s",
             cfg->tls_key_uri, gnutls_strerror(import_error), hint);
}

/* Exports pub as DER into out. The caller frees out->data with gnutls_free. */
static int export_public(gnutls_pubkey_t pub, gnutls_datum_t *out)
{
    return gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, out) == 0 ? 0 : -1;
}

/*
 * Checks that the first certificate of the chain contains the public key of the TLS key,
 * so that a certificate of another key stops the start instead of failing every
 * handshake with a bad signature. A token that does not give the public key out passes
 * with a warning, because the handshakes may still work.
 */
static int check_chain_key(const tls_context *ctx, const config *cfg, gnutls_privkey_t key,
                           char *error, size_t error_size)
{
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t from_key = {0};
    gnutls_datum_t from_cert = {0};
    int rc = 0;

    if (gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_privkey(pub, key, 0, 0) < 0 ||
        export_public(pub, &from_key) != 0 || export_public(ctx->chain[0].pubkey, &from_cert) != 0) {
        log_message(LOG_WARN, "tls_key_unchecked",
                    "the public key of [hsm] tls_key %s could not be read, so the node "
                    "cannot check that [tls] certificate %s holds it",
                    cfg->tls_key_uri, cfg->certificate_file);
    } else if (from_key.size != from_cert.size ||
               memcmp(from_key.data, from_cert.data, from_key.size) != 0) {
        snprintf(error, error_size,
                 "[tls] certificate %s does not contain the public key of [hsm] tls_key %s, "
                 "so every handshake would fail. Make a certificate of that key with "
                 "`idsvc-admin keys certificate` or `idsvc-admin keys request`",
                 cfg->certificate_file, cfg->tls_key_uri);
        rc = -1;
    }
    gnutls_free(from_key.data);
    gnutls_free(from_cert.data);
    gnutls_pubkey_deinit(pub);
    return rc;
}

int tls_context_new(const config *cfg, const char *pin, const tls_hsm_observer *observer,
                    tls_context **out, char *error, size_t error_size)
{
    tls_context *ctx = NULL;
    gnutls_privkey_t probe = NULL;
    int rc = -1;

    *out = NULL;
    if (active_context != NULL) {
        snprintf(error, error_size, "a TLS context exists already");
        return -1;
    }
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    pthread_mutex_init(&ctx->keys_lock, NULL);
    if (observer != NULL)
        ctx->observer = *observer;
    ctx->key_uri = strdup(cfg->tls_key_uri);
    ctx->pin = strdup(pin);
    if (ctx->key_uri == NULL || ctx->pin == NULL) {
        snprintf(error, error_size, "out of memory");
        goto out;
    }

    if (load_chain(ctx, cfg->certificate_file, error, error_size) != 0 ||
        load_client_cas(ctx, cfg, error, error_size) != 0 ||
        init_pkcs11(ctx, cfg, error, error_size) != 0)
        goto out;

    /* Import once now, so a wrong URI or PIN stops the start instead of every handshake. */
    if (import_key(ctx, &probe) != 0) {
        describe_import_failure(ctx, cfg, error, error_size);
        goto out;
    }
    if (check_chain_key(ctx, cfg, probe, error, error_size) != 0) {
        gnutls_privkey_deinit(probe);
        goto out;
    }
    gnutls_privkey_deinit(probe);

    active_context = ctx;
    *out = ctx; /* ownership passes to the caller */
    ctx = NULL;
    rc = 0;
out:
    tls_context_free(&ctx);
    return rc;
}

void tls_context_free(tls_context **ctx_ptr)
{
    tls_context *ctx;

    if (ctx_ptr == NULL || *ctx_ptr == NULL)
        return;
    ctx = *ctx_ptr;

    for (size_t i = 0; i < ctx->key_count; i++)
        gnutls_privkey_deinit(ctx->keys[i]);
    free(ctx->keys);
    thread_key = NULL;
    for (unsigned i = 0; i < ctx->chain_length; i++)
        gnutls_pcert_deinit(&ctx->chain[i]);
    free(ctx->client_ca_pem);
    free(ctx->key_uri);
    if (ctx->pin != NULL) {
        explicit_bzero(ctx->pin, strlen(ctx->pin));
        free(ctx->pin);
    }
    pthread_mutex_destroy(&ctx->keys_lock);
    if (active_context == ctx) {
        active_context = NULL;
        gnutls_pkcs11_deinit();
    }
    free(ctx);
    *ctx_ptr = NULL;
}

const char *tls_client_ca_pem(const tls_context *ctx)
{
    return ctx->client_ca_pem;
}

/* libmicrohttpd 0.9.75 stores its connection as the session pointer; the connection
 * carries our per-connection state as its socket context. */
static tls_connection *connection_of(gnutls_session_t session)
{
    struct MHD_Connection *connection = gnutls_session_get_ptr(session);
    const union MHD_ConnectionInfo *info;

    if (connection == NULL)
        return NULL;
    info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != NULL ? info->socket_context : NULL;
}

static int handshake_hook(gnutls_session_t session, unsigned int htype, unsigned when,
                          unsigned int incoming, const gnutls_datum_t *msg)
{
    tls_connection *conn = connection_of(session);

    (void)when;
    if (conn == NULL)
        return 0;
    if (htype == GNUTLS_HANDSHAKE_CLIENT_HELLO && incoming && msg->size >= 2)
        memcpy(conn->client_version, msg->data, 2);
    if (htype == GNUTLS_HANDSHAKE_FINISHED && incoming)
        conn->handshake_done = true;
    /* A sent message's hook runs once the message is built. The key signs the
     * CertificateVerify of TLS 1.3 and the ServerKeyExchange of TLS 1.2 (ECDHE only),
     * so a Certificate without either means the signature failed. */
    if (!incoming && htype == GNUTLS_HANDSHAKE_CERTIFICATE_PKT)
        conn->certificate_sent = true;
    if (!incoming && (htype == GNUTLS_HANDSHAKE_CERTIFICATE_VERIFY ||
                      htype == GNUTLS_HANDSHAKE_SERVER_KEY_EXCHANGE))
        conn->signature_sent = true;
    return 0;
}

void tls_connection_start(gnutls_session_t session, tls_connection *conn)
{
    gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_PRE,
                                       handshake_hook);
    (void)conn;
}

bool tls_connection_closed(gnutls_session_t session, const tls_connection *conn)
{
    char version[16] = "";
    const char *reason = "the handshake did not complete";

    (void)session;
    if (conn->handshake_done)
        return false;

    if (conn->client_version[0] != 0)
        snprintf(version, sizeof(version), "%u.%u", conn->client_version[0],
                 conn->client_version[1]);
    if (conn->failure[0] != '\0')
        reason = conn->failure;
    else if (conn->certificate_sent && !conn->signature_sent)
        reason = "the node's TLS key did not sign the handshake, so the HSM failed or "
                 "is unavailable";
    else if (conn->client_version[0] != 0 &&
             (conn->client_version[0] < 3 ||
              (conn->client_version[0] == 3 && conn->client_version[1] < 3)))
        reason = "the client offered only a protocol version older than TLS 1.2";

    log_field fields[] = {
        {"peer", conn->address},
        {"client_hello_version", version[0] != '\0' ? version : NULL},
        {"reason", reason},
    };
    log_event(LOG_WARN, "tls_handshake_failed", fields, sizeof(fields) / sizeof(fields[0]));
    return true;
}

/* Logs why the role mapping cannot use the subject CN of a client certificate. */
static void log_unusable_cn(const tls_peer *peer)
{
    char reason[160];

    if (peer->cn_status == TLS_CN_SEVERAL)
        snprintf(reason, sizeof(reason),
                 "the subject has more than one CN, so the certificate maps to no role");
    else
        snprintf(reason, sizeof(reason),
                 "the subject CN is not valid text, contains U+0000 or is longer than %d "
                 "characters, so no subject_cn matches it",
                 CONFIG_CN_MAX_CHARS);
    log_field fields[] = {
        {"certificate_sha256", peer->fingerprint_hex},
        {"reason", reason},
    };

    log_event(LOG_WARN, "client_certificate_cn_unusable", fields,
              sizeof(fields) / sizeof(fields[0]));
}

int tls_read_peer(gnutls_session_t session, tls_peer *peer)
{
    const gnutls_datum_t *certs;
    unsigned int count = 0;
    unsigned int status = 0;
    size_t size;

    memset(peer, 0, sizeof(*peer));
    certs = gnutls_certificate_get_peers(session, &count);
    if (certs == NULL || count == 0)
        return 0;

    /* The handshake verified the chain already; checking again costs little and keeps
     * a certificate that failed out of every route, whatever the handshake settings. */
    gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                     (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
    if (gnutls_certificate_verify_peers(session, &purpose, 1, &status) != 0 || status != 0)
        return 0;

    size = sizeof(peer->fingerprint);
    if (gnutls_fingerprint(GNUTLS_DIG_SHA256, &certs[0], peer->fingerprint, &size) != 0 ||
        size != 32)
        return -1;
    for (size_t i = 0; i < 32; i++)
        snprintf(peer->fingerprint_hex + 2 * i, 3, "%02x", peer->fingerprint[i]);

    if (tls_subject_cn(&certs[0], peer->subject_cn, sizeof(peer->subject_cn),
                       &peer->cn_status) != 0)
        return -1;
    if (peer->cn_status == TLS_CN_SEVERAL || peer->cn_status == TLS_CN_INVALID)
        log_unusable_cn(peer);

    peer->has_certificate = true;
    return 0;
}
