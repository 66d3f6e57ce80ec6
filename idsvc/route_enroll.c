/*
 * Enrollment of FIDO2 authenticators.
 *
 * GET  /enroll                                  the page that takes the enrollment code
 * POST /enroll/code                             {"code"}: redeems the one-time code from
 *                                               issuance and starts a page session
 * POST /account/registration/options            creation options for the session's subject
 * POST /account/registration                    {"response": RegistrationResponseJSON}
 * POST /account/authenticators/{id}/removal     removes one of the subject's authenticators
 *
 * Every POST carries an Origin from [webauthn] origin; the last three need the session.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "log.h"
#include "problem.h"
#include "route_audit.h"
#include "route_common.h"
#include "web.h"
#include "web_store_sql.h"

#define CODE_MAX 64

static const char *const attestation_names[] = {"none", "self", "basic", "trusted"};

void route_enroll_page(http_request *request, http_reply *reply)
{
    const web_lang *lang;
    web_html page = {0};

    if (!web_enabled(request, reply))
        return;
    lang = web_lang_choose(request);
    web_page_begin(&page, request, lang, "enroll", "enroll.title");
    web_html_raw(&page, "<p>");
    web_html_text(&page, web_text(lang, "enroll.intro"));
    web_html_raw(&page, "</p>\n<form id=\"enroll-form\" novalidate>\n"
                        "<label for=\"code\">");
    web_html_text(&page, web_text(lang, "enroll.code_label"));
    web_html_raw(&page, "</label>\n<input id=\"code\" name=\"code\" type=\"text\" "
                        "autocomplete=\"one-time-code\" autocapitalize=\"characters\" "
                        "spellcheck=\"false\" required aria-describedby=\"code-hint\">\n"
                        "<p id=\"code-hint\" class=\"hint\">");
    web_html_text(&page, web_text(lang, "enroll.code_hint"));
    web_html_raw(&page, "</p>\n<button type=\"submit\">");
    web_html_text(&page, web_text(lang, "enroll.continue"));
    web_html_raw(&page, "</button>\n</form>\n<p><a href=\"/account\">");
    web_html_text(&page, web_text(lang, "enroll.have_key"));
    web_html_raw(&page, "</a></p>\n");
    web_page_end(&page, lang);
    web_page_send(&page, request, reply, 200);
}

/* Returns the code symbol that a person meant by c. The codes use Crockford's base32
 * alphabet, which leaves out I, L and O because they look like 1 and 0. */
static char code_symbol(char c)
{
    c = (char)toupper((unsigned char)c);
    if (c == 'I' || c == 'L')
        return '1';
    return c == 'O' ? '0' : c;
}

/* Returns the length in bytes of the separator that starts at p, or 0. Separators are
 * what a person or a text program may put between the code's groups. They are ASCII
 * white space, the hyphen-minus, U+00A0 NO-BREAK SPACE, U+202F NARROW NO-BREAK SPACE,
 * the hyphens and dashes U+2010 to U+2015, and U+2212 MINUS SIGN. */
static size_t separator_length(const unsigned char *p)
{
    if (*p == '-' || *p == ' ' || (*p >= '\t' && *p <= '\r'))
        return 1;
    if (p[0] == 0xC2 && p[1] == 0xA0)
        return 2;
    if (p[0] == 0xE2 && p[1] == 0x80 && ((p[2] >= 0x90 && p[2] <= 0x95) || p[2] == 0xAF))
        return 3;
    if (p[0] == 0xE2 && p[1] == 0x88 && p[2] == 0x92)
        return 3;
    return 0;
}

/* Why a typed code cannot be an enrollment code. */
typedef enum code_fault {
    CODE_USABLE,
    CODE_BAD_CHARACTER,
    CODE_TOO_LONG,
    CODE_EMPTY,
} code_fault;

/* Writes the code as it was issued: upper case, with a hyphen after every four symbols,
 * whatever case and separators a person typed. Returns why it is unusable, or
 * CODE_USABLE. */
