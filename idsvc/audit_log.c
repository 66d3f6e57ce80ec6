/*
 * The audit log's group commit. Requests serialise and hash their entry in their own
 * thread and queue it. A request that finds no commit running becomes the committer: it
 * takes everything queued, appends it in one SQLite transaction (audit_store_append) on
 * its own connection, and wakes the requests of that batch. Requests that queue while a
 * commit runs sleep; when it ends, one of them commits the next batch. So the number of
 * fsyncs per second stays about constant as the request rate grows, and a request that
 * runs alone commits without waking another thread.
 */
#include "audit_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "audit_anchor.h"
#include "audit_checkpoint.h"
#include "audit_json.h"
#include "audit_log_internal.h"
#include "audit_store.h"
#include "log.h"
#include "monotonic_cond.h"

static const char *const event_kinds[] = {
    "credential_issued",      "credential_revoked",   "verification_decided",
    "consent_given",          "consent_refused",      "authenticator_enrolled",
    "authenticator_removed",  "policy_loaded",        "key_generated",
    "checkpoint_key_loaded",  "admin_action",         "policy_reload_failed",
    "audit_anchor_reset",     AUDIT_PURGE_KIND,       "clock_behind_accepted",
};

const char *audit_status_code(audit_status status)
{
    switch (status) {
    case AUDIT_OK:
        return "ok";
    case AUDIT_ERR_INVALID_ARGUMENT:
        return "invalid_argument";
    case AUDIT_ERR_NOT_FOUND:
        return "not_found";
    case AUDIT_ERR_STORE_FAILED:
        return "store_failed";
    case AUDIT_ERR_SIGN_FAILED:
        return "sign_failed";
    case AUDIT_ERR_MERKLE_FAILED:
        return "merkle_failed";
    case AUDIT_ERR_CLOSED:
        return "closed";
    case AUDIT_ERR_NO_MEMORY:
        return "no_memory";
    case AUDIT_ERR_REPLAYED:
        return "replayed";
    case AUDIT_ERR_REVOKED:
        return "revoked";
    case AUDIT_ERR_CONFLICT:
        return "conflict";
    }
    return "unknown";
}

bool audit_event_kind_known(const char *kind)
{
    for (size_t i = 0; kind != NULL && i < sizeof(event_kinds) / sizeof(event_kinds[0]); i++)
        if (strcmp(kind, event_kinds[i]) == 0)
            return true;
    return false;
}

/* ---- Group commit --------------------------------------------------------------- */

static size_t take_batch(pending *head, pending ***array, size_t *capacity)
{
    size_t count = 0;

    for (pending *p = head; p != NULL; p = p->next) {
        if (count == *capacity) {
            size_t grown_capacity = *capacity * 2 + 64;
            pending **grown = realloc(*array, grown_capacity * sizeof(*grown));

            if (grown == NULL) {
                /* The rest waits for the next batch, and a group stays whole. */
                if (p->entry.follows_group) {
                    while (count > 0 && (*array)[count - 1]->entry.follows_group)
                        count--;
                    count -= count > 0; /* the group's first entry */
                }
                return count;
            }
            *array = grown;
            *capacity = grown_capacity;
        }
        (*array)[count++] = p;
    }
    return count;
}

/* Appends a batch without holding the lock; returns the status of the transaction. */
static audit_status store_batch(audit_log *log, pending **batch, size_t count,
                                audit_merkle_tree_head *head)
{
    audit_store_entry **entries = malloc(count * sizeof(*entries));
    audit_status status = AUDIT_ERR_NO_MEMORY;

    if (entries != NULL) {
        for (size_t i = 0; i < count; i++)
            entries[i] = &batch[i]->entry;
        status = audit_store_append(log->store, entries, count, &log->frontier);
    }
    if (status == AUDIT_OK && audit_merkle_frontier_head(&log->frontier, head) != AUDIT_MERKLE_OK)
        status = AUDIT_ERR_MERKLE_FAILED;
    if (status != AUDIT_OK)
        log_message(LOG_ERROR, "audit_commit_failed", "%zu entries were not recorded: %s",
                    count, audit_status_code(status));
    free(entries);
    return status;
}

/*
 * Called with the lock held and committing set; returns with both as they were. Marks
 * the entries of audit_record done and returns those of audit_record_async, linked by
 * next, for the caller to finish once it released the lock.
 */
static pending *commit_queue(audit_log *log)
{
    audit_merkle_tree_head head = {0};
    audit_status status;
    size_t appended = 0;
    pending *finished = NULL;
    size_t count = take_batch(log->queue_head, &log->batch, &log->batch_capacity);

    if (count == 0)
        return NULL;
    log->queue_head = log->batch[count - 1]->next;
    if (log->queue_head == NULL)
        log->queue_tail = NULL;
    pthread_mutex_unlock(&log->lock);

    status = store_batch(log, log->batch, count, &head);

    pthread_mutex_lock(&log->lock);
    for (size_t i = count; i-- > 0;) {
        pending *p = log->batch[i];

        p->status = status != AUDIT_OK     ? status
                    : p->entry.revoked  ? AUDIT_ERR_REVOKED
                    : p->entry.replayed ? AUDIT_ERR_REPLAYED
                    : p->entry.conflict ? AUDIT_ERR_CONFLICT
                                        : AUDIT_OK;
        appended += p->status == AUDIT_OK ? 1 + p->entry.added_count : 0;
        if (p->status == AUDIT_OK)
            audit_log_note_time(log, (time_t)p->entry.recorded_at);
        if (p->on_done != NULL) {
            p->next = finished;
            finished = p;
            log->async_queued--;
        } else {
            p->done = true; /* its caller may return as soon as the lock is free */
        }
    }
    if (status == AUDIT_OK) {
        log->head = head;
        log->commits++;
        log->entries += appended;
    }
    return finished;
}

