/* schemas/openapi.json against the daemon. The route table must list the same routes as
 * the document, with the same methods and roles (the x-idsvc-roles extension), and HEAD
 * beside every GET. Then a running daemon's replies must be ones that the document lists
 * (openapi_check.h). The replies cover HEAD on every GET route, 405 on every path, 413
 * and 415 on every POST route, and 413 on every GET and HEAD route. They also cover the
 * consent page's 404 for browsers and API clients, 429 on registration options, 410 on
 * the calls of an expired consent request and the audience's maximum length. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "http.h"
#include "openapi_check.h"
#include "server_harness.h"

#define PAGES_ORIGIN "https://id.example.org"
#define ORIGIN_HEADER "Origin: " PAGES_ORIGIN
#define UNKNOWN_ID "unknown-id"
#define BROWSER_ACCEPT "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"

/* The pages on, and consent for every verification of bank-one, so that a consent
 * request can be made without the policy engine. */
static const char pages_config[] = "\n[webauthn]\nrp_id = id.example.org\norigin = " PAGES_ORIGIN
                                   "\n[pages]\nconsent_timeout = 600\n"
                                   "[rp " CLIENT_RP "]\nconsent = always\nname = Bank One\n";

static harness server;
static json_t *document;

static json_t *load_document(void)
{
    json_t *doc = openapi_load();

    assert_non_null(doc);
    return doc;
}

static unsigned roles_of(const json_t *operation)
{
    const json_t *list = json_object_get(operation, "x-idsvc-roles");
    const json_t *item;
    size_t index;
    unsigned roles = 0;

    assert_true(json_is_array(list));
    json_array_foreach(list, index, item) {
        const char *name = json_string_value(item);
        unsigned role = ROLE_NONE;

        for (unsigned bit = ROLE_ISSUER; bit <= ROLE_NODE; bit <<= 1)
            if (name != NULL && strcmp(name, config_role_name(bit)) == 0)
                role = bit;
        if (role == ROLE_NONE)
            fprintf(stderr, "unknown role \"%s\"\n", name != NULL ? name : "");
        assert_int_not_equal(role, ROLE_NONE);
        roles |= role;
    }
    return roles;
}

static void lower(const char *in, char *out, size_t size)
{
    size_t i = 0;

    for (; in[i] != '\0' && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

/* ---- The route table ---------------------------------------------------------------- */

/* Every documented operation is served with its roles. HEAD is served by the GET route
 * of its path. */
static void test_document_routes_exist(void **state)
{
    json_t *doc = load_document();
    const char *path;
    json_t *item;
    size_t count;
    const http_route *routes = http_routes(&count);
    size_t operations = 0;
    size_t get_routes = 0;

    (void)state;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        const char *method;
        json_t *operation;

        json_object_foreach(item, method, operation) {
            const char *served = strcmp(method, "head") == 0 ? "get" : method;
            const http_route *found = NULL;
            char wanted[16];

            for (size_t i = 0; i < count; i++) {
                lower(routes[i].method, wanted, sizeof(wanted));
                if (strcmp(routes[i].pattern, path) == 0 && strcmp(wanted, served) == 0)
                    found = &routes[i];
            }
            if (found == NULL)
                fprintf(stderr, "%s %s is documented but not served\n", method, path);
            assert_non_null(found);
            if (roles_of(operation) != found->roles)
                fprintf(stderr, "%s %s: the roles differ\n", method, path);
            assert_int_equal(roles_of(operation), found->roles);
            operations++;
        }
    }
    for (size_t i = 0; i < count; i++)
        get_routes += strcmp(routes[i].method, "GET") == 0;
    assert_int_equal(operations, count + get_routes);
    json_decref(doc);
}

/* Every served route is documented, and every GET route has its HEAD operation. */
static void test_served_routes_documented(void **state)
{
    json_t *doc = load_document();
    size_t count;
    const http_route *routes = http_routes(&count);

    (void)state;
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_object_get(json_object_get(doc, "paths"), routes[i].pattern);
        char method[16];

        lower(routes[i].method, method, sizeof(method));
        if (json_object_get(item, method) == NULL)
            fprintf(stderr, "%s %s is served but not documented\n", routes[i].method,
                    routes[i].pattern);
        assert_non_null(json_object_get(item, method));
        if (strcmp(routes[i].method, "GET") != 0)
            continue;
        if (json_object_get(item, "head") == NULL)
            fprintf(stderr, "HEAD %s is served but not documented\n", routes[i].pattern);
        assert_non_null(json_object_get(item, "head"));
    }
    json_decref(doc);
}

