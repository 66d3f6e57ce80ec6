/*
 * The audit log, for regulators: GET /v1/audit/checkpoint, /v1/audit/entries,
 * /v1/audit/proof/inclusion and /v1/audit/proof/consistency. Every number comes from
 * the query string; a missing, malformed or out-of-range one is a 400 problem naming
 * the parameter. Also the functions that handlers call to record events.
 */
#include "route_audit.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit_anchor.h"
#include "audit_store.h"
#include "log.h"
#include "problem.h"
#include "route_common.h"
#include "web_store.h"

/* Entries returned by one GET /v1/audit/entries; the reply links the next page. */
#define ENTRIES_PAGE_MAX 1000

/* ---- Opening ------------------------------------------------------------------- */

/* Builds the payload of checkpoint_key_loaded. It names the entries that no checkpoint
 * covered at the start, so that the log itself shows them to a regulator. */
static json_t *key_loaded_payload(node *n, const audit_signer *signer, const config *cfg)
{
    json_t *payload = json_pack("{s:s, s:s, s:s}", "key_id", signer->key_id, "algorithm",
                                signer->algorithm, "key_uri", cfg->saml_key_uri);
    uint64_t from = 0;
    uint64_t count = 0;

    audit_log_unsigned_at_open(n->audit, &from, &count);
    if (payload == NULL || count == 0)
        return payload;
    log_message(LOG_WARN, "audit_unsigned_entries",
                "%llu audit entries from index %llu were not covered by a checkpoint at the "
                "start: the node stopped without its last checkpoint, or they were added "
                "to the database while it was stopped. Run 'idsvc-admin audit show' on them",
                (unsigned long long)count, (unsigned long long)from);
    if (json_object_set_new(payload, "unsigned_entries",
                            json_pack("{s:I, s:I}", "from", (json_int_t)from, "count",
                                      (json_int_t)count)) != 0) {
        json_decref(payload);
        return NULL;
    }
    return payload;
}

static int record_key_loaded(node *n, const audit_signer *signer, const config *cfg)
{
    json_t *payload = key_loaded_payload(n, signer, cfg);
    audit_event event = {.kind = "checkpoint_key_loaded", .payload = payload};
    audit_status status = payload != NULL ? audit_record(n->audit, &event, NULL)
                                          : AUDIT_ERR_NO_MEMORY;

    json_decref(payload);
    if (status != AUDIT_OK) {
        log_message(LOG_ERROR, "start_failed", "audit log: recording the checkpoint key "
                    "failed: %s", audit_status_code(status));
        return -1;
    }
    return 0;
}

/* Keeps the log's anchor in the node's token, named by the node's entity ID. */
static int open_anchor(node *n, const config *cfg, audit_signer *signer)
{
    n->audit_anchor = calloc(1, sizeof(*n->audit_anchor));
    if (n->audit_anchor == NULL ||
        (n->audit_anchor->application = strdup(cfg->entity_id)) == NULL) {
        log_message(LOG_ERROR, "start_failed", "audit log: out of memory");
        return -1;
    }
    n->audit_anchor->token = n->token;
    audit_signer_set_p11_anchor(signer, n->audit_anchor);
    return 0;
}

/* Logs why the audit log did not open. The config field is the FILE of the reset command
 * that an anchor error names, as a separate field because the log caps each value at
 * LOG_VALUE_MAX bytes and the sentence alone can reach that. */
static void log_audit_open_failure(const config *cfg, const char *error)
{
    char message[600];
    char config_path[PATH_MAX];

    snprintf(message, sizeof(message), "audit log: %s", error);
    log_field fields[] = {
        {"message", message},
        {"config", realpath(cfg->path, config_path) != NULL ? config_path : cfg->path},
    };
    log_event(LOG_ERROR, "start_failed", fields, sizeof(fields) / sizeof(fields[0]));
}

