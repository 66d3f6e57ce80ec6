/*
 * The WebAuthn ceremonies of the pages on top of idsvc/webauthn.h: verifiers from the
 * configuration, challenges stored server-side for single use with a short expiry,
 * and assertions checked against stored authenticators with the counter rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <openssl/evp.h>

#include "log.h"
#include "problem.h"
#include "web.h"

char *web_base64url(const unsigned char *data, size_t len)
{
    char *text = NULL;

    if (webauthn_base64url_encode(data, len, &text) != 0)
        return NULL;
    return text;
}

webauthn_verifier *web_verifier_new(const http_request *request, http_reply *reply)
{
    const config_web *web = &request->snapshot->cfg->web;
    webauthn_verifier *verifier = webauthn_verifier_new(web->rp_id);
    webauthn_error err = {0};

    if (verifier == NULL)
        goto fail;
    for (size_t i = 0; i < web->origin_count; i++)
        if (webauthn_verifier_add_origin(verifier, web->origins[i]) != 0)
            goto fail;
    for (size_t i = 0; i < web->root_count; i++) {
        if (webauthn_verifier_add_roots_file(verifier, web->root_files[i], &err) != 0) {
            log_message(LOG_ERROR, "attestation_roots_invalid", "%s", err.message);
            goto fail;
        }
    }
    webauthn_verifier_set_policy(verifier, (webauthn_attestation_policy)web->attestation);
    webauthn_verifier_set_require_uv(verifier, true);
    return verifier;
fail:
    webauthn_verifier_free(&verifier);
    problem_internal(reply);
    return NULL;
}

void web_consent_digest(const unsigned char nonce[32], const char *details,
                        unsigned char out[WEB_CHALLENGE_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;

    memset(out, 0, WEB_CHALLENGE_LEN);
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, nonce, 32) != 1 ||
        EVP_DigestUpdate(ctx, details, strlen(details)) != 1 ||
        EVP_DigestFinal_ex(ctx, out, &len) != 1) {
        /* NOTE: an all-zero challenge never matches a stored consent challenge, so a
         * failed digest fails the approval closed. */
        memset(out, 0, WEB_CHALLENGE_LEN);
    }
    EVP_MD_CTX_free(ctx);
}

/* Fills the challenge bytes: for consent SHA-256(nonce || details) with a new nonce,
 * otherwise 32 random bytes. */
static int make_challenge_bytes(web_challenge *out, const char *consent_details)
{
    if (consent_details == NULL)
        return gnutls_rnd(GNUTLS_RND_NONCE, out->bytes, WEB_CHALLENGE_LEN) == 0 ? 0 : -1;
    if (gnutls_rnd(GNUTLS_RND_NONCE, out->nonce, sizeof(out->nonce)) != 0)
        return -1;
    web_consent_digest(out->nonce, consent_details, out->bytes);
    return 0;
}

/* Live challenges that one consent request, or one subject's registrations, may have.
 * A page makes one per attempt, and a person retries a few times within the ceremony
 * timeout, so eight leave room for that. A link holder who loops on the options call
 * then adds at most eight rows at a time. */
#define WEB_SCOPED_LIVE_CHALLENGES 8

/* Rejects a challenge while its scope has as many live challenges as it may. Sign-in
 * shares one node-wide limit; a consent request or a subject has its own. */
static void reject_capacity(http_reply *reply, web_ceremony ceremony, time_t now,
                            time_t retry_at)
{
    unsigned seconds = retry_at > now ? (unsigned)(retry_at - now) : 1;

    if (ceremony == WEB_CEREMONY_SIGN_IN)
        problem_set(reply, 503, "challenge_capacity", NULL,
                    "Too many sign-ins are in progress on this node; retry after %u "
                    "seconds.",
                    seconds);
    else
        problem_set(reply, 429, "too_many_challenges", NULL,
                    "%d attempts of this ceremony were started within the challenge "
                    "lifetime, finished ones included; retry after %u seconds.",
                    WEB_SCOPED_LIVE_CHALLENGES, seconds);
    reply->retry_after = seconds;
}

int web_challenge_issue(http_request *request, web_ceremony ceremony, int64_t subject_id,
                        const char *consent_id, const char *consent_details,
                        web_challenge *out, http_reply *reply)
{
    store *s = request->node->store;
    const config_web *web = &request->snapshot->cfg->web;
    time_t now = time(NULL);
    time_t retry_at = 0;
    store_status status;

    /* Sign-in options need neither a session nor a consent link, so sign-in has a
     * node-wide limit. The others are limited per consent request or subject. An
     * expired challenge is kept for challenge_seconds more, so that a late response
     * still gets challenge_expired or challenge_replayed. */
    web_challenge_bounds bounds = {
        .now = now,
        .purge_before = now - (time_t)web->challenge_seconds,
        .max_live = ceremony == WEB_CEREMONY_SIGN_IN ? web->max_signin_challenges
                                                     : WEB_SCOPED_LIVE_CHALLENGES,
    };

    memset(out, 0, sizeof(*out));
    out->ceremony = ceremony;
    out->subject_id = subject_id;
    out->expires_at = now + web->challenge_seconds;
    if (consent_id != NULL)
        snprintf(out->consent_id, sizeof(out->consent_id), "%s", consent_id);
    if (make_challenge_bytes(out, consent_details) != 0) {
        problem_internal(reply);
        return -1;
    }

    status = s->ops->web->challenge_put(s, out, &bounds, &retry_at);
    if (status == STORE_CONFLICT && bounds.max_live > 0) {
        reject_capacity(reply, ceremony, now, retry_at);
        return -1;
    }
    if (status != STORE_OK) {
        problem_internal(reply);
        return -1;
    }
    return 0;
}

