#include "number_arg.h"

#include <inttypes.h>
#include <stdio.h>

int admin_read_number(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t value = 0;
    const char *digit = text;

    /* strtoull would accept leading spaces, a sign and a suffix, and wraps "-1". */
    for (; *digit >= '0' && *digit <= '9'; digit++) {
        unsigned next = (unsigned)(*digit - '0');

        if (value > (UINT64_MAX - next) / 10)
            break;
        value = value * 10 + next;
    }
    if (digit == text || *digit != '\0' || value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

int admin_parse_number(const char *program, const char *name, const char *text,
                       uint64_t min, uint64_t max, uint64_t *out)
{
    if (admin_read_number(text, min, max, out) == 0)
        return 0;
    fprintf(stderr, "%s: %s must be a whole number from %" PRIu64 " to %" PRIu64
            ", not \"%s\"\n", program, name, min, max, text);
    return -1;
}
