/* Ties purged entries to the purge entries of the log (audit_purges.h). */
#include "audit_purges.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define RULES_MAX 256
#define DAYS_MAX (100 * 366) /* as the node's [audit] retention_days */

typedef struct purge_rule {
    char jurisdiction[3]; /* "" for the default rule */
    int64_t days;
} purge_rule;

/* One purge entry. */
typedef struct purge_record {
    uint64_t index;
    int64_t purged_at;
    purge_rule *rules;
    size_t rule_count;
} purge_record;

/* One purged entry of version 2. */
typedef struct purged_entry {
    uint64_t index;
    int64_t recorded_at;
    int64_t purged_at;
    char jurisdiction[3];
} purged_entry;

struct audit_purges {
    purge_record *records;
    size_t record_count;
    size_t record_capacity;
    purged_entry *purged;
    size_t purged_count;
    size_t purged_capacity;
};

audit_purges *audit_purges_new(void)
{
    return calloc(1, sizeof(audit_purges));
}

void audit_purges_free(audit_purges *purges)
{
    if (purges == NULL)
        return;
    for (size_t i = 0; i < purges->record_count; i++)
        free(purges->records[i].rules);
    free(purges->records);
    free(purges->purged);
    free(purges);
}

/* Grows an array of size-byte items to hold one more. Returns 0, or -1 when out of
 * memory. */
static int reserve(void **items, size_t *capacity, size_t count, size_t size)
{
    size_t grown = *capacity * 2 + 16;
    void *moved;

    if (count < *capacity)
        return 0;
    moved = realloc(*items, grown * size);
    if (moved == NULL)
        return -1;
    *items = moved;
    *capacity = grown;
    return 0;
}

/* Reads a jurisdiction as the node writes it: two capital letters, or null for the
 * default rule. */
static bool read_jurisdiction(const json_t *value, char out[3])
{
    const char *text = json_string_value(value);

    out[0] = '\0';
    if (json_is_null(value))
        return true;
    if (text == NULL || strlen(text) != 2 || text[0] < 'A' || text[0] > 'Z' ||
        text[1] < 'A' || text[1] > 'Z')
        return false;
    memcpy(out, text, 3);
    return true;
}

static bool read_rule(const json_t *item, purge_rule *rule)
{
    const json_t *days = json_object_get(item, "days");

    if (!json_is_object(item) || json_object_size(item) != 2 ||
        json_object_get(item, "jurisdiction") == NULL ||
        !read_jurisdiction(json_object_get(item, "jurisdiction"), rule->jurisdiction) ||
        !json_is_integer(days) || json_integer_value(days) < 0 ||
        json_integer_value(days) > DAYS_MAX)
        return false;
    rule->days = json_integer_value(days);
    return true;
}

/* Reads the payload's purge time and rules into record; false for any other form. */
static bool read_record(const json_t *doc, purge_record *record)
{
    const json_t *purged_at = json_object_get(doc, "purged_at");
    const json_t *rules = json_object_get(doc, "rules");
    size_t count = json_array_size(rules);

    if (!json_is_object(doc) || json_object_size(doc) != 2 || !json_is_integer(purged_at) ||
        json_integer_value(purged_at) < 0 || !json_is_array(rules) || count > RULES_MAX)
        return false;
    record->purged_at = json_integer_value(purged_at);
    record->rules = calloc(count + 1, sizeof(*record->rules));
    if (record->rules == NULL)
        return false;
    for (size_t i = 0; i < count; i++)
        if (!read_rule(json_array_get(rules, i), &record->rules[i]))
            return false;
    record->rule_count = count;
    return true;
}

const char *audit_purges_add_record(audit_purges *purges, uint64_t index, int64_t entry_time,
                                    const char *payload, char *detail, size_t detail_size)
{
    purge_record record = {.index = index};
    json_t *doc;
    bool valid;

    if (payload == NULL) {
        snprintf(detail, detail_size,
                 "the entry records a purge, but its payload, which names the purge time "
                 "and rules, is gone; the node never purges it");
        return "purge_invalid";
    }
    doc = json_loads(payload, JSON_REJECT_DUPLICATES, NULL);
    valid = read_record(doc, &record);
    json_decref(doc);
    if (!valid) {
        free(record.rules);
        snprintf(detail, detail_size,
                 "the entry records a purge, but its payload is not {\"purged_at\": "
                 "seconds, \"rules\": [{\"jurisdiction\": XX or null, \"days\": N}, ...]}");
        return "purge_invalid";
    }
    if (record.purged_at != entry_time) {
        free(record.rules);
        snprintf(detail, detail_size,
                 "the purge entry's purged_at (%" PRId64 ") differs from its own time (%"
                 PRId64 "), which a node writes as the same second; the entry was forged "
                 "or edited",
                 record.purged_at, entry_time);
        return "purge_invalid";
    }
    if (reserve((void **)&purges->records, &purges->record_capacity, purges->record_count,
                sizeof(record)) != 0) {
        free(record.rules);
        snprintf(detail, detail_size, "out of memory");
        return "internal_error";
    }
    purges->records[purges->record_count++] = record;
    return NULL;
}