static code_fault normalise_code(const char *in, char *out, size_t size)
{
    size_t n = 0;
    size_t symbols = 0;

    for (const char *p = in; *p != '\0'; p++) {
        size_t skip = separator_length((const unsigned char *)p);

        if (skip > 0) {
            p += skip - 1;
            continue;
        }
        if (!isalnum((unsigned char)*p))
            return CODE_BAD_CHARACTER;
        if (n + 3 > size)
            return CODE_TOO_LONG;
        if (symbols > 0 && symbols % 4 == 0)
            out[n++] = '-';
        out[n++] = code_symbol(*p);
        symbols++;
    }
    out[n] = '\0';
    return symbols > 0 ? CODE_USABLE : CODE_EMPTY;
}

/* Sets the problem of an unusable code. */
static void reject_code(code_fault fault, http_reply *reply)
{
    if (fault == CODE_TOO_LONG)
        problem_set(reply, 400, "field_invalid", "code",
                    "The enrollment code is too long; a code has 20 letters and digits, "
                    "such as ABCD-EFGH-JKMN-PQRS-TVWX.");
    else if (fault == CODE_EMPTY)
        problem_set(reply, 400, "field_invalid", "code",
                    "The enrollment code has no letters or digits.");
    else
        problem_set(reply, 400, "field_invalid", "code",
                    "The enrollment code contains characters other than letters, digits, "
                    "spaces and hyphens.");
}


void route_enroll_code(http_request *request, http_reply *reply)
{
    store *s = request->node->store;
    json_t *body = web_begin_call(request, web_members_code, reply);
    const char *text = body != NULL ? http_json_string(body, "code", true, CODE_MAX, reply)
                                    : NULL;
    char code[CODE_MAX + 1];
    unsigned char hash[SHA256_DIGEST_LENGTH];
    web_redemption redemption = {0};
    web_session session;
    char *token = NULL;
    store_status status;
    code_fault fault;

    if (text == NULL)
        goto out;
    fault = normalise_code(text, code, sizeof(code));
    if (fault != CODE_USABLE) {
        reject_code(fault, reply);
        goto out;
    }
    SHA256((const unsigned char *)code, strlen(code), hash);
    if (web_session_prepare(request, &session, &token) != 0) {
        problem_internal(reply);
        goto out;
    }
    status = s->ops->web->redeem_enrollment(s, hash, time(NULL), &session, &redemption);
    if (status == STORE_NOT_FOUND && redemption.expired) {
        problem_set(reply, 410, "enrollment_code_expired", "code",
                    "The credential of this enrollment code has expired; ask the issuer "
                    "for a new credential.");
        goto out;
    }
    if (status == STORE_NOT_FOUND) {
        problem_set(reply, 422, "enrollment_code_invalid", "code",
                    "No active credential has this enrollment code.");
        goto out;
    }
    if (status == STORE_CONFLICT) {
        problem_set(reply, 409, "enrollment_code_used", "code",
                    "This enrollment code was used before; ask the issuer for a new one.");
        goto out;
    }
    if (status != STORE_OK) {
        problem_internal(reply);
        goto out;
    }
    log_message(LOG_INFO, "enrollment_code_redeemed", "request %s", request->request_id);
    http_reply_json(reply, 200, json_pack("{s:b}", "signed_in", 1));
    web_session_set_cookie(request, reply, token);
out:
    web_session_token_free(&token);
    explicit_bzero(code, sizeof(code));
    json_decref(body);
}

static void problem_session_required(http_reply *reply)
{
    problem_set(reply, 401, "session_required", NULL,
                "Sign in first, with an enrollment code or a security key.");
}

/* Requires the page session; fills 401 session_required without one. */
static bool read_session(http_request *request, web_session *session, http_reply *reply)
{
    int rc = web_session_read(request, session);

    if (rc < 0)
        problem_internal(reply);
    else if (rc == 0)
        problem_session_required(reply);
    return rc == 1;
}

static bool session_subject(http_request *request, int64_t *subject_id, http_reply *reply)
{
    web_session session;

    if (!read_session(request, &session, reply))
        return false;
    *subject_id = session.subject_id;
    return true;
}