/* Returns the response object, following a $ref into components/responses. */
static json_t *resolve_response(json_t *doc, json_t *response)
{
    const char *ref = json_string_value(json_object_get(response, "$ref"));
    const char *prefix = "#/components/responses/";

    if (ref == NULL)
        return response;
    assert_int_equal(strncmp(ref, prefix, strlen(prefix)), 0);
    return json_object_get(json_object_get(json_object_get(doc, "components"), "responses"),
                           ref + strlen(prefix));
}

/* No response of a HEAD operation declares content, because a reply to HEAD has no
 * body (RFC 9110, section 9.3.2). */
static void test_head_responses_have_no_body(void **state)
{
    json_t *doc = load_document();
    const char *path;
    json_t *item;
    size_t with_content = 0;

    (void)state;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        json_t *head = json_object_get(item, "head");
        const char *status;
        json_t *response;

        json_object_foreach(json_object_get(head, "responses"), status, response) {
            json_t *resolved = resolve_response(doc, response);

            assert_non_null(resolved);
            if (json_object_get(resolved, "content") == NULL)
                continue;
            fprintf(stderr, "HEAD %s: the %s response declares a body\n", path, status);
            with_content++;
        }
    }
    assert_int_equal(with_content, 0);
    json_decref(doc);
}

/* ---- Replies of a running daemon ---------------------------------------------------- */

static int start_server(void **state)
{
    (void)state;
    document = openapi_load();
    if (document == NULL)
        return -1;
    if (harness_setup(&server) != 0 || harness_append_config(&server, pages_config) != 0 ||
        harness_start(&server) != 0) {
        harness_teardown(&server);
        return -1;
    }
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    json_decref(document);
    document = NULL;
    return harness_finish(&server);
}

static void expect_documented(const char *method, const char *pattern,
                              const http_result *r)
{
    int mismatches = openapi_check_reply(document, method, pattern, r);

    if (mismatches != 0)
        fprintf(stderr, "reply: HTTP %ld\n%s\n%s\n", r->status,
                r->headers != NULL ? r->headers : "", r->body != NULL ? r->body : "");
    assert_int_equal(mismatches, 0);
}

static void expect_status(const http_result *r, long status)
{
    if (r->status != status)
        fprintf(stderr, "expected HTTP %ld, got %ld: %s\n", status, r->status,
                r->body != NULL ? r->body : "");
    assert_int_equal(r->status, status);
}

static void expect_problem(const http_result *r, long status, const char *code)
{
    expect_status(r, status);
    assert_string_equal(http_result_code(r), code);
}

/* A client certificate that the route's roles accept, or NULL for a public route. */
static const char *client_for(unsigned roles)
{
    if (roles & ROLE_ISSUER)
        return CLIENT_ISSUER;
    if (roles & ROLE_RP)
        return CLIENT_RP;
    if (roles & ROLE_REGULATOR)
        return CLIENT_REGULATOR;
    return NULL;
}

/* The route's pattern with each {id} replaced by an id that names nothing. */
static void concrete_path(const char *pattern, char *out, size_t size)
{
    const char *at = strstr(pattern, "{id}");

    if (at == NULL)
        snprintf(out, size, "%s", pattern);
    else
        snprintf(out, size, "%.*s" UNKNOWN_ID "%s", (int)(at - pattern), pattern, at + 4);
}

/* A body of len bytes that is a JSON object, larger than [limits] max_body_bytes when
 * len is. The caller frees it. */
static char *blank_object(size_t len)
{
    char *body = malloc(len + 1);

    assert_non_null(body);
    memset(body, ' ', len);
    body[0] = '{';
    body[len - 1] = '}';
    body[len] = '\0';
    return body;
}

static void page_post(const char *cookie, const char *path, const char *body,
                      http_result *out)
{
    char cookie_header[320];
    const char *headers[] = {"Content-Type: application/json", ORIGIN_HEADER, cookie_header,
                             NULL};

    snprintf(cookie_header, sizeof(cookie_header), "Cookie: %s",
             cookie != NULL ? cookie : "");
    assert_int_equal(harness_curl_headers(&server, NULL, "POST", path, headers,
                                          body != NULL ? body : "{}", out),
                     0);
}

