/* nftw() is an X/Open function. */
#define _XOPEN_SOURCE 700

#include "test_token.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TEST_SOFTHSM_MODULE
#define TEST_SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#endif

int test_run(const char *command)
{
    int status = system(command);

    if (status == -1 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

int test_run_capture(const char *command, char *output, size_t size)
{
    char *joined = malloc(strlen(command) + 8);
    FILE *pipe;
    size_t len;
    int status;

    output[0] = '\0';
    if (joined == NULL)
        return -1;
    sprintf(joined, "%s 2>&1", command);
    pipe = popen(joined, "r");
    free(joined);
    if (pipe == NULL)
        return -1;
    len = fread(output, 1, size - 1, pipe);
    output[len] = '\0';
    /* The rest is read away, so the command never blocks on a full pipe. */
    while (fgetc(pipe) != EOF)
        ;
    status = pclose(pipe);
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    size_t len = strlen(text);

    if (fd < 0)
        return -1;
    if (write(fd, text, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    return close(fd);
}

int test_make_temp_dir(char *out, size_t size, const char *prefix)
{
    const char *tmpdir = getenv("TMPDIR");
    int len;

    if (tmpdir == NULL || tmpdir[0] == '\0')
        tmpdir = "/tmp";
    len = snprintf(out, size, "%s/%s-XXXXXX", tmpdir, prefix);
    if (len < 0 || (size_t)len >= size)
        return -1;
    return mkdtemp(out) != NULL ? 0 : -1;
}

int test_token_create(test_token *token)
{
    char tokens_dir[PATH_MAX + 16];
    char conf[PATH_MAX + 128];
    char command[PATH_MAX * 2];

    memset(token, 0, sizeof(*token));
    if (test_make_temp_dir(token->dir, sizeof(token->dir), "idsvc-test") != 0)
        return -1;

    snprintf(tokens_dir, sizeof(tokens_dir), "%s/tokens", token->dir);
    if (mkdir(tokens_dir, 0700) != 0)
        return -1;

    if (snprintf(token->conf_path, sizeof(token->conf_path), "%s/softhsm2.conf",
                 token->dir) >= (int)sizeof(token->conf_path))
        return -1;
    snprintf(conf, sizeof(conf),
             "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
             tokens_dir);
    if (write_text(token->conf_path, conf, 0600) != 0)
        return -1;

    if (snprintf(token->pin_path, sizeof(token->pin_path), "%s/pin", token->dir) >=
        (int)sizeof(token->pin_path))
        return -1;
    if (write_text(token->pin_path, TEST_TOKEN_PIN "\n", 0600) != 0)
        return -1;

    snprintf(token->module_path, sizeof(token->module_path), "%s", TEST_SOFTHSM_MODULE);
    if (setenv("SOFTHSM2_CONF", token->conf_path, 1) != 0)
        return -1;

    snprintf(command, sizeof(command),
             "softhsm2-util --init-token --free --label %s --so-pin %s --pin %s >/dev/null",
             TEST_TOKEN_LABEL, TEST_TOKEN_SO_PIN, TEST_TOKEN_PIN);
    return test_run(command) == 0 ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void test_token_destroy(test_token *token)
{
    if (token->dir[0] != '\0')
        nftw(token->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    token->dir[0] = '\0';
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *file = fopen(path, "rb");
    char *data = NULL;
    long size;

    if (file == NULL)
        return NULL;
    if (fseek(file, 0, SEEK_END) != 0 || (size = ftell(file)) < 0 ||
        fseek(file, 0, SEEK_SET) != 0)
        goto out;
    data = malloc((size_t)size + 1);
    if (data == NULL)
        goto out;
    if (fread(data, 1, (size_t)size, file) != (size_t)size) {
        free(data);
        data = NULL;
        goto out;
    }
    data[size] = '\0';
    if (len != NULL)
        *len = (size_t)size;
out:
    fclose(file);
    return data;
}

const char *test_vector_path(char *buffer, size_t size, const char *relative)
{
    const char *root = getenv("IDSVC_VECTORS");

    if (root == NULL)
        return NULL;
    snprintf(buffer, size, "%s/%s", root, relative);
    return buffer;
}
