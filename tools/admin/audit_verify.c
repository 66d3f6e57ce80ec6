/*
 * idsvc-admin audit verify EXPORT --trust PEM: checks an export offline. It rebuilds the
 * tree from the entries, in index order, and stops at the first problem, which it names
 * by a stable code and the entry, subtree or checkpoint at fault:
 *
 *   1. each entry's bytes must hash to its leaf hash (entry_hash_mismatch), and the
 *      indexes must run 0, 1, 2, ... (entry_missing);
 *   2. each exported subtree hash must equal the rebuilt one (node_hash_mismatch);
 *   3. each checkpoint must carry a valid signature by the trusted key
 *      (checkpoint_signature_invalid), cover no more than the export
 *      (checkpoint_beyond_export), sign the rebuilt root (checkpoint_root_mismatch), and
 *      extend the previous checkpoint by an RFC 9162 consistency proof
 *      (checkpoint_inconsistent).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "audit_checkpoint.h"
#include "audit_cmd.h"
#include "audit_memory.h"

#define LINE_MAX_BYTES (1024 * 1024)

typedef struct verifier {
    audit_memory_tree tree;
    EVP_PKEY *trust;
    char trust_key_id[65];
    audit_checkpoint *checkpoints;
    size_t checkpoint_count;
    json_t *nodes;      /* [level, index, hash] of the exported subtrees */
    unsigned long line; /* the export line being read, for messages */
} verifier;

static int fail(const char *what, uint64_t number, const char *code, const char *detail)
{
    printf("FAILED %s %" PRIu64 ": %s: %s\n", what, number, code, detail);
    return AUDIT_EXIT_FAILED;
}

/* ---- Reading the export ----------------------------------------------------------- */

static int read_entry(verifier *v, const json_t *line)
{
    uint64_t expected = v->tree.frontier.size;
    json_int_t index = json_integer_value(json_object_get(line, "index"));
    const char *text = json_string_value(json_object_get(line, "entry"));
    audit_merkle_hash stored;
    audit_merkle_hash computed;

    if (!json_is_integer(json_object_get(line, "index")) || index < 0 ||
        (uint64_t)index != expected)
        return fail("entry", expected, "entry_missing",
                    "the export skips this index or repeats another");
    if (audit_hash_from_hex(json_string_value(json_object_get(line, "leaf_hash")), &stored) != 0)
        return fail("entry", expected, "leaf_hash_invalid", "leaf_hash is not 64 hex digits");

    if (text == NULL && !json_is_null(json_object_get(line, "entry")))
        return fail("entry", expected, "export_invalid",
                    "entry must be the entry's JSON text, or null once purged");

    /* A purged entry has no bytes left; its stored leaf hash stands for it. */
    if (text != NULL) {
        audit_merkle_hash_leaf(text, strlen(text), &computed);
        if (memcmp(computed.bytes, stored.bytes, sizeof(stored.bytes)) != 0)
            return fail("entry", expected, "entry_hash_mismatch",
                        "the entry's bytes do not hash to its stored leaf hash");
    }
    if (audit_memory_tree_append(&v->tree, &stored) != AUDIT_MERKLE_OK)
        return fail("entry", expected, "internal_error", "out of memory");
    return 0;
}

/*
 * Decodes padded base64 as EVP_EncodeBlock writes it: a multiple of four characters, at
 * most two '=' and only at the end. Returns the decoded length, or -1 for anything else.
 */
static int decode_signature(const char *text, unsigned char out[AUDIT_SIGNATURE_MAX + 4])
{
    size_t len = text != NULL ? strlen(text) : 0;
    size_t padding = 0;
    int decoded;

    if (len == 0 || len % 4 != 0 || len > 4 * AUDIT_SIGNATURE_MAX / 3)
        return -1;
    while (padding < len && text[len - 1 - padding] == '=')
        padding++;
    if (padding > 2 || memchr(text, '=', len - padding) != NULL)
        return -1;

    /* EVP_DecodeBlock counts the padding as zero bytes; drop them. */
    decoded = EVP_DecodeBlock(out, (const unsigned char *)text, (int)len);
    if (decoded < 0 || (size_t)decoded < padding)
        return -1;
    return decoded - (int)padding;
}

