/*
 * Signed bundles and the node's loader, with regulator keys in a fresh SoftHSM2 token.
 * A signed set loads, and its decisions name every bundle's id, version and digest. An
 * unsigned, tampered, expired, not yet effective, wrongly signed or DER-encoded bundle
 * is rejected with its code, and the store keeps the set it had. With keys bound to
 * regulators, a bundle signed by a key bound to another kind or jurisdiction is
 * rejected as key_not_authorised. Sets swap atomically while other threads evaluate.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "p11.h"
#include "policy_internal.h"
#include "test_token.h"

static const char *const bundle_names[] = {
    "asean-cn-base", "residency-bn", "residency-cn", "residency-id",
    "residency-kh",  "residency-la", "residency-mm", "residency-my",
    "residency-ph",  "residency-sg", "residency-th", "residency-vn",
};
#define BUNDLE_COUNT (sizeof(bundle_names) / sizeof(bundle_names[0]))

typedef struct fixture {
    test_token token;
    p11_token *p11;
    p11_key *ec_key;    /* trusted */
    p11_key *rsa_key;   /* trusted */
    p11_key *rogue_key; /* not in the trust list */
    p11_key *sg_key;    /* bound to SG in bound_store */
    p11_key *th_key;    /* bound to TH in bound_store */
    char trust_path[PATH_MAX + 32];
    char sg_signed_path[PATH_MAX + 64]; /* residency-sg signed with sg_key */
    char signed_dir[PATH_MAX + 32];
    char paths[BUNDLE_COUNT][PATH_MAX + 64];
    const char *path_list[BUNDLE_COUNT];
    time_t now;
} fixture;

static char *source_bundle(const char *name, size_t *len)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/policies/%s.xml", getenv("IDSVC_SOURCE_DIR"), name);
    return test_read_file(path, len);
}

/* Kept out of line: once inlined, GCC 12 at -O3 reads the address of out, passed to the
 * signer, as a pointer that outlives this frame (-Wdangling-pointer). */
__attribute__((noinline)) static char *sign_text(const char *xml, p11_key *key)
{
    policy_error err = {0};
    char *out = NULL;
    size_t out_len = 0;

    if (policy_sign_document(xml, strlen(xml), key, "regulator", &out, &out_len, &err) !=
        0)
        fail_msg("signing failed: %s: %s", policy_error_name(err.code), err.message);
    return out;
}

static void write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "wb");

    assert_non_null(file);
    assert_int_equal(fwrite(text, 1, strlen(text), file), strlen(text));
    assert_int_equal(fclose(file), 0);
}