/* Commits the queue in the calling thread. Called with the lock held and no commit
 * running; returns with the lock held. */
static void lead_commit(audit_log *log)
{
    pending *finished;

    log->committing = true;
    finished = commit_queue(log);
    if (finished != NULL) {
        pthread_mutex_unlock(&log->lock);
        while (finished != NULL) {
            pending *p = finished;

            finished = p->next;
            p->on_done(p->on_done_ctx, p->status);
            free((char *)p->entry.text);
            free(p);
        }
        pthread_mutex_lock(&log->lock);
    }
    log->committing = false;
    pthread_cond_broadcast(&log->committed);
    if (log->async_queued > 0)
        pthread_cond_signal(&log->queued);
}

static void enqueue(audit_log *log, pending *p)
{
    if (log->queue_tail != NULL)
        log->queue_tail->next = p;
    else
        log->queue_head = p;
    log->queue_tail = p;
}

/* Queues the count entries of p together, so that one batch takes them all, and returns
 * once a commit, this thread's or another's, has decided them. */
static audit_status enqueue_and_wait(audit_log *log, pending *p, size_t count)
{
    pthread_mutex_lock(&log->lock);
    if (log->closing) {
        pthread_mutex_unlock(&log->lock);
        return AUDIT_ERR_CLOSED;
    }
    for (size_t i = 0; i < count; i++)
        enqueue(log, &p[i]);
    log->waiting++;
    while (!p[count - 1].done) {
        if (log->committing)
            pthread_cond_wait(&log->committed, &log->lock);
        else
            lead_commit(log);
    }
    /* audit_log_close waits for this, so it never frees the lock under a caller. */
    if (--log->waiting == 0 && log->closing)
        pthread_cond_broadcast(&log->committed);
    pthread_mutex_unlock(&log->lock);
    return p->status;
}

/* Commits the entries of audit_record_async, whose callers do not wait in a thread of
 * their own. Runs until the log closes and no such entry is left. */
static void *committer_main(void *arg)
{
    audit_log *log = arg;

    pthread_mutex_lock(&log->lock);
    for (;;) {
        while ((log->async_queued == 0 || log->committing) &&
               !(log->closing && log->async_queued == 0))
            pthread_cond_wait(&log->queued, &log->lock);
        if (log->async_queued == 0)
            break; /* closing, and nothing of ours is queued */
        lead_commit(log);
    }
    pthread_mutex_unlock(&log->lock);
    return NULL;
}

/* ---- Recording ------------------------------------------------------------------ */

/* Serialises the event's payload canonically; hex receives the SHA-256 of the text. */
static char *format_payload(const audit_event *event, char hex[65])
{
    json_t *payload = event->payload != NULL ? json_incref((json_t *)event->payload)
                                             : json_object();
    audit_merkle_hash digest;
    unsigned digest_len = 0;
    char *text;

    text = audit_json_canonical(payload);
    json_decref(payload);
    if (text == NULL)
        return NULL;
    if (EVP_Digest(text, strlen(text), digest.bytes, &digest_len, EVP_sha256(), NULL) != 1 ||
        digest_len != AUDIT_MERKLE_HASH_SIZE) {
        free(text);
        return NULL;
    }
    audit_hash_hex(&digest, hex);
    return text;
}

/* Returns one allocation that holds the entry text, a NUL and the payload text, so that
 * one free releases both. */
static char *join_texts(const char *entry, const char *payload)
{
    size_t entry_len = strlen(entry);
    size_t payload_len = strlen(payload);
    char *joined = malloc(entry_len + payload_len + 2);

    if (joined == NULL)
        return NULL;
    memcpy(joined, entry, entry_len + 1);
    memcpy(joined + entry_len + 1, payload, payload_len + 1);
    return joined;
}

/*
 * Formats a version 2 entry. The hashed entry text names the payload only by the
 * SHA-256 of its canonical text, so that retention can remove the payload while the
 * entry text, and with it the time and jurisdiction, stays covered by the leaf hash.
 * Returns the entry text followed by the payload text (see join_texts).
 */
