/* The node's reloadable state: configuration, trust store and the issuer list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "http.h"
#include "log.h"
#include "pem_file.h"

node_snapshot *node_acquire(node *n)
{
    node_snapshot *snapshot;

    pthread_mutex_lock(&n->snapshot_lock);
    snapshot = n->snapshot;
    atomic_fetch_add(&snapshot->refs, 1);
    pthread_mutex_unlock(&n->snapshot_lock);
    return snapshot;
}

void node_release(node_snapshot **snapshot_ptr)
{
    node_snapshot *snapshot;

    if (snapshot_ptr == NULL || *snapshot_ptr == NULL)
        return;
    snapshot = *snapshot_ptr;
    *snapshot_ptr = NULL;
    if (atomic_fetch_sub(&snapshot->refs, 1) != 1)
        return;
    config_free(&snapshot->cfg);
    saml_trust_store_free(&snapshot->trust);
    json_decref(snapshot->issuers);
    json_decref(snapshot->next_keys);
    pem_keys_free(&snapshot->next_public_keys, snapshot->next_public_key_count);
    free(snapshot);
}

/* Formats the SHA-256 digest of a public key's SubjectPublicKeyInfo as hex. */
static json_t *key_fingerprint(EVP_PKEY *key)
{
    unsigned char *der = NULL;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    int der_len = i2d_PUBKEY(key, &der);
    json_t *value = NULL;

    if (der_len > 0 && EVP_Digest(der, (size_t)der_len, digest, &digest_len, EVP_sha256(),
                                  NULL) == 1) {
        for (unsigned i = 0; i < digest_len; i++)
            snprintf(hex + 2 * i, 3, "%02x", digest[i]);
        value = json_string(hex);
    }
    OPENSSL_free(der);
    return value;
}

/* Logs trusted_key_too_small for a key that verification always rejects as
 * key_too_small: RSA under 2048 bits or EC under 256 (saml_verify_dsig.c). The operator
 * learns of it at a start, a reload or --check, not from each rejected assertion. */
static void warn_small_key(const char *entity_id, EVP_PKEY *key, const json_t *fingerprint)
{
    int type = EVP_PKEY_get_base_id(key);
    int bits = EVP_PKEY_get_bits(key);
    char bits_text[16];
    char message[256];

    if (!(type == EVP_PKEY_RSA && bits < 2048) && !(type == EVP_PKEY_EC && bits < 256))
        return;
    snprintf(bits_text, sizeof(bits_text), "%d", bits);
    snprintf(message, sizeof(message),
             "a trusted %s key of %d bits, below the minimum of %d, so every signature of "
             "it is rejected as key_too_small; replace the key",
             type == EVP_PKEY_RSA ? "RSA" : "EC", bits, type == EVP_PKEY_RSA ? 2048 : 256);
    log_field fields[] = {
        {"entity_id", entity_id},
        {"sha256", json_string_value(fingerprint)},
        {"bits", bits_text},
        {"message", message},
    };
    log_event(LOG_WARN, "trusted_key_too_small", fields, sizeof(fields) / sizeof(fields[0]));
}

static int add_trusted_key(node_snapshot *snapshot, json_t *keys, const char *entity_id,
                           EVP_PKEY *key)
{
    json_t *fingerprint = key_fingerprint(key);
    int rc = -1;

    if (fingerprint != NULL)
        warn_small_key(entity_id, key, fingerprint);
    if (fingerprint != NULL &&
        saml_trust_store_add(snapshot->trust, entity_id, key, 0) == 0 &&
        json_array_append_new(keys, json_pack("{s:o}", "sha256", fingerprint)) == 0) {
        fingerprint = NULL;
        rc = 0;
    }
    json_decref(fingerprint);
    return rc;
}

