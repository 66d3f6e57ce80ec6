/* Reading the user PIN: from a file only its owner may read, or from the environment. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "p11_internal.h"

/* Checks the file that was opened, not the name: a regular file that only its owner may
 * read or change. */
static int check_pin_file(int fd, const char *path, p11_error *err)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return p11_fail(err, CKR_OK, "cannot stat PIN file '%s': %s", path,
                        strerror(errno));
    if (!S_ISREG(st.st_mode))
        return p11_fail(err, CKR_OK, "PIN file '%s' is not a regular file", path);
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        return p11_fail(err, CKR_OK,
                        "PIN file '%s' has mode %04o: group or others may read or change "
                        "it; run chmod 600 on it",
                        path, (unsigned)(st.st_mode & 07777));
    return 0;
}

/* Reads up to size bytes of fd into buffer and sets *len to the count. */
static int read_up_to(int fd, char *buffer, size_t size, size_t *len, const char *path,
                      p11_error *err)
{
    ssize_t got;

    *len = 0;
    while (*len < size) {
        got = read(fd, buffer + *len, size - *len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return p11_fail(err, CKR_OK, "cannot read PIN file '%s': %s", path,
                            strerror(errno));
        if (got == 0)
            break;
        *len += (size_t)got;
    }
    return 0;
}

/* Takes one trailing newline off the file's text and checks that one PIN line is left
 * that fits pin_size. */
static int check_pin_text(const char *buffer, size_t *len, size_t pin_size,
                          const char *path, p11_error *err)
{
    /* One trailing newline, as an editor or echo leaves it, is not part of the PIN. */
    if (*len > 0 && buffer[*len - 1] == '\n') {
        (*len)--;
        if (*len > 0 && buffer[*len - 1] == '\r')
            (*len)--;
    }
    if (*len == 0)
        return p11_fail(err, CKR_OK, "PIN file '%s' is empty", path);
    if (*len > P11_PIN_MAX || *len >= pin_size)
        return p11_fail(
            err, CKR_OK, "PIN file '%s' holds more than %zu bytes", path,
            (pin_size - 1 < P11_PIN_MAX ? pin_size - 1 : (size_t)P11_PIN_MAX));
    if (memchr(buffer, '\0', *len) != NULL || memchr(buffer, '\n', *len) != NULL)
        return p11_fail(err, CKR_OK,
                        "PIN file '%s' holds more than one line or a NUL byte", path);
    return 0;
}

int p11_pin_read_file(const char *path, char *pin, size_t pin_size, p11_error *err)
{
    char buffer[P11_PIN_MAX + 2];
    size_t len = 0;
    int ret = -1;
    int fd;

    if (pin == NULL || pin_size < 2)
        return p11_fail(err, CKR_ARGUMENTS_BAD, "no room for the PIN read from '%s'",
                        path);
    pin[0] = '\0';

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return p11_fail(err, CKR_OK, "cannot open PIN file '%s': %s", path,
                        strerror(errno));
    if (check_pin_file(fd, path, err) != 0 ||
        read_up_to(fd, buffer, sizeof(buffer), &len, path, err) != 0 ||
        check_pin_text(buffer, &len, pin_size, path, err) != 0)
        goto out;
    memcpy(pin, buffer, len);
    pin[len] = '\0';
    ret = 0;
out:
    OPENSSL_cleanse(buffer, sizeof(buffer));
    close(fd);
    return ret;
}

int p11_pin_read_env(const char *name, char *pin, size_t pin_size, p11_error *err)
{
    const char *value = getenv(name);
    size_t len;

    if (pin == NULL || pin_size < 2)
        return p11_fail(err, CKR_ARGUMENTS_BAD, "no room for the PIN in $%s", name);
    pin[0] = '\0';
    if (value == NULL)
        return p11_fail(err, CKR_OK,
                        "environment variable %s, named for the PIN, is not set", name);
    len = strlen(value);
    if (len == 0)
        return p11_fail(err, CKR_OK,
                        "environment variable %s, named for the PIN, is empty", name);
    if (len >= pin_size || len > P11_PIN_MAX)
        return p11_fail(err, CKR_OK,
                        "environment variable %s holds a PIN that is too long", name);
    memcpy(pin, value, len + 1);
    return 0;
}