static char *format_entry(const audit_log *log, const audit_event *event, time_t now)
{
    char digest[65];
    char *payload = format_payload(event, digest);
    json_t *doc;
    char when[32];
    struct tm tm;
    char *text = NULL;
    char *joined = NULL;

    if (payload == NULL)
        return NULL;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    doc = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s, s:i}", "node", log->node_id,
                    "time", when, "kind", event->kind, "actor", event->actor,
                    "relying_party", event->relying_party, "request_id", event->request_id,
                    "jurisdiction",
                    event->jurisdiction != NULL ? event->jurisdiction : log->jurisdiction,
                    "payload_sha256", digest, "version", AUDIT_ENTRY_VERSION);
    if (doc != NULL)
        text = audit_json_canonical(doc);
    json_decref(doc);

    /* The leaf hash covers the entry text's exact bytes, which the store keeps. */
    if (text != NULL)
        joined = join_texts(text, payload);
    free(text);
    free(payload);
    return joined;
}

static bool event_valid(const audit_log *log, const audit_event *event)
{
    return log != NULL && event != NULL && audit_event_kind_known(event->kind) &&
           (event->payload == NULL || json_is_object(event->payload)) &&
           (event->added_events == NULL ||
            (event->added_count != NULL && event->write_rows != NULL));
}

/* An event added by write_rows carries no checks or rows of its own. */
static bool added_event_valid(const audit_log *log, const audit_event *event)
{
    return event_valid(log, event) && event->replay_id == NULL &&
           !event->replay_credential && event->write_rows == NULL &&
           event->added_events == NULL;
}

static audit_status fill_pending(const audit_log *log, const audit_event *event, pending *p);

static void added_free(pending *p)
{
    for (size_t i = 0; i < p->added_filled; i++)
        free((char *)p->added[i].entry.text);
    free(p->added);
    free(p->added_entries);
    p->added = NULL;
    p->added_entries = NULL;
    p->added_filled = 0;
    p->entry.added = NULL;
    p->entry.added_count = 0;
}

/* The write_rows of an event with added_events, run in the commit's transaction: runs
 * the event's own write_rows, then serialises and hashes the entries it chose, for
 * audit_store_append to append after the group. */
static int write_rows_and_added(struct sqlite3 *db, void *ctx)
{
    pending *p = ctx;
    int rc = p->event_write_rows(db, p->event_write_rows_ctx);
    size_t count;

    added_free(p);
    if (rc != 0)
        return rc;
    count = *p->added_count;
    if (count == 0)
        return 0;
    p->added = calloc(count, sizeof(*p->added));
    p->added_entries = calloc(count, sizeof(*p->added_entries));
    if (p->added == NULL || p->added_entries == NULL) {
        log_message(LOG_ERROR, "audit_commit_failed",
                    "out of memory for the %zu entries added by a %s entry", count,
                    p->entry.kind);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        const audit_event *event = &(*p->added_events)[i];

        if (!added_event_valid(p->log, event) ||
            fill_pending(p->log, event, &p->added[i]) != AUDIT_OK) {
            log_message(LOG_ERROR, "audit_commit_failed",
                        "entry %zu added by a %s entry is invalid or out of memory", i,
                        p->entry.kind);
            return -1;
        }
        p->added_filled++;
        p->added_entries[i] = &p->added[i].entry;
    }
    p->entry.added = p->added_entries;
    p->entry.added_count = count;
    return 0;
}

/* Serialises and hashes the event into p->entry. The entry's text is p's to free, and
 * its payload lives in the same allocation. */
static audit_status fill_pending(const audit_log *log, const audit_event *event, pending *p)
{
    time_t now = event->time != 0 ? event->time : time(NULL);
    char *text = format_entry(log, event, now);

    if (text == NULL)
        return AUDIT_ERR_NO_MEMORY;
    p->entry.recorded_at = now;
    p->entry.kind = event->kind;
    p->entry.actor = event->actor;
    p->entry.relying_party = event->relying_party;
    p->entry.jurisdiction = event->jurisdiction != NULL ? event->jurisdiction : log->jurisdiction;
    p->entry.text = text;
    p->entry.text_len = strlen(text);
    p->entry.payload = text + p->entry.text_len + 1;
    p->entry.payload_len = strlen(p->entry.payload);
    p->entry.replay_issuer = event->replay_issuer;
    p->entry.replay_id = event->replay_id;
    p->entry.replay_until = event->replay_until;
    p->entry.replay_credential = event->replay_credential;
    p->entry.write_rows = event->write_rows;
    p->entry.write_rows_ctx = event->write_rows_ctx;
    if (event->added_events != NULL) {
        /* p stays at this address until its commit: on the caller's stack or in the
         * group's array. */
        p->log = log;
        p->event_write_rows = event->write_rows;
        p->event_write_rows_ctx = event->write_rows_ctx;
        p->added_events = event->added_events;
        p->added_count = event->added_count;
        p->entry.write_rows = write_rows_and_added;
        p->entry.write_rows_ctx = p;
    }
    if (audit_merkle_hash_leaf(text, p->entry.text_len, &p->entry.leaf_hash) != AUDIT_MERKLE_OK) {
        free(text);
        return AUDIT_ERR_MERKLE_FAILED;
    }
    return AUDIT_OK;
}

