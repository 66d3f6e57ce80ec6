/*
 * Consent that the policy engine asks for, end to end against the real daemon: a
 * SoftHSM2 token, signed policy bundles, mutual TLS on loopback and the software
 * authenticator of tests/webauthn.
 *
 * The node is in CN and loads the shipped asean-cn-base and residency-cn bundles, signed
 * in the test by a regulator key of the token. Relying party bank-one is in SG with a
 * standard contract on record, so every disclosure to it crosses a border and
 * residency-cn asks for the subject's separate consent. An age check of given_name,
 * date_of_birth, national_id and email then releases, after approval, the given name in
 * full and only the age thresholds derived from the date of birth; national_id is
 * withheld by rule and email is not in the relying party's allowed_claims.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "openapi_check.h"
#include "page_client.h"
#include "server_harness.h"
#include "soft_authenticator.h"
#include "test_token.h"
#include "webauthn.h"

#define ORIGIN_HEADER "Origin: " SOFT_ORIGIN
#define REGULATOR_KEY "pkcs11:token=" TEST_TOKEN_LABEL ";object=regulator;type=private"

/* Values that no response, attestation, audit entry or log line may contain: the
 * date of birth leaves only as age thresholds, the others not at all. */
#define SECRET_BIRTH_DATE "1990-02-03"
#define SECRET_NATIONAL_ID "110101199002031234"
#define SECRET_EMAIL "li.wei@example.cn"
#define GIVEN_NAME "Wei"

static const char node_config[] =
    "\n[webauthn]\nrp_id = " SOFT_RP_ID "\norigin = " SOFT_ORIGIN "\n"
    "attestation = self\n"
    "[pages]\nconsent_timeout = 600\n"
    "[policy]\ntrust_list = regulators.pem\nbundle = base.xml\nbundle = residency-cn.xml\n"
    "[rp " CLIENT_RP "]\nname = Bank One\ntransfer_mechanisms = standard-contract\n"
    "consent = always\n";

static const char verification_claims[] =
    "[\"given_name\",\"date_of_birth\",\"national_id\",\"email\"]";

typedef struct subject {
    bool values_held; /* issued with claims_in_assertion false */
    char cookie[256];
    char assertion_xml[16384];
    soft_authenticator auth;
    uint32_t counter;
} subject;

static harness server;

/* Every response body of the test, so the last test can search them all. */
static char *responses;
static size_t responses_len;

/* ---- Helpers ---------------------------------------------------------------------- */

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

static void keep_response(const http_result *r)
{
    size_t len = r->body != NULL ? strlen(r->body) : 0;
    char *grown = realloc(responses, responses_len + len + 2);

    assert_non_null(grown);
    responses = grown;
    memcpy(responses + responses_len, r->body != NULL ? r->body : "", len);
    responses_len += len;
    responses[responses_len++] = '\n';
    responses[responses_len] = '\0';
}

static void call(const char *client, const char *method, const char *path,
                 const char *body, http_result *r)
{
    assert_int_equal(harness_curl(&server, client, method, path, NULL, body, r), 0);
    keep_response(r);
}

static void page_post(const subject *s, const char *path, const char *body,
                      http_result *r)
{
    char cookie[320];
    const char *headers[] = {"Content-Type: application/json", ORIGIN_HEADER, cookie, NULL};

    snprintf(cookie, sizeof(cookie), "Cookie: %s", s != NULL ? s->cookie : "");
    assert_int_equal(harness_curl_headers(&server, NULL, "POST", path, headers,
                                          body != NULL ? body : "{}", r),
                     0);
    keep_response(r);
}

static void expect_status(const http_result *r, long status)
{
    if (r->status != status)
        fprintf(stderr, "expected HTTP %ld, got %ld: %s\n", status, r->status,
                r->body != NULL ? r->body : "");
    assert_int_equal(r->status, status);
}

static const char *text_of(const json_t *doc, const char *name)
{
    return json_string_value(json_object_get(doc, name));
}

/* ---- Subjects and ceremonies ------------------------------------------------------ */

/* Issues a credential for subject name, with its claim values in the assertion unless
 * s->values_held; fills the assertion and, when code is not NULL, the enrollment code. */
