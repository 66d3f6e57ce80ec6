/*
 * The daemon's configuration: an INI file read with libinih. etc/idsvc.conf.sample
 * describes every key; docs/configuration.md explains the sections.
 */
#ifndef IDSVC_CONFIG_H
#define IDSVC_CONFIG_H

/* The largest [saml] clock_skew, in seconds, that a configuration or a reload sets. */
#define CONFIG_CLOCK_SKEW_MAX 600

#include <stdbool.h>
#include <stddef.h>

/* The roles a client certificate can map to; a bit each, so routes can allow several. */
typedef enum config_role {
    ROLE_NONE = 0,
    ROLE_ISSUER = 1u << 0,
    ROLE_RP = 1u << 1,
    ROLE_REGULATOR = 1u << 2,
    ROLE_NODE = 1u << 3,
} config_role;

#define ROLE_ANY (ROLE_ISSUER | ROLE_RP | ROLE_REGULATOR | ROLE_NODE)

/* Returns "issuer", "rp", "regulator", "node" or "none". */
const char *config_role_name(unsigned role);

/* A SAML issuer the node trusts, with one or more PEM files (several during rollover). */
typedef struct config_issuer {
    char *id;        /* the section name */
    char *entity_id;
    char **pem_files;
    size_t pem_count;
    char *jurisdiction; /* its subjects' home for the policy engine; NULL when unknown */
} config_issuer;

/* A relying party: its SAML entity ID, jurisdiction and the claims it may receive. */
typedef struct config_rp {
    char *id;
    char *entity_id;
    char *jurisdiction;
    char **allowed_claims;
    size_t allowed_count;
    char *name;          /* shown to subjects on the consent page; NULL shows id */
    bool consent_always; /* consent = always: every verification waits for consent */
    unsigned transfer_mechanisms; /* POLICY_MECH_* bits on record, for the policy engine */
    int allowed_claims_line;      /* the line of allowed_claims in the file; 0 without one */
} config_rp;

/* The longest CN a certificate may carry, in characters (RFC 5280 ub-common-name), and
 * the bytes it can take in UTF-8. A subject_cn is 1 to CONFIG_CN_MAX_CHARS characters. */
#define CONFIG_CN_MAX_CHARS 64
#define CONFIG_CN_MAX_BYTES (4 * CONFIG_CN_MAX_CHARS)

/* Maps a client certificate, by subject CN or SHA-256 fingerprint, to a role. */
typedef struct config_client {
    char *name;           /* the section name */
    unsigned role;        /* one ROLE_* bit */
    char *identity;       /* the caller's name in logs and records; an rp id for ROLE_RP */
    char *subject_cn;     /* NULL when matched by fingerprint only */
    unsigned char fingerprint[32];
    bool has_fingerprint;
    bool from_rp_section; /* made by an [rp ID] section, whose name is "rp ID" */
} config_client;

typedef struct config_limits {
    size_t max_body_bytes;
    unsigned max_json_depth;
    size_t max_string_bytes;
    unsigned threads;
    unsigned connection_timeout_seconds;
    unsigned max_connections;
} config_limits;

/* [webauthn] and [pages]: the citizen pages. rp_id NULL turns the pages off. */
typedef struct config_web {
    char *rp_id;
    char **origins;           /* compared byte for byte with clientDataJSON and Origin */
    size_t origin_count;
    int *origin_lines;        /* the line of each origin in the file, for messages */
    int attestation;          /* a webauthn_attestation_policy value */
    char **root_files;        /* attestation trust anchors, PEM */
    size_t root_count;
    unsigned challenge_seconds;
    unsigned max_signin_challenges; /* maximum live sign-in challenges, used or not */
    unsigned session_seconds;
    unsigned consent_seconds;
    char *assets_dir;         /* web/: scripts, styles and message catalogues */
} config_web;

/* A retention rule of [audit]: payloads of a jurisdiction's entries are purged after
 * days. */
typedef struct config_retention {
    char *jurisdiction; /* NULL for the default rule, retention_days */
    unsigned days;      /* 0 keeps payloads forever */
    int line;           /* the line that set days; 0 for the default of 0 */
} config_retention;

/* [audit]: checkpoints and retention of the audit log (docs/audit-log.md). */
typedef struct config_audit {
    unsigned checkpoint_interval_seconds; /* 0 signs checkpoints only on demand */
    int checkpoint_interval_line;         /* 0 when the file keeps the default */
    config_retention *retention;          /* the default rule first */
    size_t retention_count;
} config_audit;

/* A [regulator NAME] section: one regulator's public keys and the bundles they may
 * sign. */
typedef struct config_regulator {
    char *name;       /* the section name */
    char **key_files; /* PEM public keys or certificates, several during a rollover */
    size_t key_count;
    bool signs_base; /* may sign the base bundle */
    /* ISO 3166-1 alpha-2 codes of the jurisdictions whose residency bundles it signs */
    char **jurisdictions;
    size_t jurisdiction_count;
} config_regulator;

/* [policy]: the signed policy bundles the engine decides with. bundle_count 0 leaves the
 * engine off, and disclosures then follow only allowed_claims. */
typedef struct config_policy {
    char *trust_file;    /* keys bound to no regulator, PEM; NULL when not given */
    char **bundle_files; /* the base bundle and residency bundles, in any order */
    size_t bundle_count;
    config_regulator *regulators;
    size_t regulator_count;
} config_policy;

