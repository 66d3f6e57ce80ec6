/*
 * idsvc-audit-bench: the audit log's durable append rate and proof times, in process,
 * on the embedded SQLite store in a temporary folder.
 *
 *   1. one commit per entry: N threads append one entry per transaction (the raw rate);
 *   2. group commit: N threads call audit_record and wait for durability;
 *   3. proofs: a store of --entries entries is built in bulk transactions, then
 *      inclusion and consistency proofs are generated and verified at that size.
 *
 * Every commit runs with synchronous=FULL, as the daemon does.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "audit_log.h"
#include "audit_store.h"
#include "store.h"

#define BULK_BATCH 100000
#define PROOF_SAMPLES 2000

typedef struct bench_options {
    unsigned threads;
    double seconds;
    uint64_t entries;
    const char *dir;
} bench_options;

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Creates an empty, migrated database at path. */
static int make_database(const char *path)
{
    char error[512];
    store *s;

    unlink(path);
    s = store_sqlite_open(path, error, sizeof(error));
    if (s == NULL) {
        fprintf(stderr, "idsvc-audit-bench: %s\n", error);
        return -1;
    }
    store_close(&s);
    return 0;
}

static void fill_entry(audit_store_entry *entry, char *text, size_t size, uint64_t n)
{
    snprintf(text, size, "{\"kind\":\"verification_decided\",\"payload\":{\"n\":%llu}}",
             (unsigned long long)n);
    memset(entry, 0, sizeof(*entry));
    entry->recorded_at = time(NULL);
    entry->kind = "verification_decided";
    entry->jurisdiction = "SG";
    entry->text = text;
    entry->text_len = strlen(text);
    audit_merkle_hash_leaf(text, entry->text_len, &entry->leaf_hash);
}

/* ---- 1. One commit per entry ----------------------------------------------------- */

typedef struct single_state {
    audit_store *tree_store;
    pthread_mutex_t lock;
    audit_merkle_frontier frontier;
    double deadline;
    atomic_ullong done;
} single_state;

static void *single_worker(void *arg)
{
    single_state *state = arg;
    audit_store_entry entry;
    audit_store_entry *entries[1] = {&entry};
    char text[128];

    while (now_seconds() < state->deadline) {
        uint64_t n = atomic_load(&state->done);

        fill_entry(&entry, text, sizeof(text), n);
        /* The lock keeps the frontier consistent; SQLite would serialise the writers
         * anyway, one transaction and one fsync per entry. */
        pthread_mutex_lock(&state->lock);
        if (audit_store_append(state->tree_store, entries, 1, &state->frontier) != AUDIT_OK) {
            pthread_mutex_unlock(&state->lock);
            break;
        }
        pthread_mutex_unlock(&state->lock);
        atomic_fetch_add(&state->done, 1);
    }
    return NULL;
}

static double run_single(const bench_options *options, const char *path)
{
    single_state state = {.lock = PTHREAD_MUTEX_INITIALIZER};
    pthread_t *threads = calloc(options->threads, sizeof(*threads));
    char error[256];
    double started;

    if (threads == NULL || make_database(path) != 0 ||
        (state.tree_store = audit_store_open(path, false, error, sizeof(error))) == NULL) {
        free(threads);
        return -1;
    }
    started = now_seconds();
    state.deadline = started + options->seconds;
    for (unsigned i = 0; i < options->threads; i++)
        pthread_create(&threads[i], NULL, single_worker, &state);
    for (unsigned i = 0; i < options->threads; i++)
        pthread_join(threads[i], NULL);

    audit_store_close(&state.tree_store);
    free(threads);
    return (double)atomic_load(&state.done) / (now_seconds() - started);
}

/* ---- 2. Group commit through audit_record ---------------------------------------- */

typedef struct group_state {
    audit_log *log;
    double deadline;
    atomic_ullong done;
    atomic_uint failed;
} group_state;

static void *group_worker(void *arg)
{
    group_state *state = arg;
    json_t *payload = json_pack("{s:s, s:[s, s], s:s}", "decision", "accepted", "claims",
                                "given_name", "nationality", "policy_bundle_sha256",
                                "0000000000000000000000000000000000000000000000000000000000000000");
    audit_event event = {
        .kind = "verification_decided",
        .actor = "bank-one",
        .relying_party = "bank-one",
        .payload = payload,
    };

    while (now_seconds() < state->deadline) {
        if (audit_record(state->log, &event, NULL) != AUDIT_OK) {
            atomic_fetch_add(&state->failed, 1);
            break;
        }
        atomic_fetch_add(&state->done, 1);
    }
    json_decref(payload);
    return NULL;
}

