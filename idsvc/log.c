#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int min_level = LOG_INFO;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level level)
{
    atomic_store(&min_level, (int)level);
}

/* A line under construction: a stack buffer that moves to the heap when a line outgrows
 * it. failed is set when memory ran out, and the line is then dropped. */
typedef struct line_buffer {
    char *data;
    size_t len;
    size_t capacity;
    bool on_heap;
    bool failed;
} line_buffer;

static void append(line_buffer *line, const char *bytes, size_t len)
{
    if (line->failed)
        return;
    if (len > line->capacity - line->len) {
        size_t capacity = (line->len + len) * 2;
        char *grown = line->on_heap ? realloc(line->data, capacity) : malloc(capacity);

        if (grown == NULL) {
            line->failed = true;
            return;
        }
        if (!line->on_heap)
            memcpy(grown, line->data, line->len);
        line->data = grown;
        line->capacity = capacity;
        line->on_heap = true;
    }
    memcpy(line->data + line->len, bytes, len);
    line->len += len;
}

static bool is_continuation(unsigned char c, unsigned char low, unsigned char high)
{
    return c >= low && c <= high;
}

size_t log_utf8_sequence(const unsigned char *s)
{
    unsigned char lead = s[0];

    if (lead >= 0xc2 && lead <= 0xdf)
        return is_continuation(s[1], 0x80, 0xbf) ? 2 : 0;
    if (lead >= 0xe0 && lead <= 0xef) {
        unsigned char low = lead == 0xe0 ? 0xa0 : 0x80;
        unsigned char high = lead == 0xed ? 0x9f : 0xbf;

        return is_continuation(s[1], low, high) && is_continuation(s[2], 0x80, 0xbf) ? 3
                                                                                       : 0;
    }
    if (lead >= 0xf0 && lead <= 0xf4) {
        unsigned char low = lead == 0xf0 ? 0x90 : 0x80;
        unsigned char high = lead == 0xf4 ? 0x8f : 0xbf;

        return is_continuation(s[1], low, high) && is_continuation(s[2], 0x80, 0xbf) &&
                       is_continuation(s[3], 0x80, 0xbf)
                   ? 4
                   : 0;
    }
    return 0;
}

char *log_utf8_clean(const char *text)
{
    const unsigned char *in = (const unsigned char *)text;
    char *out = malloc(3 * strlen(text) + 1); /* each byte becomes at most 3 */
    size_t used = 0;

    if (out == NULL)
        return NULL;
    while (*in != '\0') {
        size_t len = *in < 0x80 ? 1 : log_utf8_sequence(in);

        if (len == 0) {
            memcpy(out + used, "\xef\xbf\xbd", 3); /* U+FFFD REPLACEMENT CHARACTER */
            used += 3;
            in++;
            continue;
        }
        memcpy(out + used, in, len);
        used += len;
        in += len;
    }
    out[used] = '\0';
    return out;
}

/* True for a sequence that stays readable as it is: not a C1 control (U+0080 to
 * U+009F) and not U+2028 or U+2029, which some log readers take as line breaks. */
static bool utf8_is_plain(const unsigned char *s, size_t len)
{
    if (len == 2)
        return s[0] != 0xc2 || s[1] >= 0xa0;
    if (len == 3)
        return !(s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9));
    return true;
}

/* Appends the JSON escape of one character that is not copied as it is: a quote or
 * backslash, an ASCII control, a C1 control or line separator, or U+FFFD for a byte
 * that starts no well-formed UTF-8 sequence. Returns the input bytes it stands for. */
static size_t append_escape(line_buffer *line, const unsigned char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char escaped[6] = {'\\', 'u', '0', '0', 0, 0};

    if (s[0] == '"' || s[0] == '\\') {
        append(line, (const char[]){'\\', (char)s[0]}, 2);
        return 1;
    }
    if (s[0] < 0x80 || (len == 2 && s[0] == 0xc2)) {
        unsigned char c = len == 2 ? s[1] : s[0];

        escaped[4] = hex[c >> 4];
        escaped[5] = hex[c & 0x0f];
        append(line, escaped, sizeof(escaped));
        return len == 2 ? 2 : 1;
    }
    if (len == 3) {
        append(line, s[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
        return 3;
    }
    append(line, "\\ufffd", 6);
    return 1;
}

/* Escapes for JSON and caps at cap input bytes, never inside a character.
 * Well-formed UTF-8 is copied as it is, so names in any script stay readable. Controls,
 * line separators and bytes of invalid UTF-8 are escaped, so a peer cannot forge a line
 * break or an invalid encoding. */
static void append_escaped(line_buffer *line, const char *value, size_t cap)
{
    const unsigned char *text = (const unsigned char *)value;
    size_t run = 0;
    size_t i = 0;

    append(line, "\"", 1);
    while (text[i] != '\0') {
        unsigned char c = text[i];
        size_t len = c < 0x80 ? 1 : log_utf8_sequence(text + i);

        if (i + (len > 0 ? len : 1) > cap)
            break;
        if ((c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ||
            (len > 1 && utf8_is_plain(text + i, len))) {
            i += len;
            continue;
        }
        /* Copy the plain run before this character in one piece. */
        append(line, value + run, i - run);
        i += append_escape(line, text + i, len);
        run = i;
    }
    append(line, value + run, i - run);
    if (text[i] != '\0')
        append(line, "...", 3);
    append(line, "\"", 1);
}

static void append_prefix(line_buffer *line, log_level level, const char *event)
{
    struct timespec now;
    struct tm utc;
    char stamp[80];
    int len;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    len = snprintf(stamp, sizeof(stamp),
                   "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\","
                   "\"event\":",
                   utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                   utc.tm_sec, now.tv_nsec / 1000000, level_names[level]);
    if (len < 0 || (size_t)len >= sizeof(stamp)) {
        line->failed = true;
        return;
    }
    append(line, stamp, (size_t)len);
    append_escaped(line, event, LOG_VALUE_MAX);
}

/*
 * Writes one line. It is formatted in memory and handed to stderr in one call, because
 * stderr is unbuffered. Written piece by piece, a request line cost a few hundred
 * write(2) calls, about 40% of the daemon's CPU time per verification request.
 */
void log_event(log_level level, const char *event, const log_field *fields, size_t count)
{
    char stack[1024];
    line_buffer line = {stack, 0, sizeof(stack), false, false};

    if ((int)level < atomic_load(&min_level))
        return;

    append_prefix(&line, level, event);
    for (size_t i = 0; i < count; i++) {
        append(&line, ",", 1);
        append_escaped(&line, fields[i].key, LOG_VALUE_MAX);
        append(&line, ":", 1);
        if (fields[i].value == NULL)
            append(&line, "null", 4);
        else
            append_escaped(&line, fields[i].value,
                           strcmp(fields[i].key, "message") == 0 ? LOG_MESSAGE_MAX
                                                                  : LOG_VALUE_MAX);
    }
    append(&line, "}\n", 2);
    if (!line.failed)
        fwrite(line.data, 1, line.len, stderr);
    if (line.on_heap)
        free(line.data);
}

void log_message(log_level level, const char *event, const char *format, ...)
{
    char message[LOG_MESSAGE_MAX + 1];
    va_list args;
    log_field field = {"message", message};

    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    log_event(level, event, &field, 1);
}
