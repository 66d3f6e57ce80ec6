/* Strict reading of PEM trust files. pem_file.h states what a file may contain. */
#include "pem_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#define BEGIN_PREFIX "-----BEGIN "
#define END_PREFIX "-----END "
#define DASHES "-----"

/* One decoded block, handed to the caller's visitor. */
typedef struct pem_block {
    const char *label; /* such as CERTIFICATE */
    const unsigned char *der;
    long der_len;
    size_t number; /* counts from 1 in file order */
    size_t line;   /* the line of its BEGIN line */
} pem_block;

typedef int (*block_visitor)(void *ctx, const char *path, const pem_block *block,
                             char *error, size_t error_size);

FILE *pem_file_open_regular(const char *path, char *error, size_t error_size)
{
    /* O_NONBLOCK makes the open of a FIFO return at once; it is cleared for the reads. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    FILE *file;

    if (fd < 0) {
        snprintf(error, error_size, "%s: cannot open the file: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(error, error_size, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0 ||
        (file = fdopen(fd, "rb")) == NULL) {
        snprintf(error, error_size, "%s: cannot open the file: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    return file;
}

/* Reads the whole file, up to PEM_FILE_MAX_BYTES, into *text as a NUL-terminated string.
 * Returns 0 or a PEM_FILE_ status. */
static int read_text(const char *path, char **text, size_t *len, char *error,
                     size_t error_size)
{
    FILE *file = pem_file_open_regular(path, error, error_size);
    size_t used;
    int rc;

    *text = NULL;
    if (file == NULL)
        return PEM_FILE_UNREADABLE;
    *text = malloc(PEM_FILE_MAX_BYTES + 2);
    if (*text == NULL) {
        fclose(file);
        snprintf(error, error_size, "%s: out of memory", path);
        return PEM_FILE_NO_MEMORY;
    }
    used = fread(*text, 1, PEM_FILE_MAX_BYTES + 1, file);
    if (ferror(file) || used > PEM_FILE_MAX_BYTES) {
        rc = ferror(file) ? PEM_FILE_UNREADABLE : PEM_FILE_INVALID;
        snprintf(error, error_size,
                 ferror(file) ? "%s: cannot read the file" : "%s: larger than %u bytes",
                 path, PEM_FILE_MAX_BYTES);
        fclose(file);
        free(*text);
        *text = NULL;
        return rc;
    }
    fclose(file);
    (*text)[used] = '\0';
    *len = used;
    return 0;
}

/* Returns the label of a "-----BEGIN X-----" or "-----END X-----" line in label, or
 * false when line, of len bytes without its line break, is no such line. */
static bool boundary_label(const char *line, size_t len, const char *prefix, char *label,
                           size_t label_size)
{
    size_t prefix_len = strlen(prefix);
    size_t dashes_len = strlen(DASHES);
    size_t label_len;

    if (len < prefix_len + dashes_len || strncmp(line, prefix, prefix_len) != 0 ||
        strncmp(line + len - dashes_len, DASHES, dashes_len) != 0)
        return false;
    label_len = len - prefix_len - dashes_len;
    if (label_len == 0 || label_len >= label_size)
        return false;
    memcpy(label, line + prefix_len, label_len);
    label[label_len] = '\0';
    return true;
}

/* Decodes the block text from its BEGIN line to its END line with OpenSSL's PEM reader,
 * which checks the base64. */
static int decode_block(const char *path, const char *start, size_t len, pem_block *block,
                        block_visitor visit, void *ctx, char *error, size_t error_size)
{
    char *copy = malloc(len + 2);
    BIO *bio = NULL;
    char *name = NULL;
    char *header = NULL;
    unsigned char *data = NULL;
    long data_len = 0;
    int rc = PEM_FILE_INVALID;

    if (copy == NULL) {
        snprintf(error, error_size, "%s: out of memory", path);
        return PEM_FILE_NO_MEMORY;
    }
    /* A final END line may lack its line break, which the PEM reader needs. */
    memcpy(copy, start, len);
    copy[len] = '\n';
    copy[len + 1] = '\0';
    bio = BIO_new_mem_buf(copy, (int)(len + 1));
    if (bio == NULL || PEM_read_bio(bio, &name, &header, &data, &data_len) != 1) {
        snprintf(error, error_size,
                 "%s: line %zu: the %s block's base64 body cannot be decoded", path,
                 block->line, block->label);
        goto out;
    }
    if (header[0] != '\0') {
        snprintf(error, error_size,
                 "%s: line %zu: the %s block has headers, such as those of an encrypted "
                 "block; a trust file holds only plain certificates and public keys",
                 path, block->line, block->label);
        goto out;
    }
    block->der = data;
    block->der_len = data_len;
    rc = visit(ctx, path, block, error, error_size);
out:
    ERR_clear_error();
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(bio);
    free(copy);
    return rc;
}

/* The state of read_blocks between lines: the open block, if any, and the count. */
typedef struct block_scan {
    const char *path;
    block_visitor visit;
    void *ctx;
    char *error;
    size_t error_size;
    const char *block_start; /* NULL between blocks */
    char open_label[64];
    pem_block block;
    size_t count;
} block_scan;

/* Trims spaces, tabs and a carriage return from both ends of a line. */
static void trim_line(const char **content, size_t *len)
{
    while (*len > 0 && (**content == ' ' || **content == '\t')) {
        (*content)++;
        (*len)--;
    }
    while (*len > 0 && ((*content)[*len - 1] == '\r' || (*content)[*len - 1] == ' ' ||
                        (*content)[*len - 1] == '\t'))
        (*len)--;
}

/* Reads a line between blocks: a BEGIN line opens a block, and only blank lines may
 * stand between blocks. */
static int scan_outside(block_scan *scan, const char *line, const char *content,
                        size_t len, size_t line_number)
{
    if (boundary_label(content, len, BEGIN_PREFIX, scan->open_label,
                       sizeof(scan->open_label))) {
        scan->block_start = line;
        scan->block = (pem_block){.label = scan->open_label, .line = line_number};
        return 0;
    }
    if (len == 0)
        return 0;
    snprintf(scan->error, scan->error_size,
             "%s: line %zu: text outside a PEM block; a trust file may hold "
             "only PEM blocks and blank lines",
             scan->path, line_number);
    return PEM_FILE_INVALID;
}

/* Reads a line inside a block: a matching END line closes and decodes the block. */
static int scan_inside(block_scan *scan, const char *line_end, const char *content,
                       size_t len)
{
    char label[64];
    int rc;

    if (boundary_label(content, len, BEGIN_PREFIX, label, sizeof(label))) {
        snprintf(scan->error, scan->error_size,
                 "%s: line %zu: the %s block has no END line before the next BEGIN "
                 "line; the block is truncated",
                 scan->path, scan->block.line, scan->open_label);
        return PEM_FILE_INVALID;
    }
    if (!boundary_label(content, len, END_PREFIX, label, sizeof(label)))
        return 0;
    if (strcmp(label, scan->open_label) != 0) {
        snprintf(scan->error, scan->error_size,
                 "%s: line %zu: the %s block ends with END %s", scan->path,
                 scan->block.line, scan->open_label, label);
        return PEM_FILE_INVALID;
    }
    scan->block.number = ++scan->count;
    rc = decode_block(scan->path, scan->block_start,
                      (size_t)(line_end - scan->block_start), &scan->block, scan->visit,
                      scan->ctx, scan->error, scan->error_size);
    scan->block_start = NULL;
    return rc;
}

/* Checks that the file ended outside a block and held at least one. */
static int scan_end(const block_scan *scan)
{
    if (scan->block_start != NULL) {
        snprintf(scan->error, scan->error_size,
                 "%s: line %zu: the %s block has no END line; the file is truncated",
                 scan->path, scan->block.line, scan->open_label);
        return PEM_FILE_INVALID;
    }
    if (scan->count == 0) {
        snprintf(scan->error, scan->error_size, "%s: no PEM block found", scan->path);
        return PEM_FILE_INVALID;
    }
    return 0;
}

/*
 * Calls visit on each block of path in file order. Fails on the first text outside a
 * block, on a block without its END line, and on a file with no block. Returns 0 or a
 * PEM_FILE_ status.
 */
static int read_blocks(const char *path, block_visitor visit, void *ctx, char *error,
                       size_t error_size)
{
    block_scan scan = {.path = path,
                       .visit = visit,
                       .ctx = ctx,
                       .error = error,
                       .error_size = error_size};
    size_t text_len = 0;
    char *text = NULL;
    size_t line_number = 0;
    int rc = read_text(path, &text, &text_len, error, error_size);

    if (rc != 0)
        return rc;
    for (const char *line = text; rc == 0 && line < text + text_len;) {
        const char *next = memchr(line, '\n', (size_t)(text + text_len - line));
        const char *line_end = next != NULL ? next : text + text_len;
        const char *content = line;
        size_t len = (size_t)(line_end - line);

        line_number++;
        trim_line(&content, &len);
        if (scan.block_start == NULL)
            rc = scan_outside(&scan, line, content, len, line_number);
        else
            rc = scan_inside(&scan, line_end, content, len);
        line = next != NULL ? next + 1 : text + text_len;
    }
    if (rc == 0)
        rc = scan_end(&scan);
    free(text);
    return rc;
}

/* Parses a CERTIFICATE block's DER, which must hold exactly one certificate. */
static X509 *block_certificate(const pem_block *block)
{
    const unsigned char *p = block->der;
    X509 *cert = d2i_X509(NULL, &p, block->der_len);

    if (cert != NULL && p != block->der + block->der_len) {
        X509_free(cert);
        cert = NULL;
    }
    return cert;
}

/* Parses a PUBLIC KEY block (SubjectPublicKeyInfo) or an RSA PUBLIC KEY block (PKCS#1
 * RSAPublicKey, RFC 8017 appendix A.1.1), which must hold exactly one key. */
static EVP_PKEY *block_bare_key(const pem_block *block)
{
    const unsigned char *p = block->der;
    EVP_PKEY *key;

    if (strcmp(block->label, "RSA PUBLIC KEY") == 0)
        key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, block->der_len);
    else
        key = d2i_PUBKEY(NULL, &p, block->der_len);
    if (key != NULL && p != block->der + block->der_len) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    return key;
}