int route_audit_open(node *n, const config *cfg, bool accept_clock_behind)
{
    audit_retention *rules = calloc(cfg->audit.retention_count + 1, sizeof(*rules));
    audit_signer signer;
    audit_log_options options = {
        .database_path = cfg->database_path,
        .node_id = cfg->entity_id,
        .jurisdiction = cfg->jurisdiction != NULL ? cfg->jurisdiction : "",
        .signer = &signer,
        .checkpoint_interval = cfg->audit.checkpoint_interval_seconds,
        .retention = rules,
        .retention_count = cfg->audit.retention_count,
        /* A clock behind by less than the skew allowed to other parties' clocks widens
         * the window of an expired assertion by at most that skew again. */
        .check_clock = true,
        .clock_tolerance = (unsigned)cfg->clock_skew_seconds,
        .accept_clock_behind = accept_clock_behind,
    };
    char error[512];
    int rc = -1;

    if (rules == NULL)
        goto out;
    for (size_t i = 0; i < cfg->audit.retention_count; i++) {
        rules[i].jurisdiction = cfg->audit.retention[i].jurisdiction;
        rules[i].days = cfg->audit.retention[i].days;
    }
    if (audit_signer_from_p11(n->saml_key, &signer) != 0) {
        log_message(LOG_ERROR, "start_failed", "audit log: the SAML key cannot sign "
                    "checkpoints (RSA or EC P-256 keys only)");
        goto out;
    }
    if (open_anchor(n, cfg, &signer) != 0)
        goto out;
    n->audit = audit_log_open(&options, error, sizeof(error));
    if (n->audit == NULL) {
        log_audit_open_failure(cfg, error);
        goto out;
    }
    rc = record_key_loaded(n, &signer, cfg);
out:
    free(rules);
    return rc;
}

void route_audit_close(node *n)
{
    audit_log_close(&n->audit);
    if (n->audit_anchor != NULL)
        free(n->audit_anchor->application);
    free(n->audit_anchor);
    n->audit_anchor = NULL;
}

/* ---- Recording ------------------------------------------------------------------ */

int route_audit_node_event(node *n, const char *kind, json_t *payload)
{
    audit_event event = {.kind = kind, .payload = payload};
    audit_status status = payload != NULL ? audit_record(n->audit, &event, NULL)
                                          : AUDIT_ERR_NO_MEMORY;

    json_decref(payload);
    if (status == AUDIT_OK)
        return 0;
    log_field fields[] = {
        {"kind", kind},
        {"status", audit_status_code(status)},
    };
    log_event(LOG_ERROR, "audit_record_failed", fields, sizeof(fields) / sizeof(fields[0]));
    return -1;
}

void route_audit_failed(http_request *request, const char *kind, audit_status status,
                        http_reply *reply)
{
    if (status == AUDIT_ERR_REPLAYED) {
        problem_set(reply, 422, saml_status_code(SAML_ERR_REPLAYED), "assertion",
                    "This assertion was presented before.");
        return;
    }
    if (status == AUDIT_ERR_REVOKED) {
        problem_set(reply, 422, "credential_revoked", "assertion",
                    "The credential was revoked by its issuer.");
        return;
    }
    log_field fields[] = {
        {"request_id", request->request_id},
        {"kind", kind},
        {"status", audit_status_code(status)},
    };
    log_event(LOG_ERROR, "audit_record_failed", fields, sizeof(fields) / sizeof(fields[0]));
    problem_set(reply, 503, "audit_unavailable", NULL,
                "The audit log could not record this request, so it was not completed. "
                "Retry later.");
    reply->retry_after = request->node->boot->retry_after_seconds;
}

bool route_audit_record(http_request *request, audit_event *event, http_reply *reply)
{
    audit_status status;

    event->actor = request->caller.identity;
    event->request_id = request->request_id;
    status = audit_record(request->node->audit, event, NULL);
    if (status == AUDIT_OK)
        return true;
    route_audit_failed(request, event->kind, status, reply);
    return false;
}

