/*
 * idsvc-admin audit show --database DB [filters]: prints entries with their time, kind,
 * actor, relying party and jurisdiction. These facts, and the filters, come from the
 * hashed entry text. The columns of the same names only stand in for a purged entry of
 * version 1, whose text is gone, and each such line is marked as not protected by any
 * hash. A purged entry of version 2 keeps its text and loses only its payload.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit_cmd.h"
#include "audit_log.h"
#include "audit_rows.h"
#include "number_arg.h"

#define SHOW_PROGRAM "idsvc-admin audit show"

typedef struct show_filter {
    int64_t since; /* times [since, until) */
    int64_t until;
    const char *kind;
    const char *relying_party;
    uint64_t limit; /* 0 prints every match */
} show_filter;

typedef struct show_state {
    show_filter filter;
    uint64_t printed;
    uint64_t purged_printed;
    bool failed; /* a row was reported on stderr */
} show_state;

/* Reads TIME: RFC 3339 UTC to the second, or seconds since 1970. */
static int parse_time_option(const char *name, const char *text, int64_t *out)
{
    uint64_t seconds;

    if (audit_parse_time(text, out) == 0)
        return 0;
    if (admin_read_number(text, 0, AUDIT_NUMBER_MAX, &seconds) == 0) {
        *out = (int64_t)seconds;
        return 0;
    }
    fprintf(stderr, SHOW_PROGRAM ": %s must be an RFC 3339 UTC time such as "
            "2026-01-31T12:00:00Z, or a whole number of seconds since 1970 from 0 to %" PRIu64
            ", not \"%s\"\n", name, AUDIT_NUMBER_MAX, text);
    return -1;
}

static bool string_matches(const char *expected, const json_t *value)
{
    return expected == NULL ||
           (json_is_string(value) && strcmp(json_string_value(value), expected) == 0);
}

/*
 * Sets facts to the object whose kind, actor, relying_party and jurisdiction describe
 * the row (the parsed entry text, or the columns of a purged row) and when to its time.
 * Returns -1 after reporting a row whose time cannot be read.
 */
static int row_facts(const audit_raw_row *row, json_t **facts, int64_t *when)
{
    const json_t *recorded_at = json_object_get(row->columns, "recorded_at");

    if (row->text == NULL) {
        *facts = json_incref(row->columns);
        if (!json_is_integer(recorded_at))
            return -1;
        *when = json_integer_value(recorded_at);
        return 0;
    }
    *facts = json_loads(row->text, 0, NULL);
    if (audit_parse_time(json_string_value(json_object_get(*facts, "time")), when) != 0) {
        fprintf(stderr, SHOW_PROGRAM ": entry %" PRId64 ": the entry text has no readable "
                "time; run 'audit verify' on an export\n", row->index);
        return -1;
    }
    return 0;
}

/* Sets entry and payload to their texts, or null, as export writes them. */
static int set_texts(json_t *doc, const audit_raw_row *row)
{
    bool as_hex = false;
    int rc = row->text != NULL
                 ? audit_rows_set_text(doc, "entry", row->text, row->text_len, &as_hex)
                 : json_object_set_new(doc, "entry", json_null());

    if (rc != 0)
        return rc;
    if (row->payload != NULL)
        return audit_rows_set_text(doc, "payload", row->payload, row->payload_len, &as_hex);
    return json_object_set_new(doc, "payload", json_null());
}

