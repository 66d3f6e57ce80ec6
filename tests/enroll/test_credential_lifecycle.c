/*
 * A credential's life after issuance, against the real daemon with a SoftHSM2 token, a
 * SQLite file, TLS on loopback and the software authenticator of tests/webauthn.
 * Revoking a credential removes the sessions and keys its enrollment code created. A
 * verification that waits for consent ends when its credential is revoked or expires.
 * An expired credential's code opens no session, and one NameID belongs to one issuer.
 * Every rejection asserts its stable problem code.
 */
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "openapi_check.h"
#include "page_client.h"
#include "server_harness.h"
#include "soft_authenticator.h"
#include "webauthn.h"

#define ORIGIN_HEADER "Origin: " SOFT_ORIGIN

static const char pages_config[] =
    "\n[webauthn]\nrp_id = " SOFT_RP_ID "\norigin = " SOFT_ORIGIN "\n"
    "attestation = self\n"
    "[pages]\nconsent_timeout = 600\n"
    "[rp " CLIENT_RP "]\nconsent = always\nname = Bank One\n";

/* A credential as the issuer received it. */
typedef struct credential {
    char id[64];
    char code[64];
    char assertion[16384];
} credential;

/* A software key with its signature counter. */
typedef struct key {
    soft_authenticator auth;
    uint32_t counter;
} key;

/* ---- HTTP helpers ----------------------------------------------------------------- */

static void expect_status(const http_result *r, long status)
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
    http_result_clear(r);
}

/* Posts from a page, with the session cookie when cookie is not NULL. */
static void page_post(harness *h, const char *cookie, const char *path, const char *body,
                      http_result *out)
{
    char cookie_header[320];
    const char *headers[] = {"Content-Type: application/json", ORIGIN_HEADER, cookie_header,
                             NULL};

    snprintf(cookie_header, sizeof(cookie_header), "Cookie: %s",
             cookie != NULL ? cookie : "");
    assert_int_equal(harness_curl_headers(h, NULL, "POST", path, headers,
                                          body != NULL ? body : "{}", out),
                     0);
}

/* Returns the single integer that sql selects, with ?1 bound to value unless it is NULL,
 * or -1. */
