/*
 * Server-rendered HTML for the citizen pages. Every text that comes from a catalogue or
 * from stored data goes through web_html_text, which escapes it. Pages load one script
 * and one style sheet from /static, so the Content-Security-Policy can forbid inline
 * script and style.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "problem.h"
#include "web.h"

#define LANG_COOKIE_SECONDS (365L * 86400)

static void reserve(web_html *page, size_t extra)
{
    size_t size;
    char *grown;

    if (page->failed || page->len + extra + 1 <= page->size)
        return;
    size = page->size > 0 ? page->size : 4096;
    while (size < page->len + extra + 1)
        size *= 2;
    grown = realloc(page->text, size);
    if (grown == NULL) {
        page->failed = true;
        return;
    }
    page->text = grown;
    page->size = size;
}

void web_html_raw(web_html *page, const char *text)
{
    size_t len = strlen(text);

    reserve(page, len);
    if (page->failed)
        return;
    memcpy(page->text + page->len, text, len + 1);
    page->len += len;
}

void web_html_text(web_html *page, const char *text)
{
    char one[2] = {0, 0};

    for (const char *p = text; *p != '\0'; p++) {
        switch (*p) {
        case '<':
            web_html_raw(page, "&lt;");
            break;
        case '>':
            web_html_raw(page, "&gt;");
            break;
        case '&':
            web_html_raw(page, "&amp;");
            break;
        case '"':
            web_html_raw(page, "&quot;");
            break;
        case '\'':
            web_html_raw(page, "&#39;");
            break;
        default:
            one[0] = *p;
            web_html_raw(page, one);
        }
    }
}

/* Returns the code point of the bidirectional formatting character that starts at p,
 * with its UTF-8 length in *len, or 0. These are the Bidi_Control characters of Unicode:
 * U+061C, U+200E, U+200F, U+202A to U+202E and U+2066 to U+2069. */
static unsigned bidi_control_at(const unsigned char *p, size_t *len)
{
    unsigned code;

    if (p[0] == 0xD8 && p[1] == 0x9C) { /* U+061C ARABIC LETTER MARK */
        *len = 2;
        return 0x061C;
    }
    if (p[0] != 0xE2 || (p[1] != 0x80 && p[1] != 0x81) || (p[2] & 0xC0) != 0x80)
        return 0;
    code = 0x2000 | ((unsigned)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    *len = 3;
    if (code == 0x200E || code == 0x200F || (code >= 0x202A && code <= 0x202E) ||
        (code >= 0x2066 && code <= 0x2069))
        return code;
    return 0;
}

void web_html_country(web_html *page, const web_lang *lang, const char *code)
{
    char key[32];
    const char *name;

    snprintf(key, sizeof(key), "country.%s", code);
    name = web_text(lang, key);
    web_html_isolated(page, strcmp(name, key) == 0 ? code : name);
}

void web_html_isolated(web_html *page, const char *text)
{
    char one[2] = {0, 0};
    unsigned code;

    web_html_raw(page, "<bdi>");
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        size_t len = 0;

        code = bidi_control_at(p, &len);
        if (code != 0) {
            web_html_format(page, "[U+%04X]", code);
            p += len - 1;
            continue;
        }
        one[0] = (char)*p;
        web_html_text(page, one);
    }
    web_html_raw(page, "</bdi>");
}

void web_html_format(web_html *page, const char *format, ...)
{
    va_list args;
    int len;

    va_start(args, format);
    len = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (len < 0) {
        page->failed = true;
        return;
    }
    reserve(page, (size_t)len);
    if (page->failed)
        return;
    va_start(args, format);
    vsnprintf(page->text + page->len, (size_t)len + 1, format, args);
    va_end(args);
    page->len += (size_t)len;
}