/* Returns text with the first occurrence of from replaced by to; the caller frees it. */
static char *replace_once(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    size_t len = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out;

    assert_non_null(at);
    out = malloc(len);
    snprintf(out, len, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

static p11_key *generate(p11_token *token, p11_key_type type, const char *label,
                         unsigned char id)
{
    p11_error err = {0};
    p11_key *key = NULL;

    if (p11_key_generate(token, type, label, &id, 1, &key, &err) != 0)
        fail_msg("generating %s: %s", label, err.message);
    return key;
}

static void write_trust(fixture *f)
{
    FILE *file = fopen(f->trust_path, "w");
    p11_key *trusted[] = {f->ec_key, f->rsa_key};

    assert_non_null(file);
    for (size_t i = 0; i < 2; i++) {
        EVP_PKEY *pkey = p11_key_get_public(trusted[i], NULL);

        assert_non_null(pkey);
        assert_int_equal(PEM_write_PUBKEY(file, pkey), 1);
        EVP_PKEY_free(pkey);
    }
    assert_int_equal(fclose(file), 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    p11_config config = {0};
    p11_error err = {0};

    if (f == NULL || test_token_create(&f->token) != 0)
        return -1;
    config.module_path = f->token.module_path;
    config.token_label = TEST_TOKEN_LABEL;
    config.pin_file = f->token.pin_path;
    if (p11_token_open(&config, &f->p11, &err) != 0) {
        print_error("token: %s\n", err.message);
        return -1;
    }
    f->ec_key = generate(f->p11, P11_KEY_EC_P256, "regulator-ec", 1);
    f->rsa_key = generate(f->p11, P11_KEY_RSA_2048, "regulator-rsa", 2);
    f->rogue_key = generate(f->p11, P11_KEY_EC_P256, "rogue", 3);
    f->sg_key = generate(f->p11, P11_KEY_EC_P256, "regulator-sg", 4);
    f->th_key = generate(f->p11, P11_KEY_EC_P256, "regulator-th", 5);

    snprintf(f->trust_path, sizeof(f->trust_path), "%s/trust.pem", f->token.dir);
    write_trust(f);
    snprintf(f->signed_dir, sizeof(f->signed_dir), "%s/signed", f->token.dir);
    mkdir(f->signed_dir, 0700);

    /* The base is signed with the RSA key and the residency bundles with the EC key. */
    for (size_t i = 0; i < BUNDLE_COUNT; i++) {
        size_t len = 0;
        char *xml = source_bundle(bundle_names[i], &len);
        char *signed_xml = sign_text(xml, i == 0 ? f->rsa_key : f->ec_key);

        snprintf(f->paths[i], sizeof(f->paths[i]), "%s/%s.xml", f->signed_dir,
                 bundle_names[i]);
        write_text(f->paths[i], signed_xml);
        f->path_list[i] = f->paths[i];
        free(xml);
        free(signed_xml);
    }
    {
        size_t len = 0;
        char *xml = source_bundle("residency-sg", &len);
        char *signed_xml = sign_text(xml, f->sg_key);

        snprintf(f->sg_signed_path, sizeof(f->sg_signed_path),
                 "%s/residency-sg-by-sg.xml", f->signed_dir);
        write_text(f->sg_signed_path, signed_xml);
        free(xml);
        free(signed_xml);
    }
    policy_parse_utc("2026-06-01T00:00:00Z", &f->now);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    p11_key_free(&f->ec_key);
    p11_key_free(&f->rsa_key);
    p11_key_free(&f->rogue_key);
    p11_key_free(&f->sg_key);
    p11_key_free(&f->th_key);
    p11_token_close(&f->p11);
    test_token_destroy(&f->token);
    free(f);
    return 0;
}

static policy_store *new_store(const fixture *f)
{
    policy_trust *trust = NULL;
    policy_store *store = NULL;
    policy_error err = {0};

    if (policy_trust_load(f->trust_path, &trust, &err) != 0)
        fail_msg("trust list: %s", err.message);
    assert_int_equal(policy_trust_count(trust), 2);
    assert_int_equal(policy_store_create(trust, &store, &err), 0);
    return store;
}

static policy_store *loaded_store(const fixture *f)
{
    policy_store *store = new_store(f);
    policy_error err = {0};

    if (policy_store_load(store, f->path_list, BUNDLE_COUNT, f->now, &err) != 0)
        fail_msg("load: %s: %s", policy_error_name(err.code), err.message);
    return store;
}

/* Loads a variant of the base bundle in place of the base, then asserts the error code
 * and that the store still serves the set it had. */
static void assert_refused(const fixture *f, policy_store *store, const char *text,
                           time_t now, policy_error_code expected,
                           const char *message_part)
{
    char path[PATH_MAX + 64];
    const char *paths[BUNDLE_COUNT];
    policy_set *before = policy_store_acquire(store), *after;
    policy_error err = {0};

    snprintf(path, sizeof(path), "%s/variant.xml", f->token.dir);
    write_text(path, text);
    memcpy(paths, f->path_list, sizeof(paths));
    paths[0] = path;

    assert_int_equal(policy_store_load(store, paths, BUNDLE_COUNT, now, &err), -1);
    if (err.code != expected ||
        (message_part != NULL && strstr(err.message, message_part) == NULL))
        fail_msg("expected %s (\"%s\"), got %s: %s", policy_error_name(expected),
                 message_part != NULL ? message_part : "", policy_error_name(err.code),
                 err.message);

    after = policy_store_acquire(store);
    assert_ptr_equal(before, after); /* the store kept its set */
    policy_set_release(&before);
    policy_set_release(&after);
}

static char *signed_base(p11_key *key)
{
    size_t len = 0;
    char *xml = source_bundle("asean-cn-base", &len);
    char *out = sign_text(xml, key);

    free(xml);
    return out;
}

/* ---- Tests
 * ----------------------------------------------------------------------------------- */

static void test_signed_set_loads_and_is_recorded(void **state)
{
    fixture *f = *state;
    policy_store *store = loaded_store(f);
    policy_set *set = policy_store_acquire(store);
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:[s]}, s:s, s:s, s:[s], s:{s:s}, s:s}", "subject_jurisdiction",
        "SG", "relying_party", "jurisdiction", "TH", "transfer_mechanisms", "asean-mcc",
        "purpose", "payment", "assurance", "substantial", "claims", "given_name",
        "values", "given_name", "Mei", "time", "2026-06-01T00:00:00Z");
    policy_decision decision;
    policy_request req;
    policy_error err = {0};
    json_t *out;

    assert_non_null(set);
    assert_int_equal(policy_set_bundle_count(set), BUNDLE_COUNT);

    /* The digest a decision records is the digest of the unsigned source. */
    for (size_t i = 0; i < BUNDLE_COUNT; i++) {
        policy_bundle *source = NULL;
        size_t len = 0;
        char *xml = source_bundle(bundle_names[i], &len);

        assert_int_equal(policy_bundle_parse(xml, len, bundle_names[i], &source, &err),
                         0);
        assert_string_equal(policy_set_bundle_id(set, i), bundle_names[i]);
        assert_int_equal(policy_set_bundle_version(set, i), 1);
        assert_string_equal(policy_set_bundle_digest(set, i),
                            policy_bundle_digest(source));
        policy_bundle_free(&source);
        free(xml);
    }

    json_object_set_new(doc, "retention_days", json_integer(30));
    json_object_set_new(doc, "consent", json_pack("[s]", "explicit"));
    assert_int_equal(policy_request_from_json(set, doc, &req, &err), 0);
    assert_int_equal(policy_evaluate(&req, &decision, &err), 0);
    assert_int_equal(decision.overall, POLICY_PERMIT);
    out = policy_decision_to_json(&decision, &req);
    assert_int_equal(json_array_size(json_object_get(out, "policy")), BUNDLE_COUNT);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(out, "policy"), 0), "digest")),
                        policy_set_bundle_digest(set, 0));

    json_decref(out);
    json_decref(doc);
    policy_set_release(&set);
    policy_store_free(&store);
}

static void test_unsigned_bundle_refused(void **state)
{
    fixture *f = *state;
    policy_store *store = loaded_store(f);
    size_t len = 0;
    char *xml = source_bundle("asean-cn-base", &len);

    assert_refused(f, store, xml, f->now, POLICY_E_UNSIGNED, "not signed");
    free(xml);
    policy_store_free(&store);
}

