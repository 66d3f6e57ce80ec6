/*
 * Mutates a valid request of every route and sends each variant to the real daemon over
 * mutual TLS. The variants swap JSON types, remove, repeat and add members, and put in
 * numbers beyond every range, NUL and lone surrogates, invalid UTF-8 and deep nesting.
 * Others send empty and missing bodies, other media types, query strings, encoded and
 * long path segments, other methods and other callers.
 *
 * Every reply must come within the timeout and must not be a 5xx. An error must be a
 * problem document whose code matches its type and status. A rejected request must
 * leave the database as it was, which triggers on every table record, and the metrics
 * other than the request counters too.
 *
 * IDSVC_MUTATION_VERBOSE=1 prints every variant that the node accepted, for review.
 */
#include <ctype.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "server_harness.h"

#define REPLY_TIMEOUT_MS 15000
#define ORIGIN "https://pages.example"
#define MAX_BODY_BYTES 65536   /* the harness's [limits] max_body_bytes */
#define MAX_STRING_BYTES 32768 /* the harness's [limits] max_string_bytes */
#define MARK "\"@@mutation@@\""
/* Stands for a value that each request needs anew, such as an unused enrollment code,
 * so that a mutation meets the checks behind the one that a used value would fail. */
#define FRESH "@@fresh@@"
#define FRESH_MAX 65536

static const char pages_config[] =
    "\n[webauthn]\nrp_id = pages.example\norigin = " ORIGIN "\n"
    "attestation = self\n"
    "[audit]\ncheckpoint_interval = 0\n"
    "[rp " CLIENT_RP "]\nconsent = always\nname = Bank One\n";

typedef struct fixture fixture;

/* A raw text: bytes that may contain NUL. */
typedef struct text {
    char *bytes;
    size_t len;
} text;

/* One request as it goes on the wire, without its framing headers. */
typedef struct request {
    const char *method;
    const char *target;       /* path and query */
    const char *client;       /* certificate name, or NULL for none */
    const char *content_type; /* NULL sends no Content-Type */
    const char *headers;      /* further "Name: value\r\n" lines, or "" */
    const char *body;         /* NULL sends no body and no Content-Length */
    size_t body_len;
    const char *label;        /* what was mutated, for the failure message */
} request;

/* A route with a valid request. ids are filled in once the fixture has them. */
typedef struct route_case {
    const char *method;
    char path[160];
    char query[96];       /* the valid query string, without '?', or "" */
    const char *client;
    bool page;            /* a call of the citizen pages: Origin and the session cookie */
    const char *body;     /* the valid JSON body of a POST, or NULL */
    /* A 422 of this route records a verification_decided audit entry and counts in the
     * saml_verify CPU time, as POST /v1/verifications does for each rejected assertion. */
    bool audits_rejections;
    void (*refresh)(fixture *f, char *out, size_t size); /* see fixture.refresh */
    /* The nesting level down to which members are mutated one by one. Deeper members
     * are mutated only as a whole. */
    unsigned max_depth;
} route_case;

struct fixture {
    harness h;
    raw_client *connections[8];
    const char *connection_clients[8];
    char cookie[160];
    char credential_id[64];
    sqlite3 *db; /* the test's connection to the node's database, for the change log */
    char verification_id[64];
    char consent_id[64];
    char *webauthn_body;   /* a plausible registration, sign-in or approval body */
    unsigned subjects;     /* subjects issued so far, for the next subject's name */
    /* Makes the value of FRESH in the request that is sent next: a new enrollment code,
     * credential, assertion or consent request, or NULL when the route needs none. */
    void (*refresh)(fixture *f, char *out, size_t size);
    unsigned sent;     /* requests of every kind, snapshots and fresh values included */
    unsigned variants; /* mutated requests */
    unsigned accepted;
    unsigned failures;
    bool verbose;
};

/* ---- Sending ------------------------------------------------------------------------- */

static raw_client **connection_for(fixture *f, const char *client)
{
    size_t free_slot = 8;

    for (size_t i = 0; i < 8; i++) {
        if (f->connections[i] != NULL && f->connection_clients[i] == client)
            return &f->connections[i];
        if (f->connections[i] == NULL && free_slot == 8)
            free_slot = i;
    }
    assert_true(free_slot < 8);
    assert_int_equal(raw_connect(&f->h, "NORMAL", client, &f->connections[free_slot]), 0);
    f->connection_clients[free_slot] = client;
    return &f->connections[free_slot];
}

static text build_request(const fixture *f, const request *r, bool page)
{
    char head[8192];
    text out;
    int n;

    n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: localhost\r\n%s%s%s%s%s",
                 r->method, r->target, r->headers != NULL ? r->headers : "",
                 page ? "Origin: " ORIGIN "\r\nCookie: " : "", page ? f->cookie : "",
                 page ? "\r\n" : "", r->content_type != NULL ? "Content-Type: " : "");
    assert_true(n > 0 && (size_t)n < sizeof(head));
    if (r->content_type != NULL)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "%s\r\n", r->content_type);
    if (r->body != NULL)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n",
                      r->body_len);
    n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
    assert_true((size_t)n < sizeof(head));

    out.len = (size_t)n + (r->body != NULL ? r->body_len : 0);
    out.bytes = malloc(out.len + 1);
    assert_non_null(out.bytes);
    memcpy(out.bytes, head, (size_t)n);
    if (r->body != NULL)
        memcpy(out.bytes + n, r->body, r->body_len);
    out.bytes[out.len] = '\0';
    return out;
}

/* Copies the value of a response header into out. Returns false when it is absent. */
static bool header_value(const http_result *result, const char *name, char *out, size_t size)
{
    const char *at = result->headers;
    size_t name_len = strlen(name);

    while (at != NULL && (at = strchr(at, '\n')) != NULL) {
        at++;
        if (strncasecmp(at, name, name_len) == 0 && at[name_len] == ':') {
            const char *value = at + name_len + 1;

            value += strspn(value, " ");
            snprintf(out, size, "%.*s", (int)strcspn(value, "\r\n"), value);
            return true;
        }
    }
    return false;
}

/* Sends one request on the client's connection and reads the reply. A connection that
 * the node closed after its reply, or after [limits] connection_timeout idle, is opened
 * again, and a request that found its connection closed is sent once more. */
static int send_request(fixture *f, const request *r, bool page, http_result *out)
{
    text wire = build_request(f, r, page);
    bool head = strcmp(r->method, "HEAD") == 0;
    char connection[32] = "";
    raw_client **c = NULL;
    int rc = -1;

    for (int attempt = 0; attempt < 2 && rc == -1; attempt++) {
        if (c != NULL)
            http_result_clear(out);
        c = connection_for(f, r->client);
        rc = raw_exchange_timed(*c, wire.bytes, wire.len, head, REPLY_TIMEOUT_MS, out);
        if (rc != 0 || (header_value(out, "Connection", connection, sizeof(connection)) &&
                        strcasecmp(connection, "close") == 0))
            raw_close(c);
    }
    free(wire.bytes);
    f->sent++;
    return rc;
}

