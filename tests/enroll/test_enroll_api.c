/*
 * The enrollment, sign-in and consent routes against the real daemon: a SoftHSM2 token,
 * a SQLite file, TLS on loopback and the software authenticator of tests/webauthn.
 * Every rejection asserts its stable problem code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <sqlite3.h>

#include "page_client.h"
#include "server_harness.h"
#include "soft_authenticator.h"
#include "test_token.h"
#include "webauthn.h"

#define ORIGIN_HEADER "Origin: " SOFT_ORIGIN
#define CHALLENGE_SECONDS 10

typedef struct fixture {
    harness h;
    soft_ca ca; /* the attestation root the chain daemon trusts */
} fixture;

/* A subject with a page session and an enrolled software authenticator. */
typedef struct subject {
    char cookie[256];
    char assertion_xml[16384];
    soft_authenticator auth;
    uint32_t counter;
} subject;

static const char pages_config[] =
    "\n[webauthn]\nrp_id = " SOFT_RP_ID "\norigin = " SOFT_ORIGIN "\n"
    "attestation = self\nchallenge_timeout = 10\n"
    "[pages]\nconsent_timeout = 600\n"
    "[rp " CLIENT_RP "]\nconsent = always\nname = Bank One\n";

/* ---- HTTP helpers ----------------------------------------------------------------- */

static void page_post(harness *h, const subject *s, const char *path, const char *body,
                      http_result *out)
{
    char cookie[320];
    const char *headers[] = {"Content-Type: application/json", ORIGIN_HEADER, cookie, NULL};

    snprintf(cookie, sizeof(cookie), "Cookie: %s", s != NULL ? s->cookie : "");
    assert_int_equal(harness_curl_headers(h, NULL, "POST", path, headers,
                                          body != NULL ? body : "{}", out),
                     0);
}

static void expect_status(http_result *r, long status)
{
    if (r->status != status)
        fprintf(stderr, "expected HTTP %ld, got %ld: %s\n", status, r->status,
                r->body != NULL ? r->body : "");
    assert_int_equal(r->status, status);
}

static void expect_problem(http_result *r, long status, const char *code)
{
    expect_status(r, status);
    assert_string_equal(http_result_code(r), code);
}

/* ---- Issuance, enrollment and ceremonies ------------------------------------------ */

static void issue(harness *h, const char *name, char *code, size_t code_size, char *xml,
                  size_t xml_size)
{
    char body[512];
    http_result r;

    snprintf(body, sizeof(body),
             "{\"subject\":\"%s\",\"audience\":\"" RP_ENTITY_ID "\","
             "\"assurance_level\":\"substantial\",\"validity_seconds\":3600,"
             "\"attributes\":{\"given_name\":\"Mei Ling\",\"family_name\":\"Tan\","
             "\"nationality\":[\"SG\"]}}",
             name);
    assert_int_equal(harness_curl(h, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, body, &r),
                     0);
    expect_status(&r, 201);
    snprintf(code, code_size, "%s",
             json_string_value(json_object_get(r.json, "enrollment_code")));
    if (xml != NULL)
        snprintf(xml, xml_size, "%s", json_string_value(json_object_get(r.json, "assertion")));
    http_result_clear(&r);
}

static void redeem(harness *h, subject *s, const char *code)
{
    char body[128];
    http_result r;

    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
    page_post(h, NULL, "/enroll/code", body, &r);
    expect_status(&r, 200);
    page_read_cookie(&r, s->cookie, sizeof(s->cookie));
    http_result_clear(&r);
}

/* Fetches creation options and fills a ceremony that matches them. */
static void registration_ceremony(harness *h, const subject *s, soft_ceremony *c)
{
    http_result r;

    soft_ceremony_defaults(c);
    page_post(h, s, "/account/registration/options", NULL, &r);
    expect_status(&r, 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "rp"), "id")),
                        SOFT_RP_ID);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(r.json, "authenticatorSelection"),
                            "userVerification")),
                        "required");
    page_decode_challenge(&r, c->challenge);
    http_result_clear(&r);
}

static void post_registration(harness *h, const subject *s, const soft_ceremony *c,
                              const unsigned char *attestation_object, size_t len,
                              http_result *out)
{
    char *body = page_wrap_response(soft_register(&s->auth, c, attestation_object, len));

    page_post(h, s, "/account/registration", body, out);
    free(body);
}

/* Makes a subject: issues a credential, redeems its code and enrolls a key of the COSE
 * algorithm alg whose registration reports the authenticator data flags, or the
 * defaults when flags is 0. */
static void make_subject_alg(harness *h, subject *s, const char *name,
                             unsigned char id_byte, uint8_t flags, int alg)
{
    char code[64];
    soft_ceremony c;
    http_result r;

    memset(s, 0, sizeof(*s));
    issue(h, name, code, sizeof(code), s->assertion_xml, sizeof(s->assertion_xml));
    redeem(h, s, code);
    assert_int_equal(soft_authenticator_init(&s->auth, alg), 0);
    s->auth.credential_id[0] = id_byte;

    registration_ceremony(h, s, &c);
    if (flags != 0)
        c.flags = flags;
    post_registration(h, s, &c, NULL, 0, &r);
    expect_status(&r, 201);
    assert_string_equal(json_string_value(json_object_get(r.json, "attestation")), "self");
    http_result_clear(&r);
}

static void make_subject_flags(harness *h, subject *s, const char *name,
                               unsigned char id_byte, uint8_t flags)
{
    make_subject_alg(h, s, name, id_byte, flags, -7);
}

static void make_subject(harness *h, subject *s, const char *name, unsigned char id_byte)
{
    make_subject_flags(h, s, name, id_byte, 0);
}

static void sign_in_ceremony(harness *h, soft_ceremony *c, const subject *s)
{
    http_result r;

    soft_ceremony_defaults(c);
    page_post(h, NULL, "/account/signin/options", NULL, &r);
    expect_status(&r, 200);
    page_decode_challenge(&r, c->challenge);
    c->sign_count = ++((subject *)s)->counter;
    http_result_clear(&r);
}

static void post_assertion(harness *h, const subject *s, const char *path,
                           const soft_ceremony *c, http_result *out)
{
    char *body = page_wrap_response(soft_authenticate(&s->auth, c));

    page_post(h, s, path, body, out);
    free(body);
}

/* Runs a sign-in whose ceremony the caller changed after the options. */
static void sign_in_with(harness *h, subject *s, void (*change)(soft_ceremony *),
                         http_result *out)
{
    soft_ceremony c;

    sign_in_ceremony(h, &c, s);
    if (change != NULL)
        change(&c);
    post_assertion(h, s, "/account/signin", &c, out);
}

/* Posts a verification of the subject's credential for purpose; bank-one needs
 * consent. */
static void post_verification_for(harness *h, const subject *s, const char *purpose,
                                  http_result *out)
{
    json_t *request = json_pack("{s:s, s:s, s:[s, s], s:i}", "assertion", s->assertion_xml,
                                "purpose", purpose, "claims", "given_name", "nationality",
                                "retention_days", 30);
    char *body = json_dumps(request, JSON_COMPACT);

    assert_int_equal(harness_curl(h, CLIENT_RP, "POST", "/v1/verifications", NULL, body, out),
                     0);
    free(body);
    json_decref(request);
}

static void post_verification(harness *h, const subject *s, http_result *out)
{
    post_verification_for(h, s, "Open a savings account", out);
}

/* Starts a verification that waits for the subject's consent. */
static void start_verification(harness *h, const subject *s, char *verification_id,
                               char *consent_id)
{
    http_result r;

    post_verification(h, s, &r);
    expect_status(&r, 202);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")),
                        "consent_pending");
    snprintf(verification_id, 64, "%s",
             json_string_value(json_object_get(r.json, "verification_id")));
    snprintf(consent_id, 64, "%s", json_string_value(json_object_get(r.json, "consent_id")));
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "consent_url")),
                           SOFT_ORIGIN "/consent/"));
    http_result_clear(&r);
}

static void consent_ceremony(harness *h, subject *s, const char *consent_id,
                             soft_ceremony *c)
{
    char path[128];
    http_result r;

    soft_ceremony_defaults(c);
    snprintf(path, sizeof(path), "/consent/%s/options", consent_id);
    page_post(h, s, path, NULL, &r);
    expect_status(&r, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "allowCredentials")), 1);
    page_decode_challenge(&r, c->challenge);
    c->sign_count = ++s->counter;
    http_result_clear(&r);
}

/* ---- Fixture ------------------------------------------------------------------------ */

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || harness_setup(&f->h) != 0 ||
        harness_append_config(&f->h, pages_config) != 0 || harness_start(&f->h) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    if (f != NULL) {
        harness_teardown(&f->h);
        free(f);
    }
    return 0;
}

/* ---- Enrollment ------------------------------------------------------------------- */

