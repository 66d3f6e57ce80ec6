/*
 * Page sessions and the checks on requests that pages send. A session is a random
 * 32-byte token in a __Host- cookie (HttpOnly, Secure, SameSite=Strict); the node
 * stores only its SHA-256 digest, so a database reader cannot sign in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <openssl/sha.h>

#include "log.h"
#include "problem.h"
#include "web.h"

#define SESSION_COOKIE "__Host-idsvc_session"
#define TOKEN_BYTES 32

#ifndef IDSVC_WEB_DIR
#define IDSVC_WEB_DIR "web"
#endif

const char *web_assets_dir(const http_request *request)
{
    const char *dir = request->snapshot->cfg->web.assets_dir;

    return dir != NULL ? dir : IDSVC_WEB_DIR;
}

bool web_enabled(const http_request *request, http_reply *reply)
{
    if (request->snapshot->cfg->web.rp_id == NULL) {
        problem_set(reply, 404, "pages_not_configured", NULL,
                    "This node serves no citizen pages: [webauthn] rp_id is not set.");
        return false;
    }
    if (web_i18n_load(web_assets_dir(request)) != 0) {
        log_message(LOG_ERROR, "pages_unavailable", "the message catalogues in %s/i18n "
                    "could not be loaded", web_assets_dir(request));
        problem_internal(reply);
        return false;
    }
    return true;
}

bool web_origin_allowed(const http_request *request, http_reply *reply)
{
    const config_web *web = &request->snapshot->cfg->web;
    const char *origin = http_request_header(request, "Origin");

    if (origin == NULL) {
        problem_set(reply, 403, "origin_missing", NULL,
                    "Requests from the pages must carry an Origin header.");
        return false;
    }
    /* A browser sends one Origin (RFC 6454, section 7.3). With several, a proxy in
     * front may have checked a different one than the first, which the node reads. */
    if (http_request_header_count(request, "Origin") > 1) {
        problem_set(reply, 403, "origin_not_allowed", NULL,
                    "The request has %u Origin headers. Send one.",
                    http_request_header_count(request, "Origin"));
        return false;
    }
    for (size_t i = 0; i < web->origin_count; i++)
        if (strcmp(origin, web->origins[i]) == 0)
            return true;

    log_field fields[] = {
        {"request_id", request->request_id},
        {"origin", origin},
        {"path", request->path},
    };
    log_event(LOG_WARN, "origin_rejected", fields, sizeof(fields) / sizeof(fields[0]));
    problem_set(reply, 403, "origin_not_allowed", NULL,
                "The Origin of this request is not one of the node's page origins.");
    return false;
}

const char *const web_members_none[] = {NULL};
const char *const web_members_response[] = {"response", NULL};
const char *const web_members_code[] = {"code", NULL};

json_t *web_begin_call(const http_request *request, const char *const *members,
                       http_reply *reply)
{
    json_t *body;

    if (!web_enabled(request, reply) || !web_origin_allowed(request, reply))
        return NULL;
    body = http_parse_json_body(request, reply);
    if (body != NULL && !http_json_known_members(body, members, reply)) {
        json_decref(body);
        return NULL;
    }
    return body;
}

const char *web_cookie_value(const http_request *request, const char *name, size_t *len)
{
    const char *pair = http_request_header(request, "Cookie");
    size_t name_len = strlen(name);

    /* Compares whole names: a cookie such as "x__Host-idsvc_session", which a sibling
     * host may set without the __Host- rules, must not pass for the session cookie. */
    while (pair != NULL && *pair != '\0') {
        size_t pair_len;

        pair += strspn(pair, " \t");
        pair_len = strcspn(pair, ";");
        if (pair_len > name_len && strncmp(pair, name, name_len) == 0 &&
            pair[name_len] == '=') {
            const char *value = pair + name_len + 1;

            *len = strcspn(value, "; \t");
            return value;
        }
        pair += pair_len;
        if (*pair == ';')
            pair++;
    }
    return NULL;
}

