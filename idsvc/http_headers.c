/* Checks of the request line and headers that libmicrohttpd 0.9.75 leaves to the
 * application. */
#include "http_headers.h"

#include <string.h>
#include <strings.h>

static const char *skip_whitespace(const char *text)
{
    while (*text == ' ' || *text == '\t')
        text++;
    return text;
}

/* Reads one "; name=value" parameter, where value may be a quoted string without
 * escapes, and returns the text after it, or NULL when it is malformed or is not
 * charset=utf-8. */
static const char *skip_charset_parameter(const char *text)
{
    const char *value;
    size_t len;

    text = skip_whitespace(text);
    if (*text != ';')
        return NULL;
    text = skip_whitespace(text + 1);
    if (strncasecmp(text, "charset=", strlen("charset=")) != 0)
        return NULL;
    value = text + strlen("charset=");
    if (*value == '"') {
        const char *end = strchr(value + 1, '"');

        if (end == NULL || end - value - 1 != (long)strlen("utf-8") ||
            strncasecmp(value + 1, "utf-8", strlen("utf-8")) != 0)
            return NULL;
        return end + 1;
    }
    len = strcspn(value, " \t;");
    if (len != strlen("utf-8") || strncasecmp(value, "utf-8", len) != 0)
        return NULL;
    return value + len;
}

bool http_media_type_is_json(const char *value)
{
    const char *rest;

    if (value == NULL || strncasecmp(value, "application/json", strlen("application/json")) != 0)
        return false;
    rest = value + strlen("application/json");
    while (*skip_whitespace(rest) != '\0') {
        rest = skip_charset_parameter(rest);
        if (rest == NULL)
            return false;
    }
    return true;
}

bool http_target_path_is_encoded(const char *target)
{
    size_t path_len = strcspn(target, "?");

    return memchr(target, '%', path_len) != NULL;
}
