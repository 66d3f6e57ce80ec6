/*
 * idsvc-admin audit verify EXPORT --trust PEM: checks an export offline. It rebuilds the
 * tree from the entries, in index order, and stops at the first problem, which it names
 * by a stable code and the entry, subtree or checkpoint at fault:
 *
 *   1. each entry's bytes must hash to its leaf hash (entry_hash_mismatch), the
 *      payload of an entry of version 2 must hash to the payload_sha256 of its text
 *      (payload_hash_mismatch), and the indexes must run 0, 1, 2, ... (entry_missing);
 *   2. each exported subtree hash must cover only entries of the export
 *      (node_beyond_export) and equal the rebuilt one (node_hash_mismatch);
 *   3. each checkpoint must carry a valid signature by the trusted key
 *      (checkpoint_signature_invalid), cover no more than the export
 *      (checkpoint_beyond_export), sign the rebuilt root (checkpoint_root_mismatch), and
 *      extend the previous checkpoint by an RFC 9162 consistency proof
 *      (checkpoint_inconsistent);
 *   4. each entry's unhashed columns must repeat the facts of its text
 *      (column_invalid, column_mismatch), no entry of version 1 may follow one of
 *      version 2 (entry_version_invalid), and a purged entry needs a purge time no
 *      earlier than its recorded time (purge_invalid) and, with --retention-days, no
 *      earlier than the stated retention period allows (purged_early). For version 2
 *      the time and jurisdiction come from the hashed text. Its purge time must also be
 *      that of a later purge entry whose rules expired it (purge_unlogged, see
 *      audit_purges.h). A purged entry of version 1 has only its columns left;
 *   5. each entry's version must match the version-2-from line of every checkpoint
 *      (entry_version_invalid).
 *
 * The column checks run while the entries are read, but their first failure is printed
 * only after steps 2 and 3 passed, because a changed hash or checkpoint is the stronger
 * finding and locates a rewritten entry by the tree.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "audit_checkpoint.h"
#include "audit_cmd.h"
#include "audit_log.h"
#include "audit_memory.h"
#include "audit_purges.h"
#include "audit_rows.h"
#include "audit_saved.h"
#include "audit_trust.h"
#include "iso3166.h"
#include "number_arg.h"

#define LINE_MAX_BYTES (1024 * 1024)
#define VERIFY_PROGRAM "idsvc-admin audit verify"

/* The largest period the node's [audit] retention_days accepts. */
#define RETENTION_DAYS_MAX (100 * 366)
#define RETENTION_RULES_MAX 64

/* A retention period stated with --retention-days, as [audit] retention_days (the
 * default, jurisdiction NULL) or retention_days.XX sets it on the node. */
typedef struct retention_rule {
    const char *jurisdiction;
    uint64_t days; /* 0 keeps payloads forever */
} retention_rule;

/* The purged entries seen so far. */
typedef struct purge_summary {
    uint64_t count;
    uint64_t first;
    uint64_t last;
    uint64_t unchecked;   /* no --retention-days rule applied */
    uint64_t unprotected; /* of version 1: their text, time and jurisdiction are gone */
} purge_summary;

typedef struct verifier {
    audit_memory_tree tree;
    audit_trust trust; /* the keys of every --trust file */
    audit_checkpoint *checkpoints;
    size_t checkpoint_count;
    json_t *nodes;      /* [level, index, hash, line] of the exported subtrees */
    unsigned long line; /* the export line being read, for messages */
    const retention_rule *rules;
    size_t rule_count;
    purge_summary purged;
    audit_purges *purges;  /* purge entries and purged entries, tied once all are read */
    json_t *notes;         /* NOTE lines to print after the OK line, such as anchor resets */
    json_t *resets;        /* [{index, size, root}] of anchor resets within this log */
    json_t *reset_indexes; /* the index of every audit_anchor_reset entry */
    bool seen_version_2;   /* an earlier entry was of version 2 */
    uint64_t first_version_2;
    char column_failure[512]; /* the first FAILED line of step 4, or "" */
    char **saved_paths;       /* the --saved checkpoint files */
    size_t saved_count;
} verifier;

static int fail(const char *what, uint64_t number, const char *code, const char *detail)
{
    printf("FAILED %s %" PRIu64 ": %s: %s\n", what, number, code, detail);
    return AUDIT_EXIT_FAILED;
}

/* ---- Columns and purges ---------------------------------------------------------- */

/* Returns the rule for jurisdiction: its own, else the default, else NULL. */
static const retention_rule *find_rule(const verifier *v, const char *jurisdiction)
{
    const retention_rule *fallback = NULL;

    for (size_t i = 0; i < v->rule_count; i++) {
        if (v->rules[i].jurisdiction == NULL)
            fallback = &v->rules[i];
        else if (jurisdiction != NULL && strcmp(v->rules[i].jurisdiction, jurisdiction) == 0)
            return &v->rules[i];
    }
    return fallback;
}

/* Keeps the first column failure for verify() to print; returns 0. */
static int defer_failure(verifier *v, uint64_t index, const char *code, const char *detail)
{
    if (v->column_failure[0] == '\0')
        snprintf(v->column_failure, sizeof(v->column_failure),
                 "FAILED entry %" PRIu64 ": %s: %s\n", index, code, detail);
    return 0;
}

/* The facts that retention reads: from the hashed entry text of version 2, and from the
 * columns of a purged entry of version 1, whose text is gone. */
typedef struct purge_facts {
    const char *content; /* what the purge removed: "entry text" or "payload" */
    const char *jurisdiction;
    int64_t recorded_at;
    int64_t purged_at;
} purge_facts;

/*
 * Counts a purged entry and checks it against the stated retention period. The node
 * purges an entry once more than its period has passed since it was recorded, so an
 * entry purged sooner was not purged by retention.
 */
static int check_purge(verifier *v, uint64_t index, const purge_facts *facts)
{
    const retention_rule *rule = find_rule(v, facts->jurisdiction);
    const char *jurisdiction = facts->jurisdiction != NULL ? facts->jurisdiction : "(none)";
    uint64_t kept_seconds = (uint64_t)facts->purged_at - (uint64_t)facts->recorded_at;
    char detail[256];

    if (v->purged.count == 0)
        v->purged.first = index;
    v->purged.last = index;
    v->purged.count++;
    if (rule == NULL) {
        v->purged.unchecked++;
        return 0;
    }
    if (rule->days == 0) {
        snprintf(detail, sizeof(detail),
                 "the %s was purged, but the stated policy keeps the payloads of "
                 "jurisdiction %s forever", facts->content, jurisdiction);
        return defer_failure(v, index, "purged_early", detail);
    }
    if (kept_seconds < rule->days * 86400) {
        snprintf(detail, sizeof(detail),
                 "the %s was purged %" PRIu64 " days and %" PRIu64 " seconds after it was "
                 "recorded, before the %" PRIu64 " days stated for jurisdiction %s",
                 facts->content, kept_seconds / 86400, kept_seconds % 86400, rule->days,
                 jurisdiction);
        return defer_failure(v, index, "purged_early", detail);
    }
    return 0;
}

