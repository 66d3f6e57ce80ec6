/*
 * Randomised cross-checks of the audit Merkle tree. Leaf entries come from a fixed seed
 * so a failure repeats. Every inclusion and consistency proof of every tree size up to
 * SMALL_TREE_MAX must verify, and each tampered proof, wrong index or wrong size must
 * fail with its reason. Large trees check the lookup cost of proofs, and the appender
 * is checked against the recursive definition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit_merkle.h"
#include "merkle_store.h"

#define SMALL_TREE_MAX 300
#define APPENDER_TREE_MAX 3000
#define RANDOM_SEED UINT64_C(0x1d5c0a0d17e5eed5)

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* splitmix64, a small generator whose output depends only on the seed. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Fills leaves with the hashes of count random entries of 0 to 63 bytes. */
static void make_leaves(audit_merkle_hash *leaves, size_t count, uint64_t seed)
{
    uint64_t state = seed;
    unsigned char entry[64];

    for (size_t i = 0; i < count; i++) {
        size_t len = next_random(&state) % sizeof(entry);

        for (size_t j = 0; j < len; j++)
            entry[j] = (unsigned char)next_random(&state);
        assert_int_equal(audit_merkle_hash_leaf(entry, len, &leaves[i]), AUDIT_MERKLE_OK);
    }
}

static void assert_status(audit_merkle_status actual, audit_merkle_status expected)
{
    assert_string_equal(audit_merkle_status_code(actual),
                        audit_merkle_status_code(expected));
}

static void assert_hash_equal(const audit_merkle_hash *actual,
                              const audit_merkle_hash *expected)
{
    assert_memory_equal(actual->bytes, expected->bytes, AUDIT_MERKLE_HASH_SIZE);
}

static unsigned ceil_log2(uint64_t n)
{
    unsigned bits = 0;

    while (bits < 64 && (UINT64_C(1) << bits) < n)
        bits++;
    return bits;
}

/* ---- A small tree in a node store ------------------------------------------------ */

typedef struct small_tree {
    merkle_store store;
    audit_merkle_hash leaves[SMALL_TREE_MAX];
    audit_merkle_tree_head
        heads[SMALL_TREE_MAX + 1]; /* heads[n] is the tree of n leaves */
} small_tree;

static int small_tree_setup(void **state)
{
    small_tree *tree = calloc(1, sizeof(*tree));
    audit_merkle_frontier frontier;

    if (tree == NULL)
        return -1;
    printf("leaf entries from seed 0x%016llx\n", (unsigned long long)RANDOM_SEED);

    merkle_store_init(&tree->store);
    make_leaves(tree->leaves, SMALL_TREE_MAX, RANDOM_SEED);
    audit_merkle_frontier_init(&frontier);

    for (size_t n = 0; n <= SMALL_TREE_MAX; n++) {
        tree->heads[n].size = n;
        merkle_reference_root(tree->leaves, n, &tree->heads[n].root);
    }
    if (merkle_store_append(&tree->store, &frontier, tree->leaves, SMALL_TREE_MAX) !=
        AUDIT_MERKLE_OK)
        return -1;

    *state = tree;
    return 0;
}

static int small_tree_teardown(void **state)
{
    small_tree *tree = *state;

    merkle_store_free(&tree->store);
    free(tree);
    return 0;
}

static void test_roots_match_reference(void **state)
{
    small_tree *tree = *state;
    audit_merkle_source source = merkle_store_source(&tree->store, false);

    for (uint64_t n = 0; n <= SMALL_TREE_MAX; n++) {
        audit_merkle_tree_head head;

        assert_status(audit_merkle_tree_head_compute(&source, n, &head), AUDIT_MERKLE_OK);
        assert_int_equal(head.size, n);
        assert_hash_equal(&head.root, &tree->heads[n].root);
    }
}