static double run_group(const bench_options *options, const char *path, double *batch)
{
    audit_log_options log_options = {
        .database_path = path,
        .node_id = "https://node.example/idsvc",
        .jurisdiction = "SG",
    };
    group_state state = {0};
    pthread_t *threads = calloc(options->threads, sizeof(*threads));
    uint64_t commits = 0;
    uint64_t entries = 0;
    char error[256];
    double started;
    double rate;

    if (threads == NULL || make_database(path) != 0 ||
        (state.log = audit_log_open(&log_options, error, sizeof(error))) == NULL) {
        free(threads);
        return -1;
    }
    started = now_seconds();
    state.deadline = started + options->seconds;
    for (unsigned i = 0; i < options->threads; i++)
        pthread_create(&threads[i], NULL, group_worker, &state);
    for (unsigned i = 0; i < options->threads; i++)
        pthread_join(threads[i], NULL);
    rate = (double)atomic_load(&state.done) / (now_seconds() - started);

    audit_log_stats(state.log, &commits, &entries);
    *batch = commits > 0 ? (double)entries / (double)commits : 0;
    audit_log_close(&state.log);
    free(threads);
    return atomic_load(&state.failed) == 0 ? rate : -1;
}

/* ---- 3. Proofs at a large size ----------------------------------------------------- */

