/*
 * The regulator trust list: the public keys that may sign policy bundles, each bound to
 * what it may sign. A key of a regulator signs the base bundle, residency bundles of
 * listed jurisdictions, or both. A key of policy_trust_load signs every bundle. An
 * unbound key signs none, and is kept only so that a refusal can name it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "iso3166.h"
#include "pem_file.h"
#include "policy_internal.h"
#include "saml_verify_internal.h"

typedef enum key_scope {
    KEY_UNBOUND,   /* added with no signer: signs no bundle */
    KEY_EVERY,     /* from policy_trust_load: signs every bundle */
    KEY_REGULATOR, /* signs what its regulator's binding lists */
} key_scope;

typedef struct trust_key {
    EVP_PKEY *pkey; /* kept to find a key that is listed twice */
    char *source;   /* "FILE key N (SHA-256 HEX)" */
    key_scope scope;
    char *regulator; /* KEY_REGULATOR only */
    bool base;
    char (*jurisdictions)[3];
    size_t jurisdiction_count;
} trust_key;

struct policy_trust {
    saml_trust_store *store;
    trust_key *keys; /* in the store's order */
    size_t count;
};

int policy_trust_create(policy_trust **out, policy_error *err)
{
    policy_trust *trust;

    *out = NULL;
    if (saml_xmlsec_init() != 0)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0, "xmlsec failed to initialise");
    trust = calloc(1, sizeof(*trust));
    if (trust == NULL || (trust->store = saml_trust_store_new()) == NULL) {
        free(trust);
        return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                           "out of memory creating the trust list");
    }
    *out = trust; /* ownership passes to the caller */
    return 0;
}

static void clear_binding(trust_key *key)
{
    free(key->regulator);
    free(key->jurisdictions);
    key->regulator = NULL;
    key->jurisdictions = NULL;
    key->jurisdiction_count = 0;
    key->base = false;
}

void policy_trust_free(policy_trust **trust)
{
    if (trust == NULL || *trust == NULL)
        return;
    for (size_t i = 0; i < (*trust)->count; i++) {
        clear_binding(&(*trust)->keys[i]);
        EVP_PKEY_free((*trust)->keys[i].pkey);
        free((*trust)->keys[i].source);
    }
    free((*trust)->keys);
    saml_trust_store_free(&(*trust)->store);
    free(*trust);
    *trust = NULL;
}

size_t policy_trust_count(const policy_trust *trust)
{
    return trust->count;
}

struct saml_trust_store *policy_trust_store(const policy_trust *trust)
{
    return trust->store;
}

const char *policy_trust_key_regulator(const policy_trust *trust, size_t i)
{
    return i < trust->count ? trust->keys[i].regulator : NULL;
}

const char *policy_trust_key_source(const policy_trust *trust, size_t i)
{
    return i < trust->count ? trust->keys[i].source : NULL;
}

/* Copies signer into key, checking that each jurisdiction is an officially assigned
 * ISO 3166-1 alpha-2 code. */
static int bind_key(trust_key *key, const policy_signer *signer, const char *path,
                    policy_error *err)
{
    if (signer->regulator == NULL || signer->regulator[0] == '\0')
        return policy_fail(err, POLICY_E_TRUST, 0, "%s: the regulator has no name", path);
    key->regulator = strdup(signer->regulator);
    key->jurisdictions =
        calloc(signer->jurisdiction_count + 1, sizeof(*key->jurisdictions));
    if (key->regulator == NULL || key->jurisdictions == NULL) {
        clear_binding(key);
        return policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory binding %s", path);
    }
    for (size_t i = 0; i < signer->jurisdiction_count; i++) {
        const char *code = signer->jurisdictions[i];

        if (!iso3166_is_assigned(code)) {
            clear_binding(key);
            return policy_fail(err, POLICY_E_TRUST, 0,
                               "regulator %s: \"%s\" is not an officially assigned ISO "
                               "3166-1 alpha-2 code",
                               signer->regulator, code);
        }
        memcpy(key->jurisdictions[i], code, 3);
    }
    key->jurisdiction_count = signer->jurisdiction_count;
    key->base = signer->base;
    key->scope = KEY_REGULATOR;
    return 0;
}