/* Each change of a valid inclusion proof must fail, for the reason the change causes. */
static void check_inclusion_tampering(const small_tree *tree, uint64_t index, uint64_t n,
                                      audit_merkle_proof *proof)
{
    const audit_merkle_hash *leaf = &tree->leaves[index];
    const audit_merkle_tree_head *head = &tree->heads[n];
    size_t len = proof->count;

    for (size_t i = 0; i < len; i++) {
        unsigned char bit = (unsigned char)(1u << (i % 8));

        proof->hashes[i].bytes[i % AUDIT_MERKLE_HASH_SIZE] ^= bit;
        assert_status(
            audit_merkle_verify_inclusion(leaf, index, head, proof->hashes, len),
            AUDIT_MERKLE_ERR_ROOT_MISMATCH);
        proof->hashes[i].bytes[i % AUDIT_MERKLE_HASH_SIZE] ^= bit;
    }

    if (len > 0)
        assert_status(
            audit_merkle_verify_inclusion(leaf, index, head, proof->hashes, len - 1),
            AUDIT_MERKLE_ERR_PROOF_TOO_SHORT);

    proof->hashes[len] = head->root;
    assert_status(
        audit_merkle_verify_inclusion(leaf, index, head, proof->hashes, len + 1),
        AUDIT_MERKLE_ERR_PROOF_TOO_LONG);

    assert_status(audit_merkle_verify_inclusion(leaf, n, head, proof->hashes, len),
                  AUDIT_MERKLE_ERR_INDEX_OUT_OF_RANGE);

    /* Another leaf at this index, or this leaf at another index or size. */
    const audit_merkle_hash *other_leaf = &tree->leaves[(index + 1) % SMALL_TREE_MAX];
    assert_status(
        audit_merkle_verify_inclusion(other_leaf, index, head, proof->hashes, len),
        AUDIT_MERKLE_ERR_ROOT_MISMATCH);

    if (index > 0)
        assert_int_not_equal(
            audit_merkle_verify_inclusion(leaf, index - 1, head, proof->hashes, len),
            AUDIT_MERKLE_OK);
    if (index + 1 < n)
        assert_int_not_equal(
            audit_merkle_verify_inclusion(leaf, index + 1, head, proof->hashes, len),
            AUDIT_MERKLE_OK);

    /* A head of another size carries that tree's root, as a real tree head would. */
    if (n > 1 && index < n - 1)
        assert_int_not_equal(audit_merkle_verify_inclusion(
                                 leaf, index, &tree->heads[n - 1], proof->hashes, len),
                             AUDIT_MERKLE_OK);
    if (n < SMALL_TREE_MAX)
        assert_int_not_equal(audit_merkle_verify_inclusion(
                                 leaf, index, &tree->heads[n + 1], proof->hashes, len),
                             AUDIT_MERKLE_OK);
}

static void test_inclusion_all_sizes(void **state)
{
    small_tree *tree = *state;
    audit_merkle_source source = merkle_store_source(&tree->store, false);
    audit_merkle_proof proof;

    for (uint64_t n = 1; n <= SMALL_TREE_MAX; n++) {
        for (uint64_t index = 0; index < n; index++) {
            tree->store.lookups = 0;
            assert_status(audit_merkle_inclusion_proof(&source, index, n, &proof),
                          AUDIT_MERKLE_OK);
            assert_true(proof.count <= ceil_log2(n));
            assert_true(tree->store.lookups <= 2 * ceil_log2(n));

            assert_status(audit_merkle_verify_inclusion(&tree->leaves[index], index,
                                                        &tree->heads[n], proof.hashes,
                                                        proof.count),
                          AUDIT_MERKLE_OK);
            check_inclusion_tampering(tree, index, n, &proof);
        }
    }
}

/* The reason when the first root is wrong: a power-of-two first tree seeds the walk with
 * its own root, so the damage shows only in the second root. */
static audit_merkle_status wrong_first_root_reason(uint64_t first_size)
{
    if ((first_size & (first_size - 1)) == 0)
        return AUDIT_MERKLE_ERR_SECOND_ROOT_MISMATCH;
    return AUDIT_MERKLE_ERR_FIRST_ROOT_MISMATCH;
}