/* Adds the subject's pseudonym; a failure leaves it out rather than failing the event. */
static void add_subject(const http_request *request, json_t *payload, const char *issuer,
                        const char *name_id)
{
    char pseudonym[65];

    if (issuer != NULL && name_id != NULL &&
        audit_subject_pseudonym(request->node->audit, issuer, name_id, pseudonym) == AUDIT_OK)
        json_object_set_new(payload, "subject", json_string(pseudonym));
}

audit_status route_audit_issued(http_request *request, const store_issue *issue,
                                const json_t *attributes, audit_rows_fn write_rows,
                                void *ctx, http_reply *reply)
{
    json_t *payload = json_pack("{s:s, s:s, s:s, s:[]}", "credential_id",
                                issue->credential_id, "assertion_id", issue->assertion_id,
                                "assurance", issue->assurance, "claims");
    json_t *claims = json_object_get(payload, "claims");
    audit_event event = {.kind = "credential_issued",
                         .payload = payload,
                         .write_rows = write_rows,
                         .write_rows_ctx = ctx};
    const char *name;
    json_t *value;
    audit_status status;

    if (payload == NULL) {
        problem_internal(reply);
        return AUDIT_ERR_NO_MEMORY;
    }
    json_object_foreach((json_t *)attributes, name, value)
        json_array_append_new(claims, json_string(name));
    add_subject(request, payload, request->snapshot->cfg->entity_id, issue->subject_name_id);

    event.actor = request->caller.identity;
    event.request_id = request->request_id;
    status = audit_record(request->node->audit, &event, NULL);
    if (status != AUDIT_OK && status != AUDIT_ERR_CONFLICT)
        route_audit_failed(request, event.kind, status, reply);
    json_decref(payload);
    return status;
}

json_t *route_audit_claim_decisions(const json_t *disclosed, const json_t *withheld)
{
    json_t *list = json_array();
    const char *name;
    const json_t *value;
    size_t index;

    json_object_foreach((json_t *)disclosed, name, value)
        json_array_append_new(list, json_pack("{s:s, s:s}", "claim", name, "decision",
                                              "disclosed"));
    json_array_foreach(withheld, index, value)
        json_array_append_new(list,
                              json_pack("{s:O, s:s, s:O}", "claim",
                                        json_object_get(value, "claim"), "decision",
                                        "withheld", "reason",
                                        json_object_get(value, "reason")));
    return list;
}

json_t *route_audit_refused_claims(const json_t *claims)
{
    json_t *list = json_array();
    const json_t *item;
    size_t index;

    json_array_foreach(claims, index, item) {
        json_t *copy = json_deep_copy(item);
        const char *decision = json_string_value(json_object_get(item, "decision"));

        if (copy == NULL || json_array_append_new(list, copy) != 0) {
            json_decref(list);
            return NULL;
        }
        if (decision != NULL && strcmp(decision, "withheld") == 0)
            continue;
        json_object_set_new(copy, "decision", json_string("withheld"));
        json_object_set_new(copy, "reason", json_string("consent_refused"));
        json_object_del(copy, "derived");
    }
    return list;
}

json_t *route_audit_verification_payload(const audit_verification *v)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O*, s:s*, s:s*}", "decision",
                     v->decision, "issuer", v->issuer, "assertion_id", v->assertion_id,
                     "purpose", v->purpose, "rule", v->rule, "claims", v->claims, "policy",
                     v->policy, "consent_id", v->consent_id, "consent_required",
                     v->consent_required);
}

/* The verification_decided event of v, with the payload in *payload for the caller to
 * release. Returns false when the payload cannot be built. */
