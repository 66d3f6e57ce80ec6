/*
 * Checks of [webauthn] and [pages] that a browser or the pages would otherwise report
 * only to the citizen: the RP ID and the origins as a browser compares them, and the
 * files of the assets folder. A node that fails them does not start, and a reload that
 * fails them keeps the old settings.
 *
 * A browser takes the RP ID as a domain: lower-case ASCII labels, internationalised
 * names in their xn-- form, no IP address. It accepts an RP ID that equals the host of
 * the page's origin or is a registrable suffix of it (WebAuthn Level 2, section 5.1.3,
 * and the HTML standard's "is a registrable domain suffix of or is equal to"). The node
 * does not read the Public Suffix List, so a suffix needs at least two labels here and
 * a browser may still refuse a public suffix such as co.th.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "config.h"

#ifndef IDSVC_WEB_DIR
#define IDSVC_WEB_DIR "web"
#endif

#define HOST_MAX 253
#define LABEL_MAX 63
#define ASSET_MAX_BYTES (512 * 1024) /* as web_static.c reads them */

static bool label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/*
 * Whether a label reads as a number to the WHATWG URL parser, which then takes the whole
 * host for an IPv4 address (its "ends in a number" check): decimal digits, or 0x and hex
 * digits. Such a host is an IP address or an invalid URL, never a domain.
 */
static bool label_is_number(const char *label, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t digits = 0;

    if (len >= 2 && label[0] == '0' && label[1] == 'x') {
        while (2 + digits < len && strchr(hex, label[2 + digits]) != NULL)
            digits++;
        return 2 + digits == len;
    }
    while (digits < len && label[digits] >= '0' && label[digits] <= '9')
        digits++;
    return digits == len;
}

/* A host name of lower-case labels, each 1 to 63 characters of a-z, 0-9 and '-', not
 * starting or ending with '-', whose last label is not a number (so not an IPv4
 * address). */
static bool host_valid(const char *host, size_t len)
{
    size_t start = 0;

    if (len == 0 || len > HOST_MAX)
        return false;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && host[i] != '.') {
            if (!label_char(host[i]))
                return false;
            continue;
        }
        if (i == start || i - start > LABEL_MAX || host[start] == '-' || host[i - 1] == '-')
            return false;
        if (i == len && label_is_number(host + start, i - start))
            return false;
        start = i + 1;
    }
    return true;
}

/* Whether rp_id equals host or is a suffix of it at a label boundary with at least two
 * labels. */
static bool rp_id_covers(const char *rp_id, const char *host, size_t host_len)
{
    size_t rp_len = strlen(rp_id);

    if (rp_len == host_len)
        return memcmp(rp_id, host, host_len) == 0;
    if (rp_len > host_len || strchr(rp_id, '.') == NULL)
        return false;
    return host[host_len - rp_len - 1] == '.' &&
           memcmp(host + host_len - rp_len, rp_id, rp_len) == 0;
}

/* Reads a port of 1 to 65535 without leading zeros, len characters long; 443 is refused
 * because a browser leaves the default port out of the origin it reports. */
static const char *port_problem(const char *port, size_t len)
{
    unsigned long value = 0;

    if (len == 0 || len > 5 || port[0] == '0' || strspn(port, "0123456789") != len)
        return "has a port that is not a number from 1 to 65535";
    for (size_t i = 0; i < len; i++)
        value = value * 10 + (unsigned long)(port[i] - '0');
    if (value > 65535)
        return "has a port that is not a number from 1 to 65535";
    if (value == 443)
        return "names port 443, which a browser leaves out of an origin";
    return NULL;
}

/* Finds what is wrong with the parts of https://host[:port] after the scheme, or NULL.
 * A browser's origin ends after the port, so anything after it is named first. */