static long long select_number(const harness *h, const char *sql, const char *value)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    long long number = -1;

    assert_int_equal(sqlite3_open_v2(h->db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    if (value != NULL)
        sqlite3_bind_text(stmt, 1, value, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        number = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return number;
}

/* Moves a credential's end of validity two hours back: past it with the clock skew. */
static void expire_credential(const harness *h, const char *credential_id)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;

    assert_int_equal(sqlite3_open(h->db_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "UPDATE credentials SET not_on_or_after ="
                                        " strftime('%s', 'now') - 7200 WHERE id = ?1",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(stmt, 1, credential_id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

/* ---- Issuer and relying party ----------------------------------------------------- */

static void post_credential(harness *h, const char *client, const char *subject,
                            http_result *out)
{
    char body[512];

    snprintf(body, sizeof(body),
             "{\"subject\":\"%s\",\"audience\":\"" RP_ENTITY_ID "\","
             "\"assurance_level\":\"substantial\",\"validity_seconds\":3600,"
             "\"attributes\":{\"given_name\":\"Mei Ling\",\"nationality\":[\"SG\"]}}",
             subject);
    assert_int_equal(harness_curl(h, client, "POST", "/v1/credentials", NULL, body, out), 0);
}

static void issue(harness *h, const char *subject, credential *c)
{
    http_result r;

    post_credential(h, CLIENT_ISSUER, subject, &r);
    expect_status(&r, 201);
    snprintf(c->id, sizeof(c->id), "%s",
             json_string_value(json_object_get(r.json, "credential_id")));
    snprintf(c->code, sizeof(c->code), "%s",
             json_string_value(json_object_get(r.json, "enrollment_code")));
    snprintf(c->assertion, sizeof(c->assertion), "%s",
             json_string_value(json_object_get(r.json, "assertion")));
    http_result_clear(&r);
}

static void revoke(harness *h, const credential *c)
{
    char path[160];
    http_result r;

    snprintf(path, sizeof(path), "/v1/credentials/%s/revocation", c->id);
    assert_int_equal(harness_curl(h, CLIENT_ISSUER, "POST", path, NULL,
                                  "{\"reason\":\"document reported stolen\"}", &r),
                     0);
    expect_status(&r, 200);
    http_result_clear(&r);
}

/* Posts a verification of c for bank-one, which needs consent, and returns its ids. */
static void start_verification(harness *h, const credential *c, char *verification_id,
                               char *consent_id)
{
    json_t *request = json_pack("{s:s, s:s, s:[s], s:i}", "assertion", c->assertion,
                                "purpose", "Open a savings account", "claims", "given_name",
                                "retention_days", 30);
    char *body = json_dumps(request, JSON_COMPACT);
    http_result r;

    assert_int_equal(harness_curl(h, CLIENT_RP, "POST", "/v1/verifications", NULL, body, &r),
                     0);
    expect_status(&r, 202);
    snprintf(verification_id, 64, "%s",
             json_string_value(json_object_get(r.json, "verification_id")));
    snprintf(consent_id, 64, "%s", json_string_value(json_object_get(r.json, "consent_id")));
    http_result_clear(&r);
    free(body);
    json_decref(request);
}

static void fetch_result(harness *h, const char *verification_id, http_result *r)
{
    char path[128];

    snprintf(path, sizeof(path), "/v1/verifications/%s", verification_id);
    assert_int_equal(harness_curl(h, CLIENT_RP, "GET", path, NULL, NULL, r), 0);
}

/* Fails when a reply is not one that schemas/openapi.json lists. */
static void expect_documented(const char *method, const char *pattern, const http_result *r)
{
    json_t *doc = openapi_load();

    assert_non_null(doc);
    assert_int_equal(openapi_check_reply(doc, method, pattern, r), 0);
    json_decref(doc);
}

/* ---- Pages ------------------------------------------------------------------------ */

static void redeem(harness *h, const credential *c, char *cookie, size_t size)
{
    char body[128];
    http_result r;

    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", c->code);
    page_post(h, NULL, "/enroll/code", body, &r);
    expect_status(&r, 200);
    page_read_cookie(&r, cookie, size);
    http_result_clear(&r);
}

/* Enrolls a new key in the session of cookie. */
static void enroll_key(harness *h, const char *cookie, key *k, unsigned char id_byte)
{
    soft_ceremony c;
    char *body;
    http_result r;

    memset(k, 0, sizeof(*k));
    assert_int_equal(soft_authenticator_init(&k->auth, -7), 0);
    k->auth.credential_id[0] = id_byte;
    soft_ceremony_defaults(&c);
    page_post(h, cookie, "/account/registration/options", NULL, &r);
    expect_status(&r, 200);
    page_decode_challenge(&r, c.challenge);
    http_result_clear(&r);

    body = page_wrap_response(soft_register(&k->auth, &c, NULL, 0));
    page_post(h, cookie, "/account/registration", body, &r);
    free(body);
    expect_status(&r, 201);
    http_result_clear(&r);
}

/* Signs the challenge of an options reply with k and posts it to path. */
static void post_assertion(harness *h, key *k, const http_result *options, const char *path,
                           http_result *out)
{
    soft_ceremony c;
    char *body;

    soft_ceremony_defaults(&c);
    page_decode_challenge(options, c.challenge);
    c.sign_count = ++k->counter;
    body = page_wrap_response(soft_authenticate(&k->auth, &c));
    page_post(h, NULL, path, body, out);
    free(body);
}

/* Signs in with k. */
static void sign_in(harness *h, key *k, http_result *out)
{
    http_result options;

    page_post(h, NULL, "/account/signin/options", NULL, &options);
    expect_status(&options, 200);
    post_assertion(h, k, &options, "/account/signin", out);
    http_result_clear(&options);
}

/* Posts a call of a consent request without a key, such as "options" or "refusal". */
static void consent_call(harness *h, const char *consent_id, const char *call,
                         http_result *out)
{
    char path[128];

    snprintf(path, sizeof(path), "/consent/%s/%s", consent_id, call);
    page_post(h, NULL, path, NULL, out);
}

/* Approves a consent request with k. */
static void approve(harness *h, key *k, const char *consent_id, http_result *out)
{
    char path[128];
    http_result options;

    snprintf(path, sizeof(path), "/consent/%s/options", consent_id);
    page_post(h, NULL, path, NULL, &options);
    expect_status(&options, 200);
    snprintf(path, sizeof(path), "/consent/%s/approval", consent_id);
    post_assertion(h, k, &options, path, out);
    http_result_clear(&options);
}

/* Asks for registration options in the session of cookie. Returns the HTTP status,
 * with the problem code in code. */
static long registration_status(harness *h, const char *cookie, char *code, size_t size)
{
    http_result r;
    long status;

    page_post(h, cookie, "/account/registration/options", NULL, &r);
    status = r.status;
    snprintf(code, size, "%s", http_result_code(&r));
    http_result_clear(&r);
    return status;
}

/* ---- Fixture ------------------------------------------------------------------------ */

static int setup(void **state)
{
    harness *h = calloc(1, sizeof(*h));

    if (h == NULL || harness_setup(h) != 0 || harness_append_config(h, pages_config) != 0 ||
        harness_start(h) != 0)
        return -1;
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    harness *h = *state;

    if (h != NULL) {
        harness_teardown(h);
        free(h);
    }
    return 0;
}

/* ---- Revocation ----------------------------------------------------------------------- */

/*
 * A key enrolled with a credential that is revoked later must not act for the subject.
 * The stolen credential's code opened a session that enrolled one key, that key signed
 * in and enrolled another. The subject's own credential enrolled a third key. The
 * revocation ends both sessions, removes the first two keys with an audit entry each,
 * and keeps the third, which alone can approve a consent raised by a new credential.
 */
static void test_revocation_removes_enrollment(void **state)
{
    harness *h = *state;
    credential stolen;
    credential own;
    credential fresh;
    char stolen_cookie[256];
    char signed_in_cookie[256];
    char own_cookie[256];
    char verification_id[64];
    char consent_id[64];
    char code[64];
    key stolen_key;
    key chained_key;
    key own_key;
    http_result r;

    issue(h, "SG-LIFE-STOLEN", &stolen);
    redeem(h, &stolen, stolen_cookie, sizeof(stolen_cookie));
    enroll_key(h, stolen_cookie, &stolen_key, 0x31);
    sign_in(h, &stolen_key, &r);
    expect_status(&r, 200);
    page_read_cookie(&r, signed_in_cookie, sizeof(signed_in_cookie));
    http_result_clear(&r);
    enroll_key(h, signed_in_cookie, &chained_key, 0x32);
    issue(h, "SG-LIFE-STOLEN", &own);
    redeem(h, &own, own_cookie, sizeof(own_cookie));
    enroll_key(h, own_cookie, &own_key, 0x33);

    revoke(h, &stolen);

    /* Both sessions that descend from the stolen credential ended, and the other did not. */
    assert_int_equal(registration_status(h, stolen_cookie, code, sizeof(code)), 401);
    assert_string_equal(code, "session_required");
    assert_int_equal(registration_status(h, signed_in_cookie, code, sizeof(code)), 401);
    assert_string_equal(code, "session_required");
    assert_int_equal(registration_status(h, own_cookie, code, sizeof(code)), 200);

    /* The removed keys cannot sign in, but the subject's own key can. */
    sign_in(h, &stolen_key, &r);
    expect_problem(&r, 422, "authenticator_unknown");
    sign_in(h, &chained_key, &r);
    expect_problem(&r, 422, "authenticator_unknown");
    sign_in(h, &own_key, &r);
    expect_status(&r, 200);
    http_result_clear(&r);

    /* A consent raised by a new credential cannot be approved with a removed key. */
    issue(h, "SG-LIFE-STOLEN", &fresh);
    start_verification(h, &fresh, verification_id, consent_id);
    approve(h, &stolen_key, consent_id, &r);
    expect_problem(&r, 422, "authenticator_unknown");
    fetch_result(h, verification_id, &r);
    expect_status(&r, 202);
    http_result_clear(&r);
    approve(h, &own_key, consent_id, &r);
    expect_status(&r, 200);
    http_result_clear(&r);

    assert_int_equal(select_number(h,
                                   "SELECT count(*) FROM audit_entries WHERE kind ="
                                   " 'authenticator_removed' AND payload LIKE"
                                   " '%\"reason\":\"credential_revoked\"%' AND payload LIKE"
                                   " '%\"credential_id\":\"' || ?1 || '\"%'",
                                   stolen.id),
                     2);
    assert_int_equal(select_number(h,
                                   "SELECT count(*) FROM authenticators WHERE"
                                   " enrollment_credential = ?1",
                                   own.id),
                     1);
    soft_authenticator_clear(&stolen_key.auth);
    soft_authenticator_clear(&chained_key.auth);
    soft_authenticator_clear(&own_key.auth);
}

/* Copies the credential's one key count times, with ids first to first + count - 1 as
 * 32 hex digits. The copies skip the enrollment's checks, as the rows of a database from
 * before the cap of 10 keys per subject do. */
static void insert_keys(const harness *h, const char *credential_id, int first, int count)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;

    assert_int_equal(sqlite3_open(h->db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    assert_int_equal(
        sqlite3_prepare_v2(
            db,
            "WITH RECURSIVE n(i) AS (SELECT ?2 UNION ALL SELECT i + 1 FROM n"
            " WHERE i < ?2 + ?3 - 1)"
            " INSERT INTO authenticators (id, subject_id, credential_id, public_key,"
            " algorithm, sign_count, aaguid, format, attestation, created_at,"
            " enrollment_credential) SELECT printf('%032x', i), subject_id, randomblob(32),"
            " public_key, algorithm, 0, aaguid, format, attestation, created_at,"
            " enrollment_credential FROM authenticators, n WHERE enrollment_credential = ?1",
            -1, &stmt, NULL),
        SQLITE_OK);
    sqlite3_bind_text(stmt, 1, credential_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, first);
    sqlite3_bind_int(stmt, 3, count);
    assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), count);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

/* A subject has at most 10 keys: with one enrolled and nine more stored, the 11th is
 * rejected with authenticator_limit, and removing a key makes room again. The nine are
 * stored directly because a subject may start only eight registrations per ceremony
 * timeout. */
static void test_authenticator_limit(void **state)
{
    harness *h = *state;
    credential c;
    char cookie[256];
    key first;
    key extra;
    soft_ceremony ceremony;
    char *body;
    http_result r;

    issue(h, "SG-LIFE-LIMIT", &c);
    redeem(h, &c, cookie, sizeof(cookie));
    enroll_key(h, cookie, &first, 0x61);
    insert_keys(h, c.id, 3001, 9);

    memset(&extra, 0, sizeof(extra));
    assert_int_equal(soft_authenticator_init(&extra.auth, -7), 0);
    extra.auth.credential_id[0] = 0x62;
    soft_ceremony_defaults(&ceremony);
    page_post(h, cookie, "/account/registration/options", NULL, &r);
    expect_status(&r, 200);
    page_decode_challenge(&r, ceremony.challenge);
    http_result_clear(&r);
    body = page_wrap_response(soft_register(&extra.auth, &ceremony, NULL, 0));
    page_post(h, cookie, "/account/registration", body, &r);
    free(body);
    expect_problem(&r, 409, "authenticator_limit");
    assert_int_equal(select_number(h,
                                   "SELECT count(*) FROM authenticators WHERE"
                                   " enrollment_credential = ?1",
                                   c.id),
                     10);

    /* Removing a key makes room for another. */
    page_post(h, cookie, "/account/authenticators/" "00000000000000000000000000000bb9"
                         "/removal", NULL, &r);
    expect_status(&r, 200);
    http_result_clear(&r);
    soft_authenticator_clear(&extra.auth);
    enroll_key(h, cookie, &extra, 0x62);

    soft_authenticator_clear(&first.auth);
    soft_authenticator_clear(&extra.auth);
}

/* Keys that a thread removes through the pages while the issuer revokes. */
typedef struct churn {
    const harness *h;
    const char *cookie;
    int first;   /* the first key number of this thread */
    int count;
    int stop;
    int removed; /* removals that returned 200 */
} churn;

/* Posts the removal of key number n with its own curl process, so that threads do not
 * share the harness's files. Returns the HTTP status, or -1. */
static int post_removal(const churn *c, int n)
{
    char command[PATH_MAX + 1024];
    char status[16] = "";
    FILE *pipe;

    snprintf(command, sizeof(command),
             "curl -s --max-time 30 --cacert %s/ca.pem -H 'Content-Type: application/json'"
             " -H '" ORIGIN_HEADER "' -H 'Cookie: %s' -X POST --data '{}' -o /dev/null"
             " -w '%%{http_code}' 'https://127.0.0.1:%u/account/authenticators/%032x/removal'",
             c->h->token.dir, c->cookie, c->h->port, (unsigned)n);
    pipe = popen(command, "r");
    if (pipe == NULL)
        return -1;
    if (fgets(status, sizeof(status), pipe) == NULL)
        status[0] = '\0';
    pclose(pipe);
    return atoi(status);
}

static void *run_churn(void *arg)
{
    churn *c = arg;

    for (int i = 0; i < c->count && !__atomic_load_n(&c->stop, __ATOMIC_RELAXED); i++)
        if (post_removal(c, c->first + i) == 200)
            __atomic_fetch_add(&c->removed, 1, __ATOMIC_RELAXED);
    return NULL;
}

/*
 * The holder of a stolen code removes the credential's keys from three threads while
 * the issuer revokes it. The revocation reads the keys in its own transaction, so it
 * commits at the first request, with one authenticator_removed entry per key it removed.
 */
static void test_revocation_commits_during_churn(void **state)
{
    harness *h = *state;
    credential stolen;
    char cookie[256];
    key first_key;
    churn churns[3];
    pthread_t threads[3];
    int removed = 0;

    issue(h, "SG-LIFE-CHURN", &stolen);
    redeem(h, &stolen, cookie, sizeof(cookie));
    enroll_key(h, cookie, &first_key, 0x71);
    insert_keys(h, stolen.id, 1, 2000);

    for (int i = 0; i < 3; i++) {
        churns[i] = (churn){h, cookie, 1 + 600 * i, 600, 0, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, run_churn, &churns[i]), 0);
    }
    nanosleep(&(struct timespec){0, 500000000}, NULL); /* lets the removals start */
    assert_true(__atomic_load_n(&churns[0].removed, __ATOMIC_RELAXED) > 0);
    revoke(h, &stolen);
    for (int i = 0; i < 3; i++)
        __atomic_store_n(&churns[i].stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        removed += churns[i].removed;
    }

    assert_int_equal(select_number(h,
                                   "SELECT count(*) FROM authenticators WHERE"
                                   " enrollment_credential = ?1",
                                   stolen.id),
                     0);
    assert_int_equal(select_number(h,
                                   "SELECT count(*) FROM audit_entries WHERE kind ="
                                   " 'authenticator_removed' AND payload LIKE"
                                   " '%\"reason\":\"credential_revoked\"%' AND payload LIKE"
                                   " '%\"credential_id\":\"' || ?1 || '\"%'",
                                   stolen.id),
                     2001 - removed);
    soft_authenticator_clear(&first_key.auth);
}

/* ---- Verifications that wait for consent ---------------------------------------------- */

/* A subject with a key enrolled through the code of one credential, and a second
 * credential whose verification waits for consent. */
typedef struct waiting {
    credential enrolled;
    credential asked;
    key key;
    char verification_id[64];
    char consent_id[64];
} waiting;

static void start_waiting(harness *h, const char *subject, unsigned char id_byte, waiting *w)
{
    char cookie[256];

    issue(h, subject, &w->enrolled);
    redeem(h, &w->enrolled, cookie, sizeof(cookie));
    enroll_key(h, cookie, &w->key, id_byte);
    issue(h, subject, &w->asked);
    start_verification(h, &w->asked, w->verification_id, w->consent_id);
}

static long long count_rejections(const harness *h, const char *consent_id,
                                  const char *reason)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM audit_entries WHERE kind = 'verification_decided' AND"
             " payload LIKE '%%\"decision\":\"rejected\"%%' AND payload LIKE"
             " '%%\"reason\":\"%s\"%%' AND payload LIKE '%%' || ?1 || '%%'",
             reason);
    return select_number(h, sql, consent_id);
}

/* The credential is revoked while its verification waits: the approval ends it as
 * rejected, with its entry. Neither the relying party's fetch nor a later call of the
 * consent page releases anything, and the page shows that the request ended. */
static void test_revoked_before_approval(void **state)
{
    harness *h = *state;
    waiting w;
    char path[128];
    http_result r;

    start_waiting(h, "SG-LIFE-WAIT-1", 0x41, &w);
    revoke(h, &w.asked);

    approve(h, &w.key, w.consent_id, &r);
    expect_problem(&r, 422, "credential_revoked");
    fetch_result(h, w.verification_id, &r);
    expect_problem(&r, 422, "credential_revoked");
    consent_call(h, w.consent_id, "options", &r);
    expect_problem(&r, 422, "credential_revoked");
    consent_call(h, w.consent_id, "refusal", &r);
    expect_problem(&r, 422, "credential_revoked");
    snprintf(path, sizeof(path), "/consent/%s", w.consent_id);
    assert_int_equal(harness_curl(h, NULL, "GET", path, NULL, NULL, &r), 0);
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "id=\"decided\""));
    assert_null(strstr(r.body, "id=\"approve\""));
    http_result_clear(&r);

    assert_int_equal(count_rejections(h, w.consent_id, "credential_revoked"), 1);
    assert_int_equal(select_number(h,
                                   "SELECT count(*) FROM audit_entries WHERE kind ="
                                   " 'consent_given' AND payload LIKE '%' || ?1 || '%'",
                                   w.consent_id),
                     0);
    assert_int_equal(select_number(h,
                                   "SELECT count(*) FROM pending_verifications WHERE"
                                   " consent_id = ?1 AND json_type(result, '$.held')"
                                   " IS NULL",
                                   w.consent_id),
                     1);
    soft_authenticator_clear(&w.key.auth);
}