/* ---- Checking a reply ---------------------------------------------------------------- */

static void report(fixture *f, const request *r, const http_result *out, const char *format,
                   ...) __attribute__((format(printf, 4, 5)));

static void report(fixture *f, const request *r, const http_result *out, const char *format,
                   ...)
{
    va_list args;

    fprintf(stderr, "FAIL %s %.200s [%s]: ", r->method, r->target, r->label);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, "\n  status %ld, body %.300s\n", out->status,
            out->body != NULL ? out->body : "");
    f->failures++;
}

static bool code_is_stable(const char *code)
{
    if (code[0] == '\0')
        return false;
    for (const char *c = code; *c != '\0'; c++)
        if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '_')
            return false;
    return true;
}

/* Checks that an error reply is a problem document with a stable code. */
static void check_problem(fixture *f, const request *r, const http_result *out, bool head)
{
    char content_type[128] = "";
    char type[160];
    const char *code = http_result_code(out);

    if (!header_value(out, "Content-Type", content_type, sizeof(content_type)) ||
        strcmp(content_type, "application/problem+json") != 0)
        report(f, r, out, "Content-Type is \"%s\"", content_type);
    if (head)
        return;
    if (!json_is_object(out->json)) {
        report(f, r, out, "the body is not a JSON object");
        return;
    }
    snprintf(type, sizeof(type), "urn:idsvc:problem:%s", code);
    if (!code_is_stable(code))
        report(f, r, out, "the code \"%s\" is not a stable code", code);
    if (strcmp(json_string_value(json_object_get(out->json, "type")) ?: "", type) != 0)
        report(f, r, out, "the type does not name the code %s", code);
    if (json_integer_value(json_object_get(out->json, "status")) != out->status)
        report(f, r, out, "the status member differs from the HTTP status");
    if (!json_is_string(json_object_get(out->json, "title")) ||
        !json_is_string(json_object_get(out->json, "detail")))
        report(f, r, out, "title or detail is missing");
}

/* Sends a request and checks its reply. Returns the status, or 0 when none came. */
static long exchange(fixture *f, const request *r, bool page, http_result *out)
{
    char request_id[64];
    int rc = send_request(f, r, page, out);

    if (rc != 0) {
        report(f, r, out, rc == -2 ? "no reply within %d ms" : "the connection ended "
               "without a reply (%d)", rc == -2 ? REPLY_TIMEOUT_MS : rc);
        return 0;
    }
    if (out->status >= 500)
        report(f, r, out, "a 5xx reply to client input");
    if (!header_value(out, "X-Request-Id", request_id, sizeof(request_id)))
        report(f, r, out, "the reply has no X-Request-Id");
    if (out->status >= 400)
        check_problem(f, r, out, strcmp(r->method, "HEAD") == 0);
    else if (f->verbose)
        fprintf(stderr, "accepted %s %.120s [%s]: %ld\n", r->method, r->target, r->label,
                out->status);
    return out->status;
}

/* ---- The state a rejection must leave alone ----------------------------------------- */

static void append_text(text *t, const char *bytes, size_t len)
{
    char *grown = realloc(t->bytes, t->len + len + 1);

    assert_non_null(grown);
    t->bytes = grown;
    memcpy(t->bytes + t->len, bytes, len);
    t->len += len;
    t->bytes[t->len] = '\0';
}

/* The state around a request: the newest row of the change log, the metrics that no
 * rejection may change, and the saml_verify CPU time, which a rejected verification
 * adds to. */
typedef struct state_snapshot {
    sqlite3_int64 change;
    text metrics;
    text audited_metrics;
} state_snapshot;

/* Makes the node's database log every row that any statement inserts, updates or
 * deletes, with triggers that write the table's name to mutation_changes. A snapshot
 * then costs one query, however large the database grows. */
static void install_change_log(fixture *f)
{
    sqlite3_stmt *tables = NULL;
    text sql = {NULL, 0};
    char *message = NULL;

    assert_int_equal(sqlite3_open(f->h.db_path, &f->db), SQLITE_OK);
    sqlite3_busy_timeout(f->db, 5000);
    static const char create[] = "BEGIN; CREATE TABLE mutation_changes (id INTEGER PRIMARY "
                                 "KEY, name TEXT, operation TEXT);";

    append_text(&sql, create, strlen(create));
    assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT name FROM sqlite_master WHERE "
                                               "type = 'table' AND name NOT LIKE 'sqlite_%'",
                                        -1, &tables, NULL),
                     SQLITE_OK);
    while (sqlite3_step(tables) == SQLITE_ROW) {
        static const char *const operations[] = {"INSERT", "UPDATE", "DELETE"};
        const char *name = (const char *)sqlite3_column_text(tables, 0);

        for (size_t i = 0; i < 3; i++) {
            char trigger[512];

            snprintf(trigger, sizeof(trigger),
                     "CREATE TRIGGER mutation_%s_%s AFTER %s ON \"%s\" BEGIN INSERT INTO "
                     "mutation_changes (name, operation) VALUES ('%s', '%s'); END;",
                     name, operations[i], operations[i], name, name, operations[i]);
            append_text(&sql, trigger, strlen(trigger));
        }
    }
    sqlite3_finalize(tables);
    append_text(&sql, "COMMIT;", 7);
    if (sqlite3_exec(f->db, sql.bytes, NULL, NULL, &message) != SQLITE_OK)
        fprintf(stderr, "creating the change log failed: %s\n", message);
    assert_null(message);
    free(sql.bytes);
}

static sqlite3_int64 newest_change(fixture *f)
{
    sqlite3_stmt *query = NULL;
    sqlite3_int64 id = -1;

    assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT coalesce(max(id), 0) FROM "
                                               "mutation_changes",
                                        -1, &query, NULL),
                     SQLITE_OK);
    if (sqlite3_step(query) == SQLITE_ROW)
        id = sqlite3_column_int64(query, 0);
    sqlite3_finalize(query);
    assert_true(id >= 0);
    return id;
}

/* Prints the changes after since, and returns how many touched a table other than the
 * audit log's, or any table when audit_allowed is false. */
static unsigned print_changes(fixture *f, sqlite3_int64 since, bool audit_allowed)
{
    sqlite3_stmt *query = NULL;
    unsigned count = 0;

    assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT name, operation FROM mutation_changes "
                                               "WHERE id > ? ORDER BY id",
                                        -1, &query, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(query, 1, since);
    while (sqlite3_step(query) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(query, 0);

        if (audit_allowed && strncmp(name, "audit_", 6) == 0)
            continue;
        fprintf(stderr, "  %s %s\n", sqlite3_column_text(query, 1), name);
        count++;
    }
    sqlite3_finalize(query);
    return count;
}