static void test_tampered_bundle_refused(void **state)
{
    fixture *f = *state;
    policy_store *store = loaded_store(f);
    char *signed_xml = signed_base(f->ec_key);
    char *longer = replace_once(signed_xml, "effectiveUntil=\"2028-01-01T00:00:00Z\"",
                                "effectiveUntil=\"2038-01-01T00:00:00Z\"");
    char *weaker = replace_once(signed_xml, "<Effect>withhold</Effect>",
                                "<Effect>disclose</Effect>");

    assert_refused(f, store, longer, f->now, POLICY_E_SIGNATURE, "digest");
    assert_refused(f, store, weaker, f->now, POLICY_E_SIGNATURE, "digest");
    free(signed_xml);
    free(longer);
    free(weaker);
    policy_store_free(&store);
}

static void test_expired_and_early_bundles_refused(void **state)
{
    fixture *f = *state;
    policy_store *store = loaded_store(f);
    size_t len = 0;
    char *xml = source_bundle("asean-cn-base", &len);
    char *short_lived = replace_once(xml, "effectiveUntil=\"2028-01-01T00:00:00Z\"",
                                     "effectiveUntil=\"2026-03-01T00:00:00Z\"");
    char *signed_short = sign_text(short_lived, f->ec_key);
    char *signed_xml = signed_base(f->ec_key);
    time_t early;

    assert_refused(f, store, signed_short, f->now, POLICY_E_EXPIRED, "expired");
    policy_parse_utc("2025-12-31T23:59:59Z", &early);
    assert_refused(f, store, signed_xml, early, POLICY_E_NOT_YET, "takes effect");

    free(xml);
    free(short_lived);
    free(signed_short);
    free(signed_xml);
    policy_store_free(&store);
}

static void test_wrongly_signed_bundle_refused(void **state)
{
    fixture *f = *state;
    policy_store *store = loaded_store(f);
    char *rogue = signed_base(f->rogue_key);

    assert_refused(f, store, rogue, f->now, POLICY_E_UNTRUSTED, "trust list");
    free(rogue);
    policy_store_free(&store);
}

/* Re-encodes an ECDSA SignatureValue from raw r||s to DER, which XML-DSig forbids. */
static char *der_encoded(const char *signed_xml)
{
    const char *start = strstr(signed_xml, "<ds:SignatureValue>");
    const char *end = strstr(signed_xml, "</ds:SignatureValue>");
    unsigned char raw[128], *der = NULL;
    char value[512], encoded[512], *out;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    int raw_len, der_len;

    assert_non_null(start);
    assert_non_null(end);
    start += strlen("<ds:SignatureValue>");
    snprintf(value, sizeof(value), "%.*s", (int)(end - start), start);
    raw_len = EVP_DecodeBlock(raw, (unsigned char *)value, (int)strlen(value));
    assert_true(raw_len >= 64);
    assert_int_equal(
        ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL)), 1);
    der_len = i2d_ECDSA_SIG(sig, &der);
    assert_true(der_len > 64);
    EVP_EncodeBlock((unsigned char *)encoded, der, der_len);
    out = replace_once(signed_xml, value, encoded);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    return out;
}

static void test_der_ecdsa_signature_refused(void **state)
{
    fixture *f = *state;
    policy_store *store = loaded_store(f);
    char *signed_xml = signed_base(f->ec_key);
    char *der = der_encoded(signed_xml);

    assert_refused(f, store, der, f->now, POLICY_E_SIGNATURE, "r||s");
    free(signed_xml);
    free(der);
    policy_store_free(&store);
}

static void test_misplaced_signature_refused(void **state)
{
    fixture *f = *state;
    policy_store *store = loaded_store(f);
    char *signed_xml = signed_base(f->ec_key);
    const char *sig_start = strstr(signed_xml, "<ds:Signature");
    const char *sig_end =
        strstr(signed_xml, "</ds:Signature>") + strlen("</ds:Signature>");
    char signature[8192], *without, *moved, *twice;

    snprintf(signature, sizeof(signature), "%.*s", (int)(sig_end - sig_start), sig_start);
    without = replace_once(signed_xml, signature, "");

    /* Inside the Title instead of after Rules. */
    {
        char title[9000];

        snprintf(title, sizeof(title), "<Title>%s", signature);
        moved = replace_once(without, "<Title>", title);
    }
    twice = replace_once(signed_xml, "</PolicyBundle>", "");
    {
        size_t len = strlen(twice) + strlen(signature) + 32;
        char *grown = malloc(len);

        snprintf(grown, len, "%s%s</PolicyBundle>\n", twice, signature);
        free(twice);
        twice = grown;
    }

    assert_refused(f, store, moved, f->now, POLICY_E_SIGNATURE, "last child");
    assert_refused(f, store, twice, f->now, POLICY_E_SIGNATURE, "exactly one");
    free(signed_xml);
    free(without);
    free(moved);
    free(twice);
    policy_store_free(&store);
}

static void test_residency_for_another_base_refused(void **state)
{
    fixture *f = *state;
    policy_store *store = loaded_store(f);
    size_t len = 0;
    char *xml = source_bundle("residency-sg", &len);
    char *other = replace_once(xml, "base=\"asean-cn-base\"", "base=\"eu-base\"");
    char *signed_other = sign_text(other, f->ec_key);
    char path[PATH_MAX + 64];
    const char *paths[BUNDLE_COUNT];
    policy_error err = {0};

    snprintf(path, sizeof(path), "%s/other-base.xml", f->token.dir);
    write_text(path, signed_other);
    memcpy(paths, f->path_list, sizeof(paths));
    paths[9] = path; /* residency-sg */
    assert_int_equal(policy_store_load(store, paths, BUNDLE_COUNT, f->now, &err), -1);
    assert_int_equal(err.code, POLICY_E_SET);
    assert_non_null(strstr(err.message, "eu-base"));

    free(xml);
    free(other);
    free(signed_other);
    policy_store_free(&store);
}

