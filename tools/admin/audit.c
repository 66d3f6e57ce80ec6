/*
 * idsvc-admin audit: the dispatcher, the helpers its subcommands share, and 'audit
 * prove', which reads proofs from the node's SQLite file, opened read-only. 'export'
 * and 'show' are in audit_export.c and audit_show.c, and 'verify', which checks an
 * export, in audit_verify.c.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "admin.h"
#include "audit_cmd.h"
#include "audit_trust.h"
#include "audit_store.h"
#include "number_arg.h"

static void print_usage(FILE *out)
{
    fputs("usage: idsvc-admin audit COMMAND [OPTIONS]\n"
          "\n"
          "  export --database DB [--out FILE]\n"
          "        write every entry, subtree hash and checkpoint as JSON lines\n"
          "  verify EXPORT --trust PEM [--retention-days [XX=]DAYS]...\n"
          "         [--saved CHECKPOINT]...\n"
          "        rebuild the tree from an export, check every checkpoint, check each\n"
          "        payload against its entry's payload_sha256, and check each entry's\n"
          "        unhashed columns against its text; --retention-days\n"
          "        states the retention period in days (0 keeps payloads forever), for\n"
          "        jurisdiction XX or as the default, and fails earlier purges; --saved\n"
          "        checks that the export's tree starts with the tree of a checkpoint\n"
          "        saved earlier (the reply of GET /v1/audit/checkpoint)\n"
          "  consistency OLD NEW [--proof PROOF] --trust PEM\n"
          "        check that saved checkpoint NEW extends saved checkpoint OLD, by the\n"
          "        reply of GET /v1/audit/proof/consistency?from=OLD_SIZE&to=NEW_SIZE\n"
          "  prove INDEX --database DB [--size N] [--trust PEM]\n"
          "        print the inclusion proof of entry INDEX and check it against the\n"
          "        latest checkpoint, or against the tree of N entries (N >= 1)\n"
          "  show --database DB [--since TIME] [--until TIME] [--rp ID] [--kind KIND]\n"
          "       [--limit N]\n"
          "        print matching entries, read from their hashed text; TIME is RFC 3339\n"
          "        UTC (2026-01-31T12:00:00Z) or seconds since 1970; N >= 1\n"
          "  anchor show --config FILE\n"
          "        print the anchor that the node's HSM token keeps for the log\n"
          "  anchor reset --config FILE\n"
          "        replace the anchor with a reset marker that keeps the previous one,\n"
          "        after a deliberate restore or a new database; the node records an\n"
          "        audit_anchor_reset entry at its next start. Stop the node first\n"
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
    if (argc >= 2 && strcmp(argv[1], "consistency") == 0)
        return admin_audit_consistency_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "prove") == 0)
        return admin_audit_prove_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "show") == 0)
        return admin_audit_show_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "anchor") == 0)
        return admin_audit_anchor_main(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        print_usage(stdout);
        return AUDIT_EXIT_OK;
    }
    if (argc >= 2)
        fprintf(stderr, "idsvc-admin audit: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return AUDIT_EXIT_USAGE;
}

/* ---- Shared helpers --------------------------------------------------------------- */

json_t *audit_hex_json(const unsigned char *bytes, size_t len)
{
    char *hex = malloc(2 * len + 1);
    json_t *doc;

    if (hex == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
    hex[2 * len] = '\0';
    doc = json_string(hex);
    free(hex);
    return doc;
}

int audit_print_line(FILE *out, json_t *doc)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    int rc = text != NULL && fprintf(out, "%s\n", text) > 0 ? 0 : -1;

    free(text);
    json_decref(doc);
    return rc;
}

static json_t *hash_json(const audit_merkle_hash *hash)
{
    return audit_hex_json(hash->bytes, sizeof(hash->bytes));
}

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

/* ---- prove ------------------------------------------------------------------------ */

typedef struct prove_args {
    const char *database;
    const char *trust;
    uint64_t index;
    uint64_t size; /* 0 when --size is absent: the latest checkpoint's tree */
} prove_args;

#define PROVE_PROGRAM "idsvc-admin audit prove"

/* Returns 0, or AUDIT_EXIT_USAGE after printing what is wrong. */
static int parse_prove_args(int argc, char **argv, prove_args *args)
{
    static const struct option options[] = {
        {"database", required_argument, NULL, 'd'},
        {"size", required_argument, NULL, 's'},
        {"trust", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    int option;

    memset(args, 0, sizeof(*args));
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == '?' && optopt >= '0' && optopt <= '9') {
            /* getopt takes a negative INDEX such as -1 for an option. */
            fprintf(stderr, PROVE_PROGRAM ": INDEX must be a whole number from 0 to %" PRIu64
                    ", not a negative number\n", AUDIT_NUMBER_MAX - 1);
            return AUDIT_EXIT_USAGE;
        } else if (option == '?') {
            fprintf(stderr, PROVE_PROGRAM ": unknown option, or an option without its "
                    "value: %s\n", argv[optind - 1]);
            goto usage;
        } else if (option == 'd') {
            args->database = optarg;
        } else if (option == 't') {
            args->trust = optarg;
        } else if (option == 's') {
            /* A tree of 0 entries has no inclusion proof. */
            if (admin_parse_number(PROVE_PROGRAM, "--size", optarg, 1, AUDIT_NUMBER_MAX,
                                   &args->size) != 0)
                return AUDIT_EXIT_USAGE;
        } else {
            goto usage;
        }
    }
    if (optind + 1 != argc)
        goto usage;
    if (admin_parse_number(PROVE_PROGRAM, "INDEX", argv[optind], 0, AUDIT_NUMBER_MAX - 1,
                           &args->index) != 0)
        return AUDIT_EXIT_USAGE;
    if (args->size != 0 && args->index >= args->size) {
        fprintf(stderr, PROVE_PROGRAM ": INDEX %" PRIu64 " is not in a tree of --size %" PRIu64
                " entries; INDEX must be from 0 to %" PRIu64 "\n",
                args->index, args->size, args->size - 1);
        return AUDIT_EXIT_USAGE;
    }
    return 0;
usage:
    fputs("usage: idsvc-admin audit prove INDEX --database DB [--size N] [--trust PEM]\n",
          stderr);
    return AUDIT_EXIT_USAGE;
}