static void check_consistency_tampering(const small_tree *tree, uint64_t m, uint64_t n,
                                        audit_merkle_proof *proof)
{
    const audit_merkle_tree_head *first = &tree->heads[m];
    const audit_merkle_tree_head *second = &tree->heads[n];
    size_t len = proof->count;

    for (size_t i = 0; i < len; i++) {
        unsigned char bit = (unsigned char)(1u << (i % 8));

        proof->hashes[i].bytes[i % AUDIT_MERKLE_HASH_SIZE] ^= bit;
        audit_merkle_status status =
            audit_merkle_verify_consistency(first, second, proof->hashes, len);
        assert_true(status == AUDIT_MERKLE_ERR_FIRST_ROOT_MISMATCH ||
                    status == AUDIT_MERKLE_ERR_SECOND_ROOT_MISMATCH);
        proof->hashes[i].bytes[i % AUDIT_MERKLE_HASH_SIZE] ^= bit;
    }

    assert_status(audit_merkle_verify_consistency(first, second, proof->hashes, len - 1),
                  AUDIT_MERKLE_ERR_PROOF_TOO_SHORT);

    proof->hashes[len] = second->root;
    assert_status(audit_merkle_verify_consistency(first, second, proof->hashes, len + 1),
                  AUDIT_MERKLE_ERR_PROOF_TOO_LONG);

    assert_status(audit_merkle_verify_consistency(second, first, proof->hashes, len),
                  AUDIT_MERKLE_ERR_FIRST_SIZE_TOO_LARGE);

    audit_merkle_tree_head wrong = *first;
    wrong.root = tree->heads[m - 1].root;
    assert_status(audit_merkle_verify_consistency(&wrong, second, proof->hashes, len),
                  wrong_first_root_reason(m));

    wrong = *second;
    wrong.root = tree->heads[n - 1].root;
    assert_status(audit_merkle_verify_consistency(first, &wrong, proof->hashes, len),
                  AUDIT_MERKLE_ERR_SECOND_ROOT_MISMATCH);

    /* Heads of neighbouring sizes, each with its own correct root. */
    if (m + 1 < n)
        assert_int_not_equal(audit_merkle_verify_consistency(&tree->heads[m + 1], second,
                                                             proof->hashes, len),
                             AUDIT_MERKLE_OK);
    if (m > 1)
        assert_int_not_equal(audit_merkle_verify_consistency(&tree->heads[m - 1], second,
                                                             proof->hashes, len),
                             AUDIT_MERKLE_OK);
    if (n < SMALL_TREE_MAX)
        assert_int_not_equal(audit_merkle_verify_consistency(first, &tree->heads[n + 1],
                                                             proof->hashes, len),
                             AUDIT_MERKLE_OK);
    if (n - 1 > m)
        assert_int_not_equal(audit_merkle_verify_consistency(first, &tree->heads[n - 1],
                                                             proof->hashes, len),
                             AUDIT_MERKLE_OK);
}

static void test_consistency_all_sizes(void **state)
{
    small_tree *tree = *state;
    audit_merkle_source source = merkle_store_source(&tree->store, false);
    audit_merkle_proof proof;

    for (uint64_t n = 1; n <= SMALL_TREE_MAX; n++) {
        for (uint64_t m = 0; m <= n; m++) {
            tree->store.lookups = 0;
            assert_status(audit_merkle_consistency_proof(&source, m, n, &proof),
                          AUDIT_MERKLE_OK);
            assert_true(proof.count <= ceil_log2(n) + 1);
            assert_true(tree->store.lookups <= 2 * ceil_log2(n) + 1);

            assert_status(audit_merkle_verify_consistency(&tree->heads[m],
                                                          &tree->heads[n], proof.hashes,
                                                          proof.count),
                          AUDIT_MERKLE_OK);

            if (m == 0 || m == n) {
                assert_int_equal(proof.count, 0);
                continue;
            }
            check_consistency_tampering(tree, m, n, &proof);
        }
    }
}

/* A store that only has leaf hashes gives the same proofs, at a higher cost. */
static void test_leaves_only_source_agrees(void **state)
{
    small_tree *tree = *state;
    audit_merkle_source nodes = merkle_store_source(&tree->store, false);
    audit_merkle_source leaves = merkle_store_source(&tree->store, true);
    audit_merkle_proof expected;
    audit_merkle_proof actual;

    for (uint64_t n = 1; n <= 70; n++) {
        for (uint64_t i = 0; i < n; i++) {
            assert_status(audit_merkle_inclusion_proof(&nodes, i, n, &expected),
                          AUDIT_MERKLE_OK);
            assert_status(audit_merkle_inclusion_proof(&leaves, i, n, &actual),
                          AUDIT_MERKLE_OK);
            assert_int_equal(actual.count, expected.count);
            assert_memory_equal(actual.hashes, expected.hashes,
                                actual.count * sizeof(actual.hashes[0]));

            assert_status(audit_merkle_consistency_proof(&nodes, i, n, &expected),
                          AUDIT_MERKLE_OK);
            assert_status(audit_merkle_consistency_proof(&leaves, i, n, &actual),
                          AUDIT_MERKLE_OK);
            assert_int_equal(actual.count, expected.count);
            assert_memory_equal(actual.hashes, expected.hashes,
                                actual.count * sizeof(actual.hashes[0]));
        }
    }
}