audit_status audit_record(audit_log *log, const audit_event *event, uint64_t *index)
{
    pending p = {0};
    audit_status status;

    if (!event_valid(log, event))
        return AUDIT_ERR_INVALID_ARGUMENT;
    status = fill_pending(log, event, &p);
    if (status != AUDIT_OK)
        return status;
    status = enqueue_and_wait(log, &p, 1);
    if (status == AUDIT_OK && index != NULL)
        *index = p.entry.index;
    free((char *)p.entry.text);
    added_free(&p);
    return status;
}

/* Only the first event of a group may carry checks that turn it down. */
static bool group_valid(const audit_log *log, const audit_event *events, size_t count)
{
    if (events == NULL || count == 0)
        return false;
    for (size_t i = 0; i < count; i++) {
        if (!event_valid(log, &events[i]))
            return false;
        if (i > 0 && (events[i].replay_id != NULL || events[i].replay_credential ||
                      events[i].write_rows != NULL || events[i].added_events != NULL))
            return false;
    }
    return true;
}

audit_status audit_record_group(audit_log *log, const audit_event *events, size_t count)
{
    pending *group;
    audit_status status = AUDIT_OK;
    size_t filled = 0;

    if (!group_valid(log, events, count))
        return AUDIT_ERR_INVALID_ARGUMENT;
    group = calloc(count, sizeof(*group));
    if (group == NULL)
        return AUDIT_ERR_NO_MEMORY;
    while (filled < count && status == AUDIT_OK) {
        status = fill_pending(log, &events[filled], &group[filled]);
        filled += status == AUDIT_OK;
    }
    if (status == AUDIT_OK) {
        group[0].entry.group_size = count;
        for (size_t i = 1; i < count; i++)
            group[i].entry.follows_group = true;
        status = enqueue_and_wait(log, group, count);
    }
    for (size_t i = 0; i < filled; i++)
        free((char *)group[i].entry.text);
    added_free(&group[0]);
    free(group);
    return status;
}

/* A pending entry of audit_record_async with its own copies of the event's strings,
 * which audit_store_append binds after the caller returned. */
typedef struct async_pending {
    pending p; /* first, so that the committing thread frees the whole block */
    char strings[];
} async_pending;

static const char *copy_into(char **cursor, const char *text)
{
    const char *copy = *cursor;

    if (text == NULL)
        return NULL;
    strcpy(*cursor, text);
    *cursor += strlen(text) + 1;
    return copy;
}

static async_pending *async_copy(const pending *from)
{
    const audit_store_entry *e = &from->entry;
    const char *texts[] = {e->kind,         e->actor,         e->relying_party,
                           e->jurisdiction, e->replay_issuer, e->replay_id};
    size_t size = 0;
    async_pending *a;
    char *cursor;

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        size += texts[i] != NULL ? strlen(texts[i]) + 1 : 0;
    a = calloc(1, sizeof(*a) + size);
    if (a == NULL)
        return NULL;
    a->p = *from;
    cursor = a->strings;
    a->p.entry.kind = copy_into(&cursor, e->kind);
    a->p.entry.actor = copy_into(&cursor, e->actor);
    a->p.entry.relying_party = copy_into(&cursor, e->relying_party);
    a->p.entry.jurisdiction = copy_into(&cursor, e->jurisdiction);
    a->p.entry.replay_issuer = copy_into(&cursor, e->replay_issuer);
    a->p.entry.replay_id = copy_into(&cursor, e->replay_id);
    return a;
}

audit_status audit_record_async(audit_log *log, const audit_event *event, audit_done_fn on_done,
                                void *ctx)
{
    pending p = {0};
    async_pending *a;
    audit_status status;

    /* added_events needs the pending entry at a fixed address, which the copy moves. */
    if (!event_valid(log, event) || on_done == NULL || event->added_events != NULL)
        return AUDIT_ERR_INVALID_ARGUMENT;
    status = fill_pending(log, event, &p);
    if (status != AUDIT_OK)
        return status;
    p.on_done = on_done;
    p.on_done_ctx = ctx;
    a = async_copy(&p);
    if (a == NULL) {
        free((char *)p.entry.text);
        return AUDIT_ERR_NO_MEMORY;
    }

    pthread_mutex_lock(&log->lock);
    if (log->closing) {
        pthread_mutex_unlock(&log->lock);
        free((char *)a->p.entry.text);
        free(a);
        return AUDIT_ERR_CLOSED;
    }
    enqueue(log, &a->p);
    log->async_queued++;
    if (!log->committing)
        pthread_cond_signal(&log->queued);
    pthread_mutex_unlock(&log->lock);
    return AUDIT_OK;
}

audit_status audit_subject_pseudonym(const audit_log *log, const char *issuer,
                                     const char *name_id, char out[65])
{
    audit_merkle_hash mac;
    unsigned mac_len = 0;
    size_t issuer_len;
    size_t name_len;
    unsigned char *message;

    if (log == NULL || issuer == NULL || name_id == NULL)
        return AUDIT_ERR_INVALID_ARGUMENT;
    issuer_len = strlen(issuer);
    name_len = strlen(name_id);
    message = malloc(issuer_len + 1 + name_len);
    if (message == NULL)
        return AUDIT_ERR_NO_MEMORY;
    memcpy(message, issuer, issuer_len);
    message[issuer_len] = 0;
    memcpy(message + issuer_len + 1, name_id, name_len);

    if (HMAC(EVP_sha256(), log->secret, sizeof(log->secret), message,
             issuer_len + 1 + name_len, mac.bytes, &mac_len) == NULL) {
        free(message);
        return AUDIT_ERR_MERKLE_FAILED;
    }
    free(message);
    audit_hash_hex(&mac, out);
    return AUDIT_OK;
}

