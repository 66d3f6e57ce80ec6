#include "merkle_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

void merkle_store_init(merkle_store *store)
{
    memset(store, 0, sizeof(*store));
    store->fail_after = -1;
}

void merkle_store_free(merkle_store *store)
{
    for (unsigned level = 0; level < 64; level++)
        free(store->levels[level]);
    merkle_store_init(store);
}

/* Counts one callback and decides whether failure injection makes it fail. */
static bool store_call_fails(merkle_store *store)
{
    store->lookups++;
    if (store->fail_after < 0)
        return false;
    if (store->fail_after == 0)
        return true;
    store->fail_after--;
    return false;
}

static int store_put(void *ctx, unsigned level, uint64_t index,
                     const audit_merkle_hash *hash)
{
    merkle_store *store = ctx;

    if (store_call_fails(store) || level >= 64)
        return -1;

    /* The appender completes the subtrees of each level strictly left to right. */
    if (index != store->counts[level])
        return -1;

    if (store->counts[level] == store->capacities[level]) {
        uint64_t capacity = store->capacities[level] ? 2 * store->capacities[level] : 64;
        audit_merkle_hash *grown =
            realloc(store->levels[level], capacity * sizeof(*grown));
        if (grown == NULL)
            return -1;
        store->levels[level] = grown;
        store->capacities[level] = capacity;
    }

    store->levels[level][index] = *hash;
    store->counts[level]++;
    return 0;
}

static int store_subtree(void *ctx, unsigned level, uint64_t index,
                         audit_merkle_hash *out)
{
    merkle_store *store = ctx;

    if (store_call_fails(store) || level >= 64 || index >= store->counts[level])
        return -1;
    *out = store->levels[level][index];
    return 0;
}

static int store_leaf(void *ctx, uint64_t index, audit_merkle_hash *out)
{
    merkle_store *store = ctx;

    if (store_call_fails(store) || index >= store->counts[0])
        return -1;
    *out = store->levels[0][index];
    return 0;
}

audit_merkle_source merkle_store_source(merkle_store *store, bool leaves_only)
{
    audit_merkle_source source = {
        .subtree_hash = leaves_only ? NULL : store_subtree,
        .leaf_hash = store_leaf,
        .ctx = store,
    };
    return source;
}

audit_merkle_sink merkle_store_sink(merkle_store *store)
{
    audit_merkle_sink sink = {.store = store_put, .ctx = store};
    return sink;
}

audit_merkle_status merkle_store_append(merkle_store *store,
                                        audit_merkle_frontier *frontier,
                                        const audit_merkle_hash *leaves, uint64_t count)
{
    audit_merkle_sink sink = merkle_store_sink(store);

    for (uint64_t i = 0; i < count; i++) {
        audit_merkle_status status =
            audit_merkle_frontier_append(frontier, &leaves[i], &sink);
        if (status != AUDIT_MERKLE_OK)
            return status;
    }
    return AUDIT_MERKLE_OK;
}

/* One-shot SHA-256 over prefix || data, through a path the library does not use. */
static void reference_digest(unsigned char prefix, const void *data, size_t len,
                             audit_merkle_hash *out)
{
    unsigned char *buffer = malloc(len + 1);
    unsigned int out_len = 0;

    if (buffer == NULL) {
        fprintf(stderr, "reference_digest: out of memory\n");
        abort();
    }
    buffer[0] = prefix;
    if (len > 0)
        memcpy(buffer + 1, data, len);

    if (EVP_Digest(buffer, len + 1, out->bytes, &out_len, EVP_sha256(), NULL) != 1 ||
        out_len != AUDIT_MERKLE_HASH_SIZE) {
        fprintf(stderr, "reference_digest: EVP_Digest failed\n");
        abort();
    }
    free(buffer);
}

void merkle_reference_leaf(const void *entry, size_t len, audit_merkle_hash *out)
{
    reference_digest(0x00, entry, len, out);
}

void merkle_reference_children(const audit_merkle_hash *left,
                               const audit_merkle_hash *right, audit_merkle_hash *out)
{
    unsigned char both[2 * AUDIT_MERKLE_HASH_SIZE];

    memcpy(both, left->bytes, AUDIT_MERKLE_HASH_SIZE);
    memcpy(both + AUDIT_MERKLE_HASH_SIZE, right->bytes, AUDIT_MERKLE_HASH_SIZE);
    reference_digest(0x01, both, sizeof(both), out);
}

void merkle_reference_root(const audit_merkle_hash *leaves, uint64_t n,
                           audit_merkle_hash *out)
{
    audit_merkle_hash left;
    audit_merkle_hash right;
    uint64_t k = 1;

    /* The empty tree's hash is SHA-256 of the empty string, without a prefix. */
    if (n == 0) {
        if (EVP_Digest("", 0, out->bytes, NULL, EVP_sha256(), NULL) != 1)
            abort();
        return;
    }
    if (n == 1) {
        *out = leaves[0];
        return;
    }

    while (2 * k < n)
        k *= 2;

    merkle_reference_root(leaves, k, &left);
    merkle_reference_root(leaves + k, n - k, &right);
    merkle_reference_children(&left, &right, out);
}

audit_merkle_hash merkle_hash_from_hex(const char *hex)
{
    audit_merkle_hash hash;

    if (strlen(hex) != 2 * AUDIT_MERKLE_HASH_SIZE) {
        fprintf(stderr, "merkle_hash_from_hex: %s is not 64 hex digits\n", hex);
        abort();
    }
    for (size_t i = 0; i < AUDIT_MERKLE_HASH_SIZE; i++) {
        unsigned value = 0;
        if (sscanf(hex + 2 * i, "%2x", &value) != 1) {
            fprintf(stderr, "merkle_hash_from_hex: invalid digit in %s\n", hex);
            abort();
        }
        hash.bytes[i] = (unsigned char)value;
    }
    return hash;
}