/* Decodes the session cookie and hashes it. Returns 0, or -1 when there is none. */
static int cookie_token_hash(const http_request *request, unsigned char hash[32])
{
    size_t len = 0;
    const char *start = web_cookie_value(request, SESSION_COOKIE, &len);
    unsigned char *token = NULL;
    size_t token_len = 0;

    if (start == NULL)
        return -1;
    if (webauthn_base64url_decode(start, len, &token, &token_len) != 0)
        return -1;
    if (token_len != TOKEN_BYTES) {
        free(token);
        return -1;
    }
    SHA256(token, token_len, hash);
    explicit_bzero(token, token_len);
    free(token);
    return 0;
}

int web_session_read(const http_request *request, web_session *out)
{
    store *s = request->node->store;
    unsigned char hash[32];
    store_status status;

    if (cookie_token_hash(request, hash) != 0)
        return 0;
    status = s->ops->web->session_get(s, hash, time(NULL), out);
    if (status == STORE_OK)
        return 1;
    return status == STORE_NOT_FOUND ? 0 : -1;
}

int web_session_subject(const http_request *request, int64_t *subject_id)
{
    web_session session;
    int rc = web_session_read(request, &session);

    if (rc == 1)
        *subject_id = session.subject_id;
    return rc;
}

int web_session_prepare(const http_request *request, web_session *session, char **token_text)
{
    unsigned seconds = request->snapshot->cfg->web.session_seconds;
    unsigned char token[TOKEN_BYTES];
    int rc = -1;

    memset(session, 0, sizeof(*session));
    session->expires_at = time(NULL) + seconds;
    *token_text = NULL;
    if (gnutls_rnd(GNUTLS_RND_KEY, token, sizeof(token)) == 0 &&
        webauthn_base64url_encode(token, sizeof(token), token_text) == 0) {
        SHA256(token, sizeof(token), session->token_hash);
        rc = 0;
    }
    explicit_bzero(token, sizeof(token));
    return rc;
}

void web_session_token_free(char **token_text)
{
    if (*token_text != NULL)
        explicit_bzero(*token_text, strlen(*token_text));
    free(*token_text);
    *token_text = NULL;
}

int web_session_set_cookie(const http_request *request, http_reply *reply,
                           const char *token_text)
{
    char cookie[160];

    snprintf(cookie, sizeof(cookie),
             SESSION_COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=%u",
             token_text, request->snapshot->cfg->web.session_seconds);
    if (http_reply_header(reply, "Set-Cookie", cookie) != 0) {
        problem_internal(reply);
        return -1;
    }
    return 0;
}

int web_session_start(http_request *request, http_reply *reply, const web_authenticator *key)
{
    store *s = request->node->store;
    web_session session;
    char *text = NULL;
    int rc = -1;

    if (web_session_prepare(request, &session, &text) != 0)
        goto out;
    session.subject_id = key->subject_id;
    snprintf(session.enrollment_credential, sizeof(session.enrollment_credential), "%s",
             key->enrollment_credential);
    snprintf(session.authenticator, sizeof(session.authenticator), "%s", key->id);
    if (s->ops->web->session_put(s, &session) != STORE_OK)
        goto out;
    rc = web_session_set_cookie(request, reply, text);
out:
    web_session_token_free(&text);
    if (rc != 0)
        problem_internal(reply);
    return rc;
}

int web_session_end(http_request *request, http_reply *reply)
{
    store *s = request->node->store;
    unsigned char hash[32];

    if (cookie_token_hash(request, hash) == 0 &&
        s->ops->web->session_delete(s, hash) != STORE_OK) {
        log_message(LOG_ERROR, "signout_failed",
                    "the session was not deleted, so it stays open; request %s",
                    request->request_id);
        problem_internal(reply);
        return -1;
    }
    http_reply_header(reply, "Set-Cookie",
                      SESSION_COOKIE "=; Path=/; Secure; HttpOnly; SameSite=Strict; "
                      "Max-Age=0");
    return 0;
}
