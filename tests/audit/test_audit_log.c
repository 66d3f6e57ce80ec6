/*
 * The audit log in process: group commit from many threads, the tree it stores checked
 * against the independent reference of merkle_store.c, reopening, checkpoints signed in
 * a real SoftHSM2 token, retention, and pseudonyms. Each test uses a fresh SQLite file
 * migrated by store_sqlite_open.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "audit_anchor.h"
#include "audit_log.h"
#include "audit_store.h"
#include "merkle_store.h"
#include "p11.h"
#include "store.h"
#include "test_token.h"

#define THREADS 32
#define RECORDS_PER_THREAD 20

typedef struct fixture {
    test_token token;
    char db_path[PATH_MAX + 16];
    p11_token *hsm;
    p11_key *key;
    audit_signer signer;
} fixture;

static audit_log *open_log(fixture *f, const audit_retention *rules, size_t rule_count)
{
    audit_log_options options = {
        .database_path = f->db_path,
        .node_id = "https://node.example/idsvc",
        .jurisdiction = "SG",
        .signer = &f->signer,
        .retention = rules,
        .retention_count = rule_count,
    };
    char error[512] = "";
    audit_log *log = audit_log_open(&options, error, sizeof(error));

    if (log == NULL)
        fprintf(stderr, "audit_log_open: %s\n", error);
    assert_non_null(log);
    return log;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    p11_config config = {.token_label = TEST_TOKEN_LABEL};
    p11_error err = {0};
    char error[512];
    store *node_store;

    if (f == NULL || test_token_create(&f->token) != 0)
        return -1;
    snprintf(f->db_path, sizeof(f->db_path), "%s/idsvc.db", f->token.dir);
    node_store = store_sqlite_open(f->db_path, error, sizeof(error));
    if (node_store == NULL) {
        fprintf(stderr, "%s\n", error);
        return -1;
    }
    store_close(&node_store);

    config.module_path = f->token.module_path;
    config.pin_file = f->token.pin_path;
    if (p11_token_open(&config, &f->hsm, &err) != 0 ||
        p11_key_generate(f->hsm, P11_KEY_EC_P256, "audit", (const unsigned char *)"\x07", 1,
                         &f->key, &err) != 0 ||
        audit_signer_from_p11(f->key, &f->signer) != 0) {
        fprintf(stderr, "HSM: %s\n", err.message);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    p11_key_free(&f->key);
    p11_token_close(&f->hsm);
    test_token_destroy(&f->token);
    free(f);
    return 0;
}

/* ---- Reading back, with the reference implementation -------------------------------- */

typedef struct collected {
    audit_merkle_hash *leaves;
    char **texts;
    char **payloads;
    size_t count;
} collected;

static int collect(void *ctx, const audit_row *row)
{
    collected *c = ctx;

    assert_int_equal(row->index, c->count);
    c->leaves = realloc(c->leaves, (c->count + 1) * sizeof(*c->leaves));
    c->texts = realloc(c->texts, (c->count + 1) * sizeof(*c->texts));
    c->payloads = realloc(c->payloads, (c->count + 1) * sizeof(*c->payloads));
    assert_non_null(c->leaves);
    assert_non_null(c->texts);
    assert_non_null(c->payloads);
    c->leaves[c->count] = row->leaf_hash;
    c->texts[c->count] = row->text != NULL ? strdup(row->text) : NULL;
    c->payloads[c->count] = row->payload != NULL ? strdup(row->payload) : NULL;
    c->count++;
    return 0;
}

static void collected_free(collected *c)
{
    for (size_t i = 0; i < c->count; i++) {
        free(c->texts[i]);
        free(c->payloads[i]);
    }
    free(c->texts);
    free(c->payloads);
    free(c->leaves);
    memset(c, 0, sizeof(*c));
}

static void read_all(audit_log *log, collected *out)
{
    audit_filter all;

    memset(out, 0, sizeof(*out));
    audit_filter_all(&all);
    assert_int_equal(audit_store_each_entry(audit_log_store(log), &all, collect, out), AUDIT_OK);
}

/* Checks that payload hashes, by OpenSSL's SHA256 of its bytes, to the payload_sha256
 * member of the entry text. */
/* Creates the node's database, with its schema, at name in the token folder and
 * writes its path to path. */
static void create_log_database(fixture *f, const char *name, char *path, size_t size)
{
    char error[512] = "";
    store *node_store;

    snprintf(path, size, "%s/%s", f->token.dir, name);
    node_store = store_sqlite_open(path, error, sizeof(error));
    if (node_store == NULL)
        fail_msg("cannot create %s: %s", path, error);
    store_close(&node_store);
}

/* Returns the options of the node's log, signed by the fixture's signer, with no
 * database path. */
static audit_log_options node_log_options(fixture *f)
{
    audit_log_options options = {.node_id = "https://node.example/idsvc",
                                 .jurisdiction = "SG",
                                 .signer = &f->signer};

    return options;
}

/* Creates a database as create_log_database does and opens a log on it with options,
 * whose database_path becomes path. */
static audit_log *open_new_log(fixture *f, audit_log_options *options, const char *name,
                               char *path, size_t size)
{
    char error[512] = "";
    audit_log *log;

    create_log_database(f, name, path, size);
    options->database_path = path;
    log = audit_log_open(options, error, sizeof(error));
    if (log == NULL)
        fail_msg("cannot open the audit log %s: %s", path, error);
    return log;
}

static void check_payload_digest(const char *text, const char *payload)
{
    json_t *entry = json_loads(text, 0, NULL);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];

    assert_non_null(entry);
    SHA256((const unsigned char *)payload, strlen(payload), digest);
    for (size_t i = 0; i < sizeof(digest); i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    assert_string_equal(json_string_value(json_object_get(entry, "payload_sha256")), hex);
    assert_int_equal(json_integer_value(json_object_get(entry, "version")), 2);
    assert_null(json_object_get(entry, "payload"));
    json_decref(entry);
}

/* Checks the stored tree against the reference: every leaf hash against its bytes,
 * every payload against its entry's payload_sha256, the root, and every inclusion
 * proof. */
static void check_tree(audit_log *log, size_t expected)
{
    audit_merkle_source source = audit_store_source(audit_log_store(log));
    audit_merkle_tree_head head = audit_log_head(log);
    audit_merkle_hash reference;
    audit_merkle_proof proof;
    collected c;

    read_all(log, &c);
    assert_int_equal(c.count, expected);
    assert_int_equal(head.size, expected);
    for (size_t i = 0; i < c.count; i++) {
        if (c.texts[i] != NULL) {
            merkle_reference_leaf(c.texts[i], strlen(c.texts[i]), &reference);
            assert_memory_equal(reference.bytes, c.leaves[i].bytes, AUDIT_MERKLE_HASH_SIZE);
        }
        if (c.payloads[i] != NULL)
            check_payload_digest(c.texts[i], c.payloads[i]);
    }
    merkle_reference_root(c.leaves, c.count, &reference);
    assert_memory_equal(reference.bytes, head.root.bytes, AUDIT_MERKLE_HASH_SIZE);

    for (size_t i = 0; i < c.count; i++) {
        assert_int_equal(audit_merkle_inclusion_proof(&source, i, head.size, &proof),
                         AUDIT_MERKLE_OK);
        assert_int_equal(audit_merkle_verify_inclusion(&c.leaves[i], i, &head, proof.hashes,
                                                       proof.count),
                         AUDIT_MERKLE_OK);
    }
    collected_free(&c);
}

/* ---- Tests ------------------------------------------------------------------------- */

typedef struct worker {
    audit_log *log;
    unsigned number;
    unsigned failures;
} worker;

static void *record_many(void *arg)
{
    worker *w = arg;

    for (unsigned i = 0; i < RECORDS_PER_THREAD; i++) {
        json_t *payload = json_pack("{s:i, s:i}", "thread", (int)w->number, "n", (int)i);
        audit_event event = {.kind = "admin_action", .actor = "operator", .payload = payload};

        if (audit_record(w->log, &event, NULL) != AUDIT_OK)
            w->failures++;
        json_decref(payload);
    }
    return NULL;
}

