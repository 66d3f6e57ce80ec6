/*
 * RFC 9162 Merkle tree: hashing, tree heads, proofs and the incremental appender.
 *
 * Ranges are half-open leaf intervals [start, end). Every range that the RFC's
 * recursive definitions visit starts at a multiple of the largest power of two not
 * above its length. Such a range splits into perfect subtrees that a store can keep,
 * and its hash is those subtrees folded from the right.
 */
#include "audit_merkle.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>

#define LEAF_PREFIX 0x00
#define NODE_PREFIX 0x01

/* SHA-256 of the empty string, the root of a tree without leaves. */
static const audit_merkle_hash empty_root = {{
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
    0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
    0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
}};

/* ---- Status names -------------------------------------------------------------- */

static const struct {
    const char *code;
    const char *message;
} status_names[] = {
    [AUDIT_MERKLE_OK] = {"ok", "The operation succeeded."},
    [AUDIT_MERKLE_ERR_INVALID_ARGUMENT] = {"invalid_argument",
                                           "A required argument or callback is missing."},
    [AUDIT_MERKLE_ERR_DIGEST_FAILED] = {"digest_failed", "Computing SHA-256 failed."},
    [AUDIT_MERKLE_ERR_STORE_FAILED] = {"store_failed",
                                       "The store could not read or write a tree hash."},
    [AUDIT_MERKLE_ERR_TREE_FULL] = {"tree_full",
                                    "The tree has reached its maximum size."},
    [AUDIT_MERKLE_ERR_INDEX_OUT_OF_RANGE] =
        {"index_out_of_range", "The leaf index is not below the tree size."},
    [AUDIT_MERKLE_ERR_FIRST_SIZE_TOO_LARGE] =
        {"first_size_too_large", "The first tree is larger than the second."},
    [AUDIT_MERKLE_ERR_PROOF_TOO_LONG] =
        {"proof_too_long", "The proof has more hashes than the tree size needs."},
    [AUDIT_MERKLE_ERR_PROOF_TOO_SHORT] =
        {"proof_too_short", "The proof has fewer hashes than the tree size needs."},
    [AUDIT_MERKLE_ERR_ROOT_MISMATCH] =
        {"root_mismatch", "The root computed from the proof differs from the "
                          "tree head."},
    [AUDIT_MERKLE_ERR_FIRST_ROOT_MISMATCH] =
        {"first_root_mismatch", "The proof does not lead to the root of the "
                                "first tree head."},
    [AUDIT_MERKLE_ERR_SECOND_ROOT_MISMATCH] =
        {"second_root_mismatch", "The proof does not lead to the root of the "
                                 "second tree head."},
    [AUDIT_MERKLE_ERR_INTERNAL] = {"internal_error", "The Merkle tree code hit a bug."},
};

const char *audit_merkle_status_code(audit_merkle_status status)
{
    if ((size_t)status >= sizeof(status_names) / sizeof(status_names[0]))
        return "unknown_status";
    return status_names[status].code;
}

const char *audit_merkle_status_message(audit_merkle_status status)
{
    if ((size_t)status >= sizeof(status_names) / sizeof(status_names[0]))
        return "The status is unknown.";
    return status_names[status].message;
}

/* ---- Hashing ------------------------------------------------------------------- */

/* One SHA-256 implementation and context, reused for every hash of one operation. */
typedef struct digest {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
} digest;

static audit_merkle_status digest_open(digest *d)
{
    d->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    d->ctx = EVP_MD_CTX_new();
    if (d->md == NULL || d->ctx == NULL)
        return AUDIT_MERKLE_ERR_DIGEST_FAILED;
    return AUDIT_MERKLE_OK;
}

static void digest_close(digest *d)
{
    EVP_MD_CTX_free(d->ctx);
    EVP_MD_free(d->md);
    d->ctx = NULL;
    d->md = NULL;
}