static int add_issuer(node_snapshot *snapshot, const config_issuer *issuer, char *error,
                      size_t error_size)
{
    json_t *keys = json_array();
    int rc = -1;

    /* Every key of every file is trusted, and one bad block rejects the section. */
    for (size_t i = 0; i < issuer->pem_count; i++) {
        char detail[384] = "";
        EVP_PKEY **file_keys = NULL;
        size_t file_key_count = 0;
        int added = 0;

        if (pem_read_public_keys(issuer->pem_files[i], &file_keys, &file_key_count, detail,
                                 sizeof(detail)) != 0) {
            snprintf(error, error_size, "[issuer %s] certificate %s", issuer->id, detail);
            goto out;
        }
        for (size_t k = 0; k < file_key_count && added == 0; k++) {
            added = add_trusted_key(snapshot, keys, issuer->entity_id, file_keys[k]);
            if (added != 0)
                snprintf(error, error_size, "[issuer %s]: cannot add key %zu of %s",
                         issuer->id, k + 1, issuer->pem_files[i]);
        }
        pem_keys_free(&file_keys, file_key_count);
        if (added != 0)
            goto out;
    }
    if (json_array_append_new(snapshot->issuers,
                              json_pack("{s:s, s:s, s:O}", "id", issuer->id, "entity_id",
                                        issuer->entity_id, "keys", keys)) == 0)
        rc = 0;
out:
    json_decref(keys);
    return rc;
}

/* Returns the key list of the issuers entry with the id, or NULL. */
static json_t *issuer_keys(json_t *issuers, const char *id)
{
    size_t index;
    json_t *issuer;

    json_array_foreach(issuers, index, issuer) {
        if (strcmp(json_string_value(json_object_get(issuer, "id")), id) == 0)
            return json_object_get(issuer, "keys");
    }
    return NULL;
}

static bool keys_contain(json_t *keys, const char *sha256)
{
    size_t index;
    json_t *key;

    json_array_foreach(keys, index, key) {
        if (strcmp(json_string_value(json_object_get(key, "sha256")), sha256) == 0)
            return true;
    }
    return false;
}

/* Rejects an [issuer] key that the node also trusts under its own entity ID, such as
 * another issuer's certificate listed in [saml] previous_certificate: that issuer could
 * then sign credentials in the node's name. Runs after the issuers were added. */
static int check_self_keys_unshared(node_snapshot *snapshot, char *error,
                                    size_t error_size)
{
    json_t *self_keys = issuer_keys(snapshot->issuers, "self");
    size_t index;
    json_t *issuer;

    json_array_foreach(snapshot->issuers, index, issuer) {
        const char *id = json_string_value(json_object_get(issuer, "id"));
        size_t key_index;
        json_t *key;

        if (strcmp(id, "self") == 0)
            continue;
        json_array_foreach(json_object_get(issuer, "keys"), key_index, key) {
            const char *sha256 = json_string_value(json_object_get(key, "sha256"));

            if (self_keys == NULL || !keys_contain(self_keys, sha256))
                continue;
            snprintf(error, error_size,
                     "[issuer %s] trusts the key with SHA-256 %s, which the node also "
                     "trusts under its own entity ID ([hsm] saml_key or [saml] "
                     "previous_certificate), so that issuer could sign credentials in "
                     "the node's name; remove the key from one of them",
                     id, sha256);
            return -1;
        }
    }
    return 0;
}

/* Returns the id of the issuers entry ("self" for the node) that trusts the key with
 * fingerprint sha256, or NULL. */
static const char *issuer_trusting(json_t *issuers, const char *sha256)
{
    size_t index;
    json_t *issuer;

    json_array_foreach(issuers, index, issuer) {
        if (keys_contain(json_object_get(issuer, "keys"), sha256))
            return json_string_value(json_object_get(issuer, "id"));
    }
    return NULL;
}

/* Checks whether a JSON array of strings contains text. */
static bool strings_contain(const json_t *strings, const char *text)
{
    size_t index;
    json_t *item;

    json_array_foreach(strings, index, item) {
        if (strcmp(json_string_value(item), text) == 0)
            return true;
    }
    return false;
}

