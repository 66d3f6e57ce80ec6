/*
 * Credentials issued with claims_in_assertion false: the node stores the claim values and
 * signs an assertion without them, so a relying party that has the credential learns
 * only what a verification discloses. One daemon serves every test in this file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "server_harness.h"

static harness server;

#define HELD_BODY(in_assertion)                                                          \
    "{\"subject\":\"SG-H7654321Z\",\"audience\":\"" RP_ENTITY_ID "\","                  \
    "\"assurance_level\":\"high\",\"validity_seconds\":3600,"                            \
    "\"claims_in_assertion\":" in_assertion ","                                          \
    "\"attributes\":{\"given_name\":\"Siti\",\"family_name\":\"Rahman\","                \
    "\"nationality\":[\"SG\",\"MY\"],\"date_of_birth\":\"1988-07-14\"}}"

/* The values of HELD_BODY, none of which a held credential's assertion may contain. A
 * two-letter value is matched between tags, because a base64 value may contain it. */
static const char *const held_values[] = {"Siti", "Rahman", ">MY<", "1988-07-14"};

static int start_server(void **state)
{
    (void)state;
    return harness_begin(&server);
}

static int stop_server(void **state)
{
    (void)state;
    return harness_finish(&server);
}

static void expect_problem(const http_result *result, long status, const char *code,
                           const char *field)
{
    if (result->status != status || strcmp(http_result_code(result), code) != 0)
        fprintf(stderr, "expected %ld %s, got %ld %s\n", status, code, result->status,
                result->body ? result->body : "");
    assert_int_equal(result->status, status);
    assert_string_equal(http_result_code(result), code);
    if (field != NULL)
        assert_string_equal(http_result_field(result), field);
}

static void issue(const char *body, http_result *result)
{
    assert_int_equal(harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                                  body, result),
                     0);
    if (result->status != 201)
        fprintf(stderr, "issuing failed: %ld %s\n", result->status, result->body);
    assert_int_equal(result->status, 201);
}

static const char *member_text(const http_result *result, const char *name)
{
    return json_string_value(json_object_get(result->json, name));
}

/* Posts the assertion of issued as the relying party, asking for claims. */
static void verify(const http_result *issued, const char *claims, http_result *result)
{
    json_t *doc = json_pack("{s:s, s:s, s:o}", "assertion", member_text(issued, "assertion"),
                            "purpose", "account opening", "claims",
                            json_loads(claims, 0, NULL));
    char *body = json_dumps(doc, JSON_COMPACT);

    assert_non_null(body);
    assert_int_equal(harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL,
                                  body, result),
                     0);
    free(body);
    json_decref(doc);
}

/* Returns the reason that the response gives for withholding claim, or NULL. */
static const char *withheld_reason(const http_result *result, const char *claim)
{
    size_t index;
    json_t *item;

    json_array_foreach(json_object_get(result->json, "withheld"), index, item)
        if (strcmp(json_string_value(json_object_get(item, "claim")), claim) == 0)
            return json_string_value(json_object_get(item, "reason"));
    return NULL;
}

static void test_held_assertion_has_no_values(void **state)
{
    http_result held;
    http_result result;
    char path[128];
    const char *assertion;

    (void)state;
    issue(HELD_BODY("false"), &held);
    assertion = member_text(&held, "assertion");
    assert_non_null(assertion);
    assert_true(json_is_false(json_object_get(held.json, "claims_in_assertion")));
    assert_null(strstr(assertion, "AttributeStatement"));
    assert_null(strstr(assertion, "AttributeValue"));
    for (size_t i = 0; i < sizeof(held_values) / sizeof(held_values[0]); i++)
        assert_null(strstr(assertion, held_values[i]));

    snprintf(path, sizeof(path), "/v1/credentials/%s", member_text(&held, "credential_id"));
    assert_int_equal(harness_curl(&server, CLIENT_ISSUER, "GET", path, NULL, NULL, &result),
                     0);
    assert_int_equal(result.status, 200);
    assert_true(json_is_false(json_object_get(result.json, "claims_in_assertion")));
    http_result_clear(&result);
    http_result_clear(&held);
}

