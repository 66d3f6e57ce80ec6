/*
 * The audit log's state, shared by audit_log.c (group commit, checkpoints, opening and
 * closing) and audit_log_anchor.c (the anchor in the HSM). Nothing outside the log
 * includes this.
 */
#ifndef IDSVC_AUDIT_LOG_INTERNAL_H
#define IDSVC_AUDIT_LOG_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "audit_anchor.h"
#include "audit_log.h"
#include "audit_store.h"

/* The wall clock compared with the newest time that the log recorded. */
typedef struct audit_clock_reading {
    time_t wall_clock;
    time_t recorded_time;      /* 0 when the log records no time */
    bool recorded_by_entry;    /* else by a checkpoint */
    bool recorded_by_anchor;   /* by the checkpoint or reset in the HSM anchor */
    uint64_t recorded_number;  /* the entry's index, the checkpoint's row id, or the
                                * tree size of the anchor's checkpoint */
    long long behind_seconds;  /* recorded_time - wall_clock; negative when ahead */
} audit_clock_reading;

/* An entry waiting for its commit. A caller of audit_record keeps it on its stack and
 * waits for done. An entry of audit_record_async is on the heap, so the committing
 * thread calls on_done and frees it. */
typedef struct pending {
    struct pending *next;
    audit_store_entry entry;
    audit_status status;
    bool done;
    audit_done_fn on_done; /* NULL for audit_record */
    void *on_done_ctx;
    /* For an event with added_events, whose entry.write_rows is write_rows_and_added:
     * the log, the event's own write_rows, and the entries that it added. */
    const struct audit_log *log;
    audit_rows_fn event_write_rows;
    void *event_write_rows_ctx;
    const audit_event *const *added_events;
    const size_t *added_count;
    struct pending *added;
    audit_store_entry **added_entries;
    size_t added_filled;
} pending;

struct audit_log {
    audit_store *store;
    char *node_id;
    char *jurisdiction;
    audit_signer signer;
    bool has_signer;
    bool opened; /* audit_log_open succeeded: only then does the close sign */
    bool new_database; /* no node had used the database before this open */
    unsigned checkpoint_interval;
    audit_retention *retention;
    size_t retention_count;
    unsigned char secret[32];
    char log_id[65]; /* audit_anchor_log_id of the secret */
    uint64_t anchor_generation; /* of the anchor or marker in the HSM; 0 without one */
    /* The first entry of version 2, or the size at open when there was none, which
     * every checkpoint signs (audit_checkpoint.h). */
    uint64_t version_2_from;
    /* The entries past the latest checkpoint at open: written before a crash, or added
     * to the file while the node was stopped, because a clean stop signs them. */
    uint64_t unsigned_from;
    uint64_t unsigned_count;
    /* The latest checkpoint at open: its signed time (0 without one) and its row id. */
    time_t checkpoint_time_at_open;
    uint64_t checkpoint_id_at_open;

    /* The clock check (audit_log_clock.c). */
    bool check_clock;
    unsigned clock_tolerance;
    bool accept_clock_behind;
    audit_clock_reading clock_accepted; /* behind, and accepted: recorded once threads run */
    time_t newest_time;   /* under lock: the newest entry or checkpoint time seen */
    time_t clock_reported; /* under lock: the newest_time of the last report of a step */

    pthread_mutex_t lock;
    pthread_cond_t committed; /* broadcast after each batch */
    pthread_cond_t queued;    /* wakes the committer thread for entries of audit_record_async */
    pending *queue_head;
    pending *queue_tail;
    size_t async_queued;            /* entries of audit_record_async in the queue */
    size_t waiting;                 /* callers inside enqueue_and_wait */
    bool closing;
    bool committing;                /* a thread is committing a batch */
    audit_merkle_frontier frontier; /* owned by the committing thread */
    pending **batch;                /* the committing thread's batch array */
    size_t batch_capacity;
    audit_merkle_tree_head head;    /* the committed tree, under lock */
    uint64_t commits;
    uint64_t entries;

    pthread_t committer;
    bool committer_started;
    pthread_t checkpointer;
    bool checkpointer_started;
    pthread_cond_t checkpoint_wake;
    pthread_mutex_t checkpoint_lock; /* orders checkpoints, so their sizes rise */
};

/* What the start does about the anchor once the log's threads run. */
typedef enum anchor_step {
    ANCHOR_STEP_NONE,
    ANCHOR_STEP_CREATE, /* an empty log without anchor: sign its first checkpoint now */
    ANCHOR_STEP_RESET,  /* a reset marker: record audit_anchor_reset, then sign */
    ANCHOR_STEP_UPDATE, /* the anchor lags the latest checkpoint: write it from that */
} anchor_step;

/* Compares the wall clock with the newest time that the opened log recorded, before
 * anything is appended. Returns 0, or -1 with a sentence in error when the clock is
 * behind and accept_clock_behind is not set. */
int audit_log_check_clock(audit_log *log, const audit_anchor *anchor, char *error,
                          size_t error_size);

/* Records the clock_behind_accepted entry that audit_log_check_clock decided on, once
 * the log's threads run, and signs a checkpoint at once. 0 or -1. */
int audit_log_finish_clock(audit_log *log, char *error, size_t error_size);

/* Notes a time that the log wrote, for the check of the running clock. Called with the
 * lock held. */
void audit_log_note_time(audit_log *log, time_t written);

/* Logs clock_behind_log when the wall clock went behind the newest time written since
 * the open, once for each such newest time. The node keeps serving. */
void audit_log_watch_clock(audit_log *log);

/* Replaces the anchor in the HSM with a stored checkpoint; logs a failure. 0 or -1. */
int audit_log_write_anchor(audit_log *log, const audit_checkpoint *checkpoint);

/* Compares the opened log with the anchor in the HSM and sets the step the start takes
 * next. Returns 0, or -1 with a sentence in error. */
int audit_log_check_anchor(audit_log *log, audit_anchor *anchor, anchor_step *step,
                           char *error, size_t error_size);

/* Runs the step of audit_log_check_anchor once the log's threads run. 0 or -1. */
int audit_log_finish_anchor(audit_log *log, const audit_anchor *anchor, anchor_step step,
                            char *error, size_t error_size);

#endif
