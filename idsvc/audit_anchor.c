/* The audit anchor's text, its comparison with the log, and its object in the HSM. */
#include "audit_anchor.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "p11.h"

#define LOG_ID_LABEL "idsvc-audit-log-id/v1"

void audit_anchor_clear(audit_anchor *anchor)
{
    free(anchor->previous_text);
    audit_checkpoint_clear(&anchor->checkpoint);
    memset(anchor, 0, sizeof(*anchor));
}

int audit_anchor_log_id(const unsigned char secret[32], char out[65])
{
    static const unsigned char label[] = LOG_ID_LABEL; /* with its terminating zero */
    audit_merkle_hash digest;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, label, sizeof(label)) == 1 &&
             EVP_DigestUpdate(ctx, secret, 32) == 1 &&
             EVP_DigestFinal_ex(ctx, digest.bytes, NULL) == 1;

    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    audit_hash_hex(&digest, out);
    return 0;
}

static char *concat(const char *first, const char *second)
{
    size_t first_len = strlen(first);
    size_t second_len = strlen(second);
    char *text = malloc(first_len + second_len + 1);

    if (text == NULL)
        return NULL;
    memcpy(text, first, first_len);
    memcpy(text + first_len, second, second_len + 1);
    return text;
}

char *audit_anchor_format(const char *log_id, uint64_t generation,
                          const char *checkpoint_body)
{
    char head[sizeof(AUDIT_ANCHOR_HEADER) + 112];

    snprintf(head, sizeof(head), AUDIT_ANCHOR_HEADER "\nlog %s\ngeneration %" PRIu64 "\n",
             log_id, generation);
    return concat(head, checkpoint_body);
}