static int read_checkpoint(verifier *v, const json_t *line)
{
    audit_checkpoint *grown = realloc(v->checkpoints,
                                      (v->checkpoint_count + 1) * sizeof(*grown));
    audit_checkpoint *checkpoint;
    const char *signature = json_string_value(json_object_get(line, "signature"));
    const char *body = json_string_value(json_object_get(line, "body"));
    const char *algorithm = json_string_value(json_object_get(line, "algorithm"));
    unsigned char decoded[AUDIT_SIGNATURE_MAX + 4];
    int len = -1;

    if (grown == NULL)
        return fail("line", v->line, "internal_error", "out of memory");
    v->checkpoints = grown;
    checkpoint = &grown[v->checkpoint_count++];
    memset(checkpoint, 0, sizeof(*checkpoint));
    checkpoint->id = (uint64_t)json_integer_value(json_object_get(line, "id"));

    len = decode_signature(signature, decoded);
    if (len <= 0 || len > AUDIT_SIGNATURE_MAX || body == NULL || algorithm == NULL ||
        audit_checkpoint_parse(body, checkpoint) != 0)
        return fail("checkpoint", checkpoint->id, "checkpoint_invalid",
                    "the body, algorithm or signature is missing or malformed");
    memcpy(checkpoint->signature, decoded, (size_t)len);
    checkpoint->signature_len = (size_t)len;
    checkpoint->body = strdup(body);
    checkpoint->algorithm = strdup(algorithm);
    if (checkpoint->body == NULL || checkpoint->algorithm == NULL)
        return fail("line", v->line, "internal_error", "out of memory");
    return 0;
}

static int read_node(verifier *v, const json_t *line)
{
    json_t *level = json_object_get(line, "level");
    json_t *index = json_object_get(line, "index");
    json_t *hash = json_object_get(line, "hash");

    if (!json_is_integer(level) || !json_is_integer(index) || !json_is_string(hash))
        return fail("line", v->line, "export_invalid",
                    "a node needs an integer level and index and a hash string");
    if (json_array_append_new(v->nodes, json_pack("[O, O, O]", level, index, hash)) != 0)
        return fail("line", v->line, "internal_error", "out of memory");
    return 0;
}

static int read_line(verifier *v, const char *text)
{
    json_error_t error;
    json_t *line = json_loads(text, 0, &error);
    const char *type = json_string_value(json_object_get(line, "type"));
    int rc;

    if (type == NULL)
        rc = fail("line", v->line, "export_invalid", "not a JSON object with a type");
    else if (strcmp(type, "entry") == 0)
        rc = read_entry(v, line);
    else if (strcmp(type, "checkpoint") == 0)
        rc = read_checkpoint(v, line);
    else if (strcmp(type, "node") == 0)
        rc = read_node(v, line);
    else
        rc = fail("line", v->line, "export_invalid", "unknown type");
    json_decref(line);
    return rc;
}

static int read_export(verifier *v, const char *path)
{
    FILE *file = fopen(path, "r");
    char *text = malloc(LINE_MAX_BYTES);
    int rc = 0;

    if (file == NULL || text == NULL) {
        fprintf(stderr, "idsvc-admin audit verify: %s: cannot read the file\n", path);
        rc = AUDIT_EXIT_USAGE;
        goto out;
    }
    while (rc == 0 && fgets(text, LINE_MAX_BYTES, file) != NULL) {
        v->line++;
        if (strchr(text, '\n') == NULL && !feof(file))
            rc = fail("line", v->line, "export_invalid", "the line is longer than 1 MiB");
        else if (text[0] != '\n')
            rc = read_line(v, text);
    }
out:
    if (file != NULL)
        fclose(file);
    free(text);
    return rc;
}

/* ---- Checks ----------------------------------------------------------------------- */

static int check_nodes(const verifier *v)
{
    size_t position;
    const json_t *item;

    json_array_foreach(v->nodes, position, item) {
        json_int_t level = json_integer_value(json_array_get(item, 0));
        json_int_t index = json_integer_value(json_array_get(item, 1));
        audit_merkle_hash stored;
        audit_merkle_hash rebuilt;
        char detail[160];

        if (level < 1 || level > 63 || index < 0)
            return fail("line", 0, "export_invalid", "a node has an invalid level or index");
        snprintf(detail, sizeof(detail),
                 "the stored hash of level %lld, index %lld differs from the rebuilt one; "
                 "it covers %llu entries from this index",
                 (long long)level, (long long)index, 1ULL << level);
        if (audit_hash_from_hex(json_string_value(json_array_get(item, 2)), &stored) != 0 ||
            audit_memory_tree_get(&v->tree, (unsigned)level, (uint64_t)index, &rebuilt) != 0 ||
            memcmp(stored.bytes, rebuilt.bytes, sizeof(stored.bytes)) != 0)
            return fail("entry", (uint64_t)index << level, "node_hash_mismatch", detail);
    }
    return 0;
}

