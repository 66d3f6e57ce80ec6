/* Parts of 'idsvc-admin audit' shared by its subcommands. */
#ifndef IDSVC_ADMIN_AUDIT_CMD_H
#define IDSVC_ADMIN_AUDIT_CMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define AUDIT_EXIT_OK 0
#define AUDIT_EXIT_FAILED 1
#define AUDIT_EXIT_USAGE 2

/* The largest index, size or count the commands accept: SQLite stores signed 64 bits. */
#define AUDIT_NUMBER_MAX ((uint64_t)INT64_MAX)

int admin_audit_export_main(int argc, char **argv);
int admin_audit_show_main(int argc, char **argv);
int admin_audit_prove_main(int argc, char **argv);
int admin_audit_verify_main(int argc, char **argv);
int admin_audit_consistency_main(int argc, char **argv);
int admin_audit_anchor_main(int argc, char **argv);

/* Returns len bytes as a JSON string of lowercase hex digits. */
json_t *audit_hex_json(const unsigned char *bytes, size_t len);

/* Writes doc as one compact JSON line and releases it; returns 0 or -1. */
int audit_print_line(FILE *out, json_t *doc);

#endif
