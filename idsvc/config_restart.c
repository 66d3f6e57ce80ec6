/*
 * The keys that the daemon reads only at start, compared between the configuration in
 * force and a reloaded file, so that a reload can report which changes wait for a restart.
 * docs/configuration.md lists the same keys in its table of sections.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "config.h"
#include "pem_file.h"

typedef enum field_type {
    FIELD_TEXT,
    FIELD_UNSIGNED,
    FIELD_SIZE,
    FIELD_FILE, /* a path, and the digest of its contents at offset_sha256 */
} field_type;

/* A start-only key held in one member of config. */
typedef struct start_only_field {
    const char *section;
    const char *key;
    field_type type;
    size_t offset;
    size_t offset_sha256; /* FIELD_FILE only */
} start_only_field;

static const start_only_field FIELDS[] = {
    {"server", "listen", FIELD_TEXT, offsetof(config, listen_address), 0},
    {"server", "port", FIELD_UNSIGNED, offsetof(config, port), 0},
    {"server", "public_port", FIELD_UNSIGNED, offsetof(config, public_port), 0},
    {"server", "entity_id", FIELD_TEXT, offsetof(config, entity_id), 0},
    {"server", "jurisdiction", FIELD_TEXT, offsetof(config, jurisdiction), 0},
    {"server", "public_url", FIELD_TEXT, offsetof(config, public_url), 0},
    {"hsm", "module", FIELD_TEXT, offsetof(config, module_path), 0},
    {"hsm", "token_label", FIELD_TEXT, offsetof(config, token_label), 0},
    {"hsm", "pin_file", FIELD_TEXT, offsetof(config, pin_file), 0},
    {"hsm", "pin_env", FIELD_TEXT, offsetof(config, pin_env), 0},
    {"hsm", "tls_key", FIELD_TEXT, offsetof(config, tls_key_uri), 0},
    {"hsm", "saml_key", FIELD_TEXT, offsetof(config, saml_key_uri), 0},
    {"hsm", "retry_after", FIELD_UNSIGNED, offsetof(config, retry_after_seconds), 0},
    {"tls", "certificate", FIELD_FILE, offsetof(config, certificate_file),
     offsetof(config, certificate_sha256)},
    {"saml", "certificate", FIELD_FILE, offsetof(config, saml_certificate_file),
     offsetof(config, saml_certificate_sha256)},
    {"database", "path", FIELD_TEXT, offsetof(config, database_path), 0},
    {"audit", "checkpoint_interval", FIELD_UNSIGNED,
     offsetof(config, audit.checkpoint_interval_seconds), 0},
    {"limits", "max_body_bytes", FIELD_SIZE, offsetof(config, limits.max_body_bytes), 0},
    {"limits", "max_json_depth", FIELD_UNSIGNED, offsetof(config, limits.max_json_depth), 0},
    {"limits", "max_string_bytes", FIELD_SIZE, offsetof(config, limits.max_string_bytes), 0},
    {"limits", "threads", FIELD_UNSIGNED, offsetof(config, limits.threads), 0},
    {"limits", "connection_timeout", FIELD_UNSIGNED,
     offsetof(config, limits.connection_timeout_seconds), 0},
    {"limits", "max_connections", FIELD_UNSIGNED, offsetof(config, limits.max_connections), 0},
};

static bool text_differs(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a != b;
    return strcmp(a, b) != 0;
}

static bool field_differs(const start_only_field *field, const config *a, const config *b)
{
    const char *pa = (const char *)a + field->offset;
    const char *pb = (const char *)b + field->offset;

    switch (field->type) {
    case FIELD_TEXT:
        return text_differs(*(char *const *)(const void *)pa, *(char *const *)(const void *)pb);
    case FIELD_UNSIGNED:
        return *(const unsigned *)(const void *)pa != *(const unsigned *)(const void *)pb;
    case FIELD_SIZE:
        return *(const size_t *)(const void *)pa != *(const size_t *)(const void *)pb;
    case FIELD_FILE:
        return text_differs(*(char *const *)(const void *)pa,
                            *(char *const *)(const void *)pb) ||
               memcmp((const char *)a + field->offset_sha256,
                      (const char *)b + field->offset_sha256, 32) != 0;
    }
    return false;
}

static bool list_contains(char *const *list, size_t count, const char *text)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(list[i], text) == 0)
            return true;
    return false;
}

/* Compares two lists as sets, so that a new order alone is no change. */
static bool list_differs(char *const *a, size_t a_count, char *const *b, size_t b_count)
{
    for (size_t i = 0; i < a_count; i++)
        if (!list_contains(b, b_count, a[i]))
            return true;
    for (size_t i = 0; i < b_count; i++)
        if (!list_contains(a, a_count, b[i]))
            return true;
    return false;
}

/* Returns the retention period of jurisdiction (NULL for the default rule), or -1 when
 * the configuration sets none. */