/* ---- Checkpoints and retention -------------------------------------------------- */

audit_merkle_tree_head audit_log_head(audit_log *log)
{
    audit_merkle_tree_head head;

    pthread_mutex_lock(&log->lock);
    head = log->head;
    pthread_mutex_unlock(&log->lock);
    return head;
}

static audit_status sign_checkpoint(audit_log *log, const audit_merkle_tree_head *head,
                                    audit_checkpoint *out)
{
    memset(out, 0, sizeof(*out));
    out->head = *head;
    out->signed_at = time(NULL);
    out->node_id = strdup(log->node_id);
    out->key_id = strdup(log->signer.key_id);
    out->algorithm = strdup(log->signer.algorithm);
    out->version_2_from = log->version_2_from;
    out->has_version_2_from = true;
    out->body = audit_checkpoint_format(log->node_id, head, out->signed_at,
                                        log->signer.key_id, log->version_2_from);
    if (out->node_id == NULL || out->key_id == NULL || out->algorithm == NULL ||
        out->body == NULL)
        return AUDIT_ERR_NO_MEMORY;

    out->signature_len = sizeof(out->signature);
    if (log->signer.sign(log->signer.ctx, (const unsigned char *)out->body,
                         strlen(out->body), out->signature, &out->signature_len) != 0) {
        log_message(LOG_ERROR, "audit_checkpoint_failed",
                    "the HSM did not sign the checkpoint of size %llu",
                    (unsigned long long)head->size);
        return AUDIT_ERR_SIGN_FAILED;
    }
    return audit_store_add_checkpoint(log->store, out);
}

audit_status audit_log_checkpoint(audit_log *log, audit_checkpoint *out)
{
    audit_merkle_tree_head head;
    audit_checkpoint latest;
    audit_checkpoint fresh;
    audit_status status;

    if (!log->has_signer)
        return AUDIT_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&log->checkpoint_lock);
    /* Read under the lock: a head read before it could be older than the checkpoint that
     * another caller signed meanwhile, and look like a log that shrank. */
    head = audit_log_head(log);
    status = audit_store_latest_checkpoint(log->store, &latest);
    if (status == AUDIT_OK && latest.head.size == head.size)
        goto out;
    if (status != AUDIT_OK && status != AUDIT_ERR_NOT_FOUND)
        goto out;
    if (status == AUDIT_OK && head.size < latest.head.size) {
        /* The log start refuses such a tree, so this is not expected: never sign a
         * head that the signed one cannot extend. */
        log_message(LOG_ERROR, "audit_checkpoint_failed",
                    "the tree has %llu entries, fewer than checkpoint %llu signed",
                    (unsigned long long)head.size, (unsigned long long)latest.head.size);
        status = AUDIT_ERR_MERKLE_FAILED;
        goto out;
    }

    audit_checkpoint_clear(&latest);
    status = sign_checkpoint(log, &head, &fresh);
    latest = fresh; /* latest owns the strings from here on */
    if (status == AUDIT_OK) {
        char root[65];

        audit_hash_hex(&head.root, root);
        log_message(LOG_INFO, "audit_checkpoint_signed", "tree size %llu, root %s",
                    (unsigned long long)head.size, root);
        pthread_mutex_lock(&log->lock);
        audit_log_note_time(log, latest.signed_at);
        pthread_mutex_unlock(&log->lock);
        audit_log_write_anchor(log, &latest);
    }
out:
    pthread_mutex_unlock(&log->checkpoint_lock);
    if (status == AUDIT_OK && out != NULL)
        *out = latest;
    else
        audit_checkpoint_clear(&latest);
    return status;
}

/* One purge: its rules, the jurisdictions that have rules of their own, and what it
 * purged, for purge_rows in the transaction of the purge's entry. */
typedef struct purge_run {
    const audit_log *log;
    const char **named;
    size_t named_count;
    time_t now;
    uint64_t total;
} purge_run;

/* The write_rows of the purge's entry. Returns 1, which drops the entry, when nothing
 * expired. */
static int purge_rows(struct sqlite3 *db, void *ctx)
{
    purge_run *run = ctx;

    run->total = 0;
    for (size_t i = 0; i < run->log->retention_count; i++) {
        const audit_retention *rule = &run->log->retention[i];
        int64_t before = (int64_t)run->now - (int64_t)rule->days * 86400;
        uint64_t purged = 0;

        if (rule->days == 0)
            continue;
        if (audit_store_purge_rows(db, rule->jurisdiction, run->named, run->named_count,
                                   before, run->now, &purged) != 0)
            return -1;
        run->total += purged;
    }
    return run->total > 0 ? 0 : 1;
}

