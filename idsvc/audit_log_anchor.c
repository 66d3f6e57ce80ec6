/*
 * The anchor of the audit log in the HSM: written after each checkpoint, compared with
 * the log at every start, and replaced after an operator's reset (docs/audit-log.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit_log_internal.h"
#include "log.h"

/*
 * Replaces the anchor in the HSM with a stored checkpoint. A failure is logged and
 * otherwise ignored: the checkpoint is in the database already, the older anchor still
 * holds for the shorter tree, and the next checkpoint writes the anchor again. Returns
 * 0 or -1.
 */
int audit_log_write_anchor(audit_log *log, const audit_checkpoint *checkpoint)
{
    char error[384];
    char *text;
    int rc = -1;

    if (log->signer.anchor_write == NULL)
        return 0;
    text = audit_anchor_format(log->log_id, log->anchor_generation + 1, checkpoint->body);
    if (text == NULL)
        snprintf(error, sizeof(error), "out of memory");
    else
        rc = log->signer.anchor_write(log->signer.anchor_ctx, text, error, sizeof(error));
    /* Counted even after a failure, which may have left the new object: a gap in the
     * generations is harmless, a reused one could tie two anchors. */
    log->anchor_generation++;
    if (rc != 0)
        log_message(LOG_ERROR, "audit_anchor_write_failed",
                    "the audit anchor of checkpoint %llu (tree size %llu) was not written "
                    "to the HSM: %s. The checkpoint is stored; the next checkpoint writes "
                    "the anchor again",
                    (unsigned long long)checkpoint->id,
                    (unsigned long long)checkpoint->head.size, error);
    free(text);
    return rc;
}


/* Reads and parses the anchor; *found is false when the HSM has none. */
static int read_anchor(audit_log *log, audit_anchor *anchor, bool *found, char *error,
                       size_t error_size)
{
    char reason[384];
    char *text = NULL;
    int rc = 0;

    *found = false;
    if (log->signer.anchor_read(log->signer.anchor_ctx, &text, reason, sizeof(reason)) != 0) {
        snprintf(error, error_size, "cannot read the audit anchor from the HSM: %s", reason);
        return -1;
    }
    if (text == NULL)
        return 0;
    if (audit_anchor_parse(text, anchor) != 0) {
        snprintf(error, error_size,
                 "the audit anchor in the HSM is not in the " AUDIT_ANCHOR_HEADER " format; "
                 "see it with 'idsvc-admin audit anchor show', and replace it with "
                 "'idsvc-admin audit anchor reset --config FILE'");
        rc = -1;
    } else {
        *found = true;
    }
    free(text);
    return rc;
}

/*
 * Compares the log with the anchor in the HSM, after the checks against the stored
 * checkpoints. Unlike those, the anchor survives the deletion of every checkpoint and
 * the replacement of the whole database, because changing it needs the token's PIN.
 */
/*
 * Checks that the database still contains the checkpoint that the anchor keeps. The node
 * writes the anchor only after that checkpoint committed, so an honest database has it;
 * one without it had its checkpoints deleted. Sets *step to ANCHOR_STEP_UPDATE when a
 * later checkpoint committed but the node stopped before it wrote its anchor.
 */
static int check_anchored_checkpoint(audit_log *log, const audit_anchor *anchor,
                                     anchor_step *step, char *error, size_t error_size)
{
    audit_checkpoint latest = {0};
    audit_status latest_status;
    bool found = false;

    if (audit_store_has_checkpoint(log->store, anchor->checkpoint.body, &found) != AUDIT_OK)
        latest_status = AUDIT_ERR_STORE_FAILED;
    else
        latest_status = audit_store_latest_checkpoint(log->store, &latest);
    if (latest_status != AUDIT_OK && latest_status != AUDIT_ERR_NOT_FOUND) {
        snprintf(error, error_size, "cannot read the audit checkpoints to compare them with "
                 "the audit anchor in the HSM");
        audit_checkpoint_clear(&latest);
        return -1;
    }
    if (!found) {
        snprintf(error, error_size,
                 "the audit anchor in the HSM keeps a checkpoint of %llu entries that the "
                 "database no longer has; its checkpoints were deleted. Restore the latest "
                 "database, or keep it with 'idsvc-admin audit anchor reset --config FILE'",
                 (unsigned long long)anchor->checkpoint.head.size);
        audit_checkpoint_clear(&latest);
        return -1;
    }
    if (latest.head.size > anchor->checkpoint.head.size)
        *step = ANCHOR_STEP_UPDATE;
    audit_checkpoint_clear(&latest);
    return 0;
}

