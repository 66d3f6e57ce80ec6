#include "audit_rows.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_cmd.h"
#include "audit_log.h"

/* The columns that repeat a fact of the entry text, each named as its member there. */
static const char *const text_columns[] = {"kind", "actor", "relying_party", "jurisdiction"};

sqlite3 *audit_rows_open(const char *program, const char *path)
{
    sqlite3 *db = NULL;

    if (path == NULL) {
        fprintf(stderr, "%s: --database is required\n", program);
        return NULL;
    }
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s: cannot open the database: %s\n", program, path,
                db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    /* A running node may hold the write lock for a commit. */
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* Returns the bytes of column i as the string X'hex', as SQL writes a blob literal. */
static json_t *column_hex_json(sqlite3_stmt *stmt, int i)
{
    const unsigned char *blob = sqlite3_column_blob(stmt, i);
    int len = sqlite3_column_bytes(stmt, i);
    char *hex = malloc(2 * (size_t)len + 4);
    json_t *value;

    if (hex == NULL)
        return NULL;
    strcpy(hex, "X'");
    for (int j = 0; j < len; j++)
        snprintf(hex + 2 + 2 * j, 3, "%02x", blob[j]);
    strcat(hex, "'");
    value = json_string(hex);
    free(hex);
    return value;
}

/* Returns column i with its stored type. A blob, and a text that JSON cannot carry
 * because it is not valid UTF-8 or contains a NUL byte, which 'audit verify' rejects in
 * a JSON string, become the string X'hex'. */
static json_t *column_json(sqlite3_stmt *stmt, int i)
{
    const char *text;
    size_t len;
    json_t *value;

    switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
        return json_integer((json_int_t)sqlite3_column_int64(stmt, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(stmt, i));
    case SQLITE_TEXT:
        text = (const char *)sqlite3_column_text(stmt, i);
        len = (size_t)sqlite3_column_bytes(stmt, i);
        value = text != NULL && memchr(text, '\0', len) == NULL ? json_stringn(text, len)
                                                                  : NULL;
        return value != NULL ? value : column_hex_json(stmt, i);
    case SQLITE_BLOB:
        return column_hex_json(stmt, i);
    default:
        return json_null();
    }
}

/* Returns 1 when audit_entries has the payload column of schema version 7, 0 when
 * not, and -1 when the table cannot be read. */
static int has_payload_column(sqlite3 *db)
{
    sqlite3_stmt *stmt = NULL;
    int found = 0;
    int rc;

    if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('audit_entries')", -1,
                           &stmt, NULL) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        found |= strcmp((const char *)sqlite3_column_text(stmt, 0), "payload") == 0;
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? found : -1;
}

/* Prepares the row query. The tool opens the database read-only and cannot migrate it,
 * so a database that no node of schema version 7 has opened yet reads NULL payloads. */
static sqlite3_stmt *prepare_rows(sqlite3 *db)
{
    /* No WHERE clause: a filter on recorded_at would drop a row whose value is text. */
    static const char with_payload[] =
        "SELECT idx, leaf_hash, entry, recorded_at, kind, actor, relying_party,"
        " jurisdiction, purged_at, payload FROM audit_entries ORDER BY idx";
    static const char without_payload[] =
        "SELECT idx, leaf_hash, entry, recorded_at, kind, actor, relying_party,"
        " jurisdiction, purged_at, NULL FROM audit_entries ORDER BY idx";
    sqlite3_stmt *stmt = NULL;
    int has_payload = has_payload_column(db);

    if (has_payload < 0 ||
        sqlite3_prepare_v2(db, has_payload ? with_payload : without_payload, -1, &stmt,
                           NULL) != SQLITE_OK)
        return NULL;
    return stmt;
}

