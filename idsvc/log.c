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

/* Escapes for JSON and caps at LOG_VALUE_MAX input bytes. Bytes outside printable
 * ASCII become \u00XX, so a peer cannot forge a line break or an invalid encoding. */
static void append_escaped(line_buffer *line, const char *value)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    size_t i;

    append(line, "\"", 1);
    for (i = 0; value[i] != '\0' && i < LOG_VALUE_MAX; i++) {
        unsigned char c = (unsigned char)value[i];
        char escaped[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0x0f]};

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            continue;
        /* Copy the printable run before this byte in one piece. */
        append(line, value + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\')
            append(line, (const char[]){'\\', (char)c}, 2);
        else
            append(line, escaped, sizeof(escaped));
    }
    append(line, value + run, i - run);
    if (value[i] != '\0')
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
    append_escaped(line, event);
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
        append_escaped(&line, fields[i].key);
        append(&line, ":", 1);
        if (fields[i].value == NULL)
            append(&line, "null", 4);
        else
            append_escaped(&line, fields[i].value);
    }
    append(&line, "}\n", 2);
    if (!line.failed)
        fwrite(line.data, 1, line.len, stderr);
    if (line.on_heap)
        free(line.data);
}

void log_message(log_level level, const char *event, const char *format, ...)
{
    char message[LOG_VALUE_MAX + 1];
    va_list args;
    log_field field = {"message", message};

    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    log_event(level, event, &field, 1);
}