/* ---- The checks of policy validate
 * ---------------------------------------------------------- */

/* Returns the base bundle with one more rule: a withhold rule with a derive list, which
 * validate warns about (derive_ignored). legal_basis is its LegalBasis element or "". */
static char *base_with_rule(const char *legal_basis)
{
    size_t len = 0;
    char *xml = source_bundle("asean-cn-base", &len);
    char rule[1024];
    char *out;

    snprintf(rule, sizeof(rule),
             "    <Rule id=\"base.test.derive-ignored\">\n"
             "      <Match scope=\"domestic\"><Claim>national_id</Claim></Match>\n"
             "      <Effect derive=\"age_over_18\">withhold</Effect>\n"
             "      %s\n"
             "      <Summary>A rule of the loader tests.</Summary>\n"
             "    </Rule>\n  </Rules>",
             legal_basis);
    out = replace_once(xml, "  </Rules>", rule);
    free(xml);
    return out;
}

/* The first line of text that contains needle, counted from 1. */
static int line_in(const char *text, const char *needle)
{
    const char *at = strstr(text, needle);
    int line = 1;

    assert_non_null(at);
    for (const char *c = text; c < at; c++)
        line += *c == '\n';
    return line;
}

typedef struct warnings_seen {
    char codes[8][40];
    int lines[8];
    size_t count;
} warnings_seen;

static void record_warning(void *ctx, const char *code, const char *path, int line,
                           const char *message)
{
    warnings_seen *seen = ctx;

    assert_non_null(strstr(path, "checked-base.xml"));
    assert_non_null(message);
    if (seen->count < 8) {
        snprintf(seen->codes[seen->count], sizeof(seen->codes[0]), "%s", code);
        seen->lines[seen->count++] = line;
    }
}

/* Loads the fixture's bundles with text, signed, in place of the base. Sets *rule_line
 * to the line of rule base.test.derive-ignored in the signed document, whose lines
 * differ from text's because the signer writes the document anew. */
static int load_checked_base(const fixture *f, policy_store *store, const char *text,
                             warnings_seen *seen, int *rule_line, policy_error *err)
{
    char path[PATH_MAX + 64];
    const char *paths[BUNDLE_COUNT];
    char *signed_xml = sign_text(text, f->ec_key);
    policy_load_input input = {.paths = paths,
                               .count = BUNDLE_COUNT,
                               .now = f->now,
                               .warn = record_warning,
                               .warn_ctx = seen};
    int rc;

    snprintf(path, sizeof(path), "%s/checked-base.xml", f->token.dir);
    write_text(path, signed_xml);
    memcpy(paths, f->path_list, sizeof(paths));
    paths[0] = path;
    rc = policy_store_load_from(store, &input, err);
    *rule_line = line_in(signed_xml, "<Rule id=\"base.test.derive-ignored\"");
    free(signed_xml);
    return rc;
}

/* A warning of validate's checks goes to the callback and the set loads. */
static void test_check_warning_reported(void **state)
{
    fixture *f = *state;
    policy_store *store = new_store(f);
    char *text =
        base_with_rule("<LegalBasis instrument=\"Test instrument\" provision=\"s 1\"/>");
    warnings_seen seen = {0};
    policy_error err = {0};
    size_t found = 0;
    int rule_line = 0;

    if (load_checked_base(f, store, text, &seen, &rule_line, &err) != 0)
        fail_msg("load: %s: %s", policy_error_code_of(&err), err.message);
    free(text);
    for (size_t i = 0; i < seen.count; i++) {
        if (strcmp(seen.codes[i], "derive_ignored") != 0)
            continue;
        found++;
        assert_int_equal(seen.lines[i], rule_line);
    }
    assert_int_equal(found, 1);
    policy_store_free(&store);
}

/* An error of validate's checks fails the load with the finding's code and line, and
 * the store keeps its set. */
static void test_check_error_rejected(void **state)
{
    fixture *f = *state;
    policy_store *store = loaded_store(f);
    policy_set *before = policy_store_acquire(store), *after;
    char *text = base_with_rule("");
    warnings_seen seen = {0};
    policy_error err = {0};
    int rule_line = 0;
    char where[64];

    assert_int_equal(load_checked_base(f, store, text, &seen, &rule_line, &err), -1);
    free(text);
    assert_string_equal(policy_error_code_of(&err), "missing_legal_basis");
    assert_string_equal(err.check, "missing_legal_basis");
    assert_int_equal(err.code, POLICY_E_SEMANTIC);
    assert_int_equal(err.line, rule_line);
    snprintf(where, sizeof(where), "checked-base.xml:%d: rule base.test", err.line);
    assert_non_null(strstr(err.message, where));
    assert_int_equal(seen.count, 0);

    after = policy_store_acquire(store);
    assert_ptr_equal(before, after);
    policy_set_release(&before);
    policy_set_release(&after);
    policy_store_free(&store);
}

/* Two bundles of one set with one ID are rejected. The node records versions by bundle
 * ID, so such a set would load once and then fail every later start as
 * bundle_version_reused, and a decision could not tell the two apart. */