static bool line_contains(const char *line, size_t len, const char *needle)
{
    size_t needle_len = strlen(needle);

    for (size_t i = 0; i + needle_len <= len; i++)
        if (strncmp(line + i, needle, needle_len) == 0)
            return true;
    return false;
}

/* Appends the metrics other than the request counters and durations, which every
 * request moves, and the TLS key imports, to out, and the saml_verify CPU time to
 * audit. */
static void dump_metrics(fixture *f, text *out, text *audit)
{
    request r = {"GET", "/metrics", CLIENT_REGULATOR, NULL, "", NULL, 0, "metrics"};
    http_result result;
    const char *line;

    assert_int_equal(send_request(f, &r, false, &result), 0);
    assert_int_equal(result.status, 200);
    for (line = result.body; line != NULL && *line != '\0';) {
        size_t len = strcspn(line, "\n");

        text *to = line_contains(line, len, "operation=\"saml_verify\"") ? audit : out;

        /* A worker thread imports the TLS key at its first handshake, whichever
         * request the connection then carries. */
        if (strncmp(line, "idsvc_http_request", 18) != 0 &&
            !line_contains(line, len, "operation=\"tls_key_import\"")) {
            append_text(to, line, len);
            append_text(to, "\n", 1);
        }
        line += len + (line[len] != '\0');
    }
    http_result_clear(&result);
}

static state_snapshot snapshot(fixture *f)
{
    state_snapshot state = {newest_change(f), {NULL, 0}, {NULL, 0}};

    append_text(&state.metrics, "", 0);
    append_text(&state.audited_metrics, "", 0);
    dump_metrics(f, &state.metrics, &state.audited_metrics);
    return state;
}

static void snapshot_free(state_snapshot *state)
{
    free(state->metrics.bytes);
    free(state->audited_metrics.bytes);
}

static bool text_equal(const text *a, const text *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* Prints the first line where two snapshots differ. */
static void print_difference(const text *before, const text *after)
{
    size_t i = 0;
    size_t line = 0;

    while (i < before->len && i < after->len && before->bytes[i] == after->bytes[i])
        if (before->bytes[i++] == '\n')
            line = i;
    fprintf(stderr, "  before: %.200s\n  after:  %.200s\n", before->bytes + line,
            after->bytes + line);
}

/* Returns bytes with each FRESH replaced by value, NUL-terminated, and its length. */
static char *substitute(const char *bytes, size_t len, const char *value, size_t *out_len)
{
    text out = {NULL, 0};
    size_t fresh_len = strlen(FRESH);
    size_t start = 0;

    append_text(&out, "", 0);
    for (size_t i = 0; i + fresh_len <= len; i++) {
        if (memcmp(bytes + i, FRESH, fresh_len) != 0)
            continue;
        append_text(&out, bytes + start, i - start);
        append_text(&out, value, strlen(value));
        start = i + fresh_len;
        i += fresh_len - 1;
    }
    append_text(&out, bytes + start, len - start);
    *out_len = out.len;
    return out.bytes;
}

/* Fills FRESH in the request with a new value, into sent, and takes the snapshot again
 * after the requests that made the value. Returns false when the request has no FRESH. */
static bool refresh_request(fixture *f, const request *r, request *sent, char **target,
                            char **body, state_snapshot *state)
{
    char *value;
    size_t len;

    if (f->refresh == NULL ||
        (strstr(r->target, FRESH) == NULL &&
         (r->body == NULL || !line_contains(r->body, r->body_len, FRESH))))
        return false;
    value = malloc(FRESH_MAX);
    assert_non_null(value);
    f->refresh(f, value, FRESH_MAX);
    *sent = *r;
    *target = substitute(r->target, strlen(r->target), value, &len);
    sent->target = *target;
    if (r->body != NULL) {
        *body = substitute(r->body, r->body_len, value, &sent->body_len);
        sent->body = *body;
    }
    free(value);
    snapshot_free(state);
    *state = snapshot(f);
    return true;
}

/* Sends one mutated request and checks the reply and, for a rejection, that nothing
 * changed. *state is the snapshot before it, and becomes the one after it. */
static void try_request(fixture *f, const request *r, bool page, bool audits_rejections,
                        state_snapshot *state)
{
    request sent;
    char *target = NULL;
    char *body = NULL;
    bool refreshed = refresh_request(f, r, &sent, &target, &body, state);
    http_result out;
    long status = exchange(f, refreshed ? &sent : r, page, &out);
    state_snapshot after = snapshot(f);
    bool audited = audits_rejections && status == 422;

    if (status >= 400 && after.change != state->change) {
        fprintf(stderr, "changes after %ld %s:\n", status, http_result_code(&out));
        if (print_changes(f, state->change, audited) > 0)
            report(f, r, &out, "a rejected request changed the database");
    }
    if (status >= 400 && !text_equal(&state->metrics, &after.metrics)) {
        report(f, r, &out, "a rejected request changed the metrics");
        print_difference(&state->metrics, &after.metrics);
    }
    if (status >= 400 && !audited &&
        !text_equal(&state->audited_metrics, &after.audited_metrics)) {
        report(f, r, &out, "a rejected request counted a SAML verification");
        print_difference(&state->audited_metrics, &after.audited_metrics);
    }
    if (status > 0 && status < 400)
        f->accepted++;
    f->variants++;
    snapshot_free(state);
    *state = after;
    http_result_clear(&out);
    free(target);
    free(body);
}

/* ---- Mutations of a JSON body -------------------------------------------------------- */

/* Values that replace a member or an array element, as raw JSON text. Some are not
 * valid JSON on purpose: invalid UTF-8, numbers beyond every range. */
static const char *const value_variants[] = {
    "null", "true", "false", "0", "-0", "-1", "1.5", "1e2", "-0.0", "1e999", "-1e999",
    "1E400", "1e-999", "9223372036854775807", "9223372036854775808",
    "-9223372036854775809", "18446744073709551616", "123456789012345678901234567890",
    "\"\"", "\" \"", "\"x\"", "\"\\u0000\"", "\"a\\u0000b\"", "\"\\ud800\"", "\"\\udc00\"",
    "\"\\ud800\\u0041\"", "\"\\uDBFF\\uDFFF\"", "\"\xc0\xaf\"", "\"\xe0\x80\xaf\"",
    "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xff\"", "\"\x80\"", "\"\xe2\x82\"",
    "\"\x01\"", "\"\x7f\"", "\"\t\"", "\"\xef\xbb\xbf\"", "\"\xe2\x80\xae\"", "\"\\u2028\"",
    "\"\\\\\"", "\"<&>\"", "[]", "{}", "[null]", "[\"x\"]", "[[]]", "{\"a\":1}", "[1,2]",
    "[[[[[[[[[[]]]]]]]]]]", "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}}",
};

typedef struct body_target {
    fixture *f;
    const route_case *route;
    state_snapshot *state;
    unsigned depth; /* how deep in the document the value being mutated lies */
} body_target;

static void send_body(body_target *t, const char *body, size_t len, const char *label)
{
    const route_case *rc = t->route;
    char target[512];
    request r = {rc->method, target, rc->client, "application/json", "", body, len, label};

    snprintf(target, sizeof(target), "%s%s%s", rc->path, rc->query[0] != '\0' ? "?" : "",
             rc->query);
    try_request(t->f, &r, rc->page, rc->audits_rejections, t->state);
}

/* Sends dumped with its first mark replaced by the len bytes of with. */
static void send_replaced(body_target *t, const char *dumped, const char *mark,
                          const char *with, size_t len, const char *label)
{
    const char *at = strstr(dumped, mark);
    text body = {NULL, 0};

    assert_non_null(at);
    append_text(&body, dumped, (size_t)(at - dumped));
    append_text(&body, with, len);
    append_text(&body, at + strlen(mark), strlen(at + strlen(mark)));
    send_body(t, body.bytes, body.len, label);
    free(body.bytes);
}

static char *repeated(char c, size_t count, const char *quote)
{
    size_t quote_len = strlen(quote);
    char *s = malloc(count + 2 * quote_len + 1);

    assert_non_null(s);
    memcpy(s, quote, quote_len);
    memset(s + quote_len, c, count);
    memcpy(s + quote_len + count, quote, quote_len + 1);
    return s;
}

/* Replaces the value at the mark with each variant and with strings near the limits. */
static void send_value_variants(body_target *t, const char *dumped, const char *path)
{
    static const size_t lengths[] = {257, 513, 1025, 4097, MAX_STRING_BYTES + 1};
    char label[256];

    for (size_t i = 0; i < sizeof(value_variants) / sizeof(value_variants[0]); i++) {
        snprintf(label, sizeof(label), "%s = %s", path, value_variants[i]);
        send_replaced(t, dumped, MARK, value_variants[i], strlen(value_variants[i]), label);
    }
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        char *long_string = repeated('a', lengths[i], "\"");

        snprintf(label, sizeof(label), "%s = a string of %zu bytes", path, lengths[i]);
        send_replaced(t, dumped, MARK, long_string, strlen(long_string), label);
        free(long_string);
    }
}

