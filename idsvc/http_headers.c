/* Checks of the request line and headers that libmicrohttpd 0.9.75 leaves to the
 * application. */
#include "http_headers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
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
 * charset=utf-8. RFC 9110 (section 5.6.6) allows an empty parameter, as in
 * "application/json;", which is read as no parameter. */
static const char *skip_charset_parameter(const char *text)
{
    const char *value;
    size_t len;

    text = skip_whitespace(text);
    if (*text != ';')
        return NULL;
    text = skip_whitespace(text + 1);
    if (*text == '\0' || *text == ';')
        return text;
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

static bool is_hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* An unreserved character or a sub-delimiter of RFC 3986 (section 2). */
static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL);
}

/* Returns the end of the reg-name (RFC 3986, section 3.2.2) that starts at text: its
 * characters and percent-encodings, up to end or the first other character. */
static const char *skip_reg_name(const char *text, const char *end)
{
    while (text < end) {
        if (*text == '%' && end - text >= 3 && is_hex_digit(text[1]) &&
            is_hex_digit(text[2]))
            text += 3;
        else if (*text != '%' && is_name_char(*text))
            text++;
        else
            break;
    }
    return text;
}

/* Checks the text between the brackets of an IP-literal: an IPv6 address, or an
 * IPvFuture of "v", hex digits, "." and name characters or colons (RFC 3986, section
 * 3.2.2). */
static bool ip_literal_valid(const char *text, size_t len)
{
    char address[INET6_ADDRSTRLEN];
    struct in6_addr parsed;
    size_t i = 1;

    if (len > 0 && (text[0] == 'v' || text[0] == 'V')) {
        while (i < len && is_hex_digit(text[i]))
            i++;
        if (i == 1 || i >= len - 1 || text[i] != '.')
            return false;
        for (i++; i < len; i++)
            if (!is_name_char(text[i]) && text[i] != ':')
                return false;
        return true;
    }
    if (len == 0 || len >= sizeof(address))
        return false;
    memcpy(address, text, len);
    address[len] = '\0';
    return inet_pton(AF_INET6, address, &parsed) == 1;
}

/* Checks that the text from value to end is a host and an optional port. */
static bool authority_valid(const char *value, const char *end)
{
    const char *port;

    if (value < end && value[0] == '[') {
        const char *close = memchr(value, ']', (size_t)(end - value));

        if (close == NULL || !ip_literal_valid(value + 1, (size_t)(close - value - 1)))
            return false;
        port = close + 1;
    } else {
        port = skip_reg_name(value, end);
        /* An https URI must not have an empty host (RFC 9110, section 4.2.2). */
        if (port == value)
            return false;
    }
    if (port < end && *port++ != ':')
        return false;
    while (port < end && *port >= '0' && *port <= '9')
        port++;
    return port == end;
}

bool http_host_value_valid(const char *value)
{
    const char *end = value + strlen(value);

    /* libmicrohttpd 0.9.75 strips the white space before a value but not after it. */
    while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return authority_valid(value, end);
}

const char *http_target_origin_path(const char *target, bool *authority_ok)
{
    static const char scheme[] = "https://";
    const char *authority;
    const char *path;

    *authority_ok = true;
    if (strncasecmp(target, scheme, strlen(scheme)) != 0)
        return target;
    authority = target + strlen(scheme);
    path = authority + strcspn(authority, "/");
    *authority_ok = authority_valid(authority, path);
    /* An empty path stands for "/" (RFC 9112, section 3.2.1). */
    return *path != '\0' ? path : "/";
}
