/*
 * Saved checkpoints: a checkpoint that a regulator kept from an earlier day, as the
 * JSON object that GET /v1/audit/checkpoint returns or as a checkpoint line of an
 * export. Only its algorithm, body and signature are read, because the body is what
 * the node signed. 'audit verify --saved' checks that an export's tree starts with a
 * saved checkpoint's tree, and 'audit consistency' checks that a later saved checkpoint
 * extends an earlier one by the consistency proof that the node serves.
 */
#ifndef IDSVC_ADMIN_AUDIT_SAVED_H
#define IDSVC_ADMIN_AUDIT_SAVED_H

#include "audit_checkpoint.h"
#include "audit_merkle.h"
#include "audit_trust.h"

/*
 * Decodes padded base64 as EVP_EncodeBlock writes it: a multiple of four characters, at
 * most two '=' and only at the end. Returns the decoded length, or -1 for anything else.
 */
int audit_decode_signature(const char *text, unsigned char out[AUDIT_SIGNATURE_MAX + 4]);

/*
 * Reads the saved checkpoint at path into checkpoint. Returns AUDIT_EXIT_OK,
 * AUDIT_EXIT_USAGE after a message on stderr when the file cannot be read, or
 * AUDIT_EXIT_FAILED after a FAILED line with checkpoint_invalid when it is not a
 * checkpoint.
 */
int audit_saved_load(const char *path, audit_checkpoint *checkpoint);

/*
 * Checks that a trusted key is the one that the checkpoint at path names, and that its
 * signature verifies with it. Returns AUDIT_EXIT_OK, or AUDIT_EXIT_FAILED after a FAILED
 * line with checkpoint_key_mismatch or checkpoint_signature_invalid.
 */
int audit_saved_check_signature(const char *path, const audit_checkpoint *checkpoint,
                                const audit_trust *trust);

/*
 * Checks that the first entries of a tree of tree_size leaves, read from source, hash to
 * the saved checkpoint's root. Returns AUDIT_EXIT_OK, or AUDIT_EXIT_FAILED after a FAILED
 * line with checkpoint_beyond_export or checkpoint_root_mismatch.
 */
int audit_saved_check_prefix(const char *path, const audit_checkpoint *checkpoint,
                             const audit_merkle_source *source, uint64_t tree_size);

/* Prints "FAILED FILE_KIND PATH: CODE: detail", where FILE_KIND is "saved checkpoint"
 * or "proof", and returns AUDIT_EXIT_FAILED. */
int audit_saved_fail(const char *file_kind, const char *path, const char *code,
                     const char *detail);

#endif
