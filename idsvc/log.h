/*
 * Structured logs: one JSON object per line on standard error. Values that came from a
 * peer are escaped and capped by the writer, so a caller can pass them unchanged. Never
 * pass a PIN, a key or a claim value.
 */
#ifndef IDSVC_LOG_H
#define IDSVC_LOG_H

#include <stddef.h>

typedef enum log_level {
    LOG_DEBUG,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
} log_level;

/* Maximum length of a value in bytes; a longer value is cut and ends in "..." */
#define LOG_VALUE_MAX 256

/* Maximum length of a "message" field, the node's own sentence, which names the values
 * and the remedy, such as a command to run. */
#define LOG_MESSAGE_MAX 1024

typedef struct log_field {
    const char *key;
    const char *value; /* NULL writes JSON null */
} log_field;

void log_set_level(log_level min_level);

/* Returns the length of the well-formed UTF-8 sequence of two to four bytes at s (RFC
 * 3629, section 4: no overlong forms, no surrogates, nothing past U+10FFFF), or 0. The
 * NUL that ends s is no continuation byte, so a cut sequence returns 0. */
size_t log_utf8_sequence(const unsigned char *s);

/* Returns a malloc'd copy of text in which each byte that starts no well-formed UTF-8
 * sequence is replaced by U+FFFD, so that JSON can carry it (an audit payload takes
 * only valid UTF-8). NULL when out of memory. */
char *log_utf8_clean(const char *text);

/* Writes one line with the event name and the fields in order. */
void log_event(log_level level, const char *event, const log_field *fields, size_t count);

/* Writes one line with a free-text "message" formatted by the caller. */
void log_message(log_level level, const char *event, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#endif