static void issue(subject *s, const char *name, char *code, size_t code_size)
{
    char body[1024];
    http_result r;

    snprintf(body, sizeof(body),
             "{\"subject\":\"%s\",\"audience\":\"" RP_ENTITY_ID "\","
             "\"assurance_level\":\"high\",\"validity_seconds\":3600,"
             "\"claims_in_assertion\":%s,"
             "\"attributes\":{\"given_name\":\"" GIVEN_NAME "\",\"family_name\":\"Li\","
             "\"date_of_birth\":\"" SECRET_BIRTH_DATE "\",\"email\":\"" SECRET_EMAIL "\","
             "\"urn:idsvc:claim:national_id\":\"" SECRET_NATIONAL_ID "\"}}",
             name, s->values_held ? "false" : "true");
    assert_int_equal(harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                                  body, &r),
                     0);
    expect_status(&r, 201);
    snprintf(s->assertion_xml, sizeof(s->assertion_xml), "%s", text_of(r.json, "assertion"));
    if (code != NULL)
        snprintf(code, code_size, "%s", text_of(r.json, "enrollment_code"));
    http_result_clear(&r);
}

/* Issues a credential, redeems its enrollment code and registers a software key. */
static void make_subject(subject *s, const char *name, bool values_held,
                         unsigned char id_byte)
{
    char code[64];
    char body[128];
    const char *cookie;
    soft_ceremony c;
    http_result r;

    memset(s, 0, sizeof(*s));
    s->values_held = values_held;
    issue(s, name, code, sizeof(code));
    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
    page_post(NULL, "/enroll/code", body, &r);
    expect_status(&r, 200);
    cookie = strstr(r.headers, "__Host-idsvc_session=");
    assert_non_null(cookie);
    snprintf(s->cookie, sizeof(s->cookie), "%.*s", (int)strcspn(cookie, ";\r\n"), cookie);
    http_result_clear(&r);

    assert_int_equal(soft_authenticator_init(&s->auth, -7), 0);
    s->auth.credential_id[0] = id_byte;
    soft_ceremony_defaults(&c);
    page_post(s, "/account/registration/options", NULL, &r);
    expect_status(&r, 200);
    page_decode_challenge(&r, c.challenge);
    http_result_clear(&r);
    char *registration = page_wrap_response(soft_register(&s->auth, &c, NULL, 0));
    page_post(s, "/account/registration", registration, &r);
    free(registration);
    expect_status(&r, 201);
    http_result_clear(&r);
}

/* Fails when a reply is not one that schemas/openapi.json lists, such as one with a
 * member of the engine's decision that the response's schema does not declare. */
static void expect_documented(const char *method, const char *pattern, const http_result *r)
{
    json_t *doc = openapi_load();

    assert_non_null(doc);
    assert_int_equal(openapi_check_reply(doc, method, pattern, r), 0);
    json_decref(doc);
}

/* Asks for the age check of the subject's credential; expects 202 and fills the ids. */
static void start_verification(const subject *s, char *verification_id, char *consent_id,
                               json_t **answer)
{
    json_t *request = json_pack("{s:s, s:s, s:o, s:i}", "assertion", s->assertion_xml,
                                "purpose", "age_check", "claims",
                                json_loads(verification_claims, 0, NULL), "retention_days",
                                30);
    char *body = json_dumps(request, JSON_COMPACT);
    http_result r;

    call(CLIENT_RP, "POST", "/v1/verifications", body, &r);
    expect_status(&r, 202);
    expect_documented("POST", "/v1/verifications", &r);
    assert_string_equal(text_of(r.json, "status"), "consent_pending");
    snprintf(verification_id, 64, "%s", text_of(r.json, "verification_id"));
    snprintf(consent_id, 64, "%s", text_of(r.json, "consent_id"));
    assert_non_null(strstr(text_of(r.json, "consent_url"), SOFT_ORIGIN "/consent/"));
    *answer = json_incref(r.json);
    http_result_clear(&r);
    free(body);
    json_decref(request);
}

static void approve(subject *s, const char *consent_id)
{
    char path[128];
    soft_ceremony c;
    http_result r;

    soft_ceremony_defaults(&c);
    snprintf(path, sizeof(path), "/consent/%s/options", consent_id);
    page_post(s, path, NULL, &r);
    expect_status(&r, 200);
    expect_documented("POST", "/consent/{id}/options", &r);
    assert_string_equal(text_of(r.json, "userVerification"), "required");
    page_decode_challenge(&r, c.challenge);
    c.sign_count = ++s->counter;
    http_result_clear(&r);

    char *body = page_wrap_response(soft_authenticate(&s->auth, &c));
    snprintf(path, sizeof(path), "/consent/%s/approval", consent_id);
    page_post(s, path, body, &r);
    free(body);
    expect_status(&r, 200);
    expect_documented("POST", "/consent/{id}/approval", &r);
    assert_string_equal(text_of(r.json, "state"), "approved");
    http_result_clear(&r);
}

