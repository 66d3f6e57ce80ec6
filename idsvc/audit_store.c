/* The audit log's SQLite statements. */
#include "audit_store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <sqlite3.h>

#include "log.h"
#include "store_sql.h"

#define BUSY_TIMEOUT_MS 5000
#define REPLAY_PURGE_EVERY 256 /* replay rows recorded between purges of expired ones */

/* A thread's connection with the statements that proofs and appends run many times.
 * The append statements are prepared on the first append. */
typedef struct audit_connection {
    sqlite3 *db;
    sqlite3_stmt *node_lookup;
    sqlite3_stmt *leaf_lookup;
    sqlite3_stmt *entry_insert;
    sqlite3_stmt *node_insert;
    sqlite3_stmt *replay_insert;
    sqlite3_stmt *credential_state;
} audit_connection;

struct audit_store {
    char *path;
    bool read_only;
    pthread_key_t key;
    pthread_mutex_t lock;
    audit_connection **connections; /* every connection opened, closed with the store */
    size_t connection_count;
    uint64_t replay_rows; /* recorded through appends; written by the committing thread */
    time_t opened_wall;   /* time(NULL) when the store opened */
    time_t opened_boot;   /* CLOCK_BOOTTIME seconds when the store opened */
};

static time_t boot_seconds(void)
{
    struct timespec now;

    clock_gettime(CLOCK_BOOTTIME, &now);
    return now.tv_sec;
}

time_t audit_purge_time(time_t opened_wall, time_t opened_boot, time_t wall_now,
                        time_t boot_now)
{
    time_t bound = opened_wall + (boot_now - opened_boot);

    return wall_now < bound ? wall_now : bound;
}

time_t audit_store_purge_time(const audit_store *store)
{
    return audit_purge_time(store->opened_wall, store->opened_boot, time(NULL),
                            boot_seconds());
}

static void log_sqlite(sqlite3 *db, const char *operation)
{
    log_message(LOG_ERROR, "audit_store_error", "%s failed: %s", operation,
                db != NULL ? sqlite3_errmsg(db) : "no connection");
}

static int exec(sqlite3 *db, const char *sql)
{
    char *message = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
        log_message(LOG_ERROR, "audit_store_error", "%s failed: %s", sql,
                    message != NULL ? message : "unknown error");
        sqlite3_free(message);
        return -1;
    }
    return 0;
}

static void connection_free(audit_connection *c)
{
    if (c == NULL)
        return;
    sqlite3_finalize(c->node_lookup);
    sqlite3_finalize(c->leaf_lookup);
    sqlite3_finalize(c->entry_insert);
    sqlite3_finalize(c->node_insert);
    sqlite3_finalize(c->replay_insert);
    sqlite3_finalize(c->credential_state);
    sqlite3_close(c->db);
    free(c);
}

static audit_connection *connection_open(const audit_store *s)
{
    audit_connection *c = calloc(1, sizeof(*c));
    int flags = (s->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                SQLITE_OPEN_NOMUTEX;

    if (c == NULL)
        return NULL;
    if (sqlite3_open_v2(s->path, &c->db, flags, NULL) != SQLITE_OK) {
        log_sqlite(c->db, "opening the audit database");
        goto fail;
    }
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);

    /* FULL syncs the WAL on every commit, so a committed entry survives a crash. The
     * rows that entries write with write_rows keep the store's foreign keys, as on the
     * store's own connections. */
    if (!s->read_only && exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                     " PRAGMA foreign_keys=ON") != 0)
        goto fail;
    if (sqlite3_prepare_v3(c->db, "SELECT hash FROM audit_nodes WHERE level = ? AND idx = ?",
                           -1, SQLITE_PREPARE_PERSISTENT, &c->node_lookup, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(c->db, "SELECT leaf_hash FROM audit_entries WHERE idx = ?", -1,
                           SQLITE_PREPARE_PERSISTENT, &c->leaf_lookup, NULL) != SQLITE_OK) {
        log_sqlite(c->db, "preparing the audit lookups (is the schema migrated?)");
        goto fail;
    }
    return c;
fail:
    connection_free(c);
    return NULL;
}

