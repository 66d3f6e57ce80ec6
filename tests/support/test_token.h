/*
 * A fresh SoftHSM2 token in a temporary folder, made for one test run. Creating it sets
 * SOFTHSM2_CONF for this process and its children, so every test uses its own token and
 * never the system token folder.
 */
#ifndef IDSVC_TEST_TOKEN_H
#define IDSVC_TEST_TOKEN_H

#include <limits.h>
#include <stddef.h>

#define TEST_TOKEN_LABEL "idsvc-test"
#define TEST_TOKEN_PIN "1234-test-pin"
#define TEST_TOKEN_SO_PIN "5678-test-so-pin"

typedef struct test_token {
    char dir[PATH_MAX];      /* the temporary folder holding everything below */
    char conf_path[PATH_MAX];
    char pin_path[PATH_MAX]; /* TEST_TOKEN_PIN, mode 0600 */
    char module_path[PATH_MAX];
} test_token;

/* Creates a new folder PREFIX-XXXXXX in $TMPDIR, or in /tmp when TMPDIR is unset, and
 * writes its path into out. Returns 0 or -1. */
int test_make_temp_dir(char *out, size_t size, const char *prefix);

/* Creates the folder, the SoftHSM2 configuration and an initialised token. */
int test_token_create(test_token *token);

/* Removes the folder and everything in it. */
void test_token_destroy(test_token *token);

/* Runs a shell command and returns its exit status, or -1 when it could not run. */
int test_run(const char *command);

/* Runs a shell command with its standard error joined to its output, keeps the first
 * size - 1 bytes of the output in output, and returns its exit status, or -1. */
int test_run_capture(const char *command, char *output, size_t size);

/* Reads a whole file into a NUL-terminated buffer; the caller frees it. */
char *test_read_file(const char *path, size_t *len);

/* Returns $IDSVC_VECTORS/relative in buffer, or NULL when the variable is unset. */
const char *test_vector_path(char *buffer, size_t size, const char *relative);

#endif