/*
 * Accepts a missing anchor only for an empty log in a new database, whose first
 * checkpoint writes it. The anchor's object is a file in a SoftHSM2 token, so deleting
 * it needs no PIN, and a changed [server] entity_id looks it up under another name. Any
 * other log without an anchor therefore needs the operator's reset, which the log
 * records.
 */
static int check_first_anchor(audit_log *log, anchor_step *step, char *error,
                              size_t error_size)
{
    if (log->head.size == 0 && log->new_database) {
        *step = ANCHOR_STEP_CREATE;
        return 0;
    }
    if (log->head.size == 0) {
        snprintf(error, error_size,
                 "the HSM has no audit anchor for node %s, and the audit log is empty, but "
                 "the database was used before (it has a pseudonym secret or credentials): "
                 "its log and the anchor were deleted. Restore the token's anchor and the "
                 "database, or run 'idsvc-admin audit anchor reset --config FILE' to keep "
                 "it; the node then records the reset in the log",
                 log->node_id);
        return -1;
    }
    snprintf(error, error_size,
             "the HSM has no audit anchor for node %s, but the audit log has %llu entries: "
             "the anchor was deleted, or [server] entity_id changed. Restore the token's "
             "anchor, or run 'idsvc-admin audit anchor reset --config FILE' to anchor this "
             "database; the node then records the reset in the log",
             log->node_id, (unsigned long long)log->head.size);
    return -1;
}

int audit_log_check_anchor(audit_log *log, audit_anchor *anchor, anchor_step *step,
                           char *error, size_t error_size)
{
    audit_merkle_source source = audit_store_source(log->store);
    bool found = false;

    *step = ANCHOR_STEP_NONE;
    if (log->signer.anchor_read == NULL)
        return 0;
    if (read_anchor(log, anchor, &found, error, error_size) != 0)
        return -1;
    if (!found)
        return check_first_anchor(log, step, error, error_size);
    log->anchor_generation = anchor->generation;
    if (anchor->reset) {
        *step = ANCHOR_STEP_RESET;
        return 0;
    }
    if (audit_anchor_compare(anchor, log->log_id, &source, &log->head, error, error_size) != 0)
        return -1;
    return check_anchored_checkpoint(log, anchor, step, error, error_size);
}

/* Writes the anchor from the latest checkpoint, whose anchor the node did not write
 * before it stopped. */
static void update_anchor(audit_log *log)
{
    audit_checkpoint latest = {0};
    audit_status status;

    pthread_mutex_lock(&log->checkpoint_lock);
    status = audit_store_latest_checkpoint(log->store, &latest);
    if (status == AUDIT_OK && audit_log_write_anchor(log, &latest) == 0)
        log_message(LOG_INFO, "audit_anchor_updated",
                    "the audit anchor in the HSM lagged the latest checkpoint, whose anchor "
                    "the node did not write before it stopped; it now keeps checkpoint %llu "
                    "(tree size %llu)",
                    (unsigned long long)latest.id, (unsigned long long)latest.head.size);
    else if (status != AUDIT_OK)
        log_message(LOG_ERROR, "audit_anchor_write_failed",
                    "cannot read the latest checkpoint to update the audit anchor: %s",
                    audit_status_code(status));
    pthread_mutex_unlock(&log->checkpoint_lock);
    audit_checkpoint_clear(&latest);
}