static audit_connection *thread_connection(audit_store *s)
{
    audit_connection *c = pthread_getspecific(s->key);
    audit_connection **grown;

    if (c != NULL)
        return c;
    c = connection_open(s);
    if (c == NULL)
        return NULL;

    pthread_mutex_lock(&s->lock);
    grown = realloc(s->connections, (s->connection_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        s->connections = grown;
        grown[s->connection_count++] = c;
    }
    pthread_mutex_unlock(&s->lock);
    if (grown == NULL) {
        connection_free(c);
        return NULL;
    }
    pthread_setspecific(s->key, c);
    return c;
}

audit_store *audit_store_open(const char *path, bool read_only, char *error,
                              size_t error_size)
{
    audit_store *s = calloc(1, sizeof(*s));

    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    s->read_only = read_only;
    s->opened_wall = time(NULL);
    s->opened_boot = boot_seconds();
    pthread_mutex_init(&s->lock, NULL);
    if (pthread_key_create(&s->key, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        free(s->path);
        free(s);
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    if (thread_connection(s) == NULL) {
        snprintf(error, error_size, "%s: cannot open the audit tables (see the "
                 "audit_store_error line above)", path);
        audit_store_close(&s);
        return NULL;
    }
    return s;
}

void audit_store_close(audit_store **store)
{
    audit_store *s;

    if (store == NULL || *store == NULL)
        return;
    s = *store;
    for (size_t i = 0; i < s->connection_count; i++)
        connection_free(s->connections[i]);
    free(s->connections);
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
    *store = NULL;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        log_sqlite(db, "preparing an audit statement");
        return NULL;
    }
    return stmt;
}

static void bind_text(sqlite3_stmt *stmt, int index, const char *value)
{
    if (value == NULL)
        sqlite3_bind_null(stmt, index);
    else
        sqlite3_bind_text(stmt, index, value, -1, SQLITE_STATIC);
}

/* ---- Appending ------------------------------------------------------------------ */

/* The sink's state: the node insert of the running transaction. */
typedef struct node_writer {
    sqlite3 *db;
    sqlite3_stmt *insert;
} node_writer;

/* Stores the subtrees above the leaves; the leaf hash itself goes into the entry row. */
static int store_node(void *ctx, unsigned level, uint64_t index, const audit_merkle_hash *hash)
{
    node_writer *writer = ctx;
    int rc;

    if (level == 0)
        return 0;
    sqlite3_bind_int(writer->insert, 1, (int)level);
    sqlite3_bind_int64(writer->insert, 2, (sqlite3_int64)index);
    sqlite3_bind_blob(writer->insert, 3, hash->bytes, AUDIT_MERKLE_HASH_SIZE, SQLITE_STATIC);
    rc = sqlite3_step(writer->insert);
    sqlite3_reset(writer->insert);
    if (rc != SQLITE_DONE) {
        log_sqlite(writer->db, "storing an audit subtree hash");
        return -1;
    }
    return 0;
}

static int insert_entry(sqlite3 *db, sqlite3_stmt *stmt, const audit_store_entry *entry)
{
    int rc;

    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)entry->index);
    sqlite3_bind_int64(stmt, 2, entry->recorded_at);
    bind_text(stmt, 3, entry->kind);
    bind_text(stmt, 4, entry->actor);
    bind_text(stmt, 5, entry->relying_party);
    bind_text(stmt, 6, entry->jurisdiction);
    sqlite3_bind_blob(stmt, 7, entry->leaf_hash.bytes, AUDIT_MERKLE_HASH_SIZE,
                      SQLITE_STATIC);
    if (entry->text != NULL)
        sqlite3_bind_text(stmt, 8, entry->text, (int)entry->text_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt, 8);
    if (entry->payload != NULL)
        sqlite3_bind_text(stmt, 9, entry->payload, (int)entry->payload_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt, 9);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        log_sqlite(db, "storing an audit entry");
        return -1;
    }
    return 0;
}

static sqlite3_stmt *prepare_once(sqlite3 *db, sqlite3_stmt **slot, const char *sql)
{
    if (*slot == NULL &&
        sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
        log_sqlite(db, "preparing an audit statement");
        *slot = NULL;
    }
    return *slot;
}

static int prepare_append(audit_connection *c)
{
    return prepare_once(c->db, &c->node_insert,
                        "INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?)") != NULL &&
                   prepare_once(c->db, &c->entry_insert,
                                "INSERT INTO audit_entries (idx, recorded_at, kind, actor,"
                                " relying_party, jurisdiction, leaf_hash, entry, payload)"
                                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)") != NULL &&
                   prepare_once(c->db, &c->replay_insert, STORE_SQL_RECORD_ASSERTION) !=
                       NULL &&
                   prepare_once(c->db, &c->credential_state,
                                "SELECT state = 'revoked' FROM credentials"
                                " WHERE assertion_id = ?") != NULL
               ? 0
               : -1;
}

/* Reads, inside the transaction, whether the entry's credential is revoked now. A
 * revocation committed before this transaction is seen here, so no verification is
 * accepted after the revocation of its credential in commit order. */
static int check_credential(audit_connection *c, audit_store_entry *entry)
{
    int rc;

    entry->revoked = false;
    if (!entry->replay_credential)
        return 0;
    bind_text(c->credential_state, 1, entry->replay_id);
    rc = sqlite3_step(c->credential_state);
    if (rc == SQLITE_ROW)
        entry->revoked = sqlite3_column_int(c->credential_state, 0) != 0;
    sqlite3_reset(c->credential_state);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        log_sqlite(c->db, "reading the state of a credential");
        return -1;
    }
    return 0;
}

