/*
 * The audit log through the real daemon: issuances, revocations and verifications become
 * entries; the regulator routes serve proofs that an independent recomputation
 * (merkle_store.c) checks; `idsvc-admin audit verify` finds tampering in the SQLite file
 * at the right index; and SIGKILL during a burst of requests loses no acknowledged entry.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "merkle_store.h"
#include "server_harness.h"

#define BURST_CLIENTS 6
#define BURST_MILLISECONDS 2500

static harness server;

static const char issue_body[] =
    "{\"subject\":\"SG-S7654321Z\",\"audience\":\"" RP_ENTITY_ID "\","
    "\"assurance_level\":\"high\",\"validity_seconds\":3600,"
    "\"attributes\":{\"given_name\":\"Wei\",\"family_name\":\"Lim\","
    "\"nationality\":[\"SG\"]}}";

static int start_server(void **state)
{
    (void)state;
    if (harness_setup(&server) != 0 ||
        harness_append_config(&server, "\n[audit]\ncheckpoint_interval = 0\n") != 0 ||
        harness_start(&server) != 0) {
        harness_teardown(&server);
        return -1;
    }
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    harness_teardown(&server);
    return 0;
}

static void expect_status(const http_result *result, long status, const char *code)
{
    if (result->status != status || strcmp(http_result_code(result), code) != 0)
        fprintf(stderr, "expected %ld %s, got %ld %s\n", status, code, result->status,
                result->body != NULL ? result->body : "");
    assert_int_equal(result->status, status);
    assert_string_equal(http_result_code(result), code);
}

static void call(const char *client, const char *method, const char *path, const char *body,
                 http_result *result)
{
    assert_int_equal(harness_curl(&server, client, method, path, NULL, body, result), 0);
}

static char *issue(void)
{
    http_result result;
    char *assertion;

    call(CLIENT_ISSUER, "POST", "/v1/credentials", issue_body, &result);
    expect_status(&result, 201, "");
    assertion = strdup(json_string_value(json_object_get(result.json, "assertion")));
    http_result_clear(&result);
    return assertion;
}

static void verify(const char *assertion, long expected)
{
    json_t *doc = json_pack("{s:s, s:s, s:[s, s]}", "assertion", assertion, "purpose",
                            "account opening", "claims", "given_name", "nationality");
    char *body = json_dumps(doc, JSON_COMPACT);
    http_result result;

    call(CLIENT_RP, "POST", "/v1/verifications", body, &result);
    if (result.status != expected)
        fprintf(stderr, "verification: %ld %s\n", result.status, result.body);
    assert_int_equal(result.status, expected);
    http_result_clear(&result);
    free(body);
    json_decref(doc);
}

/* ---- Reading the log through the routes -------------------------------------------- */

typedef struct log_copy {
    audit_merkle_hash *leaves;
    json_t *entries;  /* the entries' JSON texts, as strings */
    json_t *payloads; /* their payload texts, as strings, at the same positions */
    size_t count;
} log_copy;

static void log_copy_free(log_copy *copy)
{
    free(copy->leaves);
    json_decref(copy->entries);
    json_decref(copy->payloads);
    memset(copy, 0, sizeof(*copy));
}

/* Checks, with SHA-256 calls of its own, that the served payload hashes to the
 * payload_sha256 of the entry text of version 2. */
static void check_payload_digest(const char *text, const char *payload)
{
    json_t *entry = json_loads(text, 0, NULL);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];

    assert_non_null(entry);
    assert_non_null(payload);
    SHA256((const unsigned char *)payload, strlen(payload), digest);
    for (size_t i = 0; i < sizeof(digest); i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    assert_int_equal(json_integer_value(json_object_get(entry, "version")), 2);
    assert_string_equal(json_string_value(json_object_get(entry, "payload_sha256")), hex);
    json_decref(entry);
}

/* Reads every entry page by page, recomputes each leaf hash from the entry's bytes, and
 * checks each payload against its entry's digest. */