static void test_duplicate_bundle_id_rejected(void **state)
{
    fixture *f = *state;
    policy_store *store = loaded_store(f);
    policy_set *before = policy_store_acquire(store), *after;
    const char *paths[BUNDLE_COUNT];
    char path[PATH_MAX + 64];
    size_t len = 0;
    char *xml = source_bundle("residency-th", &len);
    char *renamed = strstr(xml, "ID=\"residency-th\"");
    char *signed_xml;
    policy_error err = {0};

    assert_non_null(renamed);
    memcpy(renamed, "ID=\"residency-sg\"", strlen("ID=\"residency-sg\""));
    signed_xml = sign_text(xml, f->ec_key);
    snprintf(path, sizeof(path), "%s/residency-th-as-sg.xml", f->token.dir);
    write_text(path, signed_xml);
    memcpy(paths, f->path_list, sizeof(paths));
    paths[10] = path; /* residency-th */

    assert_int_equal(policy_store_load(store, paths, BUNDLE_COUNT, f->now, &err), -1);
    assert_string_equal(policy_error_code_of(&err), "duplicate_bundle_id");
    assert_int_equal(err.code, POLICY_E_SET);
    assert_non_null(strstr(err.message, "bundle ID residency-sg"));

    after = policy_store_acquire(store);
    assert_ptr_equal(before, after);
    policy_set_release(&before);
    policy_set_release(&after);
    policy_store_free(&store);
    free(xml);
    free(signed_xml);
}

/* ---- Keys bound to regulators
 * ------------------------------------------------------------ */

#define RESIDENCY_SG 9 /* the index of residency-sg in bundle_names */

/* Writes the public key of key alone to FOLDER/name and returns the path in path. */
static void write_key_file(const fixture *f, p11_key *key, const char *name, char *path,
                           size_t size)
{
    EVP_PKEY *pkey = p11_key_get_public(key, NULL);
    FILE *file;

    snprintf(path, size, "%s/%s", f->token.dir, name);
    file = fopen(path, "w");
    assert_non_null(file);
    assert_non_null(pkey);
    assert_int_equal(PEM_write_PUBKEY(file, pkey), 1);
    EVP_PKEY_free(pkey);
    assert_int_equal(fclose(file), 0);
}

static void add_key(const fixture *f, policy_trust *trust, p11_key *key, const char *name,
                    const policy_signer *signer)
{
    char path[PATH_MAX + 64];
    policy_error err = {0};

    write_key_file(f, key, name, path, sizeof(path));
    if (policy_trust_add_pem(trust, path, signer, &err) != 0)
        fail_msg("adding %s: %s: %s", name, policy_error_name(err.code), err.message);
}

/*
 * A store whose keys are bound as a node with [regulator] sections binds them: the RSA
 * key signs the base, the EC key the residency bundles of every jurisdiction but SG,
 * sg_key those of SG and th_key those of TH. The rogue key is in the list but unbound.
 */
static policy_store *bound_store(const fixture *f)
{
    static const char *const others[] = {"BN", "CN", "ID", "KH", "LA",
                                         "MM", "MY", "PH", "TH", "VN"};
    static const char *const sg[] = {"SG"};
    static const char *const th[] = {"TH"};
    const policy_signer base_signer = {.regulator = "asean", .base = true};
    const policy_signer others_signer = {
        .regulator = "others", .jurisdictions = others, .jurisdiction_count = 10};
    const policy_signer sg_signer = {
        .regulator = "pdpc-sg", .jurisdictions = sg, .jurisdiction_count = 1};
    const policy_signer th_signer = {
        .regulator = "pdpc-th", .jurisdictions = th, .jurisdiction_count = 1};
    policy_trust *trust = NULL;
    policy_store *store = NULL;
    policy_error err = {0};

    assert_int_equal(policy_trust_create(&trust, &err), 0);
    add_key(f, trust, f->rsa_key, "base.pem", &base_signer);
    add_key(f, trust, f->ec_key, "others.pem", &others_signer);
    add_key(f, trust, f->sg_key, "sg.pem", &sg_signer);
    add_key(f, trust, f->th_key, "th.pem", &th_signer);
    add_key(f, trust, f->rogue_key, "rogue.pem", NULL);
    assert_int_equal(policy_trust_count(trust), 5);
    assert_int_equal(policy_store_create(trust, &store, &err), 0);
    return store;
}

/* The fixture's bundles, with residency-sg signed by sg_key. */
static void bound_paths(const fixture *f, const char **paths)
{
    memcpy(paths, f->path_list, BUNDLE_COUNT * sizeof(*paths));
    paths[RESIDENCY_SG] = f->sg_signed_path;
}

/* Loads paths with paths[index] replaced by a file of text, and asserts the error code,
 * each of the NULL-terminated message parts, and that the store kept its set. */
static void assert_rejected_as(const fixture *f, policy_store *store, size_t index,
                               const char *text, policy_error_code expected,
                               const char *const *parts)
{
    char path[PATH_MAX + 64];
    const char *paths[BUNDLE_COUNT];
    policy_set *before = policy_store_acquire(store), *after;
    policy_error err = {0};

    snprintf(path, sizeof(path), "%s/variant-%zu.xml", f->token.dir, index);
    write_text(path, text);
    bound_paths(f, paths);
    paths[index] = path;

    assert_int_equal(policy_store_load(store, paths, BUNDLE_COUNT, f->now, &err), -1);
    if (err.code != expected)
        fail_msg("expected %s, got %s: %s", policy_error_name(expected),
                 policy_error_name(err.code), err.message);
    for (size_t i = 0; parts[i] != NULL; i++) {
        if (strstr(err.message, parts[i]) == NULL)
            fail_msg("expected \"%s\" in: %s", parts[i], err.message);
    }

    after = policy_store_acquire(store);
    assert_ptr_equal(before, after);
    policy_set_release(&before);
    policy_set_release(&after);
}