/* Records the entry's assertion ID; sets replayed when the table already held it. */
static int record_replay(audit_connection *c, audit_store_entry *entry)
{
    int rc;

    entry->replayed = false;
    if (entry->replay_id == NULL || entry->revoked)
        return 0;
    bind_text(c->replay_insert, 1, entry->replay_issuer != NULL ? entry->replay_issuer : "");
    bind_text(c->replay_insert, 2, entry->replay_id);
    sqlite3_bind_int64(c->replay_insert, 3, entry->replay_until);
    rc = sqlite3_step(c->replay_insert);
    sqlite3_reset(c->replay_insert);
    if (rc != SQLITE_DONE) {
        log_sqlite(c->db, "recording an assertion ID");
        return -1;
    }
    entry->replayed = sqlite3_changes(c->db) == 0;
    return 0;
}

/* Deletes expired replay rows now and then, inside the running transaction. */
static int purge_replay(audit_store *s, audit_connection *c, size_t recorded)
{
    uint64_t before = s->replay_rows;
    sqlite3_stmt *stmt;
    int rc;

    s->replay_rows += recorded;
    if (recorded == 0 || before / REPLAY_PURGE_EVERY == s->replay_rows / REPLAY_PURGE_EVERY)
        return 0;
    stmt = prepare(c->db, STORE_SQL_PURGE_REPLAY);
    if (stmt == NULL)
        return -1;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)audit_store_purge_time(s));
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        log_sqlite(c->db, "purging the replay cache");
        return -1;
    }
    return 0;
}

static int append_one(audit_connection *c, audit_store_entry *entry,
                      audit_merkle_frontier *frontier)
{
    node_writer writer = {c->db, c->node_insert};
    audit_merkle_sink sink = {store_node, &writer};
    audit_merkle_status status;

    entry->index = frontier->size;
    if (insert_entry(c->db, c->entry_insert, entry) != 0)
        return -1;
    status = audit_merkle_frontier_append(frontier, &entry->leaf_hash, &sink);
    if (status != AUDIT_MERKLE_OK) {
        log_message(LOG_ERROR, "audit_store_error", "appending leaf %llu failed: %s",
                    (unsigned long long)entry->index, audit_merkle_status_message(status));
        return -1;
    }
    return 0;
}

/* Writes the entry's own rows inside a savepoint that also covers its replay record, so
 * that a false precondition (write_rows returns 1) undoes both and sets conflict. */
static int write_rows(audit_connection *c, audit_store_entry *entry)
{
    int rc = entry->write_rows(c->db, entry->write_rows_ctx);

    if (rc < 0)
        return -1;
    if (rc > 0) {
        entry->conflict = true;
        return exec(c->db, "ROLLBACK TO entry_rows; RELEASE entry_rows");
    }
    return exec(c->db, "RELEASE entry_rows");
}

/* Runs the checks of a group's first entry. Returns 1 when the group is appended, 0
 * when a check turned it down, -1 on failure. */
static int check_first(audit_connection *c, audit_store_entry *entry)
{
    entry->conflict = false;
    if (entry->write_rows != NULL && exec(c->db, "SAVEPOINT entry_rows") != 0)
        return -1;
    if (check_credential(c, entry) != 0 || record_replay(c, entry) != 0)
        return -1;
    if (entry->replayed || entry->revoked) {
        /* record_replay wrote nothing, so the savepoint has nothing to undo. */
        if (entry->write_rows != NULL && exec(c->db, "RELEASE entry_rows") != 0)
            return -1;
        return 0;
    }
    if (entry->write_rows != NULL && write_rows(c, entry) != 0)
        return -1;
    return entry->conflict ? 0 : 1;
}

static size_t group_length(audit_store_entry *const *entries, size_t i, size_t count)
{
    size_t size = entries[i]->group_size > 0 ? entries[i]->group_size : 1;

    return size < count - i ? size : count - i;
}

static int append_all(audit_store *s, audit_connection *c, audit_store_entry *const *entries,
                      size_t count, audit_merkle_frontier *frontier)
{
    size_t recorded = 0;
    size_t length;

    if (prepare_append(c) != 0)
        return -1;
    for (size_t i = 0; i < count; i += length) {
        audit_store_entry *first = entries[i];
        int rc = check_first(c, first);

        length = group_length(entries, i, count);
        if (rc < 0)
            return -1;
        for (size_t j = 1; j < length; j++) {
            entries[i + j]->replayed = first->replayed;
            entries[i + j]->revoked = first->revoked;
            entries[i + j]->conflict = first->conflict;
        }
        if (rc == 0)
            continue;
        if (first->replay_id != NULL)
            recorded++;
        for (size_t j = 0; j < length; j++)
            if (append_one(c, entries[i + j], frontier) != 0)
                return -1;
        for (size_t j = 0; j < first->added_count; j++)
            if (append_one(c, first->added[j], frontier) != 0)
                return -1;
    }
    return purge_replay(s, c, recorded);
}