/* A store failure on any lookup makes the operation fail, never return a partial proof.
 */
static void test_store_failure_reported(void **state)
{
    small_tree *tree = *state;
    audit_merkle_source source = merkle_store_source(&tree->store, false);
    audit_merkle_proof proof;
    audit_merkle_tree_head head;

    /* The root of 299 leaves needs 5 lookups, one per bit set in 299, and the proofs
     * need more. */
    for (long fail_after = 0; fail_after < 5; fail_after++) {
        tree->store.fail_after = fail_after;
        assert_status(audit_merkle_inclusion_proof(&source, 77, 299, &proof),
                      AUDIT_MERKLE_ERR_STORE_FAILED);
        assert_int_equal(proof.count, 0);

        tree->store.fail_after = fail_after;
        assert_status(audit_merkle_consistency_proof(&source, 77, 299, &proof),
                      AUDIT_MERKLE_ERR_STORE_FAILED);
        assert_int_equal(proof.count, 0);

        tree->store.fail_after = fail_after;
        assert_status(audit_merkle_tree_head_compute(&source, 299, &head),
                      AUDIT_MERKLE_ERR_STORE_FAILED);
    }
    tree->store.fail_after = -1;

    assert_status(audit_merkle_inclusion_proof(&source, 0, SMALL_TREE_MAX + 1, &proof),
                  AUDIT_MERKLE_ERR_STORE_FAILED);
}

static void test_invalid_arguments(void **state)
{
    small_tree *tree = *state;
    audit_merkle_source source = merkle_store_source(&tree->store, false);
    audit_merkle_source no_callbacks = {.ctx = &tree->store};
    audit_merkle_proof proof;
    audit_merkle_tree_head head = tree->heads[4];

    assert_status(audit_merkle_inclusion_proof(NULL, 0, 4, &proof),
                  AUDIT_MERKLE_ERR_INVALID_ARGUMENT);
    assert_status(audit_merkle_inclusion_proof(&no_callbacks, 0, 4, &proof),
                  AUDIT_MERKLE_ERR_INVALID_ARGUMENT);
    assert_status(audit_merkle_inclusion_proof(&source, 0, 4, NULL),
                  AUDIT_MERKLE_ERR_INVALID_ARGUMENT);
    assert_status(audit_merkle_consistency_proof(&source, 5, 4, &proof),
                  AUDIT_MERKLE_ERR_FIRST_SIZE_TOO_LARGE);
    assert_status(audit_merkle_verify_inclusion(NULL, 0, &head, NULL, 0),
                  AUDIT_MERKLE_ERR_INVALID_ARGUMENT);
    assert_status(audit_merkle_verify_inclusion(&tree->leaves[0], 0, &head, NULL, 2),
                  AUDIT_MERKLE_ERR_INVALID_ARGUMENT);
    assert_status(audit_merkle_verify_consistency(NULL, &head, NULL, 0),
                  AUDIT_MERKLE_ERR_INVALID_ARGUMENT);
    assert_status(audit_merkle_hash_leaf(NULL, 1, &head.root),
                  AUDIT_MERKLE_ERR_INVALID_ARGUMENT);
}

/* ---- The appender ---------------------------------------------------------------- */

static void test_appender_matches_definition(void **state)
{
    (void)state;
    audit_merkle_hash *leaves = calloc(APPENDER_TREE_MAX, sizeof(*leaves));
    audit_merkle_frontier frontier;

    assert_non_null(leaves);
    make_leaves(leaves, APPENDER_TREE_MAX, RANDOM_SEED + 1);
    audit_merkle_frontier_init(&frontier);

    for (uint64_t n = 1; n <= APPENDER_TREE_MAX; n++) {
        audit_merkle_tree_head head;
        audit_merkle_hash expected;

        assert_status(audit_merkle_frontier_append(&frontier, &leaves[n - 1], NULL),
                      AUDIT_MERKLE_OK);
        assert_status(audit_merkle_frontier_head(&frontier, &head), AUDIT_MERKLE_OK);
        merkle_reference_root(leaves, n, &expected);
        assert_int_equal(head.size, n);
        assert_hash_equal(&head.root, &expected);
    }
    free(leaves);
}