/* The subject approved before the revocation: the relying party's fetch after it ends
 * the verification as rejected, and no attestation is signed. */
static void test_revoked_after_approval(void **state)
{
    harness *h = *state;
    waiting w;
    http_result r;

    start_waiting(h, "SG-LIFE-WAIT-2", 0x42, &w);
    approve(h, &w.key, w.consent_id, &r);
    expect_status(&r, 200);
    http_result_clear(&r);
    revoke(h, &w.asked);

    fetch_result(h, w.verification_id, &r);
    expect_problem(&r, 422, "credential_revoked");
    fetch_result(h, w.verification_id, &r);
    expect_problem(&r, 422, "credential_revoked");
    assert_int_equal(count_rejections(h, w.consent_id, "credential_revoked"), 1);
    soft_authenticator_clear(&w.key.auth);
}

/* A credential that expires while its verification waits ends it at the approval, with
 * the SAML verifier's expiry code. */
static void test_expired_while_waiting(void **state)
{
    harness *h = *state;
    waiting w;
    http_result r;

    start_waiting(h, "SG-LIFE-WAIT-3", 0x43, &w);
    expire_credential(h, w.asked.id);

    approve(h, &w.key, w.consent_id, &r);
    expect_problem(&r, 422, "expired");
    fetch_result(h, w.verification_id, &r);
    expect_problem(&r, 422, "expired");
    assert_int_equal(count_rejections(h, w.consent_id, "expired"), 1);
    soft_authenticator_clear(&w.key.auth);
}