/* Fetches the relying party's result and checks it against schemas/openapi.json. */
static void fetch_result(const char *verification_id, http_result *r)
{
    char path[128];

    snprintf(path, sizeof(path), "/v1/verifications/%s", verification_id);
    call(CLIENT_RP, "GET", path, NULL, r);
    expect_documented("GET", "/v1/verifications/{id}", r);
}

/* Finds the item about claim (and, when derived is not NULL, that derived claim) in a
 * list of {claim, ...} objects. */
static const json_t *find_claim(const json_t *list, const char *claim, const char *derived)
{
    const json_t *item;
    size_t index;

    json_array_foreach(list, index, item) {
        if (strcmp(text_of(item, "claim"), claim) != 0)
            continue;
        if (derived == NULL || (text_of(item, "derived") != NULL &&
                                strcmp(text_of(item, "derived"), derived) == 0))
            return item;
    }
    fail_msg("no item about %s in %s", claim, json_dumps(list, JSON_COMPACT));
    return NULL;
}

static void expect_claim(const json_t *list, const char *claim, const char *decision,
                         const char *reason, const char *rule)
{
    const json_t *item = find_claim(list, claim, NULL);

    assert_string_equal(text_of(item, "decision"), decision);
    assert_string_equal(text_of(item, "reason"), reason);
    if (rule != NULL)
        assert_string_equal(text_of(item, "rule"), rule);
}

/* Returns the digest of bundle in a [{id, version, digest}] list. */
static const char *bundle_digest(const json_t *policy, const char *bundle)
{
    const json_t *item;
    size_t index;

    json_array_foreach(policy, index, item) {
        if (strcmp(text_of(item, "id"), bundle) == 0) {
            assert_int_equal(strlen(text_of(item, "digest")), 64);
            assert_int_equal(json_integer_value(json_object_get(item, "version")), 1);
            return text_of(item, "digest");
        }
    }
    fail_msg("bundle %s is not in %s", bundle, json_dumps(policy, JSON_COMPACT));
    return NULL;
}

/* Returns the HTML of the <dd> that follows the <dt> with text label; the caller frees
 * it. */
static char *definition(const char *page, const char *label)
{
    char dt[160];
    const char *start;
    const char *end;

    snprintf(dt, sizeof(dt), "<dt>%s</dt><dd>", label);
    start = strstr(page, dt);
    if (start == NULL)
        fail_msg("no <dt>%s</dt> in the page", label);
    start += strlen(dt);
    end = strstr(start, "</dd>");
    assert_non_null(end);
    return strndup(start, (size_t)(end - start));
}

/* ---- Audit log -------------------------------------------------------------------- */

static json_t *read_audit_entries(void)
{
    json_t *entries = json_array();
    char path[160] = "/v1/audit/entries?from=0";

    for (;;) {
        http_result r;
        const json_t *item;
        size_t i;

        assert_int_equal(harness_curl(&server, CLIENT_REGULATOR, "GET", path, NULL, NULL,
                                      &r),
                         0);
        expect_status(&r, 200);
        json_array_foreach(json_object_get(r.json, "entries"), i, item) {
            json_t *entry = json_loads(text_of(item, "entry"), 0, NULL);

            /* The entry names its payload by digest; find_entry reads it as a member. */
            json_object_set_new(entry, "payload", json_loads(text_of(item, "payload"), 0, NULL));
            json_array_append_new(entries, entry);
        }
        if (json_object_get(r.json, "next") == NULL) {
            http_result_clear(&r);
            return entries;
        }
        snprintf(path, sizeof(path), "%s", text_of(r.json, "next"));
        http_result_clear(&r);
    }
}

/* Returns the payload of the entry of kind whose payload has member = value and, when
 * decision is not NULL, that decision. */