static void test_group_commit_threads(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    pthread_t threads[THREADS];
    worker workers[THREADS];
    uint64_t commits = 0;
    uint64_t entries = 0;

    for (unsigned i = 0; i < THREADS; i++) {
        workers[i] = (worker){.log = log, .number = i};
        assert_int_equal(pthread_create(&threads[i], NULL, record_many, &workers[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(workers[i].failures, 0);
    }

    audit_log_stats(log, &commits, &entries);
    assert_int_equal(entries, THREADS * RECORDS_PER_THREAD);
    /* Concurrent requests share commits: fewer transactions than entries. */
    assert_true(commits < entries);
    check_tree(log, THREADS * RECORDS_PER_THREAD);
    audit_log_close(&log);

    /* Reopening loads the frontier from the stored subtrees and keeps appending. */
    log = open_log(f, NULL, 0);
    assert_int_equal(audit_log_head(log).size, THREADS * RECORDS_PER_THREAD);
    workers[0] = (worker){.log = log};
    record_many(&workers[0]);
    check_tree(log, (THREADS + 1) * RECORDS_PER_THREAD);
    audit_log_close(&log);
}

/* Signs checkpoints in a loop until the recorders finish; counts the failures. */
typedef struct signer_worker {
    audit_log *log;
    const bool *done;
    unsigned signed_count;
    unsigned failures;
} signer_worker;

static void *sign_many(void *arg)
{
    signer_worker *w = arg;

    while (!__atomic_load_n(w->done, __ATOMIC_ACQUIRE)) {
        if (audit_log_checkpoint(w->log, NULL) == AUDIT_OK)
            w->signed_count++;
        else
            w->failures++;
    }
    return NULL;
}

/* Checkpoints requested while entries are committed never see a tree that looks smaller
 * than one another request signed meanwhile. */
static void test_checkpoints_race_commits(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    pthread_t recorders[THREADS];
    pthread_t signers[4];
    worker workers[THREADS];
    signer_worker signing[4];
    bool done = false;

    for (unsigned i = 0; i < 4; i++) {
        signing[i] = (signer_worker){.log = log, .done = &done};
        assert_int_equal(pthread_create(&signers[i], NULL, sign_many, &signing[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        workers[i] = (worker){.log = log, .number = i};
        assert_int_equal(pthread_create(&recorders[i], NULL, record_many, &workers[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(recorders[i], NULL);
        assert_int_equal(workers[i].failures, 0);
    }
    __atomic_store_n(&done, true, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(signers[i], NULL);
        assert_int_equal(signing[i].failures, 0);
        assert_true(signing[i].signed_count > 0);
    }
    audit_log_close(&log);
}

static void test_record_returns_index(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    audit_event event = {.kind = "policy_loaded"};
    uint64_t first = 0;
    uint64_t second = 0;

    assert_int_equal(audit_record(log, &event, &first), AUDIT_OK);
    assert_int_equal(audit_record(log, &event, &second), AUDIT_OK);
    assert_int_equal(second, first + 1);
    audit_log_close(&log);
}

/* A wall clock stepped forward after the open does not move the purge time, so the
 * replay rows of assertions that are still valid stay. A clock stepped back, or
 * one that runs as the boot clock does, is followed. */
static void test_purge_time_ignores_forward_step(void **state)
{
    const time_t opened_wall = 1800000000;
    const time_t opened_boot = 5000;

    (void)state;
    /* One hour later on both clocks. */
    assert_int_equal(
        audit_purge_time(opened_wall, opened_boot, opened_wall + 3600, opened_boot + 3600),
        opened_wall + 3600);
    /* The wall clock stepped one day ahead a minute after the open. */
    assert_int_equal(audit_purge_time(opened_wall, opened_boot, opened_wall + 60 + 86400,
                                      opened_boot + 60),
                     opened_wall + 60);
    /* The wall clock stepped one hour back. */
    assert_int_equal(
        audit_purge_time(opened_wall, opened_boot, opened_wall - 3600, opened_boot + 60),
        opened_wall - 3600);
}

static void test_unknown_kind_rejected(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    json_t *not_object = json_string("x");
    audit_event unknown = {.kind = "claim_value_dump"};
    audit_event bad_payload = {.kind = "admin_action", .payload = not_object};
    uint64_t size = audit_log_head(log).size;

    assert_int_equal(audit_record(log, &unknown, NULL), AUDIT_ERR_INVALID_ARGUMENT);
    assert_int_equal(audit_record(log, &bad_payload, NULL), AUDIT_ERR_INVALID_ARGUMENT);
    assert_int_equal(audit_log_head(log).size, size);
    json_decref(not_object);
    audit_log_close(&log);
}

static void test_checkpoint_signed_in_hsm(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    audit_event event = {.kind = "key_generated"};
    audit_checkpoint first = {0};
    audit_checkpoint again = {0};
    EVP_PKEY *public_key = p11_key_get_public(f->key, NULL);

    assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
    assert_int_equal(audit_log_checkpoint(log, &first), AUDIT_OK);
    assert_int_equal(first.head.size, audit_log_head(log).size);
    assert_memory_equal(first.head.root.bytes, audit_log_head(log).root.bytes,
                        AUDIT_MERKLE_HASH_SIZE);
    assert_string_equal(first.algorithm, "ecdsa-sha256");
    assert_int_equal(first.signature_len, 64);
    assert_int_equal(audit_checkpoint_verify(&first, public_key), 0);

    /* No new entry: the latest checkpoint is returned, not signed again. */
    assert_int_equal(audit_log_checkpoint(log, &again), AUDIT_OK);
    assert_int_equal(again.id, first.id);

    /* One changed byte of the body breaks the signature. */
    again.body[strlen(again.body) - 2] ^= 1;
    assert_int_not_equal(audit_checkpoint_verify(&again, public_key), 0);

    EVP_PKEY_free(public_key);
    audit_checkpoint_clear(&first);
    audit_checkpoint_clear(&again);
    audit_log_close(&log);
}

#define ROOT_AB "abababababababababababababababababababababababababababababababab"

static void test_checkpoint_format_parse(void **state)
{
    audit_merkle_tree_head head = {.size = 1234};
    audit_checkpoint parsed = {0};
    char *earlier_body;
    char *body;

    (void)state;
    memset(head.root.bytes, 0xab, sizeof(head.root.bytes));
    body = audit_checkpoint_format("https://node.example/idsvc", &head, 1769860800, "00ff",
                                   12);
    assert_non_null(body);
    assert_string_equal(body, "idsvc-audit-checkpoint/v1\n"
                              "node https://node.example/idsvc\n"
                              "size 1234\n"
                              "root abababababababababababababababababababababababababababababababab\n"
                              "time 2026-01-31T12:00:00Z\n"
                              "key 00ff\n"
                              "version-2-from 12\n");
    assert_int_equal(audit_checkpoint_parse(body, &parsed), 0);
    assert_int_equal(parsed.head.size, 1234);
    assert_int_equal(parsed.signed_at, 1769860800);
    assert_true(parsed.has_version_2_from);
    assert_int_equal(parsed.version_2_from, 12);
    audit_checkpoint_clear(&parsed);

    /* A body signed before the version line still parses, without it. */
    earlier_body = strndup(body, (size_t)(strstr(body, "version-2-from") - body));
    assert_non_null(earlier_body);
    assert_int_equal(audit_checkpoint_parse(earlier_body, &parsed), 0);
    assert_false(parsed.has_version_2_from);
    audit_checkpoint_clear(&parsed);
    free(earlier_body);

    /* A version line with a leading zero, or with another name, is rejected. */
    assert_int_not_equal(audit_checkpoint_parse(
                             "idsvc-audit-checkpoint/v1\nnode n\nsize 1\nroot " ROOT_AB
                             "\ntime 2026-01-31T12:00:00Z\nkey k\nversion-2-from 01\n",
                             &parsed), 0);
    audit_checkpoint_clear(&parsed);
    assert_int_not_equal(audit_checkpoint_parse(
                             "idsvc-audit-checkpoint/v1\nnode n\nsize 1\nroot " ROOT_AB
                             "\ntime 2026-01-31T12:00:00Z\nkey k\nversion-3-from 1\n",
                             &parsed), 0);
    audit_checkpoint_clear(&parsed);

    /* An extra line, a leading zero and an impossible date are rejected. */
    assert_int_not_equal(audit_checkpoint_parse("idsvc-audit-checkpoint/v1\nnode n\nsize 01\n"
                                                "root ab\ntime 2026-01-31T12:00:00Z\nkey k\n",
                                                &parsed), 0);
    audit_checkpoint_clear(&parsed);
    body[strlen(body) - 1] = 'x';
    assert_int_not_equal(audit_checkpoint_parse(body, &parsed), 0);
    audit_checkpoint_clear(&parsed);
    free(body);
}

/* Counts an entry whose payload is kept in counts[0]. */
static int count_kept_payload(void *ctx, const audit_row *row)
{
    unsigned *counts = ctx;

    counts[row->payload != NULL && row->purged_at == 0 ? 0 : 1]++;
    return 0;
}

/* Counts purged entries by jurisdiction, SG and TH. An entry of version 2 keeps its
 * text after the purge and loses only its payload. */
static int count_purged(void *ctx, const audit_row *row)
{
    unsigned *counts = ctx;

    assert_non_null(row->text);
    if (row->purged_at > 0) {
        assert_null(row->payload);
        counts[strcmp(row->jurisdiction, "TH") == 0 ? 1 : 0]++;
    } else {
        assert_non_null(row->payload);
    }
    return 0;
}

/* Checks that the purge appended exactly one entry, the last, of kind
 * AUDIT_PURGE_KIND with expected as its payload, and that the tree of the first
 * before->size entries kept its root. */
static void check_purge_entry(audit_log *log, const audit_merkle_tree_head *before,
                              const char *expected)
{
    audit_merkle_source source = audit_store_source(audit_log_store(log));
    audit_merkle_tree_head earlier;
    json_t *entry;
    collected c;

    read_all(log, &c);
    assert_int_equal(c.count, before->size + 1);
    entry = json_loads(c.texts[c.count - 1], 0, NULL);
    assert_string_equal(json_string_value(json_object_get(entry, "kind")), AUDIT_PURGE_KIND);
    json_decref(entry);
    assert_string_equal(c.payloads[c.count - 1], expected);
    collected_free(&c);

    assert_int_equal(audit_merkle_tree_head_compute(&source, before->size, &earlier),
                     AUDIT_MERKLE_OK);
    assert_memory_equal(earlier.root.bytes, before->root.bytes, AUDIT_MERKLE_HASH_SIZE);
}

static void test_purge_keeps_proofs(void **state)
{
    fixture *f = *state;
    /* SG: one day; TH: kept forever. */
    audit_retention rules[] = {{NULL, 1}, {"TH", 0}};
    audit_log *log = open_log(f, rules, 2);
    audit_event sg = {.kind = "verification_decided", .jurisdiction = "SG"};
    audit_event th = {.kind = "verification_decided", .jurisdiction = "TH"};
    uint64_t size_before = audit_log_head(log).size;
    audit_merkle_tree_head head_before;
    unsigned purged[2] = {0, 0};
    uint64_t count = 0;
    audit_filter all;
    time_t purge_time;
    char expected[256];

    for (int i = 0; i < 5; i++) {
        assert_int_equal(audit_record(log, &sg, NULL), AUDIT_OK);
        assert_int_equal(audit_record(log, &th, NULL), AUDIT_OK);
    }
    head_before = audit_log_head(log);
    assert_int_equal(head_before.size, size_before + 10);

    /* Nothing has expired yet, and a purge that removes nothing appends nothing. */
    assert_int_equal(audit_log_purge(log, time(NULL), &count), AUDIT_OK);
    assert_int_equal(count, 0);
    assert_int_equal(audit_log_head(log).size, head_before.size);

    /* Two days later the SG payloads are gone; TH keeps its own. */
    purge_time = time(NULL) + 2 * 86400;
    assert_int_equal(audit_log_purge(log, purge_time, &count), AUDIT_OK);
    assert_true(count >= 5);
    snprintf(expected, sizeof(expected),
             "{\"purged_at\":%lld,\"rules\":[{\"days\":1,\"jurisdiction\":null},"
             "{\"days\":0,\"jurisdiction\":\"TH\"}]}",
             (long long)purge_time);
    check_purge_entry(log, &head_before, expected);
    audit_filter_all(&all);
    assert_int_equal(audit_store_each_entry(audit_log_store(log), &all, count_purged, purged),
                     AUDIT_OK);
    assert_true(purged[0] >= 5);
    assert_int_equal(purged[1], 0);

    /* The leaf hashes stayed, so every proof holds. */
    check_tree(log, head_before.size + 1);
    audit_log_close(&log);
}

/* With many jurisdictions of their own, the last one still keeps its rule: the default
 * purge must except every one of them, not as many as a fixed buffer held. */
static void test_purge_excepts_every_jurisdiction(void **state)
{
    fixture *f = *state;
    enum { NAMED = 200 };
    audit_retention rules[NAMED + 1];
    char names[NAMED][4];
    audit_log *log;
    audit_event kept_event = {.kind = "verification_decided"};
    audit_event expired = {.kind = "verification_decided", .jurisdiction = "ZZ"};
    uint64_t count = 0;

    for (int i = 0; i < NAMED; i++) {
        snprintf(names[i], sizeof(names[i]), "%c%c", 'A' + i / 26 % 26, 'A' + i % 26);
        rules[i] = (audit_retention){names[i], 0};
    }
    rules[NAMED] = (audit_retention){NULL, 1};
    log = open_log(f, rules, NAMED + 1);
    kept_event.jurisdiction = names[NAMED - 1];
    assert_int_equal(audit_record(log, &kept_event, NULL), AUDIT_OK);
    assert_int_equal(audit_record(log, &expired, NULL), AUDIT_OK);
    assert_int_equal(audit_log_purge(log, time(NULL) + 2 * 86400, &count), AUDIT_OK);
    /* Only the ZZ entry, and entries of earlier tests under the default, expire. */
    assert_true(count >= 1);
    {
        unsigned purged[2] = {0, 0};
        audit_filter filter;

        audit_filter_all(&filter);
        filter.from = audit_log_head(log).size - 3;
        filter.to = filter.from + 1;
        assert_int_equal(audit_store_each_entry(audit_log_store(log), &filter,
                                                count_kept_payload, purged),
                         AUDIT_OK);
        assert_int_equal(purged[0], 1); /* the entry of the last named jurisdiction kept */
    }
    audit_log_close(&log);
}

/* Appends an entry of version 1, as the writer did before payload digests: the payload
 * inside the hashed text, and no payload column. */
static void append_version_1(audit_store *tree_store, audit_merkle_frontier *frontier,
                             int64_t when, unsigned n)
{
    audit_store_entry entry;
    audit_store_entry *batch[1] = {&entry};
    time_t seconds = (time_t)when;
    char time_text[32];
    char text[256];
    struct tm tm;

    gmtime_r(&seconds, &tm);
    strftime(time_text, sizeof(time_text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(text, sizeof(text),
             "{\"jurisdiction\":\"SG\",\"kind\":\"verification_decided\","
             "\"node\":\"https://node.example/idsvc\",\"payload\":{\"n\":%u},"
             "\"time\":\"%s\"}",
             n, time_text);
    memset(&entry, 0, sizeof(entry));
    entry.recorded_at = when;
    entry.kind = "verification_decided";
    entry.jurisdiction = "SG";
    entry.text = text;
    entry.text_len = strlen(text);
    assert_int_equal(audit_merkle_hash_leaf(text, entry.text_len, &entry.leaf_hash),
                     AUDIT_MERKLE_OK);
    assert_int_equal(audit_store_append(tree_store, batch, 1, frontier), AUDIT_OK);
}

/* Entries 0 and 1 are of version 1, 2 and 3 of version 2, and 4 records the purge. */
static int check_mixed_purge(void *ctx, const audit_row *row)
{
    unsigned *purged = ctx;

    if (row->index == 4) {
        assert_int_equal(row->purged_at, 0);
        assert_non_null(row->payload);
        return 0;
    }
    assert_true(row->purged_at > 0);
    assert_null(row->payload);
    if (row->index < 2)
        assert_null(row->text);
    else
        assert_non_null(row->text);
    (*purged)++;
    return 0;
}

/* A log whose first entries a node wrote before payload digests: the purge removes the
 * whole text of those, and only the payload of the later ones, and every proof holds. */
static void test_purge_mixed_versions(void **state)
{
    fixture *f = *state;
    audit_retention rules[] = {{NULL, 1}};
    audit_event event = {.kind = "verification_decided"};
    int64_t three_days_ago = (int64_t)time(NULL) - 3 * 86400;
    audit_log_options options = {
        .node_id = "https://node.example/idsvc",
        .jurisdiction = "SG",
        .signer = &f->signer,
        .retention = rules,
        .retention_count = 1,
    };
    char path[PATH_MAX + 32];
    char error[512] = "";
    audit_merkle_tree_head before;
    audit_merkle_frontier frontier;
    audit_store *tree_store;
    audit_log *log;
    audit_filter all;
    unsigned purged = 0;
    uint64_t count = 0;

    create_log_database(f, "mixed.db", path, sizeof(path));
    tree_store = audit_store_open(path, false, error, sizeof(error));
    assert_non_null(tree_store);
    audit_merkle_frontier_init(&frontier);
    append_version_1(tree_store, &frontier, three_days_ago, 1);
    append_version_1(tree_store, &frontier, three_days_ago, 2);
    audit_store_close(&tree_store);

    options.database_path = path;
    log = audit_log_open(&options, error, sizeof(error));
    if (log == NULL)
        fail_msg("audit_log_open: %s", error);
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
    before = audit_log_head(log);
    check_tree(log, 4);

    assert_int_equal(audit_log_purge(log, time(NULL) + 2 * 86400, &count), AUDIT_OK);
    assert_int_equal(count, 4);
    audit_filter_all(&all);
    assert_int_equal(audit_store_each_entry(audit_log_store(log), &all, check_mixed_purge,
                                            &purged),
                     AUDIT_OK);
    assert_int_equal(purged, 4);
    before = audit_log_head(log);
    assert_int_equal(before.size, 5);

    /* A second purge finds nothing left to remove: not the purge entry's payload,
     * which is never purged, and appends nothing. */
    assert_int_equal(audit_log_purge(log, time(NULL) + 4 * 86400, &count), AUDIT_OK);
    assert_int_equal(count, 0);
    assert_memory_equal(audit_log_head(log).root.bytes, before.root.bytes,
                        AUDIT_MERKLE_HASH_SIZE);
    check_tree(log, 5);
    audit_log_close(&log);
}

static void test_pseudonym_stable(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    char first[65];
    char again[65];
    char other[65];

    assert_int_equal(audit_subject_pseudonym(log, "https://a.example", "S1", first), AUDIT_OK);
    assert_int_equal(audit_subject_pseudonym(log, "https://a.example", "S1", again), AUDIT_OK);
    assert_int_equal(audit_subject_pseudonym(log, "https://a.example", "S2", other), AUDIT_OK);
    assert_string_equal(first, again);
    assert_string_not_equal(first, other);
    assert_int_equal(strlen(first), 64);

    /* The secret survives a reopen, so pseudonyms stay stable across restarts. */
    audit_log_close(&log);
    log = open_log(f, NULL, 0);
    assert_int_equal(audit_subject_pseudonym(log, "https://a.example", "S1", again), AUDIT_OK);
    assert_string_equal(first, again);
    audit_log_close(&log);
}

/* ---- The replay cache row written with an entry ---------------------------------- */

static long long replay_rows(const fixture *f, const char *id)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    long long count = -1;

    assert_int_equal(sqlite3_open_v2(f->db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        id != NULL ? "SELECT count(*) FROM replay_cache "
                                                     "WHERE assertion_id = ?"
                                                   : "SELECT count(*) FROM replay_cache",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    if (id != NULL)
        sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        count = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

static void test_replay_id_recorded_with_entry(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    audit_event event = {
        .kind = "verification_decided",
        .replay_id = "_replay-one",
        .replay_until = time(NULL) + 3600,
    };
    uint64_t size = audit_log_head(log).size;
    uint64_t index = 0;

    assert_int_equal(audit_record(log, &event, &index), AUDIT_OK);
    assert_int_equal(index, size);
    assert_int_equal(replay_rows(f, "_replay-one"), 1);

    /* The second entry with the same ID is refused and leaves the tree alone. */
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_ERR_REPLAYED);
    assert_string_equal(audit_status_code(AUDIT_ERR_REPLAYED), "replayed");
    assert_int_equal(audit_log_head(log).size, size + 1);

    /* The row is durable: a reopened log refuses the ID as well. */
    audit_log_close(&log);
    log = open_log(f, NULL, 0);
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_ERR_REPLAYED);
    event.replay_id = "_replay-two";
    assert_int_equal(audit_record(log, &event, &index), AUDIT_OK);
    assert_int_equal(index, size + 1);
    check_tree(log, size + 2);
    audit_log_close(&log);
}

/* ---- Rows written in an entry's transaction ------------------------------------- */

static void fail_if_queued(void *ctx, audit_status status)
{
    (void)ctx;
    (void)status;
    fail_msg("an entry with added_events was queued");
}

static void keep_status(void *ctx, audit_status status)
{
    *(audit_status *)ctx = status;
}

typedef struct row_writer {
    unsigned calls;
    bool fail;
    bool conflict; /* return 1: the rows' precondition is false */
} row_writer;

/* Inserts a row in the caller's transaction, as a consent request is stored. */
static int write_test_row(struct sqlite3 *db, void *ctx)
{
    row_writer *w = ctx;

    w->calls++;
    if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS test_rows (n INTEGER);"
                         "INSERT INTO test_rows VALUES (1)",
                     NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    if (w->conflict)
        return 1;
    return w->fail ? -1 : 0;
}

static long long test_rows(const fixture *f)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    long long count = 0;

    assert_int_equal(sqlite3_open_v2(f->db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM test_rows", -1, &stmt, NULL) ==
            SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        count = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

/* Rows of write_rows commit with the entry and its replay record, or not at all. */
static void test_rows_written_with_entry(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    row_writer writer = {0};
    audit_event event = {
        .kind = "verification_decided",
        .replay_id = "_rows-one",
        .replay_until = time(NULL) + 3600,
        .write_rows = write_test_row,
        .write_rows_ctx = &writer,
    };
    uint64_t size = audit_log_head(log).size;

    /* A failing writer rolls back its row, the replay record and the entry. */
    writer.fail = true;
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_ERR_STORE_FAILED);
    assert_int_equal(writer.calls, 1);
    assert_int_equal(test_rows(f), 0);
    assert_int_equal(replay_rows(f, "_rows-one"), 0);
    assert_int_equal(audit_log_head(log).size, size);

    writer.fail = false;
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
    assert_int_equal(writer.calls, 2);
    assert_int_equal(test_rows(f), 1);
    assert_int_equal(replay_rows(f, "_rows-one"), 1);

    /* A replayed entry writes nothing. */
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_ERR_REPLAYED);
    assert_int_equal(writer.calls, 2);
    assert_int_equal(test_rows(f), 1);
    check_tree(log, size + 1);

    /* audit_record_async writes the rows with its entry too. It copies the event to a new
     * address, so it rejects added_events, whose entry must stay where it was filled. */
    const audit_event *const no_events[1] = {NULL};
    size_t no_count = 0;
    audit_status async_status = AUDIT_ERR_CLOSED;

    event.replay_id = "_rows-async";
    event.added_events = no_events;
    event.added_count = &no_count;
    assert_int_equal(audit_record_async(log, &event, fail_if_queued, NULL),
                     AUDIT_ERR_INVALID_ARGUMENT);
    event.added_events = NULL;
    event.added_count = NULL;
    assert_int_equal(audit_record_async(log, &event, keep_status, &async_status), AUDIT_OK);
    audit_log_close(&log); /* commits what is queued */
    assert_int_equal(async_status, AUDIT_OK);
    assert_int_equal(writer.calls, 3);
    assert_int_equal(test_rows(f), 2);
    assert_int_equal(replay_rows(f, "_rows-async"), 1);
}

/* Inserts a row whose parent does not exist. */
static int write_orphan_row(struct sqlite3 *db, void *ctx)
{
    (void)ctx;
    return sqlite3_exec(db,
                        "CREATE TABLE IF NOT EXISTS test_parent (id INTEGER PRIMARY KEY);"
                        "CREATE TABLE IF NOT EXISTS test_child (parent INTEGER REFERENCES "
                        "test_parent (id));"
                        "INSERT INTO test_child VALUES (42)",
                        NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : -1;
}

/* Rows of write_rows keep foreign keys, as the store's own writes do. */
static void test_rows_keep_foreign_keys(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    audit_event event = {.kind = "credential_issued", .write_rows = write_orphan_row};
    uint64_t size = audit_log_head(log).size;

    assert_int_equal(audit_record(log, &event, NULL), AUDIT_ERR_STORE_FAILED);
    assert_int_equal(audit_log_head(log).size, size);
    audit_log_close(&log);
}

/* A group's entries are appended together, or none of them. */
static void test_group_all_or_none(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    row_writer writer = {.conflict = true};
    audit_event group[3] = {
        {.kind = "consent_given",
         .replay_id = "_group-one",
         .replay_until = time(NULL) + 3600,
         .write_rows = write_test_row,
         .write_rows_ctx = &writer},
        {.kind = "verification_decided"},
        {.kind = "verification_decided"},
    };
    uint64_t size = audit_log_head(log).size;
    long long rows_before = test_rows(f);

    /* A false precondition undoes the rows and the replay record, and appends nothing. */
    assert_int_equal(audit_record_group(log, group, 3), AUDIT_ERR_CONFLICT);
    assert_string_equal(audit_status_code(AUDIT_ERR_CONFLICT), "conflict");
    assert_int_equal(writer.calls, 1);
    assert_int_equal(test_rows(f), rows_before);
    assert_int_equal(replay_rows(f, "_group-one"), 0);
    assert_int_equal(audit_log_head(log).size, size);

    writer.conflict = false;
    assert_int_equal(audit_record_group(log, group, 3), AUDIT_OK);
    assert_int_equal(test_rows(f), rows_before + 1);
    assert_int_equal(audit_log_head(log).size, size + 3);

    /* A replayed first entry turns the whole group down. */
    assert_int_equal(audit_record_group(log, group, 3), AUDIT_ERR_REPLAYED);
    assert_int_equal(audit_log_head(log).size, size + 3);
    check_tree(log, size + 3);

    /* Only the first event may carry checks, and a group has at least one entry. */
    group[0].replay_id = NULL;
    group[0].write_rows = NULL;
    group[2].replay_id = "_group-two";
    assert_int_equal(audit_record_group(log, group, 3), AUDIT_ERR_INVALID_ARGUMENT);
    assert_int_equal(audit_record_group(log, group, 0), AUDIT_ERR_INVALID_ARGUMENT);
    assert_int_equal(audit_log_head(log).size, size + 3);
    audit_log_close(&log);
}

/* A revocation records one entry per removed key, so a group may be long: 200 entries
 * commit together, or none of them. */
static void test_long_group_all_or_none(void **state)
{
    enum { LONG_GROUP = 200 };
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    row_writer writer = {.conflict = true};
    audit_event group[LONG_GROUP];
    uint64_t size = audit_log_head(log).size;

    for (size_t i = 0; i < LONG_GROUP; i++)
        group[i] = (audit_event){.kind = "authenticator_removed"};
    group[0].kind = "credential_revoked";
    group[0].write_rows = write_test_row;
    group[0].write_rows_ctx = &writer;

    assert_int_equal(audit_record_group(log, group, LONG_GROUP), AUDIT_ERR_CONFLICT);
    assert_int_equal(audit_log_head(log).size, size);

    writer.conflict = false;
    assert_int_equal(audit_record_group(log, group, LONG_GROUP), AUDIT_OK);
    assert_int_equal(audit_log_head(log).size, size + LONG_GROUP);
    check_tree(log, size + LONG_GROUP);
    audit_log_close(&log);
}

/* ---- The tree against the latest signed checkpoint at open -------------------------- */

/* Makes a database of its own with 10 entries and a checkpoint of all 10, so that the
 * tampering leaves the shared database alone. */
static void make_signed_log(fixture *f, const char *name, char *path, size_t size)
{
    audit_log_options options = node_log_options(f);
    audit_event event = {.kind = "credential_issued"};
    audit_log *log;

    log = open_new_log(f, &options, name, path, size);
    for (int i = 0; i < 10; i++)
        assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
    assert_int_equal(audit_log_checkpoint(log, NULL), AUDIT_OK);
    audit_log_close(&log);
}

static void tamper(const char *path, const char *sql)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* Opens the log as audit_log_open does, with stderr sent to a temporary file, and copies
 * the log lines written meanwhile into lines. So a test can check the line that names
 * why an open failed, not only the open's own sentence, which many faults share. */
static audit_log *open_logging(const audit_log_options *options, char *error,
                               size_t error_size, char *lines, size_t lines_size)
{
    FILE *capture = tmpfile();
    int saved;
    size_t len;
    audit_log *log;

    assert_non_null(capture);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);

    log = audit_log_open(options, error, error_size);

    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(capture);
    len = fread(lines, 1, lines_size - 1, capture);
    lines[len] = '\0';
    fclose(capture);
    return log;
}

/* What read_row_facts keeps of each row. */
typedef struct row_facts {
    size_t count;
    uint64_t index[8];
    bool leaf_hash_invalid[8];
    size_t text_len[8];
} row_facts;

static int read_row_facts(void *ctx, const audit_row *row)
{
    row_facts *facts = ctx;

    if (facts->count == 8)
        return -1;
    facts->index[facts->count] = row->index;
    facts->leaf_hash_invalid[facts->count] = row->leaf_hash_invalid;
    facts->text_len[facts->count] = row->text_len;
    facts->count++;
    return 0;
}

/* Reading without bounds returns every row, also those whose columns were edited in SQL
 * into values that no time bound matches, so no route or tool loses an entry. A stored
 * leaf hash that is not 32 bytes is flagged, and a text keeps its length past a NUL. */
static void test_each_entry_reads_edited_rows(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 32];
    audit_log_options options = node_log_options(f);
    audit_event event = {.kind = "policy_loaded"};
    audit_filter all;
    row_facts facts = {0};
    audit_log *log;

    log = open_new_log(f, &options, "edited-rows.db", path, sizeof(path));
    for (int i = 0; i < 5; i++)
        assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);

    tamper(path, "UPDATE audit_entries SET recorded_at = 'x' WHERE idx = 0;"
                 "UPDATE audit_entries SET recorded_at = 9223372036854775807 WHERE idx = 1;"
                 "UPDATE audit_entries SET recorded_at = -9223372036854775808 WHERE idx = 2;"
                 "UPDATE audit_entries SET leaf_hash = X'00' WHERE idx = 3;"
                 "UPDATE audit_entries SET entry = CAST(X'7b00227d' AS TEXT) WHERE idx = 4;");
    audit_filter_all(&all);
    assert_int_equal(audit_store_each_entry(audit_log_store(log), &all, read_row_facts, &facts),
                     AUDIT_OK);
    assert_int_equal(facts.count, 5);
    for (size_t i = 0; i < facts.count; i++)
        assert_int_equal(facts.index[i], i);
    assert_false(facts.leaf_hash_invalid[2]);
    assert_true(facts.leaf_hash_invalid[3]);
    assert_int_equal(facts.text_len[4], 4);
    audit_log_close(&log);
}

/* A start compares the wall clock with the last entry's recorded_at column. A column
 * edited into a text, a negative number or one past the year 9999 fails the open and is
 * named, rather than being read as no time at all or as one that cannot be formatted. */
static void test_clock_check_names_bad_time(void **state)
{
    static const char *const values[] = {"'x'", "-9223372036854775808",
                                         "9223372036854775807", "253402300800"};
    fixture *f = *state;
    char path[PATH_MAX + 32];
    char sql[128];
    char error[512];
    audit_log_options options = node_log_options(f);
    audit_event event = {.kind = "policy_loaded"};
    audit_log *log;

    options.check_clock = true;
    log = open_new_log(f, &options, "clock-column.db", path, sizeof(path));
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
    audit_log_close(&log);

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(sql, sizeof(sql), "UPDATE audit_entries SET recorded_at = %s WHERE idx = 0",
                 values[i]);
        tamper(path, sql);
        error[0] = '\0';
        log = audit_log_open(&options, error, sizeof(error));
        if (log != NULL)
            fail_msg("the log opened with recorded_at = %s", values[i]);
        assert_non_null(strstr(error, "the recorded_at column of audit entry 0 is not an "
                                      "integer number of seconds from 0 to 253402300799"));
    }
}

/* The latest checkpoint is chosen by its tree_size column, which its signature does not
 * cover. A column lowered on the newest checkpoint, or raised on an older one, would let
 * the open compare the log with an older checkpoint, so the open fails. */
static void test_latest_checkpoint_columns_checked(void **state)
{
    static const char *const edits[] = {
        "UPDATE audit_checkpoints SET tree_size = 0 WHERE id = 2",
        "UPDATE audit_checkpoints SET tree_size = 99 WHERE id = 1",
        "UPDATE audit_checkpoints SET tree_size = 'x' WHERE id = 2",
        "UPDATE audit_checkpoints SET id = 0 WHERE id = 2",
    };
    fixture *f = *state;
    char path[PATH_MAX + 32];
    char copy[PATH_MAX + 48];
    char command[3 * PATH_MAX];
    char error[512];
    char lines[4096];
    audit_log_options options = node_log_options(f);
    audit_event event = {.kind = "policy_loaded"};
    audit_log *log;

    log = open_new_log(f, &options, "checkpoint-columns.db", path, sizeof(path));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
        assert_int_equal(audit_log_checkpoint(log, NULL), AUDIT_OK);
    }
    audit_log_close(&log);

    snprintf(copy, sizeof(copy), "%s.copy", path);
    options.database_path = copy;
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        snprintf(command, sizeof(command), "cp '%s' '%s'", path, copy);
        assert_int_equal(test_run(command), 0);
        tamper(copy, edits[i]);
        error[0] = '\0';
        log = open_logging(&options, error, sizeof(error), lines, sizeof(lines));
        if (log != NULL)
            fail_msg("the log opened after: %s", edits[i]);
        assert_string_equal(error, "cannot read the latest audit checkpoint; the "
                                   "audit_store_error line before this one says why");
        if (strstr(lines, "a tree_size or id column of audit_checkpoints was edited") == NULL)
            fail_msg("after %s, no line names the edited column: %s", edits[i], lines);
    }
}

/* A row moved below index 0 in place of entry 0 keeps the count of rows equal to the
 * largest index plus 1. So the open checks the smallest index too and names the cause,
 * before a later check reads index -1 as 2^64 - 1. */
static void test_open_rejects_negative_index(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 32];
    char error[512];
    char lines[4096];
    audit_log_options options = node_log_options(f);
    audit_event event = {.kind = "policy_loaded"};
    audit_log *log;

    log = open_new_log(f, &options, "negative-index.db", path, sizeof(path));
    for (int i = 0; i < 4; i++)
        assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
    assert_int_equal(audit_log_checkpoint(log, NULL), AUDIT_OK);
    audit_log_close(&log);

    tamper(path, "UPDATE audit_entries SET idx = -1 WHERE idx = 0");
    error[0] = '\0';
    log = open_logging(&options, error, sizeof(error), lines, sizeof(lines));
    if (log != NULL) {
        audit_log_close(&log);
        fail_msg("the log opened without entry 0");
    }
    assert_string_equal(error, "cannot read the size of the audit log; the "
                               "audit_store_error line before this one says why");
    if (strstr(lines, "audit_entries has an index below 0, -1") == NULL)
        fail_msg("no line names the index below 0: %s", lines);
}

/* Returns the error of an open that must fail; the caller frees it. */
static char *open_error(fixture *f, const char *path)
{
    audit_log_options options = {.database_path = path,
                                 .node_id = "https://node.example/idsvc",
                                 .jurisdiction = "SG",
                                 .signer = &f->signer};
    char error[512] = "";
    audit_log *log = audit_log_open(&options, error, sizeof(error));

    if (log != NULL) {
        audit_log_close(&log);
        fail_msg("the tampered log opened: %s", path);
    }
    return strdup(error);
}

/* A log shorter than its latest checkpoint, or whose leaves no longer hash to the
 * checkpoint's root, does not open, so the HSM never signs a forked tree. */
static void test_open_checks_checkpoint(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 32];
    char *error;

    make_signed_log(f, "truncated.db", path, sizeof(path));
    tamper(path, "DELETE FROM audit_entries WHERE idx >= 7;"
                 "DELETE FROM audit_nodes WHERE (idx + 1) << level > 7");
    error = open_error(f, path);
    assert_non_null(strstr(error, "the audit log has 7 entries, but checkpoint 1 signed 10"));
    free(error);

    make_signed_log(f, "edited.db", path, sizeof(path));
    tamper(path, "UPDATE audit_nodes SET hash = zeroblob(32) WHERE level = 3 AND idx = 0");
    error = open_error(f, path);
    assert_non_null(strstr(error, "the first 10 audit entries do not hash to the root"));
    free(error);

    /* A checkpoint whose signature no longer holds, as after a rewrite of the tree and
     * of the checkpoint's root together. */
    make_signed_log(f, "resigned.db", path, sizeof(path));
    tamper(path, "UPDATE audit_checkpoints SET signature = zeroblob(length(signature))");
    error = open_error(f, path);
    assert_non_null(strstr(error, "the signature of audit checkpoint 1 does not verify"));
    free(error);

    /* Entries deleted past the checkpoint leave subtree hashes that cover them. */
    make_signed_log(f, "tail.db", path, sizeof(path));
    make_signed_log(f, "tail.db", path, sizeof(path)); /* 20 entries, checkpoint of 20 */
    tamper(path, "DELETE FROM audit_checkpoints; DELETE FROM audit_entries WHERE idx >= 18");
    error = open_error(f, path);
    assert_non_null(strstr(error, "the audit log has 18 entries, but 2 stored subtree hashes "
                                  "cover later ones"));
    free(error);

    /* The first text of version 2 deleted, to pass for a purged entry of version 1:
     * the checkpoint signs where version 2 starts. */
    make_signed_log(f, "text-deleted.db", path, sizeof(path));
    tamper(path, "UPDATE audit_entries SET entry = NULL, payload = NULL,"
                 " purged_at = recorded_at + 86400 WHERE idx = 0");
    error = open_error(f, path);
    assert_non_null(strstr(error, "checkpoint 1 signed that the audit entries of version 2 "
                                  "start at index 0, but the database has its first one at "
                                  "index 1; entry texts were deleted"));
    free(error);

    /* The untouched log opens and keeps growing. */
    make_signed_log(f, "intact.db", path, sizeof(path));
    make_signed_log(f, "intact.db", path, sizeof(path));
}

/* ---- The anchor, kept in memory in place of the HSM -------------------------------- */

typedef struct memory_anchor {
    char *text;      /* NULL: no anchor */
    bool fail_write; /* the HSM rejects writes */
    int writes;
} memory_anchor;

static int memory_anchor_read(void *ctx, char **text, char *error, size_t error_size)
{
    memory_anchor *anchor = ctx;

    (void)error;
    (void)error_size;
    *text = anchor->text != NULL ? strdup(anchor->text) : NULL;
    return 0;
}

static int memory_anchor_write(void *ctx, const char *text, char *error, size_t error_size)
{
    memory_anchor *anchor = ctx;

    if (anchor->fail_write) {
        snprintf(error, error_size, "C_CreateObject returned CKR_DEVICE_MEMORY");
        return -1;
    }
    free(anchor->text);
    anchor->text = strdup(text);
    anchor->writes++;
    return 0;
}

/* Opens path with the fixture's signer and anchor; returns NULL with error filled. */
static audit_log *open_anchored(fixture *f, memory_anchor *anchor, const char *path,
                                char *error, size_t error_size)
{
    audit_signer signer = f->signer;
    audit_log_options options = {.database_path = path,
                                 .node_id = "https://node.example/idsvc",
                                 .jurisdiction = "SG",
                                 .signer = &signer};

    signer.anchor_read = memory_anchor_read;
    signer.anchor_write = memory_anchor_write;
    signer.anchor_ctx = anchor;
    error[0] = '\0';
    return audit_log_open(&options, error, error_size);
}

/* Makes a database at name in the token folder with count entries and a checkpoint,
 * written with anchor. */
static void make_anchored_log(fixture *f, memory_anchor *anchor, const char *name,
                              int count, char *path, size_t size)
{
    audit_event event = {.kind = "credential_issued"};
    char error[512];
    audit_log *log;

    create_log_database(f, name, path, size);
    log = open_anchored(f, anchor, path, error, sizeof(error));
    if (log == NULL)
        fail_msg("open: %s", error);
    for (int i = 0; i < count; i++)
        assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
    assert_int_equal(audit_log_checkpoint(log, NULL), AUDIT_OK);
    audit_log_close(&log);
}

static void expect_open_error(fixture *f, memory_anchor *anchor, const char *path,
                              const char *expected)
{
    char error[512];
    audit_log *log = open_anchored(f, anchor, path, error, sizeof(error));

    if (log != NULL) {
        audit_log_close(&log);
        fail_msg("the log opened, expected: %s", expected);
    }
    if (strstr(error, expected) == NULL)
        fail_msg("'%s' lacks '%s'", error, expected);
}

/* Replaces the first occurrence of from in the anchor text with to, of equal length. */
static void edit_anchor(memory_anchor *anchor, const char *from, const char *to)
{
    char *at = strstr(anchor->text, from);

    assert_non_null(at);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(at, to, strlen(to));
}

static void test_anchor_written_at_checkpoint(void **state)
{
    fixture *f = *state;
    memory_anchor anchor = {0};
    audit_anchor parsed;
    audit_checkpoint latest = {0};
    audit_store *store_handle;
    char path[PATH_MAX + 32];
    char error[512];

    /* Two writes: the empty log's checkpoint at its first open, then that of 5. */
    make_anchored_log(f, &anchor, "anchored.db", 5, path, sizeof(path));
    assert_non_null(anchor.text);
    assert_int_equal(anchor.writes, 2);
    assert_int_equal(audit_anchor_parse(anchor.text, &parsed), 0);
    assert_false(parsed.reset);
    assert_int_equal(parsed.checkpoint.head.size, 5);

    /* The anchor carries the stored checkpoint's body byte for byte. */
    store_handle = audit_store_open(path, true, error, sizeof(error));
    assert_non_null(store_handle);
    assert_int_equal(audit_store_latest_checkpoint(store_handle, &latest), AUDIT_OK);
    assert_string_equal(parsed.checkpoint.body, latest.body);
    assert_int_equal(strncmp(anchor.text, AUDIT_ANCHOR_HEADER "\nlog ", 26), 0);
    audit_checkpoint_clear(&latest);
    audit_store_close(&store_handle);
    audit_anchor_clear(&parsed);
    free(anchor.text);
}

static void test_anchor_mismatch_rejected(void **state)
{
    fixture *f = *state;
    memory_anchor anchor = {0};
    char path[PATH_MAX + 32];
    char error[512];
    char *saved;
    char *root_line;
    char changed_root[5];
    audit_log *log;

    make_anchored_log(f, &anchor, "mismatch.db", 6, path, sizeof(path));
    saved = strdup(anchor.text);

    /* Another root for the same size: entries rewritten below an intact count. */
    root_line = strstr(anchor.text, "\nroot ") + 6;
    snprintf(changed_root, sizeof(changed_root), "%s", root_line[0] == '0' ? "1111" : "0000");
    memcpy(root_line, changed_root, 4);
    expect_open_error(f, &anchor, path, "the audit anchor in the HSM records root ");
    expect_open_error(f, &anchor, path, "for the first 6 entries, but they hash to ");

    /* A larger size than the log has. */
    free(anchor.text);
    anchor.text = strdup(saved);
    edit_anchor(&anchor, "\nsize 6\n", "\nsize 9\n");
    expect_open_error(f, &anchor, path, "records 9 entries, but the log has 6");

    /* Another log ID: its first hex digit changed. */
    free(anchor.text);
    anchor.text = strdup(saved);
    anchor.text[strlen(AUDIT_ANCHOR_HEADER) + 5] =
        anchor.text[strlen(AUDIT_ANCHOR_HEADER) + 5] == 'a' ? 'b' : 'a';
    expect_open_error(f, &anchor, path, "the database was replaced");

    /* A text that is not an anchor. */
    free(anchor.text);
    anchor.text = strdup("something else\n");
    expect_open_error(f, &anchor, path, "is not in the " AUDIT_ANCHOR_HEADER " format");

    /* The intact anchor opens, and so does an anchor of a shorter tree. */
    free(anchor.text);
    anchor.text = strdup(saved);
    log = open_anchored(f, &anchor, path, error, sizeof(error));
    if (log == NULL)
        fail_msg("open: %s", error);
    audit_log_close(&log);
    free(anchor.text);
    free(saved);
}

static void test_anchor_write_failure_kept(void **state)
{
    fixture *f = *state;
    memory_anchor anchor = {0};
    audit_event event = {.kind = "credential_issued"};
    audit_checkpoint checkpoint = {0};
    char path[PATH_MAX + 32];
    char error[512];
    char *before;
    audit_log *log;

    make_anchored_log(f, &anchor, "write-fails.db", 3, path, sizeof(path));
    before = strdup(anchor.text);
    anchor.fail_write = true;
    log = open_anchored(f, &anchor, path, error, sizeof(error));
    assert_non_null(log);
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);

    /* The checkpoint is signed and stored although the anchor was not written. */
    assert_int_equal(audit_log_checkpoint(log, &checkpoint), AUDIT_OK);
    assert_int_equal(checkpoint.head.size, 4);
    assert_string_equal(anchor.text, before);
    audit_checkpoint_clear(&checkpoint);
    audit_log_close(&log);

    /* The older anchor still holds for the longer log, and the next checkpoint writes. */
    anchor.fail_write = false;
    log = open_anchored(f, &anchor, path, error, sizeof(error));
    assert_non_null(log);
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
    assert_int_equal(audit_log_checkpoint(log, NULL), AUDIT_OK);
    assert_non_null(strstr(anchor.text, "\nsize 5\n"));
    audit_log_close(&log);
    free(before);
    free(anchor.text);
}

/* A new log whose first anchor cannot be written does not open: it would not start
 * again once it had entries. */
static void test_first_anchor_must_be_written(void **state)
{
    fixture *f = *state;
    memory_anchor anchor = {.fail_write = true};
    char path[PATH_MAX + 32];
    char error[512];
    audit_log *log;

    create_log_database(f, "first-anchor.db", path, sizeof(path));
    log = open_anchored(f, &anchor, path, error, sizeof(error));
    assert_null(log);
    assert_non_null(strstr(error, "the first audit anchor was not written to the HSM"));
}

/* Copies the text and the payload of the entry of index 2. */
static int take_third_entry(void *ctx, const audit_row *row)
{
    char **texts = ctx;

    if (row->index == 2 && row->text != NULL && row->payload != NULL) {
        texts[0] = strdup(row->text);
        texts[1] = strdup(row->payload);
    }
    return 0;
}

static void test_anchor_reset_recorded(void **state)
{
    fixture *f = *state;
    memory_anchor anchor = {0};
    audit_anchor parsed;
    audit_filter filter;
    char *reset_texts[2] = {NULL, NULL}; /* the entry text and its payload */
    audit_store *store_handle;
    char path[PATH_MAX + 32];
    char error[512];
    char *previous;
    json_t *entry;
    json_t *payload;
    audit_log *log;

    make_anchored_log(f, &anchor, "reset.db", 4, path, sizeof(path));
    previous = anchor.text;
    anchor.text = audit_anchor_format_reset(previous, 2, 1769860800);
    assert_non_null(anchor.text);
    tamper(path, "DELETE FROM audit_checkpoints; DELETE FROM audit_entries WHERE idx >= 2;"
                 "DELETE FROM audit_nodes WHERE (idx + 1) << level > 2");

    log = open_anchored(f, &anchor, path, error, sizeof(error));
    if (log == NULL)
        fail_msg("open: %s", error);
    assert_int_equal(audit_log_head(log).size, 3); /* the 2 entries kept and the reset */
    audit_log_close(&log);

    store_handle = audit_store_open(path, true, error, sizeof(error));
    assert_non_null(store_handle);
    audit_filter_all(&filter);
    assert_int_equal(audit_store_each_entry(store_handle, &filter, take_third_entry,
                                            reset_texts),
                     AUDIT_OK);
    assert_non_null(reset_texts[0]);
    check_payload_digest(reset_texts[0], reset_texts[1]);
    entry = json_loads(reset_texts[0], 0, NULL);
    assert_non_null(entry);
    assert_string_equal(json_string_value(json_object_get(entry, "kind")), "audit_anchor_reset");
    payload = json_loads(reset_texts[1], 0, NULL);
    assert_non_null(payload);
    assert_int_equal(json_integer_value(json_object_get(payload, "previous_size")), 4);
    assert_string_equal(json_string_value(json_object_get(payload, "reset_at")),
                        "2026-01-31T12:00:00Z");
    assert_int_equal(audit_anchor_parse(previous, &parsed), 0);
    assert_string_equal(json_string_value(json_object_get(payload, "previous_log_id")),
                        parsed.log_id);
    audit_anchor_clear(&parsed);
    json_decref(payload);
    json_decref(entry);
    free(reset_texts[0]);
    free(reset_texts[1]);
    audit_store_close(&store_handle);

    /* The checkpoint after the reset replaced the marker. */
    assert_int_equal(audit_anchor_parse(anchor.text, &parsed), 0);
    assert_false(parsed.reset);
    assert_int_equal(parsed.checkpoint.head.size, 3);
    audit_anchor_clear(&parsed);
    free(previous);
    free(anchor.text);
}

static bool newer_text(const char *candidate, const char *current)
{
    return audit_anchor_newer((const unsigned char *)candidate, strlen(candidate),
                              (const unsigned char *)current, strlen(current), NULL);
}

static void test_anchor_newer_order(void **state)
{
    static const char log_id[] =
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    audit_merkle_tree_head small = {.size = 3};
    audit_merkle_tree_head large = {.size = 8};
    char *small_body = audit_checkpoint_format("n", &small, 1769860800, "k", 0);
    char *large_body = audit_checkpoint_format("n", &large, 1769860800, "k", 0);
    char *small_anchor = audit_anchor_format(log_id, 0, small_body);
    char *large_anchor = audit_anchor_format(log_id, 0, large_body);
    char *marker = audit_anchor_format_reset(small_anchor, 0, 1769860800);
    char *later_marker = audit_anchor_format_reset(small_anchor, 0, 1769860900);

    (void)state;
    assert_true(newer_text(large_anchor, small_anchor));
    assert_false(newer_text(small_anchor, large_anchor));
    /* A marker is newer than the anchor it keeps, and older than any other anchor. */
    assert_true(newer_text(marker, small_anchor));
    assert_false(newer_text(small_anchor, marker));
    assert_true(newer_text(large_anchor, marker));
    assert_false(newer_text(marker, large_anchor));
    assert_true(newer_text(later_marker, marker));
    assert_false(newer_text(marker, later_marker));
    /* A text that does not parse is never newer, and any anchor is newer than it. */
    assert_false(newer_text("garbage", small_anchor));
    assert_true(newer_text(small_anchor, "garbage"));

    free(small_body);
    free(large_body);
    free(small_anchor);
    free(large_anchor);
    free(marker);
    free(later_marker);
}

/* With generations, the last text written wins whatever its size or log ID. So the
 * choice among leftovers of interrupted writes does not depend on their order. The sets
 * are an interrupted reset, then an interrupted first write on the replacing database,
 * or on an older copy of the same database whose log is now shorter. */
static void test_anchor_generation_order(void **state)
{
    static const char first_log[] =
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    static const char second_log[] =
        "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
    audit_merkle_tree_head large = {.size = 394};
    audit_merkle_tree_head small = {.size = 1};
    char *large_body = audit_checkpoint_format("n", &large, 1769860800, "k", 0);
    char *small_body = audit_checkpoint_format("n", &small, 1769860900, "k", 0);
    char *anchor = audit_anchor_format(first_log, 1, large_body);
    char *marker = audit_anchor_format_reset(anchor, 2, 1769860850);
    char *replacing = audit_anchor_format(second_log, 3, small_body);
    char *shorter = audit_anchor_format(first_log, 3, small_body);
    const char *sets[][3] = {{anchor, marker, replacing}, {anchor, marker, shorter}};

    (void)state;
    for (size_t s = 0; s < 2; s++) {
        const char *newest = sets[s][2];

        for (size_t i = 0; i < 3; i++) {
            for (size_t j = 0; j < 3; j++) {
                if (i == j)
                    continue;
                /* Texts are listed from oldest to newest. */
                assert_int_equal(newer_text(sets[s][i], sets[s][j]), i > j);
            }
        }
        assert_true(newer_text(newest, anchor));
    }
    /* A generation line that is malformed, or leaves no room for a next generation,
     * makes the text unreadable. */
    static const char *const bad_generations[] = {"01", "18446744073709551615",
                                                  "99999999999999999999", "-1", ""};
    for (size_t i = 0; i < sizeof(bad_generations) / sizeof(bad_generations[0]); i++) {
        char text[512];

        snprintf(text, sizeof(text), "idsvc-audit-anchor/v1\nlog %s\ngeneration %s\n%s",
                 first_log, bad_generations[i], large_body);
        assert_false(newer_text(text, anchor));
        assert_true(newer_text(anchor, text));
    }

    free(large_body);
    free(small_body);
    free(anchor);
    free(marker);
    free(replacing);
    free(shorter);
}

typedef struct racer {
    audit_log *log;
    audit_status status;
} racer;

static void *record_same_id(void *arg)
{
    racer *r = arg;
    audit_event event = {
        .kind = "verification_decided",
        .replay_id = "_replay-race",
        .replay_until = time(NULL) + 3600,
    };

    r->status = audit_record(r->log, &event, NULL);
    return NULL;
}

/* Many requests present one assertion at once: exactly one entry is appended. */
static void test_replay_race_one_winner(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    uint64_t size = audit_log_head(log).size;
    pthread_t threads[THREADS];
    racer racers[THREADS];
    unsigned accepted = 0;
    unsigned replayed = 0;

    for (unsigned i = 0; i < THREADS; i++) {
        racers[i] = (racer){.log = log, .status = AUDIT_ERR_INVALID_ARGUMENT};
        assert_int_equal(pthread_create(&threads[i], NULL, record_same_id, &racers[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        accepted += racers[i].status == AUDIT_OK;
        replayed += racers[i].status == AUDIT_ERR_REPLAYED;
    }
    assert_int_equal(accepted, 1);
    assert_int_equal(replayed, THREADS - 1);
    check_tree(log, size + 1);
    audit_log_close(&log);
}

static void fill_store_entry(audit_store_entry *entry, const char *text, const char *replay_id,
                             int64_t replay_until)
{
    memset(entry, 0, sizeof(*entry));
    entry->recorded_at = time(NULL);
    entry->kind = "verification_decided";
    entry->jurisdiction = "SG";
    entry->text = text;
    entry->text_len = strlen(text);
    entry->replay_id = replay_id;
    entry->replay_until = replay_until;
    assert_int_equal(audit_merkle_hash_leaf(text, entry->text_len, &entry->leaf_hash),
                     AUDIT_MERKLE_OK);
}

/* Two entries of one batch with the same ID: the first is appended, the second is
 * marked and skipped, and the entries around them keep consecutive indexes. */
static void test_replay_within_one_batch(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    uint64_t size = audit_log_head(log).size;
    audit_merkle_frontier frontier;
    audit_merkle_source source;
    audit_store *tree_store;
    audit_store_entry entries[4];
    audit_store_entry *batch[4] = {&entries[0], &entries[1], &entries[2], &entries[3]};
    int64_t later = time(NULL) + 3600;
    char error[256];

    audit_log_close(&log);
    tree_store = audit_store_open(f->db_path, false, error, sizeof(error));
    assert_non_null(tree_store);
    source = audit_store_source(tree_store);
    assert_int_equal(audit_merkle_frontier_load(&frontier, &source, size), AUDIT_MERKLE_OK);

    fill_store_entry(&entries[0], "{\"n\":1}", "_replay-batch", later);
    fill_store_entry(&entries[1], "{\"n\":2}", NULL, 0);
    fill_store_entry(&entries[2], "{\"n\":3}", "_replay-batch", later);
    fill_store_entry(&entries[3], "{\"n\":4}", "_replay-batch-other", later);
    assert_int_equal(audit_store_append(tree_store, batch, 4, &frontier), AUDIT_OK);
    assert_false(entries[0].replayed);
    assert_false(entries[1].replayed);
    assert_true(entries[2].replayed);
    assert_false(entries[3].replayed);
    assert_int_equal(entries[0].index, size);
    assert_int_equal(entries[1].index, size + 1);
    assert_int_equal(entries[3].index, size + 2);
    assert_int_equal(frontier.size, size + 3);
    audit_store_close(&tree_store);

    log = open_log(f, NULL, 0);
    check_tree(log, size + 3);
    audit_log_close(&log);
}

/* Rows past their time are deleted once enough new ones were recorded. */
static void test_replay_rows_purged(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    uint64_t size = audit_log_head(log).size;
    audit_event event = {.kind = "verification_decided", .replay_until = 1};
    char id[32];

    for (unsigned i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "_replay-old-%u", i);
        event.replay_id = id;
        assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
    }
    /* Every one of these expired in 1970, and at least 256 rows were recorded since the
     * log opened, so a purge ran and left fewer than 300 of them. */
    assert_true(replay_rows(f, "_replay-old-0") == 0);
    assert_true(replay_rows(f, NULL) < 300);
    assert_int_equal(audit_log_head(log).size, size + 300);
    audit_log_close(&log);
}

/* ---- audit_record_async ------------------------------------------------------------ */

#define ASYNC_THREADS 8
#define ASYNC_PER_THREAD 50
#define ASYNC_SHARE_EVERY 5 /* every fifth entry of a thread shares its ID with the others */
#define ASYNC_SHARED_IDS (ASYNC_PER_THREAD / ASYNC_SHARE_EVERY)
#define ASYNC_WAIT_SECONDS 60

/* The outcome of one queued entry, written by on_done on the committing thread. */
typedef struct async_slot {
    atomic_int calls;
    _Atomic audit_status status;
} async_slot;

static atomic_uint async_done_total;

static void async_done(void *ctx, audit_status status)
{
    async_slot *slot = ctx;

    atomic_store(&slot->status, status);
    atomic_fetch_add(&slot->calls, 1);
    atomic_fetch_add(&async_done_total, 1);
}

/* Waits until async_done_total reaches expected. Returns false after
 * ASYNC_WAIT_SECONDS. */
static bool wait_async_done(unsigned expected)
{
    for (int i = 0; i < ASYNC_WAIT_SECONDS * 100; i++) {
        if (atomic_load(&async_done_total) >= expected)
            return true;
        usleep(10 * 1000);
    }
    return false;
}

static void async_replay_id(unsigned thread, unsigned i, char *out, size_t size)
{
    if (i % ASYNC_SHARE_EVERY == 0)
        snprintf(out, size, "_async-shared-%u", i / ASYNC_SHARE_EVERY);
    else
        snprintf(out, size, "_async-%u-%u", thread, i);
}

typedef struct async_worker {
    audit_log *log;
    unsigned number;
    async_slot slots[ASYNC_PER_THREAD];
    async_slot rejected_slot; /* ctx of the invalid calls, which on_done must never get */
    unsigned queue_failures;  /* valid entries that audit_record_async did not queue */
    unsigned wrong_rejections; /* invalid calls that did not return AUDIT_ERR_INVALID_ARGUMENT */
} async_worker;

static void *record_async_many(void *arg)
{
    async_worker *w = arg;
    json_t *not_object = json_string("x");
    audit_event unknown = {.kind = "claim_value_dump", .replay_id = "_async-unknown-kind"};
    audit_event bad_payload = {.kind = "verification_decided", .payload = not_object};

    for (unsigned i = 0; i < ASYNC_PER_THREAD; i++) {
        char id[64];
        json_t *payload = json_pack("{s:i, s:i}", "thread", (int)w->number, "n", (int)i);
        audit_event event = {
            .kind = "verification_decided",
            .actor = "bank-one",
            .payload = payload,
            .replay_id = id,
            .replay_until = time(NULL) + 3600,
        };

        async_replay_id(w->number, i, id, sizeof(id));
        if (audit_record_async(w->log, &event, async_done, &w->slots[i]) != AUDIT_OK)
            w->queue_failures++;
        /* The event is copied: overwriting the caller's ID must not change the entry. */
        memset(id, 'x', sizeof(id) - 1);
        id[sizeof(id) - 1] = '\0';

        if (i % 10 == 0) {
            w->wrong_rejections += audit_record_async(w->log, &unknown, async_done,
                                                      &w->rejected_slot) !=
                                   AUDIT_ERR_INVALID_ARGUMENT;
            w->wrong_rejections += audit_record_async(w->log, &bad_payload, async_done,
                                                      &w->rejected_slot) !=
                                   AUDIT_ERR_INVALID_ARGUMENT;
            w->wrong_rejections +=
                audit_record_async(w->log, &event, NULL, NULL) != AUDIT_ERR_INVALID_ARGUMENT;
        }
        json_decref(payload);
    }
    json_decref(not_object);
    return NULL;
}

/* Eight threads queue entries without waiting, and one ID of every five is shared by
 * all threads. Each on_done runs once, and each shared ID is accepted exactly once. */
static void test_async_threads_replay_once(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    uint64_t size = audit_log_head(log).size;
    pthread_t threads[ASYNC_THREADS];
    async_worker *workers = calloc(ASYNC_THREADS, sizeof(*workers));
    unsigned shared_ok[ASYNC_SHARED_IDS] = {0};
    unsigned shared_replayed[ASYNC_SHARED_IDS] = {0};
    const unsigned total = ASYNC_THREADS * ASYNC_PER_THREAD;
    unsigned expected_ok = total - ASYNC_SHARED_IDS * (ASYNC_THREADS - 1);

    assert_non_null(workers);
    atomic_store(&async_done_total, 0);
    for (unsigned t = 0; t < ASYNC_THREADS; t++) {
        workers[t].log = log;
        workers[t].number = t;
        assert_int_equal(pthread_create(&threads[t], NULL, record_async_many, &workers[t]), 0);
    }
    for (unsigned t = 0; t < ASYNC_THREADS; t++) {
        pthread_join(threads[t], NULL);
        assert_int_equal(workers[t].queue_failures, 0);
        assert_int_equal(workers[t].wrong_rejections, 0);
    }

    /* The committer thread finishes the queue on its own, without a close. */
    if (!wait_async_done(total))
        fail_msg("on_done ran %u times within %d s, expected %u",
                 atomic_load(&async_done_total), ASYNC_WAIT_SECONDS, total);

    for (unsigned t = 0; t < ASYNC_THREADS; t++) {
        assert_int_equal(atomic_load(&workers[t].rejected_slot.calls), 0);
        for (unsigned i = 0; i < ASYNC_PER_THREAD; i++) {
            async_slot *slot = &workers[t].slots[i];
            audit_status status = atomic_load(&slot->status);

            if (atomic_load(&slot->calls) != 1)
                fail_msg("on_done of thread %u entry %u ran %d times", t, i,
                         atomic_load(&slot->calls));
            if (i % ASYNC_SHARE_EVERY != 0) {
                if (status != AUDIT_OK)
                    fail_msg("thread %u entry %u with its own ID: %s", t, i,
                             audit_status_code(status));
                continue;
            }
            if (status == AUDIT_OK)
                shared_ok[i / ASYNC_SHARE_EVERY]++;
            else if (status == AUDIT_ERR_REPLAYED)
                shared_replayed[i / ASYNC_SHARE_EVERY]++;
            else
                fail_msg("thread %u entry %u with a shared ID: %s", t, i,
                         audit_status_code(status));
        }
    }
    for (unsigned k = 0; k < ASYNC_SHARED_IDS; k++) {
        char id[64];

        snprintf(id, sizeof(id), "_async-shared-%u", k);
        if (shared_ok[k] != 1)
            fail_msg("%s was accepted %u times, expected once", id, shared_ok[k]);
        assert_int_equal(shared_replayed[k], ASYNC_THREADS - 1);
        assert_int_equal(replay_rows(f, id), 1);
    }
    /* The IDs are the queued ones, not the caller's buffer as overwritten afterwards. */
    assert_int_equal(replay_rows(f, "_async-7-49"), 1);
    assert_int_equal(replay_rows(f, "_async-unknown-kind"), 0);
    check_tree(log, size + expected_ok);

    /* Closing calls no on_done a second time. */
    audit_log_close(&log);
    assert_int_equal(atomic_load(&async_done_total), total);
    free(workers);
}

typedef struct mixed_worker {
    audit_log *log;
    unsigned number;
    bool async;
    async_slot slots[RECORDS_PER_THREAD];
    unsigned failures; /* audit_record or audit_record_async calls that did not succeed */
} mixed_worker;

/* Entry 0 of every thread, sync or async, carries one shared ID. */
static void *record_mixed(void *arg)
{
    mixed_worker *w = arg;

    for (unsigned i = 0; i < RECORDS_PER_THREAD; i++) {
        char id[64];
        json_t *payload = json_pack("{s:i, s:i}", "thread", (int)w->number, "n", (int)i);
        audit_event event = {
            .kind = "verification_decided",
            .payload = payload,
            .replay_id = id,
            .replay_until = time(NULL) + 3600,
        };
        audit_status status;

        if (i == 0)
            snprintf(id, sizeof(id), "_mixed-shared");
        else
            snprintf(id, sizeof(id), "_mixed-%u-%u", w->number, i);
        if (w->async) {
            status = audit_record_async(w->log, &event, async_done, &w->slots[i]);
            w->failures += status != AUDIT_OK;
        } else {
            status = audit_record(w->log, &event, NULL);
            atomic_store(&w->slots[i].status, status);
            atomic_fetch_add(&w->slots[i].calls, 1);
        }
        json_decref(payload);
    }
    return NULL;
}

/* Callers of audit_record and of audit_record_async at the same time: both finish, and
 * an ID shared between the two kinds of caller is accepted once. */
static void test_async_mixed_with_sync(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    uint64_t size = audit_log_head(log).size;
    pthread_t threads[ASYNC_THREADS];
    mixed_worker *workers = calloc(ASYNC_THREADS, sizeof(*workers));
    unsigned async_count = 0;
    unsigned shared_ok = 0;

    assert_non_null(workers);
    atomic_store(&async_done_total, 0);
    for (unsigned t = 0; t < ASYNC_THREADS; t++) {
        workers[t].log = log;
        workers[t].number = t;
        workers[t].async = t % 2 == 0;
        async_count += workers[t].async ? RECORDS_PER_THREAD : 0;
        assert_int_equal(pthread_create(&threads[t], NULL, record_mixed, &workers[t]), 0);
    }
    for (unsigned t = 0; t < ASYNC_THREADS; t++) {
        pthread_join(threads[t], NULL);
        assert_int_equal(workers[t].failures, 0);
    }
    if (!wait_async_done(async_count))
        fail_msg("on_done ran %u times within %d s, expected %u",
                 atomic_load(&async_done_total), ASYNC_WAIT_SECONDS, async_count);

    for (unsigned t = 0; t < ASYNC_THREADS; t++) {
        for (unsigned i = 0; i < RECORDS_PER_THREAD; i++) {
            audit_status status = atomic_load(&workers[t].slots[i].status);

            assert_int_equal(atomic_load(&workers[t].slots[i].calls), 1);
            if (i == 0) {
                shared_ok += status == AUDIT_OK;
                if (status != AUDIT_OK && status != AUDIT_ERR_REPLAYED)
                    fail_msg("thread %u, shared ID: %s", t, audit_status_code(status));
            } else if (status != AUDIT_OK) {
                fail_msg("thread %u (%s) entry %u: %s", t, workers[t].async ? "async" : "sync",
                         i, audit_status_code(status));
            }
        }
    }
    assert_int_equal(shared_ok, 1);
    check_tree(log, size + ASYNC_THREADS * (RECORDS_PER_THREAD - 1) + 1);
    audit_log_close(&log);
    free(workers);
}

/* audit_log_close right after queuing: every queued entry is committed and its on_done
 * has run when close returns, and a reopened log contains the entries. */
static void test_async_close_commits_queue(void **state)
{
    enum { QUEUED = 200 };
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    uint64_t size = audit_log_head(log).size;
    async_slot *slots = calloc(QUEUED, sizeof(*slots));
    audit_event event = {.kind = "verification_decided", .replay_until = time(NULL) + 3600};
    char id[64];

    assert_non_null(slots);
    atomic_store(&async_done_total, 0);
    for (unsigned i = 0; i < QUEUED; i++) {
        snprintf(id, sizeof(id), "_close-%u", i);
        event.replay_id = id;
        assert_int_equal(audit_record_async(log, &event, async_done, &slots[i]), AUDIT_OK);
    }
    audit_log_close(&log);
    assert_null(log);

    assert_int_equal(atomic_load(&async_done_total), QUEUED);
    for (unsigned i = 0; i < QUEUED; i++) {
        assert_int_equal(atomic_load(&slots[i].calls), 1);
        if (atomic_load(&slots[i].status) != AUDIT_OK)
            fail_msg("entry %u: %s", i, audit_status_code(atomic_load(&slots[i].status)));
    }

    log = open_log(f, NULL, 0);
    assert_int_equal(audit_log_head(log).size, size + QUEUED);
    check_tree(log, size + QUEUED);
    /* The replay rows were committed with the entries. */
    assert_int_equal(replay_rows(f, "_close-0"), 1);
    assert_int_equal(replay_rows(f, "_close-199"), 1);
    event.replay_id = "_close-199";
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_ERR_REPLAYED);
    audit_log_close(&log);
    free(slots);
}

/* Writes a credential of assertion_id with state straight into the node's tables. */
static void put_credential(const fixture *f, const char *assertion_id, const char *state)
{
    sqlite3 *db = NULL;
    char sql[1024];

    snprintf(sql, sizeof(sql),
             "INSERT OR IGNORE INTO subjects (issuer, name_id, claims, updated_at)"
             " VALUES ('https://node.example/idsvc', 'SG-1', '{}', 0);"
             "INSERT INTO credentials (id, subject_id, issuer, assertion_id, assurance,"
             " issued_at, not_on_or_after, state, enrollment_code_hash)"
             " SELECT '%s', id, 'issuer-agency', '%s', 'high', 0, 4102444800, '%s', x'00'"
             " FROM subjects WHERE name_id = 'SG-1';",
             assertion_id, assertion_id, state);
    assert_int_equal(sqlite3_open(f->db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A credential revoked before the commit fails the entry, although the request checked
 * the credential earlier; one still active passes. */
static void test_revoked_credential_at_commit(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    uint64_t size = audit_log_head(log).size;
    audit_event event = {
        .kind = "verification_decided",
        .replay_until = time(NULL) + 3600,
        .replay_credential = true,
    };

    put_credential(f, "_revoked-credential", "revoked");
    put_credential(f, "_active-credential", "active");

    event.replay_id = "_revoked-credential";
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_ERR_REVOKED);
    assert_string_equal(audit_status_code(AUDIT_ERR_REVOKED), "revoked");
    assert_int_equal(replay_rows(f, "_revoked-credential"), 0);
    assert_int_equal(audit_log_head(log).size, size);

    event.replay_id = "_active-credential";
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
    assert_int_equal(replay_rows(f, "_active-credential"), 1);

    /* Without replay_credential the state is not read: an assertion of another issuer
     * may carry any ID. */
    event.replay_id = "_revoked-credential";
    event.replay_credential = false;
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
    check_tree(log, size + 2);
    audit_log_close(&log);
}

/* The replay row counts per issuer: another issuer may use the same ID. */
static void test_replay_id_per_issuer(void **state)
{
    fixture *f = *state;
    audit_log *log = open_log(f, NULL, 0);
    uint64_t size = audit_log_head(log).size;
    audit_event event = {
        .kind = "verification_decided",
        .replay_issuer = "https://a.example",
        .replay_id = "_per-issuer",
        .replay_until = time(NULL) + 3600,
    };

    assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
    event.replay_issuer = "https://b.example";
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_OK);
    assert_int_equal(audit_record(log, &event, NULL), AUDIT_ERR_REPLAYED);
    assert_int_equal(replay_rows(f, "_per-issuer"), 2);
    check_tree(log, size + 2);
    audit_log_close(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_commit_threads),
        cmocka_unit_test(test_checkpoints_race_commits),
        cmocka_unit_test(test_record_returns_index),
        cmocka_unit_test(test_each_entry_reads_edited_rows),
        cmocka_unit_test(test_clock_check_names_bad_time),
        cmocka_unit_test(test_latest_checkpoint_columns_checked),
        cmocka_unit_test(test_open_rejects_negative_index),
        cmocka_unit_test(test_unknown_kind_rejected),
        cmocka_unit_test(test_purge_time_ignores_forward_step),
        cmocka_unit_test(test_checkpoint_signed_in_hsm),
        cmocka_unit_test(test_checkpoint_format_parse),
        cmocka_unit_test(test_purge_keeps_proofs),
        cmocka_unit_test(test_purge_mixed_versions),
        cmocka_unit_test(test_purge_excepts_every_jurisdiction),
        cmocka_unit_test(test_first_anchor_must_be_written),
        cmocka_unit_test(test_pseudonym_stable),
        cmocka_unit_test(test_replay_id_recorded_with_entry),
        cmocka_unit_test(test_rows_written_with_entry),
        cmocka_unit_test(test_group_all_or_none),
        cmocka_unit_test(test_long_group_all_or_none),
        cmocka_unit_test(test_rows_keep_foreign_keys),
        cmocka_unit_test(test_open_checks_checkpoint),
        cmocka_unit_test(test_anchor_written_at_checkpoint),
        cmocka_unit_test(test_anchor_mismatch_rejected),
        cmocka_unit_test(test_anchor_write_failure_kept),
        cmocka_unit_test(test_anchor_reset_recorded),
        cmocka_unit_test(test_anchor_newer_order),
        cmocka_unit_test(test_anchor_generation_order),
        cmocka_unit_test(test_replay_race_one_winner),
        cmocka_unit_test(test_replay_within_one_batch),
        cmocka_unit_test(test_replay_rows_purged),
        cmocka_unit_test(test_async_threads_replay_once),
        cmocka_unit_test(test_async_mixed_with_sync),
        cmocka_unit_test(test_async_close_commits_queue),
        cmocka_unit_test(test_revoked_credential_at_commit),
        cmocka_unit_test(test_replay_id_per_issuer),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
