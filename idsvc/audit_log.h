/*
 * The audit log: every event the node must be able to prove becomes one entry, a leaf of
 * the RFC 9162 Merkle tree in audit_merkle.h. Entries, leaf hashes and the hashes of
 * complete subtrees live in the node's SQLite database (audit_store.h), and the node
 * signs checkpoints of the tree in the HSM (audit_checkpoint.h).
 *
 * audit_record() returns only after the entry is durable. The first caller that finds no
 * commit running commits the queue in its own thread. Callers that arrive meanwhile
 * queue their entries and wait, and the next of them commits them all in one transaction
 * (group commit). So concurrent requests share one fsync, and a lone request pays no
 * hand-off to another thread. audit_record_async() queues an entry without waiting, for
 * a caller that has other work to do meanwhile, and a committer thread commits those.
 * docs/audit-log.md lists the event kinds and their payload fields.
 */
#ifndef IDSVC_AUDIT_LOG_H
#define IDSVC_AUDIT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "audit_checkpoint.h"
#include "audit_merkle.h"

/* The format version that new entries carry in their "version" member. Entries of
 * version 1 have no such member and contain their payload inside the hashed text.
 * Entries of version 2 contain only its SHA-256, in "payload_sha256". */
#define AUDIT_ENTRY_VERSION 2

/* The kind of the entry that each purge appends in its own transaction. Its payload
 * names the purge time and the retention rules, and is never purged itself, so that
 * 'audit verify' can tie every purged entry to a purge the log records. */
#define AUDIT_PURGE_KIND "audit_payloads_purged"

/* The outcome of an audit operation; audit_status_code() gives its stable name. */
typedef enum audit_status {
    AUDIT_OK = 0,
    AUDIT_ERR_INVALID_ARGUMENT, /* an unknown event kind, a NULL pointer, a bad range */
    AUDIT_ERR_NOT_FOUND,        /* no such entry or checkpoint */
    AUDIT_ERR_STORE_FAILED,     /* SQLite failed; the log line names the statement */
    AUDIT_ERR_SIGN_FAILED,      /* the HSM did not sign a checkpoint */
    AUDIT_ERR_MERKLE_FAILED,    /* the Merkle tree code failed */
    AUDIT_ERR_CLOSED,           /* the log is shutting down */
    AUDIT_ERR_NO_MEMORY,
    AUDIT_ERR_REPLAYED,         /* the event's replay_id was recorded before */
    AUDIT_ERR_REVOKED,          /* the event's credential was revoked before the commit */
    AUDIT_ERR_CONFLICT,         /* the event's write_rows found its precondition false */
} audit_status;

const char *audit_status_code(audit_status status);

/* A retention rule: payloads of entries of this jurisdiction are purged after days. */
typedef struct audit_retention {
    const char *jurisdiction; /* NULL for the default rule */
    unsigned days;            /* 0 keeps payloads forever */
} audit_retention;

typedef struct audit_log_options {
    const char *database_path;     /* the node's SQLite file, already migrated */
    const char *node_id;           /* the node's entity ID, written into every entry */
    const char *jurisdiction;      /* the node's own jurisdiction */
    const audit_signer *signer;    /* NULL disables checkpoints */
    unsigned checkpoint_interval;  /* seconds; 0 signs only on demand */
    const audit_retention *retention;
    size_t retention_count;
    /* With check_clock, the open compares the wall clock with the newest time the log
     * recorded: its last entry's time and its latest checkpoint's time. When the clock
     * is behind that time by more than clock_tolerance seconds, the open fails with
     * clock_behind_log, unless accept_clock_behind is set, which records a
     * clock_behind_accepted entry instead. The checkpoint thread then logs each later
     * step of the clock behind the newest time written (audit_log_clock.c). */
    bool check_clock;
    unsigned clock_tolerance;
    bool accept_clock_behind;
} audit_log_options;

typedef struct audit_log audit_log;

/*
 * Opens the log, loads the tree's frontier and starts the writer thread, and the
 * checkpoint thread when a signer and an interval are set. Returns NULL with a sentence
 * in error on failure. Options are copied.
 */
audit_log *audit_log_open(const audit_log_options *options, char *error, size_t error_size);

/* Commits what is queued, stops the threads, signs a checkpoint when the tree grew
 * since the latest one and a signer is set, and frees the log. */
void audit_log_close(audit_log **log);

/* One event, as audit_record receives it. Strings are borrowed for the call. */
struct sqlite3;
typedef int (*audit_rows_fn)(struct sqlite3 *db, void *ctx);