int audit_rows_each(sqlite3 *db, const char *program,
                    int (*each)(void *ctx, const audit_raw_row *row), void *ctx)
{
    static const char *const names[] = {"recorded_at",  "kind",         "actor",
                                        "relying_party", "jurisdiction", "purged_at"};
    sqlite3_stmt *stmt = prepare_rows(db);
    audit_raw_row row;
    int status = 0;
    int rc;

    if (stmt == NULL) {
        fprintf(stderr, "%s: reading audit_entries failed: %s\n", program, sqlite3_errmsg(db));
        return -1;
    }
    while (status == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        memset(&row, 0, sizeof(row));
        row.index = sqlite3_column_int64(stmt, 0);
        row.leaf_hash = sqlite3_column_blob(stmt, 1);
        row.leaf_hash_len = (size_t)sqlite3_column_bytes(stmt, 1);
        row.text = (const char *)sqlite3_column_text(stmt, 2);
        row.text_len = (size_t)sqlite3_column_bytes(stmt, 2);
        row.payload = (const char *)sqlite3_column_text(stmt, 9);
        row.payload_len = (size_t)sqlite3_column_bytes(stmt, 9);
        row.columns = json_object();
        for (int i = 0; row.columns != NULL && i < 6; i++)
            if (json_object_set_new(row.columns, names[i], column_json(stmt, 3 + i)) != 0) {
                json_decref(row.columns);
                row.columns = NULL;
            }
        if (row.columns == NULL) {
            fprintf(stderr, "%s: out of memory\n", program);
            status = -1;
            break;
        }
        status = each(ctx, &row);
        json_decref(row.columns);
    }
    if (status == 0 && rc != SQLITE_DONE) {
        fprintf(stderr, "%s: reading audit_entries failed: %s\n", program, sqlite3_errmsg(db));
        status = -1;
    }
    sqlite3_finalize(stmt);
    return status;
}

/* Writes the column's value as JSON for messages, shortened to fit. */
static void describe(const json_t *value, char *out, size_t size)
{
    char *text = value != NULL ? json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

    snprintf(out, size, "%.80s", text != NULL ? text : "(missing)");
    free(text);
}

/* Checks the column types against the purge of content ("entry text" or "payload"):
 * see audit_rows_check. */
static const char *check_types(const json_t *columns, const char *content, bool kept,
                               char *detail, size_t detail_size)
{
    const json_t *recorded_at = json_object_get(columns, "recorded_at");
    const json_t *purged_at = json_object_get(columns, "purged_at");
    char value[96];

    if (!json_is_integer(recorded_at)) {
        describe(recorded_at, value, sizeof(value));
        snprintf(detail, detail_size, "the recorded_at column is %s, not an integer", value);
        return "column_invalid";
    }
    if (kept) {
        if (json_is_null(purged_at))
            return NULL;
        describe(purged_at, value, sizeof(value));
        snprintf(detail, detail_size, "the purged_at column is %s, but the %s is kept",
                 value, content);
        return "purge_invalid";
    }
    if (!json_is_integer(purged_at)) {
        describe(purged_at, value, sizeof(value));
        snprintf(detail, detail_size,
                 "the %s is gone, but the purged_at column is %s, not the time of a purge",
                 content, value);
        return "purge_invalid";
    }
    if (json_integer_value(purged_at) < json_integer_value(recorded_at)) {
        snprintf(detail, detail_size,
                 "the purged_at column (%" JSON_INTEGER_FORMAT ") is earlier than the "
                 "recorded_at column (%" JSON_INTEGER_FORMAT ")",
                 json_integer_value(purged_at), json_integer_value(recorded_at));
        return "purge_invalid";
    }
    return NULL;
}

static bool same_fact(const json_t *column, const json_t *member)
{
    if (member == NULL)
        return json_is_null(column);
    return column != NULL && json_equal((json_t *)column, (json_t *)member);
}