/* Returns "FILE key N (SHA-256 HEX)" with the digest of the DER SubjectPublicKeyInfo,
 * which `openssl pkey -pubin -outform DER | sha256sum` also prints. */
static char *describe_source(EVP_PKEY *key, const char *path, size_t number)
{
    unsigned char *der = NULL;
    unsigned char digest[32];
    char hex[65];
    int der_len = i2d_PUBKEY(key, &der);
    size_t size;
    char *out;

    if (der_len <= 0)
        return NULL;
    EVP_Digest(der, (size_t)der_len, digest, NULL, EVP_sha256(), NULL);
    OPENSSL_free(der);
    for (size_t i = 0; i < sizeof(digest); i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);

    size = strlen(path) + sizeof(hex) + 48;
    out = malloc(size);
    if (out != NULL)
        snprintf(out, size, "%s key %zu (SHA-256 %s)", path, number, hex);
    return out;
}

/* Merges a key that is already in the list: an unbound copy takes the binding, and a
 * key never belongs to two regulators. */
static int merge_key(trust_key *existing, key_scope scope, const policy_signer *signer,
                     const char *path, size_t number, policy_error *err)
{
    if (scope != KEY_REGULATOR)
        return 0;
    if (existing->scope == KEY_REGULATOR) {
        if (strcmp(existing->regulator, signer->regulator) == 0)
            return 0;
        return policy_fail(err, POLICY_E_TRUST, 0,
                           "%s: key %zu is already a key of regulator %s, so it cannot "
                           "be bound to regulator %s too",
                           path, number, existing->regulator, signer->regulator);
    }
    return bind_key(existing, signer, path, err);
}

static int trust_add(policy_trust *trust, EVP_PKEY *key, const char *path, size_t number,
                     key_scope scope, const policy_signer *signer, policy_error *err)
{
    int type = EVP_PKEY_get_base_id(key);
    trust_key *grown, *added;

    if ((type == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) < 2048) ||
        (type != EVP_PKEY_RSA && type != EVP_PKEY_EC))
        return policy_fail(err, POLICY_E_TRUST, 0,
                           "%s: key %zu is neither RSA of 2048 bits or more nor EC", path,
                           number);
    for (size_t i = 0; i < trust->count; i++) {
        if (EVP_PKEY_eq(trust->keys[i].pkey, key) == 1)
            return merge_key(&trust->keys[i], scope, signer, path, number, err);
    }

    grown = realloc(trust->keys, (trust->count + 1) * sizeof(*grown));
    if (grown == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                           "%s: cannot add key %zu to the trust list", path, number);
    trust->keys = grown;
    added = &grown[trust->count];
    memset(added, 0, sizeof(*added));
    added->scope = scope;
    added->source = describe_source(key, path, number);
    if (added->source == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0, "%s: cannot describe key %zu",
                           path, number);
    if (scope == KEY_REGULATOR && bind_key(added, signer, path, err) != 0) {
        free(added->source);
        return -1;
    }
    if (saml_trust_store_add(trust->store, NULL, key, 0) != 0) {
        clear_binding(added);
        free(added->source);
        return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                           "%s: cannot add key %zu to the trust list", path, number);
    }
    EVP_PKEY_up_ref(key);
    added->pkey = key;
    trust->count++;
    return 0;
}

/* Returns the error code for a pem_read_public_keys failure. A file that was read but
 * contains no valid key list is a trust fault, not an I/O one. */
static policy_error_code pem_failure_code(int pem_status)
{
    if (pem_status == PEM_FILE_INVALID)
        return POLICY_E_TRUST;
    if (pem_status == PEM_FILE_NO_MEMORY)
        return POLICY_E_NO_MEMORY;
    return POLICY_E_IO;
}

