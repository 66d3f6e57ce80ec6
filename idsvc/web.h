/*
 * The citizen pages: message catalogues and language choice, server-rendered HTML,
 * page sessions and the Origin check, and the WebAuthn ceremonies on top of
 * idsvc/webauthn.h. docs/pages.md describes the flows.
 */
#ifndef IDSVC_WEB_H
#define IDSVC_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http.h"
#include "webauthn.h"
#include "web_store.h"

/* ---- Message catalogues (web_i18n.c) --------------------------------------------- */

#define WEB_LANG_MAX 8

/* One language's catalogue: web/i18n/TAG.json, an object of message key -> text. */
typedef struct web_lang {
    char tag[16];    /* BCP 47, such as "zh-Hans" */
    json_t *messages;
} web_lang;

/* Loads every catalogue of the assets folder once per process; English must exist.
 * Returns 0, or -1 after logging what is missing. */
int web_i18n_load(const char *assets_dir);

/* Chooses the page language: a "lang" query argument, then the language cookie, then
 * Accept-Language, then English. Never NULL once web_i18n_load succeeded. */
const web_lang *web_lang_choose(const http_request *request);

/* Returns the message for key in lang, else in English, else the key itself. */
const char *web_text(const web_lang *lang, const char *key);

size_t web_lang_count(void);
const web_lang *web_lang_at(size_t index);

/* Returns the folder of the scripts, styles and catalogues. */
const char *web_assets_dir(const http_request *request);

/* ---- HTML (web_page.c) ------------------------------------------------------------ */

/* A growing page; on allocation failure failed is set and later appends do nothing. */
typedef struct web_html {
    char *text;
    size_t len;
    size_t size;
    bool failed;
} web_html;

void web_html_raw(web_html *page, const char *text);
void web_html_text(web_html *page, const char *text); /* escapes <, >, &, " and ' */

/*
 * Writes text escaped inside <bdi>, for a value that a relying party or a claim
 * supplies. The isolation keeps its direction from reordering the page around it. Each
 * bidirectional formatting character in it (U+061C, U+200E, U+200F, U+202A to U+202E,
 * U+2066 to U+2069) is written as its code point, such as [U+202E], so the value reads in the
 * order in which it was sent.
 */
void web_html_isolated(web_html *page, const char *text);

/* Writes the name of the country with ISO 3166-1 code in the page's language, as
 * web_html_isolated does, or the code when the catalogue has no name for it. */
void web_html_country(web_html *page, const web_lang *lang, const char *code);
void web_html_format(web_html *page, const char *format, ...)
    __attribute__((format(printf, 2, 3))); /* arguments are not escaped */

/* Writes the document head, the header with the language switch and opens <main>. */
void web_page_begin(web_html *page, const http_request *request, const web_lang *lang,
                    const char *page_name, const char *title_key);

/* Closes <main>, writes the footer and the messages the script shows. */
void web_page_end(web_html *page, const web_lang *lang);

/* Tells whether the request's Accept header lists text/html or application/xhtml+xml
 * with a weight above 0, as a browser's request for a page does. Wildcard ranges (any
 * type, or text with any subtype) do not count, so curl's default gets a problem
 * document. */
bool web_accepts_html(const http_request *request);

/* Sends the page as text/html with the security headers; frees its text. */
void web_page_send(web_html *page, http_request *request, http_reply *reply,
                   unsigned status);

/* Formats a time in UTC for pages, such as "2026-12-04 20:21 UTC". */
void web_format_time(time_t t, char out[32]);

/* The catalogue key of a claim's label ("claim.given_name"). */
void web_claim_key(const char *claim, char *out, size_t size);

/* ---- Sessions and requests from pages (web_session.c) ---------------------------- */

/* Returns true when the pages are configured; otherwise fills a 404 problem. */
bool web_enabled(const http_request *request, http_reply *reply);

/* Checks the Origin header of a POST from a page against [webauthn] origin, so that
 * another site cannot post for the subject. Fills a 403 problem when it fails. */
bool web_origin_allowed(const http_request *request, http_reply *reply);

/* The members of the pages' POST bodies: none, a WebAuthn response, an enrollment code. */
extern const char *const web_members_none[];
extern const char *const web_members_response[];
extern const char *const web_members_code[];

/*
 * Begins a POST from a page: the pages must be on, the Origin allowed, and the body a
 * JSON object whose members are all in members. Returns the body, or NULL with a problem
 * in reply.
 */
