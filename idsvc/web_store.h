/*
 * Storage for the citizen pages: enrollment code redemption, WebAuthn user handles,
 * challenges, authenticators, page sessions, consent requests, verifications that wait
 * for consent, and the disclosure history each subject can read.
 *
 * These operations hang off store_ops.web, so another backend can implement them like
 * the rest of store.h. Every operation returns a store_status.
 */
#ifndef IDSVC_WEB_STORE_H
#define IDSVC_WEB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"
#include "webauthn.h"

#define WEB_ID_LEN 32 /* random ids are 32 hex digits */

/* The maximum number of authenticators per subject. A citizen has a few security keys,
 * and the cap bounds the authenticators table and the work of a revocation, which
 * removes every key enrolled with the credential in one transaction. */
#define WEB_AUTHENTICATORS_MAX 10
#define WEB_CHALLENGE_LEN 32

/* A stored authenticator; web_authenticator_clear releases the buffers. */
typedef struct web_authenticator {
    char id[WEB_ID_LEN + 1]; /* the handle in URLs; not the credential id */
    int64_t subject_id;
    unsigned char *credential_id;
    size_t credential_id_len;
    unsigned char *public_key; /* COSE_Key */
    size_t public_key_len;
    int algorithm;
    uint32_t sign_count;
    unsigned char aaguid[16];
    char format[24];
    char attestation[16];
    time_t created_at;
    time_t last_used_at; /* 0 when never used for an assertion */
    bool possibly_cloned;
    /* The credential whose enrollment code opened the session that enrolled this key;
     * empty for keys enrolled before schema version 5. */
    char enrollment_credential[WEB_ID_LEN + 1];
    /* The BE flag its registration reported. WEBAUTHN_BACKUP_UNKNOWN for a key enrolled
     * before schema version 9, until authenticator_use records its first assertion's. */
    webauthn_backup_eligibility backup_eligibility;
} web_authenticator;

void web_authenticator_clear(web_authenticator *authenticator);
void web_authenticators_free(web_authenticator **list, size_t count);

/* What a challenge was issued for. */
typedef enum web_ceremony {
    WEB_CEREMONY_REGISTER = 1,
    WEB_CEREMONY_SIGN_IN = 2,
    WEB_CEREMONY_CONSENT = 3,
} web_ceremony;

typedef struct web_challenge {
    unsigned char bytes[WEB_CHALLENGE_LEN];
    web_ceremony ceremony;
    int64_t subject_id;                  /* 0 for sign-in, which names no subject */
    char consent_id[WEB_ID_LEN + 1];     /* empty unless the ceremony is consent */
    unsigned char nonce[32]; /* consent: bytes = SHA-256(nonce || consent details) */
    time_t expires_at;
} web_challenge;

/* A page session. enrollment_credential is the credential whose enrollment code it
 * descends from: the code that opened it, or the one that enrolled the key it signed in
 * with. It is empty when that is not known, for a key enrolled before schema version 5. */
typedef struct web_session {
    unsigned char token_hash[32];
    int64_t subject_id;
    char enrollment_credential[WEB_ID_LEN + 1];
    char authenticator[WEB_ID_LEN + 1]; /* the key that signed in, "" for a code's session */
    time_t expires_at;
} web_session;

/* The credential of an enrollment code. */
typedef struct web_redemption {
    int64_t subject_id;
    char credential_id[WEB_ID_LEN + 1];
    bool expired; /* the credential's validity has passed, so the code was not used */
} web_redemption;

/* How web_store_ops.challenge_put keeps the challenge table small. */
typedef struct web_challenge_bounds {
    time_t now;
    time_t purge_before; /* challenges that expired before this time are removed */
    /* maximum live challenges of the ceremony, counted per consent request for a
     * consent challenge and per subject for a registration; 0 for no limit */
    size_t max_live;
} web_challenge_bounds;

typedef enum web_consent_state {
    WEB_CONSENT_PENDING = 0,
    WEB_CONSENT_APPROVED,
    WEB_CONSENT_REFUSED,
} web_consent_state;

/* A consent request; details is the canonical JSON the challenge commits to. */
typedef struct web_consent {
    char id[WEB_ID_LEN + 1];
    int64_t subject_id;
    char *rp_id;
    char *details;
    time_t created_at;
    time_t expires_at;
    web_consent_state state;
    time_t decided_at;
    char authenticator_id[WEB_ID_LEN + 1]; /* the approving authenticator, or empty */
    /* The problem code that ended the verification because its credential was revoked
     * or expired, such as "credential_revoked"; empty otherwise. */
    char rejection[40];
    time_t rejected_at;
} web_consent;

void web_consent_clear(web_consent *consent);

/* A verification of a relying party kept for GET /v1/verifications/{id}. result is
 * the JSON the node needs for its reply once consent is given. */
typedef struct web_verification {
    char id[WEB_ID_LEN + 1];
    char *rp_id;
    char consent_id[WEB_ID_LEN + 1];
    char *result;
    time_t created_at;
} web_verification;

void web_verification_clear(web_verification *verification);

/* One disclosure about a subject: who received which claims, when and why. */
typedef struct web_disclosure {
    int64_t subject_id;
    char *rp_id;
    char *rp_name;
    char *rp_country;
    char *purpose;
    char *claims; /* JSON array of claim names */
    char *rule;   /* the rule that allowed it, such as "consent" */
    char *consent_id; /* NULL when no consent was asked */
    time_t disclosed_at;
} web_disclosure;

