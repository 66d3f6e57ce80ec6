/* Reading the user PIN: from a file only its owner may read, or from the environment. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "p11_internal.h"

int p11_pin_read_file(const char *path, char *pin, size_t pin_size, p11_error *err)
{
    char buffer[P11_PIN_MAX + 2];
    struct stat st;
    size_t len = 0;
    ssize_t got;
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

    /* The checks look at the file that was opened, not at the name. */
    if (fstat(fd, &st) != 0) {
        p11_fail(err, CKR_OK, "cannot stat PIN file '%s': %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        p11_fail(err, CKR_OK, "PIN file '%s' is not a regular file", path);
        goto out;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        p11_fail(err, CKR_OK,
                 "PIN file '%s' has mode %04o: group or others may read or change it; "
                 "run chmod 600 on it",
                 path, (unsigned)(st.st_mode & 07777));
        goto out;
    }

    while (len < sizeof(buffer)) {
        got = read(fd, buffer + len, sizeof(buffer) - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            p11_fail(err, CKR_OK, "cannot read PIN file '%s': %s", path, strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }

    /* One trailing newline, as an editor or echo leaves it, is not part of the PIN. */
    if (len > 0 && buffer[len - 1] == '\n') {
        len--;
        if (len > 0 && buffer[len - 1] == '\r')
            len--;
    }
    if (len == 0) {
        p11_fail(err, CKR_OK, "PIN file '%s' is empty", path);
        goto out;
    }
    if (len > P11_PIN_MAX || len >= pin_size) {
        p11_fail(err, CKR_OK, "PIN file '%s' holds more than %zu bytes", path,
                 (pin_size - 1 < P11_PIN_MAX ? pin_size - 1 : (size_t)P11_PIN_MAX));
        goto out;
    }
    if (memchr(buffer, '\0', len) != NULL || memchr(buffer, '\n', len) != NULL) {
        p11_fail(err, CKR_OK, "PIN file '%s' holds more than one line or a NUL byte",
                 path);
        goto out;
    }
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