static json_t *reset_payload(const audit_log *log, const audit_anchor *marker)
{
    char reset_at[32];
    char root[65];
    struct tm tm;
    json_t *payload;

    gmtime_r(&marker->reset_at, &tm);
    strftime(reset_at, sizeof(reset_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (marker->previous_text != NULL && marker->previous_text[0] == '\0')
        return json_pack("{s:s, s:s, s:b}", "reset_at", reset_at, "log_id", log->log_id,
                         "previous_missing", 1);
    if (!marker->previous_parsed)
        return json_pack("{s:s, s:s, s:b}", "reset_at", reset_at, "log_id", log->log_id,
                         "previous_invalid", 1);
    audit_hash_hex(&marker->checkpoint.head.root, root);
    payload = json_pack("{s:s, s:s, s:I, s:s, s:s}", "reset_at", reset_at, "log_id",
                        log->log_id, "previous_size",
                        (json_int_t)marker->checkpoint.head.size, "previous_root", root,
                        "previous_log_id", marker->log_id);
    return payload;
}

/*
 * Records the operator's reset as an audit_anchor_reset entry, then signs a checkpoint
 * at once, whose anchor replaces the marker. NOTE: when the node stops between the two,
 * the next start records the reset a second time.
 */
static int record_reset(audit_log *log, const audit_anchor *marker, char *error,
                        size_t error_size)
{
    json_t *payload = reset_payload(log, marker);
    audit_event event = {.kind = "audit_anchor_reset", .payload = payload};
    audit_status status = payload != NULL ? audit_record(log, &event, NULL)
                                          : AUDIT_ERR_NO_MEMORY;

    json_decref(payload);
    if (status != AUDIT_OK) {
        snprintf(error, error_size, "recording the reset of the audit anchor failed: %s",
                 audit_status_code(status));
        return -1;
    }
    log_message(LOG_WARN, "audit_anchor_reset_recorded",
                "the audit anchor was reset; the log records the previous anchor's tree "
                "size %llu and log ID %.16s...",
                (unsigned long long)marker->checkpoint.head.size,
                marker->previous_parsed                 ? marker->log_id
                : marker->previous_text[0] == '\0'      ? "(none: the anchor was missing)"
                                                        : "(unreadable)");
    status = audit_log_checkpoint(log, NULL);
    if (status != AUDIT_OK)
        log_message(LOG_ERROR, "audit_checkpoint_failed",
                    "the checkpoint after the anchor reset was not signed: %s; the reset "
                    "marker stays in the HSM until the next checkpoint",
                    audit_status_code(status));
    return 0;
}

/* Signs a checkpoint of the empty log at its first start, whose anchor then guards the
 * log from its first entry on. So a crash before the first periodic checkpoint leaves an
 * anchor, and the next start does not take the log for one whose anchor was deleted. */
static int anchor_empty_log(audit_log *log, char *error, size_t error_size)
{
    audit_status status = audit_log_checkpoint(log, NULL);
    char reason[384] = "";
    char *text = NULL;

    if (status != AUDIT_OK) {
        snprintf(error, error_size, "signing the first checkpoint of the new audit log "
                 "failed: %s", audit_status_code(status));
        return -1;
    }
    /* A log that starts without its anchor would not start again once it has entries,
     * and an idle log signs no later checkpoint that could write it. */
    if (log->signer.anchor_read(log->signer.anchor_ctx, &text, reason, sizeof(reason)) != 0 ||
        text == NULL) {
        snprintf(error, error_size, "the first audit anchor was not written to the HSM%s%s; "
                 "see the audit_anchor_write_failed line",
                 reason[0] != '\0' ? ": " : "", reason);
        free(text);
        return -1;
    }
    free(text);
    return 0;
}

int audit_log_finish_anchor(audit_log *log, const audit_anchor *anchor, anchor_step step,
                            char *error, size_t error_size)
{
    if (step == ANCHOR_STEP_CREATE)
        return anchor_empty_log(log, error, error_size);
    if (step == ANCHOR_STEP_UPDATE)
        update_anchor(log);
    else if (step == ANCHOR_STEP_RESET)
        return record_reset(log, anchor, error, error_size);
    return 0;
}
