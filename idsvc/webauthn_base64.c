/* Strict base64url (RFC 4648 section 5), the encoding of WebAuthn JSON, unpadded or with
 * the padding that some encoders add. */
#include <stdlib.h>
#include <string.h>

#include "webauthn_internal.h"

static const char base64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int base64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int webauthn_base64url_decode(const char *text, size_t text_len, unsigned char **out,
                              size_t *out_len)
{
    unsigned char *bytes = NULL;
    size_t count = 0;
    uint32_t bits = 0;
    unsigned bit_count = 0;

    *out = NULL;
    *out_len = 0;

    /* One leftover character carries only 6 bits, which is never a whole byte. */
    if (text_len % 4 == 1)
        return -1;

    bytes = malloc(text_len * 3 / 4 + 1);
    if (bytes == NULL)
        return -1;

    for (size_t i = 0; i < text_len; i++) {
        int value = base64url_value(text[i]);

        if (value < 0)
            goto fail;
        bits = (bits << 6) | (uint32_t)value;
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            bytes[count++] = (unsigned char)(bits >> bit_count);
            bits &= (1u << bit_count) - 1;
        }
    }

    /* Unused low bits must be zero, so that each byte string has one encoding. */
    if (bits != 0)
        goto fail;

    *out = bytes;
    *out_len = count;
    return 0;

fail:
    free(bytes);
    return -1;
}

int webauthn_base64url_decode_padded(const char *text, size_t text_len, unsigned char **out,
                                     size_t *out_len)
{
    size_t pad = 0;

    while (pad < 2 && pad < text_len && text[text_len - 1 - pad] == '=')
        pad++;
    /* Padding fills the last group to 4 characters: "==" after 2, "=" after 3. */
    if (pad > 0 && (text_len % 4 != 0 || (text_len - pad) % 4 != 4 - pad)) {
        *out = NULL;
        *out_len = 0;
        return -1;
    }
    return webauthn_base64url_decode(text, text_len - pad, out, out_len);
}

int webauthn_base64url_encode(const unsigned char *data, size_t len, char **out)
{
    char *text;
    size_t pos = 0;
    size_t i;

    *out = NULL;
    text = malloc(len / 3 * 4 + 5);
    if (text == NULL)
        return -1;

    for (i = 0; i + 2 < len; i += 3) {
        uint32_t group =
            (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];

        text[pos++] = base64url_alphabet[(group >> 18) & 63];
        text[pos++] = base64url_alphabet[(group >> 12) & 63];
        text[pos++] = base64url_alphabet[(group >> 6) & 63];
        text[pos++] = base64url_alphabet[group & 63];
    }

    if (len - i == 1) {
        uint32_t group = (uint32_t)data[i] << 16;

        text[pos++] = base64url_alphabet[(group >> 18) & 63];
        text[pos++] = base64url_alphabet[(group >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t group = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;

        text[pos++] = base64url_alphabet[(group >> 18) & 63];
        text[pos++] = base64url_alphabet[(group >> 12) & 63];
        text[pos++] = base64url_alphabet[(group >> 6) & 63];
    }

    text[pos] = '\0';
    *out = text;
    return 0;
}