static void read_log(log_copy *copy)
{
    char path[128] = "/v1/audit/entries?from=0";

    memset(copy, 0, sizeof(*copy));
    copy->entries = json_array();
    copy->payloads = json_array();
    for (;;) {
        http_result result;
        const json_t *item;
        size_t i;

        call(CLIENT_REGULATOR, "GET", path, NULL, &result);
        expect_status(&result, 200, "");
        json_array_foreach(json_object_get(result.json, "entries"), i, item) {
            const char *text = json_string_value(json_object_get(item, "entry"));
            const char *payload = json_string_value(json_object_get(item, "payload"));
            audit_merkle_hash served = merkle_hash_from_hex(
                json_string_value(json_object_get(item, "leaf_hash")));

            assert_int_equal(json_integer_value(json_object_get(item, "index")), copy->count);
            copy->leaves = realloc(copy->leaves, (copy->count + 1) * sizeof(*copy->leaves));
            assert_non_null(copy->leaves);
            assert_non_null(text);
            merkle_reference_leaf(text, strlen(text), &copy->leaves[copy->count]);
            assert_memory_equal(served.bytes, copy->leaves[copy->count].bytes, 32);
            check_payload_digest(text, payload);
            json_array_append_new(copy->entries, json_string(text));
            json_array_append_new(copy->payloads, json_string(payload));
            copy->count++;
        }
        if (json_object_get(result.json, "next") == NULL) {
            http_result_clear(&result);
            return;
        }
        snprintf(path, sizeof(path), "%s", json_string_value(json_object_get(result.json, "next")));
        http_result_clear(&result);
    }
}

