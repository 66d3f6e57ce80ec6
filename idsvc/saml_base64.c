/* Strict standard base64 for assertions and SignatureValue elements. OpenSSL's
 * EVP_DecodeUpdate stops at a '-' and ignores the rest of the input, so the text is
 * checked and compacted here before EVP_DecodeBlock decodes it. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "saml.h"

static bool base64_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool base64_is_alphabet(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* Copies the characters of text other than white space into out, unless out is NULL, and
 * returns their count. Returns -1 when text contains a character outside the alphabet,
 * or a '=' that is not padding at the end. */
static long base64_compact(const char *text, size_t len, char *out, size_t *padding)
{
    size_t count = 0;

    *padding = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        /* The alphabet first, because nearly every character is in it. */
        if (base64_is_alphabet(c)) {
            if (*padding > 0)
                return -1;
        } else if (c == '=') {
            (*padding)++;
        } else if (base64_is_space(c)) {
            continue;
        } else {
            return -1;
        }
        if (out != NULL)
            out[count] = c;
        count++;
    }
    return (long)count;
}

int saml_base64_check(const char *text, size_t len, size_t *out_len)
{
    size_t padding;
    long count = len > INT32_MAX ? -1 : base64_compact(text, len, NULL, &padding);

    /* Each 4 characters are 3 bytes, less the padding, which is never all of them. */
    if (count <= 0 || count % 4 != 0 || padding > 2)
        return -1;
    *out_len = (size_t)count / 4 * 3 - padding;
    return 0;
}

unsigned char *saml_base64_decode(const char *text, size_t len, size_t *out_len)
{
    char *compact = malloc(len + 1);
    unsigned char *out = malloc(len / 4 * 3 + 4);
    size_t padding;
    long count;
    int decoded;

    if (compact == NULL || out == NULL || len > INT32_MAX)
        goto fail;
    count = base64_compact(text, len, compact, &padding);
    if (count <= 0 || count % 4 != 0 || padding > 2)
        goto fail;

    /* EVP_DecodeBlock counts each '=' as a zero byte, so the padding is taken off. */
    decoded = EVP_DecodeBlock(out, (const unsigned char *)compact, (int)count);
    if (decoded < 0 || (size_t)decoded <= padding)
        goto fail;
    *out_len = (size_t)decoded - padding;
    out[*out_len] = '\0';
    free(compact);
    return out;
fail:
    free(compact);
    free(out);
    return NULL;
}
