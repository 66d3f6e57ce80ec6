/*
 * The rows of audit_entries as SQLite stores them, for 'audit export' and 'audit show',
 * and the checks that tie a row's columns to its hashed entry text, which 'audit
 * verify', 'export' and 'show' share.
 *
 * The leaf hash covers only the entry text. The columns recorded_at, kind, actor,
 * relying_party and jurisdiction repeat facts of that text for filters and retention,
 * and purged_at records a purge, so nothing but these checks protects them.
 */
#ifndef IDSVC_ADMIN_AUDIT_ROWS_H
#define IDSVC_ADMIN_AUDIT_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

/* Opens the node's database read-only; prints the failure, prefixed by program. */
sqlite3 *audit_rows_open(const char *program, const char *path);

/* One row of audit_entries, valid for the callback. */
typedef struct audit_raw_row {
    int64_t index;
    const unsigned char *leaf_hash;
    size_t leaf_hash_len;
    const char *text; /* the hashed entry text; NULL once a version 1 entry is purged */
    size_t text_len;  /* its length in bytes */
    /* The payload text of a version 2 entry; NULL for version 1, once purged, and for
     * a database of schema version 6 or older, which has no payload column. */
    const char *payload;
    size_t payload_len;
    /* recorded_at, kind, actor, relying_party, jurisdiction and purged_at, each with
     * the type SQLite stored: an integer, a real, a string, null, or for a blob or a
     * text that is not valid UTF-8 the string "X'hex'". */
    json_t *columns;
} audit_raw_row;

/*
 * Calls each for every row of audit_entries in index order, none left out whatever its
 * column types. Returns 0, the callback's nonzero return, or -1 after printing SQLite's
 * message.
 */
int audit_rows_each(sqlite3 *db, const char *program,
                    int (*each)(void *ctx, const audit_raw_row *row), void *ctx);

/*
 * Returns the format version of an entry text: the "version" member when it is a
 * positive integer, and -1 when it is anything else. A text without the member is of
 * version 1, and so are NULL (a purged entry of version 1) and a text that is not a
 * JSON object.
 */
int audit_rows_entry_version(const char *text);

/*
 * Checks the row's columns against its entry text and its purge. The entry text's
 * version decides what a purge removes: the text of version 1, the payload of version 2.
 * recorded_at must be an integer, purged_at an integer not earlier than recorded_at
 * when that content is gone, and null while it is kept. Every column must then repeat
 * the entry text, when there is one (audit_rows_check_entry). Returns NULL when all
 * hold, or the failure code (entry_version_invalid, column_invalid, purge_invalid or
 * column_mismatch) with a sentence in detail.
 */
const char *audit_rows_check(const json_t *columns, const char *text, const char *payload,
                             char *detail, size_t detail_size);

/*
 * Compares each column with the same fact in the entry text: recorded_at with "time",
 * and kind, actor, relying_party and jurisdiction with the members of those names (a
 * NULL column with an absent member). Returns NULL when all agree, or "column_mismatch"
 * with a sentence naming the first column that differs in detail. text must not be NULL.
 */
const char *audit_rows_check_entry(const json_t *columns, const char *text, char *detail,
                                   size_t detail_size);

/*
 * Sets doc's member name to the bytes as a JSON string. For bytes that are not valid
 * UTF-8, which JSON cannot carry, or that contain a NUL byte, which a reader cannot
 * take back from a JSON string, it sets name_hex to the bytes in lowercase hex instead
 * and sets *as_hex. Returns -1 when out of memory.
 */
int audit_rows_set_text(json_t *doc, const char *name, const char *bytes, size_t len,
                        bool *as_hex);

/* Writes seconds since 1970 as RFC 3339 UTC ("2026-01-31T12:00:00Z"); returns -1 for a
 * time gmtime_r cannot represent. */
int audit_format_time(int64_t seconds, char out[32]);

/* Parses RFC 3339 UTC to the second, exactly as the entries write it, into seconds since
 * 1970. Rejects NULL, any other layout and dates that do not exist. */
int audit_parse_time(const char *text, int64_t *out);

#endif