int audit_purges_add_purged(audit_purges *purges, uint64_t index, int64_t recorded_at,
                            const char *jurisdiction, int64_t purged_at)
{
    purged_entry *entry;

    if (reserve((void **)&purges->purged, &purges->purged_capacity, purges->purged_count,
                sizeof(*entry)) != 0)
        return -1;
    entry = &purges->purged[purges->purged_count++];
    entry->index = index;
    entry->recorded_at = recorded_at;
    entry->purged_at = purged_at;
    snprintf(entry->jurisdiction, sizeof(entry->jurisdiction), "%s",
             jurisdiction != NULL ? jurisdiction : "");
    return 0;
}

/* Orders records by purge time, then by index. */
static int compare_records(const void *a, const void *b)
{
    const purge_record *x = a;
    const purge_record *y = b;

    if (x->purged_at != y->purged_at)
        return x->purged_at < y->purged_at ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Returns the record's rule for a jurisdiction: its own, else the default, else NULL,
 * as the node chooses. */
static const purge_rule *rule_for(const purge_record *record, const char *jurisdiction)
{
    const purge_rule *fallback = NULL;

    for (size_t i = 0; i < record->rule_count; i++) {
        if (record->rules[i].jurisdiction[0] == '\0')
            fallback = &record->rules[i];
        else if (strcmp(record->rules[i].jurisdiction, jurisdiction) == 0)
            return &record->rules[i];
    }
    return fallback;
}

/* Returns true when the record's purge expired the entry. */
static bool record_expires(const purge_record *record, const purged_entry *entry)
{
    const purge_rule *rule = rule_for(record, entry->jurisdiction);

    return record->index > entry->index && rule != NULL && rule->days > 0 &&
           entry->recorded_at < record->purged_at - rule->days * 86400;
}

/* Finds the first record with the entry's purge time in the sorted records, or returns
 * NULL. */
static const purge_record *first_at(const audit_purges *purges, int64_t purged_at)
{
    size_t low = 0;
    size_t high = purges->record_count;

    while (low < high) {
        size_t middle = low + (high - low) / 2;

        if (purges->records[middle].purged_at < purged_at)
            low = middle + 1;
        else
            high = middle;
    }
    return low < purges->record_count && purges->records[low].purged_at == purged_at
               ? &purges->records[low]
               : NULL;
}

static void format_time(int64_t seconds, char out[32])
{
    time_t when = (time_t)seconds;
    struct tm tm;

    if (gmtime_r(&when, &tm) == NULL ||
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%" PRId64 " seconds", seconds);
}

/* Writes why no record at the entry's purge time expired it. */
static void explain(const purge_record *record, const purged_entry *entry, char *detail,
                    size_t detail_size)
{
    char purged_at[32];

    format_time(entry->purged_at, purged_at);
    if (record == NULL)
        snprintf(detail, detail_size,
                 "the purged_at column names %s, but no later audit_payloads_purged entry "
                 "records a purge at that time: the payload was deleted, or the column "
                 "changed, outside a purge", purged_at);
    else
        snprintf(detail, detail_size,
                 "the purge that entry %" PRIu64 " records at %s did not expire an entry of "
                 "jurisdiction %s recorded then: the payload was deleted early, outside "
                 "that purge's rules", record->index, purged_at,
                 entry->jurisdiction[0] != '\0' ? entry->jurisdiction : "(none)");
}

const char *audit_purges_check(audit_purges *purges, uint64_t *index, char *detail,
                               size_t detail_size)
{
    if (purges->record_count > 0)
        qsort(purges->records, purges->record_count, sizeof(*purges->records),
              compare_records);
    for (size_t i = 0; i < purges->purged_count; i++) {
        const purged_entry *entry = &purges->purged[i];
        const purge_record *first = first_at(purges, entry->purged_at);
        const purge_record *record = first;
        const purge_record *end = purges->records + purges->record_count;

        while (record != NULL && record < end && record->purged_at == entry->purged_at &&
               !record_expires(record, entry))
            record++;
        if (record != NULL && record < end && record->purged_at == entry->purged_at)
            continue;
        explain(first, entry, detail, detail_size);
        *index = entry->index;
        return "purge_unlogged";
    }
    return NULL;
}