json_t *web_begin_call(const http_request *request, const char *const *members,
                       http_reply *reply);

/* Finds the value of the cookie named exactly name in the request's Cookie header (RFC
 * 6265, section 5.4). Returns a pointer into the header with *len set, or NULL. */
const char *web_cookie_value(const http_request *request, const char *name, size_t *len);

/* Finds the session of the session cookie. Returns 1 with out filled, 0 when there is
 * no open session, or -1 on a store failure. */
int web_session_read(const http_request *request, web_session *out);

/* The same, for callers that need only the session's subject. */
int web_session_subject(const http_request *request, int64_t *subject_id);

/* Draws a new session token. Fills session's token_hash and expires_at, zeroes the
 * rest, and sets *token_text to the cookie value, which web_session_token_free clears.
 * Returns 0, or -1 when no random token could be drawn. */
int web_session_prepare(const http_request *request, web_session *session, char **token_text);

/* Overwrites and frees a token from web_session_prepare. */
void web_session_token_free(char **token_text);

/* Adds the Set-Cookie header of a stored session to reply, which must have its body
 * already. Returns 0, or -1 with a problem in reply. */
int web_session_set_cookie(const http_request *request, http_reply *reply,
                           const char *token_text);

/* Starts a session for the subject of key, which signed it in, and adds its Set-Cookie
 * header to reply, which must have its body already. The session descends from the
 * key's enrollment credential and stays open only while the key is enrolled and not
 * marked as possibly cloned. Returns 0, or -1 with a problem in reply. */
int web_session_start(http_request *request, http_reply *reply, const web_authenticator *key);

/* Ends the session of the cookie, if any, and adds a Set-Cookie that clears it to
 * reply, which must have its body already. Returns 0, or -1 with a problem in reply when
 * the session could not be deleted and so stays open. */
int web_session_end(http_request *request, http_reply *reply);

/* Adds the Content-Security-Policy and related headers to a reply that has its body. */
void web_security_headers(http_reply *reply);

/* ---- WebAuthn ceremonies (web_ceremony.c) ---------------------------------------- */

/* Creates a verifier from [webauthn]: RP ID, origins, attestation policy and roots,
 * user verification required. Returns NULL after filling a 500 problem. */
webauthn_verifier *web_verifier_new(const http_request *request, http_reply *reply);

/* Stores a challenge for a ceremony. For consent (consent_details not NULL) the
 * challenge is SHA-256(nonce || consent_details) with a fresh random 32-byte nonce,
 * so the signature commits to the details; otherwise it is 32 random bytes. Returns 0,
 * or -1 with a problem: 503 challenge_capacity with Retry-After when [webauthn]
 * max_signin_challenges sign-in challenges are live. */
int web_challenge_issue(http_request *request, web_ceremony ceremony, int64_t subject_id,
                        const char *consent_id, const char *consent_details,
                        web_challenge *out, http_reply *reply);

/* Computes SHA-256(nonce || details), the challenge of a consent approval. */
void web_consent_digest(const unsigned char nonce[32], const char *details,
                        unsigned char out[WEB_CHALLENGE_LEN]);

/* Reads the "response" member of a JSON body as text; NULL with a problem. The caller
 * frees the text. */
char *web_response_text(const json_t *body, http_reply *reply);

/* Consumes the challenge the response names and checks its ceremony and expiry.
 * Fills a 422 problem (challenge_unknown, challenge_replayed, challenge_expired,
 * challenge_ceremony_mismatch) or a WebAuthn code when it fails. */
bool web_challenge_take(http_request *request, const char *response, web_ceremony ceremony,
                        web_challenge *out, http_reply *reply);

/* Fills a problem for a WebAuthn rejection: 422 with the code, or 500 for
 * internal_error. */
void web_reject(http_reply *reply, const webauthn_error *err);

/* Verifies an assertion with a stored authenticator of subject_id (any subject when
 * subject_id is 0) and records the new counter. A counter that did not grow marks the
 * authenticator as possibly cloned, is logged and rejected. Returns true with the
 * authenticator in out; otherwise fills a problem. */
bool web_verify_assertion(http_request *request, const web_challenge *challenge,
                          const char *response, int64_t subject_id,
                          web_authenticator *out, http_reply *reply);

/* Builds the "allowCredentials" array of a subject's usable authenticators. */
json_t *web_allow_credentials(const web_authenticator *list, size_t count);

/* Returns base64url text of data, or NULL; the caller frees it. */
char *web_base64url(const unsigned char *data, size_t len);

#endif