audit_status audit_store_append(audit_store *store, audit_store_entry *const *entries,
                                size_t count, audit_merkle_frontier *frontier)
{
    audit_connection *c = thread_connection(store);
    audit_merkle_frontier saved;
    uint64_t replay_rows = store->replay_rows;

    if (c == NULL)
        return AUDIT_ERR_STORE_FAILED;
    if (count == 0)
        return AUDIT_OK;
    saved = *frontier;

    if (exec(c->db, "BEGIN IMMEDIATE") != 0)
        return AUDIT_ERR_STORE_FAILED;
    if (append_all(store, c, entries, count, frontier) != 0 || exec(c->db, "COMMIT") != 0) {
        exec(c->db, "ROLLBACK");
        *frontier = saved;
        store->replay_rows = replay_rows;
        return AUDIT_ERR_STORE_FAILED;
    }
    return AUDIT_OK;
}

/* ---- Reading the tree ----------------------------------------------------------- */

audit_status audit_store_nodes_beyond(audit_store *store, uint64_t size, uint64_t *count)
{
    audit_connection *c = thread_connection(store);
    sqlite3_stmt *stmt;
    audit_status status = AUDIT_ERR_STORE_FAILED;

    if (c == NULL)
        return AUDIT_ERR_STORE_FAILED;
    /* A subtree covers leaves idx * 2^level to (idx + 1) * 2^level - 1; levels stay
     * below 63, so the shift cannot overflow a 64-bit integer. */
    stmt = prepare(c->db, "SELECT count(*) FROM audit_nodes WHERE level < 63 AND "
                          "(idx + 1) << level > ?1");
    if (stmt == NULL)
        return AUDIT_ERR_STORE_FAILED;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)size);
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        *count = (uint64_t)sqlite3_column_int64(stmt, 0);
        status = AUDIT_OK;
    } else {
        log_sqlite(c->db, "counting audit subtrees");
    }
    sqlite3_finalize(stmt);
    return status;
}

audit_status audit_store_read_begin(audit_store *store)
{
    audit_connection *c = thread_connection(store);

    return c != NULL && exec(c->db, "BEGIN") == 0 ? AUDIT_OK : AUDIT_ERR_STORE_FAILED;
}

void audit_store_read_end(audit_store *store)
{
    audit_connection *c = thread_connection(store);

    if (c != NULL && !sqlite3_get_autocommit(c->db))
        exec(c->db, "COMMIT");
}

audit_status audit_store_first_version_2(audit_store *store, uint64_t *index, bool *found)
{
    audit_connection *c = thread_connection(store);
    sqlite3_stmt *stmt;
    int rc;

    *found = false;
    if (c == NULL)
        return AUDIT_ERR_STORE_FAILED;
    /* The scan runs in index order and stops at the first match. The inner CASE runs
     * json_extract only on valid JSON, as PURGE_ENTRY does. */
    stmt = prepare(c->db, "SELECT idx FROM audit_entries WHERE CASE WHEN json_valid(entry)"
                          " THEN json_extract(entry, '$.version') = 2 END"
                          " ORDER BY idx LIMIT 1");
    if (stmt == NULL)
        return AUDIT_ERR_STORE_FAILED;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *index = (uint64_t)sqlite3_column_int64(stmt, 0);
        *found = true;
    } else if (rc != SQLITE_DONE) {
        log_sqlite(c->db, "finding the first audit entry of version 2");
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? AUDIT_OK : AUDIT_ERR_STORE_FAILED;
}

audit_status audit_store_size(audit_store *store, uint64_t *size)
{
    audit_connection *c = thread_connection(store);
    sqlite3_stmt *stmt;
    audit_status status = AUDIT_ERR_STORE_FAILED;

    if (c == NULL)
        return AUDIT_ERR_STORE_FAILED;
    stmt = prepare(c->db, "SELECT coalesce(max(idx) + 1, 0), count(*), coalesce(min(idx), 0)"
                          " FROM audit_entries");
    if (stmt == NULL)
        return AUDIT_ERR_STORE_FAILED;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        *size = (uint64_t)sqlite3_column_int64(stmt, 0);
        /* A gap in the indexes means a row was deleted: the tree cannot be trusted. The
         * count alone misses a row moved below index 0 in place of index 0, so the
         * smallest index must be 0 too. */
        if (sqlite3_column_int64(stmt, 2) < 0)
            log_message(LOG_ERROR, "audit_store_error",
                        "audit_entries has an index below 0, %lld: a row was moved or "
                        "inserted with SQL", (long long)sqlite3_column_int64(stmt, 2));
        else if (*size == (uint64_t)sqlite3_column_int64(stmt, 1))
            status = AUDIT_OK;
        else
            log_message(LOG_ERROR, "audit_store_error",
                        "audit_entries has gaps: %llu rows for %llu indexes",
                        (unsigned long long)sqlite3_column_int64(stmt, 1),
                        (unsigned long long)*size);
    } else {
        log_sqlite(c->db, "counting audit entries");
    }
    sqlite3_finalize(stmt);
    return status;
}