static long retention_days(const config *cfg, const char *jurisdiction)
{
    for (size_t i = 0; i < cfg->audit.retention_count; i++) {
        const config_retention *rule = &cfg->audit.retention[i];

        if (!text_differs(rule->jurisdiction, jurisdiction))
            return (long)rule->days;
    }
    return -1;
}

static size_t compare_retention(const config *a, const config *b,
                                config_change_fn report, void *ctx)
{
    size_t changed = 0;
    char key[48];

    /* The default rule always exists, as config_load adds it before reading [audit]. */
    if (retention_days(a, NULL) != retention_days(b, NULL)) {
        report(ctx, "audit", "retention_days");
        changed++;
    }
    for (size_t i = 0; i < a->audit.retention_count; i++) {
        const char *jurisdiction = a->audit.retention[i].jurisdiction;

        if (jurisdiction == NULL ||
            retention_days(a, jurisdiction) == retention_days(b, jurisdiction))
            continue;
        snprintf(key, sizeof(key), "retention_days.%s", jurisdiction);
        report(ctx, "audit", key);
        changed++;
    }
    /* Rules that only the loaded file sets. */
    for (size_t i = 0; i < b->audit.retention_count; i++) {
        const char *jurisdiction = b->audit.retention[i].jurisdiction;

        if (jurisdiction == NULL || retention_days(a, jurisdiction) >= 0)
            continue;
        snprintf(key, sizeof(key), "retention_days.%s", jurisdiction);
        report(ctx, "audit", key);
        changed++;
    }
    return changed;
}

/* Sets out to the SHA-256 of the file's contents, or to zeros when it cannot be read. */
static void digest_file(const char *path, unsigned char out[32])
{
    unsigned char buffer[4096];
    unsigned len = 0;
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    char error[256];
    /* Without blocking, so that a pipe named as a certificate fails here instead of
     * waiting for a writer. */
    FILE *file = path != NULL ? pem_file_open_regular(path, error, sizeof(error)) : NULL;
    bool ok = context != NULL && file != NULL && EVP_DigestInit_ex(context, EVP_sha256(), NULL) == 1;
    size_t n;

    while (ok && (n = fread(buffer, 1, sizeof(buffer), file)) > 0)
        ok = EVP_DigestUpdate(context, buffer, n) == 1;
    ok = ok && !ferror(file) && EVP_DigestFinal_ex(context, out, &len) == 1 && len == 32;
    if (!ok)
        memset(out, 0, 32);
    if (file != NULL)
        fclose(file);
    EVP_MD_CTX_free(context);
}

static int compare_digests(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Sets out to the SHA-256 over the digests of the files, sorted, so that their order
 * does not count. */
static void digest_file_set(char *const *files, size_t count, unsigned char out[32])
{
    unsigned char(*each)[32] = calloc(count + 1, 32);
    unsigned len = 0;

    memset(out, 0, 32);
    if (each == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        digest_file(files[i], each[i]);
    qsort(each, count, 32, compare_digests);
    if (EVP_Digest(each, count * 32, out, &len, EVP_sha256(), NULL) != 1)
        memset(out, 0, 32);
    free(each);
}

void config_digest_start_files(config *cfg)
{
    digest_file(cfg->certificate_file, cfg->certificate_sha256);
    digest_file(cfg->saml_certificate_file, cfg->saml_certificate_sha256);
    digest_file_set(cfg->client_ca_files, cfg->client_ca_count, cfg->client_ca_sha256);
    digest_file_set(cfg->saml_next_files, cfg->saml_next_count, cfg->saml_next_sha256);
}

size_t config_compare_start_only(const config *running, const config *loaded,
                                 config_change_fn report, void *ctx)
{
    size_t changed = 0;

    for (size_t i = 0; i < sizeof(FIELDS) / sizeof(FIELDS[0]); i++) {
        if (field_differs(&FIELDS[i], running, loaded)) {
            report(ctx, FIELDS[i].section, FIELDS[i].key);
            changed++;
        }
    }
    if (list_differs(running->client_ca_files, running->client_ca_count,
                     loaded->client_ca_files, loaded->client_ca_count) ||
        memcmp(running->client_ca_sha256, loaded->client_ca_sha256,
               sizeof(running->client_ca_sha256)) != 0) {
        report(ctx, "tls", "client_ca");
        changed++;
    }
    /* The metadata announces the next keys, and the trust store trusts them, as the
     * start read them, because the metadata is built once at start. */
    if (list_differs(running->saml_next_files, running->saml_next_count,
                     loaded->saml_next_files, loaded->saml_next_count) ||
        memcmp(running->saml_next_sha256, loaded->saml_next_sha256,
               sizeof(running->saml_next_sha256)) != 0) {
        report(ctx, "saml", "next_certificate");
        changed++;
    }
    changed += compare_retention(running, loaded, report, ctx);
    return changed;
}