/* ---- Enrollment codes and NameIDs ----------------------------------------------------- */

/* The code of an expired credential opens no session and stays unused. */
static void test_expired_code_rejected(void **state)
{
    harness *h = *state;
    credential c;
    char body[128];
    http_result r;

    issue(h, "SG-LIFE-EXPIRED", &c);
    expire_credential(h, c.id);
    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", c.code);
    page_post(h, NULL, "/enroll/code", body, &r);
    expect_status(&r, 410);
    assert_string_equal(http_result_code(&r), "enrollment_code_expired");
    assert_string_equal(http_result_field(&r), "code");
    assert_null(page_find_nocase(r.headers, "set-cookie: __Host-idsvc_session="));
    http_result_clear(&r);
    assert_int_equal(select_number(h,
                                   "SELECT count(*) FROM enrollment_redemptions WHERE"
                                   " credential_id = ?1",
                                   c.id),
                     0);
}

/* Returns how many SAML signatures the HSM made, from GET /metrics. */
static long saml_sign_count(harness *h)
{
    static const char sample[] = "idsvc_hsm_operations_total{operation=\"saml_sign\"} ";
    http_result r;
    const char *at;
    long count;

    assert_int_equal(harness_curl(h, CLIENT_REGULATOR, "GET", "/metrics", NULL, NULL, &r), 0);
    expect_status(&r, 200);
    at = strstr(r.body, sample);
    assert_non_null(at);
    count = strtol(at + strlen(sample), NULL, 10);
    http_result_clear(&r);
    return count;
}