/* The sink receives the leaf and every completed subtree, and a failing sink leaves the
 * frontier as it was. */
static void test_appender_sink(void **state)
{
    small_tree *tree = *state;
    merkle_store store;
    audit_merkle_frontier frontier;
    audit_merkle_frontier before;
    audit_merkle_sink sink;

    merkle_store_init(&store);
    sink = merkle_store_sink(&store);
    audit_merkle_frontier_init(&frontier);
    assert_status(merkle_store_append(&store, &frontier, tree->leaves, 7),
                  AUDIT_MERKLE_OK);

    assert_int_equal(store.counts[0], 7);
    assert_int_equal(store.counts[1], 3);
    assert_int_equal(store.counts[2], 1);
    assert_int_equal(store.counts[3], 0);

    /* The eighth leaf completes one subtree at each of the levels 0 to 3. */
    before = frontier;
    store.fail_after = 2;
    assert_status(audit_merkle_frontier_append(&frontier, &tree->leaves[7], &sink),
                  AUDIT_MERKLE_ERR_STORE_FAILED);
    assert_memory_equal(&frontier, &before, sizeof(frontier));

    merkle_store_free(&store);
}

static void test_frontier_load_matches(void **state)
{
    small_tree *tree = *state;
    audit_merkle_source source = merkle_store_source(&tree->store, false);
    audit_merkle_frontier frontier;
    audit_merkle_tree_head head;

    for (uint64_t n = 0; n < SMALL_TREE_MAX; n++) {
        tree->store.lookups = 0;
        assert_status(audit_merkle_frontier_load(&frontier, &source, n), AUDIT_MERKLE_OK);
        assert_int_equal(tree->store.lookups, __builtin_popcountll(n));

        assert_status(audit_merkle_frontier_append(&frontier, &tree->leaves[n], NULL),
                      AUDIT_MERKLE_OK);
        assert_status(audit_merkle_frontier_head(&frontier, &head), AUDIT_MERKLE_OK);
        assert_hash_equal(&head.root, &tree->heads[n + 1].root);
    }
}

static void test_appender_tree_full(void **state)
{
    small_tree *tree = *state;
    audit_merkle_frontier frontier;

    audit_merkle_frontier_init(&frontier);
    frontier.size = UINT64_MAX;
    assert_status(audit_merkle_frontier_append(&frontier, &tree->leaves[0], NULL),
                  AUDIT_MERKLE_ERR_TREE_FULL);
    assert_true(frontier.size == UINT64_MAX);
}

/* ---- Large trees ----------------------------------------------------------------- */

/*
 * A synthetic tree of up to 2^63 leaves: every leaf is the same hash except a few
 * marked ones. A subtree without a marked leaf then has a hash that depends only on
 * its level, so the source returns any subtree with a few dozen hashes while staying a
 * real, consistent Merkle tree.
 */
#define MARKED_MAX 32
#define MEMO_SLOTS 8192

typedef struct sparse_tree {
    uint64_t marked[MARKED_MAX];
    size_t marked_count;
    audit_merkle_hash common_leaf;
    audit_merkle_hash plain[64]; /* plain[level]: a subtree of only common leaves */
    struct {
        unsigned level;
        uint64_t index;
        int used;
        audit_merkle_hash hash;
    } memo[MEMO_SLOTS];
    uint64_t lookups;
} sparse_tree;

static void sparse_leaf(uint64_t index, audit_merkle_hash *out)
{
    unsigned char entry[16] = "marked-";

    for (int i = 0; i < 8; i++)
        entry[8 + i] = (unsigned char)(index >> (8 * i));
    merkle_reference_leaf(entry, sizeof(entry), out);
}