static bool verification_event(const http_request *request, const audit_verification *v,
                               const char *rp_id, const char *jurisdiction,
                               const saml_assertion *assertion, audit_event *event,
                               json_t **payload)
{
    *payload = v->claims != NULL ? route_audit_verification_payload(v) : NULL;
    if (*payload == NULL)
        return false;
    add_subject(request, *payload, assertion->issuer, assertion->name_id);
    *event = (audit_event){
        .kind = "verification_decided",
        .actor = request->caller.identity,
        .relying_party = rp_id,
        .jurisdiction = jurisdiction,
        .request_id = request->request_id,
        .payload = *payload,
        .replay_issuer = v->replay_issuer,
        .replay_id = v->replay_id,
        .replay_until = v->replay_until,
        .replay_credential = v->replay_credential,
        .write_rows = v->write_rows,
        .write_rows_ctx = v->write_rows_ctx,
    };
    return true;
}

bool route_audit_verification(http_request *request, const audit_verification *v,
                              const char *rp_id, const char *jurisdiction,
                              const saml_assertion *assertion, http_reply *reply)
{
    audit_event event;
    json_t *payload;
    bool ok;

    if (!verification_event(request, v, rp_id, jurisdiction, assertion, &event, &payload)) {
        problem_internal(reply);
        return false;
    }
    ok = route_audit_record(request, &event, reply);
    json_decref(payload);
    return ok;
}

audit_status route_audit_verification_async(http_request *request,
                                            const audit_verification *v, const char *rp_id,
                                            const char *jurisdiction,
                                            const saml_assertion *assertion,
                                            audit_done_fn on_done, void *ctx)
{
    audit_event event;
    json_t *payload;
    audit_status status;

    if (!verification_event(request, v, rp_id, jurisdiction, assertion, &event, &payload))
        return AUDIT_ERR_NO_MEMORY;
    status = audit_record_async(request->node->audit, &event, on_done, ctx);
    json_decref(payload);
    return status;
}

bool route_audit_subject_event(http_request *request, const char *kind, int64_t subject_id,
                               const char *relying_party, const char *jurisdiction,
                               json_t *payload, http_reply *reply)
{
    audit_event event;

    return route_audit_subject_prepare(request, kind, subject_id, relying_party,
                                       jurisdiction, payload, &event, reply) &&
           route_audit_record(request, &event, reply);
}

bool route_audit_subject_prepare(http_request *request, const char *kind, int64_t subject_id,
                                 const char *relying_party, const char *jurisdiction,
                                 json_t *payload, audit_event *event, http_reply *reply)
{
    store *s = request->node->store;
    char *name_id = NULL;
    char pseudonym[65];
    audit_status status = AUDIT_ERR_NOT_FOUND;

    if (payload == NULL) {
        problem_internal(reply);
        return false;
    }
    /* Every subject of the pages has credentials of this node, whose SAML issuer is the
     * node itself, so this is the pseudonym of its credential_issued entries. Without it
     * the event could not be tied to the subject, so the request fails instead. */
    if (s->ops->web->subject_name_id(s, subject_id, &name_id) == STORE_OK)
        status = audit_subject_pseudonym(request->node->audit,
                                         request->snapshot->cfg->entity_id, name_id,
                                         pseudonym);
    free(name_id);
    if (status != AUDIT_OK) {
        log_message(LOG_ERROR, "audit_subject_unknown", "%s: the pseudonym of subject %lld "
                    "could not be computed: %s", kind, (long long)subject_id,
                    audit_status_code(status));
        problem_internal(reply);
        return false;
    }
    json_object_set_new(payload, "subject", json_string(pseudonym));
    *event = (audit_event){
        .kind = kind,
        .actor = request->caller.identity,
        .relying_party = relying_party,
        .jurisdiction = jurisdiction,
        .request_id = request->request_id,
        .payload = payload,
    };
    return true;
}

/* A rejection whose audit entry is being committed. */
typedef struct rejection_job {
    http_request *request;
    audit_status recorded;
} rejection_job;

static void rejection_recorded(void *ctx, audit_status status)
{
    rejection_job *job = ctx;

    job->recorded = status;
    http_request_resume(job->request);
}

static void finish_rejection(http_request *request, http_reply *reply, void *ctx)
{
    rejection_job *job = ctx;

    if (job->recorded != AUDIT_OK)
        route_audit_failed(request, "verification_decided", job->recorded, reply);
    free(job);
}