static const char *origin_syntax_problem(const char *host)
{
    size_t host_len = strcspn(host, ":/?#");
    const char *port = host[host_len] == ':' ? host + host_len + 1 : NULL;
    size_t port_len = port != NULL ? strcspn(port, "/?#") : 0;
    const char *rest = port != NULL ? port + port_len : host + host_len;

    if (*rest == '/' && rest[1] == '\0')
        return "ends with a slash, which a browser leaves out of an origin. Remove the "
               "trailing /";
    if (*rest != '\0')
        return "has a path, query or fragment, which a browser leaves out of an origin. "
               "Write only https://host or https://host:port";
    if (!host_valid(host, host_len))
        return "must be https:// and a lower-case host name, with an optional port";
    if (port != NULL)
        return port_problem(port, port_len);
    return NULL;
}

/* Checks one origin, https://host[:port] exactly, against the RP ID. */
static int check_origin(const char *rp_id, const char *origin, char *error, size_t size)
{
    static const char scheme[] = "https://";
    const char *host = origin + sizeof(scheme) - 1;
    size_t host_len;
    const char *problem;

    if (strncmp(origin, scheme, sizeof(scheme) - 1) != 0) {
        snprintf(error, size, "[webauthn] origin \"%s\" must start with https://", origin);
        return -1;
    }
    host_len = strcspn(host, ":/?#");
    problem = origin_syntax_problem(host);
    if (problem == NULL && !rp_id_covers(rp_id, host, host_len))
        problem = "has a host that rp_id neither equals nor is a suffix of";
    if (problem != NULL) {
        snprintf(error, size, "[webauthn] origin \"%s\" %s", origin, problem);
        return -1;
    }
    return 0;
}

/* Checks that folder/name is a readable regular file that the pages can serve. */
static int check_asset(const char *folder, const char *name, char *error, size_t size)
{
    char path[4096];
    struct stat st;
    FILE *file;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", folder, name) >= sizeof(path)) {
        snprintf(error, size, "[pages] assets: the folder name is too long");
        return -1;
    }
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > ASSET_MAX_BYTES ||
        (file = fopen(path, "rb")) == NULL) {
        snprintf(error, size, "[pages] assets: %s is missing, unreadable, not a file or "
                 "larger than %d bytes", path, ASSET_MAX_BYTES);
        return -1;
    }
    fclose(file);
    return 0;
}

/* Checks the English catalogue, the fallback of every language, as the pages read it:
 * a JSON object whose values are strings, without duplicate keys. */
static int check_catalogue(const char *folder, char *error, size_t size)
{
    char path[4096];
    json_error_t json_error;
    json_t *doc;
    const char *key;
    json_t *value;
    int rc = 0;

    snprintf(path, sizeof(path), "%s/i18n/en.json", folder);
    doc = json_load_file(path, JSON_REJECT_DUPLICATES, &json_error);
    if (doc == NULL) {
        snprintf(error, size, "[pages] assets: %s:%d: %s", path, json_error.line,
                 json_error.text);
        return -1;
    }
    if (!json_is_object(doc)) {
        snprintf(error, size, "[pages] assets: %s must be a JSON object", path);
        json_decref(doc);
        return -1;
    }
    json_object_foreach(doc, key, value) {
        if (!json_is_string(value)) {
            snprintf(error, size, "[pages] assets: %s: the value of \"%s\" is not a string",
                     path, key);
            rc = -1;
            break;
        }
    }
    json_decref(doc);
    return rc;
}

int config_check_web(const config_web *web, int *line, char *error, size_t size)
{
    static const char *const assets[] = {"pages.js", "pages.css", "i18n/en.json"};
    const char *folder = web->assets_dir != NULL ? web->assets_dir : IDSVC_WEB_DIR;

    if (web->rp_id == NULL)
        return 0; /* no pages: nothing else of these sections is used */
    if (!host_valid(web->rp_id, strlen(web->rp_id))) {
        snprintf(error, size, "[webauthn] rp_id \"%s\" must be a lower-case host name "
                 "(xn-- labels for other scripts), not a URL or an IP address", web->rp_id);
        return -1;
    }
    *line = 0;
    for (size_t i = 0; i < web->origin_count; i++) {
        if (check_origin(web->rp_id, web->origins[i], error, size) != 0) {
            *line = web->origin_lines != NULL ? web->origin_lines[i] : 0;
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++)
        if (check_asset(folder, assets[i], error, size) != 0)
            return -1;
    return check_catalogue(folder, error, size);
}