/* Appends a reference to key to the snapshot's next public keys. */
static int keep_next_key(node_snapshot *snapshot, EVP_PKEY *key)
{
    size_t count = snapshot->next_public_key_count;
    EVP_PKEY **grown = realloc(snapshot->next_public_keys, (count + 1) * sizeof(*grown));

    if (grown == NULL)
        return -1;
    snapshot->next_public_keys = grown;
    if (EVP_PKEY_up_ref(key) != 1)
        return -1;
    grown[count] = key;
    snapshot->next_public_key_count = count + 1;
    return 0;
}

/* Rejects a next key of a type that the node cannot sign SAML with, which the trust
 * store cannot hold either. */
static int check_next_key_type(const char *path, EVP_PKEY *key, char *error,
                               size_t error_size)
{
    int type = EVP_PKEY_get_base_id(key);
    const char *name = EVP_PKEY_get0_type_name(key);

    if (type == EVP_PKEY_RSA || type == EVP_PKEY_EC)
        return 0;
    snprintf(error, error_size,
             "[saml] next_certificate %s holds a key of type %s, but the node signs "
             "SAML only with RSA or EC keys; list the public half of an RSA or EC key",
             path, name != NULL ? name : "unknown");
    return -1;
}

/* Rejects one [saml] next_certificate key that an issuers entry already trusts, and
 * appends its fingerprint to next_keys and the key to next_public_keys. */
static int check_next_key(node_snapshot *snapshot, const char *path, EVP_PKEY *key,
                          char *error, size_t error_size)
{
    json_t *issuers = snapshot->issuers;
    json_t *next_keys = snapshot->next_keys;
    json_t *fingerprint = key_fingerprint(key);
    const char *sha256 = json_string_value(fingerprint);
    const char *id = sha256 != NULL ? issuer_trusting(issuers, sha256) : NULL;
    bool repeated = sha256 != NULL && strings_contain(next_keys, sha256);
    int rc = sha256 != NULL && id == NULL && !repeated ? 0 : -1;

    if (sha256 == NULL)
        snprintf(error, error_size, "[saml] next_certificate %s: cannot encode a key", path);
    else if (repeated)
        snprintf(error, error_size,
                 "[saml] next_certificate %s holds the key with SHA-256 %s a second time, "
                 "which the metadata would announce twice; list each next key once", path,
                 sha256);
    else if (id != NULL && strcmp(id, "self") == 0)
        snprintf(error, error_size,
                 "[saml] next_certificate %s holds the key with SHA-256 %s, which the node "
                 "already trusts under its own entity ID ([hsm] saml_key or [saml] "
                 "previous_certificate); list only a key that the node does not sign with "
                 "yet", path, sha256);
    else if (id != NULL)
        snprintf(error, error_size,
                 "[saml] next_certificate %s holds the key with SHA-256 %s, which [issuer "
                 "%s] trusts, so the metadata would announce that issuer's key as the "
                 "node's; remove the key from one of them", path, sha256, id);
    if (rc == 0 && (json_array_append(next_keys, fingerprint) != 0 ||
                    keep_next_key(snapshot, key) != 0)) {
        snprintf(error, error_size, "out of memory");
        rc = -1;
    }
    json_decref(fingerprint);
    return rc;
}

/*
 * Rejects an issuer of a reloaded configuration that trusts a key that the running
 * metadata announces. The metadata is built at start, so it announces the start's next
 * keys until a restart even when the reloaded file no longer lists them.
 */