/* Issues a credential for subject; fills the enrollment code and the assertion. */
static void issue(const char *subject, char *code, size_t code_size, char **assertion)
{
    char body[512];
    http_result r;

    snprintf(body, sizeof(body),
             "{\"subject\":\"%s\",\"audience\":\"" RP_ENTITY_ID "\","
             "\"assurance_level\":\"substantial\",\"validity_seconds\":3600,"
             "\"attributes\":{\"given_name\":\"Mei Ling\",\"nationality\":[\"SG\"]}}",
             subject);
    assert_int_equal(
        harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, body, &r), 0);
    expect_status(&r, 201);
    expect_documented("POST", "/v1/credentials", &r);
    snprintf(code, code_size, "%s",
             json_string_value(json_object_get(r.json, "enrollment_code")));
    if (assertion != NULL) {
        *assertion = strdup(json_string_value(json_object_get(r.json, "assertion")));
        assert_non_null(*assertion);
    }
    http_result_clear(&r);
}

/* HEAD gets GET's status and media type without the body, on every GET route, and both
 * replies are listed. */
static void test_head_on_every_get_route(void **state)
{
    size_t count;
    const http_route *routes = http_routes(&count);

    (void)state;
    for (size_t i = 0; i < count; i++) {
        raw_client *client = NULL;
        http_result head;
        http_result get;
        char path[256];

        if (strcmp(routes[i].method, "GET") != 0)
            continue;
        concrete_path(routes[i].pattern, path, sizeof(path));
        assert_int_equal(raw_connect(&server, "NORMAL", client_for(routes[i].roles), &client),
                         0);
        assert_int_equal(raw_request(client, "HEAD", path, NULL, &head), 0);
        assert_int_equal(raw_request(client, "GET", path, NULL, &get), 0);
        raw_close(&client);

        expect_documented("HEAD", routes[i].pattern, &head);
        expect_documented("GET", routes[i].pattern, &get);
        assert_int_equal(head.status, get.status);
        http_result_clear(&head);
        http_result_clear(&get);
    }
}

/* A method that no path serves gets 405 with an Allow header that names the documented
 * methods of the path, HEAD included. */
static void test_other_method_on_every_path(void **state)
{
    const char *pattern;
    json_t *item;

    (void)state;
    json_object_foreach(json_object_get(document, "paths"), pattern, item) {
        char path[256];
        http_result r;

        concrete_path(pattern, path, sizeof(path));
        assert_int_equal(harness_curl(&server, NULL, "DELETE", path, NULL, NULL, &r), 0);
        expect_problem(&r, 405, "method_not_allowed");
        expect_documented("DELETE", pattern, &r);
        http_result_clear(&r);
    }
}

/* Every POST route rejects a body that is not JSON with 415, and a body over
 * [limits] max_body_bytes (65536 in the harness) with 413. The page routes check the
 * Origin only after these. */
static void test_post_media_type_and_size(void **state)
{
    static const char *const expect_headers[] = {"Content-Type: application/json",
                                                 "Expect: 100-continue", NULL};
    size_t count;
    const http_route *routes = http_routes(&count);
    char *large = blank_object(70000);

    (void)state;
    for (size_t i = 0; i < count; i++) {
        const char *client = client_for(routes[i].roles);
        char path[256];
        http_result r;

        if (strcmp(routes[i].method, "POST") != 0)
            continue;
        concrete_path(routes[i].pattern, path, sizeof(path));

        assert_int_equal(harness_curl(&server, client, "POST", path, "text/plain", "{}", &r),
                         0);
        expect_problem(&r, 415, "unsupported_media_type");
        expect_documented("POST", routes[i].pattern, &r);
        http_result_clear(&r);

        /* With Expect, curl waits for the response before it sends the body. Without
         * it, the node's early 413 and close could reset the connection while curl still
         * sends, and curl would receive no response at all. */
        assert_int_equal(harness_curl_headers(&server, client, "POST", path, expect_headers,
                                              large, &r),
                         0);
        expect_problem(&r, 413, "body_too_large");
        expect_documented("POST", routes[i].pattern, &r);
        http_result_clear(&r);
    }
    free(large);
}

/* GET and HEAD read no body, but a declared body over [limits] max_body_bytes (65536 in
 * the harness) gets 413 before anything is read, on every GET route, and the document
 * lists it. */