static char *signed_source(const char *name, p11_key *key)
{
    size_t len = 0;
    char *xml = source_bundle(name, &len);
    char *out = sign_text(xml, key);

    free(xml);
    return out;
}

static void test_residency_by_bound_key_loads(void **state)
{
    fixture *f = *state;
    policy_store *store = bound_store(f);
    const char *paths[BUNDLE_COUNT];
    policy_error err = {0};
    policy_set *set;

    bound_paths(f, paths);
    if (policy_store_load(store, paths, BUNDLE_COUNT, f->now, &err) != 0)
        fail_msg("load: %s: %s", policy_error_name(err.code), err.message);
    set = policy_store_acquire(store);
    assert_non_null(set);
    assert_int_equal(policy_set_bundle_count(set), BUNDLE_COUNT);
    assert_string_equal(policy_set_bundle_id(set, RESIDENCY_SG), "residency-sg");
    policy_set_release(&set);
    policy_store_free(&store);
}

static void test_residency_by_other_regulator_rejected(void **state)
{
    fixture *f = *state;
    policy_store *store = bound_store(f);
    const char *paths[BUNDLE_COUNT];
    char *by_th = signed_source("residency-sg", f->th_key);
    const char *const parts[] = {"residency bundle residency-sg version 1",
                                 "for jurisdiction SG", "regulator pdpc-th",
                                 "may sign only residency bundles of TH", NULL};
    policy_error err = {0};

    bound_paths(f, paths);
    assert_int_equal(policy_store_load(store, paths, BUNDLE_COUNT, f->now, &err), 0);
    assert_rejected_as(f, store, RESIDENCY_SG, by_th, POLICY_E_NOT_AUTHORISED, parts);
    assert_string_equal(policy_error_name(POLICY_E_NOT_AUTHORISED), "key_not_authorised");
    free(by_th);
    policy_store_free(&store);
}

static void test_base_by_residency_key_rejected(void **state)
{
    fixture *f = *state;
    policy_store *store = bound_store(f);
    const char *paths[BUNDLE_COUNT];
    char *by_sg = signed_source("asean-cn-base", f->sg_key);
    char *by_others = signed_source("asean-cn-base", f->ec_key);
    const char *const sg_parts[] = {"base bundle asean-cn-base version 1",
                                    "regulator pdpc-sg",
                                    "may sign only residency bundles of SG", NULL};
    const char *const others_parts[] = {"base bundle asean-cn-base", "regulator others",
                                        "residency bundles of BN CN ID", NULL};
    policy_error err = {0};

    bound_paths(f, paths);
    assert_int_equal(policy_store_load(store, paths, BUNDLE_COUNT, f->now, &err), 0);
    assert_rejected_as(f, store, 0, by_sg, POLICY_E_NOT_AUTHORISED, sg_parts);
    assert_rejected_as(f, store, 0, by_others, POLICY_E_NOT_AUTHORISED, others_parts);
    free(by_sg);
    free(by_others);
    policy_store_free(&store);
}

static void test_unbound_key_rejected(void **state)
{
    fixture *f = *state;
    policy_store *store = bound_store(f);
    const char *paths[BUNDLE_COUNT];
    char *by_rogue = signed_source("asean-cn-base", f->rogue_key);
    const char *const parts[] = {"base bundle asean-cn-base", "rogue.pem key 1 (SHA-256 ",
                                 "bound to no regulator", NULL};
    policy_error err = {0};

    bound_paths(f, paths);
    assert_int_equal(policy_store_load(store, paths, BUNDLE_COUNT, f->now, &err), 0);
    assert_rejected_as(f, store, 0, by_rogue, POLICY_E_NOT_AUTHORISED, parts);
    free(by_rogue);
    policy_store_free(&store);
}

static void test_key_of_two_regulators_rejected(void **state)
{
    fixture *f = *state;
    static const char *const sg[] = {"SG"};
    static const char *const th[] = {"TH"};
    const policy_signer sg_signer = {
        .regulator = "pdpc-sg", .jurisdictions = sg, .jurisdiction_count = 1};
    const policy_signer th_signer = {
        .regulator = "pdpc-th", .jurisdictions = th, .jurisdiction_count = 1};
    char path[PATH_MAX + 64];
    policy_trust *trust = NULL;
    policy_error err = {0};

    assert_int_equal(policy_trust_create(&trust, &err), 0);
    write_key_file(f, f->sg_key, "shared.pem", path, sizeof(path));

    /* Unbound first, then bound: the binding wins, and the key is listed once. */
    assert_int_equal(policy_trust_add_pem(trust, path, NULL, &err), 0);
    assert_null(policy_trust_key_regulator(trust, 0));
    assert_int_equal(policy_trust_add_pem(trust, path, &sg_signer, &err), 0);
    assert_int_equal(policy_trust_add_pem(trust, path, &sg_signer, &err), 0);
    assert_int_equal(policy_trust_add_pem(trust, path, NULL, &err), 0);
    assert_int_equal(policy_trust_count(trust), 1);
    assert_string_equal(policy_trust_key_regulator(trust, 0), "pdpc-sg");

    assert_int_equal(policy_trust_add_pem(trust, path, &th_signer, &err), -1);
    assert_int_equal(err.code, POLICY_E_TRUST);
    assert_string_equal(policy_error_name(err.code), "trust_invalid");
    assert_non_null(strstr(err.message, "already a key of regulator pdpc-sg"));
    assert_non_null(strstr(err.message, "regulator pdpc-th"));
    assert_int_equal(policy_trust_count(trust), 1);
    policy_trust_free(&trust);
}

