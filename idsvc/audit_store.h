/*
 * The audit log's tables in the node's SQLite database (the migration in store_sqlite.c
 * creates them): audit_entries holds each entry with its leaf hash, audit_nodes the
 * hash of every complete perfect subtree above the leaves, and audit_checkpoints the
 * signed checkpoints. Proofs read O(log n) rows through audit_store_source().
 *
 * Each thread gets its own connection, as in store_sqlite.c. Functions return
 * AUDIT_OK or another audit_status and log SQLite's message on failure.
 */
#ifndef IDSVC_AUDIT_STORE_H
#define IDSVC_AUDIT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "audit_checkpoint.h"
#include "audit_log.h"
#include "audit_merkle.h"

typedef struct audit_store audit_store;

/* Opens the database; read_only opens it with SQLITE_OPEN_READONLY. */
audit_store *audit_store_open(const char *path, bool read_only, char *error,
                              size_t error_size);
void audit_store_close(audit_store **store);

/*
 * The time that purges compare with expiry times, of replay rows and of audit payloads:
 * the wall clock, but never further ahead of the wall clock at the store's open than
 * CLOCK_BOOTTIME has advanced since, in seconds. A wall clock stepped forward, such as
 * by a bad NTP server, would otherwise purge the replay rows of assertions that are
 * still valid, which verify again once the clock is set back, and the payloads that
 * retention must keep. NOTE: a clock that was already ahead when the store opened is
 * not detected.
 */
time_t audit_purge_time(time_t opened_wall, time_t opened_boot, time_t wall_now,
                        time_t boot_now);

/* audit_purge_time of the store's open and the clocks now. */
time_t audit_store_purge_time(const audit_store *store);

/* An entry to append. The strings are borrowed; index is set by audit_store_append. */
typedef struct audit_store_entry {
    uint64_t index;
    int64_t recorded_at;
    const char *kind;
    const char *actor;
    const char *relying_party;
    const char *jurisdiction;
    const char *text; /* the bytes the leaf hash covers */
    size_t text_len;
    /* The payload text of a version 2 entry, whose SHA-256 the text carries; NULL for
     * an entry of version 1, whose text contains the payload itself. */
    const char *payload;
    size_t payload_len;
    audit_merkle_hash leaf_hash;
    /* A SAML assertion ID to record in replay_cache in the same transaction, or NULL;
     * replay_issuer is its issuer (NULL stands for '', which matches every issuer), and
     * replay_until the time after which the row may be purged. */
    const char *replay_issuer;
    const char *replay_id;
    int64_t replay_until;
    /* replay_id is the assertion of a credential of this node; the entry is not
     * appended while the credential is revoked. */
    bool replay_credential;
    audit_rows_fn write_rows; /* see audit_event */
    void *write_rows_ctx;
    /* On the first entry of a group (audit_record_group): the number of entries that
     * are appended together or not at all, this one included; 0 stands for 1. The
     * others follow it in the batch and carry follows_group. */
    size_t group_size;
    bool follows_group;
    /* On the first entry of a group, or a lone entry: the entries that its write_rows
     * added, appended after the group in the same transaction. write_rows sets them. */
    struct audit_store_entry *const *added;
    size_t added_count;
    bool conflict; /* set by audit_store_append: write_rows returned 1 */
    bool replayed; /* set by audit_store_append: the ID was recorded before */
    bool revoked;  /* set by audit_store_append: the credential is revoked */
} audit_store_entry;

/*
 * Appends entries in one transaction: each entry's row, and every subtree the append
 * completes. frontier must describe the stored tree; on failure it is restored and the
 * transaction rolled back, so either all entries are stored or none.
 *
 * An entry with a replay_id whose ID replay_cache already holds, from an earlier
 * transaction or from an entry before it in this batch, is not appended: its replayed
 * flag is set and its index left alone. The same goes for revoked, when the entry names
 * a credential that is revoked at the commit. The other entries are appended.
 */
audit_status audit_store_append(audit_store *store, audit_store_entry *const *entries,
                                size_t count, audit_merkle_frontier *frontier);

/* Starts and ends a read transaction, so that several reads see one snapshot. */
audit_status audit_store_read_begin(audit_store *store);
void audit_store_read_end(audit_store *store);

/* The number of entries, which is the tree size. */
audit_status audit_store_size(audit_store *store, uint64_t *size);

/* Counts the stored subtrees that reach past the first size leaves, which only deleted
 * entries leave behind. */