static void test_enroll_and_sign_in(void **state)
{
    fixture *f = *state;
    subject s;
    http_result r;

    make_subject(&f->h, &s, "SG-ENROLL-1", 0x01);
    sign_in_with(&f->h, &s, NULL, &r);
    expect_status(&r, 200);
    assert_non_null(page_find_nocase(r.headers, "HttpOnly"));
    assert_non_null(page_find_nocase(r.headers, "SameSite=Strict"));
    assert_non_null(page_find_nocase(r.headers, "Secure"));
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

/* Keys of ES384, ES512 and PS256 enroll with packed self attestation and sign in. */
static void test_enroll_new_algorithms(void **state)
{
    static const int algs[] = {-35, -36, -37};
    static const char *const names[] = {"SG-ENROLL-ES384", "SG-ENROLL-ES512",
                                        "SG-ENROLL-PS256"};
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        subject s;
        http_result r;

        make_subject_alg(&f->h, &s, names[i], (unsigned char)(0x60 + i), 0, algs[i]);
        sign_in_with(&f->h, &s, NULL, &r);
        expect_status(&r, 200);
        http_result_clear(&r);
        soft_authenticator_clear(&s.auth);
    }
}

/* pubKeyCredParams offers ES256 first, then every other algorithm the node verifies. */
static void test_options_offer_algorithms(void **state)
{
    static const json_int_t expected[] = {-7, -257, -8, -35, -36, -37, -38, -39, -258, -259};
    fixture *f = *state;
    subject s;
    http_result r;
    const json_t *params;

    make_subject(&f->h, &s, "SG-ENROLL-OFFER", 0x70);
    page_post(&f->h, &s, "/account/registration/options", NULL, &r);
    expect_status(&r, 200);
    params = json_object_get(r.json, "pubKeyCredParams");
    assert_int_equal(json_array_size(params), sizeof(expected) / sizeof(expected[0]));
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        const json_t *param = json_array_get(params, i);

        assert_string_equal(json_string_value(json_object_get(param, "type")),
                            "public-key");
        assert_int_equal(json_integer_value(json_object_get(param, "alg")), expected[i]);
    }
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

static void test_enroll_code_single_use(void **state)
{
    fixture *f = *state;
    char code[64];
    char body[128];
    http_result r;

    issue(&f->h, "SG-ONCE", code, sizeof(code), NULL, 0);
    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
    page_post(&f->h, NULL, "/enroll/code", body, &r);
    expect_status(&r, 200);
    http_result_clear(&r);
    page_post(&f->h, NULL, "/enroll/code", body, &r);
    expect_problem(&r, 409, "enrollment_code_used");
    http_result_clear(&r);
    page_post(&f->h, NULL, "/enroll/code", "{\"code\":\"AAAA-BBBB\"}", &r);
    expect_problem(&r, 422, "enrollment_code_invalid");
    http_result_clear(&r);
}

/* A redemption whose session cannot be stored leaves the code unused, so the person can
 * try again. The trigger simulates a database that rejects the session's insert. */
static void test_enroll_code_kept_on_failure(void **state)
{
    fixture *f = *state;
    char code[64];
    char body[128];
    http_result r;

    issue(&f->h, "SG-KEPT", code, sizeof(code), NULL, 0);
    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
    assert_int_equal(harness_sql(&f->h, "CREATE TRIGGER fail_session BEFORE INSERT ON "
                                         "web_sessions BEGIN SELECT RAISE(ABORT, "
                                         "'injected failure'); END"),
                     0);
    page_post(&f->h, NULL, "/enroll/code", body, &r);
    assert_int_equal(harness_sql(&f->h, "DROP TRIGGER fail_session"), 0);
    expect_problem(&r, 500, "internal_error");
    assert_null(page_find_nocase(r.headers, "Set-Cookie"));
    http_result_clear(&r);

    page_post(&f->h, NULL, "/enroll/code", body, &r);
    expect_status(&r, 200);
    assert_non_null(page_find_nocase(r.headers, "Set-Cookie: __Host-idsvc_session="));
    http_result_clear(&r);
}

/* Signing out ends the session on the node, and a sign-out whose session the node could
 * not delete fails, so that the person does not rely on it. The trigger simulates a
 * database that rejects the delete. */
static void test_signout_ends_session(void **state)
{
    fixture *f = *state;
    char code[64];
    subject s = {0};
    http_result r;

    issue(&f->h, "SG-SIGNOUT", code, sizeof(code), NULL, 0);
    redeem(&f->h, &s, code);
    assert_int_equal(harness_sql(&f->h, "CREATE TRIGGER keep_session BEFORE DELETE ON "
                                         "web_sessions BEGIN SELECT RAISE(ABORT, "
                                         "'injected failure'); END"),
                     0);
    page_post(&f->h, &s, "/account/signout", NULL, &r);
    assert_int_equal(harness_sql(&f->h, "DROP TRIGGER keep_session"), 0);
    expect_problem(&r, 500, "internal_error");
    http_result_clear(&r);

    page_post(&f->h, &s, "/account/signout", NULL, &r);
    expect_status(&r, 200);
    assert_non_null(page_find_nocase(r.headers, "Max-Age=0"));
    http_result_clear(&r);
    page_post(&f->h, &s, "/account/registration/options", NULL, &r);
    expect_problem(&r, 401, "session_required");
    http_result_clear(&r);
}

/* An unusable code is named for what is wrong with it. */
static void test_enroll_code_faults_named(void **state)
{
    static const struct {
        const char *body;
        const char *detail;
    } cases[] = {
        {"{\"code\":\"ABCDEFGHJKMNPQRSTVWXABCDEFGHJKMNPQRSTVWXABCDEFGHJKMNPQRS\"}",
         "The enrollment code is too long"},
        {"{\"code\":\"- -\"}", "The enrollment code has no letters or digits"},
        {"{\"code\":\"ABCD_EFGH\"}", "contains characters other than letters"},
    };
    fixture *f = *state;
    http_result r;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        page_post(&f->h, NULL, "/enroll/code", cases[i].body, &r);
        expect_problem(&r, 400, "field_invalid");
        assert_non_null(strstr(r.body, cases[i].detail));
        http_result_clear(&r);
    }
}

static void test_enroll_needs_session(void **state)
{
    fixture *f = *state;
    http_result r;

    page_post(&f->h, NULL, "/account/registration/options", NULL, &r);
    expect_problem(&r, 401, "session_required");
    http_result_clear(&r);
}

static void test_post_origin_checked(void **state)
{
    fixture *f = *state;
    const char *evil[] = {"Content-Type: application/json", "Origin: https://evil.example",
                          NULL};
    const char *none[] = {"Content-Type: application/json", NULL};
    const char *two[] = {"Content-Type: application/json", "Origin: " SOFT_ORIGIN,
                         "Origin: https://evil.example", NULL};
    http_result r;

    assert_int_equal(harness_curl_headers(&f->h, NULL, "POST", "/account/signin/options",
                                          evil, "{}", &r),
                     0);
    expect_problem(&r, 403, "origin_not_allowed");
    http_result_clear(&r);
    assert_int_equal(harness_curl_headers(&f->h, NULL, "POST", "/account/signin/options",
                                          none, "{}", &r),
                     0);
    expect_problem(&r, 403, "origin_missing");
    http_result_clear(&r);

    /* The allowed origin first, then another: the node must not read only the first. */
    assert_int_equal(harness_curl_headers(&f->h, NULL, "POST", "/account/signin/options",
                                          two, "{}", &r),
                     0);
    expect_problem(&r, 403, "origin_not_allowed");
    http_result_clear(&r);
}

/* Every page POST rejects a member it does not define, before anything else is read. */
static void test_post_unknown_member_rejected(void **state)
{
    static const struct {
        const char *path;
        const char *body;
    } cases[] = {
        {"/enroll/code", "{\"code\":\"x\",\"extra\":1}"},
        {"/account/registration/options", "{\"extra\":1}"},
        {"/account/registration", "{\"response\":{},\"extra\":1}"},
        {"/account/signin/options", "{\"extra\":1}"},
        {"/account/signin", "{\"response\":{},\"extra\":1}"},
        {"/account/signout", "{\"extra\":1}"},
        {"/account/authenticators/abc/removal", "{\"extra\":1}"},
        {"/consent/abc/options", "{\"extra\":1}"},
        {"/consent/abc/approval", "{\"response\":{},\"extra\":1}"},
        {"/consent/abc/refusal", "{\"extra\":1}"},
    };
    fixture *f = *state;
    http_result r;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        page_post(&f->h, NULL, cases[i].path, cases[i].body, &r);
        if (r.status != 400)
            fprintf(stderr, "%s\n", cases[i].path);
        expect_problem(&r, 400, "field_unknown");
        assert_string_equal(http_result_field(&r), "extra");
        http_result_clear(&r);
    }
}

/* A response that is not the credential's object is invalid; only an absent one is
 * missing. */
static void test_response_member_type(void **state)
{
    static const char *const wrong[] = {"{\"response\":\"x\"}", "{\"response\":5}",
                                        "{\"response\":[]}"};
    fixture *f = *state;
    http_result r;

    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        page_post(&f->h, NULL, "/account/signin", wrong[i], &r);
        expect_problem(&r, 400, "field_invalid");
        assert_string_equal(http_result_field(&r), "response");
        http_result_clear(&r);
    }
    page_post(&f->h, NULL, "/account/signin", "{}", &r);
    expect_problem(&r, 400, "field_missing");
    assert_string_equal(http_result_field(&r), "response");
    http_result_clear(&r);
}

static void set_none_format(soft_ceremony *c)
{
    c->format = SOFT_FORMAT_NONE;
}