static const json_t *find_entry(const json_t *entries, const char *kind, const char *member,
                                const char *value, const char *decision)
{
    const json_t *entry;
    size_t index;

    json_array_foreach(entries, index, entry) {
        const json_t *payload = json_object_get(entry, "payload");
        const char *found = text_of(payload, member);

        if (strcmp(text_of(entry, "kind"), kind) != 0 || found == NULL ||
            strcmp(found, value) != 0)
            continue;
        if (decision == NULL || strcmp(text_of(payload, "decision"), decision) == 0)
            return payload;
    }
    fail_msg("no %s entry with %s = %s", kind, member, value);
    return NULL;
}

static size_t count_kind(const json_t *entries, const char *kind)
{
    const json_t *entry;
    size_t index;
    size_t count = 0;

    json_array_foreach(entries, index, entry)
        count += strcmp(text_of(entry, "kind"), kind) == 0;
    return count;
}

/* ---- Fixture ---------------------------------------------------------------------- */

static int make_bundles(const harness *h)
{
    const char *source = getenv("IDSVC_SOURCE_DIR");
    const char *admin = getenv("IDSVC_ADMIN");
    static const char *const bundles[][2] = {{"asean-cn-base", "base.xml"},
                                             {"residency-cn", "residency-cn.xml"}};

    if (source == NULL || admin == NULL) {
        fprintf(stderr, "IDSVC_SOURCE_DIR and IDSVC_ADMIN must be set\n");
        return -1;
    }
    if (run("GNUTLS_PIN='" TEST_TOKEN_PIN "' p11tool --provider '%s' --login "
            "--generate-privkey=ecdsa --curve=secp256r1 --label regulator --id 11 "
            "'pkcs11:token=" TEST_TOKEN_LABEL "' --outfile '%s/regulators.pem' "
            ">/dev/null 2>&1",
            h->token.module_path, h->token.dir) != 0)
        return -1;
    for (size_t i = 0; i < 2; i++)
        if (run("cd '%s' && '%s' policy sign '%s/policies/%s.xml' --key '" REGULATOR_KEY
                "' --module '%s' --token " TEST_TOKEN_LABEL " --pin-file '%s' --output '%s'"
                " >/dev/null",
                h->token.dir, admin, source, bundles[i][0], h->token.module_path,
                h->token.pin_path, bundles[i][1]) != 0)
            return -1;
    return 0;
}

/* Moves the node to CN and lets bank-one ask for the claims of the test. */
static int adjust_config(const harness *h)
{
    return run("sed -i '0,/^jurisdiction = SG$/s//jurisdiction = CN/; "
               "s/^allowed_claims = given_name family_name nationality$/allowed_claims = "
               "given_name family_name nationality date_of_birth national_id/' '%s'",
               h->config_path);
}

static int setup(void **state)
{
    (void)state;
    if (harness_setup(&server) != 0 || make_bundles(&server) != 0 ||
        adjust_config(&server) != 0 || harness_append_config(&server, node_config) != 0 ||
        harness_start(&server) != 0) {
        harness_dump_log(&server);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_teardown(&server);
    free(responses);
    return 0;
}

/* ---- Tests ------------------------------------------------------------------------ */

/* The 202 response names the engine's decision, with nothing released yet. */
static void expect_pending_answer(const json_t *answer)
{
    const json_t *decisions = json_object_get(answer, "decisions");

    assert_string_equal(text_of(answer, "outcome"), "consent_required");
    assert_string_equal(text_of(answer, "consent_required"), "separate-cross-border");
    assert_null(json_object_get(answer, "claims"));
    assert_null(json_object_get(answer, "attestation"));
    expect_claim(decisions, "given_name", "withheld", "consent_required",
                 "cn.export.general");
    expect_claim(decisions, "date_of_birth", "withheld", "consent_required",
                 "cn.export.general");
    expect_claim(decisions, "national_id", "withheld", "rule",
                 "base.identifier.other-purposes");
    expect_claim(decisions, "email", "withheld", "not_allowed_for_relying_party", NULL);
    bundle_digest(json_object_get(answer, "policy"), "asean-cn-base");
    bundle_digest(json_object_get(answer, "policy"), "residency-cn");
}

/* The consent page lists the given name in full, the age thresholds as derived values
 * and the other two claims as not shared, and says that this is separate consent to a
 * transfer abroad. */
static void expect_consent_page(const char *consent_id)
{
    char path[128];
    char *full;
    char *derived;
    char *withheld;
    http_result r;

    snprintf(path, sizeof(path), "/consent/%s", consent_id);
    call(NULL, "GET", path, NULL, &r);
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "Bank One"));
    assert_non_null(strstr(r.body, "id=\"cross-border\""));

    full = definition(r.body, "Data shared in full");
    derived = definition(r.body, "Data shared only as a derived value");
    withheld = definition(r.body, "Data not shared");
    assert_non_null(strstr(full, "<li><bdi>Given name</bdi></li>"));
    assert_null(strstr(full, "Date of birth"));
    assert_non_null(strstr(derived, "<li><bdi>Whether you are 18 or older</bdi></li>"));
    assert_non_null(strstr(derived, "<li><bdi>Whether you are 21 or older</bdi></li>"));
    assert_null(strstr(derived, "Given name"));
    assert_non_null(strstr(withheld, "<li><bdi>National identity number</bdi></li>"));
    assert_non_null(strstr(withheld, "<li><bdi>Email address</bdi></li>"));
    assert_null(strstr(withheld, "Given name"));
    assert_null(strstr(r.body, GIVEN_NAME "<"));
    free(full);
    free(derived);
    free(withheld);
    http_result_clear(&r);
}