/* Reads the purge facts of a purged entry whose columns passed audit_rows_check, so
 * both times are integers and the text, when there is one, repeats the columns. */
static void read_purge_facts(const json_t *columns, const char *text, json_t **entry,
                             purge_facts *facts)
{
    const json_t *source = columns;

    *entry = text != NULL ? json_loads(text, 0, NULL) : NULL;
    facts->content = text != NULL ? "payload" : "entry text";
    facts->recorded_at = json_integer_value(json_object_get(columns, "recorded_at"));
    facts->purged_at = json_integer_value(json_object_get(columns, "purged_at"));
    if (*entry != NULL) {
        source = *entry;
        audit_parse_time(json_string_value(json_object_get(*entry, "time")),
                         &facts->recorded_at);
    }
    facts->jurisdiction = json_string_value(json_object_get(source, "jurisdiction"));
}

/*
 * Checks the order of versions: once a node writes an entry of version 2, it writes
 * no other. So a later entry of version 1, or one whose text is gone, was changed:
 * most likely the text of a purged entry of version 2 was deleted to free its columns
 * from the hash.
 */
static int check_version_order(verifier *v, uint64_t index, int version)
{
    char detail[256];

    if (version != 1 || !v->seen_version_2 || v->first_version_2 > index)
        return 0;
    snprintf(detail, sizeof(detail),
             "the entry is of version 1 or has no text, but entry %" PRIu64 " before it is "
             "of version %d, after which a node writes no other version",
             v->first_version_2, AUDIT_ENTRY_VERSION);
    return defer_failure(v, index, "entry_version_invalid", detail);
}

/* Returns the hashed time of a parsed entry text, or -1 when it has none. */
static int64_t entry_time(const json_t *entry)
{
    int64_t when = -1;

    if (audit_parse_time(json_string_value(json_object_get(entry, "time")), &when) != 0)
        when = -1;
    return when;
}

/* Describes an audit_anchor_reset entry's payload for a regulator: an anchor that was
 * missing or unreadable, a replaced database, or a rollback. A rollback dropped signed
 * entries, because the previous anchor of the same log covered more entries than
 * precede the reset. */
static void describe_reset(uint64_t index, const json_t *payload, char *out, size_t size)
{
    const char *previous_log = json_string_value(json_object_get(payload, "previous_log_id"));
    const char *log_id = json_string_value(json_object_get(payload, "log_id"));
    json_int_t previous_size = json_integer_value(json_object_get(payload, "previous_size"));

    if (json_is_true(json_object_get(payload, "previous_missing")))
        snprintf(out, size, "entry %" PRIu64 " records an anchor reset where the HSM had no "
                 "anchor: it was deleted, or the entity ID changed", index);
    else if (previous_log == NULL || log_id == NULL)
        snprintf(out, size, "entry %" PRIu64 " records an anchor reset over an unreadable "
                 "anchor", index);
    else if (strcmp(previous_log, log_id) != 0)
        snprintf(out, size, "entry %" PRIu64 " records an anchor reset: the previous anchor "
                 "was of another log (ID %.16s...) of %lld entries, so the database was "
                 "replaced", index, previous_log, (long long)previous_size);
    else if (previous_size > 0 && (uint64_t)previous_size > index)
        snprintf(out, size, "entry %" PRIu64 " records an anchor reset after a rollback: "
                 "the previous anchor of this log covered %lld entries, so %llu signed "
                 "entries from index %" PRIu64 " on were dropped", index,
                 (long long)previous_size,
                 (unsigned long long)((uint64_t)previous_size - index), index);
    else
        snprintf(out, size, "entry %" PRIu64 " records an anchor reset; the previous anchor "
                 "covered %lld entries of this log", index, (long long)previous_size);
}

/* Keeps a NOTE line for a start that found entries past the latest checkpoint: they
 * were written before a crash, or added to the database while the node was stopped. */
static void note_unsigned(verifier *v, uint64_t index, const char *payload)
{
    json_t *doc = payload != NULL ? json_loads(payload, 0, NULL) : NULL;
    const json_t *found = json_object_get(doc, "unsigned_entries");
    json_int_t from = json_integer_value(json_object_get(found, "from"));
    json_int_t count = json_integer_value(json_object_get(found, "count"));
    char note[320];

    if (json_is_object(found)) {
        snprintf(note, sizeof(note),
                 "entry %" PRIu64 " records a start that found %lld entries from index %lld "
                 "that no checkpoint covered: written before a crash, or added to the "
                 "database while the node was stopped; read them with 'audit show'",
                 index, (long long)count, (long long)from);
        json_array_append_new(v->notes, json_string(note));
    }
    json_decref(doc);
}

/* Keeps a NOTE line for a start that the operator let pass with idsvc
 * --accept-clock-behind while the wall clock was behind the log's newest time. A purged
 * payload leaves only the entry's own time, which is the accepted wall clock. */
static void note_clock_accepted(verifier *v, uint64_t index, const char *payload)
{
    json_t *doc = payload != NULL ? json_loads(payload, 0, NULL) : NULL;
    const char *wall = json_string_value(json_object_get(doc, "wall_clock"));
    const char *recorded = json_string_value(json_object_get(doc, "recorded_time"));
    json_int_t behind = json_integer_value(json_object_get(doc, "behind_seconds"));
    char note[320];

    if (wall != NULL && recorded != NULL)
        snprintf(note, sizeof(note),
                 "entry %" PRIu64 " records a start whose wall clock %s was %lld seconds "
                 "behind %s, the newest time in the log, let pass with "
                 "--accept-clock-behind: entries before it may carry times from a clock "
                 "that ran ahead",
                 index, wall, (long long)behind, recorded);
    else
        snprintf(note, sizeof(note),
                 "entry %" PRIu64 " records a start whose wall clock was behind the newest "
                 "time in the log, let pass with --accept-clock-behind; its payload with "
                 "both times is purged or unreadable",
                 index);
    json_array_append_new(v->notes, json_string(note));
    json_decref(doc);
}