/* Hashes prefix || first || second; second may be NULL when second_len is 0. */
static audit_merkle_status digest_prefixed(digest *d, unsigned char prefix,
                                           const void *first, size_t first_len,
                                           const void *second, size_t second_len,
                                           audit_merkle_hash *out)
{
    unsigned int out_len = 0;

    if (EVP_DigestInit_ex2(d->ctx, d->md, NULL) != 1 ||
        EVP_DigestUpdate(d->ctx, &prefix, 1) != 1 ||
        EVP_DigestUpdate(d->ctx, first, first_len) != 1 ||
        (second_len > 0 && EVP_DigestUpdate(d->ctx, second, second_len) != 1) ||
        EVP_DigestFinal_ex(d->ctx, out->bytes, &out_len) != 1 ||
        out_len != AUDIT_MERKLE_HASH_SIZE)
        return AUDIT_MERKLE_ERR_DIGEST_FAILED;
    return AUDIT_MERKLE_OK;
}

static audit_merkle_status digest_children(digest *d, const audit_merkle_hash *left,
                                           const audit_merkle_hash *right,
                                           audit_merkle_hash *out)
{
    return digest_prefixed(d, NODE_PREFIX, left->bytes, AUDIT_MERKLE_HASH_SIZE,
                           right->bytes, AUDIT_MERKLE_HASH_SIZE, out);
}

audit_merkle_status audit_merkle_hash_leaf(const void *entry, size_t len,
                                           audit_merkle_hash *out)
{
    digest d = {0};
    audit_merkle_status status = AUDIT_MERKLE_ERR_INVALID_ARGUMENT;

    if (out == NULL || (entry == NULL && len > 0))
        goto out;

    status = digest_open(&d);
    if (status != AUDIT_MERKLE_OK)
        goto out;

    /* An empty entry may come as NULL, and OpenSSL then gets an empty string instead. */
    status = digest_prefixed(&d, LEAF_PREFIX, len > 0 ? entry : "", len, NULL, 0, out);

out:
    digest_close(&d);
    return status;
}

audit_merkle_status audit_merkle_hash_children(const audit_merkle_hash *left,
                                               const audit_merkle_hash *right,
                                               audit_merkle_hash *out)
{
    digest d = {0};
    audit_merkle_status status = AUDIT_MERKLE_ERR_INVALID_ARGUMENT;

    if (left == NULL || right == NULL || out == NULL)
        goto out;

    status = digest_open(&d);
    if (status != AUDIT_MERKLE_OK)
        goto out;

    status = digest_children(&d, left, right, out);

out:
    digest_close(&d);
    return status;
}

void audit_merkle_empty_root(audit_merkle_hash *out)
{
    *out = empty_root;
}

static bool hash_equal(const audit_merkle_hash *a, const audit_merkle_hash *b)
{
    return memcmp(a->bytes, b->bytes, AUDIT_MERKLE_HASH_SIZE) == 0;
}

/* ---- Tree arithmetic ----------------------------------------------------------- */

