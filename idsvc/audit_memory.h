/*
 * An in-memory store of every perfect subtree, for rebuilding a tree from exported leaf
 * hashes (idsvc-admin audit verify). It keeps about two hashes per leaf, 64 bytes.
 */
#ifndef IDSVC_AUDIT_MEMORY_H
#define IDSVC_AUDIT_MEMORY_H

#include <stdint.h>

#include "audit_merkle.h"

typedef struct audit_memory_tree {
    audit_merkle_frontier frontier;
    audit_merkle_hash *levels[64];
    uint64_t counts[64];
    uint64_t capacities[64];
} audit_memory_tree;

void audit_memory_tree_init(audit_memory_tree *tree);
void audit_memory_tree_free(audit_memory_tree *tree);

/* Appends a leaf hash and keeps every subtree it completes. */
audit_merkle_status audit_memory_tree_append(audit_memory_tree *tree,
                                             const audit_merkle_hash *leaf_hash);

/* A source over the tree, valid until the next append or free. */
audit_merkle_source audit_memory_tree_source(audit_memory_tree *tree);

/* Reads the subtree at level and index. Returns 0, or -1 when it is not complete. */
int audit_memory_tree_get(const audit_memory_tree *tree, unsigned level, uint64_t index,
                          audit_merkle_hash *out);

#endif