static int read_hash(sqlite3_stmt *stmt, audit_merkle_hash *out)
{
    int rc = -1;

    if (sqlite3_step(stmt) == SQLITE_ROW &&
        sqlite3_column_bytes(stmt, 0) == AUDIT_MERKLE_HASH_SIZE) {
        memcpy(out->bytes, sqlite3_column_blob(stmt, 0), AUDIT_MERKLE_HASH_SIZE);
        rc = 0;
    }
    sqlite3_reset(stmt);
    return rc;
}

static int lookup_subtree(void *ctx, unsigned level, uint64_t index, audit_merkle_hash *out)
{
    audit_connection *c = thread_connection(ctx);

    if (c == NULL)
        return -1;
    if (level == 0) {
        sqlite3_bind_int64(c->leaf_lookup, 1, (sqlite3_int64)index);
        return read_hash(c->leaf_lookup, out);
    }
    sqlite3_bind_int(c->node_lookup, 1, (int)level);
    sqlite3_bind_int64(c->node_lookup, 2, (sqlite3_int64)index);
    return read_hash(c->node_lookup, out);
}

audit_merkle_source audit_store_source(audit_store *store)
{
    audit_merkle_source source = {lookup_subtree, NULL, store};

    return source;
}

audit_status audit_store_each_node(audit_store *store,
                                   int (*each)(void *ctx, unsigned level, uint64_t index,
                                               const audit_merkle_hash *hash),
                                   void *ctx)
{
    audit_connection *c = thread_connection(store);
    sqlite3_stmt *stmt;
    audit_status status = AUDIT_OK;
    audit_merkle_hash hash;
    int rc;

    if (c == NULL ||
        (stmt = prepare(c->db, "SELECT level, idx, hash FROM audit_nodes ORDER BY level, idx")) == NULL)
        return AUDIT_ERR_STORE_FAILED;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        /* A hash of the wrong length is passed on zeroed, so a verifier reports it. */
        memset(&hash, 0, sizeof(hash));
        if (sqlite3_column_bytes(stmt, 2) == AUDIT_MERKLE_HASH_SIZE)
            memcpy(hash.bytes, sqlite3_column_blob(stmt, 2), AUDIT_MERKLE_HASH_SIZE);
        if (each(ctx, (unsigned)sqlite3_column_int(stmt, 0),
                 (uint64_t)sqlite3_column_int64(stmt, 1), &hash) != 0) {
            status = AUDIT_ERR_INVALID_ARGUMENT;
            break;
        }
    }
    if (status == AUDIT_OK && rc != SQLITE_DONE) {
        log_sqlite(c->db, "reading audit subtree hashes");
        status = AUDIT_ERR_STORE_FAILED;
    }
    sqlite3_finalize(stmt);
    return status;
}

/* ---- Reading entries ------------------------------------------------------------ */

void audit_filter_all(audit_filter *filter)
{
    memset(filter, 0, sizeof(*filter));
    filter->to = UINT64_MAX;
    filter->since = INT64_MIN;
    filter->until = INT64_MAX;
}

static void read_row(sqlite3_stmt *stmt, audit_row *row)
{
    memset(row, 0, sizeof(*row));
    row->index = (uint64_t)sqlite3_column_int64(stmt, 0);
    row->recorded_at = sqlite3_column_int64(stmt, 1);
    row->recorded_at_invalid = sqlite3_column_type(stmt, 1) != SQLITE_INTEGER;
    row->kind = (const char *)sqlite3_column_text(stmt, 2);
    row->actor = (const char *)sqlite3_column_text(stmt, 3);
    row->relying_party = (const char *)sqlite3_column_text(stmt, 4);
    row->jurisdiction = (const char *)sqlite3_column_text(stmt, 5);
    row->leaf_hash_invalid = sqlite3_column_type(stmt, 6) != SQLITE_BLOB ||
                             sqlite3_column_bytes(stmt, 6) != AUDIT_MERKLE_HASH_SIZE;
    if (!row->leaf_hash_invalid)
        memcpy(row->leaf_hash.bytes, sqlite3_column_blob(stmt, 6), AUDIT_MERKLE_HASH_SIZE);
    row->text = (const char *)sqlite3_column_text(stmt, 7);
    row->text_len = (size_t)sqlite3_column_bytes(stmt, 7);
    row->purged_at = sqlite3_column_int64(stmt, 8);
    row->payload = (const char *)sqlite3_column_text(stmt, 9);
    row->payload_len = (size_t)sqlite3_column_bytes(stmt, 9);
}