/* The switch: a link per language to the same path, in that language's own name. */
static void write_language_switch(web_html *page, const http_request *request,
                                  const web_lang *current)
{
    web_html_raw(page, "<nav class=\"languages\" aria-label=\"");
    web_html_text(page, web_text(current, "nav.languages"));
    web_html_raw(page, "\"><ul>");
    for (size_t i = 0; i < web_lang_count(); i++) {
        const web_lang *lang = web_lang_at(i);

        web_html_raw(page, "<li><a href=\"");
        web_html_text(page, request->path);
        web_html_format(page, "?lang=%s\" hreflang=\"%s\" lang=\"%s\"%s>", lang->tag,
                        lang->tag, lang->tag,
                        lang == current ? " aria-current=\"true\"" : "");
        web_html_text(page, web_text(lang, "language.name"));
        web_html_raw(page, "</a></li>");
    }
    web_html_raw(page, "</ul></nav>");
}

void web_page_begin(web_html *page, const http_request *request, const web_lang *lang,
                    const char *page_name, const char *title_key)
{
    web_html_format(page, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n"
                          "<meta charset=\"utf-8\">\n"
                          "<meta name=\"viewport\" content=\"width=device-width, "
                          "initial-scale=1\">\n<title>", lang->tag);
    web_html_text(page, web_text(lang, title_key));
    web_html_raw(page, " | ");
    web_html_text(page, web_text(lang, "site.name"));
    web_html_raw(page, "</title>\n<link rel=\"stylesheet\" href=\"/static/pages.css\">\n"
                       "<script src=\"/static/pages.js\" defer></script>\n</head>\n");
    web_html_format(page, "<body data-page=\"%s\" data-lang=\"%s\">\n", page_name,
                    lang->tag);
    web_html_raw(page, "<a class=\"skip\" href=\"#main\">");
    web_html_text(page, web_text(lang, "nav.skip"));
    web_html_raw(page, "</a>\n<header><p class=\"site\">");
    web_html_text(page, web_text(lang, "site.name"));
    web_html_raw(page, "</p>");
    write_language_switch(page, request, lang);
    web_html_raw(page, "</header>\n<main id=\"main\" tabindex=\"-1\">\n<h1>");
    web_html_text(page, web_text(lang, title_key));
    web_html_raw(page, "</h1>\n");
}

/* The sentences the script shows, as data attributes, so no script is inline. */
static const char *const script_messages[] = {
    "status.working", "status.failed", "status.unsupported", "status.cancelled",
    "status.enrolled", "status.removed", "status.approved", "status.refused",
    "status.signed_in",
};

void web_page_end(web_html *page, const web_lang *lang)
{
    web_html_raw(page, "<p id=\"status\" class=\"status\" role=\"status\" "
                       "aria-live=\"polite\"></p>\n</main>\n<footer><p>");
    web_html_text(page, web_text(lang, "site.footer"));
    web_html_raw(page, "</p></footer>\n<div id=\"messages\" hidden");
    for (size_t i = 0; i < sizeof(script_messages) / sizeof(script_messages[0]); i++) {
        char attribute[64];

        snprintf(attribute, sizeof(attribute), " data-%s=\"", script_messages[i]);
        for (char *p = attribute; *p != '\0'; p++)
            if (*p == '.' || *p == '_')
                *p = '-';
        web_html_raw(page, attribute);
        web_html_text(page, web_text(lang, script_messages[i]));
        web_html_raw(page, "\"");
    }
    web_html_raw(page, "></div>\n</body>\n</html>\n");
}

static size_t skip_spaces(const char *text, size_t len)
{
    size_t i = 0;

    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    return i;
}

static size_t trim_spaces_end(const char *text, size_t len)
{
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    return len;
}

/* Tells whether a weight (RFC 9110, section 12.4.2) is zero: "0", "0." or "0." followed
 * by up to three zeros. */
static bool weight_is_zero(const char *value, size_t len)
{
    if (len == 0 || value[0] != '0')
        return false;
    if (len == 1)
        return true;
    if (value[1] != '.' || len > 5)
        return false;
    for (size_t i = 2; i < len; i++)
        if (value[i] != '0')
            return false;
    return true;
}