/* Verifies the attestation's signature with the node's SAML key, exported from the
 * token, and returns what idsvc-admin saml verify prints; the caller frees it. */
static char *verify_attestation(const char *attestation)
{
    char path[PATH_MAX + 64];
    char *claims;
    FILE *file;

    snprintf(path, sizeof(path), "%s/attestation.xml", server.token.dir);
    file = fopen(path, "w");
    assert_non_null(file);
    fputs(attestation, file);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(run("GNUTLS_PIN='" TEST_TOKEN_PIN "' p11tool --provider '%s' --login "
                         "--export-pubkey 'pkcs11:token=" TEST_TOKEN_LABEL
                         ";object=idsvc-saml' --outfile '%s/node-saml.pem' >/dev/null 2>&1",
                         server.token.module_path, server.token.dir),
                     0);
    assert_int_equal(run("cd '%s' && '%s' saml verify --trust node-saml.pem --audience '"
                         RP_ENTITY_ID "' attestation.xml > attested.json",
                         server.token.dir, getenv("IDSVC_ADMIN")),
                     0);
    snprintf(path, sizeof(path), "%s/attested.json", server.token.dir);
    claims = test_read_file(path, NULL);
    assert_non_null(claims);
    return claims;
}

static void expect_released(const http_result *r, const char *consent_id,
                            const json_t *pending)
{
    const json_t *claims = json_object_get(r->json, "claims");
    const char *attestation = text_of(r->json, "attestation");
    char *attested;

    assert_string_equal(text_of(r->json, "decision"), "accepted");
    assert_string_equal(text_of(json_object_get(r->json, "consent"), "id"), consent_id);
    assert_string_equal(text_of(json_object_get(r->json, "consent"), "state"), "approved");

    /* Exactly the given name and the two derived thresholds. */
    assert_int_equal(json_object_size(claims), 3);
    assert_string_equal(text_of(claims, "given_name"), GIVEN_NAME);
    assert_string_equal(text_of(claims, "age_over_18"), "true");
    assert_string_equal(text_of(claims, "age_over_21"), "true");
    assert_string_equal(text_of(find_claim(json_object_get(r->json, "withheld"),
                                           "national_id", NULL),
                                "reason"),
                        "rule");
    assert_string_equal(text_of(find_claim(json_object_get(r->json, "withheld"), "email",
                                           NULL),
                                "reason"),
                        "not_allowed_for_relying_party");
    expect_claim(json_object_get(r->json, "decisions"), "date_of_birth", "derived", "rule",
                 "base.age-check.date-of-birth");
    expect_claim(json_object_get(r->json, "decisions"), "given_name", "disclosed", "rule",
                 NULL);
    assert_string_equal(text_of(r->json, "outcome"), "partial");
    assert_string_equal(bundle_digest(json_object_get(r->json, "policy"), "residency-cn"),
                        bundle_digest(json_object_get(pending, "policy"), "residency-cn"));

    /* A freshly signed attestation for the relying party with only those claims. */
    assert_non_null(attestation);
    attested = verify_attestation(attestation);
    assert_non_null(strstr(attested, GIVEN_NAME));
    assert_non_null(strstr(attested, "urn:idsvc:claim:age_over_18"));
    assert_non_null(strstr(attested, "urn:idsvc:claim:age_over_21"));
    assert_null(strstr(attested, "national_id"));
    assert_null(strstr(attestation, "dateOfBirth"));
    assert_null(strstr(attestation, "date_of_birth"));
    free(attested);
}

