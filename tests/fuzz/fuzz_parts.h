/*
 * Splits a fuzz input into byte strings: each part but the last is a two-byte
 * big-endian length followed by that many bytes (fewer when the input ends first), and
 * the last part is the rest of the input. fuzz_webauthn_seeds writes inputs this way.
 */
#ifndef IDSVC_FUZZ_PARTS_H
#define IDSVC_FUZZ_PARTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct fuzz_part {
    const uint8_t *data;
    size_t size;
} fuzz_part;

static inline void fuzz_split(const uint8_t *data, size_t size, fuzz_part *parts,
                              size_t count)
{
    for (size_t i = 0; i + 1 < count; i++) {
        size_t length = 0;

        if (size >= 2) {
            length = (size_t)data[0] << 8 | data[1];
            data += 2;
            size -= 2;
        } else {
            data += size;
            size = 0;
        }
        if (length > size)
            length = size;
        parts[i].data = data;
        parts[i].size = length;
        data += length;
        size -= length;
    }
    parts[count - 1].data = data;
    parts[count - 1].size = size;
}

#endif