/* A trust list as bound_store's, but with key, in place of sg_key, bound to SG. */
static policy_trust *trust_with_sg_key(const fixture *f, p11_key *key)
{
    static const char *const others[] = {"BN", "CN", "ID", "KH", "LA",
                                         "MM", "MY", "PH", "TH", "VN"};
    static const char *const sg[] = {"SG"};
    const policy_signer base_signer = {.regulator = "asean", .base = true};
    const policy_signer others_signer = {
        .regulator = "others", .jurisdictions = others, .jurisdiction_count = 10};
    const policy_signer sg_signer = {
        .regulator = "pdpc-sg", .jurisdictions = sg, .jurisdiction_count = 1};
    policy_trust *trust = NULL;
    policy_error err = {0};

    assert_int_equal(policy_trust_create(&trust, &err), 0);
    add_key(f, trust, f->rsa_key, "base.pem", &base_signer);
    add_key(f, trust, f->ec_key, "others.pem", &others_signer);
    add_key(f, trust, key, "sg-new.pem", &sg_signer);
    return trust;
}

/* Evaluates one request with set and returns the overall outcome. */
static policy_overall evaluate_with(const policy_set *set)
{
    json_t *doc = json_pack("{s:s, s:{s:s}, s:s, s:s, s:[s], s:{s:s}, s:s}",
                            "subject_jurisdiction", "SG", "relying_party", "jurisdiction",
                            "SG", "purpose", "age_check", "assurance", "substantial",
                            "claims", "age_over_18", "values", "date_of_birth",
                            "1990-04-01", "time", "2026-06-01T00:00:00Z");
    policy_decision decision;
    policy_request req;
    policy_error err = {0};

    json_object_set_new(doc, "retention_days", json_integer(30));
    assert_int_equal(policy_request_from_json(set, doc, &req, &err), 0);
    if (policy_evaluate(&req, &decision, &err) != 0)
        fail_msg("evaluate: %s: %s", policy_error_name(err.code), err.message);
    json_decref(doc);
    return decision.overall;
}

/* A load with a new trust list that fails keeps the old keys and the old set. One that
 * succeeds replaces both, and a set acquired before it still evaluates. */
static void test_new_trust_swaps_with_set(void **state)
{
    fixture *f = *state;
    policy_store *store = bound_store(f);
    const char *paths[BUNDLE_COUNT];
    char *by_th = signed_source("residency-sg", f->th_key);
    char by_th_path[PATH_MAX + 64];
    policy_load_input input = {.paths = paths, .count = BUNDLE_COUNT, .now = f->now};
    policy_set *before, *after;
    policy_error err = {0};

    bound_paths(f, paths);
    assert_int_equal(policy_store_load(store, paths, BUNDLE_COUNT, f->now, &err), 0);

    /* residency-sg is signed by sg_key, which the new list lacks. */
    before = policy_store_acquire(store);
    input.trust = trust_with_sg_key(f, f->th_key);
    assert_int_equal(policy_store_load_from(store, &input, &err), -1);
    assert_string_equal(policy_error_name(err.code), "key_untrusted");
    after = policy_store_acquire(store);
    assert_ptr_equal(before, after);
    policy_set_release(&after);
    policy_trust_free(&input.trust);
    /* The store's keys still include sg_key. */
    assert_int_equal(policy_store_load(store, paths, BUNDLE_COUNT, f->now, &err), 0);
    policy_set_release(&before);

    /* The same list with residency-sg signed by th_key applies. */
    before = policy_store_acquire(store);
    snprintf(by_th_path, sizeof(by_th_path), "%s/residency-sg-by-th.xml", f->token.dir);
    write_text(by_th_path, by_th);
    paths[RESIDENCY_SG] = by_th_path;
    input.trust = trust_with_sg_key(f, f->th_key);
    if (policy_store_load_from(store, &input, &err) != 0)
        fail_msg("load: %s: %s", policy_error_name(err.code), err.message);
    after = policy_store_acquire(store);
    assert_ptr_not_equal(before, after);
    assert_int_equal(evaluate_with(before), POLICY_PERMIT);
    assert_int_equal(evaluate_with(after), POLICY_PERMIT);

    /* sg_key left with the old list, so residency-sg signed by it no longer loads. */
    bound_paths(f, paths);
    assert_int_equal(policy_store_load(store, paths, BUNDLE_COUNT, f->now, &err), -1);
    assert_string_equal(policy_error_name(err.code), "key_untrusted");

    policy_set_release(&before);
    policy_set_release(&after);
    free(by_th);
    policy_store_free(&store);
}

/* A binding names only officially assigned ISO 3166-1 alpha-2 codes: XX and UK are
 * rejected as trust_invalid, and GB is bound. */