static void mutate_value(body_target *t, json_t *doc, json_t *container, const char *key,
                         size_t index, const char *path);

/* Mutates each member of object: its value, its absence, a repeat and its children. */
static void mutate_members(body_target *t, json_t *doc, json_t *object, const char *parent)
{
    const char *keys[32];
    size_t count = 0;
    const char *key;
    json_t *value;
    char path[256];

    json_object_foreach(object, key, value) {
        if (count < 32)
            keys[count++] = key;
    }
    for (size_t i = 0; i < count; i++) {
        json_t *saved = json_incref(json_object_get(object, keys[i]));
        char *name = strdup(keys[i]);
        char quoted[160];
        char *dumped;

        assert_non_null(name);
        snprintf(path, sizeof(path), "%s%s%s", parent, parent[0] != '\0' ? "." : "", name);
        mutate_value(t, doc, object, name, 0, path);

        json_object_del(object, name);
        dumped = json_dumps(doc, JSON_COMPACT);
        send_body(t, dumped, strlen(dumped), path);
        free(dumped);

        /* A repeat of the member, with its own value and with null. */
        json_object_set_new(object, "@@repeat@@", json_incref(saved));
        json_object_set(object, name, saved);
        dumped = json_dumps(doc, JSON_COMPACT);
        snprintf(quoted, sizeof(quoted), "\"%s\"", name);
        send_replaced(t, dumped, "\"@@repeat@@\"", quoted, strlen(quoted), "repeated member");
        free(dumped);
        json_object_set_new(object, "@@repeat@@", json_null());
        dumped = json_dumps(doc, JSON_COMPACT);
        send_replaced(t, dumped, "\"@@repeat@@\"", quoted, strlen(quoted), "repeated null");
        free(dumped);
        json_object_del(object, "@@repeat@@");
        json_decref(saved);
        free(name);
    }
}

/* Adds members whose names are unknown, empty, contain NUL or are too long. */
static void mutate_names(body_target *t, json_t *doc, json_t *object)
{
    static const char *const names[] = {"\"x\"", "\"\"", "\"\\u0000\"", "\"a\\u0000\"",
                                        "\"\\ud800\"", "\"\xc0\xaf\"", "\"SUBJECT\""};
    char *dumped;
    char *long_name = repeated('n', MAX_STRING_BYTES + 1, "\"");

    json_object_set_new(object, "@@name@@", json_integer(1));
    dumped = json_dumps(doc, JSON_COMPACT);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        send_replaced(t, dumped, "\"@@name@@\"", names[i], strlen(names[i]), names[i]);
    send_replaced(t, dumped, "\"@@name@@\"", long_name, strlen(long_name), "long name");
    free(dumped);
    free(long_name);
    json_object_del(object, "@@name@@");
}

static void mutate_value(body_target *t, json_t *doc, json_t *container, const char *key,
                         size_t index, const char *path)
{
    json_t *saved = json_incref(key != NULL ? json_object_get(container, key)
                                            : json_array_get(container, index));
    json_t *mark = json_string("@@mutation@@");
    char *dumped;

    if (key != NULL)
        json_object_set_new(container, key, mark);
    else
        json_array_set_new(container, index, mark);
    dumped = json_dumps(doc, JSON_COMPACT);
    send_value_variants(t, dumped, path);
    free(dumped);
    if (key != NULL)
        json_object_set(container, key, saved);
    else
        json_array_set(container, index, saved);

    t->depth++;
    if (t->depth > t->route->max_depth) {
        /* The route shares the parser of these members with another route. */
    } else if (json_is_object(saved)) {
        mutate_members(t, doc, saved, path);
        mutate_names(t, doc, saved);
    } else if (json_is_array(saved) && json_array_size(saved) > 0) {
        char element[300];

        snprintf(element, sizeof(element), "%s[0]", path);
        mutate_value(t, doc, saved, NULL, 0, element);
        for (size_t i = 0; i < 70; i++)
            json_array_append(saved, json_array_get(saved, 0));
        dumped = json_dumps(doc, JSON_COMPACT);
        send_body(t, dumped, strlen(dumped), "71 array elements");
        free(dumped);
        while (json_array_size(saved) > 1)
            json_array_remove(saved, json_array_size(saved) - 1);
    }
    t->depth--;
    json_decref(saved);
}