char *web_response_text(const json_t *body, http_reply *reply)
{
    const json_t *response = json_object_get(body, "response");
    char *text;

    if (response == NULL || json_is_null(response)) {
        problem_set(reply, 400, "field_missing", "response",
                    "The field response, the credential's JSON object, is missing.");
        return NULL;
    }
    if (!json_is_object(response)) {
        problem_set(reply, 400, "field_invalid", "response",
                    "The field response must be the credential's JSON object.");
        return NULL;
    }
    text = json_dumps(response, JSON_COMPACT);
    if (text == NULL)
        problem_internal(reply);
    return text;
}

void web_reject(http_reply *reply, const webauthn_error *err)
{
    if (err->code == WEBAUTHN_INTERNAL_ERROR) {
        log_message(LOG_ERROR, "webauthn_internal_error", "%s", err->message);
        problem_internal(reply);
        return;
    }
    problem_set(reply, 422, webauthn_code_name(err->code), "response", "%s", err->message);
}

static void reject_challenge(http_reply *reply, store_status status)
{
    if (status == STORE_CONFLICT)
        problem_set(reply, 422, "challenge_replayed", "response",
                    "The challenge of this response was used before.");
    else if (status == STORE_NOT_FOUND)
        problem_set(reply, 422, "challenge_unknown", "response",
                    "The challenge of this response was not issued by this node.");
    else
        problem_internal(reply);
}

bool web_challenge_take(http_request *request, const char *response, web_ceremony ceremony,
                        web_challenge *out, http_reply *reply)
{
    store *s = request->node->store;
    unsigned char *bytes = NULL;
    size_t len = 0;
    webauthn_error err = {0};
    store_status status;
    bool ok = false;

    if (webauthn_response_challenge(response, strlen(response), &bytes, &len, &err) !=
        WEBAUTHN_OK) {
        web_reject(reply, &err);
        return false;
    }
    status = s->ops->web->challenge_take(s, bytes, len, time(NULL), out);
    if (status != STORE_OK) {
        reject_challenge(reply, status);
        goto out;
    }
    if (out->ceremony != ceremony) {
        problem_set(reply, 422, "challenge_ceremony_mismatch", "response",
                    "The challenge was issued for another ceremony.");
        goto out;
    }
    if (out->expires_at <= time(NULL)) {
        problem_set(reply, 422, "challenge_expired", "response",
                    "The challenge expired; start again.");
        goto out;
    }
    ok = true;
out:
    free(bytes);
    return ok;
}

/* Reads the credential id that the response names in rawId. */
static int response_raw_id(const char *response, unsigned char **id, size_t *len)
{
    json_t *doc = json_loads(response, 0, NULL);
    const char *raw_id = json_string_value(json_object_get(doc, "rawId"));
    int rc = -1;

    if (raw_id != NULL)
        rc = webauthn_base64url_decode_padded(raw_id, strlen(raw_id), id, len);
    json_decref(doc);
    return rc;
}

static bool find_authenticator(http_request *request, const char *response,
                               int64_t subject_id, web_authenticator *out,
                               http_reply *reply)
{
    store *s = request->node->store;
    unsigned char *id = NULL;
    size_t len = 0;
    store_status status;

    if (response_raw_id(response, &id, &len) != 0) {
        problem_set(reply, 422, webauthn_code_name(WEBAUTHN_MALFORMED), "response",
                    "The response has no valid rawId.");
        return false;
    }
    status = s->ops->web->authenticator_find(s, id, len, out);
    free(id);
    if (status == STORE_OK && (subject_id == 0 || out->subject_id == subject_id))
        return true;
    if (status == STORE_FAILED) {
        problem_internal(reply);
        return false;
    }
    web_authenticator_clear(out);
    problem_set(reply, 422, "authenticator_unknown", "response",
                "No authenticator of this subject has the credential id of the response.");
    return false;
}

static void log_cloned(const http_request *request, const web_authenticator *a,
                       uint32_t reported)
{
    char stored_text[16];
    char reported_text[16];

    snprintf(stored_text, sizeof(stored_text), "%u", a->sign_count);
    snprintf(reported_text, sizeof(reported_text), "%u", reported);
    log_field fields[] = {
        {"request_id", request->request_id},
        {"authenticator", a->id},
        {"stored_counter", stored_text},
        {"reported_counter", reported_text},
    };
    log_event(LOG_WARN, "authenticator_possibly_cloned", fields,
              sizeof(fields) / sizeof(fields[0]));
}

