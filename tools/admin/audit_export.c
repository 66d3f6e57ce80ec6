/*
 * idsvc-admin audit export --database DB [--out FILE]: writes the audit log as JSON
 * lines, read in one transaction of its own read-only SQLite connection, so that entries,
 * subtree hashes and checkpoints are one snapshot. Every row is written as stored, so
 * that 'audit verify' judges it: a malformed hash, signature or column is exported, not
 * dropped.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "audit_cmd.h"
#include "audit_rows.h"

#define EXPORT_PROGRAM "idsvc-admin audit export"

typedef struct export_state {
    FILE *out;
    const char *out_name;  /* the --out file, or "standard output", for messages */
    bool invalid_rows;     /* a row failed a check, or is not valid UTF-8 */
} export_state;

/* Writes doc as one line and takes its reference. Prints what failed, naming the line
 * by its kind (such as "entry") and number, and returns -1 on failure. */
static int write_line(export_state *state, json_t *doc, const char *kind, int64_t number)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    int rc = 0;

    json_decref(doc);
    if (text == NULL) {
        fprintf(stderr, EXPORT_PROGRAM ": %s %" PRId64 ": out of memory while encoding "
                "the line\n", kind, number);
        return -1;
    }
    if (fprintf(state->out, "%s\n", text) < 0) {
        fprintf(stderr, EXPORT_PROGRAM ": %s: writing %s %" PRId64 " failed: %s\n",
                state->out_name, kind, number, strerror(errno));
        rc = -1;
    }
    free(text);
    return rc;
}

/*
 * Sets the member name ("entry" or "payload") of doc to the stored text. JSON cannot
 * carry a text that is not valid UTF-8, and 'audit verify' cannot read back one with a
 * NUL byte. For those it sets name_hex to the bytes in hex instead, and reports the row
 * with the code NAME_not_utf8. So 'audit verify' hashes the stored bytes, and a changed
 * text fails as entry_hash_mismatch or payload_hash_mismatch. Returns -1 when out of
 * memory.
 */
static int set_text(export_state *state, json_t *doc, const char *name, int64_t index,
                    const char *bytes, size_t len)
{
    bool has_nul = memchr(bytes, '\0', len) != NULL;
    bool as_hex = false;
    int rc = audit_rows_set_text(doc, name, bytes, len, &as_hex);

    if (as_hex) {
        fprintf(stderr, EXPORT_PROGRAM ": entry %" PRId64 ": %s_not_utf8: the %s text %s, "
                "so the line carries its bytes as %s_hex\n", index, name, name,
                has_nul ? "contains a NUL byte" : "is not valid UTF-8", name);
        state->invalid_rows = true;
    }
    return rc;
}

/* Sets entry, then payload, each to its text or to null. */
static int set_texts(export_state *state, json_t *doc, const audit_raw_row *row)
{
    int rc = row->text != NULL
                 ? set_text(state, doc, "entry", row->index, row->text, row->text_len)
                 : json_object_set_new(doc, "entry", json_null());

    if (rc != 0)
        return rc;
    if (row->payload != NULL)
        return set_text(state, doc, "payload", row->index, row->payload, row->payload_len);
    return json_object_set_new(doc, "payload", json_null());
}

static int export_entry(void *ctx, const audit_raw_row *row)
{
    export_state *state = ctx;
    const json_t *purged_at = json_object_get(row->columns, "purged_at");
    const char *code;
    char detail[256];
    char when[32];
    json_t *doc;
    int rc;

    /* The line is still written, so that 'audit verify' names the row as well. */
    code = audit_rows_check(row->columns, row->text, row->payload, detail, sizeof(detail));
    if (code != NULL && strcmp(code, "column_mismatch") != 0) {
        fprintf(stderr, EXPORT_PROGRAM ": entry %" PRId64 ": %s: %s\n", row->index, code,
                detail);
        state->invalid_rows = true;
    }

    /* The members keep the order of the documented line: entry and payload before
     * columns. */
    doc = json_pack("{s:s, s:I, s:o}", "type", "entry", "index", (json_int_t)row->index,
                    "leaf_hash", audit_hex_json(row->leaf_hash, row->leaf_hash_len));
    if (doc != NULL) {
        rc = set_texts(state, doc, row);
        if (rc == 0)
            rc = json_object_set(doc, "columns", row->columns);
        if (rc != 0) {
            json_decref(doc);
            doc = NULL;
        }
    }
    /* The time of the purge in the format of GET /v1/audit/entries; the raw value is in
     * columns. */
    if (doc != NULL && json_is_integer(purged_at) &&
        audit_format_time(json_integer_value(purged_at), when) == 0)
        json_object_set_new(doc, "purged_at", json_string(when));
    return write_line(state, doc, "entry", row->index);
}

/* Prints SQLite's message for a failed read of table. */
static int read_failed(sqlite3 *db, const char *table)
{
    fprintf(stderr, EXPORT_PROGRAM ": reading %s failed: %s\n", table, sqlite3_errmsg(db));
    return -1;
}