audit_status audit_store_each_entry(audit_store *store, const audit_filter *filter,
                                    int (*each)(void *ctx, const audit_row *row),
                                    void *ctx)
{
    static const char sql[] =
        "SELECT idx, recorded_at, kind, actor, relying_party, jurisdiction, leaf_hash,"
        " entry, purged_at, payload FROM audit_entries"
        " WHERE idx >= ?1 AND idx < ?2"
        " AND (?3 IS NULL OR recorded_at >= ?3) AND (?4 IS NULL OR recorded_at < ?4)"
        " AND (?5 IS NULL OR kind = ?5) AND (?6 IS NULL OR relying_party = ?6)"
        " ORDER BY idx LIMIT ?7";
    audit_connection *c = thread_connection(store);
    sqlite3_stmt *stmt;
    audit_status status = AUDIT_OK;
    audit_row row;
    int rc;

    if (c == NULL || (stmt = prepare(c->db, sql)) == NULL)
        return AUDIT_ERR_STORE_FAILED;
    sqlite3_bind_int64(stmt, 1, filter->from > INT64_MAX ? INT64_MAX : (int64_t)filter->from);
    sqlite3_bind_int64(stmt, 2, filter->to > INT64_MAX ? INT64_MAX : (int64_t)filter->to);
    /* No time bound reads every row, also one whose recorded_at column was edited into
     * a text, which SQLite orders after every integer, or set to INT64_MAX. */
    if (filter->since != INT64_MIN)
        sqlite3_bind_int64(stmt, 3, filter->since);
    if (filter->until != INT64_MAX)
        sqlite3_bind_int64(stmt, 4, filter->until);
    bind_text(stmt, 5, filter->kind);
    bind_text(stmt, 6, filter->relying_party);
    sqlite3_bind_int64(stmt, 7, filter->limit == 0 ? -1 : (sqlite3_int64)filter->limit);

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        read_row(stmt, &row);
        if (each(ctx, &row) != 0) {
            status = AUDIT_ERR_INVALID_ARGUMENT;
            break;
        }
    }
    if (status == AUDIT_OK && rc != SQLITE_DONE) {
        log_sqlite(c->db, "reading audit entries");
        status = AUDIT_ERR_STORE_FAILED;
    }
    sqlite3_finalize(stmt);
    return status;
}

/* ---- Checkpoints ---------------------------------------------------------------- */

audit_status audit_store_add_checkpoint(audit_store *store, audit_checkpoint *checkpoint)
{
    audit_connection *c = thread_connection(store);
    sqlite3_stmt *stmt;
    int rc;

    if (c == NULL)
        return AUDIT_ERR_STORE_FAILED;
    stmt = prepare(c->db, "INSERT INTO audit_checkpoints (tree_size, root, signed_at, node_id,"
                          " key_id, algorithm, body, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (stmt == NULL)
        return AUDIT_ERR_STORE_FAILED;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)checkpoint->head.size);
    sqlite3_bind_blob(stmt, 2, checkpoint->head.root.bytes, AUDIT_MERKLE_HASH_SIZE,
                      SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, checkpoint->signed_at);
    bind_text(stmt, 4, checkpoint->node_id);
    bind_text(stmt, 5, checkpoint->key_id);
    bind_text(stmt, 6, checkpoint->algorithm);
    bind_text(stmt, 7, checkpoint->body);
    sqlite3_bind_blob(stmt, 8, checkpoint->signature, (int)checkpoint->signature_len,
                      SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE)
        log_sqlite(c->db, "storing an audit checkpoint");
    else
        checkpoint->id = (uint64_t)sqlite3_last_insert_rowid(c->db);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? AUDIT_OK : AUDIT_ERR_STORE_FAILED;
}

static char *column_copy(sqlite3_stmt *stmt, int index)
{
    const unsigned char *text = sqlite3_column_text(stmt, index);

    return text != NULL ? strdup((const char *)text) : NULL;
}

/* Reads a checkpoint row. The stored root and size are not trusted: they are read from
 * the signed body, which verification checks. */
static int read_checkpoint(sqlite3_stmt *stmt, audit_checkpoint *out)
{
    int signature_len = sqlite3_column_bytes(stmt, 3);

    memset(out, 0, sizeof(*out));
    out->id = (uint64_t)sqlite3_column_int64(stmt, 0);
    out->algorithm = column_copy(stmt, 1);
    out->body = column_copy(stmt, 2);
    if (signature_len < 0 || signature_len > AUDIT_SIGNATURE_MAX || out->body == NULL ||
        out->algorithm == NULL)
        return -1;
    memcpy(out->signature, sqlite3_column_blob(stmt, 3), (size_t)signature_len);
    out->signature_len = (size_t)signature_len;
    return audit_checkpoint_parse(out->body, out);
}