static json_t *creation_options(const http_request *request, const web_challenge *challenge,
                                const unsigned char handle[32], json_t *exclude)
{
    const config_web *web = &request->snapshot->cfg->web;
    char *challenge_text = web_base64url(challenge->bytes, WEB_CHALLENGE_LEN);
    char *handle_text = web_base64url(handle, 32);
    json_t *params = json_array();
    json_t *doc = NULL;
    char user_name[32];
    size_t algorithm_count;
    /* The same list that registrations are verified against, ES256 first. */
    const int64_t *algorithms = webauthn_credential_algorithms(&algorithm_count);

    /* The user name is derived from the random handle, so it carries no personal data. */
    snprintf(user_name, sizeof(user_name), "idsvc-%.8s", handle_text ? handle_text : "");
    for (size_t i = 0; params != NULL && i < algorithm_count; i++)
        json_array_append_new(params, json_pack("{s:s, s:I}", "type", "public-key", "alg",
                                                (json_int_t)algorithms[i]));
    if (challenge_text != NULL && handle_text != NULL && params != NULL && exclude != NULL)
        doc = json_pack(
            "{s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s}, s:O, s:I, s:s, s:{s:s, s:b, s:s}, s:O}",
            "challenge", challenge_text, "rp", "id", web->rp_id, "name", "idsvc", "user",
            "id", handle_text, "name", user_name, "displayName", user_name,
            "pubKeyCredParams", params, "timeout",
            (json_int_t)web->challenge_seconds * 1000, "attestation",
            web->attestation == WEBAUTHN_ATTESTATION_ANY ? "none" : "direct",
            "authenticatorSelection", "residentKey", "preferred", "requireResidentKey", 0,
            "userVerification", "required", "excludeCredentials", exclude);
    free(challenge_text);
    free(handle_text);
    json_decref(params);
    return doc;
}

void route_enroll_options(http_request *request, http_reply *reply)
{
    store *s = request->node->store;
    json_t *body = web_begin_call(request, web_members_none, reply);
    int64_t subject_id = 0;
    unsigned char handle[32];
    web_authenticator *list = NULL;
    size_t count = 0;
    web_challenge challenge;
    json_t *exclude = NULL;

    if (body == NULL || !session_subject(request, &subject_id, reply))
        goto out;
    if (s->ops->web->user_handle(s, subject_id, handle) != STORE_OK ||
        s->ops->web->authenticator_list(s, subject_id, &list, &count) != STORE_OK) {
        problem_internal(reply);
        goto out;
    }
    exclude = web_allow_credentials(list, count);
    if (web_challenge_issue(request, WEB_CEREMONY_REGISTER, subject_id, NULL, NULL,
                            &challenge, reply) != 0)
        goto out;
    http_reply_json(reply, 200, creation_options(request, &challenge, handle, exclude));
out:
    json_decref(exclude);
    web_authenticators_free(&list, count);
    json_decref(body);
}

/* Fills the authenticator row of a verified registration under a fresh id; the buffers
 * stay r's. The key descends from the session's enrollment credential. Returns false
 * when no id could be drawn. */
static bool fill_authenticator(const web_session *session, const webauthn_registration *r,
                               web_authenticator *a)
{
    memset(a, 0, sizeof(*a));
    if (route_random_hex(a->id, WEB_ID_LEN / 2) != 0)
        return false;
    a->subject_id = session->subject_id;
    memcpy(a->enrollment_credential, session->enrollment_credential,
           sizeof(a->enrollment_credential));
    a->credential_id = r->credential_id;
    a->credential_id_len = r->credential_id_len;
    a->public_key = r->public_key;
    a->public_key_len = r->public_key_len;
    a->algorithm = r->algorithm;
    a->sign_count = r->sign_count;
    a->backup_eligibility = r->backup_eligible ? WEBAUTHN_BACKUP_ELIGIBLE
                                               : WEBAUTHN_BACKUP_INELIGIBLE;
    memcpy(a->aaguid, r->aaguid, sizeof(a->aaguid));
    snprintf(a->format, sizeof(a->format), "%s", r->fmt);
    snprintf(a->attestation, sizeof(a->attestation), "%s", attestation_names[r->attestation]);
    a->created_at = time(NULL);
    return true;
}