/* RFC 9162 section 2.1.3.2, written again here so that it shares no code with the node. */
static bool reference_verify_inclusion(uint64_t index, uint64_t size,
                                       const audit_merkle_hash *leaf, const json_t *path,
                                       const audit_merkle_hash *root)
{
    uint64_t fn = index;
    uint64_t sn = size - 1;
    audit_merkle_hash r = *leaf;
    const json_t *item;
    size_t i;

    json_array_foreach(path, i, item) {
        audit_merkle_hash p = merkle_hash_from_hex(json_string_value(item));

        if (sn == 0)
            return false;
        if ((fn & 1) == 1 || fn == sn) {
            merkle_reference_children(&p, &r, &r);
            if ((fn & 1) == 0)
                while ((fn & 1) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            merkle_reference_children(&r, &p, &r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r.bytes, root->bytes, 32) == 0;
}

static json_t *checkpoint(void)
{
    http_result result;
    json_t *doc;

    call(CLIENT_REGULATOR, "GET", "/v1/audit/checkpoint", NULL, &result);
    expect_status(&result, 200, "");
    doc = json_incref(result.json);
    http_result_clear(&result);
    return doc;
}

/* ---- Tests ------------------------------------------------------------------------- */

static void test_events_recorded_without_values(void **state)
{
    char *assertion = issue();
    log_copy copy;
    const json_t *item;
    size_t i;
    bool issued = false;
    bool accepted = false;
    bool rejected = false;

    (void)state;
    verify(assertion, 200);
    verify(assertion, 422); /* a replay: rejected, and recorded as such */
    read_log(&copy);

    json_array_foreach(copy.entries, i, item) {
        const char *text = json_string_value(item);
        const char *payload_text = json_string_value(json_array_get(copy.payloads, i));
        json_t *entry = json_loads(text, 0, NULL);
        const char *kind = json_string_value(json_object_get(entry, "kind"));
        json_t *payload = json_loads(payload_text, 0, NULL);

        /* No claim value and no NameID may reach the log. */
        assert_null(strstr(text, "Wei"));
        assert_null(strstr(text, "Lim"));
        assert_null(strstr(text, "S7654321Z"));
        assert_null(strstr(payload_text, "Wei"));
        assert_null(strstr(payload_text, "Lim"));
        assert_null(strstr(payload_text, "S7654321Z"));
        if (strcmp(kind, "credential_issued") == 0) {
            issued = true;
            assert_int_equal(strlen(json_string_value(json_object_get(payload, "subject"))), 64);
        }
        if (strcmp(kind, "verification_decided") == 0) {
            const char *decision = json_string_value(json_object_get(payload, "decision"));

            assert_string_equal(json_string_value(json_object_get(entry, "relying_party")),
                                CLIENT_RP);
            if (strcmp(decision, "accepted") == 0) {
                accepted = true;
                assert_int_equal(json_array_size(json_object_get(payload, "claims")), 2);
            } else {
                rejected = true;
                assert_string_equal(json_string_value(json_object_get(payload, "reason")),
                                    "replayed");
            }
        }
        json_decref(payload);
        json_decref(entry);
    }
    assert_true(issued);
    assert_true(accepted);
    assert_true(rejected);
    log_copy_free(&copy);
    free(assertion);
}

static void test_proofs_match_recomputation(void **state)
{
    json_t *head;
    log_copy copy;
    audit_merkle_hash root;
    uint64_t size;
    char path[160];

    (void)state;
    free(issue());
    head = checkpoint();
    read_log(&copy);
    size = (uint64_t)json_integer_value(json_object_get(head, "tree_size"));
    assert_int_equal(size, copy.count);

    /* The signed root is the root of the served entries, recomputed independently. */
    merkle_reference_root(copy.leaves, copy.count, &root);
    assert_memory_equal(root.bytes,
                        merkle_hash_from_hex(json_string_value(json_object_get(head, "root_hash"))).bytes,
                        32);

    for (uint64_t index = 0; index < size; index++) {
        http_result result;

        snprintf(path, sizeof(path), "/v1/audit/proof/inclusion?index=%llu&size=%llu",
                 (unsigned long long)index, (unsigned long long)size);
        call(CLIENT_REGULATOR, "GET", path, NULL, &result);
        expect_status(&result, 200, "");
        assert_true(reference_verify_inclusion(index, size, &copy.leaves[index],
                                               json_object_get(result.json, "proof"), &root));
        http_result_clear(&result);
    }
    for (uint64_t first = 1; first <= size; first++) {
        http_result result;
        audit_merkle_hash first_root;

        snprintf(path, sizeof(path), "/v1/audit/proof/consistency?from=%llu&to=%llu",
                 (unsigned long long)first, (unsigned long long)size);
        call(CLIENT_REGULATOR, "GET", path, NULL, &result);
        expect_status(&result, 200, "");
        merkle_reference_root(copy.leaves, first, &first_root);
        assert_memory_equal(
            merkle_hash_from_hex(json_string_value(json_object_get(result.json, "first_root"))).bytes,
            first_root.bytes, 32);
        assert_true(json_array_size(json_object_get(result.json, "proof")) <= 2 * 64 + 1);
        http_result_clear(&result);
    }
    log_copy_free(&copy);
    json_decref(head);
}

static void test_bad_parameters(void **state)
{
    static const struct {
        const char *path;
        const char *code;
        const char *field;
    } cases[] = {
        {"/v1/audit/proof/inclusion?size=1", "parameter_missing", "index"},
        {"/v1/audit/proof/inclusion?index=abc&size=1", "parameter_invalid", "index"},
        {"/v1/audit/proof/inclusion?index=-1&size=1", "parameter_invalid", "index"},
        {"/v1/audit/proof/inclusion?index=99999999999999999999999&size=1",
         "parameter_invalid", "index"},
        /* A NUL byte must not cut the value short: "0%00x" is not "0". */
        {"/v1/audit/proof/inclusion?index=0%00x&size=1", "parameter_invalid", "index"},
        {"/v1/audit/proof/inclusion?index&size=1", "parameter_invalid", "index"},
        {"/v1/audit/proof/inclusion?index=0&index=1&size=1", "parameter_invalid",
         "index"},
        /* Names compare in their case, so INDEX is another parameter and index is
           missing. */
        {"/v1/audit/proof/inclusion?INDEX=0&size=1", "parameter_missing", "index"},
        {"/v1/audit/proof/consistency?from=1&To=1", "parameter_missing", "to"},
        {"/v1/audit/entries?FROM=0", "parameter_missing", "from"},
        {"/v1/audit/proof/inclusion?index=1&size=1", "index_out_of_range", "index"},
        {"/v1/audit/proof/inclusion?index=0&size=999999", "size_beyond_log", "size"},
        {"/v1/audit/proof/consistency?from=0&to=1", "range_invalid", "from"},
        {"/v1/audit/proof/consistency?from=2&to=1", "range_invalid", "from"},
        {"/v1/audit/proof/consistency?from=1", "parameter_missing", "to"},
        {"/v1/audit/entries", "parameter_missing", "from"},
        {"/v1/audit/entries?from=3&to=2", "range_invalid", "from"},
        {"/v1/audit/entries?from=0&to=999999", "size_beyond_log", "to"},
        {"/v1/audit/entries?from=999999", "size_beyond_log", "from"},
        {"/v1/audit/entries?from=9223372036854775807&to=2", "size_beyond_log", "from"},
    };
    http_result result;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        call(CLIENT_REGULATOR, "GET", cases[i].path, NULL, &result);
        expect_status(&result, 400, cases[i].code);
        assert_string_equal(http_result_field(&result), cases[i].field);
        http_result_clear(&result);
    }

    /* Only the regulator role reaches the log. */
    call(CLIENT_RP, "GET", "/v1/audit/checkpoint", NULL, &result);
    expect_status(&result, 403, "role_not_allowed");
    http_result_clear(&result);
    call(CLIENT_ISSUER, "GET", "/v1/audit/entries?from=0", NULL, &result);
    expect_status(&result, 403, "role_not_allowed");
    http_result_clear(&result);
}

/* A parameter whose name differs only in case, before or after the real one, neither
 * replaces its value nor counts as a repeat of it. */
static void test_parameter_names_case_sensitive(void **state)
{
    static const char *const paths[] = {
        "/v1/audit/entries?FROM=1&from=0&to=1",
        "/v1/audit/entries?from=0&From=1&to=1",
    };
    http_result result;

    (void)state;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        call(CLIENT_REGULATOR, "GET", paths[i], NULL, &result);
        expect_status(&result, 200, "");
        assert_int_equal(json_integer_value(json_object_get(result.json, "from")), 0);
        http_result_clear(&result);
    }
}

/* Runs sql on the running node's database, waiting while the node writes. */
static void edit_live_database(const char *sql)
{
    sqlite3 *db = NULL;
    char *message = NULL;

    assert_int_equal(sqlite3_open(server.db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK)
        fprintf(stderr, "%s: %s\n", sql, message);
    assert_null(message);
    sqlite3_close(db);
}

/* Entries edited in the database are served as stored. A recorded_at column that no
 * time bound matches does not hide its entry, and a leaf hash that is not 32 bytes is
 * null. Texts that JSON cannot carry come as hex, not as a 500 for the whole page.
 * The edits are undone before the checks, so the later tests read a clean log. */
static void test_edited_entries_served(void **state)
{
    http_result result;
    const json_t *entries;
    const json_t *item;
    size_t i;

    (void)state;
    edit_live_database(
        "CREATE TABLE entries_before AS SELECT * FROM audit_entries WHERE idx < 4;"
        "UPDATE audit_entries SET recorded_at = 'x' WHERE idx = 0;"
        "UPDATE audit_entries SET recorded_at = 9223372036854775807 WHERE idx = 1;"
        "UPDATE audit_entries SET leaf_hash = X'00' WHERE idx = 2;"
        "UPDATE audit_entries SET entry = CAST(X'7bff7d' AS TEXT),"
        " payload = CAST(X'7b007d' AS TEXT) WHERE idx = 3;");
    call(CLIENT_REGULATOR, "GET", "/v1/audit/entries?from=0&to=4", NULL, &result);
    edit_live_database(
        "UPDATE audit_entries SET (recorded_at, leaf_hash, entry, payload) ="
        " (SELECT recorded_at, leaf_hash, entry, payload FROM entries_before b"
        "  WHERE b.idx = audit_entries.idx) WHERE idx < 4;"
        "DROP TABLE entries_before;");

    expect_status(&result, 200, "");
    entries = json_object_get(result.json, "entries");
    assert_int_equal(json_array_size(entries), 4);
    json_array_foreach(entries, i, item)
        assert_int_equal(json_integer_value(json_object_get(item, "index")), i);
    assert_true(json_is_string(json_object_get(json_array_get(entries, 0), "entry")));
    assert_true(json_is_string(json_object_get(json_array_get(entries, 1), "entry")));
    item = json_array_get(entries, 2);
    assert_true(json_is_null(json_object_get(item, "leaf_hash")));
    item = json_array_get(entries, 3);
    assert_null(json_object_get(item, "entry"));
    assert_string_equal(json_string_value(json_object_get(item, "entry_hex")), "7bff7d");
    assert_null(json_object_get(item, "payload"));
    assert_string_equal(json_string_value(json_object_get(item, "payload_hex")), "7b007d");
    http_result_clear(&result);
}

/* ---- idsvc-admin audit on copies of the database ---------------------------------- */

static int run_admin(const char *arguments, char *output, size_t size)
{
    const char *admin = getenv("IDSVC_ADMIN");
    char command[8192];

    assert_non_null(admin);
    assert_in_range(snprintf(command, sizeof(command), "%s audit %s", admin, arguments), 0,
                    sizeof(command) - 1);
    return test_run_capture(command, output, size);
}

/* Copies the daemon's database (stopped, so the WAL is checkpointed) and applies sql.
 * Fails the test when the copy's path or the cp command does not fit its buffer. */
static void tampered_copy(const char *name, const char *sql, char *path, size_t size)
{
    char command[2 * PATH_MAX + 64];
    sqlite3 *db = NULL;
    char *message = NULL;
    int length;

    length = snprintf(path, size, "%s/%s.db", server.token.dir, name);
    assert_in_range(length, 0, size - 1);
    length = snprintf(command, sizeof(command), "cp '%s' '%s'", server.db_path, path);
    assert_in_range(length, 0, sizeof(command) - 1);
    assert_int_equal(test_run(command), 0);
    if (sql == NULL)
        return;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK)
        fprintf(stderr, "%s: %s\n", sql, message);
    assert_null(message);
    assert_true(sqlite3_changes(db) >= 1);
    sqlite3_close(db);
}

/* Exports path, verifies the export and returns the verifier's exit status, leaving its
 * output in output. Fails the test when the export's path or arguments do not fit. */
static int export_and_verify(const char *path, char *output, size_t size)
{
    char arguments[4 * PATH_MAX];
    char export_path[PATH_MAX + 32];
    int length;

    length = snprintf(export_path, sizeof(export_path), "%s.jsonl", path);
    assert_in_range(length, 0, sizeof(export_path) - 1);
    length = snprintf(arguments, sizeof(arguments), "export --database '%s' --out '%s'", path,
                      export_path);
    assert_in_range(length, 0, sizeof(arguments) - 1);
    assert_int_equal(run_admin(arguments, output, size), 0);
    snprintf(arguments, sizeof(arguments), "verify '%s' --trust '%s/saml.pub'", export_path,
             server.token.dir);
    return run_admin(arguments, output, size);
}

static void expect_verify_failure(const char *name, const char *sql, const char *expected)
{
    char path[PATH_MAX + 64];
    char output[8192];
    int status;

    tampered_copy(name, sql, path, sizeof(path));
    status = export_and_verify(path, output, sizeof(output));
    if (status != 1 || strstr(output, expected) == NULL)
        fprintf(stderr, "%s: expected \"%s\", got status %d: %s\n", name, expected, status,
                output);
    assert_int_equal(status, 1);
    assert_non_null(strstr(output, expected));
}

/* Copies the export at clean, changes it with edit, and expects audit verify to exit 1
 * with expected in its output. edit gets the export's lines and appends to out. */
/* Writes the export at clean, changed by edit, to CLEAN.NAME.jsonl, into path. */
static void write_edited_export(const char *clean, const char *name,
                                void (*edit)(FILE *in, FILE *out), char *path, size_t size)
{
    FILE *in = fopen(clean, "r");
    FILE *out;

    snprintf(path, size, "%s.%s.jsonl", clean, name);
    out = fopen(path, "w");
    assert_non_null(in);
    assert_non_null(out);
    edit(in, out);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static void expect_export_rejected(const char *clean, const char *name,
                                   void (*edit)(FILE *in, FILE *out), const char *expected)
{
    char path[PATH_MAX + 256];
    char arguments[4 * PATH_MAX];
    char output[8192];
    int status;

    write_edited_export(clean, name, edit, path, sizeof(path));
    snprintf(arguments, sizeof(arguments), "verify '%s' --trust '%s/saml.pub'", path,
             server.token.dir);
    status = run_admin(arguments, output, sizeof(output));
    if (status != 1 || strstr(output, expected) == NULL)
        fprintf(stderr, "%s: expected \"%s\", got status %d: %s\n", name, expected, status,
                output);
    assert_int_equal(status, 1);
    assert_non_null(strstr(output, expected));
}

/* Copies every line, but gives the checkpoint lines the signature in edit_signature. */
static const char *edit_signature;

static void replace_signatures(FILE *in, FILE *out)
{
    char line[16384];

    while (fgets(line, sizeof(line), in) != NULL) {
        json_t *doc = json_loads(line, 0, NULL);
        char *text;

        assert_non_null(doc);
        if (strcmp(json_string_value(json_object_get(doc, "type")), "checkpoint") == 0)
            json_object_set_new(doc, "signature", json_string(edit_signature));
        text = json_dumps(doc, JSON_COMPACT);
        fprintf(out, "%s\n", text);
        free(text);
        json_decref(doc);
    }
}

/* Copies every line, but makes the last entry's "entry" a number. */
static void number_entry(FILE *in, FILE *out)
{
    char line[16384];
    char last[16384] = "";

    while (fgets(line, sizeof(line), in) != NULL) {
        if (strstr(line, "\"type\":\"entry\"") != NULL) {
            json_t *doc = json_loads(line, 0, NULL);
            char *text;

            json_object_set_new(doc, "entry", json_integer(5));
            text = json_dumps(doc, JSON_COMPACT);
            snprintf(last, sizeof(last), "%s\n", text);
            free(text);
            json_decref(doc);
            fputs(last, out);
            continue;
        }
        fputs(line, out);
    }
    assert_true(last[0] != '\0');
}

/* Copies every line and adds a node without a level. */
static void add_node_without_level(FILE *in, FILE *out)
{
    char line[16384];

    while (fgets(line, sizeof(line), in) != NULL)
        fputs(line, out);
    fputs("{\"type\":\"node\",\"index\":0,\"hash\":\"00\"}\n", out);
}

/* Copies every line behind a UTF-8 byte order mark. */
static void add_byte_order_mark(FILE *in, FILE *out)
{
    char line[16384];

    fputs("\xef\xbb\xbf", out);
    while (fgets(line, sizeof(line), in) != NULL)
        fputs(line, out);
}

/* Copies every line, writing the first entry's index as 0.0. */
static void real_index(FILE *in, FILE *out)
{
    char line[16384];
    bool done = false;

    while (fgets(line, sizeof(line), in) != NULL) {
        char *at = strstr(line, "\"index\":0,");

        if (!done && strstr(line, "\"type\":\"entry\"") != NULL && at != NULL) {
            fprintf(out, "%.*s\"index\":0.0,%s", (int)(at - line), line,
                    at + strlen("\"index\":0,"));
            done = true;
            continue;
        }
        fputs(line, out);
    }
    assert_true(done);
}

/* Copies every line, and the last checkpoint line twice. */
static void repeat_checkpoint(FILE *in, FILE *out)
{
    char line[16384];
    char last[16384] = "";

    while (fgets(line, sizeof(line), in) != NULL) {
        if (strstr(line, "\"type\":\"checkpoint\"") != NULL)
            snprintf(last, sizeof(last), "%s", line);
        fputs(line, out);
    }
    assert_true(last[0] != '\0');
    fputs(last, out);
}

/* Copies every line with a line of white space after each. */
static void add_blank_lines(FILE *in, FILE *out)
{
    char line[16384];

    while (fgets(line, sizeof(line), in) != NULL) {
        fputs(line, out);
        fputs(" \t\r\n", out);
    }
}

/* Verifies an export edited by edit, expecting exit status 0 and expected. */
static void expect_export_accepted(const char *clean, const char *name,
                                   void (*edit)(FILE *in, FILE *out), const char *expected)
{
    char path[PATH_MAX + 256];
    char arguments[4 * PATH_MAX];
    char output[8192];

    write_edited_export(clean, name, edit, path, sizeof(path));
    snprintf(arguments, sizeof(arguments), "verify '%s' --trust '%s/saml.pub'", path,
             server.token.dir);
    assert_int_equal(run_admin(arguments, output, sizeof(output)), 0);
    assert_non_null(strstr(output, expected));
}

/* Malformed lines of an export are named, never crash the verifier or pass. */
static void check_malformed_exports(const char *clean_database)
{
    char arguments[4 * PATH_MAX];
    char output[8192];
    static const char *const bad_signatures[] = {"====", "A===", "AAAA====", "AA=A", "AAA", ""};
    char clean[PATH_MAX + 128];

    snprintf(clean, sizeof(clean), "%s.jsonl", clean_database);
    for (size_t i = 0; i < sizeof(bad_signatures) / sizeof(bad_signatures[0]); i++) {
        edit_signature = bad_signatures[i];
        expect_export_rejected(clean, "signature-text", replace_signatures,
                               "checkpoint_invalid");
    }
    expect_export_rejected(clean, "entry-number", number_entry, "export_invalid");
    expect_export_rejected(clean, "node-level", add_node_without_level,
                           "export_invalid");
    expect_export_rejected(clean, "bom", add_byte_order_mark,
                           "FAILED line 1: export_invalid: the file starts with a UTF-8 "
                           "byte order mark");
    expect_export_rejected(clean, "real-index", real_index,
                           "export_invalid: an entry needs an integer index");
    expect_export_rejected(clean, "checkpoint-twice", repeat_checkpoint,
                           "export_invalid: a checkpoint id appears twice");
    expect_export_accepted(clean, "blank-lines", add_blank_lines, "OK ");

    /* A folder is not an export: the read fails with exit status 2. */
    snprintf(arguments, sizeof(arguments), "verify '%s' --trust '%s/saml.pub'",
             server.token.dir, server.token.dir);
    assert_int_equal(run_admin(arguments, output, sizeof(output)), 2);
    assert_non_null(strstr(output, "reading failed: Is a directory"));
}

static void test_tampering_detected(void **state)
{
    char path[PATH_MAX + 64];
    char output[8192];
    char arguments[3 * PATH_MAX];
    json_t *head;

    (void)state;
    for (int i = 0; i < 4; i++)
        free(issue());
    head = checkpoint();
    assert_true(json_integer_value(json_object_get(head, "tree_size")) >= 6);
    json_decref(head);
    assert_int_equal(harness_stop(&server, SIGTERM), 0);

    /* The untouched copy verifies, and its proofs check against the signed checkpoint. */
    tampered_copy("clean", NULL, path, sizeof(path));
    if (export_and_verify(path, output, sizeof(output)) != 0)
        fprintf(stderr, "%s\n", output);
    assert_int_equal(export_and_verify(path, output, sizeof(output)), 0);
    assert_non_null(strstr(output, "OK "));
    check_malformed_exports(path);
    snprintf(arguments, sizeof(arguments), "prove 2 --database '%s' --trust '%s/saml.pub'",
             path, server.token.dir);
    assert_int_equal(run_admin(arguments, output, sizeof(output)), 0);

    expect_verify_failure("entry",
                          "UPDATE audit_entries SET entry = replace(entry, '\"kind\":\"',"
                          " '\"kind\":\"x') WHERE idx = 3",
                          "FAILED entry 3: entry_hash_mismatch");
    expect_verify_failure("leaf", "UPDATE audit_entries SET leaf_hash = zeroblob(32) WHERE idx = 4",
                          "FAILED entry 4: entry_hash_mismatch");
    expect_verify_failure("deleted", "DELETE FROM audit_entries WHERE idx = 2",
                          "FAILED entry 2: entry_missing");
    expect_verify_failure("node",
                          "UPDATE audit_nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 2",
                          "FAILED entry 4: node_hash_mismatch");
    expect_verify_failure("payload",
                          "UPDATE audit_entries SET payload = '{\"reason\":\"x\"}' WHERE idx = 3",
                          "FAILED entry 3: payload_hash_mismatch");
    /* The entry and its leaf hash rewritten together (the hash is SHA-256 of 0x00 "{}"),
     * and its payload deleted: the subtree above names the pair. */
    expect_verify_failure("rewritten",
                          "UPDATE audit_entries SET entry = '{}', payload = NULL, leaf_hash ="
                          " X'28a3a18f6cd6406b086e9ffda1f9b8a13dbcf44b0f3f32cb9031a11fd053acf9'"
                          " WHERE idx = 5",
                          "FAILED entry 4: node_hash_mismatch");
    expect_verify_failure("signature",
                          "UPDATE audit_checkpoints SET body = replace(body, 'size ', 'size 1')",
                          "checkpoint_signature_invalid");

    /* A changed subtree hash makes the node's own proofs fail against the checkpoint. */
    tampered_copy("proof", "UPDATE audit_nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 1",
                  path, sizeof(path));
    snprintf(arguments, sizeof(arguments), "prove 0 --database '%s' --trust '%s/saml.pub'",
             path, server.token.dir);
    assert_int_equal(run_admin(arguments, output, sizeof(output)), 1);
    assert_non_null(strstr(output, "entry 0: root_mismatch"));

    assert_int_equal(harness_start(&server), 0);
}

/* ---- SIGKILL during a burst --------------------------------------------------------- */

/* Issues credentials until the daemon stops answering, and writes the credential ID of
 * every 201 to acked_path, one a line. Runs in a child process. */
static void burst_client(int number, const char *acked_path)
{
    const char *dir = server.token.dir;
    char body_path[PATH_MAX + 32];
    char out_path[PATH_MAX + 32];
    char command[8 * PATH_MAX];
    FILE *acked = fopen(acked_path, "w");
    FILE *body = NULL;

    snprintf(body_path, sizeof(body_path), "%s/burst-%d.body", dir, number);
    snprintf(out_path, sizeof(out_path), "%s/burst-%d.out", dir, number);
    body = fopen(body_path, "w");
    if (acked == NULL || body == NULL)
        _exit(2);
    fputs(issue_body, body);
    fclose(body);
    snprintf(command, sizeof(command),
             "curl -s --max-time 10 --cacert %s/ca.pem --cert %s/%s.pem --key %s/%s.key "
             "-H 'Content-Type: application/json' --data-binary @%s -o %s "
             "-w '%%{http_code}' https://127.0.0.1:%u/v1/credentials",
             dir, dir, CLIENT_ISSUER, dir, CLIENT_ISSUER, body_path, out_path, server.port);

    for (;;) {
        char code[16] = "";
        FILE *pipe = popen(command, "r");
        json_t *reply;

        if (pipe == NULL || fgets(code, sizeof(code), pipe) == NULL) {
            if (pipe != NULL)
                pclose(pipe);
            break;
        }
        if (pclose(pipe) != 0 || strcmp(code, "201") != 0)
            break;
        reply = json_load_file(out_path, 0, NULL);
        fprintf(acked, "%s\n", json_string_value(json_object_get(reply, "credential_id")));
        fflush(acked);
        json_decref(reply);
    }
    fclose(acked);
    _exit(0);
}

static void test_sigkill_loses_no_acknowledged_entry(void **state)
{
    pid_t children[BURST_CLIENTS];
    char acked_path[BURST_CLIENTS][PATH_MAX + 32];
    char output[8192];
    char path[PATH_MAX + 64];
    log_copy copy;
    size_t acknowledged = 0;
    json_t *head;

    (void)state;
    for (int i = 0; i < BURST_CLIENTS; i++) {
        snprintf(acked_path[i], sizeof(acked_path[i]), "%s/acked-%d", server.token.dir, i);
        children[i] = fork();
        assert_true(children[i] >= 0);
        if (children[i] == 0)
            burst_client(i, acked_path[i]);
    }
    usleep(BURST_MILLISECONDS * 1000);
    assert_int_equal(harness_stop(&server, SIGKILL), 128 + SIGKILL);
    for (int i = 0; i < BURST_CLIENTS; i++)
        waitpid(children[i], NULL, 0);

    assert_int_equal(harness_start(&server), 0);
    read_log(&copy);

    /* Every credential ID a client received is in a credential_issued entry. */
    for (int i = 0; i < BURST_CLIENTS; i++) {
        FILE *acked = fopen(acked_path[i], "r");
        char id[64];

        assert_non_null(acked);
        while (fgets(id, sizeof(id), acked) != NULL) {
            char needle[96];
            bool found = false;
            const json_t *item;
            size_t j;

            id[strcspn(id, "\n")] = '\0';
            snprintf(needle, sizeof(needle), "\"credential_id\":\"%s\"", id);
            json_array_foreach(copy.payloads, j, item)
                found = found || strstr(json_string_value(item), needle) != NULL;
            if (!found)
                fprintf(stderr, "acknowledged credential %s has no audit entry\n", id);
            assert_true(found);
            acknowledged++;
        }
        fclose(acked);
    }
    fprintf(stderr, "%zu acknowledged issuances before SIGKILL, all in the log of %zu "
            "entries\n", acknowledged, copy.count);
    assert_true(acknowledged > 0);
    log_copy_free(&copy);

    /* The tree after the restart verifies with a fresh checkpoint. */
    head = checkpoint();
    json_decref(head);
    assert_int_equal(harness_stop(&server, SIGTERM), 0);
    tampered_copy("after-kill", NULL, path, sizeof(path));
    if (export_and_verify(path, output, sizeof(output)) != 0)
        fprintf(stderr, "%s\n", output);
    assert_int_equal(export_and_verify(path, output, sizeof(output)), 0);
    assert_int_equal(harness_start(&server), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_recorded_without_values),
        cmocka_unit_test(test_proofs_match_recomputation),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_parameter_names_case_sensitive),
        cmocka_unit_test(test_edited_entries_served),
        cmocka_unit_test(test_tampering_detected),
        cmocka_unit_test(test_sigkill_loses_no_acknowledged_entry),
    };

    return cmocka_run_group_tests(tests, start_server, stop_server);
}
