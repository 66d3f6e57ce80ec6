/*
 * idsvc-admin audit export|show|prove: read the audit log straight from the node's
 * SQLite file, opened read-only. 'audit verify' (audit_verify.c) checks an export.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "admin.h"
#include "audit_cmd.h"
#include "audit_store.h"

static void print_usage(FILE *out)
{
    fputs("usage: idsvc-admin audit COMMAND [OPTIONS]\n"
          "\n"
          "  export --database DB [--out FILE]\n"
          "        write every entry, subtree hash and checkpoint as JSON lines\n"
          "  verify EXPORT --trust PEM\n"
          "        rebuild the tree from an export and check every checkpoint\n"
          "  prove INDEX --database DB [--size N] [--trust PEM]\n"
          "        print the inclusion proof of entry INDEX and check it against the\n"
          "        latest checkpoint, or against the tree of N entries\n"
          "  show --database DB [--since TIME] [--until TIME] [--rp ID] [--kind KIND]\n"
          "       [--limit N]\n"
          "        print matching entries; TIME is RFC 3339 UTC (2026-01-31T12:00:00Z)\n"
          "        or seconds since 1970\n"
          "\n"
          "See docs/audit-log.md for the formats and the exit codes.\n",
          out);
}

int admin_audit_main(int argc, char **argv)
{
    /* Every subcommand shares this usage text, so --help anywhere prints it. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            print_usage(stdout);
            return AUDIT_EXIT_OK;
        }
    }
    if (argc >= 2 && strcmp(argv[1], "export") == 0)
        return admin_audit_export_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return admin_audit_verify_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "prove") == 0)
        return admin_audit_prove_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "show") == 0)
        return admin_audit_show_main(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        print_usage(stdout);
        return AUDIT_EXIT_OK;
    }
    print_usage(stderr);
    return AUDIT_EXIT_USAGE;
}

/* ---- Shared helpers --------------------------------------------------------------- */

static audit_store *open_database(const char *path)
{
    char error[512];
    audit_store *store_handle;

    if (path == NULL) {
        fputs("idsvc-admin audit: --database is required\n", stderr);
        return NULL;
    }
    store_handle = audit_store_open(path, true, error, sizeof(error));
    if (store_handle == NULL)
        fprintf(stderr, "idsvc-admin audit: %s\n", error);
    return store_handle;
}

static void format_time(int64_t seconds, char out[32])
{
    time_t t = (time_t)seconds;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *hash_json(const audit_merkle_hash *hash)
{
    char hex[65];

    audit_hash_hex(hash, hex);
    return json_string(hex);
}

static int print_line(FILE *out, json_t *doc)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    int rc = text != NULL && fprintf(out, "%s\n", text) > 0 ? 0 : -1;

    free(text);
    json_decref(doc);
    return rc;
}

static json_t *entry_json(const audit_row *row)
{
    json_t *doc = json_pack("{s:s, s:I, s:o, s:s?}", "type", "entry", "index",
                            (json_int_t)row->index, "leaf_hash", hash_json(&row->leaf_hash),
                            "entry", row->text);
    char when[32];

    if (doc != NULL && row->text == NULL) {
        format_time(row->purged_at, when);
        json_object_set_new(doc, "entry", json_null());
        json_object_set_new(doc, "purged_at", json_string(when));
    }
    return doc;
}

/* ---- export ----------------------------------------------------------------------- */

static int export_entry(void *ctx, const audit_row *row)
{
    return print_line(ctx, entry_json(row));
}

static int export_node(void *ctx, unsigned level, uint64_t index, const audit_merkle_hash *hash)
{
    return print_line(ctx, json_pack("{s:s, s:i, s:I, s:o}", "type", "node", "level",
                                     (int)level, "index", (json_int_t)index, "hash",
                                     hash_json(hash)));
}

static int export_checkpoint(void *ctx, const audit_checkpoint *checkpoint)
{
    char signature[4 * AUDIT_SIGNATURE_MAX / 3 + 8];

    EVP_EncodeBlock((unsigned char *)signature, checkpoint->signature,
                    (int)checkpoint->signature_len);
    return print_line(ctx, json_pack("{s:s, s:I, s:s?, s:s?, s:s}", "type", "checkpoint",
                                     "id", (json_int_t)checkpoint->id, "algorithm",
                                     checkpoint->algorithm, "body", checkpoint->body,
                                     "signature", signature));
}