static void set_token_binding_present(soft_ceremony *c)
{
    c->client_data_members = ",\"tokenBinding\":{\"status\":\"present\"}";
}

/* Registers a second key of a subject with one change to the ceremony. */
static void register_with(fixture *f, subject *s, void (*change)(soft_ceremony *),
                          http_result *out)
{
    soft_ceremony c;

    registration_ceremony(&f->h, s, &c);
    s->auth.credential_id[1] ^= 0x5a;
    change(&c);
    post_registration(&f->h, s, &c, NULL, 0, out);
    s->auth.credential_id[1] ^= 0x5a;
}

/* Registrations that one change makes invalid, each by a subject of its own. A "none"
 * statement lacks the attestation the node requires. The node's TLS never uses Token
 * Binding, so a client that reports it present gets the verifier's code. */
static void test_registration_rejections(void **state)
{
    static const struct {
        const char *nin;
        unsigned char id_byte;
        void (*change)(soft_ceremony *);
        const char *code;
    } cases[] = {
        {"SG-NONE", 0x02, set_none_format, "attestation_required"},
        {"SG-TOKB", 0x6a, set_token_binding_present, "token_binding_mismatch"},
    };
    fixture *f = *state;
    subject s;
    http_result r;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        make_subject(&f->h, &s, cases[i].nin, cases[i].id_byte);
        register_with(f, &s, cases[i].change, &r);
        if (strcmp(http_result_code(&r), cases[i].code) != 0)
            fprintf(stderr, "case %zu: expected %s, got %s\n", i, cases[i].code, r.body);
        expect_problem(&r, 422, cases[i].code);
        http_result_clear(&r);
        soft_authenticator_clear(&s.auth);
    }
}

static void test_register_bad_cbor(void **state)
{
    fixture *f = *state;
    static const unsigned char huge_array[] = {0x9a, 0xff, 0xff, 0xff, 0xff};
    subject s;
    soft_ceremony c;
    http_result r;

    make_subject(&f->h, &s, "SG-CBOR", 0x03);
    registration_ceremony(&f->h, &s, &c);
    post_registration(&f->h, &s, &c, huge_array, sizeof(huge_array), &r);
    expect_problem(&r, 422, "cbor_malformed");
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

static void test_register_wrong_rp_id(void **state)
{
    fixture *f = *state;
    subject s;
    soft_ceremony c;
    http_result r;

    make_subject(&f->h, &s, "SG-RPID", 0x04);
    registration_ceremony(&f->h, &s, &c);
    c.rp_id = "other.example";
    s.auth.credential_id[1] ^= 0x33;
    post_registration(&f->h, &s, &c, NULL, 0, &r);
    expect_problem(&r, 422, "rp_id_mismatch");
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

/* A padded clientDataJSON challenge is malformed, and its rejection must leave the
 * issued challenge unused, so the same ceremony sent unpadded still registers. */
static void test_register_padded_challenge_kept(void **state)
{
    fixture *f = *state;
    subject s;
    soft_ceremony c;
    http_result r;

    make_subject(&f->h, &s, "SG-PADC", 0x6b);
    registration_ceremony(&f->h, &s, &c);
    s.auth.credential_id[1] ^= 0x5c;

    c.challenge_suffix = "=";
    post_registration(&f->h, &s, &c, NULL, 0, &r);
    expect_problem(&r, 422, "malformed");
    http_result_clear(&r);

    c.challenge_suffix = NULL;
    post_registration(&f->h, &s, &c, NULL, 0, &r);
    expect_status(&r, 201);
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

static void test_remove_authenticator(void **state)
{
    fixture *f = *state;
    subject s;
    soft_ceremony c;
    char path[128];
    const char *id;
    http_result r;

    make_subject(&f->h, &s, "SG-REMOVE", 0x05);
    registration_ceremony(&f->h, &s, &c);
    s.auth.credential_id[2] ^= 0x77;
    post_registration(&f->h, &s, &c, NULL, 0, &r);
    expect_status(&r, 201);
    id = json_string_value(json_object_get(r.json, "id"));
    snprintf(path, sizeof(path), "/account/authenticators/%s/removal", id);
    http_result_clear(&r);

    page_post(&f->h, &s, path, NULL, &r);
    expect_status(&r, 200);
    http_result_clear(&r);
    page_post(&f->h, &s, path, NULL, &r);
    expect_problem(&r, 404, "authenticator_not_found");
    http_result_clear(&r);

    /* The removed key no longer signs in; the first one still does. */
    sign_in_with(&f->h, &s, NULL, &r);
    expect_status(&r, 422);
    assert_string_equal(http_result_code(&r), "authenticator_unknown");
    http_result_clear(&r);
    s.auth.credential_id[2] ^= 0x77;
    sign_in_with(&f->h, &s, NULL, &r);
    expect_status(&r, 200);
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

/* Posts the registration options call with the session cookie of s and expects
 * status, with code when it is an error. */
static void expect_session(harness *h, const subject *s, long status, const char *code)
{
    http_result r;

    page_post(h, s, "/account/registration/options", NULL, &r);
    if (code != NULL)
        expect_problem(&r, status, code);
    else
        expect_status(&r, status);
    http_result_clear(&r);
}

/* Removing a key ends the sessions it signed in. So the holder of a lost key cannot keep
 * a session and enroll a key of their own after the subject removed the lost one. */
static void test_removed_key_ends_session(void **state)
{
    fixture *f = *state;
    subject s, holder;
    soft_ceremony c;
    char path[128];
    http_result r;

    make_subject(&f->h, &s, "SG-REMOVE-SESSION", 0x1a);
    registration_ceremony(&f->h, &s, &c);
    s.auth.credential_id[2] ^= 0x55;
    post_registration(&f->h, &s, &c, NULL, 0, &r);
    expect_status(&r, 201);
    snprintf(path, sizeof(path), "/account/authenticators/%s/removal",
             json_string_value(json_object_get(r.json, "id")));
    http_result_clear(&r);

    /* The second key, whose id s.auth now has, signs in a session of its own. */
    holder = s;
    sign_in_with(&f->h, &holder, NULL, &r);
    expect_status(&r, 200);
    page_read_cookie(&r, holder.cookie, sizeof(holder.cookie));
    http_result_clear(&r);
    expect_session(&f->h, &holder, 200, NULL);

    /* The subject removes that key from the code's session. */
    page_post(&f->h, &s, path, NULL, &r);
    expect_status(&r, 200);
    http_result_clear(&r);

    expect_session(&f->h, &holder, 401, "session_required");
    page_post(&f->h, &holder, "/account/registration", "{\"response\":{}}", &r);
    expect_problem(&r, 401, "session_required");
    http_result_clear(&r);
    expect_session(&f->h, &s, 200, NULL);

    /* A third key that removes itself ends its own session too. */
    registration_ceremony(&f->h, &s, &c);
    s.auth.credential_id[2] ^= 0x0f;
    post_registration(&f->h, &s, &c, NULL, 0, &r);
    expect_status(&r, 201);
    snprintf(path, sizeof(path), "/account/authenticators/%s/removal",
             json_string_value(json_object_get(r.json, "id")));
    http_result_clear(&r);
    holder = s;
    sign_in_with(&f->h, &holder, NULL, &r);
    expect_status(&r, 200);
    page_read_cookie(&r, holder.cookie, sizeof(holder.cookie));
    http_result_clear(&r);
    page_post(&f->h, &holder, path, NULL, &r);
    expect_status(&r, 200);
    http_result_clear(&r);
    expect_session(&f->h, &holder, 401, "session_required");
    expect_session(&f->h, &s, 200, NULL);
    soft_authenticator_clear(&s.auth);
}

/* Registers the credential id of owner's key again, from caller's session with
 * caller's own key, and returns the reply. */
static void register_enrolled_id(harness *h, subject *caller, const subject *owner,
                                 http_result *out)
{
    unsigned char own_id[sizeof(caller->auth.credential_id)];
    soft_ceremony c;

    memcpy(own_id, caller->auth.credential_id, sizeof(own_id));
    memcpy(caller->auth.credential_id, owner->auth.credential_id, sizeof(own_id));
    registration_ceremony(h, caller, &c);
    post_registration(h, caller, &c, NULL, 0, out);
    memcpy(caller->auth.credential_id, own_id, sizeof(own_id));
}

/* A credential id that is enrolled already gets the same reply whether the caller's
 * subject or another subject enrolled it, so the reply does not tell which. */
static void test_enrolled_id_reply_same(void **state)
{
    fixture *f = *state;
    subject owner, other;
    http_result own_reply, other_reply;

    make_subject(&f->h, &owner, "SG-DUPLICATE-1", 0x50);
    make_subject(&f->h, &other, "SG-DUPLICATE-2", 0x51);

    register_enrolled_id(&f->h, &owner, &owner, &own_reply);
    expect_problem(&own_reply, 409, "authenticator_exists");
    register_enrolled_id(&f->h, &other, &owner, &other_reply);
    expect_problem(&other_reply, 409, "authenticator_exists");

    assert_string_equal(http_result_field(&other_reply), http_result_field(&own_reply));
    assert_string_equal(other_reply.body, own_reply.body);
    http_result_clear(&own_reply);
    http_result_clear(&other_reply);

    /* Neither rejection changed a stored key: each subject still signs in with its own. */
    sign_in_with(&f->h, &owner, NULL, &own_reply);
    expect_status(&own_reply, 200);
    http_result_clear(&own_reply);
    sign_in_with(&f->h, &other, NULL, &other_reply);
    expect_status(&other_reply, 200);
    http_result_clear(&other_reply);
    soft_authenticator_clear(&owner.auth);
    soft_authenticator_clear(&other.auth);
}

/* Returns the user handle of the registration options fetched with cookie. */
static void options_user_id(harness *h, const char *cookie, char *out, size_t size)
{
    subject caller;
    http_result r;

    memset(&caller, 0, sizeof(caller));
    snprintf(caller.cookie, sizeof(caller.cookie), "%s", cookie);
    page_post(h, &caller, "/account/registration/options", NULL, &r);
    expect_status(&r, 200);
    snprintf(out, size, "%s",
             json_string_value(json_object_get(json_object_get(r.json, "user"), "id")));
    http_result_clear(&r);
}

/* A cookie whose name only ends in a page cookie's name, as a sibling host could set
 * it, is neither the session nor the language choice. */
static void test_cookie_names_exact(void **state)
{
    fixture *f = *state;
    subject attacker;
    subject victim;
    subject caller;
    char cookie[600];
    char expected[128];
    char found[128];
    const char *headers[] = {cookie, NULL};
    http_result r;

    make_subject(&f->h, &attacker, "SG-COOKIE-A", 0x11);
    make_subject(&f->h, &victim, "SG-COOKIE-B", 0x12);
    options_user_id(&f->h, victim.cookie, expected, sizeof(expected));

    snprintf(cookie, sizeof(cookie), "x%s; %s", attacker.cookie, victim.cookie);
    options_user_id(&f->h, cookie, found, sizeof(found));
    assert_string_equal(found, expected);

    memset(&caller, 0, sizeof(caller));
    caller.cookie[0] = 'x';
    memcpy(caller.cookie + 1, attacker.cookie, sizeof(caller.cookie) - 2);
    page_post(&f->h, &caller, "/account/registration/options", NULL, &r);
    expect_problem(&r, 401, "session_required");
    http_result_clear(&r);

    snprintf(cookie, sizeof(cookie), "Cookie: x__Host-idsvc_lang=th");
    assert_int_equal(harness_curl_headers(&f->h, NULL, "GET", "/enroll", headers, NULL, &r), 0);
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "<html lang=\"en\">"));
    http_result_clear(&r);
    snprintf(cookie, sizeof(cookie), "Cookie: x__Host-idsvc_lang=th; __Host-idsvc_lang=vi");
    assert_int_equal(harness_curl_headers(&f->h, NULL, "GET", "/enroll", headers, NULL, &r), 0);
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "<html lang=\"vi\">"));
    http_result_clear(&r);
    soft_authenticator_clear(&attacker.auth);
    soft_authenticator_clear(&victim.auth);
}