static void test_cross_border_consent_approved(void **state)
{
    subject s;
    char verification_id[64];
    char consent_id[64];
    const char *pending_digest;
    json_t *pending;
    json_t *entries;
    const json_t *payload;
    http_result r;

    (void)state;
    make_subject(&s, "CN-CONSENT-YES", false, 0x21);
    start_verification(&s, verification_id, consent_id, &pending);
    expect_pending_answer(pending);
    expect_consent_page(consent_id);

    fetch_result(verification_id, &r);
    expect_status(&r, 202);
    assert_null(json_object_get(r.json, "claims"));
    http_result_clear(&r);

    approve(&s, consent_id);
    fetch_result(verification_id, &r);
    expect_status(&r, 200);
    expect_released(&r, consent_id, pending);
    http_result_clear(&r);

    /* The audit log holds the decision to wait, the consent and the final decision,
     * each naming the bundles in force when the decision was made. */
    pending_digest = bundle_digest(json_object_get(pending, "policy"), "residency-cn");
    entries = read_audit_entries();
    payload = find_entry(entries, "verification_decided", "consent_id", consent_id,
                         "consent_pending");
    assert_string_equal(text_of(payload, "rule"), "policy");
    assert_string_equal(text_of(payload, "consent_required"), "separate-cross-border");
    assert_string_equal(bundle_digest(json_object_get(payload, "policy"), "residency-cn"),
                        pending_digest);
    expect_claim(json_object_get(payload, "claims"), "given_name", "consent_pending",
                 "consent_required", "cn.export.general");
    expect_claim(json_object_get(payload, "claims"), "date_of_birth", "consent_pending",
                 "consent_required", "cn.export.general");
    expect_claim(json_object_get(payload, "claims"), "national_id", "withheld", "rule",
                 "base.identifier.other-purposes");

    payload = find_entry(entries, "consent_given", "consent_id", consent_id, NULL);
    assert_int_equal(json_array_size(json_object_get(payload, "claims")), 3);

    payload = find_entry(entries, "verification_decided", "consent_id", consent_id,
                         "accepted");
    assert_string_equal(bundle_digest(json_object_get(payload, "policy"), "residency-cn"),
                        pending_digest);
    assert_non_null(bundle_digest(json_object_get(payload, "policy"), "asean-cn-base"));
    expect_claim(json_object_get(payload, "claims"), "given_name", "disclosed", "rule",
                 "base.basic.cross-border");
    expect_claim(json_object_get(payload, "claims"), "date_of_birth", "derived", "rule",
                 "base.age-check.date-of-birth");
    assert_int_equal(json_array_size(json_object_get(
                         find_claim(json_object_get(payload, "claims"), "date_of_birth", NULL),
                         "derived")),
                     2);
    expect_claim(json_object_get(payload, "claims"), "email", "withheld",
                 "not_allowed_for_relying_party", NULL);
    assert_int_equal(strlen(text_of(payload, "subject")), 64);
    json_decref(entries);
    json_decref(pending);
    soft_authenticator_clear(&s.auth);
}

static void test_cross_border_consent_refused(void **state)
{
    subject s;
    char verification_id[64];
    char consent_id[64];
    char path[128];
    json_t *pending;
    json_t *entries;
    const json_t *payload;
    http_result r;

    (void)state;
    make_subject(&s, "CN-CONSENT-NO", false, 0x22);
    start_verification(&s, verification_id, consent_id, &pending);
    snprintf(path, sizeof(path), "/consent/%s/refusal", consent_id);
    page_post(NULL, path, NULL, &r);
    expect_status(&r, 200);
    http_result_clear(&r);

    fetch_result(verification_id, &r);
    expect_status(&r, 200);
    assert_string_equal(text_of(r.json, "decision"), "refused");
    assert_null(json_object_get(r.json, "claims"));
    assert_null(json_object_get(r.json, "attestation"));
    http_result_clear(&r);

    entries = read_audit_entries();
    find_entry(entries, "consent_refused", "consent_id", consent_id, NULL);
    payload = find_entry(entries, "verification_decided", "consent_id", consent_id,
                         "refused");
    expect_claim(json_object_get(payload, "claims"), "given_name", "withheld",
                 "consent_refused", "base.basic.cross-border");
    expect_claim(json_object_get(payload, "claims"), "date_of_birth", "withheld",
                 "consent_refused", "base.age-check.date-of-birth");
    assert_null(json_object_get(find_claim(json_object_get(payload, "claims"),
                                           "date_of_birth", NULL),
                                "derived"));
    assert_non_null(bundle_digest(json_object_get(payload, "policy"), "residency-cn"));
    json_decref(entries);
    json_decref(pending);
    soft_authenticator_clear(&s.auth);
}