/* Checks, when --trust was given, that the file contains the key that the checkpoint
 * names and that its signature verifies with that key. */
static int check_signature(const prove_args *args, const audit_checkpoint *checkpoint)
{
    audit_trust trust = {0};
    char error[512];
    EVP_PKEY *key;
    int rc = -1;

    if (args->trust == NULL)
        return 0;
    if (audit_trust_add_file(&trust, args->trust, error, sizeof(error)) != 0) {
        fprintf(stderr, "idsvc-admin audit prove: %s\n", error);
        return -1;
    }
    key = audit_trust_find(&trust, checkpoint->key_id);
    if (key == NULL)
        fprintf(stderr, "idsvc-admin audit prove: checkpoint %" PRIu64 ": "
                "checkpoint_key_mismatch: it names key %.16s..., which %s does not contain\n",
                checkpoint->id, checkpoint->key_id, args->trust);
    else if (audit_checkpoint_verify(checkpoint, key) != 0)
        fprintf(stderr, "idsvc-admin audit prove: checkpoint %" PRIu64 ": "
                "checkpoint_signature_invalid\n", checkpoint->id);
    else
        rc = 0;
    audit_trust_clear(&trust);
    return rc;
}

/* Compares the entry's text with its stored leaf hash, which the proof covers. */
/* What check_entry_text reads and sets. */
typedef struct entry_check {
    uint64_t version_2_from; /* from the latest checkpoint; UINT64_MAX when unknown */
    int status;              /* 0 when the entry holds, 1 when not, -1 when unread */
} entry_check;

static int check_entry_text(void *ctx, const audit_row *row)
{
    entry_check *check = ctx;
    int *status = &check->status;
    audit_merkle_hash computed;

    if (row->leaf_hash_invalid) {
        fprintf(stderr, "idsvc-admin audit prove: entry %" PRIu64 ": leaf_hash_invalid: the "
                "stored leaf hash is not a blob of 32 bytes; run 'audit verify' on an "
                "export\n", row->index);
        *status = 1;
        return 0;
    }
    /* An entry of version 2 keeps its text when purged, so one without text where the
     * latest checkpoint signs version 2 had its text deleted. */
    if (row->text == NULL && row->index >= check->version_2_from) {
        fprintf(stderr, "idsvc-admin audit prove: entry %" PRIu64 ": entry_version_invalid: "
                "the entry has no text, but the latest checkpoint signs that entries from "
                "index %" PRIu64 " on are of version 2, which keep it; run 'audit verify' "
                "on an export\n",
                row->index, check->version_2_from);
        *status = 1;
        return 0;
    }
    if (row->text == NULL) {
        fprintf(stderr, "idsvc-admin audit prove: NOTE entry %" PRIu64 " has no text, as a "
                "purged entry of version 1; the proof covers its stored leaf hash only\n",
                row->index);
        *status = 0;
        return 0;
    }
    /* The stored length, because bytes after a NUL are part of the stored text too. */
    audit_merkle_hash_leaf(row->text, row->text_len, &computed);
    *status = memcmp(computed.bytes, row->leaf_hash.bytes, sizeof(computed.bytes)) == 0 ? 0 : 1;
    if (*status != 0)
        fprintf(stderr, "idsvc-admin audit prove: entry %" PRIu64 ": entry_hash_mismatch: "
                "the entry text does not hash to its stored leaf hash; run 'audit verify' "
                "on an export\n", row->index);
    return 0;
}

/* Checks the entry's text before its proof is printed as verified. Returns 0, or -1
 * after a message. */
static int check_entry(audit_store *source_store, uint64_t index)
{
    audit_checkpoint latest = {0};
    entry_check check = {UINT64_MAX, -1};
    audit_filter filter;

    if (audit_store_latest_checkpoint(source_store, &latest) == AUDIT_OK &&
        latest.has_version_2_from && latest.version_2_from < latest.head.size)
        check.version_2_from = latest.version_2_from;
    audit_checkpoint_clear(&latest);
    audit_filter_all(&filter);
    filter.from = index;
    filter.to = index + 1;
    if (audit_store_each_entry(source_store, &filter, check_entry_text, &check) != AUDIT_OK)
        check.status = -1;
    if (check.status < 0)
        fprintf(stderr, "idsvc-admin audit prove: entry %" PRIu64 " cannot be read\n", index);
    return check.status == 0 ? 0 : -1;
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

    /* The entry first, so that a broken row is named rather than the failed proof. */
    if (args->index < head.size && check_entry(source_store, args->index) != 0)
        goto out;
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
    audit_print_line(stdout, json_pack("{s:I, s:I, s:o, s:o, s:O, s:b}", "index",
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

    if (parse_prove_args(argc, argv, &args) != 0)
        return AUDIT_EXIT_USAGE;
    if ((source = open_database(args.database)) == NULL)
        return AUDIT_EXIT_USAGE;
    rc = prove(source, &args);
    audit_store_close(&source);
    return rc;
}