/* A second issuer cannot issue for a NameID that the first one's subject has. The HSM
 * signs nothing for its attempt and nothing of it is stored. Each issuer can still
 * issue for its own NameIDs. */
static void test_name_id_conflict(void **state)
{
    harness *h = *state;
    long long credentials;
    long long issued;
    long signatures;
    http_result r;

    post_credential(h, CLIENT_ISSUER, "SG-LIFE-SHARED", &r);
    expect_status(&r, 201);
    http_result_clear(&r);
    credentials = select_number(h, "SELECT count(*) FROM credentials", NULL);
    issued = select_number(h,
                           "SELECT count(*) FROM audit_entries WHERE kind = ?1",
                           "credential_issued");
    signatures = saml_sign_count(h);

    post_credential(h, CLIENT_ISSUER_TWO, "SG-LIFE-SHARED", &r);
    expect_status(&r, 409);
    assert_string_equal(http_result_code(&r), "subject_conflict");
    assert_string_equal(http_result_field(&r), "subject");
    assert_non_null(
        page_find_nocase(r.headers, "content-type: application/problem+json"));
    http_result_clear(&r);
    assert_int_equal(select_number(h, "SELECT count(*) FROM credentials", NULL),
                     credentials);
    assert_int_equal(select_number(h,
                                   "SELECT count(*) FROM audit_entries WHERE kind = ?1",
                                   "credential_issued"),
                     issued);
    assert_int_equal(saml_sign_count(h), signatures);

    post_credential(h, CLIENT_ISSUER, "SG-LIFE-SHARED", &r);
    expect_status(&r, 201);
    http_result_clear(&r);
    post_credential(h, CLIENT_ISSUER_TWO, "SG-LIFE-OTHER", &r);
    expect_status(&r, 201);
    http_result_clear(&r);
}