static int check_announced_keys(json_t *issuers, const json_t *announced, char *error,
                                size_t error_size)
{
    size_t index;
    json_t *fingerprint;

    json_array_foreach(announced, index, fingerprint) {
        const char *sha256 = json_string_value(fingerprint);
        const char *id = issuer_trusting(issuers, sha256);

        if (id == NULL || strcmp(id, "self") == 0)
            continue;
        snprintf(error, error_size,
                 "[issuer %s] trusts the key with SHA-256 %s, which the metadata announces "
                 "as the node's next SAML key since the start; restart the node without "
                 "that [saml] next_certificate first",
                 id, sha256);
        return -1;
    }
    return 0;
}

/*
 * Reads each [saml] next_certificate file as the other trust files are read, and rejects
 * a key that the node or an [issuer] trusts already. The metadata announces these keys
 * as the node's next signing keys, so each must be neither a key that the node trusts
 * already nor another issuer's. Runs after the node's own keys and the issuers were
 * added, and before trust_next_keys adds the next keys to the node's own entry.
 */
static int check_next_keys(node_snapshot *snapshot, const config *cfg, char *error,
                           size_t error_size)
{
    for (size_t i = 0; i < cfg->saml_next_count; i++) {
        char detail[384] = "";
        EVP_PKEY **file_keys = NULL;
        size_t file_key_count = 0;
        int rc = 0;

        if (pem_read_public_keys(cfg->saml_next_files[i], &file_keys, &file_key_count,
                                 detail, sizeof(detail)) != 0) {
            snprintf(error, error_size, "[saml] next_certificate %s", detail);
            return -1;
        }
        for (size_t k = 0; k < file_key_count && rc == 0; k++) {
            rc = check_next_key_type(cfg->saml_next_files[i], file_keys[k], error,
                                     error_size);
            if (rc == 0)
                rc = check_next_key(snapshot, cfg->saml_next_files[i], file_keys[k],
                                    error, error_size);
        }
        pem_keys_free(&file_keys, file_key_count);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/*
 * Reads each [webauthn] attestation_root file, so that a bad file stops the start or the
 * reload. NOTE: the ceremonies read these files again for each registration, so a file
 * changed without a SIGHUP takes effect, or fails, at the next registration.
 */
static int check_attestation_roots(const config *cfg, char *error, size_t error_size)
{
    for (size_t i = 0; i < cfg->web.root_count; i++) {
        char detail[384] = "";
        X509 **certs = NULL;
        size_t count = 0;

        if (pem_read_certificates(cfg->web.root_files[i], &certs, &count, detail,
                                  sizeof(detail)) != 0) {
            snprintf(error, error_size, "[webauthn] attestation_root %s", detail);
            return -1;
        }
        pem_certificates_free(&certs, count);
    }
    return 0;
}

/* Trusts the keys of each [saml] previous_certificate file under the node's own entity
 * ID, so that the credentials signed before a key rotation verify until they expire. */
static int add_previous_keys(node_snapshot *snapshot, json_t *keys, char *error,
                             size_t error_size)
{
    const config *cfg = snapshot->cfg;

    for (size_t i = 0; i < cfg->saml_previous_count; i++) {
        char detail[384] = "";
        EVP_PKEY **file_keys = NULL;
        size_t file_key_count = 0;
        int added = 0;

        if (pem_read_public_keys(cfg->saml_previous_files[i], &file_keys, &file_key_count,
                                 detail, sizeof(detail)) != 0) {
            snprintf(error, error_size, "[saml] previous_certificate %s", detail);
            return -1;
        }
        for (size_t k = 0; k < file_key_count && added == 0; k++)
            added = add_trusted_key(snapshot, keys, cfg->entity_id, file_keys[k]);
        pem_keys_free(&file_keys, file_key_count);
        if (added != 0) {
            snprintf(error, error_size, "[saml] previous_certificate %s: cannot add a key",
                     cfg->saml_previous_files[i]);
            return -1;
        }
    }
    return 0;
}

/* The node trusts its own signing key, so it verifies the credentials it issued, and the
 * keys of [saml] previous_certificate. */
static int add_self(node *n, node_snapshot *snapshot, char *error, size_t error_size)
{
    p11_error err = {0};
    EVP_PKEY *key = p11_key_get_public(n->saml_key, &err);
    json_t *keys = json_array();
    int rc = -1;

    if (key == NULL) {
        snprintf(error, error_size, "cannot read the SAML signing key's public half: %s",
                 err.message);
        goto out;
    }
    if (add_trusted_key(snapshot, keys, snapshot->cfg->entity_id, key) != 0) {
        snprintf(error, error_size, "cannot trust the node's own key");
        goto out;
    }
    if (add_previous_keys(snapshot, keys, error, error_size) != 0)
        goto out;
    if (json_array_append_new(snapshot->issuers,
                              json_pack("{s:s, s:s, s:O}", "id", "self", "entity_id",
                                        snapshot->cfg->entity_id, "keys", keys)) == 0)
        rc = 0;
out:
    EVP_PKEY_free(key);
    json_decref(keys);
    return rc;
}

/*
 * Trusts the next keys of source under the node's own entity ID and lists them in the
 * snapshot's "self" entry, after the current and previous keys. During the restarts of a
 * key rotation, a process that still signs with the old key then verifies what a
 * process on the new key issued. A key that the entry lists already, such as one that a
 * reloaded file moved to previous_certificate, is not added again. Runs after all checks
 * of the next keys, which compare them with the "self" entry without them.
 */
static int trust_next_keys(node_snapshot *snapshot, const node_snapshot *source,
                           char *error, size_t error_size)
{
    json_t *self_keys = issuer_keys(snapshot->issuers, "self");

    for (size_t i = 0; i < source->next_public_key_count; i++) {
        EVP_PKEY *key = source->next_public_keys[i];
        const char *sha256 = json_string_value(json_array_get(source->next_keys, i));

        if (sha256 != NULL && keys_contain(self_keys, sha256))
            continue;
        if (add_trusted_key(snapshot, self_keys, snapshot->cfg->entity_id, key) != 0) {
            snprintf(error, error_size,
                     "cannot add next key %zu of [saml] next_certificate to the trust "
                     "store",
                     i + 1);
            return -1;
        }
    }
    return 0;
}

/*
 * Rejects an issuers entry with more keys than a verification tries for one issuer,
 * because the keys past SAML_TRUST_MAX_ISSUER_KEYS would be listed but never tried.
 * uncounted_self is the number of the node's own keys that the "self" entry does not
 * list yet, such as the HSM key and the next keys for --check.
 */
static int check_key_counts(json_t *issuers, size_t uncounted_self, char *error,
                            size_t error_size)
{
    size_t index;
    json_t *issuer;

    json_array_foreach(issuers, index, issuer) {
        const char *id = json_string_value(json_object_get(issuer, "id"));
        bool self = strcmp(id, "self") == 0;
        size_t count = json_array_size(json_object_get(issuer, "keys"));

        if (self)
            count += uncounted_self;
        if (count <= SAML_TRUST_MAX_ISSUER_KEYS)
            continue;
        if (self)
            snprintf(error, error_size,
                     "the node would trust %zu keys under its own entity ID ([hsm] "
                     "saml_key, [saml] previous_certificate and next_certificate), but a "
                     "verification tries at most %d keys of one issuer; remove the oldest "
                     "previous_certificate keys",
                     count, SAML_TRUST_MAX_ISSUER_KEYS);
        else
            snprintf(error, error_size,
                     "[issuer %s] lists %zu keys, but a verification tries at most %d keys "
                     "of one issuer; list fewer keys",
                     id, count, SAML_TRUST_MAX_ISSUER_KEYS);
        return -1;
    }
    return 0;
}

static char *join_claims(const config_rp *rp)
{
    size_t len = 1;
    char *text;

    for (size_t i = 0; i < rp->allowed_count; i++)
        len += strlen(rp->allowed_claims[i]) + 1;
    text = calloc(1, len);
    if (text == NULL)
        return NULL;
    for (size_t i = 0; i < rp->allowed_count; i++) {
        if (i > 0)
            strcat(text, " ");
        strcat(text, rp->allowed_claims[i]);
    }
    return text;
}

store_status node_find_rp(const node_snapshot *snapshot, const char *id, store_rp *out)
{
    const config_rp *rp = id != NULL ? config_find_rp(snapshot->cfg, id) : NULL;

    memset(out, 0, sizeof(*out));
    if (rp == NULL)
        return STORE_NOT_FOUND;
    out->id = strdup(rp->id);
    out->entity_id = strdup(rp->entity_id);
    out->jurisdiction = strdup(rp->jurisdiction);
    out->allowed_claims = join_claims(rp);
    if (out->id == NULL || out->entity_id == NULL || out->jurisdiction == NULL ||
        out->allowed_claims == NULL) {
        store_rp_clear(out);
        return STORE_FAILED;
    }
    return STORE_OK;
}

/* Publishes the registry of relying parties to the store, replacing what was there. */
static int publish_registry(node *n, const config *cfg)
{
    store_rp *rps = calloc(cfg->rp_count + 1, sizeof(*rps));
    store_status status = STORE_FAILED;
    size_t done = 0;

    if (rps == NULL)
        return -1;
    for (; done < cfg->rp_count; done++) {
        rps[done].id = cfg->rps[done].id;
        rps[done].entity_id = cfg->rps[done].entity_id;
        rps[done].jurisdiction = cfg->rps[done].jurisdiction;
        rps[done].allowed_claims = join_claims(&cfg->rps[done]);
        if (rps[done].allowed_claims == NULL)
            goto out;
    }
    status = n->store->ops->replace_rps(n->store, rps, cfg->rp_count);
out:
    for (size_t i = 0; i < done; i++)
        free(rps[i].allowed_claims);
    free(rps);
    return status == STORE_OK ? 0 : -1;
}

/* Reads every certificate of one PEM file; what names the file in the error. */
static int check_certificate_file(const char *path, const char *what, char *error,
                                  size_t error_size)
{
    char detail[384] = "";
    X509 **certs = NULL;
    size_t count = 0;

    if (pem_read_certificates(path, &certs, &count, detail, sizeof(detail)) != 0) {
        snprintf(error, error_size, "%s %s", what, detail);
        return -1;
    }
    pem_certificates_free(&certs, count);
    return 0;
}

/* Adds the keys of [saml] previous_certificate as the "self" entry of a snapshot that
 * has no HSM key, so that --check reads those files and compares them with the
 * issuers' keys as a start does. */
static int check_previous_keys(node_snapshot *snapshot, const config *cfg, char *error,
                               size_t error_size)
{
    json_t *keys = json_array();
    int rc = -1;

    snprintf(error, error_size, "out of memory");
    snapshot->cfg = (config *)cfg; /* add_previous_keys only reads it */
    if (keys != NULL && add_previous_keys(snapshot, keys, error, error_size) == 0 &&
        json_array_append_new(snapshot->issuers,
                              json_pack("{s:s, s:s, s:O}", "id", "self", "entity_id",
                                        cfg->entity_id, "keys", keys)) == 0)
        rc = 0;
    snapshot->cfg = NULL;
    json_decref(keys);
    return rc;
}

int node_check_files(const config *cfg, char *error, size_t error_size)
{
    node_snapshot snapshot = {0};
    int rc = -1;

    snapshot.trust = saml_trust_store_new();
    snapshot.issuers = json_array();
    snapshot.next_keys = json_array();
    if (snapshot.trust == NULL || snapshot.issuers == NULL || snapshot.next_keys == NULL) {
        snprintf(error, error_size, "out of memory");
        goto out;
    }
    if (check_previous_keys(&snapshot, cfg, error, error_size) != 0)
        goto out;
    for (size_t i = 0; i < cfg->issuer_count; i++)
        if (add_issuer(&snapshot, &cfg->issuers[i], error, error_size) != 0)
            goto out;
    /* The "self" entry of --check lacks the HSM key and the next keys. */
    if (check_self_keys_unshared(&snapshot, error, error_size) != 0 ||
        check_next_keys(&snapshot, cfg, error, error_size) != 0 ||
        check_key_counts(snapshot.issuers, 1 + json_array_size(snapshot.next_keys), error,
                         error_size) != 0 ||
        check_attestation_roots(cfg, error, error_size) != 0 ||
        check_certificate_file(cfg->certificate_file, "[tls] certificate", error,
                               error_size) != 0)
        goto out;
    for (size_t i = 0; i < cfg->client_ca_count; i++)
        if (check_certificate_file(cfg->client_ca_files[i], "[tls] client_ca", error,
                                   error_size) != 0)
            goto out;
    if (cfg->saml_certificate_file != NULL &&
        check_certificate_file(cfg->saml_certificate_file, "[saml] certificate", error,
                               error_size) != 0)
        goto out;
    rc = 0;
out:
    saml_trust_store_free(&snapshot.trust);
    json_decref(snapshot.issuers);
    json_decref(snapshot.next_keys);
    pem_keys_free(&snapshot.next_public_keys, snapshot.next_public_key_count);
    return rc;
}

int node_install_config(node *n, config *cfg, char *error, size_t error_size)
{
    node_snapshot *snapshot = NULL;
    node_snapshot *old;

    /* config_load checked the file's own [server] entity_id. A reload keeps the one the
     * node started with, so the issuers are checked again against that one. */
    if (config_check_entity_ids(cfg, error, error_size) != 0) {
        config_free(&cfg);
        return -1;
    }
    snapshot = calloc(1, sizeof(*snapshot));
    if (snapshot == NULL) {
        config_free(&cfg);
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    atomic_init(&snapshot->refs, 1);
    snapshot->cfg = cfg; /* owned by the snapshot from here on */
    snapshot->trust = saml_trust_store_new();
    snapshot->issuers = json_array();
    snapshot->next_keys = json_array();
    if (snapshot->trust == NULL || snapshot->issuers == NULL || snapshot->next_keys == NULL) {
        snprintf(error, error_size, "out of memory");
        goto fail;
    }

    if (add_self(n, snapshot, error, error_size) != 0)
        goto fail;
    for (size_t i = 0; i < cfg->issuer_count; i++)
        if (add_issuer(snapshot, &cfg->issuers[i], error, error_size) != 0)
            goto fail;
    if (check_self_keys_unshared(snapshot, error, error_size) != 0 ||
        check_next_keys(snapshot, cfg, error, error_size) != 0 ||
        check_attestation_roots(cfg, error, error_size) != 0)
        goto fail;
    if (n->boot_snapshot != NULL &&
        check_announced_keys(snapshot->issuers, n->boot_snapshot->next_keys, error,
                             error_size) != 0)
        goto fail;
    /* Like the metadata, the trust store keeps the next keys of the start until a
     * restart, whatever a reloaded file lists. */
    if (trust_next_keys(snapshot, n->boot_snapshot != NULL ? n->boot_snapshot : snapshot,
                        error, error_size) != 0 ||
        check_key_counts(snapshot->issuers, 0, error, error_size) != 0)
        goto fail;
    if (publish_registry(n, cfg) != 0) {
        snprintf(error, error_size, "cannot store the relying-party registry");
        goto fail;
    }

    pthread_mutex_lock(&n->snapshot_lock);
    old = n->snapshot;
    n->snapshot = snapshot;
    pthread_mutex_unlock(&n->snapshot_lock);
    node_release(&old);
    return 0;
fail:
    node_release(&snapshot);
    return -1;
}