static int print_row(const audit_raw_row *row, const json_t *facts, int64_t when)
{
    static const char *const names[] = {"kind", "actor", "relying_party", "jurisdiction"};
    const json_t *purged_at = json_object_get(row->columns, "purged_at");
    json_t *doc = json_pack("{s:I, s:o}", "index", (json_int_t)row->index, "leaf_hash",
                            audit_hex_json(row->leaf_hash, row->leaf_hash_len));
    char text[32];

    if (doc == NULL || set_texts(doc, row) != 0) {
        json_decref(doc);
        return -1;
    }
    if (!json_is_null(purged_at))
        json_object_set(doc, "purged_at", (json_t *)purged_at);
    /* Only a purged entry of version 1 has lost the text that its facts come from. */
    if (row->text == NULL)
        json_object_set_new(doc, "columns_unprotected", json_true());
    if (audit_format_time(when, text) == 0)
        json_object_set_new(doc, "time", json_string(text));
    else
        json_object_set_new(doc, "time", json_integer((json_int_t)when));
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        json_t *value = json_object_get(facts, names[i]);

        if (value != NULL && !json_is_null(value))
            json_object_set(doc, names[i], value);
    }
    return audit_print_line(stdout, doc);
}

static int show_row(void *ctx, const audit_raw_row *row)
{
    show_state *state = ctx;
    const show_filter *filter = &state->filter;
    json_t *facts = NULL;
    const char *code;
    char detail[256];
    int64_t when = 0;
    int rc = 0;

    /* Mismatched or malformed columns are reported, and the row is still shown from its
     * text, so that no row is left out without a word. */
    code = audit_rows_check(row->columns, row->text, row->payload, detail, sizeof(detail));
    if (code != NULL) {
        fprintf(stderr, SHOW_PROGRAM ": entry %" PRId64 ": %s: %s\n", row->index, code,
                detail);
        state->failed = true;
    }

    if (row_facts(row, &facts, &when) != 0) {
        state->failed = true;
        goto out;
    }
    if (when < filter->since || when >= filter->until ||
        !string_matches(filter->kind, json_object_get(facts, "kind")) ||
        !string_matches(filter->relying_party, json_object_get(facts, "relying_party")))
        goto out;

    rc = print_row(row, facts, when);
    state->printed++;
    state->purged_printed += row->text == NULL;
    if (rc == 0 && filter->limit != 0 && state->printed >= filter->limit)
        rc = 1; /* enough: stop reading */
out:
    json_decref(facts);
    return rc;
}

int admin_audit_show_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"database", required_argument, NULL, 'd'}, {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},    {"rp", required_argument, NULL, 'r'},
        {"kind", required_argument, NULL, 'k'},     {"limit", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    show_state state = {.filter = {.since = INT64_MIN, .until = INT64_MAX}};
    const char *database = NULL;
    sqlite3 *db;
    int rc;
    int option;

    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == 'd') {
            database = optarg;
        } else if (option == 's' || option == 'u') {
            if (parse_time_option(option == 's' ? "--since" : "--until", optarg,
                                  option == 's' ? &state.filter.since
                                                : &state.filter.until) != 0)
                return AUDIT_EXIT_USAGE;
        } else if (option == 'r') {
            state.filter.relying_party = optarg;
        } else if (option == 'k') {
            if (!audit_event_kind_known(optarg)) {
                fprintf(stderr, SHOW_PROGRAM ": unknown event kind \"%s\" (see "
                        "docs/audit-log.md)\n", optarg);
                return AUDIT_EXIT_USAGE;
            }
            state.filter.kind = optarg;
        } else if (option == 'l') {
            if (admin_parse_number(SHOW_PROGRAM, "--limit", optarg, 1, AUDIT_NUMBER_MAX,
                                   &state.filter.limit) != 0)
                return AUDIT_EXIT_USAGE;
        } else {
            return AUDIT_EXIT_USAGE;
        }
    }
    if (optind != argc || (db = audit_rows_open(SHOW_PROGRAM, database)) == NULL)
        return AUDIT_EXIT_USAGE;
    rc = audit_rows_each(db, SHOW_PROGRAM, show_row, &state);
    sqlite3_close(db);
    if (state.purged_printed > 0)
        fprintf(stderr, "NOTE %" PRIu64 " purged entries of version 1 shown: their time, kind, actor, "
                "relying party and jurisdiction come from database columns that no hash "
                "protects\n", state.purged_printed);
    return rc < 0 || state.failed ? AUDIT_EXIT_FAILED : AUDIT_EXIT_OK;
}