void route_audit_rejection(http_request *request, const char *purpose, const store_rp *rp,
                           http_reply *reply)
{
    audit_event event = {.kind = "verification_decided",
                         .actor = request->caller.identity,
                         .relying_party = rp->id,
                         .jurisdiction = rp->jurisdiction,
                         .request_id = request->request_id};
    rejection_job *job;
    json_t *payload;
    audit_status status;

    if (reply->status != 422 || reply->code == NULL)
        return;
    job = calloc(1, sizeof(*job));
    payload = json_pack("{s:s, s:s, s:s?}", "decision", "rejected", "reason", reply->code,
                        "purpose", purpose);
    if (job == NULL || payload == NULL) {
        free(job);
        json_decref(payload);
        problem_internal(reply);
        return;
    }
    event.payload = payload;
    job->request = request;
    http_request_defer(request, finish_rejection, job);
    status = audit_record_async(request->node->audit, &event, rejection_recorded, job);
    json_decref(payload);
    if (status != AUDIT_OK) {
        /* Nothing was queued: finish_rejection reports the failure. */
        job->recorded = status;
        http_request_resume(request);
    }
}

/* ---- Query parameters ------------------------------------------------------------- */

/*
 * Reads a decimal query parameter. Returns 1 with *out set, 0 when it is absent and
 * optional, or -1 with a 400 problem in reply.
 */
static int query_number(const http_request *request, const char *name, bool required,
                        uint64_t *out, http_reply *reply)
{
    const char *text = http_request_query(request, name);
    char *end = NULL;

    if (text == NULL) {
        if (!required)
            return 0;
        problem_set(reply, 400, "parameter_missing", name,
                    "The query parameter %s is required.", name);
        return -1;
    }
    errno = 0;
    if (text[0] >= '0' && text[0] <= '9' && strlen(text) <= 20)
        *out = strtoull(text, &end, 10);
    if (end == NULL || *end != '\0' || errno != 0 || *out > INT64_MAX) {
        problem_set(reply, 400, "parameter_invalid", name,
                    "The query parameter %s must be a decimal integer from 0 to 2^63 - 1.",
                    name);
        return -1;
    }
    return 1;
}

static bool check_size(uint64_t size, const char *name, uint64_t tree_size,
                       http_reply *reply)
{
    if (size <= tree_size)
        return true;
    problem_set(reply, 400, "size_beyond_log", name,
                "%s is larger than the log, which has %llu entries.", name,
                (unsigned long long)tree_size);
    return false;
}

/* ---- Replies ---------------------------------------------------------------------- */

static json_t *hash_json(const audit_merkle_hash *hash)
{
    char hex[65];

    audit_hash_hex(hash, hex);
    return json_string(hex);
}

static json_t *proof_json(const audit_merkle_proof *proof)
{
    json_t *list = json_array();

    for (size_t i = 0; i < proof->count; i++)
        json_array_append_new(list, hash_json(&proof->hashes[i]));
    return list;
}

static json_t *signature_json(const unsigned char *bytes, size_t len)
{
    char text[4 * AUDIT_SIGNATURE_MAX / 3 + 8];

    EVP_EncodeBlock((unsigned char *)text, bytes, (int)len);
    return json_string(text);
}

static void reply_merkle_failure(http_reply *reply, audit_merkle_status status)
{
    log_message(LOG_ERROR, "audit_proof_failed", "proof generation failed: %s",
                audit_merkle_status_message(status));
    problem_internal(reply);
}

/* ---- Handlers --------------------------------------------------------------------- */