/* A person may type the code in lower case, without hyphens, and with O, I or L for the
 * 0 and 1 that the code's alphabet uses instead. */
static void test_code_typed_loosely(void **state)
{
    harness *h = *state;
    credential c;
    char typed[64];
    char body[128];
    size_t n = 0;
    http_result r;

    issue(h, "SG-LIFE-TYPED", &c);
    for (const char *p = c.code; *p != '\0' && n + 1 < sizeof(typed); p++) {
        if (*p == '-')
            continue;
        if (*p == '0')
            typed[n++] = 'o';
        else if (*p == '1')
            typed[n++] = 'l';
        else
            typed[n++] = (char)tolower((unsigned char)*p);
    }
    typed[n] = '\0';

    snprintf(body, sizeof(body), "{\"code\":\" %s \"}", typed);
    page_post(h, NULL, "/enroll/code", body, &r);
    expect_status(&r, 200);
    http_result_clear(&r);

    /* The code works once, however it was typed. */
    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", c.code);
    page_post(h, NULL, "/enroll/code", body, &r);
    expect_problem(&r, 409, "enrollment_code_used");
    http_result_clear(&r);
}

/* A code copied from a message may carry other separators between its groups: a
 * no-break space, an en dash that a text program put for the hyphen, or a line break
 * after it. The node reads them as the hyphens and spaces they stand for. */