/* Keeps a NOTE line for each anchor reset, printed after the OK line, and the previous
 * anchor's size and root of a reset within the same log for check_resets. */
static void note_reset(verifier *v, uint64_t index, const char *payload)
{
    json_t *doc = payload != NULL ? json_loads(payload, 0, NULL) : NULL;
    const char *previous_log = json_string_value(json_object_get(doc, "previous_log_id"));
    const char *log_id = json_string_value(json_object_get(doc, "log_id"));
    char note[320];

    describe_reset(index, doc, note, sizeof(note));
    json_array_append_new(v->notes, json_string(note));
    json_array_append_new(v->reset_indexes, json_integer((json_int_t)index));
    if (previous_log != NULL && log_id != NULL && strcmp(previous_log, log_id) == 0)
        json_array_append_new(v->resets,
                              json_pack("{s:I, s:O, s:O}", "index", (json_int_t)index, "size",
                                        json_object_get(doc, "previous_size"), "root",
                                        json_object_get(doc, "previous_root")));
    json_decref(doc);
}

/*
 * Checks each reset within the same log whose previous anchor covered no more entries
 * than precede the reset: those entries must still hash to the previous anchor's root.
 * Otherwise the reset covered a rewrite of signed history, not a restore. A rollback
 * (a larger previous size) cannot be checked, because the dropped entries are gone.
 */
static int check_resets(const verifier *v)
{
    audit_memory_tree *tree = (audit_memory_tree *)&v->tree;
    audit_merkle_source source = audit_memory_tree_source(tree);
    size_t position;
    const json_t *reset;
    char detail[320];

    json_array_foreach(v->resets, position, reset) {
        uint64_t index = (uint64_t)json_integer_value(json_object_get(reset, "index"));
        json_int_t size = json_integer_value(json_object_get(reset, "size"));
        const char *root = json_string_value(json_object_get(reset, "root"));
        audit_merkle_tree_head rebuilt = {0};
        audit_merkle_hash expected;
        char rebuilt_hex[65];

        if (size <= 0 || (uint64_t)size > index)
            continue;
        if (root == NULL || audit_hash_from_hex(root, &expected) != 0 ||
            audit_merkle_tree_head_compute(&source, (uint64_t)size, &rebuilt) !=
                AUDIT_MERKLE_OK ||
            memcmp(rebuilt.root.bytes, expected.bytes, sizeof(expected.bytes)) != 0) {
            audit_hash_hex(&rebuilt.root, rebuilt_hex);
            snprintf(detail, sizeof(detail),
                     "the reset records that the previous anchor signed root %.16s... for "
                     "%lld entries, but the log's first %lld entries hash to %.16s...: "
                     "entries before the reset were rewritten",
                     root != NULL ? root : "(none)", (long long)size, (long long)size,
                     rebuilt_hex);
            return fail("entry", index, "reset_root_mismatch", detail);
        }
    }
    return 0;
}

/*
 * Reads the payloads of the kinds that verify reports on: anchor resets, starts and
 * starts with the clock behind give NOTE lines, and purge entries are kept for audit_purges_check. The text is parsed once
 * here. Returns true for a purge entry, whose own payload is never purged.
 */
static bool read_entry_kind(verifier *v, uint64_t index, const char *text,
                            const char *payload)
{
    json_t *entry = json_loads(text, 0, NULL);
    const char *kind = json_string_value(json_object_get(entry, "kind"));
    bool purge_entry = kind != NULL && strcmp(kind, AUDIT_PURGE_KIND) == 0;
    const char *code;
    char detail[256];

    if (kind != NULL && strcmp(kind, "audit_anchor_reset") == 0)
        note_reset(v, index, payload);
    else if (kind != NULL && strcmp(kind, "checkpoint_key_loaded") == 0)
        note_unsigned(v, index, payload);
    else if (kind != NULL && strcmp(kind, "clock_behind_accepted") == 0)
        note_clock_accepted(v, index, payload);
    if (purge_entry) {
        code = audit_purges_add_record(v->purges, index, entry_time(entry), payload, detail,
                                       sizeof(detail));
        if (code != NULL)
            defer_failure(v, index, code, detail);
    }
    json_decref(entry);
    return purge_entry;
}

/* Checks the columns of an entry line against its text, and its purge. */
static int check_columns(verifier *v, uint64_t index, const json_t *line, const char *text,
                         const char *payload)
{
    const json_t *columns = json_object_get(line, "columns");
    int version = audit_rows_entry_version(text);
    bool purged = version == 1 ? text == NULL : payload == NULL;
    purge_facts facts;
    json_t *entry = NULL;
    const char *code;
    char detail[256];

    /* Noted before any column check, which check_version_lines relies on. */
    if (version == AUDIT_ENTRY_VERSION && !v->seen_version_2) {
        v->seen_version_2 = true;
        v->first_version_2 = index;
    }
    if (!json_is_object(columns))
        return fail("entry", index, "export_invalid",
                    "the entry has no columns object; export the database again with this "
                    "version of idsvc-admin");
    code = audit_rows_check(columns, text, payload, detail, sizeof(detail));
    if (code != NULL)
        return defer_failure(v, index, code, detail);
    check_version_order(v, index, version);
    if (version == AUDIT_ENTRY_VERSION && read_entry_kind(v, index, text, payload))
        return 0;
    if (!purged)
        return 0;

    v->purged.unprotected += text == NULL;
    read_purge_facts(columns, text, &entry, &facts);
    check_purge(v, index, &facts);
    /* A purge of version 2 must be one that the log records (audit_purges.h). Because
     * facts points into entry, entry is freed only after this. */
    if (version == AUDIT_ENTRY_VERSION &&
        audit_purges_add_purged(v->purges, index, facts.recorded_at, facts.jurisdiction,
                                facts.purged_at) != 0) {
        json_decref(entry);
        return fail("entry", index, "internal_error", "out of memory");
    }
    json_decref(entry);
    return 0;
}

/* ---- Reading the export ----------------------------------------------------------- */

/* Copies len bytes to a new buffer with a NUL after them, so that check_columns can read
 * them as a string. */
static int copy_bytes(const void *source, size_t len, unsigned char **bytes, size_t *out_len)
{
    *bytes = OPENSSL_malloc(len + 1);
    if (*bytes == NULL)
        return -2;
    memcpy(*bytes, source, len);
    (*bytes)[len] = '\0';
    *out_len = len;
    return 0;
}

