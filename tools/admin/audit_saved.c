/*
 * Saved checkpoints (audit_saved.h), and 'idsvc-admin audit consistency OLD NEW --proof
 * PROOF --trust PEM', which checks offline that the log of the later checkpoint NEW
 * still contains the tree of the earlier checkpoint OLD unchanged. The proof is the
 * reply of GET /v1/audit/proof/consistency?from=OLD_SIZE&to=NEW_SIZE, verified by the
 * algorithm of RFC 9162 section 2.1.4.2 against the two signed roots.
 */
#include "audit_saved.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "audit_cmd.h"

#define CONSISTENCY_PROGRAM "idsvc-admin audit consistency"

int audit_saved_fail(const char *file_kind, const char *path, const char *code,
                     const char *detail)
{
    printf("FAILED %s %s: %s: %s\n", file_kind, path, code, detail);
    return AUDIT_EXIT_FAILED;
}

int audit_decode_signature(const char *text, unsigned char out[AUDIT_SIGNATURE_MAX + 4])
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

/* A saved checkpoint is about 400 bytes and a proof at most 65 hashes, so a file larger
 * than this is neither, and an endless input such as /dev/zero ends here. */
#define SAVED_FILE_MAX (1024 * 1024)

/* Reads the file at path into a new buffer of *len bytes. Returns it, or NULL after a
 * message: exit status 2 in *rc for a file that cannot be opened or read, 1 (with a
 * FAILED line naming code) for one larger than SAVED_FILE_MAX. */
static char *read_small_file(const char *file_kind, const char *path, const char *code,
                             size_t *len, int *rc)
{
    FILE *file = fopen(path, "rb");
    int read_error = file == NULL ? errno : 0; /* before malloc can change errno */
    char *buffer = malloc(SAVED_FILE_MAX + 1);

    *len = 0;
    if (file != NULL && buffer != NULL) {
        *len = fread(buffer, 1, SAVED_FILE_MAX + 1, file);
        read_error = ferror(file) ? errno : 0;
    }
    if (read_error != 0 || buffer == NULL) {
        fprintf(stderr, "idsvc-admin audit: %s: %s\n", path,
                read_error != 0 ? strerror(read_error) : "out of memory");
        *rc = AUDIT_EXIT_USAGE;
    } else if (*len > SAVED_FILE_MAX) {
        *rc = audit_saved_fail(file_kind, path, code, "the file is larger than 1 MiB");
    } else {
        *rc = AUDIT_EXIT_OK;
    }
    if (file != NULL)
        fclose(file);
    if (*rc == AUDIT_EXIT_OK)
        return buffer;
    free(buffer);
    return NULL;
}

/* Reads a JSON object from path. Returns it, or NULL after a message: exit status 2 for
 * a file that cannot be opened or read, 1 (with a FAILED line naming code) for one that
 * is not a JSON object of at most SAVED_FILE_MAX bytes. */
static json_t *load_object(const char *file_kind, const char *path, const char *code,
                           int *rc)
{
    json_error_t error;
    json_t *doc;
    size_t len;
    char *text = read_small_file(file_kind, path, code, &len, rc);
    char detail[256];

    if (text == NULL)
        return NULL;
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    free(text);
    if (json_is_object(doc))
        return doc;
    json_decref(doc);
    if (doc != NULL)
        snprintf(detail, sizeof(detail), "the file is JSON but not an object");
    else
        snprintf(detail, sizeof(detail), "the file is not JSON (line %d: %s)", error.line,
                 error.text);
    *rc = audit_saved_fail(file_kind, path, code, detail);
    return NULL;
}