int admin_audit_export_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"database", required_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    const char *database = NULL;
    const char *out_path = NULL;
    audit_store *source = NULL;
    audit_filter all;
    FILE *out = stdout;
    int status = AUDIT_EXIT_FAILED;
    int option;

    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == 'd')
            database = optarg;
        else if (option == 'o')
            out_path = optarg;
        else
            return AUDIT_EXIT_USAGE;
    }
    if (optind != argc || (source = open_database(database)) == NULL)
        return AUDIT_EXIT_USAGE;
    if (out_path != NULL && (out = fopen(out_path, "w")) == NULL) {
        fprintf(stderr, "idsvc-admin audit export: %s: cannot create the file\n", out_path);
        goto out;
    }

    /* One read transaction, so that entries, nodes and checkpoints are one snapshot. */
    audit_filter_all(&all);
    if (audit_store_read_begin(source) != AUDIT_OK ||
        audit_store_each_entry(source, &all, export_entry, out) != AUDIT_OK ||
        audit_store_each_node(source, export_node, out) != AUDIT_OK ||
        audit_store_each_checkpoint(source, export_checkpoint, out) != AUDIT_OK) {
        fputs("idsvc-admin audit export: reading the database or writing failed\n", stderr);
        goto out;
    }
    status = AUDIT_EXIT_OK;
out:
    audit_store_read_end(source);
    if (out != NULL && out != stdout && fclose(out) != 0)
        status = AUDIT_EXIT_FAILED;
    audit_store_close(&source);
    return status;
}

/* ---- show ------------------------------------------------------------------------- */

/* Reads RFC 3339 UTC with seconds ("2026-01-31T12:00:00Z") or seconds since 1970. */
static int parse_time(const char *text, int64_t *out)
{
    struct tm tm = {0};
    char *end = NULL;

    if (strchr(text, 'T') == NULL) {
        *out = strtoll(text, &end, 10);
        return end != text && *end == '\0' ? 0 : -1;
    }
    if (strlen(text) != 20 ||
        sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

static int show_entry(void *ctx, const audit_row *row)
{
    json_t *doc = entry_json(row);
    char when[32];

    (void)ctx;
    format_time(row->recorded_at, when);
    json_object_del(doc, "type");
    json_object_set_new(doc, "time", json_string(when));
    json_object_set_new(doc, "kind", json_string(row->kind));
    if (row->actor != NULL)
        json_object_set_new(doc, "actor", json_string(row->actor));
    if (row->relying_party != NULL)
        json_object_set_new(doc, "relying_party", json_string(row->relying_party));
    return print_line(stdout, doc);
}

int admin_audit_show_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"database", required_argument, NULL, 'd'}, {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},    {"rp", required_argument, NULL, 'r'},
        {"kind", required_argument, NULL, 'k'},     {"limit", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    const char *database = NULL;
    audit_store *source;
    audit_filter filter;
    audit_status status;
    int option;

    audit_filter_all(&filter);
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == 'd') {
            database = optarg;
        } else if (option == 's' || option == 'u') {
            if (parse_time(optarg, option == 's' ? &filter.since : &filter.until) != 0) {
                fprintf(stderr, "idsvc-admin audit show: \"%s\" is not a time such as "
                        "2026-01-31T12:00:00Z or seconds since 1970\n", optarg);
                return AUDIT_EXIT_USAGE;
            }
        } else if (option == 'r') {
            filter.relying_party = optarg;
        } else if (option == 'k') {
            if (!audit_event_kind_known(optarg)) {
                fprintf(stderr, "idsvc-admin audit show: unknown event kind \"%s\" (see "
                        "docs/audit-log.md)\n", optarg);
                return AUDIT_EXIT_USAGE;
            }
            filter.kind = optarg;
        } else if (option == 'l') {
            filter.limit = (size_t)strtoull(optarg, NULL, 10);
        } else {
            return AUDIT_EXIT_USAGE;
        }
    }
    if (optind != argc || (source = open_database(database)) == NULL)
        return AUDIT_EXIT_USAGE;
    status = audit_store_each_entry(source, &filter, show_entry, NULL);
    audit_store_close(&source);
    return status == AUDIT_OK ? AUDIT_EXIT_OK : AUDIT_EXIT_FAILED;
}

/* ---- prove ------------------------------------------------------------------------ */

typedef struct prove_args {
    const char *database;
    const char *trust;
    uint64_t index;
    uint64_t size; /* 0 selects the latest checkpoint */
} prove_args;

