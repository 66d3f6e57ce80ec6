/* The in-memory subtree store of audit_memory.h. */
#include "audit_memory.h"

#include <stdlib.h>
#include <string.h>

void audit_memory_tree_init(audit_memory_tree *tree)
{
    memset(tree, 0, sizeof(*tree));
    audit_merkle_frontier_init(&tree->frontier);
}

void audit_memory_tree_free(audit_memory_tree *tree)
{
    for (unsigned level = 0; level < 64; level++)
        free(tree->levels[level]);
    memset(tree, 0, sizeof(*tree));
}

static int keep_subtree(void *ctx, unsigned level, uint64_t index,
                        const audit_merkle_hash *hash)
{
    audit_memory_tree *tree = ctx;

    if (level >= 64 || index != tree->counts[level])
        return -1; /* subtrees of one level arrive in order */
    if (tree->counts[level] == tree->capacities[level]) {
        uint64_t capacity = tree->capacities[level] * 2 + 1024;
        audit_merkle_hash *grown = realloc(tree->levels[level], capacity * sizeof(*grown));

        if (grown == NULL)
            return -1;
        tree->levels[level] = grown;
        tree->capacities[level] = capacity;
    }
    tree->levels[level][tree->counts[level]++] = *hash;
    return 0;
}

audit_merkle_status audit_memory_tree_append(audit_memory_tree *tree,
                                             const audit_merkle_hash *leaf_hash)
{
    audit_merkle_sink sink = {keep_subtree, tree};

    return audit_merkle_frontier_append(&tree->frontier, leaf_hash, &sink);
}

int audit_memory_tree_get(const audit_memory_tree *tree, unsigned level, uint64_t index,
                          audit_merkle_hash *out)
{
    if (level >= 64 || index >= tree->counts[level])
        return -1;
    *out = tree->levels[level][index];
    return 0;
}

static int read_subtree(void *ctx, unsigned level, uint64_t index, audit_merkle_hash *out)
{
    return audit_memory_tree_get(ctx, level, index, out);
}

audit_merkle_source audit_memory_tree_source(audit_memory_tree *tree)
{
    audit_merkle_source source = {read_subtree, NULL, tree};

    return source;
}