/* Tells whether one media range of an Accept header, such as "text/html;q=0.9", names
 * an HTML type with a weight above 0. */
static bool media_range_is_html(const char *range, size_t len)
{
    size_t start = skip_spaces(range, len);
    size_t type_len;
    const char *parameter;
    size_t rest;

    range += start;
    len -= start;
    type_len = strcspn(range, ";");
    if (type_len > len)
        type_len = len;
    parameter = range + type_len;
    rest = len - type_len;
    type_len = trim_spaces_end(range, type_len);
    if (!(type_len == strlen("text/html") && strncasecmp(range, "text/html", type_len) == 0) &&
        !(type_len == strlen("application/xhtml+xml") &&
          strncasecmp(range, "application/xhtml+xml", type_len) == 0))
        return false;

    /* The parameters follow, each after a ';'. Only the weight q matters here. */
    while (rest > 0) {
        size_t item_len, skip;

        parameter++;
        rest--;
        item_len = strcspn(parameter, ";");
        if (item_len > rest)
            item_len = rest;
        skip = skip_spaces(parameter, item_len);
        if (item_len - skip >= 2 && (parameter[skip] == 'q' || parameter[skip] == 'Q') &&
            parameter[skip + 1] == '=' &&
            weight_is_zero(parameter + skip + 2,
                           trim_spaces_end(parameter + skip + 2, item_len - skip - 2)))
            return false;
        parameter += item_len;
        rest -= item_len;
    }
    return true;
}

bool web_accepts_html(const http_request *request)
{
    const char *accept = http_request_header(request, "Accept");

    while (accept != NULL && *accept != '\0') {
        size_t len = strcspn(accept, ",");

        if (media_range_is_html(accept, len))
            return true;
        accept += len;
        if (*accept == ',')
            accept++;
    }
    return false;
}

void web_security_headers(http_reply *reply)
{
    /* No inline script or style, nothing from other origins, no framing. */
    http_reply_header(reply, "Content-Security-Policy",
                      "default-src 'none'; script-src 'self'; style-src 'self'; "
                      "img-src 'self'; connect-src 'self'; form-action 'self'; "
                      "base-uri 'none'; frame-ancestors 'none'");
    http_reply_header(reply, "X-Content-Type-Options", "nosniff");
    http_reply_header(reply, "Referrer-Policy", "no-referrer");
    http_reply_header(reply, "Strict-Transport-Security", "max-age=31536000");
}

void web_page_send(web_html *page, http_request *request, http_reply *reply,
                   unsigned status)
{
    const char *query = http_request_query(request, "lang");
    const web_lang *lang = web_lang_choose(request);
    char cookie[128];

    if (page->failed || page->text == NULL) {
        free(page->text);
        memset(page, 0, sizeof(*page));
        problem_internal(reply);
        return;
    }
    http_reply_clear(reply);
    reply->status = status;
    reply->content_type = "text/html; charset=utf-8";
    reply->body = page->text; /* ownership passes to the reply */
    reply->body_len = page->len;
    memset(page, 0, sizeof(*page));
    web_security_headers(reply);

    /* A choice made with the switch sticks for the next pages. */
    if (query != NULL && strcmp(query, lang->tag) == 0) {
        snprintf(cookie, sizeof(cookie),
                 "__Host-idsvc_lang=%s; Path=/; Secure; SameSite=Strict; Max-Age=%ld",
                 lang->tag, LANG_COOKIE_SECONDS);
        http_reply_header(reply, "Set-Cookie", cookie);
    }
}

void web_format_time(time_t t, char out[32])
{
    struct tm tm;

    if (t == 0 || gmtime_r(&t, &tm) == NULL) {
        snprintf(out, 32, "-");
        return;
    }
    strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm);
}

void web_claim_key(const char *claim, char *out, size_t size)
{
    snprintf(out, size, "claim.%s", claim);
}
