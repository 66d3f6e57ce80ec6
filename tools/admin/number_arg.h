/* Strict reading of the number arguments of every idsvc-admin subcommand. */
#ifndef IDSVC_ADMIN_NUMBER_ARG_H
#define IDSVC_ADMIN_NUMBER_ARG_H

#include <stdint.h>

/* Parses text as admin_parse_number does, but prints nothing; returns 0 or -1. */
int admin_read_number(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Parses text as a decimal whole number from min to max: ASCII digits only, with no
 * sign, space or suffix. On failure it prints "program: name must be a whole number from
 * min to max, not "text"" to stderr and returns -1, and the caller exits with status 2.
 */
int admin_parse_number(const char *program, const char *name, const char *text,
                       uint64_t min, uint64_t max, uint64_t *out);

#endif