/* Returns true when the challenge was issued before the second of the key's latest use.
 * Then the response may have been signed before that use, as when two tabs, or a retry,
 * complete two ceremonies out of order. The issue time is taken as the expiry less the
 * configured challenge lifetime. NOTE: times are whole seconds, so a challenge issued
 * in the same second as that use still marks the key. */
static bool issued_before_last_use(const http_request *request, const web_challenge *c,
                                   const web_authenticator *a)
{
    time_t issued = c->expires_at - (time_t)request->snapshot->cfg->web.challenge_seconds;

    return a->last_used_at != 0 && issued < a->last_used_at;
}

/* Handles a counter that did not grow: the signature verified, so the authenticator
 * (or a copy of its key) was really used. The assertion is rejected, and the key is
 * marked, unless the challenge is older than the key's latest use. */
static void reject_regression(http_request *request, const web_challenge *challenge,
                              const web_authenticator *a, const webauthn_assertion *result,
                              const webauthn_error *err, http_reply *reply)
{
    store *s = request->node->store;

    if (issued_before_last_use(request, challenge, a)) {
        log_message(LOG_WARN, "authenticator_counter_stale",
                    "authenticator %s answered a challenge issued before its latest use "
                    "with counter %u, below the stored %u; rejected, not marked as cloned",
                    a->id, result->sign_count, a->sign_count);
        problem_set(reply, 422, webauthn_code_name(WEBAUTHN_COUNTER_REGRESSION), "response",
                    "This response was signed before the key's latest use; start again.");
        return;
    }
    log_cloned(request, a, result->sign_count);
    if (s->ops->web->authenticator_mark_cloned(s, a->id) != STORE_OK) {
        problem_internal(reply);
        return;
    }
    web_reject(reply, err);
}

bool web_verify_assertion(http_request *request, const web_challenge *challenge,
                          const char *response, int64_t subject_id,
                          web_authenticator *out, http_reply *reply)
{
    store *s = request->node->store;
    webauthn_verifier *verifier = NULL;
    webauthn_assertion result = {0};
    webauthn_error err = {0};
    webauthn_credential credential;
    webauthn_code code;
    unsigned char user_handle[32];
    bool ok = false;

    if (!find_authenticator(request, response, subject_id, out, reply))
        return false;
    if (s->ops->web->user_handle(s, out->subject_id, user_handle) != STORE_OK) {
        problem_internal(reply);
        goto out;
    }
    if (out->possibly_cloned) {
        problem_set(reply, 422, "authenticator_possibly_cloned", "response",
                    "This authenticator was marked as possibly cloned and cannot be used.");
        goto out;
    }
    verifier = web_verifier_new(request, reply);
    if (verifier == NULL)
        goto out;

    credential = (webauthn_credential){
        .id = out->credential_id,
        .id_len = out->credential_id_len,
        .public_key = out->public_key,
        .public_key_len = out->public_key_len,
        .sign_count = out->sign_count,
        .user_handle = user_handle,
        .user_handle_len = sizeof(user_handle),
        .backup_eligibility = out->backup_eligibility,
    };
    code = webauthn_verify_assertion(verifier, challenge->bytes, WEB_CHALLENGE_LEN,
                                     &credential, response, strlen(response), &result, &err);
    if (code == WEBAUTHN_COUNTER_REGRESSION) {
        reject_regression(request, challenge, out, &result, &err, reply);
        goto out;
    }
    if (code != WEBAUTHN_OK) {
        web_reject(reply, &err);
        goto out;
    }

    /* The update succeeds only from the counter just checked, so of two assertions with
     * one counter value only the first passes. */
    switch (s->ops->web->authenticator_use(s, out->id, out->sign_count, result.sign_count,
                                           result.backup_eligible, time(NULL))) {
    case STORE_OK:
        out->sign_count = result.sign_count;
        out->backup_eligibility = result.backup_eligible ? WEBAUTHN_BACKUP_ELIGIBLE
                                                         : WEBAUTHN_BACKUP_INELIGIBLE;
        ok = true;
        break;
    case STORE_CONFLICT:
        problem_set(reply, 422, webauthn_code_name(WEBAUTHN_COUNTER_REGRESSION), "response",
                    "The signature counter changed during this assertion; try again.");
        break;
    default:
        problem_internal(reply);
    }
out:
    webauthn_verifier_free(&verifier);
    if (!ok)
        web_authenticator_clear(out);
    return ok;
}

json_t *web_allow_credentials(const web_authenticator *list, size_t count)
{
    json_t *allow = json_array();

    for (size_t i = 0; allow != NULL && i < count; i++) {
        char *id;

        if (list[i].possibly_cloned)
            continue;
        id = web_base64url(list[i].credential_id, list[i].credential_id_len);
        if (id == NULL) {
            json_decref(allow);
            return NULL;
        }
        json_array_append_new(allow, json_pack("{s:s, s:s}", "type", "public-key", "id", id));
        free(id);
    }
    return allow;
}