/* The node logs that the registry's consent setting has no effect with the engine,
 * and records the bundles it loaded at start. */
static void test_start_recorded(void **state)
{
    char *log = test_read_file(server.log_path, NULL);
    json_t *entries = read_audit_entries();
    const json_t *payload;

    (void)state;
    assert_non_null(log);
    assert_non_null(strstr(log, "\"registry_consent_ignored\""));
    free(log);
    assert_int_equal(count_kind(entries, "policy_loaded"), 1);
    payload = find_entry(entries, "policy_loaded", "reason", "start", NULL);
    assert_non_null(bundle_digest(json_object_get(payload, "bundles"), "asean-cn-base"));
    assert_non_null(bundle_digest(json_object_get(payload, "bundles"), "residency-cn"));
    json_decref(entries);
}

/* No withheld value reached any response, attestation, audit entry or log line, and a
 * refusal removed the values held for it from the database. */
/* The same consent with a credential whose values the node stores: the relying party's
 * copy of the credential shows none of them, and the release is the same. */
static void test_held_values_consent_approved(void **state)
{
    static const char *const values[] = {GIVEN_NAME "<", SECRET_BIRTH_DATE,
                                         SECRET_NATIONAL_ID, SECRET_EMAIL};
    subject s;
    char verification_id[64];
    char consent_id[64];
    json_t *pending;
    http_result r;

    (void)state;
    make_subject(&s, "CN-CONSENT-HELD", true, 0x23);
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        assert_null(strstr(s.assertion_xml, values[i]));
    assert_null(strstr(s.assertion_xml, "AttributeStatement"));

    start_verification(&s, verification_id, consent_id, &pending);
    expect_pending_answer(pending);
    approve(&s, consent_id);
    fetch_result(verification_id, &r);
    expect_status(&r, 200);
    expect_released(&r, consent_id, pending);
    http_result_clear(&r);
    json_decref(pending);
    soft_authenticator_clear(&s.auth);
}

static void test_withheld_values_nowhere(void **state)
{
    static const char *const secrets[] = {SECRET_BIRTH_DATE, SECRET_NATIONAL_ID,
                                          SECRET_EMAIL};
    json_t *entries = read_audit_entries();
    char *audit = json_dumps(entries, JSON_COMPACT);
    char *log = test_read_file(server.log_path, NULL);
    char command[PATH_MAX * 3];
    char *held = NULL;

    (void)state;
    assert_non_null(responses);
    assert_non_null(audit);
    assert_non_null(log);
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        assert_null(strstr(responses, secrets[i]));
        assert_null(strstr(audit, secrets[i]));
        assert_null(strstr(log, secrets[i]));
    }
    assert_null(strstr(log, GIVEN_NAME "\""));

    /* The refused verification no longer contains the held values, and the approved
     * one keeps them until its consent request expires. */
    snprintf(command, sizeof(command),
             "sqlite3 -readonly '%.4000s' \"SELECT json_type(result, '$.held') IS NULL FROM "
             "pending_verifications ORDER BY created_at, id\" > '%.4000s/held.txt'",
             server.db_path, server.token.dir);
    assert_int_equal(test_run(command), 0);
    snprintf(command, sizeof(command), "%.4000s/held.txt", server.token.dir);
    held = test_read_file(command, NULL);
    assert_non_null(held);
    assert_non_null(strstr(held, "1"));
    assert_non_null(strstr(held, "0"));
    free(held);
    free(log);
    free(audit);
    json_decref(entries);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_recorded),
        cmocka_unit_test(test_cross_border_consent_approved),
        cmocka_unit_test(test_cross_border_consent_refused),
        cmocka_unit_test(test_held_values_consent_approved),
        cmocka_unit_test(test_withheld_values_nowhere),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