/* Whole bodies that are no valid request document. */
static void mutate_whole_body(body_target *t, const char *valid)
{
#define BODY(literal) {literal, sizeof(literal) - 1}
    static const struct {
        const char *bytes;
        size_t len;
    } bodies[] = {
        BODY(""), BODY("null"), BODY("[]"), BODY("\"x\""), BODY("1"), BODY("true"),
        BODY("{"), BODY("}"), BODY("{}"), BODY("{}x"), BODY("{} {}"), BODY("{}\n{}"),
        BODY("{\"a\":}"), BODY("{\"a\" 1}"), BODY("{'a':1}"), BODY("{\"a\":1,}"),
        BODY("\x00"), BODY("{\"\\u0000\":1}"), BODY("\xff\xfe{\x00}\x00"),
        BODY("\xfe\xff\x00{\x00}"), BODY("{\"\xc0\xaf\":1}"), BODY("{\"a\":\"\\x41\"}"),
    };
#undef BODY
    size_t valid_len = strlen(valid);
    text body = {NULL, 0};
    char *deep;

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        send_body(t, bodies[i].bytes, bodies[i].len, "a whole body");
    append_text(&body, "\xef\xbb\xbf", 3);
    append_text(&body, valid, valid_len);
    send_body(t, body.bytes, body.len, "byte order mark before the body");
    append_text(&body, "\0", 1);
    send_body(t, body.bytes + 3, body.len - 3, "NUL after the body");
    free(body.bytes);

    deep = repeated('[', 300, "");
    send_body(t, deep, strlen(deep), "300 nested arrays");
    free(deep);
    deep = repeated(' ', MAX_BODY_BYTES + 1, "");
    send_body(t, deep, strlen(deep), "a body over the limit");
    free(deep);
}

/* ---- Mutations of the request around the body -------------------------------------- */

/* Sends the route's valid request with another method, target, client, media type or
 * headers. NULL keeps the valid one. */
static void send_variant(fixture *f, const route_case *rc, state_snapshot *state, const char *method,
                         const char *target, const char *content_type, const char *headers,
                         const char *label)
{
    char valid_target[512];
    const char *m = method != NULL ? method : rc->method;
    bool with_body = strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0;
    const char *body = rc->body != NULL ? rc->body : "{}";
    request r = {m, target, rc->client, content_type, headers != NULL ? headers : "",
                 with_body ? body : NULL, with_body ? strlen(body) : 0, label};

    snprintf(valid_target, sizeof(valid_target), "%s%s%s", rc->path,
             rc->query[0] != '\0' ? "?" : "", rc->query);
    if (target == NULL)
        r.target = valid_target;
    if (content_type == NULL && with_body)
        r.content_type = "application/json";
    try_request(f, &r, rc->page, rc->audits_rejections, state);
}

static void mutate_content_type(fixture *f, const route_case *rc, state_snapshot *state)
{
    static const char *const types[] = {
        "text/plain", "application/json; charset=iso-8859-1", "application/json;charset=utf-16",
        "APPLICATION/JSON", "application/jsonx", "application/json, text/plain",
        "application/*", "", "application/json; boundary=x", "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded", "application/json; charset=\"utf-8\"",
        "application/json;", "application/json; charset=", "application/problem+json",
    };

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        send_variant(f, rc, state, NULL, NULL, types[i], NULL, types[i]);
    send_variant(f, rc, state, NULL, NULL, NULL,
                 "Content-Type: application/json\r\n", "two Content-Type headers");
    send_variant(f, rc, state, NULL, NULL, NULL, "Content-Encoding: gzip\r\n",
                 "Content-Encoding");

    /* A POST without Content-Type, and without a body. */
    if (rc->body == NULL)
        return;
    request bare = {rc->method, rc->path, rc->client, NULL, "", rc->body, strlen(rc->body),
                    "no Content-Type"};
    try_request(f, &bare, rc->page, rc->audits_rejections, state);
    bare.body = NULL;
    bare.content_type = "application/json";
    bare.label = "no body and no Content-Length";
    try_request(f, &bare, rc->page, rc->audits_rejections, state);
}

static void mutate_methods(fixture *f, const route_case *rc, state_snapshot *state)
{
    static const char *const methods[] = {"GET",   "HEAD",    "POST", "PUT",   "DELETE",
                                          "PATCH", "OPTIONS", "TRACE", "get",  "post",
                                          "FOO",   "M-SEARCH", "PROPFIND"};
    char *long_method = repeated('X', 300, "");

    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        send_variant(f, rc, state, methods[i], NULL, NULL, NULL, methods[i]);
    send_variant(f, rc, state, long_method, NULL, NULL, NULL, "a 300-letter method");
    free(long_method);
}

/* Sends the route with each suffix added to its path, and with the path changed. */
static void mutate_path(fixture *f, const route_case *rc, state_snapshot *state)
{
    static const char *const suffixes[] = {
        "?x=1", "?", "?%00", "?x=%ff", "?x", "?x=1&x=2", "/", "//", "%2F", "%00", "/.",
        "/..", "/../", "%20", "\xff", ";x", "?\xc3\xa9", "?a=%C0%AF",
    };
    char target[512];

    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(target, sizeof(target), "%s%s", rc->path, suffixes[i]);
        send_variant(f, rc, state, NULL, target, NULL, NULL, suffixes[i]);
    }
    snprintf(target, sizeof(target), "/%s", rc->path);
    send_variant(f, rc, state, NULL, target, NULL, NULL, "a leading double slash");
    snprintf(target, sizeof(target), "/x/..%s", rc->path);
    send_variant(f, rc, state, NULL, target, NULL, NULL, "a dot-dot segment");
    snprintf(target, sizeof(target), "/./%s", rc->path + 1);
    send_variant(f, rc, state, NULL, target, NULL, NULL, "a dot segment");
    snprintf(target, sizeof(target), "https://localhost%s", rc->path);
    send_variant(f, rc, state, NULL, target, NULL, NULL, "the absolute form");
    for (size_t i = 0; rc->path[i] != '\0' && i < sizeof(target) - 1; i++)
        target[i] = (char)toupper((unsigned char)rc->path[i]);
    target[strlen(rc->path)] = '\0';
    send_variant(f, rc, state, NULL, target, NULL, NULL, "the path in capitals");
}

/* Replaces id in the route's path with ids that no route accepts or that name nothing. */
static void mutate_id(fixture *f, const route_case *rc, state_snapshot *state, const char *id)
{
    static const char *const ids[] = {"%2F", "a%2Fb", "%00", "a%00", "..", ".", "%41",
                                      "\xc3\xa9", "*", "a.b", "a:b", "~a", "a%25",
                                      "_", "-", "%252F"};
    const char *at = strstr(rc->path, id);
    char target[8192];
    char *long_id;

    if (id[0] == '\0' || at == NULL)
        return;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        snprintf(target, sizeof(target), "%.*s%s%s", (int)(at - rc->path), rc->path, ids[i],
                 at + strlen(id));
        send_variant(f, rc, state, NULL, target, NULL, NULL, ids[i]);
    }
    for (size_t len = 63; len <= 4000; len = len == 65 ? 4000 : len + 1) {
        long_id = repeated('a', len, "");
        snprintf(target, sizeof(target), "%.*s%s%s", (int)(at - rc->path), rc->path, long_id,
                 at + strlen(id));
        send_variant(f, rc, state, NULL, target, NULL, NULL, "a long id");
        free(long_id);
    }
    snprintf(target, sizeof(target), "%.*s%s", (int)(at - rc->path), rc->path,
             at + strlen(id));
    send_variant(f, rc, state, NULL, target, NULL, NULL, "an empty id");
}