/* Adds every key of a PEM file of PUBLIC KEY and CERTIFICATE blocks. A bad block, or
 * text outside the blocks, rejects the whole file. */
static int add_file(policy_trust *trust, const char *pem_path, key_scope scope,
                    const policy_signer *signer, policy_error *err)
{
    char detail[384] = "";
    EVP_PKEY **keys = NULL;
    size_t count = 0;
    int rc = pem_read_public_keys(pem_path, &keys, &count, detail, sizeof(detail));

    if (rc != 0)
        return policy_fail(err, pem_failure_code(rc), 0, "regulator key file %s", detail);
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = trust_add(trust, keys[i], pem_path, i + 1, scope, signer, err);
    pem_keys_free(&keys, count);
    return rc;
}

int policy_trust_add_pem(policy_trust *trust, const char *pem_path,
                         const policy_signer *signer, policy_error *err)
{
    return add_file(trust, pem_path, signer != NULL ? KEY_REGULATOR : KEY_UNBOUND, signer,
                    err);
}

int policy_trust_load(const char *pem_path, policy_trust **out, policy_error *err)
{
    policy_trust *trust = NULL;

    *out = NULL;
    if (policy_trust_create(&trust, err) != 0)
        return -1;
    if (add_file(trust, pem_path, KEY_EVERY, NULL, err) != 0) {
        policy_trust_free(&trust);
        return -1;
    }
    *out = trust; /* ownership passes to the caller */
    return 0;
}

static bool may_sign(const trust_key *key, const policy_bundle *bundle)
{
    if (key->scope == KEY_EVERY)
        return true;
    if (key->scope != KEY_REGULATOR)
        return false;
    if (bundle->kind == POLICY_BUNDLE_BASE)
        return key->base;
    for (size_t i = 0; i < key->jurisdiction_count; i++) {
        if (strcmp(key->jurisdictions[i], bundle->jurisdiction) == 0)
            return true;
    }
    return false;
}

/* Writes what a regulator's keys may sign, such as "the base bundle and residency
 * bundles of SG MY". */
static void describe_scope(const trust_key *key, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "%s", key->base ? "the base bundle" : "");

    if (key->jurisdiction_count == 0) {
        if (!key->base)
            snprintf(buf, size, "no bundle");
        return;
    }
    used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s",
                             key->base ? " and residency bundles of"
                                       : "residency bundles of");
    for (size_t i = 0; i < key->jurisdiction_count; i++)
        used += (size_t)snprintf(buf + used, used < size ? size - used : 0, " %s",
                                 key->jurisdictions[i]);
}

int policy_trust_authorise(const policy_trust *trust, size_t key_index,
                           const policy_bundle *bundle, const char *path,
                           policy_error *err)
{
    const trust_key *key;
    char what[160];
    char scope[128];

    if (key_index >= trust->count)
        return policy_fail(err, POLICY_E_NOT_AUTHORISED, 0,
                           "%s: the verifying key %zu is not in the trust list", path,
                           key_index + 1);
    key = &trust->keys[key_index];
    if (may_sign(key, bundle))
        return 0;

    if (bundle->kind == POLICY_BUNDLE_BASE)
        snprintf(what, sizeof(what), "base bundle %s version %ld", bundle->id,
                 bundle->version);
    else
        snprintf(what, sizeof(what),
                 "residency bundle %s version %ld for jurisdiction %s", bundle->id,
                 bundle->version, bundle->jurisdiction);
    if (key->scope == KEY_UNBOUND)
        return policy_fail(err, POLICY_E_NOT_AUTHORISED, 0,
                           "%s: %s is signed by %s, which is bound to no regulator, so "
                           "it may sign no bundle",
                           path, what, key->source);
    describe_scope(key, scope, sizeof(scope));
    return policy_fail(
        err, POLICY_E_NOT_AUTHORISED, 0,
        "%s: %s is signed by a key of regulator %s, which may sign only %s", path, what,
        key->regulator, scope);
}