static void test_signer_codes_must_be_assigned(void **state)
{
    fixture *f = *state;
    static const char *const codes[] = {"XX", "UK", "GB"};
    char path[PATH_MAX + 64];

    write_key_file(f, f->sg_key, "signer-codes.pem", path, sizeof(path));
    for (size_t i = 0; i < 3; i++) {
        const policy_signer signer = {
            .regulator = "test", .jurisdictions = &codes[i], .jurisdiction_count = 1};
        policy_trust *trust = NULL;
        policy_error err = {0};
        char expected[96];
        int rc;

        assert_int_equal(policy_trust_create(&trust, &err), 0);
        rc = policy_trust_add_pem(trust, path, &signer, &err);
        if (strcmp(codes[i], "GB") == 0) {
            assert_int_equal(rc, 0);
            assert_string_equal(policy_trust_key_regulator(trust, 0), "test");
        } else {
            snprintf(expected, sizeof(expected),
                     "\"%s\" is not an officially assigned ISO 3166-1 alpha-2 code",
                     codes[i]);
            assert_int_equal(rc, -1);
            assert_string_equal(policy_error_name(err.code), "trust_invalid");
            assert_non_null(strstr(err.message, expected));
            assert_int_equal(policy_trust_count(trust), 0);
        }
        policy_trust_free(&trust);
    }
}

/* ---- Swapping while serving
 * -------------------------------------------------------------- */

typedef struct worker {
    policy_store *store;
    atomic_bool stop;
    long decisions;
    long failures;
} worker;

static void *evaluate_loop(void *arg)
{
    worker *w = arg;
    json_t *doc =
        json_pack("{s:s, s:{s:s, s:[s]}, s:s, s:s, s:[s], s:[s, s], s:{s:s, s:s}, s:s}",
                  "subject_jurisdiction", "MY", "relying_party", "jurisdiction", "SG",
                  "transfer_mechanisms", "standard-contract", "purpose", "remittance",
                  "assurance", "high", "consent", "explicit", "claims", "given_name",
                  "passport_number", "values", "given_name", "A", "passport_number", "P",
                  "time", "2026-06-01T00:00:00Z");

    json_object_set_new(doc, "retention_days", json_integer(30));
    while (!atomic_load(&w->stop)) {
        policy_set *set = policy_store_acquire(w->store);
        policy_decision decision;
        policy_request req;
        policy_error err = {0};

        if (set == NULL || policy_request_from_json(set, doc, &req, &err) != 0 ||
            policy_evaluate(&req, &decision, &err) != 0 ||
            decision.overall != POLICY_PERMIT)
            w->failures++;
        w->decisions++;
        policy_set_release(&set);
    }
    json_decref(doc);
    return NULL;
}

static void test_swap_while_serving(void **state)
{
    fixture *f = *state;
    policy_store *store = loaded_store(f);
    size_t len = 0;
    char *xml = source_bundle("asean-cn-base", &len);
    char *v2 = replace_once(xml, "version=\"1\"", "version=\"2\"");
    char *signed_v2 = sign_text(v2, f->ec_key);
    char v2_path[PATH_MAX + 64];
    const char *paths[BUNDLE_COUNT];
    policy_set *first_set = policy_store_acquire(store), *current;
    worker w = {.store = store};
    pthread_t threads[2];
    policy_error err = {0};

    snprintf(v2_path, sizeof(v2_path), "%s/base-v2.xml", f->token.dir);
    write_text(v2_path, signed_v2);
    memcpy(paths, f->path_list, sizeof(paths));
    paths[0] = v2_path;
    atomic_init(&w.stop, false);

    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, evaluate_loop, &w), 0);
    for (int round = 0; round < 10; round++) {
        const char *const *list = round % 2 == 0 ? paths : f->path_list;

        assert_int_equal(policy_store_load(store, list, BUNDLE_COUNT, f->now, &err), 0);
    }
    atomic_store(&w.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    assert_true(w.decisions > 0);
    assert_int_equal(w.failures, 0);

    /* The last load was version 1 again; the first set is the very first one and still
     * evaluates after ten swaps. */
    assert_int_equal(policy_store_load(store, paths, BUNDLE_COUNT, f->now, &err), 0);
    current = policy_store_acquire(store);
    assert_int_equal(policy_set_bundle_version(current, 0), 2);
    assert_int_equal(policy_set_bundle_version(first_set, 0), 1);
    assert_ptr_not_equal(current, first_set);

    policy_set_release(&current);
    policy_set_release(&first_set);
    free(xml);
    free(v2);
    free(signed_v2);
    policy_store_free(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_set_loads_and_is_recorded),
        cmocka_unit_test(test_unsigned_bundle_refused),
        cmocka_unit_test(test_tampered_bundle_refused),
        cmocka_unit_test(test_expired_and_early_bundles_refused),
        cmocka_unit_test(test_wrongly_signed_bundle_refused),
        cmocka_unit_test(test_der_ecdsa_signature_refused),
        cmocka_unit_test(test_misplaced_signature_refused),
        cmocka_unit_test(test_residency_for_another_base_refused),
        cmocka_unit_test(test_check_warning_reported),
        cmocka_unit_test(test_check_error_rejected),
        cmocka_unit_test(test_duplicate_bundle_id_rejected),
        cmocka_unit_test(test_residency_by_bound_key_loads),
        cmocka_unit_test(test_residency_by_other_regulator_rejected),
        cmocka_unit_test(test_base_by_residency_key_rejected),
        cmocka_unit_test(test_unbound_key_rejected),
        cmocka_unit_test(test_key_of_two_regulators_rejected),
        cmocka_unit_test(test_new_trust_swaps_with_set),
        cmocka_unit_test(test_signer_codes_must_be_assigned),
        cmocka_unit_test(test_swap_while_serving),
    };

    if (getenv("IDSVC_SOURCE_DIR") == NULL) {
        fputs("IDSVC_SOURCE_DIR is not set; run this test through ctest\n", stderr);
        return 1;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