static int sparse_has_marked(const sparse_tree *tree, unsigned level, uint64_t index)
{
    for (size_t i = 0; i < tree->marked_count; i++) {
        if ((tree->marked[i] >> level) == index)
            return 1;
    }
    return 0;
}

static void sparse_compute(sparse_tree *tree, unsigned level, uint64_t index,
                           audit_merkle_hash *out);

static void sparse_memo_compute(sparse_tree *tree, unsigned level, uint64_t index,
                                audit_merkle_hash *out)
{
    size_t slot = (size_t)((index * UINT64_C(0x9e3779b97f4a7c15) + level) % MEMO_SLOTS);

    while (tree->memo[slot].used) {
        if (tree->memo[slot].level == level && tree->memo[slot].index == index) {
            *out = tree->memo[slot].hash;
            return;
        }
        slot = (slot + 1) % MEMO_SLOTS;
    }

    sparse_compute(tree, level, index, out);
    tree->memo[slot].level = level;
    tree->memo[slot].index = index;
    tree->memo[slot].hash = *out;
    tree->memo[slot].used = 1;
}

static void sparse_compute(sparse_tree *tree, unsigned level, uint64_t index,
                           audit_merkle_hash *out)
{
    audit_merkle_hash left;
    audit_merkle_hash right;

    if (!sparse_has_marked(tree, level, index)) {
        *out = tree->plain[level];
        return;
    }
    if (level == 0) {
        sparse_leaf(index, out);
        return;
    }
    sparse_memo_compute(tree, level - 1, 2 * index, &left);
    sparse_memo_compute(tree, level - 1, 2 * index + 1, &right);
    merkle_reference_children(&left, &right, out);
}

static int sparse_subtree(void *ctx, unsigned level, uint64_t index,
                          audit_merkle_hash *out)
{
    sparse_tree *tree = ctx;

    tree->lookups++;
    sparse_memo_compute(tree, level, index, out);
    return 0;
}

static void sparse_leaf_hash(const sparse_tree *tree, uint64_t index,
                             audit_merkle_hash *out)
{
    if (sparse_has_marked(tree, 0, index))
        sparse_leaf(index, out);
    else
        *out = tree->common_leaf;
}

static const uint64_t large_sizes[] = {
    UINT64_C(10000000),
    UINT64_C(1) << 24,
    (UINT64_C(1) << 24) + 1,
    UINT64_C(4294967311),
};

static sparse_tree *sparse_tree_new(uint64_t size)
{
    sparse_tree *tree = calloc(1, sizeof(*tree));
    uint64_t state = RANDOM_SEED ^ size;
    const uint64_t fixed[] = {0, 1, size / 2, size - 2, size - 1};

    assert_non_null(tree);
    merkle_reference_leaf("common", 6, &tree->common_leaf);
    tree->plain[0] = tree->common_leaf;
    for (unsigned level = 1; level < 64; level++)
        merkle_reference_children(&tree->plain[level - 1], &tree->plain[level - 1],
                                  &tree->plain[level]);

    for (size_t i = 0; i < COUNT(fixed); i++)
        tree->marked[tree->marked_count++] = fixed[i];
    while (tree->marked_count < 16)
        tree->marked[tree->marked_count++] = next_random(&state) % size;
    return tree;
}

/* Proofs at tens of millions of leaves cost O(log n) lookups and verify. */
static void test_large_tree_proofs(void **state)
{
    (void)state;

    for (size_t s = 0; s < COUNT(large_sizes); s++) {
        uint64_t size = large_sizes[s];
        sparse_tree *tree = sparse_tree_new(size);
        audit_merkle_source source = {.subtree_hash = sparse_subtree, .ctx = tree};
        audit_merkle_tree_head head;
        audit_merkle_proof proof;

        tree->lookups = 0;
        assert_status(audit_merkle_tree_head_compute(&source, size, &head),
                      AUDIT_MERKLE_OK);
        assert_int_equal(tree->lookups, __builtin_popcountll(size));

        for (size_t i = 0; i < tree->marked_count; i++) {
            uint64_t index = tree->marked[i];
            audit_merkle_hash leaf;

            sparse_leaf_hash(tree, index, &leaf);
            tree->lookups = 0;
            assert_status(audit_merkle_inclusion_proof(&source, index, size, &proof),
                          AUDIT_MERKLE_OK);
            assert_true(tree->lookups <= 2 * ceil_log2(size));
            assert_status(audit_merkle_verify_inclusion(&leaf, index, &head, proof.hashes,
                                                        proof.count),
                          AUDIT_MERKLE_OK);

            proof.hashes[0].bytes[5] ^= 0x40;
            assert_status(audit_merkle_verify_inclusion(&leaf, index, &head, proof.hashes,
                                                        proof.count),
                          AUDIT_MERKLE_ERR_ROOT_MISMATCH);
        }
        free(tree);
    }
}