int audit_saved_load(const char *path, audit_checkpoint *checkpoint)
{
    int rc = AUDIT_EXIT_FAILED;
    json_t *doc = load_object("saved checkpoint", path, "checkpoint_invalid", &rc);
    const char *body = json_string_value(json_object_get(doc, "body"));
    const char *algorithm = json_string_value(json_object_get(doc, "algorithm"));
    const char *signature = json_string_value(json_object_get(doc, "signature"));
    unsigned char decoded[AUDIT_SIGNATURE_MAX + 4];
    int len;

    memset(checkpoint, 0, sizeof(*checkpoint));
    if (doc == NULL)
        return rc;
    len = audit_decode_signature(signature, decoded);
    if (len <= 0 || len > AUDIT_SIGNATURE_MAX || body == NULL || algorithm == NULL ||
        audit_checkpoint_parse(body, checkpoint) != 0) {
        json_decref(doc);
        return audit_saved_fail("saved checkpoint", path, "checkpoint_invalid",
                                "the body, algorithm or signature is missing or malformed; "
                                "save the reply of GET /v1/audit/checkpoint whole");
    }
    memcpy(checkpoint->signature, decoded, (size_t)len);
    checkpoint->signature_len = (size_t)len;
    checkpoint->body = strdup(body);
    checkpoint->algorithm = strdup(algorithm);
    json_decref(doc);
    if (checkpoint->body == NULL || checkpoint->algorithm == NULL) {
        fputs("idsvc-admin audit: out of memory\n", stderr);
        return AUDIT_EXIT_FAILED;
    }
    return AUDIT_EXIT_OK;
}

int audit_saved_check_signature(const char *path, const audit_checkpoint *checkpoint,
                                const audit_trust *trust)
{
    EVP_PKEY *key = audit_trust_find(trust, checkpoint->key_id);
    char trusted[AUDIT_TRUST_MAX * 18 + 1];
    char detail[256];

    if (key == NULL) {
        audit_trust_describe(trust, trusted, sizeof(trusted));
        snprintf(detail, sizeof(detail),
                 "the checkpoint names key %.16s..., which no --trust file contains (trusted: "
                 "%.100s); pass the node's key of that time",
                 checkpoint->key_id, trusted);
        return audit_saved_fail("saved checkpoint", path, "checkpoint_key_mismatch", detail);
    }
    if (audit_checkpoint_verify(checkpoint, key) != 0)
        return audit_saved_fail("saved checkpoint", path, "checkpoint_signature_invalid",
                                "the signature does not verify with the key that the "
                                "checkpoint names");
    return AUDIT_EXIT_OK;
}

int audit_saved_check_prefix(const char *path, const audit_checkpoint *checkpoint,
                             const audit_merkle_source *source, uint64_t tree_size)
{
    audit_merkle_tree_head rebuilt;
    char detail[256];

    if (checkpoint->head.size > tree_size) {
        snprintf(detail, sizeof(detail),
                 "the checkpoint signs %" PRIu64 " entries, but the export holds %" PRIu64
                 ": entries were deleted from the end, or the export is older",
                 checkpoint->head.size, tree_size);
        return audit_saved_fail("saved checkpoint", path, "checkpoint_beyond_export", detail);
    }
    if (audit_merkle_tree_head_compute(source, checkpoint->head.size, &rebuilt) !=
            AUDIT_MERKLE_OK ||
        memcmp(rebuilt.root.bytes, checkpoint->head.root.bytes, AUDIT_MERKLE_HASH_SIZE) != 0) {
        snprintf(detail, sizeof(detail),
                 "the export's first %" PRIu64 " entries do not hash to the saved root: an "
                 "entry the checkpoint signed was changed, or the log was replaced",
                 checkpoint->head.size);
        return audit_saved_fail("saved checkpoint", path, "checkpoint_root_mismatch", detail);
    }
    return AUDIT_EXIT_OK;
}

/* ---- consistency ------------------------------------------------------------------ */

typedef struct consistency_args {
    const char *old_path;
    const char *new_path;
    const char *proof_path; /* NULL: an empty proof */
    audit_trust trust;
} consistency_args;

/* Reads a size member of the proof file that must equal expected, the size of its
 * checkpoint among old_size and new_size. */
static int check_proof_size(const json_t *doc, const char *name, uint64_t expected,
                            uint64_t old_size, uint64_t new_size, const char *path)
{
    const json_t *value = json_object_get(doc, name);
    char detail[256];

    if (!json_is_integer(value) || json_integer_value(value) < 0) {
        snprintf(detail, sizeof(detail), "%s is missing or not a whole number", name);
        return audit_saved_fail("proof", path, "proof_invalid", detail);
    }
    if ((uint64_t)json_integer_value(value) != expected) {
        snprintf(detail, sizeof(detail),
                 "%s is %" JSON_INTEGER_FORMAT ", but its checkpoint signs %" PRIu64
                 " entries; fetch GET /v1/audit/proof/consistency?from=%" PRIu64 "&to=%"
                 PRIu64, name, json_integer_value(value), expected, old_size, new_size);
        return audit_saved_fail("proof", path, "proof_invalid", detail);
    }
    return AUDIT_EXIT_OK;
}