/* An enrollment, written with its audit entry while its session is still open. */
typedef struct enrollment {
    const web_authenticator *authenticator;
    const web_session *session;
    bool session_closed; /* set when the session ended before the commit */
    bool at_limit;       /* set when the subject has WEB_AUTHENTICATORS_MAX keys */
} enrollment;

/* A revocation of the session's credential may commit between the session check of the
 * request and this transaction, so the transaction checks the session again. */
static int write_authenticator(struct sqlite3 *db, void *ctx)
{
    enrollment *e = ctx;
    int session_open = web_sqlite_session_open(db, e->session->token_hash, time(NULL));
    int rc;

    if (session_open != 1) {
        e->session_closed = session_open == 0;
        return session_open < 0 ? -1 : 1;
    }
    rc = web_sqlite_write_authenticator(db, e->authenticator);
    e->at_limit = rc == 2;
    return rc;
}

/* The removal of one of a subject's authenticators, written with its audit entry. */
typedef struct removal {
    int64_t subject_id;
    const char *id;
} removal;

static int write_removal(struct sqlite3 *db, void *ctx)
{
    const removal *r = ctx;

    return web_sqlite_write_authenticator_removal(db, r->subject_id, r->id);
}

/* Records a subject event whose rows write_rows writes in the entry's transaction.
 * Returns the status; a failure other than AUDIT_ERR_CONFLICT sets a problem in reply. */
static audit_status record_with_rows(http_request *request, const char *kind,
                                     int64_t subject_id, json_t *payload,
                                     audit_rows_fn write_rows, void *ctx, http_reply *reply)
{
    audit_event event;
    audit_status status;

    if (!route_audit_subject_prepare(request, kind, subject_id, NULL, NULL, payload, &event,
                                     reply))
        return AUDIT_ERR_INVALID_ARGUMENT;
    event.write_rows = write_rows;
    event.write_rows_ctx = ctx;
    status = audit_record(request->node->audit, &event, NULL);
    if (status != AUDIT_OK && status != AUDIT_ERR_CONFLICT)
        route_audit_failed(request, kind, status, reply);
    return status;
}

static void log_enrolled(const http_request *request, const char *id,
                         const webauthn_registration *r)
{
    log_field fields[] = {
        {"request_id", request->request_id},
        {"authenticator", id},
        {"format", r->fmt},
        {"attestation", attestation_names[r->attestation]},
    };
    log_event(LOG_INFO, "authenticator_enrolled", fields, sizeof(fields) / sizeof(fields[0]));
}

/* Stores the authenticator a with its authenticator_enrolled entry: the node's handle
 * of the key, its attestation format and type, and its AAGUID (the authenticator model,
 * not the person). */
static audit_status audit_enrolled(http_request *request, enrollment *e,
                                   const webauthn_registration *r, http_reply *reply)
{
    static const char digits[] = "0123456789abcdef";
    const web_authenticator *a = e->authenticator;
    char aaguid[2 * sizeof(r->aaguid) + 1];
    json_t *payload;
    audit_status status;

    for (size_t i = 0; i < sizeof(r->aaguid); i++) {
        aaguid[2 * i] = digits[r->aaguid[i] >> 4];
        aaguid[2 * i + 1] = digits[r->aaguid[i] & 15];
    }
    aaguid[sizeof(aaguid) - 1] = '\0';
    payload = json_pack("{s:s, s:s, s:s, s:s}", "authenticator_id", a->id, "format", r->fmt,
                        "attestation", attestation_names[r->attestation], "aaguid", aaguid);
    status = record_with_rows(request, "authenticator_enrolled", a->subject_id, payload,
                              write_authenticator, e, reply);
    json_decref(payload);
    return status;
}