/* The payload of a purge's entry: {"purged_at": now, "rules": [{"jurisdiction": "TH" or
 * null, "days": N}, ...]}, every rule of the node, those that keep payloads forever
 * (days 0) included. */
static json_t *purge_payload(const audit_log *log, time_t now)
{
    json_t *rules = json_array();
    json_t *payload;

    for (size_t i = 0; rules != NULL && i < log->retention_count; i++) {
        const audit_retention *rule = &log->retention[i];

        if (json_array_append_new(rules, json_pack("{s:s?, s:I}", "jurisdiction",
                                                   rule->jurisdiction, "days",
                                                   (json_int_t)rule->days)) != 0) {
            json_decref(rules);
            return NULL;
        }
    }
    payload = json_pack("{s:I, s:o}", "purged_at", (json_int_t)now, "rules", rules);
    return payload;
}

audit_status audit_log_purge(audit_log *log, time_t now, uint64_t *count)
{
    purge_run run = {.log = log, .now = now};
    /* The entry's hashed time is the purge time, which every purged entry's purged_at
     * column repeats, so that audit verify can tie the two. */
    audit_event event = {.kind = AUDIT_PURGE_KIND, .time = now, .write_rows = purge_rows,
                         .write_rows_ctx = &run};
    json_t *payload = purge_payload(log, now);
    audit_status status = AUDIT_ERR_NO_MEMORY;

    run.named = calloc(log->retention_count + 1, sizeof(*run.named));
    if (run.named == NULL || payload == NULL)
        goto out;
    for (size_t i = 0; i < log->retention_count; i++)
        if (log->retention[i].jurisdiction != NULL)
            run.named[run.named_count++] = log->retention[i].jurisdiction;

    event.payload = payload;
    status = audit_record(log, &event, NULL);
    if (status == AUDIT_ERR_CONFLICT) /* nothing expired, nothing appended */
        status = AUDIT_OK;
    if (status == AUDIT_OK && run.total > 0)
        log_message(LOG_INFO, "audit_payloads_purged",
                    "%llu payloads passed their retention period; leaf hashes kept",
                    (unsigned long long)run.total);
out:
    if (status != AUDIT_OK)
        log_message(LOG_ERROR, "audit_purge_failed",
                    "the retention purge failed (%s); the next checkpoint interval retries it",
                    audit_status_code(status));
    if (count != NULL)
        *count = status == AUDIT_OK ? run.total : 0;
    free(run.named);
    json_decref(payload);
    return status;
}

static void *checkpointer_main(void *arg)
{
    audit_log *log = arg;
    struct timespec deadline;

    pthread_mutex_lock(&log->lock);
    while (!log->closing) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += log->checkpoint_interval;
        while (!log->closing &&
               pthread_cond_timedwait(&log->checkpoint_wake, &log->lock, &deadline) != ETIMEDOUT)
            ;
        if (log->closing)
            break;
        pthread_mutex_unlock(&log->lock);
        audit_log_watch_clock(log);
        audit_log_checkpoint(log, NULL);
        audit_log_purge(log, audit_store_purge_time(log->store), NULL);
        pthread_mutex_lock(&log->lock);
    }
    pthread_mutex_unlock(&log->lock);
    return NULL;
}

/* ---- Opening and closing -------------------------------------------------------- */

static int copy_options(audit_log *log, const audit_log_options *options)
{
    log->node_id = strdup(options->node_id);
    log->jurisdiction = strdup(options->jurisdiction);
    if (log->node_id == NULL || log->jurisdiction == NULL)
        return -1;
    if (options->signer != NULL) {
        log->signer = *options->signer;
        log->has_signer = true;
    }
    log->checkpoint_interval = options->checkpoint_interval;
    log->check_clock = options->check_clock;
    log->clock_tolerance = options->clock_tolerance;
    log->accept_clock_behind = options->accept_clock_behind;

    log->retention = calloc(options->retention_count + 1, sizeof(*log->retention));
    if (log->retention == NULL)
        return -1;
    for (size_t i = 0; i < options->retention_count; i++) {
        const char *name = options->retention[i].jurisdiction;

        log->retention[i].days = options->retention[i].days;
        if (name != NULL && (log->retention[i].jurisdiction = strdup(name)) == NULL)
            return -1;
        log->retention_count++;
    }
    return 0;
}

/* Rebuilds the frontier from the stored tree: popcount(size) lookups. */
static int load_tree(audit_log *log, char *error, size_t error_size)
{
    audit_merkle_source source = audit_store_source(log->store);
    uint64_t size = 0;
    uint64_t beyond = 0;

    if (audit_store_size(log->store, &size) != AUDIT_OK ||
        audit_store_nodes_beyond(log->store, size, &beyond) != AUDIT_OK) {
        snprintf(error, error_size, "cannot read the size of the audit log; the "
                 "audit_store_error line before this one says why");
        return -1;
    }
    if (beyond > 0) {
        snprintf(error, error_size,
                 "the audit log has %llu entries, but %llu stored subtree hashes cover "
                 "later ones; entries were deleted. Run 'idsvc-admin audit verify' and "
                 "restore the latest copy",
                 (unsigned long long)size, (unsigned long long)beyond);
        return -1;
    }
    if (audit_merkle_frontier_load(&log->frontier, &source, size) != AUDIT_MERKLE_OK ||
        audit_merkle_frontier_head(&log->frontier, &log->head) != AUDIT_MERKLE_OK) {
        snprintf(error, error_size, "the audit log's subtree hashes are incomplete for %llu "
                 "entries; run 'idsvc-admin audit verify'", (unsigned long long)size);
        return -1;
    }
    return 0;
}

