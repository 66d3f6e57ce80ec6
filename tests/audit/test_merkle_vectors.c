/*
 * The audit Merkle tree against the published RFC 6962 test data used by the
 * Certificate Transparency reference implementations: eight leaves, the root of each
 * tree size from 1 to 8, and known inclusion and consistency paths.
 *
 * Source of the values: github.com/transparency-dev/merkle, file proof/verify_test.go,
 * commit 02194e9afb6c1d95b5381350007963aa70fff472 (the variables leaves, roots,
 * inclusionProofs and consistencyProofs). That table numbers leaves from 1, and the
 * indexes below are zero-based.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "audit_merkle.h"
#include "merkle_store.h"

#define MAX_PATH 4

static const struct {
    const unsigned char *bytes;
    size_t len;
} vector_leaves[8] = {
    {(const unsigned char *)"", 0},
    {(const unsigned char *)"\x00", 1},
    {(const unsigned char *)"\x10", 1},
    {(const unsigned char *)"\x20\x21", 2},
    {(const unsigned char *)"\x30\x31", 2},
    {(const unsigned char *)"\x40\x41\x42\x43", 4},
    {(const unsigned char *)"\x50\x51\x52\x53\x54\x55\x56\x57", 8},
    {(const unsigned char *)"\x60\x61\x62\x63\x64\x65\x66\x67"
                            "\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
     16},
};

/* vector_roots[i] is the root of the tree of the first i + 1 leaves. */
static const char *const vector_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static const char empty_tree_root[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* An arbitrary value that is no node of the test tree, from the same source file. */
static const char unrelated_hash[] =
    "abacaba000000000000000000000000000000000000000000060061e00123456";

typedef struct inclusion_vector {
    uint64_t index;
    uint64_t size;
    size_t path_len;
    const char *path[MAX_PATH];
} inclusion_vector;

static const inclusion_vector inclusion_vectors[] = {
    {0, 1, 0, {NULL}},
    {0,
     8,
     3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5,
     8,
     3,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1,
     5,
     3,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

typedef struct consistency_vector {
    uint64_t first_size;
    uint64_t second_size;
    size_t path_len;
    const char *path[MAX_PATH];
} consistency_vector;

static const consistency_vector consistency_vectors[] = {
    {1, 1, 0, {NULL}},
    {1,
     8,
     3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     2,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6,
     7,
     3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* The eight leaves appended to a node store, shared by every test in this file. */
typedef struct fixture {
    merkle_store store;
    audit_merkle_hash leaf_hashes[8];
} fixture;

static int fixture_setup(void **state)
{
    static fixture f;
    audit_merkle_frontier frontier;

    merkle_store_init(&f.store);
    audit_merkle_frontier_init(&frontier);

    for (size_t i = 0; i < 8; i++) {
        if (audit_merkle_hash_leaf(vector_leaves[i].bytes, vector_leaves[i].len,
                                   &f.leaf_hashes[i]) != AUDIT_MERKLE_OK)
            return -1;
    }
    if (merkle_store_append(&f.store, &frontier, f.leaf_hashes, 8) != AUDIT_MERKLE_OK)
        return -1;

    *state = &f;
    return 0;
}

static int fixture_teardown(void **state)
{
    fixture *f = *state;

    merkle_store_free(&f->store);
    return 0;
}

static void assert_hash_equal(const audit_merkle_hash *actual,
                              const audit_merkle_hash *expected)
{
    assert_memory_equal(actual->bytes, expected->bytes, AUDIT_MERKLE_HASH_SIZE);
}

static void assert_status(audit_merkle_status actual, audit_merkle_status expected)
{
    assert_string_equal(audit_merkle_status_code(actual),
                        audit_merkle_status_code(expected));
}

static audit_merkle_tree_head vector_head(uint64_t size)
{
    audit_merkle_tree_head head = {.size = size};

    head.root = size == 0 ? merkle_hash_from_hex(empty_tree_root)
                          : merkle_hash_from_hex(vector_roots[size - 1]);
    return head;
}

static size_t decode_path(const char *const *hex, size_t len, audit_merkle_hash *path)
{
    for (size_t i = 0; i < len; i++)
        path[i] = merkle_hash_from_hex(hex[i]);
    return len;
}

/* Asserts that proof contains the len hashes of the hex path, in order. */
static void assert_proof_equal(const audit_merkle_proof *proof, const char *const *path,
                               size_t len)
{
    audit_merkle_hash expected[MAX_PATH];

    decode_path(path, len, expected);
    assert_int_equal(proof->count, len);
    for (size_t i = 0; i < proof->count; i++)
        assert_hash_equal(&proof->hashes[i], &expected[i]);
}

/* ---- Hashing and roots ----------------------------------------------------------- */

static void test_empty_tree_root(void **state)
{
    fixture *f = *state;
    audit_merkle_source source = merkle_store_source(&f->store, false);
    audit_merkle_hash expected = merkle_hash_from_hex(empty_tree_root);
    audit_merkle_hash root;
    audit_merkle_tree_head head;
    audit_merkle_frontier frontier;

    audit_merkle_empty_root(&root);
    assert_hash_equal(&root, &expected);

    assert_status(audit_merkle_tree_head_compute(&source, 0, &head), AUDIT_MERKLE_OK);
    assert_int_equal(head.size, 0);
    assert_hash_equal(&head.root, &expected);

    audit_merkle_frontier_init(&frontier);
    assert_status(audit_merkle_frontier_head(&frontier, &head), AUDIT_MERKLE_OK);
    assert_hash_equal(&head.root, &expected);
}

/* The root of a one-leaf tree is its leaf hash, so the first root checks leaf hashing. */
static void test_leaf_hash_vector(void **state)
{
    fixture *f = *state;
    audit_merkle_hash expected = merkle_hash_from_hex(vector_roots[0]);

    assert_hash_equal(&f->leaf_hashes[0], &expected);
}

static void test_node_hash_vector(void **state)
{
    fixture *f = *state;
    audit_merkle_hash expected = merkle_hash_from_hex(vector_roots[1]);
    audit_merkle_hash node;

    assert_status(
        audit_merkle_hash_children(&f->leaf_hashes[0], &f->leaf_hashes[1], &node),
        AUDIT_MERKLE_OK);
    assert_hash_equal(&node, &expected);
}

static void test_roots_from_store(void **state)
{
    fixture *f = *state;

    for (int leaves_only = 0; leaves_only <= 1; leaves_only++) {
        audit_merkle_source source = merkle_store_source(&f->store, leaves_only);

        for (uint64_t size = 1; size <= 8; size++) {
            audit_merkle_hash expected = merkle_hash_from_hex(vector_roots[size - 1]);
            audit_merkle_tree_head head;

            assert_status(audit_merkle_tree_head_compute(&source, size, &head),
                          AUDIT_MERKLE_OK);
            assert_int_equal(head.size, size);
            assert_hash_equal(&head.root, &expected);
        }
    }
}

static void test_roots_from_appender(void **state)
{
    fixture *f = *state;
    audit_merkle_frontier frontier;

    audit_merkle_frontier_init(&frontier);
    for (uint64_t size = 1; size <= 8; size++) {
        audit_merkle_hash expected = merkle_hash_from_hex(vector_roots[size - 1]);
        audit_merkle_tree_head head;

        assert_status(
            audit_merkle_frontier_append(&frontier, &f->leaf_hashes[size - 1], NULL),
            AUDIT_MERKLE_OK);
        assert_status(audit_merkle_frontier_head(&frontier, &head), AUDIT_MERKLE_OK);
        assert_int_equal(head.size, size);
        assert_hash_equal(&head.root, &expected);
    }
}

/* ---- Inclusion ------------------------------------------------------------------- */

static void test_inclusion_generated(void **state)
{
    fixture *f = *state;

    for (int leaves_only = 0; leaves_only <= 1; leaves_only++) {
        audit_merkle_source source = merkle_store_source(&f->store, leaves_only);

        for (size_t v = 0; v < COUNT(inclusion_vectors); v++) {
            const inclusion_vector *vector = &inclusion_vectors[v];
            audit_merkle_proof proof;

            assert_status(audit_merkle_inclusion_proof(&source, vector->index,
                                                       vector->size, &proof),
                          AUDIT_MERKLE_OK);
            assert_proof_equal(&proof, vector->path, vector->path_len);
        }
    }
}

static audit_merkle_status verify_vector_inclusion(const fixture *f, uint64_t index,
                                                   const audit_merkle_tree_head *head,
                                                   const audit_merkle_hash *path,
                                                   size_t len)
{
    return audit_merkle_verify_inclusion(&f->leaf_hashes[index], index, head, path, len);
}

static void test_inclusion_verifies(void **state)
{
    fixture *f = *state;

    for (size_t v = 0; v < COUNT(inclusion_vectors); v++) {
        const inclusion_vector *vector = &inclusion_vectors[v];
        audit_merkle_tree_head head = vector_head(vector->size);
        audit_merkle_hash path[MAX_PATH];
        size_t len = decode_path(vector->path, vector->path_len, path);

        assert_status(verify_vector_inclusion(f, vector->index, &head, path, len),
                      AUDIT_MERKLE_OK);
    }
}

/* Each tampering of the proof itself fails for one predictable reason. */
static void test_inclusion_tampered_path(void **state)
{
    fixture *f = *state;
    const audit_merkle_hash other = merkle_hash_from_hex(unrelated_hash);

    for (size_t v = 0; v < COUNT(inclusion_vectors); v++) {
        const inclusion_vector *vector = &inclusion_vectors[v];
        audit_merkle_tree_head head = vector_head(vector->size);
        audit_merkle_hash path[MAX_PATH + 1];
        size_t len = decode_path(vector->path, vector->path_len, path);

        for (size_t i = 0; i < len; i++) {
            path[i].bytes[0] ^= 0x08;
            assert_status(verify_vector_inclusion(f, vector->index, &head, path, len),
                          AUDIT_MERKLE_ERR_ROOT_MISMATCH);
            path[i].bytes[0] ^= 0x08;
        }

        path[len] = head.root;
        assert_status(verify_vector_inclusion(f, vector->index, &head, path, len + 1),
                      AUDIT_MERKLE_ERR_PROOF_TOO_LONG);

        memmove(&path[1], &path[0], len * sizeof(path[0]));
        path[0] = other;
        assert_status(verify_vector_inclusion(f, vector->index, &head, path, len + 1),
                      AUDIT_MERKLE_ERR_PROOF_TOO_LONG);
        memmove(&path[0], &path[1], len * sizeof(path[0]));

        if (len > 0)
            assert_status(verify_vector_inclusion(f, vector->index, &head, path, len - 1),
                          AUDIT_MERKLE_ERR_PROOF_TOO_SHORT);
    }
}

static void test_inclusion_wrong_root_or_leaf(void **state)
{
    fixture *f = *state;

    for (size_t v = 0; v < COUNT(inclusion_vectors); v++) {
        const inclusion_vector *vector = &inclusion_vectors[v];
        audit_merkle_tree_head head = vector_head(vector->size);
        audit_merkle_hash path[MAX_PATH];
        size_t len = decode_path(vector->path, vector->path_len, path);
        audit_merkle_hash wrong_leaf = merkle_hash_from_hex(unrelated_hash);

        assert_status(
            audit_merkle_verify_inclusion(&wrong_leaf, vector->index, &head, path, len),
            AUDIT_MERKLE_ERR_ROOT_MISMATCH);

        head.root = merkle_hash_from_hex(empty_tree_root);
        assert_status(verify_vector_inclusion(f, vector->index, &head, path, len),
                      AUDIT_MERKLE_ERR_ROOT_MISMATCH);

        head.root = merkle_hash_from_hex(unrelated_hash);
        assert_status(verify_vector_inclusion(f, vector->index, &head, path, len),
                      AUDIT_MERKLE_ERR_ROOT_MISMATCH);
    }
}

/* A wrong index or size changes the walk, so any reason but success will do. */
static void test_inclusion_wrong_index_or_size(void **state)
{
    fixture *f = *state;

    for (size_t v = 0; v < COUNT(inclusion_vectors); v++) {
        const inclusion_vector *vector = &inclusion_vectors[v];
        audit_merkle_tree_head head = vector_head(vector->size);
        audit_merkle_tree_head bigger = {.size = vector->size * 2, .root = head.root};
        audit_merkle_tree_head smaller = {.size = vector->size / 2, .root = head.root};
        audit_merkle_hash path[MAX_PATH];
        size_t len = decode_path(vector->path, vector->path_len, path);
        const audit_merkle_hash *leaf = &f->leaf_hashes[vector->index];
        uint64_t wrong_indexes[] = {vector->index - 1, vector->index + 1,
                                    vector->index ^ 2};

        for (size_t i = 0; i < COUNT(wrong_indexes); i++) {
            audit_merkle_status status =
                audit_merkle_verify_inclusion(leaf, wrong_indexes[i], &head, path, len);
            assert_int_not_equal(status, AUDIT_MERKLE_OK);
        }

        assert_int_not_equal(
            audit_merkle_verify_inclusion(leaf, vector->index, &bigger, path, len),
            AUDIT_MERKLE_OK);
        assert_int_not_equal(
            audit_merkle_verify_inclusion(leaf, vector->index, &smaller, path, len),
            AUDIT_MERKLE_OK);
    }
}

static void test_inclusion_index_out_of_range(void **state)
{
    fixture *f = *state;
    audit_merkle_source source = merkle_store_source(&f->store, false);
    audit_merkle_tree_head head = vector_head(8);
    audit_merkle_tree_head empty = vector_head(0);
    audit_merkle_proof proof;

    assert_status(audit_merkle_inclusion_proof(&source, 8, 8, &proof),
                  AUDIT_MERKLE_ERR_INDEX_OUT_OF_RANGE);
    assert_status(audit_merkle_inclusion_proof(&source, 0, 0, &proof),
                  AUDIT_MERKLE_ERR_INDEX_OUT_OF_RANGE);
    assert_status(audit_merkle_verify_inclusion(&f->leaf_hashes[0], 8, &head, NULL, 0),
                  AUDIT_MERKLE_ERR_INDEX_OUT_OF_RANGE);
    assert_status(audit_merkle_verify_inclusion(&f->leaf_hashes[0], 0, &empty, NULL, 0),
                  AUDIT_MERKLE_ERR_INDEX_OUT_OF_RANGE);
}

/* ---- Consistency ----------------------------------------------------------------- */

static void test_consistency_generated(void **state)
{
    fixture *f = *state;

    for (int leaves_only = 0; leaves_only <= 1; leaves_only++) {
        audit_merkle_source source = merkle_store_source(&f->store, leaves_only);

        for (size_t v = 0; v < COUNT(consistency_vectors); v++) {
            const consistency_vector *vector = &consistency_vectors[v];
            audit_merkle_proof proof;

            assert_status(audit_merkle_consistency_proof(&source, vector->first_size,
                                                         vector->second_size, &proof),
                          AUDIT_MERKLE_OK);
            assert_proof_equal(&proof, vector->path, vector->path_len);
        }
    }
}

static void test_consistency_verifies(void **state)
{
    (void)state;

    for (size_t v = 0; v < COUNT(consistency_vectors); v++) {
        const consistency_vector *vector = &consistency_vectors[v];
        audit_merkle_tree_head first = vector_head(vector->first_size);
        audit_merkle_tree_head second = vector_head(vector->second_size);
        audit_merkle_hash path[MAX_PATH];
        size_t len = decode_path(vector->path, vector->path_len, path);

        assert_status(audit_merkle_verify_consistency(&first, &second, path, len),
                      AUDIT_MERKLE_OK);
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

static void test_consistency_tampered(void **state)
{
    (void)state;

    for (size_t v = 0; v < COUNT(consistency_vectors); v++) {
        const consistency_vector *vector = &consistency_vectors[v];
        audit_merkle_tree_head first = vector_head(vector->first_size);
        audit_merkle_tree_head second = vector_head(vector->second_size);
        audit_merkle_hash path[MAX_PATH + 1];
        size_t len = decode_path(vector->path, vector->path_len, path);

        if (len == 0)
            continue;

        for (size_t i = 0; i < len; i++) {
            path[i].bytes[0] ^= 0x10;
            audit_merkle_status status =
                audit_merkle_verify_consistency(&first, &second, path, len);
            assert_true(status == AUDIT_MERKLE_ERR_FIRST_ROOT_MISMATCH ||
                        status == AUDIT_MERKLE_ERR_SECOND_ROOT_MISMATCH);
            path[i].bytes[0] ^= 0x10;
        }

        assert_status(audit_merkle_verify_consistency(&first, &second, path, 0),
                      AUDIT_MERKLE_ERR_PROOF_TOO_SHORT);
        assert_status(audit_merkle_verify_consistency(&first, &second, path, len - 1),
                      AUDIT_MERKLE_ERR_PROOF_TOO_SHORT);

        path[len] = second.root;
        assert_status(audit_merkle_verify_consistency(&first, &second, path, len + 1),
                      AUDIT_MERKLE_ERR_PROOF_TOO_LONG);

        memmove(&path[1], &path[0], len * sizeof(path[0]));
        path[0] = first.root;
        assert_status(audit_merkle_verify_consistency(&first, &second, path, len + 1),
                      AUDIT_MERKLE_ERR_PROOF_TOO_LONG);
        memmove(&path[0], &path[1], len * sizeof(path[0]));
    }
}

static void test_consistency_wrong_heads(void **state)
{
    (void)state;

    for (size_t v = 0; v < COUNT(consistency_vectors); v++) {
        const consistency_vector *vector = &consistency_vectors[v];
        audit_merkle_tree_head first = vector_head(vector->first_size);
        audit_merkle_tree_head second = vector_head(vector->second_size);
        audit_merkle_hash path[MAX_PATH];
        size_t len = decode_path(vector->path, vector->path_len, path);
        audit_merkle_tree_head wrong;

        if (len == 0)
            continue;

        wrong = first;
        wrong.root = merkle_hash_from_hex(unrelated_hash);
        assert_status(audit_merkle_verify_consistency(&wrong, &second, path, len),
                      wrong_first_root_reason(first.size));

        wrong = second;
        wrong.root = merkle_hash_from_hex(unrelated_hash);
        assert_status(audit_merkle_verify_consistency(&first, &wrong, path, len),
                      AUDIT_MERKLE_ERR_SECOND_ROOT_MISMATCH);

        assert_status(audit_merkle_verify_consistency(&second, &first, path, len),
                      AUDIT_MERKLE_ERR_FIRST_SIZE_TOO_LARGE);

        uint64_t wrong_first_sizes[] = {first.size - 1, first.size + 1, first.size ^ 2};
        for (size_t i = 0; i < COUNT(wrong_first_sizes); i++) {
            wrong = first;
            wrong.size = wrong_first_sizes[i];
            assert_int_not_equal(
                audit_merkle_verify_consistency(&wrong, &second, path, len),
                AUDIT_MERKLE_OK);
        }

        uint64_t wrong_second_sizes[] = {second.size * 2, second.size / 2};
        for (size_t i = 0; i < COUNT(wrong_second_sizes); i++) {
            wrong = second;
            wrong.size = wrong_second_sizes[i];
            assert_int_not_equal(
                audit_merkle_verify_consistency(&first, &wrong, path, len),
                AUDIT_MERKLE_OK);
        }
    }
}

/* The cases without a proof: an empty first tree and two trees of one size. */
static void test_consistency_trivial_cases(void **state)
{
    (void)state;
    audit_merkle_tree_head empty = vector_head(0);
    audit_merkle_tree_head one = vector_head(1);
    audit_merkle_tree_head eight = vector_head(8);
    audit_merkle_tree_head wrong_empty = {.size = 0, .root = one.root};
    audit_merkle_tree_head wrong_eight = {.size = 8, .root = one.root};
    audit_merkle_hash extra = empty.root;

    assert_status(audit_merkle_verify_consistency(&empty, &empty, NULL, 0),
                  AUDIT_MERKLE_OK);
    assert_status(audit_merkle_verify_consistency(&empty, &eight, NULL, 0),
                  AUDIT_MERKLE_OK);
    assert_status(audit_merkle_verify_consistency(&eight, &eight, NULL, 0),
                  AUDIT_MERKLE_OK);

    assert_status(audit_merkle_verify_consistency(&wrong_empty, &eight, NULL, 0),
                  AUDIT_MERKLE_ERR_FIRST_ROOT_MISMATCH);
    assert_status(audit_merkle_verify_consistency(&eight, &wrong_eight, NULL, 0),
                  AUDIT_MERKLE_ERR_SECOND_ROOT_MISMATCH);
    assert_status(audit_merkle_verify_consistency(&empty, &wrong_empty, NULL, 0),
                  AUDIT_MERKLE_ERR_SECOND_ROOT_MISMATCH);
    assert_status(audit_merkle_verify_consistency(&empty, &eight, &extra, 1),
                  AUDIT_MERKLE_ERR_PROOF_TOO_LONG);
    assert_status(audit_merkle_verify_consistency(&eight, &eight, &extra, 1),
                  AUDIT_MERKLE_ERR_PROOF_TOO_LONG);
    assert_status(audit_merkle_verify_consistency(&one, &empty, NULL, 0),
                  AUDIT_MERKLE_ERR_FIRST_SIZE_TOO_LARGE);
    assert_status(audit_merkle_verify_consistency(&one, &eight, NULL, 0),
                  AUDIT_MERKLE_ERR_PROOF_TOO_SHORT);
}

/* ---- Status names ---------------------------------------------------------------- */

static void test_status_codes_stable(void **state)
{
    (void)state;
    static const struct {
        audit_merkle_status status;
        const char *code;
    } expected[] = {
        {AUDIT_MERKLE_OK, "ok"},
        {AUDIT_MERKLE_ERR_INVALID_ARGUMENT, "invalid_argument"},
        {AUDIT_MERKLE_ERR_DIGEST_FAILED, "digest_failed"},
        {AUDIT_MERKLE_ERR_STORE_FAILED, "store_failed"},
        {AUDIT_MERKLE_ERR_TREE_FULL, "tree_full"},
        {AUDIT_MERKLE_ERR_INDEX_OUT_OF_RANGE, "index_out_of_range"},
        {AUDIT_MERKLE_ERR_FIRST_SIZE_TOO_LARGE, "first_size_too_large"},
        {AUDIT_MERKLE_ERR_PROOF_TOO_LONG, "proof_too_long"},
        {AUDIT_MERKLE_ERR_PROOF_TOO_SHORT, "proof_too_short"},
        {AUDIT_MERKLE_ERR_ROOT_MISMATCH, "root_mismatch"},
        {AUDIT_MERKLE_ERR_FIRST_ROOT_MISMATCH, "first_root_mismatch"},
        {AUDIT_MERKLE_ERR_SECOND_ROOT_MISMATCH, "second_root_mismatch"},
        {AUDIT_MERKLE_ERR_INTERNAL, "internal_error"},
    };

    for (size_t i = 0; i < COUNT(expected); i++) {
        assert_string_equal(audit_merkle_status_code(expected[i].status),
                            expected[i].code);
        assert_non_null(audit_merkle_status_message(expected[i].status));
    }
    assert_string_equal(audit_merkle_status_code((audit_merkle_status)999),
                        "unknown_status");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_tree_root),
        cmocka_unit_test(test_leaf_hash_vector),
        cmocka_unit_test(test_node_hash_vector),
        cmocka_unit_test(test_roots_from_store),
        cmocka_unit_test(test_roots_from_appender),
        cmocka_unit_test(test_inclusion_generated),
        cmocka_unit_test(test_inclusion_verifies),
        cmocka_unit_test(test_inclusion_tampered_path),
        cmocka_unit_test(test_inclusion_wrong_root_or_leaf),
        cmocka_unit_test(test_inclusion_wrong_index_or_size),
        cmocka_unit_test(test_inclusion_index_out_of_range),
        cmocka_unit_test(test_consistency_generated),
        cmocka_unit_test(test_consistency_verifies),
        cmocka_unit_test(test_consistency_tampered),
        cmocka_unit_test(test_consistency_wrong_heads),
        cmocka_unit_test(test_consistency_trivial_cases),
        cmocka_unit_test(test_status_codes_stable),
    };

    return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
