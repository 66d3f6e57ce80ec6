/*
 * Text primitives of the SAML signer: a growing buffer, escaping exactly as exclusive
 * c14n escapes, checks on caller text, IDs and timestamps.
 */
#include "saml_build.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define SAML_BUF_INITIAL 4096

void saml_set_error(p11_error *err, const char *format, ...)
{
    va_list args;

    if (err == NULL)
        return;
    err->rv = CKR_OK;
    va_start(args, format);
    vsnprintf(err->message, sizeof(err->message), format, args);
    va_end(args);
}

void saml_buf_free(saml_buf *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof(*buf));
}

static bool buf_reserve(saml_buf *buf, size_t extra)
{
    size_t need;
    size_t cap;
    char *data;

    if (buf->failed)
        return false;
    if (extra > SIZE_MAX / 2 - buf->len) {
        buf->failed = true;
        return false;
    }
    need = buf->len + extra + 1; /* room for a terminating NUL */
    if (need <= buf->cap)
        return true;

    cap = buf->cap != 0 ? buf->cap : SAML_BUF_INITIAL;
    while (cap < need)
        cap *= 2;
    data = realloc(buf->data, cap);
    if (data == NULL) {
        buf->failed = true;
        return false;
    }
    buf->data = data;
    buf->cap = cap;
    return true;
}

void saml_buf_put(saml_buf *buf, const char *bytes, size_t len)
{
    if (!buf_reserve(buf, len))
        return;
    memcpy(buf->data + buf->len, bytes, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

void saml_buf_puts(saml_buf *buf, const char *text)
{
    saml_buf_put(buf, text, strlen(text));
}

/* Returns the c14n replacement of c, or NULL when c is copied as it is. */
static const char *text_escape(unsigned char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '\r':
        return "&#xD;";
    default:
        return NULL;
    }
}

/* Attribute values keep '>' but escape '"' and whitespace other than the space, because
 * a parser normalises literal TAB, LF and CR in attributes to spaces. */
static const char *attr_escape(unsigned char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '"':
        return "&quot;";
    case '\t':
        return "&#x9;";
    case '\n':
        return "&#xA;";
    case '\r':
        return "&#xD;";
    default:
        return NULL;
    }
}

/* Copies runs of plain bytes in one call and replaces each escaped byte. */
static void put_escaped(saml_buf *buf, const char *text,
                        const char *(*escape)(unsigned char))
{
    const char *run = text;
    const char *p;

    for (p = text; *p != '\0'; p++) {
        const char *replacement = escape((unsigned char)*p);

        if (replacement == NULL)
            continue;
        saml_buf_put(buf, run, (size_t)(p - run));
        saml_buf_puts(buf, replacement);
        run = p + 1;
    }
    saml_buf_put(buf, run, (size_t)(p - run));
}

void saml_buf_put_text(saml_buf *buf, const char *text)
{
    put_escaped(buf, text, text_escape);
}

void saml_buf_put_attr(saml_buf *buf, const char *text)
{
    put_escaped(buf, text, attr_escape);
}

void saml_buf_put_base64(saml_buf *buf, const unsigned char *bytes, size_t len)
{
    size_t encoded = 4 * ((len + 2) / 3);

    if (len > INT32_MAX || !buf_reserve(buf, encoded))
        return;
    EVP_EncodeBlock((unsigned char *)buf->data + buf->len, bytes, (int)len);
    buf->len += encoded;
    buf->data[buf->len] = '\0';
}

/*
 * Decodes one UTF-8 sequence at s. Returns its length and sets *code, or 0 when the
 * sequence is malformed, overlong, a surrogate or above U+10FFFF.
 */
static size_t utf8_decode(const unsigned char *s, uint32_t *code)
{
    size_t len;
    uint32_t min;
    uint32_t value;

    if (s[0] < 0x80) {
        *code = s[0];
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
        min = 0x80;
        value = s[0] & 0x1Fu;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        min = 0x800;
        value = s[0] & 0x0Fu;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        min = 0x10000;
        value = s[0] & 0x07u;
    } else {
        return 0;
    }

    /* A NUL terminator fails the continuation test, so this never reads past it. */
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        value = (value << 6) | (s[i] & 0x3Fu);
    }
    if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
        return 0;
    *code = value;
    return len;
}

/* XML 1.0 Char: TAB, LF, CR, U+0020..U+D7FF, U+E000..U+FFFD and U+10000..U+10FFFF. */
static bool xml_char_allowed(uint32_t code)
{
    if (code < 0x20)
        return code == 0x9 || code == 0xA || code == 0xD;
    return code != 0xFFFE && code != 0xFFFF;
}

int saml_text_check(const char *text, char *reason, size_t reason_size)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t len = strlen(text);

    if (len > SAML_VALUE_MAX) {
        snprintf(reason, reason_size, "is %zu bytes long, but at most %d are allowed",
                 len, SAML_VALUE_MAX);
        return -1;
    }

    while (*p != '\0') {
        uint32_t code;
        size_t step = utf8_decode(p, &code);

        if (step == 0) {
            snprintf(reason, reason_size, "is not valid UTF-8 (byte %zu)",
                     (size_t)(p - (const unsigned char *)text) + 1);
            return -1;
        }
        if (!xml_char_allowed(code)) {
            snprintf(reason, reason_size, "contains U+%04X, which XML 1.0 does not allow",
                     (unsigned)code);
            return -1;
        }
        p += step;
    }
    return 0;
}

/* RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ":" and more. */
bool saml_text_is_uri(const char *text)
{
    const char *p = text;

    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return false;
    while (*p != ':') {
        bool scheme_char = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                           (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' ||
                           *p == '.';

        if (!scheme_char)
            return false;
        p++;
    }
    p++;
    if (*p == '\0')
        return false;
    for (; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7F)
            return false;
    }
    return true;
}

int saml_new_id(char id[SAML_ID_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char random[16];

    if (RAND_bytes(random, sizeof(random)) != 1)
        return -1;
    id[0] = '_';
    for (size_t i = 0; i < sizeof(random); i++) {
        id[1 + 2 * i] = hex[random[i] >> 4];
        id[2 + 2 * i] = hex[random[i] & 0x0F];
    }
    id[SAML_ID_SIZE - 1] = '\0';
    return 0;
}

int saml_format_time(time_t t, char out[SAML_TIME_SIZE])
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return -1;
    if (strftime(out, SAML_TIME_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm) != SAML_TIME_SIZE - 1)
        return -1;
    return 0;
}
