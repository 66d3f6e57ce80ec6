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

/* The key of an assertion: its issuer, a line feed, and its ID. Neither an entity ID
 * (a URI) nor an xs:ID contains a line feed, so two assertions share a key only when
 * both parts are equal. Returns NULL when out of memory. */
static char *saml_replay_key(const char *issuer, const char *id)
{
    size_t issuer_len = strlen(issuer);
    size_t id_len = strlen(id);
    char *key = malloc(issuer_len + id_len + 2);

    if (key == NULL)
        return NULL;
    memcpy(key, issuer, issuer_len);
    key[issuer_len] = '\n';
    memcpy(key + issuer_len + 1, id, id_len + 1);
    return key;
}

static int saml_replay_check_and_store(void *ctx, const char *issuer, const char *id_only,
                                       time_t not_on_or_after)
{
    saml_replay_memory *cache = ctx;
    time_t now = cache->clock != NULL ? cache->clock(cache->clock_ctx) : time(NULL);
    char *id = saml_replay_key(issuer, id_only);
    size_t bucket;
    size_t id_len;
    saml_replay_entry *entry;
    int result = -1;

    if (id == NULL)
        return -1;
    bucket = saml_replay_bucket(id);
    id_len = strlen(id);
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
    free(id);
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
