/*
 * The audit anchor: the latest checkpoint's body, kept as a private data object in the
 * node's HSM token, so that someone who can write the SQLite file but lacks the token's
 * PIN cannot roll the log back or replace it. The object's CKA_LABEL is
 * AUDIT_ANCHOR_LABEL and its CKA_APPLICATION the node's entity ID. Its value is text:
 *
 *   idsvc-audit-anchor/v1
 *   log 3d1f...(64 lowercase hex digits, audit_anchor_log_id)
 *   idsvc-audit-checkpoint/v1
 *   ...the rest of the checkpoint body (audit_checkpoint.h)
 *
 * `idsvc-admin audit anchor reset` replaces it with a reset marker that keeps the
 * previous anchor whole after two lines of its own:
 *
 *   idsvc-audit-anchor-reset/v1
 *   time 2026-01-31T12:00:00Z
 *   idsvc-audit-anchor/v1
 *   ...
 */
#ifndef IDSVC_AUDIT_ANCHOR_H
#define IDSVC_AUDIT_ANCHOR_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "audit_checkpoint.h"
#include "audit_merkle.h"

#define AUDIT_ANCHOR_LABEL "idsvc-audit-anchor"
#define AUDIT_ANCHOR_HEADER "idsvc-audit-anchor/v1"
#define AUDIT_ANCHOR_RESET_HEADER "idsvc-audit-anchor-reset/v1"

/* A parsed anchor or reset marker; audit_anchor_clear frees its strings. */
typedef struct audit_anchor {
    bool reset; /* a reset marker; log_id and checkpoint are then its previous anchor's */
    time_t reset_at;             /* for a reset marker */
    char *previous_text;         /* for a reset marker: the previous anchor as it was */
    bool previous_parsed;        /* for a reset marker: previous_text is an anchor */
    char log_id[65];
    audit_checkpoint checkpoint; /* head, signed_at, node_id, key_id and body */
    /* One more than the anchor that each write replaced, so that a reader that finds
     * several objects after interrupted writes takes the last one written; 0 for a text
     * without a generation line. For a marker, the marker's own. */
    uint64_t generation;
} audit_anchor;

void audit_anchor_clear(audit_anchor *anchor);

/*
 * Writes the log ID of a database: the hex SHA-256 of "idsvc-audit-log-id/v1", a zero
 * byte and the 32-byte pseudonym secret. The secret is random and made at the first
 * start, so a replaced database has another log ID, and the hash does not reveal the
 * secret.
 */
int audit_anchor_log_id(const unsigned char secret[32], char out[65]);

/* Formats an anchor of a checkpoint body; the caller frees it. NULL when out of memory. */
char *audit_anchor_format(const char *log_id, uint64_t generation,
                          const char *checkpoint_body);

/* Formats the reset marker that keeps previous; the caller frees it. */
char *audit_anchor_format_reset(const char *previous, uint64_t generation, time_t reset_at);

/* Parses an anchor or a reset marker. Returns 0, or -1 for any other text. */
int audit_anchor_parse(const char *text, audit_anchor *out);

/*
 * Returns true when the anchor text candidate was written after current, for
 * p11_data_read when a crashed write left several objects. The larger generation wins.
 * Texts of one generation, such as texts without one, fall back to older rules. The
 * larger tree size wins, and so does a reset marker over the anchor it keeps. An anchor
 * wins over a marker that keeps another one, and of two markers the later wins. A text
 * that does not parse is never newer.
 */
bool audit_anchor_newer(const unsigned char *candidate, size_t candidate_len,
                        const unsigned char *current, size_t current_len, void *ctx);

/*
 * Compares the log with its anchor: the log ID, at least the anchor's size, and the
 * root of the anchor's first entries. head is the log's tree head. Returns 0, or -1
 * with a sentence for start_failed in error.
 */
int audit_anchor_compare(const audit_anchor *anchor, const char *log_id,
                         const audit_merkle_source *source, const audit_merkle_tree_head *head,
                         char *error, size_t error_size);

/* The PKCS#11 token (p11.h) and application that keep a node's anchor. */
struct p11_token;
typedef struct audit_anchor_p11 {
    struct p11_token *token;
    char *application; /* the node's entity ID */
} audit_anchor_p11;

/* Reads the anchor text (malloced, NUL-terminated) into *text, NULL when there is none.
 * Returns 0, or -1 with the HSM's reason in error. */
int audit_anchor_p11_read(audit_anchor_p11 *anchor, char **text, char *error,
                          size_t error_size);

/* Replaces the anchor with text. Returns 0, or -1 with the HSM's reason in error. */
int audit_anchor_p11_write(audit_anchor_p11 *anchor, const char *text, char *error,
                           size_t error_size);

/* Lets signer keep its anchor in the token of anchor, which must outlive the log. */
void audit_signer_set_p11_anchor(audit_signer *signer, audit_anchor_p11 *anchor);

#endif
