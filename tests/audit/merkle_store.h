/*
 * Test support for the audit Merkle tree: an in-memory node store that plays the
 * database's part behind audit_merkle_source and audit_merkle_sink, and an independent
 * reference implementation of the RFC 9162 Merkle Tree Hash.
 */
#ifndef IDSVC_TEST_MERKLE_STORE_H
#define IDSVC_TEST_MERKLE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "audit_merkle.h"

/* Every perfect subtree the appender completed, by level and index. */
typedef struct merkle_store {
    audit_merkle_hash *levels[64];
    uint64_t counts[64];
    uint64_t capacities[64];
    uint64_t lookups; /* source callbacks served, for counting a proof's cost */
    long fail_after;  /* callbacks that succeed before one fails, or -1 for none */
} merkle_store;

void merkle_store_init(merkle_store *store);
void merkle_store_free(merkle_store *store);

/*
 * Returns a source reading this store. With leaves_only the source has no subtree_hash,
 * so the library rebuilds subtrees from leaf hashes.
 */
audit_merkle_source merkle_store_source(merkle_store *store, bool leaves_only);

/* Returns a sink that records each completed subtree in this store. */
audit_merkle_sink merkle_store_sink(merkle_store *store);

/* Appends count leaf hashes through frontier into the store and returns the status. */
audit_merkle_status merkle_store_append(merkle_store *store,
                                        audit_merkle_frontier *frontier,
                                        const audit_merkle_hash *leaves, uint64_t count);

/*
 * Computes MTH(D[0:n]) straight from the recursive definition in RFC 9162 section
 * 2.1.1, with its own SHA-256 calls, so it shares no code with the library.
 */
void merkle_reference_root(const audit_merkle_hash *leaves, uint64_t n,
                           audit_merkle_hash *out);

/* Computes SHA-256(0x01 || left || right) without the library. */
void merkle_reference_children(const audit_merkle_hash *left,
                               const audit_merkle_hash *right, audit_merkle_hash *out);

/* Computes SHA-256(0x00 || entry) without the library. */
void merkle_reference_leaf(const void *entry, size_t len, audit_merkle_hash *out);

/* Decodes 64 hex digits into a hash, and aborts the test run on bad input. */
audit_merkle_hash merkle_hash_from_hex(const char *hex);

#endif