audit_status audit_store_nodes_beyond(audit_store *store, uint64_t size, uint64_t *count);

/* A source that reads subtree hashes from this thread's connection. */
audit_merkle_source audit_store_source(audit_store *store);

/* Calls each for every stored subtree hash above the leaves, by level, then index. */
audit_status audit_store_each_node(audit_store *store,
                                   int (*each)(void *ctx, unsigned level, uint64_t index,
                                               const audit_merkle_hash *hash),
                                   void *ctx);

/* An entry as read back. Strings point into the statement and live for the callback. */
typedef struct audit_row {
    uint64_t index;
    int64_t recorded_at;
    const char *kind;
    const char *actor;
    const char *relying_party;
    const char *jurisdiction;
    const char *text;    /* the hashed entry text; NULL once a version 1 entry was purged */
    const char *payload; /* a version 2 entry's payload text; NULL for version 1 or purged */
    size_t text_len;     /* the stored bytes of text and payload, which may contain a NUL */
    size_t payload_len;
    int64_t purged_at;   /* 0 while the payload is kept */
    audit_merkle_hash leaf_hash;
    /* The stored leaf hash is not a blob of 32 bytes, so leaf_hash is all zeros. */
    bool leaf_hash_invalid;
    /* The recorded_at column is not an integer, so recorded_at is SQLite's conversion. */
    bool recorded_at_invalid;
} audit_row;

/* Which entries to read: indexes [from, to), times [since, until), and optional kind
 * and relying party. limit 0 reads all that match. since INT64_MIN and until INT64_MAX
 * bound nothing, so they read rows whose recorded_at column is not an integer too. */
typedef struct audit_filter {
    uint64_t from;
    uint64_t to;
    int64_t since;
    int64_t until;
    const char *kind;
    const char *relying_party;
    size_t limit;
} audit_filter;

/* Sets a filter that matches every entry. */
void audit_filter_all(audit_filter *filter);

/* Calls each for every matching entry in index order; a nonzero return stops the walk
 * and is returned as AUDIT_ERR_INVALID_ARGUMENT. */
audit_status audit_store_each_entry(audit_store *store, const audit_filter *filter,
                                    int (*each)(void *ctx, const audit_row *row),
                                    void *ctx);

/* Stores a checkpoint and sets its id. */
audit_status audit_store_add_checkpoint(audit_store *store, audit_checkpoint *checkpoint);

/* Reads the checkpoint of the largest tree; AUDIT_ERR_NOT_FOUND when there is none.
 * AUDIT_ERR_STORE_FAILED also when its body does not parse, or its tree_size or id
 * column was edited (a log line names them). */
audit_status audit_store_latest_checkpoint(audit_store *store, audit_checkpoint *out);

/* Sets *found to whether a stored checkpoint has exactly this signed body. */
audit_status audit_store_has_checkpoint(audit_store *store, const char *body, bool *found);

/* Finds the index of the first entry whose text is of version 2; *found is false when
 * there is none. */
audit_status audit_store_first_version_2(audit_store *store, uint64_t *index, bool *found);

/* Calls each for every checkpoint, oldest first. */
audit_status audit_store_each_checkpoint(audit_store *store,
                                         int (*each)(void *ctx,
                                                     const audit_checkpoint *checkpoint),
                                         void *ctx);

/*
 * Purges the payloads of entries recorded before before, on db, the connection of the
 * transaction that appends the purge's own entry (kind AUDIT_PURGE_KIND, whose payloads
 * are never purged). jurisdiction NULL selects the entries of every jurisdiction not in
 * except (except_count names). A version 2 entry loses its payload column and keeps its
 * hashed text; a version 1 entry, whose text contains the payload, loses its text.
 * purged_at becomes now. count receives the number of payloads purged. Returns 0, or -1
 * after logging SQLite's message.
 */
struct sqlite3;
int audit_store_purge_rows(struct sqlite3 *db, const char *jurisdiction,
                           const char *const *except, size_t except_count, int64_t before,
                           int64_t now, uint64_t *count);

/* Sets *is_new when the database has never been a node's: no pseudonym secret, which
 * the first open of the log creates, and no credential. */
audit_status audit_store_is_new(audit_store *store, bool *is_new);

/* Reads the pseudonym secret, creating it with the random generator on first use. */
audit_status audit_store_secret(audit_store *store, unsigned char out[32]);

#endif