/* Returns the largest power of two strictly below n; n must be at least 2. */
static uint64_t split_point(uint64_t n)
{
    return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

/* Returns floor(log2(n)) for n > 0, which is the level of a perfect subtree of n leaves.
 */
static unsigned floor_log2(uint64_t n)
{
    return 63u - (unsigned)__builtin_clzll(n);
}

static bool source_valid(const audit_merkle_source *source)
{
    return source != NULL && (source->subtree_hash != NULL || source->leaf_hash != NULL);
}

/* ---- Reading subtrees from the source ------------------------------------------ */

/* Rebuilds a perfect subtree from its leaf hashes, for sources without subtree_hash. */
static audit_merkle_status rebuild_subtree(digest *d, const audit_merkle_source *source,
                                           unsigned level, uint64_t index,
                                           audit_merkle_hash *out)
{
    audit_merkle_hash left;
    audit_merkle_hash right;
    audit_merkle_status status;

    if (level == 0) {
        if (source->leaf_hash(source->ctx, index, out) != 0)
            return AUDIT_MERKLE_ERR_STORE_FAILED;
        return AUDIT_MERKLE_OK;
    }

    status = rebuild_subtree(d, source, level - 1, 2 * index, &left);
    if (status != AUDIT_MERKLE_OK)
        return status;

    status = rebuild_subtree(d, source, level - 1, 2 * index + 1, &right);
    if (status != AUDIT_MERKLE_OK)
        return status;

    return digest_children(d, &left, &right, out);
}

static audit_merkle_status read_subtree(digest *d, const audit_merkle_source *source,
                                        unsigned level, uint64_t index,
                                        audit_merkle_hash *out)
{
    if (source->subtree_hash == NULL)
        return rebuild_subtree(d, source, level, index, out);

    if (source->subtree_hash(source->ctx, level, index, out) != 0)
        return AUDIT_MERKLE_ERR_STORE_FAILED;
    return AUDIT_MERKLE_OK;
}

/*
 * Computes MTH(D[start:end]). The range splits into perfect subtrees of falling size,
 * one per bit set in its length, and its hash folds them from the right:
 * MTH = H(s1, H(s2, ... H(s(k-1), sk))). This is the RFC's recursive split at the
 * largest power of two below the length, unrolled.
 */
static audit_merkle_status range_hash(digest *d, const audit_merkle_source *source,
                                      uint64_t start, uint64_t end,
                                      audit_merkle_hash *out)
{
    audit_merkle_hash parts[64];
    size_t count = 0;
    uint64_t position = start;
    audit_merkle_status status;

    while (position < end) {
        unsigned level = floor_log2(end - position);
        uint64_t width = UINT64_C(1) << level;

        /* A misaligned piece is no stored subtree, and only a caller bug makes one. */
        if ((position & (width - 1)) != 0)
            return AUDIT_MERKLE_ERR_INTERNAL;

        status = read_subtree(d, source, level, position >> level, &parts[count]);
        if (status != AUDIT_MERKLE_OK)
            return status;

        count++;
        position += width;
    }

    if (count == 0)
        return AUDIT_MERKLE_ERR_INTERNAL;

    *out = parts[count - 1];
    for (size_t i = count - 1; i > 0; i--) {
        status = digest_children(d, &parts[i - 1], out, out);
        if (status != AUDIT_MERKLE_OK)
            return status;
    }
    return AUDIT_MERKLE_OK;
}

audit_merkle_status audit_merkle_tree_head_compute(const audit_merkle_source *source,
                                                   uint64_t size,
                                                   audit_merkle_tree_head *head)
{
    digest d = {0};
    audit_merkle_status status = AUDIT_MERKLE_ERR_INVALID_ARGUMENT;

    if (!source_valid(source) || head == NULL)
        goto out;

    head->size = size;
    if (size == 0) {
        head->root = empty_root;
        status = AUDIT_MERKLE_OK;
        goto out;
    }

    status = digest_open(&d);
    if (status != AUDIT_MERKLE_OK)
        goto out;

    status = range_hash(&d, source, 0, size, &head->root);

out:
    digest_close(&d);
    return status;
}

/* ---- Proof generation ---------------------------------------------------------- */

/* Appends MTH(D[start:end]) to a proof that is being built from the root down. */
static audit_merkle_status proof_push_range(digest *d, const audit_merkle_source *source,
                                            uint64_t start, uint64_t end,
                                            audit_merkle_proof *proof)
{
    if (proof->count == AUDIT_MERKLE_MAX_PROOF)
        return AUDIT_MERKLE_ERR_INTERNAL;

    audit_merkle_status status =
        range_hash(d, source, start, end, &proof->hashes[proof->count]);
    if (status != AUDIT_MERKLE_OK)
        return status;

    proof->count++;
    return AUDIT_MERKLE_OK;
}

/* Turns a proof built from the root down into the RFC order, leaf end first. */
static void proof_reverse(audit_merkle_proof *proof)
{
    for (size_t i = 0, j = proof->count; i + 1 < j; i++, j--) {
        audit_merkle_hash tmp = proof->hashes[i];
        proof->hashes[i] = proof->hashes[j - 1];
        proof->hashes[j - 1] = tmp;
    }
}

/*
 * PATH(m, D[n]) from RFC 9162 section 2.1.3.1, walked from the root down: at each
 * split the proof takes the half that does not hold the leaf, and the walk continues
 * into the half that does. Only the first right-hand sibling can be an imperfect
 * subtree, so the walk costs at most about 2 log2(n) subtree lookups.
 */
static audit_merkle_status build_inclusion(digest *d, const audit_merkle_source *source,
                                           uint64_t index, uint64_t size,
                                           audit_merkle_proof *proof)
{
    uint64_t start = 0;
    uint64_t end = size;
    audit_merkle_status status;

    while (end - start > 1) {
        uint64_t k = split_point(end - start);

        if (index < start + k) {
            status = proof_push_range(d, source, start + k, end, proof);
            end = start + k;
        } else {
            status = proof_push_range(d, source, start, start + k, proof);
            start += k;
        }
        if (status != AUDIT_MERKLE_OK)
            return status;
    }

    proof_reverse(proof);
    return AUDIT_MERKLE_OK;
}

audit_merkle_status audit_merkle_inclusion_proof(const audit_merkle_source *source,
                                                 uint64_t index, uint64_t size,
                                                 audit_merkle_proof *proof)
{
    digest d = {0};
    audit_merkle_status status = AUDIT_MERKLE_ERR_INVALID_ARGUMENT;

    if (!source_valid(source) || proof == NULL)
        goto out;
    proof->count = 0;

    status = AUDIT_MERKLE_ERR_INDEX_OUT_OF_RANGE;
    if (index >= size)
        goto out;

    status = digest_open(&d);
    if (status != AUDIT_MERKLE_OK)
        goto out;

    status = build_inclusion(&d, source, index, size, proof);

out:
    if (status != AUDIT_MERKLE_OK && proof != NULL)
        proof->count = 0;
    digest_close(&d);
    return status;
}

/*
 * SUBPROOF(m, D[n], b) from RFC 9162 section 2.1.4.1, walked from the root down. When
 * the old tree lies within the left half, the right half joins the proof. Otherwise the
 * left half joins it, and the old tree stops being a whole subtree of the walk, which
 * is the RFC's flag b turning false. The walk stops at the subtree whose right edge is
 * the old size, and adds that subtree unless it is the whole old tree.
 */
static audit_merkle_status build_consistency(digest *d, const audit_merkle_source *source,
                                             uint64_t first_size, uint64_t second_size,
                                             audit_merkle_proof *proof)
{
    uint64_t start = 0;
    uint64_t end = second_size;
    bool old_tree_whole = true;
    audit_merkle_status status;

    while (end != first_size) {
        uint64_t k = split_point(end - start);

        if (first_size <= start + k) {
            status = proof_push_range(d, source, start + k, end, proof);
            end = start + k;
        } else {
            status = proof_push_range(d, source, start, start + k, proof);
            start += k;
            old_tree_whole = false;
        }
        if (status != AUDIT_MERKLE_OK)
            return status;
    }

    if (!old_tree_whole) {
        status = proof_push_range(d, source, start, end, proof);
        if (status != AUDIT_MERKLE_OK)
            return status;
    }

    proof_reverse(proof);
    return AUDIT_MERKLE_OK;
}

audit_merkle_status audit_merkle_consistency_proof(const audit_merkle_source *source,
                                                   uint64_t first_size,
                                                   uint64_t second_size,
                                                   audit_merkle_proof *proof)
{
    digest d = {0};
    audit_merkle_status status = AUDIT_MERKLE_ERR_INVALID_ARGUMENT;

    if (!source_valid(source) || proof == NULL)
        goto out;
    proof->count = 0;

    status = AUDIT_MERKLE_ERR_FIRST_SIZE_TOO_LARGE;
    if (first_size > second_size)
        goto out;

    status = AUDIT_MERKLE_OK;
    if (first_size == 0 || first_size == second_size)
        goto out;

    status = digest_open(&d);
    if (status != AUDIT_MERKLE_OK)
        goto out;

    status = build_consistency(&d, source, first_size, second_size, proof);

out:
    if (status != AUDIT_MERKLE_OK && proof != NULL)
        proof->count = 0;
    digest_close(&d);
    return status;
}

/* ---- Proof verification -------------------------------------------------------- */

/*
 * fn and sn from RFC 9162 sections 2.1.3.2 and 2.1.4.2: the position of the node being
 * computed and of the last node at the same level, counted from the left.
 */
typedef struct walk {
    uint64_t fn;
    uint64_t sn;
} walk;

static void walk_shift(walk *w)
{
    w->fn >>= 1;
    w->sn >>= 1;
}

/* Climbs while the node is a left child with no right sibling, which hashes nothing. */
static void walk_skip_lone_left(walk *w)
{
    while ((w->fn & 1) == 0 && w->fn != 0)
        walk_shift(w);
}

audit_merkle_status audit_merkle_verify_inclusion(const audit_merkle_hash *leaf_hash,
                                                  uint64_t index,
                                                  const audit_merkle_tree_head *head,
                                                  const audit_merkle_hash *path,
                                                  size_t path_len)
{
    digest d = {0};
    audit_merkle_hash r;
    walk w;
    audit_merkle_status status = AUDIT_MERKLE_ERR_INVALID_ARGUMENT;

    if (leaf_hash == NULL || head == NULL || (path == NULL && path_len > 0))
        goto out;

    status = AUDIT_MERKLE_ERR_INDEX_OUT_OF_RANGE;
    if (index >= head->size)
        goto out;

    status = digest_open(&d);
    if (status != AUDIT_MERKLE_OK)
        goto out;

    w.fn = index;
    w.sn = head->size - 1;
    r = *leaf_hash;

    for (size_t i = 0; i < path_len; i++) {
        status = AUDIT_MERKLE_ERR_PROOF_TOO_LONG;
        if (w.sn == 0)
            goto out;

        if ((w.fn & 1) == 1 || w.fn == w.sn) {
            status = digest_children(&d, &path[i], &r, &r);
            walk_skip_lone_left(&w);
        } else {
            status = digest_children(&d, &r, &path[i], &r);
        }
        if (status != AUDIT_MERKLE_OK)
            goto out;

        walk_shift(&w);
    }

    status = AUDIT_MERKLE_ERR_PROOF_TOO_SHORT;
    if (w.sn != 0)
        goto out;

    status = AUDIT_MERKLE_ERR_ROOT_MISMATCH;
    if (!hash_equal(&r, &head->root))
        goto out;

    status = AUDIT_MERKLE_OK;

out:
    digest_close(&d);
    return status;
}

/* Verifies the cases without a proof: an empty first tree, or two trees of one size. */
static audit_merkle_status
verify_trivial_consistency(const audit_merkle_tree_head *first,
                           const audit_merkle_tree_head *second, size_t path_len)
{
    if (path_len != 0)
        return AUDIT_MERKLE_ERR_PROOF_TOO_LONG;

    if (first->size == 0 && !hash_equal(&first->root, &empty_root))
        return AUDIT_MERKLE_ERR_FIRST_ROOT_MISMATCH;

    /* Two empty trees are also two trees of one size, so their roots must match too. */
    if (first->size == second->size && !hash_equal(&first->root, &second->root))
        return AUDIT_MERKLE_ERR_SECOND_ROOT_MISMATCH;

    return AUDIT_MERKLE_OK;
}

/*
 * Steps 3 to 7 of RFC 9162 section 2.1.4.2. seed is the first value of the path, which
 * is the first root when the first size is a power of two (the RFC prepends it in step
 * 2). rest holds the path values after seed.
 */
static audit_merkle_status
walk_consistency(digest *d, const audit_merkle_tree_head *first,
                 const audit_merkle_tree_head *second, const audit_merkle_hash *seed,
                 const audit_merkle_hash *rest, size_t rest_len)
{
    walk w = {.fn = first->size - 1, .sn = second->size - 1};
    audit_merkle_hash fr = *seed;
    audit_merkle_hash sr = *seed;
    audit_merkle_status status;

    while ((w.fn & 1) == 1)
        walk_shift(&w);

    for (size_t i = 0; i < rest_len; i++) {
        if (w.sn == 0)
            return AUDIT_MERKLE_ERR_PROOF_TOO_LONG;

        if ((w.fn & 1) == 1 || w.fn == w.sn) {
            status = digest_children(d, &rest[i], &fr, &fr);
            if (status == AUDIT_MERKLE_OK)
                status = digest_children(d, &rest[i], &sr, &sr);
            walk_skip_lone_left(&w);
        } else {
            status = digest_children(d, &sr, &rest[i], &sr);
        }
        if (status != AUDIT_MERKLE_OK)
            return status;

        walk_shift(&w);
    }

    if (w.sn != 0)
        return AUDIT_MERKLE_ERR_PROOF_TOO_SHORT;
    if (!hash_equal(&fr, &first->root))
        return AUDIT_MERKLE_ERR_FIRST_ROOT_MISMATCH;
    if (!hash_equal(&sr, &second->root))
        return AUDIT_MERKLE_ERR_SECOND_ROOT_MISMATCH;
    return AUDIT_MERKLE_OK;
}

static bool is_power_of_two(uint64_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

audit_merkle_status audit_merkle_verify_consistency(const audit_merkle_tree_head *first,
                                                    const audit_merkle_tree_head *second,
                                                    const audit_merkle_hash *path,
                                                    size_t path_len)
{
    digest d = {0};
    audit_merkle_status status = AUDIT_MERKLE_ERR_INVALID_ARGUMENT;

    if (first == NULL || second == NULL || (path == NULL && path_len > 0))
        goto out;

    status = AUDIT_MERKLE_ERR_FIRST_SIZE_TOO_LARGE;
    if (first->size > second->size)
        goto out;

    if (first->size == 0 || first->size == second->size) {
        status = verify_trivial_consistency(first, second, path_len);
        goto out;
    }

    /* Step 1: two different sizes always need at least one hash. */
    status = AUDIT_MERKLE_ERR_PROOF_TOO_SHORT;
    if (path_len == 0)
        goto out;

    status = digest_open(&d);
    if (status != AUDIT_MERKLE_OK)
        goto out;

    /* Step 2: a power-of-two first tree is a whole subtree, so its root seeds the walk.
     */
    if (is_power_of_two(first->size))
        status = walk_consistency(&d, first, second, &first->root, path, path_len);
    else
        status = walk_consistency(&d, first, second, &path[0], path + 1, path_len - 1);

out:
    digest_close(&d);
    return status;
}

/* ---- The incremental appender -------------------------------------------------- */

void audit_merkle_frontier_init(audit_merkle_frontier *frontier)
{
    memset(frontier, 0, sizeof(*frontier));
}

audit_merkle_status audit_merkle_frontier_load(audit_merkle_frontier *frontier,
                                               const audit_merkle_source *source,
                                               uint64_t size)
{
    digest d = {0};
    uint64_t position = 0;
    audit_merkle_status status = AUDIT_MERKLE_ERR_INVALID_ARGUMENT;

    if (frontier == NULL || !source_valid(source))
        goto out;
    audit_merkle_frontier_init(frontier);

    status = digest_open(&d);
    if (status != AUDIT_MERKLE_OK)
        goto out;

    /* The subtrees of the frontier, left to right, are the set bits of size, high to low.
     */
    for (unsigned level = 64; level-- > 0;) {
        if (((size >> level) & 1) == 0)
            continue;

        status =
            read_subtree(&d, source, level, position >> level, &frontier->roots[level]);
        if (status != AUDIT_MERKLE_OK)
            goto out;
        position += UINT64_C(1) << level;
    }
    frontier->size = size;

out:
    if (status != AUDIT_MERKLE_OK && frontier != NULL)
        audit_merkle_frontier_init(frontier);
    digest_close(&d);
    return status;
}

static audit_merkle_status sink_store(const audit_merkle_sink *sink, unsigned level,
                                      uint64_t index, const audit_merkle_hash *hash)
{
    if (sink == NULL || sink->store == NULL)
        return AUDIT_MERKLE_OK;
    if (sink->store(sink->ctx, level, index, hash) != 0)
        return AUDIT_MERKLE_ERR_STORE_FAILED;
    return AUDIT_MERKLE_OK;
}

/*
 * Adding one leaf works like incrementing a binary counter: each trailing 1 bit of the
 * size is a subtree that merges with the new one into a subtree one level up, and the
 * first 0 bit receives the result.
 */
audit_merkle_status audit_merkle_frontier_append(audit_merkle_frontier *frontier,
                                                 const audit_merkle_hash *leaf_hash,
                                                 const audit_merkle_sink *sink)
{
    digest d = {0};
    audit_merkle_hash carry;
    unsigned level = 0;
    audit_merkle_status status = AUDIT_MERKLE_ERR_INVALID_ARGUMENT;

    if (frontier == NULL || leaf_hash == NULL)
        goto out;

    status = AUDIT_MERKLE_ERR_TREE_FULL;
    if (frontier->size == UINT64_MAX)
        goto out;

    status = digest_open(&d);
    if (status != AUDIT_MERKLE_OK)
        goto out;

    carry = *leaf_hash;
    status = sink_store(sink, 0, frontier->size, &carry);
    if (status != AUDIT_MERKLE_OK)
        goto out;

    while (((frontier->size >> level) & 1) == 1) {
        status = digest_children(&d, &frontier->roots[level], &carry, &carry);
        if (status != AUDIT_MERKLE_OK)
            goto out;
        level++;

        status = sink_store(sink, level, frontier->size >> level, &carry);
        if (status != AUDIT_MERKLE_OK)
            goto out;
    }

    /* Only now does the frontier change, so a failure above leaves it untouched. */
    frontier->roots[level] = carry;
    frontier->size++;

out:
    digest_close(&d);
    return status;
}

audit_merkle_status audit_merkle_frontier_head(const audit_merkle_frontier *frontier,
                                               audit_merkle_tree_head *head)
{
    digest d = {0};
    bool have_root = false;
    audit_merkle_status status = AUDIT_MERKLE_ERR_INVALID_ARGUMENT;

    if (frontier == NULL || head == NULL)
        goto out;

    head->size = frontier->size;
    head->root = empty_root;
    status = AUDIT_MERKLE_OK;
    if (frontier->size == 0)
        goto out;

    status = digest_open(&d);
    if (status != AUDIT_MERKLE_OK)
        goto out;

    /* Fold the subtrees from the smallest (rightmost) one up, as range_hash does. */
    for (unsigned level = 0; level < 64; level++) {
        if (((frontier->size >> level) & 1) == 0)
            continue;

        if (!have_root) {
            head->root = frontier->roots[level];
            have_root = true;
            continue;
        }

        status = digest_children(&d, &frontier->roots[level], &head->root, &head->root);
        if (status != AUDIT_MERKLE_OK)
            goto out;
    }

out:
    digest_close(&d);
    return status;
}