/* Replaces each query parameter's value, repeats each, sends each without a value and
 * leaves each out. */
static void mutate_query(fixture *f, const route_case *rc, state_snapshot *state)
{
    static const char *const values[] = {
        "", "-1", "+1", "%201", "1%20", "0x10", "1e3", "1.0", "01", "9223372036854775807",
        "9223372036854775808", "18446744073709551616", "99999999999999999999999", "%00",
        "1%00", "%31", "a", "%ff", "1&x=1", "-0", "0"};
    char names[4][32];
    size_t count = 0;
    char target[512];

    for (const char *at = rc->query; *at != '\0' && count < 4; count++) {
        size_t len = strcspn(at, "=");

        snprintf(names[count], sizeof(names[count]), "%.*s", (int)len, at);
        at += strcspn(at, "&");
        at += *at == '&';
    }
    for (size_t n = 0; n < count; n++) {
        for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
            snprintf(target, sizeof(target), "%s?%s=%s", rc->path, names[n], values[v]);
            for (size_t other = 0; other < count; other++)
                if (other != n)
                    snprintf(target + strlen(target), sizeof(target) - strlen(target),
                             "&%s=1", names[other]);
            send_variant(f, rc, state, NULL, target, NULL, NULL, values[v]);
        }
        snprintf(target, sizeof(target), "%s?%s=1&%s=1", rc->path, names[n], names[n]);
        send_variant(f, rc, state, NULL, target, NULL, NULL, "a repeated parameter");
        snprintf(target, sizeof(target), "%s?%s", rc->path, names[n]);
        send_variant(f, rc, state, NULL, target, NULL, NULL, "a parameter without value");
        snprintf(target, sizeof(target), "%s?x=1", rc->path);
        for (size_t other = 0; other < count; other++)
            if (other != n)
                snprintf(target + strlen(target), sizeof(target) - strlen(target),
                         "&%s=1", names[other]);
        send_variant(f, rc, state, NULL, target, NULL, NULL, "a parameter left out");
    }
}

/* Sends the valid request from each other caller, and a page call from another origin
 * without the session cookie. */
static void mutate_caller(fixture *f, const route_case *rc, state_snapshot *state)
{
    static const char *const clients[] = {NULL,          CLIENT_STRANGER,  CLIENT_ISSUER,
                                          CLIENT_ISSUER_TWO, CLIENT_RP, CLIENT_REGULATOR};
    route_case other = *rc;

    for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
        if (clients[i] == rc->client)
            continue;
        other.client = clients[i];
        send_variant(f, &other, state, NULL, NULL, NULL, NULL, "another caller");
    }
    if (rc->page) {
        other = *rc;
        other.page = false;
        send_variant(f, &other, state, NULL, NULL, NULL, "Origin: https://evil.example\r\n",
                     "another origin and no session");
    }
}

/* ---- The fixture: a node with pages, a credential, a session and a consent --------- */

static json_t *post_json(fixture *f, const char *client, bool page, const char *path,
                         const char *body, long expected, http_result *out)
{
    request r = {"POST", path, client, "application/json", "", body, strlen(body), path};

    assert_int_equal(send_request(f, &r, page, out), 0);
    if (out->status != expected)
        fprintf(stderr, "POST %s: %ld %s\n", path, out->status, out->body);
    assert_int_equal(out->status, expected);
    return out->json;
}

/* Issues a credential for a new subject and returns the reply, which out holds. Every
 * second credential keeps its claim values at the node. */
static json_t *issue(fixture *f, http_result *out)
{
    char body[512];

    snprintf(body, sizeof(body),
             "{\"subject\":\"mutation-%u\",\"audience\":\"" RP_ENTITY_ID "\","
             "\"assurance_level\":\"substantial\",\"validity_seconds\":3600,"
             "\"attributes\":{\"given_name\":\"Mei Ling\",\"nationality\":[\"SG\"],"
             "\"date_of_birth\":\"1990-02-03\"},\"claims_in_assertion\":%s}",
             f->subjects, f->subjects % 2 == 0 ? "true" : "false");
    f->subjects++;
    return post_json(f, CLIENT_ISSUER, false, "/v1/credentials", body, 201, out);
}

static void copy_member(const json_t *object, const char *name, char *out, size_t size)
{
    const char *value = json_string_value(json_object_get(object, name));

    assert_non_null(value);
    assert_true(strlen(value) < size);
    snprintf(out, size, "%s", value);
}

/* Returns a valid POST /v1/verifications body for a new credential. */
static char *verification_body(fixture *f)
{
    http_result out;
    json_t *reply = issue(f, &out);
    json_t *body = json_pack("{s:O,s:[s,s],s:s,s:i}", "assertion",
                             json_object_get(reply, "assertion"), "claims", "given_name",
                             "nationality", "purpose", "account opening", "retention_days", 30);
    char *dumped = json_dumps(body, JSON_COMPACT);

    json_decref(body);
    http_result_clear(&out);
    assert_non_null(dumped);
    return dumped;
}

static void fresh_credential(fixture *f, char *out, size_t size)
{
    http_result result;

    copy_member(issue(f, &result), "credential_id", out, size);
    http_result_clear(&result);
}

static void fresh_code(fixture *f, char *out, size_t size)
{
    http_result result;

    copy_member(issue(f, &result), "enrollment_code", out, size);
    http_result_clear(&result);
}

/* The assertion of a new credential, escaped for the inside of a JSON string. */
static void fresh_assertion(fixture *f, char *out, size_t size)
{
    http_result result;
    json_t *assertion = json_object_get(issue(f, &result), "assertion");
    char *quoted = json_dumps(assertion, JSON_COMPACT | JSON_ENCODE_ANY);

    assert_non_null(quoted);
    assert_true(strlen(quoted) - 2 < size);
    snprintf(out, size, "%.*s", (int)(strlen(quoted) - 2), quoted + 1);
    free(quoted);
    http_result_clear(&result);
}

/* Posts a verification that waits for consent, and copies its consent id. */
static void fresh_consent(fixture *f, char *out, size_t size)
{
    char *body = verification_body(f);
    http_result result;

    copy_member(post_json(f, CLIENT_RP, false, "/v1/verifications", body, 202, &result),
                "consent_id", out, size);
    http_result_clear(&result);
    free(body);
}

