/*
 * The policy engine inside the daemon: POST /v1/verifications decided by the shipped
 * rule set (asean-cn-base and residency-sg), signed in this test by regulator keys in
 * the test token with `idsvc-admin policy sign`, and reloaded on SIGHUP. [regulator]
 * sections bind the key "regulator" to the base, "sg-regulator" to SG and
 * "th-regulator" to TH; trust_list contains one more key that no section binds. The node
 * is in SG; relying party bank-one is in SG and the "stranger" certificate is a bank in
 * TH. Issuer my-id plays an identity node in MY and signs with a key of the same token.
 * Issuers my-files (MY) and sg-files (SG) share a key file, for assertions that
 * `xmlsec1 --sign` writes. One daemon serves every test in this file; the reload test
 * runs last.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "config.h"
#include "server_harness.h"

#define TH_ENTITY_ID "https://bank.example.th/sp"
#define MY_ISSUER "https://id.example.my/saml"
#define UNPLACED_ISSUER "https://id.example.org/saml"
#define US_ISSUER "https://id.example.us/saml"
#define FILE_ISSUER "https://files.example.my/saml"
#define SG_FILE_ISSUER "https://files.example.sg/saml"
#define REGULATOR_KEY "pkcs11:token=" TEST_TOKEN_LABEL ";object=regulator;type=private"
#define ROGUE_KEY "pkcs11:token=" TEST_TOKEN_LABEL ";object=rogue-regulator;type=private"
#define SG_KEY "pkcs11:token=" TEST_TOKEN_LABEL ";object=sg-regulator;type=private"
#define TH_KEY "pkcs11:token=" TEST_TOKEN_LABEL ";object=th-regulator;type=private"

/* Values that only withheld claims carry; none may appear in a response. */
#define SECRET_BIRTH_DATE "1990-02-03"
#define SECRET_NATIONAL_ID "S7654321Z"
#define SECRET_EMAIL "mei.tan@example.sg"

static harness server;

static const char POLICY_CONFIG[] =
    "\n[policy]\ntrust_list = unbound.pem\nbundle = base.xml\nbundle = residency-sg.xml\n"
    "\n[regulator asean]\nkey = regulators.pem\nsigns = base\n"
    "\n[regulator pdpc-sg]\nkey = sg.pem\nsigns = SG\n"
    "\n[regulator pdpc-th]\nkey = th.pem\nsigns = TH\n"
    "\n[rp bank-th]\nentity_id = " TH_ENTITY_ID "\njurisdiction = TH\n"
    "allowed_claims = given_name family_name date_of_birth age_over_18 national_id"
    " id_verified\n"
    "subject_cn = " CLIENT_STRANGER "\n"
    "\n[issuer my-id]\nentity_id = " MY_ISSUER
    "\ncertificate = peer.pem\njurisdiction = MY\n"
    "\n[issuer unplaced]\nentity_id = " UNPLACED_ISSUER "\ncertificate = peer.pem\n"
    "\n[issuer us-id]\nentity_id = " US_ISSUER "\ncertificate = peer.pem\njurisdiction = US\n"
    "\n[issuer my-files]\nentity_id = " FILE_ISSUER "\ncertificate = file-issuer.pub\n"
    "jurisdiction = MY\n"
    "\n[issuer sg-files]\nentity_id = " SG_FILE_ISSUER "\ncertificate = file-issuer.pub\n"
    "jurisdiction = SG\n";

static int run(const char *format, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *format, ...)
{
    char command[8192];
    va_list args;
    int status;

    va_start(args, format);
    vsnprintf(command, sizeof(command), format, args);
    va_end(args);
    status = test_run(command);
    if (status != 0)
        fprintf(stderr, "command failed (%d): %s\n", status, command);
    return status;
}

/* Signs source (relative to the folder of the test token) into target with key. */
static int sign_bundle(const char *source, const char *target, const char *key)
{
    const harness *h = &server;

    return run("cd '%s' && '%s' policy sign '%s' --key '%s' --module '%s' --token "
               TEST_TOKEN_LABEL " --pin-file '%s' --output '%s' >/dev/null",
               h->token.dir, getenv("IDSVC_ADMIN"), source, key, h->token.module_path,
               h->token.pin_path, target);
}

/* Generates a P-256 key in the test token and writes its public key to file. */
static int make_key(const harness *h, const char *label, const char *id, const char *file)
{
    return run("GNUTLS_PIN='" TEST_TOKEN_PIN "' p11tool --provider '%s' --login "
               "--generate-privkey=ecdsa --curve=secp256r1 --label %s --id %s "
               "'pkcs11:token=" TEST_TOKEN_LABEL "' --outfile '%s/%s' >/dev/null 2>&1",
               h->token.module_path, label, id, h->token.dir, file);
}

static int make_regulator_keys(const harness *h)
{
    /* An issuer whose key is a file, for assertions that `xmlsec1 --sign` writes. */
    if (run("cd '%s' && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
            "-out file-issuer.key 2>/dev/null && openssl pkey -in file-issuer.key -pubout "
            "-out file-issuer.pub",
            h->token.dir) != 0)
        return -1;
    if (make_key(h, "regulator", "11", "regulators.pem") != 0 ||
        make_key(h, "rogue-regulator", "12", "rogue.pem") != 0 ||
        make_key(h, "peer-issuer", "13", "peer.pem") != 0 ||
        make_key(h, "sg-regulator", "14", "sg.pem") != 0 ||
        make_key(h, "th-regulator", "15", "th.pem") != 0 ||
        make_key(h, "unbound-regulator", "16", "unbound.pem") != 0)
        return -1;
    return 0;
}

/* Lets bank-one ask for the claims the tests use; the harness allows only three. */
static int widen_allowed_claims(const harness *h)
{
    return run("sed -i 's/^allowed_claims = given_name family_name nationality$/"
               "allowed_claims = given_name family_name nationality date_of_birth "
               "age_over_18 national_id phone address residency_country id_verified "
               "kyc_level/' '%s'",
               h->config_path);
}

