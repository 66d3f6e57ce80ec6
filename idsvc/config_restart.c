/*
 * The keys that the daemon reads only at start, compared between the configuration in
 * force and a reloaded file, so that a reload can report which changes wait for a restart.
 * docs/configuration.md lists the same keys in its table of sections.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

typedef enum field_type {
    FIELD_TEXT,
    FIELD_UNSIGNED,
    FIELD_SIZE,
} field_type;

/* A start-only key held in one member of config. */
typedef struct start_only_field {
    const char *section;
    const char *key;
    field_type type;
    size_t offset;
} start_only_field;

static const start_only_field FIELDS[] = {
    {"server", "listen", FIELD_TEXT, offsetof(config, listen_address)},
    {"server", "port", FIELD_UNSIGNED, offsetof(config, port)},
    {"server", "public_port", FIELD_UNSIGNED, offsetof(config, public_port)},
    {"server", "entity_id", FIELD_TEXT, offsetof(config, entity_id)},
    {"server", "jurisdiction", FIELD_TEXT, offsetof(config, jurisdiction)},
    {"server", "public_url", FIELD_TEXT, offsetof(config, public_url)},
    {"hsm", "module", FIELD_TEXT, offsetof(config, module_path)},
    {"hsm", "token_label", FIELD_TEXT, offsetof(config, token_label)},
    {"hsm", "pin_file", FIELD_TEXT, offsetof(config, pin_file)},
    {"hsm", "pin_env", FIELD_TEXT, offsetof(config, pin_env)},
    {"hsm", "tls_key", FIELD_TEXT, offsetof(config, tls_key_uri)},
    {"hsm", "saml_key", FIELD_TEXT, offsetof(config, saml_key_uri)},
    {"hsm", "retry_after", FIELD_UNSIGNED, offsetof(config, retry_after_seconds)},
    {"tls", "certificate", FIELD_TEXT, offsetof(config, certificate_file)},
    {"saml", "certificate", FIELD_TEXT, offsetof(config, saml_certificate_file)},
    {"database", "path", FIELD_TEXT, offsetof(config, database_path)},
    {"audit", "checkpoint_interval", FIELD_UNSIGNED,
     offsetof(config, audit.checkpoint_interval_seconds)},
    {"limits", "max_body_bytes", FIELD_SIZE, offsetof(config, limits.max_body_bytes)},
    {"limits", "max_json_depth", FIELD_UNSIGNED, offsetof(config, limits.max_json_depth)},
    {"limits", "max_string_bytes", FIELD_SIZE, offsetof(config, limits.max_string_bytes)},
    {"limits", "threads", FIELD_UNSIGNED, offsetof(config, limits.threads)},
    {"limits", "connection_timeout", FIELD_UNSIGNED,
     offsetof(config, limits.connection_timeout_seconds)},
    {"limits", "max_connections", FIELD_UNSIGNED, offsetof(config, limits.max_connections)},
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
                     loaded->client_ca_files, loaded->client_ca_count)) {
        report(ctx, "tls", "client_ca");
        changed++;
    }
    changed += compare_retention(running, loaded, report, ctx);
    return changed;
}