/* Opens a page session with a new enrollment code, and a consent request. */
static void open_session_and_consent(fixture *f)
{
    char body[128];
    char code[64];
    char cookie[256];
    char *verification;
    http_result out;
    json_t *reply;

    fresh_code(f, code, sizeof(code));
    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
    post_json(f, NULL, true, "/enroll/code", body, 200, &out);
    assert_true(header_value(&out, "Set-Cookie", cookie, sizeof(cookie)));
    snprintf(f->cookie, sizeof(f->cookie), "%.*s", (int)strcspn(cookie, ";"), cookie);
    http_result_clear(&out);

    verification = verification_body(f);
    reply = post_json(f, CLIENT_RP, false, "/v1/verifications", verification, 202, &out);
    copy_member(reply, "verification_id", f->verification_id, sizeof(f->verification_id));
    copy_member(reply, "consent_id", f->consent_id, sizeof(f->consent_id));
    http_result_clear(&out);
    free(verification);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    const char *verbose = getenv("IDSVC_MUTATION_VERBOSE");

    if (f == NULL || harness_setup(&f->h) != 0 ||
        harness_append_config(&f->h, pages_config) != 0 || harness_start(&f->h) != 0) {
        if (f != NULL)
            harness_teardown(&f->h);
        free(f);
        return -1;
    }
    f->verbose = verbose != NULL && strcmp(verbose, "1") == 0;
    f->webauthn_body = strdup(
        "{\"response\":{\"id\":\"AAAA\",\"rawId\":\"AAAA\",\"type\":\"public-key\","
        "\"response\":{\"clientDataJSON\":\"eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0\","
        "\"authenticatorData\":\"AAAA\",\"signature\":\"AAAA\",\"userHandle\":\"AAAA\","
        "\"attestationObject\":\"oA\"}}}");
    *state = f;
    install_change_log(f);
    fresh_credential(f, f->credential_id, sizeof(f->credential_id));
    open_session_and_consent(f);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc;

    for (size_t i = 0; i < 8; i++)
        raw_close(&f->connections[i]);
    sqlite3_close(f->db);
    rc = harness_finish(&f->h);
    free(f->webauthn_body);
    free(f);
    return rc;
}

/* ---- The routes ---------------------------------------------------------------------- */

/* Starts a test's counts of variants and failures afresh, and returns f. */
static fixture *reset_counts(fixture *f)
{
    f->sent = 0;
    f->variants = 0;
    f->accepted = 0;
    f->failures = 0;
    return f;
}

/* The route's path is path_format with its one %s replaced by id. */
static route_case make_route(const char *method, const char *client, bool page,
                             const char *body, const char *path_format, const char *id,
                             const char *query)
{
    route_case rc = {method, "", "", client, page, body, false, NULL, 8};
    size_t prefix = strcspn(path_format, "%");

    assert_true(path_format[prefix] != '\0' && path_format[prefix + 1] == 's');
    snprintf(rc.path, sizeof(rc.path), "%.*s%s%s", (int)prefix, path_format, id,
             path_format + prefix + 2);
    snprintf(rc.query, sizeof(rc.query), "%s", query);
    return rc;
}

/* Runs every mutation of one route, and prints how many variants were sent. */
static void mutate_route(fixture *f, const route_case *rc, const char *id)
{
    state_snapshot state = snapshot(f);
    unsigned before = f->variants;
    body_target target = {f, rc, &state, 0};

    f->refresh = rc->refresh;
    if (rc->body != NULL) {
        json_t *doc = json_loads(rc->body, 0, NULL);

        assert_non_null(doc);
        mutate_whole_body(&target, rc->body);
        mutate_members(&target, doc, doc, "");
        mutate_names(&target, doc, doc);
        json_decref(doc);
        mutate_content_type(f, rc, &state);
    }
    mutate_methods(f, rc, &state);
    mutate_path(f, rc, &state);
    mutate_id(f, rc, &state, id);
    mutate_query(f, rc, &state);
    mutate_caller(f, rc, &state);
    snapshot_free(&state);
    fprintf(stderr, "%s %s: %u variants\n", rc->method, rc->path, f->variants - before);
}

static void test_api_routes(void **state)
{
    fixture *f = reset_counts(*state);
    char revocation[128];

    snprintf(revocation, sizeof(revocation), "{\"reason\":\"mutation test\"}");
    route_case routes[] = {
        make_route("POST", CLIENT_ISSUER, false,
                   "{\"subject\":\"mutated\",\"audience\":\"" RP_ENTITY_ID "\","
                   "\"assurance_level\":\"substantial\",\"validity_seconds\":3600,"
                   "\"attributes\":{\"given_name\":\"Mei Ling\",\"nationality\":[\"SG\"]},"
                   "\"claims_in_assertion\":false}",
                   "/v1/credentials%s", "", ""),
        make_route("GET", CLIENT_ISSUER, false, NULL, "/v1/credentials/%s",
                   f->credential_id, ""),
        make_route("POST", CLIENT_ISSUER, false, revocation,
                   "/v1/credentials/%s/revocation", FRESH, ""),
        make_route("POST", CLIENT_RP, false,
                   "{\"assertion\":\"" FRESH "\",\"claims\":[\"given_name\","
                   "\"nationality\"],\"purpose\":\"account opening\",\"retention_days\":30}",
                   "/v1/verifications%s", "", ""),
        make_route("GET", CLIENT_RP, false, NULL, "/v1/verifications/%s",
                   f->verification_id, ""),
        make_route("GET", CLIENT_RP, false, NULL, "/v1/issuers%s", "", ""),
        make_route("GET", NULL, false, NULL, "/saml/metadata%s", "", ""),
        make_route("GET", NULL, false, NULL, "/healthz%s", "", ""),
        make_route("GET", CLIENT_REGULATOR, false, NULL, "/metrics%s", "", ""),
        make_route("GET", CLIENT_REGULATOR, false, NULL, "/v1/audit/checkpoint%s", "", ""),
        make_route("GET", CLIENT_REGULATOR, false, NULL, "/v1/audit/entries%s", "",
                   "from=0&to=1"),
        make_route("GET", CLIENT_REGULATOR, false, NULL, "/v1/audit/proof/inclusion%s", "",
                   "index=0&size=1"),
        make_route("GET", CLIENT_REGULATOR, false, NULL, "/v1/audit/proof/consistency%s",
                   "", "from=1&to=1"),
    };
    routes[2].refresh = fresh_credential;
    routes[3].refresh = fresh_assertion;
    routes[3].audits_rejections = true;
    const char *ids[] = {"", f->credential_id, FRESH, "", f->verification_id,
                         "", "", "", "", "", "", "", ""};

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        mutate_route(f, &routes[i], ids[i]);
    fprintf(stderr, "%u variants in %u requests, %u accepted, %u failures\n", f->variants,
            f->sent, f->accepted, f->failures);
    assert_int_equal(f->failures, 0);
}

