/*
 * The keys that a node's configuration file uses (keys_config_uses in keys_internal.h),
 * so that 'keys remove' does not destroy one of them by mistake. A key counts as used
 * when an [hsm] URI resolves to it on the open token, or when a certificate or public
 * key of a configured PEM file is its public key.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "keys_internal.h"

#ifdef IDSVC_HAVE_CONFIG

#include "config.h"
#include "pem_file.h"

/* Appends one use, such as "[hsm] saml_key", to the list in uses. */
static void add_use(char *uses, size_t size, int *count, const char *use)
{
    size_t used = strlen(uses);

    snprintf(uses + used, size - used, "%s%s", *count > 0 ? ", " : "", use);
    (*count)++;
}

/*
 * Checks whether the key URI of [hsm] name resolves to key on the token. A URI that
 * resolves to no single key cannot be checked, so the check fails closed. Returns 0 or
 * -1 with a sentence in error.
 */
static int check_uri(const char *name, const char *uri, p11_token *token,
                     const EVP_PKEY *public_key, char *uses, size_t size, int *count,
                     char *error, size_t error_size)
{
    p11_key *configured = NULL;
    EVP_PKEY *configured_public = NULL;
    p11_error err;
    int rc = 0;

    if (uri == NULL)
        return 0;
    if (p11_key_find(token, uri, &configured, &err) != 0) {
        snprintf(error, error_size, "[hsm] %s cannot be checked: %s; pass the token that "
                 "the configuration names, or --force", name, err.message);
        return -1;
    }
    configured_public = p11_key_get_public(configured, &err);
    if (configured_public == NULL) {
        snprintf(error, error_size, "[hsm] %s cannot be checked: %s", name, err.message);
        rc = -1;
    } else if (EVP_PKEY_eq(configured_public, public_key) == 1) {
        char use[64];

        snprintf(use, sizeof(use), "[hsm] %s", name);
        add_use(uses, size, count, use);
    }
    EVP_PKEY_free(configured_public);
    p11_key_free(&configured);
    return rc;
}

/* Checks whether a public key or certificate of the PEM file at path is the key's. A
 * file that cannot be read cannot be checked, so the check fails closed. */
static int check_file(const char *name, const char *path, const EVP_PKEY *public_key,
                      char *uses, size_t size, int *count, char *error, size_t error_size)
{
    EVP_PKEY **keys = NULL;
    size_t key_count = 0;
    char reason[512];
    bool match = false;

    if (path == NULL)
        return 0;
    if (pem_read_public_keys(path, &keys, &key_count, reason, sizeof(reason)) != 0) {
        snprintf(error, error_size, "%s cannot be checked: %s", name, reason);
        return -1;
    }
    for (size_t i = 0; i < key_count; i++)
        match = match || EVP_PKEY_eq(keys[i], public_key) == 1;
    pem_keys_free(&keys, key_count);
    if (match) {
        char use[PATH_MAX + 80];

        snprintf(use, sizeof(use), "%s (%s)", name, path);
        add_use(uses, size, count, use);
    }
    return 0;
}

/* Checks the files of every [issuer NAME] certificate: an issuer that shares the node's
 * token signs with its key there, and the node trusts that key. */
static int check_issuer_files(const config *cfg, const EVP_PKEY *public_key, char *uses,
                              size_t size, int *count, char *error, size_t error_size)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < cfg->issuer_count; i++) {
        const config_issuer *issuer = &cfg->issuers[i];
        char name[160];

        snprintf(name, sizeof(name), "[issuer %.100s] certificate", issuer->id);
        for (size_t k = 0; rc == 0 && k < issuer->pem_count; k++)
            rc = check_file(name, issuer->pem_files[k], public_key, uses, size, count, error,
                            error_size);
    }
    return rc;
}

/* Checks every PEM file of the configuration that names a key of the node, of a client
 * CA, of an issuer or of a regulator. */
static int check_files(const config *cfg, const EVP_PKEY *public_key, char *uses,
                       size_t size, int *count, char *error, size_t error_size)
{
    int rc = check_file("[tls] certificate", cfg->certificate_file, public_key, uses, size,
                        count, error, error_size);

    for (size_t i = 0; rc == 0 && i < cfg->client_ca_count; i++)
        rc = check_file("[tls] client_ca", cfg->client_ca_files[i], public_key, uses, size,
                        count, error, error_size);
    if (rc == 0)
        rc = check_issuer_files(cfg, public_key, uses, size, count, error, error_size);
    if (rc == 0)
        rc = check_file("[saml] certificate", cfg->saml_certificate_file, public_key, uses,
                        size, count, error, error_size);
    for (size_t i = 0; rc == 0 && i < cfg->saml_previous_count; i++)
        rc = check_file("[saml] previous_certificate", cfg->saml_previous_files[i],
                        public_key, uses, size, count, error, error_size);
    for (size_t i = 0; rc == 0 && i < cfg->saml_next_count; i++)
        rc = check_file("[saml] next_certificate", cfg->saml_next_files[i], public_key, uses,
                        size, count, error, error_size);
    if (rc == 0)
        rc = check_file("[policy] trust_list", cfg->policy.trust_file, public_key, uses,
                        size, count, error, error_size);
    for (size_t i = 0; rc == 0 && i < cfg->policy.regulator_count; i++) {
        const config_regulator *regulator = &cfg->policy.regulators[i];
        char name[160];

        snprintf(name, sizeof(name), "[regulator %.100s] key", regulator->name);
        for (size_t k = 0; rc == 0 && k < regulator->key_count; k++)
            rc = check_file(name, regulator->key_files[k], public_key, uses, size, count,
                            error, error_size);
    }
    return rc;
}

int keys_config_uses(const char *config_path, p11_token *token, p11_key *key, char *uses,
                     size_t size)
{
    config *cfg = NULL;
    EVP_PKEY *public_key = NULL;
    char error[1024] = "";
    p11_error err;
    int count = 0;
    int rc = -1;

    uses[0] = '\0';
    if (config_load(config_path, &cfg, error, sizeof(error)) != 0) {
        snprintf(uses, size, "%s: the configuration is invalid, so the keys it uses cannot "
                 "be checked: %s", config_path, error);
        return -1;
    }
    public_key = p11_key_get_public(key, &err);
    if (public_key == NULL) {
        snprintf(uses, size, "the public key of '%s' cannot be read: %s",
                 p11_key_get_label(key), err.message);
        goto out;
    }
    rc = check_uri("tls_key", cfg->tls_key_uri, token, public_key, uses, size, &count, error,
                   sizeof(error));
    if (rc == 0)
        rc = check_uri("saml_key", cfg->saml_key_uri, token, public_key, uses, size, &count,
                       error, sizeof(error));
    if (rc == 0)
        rc = check_files(cfg, public_key, uses, size, &count, error, sizeof(error));
    if (rc != 0)
        snprintf(uses, size, "%s: %s", config_path, error);
out:
    EVP_PKEY_free(public_key);
    config_free(&cfg);
    return rc == 0 ? count : -1;
}

#else

int keys_config_uses(const char *config_path, p11_token *token, p11_key *key, char *uses,
                     size_t size)
{
    (void)config_path;
    (void)token;
    (void)key;
    snprintf(uses, size, "this build of idsvc-admin cannot read a node configuration; "
             "pass --force to remove the key without the check");
    return -1;
}

#endif