/*
 * Reads the proof hashes of the reply of GET /v1/audit/proof/consistency, after checking
 * that its sizes are those of the two checkpoints. Its first_root and second_root are
 * not read: the proof is checked against the signed roots.
 */
static int load_proof(const char *path, const audit_checkpoint *old_checkpoint,
                      const audit_checkpoint *new_checkpoint, audit_merkle_proof *proof)
{
    int rc = AUDIT_EXIT_FAILED;
    json_t *doc = load_object("proof", path, "proof_invalid", &rc);
    const json_t *hashes = json_object_get(doc, "proof");
    uint64_t old_size = old_checkpoint->head.size;
    uint64_t new_size = new_checkpoint->head.size;
    const json_t *item;
    size_t position;

    if (doc == NULL)
        return rc;
    rc = check_proof_size(doc, "first_size", old_size, old_size, new_size, path);
    if (rc == AUDIT_EXIT_OK)
        rc = check_proof_size(doc, "second_size", new_size, old_size, new_size, path);
    if (rc == AUDIT_EXIT_OK && (!json_is_array(hashes) ||
                                json_array_size(hashes) > AUDIT_MERKLE_MAX_PROOF))
        rc = audit_saved_fail("proof", path, "proof_invalid",
                              "proof is missing, not a list, or longer than 65 hashes");
    proof->count = 0;
    json_array_foreach(hashes, position, item) {
        if (rc != AUDIT_EXIT_OK)
            break;
        if (audit_hash_from_hex(json_string_value(item), &proof->hashes[position]) != 0)
            rc = audit_saved_fail("proof", path, "proof_invalid",
                                  "a proof hash is not 64 hex digits");
        proof->count = position + 1;
    }
    json_decref(doc);
    return rc;
}

/*
 * Checks that NEW's version-2-from line agrees with OLD's. Entries keep their version, so
 * once OLD signs where version 2 starts, below its size, every later checkpoint signs the
 * same index, and while OLD signs none, version 2 starts at OLD's size or later. A later
 * line that moves the start is how a node passes the deleted texts of entries of version
 * 2 for purged entries of version 1, which the proof cannot show: the leaf hashes stay.
 */
static int check_version_lines(const consistency_args *args,
                               const audit_checkpoint *old_checkpoint,
                               const audit_checkpoint *new_checkpoint)
{
    uint64_t old_from = old_checkpoint->version_2_from;
    uint64_t old_size = old_checkpoint->head.size;
    char detail[512];

    if (!old_checkpoint->has_version_2_from)
        return AUDIT_EXIT_OK;
    if (new_checkpoint->has_version_2_from &&
        (old_from < old_size ? new_checkpoint->version_2_from == old_from
                             : new_checkpoint->version_2_from >= old_size))
        return AUDIT_EXIT_OK;
    if (!new_checkpoint->has_version_2_from)
        snprintf(detail, sizeof(detail), "the checkpoint has no version-2-from line, but the "
                 "old one has");
    else if (old_from < old_size)
        snprintf(detail, sizeof(detail),
                 "the checkpoint signs that entries of version 2 start at index %" PRIu64
                 ", but the old one signs index %" PRIu64 ": the texts of entries of version "
                 "2 were deleted, or the log was rewritten", new_checkpoint->version_2_from,
                 old_from);
    else
        snprintf(detail, sizeof(detail),
                 "the checkpoint signs that entries of version 2 start at index %" PRIu64
                 ", but the old one signs that its %" PRIu64 " entries are of version 1",
                 new_checkpoint->version_2_from, old_size);
    return audit_saved_fail("saved checkpoint", args->new_path, "checkpoint_version_mismatch",
                            detail);
}

/* Checks that the two checkpoints can be compared: one node, sizes in order and the
 * same start of version 2. */