static void test_code_separators_read(void **state)
{
    harness *h = *state;
    credential c;
    char typed[128];
    char body[192];
    size_t n = 0;
    http_result r;

    issue(h, "SG-LIFE-SEPARATORS", &c);
    for (const char *p = c.code; *p != '\0' && n + 8 < sizeof(typed); p++) {
        if (*p != '-') {
            typed[n++] = *p;
            continue;
        }
        n += (size_t)snprintf(typed + n, sizeof(typed) - n, n < 10 ? "\\u2013" : "\\u00a0");
    }
    n += (size_t)snprintf(typed + n, sizeof(typed) - n, "\\r\\n");
    typed[n] = '\0';

    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", typed);
    page_post(h, NULL, "/enroll/code", body, &r);
    expect_status(&r, 200);
    http_result_clear(&r);

    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", c.code);
    page_post(h, NULL, "/enroll/code", body, &r);
    expect_problem(&r, 409, "enrollment_code_used");
    http_result_clear(&r);
}

/* A consent link holder, or a session, that loops on an options call gets at most eight
 * live challenges, then 429 too_many_challenges with Retry-After, and the rows stop
 * growing. */
static void test_scoped_challenges_capped(void **state)
{
    harness *h = *state;
    waiting w;
    credential c;
    char cookie[256];
    http_result r;

    start_waiting(h, "SG-LIFE-CAP-1", 0x51, &w);
    for (int i = 0; i < 8; i++) {
        consent_call(h, w.consent_id, "options", &r);
        expect_status(&r, 200);
        http_result_clear(&r);
    }
    consent_call(h, w.consent_id, "options", &r);
    assert_non_null(page_find_nocase(r.headers, "Retry-After: "));
    expect_status(&r, 429);
    assert_string_equal(json_string_value(json_object_get(r.json, "title")),
                        "Too Many Requests");
    expect_documented("POST", "/consent/{id}/options", &r);
    expect_problem(&r, 429, "too_many_challenges");
    assert_int_equal(select_number(h, "SELECT count(*) FROM webauthn_challenges"
                                      " WHERE consent_id = ?",
                                   w.consent_id),
                     8);
    soft_authenticator_clear(&w.key.auth);

    issue(h, "SG-LIFE-CAP-2", &c);
    redeem(h, &c, cookie, sizeof(cookie));
    for (int i = 0; i < 8; i++) {
        page_post(h, cookie, "/account/registration/options", NULL, &r);
        expect_status(&r, 200);
        http_result_clear(&r);
    }
    page_post(h, cookie, "/account/registration/options", NULL, &r);
    expect_status(&r, 429);
    assert_string_equal(json_string_value(json_object_get(r.json, "title")),
                        "Too Many Requests");
    expect_documented("POST", "/account/registration/options", &r);
    expect_problem(&r, 429, "too_many_challenges");
}