typedef struct config {
    char *path; /* the file this was read from, for reloads */

    /* [server] */
    char *listen_address;
    unsigned port;
    unsigned public_port;     /* 0: one listener; else the public routes' own listener */
    char *entity_id;          /* the node's SAML entity ID */
    char *public_url;         /* the base URL clients use; NULL derives it from listen */
    char *jurisdiction;

    /* [hsm] */
    char *module_path;
    char *token_label;
    char *pin_file;
    char *pin_env;
    char *tls_key_uri;
    char *saml_key_uri;
    unsigned retry_after_seconds; /* sent with 503 when the HSM fails */

    /* [tls] */
    char *certificate_file;   /* the node's TLS certificate chain, PEM */
    char **client_ca_files;
    size_t client_ca_count;

    /* SHA-256 of the contents of the start-only files when this configuration was
     * loaded, all zero for a file that could not be read. A reload compares them, so a
     * certificate written over the same path still reports restart_required. The client
     * CAs have one digest over their sorted digests, so that their order does not count. */
    unsigned char certificate_sha256[32];
    unsigned char client_ca_sha256[32];
    unsigned char saml_certificate_sha256[32];
    unsigned char saml_next_sha256[32]; /* over the sorted digests, as client_ca_sha256 */

    /* [saml] */
    char *saml_certificate_file; /* optional: published in the metadata */
    /* The public keys of the node's earlier SAML keys, PEM certificates or keys, which it
     * keeps trusting for its own credentials after a key rotation. */
    char **saml_previous_files;
    size_t saml_previous_count;
    /* The public keys of the node's next SAML keys, PEM certificates or keys, which the
     * metadata announces before the node signs with them. The metadata is built only
     * at start, so a reload checks a changed list but does not apply it. */
    char **saml_next_files;
    size_t saml_next_count;
    long result_validity_seconds;
    long clock_skew_seconds; /* at most CONFIG_CLOCK_SKEW_MAX */

    /* [database] */
    char *database_path;

    config_limits limits;
    config_audit audit;
    config_policy policy;
    config_web web;

    config_issuer *issuers;
    size_t issuer_count;
    config_rp *rps;
    size_t rp_count;
    config_client *clients;
    size_t client_count;
} config;

/*
 * Adds what a signs line lists to regulator: "base" and officially assigned ISO 3166-1
 * alpha-2 codes in capitals, separated by spaces or commas. Returns 0, or -1 with a
 * sentence in error that names the first invalid item.
 */
int config_regulator_add_signs(config_regulator *regulator, const char *value,
                               char *error, size_t error_size);

/*
 * Reads and checks a configuration file. Returns 0, or -1 with a sentence in error that
 * names the line for unknown sections, unknown keys and invalid values.
 */
int config_load(const char *path, config **out, char *error, size_t error_size);
void config_free(config **cfg);

/* Records the digests of the start-only files' contents in cfg (certificate_sha256 and
 * the others), for config_compare_start_only. config_load calls it. */
void config_digest_start_files(config *cfg);

/* Receives one start-only key, such as section "server" and key "port". */
typedef void (*config_change_fn)(void *ctx, const char *section, const char *key);

/*
 * Calls report once for each key that the daemon reads only at start and whose value
 * in loaded differs from the one in running, such as [server] port or [tls]
 * client_ca. Lists are compared as sets. Returns the number of such keys.
 */
size_t config_compare_start_only(const config *running, const config *loaded,
                                 config_change_fn report, void *ctx);

const config_rp *config_find_rp(const config *cfg, const char *id);

/*
 * Finds the mapping for a client certificate, by its fingerprint or by its CN. subject_cn
 * is the certificate's one CN in UTF-8, or NULL when it has no usable CN. When one
 * section matches the fingerprint and another the CN, the mapping is ambiguous, so this
 * returns NULL and stores the two sections in conflict, unless conflict is NULL.
 * Otherwise it sets both entries of conflict to NULL.
 */
const config_client *config_match_client(const config *cfg, const char *subject_cn,
                                         const unsigned char fingerprint[32],
                                         const config_client *conflict[2]);

/* Returns the number of characters of a UTF-8 text, or -1 when it is not valid UTF-8
 * (an overlong form, a surrogate, a code point above U+10FFFF or a cut sequence). */
long config_utf8_characters(const char *text);

/*
 * Checks that no [issuer] uses the node's own entity_id, whose key would then sign in the
 * node's name, and that no two [issuer] or two [rp] sections share an entity_id. Returns
 * 0, or -1 with a sentence in error that names the sections.
 */
int config_check_entity_ids(const config *cfg, char *error, size_t error_size);

/* Checks the RP ID, the origins and the assets folder of the citizen pages, when
 * [webauthn] rp_id turns them on. Returns 0, or -1 with a sentence in error and, when an
 * origin is at fault, that origin's line in *line (else 0). */
int config_check_web(const config_web *web, int *line, char *error, size_t error_size);

/* Returns "client NAME" or "rp ID": the header of the section that made client. */
const char *config_client_section(const config_client *client, char *buffer, size_t size);

bool config_rp_allows(const config_rp *rp, const char *claim);

#endif