void route_audit_checkpoint_get(http_request *request, http_reply *reply)
{
    audit_checkpoint checkpoint = {0};
    audit_status status = audit_log_checkpoint(request->node->audit, &checkpoint);
    char when[32];

    if (status == AUDIT_ERR_SIGN_FAILED) {
        problem_hsm_unavailable(reply, request->node->boot->retry_after_seconds);
        return;
    }
    /* The database failed to store the new checkpoint, as on a full disk: the next call
     * signs it again. */
    if (status == AUDIT_ERR_STORE_FAILED) {
        problem_set(reply, 503, "store_unavailable", NULL,
                    "The database could not store the checkpoint. Retry later.");
        reply->retry_after = request->node->boot->retry_after_seconds;
        return;
    }
    if (status != AUDIT_OK) {
        problem_internal(reply);
        return;
    }
    route_format_time(checkpoint.signed_at, when);
    http_reply_json(reply, 200,
                    json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:o}", "tree_size",
                              (json_int_t)checkpoint.head.size, "root_hash",
                              hash_json(&checkpoint.head.root), "time", when, "node",
                              checkpoint.node_id, "key_id", checkpoint.key_id, "algorithm",
                              checkpoint.algorithm, "body", checkpoint.body, "signature",
                              signature_json(checkpoint.signature,
                                             checkpoint.signature_len)));
    audit_checkpoint_clear(&checkpoint);
}

/*
 * Sets name to the len bytes of text, or to null for NULL. A text that is not valid UTF-8
 * or contains a NUL byte, which the node never writes because it writes entries in ASCII,
 * was edited in the database. JSON cannot carry it whole, so its bytes go to hex_name as
 * lowercase hex, and name is left out, as 'idsvc-admin audit export' does.
 */
static int set_text(json_t *item, const char *name, const char *hex_name, const char *text,
                    size_t len)
{
    json_t *value = NULL;
    char *hex;
    int rc;

    if (text == NULL)
        value = json_null();
    else if (memchr(text, '\0', len) == NULL)
        value = json_stringn(text, len);
    if (value != NULL)
        return json_object_set_new(item, name, value);
    hex = malloc(2 * len + 1);
    if (hex == NULL)
        return -1;
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)text[i]);
    hex[2 * len] = '\0';
    rc = json_object_set_new(item, hex_name, json_string(hex));
    free(hex);
    return rc;
}

/* An entry with its payload text, which the entry text of version 2 names by its
 * SHA-256. payload is null for version 1, whose entry text contains the payload, and
 * after a purge. entry is null only for a purged entry of version 1. A row edited in
 * the database is served as stored rather than failing the page with a 500: leaf_hash
 * is null when the stored one is not 32 bytes, and texts go through set_text. */
static int append_entry(void *ctx, const audit_row *row)
{
    json_t *item = json_pack("{s:I, s:o}", "index", (json_int_t)row->index, "leaf_hash",
                             row->leaf_hash_invalid ? json_null()
                                                    : hash_json(&row->leaf_hash));

    if (item == NULL || set_text(item, "entry", "entry_hex", row->text, row->text_len) != 0 ||
        set_text(item, "payload", "payload_hex", row->payload, row->payload_len) != 0) {
        json_decref(item);
        return -1;
    }
    if (row->purged_at != 0) {
        char when[32];

        route_format_time((time_t)row->purged_at, when);
        json_object_set_new(item, "purged_at", json_string(when));
    }
    return json_array_append_new(ctx, item);
}

void route_audit_entries_list(http_request *request, http_reply *reply)
{
    uint64_t tree_size = audit_log_head(request->node->audit).size;
    uint64_t from = 0;
    uint64_t to = tree_size;
    uint64_t end;
    audit_filter filter;
    json_t *entries;
    json_t *doc;

    /* from is checked against the log too, because without to the reply would blame a
     * to that the caller never sent. */
    if (query_number(request, "from", true, &from, reply) < 0 ||
        query_number(request, "to", false, &to, reply) < 0 ||
        !check_size(from, "from", tree_size, reply) || !check_size(to, "to", tree_size, reply))
        return;
    if (from > to) {
        problem_set(reply, 400, "range_invalid", "from", "from must not be larger than to.");
        return;
    }

    end = to - from > ENTRIES_PAGE_MAX ? from + ENTRIES_PAGE_MAX : to;
    audit_filter_all(&filter);
    filter.from = from;
    filter.to = end;
    entries = json_array();
    if (entries == NULL || audit_store_each_entry(audit_log_store(request->node->audit),
                                                  &filter, append_entry, entries) != AUDIT_OK) {
        json_decref(entries);
        problem_internal(reply);
        return;
    }
    doc = json_pack("{s:I, s:I, s:I, s:o}", "tree_size", (json_int_t)tree_size, "from",
                    (json_int_t)from, "to", (json_int_t)end, "entries", entries);
    if (doc != NULL && end < to) {
        char next[96];

        snprintf(next, sizeof(next), "/v1/audit/entries?from=%llu&to=%llu",
                 (unsigned long long)end, (unsigned long long)to);
        json_object_set_new(doc, "next", json_string(next));
    }
    http_reply_json(reply, 200, doc);
}

