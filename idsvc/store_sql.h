/*
 * SQL that two SQLite connections of the node share: the store's (store_sqlite.c) and
 * the audit log's (audit_store.c), which records assertion IDs in the transaction of
 * their audit entries.
 */
#ifndef IDSVC_STORE_SQL_H
#define IDSVC_STORE_SQL_H

/*
 * Records ?2, an assertion ID of issuer ?1, kept until ?3. No row changes when the
 * issuer's ID is recorded already, or when a row from before schema version 4 contains
 * the ID: such rows have the issuer '', so they block the ID for every issuer. Then
 * sqlite3_changes() is 0, and the caller treats the assertion as replayed.
 */
#define STORE_SQL_RECORD_ASSERTION                                                         \
    "INSERT OR IGNORE INTO replay_cache (issuer, assertion_id, not_on_or_after)"           \
    " SELECT ?1, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM replay_cache"                      \
    " WHERE issuer = '' AND assertion_id = ?2)"

/* Deletes the replay rows whose time ?1 has passed. */
#define STORE_SQL_PURGE_REPLAY "DELETE FROM replay_cache WHERE not_on_or_after < ?"

#endif
