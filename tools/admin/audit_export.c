/*
 * idsvc-admin audit export --database DB [--out FILE]: writes the audit log as JSON
 * lines, read in one transaction of its own read-only SQLite connection, so that entries,
 * subtree hashes and checkpoints are one snapshot. Every row is written as stored, so
 * that 'audit verify' judges it: a malformed hash, signature or column is exported, not
 * dropped.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "audit_cmd.h"
#include "audit_rows.h"

#define EXPORT_PROGRAM "idsvc-admin audit export"

typedef struct export_state {
    FILE *out;
    bool invalid_columns; /* a row failed audit_rows_check_types */
} export_state;

static int export_entry(void *ctx, const audit_raw_row *row)
{
    export_state *state = ctx;
    const json_t *purged_at = json_object_get(row->columns, "purged_at");
    const char *code;
    char detail[256];
    char when[32];
    json_t *doc;

    /* The line is still written, so that 'audit verify' names the row as well. */
    code = audit_rows_check_types(row->columns, row->text, detail, sizeof(detail));
    if (code != NULL) {
        fprintf(stderr, EXPORT_PROGRAM ": entry %" PRId64 ": %s: %s\n", row->index, code,
                detail);
        state->invalid_columns = true;
    }

    doc = json_pack("{s:s, s:I, s:o, s:s?, s:O}", "type", "entry", "index",
                    (json_int_t)row->index, "leaf_hash",
                    audit_hex_json(row->leaf_hash, row->leaf_hash_len), "entry", row->text,
                    "columns", row->columns);
    if (doc != NULL && row->text == NULL) {
        json_object_set_new(doc, "entry", json_null());
        /* The time of the purge in the format of GET /v1/audit/entries; the raw value is
         * in columns. */
        if (json_is_integer(purged_at) &&
            audit_format_time(json_integer_value(purged_at), when) == 0)
            json_object_set_new(doc, "purged_at", json_string(when));
    }
    return audit_print_line(state->out, doc);
}

static int export_nodes(sqlite3 *db, FILE *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (sqlite3_prepare_v2(db, "SELECT level, idx, hash FROM audit_nodes ORDER BY level, idx",
                           -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *hash = audit_hex_json(sqlite3_column_blob(stmt, 2),
                                      (size_t)sqlite3_column_bytes(stmt, 2));

        if (audit_print_line(out, json_pack("{s:s, s:I, s:I, s:o}", "type", "node", "level",
                                            (json_int_t)sqlite3_column_int64(stmt, 0),
                                            "index",
                                            (json_int_t)sqlite3_column_int64(stmt, 1),
                                            "hash", hash)) != 0)
            break;
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

static json_t *base64_json(const unsigned char *bytes, int len)
{
    char *text = malloc(4 * ((size_t)len / 3 + 1) + 1);
    json_t *doc;

    if (text == NULL)
        return NULL;
    EVP_EncodeBlock((unsigned char *)text, bytes, len);
    doc = json_string(text);
    free(text);
    return doc;
}

static int export_checkpoints(sqlite3 *db, FILE *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (sqlite3_prepare_v2(db, "SELECT id, algorithm, body, signature FROM audit_checkpoints"
                               " ORDER BY id", -1, &stmt, NULL) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *signature = base64_json(sqlite3_column_blob(stmt, 3),
                                        sqlite3_column_bytes(stmt, 3));

        if (audit_print_line(out, json_pack("{s:s, s:I, s:s?, s:s?, s:o}", "type",
                                            "checkpoint", "id",
                                            (json_int_t)sqlite3_column_int64(stmt, 0),
                                            "algorithm", (const char *)sqlite3_column_text(stmt, 1),
                                            "body", (const char *)sqlite3_column_text(stmt, 2),
                                            "signature", signature)) != 0)
            break;
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
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
    export_state state = {.out = stdout};
    sqlite3 *db = NULL;
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
    if (optind != argc || (db = audit_rows_open(EXPORT_PROGRAM, database)) == NULL)
        return AUDIT_EXIT_USAGE;
    if (out_path != NULL && (state.out = fopen(out_path, "w")) == NULL) {
        fprintf(stderr, EXPORT_PROGRAM ": %s: cannot create the file\n", out_path);
        goto out;
    }

    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        audit_rows_each(db, EXPORT_PROGRAM, export_entry, &state) != 0 ||
        export_nodes(db, state.out) != 0 || export_checkpoints(db, state.out) != 0) {
        fprintf(stderr, EXPORT_PROGRAM ": reading the database or writing failed: %s\n",
                sqlite3_errmsg(db));
        goto out;
    }
    status = state.invalid_columns ? AUDIT_EXIT_FAILED : AUDIT_EXIT_OK;
out:
    if (state.out != NULL && state.out != stdout && fclose(state.out) != 0)
        status = AUDIT_EXIT_FAILED;
    sqlite3_close(db);
    return status;
}
