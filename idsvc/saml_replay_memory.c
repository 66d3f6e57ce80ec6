/* An in-memory replay cache: a hash table of assertion IDs, each kept until its
 * NotOnOrAfter has passed. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "saml.h"

#define SAML_REPLAY_BUCKETS 1024u

typedef struct saml_replay_entry {
    struct saml_replay_entry *next;
    time_t not_on_or_after;
    char id[]; /* NUL-terminated */
} saml_replay_entry;

struct saml_replay_memory {
    pthread_mutex_t lock;
    time_t (*clock)(void *ctx);
    void *clock_ctx;
    saml_replay_entry *buckets[SAML_REPLAY_BUCKETS];
};

saml_replay_memory *saml_replay_memory_new(time_t (*clock)(void *ctx), void *clock_ctx)
{
    saml_replay_memory *cache = calloc(1, sizeof(*cache));

    if (cache == NULL)
        return NULL;
    if (pthread_mutex_init(&cache->lock, NULL) != 0) {
        free(cache);
        return NULL;
    }
    cache->clock = clock;
    cache->clock_ctx = clock_ctx;
    return cache;
}

void saml_replay_memory_free(saml_replay_memory **cache)
{
    if (cache == NULL || *cache == NULL)
        return;

    for (size_t i = 0; i < SAML_REPLAY_BUCKETS; i++) {
        saml_replay_entry *entry = (*cache)->buckets[i];

        while (entry != NULL) {
            saml_replay_entry *next = entry->next;

            free(entry);
            entry = next;
        }
    }
    pthread_mutex_destroy(&(*cache)->lock);
    free(*cache);
    *cache = NULL;
}

/* FNV-1a, enough to spread IDs that an issuer chose at random. */
static size_t saml_replay_bucket(const char *id)
{
    uint32_t hash = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++) {
        hash ^= *p;
        hash *= 16777619u;
    }
    return hash % SAML_REPLAY_BUCKETS;
}

/* Looks id up in one bucket, dropping the entries that expired on the way. */
static bool saml_replay_seen(saml_replay_entry **bucket, const char *id, time_t now)
{
    saml_replay_entry **link = bucket;

    while (*link != NULL) {
        saml_replay_entry *entry = *link;

        if (entry->not_on_or_after <= now) {
            *link = entry->next;
            free(entry);
            continue;
        }
        if (strcmp(entry->id, id) == 0)
            return true;
        link = &entry->next;
    }
    return false;
}

static int saml_replay_check_and_store(void *ctx, const char *id, time_t not_on_or_after)
{
    saml_replay_memory *cache = ctx;
    time_t now = cache->clock != NULL ? cache->clock(cache->clock_ctx) : time(NULL);
    size_t bucket = saml_replay_bucket(id);
    size_t id_len = strlen(id);
    saml_replay_entry *entry;
    int result = -1;

    pthread_mutex_lock(&cache->lock);

    if (saml_replay_seen(&cache->buckets[bucket], id, now)) {
        result = 0;
        goto out;
    }

    entry = malloc(sizeof(*entry) + id_len + 1);
    if (entry == NULL)
        goto out;
    memcpy(entry->id, id, id_len + 1);
    entry->not_on_or_after = not_on_or_after;
    entry->next = cache->buckets[bucket];
    cache->buckets[bucket] = entry;
    result = 1;

out:
    pthread_mutex_unlock(&cache->lock);
    return result;
}

saml_replay_cache saml_replay_memory_interface(saml_replay_memory *cache)
{
    saml_replay_cache replay = {
        .check_and_store = saml_replay_check_and_store,
        .ctx = cache,
    };

    return replay;
}