/*
 * Reads the bytes of member name ("entry" or "payload") of an entry line: its text, or
 * the bytes in name_hex that the export writes for a text that is not valid UTF-8. Sets
 * *bytes to NULL when the member is null, or absent as the payload is in exports written
 * before payloads had a column of their own. Returns -1 for a line with both, or with
 * a value of another type, and -2 when out of memory.
 */
static int text_bytes(const json_t *line, const char *name, unsigned char **bytes,
                      size_t *len)
{
    char hex_name[32];
    const json_t *text = json_object_get(line, name);
    const char *hex;
    unsigned char *decoded;
    long hex_len = 0;
    int rc;

    snprintf(hex_name, sizeof(hex_name), "%s_hex", name);
    hex = json_string_value(json_object_get(line, hex_name));
    *bytes = NULL;
    *len = 0;
    if (hex == NULL && json_object_get(line, hex_name) != NULL)
        return -1;
    if (hex == NULL && (json_is_null(text) || (text == NULL && strcmp(name, "payload") == 0)))
        return 0;
    if (hex == NULL && json_is_string(text))
        return copy_bytes(json_string_value(text), json_string_length(text), bytes, len);
    if (hex == NULL || text != NULL || strlen(hex) % 2 != 0 || strchr(hex, ':') != NULL)
        return -1;

    decoded = OPENSSL_hexstr2buf(hex, &hex_len);
    if (decoded == NULL)
        return -1;
    rc = copy_bytes(decoded, (size_t)hex_len, bytes, len);
    OPENSSL_free(decoded);
    return rc;
}

/* Reads the entry's bytes and its payload's; returns 0, or the exit status after
 * printing the failure. */
static int read_texts(uint64_t index, const json_t *line, unsigned char **text,
                      size_t *text_len, unsigned char **payload, size_t *payload_len)
{
    int rc = text_bytes(line, "entry", text, text_len);

    if (rc == 0)
        rc = text_bytes(line, "payload", payload, payload_len);
    if (rc == 0)
        return 0;
    if (rc == -2)
        return fail("entry", index, "internal_error", "out of memory");
    return fail("entry", index, "export_invalid",
                "entry must be the entry's JSON text, or null once purged, or entry_hex the "
                "bytes of a text that is not valid UTF-8; payload, when present, must be "
                "text or null, or payload_hex bytes");
}

/*
 * Checks that a payload hashes to the payload_sha256 of its entry text. Only an entry
 * of version 2 has a payload of its own. Returns 0, or the exit status after printing
 * payload_hash_mismatch.
 */
static int check_payload(uint64_t index, const char *text, const unsigned char *payload,
                         size_t payload_len)
{
    json_t *entry;
    const char *expected;
    audit_merkle_hash digest;
    unsigned digest_len = 0;
    char computed[65];
    int rc = 0;

    if (payload == NULL)
        return 0;
    if (audit_rows_entry_version(text) != AUDIT_ENTRY_VERSION)
        return fail("entry", index, "payload_hash_mismatch",
                    "a payload is stored, but the entry has no text of version 2 that "
                    "names a payload_sha256");
    if (EVP_Digest(payload, payload_len, digest.bytes, &digest_len, EVP_sha256(), NULL) != 1)
        return fail("entry", index, "internal_error", "SHA-256 failed");
    audit_hash_hex(&digest, computed);

    entry = json_loads(text, 0, NULL);
    expected = json_string_value(json_object_get(entry, "payload_sha256"));
    if (expected == NULL || strcmp(expected, computed) != 0)
        rc = fail("entry", index, "payload_hash_mismatch",
                  "the payload does not hash to the payload_sha256 of the entry text");
    json_decref(entry);
    return rc;
}

static int read_entry(verifier *v, const json_t *line)
{
    uint64_t expected = v->tree.frontier.size;
    json_int_t index = json_integer_value(json_object_get(line, "index"));
    unsigned char *bytes = NULL;
    unsigned char *payload = NULL;
    size_t len = 0;
    size_t payload_len = 0;
    audit_merkle_hash stored;
    audit_merkle_hash computed;
    int rc = AUDIT_EXIT_FAILED;

    if (!json_is_integer(json_object_get(line, "index")))
        return fail("line", v->line, "export_invalid",
                    "an entry needs an integer index, such as 0");
    if (index < 0 || (uint64_t)index != expected) {
        char detail[128];

        snprintf(detail, sizeof(detail),
                 "the export has index %lld where index %" PRIu64 " comes next: it skips "
                 "this index or repeats another", (long long)index, expected);
        return fail("entry", expected, "entry_missing", detail);
    }
    if (audit_hash_from_hex(json_string_value(json_object_get(line, "leaf_hash")), &stored) != 0)
        return fail("entry", expected, "leaf_hash_invalid", "leaf_hash is not 64 hex digits");
    if (read_texts(expected, line, &bytes, &len, &payload, &payload_len) != 0)
        goto out;

    /* A purged entry of version 1 has no bytes left; its stored leaf hash stands for
     * it. */
    if (bytes != NULL) {
        audit_merkle_hash_leaf(bytes, len, &computed);
        if (memcmp(computed.bytes, stored.bytes, sizeof(stored.bytes)) != 0) {
            fail("entry", expected, "entry_hash_mismatch",
                 "the entry's bytes do not hash to its stored leaf hash");
            goto out;
        }
    }
    if (check_payload(expected, (const char *)bytes, payload, payload_len) != 0 ||
        check_columns(v, expected, line, (const char *)bytes, (const char *)payload) != 0)
        goto out;
    if (audit_memory_tree_append(&v->tree, &stored) != AUDIT_MERKLE_OK) {
        fail("entry", expected, "internal_error", "out of memory");
        goto out;
    }
    rc = 0;
out:
    OPENSSL_free(bytes);
    OPENSSL_free(payload);
    return rc;
}