static EVP_PKEY *block_public_key(const pem_block *block)
{
    EVP_PKEY *key = NULL;
    X509 *cert;

    if (strcmp(block->label, "CERTIFICATE") != 0)
        return block_bare_key(block);
    cert = block_certificate(block);
    if (cert != NULL)
        key = X509_get_pubkey(cert);
    X509_free(cert);
    return key;
}

typedef struct key_list {
    EVP_PKEY **keys;
    size_t count;
} key_list;

static int add_key(void *ctx, const char *path, const pem_block *block, char *error,
                   size_t error_size)
{
    key_list *list = ctx;
    EVP_PKEY **grown;
    EVP_PKEY *key;

    if (strcmp(block->label, "CERTIFICATE") != 0 && strcmp(block->label, "PUBLIC KEY") != 0 &&
        strcmp(block->label, "RSA PUBLIC KEY") != 0) {
        snprintf(error, error_size,
                 "%s: line %zu: block %zu has the label %s, but a trust file holds only "
                 "CERTIFICATE, PUBLIC KEY and RSA PUBLIC KEY blocks",
                 path, block->line, block->number, block->label);
        return PEM_FILE_INVALID;
    }
    key = block_public_key(block);
    if (key == NULL) {
        ERR_clear_error();
        snprintf(error, error_size, "%s: line %zu: the %s block (block %zu) is not valid",
                 path, block->line, block->label, block->number);
        return PEM_FILE_INVALID;
    }
    grown = realloc(list->keys, (list->count + 1) * sizeof(*grown));
    if (grown == NULL) {
        EVP_PKEY_free(key);
        snprintf(error, error_size, "%s: out of memory", path);
        return PEM_FILE_NO_MEMORY;
    }
    list->keys = grown;
    list->keys[list->count++] = key;
    return 0;
}