static void test_embedded_is_default(void **state)
{
    static const char body[] =
        "{\"subject\":\"SG-E1111111A\",\"audience\":\"" RP_ENTITY_ID "\","
        "\"assurance_level\":\"high\",\"validity_seconds\":3600,"
        "\"attributes\":{\"given_name\":\"Wei\"}}";
    http_result issued;

    (void)state;
    issue(body, &issued);
    assert_true(json_is_true(json_object_get(issued.json, "claims_in_assertion")));
    assert_non_null(strstr(member_text(&issued, "assertion"), ">Wei</saml:AttributeValue>"));
    http_result_clear(&issued);
}

/* The node discloses a held value exactly as it would one in the assertion: by the
 * registry (given_name family_name nationality), with a reason for each other claim. */
static void test_held_values_disclosed(void **state)
{
    http_result held;
    http_result result;
    const json_t *claims;
    const char *attestation;

    (void)state;
    issue(HELD_BODY("false"), &held);
    verify(&held, "[\"given_name\",\"nationality\",\"date_of_birth\",\"email\"]", &result);
    if (result.status != 200)
        fprintf(stderr, "%ld %s\n", result.status, result.body);
    assert_int_equal(result.status, 200);
    claims = json_object_get(result.json, "claims");
    assert_string_equal(json_string_value(json_object_get(claims, "given_name")), "Siti");
    assert_int_equal(json_array_size(json_object_get(claims, "nationality")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(claims, "nationality"),
                                                         1)),
                        "MY");
    assert_null(json_object_get(claims, "date_of_birth"));
    assert_string_equal(withheld_reason(&result, "date_of_birth"),
                        "not_allowed_for_relying_party");
    assert_string_equal(withheld_reason(&result, "email"), "not_allowed_for_relying_party");

    attestation = member_text(&result, "attestation");
    assert_non_null(attestation);
    assert_non_null(strstr(attestation, ">Siti</saml:AttributeValue>"));
    assert_null(strstr(attestation, "1988-07-14"));
    assert_null(strstr(attestation, "Rahman"));
    http_result_clear(&result);
    http_result_clear(&held);
}

static void test_held_revoked_rejected(void **state)
{
    http_result held;
    http_result result;
    char path[128];

    (void)state;
    issue(HELD_BODY("false"), &held);
    snprintf(path, sizeof(path), "/v1/credentials/%s/revocation",
             member_text(&held, "credential_id"));
    assert_int_equal(harness_curl(&server, CLIENT_ISSUER, "POST", path, NULL,
                                  "{\"reason\":\"document lost\"}", &result),
                     0);
    assert_int_equal(result.status, 200);
    http_result_clear(&result);

    verify(&held, "[\"given_name\"]", &result);
    expect_problem(&result, 422, "credential_revoked", "assertion");
    assert_null(strstr(result.body, "Siti"));
    http_result_clear(&result);
    http_result_clear(&held);
}

static void test_claims_in_assertion_type(void **state)
{
    static const char *const values[] = {"\"false\"", "0", "null", "[]"};
    char body[512];
    http_result result;

    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(body, sizeof(body), HELD_BODY("%s"), values[i]);
        assert_int_equal(harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                                      body, &result),
                         0);
        expect_problem(&result, 400, "field_invalid", "claims_in_assertion");
        http_result_clear(&result);
    }
}

/* Held values that no longer pass the claims checks are a fault of the store: the
 * verification fails closed with 500, discloses nothing and names the assertion in the
 * log. */
static void test_unusable_held_claims_fail_closed(void **state)
{
    http_result held;
    http_result result;
    char sql[256];
    char *line;

    (void)state;
    issue(HELD_BODY("false"), &held);
    snprintf(sql, sizeof(sql),
             "UPDATE credentials SET held_claims = '{\"given_name\":5}' WHERE id = '%s'",
             member_text(&held, "credential_id"));
    assert_int_equal(harness_sql(&server, sql), 0);

    verify(&held, "[\"given_name\"]", &result);
    expect_problem(&result, 500, "internal_error", NULL);
    assert_null(strstr(result.body, "Siti"));
    line = harness_wait_for_log(&server, "held_claims_unusable");
    assert_non_null(line);
    assert_non_null(strstr(line, member_text(&held, "assertion_id")));
    free(line);
    http_result_clear(&result);
    http_result_clear(&held);
}

