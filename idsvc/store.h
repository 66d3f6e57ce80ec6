/*
 * Storage behind a table of function pointers, so that another backend (PostgreSQL for
 * nodes that share state) can implement the same operations. SQLite is the embedded
 * default (store_sqlite.c).
 *
 * Every operation returns a store_status. An acknowledged write is durable: the SQLite
 * backend runs in WAL mode with synchronous=FULL.
 */
#ifndef IDSVC_STORE_H
#define IDSVC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "saml.h"

typedef enum store_status {
    STORE_OK = 0,
    STORE_NOT_FOUND,
    STORE_CONFLICT, /* a unique key exists already, or the state forbids the change */
    STORE_FAILED,   /* the database failed, so the caller returns 500 */
} store_status;

const char *store_status_name(store_status status);

typedef enum store_credential_state {
    STORE_CREDENTIAL_ACTIVE,
    STORE_CREDENTIAL_REVOKED,
} store_credential_state;

/* A new credential with its subject; strings are borrowed for the call. */
typedef struct store_issue {
    const char *credential_id;
    const char *issuer;        /* the identity of the issuing client */
    const char *subject_name_id;
    const char *subject_claims_json;
    /* The claims JSON that the node holds for a credential whose assertion carries no
     * values, NULL when the assertion carries them. */
    const char *held_claims_json;
    const char *assertion_id;
    const char *assurance;
    time_t issued_at;
    time_t not_on_or_after;
    unsigned char enrollment_code_hash[32]; /* SHA-256 of the one-time code */
} store_issue;

/* A stored credential; store_credential_clear releases its strings. */
typedef struct store_credential {
    char *id;
    char *issuer;
    char *subject_name_id;
    char *assertion_id;
    char *assurance;
    time_t issued_at;
    time_t not_on_or_after;
    store_credential_state state;
    char *revocation_reason; /* NULL while active */
    time_t revoked_at;
    char *held_claims_json;  /* NULL when the assertion carries the values */
} store_credential;

void store_credential_clear(store_credential *credential);

/* A relying party's registry entry; allowed_claims is space-separated. */
typedef struct store_rp {
    char *id;
    char *entity_id;
    char *jurisdiction;
    char *allowed_claims;
} store_rp;

void store_rp_clear(store_rp *rp);

/* The highest version of a policy bundle that the node has loaded, and its digest. */
typedef struct store_policy_version {
    long version;
    char digest[65];
} store_policy_version;

typedef struct store store;
struct web_store_ops;

typedef struct store_ops {
    /* STORE_CONFLICT when a subject of another issuer has the NameID, or the credential
     * or assertion ID exists. */
    store_status (*issue_credential)(store *s, const store_issue *issue);
    /* STORE_CONFLICT when a subject of another issuer than issuer has the NameID, else
     * STORE_OK, or STORE_FAILED. issue_credential checks again in its own transaction. */
    store_status (*check_name_id)(store *s, const char *name_id, const char *issuer);
    store_status (*get_credential)(store *s, const char *id, store_credential *out);
    store_status (*find_by_assertion)(store *s, const char *assertion_id,
                                      store_credential *out);
    /* Revokes an active credential of issuer; STORE_CONFLICT when already revoked. */
    store_status (*revoke_credential)(store *s, const char *id, const char *issuer,
                                      const char *reason, time_t at);
    /* Records issuer's assertion ID; STORE_CONFLICT when it was recorded before. */
    store_status (*record_assertion)(store *s, const char *issuer, const char *assertion_id,
                                     time_t not_on_or_after);
    store_status (*purge_replay)(store *s, time_t now);
    /* Replaces the registry with the given entries. */
    store_status (*replace_rps)(store *s, const store_rp *rps, size_t count);
    store_status (*get_rp)(store *s, const char *id, store_rp *out);
    /* Reads the recorded version of a bundle ID; STORE_NOT_FOUND when none was loaded. */
    store_status (*get_policy_version)(store *s, const char *bundle_id,
                                       store_policy_version *out);
    store_status (*schema_version)(store *s, int *version);
    void (*close)(store *s);
    const struct web_store_ops *web; /* the citizen pages' storage, web_store.h */
} store_ops;

/* Every backend starts its own struct with this header. */
struct store {
    const store_ops *ops;
};

/* Opens or creates the SQLite database and runs its migrations. Returns NULL and a
 * sentence in error on failure. */
store *store_sqlite_open(const char *path, char *error, size_t error_size);

/* Returns the schema version that store_sqlite_open migrates a database to. */
int store_sqlite_schema_latest(void);

/*
 * Revokes the active credential id of issuer on db, inside a transaction the caller
 * holds: the audit log's, as the write_rows of the credential_revoked entry, so that the
 * revocation and its entry commit together. Returns 0, 1 when no active credential of
 * issuer has that id (nothing written), or -1 after logging.
 */
struct sqlite3;

/* Stores the subject and the credential of an issuance on db, inside a transaction the
 * caller holds: the audit log's, as the write_rows of the credential_issued entry.
 * Returns 0, 1 when a subject of another issuer has the NameID (nothing written), or -1
 * after logging. */
int store_sqlite_write_issue(struct sqlite3 *db, const store_issue *issue);

/* Records that the node loaded version of bundle_id, with its digest, on db inside the
 * transaction of the policy_loaded entry, unless a higher version is recorded. Returns 0,
 * or -1 after logging. */
int store_sqlite_write_policy_version(struct sqlite3 *db, const char *bundle_id,
                                      long version, const char *digest);

int store_sqlite_write_revocation(struct sqlite3 *db, const char *id, const char *issuer,
                                  const char *reason, time_t at);

void store_close(store **s);

/*
 * A database failure seen on this thread that a retry can pass. The SQLite code calls
 * store_note_error with each failed call's result code. A busy or locked database (past
 * the busy timeout), a full disk, an I/O error, a read-only file or a connection that
 * cannot open marks the thread. The HTTP layer clears the mark before a handler runs
 * and turns the handler's 500 into 503 store_unavailable when the mark is set.
 * store_take_unavailable returns the mark and clears it.
 */
void store_note_error(int sqlite_result);
bool store_take_unavailable(void);

/* The replay cache interface of saml.h on top of record_assertion. */
saml_replay_cache store_replay_cache(store *s);

#endif