/* A SIGHUP that turns the pages off while a verification waits leaves its subject no
 * page to decide on, so the relying party's fetch gets consent_unavailable, not 500. */
static void test_pages_off_while_waiting(void **state)
{
    harness *h = *state;
    credential c;
    char verification_id[64];
    char consent_id[64];
    char command[PATH_MAX + 96];
    http_result r;
    char *log;

    issue(h, "SG-LIFE-PAGES-OFF", &c);
    start_verification(h, &c, verification_id, consent_id);

    snprintf(command, sizeof(command), "sed -i -e '/^rp_id = /d' -e '/^origin = /d' '%s'",
             h->config_path);
    assert_int_equal(system(command), 0);
    assert_int_equal(kill(h->pid, SIGHUP), 0);
    log = harness_wait_for_log(h, "\"event\":\"reloaded\"");
    assert_non_null(log);
    if (strstr(log, "\"event\":\"reloaded\"") == NULL)
        harness_dump_log(h);
    assert_non_null(strstr(log, "\"event\":\"reloaded\""));
    free(log);

    fetch_result(h, verification_id, &r);
    expect_problem(&r, 409, "consent_unavailable");
    http_result_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revocation_removes_enrollment),
        cmocka_unit_test(test_authenticator_limit),
        cmocka_unit_test(test_revocation_commits_during_churn),
        cmocka_unit_test(test_revoked_before_approval),
        cmocka_unit_test(test_revoked_after_approval),
        cmocka_unit_test(test_expired_while_waiting),
        cmocka_unit_test(test_expired_code_rejected),
        cmocka_unit_test(test_name_id_conflict),
        cmocka_unit_test(test_code_typed_loosely),
        cmocka_unit_test(test_code_separators_read),
        cmocka_unit_test(test_scoped_challenges_capped),
        cmocka_unit_test(test_pages_off_while_waiting),
    };

    return cmocka_run_group_tests_name("credential_lifecycle", tests, setup, teardown);
}
