/*
 * The Merkle tree of the audit log, as RFC 9162 (Certificate Transparency 2.0) section
 * 2.1 defines it: SHA-256 leaf and node hashes, tree heads, inclusion and consistency
 * proofs and their verification, and an incremental appender.
 *
 * The library stores no tree. Proof generation reads the hashes of perfect subtrees from
 * a caller's store through audit_merkle_source, and the appender hands every subtree it
 * completes to a caller's sink, so a database can keep exactly what the proofs need.
 * docs/audit-log.md describes the tree and the storage layout.
 */
#ifndef IDSVC_AUDIT_MERKLE_H
#define IDSVC_AUDIT_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define AUDIT_MERKLE_HASH_SIZE 32

/*
 * The maximum number of hashes in a proof. An inclusion proof has at most one hash per
 * tree level (64 for any 64-bit size), and a consistency proof at most one more.
 */
#define AUDIT_MERKLE_MAX_PROOF 65

/* A SHA-256 value: a leaf hash, a node hash or a root. */
typedef struct audit_merkle_hash {
    unsigned char bytes[AUDIT_MERKLE_HASH_SIZE];
} audit_merkle_hash;

/* A tree head: the number of leaves and the Merkle Tree Hash over them. */
typedef struct audit_merkle_tree_head {
    uint64_t size;
    audit_merkle_hash root;
} audit_merkle_tree_head;

/* A generated proof, in the order RFC 9162 sends it: the hash nearest the leaf first. */
typedef struct audit_merkle_proof {
    audit_merkle_hash hashes[AUDIT_MERKLE_MAX_PROOF];
    size_t count;
} audit_merkle_proof;

/* The outcome of an operation; audit_merkle_status_code() gives its stable name. */
typedef enum audit_merkle_status {
    AUDIT_MERKLE_OK = 0,
    AUDIT_MERKLE_ERR_INVALID_ARGUMENT, /* a NULL pointer or a source without callbacks */
    AUDIT_MERKLE_ERR_DIGEST_FAILED,    /* OpenSSL could not compute SHA-256 */
    AUDIT_MERKLE_ERR_STORE_FAILED,     /* a source or sink callback returned nonzero */
    AUDIT_MERKLE_ERR_TREE_FULL,        /* the tree already has UINT64_MAX leaves */
    AUDIT_MERKLE_ERR_INDEX_OUT_OF_RANGE,   /* leaf index >= tree size */
    AUDIT_MERKLE_ERR_FIRST_SIZE_TOO_LARGE, /* consistency: first size > second size */
    AUDIT_MERKLE_ERR_PROOF_TOO_LONG,       /* hashes left over after the root level */
    AUDIT_MERKLE_ERR_PROOF_TOO_SHORT,      /* the hashes ran out below the root level */
    AUDIT_MERKLE_ERR_ROOT_MISMATCH,        /* inclusion: the computed root differs */
    AUDIT_MERKLE_ERR_FIRST_ROOT_MISMATCH,  /* consistency: the old root differs */
    AUDIT_MERKLE_ERR_SECOND_ROOT_MISMATCH, /* consistency: the new root differs */
    AUDIT_MERKLE_ERR_INTERNAL,             /* a bug in this library */
} audit_merkle_status;

/* Returns the stable code of a status, such as "proof_too_short". */
const char *audit_merkle_status_code(audit_merkle_status status);

/* Returns a sentence describing a status, for logs and problem details. */
const char *audit_merkle_status_message(audit_merkle_status status);

/* ---- Hashing ------------------------------------------------------------------ */

/* Computes the leaf hash SHA-256(0x00 || entry). entry may be NULL when len is 0. */
audit_merkle_status audit_merkle_hash_leaf(const void *entry, size_t len,
                                           audit_merkle_hash *out);

/* Computes the interior node hash SHA-256(0x01 || left || right). */
audit_merkle_status audit_merkle_hash_children(const audit_merkle_hash *left,
                                               const audit_merkle_hash *right,
                                               audit_merkle_hash *out);

/* Writes the root of the empty tree, SHA-256 of the empty string. */
void audit_merkle_empty_root(audit_merkle_hash *out);

/* ---- Reading hashes from a store ---------------------------------------------- */

/*
 * A perfect subtree is named by its level and index: it covers the 2^level leaves
 * [index * 2^level, (index + 1) * 2^level). Level 0 is a single leaf hash.
 *
 * The library calls subtree_hash for every perfect subtree it needs, so a proof or a
 * root over n leaves costs O(log n) calls when the store keeps all perfect subtrees
 * (the nodes that audit_merkle_frontier_append passes to its sink). When subtree_hash
 * is NULL, the library calls leaf_hash instead and rebuilds each subtree from its
 * leaves, which costs O(n) calls and suits only small trees and tests.
 *
 * Each callback returns 0 after writing *out, or nonzero when the store has no such
 * hash or failed; the library then returns AUDIT_MERKLE_ERR_STORE_FAILED.
 */