static int export_nodes(sqlite3 *db, export_state *state)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (sqlite3_prepare_v2(db, "SELECT level, idx, hash FROM audit_nodes ORDER BY level, idx",
                           -1, &stmt, NULL) != SQLITE_OK)
        return read_failed(db, "audit_nodes");
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *hash = audit_hex_json(sqlite3_column_blob(stmt, 2),
                                      (size_t)sqlite3_column_bytes(stmt, 2));
        int64_t level = sqlite3_column_int64(stmt, 0);

        if (write_line(state, json_pack("{s:s, s:I, s:I, s:o}", "type", "node", "level",
                                        (json_int_t)level, "index",
                                        (json_int_t)sqlite3_column_int64(stmt, 1), "hash",
                                        hash),
                       "node of level", level) != 0) {
            sqlite3_finalize(stmt);
            return -1;
        }
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : read_failed(db, "audit_nodes");
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

/* Returns column i of checkpoint id as a JSON string, or NULL for a NULL column. A text
 * that is not valid UTF-8 is reported and exported as null, which 'audit verify' then
 * reports as checkpoint_invalid. */
static json_t *checkpoint_text_json(export_state *state, sqlite3_stmt *stmt, int i,
                                    int64_t id)
{
    const char *text = (const char *)sqlite3_column_text(stmt, i);
    json_t *value;

    if (text == NULL)
        return NULL;
    value = json_stringn(text, (size_t)sqlite3_column_bytes(stmt, i));
    if (value == NULL) {
        fprintf(stderr, EXPORT_PROGRAM ": checkpoint %" PRId64 ": checkpoint_invalid: the "
                "%s column is not valid UTF-8, so the line carries null\n", id,
                sqlite3_column_name(stmt, i));
        state->invalid_rows = true;
    }
    return value;
}

static int export_checkpoints(sqlite3 *db, export_state *state)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (sqlite3_prepare_v2(db, "SELECT id, algorithm, body, signature FROM audit_checkpoints"
                               " ORDER BY id", -1, &stmt, NULL) != SQLITE_OK)
        return read_failed(db, "audit_checkpoints");
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *signature = base64_json(sqlite3_column_blob(stmt, 3),
                                        sqlite3_column_bytes(stmt, 3));
        int64_t id = sqlite3_column_int64(stmt, 0);

        json_t *algorithm = checkpoint_text_json(state, stmt, 1, id);
        json_t *body = checkpoint_text_json(state, stmt, 2, id);

        if (write_line(state, json_pack("{s:s, s:I, s:o?, s:o?, s:o}", "type", "checkpoint",
                                        "id", (json_int_t)id, "algorithm", algorithm, "body",
                                        body, "signature", signature),
                       "checkpoint", id) != 0) {
            sqlite3_finalize(stmt);
            return -1;
        }
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : read_failed(db, "audit_checkpoints");
}

/*
 * Returns true when path is, by device and inode, the database file or one of the files
 * that SQLite keeps beside it, so that opening path for writing would truncate the log.
 * A path that does not exist yet is a new file.
 */
static bool is_database_file(const char *database, const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    struct stat out_stat;
    struct stat file_stat;
    char name[PATH_MAX + 16];

    if (stat(path, &out_stat) != 0)
        return false;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if ((size_t)snprintf(name, sizeof(name), "%s%s", database, suffixes[i]) >=
            sizeof(name))
            continue;
        if (stat(name, &file_stat) == 0 && file_stat.st_dev == out_stat.st_dev &&
            file_stat.st_ino == out_stat.st_ino)
            return true;
    }
    return false;
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
    export_state state = {.out = stdout, .out_name = "standard output"};
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
    if (out_path != NULL && is_database_file(database, out_path)) {
        fprintf(stderr, EXPORT_PROGRAM ": --out %s is the database %s or a file beside it "
                "(-wal, -shm, -journal), and writing it would destroy the audit log; "
                "choose another file\n", out_path, database);
        sqlite3_close(db);
        return AUDIT_EXIT_USAGE;
    }
    if (out_path != NULL && (state.out = fopen(out_path, "w")) == NULL) {
        fprintf(stderr, EXPORT_PROGRAM ": %s: cannot create the file: %s\n", out_path,
                strerror(errno));
        goto out;
    }
    if (out_path != NULL)
        state.out_name = out_path;

    /* Each step prints its own failure, with SQLite's message only where SQLite failed. */
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        read_failed(db, "the database");
        goto out;
    }
    if (audit_rows_each(db, EXPORT_PROGRAM, export_entry, &state) != 0 ||
        export_nodes(db, &state) != 0 || export_checkpoints(db, &state) != 0)
        goto out;
    status = state.invalid_rows ? AUDIT_EXIT_FAILED : AUDIT_EXIT_OK;
out:
    if (state.out != NULL && state.out != stdout && fclose(state.out) != 0) {
        fprintf(stderr, EXPORT_PROGRAM ": %s: writing the file failed: %s\n", out_path,
                strerror(errno));
        status = AUDIT_EXIT_FAILED;
    }
    if (state.out == stdout && fflush(stdout) != 0) {
        fprintf(stderr, EXPORT_PROGRAM ": writing to standard output failed: %s\n",
                strerror(errno));
        status = AUDIT_EXIT_FAILED;
    }
    sqlite3_close(db);
    return status;
}