static int read_checkpoint(verifier *v, const json_t *line)
{
    audit_checkpoint *grown = realloc(v->checkpoints,
                                      (v->checkpoint_count + 1) * sizeof(*grown));
    audit_checkpoint *checkpoint;
    const char *signature = json_string_value(json_object_get(line, "signature"));
    const char *body = json_string_value(json_object_get(line, "body"));
    const char *algorithm = json_string_value(json_object_get(line, "algorithm"));
    unsigned char decoded[AUDIT_SIGNATURE_MAX + 4];
    int len = -1;

    if (grown == NULL)
        return fail("line", v->line, "internal_error", "out of memory");
    v->checkpoints = grown;
    checkpoint = &grown[v->checkpoint_count++];
    memset(checkpoint, 0, sizeof(*checkpoint));
    if (!json_is_integer(json_object_get(line, "id")) ||
        json_integer_value(json_object_get(line, "id")) < 0)
        return fail("line", v->line, "export_invalid",
                    "a checkpoint needs an integer id of 0 or more");
    checkpoint->id = (uint64_t)json_integer_value(json_object_get(line, "id"));
    for (size_t i = 0; i + 1 < v->checkpoint_count; i++)
        if (v->checkpoints[i].id == checkpoint->id)
            return fail("line", v->line, "export_invalid",
                        "a checkpoint id appears twice; each checkpoint is exported once");

    len = audit_decode_signature(signature, decoded);
    if (len <= 0 || len > AUDIT_SIGNATURE_MAX || body == NULL || algorithm == NULL ||
        audit_checkpoint_parse(body, checkpoint) != 0)
        return fail("checkpoint", checkpoint->id, "checkpoint_invalid",
                    "the body, algorithm or signature is missing or malformed");
    memcpy(checkpoint->signature, decoded, (size_t)len);
    checkpoint->signature_len = (size_t)len;
    checkpoint->body = strdup(body);
    checkpoint->algorithm = strdup(algorithm);
    if (checkpoint->body == NULL || checkpoint->algorithm == NULL)
        return fail("line", v->line, "internal_error", "out of memory");
    return 0;
}

/* Keeps a node line with its line number, because its hash can be checked only once
 * every entry is read. */
static int read_node(verifier *v, const json_t *line)
{
    json_t *level = json_object_get(line, "level");
    json_t *index = json_object_get(line, "index");
    json_t *hash = json_object_get(line, "hash");

    if (!json_is_integer(level) || !json_is_integer(index) || !json_is_string(hash))
        return fail("line", v->line, "export_invalid",
                    "a node needs an integer level and index and a hash string");
    /* The store keeps levels 1 to 63, because level 0 is the entries' leaf hashes. */
    if (json_integer_value(level) < 1 || json_integer_value(level) > 63 ||
        json_integer_value(index) < 0)
        return fail("line", v->line, "export_invalid",
                    "a node needs a level from 1 to 63 and an index of 0 or more");
    if (json_array_append_new(v->nodes, json_pack("[O, O, O, I]", level, index, hash,
                                                  (json_int_t)v->line)) != 0)
        return fail("line", v->line, "internal_error", "out of memory");
    return 0;
}

static int read_line(verifier *v, const char *text)
{
    json_error_t error;
    /* A duplicate member would let this reader and another tool see different lines. */
    json_t *line = json_loads(text, JSON_REJECT_DUPLICATES, &error);
    const char *type = json_string_value(json_object_get(line, "type"));
    int rc;

    if (line == NULL && strstr(error.text, "duplicate") != NULL) {
        rc = fail("line", v->line, "export_invalid", "a member name appears twice");
    } else if (line == NULL) {
        char detail[256];

        snprintf(detail, sizeof(detail), "the line is not JSON (column %d: %s)",
                 error.column, error.text);
        rc = fail("line", v->line, "export_invalid", detail);
    } else if (type == NULL) {
        rc = fail("line", v->line, "export_invalid", "not a JSON object with a type");
    } else if (strcmp(type, "entry") == 0) {
        rc = read_entry(v, line);
    } else if (strcmp(type, "checkpoint") == 0) {
        rc = read_checkpoint(v, line);
    } else if (strcmp(type, "node") == 0) {
        rc = read_node(v, line);
    } else {
        rc = fail("line", v->line, "export_invalid", "unknown type");
    }
    json_decref(line);
    return rc;
}

/*
 * Reads one line of the export, with its '\n', into line, which has room for
 * LINE_MAX_BYTES + 1 bytes. Returns 1 with *len set, 0 at the end of the file, -1 for a
 * line longer than LINE_MAX_BYTES, with its first *len bytes in line and no terminating
 * zero, or -2 after a read error.
 * Unlike getline, it never grows a buffer, so an input without a newline, such as
 * /dev/zero, ends after LINE_MAX_BYTES.
 */
static int read_bounded_line(FILE *file, char *line, size_t *len)
{
    size_t used = 0;
    int c;

    while ((c = getc_unlocked(file)) != EOF) {
        if (used == LINE_MAX_BYTES) {
            *len = used;
            return -1;
        }
        line[used++] = (char)c;
        if (c == '\n')
            break;
    }
    if (ferror(file))
        return -2;
    line[used] = '\0';
    *len = used;
    return used > 0 ? 1 : 0;
}

/* Reads the export line by line. read_bounded_line returns each line's length, so a NUL
 * byte, which would end the text early for the JSON reader, is found and rejected. */
static int read_export(verifier *v, const char *path)
{
    FILE *file = fopen(path, "r");
    char *text = malloc(LINE_MAX_BYTES + 1);
    size_t len = 0;
    int status = 0;
    int rc = 0;

    if (file == NULL || text == NULL) {
        fprintf(stderr, VERIFY_PROGRAM ": %s: cannot read the file: %s\n", path,
                file == NULL ? strerror(errno) : "out of memory");
        if (file != NULL)
            fclose(file);
        free(text);
        return AUDIT_EXIT_USAGE;
    }
    while (rc == 0 && (status = read_bounded_line(file, text, &len)) != 0) {
        v->line++;
        if (status == -2)
            break;
        /* The 16-byte header that starts every SQLite database file. */
        if (v->line == 1 && len >= 16 && memcmp(text, "SQLite format 3", 16) == 0)
            rc = fail("line", v->line, "export_invalid",
                      "the file is an SQLite database, not an export; run 'idsvc-admin "
                      "audit export --database FILE --out EXPORT' and verify EXPORT");
        else if (status == -1)
            rc = fail("line", v->line, "export_invalid", "the line is longer than 1 MiB");
        else if (memchr(text, '\0', len) != NULL)
            rc = fail("line", v->line, "export_invalid", "the line contains a NUL byte");
        else if (v->line == 1 && strncmp(text, "\xef\xbb\xbf", 3) == 0)
            rc = fail("line", v->line, "export_invalid",
                      "the file starts with a UTF-8 byte order mark, which an export never "
                      "writes; the file was edited");
        else if (text[strspn(text, " \t\r\n")] != '\0')
            rc = read_line(v, text);
    }
    /* A read error, such as on a folder, is not the end of the export. */
    if (rc == 0 && status == -2) {
        fprintf(stderr, VERIFY_PROGRAM ": %s: reading failed: %s\n", path, strerror(errno));
        rc = AUDIT_EXIT_USAGE;
    }
    fclose(file);
    free(text);
    return rc;
}