/* Finds where version 2 starts. A log without entries of version 2 gets them from its
 * current size on, because this node writes no other version. */
static int find_version_2_from(audit_log *log, char *error, size_t error_size)
{
    bool found = false;

    if (audit_store_first_version_2(log->store, &log->version_2_from, &found) != AUDIT_OK) {
        snprintf(error, error_size, "cannot read the versions of the audit entries");
        return -1;
    }
    if (!found)
        log->version_2_from = log->head.size;
    return 0;
}

/* Returns true when the log's first entry of version 2 is where the checkpoint signed
 * it: the same index when the checkpoint covers it, and no earlier than its size when
 * the checkpoint covers only entries of version 1. */
static bool versions_match(const audit_log *log, const audit_checkpoint *checkpoint)
{
    if (!checkpoint->has_version_2_from)
        return true;
    if (checkpoint->version_2_from < checkpoint->head.size)
        return log->version_2_from == checkpoint->version_2_from;
    return log->version_2_from >= checkpoint->head.size;
}

/* Verifies a checkpoint that the node's current key signed. NOTE: one signed by an
 * earlier key, before a key rollover, is taken as stored; only its root is compared. */
static bool checkpoint_signature_holds(const audit_log *log, const audit_checkpoint *checkpoint)
{
    if (!log->has_signer || log->signer.verify == NULL || checkpoint->key_id == NULL ||
        strcmp(checkpoint->key_id, log->signer.key_id) != 0)
        return true;
    return log->signer.verify(log->signer.ctx, checkpoint) == 0;
}

/*
 * Compares the loaded tree with the latest signed checkpoint. A log shorter than the
 * checkpoint, or whose first leaves do not hash to its root, was rolled back, truncated
 * or edited. Extending it would make the HSM key sign a tree head that is not
 * consistent with one it signed before, so the log does not open.
 */
static int check_checkpoint(audit_log *log, char *error, size_t error_size)
{
    audit_merkle_source source = audit_store_source(log->store);
    audit_checkpoint latest = {0};
    audit_merkle_tree_head head;
    audit_status status = audit_store_latest_checkpoint(log->store, &latest);
    int rc = -1;

    log->unsigned_from = status == AUDIT_OK && latest.head.size <= log->head.size
                             ? latest.head.size
                             : 0;
    log->unsigned_count = log->head.size - log->unsigned_from;
    if (status == AUDIT_ERR_NOT_FOUND)
        return 0;
    if (status != AUDIT_OK)
        snprintf(error, error_size, "cannot read the latest audit checkpoint; the "
                 "audit_store_error line before this one says why");
    else if (!checkpoint_signature_holds(log, &latest))
        snprintf(error, error_size,
                 "the signature of audit checkpoint %llu does not verify with the node's key "
                 "%s; the checkpoint was edited. Run 'idsvc-admin audit verify'",
                 (unsigned long long)latest.id, log->signer.key_id);
    else if (latest.head.size > log->head.size)
        snprintf(error, error_size,
                 "the audit log has %llu entries, but checkpoint %llu signed %llu; the "
                 "database was truncated or restored from an older copy. Run 'idsvc-admin "
                 "audit verify' and restore the latest copy",
                 (unsigned long long)log->head.size, (unsigned long long)latest.id,
                 (unsigned long long)latest.head.size);
    else if (audit_merkle_tree_head_compute(&source, latest.head.size, &head) !=
                 AUDIT_MERKLE_OK ||
             memcmp(head.root.bytes, latest.head.root.bytes, sizeof(head.root.bytes)) != 0)
        snprintf(error, error_size,
                 "the first %llu audit entries do not hash to the root that checkpoint %llu "
                 "signed; the database was edited. Run 'idsvc-admin audit verify'",
                 (unsigned long long)latest.head.size, (unsigned long long)latest.id);
    else if (!versions_match(log, &latest))
        snprintf(error, error_size,
                 "checkpoint %llu signed that the audit entries of version 2 start at index "
                 "%llu, but the database has its first one at index %llu; entry texts were "
                 "deleted. Run 'idsvc-admin audit verify' and restore the latest copy",
                 (unsigned long long)latest.id, (unsigned long long)latest.version_2_from,
                 (unsigned long long)log->version_2_from);
    else
        rc = 0;
    if (rc == 0) {
        log->checkpoint_time_at_open = latest.signed_at;
        log->checkpoint_id_at_open = latest.id;
    }
    audit_checkpoint_clear(&latest);
    return rc;
}