#define CHECKPOINT_SELECT "SELECT id, algorithm, body, signature FROM audit_checkpoints "

/*
 * Checks the columns that chose the latest checkpoint, which its signature does not
 * cover: its tree_size must be the size that its body signs, and it must be the newest
 * row, because the node never signs a smaller tree after a larger one. Otherwise someone
 * lowered the tree_size of the real latest checkpoint, which would let the start compare
 * the log with an older one. Returns 0, or -1 after a log line.
 */
static int check_latest_columns(sqlite3_stmt *stmt, const audit_checkpoint *latest)
{
    int64_t tree_size = sqlite3_column_int64(stmt, 4);
    int64_t newest_id = sqlite3_column_int64(stmt, 5);

    if (sqlite3_column_type(stmt, 4) == SQLITE_INTEGER && tree_size >= 0 &&
        (uint64_t)tree_size == latest->head.size && newest_id == (int64_t)latest->id)
        return 0;
    log_message(LOG_ERROR, "audit_store_error",
                "audit checkpoint %llu has the largest tree_size column, %lld, but its body "
                "signs %llu entries, or checkpoint %lld is newer: a tree_size or id column of "
                "audit_checkpoints was edited. Run 'idsvc-admin audit verify' on an export",
                (unsigned long long)latest->id, (long long)tree_size,
                (unsigned long long)latest->head.size, (long long)newest_id);
    return -1;
}

audit_status audit_store_latest_checkpoint(audit_store *store, audit_checkpoint *out)
{
    audit_connection *c = thread_connection(store);
    sqlite3_stmt *stmt;
    audit_status status = AUDIT_ERR_NOT_FOUND;
    int rc;

    memset(out, 0, sizeof(*out));
    if (c == NULL ||
        (stmt = prepare(c->db, "SELECT id, algorithm, body, signature, tree_size,"
                               " (SELECT max(id) FROM audit_checkpoints)"
                               " FROM audit_checkpoints"
                               " ORDER BY tree_size DESC, id DESC LIMIT 1")) == NULL)
        return AUDIT_ERR_STORE_FAILED;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && read_checkpoint(stmt, out) != 0) {
        log_message(LOG_ERROR, "audit_store_error", "audit checkpoint %lld: its body, "
                    "algorithm or signature is malformed",
                    (long long)sqlite3_column_int64(stmt, 0));
        status = AUDIT_ERR_STORE_FAILED;
    } else if (rc == SQLITE_ROW) {
        status = check_latest_columns(stmt, out) == 0 ? AUDIT_OK : AUDIT_ERR_STORE_FAILED;
    } else if (rc != SQLITE_DONE) {
        log_sqlite(c->db, "reading the latest audit checkpoint");
        status = AUDIT_ERR_STORE_FAILED;
    }
    sqlite3_finalize(stmt);
    if (status != AUDIT_OK)
        audit_checkpoint_clear(out);
    return status;
}