/* Returns how many disclosure history rows name the relying party, or -1. */
static long count_disclosures(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    long count = -1;

    if (sqlite3_open_v2(server.db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM disclosures WHERE rp_id = '" CLIENT_RP
                               "'", -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        count = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

/* The disclosure history row commits with the verification's audit entry and replay
 * record. When the row cannot be stored, the verification fails as a whole with 503, and
 * the assertion stays usable for a retry. The trigger simulates a database that rejects
 * the row. */
static void test_disclosure_commits_with_entry(void **state)
{
    static const char body[] =
        "{\"subject\":\"SG-D2222222B\",\"audience\":\"" RP_ENTITY_ID "\","
        "\"assurance_level\":\"high\",\"validity_seconds\":3600,"
        "\"attributes\":{\"given_name\":\"Ravi\"}}";
    http_result issued;
    http_result result;
    long before;

    (void)state;
    issue(body, &issued);
    before = count_disclosures();
    assert_true(before >= 0);
    assert_int_equal(harness_sql(&server, "CREATE TRIGGER fail_disclosure BEFORE INSERT ON "
                                           "disclosures BEGIN SELECT RAISE(ABORT, "
                                           "'injected failure'); END"),
                     0);
    verify(&issued, "[\"given_name\"]", &result);
    assert_int_equal(harness_sql(&server, "DROP TRIGGER fail_disclosure"), 0);
    expect_problem(&result, 503, "audit_unavailable", NULL);
    assert_non_null(strstr(result.headers, "Retry-After: "));
    assert_null(strstr(result.body, "Ravi"));
    assert_int_equal(count_disclosures(), before);
    http_result_clear(&result);

    verify(&issued, "[\"given_name\"]", &result);
    if (result.status != 200)
        fprintf(stderr, "%ld %s\n", result.status, result.body);
    assert_int_equal(result.status, 200);
    assert_int_equal(count_disclosures(), before + 1);
    http_result_clear(&result);
    http_result_clear(&issued);
}

/* A claim named twice in the request gets 400 field_invalid on the first repeat, as it
 * does with the policy engine, and leaves the assertion unused. The request without
 * the repeats is decided with one withheld entry and one disclosed value. */
static void test_repeated_claim_rejected(void **state)
{
    static const char body[] =
        "{\"subject\":\"SG-R3333333C\",\"audience\":\"" RP_ENTITY_ID "\","
        "\"assurance_level\":\"high\",\"validity_seconds\":3600,"
        "\"attributes\":{\"given_name\":\"Lin\"}}";
    http_result issued;
    http_result result;

    (void)state;
    issue(body, &issued);
    verify(&issued, "[\"given_name\",\"date_of_birth\",\"given_name\",\"date_of_birth\"]",
           &result);
    expect_problem(&result, 400, "field_invalid", "claims[2]");
    http_result_clear(&result);

    verify(&issued, "[\"given_name\",\"date_of_birth\"]", &result);
    assert_int_equal(result.status, 200);
    assert_int_equal(json_object_size(json_object_get(result.json, "claims")), 1);
    assert_int_equal(json_array_size(json_object_get(result.json, "withheld")), 1);
    assert_string_equal(withheld_reason(&result, "date_of_birth"),
                        "not_allowed_for_relying_party");
    http_result_clear(&result);
    http_result_clear(&issued);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_assertion_has_no_values),
        cmocka_unit_test(test_embedded_is_default),
        cmocka_unit_test(test_held_values_disclosed),
        cmocka_unit_test(test_held_revoked_rejected),
        cmocka_unit_test(test_claims_in_assertion_type),
        cmocka_unit_test(test_unusable_held_claims_fail_closed),
        cmocka_unit_test(test_disclosure_commits_with_entry),
        cmocka_unit_test(test_repeated_claim_rejected),
    };

    return cmocka_run_group_tests(tests, start_server, stop_server);
}
