/*
 * Checks of the names that identify peers in the configuration: the UTF-8 length of a
 * subject_cn, and entity IDs that must stay unique across [server], [issuer] and [rp].
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>

#include "config.h"

long config_utf8_characters(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t left = strlen(text);
    long count = 0;

    while (left > 0) {
        unsigned long code = 0;
        /* UTF8_getc rejects overlong forms and cut sequences; it accepts surrogates and
         * code points up to 0x7fffffff, which are checked here. */
        int used = UTF8_getc(p, left > INT_MAX ? INT_MAX : (int)left, &code);

        if (used <= 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
            return -1;
        p += used;
        left -= (size_t)used;
        count++;
    }
    return count;
}

/* Finds an [issuer] after index first with the entity ID of issuer first. */
static const config_issuer *find_issuer_twin(const config *cfg, size_t first)
{
    for (size_t i = first + 1; i < cfg->issuer_count; i++)
        if (strcmp(cfg->issuers[i].entity_id, cfg->issuers[first].entity_id) == 0)
            return &cfg->issuers[i];
    return NULL;
}

static const config_rp *find_rp_twin(const config *cfg, size_t first)
{
    for (size_t i = first + 1; i < cfg->rp_count; i++)
        if (strcmp(cfg->rps[i].entity_id, cfg->rps[first].entity_id) == 0)
            return &cfg->rps[i];
    return NULL;
}

int config_check_entity_ids(const config *cfg, char *error, size_t error_size)
{
    for (size_t i = 0; i < cfg->issuer_count; i++) {
        const config_issuer *issuer = &cfg->issuers[i];
        const config_issuer *twin = find_issuer_twin(cfg, i);

        if (strcmp(issuer->entity_id, cfg->entity_id) == 0) {
            snprintf(error, error_size,
                     "[issuer %s] entity_id \"%s\" is the node's own [server] entity_id, "
                     "so that issuer's keys would sign credentials in the node's name; "
                     "give the issuer its own entity_id",
                     issuer->id, issuer->entity_id);
            return -1;
        }
        if (twin != NULL) {
            snprintf(error, error_size,
                     "[issuer %s] and [issuer %s] have the same entity_id \"%s\"; list "
                     "every key of that issuer in one section",
                     issuer->id, twin->id, issuer->entity_id);
            return -1;
        }
    }
    for (size_t i = 0; i < cfg->rp_count; i++) {
        const config_rp *twin = find_rp_twin(cfg, i);

        if (twin != NULL) {
            snprintf(error, error_size,
                     "[rp %s] and [rp %s] have the same entity_id \"%s\", so each could "
                     "present assertions made for the other",
                     cfg->rps[i].id, twin->id, cfg->rps[i].entity_id);
            return -1;
        }
    }
    return 0;
}
