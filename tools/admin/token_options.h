/*
 * The options that choose a PKCS#11 token and its PIN, shared by the subcommands of
 * idsvc-admin: --module, --token, --serial, --pin-file and --pin-env.
 */
#ifndef IDSVC_ADMIN_TOKEN_OPTIONS_H
#define IDSVC_ADMIN_TOKEN_OPTIONS_H

#include <getopt.h>
#include <stdio.h>

#include "p11.h"

/* getopt_long values of the token options; a subcommand's own values stay below. */
enum {
    TOKEN_OPTION_MODULE = 0x1000,
    TOKEN_OPTION_TOKEN,
    TOKEN_OPTION_SERIAL,
    TOKEN_OPTION_PIN_FILE,
    TOKEN_OPTION_PIN_ENV,
};

/* The entries to place in a subcommand's struct option table. */
#define TOKEN_OPTION_ENTRIES                                                             \
    {"module", required_argument, NULL, TOKEN_OPTION_MODULE},                            \
        {"token", required_argument, NULL, TOKEN_OPTION_TOKEN},                          \
        {"serial", required_argument, NULL, TOKEN_OPTION_SERIAL},                        \
        {"pin-file", required_argument, NULL, TOKEN_OPTION_PIN_FILE},                    \
    {                                                                                    \
        "pin-env", required_argument, NULL, TOKEN_OPTION_PIN_ENV                         \
    }

/* Stores one parsed token option in config. Returns 1 when option was a token option,
 * 0 otherwise. The strings stay owned by argv. */
int token_option_apply(p11_config *config, int option, const char *value);

/* Checks that config names a token and a PIN source. Returns 0, or -1 after printing
 * the problem to stderr with program as prefix. */
int token_options_check(const p11_config *config, const char *program);

/* Prints the help lines of the token options. */
void token_options_print_help(FILE *out);

#endif