typedef struct audit_event {
    const char *kind;          /* one of the kinds audit_event_kind_known() accepts */
    const char *actor;         /* the caller's configured identity, or NULL */
    const char *relying_party; /* the relying party concerned, or NULL */
    const char *jurisdiction;  /* whose retention applies; NULL means the node's own */
    const char *request_id;    /* the HTTP request, or NULL */
    time_t time;               /* the entry's time; 0 for the time of the call */
    const json_t *payload;     /* an object without personal data; NULL for {} */
    /* A SAML assertion ID of replay_issuer to record in the replay cache in the entry's
     * transaction, or NULL. When the ID was recorded before, the entry is not appended and
     * audit_record returns AUDIT_ERR_REPLAYED. replay_until is when the row may go. */
    const char *replay_issuer;
    const char *replay_id;
    time_t replay_until;
    /* replay_id is the assertion of a credential of this node: the entry is not
     * appended, and audit_record returns AUDIT_ERR_REVOKED, when the credential is
     * revoked at the commit. */
    bool replay_credential;
    /* Rows that belong with the entry, written in its transaction once the replay
     * check passed, or NULL; audit_record and audit_record_group take them. write_rows
     * gets the log's SQLite connection and returns 0 when it wrote the rows. It returns
     * 1 when a precondition of the rows is false. That undoes the rows and the replay
     * record, and the entry and its group fail with AUDIT_ERR_CONFLICT. It returns -1
     * after logging a failure, and the whole transaction fails with
     * AUDIT_ERR_STORE_FAILED. */
    audit_rows_fn write_rows;
    void *write_rows_ctx;
    /* Entries that write_rows chooses from rows it read in the transaction, or NULL.
     * When write_rows returns 0, the log appends the *added_count events at
     * *added_events after this entry and the rest of its group, in the same
     * transaction. The log formats them before write_rows' transaction goes on, so they
     * need to stay valid only until then. They may not carry replay_id,
     * replay_credential, write_rows or added_events. Requires write_rows; the first
     * event of audit_record_group and audit_record take it, audit_record_async does
     * not. */
    const struct audit_event *const *added_events;
    const size_t *added_count;
} audit_event;

/* Returns true for the event kinds that docs/audit-log.md defines. */
bool audit_event_kind_known(const char *kind);

/*
 * Appends one entry and waits until its transaction is committed with synchronous=FULL.
 * index, when not NULL, receives the entry's leaf index.
 */
audit_status audit_record(audit_log *log, const audit_event *event, uint64_t *index);

/*
 * Appends count entries that belong together in one transaction: all of them or none.
 * Only the first event may carry replay_id, replay_credential or write_rows, and when its
 * checks or rows turn it down, no entry of the group is appended. A group has no fixed
 * maximum, because a revocation records one entry per key it removes. Returns the
 * group's status; AUDIT_ERR_INVALID_ARGUMENT when count is 0.
 */
audit_status audit_record_group(audit_log *log, const audit_event *events, size_t count);

/* Called once the transaction of an entry of audit_record_async is decided, with
 * AUDIT_OK, AUDIT_ERR_REPLAYED or the failure. It runs on the thread that committed,
 * which another commit waits for, so it must be short and must not record entries. */
typedef void (*audit_done_fn)(void *ctx, audit_status status);

/*
 * Queues one entry and returns at once. The log's committer thread, or a caller of
 * audit_record that commits first, commits it in the next batch and then calls on_done.
 * The event is copied, but write_rows_ctx is not: it must stay valid until on_done
 * runs. The event must not carry added_events. Returns AUDIT_OK when queued, and on any
 * other status on_done is not called. audit_log_close commits what is queued
 * before it returns.
 */
audit_status audit_record_async(audit_log *log, const audit_event *event, audit_done_fn on_done,
                                void *ctx);

/*
 * Writes the pseudonym of a subject: the hex HMAC-SHA256, under a random secret kept in
 * the database, of the issuer's entity ID, a zero byte and the subject's NameID. The
 * same subject gets the same pseudonym on this node, and nobody without the secret can
 * link it to the NameID.
 */
audit_status audit_subject_pseudonym(const audit_log *log, const char *issuer,
                                     const char *name_id, char out[65]);

/* The tree head of everything committed so far. */
audit_merkle_tree_head audit_log_head(audit_log *log);

/*
 * Signs a checkpoint of the committed tree when it grew since the latest checkpoint,
 * and stores it. out, when not NULL, receives the latest checkpoint either way; the
 * caller frees it with audit_checkpoint_clear.
 */
audit_status audit_log_checkpoint(audit_log *log, audit_checkpoint *out);

/*
 * Purges the payloads that the retention rules expire at now, and appends an entry of
 * kind AUDIT_PURGE_KIND in the same transaction, with now as purged_at and the rules.
 * When nothing has expired, it appends nothing. count, when not NULL, receives the
 * number of payloads purged.
 */
audit_status audit_log_purge(audit_log *log, time_t now, uint64_t *count);

/*
 * Reads the entries that no checkpoint covered when the log opened: *count of them from
 * index *from. A clean stop signs a checkpoint, so these were written before a crash,
 * or added to the database while the node was stopped.
 */
void audit_log_unsigned_at_open(const audit_log *log, uint64_t *from, uint64_t *count);

/* The number of commits and of entries committed, for the benchmark and metrics. */
void audit_log_stats(audit_log *log, uint64_t *commits, uint64_t *entries);

/* The open store behind the log, for reading entries and proofs (audit_store.h). */
struct audit_store *audit_log_store(audit_log *log);

#endif