static void test_get_declared_body_too_large(void **state)
{
    static const char *const methods[] = {"GET", "HEAD"};
    size_t count;
    const http_route *routes = http_routes(&count);

    (void)state;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(routes[i].method, "GET") != 0)
            continue;
        for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
            bool head = strcmp(methods[m], "HEAD") == 0;
            raw_client *client = NULL;
            char path[256];
            char text[512];
            http_result r;

            concrete_path(routes[i].pattern, path, sizeof(path));
            snprintf(text, sizeof(text),
                     "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 70000\r\n\r\n",
                     methods[m], path);
            assert_int_equal(
                raw_connect(&server, "NORMAL", client_for(routes[i].roles), &client), 0);
            assert_int_equal(
                raw_exchange_timed(client, text, strlen(text), head, 10000, &r), 0);
            raw_close(&client);

            expect_status(&r, 413);
            if (!head)
                assert_string_equal(http_result_code(&r), "body_too_large");
            expect_documented(methods[m], routes[i].pattern, &r);
            http_result_clear(&r);
        }
    }
}

static void get_consent_page(const char *accept, http_result *r)
{
    const char *headers[] = {accept, NULL};

    assert_int_equal(harness_curl_headers(&server, NULL, "GET", "/consent/" UNKNOWN_ID,
                                          accept != NULL ? headers : NULL, NULL, r),
                     0);
}

/* An unknown consent id gets a page for a browser and a problem document for any
 * other client, both 404 consent_not_found and both listed. */
static void test_consent_page_not_found(void **state)
{
    static const char *const api_accepts[] = {
        "Accept: application/json",
        "Accept: application/problem+json",
        "Accept: text/html;q=0, application/json",
        "Accept: text/*",
        NULL, /* curl's default, which is every type */
    };
    http_result r;

    (void)state;
    get_consent_page(BROWSER_ACCEPT, &r);
    expect_status(&r, 404);
    assert_non_null(strstr(r.headers, "Content-Type: text/html"));
    assert_non_null(strstr(r.headers, "Vary: Accept"));
    assert_non_null(strstr(r.body, "<html"));
    expect_documented("GET", "/consent/{id}", &r);
    http_result_clear(&r);

    for (size_t i = 0; i < sizeof(api_accepts) / sizeof(api_accepts[0]); i++) {
        get_consent_page(api_accepts[i], &r);
        expect_problem(&r, 404, "consent_not_found");
        assert_non_null(strstr(r.headers, "Content-Type: application/problem+json"));
        assert_non_null(strstr(r.headers, "Vary: Accept"));
        expect_documented("GET", "/consent/{id}", &r);
        http_result_clear(&r);
    }
}

/* A session that loops on the registration options gets 429 too_many_challenges after
 * eight live challenges, with Retry-After. */
static void test_registration_options_capped(void **state)
{
    char code[64];
    char cookie[256] = "";
    const char *set_cookie;
    char body[128];
    http_result r;

    (void)state;
    issue("SG-OPENAPI-CAP", code, sizeof(code), NULL);
    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
    page_post(NULL, "/enroll/code", body, &r);
    expect_status(&r, 200);
    expect_documented("POST", "/enroll/code", &r);
    set_cookie = strstr(r.headers, "__Host-idsvc_session=");
    assert_non_null(set_cookie);
    snprintf(cookie, sizeof(cookie), "%.*s", (int)strcspn(set_cookie, ";\r\n"), set_cookie);
    http_result_clear(&r);

    for (int i = 0; i < 8; i++) {
        page_post(cookie, "/account/registration/options", NULL, &r);
        expect_status(&r, 200);
        expect_documented("POST", "/account/registration/options", &r);
        http_result_clear(&r);
    }
    page_post(cookie, "/account/registration/options", NULL, &r);
    expect_problem(&r, 429, "too_many_challenges");
    assert_string_equal(json_string_value(json_object_get(r.json, "title")),
                        "Too Many Requests");
    expect_documented("POST", "/account/registration/options", &r);
    http_result_clear(&r);
}

/* The options, approval and refusal calls of a consent request past its expiry get 410
 * consent_expired, and the relying party's fetch reports the request expired. */