/* ---- Checks ----------------------------------------------------------------------- */

/*
 * Checks one exported subtree hash against the rebuilt tree. A subtree of level L and
 * index I covers entries I * 2^L to (I + 1) * 2^L - 1, so it lies inside an export of n
 * entries exactly when I < n >> L, a test that cannot overflow.
 */
static int check_node(const verifier *v, const json_t *item)
{
    unsigned level = (unsigned)json_integer_value(json_array_get(item, 0));
    uint64_t index = (uint64_t)json_integer_value(json_array_get(item, 1));
    uint64_t line = (uint64_t)json_integer_value(json_array_get(item, 3));
    audit_merkle_hash stored;
    audit_merkle_hash rebuilt;
    char detail[256];

    if (index >= v->tree.frontier.size >> level) {
        snprintf(detail, sizeof(detail),
                 "the node of level %u, index %" PRIu64 " covers entries past the end of "
                 "the export, which has %" PRIu64 " entries; entries were deleted from the "
                 "end, or the line was edited",
                 level, index, v->tree.frontier.size);
        return fail("line", line, "node_beyond_export", detail);
    }
    snprintf(detail, sizeof(detail),
             "the stored hash of level %u, index %" PRIu64 " (line %" PRIu64 ") differs "
             "from the rebuilt one; it covers %" PRIu64 " entries from this index",
             level, index, line, UINT64_C(1) << level);
    if (audit_hash_from_hex(json_string_value(json_array_get(item, 2)), &stored) != 0 ||
        audit_memory_tree_get(&v->tree, level, index, &rebuilt) != 0 ||
        memcmp(stored.bytes, rebuilt.bytes, sizeof(stored.bytes)) != 0)
        return fail("entry", index << level, "node_hash_mismatch", detail);
    return 0;
}

