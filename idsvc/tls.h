/*
 * TLS for the daemon: GnuTLS with the node's private key in a PKCS#11 token, TLS 1.2
 * and 1.3 only, and client certificates checked against the configured CAs.
 *
 * The server requests a client certificate on every connection and verifies any
 * certificate offered during the handshake, which fails when the certificate does not
 * chain to a configured CA or does not allow client authentication. A client without a
 * certificate completes the handshake, so it can reach the public routes; every other
 * route rejects it with 401 (see http.c).
 */
#ifndef IDSVC_TLS_H
#define IDSVC_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "config.h"

/* TLS 1.2 and 1.3 with the SECURE128 suites, and in TLS 1.2 only AEAD ciphers (AES-GCM,
 * ChaCha20-Poly1305) with ECDHE key exchange: no CBC with SHA-1, and no suite without
 * forward secrecy. Everything older is refused. */
#define TLS_PRIORITIES                                                                    \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:" \
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-RSA:-DHE-RSA:%SERVER_PRECEDENCE"

typedef struct tls_context tls_context;

/* How the subject CN of a client certificate reads, for the role mapping. */
typedef enum tls_cn_status {
    TLS_CN_ABSENT,  /* the subject has no CN, or no certificate was offered */
    TLS_CN_OK,      /* exactly one CN, whose value subject_cn contains in UTF-8 */
    TLS_CN_SEVERAL, /* more than one CN, so the certificate maps to no role at all */
    TLS_CN_INVALID, /* one CN that no subject_cn can match: not text, with U+0000, or
                     * longer than CONFIG_CN_MAX_CHARS characters */
} tls_cn_status;

/* What the client certificate of a connection shows; empty when none was offered. */
typedef struct tls_peer {
    bool has_certificate; /* offered and verified against the client CAs */
    unsigned char fingerprint[32];
    char fingerprint_hex[65];
    tls_cn_status cn_status;
    char subject_cn[CONFIG_CN_MAX_BYTES + 1]; /* empty unless cn_status is TLS_CN_OK */
} tls_peer;

/* Hooks for HSM metrics, called from worker threads. */
typedef struct tls_hsm_observer {
    void (*key_import)(void *ctx, bool ok);
    void *ctx;
} tls_hsm_observer;

/* The PKCS#11 module loaded when [hsm] module is not set: Debian's SoftHSM2. */
#define TLS_DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"

/*
 * Loads the certificate chain and the client CAs, initialises GnuTLS PKCS#11 with only
 * the configured module, and imports the key once to fail early. The context becomes
 * the one the certificate callback uses; only one may exist at a time.
 */
int tls_context_new(const config *cfg, const char *pin, const tls_hsm_observer *observer,
                    tls_context **out, char *error, size_t error_size);
void tls_context_free(tls_context **ctx);

/* The client CAs as one PEM text, for MHD_OPTION_HTTPS_MEM_TRUST. */
const char *tls_client_ca_pem(const tls_context *ctx);

/*
 * Sets whether the API listener's handshake requires a client certificate. Without a
 * public listener the public routes share the API port, so a certificate is only
 * requested, and the API routes reply 401 to a client without one. With one
 * (public_port), the API port rejects a handshake that offers none. Call it before the
 * listeners start.
 */
void tls_require_client_certificate(tls_context *ctx, bool required);

/* The certificate callback of the API listener, for MHD_OPTION_HTTPS_CERT_CALLBACK. */
int tls_certificate_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_dn,
                             int nreqs, const gnutls_pk_algorithm_t *pk_algos,
                             int pk_algos_length, gnutls_pcert_st **pcert,
                             unsigned int *pcert_length, gnutls_privkey_t *pkey);

/* The certificate callback of the public listener, which requests no client
 * certificate. */
int tls_public_certificate_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_dn,
                                    int nreqs, const gnutls_pk_algorithm_t *pk_algos,
                                    int pk_algos_length, gnutls_pcert_st **pcert,
                                    unsigned int *pcert_length, gnutls_privkey_t *pkey);

/* Per-connection TLS state: set up when a connection starts, logged when it closes. */
typedef struct tls_connection {
    bool handshake_done;
    unsigned char client_version[2]; /* the ClientHello's legacy_version */
    char address[64];
    char failure[192]; /* why the client certificate was rejected, when it was */
    bool certificate_sent; /* the node's Certificate message went out */
    bool signature_sent;   /* so did the message that its TLS key signs */
} tls_connection;

void tls_connection_start(gnutls_session_t session, tls_connection *conn);

/* Logs a failed handshake with the reason GnuTLS recorded; returns true when the
 * handshake had failed. */
bool tls_connection_closed(gnutls_session_t session, const tls_connection *conn);

/* Reads the verified client certificate of a session. Returns 0 (peer may show no
 * certificate) or -1 when a certificate is present but could not be read. Logs
 * client_certificate_cn_unusable when the subject's CN cannot be used for the mapping. */
int tls_read_peer(gnutls_session_t session, tls_peer *peer);

/*
 * Reads the subject CN of a DER certificate as the value the certificate carries,
 * converted to UTF-8 from its ASN.1 string type, without the RFC 4514 escaping of a DN
 * string. out receives it only with TLS_CN_OK and is empty otherwise. Returns -1 when
 * the certificate cannot be parsed or memory runs out.
 */
int tls_subject_cn(const gnutls_datum_t *der, char *out, size_t out_size,
                   tls_cn_status *status);

/* Returns the CN that the role mapping may compare, or NULL when there is none. */
const char *tls_peer_cn(const tls_peer *peer);

#endif