static int start_server(void **state)
{
    const char *source = getenv("IDSVC_SOURCE_DIR");
    char path[PATH_MAX + 64];

    (void)state;
    if (source == NULL || getenv("IDSVC_ADMIN") == NULL) {
        fprintf(stderr, "IDSVC_SOURCE_DIR and IDSVC_ADMIN must be set\n");
        return -1;
    }
    if (harness_setup(&server) != 0 || make_regulator_keys(&server) != 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/policies/asean-cn-base.xml", source);
    if (sign_bundle(path, "base.xml", REGULATOR_KEY) != 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/policies/residency-sg.xml", source);
    if (sign_bundle(path, "residency-sg.xml", SG_KEY) != 0 ||
        run("cp '%s/policies/asean-cn-base.xml' '%s/base-source.xml'", source,
            server.token.dir) != 0 ||
        run("cp '%s/policies/residency-sg.xml' '%s/residency-sg-source.xml'", source,
            server.token.dir) != 0)
        goto fail;
    if (widen_allowed_claims(&server) != 0 ||
        harness_append_config(&server, POLICY_CONFIG) != 0 || harness_start(&server) != 0)
        goto fail;
    return 0;
fail:
    harness_dump_log(&server);
    harness_teardown(&server);
    return -1;
}

static int stop_server(void **state)
{
    (void)state;
    return harness_finish(&server);
}

/* Issues a credential for audience with claims that the tests withhold, and returns
 * the assertion; the caller frees it. */
static char *issue(const char *audience)
{
    char body[1024];
    char *assertion;

    snprintf(body, sizeof(body),
             "{\"subject\":\"SG-SUBJECT-0042\",\"audience\":\"%s\","
             "\"assurance_level\":\"high\",\"validity_seconds\":3600,"
             "\"attributes\":{\"given_name\":\"Mei\",\"family_name\":\"Tan\","
             "\"date_of_birth\":\"" SECRET_BIRTH_DATE "\",\"email\":\"" SECRET_EMAIL "\","
             "\"residence_country\":\"SG\","
             "\"urn:idsvc:claim:national_id\":\"" SECRET_NATIONAL_ID "\"}}",
             audience);
    assertion = harness_issue(&server, body);
    assert_non_null(assertion);
    return assertion;
}

/* Posts a verification; extra is appended to the JSON object, such as
 * ",\"retention_days\":30". */
static void verify(const char *client, const char *assertion, const char *purpose,
                   const char *claims, const char *extra, http_result *result)
{
    json_t *doc = json_pack("{s:s, s:s, s:o}", "assertion", assertion, "purpose", purpose,
                            "claims", json_loads(claims, 0, NULL));
    char *text = json_dumps(doc, JSON_COMPACT);
    char body[16384];

    assert_non_null(text);
    snprintf(body, sizeof(body), "%.*s%s}", (int)strlen(text) - 1, text, extra);
    assert_int_equal(
        harness_curl(&server, client, "POST", "/v1/verifications", NULL, body, result), 0);
    free(text);
    json_decref(doc);
}

static void expect_status(const http_result *result, long status, const char *code)
{
    if (result->status != status || strcmp(http_result_code(result), code) != 0)
        fprintf(stderr, "expected %ld %s, got %ld %s\n", status, code, result->status,
                result->body != NULL ? result->body : "");
    assert_int_equal(result->status, status);
    assert_string_equal(http_result_code(result), code);
}

/* Posts a verification from CLIENT_RP and asserts that it is rejected with 400 and code.
 * When field is not NULL, the problem must name that request member. */
static void expect_bad_request(const char *assertion, const char *purpose,
                               const char *claims, const char *extra, const char *code,
                               const char *field)
{
    http_result result;

    verify(CLIENT_RP, assertion, purpose, claims, extra, &result);
    expect_status(&result, 400, code);
    if (field != NULL)
        assert_string_equal(http_result_field(&result), field);
    http_result_clear(&result);
}

/* Asserts the outcome member of a verification result. */
static void expect_outcome(const http_result *result, const char *outcome)
{
    assert_string_equal(json_string_value(json_object_get(result->json, "outcome")),
                        outcome);
}

/* Finds the decision about claim in the response's decisions. */
static const json_t *decision_of(const http_result *result, const char *claim)
{
    size_t i;
    const json_t *item;

    json_array_foreach(json_object_get(result->json, "decisions"), i, item)
    {
        if (strcmp(json_string_value(json_object_get(item, "claim")), claim) == 0)
            return item;
    }
    fail_msg("no decision about %s in %s", claim, result->body);
    return NULL;
}

static void expect_decision(const http_result *result, const char *claim,
                            const char *decision, const char *reason, const char *rule)
{
    const json_t *item = decision_of(result, claim);

    assert_string_equal(json_string_value(json_object_get(item, "decision")), decision);
    assert_string_equal(json_string_value(json_object_get(item, "reason")), reason);
    if (rule != NULL) {
        assert_string_equal(json_string_value(json_object_get(item, "rule")), rule);
        assert_non_null(json_string_value(json_object_get(item, "legal_basis")));
    }
    assert_non_null(json_string_value(json_object_get(item, "explanation")));
}

/* No withheld value may appear anywhere in the body, attestation included (the body
 * carries the attestation as a JSON string, which escapes no character of these). */
static void expect_no_secret(const http_result *result)
{
    assert_null(strstr(result->body, SECRET_BIRTH_DATE));
    assert_null(strstr(result->body, SECRET_NATIONAL_ID));
    assert_null(strstr(result->body, SECRET_EMAIL));
    assert_null(strstr(result->headers, SECRET_BIRTH_DATE));
}

static long policy_version(const http_result *result, const char *bundle)
{
    size_t i;
    const json_t *item;

    json_array_foreach(json_object_get(result->json, "policy"), i, item)
    {
        if (strcmp(json_string_value(json_object_get(item, "id")), bundle) == 0) {
            assert_int_equal(strlen(json_string_value(json_object_get(item, "digest"))), 64);
            return (long)json_integer_value(json_object_get(item, "version"));
        }
    }
    fail_msg("bundle %s is not in the decision's policy: %s", bundle, result->body);
    return -1;
}

static void test_age_check_releases_derived(void **state)
{
    char *assertion = issue(RP_ENTITY_ID);
    char path[PATH_MAX + 64];
    char *rules;
    const char *attestation;
    const json_t *claims;
    http_result result;

    (void)state;
    verify(CLIENT_RP, assertion, "age_check",
           "[\"date_of_birth\",\"age_over_18\",\"national_id\"]", ",\"retention_days\":30",
           &result);
    expect_status(&result, 200, "");
    expect_outcome(&result, "partial");
    assert_true(json_is_null(json_object_get(result.json, "consent_required")));
    assert_int_equal(json_integer_value(json_object_get(result.json, "retention_days")), 30);

    expect_decision(&result, "date_of_birth", "derived", "rule",
                    "base.age-check.date-of-birth");
    expect_decision(&result, "age_over_18", "derived", "rule", "base.age-check.derived");
    expect_decision(&result, "national_id", "withheld", "rule",
                    "base.identifier.other-purposes");

    claims = json_object_get(result.json, "claims");
    assert_string_equal(json_string_value(json_object_get(claims, "age_over_18")), "true");
    assert_string_equal(json_string_value(json_object_get(claims, "age_over_21")), "true");
    assert_null(json_object_get(claims, "date_of_birth"));
    assert_null(json_object_get(claims, "national_id"));
    assert_int_equal(policy_version(&result, "asean-cn-base"), 1);
    assert_int_equal(policy_version(&result, "residency-sg"), 1);

    attestation = json_string_value(json_object_get(result.json, "attestation"));
    assert_non_null(attestation);
    assert_non_null(strstr(attestation, "Name=\"urn:idsvc:claim:age_over_18\""));
    assert_non_null(strstr(attestation, "Name=\"urn:idsvc:claim:age_over_21\""));
    assert_null(strstr(attestation, "urn:idsvc:claim:national_id"));
    assert_null(strstr(attestation, "dateOfBirth"));
    expect_no_secret(&result);
    http_result_clear(&result);
    free(assertion);

    /* The subject's disclosure history names the policy rules, not the registry. */
    snprintf(path, sizeof(path), "%s/rules.txt", server.token.dir);
    assert_int_equal(run("sqlite3 -readonly '%s' \"SELECT DISTINCT rule FROM disclosures\" "
                         "> '%s'",
                         server.db_path, path),
                     0);
    rules = test_read_file(path, NULL);
    assert_non_null(rules);
    assert_string_equal(rules, "policy\n");
    free(rules);
}

/* The engine asks for consent, but this node serves no consent pages. */
static void test_consent_without_pages(void **state)
{
    char *assertion = issue(RP_ENTITY_ID);
    http_result result;

    (void)state;
    verify(CLIENT_RP, assertion, "account_opening",
           "[\"given_name\",\"family_name\",\"national_id\"]", ",\"retention_days\":365",
           &result);
    expect_status(&result, 409, "consent_unavailable");
    assert_null(json_object_get(result.json, "claims"));
    assert_null(json_object_get(result.json, "attestation"));
    assert_null(strstr(result.body, "\"Mei\""));
    assert_null(strstr(result.body, "\"Tan\""));
    expect_no_secret(&result);
    http_result_clear(&result);

    /* The assertion was not recorded, so a request that needs no consent can use it. */
    verify(CLIENT_RP, assertion, "age_check", "[\"age_over_18\"]", ",\"retention_days\":30",
           &result);
    expect_status(&result, 200, "");
    http_result_clear(&result);
    free(assertion);
}

static void test_cross_border_needs_mechanism(void **state)
{
    char *assertion = issue(TH_ENTITY_ID);
    http_result result;

    (void)state;
    verify(CLIENT_STRANGER, assertion, "account_opening",
           "[\"given_name\",\"national_id\",\"age_over_18\"]", ",\"retention_days\":365",
           &result);
    expect_status(&result, 200, "");
    expect_decision(&result, "given_name", "withheld", "transfer_mechanism_missing",
                    NULL);
    expect_decision(&result, "national_id", "withheld", "transfer_mechanism_missing",
                    NULL);
    expect_outcome(&result, "deny");
    expect_no_secret(&result);
    http_result_clear(&result);
    free(assertion);
}

static void test_registry_limits_claims(void **state)
{
    char *assertion = issue(RP_ENTITY_ID);
    http_result result;

    (void)state;
    verify(CLIENT_RP, assertion, "age_check", "[\"age_over_18\",\"email\"]",
           ",\"retention_days\":30", &result);
    expect_status(&result, 200, "");
    expect_decision(&result, "email", "withheld", "not_allowed_for_relying_party", NULL);
    expect_decision(&result, "age_over_18", "derived", "rule", "base.age-check.derived");
    expect_outcome(&result, "partial");
    expect_no_secret(&result);
    http_result_clear(&result);
    free(assertion);
}

static void test_bad_request_values(void **state)
{
    char *assertion = issue(RP_ENTITY_ID);
    http_result result;

    (void)state;
    expect_bad_request(assertion, "shopping", "[\"age_over_18\"]", "", "purpose_unknown",
                       "purpose");
    expect_bad_request(assertion, "age_check", "[\"age_over_18\"]",
                       ",\"retention_days\":-1", "retention_invalid", "retention_days");
    expect_bad_request(assertion, "age_check", "[\"age_over_18\"]",
                       ",\"retention_days\":\"30\"", "field_invalid", "retention_days");
    expect_bad_request(assertion, "age_check", "[\"age_over_18\",\"shoe_size\"]", "",
                       "claim_unknown", "claims[1]");

    /* None of the rejections above recorded the assertion. */
    verify(CLIENT_RP, assertion, "age_check", "[\"age_over_18\"]", "", &result);
    expect_status(&result, 200, "");
    http_result_clear(&result);
    free(assertion);
}

/* Counts the entries of the node's audit log. */
static long audit_entry_count(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *query = NULL;
    long count = -1;

    assert_int_equal(sqlite3_open_v2(server.db_path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM audit_entries", -1, &query, NULL) ==
            SQLITE_OK &&
        sqlite3_step(query) == SQLITE_ROW)
        count = (long)sqlite3_column_int64(query, 0);
    sqlite3_finalize(query);
    sqlite3_close(db);
    assert_true(count >= 0);
    return count;
}

/* Returns how many assertions the node has verified, from GET /metrics. */
static long saml_verify_count(void)
{
    static const char sample[] = "idsvc_operation_cpu_seconds_count{operation=\"saml_verify\"} ";
    http_result result;
    const char *at;
    long count;

    assert_int_equal(harness_curl(&server, CLIENT_REGULATOR, "GET", "/metrics", NULL, NULL,
                                  &result),
                     0);
    assert_int_equal(result.status, 200);
    at = strstr(result.body, sample);
    count = at != NULL ? strtol(at + strlen(sample), NULL, 10) : 0;
    http_result_clear(&result);
    return count;
}

/* The purpose and the claim names are checked against the bundles before the
 * assertion, so a request that no assertion could make valid gets 400 even with a used
 * or malformed assertion, verifies nothing and leaves no audit entry. */
static void test_terms_checked_before_assertion(void **state)
{
    char *assertion = issue(RP_ENTITY_ID);
    http_result result;
    long entries;
    long verified;

    (void)state;
    verify(CLIENT_RP, assertion, "age_check", "[\"age_over_18\"]", "", &result);
    expect_status(&result, 200, "");
    http_result_clear(&result);
    entries = audit_entry_count();
    verified = saml_verify_count();

    expect_bad_request(assertion, "shopping", "[\"age_over_18\"]", "", "purpose_unknown",
                       "purpose");
    expect_bad_request(assertion, "age_check", "[\"age_over_18\",\"shoe_size\"]", "",
                       "claim_unknown", "claims[1]");
    expect_bad_request(assertion, "age_check", "[\"age_over_18\",\"age_over_18\"]", "",
                       "field_invalid", "claims[1]");
    expect_bad_request(assertion, "age_check", "[\"age_over_18\\u200b\"]", "",
                       "claim_unknown", "claims[0]");
    expect_bad_request(assertion, "age_check", "[\"urn:oid:2.5.4.42\"]", "",
                       "claim_unknown", "claims[0]");
    expect_bad_request("<x/>", "shopping", "[\"age_over_18\"]", "", "purpose_unknown",
                       NULL);

    assert_int_equal(audit_entry_count(), entries);
    assert_int_equal(saml_verify_count(), verified);

    /* With valid terms the used assertion is verified, rejected and recorded. */
    verify(CLIENT_RP, assertion, "age_check", "[\"age_over_18\"]", "", &result);
    expect_status(&result, 422, "replayed");
    http_result_clear(&result);
    assert_int_equal(audit_entry_count(), entries + 1);
    assert_int_equal(saml_verify_count(), verified + 1);
    free(assertion);
}

/* A derived claim requested by its own name is withheld under the rule that withholds
 * its source claim. Here that rule withholds national_id for an age check at home and
 * for a payment abroad. */
static void test_stand_in_follows_source(void **state)
{
    char *assertion = issue(RP_ENTITY_ID);
    http_result result;

    (void)state;
    verify(CLIENT_RP, assertion, "age_check",
           "[\"id_verified\",\"kyc_level\",\"age_over_18\"]", ",\"retention_days\":30",
           &result);
    expect_status(&result, 200, "");
    expect_outcome(&result, "partial");
    expect_decision(&result, "id_verified", "withheld", "rule",
                    "base.identifier.other-purposes");
    expect_decision(&result, "kyc_level", "withheld", "rule",
                    "base.identifier.other-purposes");
    expect_decision(&result, "age_over_18", "derived", "rule", "base.age-check.derived");
    assert_non_null(
        strstr(json_string_value(
                   json_object_get(decision_of(&result, "id_verified"), "explanation")),
               "withholds national_id, the claim that id_verified is derived from"));
    assert_null(json_object_get(json_object_get(result.json, "claims"), "id_verified"));
    assert_null(json_object_get(json_object_get(result.json, "claims"), "kyc_level"));
    expect_no_secret(&result);
    http_result_clear(&result);
    free(assertion);

    assertion = issue(TH_ENTITY_ID);
    verify(CLIENT_STRANGER, assertion, "payment", "[\"id_verified\"]",
           ",\"retention_days\":30", &result);
    expect_status(&result, 200, "");
    expect_outcome(&result, "deny");
    expect_decision(&result, "id_verified", "withheld", "rule",
                    "base.identifier.other-purposes");
    expect_no_secret(&result);
    http_result_clear(&result);
    free(assertion);
}

/* Signs an assertion for bank-one as another node's issuer, with `idsvc-admin saml
 * sign` and the peer-issuer key; the caller frees it. */
static char *issue_foreign(const char *issuer)
{
    const harness *h = &server;
    char path[PATH_MAX + 32];
    char *xml;

    snprintf(path, sizeof(path), "%.4000s/foreign.json", h->token.dir);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs("{\"subject\":\"MY-SUBJECT-7\",\"assurance\":\"http://eidas.europa.eu/LoA/"
          "substantial\",\"attributes\":{\"given_name\":\"Siti\",\"date_of_birth\":\""
          SECRET_BIRTH_DATE "\"}}",
          file);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(run("cd '%s' && '%s' saml sign --key 'pkcs11:token=" TEST_TOKEN_LABEL
                         ";object=peer-issuer;type=private' --issuer '%s' --audience '"
                         RP_ENTITY_ID "' --claims foreign.json --module '%s' --token "
                         TEST_TOKEN_LABEL " --pin-file '%s' > foreign.xml",
                         h->token.dir, getenv("IDSVC_ADMIN"), issuer, h->token.module_path,
                         h->token.pin_path),
                     0);
    snprintf(path, sizeof(path), "%.4000s/foreign.xml", h->token.dir);
    xml = test_read_file(path, NULL);
    assert_non_null(xml);
    return xml;
}

static void test_foreign_issuer_jurisdiction(void **state)
{
    char *assertion = issue_foreign(MY_ISSUER);
    const json_t *claims;
    http_result result;
    char *log;

    (void)state;
    verify(CLIENT_RP, assertion, "age_check", "[\"age_over_18\",\"date_of_birth\"]",
           ",\"retention_days\":30", &result);
    expect_status(&result, 200, "");
    expect_outcome(&result, "permit");
    expect_decision(&result, "date_of_birth", "derived", "rule",
                    "base.age-check.date-of-birth");
    claims = json_object_get(result.json, "claims");
    assert_string_equal(json_string_value(json_object_get(claims, "age_over_18")), "true");
    expect_no_secret(&result);
    http_result_clear(&result);
    free(assertion);

    /* An issuer whose section names no jurisdiction cannot be decided. */
    assertion = issue_foreign(UNPLACED_ISSUER);
    verify(CLIENT_RP, assertion, "age_check", "[\"age_over_18\"]", "", &result);
    expect_status(&result, 422, "subject_jurisdiction_unknown");
    assert_string_equal(http_result_field(&result), "assertion");
    http_result_clear(&result);
    free(assertion);

    /* Nor can one whose jurisdiction the bundles do not declare: no rule can decide for
     * its subjects, and the node's configuration, not the client, is at fault. */
    assertion = issue_foreign(US_ISSUER);
    verify(CLIENT_RP, assertion, "age_check", "[\"age_over_18\"]", "", &result);
    expect_status(&result, 422, "subject_jurisdiction_unknown");
    assert_string_equal(http_result_field(&result), "assertion");
    http_result_clear(&result);
    free(assertion);

    /* The start logged a warning that names the section, so the operator need not wait for
     * the first rejected verification. */
    log = harness_wait_for_log(&server, "issuer_jurisdiction_undeclared");
    assert_non_null(log);
    assert_non_null(strstr(log, "[issuer us-id] jurisdiction US is not a jurisdiction of "
                                "the bundles"));
    free(log);
}

/* An assertion for bank-one with an empty signature for `xmlsec1 --sign`. The arguments
 * are the ID, the issue instant, the issuer, the ID again, NotOnOrAfter, NotBefore,
 * NotOnOrAfter again, the AuthnInstant and the Attribute elements. */
static const char FILE_ASSERTION[] =
    "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"%s\" "
    "IssueInstant=\"%s\" Version=\"2.0\"><saml:Issuer>%s</saml:Issuer>"
    "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>"
    "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
    "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>"
    "<ds:Reference URI=\"#%s\"><ds:Transforms><ds:Transform "
    "Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/><ds:Transform "
    "Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>"
    "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>"
    "<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>"
    "<saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:"
    "persistent\">MY-000777</saml:NameID><saml:SubjectConfirmation "
    "Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\"><saml:SubjectConfirmationData "
    "NotOnOrAfter=\"%s\"/></saml:SubjectConfirmation></saml:Subject>"
    "<saml:Conditions NotBefore=\"%s\" NotOnOrAfter=\"%s\"><saml:AudienceRestriction>"
    "<saml:Audience>" RP_ENTITY_ID "</saml:Audience></saml:AudienceRestriction>"
    "</saml:Conditions><saml:AuthnStatement AuthnInstant=\"%s\"><saml:AuthnContext>"
    "<saml:AuthnContextClassRef>http://eidas.europa.eu/LoA/substantial"
    "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
    "<saml:AttributeStatement>%s</saml:AttributeStatement></saml:Assertion>\n";

static void format_utc(time_t t, char out[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Signs FILE_ASSERTION of issuer with the file issuers' key; the caller frees the XML. */
static char *sign_file_assertion(const char *issuer, const char *attributes)
{
    const harness *h = &server;
    static unsigned counter;
    char id[64], now[32], before[32], after[32];
    char document[sizeof(FILE_ASSERTION) + 1024];
    char path[PATH_MAX + 32];
    time_t issued = time(NULL);
    FILE *file;
    char *xml;

    snprintf(id, sizeof(id), "_file%08x%08lx", ++counter, (unsigned long)issued);
    format_utc(issued, now);
    format_utc(issued - 60, before);
    format_utc(issued + 300, after);
    snprintf(document, sizeof(document), FILE_ASSERTION, id, now, issuer, id, after,
             before, after, now, attributes);
    snprintf(path, sizeof(path), "%.4000s/file-assertion.xml", h->token.dir);
    file = fopen(path, "w");
    assert_non_null(file);
    fputs(document, file);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(run("cd '%s' && xmlsec1 --sign --id-attr:ID "
                         "urn:oasis:names:tc:SAML:2.0:assertion:Assertion --privkey-pem "
                         "file-issuer.key --output file-assertion.signed.xml "
                         "file-assertion.xml >/dev/null 2>&1",
                         h->token.dir),
                     0);
    snprintf(path, sizeof(path), "%.4000s/file-assertion.signed.xml", h->token.dir);
    xml = test_read_file(path, NULL);
    assert_non_null(xml);
    return xml;
}

/* Signs an assertion of FILE_ISSUER with two date_of_birth Attribute elements. */
static char *sign_two_birth_dates(const char *first, const char *second)
{
    char attributes[512];

    snprintf(attributes, sizeof(attributes),
             "<saml:Attribute Name=\"urn:oid:1.3.6.1.5.5.7.9.1\"><saml:AttributeValue>%s"
             "</saml:AttributeValue></saml:Attribute>"
             "<saml:Attribute Name=\"urn:oid:1.3.6.1.5.5.7.9.1\"><saml:AttributeValue>%s"
             "</saml:AttributeValue></saml:Attribute>",
             first, second);
    return sign_file_assertion(FILE_ISSUER, attributes);
}

/* Two different dates of birth decide nothing, in either order: the age is not derived
 * from whichever Attribute element comes first or last. */
static void test_conflicting_birth_dates(void **state)
{
    const char *const orders[][2] = {{"2015-01-01", "1990-01-01"},
                                     {"1990-01-01", "2015-01-01"}};

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        char *assertion = sign_two_birth_dates(orders[i][0], orders[i][1]);
        http_result result;

        verify(CLIENT_RP, assertion, "age_check", "[\"age_over_18\",\"date_of_birth\"]",
               ",\"retention_days\":30", &result);
        expect_status(&result, 200, "");
        expect_outcome(&result, "deny");
        expect_decision(&result, "age_over_18", "withheld", "source_ambiguous", NULL);
        expect_decision(&result, "date_of_birth", "withheld", "source_ambiguous", NULL);
        assert_int_equal(json_object_size(json_object_get(result.json, "claims")), 0);
        assert_null(strstr(result.body, "2015-01-01"));
        assert_null(strstr(result.body, "1990-01-01"));
        http_result_clear(&result);
        free(assertion);
    }

    /* The same date twice is one value, and decides. */
    char *assertion = sign_two_birth_dates("1990-01-01", "1990-01-01");
    http_result result;

    verify(CLIENT_RP, assertion, "age_check", "[\"age_over_18\"]", "", &result);
    expect_status(&result, 200, "");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(result.json, "claims"),
                                          "age_over_18")),
        "true");
    http_result_clear(&result);
    free(assertion);
}

/* Signs an assertion of SG_FILE_ISSUER, a domestic issuer for bank-one, with an address
 * whose residence country is country. */
static char *sign_residence(const char *country)
{
    char attributes[512];

    snprintf(attributes, sizeof(attributes),
             "<saml:Attribute Name=\"urn:idsvc:claim:residential_address\">"
             "<saml:AttributeValue>1 Example Road</saml:AttributeValue></saml:Attribute>"
             "<saml:Attribute Name=\"urn:oid:1.3.6.1.5.5.7.9.5\"><saml:AttributeValue>%s"
             "</saml:AttributeValue></saml:Attribute>",
             country);
    return sign_file_assertion(SG_FILE_ISSUER, attributes);
}

/* Signs an assertion of SG_FILE_ISSUER with a whole address as urn:idsvc:claim:address
 * and a residence country, in the order that whole_first gives. */
static char *sign_address_twice(bool whole_first)
{
    static const char whole[] =
        "<saml:Attribute Name=\"urn:idsvc:claim:address\">"
        "<saml:AttributeValue>2 Other Street</saml:AttributeValue></saml:Attribute>";
    static const char country[] =
        "<saml:Attribute Name=\"urn:oid:1.3.6.1.5.5.7.9.5\">"
        "<saml:AttributeValue>SG</saml:AttributeValue></saml:Attribute>";
    char attributes[512];

    snprintf(attributes, sizeof(attributes), "%s%s", whole_first ? whole : country,
             whole_first ? country : whole);
    return sign_file_assertion(SG_FILE_ISSUER, attributes);
}

/* An address given whole and by its country member is ambiguous, in either order: the
 * engine reads neither, so the order of the Attribute elements decides nothing. */
static void test_address_whole_and_parts(void **state)
{
    (void)state;
    for (int whole_first = 0; whole_first < 2; whole_first++) {
        char *assertion = sign_address_twice(whole_first != 0);
        http_result result;

        verify(CLIENT_RP, assertion, "account_opening", "[\"residency_country\"]", "",
               &result);
        expect_status(&result, 200, "");
        expect_outcome(&result, "deny");
        expect_decision(&result, "residency_country", "withheld", "source_ambiguous",
                        NULL);
        assert_null(strstr(result.body, "\"SG\""));
        http_result_clear(&result);
        free(assertion);
    }
}

/*
 * A residence country that ISO has not assigned, in a validly signed assertion, yields
 * no residency country: the engine withholds residency_country with derivation_failed
 * before it requests consent. The whole address, whose country the result attestation
 * would carry, is rejected as a value the node cannot sign. An assigned code is derived
 * and then waits for the subject's consent, which this node cannot ask for.
 */
static void test_residence_country_must_be_assigned(void **state)
{
    static const char *const unassigned[] = {"UK", "XX", "EU", "sg"};
    http_result result;
    char *assertion;

    (void)state;
    for (size_t i = 0; i < sizeof(unassigned) / sizeof(unassigned[0]); i++) {
        char quoted[8];

        print_message("    residence country %s\n", unassigned[i]);
        assertion = sign_residence(unassigned[i]);
        verify(CLIENT_RP, assertion, "account_opening", "[\"residency_country\"]", "",
               &result);
        expect_status(&result, 200, "");
        expect_outcome(&result, "deny");
        expect_decision(&result, "residency_country", "withheld", "derivation_failed",
                        NULL);
        assert_int_equal(json_object_size(json_object_get(result.json, "claims")), 0);
        snprintf(quoted, sizeof(quoted), "\"%s\"", unassigned[i]);
        assert_null(strstr(result.body, quoted));
        http_result_clear(&result);
        free(assertion);

        assertion = sign_residence(unassigned[i]);
        verify(CLIENT_RP, assertion, "account_opening", "[\"address\"]",
               ",\"retention_days\":30", &result);
        expect_status(&result, 422, "attribute_value_invalid");
        assert_string_equal(http_result_field(&result), "assertion");
        http_result_clear(&result);
        free(assertion);
    }

    assertion = sign_residence("GB");
    verify(CLIENT_RP, assertion, "account_opening", "[\"residency_country\"]", "",
           &result);
    expect_status(&result, 409, "consent_unavailable");
    http_result_clear(&result);
    free(assertion);
}

/* Sends SIGHUP and waits until the log contains one more line with event. */
static void reload_and_wait(const char *event)
{
    assert_int_equal(harness_reload_and_wait(&server, event), 0);
}

/* Expects a verification to be decided with this version of bundle. */
static void expect_serving_bundle(const char *bundle, long version)
{
    char *assertion = issue(RP_ENTITY_ID);
    http_result result;

    verify(CLIENT_RP, assertion, "age_check", "[\"age_over_18\"]", "", &result);
    expect_status(&result, 200, "");
    assert_int_equal(policy_version(&result, bundle), version);
    http_result_clear(&result);
    free(assertion);
}

static void test_start_warns_about_unbound_key(void **state)
{
    (void)state;
    assert_int_equal(harness_count_log(&server, "\"policy_key_unbound\""), 1);
    assert_int_equal(harness_count_log(&server, "unbound.pem key 1 (SHA-256 "), 1);
    assert_int_equal(harness_count_log(&server, "\"trusted_for\":\"no bundle\""), 1);
    assert_int_equal(harness_count_log(&server, "regulators.pem key 1"), 0);
}

/* A second node whose SG rules are signed by the TH regulator does not start. It has
 * its own database, so the first daemon's lock does not stop it first. */
static void test_start_rejects_other_regulator_key(void **state)
{
    const char *dir = server.token.dir;
    char command[3 * PATH_MAX + 128];
    char path[PATH_MAX + 32];
    char *log;

    (void)state;
    assert_int_equal(
        sign_bundle("residency-sg-source.xml", "residency-sg-by-th.xml", TH_KEY), 0);
    /* Another database and an entity ID of its own: under the running node's ID, the new
     * database would meet that node's audit anchor in the token. */
    assert_int_equal(
        run("sed 's/^bundle = residency-sg.xml$/bundle = residency-sg-by-th.xml/;"
            " s/^path = idsvc.db$/path = rejected.db/;"
            " s|^entity_id = " NODE_ENTITY_ID "$|entity_id = https://rejected.example/idsvc|'"
            " '%s' > '%s/rejected.conf'",
            server.config_path, dir),
        0);
    snprintf(command, sizeof(command),
             "timeout 60 '%s' --config '%s/rejected.conf' > '%s/rejected.log' 2>&1",
             getenv("IDSVC_DAEMON"), dir, dir);
    assert_int_equal(test_run(command), 1);

    snprintf(path, sizeof(path), "%s/rejected.log", dir);
    log = test_read_file(path, NULL);
    assert_non_null(log);
    if (strstr(log, "key_not_authorised") == NULL)
        fprintf(stderr, "the rejected node logged:\n%s\n", log);
    assert_non_null(strstr(log, "\"start_failed\""));
    assert_non_null(strstr(log, "(key_not_authorised)"));
    assert_non_null(
        strstr(log, "residency bundle residency-sg version 1 for jurisdiction SG"));
    assert_non_null(strstr(log,
                           "regulator pdpc-th, which may sign only residency bundles "
                           "of TH"));
    assert_null(strstr(log, "\"started\""));
    free(log);
}

/* With bundles, allowed_claims names claims of the bundles' catalogue: a misspelt name
 * fails --check, as it fails the start. */
static void test_check_rejects_unknown_claim(void **state)
{
    const char *dir = server.token.dir;
    char command[3 * PATH_MAX + 128];
    char path[PATH_MAX + 32];
    char *log;

    (void)state;
    assert_int_equal(run("sed 's/ id_verified$/ id_verifed/' '%s' > '%s/misspelt.conf'",
                         server.config_path, dir),
                     0);
    snprintf(command, sizeof(command),
             "timeout 60 '%s' --config '%s/misspelt.conf' --check > '%s/misspelt.log' 2>&1",
             getenv("IDSVC_DAEMON"), dir, dir);
    assert_int_equal(test_run(command), 1);

    snprintf(path, sizeof(path), "%s/misspelt.log", dir);
    log = test_read_file(path, NULL);
    assert_non_null(log);
    if (strstr(log, "id_verifed") == NULL)
        fprintf(stderr, "--check logged:\n%s\n", log);
    assert_non_null(strstr(log, "\"check_failed\""));
    assert_non_null(strstr(log, "[rp bank-th] allowed_claims: \\\"id_verifed\\\" is not a "
                                "claim of the bundles' claims catalogue (unknown_claim)"));
    free(log);
}

/* Bundles signed by a key bound to another scope are rejected on reload, and the node
 * keeps serving the set it had. */
static void test_reload_rejects_other_regulator_key(void **state)
{
    const char *dir = server.token.dir;
    int rejected = harness_count_log(&server, "\"key_not_authorised\"");

    (void)state;
    expect_serving_bundle("residency-sg", 1);

    /* Version 2 of the SG rules, signed by the TH regulator. */
    assert_int_equal(run("sed 's/version=\"1\"/version=\"2\"/' "
                         "'%s/residency-sg-source.xml' > '%s/residency-sg-v2.xml'",
                         dir, dir),
                     0);
    assert_int_equal(sign_bundle("residency-sg-v2.xml", "residency-sg.xml", TH_KEY), 0);
    reload_and_wait("\"policy_reload_failed\"");
    assert_int_equal(harness_count_log(&server, "\"key_not_authorised\""), rejected + 1);
    assert_int_equal(harness_count_log(
                         &server,
                         "residency bundle residency-sg version 2 for jurisdiction SG is "
                         "signed by a key of regulator pdpc-th, which may sign only "
                         "residency bundles of TH"),
                     1);
    expect_serving_bundle("residency-sg", 1);

    /* The base, signed by the SG regulator, which may sign no base bundle. */
    assert_int_equal(sign_bundle("residency-sg-source.xml", "residency-sg.xml", SG_KEY),
                     0);
    assert_int_equal(sign_bundle("base-source.xml", "base.xml", SG_KEY), 0);
    reload_and_wait("\"policy_reload_failed\"");
    assert_int_equal(harness_count_log(&server, "\"key_not_authorised\""), rejected + 2);
    assert_int_equal(
        harness_count_log(&server,
                          "base bundle asean-cn-base version 1 is signed by a key "
                          "of regulator pdpc-sg, which may sign only residency "
                          "bundles of SG"),
        1);
    expect_serving_bundle("asean-cn-base", 1);

    /* Signed as configured again, the same set reloads. */
    assert_int_equal(sign_bundle("base-source.xml", "base.xml", REGULATOR_KEY), 0);
    reload_and_wait("\"policy_reloaded\"");
    expect_serving_bundle("residency-sg", 1);
}

static void test_reload_keeps_set_on_bad_bundle(void **state)
{
    const char *dir = server.token.dir;

    (void)state;
    expect_serving_bundle("asean-cn-base", 1);

    /* Signed by a key that is not in the trust list. */
    assert_int_equal(sign_bundle("base-source.xml", "base.xml", ROGUE_KEY), 0);
    reload_and_wait("\"policy_reload_failed\"");
    assert_int_equal(harness_count_log(&server, "\"key_untrusted\""), 1);
    expect_serving_bundle("asean-cn-base", 1);

    /* Signed by the regulator, but not in effect until 2030. */
    assert_int_equal(run("sed 's/version=\"1\"/version=\"2\"/; "
                         "s/effectiveFrom=\"[^\"]*\"/effectiveFrom=\"2030-01-01T00:00:00Z\"/; "
                         "s/effectiveUntil=\"[^\"]*\"/effectiveUntil=\"2032-01-01T00:00:00Z\"/' "
                         "'%s/base-source.xml' > '%s/base-future.xml'",
                         dir, dir),
                     0);
    assert_int_equal(sign_bundle("base-future.xml", "base.xml", REGULATOR_KEY), 0);
    reload_and_wait("\"policy_reload_failed\"");
    assert_int_equal(harness_count_log(&server, "\"bundle_not_yet_effective\""), 1);
    expect_serving_bundle("asean-cn-base", 1);

    /* A valid version 2 replaces version 1 while the node keeps serving. */
    assert_int_equal(run("sed 's/version=\"1\"/version=\"2\"/' '%s/base-source.xml' > "
                         "'%s/base-v2.xml'",
                         dir, dir),
                     0);
    assert_int_equal(sign_bundle("base-v2.xml", "base.xml", REGULATOR_KEY), 0);
    reload_and_wait("\"policy_reloaded\"");
    expect_serving_bundle("asean-cn-base", 2);
}

/* Loads the daemon's configuration with extra appended to a copy of it, and returns
 * config_load's status with its message in error. */
static int load_config_with(const char *extra, char *error, size_t size)
{
    char *text = test_read_file(server.config_path, NULL);
    char path[PATH_MAX + 32];
    config *cfg = NULL;
    FILE *file;
    int rc;

    assert_non_null(text);
    snprintf(path, sizeof(path), "%s/check.conf", server.token.dir);
    file = fopen(path, "w");
    assert_non_null(file);
    fprintf(file, "%s%s", text, extra);
    assert_int_equal(fclose(file), 0);
    free(text);
    rc = config_load(path, &cfg, error, size);
    config_free(&cfg);
    return rc;
}

static void test_config_policy_keys(void **state)
{
    char error[512] = "";

    (void)state;
    assert_int_equal(load_config_with("", error, sizeof(error)), 0);

    assert_int_equal(load_config_with("\n[rp bank-xx]\ntransfer_mechanisms = asean-mcc "
                                      "telepathy\n",
                                      error, sizeof(error)),
                     -1);
    assert_non_null(strstr(error, "\"telepathy\" is not adequacy"));

    assert_int_equal(load_config_with("\n[policy]\nbundle_path = x.xml\n", error,
                                      sizeof(error)),
                     -1);
    assert_non_null(strstr(error, "[policy]: unknown key \"bundle_path\""));
}

static void test_config_regulator_sections(void **state)
{
    char error[512] = "";

    (void)state;
    assert_int_equal(load_config_with("\n[regulator pdpc-my]\nkey = sg.pem\n"
                                      "signs = base, MY\n",
                                      error, sizeof(error)),
                     0);

    assert_int_equal(load_config_with("\n[regulator x]\nkey = sg.pem\nsigns = base sg\n",
                                      error, sizeof(error)),
                     -1);
    assert_non_null(strstr(error,
                           "[regulator x] signs: \"sg\" is neither base nor an ISO "
                           "3166-1 alpha-2 code"));

    assert_int_equal(
        load_config_with("\n[regulator x]\nsigns = SG\n", error, sizeof(error)), -1);
    assert_non_null(strstr(error, "[regulator x] needs at least one key"));

    assert_int_equal(
        load_config_with("\n[regulator x]\nkey = sg.pem\n", error, sizeof(error)), -1);
    assert_non_null(strstr(error, "[regulator x] signs is missing"));

    assert_int_equal(load_config_with("\n[regulator x]\nkey = sg.pem\nsigns = SG\n"
                                      "signs = TH\n",
                                      error, sizeof(error)),
                     -1);
    assert_non_null(strstr(error, "[regulator x] signs is given twice"));

    assert_int_equal(load_config_with("\n[regulator x]\nkey = sg.pem\nfiles = SG\n",
                                      error, sizeof(error)),
                     -1);
    assert_non_null(strstr(error, "[regulator x]: unknown key \"files\""));
}

/* Expects a verification to fail with 503 policy_unavailable and this Retry-After. */
static void expect_policy_unavailable(const char *retry_after)
{
    char *assertion = issue(RP_ENTITY_ID);
    http_result result;

    verify(CLIENT_RP, assertion, "age_check", "[\"age_over_18\"]", "", &result);
    expect_status(&result, 503, "policy_unavailable");
    if (strstr(result.headers, retry_after) == NULL)
        fprintf(stderr, "expected %s in the headers:\n%s\n", retry_after, result.headers);
    assert_non_null(strstr(result.headers, retry_after));
    http_result_clear(&result);
    free(assertion);
}

/* [hsm] retry_after is read only at start, so the Retry-After of policy_unavailable
 * keeps the started value after a reload of a file that changes it. The base bundle
 * expires a few seconds after it is loaded, so that no bundle covers the decision time. */
static void test_policy_gap_keeps_retry_after(void **state)
{
    const char *dir = server.token.dir;
    char until[32];

    (void)state;
    format_utc(time(NULL) + 4, until);
    assert_int_equal(run("sed 's/version=\"1\"/version=\"3\"/; "
                         "s/effectiveUntil=\"[^\"]*\"/effectiveUntil=\"%s\"/' "
                         "'%s/base-source.xml' > '%s/base-short.xml'",
                         until, dir, dir),
                     0);
    assert_int_equal(sign_bundle("base-short.xml", "base.xml", REGULATOR_KEY), 0);
    reload_and_wait("\"policy_reloaded\"");
    sleep(5);
    expect_policy_unavailable("Retry-After: 7\r\n");

    assert_int_equal(run("sed -i 's/^retry_after = 7$/retry_after = 9/' '%s'",
                         server.config_path),
                     0);
    reload_and_wait("\"restart_required\"");
    expect_policy_unavailable("Retry-After: 7\r\n");

    /* A current bundle and the started retry_after again. */
    assert_int_equal(run("sed -i 's/^retry_after = 9$/retry_after = 7/' '%s'",
                         server.config_path),
                     0);
    assert_int_equal(run("sed 's/version=\"1\"/version=\"4\"/' '%s/base-source.xml' > "
                         "'%s/base-v4.xml'",
                         dir, dir),
                     0);
    assert_int_equal(sign_bundle("base-v4.xml", "base.xml", REGULATOR_KEY), 0);
    reload_and_wait("\"policy_reloaded\"");
    expect_serving_bundle("asean-cn-base", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_age_check_releases_derived),
        cmocka_unit_test(test_consent_without_pages),
        cmocka_unit_test(test_cross_border_needs_mechanism),
        cmocka_unit_test(test_registry_limits_claims),
        cmocka_unit_test(test_stand_in_follows_source),
        cmocka_unit_test(test_bad_request_values),
        cmocka_unit_test(test_terms_checked_before_assertion),
        cmocka_unit_test(test_foreign_issuer_jurisdiction),
        cmocka_unit_test(test_conflicting_birth_dates),
        cmocka_unit_test(test_residence_country_must_be_assigned),
        cmocka_unit_test(test_address_whole_and_parts),
        cmocka_unit_test(test_config_policy_keys),
        cmocka_unit_test(test_config_regulator_sections),
        cmocka_unit_test(test_start_warns_about_unbound_key),
        cmocka_unit_test(test_start_rejects_other_regulator_key),
        cmocka_unit_test(test_check_rejects_unknown_claim),
        cmocka_unit_test(test_reload_rejects_other_regulator_key),
        cmocka_unit_test(test_reload_keeps_set_on_bad_bundle),
        cmocka_unit_test(test_policy_gap_keeps_retry_after),
    };

    return cmocka_run_group_tests(tests, start_server, stop_server);
}