static int start_threads(audit_log *log)
{
    if (pthread_create(&log->committer, NULL, committer_main, log) != 0)
        return -1;
    log->committer_started = true;
    if (log->has_signer && log->checkpoint_interval > 0) {
        if (pthread_create(&log->checkpointer, NULL, checkpointer_main, log) != 0)
            return -1;
        log->checkpointer_started = true;
    }
    return 0;
}

audit_log *audit_log_open(const audit_log_options *options, char *error, size_t error_size)
{
    audit_log *log = calloc(1, sizeof(*log));
    audit_anchor anchor = {0};
    anchor_step step = ANCHOR_STEP_NONE;

    if (log == NULL) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&log->lock, NULL);
    pthread_mutex_init(&log->checkpoint_lock, NULL);
    pthread_cond_init(&log->committed, NULL);
    pthread_cond_init(&log->queued, NULL);
    monotonic_cond_init(&log->checkpoint_wake);
    if (copy_options(log, options) != 0) {
        snprintf(error, error_size, "out of memory");
        goto fail;
    }

    log->store = audit_store_open(options->database_path, false, error, error_size);
    if (log->store == NULL || load_tree(log, error, error_size) != 0 ||
        find_version_2_from(log, error, error_size) != 0 ||
        check_checkpoint(log, error, error_size) != 0)
        goto fail;
    if (audit_store_is_new(log->store, &log->new_database) != AUDIT_OK ||
        audit_store_secret(log->store, log->secret) != AUDIT_OK ||
        audit_anchor_log_id(log->secret, log->log_id) != 0) {
        snprintf(error, error_size, "cannot read or create the audit pseudonym secret");
        goto fail;
    }
    if (audit_log_check_anchor(log, &anchor, &step, error, error_size) != 0 ||
        audit_log_check_clock(log, &anchor, error, error_size) != 0)
        goto fail;
    /* Room for one entry at least, so that a commit always makes progress. */
    log->batch = malloc(64 * sizeof(*log->batch));
    if (log->batch == NULL) {
        snprintf(error, error_size, "out of memory");
        goto fail;
    }
    log->batch_capacity = 64;
    if (start_threads(log) != 0) {
        snprintf(error, error_size, "cannot start the audit log's threads");
        goto fail;
    }
    if (audit_log_finish_anchor(log, &anchor, step, error, error_size) != 0 ||
        audit_log_finish_clock(log, error, error_size) != 0)
        goto fail;
    audit_anchor_clear(&anchor);
    log->opened = true;
    return log;
fail:
    audit_anchor_clear(&anchor);
    audit_log_close(&log);
    return NULL;
}

void audit_log_close(audit_log **log_ptr)
{
    audit_log *log;

    if (log_ptr == NULL || *log_ptr == NULL)
        return;
    log = *log_ptr;

    /* The caller of each audit_record entry waits in enqueue_and_wait until a commit
     * takes it. The committer thread commits what audit_record_async queued before it
     * stops. So closing only rejects new entries. */
    pthread_mutex_lock(&log->lock);
    log->closing = true;
    pthread_cond_broadcast(&log->checkpoint_wake);
    pthread_cond_signal(&log->queued);
    pthread_mutex_unlock(&log->lock);
    if (log->committer_started)
        pthread_join(log->committer, NULL);
    pthread_mutex_lock(&log->lock);
    while (log->committing || log->queue_head != NULL || log->waiting > 0)
        pthread_cond_wait(&log->committed, &log->lock);
    pthread_mutex_unlock(&log->lock);
    if (log->checkpointer_started)
        pthread_join(log->checkpointer, NULL);

    /* Signed at the stop, the last entries cannot be changed or added to while the node
     * is stopped without the next start noticing (audit_log_unsigned_at_open). A log
     * that failed to open signs nothing, because its checks turned its tree down. */
    if (log->opened && log->has_signer && audit_log_checkpoint(log, NULL) != AUDIT_OK)
        log_message(LOG_ERROR, "audit_checkpoint_failed",
                    "the checkpoint at the stop was not signed; the next start reports the "
                    "entries after the latest checkpoint");
    audit_store_close(&log->store);
    for (size_t i = 0; i < log->retention_count; i++)
        free((char *)log->retention[i].jurisdiction);
    free(log->retention);
    free(log->batch);
    free(log->node_id);
    free(log->jurisdiction);
    OPENSSL_cleanse(log->secret, sizeof(log->secret));
    pthread_cond_destroy(&log->committed);
    pthread_cond_destroy(&log->queued);
    pthread_cond_destroy(&log->checkpoint_wake);
    pthread_mutex_destroy(&log->checkpoint_lock);
    pthread_mutex_destroy(&log->lock);
    free(log);
    *log_ptr = NULL;
}

void audit_log_unsigned_at_open(const audit_log *log, uint64_t *from, uint64_t *count)
{
    *from = log->unsigned_from;
    *count = log->unsigned_count;
}

void audit_log_stats(audit_log *log, uint64_t *commits, uint64_t *entries)
{
    pthread_mutex_lock(&log->lock);
    *commits = log->commits;
    *entries = log->entries;
    pthread_mutex_unlock(&log->lock);
}

audit_store *audit_log_store(audit_log *log)
{
    return log->store;
}