int pem_read_public_keys(const char *path, EVP_PKEY ***keys, size_t *count, char *error,
                         size_t error_size)
{
    key_list list = {0};
    int rc;

    *keys = NULL;
    *count = 0;
    rc = read_blocks(path, add_key, &list, error, error_size);
    if (rc != 0) {
        pem_keys_free(&list.keys, list.count);
        return rc;
    }
    *keys = list.keys; /* ownership passes to the caller */
    *count = list.count;
    return 0;
}

void pem_keys_free(EVP_PKEY ***keys, size_t count)
{
    if (keys == NULL || *keys == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        EVP_PKEY_free((*keys)[i]);
    free(*keys);
    *keys = NULL;
}

typedef struct certificate_list {
    X509 **certs;
    size_t count;
} certificate_list;

static int add_certificate(void *ctx, const char *path, const pem_block *block,
                           char *error, size_t error_size)
{
    certificate_list *list = ctx;
    X509 **grown;
    X509 *cert;

    if (strcmp(block->label, "CERTIFICATE") != 0) {
        snprintf(error, error_size,
                 "%s: line %zu: block %zu has the label %s, but this file holds only "
                 "CERTIFICATE blocks",
                 path, block->line, block->number, block->label);
        return PEM_FILE_INVALID;
    }
    cert = block_certificate(block);
    if (cert == NULL) {
        ERR_clear_error();
        snprintf(error, error_size,
                 "%s: line %zu: the CERTIFICATE block (block %zu) is not valid", path,
                 block->line, block->number);
        return PEM_FILE_INVALID;
    }
    grown = realloc(list->certs, (list->count + 1) * sizeof(*grown));
    if (grown == NULL) {
        X509_free(cert);
        snprintf(error, error_size, "%s: out of memory", path);
        return PEM_FILE_NO_MEMORY;
    }
    list->certs = grown;
    list->certs[list->count++] = cert;
    return 0;
}

int pem_read_certificates(const char *path, X509 ***certs, size_t *count, char *error,
                          size_t error_size)
{
    certificate_list list = {0};
    int rc;

    *certs = NULL;
    *count = 0;
    rc = read_blocks(path, add_certificate, &list, error, error_size);
    if (rc != 0) {
        pem_certificates_free(&list.certs, list.count);
        return rc;
    }
    *certs = list.certs; /* ownership passes to the caller */
    *count = list.count;
    return 0;
}

void pem_certificates_free(X509 ***certs, size_t count)
{
    if (certs == NULL || *certs == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        X509_free((*certs)[i]);
    free(*certs);
    *certs = NULL;
}