/* ---- Assertions ------------------------------------------------------------------- */

static void set_wrong_origin(soft_ceremony *c)
{
    c->origin = "https://evil.example";
}

static void set_wrong_rp_id(soft_ceremony *c)
{
    c->rp_id = "evil.example";
}

static void set_unknown_challenge(soft_ceremony *c)
{
    c->challenge[0] ^= 0xff;
}

static void clear_up(soft_ceremony *c)
{
    c->flags = 0x04;
}

static void clear_uv(soft_ceremony *c)
{
    c->flags = 0x01;
}

static void set_other_id(soft_ceremony *c)
{
    c->other_id_only = true;
}

static void set_other_raw_id(soft_ceremony *c)
{
    c->other_raw_id = true;
}

static void test_assertion_rejections(void **state)
{
    static const struct {
        void (*change)(soft_ceremony *);
        const char *code;
    } cases[] = {
        {set_wrong_origin, "origin_not_allowed"},
        {set_wrong_rp_id, "rp_id_mismatch"},
        {set_unknown_challenge, "challenge_unknown"},
        {clear_up, "user_presence_missing"},
        {clear_uv, "user_verification_missing"},
        {set_other_id, "credential_id_mismatch"},
        {set_other_raw_id, "authenticator_unknown"},
        {set_token_binding_present, "token_binding_mismatch"},
    };
    fixture *f = *state;
    subject s;
    http_result r;

    make_subject(&f->h, &s, "SG-ASSERT", 0x06);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sign_in_with(&f->h, &s, cases[i].change, &r);
        if (strcmp(http_result_code(&r), cases[i].code) != 0)
            fprintf(stderr, "case %zu: expected %s, got %s\n", i, cases[i].code, r.body);
        expect_problem(&r, 422, cases[i].code);
        http_result_clear(&r);
    }
    soft_authenticator_clear(&s.auth);
}

static void set_backup_eligible(soft_ceremony *c)
{
    c->flags = 0x0d; /* UP, UV, BE */
}

static void set_backed_up(soft_ceremony *c)
{
    c->flags = 0x1d; /* UP, UV, BE, BS */
}

/* Returns backup_eligible of the key with the credential id byte, or -1 for NULL. */
static int stored_backup_eligible(const harness *h, unsigned char id_byte)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int value = -2;

    assert_int_equal(sqlite3_open_v2(h->db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT backup_eligible FROM authenticators"
                                        " WHERE substr(credential_id, 1, 1) = ?",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(stmt, 1, &id_byte, 1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        value = sqlite3_column_type(stmt, 0) == SQLITE_NULL ? -1 : sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
}

static void expect_sign_in(harness *h, subject *s, void (*change)(soft_ceremony *),
                           const char *code)
{
    http_result r;

    sign_in_with(h, s, change, &r);
    if (code == NULL)
        expect_status(&r, 200);
    else
        expect_problem(&r, 422, code);
    http_result_clear(&r);
}

/* A key registered without BE cannot sign in with BE set, and one registered with BE
 * cannot sign in with BE clear (WebAuthn Level 3, section 7.2). A rejected sign-in
 * changes nothing, so the next one with the right flag passes. */
static void test_backup_eligibility_kept(void **state)
{
    fixture *f = *state;
    subject plain, synced;

    make_subject(&f->h, &plain, "SG-BE-NO", 0x40);
    assert_int_equal(stored_backup_eligible(&f->h, 0x40), 0);
    expect_sign_in(&f->h, &plain, set_backup_eligible, "backup_eligibility_mismatch");
    expect_sign_in(&f->h, &plain, NULL, NULL);

    make_subject_flags(&f->h, &synced, "SG-BE-YES", 0x41, 0x0d);
    assert_int_equal(stored_backup_eligible(&f->h, 0x41), 1);
    expect_sign_in(&f->h, &synced, NULL, "backup_eligibility_mismatch");
    expect_sign_in(&f->h, &synced, set_backed_up, NULL);
    assert_int_equal(stored_backup_eligible(&f->h, 0x41), 1);
    soft_authenticator_clear(&plain.auth);
    soft_authenticator_clear(&synced.auth);
}

/* A key enrolled before schema version 9 has no BE flag stored. Its first sign-in
 * records the flag of the signed authenticator data, which later sign-ins must keep. */
static void test_backup_eligibility_recorded_once(void **state)
{
    fixture *f = *state;
    subject s;

    make_subject(&f->h, &s, "SG-BE-OLD", 0x42);
    assert_int_equal(harness_sql(&f->h, "UPDATE authenticators SET backup_eligible = NULL"
                                        " WHERE substr(credential_id, 1, 1) = x'42'"),
                     0);
    assert_int_equal(stored_backup_eligible(&f->h, 0x42), -1);

    expect_sign_in(&f->h, &s, set_backup_eligible, NULL);
    assert_int_equal(stored_backup_eligible(&f->h, 0x42), 1);
    expect_sign_in(&f->h, &s, NULL, "backup_eligibility_mismatch");
    expect_sign_in(&f->h, &s, set_backed_up, NULL);
    soft_authenticator_clear(&s.auth);
}

static void test_challenge_replayed(void **state)
{
    fixture *f = *state;
    subject s;
    soft_ceremony c;
    http_result r;

    make_subject(&f->h, &s, "SG-REPLAY", 0x07);
    sign_in_ceremony(&f->h, &c, &s);
    post_assertion(&f->h, &s, "/account/signin", &c, &r);
    expect_status(&r, 200);
    http_result_clear(&r);
    c.sign_count = ++s.counter;
    post_assertion(&f->h, &s, "/account/signin", &c, &r);
    expect_problem(&r, 422, "challenge_replayed");
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

static void test_challenge_expired(void **state)
{
    fixture *f = *state;
    subject s;
    soft_ceremony c;
    http_result r;

    make_subject(&f->h, &s, "SG-EXPIRED", 0x08);
    sign_in_ceremony(&f->h, &c, &s);
    sleep(CHALLENGE_SECONDS + 1);
    post_assertion(&f->h, &s, "/account/signin", &c, &r);
    expect_problem(&r, 422, "challenge_expired");
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

static void test_counter_regression(void **state)
{
    fixture *f = *state;
    subject s, signed_in = {0};
    soft_ceremony c;
    http_result r;
    char *log;

    make_subject(&f->h, &s, "SG-CLONE", 0x09);
    s.counter = 40;
    sign_in_with(&f->h, &s, NULL, &r);
    expect_status(&r, 200);
    page_read_cookie(&r, signed_in.cookie, sizeof(signed_in.cookie));
    http_result_clear(&r);
    expect_session(&f->h, &signed_in, 200, NULL);

    /* The same counter again: a copy of the key may be in use. */
    sign_in_ceremony(&f->h, &c, &s);
    c.sign_count = 41;
    post_assertion(&f->h, &s, "/account/signin", &c, &r);
    expect_problem(&r, 422, "counter_regression");
    http_result_clear(&r);

    /* The authenticator is marked: even a growing counter is refused now, and the
     * session it signed in has ended. */
    sign_in_with(&f->h, &s, NULL, &r);
    expect_problem(&r, 422, "authenticator_possibly_cloned");
    http_result_clear(&r);
    expect_session(&f->h, &signed_in, 401, "session_required");

    log = test_read_file(f->h.log_path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "\"authenticator_possibly_cloned\""));
    free(log);
    soft_authenticator_clear(&s.auth);
}

/* Two ceremonies completed out of order, as from two tabs. The older challenge, issued
 * before the key's latest use, is rejected without marking the key. */
static void test_counter_stale_not_marked(void **state)
{
    fixture *f = *state;
    subject s;
    soft_ceremony older;
    http_result r;

    make_subject(&f->h, &s, "SG-TABS", 0x30);
    s.counter = 10;
    sign_in_ceremony(&f->h, &older, &s);
    sleep(2);
    sign_in_with(&f->h, &s, NULL, &r); /* counter 11, on a newer challenge */
    expect_status(&r, 200);
    http_result_clear(&r);

    older.sign_count = 11;
    post_assertion(&f->h, &s, "/account/signin", &older, &r);
    expect_problem(&r, 422, "counter_regression");
    assert_non_null(strstr(r.body, "signed before the key's latest use"));
    http_result_clear(&r);

    sign_in_with(&f->h, &s, NULL, &r);
    expect_status(&r, 200);
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

/* ---- Consent ---------------------------------------------------------------------- */

static void fetch_result(harness *h, const char *verification_id, http_result *r)
{
    char path[128];

    snprintf(path, sizeof(path), "/v1/verifications/%s", verification_id);
    assert_int_equal(harness_curl(h, CLIENT_RP, "GET", path, NULL, NULL, r), 0);
}

static void test_consent_approved(void **state)
{
    fixture *f = *state;
    subject s;
    soft_ceremony c;
    char verification_id[64];
    char consent_id[64];
    char path[128];
    http_result r;

    make_subject(&f->h, &s, "SG-CONSENT-YES", 0x0a);
    start_verification(&f->h, &s, verification_id, consent_id);
    fetch_result(&f->h, verification_id, &r);
    expect_status(&r, 202);
    http_result_clear(&r);

    consent_ceremony(&f->h, &s, consent_id, &c);
    snprintf(path, sizeof(path), "/consent/%s/approval", consent_id);
    post_assertion(&f->h, &s, path, &c, &r);
    expect_status(&r, 200);
    http_result_clear(&r);

    fetch_result(&f->h, verification_id, &r);
    expect_status(&r, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "decision")), "accepted");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(r.json, "claims"), "given_name")),
                        "Mei Ling");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(r.json, "consent"), "id")),
                        consent_id);
    assert_non_null(json_string_value(json_object_get(r.json, "attestation")));
    http_result_clear(&r);

    /* A refusal after the approval is rejected. */
    snprintf(path, sizeof(path), "/consent/%s/refusal", consent_id);
    page_post(&f->h, NULL, path, NULL, &r);
    expect_problem(&r, 409, "consent_already_decided");
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