static void test_consent_calls_after_expiry(void **state)
{
    static const char *const calls[] = {"options", "approval", "refusal"};
    char code[64];
    char *assertion = NULL;
    char consent_id[64];
    char verification_id[64];
    char path[160];
    char sql[256];
    json_t *request;
    char *body;
    http_result r;

    (void)state;
    issue("SG-OPENAPI-EXPIRED", code, sizeof(code), &assertion);
    request = json_pack("{s:s, s:s, s:[s]}", "assertion", assertion, "purpose",
                        "Open a savings account", "claims", "given_name");
    body = json_dumps(request, JSON_COMPACT);
    assert_int_equal(
        harness_curl(&server, CLIENT_RP, "POST", "/v1/verifications", NULL, body, &r), 0);
    expect_status(&r, 202);
    expect_documented("POST", "/v1/verifications", &r);
    snprintf(consent_id, sizeof(consent_id), "%s",
             json_string_value(json_object_get(r.json, "consent_id")));
    snprintf(verification_id, sizeof(verification_id), "%s",
             json_string_value(json_object_get(r.json, "verification_id")));
    http_result_clear(&r);

    snprintf(sql, sizeof(sql), "UPDATE consent_requests SET expires_at = 1 WHERE id = '%s'",
             consent_id);
    assert_int_equal(harness_sql(&server, sql), 0);

    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        char pattern[64];

        snprintf(path, sizeof(path), "/consent/%s/%s", consent_id, calls[i]);
        snprintf(pattern, sizeof(pattern), "/consent/{id}/%s", calls[i]);
        page_post(NULL, path,
                  strcmp(calls[i], "approval") == 0 ? "{\"response\":{}}" : NULL, &r);
        expect_problem(&r, 410, "consent_expired");
        expect_documented("POST", pattern, &r);
        http_result_clear(&r);
    }

    snprintf(path, sizeof(path), "/v1/verifications/%s", verification_id);
    assert_int_equal(harness_curl(&server, CLIENT_RP, "GET", path, NULL, NULL, &r), 0);
    expect_status(&r, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "decision")), "expired");
    expect_documented("GET", "/v1/verifications/{id}", &r);
    http_result_clear(&r);

    free(body);
    free(assertion);
    json_decref(request);
}

/* The document's maxLength of CredentialRequest.audience is the node's limit. */
static void test_audience_max_length(void **state)
{
    const json_t *audience = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(document, "components"),
                                            "schemas"),
                            "CredentialRequest"),
            "properties"),
        "audience");
    size_t max = (size_t)json_integer_value(json_object_get(audience, "maxLength"));
    static const char prefix[] = "https://bank.example/";

    (void)state;
    assert_true(json_is_integer(json_object_get(audience, "maxLength")));
    assert_true(max > sizeof(prefix));
    for (size_t len = max; len <= max + 1; len++) {
        char *value = malloc(len + 1);
        json_t *request;
        char *body;
        http_result r;

        assert_non_null(value);
        memset(value, 'a', len);
        memcpy(value, prefix, strlen(prefix));
        value[len] = '\0';
        request = json_pack("{s:s, s:s, s:s, s:i, s:{s:s}}", "subject", "SG-OPENAPI-AUD",
                            "audience", value, "assurance_level", "substantial",
                            "validity_seconds", 3600, "attributes", "given_name", "Mei");
        body = json_dumps(request, JSON_COMPACT);
        assert_int_equal(
            harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL, body, &r),
            0);
        expect_documented("POST", "/v1/credentials", &r);
        if (len == max) {
            expect_status(&r, 201);
        } else {
            expect_status(&r, 400);
            assert_string_equal(http_result_field(&r), "audience");
        }
        http_result_clear(&r);
        free(body);
        json_decref(request);
        free(value);
    }
}

int main(void)
{
    const struct CMUnitTest table_tests[] = {
        cmocka_unit_test(test_document_routes_exist),
        cmocka_unit_test(test_served_routes_documented),
        cmocka_unit_test(test_head_responses_have_no_body),
    };
    const struct CMUnitTest reply_tests[] = {
        cmocka_unit_test(test_head_on_every_get_route),
        cmocka_unit_test(test_other_method_on_every_path),
        cmocka_unit_test(test_post_media_type_and_size),
        cmocka_unit_test(test_get_declared_body_too_large),
        cmocka_unit_test(test_consent_page_not_found),
        cmocka_unit_test(test_registration_options_capped),
        cmocka_unit_test(test_consent_calls_after_expiry),
        cmocka_unit_test(test_audience_max_length),
    };
    int failed = cmocka_run_group_tests_name("route table", table_tests, NULL, NULL);

    return failed +
           cmocka_run_group_tests_name("replies", reply_tests, start_server, stop_server);
}