/* Rejects a credential id that some subject has enrolled already. The reply is the same
 * whichever subject owns the id (docs/webauthn.md gives the reason). The warning lets an
 * operator see repeated attempts to claim or probe for another subject's key. */
static void reject_enrolled_id(const http_request *request, http_reply *reply)
{
    log_field fields[] = {{"request_id", request->request_id}};

    log_event(LOG_WARN, "authenticator_exists", fields, sizeof(fields) / sizeof(fields[0]));
    problem_set(reply, 409, "authenticator_exists", "response",
                "This authenticator is enrolled already.");
}

static void register_verified(http_request *request, const web_session *session,
                              const webauthn_registration *r, http_reply *reply)
{
    web_authenticator a;
    enrollment e = {&a, session, false, false};
    audit_status status;

    if (!fill_authenticator(session, r, &a)) {
        problem_internal(reply);
        return;
    }
    status = audit_enrolled(request, &e, r, reply);
    if (status == AUDIT_ERR_CONFLICT && e.session_closed)
        problem_session_required(reply);
    else if (status == AUDIT_ERR_CONFLICT && e.at_limit)
        problem_set(reply, 409, "authenticator_limit", "response",
                    "The subject has %d authenticators, the maximum; remove one before "
                    "enrolling another.",
                    WEB_AUTHENTICATORS_MAX);
    else if (status == AUDIT_ERR_CONFLICT)
        reject_enrolled_id(request, reply);
    if (status != AUDIT_OK)
        return;
    log_enrolled(request, a.id, r);
    http_reply_json(reply, 201,
                    json_pack("{s:s, s:s, s:s}", "id", a.id, "format", r->fmt, "attestation",
                              attestation_names[r->attestation]));
}

void route_enroll_finish(http_request *request, http_reply *reply)
{
    json_t *body = web_begin_call(request, web_members_response, reply);
    web_session session;
    char *response = NULL;
    web_challenge challenge;
    webauthn_verifier *verifier = NULL;
    webauthn_registration *registration = NULL;
    webauthn_error err = {0};

    if (body == NULL || !read_session(request, &session, reply))
        goto out;
    response = web_response_text(body, reply);
    if (response == NULL ||
        !web_challenge_take(request, response, WEB_CEREMONY_REGISTER, &challenge, reply))
        goto out;
    if (challenge.subject_id != session.subject_id) {
        problem_set(reply, 422, "challenge_unknown", "response",
                    "The challenge was issued to a session of another subject.");
        goto out;
    }
    verifier = web_verifier_new(request, reply);
    if (verifier == NULL)
        goto out;
    if (webauthn_verify_registration(verifier, challenge.bytes, WEB_CHALLENGE_LEN, response,
                                     strlen(response), &registration, &err) != WEBAUTHN_OK) {
        web_reject(reply, &err);
        goto out;
    }
    register_verified(request, &session, registration, reply);
out:
    webauthn_registration_free(&registration);
    webauthn_verifier_free(&verifier);
    free(response);
    json_decref(body);
}

void route_enroll_remove(http_request *request, http_reply *reply)
{
    json_t *body = web_begin_call(request, web_members_none, reply);
    removal r = {0, request->params[0]};
    json_t *payload;
    audit_status status;

    if (body == NULL || !session_subject(request, &r.subject_id, reply))
        goto out;
    /* The removal and its entry commit together. */
    payload = json_pack("{s:s}", "authenticator_id", request->params[0]);
    status = record_with_rows(request, "authenticator_removed", r.subject_id, payload,
                              write_removal, &r, reply);
    json_decref(payload);
    if (status == AUDIT_ERR_CONFLICT)
        problem_set(reply, 404, "authenticator_not_found", NULL,
                    "The subject has no authenticator with this id.");
    if (status != AUDIT_OK)
        goto out;
    log_message(LOG_INFO, "authenticator_removed", "authenticator %s, request %s",
                request->params[0], request->request_id);
    http_reply_json(reply, 200, json_pack("{s:s}", "removed", request->params[0]));
out:
    json_decref(body);
}