static void test_page_routes(void **state)
{
    fixture *f = reset_counts(*state);
    route_case routes[] = {
        make_route("GET", NULL, false, NULL, "/enroll%s", "", ""),
        make_route("POST", NULL, true, "{\"code\":\"" FRESH "\"}", "/enroll/code%s", "", ""),
        make_route("GET", NULL, true, NULL, "/account%s", "", ""),
        make_route("POST", NULL, true, "{}", "/account/registration/options%s", "", ""),
        make_route("POST", NULL, true, f->webauthn_body, "/account/registration%s", "", ""),
        make_route("POST", NULL, true, "{}", "/account/authenticators/%s/removal", "AAAA",
                   ""),
        make_route("POST", NULL, true, "{}", "/account/signin/options%s", "", ""),
        make_route("POST", NULL, true, f->webauthn_body, "/account/signin%s", "", ""),
        make_route("GET", NULL, false, NULL, "/consent/%s", f->consent_id, ""),
        make_route("POST", NULL, true, "{}", "/consent/%s/options", f->consent_id, ""),
        make_route("POST", NULL, true, f->webauthn_body, "/consent/%s/approval",
                   f->consent_id, ""),
        make_route("GET", NULL, false, NULL, "/static/pages.js%s", "", ""),
        make_route("GET", NULL, false, NULL, "/static/pages.css%s", "", ""),
        make_route("POST", NULL, true, "{}", "/consent/%s/refusal", FRESH, ""),
        make_route("POST", NULL, true, "{}", "/account/signout%s", "", ""),
    };
    const char *ids[] = {"", "", "", "", "", "AAAA", "", "", f->consent_id, f->consent_id,
                         f->consent_id, "", "", FRESH, ""};

    /* A rejected option or approval call leaves its consent request pending, which the
     * state check confirms, so those calls share one. A refusal decides it. */
    routes[1].refresh = fresh_code;
    routes[13].refresh = fresh_consent;
    /* Registration, sign-in and approval read the credential's response with one
     * parser, whose members the registration's variants cover. */
    routes[7].max_depth = 1;
    routes[10].max_depth = 1;

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        mutate_route(f, &routes[i], ids[i]);
    fprintf(stderr, "%u variants in %u requests, %u accepted, %u failures\n", f->variants,
            f->sent, f->accepted, f->failures);
    assert_int_equal(f->failures, 0);
}

/* Signs the model bundles with a regulator key made in the test token, and turns the
 * policy engine on. Returns 0 or -1. */
static int configure_policy(harness *h)
{
    const char *source = getenv("IDSVC_SOURCE_DIR");
    const char *admin = getenv("IDSVC_ADMIN");
    static const char *const bundles[] = {"asean-cn-base", "residency-sg"};

    if (source == NULL || admin == NULL ||
        harness_run("GNUTLS_PIN='" TEST_TOKEN_PIN "' p11tool --provider '%s' --login "
                    "--generate-privkey=ecdsa --curve=secp256r1 --label regulator --id 11 "
                    "'pkcs11:token=" TEST_TOKEN_LABEL "' --outfile '%s/regulator.pem' "
                    ">/dev/null 2>&1",
                    h->token.module_path, h->token.dir) != 0)
        return -1;
    for (size_t i = 0; i < 2; i++)
        if (harness_run("cd '%s' && '%s' policy sign '%s/policies/%s.xml' --key "
                        "'pkcs11:token=" TEST_TOKEN_LABEL ";object=regulator;type=private' "
                        "--module '%s' --token " TEST_TOKEN_LABEL " --pin-file '%s' "
                        "--output '%s.xml' >/dev/null",
                        h->token.dir, admin, source, bundles[i], h->token.module_path,
                        h->token.pin_path, bundles[i]) != 0)
            return -1;
    if (harness_run("sed -i 's/^allowed_claims = given_name family_name nationality$/"
                    "allowed_claims = given_name family_name nationality date_of_birth "
                    "age_over_18 age_over_21 national_id/' '%s'",
                    h->config_path) != 0)
        return -1;
    return harness_append_config(h, "\n[policy]\nbundle = asean-cn-base.xml\n"
                                    "bundle = residency-sg.xml\n"
                                    "[regulator model]\nkey = regulator.pem\n"
                                    "signs = base SG\n");
}

static int setup_policy(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || harness_setup(&f->h) != 0 || configure_policy(&f->h) != 0 ||
        harness_append_config(&f->h, pages_config) != 0 || harness_start(&f->h) != 0) {
        if (f != NULL) {
            harness_dump_log(&f->h);
            harness_teardown(&f->h);
        }
        free(f);
        return -1;
    }
    f->verbose = getenv("IDSVC_MUTATION_VERBOSE") != NULL &&
                 strcmp(getenv("IDSVC_MUTATION_VERBOSE"), "1") == 0;
    *state = f;
    install_change_log(f);
    return 0;
}

/* The verification routes of a node whose policy engine decides, which reads purpose,
 * claims and retention_days against the bundles before it verifies the assertion. */
static void test_policy_verifications(void **state)
{
    fixture *f = reset_counts(*state);
    route_case routes[] = {
        make_route("POST", CLIENT_RP, false,
                   "{\"assertion\":\"" FRESH "\",\"claims\":[\"date_of_birth\","
                   "\"age_over_18\",\"national_id\"],\"purpose\":\"age_check\","
                   "\"retention_days\":30}",
                   "/v1/verifications%s", "", ""),
        make_route("POST", CLIENT_RP, false,
                   "{\"assertion\":\"" FRESH "\",\"claims\":[\"given_name\"],"
                   "\"purpose\":\"account_opening\",\"retention_days\":null}",
                   "/v1/verifications%s", "", ""),
    };

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        routes[i].refresh = fresh_assertion;
        routes[i].audits_rejections = true;
        mutate_route(f, &routes[i], "");
    }
    fprintf(stderr, "%u variants in %u requests, %u accepted, %u failures\n", f->variants,
            f->sent, f->accepted, f->failures);
    assert_int_equal(f->failures, 0);
}

int main(void)
{
    const struct CMUnitTest node_tests[] = {
        cmocka_unit_test(test_api_routes),
        cmocka_unit_test(test_page_routes),
    };
    const struct CMUnitTest policy_tests[] = {
        cmocka_unit_test(test_policy_verifications),
    };
    int failed;

    /* A write to a connection that the node closed must fail, not end the test. */
    signal(SIGPIPE, SIG_IGN);
    failed = cmocka_run_group_tests_name("node without policy", node_tests, setup, teardown);
    return failed + cmocka_run_group_tests_name("policy node", policy_tests, setup_policy,
                                                teardown);
}