static int compare_sizes(const void *a, const void *b)
{
    const audit_checkpoint *x = a;
    const audit_checkpoint *y = b;

    if (x->head.size != y->head.size)
        return x->head.size < y->head.size ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int check_checkpoint(const verifier *v, const audit_checkpoint *checkpoint,
                            const audit_checkpoint *previous)
{
    audit_memory_tree *tree = (audit_memory_tree *)&v->tree;
    audit_merkle_source source = audit_memory_tree_source(tree);
    audit_merkle_tree_head rebuilt;
    audit_merkle_proof proof;
    char detail[200];

    if (audit_checkpoint_verify(checkpoint, v->trust) != 0)
        return fail("checkpoint", checkpoint->id, "checkpoint_signature_invalid",
                    "the signature does not verify with the trusted key");
    if (strcmp(checkpoint->key_id, v->trust_key_id) != 0)
        return fail("checkpoint", checkpoint->id, "checkpoint_key_mismatch",
                    "the body names another key than the trusted one");
    if (checkpoint->head.size > v->tree.frontier.size)
        return fail("checkpoint", checkpoint->id, "checkpoint_beyond_export",
                    "the checkpoint covers more entries than the export holds");
    if (audit_merkle_tree_head_compute(&source, checkpoint->head.size, &rebuilt) != AUDIT_MERKLE_OK ||
        memcmp(rebuilt.root.bytes, checkpoint->head.root.bytes, AUDIT_MERKLE_HASH_SIZE) != 0) {
        /* Entries and all their hashes were rewritten consistently: only the range
         * since the last checkpoint that held can be named. */
        snprintf(detail, sizeof(detail),
                 "the rebuilt root of %" PRIu64 " entries differs from the signed one; an "
                 "entry from index %" PRIu64 " on was changed",
                 checkpoint->head.size, previous != NULL ? previous->head.size : 0);
        return fail("checkpoint", checkpoint->id, "checkpoint_root_mismatch", detail);
    }
    if (previous == NULL || previous->head.size == 0)
        return 0;
    if (strcmp(previous->node_id, checkpoint->node_id) != 0)
        return fail("checkpoint", checkpoint->id, "checkpoint_node_mismatch",
                    "the checkpoint names another node than the previous one");
    if (audit_merkle_consistency_proof(&source, previous->head.size, checkpoint->head.size,
                                       &proof) != AUDIT_MERKLE_OK ||
        audit_merkle_verify_consistency(&previous->head, &checkpoint->head, proof.hashes,
                                        proof.count) != AUDIT_MERKLE_OK)
        return fail("checkpoint", checkpoint->id, "checkpoint_inconsistent",
                    "the tree does not extend the previous checkpoint's tree");
    return 0;
}

static int check_checkpoints(verifier *v)
{
    const audit_checkpoint *previous = NULL;
    int rc;

    qsort(v->checkpoints, v->checkpoint_count, sizeof(*v->checkpoints), compare_sizes);
    for (size_t i = 0; i < v->checkpoint_count; i++) {
        rc = check_checkpoint(v, &v->checkpoints[i], previous);
        if (rc != 0)
            return rc;
        previous = &v->checkpoints[i];
    }
    return 0;
}

/* ---- Command ---------------------------------------------------------------------- */

static int verify(verifier *v, const char *path)
{
    audit_merkle_tree_head head;
    char root[65];
    int rc;

    rc = read_export(v, path);
    if (rc == 0)
        rc = check_nodes(v);
    if (rc == 0)
        rc = check_checkpoints(v);
    if (rc != 0)
        return rc;
    if (v->checkpoint_count == 0)
        return fail("checkpoint", 0, "checkpoint_missing",
                    "the export has no checkpoint, so nothing is signed");

    audit_merkle_frontier_head(&v->tree.frontier, &head);
    audit_hash_hex(&v->checkpoints[v->checkpoint_count - 1].head.root, root);
    printf("OK %" PRIu64 " entries, %zu checkpoints; the latest signs %" PRIu64
           " entries with root %s\n", head.size, v->checkpoint_count,
           v->checkpoints[v->checkpoint_count - 1].head.size, root);
    if (head.size > v->checkpoints[v->checkpoint_count - 1].head.size)
        printf("NOTE %" PRIu64 " entries after the latest checkpoint are not signed yet\n",
               head.size - v->checkpoints[v->checkpoint_count - 1].head.size);
    return AUDIT_EXIT_OK;
}

int admin_audit_verify_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"trust", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    const char *trust = NULL;
    verifier v = {0};
    char error[512];
    int rc = AUDIT_EXIT_USAGE;
    int option;

    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option != 't')
            return AUDIT_EXIT_USAGE;
        trust = optarg;
    }
    if (optind + 1 != argc || trust == NULL) {
        fputs("usage: idsvc-admin audit verify EXPORT --trust PEM\n", stderr);
        return AUDIT_EXIT_USAGE;
    }
    v.trust = audit_load_public_pem(trust, error, sizeof(error));
    if (v.trust == NULL || audit_key_id(v.trust, v.trust_key_id) != 0) {
        fprintf(stderr, "idsvc-admin audit verify: %s\n", error);
        goto out;
    }
    audit_memory_tree_init(&v.tree);
    v.nodes = json_array();
    rc = verify(&v, argv[optind]);
out:
    for (size_t i = 0; i < v.checkpoint_count; i++)
        audit_checkpoint_clear(&v.checkpoints[i]);
    free(v.checkpoints);
    json_decref(v.nodes);
    audit_memory_tree_free(&v.tree);
    EVP_PKEY_free(v.trust);
    return rc;
}