void route_audit_inclusion_get(http_request *request, http_reply *reply)
{
    audit_merkle_source source = audit_store_source(audit_log_store(request->node->audit));
    uint64_t tree_size = audit_log_head(request->node->audit).size;
    uint64_t index = 0;
    uint64_t size = 0;
    audit_merkle_tree_head head;
    audit_merkle_proof proof;
    audit_merkle_hash leaf;
    audit_merkle_status status;

    if (query_number(request, "index", true, &index, reply) < 0 ||
        query_number(request, "size", true, &size, reply) < 0 ||
        !check_size(size, "size", tree_size, reply))
        return;
    if (index >= size) {
        problem_set(reply, 400, "index_out_of_range", "index",
                    "index must be smaller than size.");
        return;
    }

    status = audit_merkle_inclusion_proof(&source, index, size, &proof);
    if (status == AUDIT_MERKLE_OK)
        status = audit_merkle_tree_head_compute(&source, size, &head);
    if (status == AUDIT_MERKLE_OK && source.subtree_hash(source.ctx, 0, index, &leaf) != 0)
        status = AUDIT_MERKLE_ERR_STORE_FAILED;
    if (status != AUDIT_MERKLE_OK) {
        reply_merkle_failure(reply, status);
        return;
    }
    http_reply_json(reply, 200,
                    json_pack("{s:I, s:I, s:o, s:o, s:o}", "index", (json_int_t)index,
                              "tree_size", (json_int_t)size, "leaf_hash", hash_json(&leaf),
                              "root_hash", hash_json(&head.root), "proof",
                              proof_json(&proof)));
}

void route_audit_consistency_get(http_request *request, http_reply *reply)
{
    audit_merkle_source source = audit_store_source(audit_log_store(request->node->audit));
    uint64_t tree_size = audit_log_head(request->node->audit).size;
    uint64_t from = 0;
    uint64_t to = 0;
    audit_merkle_tree_head first;
    audit_merkle_tree_head second;
    audit_merkle_proof proof;
    audit_merkle_status status;

    if (query_number(request, "from", true, &from, reply) < 0 ||
        query_number(request, "to", true, &to, reply) < 0 ||
        !check_size(to, "to", tree_size, reply))
        return;
    if (from == 0 || from > to) {
        problem_set(reply, 400, "range_invalid", "from",
                    "from must be at least 1 and not larger than to.");
        return;
    }

    status = audit_merkle_consistency_proof(&source, from, to, &proof);
    if (status == AUDIT_MERKLE_OK)
        status = audit_merkle_tree_head_compute(&source, from, &first);
    if (status == AUDIT_MERKLE_OK)
        status = audit_merkle_tree_head_compute(&source, to, &second);
    if (status != AUDIT_MERKLE_OK) {
        reply_merkle_failure(reply, status);
        return;
    }
    http_reply_json(reply, 200,
                    json_pack("{s:I, s:I, s:o, s:o, s:o}", "first_size", (json_int_t)from,
                              "second_size", (json_int_t)to, "first_root",
                              hash_json(&first.root), "second_root",
                              hash_json(&second.root), "proof", proof_json(&proof)));
}