audit_status audit_store_has_checkpoint(audit_store *store, const char *body, bool *found)
{
    audit_connection *c = thread_connection(store);
    sqlite3_stmt *stmt;
    int rc;

    *found = false;
    if (c == NULL ||
        (stmt = prepare(c->db, "SELECT 1 FROM audit_checkpoints WHERE body = ? LIMIT 1")) ==
            NULL)
        return AUDIT_ERR_STORE_FAILED;
    sqlite3_bind_text(stmt, 1, body, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    *found = rc == SQLITE_ROW;
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? AUDIT_OK : AUDIT_ERR_STORE_FAILED;
}

audit_status audit_store_each_checkpoint(audit_store *store,
                                         int (*each)(void *ctx,
                                                     const audit_checkpoint *checkpoint),
                                         void *ctx)
{
    audit_connection *c = thread_connection(store);
    sqlite3_stmt *stmt;
    audit_status status = AUDIT_OK;
    audit_checkpoint checkpoint;
    int rc;

    if (c == NULL || (stmt = prepare(c->db, CHECKPOINT_SELECT "ORDER BY id")) == NULL)
        return AUDIT_ERR_STORE_FAILED;
    while (status == AUDIT_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        /* An unreadable body is passed on, so that a verifier reports it at its id. */
        read_checkpoint(stmt, &checkpoint);
        if (each(ctx, &checkpoint) != 0)
            status = AUDIT_ERR_INVALID_ARGUMENT;
        audit_checkpoint_clear(&checkpoint);
    }
    if (status == AUDIT_OK && rc != SQLITE_DONE) {
        log_sqlite(c->db, "reading audit checkpoints");
        status = AUDIT_ERR_STORE_FAILED;
    }
    sqlite3_finalize(stmt);
    return status;
}

/* ---- Retention and the pseudonym secret ----------------------------------------- */

/* Keeps the text of a version 2 entry, which contains no payload, and removes the text
 * of a version 1 entry. The version is read from the hashed text, not from a column. The
 * inner CASE runs json_extract only on valid JSON, so a malformed text cannot fail the
 * whole purge. */
#define PURGE_ENTRY                                                                       \
    "entry = CASE WHEN json_valid(entry) THEN"                                             \
    " CASE json_extract(entry, '$.version') WHEN 2 THEN entry END END"

int audit_store_purge_rows(sqlite3 *db, const char *jurisdiction, const char *const *except,
                           size_t except_count, int64_t before, int64_t now, uint64_t *count)
{
    /* Sized for every excepted jurisdiction, "?N, " of at most 8 bytes each: a cut list
     * would purge their entries under the default period. */
    size_t size = 512 + 8 * except_count;
    char *sql = malloc(size);
    sqlite3_stmt *stmt;
    size_t len;
    int rc;

    *count = 0;
    if (sql == NULL)
        return -1;
    len = (size_t)snprintf(sql, size, "UPDATE audit_entries SET " PURGE_ENTRY
                           ", payload = NULL, purged_at = ?1 WHERE purged_at IS NULL"
                           " AND entry IS NOT NULL AND recorded_at < ?2"
                           " AND kind IS NOT '" AUDIT_PURGE_KIND "'%s",
                           jurisdiction != NULL ? " AND jurisdiction = ?3" : "");
    if (jurisdiction == NULL && except_count > 0) {
        len += (size_t)snprintf(sql + len, size - len, " AND jurisdiction NOT IN (");
        for (size_t i = 0; i < except_count; i++)
            len += (size_t)snprintf(sql + len, size - len, "%s?%zu", i > 0 ? ", " : "",
                                    i + 4);
        snprintf(sql + len, size - len, ")");
    }
    stmt = prepare(db, sql);
    free(sql);
    if (stmt == NULL)
        return -1;
    sqlite3_bind_int64(stmt, 1, now);
    sqlite3_bind_int64(stmt, 2, before);
    bind_text(stmt, 3, jurisdiction);
    for (size_t i = 0; jurisdiction == NULL && i < except_count; i++)
        bind_text(stmt, (int)i + 4, except[i]);

    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE)
        *count = (uint64_t)sqlite3_changes(db);
    else
        log_sqlite(db, "purging audit payloads");
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int read_secret(sqlite3 *db, unsigned char out[32])
{
    sqlite3_stmt *stmt = prepare(db, "SELECT secret FROM audit_secret WHERE id = 1");
    int rc = -1;

    if (stmt == NULL)
        return -1;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == 32) {
        memcpy(out, sqlite3_column_blob(stmt, 0), 32);
        rc = 0;
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* Sets *found when the query returns a row. A query on a table that this database does
 * not have finds nothing. */
static int query_finds_row(sqlite3 *db, const char *sql, bool *found)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    *found = false;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return strncmp(sqlite3_errmsg(db), "no such table", 13) == 0 ? 0 : -1;
    rc = sqlite3_step(stmt);
    *found = rc == SQLITE_ROW;
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

audit_status audit_store_is_new(audit_store *store, bool *is_new)
{
    audit_connection *c = thread_connection(store);
    bool secret = false;
    bool credentials = false;

    if (c == NULL ||
        query_finds_row(c->db, "SELECT 1 FROM audit_secret LIMIT 1", &secret) != 0 ||
        query_finds_row(c->db, "SELECT 1 FROM credentials LIMIT 1", &credentials) != 0) {
        if (c != NULL)
            log_sqlite(c->db, "checking whether the database is new");
        return AUDIT_ERR_STORE_FAILED;
    }
    *is_new = !secret && !credentials;
    return AUDIT_OK;
}

audit_status audit_store_secret(audit_store *store, unsigned char out[32])
{
    audit_connection *c = thread_connection(store);
    unsigned char fresh[32];
    sqlite3_stmt *stmt;
    int rc;

    if (c == NULL)
        return AUDIT_ERR_STORE_FAILED;
    if (read_secret(c->db, out) == 0)
        return AUDIT_OK;
    if (RAND_bytes(fresh, sizeof(fresh)) != 1 ||
        (stmt = prepare(c->db, "INSERT OR IGNORE INTO audit_secret (id, secret)"
                               " VALUES (1, ?)")) == NULL)
        return AUDIT_ERR_STORE_FAILED;
    sqlite3_bind_blob(stmt, 1, fresh, sizeof(fresh), SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    OPENSSL_cleanse(fresh, sizeof(fresh));
    if (rc != SQLITE_DONE) {
        log_sqlite(c->db, "storing the audit pseudonym secret");
        return AUDIT_ERR_STORE_FAILED;
    }

    /* Read back, so that two processes racing here end up with the same secret. */
    return read_secret(c->db, out) == 0 ? AUDIT_OK : AUDIT_ERR_STORE_FAILED;
}
