/*
 * The purges of an exported log, for 'audit verify'. Each purge on the node appends an
 * entry of kind audit_payloads_purged in the transaction that purges, whose payload
 * names the purge time and the node's retention rules:
 *
 *   {"purged_at": 1769860800, "rules": [{"jurisdiction": "TH", "days": 0},
 *                                       {"jurisdiction": null, "days": 30}]}
 *
 * The node never purges that payload, and its SHA-256 is in the hashed entry text. So a
 * purged entry of version 2 must name, in its unhashed purged_at column, the time of a
 * later purge entry whose rules expired it. The rule is that of its jurisdiction, else
 * the default rule; its days must be above 0, and the entry must have been recorded more
 * than days before the purge. A purged_at moved into the future, or a payload deleted
 * outside a purge, then fails.
 */
#ifndef IDSVC_ADMIN_AUDIT_PURGES_H
#define IDSVC_ADMIN_AUDIT_PURGES_H

#include <stddef.h>
#include <stdint.h>

typedef struct audit_purges audit_purges;

/* NULL when out of memory. */
audit_purges *audit_purges_new(void);
void audit_purges_free(audit_purges *purges);

/*
 * Reads the payload of the purge entry at index, whose hashed entry text has the time
 * entry_time. Returns NULL when it is valid. Returns "purge_invalid" with a sentence in
 * detail when the payload is gone, is not the form above, or names a purged_at other
 * than entry_time, because the node writes both as one second. Returns
 * "internal_error" when out of memory.
 */
const char *audit_purges_add_record(audit_purges *purges, uint64_t index, int64_t entry_time,
                                    const char *payload, char *detail, size_t detail_size);

/* Keeps a purged entry of version 2, with the facts of its hashed text (jurisdiction
 * may be NULL) and its purged_at column. Returns 0, or -1 when out of memory. */
int audit_purges_add_purged(audit_purges *purges, uint64_t index, int64_t recorded_at,
                            const char *jurisdiction, int64_t purged_at);

/*
 * Once every entry is read, ties each purged entry to its purge entry. Returns NULL when
 * all are tied, or "purge_unlogged" with the entry's index in *index and a sentence in
 * detail for the first that is not.
 */
const char *audit_purges_check(audit_purges *purges, uint64_t *index, char *detail,
                               size_t detail_size);

#endif