static void test_consent_refused(void **state)
{
    fixture *f = *state;
    subject s;
    char verification_id[64];
    char consent_id[64];
    char path[128];
    http_result r;

    make_subject(&f->h, &s, "SG-CONSENT-NO", 0x0b);
    start_verification(&f->h, &s, verification_id, consent_id);
    snprintf(path, sizeof(path), "/consent/%s/refusal", consent_id);
    page_post(&f->h, NULL, path, NULL, &r);
    expect_status(&r, 200);
    http_result_clear(&r);

    fetch_result(&f->h, verification_id, &r);
    expect_status(&r, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "decision")), "refused");
    assert_null(json_object_get(r.json, "claims"));
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

/* Posts a refusal of consent_id in a child process and returns its pid. The child exits
 * with the HTTP status divided by 10, or with 1 when curl failed. */
static pid_t refuse_in_child(harness *h, const char *consent_id)
{
    const char *headers[] = {"Content-Type: application/json", ORIGIN_HEADER, NULL};
    char path[128];
    pid_t child = fork();
    http_result r;
    int code;

    if (child != 0)
        return child;
    snprintf(path, sizeof(path), "/consent/%s/refusal", consent_id);
    code = harness_curl_headers(h, NULL, "POST", path, headers, "{}", &r) == 0
               ? (int)(r.status / 10)
               : 1;
    http_result_clear(&r);
    _exit(code);
}

/* A decision checks the request's expiry in its own transaction. Here the request
 * expires while the decision waits for the write lock that the test holds, so the
 * decision is rejected as expired and not recorded after the expiry. */
static void test_consent_expiry_checked_at_commit(void **state)
{
    fixture *f = *state;
    subject s;
    char verification_id[64];
    char consent_id[64];
    char sql[256];
    sqlite3 *db = NULL;
    http_result r;
    pid_t child;
    int status = 0;

    make_subject(&f->h, &s, "SG-CONSENT-LATE", 0x31);
    start_verification(&f->h, &s, verification_id, consent_id);
    snprintf(sql, sizeof(sql),
             "UPDATE consent_requests SET expires_at = strftime('%%s', 'now') + 2"
             " WHERE id = '%s'",
             consent_id);
    assert_int_equal(harness_sql(&f->h, sql), 0);

    assert_int_equal(sqlite3_open(f->h.db_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    child = refuse_in_child(&f->h, consent_id);
    assert_true(child > 0);
    sleep(3);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 41); /* 410 consent_expired */

    fetch_result(&f->h, verification_id, &r);
    expect_status(&r, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "decision")), "expired");
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