typedef struct audit_merkle_source {
    int (*subtree_hash)(void *ctx, unsigned level, uint64_t index,
                        audit_merkle_hash *out);
    int (*leaf_hash)(void *ctx, uint64_t index, audit_merkle_hash *out);
    void *ctx;
} audit_merkle_source;

/* Computes the tree head of the first size leaves of source. */
audit_merkle_status audit_merkle_tree_head_compute(const audit_merkle_source *source,
                                                   uint64_t size,
                                                   audit_merkle_tree_head *head);

/* ---- Proofs ------------------------------------------------------------------- */

/*
 * Generates the inclusion proof of leaf index in the tree of size leaves (RFC 9162
 * section 2.1.3.1). Fails with AUDIT_MERKLE_ERR_INDEX_OUT_OF_RANGE when index >= size.
 */
audit_merkle_status audit_merkle_inclusion_proof(const audit_merkle_source *source,
                                                 uint64_t index, uint64_t size,
                                                 audit_merkle_proof *proof);

/*
 * Generates the consistency proof between the trees of first_size and second_size
 * leaves (RFC 9162 section 2.1.4.1). The proof is empty when first_size is 0 or equal
 * to second_size.
 */
audit_merkle_status audit_merkle_consistency_proof(const audit_merkle_source *source,
                                                   uint64_t first_size,
                                                   uint64_t second_size,
                                                   audit_merkle_proof *proof);

/*
 * Verifies that leaf_hash is leaf index of the tree that head describes, by the
 * algorithm of RFC 9162 section 2.1.3.2. Fails closed: only AUDIT_MERKLE_OK means the
 * proof holds, and any other status names the check that failed.
 */
audit_merkle_status audit_merkle_verify_inclusion(const audit_merkle_hash *leaf_hash,
                                                  uint64_t index,
                                                  const audit_merkle_tree_head *head,
                                                  const audit_merkle_hash *path,
                                                  size_t path_len);

/*
 * Verifies that the tree of first is a prefix of the tree of second, by the algorithm
 * of RFC 9162 section 2.1.4.2. Equal sizes need an empty path and equal roots. A first
 * size of 0 needs an empty path and the empty root, because every tree extends the
 * empty tree. Fails closed like audit_merkle_verify_inclusion.
 */
audit_merkle_status audit_merkle_verify_consistency(const audit_merkle_tree_head *first,
                                                    const audit_merkle_tree_head *second,
                                                    const audit_merkle_hash *path,
                                                    size_t path_len);

/* ---- Appending ---------------------------------------------------------------- */

/*
 * The right frontier of a tree (its compact range from leaf 0): for each bit i set in
 * size, roots[i] is the perfect subtree of 2^i leaves that bit stands for. These at most
 * 64 hashes are all that appending and the tree head need, so no old leaf is reread.
 * Entries for clear bits are unused. A zeroed struct is the empty tree.
 */
typedef struct audit_merkle_frontier {
    uint64_t size;
    audit_merkle_hash roots[64];
} audit_merkle_frontier;

/*
 * Receives each perfect subtree that an append completes, named as in
 * audit_merkle_source, in order of rising level, starting with the leaf itself. Returns
 * 0, or nonzero to make the append fail.
 */
typedef struct audit_merkle_sink {
    int (*store)(void *ctx, unsigned level, uint64_t index,
                 const audit_merkle_hash *hash);
    void *ctx;
} audit_merkle_sink;

/* Sets frontier to the empty tree. */
void audit_merkle_frontier_init(audit_merkle_frontier *frontier);

/*
 * Rebuilds the frontier of the first size leaves of source, with one subtree lookup per
 * bit set in size when the source has subtree_hash.
 */
audit_merkle_status audit_merkle_frontier_load(audit_merkle_frontier *frontier,
                                               const audit_merkle_source *source,
                                               uint64_t size);

/*
 * Appends one leaf hash in O(log n) hash operations. sink may be NULL. When the sink
 * fails, the frontier stays as it was, but the sink may already hold some of the new
 * nodes, so a store should write them in the transaction that records the entry.
 */
audit_merkle_status audit_merkle_frontier_append(audit_merkle_frontier *frontier,
                                                 const audit_merkle_hash *leaf_hash,
                                                 const audit_merkle_sink *sink);

/* Computes the tree head of the frontier in O(log n) hash operations. */
audit_merkle_status audit_merkle_frontier_head(const audit_merkle_frontier *frontier,
                                               audit_merkle_tree_head *head);

#endif