static int check_nodes(const verifier *v)
{
    size_t position;
    const json_t *item;
    int rc;

    json_array_foreach(v->nodes, position, item) {
        rc = check_node(v, item);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int compare_sizes(const void *a, const void *b)
{
    const audit_checkpoint *x = a;
    const audit_checkpoint *y = b;

    if (x->head.size != y->head.size)
        return x->head.size < y->head.size ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Returns true when an audit_anchor_reset entry has an index from first to before end.
 * A node whose entity ID changed needs that reset, so its checkpoints may name the new
 * ID from there on. */
static bool reset_between(const verifier *v, uint64_t first, uint64_t end)
{
    size_t position;
    const json_t *index;

    json_array_foreach(v->reset_indexes, position, index) {
        uint64_t at = (uint64_t)json_integer_value(index);

        if (at >= first && at < end)
            return true;
    }
    return false;
}

static int check_checkpoint(const verifier *v, const audit_checkpoint *checkpoint,
                            const audit_checkpoint *previous)
{
    audit_memory_tree *tree = (audit_memory_tree *)&v->tree;
    audit_merkle_source source = audit_memory_tree_source(tree);
    audit_merkle_tree_head rebuilt;
    audit_merkle_proof proof;
    EVP_PKEY *key = audit_trust_find(&v->trust, checkpoint->key_id);
    char trusted[AUDIT_TRUST_MAX * 18 + 1];
    char detail[400];

    if (key == NULL) {
        audit_trust_describe(&v->trust, trusted, sizeof(trusted));
        snprintf(detail, sizeof(detail),
                 "the checkpoint names key %.16s..., which no --trust file contains (trusted: "
                 "%.100s); pass the node's key of that time",
                 checkpoint->key_id, trusted);
        return fail("checkpoint", checkpoint->id, "checkpoint_key_mismatch", detail);
    }
    if (audit_checkpoint_verify(checkpoint, key) != 0)
        return fail("checkpoint", checkpoint->id, "checkpoint_signature_invalid",
                    "the signature does not verify with the key that the checkpoint names");
    if (checkpoint->head.size > v->tree.frontier.size)
        return fail("checkpoint", checkpoint->id, "checkpoint_beyond_export",
                    "the checkpoint covers more entries than the export holds");
    if (audit_merkle_tree_head_compute(&source, checkpoint->head.size, &rebuilt) != AUDIT_MERKLE_OK ||
        memcmp(rebuilt.root.bytes, checkpoint->head.root.bytes, AUDIT_MERKLE_HASH_SIZE) != 0) {
        /* Entries and all their hashes were rewritten consistently: only the range
         * since the last checkpoint that held can be named. */
        snprintf(detail, sizeof(detail),
                 "the rebuilt root of %" PRIu64 " entries differs from the signed one; an "
                 "entry from index %" PRIu64 " on was changed",
                 checkpoint->head.size, previous != NULL ? previous->head.size : 0);
        return fail("checkpoint", checkpoint->id, "checkpoint_root_mismatch", detail);
    }
    if (previous == NULL)
        return 0;
    /* Checked after a checkpoint of 0 entries too. Every node's empty tree has the same
     * root, so only the node line shows that another node signed it. */
    if (strcmp(previous->node_id, checkpoint->node_id) != 0 &&
        !reset_between(v, previous->head.size, checkpoint->head.size)) {
        snprintf(detail, sizeof(detail),
                 "the checkpoint names node %.80s, but checkpoint %" PRIu64 " of %" PRIu64
                 " entries before it names %.80s, and no audit_anchor_reset entry lies "
                 "between them", checkpoint->node_id, previous->id, previous->head.size,
                 previous->node_id);
        return fail("checkpoint", checkpoint->id, "checkpoint_node_mismatch", detail);
    }
    if (previous->head.size == 0)
        return 0;
    if (audit_merkle_consistency_proof(&source, previous->head.size, checkpoint->head.size,
                                       &proof) != AUDIT_MERKLE_OK ||
        audit_merkle_verify_consistency(&previous->head, &checkpoint->head, proof.hashes,
                                        proof.count) != AUDIT_MERKLE_OK)
        return fail("checkpoint", checkpoint->id, "checkpoint_inconsistent",
                    "the tree does not extend the previous checkpoint's tree");
    return 0;
}

static int check_checkpoints(verifier *v)
{
    const audit_checkpoint *previous = NULL;
    int rc;

    if (v->checkpoint_count == 0)
        return 0;
    qsort(v->checkpoints, v->checkpoint_count, sizeof(*v->checkpoints), compare_sizes);
    for (size_t i = 0; i < v->checkpoint_count; i++) {
        rc = check_checkpoint(v, &v->checkpoints[i], previous);
        if (rc != 0)
            return rc;
        previous = &v->checkpoints[i];
    }
    return 0;
}

/*
 * Checks the versions against what each checkpoint signs (audit_checkpoint.h): entries
 * before version_2_from are of version 1, and from it on, up to the checkpoint's size, of
 * version 2. Entries of version 1 come first, or step 4 fails them, so comparing the
 * first entry of version 2 with each checkpoint's line is enough.
 */
static int check_version_line(const verifier *v, const audit_checkpoint *checkpoint,
                              const char *signer)
{
    uint64_t first = v->seen_version_2 ? v->first_version_2 : v->tree.frontier.size;
    uint64_t from = checkpoint->version_2_from;
    char detail[256];

    if (!checkpoint->has_version_2_from)
        return 0;
    if (from < checkpoint->head.size && first > from) {
        snprintf(detail, sizeof(detail),
                 "%s signs that the entries from index %" PRIu64 " on are of version 2, "
                 "but this one is of version 1 or has no text: its text was deleted",
                 signer, from);
        return fail("entry", from, "entry_version_invalid", detail);
    }
    if (first < from && first < checkpoint->head.size) {
        snprintf(detail, sizeof(detail),
                 "%s signs that the entries before index %" PRIu64 " are of version 1, "
                 "but this one is of version 2", signer,
                 from < checkpoint->head.size ? from : checkpoint->head.size);
        return fail("entry", first, "entry_version_invalid", detail);
    }
    return 0;
}

static int check_version_lines(const verifier *v)
{
    char signer[64];
    int rc;

    for (size_t i = 0; i < v->checkpoint_count; i++) {
        snprintf(signer, sizeof(signer), "checkpoint %" PRIu64, v->checkpoints[i].id);
        rc = check_version_line(v, &v->checkpoints[i], signer);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Ties each purged entry of version 2 to a purge entry (audit_purges.h). */
static void check_purge_entries(verifier *v)
{
    uint64_t index = 0;
    char detail[400];
    const char *code = audit_purges_check(v->purges, &index, detail, sizeof(detail));

    if (code != NULL)
        defer_failure(v, index, code, detail);
}

/*
 * Checks that a saved checkpoint names the node of the export's checkpoint nearest to it:
 * the first of its size or larger, else the latest. Another node's checkpoint of 0
 * entries has the same root as this node's, so only its node line shows it. Returns 0,
 * or the exit status after a FAILED line.
 */
static int check_saved_node(const verifier *v, const char *path,
                            const audit_checkpoint *saved)
{
    const audit_checkpoint *nearest = &v->checkpoints[v->checkpoint_count - 1];
    uint64_t low;
    uint64_t high;
    char detail[600];

    for (size_t i = 0; i < v->checkpoint_count; i++) {
        if (v->checkpoints[i].head.size >= saved->head.size) {
            nearest = &v->checkpoints[i];
            break;
        }
    }
    if (strcmp(nearest->node_id, saved->node_id) == 0)
        return 0;
    low = nearest->head.size < saved->head.size ? nearest->head.size : saved->head.size;
    high = nearest->head.size < saved->head.size ? saved->head.size : nearest->head.size;
    if (reset_between(v, low, high))
        return 0;
    snprintf(detail, sizeof(detail),
             "the checkpoint names node %.200s, but the export's checkpoint %" PRIu64
             " of %" PRIu64 " entries names %.200s, and no audit_anchor_reset entry lies "
             "between them: it is another node's checkpoint",
             saved->node_id, nearest->id, nearest->head.size, nearest->node_id);
    return audit_saved_fail("saved checkpoint", path, "checkpoint_node_mismatch", detail);
}

/*
 * Checks each --saved checkpoint (audit_saved.h): its signature by a trusted key and its
 * node line (check_saved_node). The export's first entries must hash to its root, so
 * the log still contains the tree that the regulator saved, and the entries' versions
 * must match its version-2-from line.
 * That line matters most here: a node that deleted the text of entries of version 2 and
 * its stored checkpoints signs new checkpoints whose line agrees with the deletion.
 * Returns 0, or the exit status after a FAILED line.
 */
static int check_saved(verifier *v)
{
    audit_merkle_source source = audit_memory_tree_source(&v->tree);
    audit_checkpoint saved;
    char signer[256];
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < v->saved_count; i++) {
        rc = audit_saved_load(v->saved_paths[i], &saved);
        if (rc == 0)
            rc = audit_saved_check_signature(v->saved_paths[i], &saved, &v->trust);
        if (rc == 0)
            rc = check_saved_node(v, v->saved_paths[i], &saved);
        if (rc == 0)
            rc = audit_saved_check_prefix(v->saved_paths[i], &saved, &source,
                                          v->tree.frontier.size);
        if (rc == 0) {
            snprintf(signer, sizeof(signer), "saved checkpoint %.200s", v->saved_paths[i]);
            rc = check_version_line(v, &saved, signer);
        }
        audit_checkpoint_clear(&saved);
    }
    return rc;
}

/* Prints one line for each --saved checkpoint, once check_saved passed. */
static void print_saved(verifier *v)
{
    audit_checkpoint saved;

    for (size_t i = 0; i < v->saved_count; i++) {
        if (audit_saved_load(v->saved_paths[i], &saved) == 0)
            printf("OK saved checkpoint %s: the export's first %" PRIu64 " entries hash to "
                   "its root\n", v->saved_paths[i], saved.head.size);
        audit_checkpoint_clear(&saved);
    }
}

/* ---- Command ---------------------------------------------------------------------- */

static int verify(verifier *v, const char *path)
{
    audit_merkle_tree_head head;
    char root[65];
    int rc;

    rc = read_export(v, path);
    if (rc == 0)
        rc = check_nodes(v);
    if (rc == 0)
        rc = check_checkpoints(v);
    if (rc == 0)
        rc = check_version_lines(v);
    if (rc == 0)
        rc = check_resets(v);
    if (rc != 0)
        return rc;
    if (v->checkpoint_count == 0)
        return fail("checkpoint", 0, "checkpoint_missing",
                    "the export has no checkpoint, so nothing is signed");
    check_purge_entries(v);
    if (v->column_failure[0] != '\0') {
        fputs(v->column_failure, stdout);
        return AUDIT_EXIT_FAILED;
    }
    rc = check_saved(v);
    if (rc != 0)
        return rc;

    audit_merkle_frontier_head(&v->tree.frontier, &head);
    audit_hash_hex(&v->checkpoints[v->checkpoint_count - 1].head.root, root);
    printf("OK %" PRIu64 " entries, %zu checkpoints; the latest signs %" PRIu64
           " entries with root %s; ", head.size, v->checkpoint_count,
           v->checkpoints[v->checkpoint_count - 1].head.size, root);
    if (v->purged.count == 0)
        printf("0 purged\n");
    else
        printf("%" PRIu64 " purged, indexes %" PRIu64 " to %" PRIu64 "\n", v->purged.count,
               v->purged.first, v->purged.last);
    if (v->purged.unprotected > 0)
        printf("NOTE the recorded_at, kind, actor, relying_party and jurisdiction columns of "
               "the %" PRIu64 " purged entries of version 1 are not covered by any hash\n",
               v->purged.unprotected);
    if (v->purged.unprotected > 0 && !v->checkpoints[v->checkpoint_count - 1].has_version_2_from)
        printf("NOTE the latest checkpoint does not sign where entries of version 2 start, so "
               "the purged entries without text may include entries of version 2 whose text "
               "was deleted\n");
    if (v->purged.unchecked > 0)
        printf("NOTE no retention period was stated for %" PRIu64 " purged entries; pass "
               "--retention-days to check when they were purged\n", v->purged.unchecked);
    for (size_t i = 0; i < json_array_size(v->notes); i++)
        printf("NOTE %s\n", json_string_value(json_array_get(v->notes, i)));
    if (head.size > v->checkpoints[v->checkpoint_count - 1].head.size)
        printf("NOTE %" PRIu64 " entries after the latest checkpoint are not signed yet\n",
               head.size - v->checkpoints[v->checkpoint_count - 1].head.size);
    print_saved(v);
    return AUDIT_EXIT_OK;
}

/* Reads --retention-days [XX=]DAYS into rules; returns 0 or -1 after a message. */
static int parse_retention(char *value, retention_rule *rules, size_t *count)
{
    char *equals = strchr(value, '=');
    const char *days = equals != NULL ? equals + 1 : value;
    const char *jurisdiction = NULL;

    if (equals != NULL) {
        *equals = '\0';
        jurisdiction = value;
        if (jurisdiction[0] == '\0') {
            fputs(VERIFY_PROGRAM ": --retention-days XX=DAYS needs a jurisdiction before "
                  "the '='\n", stderr);
            return -1;
        }
        /* As the node's retention_days.XX: a code that matches no entry would turn a
         * finding into a pass. */
        if (!iso3166_is_assigned(jurisdiction)) {
            fprintf(stderr, VERIFY_PROGRAM ": --retention-days: \"%s\" is not an officially "
                    "assigned ISO 3166-1 alpha-2 code in capitals, such as SG\n",
                    jurisdiction);
            return -1;
        }
    }
    for (size_t i = 0; i < *count; i++) {
        if ((jurisdiction == NULL) == (rules[i].jurisdiction == NULL) &&
            (jurisdiction == NULL || strcmp(jurisdiction, rules[i].jurisdiction) == 0)) {
            fprintf(stderr, VERIFY_PROGRAM ": --retention-days is given twice for %s\n",
                    jurisdiction != NULL ? jurisdiction : "the default");
            return -1;
        }
    }
    if (*count == RETENTION_RULES_MAX) {
        fprintf(stderr, VERIFY_PROGRAM ": at most %d --retention-days options are accepted\n",
                RETENTION_RULES_MAX);
        return -1;
    }
    if (admin_parse_number(VERIFY_PROGRAM, "--retention-days", days, 0, RETENTION_DAYS_MAX,
                           &rules[*count].days) != 0)
        return -1;
    rules[*count].jurisdiction = jurisdiction;
    (*count)++;
    return 0;
}

int admin_audit_verify_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"trust", required_argument, NULL, 't'},
        {"retention-days", required_argument, NULL, 'r'},
        {"saved", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    retention_rule rules[RETENTION_RULES_MAX];
    char *saved_paths[AUDIT_TRUST_MAX];
    const char *trust_paths[AUDIT_TRUST_MAX];
    size_t trust_count = 0;
    verifier v = {0};
    char error[512];
    int rc = AUDIT_EXIT_USAGE;
    int option;

    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == 't') {
            if (trust_count == AUDIT_TRUST_MAX) {
                fprintf(stderr, VERIFY_PROGRAM ": at most %d --trust options are accepted\n",
                        AUDIT_TRUST_MAX);
                goto out;
            }
            trust_paths[trust_count++] = optarg;
        } else if (option == 'r') {
            if (parse_retention(optarg, rules, &v.rule_count) != 0)
                goto out;
        } else if (option == 's') {
            if (v.saved_count == AUDIT_TRUST_MAX) {
                fprintf(stderr, VERIFY_PROGRAM ": at most %d --saved options are accepted\n",
                        AUDIT_TRUST_MAX);
                goto out;
            }
            saved_paths[v.saved_count++] = optarg;
        } else {
            goto out;
        }
    }
    if (optind + 1 != argc || trust_count == 0) {
        fputs("usage: idsvc-admin audit verify EXPORT --trust PEM... "
              "[--retention-days [XX=]DAYS]... [--saved CHECKPOINT]...\n", stderr);
        goto out;
    }
    for (size_t i = 0; i < trust_count; i++) {
        if (audit_trust_add_file(&v.trust, trust_paths[i], error, sizeof(error)) != 0) {
            fprintf(stderr, "idsvc-admin audit verify: %s\n", error);
            goto out;
        }
    }
    v.rules = rules;
    v.saved_paths = saved_paths;
    audit_memory_tree_init(&v.tree);
    v.nodes = json_array();
    v.purges = audit_purges_new();
    v.notes = json_array();
    v.resets = json_array();
    v.reset_indexes = json_array();
    if (v.nodes == NULL || v.purges == NULL || v.notes == NULL || v.resets == NULL ||
        v.reset_indexes == NULL) {
        fputs("idsvc-admin audit verify: out of memory\n", stderr);
        rc = AUDIT_EXIT_FAILED;
        goto out;
    }
    rc = verify(&v, argv[optind]);
out:
    for (size_t i = 0; i < v.checkpoint_count; i++)
        audit_checkpoint_clear(&v.checkpoints[i]);
    free(v.checkpoints);
    json_decref(v.nodes);
    json_decref(v.notes);
    json_decref(v.resets);
    json_decref(v.reset_indexes);
    audit_purges_free(v.purges);
    audit_memory_tree_free(&v.tree);
    audit_trust_clear(&v.trust);
    return rc;
}