static int count_rows(const harness *h, const char *table)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    char sql[128];
    int count = -1;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    assert_int_equal(sqlite3_open_v2(h->db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        count = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

/*
 * The consent request, its verification, the replay record and the consent_pending
 * audit entry commit together. When the entry cannot be written, nothing is left
 * behind: no consent request, and the assertion is not burnt as replayed.
 */
static void test_consent_deferral_atomic(void **state)
{
    fixture *f = *state;
    subject s;
    char verification_id[64];
    char consent_id[64];
    int consents;
    int verifications;
    http_result r;

    make_subject(&f->h, &s, "SG-CONSENT-ATOMIC", 0x13);
    consents = count_rows(&f->h, "consent_requests");
    verifications = count_rows(&f->h, "pending_verifications");
    assert_int_equal(
        harness_sql(&f->h,
                    "CREATE TRIGGER test_no_pending BEFORE INSERT ON audit_entries "
                    "WHEN NEW.payload LIKE '%consent_pending%' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"),
        0);
    post_verification(&f->h, &s, &r);
    assert_int_equal(harness_sql(&f->h, "DROP TRIGGER test_no_pending"), 0);
    expect_problem(&r, 503, "audit_unavailable");
    http_result_clear(&r);
    assert_int_equal(count_rows(&f->h, "consent_requests"), consents);
    assert_int_equal(count_rows(&f->h, "pending_verifications"), verifications);

    /* The same assertion still works, once; a replay leaves no consent request. */
    start_verification(&f->h, &s, verification_id, consent_id);
    assert_int_equal(count_rows(&f->h, "consent_requests"), consents + 1);
    post_verification(&f->h, &s, &r);
    expect_problem(&r, 422, "replayed");
    http_result_clear(&r);
    assert_int_equal(count_rows(&f->h, "consent_requests"), consents + 1);
    assert_int_equal(count_rows(&f->h, "pending_verifications"), verifications + 1);
    soft_authenticator_clear(&s.auth);
}

static int count_where(const harness *h, const char *sql, const char *value)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int count = -1;

    assert_int_equal(sqlite3_open_v2(h->db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    sqlite3_bind_text(stmt, 1, value, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        count = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

/*
 * An approval commits the decision, the disclosure history row and both audit entries
 * together. When the second entry cannot be written, the request stays pending, the
 * relying party still waits, and the subject can approve again.
 */
static void test_consent_approval_atomic(void **state)
{
    fixture *f = *state;
    subject s;
    soft_ceremony c;
    char verification_id[64];
    char consent_id[64];
    char path[128];
    int disclosures;
    http_result r;

    make_subject(&f->h, &s, "SG-APPROVAL-ATOMIC", 0x14);
    start_verification(&f->h, &s, verification_id, consent_id);
    disclosures = count_rows(&f->h, "disclosures");
    assert_int_equal(
        harness_sql(&f->h,
                    "CREATE TRIGGER test_no_outcome BEFORE INSERT ON audit_entries "
                    "WHEN NEW.kind = 'verification_decided' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"),
        0);
    consent_ceremony(&f->h, &s, consent_id, &c);
    snprintf(path, sizeof(path), "/consent/%s/approval", consent_id);
    post_assertion(&f->h, &s, path, &c, &r);
    assert_int_equal(harness_sql(&f->h, "DROP TRIGGER test_no_outcome"), 0);
    expect_problem(&r, 503, "audit_unavailable");
    http_result_clear(&r);

    assert_int_equal(count_where(&f->h,
                                 "SELECT count(*) FROM consent_requests "
                                 "WHERE id = ?1 AND state = 'pending'",
                                 consent_id),
                     1);
    assert_int_equal(count_rows(&f->h, "disclosures"), disclosures);
    assert_int_equal(count_where(&f->h,
                                 "SELECT count(*) FROM audit_entries WHERE kind = "
                                 "'consent_given' AND payload LIKE '%' || ?1 || '%'",
                                 consent_id),
                     0);
    fetch_result(&f->h, verification_id, &r);
    expect_status(&r, 202);
    http_result_clear(&r);

    /* The subject approves again, and everything lands together. */
    consent_ceremony(&f->h, &s, consent_id, &c);
    post_assertion(&f->h, &s, path, &c, &r);
    expect_status(&r, 200);
    http_result_clear(&r);
    assert_int_equal(count_rows(&f->h, "disclosures"), disclosures + 1);
    assert_int_equal(count_where(&f->h,
                                 "SELECT count(*) FROM audit_entries WHERE payload LIKE "
                                 "'%' || ?1 || '%' AND (kind = 'consent_given' OR "
                                 "payload LIKE '%\"decision\":\"accepted\"%')",
                                 consent_id),
                     2);
    fetch_result(&f->h, verification_id, &r);
    expect_status(&r, 200);
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

/* An enrollment and a removal commit with their audit entries: when the entry cannot be
 * written, the authenticator is neither added nor removed, and a retry works. */
static void test_authenticator_changes_atomic(void **state)
{
    fixture *f = *state;
    subject s;
    soft_ceremony c;
    char path[128];
    int before;
    http_result r;

    make_subject(&f->h, &s, "SG-ENROLL-ATOMIC", 0x16);
    before = count_rows(&f->h, "authenticators");
    s.auth.credential_id[3] ^= 0x33;
    assert_int_equal(
        harness_sql(&f->h,
                    "CREATE TRIGGER test_no_enrolled BEFORE INSERT ON audit_entries "
                    "WHEN NEW.kind = 'authenticator_enrolled' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"),
        0);
    registration_ceremony(&f->h, &s, &c);
    post_registration(&f->h, &s, &c, NULL, 0, &r);
    assert_int_equal(harness_sql(&f->h, "DROP TRIGGER test_no_enrolled"), 0);
    expect_problem(&r, 503, "audit_unavailable");
    http_result_clear(&r);
    assert_int_equal(count_rows(&f->h, "authenticators"), before);

    registration_ceremony(&f->h, &s, &c);
    post_registration(&f->h, &s, &c, NULL, 0, &r);
    expect_status(&r, 201);
    snprintf(path, sizeof(path), "/account/authenticators/%s/removal",
             json_string_value(json_object_get(r.json, "id")));
    http_result_clear(&r);
    assert_int_equal(count_rows(&f->h, "authenticators"), before + 1);

    assert_int_equal(
        harness_sql(&f->h,
                    "CREATE TRIGGER test_no_removed BEFORE INSERT ON audit_entries "
                    "WHEN NEW.kind = 'authenticator_removed' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"),
        0);
    page_post(&f->h, &s, path, NULL, &r);
    assert_int_equal(harness_sql(&f->h, "DROP TRIGGER test_no_removed"), 0);
    expect_problem(&r, 503, "audit_unavailable");
    http_result_clear(&r);
    assert_int_equal(count_rows(&f->h, "authenticators"), before + 1);
    page_post(&f->h, &s, path, NULL, &r);
    expect_status(&r, 200);
    http_result_clear(&r);
    assert_int_equal(count_rows(&f->h, "authenticators"), before);
    soft_authenticator_clear(&s.auth);
}

/* A page call that cannot write, because another connection keeps the database locked
 * past the busy timeout, gets 503 store_unavailable with Retry-After, not 500, so the
 * client retries. */
static void test_busy_database_is_503(void **state)
{
    fixture *f = *state;
    sqlite3 *db = NULL;
    http_result r;

    assert_int_equal(sqlite3_open(f->h.db_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    page_post(&f->h, NULL, "/account/signin/options", NULL, &r);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    expect_problem(&r, 503, "store_unavailable");
    assert_non_null(page_find_nocase(r.headers, "Retry-After: "));
    http_result_clear(&r);

    /* Once the database is free, the same call works. */
    page_post(&f->h, NULL, "/account/signin/options", NULL, &r);
    expect_status(&r, 200);
    http_result_clear(&r);
}

/* An approval whose userHandle names another account is rejected, and the request stays
 * pending. */
static void test_consent_user_handle_checked(void **state)
{
    fixture *f = *state;
    static const unsigned char stranger[70] = {0x5a, 0x5a};
    subject s;
    soft_ceremony c;
    char verification_id[64];
    char consent_id[64];
    char path[128];
    http_result r;

    make_subject(&f->h, &s, "SG-USER-HANDLE", 0x15);
    start_verification(&f->h, &s, verification_id, consent_id);
    consent_ceremony(&f->h, &s, consent_id, &c);
    c.user_handle = stranger;
    c.user_handle_len = sizeof(stranger);
    snprintf(path, sizeof(path), "/consent/%s/approval", consent_id);
    post_assertion(&f->h, &s, path, &c, &r);
    expect_problem(&r, 422, "user_handle_mismatch");
    http_result_clear(&r);
    assert_int_equal(count_where(&f->h,
                                 "SELECT count(*) FROM consent_requests "
                                 "WHERE id = ?1 AND state = 'pending'",
                                 consent_id),
                     1);
    soft_authenticator_clear(&s.auth);
}

/* An approval must be signed over this request's challenge by the subject's own key. */
static void test_consent_wrong_subject(void **state)
{
    fixture *f = *state;
    subject owner;
    subject other;
    soft_ceremony c;
    char verification_id[64];
    char consent_id[64];
    char path[128];
    http_result r;

    make_subject(&f->h, &owner, "SG-OWNER", 0x0c);
    make_subject(&f->h, &other, "SG-OTHER", 0x0d);
    start_verification(&f->h, &owner, verification_id, consent_id);
    consent_ceremony(&f->h, &owner, consent_id, &c);
    snprintf(path, sizeof(path), "/consent/%s/approval", consent_id);
    post_assertion(&f->h, &other, path, &c, &r);
    expect_problem(&r, 422, "authenticator_unknown");
    http_result_clear(&r);

    /* A sign-in challenge cannot approve a consent request. */
    sign_in_ceremony(&f->h, &c, &owner);
    post_assertion(&f->h, &owner, path, &c, &r);
    expect_problem(&r, 422, "challenge_ceremony_mismatch");
    http_result_clear(&r);
    soft_authenticator_clear(&owner.auth);
    soft_authenticator_clear(&other.auth);
}

static void test_consent_page_served(void **state)
{
    fixture *f = *state;
    subject s;
    char verification_id[64];
    char consent_id[64];
    char path[128];
    const char *headers[] = {"Accept-Language: th-TH,th;q=0.9,en;q=0.5", NULL};
    http_result r;

    make_subject(&f->h, &s, "SG-PAGE", 0x0e);
    start_verification(&f->h, &s, verification_id, consent_id);
    snprintf(path, sizeof(path), "/consent/%s", consent_id);
    assert_int_equal(harness_curl_headers(&f->h, NULL, "GET", path, headers, NULL, &r), 0);
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "<html lang=\"th\">"));
    assert_non_null(strstr(r.body, "Bank One"));
    assert_non_null(strstr(r.body, "Open a savings account"));
    assert_non_null(page_find_nocase(r.headers, "content-security-policy: default-src 'none'"));
    assert_null(strstr(r.body, "Mei Ling"));
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

/* GET /enroll picks its language from Accept-Language by the weights of RFC 9110, and
 * never by a weight that is no qvalue, such as 1.5, 1e0 or 0.0001. */
static void test_page_language_weights(void **state)
{
    static const struct {
        const char *header;
        const char *lang;
    } cases[] = {
        {"Accept-Language: th;q=1.5, vi;q=0.5", "vi"},
        {"Accept-Language: th;q=1e0, vi;q=0.1", "vi"},
        {"Accept-Language: th;q=0.0001, vi;q=0.001", "vi"},
        {"Accept-Language: th;level=1, vi;q=0.2", "vi"},
        {"Accept-Language: th ; q=0.9 , vi;q=0.8", "th"},
        {"Accept-Language: th;q=0, vi;q=0.001", "vi"},
        {"Accept-Language: th;q=1.000, vi;q=0.999", "th"},
    };
    fixture *f = *state;
    char expected[32];
    http_result r;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *headers[] = {cases[i].header, NULL};

        assert_int_equal(harness_curl_headers(&f->h, NULL, "GET", "/enroll", headers, NULL, &r),
                         0);
        expect_status(&r, 200);
        snprintf(expected, sizeof(expected), "<html lang=\"%s\">", cases[i].lang);
        if (strstr(r.body, expected) == NULL)
            fail_msg("%s: the page is not in %s", cases[i].header, cases[i].lang);
        http_result_clear(&r);
    }
}

/* The lang parameter is read by its exact name. LANG is another parameter, which neither
 * chooses the language nor counts as a repeat of lang. */
static void test_page_lang_parameter_case(void **state)
{
    static const struct {
        const char *path;
        const char *lang;
    } cases[] = {
        {"/enroll?LANG=th", "en"},
        {"/enroll?LANG=th&lang=vi", "vi"},
        {"/enroll?lang=vi&Lang=th", "vi"},
    };
    fixture *f = *state;
    char expected[32];
    http_result r;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(harness_curl(&f->h, NULL, "GET", cases[i].path, NULL, NULL, &r),
                         0);
        expect_status(&r, 200);
        snprintf(expected, sizeof(expected), "<html lang=\"%s\">", cases[i].lang);
        if (strstr(r.body, expected) == NULL)
            fail_msg("%s: the page is not in %s", cases[i].path, cases[i].lang);
        http_result_clear(&r);
    }
}

/* A purpose with a right-to-left override (U+202E) or an Arabic letter mark (U+061C,
 * two bytes in UTF-8) must not read reordered on the page: the relying party's values
 * are isolated in <bdi>, and each control shows as its code point. */
static void test_consent_page_isolates_purpose(void **state)
{
    static const char purpose[] =
        "Pay \xE2\x80\xAE" "tnuocca" "\xE2\x80\xAC" " now \xD8\x9C" "12";
    fixture *f = *state;
    subject s;
    char path[128];
    http_result r;

    make_subject(&f->h, &s, "SG-BIDI", 0x1e);
    post_verification_for(&f->h, &s, purpose, &r);
    expect_status(&r, 202);
    snprintf(path, sizeof(path), "/consent/%s",
             json_string_value(json_object_get(r.json, "consent_id")));
    http_result_clear(&r);

    assert_int_equal(harness_curl(&f->h, NULL, "GET", path, NULL, NULL, &r), 0);
    expect_status(&r, 200);
    if (strstr(r.body, "<bdi>Pay [U+202E]tnuocca[U+202C] now [U+061C]12</bdi>") == NULL)
        fprintf(stderr, "page: %s\n", r.body);
    assert_non_null(strstr(r.body, "<bdi>Pay [U+202E]tnuocca[U+202C] now [U+061C]12</bdi>"));
    assert_null(strstr(r.body, "\xE2\x80\xAE"));
    assert_null(strstr(r.body, "\xE2\x80\xAC"));
    assert_null(strstr(r.body, "\xD8\x9C"));
    assert_non_null(strstr(r.body, "<bdi>Bank One</bdi>"));
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

/* ---- Audit entries of the pages --------------------------------------------------- */

/* Reads every audit entry as the regulator, page by page, as parsed JSON objects. */
static json_t *read_audit_entries(harness *h)
{
    json_t *entries = json_array();
    char path[160] = "/v1/audit/entries?from=0";

    for (;;) {
        http_result r;
        const json_t *item;
        size_t i;

        assert_int_equal(harness_curl(h, CLIENT_REGULATOR, "GET", path, NULL, NULL, &r), 0);
        expect_status(&r, 200);
        json_array_foreach(json_object_get(r.json, "entries"), i, item) {
            const char *text = json_string_value(json_object_get(item, "entry"));
            const char *payload = json_string_value(json_object_get(item, "payload"));
            json_t *entry;

            assert_non_null(text);
            assert_non_null(payload);
            /* The entry names its payload by digest; count_entries reads it as a member. */
            entry = json_loads(text, 0, NULL);
            json_object_set_new(entry, "payload", json_loads(payload, 0, NULL));
            json_array_append_new(entries, entry);
        }
        if (json_object_get(r.json, "next") == NULL) {
            http_result_clear(&r);
            return entries;
        }
        snprintf(path, sizeof(path), "%s",
                 json_string_value(json_object_get(r.json, "next")));
        http_result_clear(&r);
    }
}

/* Counts the entries of kind whose payload member has value (any value when NULL). */
static size_t count_entries(const json_t *entries, const char *kind, const char *member,
                            const char *value)
{
    const json_t *entry;
    size_t index;
    size_t count = 0;

    json_array_foreach(entries, index, entry) {
        const json_t *payload = json_object_get(entry, "payload");
        const char *found = json_string_value(json_object_get(payload, member));

        if (strcmp(json_string_value(json_object_get(entry, "kind")), kind) != 0)
            continue;
        if (value == NULL || (found != NULL && strcmp(found, value) == 0))
            count++;
    }
    return count;
}

/* Returns the payload of the first entry of kind whose member has value. */
static const json_t *find_payload(const json_t *entries, const char *kind,
                                  const char *member, const char *value)
{
    const json_t *entry;
    size_t index;

    json_array_foreach(entries, index, entry) {
        const json_t *payload = json_object_get(entry, "payload");
        const char *found = json_string_value(json_object_get(payload, member));

        if (strcmp(json_string_value(json_object_get(entry, "kind")), kind) == 0 &&
            found != NULL && strcmp(found, value) == 0)
            return payload;
    }
    return NULL;
}

/* Enrollment, removal, a deferred verification, approval and refusal each become an
 * entry that names the subject by the pseudonym of its issuance, never by value. */
static void test_page_events_audited(void **state)
{
    fixture *f = *state;
    subject s;
    soft_ceremony c;
    char removed_id[64];
    char code[64];
    char verification_id[64];
    char approved_id[64];
    char refused_id[64];
    char path[128];
    const json_t *payload;
    const char *pseudonym;
    json_t *entries;
    const json_t *entry;
    size_t index;
    http_result r;

    make_subject(&f->h, &s, "SG-AUDIT-PAGES", 0x10);
    registration_ceremony(&f->h, &s, &c);
    s.auth.credential_id[3] ^= 0x55;
    post_registration(&f->h, &s, &c, NULL, 0, &r);
    expect_status(&r, 201);
    snprintf(removed_id, sizeof(removed_id), "%s",
             json_string_value(json_object_get(r.json, "id")));
    http_result_clear(&r);
    s.auth.credential_id[3] ^= 0x55;
    snprintf(path, sizeof(path), "/account/authenticators/%s/removal", removed_id);
    page_post(&f->h, &s, path, NULL, &r);
    expect_status(&r, 200);
    http_result_clear(&r);

    start_verification(&f->h, &s, verification_id, approved_id);
    consent_ceremony(&f->h, &s, approved_id, &c);
    snprintf(path, sizeof(path), "/consent/%s/approval", approved_id);
    post_assertion(&f->h, &s, path, &c, &r);
    expect_status(&r, 200);
    http_result_clear(&r);
    /* A second credential of the same subject, because an assertion verifies once. */
    issue(&f->h, "SG-AUDIT-PAGES", code, sizeof(code), s.assertion_xml,
          sizeof(s.assertion_xml));
    start_verification(&f->h, &s, verification_id, refused_id);
    snprintf(path, sizeof(path), "/consent/%s/refusal", refused_id);
    page_post(&f->h, NULL, path, NULL, &r);
    expect_status(&r, 200);
    http_result_clear(&r);

    entries = read_audit_entries(&f->h);
    payload = find_payload(entries, "consent_given", "consent_id", approved_id);
    assert_non_null(payload);
    assert_int_equal(strlen(json_string_value(json_object_get(payload, "authenticator_id"))),
                     32);
    assert_int_equal(json_array_size(json_object_get(payload, "claims")), 2);
    pseudonym = json_string_value(json_object_get(payload, "subject"));
    assert_non_null(pseudonym);
    assert_int_equal(strlen(pseudonym), 64);

    /* Every page event of this subject carries the pseudonym of its issuance. */
    assert_int_equal(count_entries(entries, "credential_issued", "subject", pseudonym), 2);
    assert_int_equal(count_entries(entries, "authenticator_enrolled", "subject", pseudonym), 2);
    payload = find_payload(entries, "authenticator_removed", "authenticator_id", removed_id);
    assert_non_null(payload);
    assert_string_equal(json_string_value(json_object_get(payload, "subject")), pseudonym);
    payload = find_payload(entries, "verification_decided", "consent_id", approved_id);
    assert_non_null(payload);
    assert_string_equal(json_string_value(json_object_get(payload, "decision")),
                        "consent_pending");
    assert_string_equal(json_string_value(json_object_get(payload, "subject")), pseudonym);
    assert_non_null(find_payload(entries, "verification_decided", "consent_id", refused_id));
    payload = find_payload(entries, "consent_refused", "consent_id", refused_id);
    assert_non_null(payload);
    assert_string_equal(json_string_value(json_object_get(payload, "subject")), pseudonym);
    assert_null(json_object_get(payload, "authenticator_id"));

    /* No claim value and no NameID reaches any entry. */
    json_array_foreach(entries, index, entry) {
        char *text = json_dumps(entry, JSON_COMPACT);

        assert_null(strstr(text, "Mei Ling"));
        assert_null(strstr(text, "\"Tan\""));
        assert_null(strstr(text, "SG-AUDIT-PAGES"));
        free(text);
    }
    json_decref(entries);
    soft_authenticator_clear(&s.auth);
}

/* ---- Attestation chains: a second daemon with attestation = chain ----------------- */

static int write_root(const soft_ca *ca, const char *path)
{
    FILE *file = fopen(path, "w");
    int rc;

    if (file == NULL)
        return -1;
    rc = PEM_write_X509(file, ca->ca_cert) == 1 ? 0 : -1;
    fclose(file);
    return rc;
}

static int setup_chain(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char root[PATH_MAX + 32];
    char text[PATH_MAX + 512];

    if (f == NULL || harness_setup(&f->h) != 0 || soft_ca_init(&f->ca, NULL) != 0)
        return -1;
    snprintf(root, sizeof(root), "%s/attestation-root.pem", f->h.token.dir);
    snprintf(text, sizeof(text),
             "\n[webauthn]\nrp_id = " SOFT_RP_ID "\norigin = " SOFT_ORIGIN "\n"
             "attestation = chain\nattestation_root = %s\n",
             root);
    if (write_root(&f->ca, root) != 0 || harness_append_config(&f->h, text) != 0 ||
        harness_start(&f->h) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown_chain(void **state)
{
    fixture *f = *state;

    if (f != NULL)
        soft_ca_clear(&f->ca);
    return teardown(state);
}

static void test_chain_roots(void **state)
{
    fixture *f = *state;
    soft_ca unknown;
    subject s;
    soft_ceremony c;
    char code[64];
    http_result r;

    memset(&s, 0, sizeof(s));
    issue(&f->h, "SG-CHAIN", code, sizeof(code), NULL, 0);
    redeem(&f->h, &s, code);
    assert_int_equal(soft_authenticator_init(&s.auth, -7), 0);
    assert_int_equal(soft_ca_init(&unknown, NULL), 0);

    /* A chain to a root that is not configured. */
    registration_ceremony(&f->h, &s, &c);
    c.format = SOFT_FORMAT_PACKED_X5C;
    c.ca = &unknown;
    post_registration(&f->h, &s, &c, NULL, 0, &r);
    expect_problem(&r, 422, "attestation_chain_invalid");
    http_result_clear(&r);

    /* Self attestation is not enough under chain. */
    registration_ceremony(&f->h, &s, &c);
    post_registration(&f->h, &s, &c, NULL, 0, &r);
    expect_problem(&r, 422, "attestation_required");
    http_result_clear(&r);

    /* The configured root is accepted. */
    registration_ceremony(&f->h, &s, &c);
    c.format = SOFT_FORMAT_PACKED_X5C;
    c.ca = &f->ca;
    post_registration(&f->h, &s, &c, NULL, 0, &r);
    expect_status(&r, 201);
    assert_string_equal(json_string_value(json_object_get(r.json, "attestation")), "trusted");
    http_result_clear(&r);

    soft_ca_clear(&unknown);
    soft_authenticator_clear(&s.auth);
}

/* ---- Sign-in challenge limits: a third daemon with max_signin_challenges = 3 -------- */

#define SIGNIN_LIMIT 3

static int setup_limits(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || harness_setup(&f->h) != 0 ||
        harness_append_config(&f->h, pages_config) != 0 ||
        harness_append_config(&f->h, "[webauthn]\nmax_signin_challenges = 3\n") != 0 ||
        harness_start(&f->h) != 0)
        return -1;
    *state = f;
    return 0;
}

/* Counts the stored sign-in challenges (ceremony 2, WEB_CEREMONY_SIGN_IN), live or not. */
static int count_signin_challenges(const harness *h)
{
    return count_where(h, "SELECT count(*) FROM webauthn_challenges WHERE ceremony = ?",
                       "2");
}

/* Expects 503 challenge_capacity with a Retry-After of 1 to CHALLENGE_SECONDS. */
static void expect_capacity(harness *h)
{
    const char *retry;
    http_result r;

    page_post(h, NULL, "/account/signin/options", NULL, &r);
    expect_problem(&r, 503, "challenge_capacity");
    retry = page_find_nocase(r.headers, "Retry-After: ");
    assert_non_null(retry);
    assert_in_range(atoi(retry + strlen("Retry-After: ")), 1, CHALLENGE_SECONDS);
    http_result_clear(&r);
}

/*
 * Live sign-in challenges are capped, used or not, and the table does not grow past
 * the cap. Other ceremonies are not counted. An expired challenge cannot sign in, and
 * challenge_timeout after its expiry its row is gone.
 */
static void test_signin_challenge_cap(void **state)
{
    fixture *f = *state;
    soft_ceremony first[SIGNIN_LIMIT];
    soft_ceremony c;
    subject s;
    http_result r;

    make_subject(&f->h, &s, "SG-LIMITS", 0x21);
    for (size_t i = 0; i < SIGNIN_LIMIT; i++)
        sign_in_ceremony(&f->h, &first[i], &s);
    expect_capacity(&f->h);
    assert_int_equal(count_signin_challenges(&f->h), SIGNIN_LIMIT);

    /* A registration challenge is not a sign-in challenge. */
    registration_ceremony(&f->h, &s, &c);

    /* A response, even a rejected one, does not free a place before the expiry. */
    first[0].rp_id = "other.example";
    post_assertion(&f->h, &s, "/account/signin", &first[0], &r);
    expect_problem(&r, 422, "rp_id_mismatch");
    http_result_clear(&r);
    expect_capacity(&f->h);
    assert_int_equal(count_signin_challenges(&f->h), SIGNIN_LIMIT);

    /* Once they expire there is room again, and an expired one cannot sign in. */
    sleep(CHALLENGE_SECONDS + 1);
    sign_in_ceremony(&f->h, &c, &s);
    post_assertion(&f->h, &s, "/account/signin", &first[1], &r);
    expect_problem(&r, 422, "challenge_expired");
    http_result_clear(&r);

    /* challenge_timeout after their expiry, the next challenge removes their rows. */
    sleep(CHALLENGE_SECONDS);
    sign_in_ceremony(&f->h, &c, &s);
    assert_int_equal(count_signin_challenges(&f->h), 2);
    first[2].sign_count = ++s.counter;
    post_assertion(&f->h, &s, "/account/signin", &first[2], &r);
    expect_problem(&r, 422, "challenge_unknown");
    http_result_clear(&r);
    post_assertion(&f->h, &s, "/account/signin", &c, &r);
    expect_status(&r, 200);
    http_result_clear(&r);
    soft_authenticator_clear(&s.auth);
}

int main(void)
{
    const struct CMUnitTest pages[] = {
        cmocka_unit_test(test_enroll_and_sign_in),
        cmocka_unit_test(test_enroll_new_algorithms),
        cmocka_unit_test(test_options_offer_algorithms),
        cmocka_unit_test(test_enroll_code_single_use),
        cmocka_unit_test(test_enroll_code_kept_on_failure),
        cmocka_unit_test(test_signout_ends_session),
        cmocka_unit_test(test_enroll_code_faults_named),
        cmocka_unit_test(test_enroll_needs_session),
        cmocka_unit_test(test_post_origin_checked),
        cmocka_unit_test(test_post_unknown_member_rejected),
        cmocka_unit_test(test_response_member_type),
        cmocka_unit_test(test_registration_rejections),
        cmocka_unit_test(test_register_padded_challenge_kept),
        cmocka_unit_test(test_register_bad_cbor),
        cmocka_unit_test(test_register_wrong_rp_id),
        cmocka_unit_test(test_remove_authenticator),
        cmocka_unit_test(test_removed_key_ends_session),
        cmocka_unit_test(test_enrolled_id_reply_same),
        cmocka_unit_test(test_cookie_names_exact),
        cmocka_unit_test(test_backup_eligibility_kept),
        cmocka_unit_test(test_backup_eligibility_recorded_once),
        cmocka_unit_test(test_assertion_rejections),
        cmocka_unit_test(test_challenge_replayed),
        cmocka_unit_test(test_challenge_expired),
        cmocka_unit_test(test_counter_regression),
        cmocka_unit_test(test_counter_stale_not_marked),
        cmocka_unit_test(test_consent_approved),
        cmocka_unit_test(test_consent_refused),
        cmocka_unit_test(test_consent_expiry_checked_at_commit),
        cmocka_unit_test(test_consent_deferral_atomic),
        cmocka_unit_test(test_consent_approval_atomic),
        cmocka_unit_test(test_consent_user_handle_checked),
        cmocka_unit_test(test_authenticator_changes_atomic),
        cmocka_unit_test(test_busy_database_is_503),
        cmocka_unit_test(test_consent_wrong_subject),
        cmocka_unit_test(test_consent_page_served),
        cmocka_unit_test(test_page_language_weights),
        cmocka_unit_test(test_page_lang_parameter_case),
        cmocka_unit_test(test_consent_page_isolates_purpose),
        cmocka_unit_test(test_page_events_audited),
    };
    const struct CMUnitTest chain[] = {
        cmocka_unit_test(test_chain_roots),
    };
    const struct CMUnitTest limits[] = {
        cmocka_unit_test(test_signin_challenge_cap),
    };
    int failed = cmocka_run_group_tests_name("enroll_pages", pages, setup, teardown);

    failed += cmocka_run_group_tests_name("enroll_chain", chain, setup_chain, teardown_chain);
    failed += cmocka_run_group_tests_name("enroll_limits", limits, setup_limits, teardown);
    return failed;
}