void web_disclosures_free(web_disclosure **list, size_t count);

typedef struct web_store_ops {
    /* Consumes the enrollment code with this SHA-256 digest once, for an active
     * credential that is still valid at now, and stores session for the credential's
     * subject in the same transaction. The caller fills the session's token_hash and
     * expires_at, and the store its subject_id and enrollment_credential. So a code is
     * used only when its session is stored. STORE_NOT_FOUND for an unknown code or a
     * revoked credential, and with out->expired set for an expired credential, whose
     * code stays unused. STORE_CONFLICT for a used code. */
    store_status (*redeem_enrollment)(store *s, const unsigned char code_hash[32],
                                      time_t now, web_session *session,
                                      web_redemption *out);
    /* Finds the subject of a credential of this node by its assertion ID. */
    store_status (*subject_of_assertion)(store *s, const char *assertion_id,
                                         int64_t *subject_id);
    /* Copies the NameID of a subject, for its audit pseudonym; the caller frees it.
     * STORE_NOT_FOUND when no subject has this id. */
    store_status (*subject_name_id)(store *s, int64_t subject_id, char **name_id);
    /* Returns the subject's random WebAuthn user handle, creating it on first use. */
    store_status (*user_handle)(store *s, int64_t subject_id, unsigned char out[32]);

    /* Stores a challenge and removes those that expired before bounds->purge_before,
     * used or not. A challenge is live until it expires, used or not. When
     * bounds->max_live challenges of the same ceremony (and consent request, or subject
     * of a registration) are live at bounds->now, it stores
     * nothing, sets *retry_at to the earliest of their expiries and returns
     * STORE_CONFLICT. */
    store_status (*challenge_put)(store *s, const web_challenge *challenge,
                                  const web_challenge_bounds *bounds, time_t *retry_at);
    /* Marks a challenge used and returns it. STORE_NOT_FOUND when it was never issued,
     * STORE_CONFLICT when it was used before. Expiry is the caller's check. */
    store_status (*challenge_take)(store *s, const unsigned char *bytes, size_t len,
                                   time_t now, web_challenge *out);

    store_status (*session_put)(store *s, const web_session *session);
    /* STORE_NOT_FOUND for an unknown or expired session, and for one whose enrollment
     * credential is revoked. */
    store_status (*session_get)(store *s, const unsigned char token_hash[32], time_t now,
                                web_session *out);
    store_status (*session_delete)(store *s, const unsigned char token_hash[32]);

    /* STORE_CONFLICT when the credential id is registered already. */
    store_status (*authenticator_add)(store *s, const web_authenticator *authenticator);
    store_status (*authenticator_find)(store *s, const unsigned char *credential_id,
                                       size_t len, web_authenticator *out);
    store_status (*authenticator_list)(store *s, int64_t subject_id,
                                       web_authenticator **out, size_t *count);
    /* Lists the authenticators whose enrollment_credential is credential_id. */
    store_status (*authenticator_list_enrolled_with)(store *s, const char *credential_id,
                                                     web_authenticator **out,
                                                     size_t *count);
    /* STORE_NOT_FOUND when the subject has no authenticator with this id. */
    store_status (*authenticator_remove)(store *s, int64_t subject_id, const char *id);
    /* Stores a new counter if the stored one is still old_count, so two assertions
     * cannot both pass with one value; STORE_CONFLICT otherwise. backup_eligible is the
     * verified assertion's BE flag: it is recorded when none is, and a recorded value
     * that differs also gives STORE_CONFLICT. */
    store_status (*authenticator_use)(store *s, const char *id, uint32_t old_count,
                                      uint32_t new_count, bool backup_eligible, time_t now);
    store_status (*authenticator_mark_cloned)(store *s, const char *id);

    /* A consent request with its verification, and a decision on it, are written in
     * the transaction of their audit entries (web_sqlite_write_consent_request and
     * web_sqlite_write_consent_decision), not through this table, so that the rows and
     * the entries commit together. */
    store_status (*consent_get)(store *s, const char *id, web_consent *out);

    /* Finds a verification of one relying party; another's returns STORE_NOT_FOUND. */
    store_status (*verification_get)(store *s, const char *id, const char *rp_id,
                                     web_verification *out);
    /* Finds the verification that waits for a consent request. */
    store_status (*verification_of_consent)(store *s, const char *consent_id,
                                            web_verification *out);
    /* Removes the member "held" (the claim values and the NameID) from the result of
     * every verification whose consent request was refused or expired at now, and
     * stores "held_removed_at" instead. *count is the number of results changed. */
    store_status (*verification_purge_held)(store *s, time_t now, size_t *count);

    store_status (*disclosure_add)(store *s, const web_disclosure *disclosure);
    /* Lists a subject's disclosures, newest first, at most max of them. */
    store_status (*disclosure_list)(store *s, int64_t subject_id, size_t max,
                                    web_disclosure **out, size_t *count);
} web_store_ops;

/* The SQLite implementation (web_store_sqlite.c and web_store_consent.c). */
extern const web_store_ops web_store_sqlite_ops;

/* This thread's connection of a SQLite store, for the web_store_* files. */
struct sqlite3 *store_sqlite_connection(store *s);

#endif