static void test_large_tree_consistency(void **state)
{
    (void)state;

    for (size_t s = 0; s < COUNT(large_sizes); s++) {
        uint64_t size = large_sizes[s];
        sparse_tree *tree = sparse_tree_new(size + 1000);
        audit_merkle_source source = {.subtree_hash = sparse_subtree, .ctx = tree};
        uint64_t first_sizes[] = {1, 3, size / 3, size - 1, size};
        audit_merkle_tree_head second;
        audit_merkle_proof proof;

        assert_status(audit_merkle_tree_head_compute(&source, size + 1000, &second),
                      AUDIT_MERKLE_OK);

        for (size_t i = 0; i < COUNT(first_sizes); i++) {
            audit_merkle_tree_head first;

            assert_status(audit_merkle_tree_head_compute(&source, first_sizes[i], &first),
                          AUDIT_MERKLE_OK);
            tree->lookups = 0;
            assert_status(
                audit_merkle_consistency_proof(&source, first.size, second.size, &proof),
                AUDIT_MERKLE_OK);
            assert_true(tree->lookups <= 2 * ceil_log2(second.size) + 1);
            assert_status(audit_merkle_verify_consistency(&first, &second, proof.hashes,
                                                          proof.count),
                          AUDIT_MERKLE_OK);

            proof.hashes[proof.count - 1].bytes[0] ^= 0x01;
            assert_int_not_equal(audit_merkle_verify_consistency(
                                     &first, &second, proof.hashes, proof.count),
                                 AUDIT_MERKLE_OK);
        }
        free(tree);
    }
}

/* A frontier loaded at a large size keeps appending to the same roots as the store. */
static void test_large_frontier_appends(void **state)
{
    (void)state;

    for (size_t s = 0; s < COUNT(large_sizes); s++) {
        uint64_t size = large_sizes[s];
        sparse_tree *tree = sparse_tree_new(size);
        audit_merkle_source source = {.subtree_hash = sparse_subtree, .ctx = tree};
        audit_merkle_frontier frontier;

        tree->lookups = 0;
        assert_status(audit_merkle_frontier_load(&frontier, &source, size),
                      AUDIT_MERKLE_OK);
        assert_int_equal(tree->lookups, __builtin_popcountll(size));

        for (uint64_t n = size; n < size + 40; n++) {
            audit_merkle_hash leaf;
            audit_merkle_tree_head from_frontier;
            audit_merkle_tree_head from_store;

            sparse_leaf_hash(tree, n, &leaf);
            assert_status(audit_merkle_frontier_append(&frontier, &leaf, NULL),
                          AUDIT_MERKLE_OK);
            assert_status(audit_merkle_frontier_head(&frontier, &from_frontier),
                          AUDIT_MERKLE_OK);
            assert_status(audit_merkle_tree_head_compute(&source, n + 1, &from_store),
                          AUDIT_MERKLE_OK);
            assert_int_equal(from_frontier.size, n + 1);
            assert_hash_equal(&from_frontier.root, &from_store.root);
        }
        free(tree);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roots_match_reference),
        cmocka_unit_test(test_inclusion_all_sizes),
        cmocka_unit_test(test_consistency_all_sizes),
        cmocka_unit_test(test_leaves_only_source_agrees),
        cmocka_unit_test(test_store_failure_reported),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_appender_matches_definition),
        cmocka_unit_test(test_appender_sink),
        cmocka_unit_test(test_frontier_load_matches),
        cmocka_unit_test(test_appender_tree_full),
        cmocka_unit_test(test_large_tree_proofs),
        cmocka_unit_test(test_large_tree_consistency),
        cmocka_unit_test(test_large_frontier_appends),
    };

    return cmocka_run_group_tests(tests, small_tree_setup, small_tree_teardown);
}
