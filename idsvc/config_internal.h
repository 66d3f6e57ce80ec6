/*
 * Parts of the configuration reader that config.c shares with config_lines.c: the line
 * source that feeds libinih, and the list of section names.
 */
#ifndef IDSVC_CONFIG_INTERNAL_H
#define IDSVC_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

/* Maximum length of a line in bytes, its line break included. inih's default of 200 is too
 * short for URIs and for a subject_cn of 64 four-byte UTF-8 characters. */
#define CONFIG_MAX_LINE 4096

/* Source of lines for ini_parse_stream(). It reads whole lines itself, because libinih
 * (Debian 12's r55 included) cuts a line longer than its buffer and parses the rest as a
 * new line. */
typedef struct line_reader {
    FILE *file;
    char *line; /* getline() buffer */
    size_t capacity;
    int line_number;
    char error[160]; /* why reading stopped early, or empty */
} line_reader;

/* Copies the next whole line into buffer, an ini_reader for ini_parse_stream(). Returns
 * NULL at the end of the file, or with an error in the reader for a line that is too
 * long, contains a NUL byte, cannot be read, is no valid line or opens an unknown
 * section. */
char *config_read_line(char *buffer, int size, void *stream);

/* Whether the node reads a section of this name, such as "server" or "rp bank". */
bool config_section_known(const char *section);

#endif