static void format_time(time_t when, char out[32])
{
    struct tm tm;

    gmtime_r(&when, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *audit_anchor_format_reset(const char *previous, uint64_t generation, time_t reset_at)
{
    char head[sizeof(AUDIT_ANCHOR_RESET_HEADER) + 80];
    char when[32];

    format_time(reset_at, when);
    snprintf(head, sizeof(head),
             AUDIT_ANCHOR_RESET_HEADER "\ntime %s\ngeneration %" PRIu64 "\n", when,
             generation);
    return concat(head, previous);
}

/* Takes "HEADER\n" from the front of *cursor. */
static bool take_header(const char **cursor, const char *header)
{
    size_t len = strlen(header);

    if (strncmp(*cursor, header, len) != 0 || (*cursor)[len] != '\n')
        return false;
    *cursor += len + 1;
    return true;
}

/* Copies the value of "name VALUE\n" at *cursor into out, of out_size bytes at most
 * with its terminating zero, and moves past the line. */
static bool take_value(const char **cursor, const char *name, char *out, size_t out_size)
{
    size_t name_len = strlen(name);
    const char *value = *cursor + name_len + 1;
    const char *end;

    if (strncmp(*cursor, name, name_len) != 0 || (*cursor)[name_len] != ' ')
        return false;
    end = strchr(value, '\n');
    if (end == NULL || (size_t)(end - value) >= out_size)
        return false;
    memcpy(out, value, (size_t)(end - value));
    out[end - value] = '\0';
    *cursor = end + 1;
    return true;
}

/* Reads an optional "generation N\n" line, of decimal digits without a leading zero;
 * *out stays 0 without one. Returns false for a generation line that is malformed. */
static bool take_generation(const char **cursor, uint64_t *out)
{
    char digits[24];
    char *end = NULL;

    *out = 0;
    if (strncmp(*cursor, "generation ", 11) != 0)
        return true;
    if (!take_value(cursor, "generation", digits, sizeof(digits)) || digits[0] == '\0' ||
        (digits[0] == '0' && digits[1] != '\0') || strspn(digits, "0123456789") !=
                                                      strlen(digits))
        return false;
    errno = 0;
    *out = strtoull(digits, &end, 10);
    return *end == '\0' && errno != ERANGE && *out != UINT64_MAX; /* room for the next */
}

static bool is_lower_hex(const char *text, size_t len)
{
    if (strlen(text) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
            return false;
    return true;
}

static int parse_plain(const char *text, audit_anchor *out)
{
    const char *cursor = text;

    if (!take_header(&cursor, AUDIT_ANCHOR_HEADER) ||
        !take_value(&cursor, "log", out->log_id, sizeof(out->log_id)) ||
        !is_lower_hex(out->log_id, 64) || !take_generation(&cursor, &out->generation))
        return -1;
    if (audit_checkpoint_parse(cursor, &out->checkpoint) != 0)
        return -1;
    out->checkpoint.body = strdup(cursor);
    return out->checkpoint.body != NULL ? 0 : -1;
}

int audit_anchor_parse(const char *text, audit_anchor *out)
{
    const char *cursor = text;
    uint64_t generation = 0;
    char when[32];

    memset(out, 0, sizeof(*out));
    if (!take_header(&cursor, AUDIT_ANCHOR_RESET_HEADER)) {
        if (parse_plain(text, out) == 0)
            return 0;
        audit_anchor_clear(out);
        return -1;
    }

    out->reset = true;
    if (!take_value(&cursor, "time", when, sizeof(when)) ||
        audit_time_parse(when, &out->reset_at) != 0 ||
        !take_generation(&cursor, &generation) ||
        (out->previous_text = strdup(cursor)) == NULL) {
        audit_anchor_clear(out);
        return -1;
    }
    /* A marker may keep a previous text that is no anchor, so that an operator can
     * reset an unreadable anchor too. */
    out->previous_parsed = parse_plain(cursor, out) == 0;
    if (!out->previous_parsed) {
        audit_checkpoint_clear(&out->checkpoint);
        out->log_id[0] = '\0';
    }
    out->generation = generation; /* the marker's, not the previous anchor's */
    return 0;
}

/* Parses len bytes of an object's value, which carries no terminating zero. */
static int parse_bytes(const unsigned char *value, size_t len, audit_anchor *out)
{
    char *text = strndup((const char *)value, len);
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (text != NULL && strlen(text) == len)
        rc = audit_anchor_parse(text, out);
    free(text);
    return rc;
}

static bool marker_keeps(const audit_anchor *marker, const unsigned char *value, size_t len)
{
    return strlen(marker->previous_text) == len &&
           memcmp(marker->previous_text, value, len) == 0;
}

static bool judge_newer(const audit_anchor *candidate, const unsigned char *candidate_value,
                        size_t candidate_len, const audit_anchor *current,
                        const unsigned char *current_value, size_t current_len)
{
    /* Each write takes the generation after the one it replaced, so the largest is the
     * last written whatever order the token lists the objects in. The rules below only
     * order texts of one generation, such as those written before generations. */
    if (candidate->generation != current->generation)
        return candidate->generation > current->generation;
    if (candidate->reset && current->reset)
        return candidate->reset_at > current->reset_at;
    if (candidate->reset)
        return marker_keeps(candidate, current_value, current_len);
    if (current->reset)
        return !marker_keeps(current, candidate_value, candidate_len);
    return candidate->checkpoint.head.size > current->checkpoint.head.size;
}

bool audit_anchor_newer(const unsigned char *candidate, size_t candidate_len,
                        const unsigned char *current, size_t current_len, void *ctx)
{
    audit_anchor parsed_candidate;
    audit_anchor parsed_current;
    bool newer = false;

    (void)ctx;
    if (parse_bytes(candidate, candidate_len, &parsed_candidate) != 0)
        return false;
    if (parse_bytes(current, current_len, &parsed_current) != 0)
        newer = true;
    else
        newer = judge_newer(&parsed_candidate, candidate, candidate_len, &parsed_current,
                            current, current_len);
    audit_anchor_clear(&parsed_candidate);
    audit_anchor_clear(&parsed_current);
    return newer;
}

/* The daemon's log caps a value at 256 bytes (LOG_VALUE_MAX), so the sentences below
 * show the first 16 hex digits of each hash; 'idsvc-admin audit anchor show' prints the
 * whole anchor. */
#define REMEDY ". Restore the latest database, or keep it with 'idsvc-admin audit anchor reset --config FILE'"

int audit_anchor_compare(const audit_anchor *anchor, const char *log_id,
                         const audit_merkle_source *source, const audit_merkle_tree_head *head,
                         char *error, size_t error_size)
{
    const audit_merkle_tree_head *anchored = &anchor->checkpoint.head;
    audit_merkle_tree_head computed;
    char anchor_root[65];
    char computed_root[65];

    if (strcmp(anchor->log_id, log_id) != 0) {
        snprintf(error, error_size,
                 "the audit anchor in the HSM is for log ID %.16s..., but the database has "
                 "%.16s..., so the database was replaced" REMEDY,
                 anchor->log_id, log_id);
        return -1;
    }
    if (head->size < anchored->size) {
        snprintf(error, error_size,
                 "the audit anchor in the HSM records %" PRIu64 " entries, but the log has "
                 "%" PRIu64 "; it was truncated or restored from an older copy" REMEDY,
                 anchored->size, head->size);
        return -1;
    }
    audit_hash_hex(&anchored->root, anchor_root);
    if (audit_merkle_tree_head_compute(source, anchored->size, &computed) != AUDIT_MERKLE_OK) {
        snprintf(error, error_size,
                 "the first %" PRIu64 " audit entries, which the audit anchor in the HSM "
                 "records, cannot be read; run 'idsvc-admin audit verify'",
                 anchored->size);
        return -1;
    }
    audit_hash_hex(&computed.root, computed_root);
    if (strcmp(anchor_root, computed_root) != 0) {
        snprintf(error, error_size,
                 "the audit anchor in the HSM records root %.16s... for the first %" PRIu64
                 " entries, but they hash to %.16s...; the database was edited" REMEDY,
                 anchor_root, anchored->size, computed_root);
        return -1;
    }
    return 0;
}

int audit_anchor_p11_read(audit_anchor_p11 *anchor, char **text, char *error,
                          size_t error_size)
{
    unsigned char *value = NULL;
    size_t len = 0;
    p11_error err = {0};

    *text = NULL;
    if (p11_data_read(anchor->token, AUDIT_ANCHOR_LABEL, anchor->application,
                      audit_anchor_newer, NULL, &value, &len, &err) != 0) {
        snprintf(error, error_size, "%s", err.message);
        return -1;
    }
    if (value == NULL)
        return 0;
    *text = strndup((const char *)value, len);
    free(value);
    if (*text == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    return 0;
}

int audit_anchor_p11_write(audit_anchor_p11 *anchor, const char *text, char *error,
                           size_t error_size)
{
    p11_error err = {0};

    if (p11_data_write(anchor->token, AUDIT_ANCHOR_LABEL, anchor->application,
                       (const unsigned char *)text, strlen(text), &err) != 0) {
        snprintf(error, error_size, "%s", err.message);
        return -1;
    }
    return 0;
}

static int read_from_p11(void *ctx, char **text, char *error, size_t error_size)
{
    return audit_anchor_p11_read(ctx, text, error, error_size);
}

static int write_to_p11(void *ctx, const char *text, char *error, size_t error_size)
{
    return audit_anchor_p11_write(ctx, text, error, error_size);
}

void audit_signer_set_p11_anchor(audit_signer *signer, audit_anchor_p11 *anchor)
{
    signer->anchor_read = read_from_p11;
    signer->anchor_write = write_to_p11;
    signer->anchor_ctx = anchor;
}