static int parse_prove_args(int argc, char **argv, prove_args *args)
{
    static const struct option options[] = {
        {"database", required_argument, NULL, 'd'},
        {"size", required_argument, NULL, 's'},
        {"trust", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    char *end = NULL;
    int option;

    memset(args, 0, sizeof(*args));
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == 'd')
            args->database = optarg;
        else if (option == 't')
            args->trust = optarg;
        else if (option == 's')
            args->size = strtoull(optarg, &end, 10);
        else
            return -1;
    }
    if (optind + 1 != argc)
        return -1;
    args->index = strtoull(argv[optind], &end, 10);
    return *end == '\0' ? 0 : -1;
}

/* Checks the checkpoint's signature when --trust was given. */
static int check_signature(const prove_args *args, const audit_checkpoint *checkpoint)
{
    char error[512];
    EVP_PKEY *key;
    int rc;

    if (args->trust == NULL)
        return 0;
    key = audit_load_public_pem(args->trust, error, sizeof(error));
    if (key == NULL) {
        fprintf(stderr, "idsvc-admin audit prove: %s\n", error);
        return -1;
    }
    rc = audit_checkpoint_verify(checkpoint, key);
    EVP_PKEY_free(key);
    if (rc != 0)
        fprintf(stderr, "idsvc-admin audit prove: checkpoint %" PRIu64 ": "
                "checkpoint_signature_invalid\n", checkpoint->id);
    return rc;
}

static int prove(audit_store *source_store, const prove_args *args)
{
    audit_merkle_source source = audit_store_source(source_store);
    audit_checkpoint checkpoint = {0};
    audit_merkle_tree_head head;
    audit_merkle_proof proof;
    audit_merkle_hash leaf;
    audit_merkle_status status;
    json_t *hashes = json_array();
    int rc = AUDIT_EXIT_FAILED;

    if (args->size == 0) {
        if (audit_store_latest_checkpoint(source_store, &checkpoint) != AUDIT_OK) {
            fputs("idsvc-admin audit prove: the database has no readable checkpoint; "
                  "pass --size\n", stderr);
            goto out;
        }
        if (check_signature(args, &checkpoint) != 0)
            goto out;
        head = checkpoint.head;
    } else if (audit_merkle_tree_head_compute(&source, args->size, &head) != AUDIT_MERKLE_OK) {
        fprintf(stderr, "idsvc-admin audit prove: the log has fewer than %" PRIu64
                " entries, or its subtree hashes are incomplete\n", args->size);
        goto out;
    }

    status = audit_merkle_inclusion_proof(&source, args->index, head.size, &proof);
    if (status == AUDIT_MERKLE_OK && source.subtree_hash(source.ctx, 0, args->index, &leaf) != 0)
        status = AUDIT_MERKLE_ERR_STORE_FAILED;
    if (status == AUDIT_MERKLE_OK)
        status = audit_merkle_verify_inclusion(&leaf, args->index, &head, proof.hashes,
                                               proof.count);
    if (status != AUDIT_MERKLE_OK) {
        fprintf(stderr, "idsvc-admin audit prove: entry %" PRIu64 ": %s: %s\n", args->index,
                audit_merkle_status_code(status), audit_merkle_status_message(status));
        goto out;
    }

    for (size_t i = 0; i < proof.count; i++)
        json_array_append_new(hashes, hash_json(&proof.hashes[i]));
    print_line(stdout, json_pack("{s:I, s:I, s:o, s:o, s:O, s:b}", "index",
                                 (json_int_t)args->index, "tree_size", (json_int_t)head.size,
                                 "leaf_hash", hash_json(&leaf), "root_hash",
                                 hash_json(&head.root), "proof", hashes, "verified", 1));
    rc = AUDIT_EXIT_OK;
out:
    json_decref(hashes);
    audit_checkpoint_clear(&checkpoint);
    return rc;
}

int admin_audit_prove_main(int argc, char **argv)
{
    prove_args args;
    audit_store *source;
    int rc;

    if (parse_prove_args(argc, argv, &args) != 0) {
        fputs("usage: idsvc-admin audit prove INDEX --database DB [--size N] "
              "[--trust PEM]\n", stderr);
        return AUDIT_EXIT_USAGE;
    }
    if ((source = open_database(args.database)) == NULL)
        return AUDIT_EXIT_USAGE;
    rc = prove(source, &args);
    audit_store_close(&source);
    return rc;
}