static int check_pair(const consistency_args *args, const audit_checkpoint *old_checkpoint,
                      const audit_checkpoint *new_checkpoint)
{
    char detail[512];

    if (strcmp(old_checkpoint->node_id, new_checkpoint->node_id) != 0) {
        snprintf(detail, sizeof(detail),
                 "the checkpoint names node %.200s, but the old one names %.200s",
                 new_checkpoint->node_id, old_checkpoint->node_id);
        return audit_saved_fail("saved checkpoint", args->new_path, "checkpoint_node_mismatch",
                                detail);
    }
    if (old_checkpoint->head.size > new_checkpoint->head.size) {
        snprintf(detail, sizeof(detail),
                 "the old checkpoint signs %" PRIu64 " entries, more than the %" PRIu64
                 " of the new one; pass the earlier checkpoint first",
                 old_checkpoint->head.size, new_checkpoint->head.size);
        return audit_saved_fail("saved checkpoint", args->old_path, "first_size_too_large",
                                detail);
    }
    if (check_version_lines(args, old_checkpoint, new_checkpoint) != AUDIT_EXIT_OK)
        return AUDIT_EXIT_FAILED;
    if (args->proof_path == NULL && old_checkpoint->head.size != 0 &&
        old_checkpoint->head.size != new_checkpoint->head.size) {
        fputs(CONSISTENCY_PROGRAM ": --proof is required unless the old checkpoint signs 0 "
              "entries or as many as the new one\n", stderr);
        return AUDIT_EXIT_USAGE;
    }
    return AUDIT_EXIT_OK;
}

static int check_consistency(const consistency_args *args)
{
    audit_checkpoint old_checkpoint = {0};
    audit_checkpoint new_checkpoint = {0};
    audit_merkle_proof proof = {.count = 0};
    audit_merkle_status status;
    char old_root[65];
    char new_root[65];
    int rc;

    rc = audit_saved_load(args->old_path, &old_checkpoint);
    if (rc == AUDIT_EXIT_OK)
        rc = audit_saved_load(args->new_path, &new_checkpoint);
    if (rc == AUDIT_EXIT_OK)
        rc = audit_saved_check_signature(args->old_path, &old_checkpoint, &args->trust);
    if (rc == AUDIT_EXIT_OK)
        rc = audit_saved_check_signature(args->new_path, &new_checkpoint, &args->trust);
    if (rc == AUDIT_EXIT_OK)
        rc = check_pair(args, &old_checkpoint, &new_checkpoint);
    if (rc == AUDIT_EXIT_OK && args->proof_path != NULL)
        rc = load_proof(args->proof_path, &old_checkpoint, &new_checkpoint, &proof);
    if (rc != AUDIT_EXIT_OK)
        goto out;

    status = audit_merkle_verify_consistency(&old_checkpoint.head, &new_checkpoint.head,
                                             proof.hashes, proof.count);
    if (status != AUDIT_MERKLE_OK) {
        rc = audit_saved_fail("proof", args->proof_path != NULL ? args->proof_path : "(none)",
                              audit_merkle_status_code(status),
                              audit_merkle_status_message(status));
        goto out;
    }
    audit_hash_hex(&old_checkpoint.head.root, old_root);
    audit_hash_hex(&new_checkpoint.head.root, new_root);
    printf("OK the checkpoint of %" PRIu64 " entries with root %s extends the checkpoint of "
           "%" PRIu64 " entries with root %s\n", new_checkpoint.head.size, new_root,
           old_checkpoint.head.size, old_root);
out:
    audit_checkpoint_clear(&old_checkpoint);
    audit_checkpoint_clear(&new_checkpoint);
    return rc;
}

int admin_audit_consistency_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"proof", required_argument, NULL, 'p'},
        {"trust", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    consistency_args args = {0};
    char error[512];
    int rc = AUDIT_EXIT_USAGE;
    int option;

    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option == 'p') {
            args.proof_path = optarg;
        } else if (option == 't') {
            if (audit_trust_add_file(&args.trust, optarg, error, sizeof(error)) != 0) {
                fprintf(stderr, CONSISTENCY_PROGRAM ": %s\n", error);
                goto out;
            }
        } else {
            fprintf(stderr, CONSISTENCY_PROGRAM ": unknown option, or an option without its "
                    "value: %s\n", argv[optind - 1]);
            goto usage;
        }
    }
    if (optind + 2 != argc || args.trust.count == 0)
        goto usage;
    args.old_path = argv[optind];
    args.new_path = argv[optind + 1];
    rc = check_consistency(&args);
    goto out;
usage:
    fputs("usage: idsvc-admin audit consistency OLD_CHECKPOINT NEW_CHECKPOINT "
          "[--proof PROOF] --trust PEM...\n", stderr);
out:
    audit_trust_clear(&args.trust);
    return rc;
}
