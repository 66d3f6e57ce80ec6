/*
 * The line source of the configuration reader: whole lines for libinih, with each syntax
 * error and each unknown section header reported with its line number before libinih
 * reads the line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "config_internal.h"

/* Returns the first of chars in text that comes before an inline comment (a ';' after
 * whitespace, as libinih reads it), or NULL. */
static const char *find_before_comment(const char *text, const char *chars)
{
    bool after_space = false;

    for (; *text != '\0'; text++) {
        if (strchr(chars, *text) != NULL)
            return text;
        if (after_space && *text == ';')
            return NULL;
        after_space = isspace((unsigned char)*text) != 0;
    }
    return NULL;
}

/* Checks the syntax of a line as libinih r55 reads it, so that a syntax error gets a
 * sentence here instead of libinih's bare line number. Returns NULL or the problem. */
static const char *line_syntax_problem(const char *line, int line_number)
{
    static const char bom[] = "\xEF\xBB\xBF";

    if (line_number == 1 && strncmp(line, bom, 3) == 0)
        line += 3;
    while (isspace((unsigned char)*line))
        line++;
    if (*line == '\0' || *line == ';' || *line == '#')
        return NULL;
    if (*line == '[')
        return find_before_comment(line + 1, "]") != NULL
                   ? NULL
                   : "the section header has no closing ]";
    if (find_before_comment(line, "=:") == NULL)
        return "the line is not a section header, a key = value line or a comment";
    return NULL;
}

/* Stores an error in reader when its line is a section header that names no section the
 * node reads. libinih takes the name between '[' and the first ']' as it is, spaces
 * included, and calls no handler for a section without keys, so such a section would
 * otherwise pass. Returns 0, or -1 after storing the error. */
static int check_section_header(line_reader *reader)
{
    const char *start = reader->line;
    const char *end;
    char *name;
    bool known;

    if (reader->line_number == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0)
        start += 3;
    while (isspace((unsigned char)*start))
        start++;
    if (*start != '[')
        return 0;
    end = find_before_comment(start + 1, "]");
    name = strndup(start + 1, (size_t)(end - start - 1));
    if (name == NULL) {
        snprintf(reader->error, sizeof(reader->error), "%d: out of memory",
                 reader->line_number);
        return -1;
    }
    known = config_section_known(name);
    if (!known)
        snprintf(reader->error, sizeof(reader->error), "%d: unknown section [%.100s]",
                 reader->line_number, name);
    free(name);
    return known ? 0 : -1;
}

char *config_read_line(char *buffer, int size, void *stream)
{
    line_reader *reader = stream;
    const char *problem;
    ssize_t length;

    errno = 0;
    length = getline(&reader->line, &reader->capacity, reader->file);
    if (length < 0) {
        if (ferror(reader->file))
            snprintf(reader->error, sizeof(reader->error), "%d: cannot read the line: %s",
                     reader->line_number + 1, strerror(errno != 0 ? errno : EIO));
        return NULL;
    }
    reader->line_number++;

    if (length > CONFIG_MAX_LINE) {
        snprintf(reader->error, sizeof(reader->error),
                 "%d: the line is %zd bytes long, but at most %d bytes are allowed, "
                 "the line break included",
                 reader->line_number, length, CONFIG_MAX_LINE);
        return NULL;
    }
    if (memchr(reader->line, '\0', (size_t)length) != NULL) {
        snprintf(reader->error, sizeof(reader->error), "%d: the line contains a NUL byte",
                 reader->line_number);
        return NULL;
    }
    problem = line_syntax_problem(reader->line, reader->line_number);
    if (problem != NULL) {
        snprintf(reader->error, sizeof(reader->error), "%d: %s", reader->line_number,
                 problem);
        return NULL;
    }
    if (check_section_header(reader) != 0)
        return NULL;
    /* config_load() sizes libinih's buffer for CONFIG_MAX_LINE, so this check fails only
     * with a libinih version that ignores ini_initial_alloc. */
    if (size <= 0 || length >= size) {
        snprintf(reader->error, sizeof(reader->error),
                 "%d: the line is %zd bytes long, but libinih's line buffer has only %d bytes",
                 reader->line_number, length, size);
        return NULL;
    }

    memcpy(buffer, reader->line, (size_t)length + 1);
    return buffer;
}