static int build_large(const char *path, uint64_t count, audit_store **out)
{
    audit_store_entry *entries = calloc(BULK_BATCH, sizeof(*entries));
    audit_store_entry **pointers = calloc(BULK_BATCH, sizeof(*pointers));
    char (*texts)[96] = calloc(BULK_BATCH, sizeof(*texts));
    audit_merkle_frontier frontier;
    char error[256];
    int rc = -1;

    audit_merkle_frontier_init(&frontier);
    if (entries == NULL || pointers == NULL || texts == NULL || make_database(path) != 0 ||
        (*out = audit_store_open(path, false, error, sizeof(error))) == NULL)
        goto out;

    for (uint64_t done = 0; done < count;) {
        size_t batch = count - done < BULK_BATCH ? (size_t)(count - done) : BULK_BATCH;

        for (size_t i = 0; i < batch; i++) {
            fill_entry(&entries[i], texts[i], sizeof(texts[i]), done + i);
            pointers[i] = &entries[i];
        }
        if (audit_store_append(*out, pointers, batch, &frontier) != AUDIT_OK)
            goto out;
        done += batch;
    }
    rc = 0;
out:
    free(entries);
    free(pointers);
    free(texts);
    return rc;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static uint64_t random_below(uint64_t bound)
{
    uint64_t value = 0;

    RAND_bytes((unsigned char *)&value, sizeof(value));
    return value % bound;
}

/* Times samples of one proof kind; returns -1 when a proof failed to verify. */
static int time_proofs(audit_store *tree_store, const audit_merkle_tree_head *head,
                       bool consistency, double *median_us, double *max_us)
{
    audit_merkle_source source = audit_store_source(tree_store);
    double *times = calloc(PROOF_SAMPLES, sizeof(*times));
    audit_merkle_tree_head first;
    audit_merkle_proof proof;
    audit_merkle_hash leaf;

    if (times == NULL)
        return -1;
    for (size_t i = 0; i < PROOF_SAMPLES; i++) {
        uint64_t index = random_below(head->size);
        double started = now_seconds();
        audit_merkle_status status =
            consistency ? audit_merkle_consistency_proof(&source, index + 1, head->size, &proof)
                        : audit_merkle_inclusion_proof(&source, index, head->size, &proof);

        times[i] = (now_seconds() - started) * 1e6;
        if (status != AUDIT_MERKLE_OK)
            goto fail;

        /* Verify outside the timed part, so that a wrong proof fails the run. */
        if (consistency) {
            if (audit_merkle_tree_head_compute(&source, index + 1, &first) != AUDIT_MERKLE_OK ||
                audit_merkle_verify_consistency(&first, head, proof.hashes, proof.count) !=
                    AUDIT_MERKLE_OK)
                goto fail;
        } else if (source.subtree_hash(source.ctx, 0, index, &leaf) != 0 ||
                   audit_merkle_verify_inclusion(&leaf, index, head, proof.hashes,
                                                 proof.count) != AUDIT_MERKLE_OK) {
            goto fail;
        }
    }
    qsort(times, PROOF_SAMPLES, sizeof(*times), compare_doubles);
    *median_us = times[PROOF_SAMPLES / 2];
    *max_us = times[PROOF_SAMPLES - 1];
    free(times);
    return 0;
fail:
    free(times);
    return -1;
}

static int run_proofs(const bench_options *options, const char *path)
{
    audit_store *tree_store = NULL;
    audit_merkle_source source;
    audit_merkle_tree_head head;
    double started = now_seconds();
    double median = 0;
    double worst = 0;
    int rc = -1;

    if (build_large(path, options->entries, &tree_store) != 0) {
        fprintf(stderr, "idsvc-audit-bench: building the large store failed\n");
        goto out;
    }
    printf("built %llu entries in bulk transactions: %.1f s\n",
           (unsigned long long)options->entries, now_seconds() - started);

    source = audit_store_source(tree_store);
    if (audit_merkle_tree_head_compute(&source, options->entries, &head) != AUDIT_MERKLE_OK)
        goto out;
    if (time_proofs(tree_store, &head, false, &median, &worst) != 0)
        goto out;
    printf("inclusion proof at %llu entries: median %.1f us, max %.1f us (%d samples)\n",
           (unsigned long long)head.size, median, worst, PROOF_SAMPLES);
    if (time_proofs(tree_store, &head, true, &median, &worst) != 0)
        goto out;
    printf("consistency proof to %llu entries: median %.1f us, max %.1f us (%d samples)\n",
           (unsigned long long)head.size, median, worst, PROOF_SAMPLES);
    rc = 0;
out:
    audit_store_close(&tree_store);
    return rc;
}

/* ---- Driver ------------------------------------------------------------------------ */

static void usage(FILE *out)
{
    fputs("usage: idsvc-audit-bench [--threads N] [--seconds S] [--entries N] [--dir DIR]\n"
          "  --threads N   concurrent writers for the append phases (default 64)\n"
          "  --seconds S   length of each append phase in seconds (default 3)\n"
          "  --entries N   entries in the store the proofs run on (default 10000000;\n"
          "                0 skips the proofs)\n"
          "  --dir DIR     folder for the database files (default: a new folder in /tmp,\n"
          "                removed at the end)\n", out);
}

static int parse_options(int argc, char **argv, bench_options *options)
{
    static const struct option long_options[] = {
        {"threads", required_argument, NULL, 't'}, {"seconds", required_argument, NULL, 's'},
        {"entries", required_argument, NULL, 'e'}, {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int option;

    *options = (bench_options){.threads = 64, .seconds = 3, .entries = 10000000};
    while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        if (option == 't')
            options->threads = (unsigned)strtoul(optarg, NULL, 10);
        else if (option == 's')
            options->seconds = strtod(optarg, NULL);
        else if (option == 'e')
            options->entries = strtoull(optarg, NULL, 10);
        else if (option == 'd')
            options->dir = optarg;
        else if (option == 'h') {
            usage(stdout);
            exit(0);
        } else
            return -1;
    }
    if (options->threads == 0 || options->threads > 4096 || options->seconds <= 0) {
        fputs("idsvc-audit-bench: --threads must be 1 to 4096 and --seconds positive\n",
              stderr);
        return -1;
    }
    return optind == argc ? 0 : -1;
}

int main(int argc, char **argv)
{
    bench_options options;
    char dir[] = "/tmp/idsvc-audit-bench-XXXXXX";
    char path[4096];
    double single;
    double group;
    double batch = 0;
    bool own_dir;
    int status = 1;

    if (parse_options(argc, argv, &options) != 0) {
        usage(stderr);
        return 2;
    }
    own_dir = options.dir == NULL;
    if (own_dir && (options.dir = mkdtemp(dir)) == NULL) {
        perror("idsvc-audit-bench: mkdtemp");
        return 1;
    }

    snprintf(path, sizeof(path), "%s/single.db", options.dir);
    single = run_single(&options, path);
    snprintf(path, sizeof(path), "%s/group.db", options.dir);
    group = run_group(&options, path, &batch);
    if (single <= 0 || group <= 0) {
        fprintf(stderr, "idsvc-audit-bench: an append phase failed\n");
        goto out;
    }
    printf("threads %u, %.1f s per phase, synchronous=FULL\n", options.threads,
           options.seconds);
    printf("one commit per entry: %.0f durable appends/s\n", single);
    printf("group commit (audit_record): %.0f durable appends/s, %.1f entries per commit, "
           "%.1fx the one-commit rate\n", group, batch, group / single);

    snprintf(path, sizeof(path), "%s/proofs.db", options.dir);
    if (options.entries > 0 && run_proofs(&options, path) != 0)
        goto out;
    status = 0;
out:
    if (own_dir) {
        char command[4200];

        snprintf(command, sizeof(command), "rm -rf '%s'", options.dir);
        if (system(command) != 0)
            fprintf(stderr, "idsvc-audit-bench: could not remove %s\n", options.dir);
    }
    return status;
}