const char *audit_rows_check_entry(const json_t *columns, const char *text, char *detail,
                                   size_t detail_size)
{
    json_t *entry = json_loads(text, 0, NULL);
    const json_t *recorded_at = json_object_get(columns, "recorded_at");
    const char *time_text = json_string_value(json_object_get(entry, "time"));
    const char *code = "column_mismatch";
    char column_value[96];
    char entry_value[96];
    char when[32] = "";

    if (!json_is_object(entry)) {
        snprintf(detail, detail_size, "the entry text is not a JSON object");
        goto out;
    }
    if (!json_is_integer(recorded_at) ||
        audit_format_time(json_integer_value(recorded_at), when) != 0 || time_text == NULL ||
        strcmp(when, time_text) != 0) {
        describe(recorded_at, column_value, sizeof(column_value));
        describe(json_object_get(entry, "time"), entry_value, sizeof(entry_value));
        snprintf(detail, detail_size,
                 "the recorded_at column is %s (%s), but the entry's time is %s",
                 column_value, when[0] != '\0' ? when : "not a time", entry_value);
        goto out;
    }
    for (size_t i = 0; i < sizeof(text_columns) / sizeof(text_columns[0]); i++) {
        const json_t *column = json_object_get(columns, text_columns[i]);
        const json_t *member = json_object_get(entry, text_columns[i]);

        if (same_fact(column, member))
            continue;
        describe(column, column_value, sizeof(column_value));
        describe(member, entry_value, sizeof(entry_value));
        snprintf(detail, detail_size, "the %s column is %s, but the entry's %s is %s",
                 text_columns[i], column_value, text_columns[i],
                 member != NULL ? entry_value : "absent");
        goto out;
    }
    code = NULL;
out:
    json_decref(entry);
    return code;
}

int audit_rows_entry_version(const char *text)
{
    json_t *entry = text != NULL ? json_loads(text, 0, NULL) : NULL;
    const json_t *version = json_object_get(entry, "version");
    int result = 1;

    if (version != NULL)
        result = json_is_integer(version) && json_integer_value(version) >= 1 &&
                         json_integer_value(version) <= INT32_MAX
                     ? (int)json_integer_value(version)
                     : -1;
    json_decref(entry);
    return result;
}

const char *audit_rows_check(const json_t *columns, const char *text, const char *payload,
                             char *detail, size_t detail_size)
{
    int version = audit_rows_entry_version(text);
    const char *code;

    if (version != 1 && version != AUDIT_ENTRY_VERSION) {
        snprintf(detail, detail_size,
                 "the entry text's version member is not 1 or %d, the versions this "
                 "idsvc-admin reads", AUDIT_ENTRY_VERSION);
        return "entry_version_invalid";
    }
    if (version == 1)
        code = check_types(columns, "entry text", text != NULL, detail, detail_size);
    else
        code = check_types(columns, "payload", payload != NULL, detail, detail_size);
    if (code == NULL && text != NULL)
        code = audit_rows_check_entry(columns, text, detail, detail_size);
    return code;
}

int audit_rows_set_text(json_t *doc, const char *name, const char *bytes, size_t len,
                        bool *as_hex)
{
    bool has_nul = memchr(bytes, '\0', len) != NULL;
    json_t *text = has_nul ? NULL : json_stringn(bytes, len);
    char hex_name[64];

    *as_hex = text == NULL;
    if (text != NULL)
        return json_object_set_new(doc, name, text);
    snprintf(hex_name, sizeof(hex_name), "%s_hex", name);
    return json_object_set_new(doc, hex_name,
                               audit_hex_json((const unsigned char *)bytes, len));
}

int audit_format_time(int64_t seconds, char out[32])
{
    time_t t = (time_t)seconds;
    struct tm tm;

    if ((int64_t)t != seconds || gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
        tm.tm_year + 1900 < 0 ||
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return -1;
    return 0;
}

int audit_parse_time(const char *text, int64_t *out)
{
    static const char layout[] = "dddd-dd-ddTdd:dd:ddZ";
    struct tm tm = {0};
    char again[32];
    time_t seconds;

    /* NULL is a missing or non-string "time" member of a changed entry text. */
    if (text == NULL || strlen(text) != sizeof(layout) - 1)
        return -1;
    for (size_t i = 0; layout[i] != '\0'; i++) {
        bool digit = text[i] >= '0' && text[i] <= '9';

        if (layout[i] == 'd' ? !digit : text[i] != layout[i])
            return -1;
    }
    tm.tm_year = atoi(text) - 1900;
    tm.tm_mon = atoi(text + 5) - 1;
    tm.tm_mday = atoi(text + 8);
    tm.tm_hour = atoi(text + 11);
    tm.tm_min = atoi(text + 14);
    tm.tm_sec = atoi(text + 17);
    seconds = timegm(&tm);

    /* timegm moves 2026-02-30 to March; a date that does not exist reads back changed. */
    if (audit_format_time((int64_t)seconds, again) != 0 || strcmp(again, text) != 0)
        return -1;
    *out = (int64_t)seconds;
    return 0;
}
